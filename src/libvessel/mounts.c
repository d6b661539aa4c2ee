#include "mounts.h"
#include "cgroup.h"
#include "idmap.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sendfile.h>
#include <linux/magic.h>
#include <linux/openat2.h>

int mount_set_attr(int fd, uint64_t set, uint64_t clr, unsigned long propagation, bool rec)
{
        struct mount_attr attr = {.attr_set = set, .attr_clr = clr, .propagation = propagation};

        if (!set && !clr && !propagation)
                return 0;
        if (mount_setattr(fd, "", AT_EMPTY_PATH | (rec ? AT_RECURSIVE : 0), &attr, sizeof(attr)) < 0)
                return -errno;
        return 0;
}

static int attach(int mntfd, int targetfd)
{
        if (move_mount(mntfd, "", targetfd, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
                return -errno;
        return 0;
}

int mount_attach_fd(int tree, int targetfd, uint64_t attr_set, vessel_error **err)
{
        int r;

        if (attr_set && (r = mount_set_attr(tree, attr_set, 0, 0, false)) < 0)
                return vessel_error_set(err, -r, "mount_setattr");
        if ((r = attach(tree, targetfd)) < 0)
                return vessel_error_set(err, -r, "move_mount");
        return 0;
}

int mount_bind_fd(int dirfd, const char *src, int targetfd, bool recursive, uint64_t attr_set,
                  vessel_error **err)
{
        _cleanup_close_ int tree = open_tree(dirfd, src ? src : "",
                                             OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                                                     (src && *src ? 0 : AT_EMPTY_PATH) |
                                                     (recursive ? AT_RECURSIVE : 0));
        int r;

        if (tree < 0)
                return vessel_error_sys(err, "open_tree %s", src && *src ? src : "(fd)");
        if (attr_set && (r = mount_set_attr(tree, attr_set, 0, 0, recursive)) < 0)
                return vessel_error_set(err, -r, "mount_setattr %s", src ? src : "(fd)");
        if ((r = attach(tree, targetfd)) < 0)
                return vessel_error_set(err, -r, "move_mount %s", src ? src : "(fd)");
        return 0;
}

/* Collect the kernel's messages from an fs context ("e Unknown parameter 'x'"). */
static char *fs_context_log(int fsfd)
{
        char buf[512], *all = NULL;
        ssize_t n;

        while ((n = read(fsfd, buf, sizeof(buf) - 1)) > 0) {
                char *tmp;
                buf[n] = '\0';
                while (n > 0 && buf[n - 1] == '\n')
                        buf[--n] = '\0';
                if (n > 2 && buf[1] == ' ')
                        memmove(buf, buf + 2, (size_t)n - 1);
                tmp = xasprintf("%s%s%s", all ? all : "", all ? "; " : "", buf);
                free(all);
                all = tmp;
        }
        return all;
}

static int fs_error(int fsfd, int e, vessel_error **err, const char *what, const char *type)
{
        _cleanup_free_ char *log = fs_context_log(fsfd);
        if (log)
                return vessel_error_set(err, e, "%s %s (%s)", what, type, log);
        return vessel_error_set(err, e, "%s %s", what, type);
}

/* Create a new file system instance and return a detached mount fd. */
static int fs_new_mount(const char *type, const char *source, char *const *data, unsigned long sbflags,
                        uint64_t attrs, vessel_error **err)
{
        static const struct {
                unsigned long flag;
                const char *name;
        } sbflag_names[] = {{MS_SYNCHRONOUS, "sync"}, {MS_DIRSYNC, "dirsync"},
                            {MS_MANDLOCK, "mand"},    {MS_LAZYTIME, "lazytime"}};
        _cleanup_close_ int fsfd = fsopen(type, FSOPEN_CLOEXEC);
        int mfd;

        if (fsfd < 0) {
                if (errno == ENODEV)
                        return vessel_error_set(err, ENODEV, "fsopen %s: unknown file system type", type);
                return vessel_error_sys(err, "fsopen %s", type);
        }
        if (source && fsconfig(fsfd, FSCONFIG_SET_STRING, "source", source, 0) < 0)
                return fs_error(fsfd, errno, err, "fsconfig source for", type);
        for (size_t i = 0; data && data[i]; i++) {
                char *eq = strchr(data[i], '=');
                int r;
                if (eq) {
                        _cleanup_free_ char *key = strndup(data[i], (size_t)(eq - data[i]));
                        r = fsconfig(fsfd, FSCONFIG_SET_STRING, key, eq + 1, 0);
                } else {
                        r = fsconfig(fsfd, FSCONFIG_SET_FLAG, data[i], NULL, 0);
                }
                if (r < 0) {
                        _cleanup_free_ char *what = xasprintf("option \"%s\" for", data[i]);
                        return fs_error(fsfd, errno, err, what, type);
                }
        }
        for (size_t i = 0; i < ARRAY_SIZE(sbflag_names); i++)
                if ((sbflags & sbflag_names[i].flag) &&
                    fsconfig(fsfd, FSCONFIG_SET_FLAG, sbflag_names[i].name, NULL, 0) < 0)
                        return fs_error(fsfd, errno, err, sbflag_names[i].name, type);
        if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return fs_error(fsfd, errno, err, "mount", type);
        mfd = fsmount(fsfd, FSMOUNT_CLOEXEC, (unsigned int)attrs);
        if (mfd < 0)
                return fs_error(fsfd, errno, err, "fsmount", type);
        return mfd;
}

int mount_tmpfs_fd(int targetfd, const char *data, uint64_t attr_set, vessel_error **err)
{
        char *opts[] = {(char *)data, NULL};
        _cleanup_close_ int mfd = fs_new_mount("tmpfs", "tmpfs", data ? opts : NULL, 0, attr_set, err);
        int r;

        if (mfd < 0)
                return mfd;
        if ((r = attach(mfd, targetfd)) < 0)
                return vessel_error_set(err, -r, "move_mount tmpfs");
        return 0;
}

static int copy_file(int srcdir, int dstdir, const char *name, const struct stat *st,
                     vessel_error **err)
{
        _cleanup_close_ int in = openat(srcdir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int out = -1;
        off_t left = st->st_size;

        if (in < 0)
                return vessel_error_sys(err, "tmpcopyup: open %s", name);
        out = openat(dstdir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     st->st_mode & 07777);
        if (out < 0)
                return vessel_error_sys(err, "tmpcopyup: create %s", name);
        while (left > 0) {
                ssize_t n = sendfile(out, in, NULL, (size_t)left);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        return vessel_error_sys(err, "tmpcopyup: copy %s", name);
                left -= n;
        }
        return 0;
}

int copy_tree(int srcfd, int dstfd, vessel_error **err)
{
        int dfd = openat(srcfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d;
        struct dirent *de;
        int r = 0;

        if (dfd < 0)
                return vessel_error_sys(err, "tmpcopyup: open directory");
        d = fdopendir(dfd);
        if (!d) {
                close(dfd);
                return vessel_error_sys(err, "tmpcopyup: fdopendir");
        }
        while (r == 0 && (de = readdir(d))) {
                struct stat st;
                const char *n = de->d_name;

                if (!strcmp(n, ".") || !strcmp(n, ".."))
                        continue;
                if (fstatat(dirfd(d), n, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                        r = vessel_error_sys(err, "tmpcopyup: stat %s", n);
                        break;
                }
                if (S_ISDIR(st.st_mode)) {
                        _cleanup_close_ int s = -1, t = -1;
                        if (mkdirat(dstfd, n, st.st_mode & 07777) < 0) {
                                r = vessel_error_sys(err, "tmpcopyup: mkdir %s", n);
                                break;
                        }
                        s = openat(dirfd(d), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        t = openat(dstfd, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        if (s < 0 || t < 0) {
                                r = vessel_error_sys(err, "tmpcopyup: open %s", n);
                                break;
                        }
                        r = copy_tree(s, t, err);
                } else if (S_ISREG(st.st_mode)) {
                        r = copy_file(dirfd(d), dstfd, n, &st, err);
                } else if (S_ISLNK(st.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t len = readlinkat(dirfd(d), n, target, sizeof(target) - 1);
                        if (len < 0 || (target[len] = '\0', symlinkat(target, dstfd, n) < 0))
                                r = vessel_error_sys(err, "tmpcopyup: symlink %s", n);
                } else if (mknodat(dstfd, n, st.st_mode, st.st_rdev) < 0) {
                        r = vessel_error_sys(err, "tmpcopyup: mknod %s", n);
                }
                if (r == 0 && fchownat(dstfd, n, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) < 0 &&
                    errno != EINVAL)
                        r = vessel_error_sys(err, "tmpcopyup: chown %s", n);
        }
        closedir(d);
        return r;
}

bool mount_is_bind(const struct vessel_mount *m)
{
        return m->opts.bind || (m->type && (!strcmp(m->type, "bind") || !strcmp(m->type, "rbind")));
}

static int mount_cgroup(const struct mount_ctx *ctx, int targetfd, const struct vessel_mount *m,
                        vessel_error **err);

/* procfs and sysfs must land where the config says (CVE-2019-19921): a
 * symlink in the rootfs could move /proc elsewhere and leave a fake one at
 * /proc for the runtime's later writes (LSM labels) to go to. */
static int check_no_symlinks(int rootfd, const char *dest, vessel_error **err)
{
        struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                               .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS};
        const char *rel = dest;
        int fd;

        while (*rel == '/')
                rel++;
        fd = (int)syscall(SYS_openat2, rootfd, *rel ? rel : ".", &how, sizeof(how));
        if (fd >= 0) {
                close(fd);
                return 0;
        }
        if (errno == ELOOP)
                return vessel_error_msg(err, ELOOP, "destination %s must not be (or pass through) a "
                                                    "symlink in the rootfs",
                                        dest);
        return errno == ENOENT ? 0 : vessel_error_sys(err, "open %s in the rootfs", dest);
}

/* ---------------------------------------------------------- bind sources
 *
 * A bind mount's source is cloned (open_tree) by the runtime, before the
 * container exists: in the host's mount namespace, with the runtime's
 * credentials.  init, already in the container's user namespace, may not
 * be able to reach the source at all (a directory only host root can
 * traverse), nor idmap it (that takes privilege over the source's file
 * system).  init attaches the detached clone with move_mount. */

static bool mount_wants_idmap(const struct vessel_mount *m)
{
        return m->opts.idmap || m->opts.ridmap || m->n_uid_mappings || m->n_gid_mappings;
}

static bool mount_is_rbind(const struct vessel_mount *m)
{
        return m->opts.rbind || (m->type && !strcmp(m->type, "rbind"));
}

static char *bind_source_path(const struct vessel_mount *m, const char *bundle)
{
        return m->source[0] == '/' ? xstrdup(m->source) : xasprintf("%s/%s", bundle, m->source);
}

/* A detached clone of the source; only rbind takes its sub-mounts along. */
static int clone_source(const struct vessel_mount *m, const char *src)
{
        return open_tree(AT_FDCWD, src,
                         OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC |
                             (mount_is_rbind(m) ? AT_RECURSIVE : 0));
}

/* The options of a bind mount, applied to its clone before it is attached:
 * first the propagation it starts with (prop, or 0 to keep the source's),
 * then what ro, nosuid, ... set and clear on the mount, then the r*
 * options on every mount of the tree. */
static int set_bind_attrs(int fd, const struct vessel_mount *m, unsigned long prop, size_t index,
                          const char *src, vessel_error **err)
{
        const struct vessel_mount_opts *o = &m->opts;
        int r;

        if (prop && (r = mount_set_attr(fd, 0, 0, prop, true)) < 0)
                return vessel_error_set(
                    err, -r, "mounts[%zu]: set the propagation of the bind of %s", index, src);
        if ((r = mount_set_attr(fd, o->attr_set, o->attr_clr, 0, false)) < 0)
                return vessel_error_set(err, -r, "mounts[%zu]: mount_setattr on the bind of %s",
                                        index, src);
        if ((r = mount_set_attr(fd, o->rec_attr_set, o->rec_attr_clr, 0, true)) < 0)
                return vessel_error_set(
                    err, -r, "mounts[%zu]: recursive mount_setattr on the bind of %s", index, src);
        return 0;
}

/* Idmap a clone through a user namespace with the mount's own maps, or
 * else the container's. */
static int set_idmap(int fd, const struct vessel_spec *spec, const struct vessel_mount *m,
                     size_t index, const char *src, vessel_error **err)
{
        const struct vessel_linux *lx = &spec->linux_;
        bool own = m->n_uid_mappings || m->n_gid_mappings;
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP};
        int userns, r = 0;

        if (!own && (!lx->n_uid_mappings || !lx->n_gid_mappings))
                return vessel_error_msg(err, EINVAL,
                                        "mounts[%zu]: \"idmap\" needs uidMappings and gidMappings, "
                                        "of the mount or of a user namespace",
                                        index);
        userns = own ? idmap_userns_fd(m->uid_mappings, m->n_uid_mappings, m->gid_mappings,
                                       m->n_gid_mappings, err)
                     : idmap_userns_fd(lx->uid_mappings, lx->n_uid_mappings, lx->gid_mappings,
                                       lx->n_gid_mappings, err);
        if (userns < 0)
                return vessel_error_prefix(err, "mounts[%zu]", index);
        attr.userns_fd = (uint64_t)userns;
        if (mount_setattr(fd, "", AT_EMPTY_PATH | (m->opts.ridmap ? AT_RECURSIVE : 0), &attr,
                          sizeof(attr)) < 0)
                r = vessel_error_sys(err,
                                     "mounts[%zu]: idmapped mount of %s (does its file system "
                                     "support idmapped mounts?)",
                                     index, src);
        close(userns);
        return r;
}

/* The runtime's half of mounts[index]: *out is the prepared clone, or -1
 * when init is to open the source itself. */
static int prepare_source(const struct vessel_spec *spec, size_t index, const char *bundle,
                          int *out, vessel_error **err)
{
        const struct vessel_mount *m = &spec->mounts[index];
        const struct vessel_linux *lx = &spec->linux_;
        bool idmap = mount_wants_idmap(m);
        _cleanup_free_ char *src = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        *out = -1;
        if (!mount_is_bind(m))
                return idmap ? vessel_error_msg(err, EINVAL,
                                                "mounts[%zu]: idmapped mounts need a bind mount",
                                                index)
                             : 0;
        /* In a mount namespace joined by path, sources name paths of that
         * namespace: init, once inside, opens them. */
        if (lx->ns[VESSEL_NS_MNT].path && !idmap)
                return 0;
        if (!m->source)
                return vessel_error_msg(err, EINVAL,
                                        "mounts[%zu].source: required for a bind mount", index);
        src = bind_source_path(m, bundle);
        fd = clone_source(m, src);
        /* Without privilege over our own mount namespace (rootless) there
         * is no cloning here, and an O_PATH fd would not do: the kernel
         * clones only mounts of the caller's own namespace (EINVAL).  init
         * clones the source by its name then; a rootless container's root
         * is most often the caller's uid, and reaches what the caller does. */
        if (fd < 0 && errno == EPERM && !idmap)
                return 0;
        if (fd < 0)
                return vessel_error_sys(err, "mounts[%zu]: bind source %s", index, src);
        if (idmap && (r = set_idmap(fd, spec, m, index, src, err)) < 0)
                return r;
        /* A clone is a peer of its source: made a slave (or private), as
         * rootfs_prepare makes the container's tree, so that nothing
         * mounted in the container propagates back to the host. */
        r = set_bind_attrs(fd, m, lx->rootfs_propagation & MS_PRIVATE ? MS_PRIVATE : MS_SLAVE,
                           index, src, err);
        if (r < 0)
                return r;
        *out = steal_fd(&fd);
        return 0;
}

int mounts_prepare_sources(const struct vessel_spec *spec, const char *bundle, int **out,
                           vessel_error **err)
{
        int *fds = xmalloc0(sizeof(int) * (spec->n_mounts + 1));
        int r;

        *out = fds;
        for (size_t i = 0; i < spec->n_mounts; i++)
                fds[i] = -1;
        for (size_t i = 0; i < spec->n_mounts; i++)
                if ((r = prepare_source(spec, i, bundle, &fds[i], err)) < 0)
                        return r;
        return 0;
}

void mounts_close_sources(int *fds, size_t n)
{
        for (size_t i = 0; fds && i < n; i++)
                closep(&fds[i]);
        free(fds);
}

/* init's half: the runtime's clone, or one made here (see prepare_source). */
static int bind_source_tree(const struct mount_ctx *ctx, const struct vessel_mount *m, size_t index,
                            vessel_error **err)
{
        _cleanup_free_ char *src = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        if (ctx->source_fds && ctx->source_fds[index] >= 0) {
                r = fcntl(ctx->source_fds[index], F_DUPFD_CLOEXEC, 3);
                return r < 0 ? vessel_error_sys(err, "mounts[%zu]: dup the bind of %s", index,
                                                m->source)
                             : r;
        }
        if (!m->source)
                return vessel_error_msg(err, EINVAL,
                                        "mounts[%zu].source: required for a bind mount", index);
        src = bind_source_path(m, ctx->bundle);
        fd = clone_source(m, src);
        if (fd < 0)
                return vessel_error_sys(err, "mounts[%zu]: bind source %s", index, src);
        /* Our tree is already a slave of the host's (rootfs_prepare). */
        if ((r = set_bind_attrs(fd, m, 0, index, src, err)) < 0)
                return r;
        return steal_fd(&fd);
}

int mount_one(const struct mount_ctx *ctx, const struct vessel_mount *m, size_t index,
              vessel_error **err)
{
        const struct vessel_mount_opts *o = &m->opts;
        _cleanup_close_ int target = -1, mfd = -1;
        bool bind = mount_is_bind(m);
        int r;

        if (bind) {
                struct stat st;

                mfd = bind_source_tree(ctx, m, index, err);
                if (mfd < 0)
                        return mfd;
                if (fstat(mfd, &st) < 0)
                        return vessel_error_sys(err, "mounts[%zu]: stat %s", index, m->source);
                target = path_open_in_root(ctx->rootfd, m->destination,
                                           S_ISDIR(st.st_mode) ? RESOLVE_CREATE_DIR : RESOLVE_CREATE_FILE,
                                           err);
                if (target < 0)
                        return vessel_error_prefix(err, "mounts[%zu]", index);
        } else if (o->remount) {
                target = path_open_in_root(ctx->rootfd, m->destination, RESOLVE_CREATE_NONE, err);
                if (target < 0)
                        return vessel_error_prefix(err, "mounts[%zu]", index);
                r = mount_set_attr(target, o->attr_set, o->attr_clr, o->propagation, o->propagation_rec);
                if (r < 0)
                        return vessel_error_set(err, -r, "mounts[%zu]: remount %s", index, m->destination);
                return 0;
        } else {
                const char *type = m->type;

                if (!type)
                        return vessel_error_set(err, EINVAL, "mounts[%zu].type: required for a non-bind mount", index);
                if ((!strcmp(type, "proc") || !strcmp(type, "sysfs")) &&
                    (r = check_no_symlinks(ctx->rootfd, m->destination, err)) < 0)
                        return vessel_error_prefix(err, "mounts[%zu]", index);
                target = path_open_in_root(ctx->rootfd, m->destination, RESOLVE_CREATE_DIR, err);
                if (target < 0)
                        return vessel_error_prefix(err, "mounts[%zu]", index);
                if (!strcmp(type, "cgroup") || !strcmp(type, "cgroup2")) {
                        r = mount_cgroup(ctx, target, m, err);
                        return r < 0 ? vessel_error_prefix(err, "mounts[%zu]", index) : 0;
                }
                mfd = fs_new_mount(type, m->source ? m->source : type, o->data, o->flags,
                                   o->attr_set, err);
                if (mfd == -EINVAL && ctx->userns && !strcmp(type, "devpts")) {
                        /* gid=5 (tty) is often not mapped in a user namespace:
                         * mount without it, as runc and crun do. */
                        _cleanup_strv_ char **data = NULL;
                        for (size_t i = 0; o->data && o->data[i]; i++)
                                if (!str_has_prefix(o->data[i], "gid="))
                                        data = strv_append(data, o->data[i]);
                        vessel_error_free(err);
                        mfd = fs_new_mount(type, m->source ? m->source : type, data, o->flags,
                                           o->attr_set, err);
                }
                if (mfd < 0)
                        return vessel_error_prefix(err, "mounts[%zu] (%s)", index, m->destination);
                if (o->tmpcopyup) {
                        _cleanup_close_ int dst = openat(mfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        struct stat st;
                        if (dst < 0)
                                return vessel_error_sys(err, "mounts[%zu]: open new %s", index, type);
                        if (fstat(target, &st) == 0) {
                                if (fchmod(dst, st.st_mode & 07777) < 0 ||
                                    fchown(dst, st.st_uid, st.st_gid) < 0)
                                        return vessel_error_sys(err, "mounts[%zu]: tmpcopyup", index);
                        }
                        r = copy_tree(target, dst, err);
                        if (r < 0)
                                return vessel_error_prefix(err, "mounts[%zu] (%s)", index, m->destination);
                }
        }
        r = attach(mfd, target);
        if (r < 0)
                return vessel_error_set(err, -r, "mounts[%zu]: move_mount onto %s", index, m->destination);
        /* (A bind's clone has them already.) */
        if (!bind && (o->rec_attr_set || o->rec_attr_clr)) {
                r = mount_set_attr(mfd, o->rec_attr_set, o->rec_attr_clr, 0, true);
                if (r < 0)
                        return vessel_error_set(err, -r, "mounts[%zu]: recursive mount_setattr on %s",
                                                index, m->destination);
        }
        if (o->propagation) {
                r = mount_set_attr(mfd, 0, 0, o->propagation, o->propagation_rec);
                if (r < 0)
                        return vessel_error_set(err, -r, "mounts[%zu]: set propagation of %s", index,
                                                m->destination);
        }
        return 0;
}

/* One hierarchy for the container: in a cgroup namespace a new mount,
 * whose root is the namespace's root, the container's cgroup; without
 * one, a bind of the container's own cgroup directory, never the whole
 * hierarchy. */
static int mount_cgroup_hier(const struct mount_ctx *ctx, const struct cgroup_mount *c, int targetfd,
                             uint64_t attrs, vessel_error **err)
{
        _cleanup_close_ int mfd = -1;
        _cleanup_free_ char *src = NULL;
        int r;

        if (!ctx->cgroupns) {
                src = *c->own ? xasprintf("%s/%s", c->mountpoint, c->own) : xstrdup(c->mountpoint);
                return mount_bind_fd(AT_FDCWD, src, targetfd, false, attrs, err);
        }
        mfd = fs_new_mount(c->v2 ? "cgroup2" : "cgroup", "cgroup", c->v2 ? NULL : c->options, 0, attrs,
                           err);
        if (mfd < 0)
                return vessel_error_prefix(err, "cgroup %s", c->mountpoint);
        if ((r = attach(mfd, targetfd)) < 0)
                return vessel_error_set(err, -r, "move_mount cgroup %s", c->mountpoint);
        return 0;
}

/* The host's symlinks between hierarchies (cpu -> cpu,cpuacct). */
static void copy_cgroup_links(int tmpdir)
{
        DIR *d = opendir("/sys/fs/cgroup");
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                char target[256];
                ssize_t n;
                if (de->d_type != DT_LNK)
                        continue;
                n = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);
                if (n <= 0 || memchr(target, '/', (size_t)n))
                        continue;
                target[n] = '\0';
                symlinkat(target, tmpdir, de->d_name);
        }
        closedir(d);
}

/* The "vessel.rw=NAME" options of a cgroup mount: NAME is the hierarchy's
 * name below /sys/fs/cgroup ("systemd", "memory", "cpu,cpuacct"); the
 * cgroup2 hierarchy is "unified" wherever the host mounts it. */
static bool cgroup_hier_rw(char *const *data, const struct cgroup_mount *c)
{
        const char *name = c->v2 ? "unified" : c->name;

        for (size_t i = 0; data && data[i]; i++)
                if (str_has_prefix(data[i], CGROUP_MOUNT_RW_OPT) &&
                    !strcmp(data[i] + strlen(CGROUP_MOUNT_RW_OPT), name))
                        return true;
        return false;
}

/* Every data option of a cgroup mount must be a "vessel.rw=" (the kernel
 * takes none from us: the hierarchies are mounted as the host has them). */
static int cgroup_check_data(char *const *data, vessel_error **err)
{
        for (size_t i = 0; data && data[i]; i++) {
                if (!str_has_prefix(data[i], CGROUP_MOUNT_RW_OPT))
                        return vessel_error_msg(
                            err, EINVAL, "cgroup mount: unknown option \"%s\" (only \"%sNAME\")",
                            data[i], CGROUP_MOUNT_RW_OPT);
                if (!data[i][strlen(CGROUP_MOUNT_RW_OPT)])
                        return vessel_error_msg(err, EINVAL,
                                                "cgroup mount: \"%s\" names no hierarchy", data[i]);
        }
        return 0;
}

/* v1 and hybrid: a tmpfs holding one mount per hierarchy, named as on the
 * host (cgroup2 at "unified"); the ones named by "vessel.rw=" writable. */
static int mount_cgroup_tree(const struct mount_ctx *ctx, int targetfd,
                             const struct cgroup_mount *c, size_t n, uint64_t base, uint64_t ro,
                             char *const *data, vessel_error **err)
{
        _cleanup_close_ int tmp = -1, dir = -1;
        bool rw;
        int r;

        tmp = fs_new_mount("tmpfs", "tmpfs", (char *[]){"mode=755", NULL}, 0, base, err);
        if (tmp < 0)
                return tmp;
        dir = openat(tmp, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0)
                return vessel_error_sys(err, "open cgroup tmpfs");
        if ((r = attach(tmp, targetfd)) < 0)
                return vessel_error_set(err, -r, "move_mount cgroup tmpfs");
        for (size_t i = 0; i < n; i++) {
                _cleanup_close_ int sub = -1;
                if (mkdirat(dir, c[i].name, 0755) < 0 && errno != EEXIST)
                        return vessel_error_sys(err, "mkdir cgroup %s", c[i].name);
                sub = openat(dir, c[i].name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub < 0)
                        return vessel_error_sys(err, "open cgroup %s", c[i].name);
                rw = cgroup_hier_rw(data, &c[i]);
                if ((r = mount_cgroup_hier(ctx, &c[i], sub, base | (rw ? 0 : ro), err)) < 0)
                        return r;
        }
        copy_cgroup_links(dir);
        /* The tmpfs is made read-only last, once its mount points exist. */
        if (ro && (r = mount_set_attr(tmp, MOUNT_ATTR_RDONLY, 0, 0, false)) < 0)
                return vessel_error_set(err, -r, "make the cgroup tmpfs read-only");
        return 0;
}

/* "cgroup": what the host has, as the container should see it: on a v2
 * host one cgroup2 mount, on v1 and hybrid hosts a tree of them.
 * "cgroup2": the cgroup2 hierarchy alone.  Read-only unless the options
 * say "rw", or "vessel.rw=NAME" for that hierarchy (docs/cgroups.md). */
static int mount_cgroup(const struct mount_ctx *ctx, int targetfd, const struct vessel_mount *m,
                        vessel_error **err)
{
        uint64_t ro = m->opts.attr_clr & MOUNT_ATTR_RDONLY ? 0 : MOUNT_ATTR_RDONLY;
        uint64_t base = m->opts.attr_set & ~MOUNT_ATTR_RDONLY;
        bool only_v2 = !strcmp(m->type, "cgroup2");
        struct cgroup_mount *c;
        size_t n;
        int r;

        if ((r = cgroup_check_data(m->opts.data, err)) < 0)
                return r;
        if ((r = cgroup_mounts_self(&c, &n, err)) < 0)
                return r;
        if (only_v2 || (n == 1 && c[0].v2)) {
                size_t i = 0;
                while (i < n && !c[i].v2)
                        i++;
                if (i < n && cgroup_hier_rw(m->opts.data, &c[i]))
                        r = mount_cgroup_hier(ctx, &c[i], targetfd, base, err);
                else if (i < n)
                        r = mount_cgroup_hier(ctx, &c[i], targetfd, base | ro, err);
                else
                        r = vessel_error_msg(err, ENOENT, "no cgroup2 file system on this host");
        } else {
                r = mount_cgroup_tree(ctx, targetfd, c, n, base, ro, m->opts.data, err);
        }
        cgroup_mounts_free(c, n);
        return r;
}
