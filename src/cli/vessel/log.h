/* log.h: the runtime's log, as runc writes it: plain text or JSON lines
 * ({"level":"error","msg":"...","time":"..."}) to --log FILE, and errors
 * to stderr as well. */
#pragma once

#include <stdbool.h>

struct cli_log {
        int fd;     /* --log file, or -1 */
        bool json;  /* --log-format json */
        bool debug; /* --debug */
};

void cli_log_open(struct cli_log *l, const char *path);
void cli_log(const struct cli_log *l, const char *level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
