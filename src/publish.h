/* SPDX-License-Identifier: MIT */
/*
 * publish.h - LABYRINTH_STATS=1: pools' statistics readable from outside
 * the process (publish.c); beside watch.h, a service of the floor above
 * the platform, called by pool.c at init, destroy and fork.
 */
#ifndef LAB_PUBLISH_H
#define LAB_PUBLISH_H

#include "watch.h"

LAB_HIDDEN void lab_publish_add(struct lab_pool *p);
LAB_HIDDEN void lab_publish_remove(struct lab_pool *p);
LAB_HIDDEN void lab_publish_fork_child(void);

#endif /* LAB_PUBLISH_H */
