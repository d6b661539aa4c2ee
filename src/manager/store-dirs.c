/* store-dirs.c: the crash-safety mechanism shared by images/ and
 * instances/ (docs/store.md).
 *
 * Work in progress lives in a hidden directory named PREFIX-random, held
 * under an flock by its owner: a dead owner's directory (its flock free)
 * is removed by the next command.  A delete renames the directory to
 * .delete-<name>-XXXXXXXX inside its transaction and removes it after the
 * commit.  A directory without a row is an orphan (killed between a
 * rename into place and the commit).  The decisions that need the
 * catalogue are taken under its write lock, the one under which those
 * renames happen; the lock is only taken when there is something to
 * decide. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "store.h"
#include "util.h"
#include "userns-helper.h"

int store_dir_lock_free(int dirfd, const char *name)
{
        int fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) < 0)
                closep(&fd);
        return fd;
}

/* A recover that took the lock first (between mkdir and flock) removes
 * the directory; we then see it unlinked and try again. */
int store_workdir_create(int dirfd, const char *prefix, char *name, size_t size, int *fd,
                         vessel_error **err)
{
        *fd = -1;
        for (int tries = 0; tries < 100; tries++) {
                unsigned char rnd[6];
                struct stat sb;

                if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
                        return vessel_error_sys(err, "getrandom");
                snprintf(name, size, "%s%02x%02x%02x%02x%02x%02x", prefix, rnd[0], rnd[1], rnd[2],
                         rnd[3], rnd[4], rnd[5]);
                if (mkdirat(dirfd, name, 0700) < 0) {
                        if (errno == EEXIST)
                                continue;
                        return vessel_error_sys(err, "making %s", name);
                }
                *fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (*fd < 0)
                        continue;
                if (flock(*fd, LOCK_EX) < 0)
                        return vessel_error_sys(err, "locking %s", name);
                if (fstat(*fd, &sb) == 0 && sb.st_nlink > 0)
                        return 0;
                closep(fd);
        }
        return vessel_error_msg(err, EAGAIN, "cannot make a staging directory %s*", prefix);
}

int store_delete_begin(int dirfd, const char *name, char *hidden, size_t size, int *fd,
                       vessel_error **err)
{
        unsigned int rnd;

        *fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (*fd < 0)
                return errno == ENOENT ? 0 : vessel_error_sys(err, "opening %s", name);
        if (flock(*fd, LOCK_EX) < 0)
                return vessel_error_sys(err, "locking %s", name);
        if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
                return vessel_error_sys(err, "getrandom");
        snprintf(hidden, size, STORE_DELETE_PREFIX "%s-%08x", name, rnd);
        if (renameat(dirfd, name, dirfd, hidden) < 0)
                return vessel_error_sys(err, "renaming %s", name);
        return 1;
}

/* .delete-<name>-XXXXXXXX: renamed back when the row is still there
 * (killed before its commit), else removed. */
static int recover_deleted(struct vessel_store *s, int dirfd, const struct store_dir_kind *k,
                           const char *entry, vessel_error **err)
{
        _cleanup_close_ int fd = store_dir_lock_free(dirfd, entry);
        const char *start = entry + strlen(STORE_DELETE_PREFIX);
        size_t len = strlen(start);
        _cleanup_free_ char *name = strndup(start, len > 9 ? len - 9 : 0);
        bool exists;

        if (fd < 0)
                return 0;
        if (k->row_exists(s, name, &exists, err) < 0)
                return -EIO;
        if (exists && faccessat(dirfd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
            renameat(dirfd, entry, dirfd, name) == 0)
                return 0;
        store_rm_rf_at(s, dirfd, entry, NULL);
        return 0;
}

static int recover_orphan(struct vessel_store *s, int dirfd, const struct store_dir_kind *k,
                          const char *name, vessel_error **err)
{
        _cleanup_close_ int fd = store_dir_lock_free(dirfd, name);
        bool exists;

        if (fd < 0)
                return 0;
        if (k->row_exists(s, name, &exists, err) < 0)
                return -EIO;
        if (exists)
                return 0;
        if (k->orphan) {
                int r = k->orphan(s, name, err);
                if (r != 0)
                        return r < 0 ? r : 0;
        }
        store_rm_rf_at(s, dirfd, name, NULL);
        return 0;
}

static int recover_locked(struct vessel_store *s, int dirfd, const struct store_dir_kind *k,
                          char **names, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};

        if (store_tx_begin(s, &tx, err) < 0)
                return -EIO;
        for (char **n = names; *n; n++) {
                int r = str_has_prefix(*n, STORE_DELETE_PREFIX)
                            ? recover_deleted(s, dirfd, k, *n, err)
                            : recover_orphan(s, dirfd, k, *n, err);
                if (r < 0)
                        return r;
        }
        return store_tx_commit(&tx, err);
}

static int needs_lock(struct vessel_store *s, const struct store_dir_kind *k, const char *name,
                      vessel_error **err)
{
        bool exists;

        if (str_has_prefix(name, STORE_DELETE_PREFIX))
                return 1;
        if (!k->name_valid(name))
                return 0;
        if (k->row_exists(s, name, &exists, err) < 0)
                return -EIO;
        return !exists;
}

int store_recover_dir(struct vessel_store *s, int dirfd, const struct store_dir_kind *k,
                      vessel_error **err)
{
        _cleanup_strv_ char **later = xmalloc0(sizeof(char *));
        _cleanup_close_ int fd = dup(dirfd);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;
        int r = 0;

        if (!d)
                return vessel_error_sys(err, "%s/", k->what);
        fd = -1;
        while (r >= 0 && (de = readdir(d))) {
                if (str_has_prefix(de->d_name, k->tmp_prefix) ||
                    (k->tmp_prefix_other && str_has_prefix(de->d_name, k->tmp_prefix_other))) {
                        _cleanup_close_ int lock = store_dir_lock_free(dirfd, de->d_name);
                        if (lock >= 0)
                                store_rm_rf_at(s, dirfd, de->d_name, NULL);
                        continue;
                }
                r = needs_lock(s, k, de->d_name, err);
                if (r > 0)
                        later = strv_append(later, de->d_name);
        }
        closedir(d);
        if (r < 0)
                return vessel_error_prefix(err, "%s/", k->what);
        return later[0] ? recover_locked(s, dirfd, k, later, err) : 0;
}

int store_rm_rf_at(struct vessel_store *s, int dirfd, const char *name, vessel_error **err)
{
        int r;

        if (store_is_rootless(s))
                return userns_rm_rf_at(dirfd, name, err);
        r = rm_rf_at(dirfd, name);
        return r < 0 ? vessel_error_set(err, -r, "rm -rf %s", name) : 0;
}
