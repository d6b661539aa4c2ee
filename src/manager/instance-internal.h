/* instance-internal.h: what instance.c gives the other files of the
 * instances' operations (instance-copy.c). */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "instance.h"

/* An error naming the instance unless name is a valid one. */
int instance_name_check(const char *name, vessel_error **err);
/* Whether a row of this name exists (in any state). */
int instance_db_exists(struct vessel_store *s, const char *name, bool *exists, vessel_error **err);
/* "instance NAME: already exists" (EEXIST). */
int instance_exists_error(const char *name, vessel_error **err);
/* Replace the instance's profile list, in order, checking that each
 * exists. */
int instance_db_set_profiles(struct vessel_store *s, int64_t id, char *const *profiles,
                             vessel_error **err);
int instance_db_set_state(struct vessel_store *s, int64_t id, const char *state,
                          vessel_error **err);
/* Inside a transaction: the backup.yaml of instance name (a row in any
 * state, "creating" too) into instances/<dir>/. */
int instance_backup_write_at(struct vessel_store *s, const char *name, const char *dir,
                             vessel_error **err);

/* instance-rootfs.c: cp -a paths into dir_path (dir_fd, an flock'ed
 * work directory: cp inherits its lock and dies with us). */
int instance_files_copy(int dir_fd, const char *dir_path, char *const *paths, const char *what,
                        vessel_error **err);
