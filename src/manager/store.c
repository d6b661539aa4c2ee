/* store.c: opening the store, the catalogue's connection settings and
 * the transaction helpers.  The schema is in store-schema.c. */
#include "store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <pwd.h>
#include <unistd.h>
#include <sys/stat.h>

#include "image.h"
#include "instance.h"
#include "snapshot.h"
#include "storage.h"
#include "util.h"

/* How long a command waits for another's write lock before giving up:
 * long enough for any import's catalogue step, which never holds the lock
 * while unpacking. */
#define STORE_BUSY_TIMEOUT_MS 60000

char *store_root_choose_for(const char *dir, const char *env_store, unsigned euid,
                            const char *xdg_data_home, const char *home)
{
        if (dir && *dir)
                return xstrdup(dir);
        if (env_store && *env_store)
                return xstrdup(env_store);
        if (euid == 0)
                return xstrdup(STORE_DEFAULT_ROOT);
        /* The XDG base directory spec: a relative $XDG_DATA_HOME is
         * invalid and ignored. */
        if (xdg_data_home && xdg_data_home[0] == '/')
                return xasprintf("%s/vessel", xdg_data_home);
        if (home && home[0] == '/')
                return xasprintf("%s/.local/share/vessel", home);
        return NULL;
}

char *store_root_choose(const char *dir)
{
        char *r = store_root_choose_for(dir, getenv("VESSEL_STORE"), (unsigned)geteuid(),
                                        getenv("XDG_DATA_HOME"), getenv("HOME"));
        struct passwd *pw;

        /* No usable $HOME: the home directory of the passwd entry. */
        if (!r && (pw = getpwuid(geteuid())) && pw->pw_dir)
                r = store_root_choose_for(NULL, NULL, (unsigned)geteuid(), NULL, pw->pw_dir);
        return r;
}

int store_error(struct vessel_store *s, vessel_error **err, const char *what)
{
        int code = sqlite3_errcode(s->db);

        if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
                return vessel_error_msg(err, EBUSY,
                                        "catalogue: %s: %s (another vesselctl holds "
                                        "the store's lock)",
                                        what, sqlite3_errmsg(s->db));
        return vessel_error_msg(err, EIO, "catalogue: %s: %s", what, sqlite3_errmsg(s->db));
}

int store_exec(struct vessel_store *s, const char *sql, vessel_error **err)
{
        if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK)
                return store_error(s, err, sql);
        return 0;
}

int store_prepare(struct vessel_store *s, const char *sql, sqlite3_stmt **stmt, vessel_error **err)
{
        if (sqlite3_prepare_v2(s->db, sql, -1, stmt, NULL) != SQLITE_OK)
                return store_error(s, err, "preparing a statement");
        return 0;
}

int store_step(struct vessel_store *s, sqlite3_stmt *stmt, vessel_error **err)
{
        int rc = sqlite3_step(stmt);

        if (rc == SQLITE_ROW || rc == SQLITE_DONE)
                return rc;
        return store_error(s, err, sqlite3_sql(stmt));
}

int store_tx_begin(struct vessel_store *s, struct store_tx *tx, vessel_error **err)
{
        tx->store = s;
        tx->open = false;
        if (store_exec(s, "BEGIN IMMEDIATE", err) < 0)
                return vessel_error_rc(err);
        tx->open = true;
        return 0;
}

int store_tx_commit(struct store_tx *tx, vessel_error **err)
{
        if (!tx->open)
                return vessel_error_msg(err, EINVAL, "catalogue: no transaction to commit");
        if (store_exec(tx->store, "COMMIT", err) < 0) {
                store_tx_end(tx);
                return vessel_error_rc(err);
        }
        tx->open = false;
        return 0;
}

void store_tx_end(struct store_tx *tx)
{
        if (tx->store && tx->open)
                sqlite3_exec(tx->store->db, "ROLLBACK", NULL, NULL, NULL);
        tx->open = false;
}

int store_schema_version(struct vessel_store *s, int *version, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;

        if (store_prepare(s, "SELECT coalesce(max(version), 0) FROM schema_version", &st, err) < 0)
                return -EIO;
        if (store_step(s, st, err) != SQLITE_ROW)
                return -EIO;
        *version = sqlite3_column_int(st, 0);
        return 0;
}

static int open_subdir(int parent, const char *root, const char *name, mode_t mode,
                       vessel_error **err)
{
        int fd;

        if (mkdirat(parent, name, mode) < 0 && errno != EEXIST)
                return vessel_error_sys(err, "store %s: creating %s/", root, name);
        fd = openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return vessel_error_sys(err, "store %s: opening %s/", root, name);
        return fd;
}

/* WAL lets readers run beside the one writer; the busy timeout makes a
 * second writer wait; foreign keys are off by default in SQLite. */
static int db_configure(struct vessel_store *s, vessel_error **err)
{
        static const char *const pragmas[] = {
            "PRAGMA journal_mode = WAL",
            "PRAGMA synchronous = NORMAL",
            "PRAGMA foreign_keys = ON",
        };

        sqlite3_busy_timeout(s->db, STORE_BUSY_TIMEOUT_MS);
        sqlite3_extended_result_codes(s->db, 0);
        for (size_t i = 0; i < ARRAY_SIZE(pragmas); i++)
                if (store_exec(s, pragmas[i], err) < 0)
                        return -EIO;
        return 0;
}

static int db_open(struct vessel_store *s, vessel_error **err)
{
        _cleanup_free_ char *path = xasprintf("%s/catalogue.db", s->root);
        int rc = sqlite3_open_v2(
            path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);

        if (rc != SQLITE_OK)
                return vessel_error_msg(err, EIO, "catalogue %s: %s", path,
                                        s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
        if (db_configure(s, err) < 0 || store_migrate(s->db, err) < 0)
                return vessel_error_prefix(err, "store %s", s->root);
        return 0;
}

static int store_dirs_open(struct vessel_store *s, vessel_error **err)
{
        if (mkdir_p(s->root, 0711, err) < 0)
                return vessel_error_prefix(err, "store");
        s->root_fd = open(s->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (s->root_fd < 0)
                return vessel_error_sys(err, "store %s", s->root);
        s->images_fd = open_subdir(s->root_fd, s->root, "images", 0700, err);
        if (s->images_fd < 0)
                return s->images_fd;
        s->instances_fd = open_subdir(s->root_fd, s->root, "instances", 0711, err);
        if (s->instances_fd < 0)
                return s->instances_fd;
        return 0;
}

int store_open(const char *root, struct vessel_store **out, vessel_error **err)
{
        _cleanup_store_ struct vessel_store *s = xmalloc0(sizeof(*s));

        if (!root)
                return vessel_error_msg(err, ENOENT,
                                        "store: no --store, $VESSEL_STORE, $XDG_DATA_HOME or "
                                        "home directory to put a rootless store in");

        s->root_fd = s->images_fd = s->instances_fd = -1;
        s->rootless = geteuid() != 0;
        s->root = root[0] == '/' ? xstrdup(root) : realpath(root, NULL);
        if (!s->root) {
                if (mkdir_p(root, 0711, err) < 0)
                        return vessel_error_prefix(err, "store");
                s->root = realpath(root, NULL);
                if (!s->root)
                        return vessel_error_sys(err, "store %s", root);
        }
        if (store_dirs_open(s, err) < 0 || db_open(s, err) < 0)
                return vessel_error_rc(err);
        if (image_recover(s, err) < 0 || snapshot_recover(s, err) < 0 ||
            instance_recover(s, err) < 0 || storage_recover(s, err) < 0 ||
            instance_ephemeral_recover(s, err) < 0)
                return vessel_error_prefix(err, "store %s: recovering", s->root);
        *out = steal_ptr(&s);
        return 0;
}

void store_close(struct vessel_store *s)
{
        if (!s)
                return;
        if (s->db)
                sqlite3_close_v2(s->db);
        closep(&s->images_fd);
        closep(&s->instances_fd);
        closep(&s->root_fd);
        free(s->root);
        free(s);
}
