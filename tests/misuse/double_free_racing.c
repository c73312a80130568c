/* Description: two threads race to free the same page of a debug pool: exactly one gets 0, the other -EALREADY, and one line "double free of page <addr>" is printed. */
#include "misuse.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

static labyrinth_t lab;
static void *page;
static atomic_int ready, go;
static int results[2];

static void *racer(void *arg)
{
	int *result = arg;

	atomic_fetch_add(&ready, 1);
	while (!atomic_load_explicit(&go, memory_order_acquire))
		; /* spin: both threads leave at the same instant */
	*result = labyrinth_free_pages(&lab, page, 0);
	return NULL;
}

int main(int argc, char **argv)
{
	struct labyrinth_stats before, after;
	pthread_t t[2];
	int i, winners = 0, loser = 0;

	misuse_args(argc, argv);
	misuse_pool(&lab, "misuse", 64);
	page = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	MISUSE_REQUIRE(page != NULL, "alloc");
	misuse_addr("addr", page);
	before = misuse_stats(&lab);

	for (i = 0; i < 2; i++)
		MISUSE_REQUIRE(pthread_create(&t[i], NULL, racer, &results[i]) == 0, "thread");
	while (atomic_load(&ready) < 2)
		sched_yield();
	atomic_store_explicit(&go, 1, memory_order_release);
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);

	for (i = 0; i < 2; i++) {
		if (results[i] == 0)
			winners++;
		else
			loser = results[i];
	}
	printf("results %d %d\n", results[0], results[1]);
	MISUSE_INTACT(winners == 1, "%d of the two racing frees succeeded", winners);
	/* The racers have exited: their caches went back to the pool. */
	after = misuse_stats(&lab);
	MISUSE_INTACT(after.pages_free == before.pages_free + 1 &&
		      after.frees == before.frees + 1 && after.bad_frees == before.bad_frees + 1,
		      "free %llu->%llu frees %llu->%llu bad_frees %llu->%llu",
		      (unsigned long long)before.pages_free, (unsigned long long)after.pages_free,
		      (unsigned long long)before.frees, (unsigned long long)after.frees,
		      (unsigned long long)before.bad_frees, (unsigned long long)after.bad_frees);
	MISUSE_INTACT(labyrinth_check(&lab) == 0, "labyrinth_check");
	misuse_destroy(&lab);
	misuse_done(loser);
}
