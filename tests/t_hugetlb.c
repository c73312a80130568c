/* Description: huge pages: LAB_POOL_HUGETLB is -ENOMEM with none reserved (no fallback), 2M pools fall back to THP-requested memory and say so, and with pages reserved 4K/2M pools use hugetlbfs (KernelPageSize 2048 kB), 1G where possible. Needs root. */
#include "check.h"
#include "smaps.h"

#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#define NR_2M_PATH "/proc/sys/vm/nr_hugepages"
#define OVER_2M_PATH "/proc/sys/vm/nr_overcommit_hugepages"
#define FREE_2M_PATH "/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages"
#define NR_1G_PATH "/sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages"
#define FREE_1G_PATH "/sys/kernel/mm/hugepages/hugepages-1048576kB/free_hugepages"

/* Saved settings, as the text to write back; restored at any exit. */
static char old_nr[32], old_over[32], old_1g[32];
static volatile sig_atomic_t restored;

static long read_long(const char *path)
{
	char buf[64];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

/* Async-signal-safe: open, write, close. */
static int write_str(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	close(fd);
	return ok ? 0 : -1;
}

static int write_long(const char *path, long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%ld\n", v);
	return write_str(path, buf);
}

static void save(const char *path, char *out, size_t size)
{
	long v = read_long(path);

	if (v >= 0)
		snprintf(out, size, "%ld\n", v);
	else
		out[0] = '\0';
}

static void restore(void)
{
	if (restored)
		return;
	restored = 1;
	if (old_nr[0])
		write_str(NR_2M_PATH, old_nr);
	if (old_over[0])
		write_str(OVER_2M_PATH, old_over);
	if (old_1g[0])
		write_str(NR_1G_PATH, old_1g);
}

static void on_signal(int sig)
{
	restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static char *dump_text(labyrinth_t *lab)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return NULL;
	CHECK_EQ(labyrinth_dump(lab, f), 0);
	fclose(f);
	return buf;
}

static void expect_backing(labyrinth_t *lab, const char *want, const char *not_want,
			   const char *what)
{
	char *t = dump_text(lab);

	CHECK(t && strstr(t, want), "%s: dump does not say '%s':\n%s", what, want, t ? t : "");
	CHECK(t && !strstr(t, not_want), "%s: dump says '%s':\n%s", what, not_want, t ? t : "");
	free(t);
}

static int count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int c, n = 0;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* Allocate every page, write first and last byte of each, free, destroy. */
static void use_all(labyrinth_t *lab, size_t nr, size_t ps, const char *what)
{
	void **pg = calloc(nr, sizeof(*pg));
	size_t n, i, bad = 0;

	REQUIRE(pg != NULL, "calloc");
	n = labyrinth_alloc_bulk(lab, LAB_GFP_ATOMIC, pg, (unsigned int)nr);
	CHECK(n == nr, "%s: got %zu of %zu pages", what, n, nr);
	for (i = 0; i < n; i++) {
		unsigned char *c = pg[i];

		if (((uintptr_t)c & (ps - 1)) || !labyrinth_owns(lab, c))
			bad++;
		c[0] = (unsigned char)i;
		c[ps - 1] = (unsigned char)~i;
	}
	for (i = 0; i < n; i++) {
		unsigned char *c = pg[i];

		if (c[0] != (unsigned char)i || c[ps - 1] != (unsigned char)~i)
			bad++;
	}
	CHECK(bad == 0, "%s: %zu pages misaligned, foreign or overlapping", what, bad);
	CHECK_EQ(labyrinth_free_bulk(lab, pg, (unsigned int)n), n);
	CHECK_EQ(labyrinth_check(lab), 0);
	free(pg);
}

static void none_reserved(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_params p = { .name = "huge4k", .nr_pages = 1024,
				      .flags = LAB_POOL_HUGETLB };
	int before, after, rc;
	long fallbacks;
	struct vma v;
	void *pg;

	count_maps(); /* warm up stdio */
	before = count_maps();
	CHECK_EQ(labyrinth_init(&lab, &p), -ENOMEM);
	p.name = "huge2m";
	p.page_size = LAB_PAGE_2M;
	p.nr_pages = 2;
	CHECK_EQ(labyrinth_init(&lab, &p), -ENOMEM);
	p.flags |= LAB_POOL_NOLOCK;
	CHECK_EQ(labyrinth_init(&lab, &p), -ENOMEM);
	after = count_maps();
	CHECK(before == after, "failed HUGETLB inits left mappings: %d -> %d lines", before, after);
	CHECK_EQ(labyrinth_page_size(&lab), 0);

	/* a 2 MiB pool without the flag: ordinary memory, aligned, THP asked for */
	p.name = "fallback2m";
	p.flags = 0;
	p.nr_pages = 3;
	fallbacks = thp_fault_fallbacks();
	rc = labyrinth_init(&lab, &p);
	CHECK_EQ(rc, 0);
	if (rc)
		return;
	CHECK_EQ(labyrinth_page_size(&lab), LAB_PAGE_2M);
	expect_backing(&lab, "anonymous, transparent huge pages requested", "hugetlbfs",
		       "2M fallback");
	pg = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC);
	REQUIRE(pg != NULL, "fallback page");
	CHECK(((uintptr_t)pg & (LAB_PAGE_2M - 1)) == 0, "fallback page %p not 2 MiB aligned", pg);
	check_thp_at_populate(pg, fallbacks, "2M fallback");
	v = find_vma(pg);
	CHECK(!has_flag(v.flags, "ht"), "fallback VMA is hugetlb: '%s'", v.flags);
	CHECK(has_flag(v.flags, "dc") && has_flag(v.flags, "lo"), "fallback VMA flags '%s'", v.flags);
	CHECK_EQ(labyrinth_free_page(&lab, pg), 0);
	use_all(&lab, 3, LAB_PAGE_2M, "2M fallback");
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

static void reserved(long free_before)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_params p;
	struct vma v;
	void *pg;
	int rc;

	/* 4 KiB pool of 1024 pages on 2 MiB hugetlbfs pages */
	memset(&p, 0, sizeof(p));
	p.name = "huge4k";
	p.nr_pages = 1024;
	p.flags = LAB_POOL_HUGETLB;
	rc = labyrinth_init(&lab, &p);
	CHECK_EQ(rc, 0);
	if (rc == 0) {
		CHECK_EQ(labyrinth_page_size(&lab), 4096);
		expect_backing(&lab, "hugetlbfs", "anonymous", "4K HUGETLB");
		pg = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC);
		REQUIRE(pg != NULL, "page");
		v = find_vma(pg);
		CHECK_EQ(v.kps_kb, 2048);
		CHECK(has_flag(v.flags, "ht") && has_flag(v.flags, "dc"), "4K HUGETLB flags '%s'",
		      v.flags);
		CHECK(read_long(FREE_2M_PATH) == free_before - 2, "4 MiB pool: free huge pages %ld, was %ld",
		      read_long(FREE_2M_PATH), free_before);
		CHECK_EQ(labyrinth_free_page(&lab, pg), 0);
		use_all(&lab, 1024, 4096, "4K HUGETLB");
		CHECK_EQ(labyrinth_destroy(&lab), 0);
		CHECK_EQ(read_long(FREE_2M_PATH), free_before);
	}

	/* 2 MiB pool without the flag: now hugetlbfs */
	memset(&p, 0, sizeof(p));
	p.name = "auto2m";
	p.page_size = LAB_PAGE_2M;
	p.nr_pages = 3;
	rc = labyrinth_init(&lab, &p);
	CHECK_EQ(rc, 0);
	if (rc == 0) {
		expect_backing(&lab, "hugetlbfs", "anonymous", "2M with pages reserved");
		pg = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC);
		REQUIRE(pg != NULL, "page");
		CHECK(((uintptr_t)pg & (LAB_PAGE_2M - 1)) == 0, "2M page %p misaligned", pg);
		v = find_vma(pg);
		CHECK_EQ(v.kps_kb, 2048);
		CHECK(has_flag(v.flags, "ht"), "2M pool not hugetlb: '%s'", v.flags);
		CHECK_EQ(labyrinth_free_page(&lab, pg), 0);
		use_all(&lab, 3, LAB_PAGE_2M, "2M auto");
		CHECK_EQ(labyrinth_destroy(&lab), 0);
	}

	/* 2 MiB pool with the flag */
	p.name = "huge2m";
	p.flags = LAB_POOL_HUGETLB;
	rc = labyrinth_init(&lab, &p);
	CHECK_EQ(rc, 0);
	if (rc == 0) {
		expect_backing(&lab, "hugetlbfs", "anonymous", "2M HUGETLB");
		use_all(&lab, 3, LAB_PAGE_2M, "2M HUGETLB");
		CHECK_EQ(labyrinth_destroy(&lab), 0);
	}
	CHECK_EQ(read_long(FREE_2M_PATH), free_before);

	/* more than is reserved: -ENOMEM, never a fallback, nothing taken */
	p.nr_pages = (size_t)free_before + 1;
	CHECK_EQ(labyrinth_init(&lab, &p), -ENOMEM);
	CHECK_EQ(read_long(FREE_2M_PATH), free_before);

	/* KERNEL growth of a HUGETLB pool stops, cleanly, where the pages end */
	memset(&p, 0, sizeof(p));
	p.name = "huge-grow";
	p.nr_pages = 512;
	p.max_pages = (size_t)(free_before + 4) * 512;
	p.flags = LAB_POOL_HUGETLB;
	rc = labyrinth_init(&lab, &p);
	CHECK_EQ(rc, 0);
	if (rc == 0) {
		size_t cap = (size_t)p.max_pages, n = 0;
		void **pg2 = calloc(cap, sizeof(*pg2));
		struct labyrinth_stats st;

		REQUIRE(pg2 != NULL, "calloc");
		errno = 0;
		while (n < cap && (pg2[n] = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL)) != NULL)
			*(volatile char *)pg2[n++] = 1;
		CHECK(errno == ENOMEM, "growth past the huge pages: errno %d", errno);
		st = check_stats(&lab);
		CHECK(st.pages_total > 512, "never grew (%llu)", (unsigned long long)st.pages_total);
		CHECK(st.pages_total <= (uint64_t)free_before * 512, "%llu pages on %ld huge pages",
		      (unsigned long long)st.pages_total, free_before);
		CHECK_EQ(st.pages_inuse, n);
		CHECK_EQ(labyrinth_check(&lab), 0);
		CHECK_EQ(labyrinth_free_bulk(&lab, pg2, (unsigned int)n), n);
		CHECK_EQ(labyrinth_destroy(&lab), 0);
		free(pg2);
		CHECK_EQ(read_long(FREE_2M_PATH), free_before);
	}
}

static void one_gig(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_params p = { .name = "huge1g", .page_size = LAB_PAGE_1G, .nr_pages = 1,
				      .flags = LAB_POOL_HUGETLB };
	long have = read_long(NR_1G_PATH), free1g;
	unsigned char *pg;
	int rc;

	if (have < 0) {
		printf("note: no 1 GiB huge page support here, 1G part skipped\n");
		return;
	}
	save(NR_1G_PATH, old_1g, sizeof(old_1g));
	write_long(NR_1G_PATH, have + 1);
	free1g = read_long(FREE_1G_PATH);
	if (free1g < 1) {
		printf("note: could not reserve a 1 GiB huge page (free %ld), 1G part skipped\n",
		       free1g);
		return;
	}
	rc = labyrinth_init(&lab, &p);
	CHECK_EQ(rc, 0);
	if (rc)
		return;
	CHECK_EQ(labyrinth_page_size(&lab), LAB_PAGE_1G);
	expect_backing(&lab, "hugetlbfs", "anonymous", "1G HUGETLB");
	pg = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC | LAB_GFP_NOWARN);
	CHECK(pg != NULL, "1G page");
	if (pg) {
		CHECK(((uintptr_t)pg & (LAB_PAGE_1G - 1)) == 0, "1G page %p misaligned", (void *)pg);
		CHECK_EQ(find_vma(pg).kps_kb, 1048576);
		pg[0] = 1;
		pg[LAB_PAGE_1G - 1] = 2;
		CHECK(pg[0] == 1 && pg[LAB_PAGE_1G - 1] == 2, "1G page memory");
		CHECK(labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC) == NULL && errno == ENOMEM,
		      "one-page pool");
		CHECK_EQ(labyrinth_free_page(&lab, pg), 0);
	}
	CHECK_EQ(read_long(FREE_1G_PATH), free1g - 1);
	CHECK_EQ(labyrinth_check(&lab), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
	CHECK_EQ(read_long(FREE_1G_PATH), free1g);
}

int main(void)
{
	long free2m;
	int fd;

	SKIP_UNDER_TSAN();

	if (geteuid() != 0)
		SKIP_ALL("needs root to reserve huge pages (%s)", NR_2M_PATH);
	fd = open(NR_2M_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		SKIP_ALL("%s not writable: %s", NR_2M_PATH, strerror(errno));
	close(fd);
	if (read_long(FREE_2M_PATH) < 0)
		SKIP_ALL("no 2 MiB huge page support (%s)", FREE_2M_PATH);

	save(NR_2M_PATH, old_nr, sizeof(old_nr));
	save(OVER_2M_PATH, old_over, sizeof(old_over));
	atexit(restore);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGSEGV, on_signal);
	signal(SIGBUS, on_signal);
	signal(SIGABRT, on_signal);
	signal(SIGFPE, on_signal);

	/* no huge pages at all, no surplus */
	write_long(OVER_2M_PATH, 0);
	write_long(NR_2M_PATH, 0);
	if (read_long(FREE_2M_PATH) != 0) {
		printf("note: 2 MiB huge pages in use elsewhere, 'none reserved' part skipped\n");
	} else {
		none_reserved();
	}

	/* now 8 of them (and still no surplus) */
	write_long(NR_2M_PATH, 8);
	free2m = read_long(FREE_2M_PATH);
	if (free2m < 6) {
		printf("note: only %ld 2 MiB huge pages could be reserved, that part skipped\n",
		       free2m);
	} else {
		reserved(free2m);
	}
	write_long(NR_2M_PATH, 0);

	one_gig();
	restore();
	CHECK(read_long(NR_2M_PATH) == strtol(old_nr, NULL, 10), "nr_hugepages not restored");
	return check_done();
}
