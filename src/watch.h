/* SPDX-License-Identifier: MIT */
/*
 * watch.h - the futex lock, waking LAB_GFP_KERNEL sleepers, and low-watermark
 * watches (watch.c): the layer above the platform.
 */
#ifndef LAB_WATCH_H
#define LAB_WATCH_H

#include "internal.h"

LAB_HIDDEN void lab_futex_lock(uint32_t *word);
LAB_HIDDEN void lab_futex_unlock(uint32_t *word);
LAB_HIDDEN void lab_slow_lock(struct lab_pool *p);
LAB_HIDDEN void lab_slow_unlock(struct lab_pool *p);
LAB_HIDDEN void lab_wake_waiters(struct lab_pool *p);
LAB_HIDDEN void lab_watch_crossed(struct lab_pool *p, uint32_t before, uint32_t after);
LAB_HIDDEN void lab_watch_close_all(struct lab_pool *p);

#endif /* LAB_WATCH_H */
