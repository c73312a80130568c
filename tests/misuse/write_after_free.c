/* Description: a byte written into a freed page of a debug pool is reported when the page is handed out again ("write after free in page <addr>"), and that allocation still succeeds. */
#include "misuse.h"

int main(int argc, char **argv)
{
	labyrinth_t lab;
	void *got[64];
	unsigned char *page;
	unsigned int n = 0, i;
	int found = 0;

	misuse_args(argc, argv);
	misuse_pool(&lab, "misuse", 64);
	page = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	MISUSE_REQUIRE(page != NULL, "alloc");
	MISUSE_REQUIRE(labyrinth_free_pages(&lab, page, 0) == 0, "free");
	misuse_addr("addr", page);

	page[1234] = 0x5a; /* the misuse: the page is mapped, but no longer ours */

	/* Allocate until the page comes back (the first one, with caches). */
	while (n < 64 && !found) {
		got[n] = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
		if (!got[n])
			break;
		found = got[n++] == (void *)page;
	}
	printf("handed out again after %u allocations\n", n);
	MISUSE_INTACT(found, "the written page never came back");
	MISUSE_INTACT(labyrinth_check(&lab) == 0, "labyrinth_check");
	for (i = 0; i < n; i++)
		misuse_free(&lab, got[i], 0);
	misuse_destroy(&lab);
	misuse_done(0);
}
