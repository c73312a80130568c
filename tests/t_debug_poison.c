/* Description: LAB_POOL_DEBUG poison: a write after free is reported on the page's next hand-out with its exact address (each written page of a block), by every allocation call, once; nothing is reported when nothing was written; LAB_GFP_ZERO still zeroes in a debug pool. */
#include "capture.h"

#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE  4096u
#define PAGES 64u

/*
 * The call each report names.  Every allocation entry point reports a
 * write after free under the name of the core call.
 */

/* The exact report for a write after free into the page at addr, found by call. */
static const char *report(char *buf, size_t size, const char *pool, const char *call,
			  const void *addr)
{
	snprintf(buf, size, "labyrinth: pool '%s': %s: write after free in page %p\n", pool, call,
		 addr);
	return buf;
}

#define CHECK_TEXT(got, want)                                                   \
	CHECK(strcmp((got), (want)) == 0, "stderr:\n'%s'\nwant:\n'%s'", (got), (want))

static void debug_pool(labyrinth_t *lab, const char *name, size_t pages)
{
	struct labyrinth_params p = { .name = name, .nr_pages = pages,
				      .flags = LAB_POOL_DEBUG };

	memset(lab, 0, sizeof(*lab));
	REQUIRE(labyrinth_init(lab, &p) == 0, "init debug pool %s", name);
}

static void pool_balanced(labyrinth_t *lab)
{
	struct labyrinth_stats st = check_stats(lab);

	CHECK_EQ(st.pages_inuse, 0);
	CHECK_EQ(st.pages_free, st.pages_total);
	CHECK_EQ(labyrinth_check(lab), 0);
}

/* The ways to get one order-0 page from a pool. */
enum how { BY_ALLOC_PAGE, BY_ALLOC_PAGES, BY_ATOMIC_EXCLUSIVE, BY_BULK, BY_KERNEL, NR_HOW };
static const char *const how_name[NR_HOW] = {
	"labyrinth_alloc_page", "labyrinth_alloc_pages(0)",
	"labyrinth_void_alloc_page_gfp_atomic_exclusive", "labyrinth_alloc_bulk(1)",
	"LAB_GFP_KERNEL",
};
/* The function each way calls: the one a report names. */
static const char *const how_call[NR_HOW] = {
	"labyrinth_alloc_page", "labyrinth_alloc_pages",
	"labyrinth_void_alloc_page_gfp_atomic_exclusive", "labyrinth_alloc_bulk",
	"labyrinth_alloc_page",
};

static void *get_page(labyrinth_t *lab, enum how how, lab_gfp_t extra)
{
	void *page = NULL;

	switch (how) {
	case BY_ALLOC_PAGE:
		return labyrinth_alloc_page(lab, LAB_GFP_NOWAIT | extra);
	case BY_ALLOC_PAGES:
		return labyrinth_alloc_pages(lab, LAB_GFP_ATOMIC | extra, 0);
	case BY_ATOMIC_EXCLUSIVE:
		return labyrinth_void_alloc_page_gfp_atomic_exclusive(lab);
	case BY_BULK:
		return labyrinth_alloc_bulk(lab, LAB_GFP_NOWAIT | extra, &page, 1) == 1 ? page : NULL;
	case BY_KERNEL:
	default:
		return labyrinth_alloc_page(lab, LAB_GFP_KERNEL | extra);
	}
}

/*
 * Hand pages out until want comes back (caches make it the first one);
 * the pages got, in got[]; their number.
 */
static unsigned int take_until(labyrinth_t *lab, enum how how, const void *want, void **got)
{
	unsigned int n = 0;

	while (n < PAGES) {
		got[n] = get_page(lab, how, 0);
		if (!got[n])
			break;
		if (got[n++] == want)
			return n;
	}
	return 0;
}

static void give_back(labyrinth_t *lab, void **got, unsigned int n, unsigned int order)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		CHECK_EQ(labyrinth_free_pages(lab, got[i], order), 0);
}

/* One byte at the start, middle or end, by each allocation call. */
static void write_after_free_is_reported_on_next_hand_out(void)
{
	static const unsigned int offsets[] = { 0, 7, PAGE / 2, PAGE - 1 };
	labyrinth_t lab;
	struct labyrinth_stats st;
	void *got[PAGES];
	char want[256];
	const char *text;
	unsigned int i, n;
	int how;

	debug_pool(&lab, "poison", PAGES);
	for (how = 0; how < NR_HOW; how++) {
		for (i = 0; i < sizeof(offsets) / sizeof(offsets[0]); i++) {
			unsigned char *page = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);

			REQUIRE(page != NULL, "alloc");
			CHECK_EQ(labyrinth_free_page(&lab, page), 0);
			page[offsets[i]] ^= 0x01; /* the write after free */

			capture_start();
			n = take_until(&lab, (enum how)how, page, got);
			text = capture_end();

			CHECK(n > 0, "%s: the written page %p never came back", how_name[how],
			      (void *)page);
			CHECK(strcmp(text, report(want, sizeof(want), "poison", how_call[how], page)) == 0,
			      "%s, byte %u: stderr '%s', want '%s'", how_name[how], offsets[i],
			      text, want);
			give_back(&lab, got, n, 0);
		}
	}
	st = check_stats(&lab);
	CHECK_EQ(st.bad_frees, 0); /* a report, not a bad free */
	pool_balanced(&lab);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/* A freed order-3 block with three written pages: three lines, page order. */
static void write_after_free_in_a_block_reports_each_written_page(void)
{
	static const unsigned int written[] = { 0, 2, 7 };
	labyrinth_t lab;
	void *got[PAGES];
	char want[1024], line[256];
	const char *text;
	unsigned char *block;
	unsigned int i, n = 0;
	int found = 0;

	debug_pool(&lab, "poison", PAGES);
	block = labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT, 3);
	REQUIRE(block != NULL, "alloc order 3");
	CHECK_EQ(labyrinth_free_pages(&lab, block, 3), 0);
	want[0] = '\0';
	for (i = 0; i < 3; i++) {
		block[written[i] * PAGE + 100 * i] = 0;
		strcat(want, report(line, sizeof(line), "poison", "labyrinth_alloc_pages",
				    block + written[i] * PAGE));
	}

	capture_start();
	while (n < PAGES >> 3 && !found) {
		got[n] = labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT, 3);
		if (!got[n])
			break;
		found = got[n++] == (void *)block;
	}
	text = capture_end();
	CHECK(found, "the written block %p never came back", (void *)block);
	CHECK_TEXT(text, want);
	give_back(&lab, got, n, 3);

	/* Freed as a block, handed out as single pages: the written one reported. */
	block = labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT, 3);
	REQUIRE(block != NULL, "alloc order 3 again");
	CHECK_EQ(labyrinth_free_pages(&lab, block, 3), 0);
	block[5 * PAGE + 4095] = 0x42;
	capture_start();
	n = labyrinth_alloc_bulk(&lab, LAB_GFP_NOWAIT, got, PAGES);
	text = capture_end();
	CHECK_EQ(n, PAGES);
	CHECK_TEXT(text, report(line, sizeof(line), "poison", "labyrinth_alloc_bulk",
				block + 5 * PAGE));
	CHECK_EQ(labyrinth_free_bulk(&lab, got, n), n);
	pool_balanced(&lab);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/* Reported once: the free re-poisons, the next hand-out is clean. */
static void write_after_free_is_reported_once(void)
{
	labyrinth_t lab;
	void *got[PAGES];
	char want[256];
	const char *text;
	unsigned char *page;
	unsigned int n;

	debug_pool(&lab, "poison", PAGES);
	page = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	REQUIRE(page != NULL, "alloc");
	CHECK_EQ(labyrinth_free_page(&lab, page), 0);
	page[99] = 1;
	capture_start();
	n = take_until(&lab, BY_ALLOC_PAGE, page, got);
	text = capture_end();
	CHECK_TEXT(text, report(want, sizeof(want), "poison", how_call[BY_ALLOC_PAGE], page));
	give_back(&lab, got, n, 0);

	capture_start();
	n = take_until(&lab, BY_ALLOC_PAGE, page, got);
	text = capture_end();
	CHECK(n > 0, "the page never came back");
	CHECK_TEXT(text, "");
	give_back(&lab, got, n, 0);
	pool_balanced(&lab);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/* Pages filled while owned, freed and handed out by every call and order:
 * the poison is never reported when nothing was written after a free. */
static void poison_is_not_reported_when_nothing_was_written(void)
{
	labyrinth_t lab;
	void *got[PAGES];
	const char *text;
	unsigned int i, n, round, order;
	int how;

	debug_pool(&lab, "poison", PAGES);
	capture_start();
	for (round = 0; round < 4; round++) {
		n = labyrinth_alloc_bulk(&lab, LAB_GFP_NOWAIT, got, PAGES);
		for (i = 0; i < n; i++)
			memset(got[i], (int)(0xa5 + round), PAGE);
		labyrinth_free_bulk(&lab, got, n);
		/* Exactly as many as the pool holds: no allocation fails (and
		 * reports "out of pages"). */
		for (how = 0; how < NR_HOW; how++) {
			for (n = 0; n < PAGES; n++) {
				got[n] = get_page(&lab, (enum how)how, 0);
				CHECK(got[n] != NULL, "%s: page %u", how_name[how], n);
				if (!got[n])
					break;
				memset(got[n], 0x6b ^ (int)n, PAGE);
			}
			for (i = 0; i < n; i++)
				labyrinth_free_page(&lab, got[i]);
		}
		for (order = 1; order <= 6; order++) {
			for (n = 0; n < PAGES >> order; n++) {
				got[n] = labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT, order);
				CHECK(got[n] != NULL, "order %u: block %u", order, n);
				if (!got[n])
					break;
				memset(got[n], 0, (size_t)PAGE << order);
			}
			for (i = 0; i < n; i++)
				labyrinth_free_pages(&lab, got[i], order);
		}
	}
	text = capture_end();
	CHECK_TEXT(text, "");
	pool_balanced(&lab);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

static int all_zero(const unsigned char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return 0;
	return 1;
}

/* LAB_GFP_ZERO in a debug pool: zero pages, no false report; and a page
 * written after its free is both reported and zeroed. */
static void zero_still_zeroes_in_debug(void)
{
	labyrinth_t lab;
	void *got[PAGES];
	char want[256];
	const char *text;
	unsigned char *page, *block;
	unsigned int i, n;

	debug_pool(&lab, "poison", PAGES);
	capture_start();
	/* Owned pages full of 0xff, freed, handed out again zeroed. */
	n = labyrinth_alloc_bulk(&lab, LAB_GFP_NOWAIT, got, PAGES);
	for (i = 0; i < n; i++)
		memset(got[i], 0xff, PAGE);
	labyrinth_free_bulk(&lab, got, n);
	n = labyrinth_alloc_bulk(&lab, LAB_GFP_NOWAIT | LAB_GFP_ZERO, got, PAGES);
	for (i = 0; i < n; i++)
		CHECK(all_zero(got[i], PAGE), "bulk ZERO page %u not zero", i);
	for (i = 0; i < n; i++)
		memset(got[i], 0xff, PAGE);
	labyrinth_free_bulk(&lab, got, n);
	page = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC | LAB_GFP_ZERO);
	CHECK(page && all_zero(page, PAGE), "alloc_page ZERO not zero");
	labyrinth_free_page(&lab, page);
	page = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL | LAB_GFP_ZERO);
	CHECK(page && all_zero(page, PAGE), "KERNEL ZERO not zero");
	memset(page, 0xff, PAGE);
	labyrinth_free_page(&lab, page);
	block = labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT, 2);
	REQUIRE(block != NULL, "alloc order 2");
	memset(block, 0xff, 4 * PAGE);
	labyrinth_free_pages(&lab, block, 2);
	block = labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT | LAB_GFP_ZERO, 2);
	CHECK(block && all_zero(block, 4 * PAGE), "order-2 ZERO block not zero");
	labyrinth_free_pages(&lab, block, 2);
	text = capture_end();
	CHECK_TEXT(text, "");

	/* Written after free, then asked for zeroed: reported, and zero. */
	page = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	REQUIRE(page != NULL, "alloc");
	labyrinth_free_page(&lab, page);
	memset(page + 512, 0x77, 64);
	capture_start();
	for (n = 0; n < PAGES; n++) {
		got[n] = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT | LAB_GFP_ZERO);
		if (!got[n] || got[n] == (void *)page)
			break;
	}
	text = capture_end();
	REQUIRE(n < PAGES && got[n] == (void *)page, "the written page came back");
	CHECK_TEXT(text, report(want, sizeof(want), "poison", "labyrinth_alloc_page", page));
	CHECK(all_zero(page, PAGE), "the reported page is not zeroed");
	give_back(&lab, got, n + 1, 0);
	pool_balanced(&lab);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

int main(void)
{
	write_after_free_is_reported_on_next_hand_out();
	write_after_free_in_a_block_reports_each_written_page();
	write_after_free_is_reported_once();
	poison_is_not_reported_when_nothing_was_written();
	zero_still_zeroes_in_debug();
	return check_done();
}
