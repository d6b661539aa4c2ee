/* idshift.c: an unprivileged instance's rootfs on a file system that
 * cannot be idmapped: its files shifted once into the instance's range
 * (see idshift.h). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "idshift.h"
#include "userns-helper.h"
#include "util.h"

#define MARKER "rootfs.shift"

uint32_t idshift_map(uint32_t id, uint64_t from, uint64_t to, uint64_t size)
{
        if (id < size)
                return (uint32_t)(to + id);
        if (from && id >= from && id < from + size)
                return (uint32_t)(id - from + to);
        return id;
}

/* Can rootfs be idmapped?  A detached clone idmapped through a user
 * namespace of a child that only waits: EINVAL says the file system
 * cannot (tmpfs before Linux 6.3, NFS, ...). */
static int probe(const char *rootfs, bool *ok, vessel_error **err)
{
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP};
        int pipefd[2], userns = -1, tree = -1, r = 0;
        char path[64];
        pid_t pid;

        *ok = false;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return vessel_error_sys(err, "pipe");
        pid = fork();
        if (pid < 0) {
                close(pipefd[0]);
                close(pipefd[1]);
                return vessel_error_sys(err, "fork");
        }
        if (pid == 0) {
                char c;
                close(pipefd[1]);
                if (unshare(CLONE_NEWUSER) < 0)
                        _exit(1);
                (void)!read(pipefd[0], &c, 1); /* until the parent is done */
                _exit(0);
        }
        close(pipefd[0]);
        snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
        char maps[64];
        /* The child's unshare may not have happened yet: its ns/user is
         * ours until then. */
        for (int i = 0; i < 2000; i++) {
                struct stat a, b;
                if (stat(path, &a) == 0 && stat("/proc/self/ns/user", &b) == 0 &&
                    a.st_ino != b.st_ino)
                        break;
                usleep(500);
        }
        /* An idmapping needs a mapping to map through: one id does. */
        for (int k = 0; k < 2; k++) {
                snprintf(maps, sizeof(maps), "/proc/%d/%s", (int)pid, k ? "gid_map" : "uid_map");
                int mfd = open(maps, O_WRONLY | O_CLOEXEC);
                if (mfd >= 0) {
                        (void)!write(mfd, "0 65534 1\n", 10);
                        close(mfd);
                }
        }
        userns = open(path, O_RDONLY | O_CLOEXEC);
        tree = open_tree(AT_FDCWD, rootfs, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
        if (userns < 0 || tree < 0)
                r = vessel_error_sys(err, "probe idmapped mounts of %s", rootfs);
        else {
                attr.userns_fd = (uint64_t)userns;
                if (mount_setattr(tree, "", AT_EMPTY_PATH, &attr, sizeof(attr)) == 0)
                        *ok = true;
                else if (errno != EINVAL && errno != EOPNOTSUPP)
                        r = vessel_error_sys(err, "probe idmapped mounts of %s", rootfs);
        }
        if (tree >= 0)
                close(tree);
        if (userns >= 0)
                close(userns);
        close(pipefd[1]);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        return r;
}

static struct {
        uint64_t from, to, size;
        int error;
        char *path;
} walk;

static int shift_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
        uint32_t u = idshift_map(st->st_uid, walk.from, walk.to, walk.size);
        uint32_t g = idshift_map(st->st_gid, walk.from, walk.to, walk.size);
        char caps[256];
        ssize_t ncaps = -1;

        (void)flag;
        (void)f;
        if (u == st->st_uid && g == st->st_gid)
                return 0;
        /* chown clears set-id bits and file capabilities: kept. */
        if (!S_ISLNK(st->st_mode))
                ncaps = lgetxattr(path, "security.capability", caps, sizeof(caps));
        if (lchown(path, u, g) < 0) {
                walk.error = errno;
                walk.path = xstrdup(path);
                return 1;
        }
        if (!S_ISLNK(st->st_mode) && (st->st_mode & (S_ISUID | S_ISGID)))
                chmod(path, st->st_mode & 07777);
        if (ncaps > 0)
                lsetxattr(path, "security.capability", caps, (size_t)ncaps, 0);
        return 0;
}

static int write_marker(int dirfd, const char *text, vessel_error **err)
{
        _cleanup_free_ char *tmp = xasprintf("%s.tmp", MARKER);
        _cleanup_close_ int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0 ||
            renameat(dirfd, tmp, dirfd, MARKER) < 0 || fsync(dirfd) < 0)
                return vessel_error_sys(err, "write %s", MARKER);
        return 0;
}

int idshift_record(int inst_dirfd, uint64_t base, uint64_t size, vessel_error **err)
{
        _cleanup_free_ char *done = xasprintf("shifted %" PRIu64 " %" PRIu64 "\n", base, size);

        return write_marker(inst_dirfd, done, err);
}

int idshift_current(int inst_dirfd, uint64_t *base)
{
        _cleanup_free_ char *text = NULL;
        unsigned long long a, b, c;

        if (read_file_at(inst_dirfd, MARKER, &text, NULL, NULL) < 0)
                return 0;
        if (sscanf(text, "shifted %llu %llu", &a, &b) == 2) {
                *base = a;
                return 1;
        }
        if (sscanf(text, "shifting %llu %llu %llu", &a, &b, &c) == 3) {
                *base = b;
                return 1;
        }
        return 0;
}

/* The walk, in this process or (rootless) in the helper's child. */
static int walk_fn(void *arg, vessel_error **err)
{
        const char *rootfs = arg;
        int r = 0;

        if (nftw(rootfs, shift_one, 64, FTW_PHYS | FTW_MOUNT) != 0)
                r = walk.error ? vessel_error_set(err, walk.error, "shift %s: chown",
                                                  walk.path ? walk.path : rootfs)
                               : vessel_error_sys(err, "shift %s", rootfs);
        free(walk.path);
        walk.path = NULL;
        return r;
}

/* layer: the upper layer of an overlay, always shifted (no probe), with
 * no message: it holds only what the instance changed. */
static int prepare(int inst_dirfd, const char *name, const char *rootfs, uint64_t base,
                   uint64_t size, const struct idrange_user *rootless, bool layer, bool *shifted,
                   vessel_error **err)
{
        _cleanup_free_ char *text = NULL;
        unsigned long long mbase = 0, msize = 0, from = 0, to = 0;
        bool ok = false, marked = false, carried = false;
        int r;

        *shifted = false;
        if (read_file_at(inst_dirfd, MARKER, &text, NULL, NULL) == 0) {
                marked = true;
                if (sscanf(text, "shifted %llu %llu", &mbase, &msize) == 2 && mbase == base &&
                    msize == size) {
                        *shifted = true;
                        return 0;
                }
                /* Shifted to another range, or killed while shifting:
                 * carried on from there (the walk is idempotent). */
                if (sscanf(text, "shifting %llu %llu %llu", &from, &to, &msize) == 3) {
                        mbase = from;
                        carried = true;
                }
        }
        if (rootless && !marked)
                mbase = idrange_user_image_base(rootless);
        if (!layer && !rootless && !marked && (r = probe(rootfs, &ok, err)) < 0)
                return r;
        if (!layer && !rootless && !marked && ok)
                return 0; /* the runtime idmaps it */
        if (layer)
                ;
        else if (rootless)
                fprintf(stderr,
                        "vesselctl: instance %s: rootless store: shifting its files to host ids "
                        "%" PRIu64 "-%" PRIu64 " (idmapped mounts need privilege)\n",
                        name, base, base + size - 1);
        else if (marked && !carried)
                /* A new range, or a copy of files shifted elsewhere. */
                fprintf(stderr,
                        "vesselctl: instance %s: its files are at host ids %llu.. (rootfs.shift): "
                        "shifting them to host ids %" PRIu64 "-%" PRIu64 "\n",
                        name, mbase, base, base + size - 1);
        else
                fprintf(stderr,
                        "vesselctl: instance %s: %s cannot be idmapped on its file system: "
                        "shifting its files to host ids %" PRIu64 "-%" PRIu64 " once\n",
                        name, rootfs, base, base + size - 1);
        _cleanup_free_ char *mark =
            xasprintf("shifting %llu %" PRIu64 " %" PRIu64 "\n", mbase, base, size);
        if ((r = write_marker(inst_dirfd, mark, err)) < 0)
                return vessel_error_prefix(err, "instance %s", name);
        walk.from = mbase;
        walk.to = base;
        walk.size = size;
        walk.error = 0;
        walk.path = NULL;
        r = rootless ? userns_run(rootless, "shifting the rootfs", walk_fn, (void *)rootfs, err)
                     : walk_fn((void *)rootfs, err);
        if (r < 0)
                return vessel_error_prefix(err, "instance %s", name);
        _cleanup_free_ char *done = xasprintf("shifted %" PRIu64 " %" PRIu64 "\n", base, size);
        if ((r = write_marker(inst_dirfd, done, err)) < 0)
                return vessel_error_prefix(err, "instance %s", name);
        *shifted = true;
        return 0;
}

int idshift_prepare(int inst_dirfd, const char *name, const char *rootfs, uint64_t base,
                    uint64_t size, const struct idrange_user *rootless, bool *shifted,
                    vessel_error **err)
{
        return prepare(inst_dirfd, name, rootfs, base, size, rootless, false, shifted, err);
}

int idshift_prepare_layer(int inst_dirfd, const char *name, const char *dir, uint64_t base,
                          uint64_t size, vessel_error **err)
{
        bool shifted;

        return prepare(inst_dirfd, name, dir, base, size, NULL, true, &shifted, err);
}

int idshift_record_copy(int from_dirfd, int to_dirfd, vessel_error **err)
{
        _cleanup_free_ char *text = NULL;
        int r = read_file_at(from_dirfd, MARKER, &text, NULL, NULL);

        if (r == -ENOENT)
                return 0;
        if (r < 0)
                return vessel_error_set(err, -r, "read %s", MARKER);
        return write_marker(to_dirfd, text, err);
}

int idshift_finish(int inst_dirfd, const char *name, const char *dir,
                   const struct idrange_user *rootless, vessel_error **err)
{
        _cleanup_free_ char *text = NULL;
        unsigned long long from, to, size;
        bool shifted;

        if (read_file_at(inst_dirfd, MARKER, &text, NULL, NULL) < 0 ||
            sscanf(text, "shifting %llu %llu %llu", &from, &to, &size) != 3)
                return 0;
        return prepare(inst_dirfd, name, dir, to, size, rootless, true, &shifted, err);
}

int idshift_range(int inst_dirfd, uint64_t *base, uint64_t *size)
{
        _cleanup_free_ char *text = NULL;
        unsigned long long b, n;

        if (read_file_at(inst_dirfd, MARKER, &text, NULL, NULL) < 0 ||
            sscanf(text, "shifted %llu %llu", &b, &n) != 2)
                return 0;
        *base = b;
        *size = n;
        return 1;
}

bool idshift_recorded(int inst_dirfd, uint64_t base, uint64_t size)
{
        _cleanup_free_ char *text = NULL;
        unsigned long long b, n;

        return read_file_at(inst_dirfd, MARKER, &text, NULL, NULL) == 0 &&
               sscanf(text, "shifted %llu %llu", &b, &n) == 2 && b == base && n == size;
}
