/* Description: freeing a page twice: -EALREADY, the pool unchanged, and in a debug pool one line "double free of page <addr>". */
#include "misuse.h"

int main(int argc, char **argv)
{
	labyrinth_t lab;
	struct labyrinth_stats before;
	void *page;
	int rc;

	misuse_args(argc, argv);
	misuse_pool(&lab, "misuse", 64);
	page = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	MISUSE_REQUIRE(page != NULL, "alloc");
	MISUSE_REQUIRE(labyrinth_free_pages(&lab, page, 0) == 0, "first free");
	misuse_addr("addr", page);
	before = misuse_stats(&lab);

	rc = labyrinth_free_pages(&lab, page, 0);

	misuse_unchanged(&lab, &before, 1);
	misuse_destroy(&lab);
	misuse_done(rc);
}
