/* SPDX-License-Identifier: MIT */
/*
 * watch.c - the bottom of the core above the platform: the futex lock
 * (setup calls and LAB_GFP_KERNEL callers only), waking LAB_GFP_KERNEL
 * sleepers when pages come back, and signalling low-watermark watches when
 * an allocation crosses their mark.
 *
 * Nothing here runs on the ATOMIC or NOWAIT paths but lab_watch_crossed(),
 * which makes one non-blocking eventfd write per mark crossed.
 */
#include "watch.h"

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

void lab_watch_close_all(struct lab_pool *p)
{
	uint32_t i;

	for (i = 0; i < p->nr_watches; i++)
		lab_os_close(p->watches[i].fd);
	p->nr_watches = 0;
	p->watch_low_max = 0;
	p->gate = p->reserve;
}
