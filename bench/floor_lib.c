/* SPDX-License-Identifier: MIT */
/*
 * floor_lib.c - the floor's slow parts (magazine swaps through the depot),
 * built as a static library (libbenchfloor.a) linked into the benchmark
 * binary; its get and put are inline in floor_lib.h, and the benchmark
 * calls every backend through one non-inlined function (bench.c), so the
 * floor costs one near call per get and per put, like every backend.
 *
 * It used to be a shared library, and then measured 5-10 ns a pair from
 * process to process while the same object linked into the binary measured
 * 2.2-3.5 ns: with the exact same instructions, a call from the executable
 * (mapped at 0x55...) into a shared object (0x7f..., more than 4 GiB away)
 * and the return cost about 1.5 ns each on this machine, and ASLR moved the
 * figure from process to process (stable at ~5.2 ns under `setarch -R`).
 * Neither -fno-plt nor -z now removed it, and an indirect call inside the
 * binary did not cost it.  A floor that pays that tax is no floor; DPDK's
 * mempool, whose get and put are inline in its header, never pays it.
 */
#define _GNU_SOURCE
#include <stdio.h>

#include "floor_lib.h"
/*
 * The floor: the practical limit of a page pool.  Every thread owns a plain
 * LIFO array ("magazine") of pre-faulted page pointers; a get pops a pointer,
 * a put pushes one: no validation, no atomics, no counters.  Only when a
 * thread's array runs dry (get) or full (put) does it swap the array for
 * another one through a depot of atomic slots (one atomic exchange), which
 * is what lets pages travel between threads (producer/consumer scenario).
 *
 * Async-signal-safety: a handler that does a balanced get+put on the
 * interrupted thread's array leaves it exactly as it found it, so the floor
 * is usable from the signal storm.  (The depot swap is not meant to run in a
 * handler; the latency pattern never empties or fills a magazine.)
 */

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static _Atomic(struct floor_mag *) floor_full[FLOOR_SLOTS];  /* n > 0 */
static _Atomic(struct floor_mag *) floor_empty[FLOOR_SLOTS]; /* n == 0 */
__thread struct floor_mag *floor_cur __attribute__((tls_model("initial-exec")));

static struct floor_mag *floor_take(_Atomic(struct floor_mag *) *slots)
{
	for (unsigned i = 0; i < FLOOR_SLOTS; i++)
		if (atomic_load_explicit(&slots[i], memory_order_relaxed)) {
			struct floor_mag *m = atomic_exchange(&slots[i], NULL);
			if (m)
				return m;
		}
	return NULL;
}

static int floor_give(_Atomic(struct floor_mag *) *slots, struct floor_mag *m)
{
	for (unsigned i = 0; i < FLOOR_SLOTS; i++) {
		struct floor_mag *expect = NULL;
		if (atomic_compare_exchange_strong(&slots[i], &expect, m))
			return 0;
	}
	return -1;
}

int floor_init(size_t pages)
{
	size_t nmag = (pages + FLOOR_MAG - 1) / FLOOR_MAG;
	size_t bytes = pages * FLOOR_PAGE;
	char *mem;

	if (nmag + 16 > FLOOR_SLOTS) {
		fprintf(stderr, "bench-floor: too many pages\n");
		return -1;
	}
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (mem == MAP_FAILED) {
		perror("bench-floor: mmap");
		return -1;
	}
	for (size_t i = 0; i < bytes; i += FLOOR_PAGE) /* pre-fault for writing */
		mem[i] = 1;
	(void)mlock(mem, bytes); /* best effort, like the pool it stands for */
	for (size_t m = 0; m < nmag + 16; m++) {
		struct floor_mag *mag = aligned_alloc(64, sizeof(*mag));
		if (!mag)
			return -1;
		memset(mag, 0, sizeof(*mag));
		for (size_t i = m * FLOOR_MAG; i < pages && mag->n < FLOOR_MAG; i++)
			mag->p[mag->n++] = mem + i * FLOOR_PAGE;
		(void)floor_give(mag->n ? floor_full : floor_empty, mag);
	}
	return 0;
}


void floor_thread_leave(void)
{
	struct floor_mag *m = floor_cur;
	floor_cur = NULL;
	if (m)
		(void)floor_give(m->n ? floor_full : floor_empty, m);
}

__attribute__((noinline)) void *floor_refill(void)
{
	struct floor_mag *m = floor_take(floor_full);
	if (!m)
		return NULL;
	if (floor_cur)
		(void)floor_give(floor_cur->n ? floor_full : floor_empty, floor_cur);
	floor_cur = m;
	return m->p[--m->n];
}

__attribute__((noinline)) void floor_spill(void *page)
{
	struct floor_mag *m = floor_take(floor_empty);
	if (!m)
		return; /* cannot happen with the depot sized as in floor_init */
	if (floor_cur)
		(void)floor_give(floor_full, floor_cur);
	floor_cur = m;
	m->p[m->n++] = page;
}
