/* monitor.h: the monitor of one running instance (the role of LXC's
 * "[lxc monitor]" and podman's conmon), a small static program of its
 * own, vesselctl-monitor, so that a monitor per instance costs well
 * under a MiB and holds none of the manager's libraries.
 *
 * vesselctl start runs it in a session of its own; it:
 *  - takes RUNDIR/monitor.lock for its whole life (who holds it runs),
 *    writes monitor.pid, becomes the child subreaper, so that the
 *    container's init, once the runtime's create has exited, is its child;
 *  - runs `vessel create --console-socket` and `vessel start`, receives
 *    the pty master, and reports "OK <init pid>" or "ERR <message>" on
 *    fd 3 to the start that waits;
 *  - copies the console's output into a ring buffer (128 KiB by default)
 *    and the instance's console.log, serves the RUNDIR/monitor socket:
 *    a client's first line "attach" makes it a console (input goes to the
 *    pty; the pty master is passed along for window sizes), "log" gets
 *    the ring buffer;
 *  - listens on RUNDIR/seccomp from before the runtime runs and supervises
 *    the instance's mknod (mknod-supervisor.h);
 *  - reaps the init, lets the runtime delete the container, and then
 *    exec's `vesselctl __monitor-exit NAME STATUS` (still holding the
 *    lock), which records the exit in the catalogue (the monitor itself
 *    has no SQLite). */
#pragma once

#include <stddef.h>

#define MONITOR_RING_DEFAULT (128 * 1024)
/* console.log is rotated to console.log.1 at each start and past this. */
#define MONITOR_LOG_MAX (8 * 1024 * 1024)

struct monitor_opts {
        const char *name;         /* the instance (= the runtime's container id) */
        const char *rundir;       /* RUNDIR of rundir.h, holding config.json */
        const char *runtime;      /* the vessel binary */
        const char *runtime_root; /* vessel --root */
        const char *log;          /* console.log path */
        size_t ring_size;
        const char *ctl;   /* the vesselctl binary, for __monitor-exit */
        const char *store; /* its --store */
};

/* Never returns on success (exec's the exit recorder); the exit status
 * on failure. */
int monitor_main(const struct monitor_opts *o);
