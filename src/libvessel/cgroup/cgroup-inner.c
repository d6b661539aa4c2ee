/* cgroup-inner.c: a container whose init manages cgroups of its own
 * (systemd) lives one level below its limits, as LXC's
 * lxc.cgroup.dir.container.inner and nspawn's payload cgroup.
 *
 * With the annotation CGROUP_INNER_ANNOTATION = NAME, the resources go to
 * the container's cgroup as always, and init (so the cgroup namespace's
 * root) goes to its child NAME in the hierarchies that may be handed to
 * the container writable: cgroup2, the named ones (name=systemd), and the
 * v1 controllers whose limits a child cannot escape (cpu, cpuacct,
 * memory, pids, blkio).  A writer inside may then make cgroups and move
 * processes below its root, and even write its root's files, without
 * raising what the container's cgroup allows.  The others (devices,
 * freezer, cpuset, net_cls, ...) keep init in the container's cgroup: a
 * v1 devices cgroup cannot change its default once it has a child, and
 * they are for the runtime, not for the init.
 *
 * On cgroup2 this also keeps the no-internal-process rule: the
 * container's cgroup holds no process, so its controllers are enabled for
 * NAME, and NAME is the container's to enable for its own children (once
 * it moved its processes out of its root, as systemd does). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup-internal.h"
#include "idmap.h"
#include "util.h"

static const char *inner_annotation(const struct vessel_spec *spec)
{
        for (size_t i = 0; i < spec->n_annotations; i++)
                if (!strcmp(spec->annotations[i].key, CGROUP_INNER_ANNOTATION))
                        return spec->annotations[i].value;
        return NULL;
}

int cg_inner_validate(const struct vessel_spec *spec, vessel_error **err)
{
        const char *n = inner_annotation(spec);

        if (!n)
                return 0;
        if (!*n || strchr(n, '/') || !strcmp(n, ".") || !strcmp(n, "..") ||
            str_has_prefix(n, "cgroup.") || strlen(n) > 255)
                return vessel_error_msg(
                    err, EINVAL,
                    "annotations[\"%s\"]: \"%s\" is not a cgroup name (one path "
                    "component, not cgroup.*)",
                    CGROUP_INNER_ANNOTATION, n);
        return 0;
}

bool cg_hier_takes_inner(const struct cg_hier *h)
{
        const uint32_t accounting = CG_BIT(CG_CPU) | CG_BIT(CG_CPUACCT) | CG_BIT(CG_MEMORY) |
                                    CG_BIT(CG_PIDS) | CG_BIT(CG_BLKIO);
        const uint32_t whole = CG_BIT(CG_DEVICES) | CG_BIT(CG_FREEZER) | CG_BIT(CG_CPUSET);

        if (h->v2 || !h->mask)
                return true;
        return (h->mask & accounting) && !(h->mask & whole);
}

void cg_inner_plan(struct vessel_cgroup *cg, const struct vessel_spec *spec)
{
        const struct vessel_linux *lx = &spec->linux_;
        const char *n = inner_annotation(spec);

        cg->inner = n ? xstrdup(n) : NULL;
        cg->inner_uid = cg->inner_gid = -1;
        if (n && lx->ns[VESSEL_NS_USER].present && lx->n_uid_mappings && lx->n_gid_mappings) {
                cg->inner_uid = idmap_to_host(lx->uid_mappings, lx->n_uid_mappings, 0);
                cg->inner_gid = idmap_to_host(lx->gid_mappings, lx->n_gid_mappings, 0);
        }
}

/* In a user namespace the inner cgroup is handed to the container's root:
 * the directory and every file in it, as LXC and systemd's Delegate= do,
 * so that an init there (systemd) makes its own cgroups and moves its
 * processes.  The container's cgroup above, with the limits, stays the
 * host's. */
static int give_inner(const struct vessel_cgroup *cg, const struct cg_hier *h, int fd,
                      vessel_error **err)
{
        _cleanup_close_ int dfd = -1;
        DIR *d;
        struct dirent *e;
        int r = 0;

        if (cg->inner_uid < 0 || cg->inner_gid < 0)
                return 0;
        if (fchown(fd, (uid_t)cg->inner_uid, (gid_t)cg->inner_gid) < 0)
                return vessel_error_sys(err, "chown %s/%s to %" PRId64 ":%" PRId64, h->dir,
                                        cg->inner, cg->inner_uid, cg->inner_gid);
        dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || !(d = fdopendir(dfd)))
                return vessel_error_sys(err, "open %s/%s", h->dir, cg->inner);
        dfd = -1;
        while ((e = readdir(d)))
                if (e->d_type == DT_REG &&
                    fchownat(dirfd(d), e->d_name, (uid_t)cg->inner_uid, (gid_t)cg->inner_gid,
                             AT_SYMLINK_NOFOLLOW) < 0) {
                        r = vessel_error_sys(err, "chown %s/%s/%s", h->dir, cg->inner, e->d_name);
                        break;
                }
        closedir(d);
        return r;
}

/* cgroup2: every controller the container's cgroup has, for its child. */
static int enable_for_children(const struct cg_hier *h, const char *inner, vessel_error **err)
{
        _cleanup_free_ char *have = NULL;
        int r;

        if ((r = cg_read(h, "cgroup.controllers", &have, err)) < 0)
                return r;
        for (char *save = NULL, *c = strtok_r(have, " \n", &save); c;
             c = strtok_r(NULL, " \n", &save)) {
                _cleanup_free_ char *plus = xasprintf("+%s", c);
                if ((r = cg_write(h, NULL, "cgroup.subtree_control", plus, err)) < 0)
                        return vessel_error_prefix(err, "%s %s", CGROUP_INNER_ANNOTATION, inner);
        }
        return 0;
}

int cg_inner_make(struct vessel_cgroup *cg, vessel_error **err)
{
        int r;

        if (!cg->inner)
                return 0;
        cg->inner_fd = xmalloc0(cg->n_h * sizeof(int));
        for (size_t i = 0; i < cg->n_h; i++)
                cg->inner_fd[i] = -1;
        for (size_t i = 0; i < cg->n_h; i++) {
                const struct cg_hier *h = &cg->h[i];

                if (h->fd < 0 || !cg_hier_takes_inner(h))
                        continue;
                if (h->v2 && (r = enable_for_children(h, cg->inner, err)) < 0)
                        return r;
                if (mkdirat(h->fd, cg->inner, 0755) < 0 && errno != EEXIST)
                        return vessel_error_sys(err, "mkdir %s/%s", h->dir, cg->inner);
                cg->inner_fd[i] = openat(h->fd, cg->inner, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (cg->inner_fd[i] < 0)
                        return vessel_error_sys(err, "open %s/%s", h->dir, cg->inner);
                if ((r = give_inner(cg, h, cg->inner_fd[i], err)) < 0)
                        return r;
        }
        return 0;
}

int cg_inner_fd(const struct vessel_cgroup *cg, size_t i)
{
        return cg->inner_fd && cg->inner_fd[i] >= 0 ? cg->inner_fd[i] : cg->h[i].fd;
}

void cg_inner_free(struct vessel_cgroup *cg)
{
        for (size_t i = 0; cg->inner_fd && i < cg->n_h; i++)
                if (cg->inner_fd[i] >= 0)
                        close(cg->inner_fd[i]);
        free(cg->inner_fd);
        free(cg->inner);
        cg->inner_fd = NULL;
        cg->inner = NULL;
}

/* The cgroup2 cgroup of pid (0::PATH in /proc/PID/cgroup), opened below
 * the hierarchy's mount point. */
static int open_cgroup_of(const struct cg_hier *h, pid_t pid, vessel_error **err)
{
        _cleanup_free_ char *p = xasprintf("/proc/%d/cgroup", (int)pid), *text = NULL;
        _cleanup_free_ char *dir = NULL;
        char *line;
        int fd;

        if (read_file_at(AT_FDCWD, p, &text, NULL, NULL) < 0)
                return vessel_error_sys(err, "read %s", p);
        line = strstr(text, "0::");
        if (!line || (line != text && line[-1] != '\n'))
                return vessel_error_msg(err, ENOENT, "%s: no cgroup2 line", p);
        line += 3;
        line[strcspn(line, "\n")] = '\0';
        dir = xasprintf("%s%s", h->mountpoint, line);
        fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        return fd < 0 ? vessel_error_sys(err, "open %s", dir) : fd;
}

/* cgroup2, an init with cgroups of its own (systemd): join init's own
 * cgroup, never the root of its tree unless init is there.  systemd moves
 * itself and every process of its root into init.scope, then enables the
 * controllers in its root's subtree_control, which cgroup2 refuses (EBUSY)
 * while a process sits in the root: one exec'd process that joined the
 * root in between, and the units started then (journald) are without
 * memory and pids accounting for good.  Init's cgroup is read again after
 * the move: init moved meanwhile, the process follows it. */
static int join_init_cgroup(const struct cg_hier *h, pid_t init, const char *pid,
                            vessel_error **err)
{
        struct stat joined = {0}, now = {0};
        int r = 0;

        for (int tries = 0; tries < 5; tries++) {
                _cleanup_close_ int fd = open_cgroup_of(h, init, err);

                if (fd < 0)
                        return fd;
                if (tries && fstat(fd, &now) == 0 && now.st_ino == joined.st_ino &&
                    now.st_dev == joined.st_dev)
                        return 0; /* init is still where we are */
                if ((r = cg_write_at(fd, "cgroup.procs", pid)) < 0) {
                        /* init left it (gone or not a leaf any more): again */
                        if (r == -EBUSY || r == -ENOENT)
                                continue;
                        return vessel_error_set(err, -r,
                                                "move pid %s into the cgroup of init %d "
                                                "in %s (cgroup.procs)",
                                                pid, (int)init, h->mountpoint);
                }
                if (fstat(fd, &joined) < 0)
                        return vessel_error_sys(err, "fstat the cgroup of init %d", (int)init);
        }
        if (r < 0)
                return vessel_error_set(err, -r,
                                        "move pid %s into the cgroup of init %d in %s "
                                        "(cgroup.procs): init keeps moving",
                                        pid, (int)init, h->mountpoint);
        return 0;
}

int cgroup_join_exec(const char *state_path, pid_t pid, const char *sub, const char *inner,
                     pid_t init, vessel_error **err)
{
        struct vessel_cgroup *cg = NULL;
        char buf[32];
        int r;

        if (sub && *sub)
                return cgroup_join(state_path, pid, sub, err);
        if (!state_path)
                return 0;
        if ((r = cgroup_open(state_path, &cg, err)) < 0)
                return r;
        snprintf(buf, sizeof(buf), "%d", (int)pid);
        for (size_t i = 0; r == 0 && i < cg->n_h; i++) {
                const struct cg_hier *h = &cg->h[i];
                _cleanup_close_ int fd = -1;

                if (h->fd < 0)
                        continue;
                if (inner && h->v2 && cg->layout == CGROUP_LAYOUT_V2 && init > 0) {
                        r = join_init_cgroup(h, init, buf, err);
                        continue;
                }
                fd = inner && cg_hier_takes_inner(h)
                         ? openat(h->fd, inner, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                         : fcntl(h->fd, F_DUPFD_CLOEXEC, 3);
                if (fd < 0) {
                        r = vessel_error_sys(err, "open %s/%s", h->dir, inner ? inner : "");
                        break;
                }
                r = cg_write_at(fd, "cgroup.procs", buf);
                /* cgroup2 takes no process in a cgroup that gave its
                 * controllers to its children (an init such as systemd
                 * did): join the init's own cgroup there instead, as runc. */
                if (r == -EBUSY && h->v2 && init > 0) {
                        closep(&fd);
                        if ((fd = open_cgroup_of(h, init, err)) < 0) {
                                r = fd;
                                break;
                        }
                        r = cg_write_at(fd, "cgroup.procs", buf);
                }
                if (r < 0)
                        r = vessel_error_set(err, -r, "move pid %d into %s (cgroup.procs)",
                                             (int)pid, h->dir);
        }
        cgroup_free(cg);
        return r;
}
