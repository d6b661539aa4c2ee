/* instance-run.h: running instances: start, stop, pause, exec, and what
 * the monitor records when one ends.
 *
 * The manager drives containers through the `vessel` binary, never
 * through a second copy of its code: the binary re-executes itself from a
 * sealed copy on every create and exec (CVE-2019-5736), keeps the
 * manager's libraries out of the container's reach, and is the runtime
 * podman and containerd run, so that what vesselctl runs is tested by
 * theirs too.  Reading state (list, info) needs no runtime: the monitor's
 * lock says whether an instance runs (rundir.h). */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "instance.h"
#include "store.h"

struct run_tools {
        char *runtime; /* vessel */
        char *monitor; /* vesselctl-monitor */
        char *ctl;     /* vesselctl itself */
};

/* $VESSELCTL_RUNTIME / $VESSELCTL_MONITOR, else beside vesselctl's own
 * executable, else where meson installed them. */
int run_tools_find(struct run_tools *t, vessel_error **err);
void run_tools_free(struct run_tools *t);

int instance_start(struct vessel_store *s, const char *name, vessel_error **err);
/* The halt signal (boot.stop.signal, else SIGRTMIN+3 for systemd, SIGPWR
 * for other inits), then SIGKILL after timeout_s; force: SIGKILL now. */
int instance_stop(struct vessel_store *s, const char *name, int timeout_s, bool force,
                  vessel_error **err);
int instance_pause(struct vessel_store *s, const char *name, bool pause, vessel_error **err);
/* The monitor's last act (vesselctl __monitor-exit, holding the
 * monitor's lock as lockfd): the exit status in the catalogue, the
 * instance deleted if ephemeral, or started again if its init asked for a
 * reboot (in a pid namespace, reboot(2) ends the init with SIGHUP). */
int instance_record_exit(struct vessel_store *s, const char *name, int status, int lockfd,
                         vessel_error **err);

/* What a dead monitor (killed, or the host went down) left of its
 * instance: the container's processes, cgroup and runtime state
 * (`vessel delete --force`), init.pid; the row says stopped after it.
 * The caller holds the instance's op.lock (rundir_op_lock) and saw no
 * monitor alive under it. */
struct rundir;
int instance_orphan_reap(struct vessel_store *s, const char *name, const struct rundir *rd,
                         vessel_error **err);

/* What runs: "running", "frozen", "stopped", or "error" when its monitor
 * died while the container may still run (stop or delete clean it up).
 * A row that says running without a live monitor or container is
 * corrected to stopped. */
struct instance_live {
        const char *state;
        pid_t init; /* 0 unless running or frozen */
};
int instance_live_state(struct vessel_store *s, const char *name, const char *db_state,
                        struct instance_live *out, vessel_error **err);

struct instance_exec_opts {
        char **env; /* KEY=VALUE */
        const char *cwd;
        long uid, gid; /* -1: root */
        bool tty;
        char **cmd;
};
/* The runtime's exec command line for the instance (vesselctl exec's it,
 * so the exit status is the command's), from the run directory alone:
 * store_root is the store's absolute path.  -ESRCH when it does not run
 * (or does not exist: the caller asks the catalogue which). */
int instance_exec_argv(const char *store_root, const char *name, const struct instance_exec_opts *o,
                       char ***argv, vessel_error **err);

/* console.c: attach the calling terminal (Ctrl-a q detaches); the log:
 * the monitor's ring buffer while it runs, else console.log. */
int instance_console_attach(struct vessel_store *s, const char *name, vessel_error **err);
int instance_console_log(struct vessel_store *s, const char *name, int outfd, vessel_error **err);

int instance_stats(struct vessel_store *s, const char *name, struct instance_stats *out,
                   vessel_error **err);
/* The live state (instance_live_state) into i->state and i->init_pid,
 * and with stats the runtime's numbers when it runs. */
void instance_refresh(struct vessel_store *s, struct instance *i, bool stats);
