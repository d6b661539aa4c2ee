/* scheduling.c: process.scheduler, process.ioPriority, linux.memoryPolicy
 * (see scheduling.h for where in the sequence they run, and why). */
#include "scheduling.h"
#include "util.h"

#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <linux/sched.h>

/* struct sched_attr of SCHED_ATTR_SIZE_VER1 (linux/sched/types.h, which
 * newer C libraries define too, under the same name).  The utilization
 * clamps stay 0: the spec has no values for them, and runc sends 0 too. */
struct sched_attr_v1 {
        uint32_t size;
        uint32_t sched_policy;
        uint64_t sched_flags;
        int32_t sched_nice;
        uint32_t sched_priority;
        uint64_t sched_runtime;
        uint64_t sched_deadline;
        uint64_t sched_period;
        uint32_t sched_util_min;
        uint32_t sched_util_max;
};

/* In the spec (from out-of-tree schedulers), not in mainline kernels. */
#define SCHED_ISO_ 4

/* linux/ioprio.h, not in every C library's headers */
#define IOPRIO_WHO_PROCESS_ 1
#define IOPRIO_CLASS_SHIFT_ 13
#define IOPRIO_CLASS_RT_ 1

/* Why the kernel said no, when the errno alone does not tell. */
static const char *scheduler_hint(const struct vessel_scheduler *s, int e)
{
        bool rt = s->policy == SCHED_FIFO || s->policy == SCHED_RR;

        if (e == EINVAL && s->policy == SCHED_ISO_)
                return "this kernel has no SCHED_ISO";
        if (e == EOPNOTSUPP && (s->flags & (SCHED_FLAG_UTIL_CLAMP_MIN | SCHED_FLAG_UTIL_CLAMP_MAX)))
                return "utilization clamping needs a kernel built with CONFIG_UCLAMP_TASK";
        if (e == EPERM && s->policy == SCHED_DEADLINE)
                return "SCHED_DEADLINE needs CAP_SYS_NICE in the host's user namespace, and a CPU "
                       "affinity spanning every CPU of its root domain (no cpuset or "
                       "linux.resources.cpu.cpus restricting it)";
        if (e == EPERM && rt)
                return "a real-time policy needs CAP_SYS_NICE in the host's user namespace, and "
                       "with cgroup v1 real-time group scheduling a cpu.rt_runtime_us budget in "
                       "the container's cgroup (linux.resources.cpu.realtimeRuntime)";
        if (e == EPERM && s->nice < 0)
                return "a negative nice value needs CAP_SYS_NICE in the host's user namespace";
        if (e == EBUSY && s->policy == SCHED_DEADLINE)
                return "not enough SCHED_DEADLINE bandwidth left on these CPUs";
        return NULL;
}

static int scheduler_apply(const struct vessel_scheduler *s, vessel_error **err)
{
        struct sched_attr_v1 a = {
            .size = sizeof(a),
            .sched_policy = s->policy,
            .sched_flags = s->flags,
            .sched_nice = s->nice,
            .sched_priority = s->priority,
            .sched_runtime = s->runtime,
            .sched_deadline = s->deadline,
            .sched_period = s->period,
        };
        const char *hint;
        char what[256];
        int e;

        if (!s->present || syscall(SYS_sched_setattr, 0, &a, 0) == 0)
                return 0;
        e = errno;
        snprintf(what, sizeof(what),
                 "process.scheduler: sched_setattr %s (nice %d, priority %u, flags 0x%llx, "
                 "runtime/deadline/period %llu/%llu/%llu ns)",
                 vessel_sched_policy_names[s->policy], s->nice, s->priority,
                 (unsigned long long)s->flags, (unsigned long long)s->runtime,
                 (unsigned long long)s->deadline, (unsigned long long)s->period);
        hint = scheduler_hint(s, e);
        if (hint)
                return vessel_error_msg(err, e, "%s: %s (%s)", what, strerror(e), hint);
        return vessel_error_set(err, e, "%s", what);
}

static int io_priority_apply(const struct vessel_process *p, vessel_error **err)
{
        int value = (p->io_priority_class << IOPRIO_CLASS_SHIFT_) | p->io_priority;
        int e;

        if (!p->has_io_priority || syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS_, 0, value) == 0)
                return 0;
        e = errno;
        if (e == EPERM && p->io_priority_class == IOPRIO_CLASS_RT_)
                return vessel_error_msg(err, e,
                                        "process.ioPriority: ioprio_set IOPRIO_CLASS_RT priority "
                                        "%d: %s (the real-time class needs CAP_SYS_ADMIN or "
                                        "CAP_SYS_NICE in the host's user namespace)",
                                        p->io_priority, strerror(e));
        return vessel_error_set(err, e, "process.ioPriority: ioprio_set class %d priority %d",
                                p->io_priority_class, p->io_priority);
}

static int memory_policy_apply(const struct vessel_memory_policy *mp, vessel_error **err)
{
        const unsigned long *mask = mp->has_nodes ? mp->nodemask : NULL;
        /* maxnode counts one more than the bits the kernel reads */
        unsigned long maxnode = mp->has_nodes ? VESSEL_MPOL_MAX_NODES + 1 : 0;
        int e;

        if (!mp->present ||
            syscall(SYS_set_mempolicy, mp->mode | (int)mp->flags, mask, maxnode) == 0)
                return 0;
        e = errno;
        if (e == EINVAL && mp->has_nodes)
                return vessel_error_msg(err, e,
                                        "linux.memoryPolicy: set_mempolicy %s nodes \"%s\" (flags "
                                        "0x%x): %s (the nodes must exist, be online and be "
                                        "allowed by the container's cpuset.mems)",
                                        vessel_mpol_mode_names[mp->mode], mp->nodes, mp->flags,
                                        strerror(e));
        return vessel_error_set(err, e, "linux.memoryPolicy: set_mempolicy %s (flags 0x%x)",
                                vessel_mpol_mode_names[mp->mode], mp->flags);
}

int scheduling_apply(const struct vessel_process *p, const struct vessel_linux *lx,
                     vessel_error **err)
{
        int r;

        if (lx && (r = memory_policy_apply(&lx->memory_policy, err)) < 0)
                return r;
        if ((r = io_priority_apply(p, err)) < 0)
                return r;
        return scheduler_apply(&p->scheduler, err);
}
