#include "util.h"

#include <sys/socket.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <sys/syscall.h>

void *xmalloc0(size_t n)
{
        void *p = calloc(1, n ? n : 1);
        if (!p)
                abort();
        return p;
}

void *xrealloc(void *p, size_t n)
{
        p = realloc(p, n ? n : 1);
        if (!p)
                abort();
        return p;
}

char *xstrndup(const char *s, size_t n)
{
        char *r = strndup(s, n);
        if (!r)
                abort();
        return r;
}

char *xstrdup(const char *s)
{
        char *r;
        if (!s)
                return NULL;
        r = strdup(s);
        if (!r)
                abort();
        return r;
}

char *xasprintf(const char *fmt, ...)
{
        va_list ap;
        char *r;
        va_start(ap, fmt);
        if (vasprintf(&r, fmt, ap) < 0)
                abort();
        va_end(ap);
        return r;
}

void strv_free(char **v)
{
        if (!v)
                return;
        for (char **p = v; *p; p++)
                free(*p);
        free(v);
}

size_t strv_len(char *const *v)
{
        size_t n = 0;
        while (v && v[n])
                n++;
        return n;
}

char **strv_append(char **v, const char *s)
{
        size_t n = strv_len(v);
        char **r = realloc(v, (n + 2) * sizeof(char *));
        if (!r)
                abort();
        r[n] = xstrdup(s);
        r[n + 1] = NULL;
        return r;
}

char **strv_copy(char *const *v)
{
        size_t n = strv_len(v);
        char **r = xmalloc0((n + 1) * sizeof(char *));
        for (size_t i = 0; i < n; i++)
                r[i] = xstrdup(v[i]);
        return r;
}

char *strv_join(char *const *v, const char *sep)
{
        size_t len = 1, n = strv_len(v);
        char *r, *p;

        for (size_t i = 0; i < n; i++)
                len += strlen(v[i]) + strlen(sep);
        r = p = xmalloc0(len);
        for (size_t i = 0; i < n; i++)
                p = stpcpy(stpcpy(p, i ? sep : ""), v[i]);
        return r;
}

int write_all(int fd, const void *buf, size_t len)
{
        const char *p = buf;
        while (len > 0) {
                ssize_t w = write(fd, p, len);
                if (w < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                p += w;
                len -= (size_t)w;
        }
        return 0;
}

int write_all_nosigpipe(int fd, const void *buf, size_t len)
{
        struct sigaction ign = {.sa_handler = SIG_IGN}, old;
        int r;

        sigaction(SIGPIPE, &ign, &old);
        r = write_all(fd, buf, len);
        sigaction(SIGPIPE, &old, NULL);
        return r;
}

ssize_t read_all(int fd, void *buf, size_t len)
{
        char *p = buf;
        size_t got = 0;
        while (got < len) {
                ssize_t r = read(fd, p + got, len - got);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (r == 0)
                        break;
                got += (size_t)r;
        }
        return (ssize_t)got;
}

int read_file_at(int dirfd, const char *path, char **out, size_t *len, vessel_error **err)
{
        _cleanup_close_ int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
        size_t cap = 4096, n = 0;
        char *buf;

        if (fd < 0)
                return vessel_error_sys(err, "open %s", path);
        buf = malloc(cap + 1);
        if (!buf)
                abort();
        for (;;) {
                ssize_t r;
                if (n == cap) {
                        if (cap >= 64u << 20) {
                                free(buf);
                                return vessel_error_set(err, EFBIG, "read %s", path);
                        }
                        cap *= 2;
                        char *nb = realloc(buf, cap + 1);
                        if (!nb)
                                abort();
                        buf = nb;
                }
                r = read(fd, buf + n, cap - n);
                if (r < 0) {
                        if (errno == EINTR)
                                continue;
                        int e = errno;
                        free(buf);
                        return vessel_error_set(err, e, "read %s", path);
                }
                if (r == 0)
                        break;
                n += (size_t)r;
        }
        buf[n] = '\0';
        *out = buf;
        if (len)
                *len = n;
        return 0;
}

int write_file_at(int dirfd, const char *path, const void *buf, size_t len, vessel_error **err)
{
        _cleanup_close_ int fd = openat(dirfd, path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_TRUNC);
        int r;

        if (fd < 0)
                return vessel_error_sys(err, "open %s", path);
        r = write_all(fd, buf, len);
        if (r < 0)
                return vessel_error_set(err, -r, "write %s", path);
        return 0;
}

int write_file_atomic(const char *path, const void *buf, size_t len, mode_t mode,
                      vessel_error **err)
{
        _cleanup_free_ char *tmp = xasprintf("%s.tmp.%d", path, (int)getpid());
        _cleanup_close_ int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
        int r;

        if (fd < 0)
                return vessel_error_sys(err, "open %s", tmp);
        r = write_all(fd, buf, len);
        if (r == 0 && fsync(fd) < 0)
                r = -errno;
        if (r < 0) {
                unlink(tmp);
                return vessel_error_set(err, -r, "write %s", tmp);
        }
        if (rename(tmp, path) < 0) {
                int e = errno;
                unlink(tmp);
                return vessel_error_set(err, e, "rename %s to %s", tmp, path);
        }
        return 0;
}

int mkdir_p(const char *path, mode_t mode, vessel_error **err)
{
        _cleanup_free_ char *p = xstrdup(path);

        for (char *s = p + 1; *s; s++) {
                if (*s != '/')
                        continue;
                *s = '\0';
                if (mkdir(p, mode) < 0 && errno != EEXIST)
                        return vessel_error_sys(err, "mkdir %s", p);
                *s = '/';
        }
        if (mkdir(p, mode) < 0 && errno != EEXIST)
                return vessel_error_sys(err, "mkdir %s", p);
        return 0;
}

int rm_rf_at(int parentfd, const char *name)
{
        _cleanup_close_ int fd = -1;
        DIR *d;
        struct dirent *de;
        struct stat st;

        if (unlinkat(parentfd, name, 0) == 0 || errno == ENOENT)
                return 0;
        if (errno != EISDIR && errno != EPERM)
                return -errno;
        fd = openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        if (fstat(fd, &st) < 0)
                return -errno;
        d = fdopendir(steal_fd(&fd));
        if (!d)
                return -errno;
        while ((de = readdir(d))) {
                struct stat cst;
                if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                int fdd = dirfd(d);
                if (fstatat(fdd, de->d_name, &cst, AT_SYMLINK_NOFOLLOW) == 0 &&
                    S_ISDIR(cst.st_mode) && cst.st_dev != st.st_dev)
                        continue; /* a mount point: never cross into it */
                rm_rf_at(fdd, de->d_name);
        }
        closedir(d);
        if (unlinkat(parentfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int parse_int64(const char *s, int64_t *out)
{
        char *end;
        long long v;

        if (!s || !*s)
                return -EINVAL;
        errno = 0;
        v = strtoll(s, &end, 10);
        if (errno || *end)
                return -EINVAL;
        *out = v;
        return 0;
}

bool str_has_prefix(const char *s, const char *prefix)
{
        return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int cmp_int(const void *a, const void *b)
{
        int x = *(const int *)a, y = *(const int *)b;
        return (x > y) - (x < y);
}

int close_fds_from(int from, const int *keep, size_t nkeep)
{
        int sorted[64];
        size_t n = 0;

        for (size_t i = 0; i < nkeep && n < ARRAY_SIZE(sorted); i++)
                if (keep[i] >= from)
                        sorted[n++] = keep[i];
        qsort(sorted, n, sizeof(int), cmp_int);
        for (size_t i = 0; i <= n; i++) {
                unsigned int lo = (unsigned int)from;
                unsigned int hi = i < n ? (unsigned int)sorted[i] - 1 : ~0U;
                if (i < n && sorted[i] < from)
                        continue;
                if (lo <= hi && syscall(SYS_close_range, lo, hi, 0) < 0)
                        return -errno;
                if (i < n)
                        from = sorted[i] + 1;
        }
        return 0;
}

uint64_t now_ns_monotonic(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

char *rfc3339_now(void)
{
        struct timespec ts;
        struct tm tm;
        char buf[64];

        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
        return xasprintf("%s.%09ldZ", buf, ts.tv_nsec);
}

char *passwd_field(FILE *f, uid_t uid, int field)
{
        _cleanup_free_ char *line = NULL;
        size_t cap = 0;

        while (getline(&line, &cap, f) >= 0) {
                char *rest = line, *fields[7] = {0};
                int64_t id;

                rest[strcspn(rest, "\n")] = '\0';
                for (int i = 0; i < 7 && rest; i++)
                        fields[i] = strsep(&rest, ":");
                if (fields[field] && fields[2] && parse_int64(fields[2], &id) == 0 &&
                    id == (int64_t)uid)
                        return xstrdup(fields[field]);
        }
        return NULL;
}

int fd_send(int sock, int fd)
{
        char byte = '1', cbuf[CMSG_SPACE(sizeof(int))] = {0};
        struct iovec iov = {.iov_base = &byte, .iov_len = 1};
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        ssize_t n;

        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &fd, sizeof(int));
        do
                n = sendmsg(sock, &msg, MSG_NOSIGNAL);
        while (n < 0 && errno == EINTR);
        return n < 0 ? -errno : 0;
}

int fd_recv(int sock)
{
        char buf[64], cbuf[CMSG_SPACE(sizeof(int))];
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        struct cmsghdr *c;
        ssize_t n;
        int fd;

        do
                n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
        while (n < 0 && errno == EINTR);
        if (n < 0)
                return -errno;
        if (n == 0)
                return -EPIPE;
        c = CMSG_FIRSTHDR(&msg);
        if (!c || c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
            c->cmsg_len != CMSG_LEN(sizeof(int)))
                return -EPROTO;
        memcpy(&fd, CMSG_DATA(c), sizeof(int));
        return fd;
}

size_t sorted_find(const void *base, size_t n, size_t size, size_t key_offset, const char *key,
                   bool *found)
{
        size_t lo = 0, hi = n;

        while (lo < hi) {
                size_t mid = lo + (hi - lo) / 2;
                const char *k;
                memcpy(&k, (const char *)base + mid * size + key_offset, sizeof(k));
                int c = strcmp(k, key);
                if (c == 0) {
                        *found = true;
                        return mid;
                }
                if (c < 0)
                        lo = mid + 1;
                else
                        hi = mid;
        }
        *found = false;
        return lo;
}

void daemon_child_setup(const char *log, bool stdout_too)
{
        pid_t pid;
        int null, lfd;

        if (setsid() < 0 || (pid = fork()) < 0)
                _exit(1);
        if (pid > 0)
                _exit(0);
        null = open("/dev/null", O_RDWR | O_CLOEXEC);
        lfd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        dup2(null, STDIN_FILENO);
        dup2(stdout_too && lfd >= 0 ? lfd : null, STDOUT_FILENO);
        dup2(lfd >= 0 ? lfd : null, STDERR_FILENO);
        if (chdir("/") < 0)
                _exit(1);
}
