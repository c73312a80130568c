/* SPDX-License-Identifier: MIT */
/*
 * store.h - the shared lock-free store of free pages: the bitmap and its
 * count (store.c), multi-page blocks in it (buddy.c), and the summary of
 * which bitmap words hold free pages (summary.c).
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
LAB_HIDDEN void lab_store_set_bits(struct lab_pool *p, uint32_t w, uint64_t mask);
LAB_HIDDEN void lab_store_give(struct lab_pool *p, const uint32_t *pages, uint32_t n,
			       bool wake);
LAB_HIDDEN void lab_store_give_range(struct lab_pool *p, uint32_t first, uint32_t n,
				      bool wake);
LAB_HIDDEN void lab_return_count(struct lab_pool *p, uint32_t n, bool wake);
LAB_HIDDEN void lab_took(struct lab_pool *p, uint32_t before, uint32_t n);

/* summary.c */
LAB_HIDDEN size_t lab_bitmap_words(uint32_t words);
LAB_HIDDEN void lab_summary_init(struct lab_pool *p);
LAB_HIDDEN void lab_summary_mark(struct lab_pool *p, uint32_t w);
LAB_HIDDEN void lab_summary_emptied(struct lab_pool *p, uint32_t w);
LAB_HIDDEN uint32_t lab_summary_next(struct lab_pool *p, uint32_t w);
LAB_HIDDEN uint32_t lab_summary_prev(struct lab_pool *p, uint32_t w);
LAB_HIDDEN uint32_t lab_summary_unhinted(const struct lab_pool *p, unsigned int *level);

/* buddy.c */
LAB_HIDDEN uint32_t lab_block_claim(struct lab_pool *p, unsigned int order);
LAB_HIDDEN void lab_block_free_counts(const struct lab_pool *p, uint64_t *free_blocks);

#endif /* LAB_STORE_H */
