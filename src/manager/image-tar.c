/* image-tar.c: deterministic tarballs, for a directory import (its
 * fingerprint is that of the tarball made here, which the store keeps, so
 * export gives it back) and for the metadata of a plain rootfs tarball.
 * Names are sorted bytewise, owners are numeric, and access and change
 * times are left out, so the same tree always gives the same bytes. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "image-internal.h"
#include "util.h"

struct tar_out {
        int fd;
        struct fingerprint *fp;
        struct archive *disk; /* reads owners, modes and xattrs from files */
        struct archive_entry_linkresolver *links;
};

static la_ssize_t tar_write_cb(struct archive *a, void *data, const void *buf, size_t len)
{
        struct tar_out *t = data;

        if (write_all(t->fd, buf, len) < 0) {
                archive_set_error(a, errno, "writing the tarball");
                return -1;
        }
        fingerprint_update(t->fp, buf, len);
        return (la_ssize_t)len;
}

static struct archive *tar_writer(struct tar_out *t)
{
        struct archive *a = archive_write_new();

        if (!a)
                abort();
        archive_write_set_format_pax_restricted(a);
        archive_write_add_filter_none(a);
        if (archive_write_open2(a, t, NULL, tar_write_cb, NULL, NULL) != ARCHIVE_OK) {
                archive_write_free(a);
                return NULL;
        }
        return a;
}

static int tar_fail(struct archive *a, vessel_error **err, const char *what)
{
        return vessel_error_msg(err, EIO, "%s: %s", what,
                                archive_error_string(a) ? archive_error_string(a) : "tar error");
}

static int copy_data(struct archive *a, int fd, const char *path, vessel_error **err)
{
        char buf[65536];
        ssize_t n;

        while ((n = read(fd, buf, sizeof(buf))) > 0)
                if (archive_write_data(a, buf, (size_t)n) < 0)
                        return tar_fail(a, err, path);
        return n < 0 ? vessel_error_sys(err, "reading %s", path) : 0;
}

static int write_entry(struct archive *a, struct tar_out *t, struct archive_entry *e, int fd,
                       const char *path, vessel_error **err)
{
        struct archive_entry *spare = NULL;
        int r = 0;

        archive_entry_linkify(t->links, &e, &spare);
        if (e) {
                if (archive_write_header(a, e) != ARCHIVE_OK)
                        r = tar_fail(a, err, path);
                else if (fd >= 0 && archive_entry_size(e) > 0)
                        r = copy_data(a, fd, path, err);
                if (e != spare)
                        archive_entry_free(e);
        }
        if (spare)
                archive_entry_free(spare);
        return r;
}

static int name_cmp(const struct dirent **x, const struct dirent **y)
{
        return strcmp((*x)->d_name, (*y)->d_name);
}

static int tar_tree(struct archive *a, struct tar_out *t, const char *path, const char *name,
                    vessel_error **err);

static int tar_children(struct archive *a, struct tar_out *t, const char *path, const char *name,
                        vessel_error **err)
{
        struct dirent **ents = NULL;
        int n = scandir(path, &ents, NULL, name_cmp), r = 0;

        if (n < 0)
                return vessel_error_sys(err, "reading %s", path);
        for (int i = 0; i < n; i++) {
                const char *c = ents[i]->d_name;
                if (r == 0 && strcmp(c, ".") && strcmp(c, "..")) {
                        _cleanup_free_ char *cp = xasprintf("%s/%s", path, c);
                        _cleanup_free_ char *cn = xasprintf("%s/%s", name, c);
                        r = tar_tree(a, t, cp, cn, err);
                }
                free(ents[i]);
        }
        free(ents);
        return r;
}

/* path on disk, name in the tarball. */
static int tar_tree(struct archive *a, struct tar_out *t, const char *path, const char *name,
                    vessel_error **err)
{
        _cleanup_close_ int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        struct archive_entry *e;
        struct stat st;
        int r;

        if (lstat(path, &st) < 0)
                return vessel_error_sys(err, "%s", path);
        if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
                closep(&fd); /* symlinks, devices, fifos: by name only */
        else if (fd < 0)
                return vessel_error_sys(err, "opening %s", path);
        if (S_ISSOCK(st.st_mode))
                return 0;
        e = archive_entry_new();
        archive_entry_copy_sourcepath(e, path);
        archive_entry_copy_pathname(e, name);
        if (archive_read_disk_entry_from_file(t->disk, e, fd, &st) != ARCHIVE_OK) {
                archive_entry_free(e);
                return tar_fail(t->disk, err, path);
        }
        archive_entry_unset_atime(e);
        archive_entry_unset_ctime(e);
        archive_entry_unset_birthtime(e);
        archive_entry_set_uname(e, NULL);
        archive_entry_set_gname(e, NULL);
        r = write_entry(a, t, e, S_ISREG(st.st_mode) ? fd : -1, path, err);
        if (r == 0 && S_ISDIR(st.st_mode))
                r = tar_children(a, t, path, name, err);
        return r;
}

static int tar_finish(struct archive *a, struct tar_out *t, int r, vessel_error **err)
{
        struct archive_entry *e = NULL, *spare = NULL;

        /* Entries the resolver still holds (none for pax, which emits the
         * first link with its data at once). */
        if (t->links)
                archive_entry_linkify(t->links, &e, &spare);
        while (r == 0 && e) {
                r = write_entry(a, t, e, -1, archive_entry_pathname(e), err);
                e = NULL;
                archive_entry_linkify(t->links, &e, &spare);
        }
        if (archive_write_close(a) != ARCHIVE_OK && r == 0)
                r = tar_fail(a, err, "writing the tarball");
        archive_write_free(a);
        if (t->links)
                archive_entry_linkresolver_free(t->links);
        if (t->disk)
                archive_read_free(t->disk);
        return r;
}

int tar_directory(const char *dir, int out_fd, struct fingerprint *fp_ctx, vessel_error **err)
{
        static const char *const tops[] = {"metadata.yaml", "rootfs", "templates"};
        struct tar_out t = {.fd = out_fd, .fp = fp_ctx};
        struct archive *a = tar_writer(&t);
        int r = 0;

        if (!a)
                return vessel_error_msg(err, EIO, "%s: cannot start a tarball", dir);
        t.disk = archive_read_disk_new();
        archive_read_disk_set_behavior(t.disk,
                                       ARCHIVE_READDISK_NO_ACL | ARCHIVE_READDISK_NO_FFLAGS);
        t.links = archive_entry_linkresolver_new();
        archive_entry_linkresolver_set_strategy(t.links, ARCHIVE_FORMAT_TAR_PAX_RESTRICTED);
        for (size_t i = 0; r == 0 && i < ARRAY_SIZE(tops); i++) {
                _cleanup_free_ char *p = xasprintf("%s/%s", dir, tops[i]);
                if (i == 2 && access(p, F_OK) < 0)
                        continue; /* templates/ is optional */
                r = tar_tree(a, &t, p, tops[i], err);
        }
        return tar_finish(a, &t, r, err);
}

int tar_metadata(const char *yaml, size_t len, int64_t mtime, int out_fd,
                 struct fingerprint *fp_ctx, vessel_error **err)
{
        struct tar_out t = {.fd = out_fd, .fp = fp_ctx};
        struct archive *a = tar_writer(&t);
        struct archive_entry *e;
        int r = 0;

        if (!a)
                return vessel_error_msg(err, EIO, "metadata tarball: cannot start it");
        e = archive_entry_new();
        archive_entry_set_pathname(e, "metadata.yaml");
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, (la_int64_t)len);
        archive_entry_set_mtime(e, mtime, 0);
        if (archive_write_header(a, e) != ARCHIVE_OK ||
            archive_write_data(a, yaml, len) != (la_ssize_t)len)
                r = tar_fail(a, err, "metadata tarball");
        archive_entry_free(e);
        return tar_finish(a, &t, r, err);
}
