/* storage.h: storage pools, and the volumes in them (docs/store.md,
 * "Storage pools").
 *
 * A pool is a row (storage_pools) and a directory <store>/storage/<name>
 * (a mount point for a btrfs pool on a device or file, a symlink for one
 * on a directory given as its source).  In it, one back end (dir,
 * overlay, btrfs: one file each, behind struct storage_ops) keeps
 *
 *   images/<fingerprint>    an image's rootfs, unpacked once per pool
 *                           (overlay: the lower layer; btrfs: a subvolume
 *                           that instances are snapshots of; dir: none,
 *                           its copies come from the store's images/)
 *   containers/<volume>     an instance's root file system
 *   snapshots/<volume>      a snapshot's
 *
 * A volume is named by a random hex string kept in the catalogue (the
 * instance's or snapshot's row), so that renaming an instance never
 * touches its pool.  instances/<name>/rootfs is a relative symlink to the
 * volume's root file system, so every path into an instance stays what it
 * was.  A volume without a row is debris of a killed command, removed by
 * the next one (storage_recover). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "store.h"

#define STORAGE_DEFAULT_POOL "default"

struct storage_pool {
        int64_t id;
        char *name;
        char *driver;
        char *source; /* "" when the pool lives in the store */
        char *description;
        uint64_t size; /* bytes of the loop file the pool made, 0 */
        int64_t created_at;
        char *path; /* <store>/storage/<name> */
        const struct storage_ops *ops;
};

struct storage_ops {
        const char *name;
        /* Whether a rootless store can have such a pool. */
        bool rootless;
        /* Whether instances are made from an image volume in the pool
         * (else from the store's images/<fp>/rootfs). */
        bool image_volumes;
        /* Whether a volume's size= is honoured. */
        bool quota;
        /* Make the pool at p->path (which does not exist yet); on error
         * nothing of it is left. */
        int (*create)(struct vessel_store *s, struct storage_pool *p, vessel_error **err);
        /* Make a pool usable after a host reboot (attach, mount);
         * idempotent.  NULL: nothing to do. */
        int (*activate)(struct vessel_store *s, struct storage_pool *p, vessel_error **err);
        /* Undo create (the pool is empty of volumes). */
        int (*destroy)(struct vessel_store *s, struct storage_pool *p, vessel_error **err);
        /* The root file system of volume vol ("containers/ab12..."),
         * relative to the pool (allocated). */
        char *(*rootfs_rel)(const char *vol);
        /* An image volume vol from the unpacked rootfs src. */
        int (*image_create)(struct vessel_store *s, struct storage_pool *p, const char *src,
                            const char *vol, vessel_error **err);
        /* Volume vol, a clone of src (an image volume, or the store's
         * image rootfs for a pool without image volumes, or another
         * volume of the pool: a copy or a snapshot). */
        int (*volume_clone)(struct vessel_store *s, struct storage_pool *p, const char *src,
                            const char *vol, vessel_error **err);
        /* Volume vol holding a copy of the tree at src, an absolute path
         * outside the pool (a full transfer from another pool's volume);
         * on error the caller deletes vol. */
        int (*volume_from_tree)(struct vessel_store *s, struct storage_pool *p, const char *src,
                                const char *vol, vessel_error **err);
        int (*volume_delete)(struct vessel_store *s, struct storage_pool *p, const char *vol,
                             vessel_error **err);
        /* An empty volume vol, its files' directory (shift_rel, else
         * rootfs_rel) made empty, to unpack an instance into (import). */
        int (*volume_create)(struct vessel_store *s, struct storage_pool *p, const char *vol,
                             vessel_error **err);
        /* Make the volume's root file system visible at its path (the
         * overlay mount); idempotent.  NULL: it always is.  With
         * id_size, its files' ids are shifted to host ids id_base.. (the
         * overlay's lower layers idmapped, its upper layer's files
         * shifted by idshift.h): overlayfs cannot be idmapped itself. */
        int (*volume_mount)(struct vessel_store *s, struct storage_pool *p, const char *vol,
                            uint64_t id_base, uint64_t id_size, vessel_error **err);
        /* The directory of the volume's own files that a shift walks
         * (relative to the pool, allocated); NULL: its rootfs. */
        char *(*shift_rel)(const char *vol);
        int (*volume_umount)(struct vessel_store *s, struct storage_pool *p, const char *vol,
                             vessel_error **err);
        /* Limit the volume to bytes (0: no limit).  NULL: the back end
         * cannot (size= on the root disk is refused). */
        int (*volume_quota)(struct vessel_store *s, struct storage_pool *p, const char *vol,
                            uint64_t bytes, vessel_error **err);
        /* Bytes the volume holds of its own (not what it shares). */
        int (*volume_usage)(struct vessel_store *s, struct storage_pool *p, const char *vol,
                            uint64_t *bytes, vessel_error **err);
};

extern const struct storage_ops storage_dir_ops, storage_overlay_ops, storage_btrfs_ops;
const struct storage_ops *storage_driver_find(const char *name);

struct storage_create_opts {
        const char *name;
        const char *driver;
        const char *source; /* NULL: in the store */
        uint64_t size;      /* btrfs: a loop file of this size; 0 */
        const char *description;
};

/* Parse "NAME dir|overlay|btrfs [source=PATH] [size=N]"'s keys. */
int storage_size_parse(const char *s, uint64_t *out, vessel_error **err);

bool storage_pool_name_valid(const char *name);
int storage_pool_create(struct vessel_store *s, const struct storage_create_opts *o,
                        vessel_error **err);
int storage_pool_get(struct vessel_store *s, const char *name, struct storage_pool *out,
                     vessel_error **err);
int storage_pool_get_id(struct vessel_store *s, int64_t id, struct storage_pool *out,
                        vessel_error **err);
int storage_pool_list(struct vessel_store *s, struct storage_pool **out, size_t *n,
                      vessel_error **err);
/* Refused while instances or snapshots are in it; its image volumes go
 * with it. */
int storage_pool_delete(struct vessel_store *s, const char *name, vessel_error **err);
void storage_pool_free(struct storage_pool *p);
void storage_pool_list_free(struct storage_pool *v, size_t n);
/* The pool a new instance goes to: name, or the default pool, made on
 * first use: btrfs when the store is on btrfs, else dir (not overlay:
 * overlayfs refuses whiteouts, which instances must be able to make). */
int storage_pool_for_new(struct vessel_store *s, const char *name, struct storage_pool *out,
                         vessel_error **err);
/* The driver the default pool gets in this store. */
const char *storage_default_driver(struct vessel_store *s);
/* Attach and mount it when it is not (after a host reboot). */
int storage_pool_activate(struct vessel_store *s, struct storage_pool *p, vessel_error **err);

struct storage_pool_usage {
        uint64_t total, used, avail; /* bytes of the file system holding it */
        size_t instances, snapshots, images;
};
int storage_pool_usage(struct vessel_store *s, struct storage_pool *p, struct storage_pool_usage *u,
                       vessel_error **err);

struct storage_volume {
        char *type;   /* "container", "snapshot", "image" */
        char *name;   /* instance, instance/snapshot, fingerprint */
        char *volume; /* its directory in the pool, "containers/ab12..." */
};
int storage_volume_list(struct vessel_store *s, struct storage_pool *p, struct storage_volume **out,
                        size_t *n, vessel_error **err);
void storage_volume_list_free(struct storage_volume *v, size_t n);

/* The image volume of fp in the pool, made from the store's
 * images/<fp>/rootfs when it is not there yet (concurrent makers: one
 * wins, the others use its volume). */
int storage_image_ensure(struct vessel_store *s, struct storage_pool *p, const char *fp,
                         vessel_error **err);
/* The image is gone from the store: drop its volumes that nothing needs
 * (an overlay lower layer stays while a volume stacks on it). */
int storage_image_release(struct vessel_store *s, const char *fp, vessel_error **err);

/* "containers/<vol>" and friends (allocated). */
char *storage_volume_path(const char *kind, const char *vol);
/* <store>/storage/<pool>/<rootfs_rel(vol)> (allocated). */
char *storage_volume_rootfs(struct storage_pool *p, const char *vol);
/* The symlink instances/<name>/rootfs points to (allocated). */
char *storage_rootfs_link(struct storage_pool *p, const char *vol);

/* A new instance volume containers/<vol> from image fp (made in the pool
 * first if needed), mounted. */
int storage_volume_from_image(struct vessel_store *s, struct storage_pool *p, const char *fp,
                              const char *vol, vessel_error **err);
/* An empty instance volume (not mounted); *files: the directory its
 * files go to (absolute, allocated): an overlay volume's upper layer,
 * over an empty lower layer (the pool's images/.empty). */
int storage_volume_create(struct vessel_store *s, struct storage_pool *p, const char *vol,
                          char **files, vessel_error **err);
int storage_volume_clone(struct vessel_store *s, struct storage_pool *p, const char *src,
                         const char *dst, vessel_error **err);
/* A new instance volume vol holding a copy (cp -a) of the tree at src,
 * an absolute path (another pool's volume, or the rootfs directory of an
 * instance made before pools), mounted; nothing of it is left on error.
 * dir: a directory; btrfs: a subvolume; overlay: an upper layer of its
 * own over the pool's empty lower layer (images/.empty), filled through
 * the mount, so that overlayfs's refusal of whiteouts applies. */
int storage_volume_from_tree(struct vessel_store *s, struct storage_pool *p, const char *src,
                             const char *vol, vessel_error **err);
int storage_volume_delete(struct vessel_store *s, struct storage_pool *p, const char *vol,
                          vessel_error **err);
int storage_volume_mount(struct vessel_store *s, struct storage_pool *p, const char *vol,
                         uint64_t id_base, uint64_t id_size, vessel_error **err);
int storage_volume_umount(struct vessel_store *s, struct storage_pool *p, const char *vol,
                          vessel_error **err);
int storage_volume_usage(struct vessel_store *s, struct storage_pool *p, const char *vol,
                         uint64_t *bytes, vessel_error **err);
/* The root disk's size= (0: none) on the volume: refused by a back end
 * that cannot limit it, naming the pool. */
int storage_volume_quota(struct vessel_store *s, struct storage_pool *p, const char *vol,
                         uint64_t bytes, vessel_error **err);

/* Volumes without a row (a command killed between making a volume and
 * its commit, or between a delete's commit and the volume's removal),
 * in pools that are mounted.  Called by store_open. */
int storage_recover(struct vessel_store *s, vessel_error **err);

/* storage-util.c: what the back ends share. */
/* cp -a --reflink=auto src dst (dst must not exist), as root of the
 * user namespace of a rootless store's ids. */
int storage_cp(struct vessel_store *s, const char *src, const char *dst, vessel_error **err);
/* Run argv (its stdout to /dev/null, its stderr ours), killed if we die;
 * what names the work in errors. */
int storage_run(char **argv, const char *what, vessel_error **err);
/* fn(arg) in this process, or in a rootless store as root of the user
 * namespace of its ids (userns-helper.h). */
int storage_as_store(struct vessel_store *s, const char *what, int (*fn)(void *, vessel_error **),
                     void *arg, vessel_error **err);
/* rm -rf path, likewise. */
int storage_rm(struct vessel_store *s, const char *path, vessel_error **err);
/* Bytes under path (du: allocated blocks, hard links once, one file
 * system). */
int storage_du(const char *path, uint64_t *bytes, vessel_error **err);
/* Whether path is on a file system of magic f_type. */
bool storage_fs_is(const char *path, long magic);
/* A random 12-hex volume name. */
int storage_volume_name(char out[13], vessel_error **err);
