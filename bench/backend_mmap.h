/* SPDX-License-Identifier: MIT */
/* mmap/munmap of one anonymous page per get/put: the kernel as allocator. */
#define BK_NAME "mmap"
#define BK_SIGNAL_SAFE 0
#define BK_HAS_BULK 0
#include "backend.h"

#include <sys/mman.h>

static int bk_init(size_t pages) { (void)pages; return 0; }
static void bk_fini(void) { }
static int bk_thread_enter(void) { return 0; }
static void bk_thread_leave(void) { }
static inline void *bk_get(void)
{
	void *p = mmap(NULL, BENCH_PAGE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}
static inline void bk_put(void *page) { (void)munmap(page, BENCH_PAGE); }

#define BK_HAS_ORDER 1
static inline void *bk_get_order(unsigned o)
{
	void *p = mmap(NULL, BENCH_PAGE << o, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	return p == MAP_FAILED ? NULL : p;
}
static inline void bk_put_order(void *p, unsigned o) { (void)munmap(p, BENCH_PAGE << o); }
