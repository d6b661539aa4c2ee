/* instance-rootfs.c: an instance's rootfs from its image's.
 *
 * A plain copy with cp -a --reflink=auto (coreutils): owners, modes,
 * times, xattrs, hard links, device nodes, fifos and symlinks are kept,
 * and file data is shared with FICLONE where the file system supports it
 * (btrfs, xfs), copied elsewhere.  This is the one function that storage
 * pools with snapshot clones replace in issue 13. */
#include <errno.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "instance.h"
#include "util.h"

extern char **environ;

int instance_rootfs_create(struct vessel_store *s, const char *fingerprint, int dir_fd,
                           const char *dir_path, vessel_error **err)
{
        _cleanup_free_ char *src = xasprintf("%s/images/%s/rootfs", s->root, fingerprint);
        _cleanup_free_ char *dst = xasprintf("%s/rootfs", dir_path);
        char *argv[] = {"cp", "-a", "--reflink=auto", "--no-target-directory", "--", src, dst,
                        NULL};
        pid_t pid;
        int status, r;

        (void)dir_fd;
        r = posix_spawnp(&pid, "cp", NULL, NULL, argv, environ);
        if (r != 0)
                return vessel_error_set(err, r, "copying the rootfs: running cp");
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return vessel_error_sys(err, "copying the rootfs: waiting for cp");
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return vessel_error_msg(err, EIO,
                                        "copying the rootfs of image %.12s: cp failed (status "
                                        "%d; see its message above)",
                                        fingerprint, status);
        return 0;
}
