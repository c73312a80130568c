/* Description: destroying a pool with a page still allocated: -EBUSY, the pool intact and usable (stats, audit, alloc and free), destroy works once the page is back. */
#include "misuse.h"

int main(int argc, char **argv)
{
	labyrinth_t lab;
	struct labyrinth_stats before;
	void *page, *more;
	int rc;

	misuse_args(argc, argv);
	misuse_pool(&lab, "misuse", 64);
	page = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	MISUSE_REQUIRE(page != NULL, "alloc");
	before = misuse_stats(&lab);

	rc = labyrinth_destroy(&lab);

	misuse_unchanged(&lab, &before, 0);
	MISUSE_INTACT(labyrinth_owns(&lab, page) == 1, "the pool no longer owns its page");
	more = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	MISUSE_INTACT(more != NULL, "the pool cannot allocate any more");
	misuse_free(&lab, more, 0);
	misuse_free(&lab, page, 0);
	misuse_destroy(&lab);
	misuse_done(rc);
}
