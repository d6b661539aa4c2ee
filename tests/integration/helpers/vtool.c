/* vtool: what the busybox rootfs of the tests lacks, built static by the
 * `vtool` fixture (conftest.py) and copied into a test's rootfs.
 *
 *   vtool notify MESSAGE   send MESSAGE to $NOTIFY_SOCKET (sd_notify)
 *   vtool fifo PRIORITY [CMD ARG...]
 *                          switch to SCHED_FIFO, print "FIFO-OK", exec CMD */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int notify(const char *msg)
{
        const char *path = getenv("NOTIFY_SOCKET");
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        socklen_t len;
        int fd;

        if (!path || !*path || strlen(path) >= sizeof(sa.sun_path)) {
                fprintf(stderr, "vtool: NOTIFY_SOCKET is not set\n");
                return 1;
        }
        strcpy(sa.sun_path, path);
        if (sa.sun_path[0] == '@')
                sa.sun_path[0] = '\0';
        len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa, len) < 0) {
                fprintf(stderr, "vtool: send to %s: %s\n", path, strerror(errno));
                return 1;
        }
        return 0;
}

static int fifo(int prio, char **cmd)
{
        struct sched_param p = {.sched_priority = prio};

        if (sched_setscheduler(0, SCHED_FIFO, &p) < 0) {
                fprintf(stderr, "vtool: sched_setscheduler SCHED_FIFO: %s\n", strerror(errno));
                return 1;
        }
        printf("FIFO-OK\n");
        fflush(stdout);
        if (cmd[0]) {
                execv(cmd[0], cmd);
                fprintf(stderr, "vtool: exec %s: %s\n", cmd[0], strerror(errno));
                return 127;
        }
        return 0;
}

int main(int argc, char **argv)
{
        if (argc == 3 && !strcmp(argv[1], "notify"))
                return notify(argv[2]);
        if (argc >= 3 && !strcmp(argv[1], "fifo"))
                return fifo(atoi(argv[2]), argv + 3);
        fprintf(stderr, "usage: vtool notify MESSAGE | vtool fifo PRIORITY [CMD ARG...]\n");
        return 2;
}
