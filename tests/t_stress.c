/* Description: threads, bulk calls, cross-thread hand-offs and a SIGUSR1 storm whose handler allocates on the same pool (or, with LAB_STRESS_POOLS, on any of several pools, each thread using them all in turn): no page is ever handed out twice, stamps survive, every pool balances. */
/*
 * Usage: t_stress [THREADS] [SECONDS] [POOL_PAGES]   (defaults 32, 3, 512;
 * LAB_STRESS_SECONDS sets the default duration, LAB_STRESS_SEED the seed,
 * LAB_STRESS_POOLS the number of pools, 1 to 8, each of POOL_PAGES: every
 * allocation picks one at random, every free goes to the page's own, the
 * handler uses another pool than the interrupted thread's last one).
 *
 * Every worker runs a deterministic pseudo-random mix (xorshift, one stream
 * per thread) of single ATOMIC / NOWAIT / ZERO allocations and frees,
 * alloc_bulk / free_bulk, and hand-offs: about a quarter of the pages a
 * worker lets go are put into a shared array of atomic slots instead of
 * being freed, and whoever takes them out adopts and later frees them.
 *
 * An owner map with one atomic word per page detects a page handed out
 * twice: each allocation CASes its word from 0 to the caller's id, each
 * free CASes it back.  Each page carries a stamp (address, owner, generation
 * and a checksum) at its start, middle and end, written on allocation and
 * verified before the page leaves its owner.
 *
 * A storm thread sends SIGUSR1 to the workers without pause; the handler
 * (async-signal-safe code only) allocates 1-3 pages with ATOMIC on the same
 * pool, claims, stamps, verifies and frees them, and records any failure in
 * atomic counters.
 */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define PAGE            4096u
#define MAX_THREADS     64u
#define HANDLER_ID_BASE 1000u /* owner id of the handler running on worker i: base + i */
#define MAIN_ID         999u
#define NR_SLOTS        64u
#define MAX_HELD        256u
#define BULK_MAX        16u
#define RESERVE         8u

struct held {
	void *page;
	uint64_t gen;
};

struct worker {
	pthread_t tid;
	uint32_t id;
	uint64_t seed;
	unsigned int hold_max;
	/* results, read by main after join */
	unsigned long ops, allocs, failed, frees, handoffs, adopted;
};

#define MAX_POOLS 8u
static labyrinth_t pools[MAX_POOLS];
static unsigned int nr_pools = 1;
/* Per pool: its owner map, one atomic word per page. */
static struct {
	uintptr_t lo;      /* lowest pool page */
	size_t pages;      /* pages covered by owner[] */
	_Atomic uint32_t *owner;
} maps[MAX_POOLS];
static _Atomic(void *) slots[NR_SLOTS];
static atomic_int stop_workers, stop_storm;
static unsigned int nr_workers;

/* Failures, counted by workers and handlers alike (lock-free atomics). */
static atomic_ulong fail_double, fail_owner, fail_stamp, fail_range, fail_free,
	fail_errno, fail_zero;
static _Atomic uintptr_t first_bad_page;
static atomic_ulong sig_handled, sig_allocs, sig_failed, sig_sent;

static _Thread_local uint32_t my_id;
static _Thread_local unsigned int my_last_pool; /* the worker's last allocation's */
static _Thread_local uint64_t sig_gen;
static _Thread_local void *sig_stash; /* a page a handler on this thread kept */
static _Thread_local uint64_t sig_stash_gen;

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

static void note_bad(atomic_ulong *counter, const void *page)
{
	uintptr_t none = 0;

	atomic_fetch_add(counter, 1);
	atomic_compare_exchange_strong(&first_bad_page, &none, (uintptr_t)page);
}

/* ---- the pools and the owner maps ---- */

/* The pool that owns page (pool 0 if none: the free then fails, counted). */
static unsigned int pool_index(const void *page)
{
	unsigned int k;

	for (k = 0; k < nr_pools; k++)
		if (labyrinth_owns(&pools[k], page) == 1)
			return k;
	return 0;
}

static labyrinth_t *pool_of(const void *page)
{
	return &pools[pool_index(page)];
}

static _Atomic uint32_t *owner_word(const void *page)
{
	uintptr_t a = (uintptr_t)page;
	unsigned int k = pool_index(page);

	if (a < maps[k].lo || (a - maps[k].lo) % PAGE || (a - maps[k].lo) / PAGE >= maps[k].pages ||
	    labyrinth_owns(&pools[k], page) != 1) {
		note_bad(&fail_range, page);
		return NULL;
	}
	return &maps[k].owner[(a - maps[k].lo) / PAGE];
}

/* The page was just allocated by id: nobody else may hold it. */
static int claim(const void *page, uint32_t id)
{
	_Atomic uint32_t *w = owner_word(page);
	uint32_t expect = 0;

	if (!w)
		return 0;
	if (!atomic_compare_exchange_strong(w, &expect, id)) {
		note_bad(&fail_double, page);
		return 0;
	}
	return 1;
}

/* Owner from -> to (to = 0 before a free). */
static void pass(const void *page, uint32_t from, uint32_t to)
{
	_Atomic uint32_t *w = owner_word(page);

	if (w && !atomic_compare_exchange_strong(w, &from, to))
		note_bad(&fail_owner, page);
}

/* ---- stamps: 4 words at the start, the middle and the end of the page ---- */

static const size_t stamp_off[3] = { 0, PAGE / 2 - 16, PAGE - 32 };

static uint64_t stamp_sum(uintptr_t addr, uint64_t id, uint64_t gen)
{
	return (addr * 0x9e3779b97f4a7c15ull) ^ (id * 0xc2b2ae3d27d4eb4full) ^
	       (gen * 0x165667b19e3779f9ull) ^ 0x5354414d50ull;
}

static void stamp(void *page, uint32_t id, uint64_t gen)
{
	unsigned int i;

	for (i = 0; i < 3; i++) {
		uint64_t *w = (uint64_t *)((unsigned char *)page + stamp_off[i]);

		w[0] = (uintptr_t)page;
		w[1] = id;
		w[2] = gen;
		w[3] = stamp_sum((uintptr_t)page, id, gen);
	}
}

/* Read the stamp; 1 if the three copies agree and the checksum holds. */
static int read_stamp(const void *page, uint32_t *id, uint64_t *gen)
{
	const uint64_t *w0 = (const uint64_t *)page;
	unsigned int i;

	for (i = 1; i < 3; i++) {
		const uint64_t *w = (const uint64_t *)((const unsigned char *)page + stamp_off[i]);

		if (w[0] != w0[0] || w[1] != w0[1] || w[2] != w0[2] || w[3] != w0[3])
			return 0;
	}
	*id = (uint32_t)w0[1];
	*gen = w0[2];
	return w0[0] == (uintptr_t)page && w0[1] <= 0xffffffffu &&
	       w0[3] == stamp_sum((uintptr_t)page, w0[1], w0[2]);
}

static void verify(const void *page, uint32_t id, uint64_t gen)
{
	uint32_t sid;
	uint64_t sgen;

	if (!read_stamp(page, &sid, &sgen) || sid != id || sgen != gen)
		note_bad(&fail_stamp, page);
}

static void check_zero(const void *page)
{
	const uint64_t *w = page;
	unsigned int i;

	for (i = 0; i < PAGE / 8; i++)
		if (w[i]) {
			note_bad(&fail_zero, page);
			return;
		}
}

/* ---- the signal handler: async-signal-safe code only ---- */

/* Give back the page the handler kept from an earlier signal. */
static void free_stash(uint32_t hid)
{
	void *page = sig_stash;

	if (!page)
		return;
	sig_stash = NULL;
	verify(page, hid, sig_stash_gen);
	pass(page, hid, 0);
	if (labyrinth_free_page(pool_of(page), page) != 0)
		note_bad(&fail_free, page);
}

/*
 * 1-3 ATOMIC pages (singly or in bulk), claimed, stamped, verified, freed.
 * Every other time the handler keeps the second page it popped until a later
 * signal and gives the first one back at once: to the interrupted thread,
 * caught between reading the stack's head and its CAS, the head then looks
 * unchanged while the page below it is gone (the ABA case).
 */
static void on_sigusr1(int sig)
{
	int saved = errno;
	uint32_t hid = HANDLER_ID_BASE + my_id;
	/* Several pools: another one than the interrupted thread's last. */
	labyrinth_t *pool = &pools[(my_last_pool + 1 + (unsigned int)(sig_gen % 7) %
				    (nr_pools > 1 ? nr_pools - 1 : 1)) % nr_pools];
	void *pg[3] = { NULL, NULL, NULL };
	uint64_t gen[3] = { 0, 0, 0 };
	unsigned int k, i, got = 0, want = 0;
	int keep;

	(void)sig;
	k = 1 + (unsigned int)(sig_gen % 3);
	keep = (sig_gen & 4) != 0;
	if (k == 3) {
		got = labyrinth_alloc_bulk(pool, LAB_GFP_ATOMIC, pg, 3);
		if (got < 3)
			atomic_fetch_add(&sig_failed, 3 - got);
	} else {
		for (i = 0; i < k; i++) {
			errno = 0;
			pg[got] = labyrinth_void_alloc_page_gfp_atomic_exclusive(pool);
			if (pg[got]) {
				got++;
			} else {
				atomic_fetch_add(&sig_failed, 1);
				if (errno != ENOMEM)
					note_bad(&fail_errno, NULL);
			}
		}
	}
	atomic_fetch_add(&sig_allocs, got);
	for (i = 0; i < got; i++) {
		if (!claim(pg[i], hid)) {
			pg[i] = NULL; /* not ours for sure: leave it alone */
			continue;
		}
		gen[i] = ++sig_gen;
		stamp(pg[i], hid, gen[i]);
	}
	if (keep)
		free_stash(hid);
	if (keep && got >= 2 && pg[1] && !sig_stash) {
		sig_stash = pg[1];
		sig_stash_gen = gen[1];
		pg[1] = NULL;
	}
	for (i = 0; i < got; i++) {
		if (!pg[i])
			continue;
		verify(pg[i], hid, gen[i]);
		pass(pg[i], hid, 0);
		want++;
	}
	if (k == 3) {
		if (labyrinth_free_bulk(pool, pg, got) != want)
			note_bad(&fail_free, NULL);
	} else {
		for (i = 0; i < got; i++)
			if (pg[i] && labyrinth_free_page(pool, pg[i]) != 0)
				note_bad(&fail_free, pg[i]);
	}
	sig_gen += got == 0; /* vary the next count even when the pool is empty */
	atomic_fetch_add(&sig_handled, 1);
	errno = saved;
}

/* ---- workers ---- */

struct wstate {
	struct worker *w;
	struct held held[MAX_HELD];
	unsigned int n;
	uint64_t rng, gen;
};

static void took(struct wstate *s, void *page, lab_gfp_t gfp)
{
	if (gfp & LAB_GFP_ZERO)
		check_zero(page);
	if (!claim(page, s->w->id))
		return; /* someone else holds it: counted, do not touch */
	s->held[s->n].page = page;
	s->held[s->n].gen = ++s->gen;
	stamp(page, s->w->id, s->gen);
	s->n++;
}

/* Remove held[i] from the list after checking it; the page is still ours in the map. */
static void *drop(struct wstate *s, unsigned int i)
{
	void *page = s->held[i].page;

	verify(page, s->w->id, s->held[i].gen);
	s->held[i] = s->held[--s->n];
	return page;
}

/* The pool an allocation uses: one of them at random. */
static labyrinth_t *pick_pool(uint64_t r)
{
	my_last_pool = (unsigned int)(r >> 40) % nr_pools;
	return &pools[my_last_pool];
}

static void alloc_one(struct wstate *s, uint64_t r)
{
	static const lab_gfp_t kinds[8] = {
		LAB_GFP_ATOMIC, LAB_GFP_NOWAIT, LAB_GFP_ATOMIC, LAB_GFP_NOWAIT,
		LAB_GFP_ATOMIC | LAB_GFP_ZERO, LAB_GFP_NOWAIT | LAB_GFP_NOWARN,
		LAB_GFP_ATOMIC | LAB_GFP_NOWARN, LAB_GFP_NOWAIT | LAB_GFP_ZERO,
	};
	lab_gfp_t gfp = kinds[(r >> 8) & 7];
	labyrinth_t *pool = pick_pool(r);
	void *page;

	errno = 0;
	if (gfp == LAB_GFP_ATOMIC && (r & 0x10000))
		page = labyrinth_void_alloc_page_gfp_atomic_exclusive(pool);
	else
		page = labyrinth_alloc_page(pool, gfp);
	if (!page) {
		s->w->failed++;
		if (errno != ENOMEM)
			note_bad(&fail_errno, NULL);
		return;
	}
	s->w->allocs++;
	took(s, page, gfp);
}

static void alloc_bulk(struct wstate *s, uint64_t r)
{
	void *pages[BULK_MAX];
	unsigned int want = 1 + (unsigned int)((r >> 8) % BULK_MAX), got, i;
	lab_gfp_t gfp = (r & 0x1000) ? LAB_GFP_ATOMIC : LAB_GFP_NOWAIT;

	if (r & 0x2000)
		gfp |= LAB_GFP_ZERO;
	if (want > s->w->hold_max - s->n)
		want = s->w->hold_max - s->n;
	got = labyrinth_alloc_bulk(pick_pool(r), gfp, pages, want);
	if (got > want) {
		note_bad(&fail_range, NULL);
		got = want;
	}
	s->w->allocs += got;
	s->w->failed += want - got;
	for (i = 0; i < got; i++)
		took(s, pages[i], gfp);
}

static void free_one(struct wstate *s, void *page)
{
	pass(page, s->w->id, 0);
	if (labyrinth_free_page(pool_of(page), page) != 0)
		note_bad(&fail_free, page);
	s->w->frees++;
}

/* Take what a slot holds (if anything) and make it ours. */
static void adopt(struct wstate *s, void *page)
{
	uint32_t prev;
	uint64_t pgen;

	if (!read_stamp(page, &prev, &pgen)) {
		note_bad(&fail_stamp, page);
		return; /* cannot tell its owner: leave it */
	}
	pass(page, prev, s->w->id);
	s->held[s->n].page = page;
	s->held[s->n].gen = ++s->gen;
	stamp(page, s->w->id, s->gen);
	s->n++;
	s->w->adopted++;
}

/* Let one held page go: freed, or (a quarter of the time) handed to a slot. */
static void release_one(struct wstate *s, uint64_t r)
{
	unsigned int i = (unsigned int)((r >> 16) % s->n);
	void *page = drop(s, i);

	if ((r & 0x300) == 0) {
		void *old = atomic_exchange_explicit(&slots[(r >> 24) % NR_SLOTS], page,
						     memory_order_acq_rel);

		s->w->handoffs++;
		if (old)
			adopt(s, old);
		return;
	}
	free_one(s, page);
}

/* labyrinth_free_bulk for each pool's pages of pages[k] (NULLs with the
 * first pool's), which hold nonnull pages. */
static void free_bulk_by_pool(void **pages, unsigned int k, unsigned int nonnull)
{
	void *mine[BULK_MAX + 2];
	unsigned int p, i, n, done = 0;

	for (p = 0; p < nr_pools; p++) {
		for (i = n = 0; i < k; i++)
			if (pages[i] ? pool_index(pages[i]) == p : p == 0)
				mine[n++] = pages[i];
		if (n)
			done += labyrinth_free_bulk(&pools[p], mine, n);
	}
	if (done != nonnull)
		note_bad(&fail_free, NULL);
}

static void free_bulk(struct wstate *s, uint64_t r)
{
	void *pages[BULK_MAX + 2];
	unsigned int want = 1 + (unsigned int)((r >> 8) % BULK_MAX), k = 0, i, nonnull = 0;

	if (want > s->n)
		want = s->n;
	for (i = 0; i < want; i++) {
		void *page = drop(s, (unsigned int)((r >> 20) % s->n));

		pass(page, s->w->id, 0);
		pages[k++] = page;
		nonnull++;
		if (i == 0 && (r & 0x4000))
			pages[k++] = NULL; /* skipped, as a free of NULL is */
	}
	free_bulk_by_pool(pages, k, nonnull);
	s->w->frees += nonnull;
}

static void take_slot(struct wstate *s, uint64_t r)
{
	void *page = atomic_exchange_explicit(&slots[(r >> 24) % NR_SLOTS], NULL,
					      memory_order_acq_rel);

	if (!page)
		return;
	adopt(s, page);
	/* Half of the adopted pages are freed at once: a cross-thread free. */
	if ((r & 0x800) && s->n && s->held[s->n - 1].page == page)
		free_one(s, drop(s, s->n - 1));
}

static void *worker_main(void *arg)
{
	struct wstate *s = calloc(1, sizeof(*s));
	struct worker *w = arg;
	sigset_t block;

	if (!s) {
		note_bad(&fail_range, NULL);
		return NULL;
	}
	s->w = w;
	s->rng = w->seed;
	my_id = w->id;
	while (!atomic_load_explicit(&stop_workers, memory_order_relaxed)) {
		uint64_t r = xorshift(&s->rng);
		unsigned int op = (unsigned int)(r % 100);

		w->ops++;
		if (s->n >= w->hold_max && op < 50)
			op += 50; /* full: let go instead */
		if (s->n == 0 && op >= 50)
			op -= 50; /* empty: allocate instead */
		if (op < 35)
			alloc_one(s, r);
		else if (op < 45)
			alloc_bulk(s, r);
		else if (op < 50)
			take_slot(s, r);
		else if (op < 88)
			release_one(s, r);
		else
			free_bulk(s, r);
		if ((w->ops & 1023) == 0)
			sched_yield(); /* give the storm a chance on small machines */
	}
	while (s->n)
		free_one(s, drop(s, s->n - 1));
	/* No handler may run on this thread any more: free what one kept. */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	free_stash(HANDLER_ID_BASE + my_id);
	free(s);
	return NULL;
}

static void *storm_main(void *arg)
{
	struct worker *ws = arg;
	unsigned int i;
	unsigned long sent = 0;

	while (!atomic_load_explicit(&stop_storm, memory_order_relaxed)) {
		for (i = 1; i <= nr_workers; i++)
			if (pthread_kill(ws[i].tid, SIGUSR1) == 0)
				sent++;
		sched_yield();
	}
	atomic_store(&sig_sent, sent);
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned long parse_arg(const char *s, const char *what, unsigned long lo, unsigned long hi)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*end || v < lo || v > hi) {
		fprintf(stderr, "t_stress: %s must be %lu..%lu, not '%s'\n", what, lo, hi, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned int nthreads = 32, npages = 512, i, p;
	double seconds = 3.0, t0, elapsed;
	uint64_t seed = 0x1abe1f2e3d4c5b6aull;
	struct labyrinth_params prm = { 0 };
	struct labyrinth_stats st, sum;
	struct worker *ws;
	struct sigaction sa;
	pthread_t storm;
	void **all, *page;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	unsigned long ops = 0, allocs = 0, failed = 0, frees = 0, handoffs = 0, adopted = 0;
	unsigned long bad = 0, drained = 0;
	const char *env;
	struct timespec pause = { 0, 10 * 1000 * 1000 };

	if ((env = getenv("LAB_STRESS_SECONDS")) && *env) {
		seconds = strtod(env, NULL);
		if (!(seconds > 0 && seconds < 86400)) {
			fprintf(stderr, "t_stress: bad LAB_STRESS_SECONDS '%s'\n", env);
			return 2;
		}
	}
	if ((env = getenv("LAB_STRESS_SEED")) && *env)
		seed = strtoull(env, NULL, 0) | 1;
	if (argc > 1)
		nthreads = (unsigned int)parse_arg(argv[1], "THREADS", 1, MAX_THREADS);
	if (argc > 2)
		seconds = (double)parse_arg(argv[2], "SECONDS", 1, 86400);
	if (argc > 3)
		npages = (unsigned int)parse_arg(argv[3], "POOL_PAGES", RESERVE + 1, 1u << 24);
	if ((env = getenv("LAB_STRESS_POOLS")) && *env)
		nr_pools = (unsigned int)parse_arg(env, "LAB_STRESS_POOLS", 1, MAX_POOLS);
	printf("t_stress: %u threads, %.1f s, %u pool(s) of %u pages (reserve %u), seed %#llx\n",
	       nthreads, seconds, nr_pools, npages, RESERVE, (unsigned long long)seed);

	prm.name = "stress";
	prm.nr_pages = npages;
	prm.reserve_pages = RESERVE;
	all = calloc(npages + 1, sizeof(*all));
	REQUIRE(all != NULL, "calloc");
	for (p = 0; p < nr_pools; p++) {
		/* each pool probes what is left of RLIMIT_MEMLOCK after the ones before it */
		prm.flags = nolock_unless_lockable(prm.name, (size_t)npages * PAGE);
		REQUIRE(labyrinth_init(&pools[p], &prm) == 0, "init a %u-page pool", npages);
		REQUIRE(labyrinth_page_size(&pools[p]) == PAGE, "4 KiB pages");

		/* Take every page once to find the range the owner map must cover. */
		lo = UINTPTR_MAX;
		hi = 0;
		CHECK_EQ(labyrinth_alloc_bulk(&pools[p], LAB_GFP_ATOMIC, all, npages), npages);
		for (i = 0; i < npages && all[i]; i++) {
			if ((uintptr_t)all[i] < lo)
				lo = (uintptr_t)all[i];
			if ((uintptr_t)all[i] > hi)
				hi = (uintptr_t)all[i];
		}
		REQUIRE(i == npages && hi >= lo && (hi - lo) / PAGE < (size_t)npages * 64,
			"pool pages within a sane span");
		maps[p].lo = lo;
		maps[p].pages = (hi - lo) / PAGE + 1;
		maps[p].owner = calloc(maps[p].pages, sizeof(*maps[p].owner));
		REQUIRE(maps[p].owner != NULL, "calloc owner map");
		for (i = 0; i < npages; i++)
			CHECK(claim(all[i], MAIN_ID), "initial page %u distinct", i);
		for (i = 0; i < npages; i++)
			pass(all[i], MAIN_ID, 0);
		CHECK_EQ(labyrinth_free_bulk(&pools[p], all, npages), npages);
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigusr1;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	REQUIRE(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");

	ws = calloc(nthreads + 1, sizeof(*ws)); /* ws[1..nthreads] */
	REQUIRE(ws != NULL, "calloc");
	nr_workers = nthreads;
	t0 = now_s();
	for (i = 1; i <= nthreads; i++) {
		uint64_t z = seed + 0x9e3779b97f4a7c15ull * i;

		ws[i].id = i;
		ws[i].seed = (z ^ (z >> 31)) | 1;
		/* Together the workers may hold more than the pool: it runs dry. */
		ws[i].hold_max = 2 * npages * nr_pools / nthreads + 4;
		if (ws[i].hold_max > MAX_HELD)
			ws[i].hold_max = MAX_HELD;
		REQUIRE(pthread_create(&ws[i].tid, NULL, worker_main, &ws[i]) == 0,
			"create worker %u", i);
	}
	REQUIRE(pthread_create(&storm, NULL, storm_main, ws) == 0, "create storm thread");

	while (now_s() - t0 < seconds)
		nanosleep(&pause, NULL);

	atomic_store(&stop_storm, 1);
	pthread_join(storm, NULL);
	atomic_store(&stop_workers, 1);
	for (i = 1; i <= nthreads; i++) {
		pthread_join(ws[i].tid, NULL);
		ops += ws[i].ops;
		allocs += ws[i].allocs;
		failed += ws[i].failed;
		frees += ws[i].frees;
		handoffs += ws[i].handoffs;
		adopted += ws[i].adopted;
	}
	elapsed = now_s() - t0;

	/* Pages left in the slots: main adopts and frees them. */
	for (i = 0; i < NR_SLOTS; i++) {
		uint32_t prev;
		uint64_t gen;

		page = atomic_exchange(&slots[i], NULL);
		if (!page)
			continue;
		if (!read_stamp(page, &prev, &gen))
			note_bad(&fail_stamp, page);
		pass(page, prev, 0);
		CHECK_EQ(labyrinth_free_page(pool_of(page), page), 0);
		frees++;
		drained++;
	}

	printf("t_stress: %.2f s: %lu operations, %lu + %lu pages allocated (%lu failed: "
	       "pool dry), %lu freed, %lu handed over, %lu adopted, %lu left in slots\n",
	       elapsed, ops, allocs, atomic_load(&sig_allocs), failed + atomic_load(&sig_failed),
	       frees, handoffs, adopted, drained);
	printf("t_stress: %lu signals sent, %lu handled\n", atomic_load(&sig_sent),
	       atomic_load(&sig_handled));

#define NONE(counter, what) \
	CHECK(atomic_load(&counter) == 0, "%lu " what, atomic_load(&counter))
	NONE(fail_double, "pages handed out while another owner held them");
	NONE(fail_owner, "pages whose owner map entry was not the freeing owner's");
	NONE(fail_stamp, "pages whose stamp changed while their owner held them");
	NONE(fail_range, "pages outside the pool (or internal test failures)");
	NONE(fail_free, "frees that failed");
	NONE(fail_errno, "failed allocations with errno other than ENOMEM");
	NONE(fail_zero, "LAB_GFP_ZERO pages that were not zero");
#undef NONE
	if (atomic_load(&first_bad_page))
		fprintf(stderr, "first bad page: %p\n", (void *)atomic_load(&first_bad_page));
	CHECK(ops > 0 && allocs > 0 && handoffs > 0 && adopted > 0, "the workers made progress");
	CHECK(atomic_load(&sig_handled) > 0, "the handler ran (%lu signals sent)",
	      atomic_load(&sig_sent));
	for (p = 0; p < nr_pools; p++)
		for (i = 0; i < maps[p].pages; i++)
			if (atomic_load(&maps[p].owner[i]) != 0)
				bad++;
	CHECK(bad == 0, "%lu pages still marked owned", bad);

	/* Each pool balances; their sums are the workers' and handlers'. */
	memset(&sum, 0, sizeof(sum));
	for (p = 0; p < nr_pools; p++) {
		st = check_stats(&pools[p]);
#define STAT_EQ(field, want) \
	CHECK(st.field == (uint64_t)(want), "pool %u: stats." #field " = %llu, expected %llu", p, \
	      (unsigned long long)st.field, (unsigned long long)(want))
		STAT_EQ(pages_total, npages);
		STAT_EQ(pages_free, npages);
		STAT_EQ(pages_inuse, 0);
		STAT_EQ(frees, st.allocs);
		STAT_EQ(bad_frees, 0);
		CHECK(nr_pools == 1 || st.allocs > npages, "pool %u was not used", p);
		CHECK_EQ(labyrinth_check(&pools[p]), 0);
		sum.allocs += st.allocs;
		sum.frees += st.frees;
		sum.alloc_failed += st.alloc_failed;
	}
	st = sum;
	p = 0;
	/* Every page the workers and handlers got, plus main's first sweeps. */
	STAT_EQ(allocs, (uint64_t)npages * nr_pools + allocs + atomic_load(&sig_allocs));
	STAT_EQ(frees, (uint64_t)npages * nr_pools + frees + atomic_load(&sig_allocs));
	STAT_EQ(alloc_failed, failed + atomic_load(&sig_failed));
#undef STAT_EQ

	/* Afterwards a single thread sees the exact counts again. */
	for (p = 0; p < nr_pools; p++) {
		labyrinth_t *pool = &pools[p];

		for (i = 0; i < npages + 1; i++)
			all[i] = NULL;
		CHECK_EQ(labyrinth_alloc_bulk(pool, LAB_GFP_NOWAIT, all, npages), npages - RESERVE);
		CHECK_EQ(labyrinth_alloc_bulk(pool, LAB_GFP_ATOMIC, all + npages - RESERVE,
					      RESERVE + 1),
			 RESERVE);
		bad = 0;
		for (i = 0; i < npages; i++)
			bad += !all[i] || !claim(all[i], MAIN_ID);
		CHECK(bad == 0, "pool %u: %lu of %u pages missing or not distinct after the storm",
		      p, bad, npages);
		for (i = 0; i < npages; i++)
			if (all[i])
				pass(all[i], MAIN_ID, 0);
		CHECK_EQ(labyrinth_free_bulk(pool, all, npages), npages);
		CHECK_EQ(labyrinth_check(pool), 0);
		CHECK_EQ(labyrinth_destroy(pool), 0);
		free(maps[p].owner);
	}
	free(all);
	free(ws);
	return check_done();
}
