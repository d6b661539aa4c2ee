/* cgroup-values.c: path rules, value mappings and device rules of the
 * cgroup manager; pure functions (see cgroup-values.h). */
#include "cgroup-values.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PARENT "vessel"

static bool systemd_style(const char *p)
{
        return strchr(p, ':') && !strchr(p, '/');
}

int cgroup_path_normalize(const char *cgroups_path, const char *id, char **out, vessel_error **err)
{
        _cleanup_free_ char *copy = NULL, *res = NULL;
        char *save = NULL;
        size_t len = 0;

        *out = NULL;
        if (!cgroups_path || !*cgroups_path) {
                *out = xasprintf(DEFAULT_PARENT "/%s", id);
                return 0;
        }
        if (systemd_style(cgroups_path))
                return vessel_error_msg(err, EINVAL,
                                        "linux.cgroupsPath \"%s\": a systemd \"slice:prefix:name\" "
                                        "path needs the systemd cgroup manager; the cgroupfs "
                                        "manager takes a path such as \"/vessel/%s\"",
                                        cgroups_path, id);
        copy = xstrdup(cgroups_path);
        res = xmalloc0(strlen(cgroups_path) + 1);
        for (char *c = strtok_r(copy, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
                if (!strcmp(c, "."))
                        continue;
                if (!strcmp(c, ".."))
                        return vessel_error_msg(err, EINVAL,
                                                "linux.cgroupsPath \"%s\": must not contain \"..\"",
                                                cgroups_path);
                if (len)
                        res[len++] = '/';
                memcpy(res + len, c, strlen(c) + 1);
                len += strlen(c);
        }
        if (!len)
                return vessel_error_msg(err, EINVAL,
                                        "linux.cgroupsPath \"%s\": names the root cgroup; give the "
                                        "container a cgroup of its own",
                                        cgroups_path);
        *out = steal_ptr(&res);
        return 0;
}

char *cgroup_path_join(const char *dir, const char *path)
{
        return *dir ? xasprintf("%s/%s", dir, path) : xstrdup(path);
}

bool cgroup_path_below(const char *path, const char *dir)
{
        size_t n = strlen(dir);

        if (!*dir)
                return *path != '\0';
        return !strncmp(path, dir, n) && path[n] == '/' && path[n + 1];
}

int cgroup_v2_own_path(const char *proc_cgroup, const char *mnt_root, char **out)
{
        const char *l = proc_cgroup, *p, *end;
        size_t rl;

        *out = NULL;
        for (; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (str_has_prefix(l, "0::"))
                        break;
        if (!l || !*l)
                return -ENOENT;
        p = l + 3;
        end = p + strcspn(p, "\n");
        /* Outside the cgroup namespace's root ("/../..."), or no path. */
        if (*p != '/' || str_has_prefix(p, "/.."))
                return -ENOENT;
        rl = strcmp(mnt_root, "/") ? strlen(mnt_root) : 0;
        if (rl && (strncmp(p, mnt_root, rl) || (p + rl < end && p[rl] != '/')))
                return -ENOENT;
        for (p += rl; *p == '/'; p++)
                ;
        *out = strndup(p, end - p);
        if (!*out)
                abort();
        /* "a/b/" from a trailing slash would be a name of its own. */
        for (size_t n = strlen(*out); n && (*out)[n - 1] == '/';)
                (*out)[--n] = '\0';
        return 0;
}

char *cgroup_delegation_root(const char *own, bool (*delegated)(const char *path, void *data),
                             void *data)
{
        _cleanup_free_ char *p = xstrdup(own);
        char *top = NULL;

        for (;;) {
                char *slash;

                if (!delegated(p, data))
                        break;
                free(top);
                top = xstrdup(p);
                if (!*p)
                        break;
                slash = strrchr(p, '/');
                if (slash)
                        *slash = '\0';
                else
                        *p = '\0';
        }
        return top;
}

int cgroup_path_delegated(const char *cgroups_path, const char *id, const char *deleg, char **out,
                          vessel_error **err)
{
        _cleanup_free_ char *norm = NULL;
        int r;

        *out = NULL;
        if ((r = cgroup_path_normalize(cgroups_path, id, &norm, err)) < 0)
                return r;
        if (!cgroups_path || cgroups_path[0] != '/') {
                *out = cgroup_path_join(deleg, norm);
                return 0;
        }
        if (!cgroup_path_below(norm, deleg))
                return vessel_error_msg(err, EACCES,
                                        "linux.cgroupsPath \"%s\": outside the cgroup subtree "
                                        "delegated to this user (/%s); give a path below it, or a "
                                        "relative path, which is taken below it",
                                        cgroups_path, deleg);
        *out = steal_ptr(&norm);
        return 0;
}

char *cgroup_state_encode(const struct cgroup_state *st)
{
        char *list, *s;

        if (!st->n_own)
                return xasprintf("%d:/%s", st->owned, st->path);
        list = xstrdup("");
        for (size_t i = 0; i < st->n_own; i++) {
                s = xasprintf("%s%s%s=%d", list, i ? " " : "", st->own[i].name, st->own[i].owned);
                free(list);
                list = s;
        }
        s = xasprintf("%s:/%s", list, st->path);
        free(list);
        return s;
}

/* A count of components: digits only, at most the deepest path we take. */
static int parse_owned(const char *s, size_t len, int *out)
{
        int n = 0;

        if (!len || len > 9)
                return -EINVAL;
        for (size_t i = 0; i < len; i++) {
                if (!isdigit((unsigned char)s[i]))
                        return -EINVAL;
                n = n * 10 + (s[i] - '0');
        }
        if (n > 4096)
                return -EINVAL;
        *out = n;
        return 0;
}

/* "name=n name=n ..." (len bytes) into st->own; a name once only. */
static int decode_own_list(const char *s, size_t len, struct cgroup_state *st)
{
        const char *p = s, *end = s + len;

        while (p < end) {
                const char *sp = memchr(p, ' ', (size_t)(end - p)), *tend = sp ? sp : end;
                const char *eq = NULL;
                int n;

                for (const char *q = p; q < tend; q++)
                        if (*q == '=')
                                eq = q;
                if (!eq || parse_owned(eq + 1, (size_t)(tend - eq - 1), &n) < 0)
                        return -EINVAL;
                for (size_t i = 0; i < st->n_own; i++)
                        if (strlen(st->own[i].name) == (size_t)(eq - p) &&
                            !strncmp(st->own[i].name, p, (size_t)(eq - p)))
                                return -EINVAL;
                st->own = realloc(st->own, (st->n_own + 1) * sizeof(*st->own));
                if (!st->own)
                        abort();
                st->own[st->n_own].name = xasprintf("%.*s", (int)(eq - p), p);
                st->own[st->n_own++].owned = n;
                if (sp && sp + 1 == end)
                        return -EINVAL; /* a trailing separator */
                p = sp ? sp + 1 : end;
        }
        return st->n_own ? 0 : -EINVAL;
}

int cgroup_state_decode(const char *s, struct cgroup_state *out)
{
        const char *sep = s ? strstr(s, ":/") : NULL;

        memset(out, 0, sizeof(*out));
        if (!sep || sep == s || !sep[2])
                return -EINVAL;
        /* The old form (one count for all), else the per-hierarchy list. */
        if (parse_owned(s, (size_t)(sep - s), &out->owned) < 0 &&
            decode_own_list(s, (size_t)(sep - s), out) < 0) {
                cgroup_state_clear(out);
                return -EINVAL;
        }
        out->path = xstrdup(sep + 2);
        return 0;
}

int cgroup_state_owned(const struct cgroup_state *st, const char *name)
{
        for (size_t i = 0; i < st->n_own; i++)
                if (!strcmp(st->own[i].name, name))
                        return st->own[i].owned;
        return st->owned;
}

void cgroup_state_clear(struct cgroup_state *st)
{
        for (size_t i = 0; i < st->n_own; i++)
                free(st->own[i].name);
        free(st->own);
        free(st->path);
        memset(st, 0, sizeof(*st));
}

uint64_t cgroup_shares_to_weight(uint64_t shares)
{
        if (shares == 0)
                return 0;
        if (shares < 2)
                shares = 2;
        if (shares > 262144)
                shares = 262144;
        return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t cgroup_weight_to_shares(uint64_t weight)
{
        if (weight == 0)
                return 0;
        if (weight > 10000)
                weight = 10000;
        return 2 + ((weight - 1) * 262142) / 9999;
}

uint64_t cgroup_blkio_to_io_weight(uint64_t weight)
{
        if (weight == 0)
                return 0;
        if (weight < 10)
                weight = 10;
        if (weight > 1000)
                weight = 1000;
        return 1 + ((weight - 10) * 9999) / 990;
}

int cgroup_swap_to_v2(struct vessel_opt_i64 limit, struct vessel_opt_i64 swap, int64_t *out,
                      vessel_error **err)
{
        int64_t mem = limit.set ? limit.v : 0;

        if (!swap.set || swap.v == 0) {
                /* No swap limit given: an unlimited memory limit lifts the
                 * swap limit too, as memory.memsw follows on v1. */
                if (mem == -1) {
                        *out = -1;
                        return 1;
                }
                return 0;
        }
        if (swap.v == -1) {
                *out = -1;
                return 1;
        }
        if (mem <= 0)
                return vessel_error_msg(err, EINVAL,
                                        "linux.resources.memory.swap: a swap limit needs a "
                                        "memory limit (swap is memory+swap)");
        if (swap.v < mem)
                return vessel_error_msg(err, EINVAL,
                                        "linux.resources.memory.swap (%" PRId64
                                        ") must be at least "
                                        "memory.limit (%" PRId64 "): it is memory+swap",
                                        swap.v, mem);
        *out = swap.v - mem;
        return 1;
}

static int cmp_unsigned(const void *a, const void *b)
{
        unsigned x = *(const unsigned *)a, y = *(const unsigned *)b;
        return (x > y) - (x < y);
}

static bool parse_num(const char **p, unsigned *out)
{
        unsigned long v;
        char *end;

        if (!isdigit((unsigned char)**p))
                return false;
        errno = 0;
        v = strtoul(*p, &end, 10);
        if (errno || v > 1u << 20)
                return false;
        *out = (unsigned)v;
        *p = end;
        return true;
}

int cgroup_cpu_list_parse(const char *s, unsigned **out, size_t *n)
{
        _cleanup_free_ unsigned *v = NULL;
        size_t cnt = 0, cap = 0;
        const char *p = s;

        *out = NULL;
        *n = 0;
        while (*p == ' ' || *p == '\n')
                p++;
        while (*p && *p != '\n') {
                unsigned lo, hi;
                if (!parse_num(&p, &lo))
                        return -EINVAL;
                hi = lo;
                if (*p == '-' && (p++, !parse_num(&p, &hi) || hi < lo))
                        return -EINVAL;
                if (cnt + (hi - lo) + 1 > 1u << 20)
                        return -E2BIG;
                for (unsigned i = lo; i <= hi; i++) {
                        if (cnt == cap) {
                                cap = cap ? cap * 2 : 16;
                                unsigned *nv = realloc(v, cap * sizeof(*v));
                                if (!nv)
                                        abort();
                                v = nv;
                        }
                        v[cnt++] = i;
                }
                if (*p == ',' && p[1] && p[1] != '\n')
                        p++;
                else if (*p && *p != '\n')
                        return -EINVAL;
        }
        if (cnt)
                qsort(v, cnt, sizeof(*v), cmp_unsigned);
        *out = steal_ptr(&v);
        *n = cnt;
        return 0;
}

int cgroup_parse_bytes(const char *s, int64_t *out)
{
        static const char units[] = "bkmgtp";
        char *end;
        long double v;
        const char *u;
        int shift;

        if (!s || !*s)
                return -EINVAL;
        if (!strcmp(s, "-1")) {
                *out = -1;
                return 0;
        }
        if (!isdigit((unsigned char)*s))
                return -EINVAL;
        errno = 0;
        v = strtold(s, &end);
        if (errno || end == s)
                return -EINVAL;
        while (*end == ' ')
                end++;
        if (!*end) {
                shift = 0;
        } else {
                u = strchr(units, tolower((unsigned char)*end));
                if (!u)
                        return -EINVAL;
                shift = (int)(u - units) * 10;
                end++;
                /* "k", "kb", "kib", "KiB", "MB", ... */
                if (shift && tolower((unsigned char)*end) == 'i')
                        end++;
                if (shift && tolower((unsigned char)*end) == 'b')
                        end++;
                if (*end)
                        return -EINVAL;
        }
        v *= (long double)(1ULL << shift);
        if (v >= (long double)INT64_MAX)
                return -ERANGE;
        *out = (int64_t)v;
        return 0;
}

bool cgroup_hugepage_size_valid(const char *s)
{
        size_t digits = strspn(s, "0123456789");

        if (!digits || s[0] == '0')
                return false;
        return !strcmp(s + digits, "KB") || !strcmp(s + digits, "MB") ||
               !strcmp(s + digits, "GB") || !strcmp(s + digits, "TB") || !strcmp(s + digits, "PB");
}

static const struct cgroup_dev_rule default_devices[] = {
    {true, 'c', -1, -1, CGROUP_DEV_MKNOD}, /* mknod of any device */
    {true, 'b', -1, -1, CGROUP_DEV_MKNOD}, {true, 'c', 1, 3, CGROUP_DEV_ALL}, /* null */
    {true, 'c', 1, 5, CGROUP_DEV_ALL},                                        /* zero */
    {true, 'c', 1, 7, CGROUP_DEV_ALL},                                        /* full */
    {true, 'c', 1, 8, CGROUP_DEV_ALL},                                        /* random */
    {true, 'c', 1, 9, CGROUP_DEV_ALL},                                        /* urandom */
    {true, 'c', 5, 0, CGROUP_DEV_ALL},                                        /* tty */
    {true, 'c', 5, 1, CGROUP_DEV_ALL},                                        /* console */
    {true, 'c', 5, 2, CGROUP_DEV_ALL},                                        /* ptmx */
    {true, 'c', 136, -1, CGROUP_DEV_ALL},                                     /* pts */
    {true, 'c', 10, 200, CGROUP_DEV_ALL},                                     /* tun */
};

static unsigned access_bits(const char *a)
{
        unsigned bits = 0;

        if (!a)
                return CGROUP_DEV_ALL;
        for (; *a; a++)
                bits |= *a == 'r'   ? CGROUP_DEV_READ
                        : *a == 'w' ? CGROUP_DEV_WRITE
                                    : CGROUP_DEV_MKNOD;
        return bits;
}

struct rule_list {
        struct cgroup_dev_rule *v;
        size_t n, cap;
};

static void rule_push(struct rule_list *l, struct cgroup_dev_rule r)
{
        if (l->n == l->cap) {
                l->cap = l->cap ? l->cap * 2 : 32;
                l->v = realloc(l->v, l->cap * sizeof(*l->v));
                if (!l->v)
                        abort();
        }
        l->v[l->n++] = r;
}

static void rules_reset(struct rule_list *l)
{
        l->n = 0;
        rule_push(l, (struct cgroup_dev_rule){false, 'a', -1, -1, CGROUP_DEV_ALL});
        for (size_t i = 0; i < ARRAY_SIZE(default_devices); i++)
                rule_push(l, default_devices[i]);
}

int cgroup_device_rules(const struct vessel_device_rule *user, size_t n,
                        struct cgroup_dev_rule **out, size_t *nout)
{
        struct rule_list l = {0};

        rules_reset(&l);
        for (size_t i = 0; i < n; i++) {
                struct cgroup_dev_rule r = {user[i].allow, user[i].type ? user[i].type : 'a',
                                            user[i].major, user[i].minor,
                                            access_bits(user[i].access)};
                bool everything =
                    r.type == 'a' && r.major < 0 && r.minor < 0 && r.access == CGROUP_DEV_ALL;

                if (everything && !r.allow) {
                        rules_reset(&l);
                } else if (r.type == 'a' && !everything) {
                        r.type = 'c';
                        rule_push(&l, r);
                        r.type = 'b';
                        rule_push(&l, r);
                } else {
                        rule_push(&l, r);
                }
        }
        *out = l.v;
        *nout = l.n;
        return 0;
}

/* Does wide match every device r names (and some other)? */
static bool dev_rule_covers(const struct cgroup_dev_rule *wide, const struct cgroup_dev_rule *r)
{
        bool same = wide->type == r->type && wide->major == r->major && wide->minor == r->minor;

        return !same && (wide->type == 'a' || wide->type == r->type) &&
               (wide->major < 0 || wide->major == r->major) &&
               (wide->minor < 0 || wide->minor == r->minor);
}

int cgroup_device_rules_v1(const struct cgroup_dev_rule *in, size_t n, struct cgroup_dev_rule **out,
                           size_t *nout)
{
        struct rule_list l = {0};

        for (size_t i = 0; i < n; i++) {
                rule_push(&l, in[i]);
                if (in[i].allow || in[i].type == 'a')
                        continue;
                for (size_t j = 0; j < i; j++) {
                        struct cgroup_dev_rule d = in[j];
                        if (!d.allow || !dev_rule_covers(&in[i], &d) || !(d.access & in[i].access))
                                continue;
                        d.allow = false;
                        d.access &= in[i].access;
                        rule_push(&l, d);
                }
        }
        *out = l.v;
        *nout = l.n;
        return 0;
}

void cgroup_dev_rule_format(const struct cgroup_dev_rule *r, char *buf, size_t len)
{
        char maj[24], min[24], acc[4];
        size_t k = 0;

        if (r->type == 'a') {
                snprintf(buf, len, "a");
                return;
        }
        if (r->access & CGROUP_DEV_READ)
                acc[k++] = 'r';
        if (r->access & CGROUP_DEV_WRITE)
                acc[k++] = 'w';
        if (r->access & CGROUP_DEV_MKNOD)
                acc[k++] = 'm';
        acc[k] = '\0';
        if (r->major < 0)
                snprintf(maj, sizeof(maj), "*");
        else
                snprintf(maj, sizeof(maj), "%" PRId64, r->major);
        if (r->minor < 0)
                snprintf(min, sizeof(min), "*");
        else
                snprintf(min, sizeof(min), "%" PRId64, r->minor);
        snprintf(buf, len, "%c %s:%s %s", r->type, maj, min, acc);
}
