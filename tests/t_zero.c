/* Description: LAB_GFP_ZERO pages carry nothing from their previous owner: every byte of every page is zero after a 0xff fill, via alloc_page, alloc_pages, alloc_bulk, for each gfp type. */
#include "check.h"

#include <stdint.h>

#define NR 48

static void *pages[NR];

/* Index of the first non-zero byte of a page, or size if none. */
static size_t first_nonzero(const void *page, size_t size)
{
	const unsigned char *c = page;
	size_t i;

	for (i = 0; i < size; i++)
		if (c[i])
			return i;
	return size;
}

static void fill_all_and_free(labyrinth_t *lab, size_t size, int bulk)
{
	unsigned int i, n;

	n = labyrinth_alloc_bulk(lab, LAB_GFP_ATOMIC, pages, NR);
	CHECK_EQ(n, NR);
	for (i = 0; i < n; i++)
		memset(pages[i], 0xff, size);
	if (bulk) {
		CHECK_EQ(labyrinth_free_bulk(lab, pages, n), n);
	} else {
		for (i = 0; i < n; i++)
			CHECK_EQ(labyrinth_free_page(lab, pages[i]), 0);
	}
}

static void check_zero(void *const *pg, unsigned int n, size_t size, const char *how)
{
	unsigned int i, bad = 0;

	for (i = 0; i < n; i++) {
		size_t at = first_nonzero(pg[i], size);

		if (at != size) {
			bad++;
			CHECK(at == size, "%s: page %u (%p) byte %zu is 0x%02x", how, i, pg[i], at,
			      ((unsigned char *)pg[i])[at]);
		}
	}
	CHECK(bad == 0, "%s: %u of %u pages not zero", how, bad, n);
}

static void run(labyrinth_t *lab, size_t size, const char *name)
{
	static const lab_gfp_t types[3] = { LAB_GFP_ATOMIC, LAB_GFP_NOWAIT, LAB_GFP_KERNEL };
	unsigned int t, i, n;
	char how[96];

	for (t = 0; t < 3; t++) {
		/* single pages, alloc_page */
		fill_all_and_free(lab, size, 0);
		n = 0;
		for (i = 0; i < NR; i++) {
			pages[i] = labyrinth_alloc_page(lab, types[t] | LAB_GFP_ZERO);
			CHECK(pages[i] != NULL, "page %u", i);
			if (pages[i])
				n++;
		}
		snprintf(how, sizeof(how), "%s alloc_page gfp 0x%x", name, types[t]);
		check_zero(pages, n, size, how);
		CHECK_EQ(labyrinth_free_bulk(lab, pages, n), n);

		/* alloc_pages order 0, with NOWARN too */
		fill_all_and_free(lab, size, 1);
		n = 0;
		for (i = 0; i < NR; i++) {
			pages[i] = labyrinth_alloc_pages(lab, types[t] | LAB_GFP_ZERO | LAB_GFP_NOWARN, 0);
			if (pages[i])
				n++;
		}
		CHECK_EQ(n, NR);
		snprintf(how, sizeof(how), "%s alloc_pages gfp 0x%x", name, types[t]);
		check_zero(pages, n, size, how);
		CHECK_EQ(labyrinth_free_bulk(lab, pages, n), n);

		/* alloc_bulk, in two pieces (a batch and the rest) */
		fill_all_and_free(lab, size, 1);
		n = labyrinth_alloc_bulk(lab, types[t] | LAB_GFP_ZERO, pages, NR / 3);
		n += labyrinth_alloc_bulk(lab, types[t] | LAB_GFP_ZERO, pages + n, NR - n);
		CHECK_EQ(n, NR);
		snprintf(how, sizeof(how), "%s alloc_bulk gfp 0x%x", name, types[t]);
		check_zero(pages, n, size, how);
		CHECK_EQ(labyrinth_free_bulk(lab, pages, n), n);
	}

	/* a page written by its owner and freed comes back zeroed at once */
	pages[0] = labyrinth_alloc_page(lab, LAB_GFP_ATOMIC);
	REQUIRE(pages[0] != NULL, "one page");
	memset(pages[0], 0x5a, size);
	((unsigned char *)pages[0])[size - 1] = 1;
	CHECK_EQ(labyrinth_free_page(lab, pages[0]), 0);
	/* the store is LIFO or not: take all and check every one */
	n = labyrinth_alloc_bulk(lab, LAB_GFP_ATOMIC | LAB_GFP_ZERO, pages, NR);
	CHECK_EQ(n, NR);
	snprintf(how, sizeof(how), "%s after one 0x5a page", name);
	check_zero(pages, n, size, how);
	CHECK_EQ(labyrinth_free_bulk(lab, pages, n), n);
	CHECK_EQ(labyrinth_check(lab), 0);
}

int main(void)
{
	labyrinth_t lab = { 0 }, dbg = { 0 };
	struct labyrinth_params p = { .name = "zero", .nr_pages = NR };
	struct labyrinth_stats st;

	REQUIRE(labyrinth_init(&lab, &p) == 0, "init");
	run(&lab, 4096, "plain");
	st = check_stats(&lab);
	CHECK_EQ(st.pages_free, NR);
	CHECK_EQ(st.allocs, st.frees);
	CHECK_EQ(labyrinth_destroy(&lab), 0);

	/* a debug pool poisons free pages: ZERO must still give zeros */
	p.name = "zero-debug";
	p.flags = LAB_POOL_DEBUG;
	REQUIRE(labyrinth_init(&dbg, &p) == 0, "init debug");
	run(&dbg, 4096, "debug");
	CHECK_EQ(labyrinth_destroy(&dbg), 0);
	return check_done();
}
