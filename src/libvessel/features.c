/* features.c: the OCI "features" document (runtime-spec features.md),
 * describing what this build of the runtime implements, and nothing more:
 * tests/integration/test_features.py runs a container with every entry. */
#include "seccomp_filter.h"
#include "spec.h"
#include "util.h"

#include <errno.h>
#include <json-c/json.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

static json_object *names_json(const char *const *names)
{
        json_object *a = json_object_new_array();

        for (; *names; names++)
                json_object_array_add(a, json_object_new_string(*names));
        return a;
}

/* Mount options the parser accepts (configs carry them) but the new mount
 * API cannot apply: SB_I_VERSION and SB_SILENT have no generic fsconfig()
 * flag.  Not listed as implemented. */
static const char *const unapplied_mount_options[] = {"iversion", "silent", NULL};

static json_object *mount_options_json(void)
{
        json_object *a = json_object_new_array();

        for (const char *const *o = vessel_mount_option_names; *o; o++)
                if (vessel_name_index(unapplied_mount_options, *o) < 0)
                        json_object_array_add(a, json_object_new_string(*o));
        return a;
}

/* Only what this build's libseccomp can put in a filter. */
static json_object *archs_json(void)
{
        json_object *a = json_object_new_array();

        for (const char *const *n = vessel_seccomp_arch_names; *n; n++)
                if (seccomp_arch_known(*n))
                        json_object_array_add(a, json_object_new_string(*n));
        return a;
}

static json_object *enabled_json(bool enabled)
{
        json_object *o = json_object_new_object();

        json_object_object_add(o, "enabled", json_object_new_boolean(enabled));
        return o;
}

static void add_bool(json_object *o, const char *key, bool v)
{
        json_object_object_add(o, key, json_object_new_boolean(v));
}

#ifndef SECCOMP_FILTER_FLAG_NEW_LISTENER
#define SECCOMP_FILTER_FLAG_NEW_LISTENER (1UL << 3)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif

/* A filter flag is supported when seccomp(2) gets past the flag check and
 * fails on the NULL program with EFAULT; unknown flags give EINVAL. */
static bool seccomp_flag_supported(unsigned long flag)
{
        /* only valid together with NEW_LISTENER */
        if (flag == SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
                flag |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
        return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flag, NULL) < 0 && errno == EFAULT;
}

static json_object *seccomp_json(void)
{
        json_object *o = json_object_new_object(), *supported = json_object_new_array();

        add_bool(o, "enabled", true);
        json_object_object_add(o, "actions", names_json(vessel_seccomp_action_names));
        json_object_object_add(o, "operators", names_json(vessel_seccomp_op_names));
        json_object_object_add(o, "archs", archs_json());
        json_object_object_add(o, "knownFlags", names_json(vessel_seccomp_flag_names));
        for (size_t i = 0; vessel_seccomp_flag_names[i]; i++)
                if (seccomp_flag_supported(1UL << i))
                        json_object_array_add(supported,
                                              json_object_new_string(vessel_seccomp_flag_names[i]));
        json_object_object_add(o, "supportedFlags", supported);
        return o;
}

static json_object *linux_json(void)
{
        json_object *l = json_object_new_object();
        json_object *ns = json_object_new_array(), *caps = json_object_new_array();
        json_object *cgroup = json_object_new_object(), *ext = json_object_new_object();

        for (int i = 0; i < VESSEL_NS_COUNT; i++)
                json_object_array_add(ns, json_object_new_string(vessel_ns_name(i)));
        json_object_object_add(l, "namespaces", ns);
        for (int c = 0; c <= vessel_cap_last(); c++)
                json_object_array_add(caps, json_object_new_string(vessel_cap_name(c)));
        json_object_object_add(l, "capabilities", caps);

        add_bool(cgroup, "v1", true);
        add_bool(cgroup, "v2", true);
        add_bool(cgroup, "systemd", false);
        add_bool(cgroup, "systemdUser", false);
        add_bool(cgroup, "rdma", true);
        json_object_object_add(l, "cgroup", cgroup);
        json_object_object_add(l, "seccomp", seccomp_json());
        /* Compiled in, whether or not the host has it (features.md):
         * process.apparmorProfile is applied on exec.  SELinux is not: the
         * process label is, linux.mountLabel is not.  No intelRdt. */
        json_object_object_add(l, "apparmor", enabled_json(true));
        json_object_object_add(l, "selinux", enabled_json(false));
        json_object_object_add(l, "intelRdt", enabled_json(false));
        json_object_object_add(ext, "idmap", enabled_json(true));
        /* vessel's own: "vessel.rw=HIERARCHY" on a cgroup mount. */
        json_object_object_add(ext, "io.github.vessel.cgroupRw", enabled_json(true));
        json_object_object_add(l, "mountExtensions", ext);
        return l;
}

char *vessel_features_json(void)
{
        json_object *f = json_object_new_object(), *hooks = json_object_new_array();
        json_object *ann = json_object_new_object();
        char *text;

        json_object_object_add(f, "ociVersionMin", json_object_new_string("1.0.0"));
        json_object_object_add(f, "ociVersionMax", json_object_new_string(VESSEL_OCI_VERSION));
        for (int k = 0; k < VESSEL_HOOK_KIND_COUNT; k++)
                json_object_array_add(hooks, json_object_new_string(vessel_hook_name(k)));
        json_object_object_add(f, "hooks", hooks);
        json_object_object_add(f, "mountOptions", mount_options_json());
        json_object_object_add(f, "linux", linux_json());
        json_object_object_add(ann, "org.opencontainers.runc.checkpoint.enabled",
                               json_object_new_string("false"));
        json_object_object_add(ann, "io.github.vessel.version",
                               json_object_new_string(VESSEL_VERSION));
        json_object_object_add(f, "annotations", ann);

        text = xstrdup(json_object_to_json_string_ext(
                f, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(f);
        return text;
}
