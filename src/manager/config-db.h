/* config-db.h: the catalogue rows of a configuration (keys and devices)
 * of an instance, a profile or a snapshot.  Writers hold a transaction. */
#pragma once

#include <stdint.h>

#include "config.h"
#include "store.h"

enum conf_owner { OWNER_INSTANCE, OWNER_PROFILE, OWNER_SNAPSHOT };

/* Keys and devices (not the description, which is in the owner's row). */
int confdb_load(struct vessel_store *s, enum conf_owner o, int64_t id, struct confset *out,
                vessel_error **err);
/* Replace the keys and devices with c's. */
int confdb_save(struct vessel_store *s, enum conf_owner o, int64_t id, const struct confset *c,
                vessel_error **err);

/* Set one key (value NULL: remove it), inside a transaction. */
int confdb_key_set(struct vessel_store *s, enum conf_owner o, int64_t id, const char *key,
                   const char *value, vessel_error **err);

/* Small column helpers shared by the instance and profile rows. */
char *db_col_text(sqlite3_stmt *st, int i);
void db_bind_text(sqlite3_stmt *st, int i, const char *s);
