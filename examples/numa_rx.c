/* SPDX-License-Identifier: MIT */
/*
 * numa_rx.c - labyrinth-numa-rx: one pool per NUMA node, and receive
 * threads that allocate from the pool of the node they run on.
 *
 * A receive path on a machine with two sockets wants each buffer on the
 * node of the thread (and the NIC) that fills it.  The program makes one
 * pool per node with memory (LAB_POOL_NUMA, params.numa_node), pins two rx
 * threads to the CPUs of each node, and has every thread pick its pool
 * from the CPU it runs on: sched_getcpu() (the vDSO's getcpu, or glibc's
 * rseq area: no system call) indexes a cpu -> node table read once from
 * /sys/devices/system/node at start.  Each thread hands its pages to the
 * next thread (every second hand-off crosses to the other node), and that
 * one frees them: a page goes back to the pool it came from, found with
 * labyrinth_owns().
 * At the end every pool has all its pages back, and move_pages(2) says
 * they all lie on the pool's node.  Exit 0 only when that holds.
 *
 *   labyrinth-numa-rx [--pages N] [--rounds N] [--expect-nodes N]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "labyrinth.h"
#include "example_common.h"

#define MAX_NODES 8
#define THREADS_PER_NODE 2
#define RING 256 /* a power of two */

static int nr_nodes, node_ids[MAX_NODES];
static short cpu_node[CPU_SETSIZE];    /* cpu -> index into pools[], -1: none */
static cpu_set_t node_cpus[MAX_NODES];
static labyrinth_t pools[MAX_NODES];

static void add_node(int v, void *arg)
{
	(void)arg;
	if (nr_nodes < MAX_NODES)
		node_ids[nr_nodes++] = v;
}

/* The cpu -> node table, once: the fast path only reads it. */
static int read_topology(void)
{
	char buf[1024];
	int i, cpu;

	memset(cpu_node, 0xff, sizeof(cpu_node));
	if (ex_read_line("/sys/devices/system/node/has_memory", buf, sizeof(buf)) == 0) {
		ex_parse_list(buf, add_node, NULL);
	} else { /* a kernel without NUMA: one node, every CPU */
		node_ids[nr_nodes++] = 0;
		sched_getaffinity(0, sizeof(node_cpus[0]), &node_cpus[0]);
		for (i = 0; i < CPU_SETSIZE; i++)
			if (CPU_ISSET(i, &node_cpus[0]))
				cpu_node[i] = 0;
		return 0;
	}
	for (i = 0; i < nr_nodes; i++) {
		if (ex_node_cpus(node_ids[i], &node_cpus[i])) {
			fprintf(stderr, "numa-rx: node %d has memory but no CPU\n", node_ids[i]);
			return -1;
		}
		for (cpu = 0; cpu < CPU_SETSIZE; cpu++)
			if (CPU_ISSET(cpu, &node_cpus[i]))
				cpu_node[cpu] = (short)i;
	}
	return 0;
}

/* The pool of the node this thread runs on now: no system call. */
static labyrinth_t *my_pool(void)
{
	int cpu = sched_getcpu();
	int idx = cpu >= 0 && cpu < CPU_SETSIZE ? cpu_node[cpu] : -1;

	return &pools[idx >= 0 ? idx : 0];
}

/* The pool a page came from: pools are disjoint ranges. */
static labyrinth_t *owner_of(const void *page)
{
	int i;

	for (i = 0; i < nr_nodes; i++)
		if (labyrinth_owns(&pools[i], page))
			return &pools[i];
	return NULL;
}

/* One producer (the previous thread), one consumer (this one). */
struct ring {
	_Atomic unsigned int head, tail;
	void *slot[RING];
};

struct rx_thread {
	pthread_t tid;
	int node_idx;
	unsigned long rounds;
	struct ring *in, *out;
	_Atomic int *producers_left;
	unsigned long allocated, freed, cross_node, wrong_cpu, bad;
};

static int ring_push(struct ring *r, void *p)
{
	unsigned int h = atomic_load_explicit(&r->head, memory_order_relaxed);

	if (h - atomic_load_explicit(&r->tail, memory_order_acquire) == RING)
		return 0;
	r->slot[h % RING] = p;
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
	return 1;
}

static void *ring_pop(struct ring *r)
{
	unsigned int t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	void *p;

	if (t == atomic_load_explicit(&r->head, memory_order_acquire))
		return NULL;
	p = r->slot[t % RING];
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
	return p;
}

/* Free a page that another thread (maybe on another node) allocated. */
static void consume(struct rx_thread *t, void *page)
{
	labyrinth_t *pool = owner_of(page);

	if (!pool || *(unsigned long *)page != (unsigned long)(uintptr_t)page) {
		t->bad++;
		return;
	}
	t->cross_node += pool != &pools[t->node_idx];
	if (labyrinth_free_page(pool, page) != 0)
		t->bad++;
	else
		t->freed++;
}

static void *rx_main(void *arg)
{
	struct rx_thread *t = arg;
	unsigned long i;
	void *page, *in;

	for (i = 0; i < t->rounds; i++) {
		labyrinth_t *pool = my_pool();

		t->wrong_cpu += pool != &pools[t->node_idx];
		page = labyrinth_alloc_page(pool, LAB_GFP_ATOMIC);
		if (page) {
			*(unsigned long *)page = (unsigned long)(uintptr_t)page; /* "receive" */
			t->allocated++;
			/* a full ring downstream: free what comes in meanwhile,
			 * so that a circle of full rings still moves */
			while (!ring_push(t->out, page))
				if ((in = ring_pop(t->in)) != NULL)
					consume(t, in);
		}
		while ((page = ring_pop(t->in)) != NULL)
			consume(t, page);
	}
	atomic_fetch_sub(t->producers_left, 1);
	/* drain until the thread before us has stopped producing */
	for (;;) {
		int left = atomic_load(t->producers_left);

		while ((page = ring_pop(t->in)) != NULL)
			consume(t, page);
		if (left == 0 && ring_pop(t->in) == NULL)
			break;
		sched_yield();
	}
	while ((page = ring_pop(t->in)) != NULL)
		consume(t, page);
	return NULL;
}

/* Pages of the pool that move_pages(2) places elsewhere than node. */
static unsigned long pages_off_node(labyrinth_t *lab, int node)
{
	void *base, *addr[256];
	int status[256];
	size_t len, off = 0, i, k, n, ps = labyrinth_page_size(lab);
	unsigned long wrong = 0;

	if (labyrinth_region(lab, &base, &len))
		return 1;
	for (n = len / ps; off < n; off += k) {
		k = n - off < 256 ? n - off : 256;
		for (i = 0; i < k; i++)
			addr[i] = (char *)base + (off + i) * ps;
		if (syscall(SYS_move_pages, 0, (unsigned long)k, addr, NULL, status, 0))
			return errno == ENOSYS ? 0 : 1; /* no NUMA in the kernel: one node */
		for (i = 0; i < k; i++)
			wrong += status[i] != node;
	}
	return wrong;
}

#define NUMA_RX_USAGE                                                                          \
	"usage: %s [--pages N] [--rounds N] [--expect-nodes N]\n"                            \
	"  one pool per NUMA node; rx threads pinned on each node allocate from their\n"    \
	"  node's pool and free pages that may come from the other nodes' threads\n"

int main(int argc, char **argv)
{
	unsigned long pages = 1024, rounds = 200000; /* 4 MiB a node: under an 8 MiB memlock limit */
	unsigned long want_nodes = 0;
	int expect_nodes = 0, i, j, n, fail = 0;
	struct rx_thread th[MAX_NODES * THREADS_PER_NODE];
	static struct ring rings[MAX_NODES * THREADS_PER_NODE];
	_Atomic int producers_left;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			printf(NUMA_RX_USAGE, argv[0]);
			return 0;
		} else if (!strcmp(argv[i], "--pages") && i + 1 < argc &&
			   ex_ul_in(argv[i + 1], 64, 1ul << 24, &pages)) {
			i++;
		} else if (!strcmp(argv[i], "--rounds") && i + 1 < argc &&
			   ex_ul_in(argv[i + 1], 1, 1ul << 40, &rounds)) {
			i++;
		} else if (!strcmp(argv[i], "--expect-nodes") && i + 1 < argc &&
			   ex_ul_in(argv[i + 1], 1, MAX_NODES, &want_nodes)) {
			expect_nodes = (int)want_nodes;
			i++;
		} else {
			fprintf(stderr, "numa-rx: bad argument '%s'\n", argv[i]);
			fprintf(stderr, NUMA_RX_USAGE, argv[0]);
			return 2;
		}
	}
	if (read_topology())
		return 1;
	if (expect_nodes && nr_nodes < expect_nodes) {
		fprintf(stderr, "numa-rx: %d node(s) with memory, expected %d\n", nr_nodes,
			expect_nodes);
		return 1;
	}
	for (i = 0; i < nr_nodes; i++) {
		struct labyrinth_params p = { .name = "numa-rx", .nr_pages = pages,
					      .flags = LAB_POOL_NUMA,
					      .numa_node = (unsigned int)node_ids[i] };
		int rc = labyrinth_init(&pools[i], &p);

		if (rc) {
			fprintf(stderr, "numa-rx: pool on node %d: %s (LABYRINTH_VERBOSE=1 says "
				"why)\n", node_ids[i], strerror(-rc));
			return 1;
		}
	}
	/* Threads in node order, two per node; thread k hands its pages to
	 * thread k + 1 (the last to the first), so with two nodes half of the
	 * hand-offs cross a node. */
	n = nr_nodes * THREADS_PER_NODE;
	producers_left = n;
	for (i = 0; i < n; i++) {
		memset(&th[i], 0, sizeof(th[i]));
		th[i].node_idx = i / THREADS_PER_NODE;
		th[i].rounds = rounds;
		th[i].in = &rings[i];
		th[i].out = &rings[(i + 1) % n];
		th[i].producers_left = &producers_left;
	}
	for (i = 0; i < n; i++) {
		pthread_attr_t attr;

		pthread_attr_init(&attr);
		pthread_attr_setaffinity_np(&attr, sizeof(cpu_set_t), &node_cpus[th[i].node_idx]);
		if (pthread_create(&th[i].tid, &attr, rx_main, &th[i])) {
			fprintf(stderr, "numa-rx: pthread_create failed\n");
			return 1;
		}
		pthread_attr_destroy(&attr);
	}
	for (i = 0; i < n; i++)
		pthread_join(th[i].tid, NULL);

	for (i = 0; i < nr_nodes; i++) {
		struct labyrinth_stats st;
		unsigned long alloc = 0, freed = 0, cross = 0, wrong = 0, bad = 0, off;

		for (j = 0; j < n; j++)
			if (th[j].node_idx == i) {
				alloc += th[j].allocated;
				freed += th[j].freed;
				cross += th[j].cross_node;
				wrong += th[j].wrong_cpu;
				bad += th[j].bad;
			}
		labyrinth_stats(&pools[i], &st);
		off = pages_off_node(&pools[i], node_ids[i]);
		printf("node %d: threads allocated %lu, freed %lu (%lu of another node's), "
		       "ran off their node %lu, bad %lu; pool allocs %llu frees %llu, "
		       "%llu of %llu pages free, %lu off node\n",
		       node_ids[i], alloc, freed, cross, wrong, bad,
		       (unsigned long long)st.allocs, (unsigned long long)st.frees,
		       (unsigned long long)st.pages_free, (unsigned long long)st.pages_total, off);
		fail |= bad || wrong || off || st.pages_free != st.pages_total ||
			st.allocs != st.frees || alloc == 0;
		fail |= nr_nodes > 1 && cross == 0; /* frees did cross nodes */
		labyrinth_dump(&pools[i], stdout);
		fail |= labyrinth_destroy(&pools[i]) != 0;
	}
	printf("numa-rx: %d node(s), %d threads: %s\n", nr_nodes, n, fail ? "FAILED" : "ok");
	return fail;
}
