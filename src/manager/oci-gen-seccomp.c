/* oci-gen-seccomp.c: linux.seccomp for the mknod supervisor (see
 * oci-gen-seccomp.h). */
#include <string.h>

#include "idrange.h"
#include "oci-gen-seccomp.h"

bool oci_gen_intercepts_mknod(const struct confset *conf)
{
        const char *v = kvlist_get(&conf->config, "security.syscalls.intercept.mknod");
        bool on;

        if (v && config_parse_bool(v, &on) == 0)
                return on;
        return !idrange_privileged(conf);
}

/* Every ABI a process of the host's architecture may call the kernel
 * with: a filter without them would kill 32-bit programs (libseccomp's
 * bad-architecture action).  mknod-request.c decodes the same. */
static json_object *architectures(void)
{
        static const char *const archs[] = {
#if defined(__x86_64__)
                "SCMP_ARCH_X86_64",
                "SCMP_ARCH_X86",
                "SCMP_ARCH_X32",
#elif defined(__aarch64__)
                "SCMP_ARCH_AARCH64",
                "SCMP_ARCH_ARM",
#endif
        };
        json_object *a = json_object_new_array();

        for (size_t i = 0; i < sizeof(archs) / sizeof(archs[0]); i++)
                json_object_array_add(a, json_object_new_string(archs[i]));
        return a;
}

void oci_gen_seccomp(const struct oci_gen_input *in, json_object *linux_)
{
        json_object *sc, *rule, *names, *calls;

        if (!in->seccomp_listener || !oci_gen_intercepts_mknod(in->conf))
                return;
        sc = json_object_new_object();
        json_object_object_add(sc, "defaultAction", json_object_new_string("SCMP_ACT_ALLOW"));
        json_object_object_add(sc, "architectures", architectures());
        json_object_object_add(sc, "listenerPath", json_object_new_string(in->seccomp_listener));
        json_object_object_add(sc, "listenerMetadata", json_object_new_string(in->name));
        names = json_object_new_array();
        json_object_array_add(names, json_object_new_string("mknod"));
        json_object_array_add(names, json_object_new_string("mknodat"));
        rule = json_object_new_object();
        json_object_object_add(rule, "names", names);
        json_object_object_add(rule, "action", json_object_new_string("SCMP_ACT_NOTIFY"));
        calls = json_object_new_array();
        json_object_array_add(calls, rule);
        json_object_object_add(sc, "syscalls", calls);
        json_object_object_add(linux_, "seccomp", sc);
}
