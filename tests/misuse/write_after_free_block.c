/* Description: writes into the second and fourth page of a freed order-2 block are reported page by page when the block is handed out again, and that allocation still succeeds. */
#include "misuse.h"

int main(int argc, char **argv)
{
	labyrinth_t lab;
	void *got[16];
	unsigned char *block;
	unsigned int n = 0, i;
	int found = 0;

	misuse_args(argc, argv);
	misuse_pool(&lab, "misuse", 64);
	block = labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT, 2);
	MISUSE_REQUIRE(block != NULL, "alloc order 2");
	MISUSE_REQUIRE(labyrinth_free_pages(&lab, block, 2) == 0, "free");
	misuse_addr("page1", block + 1 * 4096);
	misuse_addr("page3", block + 3 * 4096);

	block[1 * 4096 + 7] = 1;    /* the misuse: two pages written after free */
	block[3 * 4096 + 4095] = 3;

	while (n < 16 && !found) {
		got[n] = labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT, 2);
		if (!got[n])
			break;
		found = got[n++] == (void *)block;
	}
	printf("handed out again after %u allocations\n", n);
	MISUSE_INTACT(found, "the written block never came back");
	MISUSE_INTACT(labyrinth_check(&lab) == 0, "labyrinth_check");
	for (i = 0; i < n; i++)
		misuse_free(&lab, got[i], 2);
	misuse_destroy(&lab);
	misuse_done(0);
}
