/* spec-json.c: typed access to the JSON of config.json, with errors that
 * name the JSON path of the offending value (spec-internal.h). */
#include "spec-internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define CPU_NUMBER_MAX (1u << 22)

char *spec_loc_path(struct loc l)
{
        const char *sep = l.where[0] && l.key ? "." : "";
        const char *key = l.key ? l.key : "";

        if (l.idx >= 0)
                return xasprintf("%s%s%s[%zd]", l.where, sep, key, l.idx);
        return xasprintf("%s%s%s", l.where, sep, key);
}

/* Path of a member of a JSON map (annotations, sysctl, ...): a["k"]. */
char *spec_map_path(const char *where, const char *key, const char *name)
{
        _cleanup_free_ char *base = spec_loc_path(AT(where, key));
        return xasprintf("%s[\"%s\"]", base, name);
}

int spec_fail(vessel_error **err, struct loc l, const char *fmt, ...)
{
        _cleanup_free_ char *path = spec_loc_path(l);
        _cleanup_free_ char *msg = NULL;
        va_list ap;

        va_start(ap, fmt);
        if (vasprintf(&msg, fmt, ap) < 0)
                abort();
        va_end(ap);
        return vessel_error_msg(err, EINVAL, "%s: %s", path, msg);
}

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

int spec_expect(json_object *v, json_type t, struct loc l, vessel_error **err)
{
        if (v && json_object_is_type(v, t))
                return 0;
        return spec_fail(err, l, "expected %s", type_name(t));
}

static int conv_str(json_object *v, struct loc l, char **out, vessel_error **err)
{
        const char *s;
        int r = spec_expect(v, json_type_string, l, err);

        if (r < 0)
                return r;
        s = json_object_get_string(v);
        if ((size_t)json_object_get_string_len(v) != strlen(s))
                return spec_fail(err, l, "must not contain NUL bytes");
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
        return spec_fail(err, l, "expected an integer");
}

static int out_of_range(vessel_error **err, struct loc l, bool neg, uint64_t mag, int64_t min,
                        uint64_t max)
{
        return spec_fail(err, l, "%s%llu is out of range (%lld..%llu)", neg ? "-" : "",
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

int spec_get_str(json_object *o, const char *where, const char *key, char **out, vessel_error **err)
{
        json_object *v = member(o, key);
        int r;

        if (!v)
                return 0;
        r = conv_str(v, AT(where, key), out, err);
        return r < 0 ? r : 1;
}

int spec_get_uint(json_object *o, const char *where, const char *key, uint64_t min, uint64_t max,
                  uint64_t *out, vessel_error **err)
{
        json_object *v = member(o, key);
        int r;

        if (!v)
                return 0;
        r = conv_uint(v, AT(where, key), min, max, out, err);
        return r < 0 ? r : 1;
}

int spec_get_int(json_object *o, const char *where, const char *key, int64_t min, int64_t max,
                 int64_t *out, vessel_error **err)
{
        json_object *v = member(o, key);
        int r;

        if (!v)
                return 0;
        r = conv_int(v, AT(where, key), min, max, out, err);
        return r < 0 ? r : 1;
}

int spec_get_u32(json_object *o, const char *where, const char *key, uint32_t *out,
                 vessel_error **err)
{
        uint64_t v;
        int r = spec_get_uint(o, where, key, 0, UINT32_MAX, &v, err);

        if (r > 0)
                *out = (uint32_t)v;
        return r;
}

int spec_get_opt_u64(json_object *o, const char *where, const char *key, uint64_t min, uint64_t max,
                     struct vessel_opt_u64 *out, vessel_error **err)
{
        int r = spec_get_uint(o, where, key, min, max, &out->v, err);

        out->set = r > 0;
        return r;
}

int spec_get_opt_i64(json_object *o, const char *where, const char *key, int64_t min, int64_t max,
                     struct vessel_opt_i64 *out, vessel_error **err)
{
        int r = spec_get_int(o, where, key, min, max, &out->v, err);

        out->set = r > 0;
        return r;
}

/* Turn "missing" into an error for required members. */
int spec_required(int r, const char *where, const char *key, vessel_error **err)
{
        if (r == 0)
                return spec_fail(err, AT(where, key), "required");
        return r;
}

static int get_typed(json_object *o, const char *where, const char *key, json_type t,
                     json_object **out, vessel_error **err)
{
        json_object *v = member(o, key);
        int r;

        if (!v)
                return 0;
        r = spec_expect(v, t, AT(where, key), err);
        if (r < 0)
                return r;
        *out = v;
        return 1;
}

int spec_get_bool(json_object *o, const char *where, const char *key, bool *out, vessel_error **err)
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

int spec_get_array(json_object *o, const char *where, const char *key, json_object **out, size_t *n,
                   vessel_error **err)
{
        int r = get_typed(o, where, key, json_type_array, out, err);

        if (r > 0)
                *n = json_object_array_length(*out);
        return r;
}

/* An array of strings, stored NULL-terminated. */
int spec_get_strv(json_object *o, const char *where, const char *key, char ***out, size_t *n,
                  vessel_error **err)
{
        json_object *a;
        size_t len;
        char **v;
        int r = spec_get_array(o, where, key, &a, &len, err);

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
int spec_get_u32_array(json_object *o, const char *where, const char *key, uint32_t **out,
                       size_t *n, vessel_error **err)
{
        json_object *a;
        size_t len;
        int r = spec_get_array(o, where, key, &a, &len, err);

        if (r <= 0 || len == 0)
                return r;
        *out = xmalloc0(len * sizeof(uint32_t));
        *n = len;
        for (size_t i = 0; i < len; i++) {
                json_object *e = json_object_array_get_idx(a, i);
                uint64_t v;

                if (!e)
                        return spec_fail(err, AT_IDX(where, key, i), "expected an integer");
                r = conv_uint(e, AT_IDX(where, key, i), 0, UINT32_MAX, &v, err);
                if (r < 0)
                        return r;
                (*out)[i] = (uint32_t)v;
        }
        return 1;
}

/* An object of string -> string, in document order. */
int spec_get_kv(json_object *o, const char *where, const char *key, struct vessel_kv **out,
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
                path = spec_map_path(where, key, k);
                r = conv_str(jv, AT(path, NULL), &kv[(*n)++].value, err);
                if (r < 0)
                        return r;
        }
        return 1;
}

/* A string naming one entry of a table (terminated by a NULL name). */
int spec_get_enum(json_object *o, const char *where, const char *key, const struct name_val *tab,
                  const char *what, long *out, vessel_error **err)
{
        _cleanup_free_ char *s = NULL;
        int r = spec_get_str(o, where, key, &s, err);

        if (r <= 0)
                return r;
        for (size_t i = 0; tab[i].name; i++) {
                if (!strcmp(tab[i].name, s)) {
                        *out = tab[i].val;
                        return 1;
                }
        }
        return spec_fail(err, AT(where, key), "unknown %s \"%s\"", what, s);
}

static int check_name(const char *s, const char *const *names, const char *what, struct loc l,
                      vessel_error **err)
{
        if (vessel_name_index(names, s) < 0)
                return spec_fail(err, l, "unknown %s \"%s\"", what, s);
        return 0;
}

/* A string that must be one of names[], stored as is. */
int spec_get_name(json_object *o, const char *where, const char *key, const char *const *names,
                  const char *what, char **out, vessel_error **err)
{
        int r = spec_get_str(o, where, key, out, err);

        if (r <= 0)
                return r;
        r = check_name(*out, names, what, AT(where, key), err);
        return r < 0 ? r : 1;
}

/* An array of strings each of which must be one of names[]. */
int spec_get_names(json_object *o, const char *where, const char *key, const char *const *names,
                   const char *what, char ***out, size_t *n, vessel_error **err)
{
        int r = spec_get_strv(o, where, key, out, n, err);

        if (r <= 0)
                return r;
        for (size_t i = 0; i < *n; i++) {
                r = check_name((*out)[i], names, what, AT_IDX(where, key, i), err);
                if (r < 0)
                        return r;
        }
        return 1;
}

int spec_get_abs_path(json_object *o, const char *where, const char *key, char **out,
                      vessel_error **err)
{
        int r = spec_get_str(o, where, key, out, err);

        if (r > 0 && (*out)[0] != '/')
                return spec_fail(err, AT(where, key), "must be an absolute path");
        return r;
}

int spec_get_abs_paths(json_object *o, const char *where, const char *key, char ***out, size_t *n,
                       vessel_error **err)
{
        int r = spec_get_strv(o, where, key, out, n, err);

        if (r <= 0)
                return r;
        for (size_t i = 0; i < *n; i++)
                if ((*out)[i][0] != '/')
                        return spec_fail(err, AT_IDX(where, key, i), "must be an absolute path");
        return 1;
}

static bool parse_id(const char **p, unsigned long max, unsigned long *v)
{
        if (**p < '0' || **p > '9')
                return false;
        *v = 0;
        while (**p >= '0' && **p <= '9') {
                *v = *v * 10 + (unsigned long)(**p - '0');
                if (*v > max)
                        return false;
                (*p)++;
        }
        return true;
}

/* "0-3,5,7-8": comma separated numbers and ascending ranges, none above
 * max.  With mask (max + 1 bits) non-NULL, their bits are set in it. */
static bool id_list_parse(const char *s, unsigned long max, unsigned long *mask)
{
        const unsigned long bits = 8 * sizeof(*mask);
        const char *p = s;

        for (;;) {
                unsigned long lo, hi;

                if (!parse_id(&p, max, &lo))
                        return false;
                hi = lo;
                if (*p == '-') {
                        p++;
                        if (!parse_id(&p, max, &hi) || hi < lo)
                                return false;
                }
                for (unsigned long i = lo; mask && i <= hi; i++)
                        mask[i / bits] |= 1UL << (i % bits);
                if (*p == '\0')
                        return true;
                if (*p++ != ',')
                        return false;
        }
}

/* A cpu/memory-node list; "" means "not set" and is stored as NULL. */
int spec_get_cpu_list(json_object *o, const char *where, const char *key, char **out,
                      vessel_error **err)
{
        int r = spec_get_str(o, where, key, out, err);

        if (r <= 0)
                return r;
        if ((*out)[0] == '\0') {
                free(*out);
                *out = NULL;
                return 0;
        }
        if (!id_list_parse(*out, CPU_NUMBER_MAX, NULL))
                return spec_fail(err, AT(where, key), "invalid cpu list \"%s\"", *out);
        return 1;
}

int spec_get_id_mask(json_object *o, const char *where, const char *key, unsigned long *mask,
                     size_t nbits, char **out, vessel_error **err)
{
        int r = spec_get_str(o, where, key, out, err);

        if (r <= 0 || (*out)[0] == '\0')
                return r;
        if (!id_list_parse(*out, nbits - 1, mask))
                return spec_fail(
                    err, AT(where, key),
                    "invalid list \"%s\" (numbers and ranges below %zu, e.g. \"0-3,7\")", *out,
                    nbits);
        return 1;
}

int spec_get_flags(json_object *o, const char *where, const char *key, const struct name_val *tab,
                   const char *what, uint64_t *out, vessel_error **err)
{
        _cleanup_strv_ char **names = NULL;
        size_t n = 0;
        int r = spec_get_strv(o, where, key, &names, &n, err);

        if (r <= 0)
                return r;
        *out = 0;
        for (size_t i = 0; i < n; i++) {
                size_t k = 0;

                while (tab[k].name && strcmp(tab[k].name, names[i]))
                        k++;
                if (!tab[k].name)
                        return spec_fail(err, AT_IDX(where, key, i), "unknown %s \"%s\"", what,
                                         names[i]);
                *out |= (uint64_t)tab[k].val;
        }
        return 1;
}

/* A nested object: calls fn on it with its path. */
int spec_get_sub(json_object *o, const char *where, const char *key, obj_parser fn, void *item,
                 vessel_error **err)
{
        _cleanup_free_ char *path = NULL;
        json_object *v;
        int r = get_object(o, where, key, &v, err);

        if (r <= 0)
                return r;
        path = spec_loc_path(AT(where, key));
        r = fn(v, path, item, err);
        return r < 0 ? r : 1;
}

/* Element i of array a (member 'key' of 'where'), which must be an object. */
int spec_object_at(json_object *a, const char *where, const char *key, size_t i, json_object **e,
                   char **path, vessel_error **err)
{
        *e = json_object_array_get_idx(a, i);
        *path = spec_loc_path(AT_IDX(where, key, i));
        return spec_expect(*e, json_type_object, AT(*path, NULL), err);
}

/* An array of objects: allocates *out (items of 'size' bytes, zeroed) and
 * calls fn on each.  *out and *n are set before the items are parsed, so
 * that on error the owner's free function releases the partial result. */
int spec_get_obj_array(json_object *o, const char *where, const char *key, size_t size, void **out,
                       size_t *n, obj_parser fn, vessel_error **err)
{
        json_object *a;
        size_t len;
        char *items;
        int r = spec_get_array(o, where, key, &a, &len, err);

        if (r <= 0 || len == 0)
                return r;
        items = xmalloc0(len * size);
        *out = items;
        *n = len;
        for (size_t i = 0; i < len; i++) {
                _cleanup_free_ char *path = NULL;
                json_object *e;

                TRY(spec_object_at(a, where, key, i, &e, &path, err));
                TRY(fn(e, path, items + i * size, err));
        }
        return 1;
}

void spec_kv_free(struct vessel_kv *kv, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(kv[i].key);
                free(kv[i].value);
        }
        free(kv);
}

/* cgroup file names: the cgroup manager writes <cgroup>/<key>. */
bool spec_is_file_name(const char *s)
{
        return s[0] && !strchr(s, '/') && strcmp(s, ".") && strcmp(s, "..");
}
