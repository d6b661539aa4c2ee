/* confyaml.h: the YAML form of a configuration, as `config show`,
 * `profile show`, the editors and backup.yaml use it (libyaml both ways):
 *
 *   name: c1                  top-level scalars (emitted sorted)
 *   description: ...
 *   config: {KEY: VALUE}
 *   devices: {NAME: {type: disk, KEY: VALUE}}
 *   profiles: [default, ...]  names; or, in backup.yaml, the profiles in
 *                             full (name, description, config, devices)
 */
#pragma once

#include <yaml.h>

#include "config.h"

struct conf_doc {
        struct kvlist top;     /* other top-level scalars */
        struct confset conf;   /* description, config, devices */
        char **profiles;       /* NULL: none in the document */
        struct confset *pconf; /* NULL, or the profiles in full (parallel to profiles) */
};

void conf_doc_free(struct conf_doc *d);
/* A heap string of YAML. */
char *conf_doc_emit(const struct conf_doc *d);
/* what names the document in errors ("backup.yaml", "the edited YAML"). */
int conf_doc_parse(const char *yaml, size_t len, const char *what, struct conf_doc *out,
                   vessel_error **err);
/* True when a plain scalar s would be read back as a number, boolean or
 * null: such strings are quoted. */
bool yaml_looks_typed(const char *s);
/* Emit s as a scalar, quoted when it would read back as another type
 * (unless plain_ok: keys, which are strings anyway). */
void yaml_emit_scalar(yaml_emitter_t *e, const char *s, bool plain_ok);
