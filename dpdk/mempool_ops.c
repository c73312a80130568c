/* SPDX-License-Identifier: MIT */
/*
 * mempool_ops.c - labyrinth as a DPDK mempool driver, registered under the
 * ops name "labyrinth".  Each object is one labyrinth block (one page for
 * every mbuf up to 4 KiB with its header): DPDK's get is
 * labyrinth_alloc_bulk(LAB_GFP_ATOMIC), its put labyrinth_free_page
 * (inline) or labyrinth_free_bulk, so every put is checked as every
 * labyrinth free is, and a put of an object
 * that is not out (a double free) is refused, counted in bad_frees and
 * logged once per pool through DPDK's log.
 *
 * A program selects it with the EAL option -d (this library) and
 * --mbuf-pool-ops-name labyrinth (or rte_mempool_set_ops_byname).  Only
 * DPDK's stable API is used.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_common.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_memory.h>
#include <rte_mempool.h>

#include "labyrinth_dpdk.h"
#include "pool.h"

/* Objects converted on the stack per labyrinth call (DPDK's bursts are 32). */
#define LAB_DPDK_BATCH 64
/* Puts up to this size go object by object through the inline path. */
#define LAB_DPDK_SMALL 8u
/* Objects a get takes in one step (more than any cache refill). */
#define LAB_DPDK_GET_MAX 1024u

static struct lab_dpdk_pool *pool_of(const struct rte_mempool *mp)
{
	return mp->pool_data;
}

static char *block_of(const struct lab_dpdk_pool *s, void *obj)
{
	return (char *)obj - s->header;
}

/* --- the hot path: get and put ------------------------------------------ */

/*
 * LABYRINTH_DPDK_STATS=1 (the tests): every object handed to DPDK must be
 * a block of the pool's region, and the gets and puts are counted so that
 * the pool's free can say what was still out.  rte_mempool_free first
 * takes every object it can back with one-object gets (populated_size
 * falls by one after each) and only then calls the driver's free: the
 * counts are frozen at the second of those gets, the first one undone.
 */
static void audit_get(const struct rte_mempool *mp, struct lab_dpdk_pool *s,
		      void *const *objs, unsigned int n, int ret)
{
	unsigned int i;

	if (!s->torn && mp->populated_size < s->nr_objs) {
		s->torn = 1;
		s->gets_before_free = s->gets - s->last_get;
		s->puts_before_free = s->puts;
	}
	s->last_get = ret ? 0 : n;
	if (ret)
		return;
	__atomic_fetch_add(&s->gets, n, __ATOMIC_RELAXED);
	for (i = 0; i < n; i++) {
		char *b = block_of(s, objs[i]);

		if (b < s->base || b >= s->base + s->len ||
		    ((size_t)(b - s->base) & (((size_t)1 << s->obj_shift) - 1)))
			__atomic_fetch_add(&s->outside, 1, __ATOMIC_RELAXED);
	}
}

static unsigned int put_blocks(struct lab_dpdk_pool *s, void **blocks, unsigned int n);

/* n blocks into blocks[], all or none. */
static int take_blocks(struct lab_dpdk_pool *s, void **blocks, unsigned int n)
{
	unsigned int i;

	if (likely(s->order == 0)) {
		i = labyrinth_alloc_bulk(s->lab, LAB_GFP_ATOMIC, blocks, n);
		if (likely(i == n))
			return 0;
		labyrinth_free_bulk(s->lab, blocks, i);
		return -ENOBUFS;
	}
	for (i = 0; i < n; i++) {
		blocks[i] = labyrinth_alloc_pages(s->lab, LAB_GFP_ATOMIC, s->order);
		if (!blocks[i])
			break;
	}
	if (i == n)
		return 0;
	while (i--)
		labyrinth_free_pages(s->lab, blocks[i], s->order);
	return -ENOBUFS;
}

/* Larger than any cache refill: in steps, given back on a failure (objs[]
 * is clobbered then; DPDK relies on it being intact only for its cache,
 * whose refills are smaller). */
static int get_many(struct lab_dpdk_pool *s, void **objs, unsigned int n)
{
	unsigned int done = 0, i;

	while (done < n) {
		unsigned int k = RTE_MIN(n - done, (unsigned int)LAB_DPDK_GET_MAX);

		if (take_blocks(s, objs + done, k)) {
			for (i = 0; i < done; i++)
				objs[i] = block_of(s, objs[i]);
			put_blocks(s, objs, done);
			return -ENOBUFS;
		}
		for (i = done; i < done + k; i++)
			objs[i] = (char *)objs[i] + s->header;
		done += k;
	}
	return 0;
}

/* All n or none, as DPDK's dequeue must, and objs[] untouched on a
 * failure: DPDK refills its cache in place (cache->objs) and keeps the
 * objects already there when the refill fails.  So the blocks land in a
 * buffer of our own first (a cache refill is at most size + size - 1 <
 * 1024 objects). */
static int lab_ops_dequeue(struct rte_mempool *mp, void **objs, unsigned int n)
{
	struct lab_dpdk_pool *s = pool_of(mp);
	void *blocks[LAB_DPDK_GET_MAX];
	unsigned int i;
	int ret;

	if (unlikely(n > LAB_DPDK_GET_MAX))
		ret = get_many(s, objs, n);
	else {
		ret = take_blocks(s, blocks, n);
		if (likely(!ret))
			for (i = 0; i < n; i++)
				objs[i] = (char *)blocks[i] + s->header;
	}
	if (unlikely(s->audit))
		audit_get(mp, s, objs, n, ret);
	return ret;
}

static void report_refused(const struct rte_mempool *mp, struct lab_dpdk_pool *s,
			   unsigned int refused)
{
	if (__atomic_exchange_n(&s->reported, 1, __ATOMIC_RELAXED))
		return;
	RTE_LOG(ERR, MEMPOOL,
		"labyrinth: mempool %s: %u put(s) of an object that is not out "
		"(a double free?) refused and counted in bad_frees; further ones "
		"are counted without a message\n", mp->name, refused);
}

static unsigned int put_blocks(struct lab_dpdk_pool *s, void **blocks, unsigned int n)
{
	unsigned int i, freed = 0;

	if (likely(s->order == 0))
		return labyrinth_free_bulk(s->lab, blocks, n);
	for (i = 0; i < n; i++)
		freed += labyrinth_free_pages(s->lab, blocks[i], s->order) == 0;
	return freed;
}

/* A put bigger than LAB_DPDK_SMALL, or of multi-page objects: the bulk
 * call, a batch at a time.  Returns how many were refused. */
static __rte_noinline unsigned int put_many(struct lab_dpdk_pool *s, void *const *objs,
					    unsigned int n)
{
	void *blocks[LAB_DPDK_BATCH];
	unsigned int done = 0, refused = 0;

	while (done < n) {
		unsigned int i, k = RTE_MIN(n - done, (unsigned int)LAB_DPDK_BATCH);

		for (i = 0; i < k; i++)
			blocks[i] = block_of(s, objs[done + i]);
		refused += k - put_blocks(s, blocks, k);
		done += k;
	}
	return refused;
}

/* Each put is a checked labyrinth free: a block that is not out is refused
 * (and stays free once), the others go back.  Small puts (net_null and
 * many PMDs free one mbuf at a time) take labyrinth's inline fast path,
 * which runs here without a call into the library; bigger ones the bulk
 * call. */
static int lab_ops_enqueue(struct rte_mempool *mp, void *const *objs, unsigned int n)
{
	struct lab_dpdk_pool *s = pool_of(mp);
	unsigned int i, refused = 0;

	if (likely(n <= LAB_DPDK_SMALL && s->order == 0)) {
		for (i = 0; i < n; i++)
			refused += labyrinth_free_page(s->lab, block_of(s, objs[i])) != 0;
	} else {
		refused = put_many(s, objs, n);
	}
	if (unlikely(s->audit))
		__atomic_fetch_add(&s->puts, n - refused, __ATOMIC_RELAXED);
	if (unlikely(refused)) {
		report_refused(mp, s, refused);
		return -EINVAL;
	}
	return 0;
}

/* Exact when no get or put is in flight: labyrinth counts the pages in
 * its per-thread caches as free. */
static unsigned int lab_ops_get_count(const struct rte_mempool *mp)
{
	struct lab_dpdk_pool *s = pool_of(mp);
	struct labyrinth_stats st;

	if (!s || labyrinth_stats(s->lab, &st))
		return 0;
	return (unsigned int)(st.pages_free >> s->order);
}

/* --- life cycle ----------------------------------------------------------- */

static size_t total_size(const struct rte_mempool *mp)
{
	return (size_t)mp->header_size + mp->elt_size + mp->trailer_size;
}

/* The pool comes from the helper (pool_config, the region route) or is
 * made here for DPDK's own populate (the driver-only route). */
static int lab_ops_alloc(struct rte_mempool *mp)
{
	struct lab_dpdk_pool *s = mp->pool_config;

	if (s) {
		if (s->magic != LAB_DPDK_MAGIC || total_size(mp) > ((size_t)1 << s->obj_shift) ||
		    mp->size > s->nr_objs)
			return -EINVAL;
	} else {
		s = lab_dpdk_pool_new(mp->name, mp->size, total_size(mp), mp->cache_size);
		if (!s)
			return -rte_errno;
	}
	s->header = mp->header_size;
	mp->pool_data = s;
	return 0;
}

/* One line per pool at its free (LABYRINTH_DPDK_STATS=1): the
 * labyrinth counters (allocs and frees include the set-up: every page
 * taken at creation, given back object by object by populate), DPDK's
 * gets and puts before rte_mempool_free began, and what its per-lcore
 * caches held then. */
static void print_stats(const struct rte_mempool *mp, struct lab_dpdk_pool *s)
{
	struct labyrinth_stats st;
	unsigned int cached = 0, lcore;

	if (labyrinth_stats(s->lab, &st))
		return;
	if (!s->torn) {
		s->gets_before_free = s->gets;
		s->puts_before_free = s->puts;
	}
	if (mp->cache_size && mp->local_cache)
		for (lcore = 0; lcore < RTE_MAX_LCORE; lcore++)
			cached += mp->local_cache[lcore].len;
	fprintf(stderr,
		"labyrinth-dpdk: mempool %s: objects %u, pages %llu of %llu bytes, "
		"labyrinth allocs %llu frees %llu bad_frees %llu; "
		"before rte_mempool_free: gets %llu puts %llu out %lld, "
		"in lcore caches %u; outside region %llu; region %p+%zu\n",
		mp->name, s->nr_objs, (unsigned long long)st.pages_total,
		(unsigned long long)st.page_size, (unsigned long long)st.allocs,
		(unsigned long long)st.frees, (unsigned long long)st.bad_frees,
		(unsigned long long)s->gets_before_free, (unsigned long long)s->puts_before_free,
		(long long)(s->gets_before_free - s->puts_before_free), cached,
		(unsigned long long)s->outside, (void *)s->base, s->len);
}

static void lab_ops_free(struct rte_mempool *mp)
{
	struct lab_dpdk_pool *s = pool_of(mp);

	if (!s)
		return;
	if (s->audit)
		print_stats(mp, s);
	lab_dpdk_pool_delete(s, mp);
	mp->pool_data = NULL;
}

/* Driver-only route: DPDK's memory holds nothing (the objects live in the
 * labyrinth pool), so ask it for one cache line. */
static ssize_t lab_ops_calc_mem_size(const struct rte_mempool *mp, uint32_t obj_num,
				     uint32_t pg_shift, size_t *min_chunk_size, size_t *align)
{
	RTE_SET_USED(mp);
	RTE_SET_USED(obj_num);
	RTE_SET_USED(pg_shift);
	*min_chunk_size = RTE_CACHE_LINE_SIZE;
	*align = RTE_CACHE_LINE_SIZE;
	return RTE_CACHE_LINE_SIZE;
}

/* Object k: DPDK's callback writes its header, then the block, taken at
 * creation, goes back to labyrinth: from now on it is the pool's. */
static void place(struct rte_mempool *mp, struct lab_dpdk_pool *s, unsigned int k,
		  rte_iova_t iova, rte_mempool_populate_obj_cb_t *obj_cb, void *arg)
{
	char *block = s->base + ((size_t)k << s->obj_shift);

	obj_cb(mp, arg, block + s->header, iova);
	labyrinth_free_pages(s->lab, block, s->order);
}

/* The helper's route: DPDK walks the registered region and hands it over
 * in chunks; the objects are the blocks that lie wholly in the chunk. */
static int populate_region(struct rte_mempool *mp, struct lab_dpdk_pool *s,
			   unsigned int max_objs, char *va, rte_iova_t iova, size_t len,
			   rte_mempool_populate_obj_cb_t *obj_cb, void *arg)
{
	size_t stride = (size_t)1 << s->obj_shift;
	unsigned int k, n = 0;

	if (va < s->base || va + len > s->base + s->len)
		return -EINVAL;
	k = (unsigned int)(((size_t)(va - s->base) + stride - 1) >> s->obj_shift);
	if (k < s->placed)
		return -EEXIST;
	for (; n < max_objs && k < s->nr_objs; k++, n++) {
		char *block = s->base + ((size_t)k << s->obj_shift);

		if (block + stride > va + len)
			break;
		place(mp, s, k, iova == RTE_BAD_IOVA ? RTE_BAD_IOVA :
				iova + (rte_iova_t)(block + s->header - va), obj_cb, arg);
		s->placed = k + 1;
	}
	return (int)n;
}

static int lab_ops_populate(struct rte_mempool *mp, unsigned int max_objs, void *vaddr,
			    rte_iova_t iova, size_t len, rte_mempool_populate_obj_cb_t *obj_cb,
			    void *arg)
{
	struct lab_dpdk_pool *s = pool_of(mp);
	unsigned int n = 0;
	int va_mode = rte_eal_iova_mode() == RTE_IOVA_VA;

	if (s->region_given)
		return populate_region(mp, s, max_objs, vaddr, iova, len, obj_cb, arg);
	/* The driver-only route ignores DPDK's (tiny) chunk: DPDK does not
	 * know the pages, so they have an IOVA only where IOVA is the VA. */
	for (; n < max_objs && s->placed < s->nr_objs; n++, s->placed++) {
		char *obj = s->base + ((size_t)s->placed << s->obj_shift) + s->header;

		place(mp, s, s->placed, va_mode ? (rte_iova_t)(uintptr_t)obj : RTE_BAD_IOVA,
		      obj_cb, arg);
	}
	return (int)n;
}

static struct rte_mempool_ops lab_ops = {
	.name = LAB_DPDK_OPS_NAME,
	.alloc = lab_ops_alloc,
	.free = lab_ops_free,
	.enqueue = lab_ops_enqueue,
	.dequeue = lab_ops_dequeue,
	.get_count = lab_ops_get_count,
	.calc_mem_size = lab_ops_calc_mem_size,
	.populate = lab_ops_populate,
};

RTE_MEMPOOL_REGISTER_OPS(lab_ops);

int labyrinth_dpdk_stats(const struct rte_mempool *mp, struct labyrinth_stats *st)
{
	if (!mp || !st || strcmp(rte_mempool_get_ops(mp->ops_index)->name, LAB_DPDK_OPS_NAME) ||
	    !mp->pool_data)
		return -EINVAL;
	return labyrinth_stats(pool_of(mp)->lab, st);
}
