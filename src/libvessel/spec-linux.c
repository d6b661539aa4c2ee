/* spec-linux.c: the "linux" object of config.json but its resources and
 * seccomp sections: namespaces, id maps, time offsets, devices, sysctl,
 * propagation, paths, personality, intelRdt, memoryPolicy. */
#include "spec-internal.h"

#include <string.h>
#include <linux/mempolicy.h>
#include <sys/mount.h>
#include <sys/personality.h>

int spec_parse_idmap(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_idmap *m = item;

        TRY(spec_required(spec_get_u32(o, path, "containerID", &m->container_id, err), path,
                          "containerID", err));
        TRY(spec_required(spec_get_u32(o, path, "hostID", &m->host_id, err), path, "hostID", err));
        TRY(spec_required(spec_get_u32(o, path, "size", &m->size, err), path, "size", err));
        if (m->size == 0)
                return spec_fail(err, AT(path, "size"), "must be > 0");
        /* the kernel wants first + count to stay below 2^32 */
        if ((uint64_t)m->container_id + m->size > UINT32_MAX)
                return spec_fail(err, AT(path, "size"), "containerID + size exceeds %u",
                                 UINT32_MAX);
        if ((uint64_t)m->host_id + m->size > UINT32_MAX)
                return spec_fail(err, AT(path, "size"), "hostID + size exceeds %u", UINT32_MAX);
        return 0;
}

static void device_clear(struct vessel_device *d)
{
        free(d->path);
}

void spec_linux_clear(struct vessel_linux *l)
{
        for (int i = 0; i < VESSEL_NS_COUNT; i++)
                free(l->ns[i].path);
        free(l->uid_mappings);
        free(l->gid_mappings);
        FREE_ARRAY(l->devices, l->n_devices, device_clear);
        free(l->cgroups_path);
        spec_resources_clear(&l->resources);
        spec_kv_free(l->sysctl, l->n_sysctl);
        strv_free(l->masked_paths);
        strv_free(l->readonly_paths);
        free(l->mount_label);
        spec_seccomp_clear(&l->seccomp);
        free(l->intel_rdt_clos_id);
        free(l->memory_policy.nodes);
}

static int parse_namespaces(json_object *o, const char *w, struct vessel_linux *l,
                            vessel_error **err)
{
        json_object *a = NULL;
        size_t n = 0;

        TRY(spec_get_array(o, w, "namespaces", &a, &n, err));
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL, *type = NULL, *nspath = NULL;
                json_object *e;
                int t;

                TRY(spec_object_at(a, w, "namespaces", i, &e, &path, err));
                TRY(spec_required(spec_get_str(e, path, "type", &type, err), path, "type", err));
                t = vessel_ns_from_name(type);
                if (t < 0)
                        return spec_fail(err, AT(path, "type"), "unknown namespace type \"%s\"",
                                         type);
                if (l->ns[t].present)
                        return spec_fail(err, AT(path, "type"), "duplicate namespace \"%s\"", type);
                TRY(spec_get_abs_path(e, path, "path", &nspath, err));
                l->ns[t].present = true;
                l->ns[t].path = steal_ptr(&nspath);
        }
        return 0;
}

static int parse_time_offset(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_time_offset *t = item;

        TRY(spec_get_int(o, w, "secs", INT64_MIN, INT64_MAX, &t->secs, err));
        TRY(spec_get_u32(o, w, "nanosecs", &t->nanosecs, err));
        if (t->nanosecs >= 1000000000u)
                return spec_fail(err, AT(w, "nanosecs"), "must be < 1000000000");
        t->present = true;
        return 0;
}

static int parse_time_offsets(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_linux *l = item;

        TRY(spec_get_sub(o, w, "monotonic", parse_time_offset, &l->time_monotonic, err));
        TRY(spec_get_sub(o, w, "boottime", parse_time_offset, &l->time_boottime, err));
        return 0;
}

static int parse_device(json_object *o, const char *path, void *item, vessel_error **err)
{
        static const struct name_val types[] = {
            {"c", 'c'}, {"b", 'b'}, {"u", 'u'}, {"p", 'p'}, {NULL, 0},
        };
        struct vessel_device *d = item;
        long type;
        int r;

        TRY(spec_required(spec_get_abs_path(o, path, "path", &d->path, err), path, "path", err));
        TRY(spec_required(spec_get_enum(o, path, "type", types, "device type", &type, err), path,
                          "type", err));
        d->type = (char)type;
        TRY(r = spec_get_int(o, path, "major", 0, UINT32_MAX, &d->major, err));
        if (r == 0 && d->type != 'p')
                return spec_fail(err, AT(path, "major"), "required for type \"%c\"", d->type);
        TRY(r = spec_get_int(o, path, "minor", 0, UINT32_MAX, &d->minor, err));
        if (r == 0 && d->type != 'p')
                return spec_fail(err, AT(path, "minor"), "required for type \"%c\"", d->type);
        TRY(r = spec_get_u32(o, path, "fileMode", &d->file_mode, err));
        d->has_file_mode = r > 0;
        TRY(r = spec_get_u32(o, path, "uid", &d->uid, err));
        d->has_uid = r > 0;
        TRY(r = spec_get_u32(o, path, "gid", &d->gid, err));
        d->has_gid = r > 0;
        return 0;
}

/* No ".." components, in either "/a/b" or systemd "slice:prefix:name" form. */
static bool cgroups_path_safe(const char *s)
{
        while (*s) {
                size_t len = strcspn(s, "/:");
                if (len == 2 && s[0] == '.' && s[1] == '.')
                        return false;
                s += len;
                if (*s)
                        s++;
        }
        return true;
}

static int parse_personality(json_object *o, const char *w, void *item, vessel_error **err)
{
        static const struct name_val domains[] = {
            {"LINUX", PER_LINUX},
            {"LINUX32", PER_LINUX32},
            {NULL, 0},
        };
        struct vessel_linux *l = item;
        _cleanup_strv_ char **flags = NULL;
        size_t n = 0;
        long domain;

        TRY(spec_required(
            spec_get_enum(o, w, "domain", domains, "personality domain", &domain, err), w, "domain",
            err));
        TRY(spec_get_strv(o, w, "flags", &flags, &n, err)); /* none are defined yet */
        l->has_personality = true;
        l->personality = (unsigned long)domain;
        return 0;
}

static int parse_intel_rdt(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_linux *l = item;

        /* Any member (closID, schemata, enableCMT, ...) asks for resctrl. */
        l->has_intel_rdt = json_object_object_length(o) > 0;
        TRY(spec_get_str(o, w, "closID", &l->intel_rdt_clos_id, err));
        if (l->intel_rdt_clos_id && !spec_is_file_name(l->intel_rdt_clos_id))
                return spec_fail(err, AT(w, "closID"), "not a valid resctrl group name");
        return 0;
}

/* Which namespace a sysctl belongs to (-1: not namespaced).  key uses
 * '.' or '/' as separator. */
static int sysctl_namespace(const char *key)
{
        static const char *const ipc[] = {
            "kernel.msgmax", "kernel.msgmnb",      "kernel.msgmni",          "kernel.msg_next_id",
            "kernel.sem",    "kernel.sem_next_id", "kernel.shmall",          "kernel.shmmax",
            "kernel.shmmni", "kernel.shm_next_id", "kernel.shm_rmid_forced", NULL,
        };
        _cleanup_free_ char *k = xstrdup(key);

        for (char *p = k; *p; p++)
                if (*p == '/')
                        *p = '.';
        if (str_has_prefix(k, "net."))
                return VESSEL_NS_NET;
        if (str_has_prefix(k, "fs.mqueue.") || vessel_name_index(ipc, k) >= 0)
                return VESSEL_NS_IPC;
        if (!strcmp(k, "kernel.hostname") || !strcmp(k, "kernel.domainname"))
                return VESSEL_NS_UTS;
        return -1;
}

/* Keys name files under /proc/sys ("net.ipv4.ip_forward" or "net/ipv4/...");
 * only namespaced ones are allowed, and only with their namespace, or they
 * would change the host. */
static int check_sysctl(const struct vessel_linux *l, const char *w, vessel_error **err)
{
        for (size_t i = 0; i < l->n_sysctl; i++) {
                const char *k = l->sysctl[i].key;
                _cleanup_free_ char *path = NULL;
                int ns;

                if (!k[0] || k[0] == '/' || k[0] == '.' || strstr(k, "..")) {
                        path = spec_map_path(w, "sysctl", k);
                        return spec_fail(err, AT(path, NULL), "invalid sysctl name");
                }
                ns = sysctl_namespace(k);
                if (ns < 0) {
                        /* As runc: anything else is global and would change the host. */
                        path = spec_map_path(w, "sysctl", k);
                        return spec_fail(err, AT(path, NULL),
                                         "not a namespaced sysctl; it would change the host");
                }
                if (!l->ns[ns].present) {
                        path = spec_map_path(w, "sysctl", k);
                        return spec_fail(err, AT(path, NULL), "needs its own %s namespace",
                                         vessel_ns_name(ns));
                }
        }
        return 0;
}

#ifndef MPOL_F_NUMA_BALANCING
#define MPOL_F_NUMA_BALANCING (1 << 13)
#endif

/* What set_mempolicy(2) would reject (or, for flags with MPOL_DEFAULT,
 * ignore), refused here with the path, as runc does: nodes only for the
 * modes that use them, at least one for those that need one. */
static int check_memory_policy(const struct vessel_memory_policy *mp, const char *w,
                               vessel_error **err)
{
        const char *name = vessel_mpol_mode_names[mp->mode];
        const unsigned both = MPOL_F_STATIC_NODES | MPOL_F_RELATIVE_NODES;

        switch (mp->mode) {
        case MPOL_DEFAULT:
        case MPOL_LOCAL:
                if (mp->has_nodes)
                        return spec_fail(err, AT(w, "nodes"), "must be empty for %s", name);
                if (mp->flags)
                        return spec_fail(err, AT(w, "flags"), "%s takes no flags", name);
                return 0;
        case MPOL_PREFERRED: /* no nodes: allocate on the local node */
                break;
        default:
                if (!mp->has_nodes)
                        return spec_fail(err, AT(w, "nodes"), "%s needs at least one node", name);
        }
        if ((mp->flags & both) == both)
                return spec_fail(
                    err, AT(w, "flags"),
                    "MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other");
        if ((mp->flags & MPOL_F_NUMA_BALANCING) && mp->mode != MPOL_BIND &&
            mp->mode != MPOL_PREFERRED_MANY)
                return spec_fail(err, AT(w, "flags"),
                                 "MPOL_F_NUMA_BALANCING is only for MPOL_BIND and "
                                 "MPOL_PREFERRED_MANY, not %s",
                                 name);
        return 0;
}

static int parse_memory_policy(json_object *o, const char *w, void *item, vessel_error **err)
{
        static const struct name_val flags[] = {
            {"MPOL_F_NUMA_BALANCING", MPOL_F_NUMA_BALANCING},
            {"MPOL_F_RELATIVE_NODES", MPOL_F_RELATIVE_NODES},
            {"MPOL_F_STATIC_NODES", MPOL_F_STATIC_NODES},
            {NULL, 0},
        };
        struct vessel_memory_policy *mp = item;
        _cleanup_free_ char *mode = NULL;
        uint64_t fl = 0;

        TRY(spec_required(spec_get_str(o, w, "mode", &mode, err), w, "mode", err));
        mp->mode = vessel_name_index(vessel_mpol_mode_names, mode);
        if (mp->mode < 0)
                return spec_fail(err, AT(w, "mode"), "unknown memory policy mode \"%s\"", mode);
        TRY(spec_get_id_mask(o, w, "nodes", mp->nodemask, VESSEL_MPOL_MAX_NODES, &mp->nodes, err));
        for (size_t i = 0; i < ARRAY_SIZE(mp->nodemask); i++)
                mp->has_nodes |= mp->nodemask[i] != 0;
        TRY(spec_get_flags(o, w, "flags", flags, "memory policy flag", &fl, err));
        mp->flags = (unsigned)fl;
        mp->present = true;
        return check_memory_policy(mp, w, err);
}

int spec_parse_linux(json_object *o, const char *w, void *item, vessel_error **err)
{
        static const struct name_val propagations[] = {
            {"private", MS_PRIVATE},
            {"rprivate", MS_PRIVATE | MS_REC},
            {"slave", MS_SLAVE},
            {"rslave", MS_SLAVE | MS_REC},
            {"shared", MS_SHARED},
            {"rshared", MS_SHARED | MS_REC},
            {"unbindable", MS_UNBINDABLE},
            {"runbindable", MS_UNBINDABLE | MS_REC},
            {NULL, 0},
        };
        struct vessel_linux *l = item;
        long prop;
        int r;

        TRY(parse_namespaces(o, w, l, err));
        TRY(GET_OBJ_ARRAY(o, w, "uidMappings", l->uid_mappings, l->n_uid_mappings, spec_parse_idmap,
                          err));
        TRY(GET_OBJ_ARRAY(o, w, "gidMappings", l->gid_mappings, l->n_gid_mappings, spec_parse_idmap,
                          err));
        TRY(spec_get_sub(o, w, "timeOffsets", parse_time_offsets, l, err));
        TRY(GET_OBJ_ARRAY(o, w, "devices", l->devices, l->n_devices, parse_device, err));
        TRY(spec_get_str(o, w, "cgroupsPath", &l->cgroups_path, err));
        if (l->cgroups_path && !cgroups_path_safe(l->cgroups_path))
                return spec_fail(err, AT(w, "cgroupsPath"), "must not contain \"..\" components");
        TRY(spec_get_sub(o, w, "resources", spec_parse_resources, &l->resources, err));
        TRY(spec_get_kv(o, w, "sysctl", &l->sysctl, &l->n_sysctl, err));
        TRY(check_sysctl(l, w, err));
        TRY(r = spec_get_enum(o, w, "rootfsPropagation", propagations, "rootfs propagation", &prop,
                              err));
        if (r > 0)
                l->rootfs_propagation = (unsigned long)prop;
        TRY(spec_get_abs_paths(o, w, "maskedPaths", &l->masked_paths, &l->n_masked_paths, err));
        TRY(spec_get_abs_paths(o, w, "readonlyPaths", &l->readonly_paths, &l->n_readonly_paths,
                               err));
        TRY(spec_get_str(o, w, "mountLabel", &l->mount_label, err));
        TRY(spec_get_sub(o, w, "personality", parse_personality, l, err));
        TRY(spec_get_sub(o, w, "seccomp", spec_parse_seccomp, &l->seccomp, err));
        TRY(spec_get_sub(o, w, "intelRdt", parse_intel_rdt, l, err));
        TRY(spec_get_sub(o, w, "memoryPolicy", parse_memory_policy, &l->memory_policy, err));
        return 0;
}
