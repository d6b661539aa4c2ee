/* config.h: instance and profile configuration: key/value lists, devices,
 * the table of known keys with their validators, and the expansion of an
 * instance's profiles and own keys into what it runs with.
 *
 * Precedence is Incus's: the profiles in their order, then the instance's
 * own keys; a device of an instance replaces a profile's device of the
 * same name as a whole. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "error.h"
#include "metadata.h" /* struct kv */

/* Keys sorted by name, each at most once. */
struct kvlist {
        struct kv *v;
        size_t n;
};

const char *kvlist_get(const struct kvlist *l, const char *key);
void kvlist_set(struct kvlist *l, const char *key, const char *value);
/* 1 when the key was there, else 0. */
int kvlist_unset(struct kvlist *l, const char *key);
void kvlist_copy(struct kvlist *dst, const struct kvlist *src);
void kvlist_free(struct kvlist *l);

struct device {
        char *name;
        char *type;        /* "disk", "unix-char", "unix-block" */
        struct kvlist cfg; /* its keys, without "type" */
};

/* Sorted by name. */
struct devlist {
        struct device *v;
        size_t n;
};

struct device *devlist_get(const struct devlist *l, const char *name);
/* Add or replace (takes a copy). */
void devlist_set(struct devlist *l, const struct device *d);
int devlist_remove(struct devlist *l, const char *name);
void device_copy(struct device *dst, const struct device *src);
void device_free(struct device *d);
void devlist_free(struct devlist *l);

/* The configuration of an instance or a profile. */
struct confset {
        char *description;
        struct kvlist config;
        struct devlist devices;
};

void confset_copy(struct confset *dst, const struct confset *src);
void confset_free(struct confset *c);

/* Validate one key and its value: an unknown key or a value of the wrong
 * type is an error naming the key and what it expects. */
int config_check(const char *key, const char *value, vessel_error **err);
int config_check_all(const struct kvlist *l, vessel_error **err);
/* A check of every device (device.c). */
int confset_check(const struct confset *c, vessel_error **err);

/* Profiles in order, then own: into out (description: own's). */
void config_expand(const struct confset *profiles, size_t n, const struct confset *own,
                   struct confset *out);

/* The value parsers behind the validators, for the manager that will
 * apply the keys: 0 on success, -EINVAL otherwise. */
int config_parse_bool(const char *s, bool *out);
/* limits.kernel.*: "N", "unlimited" or "SOFT:HARD" (UINT64_MAX: unlimited). */
int config_parse_rlimit(const char *s, uint64_t *soft, uint64_t *hard);
/* Bytes ("512MiB", "1GB", "1024"), or a percentage ("50%": *percent). */
int config_parse_size(const char *s, long long *bytes, bool *percent);
int config_parse_signal(const char *s, int *sig);
/* "4" (a count) or "0-1,3" (a set). */
int config_parse_cpus(const char *s, bool *is_set, long long *count);

/* Changes to a configuration (config-edit.c), shared by instances and
 * profiles; the caller validates the result and names its owner in
 * errors. */
enum conf_edit_op {
        EDIT_SET,           /* args: K=V..., or K V */
        EDIT_UNSET,         /* args: keys */
        EDIT_DEVICE_ADD,    /* device, type, args: K=V... */
        EDIT_DEVICE_REMOVE, /* args: devices */
        EDIT_DEVICE_SET,    /* device, args: K=V..., or K V */
        EDIT_DEVICE_UNSET,  /* device, args: keys */
        EDIT_REPLACE,       /* replace: description, config and devices */
};

struct conf_edit {
        enum conf_edit_op op;
        const char *device, *type;
        char *const *args;
        size_t n;
        const struct confset *replace;
};

/* inherited: the devices an instance has from its profiles (NULL for a
 * profile): `device set` on one of them makes it the instance's own, as
 * Incus does. */
int conf_edit_apply(struct confset *c, const struct devlist *inherited, const struct conf_edit *e,
                    vessel_error **err);
