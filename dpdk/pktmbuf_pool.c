/* SPDX-License-Identifier: MIT */
/*
 * pktmbuf_pool.c - labyrinth_dpdk_pktmbuf_pool_create: a pktmbuf pool on a
 * labyrinth pool that DPDK knows.  The region is registered as external
 * memory, then DPDK's own populate_virt walks it, so every mbuf has the
 * IOVA and memory segment DPDK would give its own memory (net_af_xdp can
 * build its UMEM from it).  One mbuf per page: the object header (64
 * bytes), the mbuf, the headroom and the data room fill the page.
 */
#include <errno.h>
#include <stdlib.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_memory.h>
#include <rte_mempool.h>

#include "labyrinth_dpdk.h"
#include "pool.h"

#define LAB_DPDK_PAGE 4096u

static struct rte_mempool *fail(struct rte_mempool *mp, struct lab_dpdk_pool *s, int err)
{
	if (mp && mp->pool_data)
		rte_mempool_free(mp); /* the driver's free tears s down */
	else {
		if (mp)
			rte_mempool_free(mp);
		if (s)
			lab_dpdk_pool_delete(s, NULL);
	}
	rte_errno = err;
	return NULL;
}

struct rte_mempool *labyrinth_dpdk_pktmbuf_pool_create(const char *name, unsigned int n,
						       unsigned int cache_size,
						       uint16_t priv_size, int socket_id)
{
	struct rte_pktmbuf_pool_private priv = { 0 };
	size_t header = RTE_CACHE_LINE_ROUNDUP(sizeof(struct rte_mempool_objhdr));
	size_t elt = LAB_DPDK_PAGE - header;
	struct lab_dpdk_pool *s;
	struct rte_mempool *mp;
	int ret;

	if (!name || !n || RTE_ALIGN(priv_size, RTE_MBUF_PRIV_ALIGN) != priv_size ||
	    sizeof(struct rte_mbuf) + priv_size + RTE_PKTMBUF_HEADROOM >= elt) {
		rte_errno = EINVAL;
		return NULL;
	}
	s = lab_dpdk_pool_new(name, n, LAB_DPDK_PAGE, cache_size);
	if (!s)
		return NULL;
	s->region_given = 1;
	if (rte_extmem_register(s->base, s->len, NULL, 0, LAB_DPDK_PAGE))
		return fail(NULL, s, rte_errno);
	s->extmem = 1;
	mp = rte_mempool_create_empty(name, n, (unsigned int)elt, cache_size, sizeof(priv),
				      socket_id, RTE_MEMPOOL_F_NO_SPREAD);
	if (!mp)
		return fail(NULL, s, rte_errno);
	/* one object per page, or the layout is not what the driver assumes */
	if ((size_t)mp->header_size + mp->elt_size + mp->trailer_size != LAB_DPDK_PAGE)
		return fail(mp, s, EINVAL);
	ret = rte_mempool_set_ops_byname(mp, LAB_DPDK_OPS_NAME, s);
	if (ret)
		return fail(mp, s, -ret);
	priv.mbuf_data_room_size = (uint16_t)(elt - sizeof(struct rte_mbuf) - priv_size);
	priv.mbuf_priv_size = priv_size;
	rte_pktmbuf_pool_init(mp, &priv);
	ret = rte_mempool_populate_virt(mp, s->base, s->len, LAB_DPDK_PAGE, NULL, NULL);
	if (ret < 0 || (unsigned int)ret != n)
		return fail(mp, s, ret < 0 ? -ret : ENOMEM);
	rte_mempool_obj_iter(mp, rte_pktmbuf_init, NULL);
	return mp;
}
