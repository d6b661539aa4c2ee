/* devices.h: device nodes in the container's /dev: the default set every
 * container gets (null zero full random urandom tty, ptmx, the /dev/fd
 * symlinks) and linux.devices.
 *
 * In a user namespace mknod is refused, so the nodes are bind mounted
 * (nosuid,noexec): the host's node at the same path when it has one of the
 * right type and number, as runc and crun do; else a node that the runtime
 * makes before the container exists, in a tmpfs of its own that is never
 * attached on the host and goes away with its last clone. */
#pragma once

#include <stdbool.h>
#include "spec.h"

/* The runtime, before the container exists: with a user namespace, the
 * nodes that the host lacks, in a detached tmpfs (*nodes, or -1 when none
 * is needed).  An error names the device when none can be made (an
 * unprivileged runtime). */
int devices_prepare_host(const struct vessel_spec *spec, int *nodes, vessel_error **err);
/* Init, inside the rootfs: make (or bind) every device; nodes is what
 * devices_prepare_host() made, or -1. */
int devices_setup(int rootfd, const struct vessel_spec *spec, bool userns, bool defaults, int nodes,
                  vessel_error **err);
