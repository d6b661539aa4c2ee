/* instance.c: the instances' rows and the operations on them (the
 * directory copy is in instance-rootfs.c, backup.yaml in
 * instance-backup.c). */
#include "instance.h"
#include "instance-internal.h"

#include <ctype.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "config-db.h"
#include "idrange.h"
#include "idshift.h"
#include "storage.h"
#include "instance-run.h"
#include "rundir.h"
#include "image.h"
#include "profile.h"
#include "util.h"

bool instance_name_valid(const char *name)
{
        size_t n = strlen(name);

        if (n == 0 || n > 63 || name[0] == '-' || name[n - 1] == '-')
                return false;
        for (const char *c = name; *c; c++)
                if (!isascii((unsigned char)*c) || !(isalnum((unsigned char)*c) || *c == '-'))
                        return false;
        return true;
}

int instance_name_check(const char *name, vessel_error **err)
{
        if (!instance_name_valid(name))
                return vessel_error_msg(err, EINVAL,
                                        "instance \"%s\": not a valid name (a host name: 1 to 63 "
                                        "letters, digits and '-', not starting or ending with "
                                        "'-')",
                                        name);
        return 0;
}

#define INSTANCE_COLS                                                                              \
        "id, name, type, architecture, image_fingerprint, description, ephemeral, state,"          \
        " storage_driver, created_at, last_used_at,"                                               \
        " (SELECT count(*) FROM snapshots WHERE instance_id = instances.id),"                      \
        " coalesce(pool_id, 0), volume,"                                                           \
        " (SELECT name FROM storage_pools WHERE id = instances.pool_id)"

static void row_read(sqlite3_stmt *st, struct instance *i)
{
        *i = (struct instance){
            .id = sqlite3_column_int64(st, 0),
            .name = db_col_text(st, 1),
            .type = db_col_text(st, 2),
            .architecture = db_col_text(st, 3),
            .image = db_col_text(st, 4),
            .conf.description = db_col_text(st, 5),
            .ephemeral = sqlite3_column_int(st, 6),
            .state = db_col_text(st, 7),
            .storage_driver = db_col_text(st, 8),
            .created_at = sqlite3_column_int64(st, 9),
            .last_used_at = sqlite3_column_int64(st, 10),
            .n_snapshots = (size_t)sqlite3_column_int64(st, 11),
            .pool_id = sqlite3_column_int64(st, 12),
            .volume = sqlite3_column_type(st, 13) == SQLITE_NULL ? NULL : db_col_text(st, 13),
            .pool = sqlite3_column_type(st, 14) == SQLITE_NULL ? NULL : db_col_text(st, 14),
        };
}

static int load_profiles(struct vessel_store *s, struct instance *i, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        i->profiles = xmalloc0(sizeof(char *));
        if (store_prepare(
                s,
                "SELECT p.name FROM instance_profiles ip JOIN profiles p"
                " ON p.id = ip.profile_id WHERE ip.instance_id = ? ORDER BY ip.apply_order",
                &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, i->id);
        while ((rc = store_step(s, st, err)) == SQLITE_ROW)
                i->profiles = strv_append(i->profiles, (const char *)sqlite3_column_text(st, 0));
        return rc < 0 ? rc : 0;
}

static int instance_complete(struct vessel_store *s, struct instance *i, vessel_error **err)
{
        if (load_profiles(s, i, err) < 0 ||
            confdb_load(s, OWNER_INSTANCE, i->id, &i->conf, err) < 0) {
                instance_free(i);
                return -EIO;
        }
        return 0;
}

/* any_state: also a row still "creating" (inside init's transaction). */
static int db_instance_get(struct vessel_store *s, const char *name, bool any_state,
                           struct instance *out, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        if (store_prepare(s,
                          any_state ? "SELECT " INSTANCE_COLS " FROM instances WHERE name = ?"
                                    : "SELECT " INSTANCE_COLS " FROM instances WHERE name = ?"
                                      " AND state != 'creating'",
                          &st, err) < 0)
                return -EIO;
        db_bind_text(st, 1, name);
        rc = store_step(s, st, err);
        if (rc < 0)
                return rc;
        if (rc != SQLITE_ROW)
                return vessel_error_msg(err, ENOENT, "instance \"%s\": no such instance", name);
        row_read(st, out);
        return instance_complete(s, out, err);
}

int instance_get(struct vessel_store *s, const char *name, struct instance *out, vessel_error **err)
{
        return db_instance_get(s, name, false, out, err);
}

int instance_list(struct vessel_store *s, struct instance **out, size_t *n, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        *out = NULL;
        *n = 0;
        if (store_prepare(s,
                          "SELECT " INSTANCE_COLS " FROM instances WHERE state != 'creating'"
                          " ORDER BY name",
                          &st, err) < 0)
                return -EIO;
        while ((rc = store_step(s, st, err)) == SQLITE_ROW) {
                *out = realloc(*out, (*n + 1) * sizeof(**out));
                if (!*out)
                        abort();
                row_read(st, &(*out)[*n]);
                if (instance_complete(s, &(*out)[*n], err) < 0) {
                        instance_list_free(*out, *n);
                        return -EIO;
                }
                (*n)++;
        }
        if (rc < 0) {
                instance_list_free(*out, *n);
                return rc;
        }
        return 0;
}

void instance_free(struct instance *i)
{
        free(i->name);
        free(i->type);
        free(i->architecture);
        free(i->image);
        free(i->state);
        free(i->storage_driver);
        free(i->pool);
        free(i->volume);
        strv_free(i->profiles);
        confset_free(&i->conf);
        *i = (struct instance){0};
}

void instance_list_free(struct instance *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                instance_free(&v[i]);
        free(v);
}

int instance_db_exists(struct vessel_store *s, const char *name, bool *exists, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        if (store_prepare(s, "SELECT 1 FROM instances WHERE name = ?", &st, err) < 0)
                return -EIO;
        db_bind_text(st, 1, name);
        rc = store_step(s, st, err);
        if (rc < 0)
                return rc;
        *exists = rc == SQLITE_ROW;
        return 0;
}

int instance_exists_error(const char *name, vessel_error **err)
{
        return vessel_error_msg(err, EEXIST, "instance \"%s\": already exists", name);
}

/* Replace the instance's profile list, checking that each exists. */
int instance_db_set_profiles(struct vessel_store *s, int64_t id, char *const *profiles,
                             vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *del = NULL, *ins = NULL;
        int order = 0;

        if (store_prepare(s, "DELETE FROM instance_profiles WHERE instance_id = ?", &del, err) <
                0 ||
            store_prepare(s,
                          "INSERT INTO instance_profiles (instance_id, profile_id, apply_order)"
                          " VALUES (?, ?, ?)",
                          &ins, err) < 0)
                return -EIO;
        sqlite3_bind_int64(del, 1, id);
        if (store_step(s, del, err) < 0)
                return -EIO;
        for (char *const *p = profiles; *p; p++) {
                int64_t pid;
                for (char *const *q = profiles; q < p; q++)
                        if (!strcmp(*q, *p))
                                return vessel_error_msg(err, EINVAL, "profile \"%s\": given twice",
                                                        *p);
                if (db_profile_id(s, *p, &pid, err) < 0)
                        return -ENOENT;
                sqlite3_reset(ins);
                sqlite3_bind_int64(ins, 1, id);
                sqlite3_bind_int64(ins, 2, pid);
                sqlite3_bind_int(ins, 3, order++);
                if (store_step(s, ins, err) < 0)
                        return -EIO;
        }
        return 0;
}

static int db_insert(struct vessel_store *s, const struct instance_create_opts *o,
                     const struct image_info *img, const struct storage_pool *pool,
                     const char *volume, int64_t *id, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        static char *const default_profiles[] = {PROFILE_DEFAULT, NULL};
        static char *const no_profiles[] = {NULL};
        struct confset c = {0};
        int r;

        if (o->config)
                kvlist_copy(&c.config, o->config);
        /* The image's create templates, at the first start (as Incus). */
        kvlist_set(&c.config, INSTANCE_KEY_APPLY_TEMPLATE, "create");
        if (store_prepare(s,
                          "INSERT OR IGNORE INTO instances (name, architecture, image_fingerprint,"
                          " description, ephemeral, state, created_at, storage_driver, pool_id,"
                          " volume) VALUES (?, ?, ?, ?, ?, 'creating', ?, ?, ?, ?)",
                          &st, err) < 0)
                return -EIO;
        db_bind_text(st, 1, o->name);
        db_bind_text(st, 2, img->architecture);
        db_bind_text(st, 3, img->fingerprint);
        db_bind_text(st, 4, o->description);
        sqlite3_bind_int(st, 5, o->ephemeral);
        sqlite3_bind_int64(st, 6, (int64_t)time(NULL));
        db_bind_text(st, 7, pool->driver);
        sqlite3_bind_int64(st, 8, pool->id);
        db_bind_text(st, 9, volume);
        if (store_step(s, st, err) < 0) {
                confset_free(&c);
                return -EIO;
        }
        if (sqlite3_changes(s->db) == 0) {
                confset_free(&c);
                return instance_exists_error(o->name, err);
        }
        *id = sqlite3_last_insert_rowid(s->db);
        r = confdb_save(s, OWNER_INSTANCE, *id, &c, err);
        confset_free(&c);
        if (r == 0)
                r = instance_db_set_profiles(s, *id,
                                             o->no_profiles ? no_profiles
                                             : o->profiles  ? o->profiles
                                                            : default_profiles,
                                             err);
        return r;
}

int instance_db_set_state(struct vessel_store *s, int64_t id, const char *state, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;

        if (store_prepare(s, "UPDATE instances SET state = ? WHERE id = ?", &st, err) < 0)
                return -EIO;
        db_bind_text(st, 1, state);
        sqlite3_bind_int64(st, 2, id);
        return store_step(s, st, err) < 0 ? -EIO : 0;
}

int instance_backup_write_at(struct vessel_store *s, const char *name, const char *dir,
                             vessel_error **err)
{
        _cleanup_free_ char *yaml = NULL;
        _cleanup_free_ char *path = xasprintf("%s/instances/%s/backup.yaml", s->root, dir);
        struct instance i;
        int r = db_instance_get(s, name, true, &i, err);

        if (r < 0)
                return r;
        r = instance_backup_yaml(s, &i, &yaml, err);
        instance_free(&i);
        if (r < 0)
                return r;
        return write_file_atomic(path, yaml, strlen(yaml), 0600, err);
}

int instance_backup_write_name(struct vessel_store *s, const char *name, vessel_error **err)
{
        return instance_backup_write_at(s, name, name, err);
}

/* The transaction of init: rows, backup.yaml, the rename into place. */
static int create_commit(struct vessel_store *s, const struct instance_create_opts *o,
                         const struct image_info *img, const struct storage_pool *pool,
                         const char *staging, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        int64_t id = 0;

        if (store_tx_begin(s, &tx, err) < 0 ||
            db_insert(s, o, img, pool, staging + strlen(INSTANCE_TMP_PREFIX), &id, err) < 0 ||
            instance_backup_write_at(s, o->name, staging, err) < 0)
                return vessel_error_rc(err);
        if (renameat(s->instances_fd, staging, s->instances_fd, o->name) < 0)
                return vessel_error_sys(err, "instance \"%s\": putting instances/%s in place",
                                        o->name, o->name);
        if (instance_db_set_state(s, id, "stopped", err) < 0 || store_tx_commit(&tx, err) < 0) {
                renameat(s->instances_fd, o->name, s->instances_fd, staging);
                return vessel_error_rc(err);
        }
        return 0;
}

static int create_check(struct vessel_store *s, const struct instance_create_opts *o,
                        struct image_info *img, vessel_error **err)
{
        char fp[FINGERPRINT_HEX_LEN + 1];
        bool exists;

        if (instance_name_check(o->name, err) < 0)
                return -EINVAL;
        if (o->config && config_check_all(o->config, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\"", o->name);
        if (instance_db_exists(s, o->name, &exists, err) < 0)
                return -EIO;
        if (exists)
                return instance_exists_error(o->name, err);
        for (char *const *p = o->no_profiles ? NULL : o->profiles; p && *p; p++) {
                int64_t pid;
                if (db_profile_id(s, *p, &pid, err) < 0)
                        return vessel_error_prefix(err, "instance \"%s\"", o->name);
        }
        if (image_resolve(s, o->image, fp, err) < 0 || image_get(s, fp, img, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\"", o->name);
        return 0;
}

/* The rootfs of a new instance: a volume of the pool named after the
 * staging directory (whose lock tells recovery that it is at work), and
 * the symlink to it.  A rootless store's copy holds the image's ids, in
 * the images' block of the user's pool: its record says so, and the
 * first start shifts them into the instance's range (idshift.h). */
static int rootfs_create(struct vessel_store *s, struct storage_pool *pool, const char *fp,
                         int dir_fd, const char *staging, vessel_error **err)
{
        const char *vol = staging + strlen(INSTANCE_TMP_PREFIX);
        _cleanup_free_ char *rel = storage_volume_path("containers", vol);
        _cleanup_free_ char *link = storage_rootfs_link(pool, rel);
        int r = storage_volume_from_image(s, pool, fp, rel, err);

        if (r == 0 && symlinkat(link, dir_fd, "rootfs") < 0)
                r = vessel_error_sys(err, "symlink instances/%s/rootfs", staging);
        if (r == 0 && store_is_rootless(s)) {
                struct idrange_user u;
                if ((r = idrange_user_read(&u, err)) == 0) {
                        r = idshift_record(dir_fd, idrange_user_image_base(&u), IDRANGE_BLOCK, err);
                        idrange_user_free(&u);
                }
        }
        if (r < 0)
                storage_volume_delete(s, pool, rel, NULL);
        return r;
}

int instance_create(struct vessel_store *s, const struct instance_create_opts *o,
                    vessel_error **err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *path = NULL;
        struct image_info img = {0};
        struct storage_pool pool = {0};
        char staging[64];
        int r = create_check(s, o, &img, err);

        if (r < 0)
                return r;
        if ((r = storage_pool_for_new(s, o->pool, &pool, err)) < 0) {
                image_info_free(&img);
                return vessel_error_prefix(err, "instance \"%s\"", o->name);
        }
        r = store_workdir_create(s->instances_fd, INSTANCE_TMP_PREFIX, staging, sizeof(staging),
                                 &fd, err);
        if (r < 0) {
                image_info_free(&img);
                storage_pool_free(&pool);
                return vessel_error_prefix(err, "instance \"%s\": %s/instances", o->name, s->root);
        }
        path = xasprintf("%s/instances/%s", s->root, staging);
        /* Rootless: the runtime reaches the rootfs as the instance's root,
         * a subordinate id, which must pass through (no idmapped mount
         * hides the path as it does for root). */
        if (store_is_rootless(s) && fchmod(fd, 0711) < 0)
                r = vessel_error_sys(err, "instance \"%s\": chmod %s", o->name, path);
        if (r == 0)
                r = rootfs_create(s, &pool, img.fingerprint, fd, staging, err);
        if (r == 0)
                r = instance_templates_copy(s, img.fingerprint, fd, path, err);
        if (r == 0 && (r = create_commit(s, o, &img, &pool, staging, err)) < 0) {
                _cleanup_free_ char *rel =
                    storage_volume_path("containers", staging + strlen(INSTANCE_TMP_PREFIX));
                storage_volume_delete(s, &pool, rel, NULL);
        }
        if (r < 0)
                store_rm_rf_at(s, s->instances_fd, staging, NULL);
        image_info_free(&img);
        storage_pool_free(&pool);
        return r;
}

/* The volumes of an instance and of its snapshots, before its rows go. */
static int volumes_of(struct vessel_store *s, const struct instance *i, char ***out,
                      vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        *out = xmalloc0(sizeof(char *));
        if (!i->volume)
                return 0;
        char *c = storage_volume_path("containers", i->volume);
        *out = strv_append(*out, c);
        free(c);
        if (store_prepare(
                s, "SELECT volume FROM snapshots WHERE instance_id = ? AND volume IS NOT NULL", &st,
                err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, i->id);
        while ((rc = store_step(s, st, err)) == SQLITE_ROW) {
                char *v =
                    storage_volume_path("snapshots", (const char *)sqlite3_column_text(st, 0));
                *out = strv_append(*out, v);
                free(v);
        }
        return rc < 0 ? rc : 0;
}

/* After the commit of a delete: its volumes (a kill before the end
 * leaves them to storage_recover), and the image volumes nothing needs
 * any more. */
static void volumes_remove(struct vessel_store *s, int64_t pool_id, char **vols, const char *fp)
{
        struct storage_pool p;

        if (!pool_id || !vols[0] || storage_pool_get_id(s, pool_id, &p, NULL) < 0)
                return;
        if (storage_pool_activate(s, &p, NULL) == 0) {
                for (char **v = vols; *v; v++) {
                        vessel_error *e = NULL;
                        if (storage_volume_delete(s, &p, *v, &e) < 0) {
                                fprintf(stderr, "vesselctl: %s (the next command retries)\n",
                                        e->msg);
                                vessel_error_free(&e);
                        }
                }
                if (fp && fp[0])
                        storage_image_release(s, fp, NULL);
        }
        storage_pool_free(&p);
}

/* by_monitor: called by the instance's own monitor, whose lock this
 * process holds (an ephemeral instance's end). */
static int delete_instance(struct vessel_store *s, const char *name, bool force, bool by_monitor,
                           vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_close_ int fd = -1;
        struct instance i;
        char hidden[128];
        char **vols = NULL;
        _cleanup_free_ char *fp = NULL;
        int64_t pool_id;
        bool busy;
        int moved;

        if (!by_monitor && instance_orphaned(s, name) && instance_stop(s, name, 0, true, err) < 0)
                return vessel_error_rc(err);
        if (!by_monitor && instance_monitor_alive(s, name)) {
                if (!force)
                        return vessel_error_msg(err, EBUSY,
                                                "instance \"%s\": is running (stop it first, or "
                                                "delete --force)",
                                                name);
                if (instance_stop(s, name, 0, true, err) < 0)
                        return vessel_error_rc(err);
        }
        if (store_tx_begin(s, &tx, err) < 0 || instance_get(s, name, &i, err) < 0)
                return vessel_error_rc(err);
        /* A row that says running without a monitor is a leftover. */
        busy = !by_monitor && strcmp(i.state, "stopped") && instance_monitor_alive(s, name);
        pool_id = i.pool_id;
        fp = xstrdup(i.image);
        if (!busy && volumes_of(s, &i, &vols, err) < 0) {
                instance_free(&i);
                strv_free(vols);
                return -EIO;
        }
        instance_free(&i);
        if (busy) {
                strv_free(vols);
                return vessel_error_msg(err, EBUSY, "instance \"%s\": was started meanwhile", name);
        }
        moved = store_delete_begin(s->instances_fd, name, hidden, sizeof(hidden), &fd, err);
        if (moved < 0) {
                strv_free(vols);
                return vessel_error_prefix(err, "instance \"%s\"", name);
        }
        if (store_prepare(s, "DELETE FROM instances WHERE name = ?", &st, err) == 0) {
                db_bind_text(st, 1, name);
                if (store_step(s, st, err) == SQLITE_DONE && store_tx_commit(&tx, err) == 0) {
                        rundir_remove(s, name);
                        volumes_remove(s, pool_id, vols, fp);
                        strv_free(vols);
                        if (moved && store_rm_rf_at(s, s->instances_fd, hidden, err) < 0)
                                return vessel_error_prefix(err, "removing instances/%s", hidden);
                        return 0;
                }
        }
        strv_free(vols);
        if (moved)
                renameat(s->instances_fd, hidden, s->instances_fd, name);
        return vessel_error_rc(err);
}

int instance_delete(struct vessel_store *s, const char *name, bool force, vessel_error **err)
{
        return delete_instance(s, name, force, false, err);
}

int instance_delete_by_monitor(struct vessel_store *s, const char *name, vessel_error **err)
{
        return delete_instance(s, name, false, true, err);
}

/* The rename templates at the next start; a create or copy still
 * pending is kept instead: its templates are what the instance has not
 * had yet, and they render with the new name. */
static int rename_trigger(struct vessel_store *s, const char *name, vessel_error **err)
{
        struct instance i;
        const char *pending;
        int r = db_instance_get(s, name, false, &i, err);

        if (r < 0)
                return r;
        pending = kvlist_get(&i.conf.config, INSTANCE_KEY_APPLY_TEMPLATE);
        if (!pending || !strcmp(pending, "rename"))
                r = confdb_key_set(s, OWNER_INSTANCE, i.id, INSTANCE_KEY_APPLY_TEMPLATE, "rename",
                                   err);
        instance_free(&i);
        return r;
}

static int rename_tx(struct vessel_store *s, const char *from, const char *to, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct instance i;
        bool exists, busy;

        if (store_tx_begin(s, &tx, err) < 0 || instance_get(s, from, &i, err) < 0)
                return vessel_error_rc(err);
        busy = strcmp(i.state, "stopped") && instance_monitor_alive(s, from);
        instance_free(&i);
        if (busy)
                return vessel_error_msg(err, EBUSY, "instance \"%s\": is running (stop it first)",
                                        from);
        if (instance_db_exists(s, to, &exists, err) < 0)
                return -EIO;
        if (exists)
                return instance_exists_error(to, err);
        if (store_prepare(s, "UPDATE instances SET name = ? WHERE name = ?", &st, err) < 0)
                return -EIO;
        db_bind_text(st, 1, to);
        db_bind_text(st, 2, from);
        if (store_step(s, st, err) < 0 || rename_trigger(s, to, err) < 0)
                return -EIO;
        if (renameat2(s->instances_fd, from, s->instances_fd, to, RENAME_NOREPLACE) < 0)
                return vessel_error_sys(err, "instance \"%s\": renaming instances/%s to %s", from,
                                        from, to);
        if (store_tx_commit(&tx, err) < 0) {
                renameat(s->instances_fd, to, s->instances_fd, from);
                return vessel_error_rc(err);
        }
        return 0;
}

/* backup.yaml is rewritten after the commit, so that a rename killed
 * before its commit leaves the old name in it, which instance_recover
 * uses to rename the directory back. */
int instance_rename(struct vessel_store *s, const char *from, const char *to, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};

        if (instance_name_check(to, err) < 0 || rename_tx(s, from, to, err) < 0)
                return vessel_error_rc(err);
        if (store_tx_begin(s, &tx, err) < 0 || instance_backup_write_name(s, to, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\": renamed, but", to);
        return store_tx_commit(&tx, err);
}

static int profiles_expand(struct vessel_store *s, char *const *profiles, struct confset *out,
                           vessel_error **err)
{
        size_t n = strv_len(profiles);
        _cleanup_free_ struct confset *pc = xmalloc0((n + 1) * sizeof(*pc));
        struct confset none = {0};
        int r = 0;

        for (size_t k = 0; r == 0 && k < n; k++) {
                int64_t id;
                r = db_profile_id(s, profiles[k], &id, err);
                if (r == 0)
                        r = db_profile_confset(s, id, &pc[k], err);
        }
        if (r == 0)
                config_expand(pc, n, &none, out);
        for (size_t k = 0; k < n; k++)
                confset_free(&pc[k]);
        return r;
}

int instance_expand(struct vessel_store *s, const struct instance *i, struct confset *out,
                    vessel_error **err)
{
        struct confset prof = {0};
        int r = profiles_expand(s, i->profiles, &prof, err);

        if (r == 0)
                config_expand(&prof, 1, &i->conf, out);
        confset_free(&prof);
        return r;
}

static int edit_tx(struct vessel_store *s, struct instance *i, const struct conf_edit *e,
                   char *const *profiles, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct confset prof = {0};
        int r = profiles_expand(s, profiles ? profiles : i->profiles, &prof, err);

        if (r == 0 && e)
                r = conf_edit_apply(&i->conf, &prof.devices, e, err);
        confset_free(&prof);
        if (r == 0)
                r = confset_check(&i->conf, err);
        if (r == 0)
                r = confdb_save(s, OWNER_INSTANCE, i->id, &i->conf, err);
        if (r == 0 && profiles)
                r = instance_db_set_profiles(s, i->id, profiles, err);
        if (r == 0 && (r = store_prepare(s, "UPDATE instances SET description = ? WHERE id = ?",
                                         &st, err)) == 0) {
                db_bind_text(st, 1, i->conf.description);
                sqlite3_bind_int64(st, 2, i->id);
                r = store_step(s, st, err) < 0 ? -EIO : 0;
        }
        return r;
}

int instance_edit(struct vessel_store *s, const char *name, const struct conf_edit *e,
                  char *const *profiles, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        struct instance i;
        int r;

        if (store_tx_begin(s, &tx, err) < 0 || instance_get(s, name, &i, err) < 0)
                return vessel_error_rc(err);
        r = edit_tx(s, &i, e, profiles, err);
        instance_free(&i);
        if (r < 0)
                return vessel_error_prefix(err, "instance \"%s\"", name);
        if (instance_backup_write_name(s, name, err) < 0)
                return -EIO;
        return store_tx_commit(&tx, err);
}

static char **profiles_changed(char *const *cur, enum profile_op op, char *const *given,
                               const char *name, vessel_error **err)
{
        char **out = strv_copy(op == PROFILES_ASSIGN ? given : cur);

        for (char *const *g = op == PROFILES_ASSIGN ? NULL : given; g && *g; g++) {
                bool has = false;
                for (char **p = out; *p; p++)
                        has = has || !strcmp(*p, *g);
                if (op == PROFILES_ADD && has) {
                        vessel_error_msg(err, EEXIST, "instance \"%s\": already has profile \"%s\"",
                                         name, *g);
                        strv_free(out);
                        return NULL;
                }
                if (op == PROFILES_REMOVE && !has) {
                        vessel_error_msg(err, ENOENT,
                                         "instance \"%s\": does not have profile \"%s\"", name, *g);
                        strv_free(out);
                        return NULL;
                }
                if (op == PROFILES_ADD) {
                        out = strv_append(out, *g);
                        continue;
                }
                size_t w = 0;
                for (size_t k = 0; out[k]; k++)
                        if (strcmp(out[k], *g))
                                out[w++] = out[k];
                        else
                                free(out[k]);
                out[w] = NULL;
        }
        return out;
}

int instance_profiles_change(struct vessel_store *s, const char *name, enum profile_op op,
                             char *const *profiles, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        _cleanup_strv_ char **next = NULL;
        struct instance i;
        int r;

        if (store_tx_begin(s, &tx, err) < 0 || instance_get(s, name, &i, err) < 0)
                return vessel_error_rc(err);
        next = profiles_changed(i.profiles, op, profiles, name, err);
        r = next ? edit_tx(s, &i, NULL, next, err) : -EINVAL;
        instance_free(&i);
        if (r < 0)
                return !next ? vessel_error_rc(err)
                             : vessel_error_prefix(err, "instance \"%s\"", name);
        if (instance_backup_write_name(s, name, err) < 0)
                return -EIO;
        return store_tx_commit(&tx, err);
}

int instance_storage_ready(struct vessel_store *s, const char *name, vessel_error **err)
{
        struct instance i;
        struct storage_pool p;
        int r = instance_get(s, name, &i, err);

        if (r < 0)
                return r;
        if (i.pool_id && i.volume) {
                if ((r = storage_pool_get_id(s, i.pool_id, &p, err)) == 0) {
                        _cleanup_free_ char *rel = storage_volume_path("containers", i.volume);
                        _cleanup_close_ int dfd =
                            openat(s->instances_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        uint64_t base = 0, size = 0;
                        if (dfd >= 0 && p.ops->shift_rel)
                                idshift_range(dfd, &base, &size);
                        r = storage_pool_activate(s, &p, err);
                        if (r == 0)
                                r = storage_volume_mount(s, &p, rel, base, size, err);
                        storage_pool_free(&p);
                }
                if (r < 0)
                        vessel_error_prefix(err, "instance %s", name);
        }
        instance_free(&i);
        return r;
}
