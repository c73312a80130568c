/* Description: LABYRINTH_STATS=1 publishes each pool's labyrinth_stats to readers outside
 * the process: the figures read from outside equal the publisher's own, the rates are the
 * counters' growth over the last period, a destroyed pool's record and an exited process's
 * file go at once, a SIGKILLed publisher's file (or one whose pid was reused) is found
 * stale and removed, a process without the variable publishes nothing, a hard link in the
 * file's name is never taken over (emptied), a file owned by another user than its live
 * process is not shown, a file truncated under the reader is no crash, and a fork child
 * publishes apart from its parent. */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"
#include "top_read.h"

static char dir[64]; /* this run's own directory under /dev/shm */

struct child {
	pid_t pid;
	int to, from; /* pipes: to the child, from it */
};

static void put(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		_exit(90);
}

/* Blocking: the other side always answers, or its end closes (then 0). */
static int get(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return 0;
		got += (size_t)n;
	}
	return 1;
}

static char get_byte(int fd)
{
	char b = 0;

	return get(fd, &b, 1) ? b : 0;
}

/* stats: "1" publishes, NULL leaves the variable out, anything else is a value. */
static void start_child(struct child *c, const char *stats, void (*body)(int in, int out))
{
	int down[2], up[2];

	REQUIRE(pipe(down) == 0 && pipe(up) == 0, "pipe: %s", strerror(errno));
	c->pid = fork();
	REQUIRE(c->pid >= 0, "fork: %s", strerror(errno));
	if (c->pid == 0) {
		close(down[1]);
		close(up[0]);
		if (stats)
			setenv("LABYRINTH_STATS", stats, 1);
		else
			unsetenv("LABYRINTH_STATS");
		setenv("LABYRINTH_STATS_MS", "20", 1);
		setenv("LABYRINTH_STATS_DIR", dir, 1);
		body(down[0], up[1]);
		exit(0); /* a normal exit: the exit handler removes the file */
	}
	close(down[0]);
	close(up[1]);
	c->to = down[1];
	c->from = up[0];
}

static int finish_child(struct child *c)
{
	int st = 0;

	close(c->to);
	close(c->from);
	waitpid(c->pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void path_of(pid_t pid, char *path, size_t size)
{
	snprintf(path, size, "%s/" LAB_PUB_PREFIX "%ld", dir, (long)pid);
}

static int entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static const struct lab_pub_record *find_pool(const struct top_proc *tp, const char *name)
{
	unsigned int i;

	for (i = 0; i < tp->nr_pools; i++)
		if (!strcmp(tp->pools[i].name, name))
			return &tp->pools[i];
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * The pool's record once it was rewritten twice after this call: the
 * publisher takes the pool's stats before it bumps seq, so the first
 * rewrite may hold stats from before the call, the second cannot.  A
 * poll for that event, with a deadline for a publisher that never does.
 */
static const struct lab_pub_record *fresh_record(const char *path, struct top_proc *tp,
						 const char *name)
{
	const struct lab_pub_record *r;
	struct timespec nap = { 0, 5000000 };
	double end = now_s() + 20;
	uint32_t first;

	if (top_read_file(path, tp) || !(r = find_pool(tp, name)))
		return NULL;
	first = r->seq;
	while (now_s() < end) {
		if (!top_read_file(path, tp) && (r = find_pool(tp, name)) && r->seq - first >= 4)
			return r;
		nanosleep(&nap, NULL);
	}
	return NULL;
}

/* ---- a known pattern, read from outside ---- */

static void pattern_child(int in, int out)
{
	struct labyrinth_params pr = { .name = "top-pattern", .nr_pages = 256, .reserve_pages = 8 };
	labyrinth_t lab = { 0 };
	struct labyrinth_stats st;
	void *pages[300], *blocks[3], *pg;
	unsigned int n = 0, i;
	int watch, rc;

	if (labyrinth_init(&lab, &pr))
		_exit(10);
	watch = labyrinth_watch(&lab, 200); /* crossed below */
	for (i = 0; i < 100; i++)
		pages[n++] = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	for (i = 0; i < 3; i++)
		blocks[i] = labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT, 2);
	for (i = 0; i < 40; i++)
		labyrinth_free_page(&lab, pages[--n]);
	labyrinth_free_page(&lab, (char *)pages[0] + 1); /* -EINVAL: a bad free */
	labyrinth_free_page(&lab, pages[n]);             /* -EALREADY: another */
	while (n < 300 && (pg = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT)))
		pages[n++] = pg; /* until it fails once */
	while (n > 60)
		labyrinth_free_page(&lab, pages[--n]);
	if (labyrinth_stats(&lab, &st))
		_exit(11);
	put(out, &st, sizeof(st));
	if (get_byte(in) != 'd')
		_exit(12);
	while (n)
		labyrinth_free_page(&lab, pages[--n]);
	for (i = 0; i < 3; i++)
		labyrinth_free_pages(&lab, blocks[i], 2);
	close(watch);
	rc = labyrinth_destroy(&lab);
	put(out, rc ? "F" : "D", 1);
	if (get_byte(in) != 'x')
		_exit(13);
}

static void test_pattern(struct top_proc *tp)
{
	const struct lab_pub_record *r;
	struct labyrinth_stats own;
	struct child c;
	char path[128];
	struct stat sb;

	start_child(&c, "1", pattern_child);
	REQUIRE(get(c.from, &own, sizeof(own)), "the child reported no stats");
	/* the pattern is what it says, so that equality below means something */
	CHECK_EQ(own.pages_inuse, 60 + 12);
	CHECK_EQ(own.bad_frees, 2);
	CHECK_EQ(own.alloc_failed, 1);
	CHECK(own.watch_events >= 1, "watch_events %llu", (unsigned long long)own.watch_events);
	path_of(c.pid, path, sizeof(path));
	CHECK(stat(path, &sb) == 0, "%s: %s", path, strerror(errno));
	CHECK((sb.st_mode & 0777) == 0600, "mode %o", (unsigned int)(sb.st_mode & 0777));
	CHECK_EQ(sb.st_size, LAB_PUB_FILE_SIZE);
	CHECK_EQ(sb.st_uid, geteuid());
	r = fresh_record(path, tp, "top-pattern");
	REQUIRE(r, "no fresh record of pool top-pattern in %s", path);
	CHECK(tp->state == TOP_LIVE, "state %s", top_state_name(tp->state));
	CHECK_EQ(tp->pid, c.pid);
	CHECK_EQ(tp->period_ms, 20);
	CHECK_EQ(tp->nr_pools, 1);
	CHECK_EQ(r->st.pages_total, own.pages_total);
	CHECK_EQ(r->st.pages_free, own.pages_free);
	CHECK_EQ(r->st.pages_inuse, own.pages_inuse);
	CHECK_EQ(r->st.pages_cached, own.pages_cached);
	CHECK_EQ(r->st.allocs, own.allocs);
	CHECK_EQ(r->st.frees, own.frees);
	CHECK_EQ(r->st.alloc_failed, own.alloc_failed);
	CHECK_EQ(r->st.bad_frees, own.bad_frees);
	CHECK_EQ(r->st.watch_events, own.watch_events);
	CHECK(memcmp(&r->st, &own, sizeof(own)) == 0, "some other field of the stats differs");
	/* two periods without a call: no allocation per second */
	CHECK_EQ(r->allocs_per_s, 0);
	CHECK_EQ(r->frees_per_s, 0);

	put(c.to, "d", 1);
	CHECK_EQ(get_byte(c.from), 'D');
	CHECK(top_read_file(path, tp) == 0 && tp->state == TOP_LIVE, "the file is there");
	CHECK_EQ(tp->nr_pools, 0); /* destroyed: its record went with it */
	put(c.to, "x", 1);
	CHECK_EQ(finish_child(&c), 0);
	CHECK(access(path, F_OK) != 0 && errno == ENOENT, "%s left after a normal exit", path);
}

/* ---- the rates: allocations per second over the last period ---- */

static volatile sig_atomic_t busy_stop;

static void on_term(int sig)
{
	(void)sig;
	busy_stop = 1;
}

static void busy_child(int in, int out)
{
	struct sigaction sa = { .sa_handler = on_term };
	labyrinth_t lab = { 0 };
	void *pg;

	(void)in;
	sigaction(SIGTERM, &sa, NULL);
	if (labyrinth_init(&lab, &(struct labyrinth_params){ .name = "top-busy" }))
		_exit(10);
	put(out, "R", 1);
	while (!busy_stop) {
		pg = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
		if (pg)
			labyrinth_free_page(&lab, pg);
	}
	if (labyrinth_destroy(&lab))
		_exit(11);
}

/* Two consecutive records of a busy pool: the second's rates are the
 * counters' growth between them over the time between them. */
static void test_rates(struct top_proc *tp)
{
	struct timespec nap = { 0, 1000000 };
	struct lab_pub_record prev = { 0 };
	const struct lab_pub_record *r;
	double end;
	struct child c;
	char path[128];
	int found = 0;

	start_child(&c, "1", busy_child);
	CHECK_EQ(get_byte(c.from), 'R');
	path_of(c.pid, path, sizeof(path));
	for (end = now_s() + 20; !found && now_s() < end; nanosleep(&nap, NULL)) {
		if (top_read_file(path, tp) || !(r = find_pool(tp, "top-busy")) || r->seq == prev.seq)
			continue;
		if (prev.seq && r->seq == prev.seq + 2 && r->at_ms > prev.at_ms &&
		    r->st.allocs > prev.st.allocs) {
			found = 1;
			CHECK_EQ(r->allocs_per_s,
				 (r->st.allocs - prev.st.allocs) * 1000 / (r->at_ms - prev.at_ms));
			CHECK_EQ(r->frees_per_s,
				 (r->st.frees - prev.st.frees) * 1000 / (r->at_ms - prev.at_ms));
			CHECK(r->allocs_per_s > 0, "a busy pool at 0 allocations per second");
		}
		prev = *r;
	}
	CHECK(found, "no two consecutive records of a busy pool in 20 s");
	kill(c.pid, SIGTERM);
	CHECK_EQ(finish_child(&c), 0);
	CHECK(access(path, F_OK) != 0, "%s left after a normal exit", path);
}

/* ---- without the variable: nothing ---- */

static void quiet_child(int in, int out)
{
	labyrinth_t lab = { 0 };
	void *pg;

	if (labyrinth_init(&lab, NULL))
		_exit(10);
	pg = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC);
	put(out, "R", 1);
	if (get_byte(in) != 'x')
		_exit(12);
	labyrinth_free_page(&lab, pg);
	labyrinth_destroy(&lab);
}

static void test_no_variable(void)
{
	static const char *values[] = { NULL, "0", "", "yes" };
	struct child c;
	unsigned int i;

	for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
		start_child(&c, values[i], quiet_child);
		CHECK_EQ(get_byte(c.from), 'R');
		/* the file would exist from the first init on: it does not */
		CHECK(entries() == 0, "LABYRINTH_STATS=%s published something",
		      values[i] ? values[i] : "(unset)");
		put(c.to, "x", 1);
		CHECK_EQ(finish_child(&c), 0);
	}
}

/* ---- a crashed publisher, and a reused pid ---- */

static void crash_child(int in, int out)
{
	labyrinth_t lab = { 0 };

	(void)in;
	if (labyrinth_init(&lab, &(struct labyrinth_params){ .name = "top-crash" }))
		_exit(10);
	(void)labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC);
	put(out, "R", 1);
	for (;;)
		pause();
}

static int scan_count(int remove_stale, enum top_state want, int *removed)
{
	struct top_proc *procs;
	size_t n, k;
	int found = 0;

	*removed = 0;
	if (top_scan(dir, remove_stale, &procs, &n))
		return -1;
	for (k = 0; k < n; k++) {
		found += procs[k].state == want;
		*removed += procs[k].removed;
	}
	free(procs);
	return found;
}

static void test_crash(struct top_proc *tp)
{
	struct child c;
	char path[128];
	int removed;

	start_child(&c, "1", crash_child);
	CHECK_EQ(get_byte(c.from), 'R');
	kill(c.pid, SIGKILL);
	CHECK_EQ(finish_child(&c), 128 + SIGKILL);
	path_of(c.pid, path, sizeof(path));
	REQUIRE(top_read_file(path, tp) == 0, "a killed publisher's file is left: %s", path);
	CHECK(tp->state == TOP_GONE, "state %s", top_state_name(tp->state));
	CHECK(find_pool(tp, "top-crash") != NULL, "its last record is still readable");
	CHECK_EQ(scan_count(0, TOP_GONE, &removed), 1); /* reported, kept */
	CHECK_EQ(removed, 0);
	CHECK(access(path, F_OK) == 0, "kept when asked to");
	CHECK_EQ(scan_count(1, TOP_GONE, &removed), 1); /* reported, removed */
	CHECK_EQ(removed, 1);
	CHECK(access(path, F_OK) != 0, "a stale file was not removed");
}

/* The header of a complete file of this process's, with its start time
 * from /proc/self/stat: what a live publisher's file begins with. */
static struct lab_pub_header own_header(void)
{
	struct lab_pub_header h = { .magic = LAB_PUB_MAGIC, .version = LAB_PUB_VERSION,
				    .nr_records = LAB_PUB_RECORDS,
				    .record_size = sizeof(struct lab_pub_record),
				    .period_ms = 1000, .pid = (uint64_t)getpid() };
	char text[1024];
	int fd;
	ssize_t n;

	fd = open("/proc/self/stat", O_RDONLY);
	n = fd >= 0 ? read(fd, text, sizeof(text)) : -1;
	if (fd >= 0)
		close(fd);
	REQUIRE(n > 0, "/proc/self/stat: %s", strerror(errno));
	h.start_time = lab_pub_parse_start(text, (size_t)n);
	REQUIRE(h.start_time > 1, "no start time in /proc/self/stat");
	return h;
}

/* This process's file (its path into path), new, sized, with header h. */
static void create_own_file(char *path, size_t size, const struct lab_pub_header *h)
{
	int fd;

	path_of(getpid(), path, size);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	REQUIRE(fd >= 0 && ftruncate(fd, LAB_PUB_FILE_SIZE) == 0 &&
		pwrite(fd, h, sizeof(*h), 0) == (ssize_t)sizeof(*h), "%s: %s", path, strerror(errno));
	close(fd);
}

/* A file of this process's as a live publisher's looks. */
static void write_own_file(char *path, size_t size)
{
	struct lab_pub_header h = own_header();

	create_own_file(path, size, &h);
}

/* A file in this process's name whose start time is not this process's:
 * the pid's earlier owner crashed and the pid came round again. */
static void test_reused_pid(struct top_proc *tp)
{
	struct lab_pub_header h = own_header();
	char path[128];
	int fd, removed;

	h.start_time++;
	create_own_file(path, sizeof(path), &h);
	CHECK(top_read_file(path, tp) == 0 && tp->state == TOP_REUSED, "state %s",
	      top_state_name(tp->state));
	h.start_time--; /* the right one: live */
	fd = open(path, O_RDWR);
	CHECK(fd >= 0 && pwrite(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h), "rewrite");
	close(fd);
	CHECK(top_read_file(path, tp) == 0 && tp->state == TOP_LIVE, "state %s",
	      top_state_name(tp->state));
	h.start_time++;
	fd = open(path, O_RDWR);
	CHECK(fd >= 0 && pwrite(fd, &h, sizeof(h), 0) == (ssize_t)sizeof(h), "rewrite");
	close(fd);
	CHECK_EQ(scan_count(1, TOP_REUSED, &removed), 1);
	CHECK_EQ(removed, 1);
	CHECK(access(path, F_OK) != 0, "a stale file was not removed");
}

/* A record whose name fills its field with no NUL (a file written by
 * something else than the library): read back as a string of at most
 * LAB_PUB_NAME_MAX - 1 characters, never past the field. */
static void test_unterminated_name(struct top_proc *tp)
{
	struct {
		struct lab_pub_header h;
		struct lab_pub_record r;
	} file = { .h = { .magic = LAB_PUB_MAGIC, .version = LAB_PUB_VERSION,
			  .nr_records = LAB_PUB_RECORDS,
			  .record_size = sizeof(struct lab_pub_record), .period_ms = 1000,
			  .pid = (uint64_t)getpid() } };
	char path[128];
	int fd;

	memset(&file.r, 'A', sizeof(file.r)); /* no NUL anywhere after the name either */
	file.r.seq = 2;
	file.r.used = 1;
	path_of(getpid(), path, sizeof(path));
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	REQUIRE(fd >= 0 && ftruncate(fd, LAB_PUB_FILE_SIZE) == 0 &&
		pwrite(fd, &file, sizeof(file), 0) == (ssize_t)sizeof(file), "%s: %s", path,
		strerror(errno));
	close(fd);
	CHECK(top_read_file(path, tp) == 0 && tp->nr_pools == 1, "read %s", path);
	CHECK(memchr(tp->pools[0].name, '\0', LAB_PUB_NAME_MAX) != NULL,
	      "a pool name without its NUL");
	CHECK_EQ(strlen(tp->pools[0].name), LAB_PUB_NAME_MAX - 1);
	unlink(path);
}

/* The same file owned by another user than this process's: anyone may
 * write in the directory, so its figures are not shown under this pid
 * (TOP_FOREIGN), and as the process lives it is not stale either. */
static void test_foreign_owner(struct top_proc *tp)
{
	char path[128];
	int removed;

	if (geteuid() != 0) {
		printf("note: the foreign-owner case needs root (chown)\n");
		return;
	}
	write_own_file(path, sizeof(path));
	CHECK(top_read_file(path, tp) == 0 && tp->state == TOP_LIVE, "own file: %s",
	      top_state_name(tp->state));
	if (chown(path, 65534, 65534) != 0) { /* uid 65534 not mapped here */
		printf("note: the foreign-owner case skipped: chown: %s\n", strerror(errno));
		unlink(path);
		return;
	}
	CHECK(top_read_file(path, tp) == 0 && tp->state == TOP_FOREIGN, "foreign file: %s",
	      top_state_name(tp->state));
	CHECK_EQ(scan_count(1, TOP_FOREIGN, &removed), 1);
	CHECK_EQ(removed, 0);
	CHECK(access(path, F_OK) == 0, "a live process's foreign file was removed");
	unlink(path);
}

/* A file truncated under the reader, between its fstat and its reads (a
 * read of the mapping past the new end is SIGBUS): a thread truncates and
 * restores it while this one reads it over and over.  No read may crash;
 * each says LIVE (read whole) or INVALID, and at least one met SIGBUS and
 * said INVALID (top_truncated_reads), or the case proved nothing. */
static atomic_int truncating;

static void *truncator(void *arg)
{
	int fd = *(int *)arg;

	while (atomic_load(&truncating)) {
		if (ftruncate(fd, 0) || ftruncate(fd, LAB_PUB_FILE_SIZE))
			break;
	}
	return NULL;
}

static void test_truncated_under_reader(struct top_proc *tp)
{
	char path[128];
	unsigned long before = top_truncated_reads, reads = 0, bad = 0;
	pthread_t t;
	double end;
	int fd;

	write_own_file(path, sizeof(path));
	fd = open(path, O_RDWR);
	REQUIRE(fd >= 0, "%s: %s", path, strerror(errno));
	atomic_store(&truncating, 1);
	REQUIRE(pthread_create(&t, NULL, truncator, &fd) == 0, "pthread_create");
	end = now_s() + 20.0; /* a bound, not a timing: it ends at the first SIGBUS */
	while (top_truncated_reads == before && now_s() < end) {
		int r = top_read_file(path, tp);

		reads++;
		bad += r != 0 || (tp->state != TOP_LIVE && tp->state != TOP_INVALID &&
				  tp->state != TOP_STARTING);
	}
	atomic_store(&truncating, 0);
	pthread_join(t, NULL);
	close(fd);
	CHECK(top_truncated_reads > before, "no read met the truncation in %lu reads", reads);
	CHECK(bad == 0, "%lu of %lu reads of a file being truncated said something else", bad,
	      reads);
	/* the truncations zeroed it (a header not written yet); written
	 * again, it reads as it should */
	CHECK(top_read_file(path, tp) == 0 && tp->state == TOP_STARTING, "after: %s",
	      top_state_name(tp->state));
	unlink(path);
	write_own_file(path, sizeof(path));
	CHECK(top_read_file(path, tp) == 0 && tp->state == TOP_LIVE, "rewritten: %s",
	      top_state_name(tp->state));
	unlink(path);
}

/* ---- a hard link in the file's name: never emptied ---- */

static void linked_child(int in, int out)
{
	labyrinth_t lab = { 0 };

	if (get_byte(in) != 'g')
		_exit(12);
	if (labyrinth_init(&lab, &(struct labyrinth_params){ .name = "top-linked" }))
		_exit(10); /* publishing off is no reason for init to fail */
	put(out, "R", 1);
	if (get_byte(in) != 'x')
		_exit(13);
	labyrinth_destroy(&lab);
}

/* A hard link named as the publisher's file, to another file of the same
 * user (who can always make one; another user can where
 * fs.protected_hardlinks is 0): the publisher must not take it over, or it
 * empties and resizes the other file. */
static void test_hard_link(void)
{
	static const char text[] = "a file of this user's, not a statistics file\n";
	char path[128], victim[128], back[sizeof(text)];
	struct child c;
	int fd;

	snprintf(victim, sizeof(victim), "%s/victim", dir);
	fd = open(victim, O_RDWR | O_CREAT | O_EXCL, 0600);
	REQUIRE(fd >= 0 && write(fd, text, sizeof(text)) == (ssize_t)sizeof(text), "%s: %s",
		victim, strerror(errno));
	close(fd);
	start_child(&c, "1", linked_child);
	path_of(c.pid, path, sizeof(path));
	REQUIRE(link(victim, path) == 0, "link %s: %s", path, strerror(errno));
	put(c.to, "g", 1);
	CHECK_EQ(get_byte(c.from), 'R');
	fd = open(victim, O_RDONLY);
	CHECK(fd >= 0 && read(fd, back, sizeof(back)) == (ssize_t)sizeof(text) &&
	      memcmp(back, text, sizeof(text)) == 0 && lseek(fd, 0, SEEK_END) == sizeof(text),
	      "the publisher took over a hard link and emptied %s", victim);
	if (fd >= 0)
		close(fd);
	put(c.to, "x", 1);
	CHECK_EQ(finish_child(&c), 0);
	unlink(path);
	unlink(victim);
}

/* ---- fork: the file is the parent's ---- */

/* The grandchild starts a thread after a fork of a threaded process, which
 * ThreadSanitizer refuses: the plain and ASan builds run this case. */
#ifdef LAB_UNDER_TSAN
#define FORK_CASE 0
#else
#define FORK_CASE 1
#endif

static void grandchild(int in, int out)
{
	labyrinth_t lab = { 0 };
	pid_t me = getpid();

	if (labyrinth_init(&lab, &(struct labyrinth_params){ .name = "top-child" }))
		_exit(20);
	put(out, &me, sizeof(me));
	if (get_byte(in) != 'x')
		_exit(21);
	exit(0); /* without destroy: the exit handler removes this process's file only */
}

/* This process's publisher has refreshed its file once (the first beat is
 * init's, the second the thread's). */
static int publisher_running(void)
{
	struct timespec nap = { 0, 5000000 };
	struct top_proc *me = malloc(sizeof(*me));
	double end = now_s() + 20;
	char path[128];
	int ok = 0;

	path_of(getpid(), path, sizeof(path));
	while (me && !ok && now_s() < end) {
		ok = !top_read_file(path, me) && me->beats >= 2;
		if (!ok)
			nanosleep(&nap, NULL);
	}
	free(me);
	return ok;
}

static void forking_child(int in, int out)
{
	labyrinth_t lab = { 0 };
	pid_t b;
	int st;

	if (labyrinth_init(&lab, &(struct labyrinth_params){ .name = "top-parent" }))
		_exit(10);
	/* fork once the publisher's thread has started for good (it has
	 * published a period): a sanitizer's allocator lock taken by a
	 * starting thread would be held forever in the child */
	if (!publisher_running())
		_exit(14);
	b = fork();
	if (b == 0)
		grandchild(in, out);
	if (b < 0 || waitpid(b, &st, 0) != b || !WIFEXITED(st) || WEXITSTATUS(st))
		_exit(11);
	put(out, "A", 1);
	if (get_byte(in) != 'x')
		_exit(12);
	labyrinth_destroy(&lab);
}

static void test_fork(struct top_proc *tp)
{
	char a_path[128], b_path[128];
	struct child c;
	pid_t b = 0;

	start_child(&c, "1", forking_child);
	REQUIRE(get(c.from, &b, sizeof(b)), "no word from the grandchild");
	path_of(c.pid, a_path, sizeof(a_path));
	path_of(b, b_path, sizeof(b_path));
	CHECK(top_read_file(b_path, tp) == 0 && tp->state == TOP_LIVE, "the child's own file");
	CHECK(find_pool(tp, "top-child") && tp->nr_pools == 1,
	      "the child publishes its own pool, not its parent's");
	put(c.to, "x", 1); /* the grandchild exits */
	CHECK_EQ(get_byte(c.from), 'A');
	CHECK(access(b_path, F_OK) != 0, "the child's file outlived it");
	CHECK(top_read_file(a_path, tp) == 0 && tp->state == TOP_LIVE,
	      "the parent's file went with its child");
	CHECK(find_pool(tp, "top-parent") && tp->nr_pools == 1, "the parent's record");
	put(c.to, "x", 1);
	CHECK_EQ(finish_child(&c), 0);
	CHECK(access(a_path, F_OK) != 0, "%s left after a normal exit", a_path);
}

/*
 * "t_publish serve": a publisher for tests/top_tool.sh (LABYRINTH_STATS etc.
 * from its environment): pool top-served with 72 of 256 pages in use, one
 * line "ready PID" on stdout, then a normal exit at SIGTERM.
 */
static int serve(void)
{
	struct labyrinth_params pr = { .name = "top-served", .nr_pages = 256 };
	labyrinth_t lab = { 0 };
	sigset_t term;
	unsigned int i;
	int sig;

	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigprocmask(SIG_BLOCK, &term, NULL);
	if (labyrinth_init(&lab, &pr))
		return 10;
	for (i = 0; i < 72; i++)
		(void)labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	printf("ready %ld\n", (long)getpid());
	fflush(stdout);
	sigwait(&term, &sig);
	return 0;
}

/* However the test ends (a failed REQUIRE too), its directory goes; only
 * the test's own process removes it, not the children that inherit this. */
static pid_t test_pid;

static void remove_dir(void)
{
	char path[sizeof(dir) + 260];
	struct dirent *e;
	DIR *d;

	if (getpid() != test_pid || !(d = opendir(dir)))
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	closedir(d);
	rmdir(dir);
}

int main(int argc, char **argv)
{
	struct top_proc *tp;

	if (argc == 2 && !strcmp(argv[1], "serve"))
		return serve();
	tp = malloc(sizeof(*tp));
	REQUIRE(tp, "malloc");
	snprintf(dir, sizeof(dir), "/dev/shm/top-t_publish.XXXXXX");
	if (!mkdtemp(dir))
		SKIP_ALL("cannot make a directory in /dev/shm: %s", strerror(errno));
	test_pid = getpid();
	atexit(remove_dir);
	test_pattern(tp);
	test_rates(tp);
	test_no_variable();
	test_crash(tp);
	test_reused_pid(tp);
	test_hard_link();
	test_unterminated_name(tp);
	test_foreign_owner(tp);
	if (FORK_CASE) /* and no siglongjmp out of a SIGBUS under it either */
		test_truncated_under_reader(tp);
	if (FORK_CASE)
		test_fork(tp);
	else
		printf("note: the fork case is not run under ThreadSanitizer\n");
	CHECK_EQ(entries(), 0);
	free(tp);
	return check_done();
}
