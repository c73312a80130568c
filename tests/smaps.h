/* SPDX-License-Identifier: MIT */
/*
 * smaps.h - what the kernel says of the mapping that holds an address
 * (/proc/self/smaps), and whether transparent huge pages were given to a
 * range: for the tests that check how pool memory is mapped.  Include
 * after check.h.
 */
#ifndef LAB_TEST_SMAPS_H
#define LAB_TEST_SMAPS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vma {
	int found;
	uintptr_t start, end;
	unsigned long size_kb, rss_kb, kps_kb, locked_kb, anon_huge_kb;
	char flags[512]; /* VmFlags, without the newline */
};

/* The smaps entry of the mapping that contains addr. */
static inline struct vma find_vma(const void *addr)
{
	struct vma v;
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0;
	uintptr_t a = (uintptr_t)addr;

	memset(&v, 0, sizeof(v));
	if (!f)
		return v;
	while (fgets(line, sizeof(line), f)) {
		unsigned long s, e;

		/* a header line "start-end perms ...": no attribute line parses so */
		if (sscanf(line, "%lx-%lx", &s, &e) == 2) {
			if (in)
				break;
			in = a >= s && a < e;
			if (in) {
				v.found = 1;
				v.start = s;
				v.end = e;
			}
			continue;
		}
		if (!in)
			continue;
		sscanf(line, "Size: %lu kB", &v.size_kb);
		sscanf(line, "Rss: %lu kB", &v.rss_kb);
		sscanf(line, "KernelPageSize: %lu kB", &v.kps_kb);
		sscanf(line, "Locked: %lu kB", &v.locked_kb);
		sscanf(line, "AnonHugePages: %lu kB", &v.anon_huge_kb);
		if (!strncmp(line, "VmFlags:", 8)) {
			memcpy(v.flags, line + 8, strlen(line + 8) + 1);
			v.flags[strcspn(v.flags, "\n")] = '\0';
		}
	}
	fclose(f);
	return v;
}

/* Is the two-letter VmFlags mnemonic fl in flags? */
static inline int has_flag(const char *flags, const char *fl)
{
	const char *p = flags;

	while ((p = strstr(p, fl)) != NULL) {
		if ((p == flags || p[-1] == ' ') && (p[2] == ' ' || p[2] == '\0'))
			return 1;
		p += 2;
	}
	return 0;
}

#define THP_DIR "/sys/kernel/mm/transparent_hugepage"

/* The first line of a file, "" if it cannot be read. */
static inline const char *first_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");

	buf[0] = '\0';
	if (f) {
		if (!fgets(buf, (int)size, f))
			buf[0] = '\0';
		fclose(f);
	}
	return buf;
}

/* Whether this kernel has transparent huge pages at all (PREEMPT_RT and
 * kernels built without them have no THP_DIR, and refuse MADV_*HUGEPAGE). */
static inline int thp_kernel(void)
{
	char line[128];

	return first_line(THP_DIR "/enabled", line, sizeof(line))[0] != '\0';
}

/*
 * Whether the library asks for huge pages for a pool of 2 MiB or more and
 * the kernel would give them to this process: the mode is "madvise" (with
 * "always" every range gets them, asked or not, and the check would prove
 * nothing), 2 MiB huge pages are not turned off on their own, the
 * process has not turned THP off (PR_SET_THP_DISABLE), and khugepaged's
 * max_ptes_none is 511, the only value with which the library asks
 * (src/platform_linux.c thp_stay_whole).
 */
static inline int thp_expected(void)
{
	char line[128];
	int off = 0;
	FILE *f;

	if (!strstr(first_line(THP_DIR "/enabled", line, sizeof(line)), "[madvise]") ||
	    strstr(first_line(THP_DIR "/hugepages-2048kB/enabled", line, sizeof(line)), "[never]") ||
	    strtol(first_line(THP_DIR "/hpage_pmd_size", line, sizeof(line)), NULL, 10) != 2097152 ||
	    strtol(first_line(THP_DIR "/khugepaged/max_ptes_none", line, sizeof(line)), NULL, 10) != 511)
		return 0;
	f = fopen("/proc/self/status", "r");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (!strncmp(line, "THP_enabled:", 12))
				off = strtol(line + 12, NULL, 10) == 0;
		fclose(f);
	}
	return !off;
}

/* The kernel's count of huge page faults that fell back to small pages
 * (for lack of a free 2 MiB block), -1 if it keeps none. */
static inline long thp_fault_fallbacks(void)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char line[128];
	long n = -1;

	if (!f)
		return -1;
	while (n < 0 && fgets(line, sizeof(line), f))
		if (sscanf(line, "thp_fault_fallback %ld", &n) != 1)
			n = -1;
	fclose(f);
	return n;
}

/*
 * The pool page addr lies in a mapping that asked for transparent huge
 * pages when it was populated and forbids them after (VmFlags nh: no
 * collapse by khugepaged later, which would unmap the pages while it
 * copies them): where the kernel has THP, the mapping is nh and not hg;
 * where the library asks (thp_expected), it has huge pages, or the
 * kernel counted a fallback since fallbacks_before (thp_fault_fallbacks()
 * before the pool's init).
 */
static inline void check_thp_at_populate(const void *addr, long fallbacks_before, const char *what)
{
	struct vma v = find_vma(addr);

	CHECK(v.found, "%s: no mapping holds %p", what, addr);
	if (!thp_kernel()) {
		printf("note: %s: no transparent huge pages in this kernel\n", what);
		return;
	}
	CHECK(has_flag(v.flags, "nh"), "%s: VmFlags '%s' lack nh (MADV_NOHUGEPAGE after populate)",
	      what, v.flags);
	CHECK(!has_flag(v.flags, "hg"), "%s: VmFlags '%s' still ask for huge pages", what, v.flags);
	if (!thp_expected()) {
		printf("note: %s: THP settings under which the library does not ask (or every range "
		       "gets them): AnonHugePages %lu kB\n", what, v.anon_huge_kb);
		return;
	}
	CHECK(v.anon_huge_kb > 0 || thp_fault_fallbacks() > fallbacks_before,
	      "%s: no huge page (AnonHugePages %lu kB) and no fallback counted", what, v.anon_huge_kb);
	printf("%s: AnonHugePages %lu kB of %lu kB\n", what, v.anon_huge_kb, v.size_kb);
}

#endif /* LAB_TEST_SMAPS_H */
