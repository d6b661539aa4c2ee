/* rundir.h: what lives only while instances run, under /run/vesselctl
 * (for a non-root user: $XDG_RUNTIME_DIR/vesselctl, else
 * /tmp/vesselctl-UID, which must be the user's own and 0700).
 *
 *   /run/vesselctl/<key>/         one per store (key: 12 hex digits of the
 *                                 SHA-256 of the store's path), 0700
 *     store                       symlink to the store, for people
 *     runtime/                    the runtime's state root (vessel --root)
 *     <name>/                     one per instance that runs or ran
 *       config.json               the OCI config it runs with (a bundle)
 *       op.lock                   flock'ed by start/stop/delete while they work
 *       monitor.lock              flock'ed by the monitor for its whole life
 *       monitor                   the monitor's unix socket (console, log)
 *       seccomp                   the monitor's mknod supervisor's socket, the
 *                                 runtime's linux.seccomp.listenerPath
 *       console                   where the runtime sends the pty (start only)
 *       init.pid                  the instance's init, as the host sees it
 *       paused                    present while the instance is paused
 *
 * /run is a tmpfs: after a host reboot nothing here claims that an
 * instance runs.  Not /run/vessel: that is the runtime's default root,
 * whose every entry is a container.  Paths stay under the 108 bytes of a
 * unix socket address for any valid instance name (63 bytes). */
#pragma once

#include <stdbool.h>

#include "error.h"
#include "store.h"

#define RUNDIR_BASE "/run/vesselctl"
#define RUNDIR_TMP_PREFIX "/tmp/vesselctl-"
/* sizeof(sockaddr_un.sun_path), and the longest socket name in an
 * instance's directory ("console", "monitor" and "seccomp" are as long). */
#define RUNDIR_SUN_PATH_MAX 108
#define RUNDIR_LONGEST_SOCKET "console"

/* The top directory (allocated) for the calling euid; the _for form from
 * its inputs, for the unit tests. */
char *rundir_top(void);
char *rundir_top_for(unsigned euid, const char *xdg_runtime_dir);

struct rundir {
        char *base;    /* /run/vesselctl/<key> */
        char *runtime; /* base/runtime */
        char *inst;    /* base/<name> */
};

/* The store's run directory and the instance's (created, 0700). */
/* Also: checks a non-root user's top directory, and that the sockets'
 * paths fit a unix socket address. */
int rundir_open(struct vessel_store *s, const char *name, struct rundir *rd, vessel_error **err);
void rundir_free(struct rundir *rd);
/* The paths alone (nothing is created): for readers. */
void rundir_at(const char *store_root, const char *name, struct rundir *rd);
/* The per-store key, also used in the instances' cgroup path. */
void rundir_store_key(const char *store_root, char key[13]);

/* Take op.lock (waiting for another start/stop/delete of the instance);
 * returns the fd that holds it. */
int rundir_op_lock(const struct rundir *rd, vessel_error **err);
/* Whether the instance's monitor lives (its lock is held). */
bool rundir_monitor_alive(const struct rundir *rd);
/* Wait for the monitor to end, up to timeout_ms (< 0: for ever); 1 when
 * it ended, 0 on timeout. */
int rundir_monitor_wait(const struct rundir *rd, int timeout_ms, vessel_error **err);
/* Knowing only the store and name (no directory is created). */
bool instance_monitor_alive(struct vessel_store *s, const char *name);
/* Its monitor died and left init.pid: the container may run on. */
bool instance_orphaned(struct vessel_store *s, const char *name);
/* Remove an instance's run directory (it is deleted). */
void rundir_remove(struct vessel_store *s, const char *name);
