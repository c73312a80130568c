/* SPDX-License-Identifier: MIT */
/* The floor's interface (floor_lib.c): a plain per-thread LIFO of pages. */
#ifndef BENCH_FLOOR_LIB_H
#define BENCH_FLOOR_LIB_H

#include <stddef.h>
#include <string.h>

#define FLOOR_PAGE 4096u

#ifndef FLOOR_MAG
#define FLOOR_MAG 2048u /* pointers per magazine (>= 1500 latency burst) */
#endif
#define FLOOR_SLOTS 64u /* depot slots of each kind */

/* cache-line aligned and padded: no false sharing between threads' arrays */
struct floor_mag {
	_Alignas(64) unsigned n;
	void *p[FLOOR_MAG];
	char pad[64];
};

extern __thread struct floor_mag *floor_cur __attribute__((tls_model("initial-exec")));
void *floor_refill(void);
void floor_spill(void *page);

int floor_init(size_t pages);
void floor_thread_leave(void);

/* get and put: a pop or a push on this thread's magazine, inline. */
static inline void *floor_get(void)
{
	struct floor_mag *m = floor_cur;
	if (__builtin_expect(m != NULL && m->n != 0, 1))
		return m->p[--m->n];
	return floor_refill();
}

static inline void floor_put(void *page)
{
	struct floor_mag *m = floor_cur;
	if (__builtin_expect(m != NULL && m->n < FLOOR_MAG, 1)) {
		m->p[m->n++] = page;
		return;
	}
	floor_spill(page);
}

static inline unsigned floor_get_bulk(void **v, unsigned n)
{
	struct floor_mag *m = floor_cur;
	if (__builtin_expect(m != NULL && m->n >= n, 1)) {
		m->n -= n;
		memcpy(v, &m->p[m->n], n * sizeof(void *));
		return n;
	}
	for (unsigned i = 0; i < n; i++)
		if (!(v[i] = floor_get())) {
			while (i--)
				floor_put(v[i]);
			return 0;
		}
	return n;
}

static inline void floor_put_bulk(void **v, unsigned n)
{
	struct floor_mag *m = floor_cur;
	if (__builtin_expect(m != NULL && m->n + n <= FLOOR_MAG, 1)) {
		memcpy(&m->p[m->n], v, n * sizeof(void *));
		m->n += n;
		return;
	}
	for (unsigned i = 0; i < n; i++)
		floor_put(v[i]);
}

#endif
