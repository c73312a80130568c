/* SPDX-License-Identifier: MIT */
/*
 * t_multi_pool: one thread, many pools, every one on the inline fast path.
 * The fast path finds a thread's cache from the pool's labyrinth_t and the
 * thread's slot (labyrinth_fast.h), so a thread that uses four pools in
 * turn, or an rx and a tx pool interleaved, is served inline on every call
 * after its first on each pool (the inline path's own result says so),
 * with exact counts; a signal handler that allocates from another pool
 * than the one it interrupted (a storm of them) never sees a page twice,
 * and the counts balance exactly after; a pool destroyed after another
 * thread's fast path used it, and a new pool made at the same
 * labyrinth_t, never lead that thread back to the old cache (its memory
 * is made unreadable to prove it); copies, hybrids and garbage
 * labyrinth_t's are refused as the library refuses them; pools of one
 * size keep their caches and state bytes at different offsets in a page
 * (no 4K aliasing between them); an exited
 * thread's caches are empty and unclaimed; a fork() child's inherited
 * pools are not served; a pool without caches is served by the library.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"

#define POOLS 4u
#define PAGES 256u
#define TURNS 20000u

static labyrinth_t pools[POOLS];

static void init_pool(labyrinth_t *lab, const char *name, unsigned int flags)
{
	struct labyrinth_params p = { .name = name, .nr_pages = PAGES,
				      .flags = flags | nolock_unless_lockable(name, PAGES * 4096) };

	REQUIRE(labyrinth_init(lab, &p) == 0, "init %s", name);
}

/* This thread's cache in lab as the fast path computes it, claimed or
 * not (NULL while the thread has no slot). */
static struct labyrinth__cache *slot_cache(const labyrinth_t *lab, int32_t slot)
{
	if (slot < 0)
		return NULL;
	return (struct labyrinth__cache *)((unsigned char *)lab->lab_private_caches +
					   (size_t)slot * lab->lab_private_stride);
}

static void check_balanced(labyrinth_t *lab, uint64_t allocs, const char *what)
{
	struct labyrinth_stats st = check_stats(lab);

	CHECK(st.pages_inuse == 0, "%s: %llu pages in use", what,
	      (unsigned long long)st.pages_inuse);
	CHECK(st.allocs == allocs && st.frees == allocs, "%s: allocs %llu frees %llu, want %llu",
	      what, (unsigned long long)st.allocs, (unsigned long long)st.frees,
	      (unsigned long long)allocs);
	CHECK(st.pages_free == st.pages_total, "%s: free %llu of %llu", what,
	      (unsigned long long)st.pages_free, (unsigned long long)st.pages_total);
	CHECK_EQ(labyrinth_check(lab), 0);
}

/* Four pools in turn, then an rx and a tx pool interleaved: after the
 * first call on each pool, the inline path serves every call. */
static void test_turns(void)
{
	uint64_t allocs[POOLS] = { 0 };
	unsigned int i, misses = 0, wrong = 0;

	for (i = 0; i < POOLS; i++) { /* the first call on each: the library claims */
		void *pg = labyrinth_alloc_page(&pools[i], LAB_GFP_ATOMIC);

		REQUIRE(pg != NULL, "first page of pool %u", i);
		CHECK_EQ(labyrinth_free_page(&pools[i], pg), 0);
		allocs[i]++;
	}
	for (i = 0; i < POOLS; i++) {
		CHECK(labyrinth__fast_cache(&pools[i]) != NULL, "pool %u has no fast path", i);
		CHECK(i == 0 || labyrinth__fast_cache(&pools[i]) != labyrinth__fast_cache(&pools[i - 1]),
		      "pools %u and %u share a cache", i - 1, i);
	}
	for (i = 0; i < TURNS; i++) {
		labyrinth_t *lab = &pools[i % POOLS];
		void *pg;

		if (!labyrinth__inline_alloc(lab, LAB_GFP_ATOMIC, &pg)) {
			misses++;
			pg = labyrinth_alloc_page(lab, LAB_GFP_ATOMIC);
			REQUIRE(pg != NULL, "page %u", i);
		}
		allocs[i % POOLS]++;
		wrong += !labyrinth_owns(lab, pg);
		*(volatile char *)pg = (char)i;
		if (!labyrinth__inline_free(lab, pg)) {
			misses++;
			wrong += labyrinth_free_page(lab, pg) != 0;
		}
	}
	CHECK(misses == 0, "four pools in turn: %u of %u calls went to the library", misses,
	      2 * TURNS);
	CHECK_EQ(wrong, 0);

	/* rx from pool 0, tx from pool 1, interleaved, each freed later */
	misses = 0;
	for (i = 0; i < TURNS; i++) {
		void *rx = NULL, *tx = NULL;

		misses += !labyrinth__inline_alloc(&pools[0], LAB_GFP_NOWAIT, &rx);
		misses += !labyrinth__inline_alloc(&pools[1], LAB_GFP_ATOMIC, &tx);
		if (misses)
			break;
		allocs[0]++;
		allocs[1]++;
		memcpy(tx, rx, 64);
		misses += !labyrinth__inline_free(&pools[0], rx);
		misses += !labyrinth__inline_free(&pools[1], tx);
	}
	CHECK(misses == 0, "rx/tx interleaved: %u calls went to the library", misses);
	for (i = 0; i < POOLS; i++)
		check_balanced(&pools[i], allocs[i], "turns");
}

/*
 * A storm of signals on a thread that allocates and frees on pool 0; the
 * handler allocates from pool 1 (and every fourth time from pool 0, the
 * one it interrupted), claims each page in an owner map, writes it and
 * frees it.  No page is ever owned twice and the counts balance exactly.
 */
#define OWNER_WORKER 1u
#define OWNER_HANDLER 2u
static _Atomic uint32_t owner[2][PAGES];
static atomic_ulong sig_allocs[2], sig_failed, sig_runs, double_owner;
static atomic_int storm_stop;
static pthread_t worker_tid;

static uint32_t page_no(unsigned int pool, const void *pg)
{
	void *base;
	size_t len;

	if (labyrinth_region(&pools[pool], &base, &len) || (char *)pg < (char *)base ||
	    (size_t)((char *)pg - (char *)base) >= len)
		return PAGES; /* not a page of the pool: flagged by the caller */
	return (uint32_t)(((char *)pg - (char *)base) / 4096);
}

static int take(unsigned int pool, void *pg, uint32_t who)
{
	uint32_t n = page_no(pool, pg), free_mark = 0;

	if (n >= PAGES || !atomic_compare_exchange_strong(&owner[pool][n], &free_mark, who)) {
		atomic_fetch_add(&double_owner, 1);
		return 0;
	}
	return 1;
}

static void give(unsigned int pool, void *pg)
{
	uint32_t n = page_no(pool, pg);

	if (n < PAGES)
		atomic_store(&owner[pool][n], 0);
}

static void handler(int sig)
{
	unsigned int pool = atomic_fetch_add(&sig_runs, 1) % 4 == 3 ? 0 : 1;
	void *pg = labyrinth_alloc_page(&pools[pool], LAB_GFP_ATOMIC);
	int saved = errno;

	(void)sig;
	if (!pg) {
		atomic_fetch_add(&sig_failed, 1);
		errno = saved;
		return;
	}
	atomic_fetch_add(&sig_allocs[pool], 1);
	if (take(pool, pg, OWNER_HANDLER)) {
		memset(pg, 0x5a, 128);
		give(pool, pg);
	}
	if (labyrinth_free_page(&pools[pool], pg) != 0)
		atomic_fetch_add(&double_owner, 1);
	errno = saved;
}

static void *storm(void *arg)
{
	(void)arg;
	while (!atomic_load(&storm_stop)) {
		pthread_kill(worker_tid, SIGUSR1);
		sched_yield();
	}
	return NULL;
}

static void test_signal_storm(void)
{
	struct labyrinth_stats st0 = check_stats(&pools[0]), st1 = check_stats(&pools[1]);
	struct sigaction sa = { .sa_handler = handler };
	unsigned long mine = 0, failed = 0;
	void *held[8] = { 0 };
	pthread_t t;
	unsigned int i;
	time_t deadline = time(NULL) + 60; /* a loaded machine schedules the storm late */

	worker_tid = pthread_self();
	sigemptyset(&sa.sa_mask);
	REQUIRE(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
	REQUIRE(pthread_create(&t, NULL, storm, NULL) == 0, "storm thread");
	for (i = 0; i < 400000 || atomic_load(&sig_runs) < 1000; i++) {
		unsigned int k = i % 8;

		if (held[k]) {
			give(0, held[k]);
			if (labyrinth_free_page(&pools[0], held[k]) != 0)
				atomic_fetch_add(&double_owner, 1);
			held[k] = NULL;
		}
		held[k] = labyrinth_alloc_page(&pools[0], LAB_GFP_NOWAIT);
		if (!held[k]) {
			failed++;
			continue;
		}
		mine++;
		if (!take(0, held[k], OWNER_WORKER)) {
			held[k] = NULL; /* not ours to free */
			continue;
		}
		*(volatile char *)held[k] = 1;
		if (!(i & 4095) && time(NULL) > deadline)
			break; /* the storm did not get through: reported below */
	}
	atomic_store(&storm_stop, 1);
	pthread_join(t, NULL);
	for (i = 0; i < 8; i++) {
		if (held[i]) {
			give(0, held[i]);
			CHECK_EQ(labyrinth_free_page(&pools[0], held[i]), 0);
		}
	}
	signal(SIGUSR1, SIG_DFL);
	CHECK(atomic_load(&sig_runs) >= 1000, "only %lu signals handled",
	      (unsigned long)atomic_load(&sig_runs));
	CHECK_EQ(atomic_load(&double_owner), 0);
	CHECK_EQ(failed, 0);
	CHECK_EQ(atomic_load(&sig_failed), 0);
	check_balanced(&pools[0], st0.allocs + mine + atomic_load(&sig_allocs[0]), "storm pool 0");
	check_balanced(&pools[1], st1.allocs + atomic_load(&sig_allocs[1]), "storm pool 1");
	CHECK(labyrinth__fast_cache(&pools[0]) && labyrinth__fast_cache(&pools[1]),
	      "the fast path serves both pools after the storm");
}

/*
 * A pool destroyed after another thread's fast path used it; a new pool
 * at the same labyrinth_t.  The old cache's memory is made unreadable
 * (if the new pool did not take it), so a thread that went back to it
 * would crash this test.
 */
static labyrinth_t doomed;
static pthread_barrier_t step;
static int other_bad;

static void *other_thread(void *arg)
{
	void *pg;

	(void)arg;
	pg = labyrinth_alloc_page(&doomed, LAB_GFP_ATOMIC);
	other_bad += pg == NULL;
	other_bad += labyrinth_free_page(&doomed, pg) != 0;
	pg = labyrinth_alloc_page(&doomed, LAB_GFP_ATOMIC); /* inline now */
	other_bad += labyrinth_free_page(&doomed, pg) != 0;
	other_bad += labyrinth__fast_cache(&doomed) == NULL;
	pthread_barrier_wait(&step); /* main destroys and re-inits */
	pthread_barrier_wait(&step);
	other_bad += labyrinth__fast_cache(&doomed) != NULL; /* new pool: not claimed */
	pg = labyrinth_alloc_page(&doomed, LAB_GFP_ATOMIC);
	other_bad += pg == NULL || !labyrinth_owns(&doomed, pg);
	other_bad += labyrinth_free_page(&doomed, pg) != 0;
	other_bad += labyrinth__fast_cache(&doomed) == NULL; /* claimed again */
	pg = labyrinth_alloc_page(&doomed, LAB_GFP_ATOMIC);
	other_bad += labyrinth_free_page(&doomed, pg) != 0;
	pthread_barrier_wait(&step);
	return NULL;
}

static void test_destroyed_under_other_thread(void)
{
	pthread_t t;
	void *old_caches, *fence;
	uint64_t stride;
	long page = sysconf(_SC_PAGESIZE);
	struct labyrinth_stats st;

	init_pool(&doomed, "mp-doomed", 0);
	pthread_barrier_init(&step, NULL, 2);
	REQUIRE(pthread_create(&t, NULL, other_thread, NULL) == 0, "thread");
	pthread_barrier_wait(&step);
	old_caches = doomed.lab_private_caches;
	stride = doomed.lab_private_stride;
	CHECK_EQ(labyrinth_destroy(&doomed), 0);
	/* The old caches' first pages, unreadable now (slot 0 to a few). */
	fence = mmap((void *)((uintptr_t)old_caches & ~(uintptr_t)(page - 1)), (size_t)page * 4,
		     PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (fence == MAP_FAILED)
		printf("note: the old caches' address is taken again; not fenced\n");
	CHECK(doomed.lab_private_caches == NULL && doomed.lab_private_stride == 0,
	      "destroy left the caches in the labyrinth_t");
	init_pool(&doomed, "mp-reborn", 0);
	CHECK(doomed.lab_private_caches != old_caches || fence == MAP_FAILED,
	      "new caches at the fenced address");
	(void)stride;
	pthread_barrier_wait(&step);
	pthread_barrier_wait(&step);
	pthread_join(t, NULL);
	CHECK_EQ(other_bad, 0);
	st = check_stats(&doomed);
	CHECK_EQ(st.allocs, 2);
	CHECK_EQ(st.pages_inuse, 0);
	CHECK_EQ(st.pages_cached, 0); /* the thread exited: its caches came back */
	CHECK_EQ(labyrinth_destroy(&doomed), 0);
	if (fence != MAP_FAILED)
		munmap(fence, (size_t)page * 4);
	pthread_barrier_destroy(&step);
}

/* Copies, hybrids and garbage: refused, pools unchanged. */
static void test_copies_and_garbage(void)
{
	labyrinth_t copy, hybrid, junk;
	void *pg = labyrinth_alloc_page(&pools[2], LAB_GFP_ATOMIC);
	struct labyrinth_stats st0 = check_stats(&pools[2]), st1 = check_stats(&pools[3]);
	unsigned int i;

	REQUIRE(pg != NULL, "page");
	memcpy(&copy, &pools[2], sizeof(copy));
	CHECK(labyrinth__fast_cache(&copy) == NULL, "a copy has a fast path");
	errno = 0;
	CHECK(labyrinth_alloc_page(&copy, LAB_GFP_ATOMIC) == NULL && errno == EINVAL, "copy alloc");
	CHECK_EQ(labyrinth_free_page(&copy, pg), -EINVAL);
	/* pool 2's core with pool 3's caches: pool 3's cache is not claimed
	 * by this labyrinth_t either */
	memcpy(&hybrid, &pools[2], sizeof(hybrid));
	hybrid.lab_private_caches = pools[3].lab_private_caches;
	hybrid.lab_private_stride = pools[3].lab_private_stride;
	CHECK(labyrinth__fast_cache(&hybrid) == NULL, "a hybrid has a fast path");
	errno = 0;
	CHECK(labyrinth_alloc_page(&hybrid, LAB_GFP_ATOMIC) == NULL && errno == EINVAL, "hybrid");
	CHECK_EQ(labyrinth_free_page(&hybrid, pg), -EINVAL);
	for (i = 0; i < 3; i++) {
		memset(&junk, i == 0 ? 0 : i == 1 ? 0xff : 0x41, sizeof(junk));
		CHECK(labyrinth__fast_cache(&junk) == NULL, "garbage %u has a fast path", i);
		errno = 0;
		CHECK(labyrinth_alloc_page(&junk, LAB_GFP_ATOMIC) == NULL && errno == EINVAL,
		      "garbage %u alloc", i);
		CHECK_EQ(labyrinth_free_page(&junk, pg), -EINVAL);
	}
	/* (no bad_frees: a call on no pool counts on none) */
	{
		struct labyrinth_stats now = check_stats(&pools[2]);

		for (i = 0; i < sizeof(now) / 8; i++)
			CHECK(((uint64_t *)&now)[i] == ((uint64_t *)&st0)[i],
			      "pool 2 changed by copies: stats word %u: %llu, was %llu", i,
			      (unsigned long long)((uint64_t *)&now)[i],
			      (unsigned long long)((uint64_t *)&st0)[i]);
	}
	CHECK_EQ(check_stats(&pools[3]).allocs, st1.allocs);
	CHECK_EQ(labyrinth_free_page(&pools[2], pg), 0);
}

/* A thread that used every pool exits: its caches come back empty and
 * unclaimed, so the next thread given its slot claims them itself. */
static _Atomic int32_t exited_slot = -1;

static void *user_of_all(void *arg)
{
	unsigned int i, k;

	(void)arg;
	for (k = 0; k < 100; k++)
		for (i = 0; i < POOLS; i++) {
			void *pg = labyrinth_alloc_page(&pools[i], LAB_GFP_ATOMIC);

			if (pg)
				labyrinth_free_page(&pools[i], pg);
		}
	atomic_store(&exited_slot, labyrinth_fast_slot);
	return NULL;
}

static void test_thread_exit(void)
{
	pthread_t t;
	unsigned int i;
	int32_t slot;

	REQUIRE(pthread_create(&t, NULL, user_of_all, NULL) == 0, "thread");
	pthread_join(t, NULL);
	slot = atomic_load(&exited_slot);
	REQUIRE(slot >= 0, "the thread had no slot");
	for (i = 0; i < POOLS; i++) {
		struct labyrinth__cache *c = slot_cache(&pools[i], slot);

		CHECK(c->lab == NULL, "pool %u: the exited thread's cache is still claimed", i);
		CHECK_EQ(c->count, 0);
		CHECK_EQ(check_stats(&pools[i]).pages_inuse, 0);
	}
	CHECK(slot_cache(&pools[0], labyrinth_fast_slot)->lab == &pools[0],
	      "this thread's own claim is gone");
}

/* A fork() child's inherited pools: the fast path declines, the library
 * refuses (EINVAL). */
static void test_fork_child(void)
{
	pid_t pid;
	int status;

	CHECK(labyrinth__fast_cache(&pools[0]) != NULL, "no fast path before fork");
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		int bad = labyrinth__fast_cache(&pools[0]) != NULL;

		errno = 0;
		bad += labyrinth_alloc_page(&pools[0], LAB_GFP_ATOMIC) != NULL || errno != EINVAL;
		_exit(bad);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child: status %#x", status);
	CHECK(labyrinth__fast_cache(&pools[0]) != NULL, "the parent lost its fast path");
}

/* Four pools of one size: this thread's cache, and the state bytes, lie
 * at a different offset in a 4 KiB page in each (pool.c's colours), so
 * that a thread alternating between them never has a load wait on a store
 * to another pool's word with the same low 12 bits (4K aliasing). */
static void test_colours(void)
{
	uintptr_t cache_off[POOLS], state_off[POOLS];
	int32_t slot = labyrinth_fast_slot;
	unsigned int i, j;

	REQUIRE(slot >= 0, "this thread has a slot after test_turns");
	for (i = 0; i < POOLS; i++) {
		struct labyrinth__cache *c = slot_cache(&pools[i], slot);

		cache_off[i] = (uintptr_t)c % 4096u;
		state_off[i] = (uintptr_t)c->state % 4096u;
	}
	for (i = 0; i < POOLS; i++)
		for (j = i + 1; j < POOLS; j++) {
			CHECK(cache_off[i] != cache_off[j],
			      "pools %u and %u: this thread's caches at offset %lu in a page", i, j,
			      (unsigned long)cache_off[i]);
			CHECK(state_off[i] != state_off[j],
			      "pools %u and %u: state bytes at offset %lu in a page", i, j,
			      (unsigned long)state_off[i]);
		}
}

/* A pool without caches (debug): never on the fast path, served whole. */
static void test_no_caches(void)
{
	labyrinth_t dbg;
	void *pg;

	init_pool(&dbg, "mp-debug", LAB_POOL_DEBUG);
	pg = labyrinth_alloc_page(&dbg, LAB_GFP_ATOMIC);
	CHECK(pg != NULL, "debug pool page");
	CHECK(labyrinth__fast_cache(&dbg) == NULL, "a pool without caches has a fast path");
	CHECK_EQ(labyrinth_free_page(&dbg, pg), 0);
	CHECK_EQ(labyrinth_free_page(&dbg, pg), -EALREADY);
	CHECK_EQ(labyrinth_destroy(&dbg), 0);
}

int main(void)
{
	static const char *names[POOLS] = { "mp-0", "mp-1", "mp-2", "mp-3" };
	unsigned int i;

	for (i = 0; i < POOLS; i++)
		init_pool(&pools[i], names[i], 0);
	test_turns();
	test_colours();
	test_signal_storm();
	test_copies_and_garbage();
	test_destroyed_under_other_thread();
	test_thread_exit();
	test_fork_child();
	test_no_caches();
	for (i = 0; i < POOLS; i++)
		CHECK_EQ(labyrinth_destroy(&pools[i]), 0);
	return check_done();
}
