/* SPDX-License-Identifier: MIT */
/*
 * harness.h - what the fuzzer's model (model.c) and its driver (driver.c)
 * share: failing with the last operations (fail, EXPECT, trace), the
 * library's stderr reports an input must produce, when to run the full
 * audit, and reading the input's bytes.  harness.c holds the state.
 */
#ifndef FUZZ_HARNESS_H
#define FUZZ_HARNESS_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labyrinth.h"

#define PS 4096u
#define MAXP 8192u          /* model capacity in pages (max_pages bound) */
#define MAX_OPS 256
#define MAX_BULK 160
#define NWATCH 8            /* LAB_MAX_WATCHES */
#define MAX_REPORTS 8192

/* Model code that only loops over pages gets no coverage instrumentation:
 * its comparisons fed nothing useful to the fuzzer and cost 10-15%.  Nor
 * does the bookkeeping and checking run for every block and every step
 * (do_alloc, do_free, take_block, drop_block, account_take, expect_free,
 * verify and their helpers; fill and drain call the first two thousands
 * of times an input): their branches only split on a mismatch, which
 * aborts, or repeat the library's own (covered) branches, and their
 * comparison tracing (model value against library value, equal when all
 * is well) was another 5-9% of the time.  The decoding of the input
 * (dec_*, pick_addr, the op switch) keeps full tracing. */
#if defined(__clang__)
#define NOCOV __attribute__((no_sanitize("coverage"), noinline))
#else
#define NOCOV
#endif

/* ---- failure and trace (harness.c) ---- */

extern int real_err;        /* the real stderr (fd 2 is captured per input) */
extern int cap_fd;          /* memfd that receives the library's stderr */
extern bool capture;
extern bool tracing;
extern unsigned trace_n;    /* operations traced in this input */

void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void trace_raw(unsigned n, const uint64_t *v);
/* Never called: lets the compiler check each trace's format. */
static inline __attribute__((format(printf, 1, 2))) void trace_check(const char *fmt, ...)
{
	(void)fmt;
}

#define EXPECT(cond, ...)                                                       \
	do {                                                                    \
		if (!(cond))                                                    \
			fail(__VA_ARGS__);                                      \
	} while (0)

#define TR_V(x) ((uint64_t)(x))
#define TR_1(x) TR_V(x)
#define TR_2(x, ...) TR_V(x), TR_1(__VA_ARGS__)
#define TR_3(x, ...) TR_V(x), TR_2(__VA_ARGS__)
#define TR_4(x, ...) TR_V(x), TR_3(__VA_ARGS__)
#define TR_5(x, ...) TR_V(x), TR_4(__VA_ARGS__)
#define TR_6(x, ...) TR_V(x), TR_5(__VA_ARGS__)
#define TR_7(x, ...) TR_V(x), TR_6(__VA_ARGS__)
#define TR_8(x, ...) TR_V(x), TR_7(__VA_ARGS__)
#define TR_9(x, ...) TR_V(x), TR_8(__VA_ARGS__)
#define TR_10(x, ...) TR_V(x), TR_9(__VA_ARGS__)
#define TR_11(x, ...) TR_V(x), TR_10(__VA_ARGS__)
#define TR_PICK(_1, _2, _3, _4, _5, _6, _7, _8, _9, _10, _11, name, ...) name
#define TR_COUNT(...) TR_PICK(__VA_ARGS__, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define TR_MAP(...)                                                             \
	TR_PICK(__VA_ARGS__, TR_11, TR_10, TR_9, TR_8, TR_7, TR_6, TR_5, TR_4, TR_3, \
		TR_2, TR_1, TR_0)(__VA_ARGS__)
/* trace(fmt, values...): record one operation (at most 10 values). */
#define trace(...)                                                              \
	do {                                                                    \
		if (0)                                                          \
			trace_check(__VA_ARGS__);                               \
		trace_raw(TR_COUNT(__VA_ARGS__),                                \
			  (const uint64_t[]){ TR_MAP(__VA_ARGS__) });           \
	} while (0)

/* ---- reports the library must print on stderr (harness.c) ---- */

/* Expect one line: what is "free", "alloc" or "destroy"; addr the address
 * it must name (or NULL), pool the pool's name. */
void report_expect(const char *what, const void *addr, const char *pool);
/* Every line the library wrote to stderr this input, against expectations. */
void verify_reports(void);
void reports_reset(void);

/* ---- the full audit, labyrinth_check (harness.c) ---- */

/*
 * labyrinth_check walks every page of the pool and all 256 cache slots: run
 * after every step it was a quarter of the time.  verify() compares the
 * exact counters (stats, free_blocks, watches) after every step, and runs
 * the full audit every CHECK_EVERY steps, right after every step that takes
 * a failure path through the pool's state -- a bad free of a page inside
 * the pool (double, tail, wrong order), a watch refused for want of room,
 * growth -- and after init, destroy, fill and drain (audit_soon()), and at
 * the end of every input.  Calls rejected on their arguments alone (bad gfp
 * or order, NULL arrays, an address outside the pool, an invalid pool
 * object) and ENOMEM (fill runs the pool dry on purpose and audits) get the
 * exact checks only: return value, errno and every counter.  An
 * inconsistency that the counters do not show is still caught at the next
 * audit, at most CHECK_EVERY - 1 steps later and always before the input
 * ends (the trace keeps the last 48 operations).
 */
#define CHECK_EVERY 16
extern uint64_t n_steps, n_checks;  /* steps verified, audits run */
void audit_soon(void);               /* the next verify() audits */
bool audit_now(void);                /* does this verify() audit? (counts it) */
void audit_reset(void);              /* a new input */

/* ---- reading the input ---- */

struct in {
	const uint8_t *p;
	size_t n;
};

static inline unsigned u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static inline unsigned u16(struct in *in)
{
	unsigned lo = u8(in);

	return lo | u8(in) << 8;
}

static inline uint32_t u32(struct in *in)
{
	uint32_t lo = u16(in);

	return lo | (uint32_t)u16(in) << 16;
}

#endif /* FUZZ_HARNESS_H */
