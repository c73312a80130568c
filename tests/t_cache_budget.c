/* SPDX-License-Identifier: MIT */
/*
 * t_cache_budget - caches cannot strand the pool, whatever the number of
 * threads (SPEC "Caches and exactness"): all caches of a pool together
 * hold at most an eighth of its pages.
 *
 * 300 threads each take one LAB_GFP_NOWAIT page from a 4096-page pool and
 * hold it (and their caches) until all have tried: every one must get its
 * page.  Then, with all of them still alive, this thread takes LAB_GFP_ATOMIC
 * pages until one fails: that may only happen once no more than an eighth
 * of the pool is left free.  stats.pages_cached shows the cached pages and
 * stays within the eighth throughout.
 */
#include <pthread.h>

#include "check.h"

#define THREADS 300
#define PAGES 4096u
#define FRACTION 8u

static labyrinth_t pool;
static pthread_barrier_t all_tried, may_exit;
static void *got[THREADS];

static void *holder(void *arg)
{
	long i = (long)arg;

	got[i] = labyrinth_alloc_page(&pool, LAB_GFP_NOWAIT);
	pthread_barrier_wait(&all_tried);
	pthread_barrier_wait(&may_exit);
	if (got[i])
		labyrinth_free_page(&pool, got[i]);
	return NULL;
}

int main(void)
{
	struct labyrinth_params params = { .name = "budget", .nr_pages = PAGES,
					   .flags = LAB_POOL_NOLOCK };
	static void *mine[PAGES];
	struct labyrinth_stats st;
	pthread_t th[THREADS];
	pthread_attr_t attr;
	unsigned int n = 0, ok = 0, i;

	REQUIRE(labyrinth_init(&pool, &params) == 0, "init");
	REQUIRE(pthread_barrier_init(&all_tried, NULL, THREADS + 1) == 0, "barrier");
	REQUIRE(pthread_barrier_init(&may_exit, NULL, THREADS + 1) == 0, "barrier");
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 64 * 1024);
	for (i = 0; i < THREADS; i++)
		REQUIRE(pthread_create(&th[i], &attr, holder, (void *)(long)i) == 0,
			"thread %u", i);
	pthread_barrier_wait(&all_tried);

	for (i = 0; i < THREADS; i++)
		ok += got[i] != NULL;
	CHECK_EQ(ok, THREADS);
	REQUIRE(labyrinth_stats(&pool, &st) == 0, "stats");
	CHECK_EQ(st.pages_inuse, THREADS);
	CHECK_EQ(st.pages_free, PAGES - THREADS);
	CHECK(st.pages_cached <= PAGES / FRACTION, "%llu pages cached",
	      (unsigned long long)st.pages_cached);
	CHECK(st.pages_cached > 0, "the first threads keep caches");

	/* Everything else, ATOMIC, while the holders and their caches live. */
	while (n < PAGES && (mine[n] = labyrinth_alloc_page(&pool, LAB_GFP_ATOMIC)) != NULL)
		n++;
	REQUIRE(labyrinth_stats(&pool, &st) == 0, "stats");
	CHECK(st.pages_free <= PAGES / FRACTION,
	      "ATOMIC failed with %llu free pages, more than an eighth of %u",
	      (unsigned long long)st.pages_free, PAGES);
	CHECK(st.pages_cached <= PAGES / FRACTION, "%llu pages cached",
	      (unsigned long long)st.pages_cached);
	CHECK_EQ(st.pages_inuse + st.pages_free, PAGES);
	CHECK_EQ(n + THREADS, st.pages_inuse);
	CHECK_EQ(labyrinth_check(&pool), 0);

	for (i = 0; i < n; i++)
		CHECK_EQ(labyrinth_free_page(&pool, mine[i]), 0);
	pthread_barrier_wait(&may_exit);
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);

	/* Every thread gave its cache back at exit. */
	REQUIRE(labyrinth_stats(&pool, &st) == 0, "stats");
	CHECK_EQ(st.pages_free, PAGES);
	CHECK_EQ(labyrinth_check(&pool), 0);
	CHECK_EQ(labyrinth_destroy(&pool), 0);
	return check_done();
}
