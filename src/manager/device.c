/* device.c: device types, their keys and validation. */
#include "device.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"
#include "util.h"

bool device_name_valid(const char *name)
{
        size_t n = strlen(name);

        if (n == 0 || n > 64)
                return false;
        for (const unsigned char *c = (const unsigned char *)name; *c; c++)
                if (*c <= ' ' || *c == 0x7f || *c == '/')
                        return false;
        return true;
}

/* Absolute, without a ".." component. */
static bool abs_path(const char *s)
{
        size_t n = strlen(s);

        if (s[0] != '/' || strstr(s, "/../"))
                return false;
        return !(n >= 3 && !strcmp(s + n - 3, "/.."));
}

static int v_abs_path(const char *s)
{
        return abs_path(s) ? 0 : -EINVAL;
}

static int v_bool(const char *s)
{
        bool b;
        return config_parse_bool(s, &b);
}

static int v_uint(const char *s)
{
        char *end;

        if (!s[0] || s[0] == '-' || s[0] == '+')
                return -EINVAL;
        errno = 0;
        unsigned long long v = strtoull(s, &end, 10);
        return errno || *end || v > 0xffffffffULL ? -EINVAL : 0;
}

static int v_mode(const char *s)
{
        char *end;
        unsigned long v;

        if (!s[0] || strspn(s, "01234567") != strlen(s))
                return -EINVAL;
        v = strtoul(s, &end, 8);
        return v > 07777 ? -EINVAL : 0;
}

struct dev_key {
        const char *name;
        int (*check)(const char *value);
        const char *expected;
};

struct dev_type {
        const char *name;
        const struct dev_key *keys;
};

static int v_size(const char *s)
{
        uint64_t v;

        return storage_size_parse(s, &v, NULL) < 0 || v == 0 ? -EINVAL : 0;
}

static int v_pool(const char *s)
{
        return storage_pool_name_valid(s) ? 0 : -EINVAL;
}

static const struct dev_key disk_keys[] = {
    {"source", v_abs_path, "an absolute host path"},
    {"path", v_abs_path, "an absolute path"},
    {"readonly", v_bool, "a boolean (true or false)"},
    {"shift", v_bool, "a boolean (true or false)"},
    {"pool", v_pool, "a storage pool name"},
    {"size", v_size, "a size (bytes, or with KiB, MiB, GiB, TiB, kB, MB, GB, TB)"},
    {0},
};

bool device_is_root_disk(const struct device *d)
{
        const char *path = kvlist_get(&d->cfg, "path");

        return !strcmp(d->type, "disk") && path && !strcmp(path, "/");
}

static const struct dev_key unix_keys[] = {
    {"source", v_abs_path, "an absolute host path"},
    {"path", v_abs_path, "an absolute path"},
    {"major", v_uint, "a device major number"},
    {"minor", v_uint, "a device minor number"},
    {"mode", v_mode, "an octal mode (like 0660)"},
    {"uid", v_uint, "a user id"},
    {"gid", v_uint, "a group id"},
    {0},
};

static const struct dev_type dev_types[] = {
    {"disk", disk_keys},
    {"unix-char", unix_keys},
    {"unix-block", unix_keys},
    {0},
};

static const struct dev_key *key_find(const struct dev_type *t, const char *key)
{
        for (const struct dev_key *k = t->keys; k->name; k++)
                if (!strcmp(k->name, key))
                        return k;
        return NULL;
}

static int check_required(const struct device *d, vessel_error **err)
{
        const struct kvlist *c = &d->cfg;

        if (device_is_root_disk(d)) {
                /* The instance's root file system, in its storage pool. */
                static const char *const not_root[] = {"source", "readonly", "shift"};
                for (size_t i = 0; i < ARRAY_SIZE(not_root); i++)
                        if (kvlist_get(c, not_root[i]))
                                return vessel_error_msg(err, EINVAL,
                                                        "device \"%s\": the root disk (path "
                                                        "/) takes pool and size, not \"%s\"",
                                                        d->name, not_root[i]);
                return 0;
        }
        if (!strcmp(d->type, "disk")) {
                static const char *const root_only[] = {"pool", "size"};
                for (size_t i = 0; i < ARRAY_SIZE(root_only); i++)
                        if (kvlist_get(c, root_only[i]))
                                return vessel_error_msg(err, EINVAL,
                                                        "device \"%s\": \"%s\" is for the root "
                                                        "disk (path /) only",
                                                        d->name, root_only[i]);
                if (!kvlist_get(c, "path"))
                        return vessel_error_msg(err, EINVAL,
                                                "device \"%s\": a disk needs \"path\" (where "
                                                "in the instance)",
                                                d->name);
                if (!kvlist_get(c, "source"))
                        return vessel_error_msg(err, EINVAL,
                                                "device \"%s\": a disk needs \"source\" (a "
                                                "host path)",
                                                d->name);
                return 0;
        }
        bool major = kvlist_get(c, "major"), minor = kvlist_get(c, "minor");
        if (major != minor)
                return vessel_error_msg(
                    err, EINVAL, "device \"%s\": \"major\" and \"minor\" go together", d->name);
        if (!kvlist_get(c, "source") && !major)
                return vessel_error_msg(err, EINVAL,
                                        "device \"%s\": a %s needs \"source\" or "
                                        "\"major\" and \"minor\"",
                                        d->name, d->type);
        if (!kvlist_get(c, "source") && !kvlist_get(c, "path"))
                return vessel_error_msg(
                    err, EINVAL, "device \"%s\": \"path\" is needed without \"source\"", d->name);
        return 0;
}

int device_check(const struct device *d, vessel_error **err)
{
        const struct dev_type *t = dev_types;

        if (!device_name_valid(d->name))
                return vessel_error_msg(err, EINVAL,
                                        "device \"%s\": not a valid device name (1 to 64 "
                                        "characters, no '/', spaces or control characters)",
                                        d->name);
        if (!strcmp(d->type, "nic") || !strcmp(d->type, "proxy"))
                return vessel_error_msg(err, ENOTSUP,
                                        "device \"%s\": type \"%s\" comes with networks, "
                                        "which vesselctl does not have yet",
                                        d->name, d->type);
        while (t->name && strcmp(t->name, d->type))
                t++;
        if (!t->name)
                return vessel_error_msg(err, EINVAL,
                                        "device \"%s\": unknown type \"%s\" (disk, unix-char "
                                        "or unix-block)",
                                        d->name, d->type);
        for (size_t i = 0; i < d->cfg.n; i++) {
                const struct dev_key *k = key_find(t, d->cfg.v[i].key);
                if (!k)
                        return vessel_error_msg(err, EINVAL,
                                                "device \"%s\": unknown key \"%s\" for a %s",
                                                d->name, d->cfg.v[i].key, d->type);
                if (k->check(d->cfg.v[i].value) < 0)
                        return vessel_error_msg(err, EINVAL, "device \"%s\": %s: \"%s\" is not %s",
                                                d->name, k->name, d->cfg.v[i].value, k->expected);
        }
        return check_required(d, err);
}

int confset_check(const struct confset *c, vessel_error **err)
{
        if (config_check_all(&c->config, err) < 0)
                return -EINVAL;
        for (size_t i = 0; i < c->devices.n; i++)
                if (device_check(&c->devices.v[i], err) < 0)
                        return -EINVAL;
        return 0;
}

int device_parse_args(struct device *d, char *const *args, size_t n, vessel_error **err)
{
        for (size_t i = 0; i < n; i++) {
                const char *eq = strchr(args[i], '=');
                if (!eq || eq == args[i])
                        return vessel_error_msg(err, EINVAL,
                                                "device \"%s\": \"%s\": expected KEY=VALUE",
                                                d->name, args[i]);
                _cleanup_free_ char *k = strndup(args[i], (size_t)(eq - args[i]));
                if (!strcmp(k, "type"))
                        return vessel_error_msg(err, EINVAL,
                                                "device \"%s\": the type is not a key: give it "
                                                "before the keys",
                                                d->name);
                kvlist_set(&d->cfg, k, eq + 1);
        }
        return 0;
}
