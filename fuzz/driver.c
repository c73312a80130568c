/* SPDX-License-Identifier: MIT */
/*
 * driver.c - the libFuzzer harness: labyrinth against the reference
 * model (model.c).
 *
 * Each input is one story on one thread: the first bytes choose pool
 * parameters (valid or broken on purpose), the rest is a sequence of
 * operations -- allocations of every order and gfp (valid and not), frees
 * (good, wrong order, mid-block, double, wild, unaligned, NULL), bulk calls
 * with NULLs and duplicates, watches, dumps, destroy with pages out,
 * re-init, calls on dead or never-initialised pools, and switches to
 * another of up to NPOOLS pools, each initialised from the input the first
 * time it is used.  Each pool's model predicts each result; after every
 * operation labyrinth_stats() and labyrinth_check() must agree with it.
 * At the end everything is freed, every pool must audit clean and destroy
 * with 0 (or stay initialised for a later input with the same parameters,
 * see "Kept pools").  Any mismatch prints the last operations and aborts,
 * so libFuzzer keeps the input as a crash.
 *
 * Environment: FUZZ_TRACE=1 prints every operation as it runs (use it on a
 * crash file); FUZZ_NO_CAPTURE=1 leaves stderr alone (no report checks);
 * FUZZ_REUSE=0 gives every input a fresh pool (see "Kept pools" below).
 */
#include "model.h" /* first: harness.h defines _GNU_SOURCE */

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>
/* White box: the pool's magic, to make a garbage labyrinth_t look dead. */
#include "../src/internal.h"

/*
 * Kept pools.  Mapping and locking a fresh pool (mmap, mlock or
 * MADV_POPULATE_WRITE of every page, and munmap at the end) cost about a
 * third of each input, so a pool that ends an input intact -- every page
 * free, never grown, no watch registered -- stays initialised in its slot,
 * and the next input that asks for the very same parameters starts on it
 * instead of on a fresh init.  Its model starts from its real state: the
 * counters continue from the values the previous input verified (they
 * must still read the same), every page is free, and the order-n rule
 * does not depend on where the free pages sit.  Inits after the first in
 * an input, broken parameters and NULL pools always call labyrinth_init;
 * a kept pool is destroyed (and checked) when it is evicted.
 */
#define NSLOT 128           /* pools kept between inputs */
#define NPOOLS 4            /* pools one input may use */
#define KEEP_PAGES 131072   /* at most this many pages in kept pools (512 MiB) */

static struct slot {
	labyrinth_t lab;
	struct pool_key key;
	bool kept;          /* idle between inputs, every page free */
	uint64_t last;      /* input that last used it */
	unsigned served;    /* inputs it served */
	struct labyrinth_stats st; /* its stats when it was kept */
	bool busy;          /* a pool of this input lives in it */
} slots[NSLOT + NPOOLS];    /* NPOOLS more: a fresh init always finds a slot */

/*
 * Several pools per input: the input starts on pool 0; an operation byte
 * from 240 up switches to pool (byte - 240) % NPOOLS, which, the first
 * time in an input, decodes its parameters and inits (or adopts a kept
 * pool).  Each pool has its own model; the operations that follow act on
 * the pool switched to, and verify() checks it after each (the others
 * cannot change: they are checked when switched to and at the end).
 */
struct pool {
	struct model m;
	struct slot *slot;  /* where its labyrinth_t lives */
	bool started;       /* its parameters were decoded in this input */
	uint64_t dumped;    /* op_epoch at its last checked dump */
};

static struct pool pools[NPOOLS];
static struct pool *pp = &pools[0]; /* the pool the operations act on */
static struct model *pm = &pools[0].m;
static bool reuse = true;        /* FUZZ_REUSE=0: a fresh pool per input */
static bool keep_locked;         /* may keep pools that are mlocked */
static uint64_t n_inputs, n_reused, n_fresh, n_evicted, n_watched, n_grown;
static labyrinth_t dead_lab;     /* initialised and destroyed once */
static int stack_anchor;

static const char *const names[8] = { NULL, "f0", "rx", "tx-ring", "pool-3",
				      "a", "fuzz", "0123456789abcdefghijklmnopqrstu" };

/* ------------------------------------------------------------------ */
/* Decoding helpers                                                    */
/* ------------------------------------------------------------------ */

static lab_gfp_t dec_gfp(struct in *in)
{
	unsigned b = u8(in);
	static const lab_gfp_t types[8] = { LAB_GFP_ATOMIC, LAB_GFP_NOWAIT, LAB_GFP_KERNEL,
					    LAB_GFP_ATOMIC, LAB_GFP_NOWAIT, 0,
					    LAB_GFP_ATOMIC | LAB_GFP_NOWAIT, 0 };
	lab_gfp_t g = types[b & 7];

	if ((b & 7) == 7)
		g = u16(in) & 0x3ffu;
	if (b & 0x08)
		g |= LAB_GFP_ZERO;
	if (b & 0x10)
		g |= LAB_GFP_NOWARN;
	if ((b >> 5) == 7)
		g |= 1u << (3 + u8(in) % 29); /* may hit a valid bit too */
	return g;
}

static unsigned dec_order(struct in *in)
{
	static const unsigned odd[6] = { 11, 12, 31, 32, 0x80, 0xffffffffu };
	unsigned b = u8(in);

	if (b < 150)
		return 0;
	if (b < 250)
		return 1 + (b - 150) % 10;
	return odd[b - 250];
}

/* An address to free: live, mid-block, recently freed, random, wild... */
static void *pick_addr(struct in *in, bool order0_hint)
{
	unsigned kind = u8(in) % 10, r = u16(in);
	size_t i;

	switch (kind) {
	case 0: case 1: case 2:
		if (!pm->nblocks)
			return NULL;
		if (order0_hint) {
			for (i = 0; i < pm->nblocks; i++) {
				struct block *b = &pm->blocks[(r + i) % pm->nblocks];

				if (!b->order)
					return b->addr;
			}
		}
		return pm->blocks[r % pm->nblocks].addr;
	case 3: /* mid-block */
		for (i = 0; i < pm->nblocks; i++) {
			struct block *b = &pm->blocks[(r + i) % pm->nblocks];

			if (b->order)
				return b->addr + (1 + u8(in) % ((1u << b->order) - 1)) * PS;
		}
		return pm->nblocks ? pm->blocks[r % pm->nblocks].addr : NULL;
	case 4: /* recently freed: double free, or reused since */
		if (!pm->freed_n)
			return NULL;
		return pm->freed_ring[(pm->freed_n - 1 - r % (pm->freed_n < 16 ? pm->freed_n : 16)) % 16];
	case 5: /* any page of the reserved range and a little beyond */
		return model_at(pm, (long long)(r % (pm->max + 8)) * PS);
	case 6: /* unaligned */
		if (pm->nblocks)
			return pm->blocks[r % pm->nblocks].addr + 1 + u16(in) % (PS - 1);
		return model_at(pm, 8);
	case 7: { /* wild */
		switch (r % 6) {
		case 0: return model_at(pm, -(long long)PS);
		case 1: return model_at(pm, (long long)(pm->max * PS));
		case 2: return &stack_anchor;
		case 3: return (void *)(uintptr_t)1;
		case 4: return (void *)(~(uintptr_t)0 & ~(uintptr_t)(PS - 1));
		default: return (void *)pm;
		}
	}
	case 8:
		return NULL;
	default: /* the last block handed out */
		return pm->nblocks ? pm->blocks[pm->nblocks - 1].addr : NULL;
	}
}

static void dec_params(struct in *in, struct labyrinth_params *p, bool *bad, bool *null_lab,
		       bool *null_params)
{
	unsigned b = u8(in), sel, fl;
	size_t nr, eff;

	memset(p, 0, sizeof(*p));
	*bad = false;
	*null_lab = false;
	*null_params = false;
	p->name = names[b & 7];
	sel = (b >> 3) & 3;
	switch (sel) {
	case 0: nr = 16 + u8(in); break;
	case 1: nr = (size_t)64 << (u8(in) % 6); break;
	case 2: nr = 1 + u16(in) % 2048; break;
	default: nr = 0; break; /* default: 1024 */
	}
	p->nr_pages = nr;
	eff = nr ? nr : 1024;
	switch (u8(in) % 4) {
	case 0: p->max_pages = 0; break;
	case 1: p->max_pages = eff + u16(in) % 4096; break;
	case 2: p->max_pages = eff + u8(in) % 8; break;
	default: p->max_pages = eff + 1024 + u8(in) % 3; break;
	}
	sel = u8(in);
	switch (sel % 4) {
	case 0: p->reserve_pages = 0; break;
	case 1: p->reserve_pages = u8(in) % eff; break;
	case 2: p->reserve_pages = eff - 1 - u8(in) % (eff < 4 ? eff : 4); break;
	default: p->reserve_pages = u16(in) % eff; break;
	}
	/* LAB_POOL_DEBUG in one pool of eight (its bit and two clear low
	 * bits), not one in two: poisoning every page handed out or back,
	 * and every page at init, was a fifth of the time (with a UBSan
	 * check and a coverage counter on every word, which fuzz/run.sh now
	 * leaves out: fuzz/uninstrumented.txt).  The seeds' flags bytes
	 * (0x10, 0x1c) still mean DEBUG. */
	fl = u8(in);
	p->flags = fl & (LAB_POOL_DEBUG | LAB_POOL_NOLOCK | LAB_POOL_DUMPABLE);
	if (fl & 3u)
		p->flags &= ~(unsigned)LAB_POOL_DEBUG;
	p->wait_ms = (sel >> 2) == 63 ? 1 : 0; /* rarely: a 1 ms KERNEL wait */
	if ((b >> 5) == 0 && (b & 7) == 0) {
		*null_params = true; /* defaults */
		return;
	}
	if ((b >> 5) != 7)
		return;
	/* Break one rule (sometimes two): init must say EINVAL. */
	*bad = true;
	switch (u8(in) % 7) {
	case 0: {
		size_t ps = u32(in);

		if (ps == 0 || ps == LAB_PAGE_4K || ps == LAB_PAGE_2M || ps == LAB_PAGE_1G)
			ps = 8192;
		p->page_size = ps;
		break;
	}
	case 1: p->reserve_pages = eff + u8(in) % 4; break;
	case 2:
		if (eff < 2)
			p->reserve_pages = eff;
		else
			p->max_pages = 1 + u8(in) % (eff - 1);
		break;
	case 3: { /* a flag bit the library does not know */
		unsigned int bit = 5 + u8(in) % 27;

		while ((1u << bit) & (LAB_POOL_NUMA | LAB_POOL_NOCACHE))
			bit++;
		p->flags |= 1u << bit;
		break;
	}
	case 4: p->flags |= LAB_POOL_SECRET | LAB_POOL_HUGETLB; break;
	case 5: *null_lab = true; *bad = false; break;
	default: p->page_size = 12345; p->reserve_pages = eff; break;
	}
	if (*null_lab)
		*bad = true;
}

static void calls_on_invalid(labyrinth_t *l, const char *which);

static bool same_key(const struct pool_key *a, const struct pool_key *b)
{
	return a->nr == b->nr && a->max == b->max && a->reserve == b->reserve &&
	       a->flags == b->flags && a->wait_ms == b->wait_ms && a->name == b->name;
}

/* Destroy a kept pool (it must be idle) to make room. */
static void evict(struct slot *s)
{
	int r;

	trace("evict a kept pool (%zu pages, served %u inputs)", s->key.nr, s->served);
	s->kept = false;
	r = labyrinth_destroy(&s->lab);
	EXPECT(r == 0, "destroy of a kept idle pool = %d", r);
	calls_on_invalid(&s->lab, "destroyed pool");
	n_evicted++;
}

/* A slot for a fresh init: a free one (there is always one), zeroed. */
static struct slot *free_slot(void)
{
	unsigned i;

	for (i = 0; i < NSLOT + NPOOLS; i++) {
		if (!slots[i].kept && !slots[i].busy) {
			memset(&slots[i].lab, 0, sizeof(slots[i].lab));
			slots[i].served = 0;
			slots[i].busy = true;
			return &slots[i];
		}
	}
	fail("no free pool slot");
}


/* Start on a kept pool with key k, if there is one. */
static bool adopt(const struct pool_key *k)
{
	struct labyrinth_stats st;
	struct slot *s = NULL;
	unsigned i;

	for (i = 0; i < NSLOT + NPOOLS && !s; i++)
		if (slots[i].kept && same_key(&slots[i].key, k))
			s = &slots[i];
	if (!s)
		return false;
	s->kept = false;
	s->busy = true;
	pp->slot->busy = false; /* the fresh slot it had */
	pp->slot = s;
	pm->lab = &s->lab;
	model_start(pm, k);
	pm->served = s->served;
	/* Nothing ran on it since the previous input verified these. */
	get_stats(pm, &st);
#define KEPT(field)                                                             \
	EXPECT(st.field == s->st.field, "kept pool: stats." #field " = %llu, was %llu", \
	       (unsigned long long)st.field, (unsigned long long)s->st.field)
	KEPT(pages_total);
	KEPT(pages_free);
	KEPT(allocs);
	KEPT(frees);
	KEPT(alloc_failed);
	KEPT(reserve_allocs);
	KEPT(bad_frees);
	KEPT(grows);
	KEPT(watch_events);
	KEPT(waits);
#undef KEPT
	pm->allocs = st.allocs;
	pm->frees = st.frees;
	pm->failed = st.alloc_failed;
	pm->resv = st.reserve_allocs;
	pm->bad = st.bad_frees;
	pm->grows = st.grows;
	pm->events = st.watch_events;
	pm->waits = st.waits;
	n_reused++;
	return true;
}

/* Decode parameters and init (the first init of an input may instead
 * start on a kept pool with the same parameters). */
static void do_init(struct in *in, bool first)
{
	struct labyrinth_params p;
	struct pool_key k;
	bool bad, null_lab, null_params, reused;
	int r;

	dec_params(in, &p, &bad, &null_lab, &null_params);
	k.nr = null_params || !p.nr_pages ? 1024 : p.nr_pages;
	k.max = null_params || !p.max_pages ? k.nr : p.max_pages;
	k.reserve = null_params ? 0 : p.reserve_pages;
	k.flags = null_params ? 0 : p.flags;
	k.wait_ms = null_params ? 0 : p.wait_ms;
	k.name = null_params || !p.name ? "labyrinth" : p.name;
	reused = first && reuse && !bad && !null_lab && adopt(&k);
	trace("init nr=%zu max=%zu reserve=%zu flags=%#x wait=%ld name=%s%s%s%s%s", p.nr_pages,
	      p.max_pages, p.reserve_pages, p.flags, p.wait_ms, p.name ? p.name : "(null)",
	      bad ? " [bad]" : "", null_lab ? " [NULL lab]" : "",
	      null_params ? " [NULL params]" : "", reused ? " [kept pool]" : "");
	/* A new pool, or one that a failed init must leave intact, audits; a
	 * kept pool was audited at the end of its last input and its stats
	 * still read the same (adopt()). */
	if (!reused)
		audit_soon();
	if (reused) {
		trace("  (the kept pool served %u inputs before; FUZZ_REUSE=0 starts fresh)",
		      pm->served);
		goto check;
	}
	if (null_lab) {
		r = labyrinth_init(NULL, &p);
		EXPECT(r == -EINVAL, "labyrinth_init(NULL, ...) = %d, want -EINVAL", r);
		return;
	}
	r = labyrinth_init(pm->lab, null_params ? NULL : &p);
	if (pm->live) {
		EXPECT(r < 0, "labyrinth_init on a live pool = %d, want an error", r);
		return;
	}
	if (bad) {
		EXPECT(r == -EINVAL, "labyrinth_init with broken params = %d, want -EINVAL", r);
		EXPECT(labyrinth_page_size(pm->lab) == 0, "failed init left a live pool");
		return;
	}
	EXPECT(r == 0, "labyrinth_init = %d (%s)", r, strerror(-r));
	n_fresh++;
	model_start(pm, &k);
	pm->served = 0;
	pm->allocs = pm->frees = pm->failed = pm->resv = pm->bad = pm->grows = pm->waits = pm->events = 0;
check:
	EXPECT(labyrinth_page_size(pm->lab) == PS, "page size %zu", labyrinth_page_size(pm->lab));
	EXPECT(labyrinth_owns(pm->lab, pm->base) == 1 && labyrinth_owns(pm->lab, pm->base - 1) == 0 &&
	       labyrinth_owns(pm->lab, pm->base + pm->total * PS - 1) == 1 &&
	       labyrinth_owns(pm->lab, pm->base + pm->total * PS) == 0,
	       "labyrinth_owns disagrees with the pool's range");
	EXPECT(((uintptr_t)pm->base & ((PS << LAB_MAX_ORDER) - 1)) == 0,
	       "pool base %p not aligned to a max-order block", (void *)pm->base);
}

/* Every call on a pool that is not live: EINVAL (or 0 / NULL). */
static void calls_on_invalid(labyrinth_t *l, const char *which)
{
	struct labyrinth_stats st;
	void *pg[2] = { NULL, NULL };
	char fbuf[64];
	FILE *f;
	int r;

	errno = 0;
	EXPECT(!labyrinth_alloc_pages(l, LAB_GFP_ATOMIC, 0) && errno == EINVAL,
	       "%s: alloc_pages did not fail with EINVAL", which);
	errno = 0;
	EXPECT(!labyrinth_alloc_page(l, LAB_GFP_NOWAIT) && errno == EINVAL,
	       "%s: alloc_page did not fail with EINVAL", which);
	errno = 0;
	EXPECT(!labyrinth_void_alloc_page_gfp_atomic_exclusive(l) && errno == EINVAL,
	       "%s: the exclusive alloc did not fail with EINVAL", which);
	errno = 0;
	EXPECT(labyrinth_alloc_bulk(l, LAB_GFP_ATOMIC, pg, 2) == 0 && errno == EINVAL,
	       "%s: alloc_bulk did not fail with EINVAL", which);
	r = labyrinth_free_pages(l, pm->base ? pm->base : (void *)&stack_anchor, 0);
	EXPECT(r == -EINVAL, "%s: free_pages = %d", which, r);
	r = labyrinth_free_page(l, NULL);
	EXPECT(r == -EINVAL || r == 0, "%s: free_page(NULL) = %d", which, r);
	pg[0] = &stack_anchor;
	errno = 0;
	EXPECT(labyrinth_free_bulk(l, pg, 2) == 0 && errno == EINVAL,
	       "%s: free_bulk did not fail with EINVAL", which);
	EXPECT(labyrinth_stats(l, &st) == -EINVAL, "%s: stats", which);
	EXPECT(labyrinth_check(l) == -EINVAL, "%s: check", which);
	EXPECT(labyrinth_watch(l, 1) == -EINVAL, "%s: watch", which);
	EXPECT(labyrinth_owns(l, &stack_anchor) == 0, "%s: owns", which);
	EXPECT(labyrinth_page_size(l) == 0, "%s: page_size", which);
	EXPECT(labyrinth_destroy(l) == -EINVAL, "%s: destroy", which);
	f = fmemopen(fbuf, sizeof(fbuf), "w");
	if (f) {
		EXPECT(labyrinth_dump(l, f) == -EINVAL, "%s: dump", which);
		fclose(f);
	}
}

/* ------------------------------------------------------------------ */
/* Operations                                                          */
/* ------------------------------------------------------------------ */

/* One allocation through one of the three entry points; verified. */
NOCOV static void do_alloc(unsigned api, lab_gfp_t gfp, unsigned order)
{
	static const char *const apis[3] = { "alloc_pages", "alloc_page", "exclusive" };
	size_t floor;
	uint64_t grows_before;
	void *r;
	bool valid, ok;
	int e;

	if (api == 1)
		order = 0;
	if (api == 2) {
		order = 0;
		gfp = LAB_GFP_ATOMIC;
	}
	trace("%s gfp=%#x order=%u", apis[api], gfp, order);
	valid = gfp_ok(gfp) && order <= LAB_MAX_ORDER;
	errno = 0;
	r = api == 0 ? labyrinth_alloc_pages(pm->lab, gfp, order) :
	    api == 1 ? labyrinth_alloc_page(pm->lab, gfp) :
		       labyrinth_void_alloc_page_gfp_atomic_exclusive(pm->lab);
	e = errno;
	if (!pm->live || !valid) {
		EXPECT(!r && e == EINVAL, "%s(gfp %#x, order %u) = %p errno %d, want NULL/EINVAL",
		       apis[api], gfp, order, r, e);
		return;
	}
	floor = (gfp & LAB_GFP_ATOMIC) ? 0 : pm->reserve;
	ok = fits(pm, order, floor);
	grows_before = pm->grows;
	/* KERNEL grows only when the request does not fit (an unexpected
	 * growth shows in pages_total at the next verify(pm)). */
	if ((gfp & LAB_GFP_KERNEL) && !ok) {
		size_t old_total = pm->total;

		learn_growth(pm, grows_before);
		if (pm->total > old_total)
			ok = fits(pm, order, floor);
		if (!ok)
			EXPECT(pm->total == pm->max,
			       "KERNEL failed at %zu pages, below max_pages %zu", pm->total, pm->max);
	}
	if (ok != (r != NULL)) {
		fail("%s(gfp %#x, order %u) = %p (errno %d); model: free %zu reserve %zu total %zu"
		     " run-exists %d -> expected %s",
		     apis[api], gfp, order, r, e, pm->nfree, pm->reserve, pm->total,
		     order ? (int)run_exists(pm, order) : -1, ok ? "success" : "failure");
	}
	if (!r) {
		EXPECT(e == ENOMEM, "failed allocation set errno %d, want ENOMEM", e);
		pm->failed++;
		if (!(gfp & LAB_GFP_NOWARN))
			expect_report(pm, "alloc", NULL);
		return;
	}
	take_block(pm, r, order, gfp, apis[api]);
}

NOCOV static void do_free(void *addr, unsigned order, int api)
{
	int r;

	trace("%s(%p [page %ld], order %u)", api ? "free_page" : "free_pages", addr,
	      addr && pm->base ? (long)(((unsigned char *)addr - pm->base) / (long)PS) : -1L, order);
	if (api)
		order = 0;
	r = api ? labyrinth_free_page(pm->lab, addr) : labyrinth_free_pages(pm->lab, addr, order);
	if (!pm->live) {
		EXPECT(r == -EINVAL || (!addr && r == 0), "free on a dead pool = %d", r);
		return;
	}
	settle_free(pm, addr, order, r, api ? "labyrinth_free_page" : "labyrinth_free_pages");
}

static void do_alloc_bulk(struct in *in)
{
	static void *pages[MAX_BULK + 8];
	lab_gfp_t gfp = dec_gfp(in);
	unsigned b = u8(in), n = b < 200 ? b % 80 : u8(in) % MAX_BULK, got, i, want = 0, first = 0;
	bool null_array = u8(in) == 0xff, valid = gfp_ok(gfp);
	size_t floor, old_total;
	int e;

	trace("alloc_bulk gfp=%#x n=%u%s", gfp, n, null_array ? " pages=NULL" : "");
	errno = 0;
	got = labyrinth_alloc_bulk(pm->lab, gfp, null_array ? NULL : pages, n);
	e = errno;
	if (!pm->live || !valid || (null_array && n)) {
		EXPECT(got == 0 && e == EINVAL, "alloc_bulk (invalid) = %u errno %d", got, e);
		return;
	}
	if (null_array) {
		EXPECT(got == 0, "alloc_bulk(NULL, 0) = %u", got);
		return;
	}
	floor = (gfp & LAB_GFP_ATOMIC) ? 0 : pm->reserve;
	old_total = pm->total;
	if (gfp & LAB_GFP_KERNEL) {
		size_t avail_before = pm->nfree > floor ? pm->nfree - floor : 0;

		/* The free pages go first, then the pool grows for the rest:
		 * a watch sees the count fall, climb with the growth and fall
		 * again (two crossings of one mark are right). */
		first = got < avail_before ? got : (unsigned)avail_before;
		for (i = 0; i < first; i++)
			take_block(pm, pages[i], 0, gfp, "alloc_bulk");
		learn_growth(pm, pm->grows);
		if (pm->total > old_total)
			EXPECT(n > avail_before, "alloc_bulk KERNEL grew although %zu pages were free",
			       avail_before);
	}
	want = first + (pm->nfree > floor ? (unsigned)(pm->nfree - floor < n - first ?
						    pm->nfree - floor : n - first) : 0);
	if ((gfp & LAB_GFP_KERNEL) && want < n)
		EXPECT(pm->total == pm->max, "alloc_bulk KERNEL short at %zu pages < max %zu", pm->total,
		       pm->max);
	EXPECT(got == want, "alloc_bulk(gfp %#x, n %u) = %u, model %u (free %zu, floor %zu)", gfp,
	       n, got, want, pm->nfree, floor);
	for (i = first; i < got; i++)
		take_block(pm, pages[i], 0, gfp, "alloc_bulk");
	if (got < n) {
		pm->failed += n - got;
		if (!(gfp & LAB_GFP_NOWARN))
			expect_report(pm, "alloc", NULL);
	}
}

static void do_free_bulk(struct in *in)
{
	static void *pages[MAX_BULK + 8];
	unsigned n = u8(in) % MAX_BULK, i, got, want = 0;
	bool null_array = u8(in) == 0xff;
	int e;

	for (i = 0; i < n; i++) {
		unsigned k = u8(in) % 8;

		if (k < 4)
			pages[i] = pick_addr(in, true);
		else if (k == 4 && i)
			pages[i] = pages[u8(in) % i]; /* duplicate */
		else if (k == 5)
			pages[i] = NULL;
		else
			pages[i] = pm->nblocks ? pm->blocks[u16(in) % pm->nblocks].addr : NULL;
	}
	trace("free_bulk n=%u%s", n, null_array ? " pages=NULL" : "");
	errno = 0;
	got = labyrinth_free_bulk(pm->lab, null_array ? NULL : pages, n);
	e = errno;
	if (!pm->live || (null_array && n)) {
		EXPECT(got == 0 && e == EINVAL, "free_bulk (invalid) = %u errno %d", got, e);
		return;
	}
	if (null_array) {
		EXPECT(got == 0, "free_bulk(NULL, 0) = %u", got);
		return;
	}
	for (i = 0; i < n; i++) {
		int r = expect_free(pm, pages[i], 0);

		if (!pages[i])
			continue;
		if (r == 0) {
			drop_block(pm, idx_of(pm, pages[i]));
			want++;
		} else {
			pm->bad++;
			expect_report(pm, "free", pages[i]);
			audit_bad_free(pm, pages[i]);
		}
	}
	EXPECT(got == want, "free_bulk(n %u) = %u, model %u", n, got, want);
}

/* Allocate until the first failure (at most a bound). */
static void do_fill(struct in *in)
{
	lab_gfp_t gfp = dec_gfp(in);
	unsigned order = u8(in) % 4 == 0 ? u8(in) % 6 : 0, i;

	if (!gfp_ok(gfp))
		gfp = LAB_GFP_NOWAIT | (gfp & LAB_GFP_ZERO);
	gfp |= LAB_GFP_NOWARN;
	trace("fill gfp=%#x order=%u", gfp, order);
	audit_soon(); /* runs the pool dry: every path to the last page */
	for (i = 0; i < 8192 && pm->live; i++) {
		uint64_t failed = pm->failed;

		do_alloc(0, gfp, order);
		if (pm->failed != failed)
			break;
	}
}

/* Free many live blocks: all, the even ones, or the first half. */
static void do_drain(struct in *in)
{
	unsigned how = u8(in) % 3;
	size_t i, n = pm->nblocks;

	trace("drain how=%u (%zu blocks)", how, n);
	if (!pm->live || !n)
		return; /* no call into the library at all */
	audit_soon();
	for (i = n; i-- > 0;) {
		struct block b;

		if (i >= pm->nblocks)
			continue;
		if ((how == 1 && (i & 1)) || (how == 2 && i < n / 2))
			continue;
		b = pm->blocks[i];
		do_free(b.addr, b.order, 0);
	}
}

static void do_watch(struct in *in)
{
	unsigned b = u8(in);
	size_t low;
	int fd;

	switch (b % 4) {
	case 0: low = 0; break;
	case 1: low = pm->max + 1 + u8(in); break;
	default: low = 1 + u16(in) % (pm->max ? pm->max : 1); break;
	}
	trace("watch low=%zu", low);
	fd = labyrinth_watch(pm->lab, low);
	if (!pm->live || low == 0 || low > pm->max) {
		EXPECT(fd == -EINVAL, "labyrinth_watch(%zu) = %d, want -EINVAL", low, fd);
		return;
	}
	if (pm->nwatch == NWATCH) {
		audit_soon();
		EXPECT(fd < 0, "a watch beyond %u watches = %d", NWATCH, fd);
		if (fd >= 0)
			close(fd);
		return;
	}
	EXPECT(fd >= 0, "labyrinth_watch(%zu) = %d", low, fd);
	pm->w[pm->nwatch].fd = fd;
	pm->w[pm->nwatch].low = low;
	pm->w[pm->nwatch].pending = pm->nfree < low ? 1 : 0;
	pm->events += pm->w[pm->nwatch].pending;
	pm->nwatch++;
}

static void do_close_watch(struct in *in)
{
	unsigned i;

	if (!pm->nwatch)
		return;
	i = u8(in) % pm->nwatch;
	trace("close watch %u", i);
	if (pm->w[i].fd >= 0) {
		check_watches(pm);
		close(pm->w[i].fd);
		pm->w[i].fd = -1;
	}
}

static void do_destroy(void)
{
	int r;

	trace("destroy (%zu blocks out)", pm->nblocks);
	audit_soon(); /* -EBUSY must leave the pool intact */
	r = labyrinth_destroy(pm->lab);
	if (!pm->live) {
		EXPECT(r == -EINVAL, "destroy of a dead pool = %d", r);
		return;
	}
	if (pm->nblocks) {
		EXPECT(r == -EBUSY, "destroy with %zu blocks out = %d, want -EBUSY", pm->nblocks, r);
		expect_report(pm, "destroy", NULL); /* "N of T pages still in use" */
		return;
	}
	EXPECT(r == 0, "destroy of an idle pool = %d", r);
	check_watches(pm);
	model_reset_pool(pm);
	calls_on_invalid(pm->lab, "destroyed pool");
}

/*
 * Fuzzed inputs are full of runs of dumps (20 a input, 90% of them with
 * nothing done to the pool since the previous one): formatting them was 8%
 * of the time.  A dump of a live pool that only dumps, owns probes and
 * calls on other pool objects have touched since its last dump would print
 * the same text, already checked: it is skipped (and traced as such).
 */
static uint64_t op_epoch;        /* ops that may change the pool, so far */

static void do_dump(void)
{
	char buf[2048];
	unsigned long tot, fr, inuse;
	FILE *f;
	char *s;
	int r;

	if (pm->live && pp->dumped == op_epoch) {
		trace("dump (the pool is as at the last dump: skipped)");
		return;
	}
	trace("dump");
	f = fmemopen(buf, sizeof(buf) - 1, "w");
	if (!f)
		return;
	memset(buf, 0, sizeof(buf));
	r = labyrinth_dump(pm->lab, f);
	fclose(f);
	if (!pm->live) {
		EXPECT(r == -EINVAL, "dump of a dead pool = %d", r);
		return;
	}
	EXPECT(r == 0, "labyrinth_dump = %d", r);
	pp->dumped = op_epoch;
	s = strstr(buf, "pages total ");
	EXPECT(s && sscanf(s, "pages total %lu free %lu inuse %lu", &tot, &fr, &inuse) == 3,
	       "dump has no 'pages total' line: %s", buf);
	EXPECT(tot == pm->total && fr == pm->nfree && inuse == pm->total - pm->nfree,
	       "dump says total %lu free %lu inuse %lu; model %zu %zu", tot, fr, inuse, pm->total,
	       pm->nfree);
	EXPECT(strstr(buf, pm->name) != NULL, "dump does not name the pool '%s'", pm->name);
}

static void do_owns(struct in *in)
{
	unsigned r = u16(in);
	unsigned char *a = model_at(pm, (long long)(r % (pm->max + 4)) * PS + u8(in) % 3 * 777);
	int want, got;

	trace("owns %p", (void *)a);
	got = labyrinth_owns(pm->lab, a);
	want = pm->live && (uintptr_t)a >= (uintptr_t)pm->base &&
	       (uintptr_t)a < (uintptr_t)pm->base + pm->total * PS;
	EXPECT(got == want, "labyrinth_owns(%p) = %d, model %d", (void *)a, got, want);
}

static void do_invalid_pool(struct in *in)
{
	labyrinth_t junk;
	unsigned k = u8(in) % 3, i;

	trace("calls on an invalid pool (%u)", k);
	if (k == 0) {
		memset(&junk, 0, sizeof(junk));
		calls_on_invalid(&junk, "zeroed pool");
	} else if (k == 1) {
		calls_on_invalid(&dead_lab, "destroyed pool");
	} else {
		for (i = 0; i < sizeof(junk); i++)
			((unsigned char *)&junk)[i] = (unsigned char)u8(in);
		if (junk.lab_private_magic == LAB_MAGIC_LIVE)
			junk.lab_private_magic ^= 1;
		calls_on_invalid(&junk, "garbage pool");
	}
}

/* ------------------------------------------------------------------ */
/* The entry points                                                    */
/* ------------------------------------------------------------------ */

/* Can the pool, idle now, serve a later input as if it were fresh? */
static bool keepable(void)
{
	return reuse && pm->nwatch == 0 && pm->total == pm->nr_init && pm->total <= KEEP_PAGES &&
	       (keep_locked || (pm->flags & LAB_POOL_NOLOCK));
}

/* Keep the idle pool in its slot, evicting the least recently used. */
static void keep(void)
{
	for (;;) {
		struct slot *lru = NULL;
		size_t pages = pm->total;
		unsigned i, n = 0;

		for (i = 0; i < NSLOT + NPOOLS; i++) {
			if (!slots[i].kept)
				continue;
			n++;
			pages += slots[i].key.nr;
			if (!lru || slots[i].last < lru->last)
				lru = &slots[i];
		}
		if (n < NSLOT && pages <= KEEP_PAGES)
			break;
		evict(lru);
	}
	trace("finish: keep the pool for a later input");
	pp->slot->key.nr = pm->nr_init;
	pp->slot->key.max = pm->max;
	pp->slot->key.reserve = pm->reserve;
	pp->slot->key.flags = pm->flags;
	pp->slot->key.wait_ms = pm->wait_ms;
	pp->slot->key.name = pm->name;
	pp->slot->last = n_inputs;
	pp->slot->served++;
	get_stats(pm, &pp->slot->st);
	pp->slot->kept = true;
	model_reset_pool(pm);
}

static void finish_pool(void)
{
	size_t i;
	int r;

	if (!pm->live)
		return;
	trace("finish: free %zu blocks", pm->nblocks);
	for (i = pm->nblocks; i-- > 0;) {
		struct block b = pm->blocks[i];
		int rr = labyrinth_free_pages(pm->lab, b.addr, b.order);

		settle_free(pm, b.addr, b.order, rr, "labyrinth_free_pages(final)");
	}
	audit_soon(); /* the end of an input always audits */
	verify(pm);
	EXPECT(pm->nfree == pm->total, "model leak");
	/* Freeing every page makes the largest blocks whole again. */
	if (pm->total >= (1u << LAB_MAX_ORDER)) {
		void *big = labyrinth_alloc_pages(pm->lab, LAB_GFP_ATOMIC, LAB_MAX_ORDER);

		trace("finish: order-10 ATOMIC on an empty pool -> %p", big);
		EXPECT(big != NULL, "no order-10 block in an entirely free pool of %zu pages",
		       pm->total);
		take_block(pm, big, LAB_MAX_ORDER, LAB_GFP_ATOMIC, "final order-10");
		r = labyrinth_free_pages(pm->lab, big, LAB_MAX_ORDER);
		settle_free(pm, big, LAB_MAX_ORDER, r, "labyrinth_free_pages(final order-10)");
		audit_soon();
		verify(pm);
	}
	if (keepable()) {
		keep();
		return;
	}
	n_watched += pm->nwatch != 0;
	n_grown += pm->nwatch == 0 && pm->total != pm->nr_init;
	r = labyrinth_destroy(pm->lab);
	EXPECT(r == 0, "final destroy = %d", r);
	check_watches(pm);
	model_reset_pool(pm);
	calls_on_invalid(pm->lab, "destroyed pool");
}

/*
 * Make pool k the one the operations act on.  The first time in an input
 * it gets a slot, its parameters are decoded and it is initialised (or
 * starts on a kept pool); after that it is verified as it was left (the
 * operations on the other pools cannot have changed it).
 */
static void use_pool(struct in *in, unsigned k)
{
	pp = &pools[k];
	pm = &pp->m;
	trace("pool %u%s", k, pp->started ? "" : " (new in this input)");
	if (pp->started) {
		verify(pm);
		return;
	}
	pp->started = true;
	pp->dumped = UINT64_MAX;
	pp->slot = free_slot();
	pm->lab = &pp->slot->lab;
	model_reset_pool(pm);
	pm->base = NULL;
	do_init(in, true);
	if (!pm->live)
		calls_on_invalid(pm->lab, "never-initialised pool");
	verify(pm);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
void __sanitizer_set_report_fd(void *fd) __attribute__((weak));

static void say_totals(void)
{
	if (n_inputs > 1)
		say("fuzz_pool: %llu inputs, %llu of them started on a kept pool; %llu fresh inits; "
		    "not kept: %llu with watches, %llu grown; %llu kept pools evicted; "
		    "%llu steps verified, %llu of them with labyrinth_check\n",
		    (unsigned long long)n_inputs, (unsigned long long)n_reused,
		    (unsigned long long)n_fresh, (unsigned long long)n_watched,
		    (unsigned long long)n_grown, (unsigned long long)n_evicted,
		    (unsigned long long)n_steps, (unsigned long long)n_checks);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct labyrinth_params p = { .name = "dead", .nr_pages = 64 };
	struct rlimit rl;

	(void)argc;
	(void)argv;
	tracing = getenv("FUZZ_TRACE") != NULL;
	capture = getenv("FUZZ_NO_CAPTURE") == NULL;
	real_err = fcntl(2, F_DUPFD_CLOEXEC, 100);
	if (real_err < 0) {
		real_err = 2;
		capture = false;
	}
	if (capture) {
		cap_fd = memfd_create("fuzz-pool-stderr", MFD_CLOEXEC);
		if (cap_fd < 0)
			capture = false;
	}
	/* Sanitizer reports must reach the real stderr while fd 2 is captured. */
	if (capture && __sanitizer_set_report_fd)
		__sanitizer_set_report_fd((void *)(intptr_t)real_err);
	reuse = !getenv("FUZZ_REUSE") || strcmp(getenv("FUZZ_REUSE"), "0") != 0;
	/* Kept locked pools add up: keep only NOLOCK ones under a memlock limit. */
	keep_locked = geteuid() == 0 ||
		      (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur == RLIM_INFINITY);
	atexit(say_totals);
	if (labyrinth_init(&dead_lab, &p) != 0 || labyrinth_destroy(&dead_lab) != 0) {
		say("fuzz_pool: cannot create a pool at all\n");
		abort();
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	unsigned ops = 0, i;

	n_inputs++;
	trace_n = 0;
	reports_reset();
	audit_reset();
	if (capture) {
		if (ftruncate(cap_fd, 0) != 0)
			abort();
		lseek(cap_fd, 0, SEEK_SET);
		dup2(cap_fd, 2);
	}
	for (i = 0; i < NPOOLS; i++)
		pools[i].started = false;
	op_epoch++; /* a new input, maybe on other pools */
	use_pool(&in, 0);
	while (in.n && ops++ < MAX_OPS) {
		unsigned b = u8(&in), op = b % 26;

		if (b >= 240) {
			/* (the seeds' operation bytes are all below 240) */
			op_epoch++;
			use_pool(&in, (b - 240) % NPOOLS);
			continue;
		}
		if (op < 21 || op > 23)
			op_epoch++;

		switch (op) {
		case 0: case 1: case 2: case 3: case 4: {
			lab_gfp_t g = dec_gfp(&in);

			do_alloc(0, g, dec_order(&in));
			break;
		}
		case 5: do_alloc(1, dec_gfp(&in), 0); break;
		case 6: do_alloc(2, 0, 0); break;
		case 7: case 8: case 9: case 10: {
			void *a = pick_addr(&in, false);
			unsigned o;

			/* Mostly the block's own order; sometimes another. */
			if (head_order(pm, a) >= 0 && u8(&in) < 200)
				o = (unsigned)head_order(pm, a);
			else
				o = dec_order(&in);
			do_free(a, o, 0);
			break;
		}
		case 11: do_free(pick_addr(&in, true), 0, 1); break;
		case 12: case 13: do_alloc_bulk(&in); break;
		case 14: do_free_bulk(&in); break;
		case 15: do_fill(&in); break;
		case 16: do_drain(&in); break;
		case 17: do_watch(&in); break;
		case 18: do_close_watch(&in); break;
		case 19: do_destroy(); break;
		case 20: if (!pm->live || u8(&in) < 32) do_init(&in, false); break;
		case 21: do_dump(); break;
		case 22: do_owns(&in); break;
		case 23: do_invalid_pool(&in); break;
		default: {
			lab_gfp_t g = (u8(&in) & 1) ? LAB_GFP_ATOMIC : LAB_GFP_NOWAIT;

			do_alloc(0, g, 0);
			break;
		}
		}
		verify(pm);
	}
	for (i = 0; i < NPOOLS; i++) {
		if (!pools[i].started)
			continue;
		pp = &pools[i];
		pm = &pp->m;
		finish_pool();
		pp->slot->busy = false; /* kept, or destroyed */
	}
	verify_reports();
	if (capture)
		dup2(real_err, 2);
	return 0;
}
