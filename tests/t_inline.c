/* SPDX-License-Identifier: MIT */
/*
 * t_inline: the fast path inline in the caller (labyrinth_fast.h) and the
 * library's own functions are one allocator.  Pages cross between the two
 * paths in both directions with exact counts; every misuse the library
 * rejects, the inline path rejects the same way, pool unchanged (a copy
 * of a labyrinth_t, a destroyed pool, a double free, an address inside a
 * page or past the pool, the wrong order, in single and bulk calls);
 * switching between pools on one
 * thread never hands out a page of the wrong pool, and a signal handler
 * that uses another pool leaves the fast path serving both; a garbage
 * labyrinth_t gets EINVAL; function pointers still reach the library; and
 * the soname loaded is the header's LAB_ABI_VERSION.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "inline_library.h"

#define PAGES 256u

static void init_pool(labyrinth_t *lab, const char *name)
{
	struct labyrinth_params p = { .name = name, .nr_pages = PAGES,
				      .flags = nolock_unless_lockable(name, PAGES * 4096) };

	REQUIRE(labyrinth_init(lab, &p) == 0, "init %s", name);
}

/* The pool's counters and gauges, as a byte string to compare. */
static int same_stats(labyrinth_t *lab, const struct labyrinth_stats *before)
{
	struct labyrinth_stats now = check_stats(lab);

	return memcmp(&now, before, sizeof(now)) == 0;
}

static void test_macros(void)
{
#ifdef labyrinth_alloc_page
	CHECK(1, "inline");
#else
	CHECK(0, "labyrinth.h defines no inline labyrinth_alloc_page");
#endif
	CHECK_EQ(lib_inline_macros, 0);
}

/* Inline alloc, library free, and the other way round: exact counts. */
static void test_crossing(labyrinth_t *lab)
{
	struct labyrinth_stats st0 = check_stats(lab), st;
	void *a[64], *b[64];
	unsigned int i;

	for (i = 0; i < 64; i++) {
		a[i] = labyrinth_alloc_page(lab, LAB_GFP_ATOMIC);
		b[i] = lib_alloc(lab, LAB_GFP_NOWAIT);
		REQUIRE(a[i] && b[i], "allocation %u", i);
		CHECK(labyrinth_owns(lab, a[i]) && labyrinth_owns(lab, b[i]), "owned");
		memset(a[i], 0xa5, 4096);
		memset(b[i], 0x5a, 4096);
	}
	st = check_stats(lab);
	CHECK_EQ(st.pages_inuse, st0.pages_inuse + 128);
	CHECK_EQ(st.allocs, st0.allocs + 128);
	for (i = 0; i < 64; i++) {
		CHECK_EQ(lib_free(lab, a[i]), 0);
		CHECK_EQ(labyrinth_free_page(lab, b[i]), 0);
	}
	st = check_stats(lab);
	CHECK_EQ(st.pages_inuse, st0.pages_inuse);
	CHECK_EQ(st.frees, st0.frees + 128);
	CHECK_EQ(labyrinth_check(lab), 0);
}

/* Bulk calls: inline alloc, library free and the other way round, exact
 * counts; a bulk free that stops inline (a double free, an address inside
 * a page, a page past the cache's room) is finished by the library with
 * the same answers as the library's own call. */
static void test_bulk(labyrinth_t *lab)
{
	struct labyrinth_stats st0 = check_stats(lab), st;
	void *a[48], *b[48], *mixed[6];
	unsigned int i, j;

	/* Calls of 4 pages, which the cache (16 pages here) serves inline
	 * whole when it holds them, and of 48, which it cannot. */
	for (i = 0; i < 48; i += 4) {
		CHECK_EQ(labyrinth_alloc_bulk(lab, LAB_GFP_ATOMIC, a + i, 4), 4);
		CHECK_EQ(lib_alloc_bulk(lab, LAB_GFP_NOWAIT, b + i, 4), 4);
	}
	for (i = 0; i < 48; i++) {
		CHECK(labyrinth_owns(lab, a[i]) && labyrinth_owns(lab, b[i]), "owned");
		for (j = 0; j < 48; j++)
			CHECK(a[i] != b[j] && (i == j || (a[i] != a[j] && b[i] != b[j])),
			      "page out twice");
	}
	st = check_stats(lab);
	CHECK_EQ(st.pages_inuse, st0.pages_inuse + 96);
	CHECK_EQ(st.allocs, st0.allocs + 96);
	for (i = 0; i < 48; i += 4) {
		CHECK_EQ(lib_free_bulk(lab, a + i, 4), 4);
		CHECK_EQ(labyrinth_free_bulk(lab, b + i, 4), 4);
	}
	st = check_stats(lab);
	CHECK_EQ(st.pages_inuse, st0.pages_inuse);
	CHECK_EQ(st.frees, st0.frees + 96);
	CHECK_EQ(labyrinth_alloc_bulk(lab, LAB_GFP_ATOMIC, a, 48), 48);
	CHECK_EQ(labyrinth_free_bulk(lab, a, 48), 48);

	/* Misuse in the middle: both paths free the same pages, reject the
	 * same entries, and count the same. */
	for (i = 0; i < 2; i++) {
		REQUIRE(labyrinth_alloc_bulk(lab, LAB_GFP_ATOMIC, mixed, 4) == 4, "4 pages");
		mixed[4] = mixed[1];                 /* a double free */
		mixed[5] = (char *)mixed[2] + 64;    /* inside a page */
		st0 = check_stats(lab);
		CHECK_EQ(i ? lib_free_bulk(lab, mixed, 6) : labyrinth_free_bulk(lab, mixed, 6), 4);
		st = check_stats(lab);
		CHECK_EQ(st.bad_frees, st0.bad_frees + 2);
		CHECK_EQ(st.frees, st0.frees + 4);
		CHECK_EQ(st.pages_inuse, st0.pages_inuse - 4);
	}
	/* More than the cache's grant has room for: the library takes the rest. */
	{
		static void *many[PAGES];
		unsigned int n = labyrinth_alloc_bulk(lab, LAB_GFP_NOWAIT, many, PAGES);

		CHECK(n >= PAGES / 2, "only %u pages", n);
		st0 = check_stats(lab);
		CHECK_EQ(labyrinth_free_bulk(lab, many, n), n);
		st = check_stats(lab);
		CHECK_EQ(st.frees, st0.frees + n);
		CHECK_EQ(st.pages_inuse, st0.pages_inuse - n);
	}
	CHECK_EQ(labyrinth_check(lab), 0);
}

/* Every misuse: the same answer on both paths, and the pool unchanged
 * but for the bad_frees counter. */
static void test_misuse(labyrinth_t *lab)
{
	struct labyrinth_stats st0;
	unsigned char *page = labyrinth_alloc_page(lab, LAB_GFP_ATOMIC);
	void *block;

	REQUIRE(page != NULL, "page");
	st0 = check_stats(lab);
	CHECK_EQ(labyrinth_free_page(lab, page + 64), -EINVAL);
	CHECK_EQ(lib_free(lab, page + 64), -EINVAL);
	CHECK_EQ(labyrinth_free_page(lab, page + 4096 * (size_t)PAGES * 64), -EINVAL);
	CHECK_EQ(labyrinth_free_page(lab, page - 4096 * (size_t)PAGES * 64), -EINVAL);
	CHECK_EQ(labyrinth_free_pages(lab, page, 1), -EINVAL);
	CHECK_EQ(check_stats(lab).bad_frees, st0.bad_frees + 5);
	st0.bad_frees += 5;
	CHECK(same_stats(lab, &st0), "pool changed by rejected frees");

	CHECK_EQ(labyrinth_free_page(lab, page), 0);
	st0 = check_stats(lab);
	CHECK_EQ(labyrinth_free_page(lab, page), -EALREADY);
	CHECK_EQ(lib_free(lab, page), -EALREADY);
	st0.bad_frees += 2;
	CHECK(same_stats(lab, &st0), "pool changed by double frees");

	/* A block's head freed as a page, and its tail: refused inline too. */
	block = labyrinth_alloc_pages(lab, LAB_GFP_ATOMIC, 2);
	REQUIRE(block != NULL, "order-2 block");
	st0 = check_stats(lab);
	CHECK_EQ(labyrinth_free_page(lab, block), -EINVAL);
	CHECK_EQ(labyrinth_free_page(lab, (char *)block + 4096), -EINVAL);
	st0.bad_frees += 2;
	CHECK(same_stats(lab, &st0), "pool changed by block misuse");
	CHECK_EQ(labyrinth_free_pages(lab, block, 2), 0);

	/* Modifiers and bad gfp go to the library, which says what it says. */
	errno = 0;
	CHECK(labyrinth_alloc_page(lab, LAB_GFP_ATOMIC | LAB_GFP_NOWAIT) == NULL &&
	      errno == EINVAL, "two gfp types");
	errno = 0;
	CHECK(labyrinth_alloc_page(lab, 0x80000001u) == NULL && errno == EINVAL,
	      "unknown gfp bit");
	page = labyrinth_alloc_page(lab, LAB_GFP_ATOMIC | LAB_GFP_ZERO);
	REQUIRE(page != NULL, "zeroed page");
	CHECK(page[0] == 0 && page[4095] == 0, "LAB_GFP_ZERO page is zero");
	CHECK_EQ(labyrinth_free_pages(lab, page, 0), 0);
	CHECK_EQ(labyrinth_check(lab), 0);
}

/* A copy of a live labyrinth_t says LIVE and points at the pool's caches:
 * the inline path must still refuse it, as the library does. */
static void test_copy(labyrinth_t *lab)
{
	labyrinth_t copy;
	void *page = labyrinth_alloc_page(lab, LAB_GFP_ATOMIC);
	struct labyrinth_stats st0;

	REQUIRE(page != NULL, "page");
	memcpy(&copy, lab, sizeof(copy));
	st0 = check_stats(lab);
	errno = 0;
	CHECK(labyrinth_alloc_page(&copy, LAB_GFP_ATOMIC) == NULL && errno == EINVAL,
	      "alloc on a copy");
	errno = 0;
	CHECK(labyrinth_void_alloc_page_gfp_atomic_exclusive(&copy) == NULL && errno == EINVAL,
	      "atomic alias on a copy");
	CHECK_EQ(labyrinth_free_page(&copy, page), -EINVAL);
	CHECK(same_stats(lab, &st0), "pool changed through a copy");
	CHECK_EQ(labyrinth_free_page(lab, page), 0);
}

/* Two pools used in turn from one thread: each page from its own pool,
 * and a page of one pool is not a page of the other. */
static void test_two_pools(labyrinth_t *a, labyrinth_t *b)
{
	struct labyrinth_stats sa = check_stats(a), sb = check_stats(b);
	unsigned int i, wrong = 0;

	for (i = 0; i < 1000; i++) {
		void *pa = labyrinth_alloc_page(a, LAB_GFP_ATOMIC);
		void *pb = labyrinth_void_alloc_page_gfp_atomic_exclusive(b);

		REQUIRE(pa && pb, "pages at %u", i);
		wrong += !labyrinth_owns(a, pa) || !labyrinth_owns(b, pb);
		wrong += labyrinth_free_page(b, pa) != -EINVAL; /* the other pool's */
		wrong += labyrinth_free_page(a, pa) != 0;
		wrong += labyrinth_free_pages(b, pb, 0) != 0;
	}
	CHECK_EQ(wrong, 0);
	CHECK_EQ(check_stats(a).allocs, sa.allocs + 1000);
	CHECK_EQ(check_stats(b).frees, sb.frees + 1000);
	CHECK_EQ(check_stats(b).bad_frees, sb.bad_frees + 1000);
}

/* The address of an exported function is the library's function. */
static void test_function_pointers(labyrinth_t *lab)
{
	void *(*alloc)(labyrinth_t *, lab_gfp_t) = labyrinth_alloc_page;
	int (*release)(labyrinth_t *, void *) = labyrinth_free_page;
	void *page = alloc(lab, LAB_GFP_NOWAIT);

	CHECK(page != NULL && labyrinth_owns(lab, page), "through a pointer");
	CHECK_EQ(release(lab, page), 0);
	CHECK_EQ(release(lab, page), -EALREADY);
	page = lib_alloc_atomic(lab);
	CHECK(page != NULL, "library alias");
	CHECK_EQ(lib_free_pages(lab, page, 0), 0);
}

/* A destroyed pool: the inline path must not touch its freed cache. */
static void test_destroyed(void)
{
	labyrinth_t lab;
	void *page;

	init_pool(&lab, "doomed");
	page = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC); /* its cache claimed now */
	REQUIRE(page != NULL, "page");
	CHECK_EQ(labyrinth_free_page(&lab, page), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
	errno = 0;
	CHECK(labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC) == NULL && errno == EINVAL,
	      "alloc on a destroyed pool");
	CHECK_EQ(labyrinth_free_page(&lab, page), -EINVAL);
	errno = 0;
	CHECK(labyrinth_alloc_page(NULL, LAB_GFP_ATOMIC) == NULL && errno == EINVAL, "NULL pool");
	CHECK_EQ(labyrinth_free_page(NULL, page), -EINVAL);
}

/* A garbage labyrinth_t (every byte 0xff: a negative stride, a wild
 * caches pointer), on a thread that never called the library and on one
 * that did: EINVAL, never a crash. */
static void *garbage_calls(void *arg)
{
	labyrinth_t junk;
	int *bad = arg;

	memset(&junk, 0xff, sizeof(junk));
	errno = 0;
	*bad += labyrinth_alloc_page(&junk, LAB_GFP_ATOMIC) != NULL || errno != EINVAL;
	*bad += labyrinth_free_page(&junk, &junk) != -EINVAL;
	return NULL;
}

static void test_garbage(labyrinth_t *lab)
{
	pthread_t t;
	int bad = 0;
	void *page;

	REQUIRE(pthread_create(&t, NULL, garbage_calls, &bad) == 0, "thread");
	pthread_join(t, NULL);
	page = labyrinth_alloc_page(lab, LAB_GFP_ATOMIC);
	garbage_calls(&bad);
	CHECK_EQ(bad, 0);
	CHECK_EQ(labyrinth_free_page(lab, page), 0);
}

/* The fast path finds a cache from the pool and the thread's slot: a
 * signal handler that uses another pool leaves the slot as it was, and
 * afterwards the fast path serves both pools (each finds its own claimed
 * cache), the thread's pool without a trip through the library. */
static labyrinth_t *handler_pool;
static void use_other_pool(int sig)
{
	void *page = labyrinth_alloc_page(handler_pool, LAB_GFP_ATOMIC);

	(void)sig;
	if (page)
		labyrinth_free_page(handler_pool, page);
	page = labyrinth_alloc_page(handler_pool, LAB_GFP_ATOMIC);
	if (page)
		labyrinth_free_page(handler_pool, page);
}

static void test_handler_switch(labyrinth_t *a, labyrinth_t *b)
{
	int32_t slot;
	void *page;

	page = labyrinth_alloc_page(a, LAB_GFP_ATOMIC);
	CHECK_EQ(labyrinth_free_page(a, page), 0);
	slot = __atomic_load_n(&labyrinth_fast_slot, __ATOMIC_RELAXED);
	CHECK(slot >= 0, "no slot after a call: %d", (int)slot);
	CHECK(labyrinth__fast_cache(a) != NULL, "the fast path does not serve a");
	handler_pool = b;
	REQUIRE(signal(SIGUSR1, use_other_pool) != SIG_ERR, "signal");
	raise(SIGUSR1);
	CHECK_EQ(__atomic_load_n(&labyrinth_fast_slot, __ATOMIC_RELAXED), slot);
	CHECK(labyrinth__fast_cache(a) != NULL, "a handler's pool took a's fast path away");
	CHECK(labyrinth__fast_cache(b) != NULL, "the handler's pool has no fast path");
	CHECK(labyrinth__fast_cache(a) != labyrinth__fast_cache(b), "one cache for two pools");
	CHECK(labyrinth__inline_alloc(a, LAB_GFP_ATOMIC, &page), "inline alloc from a missed");
	CHECK(labyrinth_owns(a, page), "a's page");
	CHECK(labyrinth__inline_free(a, page), "inline free to a missed");
	signal(SIGUSR1, SIG_DFL);
}

/* The library this program runs with has the soname the header names. */
static void test_soname(void)
{
	Dl_info info;
	char want[64];

	snprintf(want, sizeof(want), "liblabyrinth.so.%d", LAB_ABI_VERSION);
	REQUIRE(dladdr((void *)&labyrinth_init, &info) && info.dli_fname, "dladdr");
	CHECK(strstr(info.dli_fname, want) != NULL, "loaded %s, not %s", info.dli_fname, want);
}

int main(void)
{
	labyrinth_t a, b;

	init_pool(&a, "inline-a");
	init_pool(&b, "inline-b");
	test_macros();
	test_crossing(&a);
	test_misuse(&a);
	test_bulk(&a);
	test_copy(&a);
	test_two_pools(&a, &b);
	test_function_pointers(&b);
	test_garbage(&a);
	test_handler_switch(&a, &b);
	test_destroyed();
	test_soname();
	CHECK_EQ(labyrinth_destroy(&a), 0);
	CHECK_EQ(labyrinth_destroy(&b), 0);
	return check_done();
}
