/* spec-hooks.c: the "hooks" object of config.json. */
#include "spec-internal.h"

#include <limits.h>

static void hook_clear(struct vessel_hook *h)
{
        free(h->path);
        strv_free(h->args);
        strv_free(h->env);
}

void spec_hooks_clear(struct vessel_hooks *hooks)
{
        for (int k = 0; k < VESSEL_HOOK_KIND_COUNT; k++)
                FREE_ARRAY(hooks->list[k], hooks->n[k], hook_clear);
}

static int parse_hook(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_hook *h = item;
        int64_t timeout;
        int r;

        TRY(spec_required(spec_get_abs_path(o, path, "path", &h->path, err), path, "path", err));
        TRY(spec_get_strv(o, path, "args", &h->args, &h->n_args, err));
        TRY(spec_get_strv(o, path, "env", &h->env, &h->n_env, err));
        TRY(r = spec_get_int(o, path, "timeout", INT_MIN, INT_MAX, &timeout, err));
        if (r > 0) {
                if (timeout <= 0)
                        return spec_fail(err, AT(path, "timeout"), "must be > 0");
                h->has_timeout = true;
                h->timeout = (int)timeout;
        }
        return 0;
}

int spec_parse_hooks(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_hooks *hooks = item;

        for (int k = 0; k < VESSEL_HOOK_KIND_COUNT; k++)
                TRY(GET_OBJ_ARRAY(o, w, vessel_hook_name(k), hooks->list[k], hooks->n[k],
                                  parse_hook, err));
        return 0;
}
