/* Description: freeing a page-aligned address that is not in the pool: -EINVAL, the pool unchanged, one line "invalid free of page <addr>: outside the pool". */
#include "misuse.h"

static unsigned char wild[2 * 4096] __attribute__((aligned(4096)));

int main(int argc, char **argv)
{
	labyrinth_t lab;
	struct labyrinth_stats before;
	void *page;
	int rc;

	misuse_args(argc, argv);
	misuse_pool(&lab, "misuse", 64);
	page = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT); /* something in use */
	MISUSE_REQUIRE(page != NULL, "alloc");
	MISUSE_REQUIRE(!labyrinth_owns(&lab, wild), "the pool owns a static buffer");
	misuse_addr("addr", wild);
	before = misuse_stats(&lab);

	rc = labyrinth_free_pages(&lab, wild, 0);

	misuse_unchanged(&lab, &before, 1);
	misuse_free(&lab, page, 0);
	misuse_destroy(&lab);
	misuse_done(rc);
}
