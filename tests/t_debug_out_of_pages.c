/* Description: LAB_POOL_DEBUG allocation failures: each NULL (every gfp type, every allocation call, orders > 0, a reserve refused to NOWAIT) prints exactly one line "labyrinth: pool '<name>': <the call>: out of pages", none with LAB_GFP_NOWARN, none in a pool without LAB_POOL_DEBUG; errno ENOMEM and alloc_failed either way. */
#include "capture.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGES 16u /* too few for per-thread caches: the count is the pool's */

/* Every allocation call reports a failure under the name of the core call. */
/* The report names the function the caller called. */
#define OUT_OF_PAGES(call) "labyrinth: pool 'oop': " call ": out of pages\n"

static void make_pool(labyrinth_t *lab, unsigned int flags, size_t reserve)
{
	struct labyrinth_params p = { .name = "oop", .nr_pages = PAGES, .reserve_pages = reserve,
				      .flags = flags };

	memset(lab, 0, sizeof(*lab));
	REQUIRE(labyrinth_init(lab, &p) == 0, "init");
}

/* The failing calls, each tried on an empty pool. */
enum call { C_PAGE_ATOMIC, C_PAGE_NOWAIT, C_PAGE_KERNEL, C_PAGES_0, C_PAGES_2, C_EXCLUSIVE,
	    C_BULK, NR_CALLS };
static const char *const call_name[NR_CALLS] = {
	"alloc_page(ATOMIC)", "alloc_page(NOWAIT)", "alloc_page(KERNEL, no growth, no wait)",
	"alloc_pages(NOWAIT, 0)", "alloc_pages(ATOMIC, 2)",
	"labyrinth_void_alloc_page_gfp_atomic_exclusive", "alloc_bulk(NOWAIT, 4)",
};
static const char *const call_report[NR_CALLS] = {
	OUT_OF_PAGES("labyrinth_alloc_page"), OUT_OF_PAGES("labyrinth_alloc_page"),
	OUT_OF_PAGES("labyrinth_alloc_page"), OUT_OF_PAGES("labyrinth_alloc_pages"),
	OUT_OF_PAGES("labyrinth_alloc_pages"),
	OUT_OF_PAGES("labyrinth_void_alloc_page_gfp_atomic_exclusive"),
	OUT_OF_PAGES("labyrinth_alloc_bulk"),
};

/* Make the call; 1 if it failed as it must (NULL or 0 pages, ENOMEM). */
static int fails(labyrinth_t *lab, enum call c, lab_gfp_t extra)
{
	void *pages[4] = { 0 }, *r = NULL;

	errno = 0;
	switch (c) {
	case C_PAGE_ATOMIC:
		r = labyrinth_alloc_page(lab, LAB_GFP_ATOMIC | extra);
		break;
	case C_PAGE_NOWAIT:
		r = labyrinth_alloc_page(lab, LAB_GFP_NOWAIT | extra);
		break;
	case C_PAGE_KERNEL:
		r = labyrinth_alloc_page(lab, LAB_GFP_KERNEL | extra);
		break;
	case C_PAGES_0:
		r = labyrinth_alloc_pages(lab, LAB_GFP_NOWAIT | extra, 0);
		break;
	case C_PAGES_2:
		r = labyrinth_alloc_pages(lab, LAB_GFP_ATOMIC | extra, 2);
		break;
	case C_EXCLUSIVE:
		r = labyrinth_void_alloc_page_gfp_atomic_exclusive(lab);
		break;
	case C_BULK:
	default:
		if (labyrinth_alloc_bulk(lab, LAB_GFP_NOWAIT | extra, pages, 4) != 0)
			r = pages[0];
		break;
	}
	return r == NULL && errno == ENOMEM;
}

/* Take every page of the pool (ATOMIC: the reserve too). */
static void drain(labyrinth_t *lab, void **all)
{
	unsigned int i;

	for (i = 0; i < PAGES; i++) {
		all[i] = labyrinth_alloc_page(lab, LAB_GFP_ATOMIC);
		REQUIRE(all[i] != NULL, "page %u of %u", i, PAGES);
	}
}

static void refill(labyrinth_t *lab, void **all)
{
	CHECK_EQ(labyrinth_free_bulk(lab, all, PAGES), PAGES);
	CHECK_EQ(labyrinth_check(lab), 0);
}

/* Without NOWARN: one line per failed call, whichever call and gfp. */
static void out_of_pages_is_reported_without_nowarn(void)
{
	labyrinth_t lab;
	struct labyrinth_stats before, after;
	void *all[PAGES];
	const char *text;
	int c;

	make_pool(&lab, LAB_POOL_DEBUG, 0);
	drain(&lab, all);
	for (c = 0; c < NR_CALLS; c++) {
		before = check_stats(&lab);
		capture_start();
		CHECK(fails(&lab, (enum call)c, 0), "%s did not fail with ENOMEM", call_name[c]);
		text = capture_end();
		CHECK(strcmp(text, call_report[c]) == 0, "%s: stderr '%s', want '%s'", call_name[c],
		      text, call_report[c]);
		after = check_stats(&lab);
		CHECK(after.alloc_failed > before.alloc_failed, "%s: alloc_failed not counted",
		      call_name[c]);
	}
	refill(&lab, all);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/* With NOWARN: the same failures, silent. */
static void nowarn_suppresses_the_report(void)
{
	labyrinth_t lab;
	struct labyrinth_stats before, after;
	void *all[PAGES];
	const char *text;
	int c;

	make_pool(&lab, LAB_POOL_DEBUG, 0);
	drain(&lab, all);
	for (c = 0; c < NR_CALLS; c++) {
		if (c == C_EXCLUSIVE)
			continue; /* takes no gfp: it cannot say NOWARN */
		before = check_stats(&lab);
		capture_start();
		CHECK(fails(&lab, (enum call)c, LAB_GFP_NOWARN), "%s|NOWARN did not fail with ENOMEM",
		      call_name[c]);
		text = capture_end();
		CHECK(strcmp(text, "") == 0, "%s|NOWARN: stderr '%s', want nothing", call_name[c],
		      text);
		after = check_stats(&lab);
		CHECK(after.alloc_failed > before.alloc_failed, "%s|NOWARN: alloc_failed not counted",
		      call_name[c]);
	}
	refill(&lab, all);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/* A pool without LAB_POOL_DEBUG is silent, NOWARN or not. */
static void plain_pool_failures_are_silent(void)
{
	labyrinth_t lab;
	void *all[PAGES];
	const char *text;
	int c;

	make_pool(&lab, 0, 0);
	drain(&lab, all);
	capture_start();
	for (c = 0; c < NR_CALLS; c++)
		CHECK(fails(&lab, (enum call)c, 0), "%s did not fail with ENOMEM", call_name[c]);
	text = capture_end();
	CHECK(strcmp(text, "") == 0, "plain pool: stderr '%s', want nothing", text);
	refill(&lab, all);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/* Failures with free pages left: NOWAIT kept off the reserve, and an order
 * with no whole block.  Each is reported once; ATOMIC still succeeds. */
static void refused_allocations_are_reported(void)
{
	labyrinth_t lab;
	void *all[PAGES], *p;
	const char *text;
	unsigned int i;

	make_pool(&lab, LAB_POOL_DEBUG, 4);
	for (i = 0; i < PAGES - 4; i++) {
		all[i] = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
		REQUIRE(all[i] != NULL, "NOWAIT page %u", i);
	}
	capture_start();
	CHECK(fails(&lab, C_PAGE_NOWAIT, 0), "NOWAIT took from the reserve");
	text = capture_end();
	CHECK(strcmp(text, call_report[C_PAGE_NOWAIT]) == 0, "reserve: stderr '%s'", text);
	capture_start();
	p = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC);
	text = capture_end();
	CHECK(p != NULL, "ATOMIC could not take the reserve");
	CHECK(strcmp(text, "") == 0, "a successful ATOMIC printed '%s'", text);
	labyrinth_free_page(&lab, p);
	for (i = 0; i < PAGES - 4; i++)
		CHECK_EQ(labyrinth_free_page(&lab, all[i]), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);

	/* Every other page taken: eight free pages, no order-1 block. */
	make_pool(&lab, LAB_POOL_DEBUG, 0);
	drain(&lab, all);
	for (i = 0; i < PAGES; i++)
		if (((uintptr_t)all[i] / 4096) % 2 == 0)
			CHECK_EQ(labyrinth_free_page(&lab, all[i]), 0);
	capture_start();
	CHECK(fails(&lab, C_PAGES_2, 0), "an order-2 block out of scattered pages");
	text = capture_end();
	CHECK(strcmp(text, call_report[C_PAGES_2]) == 0, "fragmented: stderr '%s'", text);
	for (i = 0; i < PAGES; i++)
		if (((uintptr_t)all[i] / 4096) % 2 == 1)
			CHECK_EQ(labyrinth_free_page(&lab, all[i]), 0);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

int main(void)
{
	out_of_pages_is_reported_without_nowarn();
	nowarn_suppresses_the_report();
	plain_pool_failures_are_silent();
	refused_allocations_are_reported();
	return check_done();
}
