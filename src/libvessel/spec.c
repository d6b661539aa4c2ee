/* spec.c: parse and validate an OCI runtime config.json (runtime-spec 1.x)
 * into the structs of spec.h.  Everything the runtime will act on is
 * checked here, so that a bad config fails before anything is created.
 *
 * Unknown keys are ignored and JSON null counts as absent.  Every error
 * message starts with the JSON path of the offending value. */
#include "spec.h"
#include "util.h"

#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>

/* ioprio classes (linux/ioprio.h; not exported by glibc) */
#define IOPRIO_CLASS_RT_ 1
#define IOPRIO_CLASS_BE_ 2
#define IOPRIO_CLASS_IDLE_ 3

#define HOST_NAME_MAX_ 64 /* sethostname(2)/setdomainname(2) limit */
#define CPU_NUMBER_MAX (1u << 22)

/* ------------------------------------------------------------------ */
/* JSON paths and errors                                               */

/* A value's position: member 'key' (if any) of the value at 'where',
 * then element 'idx' (if >= 0) of that.  'where' is "" at the top. */
struct loc {
        const char *where;
        const char *key;
        ssize_t idx;
};
#define AT(w, k) ((struct loc){(w), (k), -1})
#define AT_IDX(w, k, i) ((struct loc){(w), (k), (ssize_t)(i)})

static char *loc_path(struct loc l)
{
        const char *sep = l.where[0] && l.key ? "." : "";
        const char *key = l.key ? l.key : "";

        if (l.idx >= 0)
                return xasprintf("%s%s%s[%zd]", l.where, sep, key, l.idx);
        return xasprintf("%s%s%s", l.where, sep, key);
}

/* Path of a member of a JSON map (annotations, sysctl, ...): a["k"]. */
static char *map_path(const char *where, const char *key, const char *name)
{
        _cleanup_free_ char *base = loc_path(AT(where, key));
        return xasprintf("%s[\"%s\"]", base, name);
}

static int fail(vessel_error **err, struct loc l, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));
static int fail(vessel_error **err, struct loc l, const char *fmt, ...)
{
        _cleanup_free_ char *path = loc_path(l);
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        va_end(ap);
        return vessel_error_msg(err, EINVAL, "%s: %s", path, msg);
}

/* Return from the calling function if expr fails (is negative). */
#define TRY(expr)                          \
        do {                               \
                int r_ = (expr);           \
                if (r_ < 0)                \
                        return r_;         \
        } while (0)

/* ------------------------------------------------------------------ */
/* Typed access to JSON values                                          */

/* Member 'key' of object o; NULL when missing or null. */
static json_object *member(json_object *o, const char *key)
{
        json_object *v = NULL;

        if (!json_object_object_get_ex(o, key, &v))
                return NULL;
        return v;
}

static const char *type_name(json_type t)
{
        switch (t) {
        case json_type_object:
                return "an object";
        case json_type_array:
                return "an array";
        case json_type_string:
                return "a string";
        case json_type_boolean:
                return "a boolean";
        default:
                return "an integer";
        }
}

static int expect(json_object *v, json_type t, struct loc l, vessel_error **err)
{
        if (v && json_object_is_type(v, t))
                return 0;
        return fail(err, l, "expected %s", type_name(t));
}

static int conv_str(json_object *v, struct loc l, char **out, vessel_error **err)
{
        const char *s;
        int r = expect(v, json_type_string, l, err);

        if (r < 0)
                return r;
        s = json_object_get_string(v);
        if ((size_t)json_object_get_string_len(v) != strlen(s))
                return fail(err, l, "must not contain NUL bytes");
        free(*out);
        *out = xstrdup(s);
        return 0;
}

/* An integer as sign and magnitude, so that both the int64 and the uint64
 * ranges can be checked exactly.  Integral floating point values (1e3)
 * are accepted too. */
static int conv_integer(json_object *v, struct loc l, bool *neg, uint64_t *mag, vessel_error **err)
{
        if (json_object_is_type(v, json_type_int)) {
                int64_t i = json_object_get_int64(v);

                *neg = i < 0;
                *mag = i < 0 ? (uint64_t)(-(i + 1)) + 1 : json_object_get_uint64(v);
                return 0;
        }
        if (json_object_is_type(v, json_type_double)) {
                double d = json_object_get_double(v);
                double a = d < 0 ? -d : d;

                /* also rejects NaN and infinities */
                if (a < 18446744073709551616.0) {
                        uint64_t m = (uint64_t)a;
                        if ((double)m == a) {
                                *neg = d < 0 && m != 0;
                                *mag = m;
                                return 0;
                        }
                }
        }
        return fail(err, l, "expected an integer");
}

static int out_of_range(vessel_error **err, struct loc l, bool neg, uint64_t mag, int64_t min,
                        uint64_t max)
{
        return fail(err, l, "%s%llu is out of range (%lld..%llu)", neg ? "-" : "",
                    (unsigned long long)mag, (long long)min, (unsigned long long)max);
}

static int conv_uint(json_object *v, struct loc l, uint64_t min, uint64_t max, uint64_t *out,
                     vessel_error **err)
{
        bool neg;
        uint64_t mag;
        int r = conv_integer(v, l, &neg, &mag, err);

        if (r < 0)
                return r;
        if (neg || mag < min || mag > max)
                return out_of_range(err, l, neg, mag, (int64_t)min, max);
        *out = mag;
        return 0;
}

static int conv_int(json_object *v, struct loc l, int64_t min, int64_t max, int64_t *out,
                    vessel_error **err)
{
        bool neg;
        uint64_t mag;
        int r = conv_integer(v, l, &neg, &mag, err);

        if (r < 0)
                return r;
        if (neg) {
                /* -mag >= min, computed without overflow */
                if (min >= 0 || mag - 1 > (uint64_t)(-(min + 1)))
                        return out_of_range(err, l, neg, mag, min, (uint64_t)max);
                *out = -(int64_t)(mag - 1) - 1;
        } else {
                if (max < 0 || mag > (uint64_t)max || (int64_t)mag < min)
                        return out_of_range(err, l, neg, mag, min, (uint64_t)max);
                *out = (int64_t)mag;
        }
        return 0;
}

/* The get_* helpers read member 'key' of object o, whose path is 'where'.
 * They return 0 when the member is missing or null (leaving *out alone),
 * 1 once it is stored in *out, or a negative errno with *err filled. */

static int get_str(json_object *o, const char *where, const char *key, char **out,
                   vessel_error **err)
{
        json_object *v = member(o, key);
        int r;

        if (!v)
                return 0;
        r = conv_str(v, AT(where, key), out, err);
        return r < 0 ? r : 1;
}

static int get_uint(json_object *o, const char *where, const char *key, uint64_t min,
                    uint64_t max, uint64_t *out, vessel_error **err)
{
        json_object *v = member(o, key);
        int r;

        if (!v)
                return 0;
        r = conv_uint(v, AT(where, key), min, max, out, err);
        return r < 0 ? r : 1;
}

static int get_int(json_object *o, const char *where, const char *key, int64_t min, int64_t max,
                   int64_t *out, vessel_error **err)
{
        json_object *v = member(o, key);
        int r;

        if (!v)
                return 0;
        r = conv_int(v, AT(where, key), min, max, out, err);
        return r < 0 ? r : 1;
}

static int get_u32(json_object *o, const char *where, const char *key, uint32_t *out,
                   vessel_error **err)
{
        uint64_t v;
        int r = get_uint(o, where, key, 0, UINT32_MAX, &v, err);

        if (r > 0)
                *out = (uint32_t)v;
        return r;
}

static int get_opt_u64(json_object *o, const char *where, const char *key, uint64_t min,
                       uint64_t max, struct vessel_opt_u64 *out, vessel_error **err)
{
        int r = get_uint(o, where, key, min, max, &out->v, err);

        out->set = r > 0;
        return r;
}

static int get_opt_i64(json_object *o, const char *where, const char *key, int64_t min,
                       int64_t max, struct vessel_opt_i64 *out, vessel_error **err)
{
        int r = get_int(o, where, key, min, max, &out->v, err);

        out->set = r > 0;
        return r;
}

/* Turn "missing" into an error for required members. */
static int required(int r, const char *where, const char *key, vessel_error **err)
{
        if (r == 0)
                return fail(err, AT(where, key), "required");
        return r;
}

static int get_typed(json_object *o, const char *where, const char *key, json_type t,
                     json_object **out, vessel_error **err)
{
        json_object *v = member(o, key);
        int r;

        if (!v)
                return 0;
        r = expect(v, t, AT(where, key), err);
        if (r < 0)
                return r;
        *out = v;
        return 1;
}

static int get_bool(json_object *o, const char *where, const char *key, bool *out,
                    vessel_error **err)
{
        json_object *v;
        int r = get_typed(o, where, key, json_type_boolean, &v, err);

        if (r > 0)
                *out = json_object_get_boolean(v);
        return r;
}

static int get_object(json_object *o, const char *where, const char *key, json_object **out,
                      vessel_error **err)
{
        return get_typed(o, where, key, json_type_object, out, err);
}

static int get_array(json_object *o, const char *where, const char *key, json_object **out,
                     size_t *n, vessel_error **err)
{
        int r = get_typed(o, where, key, json_type_array, out, err);

        if (r > 0)
                *n = json_object_array_length(*out);
        return r;
}

/* An array of strings, stored NULL-terminated. */
static int get_strv(json_object *o, const char *where, const char *key, char ***out, size_t *n,
                    vessel_error **err)
{
        json_object *a;
        size_t len;
        char **v;
        int r = get_array(o, where, key, &a, &len, err);

        if (r <= 0)
                return r;
        v = xmalloc0((len + 1) * sizeof(char *));
        *out = v;
        *n = len;
        for (size_t i = 0; i < len; i++) {
                r = conv_str(json_object_array_get_idx(a, i), AT_IDX(where, key, i), &v[i], err);
                if (r < 0)
                        return r;
        }
        return 1;
}

/* An array of uint32 numbers. */
static int get_u32_array(json_object *o, const char *where, const char *key, uint32_t **out,
                         size_t *n, vessel_error **err)
{
        json_object *a;
        size_t len;
        int r = get_array(o, where, key, &a, &len, err);

        if (r <= 0 || len == 0)
                return r;
        *out = xmalloc0(len * sizeof(uint32_t));
        *n = len;
        for (size_t i = 0; i < len; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                uint64_t v;

                if (!e)
                        return fail(err, AT_IDX(where, key, i), "expected an integer");
                r = conv_uint(e, AT_IDX(where, key, i), 0, UINT32_MAX, &v, err);
                if (r < 0)
                        return r;
                (*out)[i] = (uint32_t)v;
        }
        return 1;
}

/* An object of string -> string, in document order. */
static int get_kv(json_object *o, const char *where, const char *key, struct vessel_kv **out,
                  size_t *n, vessel_error **err)
{
        json_object *obj;
        struct vessel_kv *kv;
        int r = get_object(o, where, key, &obj, err);

        if (r <= 0)
                return r;
        kv = xmalloc0(((size_t)json_object_object_length(obj) + 1) * sizeof(*kv));
        *out = kv;
        *n = 0;
        json_object_object_foreach(obj, k, jv)
        {
                _cleanup_free_ char *path = NULL;

                if (!jv)
                        continue;
                kv[*n].key = xstrdup(k);
                path = map_path(where, key, k);
                r = conv_str(jv, AT(path, NULL), &kv[(*n)++].value, err);
                if (r < 0)
                        return r;
        }
        return 1;
}

struct name_val {
        const char *name;
        long val;
};

/* A string naming one entry of a table (terminated by a NULL name). */
static int get_enum(json_object *o, const char *where, const char *key,
                    const struct name_val *tab, const char *what, long *out, vessel_error **err)
{
        _cleanup_free_ char *s = NULL;
        int r = get_str(o, where, key, &s, err);

        if (r <= 0)
                return r;
        for (size_t i = 0; tab[i].name; i++) {
                if (!strcmp(tab[i].name, s)) {
                        *out = tab[i].val;
                        return 1;
                }
        }
        return fail(err, AT(where, key), "unknown %s \"%s\"", what, s);
}

static int check_name(const char *s, const char *const *names, const char *what, struct loc l,
                      vessel_error **err)
{
        if (vessel_name_index(names, s) < 0)
                return fail(err, l, "unknown %s \"%s\"", what, s);
        return 0;
}

/* A string that must be one of names[], stored as is. */
static int get_name(json_object *o, const char *where, const char *key, const char *const *names,
                    const char *what, char **out, vessel_error **err)
{
        int r = get_str(o, where, key, out, err);

        if (r <= 0)
                return r;
        r = check_name(*out, names, what, AT(where, key), err);
        return r < 0 ? r : 1;
}

/* An array of strings each of which must be one of names[]. */
static int get_names(json_object *o, const char *where, const char *key, const char *const *names,
                     const char *what, char ***out, size_t *n, vessel_error **err)
{
        int r = get_strv(o, where, key, out, n, err);

        if (r <= 0)
                return r;
        for (size_t i = 0; i < *n; i++) {
                r = check_name((*out)[i], names, what, AT_IDX(where, key, i), err);
                if (r < 0)
                        return r;
        }
        return 1;
}

static int get_abs_path(json_object *o, const char *where, const char *key, char **out,
                        vessel_error **err)
{
        int r = get_str(o, where, key, out, err);

        if (r > 0 && (*out)[0] != '/')
                return fail(err, AT(where, key), "must be an absolute path");
        return r;
}

static int get_abs_paths(json_object *o, const char *where, const char *key, char ***out,
                         size_t *n, vessel_error **err)
{
        int r = get_strv(o, where, key, out, n, err);

        if (r <= 0)
                return r;
        for (size_t i = 0; i < *n; i++)
                if ((*out)[i][0] != '/')
                        return fail(err, AT_IDX(where, key, i), "must be an absolute path");
        return 1;
}

static bool parse_cpu_number(const char **p, unsigned long *v)
{
        if (**p < '0' || **p > '9')
                return false;
        *v = 0;
        while (**p >= '0' && **p <= '9') {
                *v = *v * 10 + (unsigned long)(**p - '0');
                if (*v > CPU_NUMBER_MAX)
                        return false;
                (*p)++;
        }
        return true;
}

/* "0-3,5,7-8": comma separated numbers and ascending ranges. */
static bool cpu_list_valid(const char *s)
{
        const char *p = s;

        for (;;) {
                unsigned long lo, hi;

                if (!parse_cpu_number(&p, &lo))
                        return false;
                if (*p == '-') {
                        p++;
                        if (!parse_cpu_number(&p, &hi) || hi < lo)
                                return false;
                }
                if (*p == '\0')
                        return true;
                if (*p++ != ',')
                        return false;
        }
}

/* A cpu/memory-node list; "" means "not set" and is stored as NULL. */
static int get_cpu_list(json_object *o, const char *where, const char *key, char **out,
                        vessel_error **err)
{
        int r = get_str(o, where, key, out, err);

        if (r <= 0)
                return r;
        if ((*out)[0] == '\0') {
                free(*out);
                *out = NULL;
                return 0;
        }
        if (!cpu_list_valid(*out))
                return fail(err, AT(where, key), "invalid cpu list \"%s\"", *out);
        return 1;
}

/* Parses the object o (at 'path') into 'item'; used both for the elements
 * of arrays of objects and for nested objects. */
typedef int (*obj_parser)(json_object *o, const char *path, void *item, vessel_error **err);

/* A nested object: calls fn on it with its path. */
static int get_sub(json_object *o, const char *where, const char *key, obj_parser fn, void *item,
                   vessel_error **err)
{
        _cleanup_free_ char *path = NULL;
        json_object *v;
        int r = get_object(o, where, key, &v, err);

        if (r <= 0)
                return r;
        path = loc_path(AT(where, key));
        r = fn(v, path, item, err);
        return r < 0 ? r : 1;
}

/* Element i of array a (member 'key' of 'where'), which must be an object. */
static int object_at(json_object *a, const char *where, const char *key, size_t i,
                     json_object **e, char **path, vessel_error **err)
{
        *e = json_object_array_get_idx(a, i);
        *path = loc_path(AT_IDX(where, key, i));
        return expect(*e, json_type_object, AT(*path, NULL), err);
}

/* An array of objects: allocates *out (items of 'size' bytes, zeroed) and
 * calls fn on each.  *out and *n are set before the items are parsed, so
 * that on error the owner's free function releases the partial result. */
static int get_obj_array(json_object *o, const char *where, const char *key, size_t size,
                         void **out, size_t *n, obj_parser fn, vessel_error **err)
{
        json_object *a;
        size_t len;
        char *items;
        int r = get_array(o, where, key, &a, &len, err);

        if (r <= 0 || len == 0)
                return r;
        items = xmalloc0(len * size);
        *out = items;
        *n = len;
        for (size_t i = 0; i < len; i++) {
                _cleanup_free_ char *path = NULL;
                json_object *e;

                TRY(object_at(a, where, key, i, &e, &path, err));
                TRY(fn(e, path, items + i * size, err));
        }
        return 1;
}

#define GET_OBJ_ARRAY(o, where, key, arr, n, fn, err)                                        \
        get_obj_array((o), (where), (key), sizeof(*(arr)), (void **)&(arr), &(n), (fn), (err))

/* ------------------------------------------------------------------ */
/* Freeing                                                              */

static void kv_free(struct vessel_kv *kv, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(kv[i].key);
                free(kv[i].value);
        }
        free(kv);
}

#define FREE_ARRAY(arr, n, clear_fn)                         \
        do {                                                 \
                for (size_t i_ = 0; i_ < (n); i_++)          \
                        clear_fn(&(arr)[i_]);                \
                free(arr);                                   \
        } while (0)

static void process_clear(struct vessel_process *p)
{
        free(p->user.additional_gids);
        free(p->user.username);
        strv_free(p->args);
        free(p->command_line);
        strv_free(p->env);
        free(p->cwd);
        free(p->rlimits);
        free(p->apparmor_profile);
        free(p->selinux_label);
        free(p->exec_cpu_affinity_initial);
        free(p->exec_cpu_affinity_final);
}

void vessel_process_free(struct vessel_process *p)
{
        if (!p)
                return;
        process_clear(p);
        free(p);
}

static void mount_clear(struct vessel_mount *m)
{
        free(m->destination);
        free(m->type);
        free(m->source);
        strv_free(m->options);
        mount_opts_free(&m->opts);
        free(m->uid_mappings);
        free(m->gid_mappings);
}

static void hook_clear(struct vessel_hook *h)
{
        free(h->path);
        strv_free(h->args);
        strv_free(h->env);
}

static void device_clear(struct vessel_device *d)
{
        free(d->path);
}

static void device_rule_clear(struct vessel_device_rule *d)
{
        free(d->access);
}

static void hugepage_clear(struct vessel_hugepage_limit *h)
{
        free(h->page_size);
}

static void net_prio_clear(struct vessel_net_priority *p)
{
        free(p->name);
}

static void rdma_clear(struct vessel_rdma_limit *l)
{
        free(l->device);
}

static void syscall_clear(struct vessel_seccomp_syscall *s)
{
        strv_free(s->names);
        free(s->action);
        for (size_t i = 0; i < s->n_args; i++)
                free(s->args[i].op);
        free(s->args);
}

static void resources_clear(struct vessel_resources *r)
{
        FREE_ARRAY(r->devices, r->n_devices, device_rule_clear);
        free(r->cpu.cpus);
        free(r->cpu.mems);
        free(r->block_io.weight_device);
        free(r->block_io.throttle_read_bps);
        free(r->block_io.throttle_write_bps);
        free(r->block_io.throttle_read_iops);
        free(r->block_io.throttle_write_iops);
        FREE_ARRAY(r->hugepage_limits, r->n_hugepage_limits, hugepage_clear);
        FREE_ARRAY(r->network.priorities, r->network.n_priorities, net_prio_clear);
        FREE_ARRAY(r->rdma, r->n_rdma, rdma_clear);
        kv_free(r->unified, r->n_unified);
}

static void seccomp_clear(struct vessel_seccomp *s)
{
        free(s->default_action);
        strv_free(s->architectures);
        strv_free(s->flags);
        free(s->listener_path);
        free(s->listener_metadata);
        FREE_ARRAY(s->syscalls, s->n_syscalls, syscall_clear);
}

static void linux_clear(struct vessel_linux *l)
{
        for (int i = 0; i < VESSEL_NS_COUNT; i++)
                free(l->ns[i].path);
        free(l->uid_mappings);
        free(l->gid_mappings);
        FREE_ARRAY(l->devices, l->n_devices, device_clear);
        free(l->cgroups_path);
        resources_clear(&l->resources);
        kv_free(l->sysctl, l->n_sysctl);
        strv_free(l->masked_paths);
        strv_free(l->readonly_paths);
        free(l->mount_label);
        seccomp_clear(&l->seccomp);
        free(l->intel_rdt_clos_id);
}

void vessel_spec_free(struct vessel_spec *s)
{
        if (!s)
                return;
        free(s->oci_version);
        free(s->root.path);
        process_clear(&s->process);
        free(s->hostname);
        free(s->domainname);
        FREE_ARRAY(s->mounts, s->n_mounts, mount_clear);
        for (int k = 0; k < VESSEL_HOOK_KIND_COUNT; k++)
                FREE_ARRAY(s->hooks.list[k], s->hooks.n[k], hook_clear);
        kv_free(s->annotations, s->n_annotations);
        linux_clear(&s->linux_);
        free(s);
}

/* ------------------------------------------------------------------ */
/* process                                                              */

static int parse_rlimit(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_rlimit *rl = item;
        _cleanup_free_ char *type = NULL;

        TRY(required(get_str(o, path, "type", &type, err), path, "type", err));
        rl->resource = vessel_rlimit_from_name(type);
        if (rl->resource < 0)
                return fail(err, AT(path, "type"), "unknown rlimit \"%s\"", type);
        TRY(required(get_uint(o, path, "soft", 0, UINT64_MAX, &rl->soft, err), path, "soft", err));
        TRY(required(get_uint(o, path, "hard", 0, UINT64_MAX, &rl->hard, err), path, "hard", err));
        if (rl->soft > rl->hard)
                return fail(err, AT(path, "soft"), "soft limit %llu exceeds hard limit %llu",
                            (unsigned long long)rl->soft, (unsigned long long)rl->hard);
        return 0;
}

static int parse_capabilities(json_object *o, const char *w, void *item, vessel_error **err)
{
        static const char *const set_names[VESSEL_CAP_SET_COUNT] = {
                [VESSEL_CAP_BOUNDING] = "bounding",   [VESSEL_CAP_EFFECTIVE] = "effective",
                [VESSEL_CAP_INHERITABLE] = "inheritable", [VESSEL_CAP_PERMITTED] = "permitted",
                [VESSEL_CAP_AMBIENT] = "ambient",
        };
        struct vessel_capabilities *c = item;

        c->present = true;
        for (int s = 0; s < VESSEL_CAP_SET_COUNT; s++) {
                _cleanup_strv_ char **names = NULL;
                size_t n = 0;

                TRY(get_strv(o, w, set_names[s], &names, &n, err));
                for (size_t i = 0; i < n; i++) {
                        int cap = vessel_cap_from_name(names[i]);
                        if (cap >= 0) /* unknown = newer than this build: skipped */
                                c->sets[s] |= UINT64_C(1) << cap;
                }
        }
        return 0;
}

static int parse_user(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_user *u = item;
        int r;

        TRY(get_u32(o, w, "uid", &u->uid, err));
        TRY(get_u32(o, w, "gid", &u->gid, err));
        TRY(r = get_u32(o, w, "umask", &u->umask, err));
        u->has_umask = r > 0;
        TRY(get_u32_array(o, w, "additionalGids", &u->additional_gids, &u->n_additional_gids,
                          err));
        TRY(get_str(o, w, "username", &u->username, err));
        return 0;
}

static int parse_console_size(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_process *p = item;

        TRY(get_u32(o, w, "height", &p->console_size.height, err));
        TRY(get_u32(o, w, "width", &p->console_size.width, err));
        p->has_console_size = true;
        return 0;
}

static int parse_io_priority(json_object *o, const char *w, void *item, vessel_error **err)
{
        static const struct name_val classes[] = {
                {"IOPRIO_CLASS_RT", IOPRIO_CLASS_RT_},
                {"IOPRIO_CLASS_BE", IOPRIO_CLASS_BE_},
                {"IOPRIO_CLASS_IDLE", IOPRIO_CLASS_IDLE_},
                {NULL, 0},
        };
        struct vessel_process *p = item;
        long cls = 0;
        int64_t prio = 0;

        TRY(required(get_enum(o, w, "class", classes, "ioPriority class", &cls, err), w, "class",
                     err));
        TRY(get_int(o, w, "priority", 0, 7, &prio, err));
        p->has_io_priority = true;
        p->io_priority_class = (int)cls;
        p->io_priority = (int)prio;
        return 0;
}

static int parse_cpu_affinity(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_process *p = item;

        TRY(get_cpu_list(o, w, "initial", &p->exec_cpu_affinity_initial, err));
        TRY(get_cpu_list(o, w, "final", &p->exec_cpu_affinity_final, err));
        return 0;
}

static int check_env(const struct vessel_process *p, const char *w, vessel_error **err)
{
        for (size_t i = 0; i < p->n_env; i++) {
                const char *eq = strchr(p->env[i], '=');
                if (!eq)
                        return fail(err, AT_IDX(w, "env", i), "missing '=' in \"%s\"", p->env[i]);
                if (eq == p->env[i])
                        return fail(err, AT_IDX(w, "env", i), "empty variable name");
        }
        return 0;
}

static int check_rlimits_unique(const struct vessel_process *p, const char *w, vessel_error **err)
{
        for (size_t i = 0; i < p->n_rlimits; i++) {
                for (size_t j = 0; j < i; j++) {
                        _cleanup_free_ char *path = NULL;

                        if (p->rlimits[j].resource != p->rlimits[i].resource)
                                continue;
                        path = loc_path(AT_IDX(w, "rlimits", i));
                        return fail(err, AT(path, "type"), "duplicate rlimit \"%s\"",
                                    vessel_rlimit_name(p->rlimits[i].resource));
                }
        }
        return 0;
}

static int parse_process_obj(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_process *p = item;
        int64_t oom;
        int r;

        TRY(get_bool(o, w, "terminal", &p->terminal, err));
        TRY(get_sub(o, w, "consoleSize", parse_console_size, p, err));
        TRY(get_sub(o, w, "user", parse_user, &p->user, err));

        TRY(required(get_strv(o, w, "args", &p->args, &p->n_args, err), w, "args", err));
        if (p->n_args == 0)
                return fail(err, AT(w, "args"), "must not be empty");
        TRY(get_str(o, w, "commandLine", &p->command_line, err));
        TRY(get_strv(o, w, "env", &p->env, &p->n_env, err));
        TRY(check_env(p, w, err));
        TRY(r = get_abs_path(o, w, "cwd", &p->cwd, err));
        if (r == 0)
                p->cwd = xstrdup("/");

        TRY(get_sub(o, w, "capabilities", parse_capabilities, &p->capabilities, err));
        TRY(GET_OBJ_ARRAY(o, w, "rlimits", p->rlimits, p->n_rlimits, parse_rlimit, err));
        TRY(check_rlimits_unique(p, w, err));
        TRY(get_bool(o, w, "noNewPrivileges", &p->no_new_privileges, err));
        TRY(get_str(o, w, "apparmorProfile", &p->apparmor_profile, err));
        TRY(get_str(o, w, "selinuxLabel", &p->selinux_label, err));
        TRY(r = get_int(o, w, "oomScoreAdj", -1000, 1000, &oom, err));
        if (r > 0) {
                p->has_oom_score_adj = true;
                p->oom_score_adj = (int)oom;
        }
        TRY(get_sub(o, w, "ioPriority", parse_io_priority, p, err));
        TRY(get_sub(o, w, "execCPUAffinity", parse_cpu_affinity, p, err));
        return 0;
}

/* ------------------------------------------------------------------ */
/* mounts and hooks                                                     */

static int parse_idmap(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_idmap *m = item;

        TRY(required(get_u32(o, path, "containerID", &m->container_id, err), path, "containerID",
                     err));
        TRY(required(get_u32(o, path, "hostID", &m->host_id, err), path, "hostID", err));
        TRY(required(get_u32(o, path, "size", &m->size, err), path, "size", err));
        if (m->size == 0)
                return fail(err, AT(path, "size"), "must be > 0");
        /* the kernel wants first + count to stay below 2^32 */
        if ((uint64_t)m->container_id + m->size > UINT32_MAX)
                return fail(err, AT(path, "size"), "containerID + size exceeds %u", UINT32_MAX);
        if ((uint64_t)m->host_id + m->size > UINT32_MAX)
                return fail(err, AT(path, "size"), "hostID + size exceeds %u", UINT32_MAX);
        return 0;
}

/* "/a//b/./c/" -> "/a/b/c"; relative paths are taken relative to "/".
 * ".." is kept: the runtime resolves destinations inside the rootfs. */
static char *normalize_dest(const char *s)
{
        char *out = xmalloc0(strlen(s) + 2);
        size_t n = 0;

        while (*s) {
                const char *end;

                while (*s == '/')
                        s++;
                if (!*s)
                        break;
                end = strchrnul(s, '/');
                if (end - s != 1 || s[0] != '.') {
                        out[n++] = '/';
                        memcpy(out + n, s, (size_t)(end - s));
                        n += (size_t)(end - s);
                }
                s = end;
        }
        if (n == 0)
                out[n++] = '/';
        out[n] = '\0';
        return out;
}

static int parse_mount(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_mount *m = item;
        _cleanup_free_ char *dest = NULL, *where = NULL;

        TRY(required(get_str(o, path, "destination", &dest, err), path, "destination", err));
        if (!dest[0])
                return fail(err, AT(path, "destination"), "must not be empty");
        m->destination = normalize_dest(dest);
        TRY(get_str(o, path, "type", &m->type, err));
        TRY(get_str(o, path, "source", &m->source, err));
        TRY(get_strv(o, path, "options", &m->options, &m->n_options, err));
        where = loc_path(AT(path, "options"));
        TRY(mount_options_parse(m->options, m->n_options, &m->opts, where, err));
        TRY(GET_OBJ_ARRAY(o, path, "uidMappings", m->uid_mappings, m->n_uid_mappings, parse_idmap,
                          err));
        TRY(GET_OBJ_ARRAY(o, path, "gidMappings", m->gid_mappings, m->n_gid_mappings, parse_idmap,
                          err));
        return 0;
}

static int parse_hook(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_hook *h = item;
        int64_t timeout;
        int r;

        TRY(required(get_abs_path(o, path, "path", &h->path, err), path, "path", err));
        TRY(get_strv(o, path, "args", &h->args, &h->n_args, err));
        TRY(get_strv(o, path, "env", &h->env, &h->n_env, err));
        TRY(r = get_int(o, path, "timeout", INT_MIN, INT_MAX, &timeout, err));
        if (r > 0) {
                if (timeout <= 0)
                        return fail(err, AT(path, "timeout"), "must be > 0");
                h->has_timeout = true;
                h->timeout = (int)timeout;
        }
        return 0;
}

static int parse_hooks(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_hooks *hooks = item;

        for (int k = 0; k < VESSEL_HOOK_KIND_COUNT; k++)
                TRY(GET_OBJ_ARRAY(o, w, vessel_hook_name(k), hooks->list[k], hooks->n[k],
                                  parse_hook, err));
        return 0;
}

/* ------------------------------------------------------------------ */
/* linux.resources                                                      */

static int parse_device_rule(json_object *o, const char *path, void *item, vessel_error **err)
{
        static const struct name_val types[] = {{"a", 'a'}, {"b", 'b'}, {"c", 'c'}, {NULL, 0}};
        struct vessel_device_rule *d = item;
        long type = 'a';

        TRY(required(get_bool(o, path, "allow", &d->allow, err), path, "allow", err));
        TRY(get_enum(o, path, "type", types, "device type", &type, err));
        d->type = (char)type;
        d->major = d->minor = -1;
        TRY(get_int(o, path, "major", -1, UINT32_MAX, &d->major, err));
        TRY(get_int(o, path, "minor", -1, UINT32_MAX, &d->minor, err));
        TRY(get_str(o, path, "access", &d->access, err));
        if (d->access && d->access[strspn(d->access, "rwm")])
                return fail(err, AT(path, "access"), "invalid access \"%s\" (only r, w, m)",
                            d->access);
        if (d->access && !d->access[0]) {
                free(d->access);
                d->access = NULL;
        }
        return 0;
}

#define BLKIO_WEIGHT_MIN 10
#define BLKIO_WEIGHT_MAX 1000

static int get_major_minor(json_object *o, const char *path, int64_t *major, int64_t *minor,
                           vessel_error **err)
{
        TRY(required(get_int(o, path, "major", 0, UINT32_MAX, major, err), path, "major", err));
        TRY(required(get_int(o, path, "minor", 0, UINT32_MAX, minor, err), path, "minor", err));
        return 0;
}

static int parse_weight_device(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_weight_device *d = item;

        TRY(get_major_minor(o, path, &d->major, &d->minor, err));
        TRY(get_opt_u64(o, path, "weight", BLKIO_WEIGHT_MIN, BLKIO_WEIGHT_MAX, &d->weight, err));
        TRY(get_opt_u64(o, path, "leafWeight", BLKIO_WEIGHT_MIN, BLKIO_WEIGHT_MAX,
                        &d->leaf_weight, err));
        return 0;
}

static int parse_throttle_device(json_object *o, const char *path, void *item,
                                 vessel_error **err)
{
        struct vessel_throttle_device *d = item;

        TRY(get_major_minor(o, path, &d->major, &d->minor, err));
        TRY(required(get_uint(o, path, "rate", 0, UINT64_MAX, &d->rate, err), path, "rate", err));
        return 0;
}

static int parse_block_io(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_resources *res = item;
        const struct {
                const char *key;
                struct vessel_throttle_device **list;
                size_t *n;
        } throttles[] = {
                {"throttleReadBpsDevice", &res->block_io.throttle_read_bps,
                 &res->block_io.n_throttle_read_bps},
                {"throttleWriteBpsDevice", &res->block_io.throttle_write_bps,
                 &res->block_io.n_throttle_write_bps},
                {"throttleReadIOPSDevice", &res->block_io.throttle_read_iops,
                 &res->block_io.n_throttle_read_iops},
                {"throttleWriteIOPSDevice", &res->block_io.throttle_write_iops,
                 &res->block_io.n_throttle_write_iops},
        };

        TRY(get_opt_u64(o, w, "weight", BLKIO_WEIGHT_MIN, BLKIO_WEIGHT_MAX, &res->block_io.weight,
                        err));
        TRY(get_opt_u64(o, w, "leafWeight", BLKIO_WEIGHT_MIN, BLKIO_WEIGHT_MAX,
                        &res->block_io.leaf_weight, err));
        TRY(GET_OBJ_ARRAY(o, w, "weightDevice", res->block_io.weight_device,
                          res->block_io.n_weight_device, parse_weight_device, err));
        for (size_t i = 0; i < ARRAY_SIZE(throttles); i++)
                TRY(get_obj_array(o, w, throttles[i].key, sizeof(**throttles[i].list),
                                  (void **)throttles[i].list, throttles[i].n,
                                  parse_throttle_device, err));
        return 0;
}

static int parse_memory(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_resources *res = item;
        const struct {
                const char *key;
                struct vessel_opt_i64 *dst;
        } limits[] = {
                {"limit", &res->memory.limit},   {"reservation", &res->memory.reservation},
                {"swap", &res->memory.swap},     {"kernel", &res->memory.kernel},
                {"kernelTCP", &res->memory.kernel_tcp},
        };
        const struct {
                const char *key;
                bool *has, *dst;
        } flags[] = {
                {"disableOOMKiller", &res->memory.has_disable_oom_killer,
                 &res->memory.disable_oom_killer},
                {"useHierarchy", &res->memory.has_use_hierarchy, &res->memory.use_hierarchy},
                {"checkBeforeUpdate", &res->memory.has_check_before_update,
                 &res->memory.check_before_update},
        };
        int r;

        /* -1 = unlimited; any other negative value is a mistake */
        for (size_t i = 0; i < ARRAY_SIZE(limits); i++)
                TRY(get_opt_i64(o, w, limits[i].key, -1, INT64_MAX, limits[i].dst, err));
        TRY(get_opt_u64(o, w, "swappiness", 0, 100, &res->memory.swappiness, err));
        for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
                TRY(r = get_bool(o, w, flags[i].key, flags[i].dst, err));
                *flags[i].has = r > 0;
        }
        return 0;
}

static int parse_cpu(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_resources *res = item;
        const struct {
                const char *key;
                struct vessel_opt_u64 *dst;
        } unsigned_[] = {
                {"shares", &res->cpu.shares},
                {"period", &res->cpu.period},
                {"realtimePeriod", &res->cpu.realtime_period},
                {"burst", &res->cpu.burst},
        };
        const struct {
                const char *key;
                struct vessel_opt_i64 *dst;
        } signed_[] = {
                {"quota", &res->cpu.quota},
                {"realtimeRuntime", &res->cpu.realtime_runtime},
                {"idle", &res->cpu.idle},
        };

        for (size_t i = 0; i < ARRAY_SIZE(unsigned_); i++)
                TRY(get_opt_u64(o, w, unsigned_[i].key, 0, UINT64_MAX, unsigned_[i].dst, err));
        for (size_t i = 0; i < ARRAY_SIZE(signed_); i++)
                TRY(get_opt_i64(o, w, signed_[i].key, INT64_MIN, INT64_MAX, signed_[i].dst, err));
        TRY(get_cpu_list(o, w, "cpus", &res->cpu.cpus, err));
        TRY(get_cpu_list(o, w, "mems", &res->cpu.mems, err));
        return 0;
}

static int parse_hugepage(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_hugepage_limit *h = item;

        TRY(required(get_str(o, path, "pageSize", &h->page_size, err), path, "pageSize", err));
        TRY(required(get_uint(o, path, "limit", 0, UINT64_MAX, &h->limit, err), path, "limit",
                     err));
        return 0;
}

static int parse_net_priority(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_net_priority *p = item;

        TRY(required(get_str(o, path, "name", &p->name, err), path, "name", err));
        TRY(required(get_u32(o, path, "priority", &p->priority, err), path, "priority", err));
        return 0;
}

static int parse_rdma(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_resources *res = item;
        res->rdma = xmalloc0(((size_t)json_object_object_length(o) + 1) * sizeof(*res->rdma));
        json_object_object_foreach(o, dev, jv)
        {
                struct vessel_rdma_limit *l;
                _cleanup_free_ char *path = NULL;

                if (!jv)
                        continue;
                l = &res->rdma[res->n_rdma++];
                l->device = xstrdup(dev);
                path = map_path(w, NULL, dev);
                TRY(expect(jv, json_type_object, AT(path, NULL), err));
                TRY(get_opt_u64(jv, path, "hcaHandles", 0, UINT32_MAX, &l->hca_handles, err));
                TRY(get_opt_u64(jv, path, "hcaObjects", 0, UINT32_MAX, &l->hca_objects, err));
        }
        return 0;
}

/* cgroup file names: the cgroup manager writes <cgroup>/<key>. */
static bool is_file_name(const char *s)
{
        return s[0] && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}

static int parse_pids(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_resources *res = item;
        int r;

        TRY(r = get_int(o, w, "limit", INT64_MIN, INT64_MAX, &res->pids.limit, err));
        res->pids.present = r > 0;
        return 0;
}

static int parse_network(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_resources *res = item;

        TRY(get_opt_u64(o, w, "classID", 0, UINT32_MAX, &res->network.class_id, err));
        TRY(GET_OBJ_ARRAY(o, w, "priorities", res->network.priorities, res->network.n_priorities,
                          parse_net_priority, err));
        return 0;
}

static int parse_resources(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_resources *res = item;

        res->present = true;
        TRY(GET_OBJ_ARRAY(o, w, "devices", res->devices, res->n_devices, parse_device_rule, err));
        TRY(get_sub(o, w, "memory", parse_memory, res, err));
        TRY(get_sub(o, w, "cpu", parse_cpu, res, err));
        TRY(get_sub(o, w, "pids", parse_pids, res, err));
        TRY(get_sub(o, w, "blockIO", parse_block_io, res, err));
        TRY(GET_OBJ_ARRAY(o, w, "hugepageLimits", res->hugepage_limits, res->n_hugepage_limits,
                          parse_hugepage, err));
        TRY(get_sub(o, w, "network", parse_network, res, err));
        TRY(get_sub(o, w, "rdma", parse_rdma, res, err));
        TRY(get_kv(o, w, "unified", &res->unified, &res->n_unified, err));
        for (size_t i = 0; i < res->n_unified; i++) {
                if (!is_file_name(res->unified[i].key)) {
                        _cleanup_free_ char *path = map_path(w, "unified", res->unified[i].key);
                        return fail(err, AT(path, NULL), "not a cgroup file name");
                }
        }
        return 0;
}

/* ------------------------------------------------------------------ */
/* linux.seccomp                                                        */

static int parse_seccomp_arg(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_seccomp_arg *a = item;
        uint64_t index;

        /* syscalls have at most 6 arguments */
        TRY(required(get_uint(o, path, "index", 0, 5, &index, err), path, "index", err));
        a->index = (uint32_t)index;
        TRY(required(get_uint(o, path, "value", 0, UINT64_MAX, &a->value, err), path, "value",
                     err));
        TRY(get_uint(o, path, "valueTwo", 0, UINT64_MAX, &a->value_two, err));
        TRY(required(get_name(o, path, "op", vessel_seccomp_op_names, "seccomp operator", &a->op,
                              err),
                     path, "op", err));
        return 0;
}

static int parse_syscall(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_seccomp_syscall *s = item;
        int r;

        TRY(required(get_strv(o, path, "names", &s->names, &s->n_names, err), path, "names", err));
        TRY(required(get_name(o, path, "action", vessel_seccomp_action_names, "seccomp action",
                              &s->action, err),
                     path, "action", err));
        TRY(r = get_u32(o, path, "errnoRet", &s->errno_ret, err));
        s->has_errno_ret = r > 0;
        TRY(GET_OBJ_ARRAY(o, path, "args", s->args, s->n_args, parse_seccomp_arg, err));
        return 0;
}

static int parse_seccomp(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_seccomp *sc = item;
        int r;

        sc->present = true;
        TRY(required(get_name(o, w, "defaultAction", vessel_seccomp_action_names,
                              "seccomp action", &sc->default_action, err),
                     w, "defaultAction", err));
        if (!strcmp(sc->default_action, "SCMP_ACT_NOTIFY"))
                return fail(err, AT(w, "defaultAction"),
                            "SCMP_ACT_NOTIFY cannot be the default action");
        TRY(r = get_u32(o, w, "defaultErrnoRet", &sc->default_errno_ret, err));
        sc->has_default_errno_ret = r > 0;
        TRY(get_names(o, w, "architectures", vessel_seccomp_arch_names, "seccomp architecture",
                      &sc->architectures, &sc->n_architectures, err));
        TRY(get_names(o, w, "flags", vessel_seccomp_flag_names, "seccomp flag", &sc->flags,
                      &sc->n_flags, err));
        TRY(get_str(o, w, "listenerPath", &sc->listener_path, err));
        TRY(get_str(o, w, "listenerMetadata", &sc->listener_metadata, err));
        TRY(GET_OBJ_ARRAY(o, w, "syscalls", sc->syscalls, sc->n_syscalls, parse_syscall, err));
        for (size_t i = 0; i < sc->n_syscalls; i++)
                if (!strcmp(sc->syscalls[i].action, "SCMP_ACT_NOTIFY") &&
                    !(sc->listener_path && sc->listener_path[0]))
                        return fail(err, AT(w, "listenerPath"),
                                    "required when SCMP_ACT_NOTIFY is used");
        return 0;
}

/* ------------------------------------------------------------------ */
/* linux                                                                */

static int parse_namespaces(json_object *o, const char *w, struct vessel_linux *l,
                            vessel_error **err)
{
        json_object *a = NULL;
        size_t n = 0;

        TRY(get_array(o, w, "namespaces", &a, &n, err));
        for (size_t i = 0; i < n; i++) {
                _cleanup_free_ char *path = NULL, *type = NULL, *nspath = NULL;
                json_object *e;
                int t;

                TRY(object_at(a, w, "namespaces", i, &e, &path, err));
                TRY(required(get_str(e, path, "type", &type, err), path, "type", err));
                t = vessel_ns_from_name(type);
                if (t < 0)
                        return fail(err, AT(path, "type"), "unknown namespace type \"%s\"", type);
                if (l->ns[t].present)
                        return fail(err, AT(path, "type"), "duplicate namespace \"%s\"", type);
                TRY(get_abs_path(e, path, "path", &nspath, err));
                l->ns[t].present = true;
                l->ns[t].path = steal_ptr(&nspath);
        }
        return 0;
}

static int parse_time_offset(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_time_offset *t = item;

        TRY(get_int(o, w, "secs", INT64_MIN, INT64_MAX, &t->secs, err));
        TRY(get_u32(o, w, "nanosecs", &t->nanosecs, err));
        if (t->nanosecs >= 1000000000u)
                return fail(err, AT(w, "nanosecs"), "must be < 1000000000");
        t->present = true;
        return 0;
}

static int parse_time_offsets(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_linux *l = item;

        TRY(get_sub(o, w, "monotonic", parse_time_offset, &l->time_monotonic, err));
        TRY(get_sub(o, w, "boottime", parse_time_offset, &l->time_boottime, err));
        return 0;
}

static int parse_device(json_object *o, const char *path, void *item, vessel_error **err)
{
        static const struct name_val types[] = {
                {"c", 'c'}, {"b", 'b'}, {"u", 'u'}, {"p", 'p'}, {NULL, 0},
        };
        struct vessel_device *d = item;
        long type;
        int r;

        TRY(required(get_abs_path(o, path, "path", &d->path, err), path, "path", err));
        TRY(required(get_enum(o, path, "type", types, "device type", &type, err), path, "type",
                     err));
        d->type = (char)type;
        TRY(r = get_int(o, path, "major", 0, UINT32_MAX, &d->major, err));
        if (r == 0 && d->type != 'p')
                return fail(err, AT(path, "major"), "required for type \"%c\"", d->type);
        TRY(r = get_int(o, path, "minor", 0, UINT32_MAX, &d->minor, err));
        if (r == 0 && d->type != 'p')
                return fail(err, AT(path, "minor"), "required for type \"%c\"", d->type);
        TRY(r = get_u32(o, path, "fileMode", &d->file_mode, err));
        d->has_file_mode = r > 0;
        TRY(r = get_u32(o, path, "uid", &d->uid, err));
        d->has_uid = r > 0;
        TRY(r = get_u32(o, path, "gid", &d->gid, err));
        d->has_gid = r > 0;
        return 0;
}

/* No ".." components, in either "/a/b" or systemd "slice:prefix:name" form. */
static bool cgroups_path_safe(const char *s)
{
        while (*s) {
                size_t len = strcspn(s, "/:");
                if (len == 2 && s[0] == '.' && s[1] == '.')
                        return false;
                s += len;
                if (*s)
                        s++;
        }
        return true;
}

static int parse_personality(json_object *o, const char *w, void *item, vessel_error **err)
{
        static const struct name_val domains[] = {
                {"LINUX", PER_LINUX},
                {"LINUX32", PER_LINUX32},
                {NULL, 0},
        };
        struct vessel_linux *l = item;
        _cleanup_strv_ char **flags = NULL;
        size_t n = 0;
        long domain;

        TRY(required(get_enum(o, w, "domain", domains, "personality domain", &domain, err), w,
                     "domain", err));
        TRY(get_strv(o, w, "flags", &flags, &n, err)); /* none are defined yet */
        l->has_personality = true;
        l->personality = (unsigned long)domain;
        return 0;
}

static int parse_intel_rdt(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_linux *l = item;

        TRY(get_str(o, w, "closID", &l->intel_rdt_clos_id, err));
        if (l->intel_rdt_clos_id && !is_file_name(l->intel_rdt_clos_id))
                return fail(err, AT(w, "closID"), "not a valid resctrl group name");
        return 0;
}

/* Which namespace a sysctl belongs to (-1: not namespaced).  key uses
 * '.' or '/' as separator. */
static int sysctl_namespace(const char *key)
{
        static const char *const ipc[] = {
                "kernel.msgmax", "kernel.msgmnb",      "kernel.msgmni",     "kernel.msg_next_id",
                "kernel.sem",    "kernel.sem_next_id", "kernel.shmall",     "kernel.shmmax",
                "kernel.shmmni", "kernel.shm_next_id", "kernel.shm_rmid_forced", NULL,
        };
        _cleanup_free_ char *k = xstrdup(key);

        for (char *p = k; *p; p++)
                if (*p == '/')
                        *p = '.';
        if (str_has_prefix(k, "net."))
                return VESSEL_NS_NET;
        if (str_has_prefix(k, "fs.mqueue.") || vessel_name_index(ipc, k) >= 0)
                return VESSEL_NS_IPC;
        if (!strcmp(k, "kernel.hostname") || !strcmp(k, "kernel.domainname"))
                return VESSEL_NS_UTS;
        return -1;
}

/* Keys name files under /proc/sys ("net.ipv4.ip_forward" or "net/ipv4/...");
 * only namespaced ones are allowed, and only with their namespace, or they
 * would change the host. */
static int check_sysctl(const struct vessel_linux *l, const char *w, vessel_error **err)
{
        for (size_t i = 0; i < l->n_sysctl; i++) {
                const char *k = l->sysctl[i].key;
                _cleanup_free_ char *path = NULL;
                int ns;

                if (!k[0] || k[0] == '/' || k[0] == '.' || strstr(k, "..")) {
                        path = map_path(w, "sysctl", k);
                        return fail(err, AT(path, NULL), "invalid sysctl name");
                }
                ns = sysctl_namespace(k);
                if (ns < 0) {
                        /* As runc: anything else is global and would change the host. */
                        path = map_path(w, "sysctl", k);
                        return fail(err, AT(path, NULL), "not a namespaced sysctl; it would change the host");
                }
                if (!l->ns[ns].present) {
                        path = map_path(w, "sysctl", k);
                        return fail(err, AT(path, NULL), "needs its own %s namespace",
                                    vessel_ns_name(ns));
                }
        }
        return 0;
}

static int parse_linux(json_object *o, const char *w, void *item, vessel_error **err)
{
        static const struct name_val propagations[] = {
                {"private", MS_PRIVATE},
                {"rprivate", MS_PRIVATE | MS_REC},
                {"slave", MS_SLAVE},
                {"rslave", MS_SLAVE | MS_REC},
                {"shared", MS_SHARED},
                {"rshared", MS_SHARED | MS_REC},
                {"unbindable", MS_UNBINDABLE},
                {"runbindable", MS_UNBINDABLE | MS_REC},
                {NULL, 0},
        };
        struct vessel_linux *l = item;
        long prop;
        int r;

        TRY(parse_namespaces(o, w, l, err));
        TRY(GET_OBJ_ARRAY(o, w, "uidMappings", l->uid_mappings, l->n_uid_mappings, parse_idmap,
                          err));
        TRY(GET_OBJ_ARRAY(o, w, "gidMappings", l->gid_mappings, l->n_gid_mappings, parse_idmap,
                          err));
        TRY(get_sub(o, w, "timeOffsets", parse_time_offsets, l, err));
        TRY(GET_OBJ_ARRAY(o, w, "devices", l->devices, l->n_devices, parse_device, err));
        TRY(get_str(o, w, "cgroupsPath", &l->cgroups_path, err));
        if (l->cgroups_path && !cgroups_path_safe(l->cgroups_path))
                return fail(err, AT(w, "cgroupsPath"), "must not contain \"..\" components");
        TRY(get_sub(o, w, "resources", parse_resources, &l->resources, err));
        TRY(get_kv(o, w, "sysctl", &l->sysctl, &l->n_sysctl, err));
        TRY(check_sysctl(l, w, err));
        TRY(r = get_enum(o, w, "rootfsPropagation", propagations, "rootfs propagation", &prop,
                         err));
        if (r > 0)
                l->rootfs_propagation = (unsigned long)prop;
        TRY(get_abs_paths(o, w, "maskedPaths", &l->masked_paths, &l->n_masked_paths, err));
        TRY(get_abs_paths(o, w, "readonlyPaths", &l->readonly_paths, &l->n_readonly_paths, err));
        TRY(get_str(o, w, "mountLabel", &l->mount_label, err));
        TRY(get_sub(o, w, "personality", parse_personality, l, err));
        TRY(get_sub(o, w, "seccomp", parse_seccomp, &l->seccomp, err));
        TRY(get_sub(o, w, "intelRdt", parse_intel_rdt, l, err));
        return 0;
}

/* ------------------------------------------------------------------ */
/* top level                                                            */

static int check_version(const char *v, vessel_error **err)
{
        const char *dot = strchr(v, '.');

        if (!dot || dot == v || strspn(v, "0123456789") != (size_t)(dot - v) ||
            dot[1] < '0' || dot[1] > '9')
                return fail(err, AT("", "ociVersion"), "invalid version \"%s\"", v);
        if (dot - v != 1 || v[0] != '1')
                return fail(err, AT("", "ociVersion"),
                            "unsupported version \"%s\" (this runtime supports 1.x)", v);
        return 0;
}

static int check_host_name(const char *s, const char *key, vessel_error **err)
{
        if (s && strlen(s) > HOST_NAME_MAX_)
                return fail(err, AT("", key), "longer than %d bytes", HOST_NAME_MAX_);
        return 0;
}

static int parse_root(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_spec *s = item;

        TRY(required(get_str(o, w, "path", &s->root.path, err), w, "path", err));
        if (!s->root.path[0])
                return fail(err, AT(w, "path"), "must not be empty");
        TRY(get_bool(o, w, "readonly", &s->root.readonly, err));
        return 0;
}

static int parse_spec_obj(json_object *o, struct vessel_spec *s, vessel_error **err)
{
        int r;

        TRY(required(get_str(o, "", "ociVersion", &s->oci_version, err), "", "ociVersion", err));
        TRY(check_version(s->oci_version, err));
        TRY(get_sub(o, "", "root", parse_root, s, err));
        TRY(r = get_sub(o, "", "process", parse_process_obj, &s->process, err));
        s->has_process = r > 0;
        TRY(get_str(o, "", "hostname", &s->hostname, err));
        TRY(check_host_name(s->hostname, "hostname", err));
        TRY(get_str(o, "", "domainname", &s->domainname, err));
        TRY(check_host_name(s->domainname, "domainname", err));
        TRY(GET_OBJ_ARRAY(o, "", "mounts", s->mounts, s->n_mounts, parse_mount, err));
        TRY(get_sub(o, "", "hooks", parse_hooks, &s->hooks, err));
        TRY(get_kv(o, "", "annotations", &s->annotations, &s->n_annotations, err));
        TRY(r = get_sub(o, "", "linux", parse_linux, &s->linux_, err));
        s->has_linux = r > 0;
        return 0;
}

static void offset_to_line_col(const char *text, size_t off, size_t *line, size_t *col)
{
        size_t start = 0;

        *line = 1;
        for (size_t i = 0; i < off; i++) {
                if (text[i] == '\n') {
                        (*line)++;
                        start = i + 1;
                }
        }
        *col = off - start + 1;
}

static int json_error(vessel_error **err, const char *source, const char *text, size_t off,
                      const char *what)
{
        size_t line, col;

        offset_to_line_col(text, off, &line, &col);
        return vessel_error_msg(err, EINVAL, "%s%sinvalid JSON at line %zu, column %zu: %s",
                                source ? source : "", source ? ": " : "", line, col, what);
}

/* Parse a JSON text that must hold a single object. */
static int parse_json_object(const char *text, size_t len, const char *source, json_object **out,
                             vessel_error **err)
{
        json_tokener *tok;
        json_object *obj;
        enum json_tokener_error jerr;
        bool at_eof = false;
        size_t end;

        if (!text)
                text = "";
        if (len > INT_MAX)
                return vessel_error_set(err, EFBIG, "%s", source ? source : "config");
        tok = json_tokener_new();
        if (!tok)
                abort();
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        obj = json_tokener_parse_ex(tok, text, (int)len);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        if (jerr == json_tokener_continue) {
                /* A literal or number at the very end waits for a terminator. */
                obj = json_tokener_parse_ex(tok, "", 1);
                jerr = json_tokener_get_error(tok);
                at_eof = true;
        }
        json_tokener_free(tok);

        if (jerr != json_tokener_success && at_eof) {
                json_object_put(obj);
                return json_error(err, source, text, len, "unexpected end of input");
        }
        if (jerr != json_tokener_success) {
                json_object_put(obj);
                return json_error(err, source, text, end > len ? len : end,
                                  json_tokener_error_desc(jerr));
        }
        for (size_t i = end; i < len; i++) {
                if (!strchr(" \t\r\n", text[i]) || !text[i]) {
                        json_object_put(obj);
                        return json_error(err, source, text, i, "unexpected data after the value");
                }
        }
        if (!json_object_is_type(obj, json_type_object)) {
                json_object_put(obj);
                return vessel_error_msg(err, EINVAL, "%s%sexpected a JSON object",
                                        source ? source : "", source ? ": " : "");
        }
        *out = obj;
        return 0;
}

int vessel_spec_parse_named(const char *json, size_t len, const char *source,
                            struct vessel_spec **out, vessel_error **err)
{
        struct vessel_spec *s;
        json_object *root;
        int r;

        r = parse_json_object(json, len, source, &root, err);
        if (r < 0)
                return r;
        s = xmalloc0(sizeof(*s));
        r = parse_spec_obj(root, s, err);
        json_object_put(root);
        if (r < 0) {
                vessel_spec_free(s);
                return r;
        }
        *out = s;
        return 0;
}

int vessel_spec_parse(const char *json, size_t len, struct vessel_spec **out, vessel_error **err)
{
        return vessel_spec_parse_named(json, len, "config.json", out, err);
}

int vessel_spec_load(const char *path, struct vessel_spec **out, vessel_error **err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        r = read_file_at(AT_FDCWD, path, &text, &len, err);
        if (r < 0)
                return r;
        return vessel_spec_parse_named(text, len, path, out, err);
}

int vessel_process_parse(const char *json, size_t len, struct vessel_process **out,
                         vessel_error **err)
{
        struct vessel_process *p;
        json_object *root;
        int r;

        r = parse_json_object(json, len, "process.json", &root, err);
        if (r < 0)
                return r;
        p = xmalloc0(sizeof(*p));
        r = parse_process_obj(root, "process", p, err);
        json_object_put(root);
        if (r < 0) {
                vessel_process_free(p);
                return r;
        }
        *out = p;
        return 0;
}

/* ------------------------------------------------------------------ */
/* default config (`vessel spec`)                                      */

static json_object *strv_json(const char *const *v)
{
        json_object *a = json_object_new_array();

        for (; *v; v++)
                json_object_array_add(a, json_object_new_string(*v));
        return a;
}

static json_object *mount_json(const char *dest, const char *type, const char *source,
                               const char *const *options)
{
        json_object *m = json_object_new_object();

        json_object_object_add(m, "destination", json_object_new_string(dest));
        json_object_object_add(m, "type", json_object_new_string(type));
        json_object_object_add(m, "source", json_object_new_string(source));
        if (options)
                json_object_object_add(m, "options", strv_json(options));
        return m;
}

static json_object *idmap_json(uint32_t host_id)
{
        json_object *a = json_object_new_array(), *m = json_object_new_object();

        json_object_object_add(m, "containerID", json_object_new_int64(0));
        json_object_object_add(m, "hostID", json_object_new_int64(host_id));
        json_object_object_add(m, "size", json_object_new_int64(1));
        json_object_array_add(a, m);
        return a;
}

static json_object *default_process_json(void)
{
        static const char *const env[] = {
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm",
                NULL,
        };
        static const char *const caps[] = {"CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE",
                                           NULL};
        json_object *p = json_object_new_object();
        json_object *user = json_object_new_object();
        json_object *cap = json_object_new_object();
        json_object *rl = json_object_new_object(), *rls = json_object_new_array();

        json_object_object_add(p, "terminal", json_object_new_boolean(1));
        json_object_object_add(user, "uid", json_object_new_int64(0));
        json_object_object_add(user, "gid", json_object_new_int64(0));
        json_object_object_add(p, "user", user);
        json_object_object_add(p, "args", strv_json((const char *const[]){"sh", NULL}));
        json_object_object_add(p, "env", strv_json(env));
        json_object_object_add(p, "cwd", json_object_new_string("/"));
        json_object_object_add(cap, "bounding", strv_json(caps));
        json_object_object_add(cap, "effective", strv_json(caps));
        json_object_object_add(cap, "permitted", strv_json(caps));
        json_object_object_add(p, "capabilities", cap);
        json_object_object_add(rl, "type", json_object_new_string("RLIMIT_NOFILE"));
        json_object_object_add(rl, "hard", json_object_new_int64(1024));
        json_object_object_add(rl, "soft", json_object_new_int64(1024));
        json_object_array_add(rls, rl);
        json_object_object_add(p, "rlimits", rls);
        json_object_object_add(p, "noNewPrivileges", json_object_new_boolean(1));
        return p;
}

static json_object *default_mounts_json(bool rootless)
{
        static const char *const nosuid_noexec_nodev[] = {"nosuid", "noexec", "nodev", NULL};
        json_object *a = json_object_new_array();

        json_object_array_add(a, mount_json("/proc", "proc", "proc", NULL));
        json_object_array_add(
                a, mount_json("/dev", "tmpfs", "tmpfs",
                              (const char *const[]){"nosuid", "strictatime", "mode=755",
                                                    "size=65536k", NULL}));
        json_object_array_add(
                a, mount_json("/dev/pts", "devpts", "devpts",
                              (const char *const[]){"nosuid", "noexec", "newinstance",
                                                    "ptmxmode=0666", "mode=0620",
                                                    rootless ? NULL : "gid=5", NULL}));
        json_object_array_add(
                a, mount_json("/dev/shm", "tmpfs", "shm",
                              (const char *const[]){"nosuid", "noexec", "nodev", "mode=1777",
                                                    "size=65536k", NULL}));
        json_object_array_add(a, mount_json("/dev/mqueue", "mqueue", "mqueue", nosuid_noexec_nodev));
        if (rootless)
                json_object_array_add(
                        a, mount_json("/sys", "bind", "/sys",
                                      (const char *const[]){"rbind", "nosuid", "noexec", "nodev",
                                                            "ro", NULL}));
        else
                json_object_array_add(
                        a, mount_json("/sys", "sysfs", "sysfs",
                                      (const char *const[]){"nosuid", "noexec", "nodev", "ro",
                                                            NULL}));
        json_object_array_add(
                a, mount_json("/sys/fs/cgroup", "cgroup", "cgroup",
                              (const char *const[]){"nosuid", "noexec", "nodev", "relatime", "ro",
                                                    NULL}));
        return a;
}

static json_object *default_linux_json(bool rootless)
{
        static const char *const masked[] = {
                "/proc/acpi",        "/proc/asound",       "/proc/kcore",
                "/proc/keys",        "/proc/latency_stats", "/proc/timer_list",
                "/proc/timer_stats", "/proc/sched_debug",  "/sys/firmware",
                "/proc/scsi",        "/sys/devices/virtual/powercap", NULL,
        };
        static const char *const readonly[] = {
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger", NULL,
        };
        static const char *const ns_rootful[] = {"pid", "network", "ipc", "uts", "mount",
                                                 "cgroup", NULL};
        static const char *const ns_rootless[] = {"pid", "network", "ipc", "uts", "mount",
                                                  "user", NULL};
        json_object *l = json_object_new_object(), *nss = json_object_new_array();

        if (!rootless) {
                json_object *res = json_object_new_object(), *devs = json_object_new_array();
                json_object *deny = json_object_new_object();

                json_object_object_add(deny, "allow", json_object_new_boolean(0));
                json_object_object_add(deny, "access", json_object_new_string("rwm"));
                json_object_array_add(devs, deny);
                json_object_object_add(res, "devices", devs);
                json_object_object_add(l, "resources", res);
        }
        for (const char *const *n = rootless ? ns_rootless : ns_rootful; *n; n++) {
                json_object *ns = json_object_new_object();
                json_object_object_add(ns, "type", json_object_new_string(*n));
                json_object_array_add(nss, ns);
        }
        json_object_object_add(l, "namespaces", nss);
        if (rootless) {
                json_object_object_add(l, "uidMappings", idmap_json(getuid()));
                json_object_object_add(l, "gidMappings", idmap_json(getgid()));
        }
        json_object_object_add(l, "maskedPaths", strv_json(masked));
        json_object_object_add(l, "readonlyPaths", strv_json(readonly));
        return l;
}

char *vessel_spec_default_json(bool rootless)
{
        json_object *s = json_object_new_object(), *root = json_object_new_object();
        char *text;

        json_object_object_add(s, "ociVersion", json_object_new_string(VESSEL_OCI_VERSION));
        json_object_object_add(s, "process", default_process_json());
        json_object_object_add(root, "path", json_object_new_string("rootfs"));
        json_object_object_add(root, "readonly", json_object_new_boolean(1));
        json_object_object_add(s, "root", root);
        json_object_object_add(s, "hostname", json_object_new_string("vessel"));
        json_object_object_add(s, "mounts", default_mounts_json(rootless));
        json_object_object_add(s, "linux", default_linux_json(rootless));
        text = xstrdup(json_object_to_json_string_ext(
                s, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(s);
        return text;
}
