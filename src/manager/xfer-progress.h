/* xfer-progress.h: how a long transfer (export, import, image import)
 * reports its progress to the CLI, which draws it
 * (src/cli/vesselctl/progress.c). */
#pragma once

#include <stdint.h>

/* done bytes out of total (0: unknown); report NULL: nobody asks. */
struct xfer_progress {
        void (*report)(void *data, uint64_t done, uint64_t total);
        void *data;
};
