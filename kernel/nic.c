// SPDX-License-Identifier: GPL-2.0 OR MIT
/*
 * nic.c - labyrinth_nic.ko: the seeds' story as a driver-like consumer.
 *
 * A fake NIC: its "interrupt" is an hrtimer in HRTIMER_MODE_HARD (hard
 * interrupt context, also on PREEMPT_RT).  Each interrupt refills an rx
 * ring with pages from labyrinth_void_alloc_page_gfp_atomic_exclusive()
 * and "DMAs" a frame into each, then kicks a tasklet, as a NAPI driver
 * would.  The tasklet (softirq) and one kthread per CPU consume frames:
 * take a page off the ring, verify the frame, free the page.  It reports
 * pages/s and failed allocations and prints KTAP "ok" when no page was
 * lost (the pool ends with every page free, allocs == frees) and none was
 * owned twice (each page's ownership word is claimed with a CAS).
 */
#include <linux/hrtimer.h>
#include <linux/delay.h>
#include <linux/interrupt.h>
#include <linux/kthread.h>
#include <linux/module.h>

#include "labyrinth.h"

static unsigned int duration_ms = 2000;
module_param(duration_ms, uint, 0444);
MODULE_PARM_DESC(duration_ms, "how long the NIC receives");
static unsigned int period_us = 100;
module_param(period_us, uint, 0444);
MODULE_PARM_DESC(period_us, "interrupt period");

#define RING 1024
#define BUDGET 64           /* frames per interrupt at most */
#define POOL_PAGES 512      /* smaller than the ring: the pool can run dry */
#define FRAME_LEN 1500
#define MARK_FREE 0x6c61622d66726565ull
#define OWN_RX    0x5258000000000000ull /* "RX" | sequence number */

static labyrinth_t pool;
static void *ring[RING];
static unsigned int prod;
static u64 seq;
static bool stop;
static struct hrtimer irq;
static struct tasklet_struct napi;
static atomic64_t produced, consumed, failed, ring_full, irqs;
static atomic_t errors;

static void error(const char *what, const void *page)
{
	if (atomic_inc_return(&errors) <= 5)
		pr_info("# %s: page %px\n", what, page);
}

static void write_frame(u64 *w, u64 n)
{
	u8 *payload = (u8 *)(w + 2);
	unsigned int i;

	w[1] = n;
	for (i = 0; i < FRAME_LEN; i++)
		payload[i] = (u8)(n * 31 + i);
}

/* The rx interrupt: refill the ring, one dedicated page per frame. */
static enum hrtimer_restart rx_irq(struct hrtimer *t)
{
	unsigned int budget;

	if (READ_ONCE(stop))
		return HRTIMER_NORESTART;
	if (!in_hardirq())
		error("rx interrupt not in hard interrupt context", NULL);
	atomic64_inc(&irqs);
	for (budget = 0; budget < BUDGET; budget++) {
		void **slot = &ring[prod % RING];
		u64 *page;

		if (READ_ONCE(*slot)) {
			atomic64_inc(&ring_full);
			break;
		}
		page = labyrinth_void_alloc_page_gfp_atomic_exclusive(&pool);
		if (!page) {
			atomic64_inc(&failed);
			break;
		}
		if (cmpxchg64(&page[0], MARK_FREE, OWN_RX | seq) != MARK_FREE) {
			error("page handed out while owned", page);
			break;
		}
		write_frame(page, seq++);
		smp_store_release(slot, page); /* the frame before the slot */
		prod++;
		atomic64_inc(&produced);
	}
	tasklet_schedule(&napi);
	hrtimer_forward_now(t, ns_to_ktime((u64)period_us * NSEC_PER_USEC));
	return HRTIMER_RESTART;
}

static void consume(u64 *page)
{
	u8 *payload = (u8 *)(page + 2);
	u64 n = page[1];
	unsigned int i;

	if (READ_ONCE(page[0]) != (OWN_RX | n))
		error("frame header changed", page);
	for (i = 0; i < FRAME_LEN; i++) {
		if (payload[i] != (u8)(n * 31 + i)) {
			error("frame payload changed", page);
			break;
		}
	}
	WRITE_ONCE(page[0], MARK_FREE);
	if (labyrinth_free_page(&pool, page))
		error("free of a received page failed", page);
	atomic64_inc(&consumed);
}

/* Take whatever frames are on the ring, from start on, at most max. */
static unsigned int poll(unsigned int start, unsigned int max)
{
	unsigned int i, done = 0;

	for (i = 0; i < RING && done < max; i++) {
		void *page = xchg(&ring[(start + i) % RING], NULL);

		if (page) {
			consume(page);
			done++;
		}
	}
	return done;
}

static void napi_poll(struct tasklet_struct *t)
{
	poll(0, BUDGET);
}

struct consumer {
	struct task_struct *task;
	struct completion done;
	unsigned int cpu;
};
static struct consumer consumers[8];

static int consumer_fn(void *arg)
{
	struct consumer *c = arg;

	while (!READ_ONCE(stop)) {
		if (!poll(c->cpu * (RING / 8), 16))
			usleep_range(50, 100);
		cond_resched();
	}
	complete(&c->done);
	return 0;
}

/* Mark every page free once, so that each claim can be checked. */
static int prime(void)
{
	static void *pages[POOL_PAGES];
	int i, got;

	preempt_disable();
	for (got = 0; got < POOL_PAGES; got++) {
		pages[got] = labyrinth_alloc_page(&pool, LAB_GFP_ATOMIC);
		if (!pages[got])
			break;
		*(u64 *)pages[got] = MARK_FREE;
	}
	for (i = 0; i < got; i++)
		labyrinth_free_page(&pool, pages[i]);
	preempt_enable();
	return got == POOL_PAGES ? 0 : -ENOMEM;
}

static int __init nic_init(void)
{
	struct labyrinth_params pr = { .name = "fake-nic-rx", .nr_pages = POOL_PAGES };
	struct labyrinth_stats st;
	unsigned int cpu, n = 0, i;
	u64 t0, ns, rate;
	bool ok;
	int err;

	pr_info("KTAP version 1\n");
	pr_info("1..1\n");
	err = labyrinth_init(&pool, &pr);
	if (!err)
		err = prime();
	if (err) {
		pr_info("# pool: %d\n", err);
		pr_info("not ok 1 fake_nic_rx\n");
		return 0;
	}
	tasklet_setup(&napi, napi_poll);
	for_each_online_cpu(cpu) {
		struct consumer *c = &consumers[n];

		if (n == ARRAY_SIZE(consumers))
			break;
		c->cpu = cpu;
		init_completion(&c->done);
		c->task = kthread_create(consumer_fn, c, "fake-nic-rx/%u", cpu);
		if (IS_ERR(c->task))
			break;
		kthread_bind(c->task, cpu);
		wake_up_process(c->task);
		n++;
	}
	t0 = ktime_get_ns();
	hrtimer_init(&irq, CLOCK_MONOTONIC, HRTIMER_MODE_REL_HARD);
	irq.function = rx_irq;
	hrtimer_start(&irq, ns_to_ktime((u64)period_us * NSEC_PER_USEC), HRTIMER_MODE_REL_HARD);
	msleep(duration_ms);

	WRITE_ONCE(stop, true);
	hrtimer_cancel(&irq);
	tasklet_kill(&napi);
	for (i = 0; i < n; i++)
		wait_for_completion(&consumers[i].done);
	ns = ktime_get_ns() - t0;
	poll(0, RING); /* what is left on the ring */

	rate = div64_u64(atomic64_read(&consumed) * NSEC_PER_SEC, ns ? ns : 1);
	pr_info("# %lld interrupts, %lld frames received and %lld freed in %llu ms: %llu pages/s\n",
		atomic64_read(&irqs), atomic64_read(&produced), atomic64_read(&consumed),
		div_u64(ns, NSEC_PER_MSEC), rate);
	pr_info("# %lld failed allocations (pool dry), %lld times the ring was full, %u consumers + softirq\n",
		atomic64_read(&failed), atomic64_read(&ring_full), n);
	ok = labyrinth_stats(&pool, &st) == 0;
	pr_info("# pool: allocs %llu frees %llu inuse %llu free %llu total %llu\n",
		st.allocs, st.frees, st.pages_inuse, st.pages_free, st.pages_total);
	ok = ok && st.pages_inuse == 0 && st.allocs == st.frees &&
	     st.pages_free == POOL_PAGES && st.bad_frees == 0 &&
	     st.allocs == (u64)atomic64_read(&produced) + POOL_PAGES && /* + prime() */
	     atomic64_read(&produced) == atomic64_read(&consumed) &&
	     atomic64_read(&produced) > 0 && atomic_read(&errors) == 0 &&
	     labyrinth_check(&pool) == 0 && labyrinth_destroy(&pool) == 0;
	pr_info("%sok 1 fake_nic_rx\n", ok ? "" : "not ");
	return 0;
}

static void __exit nic_exit(void)
{
}

module_init(nic_init);
module_exit(nic_exit);
MODULE_LICENSE("Dual MIT/GPL");
MODULE_DESCRIPTION("labyrinth fake NIC: rx ring refilled from a hard interrupt");
