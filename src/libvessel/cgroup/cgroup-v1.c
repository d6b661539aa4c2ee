/* cgroup-v1.c: the cgroup v1 back end: one hierarchy per controller (or a
 * few co-mounted), each file named after its controller. */
#include "cgroup-internal.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#define FREEZE_TIMEOUT_MS 10000
#define R "linux.resources."

/* Write v unless it is "not set" (0 for the optional numbers of OCI). */
static int write_u64(const struct cg_hier *h, const char *what, const char *file,
                     struct vessel_opt_u64 v, vessel_error **err)
{
        if (!v.set)
                return 0;
        return cg_writef(h, what, file, err, "%" PRIu64, v.v);
}

static int write_i64(const struct cg_hier *h, const char *what, const char *file,
                     struct vessel_opt_i64 v, vessel_error **err)
{
        if (!v.set)
                return 0;
        return cg_writef(h, what, file, err, "%" PRId64, v.v);
}

/* ------------------------------------------------------------ cpuset */

int cg_v1_cpuset_init(int parentfd, int fd, const char *dir, vessel_error **err)
{
        static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};

        for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
                _cleanup_free_ char *own = NULL, *parent = NULL;
                int r;

                if (read_file_at(fd, files[i], &own, NULL, NULL) == 0 && own[0] && own[0] != '\n')
                        continue;
                if ((r = read_file_at(parentfd, files[i], &parent, NULL, NULL)) < 0)
                        return vessel_error_set(err, -r, "read the parent's %s of %s", files[i],
                                                dir);
                if ((r = write_file_at(fd, files[i], parent, strlen(parent), NULL)) < 0)
                        return vessel_error_set(err, -r, "copy %s into %s", files[i], dir);
        }
        return 0;
}

/* ------------------------------------------------------------ memory */

#define MEMSW "memory.memsw.limit_in_bytes"

/* limit and memory+swap: memory.limit_in_bytes may never exceed
 * memory.memsw.limit_in_bytes, so which one goes first depends on
 * whether they grow or shrink; try the limit first and swap the order
 * when the kernel refuses it. */
static int v1_memory_limits(const struct cg_hier *h, const struct vessel_resources *r,
                            vessel_error **err)
{
        struct vessel_opt_i64 limit = r->memory.limit, swap = r->memory.swap;
        vessel_error *first = NULL;
        int rc;

        if (limit.set && limit.v == -1 && !swap.set)
                swap = (struct vessel_opt_i64){true, -1};
        if (swap.set && !cg_has(h, MEMSW)) {
                /* No swap accounting: "unlimited" and "no swap" need nothing. */
                if (swap.v == -1 || swap.v == 0 || (limit.set && swap.v == limit.v))
                        swap.set = false;
                else
                        return vessel_error_msg(err, EOPNOTSUPP,
                                                R "memory.swap: this kernel does not account swap "
                                                  "(no %s/" MEMSW ")",
                                                h->dir);
        }
        if (!limit.set)
                return write_i64(h, R "memory.swap", MEMSW, swap, err);
        rc = write_i64(h, R "memory.limit", "memory.limit_in_bytes", limit, &first);
        if (rc == 0) {
                vessel_error_free(&first);
                return write_i64(h, R "memory.swap", MEMSW, swap, err);
        }
        if (rc != -EINVAL || !swap.set) {
                *err = first;
                return rc;
        }
        vessel_error_free(&first);
        if ((rc = write_i64(h, R "memory.swap", MEMSW, swap, err)) < 0)
                return rc;
        return write_i64(h, R "memory.limit", "memory.limit_in_bytes", limit, err);
}

static int v1_memory(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err)
{
        int rc;

        if ((rc = v1_memory_limits(h, r, err)) < 0)
                return rc;
        if ((rc = write_i64(h, R "memory.reservation", "memory.soft_limit_in_bytes",
                            r->memory.reservation, err)) < 0)
                return rc;
        /* Kernel memory limits are deprecated and gone from new kernels:
         * applied where the file is, ignored elsewhere, as runc does. */
        if (cg_has(h, "memory.kmem.limit_in_bytes") &&
            (rc = write_i64(h, R "memory.kernel", "memory.kmem.limit_in_bytes", r->memory.kernel,
                            err)) < 0)
                return rc;
        if ((rc = write_i64(h, R "memory.kernelTCP", "memory.kmem.tcp.limit_in_bytes",
                            r->memory.kernel_tcp, err)) < 0)
                return rc;
        if ((rc = write_u64(h, R "memory.swappiness", "memory.swappiness", r->memory.swappiness,
                            err)) < 0)
                return rc;
        if (r->memory.has_disable_oom_killer &&
            (rc = cg_write(h, R "memory.disableOOMKiller", "memory.oom_control",
                           r->memory.disable_oom_killer ? "1" : "0", err)) < 0)
                return rc;
        if (r->memory.has_use_hierarchy) {
                uint64_t cur;
                if (cg_read_u64(h, "memory.use_hierarchy", &cur) < 0 ||
                    cur != (uint64_t)r->memory.use_hierarchy)
                        return cg_write(h, R "memory.useHierarchy", "memory.use_hierarchy",
                                        r->memory.use_hierarchy ? "1" : "0", err);
        }
        return 0;
}

/* --------------------------------------------------------------- cpu */

static int v1_cpu_rt(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err)
{
        vessel_error *e = NULL;
        uint64_t period;
        int rc;

        /* 0 is "not set", as runc reads it: the kernel refuses a period of
         * 0, and a runtime of 0 is what a new cgroup has. */
        if (r->cpu.realtime_period.set && r->cpu.realtime_period.v &&
            (rc = write_u64(h, R "cpu.realtimePeriod", "cpu.rt_period_us", r->cpu.realtime_period,
                            err)) < 0)
                return rc;
        if (!r->cpu.realtime_runtime.set || !r->cpu.realtime_runtime.v)
                return 0;
        rc =
            write_i64(h, R "cpu.realtimeRuntime", "cpu.rt_runtime_us", r->cpu.realtime_runtime, &e);
        if (rc != -EINVAL || r->cpu.realtime_runtime.v <= 0) {
                if (rc < 0)
                        *err = e;
                return rc;
        }
        vessel_error_free(&e);
        /* It does not fit: vessel's own parents get the budget it needs. */
        if (r->cpu.realtime_period.set && r->cpu.realtime_period.v)
                period = r->cpu.realtime_period.v;
        else if (cg_read_u64(h, "cpu.rt_period_us", &period) < 0)
                period = 1000000;
        return cg_v1_rt_fit(h, period, r->cpu.realtime_runtime.v, err);
}

/* The CFS period and quota constrain each other (and the burst): write the
 * quota first, and the period first when the kernel refuses that. */
static int v1_cpu_cfs(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err)
{
        struct vessel_opt_i64 quota = r->cpu.quota;
        struct vessel_opt_u64 period = r->cpu.period;
        vessel_error *e = NULL;
        int rc;

        if (quota.set && quota.v == 0)
                quota.set = false;
        if (period.set && period.v == 0)
                period.set = false;
        rc = write_i64(h, R "cpu.quota", "cpu.cfs_quota_us", quota, &e);
        if (rc == 0)
                rc = write_u64(h, R "cpu.period", "cpu.cfs_period_us", period, &e);
        if (rc == -EINVAL && quota.set && period.set) {
                vessel_error_free(&e);
                rc = write_u64(h, R "cpu.period", "cpu.cfs_period_us", period, &e);
                if (rc == 0)
                        rc = write_i64(h, R "cpu.quota", "cpu.cfs_quota_us", quota, &e);
        }
        if (rc < 0) {
                *err = e;
                return rc;
        }
        return write_u64(h, R "cpu.burst", "cpu.cfs_burst_us", r->cpu.burst, err);
}

static int v1_cpu(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err)
{
        int rc;

        if (r->cpu.shares.set && r->cpu.shares.v &&
            (rc = write_u64(h, R "cpu.shares", "cpu.shares", r->cpu.shares, err)) < 0)
                return rc;
        if ((rc = v1_cpu_cfs(h, r, err)) < 0 || (rc = v1_cpu_rt(h, r, err)) < 0)
                return rc;
        return write_i64(h, R "cpu.idle", "cpu.idle", r->cpu.idle, err);
}

/* ------------------------------------------------------------- blkio */

/* CFQ's files, or BFQ's where CFQ is gone (blk-mq kernels). */
static const char *weight_file(const struct cg_hier *h, bool device)
{
        if (device)
                return cg_has(h, "blkio.weight_device") || !cg_has(h, "blkio.bfq.weight_device")
                           ? "blkio.weight_device"
                           : "blkio.bfq.weight_device";
        return cg_has(h, "blkio.weight") || !cg_has(h, "blkio.bfq.weight") ? "blkio.weight"
                                                                           : "blkio.bfq.weight";
}

static int v1_throttle(const struct cg_hier *h, const char *what, const char *file,
                       const struct vessel_throttle_device *d, size_t n, vessel_error **err)
{
        for (size_t i = 0; i < n; i++) {
                int rc = cg_writef(h, what, file, err, "%" PRId64 ":%" PRId64 " %" PRIu64,
                                   d[i].major, d[i].minor, d[i].rate);
                if (rc < 0)
                        return rc;
        }
        return 0;
}

static int v1_blkio(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err)
{
        const struct vessel_resources *b = r;
        int rc;

        if ((rc = write_u64(h, R "blockIO.weight", weight_file(h, false), b->block_io.weight,
                            err)) < 0 ||
            (rc = write_u64(h, R "blockIO.leafWeight", "blkio.leaf_weight", b->block_io.leaf_weight,
                            err)) < 0)
                return rc;
        for (size_t i = 0; i < b->block_io.n_weight_device; i++) {
                const struct vessel_weight_device *d = &b->block_io.weight_device[i];
                if (d->weight.set &&
                    (rc = cg_writef(h, R "blockIO.weightDevice", weight_file(h, true), err,
                                    "%" PRId64 ":%" PRId64 " %" PRIu64, d->major, d->minor,
                                    d->weight.v)) < 0)
                        return rc;
                if (d->leaf_weight.set &&
                    (rc = cg_writef(h, R "blockIO.weightDevice", "blkio.leaf_weight_device", err,
                                    "%" PRId64 ":%" PRId64 " %" PRIu64, d->major, d->minor,
                                    d->leaf_weight.v)) < 0)
                        return rc;
        }
        if ((rc = v1_throttle(h, R "blockIO.throttleReadBpsDevice",
                              "blkio.throttle.read_bps_device", b->block_io.throttle_read_bps,
                              b->block_io.n_throttle_read_bps, err)) < 0 ||
            (rc = v1_throttle(h, R "blockIO.throttleWriteBpsDevice",
                              "blkio.throttle.write_bps_device", b->block_io.throttle_write_bps,
                              b->block_io.n_throttle_write_bps, err)) < 0 ||
            (rc = v1_throttle(h, R "blockIO.throttleReadIOPSDevice",
                              "blkio.throttle.read_iops_device", b->block_io.throttle_read_iops,
                              b->block_io.n_throttle_read_iops, err)) < 0)
                return rc;
        return v1_throttle(h, R "blockIO.throttleWriteIOPSDevice",
                           "blkio.throttle.write_iops_device", b->block_io.throttle_write_iops,
                           b->block_io.n_throttle_write_iops, err);
}

/* ------------------------------------------------------ hugetlb, net */

static int v1_hugetlb(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err)
{
        return cg_write_hugetlb(h, r, "limit_in_bytes", err);
}

static int v1_network(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err)
{
        int rc;

        /* net_cls and net_prio may be separate hierarchies: each setter call
         * gets the one that has its file. */
        if ((h->mask & CG_BIT(CG_NET_CLS)) &&
            (rc = write_u64(h, R "network.classID", "net_cls.classid", r->network.class_id, err)) <
                0)
                return rc;
        if (!(h->mask & CG_BIT(CG_NET_PRIO)))
                return 0;
        for (size_t i = 0; i < r->network.n_priorities; i++) {
                const struct vessel_net_priority *p = &r->network.priorities[i];
                rc = cg_writef(h, R "network.priorities", "net_prio.ifpriomap", err, "%s %u",
                               p->name, p->priority);
                if (rc < 0)
                        return rc;
        }
        return 0;
}

/* ----------------------------------------------------------- devices */

static int v1_devices(const struct cg_hier *h, const struct cgroup_dev_rule *in, size_t nin,
                      vessel_error **err)
{
        _cleanup_free_ struct cgroup_dev_rule *rules = NULL;
        size_t n;

        cgroup_device_rules_v1(in, nin, &rules, &n);
        for (size_t i = 0; i < n; i++) {
                char line[64];
                int rc;

                cgroup_dev_rule_format(&rules[i], line, sizeof(line));
                rc = cg_write(h, R "devices", rules[i].allow ? "devices.allow" : "devices.deny",
                              line, err);
                if (rc < 0)
                        return rc;
        }
        return 0;
}

/* ----------------------------------------------------------- unified */

/* linux.resources.unified on v1: the v2 files with a v1 equivalent of the
 * same meaning (documented in docs/cgroups.md); anything else is an error. */
static int v1_unified(const struct cg_hier *h, const char *key, const char *value,
                      vessel_error **err)
{
        _cleanup_free_ char *what = xasprintf(R "unified[\"%s\"]", key);
        bool max = !strcmp(value, "max");
        uint64_t n;

        if (!strcmp(key, "pids.max") || !strcmp(key, "cpuset.cpus") ||
            !strcmp(key, "cpuset.mems") || !strcmp(key, "cpu.idle"))
                return cg_write(h, what, key, value, err);
        if (!strcmp(key, "memory.max"))
                return cg_write(h, what, "memory.limit_in_bytes", max ? "-1" : value, err);
        if (!strcmp(key, "memory.low"))
                return cg_write(h, what, "memory.soft_limit_in_bytes", max ? "-1" : value, err);
        if (!strcmp(key, "cpu.weight")) {
                if (sscanf(value, "%" SCNu64, &n) != 1 || n < 1 || n > 10000)
                        return vessel_error_msg(err, EINVAL, "%s: invalid weight \"%s\"", what,
                                                value);
                return cg_writef(h, what, "cpu.shares", err, "%" PRIu64,
                                 cgroup_weight_to_shares(n));
        }
        if (!strcmp(key, "cpu.max")) {
                char quota[32];
                uint64_t period;
                int k = sscanf(value, "%31s %" SCNu64, quota, &period), rc;
                if (k < 1)
                        return vessel_error_msg(err, EINVAL, "%s: invalid value \"%s\"", what,
                                                value);
                if (k == 2 &&
                    (rc = cg_writef(h, what, "cpu.cfs_period_us", err, "%" PRIu64, period)) < 0)
                        return rc;
                return cg_write(h, what, "cpu.cfs_quota_us", strcmp(quota, "max") ? quota : "-1",
                                err);
        }
        return vessel_error_msg(err, EOPNOTSUPP,
                                "%s: a cgroup v2 file with no cgroup v1 equivalent (the %s "
                                "controller is a v1 hierarchy at %s)",
                                what, h->name, h->mountpoint);
}

/* ----------------------------------------------------------- freezer */

static void sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static int v1_freeze(const struct cg_hier *h, bool freeze, vessel_error **err)
{
        const char *want = freeze ? "FROZEN" : "THAWED";
        int rc;

        for (long waited = 0; waited < FREEZE_TIMEOUT_MS; waited += 10) {
                _cleanup_free_ char *state = NULL;
                /* Writing again nudges tasks that were forking. */
                if ((rc = cg_write(h, NULL, "freezer.state", want, err)) < 0)
                        return rc;
                if ((rc = cg_read(h, "freezer.state", &state, err)) < 0)
                        return rc;
                if (!strcmp(state, want))
                        return 0;
                sleep_ms(10);
        }
        if (freeze)
                cg_write(h, NULL, "freezer.state", "THAWED", NULL);
        return vessel_error_msg(err, ETIMEDOUT, "%s/freezer.state did not become %s in %d s",
                                h->dir, want, FREEZE_TIMEOUT_MS / 1000);
}

static int v1_is_frozen(const struct cg_hier *h)
{
        _cleanup_free_ char *state = NULL;

        if (cg_read(h, "freezer.state", &state, NULL) < 0)
                return -ENOENT;
        return !strcmp(state, "FROZEN");
}

/* ------------------------------------------------------------- stats */

static json_object *u64_array(const struct cg_hier *h, const char *file)
{
        _cleanup_free_ char *buf = NULL;
        json_object *a = json_object_new_array();
        char *save = NULL;

        if (cg_read(h, file, &buf, NULL) < 0)
                return a;
        for (char *t = strtok_r(buf, " \n", &save); t; t = strtok_r(NULL, " \n", &save))
                json_object_array_add(a, json_object_new_uint64(strtoull(t, NULL, 10)));
        return a;
}

static void v1_stats_cpu(const struct cg_hier *acct, const struct cg_hier *cpu, json_object *o)
{
        json_object *usage = cg_json_child(o, "usage"), *thr = cg_json_child(o, "throttling");
        uint64_t v;

        if (acct) {
                long tick = sysconf(_SC_CLK_TCK);
                uint64_t ns_per_tick = tick > 0 ? 1000000000ULL / (uint64_t)tick : 10000000ULL;

                cg_json_u64(usage, "total", cg_read_or_zero(acct, "cpuacct.usage"));
                json_object_object_add(usage, "percpu", u64_array(acct, "cpuacct.usage_percpu"));
                json_object_object_add(usage, "percpu_kernel",
                                       u64_array(acct, "cpuacct.usage_percpu_sys"));
                json_object_object_add(usage, "percpu_user",
                                       u64_array(acct, "cpuacct.usage_percpu_user"));
                if (cg_read_key(acct, "cpuacct.stat", "system", &v) == 0)
                        cg_json_u64(usage, "kernel", v * ns_per_tick);
                if (cg_read_key(acct, "cpuacct.stat", "user", &v) == 0)
                        cg_json_u64(usage, "user", v * ns_per_tick);
        }
        if (cpu) {
                if (cg_read_key(cpu, "cpu.stat", "nr_periods", &v) == 0)
                        cg_json_u64(thr, "periods", v);
                if (cg_read_key(cpu, "cpu.stat", "nr_throttled", &v) == 0)
                        cg_json_u64(thr, "throttledPeriods", v);
                if (cg_read_key(cpu, "cpu.stat", "throttled_time", &v) == 0)
                        cg_json_u64(thr, "throttledTime", v);
        }
}

static void memory_entry(const struct cg_hier *h, json_object *o, const char *key,
                         const char *prefix)
{
        _cleanup_free_ char *limit = xasprintf("%s.limit_in_bytes", prefix);
        _cleanup_free_ char *usage = xasprintf("%s.usage_in_bytes", prefix);
        _cleanup_free_ char *max = xasprintf("%s.max_usage_in_bytes", prefix);
        _cleanup_free_ char *failcnt = xasprintf("%s.failcnt", prefix);
        json_object *e;

        if (!cg_has(h, usage))
                return;
        e = cg_json_child(o, key);
        cg_json_u64(e, "limit", cg_read_or_zero(h, limit));
        cg_json_u64(e, "usage", cg_read_or_zero(h, usage));
        cg_json_u64(e, "max", cg_read_or_zero(h, max));
        cg_json_u64(e, "failcnt", cg_read_or_zero(h, failcnt));
}

static void v1_stats_memory(const struct cg_hier *h, json_object *o)
{
        uint64_t usage = cg_read_or_zero(h, "memory.usage_in_bytes");

        memory_entry(h, o, "usage", "memory");
        memory_entry(h, o, "swap", "memory.memsw");
        memory_entry(h, o, "kernel", "memory.kmem");
        memory_entry(h, o, "kernelTCP", "memory.kmem.tcp");
        cg_stats_memory_raw(h, o, usage, "total_cache", "cache");
}

/* "8:0 Read 4096" lines (the "Total" lines are left out). */
static json_object *blkio_entries(const struct cg_hier *h, const char *file)
{
        _cleanup_free_ char *buf = NULL;
        json_object *a = json_object_new_array();
        char *save = NULL;

        if (cg_read(h, file, &buf, NULL) < 0)
                return a;
        for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                unsigned long long major, minor, value;
                char op[16];
                json_object *e;

                if (sscanf(l, "%llu:%llu %15s %llu", &major, &minor, op, &value) != 4)
                        continue;
                e = json_object_new_object();
                cg_json_u64(e, "major", major);
                cg_json_u64(e, "minor", minor);
                json_object_object_add(e, "op", json_object_new_string(op));
                cg_json_u64(e, "value", value);
                json_object_array_add(a, e);
        }
        return a;
}

static void v1_stats_blkio(const struct cg_hier *h, json_object *o)
{
        /* CFQ's statistics where they exist, else the throttling layer's,
         * which counts every I/O. */
        bool cfq = cg_has(h, "blkio.io_service_bytes_recursive");

        json_object_object_add(o, "ioServiceBytesRecursive",
                               blkio_entries(h, cfq ? "blkio.io_service_bytes_recursive"
                                                    : "blkio.throttle.io_service_bytes_recursive"));
        json_object_object_add(o, "ioServicedRecursive",
                               blkio_entries(h, cfq ? "blkio.io_serviced_recursive"
                                                    : "blkio.throttle.io_serviced_recursive"));
}

static void v1_stats_hugetlb(const struct cg_hier *h, json_object *o)
{
        _cleanup_strv_ char **sizes = cg_hugetlb_sizes(h, ".usage_in_bytes");

        for (char **s = sizes; *s; s++) {
                _cleanup_free_ char *usage = xasprintf("hugetlb.%s.usage_in_bytes", *s);
                _cleanup_free_ char *max = xasprintf("hugetlb.%s.max_usage_in_bytes", *s);
                _cleanup_free_ char *fail = xasprintf("hugetlb.%s.failcnt", *s);
                json_object *e = cg_json_child(o, *s);
                cg_json_u64(e, "usage", cg_read_or_zero(h, usage));
                cg_json_u64(e, "max", cg_read_or_zero(h, max));
                cg_json_u64(e, "failcnt", cg_read_or_zero(h, fail));
        }
}

/* --------------------------------------------------------------- oom */

/* An eventfd registered on memory.oom_control fires on every OOM in the
 * cgroup, and once more when the cgroup is removed. */
static int v1_oom_open(const struct cg_hier *h, int *fd, vessel_error **err)
{
        _cleanup_close_ int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        _cleanup_close_ int ofd = openat(h->fd, "memory.oom_control", O_RDONLY | O_CLOEXEC);
        int rc;

        if (efd < 0)
                return vessel_error_sys(err, "eventfd");
        if (ofd < 0)
                return vessel_error_sys(err, "open %s/memory.oom_control", h->dir);
        if ((rc = cg_writef(h, NULL, "cgroup.event_control", err, "%d %d", efd, ofd)) < 0)
                return rc;
        *fd = steal_fd(&efd);
        return 0;
}

static int v1_oom_count(const struct cg_hier *h, int fd, uint64_t *count)
{
        uint64_t n;

        if (read(fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
                return errno == EAGAIN ? 0 : -errno;
        /* The removal of the cgroup is not an OOM. */
        if (faccessat(h->fd, "memory.oom_control", F_OK, 0) < 0)
                return -ENOENT;
        *count += n;
        return 0;
}

const struct cg_backend cg_v1_backend = {
    .cpuset = cg_write_cpuset,
    .memory = v1_memory,
    .cpu = v1_cpu,
    .pids = cg_pids_set,
    .blkio = v1_blkio,
    .hugetlb = v1_hugetlb,
    .network = v1_network,
    .rdma = cg_rdma_set,
    .devices = v1_devices,
    .unified = v1_unified,
    .freeze = v1_freeze,
    .is_frozen = v1_is_frozen,
    .stats_cpu = v1_stats_cpu,
    .stats_memory = v1_stats_memory,
    .stats_pids = cg_stats_pids,
    .stats_blkio = v1_stats_blkio,
    .stats_hugetlb = v1_stats_hugetlb,
    .oom_open = v1_oom_open,
    .oom_count = v1_oom_count,
};
