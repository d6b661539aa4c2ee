#include "terminal.h"
#include "mounts.h"
#include "util.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

/* The terminal is the container's /dev/console too (runc's and LXC's
 * console), so that an init such as systemd, which writes its status and
 * runs its console getty there, finds it: a bind of the pty's peer onto
 * an empty file, made inside the root. */
static int bind_console(int rootfd, int slave, vessel_error **err)
{
        _cleanup_close_ int target =
            path_open_in_root(rootfd, "/dev/console", RESOLVE_CREATE_FILE, err);
        int r;

        if (target < 0)
                return vessel_error_prefix(err, "process.terminal: /dev/console");
        if ((r = mount_bind_fd(slave, "", target, false, 0, err)) < 0)
                return vessel_error_prefix(err,
                                           "process.terminal: bind the terminal onto /dev/console");
        return 0;
}

int terminal_setup(int rootfd, int console_sock, const struct vessel_process *p, vessel_error **err)
{
        _cleanup_close_ int ptmx = -1, master = -1, slave = -1;
        char path[64];
        int unlock = 0, r;

        if (rootfd >= 0) {
                ptmx = path_open_in_root(rootfd, "/dev/pts/ptmx", RESOLVE_CREATE_NONE, err);
                if (ptmx < 0)
                        return vessel_error_prefix(
                            err, "process.terminal needs a devpts mount at /dev/pts");
                snprintf(path, sizeof(path), "/proc/self/fd/%d", ptmx);
        } else {
                snprintf(path, sizeof(path), "/dev/pts/ptmx");
        }
        master = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (master < 0)
                return vessel_error_sys(err, "open /dev/pts/ptmx in the container");
        if (ioctl(master, TIOCSPTLCK, &unlock) < 0)
                return vessel_error_sys(err, "unlockpt");
        slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY);
        if (slave < 0)
                return vessel_error_sys(err, "open the terminal's peer (TIOCGPTPEER)");
        if (p->has_console_size) {
                struct winsize ws = {.ws_row = (unsigned short)p->console_size.height,
                                     .ws_col = (unsigned short)p->console_size.width};
                if (ioctl(slave, TIOCSWINSZ, &ws) < 0)
                        return vessel_error_sys(err, "process.consoleSize: TIOCSWINSZ");
        }
        {
                char name[] = "/dev/ptmx";
                char cbuf[CMSG_SPACE(sizeof(int))] = {0};
                struct iovec iov = {name, sizeof(name) - 1};
                struct msghdr mh = {.msg_iov = &iov,
                                    .msg_iovlen = 1,
                                    .msg_control = cbuf,
                                    .msg_controllen = sizeof(cbuf)};
                struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
                c->cmsg_level = SOL_SOCKET;
                c->cmsg_type = SCM_RIGHTS;
                c->cmsg_len = CMSG_LEN(sizeof(int));
                memcpy(CMSG_DATA(c), &master, sizeof(int));
                if (sendmsg(console_sock, &mh, MSG_NOSIGNAL) < 0)
                        return vessel_error_sys(err, "send the terminal to the console socket");
        }
        if (rootfd >= 0 && (r = bind_console(rootfd, slave, err)) < 0)
                return r;
        if (setsid() < 0 && errno != EPERM)
                return vessel_error_sys(err, "setsid");
        if (ioctl(slave, TIOCSCTTY, 0) < 0)
                return vessel_error_sys(err, "make the terminal the controlling tty");
        for (int fd = 0; fd < 3; fd++)
                if (dup2(slave, fd) < 0)
                        return vessel_error_sys(err, "dup2 terminal");
        return 0;
}

void terminal_inherit_size(struct vessel_process *p)
{
        struct winsize ws;

        if (p->has_console_size || ioctl(0, TIOCGWINSZ, &ws) < 0 || !ws.ws_row || !ws.ws_col)
                return;
        p->has_console_size = true;
        p->console_size.height = ws.ws_row;
        p->console_size.width = ws.ws_col;
}

int terminal_connect(const char *path, vessel_error **err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd;

        if (strlen(path) >= sizeof(sa.sun_path))
                return vessel_error_msg(err, ENAMETOOLONG, "--console-socket %s: path too long",
                                        path);
        strcpy(sa.sun_path, path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return vessel_error_sys(err, "--console-socket %s: socket", path);
        if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = vessel_error_sys(err, "--console-socket %s: connect", path);
                close(fd);
                return r;
        }
        return fd;
}

int terminal_recv_master(int sock, vessel_error **err)
{
        int fd = fd_recv(sock);

        if (fd == -EPIPE || fd == -EPROTO)
                return vessel_error_msg(err, EPROTO, "the container did not send its terminal");
        if (fd < 0)
                return vessel_error_set(err, -fd, "receive the container's terminal");
        return fd;
}

static void copy_winsize(int from, int to)
{
        struct winsize ws;
        if (ioctl(from, TIOCGWINSZ, &ws) == 0)
                ioctl(to, TIOCSWINSZ, &ws);
}

/* Move what is readable from 'in' to 'out'; returns false at EOF/error. */
static bool pump(int in, int out)
{
        char buf[8192];
        ssize_t n = read(in, buf, sizeof(buf));

        if (n < 0 && (errno == EINTR || errno == EAGAIN))
                return true;
        if (n <= 0)
                return false;
        return write_all(out, buf, (size_t)n) == 0;
}

int terminal_supervise(pid_t pid, int master, int *status, vessel_error **err)
{
        struct termios saved, raw;
        bool restore = false, stdin_open = master >= 0;
        _cleanup_close_ int sfd = -1;
        sigset_t set;
        int r = 0;

        sigfillset(&set);
        sigdelset(&set, SIGSEGV);
        sigdelset(&set, SIGBUS);
        sigdelset(&set, SIGILL);
        sigdelset(&set, SIGFPE);
        sfd = signalfd(-1, &set, SFD_CLOEXEC);
        if (sfd < 0)
                return vessel_error_sys(err, "signalfd");
        if (master >= 0 && isatty(0) && tcgetattr(0, &saved) == 0) {
                raw = saved;
                cfmakeraw(&raw);
                restore = tcsetattr(0, TCSANOW, &raw) == 0;
                copy_winsize(0, master);
        }
        for (;;) {
                struct pollfd pf[3] = {{.fd = sfd, .events = POLLIN},
                                       {.fd = master, .events = POLLIN},
                                       {.fd = stdin_open ? 0 : -1, .events = POLLIN}};
                struct signalfd_siginfo si;
                int n = poll(pf, 3, -1);

                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        r = vessel_error_sys(err, "poll");
                        break;
                }
                /* EOF or EIO: every user of the terminal closed it; wait for the exit. */
                if (master >= 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR)) &&
                    !pump(master, 1))
                        master = -1;
                if (pf[2].revents & (POLLIN | POLLHUP | POLLERR)) {
                        if (!pump(0, master))
                                stdin_open =
                                    false; /* keep the pty open: the process may still write */
                }
                if (!(pf[0].revents & POLLIN))
                        continue;
                if (read(sfd, &si, sizeof(si)) != sizeof(si))
                        continue;
                if (si.ssi_signo == SIGCHLD) {
                        int st;
                        pid_t w;
                        bool done = false;
                        while ((w = waitpid(-1, &st, WNOHANG)) > 0) {
                                if (w == pid) {
                                        *status =
                                            WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
                                        done = true;
                                }
                        }
                        if (done) {
                                /* Drain what the process wrote last: the tty layer
                                 * hands it to the master asynchronously, so wait
                                 * for EIO (every writer gone), or a quiet 200 ms
                                 * when something else still holds the terminal. */
                                while (master >= 0) {
                                        struct pollfd d = {.fd = master, .events = POLLIN};
                                        if (poll(&d, 1, 200) <= 0 || !pump(master, 1))
                                                break;
                                }
                                break;
                        }
                } else if (si.ssi_signo == SIGWINCH && master >= 0) {
                        copy_winsize(0, master);
                } else if (si.ssi_signo != SIGWINCH && si.ssi_signo != SIGPIPE) {
                        kill(pid, (int)si.ssi_signo);
                }
        }
        if (restore)
                tcsetattr(0, TCSANOW, &saved);
        return r;
}
