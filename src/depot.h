/* SPDX-License-Identifier: MIT */
/*
 * depot.h - the depot of magazines between the caches and the bitmap, and
 * taking pages for an allocation from the shared store (depot.c).
 */
#ifndef LAB_DEPOT_H
#define LAB_DEPOT_H

#include "store.h"

LAB_HIDDEN void lab_depot_init(struct lab_pool *p);
LAB_HIDDEN uint32_t lab_depot_get(struct lab_pool *p, uint32_t *pages);
LAB_HIDDEN bool lab_depot_put(struct lab_pool *p, const uint32_t *pages);
LAB_HIDDEN bool lab_depot_drain_one(struct lab_pool *p);
LAB_HIDDEN uint32_t lab_depot_walk(const struct lab_pool *p, uint64_t head,
				   bool (*fn)(const struct lab_pool *p, const uint32_t *pages,
					      void *arg), void *arg);
/* An allocation's pages from the shared store: cached is the caller's own
 * cached pages (free pages the floor may count). */
LAB_HIDDEN bool lab_take_count(struct lab_pool *p, uint32_t n, uint32_t floor, uint32_t cached,
			       uint32_t *before);
LAB_HIDDEN uint32_t lab_store_take(struct lab_pool *p, uint32_t n, uint32_t floor,
				   uint32_t cached, uint32_t *pages);
LAB_HIDDEN uint32_t lab_block_take(struct lab_pool *p, unsigned int order, uint32_t floor,
				   uint32_t cached);

#endif /* LAB_DEPOT_H */
