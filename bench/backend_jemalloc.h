/* SPDX-License-Identifier: MIT */
/* jemalloc: Debian's libjemalloc has no prefix, so linking -ljemalloc
 * replaces malloc; aligned_alloc(4096, 4096) / free then are jemalloc's.
 * mallctl("version") proves that at start-up. */
#define BK_NAME "jemalloc"
#define BK_SIGNAL_SAFE 0
#define BK_HAS_BULK 0
#include "backend.h"

#include <stdlib.h>
#include <jemalloc/jemalloc.h>

static int bk_init(size_t pages)
{
	const char *v = NULL;
	size_t len = sizeof(v);

	(void)pages;
	if (mallctl("version", (void *)&v, &len, NULL, 0) != 0 || !v) {
		fprintf(stderr, "bench-jemalloc: jemalloc is not the malloc in use\n");
		return -1;
	}
	bk_note("jemalloc %s", v);
	return 0;
}
static void bk_fini(void) { }
static int bk_thread_enter(void) { return 0; }
static void bk_thread_leave(void) { }
static inline void *bk_get(void) { return aligned_alloc(BENCH_PAGE, BENCH_PAGE); }
static inline void bk_put(void *page) { free(page); }

/* A block of 2^o pages aligned to its size (labyrinth_alloc_pages' peer). */
#define BK_HAS_ORDER 1
static inline void *bk_get_order(unsigned o) { return aligned_alloc(BENCH_PAGE << o, BENCH_PAGE << o); }
static inline void bk_put_order(void *p, unsigned o) { (void)o; free(p); }
