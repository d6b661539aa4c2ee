/* storage.c: storage pools in the catalogue, and the calls into their
 * back ends (storage.h). */
#include "storage.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/magic.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "config-db.h"
#include "storage-internal.h"
#include "util.h"

static const struct storage_ops *const drivers[] = {
    &storage_dir_ops,
    &storage_overlay_ops,
    &storage_btrfs_ops,
};

const struct storage_ops *storage_driver_find(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(drivers); i++)
                if (!strcmp(drivers[i]->name, name))
                        return drivers[i];
        return NULL;
}

bool storage_pool_name_valid(const char *name)
{
        size_t n = strlen(name);

        if (n == 0 || n > 63 || name[0] == '-' || name[0] == '.')
                return false;
        for (const char *c = name; *c; c++)
                if (!isascii((unsigned char)*c) ||
                    !(isalnum((unsigned char)*c) || *c == '-' || *c == '_' || *c == '.'))
                        return false;
        return true;
}

int storage_size_parse(const char *s, uint64_t *out, vessel_error **err)
{
        static const struct {
                const char *suffix;
                uint64_t mult;
        } units[] = {{"", 1},
                     {"B", 1},
                     {"KiB", 1ULL << 10},
                     {"MiB", 1ULL << 20},
                     {"GiB", 1ULL << 30},
                     {"TiB", 1ULL << 40},
                     {"K", 1ULL << 10},
                     {"M", 1ULL << 20},
                     {"G", 1ULL << 30},
                     {"T", 1ULL << 40},
                     {"kB", 1000},
                     {"MB", 1000 * 1000},
                     {"GB", 1000ULL * 1000 * 1000},
                     {"TB", 1000ULL * 1000 * 1000 * 1000}};
        char *end;
        unsigned long long v;

        errno = 0;
        v = strtoull(s, &end, 10);
        if (errno || end == s || s[0] == '-')
                goto bad;
        for (size_t i = 0; i < ARRAY_SIZE(units); i++)
                if (!strcmp(end, units[i].suffix)) {
                        if (v > UINT64_MAX / units[i].mult)
                                goto bad;
                        *out = v * units[i].mult;
                        return 0;
                }
bad:
        return vessel_error_msg(err, EINVAL,
                                "size \"%s\": not a size (a number of bytes, or with KiB, MiB, "
                                "GiB, TiB, kB, MB, GB, TB)",
                                s);
}

char *pool_abs(const struct storage_pool *p, const char *rel)
{
        return rel[0] == '/' ? xstrdup(rel) : xasprintf("%s/%s", p->path, rel);
}

static const char *const subdirs[] = {"images", "containers", "snapshots"};

int pool_subdirs_create(struct storage_pool *p, vessel_error **err)
{
        for (size_t i = 0; i < ARRAY_SIZE(subdirs); i++) {
                _cleanup_free_ char *d = xasprintf("%s/%s", p->path, subdirs[i]);
                if (mkdir(d, 0711) < 0 && errno != EEXIST) {
                        int r = vessel_error_sys(err, "storage pool %s: mkdir %s", p->name, d);
                        pool_subdirs_remove(p);
                        return r;
                }
        }
        return 0;
}

void pool_subdirs_remove(struct storage_pool *p)
{
        for (size_t i = 0; i < ARRAY_SIZE(subdirs); i++) {
                _cleanup_free_ char *d = xasprintf("%s/%s", p->path, subdirs[i]);
                rmdir(d);
        }
}

int pool_dirs_create(struct vessel_store *s, struct storage_pool *p, vessel_error **err)
{
        (void)s;
        if (p->source[0]) {
                struct stat st;
                if (stat(p->source, &st) < 0)
                        return vessel_error_sys(err, "storage pool %s: source %s", p->name,
                                                p->source);
                if (!S_ISDIR(st.st_mode))
                        return vessel_error_msg(err, ENOTDIR,
                                                "storage pool %s: source %s is not a directory",
                                                p->name, p->source);
                for (size_t i = 0; i < ARRAY_SIZE(subdirs); i++) {
                        _cleanup_free_ char *d = xasprintf("%s/%s", p->source, subdirs[i]);
                        if (access(d, F_OK) == 0)
                                return vessel_error_msg(err, EEXIST,
                                                        "storage pool %s: source %s already "
                                                        "holds a pool (%s/ is there)",
                                                        p->name, p->source, subdirs[i]);
                }
                if (symlink(p->source, p->path) < 0)
                        return vessel_error_sys(err, "storage pool %s: symlink %s", p->name,
                                                p->path);
        } else if (mkdir(p->path, 0711) < 0) {
                return vessel_error_sys(err, "storage pool %s: mkdir %s", p->name, p->path);
        }
        if (pool_subdirs_create(p, err) < 0) {
                if (p->source[0])
                        unlink(p->path);
                else
                        rmdir(p->path);
                return -EIO;
        }
        return 0;
}

/* What is left in images/ are image volumes (and debris): they go with
 * the pool, each as its back end removes it. */
int images_remove(struct vessel_store *s, struct storage_pool *p, vessel_error **err)
{
        _cleanup_free_ char *images = xasprintf("%s/images", p->path);
        DIR *d = opendir(images);
        struct dirent *de;
        char **names = xmalloc0(sizeof(char *));
        int r = 0;

        if (!d) {
                strv_free(names);
                return errno == ENOENT ? 0 : vessel_error_sys(err, "opendir %s", images);
        }
        while ((de = readdir(d)))
                if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        names = strv_append(names, de->d_name);
        closedir(d);
        for (char **n = names; r == 0 && *n; n++) {
                _cleanup_free_ char *vol = xasprintf("images/%s", *n);
                r = p->ops->volume_delete(s, p, vol, err);
        }
        strv_free(names);
        return r;
}

int pool_dirs_destroy(struct vessel_store *s, struct storage_pool *p, vessel_error **err)
{
        if (images_remove(s, p, err) < 0)
                return -EIO;
        pool_subdirs_remove(p);
        if ((p->source[0] ? unlink(p->path) : rmdir(p->path)) < 0 && errno != ENOENT)
                return vessel_error_sys(err, "storage pool %s: removing %s", p->name, p->path);
        return 0;
}

/* ---- rows ---- */

#define POOL_COLS "id, name, driver, source, size, description, created_at"

static void row_read(struct vessel_store *s, sqlite3_stmt *st, struct storage_pool *p)
{
        *p = (struct storage_pool){
            .id = sqlite3_column_int64(st, 0),
            .name = db_col_text(st, 1),
            .driver = db_col_text(st, 2),
            .source = db_col_text(st, 3),
            .size = (uint64_t)sqlite3_column_int64(st, 4),
            .description = db_col_text(st, 5),
            .created_at = sqlite3_column_int64(st, 6),
        };
        p->path = xasprintf("%s/storage/%s", s->root, p->name);
        p->ops = storage_driver_find(p->driver);
}

void storage_pool_free(struct storage_pool *p)
{
        free(p->name);
        free(p->driver);
        free(p->source);
        free(p->description);
        free(p->path);
        *p = (struct storage_pool){0};
}

void storage_pool_list_free(struct storage_pool *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                storage_pool_free(&v[i]);
        free(v);
}

static int pool_get_where(struct vessel_store *s, const char *where, const char *name, int64_t id,
                          struct storage_pool *out, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *sql =
            xasprintf("SELECT " POOL_COLS " FROM storage_pools WHERE %s", where);
        int rc;

        if (store_prepare(s, sql, &st, err) < 0)
                return -EIO;
        if (name)
                db_bind_text(st, 1, name);
        else
                sqlite3_bind_int64(st, 1, id);
        rc = store_step(s, st, err);
        if (rc < 0)
                return rc;
        if (rc != SQLITE_ROW) {
                if (name)
                        return vessel_error_msg(err, ENOENT, "storage pool \"%s\": no such pool",
                                                name);
                return vessel_error_msg(err, ENOENT, "storage pool %lld: no such pool",
                                        (long long)id);
        }
        row_read(s, st, out);
        if (!out->ops) {
                int r = vessel_error_msg(err, ENOTSUP, "storage pool \"%s\": unknown driver \"%s\"",
                                         out->name, out->driver);
                storage_pool_free(out);
                return r;
        }
        return 0;
}

int storage_pool_get(struct vessel_store *s, const char *name, struct storage_pool *out,
                     vessel_error **err)
{
        return pool_get_where(s, "name = ?", name, 0, out, err);
}

int storage_pool_get_id(struct vessel_store *s, int64_t id, struct storage_pool *out,
                        vessel_error **err)
{
        return pool_get_where(s, "id = ?", NULL, id, out, err);
}

int storage_pool_list(struct vessel_store *s, struct storage_pool **out, size_t *n,
                      vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        *out = NULL;
        *n = 0;
        if (store_prepare(s, "SELECT " POOL_COLS " FROM storage_pools ORDER BY name", &st, err) < 0)
                return -EIO;
        while ((rc = store_step(s, st, err)) == SQLITE_ROW) {
                *out = realloc(*out, (*n + 1) * sizeof(**out));
                if (!*out)
                        abort();
                row_read(s, st, &(*out)[(*n)++]);
        }
        if (rc < 0) {
                storage_pool_list_free(*out, *n);
                *out = NULL;
                *n = 0;
                return rc;
        }
        return 0;
}

/* Another pool with this source (or whose own file is it). */
static int source_taken(struct vessel_store *s, const char *source, char **by, vessel_error **err)
{
        struct storage_pool *v;
        size_t n;
        char real[PATH_MAX];

        *by = NULL;
        if (!source[0] || !realpath(source, real))
                return 0;
        if (storage_pool_list(s, &v, &n, err) < 0)
                return -EIO;
        for (size_t i = 0; i < n && !*by; i++) {
                char other[PATH_MAX];
                if (v[i].source[0] && realpath(v[i].source, other) && !strcmp(other, real))
                        *by = xstrdup(v[i].name);
        }
        storage_pool_list_free(v, n);
        return 0;
}

int storage_pool_create(struct vessel_store *s, const struct storage_create_opts *o,
                        vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *storage = xasprintf("%s/storage", s->root), *by = NULL;
        _cleanup_close_ int lock = -1;
        struct storage_pool p = {0};
        int r;

        if (!storage_pool_name_valid(o->name))
                return vessel_error_msg(err, EINVAL,
                                        "storage pool \"%s\": not a valid name (1 to 63 "
                                        "letters, digits, '-', '_' and '.', not starting with "
                                        "'-' or '.')",
                                        o->name);
        p.ops = storage_driver_find(o->driver);
        if (!p.ops)
                return vessel_error_msg(err, EINVAL,
                                        "storage pool \"%s\": unknown driver \"%s\" (dir, "
                                        "overlay or btrfs)",
                                        o->name, o->driver);
        if (store_is_rootless(s) && !p.ops->rootless)
                return vessel_error_msg(err, EPERM,
                                        "storage pool \"%s\": a rootless store cannot have %s "
                                        "pools (dir pools only)",
                                        o->name, o->driver);
        if (o->size && strcmp(o->driver, "btrfs"))
                return vessel_error_msg(err, EINVAL,
                                        "storage pool \"%s\": size= is for btrfs pools (a loop "
                                        "file of that size); a %s pool takes the space of the "
                                        "file system it is on",
                                        o->name, o->driver);
        if (o->size && o->source)
                return vessel_error_msg(err, EINVAL,
                                        "storage pool \"%s\": size= and source= exclude each "
                                        "other (size= makes a file in the store)",
                                        o->name);
        if (!strcmp(o->driver, "btrfs") && !o->size && !o->source &&
            !storage_fs_is(s->root, BTRFS_SUPER_MAGIC))
                return vessel_error_msg(err, EINVAL,
                                        "storage pool \"%s\": the store is not on btrfs: give "
                                        "source=DIR|DEVICE|FILE or size=N (a loop file in the "
                                        "store)",
                                        o->name);
        if (o->source && o->source[0] != '/')
                return vessel_error_msg(err, EINVAL,
                                        "storage pool \"%s\": source %s: give an absolute path",
                                        o->name, o->source);
        if (o->source && access(o->source, F_OK) < 0)
                return vessel_error_sys(err, "storage pool \"%s\": source %s", o->name, o->source);
        if (mkdir(storage, 0711) < 0 && errno != EEXIST)
                return vessel_error_sys(err, "mkdir %s", storage);
        /* One create at a time: the checks and the making of the
         * directory hold no catalogue lock (mkfs may take a while). */
        lock = open(storage, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (lock < 0 || flock(lock, LOCK_EX) < 0)
                return vessel_error_sys(err, "locking %s", storage);
        if ((r = storage_pool_get(s, o->name, &p, NULL)) == 0) {
                storage_pool_free(&p);
                return vessel_error_msg(err, EEXIST, "storage pool \"%s\": already exists",
                                        o->name);
        }
        if (source_taken(s, o->source ? o->source : "", &by, err) < 0)
                return -EIO;
        if (by)
                return vessel_error_msg(err, EEXIST,
                                        "storage pool \"%s\": source %s is already pool \"%s\"",
                                        o->name, o->source, by);
        p = (struct storage_pool){
            .name = xstrdup(o->name),
            .driver = xstrdup(o->driver),
            .source = xstrdup(o->source ? o->source : ""),
            .description = xstrdup(o->description ? o->description : ""),
            .size = o->size,
            .path = xasprintf("%s/%s", storage, o->name),
            .ops = storage_driver_find(o->driver),
        };
        if (access(p.path, F_OK) == 0 || errno != ENOENT) {
                r = vessel_error_msg(err, EEXIST,
                                     "storage pool \"%s\": %s is in the way (left by a command "
                                     "that was killed? remove it)",
                                     o->name, p.path);
                goto out;
        }
        if ((r = p.ops->create(s, &p, err)) < 0)
                goto out;
        r = store_tx_begin(s, &tx, err);
        if (r == 0)
                r = store_prepare(s,
                                  "INSERT INTO storage_pools (name, driver, source, size,"
                                  " description, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                                  &st, err);
        if (r == 0) {
                db_bind_text(st, 1, p.name);
                db_bind_text(st, 2, p.driver);
                db_bind_text(st, 3, p.source);
                sqlite3_bind_int64(st, 4, (int64_t)p.size);
                db_bind_text(st, 5, p.description);
                sqlite3_bind_int64(st, 6, (int64_t)time(NULL));
                r = store_step(s, st, err) < 0 ? -EIO : store_tx_commit(&tx, err);
        }
        if (r < 0)
                p.ops->destroy(s, &p, NULL);
out:
        storage_pool_free(&p);
        return r;
}

static int count_users(struct vessel_store *s, int64_t pool, int64_t *instances, int64_t *snapshots,
                       vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;

        if (store_prepare(s,
                          "SELECT (SELECT count(*) FROM instances WHERE pool_id = ?1),"
                          " (SELECT count(*) FROM snapshots sn JOIN instances i"
                          "  ON i.id = sn.instance_id WHERE i.pool_id = ?1)",
                          &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, pool);
        if (store_step(s, st, err) != SQLITE_ROW)
                return -EIO;
        *instances = sqlite3_column_int64(st, 0);
        *snapshots = sqlite3_column_int64(st, 1);
        return 0;
}

int storage_pool_delete(struct vessel_store *s, const char *name, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct storage_pool p;
        int64_t ni, ns;
        int r;

        if (store_tx_begin(s, &tx, err) < 0 || storage_pool_get(s, name, &p, err) < 0)
                return vessel_error_rc(err);
        r = count_users(s, p.id, &ni, &ns, err);
        if (r == 0 && ni)
                r = vessel_error_msg(err, EBUSY,
                                     "storage pool \"%s\": holds %lld instance%s (delete or move "
                                     "them first)",
                                     name, (long long)ni, ni == 1 ? "" : "s");
        if (r == 0)
                r = store_prepare(s, "DELETE FROM storage_pools WHERE id = ?", &st, err);
        if (r == 0) {
                sqlite3_bind_int64(st, 1, p.id);
                r = store_step(s, st, err) < 0 ? -EIO : 0;
        }
        /* The back end goes under the lock: a concurrent launch into this
         * pool waits, then finds no pool. */
        if (r == 0 && p.ops->activate && p.ops->activate(s, &p, NULL) < 0)
                fprintf(stderr, "vesselctl: storage pool %s: not mounted; removing its row\n",
                        name);
        if (r == 0)
                r = p.ops->destroy(s, &p, err);
        if (r == 0)
                r = store_tx_commit(&tx, err);
        storage_pool_free(&p);
        return r;
}

/* ---- the default pool ---- */

/* Not overlay, though it clones in constant time: overlayfs refuses to
 * make whiteouts (mknod c 0 0) in it, and they must work in every
 * instance (tar of container layers, overlayfs inside); an overlay pool
 * is one command away (docs/store.md). */
const char *storage_default_driver(struct vessel_store *s)
{
        if (!store_is_rootless(s) && storage_fs_is(s->root, BTRFS_SUPER_MAGIC))
                return "btrfs";
        return "dir";
}

int storage_pool_for_new(struct vessel_store *s, const char *name, struct storage_pool *out,
                         vessel_error **err)
{
        int r;

        if (name)
                r = storage_pool_get(s, name, out, err);
        else if ((r = storage_pool_get(s, STORAGE_DEFAULT_POOL, out, NULL)) < 0) {
                struct storage_create_opts o = {.name = STORAGE_DEFAULT_POOL,
                                                .driver = storage_default_driver(s),
                                                .description = "Default storage pool"};
                vessel_error *e = NULL;
                r = storage_pool_create(s, &o, &e);
                if (r == -EEXIST)
                        r = 0; /* made meanwhile by another command */
                else if (r < 0)
                        r = vessel_error_msg(err, e->code, "%s", e->msg);
                vessel_error_free(&e);
                if (r == 0)
                        r = storage_pool_get(s, STORAGE_DEFAULT_POOL, out, err);
        }
        if (r == 0 && (r = storage_pool_activate(s, out, err)) < 0)
                storage_pool_free(out);
        return r;
}

int storage_pool_activate(struct vessel_store *s, struct storage_pool *p, vessel_error **err)
{
        if (!p->ops->activate)
                return 0;
        return p->ops->activate(s, p, err);
}

int storage_pool_usage(struct vessel_store *s, struct storage_pool *p, struct storage_pool_usage *u,
                       vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *images = xasprintf("%s/images", p->path);
        struct statvfs sv;
        int64_t ni = 0, ns = 0;
        DIR *d;

        *u = (struct storage_pool_usage){0};
        if (count_users(s, p->id, &ni, &ns, err) < 0)
                return -EIO;
        u->instances = (size_t)ni;
        u->snapshots = (size_t)ns;
        if (statvfs(p->path, &sv) == 0) {
                u->total = (uint64_t)sv.f_blocks * sv.f_frsize;
                u->avail = (uint64_t)sv.f_bavail * sv.f_frsize;
                u->used = u->total - (uint64_t)sv.f_bfree * sv.f_frsize;
        }
        if ((d = opendir(images))) {
                struct dirent *de;
                while ((de = readdir(d)))
                        if (de->d_name[0] != '.')
                                u->images++;
                closedir(d);
        }
        return 0;
}

/* ---- volumes ---- */

char *storage_volume_path(const char *kind, const char *vol)
{
        return xasprintf("%s/%s", kind, vol);
}

char *storage_volume_rootfs(struct storage_pool *p, const char *vol)
{
        _cleanup_free_ char *rel = p->ops->rootfs_rel(vol);

        return xasprintf("%s/%s", p->path, rel);
}

char *storage_rootfs_link(struct storage_pool *p, const char *vol)
{
        _cleanup_free_ char *rel = p->ops->rootfs_rel(vol);

        return xasprintf("../../storage/%s/%s", p->name, rel);
}

int storage_image_ensure(struct vessel_store *s, struct storage_pool *p, const char *fp,
                         vessel_error **err)
{
        _cleanup_free_ char *vol = xasprintf("images/%s", fp), *path = pool_abs(p, vol),
                            *src = xasprintf("%s/images/%s/rootfs", s->root, fp);
        char tmpname[13];
        int r;

        if (!p->ops->image_volumes || access(path, F_OK) == 0)
                return 0;
        if (storage_volume_name(tmpname, err) < 0)
                return -EIO;
        _cleanup_free_ char *tmp = xasprintf("images/.new-%s", tmpname);
        _cleanup_free_ char *tmp_path = pool_abs(p, tmp);
        if ((r = p->ops->image_create(s, p, src, tmp, err)) < 0) {
                p->ops->volume_delete ? p->ops->volume_delete(s, p, tmp, NULL) : 0;
                return vessel_error_prefix(err, "storage pool %s: image %.12s", p->name, fp);
        }
        if (rename(tmp_path, path) < 0) {
                int e = errno;
                p->ops->volume_delete(s, p, tmp, NULL);
                /* Another command made it meanwhile. */
                if (e == EEXIST || e == ENOTEMPTY)
                        return 0;
                return vessel_error_set(err, e, "storage pool %s: rename %s to %s", p->name,
                                        tmp_path, path);
        }
        return 0;
}

/* Whether an overlay volume's lower file names images/<fp>. */
static bool stacks_on(struct storage_pool *p, const char *kind, const char *fp)
{
        _cleanup_free_ char *dir = xasprintf("%s/%s", p->path, kind);
        _cleanup_free_ char *want = xasprintf("images/%s\n", fp);
        DIR *d = opendir(dir);
        struct dirent *de;
        bool found = false;

        if (!d)
                return false;
        while (!found && (de = readdir(d))) {
                _cleanup_free_ char *lower = NULL;
                _cleanup_free_ char *rel = xasprintf("%s/lower", de->d_name);
                size_t len;
                if (de->d_name[0] == '.' && (!de->d_name[1] || de->d_name[1] == '.'))
                        continue;
                if (read_file_at(dirfd(d), rel, &lower, &len, NULL) == 0 && strstr(lower, want))
                        found = true;
        }
        closedir(d);
        return found;
}

static bool image_in_store(struct vessel_store *s, const char *fp)
{
        return faccessat(s->images_fd, fp, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
}

static void image_release_in(struct vessel_store *s, struct storage_pool *p, const char *fp)
{
        _cleanup_free_ char *vol = xasprintf("images/%s", fp), *path = pool_abs(p, vol);

        if (!p->ops->image_volumes || access(path, F_OK) < 0 || image_in_store(s, fp))
                return;
        if (!strcmp(p->driver, "overlay") &&
            (stacks_on(p, "containers", fp) || stacks_on(p, "snapshots", fp)))
                return;
        p->ops->volume_delete(s, p, vol, NULL);
}

int storage_image_release(struct vessel_store *s, const char *fp, vessel_error **err)
{
        struct storage_pool *v;
        size_t n;

        if (storage_pool_list(s, &v, &n, err) < 0)
                return -EIO;
        for (size_t i = 0; i < n; i++)
                if (storage_pool_activate(s, &v[i], NULL) == 0)
                        image_release_in(s, &v[i], fp);
        storage_pool_list_free(v, n);
        return 0;
}

int storage_volume_from_image(struct vessel_store *s, struct storage_pool *p, const char *fp,
                              const char *vol, vessel_error **err)
{
        _cleanup_free_ char *src = p->ops->image_volumes
                                       ? xasprintf("images/%s", fp)
                                       : xasprintf("%s/images/%s/rootfs", s->root, fp);
        int r = storage_image_ensure(s, p, fp, err);

        if (r == 0)
                r = p->ops->volume_clone(s, p, src, vol, err);
        if (r == 0)
                r = storage_volume_mount(s, p, vol, 0, 0, err);
        if (r < 0)
                p->ops->volume_delete(s, p, vol, NULL);
        return r;
}

int storage_volume_create(struct vessel_store *s, struct storage_pool *p, const char *vol,
                          char **files, vessel_error **err)
{
        _cleanup_free_ char *rel =
            p->ops->shift_rel ? p->ops->shift_rel(vol) : p->ops->rootfs_rel(vol);
        int r;

        if (!p->ops->volume_create)
                return vessel_error_msg(err, ENOTSUP,
                                        "storage pool %s: cannot make an empty volume", p->name);
        if ((r = p->ops->volume_create(s, p, vol, err)) < 0) {
                p->ops->volume_delete(s, p, vol, NULL);
                return vessel_error_prefix(err, "storage pool %s: volume %s", p->name, vol);
        }
        *files = pool_abs(p, rel);
        return 0;
}

int storage_volume_clone(struct vessel_store *s, struct storage_pool *p, const char *src,
                         const char *dst, vessel_error **err)
{
        int r = p->ops->volume_clone(s, p, src, dst, err);

        if (r < 0)
                p->ops->volume_delete(s, p, dst, NULL);
        return r;
}

int storage_volume_from_tree(struct vessel_store *s, struct storage_pool *p, const char *src,
                             const char *vol, vessel_error **err)
{
        int r = p->ops->volume_from_tree(s, p, src, vol, err);

        if (r == 0)
                r = storage_volume_mount(s, p, vol, 0, 0, err);
        if (r < 0)
                p->ops->volume_delete(s, p, vol, NULL);
        return r;
}

int storage_volume_delete(struct vessel_store *s, struct storage_pool *p, const char *vol,
                          vessel_error **err)
{
        return p->ops->volume_delete(s, p, vol, err);
}

int storage_volume_mount(struct vessel_store *s, struct storage_pool *p, const char *vol,
                         uint64_t id_base, uint64_t id_size, vessel_error **err)
{
        if (!p->ops->volume_mount)
                return 0;
        return p->ops->volume_mount(s, p, vol, id_base, id_size, err);
}

int storage_volume_umount(struct vessel_store *s, struct storage_pool *p, const char *vol,
                          vessel_error **err)
{
        if (!p->ops->volume_umount)
                return 0;
        return p->ops->volume_umount(s, p, vol, err);
}

int storage_volume_usage(struct vessel_store *s, struct storage_pool *p, const char *vol,
                         uint64_t *bytes, vessel_error **err)
{
        return p->ops->volume_usage(s, p, vol, bytes, err);
}

int storage_volume_quota(struct vessel_store *s, struct storage_pool *p, const char *vol,
                         uint64_t bytes, vessel_error **err)
{
        if (p->ops->volume_quota)
                return p->ops->volume_quota(s, p, vol, bytes, err);
        if (!bytes)
                return 0;
        return vessel_error_msg(err, ENOTSUP,
                                "root disk size=: storage pool %s (%s) cannot limit the size of "
                                "a volume (btrfs pools can, with quota groups)",
                                p->name, p->driver);
}

void storage_volume_list_free(struct storage_volume *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(v[i].type);
                free(v[i].name);
                free(v[i].volume);
        }
        free(v);
}

static void vol_add(struct storage_volume **v, size_t *n, const char *type, char *name,
                    char *volume)
{
        *v = realloc(*v, (*n + 1) * sizeof(**v));
        if (!*v)
                abort();
        (*v)[(*n)++] = (struct storage_volume){xstrdup(type), name, volume};
}

int storage_volume_list(struct vessel_store *s, struct storage_pool *p, struct storage_volume **out,
                        size_t *n, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL, *sn = NULL;
        _cleanup_free_ char *images = xasprintf("%s/images", p->path);
        DIR *d;
        int rc;

        *out = NULL;
        *n = 0;
        if (store_prepare(s,
                          "SELECT name, volume FROM instances WHERE pool_id = ?"
                          " AND state != 'creating' ORDER BY name",
                          &st, err) < 0 ||
            store_prepare(s,
                          "SELECT i.name || '/' || sn.name, sn.volume FROM snapshots sn"
                          " JOIN instances i ON i.id = sn.instance_id WHERE i.pool_id = ?"
                          " AND sn.volume IS NOT NULL ORDER BY i.name, sn.created_at",
                          &sn, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, p->id);
        while ((rc = store_step(s, st, err)) == SQLITE_ROW)
                vol_add(out, n, "container", db_col_text(st, 0),
                        xasprintf("containers/%s", sqlite3_column_text(st, 1)));
        sqlite3_bind_int64(sn, 1, p->id);
        while (rc >= 0 && (rc = store_step(s, sn, err)) == SQLITE_ROW)
                vol_add(out, n, "snapshot", db_col_text(sn, 0),
                        xasprintf("snapshots/%s", sqlite3_column_text(sn, 1)));
        if (rc < 0) {
                storage_volume_list_free(*out, *n);
                *out = NULL;
                *n = 0;
                return rc;
        }
        if ((d = opendir(images))) {
                struct dirent *de;
                while ((de = readdir(d)))
                        if (de->d_name[0] != '.')
                                vol_add(out, n, "image", xstrdup(de->d_name),
                                        xasprintf("images/%s", de->d_name));
                closedir(d);
        }
        return 0;
}

/* ---- recovery ---- */

static bool hex12(const char *s)
{
        if (strlen(s) != 12)
                return false;
        for (; *s; s++)
                if (!isxdigit((unsigned char)*s) || isupper((unsigned char)*s))
                        return false;
        return true;
}

/* Is vol (12 hex) a volume of a row, or of an init still at work? */
static int volume_owned(struct vessel_store *s, const char *kind, const char *vol, bool *owned,
                        vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *staging = xasprintf(".init-%s", vol);
        _cleanup_free_ char *copying = xasprintf(".copy-%s", vol);
        int rc;

        if (store_prepare(s,
                          !strcmp(kind, "containers") ? "SELECT 1 FROM instances WHERE volume = ?"
                                                      : "SELECT 1 FROM snapshots WHERE volume = ?",
                          &st, err) < 0)
                return -EIO;
        db_bind_text(st, 1, vol);
        rc = store_step(s, st, err);
        if (rc < 0)
                return rc;
        *owned = rc == SQLITE_ROW;
        if (!*owned) {
                /* A command at work holds the lock of a directory named
                 * after the volume. */
                const char *names[] = {staging, copying};
                for (size_t i = 0; i < 2 && !*owned; i++) {
                        int fd = store_dir_lock_free(s->instances_fd, names[i]);
                        if (fd >= 0)
                                close(fd);
                        else if (faccessat(s->instances_fd, names[i], F_OK, AT_SYMLINK_NOFOLLOW) ==
                                 0)
                                *owned = true;
                }
        }
        return 0;
}

static int recover_kind(struct vessel_store *s, struct storage_pool *p, const char *kind,
                        vessel_error **err)
{
        _cleanup_free_ char *dir = xasprintf("%s/%s", p->path, kind);
        DIR *d = opendir(dir);
        struct dirent *de;
        char **debris = xmalloc0(sizeof(char *));
        int r = 0;

        if (!d) {
                strv_free(debris);
                return 0;
        }
        /* Owned ones are skipped without the write lock: every command
         * opens the store, and most find nothing to remove. */
        while (r == 0 && (de = readdir(d))) {
                bool owned = true;
                if (hex12(de->d_name) && (r = volume_owned(s, kind, de->d_name, &owned, err)) == 0 &&
                    !owned)
                        debris = strv_append(debris, de->d_name);
        }
        closedir(d);
        if (r < 0 || !debris[0]) {
                strv_free(debris);
                return r;
        }
        /* Decide under the write lock, which every commit of a volume's
         * row holds. */
        _cleanup_tx_ struct store_tx tx = {0};
        if (store_tx_begin(s, &tx, err) < 0) {
                strv_free(debris);
                return -EIO;
        }
        for (char **v = debris; r == 0 && *v; v++) {
                bool owned;
                if ((r = volume_owned(s, kind, *v, &owned, err)) == 0 && !owned) {
                        _cleanup_free_ char *vol = xasprintf("%s/%s", kind, *v);
                        p->ops->volume_delete(s, p, vol, NULL);
                }
        }
        strv_free(debris);
        if (r == 0)
                r = store_tx_commit(&tx, err);
        return r;
}

/* images/.new-* of a dead command: an image volume made outside any
 * lock; the maker renames it within seconds, so only old ones go. */
static void recover_images(struct vessel_store *s, struct storage_pool *p)
{
        _cleanup_free_ char *dir = xasprintf("%s/images", p->path);
        DIR *d = opendir(dir);
        struct dirent *de;
        time_t now = time(NULL);

        if (!d)
                return;
        while ((de = readdir(d))) {
                struct stat st;
                if (!str_has_prefix(de->d_name, ".new-") ||
                    fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    now - st.st_mtime < 3600)
                        continue;
                _cleanup_free_ char *vol = xasprintf("images/%s", de->d_name);
                p->ops->volume_delete(s, p, vol, NULL);
        }
        closedir(d);
}

static bool pool_present(struct storage_pool *p)
{
        _cleanup_free_ char *c = xasprintf("%s/containers", p->path);

        if (!strcmp(p->driver, "btrfs") && !storage_fs_is(p->path, BTRFS_SUPER_MAGIC))
                return false;
        return access(c, F_OK) == 0;
}

int storage_recover(struct vessel_store *s, vessel_error **err)
{
        struct storage_pool *v = NULL;
        size_t n = 0;
        int r = 0;

        if (storage_pool_list(s, &v, &n, err) < 0)
                return -EIO;
        for (size_t i = 0; r == 0 && i < n; i++) {
                if (!v[i].ops || !pool_present(&v[i]))
                        continue;
                r = recover_kind(s, &v[i], "containers", err);
                if (r == 0)
                        r = recover_kind(s, &v[i], "snapshots", err);
                recover_images(s, &v[i]);
        }
        storage_pool_list_free(v, n);
        return r;
}
