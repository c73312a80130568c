/* Description: ATOMIC allocations (also with LAB_GFP_ZERO), writes to every page and frees take no page fault, on a warm thread and from a fresh thread's first call (getrusage RUSAGE_THREAD). */
/*
 * The pool is populated and locked by labyrinth_init, and so is the
 * allocator's own state, so the atomic path never faults: neither in the
 * library nor when the caller writes to the page it got.  Only the measuring
 * thread's own stack and variables are touched beforehand, since the library
 * cannot lock those.
 */
#include "check.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/time.h>

#define PAGE   4096u
#define NPAGES 1024u
#define PAIRS  100000u
#define ROUNDS 50u
#define BULK   32u

static labyrinth_t pool;
static void *pages[NPAGES];

static long faults(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_THREAD, &ru) != 0)
		return -1000000;
	return ru.ru_minflt + ru.ru_majflt;
}

/* Touch the stack below the caller's frame, so that calls made from it later
 * find their stack pages present. */
static __attribute__((noinline)) void prefault_stack(void)
{
	volatile char buf[64 * 1024];
	size_t i;

	for (i = 0; i < sizeof(buf); i += 512)
		buf[i] = 0;
}

static void write_page(void *page, unsigned char v)
{
	volatile unsigned char *c = page;
	unsigned int i;

	for (i = 0; i < PAGE; i += 64)
		c[i] = v;
}

static unsigned int check_zero(const void *page)
{
	const volatile unsigned char *c = page;
	unsigned int i;

	for (i = 0; i < PAGE; i += 64)
		if (c[i])
			return 1;
	return 0;
}

/* PAIRS alloc + write + free pairs; bad results counted in *bad. */
static void pairs(lab_gfp_t gfp, unsigned int *bad)
{
	unsigned int i;

	for (i = 0; i < PAIRS; i++) {
		void *p = gfp == LAB_GFP_ATOMIC ?
			labyrinth_void_alloc_page_gfp_atomic_exclusive(&pool) :
			labyrinth_alloc_page(&pool, gfp);

		if (!p) {
			(*bad)++;
			continue;
		}
		if ((gfp & LAB_GFP_ZERO) && check_zero(p))
			(*bad)++;
		write_page(p, (unsigned char)(i | 1));
		if (labyrinth_free_page(&pool, p) != 0)
			(*bad)++;
	}
}

/* Every page of the pool, ROUNDS times: allocated one by one, written, freed in bulk. */
static void sweep(lab_gfp_t gfp, unsigned int *bad)
{
	unsigned int r, i;

	for (r = 0; r < ROUNDS; r++) {
		for (i = 0; i < NPAGES; i++) {
			pages[i] = labyrinth_alloc_page(&pool, gfp);
			if (!pages[i]) {
				(*bad)++;
				continue;
			}
			if ((gfp & LAB_GFP_ZERO) && check_zero(pages[i]))
				(*bad)++;
			write_page(pages[i], (unsigned char)(r | 1));
		}
		if (labyrinth_free_bulk(&pool, pages, NPAGES) != NPAGES)
			(*bad)++;
	}
}

struct fresh {
	lab_gfp_t gfp;
	long first_faults, sweep_faults, empty_faults;
	unsigned int bad;
};

static void *fresh_thread(void *arg)
{
	struct fresh *f = arg;
	void *bulk[BULK];
	long before;
	void *p;
	unsigned int i;

	prefault_stack();
	(void)faults(); /* the first getrusage call touches its own stack too */
	before = faults();
	/* The thread's first calls into the library. */
	p = labyrinth_alloc_page(&pool, f->gfp);
	if (!p || ((f->gfp & LAB_GFP_ZERO) && check_zero(p)))
		f->bad++;
	else
		write_page(p, 0x11);
	if (labyrinth_free_page(&pool, p) != 0)
		f->bad++;
	if (labyrinth_alloc_bulk(&pool, f->gfp, bulk, BULK) != BULK)
		f->bad++;
	for (i = 0; i < BULK; i++)
		if (bulk[i])
			write_page(bulk[i], 0x22);
	if (labyrinth_free_bulk(&pool, bulk, BULK) != BULK)
		f->bad++;
	f->first_faults = faults() - before;

	before = faults();
	sweep(f->gfp, &f->bad);
	f->sweep_faults = faults() - before;
	return NULL;
}

/* A fresh thread whose first call finds the pool empty: NULL, errno, no fault. */
static void *empty_thread(void *arg)
{
	struct fresh *f = arg;
	long before;

	prefault_stack();
	(void)faults();
	before = faults();
	if (labyrinth_alloc_page(&pool, f->gfp) != NULL)
		f->bad++;
	else if (errno != ENOMEM)
		f->bad++;
	f->empty_faults = faults() - before;
	return NULL;
}

static void run_fresh(lab_gfp_t gfp, const char *what)
{
	struct fresh f = { .gfp = gfp };
	pthread_t t;

	REQUIRE(pthread_create(&t, NULL, fresh_thread, &f) == 0, "pthread_create");
	REQUIRE(pthread_join(t, NULL) == 0, "pthread_join");
	CHECK(f.bad == 0, "%s: fresh thread: %u wrong results", what, f.bad);
	CHECK(f.first_faults == 0, "%s: a fresh thread's first calls took %ld page faults",
	      what, f.first_faults);
	CHECK(f.sweep_faults == 0, "%s: a fresh thread's sweep of the pool took %ld page faults",
	      what, f.sweep_faults);
	printf("%s: fresh thread: first calls %ld faults, %u-page sweep x %u: %ld faults\n",
	       what, f.first_faults, NPAGES, ROUNDS, f.sweep_faults);
}

static void run_warm(lab_gfp_t gfp, const char *what)
{
	unsigned int bad = 0;
	long before, n_pairs, n_sweep;

	before = faults();
	pairs(gfp, &bad);
	n_pairs = faults() - before;
	before = faults();
	sweep(gfp, &bad);
	n_sweep = faults() - before;
	CHECK(bad == 0, "%s: warm thread: %u wrong results", what, bad);
	CHECK(n_pairs == 0, "%s: %u alloc+write+free pairs took %ld page faults", what, PAIRS,
	      n_pairs);
	CHECK(n_sweep == 0, "%s: %u-page sweep x %u took %ld page faults", what, NPAGES, ROUNDS,
	      n_sweep);
	printf("%s: warm thread: %u pairs %ld faults, %u-page sweep x %u: %ld faults\n", what,
	       PAIRS, n_pairs, NPAGES, ROUNDS, n_sweep);
}

/* A few calls on a thread that then exits: its cached pages go back to the
 * pool, so the fresh threads below can have every page. */
static void *warm_up(void *arg)
{
	unsigned int *bad = arg, i;
	void *p;

	for (i = 0; i < 8; i++) {
		p = labyrinth_void_alloc_page_gfp_atomic_exclusive(&pool);
		if (!p || labyrinth_free_page(&pool, p) != 0)
			(*bad)++;
		p = labyrinth_alloc_page(&pool, LAB_GFP_ATOMIC | LAB_GFP_ZERO);
		if (!p || labyrinth_free_page(&pool, p) != 0)
			(*bad)++;
	}
	return NULL;
}

int main(void)
{
	struct labyrinth_params prm = { .name = "nofault", .nr_pages = NPAGES };
	struct fresh f = { .gfp = LAB_GFP_ATOMIC };
	pthread_t t;
	unsigned int bad = 0, i;
	void *p;

#ifdef UNDER_SANITIZER
	SKIP_ALL("built with a sanitizer: its shadow memory is mapped lazily and faults on "
		 "first touch, so page faults cannot be attributed to the library");
#endif
	REQUIRE(faults() >= 0, "getrusage(RUSAGE_THREAD)");
	REQUIRE(labyrinth_init(&pool, &prm) == 0, "init a %u-page pool", NPAGES);
	prefault_stack();
	memset(pages, 0, sizeof(pages));

	/* Warm the library up with a few calls only: the pool's pages must
	 * already be present, not made present by this warm-up. */
	REQUIRE(pthread_create(&t, NULL, warm_up, &bad) == 0, "pthread_create");
	REQUIRE(pthread_join(t, NULL) == 0, "pthread_join");
	CHECK(bad == 0, "warm-up");
	(void)faults();

	/* Control: the measure sees faults where there are some. */
	p = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(p != MAP_FAILED, "mmap");
	{
		long before = faults(), n;

		for (i = 0; i < 16; i++)
			write_page((char *)p + i * PAGE, 1);
		n = faults() - before;
		CHECK(n >= 1, "control: writing 16 fresh anonymous pages took %ld faults", n);
		printf("control: writing 16 fresh anonymous pages took %ld faults\n", n);
	}
	munmap(p, 16 * PAGE);

	run_fresh(LAB_GFP_ATOMIC, "ATOMIC");
	run_fresh(LAB_GFP_ATOMIC | LAB_GFP_ZERO, "ATOMIC|ZERO");
	run_fresh(LAB_GFP_NOWAIT, "NOWAIT");
	run_warm(LAB_GFP_ATOMIC, "ATOMIC");
	run_warm(LAB_GFP_ATOMIC | LAB_GFP_ZERO, "ATOMIC|ZERO");

	/* Empty pool: the failure path sets errno, still without a fault. */
	CHECK_EQ(labyrinth_alloc_bulk(&pool, LAB_GFP_ATOMIC, pages, NPAGES), NPAGES);
	REQUIRE(pthread_create(&t, NULL, empty_thread, &f) == 0, "pthread_create");
	REQUIRE(pthread_join(t, NULL) == 0, "pthread_join");
	CHECK(f.bad == 0, "empty pool: expected NULL and ENOMEM");
	CHECK(f.empty_faults == 0, "empty pool: a fresh thread's failing first call took %ld "
	      "page faults", f.empty_faults);
	CHECK_EQ(labyrinth_free_bulk(&pool, pages, NPAGES), NPAGES);

	CHECK_EQ(labyrinth_check(&pool), 0);
	CHECK_EQ(labyrinth_destroy(&pool), 0);
	return check_done();
}
