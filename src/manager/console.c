/* console.c: the client side of an instance's console: attach through
 * the monitor's socket, and its log (see instance-run.h, monitor.h). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include "instance-run.h"
#include "instance.h"
#include "rundir.h"
#include "util.h"

#define CTRL_A 0x01

static int connect_monitor(const struct rundir *rd, const char *name, vessel_error **err)
{
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        _cleanup_close_ int dir = open(rd->inst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int fd;

        if (dir < 0)
                return vessel_error_sys(err, "instance \"%s\": open %s", name, rd->inst);
        snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/monitor", dir);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return vessel_error_sys(err, "instance \"%s\": socket", name);
        if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
                int r = vessel_error_sys(err, "instance \"%s\": connect to its monitor", name);
                close(fd);
                return r;
        }
        return fd;
}

static int running_rundir(struct vessel_store *s, const char *name, struct rundir *rd,
                          vessel_error **err)
{
        struct instance i;

        if (instance_get(s, name, &i, err) < 0)
                return vessel_error_rc(err);
        instance_free(&i);
        if (rundir_open(s, name, rd, err) < 0)
                return vessel_error_rc(err);
        if (!rundir_monitor_alive(rd)) {
                rundir_free(rd);
                return vessel_error_msg(err, EINVAL, "instance \"%s\": is not running", name);
        }
        return 0;
}

static void copy_winsize(int master)
{
        struct winsize ws;

        if (ioctl(STDIN_FILENO, TIOCGWINSZ, &ws) == 0)
                ioctl(master, TIOCSWINSZ, &ws);
}

/* Input for the console: Ctrl-a q detaches, Ctrl-a Ctrl-a sends one
 * Ctrl-a, Ctrl-a then anything else sends both.  Returns false on
 * detach. */
static bool filter_input(const char *in, size_t n, char *out, size_t *nout, bool *escape)
{
        size_t k = 0;

        for (size_t i = 0; i < n; i++) {
                char ch = in[i];
                if (*escape) {
                        *escape = false;
                        if (ch == 'q') {
                                *nout = k;
                                return false;
                        }
                        if (ch != CTRL_A)
                                out[k++] = CTRL_A;
                        out[k++] = ch;
                } else if (ch == CTRL_A) {
                        *escape = true;
                } else {
                        out[k++] = ch;
                }
        }
        *nout = k;
        return true;
}

static int relay(int sock, int master, bool tty, vessel_error **err)
{
        sigset_t winch;
        int sfd;
        bool escape = false, in_open = true;

        sigemptyset(&winch);
        sigaddset(&winch, SIGWINCH);
        sigprocmask(SIG_BLOCK, &winch, NULL);
        sfd = signalfd(-1, &winch, SFD_CLOEXEC);
        if (tty)
                copy_winsize(master);
        for (;;) {
                struct pollfd p[3] = {{.fd = in_open ? STDIN_FILENO : -1, .events = POLLIN},
                                      {.fd = sock, .events = POLLIN},
                                      {.fd = sfd, .events = POLLIN}};
                char buf[8192], out[16384];
                size_t nout;
                ssize_t k;

                if (poll(p, 3, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return vessel_error_sys(err, "console: poll");
                }
                if (p[2].revents) {
                        struct signalfd_siginfo si;
                        if (read(sfd, &si, sizeof(si)) > 0 && tty)
                                copy_winsize(master);
                }
                if (p[1].revents) {
                        k = read(sock, buf, sizeof(buf));
                        if (k <= 0)
                                return 1; /* the instance stopped */
                        if (write_all(STDOUT_FILENO, buf, (size_t)k) < 0)
                                return 0;
                }
                if (p[0].revents) {
                        k = read(STDIN_FILENO, buf, sizeof(buf));
                        if (k <= 0) {
                                in_open = false; /* keep showing the output */
                                continue;
                        }
                        bool more = filter_input(buf, (size_t)k, out, &nout, &escape);
                        if (nout && write_all(sock, out, nout) < 0)
                                return 1;
                        if (!more)
                                return 0;
                }
        }
}

int instance_console_attach(struct vessel_store *s, const char *name, vessel_error **err)
{
        struct rundir rd;
        struct termios saved, raw;
        _cleanup_close_ int sock = -1, master = -1;
        bool tty = isatty(STDIN_FILENO);
        int r;

        if (running_rundir(s, name, &rd, err) < 0)
                return vessel_error_rc(err);
        sock = connect_monitor(&rd, name, err);
        rundir_free(&rd);
        if (sock < 0)
                return sock;
        if (write_all(sock, "attach\n", 7) < 0 || (master = fd_recv(sock)) < 0)
                return vessel_error_msg(err, EPIPE,
                                        "instance \"%s\": its monitor refused the console", name);
        if (tty) {
                fputs("To detach from the console, press: <ctrl>+a q\r\n", stderr);
                tcgetattr(STDIN_FILENO, &saved);
                raw = saved;
                cfmakeraw(&raw);
                tcsetattr(STDIN_FILENO, TCSANOW, &raw);
        }
        r = relay(sock, master, tty, err);
        if (tty) {
                tcsetattr(STDIN_FILENO, TCSANOW, &saved);
                fputs("\r\n", stderr);
        }
        if (r == 1)
                fprintf(stderr, "vesselctl: instance \"%s\" stopped\n", name);
        return r < 0 ? r : 0;
}

static int copy_out(int from, int to)
{
        char buf[16384];

        for (;;) {
                ssize_t k = read(from, buf, sizeof(buf));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return (int)k;
                if (write_all(to, buf, (size_t)k) < 0)
                        return -1;
        }
}

int instance_console_log(struct vessel_store *s, const char *name, int outfd, vessel_error **err)
{
        struct rundir rd;
        struct instance i;
        _cleanup_close_ int fd = -1;

        if (instance_get(s, name, &i, err) < 0)
                return vessel_error_rc(err);
        instance_free(&i);
        if (running_rundir(s, name, &rd, NULL) == 0) {
                fd = connect_monitor(&rd, name, NULL);
                rundir_free(&rd);
                if (fd >= 0 && write_all(fd, "log\n", 4) == 0 && copy_out(fd, outfd) == 0)
                        return 0;
                close(fd);
                fd = -1;
        }
        /* Not running (or it just stopped): the last run's log. */
        _cleanup_free_ char *p = xasprintf("%s/instances/%s/console.log", s->root, name);
        fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0) {
                if (errno == ENOENT)
                        return 0; /* never ran: an empty log */
                return vessel_error_sys(err, "instance \"%s\": open %s", name, p);
        }
        if (copy_out(fd, outfd) < 0)
                return vessel_error_sys(err, "instance \"%s\": reading its console log", name);
        return 0;
}
