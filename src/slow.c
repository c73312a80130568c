/* SPDX-License-Identifier: MIT */
/*
 * slow.c - the slow path: what an allocation does when neither its cache
 * nor the shared store had its page or block.  LAB_GFP_KERNEL grows the
 * pool, then sleeps for a free; everyone else counts the failure and
 * fails.
 *
 * Nothing here runs for ATOMIC or NOWAIT but the failure accounting in
 * lab_alloc_slow(), which makes no system call (a LAB_POOL_DEBUG pool
 * writes its report).
 */
#include "slow.h"

/* One page or block for a LAB_GFP_KERNEL caller, from the store. */
static bool take(struct lab_pool *p, unsigned int order, uint32_t *idx)
{
	uint32_t cached = lab_my_cached(p);

	if (!order)
		return lab_store_take(p, 1, p->reserve, cached, idx) == 1;
	*idx = lab_block_take(p, order, p->reserve, cached);
	return *idx != LAB_NIL;
}

/* Grow until a page can be taken or the pool is at max_pages. */
static bool take_or_grow(struct lab_pool *p, unsigned int order, uint32_t *idx)
{
	for (;;) {
		uint32_t seen_total = lab_load_acquire(&p->nr_total);

		if (take(p, order, idx))
			return true;
		if (seen_total >= p->max_pages)
			return false;
		if (lab_pool_grow(p, seen_total) < 0)
			return false;
	}
}

/*
 * Sleep until a page can be taken or wait_ms runs out.  The waiters count
 * and the free path's nr_free update are both sequentially consistent:
 * either a free sees waiters != 0 and bumps free_seq (so the futex wait
 * returns at once or is woken), or our take after the increment sees its
 * page.  A wake-up is not lost.
 */
static bool take_or_sleep(struct lab_pool *p, unsigned int order, uint32_t *idx)
{
	long timeout = p->wait_ms;
	uint64_t deadline = timeout > 0 ? lab_os_monotonic_ms() + (uint64_t)timeout : 0;
	bool got = false;

	/* Registered: every free from now on bypasses the caches.  The slow
	 * lock orders the first sleeper's setting of the caches' flag
	 * against the last one's clearing. */
	lab_slow_lock(p);
	if (lab_fetch_add_seq_cst(&p->waiters, 1) == 0)
		lab_caches_flag(p, LAB_CF_WAITERS, true);
	lab_slow_unlock(p);
	lab_fence_seq_cst();
	for (;;) {
		uint32_t seq = lab_load_acquire(&p->free_seq);

		if (take(p, order, idx)) {
			got = true;
			break;
		}
		if (timeout > 0) {
			uint64_t now = lab_os_monotonic_ms();

			if (now >= deadline)
				break;
			timeout = (long)(deadline - now);
		}
		lab_count(p, waits, 1);
		/* Frees wake sleepers; pages given back by a failed ATOMIC
		 * or NOWAIT allocation do not (no system call there), so
		 * sleep in slices and look again. */
		lab_os_futex_wait(&p->free_seq, seq,
				  timeout < 0 || timeout > LAB_SLEEP_SLICE_MS ? LAB_SLEEP_SLICE_MS :
									     timeout);
	}
	lab_slow_lock(p);
	if (lab_fetch_sub_seq_cst(&p->waiters, 1) == 1)
		lab_caches_flag(p, LAB_CF_WAITERS, false);
	lab_slow_unlock(p);
	return got;
}

/* The store had no page or block of this order for this caller. */
LAB_NOINLINE void *lab_alloc_slow(struct lab_pool *p, lab_gfp_t gfp, unsigned int order,
				  const char *call)
{
	uint32_t idx;

	if (gfp & LAB_GFP_KERNEL) {
		lab_os_might_sleep();
		if (take_or_grow(p, order, &idx) ||
		    (p->wait_ms && take_or_sleep(p, order, &idx))) {
			lab_count(p, allocs, 1);
			return lab_hand_out(p, idx, order, gfp, call);
		}
	}
	lab_count(p, alloc_failed, 1);
	if ((p->flags & LAB_POOL_DEBUG) && !(gfp & LAB_GFP_NOWARN))
		lab_report(p, call, "out of pages", NULL);
	lab_os_set_errno(LAB_ENOMEM);
	return NULL;
}
