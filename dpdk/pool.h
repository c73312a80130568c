/* SPDX-License-Identifier: MIT */
/*
 * pool.h - what the mempool ops driver (mempool_ops.c) and the pktmbuf
 * helper (pktmbuf_pool.c) share: the driver's state behind a DPDK mempool.
 * Not installed.
 */
#ifndef LAB_DPDK_POOL_H
#define LAB_DPDK_POOL_H

#include <stdint.h>
#include <labyrinth.h>

struct rte_mempool;

#define LAB_DPDK_OPS_NAME "labyrinth"
#define LAB_DPDK_MAGIC 0x4c41424450444b31ull /* "LABDPDK1" */

/*
 * One DPDK mempool on one labyrinth pool: object k is the block of
 * 2^order pages at base + (k << obj_shift); DPDK's object header sits at
 * the start of the block and the object right after it (header bytes on),
 * so obj - header is always the block labyrinth handed out.
 */
struct lab_dpdk_pool {
	/* read on every get and put */
	labyrinth_t *lab;
	uint32_t header;       /* DPDK's mp->header_size */
	unsigned int order;    /* pages per object: 2^order */
	unsigned int audit;    /* LABYRINTH_DPDK_STATS=1: check every object got */
	/* written on a misuse or an audit failure only */
	uint64_t outside;      /* objects got that were not a block of the region */
	uint64_t gets, puts;   /* objects DPDK got and put (audit only) */
	uint64_t gets_before_free, puts_before_free;
	unsigned int last_get; /* objects the last get took (audit only) */
	int torn;              /* rte_mempool_free has begun (audit only) */
	unsigned int reported; /* the first refused put was logged */
	/* cold */
	uint64_t magic;
	unsigned int nr_objs;  /* mp->size */
	unsigned int placed;   /* objects DPDK has populated so far */
	unsigned int obj_shift;
	int region_given;      /* the helper's route: DPDK populates over the region */
	int extmem;            /* the region is registered with rte_extmem_register */
	char *base;            /* labyrinth_region() */
	size_t len;
	labyrinth_t storage;   /* the pool itself (never moves: lab points here) */
};

/* Pools of at least this many objects without a DPDK cache keep
 * labyrinth's per-thread caches (pool.c, pool_flags). */
#define LAB_DPDK_CACHE_MIN_OBJS 1024u

/* The pool state for a mempool of nr_objs objects of total_size bytes
 * each (DPDK's header + element + trailer) whose per-lcore cache holds
 * dpdk_cache objects, its labyrinth pool initialised and every page taken
 * (populate hands them back object by object).  NULL with rte_errno set. */
struct lab_dpdk_pool *lab_dpdk_pool_new(const char *name, unsigned int nr_objs,
					size_t total_size, unsigned int dpdk_cache);
/* Tear down: the objects still out go back, the region is unregistered
 * from DPDK, the mapping is released, the state freed. */
void lab_dpdk_pool_delete(struct lab_dpdk_pool *s, const struct rte_mempool *mp);

#endif
