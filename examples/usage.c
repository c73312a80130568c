/* SPDX-License-Identifier: MIT */
/* usage.c - one page, now, for one owner: the shortest complete program. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <labyrinth.h>

int main(int argc, char **argv)
{
	static labyrinth_t pool;
	struct labyrinth_params params = { .name = "example", .nr_pages = 256 };
	struct labyrinth_stats st;
	int err;

	if (argc > 1) { /* -h, --help, or anything else: it takes no arguments */
		int help = strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0;

		fputs("usage: labyrinth-usage\n  one page from a pool of 256, then its stats\n",
		      help ? stdout : stderr);
		return help ? 0 : 2;
	}
	err = labyrinth_init(&pool, &params);
	if (err < 0) {
		/* the cause with its numbers and the fix, in one line */
		fprintf(stderr, "%s\n", labyrinth_last_error());
		return 1;
	}
	/* Never sleeps, never makes a system call: NULL + ENOMEM if the pool is dry. */
	char *page = labyrinth_void_alloc_page_gfp_atomic_exclusive(&pool);
	if (!page) {
		perror("labyrinth_void_alloc_page_gfp_atomic_exclusive");
		labyrinth_destroy(&pool);
		return 1;
	}
	snprintf(page, labyrinth_page_size(&pool), "hello from page %p", (void *)page);
	puts(page);
	labyrinth_free_page(&pool, page);
	labyrinth_stats(&pool, &st);
	printf("%" PRIu64 " allocs, %" PRIu64 " frees, %" PRIu64 " of %" PRIu64 " pages free\n",
	       st.allocs, st.frees, st.pages_free, st.pages_total);
	return labyrinth_destroy(&pool) < 0;
}
