/* libFuzzer target for the metadata.yaml parser: any input either parses
 * into consistent metadata (that writes back and parses again) or fails
 * with a message, without crashing or leaking. */
#include "metadata.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ENSURE(cond)                                                                               \
        do {                                                                                       \
                if (!(cond))                                                                       \
                        abort();                                                                   \
        } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct image_metadata md, again;
        vessel_error *err = NULL;
        char *out = NULL;
        size_t len;

        if (image_metadata_parse((const char *)data, size, &md, &err) < 0) {
                ENSURE(err && err->msg && !md.architecture && !md.templates);
                vessel_error_free(&err);
                return 0;
        }
        ENSURE(!err && md.architecture && *md.architecture);
        for (size_t i = 0; i < md.n_templates; i++)
                ENSURE(md.templates[i].path[0] == '/' && md.templates[i].template[0] &&
                       md.templates[i].template[0] != '/');
        ENSURE(image_metadata_emit(&md, &out, &len, &err) == 0);
        ENSURE(image_metadata_parse(out, len, &again, &err) == 0);
        ENSURE(!strcmp(again.architecture, md.architecture));
        ENSURE(again.creation_date == md.creation_date && again.n_properties == md.n_properties);
        ENSURE(again.n_templates == md.n_templates);
        image_metadata_free(&again);
        image_metadata_free(&md);
        free(out);
        return 0;
}
