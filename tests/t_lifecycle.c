/* Description: init with defaults, allocate every page, free them all, destroy; a zeroed
 * or destroyed pool is refused. */
#include "check.h"

int main(void)
{
	labyrinth_t lab = { 0 };
	static void *pages[1024];
	struct labyrinth_stats st;
	unsigned int i;

	/* A zeroed pool is told apart. */
	CHECK(labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC) == NULL && errno == EINVAL, "zeroed");
	CHECK_EQ(labyrinth_destroy(&lab), -EINVAL);
	CHECK_EQ(labyrinth_free_page(&lab, (void *)0x1000), -EINVAL);
	CHECK_EQ(labyrinth_page_size(&lab), 0);

	REQUIRE(labyrinth_init(&lab, NULL) == 0, "init with defaults");
	CHECK_EQ(labyrinth_page_size(&lab), 4096);
	st = check_stats(&lab);
	CHECK_EQ(st.pages_total, 1024);
	CHECK_EQ(st.pages_free, 1024);
	for (i = 0; i < 1024; i++) {
		pages[i] = labyrinth_void_alloc_page_gfp_atomic_exclusive(&lab);
		CHECK(pages[i] != NULL, "page %u", i);
		CHECK(((uintptr_t)pages[i] & 4095) == 0, "aligned");
		CHECK(labyrinth_owns(&lab, pages[i]) == 1, "owns");
		memset(pages[i], (int)i, 4096);
	}
	errno = 0;
	CHECK(labyrinth_void_alloc_page_gfp_atomic_exclusive(&lab) == NULL && errno == ENOMEM,
	      "empty pool");
	CHECK_EQ(labyrinth_destroy(&lab), -EBUSY);
	st = check_stats(&lab);
	CHECK_EQ(st.pages_inuse, 1024);
	CHECK_EQ(labyrinth_check(&lab), 0);
	for (i = 0; i < 1024; i++)
		CHECK_EQ(labyrinth_free_page(&lab, pages[i]), 0);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_dump(&lab, stdout), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
	CHECK(labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC) == NULL && errno == EINVAL, "destroyed");
	CHECK_EQ(labyrinth_destroy(&lab), -EINVAL);
	CHECK_EQ(labyrinth_owns(&lab, pages[0]), 0);
	return check_done();
}
