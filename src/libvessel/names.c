/* names.c: name <-> number tables for namespaces, rlimits, capabilities,
 * hooks, the seccomp vocabulary, scheduler policies and memory policy modes.  Shared by the config parser, the
 * `features` output and the CLI. */
#include "spec.h"
#include "util.h"

#include <string.h>
#include <sys/resource.h>

static const char *const ns_names[VESSEL_NS_COUNT] = {
        [VESSEL_NS_PID] = "pid",   [VESSEL_NS_NET] = "network", [VESSEL_NS_MNT] = "mount",
        [VESSEL_NS_IPC] = "ipc",   [VESSEL_NS_UTS] = "uts",     [VESSEL_NS_USER] = "user",
        [VESSEL_NS_CGROUP] = "cgroup", [VESSEL_NS_TIME] = "time",
};

const char *vessel_ns_name(enum vessel_ns_type t)
{
        if ((unsigned)t >= VESSEL_NS_COUNT)
                return NULL;
        return ns_names[t];
}

int vessel_ns_from_name(const char *name)
{
        if (!name)
                return -1;
        for (int i = 0; i < VESSEL_NS_COUNT; i++)
                if (!strcmp(ns_names[i], name))
                        return i;
        return -1;
}

static const struct {
        const char *name;
        int resource;
} rlimits[] = {
        {"RLIMIT_AS", RLIMIT_AS},
        {"RLIMIT_CORE", RLIMIT_CORE},
        {"RLIMIT_CPU", RLIMIT_CPU},
        {"RLIMIT_DATA", RLIMIT_DATA},
        {"RLIMIT_FSIZE", RLIMIT_FSIZE},
        {"RLIMIT_LOCKS", RLIMIT_LOCKS},
        {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
        {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
        {"RLIMIT_NICE", RLIMIT_NICE},
        {"RLIMIT_NOFILE", RLIMIT_NOFILE},
        {"RLIMIT_NPROC", RLIMIT_NPROC},
        {"RLIMIT_RSS", RLIMIT_RSS},
        {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
        {"RLIMIT_RTTIME", RLIMIT_RTTIME},
        {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
        {"RLIMIT_STACK", RLIMIT_STACK},
};

int vessel_rlimit_from_name(const char *name)
{
        if (!name)
                return -1;
        for (size_t i = 0; i < ARRAY_SIZE(rlimits); i++)
                if (!strcmp(rlimits[i].name, name))
                        return rlimits[i].resource;
        return -1;
}

const char *vessel_rlimit_name(int resource)
{
        for (size_t i = 0; i < ARRAY_SIZE(rlimits); i++)
                if (rlimits[i].resource == resource)
                        return rlimits[i].name;
        return NULL;
}

/* Indexed by capability number, as in linux/capability.h. */
static const char *const cap_names[] = {
        "CAP_CHOWN",          "CAP_DAC_OVERRIDE",  "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
        "CAP_FSETID",         "CAP_KILL",          "CAP_SETGID",          "CAP_SETUID",
        "CAP_SETPCAP",        "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
        "CAP_NET_ADMIN",      "CAP_NET_RAW",       "CAP_IPC_LOCK",        "CAP_IPC_OWNER",
        "CAP_SYS_MODULE",     "CAP_SYS_RAWIO",     "CAP_SYS_CHROOT",      "CAP_SYS_PTRACE",
        "CAP_SYS_PACCT",      "CAP_SYS_ADMIN",     "CAP_SYS_BOOT",        "CAP_SYS_NICE",
        "CAP_SYS_RESOURCE",   "CAP_SYS_TIME",      "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
        "CAP_LEASE",          "CAP_AUDIT_WRITE",   "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
        "CAP_MAC_OVERRIDE",   "CAP_MAC_ADMIN",     "CAP_SYSLOG",          "CAP_WAKE_ALARM",
        "CAP_BLOCK_SUSPEND",  "CAP_AUDIT_READ",    "CAP_PERFMON",         "CAP_BPF",
        "CAP_CHECKPOINT_RESTORE",
};

int vessel_cap_from_name(const char *name)
{
        if (!name)
                return -1;
        for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++)
                if (!strcmp(cap_names[i], name))
                        return (int)i;
        return -1;
}

const char *vessel_cap_name(int cap)
{
        if (cap < 0 || (size_t)cap >= ARRAY_SIZE(cap_names))
                return NULL;
        return cap_names[cap];
}

int vessel_cap_last(void)
{
        return (int)ARRAY_SIZE(cap_names) - 1;
}

static const char *const hook_names[VESSEL_HOOK_KIND_COUNT] = {
        [VESSEL_HOOK_PRESTART] = "prestart",
        [VESSEL_HOOK_CREATE_RUNTIME] = "createRuntime",
        [VESSEL_HOOK_CREATE_CONTAINER] = "createContainer",
        [VESSEL_HOOK_START_CONTAINER] = "startContainer",
        [VESSEL_HOOK_POSTSTART] = "poststart",
        [VESSEL_HOOK_POSTSTOP] = "poststop",
};

const char *vessel_hook_name(enum vessel_hook_kind k)
{
        if ((unsigned)k >= VESSEL_HOOK_KIND_COUNT)
                return NULL;
        return hook_names[k];
}

const char *const vessel_seccomp_action_names[] = {
        "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",  "SCMP_ACT_ERRNO",        "SCMP_ACT_TRACE",
        "SCMP_ACT_ALLOW", "SCMP_ACT_LOG",          "SCMP_ACT_NOTIFY",
        NULL,
};

const char *const vessel_seccomp_arch_names[] = {
        "SCMP_ARCH_X86",        "SCMP_ARCH_X86_64",    "SCMP_ARCH_X32",
        "SCMP_ARCH_ARM",        "SCMP_ARCH_AARCH64",   "SCMP_ARCH_MIPS",
        "SCMP_ARCH_MIPS64",     "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL",
        "SCMP_ARCH_MIPSEL64",   "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
        "SCMP_ARCH_PPC64",      "SCMP_ARCH_PPC64LE",   "SCMP_ARCH_S390",
        "SCMP_ARCH_S390X",      "SCMP_ARCH_PARISC",    "SCMP_ARCH_PARISC64",
        "SCMP_ARCH_RISCV64",    "SCMP_ARCH_LOONGARCH64", "SCMP_ARCH_M68K",
        "SCMP_ARCH_SH",         "SCMP_ARCH_SHEB",
        NULL,
};

const char *const vessel_seccomp_op_names[] = {
        "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE",        "SCMP_CMP_EQ",
        "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ", NULL,
};

const char *const vessel_seccomp_flag_names[] = {
        "SECCOMP_FILTER_FLAG_TSYNC",
        "SECCOMP_FILTER_FLAG_LOG",
        "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
        "SECCOMP_FILTER_FLAG_NEW_LISTENER",
        "SECCOMP_FILTER_FLAG_TSYNC_ESRCH",
        "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
        NULL,
};

/* The index is the kernel's number (uapi linux/sched.h, linux/mempolicy.h). */
const char *const vessel_sched_policy_names[] = {
        "SCHED_OTHER", "SCHED_FIFO", "SCHED_RR",       "SCHED_BATCH",
        "SCHED_ISO",   "SCHED_IDLE", "SCHED_DEADLINE", NULL,
};

const char *const vessel_mpol_mode_names[] = {
        "MPOL_DEFAULT",        "MPOL_PREFERRED",           "MPOL_BIND", "MPOL_INTERLEAVE",
        "MPOL_LOCAL",          "MPOL_PREFERRED_MANY",      "MPOL_WEIGHTED_INTERLEAVE",
        NULL,
};

int vessel_name_index(const char *const *names, const char *name)
{
        if (!name)
                return -1;
        for (int i = 0; names[i]; i++)
                if (!strcmp(names[i], name))
                        return i;
        return -1;
}
