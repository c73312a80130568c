/* SPDX-License-Identifier: MIT */
/*
 * wait.c - the slow path: LAB_GFP_KERNEL growth and sleeping, waking
 * sleepers on free, the slow lock, and low-watermark watches.
 *
 * Nothing here runs for ATOMIC or NOWAIT except the failure accounting in
 * lab_alloc_slow() and lab_watch_crossed(), which make at most one
 * non-blocking eventfd write each.
 */
#include "cache.h"

/*
 * A futex lock: 0 free, 1 held, 2 held with sleepers.  It may sleep, so
 * only setup calls and LAB_GFP_KERNEL callers take one, never the atomic
 * paths.  Each pool's slow lock serialises its growth and watch changes.
 */
void lab_futex_lock(uint32_t *word)
{
	uint32_t c = 0;

	if (lab_cas_strong_acq_rel(word, &c, 1))
		return;
	if (c != 2)
		c = lab_exchange_acquire(word, 2);
	while (c != 0) {
		lab_os_futex_wait(word, 2, -1);
		c = lab_exchange_acquire(word, 2);
	}
}

void lab_futex_unlock(uint32_t *word)
{
	if (lab_exchange_release(word, 0) == 2)
		lab_os_futex_wake(word, 1);
}

void lab_slow_lock(struct lab_pool *p)
{
	lab_futex_lock(&p->slow_lock);
}

void lab_slow_unlock(struct lab_pool *p)
{
	lab_futex_unlock(&p->slow_lock);
}

/* Called by a free that saw sleepers: make their futex word change. */
void lab_wake_waiters(struct lab_pool *p)
{
	lab_fetch_add_seq_cst(&p->free_seq, 1);
	lab_os_futex_wake(&p->free_seq, 0x7fffffff);
}

/* One page or block for a LAB_GFP_KERNEL caller, from the store. */
static bool take(struct lab_pool *p, unsigned int order, uint32_t *idx)
{
	if (!order)
		return lab_store_take(p, 1, p->reserve, idx) == 1;
	*idx = lab_block_take(p, order, p->reserve);
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
			return lab_hand_out_block(p, idx, order, gfp, call);
		}
	}
	lab_count(p, alloc_failed, 1);
	if ((p->flags & LAB_POOL_DEBUG) && !(gfp & LAB_GFP_NOWARN))
		lab_report(p, call, "out of pages", NULL);
	lab_os_set_errno(LAB_ENOMEM);
	return NULL;
}

/*
 * An allocation took the free count from before to after, below the
 * highest mark: signal each watch whose mark it crossed.  Marks re-arm by
 * themselves: the next crossing needs the count back at or above the mark.
 */
void lab_watch_crossed(struct lab_pool *p, uint32_t before, uint32_t after)
{
	uint32_t i, n = lab_load_acquire(&p->nr_watches);

	for (i = 0; i < n; i++) {
		uint32_t low = p->watches[i].low;

		if (before >= low && after < low) {
			lab_os_eventfd_signal(p->watches[i].fd);
			lab_count(p, watch_events, 1);
		}
	}
}

int labyrinth_watch(labyrinth_t *lab, size_t low_pages)
{
	struct lab_pool *p = lab_pool_of(lab);
	struct lab_cache *c;
	int fd, own, err = 0;
	uint32_t n;

	if (!p || low_pages == 0 || low_pages > p->max_pages)
		return -LAB_EINVAL;
	fd = lab_os_eventfd();
	if (fd < 0)
		return fd;
	own = lab_os_dup(fd);
	if (own < 0) {
		lab_os_close(fd);
		return own;
	}
	lab_slow_lock(p);
	n = p->nr_watches;
	if (n == LAB_MAX_WATCHES) {
		err = -LAB_ENOSPC;
	} else {
		p->watches[n].fd = own;
		p->watches[n].low = (uint32_t)low_pages;
		lab_store_release(&p->nr_watches, n + 1);
		if (low_pages > p->watch_low_max)
			lab_store_release(&p->watch_low_max, (uint32_t)low_pages);
		lab_store_release(&p->gate, p->reserve | p->watch_low_max);
		lab_caches_flag(p, LAB_CF_GATE, true);
	}
	lab_slow_unlock(p);
	if (err) {
		lab_os_close(own);
		lab_os_close(fd);
		return err;
	}
	/* Already below the mark: readable at once.  The free pages are the
	 * store's and this thread's caches' (single pages and blocks), exact
	 * for a single thread. */
	lab_pin();
	c = lab_my_cache(p);
	n = lab_load_acquire(&p->nr_free) + lab_load_acquire(&p->depot_pages) +
	    (c ? lab_my_cached(p) : 0);
	lab_unpin();
	if (n < low_pages) {
		lab_os_eventfd_signal(own);
		lab_count(p, watch_events, 1);
	}
	return fd;
}

void lab_watch_close_all(struct lab_pool *p)
{
	uint32_t i;

	for (i = 0; i < p->nr_watches; i++)
		lab_os_close(p->watches[i].fd);
	p->nr_watches = 0;
	p->watch_low_max = 0;
	p->gate = p->reserve;
}
