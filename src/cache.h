/* SPDX-License-Identifier: MIT */
/*
 * cache.h - finding this thread's cache, and the cache operations the
 * library's slow paths share with the fast path (include/labyrinth_fast.h,
 * which holds struct lab_cache, the fast path itself and why a cache is
 * safe against a signal handler on its own thread).
 *
 * Exactness: the pages in a cache are free pages.  The reserve and the
 * watches are judged on nr_free (the shared store) plus the caller's own
 * cache, which is exact for a single thread and off by at most the other
 * threads' cached pages otherwise, as SPEC.md allows.
 */
#ifndef LAB_CACHE_H
#define LAB_CACHE_H

#include "depot.h"

/* cache.c */
LAB_HIDDEN int lab_cache_layout(uint32_t nr_pages, unsigned int flags, uint32_t *cap,
				 uint32_t *stride);
LAB_HIDDEN struct lab_cache *lab_cache_claim(struct lab_pool *p);
LAB_HIDDEN void lab_slot_release(int32_t slot);
LAB_HIDDEN void lab_cache_refill(struct lab_pool *p, struct lab_cache *c);
LAB_HIDDEN uint32_t lab_cache_pop_slow(struct lab_pool *p, struct lab_cache *c, lab_gfp_t gfp);
LAB_HIDDEN void lab_cache_flush(struct lab_pool *p, struct lab_cache *c, uint32_t n,
				bool wake);
LAB_HIDDEN void lab_cache_seen(struct lab_pool *p);
LAB_HIDDEN void lab_caches_flag(struct lab_pool *p, uint32_t flag, bool on);
LAB_HIDDEN void lab_cache_grant_less(struct lab_pool *p, struct lab_cache *c, uint32_t n);
LAB_HIDDEN bool lab_cache_make_room(struct lab_pool *p, struct lab_cache *c);
LAB_HIDDEN bool lab_cache_gate(struct lab_pool *p, struct lab_cache *c, lab_gfp_t gfp,
			       uint32_t n);
LAB_HIDDEN uint32_t lab_cache_pop_bulk(struct lab_pool *p, struct lab_cache *c, lab_gfp_t gfp,
				       void **out, uint32_t n);
LAB_HIDDEN uint32_t lab_cache_free_bulk(struct lab_pool *p, struct lab_cache *c,
					void *const *pages, uint32_t n);
LAB_HIDDEN uint32_t lab_cache_push_bulk(struct lab_pool *p, struct lab_cache *c,
					const uint32_t *pages, uint32_t n);
LAB_HIDDEN void lab_cache_fork_child(void);
LAB_HIDDEN void lab_caches_disown(struct lab_pool *p);
LAB_HIDDEN void lab_cache_thread_exit(struct lab_pool *p, int slot);
LAB_HIDDEN uint32_t lab_cached_pages(const struct lab_pool *p);
LAB_HIDDEN uint32_t lab_blk_pop(struct lab_pool *p, struct lab_cache *c, unsigned int order,
				lab_gfp_t gfp);
LAB_HIDDEN bool lab_blk_push(struct lab_pool *p, struct lab_cache *c, uint32_t idx,
			     unsigned int order);
LAB_HIDDEN bool lab_cache_give_all(struct lab_pool *p, struct lab_cache *c, bool wake);


#ifdef LAB_HOST_CPU_SLOTS
/*
 * The host's cache slots are its CPUs (the kernel, platform.h): the slot is
 * the CPU the caller runs on, and lab_pin() keeps the caller there (no
 * migration, no preemption) until lab_unpin().  Every use of a cache lies
 * between the two.  An interrupt on that CPU is the analogue of a signal
 * handler on a thread: it nests, so the busy argument (labyrinth_fast.h) covers it.
 */
#define lab_my_slot lab_os_cpu_slot()
#define lab_pin()   lab_os_cpu_pin()
#define lab_unpin() lab_os_cpu_unpin()
#else
/* This thread's cache slot, the same index in every pool: the inline fast
 * path's labyrinth_fast_slot (labyrinth_fast.h says why it is safe).  A
 * thread never changes slot under its own feet: pinning is nothing. */
#define lab_my_slot labyrinth_fast_slot
#define lab_pin()   ((void)0)
#define lab_unpin() ((void)0)
#endif

/*
 * This thread's cache c in p is the fast paths' from now on: its lab says
 * p's labyrinth_t.  After slots_seen covers the slot (the caller raised
 * it), so that stats, check and destroy see every page a fast path puts
 * there; a signal fence keeps the compiler from storing lab first.  A
 * handler that interrupts this sees lab NULL (and claims it itself, the
 * same store) or p's labyrinth_t (and slots_seen raised).  The kernel's
 * fast paths find the CPU's cache through the pool (lab_fast_cache):
 * nothing to claim there.
 */
static inline void lab_cache_own(struct lab_pool *p, struct lab_cache *c)
{
#ifndef LAB_HOST_CPU_SLOTS
	if (lab_likely(lab_load_relaxed(&c->lab) == p->owner))
		return;
	lab_signal_fence();
	lab_store_relaxed(&c->lab, p->owner);
#else
	(void)p;
	(void)c;
#endif
}

static inline struct lab_cache *lab_cache_at(const struct lab_pool *p, int32_t slot)
{
	return (struct lab_cache *)(void *)(p->caches + (size_t)slot * p->cache_stride);
}

/* This thread's cache in p, or NULL when it has none; it becomes the
 * fast paths' cache in p (pinned callers only: lab_pin()). */
static inline struct lab_cache *lab_my_cache(struct lab_pool *p)
{
	int32_t slot = lab_my_slot;
	struct lab_cache *c;

	if (lab_likely(slot >= 0))
		c = lab_cache_at(p, slot); /* no_cache if the pool has none */
	else if (slot != LAB_SLOT_NONE || (c = lab_cache_claim(p)) == NULL)
		return NULL;
	if (p->cache_cap) {
		/* Every use of a cache starts here (the fast paths only after
		 * lab_cache_own): stats and check need not look further. */
		if (lab_unlikely((uint32_t)lab_my_slot >= lab_load_relaxed(&p->slots_seen)))
			lab_cache_seen(p);
		lab_cache_own(p, c);
	}
	return c;
}

#ifdef LAB_HOST_CPU_SLOTS
/* The kernel's fast paths: the pinned CPU's cache of a live pool with
 * caches, else NULL (the slow path then checks the pool). */
static inline __attribute__((always_inline)) struct lab_cache *
lab_fast_cache(const labyrinth_t *lab)
{
	struct lab_pool *p = lab_pool_of(lab);

	return p && p->cache_cap ? lab_my_cache(p) : NULL;
}
#endif

/* The block cache of slot in p (a pool with caches only). */
static inline struct lab_blk_cache *lab_blk_at(const struct lab_pool *p, int32_t slot)
{
	return lab_blk_of(lab_cache_at(p, slot));
}

/* Pages in this thread's caches of p, single and in blocks: free pages,
 * as exact as they can be. */
static inline uint32_t lab_my_cached(const struct lab_pool *p)
{
	int32_t slot = lab_my_slot;
	uint32_t n;

	if (slot < 0)
		return 0;
	n = lab_load_relaxed(&lab_cache_at(p, slot)->count);
	if (p->cache_cap)
		n += lab_load_relaxed(&lab_blk_at(p, slot)->pages);
	return n;
}

/*
 * The slow path's pop: one page for an allocation with gfp into *idx, or
 * false to send the caller on to the shared store.  The common case
 * (pages cached, no reserve or watch to judge) is the fast path's; the
 * rest is lab_cache_pop_slow(), still inside the busy window.
 */
static inline bool lab_cache_pop(struct lab_pool *p, struct lab_cache *c, lab_gfp_t gfp,
				 uint32_t *idx)
{
	uint32_t n;

	if (!lab_cache_enter(c))
		return false;
	n = lab_load_relaxed(&c->count);
	if (lab_likely(n && !lab_load_relaxed(&p->gate))) {
		*idx = c->pages[n - 1];
		lab_cache_leave_count(c, n - 1);
		return true;
	}
	*idx = lab_cache_pop_slow(p, c, gfp);
	lab_cache_leave(c);
	return *idx != LAB_NIL;
}

/*
 * The slow path's push: free page idx into the cache, marked free in the
 * busy window so that a handler on this thread never sees one without the
 * other.  Not while a LAB_GFP_KERNEL caller sleeps: then the page must
 * reach it through the shared store, which wakes it.  A cache at its
 * grant first takes more budget or, when full, flushes in part
 * (lab_cache_make_room).  false: nothing done.
 */
static inline bool lab_cache_push(struct lab_pool *p, struct lab_cache *c, uint32_t idx)
{
	uint32_t n;

	if (lab_unlikely(lab_load_relaxed(&p->waiters)) || !lab_cache_enter(c))
		return false;
	n = lab_load_relaxed(&c->count);
	if (lab_unlikely(n == c->grant)) {
		if (!lab_cache_make_room(p, c)) {
			lab_cache_leave(c);
			return false;
		}
		n = lab_load_relaxed(&c->count);
	}
	lab_store_relaxed(&p->state[idx], (uint8_t)LAB_PS_FREE);
	c->pages[n] = idx;
	lab_store_relaxed(&c->frees, c->frees + 1);
	lab_cache_leave_count(c, n + 1);
	return true;
}

/*
 * Small blocks (orders 1 to LAB_BLK_TOP), the fast paths proper: this
 * thread's block cache in the pool of c, a cache that lab_fast_cache()
 * returned (so the pool is live and the caller is pinned).  The common
 * case only, in c's busy window; everything else (a reserve or a watch to
 * judge, no budget, a full LIFO, a sleeper) goes to lab_blk_pop and
 * lab_blk_push in cache.c.
 *
 * Pop a cached block of this order into *idx, or false.
 */
static inline __attribute__((always_inline)) bool
lab_fast_blk_pop(struct lab_cache *c, unsigned int order, uint32_t *idx)
{
	struct lab_blk_cache *b;
	uint32_t n;
	bool ok = false;

	if (!lab_cache_enter(c))
		return false;
	b = lab_blk_of(c);
	n = lab_load_relaxed(&b->count[order]);
	if (lab_likely(n && !(lab_load_relaxed(&c->flags) & LAB_CF_GATE))) {
		*idx = b->first[order - 1][n - 1];
		lab_store_relaxed(&b->count[order], (uint8_t)(n - 1));
		lab_store_relaxed(&b->pages, b->pages - (1u << order));
		ok = true;
	}
	lab_cache_leave(c);
	return ok;
}

/* Push the free block at idx on b's LIFO of its order, which holds n
 * (busy held, depth and grant checked by the caller). */
static inline void lab_blk_put(struct lab_blk_cache *b, uint32_t idx, unsigned int order,
			       uint32_t n)
{
	b->first[order - 1][n] = idx;
	lab_store_relaxed(&b->pages, b->pages + (1u << order));
	lab_store_relaxed(&b->count[order], (uint8_t)(n + 1));
	lab_store_relaxed(&b->frees, b->frees + 1);
}

/* Push the allocated block at idx (its head's state byte checked by the
 * caller) freed: mark its pages free and push it in one busy window, or
 * false (nothing done). */
static inline __attribute__((always_inline)) bool
lab_fast_blk_push(struct lab_cache *c, uint32_t idx, unsigned int order)
{
	struct lab_blk_cache *b;
	uint32_t n, size = 1u << order;
	bool ok = false;

	if (lab_unlikely(lab_load_relaxed(&c->flags) & LAB_CF_WAITERS) || !lab_cache_enter(c))
		return false;
	b = lab_blk_of(c);
	n = lab_load_relaxed(&b->count[order]);
	if (lab_likely(n < LAB_BLK_DEPTH && b->pages + size <= b->grant)) {
		lab_state_fill(c->state, idx, size, (uint8_t)LAB_PS_FREE);
		lab_blk_put(b, idx, order, n);
		ok = true;
	}
	lab_cache_leave(c);
	return ok;
}

/* Free the small block at addr (order 1 to LAB_BLK_TOP) into this
 * thread's block cache, if it is an allocated block of that order and the
 * common case holds; else 0 (the slow path checks and decides). */
static inline __attribute__((always_inline)) int
lab_fast_blk_free(struct lab_cache *c, void *addr, unsigned int order)
{
	uintptr_t idx = lab_page_number(c->base, c->shift, addr);

	/* A small block's head is HEAD | order only while it is allocated,
	 * and an allocated block lies inside the pool. */
	return idx < c->limit &&
	       lab_load_relaxed(&c->state[idx]) == (uint8_t)(LAB_PS_HEAD | order) &&
	       lab_fast_blk_push(c, (uint32_t)idx, order);
}

#endif /* LAB_CACHE_H */
