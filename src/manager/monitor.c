/* monitor.c: the monitor of one running instance (see monitor.h).
 *
 * One thread, one poll loop over: a signalfd (SIGCHLD), the pty master,
 * the listening socket and its clients, and the mknod supervisor's
 * sockets and notify fds (mknod-supervisor.h).  Nothing here blocks on a client:
 * a console that does not keep up loses output rather than stopping the
 * instance's console. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "mknod-supervisor.h"
#include "monitor.h"
#include "ringbuf.h"
#include "util.h"

#define MAX_CLIENTS 16
#define REPORT_FD 3

enum client_kind { CLIENT_NEW, CLIENT_ATTACH };

struct client {
        int fd;
        enum client_kind kind;
        char line[64];
        size_t n;
};

struct monitor {
        const struct monitor_opts *o;
        int dirfd, lockfd, listenfd, consfd, master, sigfd, logfd;
        size_t log_bytes;
        struct ringbuf ring;
        struct client clients[MAX_CLIENTS];
        size_t n_clients;
        struct mknod_supervisor mknod;
        pid_t init;
        int status; /* exit code, or 128 + signal */
        bool init_exited;
        uint64_t master_hup_until; /* while no slave is open: poll the master later */
};

static void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logmsg(const char *fmt, ...)
{
        va_list ap;

        fputs("vesselctl-monitor: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fputc('\n', stderr);
}

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...)
{
        char buf[4096];
        va_list ap;
        int n;

        va_start(ap, fmt);
        n = vsnprintf(buf, sizeof(buf), fmt, ap);
        va_end(ap);
        if (n > (int)sizeof(buf) - 2)
                n = (int)sizeof(buf) - 2;
        buf[n++] = '\n';
        if (write_all(REPORT_FD, buf, (size_t)n) < 0)
                logmsg("report to vesselctl start: %m");
        close(REPORT_FD);
}

/* A unix socket listening at rundir/name (bound through /proc/self/fd so
 * that the path length is never the limit). */
static int listen_at(int dirfd, const char *name)
{
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

        if (fd < 0)
                return -errno;
        unlinkat(dirfd, name, 0);
        snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/%s", dirfd, name);
        if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0) {
                int r = -errno;
                close(fd);
                return r;
        }
        return fd;
}

/* Run the runtime with args; its stderr (its error message) into
 * errbuf.  Returns its exit status, or -errno. */
static int runtime_run(struct monitor *m, const char *const *args, char *errbuf, size_t size)
{
        const char *argv[16];
        size_t n = 0, got = 0;
        int pipefd[2], status;
        pid_t pid;

        argv[n++] = m->o->runtime;
        argv[n++] = "--root";
        argv[n++] = m->o->runtime_root;
        for (; *args && n < ARRAY_SIZE(argv) - 1; args++)
                argv[n++] = *args;
        argv[n] = NULL;
        errbuf[0] = '\0';
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return -errno;
        pid = fork();
        if (pid < 0) {
                int r = -errno;
                close(pipefd[0]);
                close(pipefd[1]);
                return r;
        }
        if (pid == 0) {
                sigset_t all;
                sigemptyset(&all);
                sigprocmask(SIG_SETMASK, &all, NULL);
                dup2(pipefd[1], STDERR_FILENO);
                execv(argv[0], (char **)argv);
                dprintf(STDERR_FILENO, "exec %s: %s", argv[0], strerror(errno));
                _exit(127);
        }
        close(pipefd[1]);
        for (;;) {
                ssize_t k = read(pipefd[0], errbuf + got, size - 1 - got);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                got += (size_t)k;
                if (got == size - 1) { /* keep draining, keep the start */
                        char sink[512];
                        while (read(pipefd[0], sink, sizeof(sink)) > 0)
                                ;
                        break;
                }
        }
        close(pipefd[0]);
        errbuf[got] = '\0';
        while (got && (errbuf[got - 1] == '\n' || errbuf[got - 1] == ' '))
                errbuf[--got] = '\0';
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

static void log_open(struct monitor *m)
{
        _cleanup_free_ char *old = xasprintf("%s.1", m->o->log);

        if (m->logfd >= 0)
                close(m->logfd);
        rename(m->o->log, old);
        m->logfd =
            open(m->o->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
        m->log_bytes = 0;
        if (m->logfd < 0)
                logmsg("open %s: %m (the console is not logged)", m->o->log);
}

static void client_drop(struct monitor *m, size_t i)
{
        close(m->clients[i].fd);
        m->clients[i] = m->clients[--m->n_clients];
}

static void console_output(struct monitor *m, const char *buf, size_t n)
{
        ringbuf_write(&m->ring, buf, n);
        if (m->logfd >= 0) {
                if (m->log_bytes + n > MONITOR_LOG_MAX)
                        log_open(m);
                if (m->logfd >= 0 && write_all(m->logfd, buf, n) == 0)
                        m->log_bytes += n;
        }
        for (size_t i = 0; i < m->n_clients;) {
                struct client *c = &m->clients[i];
                if (c->kind == CLIENT_ATTACH &&
                    send(c->fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0 && errno != EAGAIN) {
                        client_drop(m, i);
                        continue;
                }
                i++;
        }
}

/* Read what the console has; false when no slave is open any more. */
static bool read_master(struct monitor *m)
{
        char buf[16384];

        for (;;) {
                ssize_t n = read(m->master, buf, sizeof(buf));
                if (n > 0) {
                        console_output(m, buf, (size_t)n);
                        continue;
                }
                if (n < 0 && errno == EINTR)
                        continue;
                return n < 0 && errno == EAGAIN;
        }
}

static void send_log(int fd, const struct ringbuf *r)
{
        const char *a, *b;
        size_t na, nb;
        int flags = fcntl(fd, F_GETFL);

        /* A client asking for the log reads it all: block for it. */
        fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
        ringbuf_pieces(r, &a, &na, &b, &nb);
        if (write_all(fd, a, na) == 0)
                write_all(fd, b, nb);
}

/* A client's first line says what it wants. */
static void client_request(struct monitor *m, size_t i)
{
        struct client *c = &m->clients[i];
        ssize_t k = read(c->fd, c->line + c->n, sizeof(c->line) - 1 - c->n);
        char *nl;

        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (k <= 0) {
                client_drop(m, i);
                return;
        }
        c->n += (size_t)k;
        c->line[c->n] = '\0';
        nl = strchr(c->line, '\n');
        if (!nl) {
                if (c->n == sizeof(c->line) - 1)
                        client_drop(m, i);
                return;
        }
        *nl = '\0';
        if (!strcmp(c->line, "attach") && fd_send(c->fd, m->master) == 0) {
                c->kind = CLIENT_ATTACH;
                /* Bytes typed after the request line go to the console. */
                size_t rest = c->n - (size_t)(nl + 1 - c->line);
                if (rest && write(m->master, nl + 1, rest) < 0 && errno != EAGAIN)
                        logmsg("console input: %m");
                return;
        }
        if (!strcmp(c->line, "log"))
                send_log(c->fd, &m->ring);
        client_drop(m, i);
}

static void client_input(struct monitor *m, size_t i)
{
        char buf[4096];
        ssize_t k = read(m->clients[i].fd, buf, sizeof(buf));

        if (k < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (k <= 0) {
                client_drop(m, i);
                return;
        }
        /* A console that does not read its input loses it, as a serial
         * line would, rather than stopping the monitor. */
        if (write(m->master, buf, (size_t)k) < 0 && errno != EAGAIN)
                logmsg("console input: %m");
}

static void reap(struct monitor *m)
{
        struct signalfd_siginfo si;
        int status;
        pid_t pid;

        while (read(m->sigfd, &si, sizeof(si)) == sizeof(si))
                ;
        while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
                if (pid != m->init) {
                        mknod_supervisor_reaped(&m->mknod, pid);
                        continue;
                }
                m->init_exited = true;
                m->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
}

static void accept_client(struct monitor *m)
{
        int fd = accept4(m->listenfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

        if (fd < 0)
                return;
        if (m->n_clients == MAX_CLIENTS) {
                close(fd);
                return;
        }
        m->clients[m->n_clients++] = (struct client){.fd = fd, .kind = CLIENT_NEW};
}

static void loop(struct monitor *m)
{
        struct pollfd p[3 + MAX_CLIENTS + MKNOD_SUPERVISOR_POLLFDS];

        while (!m->init_exited) {
                uint64_t now = now_ns_monotonic();
                bool poll_master = now >= m->master_hup_until;
                size_t n = 0, nc, ns;
                int timeout;

                p[n++] = (struct pollfd){.fd = m->sigfd, .events = POLLIN};
                p[n++] = (struct pollfd){.fd = poll_master ? m->master : -1, .events = POLLIN};
                p[n++] = (struct pollfd){.fd = m->listenfd, .events = POLLIN};
                for (size_t i = 0; i < m->n_clients; i++)
                        p[n++] = (struct pollfd){.fd = m->clients[i].fd, .events = POLLIN};
                nc = n - 3;
                ns = mknod_supervisor_poll(&m->mknod, p + n);
                n += ns;
                timeout = mknod_supervisor_poll_timeout(&m->mknod, now);
                if (!poll_master && (timeout < 0 || timeout > 100))
                        timeout = 100;
                if (poll(p, n, timeout) < 0) {
                        if (errno == EINTR)
                                continue;
                        logmsg("poll: %m");
                        return;
                }
                if (p[0].revents)
                        reap(m);
                if (p[1].revents && !read_master(m))
                        /* No slave open (the console is closed for now): look again
                         * in 100 ms rather than spin on POLLHUP. */
                        m->master_hup_until = now_ns_monotonic() + 100 * 1000000ull;
                if (p[2].revents)
                        accept_client(m);
                /* One notification per notify fd and wakeup: a caller's loop of
                 * mknod shares the monitor with the console. */
                mknod_supervisor_handle(&m->mknod, p + 3 + nc, ns);
                mknod_supervisor_expire(&m->mknod, now_ns_monotonic());
                /* Clients from the end, since dropping one moves the last. */
                for (size_t i = nc; i-- > 0;) {
                        if (i >= m->n_clients || !p[3 + i].revents)
                                continue;
                        if (m->clients[i].kind == CLIENT_NEW)
                                client_request(m, i);
                        else
                                client_input(m, i);
                }
        }
}

/* The runtime's create and start, with the console received in between. */
static int start_container(struct monitor *m)
{
        _cleanup_free_ char *sock = xasprintf("%s/console", m->o->rundir);
        _cleanup_free_ char *pidf = xasprintf("%s/init.pid", m->o->rundir);
        _cleanup_free_ char *pidtext = NULL;
        char errbuf[4096];
        int64_t pid;
        int r, c;

        /* One runtime command for create and start (its init sends the
         * console to our socket's backlog during create). */
        r = runtime_run(m,
                        (const char *const[]){"run", "--detach", "--bundle", m->o->rundir,
                                              "--console-socket", sock, "--pid-file", pidf,
                                              m->o->name, NULL},
                        errbuf, sizeof(errbuf));
        if (r != 0) {
                /* Warnings first (a rootless runtime's without a cgroup),
                 * the error last: all of it to the log, the last line as
                 * the answer, which is one line. */
                size_t n = strlen(errbuf);
                while (n && errbuf[n - 1] == '\n')
                        errbuf[--n] = '\0';
                char *last = strrchr(errbuf, '\n');
                if (last)
                        fprintf(stderr, "%s\n", errbuf);
                report("ERR %s", *errbuf ? (last ? last + 1 : errbuf)
                                         : r < 0 ? strerror(-r) : "the runtime failed");
                goto fail;
        }
        c = accept4(m->consfd, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0 || (m->master = fd_recv(c)) < 0) {
                report("ERR the runtime sent no console (%s)",
                       strerror(c < 0 ? errno : -m->master));
                goto fail;
        }
        close(c);
        fcntl(m->master, F_SETFL, fcntl(m->master, F_GETFL) | O_NONBLOCK);
        if (read_file_at(m->dirfd, "init.pid", &pidtext, NULL, NULL) < 0 ||
            parse_int64(pidtext, &pid) < 0 || pid <= 0) {
                report("ERR the runtime wrote no pid to %s", pidf);
                goto fail;
        }
        m->init = (pid_t)pid;
        m->mknod.init = m->init;
        report("OK %d", (int)m->init);
        return 0;
fail:
        runtime_run(m, (const char *const[]){"delete", "--force", m->o->name, NULL}, errbuf,
                    sizeof(errbuf));
        return -1;
}

static int setup(struct monitor *m)
{
        _cleanup_free_ char *pidtext = xasprintf("%d\n", (int)getpid());
        sigset_t chld;

        m->dirfd = open(m->o->rundir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (m->dirfd < 0) {
                report("ERR open %s: %s", m->o->rundir, strerror(errno));
                return -1;
        }
        m->lockfd =
            openat(m->dirfd, "monitor.lock", O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (m->lockfd < 0 || flock(m->lockfd, LOCK_EX | LOCK_NB) < 0) {
                report("ERR %s", errno == EWOULDBLOCK ? "is already running"
                                                      : "cannot lock its run directory");
                return -1;
        }
        _cleanup_close_ int pidfd = openat(
            m->dirfd, "monitor.pid", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (pidfd < 0 || write_all(pidfd, pidtext, strlen(pidtext)) < 0) {
                report("ERR monitor setup: %s/monitor.pid: %s", m->o->rundir, strerror(errno));
                return -1;
        }
        if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
                report("ERR monitor setup: PR_SET_CHILD_SUBREAPER: %s", strerror(errno));
                return -1;
        }
        sigemptyset(&chld);
        sigaddset(&chld, SIGCHLD);
        sigprocmask(SIG_BLOCK, &chld, NULL);
        m->sigfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
        m->consfd = listen_at(m->dirfd, "console");
        m->listenfd = listen_at(m->dirfd, "monitor");
        if (m->sigfd < 0 || m->consfd < 0 || m->listenfd < 0 ||
            ringbuf_init(&m->ring, m->o->ring_size) < 0) {
                report("ERR monitor setup: %s", strerror(errno));
                return -1;
        }
        /* Listening before the runtime runs: its connect and its message
         * (the notify fd of init's filter) wait in the socket until the
         * loop takes them, so that `vessel run` never waits on us.  Always
         * there, whether config.json asks for it or not (raw.oci may). */
        int r = listen_at(m->dirfd, MKNOD_SUPERVISOR_SOCKET);
        if (r < 0 || (r = mknod_supervisor_init(&m->mknod, r)) < 0) {
                report("ERR monitor setup: the mknod supervisor's socket: %s", strerror(-r));
                return -1;
        }
        signal(SIGPIPE, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        log_open(m);
        return 0;
}

/* After the init: the console's last words, the runtime's delete, then
 * the exit recorder in this process, which keeps the lock. */
static int finish(struct monitor *m)
{
        char errbuf[4096], status[16], lockfd[16];
        int r;

        read_master(m);
        mknod_supervisor_close(&m->mknod);
        unlinkat(m->dirfd, MKNOD_SUPERVISOR_SOCKET, 0);
        for (size_t i = m->n_clients; i-- > 0;)
                client_drop(m, i);
        close(m->listenfd);
        unlinkat(m->dirfd, "monitor", 0);
        unlinkat(m->dirfd, "init.pid", 0);
        unlinkat(m->dirfd, "paused", 0);
        r = runtime_run(m, (const char *const[]){"delete", "--force", m->o->name, NULL}, errbuf,
                        sizeof(errbuf));
        if (r != 0)
                logmsg("%s: the runtime's delete failed: %s", m->o->name, errbuf);
        snprintf(status, sizeof(status), "%d", m->status);
        snprintf(lockfd, sizeof(lockfd), "%d", m->lockfd);
        fcntl(m->lockfd, F_SETFD, 0); /* the recorder holds the lock on */
        execl(m->o->ctl, m->o->ctl, "--store", m->o->store, "__monitor-exit", m->o->name, status,
              lockfd, (char *)NULL);
        logmsg("exec %s: %m (the exit of %s is not recorded)", m->o->ctl, m->o->name);
        return 1;
}

int monitor_main(const struct monitor_opts *o)
{
        struct monitor m = {.o = o,
                            .dirfd = -1,
                            .lockfd = -1,
                            .listenfd = -1,
                            .consfd = -1,
                            .master = -1,
                            .sigfd = -1,
                            .logfd = -1,
                            .mknod = {.listenfd = -1}};

        /* Nothing the runtime starts may hold the report pipe open. */
        fcntl(REPORT_FD, F_SETFD, FD_CLOEXEC);
        if (setup(&m) < 0 || start_container(&m) < 0)
                return 1;
        close(m.consfd);
        unlinkat(m.dirfd, "console", 0);
        loop(&m);
        return finish(&m);
}
