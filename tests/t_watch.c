/* Description: labyrinth_watch: the eventfd becomes readable exactly when free pages fall below the mark, re-arms at the mark, works for several marks, from a signal handler, after the caller closes it, and destroy drops it. */
#include "check.h"

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <unistd.h>

#define NR 32

static labyrinth_t lab;
static void *pages[NR + 1];
static unsigned int nout;

static int readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	return poll(&pfd, 1, 0) == 1 && (pfd.revents & POLLIN);
}

/* Read the eventfd's count (0 if nothing pending). */
static uint64_t drain_fd(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static void take(unsigned int n)
{
	while (n--) {
		pages[nout] = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC);
		REQUIRE(pages[nout] != NULL, "page %u", nout);
		nout++;
	}
}

static void give(unsigned int n)
{
	while (n--)
		REQUIRE(labyrinth_free_page(&lab, pages[--nout]) == 0, "free");
}

static uint64_t free_pages(void)
{
	return check_stats(&lab).pages_free;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

static void one_watch(void)
{
	int fd, k;
	uint64_t ev0;

	fd = labyrinth_watch(&lab, 8);
	REQUIRE(fd >= 0, "watch: %d", fd);
	CHECK(!readable(fd), "readable at once with %llu free", (unsigned long long)free_pages());
	ev0 = check_stats(&lab).watch_events;

	/* down to the mark: nothing */
	take(NR - 8);
	CHECK_EQ(free_pages(), 8);
	CHECK(!readable(fd), "readable at the mark (8 free, mark 8)");
	/* below: readable, one event */
	take(1);
	CHECK(readable(fd), "not readable at 7 free, mark 8");
	CHECK_EQ(drain_fd(fd), 1);
	CHECK(!readable(fd), "still readable after read");
	CHECK_EQ(check_stats(&lab).watch_events, ev0 + 1);
	/* further down, and back up but not to the mark: no new event */
	take(3);
	CHECK(!readable(fd), "second event without re-arming (4 free)");
	give(3);
	take(2);
	give(2);
	CHECK_EQ(free_pages(), 7);
	take(1);
	CHECK(!readable(fd), "event at 6 free without climbing to the mark");
	give(1);
	/* back to the mark: re-armed; below again: one more event */
	give(1);
	CHECK_EQ(free_pages(), 8);
	CHECK(!readable(fd), "readable when climbing back");
	take(1);
	CHECK(readable(fd), "no event after re-arming");
	CHECK_EQ(drain_fd(fd), 1);
	CHECK_EQ(check_stats(&lab).watch_events, ev0 + 2);
	/* two crossings unread: the count says 2 */
	for (k = 0; k < 2; k++) {
		give(1);
		take(1);
	}
	CHECK_EQ(drain_fd(fd), 2);
	/* way above and down in one bulk call: one event */
	give(nout);
	CHECK_EQ(free_pages(), NR);
	{
		void *b[NR];
		unsigned int n = labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC, b, NR);

		CHECK_EQ(n, NR);
		CHECK_EQ(drain_fd(fd), 1);
		CHECK_EQ(labyrinth_free_bulk(&lab, b, n), n);
		CHECK(!readable(fd), "free made an event");
	}
	/* a failing allocation is no crossing */
	take(NR);
	CHECK_EQ(drain_fd(fd), 1);
	CHECK(labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC) == NULL, "empty");
	CHECK(!readable(fd), "failed allocation made an event");
	give(NR);

	/* the caller closes its descriptor: the pool keeps working */
	CHECK_EQ(close(fd), 0);
	ev0 = check_stats(&lab).watch_events;
	take(NR - 7);
	CHECK_EQ(check_stats(&lab).watch_events, ev0 + 1);
	give(NR - 7);
	take(NR);
	give(NR);
	CHECK_EQ(labyrinth_check(&lab), 0);
}

static void several_watches(void)
{
	static const unsigned int marks[4] = { 30, 16, 5, 1 };
	int fd[4], i;
	unsigned int step;
	uint64_t ev0 = check_stats(&lab).watch_events, seen = 0;

	for (i = 0; i < 4; i++) {
		fd[i] = labyrinth_watch(&lab, marks[i]);
		REQUIRE(fd[i] >= 0, "watch %u: %d", marks[i], fd[i]);
	}
	/* one page at a time: each watch fires on the step that goes below it */
	for (step = 1; step <= NR; step++) {
		take(1);
		for (i = 0; i < 4; i++) {
			int want = NR - step == marks[i] - 1;
			int got = readable(fd[i]);

			CHECK(got == want, "free %u, mark %u: readable %d, want %d", NR - step,
			      marks[i], got, want);
			if (got) {
				CHECK_EQ(drain_fd(fd[i]), 1);
				seen++;
			}
		}
	}
	CHECK_EQ(seen, 4);
	CHECK_EQ(check_stats(&lab).watch_events, ev0 + 4);
	/* all back, then all out at once: every watch fires once */
	give(NR);
	take(NR);
	for (i = 0; i < 4; i++)
		CHECK(readable(fd[i]) && drain_fd(fd[i]) == 1, "bulk drain, mark %u", marks[i]);
	/* a new watch made below its mark is readable at once */
	give(3);
	{
		int late = labyrinth_watch(&lab, 10), at = labyrinth_watch(&lab, 3);

		REQUIRE(late >= 0 && at >= 0, "late watches %d %d", late, at);
		CHECK(readable(late), "watch made below its mark (free 3, mark 10) not readable");
		CHECK_EQ(drain_fd(late), 1);
		CHECK(!readable(at), "watch made at its mark is readable");
		take(1);
		CHECK(readable(at), "watch made at its mark missed the crossing");
		CHECK(!readable(late), "late watch fired again without re-arming");
		close(late);
		close(at);
	}
	give(nout);
	for (i = 0; i < 4; i++)
		close(fd[i]);
	CHECK_EQ(labyrinth_check(&lab), 0);
}

/* A signal handler allocates across the mark. */
static void *volatile sig_pages[4];
static volatile sig_atomic_t sig_got;

static void on_usr1(int sig)
{
	int i;

	(void)sig;
	for (i = 0; i < 4; i++) {
		sig_pages[i] = labyrinth_void_alloc_page_gfp_atomic_exclusive(&lab);
		if (sig_pages[i])
			sig_got++;
	}
}

static void from_signal(void)
{
	struct sigaction sa;
	int fd, i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	REQUIRE(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction");
	fd = labyrinth_watch(&lab, 6);
	REQUIRE(fd >= 0, "watch");
	take(NR - 8); /* 8 free: the handler's 4 pages cross 6 */
	CHECK(!readable(fd), "early");
	errno = 12345;
	raise(SIGUSR1);
	CHECK_EQ(errno, 12345); /* the handler left errno alone */
	CHECK_EQ(sig_got, 4);
	CHECK(readable(fd), "allocation in a signal handler did not signal the watch");
	CHECK_EQ(drain_fd(fd), 1);
	CHECK_EQ(free_pages(), 4);
	for (i = 0; i < 4; i++)
		CHECK_EQ(labyrinth_free_page(&lab, sig_pages[i]), 0);
	give(nout);
	close(fd);
	signal(SIGUSR1, SIG_DFL);
}

static void fresh_pool(void)
{
	struct labyrinth_params p = { .name = "watch", .nr_pages = NR };

	if (labyrinth_page_size(&lab))
		REQUIRE(labyrinth_destroy(&lab) == 0, "destroy");
	REQUIRE(labyrinth_init(&lab, &p) == 0, "init");
	nout = 0;
}

/* Many watches: each either works or fails with a negative errno. */
static void many_watches(void)
{
	int fd[16], n, i, ok = 0;

	for (n = 0; n < 16; n++) {
		fd[n] = labyrinth_watch(&lab, (size_t)(n % NR) + 1);
		CHECK(fd[n] >= 0 || fd[n] == -ENOSPC || fd[n] == -EMFILE || fd[n] == -ENOMEM,
		      "watch %d: %d", n, fd[n]);
		ok += fd[n] >= 0;
	}
	CHECK(ok >= 4, "only %d watches", ok);
	take(NR);
	for (i = 0; i < n; i++) {
		if (fd[i] < 0)
			continue;
		CHECK(readable(fd[i]) && drain_fd(fd[i]) == 1, "watch %d did not fire once", i);
		close(fd[i]);
	}
	give(NR);
	CHECK_EQ(labyrinth_check(&lab), 0);
}

/* A big pool: this thread's cache holds pages while the watch is made and
 * crossed, and the mark is still judged on the exact free count. */
static void watch_with_cached_pages(void)
{
	labyrinth_t big = { 0 };
	struct labyrinth_params pr = { .name = "cached", .nr_pages = 1024 };
	static void *pg[1024];
	unsigned int n = 0;
	int fd;

	REQUIRE(labyrinth_init(&big, &pr) == 0, "init");
	pg[n++] = labyrinth_alloc_page(&big, LAB_GFP_ATOMIC); /* fills this thread's cache */
	fd = labyrinth_watch(&big, 1000);
	REQUIRE(fd >= 0, "watch: %d", fd);
	CHECK(!readable(fd), "1023 free pages, mark 1000: readable at once");
	while (n < 24)
		pg[n++] = labyrinth_alloc_page(&big, LAB_GFP_ATOMIC);
	CHECK_EQ(check_stats(&big).pages_free, 1000);
	CHECK(!readable(fd), "1000 free pages, mark 1000: readable");
	pg[n++] = labyrinth_alloc_page(&big, LAB_GFP_ATOMIC);
	CHECK(readable(fd), "999 free pages, mark 1000: not readable");
	CHECK_EQ(drain_fd(fd), 1);
	CHECK_EQ(labyrinth_free_bulk(&big, pg, n), n);
	close(fd);
	CHECK_EQ(labyrinth_destroy(&big), 0);
}

/* The same with free blocks in this thread's block cache: they are free
 * pages, and a watch made then is judged with them. */
static void watch_with_cached_blocks(void)
{
	labyrinth_t big = { 0 };
	struct labyrinth_params pr = { .name = "cached-blocks", .nr_pages = 1024 };
	void *b[4], *one;
	unsigned int i;
	int fd;

	REQUIRE(labyrinth_init(&big, &pr) == 0, "init");
	for (i = 0; i < 4; i++) {
		b[i] = labyrinth_alloc_pages(&big, LAB_GFP_ATOMIC, 1 + i % 3);
		REQUIRE(b[i] != NULL, "block %u", i);
	}
	for (i = 0; i < 4; i++)
		CHECK_EQ(labyrinth_free_pages(&big, b[i], 1 + i % 3), 0);
	one = labyrinth_alloc_page(&big, LAB_GFP_ATOMIC);
	REQUIRE(one != NULL, "page");
	CHECK_EQ(check_stats(&big).pages_free, 1023);
	fd = labyrinth_watch(&big, 1023);
	REQUIRE(fd >= 0, "watch: %d", fd);
	CHECK(!readable(fd), "1023 free pages (blocks cached), mark 1023: readable at once");
	close(fd);
	fd = labyrinth_watch(&big, 1024);
	REQUIRE(fd >= 0, "watch: %d", fd);
	CHECK(readable(fd) && drain_fd(fd) == 1, "1023 free pages, mark 1024: not readable");
	close(fd);
	CHECK_EQ(labyrinth_free_page(&big, one), 0);
	CHECK_EQ(labyrinth_destroy(&big), 0);
}

int main(void)
{
	int fds0, fd, i;

	watch_with_cached_pages();
	watch_with_cached_blocks();
	/* bad arguments */
	CHECK_EQ(labyrinth_watch(NULL, 4), -EINVAL);
	CHECK_EQ(labyrinth_watch(&lab, 4), -EINVAL); /* zeroed pool */

	fds0 = count_fds();
	fresh_pool();
	CHECK_EQ(labyrinth_watch(&lab, 0), -EINVAL);
	CHECK_EQ(count_fds(), fds0);

	one_watch();
	fresh_pool();
	several_watches();
	fresh_pool();
	from_signal();
	fresh_pool();
	many_watches();
	fresh_pool();

	/* watches that the caller keeps open, and one it closed: destroy works */
	fd = labyrinth_watch(&lab, 3);
	CHECK(fd >= 0, "watch");
	i = labyrinth_watch(&lab, 20);
	CHECK(i >= 0, "watch");
	take(NR);
	CHECK(readable(fd) && readable(i), "both fire");
	give(NR);
	close(i);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
	/* the pool's own references are gone: only the caller's fd remains */
	CHECK_EQ(count_fds(), fds0 + 1);
	close(fd);
	CHECK_EQ(count_fds(), fds0);
	CHECK_EQ(labyrinth_watch(&lab, 4), -EINVAL); /* destroyed pool */
	return check_done();
}
