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
        unsigned int flags; /* SECCOMP_FILTER_FLAG_* */
};

/* Compile the profile; an absent section gives an empty program.  With a
 * cache_dir, a program compiled before for the same profile (and the same
 * libseccomp) is read from there instead: compiling podman's default
 * profile costs more than the rest of a container's start.  The cache is
 * an optimisation only: any problem with it falls back to compiling. */
int seccomp_compile(const struct vessel_seccomp *s, const char *cache_dir, struct vessel_bpf *out,
                    vessel_error **err);
/* Install it (no-op when empty).  Needs no_new_privs or CAP_SYS_ADMIN. */
int seccomp_install(const struct vessel_bpf *b, vessel_error **err);
void seccomp_bpf_clear(struct vessel_bpf *b);
