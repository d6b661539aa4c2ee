/* resolve.c: paths resolved inside a root (resolve.h). */
#include "resolve.h"
#include "util.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/openat2.h>

int openat2_in_root(int rootfd, const char *rel, int flags)
{
        struct open_how how = {
            .flags = (uint64_t)(flags | O_CLOEXEC),
            .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
        };
        int fd;

        do
                fd = (int)syscall(SYS_openat2, rootfd, rel, &how, sizeof(how));
        while (fd < 0 && errno == EAGAIN);
        return fd;
}

/* As many symlinks as the kernel follows in one lookup. */
#define MAX_SYMLINKS 40

/* The walk below found nothing at dir/name, in the directory parent: if
 * name is a dangling symlink, the path to walk instead is its target
 * followed by rest (a relative target is relative to dir, an absolute one
 * to the root).  NULL if name is no symlink. */
static char *dangling_target(int parent, const char *dir, size_t dirlen, const char *name,
                             const char *rest)
{
        char target[PATH_MAX];
        ssize_t n = readlinkat(parent, name, target, sizeof(target) - 1);

        if (n <= 0)
                return NULL;
        target[n] = '\0';
        if (target[0] == '/')
                return xasprintf("%s%s%s", target, *rest ? "/" : "", rest);
        return xasprintf("%.*s/%s%s%s", (int)dirlen, dir, target, *rest ? "/" : "", rest);
}

static int create_in_root(int rootfd, const char *path, enum resolve_create create, int hops,
                          vessel_error **err)
{
        _cleanup_free_ char *rel = xstrdup(path), *acc = xmalloc0(strlen(path) + 2);
        _cleanup_close_ int parent = openat2_in_root(rootfd, ".", O_PATH | O_DIRECTORY);
        char *comp, *save = NULL;
        size_t acclen = 0;
        int fd = -1;

        /* Walk down, creating what is missing.  Each prefix is resolved from
         * the root again, so symlinks met on the way stay inside the root; a
         * new entry is created by a single name relative to a confined parent. */
        for (comp = strtok_r(rel, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
                const char *rest = save ? save : "";
                bool last = *rest == '\0';
                size_t dirlen = acclen;

                if (acclen)
                        acc[acclen++] = '/';
                memcpy(acc + acclen, comp, strlen(comp) + 1);
                acclen += strlen(comp);

                fd = openat2_in_root(rootfd, acc, O_PATH);
                if (fd < 0 && errno == ENOENT) {
                        /* A dangling symlink: what is created is its target,
                         * walked from the root again, so that it stays inside. */
                        _cleanup_free_ char *next =
                            dangling_target(parent, acc, dirlen, comp, rest);
                        if (next && hops >= MAX_SYMLINKS)
                                return vessel_error_set(err, ELOOP, "/%s in the container rootfs",
                                                        acc);
                        if (next)
                                return create_in_root(rootfd, next, create, hops + 1, err);
                        if (last && create == RESOLVE_CREATE_FILE) {
                                int nf = openat(
                                    parent, comp,
                                    O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
                                if (nf < 0 && errno != EEXIST)
                                        return vessel_error_sys(
                                            err, "create /%s in the container rootfs", acc);
                                if (nf >= 0)
                                        close(nf);
                        } else if (mkdirat(parent, comp, 0755) < 0 && errno != EEXIST) {
                                return vessel_error_sys(err, "mkdir /%s in the container rootfs",
                                                        acc);
                        }
                        fd = openat2_in_root(rootfd, acc, O_PATH);
                }
                if (fd < 0)
                        return vessel_error_sys(err, "open /%s in the container rootfs", acc);
                if (!last) {
                        struct stat st;
                        if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode)) {
                                close(fd);
                                return vessel_error_set(err, ENOTDIR, "/%s in the container rootfs",
                                                        acc);
                        }
                        closep(&parent);
                        parent = fd;
                }
        }
        return fd;
}

int path_open_in_root(int rootfd, const char *path, enum resolve_create create, vessel_error **err)
{
        int fd;

        while (*path == '/')
                path++;
        if (!*path)
                path = ".";
        fd = openat2_in_root(rootfd, path, O_PATH);
        if (fd >= 0 || errno != ENOENT || create == RESOLVE_CREATE_NONE) {
                if (fd < 0)
                        return vessel_error_sys(err, "open /%s in the container rootfs", path);
                return fd;
        }
        return create_in_root(rootfd, path, create, 0, err);
}
