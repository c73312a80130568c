/* SPDX-License-Identifier: MIT */
/*
 * labyrinth-top - watch the labyrinth pools of every process started with
 * LABYRINTH_STATS=1, from outside: a table refreshed in place (plain ANSI),
 * or one snapshot with --once, --json or --prometheus.  See
 * labyrinth-top(1).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "labyrinth.h"
#include "top_read.h"

enum mode { MODE_LIVE, MODE_ONCE, MODE_JSON, MODE_PROMETHEUS };

struct options {
	enum mode mode;
	const char *dir;
	double delay;        /* seconds between refreshes */
	long iterations;     /* refreshes before exiting; 0 = until interrupted */
	int keep_stale;
};

/* One figure of a pool, for --json and --prometheus alike. */
struct figure {
	const char *name;    /* JSON key; Prometheus: labyrinth_<name> */
	const char *type;    /* Prometheus TYPE */
	const char *help;
	size_t offset;       /* of its uint64_t in struct lab_pub_record */
};

#define ST(f) offsetof(struct lab_pub_record, st.f)
static const struct figure figures[] = {
	{ "page_size_bytes", "gauge", "Bytes per page of the pool.", ST(page_size) },
	{ "pages_total", "gauge", "Pages mapped in the pool.", ST(pages_total) },
	{ "pages_free", "gauge", "Free pages, those held in per-thread caches included.", ST(pages_free) },
	{ "pages_inuse", "gauge", "Pages handed out and not freed yet.", ST(pages_inuse) },
	{ "pages_cached", "gauge", "Free pages held in per-thread caches.", ST(pages_cached) },
	{ "reserve_pages", "gauge", "Pages only LAB_GFP_ATOMIC may take.", ST(reserve_pages) },
	{ "max_pages", "gauge", "Pages the pool may grow to.", ST(max_pages) },
	{ "allocs_total", "counter", "Successful allocations (blocks).", ST(allocs) },
	{ "frees_total", "counter", "Successful frees (blocks).", ST(frees) },
	{ "alloc_failed_total", "counter", "Allocations that found no free page.", ST(alloc_failed) },
	{ "reserve_allocs_total", "counter", "Allocations that took reserve pages.", ST(reserve_allocs) },
	{ "bad_frees_total", "counter", "Frees refused with an error.", ST(bad_frees) },
	{ "grows_total", "counter", "Times LAB_GFP_KERNEL grew the pool.", ST(grows) },
	{ "waits_total", "counter", "Times LAB_GFP_KERNEL slept for a page.", ST(waits) },
	{ "watch_events_total", "counter", "Low-watermark crossings signalled.", ST(watch_events) },
	{ "allocs_per_second", "gauge", "Allocations in the publisher's last period, per second.",
	  offsetof(struct lab_pub_record, allocs_per_s) },
	{ "frees_per_second", "gauge", "Frees in the publisher's last period, per second.",
	  offsetof(struct lab_pub_record, frees_per_s) },
};
#define NR_FIGURES (sizeof(figures) / sizeof(figures[0]))

static uint64_t figure_of(const struct lab_pub_record *r, const struct figure *f)
{
	uint64_t v;

	memcpy(&v, (const char *)r + f->offset, sizeof(v));
	return v;
}

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *out, const char *prog)
{
	fprintf(out,
		"usage: %s [--once | --json | --prometheus] [-d SECONDS] [-n COUNT] [--dir DIR] "
		"[--keep-stale]\n", prog);
}

static void help(const char *prog)
{
	usage(stdout, prog);
	printf("\nShows the labyrinth pools of every process of this user started with\n"
	       "LABYRINTH_STATS=1, refreshed in place until interrupted.\n\n"
	       "  --once            print one table and exit\n"
	       "  --json            print one snapshot as JSON and exit\n"
	       "  --prometheus      print one snapshot in the Prometheus text format and exit\n"
	       "  -d, --delay SECS  seconds between refreshes (default 1)\n"
	       "  -n, --iterations N  exit after N refreshes\n"
	       "  --dir DIR         where publishers write (default $LABYRINTH_STATS_DIR or %s)\n"
	       "  --keep-stale      report stale files of crashed publishers, do not remove them\n"
	       "  -h, --help        this text\n"
	       "  -V, --version     the version\n", LAB_PUB_DIR);
}

static int parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longs[] = {
		{ "once", no_argument, NULL, 'o' },
		{ "json", no_argument, NULL, 'j' },
		{ "prometheus", no_argument, NULL, 'p' },
		{ "delay", required_argument, NULL, 'd' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "dir", required_argument, NULL, 'D' },
		{ "keep-stale", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	while ((c = getopt_long(argc, argv, "d:n:hV", longs, NULL)) != -1) {
		switch (c) {
		case 'o':
			o->mode = MODE_ONCE;
			break;
		case 'j':
			o->mode = MODE_JSON;
			break;
		case 'p':
			o->mode = MODE_PROMETHEUS;
			break;
		case 'd':
			o->delay = strtod(optarg, &end);
			if (*end || !(o->delay >= 0.05 && o->delay <= 3600)) {
				fprintf(stderr, "%s: -d wants seconds from 0.05 to 3600, not '%s'\n",
					argv[0], optarg);
				return -1;
			}
			break;
		case 'n':
			o->iterations = strtol(optarg, &end, 10);
			if (*end || o->iterations < 1) {
				fprintf(stderr, "%s: -n wants a count of at least 1, not '%s'\n",
					argv[0], optarg);
				return -1;
			}
			break;
		case 'D':
			o->dir = optarg;
			break;
		case 'k':
			o->keep_stale = 1;
			break;
		case 'h':
			help(argv[0]);
			exit(0);
		case 'V':
			printf("labyrinth-top %s\n", labyrinth_version());
			exit(0);
		default:
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "%s: unexpected argument '%s'\n", argv[0], argv[optind]);
		return -1;
	}
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int is_stale(const struct top_proc *p)
{
	return p->state == TOP_GONE || p->state == TOP_REUSED;
}

/* The pool's label: its name, with "#k" for the k-th (k >= 2) pool of the
 * same name in its process, so that (pid, pool) names one pool. */
static void pool_label(const struct top_proc *p, unsigned int i, char *out, size_t size)
{
	unsigned int j, same = 1;

	for (j = 0; j < i; j++)
		same += !strcmp(p->pools[j].name, p->pools[i].name);
	if (same > 1)
		snprintf(out, size, "%s#%u", p->pools[i].name, same);
	else
		snprintf(out, size, "%s", p->pools[i].name);
}

static const char *size_text(uint64_t bytes)
{
	return bytes == LAB_PAGE_1G ? "1G" : bytes == LAB_PAGE_2M ? "2M" : "4K";
}

/* ---- the table (--once and the live view) ---- */

#define TABLE_HEAD "%7s %-15s %-16s %4s %9s %9s %9s %7s %10s %10s %8s %8s %6s"
#define TABLE_ROW "%7llu %-15.15s %-16.16s %4s %9llu %9llu %9llu %7llu %10llu %10llu %8llu %8llu %6llu"

static void print_table(FILE *out, const struct top_proc *procs, size_t n, const char *eol)
{
	const struct top_proc *p;
	unsigned int pools = 0, live = 0, i;
	char label[LAB_PUB_NAME_MAX + 12];
	size_t k;

	for (k = 0; k < n; k++)
		if (procs[k].state == TOP_LIVE) {
			live++;
			pools += procs[k].nr_pools;
		}
	fprintf(out, "labyrinth-top %s: %u process%s, %u pool%s%s\n", labyrinth_version(), live,
		live == 1 ? "" : "es", pools, pools == 1 ? "" : "s", eol);
	fprintf(out, TABLE_HEAD "%s\n", "PID", "COMMAND", "POOL", "PAGE", "TOTAL", "FREE",
		"INUSE", "CACHED", "ALLOC/s", "FREE/s", "FAILED", "BADFREE", "WATCH", eol);
	for (k = 0; k < n; k++) {
		p = &procs[k];
		if (p->state != TOP_LIVE)
			continue;
		for (i = 0; i < p->nr_pools; i++) {
			const struct lab_pub_record *r = &p->pools[i];

			pool_label(p, i, label, sizeof(label));
			fprintf(out, TABLE_ROW "%s\n", (unsigned long long)p->pid, p->command, label,
				size_text(r->st.page_size), (unsigned long long)r->st.pages_total,
				(unsigned long long)r->st.pages_free,
				(unsigned long long)r->st.pages_inuse,
				(unsigned long long)r->st.pages_cached,
				(unsigned long long)r->allocs_per_s,
				(unsigned long long)r->frees_per_s,
				(unsigned long long)r->st.alloc_failed,
				(unsigned long long)r->st.bad_frees,
				(unsigned long long)r->st.watch_events, eol);
		}
		if (p->unpublished)
			fprintf(out, "%7llu (%llu more pools: over %u per process)%s\n",
				(unsigned long long)p->pid, (unsigned long long)p->unpublished,
				LAB_PUB_RECORDS, eol);
	}
	for (k = 0; k < n; k++)
		if (is_stale(&procs[k]))
			fprintf(out, "stale: pid %llu (%s): %s %s%s\n",
				(unsigned long long)procs[k].pid, top_state_name(procs[k].state),
				procs[k].path, procs[k].removed ? "removed" : "left in place", eol);
	for (k = 0; k < n; k++)
		if (procs[k].state == TOP_FOREIGN)
			fprintf(out, "not shown: pid %llu (%s): %s%s\n",
				(unsigned long long)procs[k].pid, top_state_name(procs[k].state),
				procs[k].path, eol);
}

/* ---- JSON ---- */

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void json_pool(FILE *out, const struct top_proc *p, unsigned int i, uint64_t now)
{
	const struct lab_pub_record *r = &p->pools[i];
	char label[LAB_PUB_NAME_MAX + 12];
	size_t f;

	pool_label(p, i, label, sizeof(label));
	fprintf(out, "%s\n        {\"pool\": ", i ? "," : "");
	json_string(out, label);
	for (f = 0; f < NR_FIGURES; f++)
		fprintf(out, ", \"%s\": %llu", figures[f].name,
			(unsigned long long)figure_of(r, &figures[f]));
	fprintf(out, ", \"age_ms\": %llu}",
		(unsigned long long)(now > r->at_ms ? now - r->at_ms : 0));
}

static void print_json(FILE *out, const struct top_proc *procs, size_t n)
{
	uint64_t now = now_ms();
	const char *sep = "";
	unsigned int i;
	size_t k;

	fprintf(out, "{\n  \"version\": \"%s\",\n  \"processes\": [", labyrinth_version());
	for (k = 0; k < n; k++) {
		const struct top_proc *p = &procs[k];

		if (p->state != TOP_LIVE)
			continue;
		fprintf(out, "%s\n    {\"pid\": %llu, \"command\": ", sep, (unsigned long long)p->pid);
		json_string(out, p->command);
		fprintf(out, ", \"period_ms\": %u, \"unpublished_pools\": %llu,\n      \"pools\": [",
			p->period_ms, (unsigned long long)p->unpublished);
		for (i = 0; i < p->nr_pools; i++)
			json_pool(out, p, i, now);
		fprintf(out, "]}");
		sep = ",";
	}
	fprintf(out, "\n  ],\n  \"stale\": [");
	sep = "";
	for (k = 0; k < n; k++) {
		if (!is_stale(&procs[k]))
			continue;
		fprintf(out, "%s\n    {\"pid\": %llu, \"reason\": \"%s\", \"file\": ", sep,
			(unsigned long long)procs[k].pid, top_state_name(procs[k].state));
		json_string(out, procs[k].path);
		fprintf(out, ", \"removed\": %s}", procs[k].removed ? "true" : "false");
		sep = ",";
	}
	fprintf(out, "\n  ],\n  \"not_shown\": [");
	sep = "";
	for (k = 0; k < n; k++) {
		if (procs[k].state != TOP_FOREIGN)
			continue;
		fprintf(out, "%s\n    {\"pid\": %llu, \"reason\": \"%s\", \"file\": ", sep,
			(unsigned long long)procs[k].pid, top_state_name(procs[k].state));
		json_string(out, procs[k].path);
		fputc('}', out);
		sep = ",";
	}
	fprintf(out, "\n  ]\n}\n");
}

/* ---- Prometheus text exposition format ---- */

static void prometheus_label(FILE *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' || *s == '"')
			fprintf(out, "\\%c", *s);
		else if (*s == '\n')
			fputs("\\n", out);
		else
			fputc(*s, out);
	}
}

static void print_prometheus(FILE *out, const struct top_proc *procs, size_t n)
{
	char label[LAB_PUB_NAME_MAX + 12];
	unsigned int i;
	size_t f, k;

	for (f = 0; f < NR_FIGURES; f++) {
		fprintf(out, "# HELP labyrinth_%s %s\n# TYPE labyrinth_%s %s\n", figures[f].name,
			figures[f].help, figures[f].name, figures[f].type);
		for (k = 0; k < n; k++) {
			if (procs[k].state != TOP_LIVE)
				continue;
			for (i = 0; i < procs[k].nr_pools; i++) {
				pool_label(&procs[k], i, label, sizeof(label));
				fprintf(out, "labyrinth_%s{pid=\"%llu\",pool=\"", figures[f].name,
					(unsigned long long)procs[k].pid);
				prometheus_label(out, label);
				fprintf(out, "\"} %llu\n",
					(unsigned long long)figure_of(&procs[k].pools[i], &figures[f]));
			}
		}
	}
}

/* ---- main ---- */

static int snapshot(const struct options *o, struct top_proc **procs, size_t *n)
{
	int err = top_scan(o->dir, !o->keep_stale, procs, n);

	if (err)
		fprintf(stderr, "labyrinth-top: %s: %s\n", o->dir, strerror(-err));
	return err;
}

static int run_once(const struct options *o)
{
	struct top_proc *procs;
	size_t n;

	if (snapshot(o, &procs, &n))
		return 1;
	if (o->mode == MODE_JSON)
		print_json(stdout, procs, n);
	else if (o->mode == MODE_PROMETHEUS)
		print_prometheus(stdout, procs, n);
	else
		print_table(stdout, procs, n, "");
	free(procs);
	return fflush(stdout) ? 1 : 0;
}

static void nap(double seconds)
{
	struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };

	nanosleep(&ts, NULL); /* a signal cuts it short: then stop is set */
}

static int run_live(const struct options *o)
{
	struct sigaction sa = { .sa_handler = on_signal };
	struct top_proc *procs;
	long done = 0;
	size_t n;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	fputs("\033[?25l\033[2J", stdout); /* hide the cursor, clear the screen */
	while (!stop) {
		if (snapshot(o, &procs, &n))
			break;
		fputs("\033[H", stdout);
		print_table(stdout, procs, n, "\033[K"); /* each line clears its tail */
		fputs("\033[J", stdout);         /* and the screen below the table */
		fflush(stdout);
		free(procs);
		if (o->iterations && ++done >= o->iterations)
			break;
		nap(o->delay);
	}
	fputs("\033[?25h", stdout);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct options o = { .mode = MODE_LIVE, .dir = top_default_dir(), .delay = 1.0 };

	if (parse_options(argc, argv, &o)) {
		usage(stderr, argv[0]);
		return 2;
	}
	return o.mode == MODE_LIVE ? run_live(&o) : run_once(&o);
}
