/* SPDX-License-Identifier: MIT */
/*
 * summary.c - which words of the free bitmap hold free pages: a tree of
 * hint bits over bits[], so that a search finds a free page in a few
 * cache lines whatever the pool's size and wherever its cursor stands.
 *
 * Level 0 is the bitmap itself (p->sum[0] == p->bits); bit j of word i of
 * level l + 1 is the hint for word 64 * i + j of level l: "may be
 * nonzero".  The top level is one word.  A pool of 1 GiB in 4 KiB pages
 * has 4,096 bitmap words, 64 words of level 1 and one of level 2: a search
 * reads one word per level up and one per level down.
 *
 * The invariant, which holds whenever no thread is inside mark() or
 * emptied() below (so in particular when no thread is mid-operation):
 *
 *   (S)  every nonzero word of level l has its hint bit set in level l + 1.
 *
 * Hints may be stale the other way (set over a zero word): a search that
 * meets one clears it and looks on.  The two writers keep (S):
 *
 *   mark()     after a word became nonzero (a free's fetch-or), sets its
 *              hint, and so on up while the hint was clear: a set hint
 *              above means (S) held there already, or somebody's
 *              emptied() is between its clear and its recheck and will
 *              see our word.
 *   emptied()  after a word was seen zero, clears its hint, then reads the
 *              word again and sets the hint back (mark()) if it is no
 *              longer zero; when the clear left the word above zero, goes
 *              on up.
 *
 * Every write to a word and to a hint is a seq_cst read-modify-write and
 * the rereads are seq_cst loads, so of a freer (set word, then read hint)
 * and a clearer (clear hint, then read word) at least one sees the other:
 * the freer sees the clear and sets the hint, or the clearer sees the word
 * and sets it back.  That is the store-buffering pattern, which seq_cst
 * forbids; src/model/labyrinth.pml checks it (SUMMARY part).
 *
 * So a search that no other thread disturbs (none inside mark() or
 * emptied() when it starts, none writing the bitmap or a hint while it
 * runs) finds every word that holds free pages: by (S), each such word's
 * hints are set all the way up, and the search reads every set hint at or
 * after its start on its way up and down.
 *
 * A search racing a clearer may miss a free page for the instants between
 * the clear and the recheck.  The summary is a hint only: no count, no
 * exactness rule of SPEC's "Caches and exactness" rests on it.  Whether an
 * order-0 allocation succeeds is decided by nr_free alone (store.c), so
 * "fails only when no free page exists outside other live threads'
 * caches" and the exact single-thread counts are untouched: a claim whose
 * pages the count promised follows a summary pass that found too few with
 * a linear pass over the bitmap, exactly as the search was before the
 * summary, and goes on until it has them.  A block search that the
 * summary found nothing for makes the same linear pass before it reports
 * none (buddy.c), so an ATOMIC or NOWAIT block still fails only where it
 * failed before, when another thread claims or returns blocks at that
 * instant.  A racing miss costs time, never a page, never a failure.
 */
#include "store.h"

/* Words of the bitmap and of its summary levels, for a bitmap of words. */
size_t lab_bitmap_words(uint32_t words)
{
	size_t total = words, n = words;

	do {
		n = (n + 63) / 64;
		total += n;
	} while (n > 1);
	return total;
}

/* Lay the levels out after bits[] (lab_bitmap_words of zeroed memory). */
void lab_summary_init(struct lab_pool *p)
{
	uint32_t n = p->nr_words;
	unsigned int l = 0;

	p->sum[0] = p->bits;
	p->sum_n[0] = n;
	do {
		p->sum[l + 1] = p->sum[l] + n;
		n = (n + 63) / 64;
		p->sum_n[++l] = n;
	} while (n > 1);
	p->sum_top = l;
}

/* Word i of level l became (or may have become) nonzero: set its hint,
 * and the hints above it while they were clear. */
static void mark(struct lab_pool *p, unsigned int l, uint32_t i)
{
	for (; l < p->sum_top; l++, i /= 64) {
		uint64_t *hint = &p->sum[l + 1][i / 64], bit = 1ull << (i % 64);

		if (lab_load_seq_cst(hint) & bit)
			return;
		lab_fetch_or_seq_cst(hint, bit);
	}
}

void lab_summary_mark(struct lab_pool *p, uint32_t w)
{
	mark(p, 0, w);
}

/* Word i of level l was seen zero: clear its hint, recheck the word. */
static void emptied(struct lab_pool *p, unsigned int l, uint32_t i)
{
	for (; l < p->sum_top; l++, i /= 64) {
		uint64_t *hint = &p->sum[l + 1][i / 64], bit = 1ull << (i % 64);
		uint64_t old = lab_fetch_and_seq_cst(hint, ~bit);

		if (lab_load_seq_cst(&p->sum[l][i])) {
			mark(p, l, i); /* freed into meanwhile: the hint goes back */
			return;
		}
		if (old & ~bit)
			return; /* the word above still has other hints */
	}
}

void lab_summary_emptied(struct lab_pool *p, uint32_t w)
{
	emptied(p, 0, w);
}

/*
 * The first bitmap word at or after w whose hint is set and that was
 * nonzero when the search read its level-1 word, or LAB_NIL.  Stale hints
 * met on the way are cleared.  The caller reads the bitmap word itself
 * (and calls lab_summary_emptied() if it finds it zero).
 */
uint32_t lab_summary_next(struct lab_pool *p, uint32_t w)
{
	unsigned int l = 0;
	uint32_t i = w;

	for (;;) {
		uint64_t m = 0;

		/* Up: a hint for an entry of level l at or after i. */
		for (; l < p->sum_top && i < p->sum_n[l]; l++, i = i / 64 + 1) {
			m = lab_load_seq_cst(&p->sum[l + 1][i / 64]) & (~0ull << (i % 64));
			if (m)
				break;
		}
		if (!m)
			return LAB_NIL;
		i = (i & ~63u) + (uint32_t)__builtin_ctzll(m);
		/* Down: the lowest hint of each word below. */
		for (; l > 0; l--) {
			uint64_t v = lab_load_seq_cst(&p->sum[l][i]);

			if (!v)
				break;
			i = i * 64 + (uint32_t)__builtin_ctzll(v);
		}
		if (!l)
			return i;
		emptied(p, l, i); /* stale: clear it and look on after it */
		i++;
	}
}

/*
 * The last bitmap word at or before w whose hint is set (as
 * lab_summary_next, downwards): block searches go from the top.
 */
uint32_t lab_summary_prev(struct lab_pool *p, uint32_t w)
{
	unsigned int l = 0;
	uint32_t i = w;

	for (;;) {
		uint64_t m = 0;

		for (; l < p->sum_top; l++) {
			m = lab_load_seq_cst(&p->sum[l + 1][i / 64]) & (~0ull >> (63 - i % 64));
			if (m || i < 64)
				break;
			i = i / 64 - 1;
		}
		if (!m)
			return LAB_NIL;
		i = (i & ~63u) + 63u - (uint32_t)__builtin_clzll(m);
		for (; l > 0; l--) {
			uint64_t v = lab_load_seq_cst(&p->sum[l][i]);

			if (!v)
				break;
			i = i * 64 + 63u - (uint32_t)__builtin_clzll(v);
		}
		if (!l)
			return i;
		emptied(p, l, i);
		if (!i)
			return LAB_NIL;
		i--;
	}
}

/* (S) when quiescent: the first word of level l whose hint is missing,
 * or LAB_NIL (labyrinth_check; *level says which level). */
uint32_t lab_summary_unhinted(const struct lab_pool *p, unsigned int *level)
{
	unsigned int l;
	uint32_t i;

	for (l = 0; l < p->sum_top; l++)
		for (i = 0; i < p->sum_n[l]; i++)
			if (lab_load_relaxed(&p->sum[l][i]) &&
			    !(lab_load_relaxed(&p->sum[l + 1][i / 64]) & (1ull << (i % 64)))) {
				*level = l;
				return i;
			}
	return LAB_NIL;
}
