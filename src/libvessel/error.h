/* error.h: one error type that carries context up to the user.
 *
 * Library functions return 0 (or a non-negative value) on success and
 * a negative errno on failure, after filling *err with a message that
 * names the object, the syscall and the errno.  Callers add context with
 * vessel_error_prefix() on the way up.  The CLI prints the message. */
#pragma once

#include <stdarg.h>

typedef struct vessel_error {
        int code;  /* positive errno, or 0 for a logical error */
        char *msg; /* heap allocated, complete message */
} vessel_error;

/* Set *err (if err is non-NULL and empty) and return -code (or -EINVAL
 * when code is 0).  The errno string is appended when code != 0. */
int vessel_error_set(vessel_error **err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* A complete message that still carries code (no errno text appended):
 * for logical errors such as "container x does not exist" (ENOENT). */
int vessel_error_msg(vessel_error **err, int code, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
/* Like vessel_error_set() with code = errno. */
int vessel_error_sys(vessel_error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepend "context: " to an existing error; returns its -code. */
int vessel_error_prefix(vessel_error **err, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
void vessel_error_free(vessel_error **err);
/* Return -code of an error (never 0). */
int vessel_error_ret(const vessel_error *err);
/* Pass a callee's failure on: -code of *err; where err is NULL (the
 * caller wanted no message), the code of this thread's last error set
 * (-EIO if none).  Never dereference err yourself to return its code:
 * callers may pass NULL. */
int vessel_error_rc(vessel_error *const *err);
