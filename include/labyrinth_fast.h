/* SPDX-License-Identifier: MIT */
/*
 * labyrinth_fast.h - the fast path, inline in the caller (included by
 * labyrinth.h; do not include it alone).
 *
 * Nothing here is API: the names and the layout below are the library's
 * own, shown to the compiler so that the common case of
 * labyrinth_alloc_page(), labyrinth_free_page() and their aliases runs in
 * the caller without a call into the shared library, as DPDK's mempool and
 * liburing do.  The layout of struct labyrinth__cache, the labyrinth_t's
 * private members and the thread's slot labyrinth_fast_slot are therefore
 * part of the ABI: changing them changes LAB_ABI_VERSION, the shared
 * library's soname.  Every case but the common one (no cache yet,
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
 * pair reads no line of the pool but the page's state byte.  count and
 * busy are the two halves of one aligned 64-bit word (labyrinth__word):
 * the fast paths test busy with one load of the word and leave the
 * cache, the new count and busy clear, in one store.
 */
struct labyrinth__cache {
	uint32_t count;             /* pages held in pages[] */
	uint32_t busy;
	uint32_t grant;             /* pages of the pool's cache budget held:
	                               count <= grant <= the pool's cache_cap */
	uint32_t flags;             /* LAB_CF_* */
	/* The labyrinth_t of the pool whose thread in this slot has claimed
	 * the cache (the library's lab_cache_own, on the thread's first call
	 * on the pool, once stats and check see the slot), else NULL: before
	 * the claim, after the thread's exit, in a fork() child, and always
	 * in a pool without caches.  The fast paths serve only a caller
	 * whose labyrinth_t this is (labyrinth__fast_cache). */
	const labyrinth_t *lab;
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
 * count and busy as one word.  One store per call fewer than a store of
 * count and then one of busy (make bench's pair 3.89 -> 3.68 ns, 256/256
 * 4.07 -> 3.96 ns/page; docs/bench/2026-12-06-word.txt).  count comes
 * first so that its 32-bit loads start where the word's 64-bit store
 * does, which the CPU forwards (with busy first, the pair was slower).
 */
typedef uint64_t __attribute__((may_alias)) labyrinth__word;
#if !defined(__BYTE_ORDER__)
#error "labyrinth_fast.h needs the compiler's __BYTE_ORDER__ (gcc, clang)"
#elif __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define LAB_FAST_WORD(count)  ((uint64_t)(count) << 32) /* busy clear */
#define LAB_FAST_WORD_BUSY(w) ((uint32_t)(w))
#else
#define LAB_FAST_WORD(count)  ((uint64_t)(count))       /* busy clear */
#define LAB_FAST_WORD_BUSY(w) ((uint32_t)((w) >> 32))
#endif
#define LAB_FAST_WORD_OF(c) ((labyrinth__word *)(void *)&(c)->count)

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
 *   3. works on pages[] (and the library's slow paths on count);
 *   4. (signal fence) stores the count with busy clear, in one store.
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
	if (LAB_FAST_UNLIKELY(LAB_FAST_WORD_BUSY(LAB_FAST_LOAD(LAB_FAST_WORD_OF(c)))))
		return 0;
	/* busy alone, never the whole word: a handler may have changed count
	 * since the load above, and the count read after the fence is its. */
	LAB_FAST_STORE(&c->busy, 1u);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return 1;
}

/* Leave the cache holding count pages: count and busy clear in one store.
 * Inside the window only the owner changes count, so a fast path that
 * gives up leaves with the count it read after entering. */
static __inline__ __attribute__((always_inline)) void
labyrinth__cache_leave_count(struct labyrinth__cache *c, uint32_t count)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	LAB_FAST_STORE(LAB_FAST_WORD_OF(c), LAB_FAST_WORD(count));
}

/* Leave the cache as it is, read afresh: for the library's slow paths,
 * which change count inside the window. */
static __inline__ __attribute__((always_inline)) void labyrinth__cache_leave(struct labyrinth__cache *c)
{
	labyrinth__cache_leave_count(c, LAB_FAST_LOAD(&c->count));
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
		labyrinth__cache_leave_count(c, n);
		return 0;
	}
	idx = LAB_FAST_PAGES(c)[n - 1];
	labyrinth__cache_leave_count(c, n - 1);
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
		labyrinth__cache_leave_count(c, n);
		return 0;
	}
	LAB_FAST_STORE(&state[idx], (uint8_t)LAB_PS_FREE);
	LAB_FAST_PAGES(c)[n] = (uint32_t)idx;
	LAB_FAST_STORE(&c->frees, c->frees + 1);
	labyrinth__cache_leave_count(c, n + 1);
	return 1;
}

/*
 * Bulk calls, eight pages at once where they are a run.  A refill takes a
 * whole bitmap word, 64 pages in a row, and a cache is a LIFO, so pages
 * leave a cache and, freed in the order they came, come back in runs of
 * consecutive pages.  Eight consecutive pages starting at a multiple of 8
 * have their state bytes in one aligned 64-bit word: one load checks all
 * eight (each must be LAB_PS_HEAD | 0, an allocated single page) and one
 * store marks all eight, where page by page it is eight of each.  The
 * checks are the same as page by page: each address is the one before it
 * plus a page (so none is there twice), the first is a page of the pool
 * with seven more after it, every state byte says allocated.  Anything
 * else goes page by page.  The word is written only by the thread that
 * owns all eight pages (bulk get: they leave its cache; bulk free: the
 * caller frees them), as each byte is page by page.
 *
 * A run found goes on eight pages at a time while the next eight
 * continue it: their eight addresses (or indexes) are compared with the
 * expected ones in 16-byte vectors carried from the eight before, so the
 * start of a run (its page number, its alignment) is worked out once per
 * run, not once per eight pages.  Bulk 64 / 64 in make bench's harness:
 * 1.15 -> 0.83-0.85 ns a page with runs of eight; runs carried on, 0.94
 * -> 0.81 (DPDK's mempool 0.87 in the same set; the instructions of a
 * get and a put, 892 -> 772; docs/bench/2026-12-06-bulk2.txt).
 */
typedef uint64_t __attribute__((may_alias)) labyrinth__state8;
/* Four indexes, stored at once where out[] is only 4-byte aligned. */
typedef uint32_t labyrinth__u32x4 __attribute__((vector_size(16), aligned(4), may_alias));
#define LAB_PS_HEAD8 0x8080808080808080ull /* eight times LAB_PS_HEAD | 0 */

typedef uint64_t labyrinth__u64x2 __attribute__((vector_size(16), aligned(8), may_alias));

/* Whether every lane of the comparison result x is true (all ones). */
static __inline__ __attribute__((always_inline)) int labyrinth__all_true(labyrinth__u32x4 x)
{
#if defined(__SSE2__)
	typedef char labyrinth__c16 __attribute__((vector_size(16)));

	return __builtin_ia32_pmovmskb128((labyrinth__c16)x) == 0xffff;
#else
	labyrinth__u64x2 y = (labyrinth__u64x2)x;

	return (y[0] & y[1]) == ~(uint64_t)0;
#endif
}

/* Whether the eight indexes at src are e0's four, then e1's four. */
static __inline__ __attribute__((always_inline)) int
labyrinth__are8(const uint32_t *src, labyrinth__u32x4 e0, labyrinth__u32x4 e1)
{
	return labyrinth__all_true((*(const labyrinth__u32x4 *)(const void *)src == e0) &
				   (*(const labyrinth__u32x4 *)(const void *)(src + 4) == e1));
}

/*
 * Bulk: the pages src[n] marked allocated and their addresses into out[].
 * Runs first (above): where src[i] is a multiple of 8 and the seven after
 * it follow, one state store marks eight pages and four 16-byte stores
 * give their addresses, and so on while the next eight continue the run.
 * The rest page by page: the state bytes, then the addresses in a loop of
 * their own, which the compiler turns into 16-byte vector stores.  Pass a
 * constant shift where there is one: a variable shift costs three times a
 * constant's.
 */
static __inline__ __attribute__((always_inline)) void
labyrinth__pop_run(unsigned char *base, uint32_t shift, uint8_t *state, const uint32_t *src,
		   void **out, uint32_t n)
{
	const labyrinth__u32x4 lo = { 0, 1, 2, 3 }, hi = { 4, 5, 6, 7 }, eight = { 8, 8, 8, 8 };
	uint32_t i = 0, j;

	/* runs with 64-bit pointers only (two to a 16-byte vector); a
	 * constant, so elsewhere the code is not there */
	while (sizeof(void *) == 8 && i + 8 <= n && !(src[i] & 7u) &&
	       labyrinth__are8(src + i, src[i] + lo, src[i] + hi)) {
		uint32_t a = src[i];
		uint64_t p = (uint64_t)(uintptr_t)base + ((uint64_t)a << shift), step = (uint64_t)1 << shift;
		labyrinth__u64x2 v = { p, p + step };
		const labyrinth__u64x2 d = { 2 * step, 2 * step };
		labyrinth__u32x4 e0 = a + lo, e1 = a + hi;
		labyrinth__state8 *s8 = (labyrinth__state8 *)(void *)&state[a];

		do {
			LAB_FAST_STORE(s8, LAB_PS_HEAD8);
			s8++;
			*(labyrinth__u64x2 *)(void *)(out + i) = v;
			*(labyrinth__u64x2 *)(void *)(out + i + 2) = v + d;
			*(labyrinth__u64x2 *)(void *)(out + i + 4) = v + 2 * d;
			*(labyrinth__u64x2 *)(void *)(out + i + 6) = v + 3 * d;
			v += 4 * d;
			e0 += eight;
			e1 += eight;
			i += 8;
		} while (i + 8 <= n && labyrinth__are8(src + i, e0, e1));
	}
	for (j = i; j < n; j++)
		LAB_FAST_STORE(&state[src[j]], (uint8_t)(LAB_PS_HEAD | 0));
	for (; i < n; i++)
		out[i] = base + ((size_t)src[i] << shift);
}

/* Page addr of a pool with total pages at base marked free and its index
 * into *out, if it is an allocated single page; else 0. */
static __inline__ __attribute__((always_inline)) int
labyrinth__free_one(const unsigned char *base, uint32_t shift, uint8_t *state, uint32_t total,
		    const void *addr, uint32_t *out)
{
	uintptr_t pg = labyrinth__page_number(base, shift, addr);

	if (pg >= total || LAB_FAST_LOAD(&state[pg]) != (uint8_t)(LAB_PS_HEAD | 0))
		return 0;
	LAB_FAST_STORE(&state[pg], (uint8_t)LAB_PS_FREE);
	*out = (uint32_t)pg;
	return 1;
}

/*
 * Bulk: the leading pages of pages[n] that are allocated single pages of
 * a pool with total pages at base, marked free, their indexes into out[];
 * how many.  Runs first (above): from a page whose number a is a multiple
 * of 8 with a + 7 < total, eight pages at a time while the eight addresses
 * are the expected ones and their state word says all eight allocated;
 * then page by page, four a step, each checked after the one before it is
 * marked (a page twice in pages[] stops there, at its second entry).
 * Either way a page is freed only if page by page would free it.
 */
static __inline__ __attribute__((always_inline)) uint32_t
labyrinth__free_run(const unsigned char *base, uint32_t shift, uint8_t *state, uint32_t total,
		    void *const *pages, uint32_t *out, uint32_t n)
{
	const labyrinth__u32x4 lo = { 0, 1, 2, 3 }, four = { 4, 4, 4, 4 }, eight = { 8, 8, 8, 8 };
	void *const *q = pages, *const *end = pages + n;

	while (sizeof(void *) == 8 && end - q >= 8) { /* as in labyrinth__pop_run */
		uintptr_t a = labyrinth__page_number(base, shift, q[0]);
		uint64_t p = (uint64_t)(uintptr_t)q[0], step = (uint64_t)1 << shift;
		const labyrinth__u64x2 d = { 2 * step, 2 * step };
		labyrinth__u64x2 e = { p, p + step };
		labyrinth__u32x4 x;
		labyrinth__state8 *s8;
		void *const *first = q;

		if ((a & 7u) || (a | 7u) >= total) /* a | 7 == a + 7: no overflow */
			break;
		x = (uint32_t)a + lo;
		s8 = (labyrinth__state8 *)(void *)&state[a];
		do {
			const labyrinth__u64x2 *v = (const labyrinth__u64x2 *)(const void *)q;

			/* 64-bit lanes compared as 32-bit halves: equal iff both are */
			if (!labyrinth__all_true(((labyrinth__u32x4)v[0] == (labyrinth__u32x4)e) &
						 ((labyrinth__u32x4)v[1] == (labyrinth__u32x4)(e + d)) &
						 ((labyrinth__u32x4)v[2] == (labyrinth__u32x4)(e + 2 * d)) &
						 ((labyrinth__u32x4)v[3] == (labyrinth__u32x4)(e + 3 * d))) ||
			    LAB_FAST_LOAD(s8) != LAB_PS_HEAD8)
				break;
			LAB_FAST_STORE(s8, 0ull);
			s8++;
			/* two 16-byte stores, not eight: the loop is store-bound */
			*(labyrinth__u32x4 *)(void *)out = x;
			*(labyrinth__u32x4 *)(void *)(out + 4) = x + four;
			x += eight;
			e += 4 * d;
			a += 8;
			q += 8;
			out += 8;
		} while (end - q >= 8 && (a | 7u) < total);
		if (q == first) /* not a run here: page by page */
			break;
	}
	for (; end - q >= 4; q += 4, out += 4) {
		if (!labyrinth__free_one(base, shift, state, total, q[0], &out[0]))
			return (uint32_t)(q - pages);
		if (!labyrinth__free_one(base, shift, state, total, q[1], &out[1]))
			return (uint32_t)(q - pages) + 1;
		if (!labyrinth__free_one(base, shift, state, total, q[2], &out[2]))
			return (uint32_t)(q - pages) + 2;
		if (!labyrinth__free_one(base, shift, state, total, q[3], &out[3]))
			return (uint32_t)(q - pages) + 3;
	}
	for (; q < end; q++, out++)
		if (!labyrinth__free_one(base, shift, state, total, q[0], out))
			break;
	return (uint32_t)(q - pages);
}

/*
 * Fast path, bulk allocation: n pages off the top of cache c into
 * pages[], all marked allocated, in one busy window; or 0 (busy, fewer
 * than n cached, a reserve or watch to judge, pages not of 4 KiB: the
 * library does those, partly from the cache).
 */
static __inline__ __attribute__((always_inline)) int
labyrinth__fast_alloc_bulk(struct labyrinth__cache *c, void **pages, uint32_t n)
{
	uint32_t count;

	if (LAB_FAST_UNLIKELY(c->shift != 12) || !labyrinth__cache_enter(c))
		return 0;
	count = LAB_FAST_LOAD(&c->count);
	if (LAB_FAST_UNLIKELY(count < n || (LAB_FAST_LOAD(&c->flags) & LAB_CF_GATE))) {
		labyrinth__cache_leave_count(c, count);
		return 0;
	}
	count -= n;
	labyrinth__pop_run(c->base, 12, c->state, LAB_FAST_PAGES(c) + count, pages, n);
	labyrinth__cache_leave_count(c, count);
	return 1;
}

/*
 * Fast path, bulk free: the leading pages of pages[n] that are allocated
 * single pages, as far as the cache's grant has room, marked free and
 * pushed on cache c in one busy window; how many (0 when busy, a
 * LAB_GFP_KERNEL sleeper waits or pages are not of 4 KiB).  The library
 * does the rest.
 */
static __inline__ __attribute__((always_inline)) uint32_t
labyrinth__fast_free_bulk(struct labyrinth__cache *c, void *const *pages, uint32_t n)
{
	uint32_t count, room, done;

	if (LAB_FAST_UNLIKELY(c->shift != 12 || (LAB_FAST_LOAD(&c->flags) & LAB_CF_WAITERS)) ||
	    !labyrinth__cache_enter(c))
		return 0;
	count = LAB_FAST_LOAD(&c->count);
	room = c->grant - count;
	done = labyrinth__free_run(c->base, 12, c->state, c->limit, pages, LAB_FAST_PAGES(c) + count,
				   n < room ? n : room);
	LAB_FAST_STORE(&c->frees, c->frees + done);
	labyrinth__cache_leave_count(c, count + done);
	return done;
}

#ifndef __KERNEL__
/*
 * User space: the fast paths find this thread's cache in a pool from the
 * pool and the thread, whatever pool the thread used before, as DPDK's
 * mempool finds mp->local_cache[lcore_id]:
 *
 *     cache = lab->lab_private_caches + labyrinth_fast_slot * lab->lab_private_stride
 *
 * labyrinth_fast_slot is the thread's cache slot, the same index in every
 * pool (given by the library on the thread's first call that needs one);
 * negative while the thread has none: LAB_SLOT_NONE (-1, none yet),
 * LAB_SLOT_BUSY (-2, being given), LAB_SLOT_OFF (-3, none to give, or the
 * thread is exiting).  The labyrinth_t's caches and stride are set by
 * init before its magic says LIVE, and cleared by destroy after the magic
 * says DEAD; a pool without caches has its never-claimed dummy there
 * with stride 0, so every slot finds the dummy.
 *
 * Why it is safe
 * --------------
 * The fast path reads the slot, the labyrinth_t's magic, caches and
 * stride, and dereferences nothing until the slot is >= 0 and the magic
 * LIVE.  Then it reads the cache's claim word, lab, and uses the cache
 * only if it equals the caller's labyrinth_t.
 *
 * - A zeroed, destroyed or garbage labyrinth_t: its magic is not LIVE,
 *   so nothing is dereferenced (the library's lab_pool_of() checks the
 *   same magic before it dereferences lab_private_core; a labyrinth_t
 *   that says LIVE is one the library itself would dereference).
 * - A copy of a live labyrinth_t says LIVE and points at the pool's
 *   caches, which are mapped; but no cache's lab is the copy's address,
 *   so the copy goes to the library, which refuses it (EINVAL).
 * - A destroyed pool: nothing of it is remembered per thread.  Its
 *   labyrinth_t says DEAD before its caches are unmapped, and a new pool
 *   at the same address brings its own caches, all unclaimed: a thread's
 *   next call goes through the library, which claims its cache there.
 *   (Destroying a pool while a call on it is running is the caller's
 *   race, here as in the library.)
 * - A cache the thread has not claimed in this pool: lab is NULL, the
 *   library claims it.  The claim happens after the pool's slots_seen
 *   covers the slot (src/cache.h lab_cache_own), so stats, check and
 *   destroy see every page a fast path puts in a cache.
 * - Signal handlers on the thread: each word the fast path reads changes
 *   only on this thread, in one aligned store, so a handler that
 *   interrupts a change sees the old or the new value, and the
 *   interrupted reader sees whatever the handler left.  The slot goes
 *   from NONE to BUSY in one compare-and-swap (a handler that interrupts
 *   the claim sees BUSY and uses the shared store), then to the slot;
 *   lab goes from NULL to the caller's labyrinth_t after slots_seen.
 *   Whatever a handler does in between, the reader's cache is the one of
 *   (its slot, its pool): the same cache, which the busy flag below
 *   protects against the handler's use of it.
 * - Thread exit: the slot becomes OFF first, then the library empties
 *   and unclaims the slot's cache in every live pool, then frees the
 *   slot: a handler or a later destructor of the exiting thread takes
 *   the library's path (shared store), so no page is left in a cache of
 *   a thread that is gone.  The next thread given the slot claims each
 *   cache again through the library.
 * - A fork() child: the library unclaims every cache of every inherited
 *   pool (their pages are not mapped in the child).
 *
 * src/model/tls.pml checks this with Spin.
 */
/* Initial-exec: the library's TLS is static (it is built so), and the
 * caller reaches it with one %fs-relative load, no __tls_get_addr. */
extern __thread int32_t labyrinth_fast_slot __attribute__((tls_model("initial-exec"))) LAB_API;

static __inline__ __attribute__((always_inline)) struct labyrinth__cache *
labyrinth__fast_cache(const labyrinth_t *lab)
{
	int32_t slot = LAB_FAST_LOAD(&labyrinth_fast_slot);
	struct labyrinth__cache *c;

	if (LAB_FAST_UNLIKELY(!lab || slot < 0 ||
			      LAB_FAST_LOAD(&lab->lab_private_magic) != LAB_MAGIC_LIVE))
		return NULL;
	c = (struct labyrinth__cache *)(void *)((unsigned char *)LAB_FAST_LOAD(&lab->lab_private_caches) +
						(size_t)slot * LAB_FAST_LOAD(&lab->lab_private_stride));
	if (LAB_FAST_UNLIKELY(LAB_FAST_LOAD(&c->lab) != lab))
		return NULL;
	if (!c) /* it was just dereferenced: tell the compiler, whose callers test it */
		__builtin_unreachable();
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

/* Bulk calls: the whole call from the thread's cache, else the library
 * (which does the same checks again, and everything else). */
static __inline__ __attribute__((always_inline)) unsigned int
labyrinth_inline_alloc_bulk(labyrinth_t *lab, lab_gfp_t gfp, void **pages, unsigned int n)
{
	struct labyrinth__cache *c = labyrinth__fast_cache(lab);

	if (LAB_FAST_LIKELY(c != NULL && labyrinth__gfp_plain(gfp) && pages != NULL &&
			    labyrinth__fast_alloc_bulk(c, pages, n)))
		return n;
	return (labyrinth_alloc_bulk)(lab, gfp, pages, n);
}

static __inline__ __attribute__((always_inline)) unsigned int
labyrinth_inline_free_bulk(labyrinth_t *lab, void **pages, unsigned int n)
{
	struct labyrinth__cache *c = labyrinth__fast_cache(lab);
	unsigned int done = c != NULL && pages != NULL ? labyrinth__fast_free_bulk(c, pages, n) : 0;

	/* c: an invalid pool serves nothing, not even n == 0 (the library
	 * says EINVAL) */
	if (LAB_FAST_LIKELY(c != NULL && done == n))
		return n;
	if (!done) /* pages may be NULL (n == 0): no arithmetic on it */
		return (labyrinth_free_bulk)(lab, pages, n);
	return done + (labyrinth_free_bulk)(lab, pages + done, n - done);
}

#define labyrinth_alloc_page(lab, gfp)  labyrinth_inline_alloc_page((lab), (gfp))
#define labyrinth_alloc_pages(lab, gfp, order) \
	labyrinth_inline_alloc_pages((lab), (gfp), (order))
#define labyrinth_void_alloc_page_gfp_atomic_exclusive(lab) labyrinth_inline_alloc_atomic((lab))
#define labyrinth_free_page(lab, addr)  labyrinth_inline_free_page((lab), (addr))
#define labyrinth_free_pages(lab, addr, order) \
	labyrinth_inline_free_pages((lab), (addr), (order))
#define labyrinth_alloc_bulk(lab, gfp, pages, n) \
	labyrinth_inline_alloc_bulk((lab), (gfp), (pages), (n))
#define labyrinth_free_bulk(lab, pages, n) labyrinth_inline_free_bulk((lab), (pages), (n))
#endif /* inline entry points */
#endif /* !__KERNEL__ */

#endif /* LABYRINTH_FAST_H */
