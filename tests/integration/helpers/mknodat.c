/* mknodat: mknodat(2) relative to a directory fd, and with arguments that
 * busybox never passes, for test_vesselctl_mknod.py.
 *   mknodat DIR NAME MAJOR MINOR   char node NAME in DIR (opened O_PATH)
 *   mknodat --badfd NAME           with a dirfd that is not open
 *   mknodat --filefd FILE NAME     with a dirfd of a regular file
 *   mknodat --fault                with a path pointer to nothing
 * Prints "ok" or the errno's name. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int report(long r)
{
        if (r == 0) {
                puts("ok");
                return 0;
        }
        switch (errno) {
        case EBADF: puts("EBADF"); break;
        case ENOTDIR: puts("ENOTDIR"); break;
        case EFAULT: puts("EFAULT"); break;
        case EEXIST: puts("EEXIST"); break;
        case ENOENT: puts("ENOENT"); break;
        case EPERM: puts("EPERM"); break;
        case EACCES: puts("EACCES"); break;
        default: printf("errno %d\n", errno);
        }
        return 1;
}

int main(int argc, char **argv)
{
        int fd;

        if (argc == 2 && !strcmp(argv[1], "--fault"))
                return report(syscall(SYS_mknodat, AT_FDCWD, (char *)8, S_IFCHR | 0600,
                                      makedev(1, 3)));
        if (argc == 3 && !strcmp(argv[1], "--badfd"))
                return report(mknodat(987, argv[2], S_IFCHR | 0600, makedev(1, 3)));
        if (argc == 4 && !strcmp(argv[1], "--filefd")) {
                if ((fd = open(argv[2], O_RDONLY)) < 0)
                        return 2;
                return report(mknodat(fd, argv[3], S_IFCHR | 0600, makedev(1, 3)));
        }
        if (argc == 5) {
                if ((fd = open(argv[1], O_PATH | O_DIRECTORY)) < 0)
                        return 2;
                /* Elsewhere: the node goes below the fd, not the cwd. */
                if (chdir("/") < 0)
                        return 2;
                return report(mknodat(fd, argv[2], S_IFCHR | 0600,
                                      makedev(atoi(argv[3]), atoi(argv[4]))));
        }
        fputs("usage: see the source\n", stderr);
        return 2;
}
