/* rundir.c: see rundir.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "fingerprint.h"
#include "rundir.h"
#include "util.h"

void rundir_store_key(const char *store_root, char key[13])
{
        char hex[FINGERPRINT_HEX_LEN + 1];
        struct fingerprint f;

        fingerprint_init(&f);
        fingerprint_update(&f, store_root, strlen(store_root));
        fingerprint_final(&f, hex);
        memcpy(key, hex, 12);
        key[12] = '\0';
}

char *rundir_top_for(unsigned euid, const char *xdg_runtime_dir)
{
        if (euid == 0)
                return xstrdup(RUNDIR_BASE);
        /* The XDG base directory spec ignores a relative one. */
        if (xdg_runtime_dir && xdg_runtime_dir[0] == '/')
                return xasprintf("%s/vesselctl", xdg_runtime_dir);
        return xasprintf(RUNDIR_TMP_PREFIX "%u", euid);
}

char *rundir_top(void)
{
        return rundir_top_for((unsigned)geteuid(), getenv("XDG_RUNTIME_DIR"));
}

static char *inst_path(const char *store_root, const char *name)
{
        _cleanup_free_ char *top = rundir_top();
        char key[13];

        rundir_store_key(store_root, key);
        return xasprintf("%s/%s/%s", top, key, name);
}

void rundir_at(const char *store_root, const char *name, struct rundir *rd)
{
        _cleanup_free_ char *top = rundir_top();
        char key[13];

        rundir_store_key(store_root, key);
        *rd = (struct rundir){
            .base = xasprintf("%s/%s", top, key),
            .runtime = xasprintf("%s/%s/runtime", top, key),
            .inst = xasprintf("%s/%s/%s", top, key, name),
        };
}

/* A non-root user's top directory may be in a place others can write
 * (/tmp): made 0700 and used only if it is a directory of the user's
 * own, 0700, not a symlink, so that nobody else can see or plant the
 * sockets and pid files in it. */
static int top_check(const char *top, vessel_error **err)
{
        struct stat st;

        if (geteuid() == 0)
                return 0;
        if (mkdir(top, 0700) < 0 && errno != EEXIST)
                return vessel_error_sys(err, "run directory %s: mkdir", top);
        if (lstat(top, &st) < 0)
                return vessel_error_sys(err, "run directory %s: lstat", top);
        if (!S_ISDIR(st.st_mode))
                return vessel_error_msg(err, EPERM,
                                        "run directory %s: not a directory (a symlink?): refusing "
                                        "to use it; remove it",
                                        top);
        if (st.st_uid != geteuid() || (st.st_mode & 07777) != 0700)
                return vessel_error_msg(err, EPERM,
                                        "run directory %s: owned by uid %u with mode %04o, not by "
                                        "uid %u with mode 0700: refusing to use it (someone else "
                                        "may have made it); remove it",
                                        top, (unsigned)st.st_uid, (unsigned)(st.st_mode & 07777),
                                        (unsigned)geteuid());
        return 0;
}

int rundir_open(struct vessel_store *s, const char *name, struct rundir *rd, vessel_error **err)
{
        _cleanup_free_ char *link = NULL, *top = rundir_top();

        if (top_check(top, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\"", name);
        rundir_at(s->root, name, rd);
        /* The runtime binds and connects to the console and seccomp
         * sockets by path: sun_path holds 107 bytes and a NUL. */
        if (strlen(rd->inst) + strlen("/" RUNDIR_LONGEST_SOCKET) >= RUNDIR_SUN_PATH_MAX) {
                int r = vessel_error_msg(err, ENAMETOOLONG,
                                         "instance \"%s\": its sockets' path %s/%s would be "
                                         "longer than a unix socket address allows (%d bytes): "
                                         "use a shorter name or a shorter $XDG_RUNTIME_DIR",
                                         name, rd->inst, RUNDIR_LONGEST_SOCKET,
                                         RUNDIR_SUN_PATH_MAX - 1);
                rundir_free(rd);
                return r;
        }
        if (mkdir_p(rd->runtime, 0700, err) < 0 || mkdir_p(rd->inst, 0700, err) < 0) {
                rundir_free(rd);
                return vessel_error_prefix(err, "instance \"%s\": run directory", name);
        }
        link = xasprintf("%s/store", rd->base);
        if (symlink(s->root, link) < 0 && errno != EEXIST) {
                /* only a help for people: not worth failing a start */
        }
        return 0;
}

void rundir_free(struct rundir *rd)
{
        free(rd->base);
        free(rd->runtime);
        free(rd->inst);
        *rd = (struct rundir){0};
}

static int open_lock(const char *dir, const char *file, vessel_error **err)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
        int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd < 0)
                return vessel_error_sys(err, "open %s", p);
        return fd;
}

int rundir_op_lock(const struct rundir *rd, vessel_error **err)
{
        int fd = open_lock(rd->inst, "op.lock", err);

        if (fd < 0)
                return fd;
        while (flock(fd, LOCK_EX) < 0) {
                if (errno != EINTR) {
                        int r = vessel_error_sys(err, "flock %s/op.lock", rd->inst);
                        close(fd);
                        return r;
                }
        }
        return fd;
}

static bool alive_at(const char *dir)
{
        _cleanup_free_ char *p = xasprintf("%s/monitor.lock", dir);
        _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

        /* No lock file: no monitor ever ran here since boot. */
        if (fd < 0)
                return false;
        if (flock(fd, LOCK_SH | LOCK_NB) == 0)
                return false;
        return errno == EWOULDBLOCK;
}

bool rundir_monitor_alive(const struct rundir *rd)
{
        return alive_at(rd->inst);
}

bool instance_monitor_alive(struct vessel_store *s, const char *name)
{
        _cleanup_free_ char *p = inst_path(s->root, name);

        return alive_at(p);
}

static int pidfd_of_monitor(const struct rundir *rd)
{
        _cleanup_free_ char *p = xasprintf("%s/monitor.pid", rd->inst), *text = NULL;
        int64_t pid;

        if (read_file_at(AT_FDCWD, p, &text, NULL, NULL) < 0 || parse_int64(text, &pid) < 0 ||
            pid <= 0)
                return -1;
        return (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
}

/* flock has no timeout.  The monitor's pidfd says when it exits; the
 * lock, checked after the pidfd is open, says the pid is still the
 * monitor's (a recycled pid cannot hold it).  Without a pidfd, poll the
 * lock every few milliseconds. */
int rundir_monitor_wait(const struct rundir *rd, int timeout_ms, vessel_error **err)
{
        _cleanup_free_ char *p = xasprintf("%s/monitor.lock", rd->inst);
        _cleanup_close_ int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), pfd = -1;
        uint64_t deadline = now_ns_monotonic() + (uint64_t)timeout_ms * 1000000;
        long sleep_us = 1000;

        if (fd < 0)
                return errno == ENOENT ? 1 : vessel_error_sys(err, "open %s", p);
        pfd = pidfd_of_monitor(rd);
        for (;;) {
                if (flock(fd, LOCK_SH | LOCK_NB) == 0)
                        return 1;
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return vessel_error_sys(err, "flock %s", p);
                uint64_t now = now_ns_monotonic();
                if (timeout_ms >= 0 && now >= deadline)
                        return 0;
                int left = timeout_ms < 0 ? -1 : (int)((deadline - now) / 1000000) + 1;
                if (pfd >= 0) {
                        /* The pidfd fires when the process exits, which is after
                         * the exit recorder it exec'd has finished; the loop then
                         * sees the lock free.  A pidfd that fired without the lock
                         * being free (another holder) falls back to polling. */
                        struct pollfd pl = {.fd = pfd, .events = POLLIN};
                        if (poll(&pl, 1, left) > 0) {
                                close(pfd);
                                pfd = -1;
                        }
                        continue;
                }
                struct timespec ts = {0, sleep_us * 1000};
                nanosleep(&ts, NULL);
                if (sleep_us < 5000)
                        sleep_us += sleep_us / 2;
        }
}

void rundir_remove(struct vessel_store *s, const char *name)
{
        char key[13];
        _cleanup_free_ char *base = NULL, *top = rundir_top();
        _cleanup_close_ int fd = -1;

        rundir_store_key(s->root, key);
        base = xasprintf("%s/%s", top, key);
        fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd >= 0)
                rm_rf_at(fd, name);
}

bool instance_orphaned(struct vessel_store *s, const char *name)
{
        _cleanup_free_ char *p = inst_path(s->root, name);
        _cleanup_free_ char *pidf = xasprintf("%s/init.pid", p);

        return access(pidf, F_OK) == 0 && !alive_at(p);
}
