/* oci-gen.h: the OCI config.json that `vessel` runs an instance with,
 * generated from its expanded configuration (instance_expand()).
 *
 * Pure except for stat() of a unix-char/unix-block device's source when
 * it gives no major/minor: expanded config in, JSON text out.  The order
 * is the design's: the defaults of a system container, then the keys
 * (environment.*, limits.*), then the devices, then raw.oci merged last
 * as an RFC 7386 JSON merge patch.  With lxcfs_dir, the binds of lxcfs's
 * files follow the /proc and /sys mounts (lxcfs.h).
 *
 * Unprivileged unless idmap says privileged (or is NULL): a user
 * namespace with the instance's maps, the rootfs idmapped by the runtime
 * (ROOTFS_IDMAP_ANNOTATION), disk devices with shift=true idmapped
 * too. */
#pragma once

#include <stdint.h>

#include "config.h"
#include "error.h"
#include "idrange.h"

/* The cgroup sub-tree instances live under when no cgroup_path is given
 * (cgroupsPath /vessel-instances/<name>). */
#define OCI_GEN_CGROUP_PARENT "vessel-instances"
/* The child of the instance's cgroup that init lives in, the root of its
 * cgroup namespace, and the runtime's annotation that says so
 * (CGROUP_INNER_ANNOTATION in src/libvessel/cgroup/cgroup.h). */
#define OCI_GEN_CGROUP_INNER "payload"
#define OCI_GEN_CGROUP_INNER_ANNOTATION "io.github.vessel.cgroup.inner"
/* ROOTFS_IDMAP_ANNOTATION in src/libvessel/rootfs.h. */
#define OCI_GEN_ROOTFS_IDMAP_ANNOTATION "io.github.vessel.rootfs.idmap"
/* USERNS_OWNER_ANNOTATION in src/libvessel/idmap.h: the user namespace is
 * owned by the host uid its root maps to, so the host's per-user counts
 * (inotify instances: 128 by default) are each instance's own. */
#define OCI_GEN_USERNS_OWNER_ANNOTATION "io.github.vessel.userns.owner"

struct oci_gen_input {
        const char *name;            /* the instance: hostname and cgroup */
        const char *rootfs;          /* absolute path of its rootfs/ */
        const char *init;            /* NULL: /sbin/init */
        const char *cgroup_path;     /* NULL: /OCI_GEN_CGROUP_PARENT/<name> */
        const struct confset *conf;  /* expanded */
        long long host_memory_bytes; /* for limits.memory=N% */
        uint64_t host_caps;          /* the bounding set to stay in; 0: no limit */
        const struct instance_idmap *idmap; /* NULL or privileged: no user namespace */
        bool rootfs_shifted; /* its files are shifted into the range (idshift.h): no idmap */
        const char *lxcfs_dir;       /* a live lxcfs to bind /proc files from; NULL: none */
        /* The mknod supervisor's socket (RUNDIR/MKNOD_SUPERVISOR_SOCKET) for
         * linux.seccomp.listenerPath; NULL: no interception. */
        const char *seccomp_listener;
        bool no_fuse; /* no /dev/fuse whatever security.fuse says (rootless, unopenable) */
        /* No inner cgroup handed to the instance's root: a rootless runtime
         * cannot chown a cgroup to a subordinate id (docs/manager.md,
         * "Rootless"). */
        bool no_cgroup_inner;
};

/* The bounding set of the calling process (/proc/self/status CapBnd). */
uint64_t oci_gen_host_caps(void);

int oci_gen(const struct oci_gen_input *in, char **json, vessel_error **err);

/* RFC 7386 merge of the JSON text patch into the JSON text doc. */
int oci_merge_patch(const char *doc, const char *patch, char **out, vessel_error **err);
