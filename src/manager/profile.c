/* profile.c: the profiles' rows (profiles, profile_config, their
 * devices) and the operations on them. */
#include "profile.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config-db.h"
#include "instance.h"
#include "util.h"

bool profile_name_valid(const char *name)
{
        size_t n = strlen(name);

        if (n == 0 || n > 63 || !strcmp(name, ".") || !strcmp(name, ".."))
                return false;
        for (const unsigned char *c = (const unsigned char *)name; *c; c++)
                if (*c <= ' ' || *c == 0x7f || *c == '/' || *c == ',')
                        return false;
        return true;
}

static int name_check(const char *name, vessel_error **err)
{
        if (!profile_name_valid(name))
                return vessel_error_msg(err, EINVAL,
                                        "profile \"%s\": not a valid name (1 to 63 characters, "
                                        "no '/', ',', spaces or control characters)",
                                        name);
        return 0;
}

int db_profile_id(struct vessel_store *s, const char *name, int64_t *id, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        if (store_prepare(s, "SELECT id FROM profiles WHERE name = ?", &st, err) < 0)
                return -EIO;
        db_bind_text(st, 1, name);
        rc = store_step(s, st, err);
        if (rc < 0)
                return rc;
        if (rc != SQLITE_ROW)
                return vessel_error_msg(err, ENOENT, "profile \"%s\": no such profile", name);
        *id = sqlite3_column_int64(st, 0);
        return 0;
}

int db_profile_confset(struct vessel_store *s, int64_t id, struct confset *out, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;

        *out = (struct confset){0};
        if (store_prepare(s, "SELECT description FROM profiles WHERE id = ?", &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        if (store_step(s, st, err) != SQLITE_ROW)
                return vessel_error_msg(err, ENOENT, "profile %lld: no such profile",
                                        (long long)id);
        out->description = db_col_text(st, 0);
        return confdb_load(s, OWNER_PROFILE, id, out, err);
}

static int used_by(struct vessel_store *s, int64_t id, char ***out, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        *out = xmalloc0(sizeof(char *));
        if (store_prepare(s,
                          "SELECT i.name FROM instance_profiles ip JOIN instances i"
                          " ON i.id = ip.instance_id WHERE ip.profile_id = ? ORDER BY i.name",
                          &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        while ((rc = store_step(s, st, err)) == SQLITE_ROW)
                *out = strv_append(*out, (const char *)sqlite3_column_text(st, 0));
        return rc < 0 ? rc : 0;
}

static int profile_load(struct vessel_store *s, int64_t id, const char *name, struct profile *out,
                        vessel_error **err)
{
        *out = (struct profile){.id = id, .name = xstrdup(name)};
        if (db_profile_confset(s, id, &out->conf, err) < 0 ||
            used_by(s, id, &out->used_by, err) < 0) {
                profile_free(out);
                return -EIO;
        }
        return 0;
}

int profile_get(struct vessel_store *s, const char *name, struct profile *out, vessel_error **err)
{
        int64_t id;

        if (db_profile_id(s, name, &id, err) < 0)
                return -ENOENT;
        return profile_load(s, id, name, out, err);
}

int profile_list(struct vessel_store *s, struct profile **out, size_t *n, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        *out = NULL;
        *n = 0;
        if (store_prepare(s, "SELECT id, name FROM profiles ORDER BY name", &st, err) < 0)
                return -EIO;
        while ((rc = store_step(s, st, err)) == SQLITE_ROW) {
                *out = realloc(*out, (*n + 1) * sizeof(**out));
                if (!*out)
                        abort();
                if (profile_load(s, sqlite3_column_int64(st, 0),
                                 (const char *)sqlite3_column_text(st, 1), &(*out)[*n], err) < 0) {
                        profile_list_free(*out, *n);
                        return -EIO;
                }
                (*n)++;
        }
        if (rc < 0) {
                profile_list_free(*out, *n);
                return rc;
        }
        return 0;
}

void profile_free(struct profile *p)
{
        free(p->name);
        confset_free(&p->conf);
        strv_free(p->used_by);
        *p = (struct profile){0};
}

void profile_list_free(struct profile *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                profile_free(&v[i]);
        free(v);
}

/* volatile.* keys are an instance's own state, never a profile's. */
static int profile_confset_check(const struct confset *c, vessel_error **err)
{
        for (size_t i = 0; i < c->config.n; i++)
                if (str_has_prefix(c->config.v[i].key, "volatile."))
                        return vessel_error_msg(err, EINVAL,
                                                "%s: an instance's own key, not for profiles",
                                                c->config.v[i].key);
        return confset_check(c, err);
}

static int insert_profile(struct vessel_store *s, const char *name, const struct confset *c,
                          vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int64_t id;

        if (store_prepare(s, "INSERT OR IGNORE INTO profiles (name, description) VALUES (?, ?)",
                          &st, err) < 0)
                return -EIO;
        db_bind_text(st, 1, name);
        db_bind_text(st, 2, c && c->description ? c->description : "");
        if (store_step(s, st, err) < 0)
                return -EIO;
        if (sqlite3_changes(s->db) == 0)
                return vessel_error_msg(err, EEXIST, "profile \"%s\": already exists", name);
        id = sqlite3_last_insert_rowid(s->db);
        return c ? confdb_save(s, OWNER_PROFILE, id, c, err) : 0;
}

int profile_insert_tx(struct vessel_store *s, const char *name, const struct confset *c,
                      vessel_error **err)
{
        if (name_check(name, err) < 0)
                return -EINVAL;
        if (c && profile_confset_check(c, err) < 0)
                return vessel_error_prefix(err, "profile \"%s\"", name);
        return insert_profile(s, name, c, err);
}

int profile_create(struct vessel_store *s, const char *name, const struct confset *c,
                   vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};

        if (name_check(name, err) < 0)
                return -EINVAL;
        if (c && profile_confset_check(c, err) < 0)
                return vessel_error_prefix(err, "profile \"%s\"", name);
        if (store_tx_begin(s, &tx, err) < 0 || insert_profile(s, name, c, err) < 0)
                return vessel_error_rc(err);
        return store_tx_commit(&tx, err);
}

int profile_copy(struct vessel_store *s, const char *from, const char *to, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        struct confset c = {0};
        int64_t id;
        int r;

        if (name_check(to, err) < 0)
                return -EINVAL;
        if (store_tx_begin(s, &tx, err) < 0 || db_profile_id(s, from, &id, err) < 0 ||
            db_profile_confset(s, id, &c, err) < 0) {
                confset_free(&c);
                return vessel_error_rc(err);
        }
        r = insert_profile(s, to, &c, err);
        confset_free(&c);
        return r < 0 ? r : store_tx_commit(&tx, err);
}

/* Every instance that uses profile id gets its backup.yaml rewritten. */
static int rewrite_users(struct vessel_store *s, int64_t id, vessel_error **err)
{
        _cleanup_strv_ char **users = NULL;

        if (used_by(s, id, &users, err) < 0)
                return -EIO;
        for (char **u = users; *u; u++)
                if (instance_backup_write_name(s, *u, err) < 0)
                        return -EIO;
        return 0;
}

int profile_rename(struct vessel_store *s, const char *from, const char *to, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int64_t id, other;

        if (!strcmp(from, PROFILE_DEFAULT))
                return vessel_error_msg(err, EPERM, "profile \"default\": cannot be renamed");
        if (name_check(to, err) < 0)
                return -EINVAL;
        if (store_tx_begin(s, &tx, err) < 0 || db_profile_id(s, from, &id, err) < 0)
                return vessel_error_rc(err);
        if (db_profile_id(s, to, &other, err) == 0)
                return vessel_error_msg(err, EEXIST, "profile \"%s\": already exists", to);
        vessel_error_free(err);
        if (store_prepare(s, "UPDATE profiles SET name = ? WHERE id = ?", &st, err) < 0)
                return -EIO;
        db_bind_text(st, 1, to);
        sqlite3_bind_int64(st, 2, id);
        if (store_step(s, st, err) < 0 || rewrite_users(s, id, err) < 0)
                return -EIO;
        return store_tx_commit(&tx, err);
}

/* "inst/snap, ..." of the snapshots that keep profile id, NULL if none. */
static int snapshot_users(struct vessel_store *s, int64_t id, char **out, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_strv_ char **v = xmalloc0(sizeof(char *));
        int rc;

        *out = NULL;
        if (store_prepare(s,
                          "SELECT i.name || '/' || sn.name FROM snapshot_profiles sp"
                          " JOIN snapshots sn ON sn.id = sp.snapshot_id"
                          " JOIN instances i ON i.id = sn.instance_id"
                          " WHERE sp.profile_id = ? ORDER BY i.name, sn.name",
                          &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        while ((rc = store_step(s, st, err)) == SQLITE_ROW)
                v = strv_append(v, (const char *)sqlite3_column_text(st, 0));
        if (rc < 0)
                return rc;
        if (v[0])
                *out = strv_join(v, ", ");
        return 0;
}

int profile_delete(struct vessel_store *s, const char *name, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_strv_ char **users = NULL;
        _cleanup_free_ char *list = NULL;
        int64_t id;

        if (!strcmp(name, PROFILE_DEFAULT))
                return vessel_error_msg(err, EPERM, "profile \"default\": cannot be deleted");
        if (store_tx_begin(s, &tx, err) < 0 || db_profile_id(s, name, &id, err) < 0 ||
            used_by(s, id, &users, err) < 0)
                return vessel_error_rc(err);
        if (users[0]) {
                list = strv_join(users, ", ");
                return vessel_error_msg(err, EBUSY, "profile \"%s\": in use by %s", name, list);
        }
        /* A snapshot keeps the profiles it was taken with. */
        if (snapshot_users(s, id, &list, err) < 0)
                return -EIO;
        if (list)
                return vessel_error_msg(err, EBUSY,
                                        "profile \"%s\": in use by the snapshot%s %s (delete "
                                        "them first)",
                                        name, strchr(list, ',') ? "s" : "", list);
        if (store_prepare(s, "DELETE FROM profiles WHERE id = ?", &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        if (store_step(s, st, err) < 0)
                return -EIO;
        return store_tx_commit(&tx, err);
}

static int profile_edit_tx(struct vessel_store *s, int64_t id, const struct conf_edit *e,
                           vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct confset c = {0};
        int r = db_profile_confset(s, id, &c, err);

        if (r == 0)
                r = conf_edit_apply(&c, NULL, e, err);
        if (r == 0)
                r = profile_confset_check(&c, err);
        if (r == 0)
                r = confdb_save(s, OWNER_PROFILE, id, &c, err);
        if (r == 0 && (r = store_prepare(s, "UPDATE profiles SET description = ? WHERE id = ?", &st,
                                         err)) == 0) {
                db_bind_text(st, 1, c.description);
                sqlite3_bind_int64(st, 2, id);
                r = store_step(s, st, err) < 0 ? -EIO : 0;
        }
        confset_free(&c);
        return r;
}

int profile_edit(struct vessel_store *s, const char *name, const struct conf_edit *e,
                 vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        int64_t id;

        if (store_tx_begin(s, &tx, err) < 0 || db_profile_id(s, name, &id, err) < 0)
                return vessel_error_rc(err);
        if (profile_edit_tx(s, id, e, err) < 0)
                return vessel_error_prefix(err, "profile \"%s\"", name);
        if (rewrite_users(s, id, err) < 0)
                return -EIO;
        return store_tx_commit(&tx, err);
}
