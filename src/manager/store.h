/* store.h: the manager's store: a directory (default /var/lib/vessel)
 * holding the SQLite catalogue and one directory per image and instance
 * (docs/store.md).
 *
 * Every vesselctl command opens the store, works and exits; many may run
 * at once.  The catalogue is in WAL mode with a busy timeout, so that a
 * writer waits for another rather than failing, and every multi-step
 * change is one transaction (store_tx_begin .. store_tx_commit; a
 * transaction still open when its store_tx goes out of scope is rolled
 * back, so an early error return undoes everything). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sqlite3.h>

#include "error.h"

#define STORE_DEFAULT_ROOT "/var/lib/vessel"

struct vessel_store {
        char *root;       /* absolute path of the store directory */
        bool rootless;    /* opened by a non-root euid (docs/manager.md, "Rootless") */
        int root_fd;      /* O_DIRECTORY fd of it */
        int images_fd;    /* root/images */
        int instances_fd; /* root/instances */
        sqlite3 *db;
};

struct store_tx {
        struct vessel_store *store;
        bool open;
};

/* The store root (allocated): dir if given, else $VESSEL_STORE, else
 * the default: STORE_DEFAULT_ROOT for root, $XDG_DATA_HOME/vessel (else
 * ~/.local/share/vessel) for any other effective uid. */
char *store_root_choose(const char *dir);
/* The same from its inputs alone (for the unit tests): euid, the
 * environment's XDG_DATA_HOME and HOME (NULL: unset); NULL when a
 * non-root caller has neither (or only relative ones). */
char *store_root_choose_for(const char *dir, const char *env_store, unsigned euid,
                            const char *xdg_data_home, const char *home);
/* Whether the store was opened by a non-root euid: its instances' ids
 * come from the user's own subordinate ids (idrange.h) and work over
 * their files goes through userns-helper.h. */
static inline bool store_is_rootless(const struct vessel_store *s)
{
        return s->rootless;
}
/* Open (creating it if missing) the store at root, apply pending schema
 * migrations and clean what killed commands left behind. */
int store_open(const char *root, struct vessel_store **out, vessel_error **err);
void store_close(struct vessel_store *s);
static inline void store_closep(struct vessel_store **s)
{
        if (*s)
                store_close(*s);
}
#define _cleanup_store_ __attribute__((cleanup(store_closep)))

/* The schema version the catalogue is at, and the one this build knows. */
int store_schema_version(struct vessel_store *s, int *version, vessel_error **err);
int store_schema_latest(void);

/* BEGIN IMMEDIATE: take the write lock now (waiting up to the busy
 * timeout), so that reads inside see what the write will change. */
int store_tx_begin(struct vessel_store *s, struct store_tx *tx, vessel_error **err);
int store_tx_commit(struct store_tx *tx, vessel_error **err);
/* Roll back if still open; harmless after a commit. */
void store_tx_end(struct store_tx *tx);
#define _cleanup_tx_ __attribute__((cleanup(store_tx_end)))

/* Statement helpers: errors name the catalogue and SQLite's message. */
int store_exec(struct vessel_store *s, const char *sql, vessel_error **err);
int store_prepare(struct vessel_store *s, const char *sql, sqlite3_stmt **stmt, vessel_error **err);
/* sqlite3_step() that turns anything but SQLITE_ROW/SQLITE_DONE into an
 * error; returns SQLITE_ROW, SQLITE_DONE or a negative errno. */
int store_step(struct vessel_store *s, sqlite3_stmt *stmt, vessel_error **err);
int store_error(struct vessel_store *s, vessel_error **err, const char *what);
static inline void stmt_finalizep(sqlite3_stmt **st)
{
        sqlite3_finalize(*st);
}
#define _cleanup_stmt_ __attribute__((cleanup(stmt_finalizep)))

/* Work directories (store-dirs.c), shared by images/ and instances/: a
 * staging directory PREFIX-random held under an flock while its owner
 * works; a deleted directory renamed to .delete-<name>-XXXXXXXX inside
 * the delete's transaction; what killed commands left is cleaned by
 * store_recover_dir at every open. */
#define STORE_DELETE_PREFIX ".delete-"

struct store_dir_kind {
        const char *what;             /* "images", "instances": for errors */
        const char *tmp_prefix;       /* staging directories */
        const char *tmp_prefix_other; /* a second kind of them, or NULL */
        /* Entries that should have a row (fingerprints, instance names). */
        bool (*name_valid)(const char *name);
        int (*row_exists)(struct vessel_store *s, const char *name, bool *exists,
                          vessel_error **err);
        /* An entry without a row: 1 if handled (else it is removed). */
        int (*orphan)(struct vessel_store *s, const char *name, vessel_error **err);
};

/* An fd of dirfd/name, flock'ed if nobody else holds it; -1 when busy. */
int store_dir_lock_free(int dirfd, const char *name);
/* mkdir dirfd/PREFIXrandom and flock it; *fd holds the lock. */
int store_workdir_create(int dirfd, const char *prefix, char *name, size_t size, int *fd,
                         vessel_error **err);
/* flock dirfd/name and rename it to the hidden delete name (called in
 * the delete's transaction); 0 when there is no directory, 1 when it was
 * renamed (*fd holds the lock). */
int store_delete_begin(int dirfd, const char *name, char *hidden, size_t size, int *fd,
                       vessel_error **err);
int store_recover_dir(struct vessel_store *s, int dirfd, const struct store_dir_kind *k,
                      vessel_error **err);

/* rm -rf dirfd/name; in a rootless store through the user namespace
 * helper, since its trees hold files of the user's subordinate ids. */
int store_rm_rf_at(struct vessel_store *s, int dirfd, const char *name, vessel_error **err);

/* Run one migration list on db (store-schema.c); exposed for the tests. */
int store_migrate(sqlite3 *db, vessel_error **err);
