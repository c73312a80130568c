/* SPDX-License-Identifier: MIT */
/*
 * store.c - the shared lock-free store of free pages: a bitmap.
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
 * Searches do not read the bitmap word by word: the summary (summary.c)
 * says which words hold free pages, so a search costs a few cache lines
 * in any pool.  It is a hint that a racing clear may hide for an instant,
 * so a search that comes back short falls back on a linear pass; the
 * count above stays the only gate.
 *
 * The bitmap is also the buddy allocator's free map (buddy.c): a free block
 * of order n is 2^n set bits at an aligned place, so freeing merges blocks
 * with no further step, and a fully free pool is whole max-order blocks.
 */
#include "store.h"

/*
 * Promise n pages of the bitmap to an allocation: lower nr_free by n if
 * at least fl pages stay.  *old is nr_free before (when it refuses: as
 * it was then).
 */
bool lab_store_count_take(struct lab_pool *p, uint32_t n, uint32_t fl, uint32_t *old)
{
	*old = lab_load_relaxed(&p->nr_free);
	do {
		if (*old < fl || *old - fl < n)
			return false;
	} while (!lab_cas_weak_acquire(&p->nr_free, old, *old - n));
	return true;
}

/*
 * Add n pages (whose bits are set) to nr_free.  seq_cst pairs with
 * take_or_sleep() in slow.c: either this sees the sleeper's waiters
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
 * Take up to n - got of the lowest set bits of word w into pages[] with
 * one CAS (redone while it fails and bits remain); the new got.  The
 * indexes are read off the word while its new value is computed, so one
 * pass over the lowest set bits does both.  A CAS that empties the word
 * clears its summary hint.
 */
static uint32_t claim_word(struct lab_pool *p, uint32_t w, uint32_t n, uint32_t *pages,
			   uint32_t got)
{
	uint64_t v = lab_load_relaxed(&p->bits[w]), rest;
	uint32_t took;

	while (v) {
		if (v == ~0ull && n - got >= 64) {
			/* A whole free word for a batch of 64 or more, the
			 * common refill: its indexes in a row, no bit scan. */
			uint32_t *dst = pages + got, k;

			for (k = 0; k < 64; k++)
				dst[k] = w * 64 + k;
			took = got + 64;
			rest = 0;
		} else {
			for (rest = v, took = got; took < n && rest; took++) {
				pages[took] = w * 64 + (uint32_t)__builtin_ctzll(rest);
				rest &= rest - 1;
			}
		}
		if (lab_cas_weak_acquire(&p->bits[w], &v, rest)) {
			if (!rest)
				lab_summary_emptied(p, w);
			return took;
		}
	}
	return got;
}

/*
 * The next word at or after w (below words) to claim from, or LAB_NIL.
 * A summary pass asks the summary (summary.c) and clears a stale hint it
 * follows to an empty word; a linear pass reads every word, as a search
 * must when a racing hint clear may hide the pages a count promised, and
 * puts back the hint of any nonzero word it meets.
 */
static uint32_t next_word(struct lab_pool *p, uint32_t w, uint32_t words, bool linear)
{
	for (; w < words; w++) {
		if (!linear)
			w = lab_summary_next(p, w);
		if (w == LAB_NIL || w >= words)
			return LAB_NIL;
		if (lab_load_relaxed(&p->bits[w])) {
			if (linear)
				lab_summary_mark(p, w);
			return w;
		}
		if (!linear)
			lab_summary_emptied(p, w);
	}
	return LAB_NIL;
}

/*
 * Claim n promised pages' bits into pages[], searching from *cursor (the
 * pool's, or a cache's own: threads refilling from different words keep
 * their pages, and so the state bytes they write, in different cache
 * lines).  The count promised the pages, so the search goes on until it
 * has them: by the summary from the cursor to the end and from the start,
 * then a linear pass, and so on, alternating (a summary pass that comes
 * back short raced with a hint being cleared, or with claims and frees
 * that moved the pages: somebody made progress either way).
 */
void lab_store_claim(struct lab_pool *p, uint32_t n, uint32_t *pages, uint32_t *cursor)
{
	uint32_t words = (lab_load_acquire(&p->nr_total) + 63) / 64;
	uint32_t w = lab_load_relaxed(cursor), got = 0, lap = 0;

	if (w >= words)
		w = 0;
	for (;;) {
		w = next_word(p, w, words, lap >= 2 && lap % 2 == 0);
		if (w == LAB_NIL) {
			/* Wrapped: the pool may have grown since (KERNEL growth
			 * publishes nr_total before its pages' count). */
			words = (lab_load_acquire(&p->nr_total) + 63) / 64;
			w = 0;
			if (++lap >= 2 && lap % 2 == 0)
				lab_count(p, linear_searches, 1);
			continue;
		}
		got = claim_word(p, w, n, pages, got);
		if (got == n)
			break;
		w++;
	}
	lab_store_relaxed(cursor, w);
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
	lab_store_claim(p, got, pages, cursor);
	return got;
}

/*
 * Set bits of word w (a free): seq_cst (a release too, so a claimer's
 * acquire sees the freer's writes), then the word's summary hint:
 * summary.c says why the bits come first and why seq_cst.
 */
void lab_store_set_bits(struct lab_pool *p, uint32_t w, uint64_t mask)
{
	lab_fetch_or_seq_cst(&p->bits[w], mask);
	lab_summary_mark(p, w);
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
		lab_store_set_bits(p, w, mask);
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

		lab_store_set_bits(p, i / 64, mask);
		i += len;
	}
	lab_return_count(p, n, wake);
}
