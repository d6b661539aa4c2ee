/* extract.c: confined unpacking of tarball entries (see extract.h). */
#include "extract.h"

#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

#include "metadata.h"
#include "util.h"

/* The owner an entry gets on disk (extract_owner). */
struct owner {
        uid_t uid;
        gid_t gid;
};

struct dir_time {
        int tree_fd; /* borrowed */
        char *rel;
        struct timespec mtime;
};

int path_clean(const char *name, char **out)
{
        _cleanup_free_ char *copy = xstrdup(name);
        char *res = xmalloc0(strlen(name) + 1), *save = NULL;
        size_t n = 0;

        *out = NULL;
        if (!*name) {
                free(res);
                return -EINVAL;
        }
        if (name[0] == '/') {
                free(res);
                return -EPERM;
        }
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (!strcmp(c, "."))
                        continue;
                if (!strcmp(c, "..")) {
                        free(res);
                        return -EINVAL;
                }
                if (n)
                        res[n++] = '/';
                memcpy(res + n, c, strlen(c));
                n += strlen(c);
        }
        res[n] = '\0';
        *out = res;
        return 0;
}

/* "top" or "top/rest": *rel is rest ("" for top itself). */
static bool under(const char *clean, const char *top, const char **rel)
{
        size_t n = strlen(top);

        if (strncmp(clean, top, n) || (clean[n] && clean[n] != '/'))
                return false;
        *rel = clean[n] ? clean + n + 1 : clean + n;
        return true;
}

enum extract_dest extract_route(enum extract_layout layout, const char *clean, const char **rel)
{
        *rel = clean;
        if (layout == LAYOUT_ROOTFS)
                return DEST_ROOTFS;
        if (!strcmp(clean, "metadata.yaml"))
                return DEST_METADATA;
        if (under(clean, "templates", rel))
                return DEST_TEMPLATES;
        if (layout == LAYOUT_UNIFIED && under(clean, "rootfs", rel))
                return DEST_ROOTFS;
        return DEST_IGNORE;
}

void extractor_init(struct extractor *x, int rootfs_fd, int templates_fd)
{
        *x = (struct extractor){.rootfs_fd = rootfs_fd, .templates_fd = templates_fd};
}

void extractor_free(struct extractor *x)
{
        for (size_t i = 0; i < x->n_dir_times; i++)
                free(x->dir_times[i].rel);
        free(x->dir_times);
        free(x->metadata);
        x->dir_times = NULL;
        x->metadata = NULL;
        x->n_dir_times = 0;
}

/* rel (a cleaned path) below tree, never leaving it; -1 with errno. */
static int open_beneath(int tree, const char *rel, int flags)
{
        struct open_how how = {
            .flags = (uint64_t)(flags | O_CLOEXEC),
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
        };
        int fd;

        if (!*rel)
                rel = ".";
        do
                fd = (int)syscall(SYS_openat2, tree, rel, &how, sizeof(how));
        while (fd < 0 && errno == EAGAIN);
        return fd;
}

static int escape_error(vessel_error **err, const char *what, const char *name)
{
        if (errno == EXDEV || errno == ELOOP)
                return vessel_error_msg(err, EXDEV,
                                        "%s: entry \"%s\": its path leaves the image through a "
                                        "symlink",
                                        what, name);
        return vessel_error_sys(err, "%s: entry \"%s\"", what, name);
}

/* The parent directory of rel, creating missing directories (tarballs
 * may omit them) one name at a time inside a confined parent. */
static int open_parent(int tree, const char *rel, const char *what, const char *name,
                       vessel_error **err)
{
        _cleanup_free_ char *dir = xstrdup(rel);
        _cleanup_close_ int cur = -1;
        char *slash = strrchr(dir, '/'), *comp;
        int fd;

        *(slash ? slash : dir) = '\0';
        fd = open_beneath(tree, dir, O_PATH | O_DIRECTORY);
        if (fd >= 0 || errno != ENOENT)
                return fd >= 0 ? fd : escape_error(err, what, name);
        cur = open_beneath(tree, "", O_PATH | O_DIRECTORY);
        if (cur < 0)
                return escape_error(err, what, name);
        comp = dir;
        for (char *p = dir;; p++) {
                char saved = *p;
                if (saved && saved != '/')
                        continue;
                *p = '\0';
                fd = open_beneath(tree, dir, O_PATH | O_DIRECTORY);
                if (fd < 0 && errno == ENOENT) {
                        if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
                                return escape_error(err, what, name);
                        fd = open_beneath(tree, dir, O_PATH | O_DIRECTORY);
                }
                if (fd < 0)
                        return escape_error(err, what, name);
                *p = saved;
                closep(&cur);
                cur = fd;
                if (!saved)
                        return steal_fd(&cur);
                comp = p + 1;
        }
}

/* Make room for a new entry: an existing non-directory goes, an existing
 * directory stays when a directory comes, and goes only when empty. */
static int clear_name(int parent, const char *base, bool dir)
{
        struct stat st;

        if (fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
                return errno == ENOENT ? 0 : -errno;
        if (S_ISDIR(st.st_mode)) {
                if (dir)
                        return 1;
                return unlinkat(parent, base, AT_REMOVEDIR) < 0 ? -errno : 0;
        }
        return unlinkat(parent, base, 0) < 0 ? -errno : 0;
}

static int set_xattrs(int fd, struct archive_entry *e)
{
        const char *name;
        const void *value;
        size_t size;

        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
                if (fsetxattr(fd, name, value, size, 0) < 0 && errno != ENOTSUP)
                        return -errno;
        return 0;
}

/* Owner, then mode (chown clears set-id bits), then xattrs (chown also
 * clears security.capability), for an fd we opened. */
static int set_attrs_fd(int fd, struct archive_entry *e, const struct owner *o)
{
        if (fchown(fd, o->uid, o->gid) < 0)
                return -errno;
        if (fchmod(fd, archive_entry_perm(e)) < 0)
                return -errno;
        return set_xattrs(fd, e);
}

static int write_data(int fd, struct archive *a, struct archive_entry *e)
{
        const void *buf;
        size_t size;
        la_int64_t off;
        int rc;

        while ((rc = archive_read_data_block(a, &buf, &size, &off)) == ARCHIVE_OK) {
                const char *p = buf;
                while (size > 0) {
                        ssize_t n = pwrite(fd, p, size, off);
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0)
                                return n < 0 ? -errno : -EIO;
                        p += n;
                        off += n;
                        size -= (size_t)n;
                }
        }
        if (rc != ARCHIVE_EOF)
                return -EIO;
        /* Sparse files end in a hole that no block covers. */
        if (ftruncate(fd, archive_entry_size(e)) < 0)
                return -errno;
        return 0;
}

static int make_file(int parent, const char *base, struct archive *a, struct archive_entry *e,
                     const struct owner *o)
{
        _cleanup_close_ int fd = -1;
        struct timespec ts[2];
        int r = clear_name(parent, base, false);

        if (r < 0)
                return r;
        fd = openat(parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0)
                return -errno;
        r = write_data(fd, a, e);
        if (r < 0)
                return r;
        r = set_attrs_fd(fd, e, o);
        if (r < 0)
                return r;
        ts[0] = (struct timespec){archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
        ts[1] = ts[0];
        return futimens(fd, ts) < 0 ? -errno : 0;
}

static int make_dir(struct extractor *x, int tree, int parent, const char *base, const char *rel,
                    struct archive_entry *e, const struct owner *o)
{
        _cleanup_close_ int fd = -1;
        int r = *base ? clear_name(parent, base, true) : 1;

        if (r < 0)
                return r;
        if (r == 0 && mkdirat(parent, base, 0700) < 0)
                return -errno;
        fd = *base ? openat(parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                   : open_beneath(tree, "", O_RDONLY | O_DIRECTORY);
        if (fd < 0)
                return -errno;
        r = set_attrs_fd(fd, e, o);
        if (r < 0)
                return r;
        x->dir_times = realloc(x->dir_times, (x->n_dir_times + 1) * sizeof(*x->dir_times));
        if (!x->dir_times)
                abort();
        x->dir_times[x->n_dir_times++] = (struct dir_time){
            tree, xstrdup(rel), {archive_entry_mtime(e), archive_entry_mtime_nsec(e)}};
        return 0;
}

/* Symlinks, device nodes and fifos: attributes by name, never followed. */
static int make_special(int parent, const char *base, struct archive_entry *e,
                        const struct owner *o)
{
        mode_t type = archive_entry_filetype(e);
        struct timespec ts[2];
        int r = clear_name(parent, base, false);

        if (r < 0)
                return r;
        if (type == AE_IFLNK) {
                const char *target = archive_entry_symlink(e);
                if (!target || symlinkat(target, parent, base) < 0)
                        return target ? -errno : -EINVAL;
        } else if (mknodat(parent, base, type | archive_entry_perm(e), archive_entry_rdev(e)) < 0) {
                return -errno;
        }
        if (fchownat(parent, base, o->uid, o->gid, AT_SYMLINK_NOFOLLOW) < 0)
                return -errno;
        if (type != AE_IFLNK && fchmodat(parent, base, archive_entry_perm(e), 0) < 0)
                return -errno;
        ts[0] = (struct timespec){archive_entry_mtime(e), archive_entry_mtime_nsec(e)};
        ts[1] = ts[0];
        return utimensat(parent, base, ts, AT_SYMLINK_NOFOLLOW) < 0 ? -errno : 0;
}

static int make_hardlink(int tree, int parent, const char *base, const char *target_rel)
{
        _cleanup_close_ int src = open_beneath(tree, target_rel, O_PATH | O_NOFOLLOW);
        struct stat st;
        int r;

        if (src < 0)
                return -errno;
        if (fstat(src, &st) < 0)
                return -errno;
        if (S_ISDIR(st.st_mode))
                return -EISDIR;
        r = clear_name(parent, base, false);
        if (r < 0)
                return r;
        return linkat(src, "", parent, base, AT_EMPTY_PATH) < 0 ? -errno : 0;
}

static int read_metadata(struct extractor *x, struct archive *a, struct archive_entry *e,
                         const char *what, vessel_error **err)
{
        la_ssize_t n;

        if (archive_entry_filetype(e) != AE_IFREG)
                return vessel_error_msg(err, EINVAL, "%s: metadata.yaml is not a regular file",
                                        what);
        if (archive_entry_size(e) > METADATA_MAX_SIZE)
                return vessel_error_msg(err, EFBIG, "%s: metadata.yaml is larger than %d bytes",
                                        what, METADATA_MAX_SIZE);
        free(x->metadata);
        x->metadata = xmalloc0(METADATA_MAX_SIZE + 1);
        x->metadata_len = 0;
        while ((n = archive_read_data(a, x->metadata + x->metadata_len,
                                      METADATA_MAX_SIZE + 1 - x->metadata_len)) > 0)
                x->metadata_len += (size_t)n;
        if (n < 0)
                return vessel_error_msg(err, EIO, "%s: metadata.yaml: %s", what,
                                        archive_error_string(a));
        if (x->metadata_len > METADATA_MAX_SIZE)
                return vessel_error_msg(err, EFBIG, "%s: metadata.yaml is too large", what);
        return 0;
}

/* The tarball's numeric owner, or with x->id_size its place in the block
 * of host ids at x->id_base (the rootfs), or the caller (templates, which
 * the manager reads itself). */
static int extract_owner(struct extractor *x, int tree, struct archive_entry *e, struct owner *o,
                         const char *what, vessel_error **err)
{
        la_int64_t u = archive_entry_uid(e), g = archive_entry_gid(e);

        if (!x->id_size) {
                *o = (struct owner){(uid_t)u, (gid_t)g};
                return 0;
        }
        if (tree != x->rootfs_fd) {
                *o = (struct owner){geteuid(), getegid()};
                return 0;
        }
        if (u < 0 || g < 0 || u >= x->id_size || g >= x->id_size)
                return vessel_error_msg(err, ERANGE,
                                        "%s: entry \"%s\": owner %lld:%lld is outside the %u ids "
                                        "an image of a rootless store keeps",
                                        what, archive_entry_pathname(e), (long long)u, (long long)g,
                                        x->id_size);
        *o = (struct owner){(uid_t)(x->id_base + (uint32_t)u), (gid_t)(x->id_base + (uint32_t)g)};
        return 0;
}

int extract_entry(struct extractor *x, struct archive *a, struct archive_entry *e, int tree,
                  const char *rel, const char *hardlink_rel, const char *what, vessel_error **err)
{
        const char *name = archive_entry_pathname(e);
        mode_t type = archive_entry_filetype(e);
        const char *base = strrchr(rel, '/');
        _cleanup_close_ int parent = -1;
        struct owner o = {0};
        int r;

        if (!*rel && (hardlink_rel || type != AE_IFDIR))
                return vessel_error_msg(err, EINVAL,
                                        "%s: entry \"%s\": the top of the tree must "
                                        "be a directory",
                                        what, name);
        if ((r = extract_owner(x, tree, e, &o, what, err)) < 0)
                return r;
        if ((type == AE_IFCHR || type == AE_IFBLK) && x->skip_devices) {
                /* No user namespace may make a device node. */
                x->n_skipped_devices++;
                return 0;
        }
        parent = open_parent(tree, rel, what, name, err);
        if (parent < 0)
                return parent;
        base = base ? base + 1 : rel;
        if (hardlink_rel)
                r = make_hardlink(tree, parent, base, hardlink_rel);
        else if (type == AE_IFREG)
                r = make_file(parent, base, a, e, &o);
        else if (type == AE_IFDIR)
                r = make_dir(x, tree, parent, base, rel, e, &o);
        else if (type == AE_IFLNK || type == AE_IFCHR || type == AE_IFBLK || type == AE_IFIFO)
                r = make_special(parent, base, e, &o);
        else
                return 0; /* sockets and the like: not part of an image */
        if (r < 0)
                return vessel_error_set(err, -r, "%s: entry \"%s\"", what, name);
        return 0;
}

static int bad_name(vessel_error **err, const char *what, const char *name, int r)
{
        if (r == -EPERM)
                return vessel_error_msg(err, EPERM,
                                        "%s: entry \"%s\": absolute paths are "
                                        "refused",
                                        what, name);
        return vessel_error_msg(err, EINVAL, "%s: entry \"%s\": \"..\" components are refused",
                                what, name);
}

static int route_entry(struct extractor *x, struct archive *a, struct archive_entry *e,
                       enum extract_layout layout, const char *what, vessel_error **err)
{
        const char *name = archive_entry_pathname(e), *link = archive_entry_hardlink(e);
        _cleanup_free_ char *clean = NULL, *link_clean = NULL;
        const char *rel, *link_rel = NULL;
        enum extract_dest dest;
        int r, tree;

        if (!name)
                return vessel_error_msg(err, EINVAL, "%s: an entry without a name", what);
        r = path_clean(name, &clean);
        if (r == 0 && link)
                r = path_clean(link, &link_clean);
        if (r < 0)
                return bad_name(err, what, link_clean || !link || !clean ? name : link, r);
        dest = extract_route(layout, clean, &rel);
        if (link && extract_route(layout, link_clean, &link_rel) != dest)
                return vessel_error_msg(err, EINVAL,
                                        "%s: entry \"%s\": a hard link to \"%s\", "
                                        "outside its tree",
                                        what, name, link);
        if (dest == DEST_METADATA)
                return read_metadata(x, a, e, what, err);
        tree = dest == DEST_ROOTFS ? x->rootfs_fd : dest == DEST_TEMPLATES ? x->templates_fd : -1;
        if (tree < 0)
                return 0;
        x->n_entries++;
        return extract_entry(x, a, e, tree, rel, link_rel, what, err);
}

int extract_archive(struct extractor *x, struct archive *a, enum extract_layout layout,
                    const char *what, vessel_error **err)
{
        struct archive_entry *e;
        int rc;

        while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN)
                if (route_entry(x, a, e, layout, what, err) < 0)
                        return vessel_error_rc(err);
        if (rc != ARCHIVE_EOF)
                return vessel_error_msg(err, EINVAL, "%s: %s", what,
                                        archive_error_string(a) ? archive_error_string(a)
                                                                : "not a tarball");
        return 0;
}

int extract_finish(struct extractor *x, vessel_error **err)
{
        /* Deepest first does not matter: setting a directory's times does
         * not change its parent's. */
        for (size_t i = 0; i < x->n_dir_times; i++) {
                struct dir_time *d = &x->dir_times[i];
                _cleanup_close_ int fd = open_beneath(d->tree_fd, d->rel, O_RDONLY | O_DIRECTORY);
                struct timespec ts[2] = {d->mtime, d->mtime};
                if (fd < 0)
                        continue; /* replaced by a later entry */
                if (futimens(fd, ts) < 0)
                        return vessel_error_sys(err, "setting the times of \"%s\"", d->rel);
        }
        return 0;
}
