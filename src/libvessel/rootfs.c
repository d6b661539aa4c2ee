#include "rootfs.h"
#include "idmap.h"
#include "mounts.h"
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>

static bool wants_idmap(const struct vessel_spec *spec)
{
        for (size_t i = 0; i < spec->n_annotations; i++)
                if (!strcmp(spec->annotations[i].key, ROOTFS_IDMAP_ANNOTATION))
                        return !strcmp(spec->annotations[i].value, "true");
        return false;
}

int rootfs_prepare_idmap(const struct vessel_spec *spec, const char *rootfs, int *out,
                         vessel_error **err)
{
        const struct vessel_linux *lx = &spec->linux_;
        struct mount_attr attr = {.attr_set = MOUNT_ATTR_IDMAP};
        bool idmap = wants_idmap(spec), userns = lx->ns[VESSEL_NS_USER].present;
        _cleanup_close_ int fd = -1, uns = -1;
        int r;

        *out = -1;
        if (!idmap && !userns)
                return 0;
        if (idmap && (!userns || !lx->n_uid_mappings || !lx->n_gid_mappings))
                return vessel_error_msg(err, EINVAL,
                                        "annotations[\"%s\"]: an idmapped rootfs needs a user "
                                        "namespace with uidMappings and gidMappings",
                                        ROOTFS_IDMAP_ANNOTATION);
        /* In a user namespace, the rootfs is cloned here too (as a bind
         * source, mounts.c): init, already the container's root, may not
         * traverse the path to it.  Without the privilege to clone
         * (rootless), init binds it by its path, which the caller reaches. */
        fd = open_tree(AT_FDCWD, rootfs, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
        if (fd < 0 && errno == EPERM && !idmap)
                return 0;
        if (fd < 0)
                return vessel_error_sys(err, "rootfs: clone %s", rootfs);
        if (idmap) {
                uns = idmap_userns_fd(lx->uid_mappings, lx->n_uid_mappings, lx->gid_mappings,
                                      lx->n_gid_mappings, err);
                if (uns < 0)
                        return vessel_error_prefix(err, "idmapped rootfs");
                attr.userns_fd = (uint64_t)uns;
                if (mount_setattr(fd, "", AT_EMPTY_PATH, &attr, sizeof(attr)) < 0)
                        return vessel_error_sys(err,
                                                "idmapped rootfs: mount_setattr on %s (does its "
                                                "file system support idmapped mounts?)",
                                                rootfs);
        }
        /* A clone is a peer of its source: nothing mounted in the container
         * may propagate back (as rootfs_prepare's slave tree). */
        r = mount_set_attr(fd, 0, 0,
                           lx->rootfs_propagation & MS_PRIVATE ? MS_PRIVATE : MS_SLAVE, true);
        if (r < 0)
                return vessel_error_set(err, -r, "rootfs: propagation of %s", rootfs);
        *out = steal_fd(&fd);
        return 0;
}

int rootfs_prepare(const struct vessel_spec *spec, const char *rootfs, int idmapped,
                   vessel_error **err)
{
        unsigned long prop = spec->linux_.rootfs_propagation;
        int fd;

        /* Nothing the container mounts may propagate back to the host: the
         * whole tree becomes a slave (or private).  rootfsPropagation itself is
         * applied to the new root after pivot_root, which needs the old root's
         * mounts not to be shared. */
        prop = MS_REC | ((prop & MS_PRIVATE) ? MS_PRIVATE : MS_SLAVE);
        if (mount(NULL, "/", NULL, prop, NULL) < 0)
                return vessel_error_sys(err, "make / %s", (prop & MS_PRIVATE) ? "private" : "slave");
        /* The runtime's clone (idmapped or not) goes on top of "/" of our
         * (new) mount tree: its root's path may not be traversable by the
         * container's root, which init already is, and pivot_root needs it attached, not at
         * a particular place.  Lookups from our root still see the old
         * tree below it until pivot_root stacks that on the new one. */
        if (idmapped >= 0) {
                if (move_mount(idmapped, "", AT_FDCWD, "/", MOVE_MOUNT_F_EMPTY_PATH) < 0)
                        return vessel_error_sys(err, "attach the idmapped rootfs %s", rootfs);
                fd = fcntl(idmapped, F_DUPFD_CLOEXEC, 3);
                if (fd < 0)
                        return vessel_error_sys(err, "dup the idmapped rootfs %s", rootfs);
                return fd;
        }
        if (mount(rootfs, rootfs, NULL, MS_BIND | MS_REC, NULL) < 0)
                return vessel_error_sys(err, "bind mount rootfs %s", rootfs);
        fd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return vessel_error_sys(err, "open rootfs %s", rootfs);
        return fd;
}

static int mask_path(int rootfd, const char *path, vessel_error **err)
{
        _cleanup_close_ int target = path_open_in_root(rootfd, path, RESOLVE_CREATE_NONE, NULL);
        struct stat st;
        int r;

        if (target < 0)
                return 0; /* nothing there to mask */
        if (fstat(target, &st) < 0)
                return vessel_error_sys(err, "stat %s", path);
        if (S_ISDIR(st.st_mode))
                r = mount_tmpfs_fd(target, "size=0", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                                             MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err);
        else
                r = mount_bind_fd(AT_FDCWD, "/dev/null", target, false, MOUNT_ATTR_RDONLY, err);
        return r < 0 ? vessel_error_prefix(err, "mask %s", path) : 0;
}

static int readonly_path(int rootfd, const char *path, vessel_error **err)
{
        _cleanup_close_ int target = path_open_in_root(rootfd, path, RESOLVE_CREATE_NONE, NULL);
        int r;

        if (target < 0)
                return 0;
        r = mount_bind_fd(target, "", target, true, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID |
                                                            MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC, err);
        return r < 0 ? vessel_error_prefix(err, "make %s read-only", path) : 0;
}

/* process.cwd is created now, while the root can still be written: with
 * root.readonly it could not be later (runc creates it before the
 * read-only remount too).  Inside the root, like every other path. */
static int create_cwd(int rootfd, const char *cwd, vessel_error **err)
{
        int fd = path_open_in_root(rootfd, cwd, RESOLVE_CREATE_DIR, err);

        if (fd < 0)
                return vessel_error_prefix(err, "process.cwd %s", cwd);
        close(fd);
        return 0;
}

int rootfs_protect(int rootfd, const struct vessel_spec *spec, vessel_error **err)
{
        int r;

        if (spec->process.cwd && (r = create_cwd(rootfd, spec->process.cwd, err)) < 0)
                return r;
        for (size_t i = 0; i < spec->linux_.n_masked_paths; i++)
                if ((r = mask_path(rootfd, spec->linux_.masked_paths[i], err)) < 0)
                        return vessel_error_prefix(err, "linux.maskedPaths[%zu]", i);
        for (size_t i = 0; i < spec->linux_.n_readonly_paths; i++)
                if ((r = readonly_path(rootfd, spec->linux_.readonly_paths[i], err)) < 0)
                        return vessel_error_prefix(err, "linux.readonlyPaths[%zu]", i);
        if (spec->root.readonly) {
                r = mount_set_attr(rootfd, MOUNT_ATTR_RDONLY, 0, 0, false);
                if (r < 0)
                        return vessel_error_set(err, -r, "root.readonly: make the rootfs read-only");
        }
        return 0;
}

int rootfs_enter(int rootfd, const char *rootfs, bool no_pivot, unsigned long propagation,
                 vessel_error **err)
{
        if (fchdir(rootfd) < 0)
                return vessel_error_sys(err, "chdir into rootfs %s", rootfs);
        if (no_pivot) {
                if (mount(".", "/", NULL, MS_MOVE, NULL) < 0)
                        return vessel_error_sys(err, "move rootfs %s to / (--no-pivot)", rootfs);
                if (chroot(".") < 0)
                        return vessel_error_sys(err, "chroot %s", rootfs);
        } else {
                _cleanup_close_ int oldroot = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
                if (oldroot < 0)
                        return vessel_error_sys(err, "open /");
                /* pivot_root(".", ".") stacks the old root on top of the new
                 * one; detaching it leaves only the container's tree. */
                if (syscall(SYS_pivot_root, ".", ".") < 0)
                        return vessel_error_sys(err, "pivot_root %s", rootfs);
                if (fchdir(oldroot) < 0)
                        return vessel_error_sys(err, "fchdir old root");
                if (mount(NULL, ".", NULL, MS_SLAVE | MS_REC, NULL) < 0)
                        return vessel_error_sys(err, "make old root slave");
                if (umount2(".", MNT_DETACH) < 0)
                        return vessel_error_sys(err, "detach old root");
        }
        if (chdir("/") < 0)
                return vessel_error_sys(err, "chdir /");
        if (propagation && mount(NULL, "/", NULL, propagation, NULL) < 0)
                return vessel_error_sys(err, "linux.rootfsPropagation: set propagation of /");
        return 0;
}

/* "kernel/hostname" and "kernel.hostname" name the same file. */
static bool sysctl_is(const char *key, const char *dotted)
{
        for (; *key && *dotted; key++, dotted++)
                if (*key != *dotted && !(*key == '/' && *dotted == '.'))
                        return false;
        return !*key && !*dotted;
}

int sysctl_validate(const struct vessel_spec *spec, vessel_error **err)
{
        static const struct {
                const char *sysctl, *field;
        } uts[] = {{"kernel.hostname", "hostname"}, {"kernel.domainname", "domainname"}};

        for (size_t i = 0; i < spec->linux_.n_sysctl; i++) {
                const char *key = spec->linux_.sysctl[i].key;
                for (size_t k = 0; k < ARRAY_SIZE(uts); k++) {
                        const char *v = k == 0 ? spec->hostname : spec->domainname;
                        /* Both write the uts namespace: which one wins would
                         * depend on the order of our steps (runc refuses it too). */
                        if (v && *v && sysctl_is(key, uts[k].sysctl))
                                return vessel_error_msg(
                                    err, EINVAL,
                                    "linux.sysctl[\"%s\"]: conflicts with \"%s\" (\"%s\"): both "
                                    "set the uts namespace's %s; give only one of them",
                                    key, uts[k].field, v, uts[k].field);
                }
        }
        return 0;
}

int sysctl_apply(const struct vessel_spec *spec, vessel_error **err)
{
        for (size_t i = 0; i < spec->linux_.n_sysctl; i++) {
                const struct vessel_kv *kv = &spec->linux_.sysctl[i];
                _cleanup_free_ char *path = NULL;
                int r;

                if (!*kv->key || strstr(kv->key, "..") || kv->key[0] == '/' || kv->key[0] == '.')
                        return vessel_error_set(err, EINVAL, "linux.sysctl: invalid key \"%s\"", kv->key);
                path = xasprintf("/proc/sys/%s", kv->key);
                for (char *p = path + 10; *p; p++)
                        if (*p == '.')
                                *p = '/';
                r = write_file_at(AT_FDCWD, path, kv->value, strlen(kv->value), err);
                if (r < 0)
                        return vessel_error_prefix(err, "linux.sysctl \"%s\"", kv->key);
        }
        return 0;
}
