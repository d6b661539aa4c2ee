/* snapshot.c: snapshots of instances (snapshot.h): their rows, their
 * volumes, expiry, restore and the recovery of killed commands. */
#include "snapshot.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "config-db.h"
#include "profile.h"
#include "instance-run.h"
#include "instance.h"
#include "rundir.h"
#include "storage.h"
#include "util.h"

/* In a restore's work directory: what to put back if it dies before its
 * commit (see journal_write). */
#define JOURNAL "restore"
/* idshift.h's record, beside the instance's rootfs link. */
#define SHIFT_RECORD "rootfs.shift"
#define NEW_LINK "rootfs.new"

bool snapshot_name_valid(const char *name)
{
        /* The rule of pool names: a label, with '_' and '.' too. */
        return storage_pool_name_valid(name);
}

static int name_check(const char *inst, const char *name, vessel_error **err)
{
        if (snapshot_name_valid(name))
                return 0;
        return vessel_error_msg(err, EINVAL,
                                "snapshot \"%s/%s\": not a valid name (1 to 63 letters, digits, "
                                "'-', '_' and '.', not starting with '-' or '.')",
                                inst, name);
}

/* ---- expiry ---- */

/* The latest time an expiry may reach: the end of year 9999. */
#define EXPIRY_MAX 253402300799LL

static int expiry_bad(const char *expr, const char *why, vessel_error **err)
{
        return vessel_error_msg(err, EINVAL,
                                SNAPSHOT_KEY_EXPIRY " \"%s\": %s (fields like 1d, 3H or 2w: S "
                                                    "seconds, M minutes, H hours, d days, w "
                                                    "weeks, m months, y years)",
                                expr, why);
}

int snapshot_expiry_parse(const char *expr, int64_t from, int64_t *out, vessel_error **err)
{
        static const char units[] = "SMHdwmy";
        long long v[7] = {0};
        bool seen[7] = {false}, any = false;
        const char *p = expr;

        *out = 0;
        for (;;) {
                size_t digits;
                const char *u;

                while (*p == ' ')
                        p++;
                if (!*p)
                        break;
                digits = strspn(p, "0123456789");
                u = digits && p[digits] ? strchr(units, p[digits]) : NULL;
                if (!u || (p[digits + 1] && p[digits + 1] != ' '))
                        return expiry_bad(expr, "not an expiry", err);
                if (digits > 9)
                        return expiry_bad(expr, "too far in the future", err);
                if (seen[u - units])
                        return expiry_bad(expr, "a unit given twice", err);
                seen[u - units] = any = true;
                v[u - units] = strtoll(p, NULL, 10);
                p += digits + 1;
        }
        if (!any)
                return 0;

        /* As Incus (Go's AddDate, then Add): calendar years, months and
         * days first, normalised (Jan 31 + 1m is Mar 2 or 3), then the
         * hours, minutes and seconds. */
        time_t t = (time_t)from;
        struct tm tm;
        if (!gmtime_r(&t, &tm))
                return expiry_bad(expr, "not an expiry from this time", err);
        long long days = v[3] + 7 * v[4];
        if (tm.tm_year + v[6] + v[5] / 12 + days / 365 > 9999 - 1900)
                return expiry_bad(expr, "too far in the future", err);
        tm.tm_year += (int)v[6];
        tm.tm_mon += (int)v[5];
        tm.tm_mday += (int)days;
        long long when = (long long)timegm(&tm) + v[2] * 3600 + v[1] * 60 + v[0];
        if (when > EXPIRY_MAX)
                return expiry_bad(expr, "too far in the future", err);
        *out = when;
        return 0;
}

/* ---- rows ---- */

#define SNAP_COLS                                                                                  \
        "sn.id, sn.name, i.name, sn.description, sn.stateful, sn.created_at, sn.expires_at,"       \
        " sn.volume, sn.shift FROM snapshots sn JOIN instances i ON i.id = sn.instance_id"

static char *col_or_null(sqlite3_stmt *st, int c)
{
        return sqlite3_column_type(st, c) == SQLITE_NULL ? NULL : db_col_text(st, c);
}

static void row_read(sqlite3_stmt *st, struct snapshot *sn)
{
        *sn = (struct snapshot){
            .id = sqlite3_column_int64(st, 0),
            .name = db_col_text(st, 1),
            .instance = db_col_text(st, 2),
            .conf.description = db_col_text(st, 3),
            .stateful = sqlite3_column_int(st, 4),
            .created_at = sqlite3_column_int64(st, 5),
            .expires_at = sqlite3_column_int64(st, 6),
            .volume = col_or_null(st, 7),
            .shift = col_or_null(st, 8),
        };
}

void snapshot_free(struct snapshot *sn)
{
        free(sn->name);
        free(sn->instance);
        free(sn->volume);
        free(sn->shift);
        strv_free(sn->profiles);
        confset_free(&sn->conf);
        *sn = (struct snapshot){0};
}

void snapshot_list_free(struct snapshot *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                snapshot_free(&v[i]);
        free(v);
}

static int snap_complete(struct vessel_store *s, struct snapshot *sn, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        sn->profiles = xmalloc0(sizeof(char *));
        if (store_prepare(
                s,
                "SELECT p.name FROM snapshot_profiles sp JOIN profiles p"
                " ON p.id = sp.profile_id WHERE sp.snapshot_id = ? ORDER BY sp.apply_order",
                &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, sn->id);
        while ((rc = store_step(s, st, err)) == SQLITE_ROW)
                sn->profiles = strv_append(sn->profiles, (const char *)sqlite3_column_text(st, 0));
        if (rc < 0)
                return rc;
        return confdb_load(s, OWNER_SNAPSHOT, sn->id, &sn->conf, err);
}

/* name NULL: every snapshot of the instance, by creation. */
static int db_snapshots(struct vessel_store *s, int64_t inst_id, const char *name,
                        struct snapshot **out, size_t *n, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        *out = NULL;
        *n = 0;
        if (store_prepare(s,
                          name ? "SELECT " SNAP_COLS " WHERE sn.instance_id = ? AND sn.name = ?"
                               : "SELECT " SNAP_COLS " WHERE sn.instance_id = ?"
                                 " ORDER BY sn.created_at, sn.id",
                          &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, inst_id);
        if (name)
                db_bind_text(st, 2, name);
        while ((rc = store_step(s, st, err)) == SQLITE_ROW) {
                *out = xrealloc(*out, (*n + 1) * sizeof(**out));
                row_read(st, &(*out)[(*n)++]);
                if ((rc = snap_complete(s, &(*out)[*n - 1], err)) < 0)
                        break;
        }
        if (rc < 0) {
                snapshot_list_free(*out, *n);
                *out = NULL;
                *n = 0;
                return rc;
        }
        return 0;
}

static int db_snapshot_get(struct vessel_store *s, const struct instance *i, const char *name,
                           struct snapshot *out, vessel_error **err)
{
        struct snapshot *v;
        size_t n;

        if (db_snapshots(s, i->id, name, &v, &n, err) < 0)
                return -EIO;
        if (n == 0) {
                free(v);
                return vessel_error_msg(err, ENOENT, "snapshot \"%s/%s\": no such snapshot",
                                        i->name, name);
        }
        *out = v[0];
        free(v);
        return 0;
}

static int exists_error(const char *inst, const char *name, vessel_error **err)
{
        return vessel_error_msg(
            err, EEXIST, "snapshot \"%s/%s\": already exists (--reuse replaces it)", inst, name);
}

/* The id and volume of a snapshot of the instance, 0 when there is none. */
static int db_snapshot_find(struct vessel_store *s, int64_t inst_id, const char *name, int64_t *id,
                            char **volume, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        *id = 0;
        if (volume)
                *volume = NULL;
        if (store_prepare(s, "SELECT id, volume FROM snapshots WHERE instance_id = ? AND name = ?",
                          &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, inst_id);
        db_bind_text(st, 2, name);
        rc = store_step(s, st, err);
        if (rc < 0)
                return rc;
        if (rc == SQLITE_ROW) {
                *id = sqlite3_column_int64(st, 0);
                if (volume)
                        *volume = col_or_null(st, 1);
        }
        return 0;
}

static int db_exec_id(struct vessel_store *s, const char *sql, int64_t a, int64_t b,
                      vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;

        if (store_prepare(s, sql, &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, a);
        if (sqlite3_bind_parameter_count(st) > 1)
                sqlite3_bind_int64(st, 2, b);
        return store_step(s, st, err) < 0 ? -EIO : 0;
}

/* The instance, which must have a volume of a pool. */
static int instance_with_volume(struct vessel_store *s, const char *name, struct instance *i,
                                vessel_error **err)
{
        if (instance_get(s, name, i, err) < 0)
                return vessel_error_rc(err);
        if (i->pool_id && i->volume)
                return 0;
        instance_free(i);
        return vessel_error_msg(err, ENOTSUP,
                                "instance \"%s\": made before storage pools (its rootfs is in "
                                "its directory, not a volume of a pool): it cannot have "
                                "snapshots",
                                name);
}

/* The instance's op.lock (rundir.h): no start (which shifts the files)
 * or stop, and no other snapshot or restore, while we work. */
static int op_lock(struct vessel_store *s, const char *name, vessel_error **err)
{
        struct rundir rd;
        int fd;

        if (rundir_open(s, name, &rd, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\"", name);
        fd = rundir_op_lock(&rd, err);
        rundir_free(&rd);
        return fd < 0 ? vessel_error_prefix(err, "instance \"%s\"", name) : fd;
}

static int pool_ready(struct vessel_store *s, const struct instance *i, struct storage_pool *p,
                      vessel_error **err)
{
        if (storage_pool_get_id(s, i->pool_id, p, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\"", i->name);
        if (storage_pool_activate(s, p, err) < 0) {
                storage_pool_free(p);
                return vessel_error_prefix(err, "instance \"%s\"", i->name);
        }
        return 0;
}

/* After a commit: volumes no row names any more (a kill before the end
 * leaves them to storage_recover). */
static void volumes_drop(struct vessel_store *s, int64_t pool_id, char **vols)
{
        struct storage_pool p;

        if (!vols[0] || storage_pool_get_id(s, pool_id, &p, NULL) < 0)
                return;
        if (storage_pool_activate(s, &p, NULL) == 0)
                for (char **v = vols; *v; v++) {
                        vessel_error *e = NULL;
                        if (storage_volume_delete(s, &p, *v, &e) < 0) {
                                fprintf(stderr, "vesselctl: %s (the next command retries)\n",
                                        e->msg);
                                vessel_error_free(&e);
                        }
                }
        storage_pool_free(&p);
}

/* The instance's expired snapshots go: rows in one transaction, then
 * their volumes. */
static int prune_expired(struct vessel_store *s, const struct instance *i, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_strv_ char **vols = xmalloc0(sizeof(char *));
        int64_t now = (int64_t)time(NULL);
        int rc;

        /* Most of the time there is nothing to do: no write lock then. */
        if (store_prepare(s,
                          "SELECT 1 FROM snapshots WHERE instance_id = ? AND expires_at > 0"
                          " AND expires_at <= ? LIMIT 1",
                          &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, i->id);
        sqlite3_bind_int64(st, 2, now);
        rc = store_step(s, st, err);
        stmt_finalizep(&st);
        st = NULL;
        if (rc != SQLITE_ROW)
                return rc < 0 ? rc : 0;
        if (store_tx_begin(s, &tx, err) < 0 ||
            store_prepare(s,
                          "SELECT volume FROM snapshots WHERE instance_id = ? AND expires_at > 0"
                          " AND expires_at <= ? AND volume IS NOT NULL",
                          &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, i->id);
        sqlite3_bind_int64(st, 2, now);
        while ((rc = store_step(s, st, err)) == SQLITE_ROW) {
                _cleanup_free_ char *v =
                    storage_volume_path("snapshots", (const char *)sqlite3_column_text(st, 0));
                vols = strv_append(vols, v);
        }
        if (rc < 0 || db_exec_id(s,
                                 "DELETE FROM snapshots WHERE instance_id = ? AND expires_at > 0"
                                 " AND expires_at <= ?",
                                 i->id, now, err) < 0)
                return -EIO;
        if (sqlite3_changes(s->db) == 0)
                return 0; /* rolled back: nothing changed */
        if (store_tx_commit(&tx, err) < 0)
                return -EIO;
        volumes_drop(s, i->pool_id, vols);
        return 0;
}

/* The text of instances/<name>/rootfs.shift, or NULL. */
static char *shift_read(struct vessel_store *s, int dfd)
{
        char *text = NULL;

        (void)s;
        if (read_file_at(dfd, SHIFT_RECORD, &text, NULL, NULL) < 0)
                return NULL;
        return text;
}

/* Put the record back as text says (NULL: none), atomically. */
static int shift_write(int dfd, const char *name, const char *text, vessel_error **err)
{
        if (!text) {
                if (unlinkat(dfd, SHIFT_RECORD, 0) < 0 && errno != ENOENT)
                        return vessel_error_sys(err, "instance \"%s\": unlink %s", name,
                                                SHIFT_RECORD);
                return 0;
        }
        if (unlinkat(dfd, SHIFT_RECORD ".tmp", 0) < 0 && errno != ENOENT)
                return vessel_error_sys(err, "instance \"%s\": unlink %s.tmp", name, SHIFT_RECORD);
        _cleanup_close_ int fd = openat(dfd, SHIFT_RECORD ".tmp",
                                        O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
        if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0 ||
            renameat(dfd, SHIFT_RECORD ".tmp", dfd, SHIFT_RECORD) < 0)
                return vessel_error_sys(err, "instance \"%s\": writing %s", name, SHIFT_RECORD);
        return 0;
}

/* instances/<name>/rootfs -> target, replaced in one rename. */
static int link_write(int dfd, const char *name, const char *target, vessel_error **err)
{
        if (unlinkat(dfd, NEW_LINK, 0) < 0 && errno != ENOENT)
                return vessel_error_sys(err, "instance \"%s\": unlink %s", name, NEW_LINK);
        if (symlinkat(target, dfd, NEW_LINK) < 0 || renameat(dfd, NEW_LINK, dfd, "rootfs") < 0)
                return vessel_error_sys(err, "instance \"%s\": pointing rootfs at %s", name,
                                        target);
        return 0;
}

/* ---- create ---- */

static int first_free_name(struct vessel_store *s, int64_t inst_id, char **out, vessel_error **err)
{
        for (unsigned k = 0;; k++) {
                _cleanup_free_ char *name = xasprintf("snap%u", k);
                int64_t id;
                if (db_snapshot_find(s, inst_id, name, &id, NULL, err) < 0)
                        return -EIO;
                if (!id) {
                        *out = steal_ptr(&name);
                        return 0;
                }
        }
}

static int db_snapshot_insert(struct vessel_store *s, const struct instance *i, const char *name,
                              int64_t expires, const char *vol, const char *shift,
                              vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int64_t id;

        if (store_prepare(s,
                          "INSERT INTO snapshots (instance_id, name, description, stateful,"
                          " created_at, expires_at, volume, shift) VALUES (?, ?, ?, 0, ?, ?, ?, ?)",
                          &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, i->id);
        db_bind_text(st, 2, name);
        db_bind_text(st, 3, i->conf.description);
        sqlite3_bind_int64(st, 4, (int64_t)time(NULL));
        sqlite3_bind_int64(st, 5, expires);
        db_bind_text(st, 6, vol);
        if (shift)
                db_bind_text(st, 7, shift);
        else
                sqlite3_bind_null(st, 7);
        if (store_step(s, st, err) < 0)
                return -EIO;
        id = sqlite3_last_insert_rowid(s->db);
        if (confdb_save(s, OWNER_SNAPSHOT, id, &i->conf, err) < 0)
                return -EIO;
        return db_exec_id(s,
                          "INSERT INTO snapshot_profiles (snapshot_id, profile_id, apply_order)"
                          " SELECT ?, profile_id, apply_order FROM instance_profiles"
                          " WHERE instance_id = ?",
                          id, i->id, err);
}

int snapshot_insert_tx(struct vessel_store *s, int64_t inst_id, const struct snapshot *sn,
                       vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL, *ins = NULL;
        int64_t id, other;

        if (name_check("(import)", sn->name, err) < 0)
                return -EINVAL;
        if (db_snapshot_find(s, inst_id, sn->name, &other, NULL, err) < 0)
                return -EIO;
        if (other)
                return vessel_error_msg(err, EEXIST, "snapshot \"%s\": given twice", sn->name);
        if (store_prepare(s,
                          "INSERT INTO snapshots (instance_id, name, description, stateful,"
                          " created_at, expires_at, volume, shift) VALUES (?, ?, ?, 0, ?, ?, ?, ?)",
                          &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, inst_id);
        db_bind_text(st, 2, sn->name);
        db_bind_text(st, 3, sn->conf.description ? sn->conf.description : "");
        sqlite3_bind_int64(st, 4, sn->created_at);
        sqlite3_bind_int64(st, 5, sn->expires_at);
        db_bind_text(st, 6, sn->volume);
        if (sn->shift)
                db_bind_text(st, 7, sn->shift);
        else
                sqlite3_bind_null(st, 7);
        if (store_step(s, st, err) < 0)
                return -EIO;
        id = sqlite3_last_insert_rowid(s->db);
        if (confdb_save(s, OWNER_SNAPSHOT, id, &sn->conf, err) < 0 ||
            store_prepare(s,
                          "INSERT INTO snapshot_profiles (snapshot_id, profile_id, apply_order)"
                          " VALUES (?, ?, ?)",
                          &ins, err) < 0)
                return -EIO;
        for (size_t k = 0; sn->profiles && sn->profiles[k]; k++) {
                int64_t pid;
                if (db_profile_id(s, sn->profiles[k], &pid, err) < 0)
                        return vessel_error_prefix(err, "snapshot \"%s\"", sn->name);
                sqlite3_reset(ins);
                sqlite3_bind_int64(ins, 1, id);
                sqlite3_bind_int64(ins, 2, pid);
                sqlite3_bind_int64(ins, 3, (int64_t)k);
                if (store_step(s, ins, err) < 0)
                        return vessel_error_prefix(err, "snapshot \"%s\": profile \"%s\"", sn->name,
                                                   sn->profiles[k]);
        }
        return 0;
}

/* The instance as it is now (the configuration the snapshot keeps),
 * which must still be the one whose volume was cloned. */
static int instance_unchanged(struct vessel_store *s, const struct instance *was,
                              struct instance *now, vessel_error **err)
{
        if (instance_get(s, was->name, now, err) < 0)
                return vessel_error_rc(err);
        if (now->id == was->id && now->volume && !strcmp(now->volume, was->volume))
                return 0;
        instance_free(now);
        return vessel_error_msg(err, EBUSY, "instance \"%s\": was replaced meanwhile", was->name);
}

/* The transaction of create: the row, its configuration and profiles;
 * a snapshot it replaces (reuse) loses its row, its volume goes after. */
static int create_commit(struct vessel_store *s, const struct instance *i, const char *want,
                         bool reuse, int64_t expires, const char *vol, const char *shift,
                         char **made, char **replaced, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        _cleanup_free_ char *name = want ? xstrdup(want) : NULL;
        struct instance now;
        int64_t old = 0;
        int r;

        if (store_tx_begin(s, &tx, err) < 0 || instance_unchanged(s, i, &now, err) < 0)
                return vessel_error_rc(err);
        if (name)
                r = db_snapshot_find(s, i->id, name, &old, replaced, err);
        else
                r = first_free_name(s, i->id, &name, err);
        if (r == 0 && old && !reuse)
                r = exists_error(i->name, name, err);
        if (r == 0 && old)
                r = db_exec_id(s, "DELETE FROM snapshots WHERE id = ?", old, 0, err);
        if (r == 0)
                r = db_snapshot_insert(s, &now, name, expires, vol, shift, err);
        instance_free(&now);
        if (r == 0)
                r = store_tx_commit(&tx, err);
        if (r < 0)
                return r;
        if (made)
                *made = steal_ptr(&name);
        return 0;
}

/* snapshots.expiry of the expanded configuration, from now. */
static int expiry_of(struct vessel_store *s, const struct instance *i, int64_t *expires,
                     vessel_error **err)
{
        struct confset x = {0};
        const char *v;
        int r = instance_expand(s, i, &x, err);

        *expires = 0;
        if (r == 0 && (v = kvlist_get(&x.config, SNAPSHOT_KEY_EXPIRY)))
                r = snapshot_expiry_parse(v, (int64_t)time(NULL), expires, err);
        confset_free(&x);
        return r < 0 ? vessel_error_prefix(err, "instance \"%s\"", i->name) : 0;
}

/* Holding the op.lock: the volume cloned under the work directory's
 * lock, then the commit. */
static int create_locked(struct vessel_store *s, const struct instance *i, const char *name,
                         bool reuse, char **made, vessel_error **err)
{
        _cleanup_close_ int wfd = -1, dfd = -1;
        _cleanup_free_ char *shift = NULL, *replaced = NULL, *src = NULL, *dst = NULL;
        struct storage_pool p;
        char work[64];
        int64_t expires, old;
        int r;

        if (prune_expired(s, i, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\": expired snapshots", i->name);
        /* Said before a copy is made; decided again in the commit. */
        if (name && !reuse) {
                if (db_snapshot_find(s, i->id, name, &old, NULL, err) < 0)
                        return -EIO;
                if (old)
                        return exists_error(i->name, name, err);
        }
        if (expiry_of(s, i, &expires, err) < 0)
                return -EINVAL;
        dfd = openat(s->instances_fd, i->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return vessel_error_sys(err, "instance \"%s\": instances/%s", i->name, i->name);
        if (pool_ready(s, i, &p, err) < 0)
                return -EIO;
        r = store_workdir_create(s->instances_fd, SNAPSHOT_WORK_PREFIX, work, sizeof(work), &wfd,
                                 err);
        if (r < 0) {
                storage_pool_free(&p);
                return vessel_error_prefix(err, "instance \"%s\": %s/instances", i->name, s->root);
        }
        src = storage_volume_path("containers", i->volume);
        dst = storage_volume_path("snapshots", work + strlen(SNAPSHOT_WORK_PREFIX));
        /* The record of the files as they are copied: a start (which
         * shifts them) waits for our op.lock. */
        shift = shift_read(s, dfd);
        r = storage_volume_clone(s, &p, src, dst, err);
        if (r < 0)
                vessel_error_prefix(err, "instance \"%s\": snapshot", i->name);
        if (r == 0)
                r = create_commit(s, i, name, reuse, expires, work + strlen(SNAPSHOT_WORK_PREFIX),
                                  shift, made, &replaced, err);
        if (r < 0)
                storage_volume_delete(s, &p, dst, NULL);
        storage_pool_free(&p);
        if (r == 0 && replaced) {
                _cleanup_free_ char *v = storage_volume_path("snapshots", replaced);
                char *vols[] = {v, NULL};
                volumes_drop(s, i->pool_id, vols);
        }
        store_rm_rf_at(s, s->instances_fd, work, NULL);
        return r;
}

int snapshot_create(struct vessel_store *s, const char *instance, const char *name, bool reuse,
                    char **made, vessel_error **err)
{
        _cleanup_close_ int lock = -1;
        struct instance i;
        int r;

        if (name && name_check(instance, name, err) < 0)
                return -EINVAL;
        if (instance_with_volume(s, instance, &i, err) < 0)
                return vessel_error_rc(err);
        lock = op_lock(s, instance, err);
        r = lock < 0 ? lock : create_locked(s, &i, name, reuse, made, err);
        instance_free(&i);
        return r;
}

/* ---- list, get, usage, delete, rename ---- */

int snapshot_list(struct vessel_store *s, const char *instance, bool prune, struct snapshot **out,
                  size_t *n, vessel_error **err)
{
        struct instance i;
        int r;

        *out = NULL;
        *n = 0;
        if (instance_get(s, instance, &i, err) < 0)
                return vessel_error_rc(err);
        r = prune && i.pool_id ? prune_expired(s, &i, err) : 0;
        if (r == 0)
                r = db_snapshots(s, i.id, NULL, out, n, err);
        instance_free(&i);
        return r;
}

int snapshot_get(struct vessel_store *s, const char *instance, const char *name,
                 struct snapshot *out, vessel_error **err)
{
        struct instance i;
        int r;

        if (instance_get(s, instance, &i, err) < 0)
                return vessel_error_rc(err);
        r = db_snapshot_get(s, &i, name, out, err);
        instance_free(&i);
        return r;
}

int snapshot_usage(struct vessel_store *s, const struct snapshot *sn, uint64_t *bytes,
                   vessel_error **err)
{
        _cleanup_free_ char *vol = NULL;
        struct storage_pool p;
        struct instance i;
        int r;

        if (!sn->volume)
                return vessel_error_msg(err, ENOENT, "snapshot \"%s/%s\": no volume", sn->instance,
                                        sn->name);
        if (instance_get(s, sn->instance, &i, err) < 0)
                return vessel_error_rc(err);
        r = pool_ready(s, &i, &p, err);
        instance_free(&i);
        if (r < 0)
                return r;
        vol = storage_volume_path("snapshots", sn->volume);
        r = storage_volume_usage(s, &p, vol, bytes, err);
        storage_pool_free(&p);
        return r;
}

int snapshot_delete(struct vessel_store *s, const char *instance, const char *name,
                    vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        _cleanup_free_ char *vol = NULL;
        struct instance i;
        int64_t id, pool_id, inst_id;

        if (store_tx_begin(s, &tx, err) < 0 || instance_get(s, instance, &i, err) < 0)
                return vessel_error_rc(err);
        pool_id = i.pool_id;
        inst_id = i.id;
        instance_free(&i);
        if (db_snapshot_find(s, inst_id, name, &id, &vol, err) < 0)
                return -EIO;
        if (!id)
                return vessel_error_msg(err, ENOENT, "snapshot \"%s/%s\": no such snapshot",
                                        instance, name);
        if (db_exec_id(s, "DELETE FROM snapshots WHERE id = ?", id, 0, err) < 0 ||
            store_tx_commit(&tx, err) < 0)
                return -EIO;
        if (vol && pool_id) {
                _cleanup_free_ char *v = storage_volume_path("snapshots", vol);
                char *vols[] = {v, NULL};
                volumes_drop(s, pool_id, vols);
        }
        return 0;
}

int snapshot_rename(struct vessel_store *s, const char *instance, const char *name, const char *to,
                    vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct instance i;
        int64_t id, other;
        int r;

        if (name_check(instance, to, err) < 0)
                return -EINVAL;
        if (store_tx_begin(s, &tx, err) < 0 || instance_get(s, instance, &i, err) < 0)
                return vessel_error_rc(err);
        r = db_snapshot_find(s, i.id, name, &id, NULL, err);
        if (r == 0 && !id)
                r = vessel_error_msg(err, ENOENT, "snapshot \"%s/%s\": no such snapshot", instance,
                                     name);
        if (r == 0)
                r = db_snapshot_find(s, i.id, to, &other, NULL, err);
        instance_free(&i);
        if (r < 0)
                return r;
        if (other)
                return vessel_error_msg(err, EEXIST, "snapshot \"%s/%s\": already exists", instance,
                                        to);
        if (store_prepare(s, "UPDATE snapshots SET name = ? WHERE id = ?", &st, err) < 0)
                return -EIO;
        db_bind_text(st, 1, to);
        sqlite3_bind_int64(st, 2, id);
        if (store_step(s, st, err) < 0)
                return -EIO;
        return store_tx_commit(&tx, err);
}

/* ---- restore ---- */

/* What a restore killed before its commit must put back (read by
 * snapshot_recover): the instance's id, its volume, the new volume, and
 * then the text of its shift record, if it had one. */
static int journal_write(struct vessel_store *s, const char *work, const struct instance *i,
                         const char *vol, const char *shift, vessel_error **err)
{
        _cleanup_free_ char *path = xasprintf("%s/instances/%s/%s", s->root, work, JOURNAL);
        _cleanup_free_ char *text =
            xasprintf("%lld\n%s\n%s\n%s", (long long)i->id, i->volume, vol, shift ? shift : "");

        return write_file_atomic(path, text, strlen(text), 0600, err);
}

/* In the restore's transaction: the instance's row, keys, devices and
 * profiles from the snapshot, its rootfs link and shift record to the
 * new volume's, backup.yaml; undone on any failure. */
static int restore_commit(struct vessel_store *s, int dfd, struct storage_pool *p,
                          const struct instance *i, const struct snapshot *sn, const char *vol,
                          const char *old_shift, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *vol_now = NULL;
        _cleanup_free_ char *rel = storage_volume_path("containers", vol),
                            *link = storage_rootfs_link(p, rel);
        _cleanup_free_ char *old_rel = storage_volume_path("containers", i->volume),
                            *old_link = storage_rootfs_link(p, old_rel);
        struct instance now;
        int64_t id;
        int r;

        if (store_tx_begin(s, &tx, err) < 0 || instance_unchanged(s, i, &now, err) < 0)
                return vessel_error_rc(err);
        instance_free(&now);
        if (instance_monitor_alive(s, i->name))
                return vessel_error_msg(err, EBUSY, "instance \"%s\": was started meanwhile",
                                        i->name);
        if (db_snapshot_find(s, i->id, sn->name, &id, &vol_now, err) < 0)
                return -EIO;
        if (id != sn->id || !vol_now || strcmp(vol_now, sn->volume))
                return vessel_error_msg(err, ENOENT,
                                        "snapshot \"%s/%s\": deleted or replaced meanwhile",
                                        i->name, sn->name);
        if (store_prepare(s, "UPDATE instances SET volume = ?, description = ? WHERE id = ?", &st,
                          err) < 0)
                return -EIO;
        db_bind_text(st, 1, vol);
        db_bind_text(st, 2, sn->conf.description);
        sqlite3_bind_int64(st, 3, i->id);
        if (store_step(s, st, err) < 0 ||
            confdb_save(s, OWNER_INSTANCE, i->id, &sn->conf, err) < 0 ||
            db_exec_id(s, "DELETE FROM instance_profiles WHERE instance_id = ?", i->id, 0, err) <
                0 ||
            db_exec_id(s,
                       "INSERT INTO instance_profiles (instance_id, profile_id, apply_order)"
                       " SELECT ?, profile_id, apply_order FROM snapshot_profiles"
                       " WHERE snapshot_id = ?",
                       i->id, sn->id, err) < 0)
                return -EIO;
        r = link_write(dfd, i->name, link, err);
        if (r == 0)
                r = shift_write(dfd, i->name, sn->shift, err);
        if (r == 0)
                r = instance_backup_write_name(s, i->name, err);
        if (r == 0)
                r = store_tx_commit(&tx, err);
        if (r < 0) {
                link_write(dfd, i->name, old_link, NULL);
                shift_write(dfd, i->name, old_shift, NULL);
                store_tx_end(&tx);
                /* backup.yaml as the catalogue still has it. */
                if (store_tx_begin(s, &tx, NULL) == 0 &&
                    instance_backup_write_name(s, i->name, NULL) == 0)
                        store_tx_commit(&tx, NULL);
        }
        return r;
}

/* Holding the op.lock of an instance that does not run. */
static int restore_locked(struct vessel_store *s, const struct instance *i,
                          const struct snapshot *sn, vessel_error **err)
{
        _cleanup_close_ int wfd = -1, dfd = -1;
        _cleanup_free_ char *old_shift = NULL, *src = NULL, *dst = NULL, *old = NULL;
        struct storage_pool p;
        char work[64];
        const char *vol;
        int r;

        if (instance_monitor_alive(s, i->name))
                return vessel_error_msg(err, EBUSY, "instance \"%s\": was started meanwhile",
                                        i->name);
        dfd = openat(s->instances_fd, i->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return vessel_error_sys(err, "instance \"%s\": instances/%s", i->name, i->name);
        if (pool_ready(s, i, &p, err) < 0)
                return -EIO;
        r = store_workdir_create(s->instances_fd, SNAPSHOT_WORK_PREFIX, work, sizeof(work), &wfd,
                                 err);
        if (r < 0) {
                storage_pool_free(&p);
                return vessel_error_prefix(err, "instance \"%s\": %s/instances", i->name, s->root);
        }
        vol = work + strlen(SNAPSHOT_WORK_PREFIX);
        src = storage_volume_path("snapshots", sn->volume);
        dst = storage_volume_path("containers", vol);
        old_shift = shift_read(s, dfd);
        r = journal_write(s, work, i, vol, old_shift, err);
        if (r == 0)
                r = storage_volume_clone(s, &p, src, dst, err);
        /* Plain, as init mounts a new volume: the start mounts it again
         * with the instance's range (instance_storage_ready). */
        if (r == 0)
                r = storage_volume_mount(s, &p, dst, 0, 0, err);
        if (r < 0)
                vessel_error_prefix(err, "instance \"%s\": restore of %s", i->name, sn->name);
        if (r == 0)
                r = restore_commit(s, dfd, &p, i, sn, vol, old_shift, err);
        if (r < 0)
                storage_volume_delete(s, &p, dst, NULL);
        storage_pool_free(&p);
        if (r == 0) {
                old = storage_volume_path("containers", i->volume);
                char *vols[] = {old, NULL};
                volumes_drop(s, i->pool_id, vols);
        }
        store_rm_rf_at(s, s->instances_fd, work, NULL);
        return r;
}

int snapshot_restore(struct vessel_store *s, const char *instance, const char *name, bool force,
                     vessel_error **err)
{
        _cleanup_close_ int lock = -1;
        struct instance i;
        struct snapshot sn = {0};
        bool running, stopped = false;
        int r;

        if (instance_with_volume(s, instance, &i, err) < 0)
                return vessel_error_rc(err);
        r = db_snapshot_get(s, &i, name, &sn, err);
        if (r == 0 && !sn.volume)
                r = vessel_error_msg(err, ENOENT, "snapshot \"%s/%s\": has no volume", instance,
                                     name);
        running = instance_monitor_alive(s, instance) || instance_orphaned(s, instance);
        if (r == 0 && running && i.ephemeral)
                r = vessel_error_msg(err, EBUSY,
                                     "instance \"%s\": is running and ephemeral (a stop would "
                                     "delete it): no restore",
                                     instance);
        if (r == 0 && running && !force)
                r = vessel_error_msg(err, EBUSY,
                                     "instance \"%s\": is running (stop it first, or restore "
                                     "--force)",
                                     instance);
        /* As Incus: a running instance is stopped at once (its files are
         * about to be replaced), and started again after. */
        if (r == 0 && running && (r = instance_stop(s, instance, 0, true, err)) == 0)
                stopped = true;
        if (r == 0 && (lock = op_lock(s, instance, err)) < 0)
                r = lock;
        if (r == 0)
                r = restore_locked(s, &i, &sn, err);
        closep(&lock);
        if (r == 0 && stopped && instance_start(s, instance, err) < 0)
                r = vessel_error_prefix(err, "instance \"%s\": restored %s, but", instance, name);
        else if (r < 0 && stopped)
                /* Nothing restored: it runs again as it was. */
                instance_start(s, instance, NULL);
        snapshot_free(&sn);
        instance_free(&i);
        return r;
}

/* ---- recovery ---- */

struct journal {
        int64_t id;
        char *old, *vol, *shift; /* shift NULL: no record */
};

static int journal_read(int wfd, struct journal *j)
{
        _cleanup_free_ char *text = NULL;
        char *a, *b, *c;

        *j = (struct journal){0};
        if (read_file_at(wfd, JOURNAL, &text, NULL, NULL) < 0)
                return 0;
        a = strchr(text, '\n');
        b = a ? strchr(a + 1, '\n') : NULL;
        c = b ? strchr(b + 1, '\n') : NULL;
        if (!c)
                return 0;
        *a = *b = *c = '\0';
        if (parse_int64(text, &j->id) < 0)
                return 0;
        j->old = xstrdup(a + 1);
        j->vol = xstrdup(b + 1);
        j->shift = c[1] ? xstrdup(c + 1) : NULL;
        return 1;
}

static void journal_free(struct journal *j)
{
        free(j->old);
        free(j->vol);
        free(j->shift);
}

/* A dead restore's journal, under the write lock: 1 when its instance
 * directory is not where its row says (an instance rename killed too:
 * instance_recover puts it back, the next open undoes this). */
static int restore_undo(struct vessel_store *s, const struct journal *j, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *name = NULL, *vol = NULL, *rel = NULL, *link = NULL;
        _cleanup_close_ int dfd = -1;
        struct storage_pool p;
        int64_t pool_id;
        int rc;

        if (store_prepare(s,
                          "SELECT name, volume, coalesce(pool_id, 0) FROM instances WHERE id = ?",
                          &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, j->id);
        rc = store_step(s, st, err);
        if (rc < 0)
                return rc;
        if (rc != SQLITE_ROW)
                return 0; /* deleted since */
        name = db_col_text(st, 0);
        vol = col_or_null(st, 1);
        pool_id = sqlite3_column_int64(st, 2);
        /* Committed (or something else since): nothing to undo. */
        if (!vol || strcmp(vol, j->old) || !pool_id)
                return 0;
        dfd = openat(s->instances_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
        if (dfd < 0)
                return 1;
        if (storage_pool_get_id(s, pool_id, &p, err) < 0)
                return -EIO;
        rel = storage_volume_path("containers", j->old);
        link = storage_rootfs_link(&p, rel);
        storage_pool_free(&p);
        if (link_write(dfd, name, link, err) < 0 || shift_write(dfd, name, j->shift, err) < 0 ||
            instance_backup_write_name(s, name, err) < 0)
                return -EIO;
        return 0;
}

static bool is_work_dir(const char *name)
{
        const char *v = name + strlen(SNAPSHOT_WORK_PREFIX);

        if (!str_has_prefix(name, SNAPSHOT_WORK_PREFIX) || strlen(v) != 12)
                return false;
        for (; *v; v++)
                if (!isxdigit((unsigned char)*v) || isupper((unsigned char)*v))
                        return false;
        return true;
}

static int recover_one(struct vessel_store *s, const char *work, vessel_error **err)
{
        _cleanup_close_ int wfd = store_dir_lock_free(s->instances_fd, work);
        struct journal j;
        int r = 0;

        if (wfd < 0)
                return 0; /* at work */
        /* A move's (its instance id in "move"): instance_copy_recover,
         * which runs next, undoes it. */
        if (faccessat(wfd, "move", F_OK, AT_SYMLINK_NOFOLLOW) == 0)
                return 0;
        if (journal_read(wfd, &j))
                r = restore_undo(s, &j, err);
        journal_free(&j);
        if (r == 0)
                store_rm_rf_at(s, s->instances_fd, work, NULL);
        return r < 0 ? vessel_error_prefix(err, "instances/%s", work) : 0;
}

int snapshot_recover(struct vessel_store *s, vessel_error **err)
{
        _cleanup_strv_ char **dead = xmalloc0(sizeof(char *));
        _cleanup_tx_ struct store_tx tx = {0};
        /* An open of its own: a dup would share (and leave at its end)
         * the offset that instance_recover's reading starts from. */
        _cleanup_close_ int fd = openat(s->instances_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;
        int r = 0;

        if (!d)
                return vessel_error_sys(err, "instances/");
        fd = -1;
        while ((de = readdir(d))) {
                if (!is_work_dir(de->d_name))
                        continue;
                _cleanup_close_ int lock = store_dir_lock_free(s->instances_fd, de->d_name);
                if (lock >= 0)
                        dead = strv_append(dead, de->d_name);
        }
        closedir(d);
        if (!dead[0])
                return 0;
        /* Decided under the write lock, under which restores commit. */
        if (store_tx_begin(s, &tx, err) < 0)
                return -EIO;
        for (char **w = dead; r == 0 && *w; w++)
                r = recover_one(s, *w, err);
        return r < 0 ? r : store_tx_commit(&tx, err);
}
