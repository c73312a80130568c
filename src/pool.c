/* SPDX-License-Identifier: MIT */
/*
 * pool.c - pool life cycle: parameters, the address-space layout, growth.
 *
 * A pool reserves, at init, the address space of max_pages pages in one
 * range aligned to its largest block (2^LAB_MAX_ORDER pages), and commits
 * (maps, locks, populates) the first nr_pages of it.  LAB_GFP_KERNEL growth
 * commits the next pages of the same range, so a page's index is always
 * (addr - base) >> page_shift and labyrinth_owns() is a range check.
 * The metadata (this struct and the per-page arrays) is sized for
 * max_pages at init and locked, so growth never touches it but to link
 * the new pages.
 */
#include "pool.h"
#include "publish.h"

struct pool_geometry {
	size_t page_size;
	unsigned int page_shift;
	uint32_t nr_pages, max_pages, reserve;
};

static unsigned int log2_of(size_t v)
{
	return (unsigned int)__builtin_ctzll((unsigned long long)v);
}

/*
 * Every rule of SPEC's "Bad input" table for init, and the 32-bit limit;
 * f->invalid names the rule broken (LABYRINTH_VERBOSE says it).
 */
static int check_params(const struct labyrinth_params *pr, struct pool_geometry *g,
			struct lab_init_failure *f)
{
	size_t ps = pr->page_size ? pr->page_size : LAB_PAGE_4K;
	size_t nr = pr->nr_pages ? pr->nr_pages : LAB_DEFAULT_PAGES;
	size_t max = pr->max_pages ? pr->max_pages : nr;

	f->flags = pr->flags;
	f->node = pr->numa_node;
	if (ps != LAB_PAGE_4K && ps != LAB_PAGE_2M && ps != LAB_PAGE_1G)
		f->invalid = "page_size is not 4096, LAB_PAGE_2M or LAB_PAGE_1G";
	else if (pr->flags & ~LAB_POOL_ALL)
		f->invalid = "unknown flags (not LAB_POOL_*)";
	else if ((pr->flags & LAB_POOL_SECRET) && (pr->flags & LAB_POOL_HUGETLB))
		f->invalid = "LAB_POOL_SECRET and LAB_POOL_HUGETLB together";
	else if (pr->reserve_pages >= nr)
		f->invalid = "reserve_pages is not below nr_pages";
	else if (max < nr)
		f->invalid = "max_pages is below nr_pages";
	else if (max > LAB_MAX_PAGES || max > (SIZE_MAX >> (LAB_MAX_ORDER + 1)) / ps)
		f->invalid = "max_pages is over the limit (0xfffffc00 pages, and the "
			     "address range must fit)";
	else if ((pr->flags & LAB_POOL_NUMA) && lab_os_node_check(pr->numa_node))
		f->invalid = "numa_node is not a node with memory";
	if (f->invalid)
		return -LAB_EINVAL;
	f->pool_bytes = nr * ps;
	f->page_size = ps;
	f->range_bytes = max * ps;
	g->page_size = ps;
	g->page_shift = log2_of(ps);
	g->nr_pages = (uint32_t)nr;
	g->max_pages = (uint32_t)max;
	g->reserve = (uint32_t)pr->reserve_pages;
	return 0;
}

static size_t round_up(size_t v, size_t unit)
{
	return (v + unit - 1) & ~(unit - 1);
}

/* Bytes of the range that must be mapped to hold nr_total pages. */
static size_t mapped_len(const struct lab_pool *p, uint32_t nr_total)
{
	return round_up((size_t)nr_total << p->page_shift, p->backing.unit);
}

/* Add pages counted by node to the pool's counts: one writer at a time
 * (init, or growth under the slow lock) while labyrinth_dump may read
 * them on another thread, so relaxed atomic words. */
static void add_node_pages(struct lab_node_pages *to, const struct lab_node_pages *add)
{
	unsigned int i;

	for (i = 0; i < LAB_NODE_SLOTS; i++)
		lab_store_relaxed(&to->on[i], lab_load_relaxed(&to->on[i]) + add->on[i]);
	lab_store_relaxed(&to->other, lab_load_relaxed(&to->other) + add->other);
	lab_store_relaxed(&to->unknown, lab_load_relaxed(&to->unknown) + add->unknown);
}

/* Map pages [from, to) (and the rest of their backing unit), and count
 * the nodes they landed on. */
static int commit_pages(struct lab_pool *p, uint32_t from, uint32_t to, int fallback)
{
	size_t start = mapped_len(p, from), end = mapped_len(p, to);
	struct lab_node_pages counted = { { 0 }, 0, 0 };
	int err = 0;

	if (end != start)
		err = lab_os_commit(&p->backing, p->base + start, start, end - start, fallback);
	if (!err) {
		lab_os_count_nodes(lab_page_addr(p, from), (size_t)(to - from) << p->page_shift,
				   p->page_size, &counted);
		add_node_pages(&p->node_pages, &counted);
	}
	return err;
}

/* Hand the new pages [from, to) to the store. */
static void add_pages(struct lab_pool *p, uint32_t from, uint32_t to)
{
	if (p->flags & LAB_POOL_DEBUG)
		lab_poison(p, from, to - from);
	lab_store_release(&p->nr_total, to);
	lab_store_give_range(p, from, to - from, true);
}

static void copy_name(char *dst, const char *src)
{
	size_t i;

	if (!src)
		src = "labyrinth";
	for (i = 0; i + 1 < LAB_NAME_MAX && src[i]; i++)
		dst[i] = src[i];
	dst[i] = '\0';
}

/*
 * Live pools, for fork(): a child inherits the metadata of its parent's
 * pools but not their pages (MADV_DONTFORK), so the child side of fork
 * marks every inherited pool, and each call on one in the child fails with
 * EINVAL instead of handing out a page that is not mapped there.
 */
static struct lab_pool *live_pools;
static uint32_t live_lock;

void lab_fork_prepare(void)
{
	lab_futex_lock(&live_lock);
}

void lab_fork_parent(void)
{
	lab_futex_unlock(&live_lock);
}

void lab_fork_child(void)
{
	struct lab_pool *p;

	for (p = live_pools; p; p = p->live_next) {
		p->magic = LAB_CORE_FORKED;
		p->owner = NULL; /* lab_pool_of() refuses it */
		lab_caches_disown(p); /* and the fast paths */
	}
	live_pools = NULL;
	live_lock = 0;
	lab_cache_fork_child();
	lab_publish_fork_child();
}

/* Run fn on every live pool, with init and destroy held off meanwhile. */
void lab_for_each_live_pool(void (*fn)(struct lab_pool *p, int arg), int arg)
{
	struct lab_pool *p;

	lab_futex_lock(&live_lock);
	for (p = live_pools; p; p = p->live_next)
		fn(p, arg);
	lab_futex_unlock(&live_lock);
}

static void live_add(struct lab_pool *p)
{
	lab_futex_lock(&live_lock);
	p->live_next = live_pools;
	if (live_pools)
		live_pools->live_prev = &p->live_next;
	p->live_prev = &live_pools;
	live_pools = p;
	lab_futex_unlock(&live_lock);
}

static void live_remove(struct lab_pool *p)
{
	lab_futex_lock(&live_lock);
	*p->live_prev = p->live_next;
	if (p->live_next)
		p->live_next->live_prev = p->live_prev;
	lab_futex_unlock(&live_lock);
}

/* Where each part of a pool's metadata lies, and its length. */
struct meta_layout {
	uint32_t words, cap, stride, batch, mag_stride, nr_mags;
	size_t bits_off, state_off, caches_off, mags_off, len;
};

/*
 * Pools of one size would lay out their page-aligned metadata alike: a
 * thread's cache, and the state byte of a page index, at the same offset
 * in a 4 KiB page in every pool.  On x86 a load that follows a store to
 * another address with the same low 12 bits waits as if they overlapped
 * (4K aliasing), and a thread alternating between pools paid that on
 * every call: the four-pool pair cost 1.2x the one-pool pair.  So each
 * pool shifts everything after its struct by its own colour, a number of
 * cache lines: pool k's colour is 23k mod 64 (23 is odd, so 64 pools in a
 * row differ, and neighbours lie ~1.4 KiB apart).  Every pool keeps room
 * for the largest colour (63 lines, 4032 bytes), so that its metadata's
 * size, and every figure that reports it, is the same whatever its colour.
 */
#define LAB_META_COLOURS 64u
static uint32_t meta_colour_next;

static uint32_t meta_colour_take(void)
{
	return (lab_fetch_add_relaxed(&meta_colour_next, 1u) * 23u) % LAB_META_COLOURS;
}

static void layout_metadata(const struct pool_geometry *g, unsigned int flags, uint32_t colour,
			    struct meta_layout *l)
{
	/* Bits for whole max-order blocks: a block never straddles the end. */
	l->words = (uint32_t)(round_up(g->max_pages, LAB_BLOCK_PAGES) / 64);
	l->bits_off = round_up(sizeof(struct lab_pool), LAB_CACHELINE) +
		      (size_t)colour * LAB_CACHELINE;
	/* Aligned: the 64 pages of a bitmap word have one state line. */
	l->state_off = round_up(l->bits_off + lab_bitmap_words(l->words) * sizeof(uint64_t),
				LAB_CACHELINE);
	l->caches_off = round_up(l->state_off + g->max_pages, LAB_CACHELINE);
	lab_cache_layout(g->nr_pages, flags, &l->cap, &l->stride);
	/* A batch is a quarter of the cache, at least 8 pages (half of a
	 * tiny cache): small enough to keep a refill (the worst case of a
	 * get) short, large enough that a producer and a consumer on two
	 * CPUs meet on the shared words once per batch (a quarter, not an
	 * eighth: producer -> consumer 1.44e8 -> 1.81e8 pages/s, the depot's
	 * three atomics and its line moves paid half as often; the p99.99
	 * of a get 70 -> 80 ns, the floor's 30). */
	l->batch = l->cap / LAB_CACHE_BATCH_PART >= 8 ? l->cap / LAB_CACHE_BATCH_PART :
		   l->cap / 2 < 8 ? l->cap / 2 : 8;
	/* The depot: magazines of a batch each, for up to a quarter of the
	 * pool's pages (the rest of the free pages stay in the bitmap, where
	 * blocks merge), and at least a few. */
	l->nr_mags = l->cap ? g->max_pages / 4 / l->batch : 0;
	if (l->cap && l->nr_mags < 4)
		l->nr_mags = 4;
	l->mag_stride = (uint32_t)round_up(sizeof(struct lab_mag) + l->batch * sizeof(uint32_t),
					   LAB_CACHELINE);
	l->mags_off = l->caches_off + (size_t)l->stride * LAB_CACHE_THREADS;
	l->len = l->mags_off + (size_t)l->mag_stride * l->nr_mags +
		 (size_t)(LAB_META_COLOURS - 1 - colour) * LAB_CACHELINE;
}

/* Metadata bytes of a pool of nr_pages pages (max_pages = nr_pages), for
 * a failed init's "how many pages would fit". */
static size_t meta_bytes_for(size_t nr_pages, unsigned int flags)
{
	struct pool_geometry g = { .nr_pages = (uint32_t)nr_pages,
				   .max_pages = (uint32_t)nr_pages };
	struct meta_layout l;

	layout_metadata(&g, flags, 0, &l);
	return l.len;
}

static int map_metadata(const struct pool_geometry *g, unsigned int flags, int node,
			struct lab_pool **out)
{
	struct meta_layout l;
	uint32_t slot;
	struct lab_pool *p;
	void *mem;
	int err;

	layout_metadata(g, flags, meta_colour_take(), &l);
	err = lab_os_meta_alloc(l.len, (flags & LAB_POOL_NOLOCK) != 0, node, &mem);
	if (err)
		return err;
	p = mem;
	p->meta_len = l.len;
	p->bits = (uint64_t *)(void *)((unsigned char *)mem + l.bits_off);
	p->nr_words = l.words;
	lab_summary_init(p);
	p->state = (uint8_t *)mem + l.state_off;
	p->no_cache.busy = 1;
	/* A slot's area starts with its block cache (lab_blk_of). */
	p->caches = l.cap ? (unsigned char *)mem + l.caches_off + LAB_BLK_AREA :
			  (unsigned char *)&p->no_cache;
	p->cache_cap = l.cap;
	p->cache_stride = l.stride;
	/* Each thread's refills start in a different part of the bitmap. */
	for (slot = 0; l.cap && slot < LAB_CACHE_THREADS; slot++)
		((struct lab_cache *)(void *)(p->caches + (size_t)slot * l.stride))->cursor =
			(uint32_t)(((uint64_t)slot * 0x9e3779b1u) % ((g->nr_pages + 63) / 64));
	p->cache_batch = l.batch;
	p->mags = (unsigned char *)mem + l.mags_off;
	p->mag_stride = l.mag_stride;
	p->nr_mags = l.nr_mags;
	lab_depot_init(p);
	*out = p;
	return 0;
}

/* Each cache's copy of the pool's constants (its fast path reads only
 * its own cache), set before the pool is published.  No cache is claimed
 * yet (lab is NULL): each thread claims its own (cache.h lab_cache_own). */
static void init_caches(struct lab_pool *p)
{
	uint32_t slot;

	for (slot = 0; p->cache_cap && slot < LAB_CACHE_THREADS; slot++) {
		struct lab_cache *c = lab_cache_at(p, (int32_t)slot);

		c->base = p->base;
		c->state = p->state;
		c->shift = p->page_shift;
		c->limit = p->max_pages;
		c->flags = p->gate ? LAB_CF_GATE : 0;
	}
}

static int init_pool(labyrinth_t *lab, const struct labyrinth_params *pr,
		     struct lab_init_failure *f)
{
	struct pool_geometry g;
	struct lab_pool *p;
	void *base;
	int node, err;

	if (!lab) {
		f->invalid = "the labyrinth_t pointer is NULL";
		return -LAB_EINVAL;
	}
	if (lab_pool_of(lab)) {
		/* init would leak the live pool */
		f->invalid = "already a live pool (labyrinth_destroy it first)";
		return -LAB_EBUSY;
	}
	err = check_params(pr, &g, f);
	if (err)
		return err;
	err = lab_os_atfork();
	if (err)
		return err;
	lab_os_code_resident();
	node = (pr->flags & LAB_POOL_NUMA) ? (int)pr->numa_node : -1;
	err = map_metadata(&g, pr->flags, node, &p);
	if (err)
		return err;
	p->page_size = g.page_size;
	p->page_mask = g.page_size - 1;
	p->page_shift = g.page_shift;
	p->flags = pr->flags;
	p->reserve = g.reserve;
	p->gate = g.reserve;
	p->max_pages = g.max_pages;
	p->wait_ms = pr->wait_ms;
	copy_name(p->name, pr->name);

	err = lab_os_backing_open(&p->backing, g.page_size, pr->flags, node);
	if (err)
		goto fail_meta;
	p->reserved_len = (size_t)g.max_pages << g.page_shift;
	p->reserved_len = round_up(p->reserved_len, p->backing.unit);
	err = lab_os_reserve(&p->backing, p->reserved_len, g.page_size << LAB_MAX_ORDER, &base);
	if (err)
		goto fail_backing;
	p->base = base;
	err = commit_pages(p, 0, g.nr_pages, 1);
	if (err)
		goto fail_reserve;
	add_pages(p, 0, g.nr_pages);

	init_caches(p);
	p->owner = lab;
	p->magic = LAB_CORE_MAGIC;
	live_add(p);
	/* What the inline fast path reads, before the magic says LIVE. */
	lab->lab_private_core = p;
	lab_store_relaxed(&lab_caches_of(lab), (void *)p->caches);
	lab_store_relaxed(&lab_stride_of(lab), (uint64_t)p->cache_stride);
	lab_store_release(&lab->lab_private_magic, LAB_MAGIC_LIVE);
	lab_publish_add(p); /* LABYRINTH_STATS=1 */
	return 0;

fail_reserve:
	lab_os_release(base, p->reserved_len);
fail_backing:
	lab_os_backing_close(&p->backing);
fail_meta:
	lab_os_meta_free(p, p->meta_len);
	return err;
}

int labyrinth_init(labyrinth_t *lab, const struct labyrinth_params *params)
{
	struct labyrinth_params defaults = { 0 };
	const struct labyrinth_params *pr = params ? params : &defaults;
	struct lab_init_failure f = { .pool = pr->name ? pr->name : "labyrinth",
				       .meta_bytes_for = meta_bytes_for };
	int err = init_pool(lab, pr, &f);

	if (err)
		lab_os_init_failed(&f, err);
	return err;
}

int labyrinth_destroy(labyrinth_t *lab)
{
	struct lab_pool *p = lab_pool_of(lab);
	uint32_t inuse;

	if (!p)
		return -LAB_EINVAL;
	inuse = lab_load_acquire(&p->nr_total) - lab_load_acquire(&p->nr_free) -
		lab_load_acquire(&p->depot_pages) - lab_cached_pages(p);
	if (inuse || lab_load_acquire(&p->waiters)) {
		if (p->flags & LAB_POOL_DEBUG) {
			char what[64];

			lab_fmt(what, sizeof(what), "%u of %u pages still in use", inuse,
				lab_load_relaxed(&p->nr_total));
			lab_report(p, "labyrinth_destroy", what, NULL);
		}
		return -LAB_EBUSY;
	}
	lab_publish_remove(p); /* before any of the pool goes */
	/* The backing first, while the pool is still whole: in the kernel it
	 * takes the debugfs file away, so no reader meets a dying pool. */
	lab_os_backing_close(&p->backing);
	/* DEAD first: the fast path dereferences the caches only after it
	 * read LIVE (labyrinth_fast.h). */
	lab_store_release(&lab->lab_private_magic, LAB_MAGIC_DEAD);
	lab_store_relaxed(&lab_caches_of(lab), NULL);
	lab_store_relaxed(&lab_stride_of(lab), 0);
	lab->lab_private_core = NULL;
	live_remove(p);
	lab_watch_close_all(p);
	lab_os_release(p->base, p->reserved_len);
	p->magic = 0;
	lab_os_meta_free(p, p->meta_len);
	return 0;
}

/*
 * LAB_GFP_KERNEL found no page: commit the next step of the reserved range.
 * seen_total is the size the caller saw; if another caller grew the pool
 * meanwhile, return 0 so the caller retries instead of growing twice.
 */
int lab_pool_grow(struct lab_pool *p, uint32_t seen_total)
{
	uint32_t total, step, room;
	int err = 0;

	lab_slow_lock(p);
	total = p->nr_total;
	if (total != seen_total)
		goto out;
	room = p->max_pages - total;
	if (!room) {
		err = -LAB_ENOSPC;
		goto out;
	}
	step = (uint32_t)(LAB_GROW_BYTES >> p->page_shift);
	if (!step)
		step = 1;
	if (step > room)
		step = room;
	err = commit_pages(p, total, total + step, 0);
	if (err)
		goto out;
	add_pages(p, total, total + step);
	lab_count(p, grows, 1);
out:
	lab_slow_unlock(p);
	return err;
}

size_t labyrinth_page_size(const labyrinth_t *lab)
{
	const struct lab_pool *p = lab_pool_of(lab);

	return p ? p->page_size : 0;
}

int labyrinth_owns(const labyrinth_t *lab, const void *addr)
{
	const struct lab_pool *p = lab_pool_of(lab);
	uintptr_t a = (uintptr_t)addr, b;

	if (!p)
		return 0;
	b = (uintptr_t)p->base;
	return a >= b && ((a - b) >> p->page_shift) < lab_load_acquire(&p->nr_total);
}

int labyrinth_region(const labyrinth_t *lab, void **base, size_t *len)
{
	const struct lab_pool *p = lab_pool_of(lab);

	if (!p || !base || !len)
		return -LAB_EINVAL;
	*base = p->base;
	*len = (size_t)lab_load_acquire(&p->nr_total) << p->page_shift;
	return 0;
}

/* The platform's thread-exit hook (platform.h). */
#ifdef LAB_HOST_CPU_SLOTS
void lab_thread_exit(uintptr_t hook_value)
{
	(void)hook_value; /* CPU slots: no thread owns a cache */
}
#else
/* Called by the platform when a thread with a slot exits. */
void lab_thread_exit(uintptr_t hook_value)
{
	int32_t slot = (int32_t)hook_value - 1;

	/* OFF first: later calls of this thread (a handler, a destructor)
	 * take the shared store, never a cache emptied below. */
	lab_store_relaxed(&lab_my_slot, LAB_SLOT_OFF);
	lab_signal_fence();
	lab_for_each_live_pool(lab_cache_thread_exit, slot);
	lab_slot_release(slot);
}
#endif

int labyrinth_watch(labyrinth_t *lab, size_t low_pages)
{
	struct lab_pool *p = lab_pool_of(lab);
	int fd, own, err = 0;
	uint32_t n;

	if (!p || low_pages == 0 || low_pages > p->max_pages)
		return -LAB_EINVAL;
	fd = lab_os_eventfd();
	if (fd < 0)
		return fd;
	own = lab_os_dup(fd);
	if (own < 0) {
		lab_os_close(fd);
		return own;
	}
	lab_slow_lock(p);
	n = p->nr_watches;
	if (n == LAB_MAX_WATCHES) {
		err = -LAB_ENOSPC;
	} else {
		p->watches[n].fd = own;
		p->watches[n].low = (uint32_t)low_pages;
		lab_store_release(&p->nr_watches, n + 1);
		if (low_pages > p->watch_low_max)
			lab_store_release(&p->watch_low_max, (uint32_t)low_pages);
		lab_store_release(&p->gate, p->reserve | p->watch_low_max);
		lab_caches_flag(p, LAB_CF_GATE, true);
	}
	lab_slow_unlock(p);
	if (err) {
		lab_os_close(own);
		lab_os_close(fd);
		return err;
	}
	/* Already below the mark: readable at once.  The free pages are the
	 * store's, the depot's and this thread's caches' (single pages and
	 * blocks), exact for a single thread. */
	lab_pin();
	n = lab_load_acquire(&p->nr_free) + lab_load_acquire(&p->depot_pages) + lab_my_cached(p);
	lab_unpin();
	if (n < low_pages) {
		lab_os_eventfd_signal(own);
		lab_count(p, watch_events, 1);
	}
	return fd;
}

const char *labyrinth_version(void)
{
	return LAB_VERSION_STRING;
}
