/* Description: freeing a page of pool 'other' into pool 'misuse': -EINVAL, both pools unchanged, one line naming pool 'misuse', the page and the rule broken ("outside the pool"). */
#include "misuse.h"

int main(int argc, char **argv)
{
	labyrinth_t lab, other;
	struct labyrinth_stats before, other_before;
	void *mine, *theirs;
	int rc;

	misuse_args(argc, argv);
	misuse_pool(&lab, "misuse", 64);
	misuse_pool(&other, "other", 64);
	mine = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	theirs = labyrinth_alloc_page(&other, LAB_GFP_NOWAIT);
	MISUSE_REQUIRE(mine && theirs, "alloc");
	misuse_addr("addr", theirs);
	before = misuse_stats(&lab);
	other_before = misuse_stats(&other);

	rc = labyrinth_free_pages(&lab, theirs, 0);

	misuse_unchanged(&lab, &before, 1);
	misuse_unchanged(&other, &other_before, 0);
	misuse_free(&other, theirs, 0);
	misuse_free(&lab, mine, 0);
	misuse_destroy(&other);
	misuse_destroy(&lab);
	misuse_done(rc);
}
