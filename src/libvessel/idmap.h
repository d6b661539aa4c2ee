/* idmap.h: user namespace id maps. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include "spec.h"

/* Format maps as the kernel wants them ("cid hid size\n" per range).
 * Returns a malloc'd string. */
char *idmap_format(const struct vessel_idmap *m, size_t n);
/* Map a container id to the host; returns -1 when unmapped. */
int64_t idmap_to_host(const struct vessel_idmap *m, size_t n, uint32_t id);
/* Check ranges for overlaps (pure).  'what' names the field in errors. */
int idmap_validate(const struct vessel_idmap *m, size_t n, const char *what, vessel_error **err);
/* A user namespace holding these maps, for idmapped mounts: an fd of it
 * (its only process, a short-lived helper, is gone when this returns). */
int idmap_userns_fd(const struct vessel_idmap *uids, size_t nu, const struct vessel_idmap *gids,
                    size_t ng, vessel_error **err);
/* Write /proc/<pid>/{setgroups,uid_map,gid_map}.  When the caller is not
 * root, maps through newuidmap/newgidmap unless the map is the caller's own
 * id only. */
int idmap_write(pid_t pid, const struct vessel_linux *lx, vessel_error **err);
/* In an /etc/subuid or /etc/subgid text, the first range of the user
 * called name or numbered id: 0, or -ENOENT. */
int idmap_subid_find(const char *text, const char *name, uint32_t id, uint32_t *start, uint32_t *count);
/* A new user namespace without uidMappings/gidMappings, as crun does: the
 * caller's own id as root of the container, and the caller's subordinate
 * range (from /etc/subuid, /etc/subgid) from id 1 on, when it has one. */
void idmap_default(struct vessel_linux *lx);

/* The annotation that asks for the user namespace to be created by the
 * host ids its root maps to ("mapped-root"), not by the runtime's root:
 * the kernel charges per-user counts of the host (inotify instances and
 * watches, user namespaces, ...) to a user namespace's owner, so
 * containers made by one root would share them.  Only for a new user
 * namespace made by a root runtime, with no namespace joined by path. */
#define USERNS_OWNER_ANNOTATION "io.github.vessel.userns.owner"

/* 1 with *uid, *gid when spec asks for it, 0 when not, or an error. */
int idmap_userns_owner(const struct vessel_spec *spec, int *uid, int *gid, vessel_error **err);
