/* lxcfs.c: find, probe and start lxcfs, and the binds an instance gets
 * from it (see lxcfs.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lxcfs.h"
#include "rundir.h"
#include "util.h"

/* ------------------------------------------------------------ mountinfo */

/* Decode mountinfo's \ooo escapes (space, tab, newline, backslash) of
 * the field at s, up to the next space, into out. */
static void unescape_field(const char *s, char *out, size_t size)
{
        size_t n = 0;

        while (*s && *s != ' ' && n + 1 < size) {
                if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
                    s[3] >= '0' && s[3] <= '7') {
                        out[n++] = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
                        s += 4;
                } else {
                        out[n++] = *s++;
                }
        }
        out[n] = '\0';
}

/* The start of field i (0-based) of a mountinfo line, or NULL. */
static const char *field(const char *line, const char *eol, int i)
{
        const char *p = line;

        for (; i > 0 && p < eol; i--) {
                p = memchr(p, ' ', (size_t)(eol - p));
                if (!p)
                        return NULL;
                p++;
        }
        return p < eol ? p : NULL;
}

/* "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER":
 * the mount point is field 4, the type follows the " - " separator. */
static bool line_is_lxcfs_at(const char *line, const char *eol, const char *dir)
{
        const char *mp = field(line, eol, 4), *sep;
        char path[PATH_MAX];
        static const char type[] = "fuse.lxcfs ";

        if (!mp)
                return false;
        sep = line;
        for (const char *p = mp; p + 3 <= eol; p++)
                if (!memcmp(p, " - ", 3)) {
                        sep = p + 3;
                        break;
                }
        if (sep == line || (size_t)(eol - sep) < strlen(type) || memcmp(sep, type, strlen(type)))
                return false;
        unescape_field(mp, path, sizeof(path));
        return !strcmp(path, dir);
}

bool lxcfs_mountinfo_has(const char *mountinfo, const char *dir)
{
        for (const char *line = mountinfo; line && *line;) {
                const char *eol = strchr(line, '\n');
                if (!eol)
                        eol = line + strlen(line);
                if (line_is_lxcfs_at(line, eol, dir))
                        return true;
                line = *eol ? eol + 1 : eol;
        }
        return false;
}

static bool mounted_at(const char *dir)
{
        _cleanup_free_ char *text = NULL;

        if (read_file_at(AT_FDCWD, "/proc/self/mountinfo", &text, NULL, NULL) < 0)
                return false;
        return lxcfs_mountinfo_has(text, dir);
}

/* ---------------------------------------------------------------- probe */

const char *lxcfs_state_name(enum lxcfs_state s)
{
        static const char *const names[] = {
            [LXCFS_ABSENT] = "absent", [LXCFS_LIVE] = "live",     [LXCFS_DEAD] = "dead",
            [LXCFS_HUNG] = "hung",     [LXCFS_BROKEN] = "broken",
        };

        return (size_t)s < ARRAY_SIZE(names) ? names[s] : "?";
}

/* The probe's child: one read of lxcfs's uptime, a file it computes on
 * each read (a real round trip to the daemon, not a cached attribute). */
static _Noreturn void probe_child(const char *dir)
{
        _cleanup_free_ char *p = xasprintf("%s/proc/uptime", dir);
        char buf[64];
        int fd;

        /* Nothing of the parent's (op.lock, the store) may stay held by a
         * child that hangs. */
        syscall(SYS_close_range, 3U, ~0U, 0U);
        fd = open(p, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || read(fd, buf, sizeof(buf)) < 0)
                _exit(errno > 0 && errno < 256 ? errno : 255);
        _exit(0);
}

/* The wait for the probe's child, bounded: a child stuck in a request to
 * a hung FUSE daemon cannot be interrupted by anything but SIGKILL (FUSE
 * waits for an answer killably), so the wait is done on its pidfd with a
 * poll timeout and the child is killed on expiry.  A thread would not do:
 * it could not be killed alone, and it would hold the process's exit. */
static int wait_child(pid_t pid, int timeout_ms, int *status)
{
        _cleanup_close_ int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
        struct pollfd p = {.fd = pidfd, .events = POLLIN};
        int r;

        if (pidfd < 0) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
                return -1;
        }
        do
                r = poll(&p, 1, timeout_ms);
        while (r < 0 && errno == EINTR);
        if (r == 0) {
                kill(pid, SIGKILL);
                /* Dies on SIGKILL even in a FUSE request; reaped if it did
                 * within a moment, else it stays a zombie till we exit. */
                if (poll(&p, 1, 200) > 0)
                        waitpid(pid, NULL, 0);
                return 0;
        }
        while (waitpid(pid, status, 0) < 0)
                if (errno != EINTR)
                        return -1;
        return 1;
}

enum lxcfs_state lxcfs_probe(const char *dir, int timeout_ms)
{
        int status = 0, r;
        pid_t pid;

        if (!mounted_at(dir))
                return LXCFS_ABSENT;
        pid = fork();
        if (pid < 0)
                return LXCFS_BROKEN;
        if (pid == 0)
                probe_child(dir);
        r = wait_child(pid, timeout_ms, &status);
        if (r == 0)
                return LXCFS_HUNG;
        if (r < 0 || !WIFEXITED(status))
                return LXCFS_BROKEN;
        if (WEXITSTATUS(status) == 0)
                return LXCFS_LIVE;
        if (WEXITSTATUS(status) == ENOTCONN || WEXITSTATUS(status) == ECONNABORTED)
                return LXCFS_DEAD;
        return LXCFS_BROKEN;
}

/* ---------------------------------------------------------------- binds */

size_t lxcfs_binds(const char *dir, struct lxcfs_bind *out, size_t max)
{
        /* What LXC's lxcfs mount hook binds: every proc file lxcfs has
         * (these are all lxcfs 5 has), and the cpu directory. */
        static const struct {
                const char *rel, *dst;
                bool directory;
        } all[] = {
            {"proc/cpuinfo", "/proc/cpuinfo", false},
            {"proc/diskstats", "/proc/diskstats", false},
            {"proc/loadavg", "/proc/loadavg", false},
            {"proc/meminfo", "/proc/meminfo", false},
            {"proc/slabinfo", "/proc/slabinfo", false},
            {"proc/stat", "/proc/stat", false},
            {"proc/swaps", "/proc/swaps", false},
            {"proc/uptime", "/proc/uptime", false},
            {"sys/devices/system/cpu", "/sys/devices/system/cpu", true},
        };
        size_t n = 0;

        for (size_t i = 0; i < ARRAY_SIZE(all) && n < max; i++) {
                struct stat st;
                snprintf(out[n].source, sizeof(out[n].source), "%s/%s", dir, all[i].rel);
                if (stat(out[n].source, &st) < 0 || !!S_ISDIR(st.st_mode) != all[i].directory)
                        continue;
                out[n].destination = all[i].dst;
                out[n].directory = all[i].directory;
                n++;
        }
        return n;
}

/* ---------------------------------------------------------------- start */

const char *lxcfs_dir(void)
{
        const char *e = getenv("VESSEL_LXCFS_DIR");

        return e && *e ? e : LXCFS_DIR_DEFAULT;
}

static const char *lxcfs_bin(void)
{
        const char *e = getenv("VESSEL_LXCFS_BIN");

        return e && *e ? e : LXCFS_BIN_DEFAULT;
}

/* /run/vesselctl/lxcfs/<key>.<ext> for the mount point dir. */
static char *run_file(const char *dir, const char *ext)
{
        char key[13];

        rundir_store_key(dir, key);
        return xasprintf(LXCFS_RUN_DIR "/%s.%s", key, ext);
}

static void sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* The start lock, waited for up to timeout_ms: a start of lxcfs holds it
 * for a bounded time (the probes' and the mount's timeouts). */
static int take_lock(const char *path, int timeout_ms)
{
        _cleanup_close_ int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);

        if (fd < 0)
                return -errno;
        for (int waited = 0; flock(fd, LOCK_EX | LOCK_NB) < 0; waited += 20) {
                if (errno != EWOULDBLOCK && errno != EINTR)
                        return -errno;
                if (waited >= timeout_ms)
                        return -ETIMEDOUT;
                sleep_ms(20);
        }
        return steal_fd(&fd);
}

/* lxcfs -f, daemonized by us rather than by itself (which would send its
 * output to /dev/null): in a session of its own, not our child (double
 * fork), stdio to the log, nothing of ours inherited. */
static int spawn(const char *bin, const char *dir, const char *pidfile, const char *log,
                 vessel_error **err)
{
        int status;
        pid_t pid = fork();

        if (pid < 0)
                return vessel_error_sys(err, "fork");
        if (pid == 0) {
                daemon_child_setup(log, true);
                syscall(SYS_close_range, 3U, ~0U, 0U);
                execl(bin, bin, "-f", "-p", pidfile, dir, (char *)NULL);
                dprintf(STDERR_FILENO, "exec %s: %s\n", bin, strerror(errno));
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return vessel_error_sys(err, "waitpid");
        return 0;
}

static bool wait_mounted(const char *dir, int timeout_ms)
{
        for (int waited = 0; waited < timeout_ms; waited += 20) {
                if (mounted_at(dir))
                        return true;
                sleep_ms(20);
        }
        return mounted_at(dir);
}

static long read_pid(const char *pidfile)
{
        _cleanup_free_ char *text = NULL;
        int64_t pid;

        if (read_file_at(AT_FDCWD, pidfile, &text, NULL, NULL) < 0)
                return 0;
        text[strcspn(text, "\n")] = '\0';
        return parse_int64(text, &pid) == 0 ? (long)pid : 0;
}

/* Under the lock: start lxcfs at dir and wait for its mount to answer. */
static int start_lxcfs(const char *bin, const char *dir, vessel_error **err)
{
        _cleanup_free_ char *pidfile = run_file(dir, "pid"), *log = run_file(dir, "log");
        enum lxcfs_state s;
        int r;

        if (mkdir_p(dir, 0755, err) < 0)
                return vessel_error_rc(err);
        if ((r = spawn(bin, dir, pidfile, log, err)) < 0)
                return r;
        if (!wait_mounted(dir, LXCFS_MOUNT_TIMEOUT_MS))
                return vessel_error_msg(err, ETIMEDOUT, "it did not mount %s within %d s (see %s)",
                                        dir, LXCFS_MOUNT_TIMEOUT_MS / 1000, log);
        s = lxcfs_probe(dir, LXCFS_PROBE_TIMEOUT_MS);
        if (s != LXCFS_LIVE)
                return vessel_error_msg(err, EIO, "its mount at %s is %s (see %s)", dir,
                                        lxcfs_state_name(s), log);
        fprintf(stderr, "vesselctl: started lxcfs at %s (pid %ld, log %s)\n", dir,
                read_pid(pidfile), log);
        return 0;
}

/* Under the lock: what the instance gets, saying why when nothing. */
static char *ensure_locked(const char *dir)
{
        const char *bin = lxcfs_bin();
        vessel_error *err = NULL;
        enum lxcfs_state s = lxcfs_probe(dir, LXCFS_PROBE_TIMEOUT_MS);

        switch (s) {
        case LXCFS_LIVE: /* another start was first */
                return xstrdup(dir);
        case LXCFS_HUNG:
        case LXCFS_BROKEN:
                /* It may come back; it is not ours to end. */
                fprintf(stderr,
                        "vesselctl: lxcfs at %s does not answer (%s): /proc in the instance "
                        "shows the host's\n",
                        dir, lxcfs_state_name(s));
                return NULL;
        case LXCFS_DEAD:
                /* Its daemon is gone for good (nothing can reconnect a FUSE
                 * mount): detach it, as lxcfs.service's ExecStopPost does,
                 * so that a new one can mount there.  Instances that run
                 * keep their binds of the dead one. */
                if (umount2(dir, MNT_DETACH) < 0) {
                        fprintf(stderr,
                                "vesselctl: lxcfs at %s is dead and cannot be unmounted (%s): "
                                "/proc in the instance shows the host's\n",
                                dir, strerror(errno));
                        return NULL;
                }
                fprintf(stderr, "vesselctl: lxcfs at %s was dead: unmounted it\n", dir);
                break;
        case LXCFS_ABSENT:
                break;
        }
        if (access(bin, X_OK) < 0) {
                fprintf(stderr, "vesselctl: lxcfs is not installed: /proc in instances shows the "
                                "host's\n");
                return NULL;
        }
        if (start_lxcfs(bin, dir, &err) < 0) {
                fprintf(stderr,
                        "vesselctl: cannot start lxcfs: %s: /proc in the instance shows "
                        "the host's\n",
                        err->msg);
                vessel_error_free(&err);
                return NULL;
        }
        return xstrdup(dir);
}

void lxcfs_ensure(char **out)
{
        const char *dir = lxcfs_dir();
        _cleanup_free_ char *lock = run_file(dir, "lock");
        _cleanup_close_ int fd = -1;

        *out = NULL;
        if (lxcfs_probe(dir, LXCFS_PROBE_TIMEOUT_MS) == LXCFS_LIVE) {
                *out = xstrdup(dir);
                return;
        }
        if (mkdir_p(LXCFS_RUN_DIR, 0700, NULL) < 0 ||
            (fd = take_lock(lock, 2 * (LXCFS_PROBE_TIMEOUT_MS * 2 + LXCFS_MOUNT_TIMEOUT_MS))) < 0) {
                fprintf(stderr,
                        "vesselctl: cannot take %s: /proc in the instance shows the "
                        "host's\n",
                        lock);
                return;
        }
        *out = ensure_locked(dir);
}

char *lxcfs_live_dir(void)
{
        const char *dir = lxcfs_dir();

        return lxcfs_probe(dir, LXCFS_PROBE_TIMEOUT_MS) == LXCFS_LIVE ? xstrdup(dir) : NULL;
}
