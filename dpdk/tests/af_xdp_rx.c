/* SPDX-License-Identifier: MIT */
/*
 * Description: af_xdp_rx IFACE N [EAL options] - receive N frames on
 * net_af_xdp (IFACE) into a pktmbuf pool made by
 * labyrinth_dpdk_pktmbuf_pool_create: the pool DPDK knows, whose pages are
 * the AF_XDP UMEM.  Prints "ready" once the port is up, then
 * "received R, outside O" (frames received, mbufs not in a page of the
 * pool's region) when N arrived or 10 s passed.  dpdk_run.sh's af_xdp case
 * sends the frames and judges.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_memory.h>
#include <rte_mempool.h>

#include "labyrinth_dpdk.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "af_xdp_rx: %s: %s\n", what, rte_strerror(err < 0 ? -err : err));
	return 1;
}

int main(int argc, char **argv)
{
	struct rte_eth_conf conf;
	struct rte_mbuf *burst[32];
	struct rte_mempool *mp;
	struct labyrinth_stats st;
	unsigned long want, got = 0, outside = 0;
	uint16_t port = 0;
	double end;
	int n, i, ret;

	if (argc < 3) {
		fprintf(stderr, "usage: af_xdp_rx IFACE N [EAL options]\n");
		return 2;
	}
	want = strtoul(argv[2], NULL, 10);
	n = rte_eal_init(argc - 2, argv + 2);
	if (n < 0)
		return fail("rte_eal_init", rte_errno);
	if (rte_eth_dev_count_avail() != 1) {
		fprintf(stderr, "af_xdp_rx: %u ports, want the one net_af_xdp port\n",
			rte_eth_dev_count_avail());
		return 1;
	}
	mp = labyrinth_dpdk_pktmbuf_pool_create("lab-dpdk-xdp", 4096, 0, 0, (int)rte_socket_id());
	if (!mp)
		return fail("labyrinth_dpdk_pktmbuf_pool_create", rte_errno);
	memset(&conf, 0, sizeof(conf));
	ret = rte_eth_dev_configure(port, 1, 1, &conf);
	if (ret)
		return fail("rte_eth_dev_configure", ret);
	ret = rte_eth_rx_queue_setup(port, 0, 1024, rte_eth_dev_socket_id(port), NULL, mp);
	if (ret)
		return fail("rte_eth_rx_queue_setup", ret);
	ret = rte_eth_tx_queue_setup(port, 0, 1024, rte_eth_dev_socket_id(port), NULL);
	if (ret)
		return fail("rte_eth_tx_queue_setup", ret);
	ret = rte_eth_dev_start(port);
	if (ret)
		return fail("rte_eth_dev_start", ret);
	printf("ready\n");
	fflush(stdout);
	end = now_s() + 10;
	while (got < want && now_s() < end) {
		n = rte_eth_rx_burst(port, 0, burst, 32);
		for (i = 0; i < n; i++) {
			uintptr_t m = (uintptr_t)burst[i];

			/* one mbuf per page, DPDK's 64-byte header before it */
			outside += (m & 4095) != 64 || rte_mem_virt2memseg(burst[i], NULL) == NULL;
			rte_pktmbuf_free(burst[i]);
		}
		got += (unsigned long)n;
	}
	rte_eth_dev_stop(port);
	rte_eth_dev_close(port);
	if (labyrinth_dpdk_stats(mp, &st))
		return fail("labyrinth_dpdk_stats", EINVAL);
	printf("received %lu, outside %lu, bad_frees %llu\n", got, outside,
	       (unsigned long long)st.bad_frees);
	rte_mempool_free(mp);
	rte_eal_cleanup();
	return 0;
}
