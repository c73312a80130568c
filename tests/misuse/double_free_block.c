/* Description: freeing an order-2 block twice, the second time as order 0: -EALREADY whatever the order, one line "double free of page <block>". */
#include "misuse.h"

int main(int argc, char **argv)
{
	labyrinth_t lab;
	struct labyrinth_stats before;
	void *block;
	int rc;

	misuse_args(argc, argv);
	misuse_pool(&lab, "misuse", 64);
	block = labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT, 2);
	MISUSE_REQUIRE(block != NULL, "alloc order 2");
	MISUSE_REQUIRE(labyrinth_free_pages(&lab, block, 2) == 0, "first free");
	misuse_addr("addr", block);
	before = misuse_stats(&lab);

	rc = labyrinth_free_pages(&lab, block, 0);

	misuse_unchanged(&lab, &before, 1);
	misuse_destroy(&lab);
	misuse_done(rc);
}
