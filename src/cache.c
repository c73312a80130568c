/* SPDX-License-Identifier: MIT */
/*
 * cache.c - per-thread caches: slots, refill and flush in batches, the
 * reserve gate, bulk moves, and returning a thread's pages at its exit.
 *
 * Each thread that calls into labyrinth gets a slot (0..LAB_CACHE_THREADS-1)
 * on its first call, from a global bitmap, lock-free and without a system
 * call.  The slot indexes the cache array of every pool, which lives in the
 * pool's locked metadata, so stats, check and destroy can see every cached
 * page.  The platform's thread-exit hook gives the slot's pages back to
 * each live pool and frees the slot.  The safety argument against signal
 * handlers is in include/labyrinth_fast.h.
 *
 * The budget: caches must not strand the pool (labyrinth(7), "Per-thread
 * caches").  Pool-wide, cache_granted counts the pages the caches may
 * hold; it never exceeds nr_total / LAB_CACHE_FRACTION.  A cache holds a
 * grant (count <= grant <= cache_cap, busy held to change it), takes it a
 * batch at a time with one CAS when a refill or a free finds it too small,
 * and gives it all back when it empties itself for a block allocation and
 * at thread exit.  So however many threads there are, the pages in caches are at
 * most an eighth of the pool, and an allocation that finds no cache budget
 * takes its page from the store, where the other seven eighths are.  The
 * steady state (pages going round one cache) costs nothing: the budget is
 * touched once per batch moved, as the store is.
 */
#include "cache.h"

#ifndef LAB_HOST_CPU_SLOTS
/* The thread's slot, read by the inline fast path too (exported). */
__thread int32_t labyrinth_fast_slot __attribute__((tls_model("initial-exec"))) = LAB_SLOT_NONE;

static uint64_t slot_map[LAB_CACHE_THREADS / 64];
#endif
static int hook_state; /* 0 not asked yet, 1 the thread-exit hook works, -1 not */

/* Whether threads can have slots: the platform can return a thread's
 * pages when it exits.  Asked at every init (the platform's answer is
 * computed once); a thread is given a slot only after a yes. */
static bool hook_ready(void)
{
	int state = lab_os_thread_hook_init() == 0 ? 1 : -1;

	lab_store_relaxed(&hook_state, state);
	return state > 0;
}

static size_t round_up(size_t v, size_t unit)
{
	return (v + unit - 1) & ~(unit - 1);
}

/* Cache capacity and stride for a pool that starts with nr_pages pages. */
int lab_cache_layout(uint32_t nr_pages, unsigned int flags, uint32_t *cap, uint32_t *stride)
{
	uint32_t c = nr_pages / LAB_CACHE_SHARE;

	/* A debug pool checks every page on its way in and out: no caches. */
	if (flags & LAB_POOL_DEBUG)
		c = 0;
	/* Asked for: the caller caches above (DPDK's mempool), and needs
	 * every free page reachable from every thread. */
	if (flags & LAB_POOL_NOCACHE)
		c = 0;
	if (c > LAB_CACHE_MAX)
		c = LAB_CACHE_MAX;
	/* No thread-exit hook, no caches: cached pages could be stranded. */
	if (!hook_ready() || c < 4)
		c = 0;
	*cap = c;
	/* Each slot: its block cache, then its page cache. */
	*stride = c ? (uint32_t)round_up(LAB_BLK_AREA + sizeof(struct lab_cache) +
					 c * sizeof(uint32_t), LAB_CACHELINE) : 0;
	return 0;
}

#ifdef LAB_HOST_CPU_SLOTS
/* CPU slots exist from the start: nothing to claim, no thread exits, no fork. */
struct lab_cache *lab_cache_claim(struct lab_pool *p)
{
	(void)p;
	return NULL;
}

void lab_cache_fork_child(void)
{
}

void lab_caches_disown(struct lab_pool *p)
{
	(void)p;
}
#else
static int32_t claim_slot(void)
{
	unsigned int w;

	for (w = 0; w < LAB_CACHE_THREADS / 64; w++) {
		uint64_t v = lab_load_relaxed(&slot_map[w]);

		while (~v) {
			int bit = __builtin_ctzll(~v);

			if (lab_cas_weak_acq_rel(&slot_map[w], &v, v | (1ull << bit)))
				return (int32_t)(w * 64 + (unsigned int)bit);
		}
	}
	return LAB_SLOT_OFF;
}

/*
 * The thread's first call: give it a slot and this pool's cache.  NONE to
 * BUSY in one compare-and-swap on the thread's own word (atomic against a
 * signal handler on this thread, which is all that can write it): a
 * handler that interrupts the claim sees BUSY and uses the shared store;
 * one that ran before it and took a slot leaves the CAS failing, and this
 * call uses the handler's slot (no slot is taken twice, none leaks).
 */
LAB_NOINLINE struct lab_cache *lab_cache_claim(struct lab_pool *p)
{
	int32_t slot = LAB_SLOT_NONE;

	if (!lab_cas_strong_acq_rel(&lab_my_slot, &slot, LAB_SLOT_BUSY))
		return slot >= 0 ? lab_cache_at(p, slot) : NULL;
	slot = lab_load_relaxed(&hook_state) > 0 ? claim_slot() : LAB_SLOT_OFF;
	if (slot >= 0)
		lab_os_thread_hook_set((uintptr_t)slot + 1);
	lab_signal_fence();
	lab_store_relaxed(&lab_my_slot, slot);
	return slot >= 0 ? lab_cache_at(p, slot) : NULL;
}

/* Give slot back: a thread that had it has exited (pool.c). */
void lab_slot_release(int32_t slot)
{
	lab_fetch_and_release(&slot_map[slot / 64], ~(1ull << (slot % 64)));
}

/* Give all of a dead thread's cached pages in p back to the shared store. */
void lab_cache_thread_exit(struct lab_pool *p, int slot)
{
	struct lab_cache *c;

	if (!p->cache_cap)
		return;
	c = lab_cache_at(p, slot);
	lab_store_relaxed(&c->busy, 1u);
	lab_signal_fence();
	lab_cache_give_all(p, c, true);
	/* Unclaimed: the next thread given this slot claims it through the
	 * library (labyrinth_fast.h). */
	lab_store_relaxed(&c->lab, NULL);
	lab_cache_leave(c);
}

/* No cache of p is any thread's any more (a fork() child's inherited
 * pools): the fast paths send every call to the library. */
void lab_caches_disown(struct lab_pool *p)
{
	uint32_t slot, seen = lab_load_relaxed(&p->slots_seen);

	/* Only a slot below slots_seen was ever claimed (lab_cache_own). */
	for (slot = 0; p->cache_cap && slot < seen; slot++)
		lab_store_relaxed(&lab_cache_at(p, (int32_t)slot)->lab, NULL);
}

/* In a fork() child only the forking thread lives on: free the other slots. */
void lab_cache_fork_child(void)
{
	unsigned int w;
	int32_t me = lab_my_slot;

	for (w = 0; w < LAB_CACHE_THREADS / 64; w++)
		slot_map[w] = (me >= 0 && (unsigned int)me / 64 == w) ? 1ull << (me % 64) : 0;
}
#endif /* LAB_HOST_CPU_SLOTS */

/*
 * Up to want pages of the pool's cache budget into *grant, a cache's
 * grant (busy held): the page cache's or the block cache's of one slot,
 * each at most cache_cap.
 */
static uint32_t budget_take(struct lab_pool *p, uint32_t *grant, uint32_t want)
{
	uint32_t old = lab_load_relaxed(&p->cache_granted), limit, got;

	if (want > p->cache_cap - *grant)
		want = p->cache_cap - *grant;
	do {
		limit = lab_load_acquire(&p->nr_total) / LAB_CACHE_FRACTION;
		got = old < limit ? limit - old : 0;
		if (got > want)
			got = want;
		if (!got)
			return 0;
	} while (!lab_cas_weak_acquire(&p->cache_granted, &old, old + got));
	lab_store_relaxed(grant, *grant + got);
	return got;
}

static void budget_give(struct lab_pool *p, uint32_t *grant, uint32_t n)
{
	if (!n)
		return;
	lab_store_relaxed(grant, *grant - n);
	lab_fetch_sub_relaxed(&p->cache_granted, n);
}

/* Up to want pages of the pool's cache budget for c (busy held). */
static uint32_t grant_more(struct lab_pool *p, struct lab_cache *c, uint32_t want)
{
	return budget_take(p, &c->grant, want);
}

/* Give back n pages of c's grant (busy held). */
void lab_cache_grant_less(struct lab_pool *p, struct lab_cache *c, uint32_t n)
{
	budget_give(p, &c->grant, n);
}

/*
 * The cache is empty: move a batch in from the shared store (busy held),
 * as much of it as the cache's grant covers after asking for more.
 */
LAB_NOINLINE void lab_cache_refill(struct lab_pool *p, struct lab_cache *c)
{
	/* While a LAB_GFP_KERNEL caller sleeps, take one page only: a batch
	 * would keep the pages it waits for in this cache. */
	uint32_t want = lab_load_relaxed(&p->waiters) ? 1 : p->cache_batch, got;

	if (c->grant < want)
		grant_more(p, c, want - c->grant);
	if (want > c->grant)
		want = c->grant;
	/* A whole magazine from the depot if there is one (the common case
	 * of a consumer's frees coming back), else a search of the bitmap. */
	got = want == p->cache_batch ? lab_depot_get(p, c->pages) : 0;
	if (!got && want)
		got = lab_store_take_upto(p, want, c->pages, &c->cursor);
	lab_store_relaxed(&c->refilled, c->refilled + got);
	lab_store_relaxed(&c->count, got);
}

/*
 * A free found the cache at its grant (busy held): take a batch more of
 * the budget, or, when the cache is full or no budget is left, flush a
 * batch.  false only if there is still no room (then the page goes to
 * the store).
 */
LAB_NOINLINE bool lab_cache_make_room(struct lab_pool *p, struct lab_cache *c)
{
	uint32_t count = lab_load_relaxed(&c->count);

	if (c->grant < p->cache_cap && grant_more(p, c, p->cache_batch))
		return true;
	/* The top batch as one magazine into the depot, out of the cache's
	 * count first (see lab_cache_flush); unless a LAB_GFP_KERNEL caller
	 * sleeps (the bitmap wakes it) or no empty magazine is left. */
	if (count >= p->cache_batch && !lab_load_relaxed(&p->waiters)) {
		lab_store_relaxed(&c->flushed, c->flushed + p->cache_batch);
		lab_store_relaxed(&c->count, count - p->cache_batch);
		lab_signal_fence();
		if (lab_depot_put(p, c->pages + count - p->cache_batch))
			return true;
		/* No magazine: back into the count, then the bitmap. */
		lab_store_relaxed(&c->count, count);
		lab_store_relaxed(&c->flushed, c->flushed - p->cache_batch);
		lab_signal_fence();
	}
	lab_cache_flush(p, c, p->cache_batch, true);
	return lab_load_relaxed(&c->count) < c->grant;
}

/*
 * Move the top n pages of the LIFO to the shared store.  The top, as DPDK's
 * mempool cache does: no copying down of what stays, and the pages that
 * leave are the ones most likely still in the CPU's caches for whoever
 * takes them next.
 */
LAB_NOINLINE void lab_cache_flush(struct lab_pool *p, struct lab_cache *c, uint32_t n,
				  bool wake)
{
	uint32_t count = lab_load_relaxed(&c->count);

	if (n > count)
		n = count;
	if (!n)
		return;
	/* Out of the cache's count before they are in the store's: a
	 * handler judging the reserve on store + cache never counts them
	 * twice (busy keeps it off the pages themselves). */
	lab_store_relaxed(&c->flushed, c->flushed + n);
	lab_store_relaxed(&c->count, count - n);
	lab_signal_fence();
	lab_store_give(p, c->pages + count - n, n, wake);
}

/*
 * The cache is empty, or the pool has a reserve or a watch to judge
 * (busy held): refill, judge, pop.  The page's index or LAB_NIL.
 */
LAB_NOINLINE uint32_t lab_cache_pop_slow(struct lab_pool *p, struct lab_cache *c, lab_gfp_t gfp)
{
	uint32_t n = lab_load_relaxed(&c->count);

	if (!n) {
		lab_cache_refill(p, c);
		n = lab_load_relaxed(&c->count);
	}
	if (!n || (lab_load_relaxed(&p->gate) && !lab_cache_gate(p, c, gfp, 1)))
		return LAB_NIL;
	lab_store_relaxed(&c->count, n - 1);
	return c->pages[n - 1];
}

/*
 * The pool has a reserve or a watch: may the caller take n pages now?  The
 * free pages are the shared store's plus this cache's.  Does the watch and
 * reserve bookkeeping when it says yes.
 */
LAB_NOINLINE bool lab_cache_gate(struct lab_pool *p, struct lab_cache *c, lab_gfp_t gfp,
				 uint32_t n)
{
	uint32_t before = lab_load_relaxed(&p->nr_free) + lab_load_relaxed(&p->depot_pages) +
			  lab_my_cached(p);
	uint32_t floor = lab_floor(p, gfp), after;

	if (before < floor || before - floor < n)
		return false;
	after = before - n;
	if (after < lab_load_relaxed(&p->watch_low_max))
		lab_watch_crossed(p, before, after);
	if (after < p->reserve)
		lab_store_relaxed(&c->reserve_allocs, c->reserve_allocs +
				  (before > p->reserve ? p->reserve - after : n));
	return true;
}

/*
 * Hand up to n pages of the cache out to a bulk allocation: each marked
 * allocated and its address stored in out[], in one pass over the top of
 * the LIFO.  Returns how many.
 */
uint32_t lab_cache_pop_bulk(struct lab_pool *p, struct lab_cache *c, lab_gfp_t gfp,
			    void **out, uint32_t n)
{
	/* Locals: the state stores (bytes) may alias anything, and the
	 * compiler would reload these from the pool at every page. */
	unsigned char *base = p->base;
	uint32_t shift = p->page_shift;
	uint32_t count, have;
	const uint32_t *src;
	uint8_t *state = p->state;

	if (!lab_cache_enter(c))
		return 0;
	count = lab_load_relaxed(&c->count);
	have = n < count ? n : count;
	if (have && lab_load_relaxed(&p->gate)) {
		uint32_t before = lab_load_relaxed(&p->nr_free) +
				  lab_load_relaxed(&p->depot_pages) + lab_my_cached(p);
		uint32_t floor = lab_floor(p, gfp);

		if (before - have < floor)
			have = before > floor ? before - floor : 0;
		if (have)
			lab_cache_gate(p, c, gfp, have);
	}
	/* The top `have` entries, oldest first (the hot page goes out last,
	 * still in cache); 4 KiB pages, the common case, with the shift a
	 * constant. */
	src = c->pages + count - have;
	if (shift == 12)
		lab_pop_run(base, 12, state, src, out, have);
	else
		lab_pop_run(base, shift, state, src, out, have);
	lab_cache_leave_count(c, count - have);
	return have;
}

/* Put up to n freed pages into the cache; returns how many it took. */
uint32_t lab_cache_push_bulk(struct lab_pool *p, struct lab_cache *c, const uint32_t *pages,
			     uint32_t n)
{
	uint32_t count, room, i;

	if (lab_load_relaxed(&p->waiters) || !lab_cache_enter(c))
		return 0;
	count = lab_load_relaxed(&c->count);
	if (count + n > c->grant)
		grant_more(p, c, count + n - c->grant);
	room = c->grant - count;
	if (n > room)
		n = room;
	for (i = 0; i < n; i++)
		c->pages[count + i] = pages[i];
	lab_store_relaxed(&c->frees, c->frees + n);
	lab_cache_leave_count(c, count + n);
	return n;
}

/* lab_free_run (labyrinth_fast.h) for 4 KiB pages, the common case, with
 * the shift a constant; each a function of its own, whose loop gets every
 * register. */
static LAB_NOINLINE uint32_t free_run_4k(const unsigned char *base, uint8_t *state, uint32_t total,
					 void *const *pages, uint32_t *out, uint32_t n)
{
	return lab_free_run(base, 12, state, total, pages, out, n);
}

static LAB_NOINLINE uint32_t free_run_any(const unsigned char *base, uint32_t shift, uint8_t *state,
					  uint32_t total, void *const *pages, uint32_t *out, uint32_t n)
{
	return lab_free_run(base, shift, state, total, pages, out, n);
}

/*
 * A bulk free's common case, in one pass: the leading pages of pages[]
 * that are allocated single pages of p go straight into this cache,
 * marked free, as far as its grant (taken a batch more at a time, as the
 * pages come, so that a pass that stops early holds no grant it does not
 * use) has room.
 * Returns how many it took; the caller does the rest page by page (the
 * first page it stopped at may be NULL, a misuse, a block, or a double
 * free of an earlier entry, which is FREE by now).
 */
uint32_t lab_cache_free_bulk(struct lab_pool *p, struct lab_cache *c, void *const *pages,
			     uint32_t n)
{
	uint32_t total = lab_load_acquire(&p->nr_total), count, done = 0, room, got;

	if (lab_load_relaxed(&p->waiters) || !lab_cache_enter(c))
		return 0;
	count = lab_load_relaxed(&c->count);
	while (done < n) {
		room = c->grant - (count + done);
		if (!room && !(room = grant_more(p, c, p->cache_batch)))
			break;
		if (room > n - done)
			room = n - done;
		if (p->page_shift == 12)
			got = free_run_4k(p->base, p->state, total, pages + done,
					  c->pages + count + done, room);
		else
			got = free_run_any(p->base, p->page_shift, p->state, total, pages + done,
					   c->pages + count + done, room);
		done += got;
		if (got < room)
			break;
	}
	lab_store_relaxed(&c->frees, c->frees + done);
	lab_cache_leave_count(c, count + done);
	return done;
}

/* Set or clear flag in every cache of p (watches, KERNEL sleepers). */
void lab_caches_flag(struct lab_pool *p, uint32_t flag, bool on)
{
	uint32_t slot;

	for (slot = 0; p->cache_cap && slot < LAB_CACHE_THREADS; slot++) {
		struct lab_cache *c = lab_cache_at(p, (int32_t)slot);

		if (on)
			lab_fetch_or_release(&c->flags, flag);
		else
			lab_fetch_and_release(&c->flags, ~flag);
	}
}

/* This thread's slot is about to be used in p: raise p->slots_seen past it. */
LAB_NOINLINE void lab_cache_seen(struct lab_pool *p)
{
	uint32_t want = (uint32_t)lab_my_slot + 1, old = lab_load_relaxed(&p->slots_seen);

	while (old < want && !lab_cas_weak_acq_rel(&p->slots_seen, &old, want))
		;
}

/* Pages in all caches of p, single and in blocks (exact when no call is
 * in flight). */
uint32_t lab_cached_pages(const struct lab_pool *p)
{
	uint32_t slot, sum = 0, seen = lab_load_acquire(&p->slots_seen);

	for (slot = 0; p->cache_cap && slot < seen; slot++)
		sum += lab_load_relaxed(&lab_cache_at(p, (int32_t)slot)->count) +
		       lab_load_relaxed(&lab_blk_at(p, (int32_t)slot)->pages);
	return sum;
}

/*
 * Small blocks
 * ------------
 * Orders 1 to LAB_BLK_TOP have a LIFO each in the slot's block cache, so
 * that a block freed and allocated again by one thread (an order-2 pair)
 * touches only that thread's lines and the block's state bytes.  Both
 * operations run in the busy window of the thread's page cache, so the
 * signal-handler argument of labyrinth_fast.h covers them unchanged: a handler that
 * finds the window open uses the shared store.  There is no refill: a
 * block comes into the cache only by a free, and an allocation that finds
 * its order empty searches the bitmap.
 *
 * Cached blocks are free pages under a grant from the pool's cache budget,
 * like cached single pages: they count in pages_free, pages_cached and the
 * reserve and watch judgements of their thread (lab_my_cached), and in
 * free_blocks[] as blocks of their order.  An allocation of any order that
 * finds nothing gives them back to the bitmap, where they merge, and looks
 * again (alloc.c); so do thread exit and lab_cache_give_all's other callers.
 */

/* A cached block of this order for an allocation with gfp (the
 * reserve and the watches judged as for a page): its first page, or
 * LAB_NIL (none, a handler inside the window, or not without the reserve). */
uint32_t lab_blk_pop(struct lab_pool *p, struct lab_cache *c, unsigned int order, lab_gfp_t gfp)
{
	struct lab_blk_cache *b;
	uint32_t n, idx = LAB_NIL;

	if (!lab_cache_enter(c))
		return LAB_NIL;
	b = lab_blk_of(c);
	n = lab_load_relaxed(&b->count[order]);
	if (n && (!(lab_load_relaxed(&c->flags) & LAB_CF_GATE) ||
		  lab_cache_gate(p, c, gfp, 1u << order))) {
		idx = b->first[order - 1][n - 1];
		lab_store_relaxed(&b->count[order], (uint8_t)(n - 1));
		lab_store_relaxed(&b->pages, b->pages - (1u << order));
	}
	lab_cache_leave(c);
	return idx;
}

/*
 * Free the block at idx (its state bytes FREE already) into this thread's
 * block cache, taking more of the budget when its grant is short.  false:
 * nothing done (a handler inside the window, the order's LIFO full, no
 * budget, or a LAB_GFP_KERNEL sleeper, whom the pages must reach through
 * the store); the caller gives the block to the store.
 */
bool lab_blk_push(struct lab_pool *p, struct lab_cache *c, uint32_t idx, unsigned int order)
{
	struct lab_blk_cache *b;
	uint32_t n, size = 1u << order;
	bool ok = false;

	if (lab_unlikely(lab_load_relaxed(&p->waiters)) || !lab_cache_enter(c))
		return false;
	b = lab_blk_of(c);
	n = lab_load_relaxed(&b->count[order]);
	if (lab_unlikely(b->pages + size > b->grant) && n < LAB_BLK_DEPTH)
		budget_take(p, &b->grant, b->pages + size - b->grant > p->cache_batch ?
			    b->pages + size - b->grant : p->cache_batch);
	if (lab_likely(n < LAB_BLK_DEPTH && b->pages + size <= b->grant)) {
		lab_blk_put(b, idx, order, n);
		ok = true;
	}
	lab_cache_leave(c);
	return ok;
}

/*
 * Empty the caches of c's slot in p into the shared store (busy held):
 * the single pages, then every cached block, each merging there with its
 * free neighbours, and give their grants back.  An allocation that found
 * nothing calls this before it looks again (wake false: no system call
 * there); so does thread exit.  true if any page moved.
 */
bool lab_cache_give_all(struct lab_pool *p, struct lab_cache *c, bool wake)
{
	struct lab_blk_cache *b = lab_blk_of(c);
	uint32_t o, n, moved = lab_load_relaxed(&c->count);

	lab_cache_flush(p, c, moved, wake);
	lab_cache_grant_less(p, c, c->grant);
	for (o = 1; o <= LAB_BLK_TOP; o++) {
		while ((n = lab_load_relaxed(&b->count[o])) != 0) {
			uint32_t idx = b->first[o - 1][n - 1];

			/* Out of the cache's counts before into the store's,
			 * as lab_cache_flush does. */
			lab_store_relaxed(&b->flushed, b->flushed + 1);
			lab_store_relaxed(&b->count[o], (uint8_t)(n - 1));
			lab_store_relaxed(&b->pages, b->pages - (1u << o));
			lab_signal_fence();
			lab_store_give_range(p, idx, 1u << o, wake);
			moved++;
		}
	}
	budget_give(p, &b->grant, b->grant);
	return moved != 0;
}
