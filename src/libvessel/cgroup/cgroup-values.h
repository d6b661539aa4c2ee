/* cgroup-values.h: the pure parts of the cgroup manager (no file system):
 * where a container's cgroup goes, how OCI values map onto v1 and v2
 * files, and the effective device rules.  Unit tested in test_cgroup.c. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "spec.h"

/* linux.cgroupsPath to the path below the root of every hierarchy, without
 * a leading '/': absent or empty gives "vessel/<id>"; "/a/b" and "a/b" both
 * give "a/b" (relative paths are relative to the hierarchy root, not to the
 * runtime's own cgroup as in runc: vessel is often started from a cgroup
 * that it must not nest containers in, and the two forms then agree).
 * Rejects "..", the root itself and systemd's "slice:prefix:name". */
int cgroup_path_normalize(const char *cgroups_path, const char *id, char **out, vessel_error **err);

/* Rootless, on cgroup v2: a non-root caller may only manage the subtree
 * delegated to it (systemd's user@UID.service: the directory and its
 * cgroup.procs, cgroup.subtree_control and cgroup.threads chowned to the
 * user).  Paths here are relative to the cgroup2 mount, "" being its root. */

/* The caller's cgroup from /proc/self/cgroup's "0::/path" line, relative to
 * mnt_root (the cgroup2 mount's root, mountinfo's field 4).  -ENOENT when
 * there is no such line or the cgroup is not visible below mnt_root. */
int cgroup_v2_own_path(const char *proc_cgroup, const char *mnt_root, char **out);
/* Walk up from own (own included) while delegated(path) holds; the topmost
 * such cgroup is the delegation root (malloc'd).  NULL when own itself is
 * not delegated. */
char *cgroup_delegation_root(const char *own, bool (*delegated)(const char *path, void *data),
                             void *data);
/* Is path strictly below dir ("" is the root)? */
bool cgroup_path_below(const char *path, const char *dir);
/* dir/path, or path when dir is the root (""). */
char *cgroup_path_join(const char *dir, const char *path);
/* linux.cgroupsPath for a caller that may only manage deleg: absent or
 * empty gives deleg/vessel/<id>, a relative path is taken below deleg, an
 * absolute path is used as given and must lie below deleg (-EACCES
 * otherwise).  The rules of cgroup_path_normalize() apply too. */
int cgroup_path_delegated(const char *cgroups_path, const char *id, const char *deleg, char **out,
                          vessel_error **err);

/* What state.json keeps in "cgroupPath": the path and, per hierarchy, how
 * many trailing components of it create made (and delete removes):
 *   "<n>:/<path>"                     n for every hierarchy: a container in
 *                                     a single one (v2, rootless), and what
 *                                     versions before per-hierarchy records
 *                                     wrote (their n was the maximum);
 *   "<name>=<n> <name>=<n>...:/<path>" n per hierarchy, named by its mount
 *                                     point below /sys/fs/cgroup ("memory",
 *                                     "cpu,cpuacct", "unified"); one not
 *                                     listed made nothing.
 * Ownership differs between hierarchies when a parent was there before in
 * some of them only: each must remove just what it made.  Names hold no
 * '/' or ' ' (a mount point's last component, as mountinfo splits it), so
 * the first ":/" ends the list and the last '=' of an entry its name. */
struct cgroup_state_own {
        char *name;
        int owned;
};
struct cgroup_state {
        char *path;                   /* no leading '/' */
        int owned;                    /* for a hierarchy not in own[] (0 with a list) */
        struct cgroup_state_own *own; /* NULL: the "<n>:/<path>" form */
        size_t n_own;
};
char *cgroup_state_encode(const struct cgroup_state *st);
int cgroup_state_decode(const char *s, struct cgroup_state *out);
/* How many trailing components hierarchy name owns. */
int cgroup_state_owned(const struct cgroup_state *st, const char *name);
void cgroup_state_clear(struct cgroup_state *st);

/* cpu.shares (2..262144) to cpu.weight (1..10000), the runc/crun/podman
 * linear mapping: 1 + (shares - 2) * 9999 / 262142.  0 stays 0 (unset). */
uint64_t cgroup_shares_to_weight(uint64_t shares);
/* The inverse, for linux.resources.unified "cpu.weight" on v1. */
uint64_t cgroup_weight_to_shares(uint64_t weight);
/* blkio.weight (10..1000) to io.weight (1..10000): 1 + (w - 10) * 9999 / 990. */
uint64_t cgroup_blkio_to_io_weight(uint64_t weight);

/* OCI memory.swap is memory+swap (v1 memory.memsw.limit_in_bytes); v2's
 * memory.swap.max is the swap alone.  Returns 1 and sets *out (-1 = "max")
 * when memory.swap.max must be written, 0 when it must be left alone. */
int cgroup_swap_to_v2(struct vessel_opt_i64 limit, struct vessel_opt_i64 swap, int64_t *out,
                      vessel_error **err);

/* "0-3,7" into a sorted array of numbers; -EINVAL on "0-", "3-1", "a". */
int cgroup_cpu_list_parse(const char *s, unsigned **out, size_t *n);
/* "100", "64k", "100M", "1g", "2GiB", "-1" (docker's RAMInBytes, powers of 1024). */
int cgroup_parse_bytes(const char *s, int64_t *out);
/* "2MB", "1GB", "64KB": the names of hugetlb.<size>.* files. */
bool cgroup_hugepage_size_valid(const char *s);

/* Access bits, the same values as BPF_DEVCG_ACC_*. */
#define CGROUP_DEV_MKNOD 1u
#define CGROUP_DEV_READ 2u
#define CGROUP_DEV_WRITE 4u
#define CGROUP_DEV_ALL 7u

struct cgroup_dev_rule {
        bool allow;
        char type;            /* 'a' (only as "everything"), 'c', 'b' */
        int64_t major, minor; /* -1 = any */
        unsigned access;
};

/* The rules a container's cgroup gets, applied in order, later rules
 * overriding earlier ones: deny everything, allow OCI's default devices
 * (null, zero, full, random, urandom, tty, console, ptmx, pts, tun, mknod
 * of any device), then the config's rules.  A config rule that denies
 * everything ("allow": false, no type or "a", all access) resets to that
 * default instead of also denying /dev/null; a type "a" rule that is not
 * "everything" becomes a 'c' and a 'b' rule. */
int cgroup_device_rules(const struct vessel_device_rule *user, size_t n,
                        struct cgroup_dev_rule **out, size_t *nout);
/* The rules for the v1 devices controller, where a deny removes only the
 * exception of the very same device ("deny c *:* rwm" leaves "c 1:3 rwm"
 * allowed): a deny that covers earlier, narrower allows is followed by a
 * deny of each of them, so that it wins as in the v2 program.  A narrow
 * deny after a wider allow cannot be said in v1: that allow stays. */
int cgroup_device_rules_v1(const struct cgroup_dev_rule *in, size_t n, struct cgroup_dev_rule **out,
                           size_t *nout);
/* The devices.allow/devices.deny line of a rule ("a" or "c 1:3 rwm"). */
void cgroup_dev_rule_format(const struct cgroup_dev_rule *r, char *buf, size_t len);
