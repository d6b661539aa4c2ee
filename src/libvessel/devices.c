#include "devices.h"
#include "idmap.h"
#include "mounts.h"
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

/* A device node bound into the container is no way to run programs or
 * gain privileges: nosuid,noexec, as crun binds them. */
#define NODE_ATTRS (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC)

static const struct vessel_device default_devices[] = {
        {.path = "/dev/null", .type = 'c', .major = 1, .minor = 3},
        {.path = "/dev/zero", .type = 'c', .major = 1, .minor = 5},
        {.path = "/dev/full", .type = 'c', .major = 1, .minor = 7},
        {.path = "/dev/random", .type = 'c', .major = 1, .minor = 8},
        {.path = "/dev/urandom", .type = 'c', .major = 1, .minor = 9},
        {.path = "/dev/tty", .type = 'c', .major = 5, .minor = 0},
};

static const struct {
        const char *target, *name;
} default_links[] = {
        {"/proc/self/fd", "fd"},
        {"/proc/self/fd/0", "stdin"},
        {"/proc/self/fd/1", "stdout"},
        {"/proc/self/fd/2", "stderr"},
        {"pts/ptmx", "ptmx"},
};

static mode_t node_type(const struct vessel_device *d)
{
        return d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
}

/* The devices the container gets, in order: the defaults that
 * linux.devices does not list (with defaults), then linux.devices.  The
 * runtime and init number them alike. */
static size_t device_list(const struct vessel_spec *spec, bool defaults,
                          const struct vessel_device ***out)
{
        const struct vessel_device **l =
            xmalloc0(sizeof(*l) * (ARRAY_SIZE(default_devices) + spec->linux_.n_devices + 1));
        size_t n = 0;

        for (size_t i = 0; defaults && i < ARRAY_SIZE(default_devices); i++) {
                bool listed = false;
                for (size_t j = 0; j < spec->linux_.n_devices; j++)
                        if (!strcmp(spec->linux_.devices[j].path, default_devices[i].path))
                                listed = true;
                if (!listed)
                        l[n++] = &default_devices[i];
        }
        for (size_t j = 0; j < spec->linux_.n_devices; j++)
                l[n++] = &spec->linux_.devices[j];
        *out = l;
        return n;
}

/* The name of device i's node in the runtime's tmpfs. */
static void node_name(size_t i, char buf[24])
{
        snprintf(buf, 24, "%zu", i);
}

/* ---------------------------------------------------- the runtime's half */

/* Can the container bind the host's node at the same path?  Not when
 * the config asks for another mode than the host's node has (the host's
 * /dev/fuse is 0600 without udev, and a fileMode of 0666 would be
 * ignored): the runtime makes its own node then, as for one the host
 * lacks.  The device cgroup decides the access either way. */
static bool host_has_node(const struct vessel_device *d)
{
        struct stat st;

        return stat(d->path, &st) == 0 && (st.st_mode & S_IFMT) == node_type(d) &&
               st.st_rdev == makedev((unsigned)d->major, (unsigned)d->minor) &&
               (!d->has_file_mode || (st.st_mode & 07777) == (d->file_mode & 07777));
}

static int make_host_node(int tmpfs, size_t i, const struct vessel_device *d,
                          const struct vessel_linux *lx, vessel_error **err)
{
        mode_t mode = d->has_file_mode ? (d->file_mode & 07777) : 0666;
        int64_t uid = idmap_to_host(lx->uid_mappings, lx->n_uid_mappings, d->has_uid ? d->uid : 0);
        int64_t gid = idmap_to_host(lx->gid_mappings, lx->n_gid_mappings, d->has_gid ? d->gid : 0);
        char name[24];

        node_name(i, name);
        if (mknodat(tmpfs, name, node_type(d) | mode,
                    makedev((unsigned)d->major, (unsigned)d->minor)) < 0)
                return vessel_error_sys(err, "%s: mknod in the runtime's tmpfs", d->path);
        if (fchmodat(tmpfs, name, mode, 0) < 0)
                return vessel_error_sys(err, "%s: chmod", d->path);
        /* Owned by the container's ids as the host sees them (unmapped:
         * the host's root, nobody inside). */
        if ((uid >= 0 || gid >= 0) &&
            fchownat(tmpfs, name, uid >= 0 ? (uid_t)uid : (uid_t)-1,
                     gid >= 0 ? (gid_t)gid : (gid_t)-1, AT_SYMLINK_NOFOLLOW) < 0)
                return vessel_error_sys(err, "%s: chown", d->path);
        return 0;
}

/* Searchable by the container's root, who is not the host's. */
static int open_node_tmpfs(vessel_error **err)
{
        _cleanup_close_ int fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
        int mnt;

        if (fs < 0 || fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0711", 0) < 0 ||
            fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return vessel_error_sys(err, "fsopen tmpfs");
        mnt = fsmount(fs, FSMOUNT_CLOEXEC, NODE_ATTRS);
        if (mnt < 0)
                return vessel_error_sys(err, "fsmount tmpfs");
        return mnt;
}

static bool wants_default_devices(const struct vessel_spec *spec)
{
        for (size_t i = 0; i < spec->n_mounts; i++)
                if (!strcmp(spec->mounts[i].destination, "/dev") && mount_is_bind(&spec->mounts[i]))
                        return false;
        return true;
}

int devices_prepare_host(const struct vessel_spec *spec, int *nodes, vessel_error **err)
{
        _cleanup_free_ const struct vessel_device **l = NULL;
        _cleanup_close_ int tmpfs = -1;
        size_t n;

        *nodes = -1;
        if (!spec->linux_.ns[VESSEL_NS_USER].present)
                return 0;
        n = device_list(spec, wants_default_devices(spec), &l);
        for (size_t i = 0; i < n; i++) {
                int r;
                if (node_type(l[i]) == S_IFIFO || host_has_node(l[i]))
                        continue;
                if (tmpfs < 0 && (tmpfs = open_node_tmpfs(err)) < 0)
                        return vessel_error_prefix(
                            err,
                            "%s: the host has no such device node to bind into the user "
                            "namespace, and none can be made",
                            l[i]->path);
                if ((r = make_host_node(tmpfs, i, l[i], &spec->linux_, err)) < 0)
                        return r;
        }
        *nodes = steal_fd(&tmpfs);
        return 0;
}

/* ----------------------------------------------------------- init's half */

/* Detached clones of the runtime's nodes, out[i] for device i (or -1).
 * Linux 6.15 clones a node of a detached mount directly; before, the
 * tmpfs is attached for the moment over the container's /dev (nothing of
 * the container runs yet) and detached again. */
static int clone_nodes(int rootfd, int nodes, size_t n, int *out, vessel_error **err)
{
        _cleanup_close_ int dev = -1;
        bool staged = false;
        char name[24], self[64];

        snprintf(self, sizeof(self), "/proc/self/fd/%d", nodes);
        for (size_t i = 0; i < n; i++) {
                node_name(i, name);
                if (faccessat(nodes, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0) {
                        if (errno == ENOENT) /* the host's node is bound */
                                continue;
                        return vessel_error_sys(err, "the runtime's device node %s", name);
                }
                out[i] = open_tree(nodes, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
                if (out[i] < 0 && errno == EINVAL && !staged) {
                        dev = path_open_in_root(rootfd, "/dev", RESOLVE_CREATE_DIR, err);
                        if (dev < 0)
                                return dev;
                        if (move_mount(nodes, "", dev, "",
                                       MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                                return vessel_error_sys(err, "attach the runtime's device nodes");
                        staged = true;
                        out[i] = open_tree(nodes, name, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
                }
                if (out[i] < 0) {
                        int r = vessel_error_sys(err, "clone the runtime's device node %s", name);
                        if (staged)
                                umount2(self, MNT_DETACH);
                        return r;
                }
        }
        if (staged && umount2(self, MNT_DETACH) < 0)
                return vessel_error_sys(err, "detach the runtime's device nodes");
        return 0;
}

/* In a user namespace: bind the node (the runtime's, else the host's). */
static int bind_device(int dirfd, const char *name, const struct vessel_device *d, int node,
                       vessel_error **err)
{
        _cleanup_close_ int target = -1;
        int nf = openat(dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
        int r;

        if (nf < 0)
                return vessel_error_sys(err, "create mount point for %s", d->path);
        close(nf);
        target = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (target < 0)
                return vessel_error_sys(err, "open %s", d->path);
        if (node >= 0) {
                r = mount_attach_fd(node, target, NODE_ATTRS, err);
                return r < 0 ? vessel_error_prefix(err, "bind device %s", d->path) : 0;
        }
        r = mount_bind_fd(AT_FDCWD, d->path, target, false, NODE_ATTRS, err);
        return r < 0 ? vessel_error_prefix(err, "bind device %s from the host", d->path) : 0;
}

static int make_device(int rootfd, const struct vessel_device *d, bool userns, int node,
                       vessel_error **err)
{
        _cleanup_free_ char *parent = xstrdup(d->path);
        _cleanup_close_ int dirfd = -1;
        char *slash = strrchr(parent, '/');
        const char *name = slash ? slash + 1 : parent;
        mode_t type = node_type(d);
        mode_t mode = d->has_file_mode ? (d->file_mode & 07777) : 0666;

        if (slash)
                *slash = '\0';
        dirfd = path_open_in_root(rootfd, slash && *parent ? parent : "/", RESOLVE_CREATE_DIR, err);
        if (dirfd < 0)
                return dirfd;
        /* Reopen the confined O_PATH directory for real use. */
        {
                char p[64];
                int real;
                snprintf(p, sizeof(p), "/proc/self/fd/%d", dirfd);
                real = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (real < 0)
                        return vessel_error_sys(err, "open %s", parent);
                closep(&dirfd);
                dirfd = real;
        }
        /* Never follow or replace something the rootfs put there but a plain
         * file we may have created ourselves. */
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT && errno != EISDIR)
                return vessel_error_sys(err, "remove %s", d->path);

        /* mknod is refused in a user namespace (but for fifos). */
        if (userns && type != S_IFIFO)
                return bind_device(dirfd, name, d, node, err);
        if (mknodat(dirfd, name, type | mode, makedev((unsigned)d->major, (unsigned)d->minor)) < 0)
                return vessel_error_sys(err, "mknod %s", d->path);
        /* mknod applies the umask; set the exact mode. */
        if (fchmodat(dirfd, name, mode, 0) < 0)
                return vessel_error_sys(err, "chmod %s", d->path);
        if ((d->has_uid || d->has_gid) &&
            fchownat(dirfd, name, d->has_uid ? d->uid : (uid_t)-1, d->has_gid ? d->gid : (gid_t)-1,
                     AT_SYMLINK_NOFOLLOW) < 0)
                return vessel_error_sys(err, "chown %s", d->path);
        return 0;
}

static int default_links_and_dirs(int rootfd, vessel_error **err)
{
        _cleanup_close_ int dev = path_open_in_root(rootfd, "/dev", RESOLVE_CREATE_DIR, err);
        _cleanup_close_ int devdir = -1;
        char p[64];

        if (dev < 0)
                return dev;
        snprintf(p, sizeof(p), "/proc/self/fd/%d", dev);
        devdir = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (devdir < 0)
                return vessel_error_sys(err, "open /dev in the container");
        for (size_t i = 0; i < ARRAY_SIZE(default_links); i++) {
                if (symlinkat(default_links[i].target, devdir, default_links[i].name) < 0 &&
                    errno != EEXIST)
                        return vessel_error_sys(err, "symlink /dev/%s", default_links[i].name);
        }
        for (const char *const *d = (const char *const[]){"pts", "shm", "mqueue", NULL}; *d; d++)
                if (mkdirat(devdir, *d, 0755) < 0 && errno != EEXIST)
                        return vessel_error_sys(err, "mkdir /dev/%s", *d);
        return 0;
}

int devices_setup(int rootfd, const struct vessel_spec *spec, bool userns, bool defaults, int nodes,
                  vessel_error **err)
{
        _cleanup_free_ const struct vessel_device **l = NULL;
        size_t n = device_list(spec, defaults, &l), first_listed = n - spec->linux_.n_devices;
        _cleanup_free_ int *clones = xmalloc0(sizeof(int) * (n + 1));
        int r = 0;

        for (size_t i = 0; i < n; i++)
                clones[i] = -1;
        if (nodes >= 0 && (r = clone_nodes(rootfd, nodes, n, clones, err)) < 0)
                goto out;
        for (size_t i = 0; i < n; i++) {
                r = make_device(rootfd, l[i], userns, clones[i], err);
                if (r < 0) {
                        if (i >= first_listed)
                                vessel_error_prefix(err, "linux.devices[%zu]", i - first_listed);
                        goto out;
                }
        }
        if (defaults)
                r = default_links_and_dirs(rootfd, err);
out:
        for (size_t i = 0; i < n; i++)
                closep(&clones[i]);
        return r;
}
