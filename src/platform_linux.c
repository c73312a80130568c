/* SPDX-License-Identifier: MIT */
/*
 * platform_linux.c - the Linux user-space host: every system call of the
 * library lives in this file.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "labyrinth.h" /* with stdio: declares labyrinth_dump */
#include "internal.h"

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

/* "Cannot get or lock the memory" is ENOMEM to the caller, whatever the
 * kernel's reason (EAGAIN or EPERM from mlock, EAGAIN from secretmem). */
static int as_enomem(int err)
{
	return (err == -EAGAIN || err == -EPERM) ? -ENOMEM : err;
}

int lab_os_backing_open(struct lab_backing *b, size_t page_size, unsigned int flags)
{
	b->fd = -1;
	b->flags = flags;
	b->thp = 0;
	if (flags & LAB_POOL_SECRET) {
		long fd = syscall(SYS_memfd_secret, (unsigned long)O_CLOEXEC);

		if (fd < 0)
			return neg_errno();
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

int lab_os_reserve(size_t len, size_t align, void **out)
{
	size_t span = len + align;
	unsigned char *raw, *start;
	size_t head;

	raw = mmap(NULL, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return -ENOMEM;
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
		touch_range(addr, len);
		return 0;
	}
	if (!(b->flags & LAB_POOL_NOLOCK))
		return sys_mlock(addr, len) ? as_enomem(neg_errno()) : 0;
	if (sys_madvise(addr, len, MADV_POPULATE_WRITE) == 0)
		return 0;
	touch_range(addr, len); /* kernels before 5.14 */
	return 0;
}

int lab_os_commit(struct lab_backing *b, void *addr, size_t off, size_t len, int fallback)
{
	void *got = map_range(b, addr, off, len);
	int err;

	if (got == MAP_FAILED) {
		err = neg_errno();
		unreserve_commit(addr, len);
		/* A 2 MiB / 1 GiB pool without LAB_POOL_HUGETLB and no reserved
		 * huge pages: ordinary memory, aligned, with THP requested. */
		if (fallback && b->kind == LAB_BACKING_HUGETLB && !(b->flags & LAB_POOL_HUGETLB)) {
			b->kind = LAB_BACKING_ANON;
			b->thp = 1;
			return lab_os_commit(b, addr, off, len, 0);
		}
		if (b->kind == LAB_BACKING_HUGETLB && err == -EINVAL)
			err = -ENOMEM; /* no such huge page size on this machine */
		return as_enomem(err);
	}
	if (sys_madvise(addr, len, MADV_DONTFORK) ||
	    (!(b->flags & LAB_POOL_DUMPABLE) && sys_madvise(addr, len, MADV_DONTDUMP))) {
		err = neg_errno();
		goto fail;
	}
	/* A request only: kernels without transparent huge pages refuse it,
	 * and the memory is aligned and usable all the same. */
	if (b->thp)
		(void)sys_madvise(addr, len, MADV_HUGEPAGE);
	err = lock_and_populate(b, addr, len);
	if (err)
		goto fail;
	return 0;
fail:
	unreserve_commit(addr, len);
	if (b->kind == LAB_BACKING_SECRET)
		(void)ftruncate(b->fd, (off_t)off);
	return err;
}

int lab_os_meta_alloc(size_t len, int nolock, void **out)
{
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (mem == MAP_FAILED)
		return -ENOMEM;
	if (!nolock && sys_mlock(mem, len)) {
		int err = as_enomem(neg_errno());

		munmap(mem, len);
		return err;
	}
	*out = mem;
	return 0;
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

	if (!p || !out)
		return -EINVAL;
	lab_dump(p, emit_to_file, out);
	if (fflush(out) || ferror(out))
		return errno ? -errno : -EIO;
	return 0;
}
