/* storage-dir.c: the dir back end: every volume a plain directory, a
 * clone a copy (cp -a --reflink=auto: file data shared where the file
 * system can, btrfs and xfs; copied elsewhere).  Instances are copied
 * from the store's own images/<fp>/rootfs: no image volumes. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "storage.h"
#include "storage-internal.h"
#include "util.h"

static char *dir_rootfs_rel(const char *vol)
{
        return xstrdup(vol);
}

static int dir_clone(struct vessel_store *s, struct storage_pool *p, const char *src,
                     const char *vol, vessel_error **err)
{
        _cleanup_free_ char *from = pool_abs(p, src), *to = pool_abs(p, vol);

        return storage_cp(s, from, to, err);
}

static int dir_create_vol(struct vessel_store *s, struct storage_pool *p, const char *vol,
                          vessel_error **err)
{
        _cleanup_free_ char *path = pool_abs(p, vol);

        (void)s;
        return mkdir(path, 0755) < 0 ? vessel_error_sys(err, "mkdir %s", path) : 0;
}

static int dir_delete(struct vessel_store *s, struct storage_pool *p, const char *vol,
                      vessel_error **err)
{
        _cleanup_free_ char *path = pool_abs(p, vol);

        return storage_rm(s, path, err);
}

static int dir_usage(struct vessel_store *s, struct storage_pool *p, const char *vol,
                     uint64_t *bytes, vessel_error **err)
{
        _cleanup_free_ char *path = pool_abs(p, vol);

        (void)s;
        return storage_du(path, bytes, err);
}

const struct storage_ops storage_dir_ops = {
    .name = "dir",
    .rootless = true,
    .image_volumes = false,
    .create = pool_dirs_create,
    .destroy = pool_dirs_destroy,
    .rootfs_rel = dir_rootfs_rel,
    .volume_clone = dir_clone,
    /* dir_clone takes an absolute src as it is. */
    .volume_from_tree = dir_clone,
    .volume_delete = dir_delete,
    .volume_create = dir_create_vol,
    .volume_usage = dir_usage,
};
