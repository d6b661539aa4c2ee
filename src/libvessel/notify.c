/* notify.c: sd_notify through the runtime (see notify.h). */
#include "notify.h"
#include "mounts.h"
#include "process.h"
#include "util.h"

#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define NOTIFY_DIR "notify"
#define NOTIFY_SOCK "notify.sock"
#define IN_CONTAINER "/run/notify"
/* How long to wait for the host's manager to take the message in. */
#define BARRIER_MS 5000

static const char *host_socket(void)
{
        const char *s = getenv("NOTIFY_SOCKET");

        /* A path or an abstract ("@...") socket; anything else (systemd
         * also knows vsock:) is not relayed. */
        return s && (s[0] == '/' || s[0] == '@') ? s : NULL;
}

/* The container's end: notify/ of the state directory, bound read-only
 * at /run/notify (appended to the mounts), or without a mount namespace,
 * where the container sees the host's paths, the socket's own path. */
static int add_mount(struct vessel_spec *spec, const char *dir, int **source_fds,
                     vessel_error **err)
{
        static char *const options[] = {"bind", "nosuid", "noexec", "nodev", "ro", NULL};
        struct vessel_mount *m;
        int *fds;

        spec->mounts = realloc(spec->mounts, sizeof(*spec->mounts) * (spec->n_mounts + 1));
        fds = realloc(*source_fds, sizeof(int) * (spec->n_mounts + 2));
        if (!spec->mounts || !fds)
                abort();
        *source_fds = fds;
        /* No clone prepared: init binds it by its path. */
        fds[spec->n_mounts] = fds[spec->n_mounts + 1] = -1;
        m = &spec->mounts[spec->n_mounts++];
        memset(m, 0, sizeof(*m));
        m->destination = xstrdup(IN_CONTAINER);
        m->type = xstrdup("bind");
        m->source = xstrdup(dir);
        m->options = strv_copy(options);
        m->n_options = ARRAY_SIZE(options) - 1;
        return mount_options_parse(m->options, m->n_options, &m->opts, "NOTIFY_SOCKET mount", err);
}

int notify_setup(struct vessel_spec *spec, int dirfd, const char *root, const char *id,
                 int **source_fds, vessel_error **err)
{
        _cleanup_free_ char *dir = NULL, *env = NULL;
        char cwd[4096];
        int r;

        if (!host_socket() || !spec->has_process)
                return 0;
        if (mkdirat(dirfd, NOTIFY_DIR, 0755) < 0)
                return vessel_error_sys(err, "mkdir " NOTIFY_DIR " in the state directory");
        if (root[0] != '/' && !getcwd(cwd, sizeof(cwd)))
                return vessel_error_sys(err, "getcwd");
        dir = root[0] == '/' ? xasprintf("%s/%s/" NOTIFY_DIR, root, id)
                             : xasprintf("%s/%s/%s/" NOTIFY_DIR, cwd, root, id);
        if (!spec->linux_.ns[VESSEL_NS_MNT].present) {
                env = xasprintf("NOTIFY_SOCKET=%s/" NOTIFY_SOCK, dir);
        } else {
                if ((r = add_mount(spec, dir, source_fds, err)) < 0)
                        return r;
                env = xstrdup("NOTIFY_SOCKET=" IN_CONTAINER "/" NOTIFY_SOCK);
        }
        process_env_set(&spec->process, env);
        return 0;
}

/* A unix address for path (a long one through /proc/self/fd/DIRFD). */
static int unix_addr(const char *path, struct sockaddr_un *sa, socklen_t *len)
{
        size_t n = strlen(path);

        memset(sa, 0, sizeof(*sa));
        sa->sun_family = AF_UNIX;
        if (n >= sizeof(sa->sun_path))
                return -ENAMETOOLONG;
        memcpy(sa->sun_path, path, n);
        if (sa->sun_path[0] == '@')
                sa->sun_path[0] = '\0';
        *len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '@' ? 0 : 1));
        return 0;
}

int notify_listen(int dirfd, int *out, vessel_error **err)
{
        _cleanup_close_ int dir = -1, fd = -1;
        struct sockaddr_un sa;
        socklen_t len;
        char path[64];

        *out = -1;
        if (!host_socket())
                return 0;
        dir = openat(dirfd, NOTIFY_DIR, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dir < 0) /* created without NOTIFY_SOCKET: nothing to relay */
                return 0;
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return vessel_error_sys(err, "NOTIFY_SOCKET: socket");
        unlinkat(dir, NOTIFY_SOCK, 0);
        snprintf(path, sizeof(path), "/proc/self/fd/%d/" NOTIFY_SOCK, dir);
        unix_addr(path, &sa, &len);
        if (bind(fd, (struct sockaddr *)&sa, len) < 0)
                return vessel_error_sys(err, "NOTIFY_SOCKET: bind the container's socket");
        /* The container's process may run as any user. */
        if (fchmodat(dir, NOTIFY_SOCK, 0777, 0) < 0)
                return vessel_error_sys(err, "NOTIFY_SOCKET: chmod the container's socket");
        *out = steal_fd(&fd);
        return 0;
}

/* BARRIER=1 with a pipe: the manager has read everything before it once
 * it closes the pipe (sd_notify_barrier), so we may exit without it
 * finding the sender gone. */
static void barrier(int fd)
{
        int p[2];
        char cbuf[CMSG_SPACE(sizeof(int))] = {0};
        struct iovec iov = {.iov_base = "BARRIER=1", .iov_len = 9};
        struct msghdr mh = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

        if (pipe2(p, O_CLOEXEC) < 0)
                return;
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &p[1], sizeof(int));
        if (sendmsg(fd, &mh, MSG_NOSIGNAL) >= 0) {
                struct pollfd pf = {.fd = p[0], .events = POLLIN};
                close(p[1]);
                p[1] = -1;
                poll(&pf, 1, BARRIER_MS);
        }
        close(p[0]);
        if (p[1] >= 0)
                close(p[1]);
}

static int forward_ready(const char *host, pid_t mainpid, vessel_error **err)
{
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa;
        socklen_t len;
        char msg[64];
        int n = snprintf(msg, sizeof(msg), "READY=1\nMAINPID=%d", (int)mainpid);

        if (fd < 0)
                return vessel_error_sys(err, "NOTIFY_SOCKET: socket");
        if (unix_addr(host, &sa, &len) < 0)
                return vessel_error_msg(err, ENAMETOOLONG, "NOTIFY_SOCKET %s: path too long", host);
        if (connect(fd, (struct sockaddr *)&sa, len) < 0 || send(fd, msg, (size_t)n, 0) < 0)
                return vessel_error_sys(err, "NOTIFY_SOCKET: send READY=1 to %s", host);
        barrier(fd);
        return 0;
}

static bool has_ready(char *buf)
{
        for (char *l = buf; l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (str_has_prefix(l, "READY="))
                        return true;
        return false;
}

int notify_relay(int fd, pid_t init, pid_t mainpid, vessel_error **err)
{
        _cleanup_close_ int pfd = (int)syscall(SYS_pidfd_open, init, 0);
        const char *host = host_socket();
        char buf[4097];

        if (pfd < 0)
                return 0; /* gone already: nothing will be ready */
        for (;;) {
                struct pollfd p[2] = {{.fd = fd, .events = POLLIN}, {.fd = pfd, .events = POLLIN}};
                ssize_t n;

                if (poll(p, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return vessel_error_sys(err, "NOTIFY_SOCKET: poll");
                }
                if (p[0].revents & POLLIN) {
                        n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
                        if (n > 0) {
                                buf[n] = '\0';
                                if (has_ready(buf))
                                        return forward_ready(host, mainpid, err);
                        }
                        continue;
                }
                if (p[1].revents)
                        return 0; /* the container's init exited before it was ready */
        }
}

pid_t notify_relay_fork(int fd, pid_t init, pid_t mainpid)
{
        pid_t pid = fork();

        if (pid != 0)
                return pid;
        /* Nothing of the parent's: above all not the state directory,
         * whose lock an inherited fd would hold on to. */
        close_fds_from(3, &fd, 1);
        prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
        {
                vessel_error *err = NULL;
                if (notify_relay(fd, init, mainpid, &err) < 0)
                        fprintf(stderr, "vessel: warning: %s\n", err->msg);
                vessel_error_free(&err);
        }
        _exit(0);
}
