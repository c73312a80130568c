/* Description: a fork() child cannot use its parent's pool: every call fails with EINVAL,
 * while the parent's pool is untouched and the child can make its own. */
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"

/* Runs in the child; returns a bit mask of the checks that failed. */
static int child_checks(labyrinth_t *parent_pool, void *parent_page)
{
	labyrinth_t own = { 0 };
	struct labyrinth_stats st;
	void *page;
	int bad = 0;

	errno = 0;
	if (labyrinth_alloc_page(parent_pool, LAB_GFP_ATOMIC) != NULL || errno != EINVAL)
		bad |= 1;
	if (labyrinth_free_page(parent_pool, parent_page) != -EINVAL)
		bad |= 2;
	if (labyrinth_stats(parent_pool, &st) != -EINVAL)
		bad |= 4;
	if (labyrinth_owns(parent_pool, parent_page) != 0)
		bad |= 8;
	if (labyrinth_init(&own, NULL) != 0)
		return bad | 16;
	page = labyrinth_alloc_page(&own, LAB_GFP_KERNEL);
	if (!page)
		bad |= 32;
	else
		memset(page, 0x5a, 4096);
	if (labyrinth_free_page(&own, page) || labyrinth_destroy(&own))
		bad |= 64;
	return bad;
}

int main(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_stats before, after;
	void *page;
	int status;
	pid_t pid;

	REQUIRE(labyrinth_init(&lab, &(struct labyrinth_params){ .nr_pages = 64 }) == 0, "init");
	page = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC);
	REQUIRE(page != NULL, "alloc");
	memcpy(page, "parent secret", 14);
	before = check_stats(&lab);

	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		_exit(child_checks(&lab, page));
	REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status), "child died: status %#x", status);
	CHECK_EQ(WEXITSTATUS(status), 0);

	after = check_stats(&lab);
	CHECK(memcmp(&before, &after, sizeof(before)) == 0, "parent pool changed by the child");
	CHECK(memcmp(page, "parent secret", 14) == 0, "parent page changed");
	CHECK_EQ(labyrinth_free_page(&lab, page), 0);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
	return check_done();
}
