/* SPDX-License-Identifier: MIT */
/*
 * example_common.h - what the example programs share: number options that
 * refuse nonsense with a clear message (exit status 2), the options the two
 * receivers and the two senders take alike, the clock, CPU time, Ctrl-C,
 * the "RESULT key=value ..." line for scripts and, for the programs that
 * have a pool, one that falls back to LAB_POOL_NOLOCK.
 *
 * Each program is one file, so the static state here (ex_interrupted) is
 * that program's own.
 */
#ifndef LAB_EXAMPLE_COMMON_H
#define LAB_EXAMPLE_COMMON_H

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/resource.h>
#include <time.h>

/* Call fn for each number of a sysfs list such as "0-3,8\n". */
static inline void ex_parse_list(const char *s, void (*fn)(int v, void *arg), void *arg)
{
	char *end;

	while (*s >= '0' && *s <= '9') {
		long lo = strtol(s, &end, 10), hi = lo;

		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		for (; lo <= hi; lo++)
			fn((int)lo, arg);
		s = *end == ',' ? end + 1 : end;
	}
}

/* The first line of a (sysfs) file; 0, or -1 if there is none. */
static inline int ex_read_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	int ok = f && fgets(buf, (int)size, f);

	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

#ifdef CPU_SETSIZE /* _GNU_SOURCE */
static inline void ex_cpu_set_add(int cpu, void *set)
{
	if (cpu < CPU_SETSIZE)
		CPU_SET(cpu, (cpu_set_t *)set);
}

/* The CPUs of NUMA node `node`, to run a pool's threads on its node:
 * 0, or -1 when the node does not exist or has no CPU. */
static inline int ex_node_cpus(int node, cpu_set_t *set)
{
	char path[96], list[1024];

	CPU_ZERO(set);
	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/cpulist", node);
	if (node < 0 || ex_read_line(path, list, sizeof(list)))
		return -1;
	ex_parse_list(list, ex_cpu_set_add, set);
	return CPU_COUNT(set) ? 0 : -1;
}
#endif

static inline double ex_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void ex_sleep(double s)
{
	struct timespec ts;

	if (s <= 0)
		return;
	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	nanosleep(&ts, NULL);
}

/* User + system CPU time of the whole process (every thread), in seconds. */
static inline double ex_cpu_seconds(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* s as a whole number in [min, max]: true and *v, or false. */
static inline bool ex_ul_in(const char *s, unsigned long min, unsigned long max,
			    unsigned long *v)
{
	char *end;

	errno = 0;
	*v = strtoul(s, &end, 0);
	return !errno && end != s && !*end && s[0] != '-' && *v >= min && *v <= max;
}

/* Number options: a clear message and exit status 2 on nonsense. */
static inline unsigned long ex_parse_ul(const char *prog, const char *s, const char *what,
					unsigned long min, unsigned long max)
{
	unsigned long v;

	if (!ex_ul_in(s, min, max, &v)) {
		fprintf(stderr, "%s: bad %s '%s' (want %lu..%lu)\n", prog, what, s, min, max);
		exit(2);
	}
	return v;
}

/*
 * The command line of the programs without options: "[-h|--help] [COUNT]"
 * (what names the count; NULL: no argument at all).  -h or --help: the
 * usage on stdout, exit 0.  Anything else that is not one count in
 * [1, max]: what was wrong and the usage on stderr, exit 2.  Returns the
 * count, or dflt when none was given.
 */
static inline unsigned long ex_count_argument(int argc, char **argv, const char *prog,
					      const char *usage, const char *what,
					      unsigned long dflt, unsigned long max)
{
	unsigned long v = dflt;

	if (argc > 1 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		fputs(usage, stdout);
		exit(0);
	}
	if (argc > 1 && argv[1][0] == '-') {
		fprintf(stderr, "%s: unknown option '%s'\n", prog, argv[1]);
	} else if (argc > (what ? 2 : 1)) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", prog, argv[what ? 2 : 1]);
	} else if (argc == 2 && !ex_ul_in(argv[1], 1, max, &v)) {
		fprintf(stderr, "%s: bad %s '%s' (want 1..%lu)\n", prog, what, argv[1], max);
	} else {
		return v;
	}
	fputs(usage, stderr);
	exit(2);
}

static inline double ex_parse_seconds(const char *prog, const char *s, const char *what,
				      double min, double max)
{
	double v;
	char *end;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min) || v > max) {
		fprintf(stderr, "%s: bad %s '%s' (want %g..%g seconds)\n", prog, what, s, min,
			max);
		exit(2);
	}
	return v;
}

/* --stall AT:FOR, the receivers' pool-exhaustion option (arg is changed). */
static inline void ex_parse_stall(const char *prog, char *arg, double *at, double *len)
{
	char *colon = strchr(arg, ':');

	if (!colon) {
		fprintf(stderr, "%s: --stall wants AT:FOR (seconds)\n", prog);
		exit(2);
	}
	*colon = '\0';
	*at = ex_parse_seconds(prog, arg, "stall start", 0, 1e6);
	*len = ex_parse_seconds(prog, colon + 1, "stall length", 0.001, 1e6);
}

/* -h: the usage on stdout and exit 0; anything getopt refused: on stderr,
 * exit 2. */
static inline __attribute__((noreturn)) void ex_usage_exit(void (*usage)(FILE *out), int c)
{
	usage(c == 'h' ? stdout : stderr);
	exit(c == 'h' ? 0 : 2);
}

enum { EX_OPT_STALL = 512, EX_OPT_IPERF, EX_OPT_RESULT, EX_OPT_DELAY }; /* above a program's own */

/* How the traffic programs' getopt_long tables end: --result-file,
 * --quiet, --help; ex_end_option() takes them (anything else: usage). */
#define EX_LONGOPTS_END                                                       \
	{ "result-file", required_argument, NULL, EX_OPT_RESULT },            \
	{ "quiet", no_argument, NULL, 'q' },                                  \
	{ "help", no_argument, NULL, 'h' },                                   \
	{ NULL, 0, NULL, 0 }

static inline void ex_end_option(int c, char *arg, const char **result_file, bool *quiet,
				 void (*usage)(FILE *out))
{
	if (c == EX_OPT_RESULT)
		*result_file = arg;
	else if (c == 'q')
		*quiet = true;
	else
		ex_usage_exit(usage, c);
}

/*
 * What both receivers (labyrinth-rx, labyrinth-xdp-rx) take alike: when to
 * stop, the pool-exhaustion stall, iperf's sequence numbers, where the
 * RESULT line goes.  EX_RX_LONGOPTS(idle) ends the getopt_long table (idle:
 * the short letter of --idle-exit); ex_rx_option() is the switch's default.
 */
struct ex_rx_opts {
	double duration, idle_exit, stall_at, stall_for;
	uint64_t expect;
	const char *result_file;
	bool iperf, quiet;
};

#define EX_RX_LONGOPTS(idle)                                                  \
	{ "duration", required_argument, NULL, 'd' },                         \
	{ "expect", required_argument, NULL, 'n' },                           \
	{ "idle-exit", required_argument, NULL, (idle) },                     \
	{ "stall", required_argument, NULL, EX_OPT_STALL },                   \
	{ "iperf", no_argument, NULL, EX_OPT_IPERF },                         \
	EX_LONGOPTS_END

/* c (with its argument arg) is one of EX_RX_LONGOPTS, or -h, or something
 * getopt refused. */
static inline void ex_rx_option(const char *prog, struct ex_rx_opts *o, int c, char *arg,
				int idle, void (*usage)(FILE *out))
{
	if (c == 'd')
		o->duration = ex_parse_seconds(prog, arg, "duration", 0.001, 1e7);
	else if (c == 'n')
		o->expect = ex_parse_ul(prog, arg, "expected count", 1, ~0ul);
	else if (c == idle)
		o->idle_exit = ex_parse_seconds(prog, arg, "idle time", 0, 1e7);
	else if (c == EX_OPT_STALL)
		ex_parse_stall(prog, arg, &o->stall_at, &o->stall_for);
	else if (c == EX_OPT_IPERF)
		o->iperf = true;
	else
		ex_end_option(c, arg, &o->result_file, &o->quiet, usage);
}

/*
 * What both senders (labyrinth-tx, labyrinth-xdp-tx) take alike: how long,
 * how many, the delay before the first packet, where the RESULT line goes.
 * EX_TX_LONGOPTS ends the getopt_long table; ex_tx_option() is the
 * switch's default.
 */
struct ex_tx_opts {
	double duration, delay;
	uint64_t count;
	const char *result_file;
	bool quiet;
};

#define EX_TX_LONGOPTS                                                        \
	{ "duration", required_argument, NULL, 'd' },                         \
	{ "count", required_argument, NULL, 'n' },                            \
	{ "delay", required_argument, NULL, EX_OPT_DELAY },                   \
	EX_LONGOPTS_END

/* c (with its argument arg) is one of EX_TX_LONGOPTS, or -h, or something
 * getopt refused. */
static inline void ex_tx_option(const char *prog, struct ex_tx_opts *o, int c, char *arg,
				void (*usage)(FILE *out))
{
	if (c == 'd')
		o->duration = ex_parse_seconds(prog, arg, "duration", 0.001, 1e7);
	else if (c == 'n')
		o->count = ex_parse_ul(prog, arg, "count", 1, ~0ul);
	else if (c == EX_OPT_DELAY)
		o->delay = ex_parse_seconds(prog, arg, "delay", 0, 3600);
	else
		ex_end_option(c, arg, &o->result_file, &o->quiet, usage);
}

/* 123456, 1.23M, 4.56G: a count in a few characters. */
static inline const char *ex_compact(char buf[16], double v)
{
	if (v < 1e4)
		snprintf(buf, 16, "%.0f", v);
	else if (v < 1e6)
		snprintf(buf, 16, "%.1fk", v / 1e3);
	else if (v < 1e9)
		snprintf(buf, 16, "%.2fM", v / 1e6);
	else
		snprintf(buf, 16, "%.2fG", v / 1e9);
	return buf;
}

/* SIGINT and SIGTERM set ex_interrupted; the programs' loops look at it
 * and end the run with its summary. */
static volatile sig_atomic_t ex_interrupted;

static void ex_on_stop_signal(int sig)
{
	(void)sig;
	ex_interrupted = 1;
}

/* flags: SA_RESETHAND, so that a second Ctrl-C kills; or 0. */
static inline void ex_catch_stop_signals(int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = ex_on_stop_signal;
	sa.sa_flags = flags;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

/* The RESULT line: on stdout, or (with a file) only into the file.  -1,
 * said on stderr, when the file could not be written. */
static inline int ex_put_result(const char *prog, const char *file, const char *line)
{
	FILE *f;

	if (!file) {
		printf("%s\n", line);
		fflush(stdout);
		return 0;
	}
	fflush(stdout);
	f = fopen(file, "w");
	if (!f || fprintf(f, "%s\n", line) < 0 || fclose(f) != 0) {
		fprintf(stderr, "%s: %s: %s\n", prog, file, strerror(errno));
		return -1;
	}
	return 0;
}

#ifdef LABYRINTH_H
/*
 * labyrinth_init(), and where a locked pool is refused (-ENOMEM: a normal
 * user may lock only 8 MiB, Debian's default RLIMIT_MEMLOCK) once more
 * with LAB_POOL_NOLOCK: the example runs unlocked rather than not at all.
 * *unlocked says whether it fell back, for the program's note.
 */
static inline int ex_init_pool(labyrinth_t *pool, struct labyrinth_params *params,
			       bool *unlocked)
{
	int ret = labyrinth_init(pool, params);

	*unlocked = false;
	if (ret == -ENOMEM && !(params->flags & LAB_POOL_NOLOCK)) {
		params->flags |= LAB_POOL_NOLOCK;
		ret = labyrinth_init(pool, params);
		*unlocked = ret == 0;
	}
	return ret;
}

/* A failed labyrinth_init, said with its cause and fix (the line
 * LABYRINTH_VERBOSE=1 prints) rather than a bare errno. */
static inline void ex_init_failed(const char *prog, int err)
{
	const char *why = labyrinth_last_error();

	fprintf(stderr, "%s: %s\n", prog, why ? why : strerror(-err));
}

/* What running with LAB_POOL_NOLOCK costs and how to keep the lock: the
 * note of every example that fell back (ex_init_pool's *unlocked). */
static inline void ex_nolock_note(const char *prog, size_t pages)
{
	printf("%s: note: a pool of %zu pages cannot be locked under this memlock limit "
	       "(ulimit -l), so it runs with LAB_POOL_NOLOCK: its pages may be swapped out and "
	       "fault back in, and the atomic path's no-fault guarantee is OFF.  To keep it, "
	       "raise the limit (ulimit -l as root, LimitMEMLOCK= in a systemd unit, memlock "
	       "in /etc/security/limits.conf), or give the program CAP_IPC_LOCK (setcap "
	       "cap_ipc_lock+ep), or use fewer pages\n", prog, pages);
}
#endif

#endif
