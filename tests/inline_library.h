/* SPDX-License-Identifier: MIT */
/* t_inline: calls that go into the library every time (inline_library.c). */
#ifndef LAB_TEST_INLINE_LIBRARY_H
#define LAB_TEST_INLINE_LIBRARY_H

extern int lib_inline_macros; /* 1 if that file saw the inline macros */
void *lib_alloc(labyrinth_t *lab, lab_gfp_t gfp);
void *lib_alloc_atomic(labyrinth_t *lab);
int lib_free(labyrinth_t *lab, void *page);
int lib_free_pages(labyrinth_t *lab, void *page, unsigned int order);
unsigned int lib_alloc_bulk(labyrinth_t *lab, lab_gfp_t gfp, void **pages, unsigned int n);
unsigned int lib_free_bulk(labyrinth_t *lab, void **pages, unsigned int n);

#endif
