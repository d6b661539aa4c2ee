/* Unit tests for the name tables (names.c). */
#include "check.h"
#include "spec.h"
#include "util.h"

#include <linux/capability.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>



static void test_namespaces(void)
{
        static const char *const names[] = {"pid", "network", "mount", "ipc",
                                            "uts", "user",    "cgroup", "time"};

        CHECK(ARRAY_SIZE(names) == VESSEL_NS_COUNT);
        for (int i = 0; i < VESSEL_NS_COUNT; i++) {
                CHECK_STR(vessel_ns_name(i), names[i]);
                CHECK(vessel_ns_from_name(names[i]) == i);
        }
        CHECK(vessel_ns_from_name("net") == -1);
        CHECK(vessel_ns_from_name("PID") == -1);
        CHECK(vessel_ns_from_name("") == -1);
        CHECK(vessel_ns_from_name(NULL) == -1);
        CHECK(vessel_ns_name(VESSEL_NS_COUNT) == NULL);
        CHECK(vessel_ns_name((enum vessel_ns_type) - 1) == NULL);
}

static void test_rlimits(void)
{
        static const struct {
                const char *name;
                int res;
        } all[] = {
                {"RLIMIT_AS", RLIMIT_AS},           {"RLIMIT_CORE", RLIMIT_CORE},
                {"RLIMIT_CPU", RLIMIT_CPU},         {"RLIMIT_DATA", RLIMIT_DATA},
                {"RLIMIT_FSIZE", RLIMIT_FSIZE},     {"RLIMIT_LOCKS", RLIMIT_LOCKS},
                {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK}, {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
                {"RLIMIT_NICE", RLIMIT_NICE},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
                {"RLIMIT_NPROC", RLIMIT_NPROC},     {"RLIMIT_RSS", RLIMIT_RSS},
                {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},   {"RLIMIT_RTTIME", RLIMIT_RTTIME},
                {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING}, {"RLIMIT_STACK", RLIMIT_STACK},
        };

        CHECK(ARRAY_SIZE(all) == RLIMIT_NLIMITS);
        for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
                CHECK(vessel_rlimit_from_name(all[i].name) == all[i].res);
                CHECK_STR(vessel_rlimit_name(all[i].res), all[i].name);
        }
        CHECK(vessel_rlimit_from_name("RLIMIT_FOO") == -1);
        CHECK(vessel_rlimit_from_name("NOFILE") == -1);
        CHECK(vessel_rlimit_from_name(NULL) == -1);
        CHECK(vessel_rlimit_name(-1) == NULL);
        CHECK(vessel_rlimit_name(RLIMIT_NLIMITS) == NULL);
}

static void test_caps(void)
{
        static const struct {
                const char *name;
                int cap;
        } some[] = {
                {"CAP_CHOWN", CAP_CHOWN},
                {"CAP_DAC_OVERRIDE", CAP_DAC_OVERRIDE},
                {"CAP_KILL", CAP_KILL},
                {"CAP_NET_BIND_SERVICE", CAP_NET_BIND_SERVICE},
                {"CAP_SYS_ADMIN", CAP_SYS_ADMIN},
                {"CAP_MKNOD", CAP_MKNOD},
                {"CAP_AUDIT_WRITE", CAP_AUDIT_WRITE},
                {"CAP_SETFCAP", CAP_SETFCAP},
                {"CAP_MAC_OVERRIDE", CAP_MAC_OVERRIDE},
                {"CAP_SYSLOG", CAP_SYSLOG},
                {"CAP_AUDIT_READ", CAP_AUDIT_READ},
                {"CAP_PERFMON", CAP_PERFMON},
                {"CAP_BPF", CAP_BPF},
                {"CAP_CHECKPOINT_RESTORE", CAP_CHECKPOINT_RESTORE},
        };

        CHECK(vessel_cap_last() == 40);
        CHECK(vessel_cap_last() == CAP_LAST_CAP);
        for (size_t i = 0; i < ARRAY_SIZE(some); i++) {
                CHECK(vessel_cap_from_name(some[i].name) == some[i].cap);
                CHECK_STR(vessel_cap_name(some[i].cap), some[i].name);
        }
        for (int c = 0; c <= vessel_cap_last(); c++) {
                const char *n = vessel_cap_name(c);
                CHECK(n && str_has_prefix(n, "CAP_"));
                CHECK(vessel_cap_from_name(n) == c);
        }
        CHECK(vessel_cap_name(-1) == NULL);
        CHECK(vessel_cap_name(41) == NULL);
        CHECK(vessel_cap_from_name("CAP_FOO") == -1);
        CHECK(vessel_cap_from_name("cap_chown") == -1);
        CHECK(vessel_cap_from_name("CHOWN") == -1);
        CHECK(vessel_cap_from_name(NULL) == -1);
}

static void test_hooks_and_tables(void)
{
        CHECK_STR(vessel_hook_name(VESSEL_HOOK_PRESTART), "prestart");
        CHECK_STR(vessel_hook_name(VESSEL_HOOK_CREATE_RUNTIME), "createRuntime");
        CHECK_STR(vessel_hook_name(VESSEL_HOOK_CREATE_CONTAINER), "createContainer");
        CHECK_STR(vessel_hook_name(VESSEL_HOOK_START_CONTAINER), "startContainer");
        CHECK_STR(vessel_hook_name(VESSEL_HOOK_POSTSTART), "poststart");
        CHECK_STR(vessel_hook_name(VESSEL_HOOK_POSTSTOP), "poststop");
        CHECK(vessel_hook_name(VESSEL_HOOK_KIND_COUNT) == NULL);

        CHECK(strv_len((char *const *)vessel_seccomp_action_names) == 9);
        CHECK(strv_len((char *const *)vessel_seccomp_arch_names) == 23);
        CHECK(strv_len((char *const *)vessel_seccomp_op_names) == 7);
        CHECK(strv_len((char *const *)vessel_seccomp_flag_names) == 6);
        CHECK(vessel_name_index(vessel_seccomp_action_names, "SCMP_ACT_ALLOW") >= 0);
        CHECK(vessel_name_index(vessel_seccomp_op_names, "SCMP_CMP_MASKED_EQ") == 6);
        /* flag i is (1 << i) */
        CHECK(vessel_name_index(vessel_seccomp_flag_names, "SECCOMP_FILTER_FLAG_TSYNC") == 0);
        CHECK(vessel_name_index(vessel_seccomp_flag_names, "SECCOMP_FILTER_FLAG_NEW_LISTENER") == 3);
        CHECK(vessel_name_index(vessel_seccomp_flag_names,
                                "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV") == 5);
        CHECK(vessel_name_index(vessel_seccomp_arch_names, "SCMP_ARCH_FOO") == -1);
        CHECK(vessel_name_index(vessel_seccomp_arch_names, NULL) == -1);
        CHECK(vessel_name_index(vessel_mount_option_names, "rbind") >= 0);
        CHECK(vessel_name_index(vessel_mount_option_names, "size=1") == -1);
}

int main(void)
{
        test_namespaces();
        test_rlimits();
        test_caps();
        test_hooks_and_tables();
        return check_report("test_names");
}
