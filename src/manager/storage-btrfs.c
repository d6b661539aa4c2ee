/* storage-btrfs.c: the btrfs back end (libbtrfsutil).
 *
 * The pool is a btrfs file system: an existing mount (source=DIR, the
 * store's storage/<name> a symlink to it), a block device or an image
 * file (source=DEVICE|FILE: a file attached through a loop device;
 * formatted when it holds nothing, refused when it holds another file
 * system), or a file the pool makes in the store (size=N, in
 * <store>/disks/<name>.img).  A device or file is mounted at
 * storage/<name>, and mounted again by the first command that needs the
 * pool after a host reboot.  An image is a subvolume (images/<fp>), an
 * instance a snapshot of it (containers/<vol>), a snapshot or a copy a
 * snapshot of that: constant time whatever the size of the rootfs.
 * Subvolumes that an instance made inside its own (systemd-nspawn's
 * machines, say) are snapshotted and deleted with it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <btrfsutil.h>
#include <linux/btrfs.h>
#include <linux/loop.h>
#include <linux/magic.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "storage.h"
#include "storage-internal.h"
#include "util.h"

/* mkfs.btrfs refuses less (with its default profiles). */
#define BTRFS_MIN_SIZE (256ULL << 20)

static int bu_error(vessel_error **err, enum btrfs_util_error e, const char *what, const char *path)
{
        int code = errno ? errno : EIO;

        return vessel_error_msg(err, code, "%s %s: %s (%s)", what, path, btrfs_util_strerror(e),
                                strerror(code));
}

static char *disk_path(struct vessel_store *s, const char *name)
{
        return xasprintf("%s/disks/%s.img", s->root, name);
}

/* The file system type blkid finds on path: "" when none, NULL when it
 * could not tell. */
static char *probe_fs(const char *path)
{
        char buf[64] = "";
        int pipefd[2], status;
        ssize_t n = 0, got;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return NULL;
        pid = fork();
        if (pid < 0) {
                close(pipefd[0]);
                close(pipefd[1]);
                return NULL;
        }
        if (pid == 0) {
                dup2(pipefd[1], 1);
                execlp("blkid", "blkid", "-p", "-o", "value", "-s", "TYPE", "--", path, NULL);
                _exit(127);
        }
        close(pipefd[1]);
        while (n < (ssize_t)sizeof(buf) - 1 &&
               (got = read(pipefd[0], buf + n, sizeof(buf) - 1 - (size_t)n)) > 0)
                n += got;
        close(pipefd[0]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        buf[n] = 0;
        buf[strcspn(buf, "\n")] = 0;
        /* blkid -p: 2 when nothing was found. */
        if (WIFEXITED(status) && WEXITSTATUS(status) == 2)
                return xstrdup("");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return NULL;
        return xstrdup(buf);
}

/* A loop device backed by file, freed by the kernel when the mount on it
 * goes (LO_FLAGS_AUTOCLEAR); *dev its /dev path. */
static int loop_attach(const char *file, char **dev, int *loopfd, vessel_error **err)
{
        _cleanup_close_ int ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
        _cleanup_close_ int back = open(file, O_RDWR | O_CLOEXEC);

        if (back < 0)
                return vessel_error_sys(err, "open %s", file);
        if (ctl < 0)
                return vessel_error_sys(err, "open /dev/loop-control");
        for (int tries = 0; tries < 32; tries++) {
                struct loop_config c = {.fd = (unsigned)back,
                                        .info = {.lo_flags = LO_FLAGS_AUTOCLEAR}};
                int n = ioctl(ctl, LOOP_CTL_GET_FREE);
                if (n < 0)
                        return vessel_error_sys(err, "attaching %s: LOOP_CTL_GET_FREE", file);
                char *path = xasprintf("/dev/loop%d", n);
                int fd = open(path, O_RDWR | O_CLOEXEC);
                if (fd < 0) {
                        int e = errno;
                        free(path);
                        if (e == ENOENT)
                                continue; /* udev has not made it yet */
                        return vessel_error_set(err, e, "attaching %s: open /dev/loop%d", file, n);
                }
                snprintf((char *)c.info.lo_file_name, sizeof(c.info.lo_file_name), "%s", file);
                if (ioctl(fd, LOOP_CONFIGURE, &c) == 0) {
                        *dev = path;
                        *loopfd = fd;
                        return 0;
                }
                int e = errno;
                close(fd);
                free(path);
                if (e != EBUSY)
                        return vessel_error_set(err, e, "attaching %s: LOOP_CONFIGURE", file);
        }
        return vessel_error_msg(err, EBUSY, "attaching %s: no free loop device", file);
}

static bool is_mount_of_btrfs(const char *path)
{
        _cleanup_free_ char *parent = xasprintf("%s/..", path);
        struct stat a, b;

        return storage_fs_is(path, BTRFS_SUPER_MAGIC) && stat(path, &a) == 0 &&
               stat(parent, &b) == 0 && (a.st_dev != b.st_dev || a.st_ino == 256);
}

/* Mount the pool's device or file at p->path. */
static int mount_source(struct vessel_store *s, struct storage_pool *p, vessel_error **err)
{
        struct stat st;
        _cleanup_free_ char *dev = NULL;
        _cleanup_close_ int loopfd = -1;
        const char *what;

        if (stat(p->source, &st) < 0)
                return vessel_error_sys(err, "storage pool %s: source %s", p->name, p->source);
        (void)s;
        if (S_ISBLK(st.st_mode)) {
                what = p->source;
        } else if (loop_attach(p->source, &dev, &loopfd, err) < 0) {
                return vessel_error_prefix(err, "storage pool %s", p->name);
        } else {
                what = dev;
        }
        if (mount(what, p->path, "btrfs", MS_NOATIME, "user_subvol_rm_allowed") < 0)
                return vessel_error_sys(err, "storage pool %s: mount %s (%s) on %s", p->name, what,
                                        p->source, p->path);
        return 0;
}

enum subvol_op { SV_CREATE, SV_SNAPSHOT, SV_DELETE };
static int subvol(struct vessel_store *s, enum subvol_op op, const char *from, const char *to,
                  vessel_error **err);

/* A rootless store makes and removes subvolumes as root of its user
 * namespace: the file system must let it (user_subvol_rm_allowed). */
static int rootless_probe(struct vessel_store *s, struct storage_pool *p, vessel_error **err)
{
        _cleanup_free_ char *probe = xasprintf("%s/images/.probe", p->path);
        int r = subvol(s, SV_CREATE, NULL, probe, err);

        if (r == 0 && (r = subvol(s, SV_DELETE, NULL, probe, err)) < 0) {
                rmdir(probe);
                vessel_error_free(err);
                return vessel_error_msg(err, EPERM,
                                        "storage pool %s: a rootless store cannot delete "
                                        "subvolumes on %s: mount it with "
                                        "user_subvol_rm_allowed",
                                        p->name, p->source);
        }
        return r;
}

static int btrfs_create(struct vessel_store *s, struct storage_pool *p, vessel_error **err)
{
        _cleanup_free_ char *made = NULL, *fs = NULL;
        struct stat st;
        int r;

        if (p->source[0] && stat(p->source, &st) == 0 && S_ISDIR(st.st_mode)) {
                if (!storage_fs_is(p->source, BTRFS_SUPER_MAGIC))
                        return vessel_error_msg(err, EINVAL,
                                                "storage pool %s: source %s is not on a btrfs "
                                                "file system",
                                                p->name, p->source);
                if ((r = pool_dirs_create(s, p, err)) == 0 && store_is_rootless(s) &&
                    (r = rootless_probe(s, p, err)) < 0)
                        pool_dirs_destroy(s, p, NULL);
                return r;
        }
        if (store_is_rootless(s))
                return vessel_error_msg(err, EPERM,
                                        "storage pool %s: a rootless store's btrfs pool needs "
                                        "source=DIR: a directory of its user on a btrfs file "
                                        "system mounted with user_subvol_rm_allowed (attaching "
                                        "and mounting a device or file needs root)",
                                        p->name);
        if (!p->source[0]) {
                /* A loop file of our own. */
                _cleanup_free_ char *disks = xasprintf("%s/disks", s->root);
                _cleanup_close_ int fd = -1;
                if (p->size < BTRFS_MIN_SIZE)
                        return vessel_error_msg(err, EINVAL,
                                                "storage pool %s: size %llu is too small for "
                                                "btrfs (at least %llu MiB)",
                                                p->name, (unsigned long long)p->size,
                                                BTRFS_MIN_SIZE >> 20);
                if (mkdir(disks, 0700) < 0 && errno != EEXIST)
                        return vessel_error_sys(err, "storage pool %s: mkdir %s", p->name, disks);
                made = disk_path(s, p->name);
                fd = open(made, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
                if (fd < 0)
                        return vessel_error_sys(err, "storage pool %s: create %s", p->name, made);
                if (ftruncate(fd, (off_t)p->size) < 0) {
                        r = vessel_error_sys(err, "storage pool %s: size %s", p->name, made);
                        unlink(made);
                        return r;
                }
                free(p->source);
                p->source = xstrdup(made);
        } else if (stat(p->source, &st) < 0) {
                return vessel_error_sys(err, "storage pool %s: source %s", p->name, p->source);
        } else if (!S_ISBLK(st.st_mode) && !S_ISREG(st.st_mode)) {
                return vessel_error_msg(err, EINVAL,
                                        "storage pool %s: source %s is neither a directory, a "
                                        "block device nor a file",
                                        p->name, p->source);
        }
        fs = probe_fs(p->source);
        if (!fs)
                r = vessel_error_msg(err, EIO, "storage pool %s: cannot tell what %s holds (blkid)",
                                     p->name, p->source);
        else if (fs[0] && strcmp(fs, "btrfs"))
                r = vessel_error_msg(err, EEXIST,
                                     "storage pool %s: %s holds a %s file system: refusing to "
                                     "format it (wipefs it first if it is not needed)",
                                     p->name, p->source, fs);
        else if (!fs[0]) {
                _cleanup_free_ char *what =
                    xasprintf("storage pool %s: formatting %s", p->name, p->source);
                char *argv[] = {"mkfs.btrfs", "-q", "-L", p->name, "--", p->source, NULL};
                r = storage_run(argv, what, err);
        } else
                r = 0;
        if (r == 0 && mkdir(p->path, 0711) < 0)
                r = vessel_error_sys(err, "storage pool %s: mkdir %s", p->name, p->path);
        if (r == 0 && (r = mount_source(s, p, err)) < 0)
                rmdir(p->path);
        if (r == 0 && (r = pool_subdirs_create(p, err)) < 0) {
                umount2(p->path, MNT_DETACH);
                rmdir(p->path);
        }
        if (r < 0 && made)
                unlink(made);
        return r;
}

static int btrfs_activate(struct vessel_store *s, struct storage_pool *p, vessel_error **err)
{
        struct stat st;

        if (stat(p->source, &st) == 0 && S_ISDIR(st.st_mode)) {
                if (!storage_fs_is(p->path, BTRFS_SUPER_MAGIC))
                        return vessel_error_msg(err, ENODEV,
                                                "storage pool %s: %s is not on btrfs (is its file "
                                                "system mounted?)",
                                                p->name, p->source);
                return 0;
        }
        if (is_mount_of_btrfs(p->path))
                return 0;
        if (mkdir(p->path, 0711) < 0 && errno != EEXIST)
                return vessel_error_sys(err, "storage pool %s: mkdir %s", p->name, p->path);
        if (mount_source(s, p, err) < 0)
                return -EIO;
        fprintf(stderr, "vesselctl: storage pool %s: mounted %s on %s\n", p->name, p->source,
                p->path);
        return 0;
}

static int btrfs_destroy(struct vessel_store *s, struct storage_pool *p, vessel_error **err)
{
        struct stat st;

        if (stat(p->source, &st) == 0 && S_ISDIR(st.st_mode))
                return pool_dirs_destroy(s, p, err);
        if (images_remove(s, p, err) < 0)
                return -EIO;
        pool_subdirs_remove(p);
        if (is_mount_of_btrfs(p->path) && umount2(p->path, 0) < 0 &&
            umount2(p->path, MNT_DETACH) < 0)
                return vessel_error_sys(err, "storage pool %s: unmount %s", p->name, p->path);
        rmdir(p->path);
        if (p->size) {
                _cleanup_free_ char *made = disk_path(s, p->name);
                if (unlink(made) < 0 && errno != ENOENT)
                        return vessel_error_sys(err, "storage pool %s: remove %s", p->name, made);
        }
        return 0;
}

static char *btrfs_rootfs_rel(const char *vol)
{
        return xstrdup(vol);
}

/* The subvolume work, in this process or (a rootless store) as root of
 * the user namespace of its ids, where recursion (which needs
 * CAP_SYS_ADMIN) is not to be had: an instance's own subvolumes are not
 * snapshotted with it there, and must be gone before it is deleted. */
struct subvol_job {
        enum subvol_op op;
        const char *from, *to;
        bool recursive;
};

static int subvol_fn(void *arg, vessel_error **err)
{
        struct subvol_job *j = arg;
        enum btrfs_util_error e;

        errno = 0;
        switch (j->op) {
        case SV_CREATE:
                if ((e = btrfs_util_create_subvolume(j->to, 0, NULL, NULL)))
                        return bu_error(err, e, "creating subvolume", j->to);
                return 0;
        case SV_SNAPSHOT:
                if ((e = btrfs_util_create_snapshot(
                         j->from, j->to, j->recursive ? BTRFS_UTIL_CREATE_SNAPSHOT_RECURSIVE : 0,
                         NULL, NULL)))
                        return bu_error(err, e, "snapshotting into", j->to);
                return 0;
        case SV_DELETE:
                if ((e = btrfs_util_delete_subvolume(
                         j->to, j->recursive ? BTRFS_UTIL_DELETE_SUBVOLUME_RECURSIVE : 0)))
                        return bu_error(err, e, "deleting subvolume", j->to);
                return 0;
        }
        return -EINVAL;
}

static int subvol(struct vessel_store *s, enum subvol_op op, const char *from, const char *to,
                  vessel_error **err)
{
        struct subvol_job j = {op, from, to, !store_is_rootless(s)};

        return storage_as_store(s, "btrfs subvolume", subvol_fn, &j, err);
}

/* A subvolume vol holding a copy of the tree at src. */
static int subvolume_from_tree(struct vessel_store *s, struct storage_pool *p, const char *src,
                               const char *vol, vessel_error **err)
{
        _cleanup_free_ char *to = pool_abs(p, vol), *from = xasprintf("%s/.", src);
        int r;

        if ((r = subvol(s, SV_CREATE, NULL, to, err)) < 0)
                return r;
        /* cp into the subvolume it now is (a directory for cp -T). */
        r = storage_cp(s, from, to, err);
        if (r < 0)
                subvol(s, SV_DELETE, NULL, to, NULL);
        return r;
}

static int btrfs_image_create(struct vessel_store *s, struct storage_pool *p, const char *src,
                              const char *vol, vessel_error **err)
{
        return subvolume_from_tree(s, p, src, vol, err);
}

static int btrfs_from_tree(struct vessel_store *s, struct storage_pool *p, const char *src,
                           const char *vol, vessel_error **err)
{
        return subvolume_from_tree(s, p, src, vol, err);
}

static int btrfs_clone(struct vessel_store *s, struct storage_pool *p, const char *src,
                       const char *vol, vessel_error **err)
{
        _cleanup_free_ char *from = pool_abs(p, src), *to = pool_abs(p, vol);

        return subvol(s, SV_SNAPSHOT, from, to, err);
}

static int btrfs_create_vol(struct vessel_store *s, struct storage_pool *p, const char *vol,
                            vessel_error **err)
{
        _cleanup_free_ char *to = pool_abs(p, vol);
        enum btrfs_util_error e;

        (void)s;
        errno = 0;
        if ((e = btrfs_util_create_subvolume(to, 0, NULL, NULL)))
                return bu_error(err, e, "creating subvolume", to);
        return 0;
}

static int btrfs_delete(struct vessel_store *s, struct storage_pool *p, const char *vol,
                        vessel_error **err)
{
        _cleanup_free_ char *path = pool_abs(p, vol);

        if (access(path, F_OK) < 0 && errno == ENOENT)
                return 0;
        if (btrfs_util_is_subvolume(path) != BTRFS_UTIL_OK)
                return storage_rm(s, path, err); /* a half-made one */
        return subvol(s, SV_DELETE, NULL, path, err);
}

/* A quota group limit on the subvolume (max referenced bytes); quotas
 * are enabled on the file system by the first limit. */
static int btrfs_quota(struct vessel_store *s, struct storage_pool *p, const char *vol,
                       uint64_t bytes, vessel_error **err)
{
        _cleanup_free_ char *path = pool_abs(p, vol);
        _cleanup_close_ int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct btrfs_ioctl_qgroup_limit_args lim = {
            .lim = {.flags = BTRFS_QGROUP_LIMIT_MAX_RFER,
                    .max_rfer = bytes ? bytes : (uint64_t)-1}};

        (void)s;
        if (fd < 0)
                return vessel_error_sys(err, "storage pool %s: open %s", p->name, path);
        if (ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, &lim) == 0)
                return 0;
        /* No limit wanted: none to lift without quotas, nor where this
         * process may not set one (a rootless store: none was set). */
        if (!bytes && (errno == ENOTCONN || errno == ENOENT || errno == EPERM))
                return 0;
        if (store_is_rootless(s) && errno == EPERM)
                return vessel_error_msg(err, EPERM,
                                        "storage pool %s: root disk size=: quota group limits "
                                        "need root (a rootless store cannot set them)",
                                        p->name);
        if (errno != ENOTCONN && errno != ENOENT)
                return vessel_error_sys(err, "storage pool %s: quota group limit on %s", p->name,
                                        path);
        struct btrfs_ioctl_quota_ctl_args ctl = {.cmd = BTRFS_QUOTA_CTL_ENABLE};
        _cleanup_close_ int root = open(p->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (root < 0 || ioctl(root, BTRFS_IOC_QUOTA_CTL, &ctl) < 0)
                return vessel_error_sys(err, "storage pool %s: enabling quotas on %s", p->name,
                                        p->path);
        if (ioctl(fd, BTRFS_IOC_QGROUP_LIMIT, &lim) < 0)
                return vessel_error_sys(err, "storage pool %s: quota group limit on %s", p->name,
                                        path);
        return 0;
}

static int btrfs_usage(struct vessel_store *s, struct storage_pool *p, const char *vol,
                       uint64_t *bytes, vessel_error **err)
{
        _cleanup_free_ char *path = pool_abs(p, vol);

        (void)s;
        return storage_du(path, bytes, err);
}

const struct storage_ops storage_btrfs_ops = {
    .name = "btrfs",
    .rootless = true,
    .image_volumes = true,
    .quota = true,
    .create = btrfs_create,
    .activate = btrfs_activate,
    .destroy = btrfs_destroy,
    .rootfs_rel = btrfs_rootfs_rel,
    .image_create = btrfs_image_create,
    .volume_clone = btrfs_clone,
    .volume_from_tree = btrfs_from_tree,
    .volume_delete = btrfs_delete,
    .volume_quota = btrfs_quota,
    .volume_create = btrfs_create_vol,
    .volume_usage = btrfs_usage,
};
