// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * platform_kernel.c - the Linux kernel host: labyrinth.ko.
 *
 * The core of src/ compiles unchanged into the module; this file gives it
 * what platform.h asks for, with kernel primitives, and exports the API.
 *
 * - Pages: one virtually contiguous vmalloc() range of max_pages pages,
 *   taken at init (the core needs base + index << shift).  Commit is then
 *   only accounting: LAB_GFP_KERNEL growth makes pages the core already
 *   owns visible.  Pool pages are kernel memory: never swapped, never in a
 *   user core dump, not inherited by anything (docs/kernel.md says why
 *   vmalloc and not physically contiguous memory).
 * - Metadata: vmalloc'd and zeroed.  Both need process context: init and
 *   destroy, and both fail with -ENOMEM, quietly, when memory is short.
 * - Cache slots are CPUs (LAB_HOST_CPU_SLOTS): pinning disables
 *   preemption, which is a per-CPU counter, not a lock; the busy-flag
 *   argument of include/labyrinth_fast.h covers hard and soft interrupts on the same CPU.
 * - Futex words: LAB_GFP_KERNEL sleepers wait on one wait queue for their
 *   word to change.  A free that must wake them may run in hard interrupt
 *   context, where a wait queue's spinlock_t would sleep on PREEMPT_RT:
 *   unless the caller is preemptible it queues an irq_work (lock-free) that
 *   does the wake-up.
 * - Watches and fork do not exist here; errno does not either (kernel
 *   callers see NULL and the counters).
 */
#include <linux/bitops.h>
#include <linux/debugfs.h>
#include <linux/irq_work.h>
#include <linux/list.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/mutex.h>
#include <linux/preempt.h>
#include <linux/seq_file.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/timekeeping.h>
#include <linux/vmalloc.h>
#include <linux/wait.h>

#include "internal.h"

static_assert(LAB_EPERM == EPERM && LAB_EINTR == EINTR && LAB_EAGAIN == EAGAIN &&
	      LAB_ENOMEM == ENOMEM && LAB_EBUSY == EBUSY && LAB_EINVAL == EINVAL &&
	      LAB_ENOSPC == ENOSPC && LAB_ENOSYS == ENOSYS &&
	      LAB_ETIMEDOUT == ETIMEDOUT && LAB_EALREADY == EALREADY &&
	      LAB_EUCLEAN == EUCLEAN, "the core's errno values must be the kernel's");

/* ---- debugfs: /sys/kernel/debug/labyrinth/<pool>/stats ---- */

static struct dentry *debug_root;
static LIST_HEAD(debug_dirs);
static DEFINE_MUTEX(debug_lock); /* init and destroy only: process context */

struct debug_dir {
	struct list_head node;
	struct lab_pool *pool;
	struct dentry *dir;
};

static void emit_seq(void *ctx, const char *s, size_t n)
{
	seq_write(ctx, s, n);
}

/*
 * The file is created "unsafe" (debugfs hands our fops to the open file,
 * so kernel_read() works through read_iter, and debugfs_remove() does not
 * wait for its readers); the pool may be destroyed while the file is open.
 * So each read dumps only a pool still listed, under the lock that
 * destroy takes to unlist it, before it marks the pool dead
 * (labyrinth_destroy closes the backing first).  A pool unlisted: -ENODEV.
 */
static int stats_show(struct seq_file *m, void *unused)
{
	struct lab_pool *p = m->private;
	struct debug_dir *d;
	int err = -ENODEV;

	mutex_lock(&debug_lock);
	list_for_each_entry(d, &debug_dirs, node) {
		if (d->pool == p && lab_pool_of(p->owner) == p) {
			err = lab_dump(p, emit_seq, m);
			break;
		}
	}
	mutex_unlock(&debug_lock);
	return err;
}

static int stats_open(struct inode *inode, struct file *file)
{
	return single_open(file, stats_show, inode->i_private);
}

static const struct file_operations stats_fops = {
	.owner = THIS_MODULE,
	.open = stats_open,
	.read_iter = seq_read_iter,
	.llseek = seq_lseek,
	.release = single_release,
};

/*
 * A directory named after the pool, '/' made '_' (a file name cannot hold
 * one); "<name>.N" when that name is taken.  The pool works without it: a
 * failure is a warning, not an init failure.
 */
static void debug_add(struct lab_pool *p)
{
	struct debug_dir *d = kzalloc(sizeof(*d), GFP_KERNEL);
	char base[LAB_NAME_MAX + 1], name[LAB_NAME_MAX + 12];
	struct dentry *old;
	int n = 0;

	if (!d || IS_ERR_OR_NULL(debug_root)) {
		kfree(d);
		return;
	}
	strscpy(base, p->name, sizeof(base));
	strreplace(base, '/', '_');
	mutex_lock(&debug_lock);
	strscpy(name, base, sizeof(name));
	while ((old = debugfs_lookup(name, debug_root)) != NULL) {
		dput(old);
		snprintf(name, sizeof(name), "%s.%d", base, ++n);
	}
	d->pool = p;
	d->dir = debugfs_create_dir(name, debug_root);
	if (IS_ERR(d->dir))
		pr_warn("labyrinth: pool %s: no debugfs directory %s (%ld)\n", p->name, name,
			PTR_ERR(d->dir));
	debugfs_create_file_unsafe("stats", 0444, d->dir, p, &stats_fops);
	list_add(&d->node, &debug_dirs);
	mutex_unlock(&debug_lock);
}

static void debug_remove(struct lab_pool *p)
{
	struct debug_dir *d, *tmp;

	mutex_lock(&debug_lock);
	list_for_each_entry_safe(d, tmp, &debug_dirs, node) {
		if (d->pool == p) {
			/* Does not wait for readers of an unsafe file: the
			 * lock does; later ones find the pool unlisted. */
			debugfs_remove(d->dir);
			list_del(&d->node);
			kfree(d);
		}
	}
	mutex_unlock(&debug_lock);
}

/* ---- memory ---- */

/*
 * The backing is the kernel's page allocator through vmalloc; the pool
 * (which embeds the backing, with its name already set) gets its debugfs
 * directory here, and loses it in lab_os_backing_close(), which init's
 * failure path and destroy both call.
 */
int lab_os_backing_open(struct lab_backing *b, size_t page_size, unsigned int flags, int node)
{
	/* No memfd_secret or hugetlbfs in the kernel: never a silent fallback. */
	if (flags & (LAB_POOL_SECRET | LAB_POOL_HUGETLB))
		return -EOPNOTSUPP;
	if (page_size > LAB_PAGE_2M)
		return -EOPNOTSUPP; /* 1 GiB pages: not from vmalloc */
	b->kind = LAB_BACKING_VMALLOC;
	b->fd = -1;
	b->unit = page_size;
	b->flags = flags;
	b->thp = 0;
	b->node = node;
	debug_add(container_of(b, struct lab_pool, backing));
	return 0;
}

void lab_os_backing_close(struct lab_backing *b)
{
	debug_remove(container_of(b, struct lab_pool, backing));
}

/*
 * The whole range, populated: vmalloc has no way for a module to map more
 * pages into an area later (vmap_pages_range is not exported in 6.1), so
 * the reservation is the memory.  align is the core's wish for max-order
 * alignment; vmalloc gives page alignment (2 MiB for 2 MiB pools), which
 * is all the core relies on: indexes are relative to base.
 */
/*
 * A max_pages the machine cannot hold must fail init cleanly with -ENOMEM:
 * no allocation-failure splat, no OOM killer (__GFP_RETRY_MAYFAIL), the
 * same flags for the metadata, which grows with max_pages too.
 */
#define LAB_VMALLOC_GFP (GFP_KERNEL | __GFP_NOWARN | __GFP_RETRY_MAYFAIL)

int lab_os_node_check(unsigned int node)
{
	return node < MAX_NUMNODES && node_state(node, N_MEMORY) ? 0 : -EINVAL;
}

/*
 * LAB_POOL_NUMA: every page from node, strictly.  kvmalloc_node() hands
 * its gfp to the page allocator (alloc_pages_node() for each vmalloc page,
 * or the page allocator directly for a small range), and __GFP_THISNODE
 * there takes no page from another node: it fails instead, without the
 * OOM killer (__GFP_RETRY_MAYFAIL).  Small ranges come from kmalloc, which
 * is page-aligned for sizes that are multiples of a page; kvfree() frees
 * either kind.  Without the flag: vmalloc, NUMA_NO_NODE (any node).
 */
static void *node_alloc(size_t len, int node, gfp_t extra)
{
	return kvmalloc_node(len, LAB_VMALLOC_GFP | __GFP_THISNODE | extra, node);
}

int lab_os_reserve(struct lab_backing *b, size_t len, size_t align, void **out)
{
	void *mem;

	(void)align;
	if (b->node >= 0)
		mem = node_alloc(len, b->node, 0);
	else if (len >= PMD_SIZE && !(len & (PMD_SIZE - 1)))
		mem = vmalloc_huge(len, LAB_VMALLOC_GFP);
	else
		mem = __vmalloc(len, LAB_VMALLOC_GFP);
	if (!mem)
		return -ENOMEM;
	*out = mem;
	return 0;
}

void lab_os_release(void *addr, size_t len)
{
	(void)len;
	kvfree(addr); /* vfree() for vmalloc memory */
}

/* The struct page behind a pool address (vmalloc, or kmalloc for a small
 * range on a node). */
static struct page *page_of(const void *addr)
{
	return is_vmalloc_addr(addr) ? vmalloc_to_page(addr) : virt_to_page(addr);
}

void lab_os_count_nodes(const void *addr, size_t len, size_t page_size,
			struct lab_node_pages *n)
{
	size_t off;
	int nid;

	for (off = 0; off + page_size <= len; off += page_size) {
		struct page *pg = page_of((const char *)addr + off);

		nid = pg ? page_to_nid(pg) : -1;
		if (nid < 0)
			n->unknown++;
		else if (nid < LAB_NODE_SLOTS)
			n->on[nid]++;
		else
			n->other++;
	}
}

/* Already backed by lab_os_reserve(): growth is the core's accounting. */
int lab_os_commit(struct lab_backing *b, void *addr, size_t off, size_t len, int fallback)
{
	(void)b;
	(void)addr;
	(void)off;
	(void)len;
	(void)fallback;
	return 0;
}

int lab_os_meta_alloc(size_t len, int nolock, int node, void **out)
{
	void *mem = node >= 0 ? node_alloc(len, node, __GFP_ZERO) :
				__vmalloc(len, LAB_VMALLOC_GFP | __GFP_ZERO);

	(void)nolock; /* kernel memory is never swapped */
	if (!mem)
		return -ENOMEM;
	*out = mem;
	return 0;
}

void lab_os_meta_free(void *addr, size_t len)
{
	(void)len;
	kvfree(addr);
}

/* ---- sleeping and waking ---- */

static DECLARE_WAIT_QUEUE_HEAD(lab_waitq);

static void wake_work_fn(struct irq_work *work)
{
	wake_up_all(&lab_waitq);
}
static DEFINE_IRQ_WORK(wake_work, wake_work_fn);

/*
 * Process context only (LAB_GFP_KERNEL and the setup calls).  TASK_IDLE:
 * a sleeper in the core's slices is neither load nor a hung task.
 */
int lab_os_futex_wait(uint32_t *word, uint32_t val, long timeout_ms)
{
	long left;

	if (timeout_ms < 0) {
		wait_event_idle(lab_waitq, READ_ONCE(*word) != val);
		return 0;
	}
	left = wait_event_idle_timeout(lab_waitq, READ_ONCE(*word) != val,
				       msecs_to_jiffies(timeout_ms));
	return left ? 0 : -ETIMEDOUT;
}

/*
 * Any context.  The caller changed *word first (seq_cst); a sleeper checks
 * it after queueing itself, so either it sees the change or the wake-up
 * finds it.  wake_up_all() takes the queue's spinlock_t, which sleeps on
 * PREEMPT_RT: only preemptible callers take it here, the others (hard or
 * soft interrupt, or inside a pinned cache operation) hand it to an
 * irq_work, which queues without a lock and runs where it may sleep.
 */
void lab_os_futex_wake(uint32_t *word, int nr_waiters)
{
	(void)word;
	(void)nr_waiters;
	if (preemptible())
		wake_up_all(&lab_waitq);
	else
		irq_work_queue(&wake_work);
}

/* A LAB_GFP_KERNEL caller about to grow or sleep: a kernel built with
 * CONFIG_DEBUG_ATOMIC_SLEEP reports one in atomic context (Debian's are
 * not, there it costs nothing). */
void lab_os_might_sleep(void)
{
	might_sleep();
}

uint64_t lab_os_monotonic_ms(void)
{
	return div_u64(ktime_get_mono_fast_ns(), NSEC_PER_MSEC);
}

/* ---- what the kernel has not: watches, errno, fork, thread exit ---- */

int lab_os_eventfd(void)
{
	return -ENOSYS;
}

int lab_os_dup(int fd)
{
	(void)fd;
	return -ENOSYS;
}

void lab_os_close(int fd)
{
	(void)fd;
}

void lab_os_eventfd_signal(int fd)
{
	(void)fd;
}

/* printk may be called from any context, hard interrupts included. */
void lab_os_report(const char *line, size_t len)
{
	pr_err("%.*s", (int)len, line);
}

void lab_os_set_errno(int err)
{
	(void)err;
}

int lab_os_atfork(void)
{
	return 0;
}

/* A module's code is resident while it is loaded. */
void lab_os_code_resident(void)
{
}

/* Caches are per CPU: there is no thread exit to hook, and no need. */
int lab_os_thread_hook_init(void)
{
	return 0;
}

void lab_os_thread_hook_set(uintptr_t value)
{
	(void)value;
}

size_t lab_os_base_page_size(void)
{
	return PAGE_SIZE;
}

/* Free memory on a node, for the failure message. */
static unsigned long node_free_kb(unsigned int nid)
{
	unsigned long pages = 0;
	int z;

	if (lab_os_node_check(nid))
		return 0;
	for (z = 0; z < MAX_NR_ZONES; z++)
		pages += zone_page_state(&NODE_DATA(nid)->node_zones[z], NR_FREE_PAGES);
	return pages << (PAGE_SHIFT - 10);
}

/*
 * The kernel has no LABYRINTH_VERBOSE: a failing init says why through
 * dynamic debug (echo 'module labyrinth +p' > .../dynamic_debug/control).
 */
void lab_os_init_failed(const struct lab_init_failure *f, int err)
{
	if (f->flags & LAB_POOL_NUMA)
		pr_debug("pool %s: labyrinth_init failed (%d): %s, %zu bytes of pages on node %u "
			 "(%lu kB free there)\n", f->pool, err, f->invalid ? f->invalid : "no memory",
			 f->pool_bytes, f->node,
			 node_free_kb(f->node));
	else
		pr_debug("pool %s: labyrinth_init failed (%d): %s, %zu bytes of pages\n", f->pool,
			 err, f->invalid ? f->invalid : "no memory", f->pool_bytes);
}

/* ---- per-CPU cache slots ---- */

/*
 * A task must not migrate between reading its slot and leaving the cache:
 * two CPUs would then share one cache, whose busy flag is a plain store.
 * preempt_disable() is a per-CPU counter, not a lock: it nests, works in
 * every context, and on PREEMPT_RT it only keeps the scheduler away for
 * the few instructions of a cache operation (no sleeping call lies inside
 * a pinned section: lab_os_futex_wake() defers to an irq_work there).
 * Interrupts stay enabled: one that arrives inside the section and uses
 * the same pool on this CPU nests whole, like a signal handler on a
 * thread, and finds the cache busy or consistent (labyrinth_fast.h).
 */
void lab_os_cpu_pin(void)
{
	preempt_disable();
}

void lab_os_cpu_unpin(void)
{
	preempt_enable();
}

int32_t lab_os_cpu_slot(void)
{
	/* raw_: lab_my_cached() also reads it unpinned, as a hint. */
	unsigned int cpu = raw_smp_processor_id();

	return cpu < LAB_CACHE_THREADS ? (int32_t)cpu : LAB_SLOT_OFF;
}

/*
 * The core counts bits with __builtin_popcountll(); without -mpopcnt gcc
 * calls libgcc for it, which the kernel does not link: the kernel's own.
 */
int __popcountdi2(long a);
int __popcountdi2(long a)
{
	return (int)hweight64((u64)a);
}

/* LABYRINTH_STATS is user space's: the kernel shows pools in debugfs. */
int lab_os_publish_wanted(uint32_t *period_ms)
{
	(void)period_ms;
	return 0;
}

int lab_os_publish_open(size_t len, void **mem, uint64_t *pid, uint64_t *start_time)
{
	return -ENOSYS;
}

int lab_os_publish_thread(void (*fn)(void))
{
	return -ENOSYS;
}

/* ---- the module ---- */
EXPORT_SYMBOL_GPL(labyrinth_init);
EXPORT_SYMBOL_GPL(labyrinth_destroy);
EXPORT_SYMBOL_GPL(labyrinth_alloc_pages);
EXPORT_SYMBOL_GPL(labyrinth_alloc_page);
EXPORT_SYMBOL_GPL(labyrinth_free_pages);
EXPORT_SYMBOL_GPL(labyrinth_free_page);
EXPORT_SYMBOL_GPL(labyrinth_alloc_bulk);
EXPORT_SYMBOL_GPL(labyrinth_free_bulk);
EXPORT_SYMBOL_GPL(labyrinth_flush_cache);
EXPORT_SYMBOL_GPL(labyrinth_void_alloc_page_gfp_atomic_exclusive);
EXPORT_SYMBOL_GPL(labyrinth_page_size);
EXPORT_SYMBOL_GPL(labyrinth_owns);
EXPORT_SYMBOL_GPL(labyrinth_stats);
EXPORT_SYMBOL_GPL(labyrinth_check);
EXPORT_SYMBOL_GPL(labyrinth_version);

static int __init labyrinth_module_init(void)
{
	debug_root = debugfs_create_dir("labyrinth", NULL);
	pr_info("labyrinth %s: lock-free page pools\n", labyrinth_version());
	return 0;
}

static void __exit labyrinth_module_exit(void)
{
	irq_work_sync(&wake_work);
	debugfs_remove(debug_root);
}

module_init(labyrinth_module_init);
module_exit(labyrinth_module_exit);
MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("labyrinth: lock-free page pools that never sleep on their atomic path");
MODULE_VERSION(LAB_VERSION_STRING); /* the header's LAB_VERSION_* */

