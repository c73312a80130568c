/* SPDX-License-Identifier: MIT */
/*
 * page.h - handing a block out: the one place that makes free pages the
 * caller's (the fast path's single page aside: labyrinth_fast.h).
 */
#ifndef LAB_PAGE_H
#define LAB_PAGE_H

#include "watch.h"

/*
 * Set the state bytes of pages [idx, idx + n) to v.  Blocks of 8 pages or
 * more start at a multiple of 8 (they are aligned to their size) and the
 * state array at a cache line, so whole words go at once: an order-4
 * pair writes 4 words instead of 32 bytes.  Relaxed atomic stores, as
 * every state byte's, since a misuse may read them from another thread.
 */
static inline void lab_state_fill(uint8_t *state, uint32_t idx, uint32_t n, uint8_t v)
{
	uint32_t i = 0;

	if (n >= 8 && !(idx & 7)) {
		uint64_t word = v * 0x0101010101010101ull;

		for (; i + 8 <= n; i += 8)
			lab_store_relaxed((uint64_t *)(void *)&state[idx + i], word);
	}
	for (; i < n; i++)
		lab_store_relaxed(&state[idx + i], v);
}

/* Mark the block of 2^order pages at idx allocated in the state bytes:
 * its head with its order, the rest tails (tails first: a free checks the
 * head, so the head's store is the one that makes the block allocated). */
static inline void lab_mark_allocated(uint8_t *state, uint32_t idx, unsigned int order)
{
	uint32_t n = 1u << order;
	union {
		uint8_t byte[8];
		uint64_t word;
	} first;

	if (n < 8) {
		lab_state_fill(state, idx + 1, n - 1, (uint8_t)LAB_PS_TAIL);
		lab_store_relaxed(&state[idx], (uint8_t)(LAB_PS_HEAD | order));
		return;
	}
	lab_state_fill(state, idx + 8, n - 8, (uint8_t)LAB_PS_TAIL);
	/* The head and its first seven tails in one store, whatever the
	 * byte order. */
	__builtin_memset(first.byte, LAB_PS_TAIL, sizeof(first.byte));
	first.byte[0] = (uint8_t)(LAB_PS_HEAD | order);
	lab_store_relaxed((uint64_t *)(void *)&state[idx], first.word);
}

/* The block of 2^order pages at idx is now the caller's: mark it, check
 * and clear it as asked; its address. */
static inline void *lab_hand_out(struct lab_pool *p, uint32_t idx, unsigned int order,
				 lab_gfp_t gfp, const char *call)
{
	uint32_t n = 1u << order;

	lab_mark_allocated(p->state, idx, order);
	if (lab_unlikely(p->flags & LAB_POOL_DEBUG))
		lab_poison_check(p, idx, n, call);
	if (gfp & LAB_GFP_ZERO)
		__builtin_memset(lab_page_addr(p, idx), 0, p->page_size << order);
	return lab_page_addr(p, idx);
}

#endif /* LAB_PAGE_H */
