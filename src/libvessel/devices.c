#include "devices.h"
#include "mounts.h"
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static const struct vessel_device default_devices[] = {
        {.path = "/dev/null", .type = 'c', .major = 1, .minor = 3},
        {.path = "/dev/zero", .type = 'c', .major = 1, .minor = 5},
        {.path = "/dev/full", .type = 'c', .major = 1, .minor = 7},
        {.path = "/dev/random", .type = 'c', .major = 1, .minor = 8},
        {.path = "/dev/urandom", .type = 'c', .major = 1, .minor = 9},
        {.path = "/dev/tty", .type = 'c', .major = 5, .minor = 0},
};

static const struct {
        const char *target, *name;
} default_links[] = {
        {"/proc/self/fd", "fd"},
        {"/proc/self/fd/0", "stdin"},
        {"/proc/self/fd/1", "stdout"},
        {"/proc/self/fd/2", "stderr"},
        {"pts/ptmx", "ptmx"},
};

static int make_device(int rootfd, const struct vessel_device *d, bool userns, vessel_error **err)
{
        _cleanup_free_ char *parent = xstrdup(d->path);
        _cleanup_close_ int dirfd = -1;
        char *slash = strrchr(parent, '/');
        const char *name = slash ? slash + 1 : parent;
        mode_t type = d->type == 'b' ? S_IFBLK : d->type == 'p' ? S_IFIFO : S_IFCHR;
        mode_t mode = d->has_file_mode ? (d->file_mode & 07777) : 0666;
        int r;

        if (slash)
                *slash = '\0';
        dirfd = path_open_in_root(rootfd, slash && *parent ? parent : "/", RESOLVE_CREATE_DIR, err);
        if (dirfd < 0)
                return dirfd;
        /* Reopen the confined O_PATH directory for real use. */
        {
                char p[64];
                int real;
                snprintf(p, sizeof(p), "/proc/self/fd/%d", dirfd);
                real = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (real < 0)
                        return vessel_error_sys(err, "open %s", parent);
                closep(&dirfd);
                dirfd = real;
        }
        /* Never follow or replace something the rootfs put there but a plain
         * file we may have created ourselves. */
        if (unlinkat(dirfd, name, 0) < 0 && errno != ENOENT && errno != EISDIR)
                return vessel_error_sys(err, "remove %s", d->path);

        if (userns && type != S_IFIFO) {
                _cleanup_close_ int target = -1;
                int nf = openat(dirfd, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0600);
                if (nf < 0)
                        return vessel_error_sys(err, "create mount point for %s", d->path);
                close(nf);
                target = openat(dirfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
                if (target < 0)
                        return vessel_error_sys(err, "open %s", d->path);
                r = mount_bind_fd(AT_FDCWD, d->path, target, false, 0, err);
                return r < 0 ? vessel_error_prefix(err, "bind device %s from the host", d->path) : 0;
        }
        if (mknodat(dirfd, name, type | mode, makedev((unsigned)d->major, (unsigned)d->minor)) < 0)
                return vessel_error_sys(err, "mknod %s", d->path);
        /* mknod applies the umask; set the exact mode. */
        if (fchmodat(dirfd, name, mode, 0) < 0)
                return vessel_error_sys(err, "chmod %s", d->path);
        if ((d->has_uid || d->has_gid) &&
            fchownat(dirfd, name, d->has_uid ? d->uid : (uid_t)-1, d->has_gid ? d->gid : (gid_t)-1,
                     AT_SYMLINK_NOFOLLOW) < 0)
                return vessel_error_sys(err, "chown %s", d->path);
        return 0;
}

int devices_setup(int rootfd, const struct vessel_spec *spec, bool userns, bool defaults,
                  vessel_error **err)
{
        int r;

        if (defaults) {
                _cleanup_close_ int dev = path_open_in_root(rootfd, "/dev", RESOLVE_CREATE_DIR, err);
                _cleanup_close_ int devdir = -1;
                char p[64];

                if (dev < 0)
                        return dev;
                snprintf(p, sizeof(p), "/proc/self/fd/%d", dev);
                devdir = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (devdir < 0)
                        return vessel_error_sys(err, "open /dev in the container");
                for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++) {
                        /* A device listed in linux.devices is created from there. */
                        bool listed = false;
                        for (size_t j = 0; j < spec->linux_.n_devices; j++)
                                if (!strcmp(spec->linux_.devices[j].path, default_devices[i].path))
                                        listed = true;
                        if (!listed && (r = make_device(rootfd, &default_devices[i], userns, err)) < 0)
                                return r;
                }
                for (size_t i = 0; i < ARRAY_SIZE(default_links); i++) {
                        if (symlinkat(default_links[i].target, devdir, default_links[i].name) < 0 &&
                            errno != EEXIST)
                                return vessel_error_sys(err, "symlink /dev/%s", default_links[i].name);
                }
                for (const char *const *d = (const char *const[]){"pts", "shm", "mqueue", NULL}; *d; d++)
                        if (mkdirat(devdir, *d, 0755) < 0 && errno != EEXIST)
                                return vessel_error_sys(err, "mkdir /dev/%s", *d);
        }
        for (size_t i = 0; i < spec->linux_.n_devices; i++) {
                r = make_device(rootfd, &spec->linux_.devices[i], userns, err);
                if (r < 0)
                        return vessel_error_prefix(err, "linux.devices[%zu]", i);
        }
        return 0;
}
