/* Description: labyrinth_last_error() gives the calling thread's last failed init's line, the very line LABYRINTH_VERBOSE=1 prints (with or without the variable), NULL before any failure and on another thread; a later successful init leaves it as it was; its "N pages would fit under the current limit" is exact: N pages init, N + 1 do not. */
#include "check.h"

#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <sys/resource.h>

#define LIMIT (1u << 20) /* RLIMIT_MEMLOCK here: 1 MiB */
#define PAGES 1024u      /* a 4 MiB pool: over the limit */

/* This process under a 1 MiB memlock limit, unprivileged (root ignores
 * the limit: become nobody, which drops every capability). */
static void lower_limit(void)
{
	struct rlimit lim = { LIMIT, LIMIT };

	REQUIRE(setrlimit(RLIMIT_MEMLOCK, &lim) == 0, "setrlimit");
	if (geteuid() == 0)
		REQUIRE(setgroups(0, NULL) == 0 && setresgid(65534, 65534, 65534) == 0 &&
			setresuid(65534, 65534, 65534) == 0, "becoming nobody");
}

/* init under LABYRINTH_VERBOSE=verbose (NULL: unset), what it wrote to
 * stderr in out (a pipe: one line is far below its capacity). */
static int init_capturing(const char *verbose, labyrinth_t *lab,
			  const struct labyrinth_params *p, char *out, size_t size)
{
	int fds[2], saved, rc;
	ssize_t n;

	REQUIRE(pipe2(fds, O_NONBLOCK) == 0, "pipe");
	REQUIRE(verbose ? setenv("LABYRINTH_VERBOSE", verbose, 1) == 0 :
			  unsetenv("LABYRINTH_VERBOSE") == 0, "setenv");
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	REQUIRE(saved >= 0 && dup2(fds[1], STDERR_FILENO) >= 0, "dup2");
	rc = labyrinth_init(lab, p);
	REQUIRE(dup2(saved, STDERR_FILENO) >= 0, "restoring stderr");
	close(saved);
	close(fds[1]);
	n = read(fds[0], out, size - 1);
	out[n > 0 ? n : 0] = '\0';
	close(fds[0]);
	return rc;
}

/* The N of "N pages of 4096 bytes would fit", or -1. */
static long pages_that_fit(const char *msg)
{
	const char *at = strstr(msg, " pages of 4096 bytes would fit under the current limit");
	const char *start = at;

	if (!at)
		return -1;
	while (start > msg && start[-1] >= '0' && start[-1] <= '9')
		start--;
	return start < at ? strtol(start, NULL, 10) : -1;
}

static char other_thread_saw[1024];

/* Another thread: sees none of the main thread's failure, then fails its own. */
static void *other_thread(void *arg)
{
	struct labyrinth_params p = { .name = "last-error-thread", .page_size = 12345 };
	labyrinth_t lab = { 0 };
	const char *msg;

	(void)arg;
	snprintf(other_thread_saw, sizeof(other_thread_saw), "%s",
		 labyrinth_last_error() ? labyrinth_last_error() : "(null)");
	CHECK_EQ(labyrinth_init(&lab, &p), -EINVAL);
	msg = labyrinth_last_error();
	CHECK(msg && strstr(msg, "'last-error-thread'") && strstr(msg, "page_size"),
	      "the thread's own failure: [%s]", msg ? msg : "(null)");
	return NULL;
}

int main(void)
{
	struct labyrinth_params p = { .name = "last-error", .nr_pages = PAGES };
	static char err_out[4096], first[1024];
	labyrinth_t lab = { 0 };
	const char *msg;
	pthread_t t;
	long fit;

	CHECK(labyrinth_last_error() == NULL, "a message before any failure");
	lower_limit();

	/* with LABYRINTH_VERBOSE=1: the message is the line printed */
	if (init_capturing("1", &lab, &p, err_out, sizeof(err_out)) == 0)
		SKIP_ALL("this user can lock past RLIMIT_MEMLOCK (CAP_IPC_LOCK?)");
	msg = labyrinth_last_error();
	REQUIRE(msg != NULL, "no message after a failed init");
	CHECK(strlen(err_out) == strlen(msg) + 1 && strncmp(err_out, msg, strlen(msg)) == 0 &&
	      err_out[strlen(msg)] == '\n', "printed [%s] but the message is [%s]", err_out, msg);
	CHECK(strchr(msg, '\n') == NULL, "a newline in [%s]", msg);
	CHECK(strstr(msg, "'last-error'") && strstr(msg, "RLIMIT_MEMLOCK is 1048576 bytes") &&
	      strstr(msg, "ulimit -l"), "pool, cause or fix missing: [%s]", msg);
	snprintf(first, sizeof(first), "%s", msg);
	printf("message: %s\n", msg);

	/* without the variable: nothing printed, the same message */
	CHECK_EQ(init_capturing(NULL, &lab, &p, err_out, sizeof(err_out)), -ENOMEM);
	CHECK(err_out[0] == '\0', "printed without LABYRINTH_VERBOSE: [%s]", err_out);
	msg = labyrinth_last_error();
	CHECK(msg && strcmp(msg, first) == 0, "not the same line: [%s] vs [%s]",
	      msg ? msg : "(null)", first);

	/* "N pages would fit": N do, and leave the message as it was; N + 1 do not */
	fit = pages_that_fit(first);
	CHECK(fit > 0 && fit < (long)PAGES, "no page count in [%s]", first);
	if (fit > 0) {
		p.nr_pages = (size_t)fit;
		CHECK_EQ(init_capturing("1", &lab, &p, err_out, sizeof(err_out)), 0);
		CHECK(err_out[0] == '\0', "a working init printed [%s]", err_out);
		msg = labyrinth_last_error();
		CHECK(msg && strcmp(msg, first) == 0, "a successful init changed the message: [%s]",
		      msg ? msg : "(null)");
		CHECK_EQ(labyrinth_destroy(&lab), 0);
		p.nr_pages = (size_t)fit + 1;
		CHECK_EQ(init_capturing(NULL, &lab, &p, err_out, sizeof(err_out)), -ENOMEM);
		msg = labyrinth_last_error();
		CHECK(msg && pages_that_fit(msg) == fit, "fit + 1 pages: [%s]", msg ? msg : "(null)");
		printf("%ld pages fit under %u bytes, %ld do not\n", fit, LIMIT, fit + 1);
	}

	/* thread-local: another thread sees NULL and keeps its own failure */
	snprintf(first, sizeof(first), "%s", labyrinth_last_error());
	REQUIRE(pthread_create(&t, NULL, other_thread, NULL) == 0, "pthread_create");
	REQUIRE(pthread_join(t, NULL) == 0, "pthread_join");
	CHECK(strcmp(other_thread_saw, "(null)") == 0, "another thread saw [%s]", other_thread_saw);
	msg = labyrinth_last_error();
	CHECK(msg && strcmp(msg, first) == 0, "the thread's failure reached this one: [%s]",
	      msg ? msg : "(null)");
	return check_done();
}
