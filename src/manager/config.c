/* config.c: key/value lists, the known keys and their validators, and the
 * expansion of profiles and instance keys (Incus's precedence). */
#include "config.h"
#include "idrange.h"
#include "snapshot.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <json-c/json.h>

#include "util.h"

static size_t kvlist_find(const struct kvlist *l, const char *key, bool *found)
{
        return sorted_find(l->v, l->n, sizeof(l->v[0]), offsetof(__typeof__(l->v[0]), key), key,
                           found);
}

const char *kvlist_get(const struct kvlist *l, const char *key)
{
        bool found;
        size_t i = kvlist_find(l, key, &found);

        return found ? l->v[i].value : NULL;
}

void kvlist_set(struct kvlist *l, const char *key, const char *value)
{
        bool found;
        size_t i = kvlist_find(l, key, &found);

        if (found) {
                free(l->v[i].value);
                l->v[i].value = xstrdup(value);
                return;
        }
        l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
        if (!l->v)
                abort();
        memmove(l->v + i + 1, l->v + i, (l->n - i) * sizeof(*l->v));
        l->v[i] = (struct kv){xstrdup(key), xstrdup(value)};
        l->n++;
}

int kvlist_unset(struct kvlist *l, const char *key)
{
        bool found;
        size_t i = kvlist_find(l, key, &found);

        if (!found)
                return 0;
        free(l->v[i].key);
        free(l->v[i].value);
        memmove(l->v + i, l->v + i + 1, (l->n - i - 1) * sizeof(*l->v));
        l->n--;
        return 1;
}

void kvlist_copy(struct kvlist *dst, const struct kvlist *src)
{
        *dst = (struct kvlist){0};
        for (size_t i = 0; i < src->n; i++)
                kvlist_set(dst, src->v[i].key, src->v[i].value);
}

void kvlist_free(struct kvlist *l)
{
        for (size_t i = 0; i < l->n; i++) {
                free(l->v[i].key);
                free(l->v[i].value);
        }
        free(l->v);
        *l = (struct kvlist){0};
}

static size_t devlist_find(const struct devlist *l, const char *name, bool *found)
{
        size_t i = 0;

        while (i < l->n && strcmp(l->v[i].name, name) < 0)
                i++;
        *found = i < l->n && !strcmp(l->v[i].name, name);
        return i;
}

struct device *devlist_get(const struct devlist *l, const char *name)
{
        bool found;
        size_t i = devlist_find(l, name, &found);

        return found ? &l->v[i] : NULL;
}

void device_copy(struct device *dst, const struct device *src)
{
        dst->name = xstrdup(src->name);
        dst->type = xstrdup(src->type);
        kvlist_copy(&dst->cfg, &src->cfg);
}

void device_free(struct device *d)
{
        free(d->name);
        free(d->type);
        kvlist_free(&d->cfg);
}

void devlist_set(struct devlist *l, const struct device *d)
{
        bool found;
        size_t i = devlist_find(l, d->name, &found);

        if (found) {
                device_free(&l->v[i]);
        } else {
                l->v = realloc(l->v, (l->n + 1) * sizeof(*l->v));
                if (!l->v)
                        abort();
                memmove(l->v + i + 1, l->v + i, (l->n - i) * sizeof(*l->v));
                l->n++;
        }
        device_copy(&l->v[i], d);
}

int devlist_remove(struct devlist *l, const char *name)
{
        bool found;
        size_t i = devlist_find(l, name, &found);

        if (!found)
                return 0;
        device_free(&l->v[i]);
        memmove(l->v + i, l->v + i + 1, (l->n - i - 1) * sizeof(*l->v));
        l->n--;
        return 1;
}

void devlist_free(struct devlist *l)
{
        for (size_t i = 0; i < l->n; i++)
                device_free(&l->v[i]);
        free(l->v);
        *l = (struct devlist){0};
}

void confset_copy(struct confset *dst, const struct confset *src)
{
        dst->description = xstrdup(src->description ? src->description : "");
        kvlist_copy(&dst->config, &src->config);
        dst->devices = (struct devlist){0};
        for (size_t i = 0; i < src->devices.n; i++)
                devlist_set(&dst->devices, &src->devices.v[i]);
}

void confset_free(struct confset *c)
{
        free(c->description);
        c->description = NULL;
        kvlist_free(&c->config);
        devlist_free(&c->devices);
}

void config_expand(const struct confset *profiles, size_t n, const struct confset *own,
                   struct confset *out)
{
        *out = (struct confset){.description = xstrdup(own->description ? own->description : "")};
        for (size_t p = 0; p <= n; p++) {
                const struct confset *c = p < n ? &profiles[p] : own;
                for (size_t i = 0; i < c->config.n; i++)
                        kvlist_set(&out->config, c->config.v[i].key, c->config.v[i].value);
                for (size_t i = 0; i < c->devices.n; i++)
                        devlist_set(&out->devices, &c->devices.v[i]);
        }
}

/* Value parsers. */

int config_parse_bool(const char *s, bool *out)
{
        static const char *const yes[] = {"true", "1", "yes", "on"};
        static const char *const no[] = {"false", "0", "no", "off"};

        for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
                if (!strcasecmp(s, yes[i])) {
                        *out = true;
                        return 0;
                }
                if (!strcasecmp(s, no[i])) {
                        *out = false;
                        return 0;
                }
        }
        return -EINVAL;
}

/* A non-negative decimal integer, all of s (no sign, no spaces). */
static int parse_uint(const char *s, long long *out)
{
        char *end;

        if (!isdigit((unsigned char)s[0]))
                return -EINVAL;
        errno = 0;
        *out = strtoll(s, &end, 10);
        return errno || *end ? -EINVAL : 0;
}

static int parse_int(const char *s, long long *out)
{
        return parse_uint(s[0] == '-' ? s + 1 : s, out) < 0
                   ? -EINVAL
                   : (*out = s[0] == '-' ? -*out : *out, 0);
}

/* Incus's units: decimal (kB, MB, ...) and binary (KiB, MiB, ...). */
int config_parse_size(const char *s, long long *bytes, bool *percent)
{
        static const struct {
                const char *suffix;
                long long mult;
        } units[] = {
            {"B", 1},
            {"kB", 1000LL},
            {"KB", 1000LL},
            {"MB", 1000LL * 1000},
            {"GB", 1000LL * 1000 * 1000},
            {"TB", 1000LL * 1000 * 1000 * 1000},
            {"PB", 1000LL * 1000 * 1000 * 1000 * 1000},
            {"EB", 1000LL * 1000 * 1000 * 1000 * 1000 * 1000},
            {"KiB", 1LL << 10},
            {"MiB", 1LL << 20},
            {"GiB", 1LL << 30},
            {"TiB", 1LL << 40},
            {"PiB", 1LL << 50},
            {"EiB", 1LL << 60},
        };
        size_t digits = strspn(s, "0123456789");
        _cleanup_free_ char *num = strndup(s, digits);
        const char *suffix = s + digits;
        long long v;

        *percent = false;
        if (!digits || parse_uint(num, &v) < 0)
                return -EINVAL;
        if (!strcmp(suffix, "%")) {
                if (v > 100)
                        return -EINVAL;
                *percent = true;
                *bytes = v;
                return 0;
        }
        if (!*suffix) {
                *bytes = v;
                return 0;
        }
        for (size_t i = 0; i < ARRAY_SIZE(units); i++)
                if (!strcmp(suffix, units[i].suffix)) {
                        if (v > LLONG_MAX / units[i].mult)
                                return -EINVAL;
                        *bytes = v * units[i].mult;
                        return 0;
                }
        return -EINVAL;
}

int config_parse_signal(const char *s, int *sig)
{
        static const struct {
                const char *name;
                int sig;
        } names[] = {
            {"HUP", SIGHUP},   {"INT", SIGINT},   {"QUIT", SIGQUIT}, {"KILL", SIGKILL},
            {"USR1", SIGUSR1}, {"USR2", SIGUSR2}, {"TERM", SIGTERM}, {"PWR", SIGPWR},
            {"CONT", SIGCONT}, {"STOP", SIGSTOP}, {"ALRM", SIGALRM}, {"WINCH", SIGWINCH},
            {"ABRT", SIGABRT}, {"CHLD", SIGCHLD}, {"TSTP", SIGTSTP}, {"XCPU", SIGXCPU},
        };
        const char *n = str_has_prefix(s, "SIG") ? s + 3 : s;
        long long v;

        if (parse_uint(s, &v) == 0) {
                if (v < 1 || v > SIGRTMAX)
                        return -EINVAL;
                *sig = (int)v;
                return 0;
        }
        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (!strcmp(n, names[i].name)) {
                        *sig = names[i].sig;
                        return 0;
                }
        if (str_has_prefix(n, "RTMIN") || str_has_prefix(n, "RTMAX")) {
                bool min = n[3] == 'I';
                const char *off = n + 5;
                v = 0;
                if (*off &&
                    ((min && *off != '+') || (!min && *off != '-') || parse_uint(off + 1, &v) < 0))
                        return -EINVAL;
                *sig = min ? SIGRTMIN + (int)v : SIGRTMAX - (int)v;
                return *sig >= SIGRTMIN && *sig <= SIGRTMAX ? 0 : -EINVAL;
        }
        return -EINVAL;
}

int config_parse_cpus(const char *s, bool *is_set, long long *count)
{
        _cleanup_free_ char *copy = xstrdup(s);
        char *save = NULL;
        long long n = 0;

        if (parse_uint(s, count) == 0) {
                *is_set = false;
                return *count >= 1 ? 0 : -EINVAL;
        }
        if (!*s || s[0] == ',' || s[strlen(s) - 1] == ',' || strstr(s, ",,"))
                return -EINVAL;
        for (char *part = strtok_r(copy, ",", &save); part; part = strtok_r(NULL, ",", &save)) {
                char *dash = strchr(part, '-');
                long long lo, hi;
                if (dash)
                        *dash = '\0';
                if (parse_uint(part, &lo) < 0 || (dash && parse_uint(dash + 1, &hi) < 0))
                        return -EINVAL;
                if (!dash)
                        hi = lo;
                if (hi < lo || hi > 8191)
                        return -EINVAL;
                n += hi - lo + 1;
        }
        *is_set = true;
        *count = n;
        return 0;
}

/* Validators: 0, or -EINVAL for a value that is not what the key wants. */

static int v_bool(const char *s)
{
        bool b;
        return config_parse_bool(s, &b);
}

static int v_int(const char *s)
{
        long long v;
        return parse_int(s, &v);
}

static int v_uint(const char *s)
{
        long long v;
        return parse_uint(s, &v);
}

static int v_positive(const char *s)
{
        long long v;
        return parse_uint(s, &v) < 0 || v < 1 ? -EINVAL : 0;
}

static int v_size(const char *s)
{
        long long v;
        bool pct;
        return config_parse_size(s, &v, &pct);
}

static int v_cpus(const char *s)
{
        bool set;
        long long n;
        return config_parse_cpus(s, &set, &n);
}

/* A Go-style duration of ms or us, s: "25ms", "1s", "100us". */
static int duration_us(const char *s, long long *us)
{
        size_t digits = strspn(s, "0123456789");
        _cleanup_free_ char *num = strndup(s, digits);
        const char *u = s + digits;
        long long v;

        if (!digits || parse_uint(num, &v) < 0)
                return -EINVAL;
        if (!strcmp(u, "us"))
                *us = v;
        else if (!strcmp(u, "ms"))
                *us = v * 1000;
        else if (!strcmp(u, "s"))
                *us = v * 1000000;
        else
                return -EINVAL;
        return 0;
}

static int v_allowance(const char *s)
{
        const char *slash = strchr(s, '/');
        size_t len = strlen(s);
        long long a, b;

        if (!slash) {
                _cleanup_free_ char *num = strndup(s, len ? len - 1 : 0);
                return len >= 2 && s[len - 1] == '%' && parse_uint(num, &a) == 0 && a >= 1 &&
                               a <= 100
                           ? 0
                           : -EINVAL;
        }
        _cleanup_free_ char *quota = strndup(s, (size_t)(slash - s));
        if (duration_us(quota, &a) < 0 || duration_us(slash + 1, &b) < 0 || a < 1000 || b < 1000 ||
            b > 1000000)
                return -EINVAL;
        return 0;
}

static int v_signal(const char *s)
{
        int sig;
        return config_parse_signal(s, &sig);
}

static int v_json_object(const char *s)
{
        json_tokener *tok = json_tokener_new();
        json_object *o = json_tokener_parse_ex(tok, s, (int)strlen(s));
        bool ok = o && json_tokener_get_error(tok) == json_tokener_success &&
                  (size_t)json_tokener_get_parse_end(tok) == strlen(s) &&
                  json_object_is_type(o, json_type_object);

        json_object_put(o);
        json_tokener_free(tok);
        return ok ? 0 : -EINVAL;
}

/* What vesselctl rename/copy/init leave for the next start (template.h). */
static int v_trigger(const char *s)
{
        return !strcmp(s, "create") || !strcmp(s, "copy") || !strcmp(s, "rename") ? 0 : -EINVAL;
}

/* security.idmap.size: a positive multiple of 65536. */
static int v_idmap_size(const char *s)
{
        long long v;
        return parse_uint(s, &v) < 0 || v < 1 || v % 65536 || v > UINT32_MAX ? -EINVAL : 0;
}

static int v_host_id(const char *s)
{
        long long v;
        return parse_uint(s, &v) < 0 || v < 1 || v >= UINT32_MAX ? -EINVAL : 0;
}

static int v_raw_idmap(const char *s)
{
        _cleanup_free_ struct raw_idmap *m = NULL;
        vessel_error *e = NULL;
        size_t n;
        int r = idrange_raw_parse(s, &m, &n, &e);

        vessel_error_free(&e);
        return r < 0 ? -EINVAL : 0;
}

int config_parse_rlimit(const char *s, uint64_t *soft, uint64_t *hard)
{
        const char *colon = strchr(s, ':');
        _cleanup_free_ char *a = colon ? strndup(s, (size_t)(colon - s)) : strdup(s);
        const char *b = colon ? colon + 1 : s;
        long long v;

        if (!strcmp(a, "unlimited"))
                *soft = UINT64_MAX;
        else if (parse_uint(a, &v) == 0)
                *soft = (uint64_t)v;
        else
                return -EINVAL;
        if (!strcmp(b, "unlimited"))
                *hard = UINT64_MAX;
        else if (parse_uint(b, &v) == 0)
                *hard = (uint64_t)v;
        else
                return -EINVAL;
        return *soft <= *hard ? 0 : -EINVAL;
}

static int v_rlimit(const char *s)
{
        uint64_t a, b;
        return config_parse_rlimit(s, &a, &b);
}

static int v_expiry(const char *s)
{
        int64_t t;
        return snapshot_expiry_parse(s, (int64_t)time(NULL), &t, NULL);
}

static int v_any(const char *s)
{
        (void)s;
        return 0;
}

struct key_type {
        const char *name; /* exact, or a prefix ending in '.' */
        int (*check)(const char *value);
        const char *expected; /* "is not WHAT" */
};

static const struct key_type known_keys[] = {
    {"limits.memory", v_size, "a size (like 512MiB or 50%)"},
    {"limits.memory.swap", v_bool, "a boolean (true or false)"},
    {"limits.cpu", v_cpus, "a CPU count or set (like 2 or 0-1,3)"},
    {"limits.cpu.allowance", v_allowance, "a CPU allowance (like 50% or 25ms/100ms)"},
    {"limits.processes", v_positive, "a positive integer"},
    {"boot.autostart", v_bool, "a boolean (true or false)"},
    {"boot.autostart.priority", v_int, "an integer"},
    {"boot.autostart.delay", v_uint, "a number of seconds"},
    {"boot.stop.priority", v_int, "an integer"},
    {"boot.host_shutdown_timeout", v_uint, "a number of seconds"},
    {"boot.stop.signal", v_signal, "a signal (like SIGRTMIN+3, SIGPWR or 15)"},
    {"security.privileged", v_bool, "a boolean (true or false)"},
    {"security.syscalls.intercept.mknod", v_bool, "a boolean (true or false)"},
    {"security.idmap.size", v_idmap_size, "a positive multiple of 65536"},
    {"security.idmap.base", v_host_id, "a host id (a positive integer below 2^32-1)"},
    {"security.idmap.isolated", v_bool, "a boolean (true or false)"},
    {"raw.idmap", v_raw_idmap, "lines of \"uid|gid|both HOST[-HOST] CONTAINER[-CONTAINER]\""},
#define RLIMIT_KEY(n) {"limits.kernel." n, v_rlimit, "a limit (N, unlimited, or SOFT:HARD)"}
    RLIMIT_KEY("as"), RLIMIT_KEY("core"), RLIMIT_KEY("cpu"), RLIMIT_KEY("data"),
    RLIMIT_KEY("fsize"), RLIMIT_KEY("locks"), RLIMIT_KEY("memlock"), RLIMIT_KEY("msgqueue"),
    RLIMIT_KEY("nice"), RLIMIT_KEY("nofile"), RLIMIT_KEY("nproc"), RLIMIT_KEY("rss"),
    RLIMIT_KEY("rtprio"), RLIMIT_KEY("rttime"), RLIMIT_KEY("sigpending"), RLIMIT_KEY("stack"),
#undef RLIMIT_KEY
    {"security.fuse", v_bool, "a boolean (true or false)"},
    {"security.lxcfs", v_bool, "a boolean (true or false)"},
    {"raw.oci", v_json_object, "a JSON object"},
    {"snapshots.expiry", v_expiry,
     "an expiry (like 1d 3H: S seconds, M minutes, H hours, d days, w weeks, m months, y "
     "years)"},
    {"volatile.apply_template", v_trigger, "a template trigger (create, copy or rename)"},
    {"environment.", v_any, NULL},
    {"user.", v_any, NULL},
};

static const struct key_type *key_lookup(const char *key)
{
        for (size_t i = 0; i < ARRAY_SIZE(known_keys); i++) {
                const char *n = known_keys[i].name;
                size_t len = strlen(n);
                if (n[len - 1] == '.' ? str_has_prefix(key, n) && key[len] : !strcmp(key, n))
                        return &known_keys[i];
        }
        return NULL;
}

int config_check(const char *key, const char *value, vessel_error **err)
{
        const struct key_type *k = key_lookup(key);

        if (!k)
                return vessel_error_msg(err, EINVAL,
                                        "%s: unknown configuration key (see vesselctl config "
                                        "--help for the keys)",
                                        key);
        if (k->check(value) < 0)
                return vessel_error_msg(err, EINVAL, "%s: \"%s\" is not %s", key, value,
                                        k->expected);
        return 0;
}

int config_check_all(const struct kvlist *l, vessel_error **err)
{
        for (size_t i = 0; i < l->n; i++)
                if (config_check(l->v[i].key, l->v[i].value, err) < 0)
                        return -EINVAL;
        return 0;
}
