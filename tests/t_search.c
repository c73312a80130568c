/* Description: the store's search (the bitmap and its summary) finds the last free block
 * wherever it is and wherever the cursor stands: every position, every order, pools of
 * several sizes and a grown one; claims, frees and block searches racing in one pool
 * never lose a page and leave the summary exact (labyrinth_check), so that a quiet search
 * afterwards again finds the last free page by the summary alone. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "check.h"

#define PAGE 4096u

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t next_rand(void)
{
	return check_rand(&rng);
}

/* A debug pool: it has no caches and no depot, so every allocation
 * searches the store and every free goes straight back to it. */
static void open_pool(labyrinth_t *lab, size_t nr_pages, size_t max_pages, const char *name)
{
	struct labyrinth_params pr = {
		.name = name, .nr_pages = nr_pages, .max_pages = max_pages,
		.flags = LAB_POOL_DEBUG,
	};

	pr.flags |= nolock_unless_lockable(name, max_pages * PAGE);
	REQUIRE(labyrinth_init(lab, &pr) == 0, "init %s: %s", name, strerror(errno));
}

/* The pool's count of searches that read the whole bitmap (its dump's
 * "linear searches" line): the summary came back short. */
static unsigned long linear_searches(labyrinth_t *lab)
{
	char *text = NULL, *at;
	size_t len = 0;
	unsigned long n = ~0ul;
	FILE *f = open_memstream(&text, &len);

	REQUIRE(f != NULL, "open_memstream");
	CHECK_EQ(labyrinth_dump(lab, f), 0);
	fclose(f);
	at = text ? strstr(text, "linear searches ") : NULL;
	CHECK(at && sscanf(at, "linear searches %lu", &n) == 1, "dump has the count: %s",
	      text ? text : "(none)");
	free(text);
	return n;
}

/* Block indexes 0 .. n - 1 in a random order. */
static uint32_t *shuffled(uint32_t n)
{
	uint32_t *order = malloc((n ? n : 1) * sizeof(*order)), i;

	REQUIRE(order != NULL, "malloc");
	for (i = 0; i < n; i++)
		order[i] = i;
	for (i = n; i > 1; i--) {
		uint32_t j = (uint32_t)(next_rand() % i), t = order[i - 1];

		order[i - 1] = order[j];
		order[j] = t;
	}
	return order;
}

/*
 * Fill the pool with single pages; then, for every order-o block position
 * in a random order (so the cursor, left where the previous claim ended,
 * stands anywhere relative to it), free that block's pages one by one and
 * allocate a block of that order: it must be exactly that block, the only
 * free one.  Then free everything: the pool is whole again.
 */
static bool last_free_block_found(labyrinth_t *lab, uint32_t total, unsigned int order,
				  const char *name)
{
	uint32_t blocks = total >> order, i, k;
	unsigned long linear_before = linear_searches(lab);
	unsigned char *base;
	uint32_t *order_of_blocks;
	size_t len;

	REQUIRE(labyrinth_region(lab, (void **)&base, &len) == 0 && len == (size_t)total * PAGE,
		"%s: region of %u pages", name, total);
	for (i = 0; i < total; i++)
		REQUIRE(labyrinth_alloc_page(lab, LAB_GFP_ATOMIC) != NULL, "%s: fill page %u", name,
			i);
	CHECK(labyrinth_alloc_page(lab, LAB_GFP_ATOMIC | LAB_GFP_NOWARN) == NULL,
	      "%s: a full pool gave a page", name);
	order_of_blocks = shuffled(blocks);
	for (k = 0; k < blocks; k++) {
		uint32_t first = order_of_blocks[k] << order;
		unsigned char *got;

		for (i = 0; i < 1u << order; i++)
			REQUIRE(labyrinth_free_page(lab, base + (size_t)(first + i) * PAGE) == 0,
				"%s: free page %u", name, first + i);
		got = labyrinth_alloc_pages(lab, LAB_GFP_ATOMIC, order);
		if (got != base + (size_t)first * PAGE) {
			CHECK(0, "%s order %u: the one free block, at page %u, gave %p (base %p)",
			      name, order, first, (void *)got, (void *)base);
			free(order_of_blocks);
			return false; /* the pool is not as the rest expects */
		}
	}
	CHECK_EQ(labyrinth_check(lab), 0);
	/* With no other thread, the summary alone found every block. */
	CHECK(linear_searches(lab) == linear_before,
	      "%s order %u: %lu searches fell back on a linear pass", name, order,
	      linear_searches(lab) - linear_before);
	/* The tail that is no whole block, then every block. */
	for (i = blocks << order; i < total; i++)
		CHECK_EQ(labyrinth_free_page(lab, base + (size_t)i * PAGE), 0);
	for (k = 0; k < blocks; k++)
		CHECK_EQ(labyrinth_free_pages(lab, base + ((size_t)k << order) * PAGE, order), 0);
	CHECK_EQ(check_stats(lab).pages_free, total);
	CHECK_EQ(labyrinth_check(lab), 0);
	free(order_of_blocks);
	return true;
}

static void every_position_every_order(size_t nr_pages)
{
	char name[32];
	labyrinth_t lab;
	unsigned int o;

	snprintf(name, sizeof(name), "search-%zu", nr_pages);
	open_pool(&lab, nr_pages, nr_pages, name);
	for (o = 0; o <= LAB_MAX_ORDER && nr_pages >> o; o++)
		if (!last_free_block_found(&lab, (uint32_t)nr_pages, o, name))
			break;
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/*
 * The same for a refill, in a pool with caches: the one free page is
 * freed into this thread's cache, an order-1 block that cannot exist
 * gives the cache back to the bitmap (SPEC: the caller's cached pages go
 * back and merge first), and the next page comes from a refill that
 * searches from the cache's own cursor.
 */
static void last_free_page_by_refill(size_t nr_pages)
{
	struct labyrinth_params pr = { .name = "search-refill", .nr_pages = nr_pages };
	unsigned long linear_before;
	uint32_t *positions, i;
	unsigned char *base;
	labyrinth_t lab;
	size_t len;

	pr.flags = nolock_unless_lockable(pr.name, nr_pages * PAGE);
	REQUIRE(labyrinth_init(&lab, &pr) == 0, "init: %s", strerror(errno));
	REQUIRE(labyrinth_region(&lab, (void **)&base, &len) == 0, "region");
	for (i = 0; i < nr_pages; i++)
		REQUIRE(labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC) != NULL, "fill page %u", i);
	linear_before = linear_searches(&lab);
	positions = shuffled((uint32_t)nr_pages);
	for (i = 0; i < nr_pages; i++) {
		unsigned char *want = base + (size_t)positions[i] * PAGE, *got;

		REQUIRE(labyrinth_free_page(&lab, want) == 0, "free page %u", positions[i]);
		CHECK(labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC | LAB_GFP_NOWARN, 1) == NULL,
		      "an order-1 block in a pool with one free page");
		got = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC);
		if (got != want) {
			CHECK(0, "refill: the one free page %u gave %p", positions[i], (void *)got);
			break;
		}
	}
	/* The count refuses each order-1 block before any search (one free
	 * page), and the refills found their page by the summary alone. */
	CHECK_EQ(linear_searches(&lab) - linear_before, 0);
	CHECK_EQ(i, nr_pages);
	CHECK_EQ(labyrinth_check(&lab), 0);
	for (i = 0; i < nr_pages; i++)
		CHECK_EQ(labyrinth_free_page(&lab, base + (size_t)i * PAGE), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
	free(positions);
}

/* A pool grown by LAB_GFP_KERNEL: the summary covers its new pages too. */
static void grown_pool(void)
{
	const uint32_t first = 1024, max = 20000;
	labyrinth_t lab;
	unsigned char *base;
	size_t len;
	uint32_t i;
	unsigned int o;

	open_pool(&lab, first, max, "search-grown");
	for (i = 0; i < max; i++)
		REQUIRE(labyrinth_alloc_page(&lab, LAB_GFP_KERNEL) != NULL, "grow: page %u", i);
	CHECK(check_stats(&lab).grows > 0, "the pool grew");
	REQUIRE(labyrinth_region(&lab, (void **)&base, &len) == 0 && len == (size_t)max * PAGE,
		"grown to %u pages", max);
	for (i = 0; i < max; i++)
		REQUIRE(labyrinth_free_page(&lab, base + (size_t)i * PAGE) == 0, "free %u", i);
	CHECK_EQ(labyrinth_check(&lab), 0);
	for (o = 0; o <= LAB_MAX_ORDER; o++)
		if (!last_free_block_found(&lab, max, o, "search-grown"))
			break;
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/*
 * Racing: each worker keeps at most HELD pages (single pages and blocks
 * up to order 3, in random order), so that at least SPARE pages are free
 * at every instant; the words of a small pool fill and empty all the time,
 * so hints are cleared and set under each other's feet.  An ATOMIC page
 * can then never fail (the count has it, and the search must find it),
 * and after every round the quiescent pool passes labyrinth_check, which
 * verifies that every word holding free pages has its summary hint; at
 * the end, the last free page and the last free order-3 block, at every
 * position, are found without a linear pass.  (That a search which no
 * other thread disturbs never misses a free page while threads race is
 * the Spin model's property S2: src/model/labyrinth.pml, -DSUMMARY=1.)
 */
#define RACE_PAGES 512u
#define RACE_THREADS 3u
#define HELD 120u /* RACE_THREADS * (HELD + 8) < RACE_PAGES */
#define RACE_ROUNDS 8u
#define RACE_STEPS 30000u

static labyrinth_t race_lab;

struct worker {
	pthread_t tid;
	uint64_t rng;
	unsigned int failed_pages, failed_blocks;
};

static void *race(void *arg)
{
	struct worker *w = arg;
	void *held[HELD];
	unsigned int orders[HELD], n = 0, used = 0, s;

	for (s = 0; s < RACE_STEPS; s++) {
		uint64_t r = check_rand(&w->rng);

		if (n < HELD && used + 8 <= HELD && (r & 1)) {
			unsigned int o = (r >> 8) % 4 == 0 ? (unsigned int)((r >> 16) % 4) : 0;
			void *pg = o ? labyrinth_alloc_pages(&race_lab, LAB_GFP_ATOMIC, o) :
				       labyrinth_alloc_page(&race_lab, LAB_GFP_ATOMIC);

			if (!pg) {
				/* A block may fail while another is being claimed
				 * (SPEC); a page never may. */
				if (o)
					w->failed_blocks++;
				else
					w->failed_pages++;
				continue;
			}
			held[n] = pg;
			orders[n++] = o;
			used += 1u << o;
		} else if (n) {
			unsigned int i = (unsigned int)((r >> 32) % n);

			if (labyrinth_free_pages(&race_lab, held[i], orders[i]))
				w->failed_pages += 1000;
			used -= 1u << orders[i];
			held[i] = held[--n];
			orders[i] = orders[n];
		}
	}
	while (n--)
		if (labyrinth_free_pages(&race_lab, held[n], orders[n]))
			w->failed_pages += 1000;
	return NULL;
}

static void racing_searches(void)
{
	struct worker w[RACE_THREADS];
	unsigned int round, t, blocks_failed = 0;

	_Static_assert(RACE_THREADS * (HELD + 8) < RACE_PAGES, "pages to spare");
	open_pool(&race_lab, RACE_PAGES, RACE_PAGES, "search-race");
	for (round = 0; round < RACE_ROUNDS; round++) {
		for (t = 0; t < RACE_THREADS; t++) {
			w[t] = (struct worker){ .rng = next_rand() | 1 };
			REQUIRE(pthread_create(&w[t].tid, NULL, race, &w[t]) == 0, "thread");
		}
		for (t = 0; t < RACE_THREADS; t++) {
			pthread_join(w[t].tid, NULL);
			CHECK(w[t].failed_pages == 0, "round %u thread %u: %u pages failed or frees refused",
			      round, t, w[t].failed_pages);
			blocks_failed += w[t].failed_blocks;
		}
		CHECK_EQ(labyrinth_check(&race_lab), 0);
		CHECK_EQ(check_stats(&race_lab).pages_free, RACE_PAGES);
	}
	printf("note: %u racing block allocations found none (allowed while another "
	       "thread claims a block); %lu searches fell back on a linear pass\n",
	       blocks_failed, linear_searches(&race_lab));
	/* What the racing threads left behind serves a quiet search as a
	 * fresh summary does: the last free page or block, wherever it is,
	 * found by the summary alone. */
	last_free_block_found(&race_lab, RACE_PAGES, 0, "search-race");
	last_free_block_found(&race_lab, RACE_PAGES, 3, "search-race");
	CHECK_EQ(labyrinth_destroy(&race_lab), 0);
}

int main(void)
{
	static const size_t sizes[] = { 1, 64, 1000, 4096, 16384 + 100 };
	unsigned int i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		every_position_every_order(sizes[i]);
	last_free_page_by_refill(1000);
	last_free_page_by_refill(16384 + 100);
	grown_pool();
	racing_searches();
	return check_done();
}
