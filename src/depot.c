/* SPDX-License-Identifier: MIT */
/*
 * depot.c - the depot of magazines between the caches and the bitmap, and
 * taking pages for an allocation from the shared store (bitmap and depot).
 *
 * The depot holds full magazines of cache_batch free pages (their bits
 * clear, like cached pages), which a cache that flushes a batch leaves
 * there and a cache that refills takes whole, one stack operation each
 * instead of a bitmap search, so that a producer and a consumer on two
 * threads trade batches in O(1).  The bitmap (store.c) stays the home of
 * free pages for blocks and whenever the depot is empty or full.
 */
#include "depot.h"

/*
 * The depot
 * ---------
 * Two Treiber stacks of magazines, full and empty, in the pool's locked
 * metadata (magazines are never freed, so reading a popped magazine's next
 * link is always safe).  A stack head is tag << 32 | (index + 1); every
 * successful push and pop adds one to the tag, so a pop whose head was
 * popped and pushed again meanwhile (ABA) fails its CAS and retries (a
 * 32-bit tag would have to wrap exactly while one thread stands between its
 * load and its CAS).  Push and pop are one CAS each, lock-free and
 * async-signal-safe: a handler that interrupts a push or pop on the same
 * stack completes its own operation and changes the tag, and the
 * interrupted CAS fails and retries.
 *
 * depot_pages is to the full stack what nr_free is to the bitmap: the
 * pages in full magazines on it, less the magazines reserved by takers.
 * Taking a magazine first reserves cache_batch pages from depot_pages (a
 * CAS that refuses to go below zero), then pops; putting one pushes, then
 * adds.  So there are always at least depot_pages / cache_batch magazines
 * on the full stack beyond the reserved ones, and a pop after a
 * reservation finds one (it retries only when another pop or push won:
 * lock-free).  Every free page is in exactly one place: the bitmap, a
 * full magazine, a cache, or the hands of a call that moves it between
 * two of them; the reserve and the watches are judged on nr_free +
 * depot_pages + the caller's cache, which counts a page in transit at most
 * once (it leaves one count before it enters the next).
 */
static struct lab_mag *mag_at(const struct lab_pool *p, uint32_t i)
{
	return (struct lab_mag *)(void *)(p->mags + (size_t)i * p->mag_stride);
}

static void mag_push(struct lab_pool *p, uint64_t *head, uint32_t i)
{
	uint64_t old = lab_load_relaxed(head), new;

	do {
		lab_store_relaxed(&mag_at(p, i)->next, (uint32_t)old);
		new = ((old >> 32) + 1) << 32 | (i + 1);
		/* release: the magazine's pages before its place on the stack */
	} while (!lab_cas_weak_release(head, &old, new));
}

/* A magazine off the stack, or LAB_NIL when it is empty. */
static uint32_t mag_pop(struct lab_pool *p, uint64_t *head)
{
	uint64_t old = lab_load_acquire(head), new;

	do {
		uint32_t top = (uint32_t)old;

		if (!top)
			return LAB_NIL;
		new = ((old >> 32) + 1) << 32 | lab_load_relaxed(&mag_at(p, top - 1)->next);
	} while (!lab_cas_weak_acquire(head, &old, new));
	return (uint32_t)old - 1;
}

/* All magazines start empty. */
void lab_depot_init(struct lab_pool *p)
{
	uint32_t i;

	for (i = 0; i < p->nr_mags; i++)
		mag_push(p, &p->depot_empty, i);
}

/* Reserve one full magazine's pages from depot_pages; false if none. */
static bool depot_reserve(struct lab_pool *p)
{
	uint32_t old = lab_load_relaxed(&p->depot_pages);

	do {
		if (old < p->cache_batch)
			return false;
	} while (!lab_cas_weak_acquire(&p->depot_pages, &old, old - p->cache_batch));
	return true;
}

/* n page indexes from src to dst (a magazine and a cache's array, which
 * never overlap): restrict, so that the compiler neither reloads the pool's
 * fields at every index nor checks for overlap. */
static void copy_pages(uint32_t *restrict dst, const uint32_t *restrict src, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		dst[i] = src[i];
}

/* Pop the full magazine a reservation stands for, copy it out, recycle it. */
static void depot_unload(struct lab_pool *p, uint32_t *pages)
{
	uint32_t m;

	while ((m = mag_pop(p, &p->depot_full)) == LAB_NIL)
		lab_cpu_relax(); /* its push is done: only a racing pop won */
	copy_pages(pages, mag_at(p, m)->pages, p->cache_batch);
	mag_push(p, &p->depot_empty, m);
}

/* A full magazine's cache_batch pages into pages[] (a cache's refill: the
 * pages stay free, no floor); 0 when the depot has none. */
uint32_t lab_depot_get(struct lab_pool *p, uint32_t *pages)
{
	if (!p->nr_mags || !depot_reserve(p))
		return 0;
	depot_unload(p, pages);
	return p->cache_batch;
}

/* Leave cache_batch pages (taken out of a cache's count already) in the
 * depot; false when no empty magazine is left (the caller uses the bitmap). */
bool lab_depot_put(struct lab_pool *p, const uint32_t *pages)
{
	uint32_t m;

	if (!p->nr_mags || (m = mag_pop(p, &p->depot_empty)) == LAB_NIL)
		return false;
	copy_pages(mag_at(p, m)->pages, pages, p->cache_batch);
	mag_push(p, &p->depot_full, m);
	lab_fetch_add_release(&p->depot_pages, p->cache_batch);
	return true;
}

/* Move one full magazine to the bitmap (an allocation needs its pages
 * there, or blocks need them to merge); false when the depot is empty. */
bool lab_depot_drain_one(struct lab_pool *p)
{
	/* zeroed: the analyzer cannot tell that depot_unload fills all
	 * cache_batch of them (a rare path: 256 bytes) */
	uint32_t pages[LAB_BATCH_MAX] = { 0 };

	if (!p->nr_mags || !depot_reserve(p))
		return false;
	depot_unload(p, pages);
	lab_store_give(p, pages, p->cache_batch, false);
	return true;
}

/* Call fn on every magazine of a stack (quiescent pools: stats, check);
 * the number of magazines, or stops early when fn says false. */
uint32_t lab_depot_walk(const struct lab_pool *p, uint64_t head,
			bool (*fn)(const struct lab_pool *p, const uint32_t *pages, void *arg),
			void *arg)
{
	uint32_t i = (uint32_t)head, n = 0;

	while (i && n <= p->nr_mags) {
		if (fn && !fn(p, mag_at(p, i - 1)->pages, arg))
			break;
		n++;
		i = lab_load_relaxed(&mag_at(p, i - 1)->next);
	}
	return n;
}

/*
 * Promise n pages to an allocation by this thread, leaving at least floor
 * free pages; *before is the free pages before.  The free pages are the
 * bitmap's, the depot's and the caller's own cache's (cached, counted by
 * the caller): counting them all keeps the reserve and the watches exact
 * for a single thread.
 */
bool lab_take_count(struct lab_pool *p, uint32_t n, uint32_t floor, uint32_t cached,
		    uint32_t *before)
{
	uint32_t old, depot, fl;

	for (;;) {
		/* Pages in the depot are free pages too: they count against
		 * the floor, and when the bitmap has too few of its own, one
		 * magazine after another goes back to it. */
		depot = lab_load_acquire(&p->depot_pages);
		fl = floor > cached + depot ? floor - cached - depot : 0;
		if (lab_store_count_take(p, n, fl, &old)) {
			*before = old + cached + depot;
			return true;
		}
		/* Not enough in the bitmap: if the depot holds what is missing
		 * (a floor that refuses the pool's free pages does not care
		 * where they are), move a magazine and look again. */
		if ((uint64_t)old + depot + cached < (uint64_t)floor + n ||
		    !lab_depot_drain_one(p))
			return false;
	}
}

/*
 * Take exactly n pages into pages[], leaving at least floor free pages in
 * the shared store, or none.  Returns n or 0.  This is an allocation: it
 * does the watch and reserve bookkeeping.
 */
uint32_t lab_store_take(struct lab_pool *p, uint32_t n, uint32_t floor, uint32_t cached,
			uint32_t *pages)
{
	uint32_t before;

	if (!lab_take_count(p, n, floor, cached, &before))
		return 0;
	lab_store_claim(p, n, pages, &p->cursor);
	lab_took(p, before, n);
	return n;
}

/*
 * Take a free block of 2^order pages leaving at least floor free pages.
 * Returns its first page, or LAB_NIL (no block, or not without the
 * reserve).  Never waits.
 */
uint32_t lab_block_take(struct lab_pool *p, unsigned int order, uint32_t floor, uint32_t cached)
{
	uint32_t n = 1u << order, before, idx;

	if (!lab_take_count(p, n, floor, cached, &before))
		return LAB_NIL;
	idx = lab_block_claim(p, order);
	if (idx == LAB_NIL) {
		lab_return_count(p, n, false); /* an allocation: no wake */
		return LAB_NIL;
	}
	lab_took(p, before, n);
	return idx;
}
