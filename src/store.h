/* SPDX-License-Identifier: MIT */
/*
 * store.h - the shared lock-free store of free pages: the bitmap and its
 * count (store.c), and multi-page blocks in it (buddy.c).
 */
#ifndef LAB_STORE_H
#define LAB_STORE_H

#include "page.h"

LAB_HIDDEN bool lab_store_count_take(struct lab_pool *p, uint32_t n, uint32_t fl,
				     uint32_t *old);
LAB_HIDDEN void lab_store_claim(struct lab_pool *p, uint32_t n, uint32_t *pages,
				uint32_t *cursor);
LAB_HIDDEN uint32_t lab_store_take_upto(struct lab_pool *p, uint32_t n, uint32_t *pages,
					uint32_t *cursor);
LAB_HIDDEN void lab_store_give(struct lab_pool *p, const uint32_t *pages, uint32_t n,
			       bool wake);
LAB_HIDDEN void lab_store_give_range(struct lab_pool *p, uint32_t first, uint32_t n,
				      bool wake);
LAB_HIDDEN void lab_return_count(struct lab_pool *p, uint32_t n, bool wake);
LAB_HIDDEN void lab_took(struct lab_pool *p, uint32_t before, uint32_t n);

/* buddy.c */
LAB_HIDDEN uint32_t lab_block_claim(struct lab_pool *p, unsigned int order);
LAB_HIDDEN void lab_block_free_counts(const struct lab_pool *p, uint64_t *free_blocks);

#endif /* LAB_STORE_H */
