/* SPDX-License-Identifier: MIT */
/*
 * The floor: the practical limit of a page pool (see floor_lib.c): a plain
 * per-thread LIFO array of pre-faulted pages, no checks, one real call per
 * get and put into a static library linked into the binary.
 */
#define BK_NAME "floor"
#define BK_SIGNAL_SAFE 1
#define BK_HAS_BULK 1
#include "backend.h"
#include "floor_lib.h"

static int bk_init(size_t pages) { return floor_init(pages); }
static void bk_fini(void) { }
static int bk_thread_enter(void) { return 0; }
static void bk_thread_leave(void) { floor_thread_leave(); }
static inline void *bk_get(void) { return floor_get(); }
static inline void bk_put(void *page) { floor_put(page); }
static inline unsigned bk_get_bulk(void **v, unsigned n) { return floor_get_bulk(v, n); }
static inline void bk_put_bulk(void **v, unsigned n) { floor_put_bulk(v, n); }

/* Several pools (the pools4 scenario): the floor is one LIFO for all. */
#define BK_POOLS_MAX 4
static int bk_pools_init(unsigned n, size_t pages) { (void)n; (void)pages; return 0; }
static void bk_pools_fini(unsigned n) { (void)n; }
static inline void *bk_get_from(unsigned k) { (void)k; return floor_get(); }
static inline void bk_put_to(unsigned k, void *page) { (void)k; floor_put(page); }
