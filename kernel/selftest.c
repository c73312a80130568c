// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * selftest.c - labyrinth_selftest.ko: the kernel form of the test suite,
 * printed as KTAP.  Loaded after labyrinth.ko by scripts/test-kernel.sh.
 *
 * Exclusivity is checked by an ownership word in each page: a page is
 * "free" (MARK_FREE in its first word) while the pool has it; whoever gets
 * it claims the word with a compare-and-swap, so a page handed to two
 * owners at once fails the second claim, deterministically.  The owner
 * writes MARK_FREE back just before it frees the page.
 */
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/hrtimer.h>
#include <asm/irq_regs.h>
#include <linux/kthread.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/nodemask.h>
#include <linux/sched/task.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/string.h>
#include <linux/timer.h>
#include <linux/vmalloc.h>

#include "labyrinth.h"
#include "ktap.h"

#define MARK_FREE 0x6c61622d66726565ull /* "lab-free" */
#define WORDS (PAGE_SIZE / sizeof(u64))

static atomic_t errors = ATOMIC_INIT(0);

static void error(const char *what, const void *page)
{
	if (atomic_inc_return(&errors) <= 5)
		printk(KERN_INFO "# %s: page %px\n", what, page);
}

/* Claim a page just allocated: it must be free, nobody else may own it. */
static bool own(void *page, u64 id)
{
	u64 *w = page;

	if (cmpxchg64(&w[0], MARK_FREE, id) != MARK_FREE) {
		error("page handed out while owned", page);
		return false;
	}
	w[1] = ~id;
	w[WORDS - 1] = id;
	return true;
}

/* Check an owned page's stamp, mark it free and give it back. */
static void release(labyrinth_t *lab, void *page)
{
	u64 *w = page;
	u64 id = READ_ONCE(w[0]);

	if (id == MARK_FREE || w[1] != ~id || w[WORDS - 1] != id)
		error("stamp of an owned page changed", page);
	WRITE_ONCE(w[0], MARK_FREE);
	if (labyrinth_free_page(lab, page))
		error("free of an owned page failed", page);
}

/* Take every page of a fresh pool on this CPU and mark it free. */
static int prime(labyrinth_t *lab, unsigned int n)
{
	void **pages = vmalloc(n * sizeof(void *));
	unsigned int i, got;

	if (!pages)
		return -1;
	preempt_disable(); /* one CPU: its cache is the only one */
	for (got = 0; got < n; got++) {
		pages[got] = labyrinth_alloc_page(lab, LAB_GFP_ATOMIC);
		if (!pages[got])
			break;
		*(u64 *)pages[got] = MARK_FREE;
	}
	for (i = 0; i < got; i++)
		labyrinth_free_page(lab, pages[i]);
	preempt_enable();
	vfree(pages);
	return got == n ? 0 : -1;
}

static u32 xorshift(u32 *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

/*
 * One step of a stress worker, in any context: allocate, claim, swap into
 * a shared slot, and check and free whatever was there (another context's
 * page, so frees cross CPUs and contexts).
 */
struct stress {
	labyrinth_t *lab;
	void **slots;
	unsigned int nr_slots;
	bool stop;
	atomic_t ops[4];
	atomic_t failed;
};

static void stress_step(struct stress *s, u32 *seed, u64 id, int ctx)
{
	u32 r = xorshift(seed);
	lab_gfp_t gfp = (r & 1) ? LAB_GFP_ATOMIC : LAB_GFP_NOWAIT;
	void *page = labyrinth_alloc_page(s->lab, gfp), *old;

	if (!page) {
		atomic_inc(&s->failed);
		return;
	}
	if (!own(page, id))
		return;
	old = xchg(&s->slots[(r >> 8) % s->nr_slots], page);
	if (old)
		release(s->lab, old);
	atomic_inc(&s->ops[ctx]);
}

static void stress_drain(struct stress *s)
{
	unsigned int i;

	for (i = 0; i < s->nr_slots; i++) {
		void *old = xchg(&s->slots[i], NULL);

		if (old)
			release(s->lab, old);
	}
}

struct worker {
	struct stress *s;
	struct completion done;
	unsigned int cpu;
	unsigned long deadline;
	unsigned long preempted; /* involuntary context switches */
	int ctx;
	bool bulk; /* t_pinning: mostly bulk steps, long inside a cache */
};

/*
 * A bulk round trip: a batch from the cache, each page claimed and marked
 * free again, the batch back into the cache.  Both calls stay inside the
 * cache for a while, so another task that barges into the same cache
 * meanwhile (no pin) meets the pages being moved.
 */
static void bulk_step(struct stress *s, u64 id)
{
	void *pages[16];
	unsigned int i, got = labyrinth_alloc_bulk(s->lab, LAB_GFP_NOWAIT, pages, 16);

	for (i = 0; i < got; i++)
		if (own(pages[i], id))
			WRITE_ONCE(*(u64 *)pages[i], MARK_FREE);
	if (labyrinth_free_bulk(s->lab, pages, got) != got)
		error("bulk free refused pages", pages[0]);
}

static int worker_fn(void *arg)
{
	struct worker *w = arg;
	u32 seed = (2463534242u + w->cpu * 7919) ^ (u32)(unsigned long)w; /* several a CPU */
	u64 id = 0x1000 + w->cpu;
	unsigned int n = 0;

	while (time_before(jiffies, w->deadline)) {
		if (w->bulk)
			bulk_step(w->s, id);
		stress_step(w->s, &seed, id, w->ctx);
		/* Now and then a bulk round trip, and the scheduler. */
		if (++n % 64 == 0) {
			void *pages[8];
			unsigned int i, got = labyrinth_alloc_bulk(w->s->lab, LAB_GFP_NOWAIT,
								    pages, 8);

			for (i = 0; i < got; i++)
				if (own(pages[i], id))
					WRITE_ONCE(*(u64 *)pages[i], MARK_FREE);
			if (labyrinth_free_bulk(w->s->lab, pages, got) != got)
				error("bulk free refused pages", pages[0]);
			cond_resched();
		}
	}
	w->preempted = current->nivcsw;
	complete(&w->done);
	return 0;
}

static struct task_struct *start_worker(struct worker *w, struct stress *s, unsigned int cpu,
					unsigned long deadline, int ctx)
{
	struct task_struct *t;

	w->s = s;
	w->cpu = cpu;
	w->deadline = deadline;
	w->ctx = ctx;
	init_completion(&w->done);
	t = kthread_create(worker_fn, w, "lab-stress/%u", cpu);
	if (IS_ERR(t))
		return t;
	kthread_bind(t, cpu);
	wake_up_process(t);
	return t;
}

static int pool_idle(labyrinth_t *lab)
{
	struct labyrinth_stats st;

	EXPECT(labyrinth_stats(lab, &st) == 0);
	EXPECT(st.pages_inuse == 0);
	EXPECT(st.pages_free == st.pages_total);
	EXPECT(st.allocs == st.frees);
	EXPECT(labyrinth_check(lab) == 0);
	return 0;
}

/* ---- the cases ---- */

static int t_lifecycle(void)
{
	struct labyrinth_params pr = { .name = "kt-life", .nr_pages = 256 };
	struct labyrinth_stats st;
	labyrinth_t lab = { 0 };
	void *page;

	EXPECT(labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC) == NULL);
	EXPECT(labyrinth_stats(&lab, &st) == -EINVAL);
	EXPECT(labyrinth_destroy(&lab) == -EINVAL);
	EXPECT(labyrinth_init(&lab, &pr) == 0);
	EXPECT(labyrinth_init(&lab, &pr) == -EBUSY);
	EXPECT(labyrinth_page_size(&lab) == PAGE_SIZE);
	EXPECT(labyrinth_stats(&lab, &st) == 0 && st.pages_total == 256 && st.pages_free == 256);
	page = labyrinth_void_alloc_page_gfp_atomic_exclusive(&lab);
	EXPECT(page && labyrinth_owns(&lab, page) == 1);
	EXPECT(labyrinth_owns(&lab, &lab) == 0);
	memset(page, 0x5a, PAGE_SIZE);
	EXPECT(labyrinth_free_page(&lab, page) == 0);
	EXPECT(labyrinth_destroy(&lab) == 0);
	EXPECT(labyrinth_destroy(&lab) == -EINVAL);
	EXPECT(labyrinth_alloc_page(&lab, LAB_GFP_KERNEL) == NULL);
	EXPECT(labyrinth_free_page(&lab, page) == -EINVAL);
	EXPECT(labyrinth_owns(&lab, page) == 0);
	EXPECT(strcmp(labyrinth_version(), LAB_VERSION_STRING) == 0);
	return 0;
}

static int t_init_bad_params(void)
{
	labyrinth_t lab = { 0 };
	struct labyrinth_params pr = { .nr_pages = 64 };

	EXPECT(labyrinth_init(NULL, &pr) == -EINVAL);
	pr.page_size = 8192;
	EXPECT(labyrinth_init(&lab, &pr) == -EINVAL);
	pr.page_size = 0;
	pr.reserve_pages = 64;
	EXPECT(labyrinth_init(&lab, &pr) == -EINVAL);
	pr.reserve_pages = 0;
	pr.max_pages = 32;
	EXPECT(labyrinth_init(&lab, &pr) == -EINVAL);
	pr.max_pages = 0;
	pr.flags = 0x8000;
	EXPECT(labyrinth_init(&lab, &pr) == -EINVAL);
	pr.flags = LAB_POOL_SECRET | LAB_POOL_HUGETLB;
	EXPECT(labyrinth_init(&lab, &pr) == -EINVAL);
	/* No memfd_secret or hugetlbfs behind a kernel pool: refused, not faked. */
	pr.flags = LAB_POOL_SECRET;
	EXPECT(labyrinth_init(&lab, &pr) == -EOPNOTSUPP);
	pr.flags = LAB_POOL_HUGETLB;
	EXPECT(labyrinth_init(&lab, &pr) == -EOPNOTSUPP);
	/* Nothing happened to lab. */
	EXPECT(lab.lab_private_magic == 0 && lab.lab_private_core == NULL);
	EXPECT(labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC) == NULL);
	return 0;
}

static int t_alloc_bad_args(void)
{
	struct labyrinth_params pr = { .name = "kt-args", .nr_pages = 64 };
	struct labyrinth_stats st;
	labyrinth_t lab = { 0 };

	EXPECT(labyrinth_init(&lab, &pr) == 0);
	EXPECT(labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC, LAB_MAX_ORDER + 1) == NULL);
	EXPECT(labyrinth_alloc_page(&lab, 0) == NULL);
	EXPECT(labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC | LAB_GFP_NOWAIT) == NULL);
	EXPECT(labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC | 0x8000) == NULL);
	EXPECT(labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC, NULL, 4) == 0);
	EXPECT(labyrinth_stats(&lab, &st) == 0);
	EXPECT(st.allocs == 0 && st.alloc_failed == 0 && st.pages_free == 64);
	EXPECT(labyrinth_destroy(&lab) == 0);
	return 0;
}

/* Every bad free of SPEC's table: the error, the count, the pool unchanged. */
static int t_bad_frees(void)
{
	struct labyrinth_params pr = { .name = "kt-badfree", .nr_pages = 64 };
	struct labyrinth_stats st;
	labyrinth_t lab = { 0 };
	void *page, *block, *outside = kmalloc(PAGE_SIZE, GFP_KERNEL);
	int ret = -1;

	if (!outside || labyrinth_init(&lab, &pr))
		goto out;
	page = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC);
	block = labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC, 2);
	if (!page || !block)
		goto out;
	if (labyrinth_free_page(&lab, NULL) != 0 ||
	    labyrinth_free_page(&lab, outside) != -EINVAL ||
	    labyrinth_free_page(&lab, (char *)page + 8) != -EINVAL ||
	    labyrinth_free_pages(&lab, page, 1) != -EINVAL ||            /* wrong order */
	    labyrinth_free_page(&lab, (char *)block + PAGE_SIZE) != -EINVAL || /* a tail */
	    labyrinth_free_pages(&lab, block, 0) != -EINVAL)
		goto out;
	if (labyrinth_stats(&lab, &st) || st.bad_frees != 5 || st.pages_inuse != 5)
		goto out;
	if (labyrinth_free_page(&lab, page) || labyrinth_free_pages(&lab, block, 2))
		goto out;
	if (labyrinth_free_page(&lab, page) != -EALREADY ||
	    labyrinth_free_pages(&lab, page, 3) != -EALREADY ||          /* any order */
	    labyrinth_free_pages(&lab, block, 2) != -EALREADY)
		goto out;
	if (labyrinth_stats(&lab, &st) || st.bad_frees != 8 || st.pages_inuse != 0 ||
	    st.frees != 2 || labyrinth_check(&lab))
		goto out;
	ret = labyrinth_destroy(&lab);
out:
	if (ret)
		printk(KERN_INFO "# a bad free was not refused as SPEC says\n");
	kfree(outside);
	return ret;
}

/* kthreads on every CPU allocate, stamp, check and free across CPUs. */
static int t_exclusive_all_cpus(void)
{
	struct labyrinth_params pr = { .name = "kt-excl", .nr_pages = 4096 };
	static struct worker workers[NR_CPUS > 64 ? 64 : NR_CPUS];
	static void *slots[256];
	struct stress s = { .slots = slots, .nr_slots = ARRAY_SIZE(slots) };
	labyrinth_t lab = { 0 };
	unsigned long deadline = jiffies + HZ;
	unsigned int cpu, n = 0, i;
	int ret = 0;

	atomic_set(&errors, 0);
	s.lab = &lab;
	EXPECT(labyrinth_init(&lab, &pr) == 0);
	EXPECT(prime(&lab, 4096) == 0);
	for_each_online_cpu(cpu) {
		if (n == ARRAY_SIZE(workers))
			break;
		EXPECT_OR(!IS_ERR(start_worker(&workers[n], &s, cpu, deadline, 0)), join);
		n++;
	}
join:	/* the workers use s and lab, on this stack */
	for (i = 0; i < n; i++)
		wait_for_completion(&workers[i].done);
	if (ret)
		return ret;
	stress_drain(&s);
	printk(KERN_INFO "# %u threads, %d steps, %d failed allocations\n", n,
	       atomic_read(&s.ops[0]), atomic_read(&s.failed));
	EXPECT(atomic_read(&errors) == 0);
	EXPECT(atomic_read(&s.ops[0]) > 0);
	EXPECT(pool_idle(&lab) == 0);
	EXPECT(labyrinth_destroy(&lab) == 0);
	return 0;
}

/*
 * A timer (softirq) and a hard-interrupt hrtimer allocate and free on CPU 0
 * while kthreads on CPU 0 and the others do the same on the same pool: the
 * interrupts land in the middle of the kthread's cache operations.
 */
static struct stress irq_s;
static struct hrtimer irq_hrt;
static struct timer_list irq_timer;
static u32 hard_seed = 88172645u, soft_seed = 521288629u;

static enum hrtimer_restart irq_hard_fn(struct hrtimer *t)
{
	if (READ_ONCE(irq_s.stop))
		return HRTIMER_NORESTART;
	if (!in_hardirq())
		error("hrtimer not in hard interrupt", NULL);
	stress_step(&irq_s, &hard_seed, 0x2000, 1);
	stress_step(&irq_s, &hard_seed, 0x2001, 1);
	hrtimer_forward_now(t, ns_to_ktime(200 * NSEC_PER_USEC));
	return HRTIMER_RESTART;
}

static void irq_soft_fn(struct timer_list *t)
{
	int i;

	if (READ_ONCE(irq_s.stop))
		return;
	for (i = 0; i < 8; i++)
		stress_step(&irq_s, &soft_seed, 0x3000, 2);
	mod_timer(t, jiffies + 1);
}

static int irq_starter(void *arg)
{
	hrtimer_start(&irq_hrt, ns_to_ktime(200 * NSEC_PER_USEC), HRTIMER_MODE_REL_PINNED_HARD);
	irq_timer.expires = jiffies + 1;
	add_timer_on(&irq_timer, 0);
	complete(arg);
	return 0;
}

static int t_irq_contexts(void)
{
	struct labyrinth_params pr = { .name = "kt-irq", .nr_pages = 2048 };
	static struct worker workers[2];
	static void *slots[32];
	DECLARE_COMPLETION_ONSTACK(started);
	labyrinth_t lab = { 0 };
	struct task_struct *t;
	unsigned long deadline;
	unsigned int i, n = 0;
	int ret = 0;

	atomic_set(&errors, 0);
	memset(&irq_s, 0, sizeof(irq_s));
	irq_s.lab = &lab;
	irq_s.slots = slots;
	irq_s.nr_slots = ARRAY_SIZE(slots);
	EXPECT(labyrinth_init(&lab, &pr) == 0);
	EXPECT(prime(&lab, 2048) == 0);
	hrtimer_init(&irq_hrt, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_HARD);
	irq_hrt.function = irq_hard_fn;
	timer_setup(&irq_timer, irq_soft_fn, TIMER_PINNED);
	t = kthread_create(irq_starter, &started, "lab-irq-start");
	EXPECT(!IS_ERR(t));
	kthread_bind(t, 0);
	wake_up_process(t);
	wait_for_completion(&started);
	/* From here the timers run on lab, on this stack: leave through stop. */
	deadline = jiffies + HZ;
	t = start_worker(&workers[n], &irq_s, 0, deadline, 0);
	EXPECT_OR(!IS_ERR(t), stop);
	n++;
	if (num_online_cpus() > 1) {
		t = start_worker(&workers[n], &irq_s, cpumask_last(cpu_online_mask), deadline, 3);
		EXPECT_OR(!IS_ERR(t), stop);
		n++;
	}
stop:
	for (i = 0; i < n; i++)
		wait_for_completion(&workers[i].done);
	WRITE_ONCE(irq_s.stop, true);
	hrtimer_cancel(&irq_hrt);
	del_timer_sync(&irq_timer);
	if (ret)
		return ret;
	stress_drain(&irq_s);
	printk(KERN_INFO "# steps: cpu0 kthread %d, hardirq %d, softirq %d, other cpu %d\n",
	       atomic_read(&irq_s.ops[0]), atomic_read(&irq_s.ops[1]),
	       atomic_read(&irq_s.ops[2]), atomic_read(&irq_s.ops[3]));
	EXPECT(atomic_read(&errors) == 0);
	EXPECT(atomic_read(&irq_s.ops[0]) > 0);
	EXPECT(atomic_read(&irq_s.ops[1]) > 0);
	EXPECT(atomic_read(&irq_s.ops[2]) > 0);
	EXPECT(pool_idle(&lab) == 0);
	EXPECT(labyrinth_destroy(&lab) == 0);
	return 0;
}

/*
 * The cache slot is the CPU, so a task must not be preempted or migrated
 * inside a cache operation (lab_os_cpu_pin).  Two kthreads bound to CPU 0
 * that a hard-interrupt hrtimer preempts every few tens of microseconds
 * (preempt=full, PREEMPT_RT: the other one runs next), and one unbound
 * kthread that another moves between the CPUs all the time, all
 * allocating, claiming and freeing: without the pin two of them meet in
 * one cache and a page goes to two owners, or is lost.
 */
struct pin_ctl {
	struct task_struct *roamer;
	struct completion done;
	unsigned long deadline;
};

static struct hrtimer pin_hrt;
static struct task_struct *pin_tasks[2];
static bool pin_stop;
static unsigned int pin_samples, pin_inside;
static unsigned long lab_text_lo, lab_text_hi;

/* Roughly labyrinth.ko's code: the span of its exported functions. */
static void find_lab_text(void)
{
	const unsigned long fns[] = {
		(unsigned long)labyrinth_init, (unsigned long)labyrinth_destroy,
		(unsigned long)labyrinth_alloc_pages, (unsigned long)labyrinth_alloc_page,
		(unsigned long)labyrinth_free_pages, (unsigned long)labyrinth_free_page,
		(unsigned long)labyrinth_alloc_bulk, (unsigned long)labyrinth_free_bulk,
		(unsigned long)labyrinth_stats, (unsigned long)labyrinth_check,
		(unsigned long)labyrinth_owns, (unsigned long)labyrinth_version,
	};
	unsigned int i;

	lab_text_lo = lab_text_hi = fns[0];
	for (i = 1; i < ARRAY_SIZE(fns); i++) {
		lab_text_lo = min(lab_text_lo, fns[i]);
		lab_text_hi = max(lab_text_hi, fns[i]);
	}
}

/*
 * Preempt whichever of the two CPU 0 kthreads this interrupted.  Also
 * look at what it was doing: an interrupt that lands in the pool's code
 * and finds preemption disabled landed inside a pinned cache operation.
 * Races that need the pin gone are rare to hit under qemu; the pin
 * itself is seen at once (without it, never).
 */
static enum hrtimer_restart pin_hard_fn(struct hrtimer *t)
{
	struct pt_regs *regs = get_irq_regs();

	if (READ_ONCE(pin_stop))
		return HRTIMER_NORESTART;
	if (current == pin_tasks[0] || current == pin_tasks[1]) {
		if (regs && instruction_pointer(regs) >= lab_text_lo &&
		    instruction_pointer(regs) <= lab_text_hi) {
			pin_samples++;
			pin_inside += (preempt_count() & PREEMPT_MASK) != 0;
		}
		set_tsk_need_resched(current);
		set_preempt_need_resched();
	}
	hrtimer_forward_now(t, ns_to_ktime(30 * NSEC_PER_USEC));
	return HRTIMER_RESTART;
}

static int pin_starter(void *arg)
{
	hrtimer_start(&pin_hrt, ns_to_ktime(30 * NSEC_PER_USEC), HRTIMER_MODE_REL_PINNED_HARD);
	complete(arg);
	return 0;
}

/* Moves the roamer to the next CPU every ~100 us: mid-operation too. */
static int pin_mover_fn(void *arg)
{
	struct pin_ctl *c = arg;
	unsigned int cpu = 0;

	while (time_before(jiffies, c->deadline)) {
		cpu = cpumask_next(cpu, cpu_online_mask);
		if (cpu >= nr_cpu_ids)
			cpu = cpumask_first(cpu_online_mask);
		set_cpus_allowed_ptr(c->roamer, cpumask_of(cpu));
		usleep_range(50, 150);
	}
	complete(&c->done);
	return 0;
}

/* The roamer also moves itself now and then, between two steps. */
static int pin_roamer_fn(void *arg)
{
	struct worker *w = arg;
	u32 seed = 1234567u;
	unsigned int n = 0, cpu = 0;

	while (time_before(jiffies, w->deadline)) {
		bulk_step(w->s, 0x4000);
		stress_step(w->s, &seed, 0x4000, w->ctx);
		if (++n % 256 == 0) {
			cpu = cpumask_next(cpu, cpu_online_mask);
			if (cpu >= nr_cpu_ids)
				cpu = cpumask_first(cpu_online_mask);
			set_cpus_allowed_ptr(current, cpumask_of(cpu));
		}
	}
	w->preempted = current->se.nr_migrations;
	complete(&w->done);
	return 0;
}

static int t_pinning(void)
{
	struct labyrinth_params pr = { .name = "kt-pin", .nr_pages = 1024 };
	static struct worker workers[3];
	static struct pin_ctl move;
	DECLARE_COMPLETION_ONSTACK(started);
	static void *slots[64];
	struct stress s = { .slots = slots, .nr_slots = ARRAY_SIZE(slots) };
	unsigned long deadline = jiffies + 2 * HZ;
	labyrinth_t lab = { 0 };
	struct task_struct *t;
	unsigned int i, n = 0;
	bool preempting = false, moving = false;
	int ret = 0;

	atomic_set(&errors, 0);
	s.lab = &lab;
	memset(slots, 0, sizeof(slots));
	EXPECT(labyrinth_init(&lab, &pr) == 0);
	EXPECT(prime(&lab, 1024) == 0);
	/* Two on CPU 0, sharing its cache by turns. */
	pin_tasks[0] = pin_tasks[1] = NULL;
	pin_samples = pin_inside = 0;
	find_lab_text();
	WRITE_ONCE(pin_stop, false);
	hrtimer_init(&pin_hrt, CLOCK_MONOTONIC, HRTIMER_MODE_REL_PINNED_HARD);
	pin_hrt.function = pin_hard_fn;
	t = kthread_create(pin_starter, &started, "lab-pin-start");
	EXPECT(!IS_ERR(t));
	kthread_bind(t, 0);
	wake_up_process(t);
	wait_for_completion(&started);
	preempting = true;
	for (i = 0; i < 2; i++) {
		workers[n].bulk = true;
		t = start_worker(&workers[n], &s, 0, deadline, 0);
		EXPECT_OR(!IS_ERR(t), stop);
		WRITE_ONCE(pin_tasks[i], t);
		n++;
	}
	/* One everywhere. */
	workers[n].s = &s;
	workers[n].deadline = deadline;
	workers[n].ctx = 1;
	init_completion(&workers[n].done);
	t = kthread_run(pin_roamer_fn, &workers[n], "lab-pin-roam");
	EXPECT_OR(!IS_ERR(t), stop);
	n++;
	if (num_online_cpus() > 1) {
		move.deadline = deadline;
		move.roamer = t;
		get_task_struct(t); /* the mover may outlive it by a step */
		init_completion(&move.done);
		t = kthread_run(pin_mover_fn, &move, "lab-pin-move");
		if (IS_ERR(t))
			put_task_struct(move.roamer);
		EXPECT_OR(!IS_ERR(t), stop);
		moving = true;
	}
stop:	/* everything above uses s and lab, on this stack */
	for (i = 0; i < n; i++)
		wait_for_completion(&workers[i].done);
	if (preempting) {
		WRITE_ONCE(pin_stop, true);
		hrtimer_cancel(&pin_hrt);
	}
	if (moving) {
		wait_for_completion(&move.done);
		put_task_struct(move.roamer);
	}
	if (ret)
		return ret;
	stress_drain(&s);
	printk(KERN_INFO "# steps: 2 kthreads on cpu0 %d (preempted %lu and %lu times), "
	       "roaming kthread %d (migrated %lu times); %d failed allocations\n",
	       atomic_read(&s.ops[0]), workers[0].preempted, workers[1].preempted,
	       atomic_read(&s.ops[1]), workers[2].preempted, atomic_read(&s.failed));
	printk(KERN_INFO "# %u interrupts landed in their pool calls, %u in a pinned section\n",
	       pin_samples, pin_inside);
	EXPECT(atomic_read(&errors) == 0);
	EXPECT(atomic_read(&s.ops[0]) > 0 && atomic_read(&s.ops[1]) > 0);
	EXPECT(!IS_ENABLED(CONFIG_PREEMPT_COUNT) || pin_inside > 0);
	EXPECT(pool_idle(&lab) == 0);
	EXPECT(labyrinth_destroy(&lab) == 0);
	return 0;
}

/*
 * SPEC: all caches of a pool together hold at most an eighth of its
 * pages.  Each online CPU takes every page it can and frees them all,
 * which leaves its cache as full as the core lets it be; then one CPU
 * must still get all pages but that eighth.  (With 2 CPUs the per-CPU
 * limit of nr_pages / 16 keeps to it; more CPUs need a pool-wide budget:
 * LAB_KERNEL_SMP=4 sh scripts/test-kernel.sh.)
 */
struct budget_ctl {
	labyrinth_t *lab;
	void **pages;
	unsigned int nr, got;
	int bad;
};

static int budget_fill(void *arg)
{
	struct budget_ctl *b = arg;
	unsigned int i;

	preempt_disable(); /* this CPU's cache only */
	for (b->got = 0; b->got < b->nr; b->got++)
		if (!(b->pages[b->got] = labyrinth_alloc_page(b->lab, LAB_GFP_ATOMIC)))
			break;
	for (i = 0; i < b->got; i++)
		b->bad |= labyrinth_free_page(b->lab, b->pages[i]) != 0;
	preempt_enable();
	return 0;
}

static int t_cache_budget(void)
{
	struct labyrinth_params pr = { .name = "kt-budget", .nr_pages = 1024 };
	struct budget_ctl b = { .nr = 1024 };
	struct labyrinth_stats st;
	labyrinth_t lab = { 0 };
	unsigned int cpu, first = cpumask_first(cpu_online_mask);

	b.lab = &lab;
	b.pages = vmalloc(1024 * sizeof(void *));
	EXPECT(b.pages && labyrinth_init(&lab, &pr) == 0);
	for_each_online_cpu(cpu)
		if (cpu != first)
			EXPECT(smp_call_on_cpu(cpu, budget_fill, &b, false) == 0 && !b.bad);
	EXPECT(smp_call_on_cpu(first, budget_fill, &b, false) == 0 && !b.bad);
	/* Once more on the first CPU: now every cache has had its fill. */
	EXPECT(smp_call_on_cpu(first, budget_fill, &b, false) == 0 && !b.bad);
	printk(KERN_INFO "# %u online CPUs; one CPU got %u of 1024 pages (at least %u expected)\n",
	       num_online_cpus(), b.got, 1024 - 1024 / 8);
	EXPECT(b.got >= 1024 - 1024 / 8);
	EXPECT(labyrinth_stats(&lab, &st) == 0 && st.pages_free == 1024);
	EXPECT(labyrinth_destroy(&lab) == 0);
	vfree(b.pages);
	return 0;
}

/*
 * A max_pages the machine cannot hold: init fails with -ENOMEM, quietly
 * (no allocation-failure splat on the console, which test-kernel.sh
 * fails on), and leaves lab as it was.
 */
static int t_huge_max_pages(void)
{
	struct labyrinth_params pr = { .name = "kt-huge", .nr_pages = 64 };
	labyrinth_t lab = { 0 };
	unsigned long ram = totalram_pages();

	pr.max_pages = 2 * ram + 1; /* not a multiple of 2 MiB */
	EXPECT(labyrinth_init(&lab, &pr) == -ENOMEM);
	pr.max_pages = 4 * ram; /* whole 2 MiB: the vmalloc_huge path */
	EXPECT(labyrinth_init(&lab, &pr) == -ENOMEM);
	EXPECT(lab.lab_private_magic == 0 && lab.lab_private_core == NULL);
	pr.max_pages = 0;
	EXPECT(labyrinth_init(&lab, &pr) == 0);
	EXPECT(labyrinth_destroy(&lab) == 0);
	return 0;
}

/* 64 pages, reserve 8: on one CPU exactly 56 NOWAIT, then 8 ATOMIC, twice. */
static int t_reserve(void)
{
	struct labyrinth_params pr = { .name = "kt-reserve", .nr_pages = 64, .reserve_pages = 8 };
	struct labyrinth_stats st;
	labyrinth_t lab = { 0 };
	void *pages[64];
	int round, nowait, atomic, i, bad = 0;

	EXPECT(labyrinth_init(&lab, &pr) == 0);
	for (round = 0; round < 2; round++) {
		preempt_disable(); /* exact per CPU */
		for (nowait = 0; nowait < 64; nowait++)
			if (!(pages[nowait] = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT)))
				break;
		for (atomic = nowait; atomic < 64; atomic++)
			if (!(pages[atomic] = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC)))
				break;
		bad |= labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC) != NULL;
		for (i = 0; i < atomic; i++)
			bad |= labyrinth_free_page(&lab, pages[i]) != 0;
		preempt_enable();
		printk(KERN_INFO "# round %d: %d NOWAIT, %d ATOMIC\n", round, nowait,
		       atomic - nowait);
		EXPECT(!bad && nowait == 56 && atomic == 64);
	}
	/* A block may not dip into the reserve either. */
	preempt_disable();
	for (i = 0; i < 28; i++)
		if (!(pages[i] = labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT, 1)))
			break;
	bad |= labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT, 1) != NULL;
	nowait = i;
	for (i = 0; i < nowait; i++)
		bad |= labyrinth_free_pages(&lab, pages[i], 1) != 0;
	preempt_enable();
	EXPECT(!bad && nowait == 28);
	EXPECT(labyrinth_stats(&lab, &st) == 0 && st.reserve_allocs == 16);
	EXPECT(pool_idle(&lab) == 0);
	EXPECT(labyrinth_destroy(&lab) == 0);
	return 0;
}

static int cmp_addr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

/* Blocks of every order; freeing every page makes the largest whole again. */
static int t_blocks(void)
{
	struct labyrinth_params pr = { .name = "kt-blocks", .nr_pages = 2048 };
	struct labyrinth_stats st;
	labyrinth_t lab = { 0 };
	void **pages = vmalloc(2048 * sizeof(void *)), *a, *b;
	unsigned int o, i, got;
	int bad = 0;

	EXPECT(pages && labyrinth_init(&lab, &pr) == 0);
	/* One CPU throughout: the blocks of orders 1 to 4 freed here stay in
	 * this CPU's cache, and only this CPU's calls take them back; after a
	 * migration the loop below could not have them (got < 2048). */
	preempt_disable();
	for (o = 0; o <= LAB_MAX_ORDER; o++) {
		char *blk = labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC, o);
		bool block_ok = blk && labyrinth_owns(&lab, blk + (PAGE_SIZE << o) - 1) == 1 &&
				(!o || labyrinth_free_pages(&lab, blk, o - 1) == -EINVAL);

		if (!block_ok) {
			preempt_enable();
			printk(KERN_INFO "# order %u: block %px\n", o, blk);
		}
		EXPECT(block_ok);
		memset(blk, (int)o, PAGE_SIZE << o);
		bad |= labyrinth_free_pages(&lab, blk, o) != 0;
	}
	for (got = 0; got < 2048; got++)
		if (!(pages[got] = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC)))
			break;
	bad |= labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC, 0) != NULL;
	/* By address: the order the pages came in (a cache's LIFO, refills
	 * from where this CPU's cursor stood) need not pair neighbours. */
	sort(pages, got, sizeof(*pages), cmp_addr, NULL);
	for (i = 0; i < got; i += 2)   /* every other page first: no merging */
		bad |= labyrinth_free_page(&lab, pages[i]) != 0;
	bad |= labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC, 1) != NULL;
	for (i = 1; i < got; i += 2)
		bad |= labyrinth_free_page(&lab, pages[i]) != 0;
	a = labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC, LAB_MAX_ORDER);
	b = labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC, LAB_MAX_ORDER);
	preempt_enable();
	if (bad || got != 2048 || !a || !b || a == b)
		printk(KERN_INFO "# bad %d, got %u pages, order-10 blocks %px %px\n", bad, got, a, b);
	EXPECT(!bad && got == 2048 && a && b && a != b);
	EXPECT(labyrinth_free_pages(&lab, a, LAB_MAX_ORDER) == 0);
	EXPECT(labyrinth_free_pages(&lab, b, LAB_MAX_ORDER) == 0);
	EXPECT(labyrinth_stats(&lab, &st) == 0 && st.free_blocks[LAB_MAX_ORDER] == 2);
	EXPECT(pool_idle(&lab) == 0);
	EXPECT(labyrinth_destroy(&lab) == 0);
	vfree(pages);
	return 0;
}

/* LAB_GFP_KERNEL grows the pool up to max_pages, then fails (wait_ms 0). */
static int t_kernel_growth(void)
{
	struct labyrinth_params pr = { .name = "kt-grow", .nr_pages = 64, .max_pages = 64 + 1024 };
	struct labyrinth_stats st;
	labyrinth_t lab = { 0 };
	void **pages = vmalloc(1088 * sizeof(void *));
	unsigned int got, i;
	int bad = 0;

	EXPECT(pages && labyrinth_init(&lab, &pr) == 0);
	EXPECT(labyrinth_stats(&lab, &st) == 0 && st.pages_total == 64);
	for (got = 0; got < 1088; got++)
		if (!(pages[got] = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL)))
			break;
	EXPECT(got == 1088);
	for (i = 0; i < got; i++)
		memset(pages[i], 0xee, PAGE_SIZE); /* every grown page is backed */
	EXPECT(labyrinth_alloc_page(&lab, LAB_GFP_KERNEL) == NULL);
	EXPECT(labyrinth_stats(&lab, &st) == 0);
	EXPECT(st.pages_total == 1088 && st.grows >= 1 && st.alloc_failed == 1);
	for (i = 0; i < got; i++)
		bad |= labyrinth_free_page(&lab, pages[i]) != 0;
	EXPECT(!bad && pool_idle(&lab) == 0);
	EXPECT(labyrinth_destroy(&lab) == 0);
	vfree(pages);
	return 0;
}

/*
 * A LAB_GFP_KERNEL caller sleeps; a free wakes it: from a hard interrupt
 * and from a softirq (both hand the wake-up to an irq_work) and from a
 * kthread (a direct wake-up).  The core's sleepers also look again every
 * LAB_SLEEP_SLICE_MS, which would hide a wake-up that never comes; the
 * test build (scripts/test-kernel.sh) makes that slice 2 s, and the
 * sleeper must then have its page well within half of it.
 */
static labyrinth_t wait_lab;
static void *wait_page;
static struct hrtimer wait_hrt;
static struct timer_list wait_timer;
static atomic_t wait_freed;
static u64 wait_freed_ns;

static void wait_free(int want_ctx)
{
	int ctx = in_hardirq() ? 1 : in_serving_softirq() ? 2 : 3;

	WRITE_ONCE(wait_freed_ns, ktime_get_ns());
	if (labyrinth_free_page(&wait_lab, wait_page) == 0 && ctx == want_ctx)
		atomic_inc(&wait_freed);
}

static enum hrtimer_restart wait_hard_fn(struct hrtimer *t)
{
	wait_free(1);
	return HRTIMER_NORESTART;
}

static void wait_soft_fn(struct timer_list *t)
{
	wait_free(2);
}

static int wait_thread_fn(void *arg)
{
	msleep(100);
	wait_free(3);
	complete(arg);
	return 0;
}

static int t_kernel_wait(void)
{
	static const char *const how[] = { "", "hardirq", "softirq", "kthread" };
	struct labyrinth_params pr = { .name = "kt-wait", .nr_pages = 64, .wait_ms = 10000 };
	DECLARE_COMPLETION_ONSTACK(freed);
	struct labyrinth_stats st;
	void *pages[64], *got;
	struct task_struct *t;
	int i, ctx, bad = 0;
	u64 late_ms;

	memset(&wait_lab, 0, sizeof(wait_lab));
	EXPECT(labyrinth_init(&wait_lab, &pr) == 0);
	for (i = 0; i < 64; i++)
		bad |= !(pages[i] = labyrinth_alloc_page(&wait_lab, LAB_GFP_ATOMIC));
	EXPECT(!bad);
	hrtimer_init(&wait_hrt, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	wait_hrt.function = wait_hard_fn;
	timer_setup(&wait_timer, wait_soft_fn, 0);
	for (ctx = 1; ctx <= 3; ctx++) {
		wait_page = pages[17 + ctx];
		atomic_set(&wait_freed, 0);
		reinit_completion(&freed);
		if (ctx == 1) {
			hrtimer_start(&wait_hrt, ms_to_ktime(100), HRTIMER_MODE_REL_HARD);
		} else if (ctx == 2) {
			mod_timer(&wait_timer, jiffies + msecs_to_jiffies(100));
		} else {
			t = kthread_run(wait_thread_fn, &freed, "lab-wait-free");
			EXPECT(!IS_ERR(t));
		}
		got = labyrinth_alloc_page(&wait_lab, LAB_GFP_KERNEL);
		late_ms = div_u64(ktime_get_ns() - READ_ONCE(wait_freed_ns), NSEC_PER_MSEC);
		hrtimer_cancel(&wait_hrt);
		del_timer_sync(&wait_timer);
		if (ctx == 3)
			wait_for_completion(&freed);
		printk(KERN_INFO "# freed from %s: the sleeper had it %llu ms later\n", how[ctx],
		       late_ms);
		EXPECT(atomic_read(&wait_freed) == 1);
		EXPECT(got == wait_page);
#ifdef LAB_SLEEP_SLICE_MS
		/* Woken, not found by the next look of its slice. */
		EXPECT(LAB_SLEEP_SLICE_MS < 1000 || late_ms < LAB_SLEEP_SLICE_MS / 2);
#endif
	}
	EXPECT(labyrinth_stats(&wait_lab, &st) == 0 && st.waits >= 3 && st.alloc_failed == 0);
	for (i = 0; i < 64; i++)
		bad |= labyrinth_free_page(&wait_lab, pages[i]) != 0;
	EXPECT(!bad && pool_idle(&wait_lab) == 0);
	EXPECT(labyrinth_destroy(&wait_lab) == 0);
	return 0;
}

/* With nothing freed, the wait ends after wait_ms with NULL. */
static int t_kernel_wait_timeout(void)
{
	struct labyrinth_params pr = { .name = "kt-timeout", .nr_pages = 16, .wait_ms = 50 };
	struct labyrinth_stats st;
	labyrinth_t lab = { 0 };
	void *pages[16];
	int i, bad = 0;

	EXPECT(labyrinth_init(&lab, &pr) == 0);
	for (i = 0; i < 16; i++)
		bad |= !(pages[i] = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL));
	EXPECT(!bad && labyrinth_alloc_page(&lab, LAB_GFP_KERNEL) == NULL);
	EXPECT(labyrinth_stats(&lab, &st) == 0 && st.waits >= 1 && st.alloc_failed == 1);
	for (i = 0; i < 16; i++)
		bad |= labyrinth_free_page(&lab, pages[i]) != 0;
	EXPECT(!bad && labyrinth_destroy(&lab) == 0);
	return 0;
}

/* After a mix of calls the counters add up. */
static int t_stats_add_up(void)
{
	struct labyrinth_params pr = { .name = "kt-stats", .nr_pages = 1024 };
	struct labyrinth_stats st;
	labyrinth_t lab = { 0 };
	void *one[100], *blk[5], *bulk[40];
	u64 free_pages = 0;
	int i, bad = 0;

	EXPECT(labyrinth_init(&lab, &pr) == 0);
	for (i = 0; i < 100; i++)
		bad |= !(one[i] = labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT));
	for (i = 0; i < 5; i++)
		bad |= !(blk[i] = labyrinth_alloc_pages(&lab, LAB_GFP_NOWAIT, 2));
	EXPECT(!bad);
	for (i = 0; i < 30; i++)
		bad |= labyrinth_free_page(&lab, one[i]) != 0;
	EXPECT(!bad);
	EXPECT(labyrinth_free_page(&lab, one[0]) == -EALREADY);
	EXPECT(labyrinth_alloc_bulk(&lab, LAB_GFP_ATOMIC, bulk, 40) == 40);
	EXPECT(labyrinth_free_bulk(&lab, bulk, 20) == 20);
	EXPECT(labyrinth_stats(&lab, &st) == 0);
	EXPECT(st.pages_total == 1024 && st.pages_free + st.pages_inuse == st.pages_total);
	EXPECT(st.pages_inuse == 70 + 20 + 20);
	EXPECT(st.allocs == 100 + 5 + 40 && st.frees == 30 + 20 && st.bad_frees == 1);
	for (i = 0; i <= LAB_MAX_ORDER; i++)
		free_pages += st.free_blocks[i] << i;
	EXPECT(free_pages == st.pages_free);
	EXPECT(labyrinth_check(&lab) == 0);
	for (i = 30; i < 100; i++)
		bad |= labyrinth_free_page(&lab, one[i]) != 0;
	for (i = 0; i < 5; i++)
		bad |= labyrinth_free_pages(&lab, blk[i], 2) != 0;
	bad |= labyrinth_free_bulk(&lab, bulk + 20, 20) != 20;
	EXPECT(!bad && pool_idle(&lab) == 0);
	EXPECT(labyrinth_destroy(&lab) == 0);
	return 0;
}

/* Destroy with pages out: -EBUSY, pool intact and usable. */
static int t_destroy_busy(void)
{
	struct labyrinth_params pr = { .name = "kt-busy", .nr_pages = 64 };
	labyrinth_t lab = { 0 };
	void *a, *b;

	EXPECT(labyrinth_init(&lab, &pr) == 0);
	a = labyrinth_alloc_pages(&lab, LAB_GFP_ATOMIC, 3);
	EXPECT(a != NULL);
	EXPECT(labyrinth_destroy(&lab) == -EBUSY);
	b = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC);
	EXPECT(b != NULL);
	EXPECT(labyrinth_free_pages(&lab, a, 3) == 0);
	EXPECT(labyrinth_destroy(&lab) == -EBUSY);
	EXPECT(labyrinth_free_page(&lab, b) == 0);
	EXPECT(labyrinth_destroy(&lab) == 0);
	return 0;
}

/* LAB_GFP_ZERO pages carry nothing from their previous owner. */
static int t_gfp_zero(void)
{
	struct labyrinth_params pr = { .name = "kt-zero", .nr_pages = 64 };
	labyrinth_t lab = { 0 };
	unsigned char *p, *q;
	size_t i;
	int bad = 0;

	EXPECT(labyrinth_init(&lab, &pr) == 0);
	preempt_disable(); /* the page comes back from this CPU's cache */
	p = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC);
	if (p) {
		memset(p, 0xa5, PAGE_SIZE);
		bad |= labyrinth_free_page(&lab, p) != 0;
	}
	q = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC | LAB_GFP_ZERO);
	preempt_enable();
	EXPECT(p && q == p && !bad);
	for (i = 0; i < PAGE_SIZE; i++)
		bad |= q[i] != 0;
	EXPECT(!bad);
	EXPECT(labyrinth_free_page(&lab, q) == 0);
	EXPECT(labyrinth_destroy(&lab) == 0);
	return 0;
}

/* /sys/kernel/debug/labyrinth/<pool>/stats holds the dump. */
static int t_debugfs_stats(void)
{
	struct labyrinth_params pr = { .name = "kt-debugfs", .nr_pages = 128 };
	labyrinth_t lab = { 0 };
	char *buf = kzalloc(4096, GFP_KERNEL);
	struct file *f;
	loff_t pos = 0;
	ssize_t n = -1;
	void *page;

	EXPECT(buf && labyrinth_init(&lab, &pr) == 0);
	page = labyrinth_alloc_page(&lab, LAB_GFP_ATOMIC);
	f = filp_open("/sys/kernel/debug/labyrinth/kt-debugfs/stats", O_RDONLY, 0);
	if (!IS_ERR(f)) {
		n = kernel_read(f, buf, 4095, &pos);
		filp_close(f, NULL);
	}
	EXPECT(n > 0);
	printk(KERN_INFO "# %.*s", (int)strcspn(buf, "\n") + 1, buf);
	EXPECT(strstr(buf, "pool kt-debugfs: page size 4K, backing vmalloc") != NULL);
	EXPECT(strstr(buf, "pages total 128 free 127 inuse 1") != NULL);
	EXPECT(labyrinth_free_page(&lab, page) == 0);
	EXPECT(labyrinth_destroy(&lab) == 0);
	f = filp_open("/sys/kernel/debug/labyrinth/kt-debugfs/stats", O_RDONLY, 0);
	EXPECT(IS_ERR(f)); /* gone with the pool */
	/* A '/' in the name cannot be in a file name: '_' instead. */
	pr.name = "kt/slash";
	EXPECT(labyrinth_init(&lab, &pr) == 0);
	f = filp_open("/sys/kernel/debug/labyrinth/kt_slash/stats", O_RDONLY, 0);
	EXPECT(!IS_ERR(f));
	filp_close(f, NULL);
	EXPECT(labyrinth_destroy(&lab) == 0);
	kfree(buf);
	return 0;
}

/* A LAB_POOL_DEBUG pool: no caches, every misuse reported in the kernel log. */
static labyrinth_t dbg_lab;
static void *dbg_page;
static struct hrtimer dbg_hrt;
static atomic_t dbg_result = ATOMIC_INIT(1);

static enum hrtimer_restart dbg_hard_fn(struct hrtimer *t)
{
	/* A double free from a hard interrupt: refused, one report line. */
	atomic_set(&dbg_result, labyrinth_free_page(&dbg_lab, dbg_page));
	return HRTIMER_NORESTART;
}

static int t_debug_pool(void)
{
	struct labyrinth_params pr = { .name = "kt-debug", .nr_pages = 64,
				       .flags = LAB_POOL_DEBUG };
	struct labyrinth_stats st;
	unsigned char *p;

	memset(&dbg_lab, 0, sizeof(dbg_lab));
	EXPECT(labyrinth_init(&dbg_lab, &pr) == 0);
	p = labyrinth_alloc_page(&dbg_lab, LAB_GFP_ATOMIC);
	EXPECT(p != NULL);
	EXPECT(labyrinth_destroy(&dbg_lab) == -EBUSY);
	EXPECT(labyrinth_free_page(&dbg_lab, p) == 0);
	dbg_page = p;
	hrtimer_init(&dbg_hrt, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	dbg_hrt.function = dbg_hard_fn;
	hrtimer_start(&dbg_hrt, ms_to_ktime(1), HRTIMER_MODE_REL_HARD);
	while (atomic_read(&dbg_result) == 1)
		msleep(1);
	EXPECT(atomic_read(&dbg_result) == -EALREADY);
	EXPECT(labyrinth_free_page(&dbg_lab, p + 64) == -EINVAL);
	EXPECT(labyrinth_stats(&dbg_lab, &st) == 0 && st.bad_frees == 2 && st.pages_free == 64);
	EXPECT(labyrinth_check(&dbg_lab) == 0);
	EXPECT(labyrinth_destroy(&dbg_lab) == 0);
	return 0;
}


/*
 * LAB_POOL_NUMA: a pool bound to each node with memory takes every page
 * from that node (page_to_nid), at init, on LAB_GFP_KERNEL growth and for
 * 2 MiB pages; the pages that process context, a softirq and a hard
 * interrupt allocate are the node's too.  A node that does not exist is
 * -EINVAL; one asked for more than it has free is -ENOMEM, quietly.
 */
static struct {
	labyrinth_t *lab;
	int nid;
	atomic_t got[3];  /* pages checked: process, softirq, hardirq */
	atomic_t wrong;   /* pages on another node */
	bool stop;
} numa_s;
static struct hrtimer numa_hrt;
static struct timer_list numa_timer;

static struct page *numa_page(const void *addr)
{
	return is_vmalloc_addr(addr) ? vmalloc_to_page(addr) : virt_to_page(addr);
}

/* Pages of page_size in [addr, addr + len) not on nid (each 4 KiB looked at). */
static unsigned int numa_off_node(const void *addr, size_t len, int nid)
{
	unsigned int off = 0;
	size_t i;

	for (i = 0; i < len; i += PAGE_SIZE)
		off += page_to_nid(numa_page((const char *)addr + i)) != nid;
	return off;
}

static void numa_take(int ctx)
{
	void *pg = labyrinth_alloc_page(numa_s.lab, LAB_GFP_ATOMIC);

	if (!pg)
		return;
	if (page_to_nid(numa_page(pg)) != numa_s.nid)
		atomic_inc(&numa_s.wrong);
	atomic_inc(&numa_s.got[ctx]);
	if (labyrinth_free_page(numa_s.lab, pg))
		atomic_inc(&numa_s.wrong);
}

static enum hrtimer_restart numa_hard_fn(struct hrtimer *t)
{
	if (READ_ONCE(numa_s.stop))
		return HRTIMER_NORESTART;
	numa_take(in_hardirq() ? 2 : 0);
	hrtimer_forward_now(t, ns_to_ktime(100 * NSEC_PER_USEC));
	return HRTIMER_RESTART;
}

static void numa_soft_fn(struct timer_list *t)
{
	if (READ_ONCE(numa_s.stop))
		return;
	numa_take(in_serving_softirq() ? 1 : 0);
	mod_timer(t, jiffies + 1);
}

static int numa_node_case(int nid)
{
	struct labyrinth_params pr = { .name = "kt-numa", .nr_pages = 64, .max_pages = 64 + 1024,
				       .flags = LAB_POOL_NUMA, .numa_node = nid };
	struct labyrinth_params huge = { .name = "kt-numa-2m", .page_size = LAB_PAGE_2M,
					 .nr_pages = 2, .flags = LAB_POOL_NUMA, .numa_node = nid };
	void **pages = vmalloc(1088 * sizeof(void *));
	unsigned long deadline;
	labyrinth_t lab = { 0 };
	unsigned int got, i, off = 0;
	int bad = 0;

	EXPECT(pages && labyrinth_init(&lab, &pr) == 0);
	for (got = 0; got < 1088; got++)
		if (!(pages[got] = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL)))
			break;
	EXPECT(got == 1088); /* the grown pages too */
	for (i = 0; i < got; i++)
		off += numa_off_node(pages[i], PAGE_SIZE, nid);
	printk(KERN_INFO "# node %d: %u pages, %u on another node\n", nid, got, off);
	EXPECT(off == 0);
	for (i = 0; i < got; i++)
		bad |= labyrinth_free_page(&lab, pages[i]) != 0;
	vfree(pages);
	EXPECT(!bad);

	/* softirq and hardirq allocations, while process context allocates */
	memset(&numa_s, 0, sizeof(numa_s));
	numa_s.lab = &lab;
	numa_s.nid = nid;
	hrtimer_init(&numa_hrt, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	numa_hrt.function = numa_hard_fn;
	timer_setup(&numa_timer, numa_soft_fn, 0);
	hrtimer_start(&numa_hrt, ns_to_ktime(100 * NSEC_PER_USEC), HRTIMER_MODE_REL_HARD);
	mod_timer(&numa_timer, jiffies + 1);
	deadline = jiffies + 5 * HZ;
	while (time_before(jiffies, deadline) &&
	       (atomic_read(&numa_s.got[0]) < 64 || atomic_read(&numa_s.got[1]) < 16 ||
		atomic_read(&numa_s.got[2]) < 16)) {
		numa_take(0);
		cond_resched();
	}
	WRITE_ONCE(numa_s.stop, true);
	hrtimer_cancel(&numa_hrt);
	del_timer_sync(&numa_timer);
	printk(KERN_INFO "# node %d: checked process %d, softirq %d, hardirq %d, wrong %d\n", nid,
	       atomic_read(&numa_s.got[0]), atomic_read(&numa_s.got[1]),
	       atomic_read(&numa_s.got[2]), atomic_read(&numa_s.wrong));
	EXPECT(atomic_read(&numa_s.wrong) == 0);
	EXPECT(atomic_read(&numa_s.got[0]) >= 64 && atomic_read(&numa_s.got[1]) >= 16 &&
	       atomic_read(&numa_s.got[2]) >= 16);
	EXPECT(pool_idle(&lab) == 0);
	EXPECT(labyrinth_destroy(&lab) == 0);

	/* 2 MiB pages, each 4 KiB of them on the node */
	memset(&lab, 0, sizeof(lab));
	EXPECT(labyrinth_init(&lab, &huge) == 0);
	pages = (void **)labyrinth_alloc_page(&lab, LAB_GFP_NOWAIT);
	EXPECT(pages && numa_off_node(pages, LAB_PAGE_2M, nid) == 0);
	EXPECT(labyrinth_free_page(&lab, pages) == 0);
	EXPECT(labyrinth_destroy(&lab) == 0);
	return 0;
}

static int t_numa(void)
{
	struct labyrinth_params pr = { .name = "kt-numa-bad", .nr_pages = 16,
				       .flags = LAB_POOL_NUMA };
	labyrinth_t lab = { 0 }, zero = { 0 };
	unsigned long free_pages;
	int nid, nodes = 0;

	for_each_node_state(nid, N_MEMORY) {
		printk(KERN_INFO "# numa: node %d of %d with memory\n", nid,
		       num_node_state(N_MEMORY));
		EXPECT(numa_node_case(nid) == 0);
		nodes++;
	}
	EXPECT(nodes == num_node_state(N_MEMORY) && nodes >= 1);
	pr.numa_node = MAX_NUMNODES;
	EXPECT(labyrinth_init(&lab, &pr) == -EINVAL);
	pr.numa_node = nr_node_ids; /* one past the last possible node */
	EXPECT(labyrinth_init(&lab, &pr) == -EINVAL);
	EXPECT(memcmp(&lab, &zero, sizeof(lab)) == 0);
	/* too much for node 0: half as much again as it has free */
	free_pages = 0;
	for (nid = 0; nid < MAX_NR_ZONES; nid++)
		free_pages += zone_page_state(&NODE_DATA(first_memory_node)->node_zones[nid],
					      NR_FREE_PAGES);
	pr.numa_node = first_memory_node;
	pr.nr_pages = free_pages + free_pages / 2;
	EXPECT(labyrinth_init(&lab, &pr) == -ENOMEM);
	EXPECT(memcmp(&lab, &zero, sizeof(lab)) == 0);
	/* without the flag the node is ignored */
	pr.flags = 0;
	pr.nr_pages = 16;
	pr.numa_node = MAX_NUMNODES;
	EXPECT(labyrinth_init(&lab, &pr) == 0);
	EXPECT(labyrinth_destroy(&lab) == 0);
	return 0;
}

static const struct ktap_case cases[] = {
	{ "lifecycle", t_lifecycle },
	{ "init_bad_params", t_init_bad_params },
	{ "alloc_bad_args", t_alloc_bad_args },
	{ "bad_frees", t_bad_frees },
	{ "exclusive_kthreads_all_cpus", t_exclusive_all_cpus },
	{ "hardirq_softirq_process_same_cpu", t_irq_contexts },
	{ "cpu_pinning_same_cpu_and_migrating", t_pinning },
	{ "caches_hold_at_most_an_eighth", t_cache_budget },
	{ "huge_max_pages_enomem_quietly", t_huge_max_pages },
	{ "reserve_exact_per_cpu", t_reserve },
	{ "blocks_every_order_and_merging", t_blocks },
	{ "gfp_kernel_growth", t_kernel_growth },
	{ "gfp_kernel_wait_woken_by_hardirq_softirq_kthread_free", t_kernel_wait },
	{ "gfp_kernel_wait_timeout", t_kernel_wait_timeout },
	{ "stats_add_up", t_stats_add_up },
	{ "destroy_busy", t_destroy_busy },
	{ "gfp_zero", t_gfp_zero },
	{ "debugfs_stats", t_debugfs_stats },
	{ "debug_pool_reports_from_hardirq", t_debug_pool },
	{ "numa_every_node_process_softirq_hardirq", t_numa },
};

/* only=numa: just the cases whose name starts with "numa" (the two-node
 * boot of scripts/test-numa.sh); empty: every case. */
static char *only = "";
module_param(only, charp, 0444);
MODULE_PARM_DESC(only, "run only the cases whose name starts with this");

static int __init selftest_init(void)
{
	static struct ktap_case chosen[ARRAY_SIZE(cases)];
	int i, n = 0;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		if (strncmp(cases[i].name, only, strlen(only)) == 0)
			chosen[n++] = cases[i];
	ktap_run(chosen, n);
	return 0;
}

static void __exit selftest_exit(void)
{
}

module_init(selftest_init);
module_exit(selftest_exit);
MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("labyrinth self-test (KTAP)");
