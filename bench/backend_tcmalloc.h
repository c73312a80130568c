/* SPDX-License-Identifier: MIT */
/* tcmalloc (gperftools, -ltcmalloc_minimal replaces malloc):
 * aligned_alloc(4096, 4096) / free. */
#define BK_NAME "tcmalloc"
#define BK_SIGNAL_SAFE 0
#define BK_HAS_BULK 0
#include "backend.h"

#include <stdlib.h>
#include <gperftools/malloc_extension_c.h>
#include <gperftools/tcmalloc.h>

static int bk_init(size_t pages)
{
	int major = 0, minor = 0;
	const char *patch = "";
	size_t v = 0;

	(void)pages;
	/* fails unless tcmalloc is the malloc in use */
	if (!MallocExtension_GetNumericProperty("generic.heap_size", &v)) {
		fprintf(stderr, "bench-tcmalloc: tcmalloc is not the malloc in use\n");
		return -1;
	}
	bk_note("%s", tc_version(&major, &minor, &patch));
	return 0;
}
#include "backend_malloc.h"
