/* rootless.h: what an instance of a rootless store (store_is_rootless)
 * may ask for, and what the host lets a non-root user give it.
 *
 * Refused, each with the reason in the error:
 *   security.privileged=true            a privileged instance's root is the
 *                                       host's, which the user is not
 *   security.syscalls.intercept.mknod=true
 *                                       the supervisor that answers mknod
 *                                       runs as the user, who may not make
 *                                       device nodes (off by default here)
 *   limits.memory*, limits.cpu*, limits.processes
 *                                       without a cgroup v2 subtree
 *                                       delegated to the user (its own
 *                                       cgroup writable), nothing can
 *                                       apply them
 * Left out with a notice: lxcfs (its mount is root's), /dev/fuse when the
 * user cannot open it. */
#pragma once

#include <stdbool.h>

#include "config.h"
#include "error.h"

/* The first refused key of an expanded configuration c, given whether a
 * cgroup is delegated (pure, for the unit tests). */
int rootless_config_check(const struct confset *c, bool cgroup_delegated, vessel_error **err);

/* Whether the caller's own cgroup v2 cgroup is writable by it (a
 * delegated subtree, as systemd's Delegate=yes gives user@UID.service). */
bool rootless_cgroup_delegated(void);

/* The cgroup v2 directory of the caller (allocated; NULL: none). */
char *rootless_own_cgroup(void);
