/* mknod-supervisor.c: device nodes made for an instance's processes
 * (see mknod-supervisor.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mknod-request.h"
#include "mknod-supervisor.h"
#include "util.h"

/* A worker's answer that is neither 0 nor an errno. */
#define ANSWER_CONTINUE 1

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
        va_list ap;

        fputs("vesselctl-monitor: mknod: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

int mknod_supervisor_init(struct mknod_supervisor *s, int listenfd)
{
        struct seccomp_notif_sizes sz = {0};
        const char *t = getenv("VESSEL_MKNOD_TIMEOUT_MS");
        char *end = NULL;
        unsigned long ms = t && *t ? strtoul(t, &end, 10) : 0;

        *s = (struct mknod_supervisor){.listenfd = listenfd};
        s->timeout_ns =
            (end && !*end && ms > 0 ? (uint64_t)ms : MKNOD_SUPERVISOR_TIMEOUT_MS) * 1000000ull;
        if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) < 0)
                return -errno;
        /* A newer kernel's structures may be larger than our headers' (it
         * wants the whole of them zeroed). */
        s->notif_size = sz.seccomp_notif > sizeof(struct seccomp_notif)
                            ? sz.seccomp_notif
                            : sizeof(struct seccomp_notif);
        s->resp_size = sz.seccomp_notif_resp > sizeof(struct seccomp_notif_resp)
                           ? sz.seccomp_notif_resp
                           : sizeof(struct seccomp_notif_resp);
        return 0;
}

size_t mknod_supervisor_poll(struct mknod_supervisor *s, struct pollfd *p)
{
        bool busy = s->n_workers == MKNOD_SUPERVISOR_WORKERS;
        size_t n = 0;

        p[n++] = (struct pollfd){.fd = s->listenfd, .events = POLLIN};
        for (size_t i = 0; i < s->n_conns; i++)
                p[n++] = (struct pollfd){.fd = s->conns[i], .events = POLLIN};
        /* All workers at work: the callers wait in their syscall, the
         * monitor goes on with its other fds. */
        for (size_t i = 0; i < s->n_notify; i++)
                p[n++] = (struct pollfd){.fd = busy ? -1 : s->notify[i], .events = POLLIN};
        s->polled_conns = s->n_conns;
        s->polled_notify = s->n_notify;
        return n;
}

static void drop(int *v, size_t *n, size_t i)
{
        close(v[i]);
        v[i] = v[--*n];
}

static int notif_id_valid(int nfd, uint64_t id)
{
        return ioctl(nfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0 ? 0 : -ENOENT;
}

static void answer(const struct mknod_supervisor *s, int nfd, uint64_t id, int r)
{
        _cleanup_free_ struct seccomp_notif_resp *resp = xmalloc0(s->resp_size);

        resp->id = id;
        if (r == ANSWER_CONTINUE)
                resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
        else
                resp->error = r; /* 0 or -errno */
        /* ENOENT: the caller is gone (killed, or its syscall interrupted). */
        if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, resp) < 0 && errno != ENOENT)
                logmsg("answer the notification: %m");
}

/* The path argument, read from the caller's memory. */
static int read_path(int piddir, uint64_t addr, char *buf, size_t size)
{
        _cleanup_close_ int mem = openat(piddir, "mem", O_RDONLY | O_CLOEXEC);
        ssize_t k;

        if (mem < 0)
                return -ESRCH;
        if (addr > (uint64_t)INT64_MAX)
                return -EFAULT;
        /* A read ends at the first page the caller does not have. */
        k = pread(mem, buf, size - 1, (off_t)addr);
        if (k <= 0)
                return -EFAULT;
        buf[k] = '\0';
        if (strlen(buf) == (size_t)k)
                return (size_t)k == size - 1 ? -ENAMETOOLONG : -EFAULT;
        return 0;
}

static bool same_file(int dirfd, const char *path, const char *other)
{
        struct stat a, b;

        return fstatat(dirfd, path, &a, 0) == 0 && stat(other, &b) == 0 && a.st_dev == b.st_dev &&
               a.st_ino == b.st_ino;
}

/* Whether the id maps of the caller map the owner of what fd is. */
static bool owner_mapped(int piddir, int fd)
{
        _cleanup_free_ char *um = NULL, *gm = NULL;
        struct stat st;

        return fstat(fd, &st) == 0 && read_file_at(piddir, "uid_map", &um, NULL, NULL) == 0 &&
               read_file_at(piddir, "gid_map", &gm, NULL, NULL) == 0 &&
               mknod_idmap_has_outside(um, st.st_uid) && mknod_idmap_has_outside(gm, st.st_gid);
}

static int set_caps(uint64_t eff)
{
        struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
        struct __user_cap_data_struct d[2];

        if (syscall(SYS_capget, &h, d) < 0)
                return -errno;
        d[0].effective = (uint32_t)eff & d[0].permitted;
        d[1].effective = (uint32_t)(eff >> 32) & d[1].permitted;
        d[0].inheritable = d[1].inheritable = 0;
        return syscall(SYS_capset, &h, d) < 0 ? -errno : 0;
}

#define CAP(c) (1ull << (c))
/* What of the caller's capabilities bear on creating a node in a
 * directory: search and write permission, and the setgid bit. */
#define CALLER_CAPS (CAP(CAP_DAC_OVERRIDE) | CAP(CAP_DAC_READ_SEARCH) | CAP(CAP_FSETID))

/* Become the caller for the file system: its root, ids, groups, umask,
 * and only the capabilities it has (in the directory's reach: see
 * mknod-supervisor.h), plus CAP_MKNOD. */
static int become_caller(int rootfd, const struct mknod_caller *c, uint64_t caps)
{
        if (fchdir(rootfd) < 0 || chroot(".") < 0)
                return -errno;
        if (setgroups(c->n_groups, c->groups) < 0)
                return -errno;
        setfsgid(c->fsgid);
        setfsuid(c->fsuid);
        if ((gid_t)setfsgid((gid_t)-1) != c->fsgid || (uid_t)setfsuid((uid_t)-1) != c->fsuid)
                return -EPERM;
        umask(c->umask);
        return set_caps(caps);
}

static int open_dir(int basefd, const char *dir)
{
        struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC,
                               .resolve = RESOLVE_NO_MAGICLINKS};
        int fd = (int)syscall(SYS_openat2, basefd, dir, &how, sizeof(how));

        return fd < 0 ? -errno : fd;
}

/* The whole request, in the worker: 0 or -errno for the caller. */
static int do_mknod(const struct mknod_supervisor *s, int nfd, const struct seccomp_notif *req,
                    const struct mknod_call *call)
{
        enum mknod_kind kind = mknod_call_kind(call);
        _cleanup_free_ char *status = NULL, *dir = NULL, *base = NULL;
        _cleanup_close_ int piddir = -1, rootfd = -1, basefd = -1, parent = -1;
        struct mknod_caller caller = {0};
        char path[PATH_MAX + 1], proc[64];
        uint64_t caps;
        bool slash, host_ns;
        int r;

        snprintf(proc, sizeof(proc), "/proc/%u", req->pid);
        piddir = open(proc, O_PATH | O_DIRECTORY | O_CLOEXEC);
        /* Valid after the open: proc is the caller, not a reused pid. */
        if (piddir < 0 || notif_id_valid(nfd, req->id) < 0)
                return -ESRCH;
        if (read_file_at(piddir, "status", &status, NULL, NULL) < 0 ||
            mknod_caller_parse_status(status, &caller) < 0)
                return -ESRCH;
        caps = CAP(CAP_MKNOD) | (caller.cap_eff & CALLER_CAPS);
        host_ns = same_file(piddir, "ns/user", "/proc/self/ns/user");
        if (kind == MKNOD_DEVICE) {
                /* CAP_MKNOD in the instance's user namespace; a nested one is
                 * not the instance's root, the kernel would say EPERM. */
                snprintf(proc, sizeof(proc), "/proc/%d/ns/user", (int)s->init);
                if (!(caller.cap_eff & CAP(CAP_MKNOD)) || !same_file(piddir, "ns/user", proc)) {
                        r = -EPERM;
                        goto out;
                }
        }
        if ((r = read_path(piddir, call->path_addr, path, sizeof(path))) < 0 ||
            (r = notif_id_valid(nfd, req->id)) < 0)
                goto out;
        if ((r = mknod_path_split(path, &dir, &base, &slash)) < 0)
                goto out;
        rootfd = openat(piddir, "root", O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (path[0] != '/') {
                if (call->dirfd == AT_FDCWD)
                        basefd = openat(piddir, "cwd", O_PATH | O_CLOEXEC);
                else if (call->dirfd >= 0) {
                        char fdpath[32];
                        snprintf(fdpath, sizeof(fdpath), "fd/%d", call->dirfd);
                        basefd = openat(piddir, fdpath, O_PATH | O_CLOEXEC);
                }
                if (basefd < 0) {
                        r = call->dirfd == AT_FDCWD ? -ESRCH : -EBADF;
                        goto out;
                }
        }
        if (rootfd < 0) {
                r = -ESRCH;
                goto out;
        }
        if ((r = notif_id_valid(nfd, req->id)) < 0)
                goto out;
        if ((r = become_caller(rootfd, &caller, caps)) < 0) {
                logmsg("take the caller's credentials (pid %u): %s", req->pid, strerror(-r));
                r = -EPERM;
                goto out;
        }
        /* In the caller's root: absolute paths and symlinks start there and
         * ".." stops there, as for the caller. */
        parent = open_dir(basefd >= 0 ? basefd : AT_FDCWD, dir);
        if (parent < 0) {
                r = parent;
                goto out;
        }
        /* The caller's capabilities count where its user namespace maps the
         * directory's owner (capable_wrt_inode_uidgid()); ours, in the
         * initial one, would count everywhere. */
        if ((caps & CALLER_CAPS) && !host_ns && !owner_mapped(piddir, parent) &&
            (r = set_caps(CAP(CAP_MKNOD))) < 0)
                goto out;
        if (slash) {
                struct stat st;
                r = fstatat(parent, base, &st, AT_SYMLINK_NOFOLLOW) == 0 ? -EEXIST : -ENOENT;
                goto out;
        }
        r = mknodat(parent, base, call->mode, makedev(call->major, call->minor)) < 0 ? -errno : 0;
out:
        mknod_caller_free(&caller);
        return r;
}

/* A worker per request: a slow file system or caller holds it, not the
 * monitor. */
static void spawn_worker(struct mknod_supervisor *s, int nfd, const struct seccomp_notif *req,
                         const struct mknod_call *call)
{
        /* The listener may be dropped while the worker works; the monitor
         * answers with this one if the worker's time runs out. */
        int keep = fcntl(nfd, F_DUPFD_CLOEXEC, 3);
        pid_t pid = keep < 0 ? -1 : fork();

        if (pid < 0) {
                logmsg("fork: %m");
                if (keep >= 0)
                        close(keep);
                answer(s, nfd, req->id, -EAGAIN);
                return;
        }
        if (pid == 0) {
                /* Nothing of the monitor's: its lock above all, which a worker
                 * outliving it would hold on. */
                close_fds_from(3, &nfd, 1);
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                answer(s, nfd, req->id, do_mknod(s, nfd, req, call));
                _exit(0);
        }
        s->workers[s->n_workers++] = (struct mknod_worker){
            .pid = pid,
            .deadline_ns = now_ns_monotonic() + s->timeout_ns,
            .nfd = keep,
            .id = req->id,
            .caller = req->pid,
        };
}

static void handle_notification(struct mknod_supervisor *s, size_t i)
{
        _cleanup_free_ struct seccomp_notif *req = xmalloc0(s->notif_size);
        int nfd = s->notify[i];
        struct mknod_call call;

        if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, req) < 0) {
                if (errno != ENOENT && errno != EINTR) {
                        logmsg("receive a notification: %m (the listener is dropped)");
                        drop(s->notify, &s->n_notify, i);
                }
                return;
        }
        if (mknod_call_decode(req->data.arch, req->data.nr, (const uint64_t *)req->data.args,
                              &call) < 0 ||
            mknod_call_kind(&call) == MKNOD_KERNEL) {
                /* Not ours (FIFOs, sockets, files; another syscall a raw.oci
                 * filter sent us): the kernel's rules as without us. */
                answer(s, nfd, req->id, ANSWER_CONTINUE);
                return;
        }
        spawn_worker(s, nfd, req, &call);
}

/* The runtime's message: the notify fd (SCM_RIGHTS) with the state. */
static void conn_input(struct mknod_supervisor *s, size_t i)
{
        char buf[4096], cbuf[CMSG_SPACE(sizeof(int) * 4)];
        struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf)};
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        int fd = -1;
        ssize_t k = recvmsg(s->conns[i], &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        for (struct cmsghdr *c = k > 0 ? CMSG_FIRSTHDR(&mh) : NULL; c; c = CMSG_NXTHDR(&mh, c)) {
                if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                        continue;
                size_t nfds = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
                for (size_t j = 0; j < nfds; j++) {
                        int got;
                        memcpy(&got, CMSG_DATA(c) + j * sizeof(int), sizeof(int));
                        if (fd < 0)
                                fd = got;
                        else
                                close(got);
                }
        }
        if (k > 0 && fd < 0)
                return; /* the fd comes with the first byte; more text of it */
        if (fd >= 0) {
                if (s->n_notify < MKNOD_SUPERVISOR_LISTENERS)
                        s->notify[s->n_notify++] = fd;
                else {
                        logmsg("%d processes with filters: mknod of this one is not supervised",
                               MKNOD_SUPERVISOR_LISTENERS);
                        close(fd);
                }
        }
        drop(s->conns, &s->n_conns, i);
}

static void accept_conn(struct mknod_supervisor *s)
{
        int fd = accept4(s->listenfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd < 0)
                return;
        if (s->n_conns == MKNOD_SUPERVISOR_CONNS) {
                close(fd);
                return;
        }
        s->conns[s->n_conns++] = fd;
}

void mknod_supervisor_handle(struct mknod_supervisor *s, const struct pollfd *p, size_t n)
{
        const struct pollfd *pn = p + 1 + s->polled_conns;

        if (n < 1 + s->polled_conns + s->polled_notify)
                return;
        /* From the end, since dropping one moves the last. */
        for (size_t i = s->polled_notify; i-- > 0;) {
                if (i >= s->n_notify || !pn[i].revents)
                        continue;
                if (pn[i].revents & POLLIN) {
                        if (s->n_workers < MKNOD_SUPERVISOR_WORKERS)
                                handle_notification(s, i);
                } else /* POLLHUP: no process uses its filter any more */
                        drop(s->notify, &s->n_notify, i);
        }
        for (size_t i = s->polled_conns; i-- > 0;)
                if (i < s->n_conns && p[1 + i].revents)
                        conn_input(s, i);
        if (p[0].revents)
                accept_conn(s);
}

int mknod_supervisor_poll_timeout(const struct mknod_supervisor *s, uint64_t now_ns)
{
        uint64_t first = UINT64_MAX;

        for (size_t i = 0; i < s->n_workers; i++)
                if (s->workers[i].deadline_ns < first)
                        first = s->workers[i].deadline_ns;
        if (first == UINT64_MAX)
                return -1;
        if (first <= now_ns)
                return 0;
        /* Rounded up: waking a little late is fine, spinning is not. */
        first = (first - now_ns + 999999) / 1000000;
        return first > INT_MAX ? INT_MAX : (int)first;
}

static void worker_forget(struct mknod_supervisor *s, size_t i)
{
        if (s->workers[i].nfd >= 0)
                close(s->workers[i].nfd);
        s->workers[i] = s->workers[--s->n_workers];
}

void mknod_supervisor_expire(struct mknod_supervisor *s, uint64_t now_ns)
{
        for (size_t i = s->n_workers; i-- > 0;) {
                struct mknod_worker *w = &s->workers[i];

                if (w->deadline_ns > now_ns)
                        continue;
                /* Killed, it may still not end: a FUSE request already read by
                 * its server waits for the answer whatever the signal.  Its
                 * slot is freed all the same, as long as there is room to
                 * remember it for the reaping. */
                if (s->n_abandoned == MKNOD_SUPERVISOR_ABANDONED) {
                        /* Look again a timeout later: left expired, it would
                         * make every poll() return at once. */
                        w->deadline_ns = now_ns + s->timeout_ns;
                        continue;
                }
                kill(w->pid, SIGKILL);
                logmsg("no answer in %" PRIu64 " ms to mknod by pid %u: worker %d killed, the "
                       "caller gets EIO",
                       s->timeout_ns / 1000000, w->caller, (int)w->pid);
                /* ENOENT if the worker answered meanwhile. */
                answer(s, w->nfd, w->id, -EIO);
                s->abandoned[s->n_abandoned++] = w->pid;
                worker_forget(s, i);
        }
}

bool mknod_supervisor_reaped(struct mknod_supervisor *s, pid_t pid)
{
        for (size_t i = 0; i < s->n_workers; i++)
                if (s->workers[i].pid == pid) {
                        worker_forget(s, i);
                        return true;
                }
        for (size_t i = 0; i < s->n_abandoned; i++)
                if (s->abandoned[i] == pid) {
                        s->abandoned[i] = s->abandoned[--s->n_abandoned];
                        return true;
                }
        return false;
}

void mknod_supervisor_close(struct mknod_supervisor *s)
{
        uint64_t until = now_ns_monotonic() + 1000000000ull;

        for (size_t i = 0; i < s->n_workers; i++)
                kill(s->workers[i].pid, SIGKILL);
        for (size_t i = 0; i < s->n_abandoned; i++)
                kill(s->abandoned[i], SIGKILL);
        /* Reaped within a second, or left to the monitor's reaper: one
         * stuck in a FUSE request must not keep the monitor from exiting
         * (the instance's end, which ends its FUSE servers, frees it). */
        while ((s->n_workers || s->n_abandoned) && now_ns_monotonic() < until) {
                pid_t pid = s->n_workers ? s->workers[0].pid : s->abandoned[0];
                pid_t r = waitpid(pid, NULL, WNOHANG);
                if (r == 0)
                        usleep(10000);
                else if (r > 0 || errno != EINTR)
                        mknod_supervisor_reaped(s, pid); /* or not ours after all */
        }
        while (s->n_workers)
                worker_forget(s, 0);
        s->n_abandoned = 0;
        while (s->n_conns)
                drop(s->conns, &s->n_conns, 0);
        while (s->n_notify)
                drop(s->notify, &s->n_notify, 0);
        if (s->listenfd >= 0)
                close(s->listenfd);
        s->listenfd = -1;
}
