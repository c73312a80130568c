/* SPDX-License-Identifier: MIT */
/*
 * model.c - the reference model of one pool (model.h): the rules that
 * predict each call's result, the bookkeeping that follows it, and the
 * comparison of the library's stats, watches and audit with it.
 */
#include "model.h" /* first: harness.h defines _GNU_SOURCE */

#include <poll.h>
#include <unistd.h>
/* White box for one thing only: the pool's base address, so that the model
 * can say which addresses are inside the pool before anything is allocated. */
#include "../src/internal.h"

/* A bad free of an address inside the pool reaches the page states (a
 * double free, a tail, the wrong order): audit right after it.  One that
 * is rejected on its address alone (NULL, outside, unaligned) does not. */
void audit_bad_free(const struct model *m, const void *addr)
{
	uintptr_t a = (uintptr_t)addr, b = (uintptr_t)m->base;

	if (a >= b && a - b < m->total * PS)
		audit_soon();
}


NOCOV bool gfp_ok(lab_gfp_t g)
{
	unsigned t = g & 7u;

	return !(g & ~(7u | LAB_GFP_ZERO | LAB_GFP_NOWARN)) && t && !(t & (t - 1));
}

void expect_report(const struct model *m, const char *what, const void *addr)
{
	if (capture && (m->flags & LAB_POOL_DEBUG))
		report_expect(what, addr, m->name);
}

/* base + off without pointer arithmetic (base may be NULL or stale) */
void *model_at(const struct model *m, long long off)
{
	return (void *)((uintptr_t)m->base + (uintptr_t)off);
}

size_t idx_of(const struct model *m, const void *a)
{
	return (size_t)((const unsigned char *)a - m->base) / PS;
}

/* Is the aligned run of 2^order pages at i entirely free in the model? */
NOCOV static bool run_free(const struct model *m, size_t i, unsigned order)
{
	size_t j, n = (size_t)1 << order;

	for (j = 0; j < n; j++)
		if (m->st[i + j] != ST_FREE)
			return false;
	return true;
}

NOCOV bool run_exists(const struct model *m, unsigned order)
{
	size_t n = (size_t)1 << order, i;

	for (i = 0; i + n <= m->total; i += n)
		if (run_free(m, i, order))
			return true;
	return false;
}

/* Could an allocation of 2^order pages leaving floor free pages succeed? */
NOCOV bool fits(const struct model *m, unsigned order, size_t floor)
{
	size_t n = (size_t)1 << order;

	if (m->nfree < floor || m->nfree - floor < n)
		return false;
	return order == 0 || run_exists(m, order);
}

/* The allocation took n pages with the model's free count at before. */
NOCOV static void account_take(struct model *m, size_t n)
{
	size_t before = m->nfree, after = before - n;
	unsigned i;

	if (after < m->reserve)
		m->resv += before > m->reserve ? m->reserve - after : n;
	for (i = 0; i < m->nwatch; i++) {
		if (before >= m->w[i].low && after < m->w[i].low) {
			m->events++;
			if (m->w[i].fd >= 0)
				m->w[i].pending++;
		}
	}
	m->nfree = after;
}

NOCOV static void fill_pattern(unsigned char *a, unsigned order)
{
	size_t i, n = (size_t)1 << order;

	for (i = 0; i < n; i++) {
		uint64_t tag = (uint64_t)(uintptr_t)(a + i * PS) ^ 0xa5a5a5a5a5a5a5a5ull;

		memcpy(a + i * PS, &tag, sizeof(tag));
		memcpy(a + i * PS + PS - sizeof(tag), &tag, sizeof(tag));
	}
}

static const unsigned char zero_page[PS];

/* memcmp, page by page: one range check under ASan, not one per word. */
NOCOV static bool all_zero(const unsigned char *a, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += PS)
		if (memcmp(a + i, zero_page, PS) != 0)
			return false;
	return true;
}

NOCOV static void mark_block(struct model *m, size_t idx, unsigned order)
{
	m->st[idx] = (uint8_t)(ST_HEAD | order);
	memset(&m->st[idx + 1], ST_TAIL, ((size_t)1 << order) - 1);
}

/* A block came back from the library: check it and record it. */
NOCOV void take_block(struct model *m, void *ret, unsigned order, lab_gfp_t gfp, const char *call)
{
	unsigned char *a = ret;
	size_t n = (size_t)1 << order, i, idx;

	EXPECT(((uintptr_t)a & (n * PS - 1)) == 0,
	       "%s: order-%u block %p not aligned to its size", call, order, ret);
	EXPECT(a >= m->base && a < m->base + m->total * PS,
	       "%s: block %p outside the pool [%p, +%zu pages)", call, ret, (void *)m->base,
	       m->total);
	idx = idx_of(m, a);
	EXPECT(idx + n <= m->total, "%s: block %p order %u runs past the pool end", call, ret,
	       order);
	if (!run_free(m, idx, order))
		for (i = 0; i < n; i++)
			EXPECT(m->st[idx + i] == ST_FREE,
			       "%s: block %p order %u overlaps a live block at page %zu", call,
			       ret, order, idx + i);
	EXPECT(labyrinth_owns(m->lab, a) == 1, "%s: owns(%p) != 1 for a fresh block", call, ret);
	if (gfp & LAB_GFP_ZERO)
		EXPECT(all_zero(a, n * PS), "%s: LAB_GFP_ZERO block %p order %u is not zero",
		       call, ret, order);
	mark_block(m, idx, order);
	m->blk_of[idx] = (uint32_t)m->nblocks;
	m->blocks[m->nblocks].addr = a;
	m->blocks[m->nblocks].order = order;
	m->nblocks++;
	m->allocs++;
	account_take(m, n);
	fill_pattern(a, order);
}

NOCOV void drop_block(struct model *m, size_t idx)
{
	unsigned order = m->st[idx] & 0x0fu;
	size_t n = (size_t)1 << order;
	uint32_t b = m->blk_of[idx], last = (uint32_t)m->nblocks - 1;

	memset(&m->st[idx], ST_FREE, n);
	if (b != last) {
		m->blocks[b] = m->blocks[last];
		m->blk_of[idx_of(m, m->blocks[b].addr)] = b;
	}
	m->nblocks--;
	m->nfree += n;
	m->frees++;
	m->freed_ring[m->freed_n++ % 16] = m->base + idx * PS;
}

/* What a free of addr with order must return (NULL: 0, not counted). */
NOCOV int expect_free(const struct model *m, const void *addr, unsigned order)
{
	uintptr_t a = (uintptr_t)addr, b = (uintptr_t)m->base;
	size_t idx;

	if (!addr)
		return 0;
	if (a < b || a - b >= m->total * PS || (a - b) % PS)
		return -EINVAL;
	idx = (a - b) / PS;
	if (m->st[idx] == ST_FREE)
		return -EALREADY;
	if ((m->st[idx] & ST_HEAD) && order <= LAB_MAX_ORDER && (m->st[idx] & 0x0fu) == order)
		return 0;
	return -EINVAL;
}

/* The order of the live block that starts at a, or -1. */
int head_order(const struct model *m, const void *a)
{
	uintptr_t x = (uintptr_t)a, b = (uintptr_t)m->base;

	if (!m->live || !a || x < b || x - b >= m->total * PS || (x - b) % PS)
		return -1;
	return (m->st[(x - b) / PS] & ST_HEAD) ? (int)(m->st[(x - b) / PS] & 0x0fu) : -1;
}

/* Apply a free's result to the model after checking it. */
NOCOV void settle_free(struct model *m, const void *addr, unsigned order, int got, const char *call)
{
	int want = expect_free(m, addr, order);

	EXPECT(got == want, "%s(%p, order %u) = %d, model says %d", call, addr, order, got, want);
	if (!addr)
		return;
	if (want == 0) {
		drop_block(m, idx_of(m, addr));
	} else {
		m->bad++;
		expect_report(m, "free", addr);
		audit_bad_free(m, addr);
	}
}

/* ------------------------------------------------------------------ */
/* Checks against the library's own view                               */
/* ------------------------------------------------------------------ */

NOCOV void get_stats(const struct model *m, struct labyrinth_stats *st)
{
	int r = labyrinth_stats(m->lab, st);

	EXPECT(r == 0, "labyrinth_stats = %d on a live pool", r);
}

/* The library grew the pool: the new pages are free in the model. */
void learn_growth(struct model *m, uint64_t before_grows)
{
	struct labyrinth_stats st;

	get_stats(m, &st);
	EXPECT(st.pages_total >= m->total && st.pages_total <= m->max,
	       "pages_total %llu outside [%zu, %zu]", (unsigned long long)st.pages_total,
	       m->total, m->max);
	if (st.pages_total == m->total) {
		EXPECT(st.grows == before_grows, "grows moved (%llu -> %llu) without new pages",
		       (unsigned long long)before_grows, (unsigned long long)st.grows);
		return;
	}
	EXPECT(st.grows > before_grows, "pool grew to %llu pages but grows stayed %llu",
	       (unsigned long long)st.pages_total, (unsigned long long)st.grows);
	audit_soon(); /* new pages, new metadata */
	memset(&m->st[m->total], ST_FREE, st.pages_total - m->total);
	m->nfree += st.pages_total - m->total;
	m->total = st.pages_total;
	m->grows = st.grows;
}

/* Each open watch's eventfd holds exactly the model's pending signals.
 * One poll() finds the readable ones (an eventfd is readable iff its
 * counter is not 0) instead of one read() per watch after every step. */
NOCOV void check_watches(struct model *m)
{
	struct pollfd pfd[NWATCH];
	unsigned i, n = 0;
	int r;

	for (i = 0; i < m->nwatch; i++) {
		if (m->w[i].fd < 0)
			continue;
		pfd[n].fd = m->w[i].fd;
		pfd[n].events = POLLIN;
		pfd[n].revents = 0;
		n++;
	}
	if (!n)
		return;
	/* libFuzzer's SIGALRM (its -timeout timer) may interrupt even a
	 * poll that does not wait. */
	do
		r = poll(pfd, n, 0);
	while (r < 0 && errno == EINTR);
	EXPECT(r >= 0, "poll(watch fds) failed: %s", strerror(errno));
	for (i = 0, n = 0; i < m->nwatch; i++) {
		uint64_t v = 0;

		if (m->w[i].fd < 0)
			continue;
		EXPECT(!(pfd[n].revents & ~POLLIN), "watch %u: poll revents %#x", i,
		       (unsigned)pfd[n].revents);
		if (pfd[n++].revents & POLLIN) {
			ssize_t got = read(m->w[i].fd, &v, sizeof(v));

			EXPECT(got == (ssize_t)sizeof(v), "read(readable watch fd) = %zd: %s", got,
			       strerror(errno));
		}
		EXPECT(v == m->w[i].pending,
		       "watch %u (low %zu): eventfd counted %llu signals, model %llu", i,
		       m->w[i].low, (unsigned long long)v, (unsigned long long)m->w[i].pending);
		m->w[i].pending = 0;
	}
}

NOCOV void verify(struct model *m)
{
	struct labyrinth_stats st;
	uint64_t sum = 0;
	unsigned o;
	int r;

	if (!m->live)
		return;
	get_stats(m, &st);
#define SAME(field, want)                                                       \
	EXPECT(st.field == (uint64_t)(want), "stats." #field " = %llu, model %llu", \
	       (unsigned long long)st.field, (unsigned long long)(want))
	SAME(page_size, PS);
	SAME(pages_total, m->total);
	SAME(pages_free, m->nfree);
	SAME(pages_inuse, m->total - m->nfree);
	SAME(reserve_pages, m->reserve);
	SAME(max_pages, m->max);
	SAME(allocs, m->allocs);
	SAME(frees, m->frees);
	SAME(alloc_failed, m->failed);
	SAME(reserve_allocs, m->resv);
	SAME(bad_frees, m->bad);
	SAME(grows, m->grows);
	SAME(watch_events, m->events);
	if (m->wait_ms == 0)
		SAME(waits, 0);
	else
		m->waits = st.waits;
#undef SAME
	for (o = 0; o <= LAB_MAX_ORDER; o++)
		sum += st.free_blocks[o] << o;
	EXPECT(sum == m->nfree, "free_blocks add up to %llu pages, model has %zu free",
	       (unsigned long long)sum, m->nfree);
	check_watches(m);
	if (!audit_now())
		return;
	r = labyrinth_check(m->lab);
	EXPECT(r == 0, "labyrinth_check = %d", r);
}

void model_reset_pool(struct model *m)
{
	unsigned i;

	for (i = 0; i < m->nwatch; i++)
		if (m->w[i].fd >= 0)
			close(m->w[i].fd);
	m->nwatch = 0;
	m->live = false;
	m->nblocks = 0;
	m->freed_n = 0;
}

/* The model of an idle pool with key k (the counters are the caller's). */
void model_start(struct model *m, const struct pool_key *k)
{
	model_reset_pool(m);
	m->live = true;
	m->total = m->nr_init = k->nr;
	m->max = k->max;
	m->reserve = k->reserve;
	m->flags = k->flags;
	m->wait_ms = k->wait_ms;
	m->name = k->name;
	m->nfree = m->total;
	m->base = ((struct lab_pool *)m->lab->lab_private_core)->base;
	memset(m->st, 0, sizeof(m->st));
}
