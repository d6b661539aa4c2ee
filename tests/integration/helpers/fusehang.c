/* fusehang MOUNTPOINT: a FUSE file system whose server never answers a
 * lookup of a name that starts with "hang" (other names: ENOENT), so that
 * a process resolving MOUNTPOINT/hang... waits in the kernel for good,
 * whatever the signal, until this server dies.  Prints "ready" once the
 * kernel's FUSE_INIT is answered.  For test_vesselctl_mknod.py: a worker
 * of the mknod supervisor stuck in a path. */
#include <errno.h>
#include <fcntl.h>
#include <linux/fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/uio.h>
#include <unistd.h>

static char buf[FUSE_MIN_READ_BUFFER + 1024 * 1024];

static void reply(int fd, uint64_t unique, int error, const void *data, size_t size)
{
        struct fuse_out_header h = {
            .len = (uint32_t)(sizeof(h) + (error ? 0 : size)), .error = error, .unique = unique};
        struct iovec iov[2] = {{&h, sizeof(h)}, {(void *)data, error ? 0 : size}};

        if (writev(fd, iov, 2) < 0 && errno != ENOENT)
                perror("fusehang: writev");
}

int main(int argc, char **argv)
{
        char opts[128];
        int fd;

        if (argc != 2) {
                fprintf(stderr, "usage: fusehang MOUNTPOINT\n");
                return 2;
        }
        fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
        if (fd < 0) {
                perror("fusehang: /dev/fuse");
                return 1;
        }
        snprintf(opts, sizeof(opts), "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other", fd);
        if (mount("fusehang", argv[1], "fuse", MS_NOSUID | MS_NODEV, opts) < 0) {
                perror("fusehang: mount");
                return 1;
        }
        for (;;) {
                ssize_t k = read(fd, buf, sizeof(buf));
                struct fuse_in_header *in = (struct fuse_in_header *)buf;

                if (k < 0) {
                        if (errno == EINTR || errno == ENOENT)
                                continue;
                        return errno == ENODEV ? 0 : 1; /* unmounted */
                }
                if ((size_t)k < sizeof(*in))
                        continue;
                switch (in->opcode) {
                case FUSE_INIT: {
                        struct fuse_init_out o = {.major = FUSE_KERNEL_VERSION,
                                                  .minor = FUSE_KERNEL_MINOR_VERSION,
                                                  .max_readahead = 65536,
                                                  .max_write = 65536};
                        reply(fd, in->unique, 0, &o, sizeof(o));
                        printf("ready\n");
                        fflush(stdout);
                        break;
                }
                case FUSE_GETATTR: {
                        struct fuse_attr_out o = {.attr_valid = 3600};
                        o.attr.ino = in->nodeid;
                        o.attr.mode = 040755;
                        o.attr.nlink = 2;
                        reply(fd, in->unique, 0, &o, sizeof(o));
                        break;
                }
                case FUSE_LOOKUP:
                        if (strncmp(buf + sizeof(*in), "hang", 4) == 0)
                                break; /* never */
                        reply(fd, in->unique, -ENOENT, NULL, 0);
                        break;
                case FUSE_FORGET:
                case FUSE_BATCH_FORGET:
                case FUSE_INTERRUPT: /* of a hung lookup: ignored, it hangs on */
                        break;
                default:
                        reply(fd, in->unique, -ENOSYS, NULL, 0);
                }
        }
}
