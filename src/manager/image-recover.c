/* image-recover.c: what killed commands left in images/ is cleaned by
 * the next command (store_open):
 *   .import-*        a staging directory whose importer died (its flock is
 *                    free): removed;
 *   .delete-<fp>-*   a delete that died: renamed back when the row is still
 *                    there (killed before its commit), else removed;
 *   <fp> without row an import killed between its rename and its commit:
 *                    removed.
 * The last two are decided under the catalogue's write lock, the one under
 * which imports and deletes rename; the write lock is only taken when
 * there is something to decide. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>

#include "image-internal.h"
#include "util.h"

/* An fd of images/name, flock'ed if nobody else holds it; -1 when busy. */
static int lock_free(int images_fd, const char *name)
{
        int fd = openat(images_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0)
                closep(&fd);
        return fd;
}

static int recover_deleted(struct vessel_store *s, const char *name, vessel_error **err)
{
        char fp[FINGERPRINT_HEX_LEN + 1];
        _cleanup_close_ int fd = lock_free(s->images_fd, name);
        bool exists;

        if (fd < 0)
                return 0;
        snprintf(fp, sizeof(fp), "%s", name + strlen(IMAGE_DELETE_PREFIX));
        if (db_image_exists(s, fp, &exists, err) < 0)
                return -EIO;
        if (exists && faccessat(s->images_fd, fp, F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
            renameat(s->images_fd, name, s->images_fd, fp) == 0)
                return 0;
        rm_rf_at(s->images_fd, name);
        return 0;
}

static int recover_orphan(struct vessel_store *s, const char *name, vessel_error **err)
{
        bool exists;

        if (db_image_exists(s, name, &exists, err) < 0)
                return -EIO;
        if (!exists)
                rm_rf_at(s->images_fd, name);
        return 0;
}

/* Under the write lock: the entries that need the catalogue's word. */
static int recover_locked(struct vessel_store *s, char **names, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};

        if (store_tx_begin(s, &tx, err) < 0)
                return -EIO;
        for (char **n = names; *n; n++) {
                int r = str_has_prefix(*n, IMAGE_DELETE_PREFIX) ? recover_deleted(s, *n, err)
                                                                : recover_orphan(s, *n, err);
                if (r < 0)
                        return r;
        }
        return store_tx_commit(&tx, err);
}

/* Does this entry need a decision under the lock? */
static int needs_lock(struct vessel_store *s, const char *name, vessel_error **err)
{
        bool exists;

        if (str_has_prefix(name, IMAGE_DELETE_PREFIX))
                return 1;
        if (!fingerprint_valid(name))
                return 0;
        if (db_image_exists(s, name, &exists, err) < 0)
                return -EIO;
        return !exists;
}

int image_recover(struct vessel_store *s, vessel_error **err)
{
        _cleanup_strv_ char **later = xmalloc0(sizeof(char *));
        _cleanup_close_ int fd = dup(s->images_fd);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;
        int r = 0;

        if (!d)
                return vessel_error_sys(err, "images/");
        fd = -1;
        while (r >= 0 && (de = readdir(d))) {
                if (str_has_prefix(de->d_name, IMAGE_TMP_PREFIX)) {
                        _cleanup_close_ int lock = lock_free(s->images_fd, de->d_name);
                        if (lock >= 0)
                                rm_rf_at(s->images_fd, de->d_name);
                        continue;
                }
                r = needs_lock(s, de->d_name, err);
                if (r > 0)
                        later = strv_append(later, de->d_name);
        }
        closedir(d);
        if (r < 0)
                return r;
        return later[0] ? recover_locked(s, later, err) : 0;
}
