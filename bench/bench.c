/* SPDX-License-Identifier: MIT */
/*
 * labyrinth-bench: the scenarios, shared by every backend.
 *
 * This file is compiled once per backend (bench-labyrinth, bench-glibc, ...)
 * with -DBENCH_BACKEND_HEADER="backend_<name>.h", so that each allocator
 * lives in its own executable: malloc replacements never meet, and each
 * backend's get/put are called through one non-inlined function (below,
 * "the operation loops").
 *
 * Output is machine-readable, one record per line, tab-separated:
 *   result  <backend> <scenario> <metric> <value> <unit> <round>
 *   skip    <backend> <scenario> <reason>
 *   note    <backend> <text>
 *   caps    <backend> signal_safe=<0|1> bulk=<0|1>
 * bench/run.py runs these executables and turns the records into a table,
 * a TSV file and an SVG chart.  Run `bench-<backend> --help` for options.
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
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef BENCH_BACKEND_HEADER
#error "compile with -DBENCH_BACKEND_HEADER=\"backend_<name>.h\""
#endif
#include BENCH_BACKEND_HEADER

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#define HAVE_TSC 1
#define cpu_relax() _mm_pause()
#else
#define HAVE_TSC 0
#define cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif

/* ---------------------------------------------------------------- options */

static struct {
	const char *scenario;
	unsigned rounds;      /* in-process repetitions of each measurement */
	uint64_t iters;       /* fixed operation count; 0 = run for duration */
	int iters_given;      /* --iters was given (syscalls: --iters 0 is the baseline) */
	unsigned threads;     /* for the "threads" scenario */
	unsigned duration_ms; /* measured time per measurement */
	unsigned warmup_ms;   /* unmeasured time before it */
	uint64_t samples;     /* latency samples */
	size_t pages;         /* pool size in pages */
	unsigned storm_us;    /* signal storm: one signal every storm_us */
	int node;             /* --node: NUMA node of memory and threads, -1 = any */
} opt = {
	.node = -1,
	.scenario = "all",
	.rounds = 1,
	.threads = 2,
	.duration_ms = 300,
	.warmup_ms = 60,
	.samples = 1000000,
	.pages = 16384,
	.storm_us = 10,
};

static unsigned cur_round;

/* ---------------------------------------------------------------- helpers */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * Each get writes one byte into the page: at offset 0 by default, as a user
 * filling a buffer from its start does.  Page-aligned pages then all put
 * that byte in the same few cache sets (4 KiB aliasing); --touch colored
 * writes it at cache line (page number mod 64) instead, which spreads the
 * lines over the sets as rte_mempool's 4160-byte object stride does.
 */
static uintptr_t touch_mask; /* 0 (offset 0) or 63 (colored) */

static inline void touch(void *p, uint64_t i)
{
	unsigned char *c = (unsigned char *)p + ((((uintptr_t)p >> 12) & touch_mask) << 6);
	*(volatile unsigned char *)c = (unsigned char)i;
}

/* Keep the compiler from folding a get and the following put together. */
static inline void escape(void *p)
{
	__asm__ __volatile__("" : : "r"(p) : "memory");
}

static void result(const char *scen, const char *metric, double v, const char *unit)
{
	printf("result\t%s\t%s\t%s\t%.6g\t%s\t%u\n", BK_NAME, scen, metric, v, unit, cur_round);
	fflush(stdout);
}

static void skip(const char *scen, const char *why)
{
	printf("skip\t%s\t%s\t%s\n", BK_NAME, scen, why);
	fflush(stdout);
}

static void die(const char *what)
{
	fprintf(stderr, "bench-%s: %s\n", BK_NAME, what);
	exit(1);
}

#if !BK_HAS_BULK
/* Backends without a bulk call loop singly. */
static inline unsigned bk_get_bulk(void **v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		if (!(v[i] = bk_get())) {
			while (i--)
				bk_put(v[i]);
			return 0;
		}
	return n;
}

static inline void bk_put_bulk(void **v, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		bk_put(v[i]);
}
#endif

/* ------------------------------------------------------ the operation loops */

/*
 * Every backend is called through these non-inlined functions, one near
 * call per get and per put, as the project's independent harness calls
 * them: the backends whose fast path is inline in their header (DPDK's
 * mempool, labyrinth, the floor) are inlined into these, not into the
 * loops, so no backend's work is folded into the benchmark's own.
 */
static __attribute__((noinline)) void *get_page(void) { return bk_get(); }
static __attribute__((noinline)) void put_page(void *p) { bk_put(p); }
static __attribute__((noinline)) unsigned get_bulk(void **v, unsigned n) { return bk_get_bulk(v, n); }
static __attribute__((noinline)) void put_bulk(void **v, unsigned n) { bk_put_bulk(v, n); }

static uint64_t g_fails; /* gets that returned NULL (single-thread loops) */

/* n alloc+touch+free pairs; returns pairs done */
static uint64_t loop_pairs(uint64_t n)
{
	uint64_t ok = 0;
	for (uint64_t i = 0; i < n; i++) {
		void *p = get_page();
		if (__builtin_expect(p == NULL, 0)) {
			g_fails++;
			continue;
		}
		touch(p, i);
		escape(p);
		put_page(p);
		ok++;
	}
	return ok;
}

/* n cycles of 256 gets (each touched) then 256 frees; returns pages */
#define BATCH 256u
static uint64_t loop_batch(uint64_t n)
{
	void *v[BATCH];
	uint64_t ok = 0;
	for (uint64_t c = 0; c < n; c++) {
		unsigned got;
		for (got = 0; got < BATCH; got++) {
			void *p = get_page();
			if (__builtin_expect(p == NULL, 0)) {
				g_fails++;
				break;
			}
			touch(p, got);
			v[got] = p;
		}
		escape(v);
		for (unsigned i = 0; i < got; i++)
			put_page(v[i]);
		ok += got;
	}
	return ok;
}

/* n cycles of bulk 64 get (each touched) / bulk 64 put; returns pages */
#define BULK 64u
static uint64_t loop_bulk(uint64_t n)
{
	void *v[BULK];
	uint64_t ok = 0;
	for (uint64_t c = 0; c < n; c++) {
		if (__builtin_expect(get_bulk(v, BULK) != BULK, 0)) {
			g_fails++;
			continue;
		}
		for (unsigned i = 0; i < BULK; i++)
			touch(v[i], i);
		escape(v);
		put_bulk(v, BULK);
		ok += BULK;
	}
	return ok;
}

/* Run loop(chunk) for warm-up, then until duration; ns per unit. */
static double timed(uint64_t (*loop)(uint64_t), uint64_t chunk, uint64_t *units)
{
	double t0, t1, end;
	uint64_t done = 0;

	end = now_s() + opt.warmup_ms * 1e-3;
	do
		(void)loop(chunk);
	while (now_s() < end);
	g_fails = 0;
	if (opt.iters) {
		uint64_t calls = (opt.iters + chunk - 1) / chunk;
		t0 = now_s();
		for (uint64_t i = 0; i < calls; i++)
			done += loop(chunk);
		t1 = now_s();
	} else {
		t0 = now_s();
		end = t0 + opt.duration_ms * 1e-3;
		do {
			done += loop(chunk);
			t1 = now_s();
		} while (t1 < end);
	}
	*units = done;
	return done ? (t1 - t0) * 1e9 / (double)done : 0.0;
}

static void report_fails(const char *scen)
{
	if (g_fails)
		result(scen, "failed_gets", (double)g_fails, "count");
}

static void scen_pair(void)
{
	uint64_t n;
	double ns = timed(loop_pairs, 4096, &n);
	if (!n)
		die("pair: no page could be allocated");
	result("pair", "ns_per_pair", ns, "ns");
	report_fails("pair");
}

static void scen_batch(void)
{
	uint64_t n;
	double ns = timed(loop_batch, 8, &n);
	if (!n)
		die("batch256: no page could be allocated");
	result("batch256", "ns_per_page", ns, "ns");
	report_fails("batch256");
}

static void scen_bulk(void)
{
	uint64_t n;
	double ns = timed(loop_bulk, 32, &n);
	if (!n)
		die("bulk64: no page could be allocated");
	result("bulk64", "ns_per_page", ns, "ns");
	report_fails("bulk64");
}

/* --------------------------------------------- four pools in turn (pools4) */

/*
 * One thread, pairs on pool i mod 4 (issue 17): packet applications have a
 * pool per port or queue.  A backend that can have several pools defines
 * BK_POOLS_MAX and bk_pools_init(n, pages) / bk_pools_fini(n) /
 * bk_get_from(k) / bk_put_to(k, page); the floor serves them all from its
 * one LIFO.  Others skip.
 */
#define POOLS4 4u
#ifndef BK_POOLS_MAX
#define BK_POOLS_MAX 0
static inline int bk_pools_init(unsigned n, size_t pages) { (void)n; (void)pages; return -1; }
static inline void bk_pools_fini(unsigned n) { (void)n; }
static inline void *bk_get_from(unsigned k) { (void)k; return NULL; }
static inline void bk_put_to(unsigned k, void *p) { (void)k; (void)p; }
#endif
static __attribute__((noinline)) void *get_page_from(unsigned k) { return bk_get_from(k); }
static __attribute__((noinline)) void put_page_to(unsigned k, void *p) { bk_put_to(k, p); }

/* n alloc+touch+free pairs, pool i mod 4; returns pairs done */
static uint64_t loop_pools4(uint64_t n)
{
	uint64_t ok = 0;
	for (uint64_t i = 0; i < n; i++) {
		unsigned k = (unsigned)i & (POOLS4 - 1);
		void *p = get_page_from(k);
		if (__builtin_expect(p == NULL, 0)) {
			g_fails++;
			continue;
		}
		touch(p, i);
		escape(p);
		put_page_to(k, p);
		ok++;
	}
	return ok;
}

static void scen_pools4(void)
{
	size_t pages = opt.pages / POOLS4 < 4096 ? 4096 : opt.pages / POOLS4;
	uint64_t n;
	double ns;

	if (BK_POOLS_MAX < POOLS4) {
		skip("pools4", "one pool per process only");
		return;
	}
	if (bk_pools_init(POOLS4, pages) < 0)
		die("pools4: could not make four pools");
	ns = timed(loop_pools4, 4096, &n);
	bk_pools_fini(POOLS4);
	if (!n)
		die("pools4: no page could be allocated");
	result("pools4", "ns_per_pair", ns, "ns");
	report_fails("pools4");
}

/* ---------------------------------------------------- multi-page blocks */

#ifndef BK_HAS_ORDER
#define BK_HAS_ORDER 0
static inline void *bk_get_order(unsigned o) { (void)o; return NULL; }
static inline void bk_put_order(void *p, unsigned o) { (void)p; (void)o; }
#endif
static __attribute__((noinline)) void *get_order(unsigned o) { return bk_get_order(o); }
static __attribute__((noinline)) void put_order(void *p, unsigned o) { bk_put_order(p, o); }

static unsigned g_order;

/* n alloc+touch+free pairs of blocks of 2^g_order pages */
static uint64_t loop_order_pairs(uint64_t n)
{
	uint64_t ok = 0;
	for (uint64_t i = 0; i < n; i++) {
		void *p = get_order(g_order);
		if (__builtin_expect(p == NULL, 0)) {
			g_fails++;
			continue;
		}
		touch(p, i);
		escape(p);
		put_order(p, g_order);
		ok++;
	}
	return ok;
}

/* order2 / order4: labyrinth_alloc_pages(order) next to aligned_alloc of
 * the same size and alignment in the mallocs. */
static void scen_order(const char *scen, unsigned order)
{
	uint64_t n;
	double ns;

	if (!BK_HAS_ORDER) {
		skip(scen, "no multi-page blocks");
		return;
	}
	g_order = order;
	ns = timed(loop_order_pairs, 1024, &n);
	if (!n)
		die("order: no block could be allocated");
	result(scen, "ns_per_pair", ns, "ns");
	report_fails(scen);
}

#ifndef BK_HAS_FRAG
#define BK_HAS_FRAG 0
static void bk_frag(uint64_t *free_pages, unsigned *largest)
{
	*free_pages = 0;
	*largest = 0;
}
#endif

/*
 * Fragmentation: a random workload of blocks of orders 0..4 keeps about
 * half of the pool allocated for 200000 steps, then frees every other live
 * block; reported: free pages and the largest order still allocatable.
 */
static void scen_frag(void)
{
	enum { LIVE = 4096 };
	static struct { void *p; unsigned o; } live[LIVE];
	uint64_t rng = 0x2545f4914f6cdd1dull, free_pages, used = 0;
	unsigned n = 0, largest, i;

	if (!BK_HAS_FRAG || !BK_HAS_ORDER) {
		skip("frag", "no multi-page blocks");
		return;
	}
	for (i = 0; i < 200000; i++) {
		rng ^= rng << 13;
		rng ^= rng >> 7;
		rng ^= rng << 17;
		if (n && ((rng & 1) || used * 2 > opt.pages || n == LIVE)) {
			unsigned k = (unsigned)(rng >> 8) % n;
			put_order(live[k].p, live[k].o);
			used -= 1u << live[k].o;
			live[k] = live[--n];
		} else {
			unsigned o = (unsigned)(rng >> 16) % 5;
			void *p = get_order(o);
			if (p) {
				live[n].p = p;
				live[n++].o = o;
				used += 1u << o;
			}
		}
	}
	for (i = 0; i < n; i += 2) /* every other block back: holes everywhere */
		put_order(live[i].p, live[i].o);
	bk_frag(&free_pages, &largest);
	result("frag", "free_pages", (double)free_pages, "pages");
	result("frag", "largest_order", (double)largest, "order");
	for (i = 1; i < n; i += 2)
		put_order(live[i].p, live[i].o);
	bk_frag(&free_pages, &largest);
	result("frag", "largest_order_all_freed", (double)largest, "order");
}

/* ------------------------------------------------------- threaded scenarios */

struct counter {
	_Alignas(64) _Atomic uint64_t done;
	_Atomic uint64_t fails;
};

#define MAX_THREADS 64u
static struct counter counters[MAX_THREADS];
static _Atomic unsigned mt_ready, mt_failed;
static _Atomic int mt_go, mt_stop;

static int worker_start(void)
{
	if (bk_thread_enter() < 0) {
		atomic_fetch_add(&mt_failed, 1);
		atomic_fetch_add(&mt_ready, 1);
		return -1;
	}
	atomic_fetch_add(&mt_ready, 1);
	while (!atomic_load_explicit(&mt_go, memory_order_acquire))
		sched_yield();
	return 0;
}

static void *pairs_worker(void *arg)
{
	struct counter *c = arg;
	uint64_t local = 0, fails = 0, i = 0;

	if (worker_start() < 0)
		return NULL;
	while (!atomic_load_explicit(&mt_stop, memory_order_relaxed)) {
		for (unsigned k = 0; k < 256; k++, i++) {
			void *p = get_page();
			if (__builtin_expect(p == NULL, 0)) {
				fails++;
				continue;
			}
			touch(p, i);
			escape(p);
			put_page(p);
			local++;
		}
		atomic_store_explicit(&c->done, local, memory_order_relaxed);
	}
	atomic_store_explicit(&c->fails, fails, memory_order_relaxed);
	bk_thread_leave();
	return NULL;
}

/* single-producer single-consumer ring of page pointers */
#define RING 512u
static struct {
	_Alignas(64) _Atomic uint64_t head; /* written by the producer */
	_Alignas(64) _Atomic uint64_t tail; /* written by the consumer */
	_Alignas(64) void *slot[RING];
} ring;

/* Spin, but let a descheduled partner run if it shares our CPU. */
static inline void backoff(unsigned *spins)
{
	if (++*spins < 1024)
		cpu_relax();
	else {
		*spins = 0;
		sched_yield();
	}
}

static void ring_push(uint64_t *h, uint64_t *tail_cache, void *p)
{
	unsigned spins = 0;
	while (*h - *tail_cache >= RING) {
		*tail_cache = atomic_load_explicit(&ring.tail, memory_order_acquire);
		if (*h - *tail_cache >= RING)
			backoff(&spins);
	}
	ring.slot[*h & (RING - 1)] = p;
	atomic_store_explicit(&ring.head, ++*h, memory_order_release);
}

static void *producer(void *arg)
{
	struct counter *c = arg;
	uint64_t h = 0, tail_cache = 0, fails = 0;
	unsigned spins = 0;

	if (worker_start() < 0) {
		ring_push(&h, &tail_cache, NULL);
		return NULL;
	}
	while (!atomic_load_explicit(&mt_stop, memory_order_relaxed)) {
		void *p = get_page();
		if (__builtin_expect(p == NULL, 0)) {
			fails++;
			backoff(&spins);
			continue;
		}
		touch(p, h);
		ring_push(&h, &tail_cache, p);
	}
	ring_push(&h, &tail_cache, NULL); /* end of stream */
	atomic_store_explicit(&c->fails, fails, memory_order_relaxed);
	bk_thread_leave();
	return NULL;
}

static void *consumer(void *arg)
{
	struct counter *c = arg;
	uint64_t t = 0, head_cache = 0, local = 0;
	int ok = worker_start() == 0;

	for (;;) {
		unsigned spins = 0;
		void *p;
		while (t == head_cache) {
			head_cache = atomic_load_explicit(&ring.head, memory_order_acquire);
			if (t == head_cache)
				backoff(&spins);
		}
		p = ring.slot[t & (RING - 1)];
		atomic_store_explicit(&ring.tail, ++t, memory_order_release);
		if (!p)
			break;
		if (ok)
			put_page(p);
		if ((++local & 255) == 0)
			atomic_store_explicit(&c->done, local, memory_order_relaxed);
	}
	atomic_store_explicit(&c->done, local, memory_order_relaxed);
	if (ok)
		bk_thread_leave();
	return NULL;
}

static uint64_t sum_done(unsigned n)
{
	uint64_t s = 0;
	for (unsigned i = 0; i < n; i++)
		s += atomic_load_explicit(&counters[i].done, memory_order_relaxed);
	return s;
}

/* Start n threads (fn[i] for thread i), let them warm up, measure the sum of
 * their counters over the duration; units per second. */
static double run_threads(unsigned n, void *(*const *fn)(void *), uint64_t *fails)
{
	pthread_t tid[MAX_THREADS];
	uint64_t s0, s1;
	double t0, t1;

	memset(counters, 0, sizeof(counters));
	atomic_store(&mt_ready, 0);
	atomic_store(&mt_failed, 0);
	atomic_store(&mt_go, 0);
	atomic_store(&mt_stop, 0);
	atomic_store(&ring.head, 0);
	atomic_store(&ring.tail, 0);
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&tid[i], NULL, fn[i], &counters[i]) != 0)
			die("pthread_create failed");
	while (atomic_load(&mt_ready) < n)
		sched_yield();
	atomic_store_explicit(&mt_go, 1, memory_order_release);
	if (!atomic_load(&mt_failed)) {
		sleep_ms(opt.warmup_ms);
		s0 = sum_done(n);
		t0 = now_s();
		sleep_ms(opt.duration_ms);
		s1 = sum_done(n);
		t1 = now_s();
	} else {
		s0 = s1 = 0;
		t0 = 0;
		t1 = 1;
	}
	atomic_store(&mt_stop, 1);
	for (unsigned i = 0; i < n; i++)
		pthread_join(tid[i], NULL);
	*fails = 0;
	for (unsigned i = 0; i < n; i++)
		*fails += atomic_load(&counters[i].fails);
	if (atomic_load(&mt_failed))
		die("a thread could not start on the backend");
	return (double)(s1 - s0) / (t1 - t0);
}

static void scen_spsc(void)
{
	void *(*const fn[2])(void *) = { producer, consumer };
	uint64_t fails;
	double rate = run_threads(2, fn, &fails);
	result("spsc", "pages_per_s", rate, "pages/s");
	if (fails)
		result("spsc", "failed_gets", (double)fails, "count");
}

static void scen_threads(unsigned n)
{
	void *(*fn[MAX_THREADS])(void *);
	char name[32];
	uint64_t fails;
	double rate;

	if (n < 1 || n > MAX_THREADS)
		die("--threads must be 1..64");
	for (unsigned i = 0; i < n; i++)
		fn[i] = pairs_worker;
	rate = run_threads(n, (void *(*const *)(void *))fn, &fails);
	snprintf(name, sizeof(name), "threads%u", n);
	result(name, "pairs_per_s", rate, "pairs/s");
	if (fails)
		result(name, "failed_gets", (double)fails, "count");
}

/* ------------------------------------------------------------------ latency */

static double tsc_per_ns = 1.0;

static inline uint64_t t_begin(void)
{
#if HAVE_TSC
	uint64_t t;
	_mm_lfence();
	t = __rdtsc();
	_mm_lfence();
	return t;
#else
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

static inline uint64_t t_end(void)
{
#if HAVE_TSC
	unsigned aux;
	uint64_t t = __rdtscp(&aux);
	_mm_lfence();
	return t;
#else
	return t_begin();
#endif
}

static void calibrate_tsc(void)
{
#if HAVE_TSC
	struct timespec a, b;
	uint64_t ta, tb;
	clock_gettime(CLOCK_MONOTONIC_RAW, &a);
	ta = t_begin();
	sleep_ms(30);
	clock_gettime(CLOCK_MONOTONIC_RAW, &b);
	tb = t_end();
	tsc_per_ns = (double)(tb - ta) /
		     ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec));
#endif
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static double pct_ns(const uint32_t *s, uint64_t n, double q)
{
	uint64_t i = (uint64_t)(q * (double)n);
	if (i >= n)
		i = n - 1;
	return (double)s[i] / tsc_per_ns;
}

static _Atomic uint64_t storm_handled;
static _Atomic int storm_stop;
static pthread_t storm_target;
static uint32_t *storm_pair_ticks; /* the handler's own get+put, timed */
static uint64_t storm_pair_cap;

/* The signal handler: an alloc+touch+free pair on the same backend, timed. */
static void storm_handler(int sig)
{
	int e = errno;
	uint64_t a, b, i;
	void *p;
	(void)sig;
	a = t_begin();
	p = get_page();
	if (p) {
		touch(p, 1);
		escape(p);
		put_page(p);
	}
	b = t_end();
	i = atomic_fetch_add_explicit(&storm_handled, 1, memory_order_relaxed);
	if (i < storm_pair_cap)
		storm_pair_ticks[i] = b - a > UINT32_MAX ? UINT32_MAX : (uint32_t)(b - a);
	errno = e;
}

/* Sends SIGUSR1 to the measuring thread every storm_us.  It waits between
 * signals with sched_yield(): on a CPU of its own that is a spin (a timer
 * sleep would take tens of µs to wake up and thin the storm out), and when it
 * shares a CPU with the measured thread it hands the CPU over. */
static void *storm_thread(void *arg)
{
	double gap = opt.storm_us * 1e-6, next = now_s();
	(void)arg;
	while (!atomic_load_explicit(&storm_stop, memory_order_relaxed)) {
		double t;
		pthread_kill(storm_target, SIGUSR1);
		next += gap;
		while ((t = now_s()) < next)
			sched_yield();
		if (t > next + 100 * gap)
			next = t; /* far behind: do not fire a burst to catch up */
	}
	return NULL;
}

#define LAT_SMALL 300u
#define LAT_BIG 1500u
#define LAT_BIG_EVERY 8u /* every 8th cycle gets 1500 pages instead of 300 */

static uint32_t *alloc_samples(uint64_t n)
{
	uint32_t *s = malloc(n * sizeof(*s));
	if (!s)
		die("out of memory for latency samples");
	memset(s, 0, n * sizeof(*s)); /* fault the buffer in now */
	return s;
}

static void report_pcts(const char *scen, const char *pfx, uint32_t *s, uint64_t n)
{
	char m[64];
	if (!n)
		return;
	qsort(s, n, sizeof(*s), cmp_u32);
#define PCT(name, q)                                         \
	snprintf(m, sizeof(m), "%s" name "_ns", pfx);        \
	result(scen, m, pct_ns(s, n, q), "ns");
	PCT("p50", 0.50)
	PCT("p99", 0.99)
	PCT("p999", 0.999)
	PCT("p9999", 0.9999)
#undef PCT
	snprintf(m, sizeof(m), "%smax_ns", pfx);
	result(scen, m, (double)s[n - 1] / tsc_per_ns, "ns");
}

/*
 * Single-get latency: 300 gets (each timed on its own) then 300 puts, every
 * 8th cycle 1500.  With storm, another thread signals this one every
 * storm_us; the handler does a pair on the same backend.  Gets during which
 * a handler ran are told apart (the handler count changed), so that besides
 * the plain percentiles the report has those of the gets no signal hit and
 * the handler's own pair time.
 */
static void scen_latency(int storm)
{
	const char *scen = storm ? "latency-storm" : "latency";
	uint64_t cap = opt.iters ? opt.iters : opt.samples, n = 0, nc = 0, fails = 0, cycles = 0;
	uint32_t *s, *clean = NULL;
	void *v[LAT_BIG];
	pthread_t storm_tid;
	double t0, t1, deadline, overhead;
	uint64_t handled0 = 0, handled;

	if (storm && !BK_SIGNAL_SAFE) {
		skip(scen, "backend is not async-signal-safe");
		return;
	}
	if (cap < 1000)
		cap = 1000;
	s = alloc_samples(cap);
	calibrate_tsc();

	/* timer overhead: median of empty intervals */
	for (unsigned i = 0; i < 10001; i++) {
		uint64_t a = t_begin(), b = t_end();
		s[i] = (uint32_t)(b - a);
	}
	qsort(s, 10001, sizeof(*s), cmp_u32);
	overhead = (double)s[5000] / tsc_per_ns;

	/* warm-up: the same pattern, untimed */
	deadline = now_s() + opt.warmup_ms * 1e-3;
	for (uint64_t c = 0; now_s() < deadline; c++) {
		unsigned k = c % LAT_BIG_EVERY == LAT_BIG_EVERY - 1 ? LAT_BIG : LAT_SMALL, got = 0;
		for (unsigned i = 0; i < k; i++)
			if ((v[got] = get_page()) != NULL)
				touch(v[got++], i);
		for (unsigned i = 0; i < got; i++)
			put_page(v[i]);
	}

	if (storm) {
		struct sigaction sa;
		clean = alloc_samples(cap);
		storm_pair_cap = cap;
		storm_pair_ticks = alloc_samples(cap);
		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = storm_handler;
		sa.sa_flags = SA_RESTART;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGUSR1, &sa, NULL);
		storm_target = pthread_self();
		atomic_store(&storm_stop, 0);
		atomic_store(&storm_handled, 0);
		if (pthread_create(&storm_tid, NULL, storm_thread, NULL) != 0)
			die("pthread_create failed");
	}

	/* Without storm: cap samples, or fewer if the backend is slow.  With
	 * storm: for duration_ms at least, so that enough signals arrive; the
	 * last cap samples are kept (the buffers wrap). */
	t0 = now_s();
	deadline = t0 + (storm ? 1 : 4) * opt.duration_ms * 1e-3;
	while (storm || n < cap) {
		unsigned k = cycles % LAT_BIG_EVERY == LAT_BIG_EVERY - 1 ? LAT_BIG : LAT_SMALL, got = 0;
		for (unsigned i = 0; i < k && (storm || n < cap); i++) {
			uint64_t h0 = atomic_load_explicit(&storm_handled, memory_order_relaxed);
			uint64_t a = t_begin();
			void *p = get_page();
			uint64_t b = t_end();
			uint64_t d = b - a;
			uint32_t d32 = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
			s[n++ % cap] = d32;
			if (storm && atomic_load_explicit(&storm_handled, memory_order_relaxed) == h0)
				clean[nc++ % cap] = d32;
			if (!p) {
				fails++;
				continue;
			}
			touch(p, i);
			v[got++] = p;
		}
		for (unsigned i = 0; i < got; i++)
			put_page(v[i]);
		cycles++;
		if ((cycles & 7) == 0 && now_s() > deadline)
			break;
	}
	t1 = now_s();

	if (storm) {
		atomic_store(&storm_stop, 1);
		pthread_join(storm_tid, NULL);
		signal(SIGUSR1, SIG_IGN);
	}
	handled = atomic_load(&storm_handled) - handled0;
	report_pcts(scen, "", s, n < cap ? n : cap);
	result(scen, "samples", (double)(n < cap ? n : cap), "count");
	result(scen, "timer_ns", overhead, "ns");
	if (storm) {
		result(scen, "signals_per_s", (double)handled / (t1 - t0), "1/s");
		result(scen, "hit_pct", n ? 100.0 * (double)(n - nc) / (double)n : 0, "%");
		report_pcts(scen, "clean_", clean, nc < cap ? nc : cap);
		report_pcts(scen, "handler_", storm_pair_ticks, handled < cap ? handled : cap);
		free(clean);
		free(storm_pair_ticks);
		storm_pair_ticks = NULL;
		storm_pair_cap = 0;
	}
	if (fails)
		result(scen, "failed_gets", (double)fails, "count");
	free(s);
}

/* ----------------------------------------------- page faults and syscalls */

#define ATOMIC_WARMUP 20000u

/* "faults": minor/major faults per million pairs after warm-up, measured
 * with getrusage around the loop.  "syscalls": the same fixed warm-up and
 * exactly --iters pairs between two marker calls, close(-1000001) and
 * close(-1000002); run.py runs it under `strace -f` and counts the calls
 * between the markers. */
static void scen_faults(int fixed)
{
	struct rusage r0, r1;
	uint64_t n = opt.iters_given ? opt.iters : 1000000, done = 0;
	double deadline;

	(void)loop_pairs(ATOMIC_WARMUP);
	if (fixed) {
		/* markers for the tracer: close() of these fds fails with EBADF
		 * and shows in strace as close(-1000001) ... close(-1000002) */
		(void)close(-1000001);
		done = loop_pairs(n);
		(void)close(-1000002);
		result("syscalls", "pairs", (double)done, "count");
		return;
	}
	/* The clock before r0: its first call faults in libc's clock_gettime
	 * and the vDSO's data page (perf record -e page-faults showed these
	 * two as the only faults inside the window, for every backend). */
	deadline = now_s() + 4 * opt.duration_ms * 1e-3;
	getrusage(RUSAGE_SELF, &r0);
	while (done < n) { /* slow backends stop early; counts are per pair */
		done += loop_pairs(n - done < 4096 ? n - done : 4096);
		if (now_s() > deadline)
			break;
	}
	getrusage(RUSAGE_SELF, &r1);
	if (!done)
		die("faults: no page could be allocated");
	result("faults", "minflt_per_M", (double)(r1.ru_minflt - r0.ru_minflt) * 1e6 / (double)done, "faults");
	result("faults", "majflt_per_M", (double)(r1.ru_majflt - r0.ru_majflt) * 1e6 / (double)done, "faults");
	result("faults", "pairs", (double)done, "count");
}

/* ------------------------------------------- one free page: the search */

/*
 * "search" (labyrinth only): how long an allocation takes to find the one
 * free page of a full pool whose depot and caches are empty, wherever that
 * page lies relative to where the search starts (the thread's cache
 * cursor, left on the word of the page it found last).  Pools of 16,384
 * and 262,144 pages (64 MiB and 1 GiB), each its own: reported as
 * search16k and search256k, per position the median and the maximum in
 * ns, and the worst median and worst sample over all positions; and,
 * as the baseline, an allocation of the same page from the thread's
 * cache under the same conditions (no search: "cached").
 *
 * Each sample frees one page, then asks for an order-1 block, which finds
 * none and so gives this thread's cached pages back to the bitmap (the
 * documented fallback of a block allocation), and then times one
 * labyrinth_alloc_page: a refill from an empty depot, that is the search.
 * Twice: hot (the pool's metadata in the caches, as the previous sample
 * left it), then cold ("cold_" metrics): before each timed allocation the
 * thread reads a buffer twice the size of the last-level cache, so that
 * the allocation meets the pool's metadata, and its TLB entries, cold, as
 * one does that comes after a while of other work.
 */
#ifdef LABYRINTH_H
#define SEARCH_SAMPLES 41 /* per position; the first is not counted */

static const struct {
	const char *name;
	int num, den;         /* offset from the cursor's word: num/den of the pool's words */
	int words;            /* plus this many words */
	int search;           /* 0: the page stays in the thread's cache (no search) */
} search_at[] = {
	{ "cached", 0, 1, 0, 0 },   /* the baseline: a page from the cache, no search */
	{ "cursor", 0, 1, 0, 1 },   /* in the word where the search starts */
	{ "ahead", 0, 1, 1, 1 },    /* the next word */
	{ "half", 1, 2, 0, 1 },     /* half the pool away */
	{ "behind", 0, 1, -1, 1 },  /* the word just behind: a linear search reads the whole pool */
};

static double ns_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Push the caches' contents (and the TLB's) out: read 64 MiB, a line at a time. */
static void search_evict(void)
{
	enum { EVICT = 64 << 20 };
	static unsigned char *buf;
	unsigned sum = 0;

	if (!buf) {
		buf = malloc(EVICT);
		if (!buf)
			die("search: malloc");
		memset(buf, 1, EVICT);
	}
	for (size_t i = 0; i < EVICT; i += 64)
		sum += buf[i];
	escape((void *)(uintptr_t)sum);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static int search_pool_init(labyrinth_t *lab, size_t pages)
{
	struct labyrinth_params p;
	int r;

	memset(&p, 0, sizeof(p));
	p.name = "bench-search";
	p.nr_pages = pages;
	r = labyrinth_init(lab, &p);
	if (r == -ENOMEM) {
		p.flags = LAB_POOL_NOLOCK; /* over RLIMIT_MEMLOCK: the search is the same */
		r = labyrinth_init(lab, &p);
	}
	return r;
}

/* One position, SEARCH_SAMPLES times: the median and the slowest in ns
 * (the first sample not counted); *last is the page found last. */
static void search_at_position(labyrinth_t *lab, unsigned char *base, uint32_t words,
			       size_t k, int cold, uint32_t *last, double *median, double *max)
{
	double t[SEARCH_SAMPLES];

	for (unsigned s = 0; s < SEARCH_SAMPLES; s++) {
		long off = (long)words * search_at[k].num / search_at[k].den + search_at[k].words;
		uint32_t w = (uint32_t)(((long)(*last / 64) + off + (long)words) % (long)words);
		uint32_t want = w * 64 + (s * 7 + 3) % 64;
		unsigned char *got;
		double t0;

		if (labyrinth_free_page(lab, base + (size_t)want * BENCH_PAGE))
			die("search: free");
		if (search_at[k].search &&
		    labyrinth_alloc_pages(lab, LAB_GFP_ATOMIC | LAB_GFP_NOWARN, 1))
			die("search: a full pool gave a block");
		if (cold)
			search_evict();
		t0 = ns_now();
		got = labyrinth_alloc_page(lab, LAB_GFP_ATOMIC);
		t[s] = ns_now() - t0;
		if (got != base + (size_t)want * BENCH_PAGE)
			die("search: the one free page was not the one found");
		*last = want;
	}
	qsort(t + 1, SEARCH_SAMPLES - 1, sizeof(t[0]), cmp_double);
	*median = t[1 + (SEARCH_SAMPLES - 1) / 2];
	*max = t[SEARCH_SAMPLES - 1];
}

static void search_pool(const char *scen, size_t pages)
{
	uint32_t words = (uint32_t)(pages / 64), last = 0;
	labyrinth_t lab;
	unsigned char *base;
	size_t len, i;
	int r = search_pool_init(&lab, pages);

	if (r < 0) {
		skip(scen, strerror(-r));
		return;
	}
	if (labyrinth_region(&lab, (void **)&base, &len) < 0)
		die("search: labyrinth_region");
	for (i = 0; i < pages; i++) {
		unsigned char *pg = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC);
		if (!pg)
			die("search: could not fill the pool");
		last = (uint32_t)((size_t)(pg - base) / BENCH_PAGE);
	}
	for (int cold = 0; cold <= 1; cold++) {
		const char *mode = cold ? "cold_" : "";
		double worst_median = 0, worst = 0, median, max, cached = 0;
		char metric[64];

		for (size_t k = 0; k < sizeof(search_at) / sizeof(search_at[0]); k++) {
			search_at_position(&lab, base, words, k, cold, &last, &median, &max);
			snprintf(metric, sizeof(metric), "%s%s_median_ns", mode, search_at[k].name);
			result(scen, metric, median, "ns");
			snprintf(metric, sizeof(metric), "%s%s_max_ns", mode, search_at[k].name);
			result(scen, metric, max, "ns");
			if (!search_at[k].search)
				cached = median;
			if (search_at[k].search && median > worst_median)
				worst_median = median;
			if (search_at[k].search && max > worst)
				worst = max;
		}
		snprintf(metric, sizeof(metric), "%sworst_median_ns", mode);
		result(scen, metric, worst_median, "ns");
		snprintf(metric, sizeof(metric), "%smax_ns", mode);
		result(scen, metric, worst, "ns");
		/* What the search adds to an allocation under the same conditions. */
		snprintf(metric, sizeof(metric), "%ssearch_extra_ns", mode);
		result(scen, metric, worst_median > cached ? worst_median - cached : 0, "ns");
	}
	for (i = 0; i < pages; i++)
		if (labyrinth_free_page(&lab, base + i * BENCH_PAGE))
			die("search: free all");
	if (labyrinth_destroy(&lab))
		die("search: destroy");
}

static void scen_search(void)
{
	search_pool("search16k", 16384);
	search_pool("search256k", 262144);
}
#else
static void scen_search(void)
{
	skip("search16k", "labyrinth's own search");
	skip("search256k", "labyrinth's own search");
}
#endif

/* --------------------------------------------------------------------- main */

static void usage(FILE *f)
{
	fprintf(f,
		"usage: bench-%s [options]\n"
		"  --scenario NAME   pair | pools4 | batch256 | bulk64 | spsc | threads | latency |\n"
		"                    latency-storm | faults | syscalls | order2 | order4 |\n"
		"                    frag | search | all (default all; search: only by name)\n"
		"  --rounds N        repeat each measurement N times in this process (1)\n"
		"  --iters N         fixed operation count instead of --duration-ms\n"
		"                    (latency: samples; faults/syscalls: pairs)\n"
		"  --threads N       threads for the 'threads' scenario (2); with 'all': 1,2,4\n"
		"  --duration-ms MS  measured time per measurement (300)\n"
		"  --warmup-ms MS    unmeasured warm-up before it (60)\n"
		"  --samples N       latency samples (1000000)\n"
		"  --pages N         pool size in pages (16384)\n"
		"  --storm-us US     signal storm: one signal every US microseconds (10)\n"
		"  --touch MODE      where each get writes its byte: zero (offset 0, default)\n"
		"                    or colored (cache line = page number mod 64)\n"
		"  --node N          NUMA node N: every backend's memory (MPOL_BIND) and\n"
		"                    threads (its CPUs) there; labyrinth: LAB_POOL_NUMA\n"
		"  --quick           short runs: --duration-ms 80 --warmup-ms 20 --samples 200000\n"
		"  --list            print this backend's capabilities and exit\n"
		"Output: tab-separated 'result/skip/note/caps' lines (see bench.c).\n",
		BK_NAME);
}

/*
 * --node N: the process's memory bound to node N (MPOL_BIND, so every
 * backend's pages come from there), its threads on the node's CPUs, and
 * LAB_BENCH_NODE for the labyrinth backend's LAB_POOL_NUMA.
 */
static int bind_to_node(int node)
{
	unsigned long mask[16] = { 0 };
	char path[96], list[512], num[16];
	cpu_set_t cpus;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", node);
	f = fopen(path, "r");
	if (!f || !fgets(list, sizeof(list), f) || node >= 1024) {
		fprintf(stderr, "bench-%s: no NUMA node %d (%s)\n", BK_NAME, node, path);
		return -1;
	}
	fclose(f);
	CPU_ZERO(&cpus);
	for (char *s = list, *end; *s >= '0' && *s <= '9'; s = *end == ',' ? end + 1 : end) {
		long lo = strtol(s, &end, 10), hi = *end == '-' ? strtol(end + 1, &end, 10) : lo;
		for (; lo <= hi && lo < CPU_SETSIZE; lo++)
			CPU_SET(lo, &cpus);
	}
	mask[node / 64] = 1ul << (node % 64);
	if (sched_setaffinity(0, sizeof(cpus), &cpus) ||
	    syscall(SYS_set_mempolicy, 2 /* MPOL_BIND */, mask, 1025)) {
		fprintf(stderr, "bench-%s: binding to node %d: %s\n", BK_NAME, node, strerror(errno));
		return -1;
	}
	snprintf(num, sizeof(num), "%d", node);
	setenv("LAB_BENCH_NODE", num, 1);
	return 0;
}

static uint64_t num_arg(int argc, char **argv, int *i)
{
	char *end;
	unsigned long long v;
	if (*i + 1 >= argc) {
		fprintf(stderr, "bench-%s: %s needs a value\n", BK_NAME, argv[*i]);
		exit(2);
	}
	errno = 0;
	v = strtoull(argv[++*i], &end, 10);
	if (errno || *end) {
		fprintf(stderr, "bench-%s: bad number '%s'\n", BK_NAME, argv[*i]);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	int threads_given = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "--scenario") && i + 1 < argc)
			opt.scenario = argv[++i];
		else if (!strcmp(a, "--rounds"))
			opt.rounds = (unsigned)num_arg(argc, argv, &i);
		else if (!strcmp(a, "--iters")) {
			opt.iters = num_arg(argc, argv, &i);
			opt.iters_given = 1;
		} else if (!strcmp(a, "--threads")) {
			opt.threads = (unsigned)num_arg(argc, argv, &i);
			threads_given = 1;
		} else if (!strcmp(a, "--duration-ms"))
			opt.duration_ms = (unsigned)num_arg(argc, argv, &i);
		else if (!strcmp(a, "--warmup-ms"))
			opt.warmup_ms = (unsigned)num_arg(argc, argv, &i);
		else if (!strcmp(a, "--samples"))
			opt.samples = num_arg(argc, argv, &i);
		else if (!strcmp(a, "--pages"))
			opt.pages = (size_t)num_arg(argc, argv, &i);
		else if (!strcmp(a, "--node"))
			opt.node = (int)num_arg(argc, argv, &i);
		else if (!strcmp(a, "--storm-us"))
			opt.storm_us = (unsigned)num_arg(argc, argv, &i);
		else if (!strcmp(a, "--touch") && i + 1 < argc) {
			const char *t = argv[++i];
			if (!strcmp(t, "zero"))
				touch_mask = 0;
			else if (!strcmp(t, "colored"))
				touch_mask = 63;
			else {
				fprintf(stderr, "bench-%s: --touch zero|colored\n", BK_NAME);
				return 2;
			}
		} else if (!strcmp(a, "--quick")) {
			opt.duration_ms = 80;
			opt.warmup_ms = 20;
			opt.samples = 200000;
		} else if (!strcmp(a, "--list")) {
			printf("caps\t%s\tsignal_safe=%d\tbulk=%d\n", BK_NAME, BK_SIGNAL_SAFE, BK_HAS_BULK);
			return 0;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "bench-%s: unknown option '%s'\n", BK_NAME, a);
			usage(stderr);
			return 2;
		}
	}
	if (opt.rounds < 1)
		opt.rounds = 1;
	if (opt.pages < 4096)
		opt.pages = 4096;

	if (opt.node >= 0 && bind_to_node(opt.node) < 0)
		return 1;
	if (bk_init(opt.pages) < 0)
		return 1;
	if (bk_thread_enter() < 0)
		return 1;

	for (cur_round = 1; cur_round <= opt.rounds; cur_round++) {
		const char *sc = opt.scenario;
		int all = !strcmp(sc, "all"), known = all;
#define RUN(name, call)                          \
	if (all || !strcmp(sc, name)) {          \
		call;                            \
		known = 1;                       \
	}
		RUN("pair", scen_pair());
		RUN("pools4", scen_pools4());
		RUN("batch256", scen_batch());
		RUN("bulk64", scen_bulk());
		RUN("spsc", scen_spsc());
		if (all && !threads_given) {
			scen_threads(1);
			scen_threads(2);
			scen_threads(4);
		} else
			RUN("threads", scen_threads(opt.threads));
		RUN("latency", scen_latency(0));
		RUN("latency-storm", scen_latency(1));
		RUN("faults", scen_faults(0));
		RUN("order2", scen_order("order2", 2));
		RUN("order4", scen_order("order4", 4));
		RUN("frag", scen_frag());
		if (!strcmp(sc, "search")) { /* labyrinth's search, not in "all" */
			scen_search();
			known = 1;
		}
		if (!strcmp(sc, "syscalls")) {
			scen_faults(1);
			known = 1;
		}
#undef RUN
		if (!known) {
			fprintf(stderr, "bench-%s: unknown scenario '%s'\n", BK_NAME, sc);
			return 2;
		}
	}
	bk_thread_leave();
	bk_fini();
	return 0;
}
