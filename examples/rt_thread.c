/* SPDX-License-Identifier: MIT */
/*
 * rt_thread.c - a real-time thread that allocates pages and hands them on.
 *
 * The process locks its memory (mlockall), then a SCHED_FIFO thread wakes
 * every PERIOD_US microseconds, takes a few pages with LAB_GFP_ATOMIC (no
 * lock, no system call, no page fault: nothing that could make it miss its
 * deadline), stamps each with a sequence number and pushes it into a
 * single-producer/single-consumer ring.  A normal thread takes the pages
 * out, checks that every sequence number arrives once and in order, and
 * frees them.  When the ring is full the real-time thread frees the page
 * itself; when the pool is dry its allocation fails and it moves on.
 *
 * Where SCHED_FIFO or mlockall is refused (a normal user without
 * CAP_SYS_NICE / RLIMIT_RTPRIO, or over RLIMIT_MEMLOCK), it says so and
 * runs the same loop without it.
 *
 * Usage: labyrinth-rt-thread [PERIODS]   (default 2000, PERIOD_US = 250; -h: help)
 * Exit status 0 when no page was lost or handed over twice; 1 otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <labyrinth.h>

#include "example_common.h"

#define POOL_PAGES 512    /* 2 MiB of 4 KiB pages: fits the default memlock limit */
#define RING 256          /* a power of two */
#define PER_PERIOD 8      /* pages the real-time thread takes each period */
#define PERIOD_US 250
#define STACK (256 << 10) /* small stacks: everything is locked */
#define MAGIC 0x7274746872656164ull

static labyrinth_t pool;
static void *ring[RING];
static atomic_uint ring_head, ring_tail;
static atomic_int producer_done;

/* The real-time thread's counts; read by main after the join. */
static unsigned long handed, freed_full, failed_allocs, late_wakeups;
/* The consumer's. */
static unsigned long received, lost, duplicated, bad_stamps;

static void timespec_add_us(struct timespec *t, long us)
{
	t->tv_nsec += us * 1000;
	while (t->tv_nsec >= 1000000000) {
		t->tv_nsec -= 1000000000;
		t->tv_sec++;
	}
}

struct producer_args {
	unsigned long periods;
};

static void *producer(void *arg)
{
	struct producer_args *a = arg;
	struct timespec next, now;
	uint64_t seq = 0;
	unsigned long p;
	unsigned int k;

	clock_gettime(CLOCK_MONOTONIC, &next);
	for (p = 0; p < a->periods; p++) {
		timespec_add_us(&next, PERIOD_US);
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if ((now.tv_sec - next.tv_sec) * 1000000000L + now.tv_nsec - next.tv_nsec >
		    PERIOD_US * 1000L)
			late_wakeups++; /* woke more than a period late */
		for (k = 0; k < PER_PERIOD; k++) {
			uint64_t *page = labyrinth_alloc_page(&pool, LAB_GFP_ATOMIC);
			unsigned int head, tail;

			if (!page) {
				failed_allocs++;
				continue;
			}
			head = atomic_load_explicit(&ring_head, memory_order_relaxed);
			tail = atomic_load_explicit(&ring_tail, memory_order_acquire);
			if (head - tail == RING) {
				labyrinth_free_page(&pool, page);
				freed_full++;
				continue;
			}
			page[0] = MAGIC;
			page[1] = seq++;
			ring[head % RING] = page;
			atomic_store_explicit(&ring_head, head + 1, memory_order_release);
			handed++;
		}
	}
	atomic_store_explicit(&producer_done, 1, memory_order_release);
	return NULL;
}

static void *consumer(void *arg)
{
	uint64_t expect = 0;
	unsigned int tail = 0;

	(void)arg;
	for (;;) {
		int done = atomic_load_explicit(&producer_done, memory_order_acquire);
		unsigned int head = atomic_load_explicit(&ring_head, memory_order_acquire);

		if (tail == head) {
			if (done)
				break;
			usleep(100);
			continue;
		}
		while (tail != head) {
			uint64_t *page = ring[tail % RING];

			if (!labyrinth_owns(&pool, page) || page[0] != MAGIC) {
				bad_stamps++;
			} else if (page[1] < expect) {
				duplicated++;
			} else {
				lost += page[1] - expect; /* sequence numbers skipped */
				expect = page[1] + 1;
			}
			page[0] = 0;
			if (labyrinth_free_page(&pool, page))
				bad_stamps++;
			received++;
			atomic_store_explicit(&ring_tail, ++tail, memory_order_release);
		}
	}
	return NULL;
}

/* A thread with a small stack; SCHED_FIFO at prio if prio > 0. */
static int start(pthread_t *t, void *(*fn)(void *), void *arg, int prio)
{
	pthread_attr_t attr;
	struct sched_param sp = { .sched_priority = prio };
	int err;

	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, STACK);
	if (prio > 0) {
		pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED);
		pthread_attr_setschedpolicy(&attr, SCHED_FIFO);
		pthread_attr_setschedparam(&attr, &sp);
	}
	err = pthread_create(t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return err;
}

static const char usage[] =
	"usage: labyrinth-rt-thread [PERIODS]\n"
	"  A SCHED_FIFO thread takes pages with LAB_GFP_ATOMIC every 250 us for\n"
	"  PERIODS periods (default 2000) and hands them to a normal thread; exit\n"
	"  status 0 when no page was lost or handed over twice.\n";

int main(int argc, char **argv)
{
	struct labyrinth_params params = { .name = "rt", .nr_pages = POOL_PAGES };
	struct producer_args pa = {
		.periods = ex_count_argument(argc, argv, "labyrinth-rt-thread", usage,
					     "period count", 2000, 100000000)
	};
	struct labyrinth_stats st;
	pthread_t prod, cons;
	int err, rt = 1, locked = 1, errors = 0;
	bool unlocked;

	/* Print before mlockall: stdout's buffer is allocated now, not later. */
	printf("labyrinth-rt-thread: a SCHED_FIFO thread takes %d pages every %d us with "
	       "LAB_GFP_ATOMIC for %lu periods and hands them to a normal thread\n",
	       PER_PERIOD, PERIOD_US, pa.periods);
	fflush(stdout);
	err = ex_init_pool(&pool, &params, &unlocked);
	if (unlocked)
		printf("note: the pool cannot be locked under this memlock limit (ulimit -l); "
		       "it runs with LAB_POOL_NOLOCK\n");
	if (err) {
		ex_init_failed("labyrinth-rt-thread", err);
		return 1;
	}
	if (mlockall(MCL_CURRENT | MCL_FUTURE)) {
		printf("note: mlockall refused (%s): running without it (raise 'ulimit -l' or "
		       "grant CAP_IPC_LOCK)\n", strerror(errno));
		locked = 0;
	}
	err = start(&prod, producer, &pa, 10);
	if (err == EPERM || err == EINVAL) {
		printf("note: SCHED_FIFO refused (%s): the producer runs as a normal thread "
		       "(needs CAP_SYS_NICE or an RLIMIT_RTPRIO, e.g. 'ulimit -r 10')\n",
		       strerror(err));
		rt = 0;
		err = start(&prod, producer, &pa, 0);
	}
	if (err) {
		fprintf(stderr, "pthread_create (producer): %s\n", strerror(err));
		return 1;
	}
	err = start(&cons, consumer, NULL, 0);
	if (err) {
		fprintf(stderr, "pthread_create (consumer): %s\n", strerror(err));
		return 1;
	}
	pthread_join(prod, NULL);
	pthread_join(cons, NULL);
	if (locked)
		munlockall();

	labyrinth_stats(&pool, &st);
	printf("  producer                 %s, memory %s\n", rt ? "SCHED_FIFO 10" : "SCHED_OTHER",
	       locked ? "locked (mlockall)" : "not locked by mlockall");
	printf("  pages handed over        %10lu\n", handed);
	printf("  pages received, freed    %10lu\n", received);
	printf("  failed allocations       %10lu  (pool dry)\n", failed_allocs);
	printf("  freed by the producer    %10lu  (ring full)\n", freed_full);
	printf("  late wakeups             %10lu  (more than a period late)\n", late_wakeups);
	printf("  lost / duplicated / bad  %lu / %lu / %lu\n", lost, duplicated, bad_stamps);
	if (lost || duplicated || bad_stamps || received != handed) {
		fprintf(stderr, "FAIL: pages lost or handed over twice\n");
		errors++;
	}
	if (st.pages_inuse != 0 || labyrinth_check(&pool) != 0 || labyrinth_destroy(&pool)) {
		fprintf(stderr, "FAIL: the pool is not whole at the end\n");
		errors++;
	}
	printf("%s\n", errors ? "FAIL" : "ok");
	return errors ? 1 : 0;
}
