/* Description: every call on a destroyed pool fails with EINVAL (free of a former page gives -EINVAL), prints nothing, and the labyrinth_t can be initialised again. */
#include "misuse.h"

int main(int argc, char **argv)
{
	labyrinth_t lab;
	struct labyrinth_stats st;
	void *page, *pages[2];
	int rc;

	misuse_args(argc, argv);
	misuse_pool(&lab, "misuse", 64);
	page = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	MISUSE_REQUIRE(page != NULL, "alloc");
	MISUSE_REQUIRE(labyrinth_free_pages(&lab, page, 0) == 0, "free");
	MISUSE_REQUIRE(labyrinth_destroy(&lab) == 0, "destroy");

	rc = labyrinth_free_pages(&lab, page, 0);

	errno = 0;
	MISUSE_INTACT(labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC) == NULL && errno == EINVAL,
		      "alloc_page on a destroyed pool");
	errno = 0;
	MISUSE_INTACT(labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT, 1) == NULL && errno == EINVAL,
		      "alloc_pages on a destroyed pool");
	errno = 0;
	MISUSE_INTACT(labyrinth_void_alloc_page_gfp_atomic_exclusive(&lab) == NULL &&
		      errno == EINVAL, "the atomic exclusive alloc on a destroyed pool");
	errno = 0;
	MISUSE_INTACT(labyrinth_alloc_bulk(&lab, LAB_GFP_NOWAIT, pages, 2) == 0 && errno == EINVAL,
		      "alloc_bulk on a destroyed pool");
	pages[0] = page;
	pages[1] = NULL;
	errno = 0;
	MISUSE_INTACT(labyrinth_free_bulk(&lab, pages, 2) == 0 && errno == EINVAL,
		      "free_bulk on a destroyed pool");
	MISUSE_INTACT(labyrinth_free_page(&lab, page) == -EINVAL, "free_page");
	MISUSE_INTACT(labyrinth_destroy(&lab) == -EINVAL, "a second destroy");
	MISUSE_INTACT(labyrinth_stats(&lab, &st) == -EINVAL, "stats");
	MISUSE_INTACT(labyrinth_check(&lab) == -EINVAL, "check");
	MISUSE_INTACT(labyrinth_dump(&lab, stdout) == -EINVAL, "dump");
	MISUSE_INTACT(labyrinth_watch(&lab, 1) == -EINVAL, "watch");
	MISUSE_INTACT(labyrinth_owns(&lab, page) == 0, "owns");
	MISUSE_INTACT(labyrinth_page_size(&lab) == 0, "page_size");

	/* The same labyrinth_t makes a new pool. */
	misuse_pool(&lab, "misuse", 64);
	page = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	MISUSE_INTACT(page != NULL, "alloc in the re-initialised pool");
	misuse_free(&lab, page, 0);
	misuse_destroy(&lab);
	misuse_done(rc);
}
