/* SPDX-License-Identifier: MIT */
/*
 * The other half of t_inline: compiled with LABYRINTH_NO_INLINE, so every
 * call here goes into the shared library, as it does for a program built
 * that way (or through a function pointer, or from another language).
 */
#ifndef LABYRINTH_NO_INLINE
#error "built with -DLABYRINTH_NO_INLINE (tests/CMakeLists.txt)"
#endif
#include <labyrinth.h>

#include "inline_library.h"

#ifdef labyrinth_alloc_page
int lib_inline_macros = 1;
#else
int lib_inline_macros = 0;
#endif

void *lib_alloc(labyrinth_t *lab, lab_gfp_t gfp)
{
	return labyrinth_alloc_page(lab, gfp);
}

void *lib_alloc_atomic(labyrinth_t *lab)
{
	return labyrinth_void_alloc_page_gfp_atomic_exclusive(lab);
}

int lib_free(labyrinth_t *lab, void *page)
{
	return labyrinth_free_page(lab, page);
}

int lib_free_pages(labyrinth_t *lab, void *page, unsigned int order)
{
	return labyrinth_free_pages(lab, page, order);
}

unsigned int lib_alloc_bulk(labyrinth_t *lab, lab_gfp_t gfp, void **pages, unsigned int n)
{
	return labyrinth_alloc_bulk(lab, gfp, pages, n);
}

unsigned int lib_free_bulk(labyrinth_t *lab, void **pages, unsigned int n)
{
	return labyrinth_free_bulk(lab, pages, n);
}
