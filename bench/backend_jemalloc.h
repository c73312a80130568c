/* SPDX-License-Identifier: MIT */
/* jemalloc: Debian's libjemalloc has no prefix, so linking -ljemalloc
 * replaces malloc; aligned_alloc(4096, 4096) / free then are jemalloc's.
 * mallctl("version") proves that at start-up. */
#define BK_NAME "jemalloc"
#define BK_SIGNAL_SAFE 0
#define BK_HAS_BULK 0
#include "backend.h"

#include <stdlib.h>
#include <jemalloc/jemalloc.h>

static int bk_init(size_t pages)
{
	const char *v = NULL;
	size_t len = sizeof(v);

	(void)pages;
	if (mallctl("version", (void *)&v, &len, NULL, 0) != 0 || !v) {
		fprintf(stderr, "bench-jemalloc: jemalloc is not the malloc in use\n");
		return -1;
	}
	bk_note("jemalloc %s", v);
	return 0;
}
#include "backend_malloc.h"
