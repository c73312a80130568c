/* SPDX-License-Identifier: MIT */
/*
 * buddy.c - multi-page blocks (orders 1..LAB_MAX_ORDER) in the store's bitmap.
 *
 * An order-n block is 2^n pages at an index that is a multiple of 2^n; the
 * pool's base is aligned to a max-order block, so the block is aligned to
 * its own size in memory too.  A block is free when all its bits are set,
 * so a free never has to look for its buddy: merging is in the bitmap.
 *
 *   n <= 6  the block lies inside one 64-bit word: one CAS claims it.
 *   n > 6   the block is 2^(n-6) whole words: each is claimed by a CAS
 *           from all-ones to zero, in order; if one is not all-ones any
 *           more, the words already claimed are given back and the search
 *           goes on.  The claimer holds the count for those pages while it
 *           works, so nobody else can be promised them.
 *
 * A pass visits only the words whose summary hint is set (summary.c).
 * Blocks are searched from the top of the pool down while order-0 pages are
 * taken from the cursor upwards, which keeps single pages from splitting
 * the blocks that remain.  There is no lock: an ATOMIC or NOWAIT block
 * allocation makes one pass and fails if the pass found no block; it can
 * miss one only when another thread is claiming or returning blocks at
 * that instant.
 */
#include "store.h"

/* Bit i of the result is set iff bits i .. i + 2^order - 1 of v are all
 * set and i is a multiple of 2^order (order < 6). */
static uint64_t whole_groups(uint64_t v, unsigned int order)
{
	static const uint64_t aligned[6] = {
		~0ull, 0x5555555555555555ull, 0x1111111111111111ull,
		0x0101010101010101ull, 0x0001000100010001ull, 0x0000000100000001ull,
	};
	unsigned int s;

	for (s = 1; s < (1u << order); s <<= 1)
		v &= v >> s;
	return v & aligned[order];
}

/* The last word at or before w to look at: the last one whose summary
 * hint is set, or w itself in a linear pass; LAB_NIL when none is left. */
static uint32_t prev_word(struct lab_pool *p, uint32_t w, bool linear)
{
	return linear ? w : lab_summary_prev(p, w);
}

/* One pass for a block smaller than a word; its first page or LAB_NIL. */
static uint32_t claim_in_word(struct lab_pool *p, unsigned int order, uint32_t words,
			      bool linear, bool *raced)
{
	uint64_t group = (1ull << (1u << order)) - 1;
	uint32_t w = words;

	while (w && (w = prev_word(p, w - 1, linear)) != LAB_NIL) {
		uint64_t v = lab_load_relaxed(&p->bits[w]), g;

		if (!v && !linear)
			lab_summary_emptied(p, w); /* a stale hint */
		while ((g = whole_groups(v, order)) != 0) {
			unsigned int bit = 63u - (unsigned int)__builtin_clzll(g);
			uint64_t rest = v & ~(group << bit);

			if (lab_cas_weak_acquire(&p->bits[w], &v, rest)) {
				if (!rest)
					lab_summary_emptied(p, w);
				return w * 64 + bit;
			}
			*raced = true;
		}
	}
	return LAB_NIL;
}

/* Claim the k words from w on, all-ones each; all or none. */
static bool claim_words(struct lab_pool *p, uint32_t w, uint32_t k)
{
	uint32_t i;

	for (i = 0; i < k; i++) {
		uint64_t v = ~0ull;

		while (!lab_cas_weak_acquire(&p->bits[w + i], &v, 0))
			if (v != ~0ull)
				goto undo;
	}
	for (i = 0; i < k; i++)
		lab_summary_emptied(p, w + i);
	return true;
undo:
	while (i--)
		lab_store_set_bits(p, w + i, ~0ull);
	return false;
}

/* One pass for a block of whole words; its first page or LAB_NIL. */
static uint32_t claim_word_run(struct lab_pool *p, unsigned int order, uint32_t words,
			       bool linear, bool *raced)
{
	uint32_t k = 1u << (order - 6), w = words / k * k, i;

	while (w && (i = prev_word(p, w - 1, linear)) != LAB_NIL) {
		w = i / k * k;
		for (i = 0; i < k && lab_load_relaxed(&p->bits[w + i]) == ~0ull; i++)
			;
		if (i == k) {
			if (claim_words(p, w, k))
				return w * 64;
			*raced = true;
		}
	}
	return LAB_NIL;
}

/* One pass of either kind over the pool's total pages. */
static uint32_t claim_pass(struct lab_pool *p, unsigned int order, uint32_t total,
			   bool linear, bool *raced)
{
	if (order < 6)
		return claim_in_word(p, order, (total + 63) / 64, linear, raced);
	return claim_word_run(p, order, total / 64, linear, raced); /* whole words only */
}

/*
 * Claim a free block of 2^order pages whose count an allocation holds
 * already (depot.c's lab_block_take): its first page, or LAB_NIL when one
 * pass found none.  The pass follows the summary (a few cache lines in
 * any pool); only when that finds nothing does a linear pass look at
 * every word, so that a summary hint being cleared by another thread at
 * that instant never makes a block missed that the search before the
 * summary would have found.
 */
uint32_t lab_block_claim(struct lab_pool *p, unsigned int order)
{
	uint32_t total = lab_load_acquire(&p->nr_total), idx;
	bool raced = false;

	idx = claim_pass(p, order, total, false, &raced);
	if (idx == LAB_NIL) {
		lab_count(p, linear_searches, 1);
		idx = claim_pass(p, order, total, true, &raced);
	}
	/* Counted when another thread's claim or return got in the way of
	 * this pass: the documented way for a block to be missed that a quiet
	 * pool would have given. */
	if (idx == LAB_NIL && raced)
		lab_count(p, block_contended, 1);
	return idx;
}

/* Are the 2^order bits from first on all equal to set? */
static bool run_is(const struct lab_pool *p, uint32_t first, unsigned int order, bool set)
{
	uint64_t want = set ? ~0ull : 0;
	uint32_t i;

	if (order < 6) {
		uint64_t mask = ((1ull << (1u << order)) - 1) << (first % 64);

		return (lab_load_relaxed(&p->bits[first / 64]) & mask) == (want & mask);
	}
	for (i = 0; i < (1u << (order - 6)); i++)
		if (lab_load_relaxed(&p->bits[first / 64 + i]) != want)
			return false;
	return true;
}

/* Count the aligned run as a buddy allocator would list it: whole, or
 * split in two halves and each counted again. */
static void count_run(const struct lab_pool *p, uint32_t first, unsigned int order,
		      uint64_t *free_blocks)
{
	if (run_is(p, first, order, true)) {
		free_blocks[order]++;
		return;
	}
	if (!order || run_is(p, first, order, false))
		return;
	count_run(p, first, order - 1, free_blocks);
	count_run(p, first + (1u << (order - 1)), order - 1, free_blocks);
}

/* Free blocks of each order in the bitmap (pages in caches not included). */
void lab_block_free_counts(const struct lab_pool *p, uint64_t *free_blocks)
{
	uint32_t total = lab_load_acquire(&p->nr_total), at = 0;

	while (at < total) {
		unsigned int order = LAB_MAX_ORDER;

		/* The largest aligned run that fits: a short pool's tail is
		 * listed in smaller blocks. */
		while ((at & ((1u << order) - 1)) || at + (1u << order) > total)
			order--;
		count_run(p, at, order, free_blocks);
		at += 1u << order;
	}
}
