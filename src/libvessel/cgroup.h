/* cgroup.h: one cgroup manager for the three layouts a host can have:
 * v1 (one hierarchy per controller), hybrid (v1 controllers plus a cgroup2
 * mount at /sys/fs/cgroup/unified) and v2 (unified).  The back ends live in
 * cgroup-v1.c and cgroup-v2.c, device rules on v2 in cgroup-bpf.c.
 *
 * The container sequence uses it like this (container.c):
 *   cgroup_validate(spec)                    before anything is created
 *   cgroup_create(spec, id, manager, &cg)    create + apply resources
 *   clone3(CLONE_INTO_CGROUP, cgroup_clone_fd(cg)) on v2, else
 *   cgroup_enter(cg, pid)                    before init runs anything
 *   state.json keeps cgroup_state_path(cg); later commands reopen it with
 *   cgroup_open(); delete calls cgroup_destroy(). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

enum cgroup_layout {
        CGROUP_LAYOUT_NONE,   /* no cgroup file system at all */
        CGROUP_LAYOUT_V1,
        CGROUP_LAYOUT_HYBRID,
        CGROUP_LAYOUT_V2,
};

struct vessel_cgroup; /* opaque */

int cgroup_detect(enum cgroup_layout *out, vessel_error **err);
const char *cgroup_layout_name(enum cgroup_layout l);

/* Check linux.cgroupsPath and linux.resources without touching anything. */
int cgroup_validate(const struct vessel_spec *spec, vessel_error **err);

/* manager: "cgroupfs" (default when NULL) or "disabled" (returns a handle
 * that does nothing). */
int cgroup_create(const struct vessel_spec *spec, const char *id, const char *manager,
                  struct vessel_cgroup **out, vessel_error **err);
/* An O_DIRECTORY fd of the v2 cgroup for CLONE_INTO_CGROUP, or -1. */
int cgroup_clone_fd(const struct vessel_cgroup *cg);
/* Move pid into the container's cgroup(s) (all v1 hierarchies; v2). */
int cgroup_enter(const struct vessel_cgroup *cg, pid_t pid, vessel_error **err);
/* What state.json stores to find the cgroup again (malloc'd, may be NULL). */
char *cgroup_state_path(const struct vessel_cgroup *cg);
int cgroup_open(const char *state_path, struct vessel_cgroup **out, vessel_error **err);
/* Thaw, kill what is left, remove every cgroup created, retrying while busy. */
int cgroup_destroy(struct vessel_cgroup *cg, vessel_error **err);
void cgroup_free(struct vessel_cgroup *cg);

/* Every pid in the container's cgroup (v2: cgroup.procs, v1: the pids or
 * freezer hierarchy). */
int cgroup_pids(const struct vessel_cgroup *cg, pid_t **pids, size_t *n, vessel_error **err);
int cgroup_kill_all(const struct vessel_cgroup *cg, int sig, vessel_error **err);
int cgroup_freeze(const struct vessel_cgroup *cg, bool freeze, vessel_error **err);
/* 1 frozen, 0 not, negative on error. */
int cgroup_is_frozen(const struct vessel_cgroup *cg);
int cgroup_update(const struct vessel_cgroup *cg, const struct vessel_resources *r,
                  vessel_error **err);
/* runc's `events --stats` JSON object (malloc'd). */
int cgroup_stats_json(const struct vessel_cgroup *cg, char **json, vessel_error **err);
