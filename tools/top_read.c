/* SPDX-License-Identifier: MIT */
/*
 * top_read.c - reading publishers' statistics files (top_read.h).
 *
 * A file is mapped read-only and each record copied under its sequence
 * count (lab_pub_read_record).  A file is stale when its process is gone
 * or its pid now belongs to a later process (the start time in
 * /proc/PID/stat differs from the one in the header): a publisher killed
 * before its exit handler ran leaves it behind.
 *
 * The files lie in a directory every user may write to, so nothing in one
 * is trusted: a file whose owner is neither root nor a user of the live
 * process it names (its pid's Uid line in /proc/PID/status) is
 * TOP_FOREIGN and its figures never shown (anyone could otherwise show
 * figures under a daemon's pid); every field
 * is checked before use; a file truncated under the reader (a read past
 * its end is SIGBUS) is TOP_INVALID, not a crash; and a stale file is
 * removed only if the path still holds the file judged (a new process of
 * the same pid may have made its own meanwhile).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
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
	case TOP_FOREIGN:
		return "owned by another user than its process";
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

/* Whether a file owned by uid may speak for the process pid: root's
 * (only root can make a file root's, and a daemon may make its pools as
 * root before it drops to another user), or one of the process's own
 * users (real, effective, saved, filesystem: /proc/PID/status).  A
 * process whose status cannot be read (hidepid) gets no benefit of the
 * doubt. */
static int process_has_uid(uint64_t pid, uid_t uid)
{
	char path[64], text[4096], *line;
	unsigned long ids[4];

	if (uid == 0)
		return 1;
	snprintf(path, sizeof(path), "/proc/%llu/status", (unsigned long long)pid);
	if (read_small(path, text, sizeof(text)) < 0)
		return 0;
	line = strstr(text, "\nUid:");
	if (!line || sscanf(line + 5, "%lu %lu %lu %lu", &ids[0], &ids[1], &ids[2], &ids[3]) != 4)
		return 0;
	return ids[0] == uid || ids[1] == uid || ids[2] == uid || ids[3] == uid;
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

/*
 * A read of the mapping past the end of a file that someone truncated
 * after the fstat is SIGBUS: while reading_mapping is set, the handler
 * jumps back to top_read_file, which calls the file invalid.  The reader
 * is single-threaded (labyrinth-top, the tests).
 */
static sigjmp_buf truncated_jump;
static volatile sig_atomic_t reading_mapping;
static struct sigaction sigbus_before; /* the action read_mapping replaced */
unsigned long top_truncated_reads;

static void on_sigbus(int sig)
{
	if (reading_mapping)
		siglongjmp(truncated_jump, 1);
	/* Not ours: the action from before, which the faulting instruction,
	 * run again on return, then meets (the default one kills). */
	sigaction(sig, &sigbus_before, NULL);
}

/* The header and records of the mapped file h into *out; its state. */
static enum top_state read_mapping(struct lab_pub_header *h, struct top_proc *out)
{
	struct sigaction sa;
	enum top_state state;
	int ready;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigbus;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &sigbus_before))
		return TOP_INVALID;
	if (sigsetjmp(truncated_jump, 1)) {
		top_truncated_reads++;
		state = TOP_INVALID;
		goto out;
	}
	reading_mapping = 1;
	/* the mapping's reads stay between the flag's set and clear */
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	ready = __atomic_load_n(&h->magic, __ATOMIC_ACQUIRE) == LAB_PUB_MAGIC;
	if (ready && (h->version != LAB_PUB_VERSION || h->nr_records != LAB_PUB_RECORDS ||
		      h->record_size != sizeof(struct lab_pub_record) || h->pid != out->pid)) {
		state = TOP_INVALID;
		goto out;
	}
	if (ready) {
		read_header(h, out);
		read_records(h, out);
	}
	state = out->pid ? judge(out, ready) : TOP_INVALID;
out:
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	reading_mapping = 0;
	sigaction(SIGBUS, &sigbus_before, NULL);
	return state;
}

int top_read_file(const char *path, struct top_proc *out)
{
	struct lab_pub_header *h;
	struct stat st;
	int fd;
	const char *base = strrchr(path, '/');

	memset(out, 0, sizeof(*out));
	snprintf(out->path, sizeof(out->path), "%s", path);
	out->pid = pid_of_name(base ? base + 1 : path);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		out->state = TOP_INVALID;
		return 0;
	}
	out->dev = st.st_dev;
	out->ino = st.st_ino;
	if ((size_t)st.st_size < LAB_PUB_FILE_SIZE) {
		/* a publisher between creating and sizing it, or not ours */
		out->state = out->pid ? judge(out, 0) : TOP_INVALID;
	} else {
		h = mmap(NULL, LAB_PUB_FILE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
		if (h == MAP_FAILED) {
			close(fd);
			return -errno;
		}
		out->state = read_mapping(h, out);
		munmap(h, LAB_PUB_FILE_SIZE);
	}
	close(fd);
	/* Stale files are judged by their process alone (and may be
	 * removed); a live process's figures must come from its own user. */
	if ((out->state == TOP_LIVE || out->state == TOP_STARTING) &&
	    !process_has_uid(out->pid, st.st_uid))
		out->state = TOP_FOREIGN;
	return 0;
}

/* Remove the stale file at path if it is still the one judged (*p): a new
 * process of the same pid may have made its own there meanwhile.  What is
 * left is the window between this check and the unlink: a new publisher
 * would have to start in it. */
static int remove_if_same(const char *path, const struct top_proc *p)
{
	struct stat st;

	if (lstat(path, &st) || (uint64_t)st.st_dev != p->dev || (uint64_t)st.st_ino != p->ino)
		return 0;
	return unlink(path) == 0;
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
			list[count].removed = remove_if_same(path, &list[count]);
		count++;
	}
	closedir(d);
	if (count)
		qsort(list, count, sizeof(*list), by_pid);
	*procs = list;
	*n = count;
	return 0;
}
