/* oci-gen.c: config.json for `vessel` from an instance's expanded
 * configuration (see oci-gen.h). */
#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <linux/capability.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "lxcfs.h"
#include "oci-gen.h"
#include "device.h"
#include "oci-gen-seccomp.h"
#include "util.h"

#define J_STR json_object_new_string
#define J_INT json_object_new_int64
#define J_BOOL json_object_new_boolean

static void json_putp(json_object **o)
{
        if (*o)
                json_object_put(*o);
}
#define _cleanup_json_ __attribute__((cleanup(json_putp)))

static void add(json_object *o, const char *k, json_object *v)
{
        json_object_object_add(o, k, v);
}

/* The section obj[k], created when missing. */
static json_object *section(json_object *o, const char *k)
{
        json_object *v;

        if (json_object_object_get_ex(o, k, &v))
                return v;
        v = json_object_new_object();
        add(o, k, v);
        return v;
}

static json_object *strv_json(const char *const *v)
{
        json_object *a = json_object_new_array();

        for (; *v; v++)
                json_object_array_add(a, J_STR(*v));
        return a;
}

/* The bounding set of a privileged system container: everything but
 * what would reach the host kernel's code or its clock (LXC drops the
 * same in its default config). */
static const struct {
        int nr;
        const char *name;
} caps[] = {
    {CAP_CHOWN, "CAP_CHOWN"},
    {CAP_DAC_OVERRIDE, "CAP_DAC_OVERRIDE"},
    {CAP_DAC_READ_SEARCH, "CAP_DAC_READ_SEARCH"},
    {CAP_FOWNER, "CAP_FOWNER"},
    {CAP_FSETID, "CAP_FSETID"},
    {CAP_KILL, "CAP_KILL"},
    {CAP_SETGID, "CAP_SETGID"},
    {CAP_SETUID, "CAP_SETUID"},
    {CAP_SETPCAP, "CAP_SETPCAP"},
    {CAP_LINUX_IMMUTABLE, "CAP_LINUX_IMMUTABLE"},
    {CAP_NET_BIND_SERVICE, "CAP_NET_BIND_SERVICE"},
    {CAP_NET_BROADCAST, "CAP_NET_BROADCAST"},
    {CAP_NET_ADMIN, "CAP_NET_ADMIN"},
    {CAP_NET_RAW, "CAP_NET_RAW"},
    {CAP_IPC_LOCK, "CAP_IPC_LOCK"},
    {CAP_IPC_OWNER, "CAP_IPC_OWNER"},
    {CAP_SYS_CHROOT, "CAP_SYS_CHROOT"},
    {CAP_SYS_PTRACE, "CAP_SYS_PTRACE"},
    {CAP_SYS_ADMIN, "CAP_SYS_ADMIN"},
    {CAP_SYS_BOOT, "CAP_SYS_BOOT"},
    {CAP_SYS_NICE, "CAP_SYS_NICE"},
    {CAP_SYS_RESOURCE, "CAP_SYS_RESOURCE"},
    {CAP_SYS_TTY_CONFIG, "CAP_SYS_TTY_CONFIG"},
    {CAP_MKNOD, "CAP_MKNOD"},
    {CAP_LEASE, "CAP_LEASE"},
    {CAP_AUDIT_WRITE, "CAP_AUDIT_WRITE"},
    {CAP_SETFCAP, "CAP_SETFCAP"},
    {CAP_SYSLOG, "CAP_SYSLOG"},
    {CAP_WAKE_ALARM, "CAP_WAKE_ALARM"},
    {CAP_BLOCK_SUSPEND, "CAP_BLOCK_SUSPEND"},
    {CAP_AUDIT_READ, "CAP_AUDIT_READ"},
    {CAP_PERFMON, "CAP_PERFMON"},
    {CAP_BPF, "CAP_BPF"},
    {CAP_CHECKPOINT_RESTORE, "CAP_CHECKPOINT_RESTORE"},
};

/* The caps of the list that the host's bounding set has (a capset of
 * more fails with EPERM). */
static json_object *caps_json(uint64_t have)
{
        json_object *a = json_object_new_array();

        for (size_t i = 0; i < ARRAY_SIZE(caps); i++)
                if (!have || have & (1ull << caps[i].nr))
                        json_object_array_add(a, J_STR(caps[i].name));
        return a;
}

static bool unprivileged(const struct oci_gen_input *in)
{
        return in->idmap && !in->idmap->privileged;
}

/* limits.kernel.NAME as process.rlimits RLIMIT_NAME (the validator
 * accepted names and values). */
static void add_rlimits(json_object *p, const struct kvlist *l)
{
        json_object *a = NULL;

        for (size_t i = 0; i < l->n; i++) {
                const char *k = l->v[i].key;
                uint64_t soft, hard;
                if (strncmp(k, "limits.kernel.", 14) ||
                    config_parse_rlimit(l->v[i].value, &soft, &hard) < 0)
                        continue;
                _cleanup_free_ char *type = xasprintf("RLIMIT_%s", k + 14);
                for (char *c = type; *c; c++)
                        *c = (char)toupper((unsigned char)*c);
                json_object *r = json_object_new_object();
                add(r, "type", J_STR(type));
                add(r, "soft", json_object_new_uint64(soft));
                add(r, "hard", json_object_new_uint64(hard));
                if (!a)
                        a = json_object_new_array();
                json_object_array_add(a, r);
        }
        if (a)
                add(p, "rlimits", a);
}

static json_object *gen_process(const struct oci_gen_input *in)
{
        json_object *p = json_object_new_object(), *env = json_object_new_array();
        json_object *c = json_object_new_object(), *user = json_object_new_object();
        const char *const init[] = {in->init ? in->init : "/sbin/init", NULL};
        const struct kvlist *l = &in->conf->config;

        add(p, "terminal", J_BOOL(1));
        add(user, "uid", J_INT(0));
        add(user, "gid", J_INT(0));
        add(p, "user", user);
        add(p, "args", strv_json(init));
        json_object_array_add(
            env, J_STR("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"));
        json_object_array_add(env, J_STR("TERM=linux"));
        json_object_array_add(env, J_STR("container=vessel"));
        for (size_t i = 0; i < l->n; i++) {
                const char *k = l->v[i].key;
                if (strncmp(k, "environment.", 12))
                        continue;
                _cleanup_free_ char *e = xasprintf("%s=%s", k + 12, l->v[i].value);
                json_object_array_add(env, J_STR(e));
        }
        add(p, "env", env);
        add(p, "cwd", J_STR("/"));
        add(c, "bounding", caps_json(in->host_caps));
        add(c, "effective", caps_json(in->host_caps));
        add(c, "permitted", caps_json(in->host_caps));
        add(p, "capabilities", c);
        add(p, "noNewPrivileges", J_BOOL(0));
        add_rlimits(p, l);
        return p;
}

static json_object *mount_json(const char *dst, const char *type, const char *src,
                               const char *const *opts)
{
        json_object *m = json_object_new_object();

        add(m, "destination", J_STR(dst));
        add(m, "type", J_STR(type));
        add(m, "source", J_STR(src));
        add(m, "options", strv_json(opts));
        return m;
}

/* The cgroups for an init that manages its own (systemd): the runtime
 * mounts every hierarchy the host has, rooted at the cgroup namespace's
 * root.  init lives in OCI_GEN_CGROUP_INNER below the instance's cgroup
 * (gen_cgroup_annotations), in cgroup2, name=systemd and the accounting
 * controllers: those are writable, so that systemd builds its tree of
 * units and accounts them, while the limits stay in the parent it cannot
 * reach.  The others (devices, freezer, cpuset, net_cls, ...) keep init
 * in the instance's cgroup, where the limits are, and stay read-only.
 * cpu,cpuacct is named too, for hosts that mount the two together
 * (docs/manager.md, "systemd inside"). */
static json_object *gen_cgroup_mount(void)
{
        static const char *const opts[] = {"nosuid",
                                           "noexec",
                                           "nodev",
                                           "ro",
                                           "vessel.rw=systemd",
                                           "vessel.rw=unified",
                                           "vessel.rw=cpu",
                                           "vessel.rw=cpuacct",
                                           "vessel.rw=cpu,cpuacct",
                                           "vessel.rw=memory",
                                           "vessel.rw=pids",
                                           "vessel.rw=blkio",
                                           NULL};

        return mount_json("/sys/fs/cgroup", "cgroup", "cgroup", opts);
}

/* See gen_cgroup_mount. */
static json_object *gen_annotations(const struct oci_gen_input *in)
{
        json_object *a = json_object_new_object();

        if (!in->no_cgroup_inner)
                add(a, OCI_GEN_CGROUP_INNER_ANNOTATION, J_STR(OCI_GEN_CGROUP_INNER));
        if (unprivileged(in)) {
                if (!in->rootfs_shifted)
                        add(a, OCI_GEN_ROOTFS_IDMAP_ANNOTATION, J_STR("true"));
                add(a, OCI_GEN_USERNS_OWNER_ANNOTATION, J_STR("mapped-root"));
        }
        return a;
}

static json_object *gen_mounts(void)
{
        json_object *a = json_object_new_array();
        static const char *const proc[] = {"nosuid", "noexec", "nodev", NULL};
        static const char *const dev[] = {"nosuid", "strictatime", "mode=755", "size=65536k", NULL};
        static const char *const pts[] = {"nosuid",    "noexec", "newinstance", "ptmxmode=0666",
                                          "mode=0620", "gid=5",  NULL};
        static const char *const shm[] = {"nosuid",    "noexec",      "nodev",
                                          "mode=1777", "size=65536k", NULL};
        static const char *const mq[] = {"nosuid", "noexec", "nodev", NULL};
        static const char *const sys[] = {"nosuid", "noexec", "nodev", "ro", NULL};
        static const char *const run[] = {"nosuid", "nodev", "mode=755", "size=20%", NULL};
        static const char *const lock[] = {"nosuid",    "nodev",   "noexec",
                                           "mode=1777", "size=5m", NULL};

        json_object_array_add(a, mount_json("/proc", "proc", "proc", proc));
        json_object_array_add(a, mount_json("/dev", "tmpfs", "tmpfs", dev));
        json_object_array_add(a, mount_json("/dev/pts", "devpts", "devpts", pts));
        json_object_array_add(a, mount_json("/dev/shm", "tmpfs", "shm", shm));
        json_object_array_add(a, mount_json("/dev/mqueue", "mqueue", "mqueue", mq));
        json_object_array_add(a, mount_json("/sys", "sysfs", "sysfs", sys));
        json_object_array_add(a, gen_cgroup_mount());
        json_object_array_add(a, mount_json("/run", "tmpfs", "tmpfs", run));
        json_object_array_add(a, mount_json("/run/lock", "tmpfs", "tmpfs", lock));
        return a;
}

/* lxcfs's files over /proc's and /sys's, after those (lxcfs.h).  Read-only:
 * nothing there takes a write. */
static void gen_lxcfs_mounts(const char *dir, json_object *mounts)
{
        static const char *const opts[] = {"bind", "nosuid", "nodev", "noexec", "ro", NULL};
        struct lxcfs_bind b[LXCFS_BINDS_MAX];
        size_t n = lxcfs_binds(dir, b, ARRAY_SIZE(b));

        for (size_t i = 0; i < n; i++)
                json_object_array_add(mounts,
                                      mount_json(b[i].destination, "bind", b[i].source, opts));
}

static json_object *gen_namespaces(bool userns)
{
        static const char *const ns[] = {"pid", "network", "ipc", "uts", "mount", "cgroup", "user"};
        json_object *a = json_object_new_array();

        for (size_t i = 0; i < ARRAY_SIZE(ns) - !userns; i++) {
                json_object *n = json_object_new_object();
                add(n, "type", J_STR(ns[i]));
                json_object_array_add(a, n);
        }
        return a;
}

static json_object *idmap_json(const struct vessel_idmap *m, size_t n)
{
        json_object *a = json_object_new_array();

        for (size_t i = 0; i < n; i++) {
                json_object *e = json_object_new_object();
                add(e, "containerID", J_INT(m[i].container_id));
                add(e, "hostID", J_INT(m[i].host_id));
                add(e, "size", J_INT(m[i].size));
                json_object_array_add(a, e);
        }
        return a;
}

static json_object *dev_rule(bool allow, char type, long long major, long long minor,
                             const char *access)
{
        json_object *r = json_object_new_object();
        char t[2] = {type, 0};

        add(r, "allow", J_BOOL(allow));
        if (type)
                add(r, "type", J_STR(t));
        if (major >= 0)
                add(r, "major", J_INT(major));
        if (minor >= 0)
                add(r, "minor", J_INT(minor));
        add(r, "access", J_STR(access));
        return r;
}

/* /dev/fuse, so that FUSE file systems (squashfuse, sshfs, lxcfs nested)
 * mount inside: in a user namespace the kernel lets its root mount FUSE
 * without the setuid fusermount.  security.fuse=false drops it. */
#define FUSE_MAJOR 10
#define FUSE_MINOR 229

static bool wants_fuse(const struct oci_gen_input *in)
{
        if (in->no_fuse)
                return false;
        const char *v = kvlist_get(&in->conf->config, "security.fuse");
        const struct devlist *dl = &in->conf->devices;
        bool on = true;

        if (v)
                config_parse_bool(v, &on);
        /* A unix-char device of the instance's own at /dev/fuse wins. */
        for (size_t i = 0; on && i < dl->n; i++) {
                const char *path = kvlist_get(&dl->v[i].cfg, "path");
                const char *src = kvlist_get(&dl->v[i].cfg, "source");
                if (!strcmp(dl->v[i].type, "unix-char") &&
                    !strcmp(path ? path : src ? src : "", "/dev/fuse"))
                        on = false;
        }
        return on;
}

static json_object *fuse_device(void)
{
        json_object *o = json_object_new_object();

        add(o, "path", J_STR("/dev/fuse"));
        add(o, "type", J_STR("c"));
        add(o, "major", J_INT(FUSE_MAJOR));
        add(o, "minor", J_INT(FUSE_MINOR));
        add(o, "fileMode", J_INT(0666));
        add(o, "uid", J_INT(0));
        add(o, "gid", J_INT(0));
        return o;
}

/* Deny everything, then what a system container needs: the default
 * nodes, the console and the ptys (runc's allowed list). */
static json_object *default_device_rules(void)
{
        static const struct {
                char type;
                long long major, minor;
        } allowed[] = {{'c', 1, 3}, {'c', 1, 5}, {'c', 1, 7}, {'c', 1, 8},   {'c', 1, 9},
                       {'c', 5, 0}, {'c', 5, 1}, {'c', 5, 2}, {'c', 136, -1}};
        json_object *a = json_object_new_array();

        json_object_array_add(a, dev_rule(false, 0, -1, -1, "rwm"));
        for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
                json_object_array_add(
                    a, dev_rule(true, allowed[i].type, allowed[i].major, allowed[i].minor, "rwm"));
        return a;
}

/* "25ms" and friends, in microseconds (the validator accepted it). */
static long long duration_us(const char *s)
{
        char *end;
        long long v = strtoll(s, &end, 10);

        if (!strcmp(end, "ms"))
                return v * 1000;
        if (!strcmp(end, "s"))
                return v * 1000000;
        return v; /* "us" */
}

static int gen_cpu(const struct kvlist *l, json_object *res, vessel_error **err)
{
        const char *cpu = kvlist_get(l, "limits.cpu"), *al = kvlist_get(l, "limits.cpu.allowance");
        bool is_set;
        long long n;

        if (cpu) {
                if (config_parse_cpus(cpu, &is_set, &n) < 0)
                        return vessel_error_msg(err, EINVAL,
                                                "limits.cpu \"%s\": not a CPU count or set", cpu);
                _cleanup_free_ char *set = is_set   ? xstrdup(cpu)
                                           : n == 1 ? xstrdup("0")
                                                    : xasprintf("0-%lld", n - 1);
                add(section(res, "cpu"), "cpus", J_STR(set));
        }
        if (al && strchr(al, '/')) {
                _cleanup_free_ char *quota = strndup(al, (size_t)(strchr(al, '/') - al));
                add(section(res, "cpu"), "quota", J_INT(duration_us(quota)));
                add(section(res, "cpu"), "period", J_INT(duration_us(strchr(al, '/') + 1)));
        } else if (al) /* "N%": a soft share, as Incus's */
                add(section(res, "cpu"), "shares", J_INT(1024LL * atoll(al) / 100));
        return 0;
}

static int gen_limits(const struct oci_gen_input *in, json_object *res, vessel_error **err)
{
        const struct kvlist *l = &in->conf->config;
        const char *mem = kvlist_get(l, "limits.memory"), *pids = kvlist_get(l, "limits.processes");
        long long bytes;
        bool percent;

        if (mem) {
                if (config_parse_size(mem, &bytes, &percent) < 0)
                        return vessel_error_msg(err, EINVAL, "limits.memory \"%s\": not a size",
                                                mem);
                if (percent)
                        bytes = in->host_memory_bytes / 100 * bytes;
                add(section(res, "memory"), "limit", J_INT(bytes));
                const char *swap = kvlist_get(l, "limits.memory.swap");
                bool on = true;
                if (swap && config_parse_bool(swap, &on) == 0 && !on)
                        add(section(res, "memory"), "swap", J_INT(bytes));
        }
        if (pids)
                add(section(res, "pids"), "limit", J_INT(atoll(pids)));
        return gen_cpu(l, res, err);
}

/* A host directory: with shift=true in an unprivileged instance, an
 * idmapped bind through the instance's maps, so that host uid N is uid N
 * inside (Incus's shift). */
static json_object *gen_disk(const struct oci_gen_input *in, const struct device *d)
{
        const char *ro = kvlist_get(&d->cfg, "readonly"), *sh = kvlist_get(&d->cfg, "shift");
        bool readonly = false, shift = false;
        const char *opts[5] = {"rbind", "rprivate"};
        size_t n = 2;

        if (ro)
                config_parse_bool(ro, &readonly);
        if (sh)
                config_parse_bool(sh, &shift);
        if (readonly)
                opts[n++] = "ro";
        if (shift && unprivileged(in))
                opts[n++] = "ridmap";
        return mount_json(kvlist_get(&d->cfg, "path"), "bind", kvlist_get(&d->cfg, "source"),
                          opts);
}

static int gen_unix(const struct device *d, json_object *devs, json_object *rules,
                    vessel_error **err)
{
        const char *src = kvlist_get(&d->cfg, "source"), *path = kvlist_get(&d->cfg, "path");
        const char *ma = kvlist_get(&d->cfg, "major"), *mi = kvlist_get(&d->cfg, "minor");
        const char *mode = kvlist_get(&d->cfg, "mode"), *uid = kvlist_get(&d->cfg, "uid"),
                   *gid = kvlist_get(&d->cfg, "gid");
        char type = !strcmp(d->type, "unix-char") ? 'c' : 'b';
        char t[2] = {type, 0};
        long long major, minor;
        json_object *o;
        struct stat st;

        if (ma && mi) {
                major = atoll(ma);
                minor = atoll(mi);
        } else if (stat(src, &st) < 0)
                return vessel_error_sys(err, "device %s: stat %s", d->name, src);
        else {
                major = major(st.st_rdev);
                minor = minor(st.st_rdev);
        }
        o = json_object_new_object();
        add(o, "path", J_STR(path ? path : src));
        add(o, "type", J_STR(t));
        add(o, "major", J_INT(major));
        add(o, "minor", J_INT(minor));
        add(o, "fileMode", J_INT(mode ? strtoll(mode, NULL, 8) : 0660));
        add(o, "uid", J_INT(uid ? atoll(uid) : 0));
        add(o, "gid", J_INT(gid ? atoll(gid) : 0));
        json_object_array_add(devs, o);
        json_object_array_add(rules, dev_rule(true, type, major, minor, "rwm"));
        return 0;
}

static int gen_devices(const struct oci_gen_input *in, json_object *mounts, json_object *linux_,
                       vessel_error **err)
{
        const struct devlist *dl = &in->conf->devices;
        json_object *devs = json_object_new_array(), *rules = default_device_rules();
        int r;

        add(linux_, "devices", devs);
        add(section(linux_, "resources"), "devices", rules);
        for (size_t i = 0; i < dl->n; i++) {
                const struct device *d = &dl->v[i];
                if (device_is_root_disk(d))
                        continue; /* the rootfs itself: its pool's business */
                if (!strcmp(d->type, "disk"))
                        json_object_array_add(mounts, gen_disk(in, d));
                else if ((r = gen_unix(d, devs, rules, err)) < 0)
                        return r;
        }
        if (wants_fuse(in)) {
                json_object_array_add(devs, fuse_device());
                json_object_array_add(rules, dev_rule(true, 'c', FUSE_MAJOR, FUSE_MINOR, "rwm"));
        }
        return 0;
}

/* RFC 7386: objects merge member by member, null removes, anything
 * else replaces. */
static json_object *merge_patch(json_object *target, json_object *patch)
{
        if (!json_object_is_type(patch, json_type_object)) {
                json_object_put(target);
                return json_object_get(patch);
        }
        if (!json_object_is_type(target, json_type_object)) {
                json_object_put(target);
                target = json_object_new_object();
        }
        json_object_object_foreach(patch, k, v)
        {
                json_object *cur = NULL;
                if (!v) {
                        json_object_object_del(target, k);
                        continue;
                }
                if (json_object_object_get_ex(target, k, &cur))
                        json_object_get(cur);
                add(target, k, merge_patch(cur, v));
        }
        return target;
}

static int parse(const char *what, const char *text, json_object **out, vessel_error **err)
{
        enum json_tokener_error e;

        *out = json_tokener_parse_verbose(text, &e);
        if (!*out && e != json_tokener_success)
                return vessel_error_msg(err, EINVAL, "%s: not JSON: %s", what,
                                        json_tokener_error_desc(e));
        return 0;
}

int oci_merge_patch(const char *doc, const char *patch, char **out, vessel_error **err)
{
        _cleanup_json_ json_object *d = NULL, *p = NULL;
        int r;

        if ((r = parse("config", doc, &d, err)) < 0 || (r = parse("patch", patch, &p, err)) < 0)
                return r;
        d = merge_patch(d, p);
        *out = xstrdup(json_object_to_json_string_ext(d, JSON_C_TO_STRING_PRETTY |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

/* proc as LXC's proc:mixed: /proc/sys read-only but for /proc/sys/net,
 * which is the instance's own network namespace's.  The children of
 * /proc/sys are listed one by one because a read-only bind of /proc/sys
 * would cover net too; the runtime skips those this kernel lacks. */
static json_object *gen_readonly_paths(void)
{
        static const char *const ro[] = {"/proc/sys/abi",
                                         "/proc/sys/crypto",
                                         "/proc/sys/debug",
                                         "/proc/sys/dev",
                                         "/proc/sys/fs",
                                         "/proc/sys/kernel",
                                         "/proc/sys/user",
                                         "/proc/sys/vm",
                                         "/proc/sys/sunrpc",
                                         "/proc/bus",
                                         "/proc/fs",
                                         "/proc/irq",
                                         NULL};

        return strv_json(ro);
}

static json_object *gen_linux(const struct oci_gen_input *in)
{
        json_object *l = json_object_new_object();
        _cleanup_free_ char *cg = in->cgroup_path
                                      ? xstrdup(in->cgroup_path)
                                      : xasprintf("/%s/%s", OCI_GEN_CGROUP_PARENT, in->name);
        static const char *const masked[] = {"/proc/kcore", "/proc/sysrq-trigger",
                                             "/proc/timer_list", "/sys/firmware", NULL};

        add(l, "namespaces", gen_namespaces(unprivileged(in)));
        if (unprivileged(in)) {
                add(l, "uidMappings", idmap_json(in->idmap->uids, in->idmap->n_uids));
                add(l, "gidMappings", idmap_json(in->idmap->gids, in->idmap->n_gids));
        }
        add(l, "cgroupsPath", J_STR(cg));
        add(l, "maskedPaths", strv_json(masked));
        add(l, "readonlyPaths", gen_readonly_paths());
        return l;
}

int oci_gen(const struct oci_gen_input *in, char **json, vessel_error **err)
{
        _cleanup_json_ json_object *c = json_object_new_object();
        json_object *root = json_object_new_object(), *mounts = gen_mounts();
        json_object *linux_ = gen_linux(in);
        const char *raw = kvlist_get(&in->conf->config, "raw.oci");
        int r;

        add(c, "ociVersion", J_STR("1.0.2"));
        add(root, "path", J_STR(in->rootfs));
        add(root, "readonly", J_BOOL(0));
        add(c, "root", root);
        add(c, "process", gen_process(in));
        add(c, "hostname", J_STR(in->name));
        if (in->lxcfs_dir)
                gen_lxcfs_mounts(in->lxcfs_dir, mounts);
        add(c, "mounts", mounts);
        add(c, "annotations", gen_annotations(in));
        add(c, "linux", linux_);
        oci_gen_seccomp(in, linux_);
        if ((r = gen_limits(in, section(linux_, "resources"), err)) < 0 ||
            (r = gen_devices(in, mounts, linux_, err)) < 0)
                return r;
        if (raw) {
                _cleanup_json_ json_object *p = NULL;
                if ((r = parse("raw.oci", raw, &p, err)) < 0)
                        return r;
                c = merge_patch(c, p);
        }
        *json = xstrdup(json_object_to_json_string_ext(c, JSON_C_TO_STRING_PRETTY |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
        return 0;
}

uint64_t oci_gen_host_caps(void)
{
        FILE *f = fopen("/proc/self/status", "re");
        char line[256];
        uint64_t v = 0;

        while (f && fgets(line, sizeof(line), f))
                if (sscanf(line, "CapBnd: %" SCNx64, &v) == 1)
                        break;
        if (f)
                fclose(f);
        return v;
}
