/* cgroup-v1-rt.c: real-time budgets on cgroup v1 (CONFIG_RT_GROUP_SCHED).
 *
 * The SCHED_FIFO/SCHED_RR tasks of a cgroup may run cpu.rt_runtime_us of
 * every cpu.rt_period_us.  The kernel refuses (EINVAL) a budget that does
 * not fit: the shares (runtime/period) of a cgroup's children may not add
 * up to more than its own.  A new cgroup gets 0, so a container below
 * vessel/, or below any parent that create made, could never have one.
 * Its parents are raised, as runc does, from the top down to just what
 * their children need; but only vessel's own (cg_own_parents()), never
 * a cgroup that was there before, and never lowered.  A parent that is not
 * vessel's and has too little is an error that names it. */
#include "cgroup-internal.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define R "linux.resources."
#define BW_SHIFT 20 /* the kernel's fixed point for shares (to_ratio()) */
#define MAX_LEVELS 64

/* A budget's share of the CPU, as the kernel computes it. */
static uint64_t rt_share(uint64_t period, int64_t runtime)
{
        if (runtime < 0)
                return 1ull << BW_SHIFT; /* -1: unlimited */
        return period ? ((uint64_t)runtime << BW_SHIFT) / period : 0;
}

/* The smallest runtime per period whose share is at least share. */
static int64_t rt_runtime_for(uint64_t share, uint64_t period)
{
        return (int64_t)((share * period + (1ull << BW_SHIFT) - 1) >> BW_SHIFT);
}

static int rt_read(int dirfd, uint64_t *period, int64_t *runtime)
{
        _cleanup_free_ char *p = NULL, *r = NULL;

        if (read_file_at(dirfd, "cpu.rt_period_us", &p, NULL, NULL) < 0 ||
            read_file_at(dirfd, "cpu.rt_runtime_us", &r, NULL, NULL) < 0)
                return -ENOENT;
        *period = strtoull(p, NULL, 10);
        *runtime = strtoll(r, NULL, 10);
        return 0;
}

/* What the children of dirfd but skip have now. */
static uint64_t rt_children_share(int dirfd, const char *skip)
{
        int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        struct dirent *de;
        uint64_t sum = 0;

        if (!d) {
                if (fd >= 0)
                        close(fd);
                return 0;
        }
        while ((de = readdir(d))) {
                _cleanup_close_ int child = -1;
                uint64_t period;
                int64_t runtime;

                if (de->d_type != DT_DIR || de->d_name[0] == '.' || !strcmp(de->d_name, skip))
                        continue;
                child = openat(dirfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (child >= 0 && rt_read(child, &period, &runtime) == 0)
                        sum += rt_share(period, runtime);
        }
        closedir(d);
        return sum;
}

struct rt_level {
        char *dir;
        int fd;
        int64_t want; /* 0: fits as it is */
        uint64_t period;
        int64_t runtime;
};

/* From the container's parent up through vessel's own parents: the runtime
 * each needs for the container's share.  Returns the number of levels. */
static size_t rt_plan(const struct cg_hier *h, uint64_t share, struct rt_level *lv)
{
        _cleanup_free_ char *path = xstrdup(h->dir);
        size_t mlen = strlen(h->mountpoint), n = 0;
        char *slash;

        while (n < (size_t)cg_own_parents(h) && n < MAX_LEVELS && (slash = strrchr(path, '/')) &&
               (size_t)(slash - path) > mlen) {
                const char *child = slash + 1;
                struct rt_level *l = &lv[n];
                uint64_t sum;

                *slash = '\0';
                l->dir = xstrdup(path);
                l->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                *slash = '/';
                if (l->fd < 0 || rt_read(l->fd, &l->period, &l->runtime) < 0) {
                        n++;
                        break;
                }
                sum = rt_children_share(l->fd, child) + share;
                n++;
                if (rt_share(l->period, l->runtime) >= sum)
                        break;
                l->want = rt_runtime_for(sum, l->period);
                share = rt_share(l->period, l->want);
                *slash = '\0';
        }
        return n;
}

/* Raise the levels that need it, top down; *failed: the level whose
 * write failed. */
static int rt_raise(struct rt_level *lv, size_t n, size_t *failed, vessel_error **err)
{
        for (size_t i = n; i-- > 0;) {
                struct cg_hier parent = {.fd = lv[i].fd, .dir = lv[i].dir};
                int rc;

                if (!lv[i].want)
                        continue;
                rc = cg_writef(&parent, NULL, "cpu.rt_runtime_us", err, "%" PRId64, lv[i].want);
                if (rc < 0) {
                        *failed = i;
                        return rc;
                }
        }
        return 0;
}

static int rt_foreign_error(const char *child, int64_t want, uint64_t period, vessel_error **err)
{
        _cleanup_free_ char *parent = xstrdup(child);
        char *slash = strrchr(parent, '/');

        if (slash)
                *slash = '\0';
        return vessel_error_msg(
            err, EINVAL,
            R "cpu.realtimeRuntime: %s needs a real-time budget of %" PRId64 " us per %" PRIu64
              " us, more than %s has left; vessel raises only the cgroups it made, so give that "
              "one (not made by vessel) a larger cpu.rt_runtime_us",
            child, want, period, parent);
}

int cg_v1_rt_fit(const struct cg_hier *h, uint64_t period, int64_t runtime, vessel_error **err)
{
        struct rt_level lv[MAX_LEVELS] = {0};
        size_t n = rt_plan(h, rt_share(period, runtime), lv), failed = n;
        vessel_error *e = NULL;
        int rc = rt_raise(lv, n, &failed, &e);

        if (rc == 0)
                rc = cg_writef(h, R "cpu.realtimeRuntime", "cpu.rt_runtime_us", &e, "%" PRId64,
                               runtime);
        /* The topmost write did not fit into a parent that is not ours. */
        if (rc == -EINVAL && n == (size_t)cg_own_parents(h) && failed + 1 >= n) {
                vessel_error_free(&e);
                rc = n ? rt_foreign_error(lv[n - 1].dir, lv[n - 1].want, lv[n - 1].period, err)
                       : rt_foreign_error(h->dir, runtime, period, err);
        } else if (rc < 0) {
                *err = e;
                if (failed < n)
                        vessel_error_prefix(err, R "cpu.realtimeRuntime: raise the budget of "
                                                   "vessel's own cgroup");
        }
        for (size_t i = 0; i < n; i++) {
                free(lv[i].dir);
                if (lv[i].fd >= 0)
                        close(lv[i].fd);
        }
        return rc;
}
