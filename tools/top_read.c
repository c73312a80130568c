/* SPDX-License-Identifier: MIT */
/*
 * top_read.c - reading publishers' statistics files (top_read.h).
 *
 * A file is mapped read-only and each record copied under its sequence
 * count (lab_pub_read_record).  A file is stale when its process is gone
 * or its pid now belongs to a later process (the start time in
 * /proc/PID/stat differs from the one in the header): a publisher killed
 * before its exit handler ran leaves it behind.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "top_read.h"

#define READ_TRIES 1000 /* a record is rewritten once a period: plenty */

const char *top_default_dir(void)
{
	const char *dir = getenv("LABYRINTH_STATS_DIR");

	return dir && *dir ? dir : LAB_PUB_DIR;
}

const char *top_state_name(enum top_state s)
{
	switch (s) {
	case TOP_LIVE:
		return "live";
	case TOP_STARTING:
		return "starting";
	case TOP_GONE:
		return "process gone";
	case TOP_REUSED:
		return "pid reused by a later process";
	default:
		return "not a labyrinth statistics file";
	}
}

/* The len bytes of a small file into buf (NUL-terminated); -1 if unreadable. */
static ssize_t read_small(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	return n;
}

/* 0 if there is no process pid, else its start time (1 if unknown). */
static uint64_t process_start(uint64_t pid, char *command, size_t size)
{
	char path[64], text[1024];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%llu/stat", (unsigned long long)pid);
	n = read_small(path, text, sizeof(text));
	if (n < 0)
		return errno == ENOENT || errno == ESRCH ? 0 : 1;
	snprintf(path, sizeof(path), "/proc/%llu/comm", (unsigned long long)pid);
	if (read_small(path, command, size) > 0)
		command[strcspn(command, "\n")] = '\0';
	return lab_pub_parse_start(text, (size_t)n);
}

/* The pid in a file name LAB_PUB_PREFIX<pid>, or 0. */
static uint64_t pid_of_name(const char *name)
{
	size_t plen = strlen(LAB_PUB_PREFIX);
	char *end;
	unsigned long long v;

	if (strncmp(name, LAB_PUB_PREFIX, plen) || !name[plen])
		return 0;
	errno = 0;
	v = strtoull(name + plen, &end, 10);
	return errno || *end ? 0 : v;
}

static void read_header(const struct lab_pub_header *h, struct top_proc *out)
{
	out->pid = h->pid;
	out->start_time = h->start_time;
	out->period_ms = h->period_ms;
	out->beats = __atomic_load_n(&h->beats, __ATOMIC_ACQUIRE);
	out->beat_ms = __atomic_load_n(&h->beat_ms, __ATOMIC_RELAXED);
	out->unpublished = __atomic_load_n(&h->unpublished, __ATOMIC_RELAXED);
}

static void read_records(struct lab_pub_header *h, struct top_proc *out)
{
	uint32_t i;
	int got;

	for (i = 0; i < LAB_PUB_RECORDS; i++) {
		got = lab_pub_read_record(lab_pub_record_at(h, i), &out->pools[out->nr_pools],
					  READ_TRIES);
		if (got > 0) /* the name as a string, whatever the file holds */
			out->pools[out->nr_pools++].name[LAB_PUB_NAME_MAX - 1] = '\0';
		else if (got < 0)
			out->torn++;
	}
}

/* Live, starting or stale, from the process table. */
static enum top_state judge(struct top_proc *p, int header_ready)
{
	uint64_t start = process_start(p->pid, p->command, sizeof(p->command));

	if (!start)
		return TOP_GONE;
	if (!header_ready)
		return TOP_STARTING;
	if (start != 1 && p->start_time && start != p->start_time)
		return TOP_REUSED;
	return TOP_LIVE;
}

int top_read_file(const char *path, struct top_proc *out)
{
	struct lab_pub_header *h;
	struct stat st;
	int fd, ready;
	const char *base = strrchr(path, '/');

	memset(out, 0, sizeof(*out));
	snprintf(out->path, sizeof(out->path), "%s", path);
	out->pid = pid_of_name(base ? base + 1 : path);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || (size_t)st.st_size < LAB_PUB_FILE_SIZE) {
		close(fd);
		/* a publisher between creating and sizing it, or not ours */
		out->state = out->pid ? judge(out, 0) : TOP_INVALID;
		return 0;
	}
	h = mmap(NULL, LAB_PUB_FILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (h == MAP_FAILED)
		return -errno;
	ready = __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == LAB_PUB_MAGIC;
	if (ready && (h->version != LAB_PUB_VERSION || h->nr_records != LAB_PUB_RECORDS ||
		      h->record_size != sizeof(struct lab_pub_record) || h->pid != out->pid)) {
		out->state = TOP_INVALID;
	} else {
		if (ready) {
			read_header(h, out);
			read_records(h, out);
		}
		out->state = out->pid ? judge(out, ready) : TOP_INVALID;
	}
	munmap(h, LAB_PUB_FILE_SIZE);
	return 0;
}

static int by_pid(const void *a, const void *b)
{
	const struct top_proc *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

int top_scan(const char *dir, int remove_stale, struct top_proc **procs, size_t *n)
{
	struct top_proc *list = NULL, *grown;
	size_t count = 0, cap = 0;
	struct dirent *e;
	char path[4096];
	DIR *d = opendir(dir);

	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (!pid_of_name(e->d_name))
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 8;
			grown = realloc(list, cap * sizeof(*list));
			if (!grown) {
				free(list);
				closedir(d);
				return -ENOMEM;
			}
			list = grown;
		}
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (top_read_file(path, &list[count]))
			continue; /* another user's, or gone meanwhile */
		if (remove_stale && (list[count].state == TOP_GONE || list[count].state == TOP_REUSED))
			list[count].removed = unlink(path) == 0;
		count++;
	}
	closedir(d);
	if (count)
		qsort(list, count, sizeof(*list), by_pid);
	*procs = list;
	*n = count;
	return 0;
}
