/* notify.h: sd_notify (NOTIFY_SOCKET) through the runtime, as runc does.
 *
 * When vessel runs with NOTIFY_SOCKET in its environment (a systemd unit
 * of Type=notify running `vessel run`, or an engine that wants READY=1):
 *   create:  the state directory gets notify/, bind mounted read-only at
 *            /run/notify in the container, and the container's process
 *            gets NOTIFY_SOCKET=/run/notify/notify.sock;
 *   start, run: before the process starts, vessel binds notify.sock there,
 *            and once the container sends READY=1 it sends "READY=1" and
 *            MAINPID (the container's init for start and run -d, vessel
 *            itself for a foreground run, which stays the main process)
 *            to the host's NOTIFY_SOCKET, and waits (BARRIER=1) until the
 *            manager took it.  `start` returns then, or when the container
 *            exits first.
 * Relaying from the runtime, not handing the container the host's socket:
 * the message then comes from a process of the caller's cgroup, where
 * systemd accepts it (NotifyAccess=main/all), with the right MAINPID, and
 * the container sees no directory of the host.  Other messages than READY
 * are not relayed (runc neither). */
#pragma once

#include <sys/types.h>
#include "spec.h"

/* create, once the state directory (dirfd) exists and before init is
 * made: notify/ in it, its mount appended to spec->mounts (with a slot in
 * *source_fds, mounts.h: init binds it by its path) and the process's
 * NOTIFY_SOCKET.  Nothing without NOTIFY_SOCKET in our environment. */
int notify_setup(struct vessel_spec *spec, int dirfd, const char *root, const char *id,
                 int **source_fds, vessel_error **err);
/* start/run, before the process starts: *fd the bound socket, or -1 when
 * there is nothing to relay (no NOTIFY_SOCKET now, or none at create). */
int notify_listen(int dirfd, int *fd, vessel_error **err);
/* Wait for READY=1 on fd or for init to exit; forward READY=1 and
 * MAINPID=mainpid to the host. */
int notify_relay(int fd, pid_t init, pid_t mainpid, vessel_error **err);
/* notify_relay() in a child of its own (a foreground run, which goes on
 * supervising the container); its pid, or -1. */
pid_t notify_relay_fork(int fd, pid_t init, pid_t mainpid);
