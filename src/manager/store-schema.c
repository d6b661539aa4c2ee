/* store-schema.c: the catalogue's schema, as a list of migrations.
 *
 * Migration N brings the schema from version N-1 to N.  They are applied
 * in order, all pending ones in one transaction, when a store is opened;
 * schema_version holds one row per migration applied.  A migration is
 * never edited once released: a change is a new migration appended here.
 * The layout is described in docs/store.md. */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "store.h"
#include "util.h"

/* Migration 1: the whole manager's schema (images, instances, profiles,
 * devices, snapshots), so that later work adds rows rather than tables.
 * Instances, profiles, devices and snapshots have integer ids so that a
 * rename touches one row; images are keyed by their fingerprint. */
static const char migration_1[] =
    "CREATE TABLE images ("
    "  fingerprint TEXT PRIMARY KEY CHECK (length(fingerprint) = 64),"
    "  type TEXT NOT NULL DEFAULT 'container' CHECK (type IN ('container')),"
    "  format TEXT NOT NULL CHECK (format IN ('unified', 'split')),"
    "  filename TEXT NOT NULL DEFAULT '',"
    "  architecture TEXT NOT NULL,"
    "  size INTEGER NOT NULL CHECK (size >= 0),"
    "  created_at INTEGER NOT NULL DEFAULT 0,"
    "  expires_at INTEGER NOT NULL DEFAULT 0,"
    "  uploaded_at INTEGER NOT NULL,"
    "  last_used_at INTEGER NOT NULL DEFAULT 0,"
    "  public INTEGER NOT NULL DEFAULT 0 CHECK (public IN (0, 1)),"
    "  auto_update INTEGER NOT NULL DEFAULT 0 CHECK (auto_update IN (0, 1)),"
    "  cached INTEGER NOT NULL DEFAULT 0 CHECK (cached IN (0, 1)),"
    "  update_source TEXT NOT NULL DEFAULT ''"
    ");"
    "CREATE TABLE image_properties ("
    "  fingerprint TEXT NOT NULL REFERENCES images (fingerprint) ON DELETE CASCADE,"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (fingerprint, key)"
    ");"
    "CREATE TABLE image_aliases ("
    "  name TEXT PRIMARY KEY,"
    "  fingerprint TEXT NOT NULL REFERENCES images (fingerprint) ON DELETE CASCADE,"
    "  description TEXT NOT NULL DEFAULT ''"
    ");"
    "CREATE INDEX image_aliases_fingerprint ON image_aliases (fingerprint);"
    /* image_fingerprint is not a foreign key: as in Incus, an image may
     * be deleted while instances made from it live on. state is the
     * last recorded power state; 'creating' marks a row whose instance
     * directory is still being made (a killed launch leaves it, the
     * next command removes it); last_state is what autostart restores. */
    "CREATE TABLE instances ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  type TEXT NOT NULL DEFAULT 'container' CHECK (type IN ('container')),"
    "  architecture TEXT NOT NULL,"
    "  image_fingerprint TEXT NOT NULL DEFAULT '',"
    "  description TEXT NOT NULL DEFAULT '',"
    "  ephemeral INTEGER NOT NULL DEFAULT 0 CHECK (ephemeral IN (0, 1)),"
    "  state TEXT NOT NULL DEFAULT 'creating'"
    "    CHECK (state IN ('creating', 'stopped', 'running', 'frozen', 'deleting')),"
    "  last_state TEXT NOT NULL DEFAULT 'stopped',"
    "  last_exit_status INTEGER,"
    "  storage_driver TEXT NOT NULL DEFAULT 'dir',"
    "  created_at INTEGER NOT NULL,"
    "  last_used_at INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE TABLE instance_config ("
    "  instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (instance_id, key)"
    ");"
    "CREATE TABLE profiles ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  description TEXT NOT NULL DEFAULT ''"
    ");"
    "CREATE TABLE profile_config ("
    "  profile_id INTEGER NOT NULL REFERENCES profiles (id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (profile_id, key)"
    ");"
    /* Profiles applied to an instance, in order (later ones override
     * earlier ones); a profile in use cannot be deleted (RESTRICT). */
    "CREATE TABLE instance_profiles ("
    "  instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,"
    "  profile_id INTEGER NOT NULL REFERENCES profiles (id) ON DELETE RESTRICT,"
    "  apply_order INTEGER NOT NULL,"
    "  PRIMARY KEY (instance_id, profile_id),"
    "  UNIQUE (instance_id, apply_order)"
    ");"
    "CREATE TABLE snapshots ("
    "  id INTEGER PRIMARY KEY,"
    "  instance_id INTEGER NOT NULL REFERENCES instances (id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  stateful INTEGER NOT NULL DEFAULT 0 CHECK (stateful IN (0, 1)),"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL DEFAULT 0,"
    "  UNIQUE (instance_id, name)"
    ");"
    /* A snapshot's own copy of the instance configuration. */
    "CREATE TABLE snapshot_config ("
    "  snapshot_id INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (snapshot_id, key)"
    ");"
    /* A device belongs to exactly one instance, profile or snapshot. */
    "CREATE TABLE devices ("
    "  id INTEGER PRIMARY KEY,"
    "  instance_id INTEGER REFERENCES instances (id) ON DELETE CASCADE,"
    "  profile_id INTEGER REFERENCES profiles (id) ON DELETE CASCADE,"
    "  snapshot_id INTEGER REFERENCES snapshots (id) ON DELETE CASCADE,"
    "  name TEXT NOT NULL,"
    "  type TEXT NOT NULL,"
    "  CHECK ((instance_id IS NOT NULL) + (profile_id IS NOT NULL)"
    "         + (snapshot_id IS NOT NULL) = 1),"
    "  UNIQUE (instance_id, name),"
    "  UNIQUE (profile_id, name),"
    "  UNIQUE (snapshot_id, name)"
    ");"
    "CREATE TABLE device_config ("
    "  device_id INTEGER NOT NULL REFERENCES devices (id) ON DELETE CASCADE,"
    "  key TEXT NOT NULL,"
    "  value TEXT NOT NULL,"
    "  PRIMARY KEY (device_id, key)"
    ");"
    "INSERT INTO profiles (name, description) VALUES ('default', 'Default profile');";

/* The host id range of each unprivileged instance (idrange.h): base and
 * size in both /etc/subuid and /etc/subgid; isolated 0 for the one shared
 * range.  Freed with the instance's row. */
static const char migration_2[] =
    "CREATE TABLE idmaps ("
    "  instance_id INTEGER PRIMARY KEY REFERENCES instances (id) ON DELETE CASCADE,"
    "  base INTEGER NOT NULL CHECK (base > 0),"
    "  size INTEGER NOT NULL CHECK (size > 0),"
    "  isolated INTEGER NOT NULL DEFAULT 1 CHECK (isolated IN (0, 1))"
    ");"
    "CREATE INDEX idmaps_base ON idmaps (base);";

/* Storage pools (storage.h): an instance's volume is named by a random
 * hex string, in the pool its row names; a row without a pool (made
 * before pools) has its rootfs in its instance directory. */
static const char migration_3[] =
    "CREATE TABLE storage_pools ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  driver TEXT NOT NULL,"
    "  source TEXT NOT NULL DEFAULT '',"
    "  size INTEGER NOT NULL DEFAULT 0,"
    "  description TEXT NOT NULL DEFAULT '',"
    "  created_at INTEGER NOT NULL"
    ");"
    "ALTER TABLE instances ADD COLUMN pool_id INTEGER REFERENCES storage_pools (id);"
    "ALTER TABLE instances ADD COLUMN volume TEXT;"
    "ALTER TABLE snapshots ADD COLUMN volume TEXT;"
    "CREATE UNIQUE INDEX instances_volume ON instances (pool_id, volume);";

/* Snapshots (snapshot.h): the profiles of a snapshot in order, as the
 * instance had them (a profile a snapshot uses cannot be deleted), and
 * the rootfs.shift record of its files (idshift.h; NULL: none), so that a
 * restore puts the record back in step with the files. */
static const char migration_4[] =
    "CREATE TABLE snapshot_profiles ("
    "  snapshot_id INTEGER NOT NULL REFERENCES snapshots (id) ON DELETE CASCADE,"
    "  profile_id INTEGER NOT NULL REFERENCES profiles (id) ON DELETE RESTRICT,"
    "  apply_order INTEGER NOT NULL,"
    "  PRIMARY KEY (snapshot_id, profile_id),"
    "  UNIQUE (snapshot_id, apply_order)"
    ");"
    "CREATE INDEX snapshot_profiles_profile ON snapshot_profiles (profile_id);"
    "ALTER TABLE snapshots ADD COLUMN shift TEXT;"
    "CREATE INDEX snapshots_volume ON snapshots (volume);";

static const char *const migrations[] = {
    migration_1,
    migration_2,
    migration_3,
    migration_4,
};

int store_schema_latest(void)
{
        return (int)ARRAY_SIZE(migrations);
}

static int db_fail(sqlite3 *db, vessel_error **err, const char *what)
{
        return vessel_error_msg(err, EIO, "catalogue: %s: %s", what, sqlite3_errmsg(db));
}

static int db_exec(sqlite3 *db, const char *sql, vessel_error **err, const char *what)
{
        if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
                return db_fail(db, err, what);
        return 0;
}

static int current_version(sqlite3 *db, int *version, vessel_error **err)
{
        sqlite3_stmt *st = NULL;
        int rc;

        if (sqlite3_prepare_v2(db, "SELECT coalesce(max(version), 0) FROM schema_version", -1, &st,
                               NULL) != SQLITE_OK)
                return db_fail(db, err, "reading the schema version");
        rc = sqlite3_step(st);
        *version = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW)
                return db_fail(db, err, "reading the schema version");
        return 0;
}

static int apply_migrations(sqlite3 *db, int from, vessel_error **err)
{
        for (int v = from + 1; v <= store_schema_latest(); v++) {
                char what[64], sql[128];

                snprintf(what, sizeof(what), "migration %d", v);
                if (db_exec(db, migrations[v - 1], err, what) < 0)
                        return -EIO;
                snprintf(sql, sizeof(sql),
                         "INSERT INTO schema_version (version, applied_at) VALUES (%d, %lld)", v,
                         (long long)time(NULL));
                if (db_exec(db, sql, err, what) < 0)
                        return -EIO;
        }
        return 0;
}

int store_migrate(sqlite3 *db, vessel_error **err)
{
        int version, r;

        /* The version table itself is created outside the list, so that the
         * first migration can be told from "no schema at all". */
        if (db_exec(db,
                    "CREATE TABLE IF NOT EXISTS schema_version ("
                    "  version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)",
                    err, "creating schema_version") < 0)
                return -EIO;
        if (db_exec(db, "BEGIN IMMEDIATE", err, "locking for migration") < 0)
                return -EIO;
        r = current_version(db, &version, err);
        if (r == 0 && version > store_schema_latest())
                r = vessel_error_msg(err, EPROTO,
                                     "catalogue: schema version %d is newer than this vesselctl "
                                     "knows (%d)",
                                     version, store_schema_latest());
        if (r == 0)
                r = apply_migrations(db, version, err);
        if (r == 0 && db_exec(db, "COMMIT", err, "committing the migration") < 0)
                r = -EIO;
        if (r < 0)
                sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        return r;
}
