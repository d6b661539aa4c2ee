/* spec-resources.c: linux.resources, applied by the cgroup manager. */
#include "spec-internal.h"

#include <string.h>

static void device_rule_clear(struct vessel_device_rule *d)
{
        free(d->access);
}

static void hugepage_clear(struct vessel_hugepage_limit *h)
{
        free(h->page_size);
}

static void net_prio_clear(struct vessel_net_priority *p)
{
        free(p->name);
}

static void rdma_clear(struct vessel_rdma_limit *l)
{
        free(l->device);
}

void spec_resources_clear(struct vessel_resources *r)
{
        FREE_ARRAY(r->devices, r->n_devices, device_rule_clear);
        free(r->cpu.cpus);
        free(r->cpu.mems);
        free(r->block_io.weight_device);
        free(r->block_io.throttle_read_bps);
        free(r->block_io.throttle_write_bps);
        free(r->block_io.throttle_read_iops);
        free(r->block_io.throttle_write_iops);
        FREE_ARRAY(r->hugepage_limits, r->n_hugepage_limits, hugepage_clear);
        FREE_ARRAY(r->network.priorities, r->network.n_priorities, net_prio_clear);
        FREE_ARRAY(r->rdma, r->n_rdma, rdma_clear);
        spec_kv_free(r->unified, r->n_unified);
}

static int parse_device_rule(json_object *o, const char *path, void *item, vessel_error **err)
{
        static const struct name_val types[] = {{"a", 'a'}, {"b", 'b'}, {"c", 'c'}, {NULL, 0}};
        struct vessel_device_rule *d = item;
        long type = 'a';

        TRY(spec_required(spec_get_bool(o, path, "allow", &d->allow, err), path, "allow", err));
        TRY(spec_get_enum(o, path, "type", types, "device type", &type, err));
        d->type = (char)type;
        d->major = d->minor = -1;
        TRY(spec_get_int(o, path, "major", -1, UINT32_MAX, &d->major, err));
        TRY(spec_get_int(o, path, "minor", -1, UINT32_MAX, &d->minor, err));
        TRY(spec_get_str(o, path, "access", &d->access, err));
        if (d->access && d->access[strspn(d->access, "rwm")])
                return spec_fail(err, AT(path, "access"), "invalid access \"%s\" (only r, w, m)",
                                 d->access);
        if (d->access && !d->access[0]) {
                free(d->access);
                d->access = NULL;
        }
        return 0;
}

#define BLKIO_WEIGHT_MIN 10
#define BLKIO_WEIGHT_MAX 1000

static int get_major_minor(json_object *o, const char *path, int64_t *major, int64_t *minor,
                           vessel_error **err)
{
        TRY(spec_required(spec_get_int(o, path, "major", 0, UINT32_MAX, major, err), path, "major",
                          err));
        TRY(spec_required(spec_get_int(o, path, "minor", 0, UINT32_MAX, minor, err), path, "minor",
                          err));
        return 0;
}

static int parse_weight_device(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_weight_device *d = item;

        TRY(get_major_minor(o, path, &d->major, &d->minor, err));
        TRY(spec_get_opt_u64(o, path, "weight", BLKIO_WEIGHT_MIN, BLKIO_WEIGHT_MAX, &d->weight,
                             err));
        TRY(spec_get_opt_u64(o, path, "leafWeight", BLKIO_WEIGHT_MIN, BLKIO_WEIGHT_MAX,
                             &d->leaf_weight, err));
        return 0;
}

static int parse_throttle_device(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_throttle_device *d = item;

        TRY(get_major_minor(o, path, &d->major, &d->minor, err));
        TRY(spec_required(spec_get_uint(o, path, "rate", 0, UINT64_MAX, &d->rate, err), path,
                          "rate", err));
        return 0;
}

static int parse_block_io(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_resources *res = item;
        const struct {
                const char *key;
                struct vessel_throttle_device **list;
                size_t *n;
        } throttles[] = {
            {"throttleReadBpsDevice", &res->block_io.throttle_read_bps,
             &res->block_io.n_throttle_read_bps},
            {"throttleWriteBpsDevice", &res->block_io.throttle_write_bps,
             &res->block_io.n_throttle_write_bps},
            {"throttleReadIOPSDevice", &res->block_io.throttle_read_iops,
             &res->block_io.n_throttle_read_iops},
            {"throttleWriteIOPSDevice", &res->block_io.throttle_write_iops,
             &res->block_io.n_throttle_write_iops},
        };

        TRY(spec_get_opt_u64(o, w, "weight", BLKIO_WEIGHT_MIN, BLKIO_WEIGHT_MAX,
                             &res->block_io.weight, err));
        TRY(spec_get_opt_u64(o, w, "leafWeight", BLKIO_WEIGHT_MIN, BLKIO_WEIGHT_MAX,
                             &res->block_io.leaf_weight, err));
        TRY(GET_OBJ_ARRAY(o, w, "weightDevice", res->block_io.weight_device,
                          res->block_io.n_weight_device, parse_weight_device, err));
        for (size_t i = 0; i < ARRAY_SIZE(throttles); i++)
                TRY(spec_get_obj_array(o, w, throttles[i].key, sizeof(**throttles[i].list),
                                       (void **)throttles[i].list, throttles[i].n,
                                       parse_throttle_device, err));
        return 0;
}

static int parse_memory(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_resources *res = item;
        const struct {
                const char *key;
                struct vessel_opt_i64 *dst;
        } limits[] = {
            {"limit", &res->memory.limit},
            {"reservation", &res->memory.reservation},
            {"swap", &res->memory.swap},
            {"kernel", &res->memory.kernel},
            {"kernelTCP", &res->memory.kernel_tcp},
        };
        const struct {
                const char *key;
                bool *has, *dst;
        } flags[] = {
            {"disableOOMKiller", &res->memory.has_disable_oom_killer,
             &res->memory.disable_oom_killer},
            {"useHierarchy", &res->memory.has_use_hierarchy, &res->memory.use_hierarchy},
            {"checkBeforeUpdate", &res->memory.has_check_before_update,
             &res->memory.check_before_update},
        };
        int r;

        /* -1 = unlimited; any other negative value is a mistake */
        for (size_t i = 0; i < ARRAY_SIZE(limits); i++)
                TRY(spec_get_opt_i64(o, w, limits[i].key, -1, INT64_MAX, limits[i].dst, err));
        TRY(spec_get_opt_u64(o, w, "swappiness", 0, 100, &res->memory.swappiness, err));
        for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
                TRY(r = spec_get_bool(o, w, flags[i].key, flags[i].dst, err));
                *flags[i].has = r > 0;
        }
        return 0;
}

static int parse_cpu(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_resources *res = item;
        const struct {
                const char *key;
                struct vessel_opt_u64 *dst;
        } unsigned_[] = {
            {"shares", &res->cpu.shares},
            {"period", &res->cpu.period},
            {"realtimePeriod", &res->cpu.realtime_period},
            {"burst", &res->cpu.burst},
        };
        const struct {
                const char *key;
                struct vessel_opt_i64 *dst;
        } signed_[] = {
            {"quota", &res->cpu.quota},
            {"realtimeRuntime", &res->cpu.realtime_runtime},
            {"idle", &res->cpu.idle},
        };

        for (size_t i = 0; i < ARRAY_SIZE(unsigned_); i++)
                TRY(spec_get_opt_u64(o, w, unsigned_[i].key, 0, UINT64_MAX, unsigned_[i].dst, err));
        for (size_t i = 0; i < ARRAY_SIZE(signed_); i++)
                TRY(spec_get_opt_i64(o, w, signed_[i].key, INT64_MIN, INT64_MAX, signed_[i].dst,
                                     err));
        TRY(spec_get_cpu_list(o, w, "cpus", &res->cpu.cpus, err));
        TRY(spec_get_cpu_list(o, w, "mems", &res->cpu.mems, err));
        return 0;
}

static int parse_hugepage(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_hugepage_limit *h = item;

        TRY(spec_required(spec_get_str(o, path, "pageSize", &h->page_size, err), path, "pageSize",
                          err));
        TRY(spec_required(spec_get_uint(o, path, "limit", 0, UINT64_MAX, &h->limit, err), path,
                          "limit", err));
        return 0;
}

static int parse_net_priority(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_net_priority *p = item;

        TRY(spec_required(spec_get_str(o, path, "name", &p->name, err), path, "name", err));
        TRY(spec_required(spec_get_u32(o, path, "priority", &p->priority, err), path, "priority",
                          err));
        return 0;
}

static int parse_rdma(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_resources *res = item;
        res->rdma = xmalloc0(((size_t)json_object_object_length(o) + 1) * sizeof(*res->rdma));
        json_object_object_foreach(o, dev, jv)
        {
                struct vessel_rdma_limit *l;
                _cleanup_free_ char *path = NULL;

                if (!jv)
                        continue;
                l = &res->rdma[res->n_rdma++];
                l->device = xstrdup(dev);
                path = spec_map_path(w, NULL, dev);
                TRY(spec_expect(jv, json_type_object, AT(path, NULL), err));
                TRY(spec_get_opt_u64(jv, path, "hcaHandles", 0, UINT32_MAX, &l->hca_handles, err));
                TRY(spec_get_opt_u64(jv, path, "hcaObjects", 0, UINT32_MAX, &l->hca_objects, err));
        }
        return 0;
}

static int parse_pids(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_resources *res = item;
        int r;

        TRY(r = spec_get_int(o, w, "limit", INT64_MIN, INT64_MAX, &res->pids.limit, err));
        res->pids.present = r > 0;
        return 0;
}

static int parse_network(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_resources *res = item;

        TRY(spec_get_opt_u64(o, w, "classID", 0, UINT32_MAX, &res->network.class_id, err));
        TRY(GET_OBJ_ARRAY(o, w, "priorities", res->network.priorities, res->network.n_priorities,
                          parse_net_priority, err));
        return 0;
}

int spec_parse_resources(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_resources *res = item;

        res->present = true;
        TRY(GET_OBJ_ARRAY(o, w, "devices", res->devices, res->n_devices, parse_device_rule, err));
        TRY(spec_get_sub(o, w, "memory", parse_memory, res, err));
        TRY(spec_get_sub(o, w, "cpu", parse_cpu, res, err));
        TRY(spec_get_sub(o, w, "pids", parse_pids, res, err));
        TRY(spec_get_sub(o, w, "blockIO", parse_block_io, res, err));
        TRY(GET_OBJ_ARRAY(o, w, "hugepageLimits", res->hugepage_limits, res->n_hugepage_limits,
                          parse_hugepage, err));
        TRY(spec_get_sub(o, w, "network", parse_network, res, err));
        TRY(spec_get_sub(o, w, "rdma", parse_rdma, res, err));
        TRY(spec_get_kv(o, w, "unified", &res->unified, &res->n_unified, err));
        for (size_t i = 0; i < res->n_unified; i++) {
                if (!spec_is_file_name(res->unified[i].key)) {
                        _cleanup_free_ char *path =
                            spec_map_path(w, "unified", res->unified[i].key);
                        return spec_fail(err, AT(path, NULL), "not a cgroup file name");
                }
        }
        return 0;
}
