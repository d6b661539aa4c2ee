/* rootfs.h: the container's root: propagation, the rootfs bind mount,
 * masked and read-only paths, and entering it with pivot_root. */
#pragma once

#include <stdbool.h>
#include "spec.h"

/* The annotation that asks for the rootfs to be idmapped through the
 * container's user namespace ("true"): files owned by host root show as
 * owned by the container's root, with no chown of the tree. */
#define ROOTFS_IDMAP_ANNOTATION "io.github.vessel.rootfs.idmap"

/* The runtime's half, before the container exists (idmapping takes
 * privilege over the rootfs's file system, which init in its user
 * namespace lacks, and the path may not be traversable by init): *out is
 * a detached clone of the rootfs, idmapped when the annotation asks, for
 * a container with a user namespace; else -1. */
int rootfs_prepare_idmap(const struct vessel_spec *spec, const char *rootfs, int *out,
                         vessel_error **err);
/* Make the mount tree a slave of the host (or what rootfsPropagation asks)
 * and bind the rootfs onto itself, or attach idmapped (the clone above,
 * or -1).  Returns an O_PATH fd of the new root. */
int rootfs_prepare(const struct vessel_spec *spec, const char *rootfs, int idmapped,
                   vessel_error **err);
/* Create process.cwd, then apply maskedPaths, readonlyPaths and
 * root.readonly, all resolved inside rootfd. */
int rootfs_protect(int rootfd, const struct vessel_spec *spec, vessel_error **err);
/* Enter the root: pivot_root, or MS_MOVE + chroot with no_pivot. */
int rootfs_enter(int rootfd, const char *rootfs, bool no_pivot, unsigned long propagation,
                 vessel_error **err);
/* linux.sysctl against the rest of the config, before anything is made:
 * kernel.hostname/kernel.domainname conflict with "hostname"/"domainname". */
int sysctl_validate(const struct vessel_spec *spec, vessel_error **err);
/* Write linux.sysctl through /proc/sys. */
int sysctl_apply(const struct vessel_spec *spec, vessel_error **err);
