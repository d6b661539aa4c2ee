/* confyaml.c: configurations to YAML and back (libyaml's emitter and
 * document API; only the known structure is walked). */
#include "confyaml.h"
#include "yaml-out.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "util.h"

void conf_doc_free(struct conf_doc *d)
{
        size_t n = strv_len(d->profiles);

        kvlist_free(&d->top);
        confset_free(&d->conf);
        for (size_t i = 0; d->pconf && i < n; i++)
                confset_free(&d->pconf[i]);
        free(d->pconf);
        strv_free(d->profiles);
        *d = (struct conf_doc){0};
}

bool yaml_looks_typed(const char *s)
{
        static const char *const words[] = {"true", "false", "yes",  "no", "on", "off",
                                            "y",    "n",     "null", "~",  ""};
        char *end;

        for (size_t i = 0; i < ARRAY_SIZE(words); i++)
                if (!strcasecmp(s, words[i]))
                        return true;
        strtod(s, &end);
        return *end == '\0';
}

/* Emitting. */

void yaml_emit_scalar(yaml_emitter_t *e, const char *s, bool plain_ok)
{
        yaml_event_t ev;
        bool quote = !plain_ok && yaml_looks_typed(s);

        yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), !quote, 1,
                                     quote ? YAML_SINGLE_QUOTED_SCALAR_STYLE
                                           : YAML_ANY_SCALAR_STYLE);
        yaml_emitter_emit(e, &ev);
}

static void ev_map(yaml_emitter_t *e, bool start)
{
        yaml_event_t ev;

        if (start)
                yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        else
                yaml_mapping_end_event_initialize(&ev);
        yaml_emitter_emit(e, &ev);
}

static void emit_kvs(yaml_emitter_t *e, const struct kvlist *l, const char *first_k,
                     const char *first_v)
{
        yaml_event_t ev;

        if (!l->n && !first_k) {
                yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_FLOW_MAPPING_STYLE);
                yaml_emitter_emit(e, &ev);
                ev_map(e, false);
                return;
        }
        ev_map(e, true);
        if (first_k) {
                yaml_emit_scalar(e, first_k, true);
                yaml_emit_scalar(e, first_v, false);
        }
        for (size_t i = 0; i < l->n; i++) {
                yaml_emit_scalar(e, l->v[i].key, true);
                yaml_emit_scalar(e, l->v[i].value, false);
        }
        ev_map(e, false);
}

static void emit_devices(yaml_emitter_t *e, const struct devlist *l)
{
        struct kvlist none = {0};

        if (!l->n) {
                emit_kvs(e, &none, NULL, NULL);
                return;
        }
        ev_map(e, true);
        for (size_t i = 0; i < l->n; i++) {
                yaml_emit_scalar(e, l->v[i].name, true);
                emit_kvs(e, &l->v[i].cfg, "type", l->v[i].type);
        }
        ev_map(e, false);
}

static void emit_confset(yaml_emitter_t *e, const struct confset *c)
{
        yaml_emit_scalar(e, "description", true);
        yaml_emit_scalar(e, c->description ? c->description : "", false);
        yaml_emit_scalar(e, "config", true);
        emit_kvs(e, &c->config, NULL, NULL);
        yaml_emit_scalar(e, "devices", true);
        emit_devices(e, &c->devices);
}

static void emit_profiles(yaml_emitter_t *e, const struct conf_doc *d)
{
        yaml_event_t ev;

        yaml_emit_scalar(e, "profiles", true);
        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        yaml_emitter_emit(e, &ev);
        for (size_t i = 0; d->profiles[i]; i++) {
                if (!d->pconf) {
                        yaml_emit_scalar(e, d->profiles[i], true);
                        continue;
                }
                ev_map(e, true);
                yaml_emit_scalar(e, "name", true);
                yaml_emit_scalar(e, d->profiles[i], true);
                emit_confset(e, &d->pconf[i]);
                ev_map(e, false);
        }
        yaml_sequence_end_event_initialize(&ev);
        yaml_emitter_emit(e, &ev);
}

char *conf_doc_emit(const struct conf_doc *d)
{
        struct yaml_out b = {0};
        yaml_emitter_t e;
        yaml_event_t ev;

        yaml_emitter_initialize(&e);
        yaml_out_set(&e, &b);
        yaml_emitter_set_unicode(&e, 1);
        yaml_emitter_set_width(&e, -1);
        yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
        yaml_emitter_emit(&e, &ev);
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
        yaml_emitter_emit(&e, &ev);
        ev_map(&e, true);
        for (size_t i = 0; i < d->top.n; i++) {
                yaml_emit_scalar(&e, d->top.v[i].key, true);
                yaml_emit_scalar(&e, d->top.v[i].value, false);
        }
        emit_confset(&e, &d->conf);
        if (d->profiles)
                emit_profiles(&e, d);
        ev_map(&e, false);
        yaml_document_end_event_initialize(&ev, 1);
        yaml_emitter_emit(&e, &ev);
        yaml_stream_end_event_initialize(&ev);
        yaml_emitter_emit(&e, &ev);
        if (!yaml_emitter_flush(&e) || !b.data)
                abort(); /* out of memory: the manager cannot go on */
        yaml_emitter_delete(&e);
        return b.data;
}

/* Parsing. */

struct cy {
        yaml_document_t doc;
        const char *what;
        vessel_error **err;
};

static int cy_fail(struct cy *p, const yaml_node_t *n, const char *msg, const char *key)
{
        return vessel_error_msg(p->err, EINVAL, "%s: line %zu: %s%s%s", p->what,
                                n ? n->start_mark.line + 1 : 1, key ? key : "", key ? ": " : "",
                                msg);
}

static yaml_node_t *cy_node(struct cy *p, int i)
{
        return yaml_document_get_node(&p->doc, i);
}

static const char *scalar(const yaml_node_t *n)
{
        return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A plain null ("", ~, null) stands for an empty mapping or list. */
static bool is_null(const yaml_node_t *n)
{
        const char *s = scalar(n);

        return s && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
               (!*s || !strcmp(s, "~") || !strcasecmp(s, "null"));
}

static int parse_string_map(struct cy *p, yaml_node_t *n, const char *key, struct kvlist *out,
                            const char *skip, char **skipped)
{
        if (is_null(n))
                return 0;
        if (n->type != YAML_MAPPING_NODE)
                return cy_fail(p, n, "expected a mapping of strings", key);
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
             pr++) {
                yaml_node_t *k = cy_node(p, pr->key), *v = cy_node(p, pr->value);
                const char *ks = scalar(k), *vs = is_null(v) ? "" : scalar(v);
                if (!ks || !vs)
                        return cy_fail(p, v ? v : k, "expected a string", ks ? ks : key);
                if (skip && !strcmp(ks, skip)) {
                        free(*skipped);
                        *skipped = xstrdup(vs);
                } else {
                        kvlist_set(out, ks, vs);
                }
        }
        return 0;
}

static int parse_devices(struct cy *p, yaml_node_t *n, struct devlist *out)
{
        if (is_null(n))
                return 0;
        if (n->type != YAML_MAPPING_NODE)
                return cy_fail(p, n, "expected a mapping of device names", "devices");
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
             pr++) {
                const char *name = scalar(cy_node(p, pr->key));
                struct device d = {0};
                int r;
                if (!name)
                        return cy_fail(p, cy_node(p, pr->key), "expected a device name", "devices");
                d.name = xstrdup(name);
                r = parse_string_map(p, cy_node(p, pr->value), name, &d.cfg, "type", &d.type);
                if (r == 0 && !d.type)
                        r = cy_fail(p, cy_node(p, pr->value), "a device needs a \"type\"", name);
                if (r == 0)
                        devlist_set(out, &d);
                device_free(&d);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int parse_confset_key(struct cy *p, const char *k, yaml_node_t *v, struct confset *c,
                             bool *handled)
{
        *handled = true;
        if (!strcmp(k, "config"))
                return parse_string_map(p, v, k, &c->config, NULL, NULL);
        if (!strcmp(k, "devices"))
                return parse_devices(p, v, &c->devices);
        if (!strcmp(k, "description")) {
                const char *s = is_null(v) ? "" : scalar(v);
                if (!s)
                        return cy_fail(p, v, "expected a string", k);
                free(c->description);
                c->description = xstrdup(s);
                return 0;
        }
        *handled = false;
        return 0;
}

static int parse_full_profile(struct cy *p, yaml_node_t *n, struct conf_doc *d, size_t i)
{
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
             pr++) {
                const char *k = scalar(cy_node(p, pr->key));
                yaml_node_t *v = cy_node(p, pr->value);
                bool handled;
                if (!k)
                        continue;
                if (!strcmp(k, "name") && scalar(v)) {
                        free(d->profiles[i]);
                        d->profiles[i] = xstrdup(scalar(v));
                        continue;
                }
                if (parse_confset_key(p, k, v, &d->pconf[i], &handled) < 0)
                        return -EINVAL;
        }
        return d->profiles[i][0] ? 0 : cy_fail(p, n, "a profile needs a \"name\"", "profiles");
}

static int parse_profiles(struct cy *p, yaml_node_t *n, struct conf_doc *d)
{
        size_t count;

        d->profiles = xmalloc0(sizeof(char *));
        if (is_null(n))
                return 0;
        if (n->type != YAML_SEQUENCE_NODE)
                return cy_fail(p, n, "expected a list of profile names", "profiles");
        count = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
        for (size_t i = 0; i < count; i++) {
                yaml_node_t *it = cy_node(p, n->data.sequence.items.start[i]);
                if (it && it->type == YAML_MAPPING_NODE) {
                        if (!d->pconf)
                                d->pconf = xmalloc0(count * sizeof(*d->pconf));
                        d->profiles = strv_append(d->profiles, "");
                        if (parse_full_profile(p, it, d, i) < 0)
                                return -EINVAL;
                } else if (scalar(it) && !d->pconf) {
                        d->profiles = strv_append(d->profiles, scalar(it));
                } else {
                        return cy_fail(p, it, "expected a profile name", "profiles");
                }
        }
        return 0;
}

static int parse_top(struct cy *p, yaml_node_t *root, struct conf_doc *d)
{
        if (!root || is_null(root))
                return 0;
        if (root->type != YAML_MAPPING_NODE)
                return cy_fail(p, root, "expected a mapping at the top", NULL);
        for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
             pr < root->data.mapping.pairs.top; pr++) {
                const char *k = scalar(cy_node(p, pr->key));
                yaml_node_t *v = cy_node(p, pr->value);
                bool handled;
                if (!k)
                        return cy_fail(p, cy_node(p, pr->key), "expected a key", NULL);
                if (parse_confset_key(p, k, v, &d->conf, &handled) < 0)
                        return -EINVAL;
                if (handled)
                        continue;
                if (!strcmp(k, "profiles")) {
                        if (parse_profiles(p, v, d) < 0)
                                return -EINVAL;
                } else if (scalar(v)) {
                        kvlist_set(&d->top, k, scalar(v));
                }
        }
        return 0;
}

int conf_doc_parse(const char *yaml, size_t len, const char *what, struct conf_doc *out,
                   vessel_error **err)
{
        struct cy p = {.what = what, .err = err};
        yaml_parser_t parser;
        int r;

        *out = (struct conf_doc){.conf.description = xstrdup("")};
        yaml_parser_initialize(&parser);
        yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
        if (!yaml_parser_load(&parser, &p.doc)) {
                r = vessel_error_msg(err, EINVAL, "%s: line %zu: %s", what,
                                     parser.problem_mark.line + 1,
                                     parser.problem ? parser.problem : "not YAML");
                yaml_parser_delete(&parser);
                conf_doc_free(out);
                return r;
        }
        r = parse_top(&p, yaml_document_get_root_node(&p.doc), out);
        yaml_document_delete(&p.doc);
        yaml_parser_delete(&parser);
        if (r < 0)
                conf_doc_free(out);
        return r;
}
