/* resolve.h: paths inside a container's root, resolved by the kernel
 * with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), so that no
 * symlink in the root (absolute, or ".." past it) leads out of it.  The
 * runtime mounts onto what these return; the manager writes templates
 * and pushed files through them (so they live in the core library that
 * both link). */
#pragma once

#include "error.h"

enum resolve_create {
        RESOLVE_CREATE_NONE,
        RESOLVE_CREATE_DIR,  /* create missing directories, the last one too */
        RESOLVE_CREATE_FILE, /* create missing parents and an empty regular file */
};

/* openat2(rootfd, rel, flags | O_CLOEXEC) with RESOLVE_IN_ROOT |
 * RESOLVE_NO_MAGICLINKS; -1 with errno on failure. */
int openat2_in_root(int rootfd, const char *rel, int flags);
/* Open path (absolute or relative, interpreted inside the root) below rootfd
 * with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), creating what is
 * missing.  Returns an O_PATH fd. */
int path_open_in_root(int rootfd, const char *path, enum resolve_create create, vessel_error **err);
