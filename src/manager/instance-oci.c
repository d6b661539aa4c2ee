/* instance-oci.c: the config.json of an instance in the store (its
 * expanded configuration through oci-gen, with the host's facts). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/sysinfo.h>

#include "device.h"
#include "idshift.h"
#include "instance.h"
#include "lxcfs.h"
#include "mknod-supervisor.h"
#include "oci-gen.h"
#include "rootless.h"
#include "rundir.h"
#include "storage.h"
#include "util.h"

static long long host_memory(void)
{
        struct sysinfo si;

        return sysinfo(&si) == 0 ? (long long)si.totalram * si.mem_unit : 0;
}

static bool lxcfs_wanted(const struct confset *c)
{
        const char *v = kvlist_get(&c->config, "security.lxcfs");
        bool on = true;

        if (v)
                config_parse_bool(v, &on);
        return on;
}

/* /dev/fuse goes to a rootless instance only if the user may open it:
 * the runtime can only bind it from the host. */
static bool fuse_openable(void)
{
        int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

        if (fd < 0)
                return false;
        close(fd);
        return true;
}

/* security.lxcfs (default true): the live lxcfs directory, started
 * first when start says so. */
static char *lxcfs_for(const struct confset *c, bool start)
{
        char *dir = NULL;

        if (!lxcfs_wanted(c))
                return NULL;
        if (!start)
                return lxcfs_live_dir();
        lxcfs_ensure(&dir);
        return dir;
}

/* An overlay volume (storage-overlay.c): its upper layer shifted into
 * the range, its lower layers mounted idmapped to it. */
static int layer_prepare(struct vessel_store *s, struct storage_pool *p, const struct instance *i,
                         int dfd, uint64_t base, uint64_t size, vessel_error **err)
{
        _cleanup_free_ char *vol = storage_volume_path("containers", i->volume);
        _cleanup_free_ char *rel = p->ops->shift_rel(vol);
        _cleanup_free_ char *dir = xasprintf("%s/%s", p->path, rel);
        int r = idshift_prepare_layer(dfd, i->name, dir, base, size, err);

        if (r == 0)
                r = storage_volume_mount(s, p, vol, base, size, err);
        return r < 0 ? vessel_error_prefix(err, "instance %s", i->name) : 0;
}

/* The root disk device (path /): its pool must be the instance's (a move
 * changes that), its size= is applied to the volume at every start (and
 * lifted when unset). */
static int root_disk_apply(struct vessel_store *s, const struct instance *i,
                           const struct confset *c, vessel_error **err)
{
        const struct device *root = NULL;
        struct storage_pool p;
        uint64_t bytes = 0;
        int r;

        for (size_t k = 0; k < c->devices.n; k++)
                if (device_is_root_disk(&c->devices.v[k]))
                        root = &c->devices.v[k];
        if (!i->pool_id) {
                if (root && kvlist_get(&root->cfg, "size"))
                        return vessel_error_msg(err, ENOTSUP,
                                                "instance %s: root disk size=: the instance is "
                                                "in no storage pool (made before pools)",
                                                i->name);
                return 0;
        }
        const char *want = root ? kvlist_get(&root->cfg, "pool") : NULL;
        if (want && strcmp(want, i->pool))
                return vessel_error_msg(err, EINVAL,
                                        "instance %s: root disk pool=%s, but the instance is in "
                                        "pool %s (vesselctl move -s %s moves it)",
                                        i->name, want, i->pool, want);
        const char *size = root ? kvlist_get(&root->cfg, "size") : NULL;
        if (size && storage_size_parse(size, &bytes, err) < 0)
                return vessel_error_prefix(err, "instance %s: root disk", i->name);
        if ((r = storage_pool_get_id(s, i->pool_id, &p, err)) < 0)
                return r;
        _cleanup_free_ char *vol = storage_volume_path("containers", i->volume);
        r = storage_volume_quota(s, &p, vol, bytes, err);
        storage_pool_free(&p);
        return r < 0 ? vessel_error_prefix(err, "instance %s", i->name) : 0;
}

static int oci_config(struct vessel_store *s, const char *name, bool start, char **json,
                      vessel_error **err)
{
        struct instance i = {0};
        struct confset c = {0};
        struct instance_idmap m = {0};
        int r;

        if ((r = instance_get(s, name, &i, err)) < 0)
                return r;
        bool rootless = store_is_rootless(s);
        struct idrange_user u = {0};

        if ((r = instance_expand(s, &i, &c, err)) == 0 && start)
                r = root_disk_apply(s, &i, &c, err);
        if (r == 0 && rootless && start)
                r = rootless_config_check(&c, rootless_cgroup_delegated(), err) < 0
                        ? vessel_error_prefix(err, "instance %s", name)
                        : 0;
        if (r == 0 && rootless)
                r = idrange_user_read(&u, err);
        if (r == 0 && (r = idrange_ensure(s, i.id, name, &c, &m, err)) == 0) {
                _cleanup_free_ char *rootfs = xasprintf("%s/instances/%s/rootfs", s->root, name);
                _cleanup_free_ char *cgroup = instance_cgroup_path(s, name);
                _cleanup_free_ char *lxcfs = rootless ? NULL : lxcfs_for(&c, start);
                bool shifted = false;
                if (rootless && start && lxcfs_wanted(&c))
                        fprintf(stderr,
                                "vesselctl: instance %s: rootless store: no lxcfs (its "
                                "mount is root's): /proc shows the host's figures\n",
                                name);
                if (!m.privileged) {
                        _cleanup_close_ int dfd =
                            openat(s->instances_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                        struct storage_pool p = {0};
                        bool layered = false;
                        if (i.pool_id && storage_pool_get_id(s, i.pool_id, &p, NULL) == 0)
                                layered = p.ops->shift_rel != NULL;
                        if (dfd < 0)
                                r = vessel_error_sys(err, "instance %s: open its directory", name);
                        else if (layered)
                                r = start ? layer_prepare(s, &p, &i, dfd, m.base, m.size, err) : 0;
                        else if (start) {
                                /* The walk must not stop at the symlink. */
                                _cleanup_free_ char *real = realpath(rootfs, NULL);
                                r = idshift_prepare(dfd, name, real ? real : rootfs, m.base, m.size,
                                                    rootless ? &u : NULL, &shifted, err);
                        } else
                                /* A rootless store's start always shifts. */
                                shifted = rootless || idshift_recorded(dfd, m.base, m.size);
                        if (layered)
                                shifted = true;
                        storage_pool_free(&p);
                        if (r < 0)
                                goto out;
                }
                struct rundir rd;
                rundir_at(s->root, name, &rd);
                _cleanup_free_ char *listener =
                    xasprintf("%s/%s", rd.inst, MKNOD_SUPERVISOR_SOCKET);
                rundir_free(&rd);
                struct oci_gen_input in = {.name = name,
                                           .rootfs = rootfs,
                                           .cgroup_path = cgroup,
                                           .conf = &c,
                                           .host_memory_bytes = host_memory(),
                                           .host_caps = oci_gen_host_caps(),
                                           .idmap = &m,
                                           .rootfs_shifted = shifted,
                                           .lxcfs_dir = lxcfs,
                                           /* A non-root monitor cannot make nodes. */
                                           .seccomp_listener = rootless ? NULL : listener,
                                           .no_fuse = rootless && !fuse_openable(),
                                           .no_cgroup_inner = rootless};
                if ((r = oci_gen(&in, json, err)) < 0)
                        vessel_error_prefix(err, "instance %s", name);
        }
out:
        idrange_user_free(&u);
        instance_idmap_free(&m);
        confset_free(&c);
        instance_free(&i);
        return r;
}

int instance_oci_config(struct vessel_store *s, const char *name, char **json, vessel_error **err)
{
        return oci_config(s, name, false, json, err);
}

int instance_oci_config_start(struct vessel_store *s, const char *name, char **json,
                              vessel_error **err)
{
        return oci_config(s, name, true, json, err);
}

/* /vessel/<store key>/<name>: under vessel's own sub-tree, apart for
 * every store, so that two stores' instances of one name never share a
 * cgroup. */
char *instance_cgroup_path(struct vessel_store *s, const char *name)
{
        char key[13];

        rundir_store_key(s->root, key);
        /* Rootless: relative, which the runtime takes below the cgroup
         * subtree delegated to the user (if any). */
        return xasprintf("%svessel/%s/%s", store_is_rootless(s) ? "" : "/", key, name);
}
