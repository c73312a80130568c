/* SPDX-License-Identifier: MIT */
/*
 * xdp_tx.c - labyrinth-xdp-tx, AF_XDP transmit from labyrinth pages.
 *
 * The transmit half of the AF_XDP story, so that neither direction goes
 * through the socket layer: the UMEM is a labyrinth pool
 * (labyrinth_region()); each frame is a page taken with
 * labyrinth_alloc_bulk(LAB_GFP_ATOMIC), filled with Ethernet + IPv4 + UDP
 * headers and a datagram of udp_common.h (flow, sequence, checksum), and
 * posted on the tx ring.  When the kernel has sent a frame it returns the
 * address on the completion ring, and the page goes straight back to the
 * pool (labyrinth_free_bulk).  No frame list of our own: the pool is it.
 *
 * Exit status: 0 when it sent what it was asked to and got every frame
 * back; 1 on an error; 2 on bad usage; 3 when AF_XDP is not available.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <xdp/xsk.h>

#include <labyrinth.h>

#include "xdp_common.h"

#define MAX_BATCH 256

static const char *prog = "labyrinth-xdp-tx";

static struct {
	const char *ifname, *src, *dst;
	unsigned char dst_mac[6];
	bool dst_mac_set;
	unsigned int queue, port, flows, batch;
	size_t size, pages;
	double rate;
	struct ex_tx_opts run;
} opt = {
	.src = XDP_DEFAULT_SRC,
	.dst = XDP_DEFAULT_DST,
	.port = XDP_DEFAULT_PORT,
	.flows = 4,
	.batch = 64,
	.size = 1400,
	.pages = 2048,
	.run.duration = 10,
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s -i IFNAME [options]\n"
		"\n"
		"Send verifiable UDP datagrams (flow, sequence number, checksum) as raw\n"
		"frames through an AF_XDP socket whose UMEM is a labyrinth pool; pages\n"
		"come from labyrinth_alloc_bulk(LAB_GFP_ATOMIC) and go back from the\n"
		"completion ring.  For labyrinth-xdp-rx (or labyrinth-rx).\n"
		"\n"
		"  -i, --ifname NAME      interface to send on (required)\n"
		"  -Q, --queue N          its queue (default 0)\n"
		"      --src IPV4         source address (default %s)\n"
		"  -a, --dst IPV4         destination address (default %s)\n"
		"  -m, --dst-mac MAC      destination MAC (default: broadcast)\n"
		"  -p, --port PORT        destination UDP port (default %d)\n"
		"  -s, --size BYTES       datagram size, header included (%zu..%u, default 1400)\n"
		"  -r, --rate PKTS        packets per second, 0 = flat out (default 0)\n"
		"  -d, --duration SECONDS how long to send (default 10)\n"
		"  -n, --count N          stop after N packets\n"
		"  -f, --flows N          flows (source ports 10000 + flow; default 4, max 64)\n"
		"  -b, --batch N          frames per tx ring batch (default 64, max %d)\n"
		"  -P, --pages N          pages in the pool = UMEM frames (default 2048)\n"
		"      --delay SECONDS    wait before sending (default 0)\n"
		"      --result-file F    write the RESULT line to F, not stdout\n"
		"  -q, --quiet            only the RESULT line\n"
		"  -h, --help             this text\n"
		"\n"
		"Exit status: 0 sent everything asked and got every frame back, 1 error,\n"
		"2 bad usage, 3 AF_XDP not available here.\n",
		prog, XDP_DEFAULT_SRC, XDP_DEFAULT_DST, XDP_DEFAULT_PORT, sizeof(struct udp_hdr),
		XDP_FRAME_SIZE - XDP_HDRS, MAX_BATCH);
}

static void parse_options(int argc, char **argv)
{
	enum { OPT_SRC = 256 };
	static const struct option longopts[] = {
		{ "ifname", required_argument, NULL, 'i' },
		{ "queue", required_argument, NULL, 'Q' },
		{ "src", required_argument, NULL, OPT_SRC },
		{ "dst", required_argument, NULL, 'a' },
		{ "dst-mac", required_argument, NULL, 'm' },
		{ "port", required_argument, NULL, 'p' },
		{ "size", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "flows", required_argument, NULL, 'f' },
		{ "batch", required_argument, NULL, 'b' },
		{ "pages", required_argument, NULL, 'P' },
		EX_TX_LONGOPTS,
	};
	int c;

	while ((c = getopt_long(argc, argv, "i:Q:a:m:p:s:r:d:n:f:b:P:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			opt.ifname = optarg;
			break;
		case 'Q':
			opt.queue = (unsigned int)ex_parse_ul(prog, optarg, "queue", 0, 63);
			break;
		case OPT_SRC:
			opt.src = optarg;
			break;
		case 'a':
			opt.dst = optarg;
			break;
		case 'm':
			if (xdp_parse_mac(optarg, opt.dst_mac) < 0) {
				fprintf(stderr, "%s: bad MAC address '%s'\n", prog, optarg);
				exit(2);
			}
			opt.dst_mac_set = true;
			break;
		case 'p':
			opt.port = (unsigned int)ex_parse_ul(prog, optarg, "port", 1, 65535);
			break;
		case 's':
			opt.size = ex_parse_ul(prog, optarg, "size", sizeof(struct udp_hdr),
					       XDP_FRAME_SIZE - XDP_HDRS);
			break;
		case 'r':
			opt.rate = (double)ex_parse_ul(prog, optarg, "rate", 0, 100000000);
			break;
		case 'f':
			opt.flows = (unsigned int)ex_parse_ul(prog, optarg, "flow count", 1, 64);
			break;
		case 'b':
			opt.batch = (unsigned int)ex_parse_ul(prog, optarg, "batch", 1, MAX_BATCH);
			break;
		case 'P':
			opt.pages = ex_parse_ul(prog, optarg, "page count", 8, 1ul << 20);
			break;
		default:
			ex_tx_option(prog, &opt.run, c, optarg, usage);
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
}

static unsigned int pow2_at_least(size_t n)
{
	unsigned int p = 64;

	while (p < n)
		p <<= 1;
	return p;
}

int main(int argc, char **argv)
{
	struct labyrinth_params params = { .name = "xdp-tx" };
	struct xsk_umem_config ucfg;
	struct xsk_socket_config scfg;
	/* Zeroed: libxdp 1.3.1 does not set every field of the rings
	 * (valgrind: the completion ring's cached indices), and a stack
	 * leftover there reads as completions that never happened. */
	struct xsk_ring_prod fq = { 0 }, tx = { 0 };
	struct xsk_ring_cons cq = { 0 };
	struct xsk_umem *umem = NULL;
	struct xsk_socket *xsk = NULL;
	struct labyrinth_stats st;
	labyrinth_t pool;
	unsigned char src_mac[6], *payload[64];
	uint64_t pcsum[64], seq[64], sent = 0, completed = 0, no_page = 0, kicks = 0;
	uint64_t kick_errors = 0, inuse_end = ~0ull, bogus = 0;
	uint8_t *queued; /* per frame: on the tx ring, not yet completed */
	uint32_t saddr, daddr, plen;
	unsigned int ring, f, flow = 0, tmpl;
	double t0, t_end, cpu0, cpu, elapsed;
	void *base, *pages[MAX_BATCH];
	size_t len;
	int ret, fd, status = 0;
	char line[512];

	parse_options(argc, argv);
	if (inet_pton(AF_INET, opt.src, &saddr) != 1 || inet_pton(AF_INET, opt.dst, &daddr) != 1) {
		fprintf(stderr, "%s: bad IPv4 address\n", prog);
		return 2;
	}
	if (!xdp_sockets_available()) {
		fprintf(stderr, "%s: AF_XDP is not available here (a kernel without "
			"CONFIG_XDP_SOCKETS)\n", prog);
		return 3;
	}
	if (xdp_if_mac(opt.ifname, src_mac) < 0) {
		fprintf(stderr, "%s: interface %s: %s\n", prog, opt.ifname, strerror(errno));
		return 1;
	}
	if (!opt.dst_mac_set)
		memset(opt.dst_mac, 0xff, 6);
	tmpl = opt.flows;
	plen = (uint32_t)(opt.size - sizeof(struct udp_hdr));
	for (f = 0; f < tmpl; f++) {
		unsigned int i;

		payload[f] = malloc(plen + 1);
		if (!payload[f])
			return 1;
		for (i = 0; i < plen; i++)
			payload[f][i] = (unsigned char)(f * 131 + i * 7 + (i >> 8));
		pcsum[f] = udp_payload_csum(payload[f], plen);
	}
	memset(seq, 0, sizeof(seq));

	params.nr_pages = opt.pages;
	ret = labyrinth_init(&pool, &params);
	if (ret < 0) {
		ex_init_failed(prog, ret);
		return 1;
	}
	labyrinth_region(&pool, &base, &len);
	queued = calloc(len / XDP_FRAME_SIZE, 1);
	if (!queued)
		return 1;

	ring = pow2_at_least(opt.pages); /* the tx ring can hold every frame */
	memset(&ucfg, 0, sizeof(ucfg));
	ucfg.fill_size = 64;
	ucfg.comp_size = ring;
	ucfg.frame_size = XDP_FRAME_SIZE;
	memset(&scfg, 0, sizeof(scfg));
	scfg.tx_size = ring;
	scfg.libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD; /* sending needs no program */
	scfg.bind_flags = XDP_COPY;
	/* EBUSY: the queue's previous socket is still being released (the
	 * kernel unbinds a closed socket from a work queue): wait a little.
	 * Each try starts from a fresh UMEM: after a failed bind the old
	 * socket's rings already exist and cannot be set up again. */
	for (f = 0; f < 40; f++) {
		ret = xsk_umem__create(&umem, base, len, &fq, &cq, &ucfg);
		if (ret) {
			fprintf(stderr, "%s: registering the pool as UMEM: %s\n", prog,
				strerror(-ret));
			return 1;
		}
		ret = xsk_socket__create(&xsk, opt.ifname, opt.queue, umem, NULL, &tx, &scfg);
		if (ret != -EBUSY)
			break;
		xsk_umem__delete(umem);
		umem = NULL;
		ex_sleep(0.05);
	}
	if (ret) {
		fprintf(stderr, "%s: AF_XDP socket on %s queue %u: %s\n", prog, opt.ifname,
			opt.queue, strerror(-ret));
		return 1;
	}
	fd = xsk_socket__fd(xsk);

	ex_catch_stop_signals(SA_RESETHAND);
	if (!opt.run.quiet) {
		printf("%s: %s queue %u, %u flow%s -> %s:%u, %zu-byte datagrams, %s; UMEM = pool "
		       "of %zu pages\n", prog, opt.ifname, opt.queue, opt.flows,
		       opt.flows == 1 ? "" : "s", opt.dst, opt.port, opt.size,
		       opt.rate > 0 ? "paced" : "flat out", opt.pages);
		fflush(stdout);
	}
	ex_sleep(opt.run.delay);

	t0 = ex_now();
	t_end = t0 + opt.run.duration;
	cpu0 = ex_cpu_seconds();
	for (;;) {
		unsigned int want = opt.batch, got, i, n;
		double now = ex_now();
		uint32_t idx;
		bool done = ex_interrupted || now >= t_end ||
			    (opt.run.count && sent >= opt.run.count);

		/* Completions first: each sent frame's page goes back to the pool. */
		n = xsk_ring_cons__peek(&cq, MAX_BATCH, &idx);
		for (i = got = 0; i < n; i++) {
			uint64_t addr = *xsk_ring_cons__comp_addr(&cq, idx + i);

			/* Only a frame we queued goes back: a completion for any
			 * other address would hand out a page the kernel may
			 * still read. */
			if (addr >= len || !queued[addr / XDP_FRAME_SIZE]) {
				if (bogus++ < 3)
					fprintf(stderr, "%s: completion for a frame not queued: %#" PRIx64
						" (ring consumer %u producer %u)\n", prog, addr,
						*cq.consumer, *cq.producer);
				continue;
			}
			queued[addr / XDP_FRAME_SIZE] = 0;
			pages[got++] = (char *)base + addr;
		}
		if (n) {
			xsk_ring_cons__release(&cq, n);
			if (labyrinth_free_bulk(&pool, pages, got) != got)
				status = 1;
			completed += got;
		}
		if (done) {
			if (completed == sent || now >= t_end + 2)
				break;
			if (xsk_prod_nb_free(&tx, ring) < ring) { /* still queued: push it */
				sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
				kicks++;
			}
			ex_sleep(0.0005);
			continue;
		}
		if (opt.run.count && opt.run.count - sent < want)
			want = (unsigned int)(opt.run.count - sent);
		if (opt.rate > 0) {
			double allowed = opt.rate * (now - t0) - (double)sent;

			if (allowed < 1) {
				ex_sleep((1 - allowed) / opt.rate);
				continue;
			}
			if (allowed < want)
				want = (unsigned int)allowed;
		}
		got = labyrinth_alloc_bulk(&pool, LAB_GFP_ATOMIC, pages, want);
		if (!got) { /* every page is in the kernel's hands: let it send */
			no_page++;
			sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0);
			kicks++;
			continue;
		}
		if (xsk_ring_prod__reserve(&tx, got, &idx) != got) { /* cannot happen: ring >= pool */
			labyrinth_free_bulk(&pool, pages, got);
			fprintf(stderr, "%s: tx ring full\n", prog);
			status = 1;
			break;
		}
		for (i = 0; i < got; i++) {
			unsigned char *fr = pages[i];
			struct udp_hdr h = {
				.magic = UDP_MAGIC,
				.flow = flow,
				.len = (uint32_t)opt.size,
			};
			struct xdp_desc *d = xsk_ring_prod__tx_desc(&tx, idx + i);

			h.seq = seq[flow]++;
			h.csum = pcsum[flow] ^ udp_hdr_mix(h.flow, h.seq, h.len);
			xdp_put_headers(fr, opt.dst_mac, src_mac, saddr, daddr,
					(uint16_t)(10000 + flow), (uint16_t)opt.port,
					(uint32_t)opt.size);
			memcpy(fr + XDP_HDRS, &h, sizeof(h));
			memcpy(fr + XDP_HDRS + sizeof(h), payload[flow], plen);
			d->addr = (uint64_t)((unsigned char *)fr - (unsigned char *)base);
			queued[d->addr / XDP_FRAME_SIZE] = 1;
			d->len = (uint32_t)(XDP_HDRS + opt.size);
			d->options = 0;
			sent++;
			flow = flow + 1 == opt.flows ? 0 : flow + 1;
		}
		xsk_ring_prod__submit(&tx, got);
		/* Copy mode sends only from this call (at most 32 frames each). */
		do {
			if (sendto(fd, NULL, 0, MSG_DONTWAIT, NULL, 0) < 0 && errno != EAGAIN &&
			    errno != EBUSY && errno != ENOBUFS && errno != EINTR && kick_errors++ < 3)
				fprintf(stderr, "%s: sendto: %s\n", prog, strerror(errno));
			kicks++;
		} while (xsk_prod_nb_free(&tx, ring) + 64 < ring && !ex_interrupted);
	}
	cpu = ex_cpu_seconds() - cpu0;
	elapsed = ex_now() - t0;
	xsk_socket__delete(xsk);
	xsk_umem__delete(umem);
	if (labyrinth_stats(&pool, &st) == 0)
		inuse_end = st.pages_inuse;
	/* Frames the kernel never completed (a crash would leave them too):
	 * the socket is gone, so they are ours again.  Counted, not hidden. */
	if (completed != sent || bogus)
		status = 1;
	if (labyrinth_destroy(&pool) != 0)
		status = 1;
	if (opt.run.count && sent < opt.run.count && !ex_interrupted)
		status = 1;
	for (f = 0; f < tmpl; f++)
		free(payload[f]);
	free(queued);
	if (!opt.run.quiet)
		printf("%s: sent %" PRIu64 " frames in %.2f s (%.0f/s), %" PRIu64 " completed, "
		       "%.0f ns CPU per frame, pool in use at the end %" PRIu64 "\n", prog, sent,
		       elapsed, (double)sent / (elapsed > 0 ? elapsed : 1), completed,
		       sent ? cpu * 1e9 / (double)sent : 0.0, inuse_end);
	snprintf(line, sizeof(line),
		 "RESULT tool=xdp-tx sent=%" PRIu64 " completed=%" PRIu64 " size=%zu flows=%u "
		 "seconds=%.3f cpu=%.3f kicks=%" PRIu64 " no_page=%" PRIu64 " inuse_end=%" PRIu64
		 " bogus_completions=%" PRIu64 " status=%s", sent, completed, opt.size, opt.flows,
		 elapsed, cpu, kicks, no_page, inuse_end, bogus, status ? "error" : "ok");
	if (ex_put_result(prog, opt.run.result_file, line) < 0)
		status = 1;
	return status;
}
