/* instance-file.c: push, pull and delete files in an instance's rootfs,
 * confined to it (see instance-file.h). */
#include "instance-file.h"
#include "resolve.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "instance.h"
#include "util.h"

#define PUSH_TMP_PREFIX ".vessel-push-"

/* --- pure helpers --------------------------------------------------------- */

char *file_path_clean(const char *path)
{
        _cleanup_free_ char *copy = xstrdup(path);
        char *out = xmalloc0(strlen(path) + 2), *save = NULL;
        size_t n = 0;

        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (!strcmp(c, "."))
                        continue;
                if (!strcmp(c, "..")) {
                        while (n > 0 && out[n - 1] != '/')
                                n--;
                        if (n > 0)
                                n--; /* the '/' before the dropped component */
                        continue;
                }
                out[n++] = '/';
                memcpy(out + n, c, strlen(c));
                n += strlen(c);
        }
        if (n == 0)
                out[n++] = '/';
        out[n] = '\0';
        return out;
}

int file_spec_parse(const char *arg, struct file_spec *out, vessel_error **err)
{
        const char *slash = strchr(arg, '/');
        size_t len = strlen(arg);

        *out = (struct file_spec){0};
        if (!slash || slash == arg)
                return vessel_error_msg(err, EINVAL,
                                        "\"%s\": expected NAME/PATH (an instance name, then the "
                                        "path inside it)",
                                        arg);
        out->instance = strndup(arg, (size_t)(slash - arg));
        if (!out->instance)
                abort();
        out->path = file_path_clean(slash + 1);
        out->dir = arg[len - 1] == '/' || !strcmp(out->path, "/");
        return 0;
}

void file_spec_free(struct file_spec *f)
{
        free(f->instance);
        free(f->path);
        *f = (struct file_spec){0};
}

int file_mode_parse(const char *s, mode_t *out)
{
        unsigned long v;
        char *end;

        if (!s || !*s || strlen(s) > 5)
                return -EINVAL;
        for (const char *c = s; *c; c++)
                if (*c < '0' || *c > '7')
                        return -EINVAL;
        errno = 0;
        v = strtoul(s, &end, 8);
        if (errno || *end || v > 07777)
                return -EINVAL;
        *out = (mode_t)v;
        return 0;
}

/* --- confined resolution -------------------------------------------------- */

/* An instance's root: its name for errors and an O_PATH fd of its rootfs. */
struct iroot {
        const char *name;
        int fd;
};

static void iroot_close(struct iroot *r)
{
        closep(&r->fd);
}

static int iroot_open(struct vessel_store *s, const char *name, struct iroot *r, vessel_error **err)
{
        _cleanup_free_ char *rel = xasprintf("%s/rootfs", name);
        struct instance i;

        r->name = name;
        r->fd = -1;
        if (instance_get(s, name, &i, err) < 0)
                return vessel_error_rc(err);
        instance_free(&i);
        if (instance_storage_ready(s, name, err) < 0)
                return vessel_error_rc(err);
        /* rootfs: the manager's own symlink to the instance's volume. */
        r->fd = openat(s->instances_fd, rel, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (r->fd < 0)
                return vessel_error_sys(err, "instance \"%s\": opening its rootfs", name);
        return 0;
}

/* path (absolute, clean) inside the root; -1 with errno. */
static int in_root(const struct iroot *r, const char *path, int flags)
{
        while (*path == '/')
                path++;
        return openat2_in_root(r->fd, *path ? path : ".", flags);
}

/* "instance "web1": /etc/x: <errno text><hint>" */
static int path_error(vessel_error **err, const struct iroot *r, const char *path, int code,
                      const char *hint)
{
        return vessel_error_msg(err, code, "instance \"%s\": %s: %s%s", r->name, path,
                                strerror(code), hint ? hint : "");
}

static char *path_dirname(const char *path)
{
        const char *slash = strrchr(path, '/');

        return slash == path || !slash ? xstrdup("/") : strndup(path, (size_t)(slash - path));
}

static const char *path_basename(const char *path)
{
        const char *slash = strrchr(path, '/');

        return slash ? slash + 1 : path;
}

static char *path_join(const char *dir, const char *name)
{
        return xasprintf("%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name);
}

/* As many symlinks as the kernel follows in one lookup. */
#define MAX_HOPS 40

/* The walk of dir_in_root met a symlink name in parent whose target is
 * missing: the path to walk instead, from the root again (its target,
 * relative to dir or to the root, then the rest); NULL if name is no
 * symlink. */
static char *dangling_next(int parent, const char *dir, const char *name, const char *rest)
{
        char target[PATH_MAX];
        ssize_t n = readlinkat(parent, name, target, sizeof(target) - 1);
        _cleanup_free_ char *joined = NULL;

        if (n <= 0)
                return NULL;
        target[n] = '\0';
        joined = xasprintf("%s/%s/%s", target[0] == '/' ? "" : dir, target, rest);
        return file_path_clean(joined);
}

/* The directory at path (O_PATH), creating what is missing when create
 * (owned by uid:gid, 0755), one name at a time below a confined parent;
 * a dangling symlink on the way is followed by creating its target,
 * walked from the root again, so that it stays inside. */
static int dir_walk(const struct iroot *r, const char *path, uid_t uid, gid_t gid, int hops,
                    vessel_error **err)
{
        _cleanup_free_ char *acc = xmalloc0(strlen(path) + 2), *copy = xstrdup(path);
        _cleanup_close_ int cur = in_root(r, "/", O_PATH | O_DIRECTORY);
        char *save = NULL;
        int fd;

        if (cur < 0)
                return path_error(err, r, "/", errno, NULL);
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                _cleanup_free_ char *dir = xstrdup(*acc ? acc : "/");
                strcat(strcat(acc, "/"), c);
                fd = in_root(r, acc, O_PATH | O_DIRECTORY);
                if (fd < 0 && errno == ENOENT) {
                        if (mkdirat(cur, c, 0755) == 0) {
                                if (fchownat(cur, c, uid, gid, AT_SYMLINK_NOFOLLOW) < 0)
                                        return path_error(err, r, acc, errno, NULL);
                        } else if (errno == EEXIST) {
                                _cleanup_free_ char *next =
                                    dangling_next(cur, dir, c, save ? save : "");
                                if (next && hops >= MAX_HOPS)
                                        return path_error(err, r, acc, ELOOP, NULL);
                                if (next)
                                        return dir_walk(r, next, uid, gid, hops + 1, err);
                        } else {
                                return path_error(err, r, acc, errno, NULL);
                        }
                        fd = in_root(r, acc, O_PATH | O_DIRECTORY);
                }
                if (fd < 0)
                        return path_error(err, r, acc, errno, NULL);
                closep(&cur);
                cur = fd;
        }
        return steal_fd(&cur);
}

/* shown: the path that errors name (the file pushed into path). */
static int dir_in_root(const struct iroot *r, const char *path, const char *shown, bool create,
                       uid_t uid, gid_t gid, vessel_error **err)
{
        int fd = in_root(r, path, O_PATH | O_DIRECTORY);

        if (fd >= 0)
                return fd;
        if (errno != ENOENT || !create)
                return path_error(err, r, shown, errno,
                                  errno == ENOENT ? " (use -p to create parents)" : NULL);
        return dir_walk(r, path, uid, gid, 0, err);
}

/* --- push ----------------------------------------------------------------- */

static int copy_fd(int in, int out)
{
        char buf[65536];

        for (;;) {
                ssize_t n = read(in, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return -errno;
                if (n == 0)
                        return 0;
                if (write_all(out, buf, (size_t)n) < 0)
                        return -errno;
        }
}

static char *tmp_name(void)
{
        uint32_t rnd = 0;

        if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
                rnd = (uint32_t)getpid() ^ (uint32_t)now_ns_monotonic();
        return xasprintf(PUSH_TMP_PREFIX "%08x", rnd);
}

/* A new, not yet visible file in dir: O_TMPFILE where the file system has
 * it (nothing is left if we die), else a hidden name made with O_EXCL
 * (*named set). */
static int tmp_open(int dir, char **named)
{
        int fd = openat(dir, ".", O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);

        *named = NULL;
        if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
                return fd;
        for (int tries = 0; tries < 16; tries++) {
                _cleanup_free_ char *name = tmp_name();
                fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (fd >= 0) {
                        *named = steal_ptr(&name);
                        return fd;
                }
                if (errno != EEXIST)
                        return -1;
        }
        return -1;
}

/* Give the new file fd its name base in dir, replacing what is there (a
 * symlink or a device node is replaced, never followed or opened). */
static int tmp_commit(int dir, int fd, char **named, const char *base)
{
        _cleanup_free_ char *name = NULL;
        int r = 0;

        if (*named) {
                name = steal_ptr(named);
        } else {
                _cleanup_free_ char *proc = xasprintf("/proc/self/fd/%d", fd);
                for (int tries = 0; tries < 16; tries++) {
                        free(name);
                        name = tmp_name();
                        if (linkat(AT_FDCWD, proc, dir, name, AT_SYMLINK_FOLLOW) == 0)
                                break;
                        if (errno != EEXIST)
                                return -errno;
                }
        }
        if (renameat(dir, name, dir, base) < 0) {
                r = -errno;
                unlinkat(dir, name, 0);
        }
        return r;
}

static void tmp_abort(int dir, char **named)
{
        if (*named)
                unlinkat(dir, *named, 0);
        free(steal_ptr(named));
}

struct push_ctx {
        const struct iroot *root;
        uid_t uid;
        gid_t gid;
};

/* The contents of in as dir/base (path names it in errors). */
static int push_file(const struct push_ctx *c, int dir, const char *base, const char *path, int in,
                     mode_t mode, vessel_error **err)
{
        _cleanup_free_ char *named = NULL;
        _cleanup_close_ int out = tmp_open(dir, &named);
        int r;

        if (out < 0)
                return path_error(err, c->root, path, errno, NULL);
        r = copy_fd(in, out);
        /* Owner first: chown clears the set-id bits that fchmod sets. */
        if (r == 0 && fchown(out, c->uid, c->gid) < 0)
                r = -errno;
        if (r == 0 && fchmod(out, mode) < 0)
                r = -errno;
        if (r == 0)
                r = tmp_commit(dir, out, &named, base);
        if (r < 0) {
                tmp_abort(dir, &named);
                return path_error(err, c->root, path, -r, NULL);
        }
        return 0;
}

static int push_symlink(const struct push_ctx *c, int dir, const char *base, const char *path,
                        const char *host, vessel_error **err)
{
        char target[PATH_MAX];
        ssize_t n = readlink(host, target, sizeof(target) - 1);

        if (n < 0)
                return vessel_error_sys(err, "%s", host);
        target[n] = '\0';
        for (int tries = 0; tries < 16; tries++) {
                _cleanup_free_ char *name = tmp_name();
                if (symlinkat(target, dir, name) < 0) {
                        if (errno == EEXIST)
                                continue;
                        return path_error(err, c->root, path, errno, NULL);
                }
                if (fchownat(dir, name, c->uid, c->gid, AT_SYMLINK_NOFOLLOW) < 0 ||
                    renameat(dir, name, dir, base) < 0) {
                        int e = errno;
                        unlinkat(dir, name, 0);
                        return path_error(err, c->root, path, e, NULL);
                }
                return 0;
        }
        return path_error(err, c->root, path, EEXIST, NULL);
}

/* dir/base as a directory (kept when there is one), owned and moded. */
static int push_mkdir(const struct push_ctx *c, int dir, const char *base, const char *path,
                      mode_t mode, vessel_error **err)
{
        _cleanup_close_ int fd = -1;
        struct stat st;

        if (mkdirat(dir, base, 0700) < 0 && errno != EEXIST)
                return path_error(err, c->root, path, errno, NULL);
        fd = openat(dir, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 && (errno == ENOTDIR || errno == ELOOP))
                return vessel_error_msg(err, ENOTDIR,
                                        "instance \"%s\": %s: exists and is not a directory",
                                        c->root->name, path);
        if (fd < 0 || fstat(fd, &st) < 0)
                return path_error(err, c->root, path, errno, NULL);
        if (fchown(fd, c->uid, c->gid) < 0 || fchmod(fd, mode) < 0)
                return path_error(err, c->root, path, errno, NULL);
        return steal_fd(&fd);
}

/* host (a file, symlink or tree, not followed) as dir/base. */
static int push_tree(const struct push_ctx *c, int dir, const char *base, const char *path,
                     const char *host, vessel_error **err)
{
        _cleanup_close_ int sub = -1;
        struct stat st;
        struct dirent *de;
        DIR *d;
        int r = 0;

        if (lstat(host, &st) < 0)
                return vessel_error_sys(err, "%s", host);
        if (S_ISLNK(st.st_mode))
                return push_symlink(c, dir, base, path, host, err);
        if (S_ISREG(st.st_mode)) {
                _cleanup_close_ int in = open(host, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
                if (in < 0)
                        return vessel_error_sys(err, "%s", host);
                return push_file(c, dir, base, path, in, st.st_mode & 07777, err);
        }
        if (!S_ISDIR(st.st_mode))
                return vessel_error_msg(err, EINVAL, "%s: not a regular file, directory or symlink",
                                        host);
        sub = push_mkdir(c, dir, base, path, st.st_mode & 07777, err);
        if (sub < 0)
                return sub;
        d = opendir(host);
        if (!d)
                return vessel_error_sys(err, "%s", host);
        while (r == 0 && (de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                _cleanup_free_ char *h = path_join(host, de->d_name);
                _cleanup_free_ char *p = path_join(path, de->d_name);
                r = push_tree(c, sub, de->d_name, p, h, err);
        }
        closedir(d);
        return r;
}

/* A host source of a plain push, opened and checked before anything is
 * written: "-" is standard input. */
struct push_src {
        const char *arg;
        int fd;
        mode_t mode;
};

static int push_src_open(const char *arg, int mode, struct push_src *p, vessel_error **err)
{
        struct stat st;

        p->arg = arg;
        p->fd = !strcmp(arg, "-") ? dup(STDIN_FILENO) : open(arg, O_RDONLY | O_CLOEXEC);
        if (p->fd < 0 || fstat(p->fd, &st) < 0)
                return vessel_error_sys(err, "%s", arg);
        if (S_ISDIR(st.st_mode))
                return vessel_error_msg(err, EISDIR, "%s: is a directory (use -r)", arg);
        if (strcmp(arg, "-") && !S_ISREG(st.st_mode))
                return vessel_error_msg(err, EINVAL, "%s: not a regular file", arg);
        p->mode = mode >= 0 ? (mode_t)mode : strcmp(arg, "-") ? st.st_mode & 07777 : 0644;
        return 0;
}

static int push_plain(const struct push_ctx *c, char *const *srcs, size_t n,
                      const struct file_spec *dest, const struct file_push_opts *o,
                      vessel_error **err)
{
        struct push_src *src = xmalloc0(n * sizeof(*src));
        _cleanup_close_ int existing = -1, dir = -1;
        bool into = dest->dir;
        int r = 0;

        for (size_t k = 0; k < n; k++)
                src[k].fd = -1;
        if (!into) {
                /* An existing directory (symlinks followed inside the root)
                 * takes the sources by their names, as cp does. */
                existing = in_root(c->root, dest->path, O_PATH | O_DIRECTORY);
                into = existing >= 0;
        }
        if (n > 1 && !into)
                r = vessel_error_msg(err, ENOTDIR,
                                     "instance \"%s\": %s: several sources need a directory "
                                     "as the target (end it in '/')",
                                     c->root->name, dest->path);
        for (size_t k = 0; r == 0 && k < n; k++) {
                r = push_src_open(srcs[k], o->mode, &src[k], err);
                if (r == 0 && into && !strcmp(srcs[k], "-"))
                        r = vessel_error_msg(err, EINVAL,
                                             "instance \"%s\": %s: standard input needs a file "
                                             "name as the target, not a directory",
                                             c->root->name, dest->path);
        }
        if (r == 0) {
                _cleanup_free_ char *parent = into ? xstrdup(dest->path) : path_dirname(dest->path);
                dir = dir_in_root(c->root, parent, into ? parent : dest->path, o->parents, c->uid,
                                  c->gid, err);
                r = dir < 0 ? dir : 0;
        }
        for (size_t k = 0; r == 0 && k < n; k++) {
                _cleanup_free_ char *clean = file_path_clean(srcs[k]);
                const char *base = into ? path_basename(clean) : path_basename(dest->path);
                _cleanup_free_ char *path =
                    into ? path_join(dest->path, base) : xstrdup(dest->path);
                r = push_file(c, dir, base, path, src[k].fd, src[k].mode, err);
        }
        for (size_t k = 0; k < n; k++)
                closep(&src[k].fd);
        free(src);
        return r;
}

int instance_file_push(struct vessel_store *s, char *const *srcs, size_t n,
                       const struct file_spec *dest, const struct file_push_opts *o,
                       vessel_error **err)
{
        struct iroot root __attribute__((cleanup(iroot_close))) = {.fd = -1};
        struct push_ctx c = {.root = &root,
                             .uid = o->uid < 0 ? 0 : (uid_t)o->uid,
                             .gid = o->gid < 0 ? 0 : (gid_t)o->gid};
        _cleanup_close_ int dir = -1;

        if (o->recursive && o->mode >= 0)
                return vessel_error_msg(err, EINVAL,
                                        "--mode cannot be used with -r (files and directories "
                                        "keep their own modes)");
        if (iroot_open(s, dest->instance, &root, err) < 0)
                return vessel_error_rc(err);
        if (!o->recursive)
                return push_plain(&c, srcs, n, dest, o, err);
        for (size_t k = 0; k < n; k++) {
                struct stat st;
                if (lstat(srcs[k], &st) < 0)
                        return vessel_error_sys(err, "%s", srcs[k]);
        }
        dir = dir_in_root(&root, dest->path, dest->path, o->parents, c.uid, c.gid, err);
        if (dir < 0)
                return dir;
        for (size_t k = 0; k < n; k++) {
                _cleanup_free_ char *clean = file_path_clean(srcs[k]);
                const char *base = path_basename(clean);
                _cleanup_free_ char *path = NULL;
                if (!*base)
                        return vessel_error_msg(err, EINVAL, "%s: cannot push the host's root",
                                                srcs[k]);
                path = path_join(dest->path, base);
                if (push_tree(&c, dir, base, path, srcs[k], err) < 0)
                        return vessel_error_rc(err);
        }
        return 0;
}

/* --- pull ----------------------------------------------------------------- */

/* A regular file's O_PATH fd re-opened for reading: the same inode, so a
 * node swapped in meanwhile is never opened. */
static int reopen_regular(int opath, const struct iroot *r, const char *path, vessel_error **err)
{
        _cleanup_free_ char *proc = xasprintf("/proc/self/fd/%d", opath);
        struct stat st;
        int fd;

        if (fstat(opath, &st) < 0)
                return path_error(err, r, path, errno, NULL);
        if (!S_ISREG(st.st_mode))
                return vessel_error_msg(err, EINVAL,
                                        "instance \"%s\": %s: not a regular file, directory or "
                                        "symlink",
                                        r->name, path);
        fd = open(proc, O_RDONLY | O_NOCTTY | O_CLOEXEC);
        if (fd < 0)
                return path_error(err, r, path, errno, NULL);
        return fd;
}

/* The instance file in (mode) as the host's hostdir/name; follow: a
 * symlink there is the user's own (the target named on the command line),
 * else (inside a pulled tree) it is replaced. */
static int pull_file(int in, int hostdir, const char *name, const char *host, mode_t mode,
                     bool follow, vessel_error **err)
{
        _cleanup_close_ int out =
            openat(hostdir, name,
                   O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW), 0600);
        int r;

        if (out < 0 && errno == ENOENT && follow)
                return vessel_error_msg(err, ENOENT,
                                        "%s: No such file or directory (use -p to create "
                                        "parents)",
                                        host);
        if (out < 0)
                return vessel_error_sys(err, "%s", host);
        r = copy_fd(in, out);
        if (r == 0 && fchmod(out, mode & 0777) < 0)
                r = -errno;
        if (r < 0)
                return vessel_error_set(err, -r, "%s", host);
        return 0;
}

/* The instance directory dir (opened O_RDONLY, at path) as the host's
 * hostdir/name, with its tree; symlinks are copied as symlinks. */
static int pull_tree(const struct iroot *r, int dir, const char *path, int hostdir,
                     const char *name, const char *host, vessel_error **err)
{
        _cleanup_close_ int out = -1;
        struct stat st;
        struct dirent *de;
        DIR *d;
        int rc = 0;

        if (fstat(dir, &st) < 0)
                return path_error(err, r, path, errno, NULL);
        if (*name && mkdirat(hostdir, name, 0700) < 0 && errno != EEXIST)
                return vessel_error_sys(err, "%s", host);
        out = openat(hostdir, *name ? name : ".", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (out < 0)
                return vessel_error_sys(err, "%s", host);
        d = fdopendir(dup(dir));
        if (!d)
                return path_error(err, r, path, errno, NULL);
        rewinddir(d);
        while (rc == 0 && (de = readdir(d))) {
                struct stat cst;
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                _cleanup_free_ char *p = path_join(path, de->d_name);
                _cleanup_free_ char *h = path_join(host, de->d_name);
                if (fstatat(dir, de->d_name, &cst, AT_SYMLINK_NOFOLLOW) < 0) {
                        rc = path_error(err, r, p, errno, NULL);
                } else if (S_ISDIR(cst.st_mode)) {
                        _cleanup_close_ int sub = openat(
                            dir, de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                        rc = sub < 0 ? path_error(err, r, p, errno, NULL)
                                     : pull_tree(r, sub, p, out, de->d_name, h, err);
                } else if (S_ISLNK(cst.st_mode)) {
                        char target[PATH_MAX];
                        ssize_t n = readlinkat(dir, de->d_name, target, sizeof(target) - 1);
                        if (n < 0) {
                                rc = path_error(err, r, p, errno, NULL);
                                continue;
                        }
                        target[n] = '\0';
                        unlinkat(out, de->d_name, 0);
                        if (symlinkat(target, out, de->d_name) < 0)
                                rc = vessel_error_sys(err, "%s", h);
                } else {
                        _cleanup_close_ int opath =
                            openat(dir, de->d_name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                        _cleanup_close_ int in = -1;
                        if (opath < 0) {
                                rc = path_error(err, r, p, errno, NULL);
                                continue;
                        }
                        in = reopen_regular(opath, r, p, err);
                        if (in >= 0)
                                unlinkat(out, de->d_name, 0); /* a symlink there */
                        rc = in < 0 ? in
                                    : pull_file(in, out, de->d_name, h, cst.st_mode, false, err);
                }
        }
        closedir(d);
        if (rc == 0 && fchmod(out, st.st_mode & 0777) < 0)
                rc = vessel_error_sys(err, "%s", host);
        return rc;
}

/* Where the pulled files go on the host: *is_dir when dest is (or is
 * made) a directory. */
static int pull_target(const char *dest, size_t n, const struct file_pull_opts *o, bool *is_dir,
                       vessel_error **err)
{
        struct stat st;
        size_t len = strlen(dest);

        *is_dir = false;
        if (!strcmp(dest, "-"))
                return 0;
        if (stat(dest, &st) == 0) {
                *is_dir = S_ISDIR(st.st_mode);
                if (!*is_dir && n > 1)
                        return vessel_error_msg(err, ENOTDIR,
                                                "%s: several sources need a directory as the "
                                                "target",
                                                dest);
                return 0;
        }
        if (errno != ENOENT)
                return vessel_error_sys(err, "%s", dest);
        if (dest[len - 1] == '/' || n > 1) {
                *is_dir = true;
                return mkdir_p(dest, 0755, err);
        }
        if (o->parents) {
                _cleanup_free_ char *copy = xstrdup(dest);
                char *slash = strrchr(copy, '/');
                if (slash && slash != copy) {
                        *slash = '\0';
                        return mkdir_p(copy, 0755, err);
                }
        }
        return 0;
}

static int pull_one(struct vessel_store *s, const struct file_spec *src, const char *dest,
                    bool is_dir, const struct file_pull_opts *o, vessel_error **err)
{
        struct iroot root __attribute__((cleanup(iroot_close))) = {.fd = -1};
        _cleanup_close_ int opath = -1, in = -1, hostdir = -1;
        _cleanup_free_ char *host = NULL, *hostparent = NULL;
        const char *base = path_basename(src->path);
        struct stat st;

        if (iroot_open(s, src->instance, &root, err) < 0)
                return vessel_error_rc(err);
        /* Symlinks, the last one too, are followed inside the root. */
        opath = in_root(&root, src->path, O_PATH);
        if (opath < 0 || fstat(opath, &st) < 0)
                return path_error(err, &root, src->path, errno, NULL);
        if (S_ISDIR(st.st_mode)) {
                if (!o->recursive)
                        return vessel_error_msg(err, EISDIR,
                                                "instance \"%s\": %s: is a directory (use -r)",
                                                root.name, src->path);
                if (!strcmp(dest, "-"))
                        return vessel_error_msg(err, EISDIR,
                                                "instance \"%s\": %s: a directory cannot be "
                                                "written to standard output",
                                                root.name, src->path);
                if (!is_dir && mkdir(dest, 0755) < 0 && errno != EEXIST)
                        return vessel_error_sys(err, "%s", dest);
                in = in_root(&root, src->path, O_RDONLY | O_DIRECTORY);
                hostdir = open(dest, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (in < 0)
                        return path_error(err, &root, src->path, errno, NULL);
                if (hostdir < 0)
                        return vessel_error_sys(err, "%s", dest);
                host = *base ? path_join(dest, base) : xstrdup(dest);
                return pull_tree(&root, in, src->path, hostdir, base, host, err);
        }
        in = reopen_regular(opath, &root, src->path, err);
        if (in < 0)
                return in;
        if (!strcmp(dest, "-")) {
                int r = copy_fd(in, STDOUT_FILENO);
                return r < 0 ? vessel_error_set(err, -r, "standard output") : 0;
        }
        host = is_dir ? path_join(dest, base) : xstrdup(dest);
        return pull_file(in, AT_FDCWD, host, host, st.st_mode, true, err);
}

int instance_file_pull(struct vessel_store *s, const struct file_spec *srcs, size_t n,
                       const char *dest, const struct file_pull_opts *o, vessel_error **err)
{
        bool is_dir;

        if (pull_target(dest, n, o, &is_dir, err) < 0)
                return vessel_error_rc(err);
        for (size_t k = 0; k < n; k++)
                if (pull_one(s, &srcs[k], dest, is_dir, o, err) < 0)
                        return vessel_error_rc(err);
        return 0;
}

/* --- delete --------------------------------------------------------------- */

int instance_file_delete(struct vessel_store *s, const struct file_spec *spec, bool force,
                         vessel_error **err)
{
        struct iroot root __attribute__((cleanup(iroot_close))) = {.fd = -1};
        _cleanup_free_ char *parent = path_dirname(spec->path);
        const char *base = path_basename(spec->path);
        _cleanup_close_ int dir = -1;
        struct stat st;
        int r;

        if (iroot_open(s, spec->instance, &root, err) < 0)
                return vessel_error_rc(err);
        if (!*base)
                return vessel_error_msg(
                    err, EINVAL, "instance \"%s\": /: the root cannot be deleted", root.name);
        dir = in_root(&root, parent, O_PATH | O_DIRECTORY);
        if (dir < 0 && errno == ENOENT && force)
                return 0;
        if (dir < 0)
                return path_error(err, &root, parent, errno, NULL);
        /* The name itself, never what a symlink there points to. */
        if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
                if (errno == ENOENT && force)
                        return 0;
                return path_error(err, &root, spec->path, errno, NULL);
        }
        if (!S_ISDIR(st.st_mode))
                r = unlinkat(dir, base, 0) < 0 ? -errno : 0;
        else if (force)
                r = rm_rf_at(dir, base);
        else
                r = unlinkat(dir, base, AT_REMOVEDIR) < 0 ? -errno : 0;
        if (r < 0)
                return path_error(err, &root, spec->path, -r,
                                  r == -ENOTEMPTY ? " (use -f to delete a tree)" : NULL);
        return 0;
}
