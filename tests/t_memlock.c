/* Description: an init that cannot lock its memory (over RLIMIT_MEMLOCK, unprivileged) returns -ENOMEM and leaves nothing mapped or locked; LAB_POOL_NOLOCK works there; growth past the limit fails cleanly. */
#include "check.h"

#include <fcntl.h>
#include <grp.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

static char maps_a[1 << 16], maps_b[1 << 16];

/* /proc/self/maps without the stack line, read without malloc. */
static size_t read_maps(char *buf, size_t size)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	size_t len = 0, out = 0, i, start = 0;
	ssize_t n;

	if (fd < 0)
		return 0;
	while (len + 1 < size && (n = read(fd, buf + len, size - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	/* drop lines that may change by themselves: [stack] */
	for (i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		buf[i] = '\0';
		if (!strstr(buf + start, "[stack]")) {
			memmove(buf + out, buf + start, i - start);
			out += i - start;
			buf[out++] = '\n';
		}
		start = i + 1;
	}
	buf[out] = '\0';
	return out;
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* VmLck of this process in kB, from /proc/self/status. */
static long vm_locked_kb(void)
{
	static char buf[8192];
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t n;
	const char *p;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strstr(buf, "VmLck:");
	return p ? strtol(p + 6, NULL, 10) : -1;
}

static void child_checks(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_params p = { .name = "memlock", .nr_pages = 1024 };
	struct labyrinth_stats st;
	void *pg[8];
	long lck0;
	int rc;

	/* 1024 pages (4 MiB) over a 64 KiB limit */
	read_maps(maps_a, sizeof(maps_a)); /* warm up */
	read_maps(maps_a, sizeof(maps_a));
	lck0 = vm_locked_kb();
	rc = labyrinth_init(&lab, &p);
	read_maps(maps_b, sizeof(maps_b));
	CHECK_EQ(rc, -ENOMEM);
	CHECK_EQ(count_lines(maps_a), count_lines(maps_b));
	CHECK(strcmp(maps_a, maps_b) == 0, "mappings changed:\n--- before\n%s--- after\n%s", maps_a,
	      maps_b);
	CHECK_EQ(vm_locked_kb(), lck0);
	CHECK_EQ(labyrinth_page_size(&lab), 0);
	errno = 0;
	CHECK(labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC) == NULL && errno == EINVAL,
	      "failed init left a pool");

	/* again, with a 2 MiB-page pool that falls back to ordinary memory */
	p.page_size = LAB_PAGE_2M;
	p.nr_pages = 2;
	read_maps(maps_a, sizeof(maps_a));
	rc = labyrinth_init(&lab, &p);
	read_maps(maps_b, sizeof(maps_b));
	CHECK_EQ(rc, -ENOMEM);
	CHECK(strcmp(maps_a, maps_b) == 0, "2M: mappings changed:\n--- before\n%s--- after\n%s",
	      maps_a, maps_b);

	/* the same size unlocked works */
	p.page_size = 0;
	p.nr_pages = 1024;
	p.flags = LAB_POOL_NOLOCK;
	rc = labyrinth_init(&lab, &p);
	CHECK_EQ(rc, 0);
	if (rc == 0) {
		unsigned int n = labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC, pg, 8);

		CHECK_EQ(n, 8);
		memset(pg[7], 1, 4096);
		CHECK_EQ(labyrinth_free_bulk(&lab, pg, n), n);
		st = check_stats(&lab);
		CHECK_EQ(st.pages_total, 1024);
		CHECK_EQ(labyrinth_destroy(&lab), 0);
	}
	read_maps(maps_b, sizeof(maps_b));
	CHECK(strcmp(maps_a, maps_b) == 0, "destroy left mappings");

	/* a small locked pool fits; growing it past the limit fails cleanly */
	memset(&p, 0, sizeof(p));
	p.name = "memlock-grow";
	p.nr_pages = 4;
	p.max_pages = 1024;
	rc = labyrinth_init(&lab, &p);
	CHECK_EQ(rc, 0);
	if (rc == 0) {
		unsigned int n = 0;

		while (n < 8 && (pg[n] = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL)) != NULL)
			n++;
		CHECK_EQ(n, 4);
		CHECK(errno == ENOMEM, "growth past RLIMIT_MEMLOCK: errno %d", errno);
		st = check_stats(&lab);
		CHECK_EQ(st.pages_total, 4);
		CHECK_EQ(st.pages_inuse, 4);
		CHECK_EQ(st.grows, 0);
		CHECK_EQ(labyrinth_check(&lab), 0);
		CHECK_EQ(labyrinth_owns(&lab, (char *)pg[0] + 4 * 4096 * 2), 0);
		CHECK_EQ(labyrinth_free_bulk(&lab, pg, n), n);
		CHECK_EQ(labyrinth_destroy(&lab), 0);
	}

	/* a zero limit: even the allocator's own state cannot be locked */
	{
		struct rlimit zero = { 0, 0 };

		if (setrlimit(RLIMIT_MEMLOCK, &zero) == 0) {
			p.max_pages = 0;
			p.nr_pages = 4;
			read_maps(maps_a, sizeof(maps_a));
			CHECK_EQ(labyrinth_init(&lab, &p), -ENOMEM);
			read_maps(maps_b, sizeof(maps_b));
			CHECK(strcmp(maps_a, maps_b) == 0, "limit 0: mappings changed");
			p.flags = LAB_POOL_NOLOCK;
			CHECK_EQ(labyrinth_init(&lab, &p), 0);
			CHECK_EQ(labyrinth_destroy(&lab), 0);
		}
	}
}

int main(void)
{
	pid_t pid;
	int status = 0;

	SKIP_UNDER_TSAN();

	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		struct rlimit lim = { 64 << 10, 64 << 10 };

		if (setrlimit(RLIMIT_MEMLOCK, &lim)) {
			fprintf(stderr, "setrlimit: %s\n", strerror(errno));
			_exit(2);
		}
		if (geteuid() == 0) {
			/* root ignores RLIMIT_MEMLOCK (CAP_IPC_LOCK): become nobody */
			if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
			    setresuid(65534, 65534, 65534)) {
				fprintf(stderr, "dropping privileges: %s\n", strerror(errno));
				_exit(3);
			}
			prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		}
		child_checks();
		fflush(NULL);
		printf("child: %d passed, %d failed\n", check_passed, check_failed);
		fflush(NULL);
		_exit(check_failed ? 1 : 0);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status), "child killed by signal %d", WTERMSIG(status));
	if (WIFEXITED(status)) {
		CHECK(WEXITSTATUS(status) != 2 && WEXITSTATUS(status) != 3,
		      "child could not set up (code %d)", WEXITSTATUS(status));
		CHECK(WEXITSTATUS(status) == 0, "child checks failed (code %d)",
		      WEXITSTATUS(status));
	}
	return check_done();
}
