/* SPDX-License-Identifier: MIT */
/*
 * xdp_rx.c - labyrinth-xdp-rx: AF_XDP receive straight into pool pages,
 * frames given back by the worker threads that used them.
 *
 * AF_XDP leaves frame management to the application: the UMEM is a region
 * it registers, the fill ring is where it hands the kernel free frames,
 * the rx ring where it gets them back full.  Here the UMEM is a labyrinth
 * pool (labyrinth_region(): one contiguous, populated, locked region; a
 * frame is a page, its UMEM address page - base):
 *
 *  - the rx thread tops up the fill ring with
 *    labyrinth_alloc_bulk(LAB_GFP_ATOMIC), which never waits;
 *  - it takes each received frame off the rx ring and passes it to one of
 *    N worker threads (by flow, so each flow's order is kept);
 *  - the worker checks the frame (headers, sequence, checksum over every
 *    byte) and frees it itself with labyrinth_free_bulk(): no queue back
 *    to the rx thread, no lock;
 *  - labyrinth_watch() on the pool wakes the rx thread's poll() when free
 *    pages fall below a mark: the fill ring is about to run dry, before
 *    the kernel drops anything.
 *
 * Two baselines, same traffic, same checks, so that the table compares
 * what AF_XDP programs do today:
 *  --mode stack  the tutorial's frame allocator: a plain array stack of
 *                free frame addresses owned by the rx thread; workers hand
 *                frames back through a ring to the rx thread, which
 *                pushes them;
 *  --mode mutex  a shared free list behind a pthread mutex that workers
 *                push to and the rx thread pops from.
 *  Their UMEM is an mmap()ed, populated area, as in the tutorial.
 *
 * The XDP program is attached through a BPF link, after the fill ring is
 * full: the kernel removes it when the process ends, however it ends
 * (SIGKILL included), and an interface that already has a program is
 * refused, never taken over.  Frames bigger than a UMEM frame are refused
 * at start (the interface's MTU against the frame size less the kernel's
 * headroom).
 *
 * Workers keep the frames they free in their labyrinth caches (at most an
 * eighth of the pool for all caches); when the rx thread finds the pool
 * empty or the watch fires, it asks them for those frames back
 * (labyrinth_flush_cache()), so the fill ring never starves while its
 * own workers hold free frames.
 *
 * At the end the XDP program is detached, the rx ring drained and the
 * workers joined; then every frame is accounted for: frames out of the
 * pool == frames in the kernel (posted in the fill ring) + frames in
 * flight; after the socket is gone, zero.
 *
 * Exit status: 0 all checks passed, something was verified and no frame
 * lost; 1 errors (a busy interface, an MTU too big for the frames, nothing
 * verified, fewer packets than --expect); 2 bad usage; 3 AF_XDP not
 * available (no CONFIG_XDP_SOCKETS, not root).
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <linux/futex.h>
#include <linux/if_link.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/xsk.h>

#include <labyrinth.h>

#include "xdp_common.h"
#include "xdp_redirect_obj.h"

#define MAX_WORKERS 16
#define RX_BATCH 64
#define EXIT_NO_XDP 3

enum mode { MODE_LAB, MODE_STACK, MODE_MUTEX };
static const char *const mode_name[] = { "labyrinth", "stack", "mutex" };

static const char *prog = "labyrinth-xdp-rx";

static struct {
	const char *ifname;
	unsigned int queue, port, workers, fill;
	size_t frames, low;
	enum mode mode;
	bool generic, zerocopy, secret;
	struct ex_rx_opts run;
} opt = {
	.port = XDP_DEFAULT_PORT,
	.workers = 2,
	.frames = 4096,
	.run.duration = 10,
};

/* ---- frames: where they are ------------------------------------------------ */

static unsigned char *umem;     /* the pool's region, or the baselines' mmap */
static size_t umem_len, nframes;
static labyrinth_t pool;        /* MODE_LAB */
static uint8_t *in_kernel;      /* per frame: posted to the fill ring, not yet back */

/* MODE_STACK: the rx thread's own stack of free frame addresses. */
static uint64_t *stack;
static size_t stack_top;

/* MODE_MUTEX: one shared free list. */
static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *list;
static size_t list_top;

/* ---- rx thread -> worker queues ------------------------------------------- */

struct item {
	uint64_t addr; /* UMEM address of the packet data */
	uint32_t len;
};

/* Single producer (the rx thread), single consumer (one worker).  Each
 * queue can hold every frame, so it never fills. */
struct queue {
	_Alignas(64) _Atomic uint32_t tail; /* producer's */
	_Atomic int sleeping;
	_Alignas(64) _Atomic uint32_t head; /* consumer's */
	uint32_t mask;
	struct item *items;
};

/* MODE_STACK: worker -> rx thread, frames handed back. */
struct back {
	_Alignas(64) _Atomic uint32_t tail;
	_Alignas(64) _Atomic uint32_t head;
	uint32_t mask;
	uint64_t *addrs;
};

struct flow {
	uint64_t next, received;
};

struct worker {
	pthread_t thread;
	unsigned int id;
	struct queue q;
	struct back back;
	struct flow *flows;
	struct flow iperf_flow;
	_Atomic uint64_t returned; /* frames this worker gave back */
	uint64_t packets, bytes, verified, foreign, csum_errors, len_errors, gaps, reorders;
	uint64_t iperf, iperf_gaps, free_errors, ip_csum_errors;
	uint64_t iperf_sent; /* by iperf's first final datagram; 0: none seen */
	uint64_t flushed; /* cached frames handed back on the rx thread's request */
	_Atomic uint32_t flush_seen; /* the last flush_gen this worker served */
};

static struct worker workers[MAX_WORKERS];
static _Atomic int stop_workers, stalled;
/* Bumped by the rx thread when it finds no free frame (or the watch
 * fires): each worker then gives its cached frames back, once per bump. */
static _Atomic uint32_t flush_gen;

static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *ts)
{
	return syscall(SYS_futex, addr, op, val, ts, NULL, 0);
}

/* ---- the workers ------------------------------------------------------------ */

static void check_payload(struct worker *w, const unsigned char *p, uint32_t len)
{
	struct udp_hdr h;
	struct flow *f;
	uint64_t sum;

	if (len < sizeof(h)) {
		w->foreign++;
		return;
	}
	memcpy(&h, p, sizeof(h));
	sum = udp_payload_csum(p + sizeof(h), len - sizeof(h)); /* reads every byte */
	if (h.magic != UDP_MAGIC) {
		w->foreign++;
		if (opt.run.iperf && len >= 4) { /* iperf 2: big-endian sequence first */
			int32_t id = (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
					       (uint32_t)p[2] << 8 | p[3]);

			if (id >= 0) {
				w->iperf++;
				if (w->iperf_flow.received++ && (uint64_t)id > w->iperf_flow.next)
					w->iperf_gaps += (uint64_t)id - w->iperf_flow.next;
				if ((uint64_t)id >= w->iperf_flow.next)
					w->iperf_flow.next = (uint64_t)id + 1;
			} else if (id != INT32_MIN) {
				/* The end: datagrams 1..N went out, then final ones
				 * numbered -(N+1), -(N+2)... while iperf waits for
				 * a server's report (which no one sends here). */
				uint64_t n = (uint64_t)-(int64_t)id - 1;

				if (!w->iperf_sent || n < w->iperf_sent)
					w->iperf_sent = n;
			}
		}
		return;
	}
	if (h.len != len || h.flow >= UDP_MAX_FLOWS) {
		w->len_errors++;
		return;
	}
	if ((sum ^ udp_hdr_mix(h.flow, h.seq, h.len)) != h.csum) {
		w->csum_errors++;
		return;
	}
	w->verified++;
	f = &w->flows[h.flow];
	f->received++;
	if (h.seq == f->next) {
		f->next++;
	} else if (h.seq > f->next) {
		w->gaps += h.seq - f->next;
		f->next = h.seq + 1;
	} else {
		w->reorders++;
	}
}

static void process(struct worker *w, const struct item *it)
{
	const unsigned char *payload;
	uint32_t plen;
	uint16_t sport, dport;

	w->packets++;
	w->bytes += it->len;
	if (xdp_parse_udp(umem + it->addr, it->len, &payload, &plen, &sport, &dport) < 0 ||
	    dport != opt.port) {
		w->foreign++; /* ARP, IPv6, another port: counted, not checked */
		return;
	}
	if (!xdp_ip_csum_ok(umem + it->addr)) {
		w->ip_csum_errors++;
		return;
	}
	check_payload(w, payload, plen);
}

/* Give a batch of frames back, each mode its own way. */
static void give_back(struct worker *w, uint64_t *addrs, unsigned int n)
{
	void *pages[RX_BATCH];
	unsigned int i;

	switch (opt.mode) {
	case MODE_LAB: /* straight to the pool, from this thread */
		for (i = 0; i < n; i++)
			pages[i] = umem + addrs[i];
		if (labyrinth_free_bulk(&pool, pages, n) != n)
			w->free_errors++;
		break;
	case MODE_STACK: { /* through a ring back to the rx thread */
		uint32_t t = atomic_load_explicit(&w->back.tail, memory_order_relaxed);

		for (i = 0; i < n; i++)
			w->back.addrs[(t + i) & w->back.mask] = addrs[i];
		atomic_store_explicit(&w->back.tail, t + n, memory_order_release);
		break;
	}
	case MODE_MUTEX:
		pthread_mutex_lock(&list_lock);
		for (i = 0; i < n; i++)
			list[list_top++] = addrs[i];
		pthread_mutex_unlock(&list_lock);
		break;
	}
	atomic_fetch_add_explicit(&w->returned, n, memory_order_relaxed);
}

/* The rx thread ran short: the frames this worker's cache holds are free
 * but out of its reach until given back. */
static void flush_if_asked(struct worker *w)
{
	uint32_t gen = atomic_load_explicit(&flush_gen, memory_order_acquire);
	int n;

	if (opt.mode != MODE_LAB || gen == atomic_load_explicit(&w->flush_seen, memory_order_relaxed))
		return;
	atomic_store_explicit(&w->flush_seen, gen, memory_order_relaxed);
	n = labyrinth_flush_cache(&pool);
	if (n > 0)
		w->flushed += (uint64_t)n;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t addrs[RX_BATCH];

	for (;;) {
		uint32_t h = atomic_load_explicit(&w->q.head, memory_order_relaxed);
		uint32_t t = atomic_load_explicit(&w->q.tail, memory_order_acquire);
		unsigned int n, i;

		if (atomic_load_explicit(&stalled, memory_order_relaxed)) {
			ex_sleep(0.001); /* a stalled consumer: keeps what it has */
			continue;
		}
		flush_if_asked(w);
		if (h == t) {
			struct timespec ts = { 0, 10 * 1000 * 1000 };

			if (atomic_load(&stop_workers))
				break;
			atomic_store(&w->q.sleeping, 1);
			if (atomic_load(&w->q.tail) == h)
				futex(&w->q.tail, FUTEX_WAIT_PRIVATE, h, &ts);
			atomic_store(&w->q.sleeping, 0);
			continue;
		}
		n = t - h < RX_BATCH ? t - h : RX_BATCH;
		for (i = 0; i < n; i++) {
			const struct item *it = &w->q.items[(h + i) & w->q.mask];

			process(w, it);
			addrs[i] = it->addr & ~(uint64_t)(XDP_FRAME_SIZE - 1);
		}
		atomic_store_explicit(&w->q.head, h + n, memory_order_release);
		give_back(w, addrs, n);
	}
	return NULL;
}

/* ---- the rx thread ------------------------------------------------------------ */

static struct {
	struct xsk_umem *umem;
	struct xsk_socket *xsk;
	struct xsk_ring_prod fq;
	struct xsk_ring_cons rx, cq; /* cq: unused, receive only */
	struct bpf_object *obj;
	int ifindex, fd, watch_fd, link_fd;
	uint32_t fill_size, rx_size;
	unsigned int watch_lines;
} X = { .watch_fd = -1, .link_fd = -1 };

static struct {
	uint64_t received, posted, dispatched, no_frame, watch_events, polls, after_stall,
		flush_requests;
	double t_first, t_last;
} rs;

/* Free frames for the fill ring: up to n addresses into addrs. */
static unsigned int take_frames(uint64_t *addrs, unsigned int n)
{
	void *pages[RX_BATCH];
	unsigned int got = 0, i;

	switch (opt.mode) {
	case MODE_LAB:
		got = labyrinth_alloc_bulk(&pool, LAB_GFP_ATOMIC, pages, n);
		for (i = 0; i < got; i++)
			addrs[i] = (uint64_t)((unsigned char *)pages[i] - umem);
		break;
	case MODE_STACK:
		while (got < n && stack_top)
			addrs[got++] = stack[--stack_top];
		break;
	case MODE_MUTEX:
		pthread_mutex_lock(&list_lock);
		while (got < n && list_top)
			addrs[got++] = list[--list_top];
		pthread_mutex_unlock(&list_lock);
		break;
	}
	return got;
}

/* MODE_STACK: what the workers handed back goes onto the rx thread's stack. */
static void collect_returns(void)
{
	unsigned int i;

	for (i = 0; i < opt.workers; i++) {
		struct back *b = &workers[i].back;
		uint32_t h = atomic_load_explicit(&b->head, memory_order_relaxed);
		uint32_t t = atomic_load_explicit(&b->tail, memory_order_acquire);

		for (; h != t; h++)
			stack[stack_top++] = b->addrs[h & b->mask];
		atomic_store_explicit(&b->head, h, memory_order_release);
	}
}

static void wake(struct worker *w);

/* The pool has no frame for the fill ring: the workers' caches may hold
 * some.  One request per shortage, not one per empty look: a request is
 * pending until every worker has seen it. */
static void ask_workers_for_frames(void)
{
	uint32_t gen = atomic_load_explicit(&flush_gen, memory_order_relaxed);
	unsigned int i;

	if (opt.mode != MODE_LAB)
		return;
	for (i = 0; i < opt.workers; i++)
		if (atomic_load_explicit(&workers[i].flush_seen, memory_order_relaxed) != gen)
			return; /* the last request is still on its way */
	atomic_store_explicit(&flush_gen, gen + 1, memory_order_release);
	rs.flush_requests++;
	for (i = 0; i < opt.workers; i++)
		wake(&workers[i]);
}

/* Top up the fill ring as far as free frames allow. */
static void refill(void)
{
	uint64_t addrs[RX_BATCH];
	uint32_t idx;

	if (opt.mode == MODE_STACK)
		collect_returns();
	for (;;) {
		unsigned int room = xsk_prod_nb_free(&X.fq, RX_BATCH), got, i;

		if (room > RX_BATCH)
			room = RX_BATCH;
		if (!room)
			return;
		got = take_frames(addrs, room);
		if (!got) {
			rs.no_frame++;
			ask_workers_for_frames();
			return;
		}
		if (xsk_ring_prod__reserve(&X.fq, got, &idx) != got) { /* room was checked */
			fprintf(stderr, "%s: fill ring reserve failed\n", prog);
			exit(1);
		}
		for (i = 0; i < got; i++) {
			*xsk_ring_prod__fill_addr(&X.fq, idx + i) = addrs[i];
			in_kernel[addrs[i] / XDP_FRAME_SIZE] = 1;
		}
		xsk_ring_prod__submit(&X.fq, got);
		rs.posted += got;
		if (got < room)
			return;
	}
}

/* Frames now in the fill ring (posted, not yet taken by the kernel). */
static uint32_t fill_ring_count(void)
{
	return X.fq.cached_prod - __atomic_load_n(X.fq.consumer, __ATOMIC_ACQUIRE);
}

static void wake(struct worker *w)
{
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load(&w->q.sleeping))
		futex(&w->q.tail, FUTEX_WAKE_PRIVATE, 1, NULL);
}

/* Take what the rx ring has and pass it to the workers; returns the count. */
static unsigned int receive(void)
{
	uint32_t idx, tails[MAX_WORKERS];
	unsigned int n, i;

	n = xsk_ring_cons__peek(&X.rx, RX_BATCH, &idx);
	if (!n)
		return 0;
	for (i = 0; i < opt.workers; i++)
		tails[i] = atomic_load_explicit(&workers[i].q.tail, memory_order_relaxed);
	for (i = 0; i < n; i++) {
		const struct xdp_desc *d = xsk_ring_cons__rx_desc(&X.rx, idx + i);
		const unsigned char *f = umem + d->addr;
		uint32_t key = 0;
		struct worker *w;

		/* by flow, so that each flow stays in order: labyrinth-tx's flow
		 * field, else the UDP source port */
		if (d->len >= XDP_HDRS + 8) {
			memcpy(&key, f + XDP_HDRS + 4, 4);
			if (memcmp(f + XDP_HDRS, &(uint32_t){ UDP_MAGIC }, 4))
				key = xdp_get16(f + XDP_ETH_LEN + XDP_IP_LEN);
		}
		w = &workers[key % opt.workers];
		in_kernel[d->addr / XDP_FRAME_SIZE] = 0;
		w->q.items[tails[w->id] & w->q.mask] = (struct item){ d->addr, d->len };
		tails[w->id]++;
	}
	xsk_ring_cons__release(&X.rx, n);
	for (i = 0; i < opt.workers; i++) {
		if (tails[i] != atomic_load_explicit(&workers[i].q.tail, memory_order_relaxed)) {
			atomic_store_explicit(&workers[i].q.tail, tails[i], memory_order_release);
			wake(&workers[i]);
		}
	}
	rs.received += n;
	rs.dispatched += n;
	return n;
}

static uint64_t returned_total(void)
{
	uint64_t r = 0;
	unsigned int i;

	for (i = 0; i < opt.workers; i++)
		r += atomic_load_explicit(&workers[i].returned, memory_order_relaxed);
	return r;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	if (opt.run.quiet)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void on_watch(void)
{
	struct labyrinth_stats st;
	uint64_t v;

	if (read(X.watch_fd, &v, sizeof(v)) != (ssize_t)sizeof(v))
		return;
	rs.watch_events += v;
	ask_workers_for_frames();
	if (X.watch_lines < 5 && labyrinth_stats(&pool, &st) == 0) {
		/* The watch judges the shared store plus the rx thread's own
		 * cache; stats' pages_free counts every thread's cache too. */
		say("watch: free frames fell below the low mark %zu: stats count %" PRIu64 " free, %"
		    PRIu64 " of them in thread caches (the workers' are asked back); the fill ring "
		    "holds %u frames and runs dry unless frames come back", opt.low, st.pages_free,
		    st.pages_cached, fill_ring_count());
		if (++X.watch_lines == 5)
			say("watch: (further low-watermark events are counted only)");
	}
}

static int xsk_stats(struct xdp_statistics *xs)
{
	socklen_t len = sizeof(*xs);

	memset(xs, 0, sizeof(*xs));
	return getsockopt(X.fd, SOL_XDP, XDP_STATISTICS, xs, &len);
}

static uint64_t dev_counter(const char *what)
{
	char path[128];
	unsigned long long v = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/class/net/%s/statistics/%s", opt.ifname, what);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

static void live_line(double t0, double *t_prev, uint64_t *prev)
{
	struct xdp_statistics xs;
	struct labyrinth_stats st = { 0 };
	double now = ex_now(), dt = now - *t_prev > 1e-9 ? now - *t_prev : 1e-9;
	char rate[16], pool_txt[96];

	xsk_stats(&xs);
	if (opt.mode == MODE_LAB) {
		labyrinth_stats(&pool, &st);
		snprintf(pool_txt, sizeof(pool_txt), "pool free %" PRIu64 " (cached %" PRIu64
			 ") in use %" PRIu64 "  watch %" PRIu64, st.pages_free, st.pages_cached,
			 st.pages_inuse, rs.watch_events);
	} else {
		snprintf(pool_txt, sizeof(pool_txt), "free frames %zu",
			 opt.mode == MODE_STACK ? stack_top : list_top);
	}
	printf("%5.1f s %8s pkt/s  drops %" PRIu64 "  fill %u  in flight %" PRIu64 "  %s\n",
	       now - t0, ex_compact(rate, (double)(rs.received - *prev) / dt),
	       (uint64_t)(xs.rx_dropped + xs.rx_ring_full), fill_ring_count(),
	       rs.dispatched - returned_total(), pool_txt);
	fflush(stdout);
	*t_prev = now;
	*prev = rs.received;
}

/* ---- set-up -------------------------------------------------------------------- */

static int setup_frames(void)
{
	size_t i;

	if (opt.mode == MODE_LAB) {
		struct labyrinth_params p = { .name = "xdp-rx", .nr_pages = opt.frames,
					      .flags = opt.secret ? LAB_POOL_SECRET : 0 };
		void *base;
		int ret = labyrinth_init(&pool, &p);

		if (ret < 0) {
			ex_init_failed(prog, ret);
			return -1;
		}
		labyrinth_region(&pool, &base, &umem_len);
		umem = base;
		X.watch_fd = labyrinth_watch(&pool, opt.low);
		if (X.watch_fd < 0) {
			fprintf(stderr, "%s: labyrinth_watch: %s\n", prog, strerror(-X.watch_fd));
			return -1;
		}
	} else {
		/* The tutorial's UMEM: an anonymous mapping, populated. */
		umem_len = opt.frames * XDP_FRAME_SIZE;
		umem = mmap(NULL, umem_len, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (umem == MAP_FAILED) {
			fprintf(stderr, "%s: mmap: %s\n", prog, strerror(errno));
			return -1;
		}
		stack = calloc(opt.frames, sizeof(*stack));
		list = calloc(opt.frames, sizeof(*list));
		if (!stack || !list)
			return -1;
		for (i = opt.frames; i-- > 0;) {
			if (opt.mode == MODE_STACK)
				stack[stack_top++] = i * XDP_FRAME_SIZE;
			else
				list[list_top++] = i * XDP_FRAME_SIZE;
		}
	}
	nframes = umem_len / XDP_FRAME_SIZE;
	in_kernel = calloc(nframes, 1);
	return in_kernel ? 0 : -1;
}

/* The largest Ethernet frame a UMEM frame holds in copy mode: the kernel
 * writes a frame XDP_PACKET_HEADROOM bytes into it (no headroom of ours). */
#define XDP_RX_FRAME_MAX (XDP_FRAME_SIZE - XDP_PACKET_HEADROOM)

/* Frames bigger than a UMEM frame would be dropped one by one, each a
 * silent rx_dropped: refuse an MTU that lets them in. */
static int check_mtu(void)
{
	struct ifreq ifr;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return 0; /* cannot tell: the drops will show */
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", opt.ifname);
	ret = ioctl(fd, SIOCGIFMTU, &ifr);
	close(fd);
	if (ret < 0 || (unsigned int)ifr.ifr_mtu + XDP_ETH_LEN <= XDP_RX_FRAME_MAX)
		return 0;
	fprintf(stderr, "%s: %s has MTU %d: frames of up to %d bytes, but a UMEM frame holds "
		"%u (%u less the kernel's %u bytes of headroom), so larger ones would all be "
		"dropped; lower the MTU to %u or less (ip link set dev %s mtu %u)\n", prog,
		opt.ifname, ifr.ifr_mtu, ifr.ifr_mtu + (int)XDP_ETH_LEN, XDP_RX_FRAME_MAX,
		XDP_FRAME_SIZE, XDP_PACKET_HEADROOM, XDP_RX_FRAME_MAX - XDP_ETH_LEN, opt.ifname,
		XDP_RX_FRAME_MAX - XDP_ETH_LEN);
	return 1;
}

/* An interface that has an XDP program belongs to someone else (another
 * receiver, a firewall): refuse it, never take it over.  Ours go through
 * a BPF link, which the kernel removes when the process ends, so none of
 * ours is ever left behind. */
static int refuse_busy(void)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	__u32 id;

	if (bpf_xdp_query(X.ifindex, 0, &q) != 0 || q.attach_mode == XDP_ATTACHED_NONE)
		return 0; /* free (or cannot tell: the attach will say) */
	id = q.drv_prog_id ? q.drv_prog_id : q.skb_prog_id ? q.skb_prog_id : q.hw_prog_id;
	fprintf(stderr, "%s: %s already has an XDP program attached (id %u): another receiver "
		"or XDP user owns it, and %s never removes a program it did not attach.  If no "
		"one owns it any more (a program attached without a BPF link, e.g. by ip link, "
		"outlives its process), remove it with: ip link set dev %s xdp off\n", prog,
		opt.ifname, id, prog, opt.ifname);
	return 1;
}

/* The interface: it exists, its MTU fits the frames, no XDP program. */
static int check_interface(void)
{
	X.ifindex = (int)if_nametoindex(opt.ifname);
	if (!X.ifindex) {
		fprintf(stderr, "%s: interface %s: %s\n", prog, opt.ifname, strerror(errno));
		return 1;
	}
	return check_mtu() || refuse_busy();
}

/* The UMEM and the AF_XDP socket, bound to the queue; no program yet. */
static int setup_socket(void)
{
	struct xsk_umem_config ucfg;
	struct xsk_socket_config scfg;
	unsigned int i;
	int ret;

	/* The ring sizes: the rx ring can hold every frame, so it never
	 * overflows; the fill ring holds what the pool lends the kernel. */
	X.rx_size = 64;
	while (X.rx_size < nframes)
		X.rx_size <<= 1;
	X.fill_size = opt.fill ? opt.fill : X.rx_size / 2;
	memset(&ucfg, 0, sizeof(ucfg));
	ucfg.fill_size = X.fill_size;
	ucfg.comp_size = 64;
	ucfg.frame_size = XDP_FRAME_SIZE;
	memset(&scfg, 0, sizeof(scfg));
	scfg.rx_size = X.rx_size;
	scfg.tx_size = 0;
	scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD; /* our own program below */
	scfg.bind_flags = opt.zerocopy ? XDP_ZEROCOPY : XDP_COPY;
	/* EBUSY: the queue's previous socket is still being released (the
	 * kernel unbinds a closed socket from a work queue): wait a little.
	 * Each try starts from a fresh UMEM: after a failed bind the old
	 * socket's rings already exist and cannot be set up again. */
	for (i = 0; i < 40; i++) {
		ret = xsk_umem__create(&X.umem, umem, umem_len, &X.fq, &X.cq, &ucfg);
		if (ret) {
			fprintf(stderr, "%s: registering the %s as UMEM: %s\n", prog,
				opt.mode == MODE_LAB ? "pool" : "frame area", strerror(-ret));
			if (ret == -EFAULT && opt.secret)
				fprintf(stderr, "(memfd_secret memory cannot be a UMEM: the kernel "
					"cannot pin pages that left its direct map; "
					"labyrinth_region() gave the range all right)\n");
			return 1;
		}
		ret = xsk_socket__create(&X.xsk, opt.ifname, opt.queue, X.umem, &X.rx, NULL,
					 &scfg);
		if (ret != -EBUSY)
			break;
		xsk_umem__delete(X.umem);
		X.umem = NULL;
		ex_sleep(0.05);
	}
	if (ret) {
		fprintf(stderr, "%s: AF_XDP socket on %s queue %u: %s\n", prog, opt.ifname,
			opt.queue, strerror(-ret));
		if (ret == -EOPNOTSUPP && opt.zerocopy)
			fprintf(stderr, "(%s has no zero-copy AF_XDP support: veth never has; drop "
				"--zerocopy for copy mode)\n", opt.ifname);
		if (ret == -EBUSY)
			fprintf(stderr, "(another AF_XDP socket is bound to that queue)\n");
		return 1;
	}
	X.fd = xsk_socket__fd(X.xsk);
	return 0;
}

/* Load the redirect program, put the socket in its map and attach it
 * through a BPF link: the kernel detaches it when the link's last
 * descriptor closes, at our exit whatever the cause. */
static int attach_program(void)
{
	unsigned int xdp_mode = opt.generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE;
	LIBBPF_OPTS(bpf_link_create_opts, lopts, .flags = xdp_mode);
	struct bpf_program *bp;
	struct bpf_map *map;
	int ret = -ENOENT, map_fd;

	X.obj = bpf_object__open_mem(xdp_redirect_obj, xdp_redirect_obj_len, NULL);
	if (!X.obj || bpf_object__load(X.obj)) {
		fprintf(stderr, "%s: loading the XDP program: %s\n", prog, strerror(errno));
		return 1;
	}
	bp = bpf_object__find_program_by_name(X.obj, "lab_xsk_redirect");
	map = bpf_object__find_map_by_name(X.obj, "xsks_map");
	map_fd = map ? bpf_map__fd(map) : -1;
	if (!bp || map_fd < 0 || (ret = xsk_socket__update_xskmap(X.xsk, map_fd)) != 0) {
		fprintf(stderr, "%s: the XDP program's socket map: %s\n", prog,
			strerror(-ret));
		return 1;
	}
	X.link_fd = bpf_link_create(bpf_program__fd(bp), X.ifindex, BPF_XDP, &lopts);
	if (X.link_fd < 0) {
		ret = X.link_fd;
		fprintf(stderr, "%s: attaching XDP (%s mode, BPF link) to %s: %s\n", prog,
			opt.generic ? "generic" : "native", opt.ifname, strerror(-ret));
		if (ret == -EBUSY)
			refuse_busy(); /* someone attached between our look and now */
		else if (!opt.generic)
			fprintf(stderr, "(try --generic; native XDP on veth needs the peer's MTU "
				"<= 3506)\n");
		return 1;
	}
	return 0;
}

/* Detach ours (only ours: the link names our program on our interface). */
static void detach_program(void)
{
	if (X.link_fd >= 0) {
		close(X.link_fd);
		X.link_fd = -1;
	}
}

/* ---- options ---------------------------------------------------------------- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s -i IFNAME [options]\n"
		"\n"
		"Receive with AF_XDP into a UMEM that is a labyrinth pool: the rx thread fills\n"
		"the fill ring with labyrinth_alloc_bulk(LAB_GFP_ATOMIC), worker threads check\n"
		"each frame and free it themselves; labyrinth_watch() warns of starvation.\n"
		"Verifies labyrinth-xdp-tx / labyrinth-tx datagrams (sequence, checksum).\n"
		"\n"
		"  -i, --ifname NAME        interface (required)\n"
		"  -Q, --queue N            its queue (default 0)\n"
		"  -p, --port PORT          UDP port whose datagrams are checked (default %d)\n"
		"  -P, --frames N           frames = pool pages (default 4096)\n"
		"      --fill N             fill ring size, a power of two (default: frames/2)\n"
		"  -w, --workers N          worker threads (default 2, max %d)\n"
		"  -m, --mode MODE          labyrinth (default); stack: the tutorial's frame\n"
		"                           stack, frames handed back through the rx thread;\n"
		"                           mutex: a mutex-protected shared free list\n"
		"  -N, --native             native XDP (default)\n"
		"  -S, --generic            generic (skb) XDP\n"
		"  -z, --zerocopy           ask for zero-copy (EOPNOTSUPP on veth)\n"
		"  -l, --low N              labyrinth_watch low mark (default frames/8)\n"
		"  -d, --duration SECONDS   how long to receive (default 10)\n"
		"  -n, --expect N           stop once N packets are in\n"
		"  -I, --idle-exit SECONDS  stop once nothing came for this long after the first\n"
		"      --stall AT:FOR       workers keep their frames from AT s for FOR s\n"
		"      --iperf              follow iperf 2's sequence numbers\n"
		"      --secret             a LAB_POOL_SECRET pool (shows that it cannot be a UMEM)\n"
		"      --result-file F      write the RESULT line to F, not stdout\n"
		"  -q, --quiet              no live line\n"
		"  -h, --help               this text\n"
		"\n"
		"Exit status: 0 all verified and no frame lost, 1 errors, 2 bad usage,\n"
		"3 AF_XDP not available here.\n",
		prog, XDP_DEFAULT_PORT, MAX_WORKERS);
}

static void parse_options(int argc, char **argv)
{
	enum { OPT_FILL = 256, OPT_SECRET };
	static const struct option longopts[] = {
		{ "ifname", required_argument, NULL, 'i' },
		{ "queue", required_argument, NULL, 'Q' },
		{ "port", required_argument, NULL, 'p' },
		{ "frames", required_argument, NULL, 'P' },
		{ "fill", required_argument, NULL, OPT_FILL },
		{ "workers", required_argument, NULL, 'w' },
		{ "mode", required_argument, NULL, 'm' },
		{ "native", no_argument, NULL, 'N' },
		{ "generic", no_argument, NULL, 'S' },
		{ "zerocopy", no_argument, NULL, 'z' },
		{ "low", required_argument, NULL, 'l' },
		{ "secret", no_argument, NULL, OPT_SECRET },
		EX_RX_LONGOPTS('I'),
	};
	int c;

	while ((c = getopt_long(argc, argv, "i:Q:p:P:w:m:NSzl:d:n:I:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			opt.ifname = optarg;
			break;
		case 'Q':
			opt.queue = (unsigned int)ex_parse_ul(prog, optarg, "queue", 0, 63);
			break;
		case 'p':
			opt.port = (unsigned int)ex_parse_ul(prog, optarg, "port", 1, 65535);
			break;
		case 'P':
			opt.frames = ex_parse_ul(prog, optarg, "frame count", 16, 1ul << 20);
			break;
		case OPT_FILL:
			opt.fill = (unsigned int)ex_parse_ul(prog, optarg, "fill ring size", 16,
							     1u << 20);
			if (opt.fill & (opt.fill - 1)) {
				fprintf(stderr, "%s: the fill ring size must be a power of two\n",
					prog);
				exit(2);
			}
			break;
		case 'w':
			opt.workers = (unsigned int)ex_parse_ul(prog, optarg, "worker count", 1,
								MAX_WORKERS);
			break;
		case 'm':
			if (!strcmp(optarg, "labyrinth") || !strcmp(optarg, "lab"))
				opt.mode = MODE_LAB;
			else if (!strcmp(optarg, "stack"))
				opt.mode = MODE_STACK;
			else if (!strcmp(optarg, "mutex"))
				opt.mode = MODE_MUTEX;
			else {
				fprintf(stderr, "%s: bad mode '%s' (want labyrinth, stack or mutex)\n",
					prog, optarg);
				exit(2);
			}
			break;
		case 'N':
			opt.generic = false;
			break;
		case 'S':
			opt.generic = true;
			break;
		case 'z':
			opt.zerocopy = true;
			break;
		case 'l':
			opt.low = ex_parse_ul(prog, optarg, "low mark", 1, 1ul << 20);
			break;
		case OPT_SECRET:
			opt.secret = true;
			break;
		default:
			ex_rx_option(prog, &opt.run, c, optarg, 'I', usage);
		}
	}
	if (optind < argc || !opt.ifname) {
		if (optind < argc)
			fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		else
			fprintf(stderr, "%s: which interface? (-i IFNAME)\n", prog);
		usage(stderr);
		exit(2);
	}
	if (!opt.low)
		opt.low = opt.frames / 8 ? opt.frames / 8 : 1;
	if (opt.secret && opt.mode != MODE_LAB) {
		fprintf(stderr, "%s: --secret is about the pool: it needs --mode labyrinth\n", prog);
		exit(2);
	}
}

/* ---- main ------------------------------------------------------------------------ */

static int start_workers(void)
{
	uint32_t cap = 64;
	unsigned int i;

	while (cap < opt.frames)
		cap <<= 1;
	for (i = 0; i < opt.workers; i++) {
		struct worker *w = &workers[i];

		w->id = i;
		w->q.mask = cap - 1;
		w->q.items = calloc(cap, sizeof(*w->q.items));
		w->back.mask = cap - 1;
		w->back.addrs = calloc(cap, sizeof(*w->back.addrs));
		w->flows = calloc(UDP_MAX_FLOWS, sizeof(*w->flows));
		if (!w->q.items || !w->back.addrs || !w->flows)
			return -1;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
			return -1;
	}
	return 0;
}

static void stall_step(double now, double t0, bool *stall_done)
{
	if (opt.run.stall_for <= 0 || *stall_done)
		return;
	if (!atomic_load(&stalled) && now >= t0 + opt.run.stall_at) {
		atomic_store(&stalled, 1);
		say("workers stall for %.2f s: they keep every frame they get", opt.run.stall_for);
	} else if (atomic_load(&stalled) && now >= t0 + opt.run.stall_at + opt.run.stall_for) {
		atomic_store(&stalled, 0);
		*stall_done = true;
		say("workers back: %" PRIu64 " frames return; the fill ring refills",
		    rs.dispatched - returned_total());
	}
}

/* What a run found, for the summary and the RESULT line. */
struct result {
	struct worker sum; /* the workers' counters added up */
	struct xdp_statistics xs;
	double elapsed, active, cpu;
	uint64_t inuse_run, inuse_down, in_flight, outstanding, dev_drops;
	uint32_t fill_run;
	unsigned int nflows;
	int check_rc, destroy_rc;
	bool accounting_ok;
};

/* Receive until the time, the count or the idle limit says stop. */
static void run_loop(double t0)
{
	double t_end = t0 + opt.run.duration, t_prev = t0, next_report = t0 + 1;
	uint64_t prev = 0;
	bool stall_done = false;

	while (!ex_interrupted) {
		struct pollfd pfd[2] = { { .fd = X.fd, .events = POLLIN },
					 { .fd = X.watch_fd, .events = POLLIN } };
		double now = ex_now();
		unsigned int n;

		if (now >= t_end || (opt.run.expect && rs.received >= opt.run.expect))
			break;
		if (opt.run.idle_exit > 0 && rs.received && now - rs.t_last >= opt.run.idle_exit)
			break;
		if (now >= next_report) {
			if (!opt.run.quiet)
				live_line(t0, &t_prev, &prev);
			next_report = now + 1;
		}
		stall_step(now, t0, &stall_done);
		refill();
		n = receive();
		if (n) {
			if (!rs.t_first)
				rs.t_first = now;
			rs.t_last = now;
			if (stall_done)
				rs.after_stall += n;
			continue;
		}
		/* Nothing there: sleep until a frame or the watch; short when the
		 * fill ring is not full, so that returned frames go back soon. */
		rs.polls++;
		if (poll(pfd, X.watch_fd >= 0 ? 2 : 1,
			 fill_ring_count() < X.fill_size / 2 ? 1 : 20) > 0 &&
		    (pfd[1].revents & POLLIN))
			on_watch();
	}
}

/* No more frames in: detach, drain the rx ring, let the workers finish;
 * then every frame must be accounted for: the kernel holds exactly what
 * is in the fill ring, the workers hold nothing, the rest is free. */
static void stop_and_account(struct result *res)
{
	struct labyrinth_stats st;
	unsigned int i;

	detach_program();
	ex_sleep(0.05);
	while (receive())
		;
	atomic_store(&stalled, 0);
	atomic_store(&stop_workers, 1);
	for (i = 0; i < opt.workers; i++) {
		wake(&workers[i]);
		pthread_join(workers[i].thread, NULL);
	}
	if (opt.mode == MODE_STACK)
		collect_returns();
	xsk_stats(&res->xs);

	res->in_flight = rs.dispatched - returned_total();
	res->outstanding = rs.posted - rs.received;
	res->fill_run = fill_ring_count();
	res->inuse_run = ~0ull;
	if (opt.mode != MODE_LAB)
		res->inuse_run = nframes - (opt.mode == MODE_STACK ? stack_top : list_top);
	else if (labyrinth_stats(&pool, &st) == 0)
		res->inuse_run = st.pages_inuse;
	res->accounting_ok = res->inuse_run == res->fill_run + res->in_flight &&
			     res->outstanding == res->fill_run;
}

/* Close the socket; what it held is ours again; then nothing is in use. */
static void teardown(struct result *res)
{
	struct labyrinth_stats st;
	size_t i, freed = 0;

	xsk_socket__delete(X.xsk);
	xsk_umem__delete(X.umem);
	bpf_object__close(X.obj);
	for (i = 0; i < nframes; i++) {
		if (!in_kernel[i])
			continue;
		if (opt.mode == MODE_LAB &&
		    labyrinth_free_page(&pool, umem + i * XDP_FRAME_SIZE) != 0)
			res->sum.free_errors++;
		freed++;
	}
	res->inuse_down = ~0ull;
	if (opt.mode == MODE_LAB) {
		if (labyrinth_stats(&pool, &st) == 0)
			res->inuse_down = st.pages_inuse;
		res->check_rc = labyrinth_check(&pool);
		close(X.watch_fd);
		res->destroy_rc = labyrinth_destroy(&pool);
	} else {
		res->inuse_down = nframes - (opt.mode == MODE_STACK ? stack_top : list_top) -
				  freed;
		munmap(umem, umem_len);
	}
	res->accounting_ok = res->accounting_ok && res->inuse_down == 0;
}

static void sum_workers(struct result *res)
{
	struct worker *sum = &res->sum;
	unsigned int i, f;

	for (i = 0; i < opt.workers; i++) {
		const struct worker *w = &workers[i];

		sum->packets += w->packets;
		sum->bytes += w->bytes;
		sum->verified += w->verified;
		sum->foreign += w->foreign;
		sum->csum_errors += w->csum_errors;
		sum->len_errors += w->len_errors;
		sum->gaps += w->gaps;
		sum->reorders += w->reorders;
		sum->iperf += w->iperf;
		sum->iperf_gaps += w->iperf_gaps;
		sum->iperf_sent += w->iperf_sent;
		sum->free_errors += w->free_errors;
		sum->ip_csum_errors += w->ip_csum_errors;
		sum->flushed += w->flushed;
		for (f = 0; f < UDP_MAX_FLOWS; f++)
			res->nflows += w->flows[f].received != 0;
	}
}

static void print_summary(const struct result *res)
{
	const struct worker *sum = &res->sum;

	printf("%s (%s) after %.2f s:\n", ex_interrupted ? "interrupted" : "done",
	       mode_name[opt.mode], res->elapsed);
	printf("  frames         %12" PRIu64 "  (%.3f M/s while traffic flowed, %.2f Gbit/s)\n",
	       rs.received, (double)rs.received / res->active / 1e6,
	       (double)sum->bytes * 8 / res->active / 1e9);
	printf("  verified       %12" PRIu64 "  from %u flow%s; %" PRIu64 " other frames\n",
	       sum->verified, res->nflows, res->nflows == 1 ? "" : "s", sum->foreign);
	if (opt.run.iperf && sum->iperf_sent)
		printf("  iperf          %12" PRIu64 "  iperf 2 datagrams of %" PRIu64 " sent by its "
		       "final sequence number: %" PRId64 " lost\n", sum->iperf, sum->iperf_sent,
		       (int64_t)(sum->iperf_sent - sum->iperf));
	else if (opt.run.iperf)
		printf("  iperf          %12" PRIu64 "  iperf 2 datagrams, %" PRIu64 " lost between the "
		       "first and the last seen (iperf's final datagram never came: loss before the "
		       "first or after the last does not show)\n", sum->iperf, sum->iperf_gaps);
	printf("  lost (gaps)    %12" PRIu64 "  AF_XDP drops %" PRIu64 " (fill ring found empty %"
	       PRIu64 " times, rx ring full %" PRIu64 "), device drops %" PRIu64 "\n", sum->gaps,
	       (uint64_t)(res->xs.rx_dropped + res->xs.rx_ring_full),
	       (uint64_t)res->xs.rx_fill_ring_empty_descs, (uint64_t)res->xs.rx_ring_full,
	       res->dev_drops);
	printf("  errors         %12" PRIu64 "  (checksum %" PRIu64 ", IPv4 header checksum %" PRIu64
	       ", length %" PRIu64 ", late/duplicate %" PRIu64 ")\n", sum->csum_errors +
	       sum->ip_csum_errors + sum->len_errors + sum->reorders, sum->csum_errors,
	       sum->ip_csum_errors, sum->len_errors, sum->reorders);
	printf("  CPU            %12.2f s  (%.0f ns per frame, rx thread + %u workers)\n", res->cpu,
	       rs.received ? res->cpu * 1e9 / (double)rs.received : 0.0, opt.workers);
	if (opt.mode == MODE_LAB)
		printf("  watch          %12" PRIu64 "  low-watermark events (mark %zu); %" PRIu64
		       " requests for cached frames, %" PRIu64 " frames handed back by workers\n",
		       rs.watch_events, opt.low, rs.flush_requests, sum->flushed);
	printf("  frames         %12" PRIu64 "  in use after the run = %u in the fill ring + %" PRIu64
	       " in flight: %s; %" PRIu64 " after teardown\n", res->inuse_run, res->fill_run,
	       res->in_flight, res->accounting_ok ? "exact" : "MISMATCH", res->inuse_down);
}

/* What makes a run without errors a failure still: it verified nothing
 * (no labyrinth-xdp-tx datagram, nor iperf's with --iperf, on the port),
 * or fewer packets came than --expect asked (loss at the tail, which no
 * gap shows).  Says why on stderr; true if so. */
static bool explain_failure(const struct result *res)
{
	const struct worker *sum = &res->sum;
	bool failed = false;

	if (!sum->verified && !sum->iperf) {
		fprintf(stderr, "%s: nothing verified: %" PRIu64 " frames came, %" PRIu64 " of them "
			"not labyrinth-xdp-tx datagrams to port %u%s; AF_XDP dropped %" PRIu64
			"\n", prog, rs.received, sum->foreign, opt.port,
			opt.run.iperf ? " nor iperf's" : "",
			(uint64_t)(res->xs.rx_dropped + res->xs.rx_ring_full));
		failed = true;
	}
	if (opt.run.expect && rs.received < opt.run.expect) {
		fprintf(stderr, "%s: %" PRIu64 " packets of the %" PRIu64 " expected came in\n",
			prog, rs.received, (uint64_t)opt.run.expect);
		failed = true;
	}
	return failed;
}

/* The RESULT line, to stdout or --result-file; 0, or -1 if it could not
 * be written. */
static int write_result(const struct result *res, int status)
{
	const struct worker *sum = &res->sum;
	char line[1024];

	snprintf(line, sizeof(line),
		 "RESULT tool=xdp-rx mode=%s workers=%u frames_total=%zu seconds=%.3f active=%.3f "
		 "packets=%" PRIu64 " bytes=%" PRIu64 " verified=%" PRIu64 " foreign=%" PRIu64
		 " flows=%u gaps=%" PRIu64 " reorders=%" PRIu64 " csum_errors=%" PRIu64
		 " len_errors=%" PRIu64 " drops=%" PRIu64 " fill_empty=%" PRIu64
		 " dev_drops=%" PRIu64 " cpu=%.3f no_frame=%" PRIu64 " watch_events=%" PRIu64
		 " after_stall=%" PRIu64 " posted_total=%" PRIu64 " inuse_after_run=%" PRIu64
		 " fill=%u in_flight=%" PRIu64 " outstanding=%" PRIu64
		 " inuse_after_teardown=%" PRIu64 " free_errors=%" PRIu64 " iperf=%" PRIu64
		 " iperf_gaps=%" PRIu64 " iperf_sent=%" PRIu64 " ip_csum_errors=%" PRIu64
		 " flush_requests=%" PRIu64
		 " flushed=%" PRIu64 " check=%d destroy=%d status=%s",
		 mode_name[opt.mode], opt.workers, nframes, res->elapsed, res->active, rs.received,
		 sum->bytes, sum->verified, sum->foreign, res->nflows, sum->gaps, sum->reorders,
		 sum->csum_errors, sum->len_errors,
		 (uint64_t)(res->xs.rx_dropped + res->xs.rx_ring_full),
		 (uint64_t)res->xs.rx_fill_ring_empty_descs, res->dev_drops, res->cpu,
		 rs.no_frame, rs.watch_events, rs.after_stall, rs.posted, res->inuse_run,
		 res->fill_run, res->in_flight, res->outstanding, res->inuse_down,
		 sum->free_errors, sum->iperf, sum->iperf_gaps, sum->iperf_sent, sum->ip_csum_errors,
		 rs.flush_requests, sum->flushed, res->check_rc, res->destroy_rc,
		 status ? "error" : "ok");
	return ex_put_result(prog, opt.run.result_file, line);
}

int main(int argc, char **argv)
{
	static struct result res;
	double t0, cpu0;
	uint64_t dev_drops0;
	int ret, status = 0;

	parse_options(argc, argv);
	if (!xdp_sockets_available()) {
		fprintf(stderr, "%s: AF_XDP is not available here (a kernel without "
			"CONFIG_XDP_SOCKETS)\n", prog);
		return EXIT_NO_XDP;
	}
	if (geteuid() != 0) {
		fprintf(stderr, "%s: AF_XDP needs root (CAP_NET_ADMIN, CAP_BPF, CAP_NET_RAW)\n",
			prog);
		return EXIT_NO_XDP;
	}
	libbpf_set_print(NULL); /* our own messages say what failed */
	/* A stop signal from here on ends the run cleanly (the loop looks);
	 * a second one kills, and the kernel still removes our link. */
	ex_catch_stop_signals(SA_RESETHAND);
	if (check_interface() || setup_frames() < 0)
		return 1;
	ret = setup_socket();
	if (ret)
		return ret;
	if (start_workers() < 0) {
		fprintf(stderr, "%s: starting the workers failed\n", prog);
		return 1; /* nothing attached yet */
	}
	/* The fill ring full before the first frame can arrive. */
	refill();
	ret = attach_program();
	if (ret)
		return ret;

	dev_drops0 = dev_counter("rx_dropped");
	printf("%s: listening on %s queue %u (AF_XDP, %s XDP, %s mode), port %u: %zu frames "
	       "from %s, fill ring %u, %u worker%s\n", prog, opt.ifname, opt.queue,
	       opt.generic ? "generic" : "native", opt.zerocopy ? "zero-copy" : "copy", opt.port,
	       nframes,
	       opt.mode == MODE_LAB ? "a labyrinth pool" :
	       opt.mode == MODE_STACK ? "an mmap, a frame stack owned by the rx thread" :
				       "an mmap, a mutex-protected free list",
	       X.fill_size, opt.workers, opt.workers == 1 ? "" : "s");
	fflush(stdout);

	t0 = ex_now();
	cpu0 = ex_cpu_seconds();
	run_loop(t0);
	stop_and_account(&res);
	res.cpu = ex_cpu_seconds() - cpu0;
	res.elapsed = ex_now() - t0;
	res.dev_drops = dev_counter("rx_dropped") - dev_drops0;
	teardown(&res);
	sum_workers(&res);
	res.active = rs.t_last - rs.t_first;
	if (res.active < 1e-3)
		res.active = res.elapsed > 1e-3 ? res.elapsed : 1e-3;

	if (res.sum.csum_errors || res.sum.len_errors || res.sum.reorders ||
	    res.sum.ip_csum_errors || res.sum.free_errors || !res.accounting_ok || res.check_rc ||
	    res.destroy_rc || res.sum.packets != rs.received)
		status = 1;
	if (!opt.run.quiet)
		print_summary(&res);
	if (explain_failure(&res))
		status = 1;
	if (write_result(&res, status) < 0)
		status = 1;
	return status;
}
