/* Description: freeing the second page of an allocated order-2 block: -EINVAL, the block stays allocated, one line "invalid free of page <block + 1 page>: not a block start". */
#include "misuse.h"

int main(int argc, char **argv)
{
	labyrinth_t lab;
	struct labyrinth_stats before;
	char *block;
	int rc;

	misuse_args(argc, argv);
	misuse_pool(&lab, "misuse", 64);
	block = labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT, 2);
	MISUSE_REQUIRE(block != NULL, "alloc order 2");
	misuse_addr("addr", block + 4096);
	before = misuse_stats(&lab);

	rc = labyrinth_free_pages(&lab, block + 4096, 0);

	misuse_unchanged(&lab, &before, 1);
	misuse_free(&lab, block, 2);
	misuse_destroy(&lab);
	misuse_done(rc);
}
