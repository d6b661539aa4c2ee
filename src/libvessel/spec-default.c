/* spec-default.c: the default config.json of `vessel spec`, like
 * `runc spec`. */
#include "spec.h"
#include "util.h"

#include <json-c/json.h>

static json_object *strv_json(const char *const *v)
{
        json_object *a = json_object_new_array();

        for (; *v; v++)
                json_object_array_add(a, json_object_new_string(*v));
        return a;
}

static json_object *mount_json(const char *dest, const char *type, const char *source,
                               const char *const *options)
{
        json_object *m = json_object_new_object();

        json_object_object_add(m, "destination", json_object_new_string(dest));
        json_object_object_add(m, "type", json_object_new_string(type));
        json_object_object_add(m, "source", json_object_new_string(source));
        if (options)
                json_object_object_add(m, "options", strv_json(options));
        return m;
}

static json_object *idmap_json(uint32_t host_id)
{
        json_object *a = json_object_new_array(), *m = json_object_new_object();

        json_object_object_add(m, "containerID", json_object_new_int64(0));
        json_object_object_add(m, "hostID", json_object_new_int64(host_id));
        json_object_object_add(m, "size", json_object_new_int64(1));
        json_object_array_add(a, m);
        return a;
}

static json_object *default_process_json(void)
{
        static const char *const env[] = {
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "TERM=xterm",
            NULL,
        };
        static const char *const caps[] = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE",
                                           NULL};
        json_object *p = json_object_new_object();
        json_object *user = json_object_new_object();
        json_object *cap = json_object_new_object();
        json_object *rl = json_object_new_object(), *rls = json_object_new_array();

        json_object_object_add(p, "terminal", json_object_new_boolean(1));
        json_object_object_add(user, "uid", json_object_new_int64(0));
        json_object_object_add(user, "gid", json_object_new_int64(0));
        json_object_object_add(p, "user", user);
        json_object_object_add(p, "args", strv_json((const char *const[]){"sh", NULL}));
        json_object_object_add(p, "env", strv_json(env));
        json_object_object_add(p, "cwd", json_object_new_string("/"));
        json_object_object_add(cap, "bounding", strv_json(caps));
        json_object_object_add(cap, "effective", strv_json(caps));
        json_object_object_add(cap, "permitted", strv_json(caps));
        json_object_object_add(p, "capabilities", cap);
        json_object_object_add(rl, "type", json_object_new_string("RLIMIT_NOFILE"));
        json_object_object_add(rl, "hard", json_object_new_int64(1024));
        json_object_object_add(rl, "soft", json_object_new_int64(1024));
        json_object_array_add(rls, rl);
        json_object_object_add(p, "rlimits", rls);
        json_object_object_add(p, "noNewPrivileges", json_object_new_boolean(1));
        return p;
}

static json_object *default_mounts_json(bool rootless)
{
        static const char *const nosuid_noexec_nodev[] = {"nosuid", "noexec", "nodev", NULL};
        json_object *a = json_object_new_array();

        json_object_array_add(a, mount_json("/proc", "proc", "proc", NULL));
        json_object_array_add(a,
                              mount_json("/dev", "tmpfs", "tmpfs",
                                         (const char *const[]){"nosuid", "strictatime", "mode=755",
                                                               "size=65536k", NULL}));
        json_object_array_add(
            a, mount_json("/dev/pts", "devpts", "devpts",
                          (const char *const[]){"nosuid", "noexec", "newinstance", "ptmxmode=0666",
                                                "mode=0620", rootless ? NULL : "gid=5", NULL}));
        json_object_array_add(a,
                              mount_json("/dev/shm", "tmpfs", "shm",
                                         (const char *const[]){"nosuid", "noexec", "nodev",
                                                               "mode=1777", "size=65536k", NULL}));
        json_object_array_add(a,
                              mount_json("/dev/mqueue", "mqueue", "mqueue", nosuid_noexec_nodev));
        if (rootless)
                json_object_array_add(a,
                                      mount_json("/sys", "bind", "/sys",
                                                 (const char *const[]){"rbind", "nosuid", "noexec",
                                                                       "nodev", "ro", NULL}));
        else
                json_object_array_add(
                    a, mount_json("/sys", "sysfs", "sysfs",
                                  (const char *const[]){"nosuid", "noexec", "nodev", "ro", NULL}));
        json_object_array_add(a, mount_json("/sys/fs/cgroup", "cgroup", "cgroup",
                                            (const char *const[]){"nosuid", "noexec", "nodev",
                                                                  "relatime", "ro", NULL}));
        return a;
}

static json_object *default_linux_json(bool rootless)
{
        static const char *const masked[] = {
            "/proc/acpi",
            "/proc/asound",
            "/proc/kcore",
            "/proc/keys",
            "/proc/latency_stats",
            "/proc/timer_list",
            "/proc/timer_stats",
            "/proc/sched_debug",
            "/sys/firmware",
            "/proc/scsi",
            "/sys/devices/virtual/powercap",
            NULL,
        };
        static const char *const readonly[] = {
            "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
        };
        static const char *const ns_rootful[] = {"pid",   "network", "ipc", "uts",
                                                 "mount", "cgroup",  NULL};
        static const char *const ns_rootless[] = {"pid",   "network", "ipc", "uts",
                                                  "mount", "user",    NULL};
        json_object *l = json_object_new_object(), *nss = json_object_new_array();

        if (!rootless) {
                json_object *res = json_object_new_object(), *devs = json_object_new_array();
                json_object *deny = json_object_new_object();

                json_object_object_add(deny, "allow", json_object_new_boolean(0));
                json_object_object_add(deny, "access", json_object_new_string("rwm"));
                json_object_array_add(devs, deny);
                json_object_object_add(res, "devices", devs);
                json_object_object_add(l, "resources", res);
        }
        for (const char *const *n = rootless ? ns_rootless : ns_rootful; *n; n++) {
                json_object *ns = json_object_new_object();
                json_object_object_add(ns, "type", json_object_new_string(*n));
                json_object_array_add(nss, ns);
        }
        json_object_object_add(l, "namespaces", nss);
        if (rootless) {
                json_object_object_add(l, "uidMappings", idmap_json(getuid()));
                json_object_object_add(l, "gidMappings", idmap_json(getgid()));
        }
        json_object_object_add(l, "maskedPaths", strv_json(masked));
        json_object_object_add(l, "readonlyPaths", strv_json(readonly));
        return l;
}

char *vessel_spec_default_json(bool rootless)
{
        json_object *s = json_object_new_object(), *root = json_object_new_object();
        char *text;

        json_object_object_add(s, "ociVersion", json_object_new_string(VESSEL_OCI_VERSION));
        json_object_object_add(s, "process", default_process_json());
        json_object_object_add(root, "path", json_object_new_string("rootfs"));
        json_object_object_add(root, "readonly", json_object_new_boolean(1));
        json_object_object_add(s, "root", root);
        json_object_object_add(s, "hostname", json_object_new_string("vessel"));
        json_object_object_add(s, "mounts", default_mounts_json(rootless));
        json_object_object_add(s, "linux", default_linux_json(rootless));
        text = xstrdup(json_object_to_json_string_ext(
            s, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(s);
        return text;
}
