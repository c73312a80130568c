/* SPDX-License-Identifier: MIT */
/* The core's <stdbool.h> in the kernel: bool, true and false. */
#ifndef LAB_COMPAT_STDBOOL_H
#define LAB_COMPAT_STDBOOL_H
#include <linux/stddef.h>
#include <linux/types.h>
#endif
