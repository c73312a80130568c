/* Description: LABYRINTH_VERBOSE=1 makes a failing labyrinth_init write exactly one line to stderr naming the pool, the cause with its numbers (RLIMIT_MEMLOCK and the bytes needed for an unprivileged user over the limit) and the fix; without the variable a failing init writes nothing. */
#include "check.h"

#include <grp.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define LIMIT (1u << 20)       /* RLIMIT_MEMLOCK of the child: 1 MiB */
#define PAGES 1024u            /* a 4 MiB pool: over the limit */
#define POOL_BYTES "4194304"   /* PAGES * 4096 */
#define LIMIT_BYTES "1048576"

enum { OK = 0, BAD_RC = 1, NO_SETUP = 2, LOCKED_ANYWAY = 4 };

/*
 * In a child with a 1 MiB memlock limit, unprivileged (as root: what
 * `setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all`
 * does, without needing the build tree to be readable by nobody), stderr
 * into a pipe: init `params`, expect `want`.  Returns the child's code and
 * what it wrote to stderr in out.
 */
static int run_child(const char *verbose, const struct labyrinth_params *params, int want,
		     char *out, size_t size)
{
	int fds[2], status = 0;
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	REQUIRE(pipe(fds) == 0, "pipe");
	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		struct rlimit lim = { LIMIT, LIMIT };
		labyrinth_t lab = { 0 };
		int rc;

		close(fds[0]);
		if (setrlimit(RLIMIT_MEMLOCK, &lim))
			_exit(NO_SETUP);
		/* root ignores RLIMIT_MEMLOCK (CAP_IPC_LOCK): become nobody,
		 * which drops every capability */
		if (geteuid() == 0 && (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
				       setresuid(65534, 65534, 65534)))
			_exit(NO_SETUP);
		if (verbose ? setenv("LABYRINTH_VERBOSE", verbose, 1) :
			      unsetenv("LABYRINTH_VERBOSE"))
			_exit(NO_SETUP);
		if (dup2(fds[1], STDERR_FILENO) < 0)
			_exit(NO_SETUP);
		rc = labyrinth_init(&lab, params);
		if (rc == 0 && want != 0)
			_exit(LOCKED_ANYWAY);
		_exit(rc == want ? OK : BAD_RC);
	}
	close(fds[1]);
	while (len + 1 < size && (n = read(fds[0], out + len, size - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fds[0]);
	REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid");
	REQUIRE(WIFEXITED(status), "child killed by signal %d", WTERMSIG(status));
	REQUIRE(WEXITSTATUS(status) != NO_SETUP, "child could not lower its limit or privileges");
	return WEXITSTATUS(status);
}

static int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Exactly one line, ending with its newline, naming the pool. */
static void check_one_line(const char *out, const char *pool)
{
	char quoted[64];

	snprintf(quoted, sizeof(quoted), "'%s'", pool);
	CHECK_EQ(count_lines(out), 1);
	CHECK(*out && out[strlen(out) - 1] == '\n', "not one whole line: [%s]", out);
	CHECK(strstr(out, quoted) != NULL, "pool name %s missing: [%s]", quoted, out);
}

/* Free 2 MiB huge pages, or -1 where the kernel has none. */
static long free_huge_pages(void)
{
	FILE *f = fopen("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages", "r");
	long n = -1;

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

int main(void)
{
	struct labyrinth_params p = { .name = "verbose-memlock", .nr_pages = PAGES };
	static char out[8192];
	int code;

	/* over the memlock limit, with the variable: one line with the numbers */
	code = run_child("1", &p, -ENOMEM, out, sizeof(out));
	if (code == LOCKED_ANYWAY)
		SKIP_ALL("this user can lock past RLIMIT_MEMLOCK (CAP_IPC_LOCK?)");
	CHECK_EQ(code, OK);
	check_one_line(out, p.name);
	CHECK(strstr(out, "RLIMIT_MEMLOCK is " LIMIT_BYTES " bytes") != NULL,
	      "the limit missing: [%s]", out);
	CHECK(strstr(out, POOL_BYTES " bytes of pages") != NULL, "the bytes missing: [%s]", out);
	CHECK(strstr(out, "ulimit -l") && strstr(out, "CAP_IPC_LOCK") &&
	      strstr(out, "LAB_POOL_NOLOCK"), "the fix missing: [%s]", out);
	printf("verbose: %s", out);

	/* the same failure without the variable, or with it 0: silent */
	code = run_child(NULL, &p, -ENOMEM, out, sizeof(out));
	CHECK_EQ(code, OK);
	CHECK(out[0] == '\0', "wrote without LABYRINTH_VERBOSE: [%s]", out);
	code = run_child("0", &p, -ENOMEM, out, sizeof(out));
	CHECK_EQ(code, OK);
	CHECK(out[0] == '\0', "wrote with LABYRINTH_VERBOSE=0: [%s]", out);

	/* bad input: the rule broken */
	p.name = "verbose-einval";
	p.page_size = 12345;
	code = run_child("1", &p, -EINVAL, out, sizeof(out));
	CHECK_EQ(code, OK);
	check_one_line(out, p.name);
	CHECK(strstr(out, "EINVAL") && strstr(out, "page_size"), "cause missing: [%s]", out);
	code = run_child(NULL, &p, -EINVAL, out, sizeof(out));
	CHECK(code == OK && out[0] == '\0', "EINVAL without the variable: code %d [%s]", code, out);

	/* no reserved huge pages (where none are): that cause, not memlock */
	if (free_huge_pages() == 0) {
		p.name = "verbose-huge";
		p.page_size = LAB_PAGE_2M;
		p.nr_pages = 1;
		p.flags = LAB_POOL_HUGETLB | LAB_POOL_NOLOCK;
		code = run_child("1", &p, -ENOMEM, out, sizeof(out));
		CHECK_EQ(code, OK);
		check_one_line(out, p.name);
		CHECK(strstr(out, "no reserved huge pages") && strstr(out, "nr_hugepages") &&
		      !strstr(out, "RLIMIT_MEMLOCK"), "huge-page cause missing: [%s]", out);
		p.nr_pages = PAGES;
	}

	/* the same pool with LAB_POOL_NOLOCK fits: no failure, no line */
	p.name = "verbose-nolock";
	p.page_size = 0;
	p.flags = LAB_POOL_NOLOCK;
	code = run_child("1", &p, 0, out, sizeof(out));
	CHECK_EQ(code, OK);
	CHECK(out[0] == '\0', "a working init wrote: [%s]", out);
	return check_done();
}
