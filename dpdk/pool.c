/* SPDX-License-Identifier: MIT */
/*
 * pool.c - the labyrinth pool behind one DPDK mempool: made with every
 * page taken (populate hands the objects back one by one, so a page that
 * never became an object is never handed out), torn down whatever DPDK
 * left behind.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_memory.h>
#include <rte_mempool.h>

#include "pool.h"

#define LAB_DPDK_PAGE 4096u

/*
 * labyrinth's per-thread caches (checked, like every labyrinth free) only
 * where DPDK has none above (cache size 0) and the pool is large: they
 * keep a put and the next get on one lcore off the shared store, but a
 * page in one thread's cache is out of the others' reach (at most an
 * eighth of the pool, 256 pages per thread).  A small pool, or one under
 * DPDK's own cache, is exact: an object put on one lcore can be got at
 * once on any other (mbuf_autotest's refcnt test counts on it with 64).
 */
static unsigned int pool_flags(unsigned int nr_objs, unsigned int dpdk_cache)
{
	return dpdk_cache == 0 && nr_objs >= LAB_DPDK_CACHE_MIN_OBJS ? 0 : LAB_POOL_NOCACHE;
}

static int init_labyrinth(struct lab_dpdk_pool *s, const char *name, size_t pages,
			  unsigned int flags)
{
	struct labyrinth_params pr = { .name = name, .page_size = LAB_DPDK_PAGE,
				       .nr_pages = pages, .flags = flags };
	int err = labyrinth_init(&s->storage, &pr);

	if (err == -ENOMEM) {
		/* A normal user's 8 MiB RLIMIT_MEMLOCK holds 2048 pages: say
		 * so, and run unlocked rather than not at all. */
		pr.flags |= LAB_POOL_NOLOCK;
		err = labyrinth_init(&s->storage, &pr);
		if (!err)
			RTE_LOG(WARNING, MEMPOOL,
				"labyrinth: mempool %s: %zu pages exceed RLIMIT_MEMLOCK; "
				"the pool is not locked (ulimit -l, or run as root)\n", name, pages);
	}
	return err;
}

/* Every page out, so that only populated objects are ever handed out. */
static int take_all(struct lab_dpdk_pool *s)
{
	void *batch[256];
	unsigned int k;

	if (s->order == 0) {
		for (k = 0; k < s->nr_objs;) {
			unsigned int want = RTE_MIN(s->nr_objs - k, (unsigned int)RTE_DIM(batch));
			unsigned int got = labyrinth_alloc_bulk(s->lab, LAB_GFP_ATOMIC, batch, want);

			k += got;
			if (got != want)
				return -ENOMEM;
		}
		return 0;
	}
	for (k = 0; k < s->nr_objs; k++)
		if (!labyrinth_alloc_pages(s->lab, LAB_GFP_ATOMIC, s->order))
			return -ENOMEM;
	return 0;
}

static int env_is_1(const char *var)
{
	const char *v = getenv(var);

	return v && !strcmp(v, "1");
}

static unsigned int order_for(size_t size)
{
	unsigned int order = 0;

	while (((size_t)LAB_DPDK_PAGE << order) < size)
		order++;
	return order;
}

struct lab_dpdk_pool *lab_dpdk_pool_new(const char *name, unsigned int nr_objs,
					size_t total_size, unsigned int dpdk_cache)
{
	struct lab_dpdk_pool *s;
	void *base;
	int err;

	if (!nr_objs || order_for(total_size) > LAB_MAX_ORDER) {
		rte_errno = EINVAL;
		return NULL;
	}
	s = aligned_alloc(RTE_CACHE_LINE_SIZE, RTE_ALIGN_CEIL(sizeof(*s), RTE_CACHE_LINE_SIZE));
	if (!s) {
		rte_errno = ENOMEM;
		return NULL;
	}
	memset(s, 0, sizeof(*s));
	s->magic = LAB_DPDK_MAGIC;
	s->nr_objs = nr_objs;
	s->order = order_for(total_size);
	s->obj_shift = 12 + s->order;
	s->lab = &s->storage;
	s->audit = env_is_1("LABYRINTH_DPDK_STATS");
	err = init_labyrinth(s, name, (size_t)nr_objs << s->order, pool_flags(nr_objs, dpdk_cache));
	if (err) {
		free(s);
		rte_errno = -err;
		return NULL;
	}
	labyrinth_region(s->lab, &base, &s->len);
	s->base = base;
	if (take_all(s)) {
		lab_dpdk_pool_delete(s, NULL);
		rte_errno = ENOMEM;
		return NULL;
	}
	return s;
}

/* Objects left in DPDK's per-lcore caches never reach the driver again
 * (rte_mempool_free does not flush them): give them back here. */
static void return_cached(struct lab_dpdk_pool *s, const struct rte_mempool *mp)
{
	unsigned int lcore, i;

	if (!mp || !mp->cache_size || !mp->local_cache)
		return;
	for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++) {
		struct rte_mempool_cache *c = &mp->local_cache[lcore];

		for (i = 0; i < c->len; i++)
			labyrinth_free_pages(s->lab, (char *)c->objs[i] - s->header, s->order);
		c->len = 0;
	}
}

/* Objects the application never returned (or pages never populated): free
 * every block; the ones already free are refused and change nothing. */
static void sweep(struct lab_dpdk_pool *s)
{
	unsigned int k;

	for (k = 0; k < s->nr_objs; k++)
		labyrinth_free_pages(s->lab, s->base + ((size_t)k << s->obj_shift), s->order);
}

void lab_dpdk_pool_delete(struct lab_dpdk_pool *s, const struct rte_mempool *mp)
{
	int err;

	return_cached(s, mp);
	if (s->extmem) {
		/* DPDK forgets the region before it is unmapped */
		if (rte_extmem_unregister(s->base, s->len))
			RTE_LOG(ERR, MEMPOOL, "labyrinth: rte_extmem_unregister: %s\n",
				rte_strerror(rte_errno));
		s->extmem = 0;
	}
	err = labyrinth_destroy(s->lab);
	if (err == -EBUSY) {
		sweep(s);
		err = labyrinth_destroy(s->lab);
	}
	if (err) {
		/* keep the state: a pool that cannot be destroyed stays valid */
		RTE_LOG(ERR, MEMPOOL, "labyrinth: labyrinth_destroy: %s; the pool is left mapped\n",
			strerror(-err));
		return;
	}
	s->magic = 0;
	free(s);
}
