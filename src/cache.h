/* SPDX-License-Identifier: MIT */
/*
 * cache.h - the per-thread cache fast path, inline for alloc.c.
 *
 * Why a cache is safe against a signal handler on its own thread
 * ----------------------------------------------------------------
 * A cache is a LIFO array (pages[], count) written only by its owner
 * thread.  Its only possible concurrency is a signal handler that runs on
 * the owner thread in the middle of a push or pop and itself allocates or
 * frees.  Each operation therefore:
 *
 *   1. returns at once (to the shared, lock-free store) if busy is set:
 *      it interrupted the owner inside an operation on this cache;
 *   2. sets busy, then (compiler signal fence) reads count afresh;
 *   3. works on pages[] and count;
 *   4. (signal fence) clears busy.
 *
 * A handler that runs before step 2 sees busy clear, completes its whole
 * operation on the cache (handlers nest, they do not interleave) and
 * leaves it consistent; the owner then reads count after setting busy, so
 * it sees the handler's result.  A handler that runs between steps 2 and 4
 * sees busy and never touches the cache.  Signal fences suffice: the
 * handler runs on the same CPU thread, which sees its own stores in
 * program order; only the compiler must not move the accesses across
 * busy.  No atomic read-modify-write is needed, and none is used.
 *
 * Exactness: the pages in a cache are free pages.  The reserve and the
 * watches are judged on nr_free (the shared store) plus the caller's own
 * cache, which is exact for a single thread and off by at most the other
 * threads' cached pages otherwise, as SPEC.md allows.
 */
#ifndef LAB_CACHE_H
#define LAB_CACHE_H

#include "internal.h"

#define LAB_SLOT_NONE (-1) /* this thread has no slot yet */
#define LAB_SLOT_BUSY (-2) /* being assigned: a nested handler must not */
#define LAB_SLOT_OFF  (-3) /* no cache for this thread (none free, or exiting) */

#ifdef LAB_HOST_CPU_SLOTS
/*
 * The host's cache slots are its CPUs (the kernel, platform.h): the slot is
 * the CPU the caller runs on, and lab_pin() keeps the caller there (no
 * migration, no preemption) until lab_unpin().  Every use of a cache lies
 * between the two.  An interrupt on that CPU is the analogue of a signal
 * handler on a thread: it nests, so the busy argument below covers it.
 */
#define lab_my_slot lab_os_cpu_slot()
#define lab_pin()   lab_os_cpu_pin()
#define lab_unpin() lab_os_cpu_unpin()
#else
/* This thread's cache slot, the same index in every pool.  A thread never
 * changes slot under its own feet: pinning is nothing. */
extern __thread int32_t lab_my_slot __attribute__((tls_model("initial-exec"))) LAB_HIDDEN;
#define lab_pin()   ((void)0)
#define lab_unpin() ((void)0)
#endif

#ifndef LAB_HOST_CPU_SLOTS
/*
 * The fast paths' way to this thread's cache: the cache of the pool this
 * thread used last, and that pool's ticket.  No ticket is LAB_TICKET_NONE,
 * and a destroyed or never-initialised labyrinth_t has ticket 0: neither
 * is ever a pool's (tickets start at 1).
 *
 * Why it is safe against signal handlers and destroyed pools
 * ------------------------------------------------------------
 * lab_fast_cache() reads key, then cache, and uses the cache only if the
 * caller's labyrinth_t holds that key: then the key's pool is live (the
 * caller is calling on it), and only then is the cache dereferenced.  A
 * handler on this thread may switch the pair to another pool between the
 * two reads (lab_tls_adopt, which writes cache before key): the reader
 * then holds an old key and a new cache, which belongs to the pool the
 * handler just used (mapped), and whose own ticket differs from the key,
 * so the reader falls back to the slow path.  A handler never switches the
 * pair while its thread is in the middle of switching it (updating).
 * cache->lab catches a copy of a live labyrinth_t, which has its ticket.
 */
#define LAB_TICKET_NONE (~0ull)

struct lab_tls {
	uint64_t key;              /* ticket of cache's pool, or LAB_TICKET_NONE */
	struct lab_cache *cache;
	uint32_t updating;         /* lab_tls_adopt() at work: a handler keeps off */
};
extern __thread struct lab_tls lab_tls __attribute__((tls_model("initial-exec"))) LAB_HIDDEN;

static inline __attribute__((always_inline)) struct lab_cache *
lab_fast_cache(const labyrinth_t *lab)
{
	uint64_t key = lab_load_relaxed(&lab_tls.key);
	struct lab_cache *c;

	lab_signal_fence();
	c = lab_load_relaxed(&lab_tls.cache);
	if (lab_unlikely(!lab || lab_load_relaxed(&lab_ticket_of(lab)) != key))
		return NULL;
	if (lab_unlikely(((c->ticket ^ key) | ((uintptr_t)c->lab ^ (uintptr_t)lab)) != 0))
		return NULL;
	return c;
}

/* Make c (this thread's cache in a live pool) the fast paths' cache. */
static inline void lab_tls_adopt(struct lab_cache *c)
{
	if (lab_load_relaxed(&lab_tls.key) == c->ticket || lab_load_relaxed(&lab_tls.updating))
		return;
	lab_store_relaxed(&lab_tls.updating, 1u);
	lab_signal_fence();
	lab_store_relaxed(&lab_tls.cache, c);
	lab_signal_fence();
	lab_store_relaxed(&lab_tls.key, c->ticket);
	lab_signal_fence();
	lab_store_relaxed(&lab_tls.updating, 0u);
}

/* No fast cache any more (thread exit, fork child). */
static inline void lab_tls_forget(void)
{
	lab_store_relaxed(&lab_tls.key, LAB_TICKET_NONE);
}

#else
/* CPU slots (the kernel): nothing to remember per thread; the fast paths
 * find the CPU's cache through the pool (lab_fast_cache below). */
static inline void lab_tls_adopt(struct lab_cache *c)
{
	(void)c;
}

static inline void lab_tls_forget(void)
{
}
#endif

static inline struct lab_cache *lab_cache_at(const struct lab_pool *p, int32_t slot)
{
	return (struct lab_cache *)(void *)(p->caches + (size_t)slot * p->cache_stride);
}

/* This thread's cache in p, or NULL when it has none; it becomes the
 * fast paths' cache (pinned callers only: lab_pin()). */
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
		 * lab_tls_adopt): stats and check need not look further. */
		if (lab_unlikely((uint32_t)lab_my_slot >= lab_load_relaxed(&p->slots_seen)))
			lab_cache_seen(p);
		lab_tls_adopt(c);
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

static inline bool lab_cache_enter(struct lab_cache *c)
{
	if (lab_unlikely(lab_load_relaxed(&c->busy)))
		return false;
	lab_store_relaxed(&c->busy, 1u);
	lab_signal_fence();
	return true;
}

static inline void lab_cache_leave(struct lab_cache *c)
{
	lab_signal_fence();
	lab_store_relaxed(&c->busy, 0u);
}

/*
 * Pop one page for an allocation with gfp into *idx, or false to send the
 * caller on to the shared store.  The common case (pages cached, no
 * reserve or watch to judge) is a few loads and stores; the rest is
 * lab_cache_pop_slow(), still inside the busy window, or, when the caller
 * passes slow = false (to stay a leaf function), false.
 */
static inline __attribute__((always_inline)) bool
lab_cache_pop(struct lab_pool *p, struct lab_cache *c, lab_gfp_t gfp, bool slow, uint32_t *idx)
{
	uint32_t n;
	bool ok = false;

	if (!lab_cache_enter(c))
		return false;
	n = lab_load_relaxed(&c->count);
	if (lab_likely(n && !lab_load_relaxed(&p->gate))) {
		*idx = c->pages[n - 1];
		lab_store_relaxed(&c->count, n - 1);
		ok = true;
	} else if (slow) {
		*idx = lab_cache_pop_slow(p, c, gfp);
		ok = *idx != LAB_NIL;
	}
	lab_cache_leave(c);
	return ok;
}

/*
 * Free page idx into the cache: mark it free and push it, in the busy
 * window so that a handler on this thread never sees one without the
 * other.  Not while a LAB_GFP_KERNEL caller sleeps: then the page must
 * reach it through the shared store, which wakes it.  A cache at its
 * grant first takes more budget or, when full, flushes in part
 * (lab_cache_make_room); with slow = false it is refused.  false: nothing
 * done.
 */
static inline __attribute__((always_inline)) bool
lab_cache_push(struct lab_pool *p, struct lab_cache *c, uint32_t idx, bool slow)
{
	uint32_t n;

	if (lab_unlikely(lab_load_relaxed(&p->waiters)) || !lab_cache_enter(c))
		return false;
	n = lab_load_relaxed(&c->count);
	if (lab_unlikely(n == c->grant)) {
		if (!slow || !lab_cache_make_room(p, c)) {
			lab_cache_leave(c);
			return false;
		}
		n = lab_load_relaxed(&c->count);
	}
	lab_store_relaxed(&p->state[idx], (uint8_t)LAB_PS_FREE);
	c->pages[n] = idx;
	lab_store_relaxed(&c->count, n + 1);
	lab_store_relaxed(&c->frees, c->frees + 1);
	lab_cache_leave(c);
	return true;
}

/*
 * The fast paths proper: the cache alone, with the pool's constants from
 * its first line.  Pop one page into *idx, or false (busy, empty, or a
 * reserve or watch to judge: the slow path, lab_cache_pop, does those).
 */
static inline __attribute__((always_inline)) bool lab_fast_pop(struct lab_cache *c, uint32_t *idx)
{
	uint32_t n;
	bool ok = false;

	if (!lab_cache_enter(c))
		return false;
	n = lab_load_relaxed(&c->count);
	if (lab_likely(n && !(lab_load_relaxed(&c->flags) & LAB_CF_GATE))) {
		*idx = c->pages[n - 1];
		lab_store_relaxed(&c->count, n - 1);
		ok = true;
	}
	lab_cache_leave(c);
	return ok;
}

/*
 * Push allocated page idx (its state byte checked by the caller) freed:
 * mark it free and push it in one busy window, or false (busy, no room
 * in the grant, or a LAB_GFP_KERNEL sleeper, whom the page must reach
 * through the store).
 */
static inline __attribute__((always_inline)) bool lab_fast_push(struct lab_cache *c, uint32_t idx)
{
	uint32_t n;
	bool ok = false;

	if (lab_unlikely(lab_load_relaxed(&c->flags) & LAB_CF_WAITERS) || !lab_cache_enter(c))
		return false;
	n = lab_load_relaxed(&c->count);
	if (lab_likely(n != c->grant)) {
		lab_store_relaxed(&c->state[idx], (uint8_t)LAB_PS_FREE);
		c->pages[n] = idx;
		lab_store_relaxed(&c->count, n + 1);
		lab_store_relaxed(&c->frees, c->frees + 1);
		ok = true;
	}
	lab_cache_leave(c);
	return ok;
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

/* Push the allocated block at idx (its head's state byte checked by the
 * caller) freed: mark its pages free and push it in one busy window, or
 * false (nothing done). */
static inline __attribute__((always_inline)) bool
lab_fast_blk_push(struct lab_cache *c, uint32_t idx, unsigned int order)
{
	struct lab_blk_cache *b;
	uint32_t n, i, size = 1u << order;
	bool ok = false;

	if (lab_unlikely(lab_load_relaxed(&c->flags) & LAB_CF_WAITERS) || !lab_cache_enter(c))
		return false;
	b = lab_blk_of(c);
	n = lab_load_relaxed(&b->count[order]);
	if (lab_likely(n < LAB_BLK_DEPTH && b->pages + size <= b->grant)) {
		for (i = 0; i < size; i++)
			lab_store_relaxed(&c->state[idx + i], (uint8_t)LAB_PS_FREE);
		b->first[order - 1][n] = idx;
		lab_store_relaxed(&b->pages, b->pages + size);
		lab_store_relaxed(&b->count[order], (uint8_t)(n + 1));
		lab_store_relaxed(&b->frees, b->frees + 1);
		ok = true;
	}
	lab_cache_leave(c);
	return ok;
}

#endif /* LAB_CACHE_H */
