/* Description: mixed-order blocks under threads, cross-thread frees and a signal storm whose
 * handler allocates blocks too (with LAB_STRESS_POOLS, from another of several pools than the
 * one its thread used last): an owner map proves no page is ever in two blocks at once. */
/*
 * Usage: t_stress_orders [THREADS] [SECONDS] [POOL_PAGES]  (defaults 4, 2, 2048;
 * LAB_STRESS_POOLS=N, 1 to 8: N pools of POOL_PAGES, each block from one
 * at random, every free to the block's own pool).
 * Each worker allocates blocks of orders 0..6 (mostly small) with ATOMIC or
 * NOWAIT, claims every page of each block in an owner map (a CAS from 0 to
 * its id, so a page in two live blocks is caught), stamps the first and
 * last page, and frees blocks itself or passes them to another worker
 * through atomic slots.  A storm thread sends SIGUSR1 to the workers; the
 * handler allocates, claims, checks and frees a block of order 0..2 on the
 * same pool.  At the end every page is free, labyrinth_check passes and
 * the pool is whole max-order blocks again.
 */
#include "check.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u
#define MAX_THREADS 16u
#define NR_SLOTS 32u
#define HELD 32u

struct block {
	unsigned char *addr;
	unsigned int order;
	unsigned int pool;
};

#define MAX_POOLS 8u
static labyrinth_t pools[MAX_POOLS];
static unsigned int nr_pools = 1;
static unsigned char *bases[MAX_POOLS];
static size_t nr_pages;
static _Atomic uint32_t *owners[MAX_POOLS];
static _Thread_local unsigned int last_pool; /* of this worker's last block */
static _Atomic uint64_t slots[NR_SLOTS]; /* addr | order, 0 = empty */
static atomic_int stop;
static atomic_ulong failures, handled, blocks_done;
static pthread_t workers[MAX_THREADS];

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* The pool that owns addr (0 if none: then the owner map says so). */
static unsigned int pool_index(const void *addr)
{
	unsigned int k;

	for (k = 0; k < nr_pools; k++)
		if (labyrinth_owns(&pools[k], addr) == 1)
			return k;
	return 0;
}

/* Claim (from 0 to id) or release (from id to 0) every page of a block. */
static void own(const struct block *b, uint32_t from, uint32_t to)
{
	unsigned char *base = bases[b->pool];
	_Atomic uint32_t *owner = owners[b->pool];
	size_t first = (size_t)(b->addr - base) / PAGE, i;

	if (b->addr < base || first + (1u << b->order) > nr_pages ||
	    (first & ((1u << b->order) - 1))) {
		atomic_fetch_add(&failures, 1);
		return;
	}
	for (i = 0; i < (1u << b->order); i++) {
		uint32_t expect = from;

		if (!atomic_compare_exchange_strong(&owner[first + i], &expect, to))
			atomic_fetch_add(&failures, 1);
	}
}

static void stamp(const struct block *b, uint64_t v)
{
	size_t last = ((size_t)PAGE << b->order) - sizeof(uint64_t);

	memcpy(b->addr, &v, sizeof(v));
	memcpy(b->addr + last, &v, sizeof(v));
}

static void verify(const struct block *b, uint64_t v)
{
	size_t last = ((size_t)PAGE << b->order) - sizeof(uint64_t);
	uint64_t x, y;

	memcpy(&x, b->addr, sizeof(x));
	memcpy(&y, b->addr + last, sizeof(y));
	if (x != v || y != v)
		atomic_fetch_add(&failures, 1);
}

static uint64_t tag(const struct block *b)
{
	return (uint64_t)(uintptr_t)b->addr ^ b->order;
}

static bool take(struct block *b, lab_gfp_t gfp, unsigned int order, uint32_t id,
		 unsigned int pool)
{
	b->addr = labyrinth_alloc_pages(&pools[pool], gfp, order);
	b->order = order;
	b->pool = pool;
	if (!b->addr)
		return false;
	own(b, 0, id);
	stamp(b, tag(b));
	return true;
}

static void give(struct block *b, uint32_t id)
{
	verify(b, tag(b));
	own(b, id, 0);
	if (labyrinth_free_pages(&pools[b->pool], b->addr, b->order) != 0)
		atomic_fetch_add(&failures, 1);
}

static void on_signal(int sig)
{
	static _Thread_local uint64_t seed = 0x1234567;
	int saved = errno;
	struct block b;

	(void)sig;
	/* another pool than the interrupted worker's last (with several) */
	if (take(&b, LAB_GFP_ATOMIC, (unsigned int)(xorshift(&seed) % 3), 0xffff,
		 (last_pool + 1) % nr_pools))
		give(&b, 0xffff);
	atomic_fetch_add(&handled, 1);
	errno = saved;
}

static unsigned int pick_order(uint64_t r)
{
	unsigned int x = (unsigned int)(r % 100);

	return x < 55 ? 0 : x < 75 ? 1 : x < 87 ? 2 : x < 94 ? 3 : x < 98 ? 4 : 5 + (unsigned int)(r >> 40) % 2;
}

static void *worker(void *arg)
{
	uint32_t id = (uint32_t)(uintptr_t)arg;
	uint64_t seed = 0x9e3779b97f4a7c15ull * id, r;
	struct block held[HELD];
	unsigned int n = 0, i;

	while (!atomic_load(&stop)) {
		r = xorshift(&seed);
		if (n < HELD && (r & 1)) {
			last_pool = (unsigned int)(r >> 48) % nr_pools;
			if (take(&held[n], (r & 2) ? LAB_GFP_ATOMIC : LAB_GFP_NOWAIT,
				 pick_order(r >> 8), id, last_pool))
				n++;
		} else if (n) {
			i = (unsigned int)((r >> 8) % n);
			if ((r & 0x300) == 0) { /* hand it to whoever takes the slot */
				uint64_t v = (uint64_t)(uintptr_t)held[i].addr | held[i].order;
				unsigned int s = (unsigned int)(r >> 16) % NR_SLOTS;

				own(&held[i], id, 0x8000);
				v = atomic_exchange(&slots[s], v);
				if (v) { /* adopt the block that was there */
					struct block b = { (unsigned char *)(uintptr_t)(v & ~0xfull),
							   (unsigned int)(v & 0xf), 0 };

					b.pool = pool_index(b.addr);
					own(&b, 0x8000, id);
					give(&b, id);
				}
			} else {
				give(&held[i], id);
			}
			held[i] = held[--n];
			atomic_fetch_add(&blocks_done, 1);
		}
	}
	while (n)
		give(&held[--n], id);
	return NULL;
}

int main(int argc, char **argv)
{
	unsigned int threads = argc > 1 ? (unsigned int)atoi(argv[1]) : 4;
	double seconds = argc > 2 ? atof(argv[2]) : 2.0;
	struct labyrinth_params pr = { .name = "stress-orders",
				       .nr_pages = argc > 3 ? (size_t)atol(argv[3]) : 2048 };
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART };
	struct timespec start, t;
	struct labyrinth_stats st;
	unsigned int i, k, q;
	const char *env = getenv("LAB_STRESS_POOLS");
	void *p;

	REQUIRE(threads >= 1 && threads <= MAX_THREADS, "THREADS 1..%u", MAX_THREADS);
	REQUIRE(pr.nr_pages % 1024 == 0, "POOL_PAGES a multiple of 1024");
	if (env && *env)
		nr_pools = (unsigned int)atoi(env);
	REQUIRE(nr_pools >= 1 && nr_pools <= MAX_POOLS, "LAB_STRESS_POOLS 1..%u", MAX_POOLS);
	pr.flags = nolock_unless_lockable(pr.name, pr.nr_pages * PAGE * nr_pools);
	nr_pages = pr.nr_pages;
	for (q = 0; q < nr_pools; q++) {
		REQUIRE(labyrinth_init(&pools[q], &pr) == 0, "init");
		p = labyrinth_alloc_pages(&pools[q], LAB_GFP_ATOMIC, 0);
		bases[q] = p;
		labyrinth_free_page(&pools[q], p);
		while (labyrinth_owns(&pools[q], bases[q] - PAGE))
			bases[q] -= PAGE;
		owners[q] = calloc(nr_pages, sizeof(*owners[q]));
		REQUIRE(owners[q] != NULL, "calloc");
	}
	sigemptyset(&sa.sa_mask);
	REQUIRE(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");

	for (i = 0; i < threads; i++)
		REQUIRE(pthread_create(&workers[i], NULL, worker, (void *)(uintptr_t)(i + 1)) == 0,
			"pthread_create");
	clock_gettime(CLOCK_MONOTONIC, &start);
	do { /* the storm: signals to the workers until time is up */
		for (i = 0; i < threads; i++)
			pthread_kill(workers[i], SIGUSR1);
		usleep(200);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((double)(t.tv_sec - start.tv_sec) + (t.tv_nsec - start.tv_nsec) * 1e-9 < seconds);
	atomic_store(&stop, 1);
	for (i = 0; i < threads; i++)
		pthread_join(workers[i], NULL);
	for (k = 0; k < NR_SLOTS; k++) { /* blocks still parked in slots */
		uint64_t v = atomic_exchange(&slots[k], 0);

		if (v) {
			struct block b = { (unsigned char *)(uintptr_t)(v & ~0xfull),
					   (unsigned int)(v & 0xf), 0 };

			b.pool = pool_index(b.addr);
			own(&b, 0x8000, 1);
			give(&b, 1);
		}
	}
	printf("%u threads, %u pool(s), %.1f s: %lu blocks done, %lu signals handled\n", threads,
	       nr_pools, seconds, atomic_load(&blocks_done), atomic_load(&handled));
	CHECK_EQ(atomic_load(&failures), 0);
	for (q = 0; q < nr_pools; q++) {
		st = check_stats(&pools[q]);
		CHECK_EQ(st.pages_inuse, 0);
		CHECK_EQ(st.allocs, st.frees);
		CHECK_EQ(st.bad_frees, 0);
		CHECK(st.allocs > 0, "pool %u unused", q);
		CHECK_EQ(labyrinth_check(&pools[q]), 0);
		for (k = 0; k < nr_pages; k++)
			CHECK(atomic_load(&owners[q][k]) == 0, "pool %u page %u still owned", q, k);
		/* Everything merged back: every max-order block can be had. */
		for (k = 0; k < nr_pages / 1024; k++)
			CHECK(labyrinth_alloc_pages(&pools[q], LAB_GFP_NOWAIT, LAB_MAX_ORDER) != NULL,
			      "pool %u: max-order block %u after the run", q, k);
	}
	CHECK(atomic_load(&blocks_done) > 1000, "too little work done: %lu",
	      atomic_load(&blocks_done));
	return check_done();
}
