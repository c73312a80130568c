/* SPDX-License-Identifier: MIT */
/*
 * stats.c - counters, the buddyinfo-like dump, and the invariant audit.
 */
#include "slow.h"

static const char *backing_name(const struct lab_backing *b)
{
	switch (b->kind) {
	case LAB_BACKING_SECRET:
		return "memfd_secret";
	case LAB_BACKING_HUGETLB:
		return "hugetlbfs";
	case LAB_BACKING_VMALLOC:
		return "vmalloc";
	default:
		return b->thp ? "anonymous, transparent huge pages requested" : "anonymous";
	}
}

static const char *size_name(size_t page_size)
{
	return page_size == LAB_PAGE_1G ? "1G" : page_size == LAB_PAGE_2M ? "2M" : "4K";
}

int labyrinth_stats(labyrinth_t *lab, struct labyrinth_stats *st)
{
	struct lab_pool *p = lab_pool_of(lab);
	uint32_t total, nr_free, cached = 0, singles = 0, depot, o;
	int32_t slot, seen;

	if (!p || !st)
		return -LAB_EINVAL;
	__builtin_memset(st, 0, sizeof(*st));
	total = lab_load_acquire(&p->nr_total);
	/* Each slot's caches: single pages, blocks of orders 1 to
	 * LAB_BLK_TOP (listed as free blocks of their order, each read once
	 * so that free_blocks[] adds up to pages_free), and counters. */
	seen = p->cache_cap ? (int32_t)lab_load_acquire(&p->slots_seen) : 0;
	for (slot = 0; slot < seen; slot++) {
		const struct lab_cache *c = lab_cache_at(p, slot);
		const struct lab_blk_cache *b = lab_blk_at(p, slot);

		singles += lab_load_relaxed(&c->count);
		for (o = 1; o <= LAB_BLK_TOP; o++) {
			uint32_t n = lab_load_relaxed(&b->count[o]);

			st->free_blocks[o] += n;
			cached += n << o;
		}
		st->allocs += lab_cache_allocs(c) + lab_blk_allocs(b);
		st->frees += lab_load_relaxed(&c->frees) + lab_load_relaxed(&b->frees);
		st->reserve_allocs += lab_load_relaxed(&c->reserve_allocs);
	}
	cached += singles;
	depot = lab_load_acquire(&p->depot_pages);
	nr_free = lab_load_acquire(&p->nr_free) + depot + cached;
	if (nr_free > total) /* a page in flight between cache and store */
		nr_free = total;
	st->page_size = p->page_size;
	st->pages_total = total;
	st->pages_free = nr_free;
	st->pages_inuse = total - nr_free;
	st->reserve_pages = p->reserve;
	st->max_pages = p->max_pages;
	st->allocs += lab_load_relaxed(&p->count.allocs);
	st->frees += lab_load_relaxed(&p->count.frees);
	st->alloc_failed = lab_load_relaxed(&p->count.alloc_failed);
	st->reserve_allocs += lab_load_relaxed(&p->count.reserve_allocs);
	st->bad_frees = lab_load_relaxed(&p->count.bad_frees);
	st->grows = lab_load_relaxed(&p->count.grows);
	st->waits = lab_load_relaxed(&p->count.waits);
	st->watch_events = lab_load_relaxed(&p->count.watch_events);
	st->block_contended = lab_load_relaxed(&p->count.block_contended);
	lab_block_free_counts(p, st->free_blocks);
	st->pages_cached = cached;
	/* pages in the page caches and in the depot's magazines are single */
	st->free_blocks[0] += singles + depot;
	return 0;
}

/*
 * Where the pages lie, as counted at init and at each growth (the atomic
 * path never looks): "pool rx: numa bound to node 1, pages on node1 1024".
 */
static size_t node_line(const struct lab_pool *p, char *line, size_t size)
{
	struct lab_node_pages snap, *n = &snap;
	size_t len;
	unsigned int i;

	/* a growth may be adding to them meanwhile (pool.c add_node_pages) */
	for (i = 0; i < LAB_NODE_SLOTS; i++)
		snap.on[i] = lab_load_relaxed(&p->node_pages.on[i]);
	snap.other = lab_load_relaxed(&p->node_pages.other);
	snap.unknown = lab_load_relaxed(&p->node_pages.unknown);

	if (p->backing.node >= 0)
		len = lab_fmt(line, size, "pool %s: numa bound to node %u, pages on", p->name,
			      (unsigned int)p->backing.node);
	else
		len = lab_fmt(line, size, "pool %s: numa not bound, pages on", p->name);
	for (i = 0; i < LAB_NODE_SLOTS; i++)
		if (n->on[i] || (int)i == p->backing.node)
			len += lab_fmt(line + len, size - len, " node%u %u", i, n->on[i]);
	if (n->other)
		len += lab_fmt(line + len, size - len, " node%u+ %u", LAB_NODE_SLOTS, n->other);
	if (n->unknown)
		len += lab_fmt(line + len, size - len, " unknown %u", n->unknown);
	len += lab_fmt(line + len, size - len, "\n");
	return len;
}

int lab_dump(struct lab_pool *p, void (*emit)(void *ctx, const char *s, size_t n), void *ctx)
{
	struct labyrinth_stats st;
	char line[256];
	size_t len;
	unsigned int o;
	int err;

	/* A pool being destroyed under a reader: say so, print nothing. */
	err = labyrinth_stats((labyrinth_t *)p->owner, &st);
	if (err)
		return err;
	len = lab_fmt(line, sizeof(line),
		      "pool %s: page size %s, backing %s%s%s%s%s\n", p->name,
		      size_name(p->page_size), backing_name(&p->backing),
		      (p->flags & LAB_POOL_NOLOCK) ? ", not locked" : ", locked",
		      (p->flags & LAB_POOL_DUMPABLE) ? ", dumpable" : "",
		      (p->flags & LAB_POOL_DEBUG) ? ", debug" : "", "");
	emit(ctx, line, len);
	len = lab_fmt(line, sizeof(line),
		      "pool %s: pages total %lu free %lu inuse %lu reserve %lu max %lu cached %lu"
		      " depot %u\n",
		      p->name, (unsigned long)st.pages_total, (unsigned long)st.pages_free,
		      (unsigned long)st.pages_inuse, (unsigned long)st.reserve_pages,
		      (unsigned long)st.max_pages, (unsigned long)st.pages_cached,
		      lab_load_relaxed(&p->depot_pages));
	emit(ctx, line, len);
	len = lab_fmt(line, sizeof(line),
		      "pool %s: allocs %lu frees %lu failed %lu reserve_allocs %lu "
		      "bad_frees %lu grows %lu waits %lu watch_events %lu block_contended %lu\n",
		      p->name, (unsigned long)st.allocs, (unsigned long)st.frees,
		      (unsigned long)st.alloc_failed, (unsigned long)st.reserve_allocs,
		      (unsigned long)st.bad_frees, (unsigned long)st.grows,
		      (unsigned long)st.waits, (unsigned long)st.watch_events,
		      (unsigned long)st.block_contended);
	emit(ctx, line, len);
	len = node_line(p, line, sizeof(line));
	emit(ctx, line, len);
	/* Searches that read the whole bitmap: the summary came back short
	 * (a racing hint clear, or no free block at all). */
	len = lab_fmt(line, sizeof(line), "pool %s: linear searches %lu\n", p->name,
		      (unsigned long)lab_load_relaxed(&p->count.linear_searches));
	emit(ctx, line, len);
	/* buddyinfo: "Node 0, zone Normal  n0 n1 ..." becomes one line a size,
	 * under a header of the orders, column for column. */
	len = lab_fmt(line, sizeof(line), "pool %s, %11s ", p->name, "order");
	for (o = 0; o <= LAB_MAX_ORDER; o++)
		len += lab_fmt(line + len, sizeof(line) - len, " %6u", o);
	len += lab_fmt(line + len, sizeof(line) - len, "\n");
	emit(ctx, line, len);
	len = lab_fmt(line, sizeof(line), "pool %s, size %6s ", p->name, size_name(p->page_size));
	for (o = 0; o <= LAB_MAX_ORDER; o++)
		len += lab_fmt(line + len, sizeof(line) - len, " %6lu",
			       (unsigned long)st.free_blocks[o]);
	len += lab_fmt(line + len, sizeof(line) - len, "\n");
	emit(ctx, line, len);
	return 0;
}

/* Allocated blocks (each counted once by allocs and frees). */
static uint32_t count_blocks_in_use(const struct lab_pool *p, uint32_t total)
{
	uint32_t i, blocks = 0;

	for (i = 0; i < total; i++)
		if ((lab_load_relaxed(&p->state[i]) & ~LAB_PS_ORDER_MASK) == LAB_PS_HEAD)
			blocks++;
	return blocks;
}

static LAB_NOINLINE int check_failed(const struct lab_pool *p, const char *what,
				     unsigned long a, unsigned long b)
{
	char line[192];
	size_t len = lab_fmt(line, sizeof(line), "labyrinth: pool '%s': labyrinth_check: %s (%lu, %lu)\n",
			     p->name, what, a, b);

	lab_os_report(line, len);
	return -LAB_EUCLEAN;
}

/* The block at i: HEAD|order followed by 2^order - 1 TAIL pages. */
static int check_block(const struct lab_pool *p, uint32_t i, uint32_t total, uint32_t *len)
{
	uint8_t head = lab_load_relaxed(&p->state[i]);
	unsigned int order = head & LAB_PS_ORDER_MASK;
	uint32_t n = 1u << order, j;

	if ((head & ~LAB_PS_ORDER_MASK) != LAB_PS_HEAD || order > LAB_MAX_ORDER)
		return check_failed(p, "page in an unknown state", i, head);
	if ((i & (n - 1)) || i + n > total)
		return check_failed(p, "block misplaced", i, order);
	for (j = 1; j < n; j++)
		if (lab_load_relaxed(&p->state[i + j]) != LAB_PS_TAIL)
			return check_failed(p, "block with a missing tail page", i, j);
	for (j = 0; j < n; j++)
		if (lab_load_relaxed(&p->bits[(i + j) / 64]) & (1ull << ((i + j) % 64)))
			return check_failed(p, "allocated page marked free in the bitmap", i + j, 0);
	*len = n;
	return 0;
}

/* A full magazine in the depot: every page in the pool, free, not in the
 * bitmap; counted into *(uint32_t *)arg. */
static bool check_mag(const struct lab_pool *p, const uint32_t *pages, void *arg)
{
	uint32_t i, total = lab_load_acquire(&p->nr_total);

	for (i = 0; i < p->cache_batch; i++) {
		uint32_t pg = pages[i];

		if (pg >= total) {
			check_failed(p, "depot holds a page outside the pool", pg, total);
			return false;
		}
		if (lab_load_relaxed(&p->state[pg]) != LAB_PS_FREE) {
			check_failed(p, "depot holds an allocated page", pg, 0);
			return false;
		}
		if (lab_load_relaxed(&p->bits[pg / 64]) & (1ull << (pg % 64))) {
			check_failed(p, "depot page also free in the bitmap", pg, 0);
			return false;
		}
	}
	*(uint32_t *)arg += p->cache_batch;
	return true;
}

/* Slot's block cache: within its bounds, and every block aligned, in the
 * pool, free and not in the bitmap; its pages into *pages. */
static int check_blk(const struct lab_pool *p, int32_t slot, uint32_t total, uint32_t *pages)
{
	const struct lab_blk_cache *b = lab_blk_at(p, slot);
	uint32_t o, i, j, sum = 0;

	for (o = 1; o <= LAB_BLK_TOP; o++) {
		uint32_t n = lab_load_relaxed(&b->count[o]), size = 1u << o;

		if (n > LAB_BLK_DEPTH)
			return check_failed(p, "block cache over its depth", (unsigned long)slot, n);
		for (i = 0; i < n; i++) {
			uint32_t first = b->first[o - 1][i];

			if ((first & (size - 1)) || first >= total || size > total - first)
				return check_failed(p, "block cache holds a misplaced block",
						    (unsigned long)slot, first);
			for (j = first; j < first + size; j++) {
				if (lab_load_relaxed(&p->state[j]) != LAB_PS_FREE)
					return check_failed(p, "block cache holds an allocated page",
							    (unsigned long)slot, j);
				if (lab_load_relaxed(&p->bits[j / 64]) & (1ull << (j % 64)))
					return check_failed(p, "cached block also free in the bitmap",
							    (unsigned long)slot, j);
			}
		}
		sum += n << o;
	}
	if (sum != lab_load_relaxed(&b->pages) || sum > b->grant || b->grant > p->cache_cap)
		return check_failed(p, "block cache over its bound or miscounted",
				    (unsigned long)slot, sum);
	*pages = sum;
	return 0;
}

/*
 * Walk the pool and verify every invariant.  Meant for a quiescent pool (no
 * call in flight); pages are never touched, only metadata.
 */
int labyrinth_check(labyrinth_t *lab)
{
	struct lab_pool *p = lab_pool_of(lab);
	uint32_t total, nr_free, i, w, len, in_bitmap = 0, marked_free = 0, inuse = 0, cached = 0;
	uint32_t granted = 0, depot = 0, full;
	unsigned int level;
	struct labyrinth_stats st;
	int32_t slot;
	int err;

	if (!p)
		return -LAB_EINVAL;
	total = lab_load_acquire(&p->nr_total);
	nr_free = lab_load_acquire(&p->nr_free);
	if (total > p->max_pages)
		return check_failed(p, "more pages than max_pages", total, p->max_pages);
	for (i = 0; i < total; i += len) {
		len = 1;
		if (lab_load_relaxed(&p->state[i]) == LAB_PS_FREE) {
			marked_free++;
			continue;
		}
		err = check_block(p, i, total, &len);
		if (err)
			return err;
		inuse += len;
	}
	for (w = 0; w < p->nr_words; w++) {
		uint64_t v = lab_load_relaxed(&p->bits[w]);
		uint64_t beyond = w * 64 >= total ? ~0ull :
				  total - w * 64 >= 64 ? 0 : ~0ull << (total - w * 64);

		if (v & beyond)
			return check_failed(p, "free bit beyond the pool's pages", w, total);
		in_bitmap += (uint32_t)__builtin_popcountll(v);
	}
	if (in_bitmap != nr_free)
		return check_failed(p, "free bits differ from the free count", in_bitmap, nr_free);
	w = lab_summary_unhinted(p, &level);
	if (w != LAB_NIL)
		return check_failed(p, "summary misses a word with free pages", level, w);
	/* Every slot: one past slots_seen holding anything is a bug too. */
	for (slot = 0; p->cache_cap && slot < LAB_CACHE_THREADS; slot++) {
		const struct lab_cache *c = lab_cache_at(p, slot);
		uint32_t n = lab_load_relaxed(&c->count);

		if (n > c->grant || c->grant > p->cache_cap)
			return check_failed(p, "cache over its bound", (unsigned long)slot, n);
		granted += c->grant;
		for (i = 0; i < n; i++) {
			uint32_t pg = c->pages[i];

			if (pg >= total)
				return check_failed(p, "cache holds a page outside the pool",
						    (unsigned long)slot, pg);
			if (lab_load_relaxed(&p->state[pg]) != LAB_PS_FREE)
				return check_failed(p, "cache holds an allocated page",
						    (unsigned long)slot, pg);
			if (lab_load_relaxed(&p->bits[pg / 64]) & (1ull << (pg % 64)))
				return check_failed(p, "cached page also free in the bitmap",
						    (unsigned long)slot, pg);
		}
		cached += n;
		err = check_blk(p, slot, total, &n);
		if (err)
			return err;
		granted += lab_blk_at(p, slot)->grant;
		cached += n;
	}
	if (granted != lab_load_relaxed(&p->cache_granted) ||
	    granted > total / LAB_CACHE_FRACTION)
		return check_failed(p, "cache grants differ from the pool's budget", granted,
				    lab_load_relaxed(&p->cache_granted));
	full = lab_depot_walk(p, lab_load_acquire(&p->depot_full), check_mag, &depot);
	if (depot != full * p->cache_batch)
		return -LAB_EUCLEAN; /* check_mag said why */
	if (depot != lab_load_relaxed(&p->depot_pages) ||
	    full + lab_depot_walk(p, lab_load_acquire(&p->depot_empty), NULL, NULL) != p->nr_mags)
		return check_failed(p, "depot's magazines differ from its count", depot,
				    lab_load_relaxed(&p->depot_pages));
	cached += depot;
	if (marked_free != nr_free + cached)
		return check_failed(p, "pages marked free differ from free pages", marked_free,
				    nr_free + cached);
	err = labyrinth_stats(lab, &st);
	if (err < 0)
		return err;
	if (st.allocs - st.frees != count_blocks_in_use(p, total))
		return check_failed(p, "allocs - frees differs from blocks in use",
				    (unsigned long)(st.allocs - st.frees), inuse);
	return 0;
}
