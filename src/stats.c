/* SPDX-License-Identifier: MIT */
/*
 * stats.c - counters, the buddyinfo-like dump, and the invariant audit.
 */
#include "cache.h"

static const char *backing_name(const struct lab_backing *b)
{
	switch (b->kind) {
	case LAB_BACKING_SECRET:
		return "memfd_secret";
	case LAB_BACKING_HUGETLB:
		return "hugetlbfs";
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
	uint32_t total, nr_free;
	int32_t slot;

	if (!p || !st)
		return -LAB_EINVAL;
	__builtin_memset(st, 0, sizeof(*st));
	total = lab_load_acquire(&p->nr_total);
	nr_free = lab_load_acquire(&p->nr_free) + lab_cached_pages(p);
	if (nr_free > total) /* a page in flight between cache and store */
		nr_free = total;
	st->page_size = p->page_size;
	st->pages_total = total;
	st->pages_free = nr_free;
	st->pages_inuse = total - nr_free;
	st->reserve_pages = p->reserve;
	st->max_pages = p->max_pages;
	st->allocs = lab_load_relaxed(&p->count.allocs);
	st->frees = lab_load_relaxed(&p->count.frees);
	st->alloc_failed = lab_load_relaxed(&p->count.alloc_failed);
	st->reserve_allocs = lab_load_relaxed(&p->count.reserve_allocs);
	st->bad_frees = lab_load_relaxed(&p->count.bad_frees);
	st->grows = lab_load_relaxed(&p->count.grows);
	st->waits = lab_load_relaxed(&p->count.waits);
	st->watch_events = lab_load_relaxed(&p->count.watch_events);
	for (slot = 0; p->cache_cap && slot < LAB_CACHE_THREADS; slot++) {
		const struct lab_cache *c = lab_cache_at(p, slot);

		st->allocs += lab_load_relaxed(&c->allocs);
		st->frees += lab_load_relaxed(&c->frees);
		st->reserve_allocs += lab_load_relaxed(&c->reserve_allocs);
	}
	st->free_blocks[0] = nr_free;
	return 0;
}

int lab_dump(struct lab_pool *p, void (*emit)(void *ctx, const char *s, size_t n), void *ctx)
{
	struct labyrinth_stats st;
	char line[256];
	size_t len;
	unsigned int o;

	labyrinth_stats((labyrinth_t *)p->owner, &st);
	len = lab_fmt(line, sizeof(line),
		      "pool %s: page size %s, backing %s%s%s%s%s\n", p->name,
		      size_name(p->page_size), backing_name(&p->backing),
		      (p->flags & LAB_POOL_NOLOCK) ? ", not locked" : ", locked",
		      (p->flags & LAB_POOL_DUMPABLE) ? ", dumpable" : "",
		      (p->flags & LAB_POOL_DEBUG) ? ", debug" : "", "");
	emit(ctx, line, len);
	len = lab_fmt(line, sizeof(line),
		      "pool %s: pages total %lu free %lu inuse %lu reserve %lu max %lu\n",
		      p->name, (unsigned long)st.pages_total, (unsigned long)st.pages_free,
		      (unsigned long)st.pages_inuse, (unsigned long)st.reserve_pages,
		      (unsigned long)st.max_pages);
	emit(ctx, line, len);
	len = lab_fmt(line, sizeof(line),
		      "pool %s: allocs %lu frees %lu failed %lu reserve_allocs %lu "
		      "bad_frees %lu grows %lu waits %lu watch_events %lu\n",
		      p->name, (unsigned long)st.allocs, (unsigned long)st.frees,
		      (unsigned long)st.alloc_failed, (unsigned long)st.reserve_allocs,
		      (unsigned long)st.bad_frees, (unsigned long)st.grows,
		      (unsigned long)st.waits, (unsigned long)st.watch_events);
	emit(ctx, line, len);
	/* buddyinfo: "Node 0, zone Normal  n0 n1 ..." becomes one line a size. */
	len = lab_fmt(line, sizeof(line), "pool %s, size %6s ", p->name, size_name(p->page_size));
	for (o = 0; o <= LAB_MAX_ORDER; o++)
		len += lab_fmt(line + len, sizeof(line) - len, " %6lu",
			       (unsigned long)st.free_blocks[o]);
	len += lab_fmt(line + len, sizeof(line) - len, "\n");
	emit(ctx, line, len);
	return 0;
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

/*
 * Walk the pool and verify every invariant.  Meant for a quiescent pool (no
 * call in flight); pages are never touched, only metadata.
 */
int labyrinth_check(labyrinth_t *lab)
{
	struct lab_pool *p = lab_pool_of(lab);
	uint32_t total, nr_free, i, top, walked = 0, marked_free = 0, inuse = 0, cached = 0;
	struct labyrinth_stats st;
	int32_t slot;

	if (!p)
		return -LAB_EINVAL;
	total = lab_load_acquire(&p->nr_total);
	nr_free = lab_load_acquire(&p->nr_free);
	if (total > p->max_pages)
		return check_failed(p, "more pages than max_pages", total, p->max_pages);
	if (nr_free > total)
		return check_failed(p, "more free pages than pages", nr_free, total);
	for (i = 0; i < total; i++) {
		uint8_t state = lab_load_relaxed(&p->state[i]);

		if (state == LAB_PS_FREE)
			marked_free++;
		else if (state == (LAB_PS_HEAD | 0))
			inuse++;
		else
			return check_failed(p, "page in an unknown state", i, state);
	}
	for (top = (uint32_t)lab_load_acquire(&p->stack_head); top != LAB_NIL;
	     top = lab_load_relaxed(&p->next[top])) {
		if (top >= total)
			return check_failed(p, "free list points outside the pool", top, total);
		if (lab_load_relaxed(&p->state[top]) != LAB_PS_FREE)
			return check_failed(p, "allocated page on the free list", top, 0);
		if (++walked > total)
			return check_failed(p, "free list has a cycle", walked, total);
	}
	if (walked != nr_free)
		return check_failed(p, "free list length differs from free count", walked, nr_free);
	for (slot = 0; p->cache_cap && slot < LAB_CACHE_THREADS; slot++) {
		const struct lab_cache *c = lab_cache_at(p, slot);
		uint32_t n = lab_load_relaxed(&c->count);

		if (n > p->cache_cap)
			return check_failed(p, "cache over its bound", (unsigned long)slot, n);
		for (i = 0; i < n; i++) {
			if (c->pages[i] >= total)
				return check_failed(p, "cache holds a page outside the pool",
						    (unsigned long)slot, c->pages[i]);
			if (lab_load_relaxed(&p->state[c->pages[i]]) != LAB_PS_FREE)
				return check_failed(p, "cache holds an allocated page",
						    (unsigned long)slot, c->pages[i]);
		}
		cached += n;
	}
	if (marked_free != nr_free + cached)
		return check_failed(p, "pages marked free differ from free pages", marked_free,
				    nr_free + cached);
	labyrinth_stats(lab, &st);
	if (st.allocs - st.frees != inuse)
		return check_failed(p, "allocs - frees differs from pages in use",
				    (unsigned long)(st.allocs - st.frees), inuse);
	return 0;
}
