/* SPDX-License-Identifier: MIT */
/* labyrinth: labyrinth_alloc_page(LAB_GFP_ATOMIC) / labyrinth_free_page, and
 * labyrinth_alloc_bulk / labyrinth_free_bulk for bulk. */
#define BK_NAME "labyrinth"
#define BK_SIGNAL_SAFE 1
#define BK_HAS_BULK 1
#include "backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <labyrinth.h>

static labyrinth_t bk_pool;

static int bk_init(size_t pages)
{
	struct labyrinth_params p;
	int r;

	memset(&p, 0, sizeof(p));
	p.name = "bench";
	p.nr_pages = pages;
	/* LAB_BENCH_DEBUG=1: what LAB_POOL_DEBUG costs (README, debug pools) */
	if (getenv("LAB_BENCH_DEBUG") && *getenv("LAB_BENCH_DEBUG") == '1') {
		p.flags |= LAB_POOL_DEBUG;
		bk_note("LAB_POOL_DEBUG pool");
	}
	if (getenv("LAB_BENCH_NODE")) { /* bench --node N */
		p.flags |= LAB_POOL_NUMA;
		p.numa_node = (unsigned int)atoi(getenv("LAB_BENCH_NODE"));
	}
	r = labyrinth_init(&bk_pool, &p);
	if (r == -ENOMEM) {
		/* over RLIMIT_MEMLOCK: raise the soft limit as far as allowed */
		struct rlimit rl;
		if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			if (setrlimit(RLIMIT_MEMLOCK, &rl) == 0)
				r = labyrinth_init(&bk_pool, &p);
		}
	}
	if (r == -ENOMEM) {
		p.flags = LAB_POOL_NOLOCK | (p.flags & LAB_POOL_NUMA);
		r = labyrinth_init(&bk_pool, &p);
		if (r == 0)
			bk_note("pool could not be locked (RLIMIT_MEMLOCK): using LAB_POOL_NOLOCK");
	}
	if (r < 0) {
		fprintf(stderr, "bench-labyrinth: %s\n", labyrinth_last_error());
		return -1;
	}
	return 0;
}

static void bk_fini(void)
{
	(void)labyrinth_destroy(&bk_pool);
}

static int bk_thread_enter(void) { return 0; }
static void bk_thread_leave(void) { }

static inline void *bk_get(void)
{
	return labyrinth_alloc_page(&bk_pool, LAB_GFP_ATOMIC);
}

static inline void bk_put(void *page)
{
	(void)labyrinth_free_page(&bk_pool, page);
}

/* Multi-page blocks, and the fragmentation report. */
#define BK_HAS_ORDER 1
#define BK_HAS_FRAG 1
static inline void *bk_get_order(unsigned o)
{
	return labyrinth_alloc_pages(&bk_pool, LAB_GFP_ATOMIC, o);
}

static inline void bk_put_order(void *p, unsigned o)
{
	(void)labyrinth_free_pages(&bk_pool, p, o);
}

/* Free pages and the largest order still allocatable, now. */
static void bk_frag(uint64_t *free_pages, unsigned *largest)
{
	struct labyrinth_stats st;
	int o;

	labyrinth_stats(&bk_pool, &st);
	*free_pages = st.pages_free;
	*largest = 0;
	for (o = LAB_MAX_ORDER; o > 0; o--) {
		void *b = labyrinth_alloc_pages(&bk_pool, LAB_GFP_ATOMIC, (unsigned)o);

		if (b) {
			labyrinth_free_pages(&bk_pool, b, (unsigned)o);
			*largest = (unsigned)o;
			return;
		}
	}
}

static inline unsigned bk_get_bulk(void **v, unsigned n)
{
	unsigned got = labyrinth_alloc_bulk(&bk_pool, LAB_GFP_ATOMIC, v, n);
	if (got != n) {
		if (got)
			(void)labyrinth_free_bulk(&bk_pool, v, got);
		return 0;
	}
	return n;
}

static inline void bk_put_bulk(void **v, unsigned n)
{
	(void)labyrinth_free_bulk(&bk_pool, v, n);
}

/* Several pools (the pools4 scenario): pools of their own, beside bk_pool. */
#define BK_POOLS_MAX 4
static labyrinth_t bk_pools[BK_POOLS_MAX];

static int bk_pools_init(unsigned n, size_t pages)
{
	struct labyrinth_params p;
	unsigned k;

	memset(&p, 0, sizeof(p));
	p.name = "bench-pools";
	p.nr_pages = pages;
	for (k = 0; k < n; k++) {
		int r = labyrinth_init(&bk_pools[k], &p);

		if (r == -ENOMEM) {
			p.flags = LAB_POOL_NOLOCK;
			r = labyrinth_init(&bk_pools[k], &p);
		}
		if (r < 0) {
			fprintf(stderr, "bench-labyrinth: labyrinth_init: %s\n", strerror(-r));
			return -1;
		}
	}
	return 0;
}

static void bk_pools_fini(unsigned n)
{
	unsigned k;

	for (k = 0; k < n; k++)
		(void)labyrinth_destroy(&bk_pools[k]);
}

static inline void *bk_get_from(unsigned k)
{
	return labyrinth_alloc_page(&bk_pools[k], LAB_GFP_ATOMIC);
}

static inline void bk_put_to(unsigned k, void *page)
{
	(void)labyrinth_free_page(&bk_pools[k], page);
}
