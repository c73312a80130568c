/* SPDX-License-Identifier: MIT */
/*
 * freelist.c - the shared lock-free store of free pages: a bitmap.
 *
 * Bit i of bits[] is set while page i is free in the store (pages in a
 * per-thread cache are free too, but their bits are clear: the cache holds
 * them).  Beside it, nr_free counts the set bits less the pages promised
 * to allocations that have not claimed their bits yet.
 *
 * An allocation first takes its pages from nr_free with a CAS that refuses
 * to go below the caller's floor (the reserve for NOWAIT and KERNEL), then
 * claims that many bits, a whole word's worth with one CAS.  A free sets
 * its bits first (release) and then adds to nr_free.  So there are always
 * at least nr_free + (promised, unclaimed) set bits: the count is the exact
 * gate, and a claim after a successful take finds its bits.  A search that
 * misses them raced with others' claims and frees (the bitmap changed under
 * it, so somebody made progress) and looks again: lock-free.
 *
 * The bitmap is also the buddy allocator's free map (buddy.c): a free block
 * of order n is 2^n set bits at an aligned place, so freeing merges blocks
 * with no further step, and a fully free pool is whole max-order blocks.
 *
 * The depot sits between the caches and the bitmap: full magazines of
 * cache_batch free pages (their bits clear, like cached pages), which a
 * cache that flushes a batch leaves there and a cache that refills takes
 * whole, one stack operation each instead of a bitmap search, so that a
 * producer and a consumer on two threads trade batches in O(1).  See
 * "The depot" below; the bitmap stays the home of free pages for blocks
 * and whenever the depot is empty or full.
 */
#include "cache.h"

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

/* Pop the full magazine a reservation stands for, copy it out, recycle it. */
static void depot_unload(struct lab_pool *p, uint32_t *pages)
{
	uint32_t m, i;

	while ((m = mag_pop(p, &p->depot_full)) == LAB_NIL)
		lab_cpu_relax(); /* its push is done: only a racing pop won */
	for (i = 0; i < p->cache_batch; i++)
		pages[i] = mag_at(p, m)->pages[i];
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
	uint32_t m, i;

	if (!p->nr_mags || (m = mag_pop(p, &p->depot_empty)) == LAB_NIL)
		return false;
	for (i = 0; i < p->cache_batch; i++)
		mag_at(p, m)->pages[i] = pages[i];
	mag_push(p, &p->depot_full, m);
	lab_fetch_add_release(&p->depot_pages, p->cache_batch);
	return true;
}

/* Move one full magazine to the bitmap (an allocation needs its pages
 * there, or blocks need them to merge); false when the depot is empty. */
bool lab_depot_drain_one(struct lab_pool *p)
{
	/* zeroed: the analyzer cannot tell that depot_unload fills all
	 * cache_batch of them (a rare path: 128 bytes) */
	uint32_t pages[LAB_CACHE_MAX / 8 > 8 ? LAB_CACHE_MAX / 8 : 8] = { 0 };

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
 * free pages; *before is the free pages before.  The pages in the caller's
 * own cache are free pages too: counting them keeps the reserve and the
 * watches exact for a single thread.
 */
bool lab_take_count(struct lab_pool *p, uint32_t n, uint32_t floor, uint32_t *before)
{
	uint32_t cached = lab_my_cached(p), old, depot, fl;

	for (;;) {
		/* Pages in the depot are free pages too: they count against
		 * the floor, and when the bitmap has too few of its own, one
		 * magazine after another goes back to it. */
		depot = lab_load_acquire(&p->depot_pages);
		old = lab_load_relaxed(&p->nr_free);
		fl = floor > cached + depot ? floor - cached - depot : 0;
		do {
			if (old < fl || old - fl < n)
				break;
			if (lab_cas_weak_acquire(&p->nr_free, &old, old - n)) {
				*before = old + cached + depot;
				return true;
			}
		} while (1);
		/* Not enough in the bitmap: if the depot holds what is missing
		 * (a floor that refuses the pool's free pages does not care
		 * where they are), move a magazine and look again. */
		if ((uint64_t)old + depot + cached < (uint64_t)floor + n ||
		    !lab_depot_drain_one(p))
			return false;
	}
}

/*
 * Add n pages (whose bits are set) to nr_free.  seq_cst pairs with
 * take_or_sleep() in wait.c: either this sees the sleeper's waiters
 * increment and wakes it, or the sleeper's next look sees these pages.
 * wake is false on the allocation paths (an ATOMIC or NOWAIT caller makes
 * no system call, a futex wake included); the sleeper, which sleeps in
 * short slices, finds those pages at its next look.
 */
void lab_return_count(struct lab_pool *p, uint32_t n, bool wake)
{
	lab_fetch_add_seq_cst(&p->nr_free, n);
	if (lab_unlikely(lab_load_seq_cst(&p->waiters)) && wake)
		lab_wake_waiters(p);
}

/* An allocation took n pages with nr_free at before: watches and reserve. */
void lab_took(struct lab_pool *p, uint32_t before, uint32_t n)
{
	uint32_t after = before - n;

	if (lab_unlikely(after < lab_load_relaxed(&p->watch_low_max)))
		lab_watch_crossed(p, before, after);
	/* Pages taken from below the reserve line. */
	if (lab_unlikely(after < p->reserve))
		lab_count(p, reserve_allocs, before > p->reserve ? p->reserve - after : n);
}

/*
 * Claim n promised pages' bits into pages[], searching from *cursor (the
 * pool's, or a cache's own: threads refilling from different words keep
 * their pages, and so the state bytes they write, in different cache
 * lines).
 * The indexes are read off a word while its new value is computed, so one
 * pass over the lowest set bits does both; a failed CAS simply redoes it.
 */
static void claim_pages(struct lab_pool *p, uint32_t n, uint32_t *pages, uint32_t *cursor)
{
	uint32_t words = (lab_load_acquire(&p->nr_total) + 63) / 64;
	uint32_t w = lab_load_relaxed(cursor), got = 0;

	if (w >= words)
		w = 0;
	for (;;) {
		uint64_t v = lab_load_relaxed(&p->bits[w]), rest;
		uint32_t took;

		while (v) {
			for (rest = v, took = got; took < n && rest; took++) {
				pages[took] = w * 64 + (uint32_t)__builtin_ctzll(rest);
				rest &= rest - 1;
			}
			if (lab_cas_weak_acquire(&p->bits[w], &v, rest)) {
				got = took;
				break;
			}
		}
		if (got == n)
			break;
		if (++w >= words) {
			/* Wrapped: the pool may have grown since (KERNEL growth
			 * publishes nr_total before its pages' count). */
			words = (lab_load_acquire(&p->nr_total) + 63) / 64;
			w = 0;
		}
	}
	lab_store_relaxed(cursor, w);
}

/*
 * Take exactly n pages into pages[], leaving at least floor free pages in
 * the shared store, or none.  Returns n or 0.  This is an allocation: it
 * does the watch and reserve bookkeeping.
 */
uint32_t lab_store_take(struct lab_pool *p, uint32_t n, uint32_t floor, uint32_t *pages)
{
	uint32_t before;

	if (!lab_take_count(p, n, floor, &before))
		return 0;
	claim_pages(p, n, pages, &p->cursor);
	lab_took(p, before, n);
	return n;
}

/*
 * Move up to n pages into a cache's pages[]: not an allocation (the pages
 * stay free, counted in the cache), so no floor and no bookkeeping.
 */
uint32_t lab_store_take_upto(struct lab_pool *p, uint32_t n, uint32_t *pages, uint32_t *cursor)
{
	uint32_t old = lab_load_relaxed(&p->nr_free), got;

	do {
		got = old < n ? old : n;
		if (!got)
			return 0;
	} while (!lab_cas_weak_acquire(&p->nr_free, &old, old - got));
	claim_pages(p, got, pages, cursor);
	return got;
}

/* Give n pages back: one fetch-or per run of pages in the same word;
 * wake: may wake a LAB_GFP_KERNEL sleeper (not on allocation paths). */
void lab_store_give(struct lab_pool *p, const uint32_t *pages, uint32_t n, bool wake)
{
	uint32_t i = 0;

	if (!n)
		return;
	while (i < n) {
		uint32_t w = pages[i] / 64;
		uint64_t mask = 0;

		for (; i < n && pages[i] / 64 == w; i++)
			mask |= 1ull << (pages[i] % 64);
		lab_fetch_or_release(&p->bits[w], mask);
	}
	lab_return_count(p, n, wake);
}

/* Give back the n pages from first on (growth, multi-page blocks); wake
 * as for lab_store_give. */
void lab_store_give_range(struct lab_pool *p, uint32_t first, uint32_t n, bool wake)
{
	uint32_t i = first, end = first + n;

	while (i < end) {
		uint32_t bit = i % 64, len = end - i < 64 - bit ? end - i : 64 - bit;
		uint64_t mask = (len == 64 ? ~0ull : ((1ull << len) - 1)) << bit;

		lab_fetch_or_release(&p->bits[i / 64], mask);
		i += len;
	}
	lab_return_count(p, n, wake);
}
