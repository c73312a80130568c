/* Description: labyrinth_stats is exact (free + inuse == total, every counter) after each step; labyrinth_dump names the pool and its page size; bad arguments give -EINVAL. */
#include "check.h"

#include <stdint.h>

#define NR 40

/* The invariant of every quiescent pool, and free_blocks summing to free. */
static struct labyrinth_stats stats_at(labyrinth_t *lab, int line)
{
	struct labyrinth_stats st = check_stats(lab);
	uint64_t sum = 0;
	unsigned int o;

	CHECK(st.pages_free + st.pages_inuse == st.pages_total,
	      "line %d: free %llu + inuse %llu != total %llu", line,
	      (unsigned long long)st.pages_free, (unsigned long long)st.pages_inuse,
	      (unsigned long long)st.pages_total);
	for (o = 0; o <= LAB_MAX_ORDER; o++)
		sum += st.free_blocks[o] << o;
	CHECK(sum == st.pages_free, "line %d: free_blocks hold %llu pages, pages_free %llu", line,
	      (unsigned long long)sum, (unsigned long long)st.pages_free);
	CHECK(st.pages_total <= st.max_pages, "line %d: total over max", line);
	CHECK(labyrinth_check(lab) == 0, "line %d: check", line);
	return st;
}
#define STATS(lab) stats_at((lab), __LINE__)

/* Everything labyrinth_dump writes, NUL-terminated, in a malloc'd buffer. */
static char *dump_text(labyrinth_t *lab, int *rc)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f) {
		*rc = -errno;
		return NULL;
	}
	*rc = labyrinth_dump(lab, f);
	fclose(f);
	return buf;
}

static int mentions_size(const char *text, size_t page_size)
{
	switch (page_size) {
	case 4096:
		return strstr(text, "4K") || strstr(text, "4096") || strstr(text, "4 KiB") ||
		       strstr(text, "4 kB") || strstr(text, "4k");
	case (size_t)2 << 20:
		return strstr(text, "2M") || strstr(text, "2097152") || strstr(text, "2 MiB") ||
		       strstr(text, "2048 kB");
	default:
		return 0;
	}
}

/*
 * The last line (free blocks of each order) has a header line above it:
 * "order" and 0..LAB_MAX_ORDER, each number ending where its column of the
 * last line ends.
 */
static void check_dump_header(const char *text)
{
	size_t len = strlen(text), i, n = 0, end[2] = { 0, 0 }, start[2] = { 0, 0 };
	char hdr[256], last[256], *tok, *save;
	unsigned int order = 0;

	/* the last two lines: [start, end) each */
	for (i = len; i > 0 && n < 2; i--) {
		if (text[i - 1] != '\n')
			continue;
		if (n == 0 && i == len) {
			end[0] = i - 1;
			continue;
		}
		start[n] = i;
		if (++n < 2)
			end[1] = i - 1;
	}
	if (n < 2)
		start[1] = 0;
	REQUIRE(end[0] - start[0] < sizeof(last) && end[1] - start[1] < sizeof(hdr), "long lines");
	memcpy(last, text + start[0], end[0] - start[0]);
	last[end[0] - start[0]] = '\0';
	memcpy(hdr, text + start[1], end[1] - start[1]);
	hdr[end[1] - start[1]] = '\0';
	CHECK(strstr(hdr, "order") != NULL, "no header above the last line:\n%s", text);
	CHECK(strlen(hdr) == strlen(last), "header and last line not column for column:\n%s\n%s",
	      hdr, last);
	tok = strstr(hdr, "order");
	for (i = tok ? (size_t)(tok - hdr) + 5 : len; i < strlen(hdr) && last[i]; i++)
		if (hdr[i] != ' ' && (hdr[i + 1] == ' ' || !hdr[i + 1]))
			CHECK(last[i] >= '0' && last[i] <= '9' && (last[i + 1] == ' ' || !last[i + 1]),
			      "header column ending at %zu has no number below it:\n%s\n%s", i, hdr,
			      last);
	tok = strstr(hdr, "order");
	for (tok = tok ? strtok_r(tok + 5, " ", &save) : NULL; tok; tok = strtok_r(NULL, " ", &save))
		CHECK((unsigned int)atoi(tok) == order++, "header order %s out of place", tok);
	CHECK_EQ(order, LAB_MAX_ORDER + 1);
}

static void check_dump(labyrinth_t *lab, const char *name, size_t page_size)
{
	int rc = 1;
	char *text = dump_text(lab, &rc);

	CHECK_EQ(rc, 0);
	CHECK(text && strlen(text) > 0, "dump wrote nothing");
	if (text) {
		CHECK(strstr(text, name) != NULL, "dump does not name pool '%s':\n%s", name, text);
		CHECK(mentions_size(text, page_size), "dump does not give page size %zu:\n%s",
		      page_size, text);
		CHECK(text[strlen(text) - 1] == '\n', "dump does not end in a newline");
		check_dump_header(text);
	}
	free(text);
}

int main(void)
{
	labyrinth_t lab = { 0 }, zeroed = { 0 };
	struct labyrinth_params p = { .name = "stats-pool", .nr_pages = NR, .max_pages = NR,
				      .reserve_pages = 5 };
	struct labyrinth_stats st, junk;
	void *pg[NR], *b[NR];
	unsigned int i, n;
	FILE *full;

	/* bad arguments */
	CHECK_EQ(labyrinth_stats(NULL, &junk), -EINVAL);
	CHECK_EQ(labyrinth_stats(&zeroed, &junk), -EINVAL);
	CHECK_EQ(labyrinth_dump(NULL, stdout), -EINVAL);
	CHECK_EQ(labyrinth_dump(&zeroed, stdout), -EINVAL);

	REQUIRE(labyrinth_init(&lab, &p) == 0, "init");
	CHECK_EQ(labyrinth_stats(&lab, NULL), -EINVAL);
	CHECK_EQ(labyrinth_dump(&lab, NULL), -EINVAL);

	st = STATS(&lab);
	CHECK_EQ(st.page_size, 4096);
	CHECK_EQ(st.pages_total, NR);
	CHECK_EQ(st.pages_free, NR);
	CHECK_EQ(st.pages_inuse, 0);
	CHECK_EQ(st.reserve_pages, 5);
	CHECK_EQ(st.max_pages, NR);
	CHECK_EQ(st.allocs, 0);
	CHECK_EQ(st.frees, 0);
	CHECK_EQ(st.alloc_failed, 0);
	CHECK_EQ(st.reserve_allocs, 0);
	CHECK_EQ(st.bad_frees, 0);
	CHECK_EQ(st.grows, 0);
	CHECK_EQ(st.waits, 0);
	CHECK_EQ(st.watch_events, 0);
	check_dump(&lab, "stats-pool", 4096);

	/* one page at a time, NOWAIT to the reserve, ATOMIC the rest */
	for (i = 0; i < NR; i++) {
		pg[i] = labyrinth_alloc_page(&lab, i < NR - 5 ? LAB_GFP_NOWAIT : LAB_GFP_ATOMIC);
		REQUIRE(pg[i] != NULL, "page %u", i);
		st = STATS(&lab);
		CHECK_EQ(st.allocs, i + 1);
		CHECK_EQ(st.pages_inuse, i + 1);
		CHECK_EQ(st.pages_free, NR - i - 1);
		CHECK_EQ(st.reserve_allocs, i < NR - 5 ? 0 : i - (NR - 5) + 1);
	}
	/* failures */
	CHECK(labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC) == NULL, "empty");
	CHECK(labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT) == NULL, "empty");
	CHECK(labyrinth_alloc_page(&lab, LAB_GFP_KERNEL) == NULL, "empty");
	st = STATS(&lab);
	CHECK_EQ(st.alloc_failed, 3);
	CHECK_EQ(st.allocs, NR);
	CHECK_EQ(st.grows, 0);
	CHECK_EQ(st.waits, 0);
	/* a misuse is not an allocation failure */
	CHECK(labyrinth_alloc_page(&lab, 0) == NULL, "bad gfp");
	CHECK(labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC, LAB_MAX_ORDER + 1) == NULL, "bad order");
	st = STATS(&lab);
	CHECK_EQ(st.alloc_failed, 3);
	check_dump(&lab, "stats-pool", 4096);

	/* frees, bad frees */
	for (i = 0; i < NR; i += 2) {
		CHECK_EQ(labyrinth_free_page(&lab, pg[i]), 0);
		st = STATS(&lab);
		CHECK_EQ(st.frees, i / 2 + 1);
		CHECK_EQ(st.pages_free, i / 2 + 1);
	}
	CHECK_EQ(labyrinth_free_page(&lab, pg[0]), -EALREADY);
	CHECK_EQ(labyrinth_free_page(&lab, (char *)pg[1] + 8), -EINVAL);
	st = STATS(&lab);
	CHECK_EQ(st.bad_frees, 2);
	CHECK_EQ(st.frees, NR / 2);
	CHECK_EQ(st.pages_inuse, NR / 2);

	/* bulk: per page */
	n = labyrinth_alloc_bulk(&lab, LAB_GFP_NOWAIT, b, NR / 2);
	CHECK_EQ(n, NR / 2 - 5);
	st = STATS(&lab);
	CHECK_EQ(st.allocs, NR + n);
	CHECK_EQ(st.pages_free, 5);
	n = labyrinth_free_bulk(&lab, b, n);
	CHECK_EQ(n, NR / 2 - 5);
	st = STATS(&lab);
	CHECK_EQ(st.frees, NR / 2 + n);
	CHECK_EQ(st.pages_free, NR / 2);
	/* the odd pages are still out */
	CHECK_EQ(labyrinth_destroy(&lab), -EBUSY);
	st = STATS(&lab);
	CHECK_EQ(st.pages_inuse, NR / 2);

	/* stats of a pool that is dumped to a failing stream: an error, pool fine */
	full = fopen("/dev/full", "w");
	if (full) {
		int rc = labyrinth_dump(&lab, full);

		CHECK(rc < 0, "dump to /dev/full returned %d", rc);
		fclose(full);
	}
	STATS(&lab);

	/* the default name */
	{
		labyrinth_t d = { 0 };
		struct labyrinth_params dp = { .nr_pages = 3 };

		REQUIRE(labyrinth_init(&d, &dp) == 0, "default init");
		check_dump(&d, "labyrinth", 4096);
		st = STATS(&d);
		CHECK_EQ(st.pages_total, 3);
		CHECK_EQ(st.max_pages, 3);
		CHECK_EQ(st.reserve_pages, 0);
		CHECK_EQ(labyrinth_destroy(&d), 0);
	}
	/* a 2 MiB pool: its page size in stats and dump */
	{
		labyrinth_t h = { 0 };
		struct labyrinth_params hp = { .name = "two-meg", .page_size = LAB_PAGE_2M,
					       .nr_pages = 2 };
		int rc = labyrinth_init(&h, &hp);

		if (rc == 0) {
			void *a = labyrinth_alloc_page(&h, LAB_GFP_ATOMIC);

			st = STATS(&h);
			CHECK_EQ(st.page_size, LAB_PAGE_2M);
			CHECK_EQ(st.pages_total, 2);
			CHECK_EQ(st.pages_inuse, 1);
			CHECK_EQ(labyrinth_page_size(&h), LAB_PAGE_2M);
			check_dump(&h, "two-meg", LAB_PAGE_2M);
			CHECK_EQ(labyrinth_free_page(&h, a), 0);
			CHECK_EQ(labyrinth_destroy(&h), 0);
		} else {
			printf("note: 2 MiB pool not available here (%d), part skipped\n", rc);
		}
	}

	/* all the free pages out and back, then the odd pages back */
	n = labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC, b, NR);
	CHECK_EQ(n, NR / 2);
	st = STATS(&lab);
	CHECK_EQ(st.pages_free, 0);
	CHECK_EQ(labyrinth_free_bulk(&lab, b, n), n);
	st = STATS(&lab);
	CHECK_EQ(st.pages_inuse, NR / 2);
	for (i = 1; i < NR; i += 2) {
		CHECK_EQ(labyrinth_free_page(&lab, pg[i]), 0);
		STATS(&lab);
	}
	st = STATS(&lab);
	CHECK_EQ(st.pages_free, NR);
	CHECK_EQ(st.allocs, st.frees);
	CHECK_EQ(st.allocs, NR + (NR / 2 - 5) + NR / 2);
	CHECK(st.alloc_failed >= 3 + 2, "short bulks not counted as failures");
	CHECK_EQ(st.bad_frees, 2);
	check_dump(&lab, "stats-pool", 4096);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
	return check_done();
}
