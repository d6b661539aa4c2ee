/* terminal.h: the container's terminal.  The pty is allocated inside the
 * container's devpts; its master goes over a unix socket with SCM_RIGHTS,
 * either to the caller's --console-socket (conmon, containerd) or, in the
 * foreground, back to vessel itself, which then relays between its own
 * terminal and the container's (raw mode, SIGWINCH). */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

/* In the container: open rootfd-relative /dev/pts/ptmx (rootfd < 0: the
 * current root), send the master to console_sock, bind the peer onto the
 * root's /dev/console (with a root), make it the controlling terminal and
 * stdio. */
int terminal_setup(int rootfd, int console_sock, const struct vessel_process *p,
                   vessel_error **err);
/* A terminal vessel relays itself starts with the size of vessel's own
 * (unless process.consoleSize says otherwise), before the process runs. */
void terminal_inherit_size(struct vessel_process *p);
/* Connect to a --console-socket path. */
int terminal_connect(const char *path, vessel_error **err);
/* Receive a pty master fd sent with SCM_RIGHTS. */
int terminal_recv_master(int sock, vessel_error **err);
/* Supervise pid until it exits, forwarding signals to it; with master >= 0
 * relay stdin/stdout to the pty (our terminal in raw mode, resized along).
 * The caller has blocked all signals it wants forwarded.  *status is the
 * exit code, or 128 + the signal number. */
int terminal_supervise(pid_t pid, int master, int *status, vessel_error **err);
