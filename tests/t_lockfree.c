/* Description: lock-freedom: a victim thread is frozen again and again at random points inside the library (a SIGUSR1 handler that sleeps 50-200 ms) while others keep allocating and freeing (single pages through caches, bulk, blocks): each freeze, the others complete >= 1000 operations of each kind; no deadlock, every page accounted for, the audit passes. */
/*
 * Usage: t_lockfree [FREEZES]   (default 10; LAB_LOCKFREE_SEED sets the seed)
 *
 * The victim runs a tight mix of ATOMIC/NOWAIT single pages (through its
 * cache, refills and flushes included), alloc_bulk/free_bulk and blocks of
 * orders 1-3 and 6-7 (whole-word claims).  A timer thread sends it SIGUSR1
 * at random moments.  The handler looks at the interrupted program counter:
 * outside liblabyrinth's code it returns at once (and the timer tries
 * again); inside, the victim is stopped in the middle of a library call,
 * perhaps inside a CAS loop, holding a promised count, half-way through a
 * multi-word block claim or with its cache's busy flag set.  The handler
 * then allocates a page on the same pool (the interrupted call must not be
 * in its way), sleeps 50-200 ms, and counts what the other threads
 * completed meanwhile, kind by kind.  A lock-free pool lets them go on; a
 * pool with a lock would stall them for the whole freeze.
 *
 * A watchdog ends the program (exit 1) if it runs over WATCHDOG_S: a
 * deadlock fails rather than hangs.
 *
 * Under ThreadSanitizer the handler runs at the victim's next atomic
 * operation after the signal arrives (TSan defers asynchronous signals to
 * its interceptors and atomic operations, and hands the handler the
 * context of the arrival): a signal that arrives inside a library call
 * freezes the victim at that call's next atomic step (rarely just after
 * the call), which is where a lock-free algorithm can be caught half-way.
 */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#define POOL_PAGES    1024u
#define PAGE          4096u
#define NR_OTHERS     2u
#define MAX_FREEZES   64u
#define MIN_IN_LIB    5u        /* freezes inside the library, at least */
#define MIN_OPS       1000ul    /* single-page ops by the others per freeze */
#define MIN_KIND_OPS  100ul     /* bulk and block ops by the others per freeze */
#define FREEZE_MIN_MS 50u
#define FREEZE_MAX_MS 200u
#define BUDGET_S      4.0       /* time to find the freezes in */
#define WATCHDOG_S    60
#define HELD_MAX      16u
#define BULK_N        16u
#define VICTIM_BULK_N 32u

struct freeze {
	unsigned long single, bulk, block; /* the others' ops during the freeze */
	unsigned int ms;
	int handler_page;                  /* the handler got a page meanwhile */
	uintptr_t at;                      /* where: offset in the library's file */
};

static labyrinth_t pool;
static atomic_ulong ops_single, ops_bulk, ops_block;     /* the others' progress */
static atomic_ulong fail_single, fail_bulk, fail_block;  /* the others' misses */
static atomic_ulong victim_ops, victim_fail, bad_stamp, bad_free;
static atomic_int stop_victim, stop_others, all_done;

/* Set by the timer before each signal, read by the handler. */
static _Atomic unsigned int next_ms;
static atomic_uint nr_frozen, nr_outside, nr_handled;
static struct freeze freezes[MAX_FREEZES];
static unsigned int nr_wanted = 10;

/* liblabyrinth's executable mappings (0 ranges: cannot tell, take all). */
static uintptr_t lib_lo[4], lib_hi[4], lib_off[4];
static unsigned int nr_lib;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- where is the library's code? ---- */

/* The executable mappings of the file that holds labyrinth_alloc_pages. */
static void find_library(void)
{
	uintptr_t fn = (uintptr_t)(void *)labyrinth_alloc_pages, lo, hi, off;
	char line[512], path[400] = "", perms[8], file[400];
	FILE *maps = fopen("/proc/self/maps", "r");
	int pass;

	if (!maps)
		return;
	for (pass = 0; pass < 2; pass++) {
		rewind(maps);
		while (fgets(line, sizeof(line), maps)) {
			file[0] = '\0';
			if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %399s", (unsigned long *)&lo,
				   (unsigned long *)&hi, perms, (unsigned long *)&off, file) < 4)
				continue;
			if (pass == 0 && fn >= lo && fn < hi)
				snprintf(path, sizeof(path), "%s", file);
			if (pass == 1 && path[0] && strcmp(file, path) == 0 && perms[2] == 'x' &&
			    nr_lib < 4) {
				lib_lo[nr_lib] = lo;
				lib_off[nr_lib] = off;
				lib_hi[nr_lib++] = hi;
			}
		}
		if (!strstr(path, "labyrinth"))
			break; /* linked statically: the code is the test's own */
	}
	fclose(maps);
	if (nr_lib)
		printf("liblabyrinth code: %s (%u mapping%s)\n", path, nr_lib, nr_lib > 1 ? "s" : "");
	else
		printf("note: labyrinth_alloc_pages is not in a shared liblabyrinth (%s): every "
		       "freeze counts, wherever it stops the victim\n", path[0] ? path : "?");
}

static uintptr_t interrupted_pc(const void *ucv)
{
#if defined(__x86_64__)
	return (uintptr_t)((const ucontext_t *)ucv)->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
	return (uintptr_t)((const ucontext_t *)ucv)->uc_mcontext.pc;
#else
	(void)ucv;
	return 0;
#endif
}

/* Is pc in the library's code?  *at: its offset in the file, for addr2line. */
static int in_library(uintptr_t pc, uintptr_t *at)
{
	unsigned int i;

	*at = 0;
	if (!nr_lib || !pc)
		return 1; /* cannot tell: every freeze counts */
	for (i = 0; i < nr_lib; i++) {
		if (pc >= lib_lo[i] && pc < lib_hi[i]) {
			*at = pc - lib_lo[i] + lib_off[i];
			return 1;
		}
	}
	return 0;
}

/* ---- the freeze: async-signal-safe code only ---- */

static void on_freeze(int sig, siginfo_t *si, void *ucv)
{
	int saved = errno;
	unsigned int n = atomic_load(&nr_frozen), ms = atomic_load(&next_ms);
	unsigned long s0, b0, k0;
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	uint64_t *page;
	uintptr_t at;

	(void)sig;
	(void)si;
	if (!in_library(interrupted_pc(ucv), &at) || n >= MAX_FREEZES) {
		atomic_fetch_add(&nr_outside, 1);
		atomic_fetch_add(&nr_handled, 1);
		errno = saved;
		return;
	}
	/* The interrupted call is stopped half-way: the pool still serves us. */
	page = labyrinth_alloc_page(&pool, LAB_GFP_ATOMIC);
	if (page)
		page[0] = 0xf1ee2e00u + n;
	s0 = atomic_load(&ops_single);
	b0 = atomic_load(&ops_bulk);
	k0 = atomic_load(&ops_block);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	freezes[n].single = atomic_load(&ops_single) - s0;
	freezes[n].bulk = atomic_load(&ops_bulk) - b0;
	freezes[n].block = atomic_load(&ops_block) - k0;
	freezes[n].ms = ms;
	freezes[n].at = at;
	freezes[n].handler_page = page != NULL;
	if (page) {
		if (page[0] != 0xf1ee2e00u + n)
			atomic_fetch_add(&bad_stamp, 1);
		if (labyrinth_free_page(&pool, page) != 0)
			atomic_fetch_add(&bad_free, 1);
	}
	atomic_store(&nr_frozen, n + 1);
	atomic_fetch_add(&nr_handled, 1);
	errno = saved;
}

/* ---- the threads ---- */

/* Stamp a block's first word with its owner, check it before the free. */
static void stamp(void *p, uint64_t tag)
{
	*(volatile uint64_t *)p = tag;
}

/*
 * The victim calls the library's own entry points, (labyrinth_alloc_page)
 * and the rest, not the inline fast path of labyrinth_fast.h: the
 * freezes happen only while its program counter is inside liblabyrinth,
 * and with single pages and bulk calls served inline in the caller it was
 * there too rarely (under TSan, 4 freezes in 745 signals).  The library
 * runs the same fast path, so the victim still freezes inside it, busy
 * flag set, as well as in refills, flushes and block claims.
 */
#define LIB_OR_INLINE(victim, fn, ...) ((victim) ? (fn)(__VA_ARGS__) : fn(__VA_ARGS__))

static void unstamp(void *p, uint64_t tag, unsigned int order, int victim)
{
	if (*(volatile uint64_t *)p != tag)
		atomic_fetch_add(&bad_stamp, 1);
	if (LIB_OR_INLINE(victim, labyrinth_free_pages, &pool, p, order) != 0)
		atomic_fetch_add(&bad_free, 1);
}

struct worker {
	pthread_t tid;
	uint64_t seed;
	uint64_t tag;
	int victim;
};

static void *worker(void *arg)
{
	struct worker *w = arg;
	atomic_int *stop = w->victim ? &stop_victim : &stop_others;
	unsigned int bulk_n = w->victim ? VICTIM_BULK_N : BULK_N;
	void *held[HELD_MAX] = { 0 }, *bulk[VICTIM_BULK_N];
	uint64_t s = w->seed;
	unsigned int i, n;

	while (!atomic_load_explicit(stop, memory_order_relaxed)) {
		uint64_t r = xorshift(&s);
		unsigned int kind = (unsigned int)(r % 8), slot = (unsigned int)(r >> 8) % HELD_MAX;

		if (kind < 6) {
			/* Single pages: swap one of the held ones, through the cache. */
			lab_gfp_t gfp = (r >> 16) & 1 ? LAB_GFP_ATOMIC : LAB_GFP_NOWAIT;
			void *p = LIB_OR_INLINE(w->victim, labyrinth_alloc_page, &pool, gfp);

			if (held[slot])
				unstamp(held[slot], w->tag, 0, w->victim);
			held[slot] = p;
			if (p)
				stamp(p, w->tag);
			if (w->victim)
				atomic_fetch_add_explicit(p ? &victim_ops : &victim_fail, 1,
							  memory_order_relaxed);
			else
				atomic_fetch_add_explicit(p ? &ops_single : &fail_single, 1,
							  memory_order_relaxed);
		} else if (kind == 6) {
			n = LIB_OR_INLINE(w->victim, labyrinth_alloc_bulk, &pool, LAB_GFP_NOWAIT, bulk,
					  bulk_n);
			for (i = 0; i < n; i++)
				stamp(bulk[i], w->tag);
			for (i = 0; i < n; i++)
				if (*(volatile uint64_t *)bulk[i] != w->tag)
					atomic_fetch_add(&bad_stamp, 1);
			if (LIB_OR_INLINE(w->victim, labyrinth_free_bulk, &pool, bulk, n) != n)
				atomic_fetch_add(&bad_free, 1);
			if (w->victim)
				atomic_fetch_add_explicit(n == bulk_n ? &victim_ops : &victim_fail, 1,
							  memory_order_relaxed);
			else
				atomic_fetch_add_explicit(n == bulk_n ? &ops_bulk : &fail_bulk, 1,
							  memory_order_relaxed);
		} else {
			/* Blocks: small ones in one word; the victim also claims
			 * whole words (orders 6 and 7). */
			unsigned int order = 1 + (unsigned int)(r >> 20) % 3;
			void *p;

			if (w->victim && (r >> 24) % 4 == 0)
				order = 6 + (unsigned int)(r >> 28) % 2;
			p = LIB_OR_INLINE(w->victim, labyrinth_alloc_pages, &pool, LAB_GFP_NOWAIT, order);
			if (p) {
				stamp(p, w->tag);
				unstamp(p, w->tag, order, w->victim);
			}
			if (w->victim)
				atomic_fetch_add_explicit(p ? &victim_ops : &victim_fail, 1,
							  memory_order_relaxed);
			else
				atomic_fetch_add_explicit(p ? &ops_block : &fail_block, 1,
							  memory_order_relaxed);
		}
	}
	for (i = 0; i < HELD_MAX; i++)
		if (held[i])
			unstamp(held[i], w->tag, 0, w->victim);
	return NULL;
}

static void *watchdog(void *arg)
{
	int waited = 0;

	(void)arg;
	while (!atomic_load(&all_done)) {
		sleep_ms(100);
		if (++waited == WATCHDOG_S * 10) {
			printf("FAIL: still running after %d s: deadlock? frozen %u, handled %u, "
			       "others' ops: %lu single %lu bulk %lu block, victim %lu\n",
			       WATCHDOG_S, atomic_load(&nr_frozen), atomic_load(&nr_handled),
			       atomic_load(&ops_single), atomic_load(&ops_bulk),
			       atomic_load(&ops_block), atomic_load(&victim_ops));
			fflush(stdout);
			_exit(1);
		}
	}
	return NULL;
}

int main(int argc, char **argv)
{
	struct labyrinth_params prm = { .name = "lockfree", .nr_pages = POOL_PAGES };
	struct worker victim, others[NR_OTHERS];
	void *whole_blocks[POOL_PAGES >> LAB_MAX_ORDER];
	struct labyrinth_stats st;
	struct sigaction sa;
	pthread_t dog;
	uint64_t seed = 0x6c6f636b66726565ull, rs;
	unsigned long victim_before, handler_pages = 0, min_single = ~0ul, min_bulk = ~0ul,
		min_block = ~0ul, frozen_ms = 0;
	unsigned int i, sent = 0, frozen;
	const char *env;
	double t0, t;

	if (argc > 1) {
		nr_wanted = (unsigned int)strtoul(argv[1], NULL, 0);
		if (nr_wanted < MIN_IN_LIB || nr_wanted > MAX_FREEZES) {
			fprintf(stderr, "t_lockfree: FREEZES must be %u..%u\n", MIN_IN_LIB,
				MAX_FREEZES);
			return 2;
		}
	}
	if ((env = getenv("LAB_LOCKFREE_SEED")) && *env)
		seed = strtoull(env, NULL, 0);
	seed |= 1;
	rs = seed;
	printf("t_lockfree: %u freezes of %u-%u ms, %u other threads, seed %#llx\n", nr_wanted,
	       FREEZE_MIN_MS, FREEZE_MAX_MS, NR_OTHERS, (unsigned long long)seed);

	REQUIRE(pthread_create(&dog, NULL, watchdog, NULL) == 0, "watchdog thread");
	REQUIRE(labyrinth_init(&pool, &prm) == 0, "init a %u-page pool", POOL_PAGES);
	REQUIRE(labyrinth_page_size(&pool) == PAGE, "4 KiB pages");
	find_library();

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_freeze;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	REQUIRE(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");

	victim.seed = xorshift(&rs) | 1;
	victim.tag = 0x76696374696d0000ull;
	victim.victim = 1;
	REQUIRE(pthread_create(&victim.tid, NULL, worker, &victim) == 0, "victim thread");
	for (i = 0; i < NR_OTHERS; i++) {
		others[i].seed = xorshift(&rs) | 1;
		others[i].tag = 0x6f74686572000000ull + i;
		others[i].victim = 0;
		REQUIRE(pthread_create(&others[i].tid, NULL, worker, &others[i]) == 0,
			"thread %u", i);
	}

	/* The timer: a signal at a random moment, then wait for its handler. */
	t0 = now_s();
	while (atomic_load(&nr_frozen) < nr_wanted && now_s() - t0 < BUDGET_S) {
		uint64_t r = xorshift(&rs);
		unsigned int handled = atomic_load(&nr_handled);
		struct timespec gap = { 0, (long)(200 + r % 4800) * 1000L }; /* 0.2-5 ms */

		nanosleep(&gap, NULL);
		atomic_store(&next_ms, FREEZE_MIN_MS +
			     (unsigned int)((r >> 32) % (FREEZE_MAX_MS - FREEZE_MIN_MS + 1)));
		REQUIRE(pthread_kill(victim.tid, SIGUSR1) == 0, "pthread_kill");
		sent++;
		t = now_s();
		while (atomic_load(&nr_handled) == handled) {
			REQUIRE(now_s() - t < 10.0, "the victim did not run its handler in 10 s");
			sleep_ms(1);
		}
	}
	/* The victim goes on after its last freeze. */
	victim_before = atomic_load(&victim_ops);
	t = now_s();
	while (atomic_load(&victim_ops) < victim_before + 1000 && now_s() - t < 10.0)
		sleep_ms(1);
	CHECK(atomic_load(&victim_ops) >= victim_before + 1000,
	      "the victim made %lu operations in 10 s after its last freeze",
	      atomic_load(&victim_ops) - victim_before);

	atomic_store(&stop_victim, 1);
	pthread_join(victim.tid, NULL);
	atomic_store(&stop_others, 1);
	for (i = 0; i < NR_OTHERS; i++)
		pthread_join(others[i].tid, NULL);

	frozen = atomic_load(&nr_frozen);
	printf("%u signals: %u froze the victim inside the library, %u found it outside "
	       "(%.2f s)\n", sent, frozen, atomic_load(&nr_outside), now_s() - t0);
	for (i = 0; i < frozen; i++) {
		const struct freeze *f = &freezes[i];

		printf("  freeze %2u at %#6lx: %3u ms, others did %8lu single, %7lu bulk, "
		       "%7lu block ops%s\n", i, (unsigned long)f->at, f->ms, f->single, f->bulk, f->block,
		       f->handler_page ? "" : " (the handler got no page)");
		CHECK(f->single >= MIN_OPS, "freeze %u (%u ms): the others did %lu single-page "
		      "ops, want >= %lu", i, f->ms, f->single, MIN_OPS);
		CHECK(f->bulk >= MIN_KIND_OPS, "freeze %u (%u ms): the others did %lu bulk ops, "
		      "want >= %lu", i, f->ms, f->bulk, MIN_KIND_OPS);
		CHECK(f->block >= MIN_KIND_OPS, "freeze %u (%u ms): the others did %lu block "
		      "ops, want >= %lu", i, f->ms, f->block, MIN_KIND_OPS);
		handler_pages += (unsigned long)f->handler_page;
		frozen_ms += f->ms;
		if (f->single < min_single)
			min_single = f->single;
		if (f->bulk < min_bulk)
			min_bulk = f->bulk;
		if (f->block < min_block)
			min_block = f->block;
	}
	CHECK(frozen >= MIN_IN_LIB, "only %u of %u signals stopped the victim inside the "
	      "library in %.0f s", frozen, sent, BUDGET_S);
	/* The handler's page came from a pool whose thread was stopped inside it. */
	CHECK_EQ(handler_pages, frozen);
	printf("others: %lu single (%lu failed), %lu bulk (%lu short), %lu block (%lu failed); "
	       "victim %lu (%lu failed); fewest per freeze: %lu single, %lu bulk, %lu block; "
	       "%lu ms frozen\n",
	       atomic_load(&ops_single), atomic_load(&fail_single), atomic_load(&ops_bulk),
	       atomic_load(&fail_bulk), atomic_load(&ops_block), atomic_load(&fail_block),
	       atomic_load(&victim_ops), atomic_load(&victim_fail), frozen ? min_single : 0,
	       frozen ? min_bulk : 0, frozen ? min_block : 0, frozen_ms);
	/* The pool is far from empty: single pages and bulk calls never fail. */
	CHECK_EQ(atomic_load(&fail_single), 0);
	CHECK_EQ(atomic_load(&fail_bulk), 0);
	CHECK_EQ(atomic_load(&bad_stamp), 0);
	CHECK_EQ(atomic_load(&bad_free), 0);

	/* Every thread is gone, its cache with it: every page is back, whole. */
	st = check_stats(&pool);
	CHECK_EQ(st.pages_total, POOL_PAGES);
	CHECK_EQ(st.pages_inuse, 0);
	CHECK_EQ(st.pages_free, POOL_PAGES);
	CHECK_EQ(st.allocs, st.frees);
	CHECK_EQ(st.bad_frees, 0);
	CHECK_EQ(labyrinth_check(&pool), 0);
	/* Whole: max-order blocks come out of it (the depot's magazines,
	 * which stats lists as single pages, go back to merge first), and
	 * freed they are listed whole. */
	for (i = 0; i < POOL_PAGES >> LAB_MAX_ORDER; i++) {
		void *whole = labyrinth_alloc_pages(&pool, LAB_GFP_ATOMIC, LAB_MAX_ORDER);

		CHECK(whole != NULL, "max-order block %u of %u", i, POOL_PAGES >> LAB_MAX_ORDER);
		whole_blocks[i] = whole;
	}
	for (i = 0; i < POOL_PAGES >> LAB_MAX_ORDER; i++)
		if (whole_blocks[i])
			CHECK_EQ(labyrinth_free_pages(&pool, whole_blocks[i], LAB_MAX_ORDER), 0);
	st = check_stats(&pool);
	CHECK_EQ(st.free_blocks[LAB_MAX_ORDER], POOL_PAGES >> LAB_MAX_ORDER);
	CHECK_EQ(labyrinth_check(&pool), 0);
	CHECK_EQ(labyrinth_destroy(&pool), 0);

	atomic_store(&all_done, 1);
	pthread_join(dog, NULL);
	return check_done();
}
