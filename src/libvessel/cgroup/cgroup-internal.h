/* cgroup-internal.h: what cgroup.c shares with its two back ends.
 *
 * A host has one or more cgroup hierarchies: one per v1 mount (each with
 * one or more controllers, or none for a named hierarchy such as
 * name=systemd) and at most one cgroup2 mount.  Every kernel controller is
 * bound to exactly one of them, so a resource is applied by finding the
 * hierarchy of its controller and calling that hierarchy's back end (v1 or
 * v2).  The three layouts fall out of this: v1 has no cgroup2 hierarchy, v2
 * has nothing else, hybrid has both, and a controller listed in the hybrid
 * host's cgroup2 (such as hugetlb) is simply served by the v2 back end. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <json-c/json.h>

#include "cgroup.h"
#include "cgroup-values.h"

enum cg_ctrl {
        CG_CPU,
        CG_CPUACCT, /* v2: cpu.stat, present in every cgroup */
        CG_CPUSET,
        CG_MEMORY,
        CG_DEVICES, /* v2: an eBPF program, available on every cgroup */
        CG_FREEZER, /* v2: cgroup.freeze */
        CG_BLKIO,   /* v2: io */
        CG_PIDS,
        CG_HUGETLB,
        CG_NET_CLS,  /* v1 only */
        CG_NET_PRIO, /* v1 only */
        CG_RDMA,
        CG_MISC,
        CG_COUNT
};

#define CG_BIT(c) (1u << (c))
/* What every cgroup2 directory offers without enabling a controller. */
#define CG_V2_CORE (CG_BIT(CG_CPUACCT) | CG_BIT(CG_DEVICES) | CG_BIT(CG_FREEZER))

/* v1 name of a controller ("blkio"), NULL past the end. */
const char *cg_ctrl_v1_name(enum cg_ctrl c);
/* v2 name of a controller ("io"), NULL when it has none (core or v1 only). */
const char *cg_ctrl_v2_name(enum cg_ctrl c);

struct cg_hier {
        char *mountpoint; /* /sys/fs/cgroup/memory, /sys/fs/cgroup */
        char *name;       /* basename of the mount point; "" for a v2 root */
        char **options;   /* v1: controllers and name=..., to mount it again */
        char *mnt_root;   /* mountinfo field 4: the cgroup the mount shows as its root */
        bool v2;
        uint32_t mask; /* CG_BIT()s served here */
        int fd;        /* the container's cgroup in it, -1 when absent */
        char *dir;     /* mountpoint/path, for messages */
        /* Trailing components of the container's path that create made in
         * this hierarchy (planned: will make), so delete removes them here
         * and nowhere else: a parent can be someone else's in one hierarchy
         * and vessel's in another.  A default path counts 2 (vessel/<id>). */
        int owned;
};

/* The parents of the container's cgroup in h that are vessel's own (made
 * by create, or vessel/ of default paths): the ones it may write to. */
static inline int cg_own_parents(const struct cg_hier *h)
{
        return h->owned > 1 ? h->owned - 1 : 0;
}

struct vessel_cgroup {
        enum cgroup_layout layout;
        bool disabled;
        char *path;    /* relative to each hierarchy's root, no leading '/' */
        bool own_leaf; /* the default path (vessel/<id>): a leftover leaf is ours */
        struct cg_hier *h;
        size_t n_h;
        struct cg_hier *unified; /* into h[], or NULL */
        bool rootless;           /* a non-root caller (no device rules, delegated subtree) */
        char *deleg;   /* create, rootless: the delegation root in cgroup2, relative to its mount */
        char *inner;   /* CGROUP_INNER_ANNOTATION, or NULL (cgroup-inner.c) */
        int *inner_fd; /* per hierarchy: init's cgroup below the container's, or -1 */
        int64_t inner_uid, inner_gid; /* user namespace: the host ids of its root, who gets the
                                         inner cgroup (-1: none) */
};

/* One write(2) of val to dirfd's file; negative errno. */
int cg_write_at(int dirfd, const char *file, const char *val);

/* cgroup-inner.c: init one level below the container's cgroup. */
int cg_inner_validate(const struct vessel_spec *spec, vessel_error **err);
/* The hierarchies that take the inner cgroup (cgroup2, named, and the
 * v1 accounting controllers). */
bool cg_hier_takes_inner(const struct cg_hier *h);
void cg_inner_plan(struct vessel_cgroup *cg, const struct vessel_spec *spec);
/* Made once the resources are applied (create), so nothing but the
 * container's cgroup gets them. */
int cg_inner_make(struct vessel_cgroup *cg, vessel_error **err);
/* Where init goes in hierarchy i: the inner cgroup, else the container's. */
int cg_inner_fd(const struct vessel_cgroup *cg, size_t i);
void cg_inner_free(struct vessel_cgroup *cg);

/* Read the cgroup mounts of this mount namespace (under /sys/fs/cgroup). */
int cg_hiers_read(struct cg_hier **out, size_t *n, enum cgroup_layout *layout, vessel_error **err);
void cg_hiers_free(struct cg_hier *h, size_t n);
/* The hierarchy serving c for this container (with an open fd), or NULL. */
struct cg_hier *cg_hier_of(const struct vessel_cgroup *cg, enum cg_ctrl c);

/* File access relative to a hierarchy's container cgroup (h->fd).  Errors
 * name the full path; 'what' (a JSON path such as
 * "linux.resources.memory.limit", or NULL) prefixes them. */
bool cg_has(const struct cg_hier *h, const char *file);
int cg_write(const struct cg_hier *h, const char *what, const char *file, const char *val,
             vessel_error **err);
int cg_writef(const struct cg_hier *h, const char *what, const char *file, vessel_error **err,
              const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* linux.resources.cpu.cpus and .mems: the same cpuset files on v1 and v2. */
int cg_write_cpuset(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err);
/* linux.resources.hugepageLimits: "hugetlb.<size>.<suffix>" per page size
 * (v1: limit_in_bytes, v2: max). */
int cg_write_hugetlb(const struct cg_hier *h, const struct vessel_resources *r, const char *suffix,
                     vessel_error **err);
/* Malloc'd contents, trailing newline removed. */
int cg_read(const struct cg_hier *h, const char *file, char **out, vessel_error **err);
/* A number, or "max" (UINT64_MAX); -errno when absent or unparsable. */
int cg_read_u64(const struct cg_hier *h, const char *file, uint64_t *out);
/* The value of "key N" in a flat keyed file (memory.stat, cpu.stat...). */
int cg_read_key(const struct cg_hier *h, const char *file, const char *key, uint64_t *out);
/* An error for a resource that this hierarchy cannot express. */
int cg_unsupported(const struct cg_hier *h, const char *what, const char *file, vessel_error **err);

/* One back end: v1 (cgroup-v1.c) or v2 (cgroup-v2.c).  Resource setters
 * apply what r sets for their controller and leave the rest alone. */
typedef int (*cg_setter)(const struct cg_hier *h, const struct vessel_resources *r,
                         vessel_error **err);
struct cg_backend {
        cg_setter cpuset, memory, cpu, pids, blkio, hugetlb, network, rdma;
        int (*devices)(const struct cg_hier *h, const struct cgroup_dev_rule *rules, size_t n,
                       vessel_error **err);
        /* One linux.resources.unified entry. */
        int (*unified)(const struct cg_hier *h, const char *key, const char *value,
                       vessel_error **err);
        int (*freeze)(const struct cg_hier *h, bool freeze, vessel_error **err);
        int (*is_frozen)(const struct cg_hier *h);
        /* Stats into runc's objects; a missing file leaves a field out. */
        void (*stats_cpu)(const struct cg_hier *acct, const struct cg_hier *cpu, json_object *o);
        void (*stats_memory)(const struct cg_hier *h, json_object *o);
        void (*stats_pids)(const struct cg_hier *h, json_object *o);
        void (*stats_blkio)(const struct cg_hier *h, json_object *o);
        void (*stats_hugetlb)(const struct cg_hier *h, json_object *o);
        /* OOM notification: an fd to poll (POLLIN) and a counter of events. */
        int (*oom_open)(const struct cg_hier *h, int *fd, vessel_error **err);
        int (*oom_count)(const struct cg_hier *h, int fd, uint64_t *count);
};

extern const struct cg_backend cg_v1_backend, cg_v2_backend;

/* Setters with the same files on v1 and v2 (pids.max, rdma.max). */
int cg_pids_set(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err);
int cg_rdma_set(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err);

static inline const struct cg_backend *cg_backend(const struct cg_hier *h)
{
        return h->v2 ? &cg_v2_backend : &cg_v1_backend;
}

/* v2: enable the controllers of 'want' (CG_BIT()s that have a v2 name) in
 * dirfd's cgroup.subtree_control; those of 'need' must succeed, the others
 * are best effort.  dir names dirfd in errors. */
int cg_v2_enable_at(int dirfd, const char *dir, uint32_t want, uint32_t need, vessel_error **err);
/* ... in every cgroup from the root of cgroup2 down to the container's parent. */
int cg_v2_enable_path(const struct vessel_cgroup *cg, uint32_t need, vessel_error **err);
/* v2, rootless: every controller of need must be listed in dirfd's
 * cgroup.controllers (else it was not delegated to the caller). */
int cg_v2_check_delegated(int dirfd, const char *dir, uint32_t need, vessel_error **err);
/* The v2 controllers that r needs (CG_BIT()s). */
uint32_t cg_v2_needed(const struct vessel_resources *r);
/* Apply r: everything it sets; with 'devices', the device rules it gives
 * (update).  At create the device rules come later, from
 * cgroup_apply_devices(). */
int cg_apply(const struct vessel_cgroup *cg, const struct vessel_resources *r, bool devices,
             vessel_error **err);
/* v1: give the container the real-time budget runtime per period,
 * raising vessel's own parents to fit it (cgroup-v1-rt.c). */
int cg_v1_rt_fit(const struct cg_hier *h, uint64_t period, int64_t runtime, vessel_error **err);
/* v1 cpuset: a new cpuset is empty; copy cpus and mems from its parent. */
int cg_v1_cpuset_init(int parentfd, int fd, const char *dir, vessel_error **err);

/* The stats "data" object (cgroup-stats.c). */
json_object *cg_stats_object(const struct vessel_cgroup *cg);

/* Shared by both back ends for their stats. */
void cg_json_u64(json_object *o, const char *key, uint64_t v);
json_object *cg_json_child(json_object *o, const char *key);
/* "key value" lines into an object of numbers (memory.stat -> raw). */
json_object *cg_json_flat_keyed(const char *text);
/* A number file, 0 when it is missing or unreadable. */
uint64_t cg_read_or_zero(const struct cg_hier *h, const char *file);
/* The huge page sizes the cgroup has a "hugetlb.<size><suffix>" file for
 * (suffix ".usage_in_bytes" on v1, ".current" on v2); NULL-terminated. */
char **cg_hugetlb_sizes(const struct cg_hier *h, const char *suffix);
/* pids: current and (unless "max") limit; the same files on v1 and v2. */
void cg_stats_pids(const struct cg_hier *h, json_object *o);
/* memory.stat as "raw", with the page cache (the first of cache_key and
 * alt_key found) and usage without it, since cache counted as usage misleads. */
void cg_stats_memory_raw(const struct cg_hier *h, json_object *o, uint64_t usage,
                         const char *cache_key, const char *alt_key);
