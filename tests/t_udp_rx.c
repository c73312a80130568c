/* Description: the real receive path: labyrinth-rx (io_uring provided buffers fed by a pool) gets every datagram labyrinth-tx sent at a sustainable rate, verified end to end, loses no page (in use after the run == posted in the ring, 0 after teardown); the recvmmsg baseline too; a tiny pool with a stalled consumer runs the ring dry (ENOBUFS), fires the watch, and recovers; where io_uring is refused the receiver says so and exits 3; a datagram longer than a page (from labyrinth-tx or anyone) is detected as truncated, counted, reported and fails the run.  Skips (77) with the reason when io_uring is disabled or the programs are not built. */
#include "check.h"

#include <fcntl.h>
#include <limits.h>
#include <arpa/inet.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OUT_MAX 65536

static char rx_bin[PATH_MAX + 64], tx_bin[PATH_MAX + 64];

struct run {
	char rx_out[OUT_MAX], tx_out[4096];
	int rx_status, tx_status; /* exit code, or 128 + signal */
	unsigned int port;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int exit_code(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

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

static pid_t spawn(const char *bin, char **args, int out_fd, int how)
{
	char *argv[64];
	pid_t pid;
	int i;

	argv[0] = (char *)bin;
	for (i = 0; args[i] && i < 62; i++)
		argv[i + 1] = args[i];
	argv[i + 1] = NULL;
	pid = fork();
	if (pid == 0) {
		dup2(out_fd, STDOUT_FILENO);
		if (how) /* 1: capture stderr too; 2: and refuse io_uring */
			dup2(out_fd, STDERR_FILENO);
		if (how == 2 && deny_io_uring() < 0)
			_exit(99);
		execv(bin, argv);
		fprintf(stderr, "exec %s: %s\n", bin, strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Read what fd has into buf (at *len) until EOF or the deadline; 1 at EOF. */
static int slurp(int fd, char *buf, size_t *len, size_t cap, double deadline, const char *until)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		double left = deadline - now_s();
		ssize_t n;

		if (until && strstr(buf, until) && strchr(strstr(buf, until), '\n'))
			return 0;
		if (left <= 0)
			return -1;
		if (poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
			continue;
		n = read(fd, buf + *len, cap - 1 - *len);
		if (n <= 0)
			return 1;
		*len += (size_t)n;
		buf[*len] = '\0';
	}
}

/* Start rx, wait for "listening on ...:PORT", run tx to the end, collect rx.
 * tx_args get "-p PORT" appended. */
static void run_pair(struct run *r, char **rx_args, char **tx_args, int how, double limit)
{
	char *targs[64], portbuf[16];
	int rx_pipe[2], tx_pipe[2], st, i, eof;
	size_t rlen = 0, tlen = 0;
	double deadline = now_s() + limit;
	const char *at;
	pid_t rx, tx;

	memset(r, 0, sizeof(*r));
	r->tx_status = -1;
	REQUIRE(pipe2(rx_pipe, O_CLOEXEC) == 0 && pipe2(tx_pipe, O_CLOEXEC) == 0, "pipe");
	fflush(NULL);
	rx = spawn(rx_bin, rx_args, rx_pipe[1], how);
	REQUIRE(rx > 0, "fork rx");
	close(rx_pipe[1]);
	eof = slurp(rx_pipe[0], r->rx_out, &rlen, OUT_MAX, deadline, "listening on ");
	at = strstr(r->rx_out, "listening on ");
	if (eof == 0 && at && (at = strchr(at, ':')) && sscanf(at + 1, "%u", &r->port) == 1) {
		for (i = 0; tx_args[i] && i < 60; i++)
			targs[i] = tx_args[i];
		snprintf(portbuf, sizeof(portbuf), "%u", r->port);
		targs[i++] = "-p";
		targs[i++] = portbuf;
		targs[i] = NULL;
		tx = spawn(tx_bin, targs, tx_pipe[1], 0);
		REQUIRE(tx > 0, "fork tx");
		close(tx_pipe[1]);
		slurp(tx_pipe[0], r->tx_out, &tlen, sizeof(r->tx_out), deadline, NULL);
		if (waitpid(tx, &st, 0) == tx)
			r->tx_status = exit_code(st);
	} else {
		close(tx_pipe[1]);
	}
	close(tx_pipe[0]);
	if (slurp(rx_pipe[0], r->rx_out, &rlen, OUT_MAX, deadline, NULL) < 0) {
		fprintf(stderr, "labyrinth-rx still running after %.0f s: killing it\n", limit);
		kill(rx, SIGKILL);
	}
	close(rx_pipe[0]);
	REQUIRE(waitpid(rx, &st, 0) == rx, "waitpid rx");
	r->rx_status = exit_code(st);
}

/* key=value from the RESULT line of out; ~0 if absent. */
static uint64_t val(const char *out, const char *key)
{
	const char *res = strstr(out, "RESULT ");
	char pat[64];
	const char *p;

	if (!res)
		return ~(uint64_t)0;
	snprintf(pat, sizeof(pat), " %s=", key);
	p = strstr(res, pat);
	if (!p)
		return ~(uint64_t)0;
	return strtoull(p + strlen(pat), NULL, 10);
}

static int has_status_ok(const char *out)
{
	const char *res = strstr(out, "RESULT ");

	return res && strstr(res, " status=ok");
}

static void find_bins(void)
{
	char self[PATH_MAX], *slash;
	const char *dir = getenv("LAB_UDP_BINDIR");
	ssize_t n;

	if (dir) {
		snprintf(rx_bin, sizeof(rx_bin), "%s/labyrinth-rx", dir);
		snprintf(tx_bin, sizeof(tx_bin), "%s/labyrinth-tx", dir);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	REQUIRE(n > 0, "readlink /proc/self/exe");
	self[n] = '\0';
	slash = strrchr(self, '/');
	REQUIRE(slash, "path of the test");
	*slash = '\0';
	/* the build tree: <build>/tests/t_udp_rx -> <build>/examples/ */
	snprintf(rx_bin, sizeof(rx_bin), "%s/../examples/labyrinth-rx", self);
	snprintf(tx_bin, sizeof(tx_bin), "%s/../examples/labyrinth-tx", self);
}

static void dump(const struct run *r)
{
	fprintf(stderr, "--- labyrinth-rx (exit %d) ---\n%s--- labyrinth-tx (exit %d) ---\n%s---\n",
		r->rx_status, r->rx_out, r->tx_status, r->tx_out);
}

/* labyrinth-rx on a free port; this test sends one 5000-byte datagram
 * and one of 3 bytes (not labyrinth-tx's format), as socat would. */
static void foreign_truncated(struct run *r, char *mode)
{
	char *rx_args[] = { "-m", mode, "-p", "0", "-P", "64", "-r", "32", "-d", "10", "-i", "1",
			    NULL };
	static char big[5000];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int p[2], st, fd;
	size_t len = 0;
	const char *at;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	REQUIRE(pipe2(p, O_CLOEXEC) == 0, "pipe");
	fflush(NULL);
	pid = spawn(rx_bin, rx_args, p[1], 1);
	REQUIRE(pid > 0, "fork rx");
	close(p[1]);
	slurp(p[0], r->rx_out, &len, OUT_MAX, now_s() + 20, "listening on ");
	at = strstr(r->rx_out, "listening on ");
	if (at && (at = strchr(at, ':')) && sscanf(at + 1, "%u", &r->port) == 1) {
		fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		sin.sin_port = htons((uint16_t)r->port);
		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		CHECK(sendto(fd, big, sizeof(big), 0, (struct sockaddr *)&sin, sizeof(sin)) ==
		      (ssize_t)sizeof(big), "sendto: %s", strerror(errno));
		CHECK(sendto(fd, "hi\n", 3, 0, (struct sockaddr *)&sin, sizeof(sin)) == 3,
		      "sendto: %s", strerror(errno));
		close(fd);
	}
	if (slurp(p[0], r->rx_out, &len, OUT_MAX, now_s() + 20, NULL) < 0)
		kill(pid, SIGKILL);
	close(p[0]);
	REQUIRE(waitpid(pid, &st, 0) == pid, "waitpid rx");
	r->rx_status = exit_code(st);
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
		run_pair(&r, rx_args, tx_args, 0, 60);
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
		run_pair(&r, rx_args, tx_args, 0, 60);
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
		run_pair(&r, rx_args, tx_args, 0, 30);
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

		run_pair(&r, rx_args, tx_args, 2, 20);
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
			run_pair(&r, rx_args, tx_args, 0, 30);
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
		}
	}

	/* 5. Bad usage is refused with status 2. */
	{
		char *rx_args[] = { "-r", "1000", NULL };
		char *tx_args[] = { NULL };

		run_pair(&r, rx_args, tx_args, 1, 20);
		CHECK_EQ(r.rx_status, 2);
		CHECK(strstr(r.rx_out, "power of two") != NULL, "no clear message: %s", r.rx_out);
	}
	return check_done();
}
