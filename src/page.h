/* SPDX-License-Identifier: MIT */
/*
 * page.h - handing a block out: the one place that makes free pages the
 * caller's (the fast path's single page aside: labyrinth_fast.h).
 */
#ifndef LAB_PAGE_H
#define LAB_PAGE_H

#include "watch.h"

/* Mark the block of 2^order pages at idx allocated in the state bytes:
 * its head with its order, the rest tails (tails first: a free checks the
 * head). */
static inline void lab_mark_allocated(uint8_t *state, uint32_t idx, unsigned int order)
{
	uint32_t i;

	for (i = 1; i < (1u << order); i++)
		lab_store_relaxed(&state[idx + i], (uint8_t)LAB_PS_TAIL);
	lab_store_relaxed(&state[idx], (uint8_t)(LAB_PS_HEAD | order));
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
