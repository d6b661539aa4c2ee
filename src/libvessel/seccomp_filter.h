/* seccomp_filter.h (seccomp.c; named apart from libseccomp's <seccomp.h>): linux.seccomp compiled with libseccomp into a BPF program
 * once, in the runtime, and installed with seccomp(2) as the last step
 * before execve (the child needs no libseccomp state). */
#pragma once

#include <stdbool.h>
#include <linux/filter.h>

#include "spec.h"

struct vessel_bpf {
        struct sock_filter *insns;
        unsigned short len;
        unsigned int flags; /* SECCOMP_FILTER_FLAG_* (NEW_LISTENER with SCMP_ACT_NOTIFY) */
        /* SCMP_ACT_NOTIFY: the listener (linux.seccomp.listenerPath), connected
         * by the runtime, gets the notify fd with the container's state. */
        int listener;              /* -1 when none */
        const char *listener_metadata;
        const char *state_json;    /* the container's state, for the listener */
        int pid;                   /* the process's pid as the runtime sees it: the
                                    * listener's "pid"; 0 = the state's (init) */
};

/* Connect to linux.seccomp.listenerPath when the profile uses NOTIFY
 * (b->listener stays -1 otherwise). */
int seccomp_connect_listener(const struct vessel_seccomp *s, struct vessel_bpf *b, vessel_error **err);

/* Compile the profile; an absent section gives an empty program.  With a
 * cache_dir, a program compiled before for the same profile (and the same
 * libseccomp) is read from there instead: compiling podman's default
 * profile costs more than the rest of a container's start.  The cache is
 * an optimisation only: any problem with it falls back to compiling. */
int seccomp_compile(const struct vessel_seccomp *s, const char *cache_dir, struct vessel_bpf *out,
                    vessel_error **err);
/* Install it (no-op when empty).  Needs no_new_privs or CAP_SYS_ADMIN.
 * With NOTIFY, sends the notify fd to the listener as the OCI runtime spec
 * describes ({"ociVersion","fds":["seccompFd"],"pid","metadata","state"}
 * with the fd in SCM_RIGHTS) and closes both. */
int seccomp_install(const struct vessel_bpf *b, vessel_error **err);
void seccomp_bpf_clear(struct vessel_bpf *b);
/* Does the libseccomp vessel is built with know "SCMP_ARCH_..."?  An
 * architecture it does not know is left out of a filter. */
bool seccomp_arch_known(const char *name);
