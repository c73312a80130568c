/* SPDX-License-Identifier: MIT */
/*
 * publish_format.h - the layout of the statistics file a process started
 * with LABYRINTH_STATS=1 keeps (publish.c writes it, labyrinth-top reads
 * it from another process).  Types only: the core and the tool share it.
 *
 * One file per process, <dir>/labyrinth-stats.<pid> (dir: the environment's
 * LABYRINTH_STATS_DIR, else /dev/shm), mode 0600, mapped shared: a header,
 * then LAB_PUB_RECORDS records, one per live pool.  A record is written
 * under its sequence count (a seqlock with one writer, the publisher's
 * lock held): seq is odd while the record changes, and a reader keeps a
 * copy only if it saw the same even seq before and after reading it
 * (lab_pub_read_record), so a reader never sees a torn record and never
 * holds up the writer.  Every field is read and written with atomic
 * (relaxed) loads and stores of its aligned 32- or 64-bit word.
 */
#ifndef LAB_PUBLISH_FORMAT_H
#define LAB_PUBLISH_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "labyrinth.h"

#define LAB_PUB_MAGIC     0x3174617473626c6cull /* "llbstat1" */
#define LAB_PUB_VERSION   1u
#define LAB_PUB_PREFIX    "labyrinth-stats."    /* then the decimal pid */
#define LAB_PUB_DIR       "/dev/shm"
#define LAB_PUB_RECORDS   64u   /* pools published per process; more are counted */
#define LAB_PUB_PERIOD_MS 1000u /* default refresh period (LABYRINTH_STATS_MS) */
#define LAB_PUB_NAME_MAX  32u

struct lab_pub_record {
	uint32_t seq;          /* odd while the publisher writes the record */
	uint32_t used;         /* 1: a live pool; 0: a free record */
	uint64_t pool_id;      /* a new one at each init: tells a reused record apart */
	uint64_t at_ms;        /* CLOCK_MONOTONIC time of this snapshot */
	uint64_t allocs_per_s; /* allocs during the last period / its length */
	uint64_t frees_per_s;  /* frees likewise */
	char name[LAB_PUB_NAME_MAX];
	struct labyrinth_stats st; /* labyrinth_stats() of the pool, as is */
};

struct lab_pub_header {
	uint64_t magic;        /* LAB_PUB_MAGIC, stored last when the file is ready */
	uint32_t version;      /* LAB_PUB_VERSION */
	uint32_t nr_records;   /* LAB_PUB_RECORDS */
	uint32_t record_size;  /* sizeof(struct lab_pub_record) */
	uint32_t period_ms;    /* how often the records are refreshed */
	uint64_t pid;          /* the publishing process */
	uint64_t start_time;   /* its start (/proc/PID/stat field 22): a reused pid differs */
	uint64_t beats;        /* periods published so far */
	uint64_t beat_ms;      /* CLOCK_MONOTONIC time of the last one */
	uint64_t unpublished;  /* live pools beyond LAB_PUB_RECORDS */
	uint64_t pad[8];       /* the records start on a cache line */
};

#define LAB_PUB_FILE_SIZE \
	(sizeof(struct lab_pub_header) + LAB_PUB_RECORDS * sizeof(struct lab_pub_record))

_Static_assert(sizeof(struct lab_pub_header) % 64 == 0, "records start on a line");
_Static_assert(sizeof(struct lab_pub_record) % 8 == 0 && sizeof(struct labyrinth_stats) % 8 == 0,
	       "a record is whole 64-bit words");

static inline struct lab_pub_record *lab_pub_record_at(struct lab_pub_header *h, uint32_t i)
{
	return (struct lab_pub_record *)(void *)((unsigned char *)(h + 1) +
						 (uint64_t)i * sizeof(struct lab_pub_record));
}

/*
 * The start time of a process (field 22, in clock ticks since boot) from
 * the len bytes of its /proc/PID/stat; 0 if they do not parse.  The name
 * (field 2) may hold spaces and parentheses: fields count from the last ')'.
 */
static inline uint64_t lab_pub_parse_start(const char *s, size_t len)
{
	size_t i, paren = len;
	unsigned int field = 2;
	uint64_t v = 0;

	for (i = 0; i < len; i++)
		if (s[i] == ')')
			paren = i;
	if (paren == len)
		return 0;
	for (i = paren + 1; i < len && field < 22; i++)
		if (s[i] == ' ')
			field++;
	for (; field == 22 && i < len && s[i] >= '0' && s[i] <= '9'; i++)
		v = v * 10 + (uint64_t)(s[i] - '0');
	return v;
}

/*
 * Copy record r into *out as one consistent snapshot.  1: copied; 0: the
 * record is free; -1: the writer kept changing it (after tries attempts).
 * The words after seq are copied with relaxed atomic loads; the acquire
 * load of seq before and the acquire fence after order them against the
 * writer's release stores (publish.c, write_record).
 */
static inline int lab_pub_read_record(const struct lab_pub_record *r, struct lab_pub_record *out,
				      unsigned int tries)
{
	const uint64_t *src = (const uint64_t *)(const void *)r;
	uint64_t *dst = (uint64_t *)(void *)out;
	uint32_t before, after;
	size_t i;

	while (tries--) {
		before = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE);
		if (before & 1)
			continue;
		for (i = 1; i < sizeof(*r) / 8; i++) /* word 0 is seq and used */
			dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
		out->used = __atomic_load_n(&r->used, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		after = __atomic_load_n(&r->seq, __ATOMIC_RELAXED);
		if (after == before) {
			out->seq = before;
			return out->used ? 1 : 0;
		}
	}
	return -1;
}

#endif /* LAB_PUBLISH_FORMAT_H */
