/* SPDX-License-Identifier: MIT */
/* glibc malloc: aligned_alloc(4096, 4096) / free. */
#define BK_NAME "glibc"
#define BK_SIGNAL_SAFE 0
#define BK_HAS_BULK 0
#include "backend.h"

#include <gnu/libc-version.h>
#include <stdlib.h>

static int bk_init(size_t pages)
{
	(void)pages;
	bk_note("glibc %s", gnu_get_libc_version());
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
