#include "log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <json-c/json.h>

#include "util.h"

void cli_log_open(struct cli_log *l, const char *path)
{
        l->fd = -1;
        if (!path)
                return;
        l->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
        if (l->fd < 0)
                fprintf(stderr, "vessel: warning: cannot open --log %s: %m\n", path);
}

void cli_log(const struct cli_log *l, const char *level, const char *fmt, ...)
{
        _cleanup_free_ char *msg = NULL, *line = NULL, *now = NULL;
        bool is_debug = !strcmp(level, "debug");
        va_list ap;

        if (is_debug && !l->debug)
                return;
        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                msg = NULL;
        va_end(ap);
        if (!msg)
                return;
        if (!strcmp(level, "error") || !strcmp(level, "warning") || (is_debug && l->fd < 0))
                fprintf(stderr, "vessel: %s%s%s\n", strcmp(level, "error") ? level : "",
                        strcmp(level, "error") ? ": " : "", msg);
        if (l->fd < 0)
                return;
        now = rfc3339_now();
        if (l->json) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "level", json_object_new_string(level));
                json_object_object_add(o, "msg", json_object_new_string(msg));
                json_object_object_add(o, "time", json_object_new_string(now));
                line = xasprintf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                                               JSON_C_TO_STRING_NOSLASHESCAPE));
                json_object_put(o);
        } else {
                /* logfmt, as logrus writes it: quotes and backslashes escaped. */
                _cleanup_free_ char *q = xmalloc0(strlen(msg) * 2 + 1);
                char *o = q;
                for (const char *p = msg; *p; p++) {
                        if (*p == '"' || *p == '\\')
                                *o++ = '\\';
                        *o++ = *p == '\n' ? ' ' : *p;
                }
                line = xasprintf("time=\"%s\" level=%s msg=\"%s\"\n", now, level, q);
        }
        (void)write_all(l->fd, line, strlen(line));
}
