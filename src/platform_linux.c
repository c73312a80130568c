/* SPDX-License-Identifier: MIT */
/*
 * platform_linux.c - the Linux user-space host: every system call of the
 * library lives in this file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "labyrinth.h" /* with stdio: declares labyrinth_dump */
#include "internal.h"
#include "publish_format.h"

_Static_assert(LAB_EPERM == EPERM && LAB_EINTR == EINTR && LAB_EAGAIN == EAGAIN &&
	       LAB_ENOMEM == ENOMEM && LAB_EBUSY == EBUSY && LAB_EINVAL == EINVAL &&
	       LAB_ENOSPC == ENOSPC && LAB_ENOSYS == ENOSYS &&
	       LAB_ETIMEDOUT == ETIMEDOUT && LAB_EALREADY == EALREADY &&
	       LAB_EUCLEAN == EUCLEAN,
	       "the core's errno values must be the host's");

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef SYS_memfd_secret
#define SYS_memfd_secret 447
#endif
#ifndef MPOL_BIND
#define MPOL_BIND 2
#endif
#define NODE_BITS 1024 /* nodes a mask names: the kernel's MAX_NUMNODES at most */
#define NODE_DIR "/sys/devices/system/node"

/*
 * mlock and madvise go to the kernel directly: sanitizer runtimes
 * intercept the libc wrappers (ThreadSanitizer turns mlock into a no-op),
 * and the tests must see what the kernel really did.
 */
static int sys_mlock(void *addr, size_t len)
{
	return (int)syscall(SYS_mlock, addr, len);
}

static int sys_madvise(void *addr, size_t len, int advice)
{
	return (int)syscall(SYS_madvise, addr, len, advice);
}

static int neg_errno(void)
{
	return errno ? -errno : -EIO;
}

/*
 * Why this thread's last platform call failed, for LABYRINTH_VERBOSE: the
 * core passes only an errno up, and ENOMEM stands for several causes.
 */
enum os_fail_op {
	FAIL_NONE,
	FAIL_SECRET_OPEN, /* memfd_secret() */
	FAIL_RESERVE,     /* address space for max_pages */
	FAIL_MAP,         /* mapping pages (anonymous or secret) */
	FAIL_HUGETLB,     /* mapping hugetlbfs pages */
	FAIL_LOCK,        /* mlock, or secret memory over the memlock limit */
	FAIL_META,        /* mapping the allocator's metadata */
	FAIL_NODE,        /* the bound NUMA node has too little free memory */
	FAIL_NODE_BIND,   /* mbind(2) refused */
	FAIL_NODE_NONE,   /* numa_node is no node with memory */
};

/* initial-exec, like the core's TLS: no __tls_get_addr, which may allocate
 * (a failed init must leave the process's mappings as they were). */
static __thread struct {
	enum os_fail_op op;
	int err;         /* the kernel's errno, before as_enomem() */
	size_t len;      /* bytes of the failed call */
	size_t unit;     /* huge page size for FAIL_HUGETLB */
	size_t meta_len; /* metadata bytes of the last init */
	long long have;  /* FAIL_NODE: free bytes or huge pages the node had */
} os_fail __attribute__((tls_model("initial-exec")));

static void note_fail(enum os_fail_op op, int err, size_t len)
{
	os_fail.op = op;
	os_fail.err = err;
	os_fail.len = len;
}

/* "Cannot get or lock the memory" is ENOMEM to the caller, whatever the
 * kernel's reason (EAGAIN or EPERM from mlock, EAGAIN from secretmem). */
static int as_enomem(int err)
{
	return (err == -EAGAIN || err == -EPERM) ? -ENOMEM : err;
}

/* ---- NUMA: binding a range to a node, and where its pages lie ---- */

static long long read_number(const char *path, const char *key);

/* Is node in a sysfs node list such as "0-1,3"? */
static int list_has(const char *list, unsigned int node)
{
	const char *at = list;
	char *end;

	while (*at >= '0' && *at <= '9') {
		unsigned long lo = strtoul(at, &end, 10), hi = lo;

		if (*end == '-')
			hi = strtoul(end + 1, &end, 10);
		if (node >= lo && node <= hi)
			return 1;
		at = *end == ',' ? end + 1 : end;
	}
	return 0;
}

/* The nodes that have memory, as sysfs lists them; "" when unknown. */
static void nodes_with_memory(char *buf, size_t size)
{
	int fd = open(NODE_DIR "/has_memory", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
}

int lab_os_node_check(unsigned int node)
{
	char list[256];

	if (node >= NODE_BITS)
		goto none;
	if (access(NODE_DIR, F_OK) != 0 && errno == ENOENT) {
		if (node == 0)
			return 0; /* a kernel without NUMA: node 0 is all there is */
		goto none;
	}
	nodes_with_memory(list, sizeof(list));
	if (list_has(list, node))
		return 0;
none:
	note_fail(FAIL_NODE_NONE, EINVAL, 0);
	return -EINVAL;
}

/* A node mask with one bit, in the form mbind(2) and set_mempolicy(2) read. */
struct node_mask {
	unsigned long bits[NODE_BITS / (8 * sizeof(unsigned long))];
};

static void mask_of(struct node_mask *m, unsigned int node)
{
	memset(m, 0, sizeof(*m));
	m->bits[node / (8 * sizeof(unsigned long))] = 1ul << (node % (8 * sizeof(unsigned long)));
}

/*
 * Bind [addr, addr + len) to node, strictly (MPOL_BIND: the allocator
 * takes no page from another node, it fails), before anything populates
 * it.  A kernel without NUMA has node 0 only, which is the binding.
 */
static int bind_range(void *addr, size_t len, int node)
{
	struct node_mask m;

	if (node < 0)
		return 0;
	mask_of(&m, (unsigned int)node);
	if (syscall(SYS_mbind, addr, len, MPOL_BIND, m.bits, NODE_BITS + 1, 0) == 0)
		return 0;
	if (errno == ENOSYS && node == 0)
		return 0;
	note_fail(FAIL_NODE_BIND, errno, len);
	return neg_errno();
}

/*
 * Secret memory takes its pages from the faulting thread's policy, not
 * the mapping's: bind the thread while it populates, then restore it.
 */
struct thread_policy {
	int mode;
	struct node_mask mask;
	int bound;
};

static int thread_bind(struct thread_policy *old, int node)
{
	struct node_mask m;

	old->bound = 0;
	if (node < 0)
		return 0;
	if (syscall(SYS_get_mempolicy, &old->mode, old->mask.bits, NODE_BITS + 1, NULL, 0))
		return errno == ENOSYS && node == 0 ? 0 : neg_errno();
	mask_of(&m, (unsigned int)node);
	if (syscall(SYS_set_mempolicy, MPOL_BIND, m.bits, NODE_BITS + 1)) {
		note_fail(FAIL_NODE_BIND, errno, 0);
		return neg_errno();
	}
	old->bound = 1;
	return 0;
}

static void thread_unbind(const struct thread_policy *old)
{
	if (old->bound)
		(void)syscall(SYS_set_mempolicy, old->mode, old->mask.bits, NODE_BITS + 1);
}

/*
 * Can the bound node supply len bytes?  A strict binding that runs out
 * while populating wakes the OOM killer (or, for huge pages, fails a
 * fault), so ask first: the node's free huge pages of the unit, or its
 * free memory.  -ENOMEM when it has too little, 0 otherwise.
 */
static int node_room(const struct lab_backing *b, size_t len)
{
	char path[128];
	long long have;

	if (b->node < 0)
		return 0;
	if (b->kind == LAB_BACKING_HUGETLB) {
		(void)snprintf(path, sizeof(path), NODE_DIR "/node%d/hugepages/hugepages-%zukB/free_hugepages",
			       b->node, b->unit >> 10);
		have = read_number(path, NULL);
		if (have < 0 || (unsigned long long)have * b->unit >= len)
			return 0; /* unknown: the mapping itself will tell */
	} else {
		(void)snprintf(path, sizeof(path), NODE_DIR "/node%d/meminfo", b->node);
		have = read_number(path, "MemFree:");
		if (have < 0 || (unsigned long long)have * 1024 >= len)
			return 0;
		have *= 1024;
	}
	note_fail(FAIL_NODE, ENOMEM, len);
	os_fail.unit = b->kind == LAB_BACKING_HUGETLB ? b->unit : 0; /* explain_node() */
	os_fail.have = have;
	return -ENOMEM;
}

/* The machine's only node with memory, or -1 when there are several or
 * sysfs does not say (a kernel without NUMA: move_pages(2) says its pages
 * are unknown, as labyrinth_dump(3) tells). */
static int only_node(void)
{
	char list[256];
	char *end;
	unsigned long node;

	nodes_with_memory(list, sizeof(list));
	if (list[0] < '0' || list[0] > '9')
		return -1;
	node = strtoul(list, &end, 10);
	return *end == '\0' && node < NODE_BITS ? (int)node : -1;
}

/*
 * move_pages(2) with no target nodes only reports where each page lies
 * (or -errno for one it cannot see: secret memory on some kernels).  On a
 * machine with one node every populated page lies there, and the call,
 * a page table walk per page, was half of a 4 MiB pool's init: it is
 * made only where there is a choice.
 */
void lab_os_count_nodes(const void *addr, size_t len, size_t page_size,
			struct lab_node_pages *n)
{
	enum { CHUNK = 256 };
	void *pages[CHUNK];
	int status[CHUNK];
	size_t total = len / page_size, done = 0, i, k;
	int node = only_node();

	if (node >= 0) {
		if (node < LAB_NODE_SLOTS)
			n->on[node] += total;
		else
			n->other += total;
		return;
	}
	while (done < total) {
		k = total - done < CHUNK ? total - done : CHUNK;
		for (i = 0; i < k; i++) {
			pages[i] = (unsigned char *)(uintptr_t)addr + (done + i) * page_size;
			status[i] = -1;
		}
		if (syscall(SYS_move_pages, 0, (unsigned long)k, pages, NULL, status, 0))
			for (i = 0; i < k; i++)
				status[i] = -1;
		for (i = 0; i < k; i++) {
			if (status[i] < 0)
				n->unknown++;
			else if (status[i] < LAB_NODE_SLOTS)
				n->on[status[i]]++;
			else
				n->other++;
		}
		done += k;
	}
}

/* ---- memory ---- */

int lab_os_backing_open(struct lab_backing *b, size_t page_size, unsigned int flags, int node)
{
	b->fd = -1;
	b->flags = flags;
	b->thp = 0;
	b->node = node;
	if (flags & LAB_POOL_SECRET) {
		long fd = syscall(SYS_memfd_secret, (unsigned long)O_CLOEXEC);

		if (fd < 0) {
			note_fail(FAIL_SECRET_OPEN, errno, 0);
			return neg_errno();
		}
		b->kind = LAB_BACKING_SECRET;
		b->fd = (int)fd;
		b->unit = (size_t)sysconf(_SC_PAGESIZE);
		return 0;
	}
	if ((flags & LAB_POOL_HUGETLB) || page_size > LAB_PAGE_4K) {
		/* 4 KiB pools on hugetlbfs are carved from 2 MiB pages. */
		b->kind = LAB_BACKING_HUGETLB;
		b->unit = page_size > LAB_PAGE_4K ? page_size : LAB_PAGE_2M;
		return 0;
	}
	b->kind = LAB_BACKING_ANON;
	b->unit = (size_t)sysconf(_SC_PAGESIZE);
	return 0;
}

void lab_os_backing_close(struct lab_backing *b)
{
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

/*
 * Whether a huge page the kernel gives a pool stays whole.  Since 6.12 the
 * kernel splits, under memory pressure, a huge page with more than
 * khugepaged's max_ptes_none zero-filled 4 KiB pages, and a split unmaps
 * the page for a moment (an atomic allocation touching it would fault and
 * wait): a pool's free pages are zero, so only the default 511 (never
 * split a fully mapped huge page) leaves them alone.  No such file: no
 * huge pages to ask for.
 */
static int thp_stay_whole(void)
{
	return read_number("/sys/kernel/mm/transparent_hugepage/khugepaged/max_ptes_none", NULL) == 511;
}

int lab_os_reserve(struct lab_backing *b, size_t len, size_t align, void **out)
{
	size_t span = len + align;
	unsigned char *raw, *start;
	size_t head;

	/* Address space only: nothing lies on a node yet.  An anonymous pool
	 * that can hold a whole 2 MiB asks for transparent huge pages for the
	 * pages init populates (the range is aligned to its largest block,
	 * 4 MiB for 4 KiB pages; lab_os_commit): where the kernel gives them,
	 * populating and locking a 4 MiB pool is several times faster (one
	 * fault and one zeroing pass per 2 MiB, not 512 faults), and a packet
	 * path that touches many pages takes fewer TLB misses.  Every page is
	 * populated and locked anyway, so no memory is added; where the kernel
	 * has none to give, the pages are ordinary ones. */
	if (b->kind == LAB_BACKING_ANON && len >= LAB_PAGE_2M && align >= LAB_PAGE_2M &&
	    thp_stay_whole())
		b->thp = 1;
	raw = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED) {
		note_fail(FAIL_RESERVE, errno, span);
		return -ENOMEM;
	}
	start = (unsigned char *)(((uintptr_t)raw + align - 1) & ~(uintptr_t)(align - 1));
	head = (size_t)(start - raw);
	if (head)
		munmap(raw, head);
	if (span - head - len)
		munmap(start + len, span - head - len);
	*out = start;
	return 0;
}

void lab_os_release(void *addr, size_t len)
{
	munmap(addr, len);
}

/* Turn a range back into inaccessible reservation, dropping its memory. */
static void unreserve_commit(void *addr, size_t len)
{
	/* On failure the range merely stays committed: memory kept, nothing wrong. */
	(void)mmap(addr, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
		   -1, 0);
}

static void *map_range(struct lab_backing *b, void *addr, size_t off, size_t len)
{
	int prot = PROT_READ | PROT_WRITE;
	int fl = MAP_FIXED;

	switch (b->kind) {
	case LAB_BACKING_SECRET:
		if (ftruncate(b->fd, (off_t)(off + len)) < 0)
			return MAP_FAILED;
		return mmap(addr, len, prot, fl | MAP_SHARED, b->fd, (off_t)off);
	case LAB_BACKING_HUGETLB:
		fl |= MAP_HUGETLB | (int)(__builtin_ctzl(b->unit) << MAP_HUGE_SHIFT);
		/* fall through */
	default:
		return mmap(addr, len, prot, fl | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	}
}

/* Secret memory cannot be mlocked or populated by madvise: write to it. */
static void touch_range(unsigned char *addr, size_t len)
{
	size_t step = (size_t)sysconf(_SC_PAGESIZE), i;

	for (i = 0; i < len; i += step)
		((volatile unsigned char *)addr)[i] = 0;
}

static int lock_and_populate(struct lab_backing *b, void *addr, size_t len)
{
	if (b->kind == LAB_BACKING_SECRET) {
		struct thread_policy old;
		int err = thread_bind(&old, b->node);

		if (err)
			return err;
		touch_range(addr, len);
		thread_unbind(&old);
		return 0;
	}
	if (!(b->flags & LAB_POOL_NOLOCK)) {
		if (sys_mlock(addr, len) == 0)
			return 0;
		note_fail(FAIL_LOCK, errno, len);
		return as_enomem(neg_errno());
	}
	if (sys_madvise(addr, len, MADV_POPULATE_WRITE) == 0)
		return 0;
	touch_range(addr, len); /* kernels before 5.14 */
	return 0;
}

int lab_os_commit(struct lab_backing *b, void *addr, size_t off, size_t len, int fallback)
{
	int err = node_room(b, len), huge;

	if (!err && map_range(b, addr, off, len) == MAP_FAILED) {
		err = neg_errno();
		/* secret memory counts against RLIMIT_MEMLOCK when mapped */
		note_fail(b->kind == LAB_BACKING_HUGETLB ? FAIL_HUGETLB :
			  b->kind == LAB_BACKING_SECRET && err == -EAGAIN ? FAIL_LOCK : FAIL_MAP,
			  -err, len);
		os_fail.unit = b->unit;
	}
	if (err) {
		unreserve_commit(addr, len);
		/* A 2 MiB / 1 GiB pool without LAB_POOL_HUGETLB and no reserved
		 * huge pages: ordinary memory, aligned, with THP requested. */
		if (fallback && b->kind == LAB_BACKING_HUGETLB && !(b->flags & LAB_POOL_HUGETLB)) {
			b->kind = LAB_BACKING_ANON;
			b->thp = thp_stay_whole();
			return lab_os_commit(b, addr, off, len, 0);
		}
		if (b->kind == LAB_BACKING_HUGETLB && err == -EINVAL)
			err = -ENOMEM; /* no such huge page size on this machine */
		return as_enomem(err);
	}
	err = bind_range(addr, len, b->node);
	if (err)
		goto fail;
	if (sys_madvise(addr, len, MADV_DONTFORK) ||
	    (!(b->flags & LAB_POOL_DUMPABLE) && sys_madvise(addr, len, MADV_DONTDUMP)))
		goto fail_madvise;
	/* Huge pages asked for while populating, and never after: khugepaged
	 * must not collapse, later, pages that got none, since a collapse
	 * unmaps the range while it copies and an atomic allocation would
	 * fault there (also where the THP mode is "always").  Asked for only
	 * by init (off 0) in a 4 KiB pool: a growth runs under the pool's
	 * slow lock, where the compaction a huge page may take does not
	 * belong, and marked before it is populated it merges into the
	 * mapping before it.  A 2 MiB or 1 GiB fallback pool asks each time:
	 * its pages are huge ones.  Either madvise fails with EINVAL on a
	 * kernel without THP (nothing to ask for, nothing to keep away);
	 * anything else left unmarked is a failed commit. */
	huge = b->thp && (off == 0 || b->unit > LAB_PAGE_4K);
	if (b->kind == LAB_BACKING_ANON &&
	    sys_madvise(addr, len, huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) && errno != EINVAL)
		goto fail_madvise;
	err = lock_and_populate(b, addr, len);
	if (err)
		goto fail;
	if (huge && sys_madvise(addr, len, MADV_NOHUGEPAGE) && errno != EINVAL)
		goto fail_madvise;
	return 0;
fail_madvise:
	err = neg_errno();
	note_fail(FAIL_NONE, -err, len);
fail:
	unreserve_commit(addr, len);
	if (b->kind == LAB_BACKING_SECRET)
		(void)ftruncate(b->fd, (off_t)off);
	return err;
}

int lab_os_meta_alloc(size_t len, int nolock, int node, void **out)
{
	/* Bound to a node: populated only once bound (mlock, or below). */
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | (node < 0 ? MAP_POPULATE : 0), -1, 0);
	struct lab_backing meta = { .kind = LAB_BACKING_ANON, .fd = -1, .node = node };
	int err;

	os_fail.meta_len = len;
	if (mem == MAP_FAILED) {
		note_fail(FAIL_META, errno, len);
		return -ENOMEM;
	}
	err = node_room(&meta, len);
	if (!err)
		err = bind_range(mem, len, node);
	if (err)
		goto fail;
	if (!nolock && sys_mlock(mem, len)) {
		err = as_enomem(neg_errno());
		note_fail(FAIL_LOCK, errno, len);
		goto fail;
	}
	if (nolock && node >= 0 && sys_madvise(mem, len, MADV_POPULATE_WRITE))
		touch_range(mem, len); /* kernels before 5.14 */
	*out = mem;
	return 0;
fail:
	munmap(mem, len);
	return err;
}

void lab_os_meta_free(void *addr, size_t len)
{
	munmap(addr, len);
}

int lab_os_futex_wait(uint32_t *word, uint32_t val, long timeout_ms)
{
	struct timespec ts, *tsp = NULL;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (timeout_ms % 1000) * 1000000L;
		tsp = &ts;
	}
	if (syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, val, tsp, NULL, 0) == 0)
		return 0;
	return errno == EAGAIN ? 0 : -errno;
}

void lab_os_futex_wake(uint32_t *word, int nr_waiters)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, nr_waiters, NULL, NULL, 0);
}

/* User space has no atomic context to catch. */
void lab_os_might_sleep(void)
{
}

uint64_t lab_os_monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int lab_os_eventfd(void)
{
	int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);

	return fd < 0 ? neg_errno() : fd;
}

int lab_os_dup(int fd)
{
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);

	return copy < 0 ? neg_errno() : copy;
}

void lab_os_close(int fd)
{
	close(fd);
}

void lab_os_eventfd_signal(int fd)
{
	uint64_t one = 1;
	int saved = errno; /* async-signal-safe: leave errno as it was */

	(void)!write(fd, &one, sizeof(one));
	errno = saved;
}

void lab_os_report(const char *line, size_t len)
{
	int saved = errno;

	(void)!write(STDERR_FILENO, line, len);
	errno = saved;
}

/* -errno as its name for the few an init returns, else the number. */
static const char *err_name(int err, char *buf, size_t size)
{
	switch (-err) {
	case EINVAL: return "EINVAL";
	case EBUSY: return "EBUSY";
	case ENOMEM: return "ENOMEM";
	case ENOSYS: return "ENOSYS";
	case EPERM: return "EPERM";
	case ENOSPC: return "ENOSPC";
	}
	(void)snprintf(buf, size, "errno %d", -err);
	return buf;
}

/* A limit for a message: "unlimited" or its value in bytes. */
static const char *limit_text(int resource, char *buf, size_t size)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl))
		return "unknown";
	if (rl.rlim_cur == RLIM_INFINITY)
		return "unlimited";
	(void)snprintf(buf, size, "%llu bytes", (unsigned long long)rl.rlim_cur);
	return buf;
}

/* A number read from a file ("VmLck:" style key, or the first number). */
static long long read_number(const char *path, const char *key)
{
	char buf[4096], *at;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	at = key ? strstr(buf, key) : buf;
	return at ? strtoll(at + (key ? strlen(key) : 0), NULL, 10) : -1;
}

/* Bytes that locking len bytes takes from RLIMIT_MEMLOCK: whole pages. */
static unsigned long long locked_bytes(size_t len)
{
	size_t unit = (size_t)sysconf(_SC_PAGESIZE);

	return (len + unit - 1) / unit * unit;
}

/*
 * The most pages a pool (max_pages = nr_pages) of this page size could
 * have with its metadata under room bytes of lockable memory, below the
 * pages asked for; pages and metadata both grow with the count, so the
 * answer is a binary search over the core's layout.
 */
static size_t pages_that_fit(const struct lab_init_failure *f, unsigned long long room)
{
	size_t lo = 0, hi = f->pool_bytes / f->page_size;

	while (lo + 1 < hi) {
		size_t mid = lo + (hi - lo) / 2;
		unsigned long long need = (unsigned long long)mid * f->page_size +
					  locked_bytes(f->meta_bytes_for(mid, f->flags));

		if (need <= room)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* "; N pages would fit under the current limit" where the limit is
 * finite, else nothing. */
static void fit_text(char *s, size_t size, const struct lab_init_failure *f, long long locked)
{
	struct rlimit rl;
	unsigned long long room;

	s[0] = '\0';
	if (getrlimit(RLIMIT_MEMLOCK, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return;
	room = rl.rlim_cur > (unsigned long long)locked ? rl.rlim_cur - (unsigned long long)locked : 0;
	(void)snprintf(s, size, "; %zu pages of %zu bytes would fit under the current limit",
		       pages_that_fit(f, room), f->page_size);
}

/* The cause and the fix of a memlock failure. */
static int explain_lock(char *s, size_t size, const struct lab_init_failure *f)
{
	char lim[32], fit[96];
	long long locked = read_number("/proc/self/status", "VmLck:") * 1024;
	unsigned long long need;

	if (locked < 0)
		locked = 0;
	need = locked_bytes(f->pool_bytes) + locked_bytes(os_fail.meta_len);
	fit_text(fit, sizeof(fit), f, locked);
	return snprintf(s, size,
			"cannot lock its memory: RLIMIT_MEMLOCK is %s, %lld bytes are locked "
			"already, the pool needs %zu bytes of pages + %zu bytes of metadata "
			"locked (the kernel said %s)%s; fix: raise the limit to at least %llu KiB "
			"(ulimit -l, LimitMEMLOCK= in a systemd unit, memlock in "
			"/etc/security/limits.conf), give the process CAP_IPC_LOCK, or %s",
			limit_text(RLIMIT_MEMLOCK, lim, sizeof(lim)), locked, f->pool_bytes,
			os_fail.meta_len, strerror(os_fail.err), fit,
			(unsigned long long)(locked + need + 1023) / 1024,
			(f->flags & LAB_POOL_SECRET) ?
				"use a smaller pool (secret memory is always locked)" :
				"use a smaller pool or LAB_POOL_NOLOCK (the atomic path may then "
				"take page faults)");
}

/* The cause and the fix of a hugetlbfs failure. */
static int explain_hugetlb(char *s, size_t size, const struct lab_init_failure *f)
{
	char path[96];
	size_t kb = os_fail.unit >> 10;
	long long free_pages;

	(void)snprintf(path, sizeof(path), "/sys/kernel/mm/hugepages/hugepages-%zukB/free_hugepages", kb);
	free_pages = read_number(path, NULL);
	if (free_pages < 0)
		return snprintf(s, size, "this machine has no %zu kB huge pages (no %s); fix: "
				"%s", kb, path,
				kb > 2048 ? "boot with hugepagesz=1G hugepages=N, or use 2 MiB pages" :
				"a kernel with hugetlbfs, or drop LAB_POOL_HUGETLB");
	return snprintf(s, size,
			"no reserved huge pages: the pool needs %zu huge pages of %zu kB, %lld are "
			"free (%s); fix: reserve them (echo N > /sys/kernel/mm/hugepages/"
			"hugepages-%zukB/nr_hugepages as root, or hugepages= at boot)%s",
			(os_fail.len + os_fail.unit - 1) / os_fail.unit, kb, free_pages, path, kb,
			(f->flags & LAB_POOL_HUGETLB) ? " or drop LAB_POOL_HUGETLB" : "");
}

/* The cause and the fix of a node that cannot supply the pool. */
static int explain_node(char *s, size_t size, const struct lab_init_failure *f)
{
	size_t kb = os_fail.unit >> 10;

	if (kb) /* huge pages */
		return snprintf(s, size,
				"node %u cannot supply the pool: it needs %zu huge pages of %zu kB "
				"on node %u, the node has %lld free (" NODE_DIR "/node%u/hugepages/"
				"hugepages-%zukB/free_hugepages); fix: reserve them on that node "
				"(echo N > " NODE_DIR "/node%u/hugepages/hugepages-%zukB/nr_hugepages "
				"as root), a smaller pool or another node",
				f->node, (os_fail.len + os_fail.unit - 1) / os_fail.unit, kb, f->node,
				os_fail.have, f->node, kb, f->node, kb);
	return snprintf(s, size,
			"node %u cannot supply the pool: it needs %zu bytes on node %u, the node "
			"has %lld bytes free (MemFree in " NODE_DIR "/node%u/meminfo); fix: a "
			"smaller pool, another node, or free memory on node %u",
			f->node, os_fail.len, f->node, os_fail.have, f->node, f->node);
}

static int explain(char *s, size_t size, const struct lab_init_failure *f, int err)
{
	char lim[32];

	if (f->invalid && os_fail.op == FAIL_NODE_NONE) {
		char list[256];

		nodes_with_memory(list, sizeof(list));
		return snprintf(s, size, "%s: node %u (nodes with memory: %s); see "
				"labyrinth_init(3)", f->invalid, f->node, *list ? list : "none listed");
	}
	if (f->invalid)
		return snprintf(s, size, "%s; see labyrinth_init(3)", f->invalid);
	switch (os_fail.op) {
	case FAIL_NODE:
		return explain_node(s, size, f);
	case FAIL_NODE_BIND:
		return snprintf(s, size, "mbind(2) to node %u refused (%s); fix: a kernel with "
				"NUMA, or drop LAB_POOL_NUMA", f->node, strerror(os_fail.err));
	case FAIL_LOCK:
		return explain_lock(s, size, f);
	case FAIL_HUGETLB:
		return explain_hugetlb(s, size, f);
	case FAIL_RESERVE:
		return snprintf(s, size,
				"out of address space: cannot reserve %zu bytes for max_pages "
				"(%zu bytes, aligned to a largest block) (%s, RLIMIT_AS is %s); "
				"fix: a smaller max_pages or a larger address-space limit (ulimit -v)",
				os_fail.len, f->range_bytes, strerror(os_fail.err),
				limit_text(RLIMIT_AS, lim, sizeof(lim)));
	case FAIL_MAP:
		return snprintf(s, size,
				"the kernel would not map %zu bytes of pages (%s; RLIMIT_AS is %s); "
				"fix: a smaller pool, more free memory or a larger limit",
				os_fail.len, strerror(os_fail.err),
				limit_text(RLIMIT_AS, lim, sizeof(lim)));
	case FAIL_META:
		return snprintf(s, size, "the kernel would not map %zu bytes of metadata (%s); "
				"fix: more free memory or a larger RLIMIT_AS", os_fail.len,
				strerror(os_fail.err));
	case FAIL_SECRET_OPEN:
		if (os_fail.err == ENOSYS)
			return snprintf(s, size,
					"memfd_secret(2) refused (ENOSYS): the kernel lacks "
					"CONFIG_SECRETMEM or secret memory is off; fix: boot with "
					"secretmem.enable=1 (Linux 5.14+), or drop LAB_POOL_SECRET");
		return snprintf(s, size, "memfd_secret(2) refused (%s); fix: drop LAB_POOL_SECRET "
				"or see memfd_secret(2)", strerror(os_fail.err));
	default:
		return snprintf(s, size, "%s", strerror(-err));
	}
}

/*
 * This thread's last failed init, for labyrinth_last_error(); written only
 * by a failing init, never on the atomic path.  Initial-exec, like the
 * rest of the library's TLS: accessed with the default model it went
 * through __tls_get_addr, which under ASan maps a page of its own, and a
 * failed init must leave the process's mappings as they were (t_memlock).
 * The library is STATIC_TLS anyway (readelf -l: a 0x438-byte TLS
 * segment), so a dlopen() needs that much of the static TLS surplus.
 */
static __thread char last_error[1024] __attribute__((tls_model("initial-exec")));

const char *labyrinth_last_error(void)
{
	return last_error[0] ? last_error : NULL;
}

/* The line: pool, cause with its numbers, fix (no newline). */
static void describe_failure(char *line, size_t size, const struct lab_init_failure *f, int err)
{
	char name[24];
	int n = snprintf(line, size, "labyrinth: pool '%s': init failed (%s): ", f->pool,
			 err_name(err, name, sizeof(name)));

	if (n > 0 && (size_t)n < size)
		(void)explain(line + n, size - (size_t)n, f, err);
}

/* LABYRINTH_VERBOSE=1 (any value but empty or "0") turns the report on. */
void lab_os_init_failed(const struct lab_init_failure *f, int err)
{
	const char *v = getenv("LABYRINTH_VERBOSE");
	char line[sizeof(last_error) + 1];
	size_t n;

	describe_failure(last_error, sizeof(last_error), f, err);
	if (v && *v && strcmp(v, "0") != 0) {
		n = strlen(last_error);
		memcpy(line, last_error, n);
		line[n++] = '\n';
		lab_os_report(line, n);
	}
	os_fail.op = FAIL_NONE;
	os_fail.meta_len = 0;
}

void lab_os_set_errno(int err)
{
	errno = err;
}

static int atfork_err;

static void atfork_register(void)
{
	atfork_err = -pthread_atfork(lab_fork_prepare, lab_fork_parent, lab_fork_child);
}

int lab_os_atfork(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, atfork_register);
	return atfork_err;
}

/*
 * The library's code and read-only data, read once page by page at the
 * first init so that the kernel maps every page of them: a slow path (a
 * refill, a bulk call the cache cannot serve) may run for the first time
 * in the process on the atomic path, and neither its code nor the
 * constants it loads may cost a page fault there (t_atomic_nofault caught
 * one: lab_cache_pop_bulk loading a vector constant from a page of
 * .rodata that nothing had read yet).  Reading maps a page and locks
 * nothing: RLIMIT_MEMLOCK and every figure that reports it stay as they
 * were.  The object searched is the one holding this function (arg of
 * code_segments: an address in it): the shared library, or the program
 * that links the static one.
 */

static __attribute__((no_sanitize_address, no_sanitize_thread)) void
read_pages(uintptr_t start, uintptr_t end)
{
	uintptr_t p;

	for (p = start & ~(uintptr_t)4095; p < end; p += 4096)
		(void)*(volatile const unsigned char *)p;
}

static int code_segments(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t self = *(const uintptr_t *)arg;
	int i, mine = 0;

	(void)size;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && self >= start && self < start + ph->p_memsz)
			mine = 1;
	}
	if (!mine)
		return 0;
	for (i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;

		/* code and read-only data (constants the code loads): a
		 * writable page read now would fault again at its first write */
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_R) && !(ph->p_flags & PF_W))
			read_pages(start, start + ph->p_memsz);
	}
	return 1;
}

static void code_read_once(void)
{
	uintptr_t self = (uintptr_t)&code_read_once;

	dl_iterate_phdr(code_segments, &self);
}

void lab_os_code_resident(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, code_read_once);
}

static pthread_key_t exit_key;
static int exit_key_err;

static void thread_exit_destructor(void *value)
{
	lab_thread_exit((uintptr_t)value);
}

static void exit_key_create(void)
{
	exit_key_err = -pthread_key_create(&exit_key, thread_exit_destructor);
	/* glibc stores the first 32 keys' values in the thread descriptor;
	 * later keys may call malloc on a thread's first pthread_setspecific,
	 * which the atomic path must never do: then no caches. */
	if (!exit_key_err && exit_key >= 32)
		exit_key_err = -ENOSPC;
}

int lab_os_thread_hook_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, exit_key_create);
	return exit_key_err;
}

void lab_os_thread_hook_set(uintptr_t value)
{
	pthread_setspecific(exit_key, (void *)value);
}

size_t lab_os_base_page_size(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

static void emit_to_file(void *ctx, const char *s, size_t n)
{
	/* A failed write sets the stream's error flag: labyrinth_dump reports it. */
	(void)fwrite(s, 1, n, (FILE *)ctx);
}

int labyrinth_dump(labyrinth_t *lab, FILE *out)
{
	struct lab_pool *p = lab_pool_of(lab);
	int err;

	if (!p || !out)
		return -EINVAL;
	err = lab_dump(p, emit_to_file, out);
	if (err)
		return err;
	if (fflush(out) || ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}

/* --- Publishing statistics (publish.c): LABYRINTH_STATS=1 --- */

int lab_os_publish_wanted(uint32_t *period_ms)
{
	const char *on = getenv("LABYRINTH_STATS"), *ms = getenv("LABYRINTH_STATS_MS");
	unsigned long v;
	char *end;

	if (!on || strcmp(on, "1") != 0)
		return 0;
	*period_ms = LAB_PUB_PERIOD_MS;
	if (ms && *ms) {
		errno = 0;
		v = strtoul(ms, &end, 10);
		if (!errno && !*end && v >= 10 && v <= 60000) /* else the default */
			*period_ms = (uint32_t)v;
	}
	return 1;
}

/* The file this process publishes in, removed by an exit of this process
 * (not of a fork child, which inherits the atexit handler too). */
static char pub_path[PATH_MAX];
static pid_t pub_owner;

static void pub_remove_at_exit(void)
{
	if (pub_owner && pub_owner == getpid())
		unlink(pub_path);
}

static uint64_t own_start_time(void)
{
	char text[1024];
	ssize_t n = -1;
	int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		n = read(fd, text, sizeof(text));
		close(fd);
	}
	return n > 0 ? lab_pub_parse_start(text, (size_t)n) : 0;
}

int lab_os_publish_open(size_t len, void **mem, uint64_t *pid, uint64_t *start_time)
{
	static int exit_hook; /* atexit once per process image (fork children inherit it) */
	const char *dir = getenv("LABYRINTH_STATS_DIR");
	pid_t me = getpid();
	int fd, n, err = 0;
	struct stat st;
	void *m;

	n = snprintf(pub_path, sizeof(pub_path), "%s/" LAB_PUB_PREFIX "%ld",
		     dir && *dir ? dir : LAB_PUB_DIR, (long)me);
	if (n < 0 || (size_t)n >= sizeof(pub_path))
		return -ENAMETOOLONG;
	/* An earlier process of the same pid may have left its file behind:
	 * take it over if it is this user's plain file with no other name
	 * (never through a symlink, never a hard link: emptying a link would
	 * empty the file it names elsewhere), make it readable by this user
	 * only, and empty it.  Anything else is left alone. */
	fd = open(pub_path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST)
		fd = open(pub_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return neg_errno();
	if (fstat(fd, &st) || st.st_uid != geteuid() || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		close(fd);
		return -EPERM;
	}
	if (fchmod(fd, 0600) || ftruncate(fd, 0) || ftruncate(fd, (off_t)len))
		err = neg_errno();
	m = err ? MAP_FAILED : mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (!err && m == MAP_FAILED)
		err = neg_errno();
	close(fd);
	if (err) {
		unlink(pub_path);
		return err;
	}
	sys_madvise(m, len, MADV_DONTFORK); /* the file is this process's, not a child's */
	pub_owner = me;
	if (!exit_hook)
		exit_hook = !atexit(pub_remove_at_exit);
	*pid = (uint64_t)me;
	*start_time = own_start_time();
	*mem = m;
	return 0;
}

static void (*pub_fn)(void);

static void *pub_thread_main(void *arg)
{
	(void)arg;
	pub_fn();
	return NULL;
}

int lab_os_publish_thread(void (*fn)(void))
{
	sigset_t all, old;
	pthread_attr_t attr;
	pthread_t t;
	int err;

	pub_fn = fn;
	/* The application's signals go to its own threads, never to this one. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_attr_init(&attr);
	if (!err) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		err = pthread_create(&t, &attr, pub_thread_main, NULL);
		pthread_attr_destroy(&attr);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (!err)
		pthread_setname_np(t, "lab-publish");
	return -err;
}
