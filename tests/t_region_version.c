/* SPDX-License-Identifier: MIT */
/* Description: labyrinth_region gives the pool as one range that holds every page
 * handed out and grows with LAB_GFP_KERNEL growth from the same base; bad
 * calls get -EINVAL and change nothing; labyrinth_version equals the header. */
#include "check.h"

static void check_version(void)
{
	char want[32];

	snprintf(want, sizeof(want), "%d.%d.%d", LAB_VERSION_MAJOR, LAB_VERSION_MINOR,
		 LAB_VERSION_PATCH);
	CHECK(labyrinth_version() != NULL, "version");
	CHECK(strcmp(labyrinth_version(), want) == 0, "%s != %s", labyrinth_version(), want);
}

static void check_bad_calls(labyrinth_t *lab)
{
	labyrinth_t zeroed = { 0 };
	void *base = (void *)0x1;
	size_t len = 7;

	CHECK_EQ(labyrinth_region(&zeroed, &base, &len), -EINVAL);
	CHECK_EQ(labyrinth_region(NULL, &base, &len), -EINVAL);
	CHECK_EQ(labyrinth_region(lab, NULL, &len), -EINVAL);
	CHECK_EQ(labyrinth_region(lab, &base, NULL), -EINVAL);
	CHECK(base == (void *)0x1 && len == 7, "outputs untouched on error");
}

int main(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_params pr = { .name = "region", .nr_pages = 64, .max_pages = 2048,
				       .flags = LAB_POOL_NOLOCK };
	static void *pages[2048];
	void *base, *base2;
	size_t len, len2, ps;
	unsigned int i, n = 0;

	check_version();
	REQUIRE(labyrinth_init(&lab, &pr) == 0, "init");
	check_bad_calls(&lab);
	ps = labyrinth_page_size(&lab);
	CHECK_EQ(labyrinth_region(&lab, &base, &len), 0);
	CHECK_EQ(len, 64 * ps);
	CHECK(((uintptr_t)base & (ps - 1)) == 0, "base is page-aligned");
	/* Every page handed out is base + k * page_size, inside the range. */
	for (i = 0; i < 64; i++) {
		pages[n] = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
		REQUIRE(pages[n], "page %u", i);
		CHECK((char *)pages[n] >= (char *)base && (char *)pages[n] < (char *)base + len,
		      "page %u inside", i);
		CHECK((((char *)pages[n] - (char *)base) % ps) == 0, "page %u on a page boundary", i);
		n++;
	}
	/* Growth: the base stays, the length follows pages_total. */
	pages[n] = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL);
	REQUIRE(pages[n], "a KERNEL allocation grows the pool");
	n++;
	CHECK_EQ(labyrinth_region(&lab, &base2, &len2), 0);
	CHECK(base2 == base, "base never moves");
	CHECK_EQ(len2, check_stats(&lab).pages_total * ps);
	CHECK(len2 > len, "the region grew");
	CHECK((char *)pages[n - 1] >= (char *)base && (char *)pages[n - 1] < (char *)base + len2,
	      "grown page inside");
	for (i = 0; i < n; i++)
		CHECK_EQ(labyrinth_free_page(&lab, pages[i]), 0);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
	CHECK_EQ(labyrinth_region(&lab, &base, &len), -EINVAL);
	return check_done();
}
