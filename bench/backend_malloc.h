/* SPDX-License-Identifier: MIT */
/*
 * The part every malloc replacement shares (glibc, jemalloc, tcmalloc: each
 * is the process's malloc in its own executable): pages and blocks from
 * aligned_alloc, back with free, nothing to do per thread.
 */
#include <stdlib.h>

static void bk_fini(void) { }
static int bk_thread_enter(void) { return 0; }
static void bk_thread_leave(void) { }
static inline void *bk_get(void) { return aligned_alloc(BENCH_PAGE, BENCH_PAGE); }
static inline void bk_put(void *page) { free(page); }

/* A block of 2^o pages aligned to its size (labyrinth_alloc_pages' peer). */
#define BK_HAS_ORDER 1
static inline void *bk_get_order(unsigned o) { return aligned_alloc(BENCH_PAGE << o, BENCH_PAGE << o); }
static inline void bk_put_order(void *p, unsigned o) { (void)o; free(p); }
