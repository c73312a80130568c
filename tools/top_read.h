/* SPDX-License-Identifier: MIT */
/*
 * top_read.h - reading the statistics files of publishing processes
 * (LABYRINTH_STATS=1, src/publish_format.h) from outside: for
 * labyrinth-top and its tests.
 */
#ifndef LAB_TOP_READ_H
#define LAB_TOP_READ_H

#include <stddef.h>
#include <stdint.h>

#include "publish_format.h"

enum top_state {
	TOP_LIVE,     /* the publisher runs */
	TOP_STARTING, /* the publisher runs but has not finished its header */
	TOP_GONE,     /* stale: no process of that pid */
	TOP_REUSED,   /* stale: the pid belongs to a later process */
	TOP_INVALID,  /* not a statistics file of this version */
	TOP_FOREIGN,  /* owned by another user than the process it names */
};

struct top_proc {
	enum top_state state;
	uint64_t pid, start_time, beats, beat_ms, unpublished;
	uint32_t period_ms;
	char command[32];  /* /proc/PID/comm */
	char path[4096];
	unsigned int nr_pools;
	unsigned int torn; /* records skipped: the writer kept changing them */
	struct lab_pub_record pools[LAB_PUB_RECORDS];
	int removed;       /* a stale file that top_scan removed */
	uint64_t dev, ino; /* the file judged: top_scan removes only that one */
};

/* Read the file at path into *out (its state says what it is).  0, or
 * -errno when the file cannot be opened or mapped. */
int top_read_file(const char *path, struct top_proc *out);

/* Every file in dir: *procs (malloc'ed, free() it) and *n.  Stale files are
 * removed when remove_stale (and reported with removed = 1).  0 or -errno. */
int top_scan(const char *dir, int remove_stale, struct top_proc **procs, size_t *n);

/* Reads that met a file truncated under them (SIGBUS, caught): the file
 * was then TOP_INVALID.  For the tests. */
extern unsigned long top_truncated_reads;

/* The directory publishers write to: LABYRINTH_STATS_DIR, else /dev/shm. */
const char *top_default_dir(void);

/* "process gone", "pid reused", ... */
const char *top_state_name(enum top_state s);

#endif /* LAB_TOP_READ_H */
