/* mounts.h: path resolution confined to the rootfs, and the mounts of
 * config.json, attached by file descriptor with the new mount API
 * (fsopen/fsmount/open_tree/move_mount/mount_setattr), so that a symlink
 * in the rootfs cannot redirect a mount outside of it. */
#pragma once

#include <stdbool.h>
#include "resolve.h"
#include "spec.h"

/* An option of a "cgroup"/"cgroup2" mount, vessel's extension: the
 * hierarchy named after it ("vessel.rw=systemd", "vessel.rw=unified")
 * is mounted writable in an otherwise read-only cgroup mount. */
#define CGROUP_MOUNT_RW_OPT "vessel.rw="

struct mount_ctx {
        int rootfd;            /* O_PATH fd of the rootfs */
        const char *bundle;    /* relative bind sources are relative to it */
        bool userns;           /* inside a new user namespace */
        bool cgroupns;         /* inside a new cgroup namespace */
        const int *source_fds; /* per mount: its bind source, prepared by the runtime, or -1 */
};

/* A bind mount: the "bind"/"rbind" option or type. */
bool mount_is_bind(const struct vessel_mount *m);
/* The runtime's half of the bind mounts, before the container exists: per
 * mount a detached clone of its source (open_tree in the host's mount
 * namespace, with the runtime's credentials), idmapped if asked, a slave
 * (or private, as linux.rootfsPropagation) and with its options applied;
 * -1 for other mounts, and for sources that init opens itself (a joined
 * mount namespace, a runtime without privilege).  *fds has n_mounts
 * entries, even on failure; mounts_close_sources() releases it. */
int mounts_prepare_sources(const struct vessel_spec *spec, const char *bundle, int **fds,
                           vessel_error **err);
void mounts_close_sources(int *fds, size_t n);
/* Mount mounts[index] inside ctx->rootfd (init). */
int mount_one(const struct mount_ctx *ctx, const struct vessel_mount *m, size_t index,
              vessel_error **err);

/* Apply MOUNT_ATTR_* to the mount at fd (AT_RECURSIVE when rec). */
int mount_set_attr(int fd, uint64_t set, uint64_t clr, unsigned long propagation, bool rec);
/* Attach a detached mount (an open_tree clone) onto a target fd, with
 * MOUNT_ATTR_* attr_set set on it first. */
int mount_attach_fd(int tree, int targetfd, uint64_t attr_set, vessel_error **err);
/* Bind a host (or already resolved) path onto a target fd. */
int mount_bind_fd(int srcfd_or_dirfd, const char *src, int targetfd, bool recursive,
                  uint64_t attr_set, vessel_error **err);
/* A fresh tmpfs (options "mode=755" etc. as data) onto a target fd. */
int mount_tmpfs_fd(int targetfd, const char *data, uint64_t attr_set, vessel_error **err);
/* Recursively copy a directory tree (tmpcopyup). */
int copy_tree(int srcfd, int dstfd, vessel_error **err);
