/* SPDX-License-Identifier: MIT */
/*
 * labyrinth.h - page pools that never sleep on their atomic path.
 *
 * labyrinth hands out whole memory pages from pools.  Each page belongs to
 * exactly one owner from the allocation that returns it until the free that
 * gives it back.  The ATOMIC and NOWAIT allocation paths, and every free,
 * are lock-free and async-signal-safe: they take no lock, make no system
 * call and take no page fault (pool memory and the allocator's own state are
 * populated and locked in advance).
 *
 *     labyrinth_t rx_pool;
 *     struct labyrinth_params p = { .name = "rx", .nr_pages = 4096 };
 *     if (labyrinth_init(&rx_pool, &p) < 0) ...;
 *     void *page = labyrinth_void_alloc_page_gfp_atomic_exclusive(&rx_pool);
 *     ...
 *     labyrinth_free_page(&rx_pool, page);
 *     labyrinth_destroy(&rx_pool);
 *
 * Errors: functions returning int return 0 (or a count) on success and a
 * negative errno on failure; functions returning a pointer return NULL and
 * set errno.  Misuse never changes the pool.  See labyrinth(7) and the man
 * page of each function.
 */
#ifndef LABYRINTH_H
#define LABYRINTH_H

#ifdef __KERNEL__ /* labyrinth.ko: kernel callers include this header too */
#include <linux/types.h>
#else
#include <stddef.h>
#include <stdint.h>
#endif
#if !defined(LAB_FREESTANDING_CORE) && !defined(__KERNEL__) /* the core needs no stdio */
#include <stdio.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* Exported from liblabyrinth, which is built with hidden visibility. */
#define LAB_API __attribute__((visibility("default")))

#define LAB_VERSION_MAJOR 0
#define LAB_VERSION_MINOR 3
#define LAB_VERSION_PATCH 0
/* The same version as a string literal, "MAJOR.MINOR.PATCH". */
#define LAB_VERSION__STR(x) #x
#define LAB_VERSION__TEXT(a, b, c) LAB_VERSION__STR(a) "." LAB_VERSION__STR(b) "." LAB_VERSION__STR(c)
#define LAB_VERSION_STRING LAB_VERSION__TEXT(LAB_VERSION_MAJOR, LAB_VERSION_MINOR, LAB_VERSION_PATCH)
/* The shared library's soname is liblabyrinth.so.LAB_ABI_VERSION.  It
 * changes when the ABI does: the functions' signatures, and the layout
 * the inline fast path reads (labyrinth_fast.h). */
#define LAB_ABI_VERSION 2

/* Page sizes, in bytes. */
#define LAB_PAGE_4K ((size_t)4096)
#define LAB_PAGE_2M ((size_t)2 << 20)
#define LAB_PAGE_1G ((size_t)1 << 30)

/* An order-n block is 2^n contiguous pages aligned to its own size. */
#define LAB_MAX_ORDER 10

/*
 * GFP flags: exactly one of ATOMIC, NOWAIT or KERNEL, optionally OR-ed with
 * the modifiers.  Anything else fails with EINVAL.
 *
 *   LAB_GFP_ATOMIC  never blocks, no system call; may take the reserve.
 *   LAB_GFP_NOWAIT  never blocks, no system call; leaves the reserve alone.
 *   LAB_GFP_KERNEL  may grow the pool up to max_pages, then wait up to
 *                   wait_ms for a free page; leaves the reserve alone.
 */
typedef unsigned int lab_gfp_t;

#define LAB_GFP_ATOMIC 0x01u
#define LAB_GFP_NOWAIT 0x02u
#define LAB_GFP_KERNEL 0x04u
#define LAB_GFP_ZERO   0x100u /* the page comes back zero-filled */
#define LAB_GFP_NOWARN 0x200u /* no message on failure (LAB_POOL_DEBUG) */

/* Pool flags (struct labyrinth_params.flags). */
#define LAB_POOL_SECRET   0x01u /* memfd_secret(2): pages leave the direct map */
#define LAB_POOL_HUGETLB  0x02u /* hugetlbfs pages; -ENOMEM if none reserved */
#define LAB_POOL_DUMPABLE 0x04u /* include the pool in core dumps */
#define LAB_POOL_NOLOCK   0x08u /* do not mlock (ATOMIC may then fault) */
#define LAB_POOL_DEBUG    0x10u /* poison, check, report every misuse */
#define LAB_POOL_NUMA     0x20u /* pages and metadata on node params.numa_node */
/* No per-thread caches: a page freed on any thread can be taken at once by
 * every other (for callers with a cache of their own above, e.g. DPDK). */
#define LAB_POOL_NOCACHE  0x40u

/*
 * A pool.  The type is complete so that a pool can be declared statically
 * or on the stack; its members are private.  A zeroed labyrinth_t is a
 * valid "not initialised" pool: every call on it fails with EINVAL.  The
 * inline fast path (labyrinth_fast.h) reads the magic, the caches and
 * their stride: this thread's cache in the pool is at
 * caches + slot * stride, whatever pool the thread used before.  The
 * layout is part of the ABI (LAB_ABI_VERSION); 64 bytes.
 */
typedef struct labyrinth {
	uint64_t lab_private_magic;
	void *lab_private_core;
	void *lab_private_caches;       /* the pool's per-thread caches */
	uint64_t lab_private_stride;    /* bytes from one slot's cache to the next */
	uint64_t lab_private_reserved[4];
} labyrinth_t;

/* Parameters of labyrinth_init(); all-zero means defaults. */
struct labyrinth_params {
	const char *name;     /* label in stats and dumps; NULL = "labyrinth" */
	size_t page_size;     /* 0 = 4096; or LAB_PAGE_2M, LAB_PAGE_1G */
	size_t nr_pages;      /* pages mapped and ready at init; 0 = 1024 */
	size_t max_pages;     /* growth limit for LAB_GFP_KERNEL; 0 = nr_pages */
	size_t reserve_pages; /* only LAB_GFP_ATOMIC may take the last
	                         reserve_pages free pages; 0 = none */
	long wait_ms;         /* LAB_GFP_KERNEL: wait for a free page once the
	                         pool cannot grow; 0 = no wait, < 0 = forever */
	unsigned int flags;   /* LAB_POOL_* */
	unsigned int numa_node; /* with LAB_POOL_NUMA: the NUMA node of the
	                           pool's pages and metadata; ignored without it */
};

/* Counters and gauges of a pool (labyrinth_stats()). */
struct labyrinth_stats {
	uint64_t page_size;
	uint64_t pages_total;    /* pages mapped (grows with LAB_GFP_KERNEL) */
	uint64_t pages_free;     /* including pages held in per-thread caches */
	uint64_t pages_inuse;    /* pages_free + pages_inuse == pages_total */
	uint64_t reserve_pages;
	uint64_t allocs;         /* successful allocations (blocks) */
	uint64_t frees;          /* successful frees (blocks) */
	uint64_t alloc_failed;   /* allocations that returned NULL for lack of pages */
	uint64_t reserve_allocs; /* allocations that dipped into the reserve */
	uint64_t bad_frees;      /* frees rejected with an error */
	uint64_t grows;          /* times LAB_GFP_KERNEL grew the pool */
	uint64_t waits;          /* times LAB_GFP_KERNEL slept for a page */
	uint64_t watch_events;   /* low-watermark crossings signalled */
	uint64_t max_pages;
	uint64_t block_contended;/* block searches that found none while another
	                            thread was claiming or returning blocks (a
	                            NOWAIT/ATOMIC block may fail then) */
	uint64_t free_blocks[LAB_MAX_ORDER + 1]; /* free blocks of each order */
	uint64_t pages_cached;   /* free pages held in per-thread caches (in
	                            pages_free too): at most pages_total / 8 */
};

LAB_API int labyrinth_init(labyrinth_t *lab, const struct labyrinth_params *params);
LAB_API int labyrinth_destroy(labyrinth_t *lab);

LAB_API void *labyrinth_alloc_pages(labyrinth_t *lab, lab_gfp_t gfp, unsigned int order);
LAB_API void *labyrinth_alloc_page(labyrinth_t *lab, lab_gfp_t gfp);
LAB_API int labyrinth_free_pages(labyrinth_t *lab, void *addr, unsigned int order);
LAB_API int labyrinth_free_page(labyrinth_t *lab, void *addr);

LAB_API unsigned int labyrinth_alloc_bulk(labyrinth_t *lab, lab_gfp_t gfp,
				  void **pages, unsigned int n);
LAB_API unsigned int labyrinth_free_bulk(labyrinth_t *lab, void **pages, unsigned int n);
/* The calling thread's cached free pages of lab back to the shared pool,
 * where every thread can take them: the pages moved, or -EINVAL. */
LAB_API int labyrinth_flush_cache(labyrinth_t *lab);

/* labyrinth_alloc_page(lab, LAB_GFP_ATOMIC): one page, now, for one owner. */
LAB_API void *labyrinth_void_alloc_page_gfp_atomic_exclusive(labyrinth_t *lab);

LAB_API size_t labyrinth_page_size(const labyrinth_t *lab); /* 0 for an invalid pool */
LAB_API int labyrinth_owns(const labyrinth_t *lab, const void *addr);
LAB_API int labyrinth_stats(labyrinth_t *lab, struct labyrinth_stats *st);
#if !defined(LAB_FREESTANDING_CORE) && !defined(__KERNEL__) /* kernel: debugfs */
LAB_API int labyrinth_dump(labyrinth_t *lab, FILE *out);
#endif
LAB_API int labyrinth_check(labyrinth_t *lab);
/* Not in the kernel module (its callers see neither): watch and region. */
#if !defined(__KERNEL__) || defined(LAB_FREESTANDING_CORE)
LAB_API int labyrinth_watch(labyrinth_t *lab, size_t low_pages);

/*
 * The pool's pages as one contiguous range, for registering it with the
 * kernel (AF_XDP UMEM, io_uring registered buffers, VFIO DMA maps): *base
 * is page 0, *len = pages_total * page_size now (it grows with
 * LAB_GFP_KERNEL growth; *base never moves).  Every page the pool hands out
 * is base + k * page_size.  -EINVAL for an invalid pool or a NULL pointer.
 */
LAB_API int labyrinth_region(const labyrinth_t *lab, void **base, size_t *len);
#endif

/* "MAJOR.MINOR.PATCH" of the library in use: equal to the LAB_VERSION_*
 * macros of the header it was built with. */
LAB_API const char *labyrinth_version(void);

#if !defined(__KERNEL__) || defined(LAB_FREESTANDING_CORE)
/*
 * Why the calling thread's last failed labyrinth_init failed: the one line
 * LABYRINTH_VERBOSE=1 prints (pool, cause with its numbers, fix), without
 * its newline; NULL if no init failed on this thread.  A later successful
 * init leaves it as it was, like errno.  Not in the kernel module.
 */
LAB_API const char *labyrinth_last_error(void);
#endif

/* The common case of labyrinth_alloc_page(), labyrinth_free_page() and
 * their aliases, inline (LABYRINTH_NO_INLINE: none). */
#if !defined(__KERNEL__) || defined(LAB_FREESTANDING_CORE)
#include "labyrinth_fast.h"
#endif

#ifdef __cplusplus
}
#endif

#endif /* LABYRINTH_H */
