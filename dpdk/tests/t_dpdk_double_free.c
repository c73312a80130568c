/* SPDX-License-Identifier: MIT */
/*
 * Description: a DPDK program frees one mbuf twice on a labyrinth mempool
 * (cache 0): the second put is refused, counted in bad_frees and reported
 * once through DPDK's log, and the mbuf is never handed to two owners; the
 * same with labyrinth's own per-thread caches under the pool, and with
 * jumbo mbufs (9216-byte rooms: a 4-page block each).  The
 * helper's pool (labyrinth_dpdk_pktmbuf_pool_create): DPDK knows every
 * mbuf's memory, one mbuf per page.  Teardown with objects still in an
 * lcore cache and never returned: no crash, the mapping is gone.
 */
#include "check.h"

#include <stdint.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_log.h>
#include <rte_mbuf.h>
#include <rte_memory.h>
#include <rte_mempool.h>

#include "labyrinth_dpdk.h"

static FILE *log_file;

/* Lines of DPDK's log so far that contain what. */
static int log_lines(const char *what)
{
	char line[512];
	int n = 0;

	fflush(log_file);
	rewind(log_file);
	while (fgets(line, sizeof(line), log_file))
		n += strstr(line, what) != NULL;
	fseek(log_file, 0, SEEK_END);
	return n;
}

static uint64_t bad_frees(const struct rte_mempool *mp)
{
	struct labyrinth_stats st;

	if (labyrinth_dpdk_stats(mp, &st))
		return UINT64_MAX;
	return st.bad_frees;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

/* Every mbuf of the pool once, then none: n distinct mbufs. */
static void check_each_once(struct rte_mempool *mp, unsigned int n)
{
	struct rte_mbuf **all = calloc(n + 1, sizeof(*all));
	unsigned int i, got = 0, dup = 0;

	REQUIRE(all, "calloc");
	for (i = 0; i < n + 1; i++) {
		all[i] = rte_pktmbuf_alloc(mp);
		got += all[i] != NULL;
	}
	CHECK_EQ(got, n);
	CHECK(all[n] == NULL, "an mbuf more than the pool holds");
	qsort(all, got, sizeof(*all), cmp_ptr);
	for (i = 1; i < got; i++)
		dup += all[i] == all[i - 1];
	CHECK_EQ(dup, 0);
	for (i = 0; i < got; i++)
		rte_pktmbuf_free(all[i]);
	CHECK_EQ(rte_mempool_avail_count(mp), n);
	free(all);
}

/* The double free on a pool of n mbufs of room bytes without a DPDK cache. */
static void double_free(const char *name, unsigned int n, uint16_t room, int log_before)
{
	struct rte_mempool *mp = rte_pktmbuf_pool_create_by_ops(name, n, 0, 0, room,
								 SOCKET_ID_ANY, "labyrinth");
	struct rte_mbuf *m, *pair[3];

	REQUIRE(mp, "rte_pktmbuf_pool_create_by_ops(%s): %s", name, rte_strerror(rte_errno));
	m = rte_pktmbuf_alloc(mp);
	REQUIRE(m, "rte_pktmbuf_alloc");
	rte_pktmbuf_free(m);
	CHECK_EQ(bad_frees(mp), 0);
	rte_pktmbuf_free(m); /* the bug */
	CHECK_EQ(bad_frees(mp), 1);
	CHECK_EQ(log_lines("refused"), log_before + 1);
	CHECK_EQ(rte_mempool_avail_count(mp), n);
	check_each_once(mp, n);

	/* Again, and inside one bulk put: refused and counted, no second
	 * message, the other objects of the bulk go back. */
	rte_pktmbuf_free(m);
	pair[0] = rte_pktmbuf_alloc(mp);
	pair[1] = rte_pktmbuf_alloc(mp);
	REQUIRE(pair[0] && pair[1], "rte_pktmbuf_alloc");
	pair[2] = pair[0];
	rte_mempool_put_bulk(mp, (void **)pair, 3);
	CHECK_EQ(bad_frees(mp), 3);
	CHECK_EQ(log_lines("refused"), log_before + 1);
	CHECK_EQ(rte_mempool_avail_count(mp), n);
	check_each_once(mp, n);
	rte_mempool_free(mp);
}

/* Is any mapping of this process over addr? */
static int mapped(const void *addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi, a = (unsigned long)(uintptr_t)addr;
	char line[512];
	int found = 0;

	REQUIRE(f, "/proc/self/maps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && a >= lo && a < hi)
			found = 1;
	fclose(f);
	return found;
}

/* Some mbufs held, some in this lcore's cache, then rte_mempool_free. */
static void teardown(struct rte_mempool *mp, int dpdk_knows)
{
	struct rte_mbuf *m[64];
	unsigned int i;
	void *page;

	for (i = 0; i < 64; i++) {
		m[i] = rte_pktmbuf_alloc(mp);
		REQUIRE(m[i], "rte_pktmbuf_alloc");
	}
	for (i = 0; i < 32; i++)
		rte_pktmbuf_free(m[i]); /* into the lcore cache */
	CHECK(rte_mempool_default_cache(mp, rte_lcore_id())->len > 0, "nothing in the lcore cache");
	page = m[40];
	CHECK(mapped(page), "the pool's page %p is not mapped", page);
	if (dpdk_knows)
		CHECK(rte_mem_virt2memseg(page, NULL) != NULL, "DPDK does not know %p", page);
	rte_mempool_free(mp);
	CHECK(!mapped(page), "the pool's page %p is still mapped after rte_mempool_free", page);
	if (dpdk_knows)
		CHECK(rte_mem_virt2memseg(page, NULL) == NULL, "DPDK still knows %p", page);
}

/* The helper's pool: every mbuf in a page DPDK knows, with an IOVA. */
static void helper_pool(void)
{
	const unsigned int n = 256;
	struct rte_mempool *mp = labyrinth_dpdk_pktmbuf_pool_create("lab-dpdk-helper", n, 32, 0,
								    SOCKET_ID_ANY);
	struct rte_mbuf *m;
	unsigned int i, unknown = 0, misplaced = 0;

	REQUIRE(mp, "labyrinth_dpdk_pktmbuf_pool_create: %s", rte_strerror(rte_errno));
	CHECK_EQ(rte_mempool_avail_count(mp), n);
	CHECK_EQ(rte_pktmbuf_data_room_size(mp), 4096 - 64 - sizeof(struct rte_mbuf));
	for (i = 0; i < n; i++) {
		m = rte_pktmbuf_alloc(mp);
		REQUIRE(m, "rte_pktmbuf_alloc %u", i);
		unknown += rte_mem_virt2memseg(m, NULL) == NULL;
		misplaced += ((uintptr_t)m & 4095) != 64 ||
			     rte_mbuf_data_iova(m) == RTE_BAD_IOVA ||
			     (char *)m->buf_addr + m->buf_len > (char *)((uintptr_t)m & ~(uintptr_t)4095) + 4096;
		/* m stays out: each alloc must be a new page */
	}
	CHECK_EQ(unknown, 0);
	CHECK_EQ(misplaced, 0);
	CHECK(rte_pktmbuf_alloc(mp) == NULL, "more mbufs than the pool holds");
	rte_mempool_free(mp); /* all of them still out: released all the same */

	mp = labyrinth_dpdk_pktmbuf_pool_create("lab-dpdk-helper2", n, 32, 0, SOCKET_ID_ANY);
	REQUIRE(mp, "labyrinth_dpdk_pktmbuf_pool_create: %s", rte_strerror(rte_errno));
	teardown(mp, 1);
	/* bad arguments: NULL name, no objects, a private area that does not fit */
	CHECK(!labyrinth_dpdk_pktmbuf_pool_create(NULL, n, 0, 0, SOCKET_ID_ANY), "NULL name");
	CHECK(!labyrinth_dpdk_pktmbuf_pool_create("lab-dpdk-bad", 0, 0, 0, SOCKET_ID_ANY), "n = 0");
	CHECK(!labyrinth_dpdk_pktmbuf_pool_create("lab-dpdk-bad", n, 0, 4096, SOCKET_ID_ANY),
	      "priv_size 4096");
	CHECK_EQ(rte_errno, EINVAL);
	CHECK_EQ(labyrinth_dpdk_stats(NULL, NULL), -EINVAL);
}

int main(void)
{
	char prefix[64];
	char *argv[] = { "t_dpdk_double_free", "--no-huge", "-m", "64", "--no-pci", "-l", "0",
			 "--no-telemetry", "--file-prefix", prefix, NULL };
	struct rte_mempool *ring;
	struct rte_mempool *mp;

	if (geteuid() != 0)
		SKIP_ALL("the DPDK EAL needs root here (it locks and maps its memory)");
	snprintf(prefix, sizeof(prefix), "lab-dpdk-df-%d", (int)getpid());
	if (rte_eal_init((int)(sizeof(argv) / sizeof(argv[0])) - 1, argv) < 0)
		SKIP_ALL("rte_eal_init: %s", rte_strerror(rte_errno));
	log_file = tmpfile();
	REQUIRE(log_file, "tmpfile");
	rte_openlog_stream(log_file);

	double_free("lab-dpdk-df", 64, RTE_MBUF_DEFAULT_BUF_SIZE, 0); /* exact, no caches */
	double_free("lab-dpdk-df-cached", 2048, RTE_MBUF_DEFAULT_BUF_SIZE, 1); /* labyrinth's caches */
	double_free("lab-dpdk-df-jumbo", 64, 9216, 2); /* 16 KiB blocks: order 2 */

	mp = rte_pktmbuf_pool_create_by_ops("lab-dpdk-td", 512, 32, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					    SOCKET_ID_ANY, "labyrinth");
	REQUIRE(mp, "rte_pktmbuf_pool_create_by_ops: %s", rte_strerror(rte_errno));
	teardown(mp, 0);
	helper_pool();

	/* labyrinth_dpdk_stats refuses a pool on other ops */
	ring = rte_pktmbuf_pool_create_by_ops("lab-dpdk-ring", 64, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
					      SOCKET_ID_ANY, "ring_mp_mc");
	if (ring) {
		struct labyrinth_stats st;

		CHECK_EQ(labyrinth_dpdk_stats(ring, &st), -EINVAL);
		rte_mempool_free(ring);
	}
	rte_openlog_stream(NULL);
	rte_eal_cleanup();
	return check_done();
}
