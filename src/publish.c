/* SPDX-License-Identifier: MIT */
/*
 * publish.c - LABYRINTH_STATS=1: each live pool's statistics, in a file
 * that another process of the same user reads (labyrinth-top), at no cost
 * on the atomic path.
 *
 * Nothing here runs on an allocation or a free, and the fast path is
 * unchanged.  labyrinth_init adds its pool (lab_publish_add),
 * labyrinth_destroy removes it (lab_publish_remove) before the pool goes
 * away, and a background thread rewrites every record once a period
 * (LAB_PUB_PERIOD_MS, or LABYRINTH_STATS_MS) from labyrinth_stats(): the
 * public function the process itself calls, so the published figures are
 * the process's own by construction, and the thread reads the pool's
 * counters the way any caller of labyrinth_stats does (relaxed loads,
 * nothing written in the pool).  The price is that thread waking once a
 * period; a process without the variable pays one getenv at its first
 * init.
 *
 * The file (publish_format.h) has one writer at a time: this file's lock
 * covers the table of pools, the records and the header.  Each record is
 * written under its sequence count (write_record), so a reader in another
 * process never sees a torn record and never holds up the writer.  The
 * lock also keeps destroy from freeing a pool while the thread reads it:
 * lab_publish_remove waits for the thread to leave the pool.  Both are
 * checked by the Spin model src/model/publish.pml (scripts/spin.sh).
 *
 * Allocations per second: the allocs that labyrinth_stats counts (blocks
 * handed out, of any order; a bulk call counts each page) during the last
 * period, divided by that period's measured length; frees likewise.
 *
 * fork: the file and the thread are the parent's (the mapping is not
 * inherited, the thread does not exist in the child).  The child starts
 * afresh: if it makes pools, they appear in a file of its own pid.
 */
#include "publish.h"
#include "publish_format.h"

enum { PUB_UNDECIDED, PUB_ON, PUB_OFF };

static struct {
	uint32_t lock;          /* futex lock: everything below */
	uint32_t state;         /* PUB_*: decided at the first init */
	uint32_t period_ms;
	uint32_t nap;           /* the thread sleeps on it; never woken */
	struct lab_pub_header *file;
	struct lab_pool *pools[LAB_PUB_RECORDS]; /* record i shows pools[i] */
	uint64_t last_allocs[LAB_PUB_RECORDS];   /* at last_ms, for the rates */
	uint64_t last_frees[LAB_PUB_RECORDS];
	uint64_t last_ms[LAB_PUB_RECORDS];       /* 0: no earlier snapshot */
	uint64_t ids[LAB_PUB_RECORDS];           /* each add takes the next id */
	uint64_t last_id;
	uint64_t unpublished;   /* live pools that found no free record */
} pub;

/* Per second over the last period (0 for a pool's first snapshot). */
static uint64_t per_second(uint64_t now_count, uint64_t last_count, uint64_t now, uint64_t last)
{
	if (!last || now <= last)
		return 0;
	return (now_count - last_count) * 1000u / (now - last);
}

/* Store next as record i: the seqlock's writer side (the reader is
 * lab_pub_read_record).  seq goes odd, a release fence orders that store
 * before the data's, the data words are stored, seq goes even with
 * release: a reader that saw any of the new data also sees an odd or a
 * newer seq, and throws its copy away. */
static void store_record(uint32_t i, const struct lab_pub_record *next)
{
	struct lab_pub_record *r = lab_pub_record_at(pub.file, i);
	const uint64_t *src = (const uint64_t *)(const void *)next;
	uint64_t *dst = (uint64_t *)(void *)r;
	uint32_t seq = lab_load_relaxed(&r->seq);
	size_t w;

	lab_store_relaxed(&r->seq, seq + 1);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	for (w = 1; w < sizeof(*r) / 8; w++) /* word 0 is seq and used */
		lab_store_relaxed(&dst[w], src[w]);
	lab_store_relaxed(&r->used, next->used);
	lab_store_release(&r->seq, seq + 2);
}

/* Record i from a fresh labyrinth_stats() of pools[i]. */
static void write_record(uint32_t i, uint64_t now)
{
	struct lab_pool *p = pub.pools[i];
	struct lab_pub_record next;
	uint32_t c;

	__builtin_memset(&next, 0, sizeof(next));
	if (labyrinth_stats((labyrinth_t *)(uintptr_t)p->owner, &next.st))
		return; /* cannot happen: destroy removes the pool first */
	next.used = 1;
	next.pool_id = pub.ids[i];
	next.at_ms = now;
	next.allocs_per_s = per_second(next.st.allocs, pub.last_allocs[i], now, pub.last_ms[i]);
	next.frees_per_s = per_second(next.st.frees, pub.last_frees[i], now, pub.last_ms[i]);
	for (c = 0; c + 1 < LAB_PUB_NAME_MAX && p->name[c]; c++)
		next.name[c] = p->name[c];
	store_record(i, &next);
	pub.last_allocs[i] = next.st.allocs;
	pub.last_frees[i] = next.st.frees;
	pub.last_ms[i] = now;
}

static void write_beat(uint64_t now)
{
	lab_store_relaxed(&pub.file->unpublished, pub.unpublished);
	lab_store_relaxed(&pub.file->beat_ms, now);
	lab_store_release(&pub.file->beats, lab_load_relaxed(&pub.file->beats) + 1);
}

static void publish_all(void)
{
	uint64_t now = lab_os_monotonic_ms();
	uint32_t i;

	lab_futex_lock(&pub.lock);
	if (pub.file) {
		for (i = 0; i < LAB_PUB_RECORDS; i++)
			if (pub.pools[i])
				write_record(i, now);
		write_beat(now);
	}
	lab_futex_unlock(&pub.lock);
}

static void publisher_main(void)
{
	for (;;) {
		/* a timed sleep: nobody wakes nap */
		lab_os_futex_wait(&pub.nap, 0, (long)pub.period_ms);
		publish_all();
	}
}

static void report_failure(const char *what, int err)
{
	char line[160];
	size_t len = lab_fmt(line, sizeof(line),
			     "labyrinth: LABYRINTH_STATS=1: %s (errno %u)\n", what,
			     (unsigned int)-err);

	lab_os_report(line, len);
}

/* The first init decides; with the variable, the file and the thread. */
static uint32_t start_publishing(void)
{
	struct lab_pub_header *h;
	uint64_t pid, start;
	void *mem;
	int err;

	if (!lab_os_publish_wanted(&pub.period_ms))
		return PUB_OFF;
	err = lab_os_publish_open(LAB_PUB_FILE_SIZE, &mem, &pid, &start);
	if (err) {
		report_failure("cannot create the statistics file, nothing is published", err);
		return PUB_OFF;
	}
	h = mem;
	h->version = LAB_PUB_VERSION;
	h->nr_records = LAB_PUB_RECORDS;
	h->record_size = sizeof(struct lab_pub_record);
	h->period_ms = pub.period_ms;
	h->pid = pid;
	h->start_time = start;
	lab_store_release(&h->magic, LAB_PUB_MAGIC); /* readers may trust the header */
	pub.file = h;
	err = lab_os_publish_thread(publisher_main);
	if (err) /* records still change at each init and destroy */
		report_failure("cannot start the thread, statistics are not refreshed", err);
	return PUB_ON;
}

void lab_publish_add(struct lab_pool *p)
{
	uint32_t i;

	if (lab_load_relaxed(&pub.state) == PUB_OFF)
		return;
	lab_futex_lock(&pub.lock);
	if (pub.state == PUB_UNDECIDED)
		lab_store_relaxed(&pub.state, start_publishing());
	if (pub.state == PUB_ON) {
		for (i = 0; i < LAB_PUB_RECORDS && pub.pools[i]; i++)
			;
		if (i == LAB_PUB_RECORDS) {
			pub.unpublished++;
		} else {
			pub.pools[i] = p;
			pub.ids[i] = ++pub.last_id;
			pub.last_ms[i] = 0;
			write_record(i, lab_os_monotonic_ms()); /* visible at once */
		}
		write_beat(lab_os_monotonic_ms());
	}
	lab_futex_unlock(&pub.lock);
}

void lab_publish_remove(struct lab_pool *p)
{
	struct lab_pub_record gone;
	uint32_t i;

	if (lab_load_relaxed(&pub.state) != PUB_ON)
		return;
	lab_futex_lock(&pub.lock);
	for (i = 0; i < LAB_PUB_RECORDS && pub.pools[i] != p; i++)
		;
	if (i == LAB_PUB_RECORDS) {
		pub.unpublished--; /* one of those that found no record */
	} else {
		__builtin_memset(&gone, 0, sizeof(gone));
		store_record(i, &gone); /* gone at once, not a period later */
		pub.pools[i] = NULL;
	}
	write_beat(lab_os_monotonic_ms());
	lab_futex_unlock(&pub.lock);
}

/* In a fork child (pool.c): the parent's file and thread are not ours. */
void lab_publish_fork_child(void)
{
	__builtin_memset(&pub, 0, sizeof(pub));
}
