/* yaml-out.h: a libyaml emitter writing into a heap string (the one
 * output confyaml.c and metadata-emit.c both need). */
#pragma once

#include <stddef.h>
#include <yaml.h>

struct yaml_out {
        char *data; /* NUL-terminated once anything was written; NULL before */
        size_t len;
};

/* Direct e's output into *o (which starts zeroed); a failed allocation
 * makes the emitter fail (yaml_emitter_flush returns 0). */
void yaml_out_set(yaml_emitter_t *e, struct yaml_out *o);
