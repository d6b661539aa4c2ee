/* storage-internal.h: what storage.c gives its back ends. */
#pragma once

#include "storage.h"

/* p->path/rel, or rel itself when absolute (allocated). */
char *pool_abs(const struct storage_pool *p, const char *rel);
/* The pool's directory and its images/, containers/ and snapshots/: a
 * plain directory in the store, or a symlink to the source directory
 * (which must exist and hold no other pool). */
int pool_dirs_create(struct vessel_store *s, struct storage_pool *p, vessel_error **err);
int pool_dirs_destroy(struct vessel_store *s, struct storage_pool *p, vessel_error **err);
/* Remove the image volumes left in the pool (as its back end does). */
int images_remove(struct vessel_store *s, struct storage_pool *p, vessel_error **err);
/* The subdirectories alone, in a pool directory that exists. */
int pool_subdirs_create(struct storage_pool *p, vessel_error **err);
void pool_subdirs_remove(struct storage_pool *p);
