/* SPDX-License-Identifier: MIT */
/*
 * slow.h - the slow path (slow.c): LAB_GFP_KERNEL growth and sleeping, and
 * every allocation's failure.
 */
#ifndef LAB_SLOW_H
#define LAB_SLOW_H

#include "pool.h"

LAB_HIDDEN void *lab_alloc_slow(struct lab_pool *p, lab_gfp_t gfp, unsigned int order,
				const char *call);

#endif /* LAB_SLOW_H */
