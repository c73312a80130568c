/* SPDX-License-Identifier: MIT */
/*
 * udp_tx.c - labyrinth-tx, the traffic for labyrinth-rx.
 *
 * Sends UDP datagrams in sendmmsg(2) bursts from one or more flows (one
 * connected socket each, so each flow has its own source port and
 * SO_REUSEPORT spreads the flows over the receiver's sockets).  Every
 * datagram carries the header of udp_common.h: flow, per-flow sequence
 * number, length and a checksum over the payload, so that the receiver can
 * verify each packet and see every loss.
 *
 * Flat out by default; --rate paces with a token bucket.  Stops after
 * --duration seconds or --count packets, whichever comes first, and prints
 * what it sent (and "RESULT key=value ..." for scripts).
 *
 * Exit status: 0 when it sent what it was asked to, 1 on a send error,
 * 2 on bad usage.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "udp_common.h"

static const char *prog = "labyrinth-tx";

static void usage(FILE *out)
{
	fprintf(out,
		"usage: %s [options]\n"
		"\n"
		"Send verifiable UDP datagrams (flow, sequence number, checksum) in\n"
		"sendmmsg bursts, flat out or at a chosen rate, for labyrinth-rx.\n"
		"\n"
		"  -a, --addr IPV4        destination (default 127.0.0.1)\n"
		"  -p, --port PORT        destination port (default %d)\n"
		"  -s, --size BYTES       datagram size, header included (default 1400, %zu..%d)\n"
		"  -r, --rate PKTS        packets per second, 0 = flat out (default 0)\n"
		"  -d, --duration SECONDS how long to send (default 10)\n"
		"  -n, --count N          stop after N packets (default: no limit)\n"
		"  -f, --flows N          flows = sending sockets / source ports (default 4, max %d)\n"
		"  -b, --burst N          datagrams per sendmmsg (default 32, max 1024)\n"
		"      --delay SECONDS    wait before sending (default 0)\n"
		"      --result-file F    write the RESULT line to F, not stdout\n"
		"  -q, --quiet            only the RESULT line\n"
		"  -h, --help             this text\n",
		prog, UDP_DEFAULT_PORT, sizeof(struct udp_hdr), UDP_MAX_PAYLOAD, UDP_MAX_FLOWS);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "addr", required_argument, NULL, 'a' },
		{ "port", required_argument, NULL, 'p' },
		{ "size", required_argument, NULL, 's' },
		{ "rate", required_argument, NULL, 'r' },
		{ "flows", required_argument, NULL, 'f' },
		{ "burst", required_argument, NULL, 'b' },
		EX_TX_LONGOPTS,
	};
	struct ex_tx_opts run = { .duration = 10 };
	const char *addr = "127.0.0.1";
	unsigned long port = UDP_DEFAULT_PORT, size = 1400, rate = 0;
	unsigned long nflows = 4, burst = 32, f, i;
	double t0, t_end, elapsed, tokens = 0, last;
	uint64_t sent = 0, refused = 0, retries = 0, *seq;
	struct sockaddr_in dst;
	struct mmsghdr *msgs;
	struct iovec *iov;
	unsigned char *bufs;
	uint64_t *pcsum;
	char line[512];
	bool failed = false;
	int c, *fds;

	while ((c = getopt_long(argc, argv, "a:p:s:r:d:n:f:b:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'a':
			addr = optarg;
			break;
		case 'p':
			port = ex_parse_ul(prog, optarg, "port", 1, 65535);
			break;
		case 's':
			size = ex_parse_ul(prog, optarg, "size", sizeof(struct udp_hdr),
					   UDP_MAX_PAYLOAD);
			break;
		case 'r':
			rate = ex_parse_ul(prog, optarg, "rate", 0, 1000000000ul);
			break;
		case 'f':
			nflows = ex_parse_ul(prog, optarg, "flow count", 1, UDP_MAX_FLOWS);
			break;
		case 'b':
			burst = ex_parse_ul(prog, optarg, "burst", 1, 1024);
			break;
		default:
			ex_tx_option(prog, &run, c, optarg, usage);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[optind]);
		usage(stderr);
		return 2;
	}
	memset(&dst, 0, sizeof(dst));
	dst.sin_family = AF_INET;
	dst.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, addr, &dst.sin_addr) != 1) {
		fprintf(stderr, "%s: bad IPv4 address '%s'\n", prog, addr);
		return 2;
	}

	fds = calloc(nflows, sizeof(*fds));
	seq = calloc(nflows, sizeof(*seq));
	bufs = malloc(burst * size);
	pcsum = calloc(burst, sizeof(*pcsum));
	msgs = calloc(burst, sizeof(*msgs));
	iov = calloc(burst, sizeof(*iov));
	if (!fds || !seq || !bufs || !pcsum || !msgs || !iov) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}
	for (f = 0; f < nflows; f++) {
		int sndbuf = 4 << 20;

		fds[f] = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (fds[f] < 0 || connect(fds[f], (struct sockaddr *)&dst, sizeof(dst)) < 0) {
			fprintf(stderr, "%s: socket/connect %s:%lu: %s\n", prog, addr, port,
				strerror(errno));
			return 1;
		}
		setsockopt(fds[f], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	}
	/* One payload per burst slot, pseudo-random, its checksum computed
	 * once; each send only rewrites the header. */
	for (i = 0; i < burst; i++) {
		unsigned char *b = bufs + i * size;
		uint64_t x = 0x1ab5ull + i;
		size_t k;

		for (k = sizeof(struct udp_hdr); k < size; k++) {
			x = x * 6364136223846793005ull + 1442695040888963407ull;
			b[k] = (unsigned char)(x >> 56);
		}
		pcsum[i] = udp_payload_csum(b + sizeof(struct udp_hdr),
					    size - sizeof(struct udp_hdr));
		iov[i].iov_base = b;
		iov[i].iov_len = size;
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}

	ex_catch_stop_signals(0);

	ex_sleep(run.delay);
	if (!run.quiet) {
		if (rate)
			printf("%s: %lu flow%s -> %s:%lu, %lu-byte datagrams, %lu pkt/s, "
			       "bursts of %lu, %.1f s\n", prog, nflows, nflows == 1 ? "" : "s",
			       addr, port, size, rate, burst, run.duration);
		else
			printf("%s: %lu flow%s -> %s:%lu, %lu-byte datagrams, flat out, "
			       "bursts of %lu, %.1f s\n", prog, nflows, nflows == 1 ? "" : "s",
			       addr, port, size, burst, run.duration);
		fflush(stdout);
	}

	t0 = last = ex_now();
	t_end = t0 + run.duration;
	f = 0;
	while (!ex_interrupted) {
		unsigned long want = burst;
		double now = ex_now();
		int n;

		if (now >= t_end || (run.count && sent >= run.count))
			break;
		if (run.count && run.count - sent < want)
			want = (unsigned long)(run.count - sent);
		if (rate) {
			tokens += (now - last) * (double)rate;
			last = now;
			if (tokens > 4.0 * (double)burst)
				tokens = 4.0 * (double)burst;
			if (tokens < (double)want) {
				double wait = ((double)want - tokens) / (double)rate;

				ex_sleep(wait < 0.002 ? wait : 0.002);
				continue;
			}
		}
		for (i = 0; i < want; i++) {
			struct udp_hdr h = {
				.magic = UDP_MAGIC,
				.flow = (uint32_t)f,
				.seq = seq[f] + i,
				.len = (uint32_t)size,
			};

			h.csum = pcsum[i] ^ udp_hdr_mix(h.flow, h.seq, h.len);
			memcpy(bufs + i * size, &h, sizeof(h));
		}
		n = sendmmsg(fds[f], msgs, (unsigned int)want, 0);
		if (n < 0) {
			if (errno == ECONNREFUSED) { /* nobody listening (yet) */
				refused++;
				ex_sleep(0.001);
			} else if (errno == EINTR || errno == EAGAIN || errno == ENOBUFS) {
				retries++;
			} else {
				fprintf(stderr, "%s: sendmmsg: %s\n", prog, strerror(errno));
				failed = true;
				break;
			}
			n = 0;
		}
		seq[f] += (uint64_t)n;
		sent += (uint64_t)n;
		if (rate)
			tokens -= n;
		f = (f + 1) % nflows;
	}
	elapsed = ex_now() - t0;
	if (elapsed <= 0)
		elapsed = 1e-9;

	if (!run.quiet)
		printf("%s: sent %" PRIu64 " datagrams (%" PRIu64 " bytes) in %.2f s: "
		       "%.0f pkt/s, %.2f Gbit/s%s\n", prog, sent, sent * size, elapsed,
		       (double)sent / elapsed, (double)(sent * size) * 8 / elapsed / 1e9,
		       refused ? " (some refused: nobody listening at first)" : "");
	snprintf(line, sizeof(line),
		 "RESULT tool=tx sent=%" PRIu64 " bytes=%" PRIu64 " size=%lu flows=%lu seconds=%.3f"
		 " refused=%" PRIu64 " retries=%" PRIu64 " status=%s",
		 sent, sent * size, size, nflows, elapsed, refused, retries,
		 failed ? "error" : "ok");
	if (ex_put_result(prog, run.result_file, line) < 0)
		failed = true;
	for (f = 0; f < nflows; f++)
		close(fds[f]);
	free(fds);
	free(seq);
	free(bufs);
	free(pcsum);
	free(msgs);
	free(iov);
	return failed ? 1 : 0;
}
