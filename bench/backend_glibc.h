/* SPDX-License-Identifier: MIT */
/* glibc malloc: aligned_alloc(4096, 4096) / free. */
#define BK_NAME "glibc"
#define BK_SIGNAL_SAFE 0
#define BK_HAS_BULK 0
#include "backend.h"

#include <gnu/libc-version.h>
#include <stdlib.h>

static int bk_init(size_t pages)
{
	(void)pages;
	bk_note("glibc %s", gnu_get_libc_version());
	return 0;
}
#include "backend_malloc.h"
