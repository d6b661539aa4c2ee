/* cgroup-resources.c: linux.resources: checked before anything exists
 * (cgroup_validate), then applied controller by controller through the
 * back end of the hierarchy that serves each one (cg_apply, cgroup_update). */
#include "cgroup-internal.h"
#include "util.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define R "linux.resources."

/* ------------------------------------------------- shared setters */

int cg_pids_set(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err)
{
        if (!r->pids.present)
                return 0;
        if (r->pids.limit > 0)
                return cg_writef(h, R "pids.limit", "pids.max", err, "%" PRId64, r->pids.limit);
        return cg_write(h, R "pids.limit", "pids.max", "max", err);
}

int cg_rdma_set(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err)
{
        for (size_t i = 0; i < r->n_rdma; i++) {
                const struct vessel_rdma_limit *l = &r->rdma[i];
                _cleanup_free_ char *what = xasprintf(R "rdma[\"%s\"]", l->device);
                char handles[40] = "", objects[40] = "";
                int rc;

                if (l->hca_handles.set)
                        snprintf(handles, sizeof(handles), " hca_handle=%" PRIu64,
                                 l->hca_handles.v);
                if (l->hca_objects.set)
                        snprintf(objects, sizeof(objects), " hca_object=%" PRIu64,
                                 l->hca_objects.v);
                if (!handles[0] && !objects[0])
                        continue;
                if ((rc = cg_writef(h, what, "rdma.max", err, "%s%s%s", l->device, handles,
                                    objects)) < 0)
                        return rc;
        }
        return 0;
}

/* --------------------------------------------------- what is asked */

static bool want_cpuset(const struct vessel_resources *r)
{
        return r->cpu.cpus || r->cpu.mems;
}

static bool want_memory(const struct vessel_resources *r)
{
        const typeof(r->memory) *m = &r->memory;
        return m->limit.set || m->reservation.set || m->swap.set || m->kernel.set ||
               m->kernel_tcp.set || m->swappiness.set || m->has_disable_oom_killer ||
               m->has_use_hierarchy;
}

static bool want_cpu(const struct vessel_resources *r)
{
        const typeof(r->cpu) *c = &r->cpu;
        return (c->shares.set && c->shares.v) || (c->quota.set && c->quota.v) ||
               (c->period.set && c->period.v) || c->burst.set || c->realtime_period.set ||
               c->realtime_runtime.set || c->idle.set;
}

static bool want_pids(const struct vessel_resources *r)
{
        return r->pids.present;
}

static bool want_blkio(const struct vessel_resources *r)
{
        const typeof(r->block_io) *b = &r->block_io;
        return b->weight.set || b->leaf_weight.set || b->n_weight_device ||
               b->n_throttle_read_bps || b->n_throttle_write_bps || b->n_throttle_read_iops ||
               b->n_throttle_write_iops;
}

static bool want_hugetlb(const struct vessel_resources *r)
{
        return r->n_hugepage_limits > 0;
}

static bool want_net_cls(const struct vessel_resources *r)
{
        return r->network.class_id.set;
}

static bool want_net_prio(const struct vessel_resources *r)
{
        return r->network.n_priorities > 0;
}

static bool want_rdma(const struct vessel_resources *r)
{
        return r->n_rdma > 0;
}

static const struct step {
        enum cg_ctrl ctrl;
        size_t setter; /* offsetof(struct cg_backend, ...) */
        bool (*wanted)(const struct vessel_resources *r);
        const char *what;
} steps[] = {
    {CG_CPUSET, offsetof(struct cg_backend, cpuset), want_cpuset, R "cpu.cpus/mems"},
    {CG_MEMORY, offsetof(struct cg_backend, memory), want_memory, R "memory"},
    {CG_CPU, offsetof(struct cg_backend, cpu), want_cpu, R "cpu"},
    {CG_PIDS, offsetof(struct cg_backend, pids), want_pids, R "pids"},
    {CG_BLKIO, offsetof(struct cg_backend, blkio), want_blkio, R "blockIO"},
    {CG_HUGETLB, offsetof(struct cg_backend, hugetlb), want_hugetlb, R "hugepageLimits"},
    {CG_NET_CLS, offsetof(struct cg_backend, network), want_net_cls, R "network.classID"},
    {CG_NET_PRIO, offsetof(struct cg_backend, network), want_net_prio, R "network.priorities"},
    {CG_RDMA, offsetof(struct cg_backend, rdma), want_rdma, R "rdma"},
};

static int unified_ctrl(const char *key)
{
        size_t len = strcspn(key, ".");

        for (int c = 0; c < CG_COUNT; c++)
                if (cg_ctrl_v2_name(c) && strlen(cg_ctrl_v2_name(c)) == len &&
                    !strncmp(cg_ctrl_v2_name(c), key, len))
                        return c;
        return -1;
}

uint32_t cg_v2_needed(const struct vessel_resources *r)
{
        uint32_t mask = 0;

        for (size_t i = 0; i < ARRAY_SIZE(steps); i++)
                if (cg_ctrl_v2_name(steps[i].ctrl) && steps[i].wanted(r))
                        mask |= CG_BIT(steps[i].ctrl);
        for (size_t i = 0; i < r->n_unified; i++) {
                int c = unified_ctrl(r->unified[i].key);
                if (c >= 0)
                        mask |= CG_BIT(c);
        }
        return mask;
}

/* ---------------------------------------------------------- validate */

/* cgroup.* files in linux.resources.unified that a container may set:
 * the others would move processes or reshape the tree. */
static const char *const cgroup_keys_allowed[] = {"cgroup.max.depth", "cgroup.max.descendants",
                                                  NULL};

static int validate_unified(const struct vessel_resources *r, vessel_error **err)
{
        for (size_t i = 0; i < r->n_unified; i++) {
                const char *k = r->unified[i].key, *v = r->unified[i].value;
                if (!strchr(k, '.'))
                        return vessel_error_msg(err, EINVAL,
                                                R "unified[\"%s\"]: not a cgroup v2 file name "
                                                  "(controller.file)",
                                                k);
                if (str_has_prefix(k, "cgroup.") && vessel_name_index(cgroup_keys_allowed, k) < 0)
                        return vessel_error_msg(
                            err, EPERM, R "unified[\"%s\"]: a container may not set this file", k);
                if (strchr(v, '\n') && strchr(v, '\n')[1])
                        return vessel_error_msg(err, EINVAL, R "unified[\"%s\"]: one line only", k);
        }
        return 0;
}

static int validate_names(const struct vessel_resources *r, vessel_error **err)
{
        for (size_t i = 0; i < r->n_hugepage_limits; i++)
                if (!cgroup_hugepage_size_valid(r->hugepage_limits[i].page_size))
                        return vessel_error_msg(err, EINVAL,
                                                R "hugepageLimits[%zu].pageSize: invalid page size "
                                                  "\"%s\" (such as 2MB or 1GB)",
                                                i, r->hugepage_limits[i].page_size);
        for (size_t i = 0; i < r->n_rdma; i++)
                if (!r->rdma[i].device[0] || strpbrk(r->rdma[i].device, " \n\t"))
                        return vessel_error_msg(err, EINVAL, R "rdma: invalid device name \"%s\"",
                                                r->rdma[i].device);
        for (size_t i = 0; i < r->network.n_priorities; i++)
                if (!r->network.priorities[i].name[0] ||
                    strpbrk(r->network.priorities[i].name, " \n\t"))
                        return vessel_error_msg(err, EINVAL,
                                                R "network.priorities[%zu].name: invalid interface "
                                                  "name \"%s\"",
                                                i, r->network.priorities[i].name);
        return 0;
}

int cgroup_validate_resources(const struct vessel_resources *r, vessel_error **err)
{
        int64_t swap;
        int rc;

        if (r->cpu.quota.set && r->cpu.quota.v < -1)
                return vessel_error_msg(err, EINVAL,
                                        R "cpu.quota: %" PRId64 " is not a quota "
                                          "(microseconds, or -1 for none)",
                                        r->cpu.quota.v);
        if (r->cpu.realtime_runtime.set && r->cpu.realtime_runtime.v < -1)
                return vessel_error_msg(err, EINVAL,
                                        R "cpu.realtimeRuntime: %" PRId64 " is not a "
                                          "runtime (microseconds, or -1 for none)",
                                        r->cpu.realtime_runtime.v);
        if (r->cpu.idle.set && r->cpu.idle.v != 0 && r->cpu.idle.v != 1)
                return vessel_error_msg(err, EINVAL, R "cpu.idle: must be 0 or 1, not %" PRId64,
                                        r->cpu.idle.v);
        if (r->cpu.shares.set && r->cpu.shares.v > 262144)
                return vessel_error_msg(err, EINVAL, R "cpu.shares: %" PRIu64 " is above 262144",
                                        r->cpu.shares.v);
        if (r->pids.present && r->pids.limit < -1)
                return vessel_error_msg(err, EINVAL,
                                        R "pids.limit: %" PRId64 " is not a limit "
                                          "(a number of tasks, or -1 for none)",
                                        r->pids.limit);
        if ((rc = cgroup_swap_to_v2(r->memory.limit, r->memory.swap, &swap, err)) < 0)
                return rc;
        if ((rc = validate_names(r, err)) < 0)
                return rc;
        return validate_unified(r, err);
}

int cgroup_validate(const struct vessel_spec *spec, vessel_error **err)
{
        _cleanup_free_ char *path = NULL;
        int rc;

        if ((rc = cgroup_path_normalize(spec->linux_.cgroups_path, "ID", &path, err)) < 0)
                return rc;
        if ((rc = cg_inner_validate(spec, err)) < 0)
                return rc;
        return cgroup_validate_resources(&spec->linux_.resources, err);
}

/* ------------------------------------------------------------- apply */

static int no_controller(const struct vessel_cgroup *cg, const struct step *s, vessel_error **err)
{
        const char *name = cg_ctrl_v1_name(s->ctrl);

        if (cg->layout == CGROUP_LAYOUT_V2 && cg_ctrl_v2_name(s->ctrl))
                name = cg_ctrl_v2_name(s->ctrl);
        if (cg->layout == CGROUP_LAYOUT_V2 && !cg_ctrl_v2_name(s->ctrl))
                return vessel_error_msg(err, EOPNOTSUPP,
                                        "%s: the %s controller does not exist in cgroup v2",
                                        s->what, name);
        return vessel_error_msg(
            err, EOPNOTSUPP, "%s: no %s controller for the container's cgroup %s on this %s host%s",
            s->what, name, cg->path, cgroup_layout_name(cg->layout),
            cg->rootless && cg->layout == CGROUP_LAYOUT_HYBRID
                ? " (a rootless container has a cgroup in the delegated cgroup2 subtree only, "
                  "not in the v1 hierarchies)"
                : "");
}

static int apply_unified(const struct vessel_cgroup *cg, const struct vessel_resources *r,
                         vessel_error **err)
{
        for (size_t i = 0; i < r->n_unified; i++) {
                const char *k = r->unified[i].key;
                int c = unified_ctrl(k), rc;
                struct cg_hier *h = c >= 0 ? cg_hier_of(cg, c) : NULL;

                /* cgroup.* core files only exist on cgroup2. */
                if (c < 0 && cg->unified && cg->unified->fd >= 0)
                        h = cg->unified;
                if (!h)
                        return vessel_error_msg(err, EOPNOTSUPP,
                                                R "unified[\"%s\"]: no cgroup v2 hierarchy or "
                                                  "controller for it on this %s host",
                                                k, cgroup_layout_name(cg->layout));
                if ((rc = cg_backend(h)->unified(h, k, r->unified[i].value, err)) < 0)
                        return rc;
        }
        return 0;
}

static int apply_devices(const struct vessel_cgroup *cg, const struct vessel_resources *r,
                         vessel_error **err)
{
        _cleanup_free_ struct cgroup_dev_rule *rules = NULL;
        struct cg_hier *h = cg_hier_of(cg, CG_DEVICES);
        size_t n;

        if (!h)
                return vessel_error_msg(err, EOPNOTSUPP,
                                        R "devices: no devices controller for the container's "
                                          "cgroup on this %s host",
                                        cgroup_layout_name(cg->layout));
        cgroup_device_rules(r->devices, r->n_devices, &rules, &n);
        return cg_backend(h)->devices(h, rules, n, err);
}

int cg_apply(const struct vessel_cgroup *cg, const struct vessel_resources *r, bool devices,
             vessel_error **err)
{
        int rc;

        for (size_t i = 0; i < ARRAY_SIZE(steps); i++) {
                const struct step *s = &steps[i];
                struct cg_hier *h;
                cg_setter set;

                if (!s->wanted(r))
                        continue;
                h = cg_hier_of(cg, s->ctrl);
                if (!h)
                        return no_controller(cg, s, err);
                set = *(const cg_setter *)((const char *)cg_backend(h) + s->setter);
                if (!set)
                        return no_controller(cg, s, err);
                if ((rc = set(h, r, err)) < 0)
                        return rc;
        }
        /* Rootless: no device rules, as crun and runc: bpf(2) needs
         * CAP_BPF and CAP_SYS_ADMIN, and the user namespace already keeps
         * the container from making or opening devices the user cannot. */
        if (devices && r->n_devices && !cg->rootless && (rc = apply_devices(cg, r, err)) < 0)
                return rc;
        /* Last, so that its values win, as in runc. */
        return apply_unified(cg, r, err);
}

/* memory.checkBeforeUpdate: refuse a limit below what is in use. */
static int check_memory_update(const struct vessel_cgroup *cg, const struct vessel_resources *r,
                               vessel_error **err)
{
        struct cg_hier *h = cg_hier_of(cg, CG_MEMORY);
        uint64_t used;

        if (!h || !r->memory.check_before_update || !r->memory.limit.set || r->memory.limit.v <= 0)
                return 0;
        if (cg_read_u64(h, h->v2 ? "memory.current" : "memory.usage_in_bytes", &used) < 0)
                return 0;
        if (used > (uint64_t)r->memory.limit.v)
                return vessel_error_msg(err, EBUSY,
                                        R "memory.limit: %" PRId64 " is below the current usage "
                                          "(%" PRIu64 ") and checkBeforeUpdate is set",
                                        r->memory.limit.v, used);
        return 0;
}

int cgroup_update(const struct vessel_cgroup *cg, const struct vessel_resources *r,
                  vessel_error **err)
{
        uint32_t need;
        int rc;

        if (!cg || cg->disabled)
                return vessel_error_msg(err, EOPNOTSUPP,
                                        "the container has no cgroup (--cgroup-manager disabled)");
        if ((rc = cgroup_validate_resources(r, err)) < 0 ||
            (rc = check_memory_update(cg, r, err)) < 0)
                return rc;
        /* A controller that only cgroup2 has on a hybrid host (hugetlb) is
         * enabled when first asked for. */
        need = cg_v2_needed(r) & (cg->unified ? cg->unified->mask : 0);
        /* Rootless: create enabled every controller delegated to the user;
         * one missing here was not, and cannot be enabled from above. */
        if (cg->rootless && cg->unified && cg->unified->fd >= 0) {
                if ((rc = cg_v2_check_delegated(cg->unified->fd, cg->unified->dir, need, err)) < 0)
                        return rc;
        } else if (cg->layout != CGROUP_LAYOUT_V2 && (rc = cg_v2_enable_path(cg, need, err)) < 0) {
                return rc;
        }
        return cg_apply(cg, r, true, err);
}

int cgroup_apply_devices(const struct vessel_cgroup *cg, const struct vessel_spec *spec,
                         vessel_error **err)
{
        /* Rootless: none, see cg_apply(). */
        if (!cg || cg->disabled || cg->rootless)
                return 0;
        return apply_devices(cg, &spec->linux_.resources, err);
}
