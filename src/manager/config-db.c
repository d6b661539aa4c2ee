/* config-db.c: instance_config/profile_config, devices and device_config. */
#include "config-db.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

char *db_col_text(sqlite3_stmt *st, int i)
{
        const unsigned char *t = sqlite3_column_text(st, i);
        return xstrdup(t ? (const char *)t : "");
}

void db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
        sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_TRANSIENT);
}

static const char *owner_col(enum conf_owner o)
{
        return o == OWNER_INSTANCE  ? "instance_id"
               : o == OWNER_PROFILE ? "profile_id"
                                    : "snapshot_id";
}

static const char *config_table(enum conf_owner o)
{
        return o == OWNER_INSTANCE  ? "instance_config"
               : o == OWNER_PROFILE ? "profile_config"
                                    : "snapshot_config";
}

static int load_keys(struct vessel_store *s, const char *sql, int64_t id, struct kvlist *out,
                     vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        if (store_prepare(s, sql, &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        while ((rc = store_step(s, st, err)) == SQLITE_ROW)
                kvlist_set(out, (const char *)sqlite3_column_text(st, 0),
                           (const char *)sqlite3_column_text(st, 1));
        return rc < 0 ? rc : 0;
}

static int load_devices(struct vessel_store *s, enum conf_owner o, int64_t id, struct devlist *out,
                        vessel_error **err)
{
        _cleanup_free_ char *sql = xasprintf(
            "SELECT id, name, type FROM devices WHERE %s = ? ORDER BY name", owner_col(o));
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        if (store_prepare(s, sql, &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        while ((rc = store_step(s, st, err)) == SQLITE_ROW) {
                struct device d = {db_col_text(st, 1), db_col_text(st, 2), {0}};
                rc = load_keys(s, "SELECT key, value FROM device_config WHERE device_id = ?",
                               sqlite3_column_int64(st, 0), &d.cfg, err);
                if (rc == 0)
                        devlist_set(out, &d);
                device_free(&d);
                if (rc < 0)
                        return rc;
        }
        return rc < 0 ? rc : 0;
}

int confdb_load(struct vessel_store *s, enum conf_owner o, int64_t id, struct confset *out,
                vessel_error **err)
{
        _cleanup_free_ char *sql =
            xasprintf("SELECT key, value FROM %s WHERE %s = ?", config_table(o), owner_col(o));

        if (load_keys(s, sql, id, &out->config, err) < 0 ||
            load_devices(s, o, id, &out->devices, err) < 0)
                return -EIO;
        return 0;
}

static int exec_id(struct vessel_store *s, const char *sql, int64_t id, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;

        if (store_prepare(s, sql, &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        return store_step(s, st, err) < 0 ? -EIO : 0;
}

static int insert_kv(struct vessel_store *s, const char *sql, int64_t id, const struct kvlist *l,
                     vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;

        if (store_prepare(s, sql, &st, err) < 0)
                return -EIO;
        for (size_t i = 0; i < l->n; i++) {
                sqlite3_reset(st);
                sqlite3_bind_int64(st, 1, id);
                db_bind_text(st, 2, l->v[i].key);
                db_bind_text(st, 3, l->v[i].value);
                if (store_step(s, st, err) < 0)
                        return -EIO;
        }
        return 0;
}

static int save_devices(struct vessel_store *s, enum conf_owner o, int64_t id,
                        const struct devlist *l, vessel_error **err)
{
        _cleanup_free_ char *sql =
            xasprintf("INSERT INTO devices (%s, name, type) VALUES (?, ?, ?)", owner_col(o));
        _cleanup_stmt_ sqlite3_stmt *st = NULL;

        if (store_prepare(s, sql, &st, err) < 0)
                return -EIO;
        for (size_t i = 0; i < l->n; i++) {
                sqlite3_reset(st);
                sqlite3_bind_int64(st, 1, id);
                db_bind_text(st, 2, l->v[i].name);
                db_bind_text(st, 3, l->v[i].type);
                if (store_step(s, st, err) < 0 ||
                    insert_kv(s,
                              "INSERT INTO device_config (device_id, key, value) VALUES (?, ?, ?)",
                              sqlite3_last_insert_rowid(s->db), &l->v[i].cfg, err) < 0)
                        return -EIO;
        }
        return 0;
}

int confdb_save(struct vessel_store *s, enum conf_owner o, int64_t id, const struct confset *c,
                vessel_error **err)
{
        _cleanup_free_ char *del_keys =
            xasprintf("DELETE FROM %s WHERE %s = ?", config_table(o), owner_col(o));
        _cleanup_free_ char *del_dev = xasprintf("DELETE FROM devices WHERE %s = ?", owner_col(o));
        _cleanup_free_ char *ins = xasprintf("INSERT INTO %s (%s, key, value) VALUES (?, ?, ?)",
                                             config_table(o), owner_col(o));

        if (exec_id(s, del_keys, id, err) < 0 || exec_id(s, del_dev, id, err) < 0 ||
            insert_kv(s, ins, id, &c->config, err) < 0 ||
            save_devices(s, o, id, &c->devices, err) < 0)
                return -EIO;
        return 0;
}

int confdb_key_set(struct vessel_store *s, enum conf_owner o, int64_t id, const char *key,
                   const char *value, vessel_error **err)
{
        _cleanup_free_ char *sql =
            value ? xasprintf("INSERT OR REPLACE INTO %s (%s, key, value) VALUES (?, ?, ?)",
                              config_table(o), owner_col(o))
                  : xasprintf("DELETE FROM %s WHERE %s = ? AND key = ?", config_table(o),
                              owner_col(o));
        _cleanup_stmt_ sqlite3_stmt *st = NULL;

        if (store_prepare(s, sql, &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        db_bind_text(st, 2, key);
        if (value)
                db_bind_text(st, 3, value);
        return store_step(s, st, err) < 0 ? -EIO : 0;
}
