/* SPDX-License-Identifier: MIT */
/*
 * freelist.c - the shared lock-free store of free pages.
 *
 * Two words make the store:
 *
 *   stack_head  a Treiber stack of page indexes linked through the
 *               out-of-band array next[]; the high 32 bits are a tag bumped
 *               by every change, so a pop that was preempted between reading
 *               the head and its CAS cannot succeed on a recycled head (ABA).
 *   nr_free     how many pages the stack holds, less the pages already
 *               promised to allocations that have not popped them yet.
 *
 * An allocation first takes its pages from nr_free with a CAS that refuses
 * to go below the caller's floor (the reserve for NOWAIT and KERNEL), then
 * pops them.  A free pushes first and then adds to nr_free (release).  So
 * the stack always holds at least nr_free + (promised, not yet popped)
 * pages, and a pop after a successful take always finds a page: the count
 * is the exact gate, the stack never runs dry under a promise.
 *
 * Every step is a single CAS or fetch-add on a lock-free word: no lock, no
 * system call, and a signal handler that interrupts any step on the same
 * thread finds the store consistent and can allocate and free itself.
 */
#include "internal.h"

static inline uint64_t make_head(uint64_t old_head, uint32_t top)
{
	return (((old_head >> 32) + 1) << 32) | top;
}

/* Promise n pages, leaving at least floor; returns nr_free before. */
static bool take_count(struct lab_pool *p, uint32_t n, uint32_t floor, uint32_t *before)
{
	uint32_t old = lab_load_relaxed(&p->nr_free);

	do {
		if (old < floor || old - floor < n)
			return false;
	} while (!lab_cas_weak_acquire(&p->nr_free, &old, old - n));
	*before = old;
	return true;
}

/*
 * Pop n pages (the stack holds them: the caller has taken them from
 * nr_free) with one CAS.  The walk down next[] is safe without a lock: if
 * the head's tag is unchanged at the CAS, no push or pop happened since the
 * head was read, and a page's next[] is only written while the page is out
 * of the stack, so the walked chain is exactly the stack's top n pages.  A
 * walk that ran into a change simply retries.
 */
static void pop_chain(struct lab_pool *p, uint32_t n, uint32_t *pages)
{
	uint64_t head = lab_load_acquire(&p->stack_head);

	for (;;) {
		uint32_t i, cur = (uint32_t)head;

		for (i = 0; i < n && cur != LAB_NIL; i++) {
			pages[i] = cur;
			cur = lab_load_relaxed(&p->next[cur]);
		}
		if (lab_likely(i == n)) {
			if (lab_cas_weak_acquire(&p->stack_head, &head, make_head(head, cur)))
				return;
		} else {
			head = lab_load_acquire(&p->stack_head);
		}
	}
}

/*
 * Take exactly n pages into pages[], leaving at least floor free pages in
 * the shared store, or none.  Returns n or 0.  This is an allocation: it
 * does the watch and reserve bookkeeping.
 */
uint32_t lab_store_take(struct lab_pool *p, uint32_t n, uint32_t floor, uint32_t *pages)
{
	uint32_t before, after;

	if (!take_count(p, n, floor, &before))
		return 0;
	pop_chain(p, n, pages);
	after = before - n;
	if (lab_unlikely(after < lab_load_relaxed(&p->watch_low_max)))
		lab_watch_crossed(p, before, after);
	/* Pages taken from below the reserve line. */
	if (lab_unlikely(after < p->reserve))
		lab_count(p, reserve_allocs, before > p->reserve ? p->reserve - after : n);
	return n;
}

/*
 * Move up to n pages into a cache's pages[]: not an allocation (the pages
 * stay free, counted in the cache), so no floor and no bookkeeping.
 */
uint32_t lab_store_take_upto(struct lab_pool *p, uint32_t n, uint32_t *pages)
{
	uint32_t old = lab_load_relaxed(&p->nr_free), got;

	do {
		got = old < n ? old : n;
		if (!got)
			return 0;
	} while (!lab_cas_weak_acquire(&p->nr_free, &old, old - got));
	pop_chain(p, got, pages);
	return got;
}

/* Push the chain first..last (linked through next[]) of n pages. */
void lab_store_give_chain(struct lab_pool *p, uint32_t first, uint32_t last, uint32_t n)
{
	uint64_t head = lab_load_relaxed(&p->stack_head);

	do {
		lab_store_relaxed(&p->next[last], (uint32_t)head);
	} while (!lab_cas_weak_release(&p->stack_head, &head, make_head(head, first)));
	/* seq_cst pairs with lab_alloc_slow(): either this free sees the
	 * sleeper's waiters increment, or the sleeper sees this page. */
	lab_fetch_add_seq_cst(&p->nr_free, n);
	if (lab_unlikely(lab_load_seq_cst(&p->waiters)))
		lab_wake_waiters(p);
}

void lab_store_give(struct lab_pool *p, const uint32_t *pages, uint32_t n)
{
	uint32_t i;

	if (!n)
		return;
	for (i = 0; i + 1 < n; i++)
		lab_store_relaxed(&p->next[pages[i]], pages[i + 1]);
	lab_store_give_chain(p, pages[0], pages[n - 1], n);
}
