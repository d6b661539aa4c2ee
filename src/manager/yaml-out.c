/* yaml-out.c: see yaml-out.h. */
#include <stdlib.h>
#include <string.h>

#include "yaml-out.h"

static int out_write(void *data, unsigned char *bytes, size_t size)
{
        struct yaml_out *o = data;
        char *n = realloc(o->data, o->len + size + 1);

        if (!n)
                return 0;
        memcpy(n + o->len, bytes, size);
        o->len += size;
        n[o->len] = '\0';
        o->data = n;
        return 1;
}

void yaml_out_set(yaml_emitter_t *e, struct yaml_out *o)
{
        yaml_emitter_set_output(e, out_write, o);
}
