/* SPDX-License-Identifier: MIT */
/*
 * t_depot - pages freed by one thread and allocated by another travel in
 * whole magazines through the pool's depot, and nothing of SPEC's
 * exactness is lost on the way.
 *
 * A producer thread allocates pages and hands them to a consumer thread,
 * which frees them: the consumer's cache overflows into the depot (the
 * dump's "depot N" line shows it), and the producer's next refills take
 * those magazines.  Then, with both threads gone and pages left in the
 * depot, this thread gets exactly nr_pages - reserve NOWAIT pages and the
 * reserve with ATOMIC (the depot's pages count and are found), and once
 * everything is freed a max-order block is whole again (the depot's pages
 * go back to the bitmap to merge).
 */
#include <pthread.h>

#include "check.h"

#define PAGES 4096u
#define RESERVE 64u
#define ROUNDS 8
#define HANDOFF 1024u

static labyrinth_t pool;
static void *slots[HANDOFF];
static pthread_barrier_t full, empty;
static unsigned int produced, consumed;

static void *producer(void *arg)
{
	int r;
	unsigned int i;

	(void)arg;
	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < HANDOFF; i++)
			if ((slots[i] = labyrinth_alloc_page(&pool, LAB_GFP_NOWAIT)) != NULL)
				produced++;
		pthread_barrier_wait(&full);
		pthread_barrier_wait(&empty);
	}
	return NULL;
}

static void *consumer(void *arg)
{
	int r;
	unsigned int i;

	(void)arg;
	for (r = 0; r < ROUNDS; r++) {
		pthread_barrier_wait(&full);
		for (i = 0; i < HANDOFF; i++)
			if (slots[i] && labyrinth_free_page(&pool, slots[i]) == 0)
				consumed++;
		pthread_barrier_wait(&empty);
	}
	return NULL;
}

/* The dump's "depot N": pages in the depot's full magazines. */
static unsigned long depot_pages(void)
{
	char *buf = NULL, *at;
	size_t len = 0;
	unsigned long n = 0;
	FILE *f = open_memstream(&buf, &len);

	REQUIRE(f != NULL, "open_memstream");
	CHECK_EQ(labyrinth_dump(&pool, f), 0);
	fclose(f);
	at = strstr(buf, " depot ");
	CHECK(at != NULL, "dump has no depot: %s", buf);
	if (at)
		n = strtoul(at + 7, NULL, 10);
	free(buf);
	return n;
}

int main(void)
{
	struct labyrinth_params params = { .name = "depot", .nr_pages = PAGES,
					   .reserve_pages = RESERVE, .flags = LAB_POOL_NOLOCK };
	static void *mine[PAGES];
	struct labyrinth_stats st;
	pthread_t pt, ct;
	unsigned int n = 0, atomic = 0, i;
	void *block;

	REQUIRE(labyrinth_init(&pool, &params) == 0, "init");
	REQUIRE(pthread_barrier_init(&full, NULL, 2) == 0, "barrier");
	REQUIRE(pthread_barrier_init(&empty, NULL, 2) == 0, "barrier");
	REQUIRE(pthread_create(&pt, NULL, producer, NULL) == 0, "producer");
	REQUIRE(pthread_create(&ct, NULL, consumer, NULL) == 0, "consumer");
	pthread_join(pt, NULL);
	pthread_join(ct, NULL);

	CHECK_EQ(produced, ROUNDS * HANDOFF);
	CHECK_EQ(consumed, produced);
	CHECK(depot_pages() > 0, "the consumer's frees reached the depot");
	CHECK_EQ(labyrinth_check(&pool), 0);
	REQUIRE(labyrinth_stats(&pool, &st) == 0, "stats");
	CHECK_EQ(st.pages_free, PAGES);
	CHECK_EQ(st.allocs, ROUNDS * HANDOFF);
	CHECK_EQ(st.frees, ROUNDS * HANDOFF);

	/* One thread, pages in the depot: exact counts all the same. */
	while (n < PAGES && (mine[n] = labyrinth_alloc_page(&pool, LAB_GFP_NOWAIT)) != NULL)
		n++;
	CHECK_EQ(n, PAGES - RESERVE);
	while (n < PAGES && (mine[n] = labyrinth_alloc_page(&pool, LAB_GFP_ATOMIC)) != NULL) {
		n++;
		atomic++;
	}
	CHECK_EQ(atomic, RESERVE);
	CHECK(labyrinth_alloc_page(&pool, LAB_GFP_ATOMIC) == NULL, "the pool is empty");
	CHECK_EQ(depot_pages(), 0);
	CHECK_EQ(labyrinth_check(&pool), 0);

	/* Freed in an order that fills the cache and the depot again. */
	for (i = 0; i < n; i++)
		CHECK_EQ(labyrinth_free_page(&pool, mine[i]), 0);
	CHECK_EQ(labyrinth_check(&pool), 0);
	block = labyrinth_alloc_pages(&pool, LAB_GFP_ATOMIC, LAB_MAX_ORDER);
	CHECK(block != NULL, "a max-order block once every page is free");
	if (block)
		CHECK_EQ(labyrinth_free_pages(&pool, block, LAB_MAX_ORDER), 0);
	CHECK_EQ(labyrinth_check(&pool), 0);
	CHECK_EQ(labyrinth_destroy(&pool), 0);
	return check_done();
}
