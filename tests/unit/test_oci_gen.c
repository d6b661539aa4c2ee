/* oci-gen: expanded configuration in, config.json out (pure). */
#include <json-c/json.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "oci-gen.h"
#include "util.h"

static json_object *gen(struct confset *c, vessel_error **err)
{
        struct oci_gen_input in = {.name = "c1",
                                   .rootfs = "/s/instances/c1/rootfs",
                                   .conf = c,
                                   .host_memory_bytes = 1000LL << 20};
        char *text = NULL;
        json_object *o;

        if (oci_gen(&in, &text, err) < 0)
                return NULL;
        o = json_tokener_parse(text);
        free(text);
        return o;
}

/* The value at a dotted path ("linux.resources.memory.limit"), arrays by index. */
static json_object *at(json_object *o, const char *path)
{
        _cleanup_free_ char *p = xstrdup(path);
        char *save = NULL;

        for (char *k = strtok_r(p, ".", &save); k && o; k = strtok_r(NULL, ".", &save)) {
                if (json_object_is_type(o, json_type_array))
                        o = json_object_array_get_idx(o, atoi(k));
                else if (!json_object_object_get_ex(o, k, &o))
                        return NULL;
        }
        return o;
}

static const char *str(json_object *o, const char *path)
{
        json_object *v = at(o, path);
        return v ? json_object_get_string(v) : NULL;
}

static long long num(json_object *o, const char *path)
{
        json_object *v = at(o, path);
        return v ? json_object_get_int64(v) : -1;
}

static bool array_has(json_object *a, const char *s)
{
        for (size_t i = 0; a && i < json_object_array_length(a); i++)
                if (!strcmp(json_object_get_string(json_object_array_get_idx(a, i)), s))
                        return true;
        return false;
}

static void test_defaults(void)
{
        struct confset c = {0};
        vessel_error *err = NULL;
        json_object *o = gen(&c, &err);
        json_object *ns = at(o, "linux.namespaces");

        CHECK(o);
        CHECK_STR(str(o, "root.path"), "/s/instances/c1/rootfs");
        CHECK_STR(str(o, "process.args.0"), "/sbin/init");
        CHECK(array_has(at(o, "process.env"), "container=vessel"));
        CHECK_STR(str(o, "hostname"), "c1");
        CHECK_STR(str(o, "linux.cgroupsPath"), "/vessel-instances/c1");
        CHECK(ns && json_object_array_length(ns) == 6);
        CHECK(!at(o, "linux.uidMappings")); /* privileged until issue 12 */
        CHECK_STR(str(o, "mounts.0.destination"), "/proc");
        CHECK_STR(str(o, "mounts.5.destination"), "/sys");
        CHECK(array_has(at(o, "mounts.5.options"), "ro"));
        CHECK_STR(str(o, "mounts.7.destination"), "/run");
        CHECK_STR(str(o, "mounts.8.destination"), "/run/lock");
        CHECK(array_has(at(o, "mounts.8.options"), "mode=1777"));
        json_object_put(o);
}

/* What systemd inside needs (docs/manager.md, "systemd inside"). */
static void test_systemd_inside(void)
{
        struct confset c = {0};
        vessel_error *err = NULL;
        json_object *o = gen(&c, &err), *cg, *ro;

        CHECK(o);
        CHECK_STR(str(o, "mounts.6.destination"), "/sys/fs/cgroup");
        CHECK_STR(str(o, "mounts.6.type"), "cgroup");
        cg = at(o, "mounts.6.options");
        CHECK(array_has(cg, "ro"));
        /* Writable: where init lives below the limits. */
        CHECK(array_has(cg, "vessel.rw=systemd") && array_has(cg, "vessel.rw=unified"));
        CHECK(array_has(cg, "vessel.rw=memory") && array_has(cg, "vessel.rw=cpuacct"));
        CHECK(array_has(cg, "vessel.rw=cpu,cpuacct"));
        /* Not: the runtime's, which init stays out of. */
        CHECK(!array_has(cg, "vessel.rw=devices") && !array_has(cg, "vessel.rw=freezer") &&
              !array_has(cg, "vessel.rw=cpuset"));
        CHECK(
            json_object_object_get_ex(at(o, "annotations"), "io.github.vessel.cgroup.inner", &cg) &&
            !strcmp(json_object_get_string(cg), "payload"));
        /* proc:mixed: /proc/sys read-only but for net. */
        ro = at(o, "linux.readonlyPaths");
        CHECK(array_has(ro, "/proc/sys/kernel") && array_has(ro, "/proc/sys/vm") &&
              array_has(ro, "/proc/sys/fs"));
        CHECK(!array_has(ro, "/proc/sys/net") && !array_has(ro, "/proc/sys"));
        CHECK(array_has(at(o, "process.env"), "container=vessel"));
        CHECK(json_object_get_boolean(at(o, "process.terminal")));
        CHECK(at(o, "linux.resources.devices.0.allow") &&
              !json_object_get_boolean(at(o, "linux.resources.devices.0.allow")));
        CHECK(!at(o, "linux.resources.memory"));
        CHECK(array_has(at(o, "process.capabilities.bounding"), "CAP_SYS_RESOURCE"));
        json_object_put(o);
}

/* Never more capabilities than the host's bounding set holds. */
static void test_host_caps(void)
{
        struct confset c = {0};
        struct oci_gen_input in = {
            .name = "c1", .rootfs = "/r", .conf = &c, .host_caps = (1ull << 0) | (1ull << 24)};
        vessel_error *err = NULL;
        char *text = NULL;

        CHECK(oci_gen(&in, &text, &err) == 0);
        json_object *o = json_tokener_parse(text);
        json_object *b = at(o, "process.capabilities.bounding");
        CHECK(b && json_object_array_length(b) == 2);
        CHECK(array_has(b, "CAP_CHOWN") && array_has(b, "CAP_SYS_RESOURCE"));
        CHECK(oci_gen_host_caps() != 0);
        json_object_put(o);
        free(text);
}

static void test_keys(void)
{
        struct confset c = {0};
        vessel_error *err = NULL;
        json_object *o;

        kvlist_set(&c.config, "environment.FOO", "bar");
        kvlist_set(&c.config, "limits.memory", "256MiB");
        kvlist_set(&c.config, "limits.cpu", "2");
        kvlist_set(&c.config, "limits.cpu.allowance", "25ms/100ms");
        kvlist_set(&c.config, "limits.processes", "100");
        o = gen(&c, &err);
        CHECK(o);
        CHECK(array_has(at(o, "process.env"), "FOO=bar"));
        CHECK(num(o, "linux.resources.memory.limit") == 256LL << 20);
        CHECK_STR(str(o, "linux.resources.cpu.cpus"), "0-1");
        CHECK(num(o, "linux.resources.cpu.quota") == 25000);
        CHECK(num(o, "linux.resources.cpu.period") == 100000);
        CHECK(num(o, "linux.resources.pids.limit") == 100);
        json_object_put(o);

        kvlist_set(&c.config, "limits.memory", "50%");
        kvlist_set(&c.config, "limits.cpu", "0,1");
        kvlist_set(&c.config, "limits.cpu.allowance", "50%");
        o = gen(&c, &err);
        CHECK(num(o, "linux.resources.memory.limit") == 500LL << 20);
        CHECK_STR(str(o, "linux.resources.cpu.cpus"), "0,1");
        CHECK(num(o, "linux.resources.cpu.shares") == 512);
        json_object_put(o);
        confset_free(&c);
}

static void add_dev(struct confset *c, const char *name, const char *type, const char *const *kv)
{
        struct device d = {.name = (char *)name, .type = (char *)type};

        for (; *kv; kv += 2)
                kvlist_set(&d.cfg, kv[0], kv[1]);
        devlist_set(&c->devices, &d);
        kvlist_free(&d.cfg);
}

static void test_devices(void)
{
        struct confset c = {0};
        vessel_error *err = NULL;
        json_object *o;

        add_dev(
            &c, "data", "disk",
            (const char *const[]){"source", "/srv", "path", "/mnt/srv", "readonly", "true", NULL});
        add_dev(&c, "null2", "unix-char",
                (const char *const[]){"source", "/dev/null", "path", "/dev/null2", NULL});
        add_dev(&c, "sda", "unix-block",
                (const char *const[]){"major", "8", "minor", "0", "path", "/dev/sda", "mode",
                                      "0600", NULL});
        o = gen(&c, &err);
        CHECK(o);
        CHECK_STR(str(o, "mounts.9.destination"), "/mnt/srv");
        CHECK_STR(str(o, "mounts.9.source"), "/srv");
        CHECK(array_has(at(o, "mounts.9.options"), "ro"));
        CHECK_STR(str(o, "linux.devices.0.path"), "/dev/null2");
        CHECK(num(o, "linux.devices.0.major") == 1 && num(o, "linux.devices.0.minor") == 3);
        CHECK_STR(str(o, "linux.devices.1.type"), "b");
        CHECK(num(o, "linux.devices.1.fileMode") == 0600);
        CHECK(num(o, "linux.resources.devices.11.major") == 8);
        json_object_put(o);

        add_dev(&c, "bad", "unix-char", (const char *const[]){"source", "/nonexistent", NULL});
        CHECK(!gen(&c, &err));
        CHECK(err && strstr(err->msg, "device bad"));
        vessel_error_free(&err);
        confset_free(&c);
}

static bool has_mount(json_object *o, const char *dst)
{
        json_object *m = at(o, "mounts");

        for (size_t i = 0; m && i < json_object_array_length(m); i++)
                if (!strcmp(str(json_object_array_get_idx(m, i), "destination"), dst))
                        return true;
        return false;
}

/* /dev/fuse by default; security.fuse=false or a device of the
 * instance's own at /dev/fuse leave it out. */
static void test_fuse(void)
{
        struct confset c = {0};
        vessel_error *err = NULL;
        json_object *o = gen(&c, &err), *rules;
        size_t n;

        CHECK(o);
        CHECK_STR(str(o, "linux.devices.0.path"), "/dev/fuse");
        CHECK(num(o, "linux.devices.0.major") == 10 && num(o, "linux.devices.0.minor") == 229);
        CHECK(num(o, "linux.devices.0.fileMode") == 0666);
        rules = at(o, "linux.resources.devices");
        n = json_object_array_length(rules);
        CHECK(num(o, "linux.resources.devices.10.major") == 10);
        CHECK(num(o, "linux.resources.devices.10.minor") == 229);
        CHECK(n == 11);
        json_object_put(o);
        kvlist_set(&c.config, "security.fuse", "false");
        o = gen(&c, &err);
        CHECK(o && json_object_array_length(at(o, "linux.devices")) == 0);
        CHECK(o && json_object_array_length(at(o, "linux.resources.devices")) == 10);
        json_object_put(o);
        kvlist_unset(&c.config, "security.fuse");
        add_dev(&c, "fuse", "unix-char",
                (const char *const[]){"source", "/dev/null", "path", "/dev/fuse", NULL});
        o = gen(&c, &err);
        CHECK(o && json_object_array_length(at(o, "linux.devices")) == 1);
        CHECK(num(o, "linux.devices.0.major") == 1);
        json_object_put(o);
        confset_free(&c);
}

/* The binds of lxcfs's files, after /proc and /sys, only of those it has. */
static void test_lxcfs(void)
{
        char dir[] = "/tmp/test-oci-lxcfs-XXXXXX";
        struct confset c = {0};
        vessel_error *err = NULL;
        struct oci_gen_input in = {.name = "c1", .rootfs = "/r", .conf = &c};
        char *text = NULL;
        json_object *o;

        CHECK(mkdtemp(dir));
        _cleanup_free_ char *cpu = xasprintf("%s/sys/devices/system/cpu", dir);
        _cleanup_free_ char *proc = xasprintf("%s/proc", dir);
        _cleanup_free_ char *mem = xasprintf("%s/proc/meminfo", dir);
        CHECK(mkdir_p(cpu, 0755, NULL) == 0 && mkdir_p(proc, 0755, NULL) == 0);
        FILE *f = fopen(mem, "w");
        CHECK(f);
        if (f)
                fclose(f);
        in.lxcfs_dir = dir;
        CHECK(oci_gen(&in, &text, &err) == 0);
        o = json_tokener_parse(text);
        free(text);
        CHECK(o);
        CHECK_STR(str(o, "mounts.9.destination"), "/proc/meminfo");
        CHECK_STR(str(o, "mounts.9.type"), "bind");
        CHECK_STR(str(o, "mounts.9.source"), mem);
        CHECK(array_has(at(o, "mounts.9.options"), "ro"));
        CHECK_STR(str(o, "mounts.10.destination"), "/sys/devices/system/cpu");
        CHECK(!has_mount(o, "/proc/cpuinfo"));
        json_object_put(o);
        /* None without lxcfs_dir. */
        o = gen(&c, &err);
        CHECK(o && !has_mount(o, "/proc/meminfo"));
        json_object_put(o);

        _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
        confset_free(&c);
}

static void test_raw_oci(void)
{
        struct confset c = {0};
        vessel_error *err = NULL;
        json_object *o;
        char *out = NULL;

        kvlist_set(&c.config, "raw.oci",
                   "{\"hostname\":\"other\",\"linux\":{\"maskedPaths\":null,"
                   "\"sysctl\":{\"net.ipv4.ip_forward\":\"1\"}}}");
        o = gen(&c, &err);
        CHECK_STR(str(o, "hostname"), "other");
        CHECK(!at(o, "linux.maskedPaths"));
        json_object *sysctl = at(o, "linux.sysctl"), *fwd = NULL;
        CHECK(sysctl && json_object_object_get_ex(sysctl, "net.ipv4.ip_forward", &fwd));
        CHECK(fwd && !strcmp(json_object_get_string(fwd), "1"));
        CHECK(at(o, "linux.namespaces")); /* merged, not replaced */
        json_object_put(o);
        confset_free(&c);

        /* RFC 7386's own examples */
        CHECK(oci_merge_patch("{\"a\":\"b\"}", "{\"a\":\"c\"}", &out, &err) == 0);
        CHECK(out && strstr(out, "\"c\""));
        free(out);
        CHECK(oci_merge_patch("{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", &out, &err) == 0);
        CHECK(out && !strstr(out, "\"b\""));
        free(out);
        CHECK(oci_merge_patch("{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", &out, &err) == 0);
        CHECK(out && strstr(out, "\"bb\"") && !strstr(out, "ccc"));
        free(out);
        CHECK(oci_merge_patch("{}", "{nope", &out, &err) < 0);
        vessel_error_free(&err);
}

/* linux.seccomp for the mknod supervisor: on unless privileged, the key
 * says otherwise, or no socket is given. */
static json_object *gen_listener(struct confset *c, const char *listener)
{
        struct oci_gen_input in = {
            .name = "c1", .rootfs = "/r", .conf = c, .seccomp_listener = listener};
        vessel_error *err = NULL;
        char *text = NULL;
        json_object *o;

        CHECK(oci_gen(&in, &text, &err) == 0);
        o = json_tokener_parse(text);
        free(text);
        return o;
}

static void test_seccomp_mknod(void)
{
        struct confset c = {0};
        json_object *o;

        o = gen_listener(&c, "/run/vesselctl/k/c1/seccomp");
        CHECK_STR(str(o, "linux.seccomp.defaultAction"), "SCMP_ACT_ALLOW");
        CHECK_STR(str(o, "linux.seccomp.listenerPath"), "/run/vesselctl/k/c1/seccomp");
        CHECK_STR(str(o, "linux.seccomp.syscalls.0.action"), "SCMP_ACT_NOTIFY");
        CHECK(array_has(at(o, "linux.seccomp.syscalls.0.names"), "mknod"));
        CHECK(array_has(at(o, "linux.seccomp.syscalls.0.names"), "mknodat"));
        CHECK(json_object_array_length(at(o, "linux.seccomp.architectures")) >= 1);
        json_object_put(o);
        o = gen_listener(&c, NULL); /* no supervisor to send it to */
        CHECK(!at(o, "linux.seccomp"));
        json_object_put(o);
        kvlist_set(&c.config, "security.privileged", "true");
        o = gen_listener(&c, "/s");
        CHECK(!at(o, "linux.seccomp"));
        json_object_put(o);
        kvlist_set(&c.config, "security.syscalls.intercept.mknod", "yes");
        o = gen_listener(&c, "/s");
        CHECK(at(o, "linux.seccomp.listenerPath"));
        json_object_put(o);
        kvlist_set(&c.config, "security.privileged", "false");
        kvlist_set(&c.config, "security.syscalls.intercept.mknod", "off");
        o = gen_listener(&c, "/s");
        CHECK(!at(o, "linux.seccomp"));
        json_object_put(o);
        confset_free(&c);
}

int main(void)
{
        test_defaults();
        test_systemd_inside();
        test_host_caps();
        test_keys();
        test_devices();
        test_raw_oci();
        test_fuse();
        test_lxcfs();
        test_seccomp_mknod();
        return check_report("test_oci_gen");
}
