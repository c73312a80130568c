/* SPDX-License-Identifier: MIT */
/*
 * fuzz_pool.c - libFuzzer harness: labyrinth against a reference model.
 *
 * Each input is one story on one thread: the first bytes choose pool
 * parameters (valid or broken on purpose), the rest is a sequence of
 * operations -- allocations of every order and gfp (valid and not), frees
 * (good, wrong order, mid-block, double, wild, unaligned, NULL), bulk calls
 * with NULLs and duplicates, watches, dumps, destroy with pages out,
 * re-init, and calls on dead or never-initialised pools.  A reference
 * model (which pages are taken, every live block, every counter) predicts
 * each result; after every operation labyrinth_stats() and labyrinth_check()
 * must agree with it.  At the end everything is freed, the pool must audit
 * clean and destroy with 0 (or stay initialised for a later input with the
 * same parameters, see "Kept pools").  Any mismatch prints the last
 * operations and aborts, so libFuzzer keeps the input as a crash.
 *
 * What is exact here (one thread: SPEC "Caches and exactness"):
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
 *
 * Environment: FUZZ_TRACE=1 prints every operation as it runs (use it on a
 * crash file); FUZZ_NO_CAPTURE=1 leaves stderr alone (no report checks);
 * FUZZ_REUSE=0 gives every input a fresh pool (see "Kept pools" below).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "labyrinth.h"
/* White box for one thing only: the pool's base address, so that the model
 * can say which addresses are inside the pool before anything is allocated. */
#include "../src/internal.h"

#define PS 4096u
#define MAXP 8192u          /* model capacity in pages (max_pages bound) */
#define MAX_OPS 256
#define MAX_BULK 160
#define NWATCH 8            /* LAB_MAX_WATCHES */
#define MAX_REPORTS 8192

/* ------------------------------------------------------------------ */
/* Failure and trace                                                   */
/* ------------------------------------------------------------------ */

static int real_err = 2;     /* the real stderr (fd 2 is captured per input) */
static int cap_fd = -1;      /* memfd that receives the library's stderr */
static bool capture = true;
static bool tracing;

#define TRACE_RING 48
#define TRACE_ARGS 11       /* the format and up to 10 values */

/*
 * The trace ring keeps each operation's format and raw values and formats
 * them only when they are printed (a mismatch, FUZZ_TRACE): formatting
 * every operation through the sanitizers' printf interceptor cost about
 * 5% of the time.  The values travel as uint64_t (integers and pointers
 * alike) and are converted back to the type their conversion names.
 */
struct trace_ent {
	unsigned n;
	uint64_t v[TRACE_ARGS];
};
static struct trace_ent trace_ring[TRACE_RING];
static unsigned trace_n;

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
static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (n > 0)
		(void)!write(real_err, buf, (size_t)n);
}

/* Format one traced entry into buf. */
static void trace_format(const struct trace_ent *e, char *buf, size_t len)
{
	const char *f = (const char *)(uintptr_t)e->v[0];
	size_t o = 0;
	unsigned a = 1;

	while (*f && o + 1 < len) {
		char spec[8];
		unsigned k = 0;
		uint64_t v;
		int n;

		if (*f != '%' || f[1] == '%') {
			buf[o++] = *f;
			f += *f == '%' ? 2 : 1;
			continue;
		}
		spec[k++] = *f++;
		while (*f && strchr("#zl", *f) && k < sizeof(spec) - 2)
			spec[k++] = *f++;
		spec[k++] = *f;
		spec[k] = 0;
		v = a < e->n ? e->v[a] : 0;
		a++;
		if (*f == 's')
			n = snprintf(buf + o, len - o, spec, (const char *)(uintptr_t)v);
		else if (*f == 'p')
			n = snprintf(buf + o, len - o, spec, (void *)(uintptr_t)v);
		else if (strchr(spec, 'z'))
			n = snprintf(buf + o, len - o, spec, (size_t)v);
		else if (strstr(spec, "ll"))
			n = snprintf(buf + o, len - o, spec, (unsigned long long)v);
		else if (strchr(spec, 'l'))
			n = snprintf(buf + o, len - o, spec, (long)v);
		else if (*f == 'd')
			n = snprintf(buf + o, len - o, spec, (int)v);
		else
			n = snprintf(buf + o, len - o, spec, (unsigned)v);
		if (*f)
			f++;
		if (n < 0)
			break;
		o += (size_t)n < len - o ? (size_t)n : len - o - 1;
	}
	buf[o] = 0;
}

NOCOV static void trace_raw(unsigned n, const uint64_t *v)
{
	struct trace_ent *e = &trace_ring[trace_n++ % TRACE_RING];
	unsigned i;

	e->n = n;
	for (i = 0; i < n && i < TRACE_ARGS; i++)
		e->v[i] = v[i];
	if (tracing) {
		char line[256];

		trace_format(e, line, sizeof(line));
		say("  op: %s\n", line);
	}
}

/* Never called: lets the compiler check each trace's format. */
static void trace_check(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void trace_check(const char *fmt, ...)
{
	(void)fmt;
}

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

static void dump_captured(void)
{
	char buf[2048];
	off_t end;
	ssize_t n;

	if (cap_fd < 0 || !capture)
		return;
	end = lseek(cap_fd, 0, SEEK_END);
	if (end <= 0)
		return;
	lseek(cap_fd, end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0, SEEK_SET);
	n = read(cap_fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = 0;
		say("fuzz_pool: library stderr (tail):\n%s", buf);
	}
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...)
{
	char buf[512];
	unsigned i, first = trace_n > TRACE_RING ? trace_n - TRACE_RING : 0;
	va_list ap;

	if (capture)
		dup2(real_err, 2);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	say("fuzz_pool: last operations:\n");
	for (i = first; i < trace_n; i++) {
		char line[256];

		trace_format(&trace_ring[i % TRACE_RING], line, sizeof(line));
		say("  #%u %s\n", i, line);
	}
	dump_captured();
	say("fuzz_pool: MISMATCH: %s\n", buf);
	abort();
}

#define EXPECT(cond, ...)                                                       \
	do {                                                                    \
		if (!(cond))                                                    \
			fail(__VA_ARGS__);                                      \
	} while (0)

/* ------------------------------------------------------------------ */
/* Input decoding                                                      */
/* ------------------------------------------------------------------ */

struct in {
	const uint8_t *p;
	size_t n;
};

static unsigned u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static unsigned u16(struct in *in)
{
	unsigned lo = u8(in);

	return lo | u8(in) << 8;
}

static uint32_t u32(struct in *in)
{
	uint32_t lo = u16(in);

	return lo | (uint32_t)u16(in) << 16;
}

/* ------------------------------------------------------------------ */
/* The model                                                           */
/* ------------------------------------------------------------------ */

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

struct report {
	const char *what; /* "free" or "alloc" */
	const void *addr;
	const char *pool; /* the pool's name */
};

static struct model {
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
} M;

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
static unsigned since_check;     /* steps verified since the last audit */
static bool check_due;           /* the next verify() audits */
static uint64_t n_steps, n_checks;

static void audit_soon(void)
{
	check_due = true;
}

/* A bad free of an address inside the pool reaches the page states (a
 * double free, a tail, the wrong order): audit right after it.  One that
 * is rejected on its address alone (NULL, outside, unaligned) does not. */
static void audit_bad_free(const void *addr)
{
	uintptr_t a = (uintptr_t)addr, b = (uintptr_t)M.base;

	if (a >= b && a - b < M.total * PS)
		audit_soon();
}

static struct report reports[MAX_REPORTS];
static unsigned nreports;
static bool reports_overflow;

/*
 * Kept pools.  Mapping and locking a fresh pool (mmap, mlock or
 * MADV_POPULATE_WRITE of every page, and munmap at the end) cost about a
 * third of each input, so a pool that ends an input intact -- every page
 * free, never grown, no watch registered -- stays initialised in its slot,
 * and the next input that asks for the very same parameters starts on it
 * instead of on a fresh init.  Its model starts from its real state: the
 * counters continue from the values the previous input verified (they
 * must still read the same), every page is free, and the order-n rule
 * does not depend on where the free pages sit.  Inits after the first in
 * an input, broken parameters and NULL pools always call labyrinth_init;
 * a kept pool is destroyed (and checked) when it is evicted.
 */
#define NSLOT 128           /* pools kept between inputs */
#define KEEP_PAGES 131072   /* at most this many pages in kept pools (512 MiB) */

struct pool_key {
	size_t nr, max, reserve;
	unsigned flags;
	long wait_ms;
	const char *name;   /* the name the pool reports */
};

static struct slot {
	labyrinth_t lab;
	struct pool_key key;
	bool kept;          /* idle between inputs, every page free */
	uint64_t last;      /* input that last used it */
	unsigned served;    /* inputs it served */
	struct labyrinth_stats st; /* its stats when it was kept */
} slots[NSLOT + 1];         /* one more: a fresh init always finds a slot */

static labyrinth_t *L;           /* the pool under test: &cur->lab */
static struct slot *cur;
static bool reuse = true;        /* FUZZ_REUSE=0: a fresh pool per input */
static bool keep_locked;         /* may keep pools that are mlocked */
static uint64_t n_inputs, n_reused, n_fresh, n_evicted, n_watched, n_grown;
static labyrinth_t dead_lab;     /* initialised and destroyed once */
static int stack_anchor;

static const char *const names[8] = { NULL, "f0", "rx", "tx-ring", "pool-3",
				      "a", "fuzz", "0123456789abcdefghijklmnopqrstu" };


NOCOV static bool gfp_ok(lab_gfp_t g)
{
	unsigned t = g & 7u;

	return !(g & ~(7u | LAB_GFP_ZERO | LAB_GFP_NOWARN)) && t && !(t & (t - 1));
}

static void expect_report(const char *what, const void *addr)
{
	if (!capture || !(M.flags & LAB_POOL_DEBUG))
		return;
	if (nreports == MAX_REPORTS) {
		reports_overflow = true;
		return;
	}
	reports[nreports].what = what;
	reports[nreports].addr = addr;
	reports[nreports].pool = M.name;
	nreports++;
}

/* base + off without pointer arithmetic (base may be NULL or stale) */
static void *at(long long off)
{
	return (void *)((uintptr_t)M.base + (uintptr_t)off);
}

static size_t idx_of(const void *a)
{
	return (size_t)((const unsigned char *)a - M.base) / PS;
}

/* Is the aligned run of 2^order pages at i entirely free in the model? */
NOCOV static bool run_free(size_t i, unsigned order)
{
	size_t j, n = (size_t)1 << order;

	for (j = 0; j < n; j++)
		if (M.st[i + j] != ST_FREE)
			return false;
	return true;
}

NOCOV static bool run_exists(unsigned order)
{
	size_t n = (size_t)1 << order, i;

	for (i = 0; i + n <= M.total; i += n)
		if (run_free(i, order))
			return true;
	return false;
}

/* Could an allocation of 2^order pages leaving floor free pages succeed? */
NOCOV static bool fits(unsigned order, size_t floor)
{
	size_t n = (size_t)1 << order;

	if (M.nfree < floor || M.nfree - floor < n)
		return false;
	return order == 0 || run_exists(order);
}

/* The allocation took n pages with the model's free count at before. */
NOCOV static void account_take(size_t n)
{
	size_t before = M.nfree, after = before - n;
	unsigned i;

	if (after < M.reserve)
		M.resv += before > M.reserve ? M.reserve - after : n;
	for (i = 0; i < M.nwatch; i++) {
		if (before >= M.w[i].low && after < M.w[i].low) {
			M.events++;
			if (M.w[i].fd >= 0)
				M.w[i].pending++;
		}
	}
	M.nfree = after;
}

NOCOV static void fill_pattern(unsigned char *a, unsigned order)
{
	size_t i, n = (size_t)1 << order;

	for (i = 0; i < n; i++) {
		uint64_t tag = (uint64_t)(uintptr_t)(a + i * PS) ^ 0xa5a5a5a5a5a5a5a5ull;

		memcpy(a + i * PS, &tag, sizeof(tag));
		memcpy(a + i * PS + PS - sizeof(tag), &tag, sizeof(tag));
	}
}

static const unsigned char zero_page[PS];

/* memcmp, page by page: one range check under ASan, not one per word. */
NOCOV static bool all_zero(const unsigned char *a, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += PS)
		if (memcmp(a + i, zero_page, PS) != 0)
			return false;
	return true;
}

NOCOV static void mark_block(size_t idx, unsigned order)
{
	M.st[idx] = (uint8_t)(ST_HEAD | order);
	memset(&M.st[idx + 1], ST_TAIL, ((size_t)1 << order) - 1);
}

/* A block came back from the library: check it and record it. */
NOCOV static void take_block(void *ret, unsigned order, lab_gfp_t gfp, const char *call)
{
	unsigned char *a = ret;
	size_t n = (size_t)1 << order, i, idx;

	EXPECT(((uintptr_t)a & (n * PS - 1)) == 0,
	       "%s: order-%u block %p not aligned to its size", call, order, ret);
	EXPECT(a >= M.base && a < M.base + M.total * PS,
	       "%s: block %p outside the pool [%p, +%zu pages)", call, ret, (void *)M.base,
	       M.total);
	idx = idx_of(a);
	EXPECT(idx + n <= M.total, "%s: block %p order %u runs past the pool end", call, ret,
	       order);
	if (!run_free(idx, order))
		for (i = 0; i < n; i++)
			EXPECT(M.st[idx + i] == ST_FREE,
			       "%s: block %p order %u overlaps a live block at page %zu", call,
			       ret, order, idx + i);
	EXPECT(labyrinth_owns(L, a) == 1, "%s: owns(%p) != 1 for a fresh block", call, ret);
	if (gfp & LAB_GFP_ZERO)
		EXPECT(all_zero(a, n * PS), "%s: LAB_GFP_ZERO block %p order %u is not zero",
		       call, ret, order);
	mark_block(idx, order);
	M.blk_of[idx] = (uint32_t)M.nblocks;
	M.blocks[M.nblocks].addr = a;
	M.blocks[M.nblocks].order = order;
	M.nblocks++;
	M.allocs++;
	account_take(n);
	fill_pattern(a, order);
}

NOCOV static void drop_block(size_t idx)
{
	unsigned order = M.st[idx] & 0x0fu;
	size_t n = (size_t)1 << order;
	uint32_t b = M.blk_of[idx], last = (uint32_t)M.nblocks - 1;

	memset(&M.st[idx], ST_FREE, n);
	if (b != last) {
		M.blocks[b] = M.blocks[last];
		M.blk_of[idx_of(M.blocks[b].addr)] = b;
	}
	M.nblocks--;
	M.nfree += n;
	M.frees++;
	M.freed_ring[M.freed_n++ % 16] = M.base + idx * PS;
}

/* What a free of addr with order must return (NULL: 0, not counted). */
NOCOV static int expect_free(const void *addr, unsigned order)
{
	uintptr_t a = (uintptr_t)addr, b = (uintptr_t)M.base;
	size_t idx;

	if (!addr)
		return 0;
	if (a < b || a - b >= M.total * PS || (a - b) % PS)
		return -EINVAL;
	idx = (a - b) / PS;
	if (M.st[idx] == ST_FREE)
		return -EALREADY;
	if ((M.st[idx] & ST_HEAD) && order <= LAB_MAX_ORDER && (M.st[idx] & 0x0fu) == order)
		return 0;
	return -EINVAL;
}

/* The order of the live block that starts at a, or -1. */
static int head_order(const void *a)
{
	uintptr_t x = (uintptr_t)a, b = (uintptr_t)M.base;

	if (!M.live || !a || x < b || x - b >= M.total * PS || (x - b) % PS)
		return -1;
	return (M.st[(x - b) / PS] & ST_HEAD) ? (int)(M.st[(x - b) / PS] & 0x0fu) : -1;
}

/* Apply a free's result to the model after checking it. */
NOCOV static void settle_free(const void *addr, unsigned order, int got, const char *call)
{
	int want = expect_free(addr, order);

	EXPECT(got == want, "%s(%p, order %u) = %d, model says %d", call, addr, order, got, want);
	if (!addr)
		return;
	if (want == 0) {
		drop_block(idx_of(addr));
	} else {
		M.bad++;
		expect_report("free", addr);
		audit_bad_free(addr);
	}
}

/* ------------------------------------------------------------------ */
/* Checks against the library's own view                               */
/* ------------------------------------------------------------------ */

NOCOV static void get_stats(struct labyrinth_stats *st)
{
	int r = labyrinth_stats(L, st);

	EXPECT(r == 0, "labyrinth_stats = %d on a live pool", r);
}

/* The library grew the pool: the new pages are free in the model. */
static void learn_growth(uint64_t before_grows)
{
	struct labyrinth_stats st;

	get_stats(&st);
	EXPECT(st.pages_total >= M.total && st.pages_total <= M.max,
	       "pages_total %llu outside [%zu, %zu]", (unsigned long long)st.pages_total,
	       M.total, M.max);
	if (st.pages_total == M.total) {
		EXPECT(st.grows == before_grows, "grows moved (%llu -> %llu) without new pages",
		       (unsigned long long)before_grows, (unsigned long long)st.grows);
		return;
	}
	EXPECT(st.grows > before_grows, "pool grew to %llu pages but grows stayed %llu",
	       (unsigned long long)st.pages_total, (unsigned long long)st.grows);
	audit_soon(); /* new pages, new metadata */
	memset(&M.st[M.total], ST_FREE, st.pages_total - M.total);
	M.nfree += st.pages_total - M.total;
	M.total = st.pages_total;
	M.grows = st.grows;
}

/* Each open watch's eventfd holds exactly the model's pending signals.
 * One poll() finds the readable ones (an eventfd is readable iff its
 * counter is not 0) instead of one read() per watch after every step. */
NOCOV static void check_watches(void)
{
	struct pollfd pfd[NWATCH];
	unsigned i, n = 0;
	int r;

	for (i = 0; i < M.nwatch; i++) {
		if (M.w[i].fd < 0)
			continue;
		pfd[n].fd = M.w[i].fd;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		n++;
	}
	if (!n)
		return;
	/* libFuzzer's SIGALRM (its -timeout timer) may interrupt even a
	 * poll that does not wait. */
	do
		r = poll(pfd, n, 0);
	while (r < 0 && errno == EINTR);
	EXPECT(r >= 0, "poll(watch fds) failed: %s", strerror(errno));
	for (i = 0, n = 0; i < M.nwatch; i++) {
		uint64_t v = 0;

		if (M.w[i].fd < 0)
			continue;
		EXPECT(!(pfd[n].revents & ~POLLIN), "watch %u: poll revents %#x", i,
		       (unsigned)pfd[n].revents);
		if (pfd[n++].revents & POLLIN) {
			ssize_t got = read(M.w[i].fd, &v, sizeof(v));

			EXPECT(got == (ssize_t)sizeof(v), "read(readable watch fd) = %zd: %s", got,
			       strerror(errno));
		}
		EXPECT(v == M.w[i].pending,
		       "watch %u (low %zu): eventfd counted %llu signals, model %llu", i,
		       M.w[i].low, (unsigned long long)v, (unsigned long long)M.w[i].pending);
		M.w[i].pending = 0;
	}
}

NOCOV static void verify(void)
{
	struct labyrinth_stats st;
	uint64_t sum = 0;
	unsigned o;
	int r;

	if (!M.live)
		return;
	n_steps++;
	get_stats(&st);
#define SAME(field, want)                                                       \
	EXPECT(st.field == (uint64_t)(want), "stats." #field " = %llu, model %llu", \
	       (unsigned long long)st.field, (unsigned long long)(want))
	SAME(page_size, PS);
	SAME(pages_total, M.total);
	SAME(pages_free, M.nfree);
	SAME(pages_inuse, M.total - M.nfree);
	SAME(reserve_pages, M.reserve);
	SAME(max_pages, M.max);
	SAME(allocs, M.allocs);
	SAME(frees, M.frees);
	SAME(alloc_failed, M.failed);
	SAME(reserve_allocs, M.resv);
	SAME(bad_frees, M.bad);
	SAME(grows, M.grows);
	SAME(watch_events, M.events);
	if (M.wait_ms == 0)
		SAME(waits, 0);
	else
		M.waits = st.waits;
#undef SAME
	for (o = 0; o <= LAB_MAX_ORDER; o++)
		sum += st.free_blocks[o] << o;
	EXPECT(sum == M.nfree, "free_blocks add up to %llu pages, model has %zu free",
	       (unsigned long long)sum, M.nfree);
	check_watches();
	if (!check_due && ++since_check < CHECK_EVERY)
		return;
	check_due = false;
	since_check = 0;
	n_checks++;
	r = labyrinth_check(L);
	EXPECT(r == 0, "labyrinth_check = %d", r);
}

/* Every line the library wrote to stderr this input, against expectations. */
static void verify_reports(void)
{
	static char buf[1 << 20];
	char want[64];
	off_t end;
	ssize_t n;
	char *line, *nl;
	unsigned i = 0;

	if (!capture)
		return;
	end = lseek(cap_fd, 0, SEEK_END);
	if (end > (off_t)sizeof(buf) - 1 || reports_overflow)
		goto reset; /* too much to compare; the counters were checked */
	lseek(cap_fd, 0, SEEK_SET);
	n = end > 0 ? read(cap_fd, buf, (size_t)end) : 0;
	if (n < 0)
		n = 0;
	buf[n] = 0;
	for (line = buf; *line; line = nl + 1, i++) {
		nl = strchr(line, '\n');
		if (!nl)
			fail("library stderr ends without a newline: '%s'", line);
		*nl = 0;
		if (i >= nreports)
			fail("unexpected line on stderr: '%s'", line);
		if (!strstr(line, reports[i].what[0] == 'f' ? "labyrinth_free" :
				  reports[i].what[0] == 'd' ? "labyrinth_destroy: " :
							      "_alloc_")) /* any allocation call */
			fail("report %u does not name the call (%s): '%s'", i, reports[i].what, line);
		if (reports[i].addr) {
			snprintf(want, sizeof(want), "%lx", (unsigned long)(uintptr_t)reports[i].addr);
			if (!strstr(line, want))
				fail("report %u does not name address %s: '%s'", i, want, line);
		}
		if (!strstr(line, reports[i].pool))
			fail("report %u does not name the pool '%s': '%s'", i, reports[i].pool,
			     line);
	}
	if (i != nreports)
		fail("expected %u report lines on stderr, got %u", nreports, i);
reset:
	if (ftruncate(cap_fd, 0) != 0)
		fail("ftruncate(capture) failed");
	lseek(cap_fd, 0, SEEK_SET);
	nreports = 0;
	reports_overflow = false;
}

/* ------------------------------------------------------------------ */
/* Decoding helpers                                                    */
/* ------------------------------------------------------------------ */

static lab_gfp_t dec_gfp(struct in *in)
{
	unsigned b = u8(in);
	static const lab_gfp_t types[8] = { LAB_GFP_ATOMIC, LAB_GFP_NOWAIT, LAB_GFP_KERNEL,
					    LAB_GFP_ATOMIC, LAB_GFP_NOWAIT, 0,
					    LAB_GFP_ATOMIC | LAB_GFP_NOWAIT, 0 };
	lab_gfp_t g = types[b & 7];

	if ((b & 7) == 7)
		g = u16(in) & 0x3ffu;
	if (b & 0x08)
		g |= LAB_GFP_ZERO;
	if (b & 0x10)
		g |= LAB_GFP_NOWARN;
	if ((b >> 5) == 7)
		g |= 1u << (3 + u8(in) % 29); /* may hit a valid bit too */
	return g;
}

static unsigned dec_order(struct in *in)
{
	static const unsigned odd[6] = { 11, 12, 31, 32, 0x80, 0xffffffffu };
	unsigned b = u8(in);

	if (b < 150)
		return 0;
	if (b < 250)
		return 1 + (b - 150) % 10;
	return odd[b - 250];
}

/* An address to free: live, mid-block, recently freed, random, wild... */
static void *pick_addr(struct in *in, bool order0_hint)
{
	unsigned kind = u8(in) % 10, r = u16(in);
	size_t i;

	switch (kind) {
	case 0: case 1: case 2:
		if (!M.nblocks)
			return NULL;
		if (order0_hint) {
			for (i = 0; i < M.nblocks; i++) {
				struct block *b = &M.blocks[(r + i) % M.nblocks];

				if (!b->order)
					return b->addr;
			}
		}
		return M.blocks[r % M.nblocks].addr;
	case 3: /* mid-block */
		for (i = 0; i < M.nblocks; i++) {
			struct block *b = &M.blocks[(r + i) % M.nblocks];

			if (b->order)
				return b->addr + (1 + u8(in) % ((1u << b->order) - 1)) * PS;
		}
		return M.nblocks ? M.blocks[r % M.nblocks].addr : NULL;
	case 4: /* recently freed: double free, or reused since */
		if (!M.freed_n)
			return NULL;
		return M.freed_ring[(M.freed_n - 1 - r % (M.freed_n < 16 ? M.freed_n : 16)) % 16];
	case 5: /* any page of the reserved range and a little beyond */
		return at((long long)(r % (M.max + 8)) * PS);
	case 6: /* unaligned */
		if (M.nblocks)
			return M.blocks[r % M.nblocks].addr + 1 + u16(in) % (PS - 1);
		return at(8);
	case 7: { /* wild */
		switch (r % 6) {
		case 0: return at(-(long long)PS);
		case 1: return at((long long)(M.max * PS));
		case 2: return &stack_anchor;
		case 3: return (void *)(uintptr_t)1;
		case 4: return (void *)(~(uintptr_t)0 & ~(uintptr_t)(PS - 1));
		default: return (void *)&M;
		}
	}
	case 8:
		return NULL;
	default: /* the last block handed out */
		return M.nblocks ? M.blocks[M.nblocks - 1].addr : NULL;
	}
}

/* ------------------------------------------------------------------ */
/* Pool life cycle                                                     */
/* ------------------------------------------------------------------ */

static void model_reset_pool(void)
{
	unsigned i;

	for (i = 0; i < M.nwatch; i++)
		if (M.w[i].fd >= 0)
			close(M.w[i].fd);
	M.nwatch = 0;
	M.live = false;
	M.nblocks = 0;
	M.freed_n = 0;
}

/* Decode parameters; *bad says whether init must fail with EINVAL. */
static void dec_params(struct in *in, struct labyrinth_params *p, bool *bad, bool *null_lab,
		       bool *null_params)
{
	unsigned b = u8(in), sel, fl;
	size_t nr, eff;

	memset(p, 0, sizeof(*p));
	*bad = false;
	*null_lab = false;
	*null_params = false;
	p->name = names[b & 7];
	sel = (b >> 3) & 3;
	switch (sel) {
	case 0: nr = 16 + u8(in); break;
	case 1: nr = (size_t)64 << (u8(in) % 6); break;
	case 2: nr = 1 + u16(in) % 2048; break;
	default: nr = 0; break; /* default: 1024 */
	}
	p->nr_pages = nr;
	eff = nr ? nr : 1024;
	switch (u8(in) % 4) {
	case 0: p->max_pages = 0; break;
	case 1: p->max_pages = eff + u16(in) % 4096; break;
	case 2: p->max_pages = eff + u8(in) % 8; break;
	default: p->max_pages = eff + 1024 + u8(in) % 3; break;
	}
	sel = u8(in);
	switch (sel % 4) {
	case 0: p->reserve_pages = 0; break;
	case 1: p->reserve_pages = u8(in) % eff; break;
	case 2: p->reserve_pages = eff - 1 - u8(in) % (eff < 4 ? eff : 4); break;
	default: p->reserve_pages = u16(in) % eff; break;
	}
	/* LAB_POOL_DEBUG in one pool of eight (its bit and two clear low
	 * bits), not one in two: poisoning every page handed out or back,
	 * and every page at init, was a fifth of the time (with a UBSan
	 * check and a coverage counter on every word, which fuzz/run.sh now
	 * leaves out: fuzz/uninstrumented.txt).  The seeds' flags bytes
	 * (0x10, 0x1c) still mean DEBUG. */
	fl = u8(in);
	p->flags = fl & (LAB_POOL_DEBUG | LAB_POOL_NOLOCK | LAB_POOL_DUMPABLE);
	if (fl & 3u)
		p->flags &= ~(unsigned)LAB_POOL_DEBUG;
	p->wait_ms = (sel >> 2) == 63 ? 1 : 0; /* rarely: a 1 ms KERNEL wait */
	if ((b >> 5) == 0 && (b & 7) == 0) {
		*null_params = true; /* defaults */
		return;
	}
	if ((b >> 5) != 7)
		return;
	/* Break one rule (sometimes two): init must say EINVAL. */
	*bad = true;
	switch (u8(in) % 7) {
	case 0: {
		size_t ps = u32(in);

		if (ps == 0 || ps == LAB_PAGE_4K || ps == LAB_PAGE_2M || ps == LAB_PAGE_1G)
			ps = 8192;
		p->page_size = ps;
		break;
	}
	case 1: p->reserve_pages = eff + u8(in) % 4; break;
	case 2:
		if (eff < 2)
			p->reserve_pages = eff;
		else
			p->max_pages = 1 + u8(in) % (eff - 1);
		break;
	case 3: p->flags |= 1u << (5 + u8(in) % 27); break;
	case 4: p->flags |= LAB_POOL_SECRET | LAB_POOL_HUGETLB; break;
	case 5: *null_lab = true; *bad = false; break;
	default: p->page_size = 12345; p->reserve_pages = eff; break;
	}
	if (*null_lab)
		*bad = true;
}

static void calls_on_invalid(labyrinth_t *l, const char *which);

static bool same_key(const struct pool_key *a, const struct pool_key *b)
{
	return a->nr == b->nr && a->max == b->max && a->reserve == b->reserve &&
	       a->flags == b->flags && a->wait_ms == b->wait_ms && a->name == b->name;
}

/* Destroy a kept pool (it must be idle) to make room. */
static void evict(struct slot *s)
{
	int r;

	trace("evict a kept pool (%zu pages, served %u inputs)", s->key.nr, s->served);
	s->kept = false;
	r = labyrinth_destroy(&s->lab);
	EXPECT(r == 0, "destroy of a kept idle pool = %d", r);
	calls_on_invalid(&s->lab, "destroyed pool");
	n_evicted++;
}

/* A slot for a fresh init: a free one (there is always one), zeroed. */
static struct slot *free_slot(void)
{
	unsigned i;

	for (i = 0; i <= NSLOT; i++) {
		if (!slots[i].kept) {
			memset(&slots[i].lab, 0, sizeof(slots[i].lab));
			slots[i].served = 0;
			return &slots[i];
		}
	}
	fail("no free pool slot");
}

/* The model of an idle pool with key k (the counters are the caller's). */
static void model_start(const struct pool_key *k)
{
	model_reset_pool();
	M.live = true;
	M.total = M.nr_init = k->nr;
	M.max = k->max;
	M.reserve = k->reserve;
	M.flags = k->flags;
	M.wait_ms = k->wait_ms;
	M.name = k->name;
	M.nfree = M.total;
	M.base = ((struct lab_pool *)L->lab_private_core)->base;
	memset(M.st, 0, sizeof(M.st));
}

/* Start on a kept pool with key k, if there is one. */
static bool adopt(const struct pool_key *k)
{
	struct labyrinth_stats st;
	struct slot *s = NULL;
	unsigned i;

	for (i = 0; i <= NSLOT && !s; i++)
		if (slots[i].kept && same_key(&slots[i].key, k))
			s = &slots[i];
	if (!s)
		return false;
	s->kept = false;
	cur = s;
	L = &s->lab;
	model_start(k);
	M.served = s->served;
	/* Nothing ran on it since the previous input verified these. */
	get_stats(&st);
#define KEPT(field)                                                             \
	EXPECT(st.field == s->st.field, "kept pool: stats." #field " = %llu, was %llu", \
	       (unsigned long long)st.field, (unsigned long long)s->st.field)
	KEPT(pages_total);
	KEPT(pages_free);
	KEPT(allocs);
	KEPT(frees);
	KEPT(alloc_failed);
	KEPT(reserve_allocs);
	KEPT(bad_frees);
	KEPT(grows);
	KEPT(watch_events);
	KEPT(waits);
#undef KEPT
	M.allocs = st.allocs;
	M.frees = st.frees;
	M.failed = st.alloc_failed;
	M.resv = st.reserve_allocs;
	M.bad = st.bad_frees;
	M.grows = st.grows;
	M.events = st.watch_events;
	M.waits = st.waits;
	n_reused++;
	return true;
}

/* Decode parameters and init (the first init of an input may instead
 * start on a kept pool with the same parameters). */
static void do_init(struct in *in, bool first)
{
	struct labyrinth_params p;
	struct pool_key k;
	bool bad, null_lab, null_params, reused;
	int r;

	dec_params(in, &p, &bad, &null_lab, &null_params);
	k.nr = null_params || !p.nr_pages ? 1024 : p.nr_pages;
	k.max = null_params || !p.max_pages ? k.nr : p.max_pages;
	k.reserve = null_params ? 0 : p.reserve_pages;
	k.flags = null_params ? 0 : p.flags;
	k.wait_ms = null_params ? 0 : p.wait_ms;
	k.name = null_params || !p.name ? "labyrinth" : p.name;
	reused = first && reuse && !bad && !null_lab && adopt(&k);
	trace("init nr=%zu max=%zu reserve=%zu flags=%#x wait=%ld name=%s%s%s%s%s", p.nr_pages,
	      p.max_pages, p.reserve_pages, p.flags, p.wait_ms, p.name ? p.name : "(null)",
	      bad ? " [bad]" : "", null_lab ? " [NULL lab]" : "",
	      null_params ? " [NULL params]" : "", reused ? " [kept pool]" : "");
	/* A new pool, or one that a failed init must leave intact, audits; a
	 * kept pool was audited at the end of its last input and its stats
	 * still read the same (adopt()). */
	if (!reused)
		audit_soon();
	if (reused) {
		trace("  (the kept pool served %u inputs before; FUZZ_REUSE=0 starts fresh)",
		      M.served);
		goto check;
	}
	if (null_lab) {
		r = labyrinth_init(NULL, &p);
		EXPECT(r == -EINVAL, "labyrinth_init(NULL, ...) = %d, want -EINVAL", r);
		return;
	}
	r = labyrinth_init(L, null_params ? NULL : &p);
	if (M.live) {
		EXPECT(r < 0, "labyrinth_init on a live pool = %d, want an error", r);
		return;
	}
	if (bad) {
		EXPECT(r == -EINVAL, "labyrinth_init with broken params = %d, want -EINVAL", r);
		EXPECT(labyrinth_page_size(L) == 0, "failed init left a live pool");
		return;
	}
	EXPECT(r == 0, "labyrinth_init = %d (%s)", r, strerror(-r));
	n_fresh++;
	model_start(&k);
	M.served = 0;
	M.allocs = M.frees = M.failed = M.resv = M.bad = M.grows = M.waits = M.events = 0;
check:
	EXPECT(labyrinth_page_size(L) == PS, "page size %zu", labyrinth_page_size(L));
	EXPECT(labyrinth_owns(L, M.base) == 1 && labyrinth_owns(L, M.base - 1) == 0 &&
	       labyrinth_owns(L, M.base + M.total * PS - 1) == 1 &&
	       labyrinth_owns(L, M.base + M.total * PS) == 0,
	       "labyrinth_owns disagrees with the pool's range");
	EXPECT(((uintptr_t)M.base & ((PS << LAB_MAX_ORDER) - 1)) == 0,
	       "pool base %p not aligned to a max-order block", (void *)M.base);
}

/* Every call on a pool that is not live: EINVAL (or 0 / NULL). */
static void calls_on_invalid(labyrinth_t *l, const char *which)
{
	struct labyrinth_stats st;
	void *pg[2] = { NULL, NULL };
	char fbuf[64];
	FILE *f;
	int r;

	errno = 0;
	EXPECT(!labyrinth_alloc_pages(l, LAB_GFP_ATOMIC, 0) && errno == EINVAL,
	       "%s: alloc_pages did not fail with EINVAL", which);
	errno = 0;
	EXPECT(!labyrinth_alloc_page(l, LAB_GFP_NOWAIT) && errno == EINVAL,
	       "%s: alloc_page did not fail with EINVAL", which);
	errno = 0;
	EXPECT(!labyrinth_void_alloc_page_gfp_atomic_exclusive(l) && errno == EINVAL,
	       "%s: the exclusive alloc did not fail with EINVAL", which);
	errno = 0;
	EXPECT(labyrinth_alloc_bulk(l, LAB_GFP_ATOMIC, pg, 2) == 0 && errno == EINVAL,
	       "%s: alloc_bulk did not fail with EINVAL", which);
	r = labyrinth_free_pages(l, M.base ? M.base : (void *)&stack_anchor, 0);
	EXPECT(r == -EINVAL, "%s: free_pages = %d", which, r);
	r = labyrinth_free_page(l, NULL);
	EXPECT(r == -EINVAL || r == 0, "%s: free_page(NULL) = %d", which, r);
	pg[0] = &stack_anchor;
	errno = 0;
	EXPECT(labyrinth_free_bulk(l, pg, 2) == 0 && errno == EINVAL,
	       "%s: free_bulk did not fail with EINVAL", which);
	EXPECT(labyrinth_stats(l, &st) == -EINVAL, "%s: stats", which);
	EXPECT(labyrinth_check(l) == -EINVAL, "%s: check", which);
	EXPECT(labyrinth_watch(l, 1) == -EINVAL, "%s: watch", which);
	EXPECT(labyrinth_owns(l, &stack_anchor) == 0, "%s: owns", which);
	EXPECT(labyrinth_page_size(l) == 0, "%s: page_size", which);
	EXPECT(labyrinth_destroy(l) == -EINVAL, "%s: destroy", which);
	f = fmemopen(fbuf, sizeof(fbuf), "w");
	if (f) {
		EXPECT(labyrinth_dump(l, f) == -EINVAL, "%s: dump", which);
		fclose(f);
	}
}

/* ------------------------------------------------------------------ */
/* Operations                                                          */
/* ------------------------------------------------------------------ */

/* One allocation through one of the three entry points; verified. */
NOCOV static void do_alloc(unsigned api, lab_gfp_t gfp, unsigned order)
{
	static const char *const apis[3] = { "alloc_pages", "alloc_page", "exclusive" };
	size_t floor;
	uint64_t grows_before;
	void *r;
	bool valid, ok;
	int e;

	if (api == 1)
		order = 0;
	if (api == 2) {
		order = 0;
		gfp = LAB_GFP_ATOMIC;
	}
	trace("%s gfp=%#x order=%u", apis[api], gfp, order);
	valid = gfp_ok(gfp) && order <= LAB_MAX_ORDER;
	errno = 0;
	r = api == 0 ? labyrinth_alloc_pages(L, gfp, order) :
	    api == 1 ? labyrinth_alloc_page(L, gfp) :
		       labyrinth_void_alloc_page_gfp_atomic_exclusive(L);
	e = errno;
	if (!M.live || !valid) {
		EXPECT(!r && e == EINVAL, "%s(gfp %#x, order %u) = %p errno %d, want NULL/EINVAL",
		       apis[api], gfp, order, r, e);
		return;
	}
	floor = (gfp & LAB_GFP_ATOMIC) ? 0 : M.reserve;
	ok = fits(order, floor);
	grows_before = M.grows;
	/* KERNEL grows only when the request does not fit (an unexpected
	 * growth shows in pages_total at the next verify()). */
	if ((gfp & LAB_GFP_KERNEL) && !ok) {
		size_t old_total = M.total;

		learn_growth(grows_before);
		if (M.total > old_total)
			ok = fits(order, floor);
		if (!ok)
			EXPECT(M.total == M.max,
			       "KERNEL failed at %zu pages, below max_pages %zu", M.total, M.max);
	}
	if (ok != (r != NULL)) {
		fail("%s(gfp %#x, order %u) = %p (errno %d); model: free %zu reserve %zu total %zu"
		     " run-exists %d -> expected %s",
		     apis[api], gfp, order, r, e, M.nfree, M.reserve, M.total,
		     order ? (int)run_exists(order) : -1, ok ? "success" : "failure");
	}
	if (!r) {
		EXPECT(e == ENOMEM, "failed allocation set errno %d, want ENOMEM", e);
		M.failed++;
		if (!(gfp & LAB_GFP_NOWARN))
			expect_report("alloc", NULL);
		return;
	}
	take_block(r, order, gfp, apis[api]);
}

NOCOV static void do_free(void *addr, unsigned order, int api)
{
	int r;

	trace("%s(%p [page %ld], order %u)", api ? "free_page" : "free_pages", addr,
	      addr && M.base ? (long)(((unsigned char *)addr - M.base) / (long)PS) : -1L, order);
	if (api)
		order = 0;
	r = api ? labyrinth_free_page(L, addr) : labyrinth_free_pages(L, addr, order);
	if (!M.live) {
		EXPECT(r == -EINVAL || (!addr && r == 0), "free on a dead pool = %d", r);
		return;
	}
	settle_free(addr, order, r, api ? "labyrinth_free_page" : "labyrinth_free_pages");
}

static void do_alloc_bulk(struct in *in)
{
	static void *pages[MAX_BULK + 8];
	lab_gfp_t gfp = dec_gfp(in);
	unsigned b = u8(in), n = b < 200 ? b % 80 : u8(in) % MAX_BULK, got, i, want = 0, first = 0;
	bool null_array = u8(in) == 0xff, valid = gfp_ok(gfp);
	size_t floor, old_total;
	int e;

	trace("alloc_bulk gfp=%#x n=%u%s", gfp, n, null_array ? " pages=NULL" : "");
	errno = 0;
	got = labyrinth_alloc_bulk(L, gfp, null_array ? NULL : pages, n);
	e = errno;
	if (!M.live || !valid || (null_array && n)) {
		EXPECT(got == 0 && e == EINVAL, "alloc_bulk (invalid) = %u errno %d", got, e);
		return;
	}
	if (null_array) {
		EXPECT(got == 0, "alloc_bulk(NULL, 0) = %u", got);
		return;
	}
	floor = (gfp & LAB_GFP_ATOMIC) ? 0 : M.reserve;
	old_total = M.total;
	if (gfp & LAB_GFP_KERNEL) {
		size_t avail_before = M.nfree > floor ? M.nfree - floor : 0;

		/* The free pages go first, then the pool grows for the rest:
		 * a watch sees the count fall, climb with the growth and fall
		 * again (two crossings of one mark are right). */
		first = got < avail_before ? got : (unsigned)avail_before;
		for (i = 0; i < first; i++)
			take_block(pages[i], 0, gfp, "alloc_bulk");
		learn_growth(M.grows);
		if (M.total > old_total)
			EXPECT(n > avail_before, "alloc_bulk KERNEL grew although %zu pages were free",
			       avail_before);
	}
	want = first + (M.nfree > floor ? (unsigned)(M.nfree - floor < n - first ?
						    M.nfree - floor : n - first) : 0);
	if ((gfp & LAB_GFP_KERNEL) && want < n)
		EXPECT(M.total == M.max, "alloc_bulk KERNEL short at %zu pages < max %zu", M.total,
		       M.max);
	EXPECT(got == want, "alloc_bulk(gfp %#x, n %u) = %u, model %u (free %zu, floor %zu)", gfp,
	       n, got, want, M.nfree, floor);
	for (i = first; i < got; i++)
		take_block(pages[i], 0, gfp, "alloc_bulk");
	if (got < n) {
		M.failed += n - got;
		if (!(gfp & LAB_GFP_NOWARN))
			expect_report("alloc", NULL);
	}
}

static void do_free_bulk(struct in *in)
{
	static void *pages[MAX_BULK + 8];
	unsigned n = u8(in) % MAX_BULK, i, got, want = 0;
	bool null_array = u8(in) == 0xff;
	int e;

	for (i = 0; i < n; i++) {
		unsigned k = u8(in) % 8;

		if (k < 4)
			pages[i] = pick_addr(in, true);
		else if (k == 4 && i)
			pages[i] = pages[u8(in) % i]; /* duplicate */
		else if (k == 5)
			pages[i] = NULL;
		else
			pages[i] = M.nblocks ? M.blocks[u16(in) % M.nblocks].addr : NULL;
	}
	trace("free_bulk n=%u%s", n, null_array ? " pages=NULL" : "");
	errno = 0;
	got = labyrinth_free_bulk(L, null_array ? NULL : pages, n);
	e = errno;
	if (!M.live || (null_array && n)) {
		EXPECT(got == 0 && e == EINVAL, "free_bulk (invalid) = %u errno %d", got, e);
		return;
	}
	if (null_array) {
		EXPECT(got == 0, "free_bulk(NULL, 0) = %u", got);
		return;
	}
	for (i = 0; i < n; i++) {
		int r = expect_free(pages[i], 0);

		if (!pages[i])
			continue;
		if (r == 0) {
			drop_block(idx_of(pages[i]));
			want++;
		} else {
			M.bad++;
			expect_report("free", pages[i]);
			audit_bad_free(pages[i]);
		}
	}
	EXPECT(got == want, "free_bulk(n %u) = %u, model %u", n, got, want);
}

/* Allocate until the first failure (at most a bound). */
static void do_fill(struct in *in)
{
	lab_gfp_t gfp = dec_gfp(in);
	unsigned order = u8(in) % 4 == 0 ? u8(in) % 6 : 0, i;

	if (!gfp_ok(gfp))
		gfp = LAB_GFP_NOWAIT | (gfp & LAB_GFP_ZERO);
	gfp |= LAB_GFP_NOWARN;
	trace("fill gfp=%#x order=%u", gfp, order);
	audit_soon(); /* runs the pool dry: every path to the last page */
	for (i = 0; i < 8192 && M.live; i++) {
		uint64_t failed = M.failed;

		do_alloc(0, gfp, order);
		if (M.failed != failed)
			break;
	}
}

/* Free many live blocks: all, the even ones, or the first half. */
static void do_drain(struct in *in)
{
	unsigned how = u8(in) % 3;
	size_t i, n = M.nblocks;

	trace("drain how=%u (%zu blocks)", how, n);
	if (!M.live || !n)
		return; /* no call into the library at all */
	audit_soon();
	for (i = n; i-- > 0;) {
		struct block b;

		if (i >= M.nblocks)
			continue;
		if ((how == 1 && (i & 1)) || (how == 2 && i < n / 2))
			continue;
		b = M.blocks[i];
		do_free(b.addr, b.order, 0);
	}
}

static void do_watch(struct in *in)
{
	unsigned b = u8(in);
	size_t low;
	int fd;

	switch (b % 4) {
	case 0: low = 0; break;
	case 1: low = M.max + 1 + u8(in); break;
	default: low = 1 + u16(in) % (M.max ? M.max : 1); break;
	}
	trace("watch low=%zu", low);
	fd = labyrinth_watch(L, low);
	if (!M.live || low == 0 || low > M.max) {
		EXPECT(fd == -EINVAL, "labyrinth_watch(%zu) = %d, want -EINVAL", low, fd);
		return;
	}
	if (M.nwatch == NWATCH) {
		audit_soon();
		EXPECT(fd < 0, "a watch beyond %u watches = %d", NWATCH, fd);
		if (fd >= 0)
			close(fd);
		return;
	}
	EXPECT(fd >= 0, "labyrinth_watch(%zu) = %d", low, fd);
	M.w[M.nwatch].fd = fd;
	M.w[M.nwatch].low = low;
	M.w[M.nwatch].pending = M.nfree < low ? 1 : 0;
	M.events += M.w[M.nwatch].pending;
	M.nwatch++;
}

static void do_close_watch(struct in *in)
{
	unsigned i;

	if (!M.nwatch)
		return;
	i = u8(in) % M.nwatch;
	trace("close watch %u", i);
	if (M.w[i].fd >= 0) {
		check_watches();
		close(M.w[i].fd);
		M.w[i].fd = -1;
	}
}

static void do_destroy(void)
{
	int r;

	trace("destroy (%zu blocks out)", M.nblocks);
	audit_soon(); /* -EBUSY must leave the pool intact */
	r = labyrinth_destroy(L);
	if (!M.live) {
		EXPECT(r == -EINVAL, "destroy of a dead pool = %d", r);
		return;
	}
	if (M.nblocks) {
		EXPECT(r == -EBUSY, "destroy with %zu blocks out = %d, want -EBUSY", M.nblocks, r);
		expect_report("destroy", NULL); /* "N of T pages still in use" */
		return;
	}
	EXPECT(r == 0, "destroy of an idle pool = %d", r);
	check_watches();
	model_reset_pool();
	calls_on_invalid(L, "destroyed pool");
}

/*
 * Fuzzed inputs are full of runs of dumps (20 a input, 90% of them with
 * nothing done to the pool since the previous one): formatting them was 8%
 * of the time.  A dump of a live pool that only dumps, owns probes and
 * calls on other pool objects have touched since its last dump would print
 * the same text, already checked: it is skipped (and traced as such).
 */
static uint64_t op_epoch;        /* ops that may change the pool, so far */
static uint64_t dumped_epoch = UINT64_MAX;

static void do_dump(void)
{
	char buf[2048];
	unsigned long tot, fr, inuse;
	FILE *f;
	char *s;
	int r;

	if (M.live && dumped_epoch == op_epoch) {
		trace("dump (the pool is as at the last dump: skipped)");
		return;
	}
	trace("dump");
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	if (!f)
		return;
	memset(buf, 0, sizeof(buf));
	r = labyrinth_dump(L, f);
	fclose(f);
	if (!M.live) {
		EXPECT(r == -EINVAL, "dump of a dead pool = %d", r);
		return;
	}
	EXPECT(r == 0, "labyrinth_dump = %d", r);
	dumped_epoch = op_epoch;
	s = strstr(buf, "pages total ");
	EXPECT(s && sscanf(s, "pages total %lu free %lu inuse %lu", &tot, &fr, &inuse) == 3,
	       "dump has no 'pages total' line: %s", buf);
	EXPECT(tot == M.total && fr == M.nfree && inuse == M.total - M.nfree,
	       "dump says total %lu free %lu inuse %lu; model %zu %zu", tot, fr, inuse, M.total,
	       M.nfree);
	EXPECT(strstr(buf, M.name) != NULL, "dump does not name the pool '%s'", M.name);
}

static void do_owns(struct in *in)
{
	unsigned r = u16(in);
	unsigned char *a = at((long long)(r % (M.max + 4)) * PS + u8(in) % 3 * 777);
	int want, got;

	trace("owns %p", (void *)a);
	got = labyrinth_owns(L, a);
	want = M.live && (uintptr_t)a >= (uintptr_t)M.base &&
	       (uintptr_t)a < (uintptr_t)M.base + M.total * PS;
	EXPECT(got == want, "labyrinth_owns(%p) = %d, model %d", (void *)a, got, want);
}

static void do_invalid_pool(struct in *in)
{
	labyrinth_t junk;
	unsigned k = u8(in) % 3, i;

	trace("calls on an invalid pool (%u)", k);
	if (k == 0) {
		memset(&junk, 0, sizeof(junk));
		calls_on_invalid(&junk, "zeroed pool");
	} else if (k == 1) {
		calls_on_invalid(&dead_lab, "destroyed pool");
	} else {
		for (i = 0; i < sizeof(junk); i++)
			((unsigned char *)&junk)[i] = (unsigned char)u8(in);
		if (junk.lab_private_magic == LAB_MAGIC_LIVE)
			junk.lab_private_magic ^= 1;
		calls_on_invalid(&junk, "garbage pool");
	}
}

/* ------------------------------------------------------------------ */
/* The entry points                                                    */
/* ------------------------------------------------------------------ */

/* Can the pool, idle now, serve a later input as if it were fresh? */
static bool keepable(void)
{
	return reuse && M.nwatch == 0 && M.total == M.nr_init && M.total <= KEEP_PAGES &&
	       (keep_locked || (M.flags & LAB_POOL_NOLOCK));
}

/* Keep the idle pool in its slot, evicting the least recently used. */
static void keep(void)
{
	for (;;) {
		struct slot *lru = NULL;
		size_t pages = M.total;
		unsigned i, n = 0;

		for (i = 0; i <= NSLOT; i++) {
			if (!slots[i].kept)
				continue;
			n++;
			pages += slots[i].key.nr;
			if (!lru || slots[i].last < lru->last)
				lru = &slots[i];
		}
		if (n < NSLOT && pages <= KEEP_PAGES)
			break;
		evict(lru);
	}
	trace("finish: keep the pool for a later input");
	cur->key.nr = M.nr_init;
	cur->key.max = M.max;
	cur->key.reserve = M.reserve;
	cur->key.flags = M.flags;
	cur->key.wait_ms = M.wait_ms;
	cur->key.name = M.name;
	cur->last = n_inputs;
	cur->served++;
	get_stats(&cur->st);
	cur->kept = true;
	model_reset_pool();
}

static void finish_pool(void)
{
	size_t i;
	int r;

	if (!M.live)
		return;
	trace("finish: free %zu blocks", M.nblocks);
	for (i = M.nblocks; i-- > 0;) {
		struct block b = M.blocks[i];
		int rr = labyrinth_free_pages(L, b.addr, b.order);

		settle_free(b.addr, b.order, rr, "labyrinth_free_pages(final)");
	}
	audit_soon(); /* the end of an input always audits */
	verify();
	EXPECT(M.nfree == M.total, "model leak");
	/* Freeing every page makes the largest blocks whole again. */
	if (M.total >= (1u << LAB_MAX_ORDER)) {
		void *big = labyrinth_alloc_pages(L, LAB_GFP_ATOMIC, LAB_MAX_ORDER);

		trace("finish: order-10 ATOMIC on an empty pool -> %p", big);
		EXPECT(big != NULL, "no order-10 block in an entirely free pool of %zu pages",
		       M.total);
		take_block(big, LAB_MAX_ORDER, LAB_GFP_ATOMIC, "final order-10");
		r = labyrinth_free_pages(L, big, LAB_MAX_ORDER);
		settle_free(big, LAB_MAX_ORDER, r, "labyrinth_free_pages(final order-10)");
		audit_soon();
		verify();
	}
	if (keepable()) {
		keep();
		return;
	}
	n_watched += M.nwatch != 0;
	n_grown += M.nwatch == 0 && M.total != M.nr_init;
	r = labyrinth_destroy(L);
	EXPECT(r == 0, "final destroy = %d", r);
	check_watches();
	model_reset_pool();
	calls_on_invalid(L, "destroyed pool");
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void __sanitizer_set_report_fd(void *fd) __attribute__((weak));

static void say_totals(void)
{
	if (n_inputs > 1)
		say("fuzz_pool: %llu inputs, %llu of them started on a kept pool; %llu fresh inits; "
		    "not kept: %llu with watches, %llu grown; %llu kept pools evicted; "
		    "%llu steps verified, %llu of them with labyrinth_check\n",
		    (unsigned long long)n_inputs, (unsigned long long)n_reused,
		    (unsigned long long)n_fresh, (unsigned long long)n_watched,
		    (unsigned long long)n_grown, (unsigned long long)n_evicted,
		    (unsigned long long)n_steps, (unsigned long long)n_checks);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct labyrinth_params p = { .name = "dead", .nr_pages = 64 };
	struct rlimit rl;

	(void)argc;
	(void)argv;
	tracing = getenv("FUZZ_TRACE") != NULL;
	capture = getenv("FUZZ_NO_CAPTURE") == NULL;
	real_err = fcntl(2, F_DUPFD_CLOEXEC, 100);
	if (real_err < 0) {
		real_err = 2;
		capture = false;
	}
	if (capture) {
		cap_fd = memfd_create("fuzz-pool-stderr", MFD_CLOEXEC);
		if (cap_fd < 0)
			capture = false;
	}
	/* Sanitizer reports must reach the real stderr while fd 2 is captured. */
	if (capture && __sanitizer_set_report_fd)
		__sanitizer_set_report_fd((void *)(intptr_t)real_err);
	reuse = !getenv("FUZZ_REUSE") || strcmp(getenv("FUZZ_REUSE"), "0") != 0;
	/* Kept locked pools add up: keep only NOLOCK ones under a memlock limit. */
	keep_locked = geteuid() == 0 ||
		      (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur == RLIM_INFINITY);
	atexit(say_totals);
	if (labyrinth_init(&dead_lab, &p) != 0 || labyrinth_destroy(&dead_lab) != 0) {
		say("fuzz_pool: cannot create a pool at all\n");
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	unsigned ops = 0;

	n_inputs++;
	cur = free_slot();
	L = &cur->lab;
	model_reset_pool();
	M.base = NULL;
	trace_n = 0;
	nreports = 0;
	since_check = 0;
	check_due = false;
	if (capture) {
		if (ftruncate(cap_fd, 0) != 0)
			abort();
		lseek(cap_fd, 0, SEEK_SET);
		dup2(cap_fd, 2);
	}
	do_init(&in, true);
	if (!M.live)
		calls_on_invalid(L, "never-initialised pool");
	verify();
	op_epoch++; /* a new input, maybe on another pool */
	while (in.n && ops++ < MAX_OPS) {
		unsigned op = u8(&in) % 26;

		if (op < 21 || op > 23)
			op_epoch++;

		switch (op) {
		case 0: case 1: case 2: case 3: case 4: {
			lab_gfp_t g = dec_gfp(&in);

			do_alloc(0, g, dec_order(&in));
			break;
		}
		case 5: do_alloc(1, dec_gfp(&in), 0); break;
		case 6: do_alloc(2, 0, 0); break;
		case 7: case 8: case 9: case 10: {
			void *a = pick_addr(&in, false);
			unsigned o;

			/* Mostly the block's own order; sometimes another. */
			if (head_order(a) >= 0 && u8(&in) < 200)
				o = (unsigned)head_order(a);
			else
				o = dec_order(&in);
			do_free(a, o, 0);
			break;
		}
		case 11: do_free(pick_addr(&in, true), 0, 1); break;
		case 12: case 13: do_alloc_bulk(&in); break;
		case 14: do_free_bulk(&in); break;
		case 15: do_fill(&in); break;
		case 16: do_drain(&in); break;
		case 17: do_watch(&in); break;
		case 18: do_close_watch(&in); break;
		case 19: do_destroy(); break;
		case 20: if (!M.live || u8(&in) < 32) do_init(&in, false); break;
		case 21: do_dump(); break;
		case 22: do_owns(&in); break;
		case 23: do_invalid_pool(&in); break;
		default: {
			lab_gfp_t g = (u8(&in) & 1) ? LAB_GFP_ATOMIC : LAB_GFP_NOWAIT;

			do_alloc(0, g, 0);
			break;
		}
		}
		verify();
	}
	finish_pool();
	verify_reports();
	if (capture)
		dup2(real_err, 2);
	return 0;
}
