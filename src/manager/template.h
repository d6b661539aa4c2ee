/* template.h: the template language of image templates, a small subset
 * of pongo2 (the Django-like engine Incus renders templates/ with), our
 * own implementation.  Pure: text and a context in, text out.
 *
 *   {{ expr }}                    the value of expr ("" when undefined)
 *   {% if e %} {% elif e %} {% else %} {% endif %}    nested freely
 *   {# comment #}
 *   {{- -}} {%- -%} {#- -#}       "-" trims the whitespace (newlines too)
 *                                 before or after the tag
 *
 * Expressions: "strings" and 'strings' (\\ \" \' \n \t escapes), decimal
 * integers, true and false, names and dotted lookups (instance.name),
 * subscripts (config["user.foo"]), ==, !=, and (&&), or (||), not (!),
 * parentheses, and the function config_get(KEY, DEFAULT): the value of
 * the key in the context's "config" map, else DEFAULT.
 *
 * Truthiness is pongo2's: an empty string, false, 0, an empty map and an
 * undefined value are false.  == compares a string with a string, an
 * integer with an integer, a bool with a bool (values of different types
 * are never equal; two undefined values are).  Booleans print as True
 * and False, as pongo2 prints them.
 *
 * The whole template is parsed before anything is rendered, so a syntax
 * error anywhere (also in a branch not taken) is an error, naming the
 * template and the line: "template hostname.tpl:3: unknown tag \"for\"". */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"

/* Nesting limits (expressions and {% if %} blocks), so that hostile
 * templates cannot exhaust the stack. */
#define TEMPLATE_MAX_DEPTH 64

enum tpl_type { TPL_NULL, TPL_STRING, TPL_BOOL, TPL_INT, TPL_MAP };

struct tpl_entry;

/* A value of the context: a string, a boolean or a map of values. */
struct tpl_value {
        enum tpl_type type;
        char *s;             /* TPL_STRING */
        bool b;              /* TPL_BOOL */
        long long i;         /* TPL_INT */
        struct tpl_entry *v; /* TPL_MAP, sorted by key */
        size_t n;
};

struct tpl_entry {
        char *key;
        struct tpl_value value;
};

/* An empty map (the context itself is one). */
void tpl_map_init(struct tpl_value *map);
/* Set map[key] (replacing what was there) to a copy of s, to b, or to a
 * new empty map, which is returned to be filled. */
void tpl_map_set_string(struct tpl_value *map, const char *key, const char *s);
void tpl_map_set_bool(struct tpl_value *map, const char *key, bool b);
struct tpl_value *tpl_map_set_map(struct tpl_value *map, const char *key);
/* map[key], or NULL. */
const struct tpl_value *tpl_map_get(const struct tpl_value *map, const char *key);
void tpl_value_free(struct tpl_value *v);

/* Render the template text (len bytes, need not be NUL-terminated; name
 * is for errors) with ctx, a map, into *out (malloc'd, NUL-terminated,
 * *out_len bytes without the NUL).  On error nothing is returned and
 * *err says "template NAME:LINE: what". */
int template_render(const char *name, const char *text, size_t len, const struct tpl_value *ctx,
                    char **out, size_t *out_len, vessel_error **err);
