/* SPDX-License-Identifier: MIT */
/*
 * model.h - the fuzzer's reference model of one labyrinth pool.
 *
 * A struct model is what one pool must look like from the outside after
 * every call of one thread (SPEC "Caches and exactness": one thread sees
 * exact counts): which pages are free, every live block, every counter,
 * every watch's pending signals.  The driver (driver.c) decodes an input
 * into calls on one or several pools, each with its own model, and after
 * each call tells that pool's model what happened (take_block,
 * settle_free, learn_growth...), which checks it as it records it;
 * verify() then compares the library's stats, watches and audit with it.
 *
 * What is exact here:
 *   - order 0 succeeds iff free - floor >= 1 (floor = reserve unless ATOMIC);
 *   - order n > 0 succeeds iff free - floor >= 2^n and the model has an
 *     aligned run of 2^n free pages (the caller's cache is flushed first);
 *   - LAB_GFP_KERNEL grows only when the pool cannot serve the request and
 *     then until it can or reaches max_pages (the growth step is the
 *     library's choice: the model learns pages_total from stats);
 *   - stats pages_total/free/inuse, allocs, frees, alloc_failed,
 *     reserve_allocs, bad_frees, watch_events, and each watch's eventfd
 *     counter;
 *   - LAB_POOL_DEBUG prints exactly one line per bad free and per failed
 *     allocation without LAB_GFP_NOWARN, naming the pool, the call and
 *     (frees) the address; other pools print nothing.
 */
#ifndef FUZZ_MODEL_H
#define FUZZ_MODEL_H

#include "harness.h"

#define ST_FREE 0x00u
#define ST_HEAD 0x80u
#define ST_TAIL 0x40u

struct block {
	unsigned char *addr;
	unsigned order;
};

struct mwatch {
	int fd;           /* ours; -1 once closed */
	size_t low;
	uint64_t pending; /* signals not read from fd yet */
};

/* A pool's parameters, as it reports them. */
struct pool_key {
	size_t nr, max, reserve;
	unsigned flags;
	long wait_ms;
	const char *name;   /* the name the pool reports */
};

struct model {
	labyrinth_t *lab;   /* the pool it models */
	bool live;
	size_t total, max, reserve, nfree;
	unsigned flags;
	long wait_ms;
	const char *name;   /* the name the pool reports */
	unsigned char *base;
	uint8_t st[MAXP];
	uint32_t blk_of[MAXP]; /* head page -> index in blocks[] */
	struct block blocks[MAXP];
	size_t nblocks;
	uint64_t allocs, frees, failed, resv, bad, grows, waits, events;
	struct mwatch w[NWATCH];
	unsigned nwatch;
	unsigned char *freed_ring[16];
	unsigned freed_n;
	size_t nr_init;     /* pages_total right after init */
	unsigned served;    /* a kept pool: inputs it served before this one */
};

/* Rules */
bool gfp_ok(lab_gfp_t g);
bool fits(const struct model *m, unsigned order, size_t floor);
bool run_exists(const struct model *m, unsigned order);
int expect_free(const struct model *m, const void *addr, unsigned order);

/* Addresses */
void *model_at(const struct model *m, long long off);
size_t idx_of(const struct model *m, const void *a);
int head_order(const struct model *m, const void *a);

/* Learning what the library did (each checks it first) */
void take_block(struct model *m, void *ret, unsigned order, lab_gfp_t gfp, const char *call);
void drop_block(struct model *m, size_t idx);
void settle_free(struct model *m, const void *addr, unsigned order, int got, const char *call);
void learn_growth(struct model *m, uint64_t before_grows);
void expect_report(const struct model *m, const char *what, const void *addr);
void audit_bad_free(const struct model *m, const void *addr);

/* Comparing the library's own view with the model */
void get_stats(const struct model *m, struct labyrinth_stats *st);
void check_watches(struct model *m);
void verify(struct model *m);

/* Life cycle: a pool with key k starts (its counters are the caller's);
 * a destroyed or kept pool's model is reset (its watches closed). */
void model_start(struct model *m, const struct pool_key *k);
void model_reset_pool(struct model *m);

#endif /* FUZZ_MODEL_H */
