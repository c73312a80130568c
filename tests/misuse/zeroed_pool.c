/* Description: every call on a zeroed, never-initialised labyrinth_t fails with EINVAL (a free gives -EINVAL) and prints nothing. */
#include "misuse.h"

static unsigned char some_page[4096] __attribute__((aligned(4096)));

int main(int argc, char **argv)
{
	labyrinth_t lab;
	struct labyrinth_stats st;
	void *pages[2] = { some_page, NULL };
	int rc;

	misuse_args(argc, argv);
	memset(&lab, 0, sizeof(lab));

	rc = labyrinth_free_pages(&lab, some_page, 0);

	errno = 0;
	MISUSE_INTACT(labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC) == NULL && errno == EINVAL,
		      "alloc_page");
	errno = 0;
	MISUSE_INTACT(labyrinth_alloc_pages(&lab, LAB_GFP_KERNEL, 3) == NULL && errno == EINVAL,
		      "alloc_pages");
	errno = 0;
	MISUSE_INTACT(labyrinth_void_alloc_page_gfp_atomic_exclusive(&lab) == NULL &&
		      errno == EINVAL, "the atomic exclusive alloc");
	errno = 0;
	MISUSE_INTACT(labyrinth_alloc_bulk(&lab, LAB_GFP_NOWAIT, pages, 2) == 0 && errno == EINVAL,
		      "alloc_bulk");
	pages[0] = some_page;
	pages[1] = NULL;
	errno = 0;
	MISUSE_INTACT(labyrinth_free_bulk(&lab, pages, 2) == 0 && errno == EINVAL, "free_bulk");
	MISUSE_INTACT(labyrinth_free_page(&lab, some_page) == -EINVAL, "free_page");
	MISUSE_INTACT(labyrinth_destroy(&lab) == -EINVAL, "destroy");
	MISUSE_INTACT(labyrinth_stats(&lab, &st) == -EINVAL, "stats");
	MISUSE_INTACT(labyrinth_check(&lab) == -EINVAL, "check");
	MISUSE_INTACT(labyrinth_dump(&lab, stdout) == -EINVAL, "dump");
	MISUSE_INTACT(labyrinth_watch(&lab, 1) == -EINVAL, "watch");
	MISUSE_INTACT(labyrinth_owns(&lab, some_page) == 0, "owns");
	MISUSE_INTACT(labyrinth_page_size(&lab) == 0, "page_size");
	{
		static const labyrinth_t zero; /* and a static one, never touched */

		MISUSE_INTACT(labyrinth_page_size(&zero) == 0 && !labyrinth_owns(&zero, some_page),
			      "a static zeroed pool");
	}
	misuse_done(rc);
}
