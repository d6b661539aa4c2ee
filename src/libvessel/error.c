#include "error.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vessel_error_ret(const vessel_error *err)
{
        if (err && err->code > 0)
                return -err->code;
        return -EINVAL;
}

/* The code of this thread's last error, also of one nobody asked a
 * message for (err NULL), so that vessel_error_rc(NULL) passes the
 * callee's errno on instead of a made-up one. */
static __thread int last_code;

static int remember(int r)
{
        last_code = -r;
        return r;
}

int vessel_error_rc(vessel_error *const *err)
{
        if (!err)
                return last_code > 0 ? -last_code : -EIO;
        return vessel_error_ret(*err);
}

__attribute__((format(printf, 4, 0))) static int error_vset(vessel_error **err, int code, bool append,
                                                           const char *fmt, va_list ap)
{
        char *base = NULL, *full = NULL;

        if (!err)
                return remember(code > 0 ? -code : -EINVAL);
        if (*err) /* keep the first, innermost error */
                return remember(vessel_error_ret(*err));
        if (vasprintf(&base, fmt, ap) < 0)
                base = NULL;
        if (base && code > 0 && append) {
                if (asprintf(&full, "%s: %s", base, strerror(code)) < 0)
                        full = NULL;
                free(base);
        } else {
                full = base;
        }
        *err = calloc(1, sizeof(**err));
        if (!*err) {
                free(full);
                return remember(code > 0 ? -code : -EINVAL);
        }
        (*err)->code = code;
        (*err)->msg = full ? full : strdup("out of memory");
        return remember(vessel_error_ret(*err));
}

int vessel_error_set(vessel_error **err, int code, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = error_vset(err, code, true, fmt, ap);
        va_end(ap);
        return r;
}

int vessel_error_sys(vessel_error **err, const char *fmt, ...)
{
        int code = errno ? errno : EIO;
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = error_vset(err, code, true, fmt, ap);
        va_end(ap);
        return r;
}

int vessel_error_msg(vessel_error **err, int code, const char *fmt, ...)
{
        va_list ap;
        int r;

        va_start(ap, fmt);
        r = error_vset(err, code, false, fmt, ap);
        va_end(ap);
        return r;
}

int vessel_error_prefix(vessel_error **err, const char *fmt, ...)
{
        char *prefix = NULL, *full = NULL;
        va_list ap;

        if (!err || !*err)
                return -EINVAL;
        va_start(ap, fmt);
        if (vasprintf(&prefix, fmt, ap) < 0)
                prefix = NULL;
        va_end(ap);
        if (prefix && asprintf(&full, "%s: %s", prefix, (*err)->msg) >= 0) {
                free((*err)->msg);
                (*err)->msg = full;
        }
        free(prefix);
        return vessel_error_ret(*err);
}

void vessel_error_free(vessel_error **err)
{
        if (!err || !*err)
                return;
        free((*err)->msg);
        free(*err);
        *err = NULL;
}
