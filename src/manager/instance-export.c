/* instance-export.c: `vesselctl export`: an instance as a tarball
 * (instance-transfer.h for the layout).
 *
 * The tree is walked by file descriptors: every name is opened inside
 * its parent's fd without following a symlink (O_NOFOLLOW, O_PATH for
 * what is not a directory, then a regular file re-opened through its
 * O_PATH fd), so that a running instance that swaps a directory for a
 * symlink, or a file for a device node, meanwhile can never make the
 * export read a host file or open a device.  Owners, modes, mtimes,
 * xattrs (security.capability and the POSIX ACLs' system.posix_acl_*
 * among them), hard links, device nodes, fifos and symlinks go in as
 * they are, with the ids of files shifted on disk mapped back to the
 * instance's own (idshift.h).  Sockets are left out, as tar does. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/xattr.h>

#include "confyaml.h"
#include "idshift.h"
#include "instance-transfer.h"
#include "instance.h"
#include "profile.h"
#include "snapshot.h"
#include "storage.h"
#include "util.h"

#define DATA_BUF (1 << 18)
/* zstd: the fastest level that still compresses a root file system
 * well (docs/store.md gives the measurements), on two workers, so that
 * compressing overlaps reading as it does in `tar | zstd`. */
#ifndef ZSTD_LEVEL
#define ZSTD_LEVEL "1"
#endif
#define ZSTD_THREADS "2"

struct exporter {
        struct archive *a;
        struct archive_entry_linkresolver *links;
        int out_fd;
        uint64_t base, size; /* the shift to undo (size 0: none) of the tree at work */
        bool layered;        /* an overlay snapshot's: xfer_id_unshift_layered */
        bool counting;       /* the walk that only sums the sizes */
        uint64_t total, done, out;
        size_t entries;
        struct xfer_progress progress;
        char *buf;          /* file data */
        char *xlist, *xval; /* xattr names and a value */
        const char *what;   /* the instance, for errors */
        vessel_error *werr; /* a write error of the callback */
};

static la_ssize_t out_write(struct archive *a, void *data, const void *buf, size_t len)
{
        struct exporter *x = data;

        if (write_all(x->out_fd, buf, len) < 0) {
                archive_set_error(a, errno, "writing the tarball: %s", strerror(errno));
                return -1;
        }
        x->out += len;
        return (la_ssize_t)len;
}

static int tar_fail(struct exporter *x, vessel_error **err, const char *path)
{
        const char *m = archive_error_string(x->a);

        return vessel_error_msg(err, EIO, "export of %s: %s: %s", x->what, path,
                                m ? m : "tar error");
}

static void report(struct exporter *x)
{
        if (x->progress.report)
                x->progress.report(x->progress.data, x->done, x->total);
}

/* The xattrs of a file (fd, else by proc_path without following it),
 * with the ids in ACLs and capabilities mapped back. */
static int add_xattrs(struct exporter *x, struct archive_entry *e, int fd, const char *proc_path,
                      const char *path, vessel_error **err)
{
        ssize_t n = fd >= 0 ? flistxattr(fd, x->xlist, XATTR_LIST_MAX)
                            : llistxattr(proc_path, x->xlist, XATTR_LIST_MAX);

        if (n < 0) {
                if (errno == ENOTSUP || errno == EPERM)
                        return 0;
                return vessel_error_sys(err, "export of %s: %s: listing xattrs", x->what, path);
        }
        for (char *name = x->xlist; name < x->xlist + n; name += strlen(name) + 1) {
                ssize_t len = fd >= 0 ? fgetxattr(fd, name, x->xval, XATTR_SIZE_MAX)
                                      : lgetxattr(proc_path, name, x->xval, XATTR_SIZE_MAX);
                if (len < 0) {
                        if (errno == ENODATA || errno == ENOTSUP)
                                continue; /* removed meanwhile */
                        return vessel_error_sys(err, "export of %s: %s: xattr %s", x->what, path,
                                                name);
                }
                if (!strcmp(name, "system.posix_acl_access") ||
                    !strcmp(name, "system.posix_acl_default")) {
                        if (xfer_acl_unshift_ex(x->xval, (size_t)len, x->base, x->size,
                                                x->layered) < 0)
                                return vessel_error_msg(err, EINVAL,
                                                        "export of %s: %s: %s: not a POSIX ACL",
                                                        x->what, path, name);
                } else if (!strcmp(name, "security.capability")) {
                        char cap[XFER_CAP_MAX];
                        size_t clen;
                        if (xfer_cap_unshift_ex(x->xval, (size_t)len, x->base, x->size, x->layered,
                                                cap, &clen) < 0)
                                return vessel_error_msg(err, EINVAL,
                                                        "export of %s: %s: %s: not a file "
                                                        "capability",
                                                        x->what, path, name);
                        memcpy(x->xval, cap, clen);
                        len = (ssize_t)clen;
                }
                archive_entry_xattr_add_entry(e, name, x->xval, (size_t)len);
        }
        return 0;
}

static int copy_data(struct exporter *x, int fd, la_int64_t size, const char *path,
                     vessel_error **err)
{
        la_int64_t left = size;

        while (left > 0) {
                ssize_t n = read(fd, x->buf, left < DATA_BUF ? (size_t)left : DATA_BUF);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return vessel_error_sys(err, "export of %s: reading %s", x->what, path);
                if (n == 0)
                        break; /* it shrank meanwhile: libarchive pads the entry */
                if (archive_write_data(x->a, x->buf, (size_t)n) < 0)
                        return tar_fail(x, err, path);
                left -= n;
                x->done += (uint64_t)n;
                report(x);
        }
        return 0;
}

/* Write e (through the hard link resolver: a later link of an inode
 * goes in as a link to the first, without data). */
static int emit(struct exporter *x, struct archive_entry *e, int fd, const char *path,
                vessel_error **err)
{
        struct archive_entry *spare = NULL;
        int r = 0;

        archive_entry_linkify(x->links, &e, &spare);
        if (e) {
                if (archive_write_header(x->a, e) != ARCHIVE_OK)
                        r = tar_fail(x, err, path);
                else if (fd >= 0 && archive_entry_size(e) > 0)
                        r = copy_data(x, fd, archive_entry_size(e), path, err);
                x->entries++;
                if (e != spare)
                        archive_entry_free(e);
        }
        if (spare)
                archive_entry_free(spare);
        return r;
}

static uint32_t unshift(struct exporter *x, uint32_t id)
{
        return x->layered ? xfer_id_unshift_layered(id, x->base, x->size)
                          : xfer_id_unshift(id, x->base, x->size);
}

/* An entry of the attributes of st, named name in the tarball. */
static struct archive_entry *entry_of(struct exporter *x, const char *name, const struct stat *st)
{
        struct archive_entry *e = archive_entry_new();

        if (!e)
                abort();
        archive_entry_copy_pathname(e, name);
        archive_entry_set_mode(e, st->st_mode);
        archive_entry_set_uid(e, unshift(x, st->st_uid));
        archive_entry_set_gid(e, unshift(x, st->st_gid));
        archive_entry_set_mtime(e, st->st_mtim.tv_sec, st->st_mtim.tv_nsec);
        archive_entry_set_dev(e, st->st_dev);
        archive_entry_set_ino64(e, st->st_ino);
        archive_entry_set_nlink(e, (unsigned)st->st_nlink);
        if (S_ISREG(st->st_mode))
                archive_entry_set_size(e, st->st_size);
        if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
                archive_entry_set_rdev(e, st->st_rdev);
        return e;
}

static int walk_dir(struct exporter *x, int dfd, const char *name, const char *path,
                    vessel_error **err);

/* One name inside the directory dfd: name in the tarball, path for
 * errors. */
static int walk_one(struct exporter *x, int dfd, const char *base, const char *name,
                    const char *path, vessel_error **err)
{
        _cleanup_close_ int fd = -1, rfd = -1;
        _cleanup_free_ char *proc = NULL;
        struct archive_entry *e;
        struct stat st;
        int r;

        fd = openat(dfd, base, O_PATH | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0 || fstat(fd, &st) < 0) {
                if (errno == ENOENT)
                        return 0; /* removed meanwhile (a running instance) */
                return vessel_error_sys(err, "export of %s: %s", x->what, path);
        }
        if (S_ISSOCK(st.st_mode))
                return 0;
        if (x->counting) {
                if (S_ISREG(st.st_mode))
                        x->total += (uint64_t)st.st_size / (st.st_nlink ? st.st_nlink : 1);
                else if (S_ISDIR(st.st_mode))
                        return walk_dir(x, fd, name, path, err);
                return 0;
        }
        if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)) {
                /* Re-opened through the O_PATH fd: the very inode just
                 * checked, whatever the name is now. */
                proc = xasprintf("/proc/self/fd/%d", fd);
                rfd = open(proc, O_RDONLY | O_CLOEXEC | O_NOATIME |
                                     (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
                if (rfd < 0 && errno == EPERM)
                        rfd = open(proc,
                                   O_RDONLY | O_CLOEXEC | (S_ISDIR(st.st_mode) ? O_DIRECTORY : 0));
                if (rfd < 0)
                        return vessel_error_sys(err, "export of %s: opening %s", x->what, path);
        } else {
                /* xattrs of what is not opened, by name in its parent,
                 * never followed. */
                free(proc);
                proc = xasprintf("/proc/self/fd/%d/%s", dfd, base);
        }
        e = entry_of(x, name, &st);
        if (S_ISLNK(st.st_mode)) {
                char target[PATH_MAX + 1];
                ssize_t n = readlinkat(fd, "", target, sizeof(target) - 1);
                if (n < 0) {
                        archive_entry_free(e);
                        return vessel_error_sys(err, "export of %s: readlink %s", x->what, path);
                }
                target[n] = '\0';
                archive_entry_copy_symlink(e, target);
        }
        r = add_xattrs(x, e, rfd, rfd >= 0 ? NULL : proc, path, err);
        if (r < 0) {
                archive_entry_free(e);
                return r;
        }
        r = emit(x, e, S_ISREG(st.st_mode) ? rfd : -1, path, err);
        if (r == 0 && S_ISDIR(st.st_mode))
                r = walk_dir(x, rfd, name, path, err);
        return r;
}

static int walk_dir(struct exporter *x, int dfd, const char *name, const char *path,
                    vessel_error **err)
{
        int dup_fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = dup_fd >= 0 ? fdopendir(dup_fd) : NULL;
        struct dirent *de;
        int r = 0;

        if (!d) {
                if (dup_fd >= 0)
                        close(dup_fd);
                return vessel_error_sys(err, "export of %s: reading %s", x->what, path);
        }
        while (r == 0 && (errno = 0, de = readdir(d))) {
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                _cleanup_free_ char *cn = xasprintf("%s/%s", name, de->d_name);
                _cleanup_free_ char *cp = xasprintf("%s/%s", path, de->d_name);
                r = walk_one(x, dirfd(d), de->d_name, cn, cp, err);
        }
        if (r == 0 && errno)
                r = vessel_error_sys(err, "export of %s: reading %s", x->what, path);
        closedir(d);
        return r;
}

/* The tree at the directory fd top, as name/ in the tarball. */
static int walk_tree(struct exporter *x, int top, const char *name, const char *path,
                     vessel_error **err)
{
        struct archive_entry *e;
        struct stat st;
        int r;

        if (x->counting)
                return walk_dir(x, top, name, path, err);
        if (fstat(top, &st) < 0)
                return vessel_error_sys(err, "export of %s: %s", x->what, path);
        e = entry_of(x, name, &st);
        if ((r = add_xattrs(x, e, top, NULL, path, err)) < 0) {
                archive_entry_free(e);
                return r;
        }
        r = emit(x, e, -1, path, err);
        return r ?: walk_dir(x, top, name, path, err);
}

/* A file of the manager's own (index, backup.yaml), made now. */
static int emit_text(struct exporter *x, const char *name, const char *text, mode_t mode,
                     vessel_error **err)
{
        struct archive_entry *e = archive_entry_new();
        size_t len = strlen(text);
        int r = 0;

        archive_entry_copy_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, mode);
        archive_entry_set_size(e, (la_int64_t)len);
        archive_entry_set_mtime(e, time(NULL), 0);
        if (archive_write_header(x->a, e) != ARCHIVE_OK ||
            archive_write_data(x->a, text, len) != (la_ssize_t)len)
                r = tar_fail(x, err, name);
        archive_entry_free(e);
        x->entries++;
        return r;
}

static int emit_dir(struct exporter *x, const char *name, mode_t mode, vessel_error **err)
{
        struct archive_entry *e = archive_entry_new();
        int r = 0;

        archive_entry_copy_pathname(e, name);
        archive_entry_set_filetype(e, AE_IFDIR);
        archive_entry_set_perm(e, mode);
        archive_entry_set_mtime(e, time(NULL), 0);
        if (archive_write_header(x->a, e) != ARCHIVE_OK)
                r = tar_fail(x, err, name);
        archive_entry_free(e);
        x->entries++;
        return r;
}

static int writer_open(struct exporter *x, enum xfer_compression c, vessel_error **err)
{
        int r = ARCHIVE_OK;

        x->a = archive_write_new();
        if (!x->a)
                abort();
        /* pax: every entry with its nanosecond mtime (the restricted form drops
         * it where nothing else needs an extended header). */
        archive_write_set_format_pax(x->a);
        switch (c) {
        case XFER_ZSTD:
                r = archive_write_add_filter_zstd(x->a);
                if (r == ARCHIVE_OK)
                        r = archive_write_set_filter_option(x->a, "zstd", "compression-level",
                                                            ZSTD_LEVEL);
                /* Older libzstd without workers: one thread, still fine. */
                if (r == ARCHIVE_OK)
                        archive_write_set_filter_option(x->a, "zstd", "threads", ZSTD_THREADS);
                break;
        case XFER_GZIP:
                r = archive_write_add_filter_gzip(x->a);
                break;
        case XFER_XZ:
                r = archive_write_add_filter_xz(x->a);
                break;
        case XFER_NONE:
                r = archive_write_add_filter_none(x->a);
                break;
        }
        if (r != ARCHIVE_OK)
                return vessel_error_msg(err, ENOTSUP, "export: compression: %s",
                                        archive_error_string(x->a));
        archive_write_set_bytes_in_last_block(x->a, 1);
        if (archive_write_open2(x->a, x, NULL, out_write, NULL, NULL) != ARCHIVE_OK)
                return tar_fail(x, err, "starting the tarball");
        x->links = archive_entry_linkresolver_new();
        archive_entry_linkresolver_set_strategy(x->links, archive_format(x->a));
        return 0;
}

/* The files' shift to undo: the record's range (idshift.h).  A shift
 * that a killed start left halfway cannot be undone from one range. */
static int shift_of(struct exporter *x, int dfd, vessel_error **err)
{
        uint64_t cur;

        if (idshift_range(dfd, &x->base, &x->size) == 1)
                return 0;
        x->base = x->size = 0;
        if (idshift_current(dfd, &cur) == 1)
                return vessel_error_msg(err, EBUSY,
                                        "instance \"%s\": its files are being shifted into its "
                                        "id range (a start was killed): start it once, then "
                                        "export it",
                                        x->what);
        return 0;
}

/* A snapshot to export: its row, its files' directory (mounted, for an
 * overlay pool: read-only, its upper layer over the shared lower ones),
 * the shift of its files to undo. */
struct snap_src {
        struct snapshot sn;
        int fd;
        uint64_t base, size;
        bool layered;
};

static void snap_srcs_free(struct snap_src *v, size_t n)
{
        for (size_t k = 0; k < n; k++) {
                snapshot_free(&v[k].sn);
                closep(&v[k].fd);
        }
        free(v);
}

static int snap_open(struct vessel_store *s, struct storage_pool *p, struct snap_src *src,
                     vessel_error **err)
{
        const struct snapshot *sn = &src->sn;
        _cleanup_free_ char *vol = NULL, *path = NULL;
        int r;

        if (!sn->volume)
                return vessel_error_msg(err, ENOENT, "snapshot \"%s/%s\": has no volume",
                                        sn->instance, sn->name);
        r = xfer_shift_parse(sn->shift, &src->base, &src->size);
        if (r < 0)
                return vessel_error_msg(err, EBUSY,
                                        "snapshot \"%s/%s\": its files were being shifted into "
                                        "the instance's id range when it was taken (a start was "
                                        "killed): export --instance-only, or delete it",
                                        sn->instance, sn->name);
        src->layered = src->size && !strcmp(p->driver, "overlay");
        vol = storage_volume_path("snapshots", sn->volume);
        path = storage_volume_rootfs(p, vol);
        /* An overlay snapshot is mounted read-only, and stays so (as a
         * copy from it leaves it): a concurrent export may be reading
         * it.  Opened, then checked to be the mount, not the empty
         * directory under it. */
        for (int tries = 0;; tries++) {
                struct statfs sf;
                if (storage_volume_mount(s, p, vol, 0, 0, err) < 0)
                        return vessel_error_prefix(err, "snapshot \"%s/%s\"", sn->instance,
                                                   sn->name);
                src->fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (src->fd < 0)
                        return vessel_error_sys(err, "snapshot \"%s/%s\": opening %s", sn->instance,
                                                sn->name, path);
                if (strcmp(p->driver, "overlay") ||
                    (fstatfs(src->fd, &sf) == 0 && sf.f_type == OVERLAYFS_SUPER_MAGIC))
                        return 0;
                closep(&src->fd);
                if (tries == 2)
                        return vessel_error_msg(err, EBUSY,
                                                "snapshot \"%s/%s\": %s: unmounted meanwhile",
                                                sn->instance, sn->name, path);
        }
}

/* The instance's snapshots, oldest first, their files opened. */
static int snap_srcs(struct vessel_store *s, const struct instance *i, struct snap_src **out,
                     size_t *n, vessel_error **err)
{
        struct snapshot *v = NULL;
        struct storage_pool p;
        size_t count = 0;
        int r;

        *out = NULL;
        *n = 0;
        if (snapshot_list(s, i->name, false, &v, &count, err) < 0)
                return -EIO;
        if (!count) {
                free(v);
                return 0;
        }
        if (count > XFER_SNAPSHOTS_MAX) {
                snapshot_list_free(v, count);
                return vessel_error_msg(err, E2BIG,
                                        "instance \"%s\": more than %d snapshots (export "
                                        "--instance-only)",
                                        i->name, XFER_SNAPSHOTS_MAX);
        }
        *out = xmalloc0(count * sizeof(**out));
        for (size_t k = 0; k < count; k++) {
                (*out)[k].sn = v[k];
                (*out)[k].fd = -1;
        }
        free(v);
        *n = count;
        if (storage_pool_get_id(s, i->pool_id, &p, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\"", i->name);
        r = storage_pool_activate(s, &p, err);
        for (size_t k = 0; r == 0 && k < count; k++)
                r = snap_open(s, &p, &(*out)[k], err);
        storage_pool_free(&p);
        return r < 0 ? vessel_error_prefix(err, "export of %s", i->name) : 0;
}

/* backup/snapshots/<snap>/backup.yaml: what the row keeps, and its
 * profiles in full, as the instance's backup.yaml has them. */
static int snap_yaml(struct vessel_store *s, const struct snapshot *sn, char **out,
                     vessel_error **err)
{
        struct conf_doc d = {0};
        size_t n = strv_len(sn->profiles);
        _cleanup_free_ char *created = xasprintf("%lld", (long long)sn->created_at),
                            *expires = xasprintf("%lld", (long long)sn->expires_at);
        int r = 0;

        kvlist_set(&d.top, "name", sn->name);
        kvlist_set(&d.top, "created_at", created);
        kvlist_set(&d.top, "expires_at", expires);
        kvlist_set(&d.top, "stateful", sn->stateful ? "true" : "false");
        confset_copy(&d.conf, &sn->conf);
        d.profiles = strv_copy(sn->profiles);
        d.pconf = xmalloc0((n + 1) * sizeof(*d.pconf));
        for (size_t k = 0; r == 0 && k < n; k++) {
                int64_t id;
                r = db_profile_id(s, sn->profiles[k], &id, err);
                if (r == 0)
                        r = db_profile_confset(s, id, &d.pconf[k], err);
        }
        if (r == 0)
                *out = conf_doc_emit(&d);
        conf_doc_free(&d);
        return r < 0 ? vessel_error_prefix(err, "snapshot \"%s/%s\"", sn->instance, sn->name) : 0;
}

/* A fresh hard link resolver for the next tree: no entry of one tree
 * is ever a link to another tree's (an overlay's lower layers give the
 * same inode in the instance's mount and a snapshot's). */
static void links_reset(struct exporter *x)
{
        archive_entry_linkresolver_free(x->links);
        x->links = archive_entry_linkresolver_new();
        archive_entry_linkresolver_set_strategy(x->links, archive_format(x->a));
}

static int export_snapshots(struct vessel_store *s, struct exporter *x, struct snap_src *v,
                            size_t n, vessel_error **err)
{
        int r = 0;

        if (!n)
                return 0;
        r = emit_dir(x, "backup/snapshots", 0700, err);
        for (size_t k = 0; r == 0 && k < n; k++) {
                const struct snapshot *sn = &v[k].sn;
                _cleanup_free_ char *yaml = NULL, *dir = xasprintf("backup/snapshots/%s", sn->name),
                                    *by = xasprintf("%s/backup.yaml", dir),
                                    *top = xasprintf("%s/rootfs", dir),
                                    *path = xasprintf("snapshot %s: rootfs", sn->name);
                r = snap_yaml(s, sn, &yaml, err);
                if (r == 0)
                        r = emit_dir(x, dir, 0700, err);
                if (r == 0)
                        r = emit_text(x, by, yaml, 0600, err);
                if (r == 0) {
                        x->base = v[k].base;
                        x->size = v[k].size;
                        x->layered = v[k].layered;
                        links_reset(x);
                        r = walk_tree(x, v[k].fd, top, path, err);
                        x->layered = false;
                }
        }
        return r;
}

static int export_body(struct vessel_store *s, struct exporter *x, const struct instance *i,
                       int dfd, int rootfs_fd, const struct instance_export_opts *o,
                       struct snap_src *snaps, size_t n_snaps, vessel_error **err)
{
        _cleanup_free_ char *yaml = NULL, *meta = NULL, *index = NULL;
        _cleanup_close_ int tfd = -1;
        size_t mlen;
        struct xfer_index idx = {
            .version = XFER_INDEX_VERSION,
            .name = i->name,
            .type = i->type && i->type[0] ? i->type : "container",
            .backend = i->storage_driver && i->storage_driver[0] ? i->storage_driver : "dir",
            .pool = i->pool ? i->pool : "",
            .instance_only = o->instance_only,
        };
        _cleanup_strv_ char **names = xmalloc0(sizeof(char *));
        int r;

        for (size_t k = 0; k < n_snaps; k++)
                names = strv_append(names, snaps[k].sn.name);
        idx.snapshots = names;
        if (instance_backup_yaml(s, i, &yaml, err) < 0)
                return -EIO;
        index = xfer_index_emit(&idx);
        r = emit_dir(x, "backup", 0700, err);
        if (r == 0)
                r = emit_text(x, "backup/index.yaml", index, 0600, err);
        if (r == 0)
                r = emit_dir(x, "backup/container", 0700, err);
        if (r == 0)
                r = emit_text(x, "backup/container/backup.yaml", yaml, 0600, err);
        if (r == 0 && read_file_at(dfd, "metadata.yaml", &meta, &mlen, NULL) == 0)
                r = emit_text(x, "backup/container/metadata.yaml", meta, 0644, err);
        tfd = openat(dfd, "templates", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        /* The templates are the manager's own files: ids as they are. */
        x->base = x->size = 0;
        if (r == 0 && tfd >= 0)
                r = walk_tree(x, tfd, "backup/container/templates", "templates", err);
        if (r == 0)
                r = shift_of(x, dfd, err);
        if (r == 0) {
                links_reset(x);
                r = walk_tree(x, rootfs_fd, "backup/container/rootfs", "rootfs", err);
        }
        if (r == 0)
                r = export_snapshots(s, x, snaps, n_snaps, err);
        return r;
}

int instance_export(struct vessel_store *s, const struct instance_export_opts *o,
                    struct instance_export_result *res, vessel_error **err)
{
        struct exporter x = {.out_fd = o->out_fd, .what = o->name, .progress = o->progress};
        _cleanup_close_ int dfd = -1, rootfs_fd = -1;
        struct snap_src *snaps = NULL;
        size_t n_snaps = 0;
        struct instance i;
        int r;

        *res = (struct instance_export_result){0};
        if (store_is_rootless(s))
                return vessel_error_msg(err, ENOTSUP,
                                        "export: not in a rootless store yet (its files are "
                                        "owned by ids it can only reach through a user "
                                        "namespace)");
        if (instance_get(s, o->name, &i, err) < 0)
                return -ENOENT;
        r = instance_storage_ready(s, o->name, err);
        if (r == 0) {
                dfd = openat(s->instances_fd, o->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                /* rootfs: our own link to the volume (or the directory of
                 * an instance made before pools). */
                rootfs_fd =
                    dfd < 0 ? -1 : openat(dfd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (rootfs_fd < 0)
                        r = vessel_error_sys(err, "export of %s: instances/%s/rootfs", o->name,
                                             o->name);
        }
        if (r == 0 && !o->instance_only && i.pool_id)
                r = snap_srcs(s, &i, &snaps, &n_snaps, err);
        x.buf = xmalloc0(DATA_BUF);
        x.xlist = xmalloc0(XATTR_LIST_MAX);
        x.xval = xmalloc0(XATTR_SIZE_MAX);
        if (r == 0 && o->progress.report) {
                x.counting = true;
                if ((r = shift_of(&x, dfd, err)) == 0)
                        r = walk_tree(&x, rootfs_fd, "rootfs", "rootfs", err);
                for (size_t k = 0; r == 0 && k < n_snaps; k++)
                        r = walk_tree(&x, snaps[k].fd, "rootfs", snaps[k].sn.name, err);
                x.counting = false;
                report(&x);
        }
        if (r == 0)
                r = writer_open(&x, o->compression, err);
        if (r == 0)
                r = export_body(s, &x, &i, dfd, rootfs_fd, o, snaps, n_snaps, err);
        if (x.a) {
                if (archive_write_close(x.a) != ARCHIVE_OK && r == 0)
                        r = tar_fail(&x, err, "finishing the tarball");
                archive_write_free(x.a);
        }
        if (x.links)
                archive_entry_linkresolver_free(x.links);
        snap_srcs_free(snaps, n_snaps);
        free(x.buf);
        free(x.xlist);
        free(x.xval);
        instance_free(&i);
        res->bytes_in = x.done;
        res->bytes_out = x.out;
        res->entries = x.entries;
        return r;
}
