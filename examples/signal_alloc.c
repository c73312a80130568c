/* SPDX-License-Identifier: MIT */
/*
 * signal_alloc.c - allocating pages inside a signal handler.
 *
 * A sender thread fires a storm of SIGUSR1 at the main thread.  Each
 * handler run takes a page with LAB_GFP_ATOMIC (no lock, no system call:
 * safe even when the signal lands in the middle of the main thread's own
 * labyrinth call), stamps it, and hands it to the main thread through a
 * lock-free ring; when the ring is full it frees the page right there, in
 * the handler.  Meanwhile the main thread allocates and frees pages of its
 * own and drains the ring, checking every stamp.
 *
 * Usage: labyrinth-signal-alloc [SIGNALS]   (default 5000; -h: help)
 * Exit status 0 when every page came back once with its stamp intact and
 * the pool ends whole; 1 on any error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <labyrinth.h>

#include "example_common.h"

#define POOL_PAGES 256   /* 1 MiB of 4 KiB pages: fits any memlock limit */
#define RING 64          /* handler -> main thread; a power of two */
#define MAIN_HELD 32     /* pages the main thread holds at a time */
#define MAGIC 0x5167a110c0ffee00ull

static labyrinth_t pool;
static unsigned char *base;

/* Single producer (the handler), single consumer (the main thread): the
 * handler runs on the main thread, so "concurrency" is the handler
 * interrupting the consumer between two instructions. */
static void *ring[RING];
static atomic_uint ring_head, ring_tail; /* head: next to fill, tail: next to take */

/* Per page: 1 while someone holds it, to catch a page handed out twice. */
static atomic_uchar held[POOL_PAGES];

static atomic_ulong h_runs, h_handed, h_freed_in_handler, h_dry, h_errors, h_seq;

static unsigned int index_of(const void *page)
{
	return (unsigned int)(((const unsigned char *)page - base) / 4096);
}

/* Mark a page held; 0 if it already was (a page handed out twice). */
static int take(void *page)
{
	return atomic_exchange_explicit(&held[index_of(page)], 1, memory_order_relaxed) == 0;
}

static void give_back(void *page)
{
	/* not held any more before it is free: a handler may get it at once */
	atomic_store_explicit(&held[index_of(page)], 0, memory_order_relaxed);
	atomic_signal_fence(memory_order_seq_cst);
	labyrinth_free_page(&pool, page);
}

static void on_signal(int sig)
{
	int saved = errno; /* a failed allocation sets errno: leave it as it was */
	unsigned int head, tail;
	uint64_t *stamp;

	(void)sig;
	atomic_fetch_add_explicit(&h_runs, 1, memory_order_relaxed);
	stamp = labyrinth_alloc_page(&pool, LAB_GFP_ATOMIC);
	if (!stamp) {
		atomic_fetch_add_explicit(&h_dry, 1, memory_order_relaxed);
		errno = saved;
		return;
	}
	if (!take(stamp))
		atomic_fetch_add_explicit(&h_errors, 1, memory_order_relaxed);
	stamp[0] = MAGIC;
	stamp[1] = atomic_fetch_add_explicit(&h_seq, 1, memory_order_relaxed);
	head = atomic_load_explicit(&ring_head, memory_order_relaxed);
	tail = atomic_load_explicit(&ring_tail, memory_order_acquire);
	if (head - tail == RING) {
		/* ring full: the handler frees the page itself */
		give_back(stamp);
		atomic_fetch_add_explicit(&h_freed_in_handler, 1, memory_order_relaxed);
	} else {
		ring[head % RING] = stamp;
		atomic_store_explicit(&ring_head, head + 1, memory_order_release);
		atomic_fetch_add_explicit(&h_handed, 1, memory_order_relaxed);
	}
	errno = saved;
}

struct sender {
	pthread_t target;
	unsigned long count, sent;
};

static void *send_storm(void *arg)
{
	struct sender *s = arg;

	for (s->sent = 0; s->sent < s->count; s->sent++) {
		unsigned long runs = atomic_load(&h_runs);
		unsigned int spins;

		if (pthread_kill(s->target, SIGUSR1))
			break;
		/* A signal sent while one is pending merges with it: wait (a
		 * little) for the handler to run before the next one. */
		for (spins = 0; atomic_load(&h_runs) == runs && spins < 1000; spins++)
			sched_yield();
	}
	return NULL;
}

/* Take what the handler handed over: check each stamp, free the page. */
static unsigned long drain(unsigned long *next_seq, unsigned long *errors)
{
	unsigned long n = 0;
	unsigned int tail = atomic_load_explicit(&ring_tail, memory_order_relaxed);

	while (tail != atomic_load_explicit(&ring_head, memory_order_acquire)) {
		uint64_t *stamp = ring[tail % RING];

		atomic_store_explicit(&ring_tail, ++tail, memory_order_release);
		if (!labyrinth_owns(&pool, stamp) || stamp[0] != MAGIC || stamp[1] < *next_seq) {
			fprintf(stderr, "page %p: bad stamp %#llx seq %llu (next %lu)\n",
				(void *)stamp, (unsigned long long)stamp[0],
				(unsigned long long)stamp[1], *next_seq);
			(*errors)++;
		}
		*next_seq = stamp[1] + 1;
		give_back(stamp);
		n++;
	}
	return n;
}

static const char usage[] =
	"usage: labyrinth-signal-alloc [SIGNALS]\n"
	"  A thread sends SIGNALS SIGUSR1 (default 5000) at the main thread, whose\n"
	"  handler takes pages with LAB_GFP_ATOMIC; exit status 0 when every page\n"
	"  came back once with its stamp intact and the pool ends whole.\n";

int main(int argc, char **argv)
{
	struct labyrinth_params params = { .name = "signal", .nr_pages = POOL_PAGES };
	struct sender s = { .target = pthread_self(),
			    .count = ex_count_argument(argc, argv, "labyrinth-signal-alloc", usage,
						       "signal count", 5000, 100000000) };
	struct sigaction sa;
	struct labyrinth_stats st;
	unsigned long drained = 0, main_allocs = 0, main_dry = 0, errors = 0, next_seq = 0;
	void *mine[MAIN_HELD] = { 0 };
	unsigned int i = 0;
	pthread_t tid;
	size_t len;
	int err;

	err = labyrinth_init(&pool, &params);
	if (err) {
		ex_init_failed("labyrinth-signal-alloc", err);
		return 1;
	}
	labyrinth_region(&pool, (void **)&base, &len);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL)) {
		perror("sigaction");
		return 1;
	}
	printf("labyrinth-signal-alloc: %lu SIGUSR1 at the main thread; the handler takes a "
	       "page with LAB_GFP_ATOMIC and hands it over through a %d-slot ring\n",
	       s.count, RING);
	fflush(stdout);
	if (pthread_create(&tid, NULL, send_storm, &s)) {
		perror("pthread_create");
		return 1;
	}
	/* The main thread's own work, interrupted by the handler at any point. */
	while (pthread_tryjoin_np(tid, NULL) == EBUSY) {
		if (mine[i]) {
			give_back(mine[i]);
			mine[i] = NULL;
		}
		mine[i] = labyrinth_alloc_page(&pool, LAB_GFP_NOWAIT);
		if (mine[i]) {
			if (!take(mine[i]))
				errors++;
			memset(mine[i], 0xa5, 64);
			main_allocs++;
		} else {
			main_dry++;
		}
		i = (i + 1) % MAIN_HELD;
		/* every other 256 handler runs, leave the ring alone: it
		 * fills up and the handler frees pages itself */
		if ((atomic_load(&h_runs) / 256) % 2 == 0)
			drained += drain(&next_seq, &errors);
	}
	/* the storm is over; a last handler may still be pending */
	sigaction(SIGUSR1, &(struct sigaction){ .sa_handler = SIG_IGN }, NULL);
	drained += drain(&next_seq, &errors);
	for (i = 0; i < MAIN_HELD; i++)
		if (mine[i])
			give_back(mine[i]);

	errors += atomic_load(&h_errors);
	labyrinth_stats(&pool, &st);
	printf("  signals sent             %10lu\n", s.sent);
	printf("  handler runs             %10lu  (pending signals merge)\n", atomic_load(&h_runs));
	printf("  pages handed to main     %10lu  (all checked and freed: %lu)\n",
	       atomic_load(&h_handed), drained);
	printf("  freed in the handler     %10lu  (ring full)\n", atomic_load(&h_freed_in_handler));
	printf("  handler found pool dry   %10lu\n", atomic_load(&h_dry));
	printf("  main thread allocations  %10lu  (dry %lu)\n", main_allocs, main_dry);
	printf("  pool: %llu allocs, %llu frees, %llu pages in use at the end\n",
	       (unsigned long long)st.allocs, (unsigned long long)st.frees,
	       (unsigned long long)st.pages_inuse);
	if (drained != atomic_load(&h_handed)) {
		fprintf(stderr, "FAIL: %lu pages handed over, %lu received\n",
			atomic_load(&h_handed), drained);
		errors++;
	}
	if (st.pages_inuse != 0 || st.allocs != st.frees || labyrinth_check(&pool) != 0) {
		fprintf(stderr, "FAIL: the pool is not whole at the end\n");
		errors++;
	}
	if (atomic_load(&h_runs) == 0) {
		fprintf(stderr, "FAIL: the handler never ran\n");
		errors++;
	}
	if (labyrinth_destroy(&pool)) {
		fprintf(stderr, "FAIL: labyrinth_destroy\n");
		errors++;
	}
	printf("%s: %lu errors\n", errors ? "FAIL" : "ok", errors);
	return errors ? 1 : 0;
}
