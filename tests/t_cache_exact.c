/* Description: per-thread caches cannot be told from a plain pool: exact counts and reserve
 * for one thread, cached pages counted free, returned at thread exit, and handed to a sleeper. */
#include <pthread.h>
#include <unistd.h>

#include "check.h"

#define NPAGES 4096u

static labyrinth_t pool;
static void *pages[NPAGES];

/* One thread sees exact counts whatever it freed before (SPEC's example). */
static void exact_reserve(void)
{
	labyrinth_t small = { 0 };
	struct labyrinth_params pr = { .name = "exact", .nr_pages = 64, .reserve_pages = 8 };
	void *got[64];
	unsigned int round, i, n;

	REQUIRE(labyrinth_init(&small, &pr) == 0, "init");
	for (round = 0; round < 3; round++) {
		/* Free a varying number first, so that the cache holds pages. */
		n = labyrinth_alloc_bulk(&small, LAB_GFP_NOWAIT, got, 10 + round * 15);
		CHECK_EQ(labyrinth_free_bulk(&small, got, n), n);
		for (i = 0; i < 5 * round; i++) {
			void *pg = labyrinth_alloc_page(&small, LAB_GFP_NOWAIT);
			CHECK_EQ(labyrinth_free_page(&small, pg), 0);
		}
		for (n = 0; n < 64; n++) {
			got[n] = labyrinth_alloc_page(&small, LAB_GFP_NOWAIT);
			if (!got[n])
				break;
		}
		CHECK_EQ(n, 56);
		CHECK(labyrinth_alloc_page(&small, LAB_GFP_KERNEL) == NULL, "KERNEL takes the reserve");
		for (; n < 64; n++) {
			got[n] = labyrinth_alloc_page(&small, LAB_GFP_ATOMIC);
			if (!got[n])
				break;
		}
		CHECK_EQ(n, 64);
		errno = 0;
		CHECK(labyrinth_alloc_page(&small, LAB_GFP_ATOMIC) == NULL && errno == ENOMEM,
		      "ATOMIC on an empty pool");
		CHECK_EQ(check_stats(&small).pages_free, 0);
		CHECK_EQ(labyrinth_free_bulk(&small, got, 64), 64);
		CHECK_EQ(check_stats(&small).pages_free, 64);
		CHECK_EQ(labyrinth_check(&small), 0);
	}
	CHECK_EQ(check_stats(&small).reserve_allocs, 24);
	CHECK_EQ(labyrinth_destroy(&small), 0);
}

static pthread_barrier_t hold;

/* Allocate and free pages so that some stay in this thread's cache, then wait. */
static void *cache_some(void *arg)
{
	void *mine[32];
	unsigned int i, n;

	(void)arg;
	n = labyrinth_alloc_bulk(&pool, LAB_GFP_ATOMIC, mine, 32);
	for (i = 0; i < n; i++)
		labyrinth_free_page(&pool, mine[i]);
	pthread_barrier_wait(&hold); /* main looks at the pool now */
	pthread_barrier_wait(&hold); /* ... and lets us exit */
	return NULL;
}

static void cached_pages_are_free(void)
{
	struct labyrinth_stats st;
	pthread_t t;
	unsigned int n;

	pthread_barrier_init(&hold, NULL, 2);
	REQUIRE(pthread_create(&t, NULL, cache_some, NULL) == 0, "pthread_create");
	pthread_barrier_wait(&hold);
	st = check_stats(&pool);
	CHECK_EQ(st.pages_free, NPAGES);
	CHECK_EQ(st.pages_inuse, 0);
	CHECK_EQ(labyrinth_check(&pool), 0);
	/* Other threads' caches may hold pages back; never more than a bound. */
	n = labyrinth_alloc_bulk(&pool, LAB_GFP_ATOMIC, pages, NPAGES);
	CHECK(n >= NPAGES - 128 && n <= NPAGES, "got %u of %u with another live cache", n, NPAGES);
	CHECK_EQ(labyrinth_free_bulk(&pool, pages, n), n);
	pthread_barrier_wait(&hold);
	pthread_join(t, NULL);
	/* The thread exited: its cached pages are back; all can be had. */
	n = labyrinth_alloc_bulk(&pool, LAB_GFP_ATOMIC, pages, NPAGES);
	CHECK_EQ(n, NPAGES);
	CHECK_EQ(labyrinth_free_bulk(&pool, pages, n), n);
	CHECK_EQ(labyrinth_check(&pool), 0);
	pthread_barrier_destroy(&hold);
}

static void *sleeper(void *arg)
{
	labyrinth_t *lab = arg;

	return labyrinth_alloc_page(lab, LAB_GFP_KERNEL);
}

/* A page freed on a thread with a cache reaches a LAB_GFP_KERNEL sleeper. */
static void free_reaches_sleeper(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_params pr = { .name = "sleep", .nr_pages = 256, .wait_ms = -1 };
	void *all[256], *got = NULL;
	struct labyrinth_stats st;
	pthread_t t;
	unsigned int n, spins;

	REQUIRE(labyrinth_init(&lab, &pr) == 0, "init");
	n = labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC, all, 256);
	CHECK_EQ(n, 256);
	REQUIRE(pthread_create(&t, NULL, sleeper, &lab) == 0, "pthread_create");
	for (spins = 0; spins < 5000; spins++) { /* until it sleeps, at most 5 s */
		st = check_stats(&lab);
		if (st.waits)
			break;
		usleep(1000);
	}
	CHECK(st.waits > 0, "the KERNEL caller never slept");
	/* This thread has a cache with room: the page must still go to the sleeper. */
	CHECK_EQ(labyrinth_free_page(&lab, all[0]), 0);
	pthread_join(t, &got);
	CHECK(got == all[0], "the sleeper got %p, not the freed page %p", got, all[0]);
	all[0] = got;
	CHECK_EQ(labyrinth_free_bulk(&lab, all, 256), 256);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/*
 * The library's thread-exit hook must never touch another pthread key:
 * made before any pool, the caller's key is likely key 0, what an
 * uninitialised key variable would name.  A pool too small for caches
 * is used first, then one with caches.
 */
static void caller_thread_key_untouched(void)
{
	labyrinth_t small = { 0 }, big = { 0 };
	struct labyrinth_params ps = { .name = "small", .nr_pages = 16 };
	struct labyrinth_params pb = { .name = "big", .nr_pages = 1024 };
	static int mine;
	pthread_key_t key;
	void *pg;

	REQUIRE(pthread_key_create(&key, NULL) == 0, "pthread_key_create");
	REQUIRE(pthread_setspecific(key, &mine) == 0, "pthread_setspecific");
	REQUIRE(labyrinth_init(&small, &ps) == 0, "init small");
	pg = labyrinth_alloc_page(&small, LAB_GFP_ATOMIC);
	CHECK_EQ(labyrinth_free_page(&small, pg), 0);
	CHECK(pthread_getspecific(key) == &mine, "key %u clobbered by a pool without caches",
	      (unsigned int)key);
	REQUIRE(labyrinth_init(&big, &pb) == 0, "init big");
	pg = labyrinth_alloc_page(&big, LAB_GFP_ATOMIC);
	CHECK_EQ(labyrinth_free_page(&big, pg), 0);
	CHECK(pthread_getspecific(key) == &mine, "key %u clobbered", (unsigned int)key);
	CHECK_EQ(labyrinth_destroy(&small), 0);
	CHECK_EQ(labyrinth_destroy(&big), 0);
	pthread_key_delete(key);
}

int main(void)
{
	struct labyrinth_params pr = { .name = "cache", .nr_pages = NPAGES };

	caller_thread_key_untouched();
	exact_reserve();
	pr.flags = nolock_unless_lockable(pr.name, (size_t)NPAGES * 4096);
	REQUIRE(labyrinth_init(&pool, &pr) == 0, "init");
	cached_pages_are_free();
	free_reaches_sleeper();
	/* Pages cached by this very thread count as free: destroy succeeds. */
	labyrinth_free_page(&pool, labyrinth_alloc_page(&pool, LAB_GFP_ATOMIC));
	CHECK_EQ(labyrinth_destroy(&pool), 0);
	return check_done();
}
