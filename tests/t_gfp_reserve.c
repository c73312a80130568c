/* Description: the reserve: of 64 pages with reserve_pages = 8 one thread gets exactly 56 NOWAIT (and KERNEL) pages, then exactly 8 ATOMIC ones; counters exact. */
#include "check.h"

#include <stdint.h>

#define NR 64
#define RESERVE 8

static void *pages[NR + 1];

/* Allocate with gfp until NULL; returns how many, appended at *n. */
static unsigned int drain(labyrinth_t *lab, lab_gfp_t gfp, unsigned int *n)
{
	unsigned int got = 0;
	void *pg;

	while (*n < NR + 1 && (pg = labyrinth_alloc_page(lab, gfp)) != NULL) {
		CHECK(labyrinth_owns(lab, pg), "page %p not owned", pg);
		CHECK(((uintptr_t)pg & 4095) == 0, "page %p not aligned", pg);
		pages[(*n)++] = pg;
		got++;
	}
	CHECK(errno == ENOMEM, "gfp 0x%x failed with errno %d, not ENOMEM", gfp, errno);
	return got;
}

static void all_distinct(unsigned int n)
{
	unsigned int i, j;

	for (i = 0; i < n; i++)
		for (j = i + 1; j < n; j++)
			CHECK(pages[i] != pages[j], "page %u == page %u", i, j);
}

/* One round: pool holds `freed` free pages of which the reserve is part. */
static void round_trip(labyrinth_t *lab, unsigned int *n, unsigned int expect_nowait,
		       lab_gfp_t atomic_extra, int use_exclusive)
{
	struct labyrinth_stats st0 = check_stats(lab), st;
	unsigned int got, i;
	void *pg;

	got = drain(lab, LAB_GFP_NOWAIT | (atomic_extra & LAB_GFP_NOWARN), n);
	CHECK_EQ(got, expect_nowait);
	st = check_stats(lab);
	CHECK_EQ(st.pages_free, RESERVE);
	CHECK_EQ(st.alloc_failed, st0.alloc_failed + 1);
	CHECK_EQ(st.reserve_allocs, st0.reserve_allocs);

	/* NOWAIT again, and KERNEL that cannot grow nor wait: ENOMEM */
	errno = 0;
	CHECK(labyrinth_alloc_page(lab, LAB_GFP_NOWAIT) == NULL && errno == ENOMEM, "NOWAIT");
	errno = 0;
	CHECK(labyrinth_alloc_pages(lab, LAB_GFP_NOWAIT | LAB_GFP_ZERO, 0) == NULL &&
	      errno == ENOMEM, "NOWAIT|ZERO");
	errno = 0;
	CHECK(labyrinth_alloc_page(lab, LAB_GFP_KERNEL) == NULL && errno == ENOMEM, "KERNEL");
	errno = 0;
	CHECK(labyrinth_alloc_page(lab, LAB_GFP_KERNEL | LAB_GFP_NOWARN) == NULL &&
	      errno == ENOMEM, "KERNEL|NOWARN");
	st = check_stats(lab);
	CHECK_EQ(st.alloc_failed, st0.alloc_failed + 5);
	CHECK_EQ(st.pages_free, RESERVE);
	CHECK_EQ(st.grows, 0);
	CHECK_EQ(st.pages_total, NR);

	/* exactly RESERVE ATOMIC pages */
	got = 0;
	for (i = 0; i < RESERVE + 1; i++) {
		errno = 0;
		pg = use_exclusive ? labyrinth_void_alloc_page_gfp_atomic_exclusive(lab)
				   : labyrinth_alloc_page(lab, LAB_GFP_ATOMIC | atomic_extra);
		if (!pg) {
			CHECK(errno == ENOMEM, "ATOMIC errno %d", errno);
			break;
		}
		CHECK(labyrinth_owns(lab, pg), "atomic page owned");
		pages[(*n)++] = pg;
		got++;
	}
	CHECK_EQ(got, RESERVE);
	errno = 0;
	CHECK(labyrinth_alloc_page(lab, LAB_GFP_ATOMIC) == NULL && errno == ENOMEM,
	      "ATOMIC on an empty pool");
	st = check_stats(lab);
	CHECK_EQ(st.pages_free, 0);
	CHECK_EQ(st.pages_inuse, NR);
	CHECK_EQ(st.reserve_allocs, st0.reserve_allocs + RESERVE);
	CHECK_EQ(st.alloc_failed, st0.alloc_failed + 5 + 2);
	CHECK_EQ(st.allocs, st0.allocs + expect_nowait + RESERVE);
	CHECK_EQ(st.reserve_pages, RESERVE);
	CHECK_EQ(labyrinth_check(lab), 0);
	CHECK_EQ(*n, NR);
	all_distinct(*n);
}

int main(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_params p = { .name = "reserve", .nr_pages = NR,
				      .reserve_pages = RESERVE };
	struct labyrinth_stats st;
	unsigned int n = 0, i, k;

	REQUIRE(labyrinth_init(&lab, &p) == 0, "init");
	st = check_stats(&lab);
	CHECK_EQ(st.reserve_pages, RESERVE);
	CHECK_EQ(st.max_pages, NR);

	/* 1: fresh pool, NOWAIT */
	round_trip(&lab, &n, NR - RESERVE, 0, 0);

	/* 2: free 20 (some reserve pages, some ordinary), repeat: 12 NOWAIT */
	for (i = 0; i < 20; i++)
		CHECK_EQ(labyrinth_free_page(&lab, pages[--n]), 0);
	st = check_stats(&lab);
	CHECK_EQ(st.pages_free, 20);
	round_trip(&lab, &n, 20 - RESERVE, LAB_GFP_NOWARN, 0);

	/* 3: free all in a different order, then via the _exclusive entry point */
	for (i = 0; i < NR; i += 2)
		CHECK_EQ(labyrinth_free_page(&lab, pages[i]), 0);
	for (i = 1; i < NR; i += 2)
		CHECK_EQ(labyrinth_free_page(&lab, pages[i]), 0);
	n = 0;
	round_trip(&lab, &n, NR - RESERVE, LAB_GFP_ZERO, 1);

	/* 4: free only RESERVE - 3 pages: NOWAIT gets nothing, ATOMIC all of them */
	for (i = 0; i < RESERVE - 3; i++)
		CHECK_EQ(labyrinth_free_page(&lab, pages[--n]), 0);
	errno = 0;
	CHECK(labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT) == NULL && errno == ENOMEM,
	      "NOWAIT with the reserve only partly free");
	errno = 0;
	CHECK(labyrinth_alloc_page(&lab, LAB_GFP_KERNEL) == NULL && errno == ENOMEM,
	      "KERNEL with the reserve only partly free");
	for (k = 0; k < RESERVE - 3; k++) {
		pages[n] = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC | LAB_GFP_NOWARN);
		CHECK(pages[n] != NULL, "ATOMIC %u", k);
		if (pages[n])
			n++;
	}
	CHECK(labyrinth_void_alloc_page_gfp_atomic_exclusive(&lab) == NULL && errno == ENOMEM,
	      "exclusive on an empty pool");
	CHECK_EQ(n, NR);

	/* 5: KERNEL takes the same ordinary pages as NOWAIT, never the reserve */
	for (i = 0; i < NR; i++)
		CHECK_EQ(labyrinth_free_page(&lab, pages[i]), 0);
	n = 0;
	k = drain(&lab, LAB_GFP_KERNEL, &n);
	CHECK_EQ(k, NR - RESERVE);
	st = check_stats(&lab);
	CHECK_EQ(st.pages_free, RESERVE);
	CHECK_EQ(st.grows, 0);
	k = drain(&lab, LAB_GFP_ATOMIC, &n);
	CHECK_EQ(k, RESERVE);
	CHECK_EQ(labyrinth_free_bulk(&lab, pages, n), NR);

	/* 6: NOWARN with every type is accepted */
	{
		void *a = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC | LAB_GFP_NOWARN);
		void *b = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT | LAB_GFP_NOWARN);
		void *c = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL | LAB_GFP_NOWARN |
						     LAB_GFP_ZERO);

		CHECK(a && b && c, "NOWARN accepted");
		CHECK_EQ(labyrinth_free_page(&lab, a), 0);
		CHECK_EQ(labyrinth_free_page(&lab, b), 0);
		CHECK_EQ(labyrinth_free_page(&lab, c), 0);
	}

	/* 7: a debug pool with NOWARN fails silently, exactly like the rest */
	{
		labyrinth_t dbg = { 0 };
		struct labyrinth_params dp = { .name = "dbg", .nr_pages = 4, .reserve_pages = 1,
					       .flags = LAB_POOL_DEBUG };
		void *d[4];

		REQUIRE(labyrinth_init(&dbg, &dp) == 0, "debug init");
		CHECK_EQ(labyrinth_alloc_bulk(&dbg, LAB_GFP_NOWAIT | LAB_GFP_NOWARN, d, 4), 3);
		CHECK(labyrinth_alloc_page(&dbg, LAB_GFP_NOWAIT | LAB_GFP_NOWARN) == NULL &&
		      errno == ENOMEM, "debug NOWAIT|NOWARN");
		d[3] = labyrinth_void_alloc_page_gfp_atomic_exclusive(&dbg);
		CHECK(d[3] != NULL, "debug reserve page");
		st = check_stats(&dbg);
		CHECK_EQ(st.reserve_allocs, 1);
		CHECK_EQ(labyrinth_free_bulk(&dbg, d, 4), 4);
		CHECK_EQ(labyrinth_destroy(&dbg), 0);
	}

	st = check_stats(&lab);
	CHECK_EQ(st.pages_free, NR);
	CHECK_EQ(st.pages_inuse, 0);
	CHECK_EQ(st.allocs, st.frees);
	CHECK_EQ(st.bad_frees, 0);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
	return check_done();
}
