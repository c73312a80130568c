/* SPDX-License-Identifier: MIT */
/*
 * man_figures.c - the figures the man pages and the README quote, computed
 * by the library itself, for tests/man_pages.sh (so no number is typed
 * twice).  Prints "key value" lines:
 *   batch_1024 N     pages one refill brings into a thread's cache, pool of 1024
 *   batch_4096 N       and of 4096
 *   meta_default N   bytes of metadata of a default pool (1024 pages)
 *   rx_meta N        the sample message's pool (4096 pages, max 16384) under
 *   rx_kib N           an 8 MiB memlock limit: metadata bytes, the limit to
 *   rx_fit N           set (KiB), the pages that would fit
 *   rx_line LINE     that whole message
 * Lowers its memlock limit and, as root, becomes nobody: run it alone.
 */
#define _GNU_SOURCE
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "labyrinth.h"

/* The number right after `key` in the line (digits only), or -1. */
static long long number_after(const char *line, const char *key)
{
	const char *at = line ? strstr(line, key) : NULL;

	return at ? strtoll(at + strlen(key), NULL, 10) : -1;
}

/* The number right before `key`, or -1. */
static long long number_before(const char *line, const char *key)
{
	const char *at = line ? strstr(line, key) : NULL, *start = at;

	while (start && start > line && start[-1] >= '0' && start[-1] <= '9')
		start--;
	return start && start < at ? strtoll(start, NULL, 10) : -1;
}

static int fail(const char *what)
{
	fprintf(stderr, "man_figures: %s\n", what);
	return 1;
}

int main(void)
{
	struct labyrinth_params batch = { .flags = LAB_POOL_NOLOCK };
	static const size_t batch_pools[] = { 1024, 4096 };
	struct labyrinth_params rx = { .name = "rx", .nr_pages = 4096, .max_pages = 16384,
				       .reserve_pages = 256 };
	struct rlimit small = { 4u << 20, 8u << 20 }, eight = { 8u << 20, 8u << 20 };
	struct labyrinth_stats st;
	labyrinth_t lab = { 0 };
	const char *line;
	unsigned int i;
	void *page;

	/* one allocation on this thread's empty cache: a refill of one batch */
	for (i = 0; i < 2; i++) {
		batch.nr_pages = batch_pools[i];
		if (labyrinth_init(&lab, &batch) ||
		    !(page = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT)) ||
		    labyrinth_stats(&lab, &st))
			return fail("a pool without locking");
		printf("batch_%zu %llu\n", batch.nr_pages, (unsigned long long)st.pages_cached + 1);
		labyrinth_free_page(&lab, page);
		labyrinth_destroy(&lab);
	}

	/* the rest needs a memlock limit that holds: drop root's capabilities
	 * (the hard limit first: nobody cannot raise it) */
	if (geteuid() == 0 && (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
			       setresuid(65534, 65534, 65534)))
		return fail("cannot become nobody");
	if (setrlimit(RLIMIT_MEMLOCK, &small))
		return fail("setrlimit");
	if (labyrinth_init(&lab, NULL) == 0)
		return fail("a default pool fits under 4 MiB locked");
	printf("meta_default %lld\n", number_after(labyrinth_last_error(), " bytes of pages + "));
	if (setrlimit(RLIMIT_MEMLOCK, &eight))
		return fail("setrlimit");
	if (labyrinth_init(&lab, &rx) == 0)
		return fail("the 4096-page pool fits under 8 MiB locked");
	line = labyrinth_last_error();
	printf("rx_meta %lld\n", number_after(line, " bytes of pages + "));
	printf("rx_kib %lld\n", number_after(line, "raise the limit to at least "));
	printf("rx_fit %lld\n", number_before(line, " pages of 4096 bytes would fit"));
	printf("rx_line %s\n", line);
	return 0;
}
