/* Description: alloc_bulk/free_bulk: exact counts when the pool has enough or too few pages, distinct owned pages, NULLs skipped, per-page stats, the reserve kept from NOWAIT, runs of eight pages judged as page by page. */
#include "check.h"

#include <stdint.h>
#include <string.h>

#define NR 200 /* more than one internal batch of 64, not a multiple of it */

static void *pages[NR + 16];

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

/* n pages: non-NULL, owned, aligned, pairwise distinct; entries past n untouched. */
static void check_pages(labyrinth_t *lab, void **pg, unsigned int n, unsigned int cap)
{
	static void *sorted[2100];
	unsigned int i, bad = 0;

	REQUIRE(n <= 2100, "too many pages");
	for (i = 0; i < n; i++) {
		if (!pg[i] || !labyrinth_owns(lab, pg[i]) || ((uintptr_t)pg[i] & 4095))
			bad++;
		sorted[i] = pg[i];
	}
	CHECK(bad == 0, "%u bad pages of %u", bad, n);
	qsort(sorted, n, sizeof(sorted[0]), cmp_ptr);
	for (i = 1; i < n; i++)
		CHECK(sorted[i] != sorted[i - 1], "page %p handed out twice", sorted[i]);
	for (i = n; i < cap; i++)
		CHECK(pg[i] == (void *)(uintptr_t)0xdead000, "entry %u past the count written", i);
}

static void poison_array(void **pg, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		pg[i] = (void *)(uintptr_t)0xdead000;
}

/*
 * The run functions of labyrinth_fast.h on their own, on a made-up pool
 * of 64 pages (they never touch the pages, only the state bytes): runs
 * carried on past eight pages, broken, restarted, and stopped by the
 * pool's end, each against what page by page would do.
 */
#define RP 64
static unsigned char *const run_base = (unsigned char *)(uintptr_t)0x40000000;
static uint8_t run_state[RP + 8] __attribute__((aligned(8)));

static void *run_page(uint32_t i)
{
	return run_base + (size_t)i * 4096;
}

/* free_run over pages[n] in a pool of total pages; how many it freed,
 * after checking that those got their indexes out and their state FREE */
static uint32_t free_run(void *const *pg, uint32_t n, uint32_t total)
{
	uint32_t out[64], i, done;

	REQUIRE(n <= 64, "n");
	done = labyrinth__free_run(run_base, 12, run_state, total, pg, out, n);
	for (i = 0; i < done; i++) {
		uint32_t idx = (uint32_t)(((unsigned char *)pg[i] - run_base) >> 12);

		CHECK_EQ(out[i], idx);
		CHECK_EQ(run_state[idx], LAB_PS_FREE);
	}
	return done;
}

static void run_all(uint8_t v)
{
	memset(run_state, v, sizeof(run_state));
}

static void test_run_functions(void)
{
	void *pg[64], *addr[64];
	uint32_t src[64], i;

	/* 24 pages in a row from page 8: a run of eight carried on twice */
	run_all(LAB_PS_HEAD);
	for (i = 0; i < 24; i++)
		pg[i] = run_page(8 + i);
	CHECK_EQ(free_run(pg, 24, RP), 24);
	CHECK_EQ(run_state[7], LAB_PS_HEAD);
	CHECK_EQ(run_state[32], LAB_PS_HEAD);

	/* page 20 free already, in the run's second eight: 12 freed, page 20
	 * untouched and the ones after it still allocated */
	run_all(LAB_PS_HEAD);
	run_state[20] = LAB_PS_FREE;
	CHECK_EQ(free_run(pg, 24, RP), 12);
	for (i = 21; i < 32; i++)
		CHECK_EQ(run_state[i], LAB_PS_HEAD);

	/* a block's head in the third eight (HEAD | order 3): 16 freed */
	run_all(LAB_PS_HEAD);
	run_state[24] = LAB_PS_HEAD | 3;
	CHECK_EQ(free_run(pg, 24, RP), 16);
	CHECK_EQ(run_state[24], LAB_PS_HEAD | 3);

	/* a run, then one that does not continue it, then a third: all 24 */
	run_all(LAB_PS_HEAD);
	for (i = 0; i < 8; i++) {
		pg[i] = run_page(40 + i);
		pg[8 + i] = run_page(8 + i);
		pg[16 + i] = run_page(16 + i);
	}
	CHECK_EQ(free_run(pg, 24, RP), 24);

	/* the same eight twice: the second eight stops at its first page */
	run_all(LAB_PS_HEAD);
	for (i = 0; i < 16; i++)
		pg[i] = run_page(16 + (i & 7));
	CHECK_EQ(free_run(pg, 16, RP), 8);

	/* a run up to the pool's end, and eight more past it: 16 freed, the
	 * state bytes past the end (run_state[RP..]) never touched */
	run_all(LAB_PS_HEAD);
	for (i = 0; i < 24; i++)
		pg[i] = run_page(RP - 16 + i);
	CHECK_EQ(free_run(pg, 24, RP), 16);
	for (i = RP; i < RP + 8; i++)
		CHECK_EQ(run_state[i], LAB_PS_HEAD);

	/* a page one byte into a run's page: the run is not taken */
	run_all(LAB_PS_HEAD);
	for (i = 0; i < 16; i++)
		pg[i] = run_page(i);
	pg[11] = (unsigned char *)pg[11] + 1;
	CHECK_EQ(free_run(pg, 16, RP), 11);
	CHECK_EQ(run_state[11], LAB_PS_HEAD);

	/* a pool of 60 pages (not a multiple of 8): a run from page 40 is
	 * carried on to page 55, the eight from 56 would end past the pool
	 * and go page by page, so 20 freed and the state bytes from 60 on
	 * untouched */
	run_all(LAB_PS_HEAD);
	for (i = 0; i < 24; i++)
		pg[i] = run_page(40 + i);
	CHECK_EQ(free_run(pg, 24, 60), 20);
	for (i = 60; i < RP + 8; i++)
		CHECK_EQ(run_state[i], LAB_PS_HEAD);

	/* a pool of 63 pages: the run from 40 stops at 55 and the eight from
	 * 56, whose last page is the pool's 64th, go page by page (23 freed);
	 * the same eight alone: 7 freed */
	run_all(LAB_PS_HEAD);
	CHECK_EQ(free_run(pg, 24, 63), 23);
	CHECK_EQ(run_state[63], LAB_PS_HEAD);
	run_all(LAB_PS_HEAD);
	CHECK_EQ(free_run(pg + 16, 8, 63), 7);
	CHECK_EQ(run_state[63], LAB_PS_HEAD);

	/* an address off by 4 GiB in a run's carried eight: the high half of
	 * every address is compared too */
	run_all(LAB_PS_HEAD);
	for (i = 0; i < 16; i++)
		pg[i] = run_page(16 + i);
	pg[13] = (unsigned char *)pg[13] + ((size_t)1 << 32);
	CHECK_EQ(free_run(pg, 16, RP), 13);
	CHECK_EQ(run_state[29], LAB_PS_HEAD);

	/* not aligned to 8 pages: page by page, all freed */
	run_all(LAB_PS_HEAD);
	for (i = 0; i < 16; i++)
		pg[i] = run_page(3 + i);
	CHECK_EQ(free_run(pg, 16, RP), 16);

	/* pop_run: 24 indexes in a row, then a break, then 8 more in a row
	 * and 5 single ones; every page marked allocated, every address right */
	run_all(LAB_PS_FREE);
	for (i = 0; i < 24; i++)
		src[i] = 8 + i;
	src[24] = 40; /* not a multiple of 8 after it: not a run */
	for (i = 25; i < 33; i++)
		src[i] = 48 + (i - 25);
	for (i = 33; i < 38; i++)
		src[i] = 34 + (i - 33);
	labyrinth__pop_run(run_base, 12, run_state, src, addr, 38);
	for (i = 0; i < 38; i++) {
		CHECK(addr[i] == run_page(src[i]), "pop_run: address %u", i);
		CHECK_EQ(run_state[src[i]], LAB_PS_HEAD);
	}
	CHECK_EQ(run_state[7], LAB_PS_FREE);
	CHECK_EQ(run_state[32], LAB_PS_FREE);
	CHECK_EQ(run_state[41], LAB_PS_FREE);
	CHECK_EQ(run_state[56], LAB_PS_FREE);

	/* pop_run: a run, then another aligned run that does not continue
	 * it, then one that continues the second */
	run_all(LAB_PS_FREE);
	for (i = 0; i < 8; i++) {
		src[i] = 40 + i;
		src[8 + i] = 8 + i;
		src[16 + i] = 16 + i;
	}
	labyrinth__pop_run(run_base, 12, run_state, src, addr, 24);
	for (i = 0; i < 24; i++) {
		CHECK(addr[i] == run_page(src[i]), "pop_run: address %u", i);
		CHECK_EQ(run_state[src[i]], LAB_PS_HEAD);
	}
	CHECK_EQ(run_state[24], LAB_PS_FREE);
	CHECK_EQ(run_state[48], LAB_PS_FREE);

	/* pop_run: a run whose next eight are the same pages again is not
	 * carried on (the carried compare expects pages 32-39): those eight
	 * start a run of their own, and every address is still right */
	run_all(LAB_PS_FREE);
	for (i = 0; i < 16; i++)
		src[i] = 24 + (i & 7);
	labyrinth__pop_run(run_base, 12, run_state, src, addr, 16);
	for (i = 0; i < 16; i++)
		CHECK(addr[i] == run_page(24 + (i & 7)), "pop_run: address %u", i);
	CHECK_EQ(run_state[32], LAB_PS_FREE);
}

/* labyrinth_free_bulk(pg, n) frees `freed` pages and counts `bad` bad
 * frees, by the pool's stats */
static void free_bulk_counted(labyrinth_t *lab, void **pg, unsigned int n, unsigned int freed,
			      unsigned int bad)
{
	struct labyrinth_stats st0 = check_stats(lab), st;

	CHECK_EQ(labyrinth_free_bulk(lab, pg, n), freed);
	st = check_stats(lab);
	CHECK_EQ(st.frees, st0.frees + freed);
	CHECK_EQ(st.bad_frees, st0.bad_frees + bad);
}

/* Every page of pg[n] is free already: a second free says EALREADY. */
static void check_freed(labyrinth_t *lab, void **pg, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		CHECK_EQ(labyrinth_free_page(lab, pg[i]), -EALREADY);
}

/*
 * Runs: the bulk free takes eight consecutive allocated pages (the first
 * at a multiple of 8 pages) with one check and one store of their state
 * bytes (labyrinth_fast.h).  Every case where a run is not whole must
 * still be judged page by page: a page freed before inside the run, a
 * block's pages, a duplicate right after a run, a run not aligned to 8,
 * the pool's last eight pages.
 */
static void test_runs(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_params p = { .name = "bulk-runs", .nr_pages = 256 };
	struct labyrinth_stats st, st0;
	static void *all[256];
	void *list[9], *big[24], *block;
	unsigned int i, n;

	REQUIRE(labyrinth_init(&lab, &p) == 0, "init");
	n = labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC, all, 256);
	REQUIRE(n == 256, "all 256 pages: %u", n);
	qsort(all, 256, sizeof(all[0]), cmp_ptr);
	for (i = 1; i < 256; i++)
		REQUIRE((char *)all[i] == (char *)all[0] + (size_t)i * 4096, "page %u not in a row", i);

	/* a whole run, aligned: all eight freed, each once */
	free_bulk_counted(&lab, all + 8, 8, 8, 0);
	check_freed(&lab, all + 8, 8);

	/* a page of the run freed before: the other seven freed, it refused */
	CHECK_EQ(labyrinth_free_page(&lab, all[19]), 0);
	free_bulk_counted(&lab, all + 16, 8, 7, 1);
	check_freed(&lab, all + 16, 8);

	/* a run, then one of its pages again: eight freed, the ninth refused */
	memcpy(list, all + 32, 8 * sizeof(void *));
	list[8] = all[33];
	free_bulk_counted(&lab, list, 9, 8, 1);

	/* not aligned to 8 pages: freed */
	CHECK_EQ(labyrinth_free_bulk(&lab, all + 41, 8), 8);
	CHECK_EQ(labyrinth_check(&lab), 0);

	/* a run carried on for 24 pages: all freed, each once */
	free_bulk_counted(&lab, all + 56, 24, 24, 0);
	check_freed(&lab, all + 56, 24);

	/* a page freed before in the run's second eight: fifteen freed */
	CHECK_EQ(labyrinth_free_page(&lab, all[92]), 0);
	free_bulk_counted(&lab, all + 80, 16, 15, 1);
	check_freed(&lab, all + 80, 16);

	/* a run, then another that does not continue it: both freed */
	memcpy(big, all + 96, 8 * sizeof(void *));
	memcpy(big + 8, all + 112, 8 * sizeof(void *));
	free_bulk_counted(&lab, big, 16, 16, 0);
	check_freed(&lab, big, 16);

	/* the same eight twice: eight freed, then eight refused */
	memcpy(big, all + 120, 8 * sizeof(void *));
	memcpy(big + 8, all + 120, 8 * sizeof(void *));
	free_bulk_counted(&lab, big, 16, 8, 8);

	/* the pool's last sixteen, then eight addresses past its end that
	 * would continue the run: sixteen freed, the eight refused */
	memcpy(big, all + 240, 16 * sizeof(void *));
	for (i = 16; i < 24; i++)
		big[i] = (char *)all[255] + (size_t)(i - 15) * 4096;
	free_bulk_counted(&lab, big, 24, 16, 8);
	CHECK_EQ(labyrinth_check(&lab), 0);

	/* a block of eight pages is not eight single pages: refused whole,
	 * and still the caller's */
	CHECK_EQ(labyrinth_flush_cache(&lab) >= 0, 1);
	block = labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC, 3);
	REQUIRE(block != NULL, "an order-3 block");
	for (i = 0; i < 8; i++)
		list[i] = (char *)block + (size_t)i * 4096;
	st0 = check_stats(&lab);
	CHECK_EQ(labyrinth_free_bulk(&lab, list, 8), 0);
	st = check_stats(&lab);
	CHECK_EQ(st.frees, st0.frees);
	CHECK(st.bad_frees > st0.bad_frees, "the block's pages were not refused");
	CHECK_EQ(labyrinth_free_pages(&lab, block, 3), 0);

	/* the rest (the pages freed above say EALREADY), then the pool whole */
	for (i = 0; i < 256; i++)
		(void)labyrinth_free_page(&lab, all[i]);
	st = check_stats(&lab);
	CHECK_EQ(st.pages_inuse, 0);
	CHECK_EQ(st.allocs, st.frees);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

int main(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_params p = { .name = "bulk", .nr_pages = NR, .reserve_pages = 10 };
	struct labyrinth_stats st, st0;
	unsigned int n, m, i;
	void *one = NULL;

	REQUIRE(labyrinth_init(&lab, &p) == 0, "init");

	/* enough pages: all n */
	poison_array(pages, NR + 16);
	n = labyrinth_alloc_bulk(&lab, LAB_GFP_NOWAIT, pages, 70);
	CHECK_EQ(n, 70);
	check_pages(&lab, pages, n, NR + 16);
	st = check_stats(&lab);
	CHECK_EQ(st.allocs, 70);
	CHECK_EQ(st.pages_inuse, 70);
	CHECK_EQ(st.pages_free, NR - 70);
	CHECK_EQ(st.alloc_failed, 0);

	/* n == 0: nothing, also with a NULL array */
	CHECK_EQ(labyrinth_alloc_bulk(&lab, LAB_GFP_NOWAIT, pages + 70, 0), 0);
	CHECK_EQ(labyrinth_alloc_bulk(&lab, LAB_GFP_NOWAIT, NULL, 0), 0);
	CHECK_EQ(labyrinth_free_bulk(&lab, pages, 0), 0);
	/* NULL array and n > 0: 0 and EINVAL */
	errno = 0;
	CHECK(labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC, NULL, 5) == 0 && errno == EINVAL,
	      "NULL array: errno %d", errno);
	errno = 0;
	CHECK(labyrinth_free_bulk(&lab, NULL, 5) == 0, "free_bulk NULL array");
	st = check_stats(&lab);
	CHECK_EQ(st.allocs, 70);
	CHECK_EQ(st.pages_inuse, 70);
	CHECK_EQ(st.bad_frees, 0);
	CHECK_EQ(labyrinth_check(&lab), 0);

	/* NOWAIT asking for more than there is: exactly free - reserve, reserve kept */
	n = labyrinth_alloc_bulk(&lab, LAB_GFP_NOWAIT, pages + 70, NR + 16 - 70);
	CHECK_EQ(n, NR - 70 - 10);
	check_pages(&lab, pages, 70 + n, NR + 16);
	st = check_stats(&lab);
	CHECK_EQ(st.pages_free, 10);
	CHECK_EQ(st.reserve_allocs, 0);
	CHECK_EQ(st.allocs, NR - 10);
	CHECK(st.alloc_failed >= 1, "the short bulk counted no failure");
	st0 = st;
	/* NOWAIT and KERNEL (no growth, no wait) get nothing now */
	CHECK_EQ(labyrinth_alloc_bulk(&lab, LAB_GFP_NOWAIT, pages + NR - 10, 3), 0);
	CHECK_EQ(labyrinth_alloc_bulk(&lab, LAB_GFP_KERNEL, pages + NR - 10, 1), 0);
	st = check_stats(&lab);
	CHECK(st.alloc_failed >= st0.alloc_failed + 2, "failed bulks not counted");
	CHECK_EQ(st.pages_free, 10);
	/* ATOMIC takes the reserve: 10 of 16 asked */
	n = labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC, pages + NR - 10, 16);
	CHECK_EQ(n, 10);
	check_pages(&lab, pages, NR, NR + 16);
	st = check_stats(&lab);
	CHECK_EQ(st.pages_free, 0);
	CHECK_EQ(st.pages_inuse, NR);
	CHECK_EQ(st.reserve_allocs, 10);
	CHECK(st.alloc_failed >= st0.alloc_failed + 3, "short ATOMIC bulk not counted");
	CHECK_EQ(st.allocs, NR);
	CHECK_EQ(labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC, pages + NR, 1), 0);
	CHECK_EQ(labyrinth_check(&lab), 0);

	/* free_bulk: count freed, NULLs skipped, per-page frees */
	for (i = NR; i < NR + 16; i++)
		pages[i] = NULL;
	st0 = check_stats(&lab);
	/* 3 pages with NULLs around them */
	{
		void *some[7] = { NULL, pages[0], NULL, pages[1], pages[2], NULL, NULL };

		CHECK_EQ(labyrinth_free_bulk(&lab, some, 7), 3);
		st = check_stats(&lab);
		CHECK_EQ(st.frees, st0.frees + 3);
		CHECK_EQ(st.pages_free, 3);
		CHECK_EQ(st.bad_frees, 0);
	}
	/* the rest and the NULL tail, more than one batch */
	CHECK_EQ(labyrinth_free_bulk(&lab, pages + 3, NR + 16 - 3), NR - 3);
	st = check_stats(&lab);
	CHECK_EQ(st.frees, NR);
	CHECK_EQ(st.pages_free, NR);
	CHECK_EQ(st.pages_inuse, 0);
	CHECK_EQ(st.bad_frees, 0);
	CHECK_EQ(labyrinth_check(&lab), 0);

	/* everything again in one call: exactly the same pages come back */
	poison_array(pages, NR + 16);
	n = labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC, pages, NR + 16);
	CHECK_EQ(n, NR);
	check_pages(&lab, pages, n, NR + 16);
	CHECK_EQ(labyrinth_free_bulk(&lab, pages, n), NR);

	/* A page twice in one call, at each position of the first 9 (the
	 * cache's loop takes pages four at a time): its second entry is a
	 * double free (-EALREADY, counted), every other page freed once, and
	 * the pool hands each page out once afterwards. */
	for (i = 1; i < 9; i++) {
		void *twice[10];
		unsigned int j;

		REQUIRE(labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC, twice, 9) == 9, "9 pages");
		memmove(twice + i + 1, twice + i, (9 - i) * sizeof(void *));
		twice[i] = twice[i / 2]; /* an entry before it */
		st0 = check_stats(&lab);
		CHECK_EQ(labyrinth_free_bulk(&lab, twice, 10), 9);
		st = check_stats(&lab);
		CHECK_EQ(st.bad_frees, st0.bad_frees + 1);
		CHECK_EQ(st.frees, st0.frees + 9);
		CHECK_EQ(st.pages_inuse, st0.pages_inuse - 9);
		CHECK_EQ(labyrinth_check(&lab), 0);
		for (j = 0; j < 10; j++)
			CHECK_EQ(labyrinth_free_page(&lab, twice[j]), -EALREADY);
	}
	poison_array(pages, NR + 16);
	n = labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC, pages, NR + 16);
	CHECK_EQ(n, NR);
	check_pages(&lab, pages, n, NR + 16);
	CHECK_EQ(labyrinth_free_bulk(&lab, pages, n), NR);

	/* bulk and single calls mix: a single page out, bulk for the rest */
	one = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	REQUIRE(one != NULL, "one page");
	n = labyrinth_alloc_bulk(&lab, LAB_GFP_NOWAIT | LAB_GFP_NOWARN, pages, NR);
	CHECK_EQ(n, NR - 1 - 10);
	for (i = 0; i < n; i++)
		CHECK(pages[i] != one, "bulk returned the page already out");
	m = labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC, pages + n, NR - n);
	CHECK_EQ(m, 10);
	CHECK_EQ(labyrinth_free_page(&lab, one), 0);
	CHECK_EQ(labyrinth_free_bulk(&lab, pages, n + m), n + m);

	/* KERNEL bulk grows the pool when it has a max_pages */
	{
		labyrinth_t g = { 0 };
		struct labyrinth_params gp = { .name = "bulk-grow", .nr_pages = 8, .max_pages = 2048 };
		static void *gpages[2100];

		gp.flags = nolock_unless_lockable(gp.name, (size_t)2048 * 4096);
		REQUIRE(labyrinth_init(&g, &gp) == 0, "init growable");
		n = labyrinth_alloc_bulk(&g, LAB_GFP_NOWAIT, gpages, 100);
		CHECK_EQ(n, 8);
		CHECK_EQ(labyrinth_free_bulk(&g, gpages, n), 8);
		n = labyrinth_alloc_bulk(&g, LAB_GFP_KERNEL, gpages, 100);
		CHECK_EQ(n, 100);
		st = check_stats(&g);
		CHECK(st.pages_total >= 100 && st.pages_total <= 2048, "total %llu",
		      (unsigned long long)st.pages_total);
		CHECK(st.grows >= 1, "no growth counted");
		m = labyrinth_alloc_bulk(&g, LAB_GFP_KERNEL, gpages + n, 2100 - n);
		CHECK_EQ(n + m, 2048);
		check_pages(&g, gpages, n + m, n + m);
		st = check_stats(&g);
		CHECK_EQ(st.pages_total, 2048);
		CHECK_EQ(st.pages_free, 0);
		CHECK_EQ(labyrinth_check(&g), 0);
		CHECK_EQ(labyrinth_free_bulk(&g, gpages, n + m), 2048);
		CHECK_EQ(labyrinth_destroy(&g), 0);
	}

	st = check_stats(&lab);
	CHECK_EQ(st.allocs, st.frees);
	CHECK_EQ(st.pages_free, NR);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
	test_run_functions();
	test_runs();
	return check_done();
}
