/* SPDX-License-Identifier: MIT */
/*
 * misuse.h - what every misuse program shares (hardened_malloc style).
 *
 * A misuse program performs one misuse on a pool named "misuse", made with
 * LAB_POOL_DEBUG unless its argument is "plain".  On stdout it prints each
 * address the expected report names ("addr=0x...", "%p" as the library
 * prints it), any notes, and last the misuse's result ("rc=-114").
 * run_misuse.sh builds the expected stderr from those addresses and
 * compares it, byte for byte, with what the program wrote there.
 *
 * Exit status: the errno of a negative result (114 for -EALREADY), 0 for
 * a result >= 0; MISUSE_BROKEN when the misuse changed the pool (stats,
 * audit, a later free or destroy) and MISUSE_SETUP when the program could
 * not set up.  Explanations go to stdout: stderr is the library's alone.
 */
#ifndef LAB_MISUSE_H
#define LAB_MISUSE_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "labyrinth.h"

#define MISUSE_BROKEN 125
#define MISUSE_SETUP  126

static int misuse_debug = 1;

/* Parse argv: "debug" (default) or "plain". */
static inline void misuse_args(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "plain") == 0)
		misuse_debug = 0;
	else if (argc > 1 && strcmp(argv[1], "debug") != 0) {
		printf("usage: %s [debug|plain]\n", argv[0]);
		exit(MISUSE_SETUP);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
}

static inline __attribute__((format(printf, 2, 3), noreturn))
void misuse_exit(int status, const char *fmt, ...)
{
	va_list ap;

	printf("%s: ", status == MISUSE_SETUP ? "setup failed" : "pool changed by the misuse");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	exit(status);
}

#define MISUSE_REQUIRE(cond, ...)                                               \
	do {                                                                    \
		if (!(cond))                                                    \
			misuse_exit(MISUSE_SETUP, __VA_ARGS__);                 \
	} while (0)
#define MISUSE_INTACT(cond, ...)                                                \
	do {                                                                    \
		if (!(cond))                                                    \
			misuse_exit(MISUSE_BROKEN, __VA_ARGS__);                \
	} while (0)

/* Make a pool called name (debug unless "plain" was asked for). */
static inline void misuse_pool(labyrinth_t *lab, const char *name, size_t nr_pages)
{
	struct labyrinth_params p = { .name = name, .nr_pages = nr_pages,
				      .flags = misuse_debug ? LAB_POOL_DEBUG : 0 };
	int rc;

	memset(lab, 0, sizeof(*lab));
	rc = labyrinth_init(lab, &p);
	MISUSE_REQUIRE(rc == 0, "labyrinth_init(%s): %d", name, rc);
}

static inline void misuse_addr(const char *key, const void *addr)
{
	printf("%s=%p\n", key, addr);
}

static inline struct labyrinth_stats misuse_stats(labyrinth_t *lab)
{
	struct labyrinth_stats st;
	int rc = labyrinth_stats(lab, &st);

	MISUSE_REQUIRE(rc == 0, "labyrinth_stats: %d", rc);
	return st;
}

/*
 * The misuse left the pool exactly as it was: every statistic equal to
 * before but bad_frees, which grew by bad, and the audit passes.
 */
static inline void misuse_unchanged(labyrinth_t *lab, const struct labyrinth_stats *before,
				    unsigned int bad)
{
	struct labyrinth_stats now = misuse_stats(lab), want = *before;
	int rc;

	want.bad_frees += bad;
	MISUSE_INTACT(memcmp(&now, &want, sizeof(now)) == 0,
		      "stats: free %llu/%llu inuse %llu/%llu allocs %llu/%llu frees %llu/%llu "
		      "bad_frees %llu/%llu (now/want)",
		      (unsigned long long)now.pages_free, (unsigned long long)want.pages_free,
		      (unsigned long long)now.pages_inuse, (unsigned long long)want.pages_inuse,
		      (unsigned long long)now.allocs, (unsigned long long)want.allocs,
		      (unsigned long long)now.frees, (unsigned long long)want.frees,
		      (unsigned long long)now.bad_frees, (unsigned long long)want.bad_frees);
	rc = labyrinth_check(lab);
	MISUSE_INTACT(rc == 0, "labyrinth_check: %d", rc);
}

/* Give back a page or block the program still owns, then destroy: both work. */
static inline void misuse_free(labyrinth_t *lab, void *addr, unsigned int order)
{
	int rc = labyrinth_free_pages(lab, addr, order);

	MISUSE_INTACT(rc == 0, "free of the owned block %p (order %u): %d", addr, order, rc);
}

static inline void misuse_destroy(labyrinth_t *lab)
{
	struct labyrinth_stats st = misuse_stats(lab);
	int rc;

	MISUSE_INTACT(st.pages_inuse == 0 && st.pages_free == st.pages_total,
		      "pages lost: free %llu inuse %llu total %llu",
		      (unsigned long long)st.pages_free, (unsigned long long)st.pages_inuse,
		      (unsigned long long)st.pages_total);
	rc = labyrinth_destroy(lab);
	MISUSE_INTACT(rc == 0, "labyrinth_destroy: %d", rc);
}

/* Print the misuse's result and exit with its errno (0 for a result >= 0). */
static inline __attribute__((noreturn)) void misuse_done(long rc)
{
	printf("rc=%ld\n", rc);
	fflush(stdout);
	exit(rc < 0 ? (int)-rc : 0);
}

#endif
