/* config-edit.c: the changes `config set/unset`, `config device ...`
 * and the editors make to a configuration. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "device.h"
#include "util.h"

/* An empty value removes the key, as in Incus. */
static void set_one(struct kvlist *l, const char *key, const char *value)
{
        if (*value)
                kvlist_set(l, key, value);
        else
                kvlist_unset(l, key);
}

/* K=V..., or the two arguments K V (K without '='). */
static int set_pairs(struct kvlist *l, char *const *args, size_t n, const char *what,
                     vessel_error **err)
{
        if (n == 2 && !strchr(args[0], '=')) {
                set_one(l, args[0], args[1]);
                return 0;
        }
        if (n == 0)
                return vessel_error_msg(err, EINVAL, "expected KEY=VALUE... or KEY VALUE");
        for (size_t i = 0; i < n; i++) {
                const char *eq = strchr(args[i], '=');
                if (!eq || eq == args[i])
                        return vessel_error_msg(err, EINVAL, "%s\"%s\": expected KEY=VALUE", what,
                                                args[i]);
                _cleanup_free_ char *k = strndup(args[i], (size_t)(eq - args[i]));
                set_one(l, k, eq + 1);
        }
        return 0;
}

static int unset_keys(struct kvlist *l, char *const *args, size_t n, const char *what,
                      vessel_error **err)
{
        if (n == 0)
                return vessel_error_msg(err, EINVAL, "expected KEY...");
        for (size_t i = 0; i < n; i++)
                if (!kvlist_unset(l, args[i]))
                        return vessel_error_msg(err, ENOENT, "%s%s: not set", what, args[i]);
        return 0;
}

static struct device *device_for_change(struct confset *c, const struct devlist *inherited,
                                        const char *name, vessel_error **err)
{
        struct device *d = devlist_get(&c->devices, name);
        const struct device *from = inherited ? devlist_get(inherited, name) : NULL;

        if (d)
                return d;
        if (from) {
                devlist_set(&c->devices, from);
                return devlist_get(&c->devices, name);
        }
        vessel_error_msg(err, ENOENT, "device \"%s\": no such device", name);
        return NULL;
}

static int device_add(struct confset *c, const struct conf_edit *e, vessel_error **err)
{
        struct device d = {xstrdup(e->device), xstrdup(e->type ? e->type : ""), {0}};
        int r = 0;

        if (devlist_get(&c->devices, e->device))
                r = vessel_error_msg(err, EEXIST, "device \"%s\": already exists", e->device);
        if (r == 0 && !e->type)
                r = vessel_error_msg(err, EINVAL, "device \"%s\": expected a TYPE", e->device);
        if (r == 0)
                r = device_parse_args(&d, e->args, e->n, err);
        if (r == 0)
                devlist_set(&c->devices, &d);
        device_free(&d);
        return r;
}

int conf_edit_apply(struct confset *c, const struct devlist *inherited, const struct conf_edit *e,
                    vessel_error **err)
{
        struct device *d;
        _cleanup_free_ char *what = xasprintf("device \"%s\": ", e->device ? e->device : "");

        switch (e->op) {
        case EDIT_SET:
                return set_pairs(&c->config, e->args, e->n, "", err);
        case EDIT_UNSET:
                return unset_keys(&c->config, e->args, e->n, "", err);
        case EDIT_DEVICE_ADD:
                return device_add(c, e, err);
        case EDIT_DEVICE_REMOVE:
                for (size_t i = 0; i < e->n; i++)
                        if (!devlist_remove(&c->devices, e->args[i]))
                                return vessel_error_msg(
                                    err, ENOENT, "device \"%s\": no such device%s", e->args[i],
                                    inherited && devlist_get(inherited, e->args[i])
                                        ? " of the instance's own (it comes from a profile)"
                                        : "");
                return 0;
        case EDIT_DEVICE_SET:
        case EDIT_DEVICE_UNSET:
                d = device_for_change(c, inherited, e->device, err);
                if (!d)
                        return -ENOENT;
                return e->op == EDIT_DEVICE_SET ? set_pairs(&d->cfg, e->args, e->n, what, err)
                                                : unset_keys(&d->cfg, e->args, e->n, what, err);
        case EDIT_REPLACE:
                confset_free(c);
                confset_copy(c, e->replace);
                return 0;
        }
        return -EINVAL;
}
