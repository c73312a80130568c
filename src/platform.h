/* SPDX-License-Identifier: MIT */
/*
 * platform.h - everything the core needs from its host.
 *
 * The core (every file in src/ but platform_*.c) makes no system call and
 * includes no libc header: it asks this layer.  Each host implements these
 * functions once (platform_linux.c for Linux user space).  All of them
 * return 0 or a negative errno unless said otherwise.
 *
 * Only lab_os_eventfd_signal(), lab_os_futex_wake() and lab_os_report() may
 * be called from the lock-free paths; they are async-signal-safe.
 */
#ifndef LAB_PLATFORM_H
#define LAB_PLATFORM_H

#include <stddef.h>
#include <stdint.h>

/* How a pool's pages are backed. */
enum lab_backing_kind {
	LAB_BACKING_ANON,    /* private anonymous memory, page_size aligned */
	LAB_BACKING_HUGETLB, /* private hugetlbfs pages of size unit */
	LAB_BACKING_SECRET,  /* memfd_secret(2), mapped shared */
	LAB_BACKING_VMALLOC, /* the kernel's vmalloc() (platform_kernel.c) */
};

struct lab_backing {
	enum lab_backing_kind kind;
	int fd;             /* memfd_secret descriptor, else -1 */
	size_t unit;        /* granule of mapping: 4 KiB, 2 MiB or 1 GiB */
	unsigned int flags; /* LAB_POOL_* */
	int thp;            /* transparent huge pages were requested */
	int node;           /* LAB_POOL_NUMA: the NUMA node pages are bound to, else -1 */
};

/*
 * NUMA.  lab_os_node_check(): 0 if node exists and has memory, else
 * -EINVAL.  With b->node >= 0 (and the metadata's node), every mapping is
 * bound to that node strictly before it is populated, and a node that
 * cannot supply it fails with -ENOMEM: never a page on another node.
 */
int lab_os_node_check(unsigned int node);

/* Pages of a pool counted by the node they lie on (labyrinth_dump). */
#define LAB_NODE_SLOTS 16
struct lab_node_pages {
	uint32_t on[LAB_NODE_SLOTS]; /* pages on node 0 .. LAB_NODE_SLOTS - 1 */
	uint32_t other;              /* pages on higher nodes */
	uint32_t unknown;            /* pages the host cannot place (no NUMA; secret
	                                memory on kernels whose move_pages refuses it) */
};

/*
 * Add the pages of page_size in [addr, addr + len) of a committed range to
 * n, by node.  Slow: init and growth only, never the atomic path.
 */
void lab_os_count_nodes(const void *addr, size_t len, size_t page_size,
			struct lab_node_pages *n);

/*
 * Choose and open the backing for a pool of page_size pages with pool flags
 * (LAB_POOL_*).  try_hugetlb_first: 2 MiB / 1 GiB pools without
 * LAB_POOL_HUGETLB try hugetlbfs and fall back to anonymous memory.
 */
int lab_os_backing_open(struct lab_backing *b, size_t page_size, unsigned int flags, int node);
void lab_os_backing_close(struct lab_backing *b);

/* Reserve len bytes of address space aligned to align, inaccessible. */
int lab_os_reserve(struct lab_backing *b, size_t len, size_t align, void **out);
/* Return any range (reserved or committed) to the system. */
void lab_os_release(void *addr, size_t len);

/*
 * Make [addr, addr + len) of a reservation usable: map it with the backing
 * at byte offset off, keep it from fork children and (unless dumpable) core
 * dumps, lock and populate it.  On failure the range is a reservation again
 * and nothing stays mapped.  A hugetlb backing that has no pages for an
 * anonymous fallback candidate switches b->kind to LAB_BACKING_ANON when
 * fallback is non-zero.
 */
int lab_os_commit(struct lab_backing *b, void *addr, size_t off, size_t len, int fallback);

/* Allocator metadata: zeroed, populated, locked unless nolock; on node
 * (strictly, before it is populated) when node >= 0. */
int lab_os_meta_alloc(size_t len, int nolock, int node, void **out);
void lab_os_meta_free(void *addr, size_t len);

/*
 * Futex wait on *word while it equals val, at most timeout_ms (< 0: no
 * limit).  0 when woken or the value changed, -ETIMEDOUT, -EINTR.
 */
int lab_os_futex_wait(uint32_t *word, uint32_t val, long timeout_ms);
void lab_os_futex_wake(uint32_t *word, int nr_waiters);
/* A LAB_GFP_KERNEL caller may sleep from here on: the kernel's might_sleep(). */
void lab_os_might_sleep(void);
uint64_t lab_os_monotonic_ms(void);

/* Watches. */
int lab_os_eventfd(void);
int lab_os_dup(int fd);
void lab_os_close(int fd);
void lab_os_eventfd_signal(int fd); /* one non-blocking write */

/*
 * What a failing labyrinth_init knows, for lab_os_init_failed().  The host
 * adds what it saw itself (which call failed, the limits in force).
 */
struct lab_init_failure {
	const char *pool;     /* the pool's name */
	const char *invalid;  /* the rule broken (-EINVAL, -EBUSY), else NULL */
	size_t pool_bytes;    /* bytes of pages init maps and locks */
	size_t range_bytes;   /* address space reserved for max_pages */
	unsigned int flags;   /* LAB_POOL_* */
	size_t page_size;     /* bytes of one page */
	/* metadata bytes of a pool of nr_pages pages (the core's layout), for
	 * "how many pages would fit" */
	size_t (*meta_bytes_for)(size_t nr_pages, unsigned int flags);
	unsigned int node;    /* params.numa_node (with LAB_POOL_NUMA) */
};

/*
 * labyrinth_init fails with err: keep one line naming the pool, the cause
 * with its numbers and the fix for this thread's labyrinth_last_error(),
 * and if the environment says LABYRINTH_VERBOSE=1, write it to the error
 * stream too.
 */
void lab_os_init_failed(const struct lab_init_failure *f, int err);

/* One line to the error stream with a single write. */
void lab_os_report(const char *line, size_t len);
void lab_os_set_errno(int err);

/*
 * Make fork() call the core's lab_fork_prepare() before, lab_fork_parent()
 * after it in the parent, and lab_fork_child() in the child.  Registers
 * once, however often it is called.
 */
int lab_os_atfork(void);
/* Map the library's own code and read-only data in now, once, so that the
 * first call into a slow path on the atomic path takes no page fault for
 * them. */
void lab_os_code_resident(void);
void lab_fork_prepare(void);
void lab_fork_parent(void);
void lab_fork_child(void);

/*
 * Thread exit: once lab_os_thread_hook_set(v) (v != 0) ran on a thread,
 * the core's lab_thread_exit(v) runs when that thread exits.  Setting the
 * value makes no system call and no allocation.  hook_init is idempotent;
 * it fails when the host cannot promise that.
 */
int lab_os_thread_hook_init(void);
void lab_os_thread_hook_set(uintptr_t value);
void lab_thread_exit(uintptr_t value);

struct lab_pool;
/* The core's text dump of pool p, line by line through emit (stats.c),
 * for the platform's labyrinth_dump(FILE *) and the kernel's debugfs
 * file: FILE and seq_file are the host's, so the adapters live here. */
int lab_dump(struct lab_pool *p, void (*emit)(void *ctx, const char *s, size_t n), void *ctx);

#ifdef LAB_HOST_CPU_SLOTS
/*
 * Hosts whose cache slots are CPUs (the kernel, platform_kernel.c) define
 * LAB_HOST_CPU_SLOTS.  lab_os_cpu_pin() keeps the caller on its CPU (it
 * disables preemption: no lock, so any context may call it, nested too)
 * until lab_os_cpu_unpin(); in between, lab_os_cpu_slot() is that CPU's
 * slot, or a negative value (no cache) for a CPU past LAB_CACHE_THREADS.
 * Hosts without it give each thread a slot (cache.h keeps it in TLS).
 */
void lab_os_cpu_pin(void);
void lab_os_cpu_unpin(void);
int32_t lab_os_cpu_slot(void);
#endif

/*
 * Publishing statistics (publish.c, LABYRINTH_STATS=1).  wanted: 1 if the
 * environment asks for it, with the refresh period in *period_ms; 0 if
 * not (always 0 on hosts without it).  open: create this process's file
 * (publish_format.h: its name, mode 0600), sized len and zeroed, mapped
 * shared (not inherited by fork children), removed when the process
 * exits; *pid and *start_time tell the process apart from a later one
 * with the same pid.  thread: run fn forever on a new thread with every
 * signal blocked.
 */
int lab_os_publish_wanted(uint32_t *period_ms);
int lab_os_publish_open(size_t len, void **mem, uint64_t *pid, uint64_t *start_time);
int lab_os_publish_thread(void (*fn)(void));

/* Size of the host's base page (for touching secret memory). */
size_t lab_os_base_page_size(void);

#endif /* LAB_PLATFORM_H */
