/* devices.h: device nodes in the container's /dev: the default set every
 * container gets (null zero full random urandom tty, ptmx, the /dev/fd
 * symlinks) and linux.devices.  Inside a user namespace mknod is not
 * allowed, so the host's nodes are bind mounted instead. */
#pragma once

#include <stdbool.h>
#include "spec.h"

int devices_setup(int rootfd, const struct vessel_spec *spec, bool userns, bool defaults,
                  vessel_error **err);
