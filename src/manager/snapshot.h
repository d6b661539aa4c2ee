/* snapshot.h: snapshots of instances, as Incus has them.
 *
 * A snapshot is a row in `snapshots` holding what the instance was: its
 * own keys (snapshot_config), devices (devices.snapshot_id), description
 * and profiles in order (snapshot_profiles), the rootfs.shift record of
 * its files (idshift.h), and a volume snapshots/<vol> in the instance's
 * pool, a clone of its root file system (storage.h: a btrfs snapshot, an
 * overlay's upper layer copied, a reflinked copy).  A restore clones the
 * snapshot's volume into a new containers/<vol> and switches the
 * instance to it, with the configuration, in one transaction.
 *
 * Crash safety (docs/store.md, "Snapshots"): a new volume is made while
 * the maker holds an flock on instances/.copy-<vol> (which tells
 * storage_recover that it is at work), and its row is committed under
 * the catalogue's write lock; a kill at any moment leaves the old state
 * or the new one, and snapshot_recover and storage_recover remove the
 * rest at the next store open. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "store.h"

/* The work directory of a command making a volume: instances/.copy-<vol>. */
#define SNAPSHOT_WORK_PREFIX ".copy-"
/* The instance key: how long after its creation a snapshot expires. */
#define SNAPSHOT_KEY_EXPIRY "snapshots.expiry"

struct snapshot {
        int64_t id;
        char *name;
        char *instance;
        bool stateful;
        int64_t created_at, expires_at; /* unix times; expires_at 0: never */
        char *volume;                   /* its volume in the instance's pool, or NULL */
        char **profiles;                /* in order; never NULL */
        struct confset conf;            /* the instance's own keys, devices, description */
        char *shift;                    /* the rootfs.shift record of its files, or NULL */
};

void snapshot_free(struct snapshot *sn);
void snapshot_list_free(struct snapshot *v, size_t n);

/* 1 to 63 letters, digits, '-', '_' and '.', not starting with '-' or
 * '.' (no '/': NAME/SNAP names it). */
bool snapshot_name_valid(const char *name);

/* An Incus expiry expression: fields "<integer><unit>" separated by
 * spaces, each unit at most once: S seconds, M minutes, H hours, d days,
 * w weeks, m months, y years ("1d 3H", "2w", "1M").  *out is from plus
 * that span (calendar months and years, in UTC); "" gives 0 (never). */
int snapshot_expiry_parse(const char *expr, int64_t from, int64_t *out, vessel_error **err);

/* name NULL: the first free of snap0, snap1, ...; an existing name is an
 * error unless reuse (it is replaced).  *made (when not NULL) gets the
 * name (allocated).  Expired snapshots of the instance go first. */
int snapshot_create(struct vessel_store *s, const char *instance, const char *name, bool reuse,
                    char **made, vessel_error **err);
/* By creation time.  prune: remove the expired ones first (list); an
 * instance's info only reads. */
int snapshot_list(struct vessel_store *s, const char *instance, bool prune, struct snapshot **out,
                  size_t *n, vessel_error **err);
int snapshot_get(struct vessel_store *s, const char *instance, const char *name,
                 struct snapshot *out, vessel_error **err);
int snapshot_delete(struct vessel_store *s, const char *instance, const char *name,
                    vessel_error **err);
int snapshot_rename(struct vessel_store *s, const char *instance, const char *name, const char *to,
                    vessel_error **err);
/* The files and the configuration back.  A running instance is refused
 * unless force: it is then killed, restored and started again. */
int snapshot_restore(struct vessel_store *s, const char *instance, const char *name, bool force,
                     vessel_error **err);
/* Bytes its volume holds of its own. */
int snapshot_usage(struct vessel_store *s, const struct snapshot *sn, uint64_t *bytes,
                   vessel_error **err);

/* In the caller's transaction (an import, instance-import.c): the row
 * of a snapshot of instance inst_id as create makes one, from sn's name,
 * configuration, profiles (in this store: by name, in order),
 * created_at, expires_at, volume (snapshots/<volume> of the instance's
 * pool, made under a locked instances/.copy-<volume>) and shift. */
int snapshot_insert_tx(struct vessel_store *s, int64_t inst_id, const struct snapshot *sn,
                       vessel_error **err);

/* instances/.copy-* of dead commands: a restore killed before its commit
 * gets its instance's rootfs link, shift record and backup.yaml back;
 * then the directory goes (its volume is storage_recover's).  Called by
 * store_open before instance_recover. */
int snapshot_recover(struct vessel_store *s, vessel_error **err);
