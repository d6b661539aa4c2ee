/* spec-internal.h: what the parts of the config.json parser share (spec*.c,
 * one file per section of the runtime spec): JSON paths for error
 * messages, the typed JSON getters of spec-json.c, and each section's
 * parse and clear functions.  Not for use outside the parser. */
#pragma once

#include "spec.h"
#include "util.h"

#include <json-c/json.h>

/* ---- JSON paths and errors ---- */

/* A value's position: member 'key' (if any) of the value at 'where',
 * then element 'idx' (if >= 0) of that.  'where' is "" at the top. */
struct loc {
        const char *where;
        const char *key;
        ssize_t idx;
};
#define AT(w, k) ((struct loc){(w), (k), -1})
#define AT_IDX(w, k, i) ((struct loc){(w), (k), (ssize_t)(i)})

/* "where.key[idx]" (malloc'd). */
char *spec_loc_path(struct loc l);
/* Path of a member of a JSON map (annotations, sysctl, ...): a["k"]. */
char *spec_map_path(const char *where, const char *key, const char *name);
/* Fill *err with "<path>: <message>" (EINVAL) and return -EINVAL. */
int spec_fail(vessel_error **err, struct loc l, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Return from the calling function if expr fails (is negative). */
#define TRY(expr)                                                                                  \
        do {                                                                                       \
                int r_ = (expr);                                                                   \
                if (r_ < 0)                                                                        \
                        return r_;                                                                 \
        } while (0)

/* ---- typed access to JSON values ---- */

/* v must be non-NULL and of type t. */
int spec_expect(json_object *v, json_type t, struct loc l, vessel_error **err);

/* The spec_get_* helpers read member 'key' of object o, whose path is
 * 'where'.  They return 0 when the member is missing or null (leaving *out
 * alone), 1 once it is stored in *out, or a negative errno with *err filled.
 * Integers are range-checked (min..max, inclusive). */
int spec_get_str(json_object *o, const char *where, const char *key, char **out,
                 vessel_error **err);
int spec_get_uint(json_object *o, const char *where, const char *key, uint64_t min, uint64_t max,
                  uint64_t *out, vessel_error **err);
int spec_get_int(json_object *o, const char *where, const char *key, int64_t min, int64_t max,
                 int64_t *out, vessel_error **err);
int spec_get_u32(json_object *o, const char *where, const char *key, uint32_t *out,
                 vessel_error **err);
int spec_get_opt_u64(json_object *o, const char *where, const char *key, uint64_t min, uint64_t max,
                     struct vessel_opt_u64 *out, vessel_error **err);
int spec_get_opt_i64(json_object *o, const char *where, const char *key, int64_t min, int64_t max,
                     struct vessel_opt_i64 *out, vessel_error **err);
int spec_get_bool(json_object *o, const char *where, const char *key, bool *out,
                  vessel_error **err);
int spec_get_array(json_object *o, const char *where, const char *key, json_object **out, size_t *n,
                   vessel_error **err);
/* An array of strings, stored NULL-terminated. */
int spec_get_strv(json_object *o, const char *where, const char *key, char ***out, size_t *n,
                  vessel_error **err);
/* An array of uint32 numbers. */
int spec_get_u32_array(json_object *o, const char *where, const char *key, uint32_t **out,
                       size_t *n, vessel_error **err);
/* An object of string -> string, in document order. */
int spec_get_kv(json_object *o, const char *where, const char *key, struct vessel_kv **out,
                size_t *n, vessel_error **err);
void spec_kv_free(struct vessel_kv *kv, size_t n);

/* Turn "missing" (r == 0) into an error for required members. */
int spec_required(int r, const char *where, const char *key, vessel_error **err);

struct name_val {
        const char *name;
        long val;
};
/* A string naming one entry of a table (terminated by a NULL name). */
int spec_get_enum(json_object *o, const char *where, const char *key, const struct name_val *tab,
                  const char *what, long *out, vessel_error **err);
/* A string that must be one of names[], stored as is. */
int spec_get_name(json_object *o, const char *where, const char *key, const char *const *names,
                  const char *what, char **out, vessel_error **err);
/* An array of strings each of which must be one of names[]. */
int spec_get_names(json_object *o, const char *where, const char *key, const char *const *names,
                   const char *what, char ***out, size_t *n, vessel_error **err);
int spec_get_abs_path(json_object *o, const char *where, const char *key, char **out,
                      vessel_error **err);
int spec_get_abs_paths(json_object *o, const char *where, const char *key, char ***out, size_t *n,
                       vessel_error **err);
/* A cpu/memory-node list ("0-3,5,7-8"); "" means "not set" and is stored
 * as NULL. */
int spec_get_cpu_list(json_object *o, const char *where, const char *key, char **out,
                      vessel_error **err);

/* A list of numbers like a cpu list ("0-3,7", all below nbits) as a bit
 * mask of nbits (the caller zeroes it); *out keeps the text.  "" is an
 * empty set. */
int spec_get_id_mask(json_object *o, const char *where, const char *key, unsigned long *mask,
                     size_t nbits, char **out, vessel_error **err);
/* An array of names from tab, their values ORed into *out. */
int spec_get_flags(json_object *o, const char *where, const char *key, const struct name_val *tab,
                   const char *what, uint64_t *out, vessel_error **err);

/* Parses the object o (at 'path') into 'item'; used both for the elements
 * of arrays of objects and for nested objects. */
typedef int (*obj_parser)(json_object *o, const char *path, void *item, vessel_error **err);

/* A nested object: calls fn on it with its path. */
int spec_get_sub(json_object *o, const char *where, const char *key, obj_parser fn, void *item,
                 vessel_error **err);
/* Element i of array a (member 'key' of 'where'), which must be an object;
 * *path is its path (malloc'd). */
int spec_object_at(json_object *a, const char *where, const char *key, size_t i, json_object **e,
                   char **path, vessel_error **err);
/* An array of objects: allocates *out (items of 'size' bytes, zeroed) and
 * calls fn on each.  *out and *n are set before the items are parsed, so
 * that on error the owner's free function releases the partial result. */
int spec_get_obj_array(json_object *o, const char *where, const char *key, size_t size, void **out,
                       size_t *n, obj_parser fn, vessel_error **err);

#define GET_OBJ_ARRAY(o, where, key, arr, n, fn, err)                                              \
        spec_get_obj_array((o), (where), (key), sizeof(*(arr)), (void **)&(arr), &(n), (fn), (err))

#define FREE_ARRAY(arr, n, clear_fn)                                                               \
        do {                                                                                       \
                for (size_t i_ = 0; i_ < (n); i_++)                                                \
                        clear_fn(&(arr)[i_]);                                                      \
                free(arr);                                                                         \
        } while (0)

/* A name the runtime turns into a file under a directory it owns (cgroup
 * files, resctrl groups): no '/', not "." or "..". */
bool spec_is_file_name(const char *s);

/* ---- the sections (obj_parser functions and their clear functions) ---- */

/* spec-process.c: "process" (item: struct vessel_process) */
int spec_parse_process(json_object *o, const char *w, void *item, vessel_error **err);
void spec_process_clear(struct vessel_process *p);

/* spec-mounts.c: an element of "mounts" (item: struct vessel_mount) */
int spec_parse_mount(json_object *o, const char *path, void *item, vessel_error **err);
void spec_mount_clear(struct vessel_mount *m);

/* spec-hooks.c: "hooks" (item: struct vessel_hooks) */
int spec_parse_hooks(json_object *o, const char *w, void *item, vessel_error **err);
void spec_hooks_clear(struct vessel_hooks *hooks);

/* spec-linux.c: "linux" (item: struct vessel_linux); an id mapping
 * (struct vessel_idmap), shared with the mounts' uidMappings/gidMappings. */
int spec_parse_linux(json_object *o, const char *w, void *item, vessel_error **err);
void spec_linux_clear(struct vessel_linux *l);
int spec_parse_idmap(json_object *o, const char *path, void *item, vessel_error **err);

/* spec-resources.c: linux.resources (item: struct vessel_resources) */
int spec_parse_resources(json_object *o, const char *w, void *item, vessel_error **err);
void spec_resources_clear(struct vessel_resources *r);

/* spec-seccomp.c: linux.seccomp (item: struct vessel_seccomp) */
int spec_parse_seccomp(json_object *o, const char *w, void *item, vessel_error **err);
void spec_seccomp_clear(struct vessel_seccomp *s);
