/* SPDX-License-Identifier: MIT */
/*
 * backend.h - the small interface every benchmarked allocator implements.
 *
 * bench.c is compiled once per backend with -DBENCH_BACKEND_HEADER set to
 * one of the backend_*.h files.  Each of them defines, as static (inline)
 * functions, so that nothing but the allocator itself stands between the
 * scenario loop and the allocation:
 *
 *   BK_NAME              "labyrinth", "glibc", ...
 *   BK_SIGNAL_SAFE       1 if get/put may run in a signal handler that
 *                        interrupted a get/put of the same thread
 *   BK_HAS_BULK          1 if bk_get_bulk/bk_put_bulk are real bulk calls
 *                        (otherwise bench.c loops over bk_get/bk_put)
 *
 *   int   bk_init(size_t pages)   once per process, before any thread;
 *                                 0, or -1 after printing why to stderr
 *   void  bk_fini(void)
 *   int   bk_thread_enter(void)   in every thread before its first get
 *   void  bk_thread_leave(void)   in every thread after its last put
 *   void *bk_get(void)            one 4096-byte page (NULL if none)
 *   void  bk_put(void *page)
 *   unsigned bk_get_bulk(void **v, unsigned n)   n pages or 0 (BK_HAS_BULK)
 *   void  bk_put_bulk(void **v, unsigned n)                  (BK_HAS_BULK)
 *
 * A backend may also print "note\t<backend>\t<text>" lines with bk_note().
 */
#ifndef BENCH_BACKEND_H
#define BENCH_BACKEND_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#define BENCH_PAGE 4096u

__attribute__((format(printf, 1, 2), unused))
static void bk_note(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	printf("note\t" BK_NAME "\t");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
	fflush(stdout);
}

#endif
