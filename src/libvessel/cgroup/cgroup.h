/* cgroup.h: one cgroup manager for the three layouts a host can have:
 * v1 (one hierarchy per controller), hybrid (v1 controllers plus a cgroup2
 * mount at /sys/fs/cgroup/unified) and v2 (unified).  The back ends live in
 * cgroup-v1.c and cgroup-v2.c, device rules on v2 in cgroup-bpf.c.
 *
 * The container sequence uses it like this (container.c):
 *   cgroup_validate(spec)                    before anything is created
 *   cgroup_plan(spec, id, manager, &cg)      the path, nothing made yet
 *   cgroup_state_path(cg) into state.json    so a killed create is found
 *   cgroup_make(cg, spec)                    create + apply resources
 *   cgroup_apply_devices(cg, spec)           once init has made /dev
 *   clone3(CLONE_INTO_CGROUP, cgroup_clone_fd(cg)) on v2, else
 *   cgroup_enter(cg, pid)                    before init runs anything
 *   state.json keeps cgroup_state_path(cg); later commands reopen it with
 *   cgroup_open(); delete calls cgroup_destroy().
 *
 * Paths: linux.cgroupsPath is below the root of every hierarchy ("/a/b" and
 * "a/b" alike), "vessel/<id>" when absent (cgroup-values.h).  On v1 and
 * hybrid hosts the container gets a cgroup in every hierarchy, cgroup2 and
 * name=systemd included; each controller's resources go to the hierarchy
 * that has it, so a hybrid host's cgroup2-only controllers (hugetlb) work.
 * Only what create made is removed by destroy, counted per hierarchy (a
 * parent may be someone else's in one hierarchy and vessel's in another).
 *
 * Rootless (a non-root caller with cgroup2): the container's cgroup goes
 * below the subtree delegated to the caller (the topmost writable cgroup
 * above its own, as systemd's user@UID.service), in cgroup2 only; a
 * relative cgroupsPath (and the default) is taken below it, an absolute one
 * must lie in it.  Without a delegated subtree cgroup_make fails with
 * -EACCES and cgroup_rootless_undelegated() says so. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

enum cgroup_layout {
        CGROUP_LAYOUT_NONE, /* no cgroup file system at all */
        CGROUP_LAYOUT_V1,
        CGROUP_LAYOUT_HYBRID,
        CGROUP_LAYOUT_V2,
};

struct vessel_cgroup; /* opaque */

int cgroup_detect(enum cgroup_layout *out, vessel_error **err);
const char *cgroup_layout_name(enum cgroup_layout l);

/* Check linux.cgroupsPath and linux.resources without touching anything. */
int cgroup_validate(const struct vessel_spec *spec, vessel_error **err);

/* Where the container's cgroup goes, with nothing made yet; its
 * cgroup_state_path() already names everything cgroup_make will create.
 * manager: "cgroupfs" (default when NULL) or "disabled" (returns a handle
 * that does nothing). */
int cgroup_plan(const struct vessel_spec *spec, const char *id, const char *manager,
                struct vessel_cgroup **out, vessel_error **err);
/* Create the planned cgroups and apply the resources; on failure removes
 * what it made and leaves a handle that does nothing. */
int cgroup_make(struct vessel_cgroup *cg, const struct vessel_spec *spec, vessel_error **err);
/* A non-root caller has no cgroup subtree delegated to it: a cgroup_make
 * -EACCES/-EPERM then means "run without limits", with a warning. */
bool cgroup_rootless_undelegated(void);
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
/* The same for the cgroup a state.json names, opening only the freezer's
 * hierarchy: 1 frozen, 0 not (or no such cgroup). */
int cgroup_path_is_frozen(const char *state_path);
int cgroup_update(const struct vessel_cgroup *cg, const struct vessel_resources *r,
                  vessel_error **err);
/* The device rules of a new container: OCI's defaults, then the config's
 * (cgroup-values.h).  Not applied by cgroup_create: the runtime applies
 * them once init has made the device nodes (a config that denies mknod
 * must not keep the runtime from making /dev/null) and before any hook or
 * process of the container runs, as runc. */
int cgroup_apply_devices(const struct vessel_cgroup *cg, const struct vessel_spec *spec,
                         vessel_error **err);
/* runc's `events --stats` "data" object (malloc'd JSON): cpu, cpuset,
 * memory (usage, swap, kernel, kernelTCP, raw, cache, usageWithoutCache),
 * pids, blkio, hugetlb. */
int cgroup_stats_json(const struct vessel_cgroup *cg, char **json, vessel_error **err);

/* ---- added with the implementation ---- */

/* exec: move pid into the container's cgroup, or with sub into a
 * sub-cgroup that exists below it, as runc's exec --cgroup: "PATH" in
 * every hierarchy, or "CONTROLLER[,CONTROLLER]:PATH" in those hierarchies
 * (the container's own cgroup in the others). */
int cgroup_enter_sub(const struct vessel_cgroup *cg, pid_t pid, const char *sub,
                     vessel_error **err);

/* The same from state.json's cgroup path (NULL: no cgroup), for exec. */
int cgroup_join(const char *state_path, pid_t pid, const char *sub, vessel_error **err);

/* The annotation that puts init (and the cgroup namespace's root) in a
 * child of the container's cgroup, whose name is its value, in the
 * hierarchies that may be given to the container writable: cgroup2,
 * name=systemd and the v1 accounting controllers (cgroup-inner.c,
 * docs/cgroups.md). */
#define CGROUP_INNER_ANNOTATION "io.github.vessel.cgroup.inner"

/* exec without --cgroup: cgroup_join, but into the inner cgroup where the
 * container has one (inner: the annotation's value, or NULL), and on
 * cgroup2 into init's own cgroup when the target gave its controllers to
 * its children (an init such as systemd moved itself below its root). */
int cgroup_join_exec(const char *state_path, pid_t pid, const char *sub, const char *inner,
                     pid_t init, vessel_error **err);

/* --cgroup-manager disabled, or no handle at all. */
bool cgroup_is_disabled(const struct vessel_cgroup *cg);
/* The linux.resources part of cgroup_validate(), for `update`. */
int cgroup_validate_resources(const struct vessel_resources *r, vessel_error **err);

/* OOM events of the container's memory cgroup (v1: an eventfd on
 * memory.oom_control; v2: inotify on memory.events, counting oom_kill).
 * Poll the fd for POLLIN, then check() returns how many OOMs happened since
 * the last call.  The watch borrows cg: free it first. */
struct cgroup_oom_watch;
int cgroup_oom_watch_open(const struct vessel_cgroup *cg, struct cgroup_oom_watch **out,
                          vessel_error **err);
int cgroup_oom_watch_fd(const struct cgroup_oom_watch *w);
int cgroup_oom_watch_check(struct cgroup_oom_watch *w);
void cgroup_oom_watch_free(struct cgroup_oom_watch *w);

/* The cgroup hierarchies as the calling process sees them, for the
 * "cgroup" mount inside a container (mounts.c). */
struct cgroup_mount {
        char *name; /* under /sys/fs/cgroup ("memory", "unified"); "" for v2 at the root */
        char *mountpoint;
        bool v2;
        char **options; /* v1: the controllers and name=..., NULL-terminated */
        char *own;      /* the caller's cgroup in it, relative to the mount ("vessel/c1", "") */
};
int cgroup_mounts_self(struct cgroup_mount **out, size_t *n, vessel_error **err);
void cgroup_mounts_free(struct cgroup_mount *m, size_t n);
