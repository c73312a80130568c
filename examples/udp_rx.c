/* SPDX-License-Identifier: MIT */
/*
 * udp_rx.c - labyrinth-rx, a real receive path fed by a labyrinth pool.
 *
 * The NIC demo simulates a card; this one receives real UDP traffic.  The
 * "card" is the kernel's socket layer driven through io_uring:
 *
 *  - A provided-buffer ring (IORING_REGISTER_PBUF_RING) is filled with
 *    pages from labyrinth_void_alloc_page_gfp_atomic_exclusive().  The
 *    buffer id of a ring entry is its slot in a table of pages, so a
 *    completion names the page that holds the datagram.
 *  - One multishot receive per socket (IORING_RECV_MULTISHOT with
 *    IOSQE_BUFFER_SELECT): the kernel picks a page from the ring for each
 *    datagram and posts a completion; no system call per packet, no copy
 *    into a buffer chosen at call time.  Several sockets may share the port
 *    with SO_REUSEPORT; they share the ring.
 *  - Recycling: each completed page is processed (a checksum over the whole
 *    payload and the sender's sequence number checked), freed to the pool,
 *    and a fresh page - taken with the atomic call, which never waits -
 *    goes back into the ring under the same buffer id.  If the pool is dry,
 *    the slot stays empty and the ring shrinks; every turn of the loop tries
 *    again.  When the ring is empty the kernel ends the multishot receive
 *    with -ENOBUFS (counted); it is re-armed as soon as pages are back.
 *  - Completions are reaped in batches: while datagrams flow, a wait ends
 *    after 32 completions or 1 ms, so the thread wakes once per batch,
 *    not once per datagram (most of the CPU went into those wake-ups).
 *  - The pool is watched with labyrinth_watch(): its eventfd is polled
 *    through the same ring (multishot poll), so a low-watermark crossing
 *    arrives as a completion like any packet and is counted and shown.
 *
 * At the end the receive requests are cancelled and drained, and the
 * accounting is checked: the pool's in-use pages must be exactly the pages
 * still posted in the ring (plus those a stalled consumer holds), and zero
 * after the ring is torn down.
 *
 * --mode mmsg is the baseline: the same sockets, the same processing, but
 * recvmmsg(2) into malloc()'d buffers (each consumed buffer freed and a new
 * one malloc()'d, as the pool path does with pages).
 *
 * Exit status: 0 when every labyrinth-tx packet verified and no page was
 * lost; 1 on a verification error, a truncated datagram, a lost page or a runtime error; 2 on bad
 * usage; 3 when io_uring (or its provided-buffer rings) is not available
 * here, e.g. kernel.io_uring_disabled = 2 (--mode mmsg still works).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <labyrinth.h>

#include "udp_common.h"

#define EXIT_NO_URING 3
#define MAX_SOCKETS 64
#define MAX_REPORTS 10
#define TAG_RECV (1ull << 32)
#define TAG_WATCH (2ull << 32)
#define TAG_CANCEL (3ull << 32)
#define TAG_MASK (0xffffffffull << 32)
#define BGID 0

enum mode { MODE_URING, MODE_MMSG };

static const char *prog = "labyrinth-rx";

static struct {
	const char *addr;
	unsigned int port;
	size_t pages, page_size, low;
	unsigned int ring, sockets, batch;
	int rcvbuf;
	enum mode mode;
	struct ex_rx_opts run;
} opt = {
	.addr = "127.0.0.1",
	.port = UDP_DEFAULT_PORT,
	.pages = 4096,
	.page_size = LAB_PAGE_4K,
	.ring = 1024,
	.sockets = 1,
	.batch = 64,
	.run.duration = 10,
	.rcvbuf = 8 << 20,
};

/* Everything the loop counts; one thread, so plain integers. */
static struct {
	uint64_t packets, bytes, verified, foreign, csum_errors, len_errors, gaps, reorders;
	uint64_t enobufs, rearms, no_page, watch_events, watch_cqes, cqe_errors, syscalls;
	uint64_t free_errors, after_stall, held_max, short_max, foreign_sum, truncated;
	uint64_t iperf, iperf_gaps, iperf_late, iperf_fin; /* --iperf: iperf2's own seq */
	uint64_t sock_packets[MAX_SOCKETS];
	double t_first, t_last;
} rs;

struct flow {
	uint64_t next; /* the sequence number expected next */
	uint64_t received;
};

static struct flow flows[UDP_MAX_FLOWS];
static struct flow iperf_flow;
static int socks[MAX_SOCKETS];
static ino_t sock_ino[MAX_SOCKETS];
static labyrinth_t pool;
static int rcvbuf_real; /* what the kernel granted (it doubles the request) */
static int reports_left = MAX_REPORTS;
static bool tty;

/* ---- processing: the same for both paths ------------------------------ */

static void report_error(const char *what, const struct udp_hdr *h, size_t len)
{
	if (reports_left <= 0)
		return;
	fprintf(stderr, "\n%s: %s: flow %" PRIu32 " seq %" PRIu64 " len %zu (header says %"
		PRIu32 ")\n", prog, what, h->flow, h->seq, len, h->len);
	if (--reports_left == 0)
		fprintf(stderr, "%s: (further errors only counted)\n", prog);
}

/* iperf 2 (`iperf -u -c`) starts each datagram with a big-endian 32-bit
 * sequence number (negative on the closing datagrams): follow it, so that
 * its losses are counted like ours. */
static void iperf_seq(const unsigned char *buf)
{
	int32_t id = (int32_t)((uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 |
			       (uint32_t)buf[2] << 8 | buf[3]);
	uint64_t seq;

	if (id < 0) {
		rs.iperf_fin++;
		return;
	}
	seq = (uint64_t)id;
	rs.iperf++;
	if (!iperf_flow.received++ || seq == iperf_flow.next) {
		iperf_flow.next = seq + 1;
	} else if (seq > iperf_flow.next) {
		rs.iperf_gaps += seq - iperf_flow.next;
		iperf_flow.next = seq + 1;
	} else {
		rs.iperf_late++;
	}
}

/* Checksum the datagram, check the sender's header and sequence number,
 * then spoil the header so that a page handed out twice cannot pass twice.
 * full is the datagram's real length (MSG_TRUNC makes the kernel say it):
 * more than len means the buffer cut it, whoever sent it. */
static void process(unsigned char *buf, size_t len, size_t full)
{
	bool truncated = full > len;
	struct udp_hdr h;
	struct flow *f;
	uint64_t sum;

	rs.packets++;
	rs.bytes += len;
	if (truncated) {
		rs.truncated++;
		if (reports_left > 0 && reports_left--)
			fprintf(stderr, "\n%s: truncated datagram: %zu bytes, a buffer holds %zu "
				"(a buffer is one page; any UDP datagram fits in a 2 MiB page: "
				"--page-size 2M --pages 64 --ring 64, a 128 MiB pool)\n",
				prog, full, len);
	}
	if (len < sizeof(h)) {
		rs.foreign++;
		rs.foreign_sum += udp_payload_csum(buf, len);
		return;
	}
	memcpy(&h, buf, sizeof(h));
	sum = udp_payload_csum(buf + sizeof(h), len - sizeof(h));
	if (h.magic != UDP_MAGIC) { /* not from labyrinth-tx: iperf, nc, ... */
		rs.foreign++;
		rs.foreign_sum += sum;
		if (opt.run.iperf)
			iperf_seq(buf);
		return;
	}
	memset(buf, 0, sizeof(h.magic));
	if (truncated || h.len != len || h.flow >= UDP_MAX_FLOWS) {
		rs.len_errors++;
		report_error(truncated ? "truncated datagram (larger than a page)"
				       : "bad length or flow", &h, len);
		return;
	}
	if ((sum ^ udp_hdr_mix(h.flow, h.seq, h.len)) != h.csum) {
		rs.csum_errors++;
		report_error("checksum mismatch", &h, len);
		return;
	}
	rs.verified++;
	f = &flows[h.flow];
	f->received++;
	if (h.seq == f->next) {
		f->next++;
	} else if (h.seq > f->next) {
		rs.gaps += h.seq - f->next; /* lost on the way (counted once) */
		f->next = h.seq + 1;
	} else {
		rs.reorders++; /* late or duplicate */
	}
}

static uint64_t seq_span(unsigned int *nflows)
{
	uint64_t span = 0;
	unsigned int i, n = 0;

	for (i = 0; i < UDP_MAX_FLOWS; i++) {
		span += flows[i].next;
		n += flows[i].received != 0;
	}
	if (nflows)
		*nflows = n;
	return span;
}

/* Datagrams the kernel dropped on our sockets (receive buffer full), from
 * the "drops" column of /proc/net/udp; 0 if it cannot be read. */
static uint64_t kernel_drops(void)
{
	char line[512];
	uint64_t drops = 0;
	FILE *f = fopen("/proc/net/udp", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long inode, d;
		unsigned int i;
		char *tok, *save = NULL;
		int field = 0;
		bool ours = false;

		inode = d = 0;
		for (tok = strtok_r(line, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save)) {
			if (field == 9)
				inode = strtoull(tok, NULL, 10);
			else if (field == 12)
				d = strtoull(tok, NULL, 10);
			field++;
		}
		if (field < 13)
			continue;
		for (i = 0; i < opt.sockets; i++)
			ours |= sock_ino[i] == (ino_t)inode;
		if (ours)
			drops += d;
	}
	fclose(f);
	return drops;
}

/* ---- the io_uring path -------------------------------------------------- */

static struct {
	struct io_uring ring;
	bool ring_up;
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	unsigned int entries, mask, pending, posted, buf_len;
	void **slot;      /* buffer id -> page posted under it (NULL: empty) */
	uint16_t *empty;  /* buffer ids waiting for a page */
	unsigned int nempty;
	void **held;      /* pages a stalled consumer sits on */
	size_t nheld;
	bool armed[MAX_SOCKETS];
	bool watch_armed, stalled, stall_done, stopping;
	int watch_fd;
	unsigned int watch_lines, last_reaped;
} U = { .watch_fd = -1 };

/* A wait while traffic flows returns after BATCH_WAIT completions or
 * BATCH_WAIT_S seconds, whichever first: one wake-up per batch instead of
 * one per datagram (a wake-up, a context switch, costs more than the
 * datagram's whole processing); the ring's pages cover the delay. */
#define BATCH_WAIT 32
#define BATCH_WAIT_S 0.001

static struct io_uring_sqe *get_sqe(void)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&U.ring);

	if (!sqe) {
		io_uring_submit(&U.ring);
		rs.syscalls++;
		sqe = io_uring_get_sqe(&U.ring);
	}
	return sqe;
}

static void post(uint16_t bid, void *page)
{
	io_uring_buf_ring_add(U.br, page, U.buf_len, bid, (int)U.mask, (int)U.pending++);
	U.slot[bid] = page;
	U.posted++;
}

static void publish(void)
{
	if (U.pending) {
		io_uring_buf_ring_advance(U.br, (int)U.pending);
		U.pending = 0;
	}
}

/* Give every empty slot a page, as far as the pool allows. */
static void refill(void)
{
	while (U.nempty) {
		void *page = labyrinth_void_alloc_page_gfp_atomic_exclusive(&pool);

		if (!page)
			break;
		post(U.empty[--U.nempty], page);
	}
	publish();
}

static void arm(unsigned int s)
{
	struct io_uring_sqe *sqe = get_sqe();

	/* MSG_TRUNC: a completion's res is the datagram's real length, so a
	 * datagram longer than a page shows as res > the buffer's length. */
	io_uring_prep_recv_multishot(sqe, socks[s], NULL, 0, MSG_TRUNC);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BGID;
	io_uring_sqe_set_data64(sqe, TAG_RECV | s);
	U.armed[s] = true;
}

static void arm_watch(void)
{
	struct io_uring_sqe *sqe = get_sqe();

	io_uring_prep_poll_multishot(sqe, U.watch_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, TAG_WATCH);
	U.watch_armed = true;
}

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	va_list ap;

	if (opt.run.quiet)
		return;
	if (tty)
		printf("\r\033[K");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static void on_recv(unsigned int s, const struct io_uring_cqe *cqe)
{
	if (!(cqe->flags & IORING_CQE_F_MORE))
		U.armed[s] = false; /* this multishot receive has ended */
	if (cqe->res < 0) {
		if (cqe->res == -ENOBUFS)
			rs.enobufs++; /* the ring ran dry: re-armed once refilled */
		else if (cqe->res != -ECANCELED && rs.cqe_errors++ < 5)
			fprintf(stderr, "\n%s: socket %u: receive: %s\n", prog, s,
				strerror(-cqe->res));
		return;
	}
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		unsigned char *page = U.slot[bid];
		void *fresh;
		int ret;

		if (bid >= U.entries || !page) {
			if (rs.cqe_errors++ < 5)
				fprintf(stderr, "\n%s: completion for empty buffer id %u\n", prog, bid);
			return;
		}
		U.slot[bid] = NULL;
		U.posted--;
		rs.sock_packets[s]++;
		process(page, (size_t)cqe->res < U.buf_len ? (size_t)cqe->res : U.buf_len,
			(size_t)cqe->res);
		if (U.stall_done)
			rs.after_stall++;
		if (U.stalled) {
			U.held[U.nheld++] = page; /* a consumer that does not give back */
			if (U.nheld > rs.held_max)
				rs.held_max = U.nheld;
		} else if ((ret = labyrinth_free_page(&pool, page)) != 0) {
			rs.free_errors++;
			fprintf(stderr, "\n%s: labyrinth_free_page(%p): %s\n", prog, (void *)page,
				strerror(-ret));
		}
		/* A fresh page now, from the atomic path: never waits. */
		fresh = labyrinth_void_alloc_page_gfp_atomic_exclusive(&pool);
		if (fresh) {
			post(bid, fresh);
		} else {
			rs.no_page++;
			U.empty[U.nempty++] = bid;
			if (U.nempty > rs.short_max)
				rs.short_max = U.nempty;
		}
	} else if (rs.cqe_errors++ < 5) {
		fprintf(stderr, "\n%s: socket %u: completion without a buffer (res %d)\n", prog, s,
			cqe->res);
	}
}

static void on_watch(const struct io_uring_cqe *cqe)
{
	uint64_t v;

	if (!(cqe->flags & IORING_CQE_F_MORE))
		U.watch_armed = false;
	if (cqe->res < 0) {
		if (cqe->res != -ECANCELED && rs.cqe_errors++ < 5)
			fprintf(stderr, "\n%s: watch poll: %s\n", prog, strerror(-cqe->res));
		return;
	}
	rs.watch_cqes++;
	rs.syscalls++;
	if (read(U.watch_fd, &v, sizeof(v)) == (ssize_t)sizeof(v)) {
		struct labyrinth_stats st;

		rs.watch_events += v;
		if (U.watch_lines < 5 && labyrinth_stats(&pool, &st) == 0) {
			say("watch: pool below its low mark (%" PRIu64 " free < %zu); ring has %u of %u "
			    "pages", st.pages_free, opt.low, U.posted, U.entries);
			if (++U.watch_lines == 5)
				say("watch: (further low-watermark events are counted only)");
		}
	}
}

/* Reap every completion that is there. */
static unsigned int reap(void)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	io_uring_for_each_cqe(&U.ring, head, cqe) {
		uint64_t tag = cqe->user_data & TAG_MASK;

		if (tag == TAG_RECV)
			on_recv((unsigned int)(cqe->user_data & 0xffffffffu), cqe);
		else if (tag == TAG_WATCH)
			on_watch(cqe);
		n++;
	}
	io_uring_cq_advance(&U.ring, n);
	publish();
	return n;
}

static int uring_setup(void)
{
	struct io_uring_params p;
	struct io_uring_buf_reg reg;
	static const unsigned int try_flags[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	unsigned int i, cq = 64;
	int ret = -EINVAL;
	void *mem;

	while (cq < 2 * opt.ring + 2 * MAX_SOCKETS + 16)
		cq <<= 1;
	for (i = 0; i < sizeof(try_flags) / sizeof(try_flags[0]); i++) {
		memset(&p, 0, sizeof(p));
		p.flags = try_flags[i] | IORING_SETUP_CQSIZE;
		p.cq_entries = cq;
		ret = io_uring_queue_init_params(256, &U.ring, &p);
		if (ret != -EINVAL)
			break;
	}
	if (ret < 0) {
		FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
		int dis = -1;

		if (f) {
			if (fscanf(f, "%d", &dis) != 1)
				dis = -1;
			fclose(f);
		}
		fprintf(stderr, "%s: io_uring is not available here: io_uring_setup: %s", prog,
			strerror(-ret));
		if (dis > 0)
			fprintf(stderr, " (kernel.io_uring_disabled = %d)", dis);
		fprintf(stderr, ".\n%s: the recvmmsg baseline still works: --mode mmsg\n", prog);
		return EXIT_NO_URING;
	}
	U.ring_up = true;

	/* The provided-buffer ring: entries of {addr, len, bid}, page-aligned. */
	U.entries = opt.ring;
	U.mask = (unsigned int)io_uring_buf_ring_mask(opt.ring);
	U.br_bytes = (opt.ring * sizeof(struct io_uring_buf) + 4095) & ~(size_t)4095;
	mem = mmap(NULL, U.br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "%s: mmap: %s\n", prog, strerror(errno));
		return 1;
	}
	U.br = mem;
	io_uring_buf_ring_init(U.br);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)U.br;
	reg.ring_entries = opt.ring;
	reg.bgid = BGID;
	ret = io_uring_register_buf_ring(&U.ring, &reg, 0);
	if (ret < 0) {
		fprintf(stderr, "%s: io_uring provided-buffer rings are not available: %s "
			"(they need Linux 5.19 or later)\n", prog, strerror(-ret));
		return EXIT_NO_URING;
	}

	U.slot = calloc(opt.ring, sizeof(*U.slot));
	U.empty = calloc(opt.ring, sizeof(*U.empty));
	U.held = calloc(opt.pages + opt.ring, sizeof(*U.held));
	if (!U.slot || !U.empty || !U.held) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	U.buf_len = (unsigned int)(opt.page_size < (1u << 31) ? opt.page_size : (1u << 31));
	for (i = opt.ring; i-- > 0;)
		U.empty[U.nempty++] = (uint16_t)i;
	refill();
	if (U.nempty)
		say("note: the pool filled only %u of the %u ring slots", U.posted, U.entries);
	return 0;
}

/* Cancel the receives and the watch, reap until all have ended. */
static void uring_stop(void)
{
	struct __kernel_timespec ts = { .tv_nsec = 50 * 1000 * 1000 };
	struct io_uring_cqe *cqe;
	double deadline = ex_now() + 2;
	unsigned int s;
	bool busy;

	U.stopping = true;
	for (s = 0; s < opt.sockets; s++) {
		if (U.armed[s]) {
			struct io_uring_sqe *sqe = get_sqe();

			io_uring_prep_cancel64(sqe, TAG_RECV | s, 0);
			io_uring_sqe_set_data64(sqe, TAG_CANCEL);
		}
	}
	if (U.watch_armed) {
		struct io_uring_sqe *sqe = get_sqe();

		io_uring_prep_cancel64(sqe, TAG_WATCH, 0);
		io_uring_sqe_set_data64(sqe, TAG_CANCEL);
	}
	do {
		io_uring_submit_and_wait_timeout(&U.ring, &cqe, 1, &ts, NULL);
		rs.syscalls++;
		reap();
		busy = U.watch_armed;
		for (s = 0; s < opt.sockets; s++)
			busy |= U.armed[s];
	} while (busy && ex_now() < deadline);
	if (busy)
		fprintf(stderr, "%s: receives did not end within 2 s of their cancellation\n", prog);
}

static void stall_step(double now, double t0)
{
	if (opt.run.stall_for <= 0)
		return;
	if (!U.stalled && !U.stall_done && now >= t0 + opt.run.stall_at) {
		U.stalled = true;
		say("consumer stalls for %.2f s: it keeps every page it receives",
		    opt.run.stall_for);
	} else if (U.stalled && now >= t0 + opt.run.stall_at + opt.run.stall_for) {
		unsigned int freed = labyrinth_free_bulk(&pool, U.held, (unsigned int)U.nheld);

		if (freed != U.nheld)
			rs.free_errors += U.nheld - freed;
		say("consumer back: %zu pages return to the pool; the ring refills, the receives "
		    "re-arm", U.nheld);
		U.nheld = 0;
		U.stalled = false;
		U.stall_done = true;
	}
}

/* ---- the recvmmsg baseline ------------------------------------------------ */

static struct {
	unsigned char **bufs;
	struct iovec *iov;
	struct mmsghdr *msgs;
	struct pollfd pfd[MAX_SOCKETS];
	unsigned long live; /* buffers malloc()'d right now */
} M;

static int mmsg_setup(void)
{
	unsigned int i;

	M.bufs = calloc(opt.batch, sizeof(*M.bufs));
	M.iov = calloc(opt.batch, sizeof(*M.iov));
	M.msgs = calloc(opt.batch, sizeof(*M.msgs));
	if (!M.bufs || !M.iov || !M.msgs)
		return -1;
	for (i = 0; i < opt.batch; i++) {
		M.bufs[i] = malloc(opt.page_size);
		if (!M.bufs[i])
			return -1;
		M.live++;
		M.iov[i].iov_base = M.bufs[i];
		M.iov[i].iov_len = opt.page_size;
		M.msgs[i].msg_hdr.msg_iov = &M.iov[i];
		M.msgs[i].msg_hdr.msg_iovlen = 1;
	}
	for (i = 0; i < opt.sockets; i++) {
		M.pfd[i].fd = socks[i];
		M.pfd[i].events = POLLIN;
	}
	return 0;
}

/* One round over the sockets; returns the datagrams received, -1 on error. */
static long mmsg_round(void)
{
	unsigned int s, i;
	long total = 0;

	for (s = 0; s < opt.sockets; s++) {
		for (;;) {
			/* MSG_TRUNC: msg_len is the real length, even if cut */
			int n = recvmmsg(socks[s], M.msgs, opt.batch, MSG_DONTWAIT | MSG_TRUNC, NULL);

			rs.syscalls++;
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					break;
				fprintf(stderr, "%s: recvmmsg: %s\n", prog, strerror(errno));
				return -1;
			}
			for (i = 0; i < (unsigned int)n; i++) {
				process(M.bufs[i], M.msgs[i].msg_len < opt.page_size ?
						M.msgs[i].msg_len : opt.page_size, M.msgs[i].msg_len);
				free(M.bufs[i]);
				M.bufs[i] = malloc(opt.page_size);
				if (!M.bufs[i]) {
					fprintf(stderr, "%s: malloc failed\n", prog);
					return -1;
				}
				M.iov[i].iov_base = M.bufs[i];
			}
			rs.sock_packets[s] += (unsigned int)n;
			total += n;
			if ((unsigned int)n < opt.batch)
				break;
		}
	}
	return total;
}

static void mmsg_teardown(void)
{
	unsigned int i;

	for (i = 0; M.bufs && i < opt.batch; i++)
		free(M.bufs[i]);
	free(M.bufs);
	free(M.iov);
	free(M.msgs);
}

/* ---- sockets, live line, options -------------------------------------------- */

static int open_sockets(void)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	unsigned int s;
	int one = 1;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)opt.port);
	if (inet_pton(AF_INET, opt.addr, &sin.sin_addr) != 1) {
		fprintf(stderr, "%s: bad IPv4 address '%s'\n", prog, opt.addr);
		return 2;
	}
	for (s = 0; s < opt.sockets; s++) {
		struct stat stb;
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			fprintf(stderr, "%s: socket: %s\n", prog, strerror(errno));
			return 1;
		}
		socks[s] = fd;
		if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
			fprintf(stderr, "%s: SO_REUSEPORT: %s\n", prog, strerror(errno));
		/* A big receive buffer absorbs the bursts while the ring refills;
		 * SO_RCVBUFFORCE goes past net.core.rmem_max (CAP_NET_ADMIN). */
		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &opt.rcvbuf, sizeof(opt.rcvbuf)) < 0)
			setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &opt.rcvbuf, sizeof(opt.rcvbuf));
		if (s == 0) {
			socklen_t ol = sizeof(rcvbuf_real);

			getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf_real, &ol);
		}
		if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
			fprintf(stderr, "%s: bind %s:%u: %s\n", prog, opt.addr, opt.port,
				strerror(errno));
			return 1;
		}
		if (s == 0 && opt.port == 0) { /* let the kernel choose; the others follow */
			getsockname(fd, (struct sockaddr *)&sin, &sl);
			opt.port = ntohs(sin.sin_port);
		}
		if (fstat(fd, &stb) == 0)
			sock_ino[s] = stb.st_ino;
	}
	return 0;
}

struct sample {
	double t;
	uint64_t packets, bytes;
};

static void live_line(double t0, struct sample *prev)
{
	char line[320], rate[16], extra[160];
	struct sample cur = { ex_now(), rs.packets, rs.bytes };
	struct winsize ws;
	double dt = cur.t - prev->t > 1e-9 ? cur.t - prev->t : 1e-9;
	int len;

	if (opt.mode == MODE_URING) {
		struct labyrinth_stats st;

		if (labyrinth_stats(&pool, &st) < 0)
			memset(&st, 0, sizeof(st));
		snprintf(extra, sizeof(extra),
			 "pool free %" PRIu64 " in use %" PRIu64 " (ring %u)  watch %" PRIu64
			 "  ENOBUFS %" PRIu64, st.pages_free, st.pages_inuse, U.posted,
			 rs.watch_events, rs.enobufs);
	} else {
		snprintf(extra, sizeof(extra), "malloc'd %lu", M.live);
	}
	len = snprintf(line, sizeof(line),
		       "%5.1f s %8s pkt/s %6.2f Gbit/s  %s  drops %" PRIu64 "  errors %" PRIu64,
		       cur.t - t0,
		       ex_compact(rate, (double)(cur.packets - prev->packets) / dt),
		       (double)(cur.bytes - prev->bytes) * 8 / dt / 1e9, extra, kernel_drops(),
		       rs.csum_errors + rs.len_errors);
	if (!tty) {
		printf("%s\n", line);
	} else {
		if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 && len >= ws.ws_col)
			line[ws.ws_col - 1] = '\0';
		printf("\r%s\033[K", line);
	}
	fflush(stdout);
	*prev = cur;
}

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s [options]\n"
		"\n"
		"Receive UDP into labyrinth pool pages through io_uring: a provided-buffer\n"
		"ring of pages from labyrinth_void_alloc_page_gfp_atomic_exclusive(),\n"
		"multishot receives, each page checksummed, freed and replaced by a fresh\n"
		"one; labyrinth_watch() reports the pool running low.  Verifies the\n"
		"sequence numbers and checksums of labyrinth-tx; counts other traffic.\n"
		"\n"
		"  -a, --addr IPV4          address to bind (default 127.0.0.1)\n"
		"  -p, --port PORT          UDP port, 0 = any free one (default %d)\n"
		"  -s, --sockets N          sockets on the port with SO_REUSEPORT (default 1, max %d)\n"
		"  -P, --pages N            pages in the pool (default 4096)\n"
		"      --page-size SIZE     4096, 2M or 1G (default 4096)\n"
		"  -r, --ring N             provided-buffer ring entries, a power of two\n"
		"                           <= 32768 (default 1024)\n"
		"  -l, --low N              labyrinth_watch low mark in pages (default pages/8)\n"
		"  -d, --duration SECONDS   how long to receive (default 10)\n"
		"  -n, --expect N           stop once N datagrams are in\n"
		"  -i, --idle-exit SECONDS  stop once nothing came for this long after the first\n"
		"      --rcvbuf BYTES       socket receive buffer (default 8 MiB)\n"
		"  -m, --mode MODE          uring (default) or mmsg: the baseline, recvmmsg into\n"
		"                           malloc()'d buffers\n"
		"  -b, --batch N            recvmmsg batch in mmsg mode (default 64)\n"
		"      --stall AT:FOR       the consumer keeps every page it gets from AT seconds\n"
		"                           for FOR seconds, then returns them all (pool exhaustion)\n"
		"      --iperf              follow iperf 2's sequence numbers (iperf -u -c ...)\n"
		"      --result-file F      write the RESULT line to F, not stdout\n"
		"  -q, --quiet              no live line\n"
		"  -h, --help               this text\n"
		"\n"
		"Exit status: 0 all verified and no page lost, 1 errors, 2 bad usage,\n"
		"3 io_uring not available here (--mode mmsg still works).\n",
		prog, UDP_DEFAULT_PORT, MAX_SOCKETS);
}

static size_t parse_page_size(const char *s)
{
	if (!strcmp(s, "4096") || !strcasecmp(s, "4k"))
		return LAB_PAGE_4K;
	if (!strcmp(s, "2097152") || !strcasecmp(s, "2m"))
		return LAB_PAGE_2M;
	if (!strcmp(s, "1073741824") || !strcasecmp(s, "1g"))
		return LAB_PAGE_1G;
	fprintf(stderr, "%s: bad page size '%s' (want 4096, 2M or 1G)\n", prog, s);
	exit(2);
}

static void parse_options(int argc, char **argv)
{
	enum { OPT_PAGE_SIZE = 256, OPT_RCVBUF };
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "sockets", required_argument, NULL, 's' },
		{ "pages", required_argument, NULL, 'P' },
		{ "page-size", required_argument, NULL, OPT_PAGE_SIZE },
		{ "ring", required_argument, NULL, 'r' },
		{ "low", required_argument, NULL, 'l' },
		{ "rcvbuf", required_argument, NULL, OPT_RCVBUF },
		{ "mode", required_argument, NULL, 'm' },
		{ "batch", required_argument, NULL, 'b' },
		EX_RX_LONGOPTS('i'),
	};
	bool low_set = false;
	int c;

	while ((c = getopt_long(argc, argv, "a:p:s:P:r:l:d:n:i:m:b:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			opt.addr = optarg;
			break;
		case 'p':
			opt.port = (unsigned int)ex_parse_ul(prog, optarg, "port", 0, 65535);
			break;
		case 's':
			opt.sockets = (unsigned int)ex_parse_ul(prog, optarg, "socket count", 1,
								MAX_SOCKETS);
			break;
		case 'P':
			opt.pages = ex_parse_ul(prog, optarg, "page count", 1, 1ul << 24);
			break;
		case OPT_PAGE_SIZE:
			opt.page_size = parse_page_size(optarg);
			break;
		case 'r':
			opt.ring = (unsigned int)ex_parse_ul(prog, optarg, "ring size", 1, 32768);
			if (opt.ring & (opt.ring - 1)) {
				fprintf(stderr, "%s: the ring size must be a power of two\n", prog);
				exit(2);
			}
			break;
		case 'l':
			opt.low = ex_parse_ul(prog, optarg, "low mark", 1, 1ul << 24);
			low_set = true;
			break;
		case OPT_RCVBUF:
			opt.rcvbuf = (int)ex_parse_ul(prog, optarg, "receive buffer", 4096,
						      1ul << 30);
			break;
		case 'm':
			if (!strcmp(optarg, "uring")) {
				opt.mode = MODE_URING;
			} else if (!strcmp(optarg, "mmsg")) {
				opt.mode = MODE_MMSG;
			} else {
				fprintf(stderr, "%s: bad mode '%s' (want uring or mmsg)\n", prog,
					optarg);
				exit(2);
			}
			break;
		case 'b':
			opt.batch = (unsigned int)ex_parse_ul(prog, optarg, "batch", 1, 1024);
			break;
		default:
			ex_rx_option(prog, &opt.run, c, optarg, 'i', usage);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		usage(stderr);
		exit(2);
	}
	if (!low_set)
		opt.low = opt.pages / 8 ? opt.pages / 8 : 1;
	if (opt.run.stall_for > 0 && opt.mode != MODE_URING) {
		fprintf(stderr, "%s: --stall is about the pool: it needs --mode uring\n", prog);
		exit(2);
	}
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
	struct labyrinth_params params = { .name = "udp-rx" };
	struct labyrinth_stats st;
	struct sample prev;
	double t0, t_end, next_report, cpu0, cpu, elapsed, active;
	uint64_t inuse_run = 0, posted_run = 0, held_run = 0, inuse_down = 0, drops, span;
	unsigned int s, nflows;
	int ret, check_rc = 0, destroy_rc = 0, status = 0;
	bool accounting_ok = true, unlocked;
	char line[1024];

	parse_options(argc, argv);
	tty = isatty(STDOUT_FILENO) && !opt.run.quiet;

	ex_catch_stop_signals(SA_RESETHAND);

	ret = open_sockets();
	if (ret)
		return ret;

	if (opt.mode == MODE_URING) {
		params.page_size = opt.page_size;
		params.nr_pages = opt.pages;
		ret = ex_init_pool(&pool, &params, &unlocked);
		if (unlocked)
			ex_nolock_note(prog, params.nr_pages);
		if (ret < 0) {
			ex_init_failed(prog, ret);
			if (ret == -ENOMEM)
				fprintf(stderr, "(the pool is locked in memory: raise 'ulimit -l' or "
						"use fewer --pages)\n");
			return 1;
		}
		U.watch_fd = labyrinth_watch(&pool, opt.low);
		if (U.watch_fd < 0) {
			fprintf(stderr, "%s: labyrinth_watch: %s\n", prog, strerror(-U.watch_fd));
			return 1;
		}
		ret = uring_setup();
		if (ret)
			return ret;
		printf("%s: listening on %s:%u, %u socket%s (SO_REUSEPORT); io_uring multishot "
		       "recv into a ring of %u pool pages (pool %zu x %zu B, low mark %zu)\n",
		       prog, opt.addr, opt.port, opt.sockets, opt.sockets == 1 ? "" : "s",
		       opt.ring, opt.pages, opt.page_size, opt.low);
	} else {
		if (mmsg_setup() < 0) {
			fprintf(stderr, "%s: out of memory\n", prog);
			return 1;
		}
		printf("%s: listening on %s:%u, %u socket%s (SO_REUSEPORT); baseline: recvmmsg "
		       "into malloc()'d %zu-byte buffers, batches of %u\n",
		       prog, opt.addr, opt.port, opt.sockets, opt.sockets == 1 ? "" : "s",
		       opt.page_size, opt.batch);
	}
	fflush(stdout);

	t0 = ex_now();
	t_end = t0 + opt.run.duration;
	next_report = t0 + 1;
	prev = (struct sample){ t0, 0, 0 };
	cpu0 = ex_cpu_seconds();
	if (opt.mode == MODE_URING) {
		for (s = 0; s < opt.sockets; s++)
			if (U.posted)
				arm(s);
		arm_watch();
	}

	while (!ex_interrupted) {
		double now = ex_now(), wait = 0.1;
		uint64_t before = rs.packets;

		if (now >= t_end || (opt.run.expect && rs.packets >= opt.run.expect))
			break;
		if (opt.run.idle_exit > 0 && rs.packets && now - rs.t_last >= opt.run.idle_exit)
			break;
		if (now >= next_report) {
			if (!opt.run.quiet)
				live_line(t0, &prev);
			next_report += 1;
			if (next_report < now)
				next_report = now + 1;
		}
		if (next_report - now < wait)
			wait = next_report - now;
		if (t_end - now < wait)
			wait = t_end - now;
		if (wait < 0.001)
			wait = 0.001;

		if (opt.mode == MODE_URING) {
			struct __kernel_timespec ts;
			struct io_uring_cqe *cqe;

			stall_step(now, t0);
			if (opt.run.stall_for > 0 && !U.stall_done) {
				double edge = t0 + opt.run.stall_at +
					      (U.stalled ? opt.run.stall_for : 0);

				if (edge > now && edge - now < wait)
					wait = edge - now;
			}
			refill();
			if (U.posted) {
				for (s = 0; s < opt.sockets; s++) {
					if (!U.armed[s]) {
						arm(s);
						rs.rearms++;
					}
				}
			}
			if (!U.watch_armed)
				arm_watch();
			/* Fewer wake-ups: while datagrams flow, sleep until a
			 * batch is in or BATCH_WAIT_S passed (the kernel wakes us
			 * once, not per completion); idle, until the first. */
			if (U.last_reaped && wait > BATCH_WAIT_S)
				wait = BATCH_WAIT_S;
			ts.tv_sec = (long long)wait;
			ts.tv_nsec = (long long)((wait - (double)ts.tv_sec) * 1e9);
			ret = io_uring_submit_and_wait_timeout(&U.ring, &cqe,
							       U.last_reaped ? BATCH_WAIT : 1,
							       &ts, NULL);
			rs.syscalls++;
			if (ret < 0 && ret != -ETIME && ret != -EINTR && ret != -EAGAIN &&
			    ret != -EBUSY) {
				fprintf(stderr, "%s: io_uring_submit_and_wait: %s\n", prog,
					strerror(-ret));
				status = 1;
				break;
			}
			U.last_reaped = reap();
		} else {
			long n = mmsg_round();

			if (n < 0) {
				status = 1;
				break;
			}
			if (n == 0) {
				poll(M.pfd, opt.sockets, (int)(wait * 1000) + 1);
				rs.syscalls++;
			}
		}
		if (rs.packets != before) {
			now = ex_now();
			if (!before)
				rs.t_first = now;
			rs.t_last = now;
		}
	}
	if (opt.mode == MODE_URING)
		uring_stop();
	cpu = ex_cpu_seconds() - cpu0;
	elapsed = ex_now() - t0;
	drops = kernel_drops();
	if (tty)
		printf("\n");

	if (opt.mode == MODE_URING) {
		/* Nothing is in flight now: every page out of the pool is either
		 * posted in the ring or held by the (stalled) consumer. */
		if (labyrinth_stats(&pool, &st) == 0)
			inuse_run = st.pages_inuse;
		posted_run = U.posted;
		held_run = U.nheld;
		if (inuse_run != posted_run + held_run)
			accounting_ok = false;
		if (U.nheld && labyrinth_free_bulk(&pool, U.held, (unsigned int)U.nheld) != U.nheld)
			rs.free_errors++;
		U.nheld = 0;
		ret = io_uring_unregister_buf_ring(&U.ring, BGID);
		if (ret < 0)
			fprintf(stderr, "%s: io_uring_unregister_buf_ring: %s\n", prog, strerror(-ret));
		io_uring_queue_exit(&U.ring);
		munmap(U.br, U.br_bytes);
		for (s = 0; s < U.entries; s++) {
			if (U.slot[s] && labyrinth_free_page(&pool, U.slot[s]) != 0)
				rs.free_errors++;
			U.slot[s] = NULL;
		}
		U.posted = 0;
		if (labyrinth_stats(&pool, &st) == 0)
			inuse_down = st.pages_inuse;
		if (inuse_down != 0)
			accounting_ok = false;
		check_rc = labyrinth_check(&pool);
		close(U.watch_fd);
	} else {
		mmsg_teardown();
	}
	for (s = 0; s < opt.sockets; s++)
		close(socks[s]);

	span = seq_span(&nflows);
	active = rs.t_last - rs.t_first;
	if (active < 1e-3)
		active = elapsed > 1e-3 ? elapsed : 1e-3;
	if (!opt.run.quiet) {
		printf("%s (%s) after %.2f s:\n", ex_interrupted ? "interrupted" : "done",
		       opt.mode == MODE_URING ? "labyrinth + io_uring" : "malloc + recvmmsg",
		       elapsed);
		printf("  datagrams      %12" PRIu64 "  (%.3f M/s, %.2f Gbit/s while traffic flowed)\n",
		       rs.packets, (double)rs.packets / active / 1e6,
		       (double)rs.bytes * 8 / active / 1e9);
		printf("  verified       %12" PRIu64 "  from %u labyrinth-tx flow%s; %" PRIu64
		       " other datagrams\n", rs.verified, nflows, nflows == 1 ? "" : "s", rs.foreign);
		if (opt.run.iperf)
			printf("  iperf          %12" PRIu64 "  iperf 2 datagrams in sequence order: %" PRIu64
			       " lost (gaps), %" PRIu64 " late; %" PRIu64 " closing datagrams\n",
			       rs.iperf, rs.iperf_gaps, rs.iperf_late, rs.iperf_fin);
		printf("  lost (gaps)    %12" PRIu64 "  kernel drops (socket buffer full) %" PRIu64 "\n",
		       rs.gaps, drops);
		printf("  errors         %12" PRIu64 "  (checksum %" PRIu64 ", length %" PRIu64
		       ", late/duplicate %" PRIu64 ")\n",
		       rs.csum_errors + rs.len_errors + rs.reorders, rs.csum_errors, rs.len_errors,
		       rs.reorders);
		if (rs.truncated)
			printf("  TRUNCATED      %12" PRIu64 "  datagrams longer than a %zu-byte buffer "
			       "(any sender): data lost\n", rs.truncated, opt.page_size);
		printf("  rx CPU         %12.2f s  (%.0f ns per datagram, %.1f datagrams per syscall)\n",
		       cpu, rs.packets ? cpu * 1e9 / (double)rs.packets : 0.0,
		       rs.syscalls ? (double)rs.packets / (double)rs.syscalls : 0.0);
		if (opt.sockets > 1) {
			printf("  per socket    ");
			for (s = 0; s < opt.sockets; s++)
				printf(" %" PRIu64, rs.sock_packets[s]);
			printf("\n");
		}
		if (opt.mode == MODE_URING) {
			printf("  ring           %12" PRIu64 "  ENOBUFS (ring ran dry), %" PRIu64
			       " re-arms, %" PRIu64 " times no fresh page (most slots empty: %" PRIu64
			       ")\n", rs.enobufs, rs.rearms, rs.no_page, rs.short_max);
			printf("  watch          %12" PRIu64 "  low-watermark events (mark %zu pages)\n",
			       rs.watch_events, opt.low);
			if (opt.run.stall_for > 0)
				printf("  stall          %12" PRIu64 "  pages held at most; %" PRIu64
				       " datagrams after the consumer came back\n",
				       rs.held_max, rs.after_stall);
			printf("  pages          %12" PRIu64 "  in use after the run = %" PRIu64
			       " posted + %" PRIu64 " held: %s; %" PRIu64 " after teardown\n",
			       inuse_run, posted_run, held_run,
			       inuse_run == posted_run + held_run ? "exact" : "MISMATCH", inuse_down);
		}
	}
	if (opt.mode == MODE_URING) {
		destroy_rc = labyrinth_destroy(&pool);
		if (destroy_rc)
			fprintf(stderr, "%s: labyrinth_destroy: %s\n", prog, strerror(-destroy_rc));
	}
	if (rs.csum_errors || rs.len_errors || rs.reorders || rs.free_errors || !accounting_ok ||
	    rs.truncated ||
	    check_rc || destroy_rc || rs.cqe_errors)
		status = 1;

	snprintf(line, sizeof(line),
		 "RESULT tool=rx mode=%s port=%u sockets=%u seconds=%.3f active=%.3f packets=%" PRIu64
		 " bytes=%" PRIu64 " verified=%" PRIu64 " foreign=%" PRIu64 " flows=%u seq_span=%"
		 PRIu64 " gaps=%" PRIu64 " reorders=%" PRIu64 " csum_errors=%" PRIu64
		 " len_errors=%" PRIu64 " truncated=%" PRIu64 " kernel_drops=%" PRIu64 " cpu=%.3f syscalls=%" PRIu64
		 " enobufs=%" PRIu64 " rearms=%" PRIu64 " no_page=%" PRIu64 " watch_events=%" PRIu64
		 " held_max=%" PRIu64 " after_stall=%" PRIu64 " inuse_after_run=%" PRIu64
		 " posted=%" PRIu64 " held=%" PRIu64 " inuse_after_teardown=%" PRIu64
		 " free_errors=%" PRIu64 " cqe_errors=%" PRIu64 " iperf=%" PRIu64 " iperf_gaps=%"
		 PRIu64 " rcvbuf=%d check=%d destroy=%d status=%s",
		 opt.mode == MODE_URING ? "uring" : "mmsg", opt.port, opt.sockets, elapsed, active,
		 rs.packets, rs.bytes, rs.verified, rs.foreign, nflows, span, rs.gaps, rs.reorders,
		 rs.csum_errors, rs.len_errors, rs.truncated, drops, cpu, rs.syscalls, rs.enobufs, rs.rearms,
		 rs.no_page, rs.watch_events, rs.held_max, rs.after_stall, inuse_run, posted_run,
		 held_run, inuse_down, rs.free_errors, rs.cqe_errors, rs.iperf, rs.iperf_gaps,
		 rcvbuf_real, check_rc, destroy_rc,
		 status ? "error" : "ok");
	if (ex_put_result(prog, opt.run.result_file, line) < 0)
		status = 1;
	return status;
}
