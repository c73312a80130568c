/* Description: the real receive path: labyrinth-rx (io_uring provided buffers fed by a pool) gets every datagram labyrinth-tx sent at a sustainable rate, verified end to end, loses no page (in use after the run == posted in the ring, 0 after teardown); the recvmmsg baseline too; a tiny pool with a stalled consumer runs the ring dry (ENOBUFS), fires the watch, and recovers; where io_uring is refused the receiver says so and exits 3; a datagram longer than a page (from labyrinth-tx or anyone) is detected as truncated, counted, reported and fails the run.  Skips (77) with the reason when io_uring is disabled or the programs are not built. */
#include "spawn.h"

#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>

static char rx_bin[PATH_MAX + 64], tx_bin[PATH_MAX + 64];

/* seccomp: io_uring_setup fails with EPERM, as with io_uring_disabled=2. */
static int deny_io_uring(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog fp = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &fp, 0, 0);
}

static int has_status_ok(const char *out)
{
	const char *res = strstr(out, "RESULT ");

	return res && strstr(res, " status=ok");
}

static void find_bins(void)
{
	const char *dir = getenv("LAB_UDP_BINDIR");

	if (dir) {
		snprintf(rx_bin, sizeof(rx_bin), "%s/labyrinth-rx", dir);
		snprintf(tx_bin, sizeof(tx_bin), "%s/labyrinth-tx", dir);
		return;
	}
	example_path(rx_bin, sizeof(rx_bin), "labyrinth-rx");
	example_path(tx_bin, sizeof(tx_bin), "labyrinth-tx");
}

/* labyrinth-tx gets the port labyrinth-rx found.  udp: rx's stderr stays
 * the test's; udp_err: it is captured too; udp_no_uring: and io_uring is
 * refused (seccomp). */
static const struct pair udp = { .rx_bin = rx_bin, .tx_bin = tx_bin, .tx_port = true };
static const struct pair udp_err = { .rx_bin = rx_bin, .tx_bin = tx_bin, .tx_port = true,
				     .rx_stderr = true };
static const struct pair udp_no_uring = { .rx_bin = rx_bin, .tx_bin = tx_bin, .tx_port = true,
					  .rx_stderr = true, .rx_setup = deny_io_uring };

/* The truncation report's hint ("--page-size 2M --pages 64 --ring 64, a
 * 128 MiB pool"), run as given: the largest UDP datagram passes. */
static void hinted_command_fits(struct run *r)
{
	char hint[128], *rx_args[24], *word;
	char *tx_args[] = { "-s", "65507", "-n", "20", "-r", "1000", "-f", "1", "-q", NULL };
	const char *at = strstr(r->rx_out, "--page-size");
	unsigned int n = 0;

	CHECK(at != NULL, "no --page-size in the truncation hint");
	if (!at)
		return;
	snprintf(hint, sizeof(hint), "%.*s", (int)strcspn(at, ",)\n"), at);
	for (word = strtok(hint, " "); word && n < 16; word = strtok(NULL, " "))
		rx_args[n++] = word;
	CHECK(n >= 4, "the hint gives no page count: [%s]", at);
	for (const char **a = (const char *[]){ "-p", "0", "-d", "10", "-i", "1", "-q", NULL }; *a;
	     a++)
		rx_args[n++] = (char *)*a;
	rx_args[n] = NULL;
	run_pair(r, &udp, rx_args, tx_args, 30);
	CHECK_EQ(r->rx_status, 0);
	CHECK_EQ(val(r->rx_out, "verified"), 20);
	CHECK_EQ(val(r->rx_out, "truncated"), 0);
	if (r->rx_status != 0)
		dump(r);
}

/* labyrinth-rx on a free port; this test sends one 5000-byte datagram
 * and one of 3 bytes (not labyrinth-tx's format), as socat would. */
static void foreign_truncated(struct run *r, char *mode)
{
	char *rx_args[] = { "-m", mode, "-p", "0", "-P", "64", "-r", "32", "-d", "10", "-i", "1",
			    NULL };
	static char big[5000];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int p[2], fd;
	size_t len = 0;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	r->pair = &udp_err;
	REQUIRE(pipe2(p, O_CLOEXEC) == 0, "pipe");
	fflush(NULL);
	pid = spawn(NULL, rx_bin, rx_args, p[1], true, NULL);
	REQUIRE(pid > 0, "fork rx");
	close(p[1]);
	slurp(p[0], r->rx_out, &len, OUT_MAX, now_s() + 20, "listening on ");
	if (listen_port(r->rx_out, &r->port) == 0) {
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		sin.sin_port = htons((uint16_t)r->port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		CHECK(sendto(fd, big, sizeof(big), 0, (struct sockaddr *)&sin, sizeof(sin)) ==
		      (ssize_t)sizeof(big), "sendto: %s", strerror(errno));
		CHECK(sendto(fd, "hi\n", 3, 0, (struct sockaddr *)&sin, sizeof(sin)) == 3,
		      "sendto: %s", strerror(errno));
		close(fd);
	}
	r->rx_status = finish(pid, p[0], r->rx_out, &len, OUT_MAX, now_s() + 20, 20, rx_bin);
}

static struct run r;

int main(void)
{
	FILE *f;
	int disabled = 0, before;
	long rmem_max = 0;
	char *rate = "50000", *burst = "32", *count = "100000";
	uint64_t sent;

	f = fopen("/proc/sys/kernel/io_uring_disabled", "r");
	if (f) {
		if (fscanf(f, "%d", &disabled) != 1)
			disabled = 0;
		fclose(f);
	}
	if (disabled == 2)
		SKIP_ALL("io_uring is disabled by the kernel (kernel.io_uring_disabled = 2): the "
			 "io_uring receive path cannot run here");
	find_bins();
	if (access(rx_bin, X_OK) != 0 || access(tx_bin, X_OK) != 0)
		SKIP_ALL("%s or %s is not built (labyrinth-rx needs liburing: apt-get install "
			 "liburing-dev, then reconfigure)", rx_bin, tx_bin);

	/* A receive buffer of 32 MiB holds ~0.3 s of traffic at 50k datagrams/s,
	 * enough to ride out a busy machine.  Without the right to force it
	 * (SO_RCVBUFFORCE) and with a small net.core.rmem_max, go slower. */
	f = fopen("/proc/sys/net/core/rmem_max", "r");
	if (f) {
		if (fscanf(f, "%ld", &rmem_max) != 1)
			rmem_max = 0;
		fclose(f);
	}
	if (geteuid() != 0 && rmem_max < (32l << 20)) {
		rate = "10000";
		burst = "4";
		count = "30000";
		printf("note: not root and net.core.rmem_max = %ld: the end-to-end runs send "
		       "30000 datagrams at 10000/s\n", rmem_max);
	}

	/* 1. End to end at a rate the machine sustains (a pool of 4 MiB, within
	 *    the default RLIMIT_MEMLOCK): every datagram, in
	 *    order, checksums right; no page lost. */
	{
		char *rx_args[] = { "-p", "0", "-s", "2", "-P", "1024", "-r", "512",
				    "--rcvbuf", "33554432", "-n", count, "-i", "5",
				    "-d", "40", "-q", NULL };
		char *tx_args[] = { "-r", rate, "-b", burst, "-n", count, "-d", "30", "-f", "4",
				    "-q", NULL };

		before = check_failed;
		run_pair(&r, &udp, rx_args, tx_args, 60);
		if (r.rx_status == 3)
			SKIP_ALL("labyrinth-rx: io_uring is not available here (see its message "
				 "above); kernel.io_uring_disabled = %d", disabled);
		CHECK_EQ(r.tx_status, 0);
		CHECK_EQ(r.rx_status, 0);
		sent = val(r.tx_out, "sent");
		CHECK_EQ(sent, strtoull(count, NULL, 10));
		CHECK_EQ(val(r.rx_out, "packets"), sent);
		CHECK_EQ(val(r.rx_out, "verified"), sent);
		CHECK_EQ(val(r.rx_out, "seq_span"), sent);
		CHECK_EQ(val(r.rx_out, "flows"), 4);
		CHECK_EQ(val(r.rx_out, "gaps"), 0);
		CHECK_EQ(val(r.rx_out, "reorders"), 0);
		CHECK_EQ(val(r.rx_out, "csum_errors"), 0);
		CHECK_EQ(val(r.rx_out, "len_errors"), 0);
		CHECK_EQ(val(r.rx_out, "foreign"), 0);
		/* no page lost: in use == posted in the ring, then 0 */
		CHECK_EQ(val(r.rx_out, "inuse_after_run"), val(r.rx_out, "posted"));
		CHECK(val(r.rx_out, "posted") > 0 && val(r.rx_out, "posted") <= 512, "posted %llu",
		      (unsigned long long)val(r.rx_out, "posted"));
		CHECK_EQ(val(r.rx_out, "held"), 0);
		CHECK_EQ(val(r.rx_out, "inuse_after_teardown"), 0);
		CHECK_EQ(val(r.rx_out, "free_errors"), 0);
		CHECK_EQ(val(r.rx_out, "check"), 0);
		CHECK_EQ(val(r.rx_out, "destroy"), 0);
		CHECK(has_status_ok(r.rx_out), "rx status");
		if (check_failed != before)
			dump(&r);
	}

	/* 2. The baseline (recvmmsg into malloc'd buffers), same traffic. */
	{
		char *rx_args[] = { "-m", "mmsg", "-p", "0", "-s", "2", "--rcvbuf", "33554432",
				    "-n", count, "-i", "5", "-d", "40", "-q", NULL };
		char *tx_args[] = { "-r", rate, "-b", burst, "-n", count, "-d", "30", "-f", "4",
				    "-q", NULL };

		before = check_failed;
		run_pair(&r, &udp, rx_args, tx_args, 60);
		CHECK_EQ(r.tx_status, 0);
		CHECK_EQ(r.rx_status, 0);
		sent = val(r.tx_out, "sent");
		CHECK_EQ(sent, strtoull(count, NULL, 10));
		CHECK_EQ(val(r.rx_out, "verified"), sent);
		CHECK_EQ(val(r.rx_out, "seq_span"), sent);
		CHECK_EQ(val(r.rx_out, "gaps") + val(r.rx_out, "reorders") +
			 val(r.rx_out, "csum_errors") + val(r.rx_out, "len_errors"), 0);
		if (check_failed != before)
			dump(&r);
	}

	/* 3. Pool exhaustion on purpose: 32 pages, a ring of 16, a consumer that
	 *    keeps its pages for 1 s.  The ring runs dry (ENOBUFS), the watch
	 *    fires, the kernel drops what the small socket buffer cannot hold;
	 *    then the pages come back and reception resumes.  Every datagram is
	 *    accounted for: received or dropped by the kernel on our socket. */
	{
		/* The receiver stops 2 s after the last datagram (the stall is
		 * 1 s), not at a fixed time: on a loaded machine the sender may
		 * end late, and a receiver gone early would lose its tail. */
		char *rx_args[] = { "-p", "0", "-P", "32", "-r", "16", "-l", "8",
				    "--stall", "0.5:1", "--rcvbuf", "65536", "-i", "2", "-d", "25",
				    "-q", NULL };
		char *tx_args[] = { "-r", "2000", "-d", "3", "-f", "4", "-q", NULL };
		uint64_t got;

		before = check_failed;
		run_pair(&r, &udp, rx_args, tx_args, 30);
		CHECK_EQ(r.tx_status, 0);
		CHECK_EQ(r.rx_status, 0); /* nothing crashed, nothing wrong */
		sent = val(r.tx_out, "sent");
		got = val(r.rx_out, "packets");
		CHECK(sent > 4000 && sent < 7000, "sent %llu", (unsigned long long)sent);
		CHECK(val(r.rx_out, "enobufs") >= 1, "the ring never reported no buffers");
		CHECK(val(r.rx_out, "no_page") >= 1, "the pool never ran dry");
		CHECK(val(r.rx_out, "watch_events") >= 1, "the watch never fired");
		CHECK(val(r.rx_out, "held_max") == 32, "held %llu pages, the whole pool is 32",
		      (unsigned long long)val(r.rx_out, "held_max"));
		CHECK(val(r.rx_out, "after_stall") > 1000, "only %llu datagrams after recovery",
		      (unsigned long long)val(r.rx_out, "after_stall"));
		CHECK_EQ(val(r.rx_out, "csum_errors") + val(r.rx_out, "len_errors") +
			 val(r.rx_out, "reorders"), 0);
		CHECK_EQ(got + val(r.rx_out, "kernel_drops"), sent);
		CHECK_EQ(val(r.rx_out, "gaps"), val(r.rx_out, "kernel_drops"));
		CHECK_EQ(val(r.rx_out, "inuse_after_run"), val(r.rx_out, "posted"));
		CHECK_EQ(val(r.rx_out, "inuse_after_teardown"), 0);
		CHECK_EQ(val(r.rx_out, "destroy"), 0);
		if (check_failed != before)
			dump(&r);
	}

	/* 4. Where io_uring is refused (here: a seccomp filter making
	 *    io_uring_setup fail with EPERM, as kernel.io_uring_disabled = 2
	 *    does), labyrinth-rx says so and exits 3: never a silent pass. */
	{
		char *rx_args[] = { "-p", "0", "-P", "64", "-r", "32", "-d", "1", "-q", NULL };
		char *tx_args[] = { "-n", "1", "-q", NULL };

		run_pair(&r, &udp_no_uring, rx_args, tx_args, 20);
		if (r.rx_status == 99) {
			printf("note: seccomp unavailable, the io_uring-refused case is not tried\n");
		} else {
			CHECK_EQ(r.rx_status, 3);
			CHECK(strstr(r.rx_out, "io_uring is not available") != NULL,
			      "no clear message: %s", r.rx_out);
			CHECK(strstr(r.rx_out, "RESULT") == NULL, "a refused run printed a result");
		}
	}

	/* 6. A datagram longer than a page is cut by the kernel: detected
	 *    (MSG_TRUNC), counted, reported, never a silent "ok".  Once from
	 *    labyrinth-tx (5000-byte datagrams), once foreign (as socat -b
	 *    65000 sends it), in both modes. */
	{
		static char *modes[] = { "uring", "mmsg" };
		unsigned int m;

		for (m = 0; m < 2; m++) {
			char *rx_args[] = { "-m", modes[m], "-p", "0", "-P", "64", "-r", "32", "-d",
					    "10", "-i", "1", "-q", NULL };
			char *tx_args[] = { "-s", "5000", "-n", "20", "-r", "1000", "-f", "1", "-q",
					    NULL };

			before = check_failed;
			run_pair(&r, &udp, rx_args, tx_args, 30);
			CHECK_EQ(r.tx_status, 0);
			CHECK_EQ(r.rx_status, 1);
			CHECK_EQ(val(r.rx_out, "packets"), 20);
			CHECK_EQ(val(r.rx_out, "truncated"), 20);
			CHECK_EQ(val(r.rx_out, "len_errors"), 20);
			CHECK_EQ(val(r.rx_out, "verified"), 0);
			CHECK(strstr(r.rx_out, "status=error") != NULL, "truncation passed as ok");
			if (check_failed != before)
				dump(&r);

			before = check_failed;
			foreign_truncated(&r, modes[m]);
			CHECK_EQ(r.rx_status, 1);
			CHECK_EQ(val(r.rx_out, "packets"), 2);
			CHECK_EQ(val(r.rx_out, "foreign"), 2);
			CHECK_EQ(val(r.rx_out, "truncated"), 1);
			CHECK(strstr(r.rx_out, "truncated datagram: 5000 bytes") != NULL,
			      "no report of the truncation");
			CHECK(strstr(r.rx_out, "status=error") != NULL, "truncation passed as ok");
			if (check_failed != before)
				dump(&r);
			if (m == 0)
				hinted_command_fits(&r);
		}
	}

	/* 5. Bad usage is refused with status 2. */
	{
		char *rx_args[] = { "-r", "1000", NULL };
		char *tx_args[] = { NULL };

		run_pair(&r, &udp_err, rx_args, tx_args, 20);
		CHECK_EQ(r.rx_status, 2);
		CHECK(strstr(r.rx_out, "power of two") != NULL, "no clear message: %s", r.rx_out);
	}
	return check_done();
}
