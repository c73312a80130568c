/* SPDX-License-Identifier: MIT */
/* The core's <stdint.h> in the kernel: fixed-width types and SIZE_MAX. */
#ifndef LAB_COMPAT_STDINT_H
#define LAB_COMPAT_STDINT_H
#include <linux/types.h>
#include <linux/limits.h>
#endif
