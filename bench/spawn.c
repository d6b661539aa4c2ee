/* spawn.c: the bench's process launcher (built static by bench.py).
 *
 * Why not spawn from Python: a child made by fork() or vfork() starts on a
 * copy of (or on) its parent's address space, and the kernel folds that
 * address space's peak RSS into the child's ru_maxrss when it execs.  From
 * the Python driver every runtime would report Python's ~18 MiB.  From this
 * small static program the floor is its own RSS, a few dozen KiB, which the
 * bench measures and reports (busybox `true` under the same launcher).
 *
 * Protocol on stdin/stdout, one command at a time:
 *   request:  "N\0" ARG1 "\0" ... ARGN "\0"
 *   reply:    "STATUS WALL_NS MAXRSS_KIB UTIME_US STIME_US\n"
 * STATUS is the exit code, or 128+N when killed by signal N.  WALL_NS is
 * CLOCK_MONOTONIC from just before vfork() to just after wait4().  The
 * command gets /dev/null on stdin and stdout and this program's stderr (the
 * bench's error log) as stderr; nothing else is inherited. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXARGS 64

static int read_field(char *buf, size_t cap)
{
        size_t n = 0;
        int c;

        while ((c = getchar()) != EOF) {
                if (c == '\0') {
                        buf[n] = '\0';
                        return 0;
                }
                if (n + 1 >= cap)
                        return -1;
                buf[n++] = (char)c;
        }
        return -1;
}

int main(void)
{
        static char store[MAXARGS][4096];
        char *argv[MAXARGS + 1];
        char num[32];
        int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);

        if (devnull < 0)
                return 1;
        while (read_field(num, sizeof(num)) == 0) {
                int n = atoi(num), status;
                struct timespec t0, t1;
                struct rusage ru;
                pid_t pid;

                if (n < 1 || n > MAXARGS)
                        return 2;
                for (int i = 0; i < n; i++) {
                        if (read_field(store[i], sizeof(store[i])) < 0)
                                return 2;
                        argv[i] = store[i];
                }
                argv[n] = NULL;
                clock_gettime(CLOCK_MONOTONIC, &t0);
                pid = vfork();
                if (pid == 0) {
                        if (dup2(devnull, 0) < 0 || dup2(devnull, 1) < 0)
                                _exit(126);
                        syscall(SYS_close_range, 3U, ~0U, 0U);
                        execv(argv[0], argv);
                        _exit(127);
                }
                if (pid < 0)
                        return 3;
                if (wait4(pid, &status, 0, &ru) != pid)
                        return 3;
                clock_gettime(CLOCK_MONOTONIC, &t1);
                printf("%d %lld %ld %lld %lld\n",
                       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status),
                       (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec),
                       ru.ru_maxrss,
                       (long long)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec,
                       (long long)ru.ru_stime.tv_sec * 1000000 + ru.ru_stime.tv_usec);
                fflush(stdout);
        }
        return 0;
}
