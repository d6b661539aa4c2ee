/* metadata.c: metadata.yaml through libyaml's document API.  Only the
 * known structure is walked (no recursion into arbitrary nodes), so
 * anchors and aliases cannot blow up the work. */
#include "metadata.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "extract.h"
#include "util.h"

struct md_parse {
        yaml_document_t *doc;
        vessel_error **err;
};

static int md_fail(struct md_parse *p, const yaml_node_t *n, const char *fmt, const char *a)
{
        return vessel_error_msg(p->err, EINVAL, "metadata.yaml: line %zu: %s%s",
                                n ? n->start_mark.line + 1 : 1, a, fmt);
}

static yaml_node_t *md_node(struct md_parse *p, int index)
{
        return yaml_document_get_node(p->doc, index);
}

static const char *scalar(const yaml_node_t *n)
{
        return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A scalar that YAML resolves to null ("", ~, null) when plain. */
static bool scalar_is_null(const yaml_node_t *n)
{
        const char *s = scalar(n);

        if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return false;
        return !*s || !strcmp(s, "~") || !strcasecmp(s, "null");
}

static int parse_int_node(struct md_parse *p, const yaml_node_t *n, const char *key, int64_t *out)
{
        const char *s = scalar(n);

        if (!s || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE || parse_int64(s, out) < 0)
                return md_fail(p, n, ": not an integer (a unix time)", key);
        return 0;
}

static int parse_bool_node(struct md_parse *p, const yaml_node_t *n, const char *key, bool *out)
{
        static const char *const yes[] = {"true", "yes", "on", "y"};
        static const char *const no[] = {"false", "no", "off", "n"};
        const char *s = scalar(n);

        for (size_t i = 0; s && i < ARRAY_SIZE(yes); i++) {
                if (!strcasecmp(s, yes[i]) || !strcasecmp(s, no[i])) {
                        *out = !strcasecmp(s, yes[i]);
                        return 0;
                }
        }
        return md_fail(p, n, ": not a boolean (true or false)", key);
}

static int parse_string_node(struct md_parse *p, const yaml_node_t *n, const char *key, char **out)
{
        const char *s = scalar(n);

        if (!s)
                return md_fail(p, n, ": not a string", key);
        free(*out);
        *out = xstrdup(scalar_is_null(n) ? "" : s);
        return 0;
}

static void kv_free(struct kv *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(v[i].key);
                free(v[i].value);
        }
        free(v);
}

/* A map of string to string (Go's map[string]string: any scalar value). */
static int parse_string_map(struct md_parse *p, const yaml_node_t *n, const char *key,
                            struct kv **out, size_t *n_out)
{
        if (scalar_is_null(n))
                return 0;
        if (n->type != YAML_MAPPING_NODE)
                return md_fail(p, n, ": not a map of strings", key);
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
             pr++) {
                const yaml_node_t *k = md_node(p, pr->key), *v = md_node(p, pr->value);
                const char *ks = scalar(k);

                if (!ks || !scalar(v))
                        return md_fail(p, ks ? v : k, ": keys and values must be strings", key);
                for (size_t i = 0; i < *n_out; i++)
                        if (!strcmp((*out)[i].key, ks))
                                return md_fail(p, k, ": duplicate key", key);
                *out = realloc(*out, (*n_out + 1) * sizeof(**out));
                if (!*out)
                        abort();
                (*out)[*n_out] =
                    (struct kv){xstrdup(ks), xstrdup(scalar_is_null(v) ? "" : scalar(v))};
                (*n_out)++;
        }
        return 0;
}

const char *template_trigger_name(unsigned bit)
{
        switch (bit) {
        case TRIGGER_CREATE:
                return "create";
        case TRIGGER_COPY:
                return "copy";
        case TRIGGER_START:
                return "start";
        case TRIGGER_RENAME:
                return "rename";
        }
        return NULL;
}

static int parse_when(struct md_parse *p, const yaml_node_t *n, unsigned *when)
{
        if (n->type != YAML_SEQUENCE_NODE)
                return md_fail(p, n, ": not a list of triggers", "when");
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
                const yaml_node_t *t = md_node(p, *it);
                const char *s = scalar(t);
                unsigned bit;

                for (bit = 1; bit <= TRIGGER_RENAME; bit <<= 1)
                        if (s && !strcmp(s, template_trigger_name(bit)))
                                break;
                if (bit > TRIGGER_RENAME)
                        return md_fail(p, t, ": unknown trigger (create, copy, start or rename)",
                                       "when");
                *when |= bit;
        }
        return 0;
}

/* A path inside templates/: relative, without "..". */
static bool template_name_ok(const char *s)
{
        _cleanup_free_ char *clean = NULL;

        return path_clean(s, &clean) == 0 && *clean;
}

static int parse_template_field(struct md_parse *p, struct image_template *t, const char *k,
                                const yaml_node_t *v)
{
        if (!strcmp(k, "when"))
                return parse_when(p, v, &t->when);
        if (!strcmp(k, "create_only"))
                return parse_bool_node(p, v, k, &t->create_only);
        if (!strcmp(k, "template"))
                return parse_string_node(p, v, k, &t->template);
        if (!strcmp(k, "properties"))
                return parse_string_map(p, v, k, &t->properties, &t->n_properties);
        if (!strcmp(k, "uid"))
                return parse_string_node(p, v, k, &t->uid);
        if (!strcmp(k, "gid"))
                return parse_string_node(p, v, k, &t->gid);
        if (!strcmp(k, "mode"))
                return parse_string_node(p, v, k, &t->mode);
        return 0; /* unknown keys are ignored, as Incus does */
}

static int parse_template(struct md_parse *p, const yaml_node_t *kn, const yaml_node_t *n,
                          struct image_template *t)
{
        const char *path = scalar(kn);

        if (!path)
                return md_fail(p, kn, ": a template's key must be an absolute path", "templates");
        if (path[0] != '/')
                return vessel_error_msg(p->err, EINVAL,
                                        "metadata.yaml: line %zu: templates: \"%s\": a "
                                        "template's key must be an absolute path",
                                        kn->start_mark.line + 1, path);
        t->path = xstrdup(path);
        if (n->type != YAML_MAPPING_NODE)
                return md_fail(p, n, ": not a map", path);
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
             pr++) {
                const char *k = scalar(md_node(p, pr->key));
                if (!k)
                        return md_fail(p, md_node(p, pr->key), ": keys must be strings", path);
                if (parse_template_field(p, t, k, md_node(p, pr->value)) < 0)
                        return vessel_error_prefix(p->err, "template %s", path);
        }
        if (!t->template || !template_name_ok(t->template))
                return md_fail(p, n, ": needs \"template\", a file name under templates/", path);
        return 0;
}

static int parse_templates(struct md_parse *p, const yaml_node_t *n, struct image_metadata *md)
{
        if (scalar_is_null(n))
                return 0;
        if (n->type != YAML_MAPPING_NODE)
                return md_fail(p, n, ": not a map of paths to templates", "templates");
        for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top;
             pr++) {
                md->templates =
                    realloc(md->templates, (md->n_templates + 1) * sizeof(*md->templates));
                if (!md->templates)
                        abort();
                struct image_template *t = &md->templates[md->n_templates++];
                *t = (struct image_template){0};
                if (parse_template(p, md_node(p, pr->key), md_node(p, pr->value), t) < 0)
                        return -EINVAL;
        }
        return 0;
}

static int parse_top_field(struct md_parse *p, struct image_metadata *md, const char *k,
                           const yaml_node_t *v)
{
        if (!strcmp(k, "architecture"))
                return parse_string_node(p, v, k, &md->architecture);
        if (!strcmp(k, "creation_date"))
                return parse_int_node(p, v, k, &md->creation_date);
        if (!strcmp(k, "expiry_date"))
                return parse_int_node(p, v, k, &md->expiry_date);
        if (!strcmp(k, "properties"))
                return parse_string_map(p, v, k, &md->properties, &md->n_properties);
        if (!strcmp(k, "templates"))
                return parse_templates(p, v, md);
        return 0;
}

static int parse_top(struct md_parse *p, struct image_metadata *md)
{
        const yaml_node_t *root = yaml_document_get_root_node(p->doc);
        bool seen_creation = false;

        if (!root || scalar_is_null(root))
                return vessel_error_msg(p->err, EINVAL, "metadata.yaml: empty");
        if (root->type != YAML_MAPPING_NODE)
                return md_fail(p, root, "not a map of keys", "");
        for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
             pr < root->data.mapping.pairs.top; pr++) {
                const char *k = scalar(md_node(p, pr->key));
                if (!k)
                        return md_fail(p, md_node(p, pr->key), "keys must be strings", "");
                seen_creation |= !strcmp(k, "creation_date");
                if (parse_top_field(p, md, k, md_node(p, pr->value)) < 0)
                        return -EINVAL;
        }
        if (!md->architecture || !*md->architecture)
                return vessel_error_msg(p->err, EINVAL,
                                        "metadata.yaml: \"architecture\" is missing");
        if (!seen_creation)
                return vessel_error_msg(p->err, EINVAL,
                                        "metadata.yaml: \"creation_date\" is missing");
        return 0;
}

int image_metadata_parse(const char *buf, size_t len, struct image_metadata *md, vessel_error **err)
{
        yaml_parser_t parser;
        yaml_document_t doc;
        struct md_parse p = {.doc = &doc, .err = err};
        int r;

        *md = (struct image_metadata){0};
        if (len > METADATA_MAX_SIZE)
                return vessel_error_msg(err, EFBIG, "metadata.yaml: larger than %d bytes",
                                        METADATA_MAX_SIZE);
        if (!yaml_parser_initialize(&parser))
                return vessel_error_msg(err, ENOMEM, "metadata.yaml: out of memory");
        yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
        if (!yaml_parser_load(&parser, &doc)) {
                r = vessel_error_msg(err, EINVAL, "metadata.yaml: line %zu: %s",
                                     parser.problem_mark.line + 1,
                                     parser.problem ? parser.problem : "malformed YAML");
                yaml_parser_delete(&parser);
                return r;
        }
        r = parse_top(&p, md);
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        if (r < 0)
                image_metadata_free(md);
        return r;
}

void image_metadata_free(struct image_metadata *md)
{
        free(md->architecture);
        kv_free(md->properties, md->n_properties);
        for (size_t i = 0; i < md->n_templates; i++) {
                struct image_template *t = &md->templates[i];
                free(t->path);
                free(t->template);
                free(t->uid);
                free(t->gid);
                free(t->mode);
                kv_free(t->properties, t->n_properties);
        }
        free(md->templates);
        *md = (struct image_metadata){0};
}

const char *image_metadata_property(const struct image_metadata *md, const char *key)
{
        for (size_t i = 0; i < md->n_properties; i++)
                if (!strcmp(md->properties[i].key, key))
                        return md->properties[i].value;
        return NULL;
}
