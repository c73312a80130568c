/* SPDX-License-Identifier: MIT */
/*
 * alloc.c - the public allocation and free entry points.
 *
 * Each entry point reads as steps: the fast path (this thread's cache,
 * include/labyrinth_fast.h and cache.h), then the shared lock-free store
 * (depot.h: the depot and the bitmap), and only when both fail the slow
 * path (slow.c: growth and sleeping for LAB_GFP_KERNEL, failure
 * accounting for everyone).  Argument checks that
 * cost a branch stay in front; everything that reports or counts a misuse
 * is out of line.
 */
#include "slow.h"

#define BULK_BATCH 64u

static LAB_NOINLINE void *fail_einval(void)
{
	lab_os_set_errno(LAB_EINVAL);
	return NULL;
}

/*
 * An allocation found nothing: this thread's cached pages and blocks go
 * back to the bitmap, where they merge (with blocks: also the page cache's
 * single pages, which blocks need).  true if any page moved, so that
 * looking again is worth it.
 */
static bool give_mine_back(struct lab_pool *p, bool blocks)
{
	struct lab_cache *c;
	bool moved = false;

	lab_pin();
	c = lab_my_cache(p);
	if (c && lab_cache_enter(c)) {
		/* a pool with caches: the window opened */
		if (blocks || lab_load_relaxed(&lab_blk_of(c)->pages))
			moved = lab_cache_give_all(p, c, false); /* no wake */
		lab_cache_leave(c);
	}
	lab_unpin();
	return moved;
}

/* Everything but the common case: no slot yet, a pool without caches (a
 * debug pool too), an empty cache, a reserve or watch to judge. */
static LAB_NOINLINE void *alloc_one_slow(struct lab_pool *p, lab_gfp_t gfp, const char *call)
{
	struct lab_cache *c;
	uint32_t idx;
	bool popped;

	lab_pin();
	c = lab_my_cache(p);
	popped = c && lab_cache_pop(p, c, gfp, &idx);
	lab_unpin();
	if (popped)
		return lab_hand_out(p, idx, 0, gfp, call);
	/* No cache here (a handler inside its owner's operation, or no slot):
	 * the shared store. */
	if (lab_store_take(p, 1, lab_floor(p, gfp), lab_my_cached(p), &idx) ||
	    /* this thread's cached blocks are free pages too */
	    (give_mine_back(p, false) && lab_store_take(p, 1, lab_floor(p, gfp), lab_my_cached(p), &idx))) {
		lab_count(p, allocs, 1);
		return lab_hand_out(p, idx, 0, gfp, call);
	}
	/* Slow path: grow or wait (KERNEL), else count and fail. */
	return lab_alloc_slow(p, gfp, 0, call);
}

/* One page, every case but the fast path's: checks the pool and gfp. */
static LAB_NOINLINE void *alloc_page_slow(labyrinth_t *lab, lab_gfp_t gfp, const char *call)
{
	struct lab_pool *p = lab_pool_of(lab);

	if (lab_unlikely(!p || !lab_gfp_valid(gfp)))
		return fail_einval();
	return alloc_one_slow(p, gfp, call);
}

/*
 * One page.  Fast path: this thread's cache in the pool, found from the
 * labyrinth_t and the thread's slot (labyrinth_fast.h, inline in callers too), for a plain gfp type (a
 * modifier such as LAB_GFP_ZERO, and every bad argument, take the slow
 * path).
 */
static inline __attribute__((always_inline)) void *alloc_one(labyrinth_t *lab, lab_gfp_t gfp,
							      const char *call)
{
	struct lab_cache *c;
	void *page;
	int popped;

	/* The kernel pins the caller to its CPU from finding the cache to
	 * leaving it (cache.h); in user space lab_pin() is nothing. */
	lab_pin();
	c = lab_fast_cache(lab);
	popped = lab_likely(c != NULL) && lab_likely(lab_gfp_plain(gfp)) && lab_fast_alloc(c, &page);
	lab_unpin();
	if (lab_likely(popped))
		return page;
	return alloc_page_slow(lab, gfp, call);
}

/*
 * A block of 2^order pages.  Fast path: orders 1 to LAB_BLK_TOP from this
 * thread's block cache (cache.c).  Then the bitmap; when it has no block,
 * this thread's cached pages and blocks go back to it, where they merge,
 * and the search runs once more before the slow path.
 */
static LAB_NOINLINE void *alloc_block(struct lab_pool *p, lab_gfp_t gfp, unsigned int order,
				      const char *call)
{
	struct lab_cache *c;
	uint32_t idx = LAB_NIL;

	if (order <= LAB_BLK_TOP) {
		lab_pin();
		c = lab_my_cache(p);
		if (c)
			idx = lab_blk_pop(p, c, order, gfp);
		lab_unpin();
		if (lab_likely(idx != LAB_NIL))
			return lab_hand_out(p, idx, order, gfp, call);
	}
	idx = lab_block_take(p, order, lab_floor(p, gfp), lab_my_cached(p));
	if (idx == LAB_NIL) {
		bool more = give_mine_back(p, true);

		/* The depot's magazines too: in the bitmap their pages merge. */
		while (lab_depot_drain_one(p))
			more = true;
		if (more)
			idx = lab_block_take(p, order, lab_floor(p, gfp), lab_my_cached(p));
	}
	if (idx == LAB_NIL)
		return lab_alloc_slow(p, gfp, order, call);
	lab_count(p, allocs, 1);
	return lab_hand_out(p, idx, order, gfp, call);
}

static LAB_NOINLINE void *alloc_pages_slow(labyrinth_t *lab, lab_gfp_t gfp, unsigned int order)
{
	struct lab_pool *p = lab_pool_of(lab);

	if (lab_unlikely(!p || !lab_gfp_valid(gfp) || order > LAB_MAX_ORDER))
		return fail_einval();
	return alloc_block(p, gfp, order, "labyrinth_alloc_pages");
}

/*
 * A small block (orders 1 to LAB_BLK_TOP).  Fast path: this thread's block
 * cache in the pool, a plain gfp type, then mark the block
 * taken; else alloc_block() by way of the checks.
 */
static inline __attribute__((always_inline)) void *alloc_small(labyrinth_t *lab, lab_gfp_t gfp,
								unsigned int order)
{
	struct lab_cache *c;
	uint32_t idx;
	bool popped;

	lab_pin();
	c = lab_fast_cache(lab);
	popped = lab_likely(c != NULL) && lab_likely(lab_gfp_plain(gfp)) &&
		 lab_likely(lab_fast_blk_pop(c, order, &idx));
	lab_unpin();
	if (lab_likely(popped)) {
		lab_mark_allocated(c->state, idx, order);
		return c->base + ((size_t)idx << c->shift);
	}
	return alloc_pages_slow(lab, gfp, order);
}

void *labyrinth_alloc_pages(labyrinth_t *lab, lab_gfp_t gfp, unsigned int order)
{
	if (lab_unlikely(order)) {
		if (order <= LAB_BLK_TOP)
			return alloc_small(lab, gfp, order);
		return alloc_pages_slow(lab, gfp, order);
	}
	return alloc_one(lab, gfp, "labyrinth_alloc_pages");
}

void *labyrinth_alloc_page(labyrinth_t *lab, lab_gfp_t gfp)
{
	return alloc_one(lab, gfp, "labyrinth_alloc_page");
}

void *labyrinth_void_alloc_page_gfp_atomic_exclusive(labyrinth_t *lab)
{
	return alloc_one(lab, LAB_GFP_ATOMIC, "labyrinth_void_alloc_page_gfp_atomic_exclusive");
}

unsigned int labyrinth_alloc_bulk(labyrinth_t *lab, lab_gfp_t gfp, void **pages,
				  unsigned int n)
{
	struct lab_pool *p = lab_pool_of(lab);
	uint32_t idx[BULK_BATCH];
	struct lab_cache *c;
	unsigned int done = 0, got, i;

	if (lab_unlikely(!p || !lab_gfp_valid(gfp) || (!pages && n))) {
		fail_einval();
		return 0;
	}
	/* This thread's cache first, straight into pages[] (a debug pool has
	 * none); then whole batches from the shared store: one count CAS and
	 * a claim per bitmap word per batch. */
	while (done < n) {
		got = n - done < BULK_BATCH ? n - done : BULK_BATCH;
		lab_pin();
		c = lab_my_cache(p);
		i = c ? lab_cache_pop_bulk(p, c, gfp, pages + done, got) : 0;
		lab_unpin();
		if (i) {
			if (gfp & LAB_GFP_ZERO)
				for (got = 0; got < i; got++)
					__builtin_memset(pages[done + got], 0, p->page_size);
			done += i;
			continue;
		}
		if (!lab_store_take(p, got, lab_floor(p, gfp), lab_my_cached(p), idx))
			break;
		lab_count(p, allocs, got);
		for (i = 0; i < got; i++)
			pages[done++] = lab_hand_out(p, idx[i], 0, gfp, "labyrinth_alloc_bulk");
	}
	/* Then page by page: the pool may hold less than a batch. */
	while (done < n) {
		void *page = alloc_one_slow(p, gfp, "labyrinth_alloc_bulk");

		if (!page) {
			/* alloc_one counted this page's failure; count the rest. */
			lab_count(p, alloc_failed, n - done - 1);
			break;
		}
		pages[done++] = page;
	}
	return done;
}

/*
 * The rule an invalid free (-EINVAL) of the block of 2^order pages at addr
 * broke, in words, for a debug pool's report (buf: 64 bytes, for numbers).
 */
static const char *invalid_free_rule(const struct lab_pool *p, const void *addr,
				     unsigned int order, char *buf)
{
	uintptr_t off = (uintptr_t)addr - (uintptr_t)p->base;
	uint8_t st;

	if ((uintptr_t)addr < (uintptr_t)p->base ||
	    off >> p->page_shift >= lab_load_acquire(&p->nr_total))
		return "outside the pool";
	if (off & p->page_mask)
		return "not page-aligned";
	if (order > LAB_MAX_ORDER) {
		lab_fmt(buf, 64, "order %u is over LAB_MAX_ORDER", order);
		return buf;
	}
	st = lab_load_relaxed(&p->state[off >> p->page_shift]);
	if (!(st & LAB_PS_HEAD))
		return "not a block start";
	lab_fmt(buf, 64, "wrong order: allocated as order %u, freed as order %u",
		st & LAB_PS_ORDER_MASK, order);
	return buf;
}

/* A rejected free: counted, reported in debug pools (naming the rule
 * broken), pool untouched. */
static LAB_NOINLINE int bad_free(struct lab_pool *p, const char *call, const void *addr,
				 unsigned int order, int err)
{
	char rule[64];

	lab_count(p, bad_frees, 1);
	if (!(p->flags & LAB_POOL_DEBUG))
		return err;
	if (err == -LAB_EALREADY) {
		lab_report(p, call, "double free of", addr);
	} else {
		lab_report_rule(p, call, "invalid free of", addr,
				invalid_free_rule(p, addr, order, rule));
	}
	return err;
}

/*
 * Give the block at idx back to the free state, or say why not.  A debug
 * pool claims it with a CAS so that two threads racing to free the same
 * page cannot both succeed; otherwise a plain check-then-store catches
 * every double free that follows the first one's return.  A block's tail
 * pages become free after its head is claimed: only the freer owns them.
 */
static inline int release_state(struct lab_pool *p, uint32_t idx, unsigned int order)
{
	uint8_t st = lab_load_relaxed(&p->state[idx]);

	if (st == LAB_PS_FREE)
		return -LAB_EALREADY;
	if (st != (uint8_t)(LAB_PS_HEAD | order) || order > LAB_MAX_ORDER)
		return -LAB_EINVAL;
	if (lab_unlikely(p->flags & LAB_POOL_DEBUG)) {
		if (!lab_cas_strong_acq_rel(&p->state[idx], &st, (uint8_t)LAB_PS_FREE))
			return st == LAB_PS_FREE ? -LAB_EALREADY : -LAB_EINVAL;
		lab_poison(p, idx, 1u << order);
	} else {
		lab_store_relaxed(&p->state[idx], (uint8_t)LAB_PS_FREE);
	}
	/* The tails (the head, FREE already, again: the freer owns it all). */
	if (order)
		lab_state_fill(p->state, idx, 1u << order, (uint8_t)LAB_PS_FREE);
	return 0;
}

/* Check addr and release it; its page index in *idx.  0 or -errno. */
static inline int free_check(struct lab_pool *p, const void *addr, unsigned int order,
			     uint32_t *idx)
{
	*idx = lab_page_index(p, addr);
	if (lab_unlikely(*idx == LAB_NIL))
		return -LAB_EINVAL;
	return release_state(p, *idx, order);
}

/* Every free but the common case, with every check. */
static LAB_NOINLINE int free_slow(struct lab_pool *p, void *addr, unsigned int order,
				  const char *call)
{
	struct lab_cache *c;
	uint32_t idx;
	bool pushed;
	int err;

	if (!addr)
		return 0;
	err = free_check(p, addr, order, &idx);
	if (lab_unlikely(err))
		return bad_free(p, call, addr, order, err);
	if (order) {
		/* Small blocks into this thread's block cache; the others, and
		 * those it refuses, back to the bitmap, merged there. */
		if (order <= LAB_BLK_TOP) {
			lab_pin();
			c = lab_my_cache(p);
			pushed = c && lab_blk_push(p, c, idx, order);
			lab_unpin();
			if (pushed)
				return 0;
		}
		lab_count(p, frees, 1);
		lab_store_give_range(p, idx, 1u << order, true);
		return 0;
	}
	lab_pin();
	c = lab_my_cache(p);
	pushed = c && lab_cache_push(p, c, idx);
	lab_unpin();
	if (pushed)
		return 0;
	/* The shared store, which also wakes LAB_GFP_KERNEL sleepers. */
	lab_count(p, frees, 1);
	lab_store_give(p, &idx, 1, true);
	return 0;
}

static LAB_NOINLINE int free_pages_slow(labyrinth_t *lab, void *addr, unsigned int order,
					 const char *call)
{
	struct lab_pool *p = lab_pool_of(lab);

	if (lab_unlikely(!p))
		return -LAB_EINVAL;
	return free_slow(p, addr, order, call);
}

/*
 * Fast path: an allocated order-0 page, or a small block (orders 1 to
 * LAB_BLK_TOP), freed into this thread's cache or block cache in the pool
 * (labyrinth_fast.h, cache.h).  Anything else, including
 * every misuse, takes free_slow().
 */
static inline __attribute__((always_inline)) int free_one(labyrinth_t *lab, void *addr,
							 unsigned int order, const char *call)
{
	struct lab_cache *c;
	int freed = 0;

	lab_pin();
	c = lab_fast_cache(lab);
	if (lab_likely(c != NULL)) {
		if (lab_likely(!order))
			freed = lab_fast_free(c, addr);
		else if (order <= LAB_BLK_TOP)
			freed = lab_fast_blk_free(c, addr, order);
	}
	lab_unpin();
	if (lab_likely(freed))
		return 0;
	return free_pages_slow(lab, addr, order, call);
}

int labyrinth_free_pages(labyrinth_t *lab, void *addr, unsigned int order)
{
	return free_one(lab, addr, order, "labyrinth_free_pages");
}

int labyrinth_free_page(labyrinth_t *lab, void *addr)
{
	return free_one(lab, addr, 0, "labyrinth_free_page");
}

/* Give n checked pages back: as many as fit into the cache, the rest as one chain. */
static void give_back(struct lab_pool *p, const uint32_t *idx, uint32_t n)
{
	struct lab_cache *c;
	uint32_t cached;

	lab_pin();
	c = lab_my_cache(p);
	cached = c ? lab_cache_push_bulk(p, c, idx, n) : 0;
	lab_unpin();

	if (cached < n) {
		lab_count(p, frees, n - cached);
		lab_store_give(p, idx + cached, n - cached, true);
	}
}

unsigned int labyrinth_free_bulk(labyrinth_t *lab, void **pages, unsigned int n)
{
	struct lab_pool *p = lab_pool_of(lab);
	uint32_t idx[BULK_BATCH], total, shift;
	unsigned int i = 0, batched = 0, freed;
	struct lab_cache *c;
	const void *base;
	int err;

	if (lab_unlikely(!p || (!pages && n))) {
		lab_os_set_errno(LAB_EINVAL);
		return 0;
	}
	/* The common case first: allocated pages straight into this thread's
	 * cache, one pass (a debug pool has none). */
	lab_pin();
	c = lab_my_cache(p);
	if (c && p->cache_cap)
		i = lab_cache_free_bulk(p, c, pages, n);
	lab_unpin();
	if (lab_likely(i == n))
		return n;
	freed = i;
	/* The pages were allocated before this call: the pool's size now
	 * covers them all.  A debug pool takes free_check's CAS instead. */
	base = p->base;
	shift = p->page_shift;
	total = (p->flags & LAB_POOL_DEBUG) ? 0 : lab_load_acquire(&p->nr_total);
	for (; i < n; i++) {
		uintptr_t pg = lab_page_number(base, shift, pages[i]);

		/* An allocated page, by the tight loop; anything else (NULL,
		 * misuse, a debug pool) by free_check. */
		if (lab_likely(pg < total &&
			       lab_load_relaxed(&p->state[pg]) == (uint8_t)(LAB_PS_HEAD | 0))) {
			lab_store_relaxed(&p->state[pg], (uint8_t)LAB_PS_FREE);
			idx[batched] = (uint32_t)pg;
			err = 0;
		} else if (!pages[i]) {
			continue;
		} else {
			err = free_check(p, pages[i], 0, &idx[batched]);
		}
		if (lab_unlikely(err)) {
			bad_free(p, "labyrinth_free_bulk", pages[i], 0, err);
			continue;
		}
		if (++batched == BULK_BATCH) {
			give_back(p, idx, batched);
			freed += batched;
			batched = 0;
		}
	}
	if (batched)
		give_back(p, idx, batched);
	return freed + batched;
}

/*
 * Give the calling thread's cached pages of lab back to the shared store,
 * for a thread that frees pages another thread allocates (an AF_XDP
 * receiver's workers) and knows that other thread runs short: what it
 * keeps is out of the other's reach until it allocates or exits.  Wakes a
 * LAB_GFP_KERNEL sleeper, the one system call it may make.
 */
int labyrinth_flush_cache(labyrinth_t *lab)
{
	struct lab_pool *p = lab_pool_of(lab);
	struct lab_cache *c;
	uint32_t n = 0;

	if (lab_unlikely(!p))
		return -LAB_EINVAL;
	lab_pin();
	c = lab_my_cache(p);
	if (c && p->cache_cap && lab_cache_enter(c)) { /* else nothing cached */
		n = lab_my_cached(p);
		lab_cache_give_all(p, c, true);
		lab_cache_leave(c);
	}
	lab_unpin();
	return (int)n;
}
