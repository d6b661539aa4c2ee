/* idrange.c: the host uid/gid range of each unprivileged instance (see
 * idrange.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <pwd.h>
#include <unistd.h>

#include "idrange.h"
#include "util.h"

/* ------------------------------------------------------------ pure parts */

static int parse_u32(const char *s, uint32_t *out)
{
        int64_t v;

        if (parse_int64(s, &v) < 0 || v < 0 || v > UINT32_MAX)
                return -EINVAL;
        *out = (uint32_t)v;
        return 0;
}

int idrange_subid_parse(const char *text, const char *file, const char *user, uint32_t uid,
                        struct id_range **out, size_t *n, vessel_error **err)
{
        char uidstr[16];
        size_t lineno = 0, cap = 0;
        const char *line = text;

        *out = NULL;
        *n = 0;
        snprintf(uidstr, sizeof(uidstr), "%u", uid);
        while (line && *line) {
                const char *end = strchr(line, '\n'), *here = line;
                size_t len = end ? (size_t)(end - line) : strlen(line);
                _cleanup_free_ char *l = xstrndup(line, len);
                char *f[3] = {NULL}, *p = l, *extra;
                uint32_t start, count;

                lineno++;
                line = end ? end + 1 : NULL;
                if (!*l || l[0] == '#' || strspn(l, " \t") == len)
                        continue;
                for (int k = 0; k < 3 && p; k++)
                        f[k] = strsep(&p, ":");
                extra = p;
                if (!f[0] || !*f[0] || !f[1] || !f[2] || extra || parse_u32(f[1], &start) < 0 ||
                    parse_u32(f[2], &count) < 0 || count == 0 ||
                    (uint64_t)start + count > (uint64_t)UINT32_MAX) {
                        free(*out);
                        *out = NULL;
                        *n = 0;
                        return vessel_error_msg(err, EINVAL,
                                                "%s:%zu: \"%.*s\" is not USER:START:COUNT (a "
                                                "start and a count of ids below 2^32)",
                                                file, lineno, (int)len, here);
                }
                if (strcmp(f[0], user) && strcmp(f[0], uidstr))
                        continue;
                if (*n == cap) {
                        cap = cap ? 2 * cap : 4;
                        *out = xrealloc(*out, cap * sizeof(**out));
                }
                (*out)[(*n)++] = (struct id_range){start, count};
        }
        return 0;
}

static int range_cmp(const void *a, const void *b)
{
        const struct id_range *x = a, *y = b;

        return x->start < y->start ? -1 : x->start > y->start;
}

size_t idrange_intersect(const struct id_range *a, size_t na, const struct id_range *b,
                         size_t nb, struct id_range **out)
{
        size_t n = 0;

        *out = xmalloc0((na * nb + 1) * sizeof(**out));
        for (size_t i = 0; i < na; i++)
                for (size_t j = 0; j < nb; j++) {
                        uint64_t lo = a[i].start > b[j].start ? a[i].start : b[j].start;
                        uint64_t ea = a[i].start + a[i].size, eb = b[j].start + b[j].size;
                        uint64_t hi = ea < eb ? ea : eb;
                        if (lo < hi)
                                (*out)[n++] = (struct id_range){lo, hi - lo};
                }
        qsort(*out, n, sizeof(**out), range_cmp);
        return n;
}

static bool overlaps(uint64_t s, uint64_t size, const struct id_range *r)
{
        return s < r->start + r->size && r->start < s + size;
}

int idrange_first_fit(const struct id_range *pool, size_t npool, const struct id_range *taken,
                      size_t ntaken, uint64_t size, uint64_t *start)
{
        for (size_t i = 0; i < npool; i++) {
                uint64_t s = pool[i].start, end = pool[i].start + pool[i].size;

                while (s + size <= end) {
                        uint64_t next = 0;
                        for (size_t j = 0; j < ntaken; j++)
                                if (overlaps(s, size, &taken[j]) &&
                                    taken[j].start + taken[j].size > next)
                                        next = taken[j].start + taken[j].size;
                        if (!next) {
                                *start = s;
                                return 0;
                        }
                        /* Past the range in the way, on the pool's grid. */
                        s = pool[i].start +
                            (next - pool[i].start + IDRANGE_BLOCK - 1) / IDRANGE_BLOCK * IDRANGE_BLOCK;
                }
        }
        return -ENOSPC;
}

/* "N" or "N-M" (inclusive): *first and *count. */
static int parse_id_span(const char *s, uint32_t *first, uint32_t *count)
{
        _cleanup_free_ char *a = xstrdup(s);
        char *dash = strchr(a, '-');
        uint32_t lo, hi;

        if (dash)
                *dash = '\0';
        if (parse_u32(a, &lo) < 0 || (dash && parse_u32(dash + 1, &hi) < 0))
                return -EINVAL;
        if (!dash)
                hi = lo;
        if (hi < lo || lo == UINT32_MAX)
                return -EINVAL;
        *first = lo;
        *count = hi - lo + 1;
        return 0;
}

int idrange_raw_parse(const char *text, struct raw_idmap **out, size_t *n, vessel_error **err)
{
        _cleanup_free_ char *copy = xstrdup(text ? text : "");
        size_t cap = 0, lineno = 0;
        char *save = NULL;

        *out = NULL;
        *n = 0;
        for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
                char *ws = NULL, *kind = strtok_r(l, " \t", &ws), *host = strtok_r(NULL, " \t", &ws),
                     *cont = strtok_r(NULL, " \t\r", &ws), *extra = strtok_r(NULL, " \t\r", &ws);
                struct raw_idmap m = {0};
                uint32_t hc, cc;

                lineno++;
                if (!kind || kind[0] == '#')
                        continue;
                m.uid = !strcmp(kind, "uid") || !strcmp(kind, "both");
                m.gid = !strcmp(kind, "gid") || !strcmp(kind, "both");
                if ((!m.uid && !m.gid) || !host || !cont || extra ||
                    parse_id_span(host, &m.host, &hc) < 0 ||
                    parse_id_span(cont, &m.container, &cc) < 0 || hc != cc ||
                    (uint64_t)m.host + hc > UINT32_MAX) {
                        free(*out);
                        *out = NULL;
                        *n = 0;
                        return vessel_error_msg(err, EINVAL,
                                                "raw.idmap line %zu: not \"uid|gid|both "
                                                "HOST[-HOST] CONTAINER[-CONTAINER]\" with spans "
                                                "of one length",
                                                lineno);
                }
                m.size = hc;
                if (*n == cap) {
                        cap = cap ? 2 * cap : 4;
                        *out = xrealloc(*out, cap * sizeof(**out));
                }
                (*out)[(*n)++] = m;
        }
        return 0;
}

static int raw_cmp(const void *a, const void *b)
{
        const struct raw_idmap *x = a, *y = b;

        return x->container < y->container ? -1 : x->container > y->container;
}

int idrange_build_map(uint64_t base, uint64_t size, const struct raw_idmap *raw, size_t nraw,
                      bool uid, struct vessel_idmap **out, size_t *n, vessel_error **err)
{
        const char *what = uid ? "uid" : "gid";
        _cleanup_free_ struct raw_idmap *mine = xmalloc0((nraw + 1) * sizeof(*mine));
        size_t nm = 0, k = 0;
        uint64_t at = 0;

        for (size_t i = 0; i < nraw; i++)
                if (uid ? raw[i].uid : raw[i].gid)
                        mine[nm++] = raw[i];
        qsort(mine, nm, sizeof(*mine), raw_cmp);
        for (size_t i = 0; i < nm; i++) {
                if ((uint64_t)mine[i].container + mine[i].size > size)
                        return vessel_error_msg(err, EINVAL,
                                                "raw.idmap: %s %" PRIu32 "-%" PRIu64
                                                " is outside the instance's ids 0-%" PRIu64,
                                                what, mine[i].container,
                                                (uint64_t)mine[i].container + mine[i].size - 1,
                                                size - 1);
                if (i && mine[i].container < (uint64_t)mine[i - 1].container + mine[i - 1].size)
                        return vessel_error_msg(err, EINVAL,
                                                "raw.idmap: the %s lines for container ids %" PRIu32
                                                " and %" PRIu32 " overlap",
                                                what, mine[i - 1].container, mine[i].container);
                for (size_t j = 0; j < i; j++)
                        if (mine[i].host < (uint64_t)mine[j].host + mine[j].size &&
                            mine[j].host < (uint64_t)mine[i].host + mine[i].size)
                                return vessel_error_msg(err, EINVAL,
                                                        "raw.idmap: the %s lines for host ids "
                                                        "%" PRIu32 " and %" PRIu32 " overlap",
                                                        what, mine[j].host, mine[i].host);
        }
        *out = xmalloc0((2 * nm + 1) * sizeof(**out));
        for (size_t i = 0; i <= nm; i++) {
                uint64_t stop = i < nm ? mine[i].container : size;
                if (stop > at)
                        (*out)[k++] = (struct vessel_idmap){.container_id = (uint32_t)at,
                                                            .host_id = (uint32_t)(base + at),
                                                            .size = (uint32_t)(stop - at)};
                if (i < nm) {
                        (*out)[k++] = (struct vessel_idmap){.container_id = mine[i].container,
                                                            .host_id = mine[i].host,
                                                            .size = mine[i].size};
                        at = (uint64_t)mine[i].container + mine[i].size;
                }
        }
        *n = k;
        return 0;
}

void instance_idmap_free(struct instance_idmap *m)
{
        free(m->uids);
        free(m->gids);
        *m = (struct instance_idmap){0};
}

bool idrange_privileged(const struct confset *c)
{
        const char *v = kvlist_get(&c->config, "security.privileged");
        bool on = false;

        return v && config_parse_bool(v, &on) == 0 && on;
}

/* ------------------------------------------------- /etc/subuid, /etc/subgid */

static const char *subid_file(bool uid)
{
        const char *e = getenv(uid ? "VESSELCTL_SUBUID" : "VESSELCTL_SUBGID");

        return e && *e ? e : uid ? "/etc/subuid" : "/etc/subgid";
}

/* The end of the highest range any user has in text (malformed: 0). */
static uint64_t highest_end(const char *text)
{
        uint64_t top = 0;
        const char *line = text;

        while (line && *line) {
                unsigned long long s, c;
                if (sscanf(line, "%*[^:]:%llu:%llu", &s, &c) == 2 && s + c > top)
                        top = s + c;
                line = strchr(line, '\n');
                line = line ? line + 1 : NULL;
        }
        return top;
}

static int read_subid(const char *file, char **text, vessel_error **err)
{
        vessel_error *e = NULL;

        if (read_file_at(AT_FDCWD, file, text, NULL, &e) == 0)
                return 0;
        if (e->code != ENOENT) {
                int r = vessel_error_set(err, e->code, "%s", e->msg);
                vessel_error_free(&e);
                return r;
        }
        vessel_error_free(&e);
        *text = xstrdup("");
        return 0;
}

/* Add "root:START:COUNT" to both files, after every range either holds,
 * under a lock so that two first starts add one entry. */
static int add_root_entry(vessel_error **err)
{
        const char *fu = subid_file(true), *fg = subid_file(false);
        _cleanup_free_ char *tu = NULL, *tg = NULL, *lockpath = xasprintf("%s.vessel-lock", fu);
        _cleanup_close_ int lock = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        uint64_t start = IDRANGE_ROOT_START, top;
        int r;

        if (lock < 0 || flock(lock, LOCK_EX) < 0)
                return vessel_error_sys(err, "lock %s", lockpath);
        if ((r = read_subid(fu, &tu, err)) < 0 || (r = read_subid(fg, &tg, err)) < 0)
                return r;
        /* Someone else may have added it while we waited. */
        if (strstr(tu, "root:") && strstr(tg, "root:"))
                return 0;
        top = highest_end(tu) > highest_end(tg) ? highest_end(tu) : highest_end(tg);
        if (top > start)
                start = (top + IDRANGE_BLOCK - 1) / IDRANGE_BLOCK * IDRANGE_BLOCK;
        if (start + IDRANGE_ROOT_COUNT > UINT32_MAX)
                return vessel_error_msg(err, ENOSPC,
                                        "%s and %s have no range for root, and no room for one "
                                        "of %u ids above %" PRIu64,
                                        fu, fg, IDRANGE_ROOT_COUNT, top);
        for (int k = 0; k < 2; k++) {
                const char *file = k ? fg : fu, *text = k ? tg : tu;
                size_t len = strlen(text);
                _cleanup_free_ char *next =
                    xasprintf("%s%sroot:%" PRIu64 ":%u\n", text,
                              len && text[len - 1] != '\n' ? "\n" : "", start, IDRANGE_ROOT_COUNT);
                if (strstr(text, "root:"))
                        continue;
                if ((r = write_file_atomic(file, next, strlen(next), 0644, err)) < 0)
                        return vessel_error_prefix(err, "add root's subordinate ids");
        }
        fprintf(stderr,
                "vesselctl: %s and %s had no range for root: added root:%" PRIu64
                ":%u to them, for the instances' id ranges\n",
                fu, fg, start, IDRANGE_ROOT_COUNT);
        return 0;
}

static int read_root_pool(struct id_range **pool, size_t *n, vessel_error **err);

static uint64_t pool_total(const struct id_range *pool, size_t n)
{
        uint64_t total = 0;

        for (size_t i = 0; i < n; i++)
                total += pool[i].size;
        return total;
}

int idrange_user_pool_check(const struct id_range *pool, size_t n, const char *user,
                            const char *subuid, const char *subgid, vessel_error **err)
{
        uint64_t total = pool_total(pool, n), blocks = 0;

        for (size_t i = 0; i < n; i++)
                blocks += pool[i].size / IDRANGE_BLOCK;
        if (total < IDRANGE_ROOTLESS_MIN || blocks < 2 || pool[0].size < IDRANGE_BLOCK)
                return vessel_error_msg(
                    err, ENOSPC,
                    "user %s has %" PRIu64 " subordinate ids in both %s and %s: a rootless "
                    "store needs at least %u (%u for its images' files and %u or more for each "
                    "instance, in whole blocks); ask root to give it a range such as "
                    "\"%s:START:%u\" in both files",
                    user, total, subuid, subgid, IDRANGE_ROOTLESS_MIN, IDRANGE_BLOCK,
                    IDRANGE_BLOCK, user, IDRANGE_ROOTLESS_MIN);
        if (pool[0].start < IDRANGE_BLOCK)
                return vessel_error_msg(err, EINVAL,
                                        "user %s: its subordinate ids in %s and %s start at %" PRIu64
                                        ", below %u: a rootless store needs them above the ids of "
                                        "an image",
                                        user, subuid, subgid, pool[0].start, IDRANGE_BLOCK);
        return 0;
}

void idrange_user_free(struct idrange_user *u)
{
        free(u->name);
        free(u->pool);
        *u = (struct idrange_user){0};
}

int idrange_user_read(struct idrange_user *u, vessel_error **err)
{
        const char *fu = subid_file(true), *fg = subid_file(false);
        _cleanup_free_ char *tu = NULL, *tg = NULL;
        _cleanup_free_ struct id_range *ru = NULL, *rg = NULL;
        struct passwd *pw = getpwuid(geteuid());
        size_t nu = 0, ng = 0;
        int r;

        *u = (struct idrange_user){.uid = (uint32_t)geteuid(), .gid = (uint32_t)getegid()};
        u->name = pw && pw->pw_name ? xstrdup(pw->pw_name) : xasprintf("%u", u->uid);
        if ((r = read_subid(fu, &tu, err)) < 0 || (r = read_subid(fg, &tg, err)) < 0 ||
            (r = idrange_subid_parse(tu, fu, u->name, u->uid, &ru, &nu, err)) < 0 ||
            (r = idrange_subid_parse(tg, fg, u->name, u->uid, &rg, &ng, err)) < 0)
                goto fail;
        u->n = idrange_intersect(ru, nu, rg, ng, &u->pool);
        if ((r = idrange_user_pool_check(u->pool, u->n, u->name, fu, fg, err)) < 0)
                goto fail;
        return 0;
fail:
        idrange_user_free(u);
        return r;
}

/* The ids in both files the store's instances' ranges come from: root's,
 * or for a rootless store the user's own. */
static int read_pool(struct vessel_store *s, struct id_range **pool, size_t *n, char **owner,
                     vessel_error **err)
{
        if (store_is_rootless(s)) {
                struct idrange_user u;
                int r = idrange_user_read(&u, err);
                if (r < 0)
                        return r;
                *pool = steal_ptr(&u.pool);
                *n = u.n;
                *owner = xasprintf("user %s's", u.name);
                idrange_user_free(&u);
                return 0;
        }
        *owner = xstrdup("root's");
        return read_root_pool(pool, n, err);
}

/* Root's ids in both files: the pool instances' ranges come from. */
static int read_root_pool(struct id_range **pool, size_t *n, vessel_error **err)
{
        const char *fu = subid_file(true), *fg = subid_file(false);

        for (int attempt = 0;; attempt++) {
                _cleanup_free_ char *tu = NULL, *tg = NULL;
                _cleanup_free_ struct id_range *u = NULL, *g = NULL;
                size_t nu, ng;
                int r;

                if ((r = read_subid(fu, &tu, err)) < 0 || (r = read_subid(fg, &tg, err)) < 0 ||
                    (r = idrange_subid_parse(tu, fu, "root", 0, &u, &nu, err)) < 0 ||
                    (r = idrange_subid_parse(tg, fg, "root", 0, &g, &ng, err)) < 0)
                        return r;
                if ((nu && ng) || attempt) {
                        *n = idrange_intersect(u, nu, g, ng, pool);
                        if (!*n) {
                                free(*pool);
                                *pool = NULL;
                                return vessel_error_msg(
                                    err, ENOSPC,
                                    "root's subordinate ids in %s and %s have no ids in common: "
                                    "unprivileged instances need ranges that are in both",
                                    fu, fg);
                        }
                        return 0;
                }
                if ((r = add_root_entry(err)) < 0)
                        return r;
        }
}

/* -------------------------------------------------------------- catalogue */

int idrange_get(struct vessel_store *s, int64_t id, uint64_t *base, uint64_t *size,
                bool *isolated, bool *found, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int r;

        *found = false;
        if ((r = store_prepare(s, "SELECT base, size, isolated FROM idmaps WHERE instance_id = ?",
                               &st, err)) < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        if ((r = store_step(s, st, err)) < 0)
                return r;
        if (r == SQLITE_ROW) {
                *base = (uint64_t)sqlite3_column_int64(st, 0);
                *size = (uint64_t)sqlite3_column_int64(st, 1);
                *isolated = sqlite3_column_int(st, 2);
                *found = true;
        }
        return 0;
}

struct taken {
        struct id_range *v;
        char **names;
        size_t n;
};

static void taken_free(struct taken *t)
{
        for (size_t i = 0; i < t->n; i++)
                free(t->names[i]);
        free(t->names);
        free(t->v);
}

/* The isolated ranges of every other instance. */
static int read_taken(struct vessel_store *s, int64_t id, struct taken *t, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        size_t cap = 0;
        int r;

        if ((r = store_prepare(s,
                               "SELECT m.base, m.size, i.name FROM idmaps m JOIN instances i ON "
                               "i.id = m.instance_id WHERE m.isolated = 1 AND m.instance_id != ?",
                               &st, err)) < 0)
                return r;
        sqlite3_bind_int64(st, 1, id);
        while ((r = store_step(s, st, err)) == SQLITE_ROW) {
                if (t->n == cap) {
                        cap = cap ? 2 * cap : 16;
                        t->v = xrealloc(t->v, cap * sizeof(*t->v));
                        t->names = xrealloc(t->names, cap * sizeof(*t->names));
                }
                t->v[t->n] = (struct id_range){(uint64_t)sqlite3_column_int64(st, 0),
                                               (uint64_t)sqlite3_column_int64(st, 1)};
                t->names[t->n++] = xstrdup((const char *)sqlite3_column_text(st, 2));
        }
        return r < 0 ? r : 0;
}

struct wanted {
        uint64_t size;
        bool has_base, isolated;
        uint64_t base;
};

static int read_keys(const struct confset *c, struct wanted *w, vessel_error **err)
{
        const char *size = kvlist_get(&c->config, "security.idmap.size"),
                   *base = kvlist_get(&c->config, "security.idmap.base"),
                   *iso = kvlist_get(&c->config, "security.idmap.isolated");
        int64_t v;

        *w = (struct wanted){.size = IDRANGE_BLOCK, .isolated = true};
        if (size) {
                if (parse_int64(size, &v) < 0 || v <= 0 || v % IDRANGE_BLOCK || v > UINT32_MAX)
                        return vessel_error_msg(err, EINVAL,
                                                "security.idmap.size \"%s\": not a positive "
                                                "multiple of %u",
                                                size, IDRANGE_BLOCK);
                w->size = (uint64_t)v;
        }
        if (base) {
                if (parse_int64(base, &v) < 0 || v <= 0 || v > UINT32_MAX)
                        return vessel_error_msg(err, EINVAL,
                                                "security.idmap.base \"%s\": not a host id", base);
                w->has_base = true;
                w->base = (uint64_t)v;
        }
        if (iso && config_parse_bool(iso, &w->isolated) < 0)
                return vessel_error_msg(err, EINVAL,
                                        "security.idmap.isolated \"%s\": not a boolean", iso);
        if (w->has_base && !w->isolated)
                return vessel_error_msg(err, EINVAL,
                                        "security.idmap.base and security.idmap.isolated=false "
                                        "contradict: the shared range has a start of its own");
        return 0;
}

static bool inside_pool(const struct id_range *pool, size_t n, uint64_t start, uint64_t size)
{
        for (size_t i = 0; i < n; i++)
                if (start >= pool[i].start && start + size <= pool[i].start + pool[i].size)
                        return true;
        return false;
}

static char *pool_text(const struct id_range *pool, size_t n)
{
        char *t = xstrdup("");

        for (size_t i = 0; i < n; i++) {
                char *next = xasprintf("%s%s%" PRIu64 "-%" PRIu64, t, i ? ", " : "", pool[i].start,
                                       pool[i].start + pool[i].size - 1);
                free(t);
                t = next;
        }
        return t;
}

/* Choose the range for w: *start. */
static int choose(struct vessel_store *s, int64_t id, const char *name, const struct wanted *w,
                  const struct id_range *pool, size_t npool, const char *owner, uint64_t *start,
                  vessel_error **err)
{
        /* The shared range is the pool's first block(s); isolated ranges
         * never take it. */
        struct id_range shared = {pool[0].start, w->isolated ? IDRANGE_BLOCK : w->size};
        _cleanup_free_ char *ptext = pool_text(pool, npool);
        struct taken t = {0};
        int r;

        if (!w->isolated) {
                if (!inside_pool(pool, npool, shared.start, w->size))
                        return vessel_error_msg(err, ENOSPC,
                                                "instance %s: the shared range of %" PRIu64
                                                " ids does not fit %s subordinate ids (%s)",
                                                name, w->size, owner, ptext);
                *start = shared.start;
                return 0;
        }
        if ((r = read_taken(s, id, &t, err)) < 0)
                goto out;
        t.v = xrealloc(t.v, (t.n + 1) * sizeof(*t.v));
        t.names = xrealloc(t.names, (t.n + 1) * sizeof(*t.names));
        t.v[t.n] = (struct id_range){pool[0].start, IDRANGE_BLOCK};
        t.names[t.n++] = xstrdup(store_is_rootless(s)
                                     ? "(the images' files, also the shared range of "
                                       "security.idmap.isolated=false)"
                                     : "(the shared range of security.idmap.isolated=false)");
        if (w->has_base) {
                if (!inside_pool(pool, npool, w->base, w->size)) {
                        r = vessel_error_msg(err, EINVAL,
                                             "instance %s: security.idmap.base %" PRIu64
                                             " with size %" PRIu64
                                             " is outside %s subordinate ids (%s)",
                                             name, w->base, w->size, owner, ptext);
                        goto out;
                }
                for (size_t i = 0; i < t.n; i++)
                        if (overlaps(w->base, w->size, &t.v[i])) {
                                r = vessel_error_msg(err, EEXIST,
                                                     "instance %s: security.idmap.base %" PRIu64
                                                     "-%" PRIu64 " overlaps %s%s's ids %" PRIu64
                                                     "-%" PRIu64,
                                                     name, w->base, w->base + w->size - 1,
                                                     t.names[i][0] == '(' ? "" : "instance ",
                                                     t.names[i], t.v[i].start,
                                                     t.v[i].start + t.v[i].size - 1);
                                goto out;
                        }
                *start = w->base;
                r = 0;
                goto out;
        }
        if (idrange_first_fit(pool, npool, t.v, t.n, w->size, start) < 0)
                r = vessel_error_msg(err, ENOSPC,
                                     "instance %s: no free range of %" PRIu64
                                     " ids left in %s subordinate ids (%s, from %s and %s): "
                                     "%zu ranges are taken%s; delete instances or ask for more "
                                     "ids",
                                     name, w->size, owner, ptext, subid_file(true),
                                     subid_file(false), t.n,
                                     store_is_rootless(s) ? " (one of them by the images' files)"
                                                          : "");
out:
        taken_free(&t);
        return r;
}

int idrange_ensure(struct vessel_store *s, int64_t id, const char *name, const struct confset *c,
                   struct instance_idmap *out, vessel_error **err)
{
        _cleanup_free_ struct id_range *pool = NULL;
        _cleanup_free_ struct raw_idmap *raw = NULL;
        _cleanup_free_ char *owner = NULL;
        _cleanup_tx_ struct store_tx tx = {0};
        size_t npool = 0, nraw = 0;
        uint64_t base = 0, size = 0;
        bool isolated = true, found;
        struct wanted w;
        int r;

        *out = (struct instance_idmap){0};
        if (idrange_privileged(c)) {
                out->privileged = true;
                return 0;
        }
        if ((r = read_keys(c, &w, err)) < 0 ||
            (r = idrange_raw_parse(kvlist_get(&c->config, "raw.idmap"), &raw, &nraw, err)) < 0 ||
            (r = read_pool(s, &pool, &npool, &owner, err)) < 0)
                return r;
        /* The raw lines are checked before anything is allocated. */
        if ((r = idrange_build_map(0, w.size, raw, nraw, true, &out->uids, &out->n_uids, err)) < 0 ||
            (r = idrange_build_map(0, w.size, raw, nraw, false, &out->gids, &out->n_gids, err)) <
                0) {
                instance_idmap_free(out);
                return vessel_error_prefix(err, "instance %s", name);
        }
        instance_idmap_free(out);
        if ((r = store_tx_begin(s, &tx, err)) < 0 ||
            (r = idrange_get(s, id, &base, &size, &isolated, &found, err)) < 0)
                return r;
        /* Kept while it still answers the keys and lies in the pool (and,
         * isolated, nobody else took it meanwhile: a fixed base elsewhere). */
        if (!found || size != w.size || isolated != w.isolated || (w.has_base && base != w.base) ||
            !inside_pool(pool, npool, base, size)) {
                if ((r = choose(s, id, name, &w, pool, npool, owner, &base, err)) < 0)
                        return r;
                size = w.size;
                _cleanup_stmt_ sqlite3_stmt *st = NULL;
                if ((r = store_prepare(s,
                                       "INSERT OR REPLACE INTO idmaps (instance_id, base, size, "
                                       "isolated) VALUES (?, ?, ?, ?)",
                                       &st, err)) < 0)
                        return r;
                sqlite3_bind_int64(st, 1, id);
                sqlite3_bind_int64(st, 2, (int64_t)base);
                sqlite3_bind_int64(st, 3, (int64_t)size);
                sqlite3_bind_int(st, 4, w.isolated);
                if ((r = store_step(s, st, err)) < 0 || (r = store_tx_commit(&tx, err)) < 0)
                        return r;
        }
        store_tx_end(&tx);
        out->base = base;
        out->size = size;
        out->isolated = w.isolated;
        if ((r = idrange_build_map(base, size, raw, nraw, true, &out->uids, &out->n_uids, err)) < 0 ||
            (r = idrange_build_map(base, size, raw, nraw, false, &out->gids, &out->n_gids, err)) <
                0) {
                instance_idmap_free(out);
                return vessel_error_prefix(err, "instance %s", name);
        }
        return 0;
}
