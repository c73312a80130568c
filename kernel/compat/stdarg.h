/* SPDX-License-Identifier: MIT */
/* The core's <stdarg.h> in the kernel. */
#ifndef LAB_COMPAT_STDARG_H
#define LAB_COMPAT_STDARG_H
#include <linux/stdarg.h>
#endif
