/* mknod-supervisor.h: mknod(2) of device nodes for the processes of an
 * instance that may not make them themselves (a user namespace: the
 * kernel wants CAP_MKNOD in the initial one), as LXC's and Incus's
 * security.syscalls.intercept.mknod do.  Part of the monitor
 * (monitor.h), in its poll loop.
 *
 * The instance's config.json (oci-gen-seccomp.c) has the runtime filter
 * mknod and mknodat with SCMP_ACT_NOTIFY and send the notify fd to
 * RUNDIR/MKNOD_SUPERVISOR_SOCKET: once for init, once for every exec'd
 * process.  The monitor listens there from before its `vessel run` (the
 * runtime's message waits in the socket) and for its whole life.
 *
 * Each notification is received in the loop and handed to a child
 * process of the monitor that answers it and exits, so that nothing the
 * container does (a hung file system in the path, a caller that is slow
 * to read) can hold the monitor: at most MKNOD_SUPERVISOR_WORKERS at once;
 * while that many work, the notify fds are not polled (the callers wait
 * in their syscall).  The child, after checking the notification is
 * still valid each time it read the caller's memory or opened its /proc
 * files:
 *  - lets the kernel do what it allows in a user namespace (FIFOs,
 *    sockets, regular files: SECCOMP_USER_NOTIF_FLAG_CONTINUE);
 *  - wants CAP_MKNOD in the caller's effective set and the caller in the
 *    user namespace of the instance's init (a nested one gets EPERM, as
 *    the kernel gives it); whiteouts (char 0:0) need neither;
 *  - chroot's to the caller's root and resolves the path from its cwd or
 *    dirfd there (with RESOLVE_NO_MAGICLINKS), with the caller's fsuid,
 *    fsgid, groups and umask and only CAP_MKNOD (plus the DAC and FSETID
 *    capabilities the caller has, where its user namespace maps the
 *    directory's owner), so that the kernel checks and owns the node as
 *    it would for the caller;
 *  - answers 0 or the errno the caller would have got. */
#pragma once

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* The socket in the instance's run directory (rundir.h). */
#define MKNOD_SUPERVISOR_SOCKET "seccomp"
#define MKNOD_SUPERVISOR_WORKERS 16
/* A worker that has not answered by then (a path through a FUSE mount
 * whose server does not answer, say) is killed, its caller gets EIO and
 * its slot is given to the next request.  $VESSEL_MKNOD_TIMEOUT_MS
 * overrides it (the tests). */
#define MKNOD_SUPERVISOR_TIMEOUT_MS 30000
/* Killed workers not reaped yet: one stuck in a FUSE request the kernel
 * does not let go of until its server dies or answers. */
#define MKNOD_SUPERVISOR_ABANDONED 64
#define MKNOD_SUPERVISOR_CONNS 8       /* runtimes connected, fd not yet sent */
#define MKNOD_SUPERVISOR_LISTENERS 128 /* notify fds: init's and the exec'd processes' */
/* The most pollfds mknod_supervisor_poll() fills. */
#define MKNOD_SUPERVISOR_POLLFDS (1 + MKNOD_SUPERVISOR_CONNS + MKNOD_SUPERVISOR_LISTENERS)

struct mknod_worker {
        pid_t pid;
        uint64_t deadline_ns; /* CLOCK_MONOTONIC */
        int nfd;              /* a dup of the notify fd, to answer for it */
        uint64_t id;          /* the notification */
        uint32_t caller;      /* its pid, for the log */
};

struct mknod_supervisor {
        int listenfd; /* the socket, listening */
        int conns[MKNOD_SUPERVISOR_CONNS];
        size_t n_conns;
        int notify[MKNOD_SUPERVISOR_LISTENERS];
        size_t n_notify;
        size_t polled_conns, polled_notify; /* at the last mknod_supervisor_poll() */
        struct mknod_worker workers[MKNOD_SUPERVISOR_WORKERS];
        size_t n_workers;
        pid_t abandoned[MKNOD_SUPERVISOR_ABANDONED];
        size_t n_abandoned;
        uint64_t timeout_ns;
        pid_t init;        /* the instance's init, whose user namespace callers must be in */
        size_t notif_size; /* SECCOMP_GET_NOTIF_SIZES */
        size_t resp_size;
};

/* Takes listenfd (a listening, non-blocking unix socket). */
int mknod_supervisor_init(struct mknod_supervisor *s, int listenfd);
/* Fills p with what to poll; returns how many (<= MKNOD_SUPERVISOR_POLLFDS). */
size_t mknod_supervisor_poll(struct mknod_supervisor *s, struct pollfd *p);
/* After poll(): p and n as mknod_supervisor_poll() filled them.  At most one
 * notification per notify fd. */
void mknod_supervisor_handle(struct mknod_supervisor *s, const struct pollfd *p, size_t n);
/* How long poll() may wait, in ms, before a worker's time is up: -1
 * while none works. */
int mknod_supervisor_poll_timeout(const struct mknod_supervisor *s, uint64_t now_ns);
/* Kill the workers whose time is up and answer EIO for them. */
void mknod_supervisor_expire(struct mknod_supervisor *s, uint64_t now_ns);
/* A child of the monitor was reaped: true when it was a worker. */
bool mknod_supervisor_reaped(struct mknod_supervisor *s, pid_t pid);
/* Close everything; kill the workers still at work and reap them for
 * up to a second (one stuck in a FUSE request is left to the reaper). */
void mknod_supervisor_close(struct mknod_supervisor *s);
