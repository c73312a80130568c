/* Description: labyrinth_free_bulk given the same page twice frees it once (result 1), and in a debug pool reports the second as "labyrinth_free_bulk: double free of page <addr>". */
#include "misuse.h"

int main(int argc, char **argv)
{
	labyrinth_t lab;
	struct labyrinth_stats before, after;
	void *pages[2];
	unsigned int n;

	misuse_args(argc, argv);
	misuse_pool(&lab, "misuse", 64);
	pages[0] = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	MISUSE_REQUIRE(pages[0] != NULL, "alloc");
	pages[1] = pages[0];
	misuse_addr("addr", pages[0]);
	before = misuse_stats(&lab);

	n = labyrinth_free_bulk(&lab, pages, 2);

	/* One good free and one bad one: the page is free, counted once. */
	after = misuse_stats(&lab);
	MISUSE_INTACT(after.pages_free == before.pages_free + 1 &&
		      after.pages_inuse == before.pages_inuse - 1 &&
		      after.frees == before.frees + 1 && after.bad_frees == before.bad_frees + 1,
		      "free %llu->%llu frees %llu->%llu bad_frees %llu->%llu",
		      (unsigned long long)before.pages_free, (unsigned long long)after.pages_free,
		      (unsigned long long)before.frees, (unsigned long long)after.frees,
		      (unsigned long long)before.bad_frees, (unsigned long long)after.bad_frees);
	MISUSE_INTACT(labyrinth_check(&lab) == 0, "labyrinth_check");
	misuse_destroy(&lab);
	misuse_done(n);
}
