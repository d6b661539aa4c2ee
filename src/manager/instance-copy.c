/* instance-copy.c: copies and moves of instances (instance.h; docs/store.md,
 * "Copies and moves").
 *
 * A copy is made as init makes an instance: in a hidden directory
 * instances/.copy-<vol>, flock'ed by the copy, holding no catalogue lock,
 * with its volume containers/<vol> (so that storage_recover knows that it
 * is at work) a clone of the source's in its own pool (a btrfs snapshot,
 * an overlay upper layer copied over the shared lower layers, a dir cp
 * --reflink=auto), or a full transfer (cp -a) into another pool.  Then
 * one transaction inserts the rows, writes backup.yaml and renames the
 * directory into place.  A running source is copied as it is on disk, as
 * Incus does.  Snapshots are never copied (there are none yet).
 *
 * A move to another pool copies the volume likewise (the work directory
 * holding, in its file "move", the instance's id), then one transaction
 * switches the row to the new volume and exchanges the work directory's
 * new rootfs link with the instance's; the old volume goes after the
 * commit.  A move killed between the exchange and the commit leaves a
 * link to a volume that no row names: instance_copy_recover exchanges it
 * back, under the write lock under which moves commit. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "config-db.h"
#include "profile.h"
#include "idrange.h"
#include "idshift.h"
#include "instance-internal.h"
#include "instance.h"
#include "rundir.h"
#include "storage.h"
#include "snapshot.h"
#include "util.h"

#define COPY_PREFIX ".copy-"
#define MOVE_MARKER "move"
/* idshift.h's record, beside the instance's rootfs link. */
#define SHIFT_RECORD "rootfs.shift"

typedef void (*progress_fn)(const char *line, void *data);

/* ---- what copies and moves share ---- */

/* The source's pool (from; its id 0 when the source was made before
 * pools) and the destination's: pool, else the source's, else (an
 * instance without a pool) the default pool; both attached. */
static int pools_for(struct vessel_store *s, const struct instance *i, const char *pool,
                     struct storage_pool *from, struct storage_pool *to, vessel_error **err)
{
        int r = 0;

        *from = (struct storage_pool){0};
        *to = (struct storage_pool){0};
        if (i->pool_id && (r = storage_pool_get_id(s, i->pool_id, from, err)) == 0)
                r = storage_pool_activate(s, from, err);
        if (r == 0) {
                if (pool)
                        r = storage_pool_get(s, pool, to, err);
                else if (i->pool_id)
                        r = storage_pool_get_id(s, i->pool_id, to, err);
                else
                        r = storage_pool_for_new(s, NULL, to, err);
                if (r == 0)
                        r = storage_pool_activate(s, to, err);
        }
        if (r < 0) {
                storage_pool_free(from);
                storage_pool_free(to);
        }
        return r;
}

/* Where the source's files are: its volume's root file system (an
 * overlay mounted as its record says), or its own rootfs directory. */
static int source_tree(struct vessel_store *s, const struct instance *i, struct storage_pool *from,
                       char **out, vessel_error **err)
{
        if (instance_storage_ready(s, i->name, err) < 0)
                return -EIO;
        if (!from->id || !i->volume) {
                *out = xasprintf("%s/instances/%s/rootfs", s->root, i->name);
                return 0;
        }
        _cleanup_free_ char *rel = storage_volume_path("containers", i->volume);
        *out = storage_volume_rootfs(from, rel);
        return 0;
}

/* A full transfer of the source's files into volume rel of pool to. */
static int transfer(struct vessel_store *s, const struct instance *i, struct storage_pool *from,
                    struct storage_pool *to, const char *rel, progress_fn progress, void *data,
                    vessel_error **err)
{
        _cleanup_free_ char *tree = NULL, *where = NULL, *line = NULL;

        if (source_tree(s, i, from, &tree, err) < 0)
                return -EIO;
        where = from->id ? xasprintf("storage pool %s (%s)", from->name, from->driver)
                         : xstrdup("its directory");
        line = xasprintf("Copying the root file system of %s from %s to storage pool %s (%s)",
                         i->name, where, to->name, to->driver);
        if (progress)
                progress(line, data);
        return storage_volume_from_tree(s, to, tree, rel, err);
}

/* Mount an overlay volume with the map that the record of the
 * instance's files (in dir_fd) says, as a start would. */
static int volume_mount_as_recorded(struct vessel_store *s, struct storage_pool *p, const char *rel,
                                    int dir_fd, vessel_error **err)
{
        uint64_t base = 0, size = 0;

        if (p->ops->shift_rel)
                idshift_range(dir_fd, &base, &size);
        return storage_volume_mount(s, p, rel, base, size, err);
}

/* ---- copy ---- */

static int copy_check(struct vessel_store *s, const struct instance_copy_opts *o,
                      struct instance *src, struct snapshot *sn, vessel_error **err)
{
        bool exists;

        if (instance_name_check(o->source, err) < 0 || instance_name_check(o->name, err) < 0)
                return -EINVAL;
        if (o->config && config_check_all(o->config, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\"", o->name);
        if (instance_get(s, o->source, src, err) < 0)
                return -ENOENT;
        if (o->snapshot) {
                if (snapshot_get(s, o->source, o->snapshot, sn, err) < 0) {
                        instance_free(src);
                        return -ENOENT;
                }
                if (!sn->volume) {
                        instance_free(src);
                        snapshot_free(sn);
                        return vessel_error_msg(err, ENOENT, "snapshot \"%s/%s\": has no volume",
                                                o->source, o->snapshot);
                }
        }
        if (instance_db_exists(s, o->name, &exists, err) < 0 || exists) {
                snapshot_free(sn);
                instance_free(src);
                return exists ? instance_exists_error(o->name, err) : -EIO;
        }
        for (char *const *p = o->no_profiles ? NULL : o->profiles; p && *p; p++) {
                int64_t pid;
                if (db_profile_id(s, *p, &pid, err) < 0) {
                        instance_free(src);
                        snapshot_free(sn);
                        return vessel_error_prefix(err, "instance \"%s\"", o->name);
                }
        }
        return 0;
}

/* The source's own configuration, without what identifies it (its
 * volatile.* keys, as Incus drops them), with the copy trigger and the
 * -c keys (an empty value removes a key, as config set does). */
static int copy_confset(const struct instance *src, const struct instance_copy_opts *o,
                        struct confset *out, vessel_error **err)
{
        confset_copy(out, &src->conf);
        for (size_t k = out->config.n; k-- > 0;)
                if (str_has_prefix(out->config.v[k].key, "volatile.")) {
                        _cleanup_free_ char *key = xstrdup(out->config.v[k].key);
                        kvlist_unset(&out->config, key);
                }
        kvlist_set(&out->config, INSTANCE_KEY_APPLY_TEMPLATE, "copy");
        for (size_t k = 0; o->config && k < o->config->n; k++) {
                const struct kv *kv = &o->config->v[k];
                if (kv->value[0])
                        kvlist_set(&out->config, kv->key, kv->value);
                else
                        kvlist_unset(&out->config, kv->key);
        }
        return confset_check(out, err);
}

static int copy_insert(struct vessel_store *s, const struct instance_copy_opts *o,
                       const struct instance *src, const struct storage_pool *pool, const char *vol,
                       int64_t *id, vessel_error **err)
{
        static char *const no_profiles[] = {NULL};
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct confset c = {0};
        int r = copy_confset(src, o, &c, err);

        if (r == 0 && (r = store_prepare(s,
                                         "INSERT OR IGNORE INTO instances (name, type,"
                                         " architecture, image_fingerprint, description,"
                                         " ephemeral, state, created_at, storage_driver, pool_id,"
                                         " volume) VALUES (?, ?, ?, ?, ?, ?, 'creating', ?, ?, ?,"
                                         " ?)",
                                         &st, err)) == 0) {
                db_bind_text(st, 1, o->name);
                db_bind_text(st, 2, src->type);
                db_bind_text(st, 3, src->architecture);
                db_bind_text(st, 4, src->image);
                db_bind_text(st, 5, src->conf.description);
                sqlite3_bind_int(st, 6, o->ephemeral);
                sqlite3_bind_int64(st, 7, (int64_t)time(NULL));
                db_bind_text(st, 8, pool->driver);
                sqlite3_bind_int64(st, 9, pool->id);
                db_bind_text(st, 10, vol);
                r = store_step(s, st, err) < 0 ? -EIO : 0;
        }
        if (r == 0 && sqlite3_changes(s->db) == 0)
                r = instance_exists_error(o->name, err);
        if (r == 0) {
                *id = sqlite3_last_insert_rowid(s->db);
                r = confdb_save(s, OWNER_INSTANCE, *id, &c, err);
        }
        if (r == 0)
                r = instance_db_set_profiles(s, *id,
                                             o->no_profiles ? no_profiles
                                             : o->profiles  ? o->profiles
                                                            : src->profiles,
                                             err);
        confset_free(&c);
        return r;
}

/* The transaction of a copy: the rows (from the source's configuration
 * as it is now), backup.yaml, the rename into place. */
static int copy_commit(struct vessel_store *s, const struct instance_copy_opts *o,
                       const struct storage_pool *pool, const char *staging, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        struct instance src;
        int64_t id = 0;
        int r;

        if (store_tx_begin(s, &tx, err) < 0 || instance_get(s, o->source, &src, err) < 0)
                return vessel_error_rc(err);
        if (o->snapshot) {
                /* The snapshot's configuration, read in the transaction. */
                struct snapshot sn;
                if (snapshot_get(s, o->source, o->snapshot, &sn, err) < 0) {
                        instance_free(&src);
                        return vessel_error_rc(err);
                }
                confset_free(&src.conf);
                src.conf = sn.conf;
                sn.conf = (struct confset){0};
                strv_free(src.profiles);
                src.profiles = sn.profiles;
                sn.profiles = NULL;
                snapshot_free(&sn);
        }
        r = copy_insert(s, o, &src, pool, staging + strlen(COPY_PREFIX), &id, err);
        instance_free(&src);
        if (r < 0 || instance_backup_write_at(s, o->name, staging, err) < 0)
                return vessel_error_rc(err);
        if (renameat2(s->instances_fd, staging, s->instances_fd, o->name, RENAME_NOREPLACE) < 0)
                return vessel_error_sys(err, "instance \"%s\": putting instances/%s in place",
                                        o->name, o->name);
        if (instance_db_set_state(s, id, "stopped", err) < 0 || store_tx_commit(&tx, err) < 0) {
                renameat(s->instances_fd, o->name, s->instances_fd, staging);
                return vessel_error_rc(err);
        }
        return 0;
}

/* The source's record of where its files' ids are, with the files: the
 * copy's first start shifts them from there into its own range.  A walk
 * that was killed halfway is carried to its end in the copy. */
static int record_copy(struct vessel_store *s, const struct instance_copy_opts *o,
                       struct storage_pool *to, const char *rel, int dir_fd, const char *shift_text,
                       vessel_error **err)
{
        _cleanup_close_ int src_fd =
            openat(s->instances_fd, o->source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *shift_rel = to->ops->shift_rel ? to->ops->shift_rel(rel) : NULL;
        _cleanup_free_ char *dir =
            shift_rel ? xasprintf("%s/%s", to->path, shift_rel) : storage_volume_rootfs(to, rel);
        struct idrange_user u = {0};
        int r;

        if (src_fd < 0)
                return vessel_error_sys(err, "instance \"%s\": open instances/%s", o->name,
                                        o->source);
        if (shift_text) {
                /* The record the snapshot keeps of its files. */
                if (shift_text[0]) {
                        _cleanup_close_ int fd =
                            openat(dir_fd, SHIFT_RECORD,
                                   O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
                        if (fd < 0 || write_all(fd, shift_text, strlen(shift_text)) < 0 ||
                            fsync(fd) < 0)
                                return vessel_error_sys(err, "instance \"%s\": write %s", o->name,
                                                        SHIFT_RECORD);
                }
        } else if ((r = idshift_record_copy(src_fd, dir_fd, err)) < 0) {
                return vessel_error_prefix(err, "instance \"%s\"", o->name);
        }
        if ((store_is_rootless(s) && (r = idrange_user_read(&u, err)) < 0))
                return vessel_error_prefix(err, "instance \"%s\"", o->name);
        /* Its errors name the instance. */
        r = idshift_finish(dir_fd, o->name, dir, store_is_rootless(s) ? &u : NULL, err);
        idrange_user_free(&u);
        return r;
}

/* The image's metadata.yaml and templates/ that the source keeps. */
static int templates_copy(struct vessel_store *s, const char *source, int dir_fd,
                          const char *dir_path, vessel_error **err)
{
        static const char *const names[] = {"metadata.yaml", "templates"};
        _cleanup_strv_ char **paths = xmalloc0(sizeof(char *));
        _cleanup_free_ char *what = xasprintf("the templates of instance %s", source);

        for (size_t k = 0; k < 2; k++) {
                _cleanup_free_ char *p = xasprintf("%s/instances/%s/%s", s->root, source, names[k]);
                if (access(p, F_OK) == 0)
                        paths = strv_append(paths, p);
        }
        return instance_files_copy(dir_fd, dir_path, paths, what, err);
}

/* Everything of the copy in its work directory, but its rows. */
/* A snapshot's files into volume rel of pool to: a clone in its own
 * pool, else a transfer of its tree (an overlay snapshot mounted
 * read-only meanwhile). */
static int snapshot_files(struct vessel_store *s, const struct instance_copy_opts *o,
                          const struct snapshot *sn, struct storage_pool *from,
                          struct storage_pool *to, const char *rel, vessel_error **err)
{
        _cleanup_free_ char *vol = storage_volume_path("snapshots", sn->volume);
        int r;

        if (from->id == to->id)
                return storage_volume_clone(s, to, vol, rel, err);
        /* Its upper layer is shifted, its lower layers are not: no
         * read-only view shows one id range. */
        if (from->ops->shift_rel && sn->shift)
                return vessel_error_msg(err, ENOTSUP,
                                        "snapshot %s/%s: a snapshot of an unprivileged instance in "
                                        "overlay pool %s cannot be copied to another pool (copy "
                                        "it within its pool, then vesselctl move -s POOL)",
                                        o->source, o->snapshot, from->name);
        if ((r = storage_volume_mount(s, from, vol, 0, 0, err)) < 0)
                return r;
        _cleanup_free_ char *tree = storage_volume_rootfs(from, vol);
        if (o->progress) {
                _cleanup_free_ char *line = xasprintf(
                    "Copying snapshot %s/%s from storage pool %s (%s) to storage pool "
                    "%s (%s)",
                    o->source, o->snapshot, from->name, from->driver, to->name, to->driver);
                o->progress(line, o->progress_data);
        }
        r = storage_volume_from_tree(s, to, tree, rel, err);
        storage_volume_umount(s, from, vol, NULL);
        return r;
}

static int copy_files(struct vessel_store *s, const struct instance_copy_opts *o,
                      const struct instance *src, const struct snapshot *sn,
                      struct storage_pool *from, struct storage_pool *to, int dir_fd,
                      const char *staging, const char *rel, vessel_error **err)
{
        _cleanup_free_ char *path = xasprintf("%s/instances/%s", s->root, staging);
        _cleanup_free_ char *link = storage_rootfs_link(to, rel);
        int r = 0;

        /* Rootless: the runtime passes through as a subordinate id. */
        if (store_is_rootless(s) && fchmod(dir_fd, 0711) < 0)
                return vessel_error_sys(err, "instance \"%s\": chmod %s", o->name, path);
        if (sn) {
                r = snapshot_files(s, o, sn, from, to, rel, err);
        } else if (from->id == to->id) {
                _cleanup_free_ char *vol = storage_volume_path("containers", src->volume);
                r = storage_volume_clone(s, to, vol, rel, err);
        } else {
                r = transfer(s, src, from, to, rel, o->progress, o->progress_data, err);
        }
        if (r < 0)
                return vessel_error_prefix(err, "instance \"%s\"", o->name);
        if (symlinkat(link, dir_fd, "rootfs") < 0)
                return vessel_error_sys(err, "instance \"%s\": symlink instances/%s/rootfs",
                                        o->name, staging);
        if (record_copy(s, o, to, rel, dir_fd, sn ? (sn->shift ? sn->shift : "") : NULL, err) < 0)
                return -EIO;
        if (volume_mount_as_recorded(s, to, rel, dir_fd, err) < 0 ||
            templates_copy(s, o->source, dir_fd, path, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\"", o->name);
        return 0;
}

static int copy_one(struct vessel_store *s, const struct instance_copy_opts *o, vessel_error **err)
{
        _cleanup_close_ int fd = -1;
        _cleanup_free_ char *rel = NULL;
        struct instance src = {0};
        struct snapshot sn = {0};
        struct storage_pool from, to;
        char staging[64];
        int r = copy_check(s, o, &src, &sn, err);

        if (r < 0)
                return r;
        if (o->snapshot && !src.pool_id) {
                instance_free(&src);
                snapshot_free(&sn);
                return vessel_error_msg(err, ENOTSUP, "instance \"%s\": in no storage pool",
                                        o->source);
        }
        if ((r = pools_for(s, &src, o->pool, &from, &to, err)) < 0) {
                instance_free(&src);
                snapshot_free(&sn);
                return vessel_error_prefix(err, "instance \"%s\"", o->name);
        }
        r = store_workdir_create(s->instances_fd, COPY_PREFIX, staging, sizeof(staging), &fd, err);
        if (r < 0)
                vessel_error_prefix(err, "instance \"%s\": %s/instances", o->name, s->root);
        else {
                rel = storage_volume_path("containers", staging + strlen(COPY_PREFIX));
                r = copy_files(s, o, &src, o->snapshot ? &sn : NULL, &from, &to, fd, staging, rel,
                               err);
                if (r == 0)
                        r = copy_commit(s, o, &to, staging, err);
                if (r < 0) {
                        storage_volume_delete(s, &to, rel, NULL);
                        store_rm_rf_at(s, s->instances_fd, staging, NULL);
                }
        }
        instance_free(&src);
        snapshot_free(&sn);
        storage_pool_free(&from);
        storage_pool_free(&to);
        return r;
}

int instance_copy(struct vessel_store *s, const struct instance_copy_opts *o, vessel_error **err)
{
        const char *slash = strchr(o->source, '/');

        if (!slash)
                return copy_one(s, o, err);
        /* INSTANCE/SNAPSHOT */
        _cleanup_free_ char *inst = xstrndup(o->source, (size_t)(slash - o->source));
        struct instance_copy_opts so = *o;
        if (!snapshot_name_valid(slash + 1))
                return vessel_error_msg(err, EINVAL, "snapshot \"%s\": not a valid name",
                                        slash + 1);
        so.source = inst;
        so.snapshot = slash + 1;
        return copy_one(s, &so, err);
}

/* ---- move ---- */

/* The transaction of a move: the row names the new volume, and the
 * instance's rootfs link is exchanged with the work directory's. */
static int move_commit(struct vessel_store *s, const struct instance *i,
                       const struct storage_pool *to, const char *staging, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *link = xasprintf("%s/rootfs", i->name),
                            *work = xasprintf("%s/rootfs", staging);
        struct instance now;
        bool same;

        if (store_tx_begin(s, &tx, err) < 0 || instance_get(s, i->name, &now, err) < 0)
                return vessel_error_rc(err);
        same = now.id == i->id && now.pool_id == i->pool_id &&
               !strcmp(now.volume ? now.volume : "", i->volume ? i->volume : "");
        instance_free(&now);
        if (!same)
                return vessel_error_msg(err, EBUSY, "instance \"%s\": changed meanwhile", i->name);
        if (store_prepare(s,
                          "UPDATE instances SET pool_id = ?, volume = ?, storage_driver = ?"
                          " WHERE id = ?",
                          &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, to->id);
        db_bind_text(st, 2, staging + strlen(COPY_PREFIX));
        db_bind_text(st, 3, to->driver);
        sqlite3_bind_int64(st, 4, i->id);
        if (store_step(s, st, err) < 0)
                return -EIO;
        if (renameat2(s->instances_fd, work, s->instances_fd, link, RENAME_EXCHANGE) < 0)
                return vessel_error_sys(err, "instance \"%s\": exchanging instances/%s and %s",
                                        i->name, link, work);
        if (store_tx_commit(&tx, err) < 0) {
                renameat2(s->instances_fd, work, s->instances_fd, link, RENAME_EXCHANGE);
                return vessel_error_rc(err);
        }
        return 0;
}

/* After the commit: the old volume (a kill before the end leaves it to
 * storage_recover), an image volume that nothing needs any more, the work
 * directory (which holds the old link, or the rootfs directory of an
 * instance made before pools), and backup.yaml rewritten. */
static void move_finish(struct vessel_store *s, const struct instance *i, struct storage_pool *from,
                        const char *staging)
{
        _cleanup_tx_ struct store_tx tx = {0};
        vessel_error *e = NULL;

        if (from->id && i->volume) {
                _cleanup_free_ char *rel = storage_volume_path("containers", i->volume);
                if (storage_volume_delete(s, from, rel, &e) < 0) {
                        fprintf(stderr, "vesselctl: %s (the next command retries)\n", e->msg);
                        vessel_error_free(&e);
                }
                if (i->image && i->image[0])
                        storage_image_release(s, i->image, NULL);
        }
        store_rm_rf_at(s, s->instances_fd, staging, NULL);
        if (store_tx_begin(s, &tx, &e) < 0 || instance_backup_write_name(s, i->name, &e) < 0 ||
            store_tx_commit(&tx, &e) < 0) {
                fprintf(stderr, "vesselctl: instance %s: moved, but: %s\n", i->name, e->msg);
                vessel_error_free(&e);
        }
}

static int move_check(struct vessel_store *s, const struct rundir *rd, const char *name,
                      struct instance *i, vessel_error **err)
{
        if (instance_get(s, name, i, err) < 0)
                return -ENOENT;
        if (rundir_monitor_alive(rd) || instance_orphaned(s, name)) {
                instance_free(i);
                return vessel_error_msg(err, EBUSY, "instance \"%s\": is running (stop it first)",
                                        name);
        }
        /* Their volumes would stay behind in the old pool. */
        if (i->n_snapshots) {
                int r = vessel_error_msg(err, ENOTSUP,
                                         "instance \"%s\": has %zu snapshot(s), which a move to "
                                         "another storage pool does not take along yet",
                                         name, i->n_snapshots);
                instance_free(i);
                return r;
        }
        return 0;
}

/* Everything of the move in its work directory, and the commit. */
static int move_run(struct vessel_store *s, const struct instance *i, struct storage_pool *from,
                    struct storage_pool *to, int dir_fd, const char *staging, progress_fn progress,
                    void *data, vessel_error **err)
{
        _cleanup_free_ char *rel = storage_volume_path("containers", staging + strlen(COPY_PREFIX));
        _cleanup_free_ char *link = storage_rootfs_link(to, rel);
        _cleanup_free_ char *marker =
            xasprintf("%s/instances/%s/%s", s->root, staging, MOVE_MARKER);
        _cleanup_free_ char *id = xasprintf("%" PRId64 "\n", i->id);
        _cleanup_close_ int inst_fd =
            openat(s->instances_fd, i->name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int r;

        if (inst_fd < 0)
                return vessel_error_sys(err, "instance \"%s\": open instances/%s", i->name,
                                        i->name);
        if (store_is_rootless(s) && fchmod(dir_fd, 0711) < 0)
                return vessel_error_sys(err, "instance \"%s\": chmod instances/%s", i->name,
                                        staging);
        /* Written first: recovery knows a move by it. */
        if ((r = write_file_atomic(marker, id, strlen(id), 0600, err)) < 0)
                return vessel_error_prefix(err, "instance \"%s\"", i->name);
        r = transfer(s, i, from, to, rel, progress, data, err);
        if (r == 0 && symlinkat(link, dir_fd, "rootfs") < 0)
                r = vessel_error_sys(err, "symlink instances/%s/rootfs", staging);
        if (r == 0)
                r = volume_mount_as_recorded(s, to, rel, inst_fd, err);
        if (r == 0)
                r = move_commit(s, i, to, staging, err);
        if (r < 0) {
                storage_volume_delete(s, to, rel, NULL);
                return vessel_error_prefix(err, "instance \"%s\"", i->name);
        }
        return 0;
}

/* The volume to another pool, under the instance's op.lock (no start
 * meanwhile). */
static int move_pool(struct vessel_store *s, const char *name, const char *pool,
                     progress_fn progress, void *data, vessel_error **err)
{
        _cleanup_close_ int oplock = -1, fd = -1;
        struct instance i = {0};
        struct storage_pool from = {0}, to = {0};
        struct rundir rd;
        char staging[64];
        int r;

        /* No run directory for an instance that does not exist. */
        if (instance_get(s, name, &i, err) < 0)
                return -ENOENT;
        instance_free(&i);
        if (rundir_open(s, name, &rd, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\"", name);
        oplock = rundir_op_lock(&rd, err);
        r = oplock < 0 ? vessel_error_prefix(err, "instance \"%s\"", name)
                       : move_check(s, &rd, name, &i, err);
        rundir_free(&rd);
        if (r < 0)
                return r;
        if ((r = pools_for(s, &i, pool, &from, &to, err)) < 0) {
                instance_free(&i);
                return vessel_error_prefix(err, "instance \"%s\"", name);
        }
        if (from.id == to.id)
                r = vessel_error_msg(err, EINVAL, "instance \"%s\": is in storage pool %s already",
                                     name, to.name);
        else if ((r = store_workdir_create(s->instances_fd, COPY_PREFIX, staging, sizeof(staging),
                                           &fd, err)) < 0)
                vessel_error_prefix(err, "instance \"%s\": %s/instances", name, s->root);
        else if ((r = move_run(s, &i, &from, &to, fd, staging, progress, data, err)) < 0)
                store_rm_rf_at(s, s->instances_fd, staging, NULL);
        else
                move_finish(s, &i, &from, staging);
        instance_free(&i);
        storage_pool_free(&from);
        storage_pool_free(&to);
        return r;
}

int instance_move(struct vessel_store *s, const char *from, const char *to, const char *pool,
                  progress_fn progress, void *data, vessel_error **err)
{
        bool rename = to && strcmp(to, from);
        bool exists;

        if (!pool && !rename)
                return vessel_error_msg(err, EINVAL,
                                        "instance \"%s\": nothing to do (a new name, or a "
                                        "storage pool)",
                                        from);
        if (!pool)
                return instance_rename(s, from, to, err);
        /* A rename that would fail is refused before anything is copied. */
        if (rename &&
            (instance_name_check(to, err) < 0 || instance_db_exists(s, to, &exists, err) < 0 ||
             (exists && instance_exists_error(to, err) < 0)))
                return vessel_error_rc(err);
        if (move_pool(s, from, pool, progress, data, err) < 0)
                return vessel_error_rc(err);
        if (rename && instance_rename(s, from, to, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\": moved to storage pool %s, but",
                                           from, pool);
        return 0;
}

/* ---- recovery ---- */

/* Does the link instances/<name>/rootfs lead to volume vol? */
static bool links_to(struct vessel_store *s, const char *name, const char *vol)
{
        _cleanup_free_ char *path = xasprintf("%s/rootfs", name);
        _cleanup_free_ char *want = xasprintf("/containers/%s", vol);
        char target[4096];
        ssize_t n = readlinkat(s->instances_fd, path, target, sizeof(target) - 1);
        const char *at;

        if (n < 0)
                return false;
        target[n] = '\0';
        at = strstr(target, want);
        return at && (at[strlen(want)] == '\0' || at[strlen(want)] == '/');
}

/* A dead move's work directory: if its transaction did not commit (the
 * row does not name the new volume) but the links were exchanged, they
 * are exchanged back.  Under the write lock. */
static int move_undo(struct vessel_store *s, const char *work, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *marker = xasprintf("%s/%s", work, MOVE_MARKER), *text = NULL;
        _cleanup_free_ char *name = NULL, *vol = NULL;
        const char *new_vol = work + strlen(COPY_PREFIX);
        int64_t id;
        int rc;

        if (read_file_at(s->instances_fd, marker, &text, NULL, NULL) < 0)
                return 0;
        text[strcspn(text, "\n")] = '\0';
        if (parse_int64(text, &id) < 0)
                return 0;
        if (store_tx_begin(s, &tx, err) < 0 ||
            store_prepare(s, "SELECT name, volume FROM instances WHERE id = ?", &st, err) < 0)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        if ((rc = store_step(s, st, err)) < 0)
                return rc;
        if (rc != SQLITE_ROW)
                return store_tx_commit(&tx, err);
        name = db_col_text(st, 0);
        vol = sqlite3_column_type(st, 1) == SQLITE_NULL ? NULL : db_col_text(st, 1);
        if ((!vol || strcmp(vol, new_vol)) && links_to(s, name, new_vol)) {
                _cleanup_free_ char *link = xasprintf("%s/rootfs", name),
                                    *old = xasprintf("%s/rootfs", work);
                if (renameat2(s->instances_fd, old, s->instances_fd, link, RENAME_EXCHANGE) < 0)
                        return vessel_error_sys(err, "instance \"%s\": putting its rootfs back",
                                                name);
        }
        return store_tx_commit(&tx, err);
}

int instance_copy_recover(struct vessel_store *s, vessel_error **err)
{
        _cleanup_strv_ char **work = xmalloc0(sizeof(char *));
        /* Its own open file: a dup would share (and leave at its end)
         * the offset that store_recover_dir reads from next. */
        _cleanup_close_ int dfd = openat(s->instances_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
        struct dirent *de;
        int r = 0;

        if (!d)
                return vessel_error_sys(err, "instances/");
        dfd = -1;
        while ((de = readdir(d)))
                if (str_has_prefix(de->d_name, COPY_PREFIX))
                        work = strv_append(work, de->d_name);
        closedir(d);
        for (char **w = work; r == 0 && *w; w++) {
                /* Its command died (a live one holds the lock). */
                _cleanup_close_ int lock = store_dir_lock_free(s->instances_fd, *w);
                if (lock < 0)
                        continue;
                r = move_undo(s, *w, err);
                if (r == 0)
                        store_rm_rf_at(s, s->instances_fd, *w, NULL);
        }
        return r;
}
