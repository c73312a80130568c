/* Description: pool memory is locked (lo), kept from fork children (dc) and core dumps (dd) per /proc/self/smaps, populated (Rss == Size), never collapsed by khugepaged (nh), with transparent huge pages at populate where a pool covers 2 MiB; DUMPABLE/NOLOCK drop dd/lo; a fork child never sees a page. */
#include "check.h"
#include "smaps.h"

#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

/* 1 if addr lies in any line of /proc/self/maps; async-safe enough for a child. */
static int in_maps(const void *addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	uintptr_t a = (uintptr_t)addr;
	int found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		if (sscanf(line, "%lx-%lx", &s, &e) == 2 && a >= s && a < e)
			found = 1;
	}
	fclose(f);
	return found;
}

static const char secret[] = "the-secret-never-leaves-this-process";

/*
 * Fork; the child reports: 0 the page is absent (mincore ENOMEM and not in
 * maps), 1 mincore says mapped, 2 maps lists it, 3 it could read the secret.
 */
static void fork_check(void *page, const char *what)
{
	pid_t pid;
	int status = 0;

	memcpy(page, secret, sizeof(secret));
	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		unsigned char vec[1];
		int code = 0;

		errno = 0;
		if (mincore(page, 4096, vec) == 0 || errno != ENOMEM)
			code = 1;
		if (in_maps(page) != 0)
			code = 2;
		if (code && memcmp(page, secret, sizeof(secret)) == 0)
			code = 3;
		_exit(code);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status), "%s: child died (signal %d)", what,
	      WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "%s: child sees the page (code %d: 1 mincore, 2 maps, 3 contents)", what,
	      WEXITSTATUS(status));
	/* the parent still has it */
	CHECK(memcmp(page, secret, sizeof(secret)) == 0, "%s: parent lost the secret", what);
}

static void check_pool(unsigned int flags, const char *what)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_params p = { .name = what, .nr_pages = 64, .flags = flags };
	void *page, *last;
	struct vma v;
	unsigned int want_lo = !(flags & LAB_POOL_NOLOCK), want_dd = !(flags & LAB_POOL_DUMPABLE);

	REQUIRE(labyrinth_init(&lab, &p) == 0, "%s: init", what);
	page = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC);
	REQUIRE(page != NULL, "%s: page", what);
	v = find_vma(page);
	CHECK(v.found, "%s: no VMA holds the page", what);
	if (v.found) {
		CHECK(has_flag(v.flags, "dc"), "%s: VmFlags '%s' lack dc", what, v.flags);
		CHECK(has_flag(v.flags, "lo") == (int)want_lo, "%s: VmFlags '%s': lo should be %s",
		      what, v.flags, want_lo ? "set" : "clear");
		CHECK(has_flag(v.flags, "dd") == (int)want_dd, "%s: VmFlags '%s': dd should be %s",
		      what, v.flags, want_dd ? "set" : "clear");
		CHECK(has_flag(v.flags, "rd") && has_flag(v.flags, "wr"), "%s: not rw: '%s'",
		      what, v.flags);
		/* no khugepaged collapse later: it would unmap the pages a while */
		CHECK(has_flag(v.flags, "nh") || !thp_kernel(), "%s: VmFlags '%s' lack nh", what,
		      v.flags);
		CHECK(v.size_kb >= 64 * 4, "%s: VMA of %lu kB for a 256 kB pool", what, v.size_kb);
		CHECK(v.rss_kb == v.size_kb, "%s: Rss %lu kB of Size %lu kB: not populated", what,
		      v.rss_kb, v.size_kb);
		if (want_lo)
			CHECK(v.locked_kb == v.size_kb, "%s: Locked %lu of %lu kB", what,
			      v.locked_kb, v.size_kb);
		else
			CHECK(v.locked_kb == 0, "%s: Locked %lu kB with NOLOCK", what, v.locked_kb);
	}
	/* the whole pool lies in VMAs like this one */
	{
		void *all[64];
		unsigned int n = labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC | LAB_GFP_NOWARN, all, 64);
		unsigned int i, bad = 0;

		CHECK_EQ(n, 63);
		for (i = 0; i < n; i++) {
			struct vma w = find_vma(all[i]);

			if (!w.found || !has_flag(w.flags, "dc") || w.rss_kb != w.size_kb)
				bad++;
		}
		CHECK(bad == 0, "%s: %u pages in other mappings", what, bad);
		last = all[n - 1];
		fork_check(last, what);
		CHECK_EQ(labyrinth_free_bulk(&lab, all, n), n);
	}
	fork_check(page, what);
	/* and the pool works after the fork */
	CHECK_EQ(labyrinth_free_page(&lab, page), 0);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
	/* gone after destroy */
	CHECK_EQ(in_maps(page), 0);
}

/*
 * A pool that covers whole 2 MiB ranges (1024 pages: 4 MiB, aligned to its
 * largest block) is populated with transparent huge pages where the kernel
 * has them, locked and populated all the same, and never collapsed later.
 */
static void check_huge(unsigned int flags, const char *what)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_params p = { .name = what, .nr_pages = 1024, .flags = flags };
	long fallbacks = thp_fault_fallbacks();
	void *page;
	struct vma v;

	REQUIRE(labyrinth_init(&lab, &p) == 0, "%s: init", what);
	page = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC);
	REQUIRE(page != NULL, "%s: page", what);
	check_thp_at_populate(page, fallbacks, what);
	v = find_vma(page);
	CHECK(v.rss_kb == v.size_kb, "%s: Rss %lu kB of Size %lu kB: not populated", what, v.rss_kb,
	      v.size_kb);
	CHECK(v.locked_kb == (flags & LAB_POOL_NOLOCK ? 0 : v.size_kb), "%s: Locked %lu of %lu kB",
	      what, v.locked_kb, v.size_kb);
	fork_check(page, what);
	CHECK_EQ(labyrinth_free_page(&lab, page), 0);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/*
 * A pool of 2 MiB or more that grows: the grown pages get no huge pages
 * (a growth runs under the pool's slow lock) and join the mapping of the
 * pages before them, one mapping however many times the pool grows.
 */
static void check_huge_growth(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_params p = { .name = "huge-grown", .nr_pages = 1024, .max_pages = 4096,
				      .flags = nolock_unless_lockable("huge-grown", (size_t)4096 * 4096) };
	static void *pg[4096];
	unsigned int n = 0;
	struct vma first, last;

	REQUIRE(labyrinth_init(&lab, &p) == 0, "init huge-grown");
	while (n < 3000 && (pg[n] = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL)) != NULL)
		n++;
	CHECK_EQ(n, 3000);
	CHECK(check_stats(&lab).grows >= 2, "huge-grown: %llu growths",
	      (unsigned long long)check_stats(&lab).grows);
	first = find_vma(pg[0]);
	last = find_vma(pg[n - 1]);
	CHECK(first.found && last.found && first.start == last.start,
	      "huge-grown: first and grown pages in mappings at %#lx and %#lx",
	      (unsigned long)first.start, (unsigned long)last.start);
	CHECK(!has_flag(last.flags, "hg"), "huge-grown: VmFlags '%s' ask for huge pages", last.flags);
	CHECK(last.rss_kb == last.size_kb, "huge-grown: Rss %lu of %lu kB", last.rss_kb, last.size_kb);
	CHECK_EQ(labyrinth_free_bulk(&lab, pg, n), n);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

int main(void)
{
	SKIP_UNDER_TSAN();
	check_huge_growth();
	check_huge(nolock_unless_lockable("huge", (size_t)1024 * 4096), "huge");
	check_huge(LAB_POOL_NOLOCK, "huge-nolock");
	check_pool(0, "default");
	check_pool(LAB_POOL_DUMPABLE, "dumpable");
	check_pool(LAB_POOL_NOLOCK, "nolock");
	check_pool(LAB_POOL_NOLOCK | LAB_POOL_DUMPABLE, "nolock-dumpable");
	check_pool(LAB_POOL_DEBUG, "debug");

	/* pages from KERNEL growth are mapped the same way */
	{
		labyrinth_t lab = { 0 };
		struct labyrinth_params p = { .name = "grown", .nr_pages = 8, .max_pages = 2048 };
		static void *pg[2048];
		unsigned int n = 0;
		struct vma v;

		REQUIRE(labyrinth_init(&lab, &p) == 0, "init grown");
		while (n < 100 && (pg[n] = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL)) != NULL)
			n++;
		CHECK_EQ(n, 100);
		CHECK(check_stats(&lab).grows >= 1, "no growth");
		v = find_vma(pg[n - 1]);
		CHECK(v.found && has_flag(v.flags, "dc") && has_flag(v.flags, "dd") &&
		      has_flag(v.flags, "lo") && (has_flag(v.flags, "nh") || !thp_kernel()),
		      "grown pages VmFlags '%s'", v.flags);
		CHECK(v.found && v.rss_kb == v.size_kb, "grown pages Rss %lu of %lu kB", v.rss_kb,
		      v.size_kb);
		fork_check(pg[n - 1], "grown");
		CHECK_EQ(labyrinth_free_bulk(&lab, pg, n), n);
		CHECK_EQ(labyrinth_destroy(&lab), 0);
	}
	return check_done();
}
