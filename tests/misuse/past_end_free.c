/* Description: freeing the page-aligned address just past the pool's last page (reserved for growth, not a page yet): -EINVAL, one line "invalid free of page <addr>: outside the pool". */
#include "misuse.h"

#include <stdint.h>

int main(int argc, char **argv)
{
	labyrinth_t lab;
	struct labyrinth_stats before;
	void *pages[64], *past = NULL;
	unsigned int i, n;
	int rc;

	misuse_args(argc, argv);
	misuse_pool(&lab, "misuse", 64);
	n = labyrinth_alloc_bulk(&lab, LAB_GFP_NOWAIT, pages, 64);
	MISUSE_REQUIRE(n == 64, "alloc every page: %u", n);
	for (i = 0; i < n; i++)
		if ((uintptr_t)pages[i] >= (uintptr_t)past)
			past = (char *)pages[i] + 4096;
	MISUSE_REQUIRE(labyrinth_free_bulk(&lab, pages, n) == n, "free every page");
	MISUSE_REQUIRE(!labyrinth_owns(&lab, past), "the pool owns the page past its end");
	misuse_addr("addr", past);
	before = misuse_stats(&lab);

	rc = labyrinth_free_pages(&lab, past, 0);

	misuse_unchanged(&lab, &before, 1);
	misuse_destroy(&lab);
	misuse_done(rc);
}
