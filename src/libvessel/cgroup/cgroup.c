/* cgroup.c: the cgroup manager: finding the hierarchies, placing a
 * container in them, and its life cycle (enter, freeze, kill, destroy).
 * Resources are in cgroup-resources.c, stats and OOM events in
 * cgroup-stats.c, the per-layout files in cgroup-v1.c and cgroup-v2.c. */
#include "cgroup-internal.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define CGROUP_ROOT "/sys/fs/cgroup"
#define DESTROY_TIMEOUT_MS 5000

static const char *const v1_names[CG_COUNT] = {
    [CG_CPU] = "cpu",         [CG_CPUACCT] = "cpuacct",   [CG_CPUSET] = "cpuset",
    [CG_MEMORY] = "memory",   [CG_DEVICES] = "devices",   [CG_FREEZER] = "freezer",
    [CG_BLKIO] = "blkio",     [CG_PIDS] = "pids",         [CG_HUGETLB] = "hugetlb",
    [CG_NET_CLS] = "net_cls", [CG_NET_PRIO] = "net_prio", [CG_RDMA] = "rdma",
    [CG_MISC] = "misc",
};
static const char *const v2_names[CG_COUNT] = {
    [CG_CPU] = "cpu",   [CG_CPUSET] = "cpuset",   [CG_MEMORY] = "memory", [CG_BLKIO] = "io",
    [CG_PIDS] = "pids", [CG_HUGETLB] = "hugetlb", [CG_RDMA] = "rdma",     [CG_MISC] = "misc",
};

const char *cg_ctrl_v1_name(enum cg_ctrl c)
{
        return (unsigned)c < CG_COUNT ? v1_names[c] : NULL;
}

const char *cg_ctrl_v2_name(enum cg_ctrl c)
{
        return (unsigned)c < CG_COUNT ? v2_names[c] : NULL;
}

const char *cgroup_layout_name(enum cgroup_layout l)
{
        static const char *const names[] = {"none", "v1", "hybrid", "v2"};
        return (unsigned)l < ARRAY_SIZE(names) ? names[l] : "unknown";
}

/* ------------------------------------------------------- hierarchies */

static int ctrl_by_name(const char *const *names, const char *s, size_t len)
{
        for (int c = 0; c < CG_COUNT; c++)
                if (names[c] && strlen(names[c]) == len && !strncmp(names[c], s, len))
                        return c;
        return -1;
}

static uint32_t v2_mask_of(const char *mountpoint)
{
        _cleanup_free_ char *path = xasprintf("%s/cgroup.controllers", mountpoint), *buf = NULL;
        uint32_t mask = CG_V2_CORE;
        char *save = NULL;

        if (read_file_at(AT_FDCWD, path, &buf, NULL, NULL) < 0)
                return mask;
        for (char *t = strtok_r(buf, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
                int c = ctrl_by_name(v2_names, t, strlen(t));
                if (c >= 0)
                        mask |= CG_BIT(c);
        }
        return mask;
}

static void hier_fill_v1(struct cg_hier *h, char *super)
{
        char *save = NULL;

        for (char *t = strtok_r(super, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                int c = ctrl_by_name(v1_names, t, strlen(t));
                if (c >= 0)
                        h->mask |= CG_BIT(c);
                if (c >= 0 || str_has_prefix(t, "name="))
                        h->options = strv_append(h->options, t);
        }
}

static void hier_clear(struct cg_hier *h)
{
        free(h->mountpoint);
        free(h->name);
        free(h->mnt_root);
        free(h->dir);
        strv_free(h->options);
        closep(&h->fd);
        memset(h, 0, sizeof(*h));
        h->fd = -1;
}

void cg_hiers_free(struct cg_hier *h, size_t n)
{
        for (size_t i = 0; i < n; i++)
                hier_clear(&h[i]);
        free(h);
}

/* Fields 4 (root), 5 (mount point), and after " - ": type and super options. */
static bool mountinfo_fields(char *line, char **root, char **mnt, char **type, char **super)
{
        char *sep = strstr(line, " - "), *save = NULL, *f;
        int i = 0;

        if (!sep)
                return false;
        *sep = '\0';
        for (f = strtok_r(line, " ", &save); f && i < 5; f = strtok_r(NULL, " ", &save), i++) {
                if (i == 3)
                        *root = f;
                if (i == 4)
                        *mnt = f;
        }
        if (i < 5)
                return false;
        save = NULL;
        *type = strtok_r(sep + 3, " ", &save);
        if (!*type || !strtok_r(NULL, " ", &save))
                return false;
        *super = strtok_r(NULL, " ", &save);
        return *super != NULL;
}

static bool under_cgroup_root(const char *mnt)
{
        if (!strcmp(mnt, CGROUP_ROOT))
                return true;
        return str_has_prefix(mnt, CGROUP_ROOT "/") && mnt[sizeof(CGROUP_ROOT)] &&
               !strchr(mnt + sizeof(CGROUP_ROOT), '/');
}

static struct cg_hier *hier_slot(struct cg_hier **h, size_t *n, const char *mnt)
{
        for (size_t i = 0; i < *n; i++)
                if (!strcmp((*h)[i].mountpoint, mnt)) {
                        /* Mounted over: the later mount is what we see. */
                        hier_clear(&(*h)[i]);
                        return &(*h)[i];
                }
        *h = realloc(*h, (*n + 1) * sizeof(**h));
        if (!*h)
                abort();
        memset(&(*h)[*n], 0, sizeof(**h));
        (*h)[*n].fd = -1;
        return &(*h)[(*n)++];
}

static enum cgroup_layout layout_of(const struct cg_hier *h, size_t n)
{
        bool v1 = false, v2 = false;

        for (size_t i = 0; i < n; i++) {
                if (h[i].v2 && !strcmp(h[i].mountpoint, CGROUP_ROOT))
                        return CGROUP_LAYOUT_V2;
                if (h[i].v2)
                        v2 = true;
                else if (h[i].mask)
                        v1 = true;
        }
        if (v1)
                return v2 ? CGROUP_LAYOUT_HYBRID : CGROUP_LAYOUT_V1;
        return v2 ? CGROUP_LAYOUT_V2 : CGROUP_LAYOUT_NONE;
}

/* The hierarchies do not change under a runtime command: they are read
 * from mountinfo once per process (and inherited by the init, which forks
 * before its mounts), then handed out as copies. */
static struct {
        bool valid;
        struct cg_hier *h;
        size_t n;
        enum cgroup_layout layout;
} hiers_cache;

static struct cg_hier *hiers_copy(const struct cg_hier *src, size_t n)
{
        struct cg_hier *h = xmalloc0((n ? n : 1) * sizeof(*h));

        for (size_t i = 0; i < n; i++) {
                h[i] = src[i];
                h[i].mountpoint = xstrdup(src[i].mountpoint);
                h[i].name = xstrdup(src[i].name);
                h[i].mnt_root = xstrdup(src[i].mnt_root);
                h[i].options = src[i].options ? strv_copy(src[i].options) : NULL;
                h[i].dir = NULL;
                h[i].fd = -1;
        }
        return h;
}

static int hiers_parse(struct cg_hier **out, size_t *n, enum cgroup_layout *layout,
                       vessel_error **err);

int cg_hiers_read(struct cg_hier **out, size_t *n, enum cgroup_layout *layout, vessel_error **err)
{
        int r;

        if (!hiers_cache.valid) {
                r = hiers_parse(&hiers_cache.h, &hiers_cache.n, &hiers_cache.layout, err);
                if (r < 0) {
                        *out = NULL;
                        *n = 0;
                        return r;
                }
                hiers_cache.valid = true;
        }
        *out = hiers_copy(hiers_cache.h, hiers_cache.n);
        *n = hiers_cache.n;
        *layout = hiers_cache.layout;
        return 0;
}

static int hiers_parse(struct cg_hier **out, size_t *n, enum cgroup_layout *layout,
                       vessel_error **err)
{
        _cleanup_free_ char *info = NULL;
        struct cg_hier *h = NULL;
        size_t cnt = 0;
        char *line, *save = NULL;
        int r;

        *out = NULL;
        *n = 0;
        if ((r = read_file_at(AT_FDCWD, "/proc/self/mountinfo", &info, NULL, err)) < 0)
                return r;
        for (line = strtok_r(info, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
                char *root = NULL, *mnt = NULL, *type = NULL, *super = NULL;
                struct cg_hier *x;

                if (!mountinfo_fields(line, &root, &mnt, &type, &super) || !under_cgroup_root(mnt))
                        continue;
                if (strcmp(type, "cgroup") && strcmp(type, "cgroup2"))
                        continue;
                x = hier_slot(&h, &cnt, mnt);
                x->mountpoint = xstrdup(mnt);
                x->name = xstrdup(strcmp(mnt, CGROUP_ROOT) ? mnt + sizeof(CGROUP_ROOT) : "");
                x->mnt_root = xstrdup(root);
                x->v2 = !strcmp(type, "cgroup2");
                if (x->v2)
                        x->mask = v2_mask_of(mnt);
                else
                        hier_fill_v1(x, super);
        }
        /* A v2 mount over /sys/fs/cgroup hides whatever was below it. */
        *layout = layout_of(h, cnt);
        if (*layout == CGROUP_LAYOUT_V2) {
                for (size_t i = 0; i < cnt; i++) {
                        if (!h[i].v2 || strcmp(h[i].mountpoint, CGROUP_ROOT))
                                continue;
                        struct cg_hier keep = h[i];
                        h[i].mountpoint = h[i].name = h[i].mnt_root = NULL;
                        h[i].options = NULL;
                        cg_hiers_free(h, cnt);
                        h = xmalloc0(sizeof(*h));
                        h[0] = keep;
                        cnt = 1;
                        break;
                }
        }
        *out = h;
        *n = cnt;
        return 0;
}

int cgroup_detect(enum cgroup_layout *out, vessel_error **err)
{
        struct cg_hier *h;
        size_t n;
        int r = cg_hiers_read(&h, &n, out, err);

        cg_hiers_free(h, n);
        return r;
}

/* The hierarchy that serves c: a v1 one, else cgroup2. */
static struct cg_hier *hier_serving(struct cg_hier *h, size_t n, enum cg_ctrl c)
{
        struct cg_hier *v2 = NULL;

        for (size_t i = 0; i < n; i++) {
                if (!(h[i].mask & CG_BIT(c)))
                        continue;
                if (!h[i].v2)
                        return &h[i];
                v2 = &h[i];
        }
        return v2;
}

struct cg_hier *cg_hier_of(const struct vessel_cgroup *cg, enum cg_ctrl c)
{
        struct cg_hier *h = hier_serving(cg->h, cg->n_h, c);
        return h && h->fd >= 0 ? h : NULL;
}

/* ------------------------------------------------------------- files */

bool cg_has(const struct cg_hier *h, const char *file)
{
        return faccessat(h->fd, file, F_OK, 0) == 0;
}

int cg_write_at(int dirfd, const char *file, const char *val)
{
        _cleanup_close_ int fd = openat(dirfd, file, O_WRONLY | O_CLOEXEC);
        ssize_t n;

        if (fd < 0)
                return -errno;
        /* One write(2): cgroup files take a value per write. */
        n = write(fd, val, strlen(val));
        if (n < 0)
                return -errno;
        return (size_t)n == strlen(val) ? 0 : -EIO;
}

int cg_write(const struct cg_hier *h, const char *what, const char *file, const char *val,
             vessel_error **err)
{
        int r = cg_write_at(h->fd, file, val);

        if (r == 0)
                return 0;
        if (r == -ENOENT)
                return vessel_error_msg(err, ENOENT,
                                        "%s%s%s/%s: not supported by this kernel (no such "
                                        "cgroup file)",
                                        what ? what : "", what ? ": " : "", h->dir, file);
        return vessel_error_set(err, -r, "%s%swrite \"%s\" to %s/%s", what ? what : "",
                                what ? ": " : "", val, h->dir, file);
}

int cg_writef(const struct cg_hier *h, const char *what, const char *file, vessel_error **err,
              const char *fmt, ...)
{
        _cleanup_free_ char *val = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&val, fmt, ap) < 0)
                abort();
        va_end(ap);
        return cg_write(h, what, file, val, err);
}

int cg_write_cpuset(const struct cg_hier *h, const struct vessel_resources *r, vessel_error **err)
{
        int rc;

        if (r->cpu.cpus &&
            (rc = cg_write(h, "linux.resources.cpu.cpus", "cpuset.cpus", r->cpu.cpus, err)) < 0)
                return rc;
        if (r->cpu.mems &&
            (rc = cg_write(h, "linux.resources.cpu.mems", "cpuset.mems", r->cpu.mems, err)) < 0)
                return rc;
        return 0;
}

int cg_write_hugetlb(const struct cg_hier *h, const struct vessel_resources *r, const char *suffix,
                     vessel_error **err)
{
        for (size_t i = 0; i < r->n_hugepage_limits; i++) {
                const struct vessel_hugepage_limit *l = &r->hugepage_limits[i];
                _cleanup_free_ char *file = xasprintf("hugetlb.%s.%s", l->page_size, suffix);
                _cleanup_free_ char *what = xasprintf("linux.resources.hugepageLimits[%zu]", i);
                int rc = cg_writef(h, what, file, err, "%" PRIu64, l->limit);
                if (rc < 0)
                        return rc;
        }
        return 0;
}

int cg_read(const struct cg_hier *h, const char *file, char **out, vessel_error **err)
{
        size_t len;
        int r = read_file_at(h->fd, file, out, &len, NULL);

        if (r < 0)
                return vessel_error_set(err, -r, "read %s/%s", h->dir, file);
        while (len && (*out)[len - 1] == '\n')
                (*out)[--len] = '\0';
        return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
        char *end;

        if (!strncmp(s, "max", 3) && (!s[3] || s[3] == '\n')) {
                *out = UINT64_MAX;
                return 0;
        }
        if (*s == '-') { /* v1 reports "no limit" as -1 in some files */
                *out = UINT64_MAX;
                return 0;
        }
        errno = 0;
        *out = strtoull(s, &end, 10);
        if (errno || end == s || (*end && *end != '\n' && *end != ' '))
                return -EINVAL;
        return 0;
}

int cg_read_u64(const struct cg_hier *h, const char *file, uint64_t *out)
{
        _cleanup_free_ char *buf = NULL;
        int r = read_file_at(h->fd, file, &buf, NULL, NULL);

        if (r < 0)
                return r;
        return parse_u64(buf, out);
}

int cg_read_key(const struct cg_hier *h, const char *file, const char *key, uint64_t *out)
{
        _cleanup_free_ char *buf = NULL;
        size_t klen = strlen(key);
        int r = read_file_at(h->fd, file, &buf, NULL, NULL);

        if (r < 0)
                return r;
        for (char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (!strncmp(l, key, klen) && l[klen] == ' ')
                        return parse_u64(l + klen + 1, out);
        return -ENOENT;
}

int cg_unsupported(const struct cg_hier *h, const char *what, const char *file, vessel_error **err)
{
        return vessel_error_msg(err, EOPNOTSUPP, "%s: not supported with cgroup %s (%s has no %s)",
                                what, h->v2 ? "v2" : "v1", h->dir, file);
}

/* -------------------------------------------------------------- procs */

struct pid_vec {
        pid_t *v;
        size_t n, cap;
};

static void collect_pids(int cgfd, struct pid_vec *pv, int depth)
{
        _cleanup_free_ char *buf = NULL;
        char *save = NULL;
        DIR *d;
        struct dirent *de;
        int fd;

        if (read_file_at(cgfd, "cgroup.procs", &buf, NULL, NULL) == 0) {
                for (char *t = strtok_r(buf, "\n", &save); t; t = strtok_r(NULL, "\n", &save)) {
                        int64_t p;
                        if (parse_int64(t, &p) < 0 || p <= 0)
                                continue;
                        if (pv->n == pv->cap) {
                                pv->cap = pv->cap ? pv->cap * 2 : 32;
                                pv->v = realloc(pv->v, pv->cap * sizeof(*pv->v));
                                if (!pv->v)
                                        abort();
                        }
                        pv->v[pv->n++] = (pid_t)p;
                }
        }
        if (depth > 64 || (fd = openat(cgfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                return;
        if (!(d = fdopendir(fd))) {
                close(fd);
                return;
        }
        while ((de = readdir(d))) {
                _cleanup_close_ int sub = -1;
                if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
                        continue;
                sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (sub >= 0)
                        collect_pids(sub, pv, depth + 1);
        }
        closedir(d);
}

/* ---------------------------------------------------------- delegation */

/* May the caller manage this cgroup (path relative to the mount open as
 * *data): make children in it and move processes into it?  Checked with
 * the effective ids, as the kernel will. */
static bool cgroup_writable(const char *path, void *data)
{
        const int *mntfd = data;
        _cleanup_free_ char *procs = cgroup_path_join(path, "cgroup.procs");

        return faccessat(*mntfd, *path ? path : ".", W_OK | X_OK, AT_EACCESS) == 0 &&
               faccessat(*mntfd, procs, W_OK, AT_EACCESS) == 0;
}

/* The delegation root of a non-root caller in the cgroup2 hierarchy u,
 * relative to its mount: the topmost writable cgroup above (or at) the
 * caller's own.  -EACCES, saying why, when the caller's own cgroup is not
 * writable: nothing is delegated to it. */
static int find_delegation(const struct cg_hier *u, char **deleg, vessel_error **err)
{
        _cleanup_free_ char *proc = NULL, *own = NULL;
        _cleanup_close_ int fd = -1;
        int r;

        *deleg = NULL;
        if ((r = read_file_at(AT_FDCWD, "/proc/self/cgroup", &proc, NULL, err)) < 0)
                return r;
        if (cgroup_v2_own_path(proc, u->mnt_root, &own) < 0)
                return vessel_error_msg(err, EACCES,
                                        "vessel's own cgroup (\"0::\" in /proc/self/cgroup) is not "
                                        "visible in %s",
                                        u->mountpoint);
        fd = open(u->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
                return vessel_error_sys(err, "open %s", u->mountpoint);
        *deleg = cgroup_delegation_root(own, cgroup_writable, &fd);
        if (!*deleg)
                return vessel_error_msg(err, EACCES,
                                        "vessel's own cgroup %s%s%s is not writable (no delegated "
                                        "cgroup v2 subtree)",
                                        u->mountpoint, *own ? "/" : "", own);
        return 0;
}

bool cgroup_rootless_undelegated(void)
{
        struct cg_hier *h = NULL;
        enum cgroup_layout layout;
        size_t n = 0;
        bool none = true;

        if (geteuid() == 0)
                return false;
        if (cg_hiers_read(&h, &n, &layout, NULL) == 0)
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *deleg = NULL;
                        if (h[i].v2 && find_delegation(&h[i], &deleg, NULL) == 0)
                                none = false;
                }
        cg_hiers_free(h, n);
        return none;
}

/* Keep only the cgroup2 hierarchy: a rootless container on a hybrid host
 * has a cgroup there alone (the v1 hierarchies are not delegated), so the
 * v2 back end serves what cgroup2 offers (freeze, kill, hugetlb...). */
static void keep_only_unified(struct vessel_cgroup *cg)
{
        struct cg_hier *one;

        if (!cg->unified || cg->n_h == 1)
                return;
        one = xmalloc0(sizeof(*one));
        *one = *cg->unified;
        memset(cg->unified, 0, sizeof(*cg->unified));
        cg->unified->fd = -1;
        cg_hiers_free(cg->h, cg->n_h);
        cg->h = one;
        cg->n_h = 1;
        cg->unified = one;
}

/* A container that has a cgroup in cgroup2 and in no v1 hierarchy (a
 * rootless one on a hybrid host) is served by cgroup2 alone. */
static void only_unified_if_alone(struct vessel_cgroup *cg)
{
        for (size_t i = 0; i < cg->n_h; i++)
                if (!cg->h[i].v2 && cg->h[i].fd >= 0)
                        return;
        keep_only_unified(cg);
}

/* A non-root caller with a delegated subtree: the container's cgroup goes
 * below it, and every controller its resources need must be delegated. */
static int place_delegated(struct vessel_cgroup *cg, const struct vessel_spec *spec, const char *id,
                           vessel_error **err)
{
        _cleanup_free_ char *path = NULL, *dir = NULL;
        _cleanup_close_ int fd = -1;
        uint32_t need;
        int r;

        if ((r = find_delegation(cg->unified, &cg->deleg, err)) < 0)
                return r;
        if ((r = cgroup_path_delegated(spec->linux_.cgroups_path, id, cg->deleg, &path, err)) < 0)
                return r;
        free(cg->path);
        cg->path = steal_ptr(&path);
        keep_only_unified(cg);
        need = cg_v2_needed(&spec->linux_.resources) & cg->unified->mask;
        dir = *cg->deleg ? xasprintf("%s/%s", cg->unified->mountpoint, cg->deleg)
                         : xstrdup(cg->unified->mountpoint);
        if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                return vessel_error_sys(err, "open %s", dir);
        return cg_v2_check_delegated(fd, dir, need, err);
}

/* -------------------------------------------------------------- create */

void cgroup_free(struct vessel_cgroup *cg)
{
        if (!cg)
                return;
        cg_inner_free(cg);
        cg_hiers_free(cg->h, cg->n_h);
        free(cg->path);
        free(cg->deleg);
        free(cg);
}

static void set_unified(struct vessel_cgroup *cg)
{
        cg->unified = NULL;
        for (size_t i = 0; i < cg->n_h; i++)
                if (cg->h[i].v2)
                        cg->unified = &cg->h[i];
}

/* Rootless, at a cgroup of the delegated subtree that has processes of
 * its own (the caller may run in its delegation root): no controller may
 * be enabled there.  Domain controllers would fail (the no-internal-process
 * rule), and threaded ones (cpu, pids) would succeed and make it a thread
 * root, below which the container's cgroup could take no process.  So none
 * is enabled, and one that the resources need is an error.  Returns 1 when
 * the cgroup has no process (enable as usual), 0 when it has and nothing is
 * needed. */
static int may_enable_at(int fd, const char *dir, uint32_t need, vessel_error **err)
{
        _cleanup_free_ char *procs = NULL, *names = xstrdup("");

        if (read_file_at(fd, "cgroup.procs", &procs, NULL, NULL) < 0 || !*procs)
                return 1;
        if (!need)
                return 0;
        for (int c = 0; c < CG_COUNT; c++)
                if ((need & CG_BIT(c)) && cg_ctrl_v2_name(c)) {
                        char *t = xasprintf("%s%s%s", names, *names ? " " : "", cg_ctrl_v2_name(c));
                        free(names);
                        names = t;
                }
        return vessel_error_msg(err, EBUSY,
                                "cannot enable %s in %s/cgroup.subtree_control: "
                                "%s has processes of its own (cgroup v2 lets no controller be "
                                "enabled for the children of a cgroup with processes): run vessel "
                                "from a leaf cgroup below it",
                                names, dir, dir);
}

/* Create path (every missing component) in one hierarchy; *created is how
 * many trailing components this made.  For a rootless caller, skip >= 0:
 * the first 'skip' components (down to its delegation root) are only
 * opened, neither made nor given controllers; else skip is -1. */
static int path_depth(const char *p);

static int hier_make_once(struct cg_hier *h, const char *path, int skip, uint32_t want,
                          uint32_t need, int *created, vessel_error **err)
{
        _cleanup_free_ char *copy = xstrdup(path), *at = xstrdup(h->mountpoint);
        _cleanup_close_ int fd = open(h->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        char *save = NULL;
        int depth = 0, first_new = -1, r;

        if (fd < 0)
                return vessel_error_sys(err, "open %s", h->mountpoint);
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save), depth++) {
                _cleanup_close_ int child = -1;
                char *next;

                if (h->v2 && depth >= skip) {
                        r = skip >= 0 ? may_enable_at(fd, at, need, err) : 1;
                        if (r > 0)
                                r = cg_v2_enable_at(fd, at, want, need, err);
                        if (r < 0)
                                return r;
                }
                next = xasprintf("%s/%s", at, c);
                free(at);
                at = next;
                if (depth < skip) {
                        /* Above the delegation root: there already. */
                } else if (mkdirat(fd, c, 0755) == 0) {
                        if (first_new < 0)
                                first_new = depth;
                        /* Known to the caller even if a later step fails:
                         * everything from here down is ours to remove. */
                        *created = path_depth(path) - first_new;
                } else if (errno != EEXIST) {
                        return vessel_error_sys(err, "mkdir %s", at);
                }
                child = openat(fd, c, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
                if (child < 0)
                        return vessel_error_sys(err, "open %s", at);
                if (!h->v2 && depth >= skip && (h->mask & CG_BIT(CG_CPUSET)) &&
                    (r = cg_v1_cpuset_init(fd, child, at, err)) < 0)
                        return r;
                closep(&fd);
                fd = steal_fd(&child);
        }
        *created = first_new < 0 ? 0 : depth - first_new;
        h->fd = steal_fd(&fd);
        h->dir = steal_ptr(&at);
        return 0;
}

/* A parent can vanish while we descend: the last container in vessel/
 * removes it on delete (an rmdir that only succeeds when it is empty).
 * Then mkdir or open fails with ENOENT, and the path is made again. */
static int hier_make(struct cg_hier *h, const char *path, int skip, uint32_t want, uint32_t need,
                     int *created, vessel_error **err)
{
        int r = 0;

        for (int attempt = 0; attempt < 8; attempt++) {
                int made = 0;

                if (attempt)
                        vessel_error_free(err);
                r = hier_make_once(h, path, skip, want, need, &made, err);
                if (made > *created)
                        *created = made;
                if (r != -ENOENT)
                        break;
        }
        return r;
}

int cg_v2_enable_path(const struct vessel_cgroup *cg, uint32_t need, vessel_error **err)
{
        const char *p = cg->path, *end = p, *slash;
        int r;

        if (!cg->unified || !need)
                return 0;
        /* The root, then every parent of the container's cgroup. */
        for (;;) {
                const char *mnt = cg->unified->mountpoint;
                _cleanup_free_ char *dir =
                    end == p ? xstrdup(mnt) : xasprintf("%s/%.*s", mnt, (int)(end - 1 - p), p);
                _cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

                if (fd < 0)
                        return vessel_error_sys(err, "open %s", dir);
                if ((r = cg_v2_enable_at(fd, dir, need, need, err)) < 0)
                        return r;
                if (!(slash = strchr(end, '/')))
                        return 0;
                end = slash + 1;
        }
}

/* Remove a cgroup and the cgroups the container made below it. */
static int rmdir_tree(int parentfd, const char *name)
{
        _cleanup_close_ int fd =
            openat(parentfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        DIR *d;
        struct dirent *de;

        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        d = fdopendir(steal_fd(&fd));
        if (!d)
                return -errno;
        while ((de = readdir(d)))
                if (de->d_type == DT_DIR && strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
                        rmdir_tree(dirfd(d), de->d_name);
        closedir(d);
        if (unlinkat(parentfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

/* path with its last k components removed, or NULL when none is left. */
static char *path_parent(const char *path, int k)
{
        _cleanup_free_ char *p = xstrdup(path);

        while (k-- > 0) {
                char *slash = strrchr(p, '/');
                if (!slash)
                        return NULL;
                *slash = '\0';
        }
        return steal_ptr(&p);
}

/* Remove the container's cgroup in h, with the cgroups below it. */
static int remove_leaf_in(const struct cg_hier *h, const char *path)
{
        _cleanup_free_ char *full = xasprintf("%s/%s", h->mountpoint, path);
        _cleanup_close_ int root = -1;

        /* Mostly the leaf is all there is: one rmdir.  Walk the tree only
         * when the container made cgroups below it. */
        if (rmdir(full) == 0 || errno == ENOENT)
                return 0;
        if (errno != EBUSY && errno != ENOTEMPTY)
                return -errno;
        if ((root = open(h->mountpoint, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
                return -errno;
        return rmdir_tree(root, path);
}

/* Remove the leaf in every hierarchy; returns the first error. */
static int remove_leaf(struct vessel_cgroup *cg, size_t *busy_at)
{
        int first = 0;

        for (size_t i = 0; i < cg->n_h; i++) {
                int r = remove_leaf_in(&cg->h[i], cg->path);
                if (r < 0 && !first) {
                        first = r;
                        *busy_at = i;
                }
        }
        return first;
}

/* The parents that create made in h, from the deepest up, if nothing else
 * uses them: one that stays (EBUSY, ENOTEMPTY: another container's) keeps
 * the ones above it too. */
static void remove_parents_in(const struct cg_hier *h, const char *path)
{
        for (int k = 1; k <= cg_own_parents(h); k++) {
                _cleanup_free_ char *p = path_parent(path, k);
                _cleanup_free_ char *full = p ? xasprintf("%s/%s", h->mountpoint, p) : NULL;

                if (!full || (rmdir(full) < 0 && errno != ENOENT))
                        break;
        }
}

/* Each hierarchy's own parents: never one that was there before in that
 * hierarchy, even if create made the same path in another. */
static void remove_owned_parents(struct vessel_cgroup *cg)
{
        for (size_t i = 0; i < cg->n_h; i++)
                remove_parents_in(&cg->h[i], cg->path);
}

/* A failed create: remove, hierarchy by hierarchy, only what it made
 * there (nothing has entered the cgroups yet). */
static void remove_made(struct vessel_cgroup *cg)
{
        for (size_t i = 0; i < cg->n_h; i++)
                if (cg->h[i].owned > 0 && remove_leaf_in(&cg->h[i], cg->path) == 0)
                        remove_parents_in(&cg->h[i], cg->path);
}

/* Did create make the container's cgroup in any hierarchy? */
static bool owned_anywhere(const struct vessel_cgroup *cg)
{
        for (size_t i = 0; i < cg->n_h; i++)
                if (cg->h[i].owned > 0)
                        return true;
        return false;
}

static void sleep_ms(long ms)
{
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

static char *pid_list_text(const struct vessel_cgroup *cg)
{
        pid_t *pids = NULL;
        size_t n = 0;
        char *s = xstrdup("");

        if (cgroup_pids(cg, &pids, &n, NULL) < 0 || n == 0) {
                free(pids);
                return s;
        }
        for (size_t i = 0; i < n && i < 16; i++) {
                char *t = xasprintf("%s%s%d", s, i ? " " : "; pids: ", (int)pids[i]);
                free(s);
                s = t;
        }
        free(pids);
        return s;
}

static int pid_ns_of(pid_t pid, ino_t *ino)
{
        char p[64];
        struct stat sb;

        snprintf(p, sizeof(p), "/proc/%d/ns/pid", (int)pid);
        if (stat(p, &sb) < 0)
                return -errno;
        *ino = sb.st_ino;
        return 0;
}

/* What is left in a cgroup once the container's init is gone: processes
 * in the runtime's pid namespace are the container's (it had none of its
 * own) and are killed; those of other pid namespaces are not ours (a
 * container with a pid namespace loses every process with its init):
 * another container that shares the cgroup.  Returns how many of those. */
static size_t kill_leftovers(struct vessel_cgroup *cg)
{
        pid_t *pids = NULL;
        size_t n = 0, foreign = 0;
        ino_t self, ns;

        if (pid_ns_of(getpid(), &self) < 0 || cgroup_pids(cg, &pids, &n, NULL) < 0)
                return 0;
        for (size_t i = 0; i < n; i++) {
                if (pid_ns_of(pids[i], &ns) < 0)
                        continue;
                if (ns == self)
                        kill(pids[i], SIGKILL);
                else
                        foreign++;
        }
        free(pids);
        return foreign;
}

int cgroup_destroy(struct vessel_cgroup *cg, vessel_error **err)
{
        size_t busy_at = 0, foreign = 0;
        long waited = 0, step = 5;
        int r;

        if (!cg || cg->disabled || !cg->path)
                return 0;
        /* A cgroup that was there before: removed if nobody uses it. */
        if (!owned_anywhere(cg)) {
                remove_leaf(cg, &busy_at);
                return 0;
        }
        /* Thaw (a frozen v1 task cannot die), kill what is ours, and retry
         * while the kernel finishes tearing tasks down. */
        while ((r = remove_leaf(cg, &busy_at)) == -EBUSY && waited < DESTROY_TIMEOUT_MS) {
                if (cgroup_is_frozen(cg) == 1)
                        cgroup_freeze(cg, false, NULL);
                foreign = kill_leftovers(cg);
                /* Live processes of another pid namespace after a second:
                 * another container's; the last one out removes the cgroup. */
                if (foreign && waited >= 1000)
                        return 0;
                sleep_ms(step);
                waited += step;
                step = step < 100 ? step * 2 : 100;
        }
        if (r < 0) {
                _cleanup_free_ char *pids = pid_list_text(cg);
                if (r == -EBUSY)
                        return vessel_error_set(
                            err, EBUSY, "cgroup %s/%s is still in use after %d s%s",
                            cg->h[busy_at].mountpoint, cg->path, DESTROY_TIMEOUT_MS / 1000, pids);
                return vessel_error_set(err, -r, "remove cgroup %s/%s", cg->h[busy_at].mountpoint,
                                        cg->path);
        }
        remove_owned_parents(cg);
        return 0;
}

/* On v2 every controller is enabled down to the container, as runc does,
 * so that its files are there for stats and updates; on a hybrid host only
 * what the resources need, to leave the host's cgroup2 as it is. */
/* Has the cgroup (or one below it) a process? */
static bool populated(int fd)
{
        struct pid_vec pv = {0};

        collect_pids(fd, &pv, 0);
        free(pv.v);
        return pv.n > 0;
}

static int path_depth(const char *p)
{
        int n = *p ? 1 : 0;

        for (; *p; p++)
                n += *p == '/';
        return n;
}

static int make_all(struct vessel_cgroup *cg, bool own_leaf, uint32_t needed, vessel_error **err)
{
        uint32_t avail = cg->unified ? cg->unified->mask : 0, need = needed & avail;
        /* A delegated subtree is the user's: everything it offers, as on v2. */
        uint32_t want = cg->layout == CGROUP_LAYOUT_V2 || cg->deleg ? avail : need;
        int skip = cg->deleg ? path_depth(cg->deleg) : -1;

        for (size_t i = 0; i < cg->n_h; i++) {
                struct cg_hier *h = &cg->h[i];
                int r = hier_make(h, cg->path, skip, want, need, &h->owned, err);

                /* What was made so far (h->owned) is removed by the caller. */
                if (r < 0)
                        return vessel_error_prefix(err, "linux.cgroupsPath");
                /* The default path is the id's: the same id under another
                 * --root must not share (and later kill) it. */
                if (own_leaf && !h->owned && populated(h->fd))
                        return vessel_error_msg(err, EBUSY,
                                                "cgroup %s already has processes: a container with "
                                                "the same id under another --root? (give "
                                                "linux.cgroupsPath)",
                                                h->dir);
        }
        /* A default path is unique to the container id: a leftover leaf is
         * from a crashed create, and ours to remove; its parent vessel/ is
         * the runtime's own, removed by whichever delete leaves it empty
         * (rmdir fails while another container is in it).  Only once every
         * hierarchy is made: a failure above undoes just what it made. */
        for (size_t i = 0; own_leaf && i < cg->n_h; i++)
                if (cg->h[i].owned < 2)
                        cg->h[i].owned = 2;
        return 0;
}

/* How many trailing levels of the path make_all would create in h: those
 * missing there.  Recorded per hierarchy before anything is made, so that a
 * create killed half-way leaves nothing a delete cannot find, and nothing
 * that a delete would take for its own where it was there before. */
static int planned_owned(const struct vessel_cgroup *cg, const struct cg_hier *h, bool own_leaf)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", h->mountpoint, cg->path);
        int depth = path_depth(cg->path), missing = 0;
        char *slash;

        while (missing < depth && access(p, F_OK) < 0) {
                missing++;
                if (!(slash = strrchr(p, '/')))
                        break;
                *slash = '\0';
        }
        /* Nothing at or above the delegation root is ever made. */
        if (cg->deleg && missing > depth - path_depth(cg->deleg))
                missing = depth - path_depth(cg->deleg);
        return own_leaf && missing < 2 ? 2 : missing;
}

int cgroup_plan(const struct vessel_spec *spec, const char *id, const char *manager,
                struct vessel_cgroup **out, vessel_error **err)
{
        const char *given = spec->linux_.cgroups_path;
        struct vessel_cgroup *cg = xmalloc0(sizeof(*cg));
        int r;

        *out = NULL;
        if ((manager && !strcmp(manager, "disabled"))) {
                cg->disabled = true;
                *out = cg;
                return 0;
        }
        if ((r = cgroup_path_normalize(given, id, &cg->path, err)) < 0 ||
            (r = cg_hiers_read(&cg->h, &cg->n_h, &cg->layout, err)) < 0) {
                cgroup_free(cg);
                return r;
        }
        set_unified(cg);
        if (cg->layout == CGROUP_LAYOUT_NONE) {
                cgroup_free(cg);
                return vessel_error_msg(err, ENOENT,
                                        "no cgroup file system is mounted on %s (use "
                                        "--cgroup-manager disabled to run without cgroups)",
                                        CGROUP_ROOT);
        }
        /* Rootless: only a delegated cgroup2 subtree is ours to use (on
         * cgroup v1 the old rules, and their EACCES, apply). */
        cg->rootless = geteuid() != 0;
        if (cg->rootless && cg->unified && (r = place_delegated(cg, spec, id, err)) < 0) {
                cgroup_free(cg);
                return r;
        }
        cg->own_leaf = !given || !*given;
        for (size_t i = 0; i < cg->n_h; i++)
                cg->h[i].owned = planned_owned(cg, &cg->h[i], cg->own_leaf);
        cg_inner_plan(cg, spec);
        *out = cg;
        return 0;
}

int cgroup_make(struct vessel_cgroup *cg, const struct vessel_spec *spec, vessel_error **err)
{
        int r;

        if (!cg || cg->disabled)
                return 0;
        /* From here on what each hierarchy really made, not the plan. */
        for (size_t i = 0; i < cg->n_h; i++)
                cg->h[i].owned = 0;
        r = make_all(cg, cg->own_leaf, cg_v2_needed(&spec->linux_.resources), err);
        if (r == 0)
                r = cg_apply(cg, &spec->linux_.resources, false, err);
        if (r == 0)
                r = cg_inner_make(cg, err);
        if (r < 0) {
                /* Undo: nothing entered the cgroups yet, and nothing that
                 * another container may have put there is killed. */
                remove_made(cg);
                cg->disabled = true;
        }
        return r;
}

int cgroup_clone_fd(const struct vessel_cgroup *cg)
{
        if (!cg || cg->disabled || cg->layout != CGROUP_LAYOUT_V2 || !cg->unified)
                return -1;
        return cg_inner_fd(cg, (size_t)(cg->unified - cg->h));
}

int cgroup_enter(const struct vessel_cgroup *cg, pid_t pid, vessel_error **err)
{
        char buf[32];

        if (!cg || cg->disabled)
                return 0;
        snprintf(buf, sizeof(buf), "%d", (int)pid);
        for (size_t i = 0; i < cg->n_h; i++) {
                int r;
                if (cg->h[i].fd < 0)
                        continue;
                if ((r = cg_write_at(cg_inner_fd(cg, i), "cgroup.procs", buf)) < 0)
                        return vessel_error_set(err, -r, "move pid %d into %s (cgroup.procs)",
                                                (int)pid, cg->h[i].dir);
        }
        return 0;
}

/* runc's exec --cgroup: "PATH" for every hierarchy, or
 * "CONTROLLER[,CONTROLLER...]:PATH" for the hierarchies of those
 * controllers.  The sub-path for h ("" = the container's own cgroup). */
static const char *sub_path(const struct cg_hier *h, const char *sub)
{
        const char *colon = strchr(sub, ':');
        size_t len;

        if (!colon)
                return sub;
        for (const char *c = sub; c < colon; c += len + (c[len] == ',')) {
                len = strcspn(c, ",:");
                int id = ctrl_by_name(h->v2 ? v2_names : v1_names, c, len);
                if (id >= 0 && (h->mask & CG_BIT(id)))
                        return colon + 1;
        }
        return "";
}

static int check_sub(const char *sub, vessel_error **err)
{
        const char *colon = strchr(sub, ':'), *p = colon ? colon + 1 : sub;

        if (!*p || *p == '/' || strstr(p, "..") || (colon && colon == sub))
                return vessel_error_msg(err, EINVAL,
                                        "--cgroup \"%s\": a path below the container's cgroup "
                                        "(PATH or CONTROLLER[,CONTROLLER]:PATH)",
                                        sub);
        return 0;
}

int cgroup_enter_sub(const struct vessel_cgroup *cg, pid_t pid, const char *sub, vessel_error **err)
{
        char buf[32];
        int r;

        if (!sub || !*sub)
                return cgroup_enter(cg, pid, err);
        if (!cg || cg->disabled)
                return vessel_error_msg(err, EOPNOTSUPP, "--cgroup %s: the container has no cgroup",
                                        sub);
        if ((r = check_sub(sub, err)) < 0)
                return r;
        snprintf(buf, sizeof(buf), "%d", (int)pid);
        /* Check every hierarchy first: a missing sub-cgroup moves nothing. */
        for (int pass = 0; pass < 2; pass++) {
                for (size_t i = 0; i < cg->n_h; i++) {
                        const struct cg_hier *h = &cg->h[i];
                        const char *path = sub_path(h, sub);
                        _cleanup_close_ int fd = -1;

                        if (h->fd < 0)
                                continue;
                        fd = *path ? openat(h->fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                                   : fcntl(h->fd, F_DUPFD_CLOEXEC, 3);
                        if (fd < 0)
                                return vessel_error_sys(err, "--cgroup %s: %s/%s", sub, h->dir,
                                                        path);
                        if (pass == 1 && (r = cg_write_at(fd, "cgroup.procs", buf)) < 0)
                                return vessel_error_set(err, -r,
                                                        "--cgroup %s: move pid %d into %s/%s", sub,
                                                        (int)pid, h->dir, path);
                }
        }
        return 0;
}

int cgroup_join(const char *state_path, pid_t pid, const char *sub, vessel_error **err)
{
        struct vessel_cgroup *cg = NULL;
        int r = 0;

        if (!state_path && (!sub || !*sub))
                return 0;
        if (state_path)
                r = cgroup_open(state_path, &cg, err);
        if (r == 0)
                r = cgroup_enter_sub(cg, pid, sub, err);
        cgroup_free(cg);
        return r;
}

char *cgroup_state_path(const struct vessel_cgroup *cg)
{
        struct cgroup_state st = {.path = cg ? cg->path : NULL};
        char *s;

        if (!cg || cg->disabled || !cg->path)
                return NULL;
        /* One hierarchy (v2, rootless): the plain form older versions read. */
        if (cg->n_h == 1) {
                st.owned = cg->h[0].owned;
                return cgroup_state_encode(&st);
        }
        st.own = xmalloc0(cg->n_h * sizeof(*st.own));
        for (size_t i = 0; i < cg->n_h; i++)
                st.own[st.n_own++] = (struct cgroup_state_own){cg->h[i].name, cg->h[i].owned};
        s = cgroup_state_encode(&st);
        free(st.own);
        return s;
}

int cgroup_open(const char *state_path, struct vessel_cgroup **out, vessel_error **err)
{
        struct vessel_cgroup *cg = xmalloc0(sizeof(*cg));
        struct cgroup_state st;
        int r;

        *out = NULL;
        if (cgroup_state_decode(state_path, &st) < 0) {
                cgroup_free(cg);
                return vessel_error_msg(err, EINVAL, "state.json: invalid cgroupPath \"%s\"",
                                        state_path ? state_path : "");
        }
        cg->path = steal_ptr(&st.path);
        if ((r = cg_hiers_read(&cg->h, &cg->n_h, &cg->layout, err)) < 0) {
                cgroup_state_clear(&st);
                cgroup_free(cg);
                return r;
        }
        set_unified(cg);
        cg->rootless = geteuid() != 0;
        for (size_t i = 0; i < cg->n_h; i++) {
                struct cg_hier *h = &cg->h[i];
                h->dir = xasprintf("%s/%s", h->mountpoint, cg->path);
                h->fd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                h->owned = cgroup_state_owned(&st, h->name);
        }
        cgroup_state_clear(&st);
        if (cg->layout == CGROUP_LAYOUT_HYBRID && cg->unified && cg->unified->fd >= 0)
                only_unified_if_alone(cg);
        *out = cg;
        return 0;
}

bool cgroup_is_disabled(const struct vessel_cgroup *cg)
{
        return !cg || cg->disabled;
}

/* ------------------------------------------------------ processes */

/* Where the processes are listed: on v1 and hybrid a v1 hierarchy (every
 * process of the container is in all of them), else cgroup2. */
static struct cg_hier *procs_hier(const struct vessel_cgroup *cg)
{
        static const enum cg_ctrl order[] = {CG_PIDS, CG_FREEZER, CG_MEMORY, CG_CPU};

        if (cg->layout == CGROUP_LAYOUT_V2)
                return cg->unified && cg->unified->fd >= 0 ? cg->unified : NULL;
        for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
                struct cg_hier *h = cg_hier_of(cg, order[i]);
                if (h && !h->v2)
                        return h;
        }
        for (size_t i = 0; i < cg->n_h; i++)
                if (cg->h[i].fd >= 0)
                        return &cg->h[i];
        return NULL;
}

int cgroup_pids(const struct vessel_cgroup *cg, pid_t **pids, size_t *n, vessel_error **err)
{
        struct pid_vec pv = {0};
        struct cg_hier *h;

        *pids = NULL;
        *n = 0;
        if (!cg || cg->disabled)
                return 0;
        h = procs_hier(cg);
        if (!h)
                return vessel_error_msg(err, ENOENT, "the container's cgroup %s is gone", cg->path);
        collect_pids(h->fd, &pv, 0);
        *pids = pv.v;
        *n = pv.n;
        return 0;
}

int cgroup_kill_all(const struct vessel_cgroup *cg, int sig, vessel_error **err)
{
        pid_t *pids = NULL;
        size_t n = 0;
        bool was_frozen, froze = false;
        int r;

        if (!cg || cg->disabled)
                return 0;
        /* cgroup.kill is atomic against forks. */
        if (sig == SIGKILL && cg->layout == CGROUP_LAYOUT_V2 && cg->unified &&
            cg->unified->fd >= 0 && cg_write_at(cg->unified->fd, "cgroup.kill", "1") == 0)
                return 0;
        /* Elsewhere, freeze so that nothing forks between listing and
         * signalling. */
        was_frozen = cgroup_is_frozen(cg) == 1;
        if (!was_frozen)
                froze = cgroup_freeze(cg, true, NULL) == 0;
        r = cgroup_pids(cg, &pids, &n, err);
        for (size_t i = 0; r == 0 && i < n; i++)
                if (kill(pids[i], sig) < 0 && errno != ESRCH)
                        r = vessel_error_sys(err, "kill pid %d with signal %d", (int)pids[i], sig);
        /* A frozen v1 task only dies once thawed. */
        if (froze || (was_frozen && sig == SIGKILL))
                cgroup_freeze(cg, false, NULL);
        free(pids);
        return r;
}

int cgroup_freeze(const struct vessel_cgroup *cg, bool freeze, vessel_error **err)
{
        struct cg_hier *h;

        if (!cg || cg->disabled)
                return vessel_error_msg(err, EOPNOTSUPP, "the container has no cgroup to %s",
                                        freeze ? "freeze" : "thaw");
        h = cg_hier_of(cg, CG_FREEZER);
        if (!h)
                return vessel_error_msg(
                    err, EOPNOTSUPP,
                    "no freezer for cgroup %s on this host (neither a v1 freezer "
                    "hierarchy nor cgroup.freeze)",
                    cg->path);
        return cg_backend(h)->freeze(h, freeze, err);
}

/* What cgroup_open + cgroup_is_frozen tell, opening only the hierarchy
 * that serves the freezer: every status check (state, list, start, kill,
 * delete) asks, and `list` asks for every container. */
int cgroup_path_is_frozen(const char *state_path)
{
        struct cgroup_state st;
        struct cg_hier *h = NULL, *v1 = NULL, *v2 = NULL;
        enum cgroup_layout layout;
        size_t n = 0;
        int r = 0;

        if (cgroup_state_decode(state_path, &st) < 0)
                return 0;
        if (cg_hiers_read(&h, &n, &layout, NULL) < 0) {
                cgroup_state_clear(&st);
                return 0;
        }
        for (size_t i = 0; i < n; i++) {
                if (!(h[i].mask & CG_BIT(CG_FREEZER)))
                        continue;
                if (h[i].v2)
                        v2 = &h[i];
                else if (!v1)
                        v1 = &h[i];
        }
        /* A v1 freezer if the container has a cgroup there, else cgroup2
         * (a rootless container on a hybrid host lives in cgroup2 alone). */
        struct cg_hier *order[] = {v1, v2};
        for (size_t i = 0; i < 2; i++) {
                struct cg_hier *x = order[i];
                if (!x)
                        continue;
                x->dir = xasprintf("%s/%s", x->mountpoint, st.path);
                x->fd = open(x->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (x->fd >= 0) {
                        r = cg_backend(x)->is_frozen(x);
                        break;
                }
        }
        cg_hiers_free(h, n);
        cgroup_state_clear(&st);
        return r;
}

int cgroup_is_frozen(const struct vessel_cgroup *cg)
{
        struct cg_hier *h;

        if (!cg || cg->disabled)
                return 0;
        h = cg_hier_of(cg, CG_FREEZER);
        return h ? cg_backend(h)->is_frozen(h) : 0;
}

/* ------------------------------------------------------------ mounts */

static bool same_controllers(char *const *opts, const char *field)
{
        _cleanup_free_ char *copy = xstrdup(field);
        char *save = NULL;
        size_t n = 0;

        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save), n++) {
                bool found = false;
                for (size_t i = 0; opts && opts[i]; i++)
                        found |= !strcmp(opts[i], t);
                if (!found)
                        return false;
        }
        return n == strv_len(opts);
}

/* This process's cgroup in h (from /proc/self/cgroup), relative to what the
 * mount shows as its root. */
static char *own_path(const struct cg_hier *h, const char *proc_cgroup)
{
        _cleanup_free_ char *copy = xstrdup(proc_cgroup);
        char *save = NULL;

        for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *c1 = strchr(l, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
                const char *p;
                size_t rl;

                if (!c2)
                        continue;
                *c2 = '\0';
                if (h->v2 ? c1[1] != '\0' : !same_controllers(h->options, c1 + 1))
                        continue;
                p = c2 + 1;
                rl = strcmp(h->mnt_root, "/") ? strlen(h->mnt_root) : 0;
                if (rl && (strncmp(p, h->mnt_root, rl) || (p[rl] && p[rl] != '/')))
                        return xstrdup("");
                p += rl;
                while (*p == '/')
                        p++;
                return xstrdup(p);
        }
        return xstrdup("");
}

int cgroup_mounts_self(struct cgroup_mount **out, size_t *n, vessel_error **err)
{
        _cleanup_free_ char *proc = NULL;
        struct cg_hier *h;
        struct cgroup_mount *m;
        enum cgroup_layout layout;
        size_t nh;
        int r;

        *out = NULL;
        *n = 0;
        if ((r = read_file_at(AT_FDCWD, "/proc/self/cgroup", &proc, NULL, err)) < 0)
                return r;
        if ((r = cg_hiers_read(&h, &nh, &layout, err)) < 0)
                return r;
        m = xmalloc0((nh + 1) * sizeof(*m));
        for (size_t i = 0; i < nh; i++) {
                m[i].name = steal_ptr(&h[i].name);
                m[i].mountpoint = steal_ptr(&h[i].mountpoint);
                m[i].v2 = h[i].v2;
                m[i].own = own_path(&h[i], proc);
                m[i].options = steal_ptr(&h[i].options);
        }
        cg_hiers_free(h, nh);
        *out = m;
        *n = nh;
        return 0;
}

void cgroup_mounts_free(struct cgroup_mount *m, size_t n)
{
        for (size_t i = 0; m && i < n; i++) {
                free(m[i].name);
                free(m[i].mountpoint);
                free(m[i].own);
                strv_free(m[i].options);
        }
        free(m);
}
