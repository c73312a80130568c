/* Description: LAB_POOL_DEBUG double frees: caught whatever order is given (also a freed block's tail page), in bulk, and when two threads race to free the same page (every time, many rounds): -EALREADY, one exact line naming pool, call and page, the pool unchanged. */
#include "capture.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE   4096u
#define PAGES  64u

/* The call each report names: the function the caller called. */
#define CALL_FREE "labyrinth_free_pages"
#define CALL_BULK "labyrinth_free_bulk"

static const char *double_free_line(char *buf, size_t size, const char *pool, const char *call,
				    const void *addr)
{
	snprintf(buf, size, "labyrinth: pool '%s': %s: double free of page %p\n", pool, call, addr);
	return buf;
}

static void debug_pool(labyrinth_t *lab, const char *name, size_t pages)
{
	struct labyrinth_params p = { .name = name, .nr_pages = pages,
				      .flags = LAB_POOL_DEBUG };

	memset(lab, 0, sizeof(*lab));
	REQUIRE(labyrinth_init(lab, &p) == 0, "init debug pool %s", name);
}

/* Every statistic as before but bad_frees, up by bad; the audit passes. */
static void unchanged(labyrinth_t *lab, const struct labyrinth_stats *before, unsigned int bad,
		      const char *what)
{
	struct labyrinth_stats now = check_stats(lab), want = *before;

	want.bad_frees += bad;
	CHECK(memcmp(&now, &want, sizeof(now)) == 0,
	      "%s: stats changed (free %llu/%llu inuse %llu/%llu frees %llu/%llu bad %llu/%llu)",
	      what, (unsigned long long)now.pages_free, (unsigned long long)want.pages_free,
	      (unsigned long long)now.pages_inuse, (unsigned long long)want.pages_inuse,
	      (unsigned long long)now.frees, (unsigned long long)want.frees,
	      (unsigned long long)now.bad_frees, (unsigned long long)want.bad_frees);
	CHECK(labyrinth_check(lab) == 0, "%s: labyrinth_check", what);
}

/*
 * A block of each order 0..4 freed, then freed again with every order
 * 0..LAB_MAX_ORDER (and as its tail pages): -EALREADY and one line each.
 */
static void double_free_is_caught_whatever_order(void)
{
	labyrinth_t lab;
	struct labyrinth_stats before;
	char want[256], what[64];
	unsigned int order, given;
	char *block, *text;
	int rc;

	debug_pool(&lab, "dfree", PAGES);
	for (order = 0; order <= 4; order++) {
		block = labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT, order);
		REQUIRE(block != NULL, "alloc order %u", order);
		CHECK_EQ(labyrinth_free_pages(&lab, block, order), 0);
		before = check_stats(&lab);
		for (given = 0; given <= LAB_MAX_ORDER; given++) {
			capture_start();
			rc = labyrinth_free_pages(&lab, block, given);
			text = capture_end();
			snprintf(what, sizeof(what), "order %u freed as %u", order, given);
			CHECK(rc == -EALREADY, "%s: %d", what, rc);
			CHECK(strcmp(text, double_free_line(want, sizeof(want), "dfree", CALL_FREE,
							    block)) == 0,
			      "%s: stderr '%s', want '%s'", what, text, want);
		}
		/* labyrinth_free_page too, and the block's last page. */
		capture_start();
		rc = labyrinth_free_page(&lab, block);
		text = capture_end();
		CHECK_EQ(rc, -EALREADY);
		CHECK(strcmp(text, double_free_line(want, sizeof(want), "dfree", "labyrinth_free_page",
						    block)) == 0,
		      "labyrinth_free_page: stderr '%s', want '%s'", text, want);
		if (order) {
			char *last = block + (((size_t)1 << order) - 1) * PAGE;

			capture_start();
			rc = labyrinth_free_pages(&lab, last, 0);
			text = capture_end();
			CHECK(rc == -EALREADY, "order %u: the freed block's last page: %d", order, rc);
			CHECK(strcmp(text, double_free_line(want, sizeof(want), "dfree", CALL_FREE,
							    last)) == 0,
			      "order %u tail page: stderr '%s', want '%s'", order, text, want);
		}
		unchanged(&lab, &before, LAB_MAX_ORDER + 2 + (order ? 1 : 0), "after the double frees");
	}
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/* free_bulk with a page twice, then that page alone again. */
static void double_free_in_bulk_is_caught(void)
{
	labyrinth_t lab;
	struct labyrinth_stats before, after;
	void *pages[3];
	char want[256];
	const char *text;
	unsigned int n;

	debug_pool(&lab, "dfree", PAGES);
	pages[0] = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	pages[1] = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	REQUIRE(pages[0] && pages[1], "alloc");
	pages[2] = pages[0];
	before = check_stats(&lab);
	capture_start();
	n = labyrinth_free_bulk(&lab, pages, 3);
	text = capture_end();
	CHECK_EQ(n, 2);
	CHECK(strcmp(text, double_free_line(want, sizeof(want), "dfree", CALL_BULK, pages[0])) == 0,
	      "stderr '%s', want '%s'", text, want);
	after = check_stats(&lab);
	CHECK_EQ(after.frees, before.frees + 2);
	CHECK_EQ(after.bad_frees, before.bad_frees + 1);
	CHECK_EQ(after.pages_inuse, 0);

	before = after;
	capture_start();
	n = labyrinth_free_bulk(&lab, &pages[1], 1);
	text = capture_end();
	CHECK_EQ(n, 0);
	CHECK(strcmp(text, double_free_line(want, sizeof(want), "dfree", CALL_BULK, pages[1])) == 0,
	      "stderr '%s', want '%s'", text, want);
	unchanged(&lab, &before, 1, "free_bulk of a free page");
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/* ---- racing double frees ---- */

#define ROUNDS    1000u
#define PER_ROUND 32u

static labyrinth_t race_pool;
static void *race_pages[PER_ROUND];
static atomic_uint race_round, race_done, race_bar;
static int race_rc[2][PER_ROUND];

/* Both racers arrive, then both leave at once (a two-thread spin barrier). */
static void race_barrier(void)
{
	unsigned int t = atomic_fetch_add(&race_bar, 1) + 1, want = (t + 1) & ~1u, spins = 0;

	while (atomic_load_explicit(&race_bar, memory_order_acquire) < want)
		if (++spins > 2000)
			sched_yield(); /* two cores, other work: let the other racer run */
}

/*
 * The racer that arrives last at the barrier leaves it first (the other
 * still has to see its store): a random pause of a few dozen loop turns
 * on both sides makes the two frees meet within nanoseconds now and then.
 */
static void jitter(uint64_t *seed)
{
	volatile unsigned int n;
	uint64_t x = *seed;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*seed = x;
	for (n = (unsigned int)(x % 32); n; n--)
		;
}

static void *racer(void *arg)
{
	int me = (int)(intptr_t)arg;
	unsigned int round, i, spins;
	uint64_t seed = 0x9e3779b97f4a7c15ull * (uint64_t)(me + 1);

	for (round = 1; round <= ROUNDS; round++) {
		for (spins = 0; atomic_load_explicit(&race_round, memory_order_acquire) < round;
		     spins++)
			if (spins > 1000)
				sched_yield();
		/* Page by page in lockstep: each free races the other's. */
		for (i = 0; i < PER_ROUND; i++) {
			race_barrier();
			jitter(&seed);
			race_rc[me][i] = labyrinth_free_page(&race_pool, race_pages[i]);
		}
		atomic_fetch_add_explicit(&race_done, 1, memory_order_release);
	}
	return NULL;
}

static int by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Two threads free the same pages at once, page by page in lockstep,
 * ROUNDS x PER_ROUND times: each time exactly one gets 0 and the other
 * -EALREADY, and the log holds exactly one line per page, naming it.  (A
 * free that checks the state and then stores it, without claiming it
 * atomically, lets both succeed here within a few hundred rounds.)
 */
static void racing_double_free_is_always_caught(void)
{
	struct labyrinth_stats st;
	static char want[ROUNDS * PER_ROUND][96];
	static char *want_sorted[ROUNDS * PER_ROUND], *got_sorted[ROUNDS * PER_ROUND + 1];
	pthread_t t[2];
	char *text, *at, *nl;
	unsigned int round, i, caught = 0, both = 0, nlines = 0, differ = 0, total = 0;

	debug_pool(&race_pool, "race", 4 * PER_ROUND);
	for (i = 0; i < 2; i++)
		REQUIRE(pthread_create(&t[i], NULL, racer, (void *)(intptr_t)i) == 0, "thread");
	capture_start();
	for (round = 1; round <= ROUNDS; round++) {
		for (i = 0; i < PER_ROUND; i++) {
			race_pages[i] = labyrinth_alloc_page(&race_pool, LAB_GFP_NOWAIT);
			if (!race_pages[i])
				break;
		}
		if (i < PER_ROUND)
			break;
		atomic_store_explicit(&race_round, round, memory_order_release);
		while (atomic_load_explicit(&race_done, memory_order_acquire) < 2 * round)
			sched_yield();
		for (i = 0; i < PER_ROUND; i++) {
			int a = race_rc[0][i], b = race_rc[1][i];

			if ((a == 0 && b == -EALREADY) || (a == -EALREADY && b == 0))
				caught++;
			else if (a == 0 && b == 0)
				both++;
			double_free_line(want[total], sizeof(want[total]), "race", "labyrinth_free_page",
					 race_pages[i]);
			want_sorted[total] = want[total];
			total++;
		}
	}
	if (round <= ROUNDS) { /* let the racers through with pages nobody holds */
		memset(race_pages, 0, sizeof(race_pages));
		atomic_store(&race_round, ROUNDS);
	}
	for (i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	text = capture_end();
	CHECK(round > ROUNDS, "allocation in round %u failed", round);
	CHECK(caught == ROUNDS * PER_ROUND, "%u of %u racing double frees caught; %u times both "
	      "frees succeeded", caught, ROUNDS * PER_ROUND, both);

	/* The same lines, in any order (the racers report concurrently). */
	for (at = text; *at && nlines <= total; at = nl + 1) {
		nl = strchr(at, '\n');
		if (!nl)
			break;
		got_sorted[nlines++] = at;
		nl[0] = '\0';
	}
	CHECK_EQ(nlines, total);
	if (nlines == total) {
		for (i = 0; i < total; i++)
			want[i][strlen(want[i]) - 1] = '\0'; /* compare without '\n' */
		qsort(want_sorted, total, sizeof(char *), by_text);
		qsort(got_sorted, total, sizeof(char *), by_text);
		for (i = 0; i < total; i++)
			if (strcmp(want_sorted[i], got_sorted[i]) != 0 && differ++ < 3)
				CHECK(0, "log line '%s', want '%s'", got_sorted[i], want_sorted[i]);
		CHECK_EQ(differ, 0);
	}

	st = check_stats(&race_pool);
	CHECK_EQ(st.bad_frees, total);
	CHECK_EQ(st.frees, st.allocs);
	CHECK_EQ(st.pages_inuse, 0);
	CHECK_EQ(st.pages_free, st.pages_total);
	CHECK_EQ(labyrinth_check(&race_pool), 0);
	CHECK_EQ(labyrinth_destroy(&race_pool), 0);
	printf("racing double free: %u races, %u caught, %u both succeeded, %u log lines\n",
	       total, caught, both, nlines);
}

int main(void)
{
	double_free_is_caught_whatever_order();
	double_free_in_bulk_is_caught();
	racing_double_free_is_always_caught();
	return check_done();
}
