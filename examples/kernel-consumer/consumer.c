// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * consumer.c - labyrinth_consumer.ko: a driver of someone else's that uses
 * labyrinth.ko, built only from what labyrinth installs (the kernel-side
 * labyrinth.h and labyrinth.ko's Module.symvers; see Makefile).
 *
 * The rx story of a NIC driver in miniature: a hard interrupt (an hrtimer
 * in HRTIMER_MODE_HARD) takes a page per tick and posts it in a ring slot;
 * a softirq (a timer_list) takes the pages out of the slots, checks them
 * and frees them.  Process context allocates and frees too, and a double
 * free must be refused with -EALREADY.  The results are printed as KTAP.
 */
#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/delay.h>
#include <linux/hrtimer.h>
#include <linux/jiffies.h>
#include <linux/module.h>
#include <linux/timer.h>

#include <labyrinth.h>

#define POOL_PAGES 256
#define HELD 64      /* pages process context holds at once */
#define SLOTS 32     /* the "rx ring": fewer than the pool, never runs dry */
#define TICKS 300    /* hard interrupts, 1 ms apart */
#define MAGIC 0x6c61622d75736572ull /* "lab-user" */

/* A failed expectation: one diagnostic line, the case fails.  (The
 * repository's kernel/ktap.h has the same; a third party has only this.) */
#define EXPECT(cond)							\
	do {								\
		if (!(cond)) {						\
			printk(KERN_INFO "# %s:%d: expected %s\n",	\
			       __func__, __LINE__, #cond);		\
			return -1;					\
		}							\
	} while (0)

static labyrinth_t pool;
static void *slots[SLOTS];
static struct hrtimer irq;
static struct timer_list softirq;
static DECLARE_COMPLETION(irq_done);
static atomic_t irq_ticks, irq_allocs, irq_failed, soft_frees, drain_frees, bad;
static bool stop_softirq;

static void check_and_free(void *page, atomic_t *frees)
{
	u64 *w = page;

	if (w[0] != MAGIC || w[1] != (u64)(unsigned long)page)
		atomic_inc(&bad); /* another owner wrote into our page */
	w[0] = 0;
	if (labyrinth_free_page(&pool, page) == 0)
		atomic_inc(frees);
	else
		atomic_inc(&bad);
}

/* Hard interrupt: a page for the next slot; a page the softirq has not
 * taken yet is freed here (the ring overran). */
static enum hrtimer_restart irq_tick(struct hrtimer *t)
{
	int n = atomic_inc_return(&irq_ticks);
	u64 *page = labyrinth_void_alloc_page_gfp_atomic_exclusive(&pool);

	if (page) {
		void *old;

		atomic_inc(&irq_allocs);
		page[0] = MAGIC;
		page[1] = (u64)(unsigned long)page;
		old = xchg(&slots[n % SLOTS], page);
		if (old)
			check_and_free(old, &drain_frees);
	} else {
		atomic_inc(&irq_failed);
	}
	if (n >= TICKS) {
		complete(&irq_done);
		return HRTIMER_NORESTART;
	}
	hrtimer_forward_now(t, ms_to_ktime(1));
	return HRTIMER_RESTART;
}

/* Softirq: empty the ring, then again next jiffy. */
static void softirq_tick(struct timer_list *t)
{
	int i;

	for (i = 0; i < SLOTS; i++) {
		void *page = xchg(&slots[i], NULL);

		if (page)
			check_and_free(page, &soft_frees);
	}
	if (!READ_ONCE(stop_softirq))
		mod_timer(t, jiffies + 1);
}

static int pool_init(void)
{
	struct labyrinth_params p = { .name = "consumer", .nr_pages = POOL_PAGES };

	EXPECT(labyrinth_init(&pool, &p) == 0);
	EXPECT(labyrinth_page_size(&pool) == PAGE_SIZE);
	return 0;
}

/* Process context: HELD pages, all different and the pool's, then back. */
static int process_context(void)
{
	static void *held[HELD];
	struct labyrinth_stats st;
	int i, j, ret = 0;

	for (i = 0; i < HELD; i++) {
		held[i] = labyrinth_alloc_page(&pool, LAB_GFP_KERNEL);
		EXPECT(held[i] && labyrinth_owns(&pool, held[i]) == 1);
		for (j = 0; j < i; j++)
			EXPECT(held[j] != held[i]);
	}
	EXPECT(labyrinth_stats(&pool, &st) == 0 && st.pages_inuse == HELD);
	for (i = 0; i < HELD; i++)
		ret |= labyrinth_free_page(&pool, held[i]);
	EXPECT(ret == 0);
	EXPECT(labyrinth_stats(&pool, &st) == 0 && st.pages_inuse == 0);
	return 0;
}

/* Hard interrupt allocates, softirq frees, concurrently; then the counts. */
static int interrupts(void)
{
	struct labyrinth_stats st;
	unsigned long deadline;
	int i;

	timer_setup(&softirq, softirq_tick, 0);
	mod_timer(&softirq, jiffies + 1);
	hrtimer_init(&irq, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	irq.function = irq_tick;
	hrtimer_start(&irq, ms_to_ktime(1), HRTIMER_MODE_REL_HARD);
	if (!wait_for_completion_timeout(&irq_done, 60 * HZ))
		hrtimer_cancel(&irq); /* the case fails below: too few ticks */
	/* Let the softirq empty the ring, then stop it and free what is left. */
	deadline = jiffies + 2 * HZ;
	while (atomic_read(&soft_frees) == 0 && time_before(jiffies, deadline))
		msleep(10);
	WRITE_ONCE(stop_softirq, true);
	del_timer_sync(&softirq);
	for (i = 0; i < SLOTS; i++)
		if (slots[i])
			check_and_free(xchg(&slots[i], NULL), &drain_frees);

	printk(KERN_INFO "# hardirq allocations %d (failed %d), softirq frees %d, other frees %d\n",
	       atomic_read(&irq_allocs), atomic_read(&irq_failed),
	       atomic_read(&soft_frees), atomic_read(&drain_frees));
	EXPECT(atomic_read(&irq_ticks) >= TICKS);
	EXPECT(atomic_read(&bad) == 0);
	EXPECT(atomic_read(&irq_failed) == 0); /* SLOTS < POOL_PAGES */
	EXPECT(atomic_read(&soft_frees) > 0);
	EXPECT(atomic_read(&irq_allocs) ==
	       atomic_read(&soft_frees) + atomic_read(&drain_frees));
	EXPECT(labyrinth_stats(&pool, &st) == 0);
	EXPECT(st.allocs == st.frees && st.pages_inuse == 0);
	EXPECT(st.pages_free == POOL_PAGES && st.alloc_failed == 0);
	return 0;
}

/* A double free is refused, counted, and the pool stays as it was. */
static int double_free(void)
{
	struct labyrinth_stats before, after;
	void *page = labyrinth_void_alloc_page_gfp_atomic_exclusive(&pool);

	EXPECT(page);
	EXPECT(labyrinth_free_page(&pool, page) == 0);
	EXPECT(labyrinth_stats(&pool, &before) == 0);
	EXPECT(labyrinth_free_page(&pool, page) == -EALREADY);
	EXPECT(labyrinth_stats(&pool, &after) == 0);
	EXPECT(after.bad_frees == before.bad_frees + 1);
	EXPECT(after.pages_free == before.pages_free && after.frees == before.frees);
	EXPECT(labyrinth_check(&pool) == 0);
	return 0;
}

static int pool_destroy(void)
{
	EXPECT(labyrinth_destroy(&pool) == 0);
	return 0;
}

static const struct {
	const char *name;
	int (*run)(void);
} cases[] = {
	{ "consumer_init", pool_init },
	{ "consumer_process_context", process_context },
	{ "consumer_hardirq_alloc_softirq_free", interrupts },
	{ "consumer_double_free_refused", double_free },
	{ "consumer_destroy", pool_destroy },
};

static int __init consumer_init(void)
{
	int i;

	pr_info("labyrinth_consumer: built against labyrinth %s, running with %s\n",
		LAB_VERSION_STRING, labyrinth_version());
	printk(KERN_INFO "KTAP version 1\n");
	printk(KERN_INFO "1..%zu\n", ARRAY_SIZE(cases));
	for (i = 0; i < ARRAY_SIZE(cases); i++)
		printk(KERN_INFO "%sok %d %s\n", cases[i].run() ? "not " : "", i + 1,
		       cases[i].name);
	return 0;
}

static void __exit consumer_exit(void)
{
	labyrinth_destroy(&pool); /* -EINVAL when the last case destroyed it */
}

module_init(consumer_init);
module_exit(consumer_exit);
MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("labyrinth example: a module using labyrinth.ko from hard and soft interrupts");
