/* SPDX-License-Identifier: MIT */
/*
 * t_block_cache - small blocks (orders 1 to 4) cached per thread
 * (labyrinth(7), "Per-thread caches"), and the rules every cache keeps
 * (SPEC "Caches and exactness"):
 *   - an order-1..4 pair on one thread gets the same block back;
 *   - cached blocks are free pages: pages_free, pages_cached and
 *     free_blocks[] (as blocks of their order) say so exactly, and the
 *     reserve and the watches are judged with them;
 *   - at most 8 blocks an order, order 5 and up not at all;
 *   - an allocation of any order that finds nothing else gets this
 *     thread's cached blocks back, merged;
 *   - the caches of many threads stay within an eighth of the pool;
 *   - a thread's cached blocks go back when it exits;
 *   - a double free or a wrong-order free of a cached block is refused
 *     (-EALREADY, -EINVAL) and leaves the pool as it was.
 */
#include <pthread.h>
#include <stdint.h>

#include "check.h"

#define PAGES 1024u
#define DEPTH 8u
#define TOP   4u /* the highest order cached */

static const size_t page = 4096; /* the pools' page size (the default) */

#define alloc_order labyrinth_alloc_pages

static uint64_t blocks_pages(const struct labyrinth_stats *st)
{
	uint64_t sum = 0;
	unsigned int o;

	for (o = 0; o <= LAB_MAX_ORDER; o++)
		sum += st->free_blocks[o] << o;
	return sum;
}

static void init_pool(labyrinth_t *lab, const char *name, unsigned int pages, unsigned int reserve)
{
	struct labyrinth_params params = {
		.name = name, .nr_pages = pages, .reserve_pages = reserve,
		.flags = nolock_unless_lockable(name, (size_t)pages * 4096),
	};

	REQUIRE(labyrinth_init(lab, &params) == 0, "init %s", name);
}

/* A pair of each order 1..TOP reuses its block; the cache shows it. */
static void test_reuse(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_stats st;
	unsigned int o;

	init_pool(&lab, "reuse", PAGES, 0);
	for (o = 1; o <= TOP; o++) {
		void *a = alloc_order(&lab, LAB_GFP_ATOMIC, o), *b;

		REQUIRE(a, "order %u", o);
		CHECK_EQ(labyrinth_free_pages(&lab, a, o), 0);
		st = check_stats(&lab);
		/* this block and the one of each smaller order */
		CHECK_EQ(st.pages_cached, (2u << o) - 2);
		CHECK_EQ(st.pages_free, PAGES);
		CHECK_EQ(st.pages_inuse, 0);
		CHECK(st.free_blocks[o] >= 1, "order %u: the cached block is a free block", o);
		CHECK_EQ(blocks_pages(&st), PAGES);
		CHECK_EQ(labyrinth_check(&lab), 0);

		b = alloc_order(&lab, LAB_GFP_NOWAIT, o);
		CHECK(b == a, "order %u: pair got %p then %p", o, a, b);
		st = check_stats(&lab);
		CHECK_EQ(st.pages_cached, (1u << o) - 2);
		CHECK_EQ(st.pages_inuse, 1u << o);
		CHECK_EQ(st.allocs - st.frees, 1);
		CHECK_EQ(labyrinth_check(&lab), 0);
		CHECK_EQ(labyrinth_free_pages(&lab, b, o), 0);
	}
	/* The four blocks of orders 1 to 4 stay cached: 30 pages. */
	st = check_stats(&lab);
	CHECK_EQ(st.pages_cached, 2 + 4 + 8 + 16);
	CHECK(st.free_blocks[1] >= 1 && st.free_blocks[2] >= 1 && st.free_blocks[3] >= 1 &&
	      st.free_blocks[4] >= 1, "the cached blocks are free blocks of their orders");
	CHECK_EQ(st.allocs, st.frees);
	CHECK_EQ(st.allocs, 2 * TOP);

	/* Order 5 is not cached. */
	{
		void *big = alloc_order(&lab, LAB_GFP_ATOMIC, TOP + 1);

		REQUIRE(big, "order %u", TOP + 1);
		CHECK_EQ(labyrinth_free_pages(&lab, big, TOP + 1), 0);
		st = check_stats(&lab);
		CHECK_EQ(st.pages_cached, 2 + 4 + 8 + 16);
	}
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/* At most DEPTH blocks of an order: the next one goes to the bitmap. */
static void test_depth(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_stats st;
	void *b[DEPTH + 1];
	unsigned int i;

	init_pool(&lab, "depth", PAGES, 0);
	for (i = 0; i < DEPTH + 1; i++)
		REQUIRE((b[i] = alloc_order(&lab, LAB_GFP_ATOMIC, 1)) != NULL, "block %u", i);
	for (i = 0; i < DEPTH + 1; i++)
		CHECK_EQ(labyrinth_free_pages(&lab, b[i], 1), 0);
	st = check_stats(&lab);
	CHECK_EQ(st.pages_cached, 2 * DEPTH);
	CHECK_EQ(st.pages_free, PAGES);
	CHECK_EQ(blocks_pages(&st), PAGES);
	CHECK_EQ(labyrinth_check(&lab), 0);
	/* LIFO: the last one cached comes back first. */
	{
		void *again = alloc_order(&lab, LAB_GFP_ATOMIC, 1);

		CHECK(again == b[DEPTH - 1], "got %p, want %p", again, b[DEPTH - 1]);
		CHECK_EQ(labyrinth_free_pages(&lab, again, 1), 0);
	}
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/*
 * The pool all taken in order-1 blocks; four of them that make one
 * aligned order-3 run freed into this thread's cache: those 8 pages are
 * all that is free, and an order-3 block (and, in a second round, 8
 * single pages) must come out of them.
 */
static void test_merge_from_cache(void)
{
	static void *blk[PAGES / 2];
	labyrinth_t lab = { 0 };
	struct labyrinth_stats st;
	unsigned int n = 0, i, round;
	void *base, *big;
	size_t len;

	init_pool(&lab, "merge", PAGES, 0);
	REQUIRE(labyrinth_region(&lab, &base, &len) == 0, "region");
	for (round = 0; round < 2; round++) {
		unsigned char *run = (unsigned char *)base + (size_t)(8 + round * 8) * page;

		n = 0;
		while (n < PAGES / 2 && (blk[n] = alloc_order(&lab, LAB_GFP_ATOMIC, 1)) != NULL)
			n++;
		CHECK_EQ(n, PAGES / 2);
		for (i = 0; i < 4; i++)
			CHECK_EQ(labyrinth_free_pages(&lab, run + 2 * i * page, 1), 0);
		st = check_stats(&lab);
		CHECK_EQ(st.pages_free, 8);
		CHECK_EQ(st.pages_cached, 8);
		CHECK_EQ(st.free_blocks[1], 4);
		CHECK_EQ(blocks_pages(&st), 8);
		CHECK_EQ(labyrinth_check(&lab), 0);
		if (round == 0) {
			/* An order-3 block from four cached order-1 blocks. */
			big = alloc_order(&lab, LAB_GFP_NOWAIT, 3);
			CHECK(big == run, "order 3 from the cached blocks: %p, want %p", big, run);
			CHECK(alloc_order(&lab, LAB_GFP_ATOMIC, 1) == NULL, "nothing else is free");
			if (big)
				CHECK_EQ(labyrinth_free_pages(&lab, big, 3), 0);
		} else {
			/* Eight single pages from them. */
			void *pg[9];

			for (i = 0; i < 8; i++) {
				pg[i] = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
				CHECK(pg[i] != NULL, "page %u of 8 from the cached blocks", i);
			}
			pg[8] = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC);
			CHECK(pg[8] == NULL, "a ninth page");
			st = check_stats(&lab);
			CHECK_EQ(st.pages_free, 0);
			CHECK_EQ(st.pages_inuse, PAGES);
			for (i = 0; i < 8; i++)
				if (pg[i])
					CHECK_EQ(labyrinth_free_page(&lab, pg[i]), 0);
		}
		CHECK_EQ(labyrinth_check(&lab), 0);
		for (i = 0; i < n; i++) {
			unsigned char *b = blk[i];

			if (b >= run && b < run + 8 * page)
				continue; /* freed above */
			CHECK_EQ(labyrinth_free_pages(&lab, b, 1), 0);
		}
	}
	st = check_stats(&lab);
	CHECK_EQ(st.pages_free, PAGES);
	CHECK_EQ(st.allocs, st.frees);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/* The reserve is judged with the cached blocks counted, exactly. */
static void test_reserve(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_stats st;
	static void *blk[PAGES / 4];
	unsigned int n = 0, i;
	void *x, *y;

	init_pool(&lab, "reserve", PAGES, 16);
	while ((blk[n] = alloc_order(&lab, LAB_GFP_NOWAIT, 2)) != NULL)
		n++;
	CHECK_EQ(n, (PAGES - 16) / 4);
	for (i = 0; i < 4; i++)
		CHECK((blk[n++] = alloc_order(&lab, LAB_GFP_ATOMIC, 2)) != NULL, "reserve %u", i);
	st = check_stats(&lab);
	CHECK_EQ(st.pages_free, 0);
	CHECK_EQ(st.reserve_allocs, 16);
	/* Two blocks into the cache: 8 free pages, below the reserve. */
	CHECK_EQ(labyrinth_free_pages(&lab, blk[--n], 2), 0);
	CHECK_EQ(labyrinth_free_pages(&lab, blk[--n], 2), 0);
	st = check_stats(&lab);
	CHECK_EQ(st.pages_free, 8);
	CHECK_EQ(st.pages_cached, 8);
	/* ATOMIC takes the last one cached, counted below the reserve. */
	x = alloc_order(&lab, LAB_GFP_ATOMIC, 2);
	CHECK(x == blk[n], "ATOMIC got %p, want the cached %p", x, blk[n]);
	st = check_stats(&lab);
	CHECK_EQ(st.pages_free, 4);
	CHECK_EQ(st.pages_cached, 4);
	CHECK_EQ(st.reserve_allocs, 16 + 4);
	CHECK(alloc_order(&lab, LAB_GFP_NOWAIT, 2) == NULL, "NOWAIT under the reserve");
	CHECK(labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT) == NULL, "NOWAIT page under the reserve");
	y = alloc_order(&lab, LAB_GFP_ATOMIC, 2);
	CHECK(y != NULL, "ATOMIC takes the other block");
	st = check_stats(&lab);
	CHECK_EQ(st.pages_free, 0);
	CHECK_EQ(st.reserve_allocs, 16 + 8);
	CHECK_EQ(st.alloc_failed, 3);
	CHECK_EQ(labyrinth_check(&lab), 0);
	if (x)
		CHECK_EQ(labyrinth_free_pages(&lab, x, 2), 0);
	if (y)
		CHECK_EQ(labyrinth_free_pages(&lab, y, 2), 0);
	while (n)
		CHECK_EQ(labyrinth_free_pages(&lab, blk[--n], 2), 0);
	st = check_stats(&lab);
	CHECK_EQ(st.pages_free, PAGES);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/* Misuse of a cached block: refused, and the pool stays as it was. */
static void test_bad_frees(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_stats before, after;
	unsigned char *a, *b;
	unsigned int o;

	init_pool(&lab, "bad", PAGES, 0);
	a = alloc_order(&lab, LAB_GFP_ATOMIC, 2);
	REQUIRE(a, "order 2");
	CHECK_EQ(labyrinth_free_pages(&lab, a, 2), 0);
	before = check_stats(&lab);
	CHECK_EQ(before.pages_cached, 4);
	CHECK_EQ(labyrinth_free_pages(&lab, a, 2), -EALREADY);
	CHECK_EQ(labyrinth_free_pages(&lab, a, 1), -EALREADY);
	CHECK_EQ(labyrinth_free_pages(&lab, a + page, 2), -EALREADY);
	after = check_stats(&lab);
	CHECK_EQ(after.bad_frees, before.bad_frees + 3);
	after.bad_frees = before.bad_frees;
	CHECK(memcmp(&before, &after, sizeof(before)) == 0, "a double free changed the pool");
	CHECK_EQ(labyrinth_check(&lab), 0);

	/* The same block, allocated again: freed with the wrong order. */
	b = alloc_order(&lab, LAB_GFP_ATOMIC, 2);
	CHECK(b == a, "reuse");
	before = check_stats(&lab);
	for (o = 0; o <= 4; o++)
		if (o != 2)
			CHECK_EQ(labyrinth_free_pages(&lab, b, o), -EINVAL);
	CHECK_EQ(labyrinth_free_pages(&lab, b + page, 0), -EINVAL);
	after = check_stats(&lab);
	CHECK_EQ(after.bad_frees, before.bad_frees + 5);
	after.bad_frees = before.bad_frees;
	CHECK(memcmp(&before, &after, sizeof(before)) == 0, "a wrong-order free changed the pool");
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_free_pages(&lab, b, 2), 0);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/* Threads that cache blocks, held alive at barriers. */
#define THREADS 32
#define BIG_PAGES 4096u

static labyrinth_t shared;
static pthread_barrier_t cached_b, checked_b;
static unsigned int thread_fail;

static void *cacher(void *arg)
{
	void *b[TOP][DEPTH];
	unsigned int o, i;

	(void)arg;
	for (o = 1; o <= TOP; o++)
		for (i = 0; i < DEPTH; i++)
			if ((b[o - 1][i] = labyrinth_alloc_pages(&shared, LAB_GFP_ATOMIC, o)) == NULL)
				__atomic_fetch_add(&thread_fail, 1, __ATOMIC_RELAXED);
	for (o = 1; o <= TOP; o++)
		for (i = 0; i < DEPTH; i++)
			if (b[o - 1][i] && labyrinth_free_pages(&shared, b[o - 1][i], o) != 0)
				__atomic_fetch_add(&thread_fail, 1, __ATOMIC_RELAXED);
	pthread_barrier_wait(&cached_b);
	pthread_barrier_wait(&checked_b);
	return NULL;
}

/* Many threads caching blocks stay within an eighth of the pool, and
 * their blocks come back, whole, when they exit. */
static void test_budget_and_exit(void)
{
	static void *mine[BIG_PAGES];
	struct labyrinth_stats st;
	pthread_t th[THREADS];
	unsigned int i, n = 0;
	uint64_t others;

	init_pool(&shared, "budget", BIG_PAGES, 0);
	REQUIRE(pthread_barrier_init(&cached_b, NULL, THREADS + 1) == 0, "barrier");
	REQUIRE(pthread_barrier_init(&checked_b, NULL, THREADS + 1) == 0, "barrier");
	for (i = 0; i < THREADS; i++)
		REQUIRE(pthread_create(&th[i], NULL, cacher, NULL) == 0, "thread %u", i);
	pthread_barrier_wait(&cached_b);

	CHECK_EQ(thread_fail, 0);
	st = check_stats(&shared);
	others = st.pages_cached;
	CHECK_EQ(st.pages_free, BIG_PAGES);
	CHECK_EQ(st.pages_inuse, 0);
	CHECK(others <= BIG_PAGES / 8, "%llu pages cached, more than an eighth",
	      (unsigned long long)others);
	CHECK(others > 0, "the threads cache blocks");
	CHECK_EQ(blocks_pages(&st), BIG_PAGES);
	CHECK_EQ(labyrinth_check(&shared), 0);
	/* Every page outside the other threads' caches, and no more. */
	while (n < BIG_PAGES && (mine[n] = labyrinth_alloc_page(&shared, LAB_GFP_ATOMIC)) != NULL)
		n++;
	CHECK_EQ(n, BIG_PAGES - others);
	CHECK(n >= BIG_PAGES - BIG_PAGES / 8, "only %u pages", n);
	while (n)
		CHECK_EQ(labyrinth_free_page(&shared, mine[--n]), 0);
	CHECK_EQ(labyrinth_check(&shared), 0);

	pthread_barrier_wait(&checked_b);
	for (i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	/* Their blocks are back; only this thread's own page cache is left. */
	st = check_stats(&shared);
	CHECK_EQ(st.pages_free, BIG_PAGES);
	CHECK(st.pages_cached <= BIG_PAGES / 16, "%llu pages still cached",
	      (unsigned long long)st.pages_cached);
	CHECK_EQ(st.allocs, st.frees);
	CHECK_EQ(labyrinth_check(&shared), 0);
	CHECK_EQ(labyrinth_destroy(&shared), 0);
	pthread_barrier_destroy(&cached_b);
	pthread_barrier_destroy(&checked_b);
}

static void *one_cacher(void *arg)
{
	unsigned int o;

	(void)arg;
	for (o = 1; o <= TOP; o++) {
		void *b = labyrinth_alloc_pages(&shared, LAB_GFP_ATOMIC, o);

		if (!b || labyrinth_free_pages(&shared, b, o) != 0)
			__atomic_fetch_add(&thread_fail, 1, __ATOMIC_RELAXED);
	}
	pthread_barrier_wait(&cached_b);
	pthread_barrier_wait(&checked_b);
	return NULL;
}

/* One thread's cached blocks, and nothing else, go back at its exit:
 * the pool is whole again. */
static void test_thread_exit(void)
{
	struct labyrinth_stats st;
	pthread_t th;

	init_pool(&shared, "exit", PAGES, 0);
	REQUIRE(pthread_barrier_init(&cached_b, NULL, 2) == 0, "barrier");
	REQUIRE(pthread_barrier_init(&checked_b, NULL, 2) == 0, "barrier");
	REQUIRE(pthread_create(&th, NULL, one_cacher, NULL) == 0, "thread");
	pthread_barrier_wait(&cached_b);
	st = check_stats(&shared);
	CHECK_EQ(st.pages_cached, 2 + 4 + 8 + 16);
	CHECK_EQ(st.pages_free, PAGES);
	CHECK(st.free_blocks[LAB_MAX_ORDER] < PAGES >> LAB_MAX_ORDER,
	      "the cached blocks keep one max-order block split");
	pthread_barrier_wait(&checked_b);
	pthread_join(th, NULL);
	CHECK_EQ(thread_fail, 0);
	st = check_stats(&shared);
	CHECK_EQ(st.pages_cached, 0);
	CHECK_EQ(st.pages_free, PAGES);
	CHECK_EQ(st.free_blocks[LAB_MAX_ORDER], PAGES >> LAB_MAX_ORDER);
	CHECK_EQ(st.allocs, TOP);
	CHECK_EQ(st.frees, TOP);
	CHECK_EQ(labyrinth_check(&shared), 0);
	CHECK_EQ(labyrinth_destroy(&shared), 0);
	pthread_barrier_destroy(&cached_b);
	pthread_barrier_destroy(&checked_b);
}

int main(void)
{
	test_reuse();
	test_depth();
	test_merge_from_cache();
	test_reserve();
	test_bad_frees();
	test_budget_and_exit();
	test_thread_exit();
	return check_done();
}
