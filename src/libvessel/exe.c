/* exe.c: run the runtime from a copy of itself that cannot be written
 * (CVE-2019-5736); see exe.h.
 *
 * The preferred copy costs no copying: open_tree(OPEN_TREE_CLONE) of the
 * binary gives a bind mount of that one file that is attached nowhere, so
 * it appears in no mount table and sends no mount events; made read-only
 * with mount_setattr(2), execveat(2) runs from it and /proc/self/exe then
 * points into it: opening it for writing fails with EROFS, and only
 * CAP_SYS_ADMIN over the host's mount namespace could clear the flag.
 * Unprivileged callers may not clone mounts: if the binary is writable by
 * them, it is copied into a memfd sealed against writes (the approach of
 * runc and crun); if it is not, the container's processes (our uid or
 * sub-ids) cannot write it either and nothing needs doing. */
#include "exe.h"
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U
#endif

extern char **environ;

/* Set in the environment of the re-executed copy only, so that a copy
 * whose protection cannot be recognised fails instead of looping. */
#define REEXEC_GUARD "_VESSEL_EXE_REEXEC"

enum vessel_exe_protection vessel_exe_protection_of(int fd)
{
        struct statvfs sv;
        int seals = fcntl(fd, F_GET_SEALS);

        if (seals >= 0 && (seals & F_SEAL_WRITE))
                return VESSEL_EXE_SEALED;
        if (fstatvfs(fd, &sv) == 0 && (sv.f_flag & ST_RDONLY))
                return VESSEL_EXE_READONLY;
        /* Only a clear "no" counts: a kernel without faccessat2 (EINVAL,
         * ENOSYS) gets the protection, not the benefit of the doubt. */
        if (geteuid() != 0 && faccessat(fd, "", W_OK, AT_EACCESS | AT_EMPTY_PATH) < 0 &&
            (errno == EACCES || errno == EPERM))
                return VESSEL_EXE_NOT_OURS;
        return VESSEL_EXE_UNPROTECTED;
}

static int readonly_tree(int dirfd, const char *path, unsigned int flags)
{
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_RDONLY};
        int tree = open_tree(dirfd, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | flags);

        if (tree < 0)
                return -errno;
        if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0) {
                int r = -errno;
                close(tree);
                return r;
        }
        return tree;
}

/* A detached read-only bind mount of the directory holding the binary
 * open at fd, and the binary's name in it: executed from there, the copy
 * keeps its name (in /proc/PID/exe and comm) instead of "/" and an fd
 * number.  When the name no longer leads to the same file (replaced
 * since), a mount of the file itself. */
static int readonly_clone(int fd, char **name)
{
        char path[PATH_MAX];
        struct stat a, b;
        char *slash;
        ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);
        int tree;

        *name = NULL;
        if (n > 0 && (path[n] = '\0', slash = strrchr(path, '/')) && slash[1] &&
            fstat(fd, &a) == 0) {
                *slash = '\0';
                tree = readonly_tree(AT_FDCWD, *path ? path : "/", 0);
                if (tree < 0)
                        return tree;
                if (fstatat(tree, slash + 1, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
                    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
                        *name = xstrdup(slash + 1);
                        return tree;
                }
                close(tree);
        }
        return readonly_tree(fd, "", AT_EMPTY_PATH);
}

static int sealed_copy(int fd, vessel_error **err)
{
        struct stat st;
        off_t off = 0;
        int mfd = memfd_create("vessel", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);

        /* Kernels before 6.3 do not know MFD_EXEC (and need not). */
        if (mfd < 0 && errno == EINVAL)
                mfd = memfd_create("vessel", MFD_CLOEXEC | MFD_ALLOW_SEALING);
        if (mfd < 0)
                return vessel_error_sys(err, "protect the runtime binary: memfd_create");
        if (fstat(fd, &st) < 0) {
                vessel_error_sys(err, "protect the runtime binary: fstat /proc/self/exe");
                goto fail;
        }
        while (off < st.st_size) {
                ssize_t n = sendfile(mfd, fd, &off, (size_t)(st.st_size - off));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        vessel_error_set(
                            err, n < 0 ? errno : EIO,
                            "protect the runtime binary: copy /proc/self/exe into a memfd");
                        goto fail;
                }
        }
        if (fcntl(mfd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
                vessel_error_sys(err, "protect the runtime binary: seal the memfd copy");
                goto fail;
        }
        return mfd;
fail:
        close(mfd);
        return vessel_error_rc(err);
}

int vessel_exe_protect(char **argv, vessel_error **err)
{
        _cleanup_close_ int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
        _cleanup_close_ int copy = -1;
        _cleanup_free_ char *name = NULL;
        enum vessel_exe_protection p;

        if (fd < 0)
                return vessel_error_sys(err, "protect the runtime binary: open /proc/self/exe");
        p = vessel_exe_protection_of(fd);
        if (getenv(REEXEC_GUARD)) {
                unsetenv(REEXEC_GUARD);
                if (p == VESSEL_EXE_UNPROTECTED)
                        return vessel_error_msg(err, EIO,
                                                "protect the runtime binary: the re-executed "
                                                "copy is still writable");
                return 0;
        }
        if (p != VESSEL_EXE_UNPROTECTED)
                return 0;
        /* EPERM without CAP_SYS_ADMIN over our mount namespace (rootless),
         * ENOSYS before Linux 5.12, or anything else odd: the memfd copy
         * works wherever memfds may be executed. */
        copy = readonly_clone(fd, &name);
        if (copy < 0)
                copy = sealed_copy(fd, err);
        if (copy < 0)
                return copy;
        if (setenv(REEXEC_GUARD, "1", 1) < 0)
                return vessel_error_sys(err, "setenv");
        execveat(copy, name ? name : "", argv, environ, name ? 0 : AT_EMPTY_PATH);
        unsetenv(REEXEC_GUARD);
        return vessel_error_sys(err, "protect the runtime binary: execveat its read-only copy");
}
