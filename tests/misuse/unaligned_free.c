/* Description: freeing an allocated page's address plus 64: -EINVAL, the page stays allocated, one line "invalid free of page <addr + 64>: not page-aligned". */
#include "misuse.h"

int main(int argc, char **argv)
{
	labyrinth_t lab;
	struct labyrinth_stats before;
	char *page;
	int rc;

	misuse_args(argc, argv);
	misuse_pool(&lab, "misuse", 64);
	page = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	MISUSE_REQUIRE(page != NULL, "alloc");
	misuse_addr("addr", page + 64);
	before = misuse_stats(&lab);

	rc = labyrinth_free_pages(&lab, page + 64, 0);

	misuse_unchanged(&lab, &before, 1);
	misuse_free(&lab, page, 0);
	misuse_destroy(&lab);
	misuse_done(rc);
}
