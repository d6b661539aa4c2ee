/* profile.h: profiles: named configurations (keys and devices) that
 * instances apply in order, before their own keys (Incus's precedence).
 * The "default" profile exists from the store's first open, is given to
 * every new instance unless told otherwise, and cannot be renamed or
 * deleted; a profile in use cannot be deleted. */
#pragma once

#include <stdint.h>

#include "config.h"
#include "store.h"

#define PROFILE_DEFAULT "default"

struct profile {
        int64_t id;
        char *name;
        struct confset conf;
        char **used_by; /* instance names, sorted; never NULL */
};

/* Not empty, at most 63 bytes, no '/', whitespace or control characters,
 * not "." or "..". */
bool profile_name_valid(const char *name);

int profile_get(struct vessel_store *s, const char *name, struct profile *out, vessel_error **err);
int profile_list(struct vessel_store *s, struct profile **out, size_t *n, vessel_error **err);
void profile_free(struct profile *p);
void profile_list_free(struct profile *v, size_t n);

/* c (validated) may be NULL: an empty profile. */
int profile_create(struct vessel_store *s, const char *name, const struct confset *c,
                   vessel_error **err);
/* The same inside the caller's transaction (an import's). */
int profile_insert_tx(struct vessel_store *s, const char *name, const struct confset *c,
                      vessel_error **err);
int profile_copy(struct vessel_store *s, const char *from, const char *to, vessel_error **err);
int profile_rename(struct vessel_store *s, const char *from, const char *to, vessel_error **err);
int profile_delete(struct vessel_store *s, const char *name, vessel_error **err);
/* Apply e, validate, store, and rewrite the backup.yaml of the
 * instances that use the profile: one transaction. */
int profile_edit(struct vessel_store *s, const char *name, const struct conf_edit *e,
                 vessel_error **err);

/* Inside a transaction: the id of a profile, ENOENT naming it. */
int db_profile_id(struct vessel_store *s, const char *name, int64_t *id, vessel_error **err);
/* A profile's keys and devices by id (with its description). */
int db_profile_confset(struct vessel_store *s, int64_t id, struct confset *out, vessel_error **err);
