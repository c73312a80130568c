/* SPDX-License-Identifier: MIT */
/*
 * spawn.h - for the tests that run the example programs: start one with
 * its output into a pipe (in a network namespace, if asked), read the pipe
 * up to a line or a deadline, run a receiver and a sender side by side, and
 * read key=value from a "RESULT ..." line.
 */
#ifndef LAB_TEST_SPAWN_H
#define LAB_TEST_SPAWN_H

#include "check.h" /* first: _GNU_SOURCE for pipe2 */

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define OUT_MAX 65536

/* The two programs of run_pair() and how each one is started. */
struct pair {
	const char *rx_bin, *tx_bin;
	const char *rx_ns, *tx_ns;  /* run under "ip netns exec NS", or NULL */
	bool rx_stderr, tx_stderr;  /* stderr into the output too (else the test's) */
	int (*rx_setup)(void);      /* in rx's child before exec (< 0: exit 99), or NULL */
	bool tx_port;               /* tx gets "-p PORT", PORT from rx's "listening on ...:PORT" */
};

struct run {
	const struct pair *pair;
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

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* <build>/examples/NAME, from this test's own path <build>/tests/t_... */
static void example_path(char *out, size_t cap, const char *name)
{
	char self[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	REQUIRE(n > 0, "readlink /proc/self/exe");
	self[n] = '\0';
	slash = strrchr(self, '/');
	REQUIRE(slash, "path of the test");
	*slash = '\0';
	snprintf(out, cap, "%s/../examples/%s", self, name);
}

/* [ip netns exec NS] BIN ARGS..., stdout (and stderr if err_too) to out_fd;
 * setup runs in the child first (NULL: nothing). */
static pid_t spawn(const char *ns, const char *bin, char **args, int out_fd, bool err_too,
		   int (*setup)(void))
{
	char *argv[64];
	pid_t pid;
	int i, n = 0;

	if (ns) {
		argv[n++] = "ip";
		argv[n++] = "netns";
		argv[n++] = "exec";
		argv[n++] = (char *)ns;
	}
	argv[n++] = (char *)bin;
	for (i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = fork();
	if (pid == 0) {
		dup2(out_fd, STDOUT_FILENO);
		if (err_too)
			dup2(out_fd, STDERR_FILENO);
		if (setup && setup() < 0)
			_exit(99);
		execvp(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

/* Read what fd has into buf (at *len) until a whole line containing `until`
 * is in (0), EOF (1) or the deadline (-1). */
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

/* The port of a receiver's "listening on ADDR:PORT" line: 0, or -1. */
static int listen_port(const char *out, unsigned int *port)
{
	const char *at = strstr(out, "listening on ");

	if (at && (at = strchr(at, ':')) && sscanf(at + 1, "%u", port) == 1)
		return 0;
	return -1;
}

/* The rest of pid's output on fd until EOF, killing it past the deadline
 * (limit seconds after the start: said); fd is closed.  Its exit code. */
static int finish(pid_t pid, int fd, char *buf, size_t *len, size_t cap, double deadline,
		  double limit, const char *bin)
{
	int st;

	if (slurp(fd, buf, len, cap, deadline, NULL) < 0) {
		fprintf(stderr, "%s still running after %.0f s: killing it\n", base_name(bin),
			limit);
		kill(pid, SIGKILL);
	}
	close(fd);
	REQUIRE(waitpid(pid, &st, 0) == pid, "waitpid %s", base_name(bin));
	return exit_code(st);
}

/* Start rx, wait for its "listening on " line, run tx (if tx_args) to its
 * end, collect rx (killed after `limit` seconds). */
static void run_pair(struct run *r, const struct pair *p, char **rx_args, char **tx_args,
		     double limit)
{
	char *targs[64], portbuf[16];
	int rx_pipe[2], tx_pipe[2], st, i;
	size_t rlen = 0, tlen = 0;
	double deadline = now_s() + limit;
	bool go;
	pid_t rx, tx;

	memset(r, 0, sizeof(*r));
	r->pair = p;
	r->tx_status = -1;
	REQUIRE(pipe2(rx_pipe, O_CLOEXEC) == 0 && pipe2(tx_pipe, O_CLOEXEC) == 0, "pipe");
	fflush(NULL);
	rx = spawn(p->rx_ns, p->rx_bin, rx_args, rx_pipe[1], p->rx_stderr, p->rx_setup);
	REQUIRE(rx > 0, "fork rx");
	close(rx_pipe[1]);
	go = slurp(rx_pipe[0], r->rx_out, &rlen, OUT_MAX, deadline, "listening on ") == 0 &&
	     tx_args && (!p->tx_port || listen_port(r->rx_out, &r->port) == 0);
	if (go) {
		for (i = 0; tx_args[i] && i < 60; i++)
			targs[i] = tx_args[i];
		if (p->tx_port) {
			snprintf(portbuf, sizeof(portbuf), "%u", r->port);
			targs[i++] = "-p";
			targs[i++] = portbuf;
		}
		targs[i] = NULL;
		tx = spawn(p->tx_ns, p->tx_bin, targs, tx_pipe[1], p->tx_stderr, NULL);
		REQUIRE(tx > 0, "fork tx");
		close(tx_pipe[1]);
		slurp(tx_pipe[0], r->tx_out, &tlen, sizeof(r->tx_out), deadline, NULL);
		if (waitpid(tx, &st, 0) == tx)
			r->tx_status = exit_code(st);
	} else {
		close(tx_pipe[1]);
	}
	close(tx_pipe[0]);
	r->rx_status = finish(rx, rx_pipe[0], r->rx_out, &rlen, OUT_MAX, deadline, limit,
			      p->rx_bin);
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

/* Both programs' exit statuses and output, for a failed check. */
static void dump(const struct run *r)
{
	fprintf(stderr, "--- %s (exit %d) ---\n%s--- %s (exit %d) ---\n%s---\n",
		base_name(r->pair->rx_bin), r->rx_status, r->rx_out, base_name(r->pair->tx_bin),
		r->tx_status, r->tx_out);
}

#endif
