/* image.c: deleting, exporting and recovering images (import is in
 * image-import.c, the catalogue rows in image-db.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/stat.h>

#include "image-internal.h"
#include "storage.h"
#include "util.h"

/* The directory is renamed to a hidden name inside the transaction and
 * removed after the commit; the flock tells image_recover that its owner
 * lives.  Killed before the commit, recover renames it back (the row is
 * still there); killed after, recover finishes the removal. */
int image_delete(struct vessel_store *s, const char *fp, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        _cleanup_close_ int fd = -1;
        char hidden[128];
        bool exists;
        int moved;

        if (store_tx_begin(s, &tx, err) < 0 || db_image_exists(s, fp, &exists, err) < 0)
                return -EIO;
        if (!exists)
                return vessel_error_msg(err, ENOENT, "image \"%s\": no such image", fp);
        moved = store_delete_begin(s->images_fd, fp, hidden, sizeof(hidden), &fd, err);
        if (moved < 0)
                return vessel_error_prefix(err, "image \"%s\"", fp);
        if (db_image_delete(s, fp, err) < 0 || store_tx_commit(&tx, err) < 0) {
                if (moved)
                        renameat(s->images_fd, hidden, s->images_fd, fp);
                return vessel_error_rc(err);
        }
        if (moved && store_rm_rf_at(s, s->images_fd, hidden, err) < 0)
                return vessel_error_prefix(err, "removing images/%s", hidden);
        /* Its volumes in the pools, but for overlay lower layers that
         * instances stand on (removed with their last instance). */
        return storage_image_release(s, fp, err);
}

static int copy_out(int src_dir, const char *src, const char *dir, const char *name,
                    char ***written, vessel_error **err)
{
        _cleanup_free_ char *dst = xasprintf("%s/%s", dir, name);
        _cleanup_free_ char *tmp = xasprintf("%s/.%s.part", dir, name);
        _cleanup_close_ int in = openat(src_dir, src, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int out = -1;
        struct stat sb;
        off_t off = 0;

        if (in < 0 || fstat(in, &sb) < 0)
                return vessel_error_sys(err, "image file %s", src);
        out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out < 0)
                return vessel_error_sys(err, "%s", tmp);
        while (off < sb.st_size) {
                ssize_t n = sendfile(out, in, &off, (size_t)(sb.st_size - off));
                if (n <= 0) {
                        unlink(tmp);
                        return vessel_error_set(err, n < 0 ? errno : EIO, "writing %s", dst);
                }
        }
        if (rename(tmp, dst) < 0) {
                unlink(tmp);
                return vessel_error_sys(err, "%s", dst);
        }
        *written = strv_append(*written, dst);
        return 0;
}

/* The stored tarball of a role ("image", "meta", "rootfs"): the regular
 * file role.tar*; returns its extension ("tar.xz") inside name. */
static int find_tarball(int dir, const char *role, char *name, size_t size)
{
        _cleanup_close_ int fd = dup(dir);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;
        size_t n = strlen(role);
        int r = -ENOENT;

        if (!d)
                return -errno;
        fd = -1;
        rewinddir(d);
        while ((de = readdir(d)))
                if (!strncmp(de->d_name, role, n) && !strncmp(de->d_name + n, ".tar", 4) &&
                    de->d_type == DT_REG) {
                        snprintf(name, size, "%s", de->d_name);
                        r = 0;
                        break;
                }
        closedir(d);
        return r;
}

int image_export(struct vessel_store *s, const char *fp, const char *dir, char ***written,
                 vessel_error **err)
{
        static const char *const unified[] = {"image", NULL}, *const split[] = {"meta", "rootfs",
                                                                                NULL};
        _cleanup_close_ int fd = openat(s->images_fd, fp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct image_info info;
        int r;

        *written = xmalloc0(sizeof(char *));
        if (fd < 0)
                return vessel_error_sys(err, "image \"%s\": images/%s", fp, fp);
        r = image_get(s, fp, &info, err);
        if (r < 0)
                return r;
        for (const char *const *role = strcmp(info.format, "split") ? unified : split; *role;
             role++) {
                char name[256];
                _cleanup_free_ char *out = NULL;
                if (find_tarball(fd, *role, name, sizeof(name)) < 0) {
                        r = vessel_error_msg(err, ENOENT, "image \"%s\": its %s tarball is missing",
                                             fp, *role);
                        break;
                }
                out = xasprintf("%s%s%s", !strcmp(*role, "meta") ? "meta-" : "", fp,
                                name + strlen(*role));
                r = copy_out(fd, name, dir, out, written, err);
                if (r < 0)
                        break;
        }
        image_info_free(&info);
        return r;
}
