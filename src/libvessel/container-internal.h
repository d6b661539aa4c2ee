/* container-internal.h: what the three parts of a container's life share.
 *
 * create.c   the runtime's side of create: validate, publish the state,
 *            make the cgroup, clone init and talk to it until READY.
 * init.c     the container's init: namespaces, root, process, READY, and
 *            after start the last steps up to execve.
 * container.c  start, kill, delete, state, list and run.
 *
 * Runtime and init talk over a SOCK_SEQPACKET pair (sync.h) until init is
 * recorded as created; after that, `start` writes one byte into the exec
 * fifo and reads init's errors, if any, from the reply fifo. */
#pragma once

#include "container.h"
#include "cgroup.h"
#include "seccomp_filter.h"
#include "spec.h"
#include "state.h"

#include <stdbool.h>
#include <sys/types.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define EXEC_FIFO "exec.fifo"
/* After start, init reports back to `start` through this fifo: nothing
 * before execve (EOF = started), or the error of the startContainer
 * hooks, of dropping privileges, of the seccomp filter or of execve. */
#define REPLY_FIFO "start.fifo"

/* What the runtime hands the init it clones. */
struct init_args {
        const struct vessel_spec *spec;
        const struct vessel_create_opts *opts;
        const char *rootfs;
        const char *bundle;
        int sock;        /* init's end */
        int parent_sock; /* the parent's end, closed in init */
        int fifo;        /* O_RDWR exec fifo */
        int reply;       /* O_RDWR reply fifo: errors after start, closed by execve */
        int console;     /* connected console socket or -1 */
        int ns_fds[VESSEL_NS_COUNT];
        int dirfd;                 /* the locked state directory: closed in init */
        int listen_fds;            /* socket-activation fds passed on (from fd 3) */
        int preserve_fds;          /* fds from 3 that survive: max(--preserve-fds, listen_fds) */
        struct vessel_bpf seccomp; /* compiled by the runtime, installed by init */
        int *source_fds;           /* per mount: its bind source, cloned by the runtime, or -1 */
        int rootfs_idmapped;       /* the idmapped clone of the rootfs (rootfs.h), or -1 */
        int userns_uid, userns_gid; /* USERNS_OWNER_ANNOTATION: who creates the user namespace,
                                       or -1 (the runtime) */
        int dev_nodes;  /* user namespace: device nodes the host lacks (devices.h), or -1 */
        bool two_stage; /* fork once more after joining/unsharing */
        bool want_created_state; /* the "created" state is needed (startContainer hooks, seccomp
                                    listener) */
};

/* The runtime's side of a container being created. */
struct created {
        int dirfd;
        pid_t child; /* our direct child */
        pid_t pid;   /* the container's init (host pid) */
        struct vessel_spec *spec;
        struct vessel_state st;
        char *config_json;
        int console_peer; /* our end of the socket init sends its terminal to (foreground run) */
        bool want_created_state; /* init needs the "created" state (startContainer hooks, seccomp
                                    listener) */
        bool devices_applied;    /* the cgroup's device rules are in (cgroup_apply_devices) */
        struct vessel_cgroup *cg;
};

/* init.c: the cloned child's whole life; returns only with an exit status. */
int container_init(struct init_args *a);

/* create.c: everything up to a created container (state, cgroup, init
 * READY and recorded); on failure, nothing is left. */
int create_container(const struct vessel_runtime *rt, const struct vessel_create_opts *o,
                     struct created *c, vessel_error **err);
/* Kill what was started and, with remove, the cgroup and the state. */
void created_cleanup(const struct vessel_runtime *rt, struct created *c, bool remove);
void created_free(struct created *c);

/* container.c: with the state directory locked. */
/* *notify: the NOTIFY_SOCKET relay's socket, bound before the process
 * runs so that its READY=1 is not lost (notify.h), or -1. */
int start_locked(int dirfd, struct vessel_state *st, const struct vessel_spec *spec, int *notify,
                 vessel_error **err);
int delete_locked(const struct vessel_runtime *rt, int dirfd, const char *id, bool force,
                  vessel_error **err);
