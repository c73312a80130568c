/* SPDX-License-Identifier: MIT */
/*
 * t_nocache - LAB_POOL_NOCACHE: a pool without per-thread caches, where a
 * page freed on one thread can be taken at once by every other (what the
 * DPDK mempool driver needs: DPDK's per-lcore cache sits above it).
 *
 * This thread takes every page of a 1024-page pool (a pool whose caches
 * would hold up to 64 pages a thread); another thread frees them all, in
 * single frees and in bulk, and stays alive; then this thread takes every
 * page again, with LAB_GFP_NOWAIT, and the stats show none cached.  The
 * flag changes nothing else: double frees are still refused.
 */
#include <pthread.h>

#include "check.h"

#define PAGES 1024u

static labyrinth_t pool;
static void *pages[PAGES];
static pthread_barrier_t freed, may_exit;

static void *freer(void *arg)
{
	unsigned int i;

	(void)arg;
	for (i = 0; i < PAGES / 2; i++)
		CHECK_EQ(labyrinth_free_page(&pool, pages[i]), 0);
	CHECK_EQ(labyrinth_free_bulk(&pool, pages + PAGES / 2, PAGES / 2), PAGES / 2);
	pthread_barrier_wait(&freed);
	pthread_barrier_wait(&may_exit); /* alive while the other thread takes them */
	return NULL;
}

static unsigned int take_all(void)
{
	unsigned int n = 0;

	while (n < PAGES && (pages[n] = labyrinth_alloc_page(&pool, LAB_GFP_NOWAIT)))
		n++;
	return n;
}

int main(void)
{
	struct labyrinth_params params = { .name = "nocache", .nr_pages = PAGES,
					   .flags = LAB_POOL_NOCACHE };
	struct labyrinth_stats st;
	pthread_t t;
	unsigned int i;

	REQUIRE(labyrinth_init(&pool, &params) == 0, "labyrinth_init: %s", strerror(errno));
	CHECK_EQ(take_all(), PAGES);
	pthread_barrier_init(&freed, NULL, 2);
	pthread_barrier_init(&may_exit, NULL, 2);
	REQUIRE(pthread_create(&t, NULL, freer, NULL) == 0, "pthread_create");
	pthread_barrier_wait(&freed);

	REQUIRE(labyrinth_stats(&pool, &st) == 0, "labyrinth_stats");
	CHECK_EQ(st.pages_free, PAGES);
	CHECK_EQ(st.pages_cached, 0);
	/* every page the other thread freed, while it lives */
	CHECK_EQ(take_all(), PAGES);
	CHECK(labyrinth_alloc_page(&pool, LAB_GFP_ATOMIC) == NULL, "a page more than the pool");
	pthread_barrier_wait(&may_exit);
	pthread_join(t, NULL);

	CHECK_EQ(labyrinth_free_page(&pool, pages[0]), 0);
	CHECK_EQ(labyrinth_free_page(&pool, pages[0]), -EALREADY);
	CHECK_EQ(labyrinth_free_bulk(&pool, pages, 2), 1); /* pages[0] again: refused */
	REQUIRE(labyrinth_stats(&pool, &st) == 0, "labyrinth_stats");
	CHECK_EQ(st.bad_frees, 2);
	for (i = 2; i < PAGES; i++)
		labyrinth_free_page(&pool, pages[i]);
	CHECK_EQ(labyrinth_check(&pool), 0);
	CHECK_EQ(labyrinth_destroy(&pool), 0);
	return check_done();
}
