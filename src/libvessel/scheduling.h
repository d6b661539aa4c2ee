/* scheduling.h: how the kernel runs the container's process and places its
 * memory: process.scheduler (sched_setattr), process.ioPriority
 * (ioprio_set) and linux.memoryPolicy (set_mempolicy).
 *
 * Each of them belongs to the calling thread, is inherited by its children
 * and kept across execve.  So the process applies them to itself, after the
 * runtime's last fork (SCHED_FLAG_RESET_ON_FORK would drop them in a child;
 * SCHED_DEADLINE forbids fork) and once it is in the container's cgroup
 * (real-time budget, cpuset), but before it drops its privileges: raising a
 * priority, a real-time policy and SCHED_DEADLINE need CAP_SYS_NICE, the
 * real-time I/O class CAP_SYS_ADMIN or CAP_SYS_NICE.  No later step
 * (setuid, capabilities, no_new_privs, seccomp, execve) changes them. */
#pragma once

#include "spec.h"

/* Apply lx's memory policy (lx may be NULL), then p's I/O priority, then
 * its scheduler; errors name the JSON path, the syscall and why. */
int scheduling_apply(const struct vessel_process *p, const struct vessel_linux *lx,
                     vessel_error **err);
