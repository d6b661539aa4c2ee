/* exe.h (exe.c): the runtime's own executable, as the container sees it.
 *
 * A runtime process that enters a container (the init before its execve,
 * an exec helper) has the host's vessel binary as /proc/self/exe.  A
 * container process that gets hold of it (the entrypoint a script whose
 * interpreter is "/proc/self/exe", or /proc/PID/exe while we run) could
 * reopen it for writing once we exit and replace the host's runtime
 * (CVE-2019-5736).  So before such a command does anything, vessel
 * re-executes itself from a copy nobody can write: a detached read-only
 * bind mount of its binary (no copy, no mount anyone can see), or, where
 * we may not mount, a sealed memfd copy. */
#pragma once

#include <stdbool.h>
#include "error.h"

enum vessel_exe_protection {
        VESSEL_EXE_UNPROTECTED, /* a writable file on a writable mount */
        VESSEL_EXE_READONLY,    /* on a read-only mount (ours or the host's) */
        VESSEL_EXE_SEALED,      /* a memfd sealed against writes */
        VESSEL_EXE_NOT_OURS,    /* unprivileged, and the file is not writable by us */
};

/* How the running executable is protected (fd: open on /proc/self/exe). */
enum vessel_exe_protection vessel_exe_protection_of(int fd);

/* Make sure the running executable cannot be written through
 * /proc/self/exe: returns 0 when it already cannot, else re-executes
 * itself with argv and the current environment and does not return;
 * a negative errno with *err when that fails. */
int vessel_exe_protect(char **argv, vessel_error **err);
