/* SPDX-License-Identifier: MIT */
/* The core's <stddef.h> in the kernel (built with -nostdinc): the kernel's. */
#ifndef LAB_COMPAT_STDDEF_H
#define LAB_COMPAT_STDDEF_H
#include <linux/stddef.h>
#include <linux/types.h>
#endif
