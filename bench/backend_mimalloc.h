/* SPDX-License-Identifier: MIT */
/* mimalloc: mi_malloc_aligned(4096, 4096) / mi_free. */
#define BK_NAME "mimalloc"
#define BK_SIGNAL_SAFE 0
#define BK_HAS_BULK 0
#include "backend.h"

#include <mimalloc.h>

static int bk_init(size_t pages)
{
	(void)pages;
	bk_note("mimalloc %d", mi_version());
	return 0;
}
static void bk_fini(void) { }
static int bk_thread_enter(void) { return 0; }
static void bk_thread_leave(void) { }
static inline void *bk_get(void) { return mi_malloc_aligned(BENCH_PAGE, BENCH_PAGE); }
static inline void bk_put(void *page) { mi_free(page); }

/* A block of 2^o pages aligned to its size (labyrinth_alloc_pages' peer). */
#define BK_HAS_ORDER 1
static inline void *bk_get_order(unsigned o) { return mi_malloc_aligned(BENCH_PAGE << o, BENCH_PAGE << o); }
static inline void bk_put_order(void *p, unsigned o) { (void)o; mi_free(p); }
