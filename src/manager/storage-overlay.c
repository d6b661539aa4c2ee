/* storage-overlay.c: the overlay back end.
 *
 * An image is unpacked once per pool (images/<fp>, a copy of the store's
 * images/<fp>/rootfs) and is the read-only lower layer of every instance
 * made from it.  A volume is a directory holding
 *
 *   lower    its lower layers, one pool-relative path per line, top first
 *   upper/   what the instance changed
 *   work/    overlayfs's work directory
 *   rootfs/  where the overlay is mounted (from its creation until its
 *            deletion, and again by the next command that needs it after a
 *            host reboot)
 *
 * An unprivileged instance's files appear owned by its own host ids
 * without a chown of the image: overlayfs cannot be idmapped itself, so
 * its lower layers are (idmapped layers, Linux 5.19), and its upper
 * layer, which holds only what the instance changed, is shifted into the
 * instance's range at its first start (idshift.h).
 *
 * A volume copied in from another pool (a full transfer) has an upper
 * layer of its own, filled through its mount, over images/.empty, the
 * pool's one empty lower layer.
 *
 * A clone of a volume (a copy, a snapshot, a restore) copies its upper
 * layer (reflinked where the file system can) and shares its lower
 * layers: no layer is ever stacked on a volume that may still change, so
 * no depth limit is needed and the time of a clone follows what the
 * instance changed, not the size of its image.  The mount is made with
 * the new mount API (fsopen, fsconfig "lowerdir+"), so that no option
 * string limits the length of the paths. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include "idmap.h"
#include "storage.h"
#include "storage-internal.h"
#include "util.h"

#define LOWER_FILE "lower"

static int ovl_umount_vol(struct vessel_store *s, struct storage_pool *p, const char *vol,
                          vessel_error **err);

static char *ovl_rootfs_rel(const char *vol)
{
        return xasprintf("%s/rootfs", vol);
}

static bool mounted(const char *vol_path)
{
        _cleanup_free_ char *rootfs = xasprintf("%s/rootfs", vol_path);
        struct stat a, b;

        return stat(vol_path, &a) == 0 && stat(rootfs, &b) == 0 && a.st_dev != b.st_dev;
}

/* An overlay of lowers (absolute, top first) at target. */
static int ovl_mount(char **lowers, const char *upper, const char *work, const char *target,
                     vessel_error **err)
{
        _cleanup_close_ int fs = fsopen("overlay", FSOPEN_CLOEXEC), mnt = -1;

        if (fs < 0)
                return vessel_error_sys(err, "overlay mount at %s: fsopen", target);
        for (char **l = lowers; *l; l++)
                if (fsconfig(fs, FSCONFIG_SET_STRING, "lowerdir+", *l, 0) < 0)
                        return vessel_error_sys(err, "overlay mount at %s: lower layer %s", target,
                                                *l);
        if (upper && (fsconfig(fs, FSCONFIG_SET_STRING, "upperdir", upper, 0) < 0 ||
                      fsconfig(fs, FSCONFIG_SET_STRING, "workdir", work, 0) < 0))
                return vessel_error_sys(err, "overlay mount at %s: upper layer %s", target, upper);
        if (fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
                return vessel_error_sys(err, "overlay mount at %s: creating the file system",
                                        target);
        mnt = fsmount(fs, FSMOUNT_CLOEXEC, 0);
        if (mnt < 0)
                return vessel_error_sys(err, "overlay mount at %s: fsmount", target);
        if (move_mount(mnt, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return vessel_error_sys(err, "overlay mount at %s: move_mount", target);
        return 0;
}

/* A pool can only be overlay where the kernel mounts one with its upper
 * layer there. */
static int ovl_probe(struct storage_pool *p, vessel_error **err)
{
        _cleanup_free_ char *dir = xasprintf("%s/.probe-XXXXXX", p->path);
        char *lowers[2] = {NULL, NULL};
        int r;

        if (!mkdtemp(dir))
                return vessel_error_sys(err, "storage pool %s: mkdtemp in %s", p->name, p->path);
        _cleanup_free_ char *l = xasprintf("%s/l", dir), *u = xasprintf("%s/u", dir),
                            *w = xasprintf("%s/w", dir), *m = xasprintf("%s/m", dir);
        lowers[0] = l;
        r = mkdir(l, 0755) < 0 || mkdir(u, 0755) < 0 || mkdir(w, 0755) < 0 || mkdir(m, 0755) < 0
                ? vessel_error_sys(err, "storage pool %s: probe directories", p->name)
                : ovl_mount(lowers, u, w, m, err);
        if (r == 0)
                umount2(m, MNT_DETACH);
        else
                vessel_error_prefix(err,
                                    "storage pool %s: the kernel does not mount overlayfs "
                                    "with its upper layer on this file system",
                                    p->name);
        rm_rf_at(AT_FDCWD, dir);
        return r;
}

static int ovl_create(struct vessel_store *s, struct storage_pool *p, vessel_error **err)
{
        int r = pool_dirs_create(s, p, err);

        if (r == 0 && (r = ovl_probe(p, err)) < 0)
                pool_dirs_destroy(s, p, NULL);
        return r;
}

static int ovl_image_create(struct vessel_store *s, struct storage_pool *p, const char *src,
                            const char *vol, vessel_error **err)
{
        _cleanup_free_ char *to = pool_abs(p, vol);

        return storage_cp(s, src, to, err);
}

static int read_lowers(struct storage_pool *p, const char *vol, char ***out, vessel_error **err)
{
        _cleanup_free_ char *path = xasprintf("%s/%s", vol, LOWER_FILE), *text = NULL;
        _cleanup_close_ int dfd = open(p->path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        size_t len;
        char *save = NULL;

        if (dfd < 0)
                return vessel_error_sys(err, "storage pool %s: open %s", p->name, p->path);
        if (read_file_at(dfd, path, &text, &len, err) < 0)
                return vessel_error_prefix(err, "storage pool %s: volume %s", p->name, vol);
        *out = xmalloc0(sizeof(char *));
        for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                *out = strv_append(*out, l);
        if (!**out) {
                strv_free(*out);
                return vessel_error_msg(err, EINVAL, "storage pool %s: volume %s: no lower layer",
                                        p->name, vol);
        }
        return 0;
}

static int write_lowers(struct storage_pool *p, const char *vol, char *const *lowers,
                        vessel_error **err)
{
        _cleanup_free_ char *path = xasprintf("%s/%s/%s", p->path, vol, LOWER_FILE);
        _cleanup_free_ char *text = strv_join(lowers, "\n");
        _cleanup_free_ char *line = xasprintf("%s\n", text);

        return write_file_atomic(path, line, strlen(line), 0600, err);
}

/* src: images/<fp> (a new instance) or another volume (its upper layer
 * copied, its lower layers shared). */
static int ovl_clone(struct vessel_store *s, struct storage_pool *p, const char *src,
                     const char *vol, vessel_error **err)
{
        _cleanup_free_ char *to = pool_abs(p, vol), *upper = xasprintf("%s/upper", to),
                            *work = xasprintf("%s/work", to), *root = xasprintf("%s/rootfs", to);
        char **lowers = NULL;
        int r;

        if (mkdir(to, 0711) < 0)
                return vessel_error_sys(err, "storage pool %s: mkdir %s", p->name, to);
        if (str_has_prefix(src, "images/")) {
                lowers = strv_append(xmalloc0(sizeof(char *)), src);
                r = mkdir(upper, 0755) < 0 ? vessel_error_sys(err, "mkdir %s", upper) : 0;
        } else {
                _cleanup_free_ char *from = xasprintf("%s/%s/upper", p->path, src);
                r = read_lowers(p, src, &lowers, err);
                if (r == 0)
                        r = storage_cp(s, from, upper, err);
        }
        if (r == 0 && (mkdir(work, 0700) < 0 || mkdir(root, 0755) < 0))
                r = vessel_error_sys(err, "storage pool %s: volume %s: mkdir", p->name, vol);
        if (r == 0)
                r = write_lowers(p, vol, lowers, err);
        strv_free(lowers);
        return r;
}

/* An empty volume (an import): its upper layer gets every file, over
 * the pool's one empty lower layer (overlayfs needs one). */
#define EMPTY_LOWER "images/.empty"

static int ovl_create_vol(struct vessel_store *s, struct storage_pool *p, const char *vol,
                          vessel_error **err)
{
        _cleanup_free_ char *to = pool_abs(p, vol), *upper = xasprintf("%s/upper", to),
                            *work = xasprintf("%s/work", to), *root = xasprintf("%s/rootfs", to),
                            *empty = pool_abs(p, EMPTY_LOWER);
        char *lowers[] = {EMPTY_LOWER, NULL};

        (void)s;
        if (mkdir(empty, 0755) < 0 && errno != EEXIST)
                return vessel_error_sys(err, "storage pool %s: mkdir %s", p->name, empty);
        if (mkdir(to, 0711) < 0 || mkdir(upper, 0755) < 0 || mkdir(work, 0700) < 0 ||
            mkdir(root, 0755) < 0)
                return vessel_error_sys(err, "storage pool %s: volume %s: mkdir", p->name, vol);
        return write_lowers(p, vol, lowers, err);
}

/* The map the mount was made with ("0 0" when plain): a mount of
 * another map is made again. */
#define MAP_FILE "mounted-map"

static bool map_is(const char *path, uint64_t base, uint64_t size)
{
        _cleanup_free_ char *file = xasprintf("%s/%s", path, MAP_FILE), *text = NULL;
        unsigned long long b, n;

        if (read_file_at(AT_FDCWD, file, &text, NULL, NULL) < 0)
                return base == 0 && size == 0;
        return sscanf(text, "%llu %llu", &b, &n) == 2 && b == base && n == size;
}

/* An idmapped clone of path (its ids seen through userns) attached at at. */
static int idmapped_bind(const char *path, int userns, const char *at, vessel_error **err)
{
        struct mount_attr a = {.attr_set = MOUNT_ATTR_IDMAP, .userns_fd = (uint64_t)userns};
        _cleanup_close_ int tree = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);

        if (tree < 0)
                return vessel_error_sys(err, "open_tree %s", path);
        if (mount_setattr(tree, "", AT_EMPTY_PATH, &a, sizeof(a)) < 0)
                return vessel_error_sys(err, "idmapping a mount of %s", path);
        if (mkdir(at, 0700) < 0 && errno != EEXIST)
                return vessel_error_sys(err, "mkdir %s", at);
        if (move_mount(tree, "", AT_FDCWD, at, MOVE_MOUNT_F_EMPTY_PATH) < 0)
                return vessel_error_sys(err, "attaching an idmapped mount of %s", path);
        return 0;
}

/* The lower layers idmapped (ids 0.. seen as id_base..), through
 * attached clones under the volume's .layers/ that overlayfs takes its
 * own private clones of; they are detached once it is mounted. */
static int mount_idmapped(char **lowers, const char *path, const char *upper, const char *work,
                          const char *root, uint64_t base, uint64_t size, vessel_error **err)
{
        struct vessel_idmap map = {0, (uint32_t)base, (uint32_t)size};
        _cleanup_free_ char *layers = xasprintf("%s/.layers", path);
        _cleanup_close_ int userns = idmap_userns_fd(&map, 1, &map, 1, err);
        char **at = xmalloc0(sizeof(char *));
        int r = 0;

        if (userns < 0)
                r = -EIO;
        else if (mkdir(layers, 0700) < 0 && errno != EEXIST)
                r = vessel_error_sys(err, "mkdir %s", layers);
        for (size_t i = 0; r == 0 && lowers[i]; i++) {
                char *dir = xasprintf("%s/%zu", layers, i);
                at = strv_append(at, dir);
                free(dir);
                r = idmapped_bind(lowers[i], userns, at[i], err);
        }
        if (r == 0)
                r = ovl_mount(at, upper, work, root, err);
        for (size_t i = 0; at[i]; i++) {
                umount2(at[i], MNT_DETACH);
                rmdir(at[i]);
        }
        rmdir(layers);
        strv_free(at);
        return r;
}

static int ovl_mount_vol(struct vessel_store *s, struct storage_pool *p, const char *vol,
                         uint64_t id_base, uint64_t id_size, vessel_error **err)
{
        _cleanup_free_ char *path = pool_abs(p, vol), *upper = xasprintf("%s/upper", path),
                            *work = xasprintf("%s/work", path),
                            *root = xasprintf("%s/rootfs", path),
                            *mapf = xasprintf("%s/%s", path, MAP_FILE);
        char **lowers = NULL;
        int r;

        if (!id_size)
                id_base = 0;
        if (mounted(path) && map_is(path, id_base, id_size))
                return 0;
        if (ovl_umount_vol(s, p, vol, err) < 0)
                return -EBUSY;
        if ((r = read_lowers(p, vol, &lowers, err)) < 0)
                return r;
        for (char **l = lowers; *l; l++) {
                char *abs = pool_abs(p, *l);
                free(*l);
                *l = abs;
        }
        if (str_has_prefix(vol, "snapshots/")) {
                /* A snapshot is mounted read-only: no upper layer. */
                char **ro = strv_append(xmalloc0(sizeof(char *)), upper);
                for (char **l = lowers; *l; l++)
                        ro = strv_append(ro, *l);
                r = ovl_mount(ro, NULL, NULL, root, err);
                strv_free(ro);
        } else if (id_size) {
                r = mount_idmapped(lowers, path, upper, work, root, id_base, id_size, err);
        } else {
                r = ovl_mount(lowers, upper, work, root, err);
        }
        strv_free(lowers);
        if (r == 0) {
                _cleanup_free_ char *text =
                    xasprintf("%" PRIu64 " %" PRIu64 "\n", id_base, id_size);
                r = write_file_atomic(mapf, text, strlen(text), 0600, err);
        }
        return r < 0 ? vessel_error_prefix(err, "storage pool %s: volume %s", p->name, vol) : 0;
}

static char *ovl_shift_rel(const char *vol)
{
        return xasprintf("%s/upper", vol);
}

/* The idmapped lower layers a mount killed halfway left attached under
 * .layers/ (mount_idmapped detaches them once overlayfs has its own). */
static void layers_detach(const char *path)
{
        _cleanup_free_ char *layers = xasprintf("%s/.layers", path);
        DIR *d = opendir(layers);
        struct dirent *de;

        if (!d)
                return;
        while ((de = readdir(d))) {
                if (de->d_name[0] == '.')
                        continue;
                _cleanup_free_ char *at = xasprintf("%s/%s", layers, de->d_name);
                umount2(at, MNT_DETACH);
                rmdir(at);
        }
        closedir(d);
        rmdir(layers);
}

static int ovl_umount_vol(struct vessel_store *s, struct storage_pool *p, const char *vol,
                          vessel_error **err)
{
        _cleanup_free_ char *path = pool_abs(p, vol), *root = xasprintf("%s/rootfs", path);

        (void)s;
        while (mounted(path))
                if (umount2(root, MNT_DETACH) < 0)
                        return vessel_error_sys(err, "storage pool %s: unmount %s", p->name, root);
        layers_detach(path);
        return 0;
}

/* The pool's empty lower layer, under the volumes that hold a tree
 * copied from elsewhere (overlayfs needs a lower layer). */
#define EMPTY_LOWER "images/.empty"

static int ovl_from_tree(struct vessel_store *s, struct storage_pool *p, const char *src,
                         const char *vol, vessel_error **err)
{
        _cleanup_free_ char *empty = pool_abs(p, EMPTY_LOWER),
                            *root = xasprintf("%s/%s/rootfs", p->path, vol);
        int r;

        if (mkdir(empty, 0755) < 0 && errno != EEXIST)
                return vessel_error_sys(err, "storage pool %s: mkdir %s", p->name, empty);
        r = ovl_clone(s, p, EMPTY_LOWER, vol, err);
        /* Through the mount, which is what overlayfs then shows. */
        if (r == 0)
                r = ovl_mount_vol(s, p, vol, 0, 0, err);
        if (r == 0)
                r = storage_cp(s, src, root, err);
        return r;
}

static int ovl_delete(struct vessel_store *s, struct storage_pool *p, const char *vol,
                      vessel_error **err)
{
        _cleanup_free_ char *path = pool_abs(p, vol);

        if (ovl_umount_vol(s, p, vol, err) < 0)
                return -EBUSY;
        return storage_rm(s, path, err);
}

static int ovl_usage(struct vessel_store *s, struct storage_pool *p, const char *vol,
                     uint64_t *bytes, vessel_error **err)
{
        _cleanup_free_ char *upper = xasprintf("%s/%s/upper", p->path, vol);

        (void)s;
        if (str_has_prefix(vol, "images/")) {
                _cleanup_free_ char *path = pool_abs(p, vol);
                return storage_du(path, bytes, err);
        }
        return storage_du(upper, bytes, err);
}

const struct storage_ops storage_overlay_ops = {
    .name = "overlay",
    .rootless = false,
    .image_volumes = true,
    .create = ovl_create,
    .destroy = pool_dirs_destroy,
    .rootfs_rel = ovl_rootfs_rel,
    .image_create = ovl_image_create,
    .volume_clone = ovl_clone,
    .volume_from_tree = ovl_from_tree,
    .volume_delete = ovl_delete,
    .volume_create = ovl_create_vol,
    .volume_mount = ovl_mount_vol,
    .volume_umount = ovl_umount_vol,
    .shift_rel = ovl_shift_rel,
    .volume_usage = ovl_usage,
};
