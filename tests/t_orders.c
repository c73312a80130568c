/* Description: multi-page blocks of every order: alignment, contiguity, wrong-order and
 * mid-block frees, double frees, merging back to whole max-order blocks, a random model run. */
#include <stdint.h>

#include "check.h"

#define NPAGES 4096u /* four max-order blocks */
#define PAGE 4096u

static labyrinth_t lab;
static unsigned char *base; /* lowest page address of the pool */

static struct labyrinth_stats stats(void)
{
	return check_stats(&lab);
}

static void every_order_aligned_and_contiguous(void)
{
	unsigned int order;

	for (order = 0; order <= LAB_MAX_ORDER; order++) {
		size_t len = (size_t)PAGE << order;
		unsigned char *b = labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC | LAB_GFP_ZERO, order);
		size_t i;
		int zero = 1;

		CHECK(b != NULL, "order %u: %s", order, strerror(errno));
		if (!b)
			continue;
		CHECK(((uintptr_t)b & (len - 1)) == 0, "order %u block %p not aligned", order,
		      (void *)b);
		for (i = 0; i < len; i += 512)
			zero &= b[i] == 0;
		CHECK(zero, "order %u block not zeroed", order);
		memset(b, 0xa5, len); /* contiguous and writable end to end */
		CHECK(labyrinth_owns(&lab, b) && labyrinth_owns(&lab, b + len - 1), "owned");
		CHECK_EQ(stats().pages_inuse, 1u << order);
		CHECK_EQ(labyrinth_check(&lab), 0);
		CHECK_EQ(labyrinth_free_pages(&lab, b, order), 0);
	}
	CHECK(labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC, LAB_MAX_ORDER + 1) == NULL &&
	      errno == EINVAL, "order above LAB_MAX_ORDER");
}

static void bad_block_frees(void)
{
	unsigned char *b = labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT, 3);
	struct labyrinth_stats before;

	REQUIRE(b != NULL, "order-3 block");
	before = stats();
	CHECK_EQ(labyrinth_free_pages(&lab, b, 2), -EINVAL);      /* wrong order */
	CHECK_EQ(labyrinth_free_pages(&lab, b, 0), -EINVAL);
	CHECK_EQ(labyrinth_free_pages(&lab, b + PAGE, 0), -EINVAL); /* not the block start */
	CHECK_EQ(labyrinth_free_pages(&lab, b + 4 * PAGE, 2), -EINVAL);
	CHECK_EQ(labyrinth_free_pages(&lab, b + 1, 3), -EINVAL);  /* not page aligned */
	CHECK_EQ(stats().bad_frees, before.bad_frees + 5);
	CHECK_EQ(stats().pages_inuse, before.pages_inuse);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_free_pages(&lab, b, 3), 0);
	/* Second free, whatever order is given, and a page inside the free block. */
	CHECK_EQ(labyrinth_free_pages(&lab, b, 3), -EALREADY);
	CHECK_EQ(labyrinth_free_pages(&lab, b, 0), -EALREADY);
	CHECK_EQ(labyrinth_free_pages(&lab, b + 2 * PAGE, 1), -EALREADY);
	CHECK_EQ(labyrinth_check(&lab), 0);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t next_rand(void)
{
	return check_rand(&rng);
}

/* Free everything in a scrambled order: the max-order blocks are whole again. */
static void merging_makes_blocks_whole(void)
{
	static void *pg[NPAGES];
	unsigned int i, n, round;

	for (round = 0; round < 3; round++) {
		for (n = 0; n < NPAGES; n++) {
			pg[n] = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC);
			if (!pg[n])
				break;
		}
		CHECK_EQ(n, NPAGES);
		CHECK(labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC, 1) == NULL, "full pool gave a block");
		for (i = n - 1; i > 0; i--) {
			unsigned int j = (unsigned int)(next_rand() % (i + 1));
			void *t = pg[i];

			pg[i] = pg[j];
			pg[j] = t;
		}
		for (i = 0; i < n; i++)
			CHECK_EQ(labyrinth_free_page(&lab, pg[i]), 0);
		/* The pages this thread cached go back when a block finds none. */
		for (i = 0; i < NPAGES >> LAB_MAX_ORDER; i++) {
			pg[i] = labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC, LAB_MAX_ORDER);
			CHECK(pg[i] != NULL, "round %u: max-order block %u after merging", round, i);
		}
		CHECK_EQ(stats().pages_free, 0);
		for (i = 0; i < NPAGES >> LAB_MAX_ORDER; i++)
			CHECK_EQ(labyrinth_free_pages(&lab, pg[i], LAB_MAX_ORDER), 0);
		CHECK_EQ(stats().free_blocks[LAB_MAX_ORDER], NPAGES >> LAB_MAX_ORDER);
		CHECK_EQ(labyrinth_check(&lab), 0);
	}
}

/* A long random mixed-order run checked against a model of taken pages. */
static void random_against_model(void)
{
	static unsigned char taken[NPAGES];
	static struct { unsigned char *addr; unsigned int order; } live[NPAGES];
	unsigned int nlive = 0, used = 0, step, i, fails = 0;

	memset(taken, 0, sizeof(taken));
	for (step = 0; step < 200000; step++) {
		if (nlive && (next_rand() % 100 < 48 || used > NPAGES - 64)) {
			unsigned int k = (unsigned int)(next_rand() % nlive);
			size_t first = (size_t)(live[k].addr - base) / PAGE;

			for (i = 0; i < (1u << live[k].order); i++)
				taken[first + i] = 0;
			CHECK_EQ(labyrinth_free_pages(&lab, live[k].addr, live[k].order), 0);
			used -= 1u << live[k].order;
			live[k] = live[--nlive];
		} else {
			unsigned int order = (unsigned int)(next_rand() % 100);
			unsigned char *b;

			order = order < 60 ? 0 : order < 80 ? 1 : order < 90 ? 2 :
				(unsigned int)(3 + next_rand() % 5);
			b = labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT, order);
			if (!b) {
				fails++;
				continue;
			}
			size_t first = (size_t)(b - base) / PAGE;

			CHECK(first + (1u << order) <= NPAGES && (first & ((1u << order) - 1)) == 0,
			      "block at page %zu of order %u", first, order);
			for (i = 0; i < (1u << order); i++) {
				CHECK(!taken[first + i], "page %zu handed out twice", first + i);
				taken[first + i] = 1;
			}
			live[nlive].addr = b;
			live[nlive++].order = order;
			used += 1u << order;
		}
		if (step % 20000 == 0) {
			CHECK_EQ(labyrinth_check(&lab), 0);
			CHECK_EQ(stats().pages_inuse, used);
		}
	}
	printf("random run: %u blocks live at the end, %u failed allocations (fragmentation)\n",
	       nlive, fails);
	while (nlive--)
		CHECK_EQ(labyrinth_free_pages(&lab, live[nlive].addr, live[nlive].order), 0);
	CHECK_EQ(labyrinth_check(&lab), 0);
	/* Whatever the random run left scattered merges back. */
	for (i = 0; i < NPAGES >> LAB_MAX_ORDER; i++) {
		live[i].addr = labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC, LAB_MAX_ORDER);
		CHECK(live[i].addr != NULL, "max-order block %u after the random run", i);
	}
	for (i = 0; i < NPAGES >> LAB_MAX_ORDER; i++)
		CHECK_EQ(labyrinth_free_pages(&lab, live[i].addr, LAB_MAX_ORDER), 0);
}

int main(void)
{
	struct labyrinth_params pr = { .name = "orders", .nr_pages = NPAGES };
	struct labyrinth_stats st;
	void *p;

	pr.flags = nolock_unless_lockable(pr.name, (size_t)NPAGES * PAGE);
	REQUIRE(labyrinth_init(&lab, &pr) == 0, "init");
	p = labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC, LAB_MAX_ORDER);
	REQUIRE(p != NULL, "a max-order block");
	base = p; /* the pool is one aligned range; find its start */
	labyrinth_free_pages(&lab, p, LAB_MAX_ORDER);
	while (labyrinth_owns(&lab, base - PAGE))
		base -= PAGE;
	st = stats();
	CHECK_EQ(st.free_blocks[LAB_MAX_ORDER], NPAGES >> LAB_MAX_ORDER);

	every_order_aligned_and_contiguous();
	bad_block_frees();
	merging_makes_blocks_whole();
	random_against_model();
	CHECK_EQ(stats().pages_inuse, 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
	return check_done();
}
