/* metadata-emit.c: struct image_metadata back to YAML, with libyaml's
 * emitter (so that every string is quoted as YAML needs). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "metadata.h"
#include "yaml-out.h"
#include "util.h"

static int emit(yaml_emitter_t *e, yaml_event_t *ev)
{
        return yaml_emitter_emit(e, ev) ? 0 : -EIO;
}

static int emit_scalar(yaml_emitter_t *e, const char *s)
{
        yaml_event_t ev;

        yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s, (int)strlen(s), 1, 1,
                                     YAML_ANY_SCALAR_STYLE);
        return emit(e, &ev);
}

static int emit_int(yaml_emitter_t *e, int64_t v)
{
        char s[32];

        snprintf(s, sizeof(s), "%" PRId64, v);
        return emit_scalar(e, s);
}

static int emit_map_start(yaml_emitter_t *e)
{
        yaml_event_t ev;

        yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
        return emit(e, &ev);
}

static int emit_map_end(yaml_emitter_t *e)
{
        yaml_event_t ev;

        yaml_mapping_end_event_initialize(&ev);
        return emit(e, &ev);
}

static int emit_kv_map(yaml_emitter_t *e, const struct kv *v, size_t n)
{
        int r = emit_map_start(e);

        for (size_t i = 0; r == 0 && i < n; i++)
                r = emit_scalar(e, v[i].key) ?: emit_scalar(e, v[i].value);
        return r ?: emit_map_end(e);
}

static int emit_when(yaml_emitter_t *e, unsigned when)
{
        yaml_event_t ev;
        int r = 0;

        yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
        if (emit(e, &ev) < 0)
                return -EIO;
        for (unsigned bit = 1; r == 0 && bit <= TRIGGER_RENAME; bit <<= 1)
                if (when & bit)
                        r = emit_scalar(e, template_trigger_name(bit));
        yaml_sequence_end_event_initialize(&ev);
        return r ?: emit(e, &ev);
}

static int emit_template(yaml_emitter_t *e, const struct image_template *t)
{
        int r = emit_scalar(e, t->path) ?: emit_map_start(e);

        r = r ?: emit_scalar(e, "when") ?: emit_when(e, t->when);
        r = r ?: emit_scalar(e, "template") ?: emit_scalar(e, t->template);
        r = r ?: emit_scalar(e, "create_only") ?: emit_scalar(e, t->create_only ? "true" : "false");
        if (t->n_properties)
                r = r ?: emit_scalar(e, "properties")
                          ?: emit_kv_map(e, t->properties, t->n_properties);
        return r ?: emit_map_end(e);
}

static int emit_metadata(yaml_emitter_t *e, const struct image_metadata *md)
{
        int r = emit_map_start(e);

        r = r ?: emit_scalar(e, "architecture") ?: emit_scalar(e, md->architecture);
        r = r ?: emit_scalar(e, "creation_date") ?: emit_int(e, md->creation_date);
        r = r ?: emit_scalar(e, "expiry_date") ?: emit_int(e, md->expiry_date);
        r = r ?: emit_scalar(e, "properties") ?: emit_kv_map(e, md->properties, md->n_properties);
        if (md->n_templates) {
                r = r ?: emit_scalar(e, "templates") ?: emit_map_start(e);
                for (size_t i = 0; r == 0 && i < md->n_templates; i++)
                        r = emit_template(e, &md->templates[i]);
                r = r ?: emit_map_end(e);
        }
        return r ?: emit_map_end(e);
}

int image_metadata_emit(const struct image_metadata *md, char **out, size_t *len,
                        vessel_error **err)
{
        yaml_emitter_t e;
        yaml_event_t ev;
        struct yaml_out b = {0};
        int r;

        if (!yaml_emitter_initialize(&e))
                return vessel_error_msg(err, ENOMEM, "metadata.yaml: out of memory");
        yaml_out_set(&e, &b);
        yaml_emitter_set_unicode(&e, 1);
        yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
        r = emit(&e, &ev);
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
        r = r ?: emit(&e, &ev) ?: emit_metadata(&e, md);
        yaml_document_end_event_initialize(&ev, 1);
        r = r ?: emit(&e, &ev);
        yaml_stream_end_event_initialize(&ev);
        r = r ?: emit(&e, &ev);
        if (r == 0 && !yaml_emitter_flush(&e))
                r = -EIO;
        if (r < 0) {
                r = vessel_error_msg(err, EIO, "metadata.yaml: writing: %s",
                                     e.problem ? e.problem : "emitter error");
                free(b.data);
        } else {
                *out = b.data ? b.data : xstrdup("");
                *len = b.len;
        }
        yaml_emitter_delete(&e);
        return r;
}
