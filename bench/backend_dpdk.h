/* SPDX-License-Identifier: MIT */
/*
 * DPDK rte_mempool of 4096-byte objects with a per-lcore cache of 512.
 * The EAL runs without hugepages, PCI, telemetry or shared config
 * (--in-memory is refused together with --no-huge in 22.11); the main thread is
 * lcore 0 and every other thread registers with rte_thread_register() to get
 * an lcore id and so a cache.  Bulk: rte_mempool_get_bulk / put_bulk.
 * Objects are 4096 bytes but, as in any rte_mempool, not page-aligned
 * (each has a 64-byte header in front).
 */
#define BK_NAME "dpdk"
#define BK_SIGNAL_SAFE 0
#define BK_HAS_BULK 1
#include "backend.h"

#include <sched.h>
#include <stdlib.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_log.h>
#include <rte_mempool.h>
#include <rte_version.h>

#define DPDK_CACHE 512u

static struct rte_mempool *bk_mp;

static int bk_init(size_t pages)
{
	char *eal_argv[] = {
		(char *)"bench-dpdk", (char *)"--no-huge", (char *)"--no-pci",
		(char *)"--no-shconf", (char *)"--no-telemetry", (char *)"-l",
		(char *)"0", (char *)"-m", (char *)"256",
		(char *)"--log-level=lib.*:error", NULL,
	};
	int eal_argc = (int)(sizeof(eal_argv) / sizeof(eal_argv[0])) - 1;
	cpu_set_t saved;
	int have_mask = sched_getaffinity(0, sizeof(saved), &saved) == 0;

	if (rte_eal_init(eal_argc, eal_argv) < 0) {
		fprintf(stderr, "bench-dpdk: rte_eal_init: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	/* the EAL pinned this thread to CPU 0; threads created later inherit
	 * the mask, so give it back: every backend gets the same scheduler */
	if (have_mask)
		(void)sched_setaffinity(0, sizeof(saved), &saved);
	/* a mempool of n objects needs n >= 1.5 * cache; 2^k - 1 is optimal */
	bk_mp = rte_mempool_create("bench", (unsigned)pages - 1, BENCH_PAGE,
				   DPDK_CACHE, 0, NULL, NULL, NULL, NULL,
				   SOCKET_ID_ANY, 0);
	if (!bk_mp) {
		fprintf(stderr, "bench-dpdk: rte_mempool_create: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	bk_note("%s, mempool ops %s, cache %u per lcore", rte_version(),
		bk_mp->ops_index >= 0 ? rte_mempool_get_ops(bk_mp->ops_index)->name : "?",
		DPDK_CACHE);
	return 0;
}

static void bk_fini(void)
{
	rte_mempool_free(bk_mp);
	(void)rte_eal_cleanup();
}

static int bk_thread_enter(void)
{
	if (rte_lcore_id() != LCORE_ID_ANY)
		return 0; /* the main thread: lcore 0 */
	if (rte_thread_register() < 0) {
		fprintf(stderr, "bench-dpdk: rte_thread_register: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	return 0;
}

static void bk_thread_leave(void)
{
	if (rte_lcore_id() != rte_get_main_lcore())
		rte_thread_unregister();
}

static inline void *bk_get(void)
{
	void *obj;
	return rte_mempool_get(bk_mp, &obj) == 0 ? obj : NULL;
}

static inline void bk_put(void *page)
{
	rte_mempool_put(bk_mp, page);
}

static inline unsigned bk_get_bulk(void **v, unsigned n)
{
	return rte_mempool_get_bulk(bk_mp, v, n) == 0 ? n : 0;
}

static inline void bk_put_bulk(void **v, unsigned n)
{
	rte_mempool_put_bulk(bk_mp, v, n);
}

/* Several mempools (the pools4 scenario), each with its per-lcore cache. */
#define BK_POOLS_MAX 4
static struct rte_mempool *bk_mps[BK_POOLS_MAX];

static int bk_pools_init(unsigned n, size_t pages)
{
	unsigned k;

	for (k = 0; k < n; k++) {
		char name[32];

		snprintf(name, sizeof(name), "bench-pool%u", k);
		bk_mps[k] = rte_mempool_create(name, (unsigned)pages - 1, BENCH_PAGE, DPDK_CACHE,
					       0, NULL, NULL, NULL, NULL, SOCKET_ID_ANY, 0);
		if (!bk_mps[k]) {
			fprintf(stderr, "bench-dpdk: rte_mempool_create: %s\n",
				rte_strerror(rte_errno));
			return -1;
		}
	}
	return 0;
}

static void bk_pools_fini(unsigned n)
{
	unsigned k;

	for (k = 0; k < n; k++)
		rte_mempool_free(bk_mps[k]);
}

static inline void *bk_get_from(unsigned k)
{
	void *obj;
	return rte_mempool_get(bk_mps[k], &obj) == 0 ? obj : NULL;
}

static inline void bk_put_to(unsigned k, void *page)
{
	rte_mempool_put(bk_mps[k], page);
}
