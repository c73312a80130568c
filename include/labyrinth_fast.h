/* SPDX-License-Identifier: MIT */
/*
 * labyrinth_fast.h - the fast path, inline in the caller (included by
 * labyrinth.h; do not include it alone).
 *
 * Nothing here is API: the names and the layout below are the library's
 * own, shown to the compiler so that the common case of
 * labyrinth_alloc_page(), labyrinth_free_page() and their aliases runs in
 * the caller without a call into the shared library, as DPDK's mempool and
 * liburing do.  The layout of struct labyrinth__cache and struct
 * labyrinth__tls is therefore part of the ABI: changing it changes LAB_ABI_VERSION, the
 * shared library's soname.  Every case but the common one (no cache yet,
 * an empty or full cache, a reserve or a watch to judge, a modifier such
 * as LAB_GFP_ZERO, any misuse) calls the exported function, which does
 * the same checks again and then everything else: the behaviour is the
 * library's, whichever path runs.  Define LABYRINTH_NO_INLINE before
 * including labyrinth.h to call the library every time.
 *
 * The library builds its own entry points from the same functions, so
 * there is one fast path, written here.  Private names start with
 * labyrinth__ (two underscores) and LAB_FAST_/LAB_CF_/LAB_PS_; the
 * header is C89 (with GNU extensions) and C++ clean.
 */
#ifndef LABYRINTH_FAST_H
#define LABYRINTH_FAST_H

#ifndef LABYRINTH_H
#error "include <labyrinth.h>, not <labyrinth_fast.h>"
#endif

/* labyrinth__cache.flags: why the fast paths must step aside (set by other threads) */
#define LAB_CF_GATE    1u /* a reserve or a watch: allocations must judge it */
#define LAB_CF_WAITERS 2u /* a LAB_GFP_KERNEL caller sleeps: frees go to the store */

/* labyrinth_t.lab_private_magic of a live pool. */
#define LAB_MAGIC_LIVE 0x4c4142594c495645ull /* "LABYLIVE" */

/* Per-page state, one byte each (the pool's state array).  A page is FREE
 * while it sits in the shared store or a cache; an allocated block marks
 * its first page HEAD with its order and the others TAIL. */
#define LAB_PS_FREE       0x00u
#define LAB_PS_HEAD       0x80u /* | order */
#define LAB_PS_TAIL       0x40u
#define LAB_PS_ORDER_MASK 0x0fu

/*
 * One thread's cache in one pool (one CPU's, in the kernel), in the pool's
 * locked metadata.  Only its owner writes it, except flags, and at init
 * and destroy; other threads read count and the counters (stats, check).
 * busy is set while the owner works on the cache: a signal handler that
 * interrupts the owner there finds busy set and uses the shared store, so
 * the cache never sees two operations at once (the argument is below, at
 * labyrinth__cache_enter).
 *
 * The first line is everything the fast paths touch: the cache's own
 * state, and copies of the pool's constants (written at init), so that a
 * pair reads no line of the pool but the page's state byte.
 */
struct labyrinth__cache {
	uint32_t busy;
	uint32_t count;             /* pages held in pages[] */
	uint32_t grant;             /* pages of the pool's cache budget held:
	                               count <= grant <= the pool's cache_cap */
	uint32_t flags;             /* LAB_CF_* */
	uint64_t ticket;            /* the pool's ticket (labyrinth_t) */
	const labyrinth_t *lab;     /* the pool's labyrinth_t */
	unsigned char *base;        /* the pool's first page */
	uint8_t *state;             /* the pool's state bytes */
	uint32_t shift;             /* the pool's page_shift */
	uint32_t limit;             /* the pool's max_pages: state[] entries */
	/* This thread's share of the pool's counters.  Allocations are not
	 * counted on the fast path: they are refilled + frees - flushed -
	 * count (lab_cache_allocs in the library), since every page leaves
	 * the cache to its caller or to the store. */
	uint64_t frees;
	uint64_t refilled;          /* pages moved in from the store */
	uint64_t flushed;           /* pages moved out to the store */
	uint64_t reserve_allocs;
	uint32_t cursor;            /* bitmap word where this cache's refills look */
	uint32_t pad;
#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 199901L && !defined(__cplusplus)
	uint32_t pages[];           /* page indexes, LIFO: pages[count - 1] is hot */
#endif
};

/* The cache's page indexes, right after the structure (its pages[]). */
#define LAB_FAST_PAGES(c) ((uint32_t *)(void *)((c) + 1))

#define LAB_FAST_LIKELY(x)   __builtin_expect(!!(x), 1)
#define LAB_FAST_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LAB_FAST_LOAD(p)     __atomic_load_n((p), __ATOMIC_RELAXED)
#define LAB_FAST_STORE(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)

/*
 * Why a cache is safe against a signal handler on its own thread
 * ----------------------------------------------------------------
 * A cache is a LIFO array (pages[], count) written only by its owner.  Its
 * only possible concurrency is a signal handler that runs on the owner
 * thread (in the kernel: an interrupt on the owner CPU) in the middle of a
 * push or pop and itself allocates or frees.  Each operation therefore:
 *
 *   1. returns at once (to the shared, lock-free store) if busy is set:
 *      it interrupted the owner inside an operation on this cache;
 *   2. sets busy, then (compiler signal fence) reads count afresh;
 *   3. works on pages[] and count;
 *   4. (signal fence) clears busy.
 *
 * A handler that runs before step 2 sees busy clear, completes its whole
 * operation on the cache (handlers nest, they do not interleave) and
 * leaves it consistent; the owner then reads count after setting busy, so
 * it sees the handler's result.  A handler that runs between steps 2 and 4
 * sees busy and never touches the cache.  Signal fences suffice: the
 * handler runs on the same CPU thread, which sees its own stores in
 * program order; only the compiler must not move the accesses across
 * busy.  No atomic read-modify-write is needed, and none is used.  The
 * Spin model (src/model/labyrinth.pml) checks this.
 */
static __inline__ __attribute__((always_inline)) int labyrinth__cache_enter(struct labyrinth__cache *c)
{
	if (LAB_FAST_UNLIKELY(LAB_FAST_LOAD(&c->busy)))
		return 0;
	LAB_FAST_STORE(&c->busy, 1u);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return 1;
}

static __inline__ __attribute__((always_inline)) void labyrinth__cache_leave(struct labyrinth__cache *c)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	LAB_FAST_STORE(&c->busy, 0u);
}

/* Exactly one gfp type and no modifier: what the fast path serves. */
static __inline__ __attribute__((always_inline)) int labyrinth__gfp_plain(lab_gfp_t gfp)
{
	return gfp < 8 && ((0x16u >> gfp) & 1); /* 0x16: bits 1, 2 and 4 */
}

/*
 * Fast path, allocation: the page on top of cache c, marked allocated,
 * into *page; or 0 (busy, empty, or a reserve or watch to judge: the
 * library's slow path does those).
 */
static __inline__ __attribute__((always_inline)) int labyrinth__fast_alloc(struct labyrinth__cache *c, void **page)
{
	uint8_t *state = c->state;
	uint32_t n, idx;

	if (!labyrinth__cache_enter(c))
		return 0;
	n = LAB_FAST_LOAD(&c->count);
	if (LAB_FAST_UNLIKELY(!n || (LAB_FAST_LOAD(&c->flags) & LAB_CF_GATE))) {
		labyrinth__cache_leave(c);
		return 0;
	}
	idx = LAB_FAST_PAGES(c)[n - 1];
	LAB_FAST_STORE(&c->count, n - 1);
	labyrinth__cache_leave(c);
	/* Out of the cache, the page is ours alone: no handler can see it. */
	LAB_FAST_STORE(&state[idx], (uint8_t)(LAB_PS_HEAD | 0));
	*page = c->base + ((size_t)idx << c->shift);
	return 1;
}

/*
 * The page number of addr in a pool whose page 0 is at base, with pages of
 * 1 << shift bytes: a value >= any pool size unless addr is a page start
 * at or above base.  One rotation does both checks: the offset's low bits
 * (nonzero for an address inside a page) come round to the top.
 */
static __inline__ __attribute__((always_inline)) uintptr_t
labyrinth__page_number(const void *base, uint32_t shift, const void *addr)
{
	uintptr_t off = (uintptr_t)addr - (uintptr_t)base;

	return (off >> (shift & 63)) | (off << (-shift & 63));
}

/*
 * Fast path, free: an allocated order-0 page (its state byte says so)
 * marked free and pushed on cache c in one busy window, so that a handler
 * never sees one without the other; or 0 (not such a page, busy, no room
 * in the cache's grant, or a LAB_GFP_KERNEL sleeper, whom the page must
 * reach through the store: the library's slow path does those).  The
 * index is checked against the pool's whole state array (max_pages
 * entries): pages not mapped yet are FREE there, so an address past the
 * pool's pages fails the state check.
 */
static __inline__ __attribute__((always_inline)) int labyrinth__fast_free(struct labyrinth__cache *c, void *addr)
{
	uint8_t *state = c->state; /* a constant: read once, before busy */
	uintptr_t idx = labyrinth__page_number(c->base, c->shift, addr);
	uint32_t n;

	if (LAB_FAST_UNLIKELY(idx >= c->limit ||
			      LAB_FAST_LOAD(&state[idx]) != (uint8_t)(LAB_PS_HEAD | 0) ||
			      (LAB_FAST_LOAD(&c->flags) & LAB_CF_WAITERS)))
		return 0;
	if (!labyrinth__cache_enter(c))
		return 0;
	n = LAB_FAST_LOAD(&c->count);
	if (LAB_FAST_UNLIKELY(n == c->grant)) {
		labyrinth__cache_leave(c);
		return 0;
	}
	LAB_FAST_STORE(&state[idx], (uint8_t)LAB_PS_FREE);
	LAB_FAST_PAGES(c)[n] = (uint32_t)idx;
	LAB_FAST_STORE(&c->count, n + 1);
	LAB_FAST_STORE(&c->frees, c->frees + 1);
	labyrinth__cache_leave(c);
	return 1;
}

#ifndef __KERNEL__
/*
 * User space: the fast paths' way to this thread's cache is the cache of
 * the pool this thread used last, and that pool's ticket.  Each init
 * gives its pool a ticket never given before in the process and keeps it
 * in the labyrinth_t (lab_private_reserved[0]); destroy clears it.  No
 * ticket is LAB_TICKET_NONE, and a destroyed or never-initialised
 * labyrinth_t has ticket 0: neither is ever a pool's (tickets start at 1).
 * A thread that has no pair yet (or no more) has key LAB_TICKET_NONE and
 * the library's dummy cache, which belongs to no labyrinth_t.
 *
 * Why it is safe against signal handlers and destroyed pools
 * ------------------------------------------------------------
 * The pair changes only on its own thread (the library's lab_tls_adopt
 * and lab_tls_forget), as a sequence lock against signal handlers: gen
 * odd, cache, key, gen even again; a handler that finds gen odd (it
 * interrupted its thread's change) leaves the pair alone.
 * labyrinth__fast_cache() reads gen, key and cache, then gen again.  If a
 * handler changed the pair between those reads, gen differs and the
 * reader takes the library's path without touching the cache.  Otherwise
 * key and cache belong together, or the reader is a handler inside its
 * thread's change, whose cache is the one the thread is adopting (mapped,
 * and refused below unless it is the caller's pool's).  src/model/tls.pml
 * checks this with Spin.  The cache is dereferenced only if, besides, the
 * caller's labyrinth_t is live and holds that key: then the key's pool is
 * live (the caller is calling on it), so its cache is mapped, and
 * cache->lab == lab tells the pool's own labyrinth_t from a copy of it (a
 * copy has the ticket too).  A pair left behind by a destroyed pool is
 * never dereferenced: no live labyrinth_t holds its ticket again.
 */
#define LAB_TICKET_NONE (~0ull)

struct labyrinth__tls {
	uint64_t key;              /* ticket of cache's pool, or LAB_TICKET_NONE */
	struct labyrinth__cache *cache;
	uint32_t gen;              /* odd while the pair changes; +2 per change */
};
/* Initial-exec: the library's TLS is static (it is built so), and the
 * caller reaches it with one %fs-relative load, no __tls_get_addr. */
extern __thread struct labyrinth__tls labyrinth_fast_tls __attribute__((tls_model("initial-exec")))
	LAB_API;

static __inline__ __attribute__((always_inline)) struct labyrinth__cache *
labyrinth__fast_cache(const labyrinth_t *lab)
{
	uint32_t gen = LAB_FAST_LOAD(&labyrinth_fast_tls.gen);
	struct labyrinth__cache *c;
	uint64_t key;

	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	key = LAB_FAST_LOAD(&labyrinth_fast_tls.key);
	c = LAB_FAST_LOAD(&labyrinth_fast_tls.cache);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (LAB_FAST_UNLIKELY(LAB_FAST_LOAD(&labyrinth_fast_tls.gen) != gen))
		return NULL;
	if (LAB_FAST_UNLIKELY(!lab || ((LAB_FAST_LOAD(&lab->lab_private_magic) ^ LAB_MAGIC_LIVE) |
				       (LAB_FAST_LOAD(&lab->lab_private_reserved[0]) ^ key)) != 0))
		return NULL;
	if (LAB_FAST_UNLIKELY(c->lab != lab))
		return NULL;
	return c;
}

#if !defined(LAB_FREESTANDING_CORE) && !defined(LABYRINTH_NO_INLINE)
/*
 * The exported functions, inline for the common case.  Each is also a
 * real function of the library: (labyrinth_alloc_page)(...) and
 * &labyrinth_alloc_page call it, and so does every case the fast path
 * does not serve.
 */
static __inline__ __attribute__((always_inline)) int labyrinth__inline_alloc(labyrinth_t *lab,
								    lab_gfp_t gfp, void **page)
{
	struct labyrinth__cache *c = labyrinth__fast_cache(lab);

	return LAB_FAST_LIKELY(c != NULL && labyrinth__gfp_plain(gfp)) && labyrinth__fast_alloc(c, page);
}

static __inline__ __attribute__((always_inline)) int labyrinth__inline_free(labyrinth_t *lab, void *addr)
{
	struct labyrinth__cache *c = labyrinth__fast_cache(lab);

	return LAB_FAST_LIKELY(c != NULL) && labyrinth__fast_free(c, addr);
}

static __inline__ __attribute__((always_inline)) void *
labyrinth_inline_alloc_page(labyrinth_t *lab, lab_gfp_t gfp)
{
	void *page;

	if (LAB_FAST_LIKELY(labyrinth__inline_alloc(lab, gfp, &page)))
		return page;
	return (labyrinth_alloc_page)(lab, gfp);
}

static __inline__ __attribute__((always_inline)) void *
labyrinth_inline_alloc_pages(labyrinth_t *lab, lab_gfp_t gfp, unsigned int order)
{
	void *page;

	if (LAB_FAST_LIKELY(!order && labyrinth__inline_alloc(lab, gfp, &page)))
		return page;
	return (labyrinth_alloc_pages)(lab, gfp, order);
}

static __inline__ __attribute__((always_inline)) void *
labyrinth_inline_alloc_atomic(labyrinth_t *lab)
{
	void *page;

	if (LAB_FAST_LIKELY(labyrinth__inline_alloc(lab, LAB_GFP_ATOMIC, &page)))
		return page;
	return (labyrinth_void_alloc_page_gfp_atomic_exclusive)(lab);
}

static __inline__ __attribute__((always_inline)) int labyrinth_inline_free_page(labyrinth_t *lab,
									    void *addr)
{
	return labyrinth__inline_free(lab, addr) ? 0 : (labyrinth_free_page)(lab, addr);
}

static __inline__ __attribute__((always_inline)) int
labyrinth_inline_free_pages(labyrinth_t *lab, void *addr, unsigned int order)
{
	return !order && labyrinth__inline_free(lab, addr) ? 0 : (labyrinth_free_pages)(lab, addr, order);
}

#define labyrinth_alloc_page(lab, gfp)  labyrinth_inline_alloc_page((lab), (gfp))
#define labyrinth_alloc_pages(lab, gfp, order) \
	labyrinth_inline_alloc_pages((lab), (gfp), (order))
#define labyrinth_void_alloc_page_gfp_atomic_exclusive(lab) labyrinth_inline_alloc_atomic((lab))
#define labyrinth_free_page(lab, addr)  labyrinth_inline_free_page((lab), (addr))
#define labyrinth_free_pages(lab, addr, order) \
	labyrinth_inline_free_pages((lab), (addr), (order))
#endif /* inline entry points */
#endif /* !__KERNEL__ */

#endif /* LABYRINTH_FAST_H */
