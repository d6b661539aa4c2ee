/* libFuzzer target for the template language: any input either renders
 * (the same output twice, NUL-terminated at its length) or fails with a
 * "template NAME:LINE: ..." message and no output, without crashing,
 * leaking or recursing without bound. */
#include "template.h"

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

static void context(struct tpl_value *ctx)
{
        struct tpl_value *m, *dev;

        tpl_map_init(ctx);
        m = tpl_map_set_map(ctx, "instance");
        tpl_map_set_string(m, "name", "c1");
        tpl_map_set_string(m, "ephemeral", "false");
        m = tpl_map_set_map(ctx, "config");
        tpl_map_set_string(m, "user.x", "a");
        dev = tpl_map_set_map(tpl_map_set_map(ctx, "devices"), "data");
        tpl_map_set_string(dev, "path", "/srv");
        tpl_map_set_string(ctx, "trigger", "start");
        tpl_map_set_bool(ctx, "yes", true);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct tpl_value ctx;
        vessel_error *err = NULL;
        char *out = NULL, *again = NULL;
        size_t len, len2;

        context(&ctx);
        if (template_render("f.tpl", (const char *)data, size, &ctx, &out, &len, &err) < 0) {
                ENSURE(!out && err && err->msg && !strncmp(err->msg, "template f.tpl:", 15));
                vessel_error_free(&err);
        } else {
                ENSURE(!err && out && out[len] == '\0');
                ENSURE(template_render("f.tpl", (const char *)data, size, &ctx, &again, &len2,
                                       &err) == 0);
                ENSURE(len == len2 && !memcmp(out, again, len));
        }
        free(out);
        free(again);
        tpl_value_free(&ctx);
        return 0;
}
