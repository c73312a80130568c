/* SPDX-License-Identifier: MIT */
/*
 * nic_demo.c - labyrinth-nic-demo, the receive path that labyrinth is for.
 *
 * The story.  A network card receives data at 100 Gbit/s: a 1500-byte
 * frame about every 120 ns, 8.2 million of them a second.  When a frame
 * arrives, the driver needs a place to put it *right now*.  It runs where
 * it cannot sleep (in the kernel: an interrupt or softirq; here: a thread
 * standing in for the hardware), so it cannot pause to wait for memory: it
 * asks for a page with GFP_ATOMIC.  If there is no page, it does what every NIC does:
 * it drops the frame, counts it (rx_missed) and takes the next one.  Waiting
 * would be worse than dropping: the wire does not wait, and every frame
 * behind this one would be lost too.
 *
 * It asks for an *exclusive* page: from the allocation until the free, the
 * page belongs to this frame and to nobody else.  The NIC writes the frame
 * into it, hands it to a CPU through the rx descriptor ring, and the CPU
 * reads it knowing that no other frame, thread or process can touch the
 * data before it has processed it.  Then the CPU gives the page back.
 *
 *     labyrinth_void_alloc_page_gfp_atomic_exclusive(&rx_pool)
 *
 * is that call: one page, now, for one owner, or NULL at once.
 *
 * The simulation.  One "NIC" thread plays the wire and the card: it offers
 * frames as fast as it can, steering them round-robin (as RSS would) to one
 * rx ring per worker.  For each frame it needs a free descriptor (else the
 * frame is dropped as rx_no_desc: that CPU is behind) and a page (else the
 * frame is dropped as rx_missed: the pool is dry).  It writes a frame into
 * the page - a header with a per-ring sequence number, the length, a
 * payload pattern and a checksum - and publishes the descriptor.  The worker
 * threads are the CPUs: each takes the frames of its ring in order, checks
 * the header, the sequence number and the checksum, overwrites the header
 * (so a page handed out twice could not pass twice), and frees the page.
 *
 * Each ring is single-producer single-consumer: the NIC writes the page and
 * the descriptor, then publishes the ring head with a release store; the
 * worker reads the head with an acquire load before it reads the descriptor
 * and the page.  The way back - the worker's writes to the page before its
 * free, the NIC's writes after the next allocation of the same page - is
 * ordered by the pool itself.  Every counter that two threads see is an
 * atomic, so the demo is clean under ThreadSanitizer.
 *
 * Because the simulated wire is only as fast as the NIC thread, the drop
 * counters count frames the NIC thread offered and could not place; on a
 * real port they would be frames lost at line rate.
 *
 * Exit status: 0 when every frame verified, no page leaked and the pool's
 * own audit and counters agree; 1 otherwise; 2 on bad usage.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <labyrinth.h>

#include "example_common.h"

#define CACHELINE 64
#define MAX_WORKERS 64
#define FRAME_MIN 64          /* the smallest Ethernet frame */
#define FRAME_MAGIC 0x1ab5u
#define WIRE_OVERHEAD 20      /* preamble + start delimiter (8) + inter-frame gap (12) */
#define LINE_RATE_BPS 100e9   /* the port we pretend to be */
#define MAX_REPORTS 10        /* frame errors described on stderr */

/* What the NIC writes at the start of every page. */
struct frame_hdr {
	uint64_t seq;   /* per-ring sequence number: 1, 2, 3, ... */
	uint32_t len;   /* frame length in bytes, header included */
	uint16_t ring;  /* the rx ring (queue) the frame was steered to */
	uint16_t magic; /* FRAME_MAGIC; the worker overwrites it when done */
	uint64_t csum;  /* checksum of the payload (the bytes after the header) */
};

/*
 * One rx descriptor ring: single producer (the NIC), single consumer (one
 * worker).  head and tail count descriptors forever; slot = count % size.
 * Each side keeps a private copy of the other side's index on its own cache
 * line and rereads the shared one only when the copy says full or empty.
 */
struct rx_ring {
	_Alignas(CACHELINE) _Atomic uint64_t head; /* NIC: next descriptor to fill */
	uint64_t tail_seen;                         /* NIC's copy of tail */
	_Alignas(CACHELINE) _Atomic uint64_t tail; /* worker: next descriptor to take */
	uint64_t head_seen;                         /* worker's copy of head */
	_Alignas(CACHELINE) void **desc;           /* size descriptors: page addresses */
	uint64_t size;
};

/* A worker (a CPU) and its ring; counters written by the worker only. */
struct worker {
	struct rx_ring ring;
	_Alignas(CACHELINE) _Atomic uint64_t frames; /* frames taken from the ring */
	_Atomic uint64_t errors;                      /* frames that failed verification */
	_Atomic uint64_t bad_frees;                   /* labyrinth_free_page() errors */
	pthread_t tid;
	unsigned int id;
};

/* The NIC's counters, written by the NIC thread only. */
struct nic_counters {
	_Alignas(CACHELINE) _Atomic uint64_t rx_packets; /* frames placed in a page and a ring */
	_Atomic uint64_t rx_bytes;
	_Atomic uint64_t rx_missed;  /* no page: the allocation failed */
	_Atomic uint64_t rx_no_desc; /* no descriptor: the ring was full */
};

/* The pool the NIC receives into: declared statically, as the API allows. */
static labyrinth_t rx_pool;

static const char *prog = "labyrinth-nic-demo";

static struct worker *workers;
static unsigned int nr_workers = 2;
static uint32_t frame_size = 1500;
static struct nic_counters nic;
static _Atomic bool nic_stop;     /* main -> NIC: stop receiving */
static _Atomic bool nic_done;     /* main -> workers: the NIC has stopped */
static _Atomic unsigned int reports;

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

/*
 * The NIC could not place a frame (full ring, dry pool).  It counted the
 * drop and goes on with the next frame; every 64th drop it also gives its
 * CPU away for a moment, because the demo's threads may outnumber the cores
 * and the worker that is behind may be waiting for this very core.  The
 * count is not reset by a success: with one ring full and another keeping
 * up, the NIC would otherwise never yield.  This is the simulation being
 * polite, not the allocator waiting: the allocation has already returned.
 */
static void backoff(unsigned int *spins)
{
	if (++*spins < 64) {
		cpu_relax();
	} else {
		*spins = 0;
		sched_yield();
	}
}

/*
 * A worker whose ring stays empty naps like a driver that re-enables its
 * interrupt (NAPI): 20 us, a few thousand frames' worth of ring at most.
 */
static void idle(unsigned int *spins)
{
	if (++*spins < 256) {
		cpu_relax();
	} else if (*spins < 512) {
		sched_yield();
	} else {
		struct timespec nap = { 0, 20000 };

		*spins = 0;
		nanosleep(&nap, NULL);
	}
}

/* ---- frames ---------------------------------------------------------- */

/* Payload word i of the frame with sequence number seq. */
static inline uint64_t pattern(uint64_t seq, uint64_t i)
{
	return seq * 0x9e3779b97f4a7c15ull + i * 0x0101010101010101ull;
}

/* Fletcher-style: position-sensitive, two adds per 8 bytes. */
struct csum {
	uint64_t a, b;
};

static inline void csum_add(struct csum *c, uint64_t w)
{
	c->a += w;
	c->b += c->a;
}

static inline uint64_t csum_final(const struct csum *c)
{
	return c->a ^ (c->b << 32 | c->b >> 32);
}

/* The NIC's DMA: write a whole frame into page. */
static void write_frame(unsigned char *page, uint64_t seq, uint16_t ring, uint32_t len)
{
	struct frame_hdr h = { .seq = seq, .len = len, .ring = ring, .magic = FRAME_MAGIC };
	unsigned char *pay = page + sizeof(h);
	size_t n = len - sizeof(h), i;
	struct csum c = { 0, 0 };
	uint64_t w;

	for (i = 0; i + 8 <= n; i += 8) {
		w = pattern(seq, i / 8);
		memcpy(pay + i, &w, 8);
		csum_add(&c, w);
	}
	if (i < n) { /* the tail: the pattern's next word, cut short */
		uint64_t last = pattern(seq, i / 8), t = 0;

		memcpy(pay + i, &last, n - i);
		memcpy(&t, &last, n - i);
		csum_add(&c, t);
	}
	h.csum = csum_final(&c);
	memcpy(page, &h, sizeof(h));
}

static uint64_t payload_csum(const unsigned char *pay, size_t n)
{
	struct csum c = { 0, 0 };
	uint64_t w;
	size_t i;

	for (i = 0; i + 8 <= n; i += 8) {
		memcpy(&w, pay + i, 8);
		csum_add(&c, w);
	}
	if (i < n) {
		w = 0;
		memcpy(&w, pay + i, n - i);
		csum_add(&c, w);
	}
	return csum_final(&c);
}

/* The CPU's check of a received frame; NULL if good, else what is wrong. */
static const char *verify_frame(const unsigned char *page, const struct frame_hdr *h,
				uint64_t expect_seq, uint16_t ring)
{
	if (!labyrinth_owns(&rx_pool, page))
		return "page is not from rx_pool";
	if (h->magic != FRAME_MAGIC)
		return "bad magic (page overwritten or handed out twice?)";
	if (h->ring != ring)
		return "frame of another ring (page handed out twice?)";
	if (h->len != frame_size)
		return "bad length";
	if (h->seq != expect_seq)
		return "sequence number out of order";
	if (h->csum != payload_csum(page + sizeof(*h), h->len - sizeof(*h)))
		return "bad checksum";
	return NULL;
}

/* ---- the NIC --------------------------------------------------------- */

static void *nic_main(void *arg)
{
	uint64_t packets = 0, bytes = 0, missed = 0, no_desc = 0;
	uint64_t seq[MAX_WORKERS] = { 0 };
	unsigned int q = 0, spins = 0;

	(void)arg;
	while (!atomic_load_explicit(&nic_stop, memory_order_relaxed)) {
		/* A frame arrives; RSS steers it to queue q. */
		unsigned int ri = q;
		struct rx_ring *r = &workers[ri].ring;
		uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
		unsigned char *page;

		if (++q == nr_workers)
			q = 0;

		/* A free descriptor?  If the ring is full, that CPU is behind. */
		if (head - r->tail_seen >= r->size) {
			r->tail_seen = atomic_load_explicit(&r->tail, memory_order_acquire);
			if (head - r->tail_seen >= r->size) {
				atomic_store_explicit(&nic.rx_no_desc, ++no_desc,
						      memory_order_relaxed);
				backoff(&spins);
				continue;
			}
		}

		/*
		 * The data is on the wire now and needs a place now.  ATOMIC:
		 * never sleeps, never makes a system call, may use the
		 * emergency reserve.  Exclusive: the page is this frame's
		 * alone until the worker frees it.
		 */
		page = labyrinth_void_alloc_page_gfp_atomic_exclusive(&rx_pool);
		if (!page) {
			/* Pool dry: drop the frame like a NIC does, and go on. */
			atomic_store_explicit(&nic.rx_missed, ++missed, memory_order_relaxed);
			backoff(&spins);
			continue;
		}

		write_frame(page, ++seq[ri], (uint16_t)ri, frame_size);
		r->desc[head % r->size] = page;
		/* Publish: the page contents and the descriptor before the head. */
		atomic_store_explicit(&r->head, head + 1, memory_order_release);

		atomic_store_explicit(&nic.rx_packets, ++packets, memory_order_relaxed);
		bytes += frame_size;
		atomic_store_explicit(&nic.rx_bytes, bytes, memory_order_relaxed);
	}
	return NULL;
}

/* ---- the workers ----------------------------------------------------- */

static void report(const struct worker *w, const void *page, const struct frame_hdr *h,
		   uint64_t expect, const char *what)
{
	unsigned int n = atomic_fetch_add_explicit(&reports, 1, memory_order_relaxed);

	if (n < MAX_REPORTS)
		fprintf(stderr, "\nworker %u: frame error: %s (page %p seq %" PRIu64
			" expected %" PRIu64 " ring %u len %u)\n", w->id, what, page,
			h->seq, expect, (unsigned int)h->ring, (unsigned int)h->len);
	else if (n == MAX_REPORTS)
		fprintf(stderr, "\n(further frame errors not shown)\n");
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct rx_ring *r = &w->ring;
	uint64_t expect = 1, frames = 0, errors = 0, bad_frees = 0;
	unsigned int spins = 0;

	for (;;) {
		uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
		struct frame_hdr h;
		unsigned char *page;
		const char *err;
		int ret;

		if (tail == r->head_seen) {
			/* Acquire: the descriptor and the page come with the head. */
			r->head_seen = atomic_load_explicit(&r->head, memory_order_acquire);
			if (tail == r->head_seen) {
				/* Empty.  Done once the NIC has stopped and the ring
				 * is still empty after that. */
				if (atomic_load_explicit(&nic_done, memory_order_acquire)) {
					r->head_seen = atomic_load_explicit(
						&r->head, memory_order_acquire);
					if (tail == r->head_seen)
						break;
					continue;
				}
				idle(&spins);
				continue;
			}
		}
		spins = 0;

		page = r->desc[tail % r->size];
		memcpy(&h, page, sizeof(h));
		err = verify_frame(page, &h, expect, (uint16_t)w->id);
		if (err) {
			report(w, page, &h, expect, err);
			atomic_store_explicit(&w->errors, ++errors, memory_order_relaxed);
			if (h.magic == FRAME_MAGIC && h.ring == w->id && h.seq >= expect)
				expect = h.seq; /* resynchronise */
		}
		expect++;

		/* Processed: spoil the header, then give the page back. */
		memset(page, 0xdb, sizeof(h));
		ret = labyrinth_free_page(&rx_pool, page);
		if (ret < 0) {
			fprintf(stderr, "\nworker %u: labyrinth_free_page(%p): %s\n", w->id,
				(void *)page, strerror(-ret));
			atomic_store_explicit(&w->bad_frees, ++bad_frees, memory_order_relaxed);
		}
		atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
		atomic_store_explicit(&w->frames, ++frames, memory_order_relaxed);
	}
	return NULL;
}

/* ---- progress and summary -------------------------------------------- */

struct sample {
	double t;
	uint64_t frames, bytes;
};

static uint64_t sum_workers(size_t offset)
{
	uint64_t sum = 0;
	unsigned int i;

	for (i = 0; i < nr_workers; i++)
		sum += atomic_load_explicit((_Atomic uint64_t *)((char *)&workers[i] + offset),
					    memory_order_relaxed);
	return sum;
}

/* A count in at most 6 characters: 999999, 1.23M, 45.6G. */
static void compact(char buf[16], uint64_t v)
{
	if (v < 1000000)
		snprintf(buf, 16, "%" PRIu64, v);
	else if (v < 1000000000)
		snprintf(buf, 16, "%.2fM", (double)v / 1e6);
	else
		snprintf(buf, 16, "%.1fG", (double)v / 1e9);
}

static void progress(bool tty, double t0, struct sample *prev, uint64_t *min_free)
{
	struct labyrinth_stats st;
	struct sample cur;
	struct winsize ws;
	char line[256], failed[16], no_desc[16];
	double dt, rate, gbps;
	uint64_t errors;
	int len;

	cur.t = ex_now();
	cur.frames = atomic_load_explicit(&nic.rx_packets, memory_order_relaxed);
	cur.bytes = atomic_load_explicit(&nic.rx_bytes, memory_order_relaxed);
	if (labyrinth_stats(&rx_pool, &st) < 0)
		memset(&st, 0, sizeof(st));
	if (st.pages_free < *min_free)
		*min_free = st.pages_free;
	dt = cur.t - prev->t;
	if (dt <= 0)
		dt = 1e-9;

	rate = (double)(cur.frames - prev->frames) / dt / 1e6;
	gbps = (double)(cur.bytes - prev->bytes) * 8 / dt / 1e9;
	compact(failed, st.alloc_failed);
	compact(no_desc, atomic_load_explicit(&nic.rx_no_desc, memory_order_relaxed));
	errors = sum_workers(offsetof(struct worker, errors));
	len = snprintf(line, sizeof(line),
		       "%6.1f s %6.3f Mpages/s %6.2f Gbit/s  pool free %5" PRIu64 " in use %5" PRIu64
		       "  failed %s  no_desc %s  errors %" PRIu64, cur.t - t0, rate, gbps,
		       st.pages_free, st.pages_inuse, failed, no_desc, errors);
	if (!tty) {
		printf("%s\n", line);
	} else {
		/* One line that rewrites itself must never wrap: on a narrow
		 * terminal say less, and cut what still does not fit. */
		if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
		    len >= ws.ws_col) {
			len = snprintf(line, sizeof(line),
				       "%5.1fs %5.2f Mpg/s %5.1f Gb/s free %" PRIu64 " fail %s"
				       " nodesc %s err %" PRIu64, cur.t - t0, rate, gbps,
				       st.pages_free, failed, no_desc, errors);
			if (len >= ws.ws_col)
				line[ws.ws_col - 1] = '\0';
		}
		printf("\r%s\033[K", line);
	}
	fflush(stdout);
	*prev = cur;
}

/* ---- set-up ---------------------------------------------------------- */

static void usage(FILE *out, const char *argv0)
{
	fprintf(out,
		"usage: %s [options]\n"
		"\n"
		"A simulated 100 Gbit/s NIC receives frames into pages taken with\n"
		"labyrinth_void_alloc_page_gfp_atomic_exclusive(): it never waits for\n"
		"memory; when the pool is dry it drops the frame (rx_missed) and goes on.\n"
		"Worker threads verify every frame and free its page.\n"
		"\n"
		"  -d, --duration SECONDS  how long to receive (default 10; Ctrl-C stops early)\n"
		"  -w, --workers N         worker threads, one rx ring each (default 2, max %d)\n"
		"  -p, --pages N           pages in the pool (default 4096)\n"
		"  -r, --ring N            descriptors per rx ring (default 1024)\n"
		"  -s, --frame-size BYTES  frame size (default 1500, %d..page size)\n"
		"      --reserve N         emergency reserve: pages only ATOMIC may take (default 0)\n"
		"      --debug             LAB_POOL_DEBUG: poison freed pages, catch double frees\n"
		"      --no-lock           LAB_POOL_NOLOCK: do not mlock the pool\n"
		"      --node N            the pool's pages on NUMA node N (LAB_POOL_NUMA), and\n"
		"                          the NIC and worker threads on that node's CPUs\n"
		"  -h, --help              this text\n"
		"\n"
		"Make the pool smaller than workers x ring (e.g. -p 512) to watch it run dry.\n"
		"Exit status: 0 if every frame verified and no page leaked, 1 if not, 2 on bad usage.\n",
		argv0, MAX_WORKERS, FRAME_MIN);
}

int main(int argc, char **argv)
{
	enum { OPT_RESERVE = 256, OPT_DEBUG, OPT_NOLOCK, OPT_NODE };
	static const struct option longopts[] = {
		{ "duration", required_argument, NULL, 'd' },
		{ "workers", required_argument, NULL, 'w' },
		{ "pages", required_argument, NULL, 'p' },
		{ "ring", required_argument, NULL, 'r' },
		{ "frame-size", required_argument, NULL, 's' },
		{ "reserve", required_argument, NULL, OPT_RESERVE },
		{ "debug", no_argument, NULL, OPT_DEBUG },
		{ "no-lock", no_argument, NULL, OPT_NOLOCK },
		{ "node", required_argument, NULL, OPT_NODE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct labyrinth_params params = { .name = "rx", .nr_pages = 4096 };
	unsigned long ring_size = 1024, fs = 1500;
	double duration = 10, t0, t_end, next, elapsed;
	struct labyrinth_stats st;
	sigset_t block, old;
	struct sample prev;
	pthread_t nic_tid;
	uint64_t min_free, frames, errors, bad_frees, rx_packets, rx_missed, rx_no_desc;
	unsigned int i, created = 0;
	bool tty = isatty(STDOUT_FILENO), ok = true, unlocked;
	int c, ret;

	while ((c = getopt_long(argc, argv, "d:w:p:r:s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd': {
			char *end;

			errno = 0;
			duration = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(duration > 0) || duration > 1e7) {
				fprintf(stderr, "labyrinth-nic-demo: bad duration '%s'\n", optarg);
				return 2;
			}
			break;
		}
		case 'w':
			nr_workers = (unsigned int)ex_parse_ul(prog, optarg, "worker count", 1,
							       MAX_WORKERS);
			break;
		case 'p':
			params.nr_pages = ex_parse_ul(prog, optarg, "page count", 1, 1ul << 28);
			break;
		case 'r':
			ring_size = ex_parse_ul(prog, optarg, "ring size", 1, 1ul << 24);
			break;
		case 's':
			fs = ex_parse_ul(prog, optarg, "frame size", FRAME_MIN, LAB_PAGE_1G);
			break;
		case OPT_RESERVE:
			params.reserve_pages = ex_parse_ul(prog, optarg, "reserve", 0, 1ul << 28);
			break;
		case OPT_DEBUG:
			params.flags |= LAB_POOL_DEBUG;
			break;
		case OPT_NOLOCK:
			params.flags |= LAB_POOL_NOLOCK;
			break;
		case OPT_NODE: {
			cpu_set_t cpus;

			params.flags |= LAB_POOL_NUMA;
			params.numa_node = (unsigned int)ex_parse_ul(prog, optarg, "node", 0, 1023);
			/* the threads (created later) inherit the affinity */
			if (ex_node_cpus((int)params.numa_node, &cpus) ||
			    sched_setaffinity(0, sizeof(cpus), &cpus)) {
				fprintf(stderr, "labyrinth-nic-demo: node %s has no CPU here\n",
					optarg);
				return 2;
			}
			break;
		}
		case 'h':
			usage(stdout, argv[0]);
			return 0;
		default:
			usage(stderr, argv[0]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "labyrinth-nic-demo: unexpected argument '%s'\n", argv[optind]);
		usage(stderr, argv[0]);
		return 2;
	}
	if (params.reserve_pages >= params.nr_pages) {
		fprintf(stderr, "labyrinth-nic-demo: --reserve must be below --pages\n");
		return 2;
	}

	ret = ex_init_pool(&rx_pool, &params, &unlocked);
	if (unlocked)
		ex_nolock_note("labyrinth-nic-demo", params.nr_pages);
	if (ret < 0) {
		ex_init_failed("labyrinth-nic-demo", ret);
		if (ret == -ENOMEM)
			fprintf(stderr, "(the pool is locked in memory: raise 'ulimit -l', "
					"use fewer --pages, or pass --no-lock)\n");
		return 1;
	}
	if (fs > labyrinth_page_size(&rx_pool)) {
		fprintf(stderr, "labyrinth-nic-demo: frame size %lu is larger than a page (%zu)\n",
			fs, labyrinth_page_size(&rx_pool));
		labyrinth_destroy(&rx_pool);
		return 2;
	}
	frame_size = (uint32_t)fs;

	workers = aligned_alloc(CACHELINE, sizeof(*workers) * nr_workers);
	if (!workers) {
		perror("labyrinth-nic-demo: aligned_alloc");
		return 1;
	}
	memset(workers, 0, sizeof(*workers) * nr_workers);
	for (i = 0; i < nr_workers; i++) {
		workers[i].id = i;
		workers[i].ring.size = ring_size;
		workers[i].ring.desc = calloc(ring_size, sizeof(void *));
		if (!workers[i].ring.desc) {
			perror("labyrinth-nic-demo: calloc");
			return 1;
		}
	}

	/* Ctrl-C stops early; only the main thread takes the signal. */
	ex_catch_stop_signals(SA_RESETHAND); /* a second Ctrl-C kills */
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &block, &old);

	printf("labyrinth-nic-demo: 1 NIC + %u worker%s, pool of %zu x %zu-byte pages "
	       "(reserve %zu), %u x %lu descriptors, %u-byte frames, %.1f s\n",
	       nr_workers, nr_workers == 1 ? "" : "s", params.nr_pages,
	       labyrinth_page_size(&rx_pool), params.reserve_pages, nr_workers, ring_size,
	       frame_size, duration);
	fflush(stdout);

	for (i = 0; i < nr_workers; i++) {
		char name[16];

		ret = pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]);
		if (ret) {
			fprintf(stderr, "labyrinth-nic-demo: pthread_create: %s\n", strerror(ret));
			ok = false;
			break;
		}
		created++;
		snprintf(name, sizeof(name), "lab-worker%u", i % 100u);
		pthread_setname_np(workers[i].tid, name);
	}
	t0 = ex_now();
	if (ok) {
		ret = pthread_create(&nic_tid, NULL, nic_main, NULL);
		if (ret) {
			fprintf(stderr, "labyrinth-nic-demo: pthread_create: %s\n", strerror(ret));
			ok = false;
		} else {
			pthread_setname_np(nic_tid, "lab-nic");
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);

	/* The live display: 4 times a second on a terminal, once a second in a pipe. */
	prev = (struct sample){ .t = t0 };
	min_free = params.nr_pages;
	t_end = t0 + duration;
	next = t0;
	while (ok && !ex_interrupted) {
		double t = ex_now(), step = tty ? 0.25 : 1.0, wake;

		if (t >= t_end)
			break;
		next += step;
		wake = next < t_end ? next : t_end;
		ex_sleep(wake - t); /* EINTR on Ctrl-C: fine */
		if (!ex_interrupted && ex_now() < t_end)
			progress(tty, t0, &prev, &min_free);
	}

	/* Stop the NIC, then let the workers drain their rings and stop. */
	atomic_store_explicit(&nic_stop, true, memory_order_relaxed);
	if (ok)
		pthread_join(nic_tid, NULL);
	elapsed = ex_now() - t0;
	atomic_store_explicit(&nic_done, true, memory_order_release);
	for (i = 0; i < created; i++)
		pthread_join(workers[i].tid, NULL);
	if (tty)
		printf("\n");

	/* ---- summary: everything is joined, so every count is exact. */
	rx_packets = atomic_load(&nic.rx_packets);
	rx_missed = atomic_load(&nic.rx_missed);
	rx_no_desc = atomic_load(&nic.rx_no_desc);
	frames = sum_workers(offsetof(struct worker, frames));
	errors = sum_workers(offsetof(struct worker, errors));
	bad_frees = sum_workers(offsetof(struct worker, bad_frees));
	if (labyrinth_stats(&rx_pool, &st) < 0) {
		fprintf(stderr, "labyrinth-nic-demo: labyrinth_stats failed\n");
		memset(&st, 0xff, sizeof(st));
		ok = false;
	}

	printf("%s after %.2f s:\n", ex_interrupted ? "interrupted" : "done", elapsed);
	printf("  frames received  %12" PRIu64 "  (%.3f M/s, %.2f Gbit/s; 100 Gbit/s of %u-byte"
	       " frames is %.2f M/s)\n", rx_packets, (double)rx_packets / elapsed / 1e6,
	       (double)rx_packets * frame_size * 8 / elapsed / 1e9, frame_size,
	       LINE_RATE_BPS / ((frame_size + WIRE_OVERHEAD) * 8.0) / 1e6);
	printf("  frames verified  %12" PRIu64 "\n", frames - errors);
	printf("  rx_missed        %12" PRIu64 "  (pool dry: allocation failed, frame dropped)\n",
	       rx_missed);
	printf("  rx_no_desc       %12" PRIu64 "  (rx ring full: frame dropped)\n", rx_no_desc);
	printf("  frame errors     %12" PRIu64 "\n", errors);
	printf("  pool             %12" PRIu64 "  pages in use after join; lowest free seen %"
	       PRIu64 ", reserve allocations %" PRIu64 "\n", st.pages_inuse, min_free,
	       st.reserve_allocs);

	if (errors) {
		printf("FAIL: %" PRIu64 " frames failed verification\n", errors);
		ok = false;
	}
	if (frames != rx_packets) {
		printf("FAIL: %" PRIu64 " frames received but %" PRIu64 " processed\n",
		       rx_packets, frames);
		ok = false;
	}
	if (st.pages_inuse != 0) {
		printf("FAIL: %" PRIu64 " pages leaked\n", st.pages_inuse);
		ok = false;
	}
	if (bad_frees || st.bad_frees) {
		printf("FAIL: %" PRIu64 " frees rejected\n", bad_frees ? bad_frees : st.bad_frees);
		ok = false;
	}
	if (st.allocs != rx_packets || st.frees != frames || st.alloc_failed != rx_missed) {
		printf("FAIL: pool counters disagree: allocs %" PRIu64 " (NIC %" PRIu64
		       "), frees %" PRIu64 " (workers %" PRIu64 "), failed %" PRIu64
		       " (rx_missed %" PRIu64 ")\n", st.allocs, rx_packets, st.frees, frames,
		       st.alloc_failed, rx_missed);
		ok = false;
	}
	fflush(stdout);
	if (labyrinth_check(&rx_pool) < 0) {
		printf("FAIL: labyrinth_check found the pool inconsistent\n");
		ok = false;
	}
	printf("\n");
	labyrinth_dump(&rx_pool, stdout);
	fflush(stdout);
	ret = labyrinth_destroy(&rx_pool);
	if (ret < 0) {
		printf("FAIL: labyrinth_destroy: %s\n", strerror(-ret));
		ok = false;
	}
	for (i = 0; i < nr_workers; i++)
		free(workers[i].ring.desc);
	free(workers);
	printf("%s\n", ok ? "PASS: every frame verified, no page leaked" : "FAIL");
	return ok ? 0 : 1;
}
