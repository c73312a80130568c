/* Description: every row of SPEC's "Bad input" table gives its error and leaves the pool exactly as it was (stats, audit, pages). */
#include "check.h"

#include <stdint.h>
#include <unistd.h>

/*
 * After a misuse: every stat equal to before, but bad_frees, which grows by
 * exactly bad; and the audit passes.  The line of the caller on failure.
 */
static void unchanged_at(labyrinth_t *lab, const struct labyrinth_stats *before,
			 unsigned int bad, int line)
{
	struct labyrinth_stats now = check_stats(lab), want = *before;

	want.bad_frees += bad;
	CHECK(memcmp(&now, &want, sizeof(now)) == 0,
	      "line %d: stats changed: total %llu/%llu free %llu/%llu inuse %llu/%llu "
	      "allocs %llu/%llu frees %llu/%llu failed %llu/%llu bad_frees %llu/%llu",
	      line, (unsigned long long)now.pages_total, (unsigned long long)want.pages_total,
	      (unsigned long long)now.pages_free, (unsigned long long)want.pages_free,
	      (unsigned long long)now.pages_inuse, (unsigned long long)want.pages_inuse,
	      (unsigned long long)now.allocs, (unsigned long long)want.allocs,
	      (unsigned long long)now.frees, (unsigned long long)want.frees,
	      (unsigned long long)now.alloc_failed, (unsigned long long)want.alloc_failed,
	      (unsigned long long)now.bad_frees, (unsigned long long)want.bad_frees);
	CHECK(labyrinth_check(lab) == 0, "line %d: labyrinth_check fails", line);
}
#define UNCHANGED(lab, before, bad) unchanged_at((lab), (before), (bad), __LINE__)

/* alloc that must fail with NULL and errno == err, leaving the pool alone. */
#define ALLOC_FAILS(expr, err)                                                  \
	do {                                                                    \
		void *r_;                                                       \
		errno = 0;                                                      \
		r_ = (expr);                                                    \
		CHECK(r_ == NULL && errno == (err), "%s: got %p errno %d, want NULL errno %d", \
		      #expr, r_, errno, (err));                                 \
	} while (0)

static void init_rejects(void)
{
	labyrinth_t lab;
	struct labyrinth_params p;
	static const size_t bad_sizes[] = { 1, 512, 1024, 8192, 65536, 4095, 4097,
					    (size_t)1 << 21 << 1, (size_t)1 << 20, 3 };
	size_t i;

	CHECK_EQ(labyrinth_init(NULL, NULL), -EINVAL);
	memset(&p, 0, sizeof(p));
	CHECK_EQ(labyrinth_init(NULL, &p), -EINVAL);

	for (i = 0; i < sizeof(bad_sizes) / sizeof(bad_sizes[0]); i++) {
		memset(&lab, 0, sizeof(lab));
		memset(&p, 0, sizeof(p));
		p.page_size = bad_sizes[i];
		p.nr_pages = 4;
		CHECK(labyrinth_init(&lab, &p) == -EINVAL, "page size %zu accepted", bad_sizes[i]);
		/* a failed init leaves an invalid pool behind */
		CHECK_EQ(labyrinth_page_size(&lab), 0);
	}

	/* reserve >= nr_pages, explicit and with the default nr_pages (1024) */
	memset(&lab, 0, sizeof(lab));
	memset(&p, 0, sizeof(p));
	p.nr_pages = 16;
	p.reserve_pages = 16;
	CHECK_EQ(labyrinth_init(&lab, &p), -EINVAL);
	p.reserve_pages = 17;
	CHECK_EQ(labyrinth_init(&lab, &p), -EINVAL);
	p.nr_pages = 0;
	p.reserve_pages = 1024;
	CHECK_EQ(labyrinth_init(&lab, &p), -EINVAL);

	/* max_pages < nr_pages */
	memset(&p, 0, sizeof(p));
	p.nr_pages = 16;
	p.max_pages = 15;
	CHECK_EQ(labyrinth_init(&lab, &p), -EINVAL);
	p.nr_pages = 0; /* default 1024 */
	p.max_pages = 1000;
	CHECK_EQ(labyrinth_init(&lab, &p), -EINVAL);

	/* unknown flags, one bit at a time: every bit but the known ones */
	for (i = 0; i < 32; i++) {
		if ((1u << i) & (LAB_POOL_SECRET | LAB_POOL_HUGETLB | LAB_POOL_DUMPABLE |
				 LAB_POOL_NOLOCK | LAB_POOL_DEBUG | LAB_POOL_NUMA |
				 LAB_POOL_NOCACHE))
			continue;
		memset(&p, 0, sizeof(p));
		p.nr_pages = 4;
		p.flags = 1u << i;
		CHECK(labyrinth_init(&lab, &p) == -EINVAL, "unknown flag 0x%x accepted", p.flags);
	}

	/* SECRET | HUGETLB */
	memset(&p, 0, sizeof(p));
	p.nr_pages = 4;
	p.flags = LAB_POOL_SECRET | LAB_POOL_HUGETLB;
	CHECK_EQ(labyrinth_init(&lab, &p), -EINVAL);

	/* none of the above left a pool behind */
	CHECK_EQ(labyrinth_page_size(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), -EINVAL);
}

/* Every call on a pool that is not live. */
static void dead_pool_calls(labyrinth_t *lab, void *foreign, const char *what)
{
	struct labyrinth_stats st;
	void *pages[4] = { foreign, NULL, NULL, NULL };
	FILE *devnull = fopen("/dev/null", "w");

	ALLOC_FAILS(labyrinth_alloc_page(lab, LAB_GFP_ATOMIC), EINVAL);
	ALLOC_FAILS(labyrinth_alloc_page(lab, LAB_GFP_NOWAIT), EINVAL);
	ALLOC_FAILS(labyrinth_alloc_page(lab, LAB_GFP_KERNEL), EINVAL);
	ALLOC_FAILS(labyrinth_alloc_pages(lab, LAB_GFP_ATOMIC, 0), EINVAL);
	ALLOC_FAILS(labyrinth_void_alloc_page_gfp_atomic_exclusive(lab), EINVAL);
	errno = 0;
	CHECK(labyrinth_alloc_bulk(lab, LAB_GFP_ATOMIC, pages, 4) == 0 && errno == EINVAL,
	      "%s: alloc_bulk errno %d", what, errno);
	CHECK(pages[0] == foreign, "%s: alloc_bulk wrote the array", what);
	CHECK_EQ(labyrinth_free_page(lab, foreign), -EINVAL);
	CHECK_EQ(labyrinth_free_pages(lab, foreign, 0), -EINVAL);
	errno = 0;
	CHECK(labyrinth_free_bulk(lab, pages, 4) == 0, "%s: free_bulk freed", what);
	/* zero pages: still EINVAL, inline or not (the fuzzer found the inline
	 * bulk free returning 0 with errno untouched) */
	errno = 0;
	CHECK(labyrinth_free_bulk(lab, pages, 0) == 0 && errno == EINVAL,
	      "%s: free_bulk of 0 pages errno %d", what, errno);
	errno = 0;
	CHECK(labyrinth_alloc_bulk(lab, LAB_GFP_ATOMIC, pages, 0) == 0 && errno == EINVAL,
	      "%s: alloc_bulk of 0 pages errno %d", what, errno);
	CHECK_EQ(labyrinth_destroy(lab), -EINVAL);
	CHECK_EQ(labyrinth_stats(lab, &st), -EINVAL);
	CHECK_EQ(labyrinth_check(lab), -EINVAL);
	CHECK_EQ(labyrinth_watch(lab, 1), -EINVAL);
	CHECK_EQ(labyrinth_page_size(lab), 0);
	CHECK_EQ(labyrinth_owns(lab, foreign), 0);
	CHECK_EQ(labyrinth_owns(lab, NULL), 0);
	if (devnull) {
		CHECK_EQ(labyrinth_dump(lab, devnull), -EINVAL);
		fclose(devnull);
	}
}

/* Run a bad free on a debug pool with stderr captured; the text in out. */
static int captured_free(labyrinth_t *lab, void *addr, unsigned int order, char *out,
			 size_t size)
{
	FILE *tmp = tmpfile();
	int saved, rc;
	size_t n;

	fflush(stderr);
	saved = dup(2);
	if (!tmp || saved < 0) {
		out[0] = '\0';
		if (tmp)
			fclose(tmp);
		return labyrinth_free_pages(lab, addr, order);
	}
	dup2(fileno(tmp), 2);
	rc = labyrinth_free_pages(lab, addr, order);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	n = fread(out, 1, size - 1, tmp);
	out[n] = '\0';
	fclose(tmp);
	return rc;
}

/* A debug pool gives the same errors, and one line naming pool, call, page. */
static void debug_pool(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_params p = { .name = "dbg-pool", .nr_pages = 8,
				      .flags = LAB_POOL_DEBUG };
	struct labyrinth_stats before;
	char text[1024], hex[32];
	unsigned char *a, *b;
	int rc;

	REQUIRE(labyrinth_init(&lab, &p) == 0, "debug init");
	a = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	b = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	REQUIRE(a && b, "debug pages");
	CHECK_EQ(labyrinth_free_page(&lab, b), 0);
	before = check_stats(&lab);

	rc = captured_free(&lab, b, 0, text, sizeof(text));
	CHECK_EQ(rc, -EALREADY);
	UNCHANGED(&lab, &before, 1);
	snprintf(hex, sizeof(hex), "%lx", (unsigned long)(uintptr_t)b);
	CHECK(strstr(text, "dbg-pool") && strstr(text, "free") && strstr(text, hex),
	      "double free report '%s' lacks the pool, the call or %s", text, hex);
	CHECK(strchr(text, '\n') == text + strlen(text) - 1, "not one line: '%s'", text);
	before = check_stats(&lab);

	rc = captured_free(&lab, b, 2, text, sizeof(text));
	CHECK_EQ(rc, -EALREADY);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);

	rc = captured_free(&lab, a, 3, text, sizeof(text));
	CHECK_EQ(rc, -EINVAL);
	UNCHANGED(&lab, &before, 1);
	snprintf(hex, sizeof(hex), "%lx", (unsigned long)(uintptr_t)a);
	CHECK(strstr(text, "dbg-pool") && strstr(text, hex), "wrong-order report '%s'", text);
	before = check_stats(&lab);

	rc = captured_free(&lab, a + 64, 0, text, sizeof(text));
	CHECK_EQ(rc, -EINVAL);
	UNCHANGED(&lab, &before, 1);
	snprintf(hex, sizeof(hex), "%lx", (unsigned long)(uintptr_t)(a + 64));
	CHECK(strstr(text, "dbg-pool") && strstr(text, hex), "unaligned report '%s'", text);
	before = check_stats(&lab);

	/* a good free says nothing */
	rc = captured_free(&lab, a, 0, text, sizeof(text));
	CHECK_EQ(rc, 0);
	CHECK(text[0] == '\0', "a good free printed '%s'", text);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/* Pages of a growable pool that are not mapped yet are not the pool's. */
static void growable_pool(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_params p = { .name = "growable", .nr_pages = 4, .max_pages = 2048 };
	struct labyrinth_stats before;
	unsigned char *pg[4], *lo;
	unsigned int i;

	REQUIRE(labyrinth_init(&lab, &p) == 0, "growable init");
	REQUIRE(labyrinth_alloc_bulk(&lab, LAB_GFP_NOWAIT, (void **)pg, 4) == 4, "4 pages");
	lo = pg[0];
	for (i = 1; i < 4; i++)
		if (pg[i] < lo)
			lo = pg[i];
	before = check_stats(&lab);
	CHECK_EQ(labyrinth_owns(&lab, lo + 4 * 4096), 0);
	CHECK_EQ(labyrinth_owns(&lab, lo + 100 * 4096), 0);
	CHECK_EQ(labyrinth_free_page(&lab, lo + 4 * 4096), -EINVAL);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	CHECK_EQ(labyrinth_free_page(&lab, lo + 2047 * 4096), -EINVAL);
	UNCHANGED(&lab, &before, 1);
	CHECK_EQ(labyrinth_free_bulk(&lab, (void **)pg, 4), 4);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

int main(void)
{
	labyrinth_t lab, other, zeroed;
	struct labyrinth_params p;
	struct labyrinth_stats before, st;
	unsigned char *page, *page2, *b_page, *free_page;
	void *arr[8];
	unsigned int i;
	lab_gfp_t types[3] = { LAB_GFP_ATOMIC, LAB_GFP_NOWAIT, LAB_GFP_KERNEL };

	init_rejects();
	debug_pool();
	growable_pool();

	memset(&zeroed, 0, sizeof(zeroed));
	memset(&lab, 0, sizeof(lab));
	memset(&other, 0, sizeof(other));
	memset(&p, 0, sizeof(p));
	p.name = "bad";
	p.nr_pages = 32;
	p.reserve_pages = 4;
	REQUIRE(labyrinth_init(&lab, &p) == 0, "init");
	p.name = "other";
	p.reserve_pages = 0;
	REQUIRE(labyrinth_init(&other, &p) == 0, "init other");

	page = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	page2 = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	free_page = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	REQUIRE(page && page2 && free_page, "three pages");
	memset(page, 0xa5, 4096);
	CHECK_EQ(labyrinth_free_page(&lab, free_page), 0); /* now a free page */
	b_page = labyrinth_alloc_page(&other, LAB_GFP_NOWAIT);
	REQUIRE(b_page != NULL, "a page of the other pool");
	CHECK(!labyrinth_owns(&lab, b_page) && labyrinth_owns(&other, b_page), "ownership");
	before = check_stats(&lab);
	CHECK_EQ(before.pages_inuse, 2);
	CHECK_EQ(labyrinth_check(&lab), 0);

	/* init on a live pool: -EBUSY, the pool untouched */
	memset(&p, 0, sizeof(p));
	p.nr_pages = 8;
	CHECK_EQ(labyrinth_init(&lab, &p), -EBUSY);
	CHECK_EQ(labyrinth_init(&lab, NULL), -EBUSY);
	UNCHANGED(&lab, &before, 0);
	CHECK(labyrinth_owns(&lab, page), "still owns its page");

	/* order > LAB_MAX_ORDER */
	ALLOC_FAILS(labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC, LAB_MAX_ORDER + 1), EINVAL);
	ALLOC_FAILS(labyrinth_alloc_pages(&lab, LAB_GFP_KERNEL, 64), EINVAL);
	ALLOC_FAILS(labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT, ~0u), EINVAL);
	UNCHANGED(&lab, &before, 0);

	/* unknown gfp bits, with each valid type */
	for (i = 0; i < 3; i++) {
		unsigned int bit;

		for (bit = 0; bit < 32; bit++) {
			lab_gfp_t g = types[i] | (1u << bit);

			if ((1u << bit) & (LAB_GFP_ATOMIC | LAB_GFP_NOWAIT | LAB_GFP_KERNEL |
					   LAB_GFP_ZERO | LAB_GFP_NOWARN))
				continue;
			errno = 0;
			CHECK(labyrinth_alloc_page(&lab, g) == NULL && errno == EINVAL,
			      "gfp 0x%x accepted (errno %d)", g, errno);
			errno = 0;
			CHECK(labyrinth_alloc_pages(&lab, g, 0) == NULL && errno == EINVAL,
			      "alloc_pages gfp 0x%x accepted", g);
			errno = 0;
			CHECK(labyrinth_alloc_bulk(&lab, g, arr, 2) == 0 && errno == EINVAL,
			      "alloc_bulk gfp 0x%x accepted", g);
		}
	}
	UNCHANGED(&lab, &before, 0);

	/* zero types, two types, three types */
	ALLOC_FAILS(labyrinth_alloc_page(&lab, 0), EINVAL);
	ALLOC_FAILS(labyrinth_alloc_page(&lab, LAB_GFP_ZERO), EINVAL);
	ALLOC_FAILS(labyrinth_alloc_page(&lab, LAB_GFP_NOWARN | LAB_GFP_ZERO), EINVAL);
	ALLOC_FAILS(labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC | LAB_GFP_NOWAIT), EINVAL);
	ALLOC_FAILS(labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC | LAB_GFP_KERNEL), EINVAL);
	ALLOC_FAILS(labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT | LAB_GFP_KERNEL | LAB_GFP_ZERO),
		    EINVAL);
	ALLOC_FAILS(labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC | LAB_GFP_NOWAIT | LAB_GFP_KERNEL, 0),
		    EINVAL);
	errno = 0;
	CHECK(labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC | LAB_GFP_NOWAIT, arr, 2) == 0 &&
	      errno == EINVAL, "bulk with two types");
	errno = 0;
	CHECK(labyrinth_alloc_bulk(&lab, 0, arr, 2) == 0 && errno == EINVAL, "bulk, no type");
	UNCHANGED(&lab, &before, 0);

	/* free of NULL: 0 and nothing counted */
	CHECK_EQ(labyrinth_free_page(&lab, NULL), 0);
	CHECK_EQ(labyrinth_free_pages(&lab, NULL, 0), 0);
	CHECK_EQ(labyrinth_free_pages(&lab, NULL, 5), 0);
	UNCHANGED(&lab, &before, 0);

	/* free outside the pool */
	CHECK_EQ(labyrinth_free_page(&lab, (void *)(uintptr_t)4096), -EINVAL);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	CHECK_EQ(labyrinth_free_page(&lab, &lab), -EINVAL);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	CHECK_EQ(labyrinth_free_page(&lab, page - 4096 * 1024), -EINVAL);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	CHECK_EQ(labyrinth_free_page(&lab, (void *)~(uintptr_t)4095), -EINVAL);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);

	/* just past the end of the pool: find the highest page by draining */
	{
		unsigned char *hi = NULL, *lo = NULL;
		void *all[32];
		unsigned int n = 0, k;

		while (n < 32 && (all[n] = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC)) != NULL)
			n++;
		CHECK_EQ(n, 32 - 2);
		for (k = 0; k < n; k++) {
			unsigned char *c = all[k];

			if (!hi || c > hi)
				hi = c;
			if (!lo || c < lo)
				lo = c;
		}
		if (page > hi)
			hi = page;
		if (page2 > hi)
			hi = page2;
		if (page < lo)
			lo = page;
		if (page2 < lo)
			lo = page2;
		CHECK(hi - lo == 31 * 4096, "pool spans 32 pages: %td", hi - lo);
		CHECK_EQ(labyrinth_free_bulk(&lab, all, n), n);
		before = check_stats(&lab);
		CHECK_EQ(labyrinth_owns(&lab, hi + 4096), 0);
		CHECK_EQ(labyrinth_owns(&lab, lo - 1), 0);
		CHECK_EQ(labyrinth_owns(&lab, hi + 4095), 1);
		CHECK_EQ(labyrinth_free_page(&lab, hi + 4096), -EINVAL);
		UNCHANGED(&lab, &before, 1);
		before = check_stats(&lab);
		CHECK_EQ(labyrinth_free_page(&lab, lo - 4096), -EINVAL);
		UNCHANGED(&lab, &before, 1);
		before = check_stats(&lab);
	}

	/* not page aligned / inside an allocated page */
	CHECK_EQ(labyrinth_free_page(&lab, page + 1), -EINVAL);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	CHECK_EQ(labyrinth_free_page(&lab, page + 2048), -EINVAL);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	CHECK_EQ(labyrinth_free_page(&lab, page + 4095), -EINVAL);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	CHECK_EQ(labyrinth_free_pages(&lab, page + 8, 0), -EINVAL);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	/* inside a free page */
	CHECK_EQ(labyrinth_free_page(&lab, free_page + 100), -EINVAL);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);

	/* a page of another pool */
	{
		struct labyrinth_stats ob = check_stats(&other);

		CHECK_EQ(labyrinth_free_page(&lab, b_page), -EINVAL);
		UNCHANGED(&lab, &before, 1);
		before = check_stats(&lab);
		UNCHANGED(&other, &ob, 0);
		CHECK_EQ(labyrinth_free_page(&other, page), -EINVAL);
		UNCHANGED(&other, &ob, 1);
		UNCHANGED(&lab, &before, 0);
		CHECK(labyrinth_owns(&lab, page) && labyrinth_owns(&other, b_page), "owns");
	}

	/* wrong order of an allocated order-0 page: -EINVAL, still allocated */
	CHECK_EQ(labyrinth_free_pages(&lab, page, 3), -EINVAL);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	CHECK_EQ(labyrinth_free_pages(&lab, page, 1), -EINVAL);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	CHECK_EQ(labyrinth_free_pages(&lab, page, LAB_MAX_ORDER), -EINVAL);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	CHECK_EQ(labyrinth_free_pages(&lab, page, LAB_MAX_ORDER + 1), -EINVAL);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	CHECK_EQ(labyrinth_free_pages(&lab, page, 0x100), -EINVAL);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	CHECK_EQ(labyrinth_free_pages(&lab, page, 0x80), -EINVAL);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	CHECK_EQ(labyrinth_free_pages(&lab, page, ~0u), -EINVAL);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	/* the contents were not touched by any of that */
	for (i = 0; i < 4096 && page[i] == 0xa5; i++)
		;
	CHECK(i == 4096, "page contents changed at %u", i);

	/* double free, whatever order is given */
	CHECK_EQ(labyrinth_free_page(&lab, free_page), -EALREADY);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	CHECK_EQ(labyrinth_free_pages(&lab, free_page, 3), -EALREADY);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	CHECK_EQ(labyrinth_free_pages(&lab, free_page, LAB_MAX_ORDER), -EALREADY);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	/* a page freed just now, then freed again */
	CHECK_EQ(labyrinth_free_page(&lab, page2), 0);
	before = check_stats(&lab);
	CHECK_EQ(labyrinth_free_page(&lab, page2), -EALREADY);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);
	CHECK_EQ(labyrinth_free_pages(&lab, page2, 2), -EALREADY);
	UNCHANGED(&lab, &before, 1);
	before = check_stats(&lab);

	/* the pool still hands out exactly its pages: 32 - 1 in use, 4 reserved */
	{
		void *all[32];
		unsigned int n;

		n = labyrinth_alloc_bulk(&lab, LAB_GFP_NOWAIT, all, 32);
		CHECK_EQ(n, 32 - 1 - 4);
		n += labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC, all + n, 32 - n);
		CHECK_EQ(n, 31);
		CHECK_EQ(labyrinth_check(&lab), 0);
		CHECK_EQ(labyrinth_free_bulk(&lab, all, n), n);
		before = check_stats(&lab);
		CHECK_EQ(before.pages_inuse, 1);
	}

	/* bulk free: NULLs skipped, bad entries and duplicates counted per page */
	{
		void *a = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
		void *b = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
		void *list[10];

		REQUIRE(a && b, "two pages");
		before = check_stats(&lab);
		list[0] = NULL;
		list[1] = a;
		list[2] = (unsigned char *)a + 1; /* not aligned (a is freed before) */
		list[3] = a;                      /* duplicate: double free */
		list[4] = NULL;
		list[5] = b_page;                 /* other pool */
		list[6] = b;
		list[7] = free_page;              /* already free */
		list[8] = b;                      /* duplicate */
		list[9] = NULL;
		CHECK_EQ(labyrinth_free_bulk(&lab, list, 10), 2);
		st = check_stats(&lab);
		CHECK_EQ(st.bad_frees, before.bad_frees + 5);
		CHECK_EQ(st.frees, before.frees + 2);
		CHECK_EQ(st.pages_free, before.pages_free + 2);
		CHECK_EQ(st.pages_inuse, before.pages_inuse - 2);
		CHECK_EQ(st.allocs, before.allocs);
		CHECK_EQ(labyrinth_check(&lab), 0);
		/* only NULLs: nothing, no bad free */
		before = st;
		list[0] = list[1] = list[2] = NULL;
		CHECK_EQ(labyrinth_free_bulk(&lab, list, 3), 0);
		UNCHANGED(&lab, &before, 0);
		/* n == 0 with NULL array */
		CHECK_EQ(labyrinth_free_bulk(&lab, NULL, 0), 0);
		UNCHANGED(&lab, &before, 0);
		/* NULL array with n > 0 */
		errno = 0;
		CHECK(labyrinth_free_bulk(&lab, NULL, 3) == 0, "free_bulk NULL array");
		UNCHANGED(&lab, &before, 0);
		/* all bad: 3 bad frees, 0 freed */
		list[0] = a;
		list[1] = b;
		list[2] = b_page;
		CHECK_EQ(labyrinth_free_bulk(&lab, list, 3), 0);
		UNCHANGED(&lab, &before, 3);
		before = check_stats(&lab);
	}

	/* destroy with a page out: -EBUSY, pool intact and usable */
	CHECK_EQ(labyrinth_destroy(&lab), -EBUSY);
	UNCHANGED(&lab, &before, 0);
	CHECK(labyrinth_owns(&lab, page), "owns after EBUSY");
	CHECK_EQ(labyrinth_page_size(&lab), 4096);
	for (i = 0; i < 4096 && page[i] == 0xa5; i++)
		;
	CHECK(i == 4096, "page contents changed by destroy at %u", i);
	page2 = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	CHECK(page2 != NULL, "alloc after EBUSY");
	CHECK_EQ(labyrinth_free_page(&lab, page2), 0);
	CHECK_EQ(labyrinth_destroy(&lab), -EBUSY);
	CHECK_EQ(labyrinth_free_page(&lab, page), 0);
	CHECK_EQ(labyrinth_check(&lab), 0);
	st = check_stats(&lab);
	CHECK_EQ(st.pages_inuse, 0);
	CHECK_EQ(st.pages_free, 32);
	CHECK_EQ(labyrinth_destroy(&lab), 0);

	/* destroyed and zeroed pools */
	dead_pool_calls(&lab, page, "destroyed");
	dead_pool_calls(&zeroed, page, "zeroed");
	dead_pool_calls(&zeroed, NULL, "zeroed, NULL");
	CHECK(memcmp(&zeroed, &(labyrinth_t){ 0 }, sizeof(zeroed)) == 0, "zeroed pool written");
	/* a destroyed pool may be initialised again */
	memset(&p, 0, sizeof(p));
	p.nr_pages = 4;
	CHECK_EQ(labyrinth_init(&lab, &p), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);

	/* a copy of a live pool is not a pool */
	{
		labyrinth_t copy;

		memcpy(&copy, &other, sizeof(copy));
		dead_pool_calls(&copy, b_page, "copy");
		CHECK(labyrinth_owns(&other, b_page), "the original still owns its page");
	}
	CHECK_EQ(labyrinth_free_page(&other, b_page), 0);
	CHECK_EQ(labyrinth_check(&other), 0);
	CHECK_EQ(labyrinth_destroy(&other), 0);
	return check_done();
}
