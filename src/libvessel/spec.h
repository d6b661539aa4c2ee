/* spec.h: an OCI runtime config.json, parsed and validated once into
 * plain C structs.  Nothing outside the parser (spec.c and its parts,
 * spec-*.c, one per section of the runtime spec) touches JSON for the config.
 *
 * Conventions: strings are heap allocated and NUL terminated, NULL when
 * absent.  Arrays are a pointer plus a count (n_*).  Optional numbers carry
 * a has_* flag.  Every validation error names the JSON path, e.g.
 *   process.rlimits[2].type: unknown rlimit "RLIMIT_FOO"
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

#define VESSEL_OCI_VERSION "1.2.0"

/* ---- namespaces ---- */
enum vessel_ns_type {
        VESSEL_NS_PID,
        VESSEL_NS_NET,
        VESSEL_NS_MNT,
        VESSEL_NS_IPC,
        VESSEL_NS_UTS,
        VESSEL_NS_USER,
        VESSEL_NS_CGROUP,
        VESSEL_NS_TIME,
        VESSEL_NS_COUNT
};

struct vessel_namespace {
        bool present;   /* listed in linux.namespaces */
        char *path;     /* join this one; NULL = create a new one */
};

struct vessel_idmap {
        uint32_t container_id, host_id, size;
};

struct vessel_time_offset {
        bool present;
        int64_t secs;
        uint32_t nanosecs;
};

/* ---- mounts ---- */
/* Result of parsing a mount's "options" array (see mount_options_parse()). */
struct vessel_mount_opts {
        unsigned long flags;      /* MS_* superblock flags for mount(2) (MS_RDONLY, MS_NOSUID, ...) */
        unsigned long clear;      /* MS_* flags explicitly cleared (rw, suid, dev, exec, ...) */
        uint64_t attr_set;        /* MOUNT_ATTR_* to set on the mount (non-recursive) */
        uint64_t attr_clr;        /* MOUNT_ATTR_* to clear (non-recursive) */
        uint64_t rec_attr_set;    /* MOUNT_ATTR_* to set recursively (rro, rnosuid, ...) */
        uint64_t rec_attr_clr;    /* MOUNT_ATTR_* to clear recursively (rrw, rsuid, ...) */
        unsigned long propagation; /* MS_PRIVATE/MS_SHARED/MS_SLAVE/MS_UNBINDABLE or 0 */
        bool propagation_rec;     /* propagation applies recursively (rprivate, ...) */
        bool bind, rbind, remount, tmpcopyup, idmap, ridmap;
        char **data;              /* fs-specific options passed through ("size=64k", "newinstance"), NULL-terminated */
        size_t n_data;
};

struct vessel_mount {
        char *destination; /* absolute path inside the container */
        char *type;        /* may be NULL for bind mounts */
        char *source;      /* may be NULL */
        char **options;    /* raw strings, NULL-terminated */
        size_t n_options;
        struct vessel_mount_opts opts;    /* parsed */
        struct vessel_idmap *uid_mappings; /* idmapped mount, issue 5 */
        size_t n_uid_mappings;
        struct vessel_idmap *gid_mappings;
        size_t n_gid_mappings;
};

/* ---- process ---- */
struct vessel_rlimit {
        int resource; /* RLIMIT_* */
        uint64_t soft, hard;
};

enum vessel_cap_set {
        VESSEL_CAP_BOUNDING,
        VESSEL_CAP_EFFECTIVE,
        VESSEL_CAP_INHERITABLE,
        VESSEL_CAP_PERMITTED,
        VESSEL_CAP_AMBIENT,
        VESSEL_CAP_SET_COUNT
};

struct vessel_capabilities {
        bool present;
        /* bit n set = capability n (CAP_* numbers from linux/capability.h).
         * Unknown capability names (newer than this build) are skipped. */
        uint64_t sets[VESSEL_CAP_SET_COUNT];
};

struct vessel_user {
        uint32_t uid, gid;
        bool has_umask;
        uint32_t umask;
        uint32_t *additional_gids;
        size_t n_additional_gids;
        char *username; /* Windows only in the spec; kept for completeness */
};

struct vessel_console_size {
        uint32_t height, width;
};

/* process.scheduler, applied with sched_setattr(2) (scheduling.h). */
struct vessel_scheduler {
        bool present;
        uint32_t policy;    /* SCHED_*: the index in vessel_sched_policy_names */
        int32_t nice;       /* -20..19; 0 for SCHED_FIFO, SCHED_RR, SCHED_DEADLINE */
        uint32_t priority;  /* 1..99 for SCHED_FIFO and SCHED_RR, else 0 */
        uint64_t flags;     /* SCHED_FLAG_* */
        uint64_t runtime, deadline, period; /* nanoseconds; SCHED_DEADLINE only */
};

struct vessel_process {
        bool terminal;
        bool has_console_size;
        struct vessel_console_size console_size;
        struct vessel_user user;
        char **args; /* NULL-terminated, at least one entry */
        size_t n_args;
        char *command_line; /* Windows only */
        char **env;  /* NULL-terminated "KEY=value" */
        size_t n_env;
        char *cwd;   /* absolute */
        struct vessel_capabilities capabilities;
        struct vessel_rlimit *rlimits;
        size_t n_rlimits;
        bool no_new_privileges;
        char *apparmor_profile;
        bool has_oom_score_adj;
        int oom_score_adj;
        char *selinux_label;
        struct vessel_scheduler scheduler;
        /* ioPriority, applied with ioprio_set(2) (scheduling.h) */
        bool has_io_priority;
        int io_priority_class; /* IOPRIO_CLASS_* */
        int io_priority;
        /* execCPUAffinity: parsed, not applied yet */
        char *exec_cpu_affinity_initial;
        char *exec_cpu_affinity_final;
};

/* ---- hooks ---- */
struct vessel_hook {
        char *path; /* absolute */
        char **args; /* NULL-terminated, may be NULL */
        size_t n_args;
        char **env;
        size_t n_env;
        bool has_timeout;
        int timeout; /* seconds, > 0 */
};

enum vessel_hook_kind {
        VESSEL_HOOK_PRESTART,
        VESSEL_HOOK_CREATE_RUNTIME,
        VESSEL_HOOK_CREATE_CONTAINER,
        VESSEL_HOOK_START_CONTAINER,
        VESSEL_HOOK_POSTSTART,
        VESSEL_HOOK_POSTSTOP,
        VESSEL_HOOK_KIND_COUNT
};

struct vessel_hooks {
        struct vessel_hook *list[VESSEL_HOOK_KIND_COUNT];
        size_t n[VESSEL_HOOK_KIND_COUNT];
};

/* ---- linux.devices ---- */
struct vessel_device {
        char *path;  /* absolute path in the container */
        char type;   /* 'c', 'b', 'u' (= 'c'), 'p' */
        int64_t major, minor;
        bool has_file_mode;
        uint32_t file_mode;
        bool has_uid, has_gid;
        uint32_t uid, gid;
};

/* ---- linux.resources (applied by the cgroup manager, issue 3) ---- */
struct vessel_device_rule {
        bool allow;
        char type;   /* 'a', 'c', 'b' */
        int64_t major, minor; /* -1 = wildcard */
        char *access; /* "rwm" subset, NULL = all */
};

struct vessel_opt_i64 {
        bool set;
        int64_t v;
};
struct vessel_opt_u64 {
        bool set;
        uint64_t v;
};

struct vessel_weight_device {
        int64_t major, minor;
        struct vessel_opt_u64 weight, leaf_weight; /* uint16 range */
};
struct vessel_throttle_device {
        int64_t major, minor;
        uint64_t rate;
};
struct vessel_hugepage_limit {
        char *page_size; /* "2MB" */
        uint64_t limit;
};
struct vessel_net_priority {
        char *name;
        uint32_t priority;
};
struct vessel_rdma_limit {
        char *device;
        struct vessel_opt_u64 hca_handles, hca_objects;
};
struct vessel_kv {
        char *key, *value;
};

struct vessel_resources {
        bool present;
        struct vessel_device_rule *devices;
        size_t n_devices;
        struct {
                struct vessel_opt_i64 limit, reservation, swap, kernel, kernel_tcp;
                struct vessel_opt_u64 swappiness;
                bool has_disable_oom_killer, disable_oom_killer;
                bool has_use_hierarchy, use_hierarchy;
                bool has_check_before_update, check_before_update;
        } memory;
        struct {
                struct vessel_opt_u64 shares, period, realtime_period, burst;
                struct vessel_opt_i64 quota, realtime_runtime, idle;
                char *cpus, *mems;
        } cpu;
        struct {
                bool present;
                int64_t limit; /* <= 0 = unlimited */
        } pids;
        struct {
                struct vessel_opt_u64 weight, leaf_weight;
                struct vessel_weight_device *weight_device;
                size_t n_weight_device;
                struct vessel_throttle_device *throttle_read_bps, *throttle_write_bps,
                        *throttle_read_iops, *throttle_write_iops;
                size_t n_throttle_read_bps, n_throttle_write_bps, n_throttle_read_iops,
                        n_throttle_write_iops;
        } block_io;
        struct vessel_hugepage_limit *hugepage_limits;
        size_t n_hugepage_limits;
        struct {
                struct vessel_opt_u64 class_id;
                struct vessel_net_priority *priorities;
                size_t n_priorities;
        } network;
        struct vessel_rdma_limit *rdma;
        size_t n_rdma;
        struct vessel_kv *unified;
        size_t n_unified;
};

/* ---- linux.seccomp (applied in issue 5) ---- */
struct vessel_seccomp_arg {
        uint32_t index;
        uint64_t value, value_two;
        char *op; /* SCMP_CMP_NE, ... validated */
};
struct vessel_seccomp_syscall {
        char **names;
        size_t n_names;
        char *action; /* SCMP_ACT_*, validated */
        bool has_errno_ret;
        uint32_t errno_ret;
        struct vessel_seccomp_arg *args;
        size_t n_args;
};
struct vessel_seccomp {
        bool present;
        char *default_action;
        bool has_default_errno_ret;
        uint32_t default_errno_ret;
        char **architectures; /* SCMP_ARCH_* */
        size_t n_architectures;
        char **flags;         /* SECCOMP_FILTER_FLAG_* */
        size_t n_flags;
        char *listener_path;
        char *listener_metadata;
        struct vessel_seccomp_syscall *syscalls;
        size_t n_syscalls;
};

/* linux.memoryPolicy, applied with set_mempolicy(2) (scheduling.h). */
#define VESSEL_MPOL_MAX_NODES 1024
struct vessel_memory_policy {
        bool present;
        int mode;          /* MPOL_*: the index in vessel_mpol_mode_names */
        unsigned flags;    /* MPOL_F_* */
        char *nodes;       /* as written, NULL when absent */
        bool has_nodes;    /* nodemask has at least one node */
        unsigned long nodemask[VESSEL_MPOL_MAX_NODES / (8 * sizeof(unsigned long))];
};

struct vessel_linux {
        struct vessel_namespace ns[VESSEL_NS_COUNT];
        struct vessel_idmap *uid_mappings;
        size_t n_uid_mappings;
        struct vessel_idmap *gid_mappings;
        size_t n_gid_mappings;
        struct vessel_time_offset time_monotonic, time_boottime;
        struct vessel_device *devices;
        size_t n_devices;
        char *cgroups_path;
        struct vessel_resources resources;
        struct vessel_kv *sysctl;
        size_t n_sysctl;
        unsigned long rootfs_propagation; /* MS_* | MS_REC, 0 = default (rslave) */
        char **masked_paths;
        size_t n_masked_paths;
        char **readonly_paths;
        size_t n_readonly_paths;
        char *mount_label;
        bool has_personality;
        unsigned long personality; /* PER_LINUX or PER_LINUX32 */
        struct vessel_seccomp seccomp;
        char *intel_rdt_clos_id;
        bool has_intel_rdt; /* linux.intelRdt has a member: refused (no resctrl support) */
        struct vessel_memory_policy memory_policy;
};

struct vessel_spec {
        char *oci_version;
        struct {
                char *path;  /* as written */
                bool readonly;
        } root;
        bool has_process;
        struct vessel_process process;
        char *hostname;
        char *domainname;
        struct vessel_mount *mounts;
        size_t n_mounts;
        struct vessel_hooks hooks;
        struct vessel_kv *annotations;
        size_t n_annotations;
        bool has_linux;
        struct vessel_linux linux_;
};

/* Parse a config from a JSON text.  On error returns negative errno and sets
 * *err with the JSON path of the offending value. */
int vessel_spec_parse(const char *json, size_t len, struct vessel_spec **out, vessel_error **err);
/* Read and parse <bundle>/config.json (or an explicit file). */
int vessel_spec_load(const char *path, struct vessel_spec **out, vessel_error **err);
/* Parse a single "process" object (exec --process FILE). */
int vessel_process_parse(const char *json, size_t len, struct vessel_process **out,
                         vessel_error **err);
void vessel_process_free(struct vessel_process *p);
void vessel_spec_free(struct vessel_spec *s);

/* Parse an options array of a mount (pure; unit tested).  'where' names the
 * JSON path for error messages ("mounts[3].options"). */
int mount_options_parse(char *const *options, size_t n, struct vessel_mount_opts *out,
                        const char *where, vessel_error **err);
void mount_opts_free(struct vessel_mount_opts *o);

/* Name tables shared with features and the CLI. */
const char *vessel_ns_name(enum vessel_ns_type t);       /* "pid", "network", ... */
int vessel_ns_from_name(const char *name);               /* -1 if unknown */
int vessel_rlimit_from_name(const char *name);           /* "RLIMIT_NOFILE" -> RLIMIT_NOFILE, -1 */
const char *vessel_rlimit_name(int resource);
int vessel_cap_from_name(const char *name);              /* "CAP_CHOWN" -> 0, -1 if unknown */
const char *vessel_cap_name(int cap);                    /* NULL if none */
int vessel_cap_last(void);                               /* highest capability this build knows */
/* All mount option names recognised, NULL-terminated (for `features`). */
extern const char *const vessel_mount_option_names[];
/* A default config like `runc spec`.  Returns a malloc'd JSON string. */
char *vessel_spec_default_json(bool rootless);

/* The OCI features JSON of this build (malloc'd). */
char *vessel_features_json(void);

/* ---- added with the parser (names.c, features.c) ---- */
/* "prestart", "createRuntime", ... (the config.json keys); NULL if unknown. */
const char *vessel_hook_name(enum vessel_hook_kind k);
/* The seccomp vocabulary accepted in linux.seccomp, NULL-terminated.
 * vessel_seccomp_flag_names[i] is the filter flag (1 << i). */
extern const char *const vessel_seccomp_action_names[];
extern const char *const vessel_seccomp_arch_names[];
extern const char *const vessel_seccomp_op_names[];
extern const char *const vessel_seccomp_flag_names[];
/* process.scheduler policies: vessel_sched_policy_names[i] is policy i
 * (SCHED_OTHER = 0 ... SCHED_DEADLINE = 6; SCHED_ISO, 4, is in the spec but
 * not in mainline kernels).  linux.memoryPolicy modes likewise
 * (MPOL_DEFAULT = 0 ... MPOL_WEIGHTED_INTERLEAVE = 6).  NULL-terminated. */
extern const char *const vessel_sched_policy_names[];
extern const char *const vessel_mpol_mode_names[];
/* Index of name in a NULL-terminated table, -1 if absent. */
int vessel_name_index(const char *const *names, const char *name);
/* vessel_spec_parse() naming the text 'source' in JSON syntax errors
 * ("<source>: invalid JSON at line L, column C: ..."); with source NULL the
 * message starts with "invalid JSON", for callers that prefix the file name
 * themselves.  Validation errors always start with the JSON path. */
int vessel_spec_parse_named(const char *json, size_t len, const char *source,
                            struct vessel_spec **out, vessel_error **err);
