/* SPDX-License-Identifier: MIT */
/*
 * labyrinth_dpdk.h - labyrinth under DPDK (liblabyrinth_dpdk).
 *
 * Loading liblabyrinth_dpdk (EAL option -d, or linking it) registers the
 * mempool ops "labyrinth": each object is one labyrinth page, every put a
 * checked free.  Select it for mbuf pools with --mbuf-pool-ops-name
 * labyrinth, or use the helper below for pools whose memory DPDK knows
 * (AF_XDP, devices that need DMA maps).  See docs/dpdk.md.
 */
#ifndef LABYRINTH_DPDK_H
#define LABYRINTH_DPDK_H

#include <stdint.h>
#include <labyrinth.h>

#ifdef __cplusplus
extern "C" {
#endif

struct rte_mempool;

#define LAB_DPDK_API __attribute__((visibility("default")))

/* A pktmbuf pool of n mbufs, each mbuf one 4 KiB page of a new labyrinth
 * pool that is registered with DPDK (rte_extmem_register) and populated
 * over by DPDK itself: data room 4096 - 64 - 128 - priv_size bytes
 * (headroom included).  Free it with rte_mempool_free.  NULL with
 * rte_errno set on failure. */
LAB_DPDK_API struct rte_mempool *
labyrinth_dpdk_pktmbuf_pool_create(const char *name, unsigned int n, unsigned int cache_size,
				   uint16_t priv_size, int socket_id);

/* The labyrinth statistics of a mempool on the "labyrinth" ops: allocs,
 * frees, bad_frees (refused puts) ...  0, or -EINVAL for a NULL argument or
 * a mempool on other ops or not yet populated. */
LAB_DPDK_API int labyrinth_dpdk_stats(const struct rte_mempool *mp, struct labyrinth_stats *st);

#ifdef __cplusplus
}
#endif
#endif
