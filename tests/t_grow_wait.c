/* Description: LAB_GFP_KERNEL grows the pool up to max_pages (NOWAIT/ATOMIC never grow), then waits up to wait_ms for a freed page, which reaches the sleeper; labyrinth_dump, run meanwhile on another thread, counts every grown page on a node. */
#include "check.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#define NR 16
#define MAX 4096

static void *pages[MAX + 1];

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int cmp_ptr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

static void growth(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_params p = { .name = "grow", .nr_pages = NR, .max_pages = MAX };
	struct labyrinth_stats st, prev;
	static void *sorted[MAX];
	unsigned int n = 0, i, bad = 0, grow_steps = 0;
	void *pg;

	p.flags = nolock_unless_lockable(p.name, (size_t)MAX * 4096);
	REQUIRE(labyrinth_init(&lab, &p) == 0, "init");
	st = check_stats(&lab);
	CHECK_EQ(st.pages_total, NR);
	CHECK_EQ(st.max_pages, MAX);

	/* NOWAIT and ATOMIC take the initial pages and never grow */
	while ((pg = labyrinth_alloc_page(&lab, n & 1 ? LAB_GFP_NOWAIT : LAB_GFP_ATOMIC)))
		pages[n++] = pg;
	CHECK_EQ(n, NR);
	CHECK(errno == ENOMEM, "errno %d", errno);
	CHECK(labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT) == NULL, "NOWAIT grew");
	CHECK(labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC) == NULL, "ATOMIC grew");
	CHECK_EQ(labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC, pages + n, 8), 0);
	st = check_stats(&lab);
	CHECK_EQ(st.pages_total, NR);
	CHECK_EQ(st.grows, 0);
	CHECK_EQ(st.waits, 0);

	/* KERNEL grows, one page at a time, to exactly MAX */
	prev = st;
	while (n < MAX + 1) {
		pg = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL);
		if (!pg)
			break;
		if (!labyrinth_owns(&lab, pg) || ((uintptr_t)pg & 4095))
			bad++;
		memset(pg, 0x3c, 4096); /* mapped and writable */
		pages[n++] = pg;
		st = check_stats(&lab);
		if (st.pages_total != prev.pages_total) {
			grow_steps++;
			CHECK(st.pages_total > prev.pages_total, "pages_total shrank");
			CHECK_EQ(st.grows, prev.grows + 1);
		}
		CHECK(st.pages_total <= MAX, "pages_total %llu over max_pages",
		      (unsigned long long)st.pages_total);
		CHECK(st.pages_free + st.pages_inuse == st.pages_total, "free + inuse != total");
		CHECK_EQ(st.pages_inuse, n);
		prev = st;
	}
	CHECK(errno == ENOMEM, "KERNEL at max_pages: errno %d", errno);
	CHECK_EQ(n, MAX);
	CHECK_EQ(bad, 0);
	st = check_stats(&lab);
	CHECK_EQ(st.pages_total, MAX);
	CHECK_EQ(st.pages_free, 0);
	CHECK(st.grows >= 1 && st.grows == grow_steps, "grows %llu, steps seen %u",
	      (unsigned long long)st.grows, grow_steps);
	CHECK_EQ(st.waits, 0); /* wait_ms is 0: never slept */
	CHECK(st.alloc_failed >= 4 + 1, "failures not counted");
	CHECK_EQ(labyrinth_check(&lab), 0);
	memcpy(sorted, pages, sizeof(sorted));
	qsort(sorted, MAX, sizeof(sorted[0]), cmp_ptr);
	for (i = 1; i < MAX; i++)
		CHECK(sorted[i] != sorted[i - 1], "page %p given twice", sorted[i]);
	/* the pool stays one range: page i at base + i pages */
	CHECK((uintptr_t)sorted[MAX - 1] - (uintptr_t)sorted[0] == (uintptr_t)(MAX - 1) * 4096,
	      "pages not one contiguous range");
	/* KERNEL once more: still no growth past max */
	CHECK(labyrinth_alloc_page(&lab, LAB_GFP_KERNEL) == NULL && errno == ENOMEM, "past max");
	CHECK_EQ(check_stats(&lab).pages_total, MAX);

	/* every page back; then NOWAIT reaches all of them, grown ones too */
	CHECK_EQ(labyrinth_free_bulk(&lab, pages, MAX), MAX);
	st = check_stats(&lab);
	CHECK_EQ(st.pages_free, MAX);
	n = labyrinth_alloc_bulk(&lab, LAB_GFP_NOWAIT, pages, MAX + 1);
	CHECK_EQ(n, MAX);
	CHECK_EQ(labyrinth_free_bulk(&lab, pages, n), n);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/* KERNEL grows rather than take the reserve. */
/* The pages the dump's node line counts ("pages on node0 N ... unknown
 * N"), all nodes together; -1 without the line. */
static long dump_node_pages(labyrinth_t *lab)
{
	char *text = NULL, *at, *end;
	size_t len = 0;
	long sum = 0;
	FILE *f = open_memstream(&text, &len);

	REQUIRE(f != NULL, "open_memstream");
	CHECK_EQ(labyrinth_dump(lab, f), 0);
	fclose(f);
	at = text ? strstr(text, "pages on") : NULL;
	if (!at) {
		free(text);
		return -1;
	}
	end = strchr(at, '\n');
	for (at += strlen("pages on"); at < end;) {
		at += strspn(at, " ");
		at += strcspn(at, " \n"); /* "nodeN", "nodeN+" or "unknown" */
		sum += strtol(at, &at, 10);
	}
	free(text);
	return sum;
}

static atomic_int growing, dumps;

/* labyrinth_dump over and over while another thread grows the pool: the
 * node counts that growth adds are read meanwhile (the grower waits for a
 * dump before each growth step, so the two overlap). */
static void *dump_loop(void *arg)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	REQUIRE(f != NULL, "open_memstream");
	while (atomic_load_explicit(&growing, memory_order_relaxed)) {
		CHECK_EQ(labyrinth_dump(arg, f), 0);
		rewind(f);
		atomic_fetch_add_explicit(&dumps, 1, memory_order_relaxed);
	}
	fclose(f);
	free(text);
	return NULL;
}

/* Until the dump thread has finished one more dump. */
static void wait_for_a_dump(void)
{
	int seen = atomic_load_explicit(&dumps, memory_order_relaxed);

	while (atomic_load_explicit(&dumps, memory_order_relaxed) - seen < 2)
		sched_yield();
}

/* Growth while a dump runs; after it, the dump counts every page on some
 * node (or unknown): pages_total in all. */
static void dump_while_growing(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_params p = { .name = "grow-dump", .nr_pages = NR, .max_pages = MAX };
	unsigned int n = 0;
	pthread_t t;
	void *pg;

	p.flags = nolock_unless_lockable(p.name, (size_t)MAX * 4096);
	REQUIRE(labyrinth_init(&lab, &p) == 0, "init");
	CHECK_EQ(dump_node_pages(&lab), NR);
	atomic_store_explicit(&growing, 1, memory_order_relaxed);
	REQUIRE(pthread_create(&t, NULL, dump_loop, &lab) == 0, "pthread_create");
	while (n < MAX) {
		if (n >= NR && (n - NR) % 1024 == 0)
			wait_for_a_dump(); /* the pool is full: this allocation grows it */
		if (!(pg = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL)))
			break;
		pages[n++] = pg;
	}
	atomic_store_explicit(&growing, 0, memory_order_relaxed);
	pthread_join(t, NULL);
	CHECK_EQ(n, MAX);
	CHECK_EQ(check_stats(&lab).pages_total, MAX);
	CHECK_EQ(dump_node_pages(&lab), MAX);
	CHECK_EQ(labyrinth_free_bulk(&lab, pages, n), n);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

static void grow_keeps_reserve(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_params p = { .name = "grow-reserve", .nr_pages = 8, .reserve_pages = 4,
				      .max_pages = 2048 };
	struct labyrinth_stats st;
	void *pg[5], *k;

	REQUIRE(labyrinth_init(&lab, &p) == 0, "init");
	CHECK_EQ(labyrinth_alloc_bulk(&lab, LAB_GFP_NOWAIT, pg, 5), 4);
	k = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL);
	CHECK(k != NULL, "KERNEL with only the reserve free");
	st = check_stats(&lab);
	CHECK_EQ(st.grows, 1);
	CHECK_EQ(st.reserve_allocs, 0);
	CHECK(st.pages_total > 8, "no growth");
	CHECK_EQ(st.pages_free, st.pages_total - 5);
	CHECK_EQ(labyrinth_free_page(&lab, k), 0);
	CHECK_EQ(labyrinth_free_bulk(&lab, pg, 4), 4);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

struct freer {
	labyrinth_t *lab;
	void *page[4];
	int n;
	long delay_ms;
};

static void *free_later(void *arg)
{
	struct freer *f = arg;
	int i;

	for (i = 0; i < f->n; i++) {
		sleep_ms(f->delay_ms);
		CHECK_EQ(labyrinth_free_page(f->lab, f->page[i]), 0);
	}
	return NULL;
}

struct sleeper {
	labyrinth_t *lab;
	void *got;
	int err;
};

static void *alloc_kernel(void *arg)
{
	struct sleeper *s = arg;

	errno = 0;
	s->got = labyrinth_alloc_page(s->lab, LAB_GFP_KERNEL);
	s->err = errno;
	return NULL;
}

/* A pool of nr pages, all allocated into out[]. */
static void full_pool(labyrinth_t *lab, unsigned int nr, unsigned int reserve, long wait_ms,
		      void **out)
{
	struct labyrinth_params p = { .name = "wait", .nr_pages = nr, .reserve_pages = reserve,
				      .wait_ms = wait_ms };

	memset(lab, 0, sizeof(*lab));
	REQUIRE(labyrinth_init(lab, &p) == 0, "init wait pool");
	REQUIRE(labyrinth_alloc_bulk(lab, LAB_GFP_ATOMIC, out, nr) == nr, "drain");
}

static void waiting(void)
{
	labyrinth_t lab;
	void *pg[8];
	struct labyrinth_stats st;
	long long t0, dt;
	pthread_t th, th2;
	struct freer f;
	struct sleeper s1, s2;
	void *got;

	/* wait_ms = 200: fails after about 200 ms with ENOMEM */
	full_pool(&lab, 8, 0, 200, pg);
	t0 = now_ms();
	errno = 0;
	got = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL);
	dt = now_ms() - t0;
	CHECK(got == NULL && errno == ENOMEM, "timed wait: %p errno %d", got, errno);
	CHECK(dt >= 150, "gave up after %lld ms, wait_ms 200", dt);
	CHECK(dt < 20000, "waited %lld ms, wait_ms 200", dt);
	st = check_stats(&lab);
	CHECK(st.waits >= 1, "waits not counted");
	CHECK_EQ(st.alloc_failed, 1);
	CHECK_EQ(st.grows, 0);
	/* NOWAIT/ATOMIC on the same pool do not wait */
	st = check_stats(&lab);
	CHECK(labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT) == NULL, "NOWAIT");
	CHECK(labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC) == NULL, "ATOMIC");
	CHECK_EQ(check_stats(&lab).waits, st.waits);
	CHECK_EQ(labyrinth_free_bulk(&lab, pg, 8), 8);
	CHECK_EQ(labyrinth_destroy(&lab), 0);

	/* a page freed while waiting (timed, 10 s) reaches the waiter */
	full_pool(&lab, 8, 0, 10000, pg);
	f = (struct freer){ .lab = &lab, .page = { pg[3] }, .n = 1, .delay_ms = 50 };
	REQUIRE(pthread_create(&th, NULL, free_later, &f) == 0, "thread");
	got = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL);
	pthread_join(th, NULL);
	CHECK(got == pg[3], "timed waiter got %p, freed %p", got, pg[3]);
	if (got)
		pg[3] = got;
	CHECK_EQ(labyrinth_free_bulk(&lab, pg, 8), 8);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);

	/* wait_ms = -1: forever; a page freed 50 ms later reaches the sleeper */
	full_pool(&lab, 8, 0, -1, pg);
	f = (struct freer){ .lab = &lab, .page = { pg[5] }, .n = 1, .delay_ms = 50 };
	REQUIRE(pthread_create(&th, NULL, free_later, &f) == 0, "thread");
	errno = 0;
	got = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL);
	pthread_join(th, NULL);
	CHECK(got == pg[5], "forever waiter got %p (errno %d), freed %p", got, errno, pg[5]);
	if (got)
		pg[5] = got;
	st = check_stats(&lab);
	CHECK_EQ(st.pages_free, 0);
	CHECK_EQ(st.alloc_failed, 0);
	CHECK_EQ(labyrinth_check(&lab), 0);

	/* two sleepers, two frees: both served */
	s1 = (struct sleeper){ .lab = &lab };
	s2 = (struct sleeper){ .lab = &lab };
	REQUIRE(pthread_create(&th, NULL, alloc_kernel, &s1) == 0, "thread");
	REQUIRE(pthread_create(&th2, NULL, alloc_kernel, &s2) == 0, "thread");
	sleep_ms(50);
	CHECK_EQ(labyrinth_free_page(&lab, pg[0]), 0);
	sleep_ms(20);
	CHECK_EQ(labyrinth_free_page(&lab, pg[1]), 0);
	pthread_join(th, NULL);
	pthread_join(th2, NULL);
	CHECK(s1.got && s2.got && s1.got != s2.got, "sleepers got %p and %p", s1.got, s2.got);
	CHECK((s1.got == pg[0] || s1.got == pg[1]) && (s2.got == pg[0] || s2.got == pg[1]),
	      "sleepers got pages that were not freed");
	CHECK_EQ(check_stats(&lab).pages_free, 0);
	CHECK_EQ(labyrinth_free_bulk(&lab, pg, 8), 8);
	CHECK_EQ(labyrinth_destroy(&lab), 0);

	/* the reserve: a sleeper is served only once free pages exceed it */
	full_pool(&lab, 8, 2, -1, pg);
	f = (struct freer){ .lab = &lab, .page = { pg[0], pg[1], pg[2] }, .n = 3,
			    .delay_ms = 40 };
	REQUIRE(pthread_create(&th, NULL, free_later, &f) == 0, "thread");
	got = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL);
	pthread_join(th, NULL);
	CHECK(got == pg[0] || got == pg[1] || got == pg[2], "reserve sleeper got %p", got);
	st = check_stats(&lab);
	CHECK_EQ(st.pages_free, 2);
	CHECK_EQ(st.reserve_allocs, 2);
	{
		void *r[2];

		/* the two left are the reserve: ATOMIC only */
		CHECK(labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT) == NULL, "NOWAIT took reserve");
		CHECK_EQ(labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC, r, 2), 2);
		CHECK_EQ(labyrinth_free_bulk(&lab, r, 2), 2);
	}
	CHECK_EQ(labyrinth_free_page(&lab, got), 0);
	CHECK_EQ(labyrinth_free_bulk(&lab, pg + 3, 5), 5);
	CHECK_EQ(check_stats(&lab).pages_free, 8);
	CHECK_EQ(labyrinth_destroy(&lab), 0);

	/* wait_ms = 0: NULL at once, no sleep */
	full_pool(&lab, 8, 0, 0, pg);
	t0 = now_ms();
	errno = 0;
	got = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL);
	dt = now_ms() - t0;
	CHECK(got == NULL && errno == ENOMEM, "no wait: %p errno %d", got, errno);
	CHECK(dt < 5000, "wait_ms 0 took %lld ms", dt);
	st = check_stats(&lab);
	CHECK_EQ(st.waits, 0);
	CHECK_EQ(st.alloc_failed, 1);
	CHECK_EQ(labyrinth_free_bulk(&lab, pg, 8), 8);
	CHECK_EQ(labyrinth_destroy(&lab), 0);

	/* growth comes before waiting: a growable pool with wait_ms = -1 */
	{
		struct labyrinth_params gp = { .name = "grow-then-wait", .nr_pages = 4,
					       .max_pages = 8, .wait_ms = -1 };
		void *g[8];
		unsigned int n;

		memset(&lab, 0, sizeof(lab));
		REQUIRE(labyrinth_init(&lab, &gp) == 0, "init");
		for (n = 0; n < 8; n++) {
			g[n] = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL);
			CHECK(g[n] != NULL, "KERNEL %u", n);
		}
		st = check_stats(&lab);
		CHECK_EQ(st.pages_total, 8);
		CHECK_EQ(st.waits, 0);
		CHECK(st.grows >= 1, "no growth");
		CHECK_EQ(labyrinth_free_bulk(&lab, g, 8), 8);
		CHECK_EQ(labyrinth_destroy(&lab), 0);
	}
}

static void on_usr1(int sig)
{
	(void)sig;
}

struct poker {
	pthread_t target;
	labyrinth_t *lab;
	void *page; /* freed after the signals, if set */
};

/* Interrupt the target's sleep with signals, then maybe free a page. */
static void *poke(void *arg)
{
	struct poker *k = arg;
	int i;

	for (i = 0; i < 3; i++) {
		sleep_ms(40);
		pthread_kill(k->target, SIGUSR1);
	}
	if (k->page) {
		sleep_ms(40);
		CHECK_EQ(labyrinth_free_page(k->lab, k->page), 0);
	}
	return NULL;
}

/* Signals do not end a wait early: EINTR is not a timeout nor a page. */
static void interrupted(void)
{
	labyrinth_t lab;
	void *pg[8], *got;
	struct sigaction sa;
	struct poker k;
	pthread_t th;
	long long t0, dt;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	REQUIRE(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");

	full_pool(&lab, 8, 0, 400, pg);
	k = (struct poker){ .target = pthread_self(), .lab = &lab };
	REQUIRE(pthread_create(&th, NULL, poke, &k) == 0, "thread");
	t0 = now_ms();
	errno = 0;
	got = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL);
	dt = now_ms() - t0;
	pthread_join(th, NULL);
	CHECK(got == NULL && errno == ENOMEM, "interrupted timed wait: %p errno %d", got, errno);
	CHECK(dt >= 300, "signals cut a 400 ms wait to %lld ms", dt);
	CHECK_EQ(labyrinth_free_bulk(&lab, pg, 8), 8);
	CHECK_EQ(labyrinth_destroy(&lab), 0);

	full_pool(&lab, 8, 0, -1, pg);
	k = (struct poker){ .target = pthread_self(), .lab = &lab, .page = pg[2] };
	REQUIRE(pthread_create(&th, NULL, poke, &k) == 0, "thread");
	errno = 0;
	got = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL);
	pthread_join(th, NULL);
	CHECK(got == pg[2], "interrupted forever-wait got %p (errno %d), freed %p", got, errno,
	      pg[2]);
	CHECK_EQ(labyrinth_free_bulk(&lab, pg, 8), 8);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
	signal(SIGUSR1, SIG_DFL);
}

/* A lost wake-up would hang a forever-waiter: fail loudly instead. */
static void on_alarm(int sig)
{
	static const char msg[] = "FAIL t_grow_wait: a waiter never woke (watchdog, 120 s)\n";

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	_exit(1);
}

int main(void)
{
	signal(SIGALRM, on_alarm);
	alarm(120);
	growth();
	dump_while_growing();
	grow_keeps_reserve();
	waiting();
	interrupted();
	return check_done();
}
