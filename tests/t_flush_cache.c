/* SPDX-License-Identifier: MIT */
/*
 * t_flush_cache - labyrinth_flush_cache(): a thread that frees pages
 * another thread allocates gives its cached pages back on demand.
 *
 * This thread takes every page of a 256-page pool; a second thread frees
 * 64 of them, and some stay in its cache, out of this thread's reach: an
 * ATOMIC allocation here fails while stats still counts them free.  The
 * freeing thread calls labyrinth_flush_cache(): it returns exactly the
 * number its cache held, pages_cached drops to 0, and this thread gets
 * every one of them.  A second flush moves nothing; NULL is -EINVAL; a
 * debug pool (no caches) flushes nothing and stays exact.
 */
#include <pthread.h>

#include "check.h"

#define PAGES 256u
#define HANDED 64u

static labyrinth_t pool;
static void *pages[PAGES];
static pthread_barrier_t step;
static int flushed, flushed_again;

static void *freer(void *arg)
{
	(void)arg;
	CHECK_EQ(labyrinth_free_bulk(&pool, pages, HANDED), HANDED);
	pthread_barrier_wait(&step); /* freed: the main thread looks */
	pthread_barrier_wait(&step); /* it found some missing: flush */
	flushed = labyrinth_flush_cache(&pool);
	flushed_again = labyrinth_flush_cache(&pool);
	pthread_barrier_wait(&step);
	pthread_barrier_wait(&step); /* stay alive (caches live) until checked */
	return NULL;
}

/* ATOMIC pages into pages[from..] until one fails: how many. */
static unsigned int take_all(unsigned int from)
{
	unsigned int n = from;
	void *page;

	while (n < PAGES && (page = labyrinth_alloc_page(&pool, LAB_GFP_ATOMIC)) != NULL)
		pages[n++] = page;
	return n - from;
}

int main(void)
{
	struct labyrinth_params params = { .name = "flush", .nr_pages = PAGES,
					   .flags = LAB_POOL_NOLOCK };
	struct labyrinth_stats st;
	unsigned int got, stuck;
	pthread_t th;

	CHECK_EQ(labyrinth_flush_cache(NULL), -EINVAL);
	REQUIRE(labyrinth_init(&pool, &params) == 0, "init");
	CHECK_EQ(labyrinth_flush_cache(&pool), 0); /* nothing cached yet */
	REQUIRE(take_all(0) == PAGES, "the whole pool");
	REQUIRE(pthread_barrier_init(&step, NULL, 2) == 0, "barrier");
	REQUIRE(pthread_create(&th, NULL, freer, NULL) == 0, "thread");
	pthread_barrier_wait(&step);

	/* The pages the other thread keeps cached are free, but not here. */
	got = take_all(0);
	REQUIRE(labyrinth_stats(&pool, &st) == 0, "stats");
	stuck = HANDED - got;
	CHECK(stuck > 0, "the freeing thread cached none of %u pages", HANDED);
	CHECK_EQ(st.pages_cached, stuck);
	CHECK_EQ(st.pages_free, stuck);
	pthread_barrier_wait(&step);
	pthread_barrier_wait(&step);

	CHECK_EQ(flushed, (int)stuck);
	CHECK_EQ(flushed_again, 0);
	REQUIRE(labyrinth_stats(&pool, &st) == 0, "stats");
	CHECK_EQ(st.pages_cached, 0);
	CHECK_EQ(st.pages_free, stuck);
	CHECK_EQ(take_all(got), stuck); /* within reach now, every one */
	REQUIRE(labyrinth_stats(&pool, &st) == 0, "stats");
	CHECK_EQ(st.pages_inuse, PAGES);
	CHECK_EQ(labyrinth_check(&pool), 0);
	pthread_barrier_wait(&step);
	pthread_join(th, NULL);
	CHECK_EQ(labyrinth_free_bulk(&pool, pages, PAGES), PAGES);
	CHECK_EQ(labyrinth_destroy(&pool), 0);

	/* A debug pool has no caches: nothing to flush, counts unchanged. */
	params.flags |= LAB_POOL_DEBUG;
	REQUIRE(labyrinth_init(&pool, &params) == 0, "init debug");
	pages[0] = labyrinth_alloc_page(&pool, LAB_GFP_ATOMIC);
	CHECK(pages[0] != NULL, "a page");
	CHECK_EQ(labyrinth_free_page(&pool, pages[0]), 0);
	CHECK_EQ(labyrinth_flush_cache(&pool), 0);
	REQUIRE(labyrinth_stats(&pool, &st) == 0, "stats");
	CHECK_EQ(st.pages_free, PAGES);
	CHECK_EQ(labyrinth_check(&pool), 0);
	CHECK_EQ(labyrinth_destroy(&pool), 0);
	return check_done();
}
