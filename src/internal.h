/* SPDX-License-Identifier: MIT */
/*
 * internal.h - the pool and page-state types shared by the core, and the
 * bottom layer's helpers (debug.c's reports, fmt.c's formatter).
 *
 * The core is layered bottom-up, one header per layer, each including the
 * one below; a file includes the header of its own layer and sees nothing
 * above it (tests/layers.sh checks it):
 *
 *   internal.h  types; platform (platform.h, platform_*.c), atomics,
 *               fmt.c, debug.c
 *   watch.h     watch.c: the futex lock, waking sleepers, watches;
 *               publish.h  publish.c: LABYRINTH_STATS=1 (its file's layout:
 *               publish_format.h, of the bottom floor, shared with
 *               labyrinth-top); it reads pools through labyrinth_stats()
 *   page.h      handing a block out (state bytes, poison, zero)
 *   store.h     store.c, buddy.c, summary.c: the free bitmap, its count,
 *               blocks, the summary of which words hold free pages
 *   depot.h     depot.c: magazines; taking pages for an allocation
 *   cache.h     cache.c: per-thread caches (the fast path itself is
 *               include/labyrinth_fast.h)
 *   pool.h      pool.c: init, destroy, the registry, growth, fork,
 *               thread exit, watch registration
 *   slow.h      slow.c: growing and sleeping (LAB_GFP_KERNEL), failing
 *   (top)       alloc.c: the entry points; stats.c: stats, check, dump
 *
 * Metadata lives out of band: the pool structure and its per-page arrays
 * sit in their own locked mapping (lab_os_meta_alloc), never inside the
 * pages handed out, so writing anywhere in an owned page cannot corrupt the
 * allocator.  The public labyrinth_t holds only a magic and a pointer here.
 */
#ifndef LAB_INTERNAL_H
#define LAB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LAB_FREESTANDING_CORE 1
#include "labyrinth.h"
#include "atomics.h"

/*
 * The fast path's private names in labyrinth_fast.h (labyrinth__*, so that
 * they stay out of users' way), by the core's short names.
 */
#define lab_cache        labyrinth__cache      /* struct lab_cache */
#define lab_cache_enter  labyrinth__cache_enter
#define lab_cache_leave  labyrinth__cache_leave
#define lab_cache_leave_count labyrinth__cache_leave_count
#define lab_gfp_plain    labyrinth__gfp_plain
#define lab_fast_alloc   labyrinth__fast_alloc
#define lab_fast_free    labyrinth__fast_free
#define lab_fast_cache   labyrinth__fast_cache
#define lab_page_number  labyrinth__page_number
#define lab_pop_run      labyrinth__pop_run
#define lab_free_run     labyrinth__free_run
#include "platform.h"

#define LAB_HIDDEN __attribute__((visibility("hidden")))
#define LAB_NOINLINE __attribute__((__noinline__)) /* the kernel #defines noinline */
#define LAB_CACHELINE 64

/* Linux errno values (the platform checks they match the host's). */
#define LAB_EPERM     1
#define LAB_EINTR     4
#define LAB_EAGAIN    11
#define LAB_ENOMEM    12
#define LAB_EBUSY     16
#define LAB_EINVAL    22
#define LAB_ENOSPC    28
#define LAB_ENOSYS    38
#define LAB_ETIMEDOUT 110
#define LAB_EALREADY  114
#define LAB_EUCLEAN   117

#define LAB_MAGIC_DEAD 0x4c41425944454144ull /* "LABYDEAD" */
#define LAB_CORE_MAGIC 0x6c61622d636f7265ull /* "lab-core" */
#define LAB_CORE_FORKED 0x6c61622d666f726bull /* "lab-fork": inherited by a child */

/* What the inline fast path reads in a labyrinth_t besides its magic
 * (include/labyrinth_fast.h): the pool's cache array and its stride. */
#define lab_caches_of(lab) ((lab)->lab_private_caches)
#define lab_stride_of(lab) ((lab)->lab_private_stride)

#define LAB_GFP_TYPE_MASK (LAB_GFP_ATOMIC | LAB_GFP_NOWAIT | LAB_GFP_KERNEL)
#define LAB_GFP_ALL       (LAB_GFP_TYPE_MASK | LAB_GFP_ZERO | LAB_GFP_NOWARN)
#define LAB_POOL_ALL (LAB_POOL_SECRET | LAB_POOL_HUGETLB | LAB_POOL_DUMPABLE | \
		      LAB_POOL_NOLOCK | LAB_POOL_DEBUG | LAB_POOL_NUMA | LAB_POOL_NOCACHE)

#define LAB_DEFAULT_PAGES 1024u
#define LAB_NIL 0xffffffffu          /* "no page" in a page index */
#define LAB_MAX_PAGES 0xfffffc00u    /* page indexes are 32-bit; whole blocks, no wrap */
#define LAB_GROW_BYTES ((size_t)4 << 20) /* one growth step, at least a page */
#define LAB_BLOCK_PAGES (1u << LAB_MAX_ORDER)  /* pages of a max-order block */
#define LAB_MAX_WATCHES 8
#define LAB_SUM_LEVELS 5 /* summary levels over 2^26 bitmap words: 2^20, 2^14, 2^8, 4, 1 */
#ifndef LAB_SLEEP_SLICE_MS /* the kernel self-test makes it long: a lost wake-up shows */
#define LAB_SLEEP_SLICE_MS 10 /* a LAB_GFP_KERNEL sleeper looks again at least this often */
#endif

/*
 * Per-thread caches: at most LAB_CACHE_THREADS threads at a time get a
 * cache in each pool (later threads use the shared store directly); a
 * cache holds at most min(LAB_CACHE_MAX, nr_pages / LAB_CACHE_SHARE) pages
 * and moves a batch of a quarter of that (at least 8 pages, or half of a
 * cache of fewer than 16) to or from
 * the shared store at a time.  All caches of a pool together hold at most
 * nr_total / LAB_CACHE_FRACTION pages, whatever the number of threads: a
 * cache may only hold pages it has a grant for, taken from the pool's
 * budget a batch at a time (see cache.c).
 */
#define LAB_CACHE_THREADS 256
/* A thread's cache slot (CPU slots in the kernel: platform.h), or: */
#define LAB_SLOT_NONE (-1) /* this thread has no slot yet */
#define LAB_SLOT_BUSY (-2) /* being assigned: a nested handler must not */
#define LAB_SLOT_OFF  (-3) /* no cache for this thread (none free, or exiting) */
#define LAB_CACHE_MAX 256u
/* A refill or flush moves a batch: a quarter of the cache (pool.c). */
#define LAB_CACHE_BATCH_PART 4u
#define LAB_BATCH_MAX (LAB_CACHE_MAX / LAB_CACHE_BATCH_PART > 8 ? LAB_CACHE_MAX / LAB_CACHE_BATCH_PART : 8)
#define LAB_CACHE_SHARE 16u
#define LAB_CACHE_FRACTION 8u
#define LAB_NAME_MAX 32

/* Per-page state bytes (LAB_PS_*), struct lab_cache and the fast path:
 * labyrinth_fast.h, inline in callers too. */

struct lab_watch {
	int fd;            /* the pool's own duplicate of the eventfd */
	uint32_t low;      /* fires when free pages fall below low */
};

struct lab_counters {
	uint64_t allocs;
	uint64_t frees;
	uint64_t alloc_failed;
	uint64_t reserve_allocs;
	uint64_t bad_frees;
	uint64_t grows;
	uint64_t waits;
	uint64_t watch_events;
	uint64_t block_contended;
	uint64_t linear_searches; /* passes over the whole bitmap: the summary
	                            came back short (racing, or no block) */
};

/*
 * One thread's cache of small blocks in one pool (orders 1 to
 * LAB_BLK_TOP): a LIFO of up to LAB_BLK_DEPTH free blocks per order, so
 * that an order-2 pair touches no shared word.  It sits in the slot's
 * area of the pool's metadata, the LAB_BLK_AREA bytes just before the
 * slot's struct lab_cache (whose layout it leaves alone): the fast paths,
 * which hold the page cache's address, find it by a constant.  The
 * same rules as the page cache: written only by its owner thread inside
 * the busy window of that thread's struct lab_cache, and its pages are
 * free pages (state FREE, bits clear) held under a grant from the pool's
 * cache budget: pages <= grant <= cache_cap.
 */
#define LAB_BLK_TOP   4u
#define LAB_BLK_DEPTH 8u

struct lab_blk_cache {
	uint32_t pages;             /* pages held in all orders */
	uint32_t grant;             /* pages of the pool's cache budget held */
	uint8_t count[LAB_BLK_TOP + 1]; /* blocks held of each order ([0] unused) */
	uint32_t pad;
	/* Allocations are derived, as the page cache's are: frees -
	 * flushed - blocks held (lab_blk_allocs), since blocks enter only
	 * by a free and leave to a caller or to the store. */
	uint64_t frees;             /* blocks freed into this cache */
	uint64_t flushed;           /* blocks moved out to the store */
	uint32_t first[LAB_BLK_TOP][LAB_BLK_DEPTH]; /* [order - 1]: first pages, LIFO */
};

#define LAB_BLK_AREA 192u /* bytes before each struct lab_cache: whole lines */
_Static_assert(sizeof(struct lab_blk_cache) <= LAB_BLK_AREA && LAB_BLK_AREA % LAB_CACHELINE == 0,
	       "a block cache fits the lines before its page cache");
/* labyrinth_fast.h reads and writes count and busy as one aligned 64-bit
 * word (labyrinth__word): count first, busy right after it. */
_Static_assert(offsetof(struct lab_cache, count) == 0 && offsetof(struct lab_cache, busy) == 4 &&
		       _Alignof(struct lab_cache) >= 8,
	       "a cache's count and busy are one aligned 64-bit word");

/* The block cache of the slot whose page cache is c (a pool with caches). */
static inline struct lab_blk_cache *lab_blk_of(const struct lab_cache *c)
{
	return (struct lab_blk_cache *)(void *)((unsigned char *)(uintptr_t)c - LAB_BLK_AREA);
}

static inline uint32_t lab_blk_held(const struct lab_blk_cache *b)
{
	uint32_t o, n = 0;

	for (o = 1; o <= LAB_BLK_TOP; o++)
		n += lab_load_relaxed(&b->count[o]);
	return n;
}

static inline uint64_t lab_blk_allocs(const struct lab_blk_cache *b)
{
	return lab_load_relaxed(&b->frees) - lab_load_relaxed(&b->flushed) - lab_blk_held(b);
}

static inline uint64_t lab_cache_allocs(const struct lab_cache *c)
{
	return lab_load_relaxed(&c->refilled) + lab_load_relaxed(&c->frees) -
	       lab_load_relaxed(&c->flushed) - lab_load_relaxed(&c->count);
}

/*
 * A magazine: cache_batch free pages that travel between caches as one
 * unit through the depot (depot.c).  next links it on one of the
 * depot's two stacks: index + 1 of the next magazine, 0 at the bottom.
 */
struct lab_mag {
	uint32_t next;
	uint32_t pad;
	uint32_t pages[];           /* cache_batch page indexes */
};

struct lab_pool {
	/* Read-mostly: written at init, and nr_total/watches in slow paths. */
	uint64_t magic;
	const labyrinth_t *owner;   /* the labyrinth_t this core belongs to */
	unsigned char *base;        /* first page */
	size_t page_size;
	size_t page_mask;           /* page_size - 1 */
	unsigned int page_shift;
	unsigned int flags;         /* LAB_POOL_* */
	uint32_t reserve;
	uint32_t nr_total;          /* pages mapped; grows, never shrinks */
	uint32_t max_pages;
	uint32_t nr_watches;
	uint32_t watch_low_max;     /* highest watch mark, 0 = no watch */
	uint32_t gate;              /* reserve | watch_low_max: caches must judge */
	long wait_ms;
	uint64_t *bits;             /* the free bitmap: bit i set = page i free in the store */
	uint32_t nr_words;          /* words of bits[], for max_pages */
	/* The summary over bits[] (summary.c): sum[0] is bits, sum[l + 1]
	 * has a hint bit per word of sum[l], sum_n[l] words each; sum[sum_top]
	 * is one word. */
	uint64_t *sum[LAB_SUM_LEVELS + 1];
	uint32_t sum_n[LAB_SUM_LEVELS + 1];
	uint32_t sum_top;
	unsigned char *caches;      /* LAB_CACHE_THREADS caches of cache_stride bytes
	                               (each after its slot's block cache),
	                               or &no_cache with stride 0 */
	uint32_t cache_stride;
	uint32_t cache_cap;         /* 0: no caches in this pool (or a debug pool) */
	uint32_t cache_batch;       /* pages moved per refill or flush */
	uint32_t slots_seen;        /* caches [0, slots_seen) may hold pages: the
	                               walks of stats and check stop there */
	unsigned char *mags;        /* nr_mags magazines of mag_stride bytes */
	uint32_t mag_stride;
	uint32_t nr_mags;           /* 0: no depot (a pool without caches) */
	uint8_t *state;             /* per page: LAB_PS_* */
	size_t meta_len;            /* bytes of this metadata mapping */
	size_t reserved_len;        /* bytes of address space reserved */
	struct lab_pool *live_next; /* the registry of live pools (pool.c) */
	struct lab_pool **live_prev;
	struct lab_backing backing;
	struct lab_node_pages node_pages; /* where the pages lie: init and growth */
	struct lab_watch watches[LAB_MAX_WATCHES];
	char name[LAB_NAME_MAX];

	/* The shared store: written by refills, flushes and blocks. */
	__attribute__((aligned(LAB_CACHELINE)))
	uint32_t nr_free;           /* free pages in bits[], less promised ones */
	uint32_t cursor;            /* word where order-0 searches start */
	uint32_t cache_granted;     /* sum of the caches' grants, at most
	                               nr_total / LAB_CACHE_FRACTION */
	__attribute__((aligned(LAB_CACHELINE)))
	struct lab_counters count;

	/* The depot: two tagged stacks of magazines (tag << 32 | index + 1),
	 * full ones and empty ones, and the pages in full magazines, less
	 * those a refill or a drain has reserved and not popped yet. */
	__attribute__((aligned(LAB_CACHELINE)))
	uint64_t depot_full;
	uint64_t depot_empty;
	uint32_t depot_pages;

	/* Slow path: growth and LAB_GFP_KERNEL waiting. */
	__attribute__((aligned(LAB_CACHELINE)))
	uint32_t slow_lock;         /* futex lock: growth, watches */
	uint32_t waiters;           /* LAB_GFP_KERNEL callers asleep */
	uint32_t free_seq;          /* futex word bumped by frees for waiters */

	/* Every slot of a pool without caches: forever busy, so the fast
	 * paths, which never check for caches, always fall through.  Last:
	 * it ends in a flexible array. */
	struct lab_cache no_cache;
};

/* The core behind a public pool, or NULL when it is not a live pool. */
static inline struct lab_pool *lab_pool_of(const labyrinth_t *lab)
{
	struct lab_pool *p;

	if (lab_unlikely(!lab || lab->lab_private_magic != LAB_MAGIC_LIVE))
		return NULL;
	p = (struct lab_pool *)lab->lab_private_core; /* set with the magic */
	/* owner catches a copied labyrinth_t, and a fork() child's inherited
	 * pool (the child clears it, pool.c). */
	if (lab_unlikely(p->owner != lab))
		return NULL;
	return p;
}

static inline unsigned char *lab_page_addr(const struct lab_pool *p, uint32_t idx)
{
	return p->base + ((size_t)idx << p->page_shift);
}

/* Index of the page at addr, or LAB_NIL if addr is no page start of p. */
static inline uint32_t lab_page_index(const struct lab_pool *p, const void *addr)
{
	uintptr_t pg = lab_page_number(p->base, p->page_shift, addr);

	return pg < lab_load_acquire(&p->nr_total) ? (uint32_t)pg : LAB_NIL;
}

/* Exactly one type (bit 0, 1 or 2: 0x16 holds bits 1, 2 and 4) and no
 * unknown bit. */
static inline int lab_gfp_valid(lab_gfp_t gfp)
{
	return !(gfp & ~LAB_GFP_ALL) && ((0x16u >> (gfp & LAB_GFP_TYPE_MASK)) & 1);
}

/* Free pages an allocation must leave behind: ATOMIC may take the reserve. */
static inline uint32_t lab_floor(const struct lab_pool *p, lab_gfp_t gfp)
{
	return (gfp & LAB_GFP_ATOMIC) ? 0 : p->reserve;
}

#define lab_count(p, field, n) lab_fetch_add_relaxed(&(p)->count.field, (n))

/* debug.c: poisoning and reports */
LAB_HIDDEN void lab_poison(struct lab_pool *p, uint32_t idx, uint32_t n);
LAB_HIDDEN void lab_poison_check(struct lab_pool *p, uint32_t idx, uint32_t n,
				  const char *call);
LAB_HIDDEN void lab_report(const struct lab_pool *p, const char *call,
			   const char *what, const void *addr);
LAB_HIDDEN void lab_report_rule(const struct lab_pool *p, const char *call,
				const char *what, const void *addr, const char *rule);

/* fmt.c: a tiny async-signal-safe formatter (%s %u %lu %zu %x %lx %p %%) */
LAB_HIDDEN size_t lab_fmt(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* LAB_INTERNAL_H */
