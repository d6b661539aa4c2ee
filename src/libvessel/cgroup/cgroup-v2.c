/* cgroup-v2.c: the cgroup v2 (unified) back end: one hierarchy, the
 * controllers enabled per subtree, devices as an eBPF program.  On a hybrid
 * host it serves the controllers that only cgroup2 has (such as hugetlb). */
#include "cgroup-bpf.h"
#include "cgroup-internal.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#define FREEZE_TIMEOUT_MS 10000
#define R "linux.resources."

static uint32_t mask_of_file(int dirfd, const char *file)
{
        _cleanup_free_ char *buf = NULL;
        uint32_t mask = 0;
        char *save = NULL;

        if (read_file_at(dirfd, file, &buf, NULL, NULL) < 0)
                return 0;
        for (char *t = strtok_r(buf, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
                for (int c = 0; c < CG_COUNT; c++)
                        if (cg_ctrl_v2_name(c) && !strcmp(cg_ctrl_v2_name(c), t))
                                mask |= CG_BIT(c);
        return mask;
}

int cg_v2_enable_at(int dirfd, const char *dir, uint32_t want, uint32_t need, vessel_error **err)
{
        uint32_t avail = mask_of_file(dirfd, "cgroup.controllers");
        uint32_t on = mask_of_file(dirfd, "cgroup.subtree_control");
        struct cg_hier h = {.fd = dirfd, .dir = (char *)dir, .v2 = true};

        for (int c = 0; c < CG_COUNT; c++) {
                const char *name = cg_ctrl_v2_name(c);
                vessel_error *e = NULL;
                int r;

                if (!name || !((want | need) & CG_BIT(c)) || (on & CG_BIT(c)))
                        continue;
                if (!(avail & CG_BIT(c))) {
                        if (!(need & CG_BIT(c)))
                                continue;
                        return vessel_error_msg(err, EOPNOTSUPP,
                                                "the %s controller is not available in %s (see its "
                                                "cgroup.controllers)",
                                                name, dir);
                }
                /* One controller per write: one refused must not hold back
                 * the others. */
                r = cg_writef(&h, NULL, "cgroup.subtree_control", &e, "+%s", name);
                if (r < 0 && (need & CG_BIT(c))) {
                        *err = e;
                        return r;
                }
                vessel_error_free(&e);
        }
        return 0;
}

int cg_v2_check_delegated(int dirfd, const char *dir, uint32_t need, vessel_error **err)
{
        uint32_t avail = mask_of_file(dirfd, "cgroup.controllers");

        for (int c = 0; c < CG_COUNT; c++) {
                const char *name = cg_ctrl_v2_name(c);

                if (name && (need & CG_BIT(c)) && !(avail & CG_BIT(c)))
                        return vessel_error_msg(err, EOPNOTSUPP,
                                                "linux.resources: the %s controller is not "
                                                "delegated to uid %u (%s/cgroup.controllers does "
                                                "not list it)",
                                                name, (unsigned)geteuid(), dir);
        }
        return 0;
}

static const char *max_or(int64_t v, char *buf, size_t len)
{
        if (v < 0)
                return "max";
        snprintf(buf, len, "%" PRId64, v);
        return buf;
}

static int write_max(const struct cg_hier *h, const char *what, const char *file,
                     struct vessel_opt_i64 v, vessel_error **err)
{
        char buf[32];

        if (!v.set)
                return 0;
        return cg_write(h, what, file, max_or(v.v, buf, sizeof(buf)), err);
}

/* ------------------------------------------------------------ memory */

static int64_t read_limit(const struct cg_hier *h, const char *file)
{
        uint64_t v;

        if (cg_read_u64(h, file, &v) < 0 || v == UINT64_MAX || v > INT64_MAX)
                return -1;
        return (int64_t)v;
}

/* OCI's swap is memory+swap.  When only the memory limit changes, keep
 * the memory+swap total that was set, as v1's memsw file does. */
static struct vessel_opt_i64 swap_to_keep(const struct cg_hier *h, const struct vessel_resources *r)
{
        int64_t old_mem, old_swap;

        if (r->memory.swap.set || !r->memory.limit.set || r->memory.limit.v <= 0)
                return r->memory.swap;
        old_mem = read_limit(h, "memory.max");
        old_swap = read_limit(h, "memory.swap.max");
        if (old_mem < 0 || old_swap < 0)
                return r->memory.swap;
        return (struct vessel_opt_i64){
            true, old_mem + old_swap < r->memory.limit.v ? r->memory.limit.v : old_mem + old_swap};
}

static int v2_swap(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err)
{
        struct vessel_opt_i64 limit = r->memory.limit, swap = swap_to_keep(h, r);
        int64_t v;
        char buf[32];
        int rc;

        if (swap.set && swap.v > 0 && !limit.set)
                limit = (struct vessel_opt_i64){true, read_limit(h, "memory.max")};
        if ((rc = cgroup_swap_to_v2(limit, swap, &v, err)) <= 0)
                return rc;
        if (!cg_has(h, "memory.swap.max")) {
                if (v == -1 || v == 0)
                        return 0;
                return vessel_error_msg(err, EOPNOTSUPP,
                                        R "memory.swap: this kernel does not account swap (no "
                                          "%s/memory.swap.max)",
                                        h->dir);
        }
        return cg_write(h, R "memory.swap", "memory.swap.max", max_or(v, buf, sizeof(buf)), err);
}

static int v2_memory(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err)
{
        int rc;

        /* The swap first: it may read the limit that is about to change. */
        if ((rc = v2_swap(h, r, err)) < 0 ||
            (rc = write_max(h, R "memory.limit", "memory.max", r->memory.limit, err)) < 0 ||
            (rc = write_max(h, R "memory.reservation", "memory.low", r->memory.reservation, err)) <
                0)
                return rc;
        /* memory.kernel and memory.kernelTCP have no v2 files; they are
         * deprecated and ignored, as runc and crun do. */
        if (r->memory.swappiness.set)
                return cg_unsupported(h, R "memory.swappiness", "memory.swappiness", err);
        if (r->memory.has_disable_oom_killer && r->memory.disable_oom_killer)
                return cg_unsupported(h, R "memory.disableOOMKiller", "memory.oom_control", err);
        if (r->memory.has_use_hierarchy && !r->memory.use_hierarchy)
                return vessel_error_msg(err, EOPNOTSUPP,
                                        R "memory.useHierarchy: cgroup v2 is always hierarchical");
        return 0;
}

/* --------------------------------------------------------------- cpu */

static int v2_cpu_max(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err)
{
        bool quota = r->cpu.quota.set && r->cpu.quota.v != 0;
        bool period = r->cpu.period.set && r->cpu.period.v != 0;
        _cleanup_free_ char *cur = NULL;
        char q[32] = "max";
        uint64_t p = 100000;

        if (!quota && !period)
                return 0;
        /* "QUOTA PERIOD": keep the half that is not given. */
        if (cg_read(h, "cpu.max", &cur, NULL) == 0)
                sscanf(cur, "%31s %" SCNu64, q, &p);
        if (quota)
                max_or(r->cpu.quota.v, q, sizeof(q));
        if (period)
                p = r->cpu.period.v;
        return cg_writef(h, quota ? R "cpu.quota" : R "cpu.period", "cpu.max", err, "%s %" PRIu64,
                         q, p);
}

/* Real-time group scheduling has no cgroup v2 interface in mainline
 * kernels: as crun, zeros are accepted (engines send them), a budget is
 * written where a kernel offers the cpu.rt_* files, else an error. */
static int v2_cpu_rt(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err)
{
        int rc;

        if (r->cpu.realtime_period.set && r->cpu.realtime_period.v != 0) {
                if (!cg_has(h, "cpu.rt_period_us"))
                        return cg_unsupported(h, R "cpu.realtimePeriod", "cpu.rt_period_us", err);
                if ((rc = cg_writef(h, R "cpu.realtimePeriod", "cpu.rt_period_us", err, "%" PRIu64,
                                    r->cpu.realtime_period.v)) < 0)
                        return rc;
        }
        if (r->cpu.realtime_runtime.set && r->cpu.realtime_runtime.v != 0) {
                if (!cg_has(h, "cpu.rt_runtime_us"))
                        return cg_unsupported(h, R "cpu.realtimeRuntime", "cpu.rt_runtime_us", err);
                return cg_writef(h, R "cpu.realtimeRuntime", "cpu.rt_runtime_us", err, "%" PRId64,
                                 r->cpu.realtime_runtime.v);
        }
        return 0;
}

static int v2_cpu(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err)
{
        int rc;

        if (r->cpu.shares.set && r->cpu.shares.v &&
            (rc = cg_writef(h, R "cpu.shares", "cpu.weight", err, "%" PRIu64,
                            cgroup_shares_to_weight(r->cpu.shares.v))) < 0)
                return rc;
        if ((rc = v2_cpu_max(h, r, err)) < 0)
                return rc;
        if (r->cpu.burst.set && (rc = cg_writef(h, R "cpu.burst", "cpu.max.burst", err, "%" PRIu64,
                                                r->cpu.burst.v)) < 0)
                return rc;
        if ((rc = v2_cpu_rt(h, r, err)) < 0)
                return rc;
        if (r->cpu.idle.set)
                return cg_writef(h, R "cpu.idle", "cpu.idle", err, "%" PRId64, r->cpu.idle.v);
        return 0;
}

/* ---------------------------------------------------------------- io */

/* BFQ takes blkio's weights (1..1000) as they are; io.weight is the
 * 1..10000 scale of the io.cost controller. */
static int v2_weight(const struct cg_hier *h, const char *what, const char *dev, uint64_t w,
                     vessel_error **err)
{
        if (cg_has(h, "io.bfq.weight"))
                return cg_writef(h, what, "io.bfq.weight", err, "%s%" PRIu64, dev, w);
        return cg_writef(h, what, "io.weight", err, "%s%" PRIu64, dev,
                         cgroup_blkio_to_io_weight(w));
}

static int v2_throttle(const struct cg_hier *h, const char *what, const char *key,
                       const struct vessel_throttle_device *d, size_t n, vessel_error **err)
{
        for (size_t i = 0; i < n; i++) {
                int rc = cg_writef(h, what, "io.max", err, "%" PRId64 ":%" PRId64 " %s=%" PRIu64,
                                   d[i].major, d[i].minor, key, d[i].rate);
                if (rc < 0)
                        return rc;
        }
        return 0;
}

static int v2_io(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err)
{
        const typeof(r->block_io) *b = &r->block_io;
        int rc;

        if (b->weight.set && (rc = v2_weight(h, R "blockIO.weight", "", b->weight.v, err)) < 0)
                return rc;
        if (b->leaf_weight.set)
                return cg_unsupported(h, R "blockIO.leafWeight", "blkio.leaf_weight", err);
        for (size_t i = 0; i < b->n_weight_device; i++) {
                char dev[48];
                snprintf(dev, sizeof(dev), "%" PRId64 ":%" PRId64 " ", b->weight_device[i].major,
                         b->weight_device[i].minor);
                if (b->weight_device[i].leaf_weight.set)
                        return cg_unsupported(h, R "blockIO.weightDevice.leafWeight",
                                              "blkio.leaf_weight_device", err);
                if (b->weight_device[i].weight.set &&
                    (rc = v2_weight(h, R "blockIO.weightDevice", dev, b->weight_device[i].weight.v,
                                    err)) < 0)
                        return rc;
        }
        if ((rc = v2_throttle(h, R "blockIO.throttleReadBpsDevice", "rbps", b->throttle_read_bps,
                              b->n_throttle_read_bps, err)) < 0 ||
            (rc = v2_throttle(h, R "blockIO.throttleWriteBpsDevice", "wbps", b->throttle_write_bps,
                              b->n_throttle_write_bps, err)) < 0 ||
            (rc = v2_throttle(h, R "blockIO.throttleReadIOPSDevice", "riops", b->throttle_read_iops,
                              b->n_throttle_read_iops, err)) < 0)
                return rc;
        return v2_throttle(h, R "blockIO.throttleWriteIOPSDevice", "wiops", b->throttle_write_iops,
                           b->n_throttle_write_iops, err);
}

/* ----------------------------------------------------------- hugetlb */

static int v2_hugetlb(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err)
{
        return cg_write_hugetlb(h, r, "max", err);
}

/* ----------------------------------------------------- devices, misc */

static int v2_devices(const struct cg_hier *h, const struct cgroup_dev_rule *rules, size_t n,
                      vessel_error **err)
{
        return cgroup_bpf_apply(h->fd, h->dir, rules, n, err);
}

static int v2_unified(const struct cg_hier *h, const char *key, const char *value,
                      vessel_error **err)
{
        _cleanup_free_ char *what = xasprintf(R "unified[\"%s\"]", key);
        return cg_write(h, what, key, value, err);
}

static void sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int v2_is_frozen(const struct cg_hier *h)
{
        uint64_t v;
        int r = cg_read_key(h, "cgroup.events", "frozen", &v);
        return r < 0 ? r : v == 1;
}

static int v2_freeze(const struct cg_hier *h, bool freeze, vessel_error **err)
{
        int rc;

        if (!cg_has(h, "cgroup.freeze"))
                return vessel_error_msg(
                    err, EOPNOTSUPP,
                    "%s/cgroup.freeze: this kernel has no cgroup v2 freezer (5.2 "
                    "or later)",
                    h->dir);
        if ((rc = cg_write(h, NULL, "cgroup.freeze", freeze ? "1" : "0", err)) < 0)
                return rc;
        for (long waited = 0; waited < FREEZE_TIMEOUT_MS; waited += 10) {
                if (v2_is_frozen(h) == freeze)
                        return 0;
                sleep_ms(10);
        }
        if (freeze)
                cg_write(h, NULL, "cgroup.freeze", "0", NULL);
        return vessel_error_msg(err, ETIMEDOUT,
                                "%s: cgroup.events did not report frozen %d in %d s", h->dir,
                                freeze, FREEZE_TIMEOUT_MS / 1000);
}

/* ------------------------------------------------------------- stats */

static void v2_stats_cpu(const struct cg_hier *acct, const struct cg_hier *cpu, json_object *o)
{
        const struct cg_hier *h = acct ? acct : cpu;
        json_object *usage = cg_json_child(o, "usage"), *thr = cg_json_child(o, "throttling");
        static const struct {
                const char *key, *obj_key;
                bool usage;
        } map[] = {
            {"usage_usec", "total", true},
            {"user_usec", "user", true},
            {"system_usec", "kernel", true},
            {"nr_periods", "periods", false},
            {"nr_throttled", "throttledPeriods", false},
            {"throttled_usec", "throttledTime", false},
        };

        for (size_t i = 0; h && i < ARRAY_SIZE(map); i++) {
                uint64_t v;
                bool usec = strstr(map[i].key, "usec") != NULL;
                if (cg_read_key(h, "cpu.stat", map[i].key, &v) == 0)
                        cg_json_u64(map[i].usage ? usage : thr, map[i].obj_key,
                                    usec ? v * 1000 : v);
        }
}

static void v2_stats_memory(const struct cg_hier *h, json_object *o)
{
        json_object *usage = cg_json_child(o, "usage");
        uint64_t cur = cg_read_or_zero(h, "memory.current"),
                 limit = cg_read_or_zero(h, "memory.max");
        uint64_t n;

        cg_json_u64(usage, "usage", cur);
        cg_json_u64(usage, "limit", limit);
        if (cg_read_u64(h, "memory.peak", &n) == 0)
                cg_json_u64(usage, "max", n);
        cg_json_u64(usage, "failcnt", cg_read_key(h, "memory.events", "max", &n) == 0 ? n : 0);
        if (cg_has(h, "memory.swap.current")) {
                /* As v1's memsw: memory+swap, for tools written for v1. */
                json_object *swap = cg_json_child(o, "swap");
                uint64_t slimit = cg_read_or_zero(h, "memory.swap.max");
                cg_json_u64(swap, "usage", cur + cg_read_or_zero(h, "memory.swap.current"));
                cg_json_u64(swap, "limit",
                            slimit == UINT64_MAX || limit == UINT64_MAX ? UINT64_MAX
                                                                        : slimit + limit);
                cg_json_u64(swap, "failcnt",
                            cg_read_key(h, "memory.swap.events", "max", &n) == 0 ? n : 0);
        }
        cg_stats_memory_raw(h, o, cur, "file", NULL);
}

static void io_entry(json_object *a, unsigned long long major, unsigned long long minor,
                     const char *op, uint64_t value)
{
        json_object *e = json_object_new_object();

        cg_json_u64(e, "major", major);
        cg_json_u64(e, "minor", minor);
        json_object_object_add(e, "op", json_object_new_string(op));
        cg_json_u64(e, "value", value);
        json_object_array_add(a, e);
}

/* io.stat: "254:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0". */
static void v2_stats_blkio(const struct cg_hier *h, json_object *o)
{
        _cleanup_free_ char *buf = NULL;
        json_object *bytes = json_object_new_array(), *ios = json_object_new_array();
        char *save = NULL;

        json_object_object_add(o, "ioServiceBytesRecursive", bytes);
        json_object_object_add(o, "ioServicedRecursive", ios);
        if (cg_read(h, "io.stat", &buf, NULL) < 0)
                return;
        for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                unsigned long long major, minor, rb = 0, wb = 0, ri = 0, wi = 0;
                const char *p;

                if (sscanf(l, "%llu:%llu", &major, &minor) != 2)
                        continue;
                if ((p = strstr(l, "rbytes=")))
                        rb = strtoull(p + 7, NULL, 10);
                if ((p = strstr(l, "wbytes=")))
                        wb = strtoull(p + 7, NULL, 10);
                if ((p = strstr(l, "rios=")))
                        ri = strtoull(p + 5, NULL, 10);
                if ((p = strstr(l, "wios=")))
                        wi = strtoull(p + 5, NULL, 10);
                io_entry(bytes, major, minor, "Read", rb);
                io_entry(bytes, major, minor, "Write", wb);
                io_entry(ios, major, minor, "Read", ri);
                io_entry(ios, major, minor, "Write", wi);
        }
}

static void v2_stats_hugetlb(const struct cg_hier *h, json_object *o)
{
        _cleanup_strv_ char **sizes = cg_hugetlb_sizes(h, ".current");

        for (char **s = sizes; *s; s++) {
                _cleanup_free_ char *current = xasprintf("hugetlb.%s.current", *s);
                _cleanup_free_ char *events = xasprintf("hugetlb.%s.events", *s);
                json_object *e = cg_json_child(o, *s);
                uint64_t n;
                cg_json_u64(e, "usage", cg_read_or_zero(h, current));
                cg_json_u64(e, "failcnt", cg_read_key(h, events, "max", &n) == 0 ? n : 0);
        }
}

/* --------------------------------------------------------------- oom */

/* memory.events changes (an inotify IN_MODIFY) on every event; its
 * oom_kill counter says how many processes the OOM killer took. */
static int v2_oom_open(const struct cg_hier *h, int *fd, vessel_error **err)
{
        _cleanup_close_ int ifd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
        _cleanup_free_ char *path = xasprintf("%s/memory.events", h->dir);

        if (ifd < 0)
                return vessel_error_sys(err, "inotify_init1");
        if (inotify_add_watch(ifd, path, IN_MODIFY) < 0)
                return vessel_error_sys(err, "watch %s", path);
        *fd = steal_fd(&ifd);
        return 0;
}

static int v2_oom_count(const struct cg_hier *h, int fd, uint64_t *count)
{
        char buf[4096];

        while (read(fd, buf, sizeof(buf)) > 0)
                ;
        return cg_read_key(h, "memory.events", "oom_kill", count);
}

const struct cg_backend cg_v2_backend = {
    .cpuset = cg_write_cpuset,
    .memory = v2_memory,
    .cpu = v2_cpu,
    .pids = cg_pids_set,
    .blkio = v2_io,
    .hugetlb = v2_hugetlb,
    .network = NULL, /* net_cls/net_prio: v1 only */
    .rdma = cg_rdma_set,
    .devices = v2_devices,
    .unified = v2_unified,
    .freeze = v2_freeze,
    .is_frozen = v2_is_frozen,
    .stats_cpu = v2_stats_cpu,
    .stats_memory = v2_stats_memory,
    .stats_pids = cg_stats_pids,
    .stats_blkio = v2_stats_blkio,
    .stats_hugetlb = v2_stats_hugetlb,
    .oom_open = v2_oom_open,
    .oom_count = v2_oom_count,
};
