/* image-internal.h: shared between the image files. */
#pragma once

#include "image.h"

/* Catalogue rows (image-db.c); callers hold a transaction for writes. */
int db_image_exists(struct vessel_store *s, const char *fp, bool *exists, vessel_error **err);
int db_image_insert(struct vessel_store *s, const struct image_info *i, vessel_error **err);
/* 1 and its fingerprint when the alias exists, else 0. */
int db_alias_target(struct vessel_store *s, const char *name, char fp[FINGERPRINT_HEX_LEN + 1],
                    vessel_error **err);
int db_alias_insert(struct vessel_store *s, const char *name, const char *fp,
                    const char *description, vessel_error **err);
int db_image_delete(struct vessel_store *s, const char *fp, vessel_error **err);

/* The stored tarballs (image.<ext>, meta.<ext>, rootfs.<ext>) in an image
 * directory: "image", "meta" or "rootfs" followed by ".tar...". */
#define IMAGE_TMP_PREFIX ".import-"

/* Deterministic tarballs (image-tar.c). */
/* A plain tar of dir's metadata.yaml, rootfs/ and templates/ (sorted
 * names, the files' own owners, modes, times and xattrs) written to
 * out_fd, hashed into *fp_ctx. */
int tar_directory(const char *dir, int out_fd, struct fingerprint *fp_ctx, vessel_error **err);
/* A plain tar holding one metadata.yaml (mtime), written to out_fd. */
int tar_metadata(const char *yaml, size_t len, int64_t mtime, int out_fd,
                 struct fingerprint *fp_ctx, vessel_error **err);
