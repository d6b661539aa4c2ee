/* util.h: small helpers shared by the library: cleanup attributes,
 * whole-file I/O, atomic writes, string lists. */
#pragma once

#include <stdio.h>

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/types.h>

#include "error.h"

static inline void freep(void *p)
{
        free(*(void **)p);
}
/* Close and forget: a second closep() of the same variable is harmless. */
static inline void closep(int *fd)
{
        if (*fd >= 0) {
                int saved = errno;
                close(*fd);
                errno = saved;
                *fd = -1;
        }
}
void strv_free(char **v);
static inline void strvp(char ***v)
{
        strv_free(*v);
}

#define _cleanup_free_ __attribute__((cleanup(freep)))
#define _cleanup_close_ __attribute__((cleanup(closep)))
#define _cleanup_strv_ __attribute__((cleanup(strvp)))

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

static inline int steal_fd(int *fd)
{
        int r = *fd;
        *fd = -1;
        return r;
}
static inline void *steal_ptr(void *pp)
{
        void **p = pp;
        void *r = *p;
        *p = NULL;
        return r;
}

void *xmalloc0(size_t n);     /* aborts on OOM: the runtime cannot continue */
char *xstrdup(const char *s); /* NULL-safe */
void *xrealloc(void *p, size_t n);
/* In a child just forked to become a daemon: a session of its own and one
 * more fork (the intermediate exits, so the daemon's parent is the
 * subreaper or init), stdin from /dev/null, stderr (and stdout with
 * stdout_too) appended to log, else /dev/null, cwd /.  Returns in the
 * daemon only. */
void daemon_child_setup(const char *log, bool stdout_too);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

size_t strv_len(char *const *v);
/* Append a copy of s; returns the new vector. */
char **strv_append(char **v, const char *s);
char **strv_copy(char *const *v);
/* The strings joined by sep, a heap string ("" for none). */
char *strv_join(char *const *v, const char *sep);

/* Read a whole file (at most 64 MiB) into a NUL-terminated buffer. */
int read_file_at(int dirfd, const char *path, char **out, size_t *len, vessel_error **err);
int write_file_at(int dirfd, const char *path, const void *buf, size_t len, vessel_error **err);
/* Write to path.tmp, fsync, rename over path. */
int write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode,
                      vessel_error **err);
int write_all(int fd, const void *buf, size_t len);
/* write_all to a pipe or FIFO whose reader may be gone: -EPIPE rather than
 * death by SIGPIPE, and the disposition left as it was (a container's
 * process inherits an ignored SIGPIPE across execve). */
int write_all_nosigpipe(int fd, const void *buf, size_t len);
ssize_t read_all(int fd, void *buf, size_t len);
/* mkdir -p for host paths (trusted). */
int mkdir_p(const char *path, mode_t mode, vessel_error **err);
/* Remove a directory tree on one file system (does not cross mounts). */
int rm_rf_at(int dirfd, const char *name);

int parse_int64(const char *s, int64_t *out);
bool str_has_prefix(const char *s, const char *prefix);

/* Pass one fd over a unix socket with SCM_RIGHTS (one byte of payload);
 * fd_recv returns the fd (close-on-exec) or -errno (-EPROTO when the
 * message carried none, -EPIPE at end of file). */
int fd_send(int sock, int fd);
int fd_recv(int sock);

/* The index of key among n elements of size bytes at base, sorted by the
 * string (const char *) at key_offset in each; *found says whether it is
 * there, else the index is where it would go. */
size_t sorted_find(const void *base, size_t n, size_t size, size_t key_offset, const char *key,
                   bool *found);

/* Close every fd >= from except those in keep[] (sorted or not). */
int close_fds_from(int from, const int *keep, size_t nkeep);

/* Monotonic and realtime clocks in nanoseconds. */
uint64_t now_ns_monotonic(void);
/* RFC 3339 timestamp with nanoseconds in UTC, as runc writes them. */
char *rfc3339_now(void);
/* Field number field (0 name, 5 home, ...) of uid's line in an
 * /etc/passwd stream, malloc'd; NULL without one. */
char *passwd_field(FILE *f, uid_t uid, int field);
