/* cgroup-stats.c: what a container's cgroup reports: runc's `events
 * --stats` object (the back ends fill each part) and OOM notifications. */
#include "cgroup-internal.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

char **cg_hugetlb_sizes(const struct cg_hier *h, const char *suffix)
{
        _cleanup_close_ int fd = openat(h->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
        char **sizes = xmalloc0(sizeof(char *));
        struct dirent *de;

        if (!d)
                return sizes;
        fd = -1;
        while ((de = readdir(d))) {
                char size[32];
                if (sscanf(de->d_name, "hugetlb.%31[^.]", size) == 1 &&
                    !strcmp(de->d_name + strlen("hugetlb.") + strlen(size), suffix))
                        sizes = strv_append(sizes, size);
        }
        closedir(d);
        return sizes;
}

uint64_t cg_read_or_zero(const struct cg_hier *h, const char *file)
{
        uint64_t v = 0;
        return cg_read_u64(h, file, &v) == 0 ? v : 0;
}

void cg_stats_pids(const struct cg_hier *h, json_object *o)
{
        uint64_t v;

        cg_json_u64(o, "current", cg_read_or_zero(h, "pids.current"));
        if (cg_read_u64(h, "pids.max", &v) == 0 && v != UINT64_MAX)
                cg_json_u64(o, "limit", v);
}

void cg_stats_memory_raw(const struct cg_hier *h, json_object *o, uint64_t usage,
                         const char *cache_key, const char *alt_key)
{
        _cleanup_free_ char *stat = NULL;
        uint64_t cache = 0;
        json_object *raw, *v;

        if (cg_read(h, "memory.stat", &stat, NULL) < 0)
                return;
        raw = cg_json_flat_keyed(stat);
        if (json_object_object_get_ex(raw, cache_key, &v) ||
            (alt_key && json_object_object_get_ex(raw, alt_key, &v)))
                cache = json_object_get_uint64(v);
        json_object_object_add(o, "raw", raw);
        cg_json_u64(o, "cache", cache);
        cg_json_u64(o, "usageWithoutCache", usage > cache ? usage - cache : 0);
}

void cg_json_u64(json_object *o, const char *key, uint64_t v)
{
        json_object_object_add(o, key, json_object_new_uint64(v));
}

json_object *cg_json_child(json_object *o, const char *key)
{
        json_object *c;

        if (json_object_object_get_ex(o, key, &c))
                return c;
        c = json_object_new_object();
        json_object_object_add(o, key, c);
        return c;
}

json_object *cg_json_flat_keyed(const char *text)
{
        _cleanup_free_ char *copy = xstrdup(text);
        json_object *o = json_object_new_object();
        char *save = NULL;

        for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char key[128];
                unsigned long long v;
                if (sscanf(l, "%127s %llu", key, &v) == 2)
                        cg_json_u64(o, key, v);
        }
        return o;
}

static json_object *cpu_list(const struct cg_hier *h, const char *file)
{
        _cleanup_free_ char *buf = NULL;
        _cleanup_free_ unsigned *v = NULL;
        json_object *a = json_object_new_array();
        size_t n = 0;

        if (cg_read(h, file, &buf, NULL) < 0 || cgroup_cpu_list_parse(buf, &v, &n) < 0)
                return a;
        for (size_t i = 0; i < n; i++)
                json_object_array_add(a, json_object_new_uint64(v[i]));
        return a;
}

static void stats_cpuset(const struct cg_hier *h, json_object *o)
{
        bool v2 = h->v2;

        json_object_object_add(o, "cpus",
                               cpu_list(h, v2 ? "cpuset.cpus.effective" : "cpuset.effective_cpus"));
        json_object_object_add(o, "mems",
                               cpu_list(h, v2 ? "cpuset.mems.effective" : "cpuset.effective_mems"));
}

json_object *cg_stats_object(const struct vessel_cgroup *cg)
{
        json_object *data = json_object_new_object();
        struct cg_hier *acct = cg_hier_of(cg, CG_CPUACCT), *cpu = cg_hier_of(cg, CG_CPU), *h;

        if (acct || cpu)
                cg_backend(acct ? acct : cpu)->stats_cpu(acct, cpu, cg_json_child(data, "cpu"));
        if ((h = cg_hier_of(cg, CG_CPUSET)))
                stats_cpuset(h, cg_json_child(data, "cpuset"));
        if ((h = cg_hier_of(cg, CG_MEMORY)))
                cg_backend(h)->stats_memory(h, cg_json_child(data, "memory"));
        if ((h = cg_hier_of(cg, CG_PIDS)))
                cg_backend(h)->stats_pids(h, cg_json_child(data, "pids"));
        if ((h = cg_hier_of(cg, CG_BLKIO)))
                cg_backend(h)->stats_blkio(h, cg_json_child(data, "blkio"));
        h = cg_hier_of(cg, CG_HUGETLB);
        if (h)
                cg_backend(h)->stats_hugetlb(h, cg_json_child(data, "hugetlb"));
        else
                cg_json_child(data, "hugetlb");
        return data;
}

int cgroup_stats_json(const struct vessel_cgroup *cg, char **json, vessel_error **err)
{
        json_object *o;

        *json = NULL;
        if (!cg || cg->disabled)
                return vessel_error_msg(err, EOPNOTSUPP,
                                        "the container has no cgroup (--cgroup-manager disabled)");
        o = cg_stats_object(cg);
        *json = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
        json_object_put(o);
        return 0;
}

/* --------------------------------------------------------------- oom */

struct cgroup_oom_watch {
        const struct cg_hier *h;
        int fd;
        uint64_t count;
};

int cgroup_oom_watch_open(const struct vessel_cgroup *cg, struct cgroup_oom_watch **out,
                          vessel_error **err)
{
        struct cg_hier *h = cg && !cg->disabled ? cg_hier_of(cg, CG_MEMORY) : NULL;
        struct cgroup_oom_watch *w;
        int fd, r;

        *out = NULL;
        if (!h)
                return vessel_error_msg(err, EOPNOTSUPP,
                                        "no memory controller for the container's cgroup: no OOM "
                                        "events");
        if ((r = cg_backend(h)->oom_open(h, &fd, err)) < 0)
                return r;
        w = xmalloc0(sizeof(*w));
        w->h = h;
        w->fd = fd;
        cg_backend(h)->oom_count(h, fd, &w->count);
        *out = w;
        return 0;
}

int cgroup_oom_watch_fd(const struct cgroup_oom_watch *w)
{
        return w ? w->fd : -1;
}

int cgroup_oom_watch_check(struct cgroup_oom_watch *w)
{
        uint64_t before, now;

        if (!w)
                return 0;
        before = now = w->count;
        if (cg_backend(w->h)->oom_count(w->h, w->fd, &now) < 0 || now < before)
                return 0;
        w->count = now;
        return now - before > 1000 ? 1000 : (int)(now - before);
}

void cgroup_oom_watch_free(struct cgroup_oom_watch *w)
{
        if (!w)
                return;
        close(w->fd);
        free(w);
}
