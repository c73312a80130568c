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

/* This thread's cache slot, the same index in every pool. */
extern __thread int32_t lab_my_slot __attribute__((tls_model("initial-exec"))) LAB_HIDDEN;

static inline struct lab_cache *lab_cache_at(const struct lab_pool *p, int32_t slot)
{
	return (struct lab_cache *)(void *)(p->caches + (size_t)slot * p->cache_stride);
}

/* This thread's cache in p, or NULL when it has none. */
static inline struct lab_cache *lab_my_cache(struct lab_pool *p)
{
	int32_t slot = lab_my_slot;

	if (lab_likely(slot >= 0))
		return lab_cache_at(p, slot); /* no_cache if the pool has none */
	return slot == LAB_SLOT_NONE ? lab_cache_claim(p) : NULL;
}

/* Pages in this thread's cache of p: free pages, as exact as they can be. */
static inline uint32_t lab_my_cached(const struct lab_pool *p)
{
	int32_t slot = lab_my_slot;

	return slot >= 0 ? lab_load_relaxed(&lab_cache_at(p, slot)->count) : 0;
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

#endif /* LAB_CACHE_H */
