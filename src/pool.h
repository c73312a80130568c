/* SPDX-License-Identifier: MIT */
/*
 * pool.h - the pool (pool.c): init and destroy, the registry of live pools,
 * LAB_GFP_KERNEL growth, fork, thread exit, watch registration.
 */
#ifndef LAB_POOL_H
#define LAB_POOL_H

#include "cache.h"

LAB_HIDDEN int lab_pool_grow(struct lab_pool *p, uint32_t seen_total);
LAB_HIDDEN void lab_for_each_live_pool(void (*fn)(struct lab_pool *p, int arg), int arg);

#endif /* LAB_POOL_H */
