/* SPDX-License-Identifier: MIT */
/* The floor's interface (floor_lib.c): a plain per-thread LIFO of pages. */
#ifndef BENCH_FLOOR_LIB_H
#define BENCH_FLOOR_LIB_H

#include <stddef.h>

#define FLOOR_PAGE 4096u

int floor_init(size_t pages);
void floor_thread_leave(void);
void *floor_get(void);
void floor_put(void *page);
unsigned floor_get_bulk(void **v, unsigned n);
void floor_put_bulk(void **v, unsigned n);

#endif
