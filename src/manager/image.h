/* image.h: the store's images (the Incus/LXD image format).
 *
 * An image is a catalogue row keyed by its fingerprint, with properties
 * and aliases, and a directory images/<fingerprint>/ holding the tarball
 * or tarballs as imported (so that export gives back the same bytes, and
 * so the same fingerprint), metadata.yaml, and the unpacked rootfs/ and
 * templates/ that instances are made from.
 *
 * Import unpacks into a hidden, locked images/.import-XXXXXX directory
 * while holding no catalogue lock, then in one transaction inserts the
 * rows and renames the directory into place.  A command killed at any
 * moment leaves a temp directory (removed by image_recover once its lock
 * is free), or a renamed directory without a row (an orphan, removed under
 * the write lock), never a row without its directory. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "fingerprint.h"
#include "metadata.h"
#include "store.h"
#include "xfer-progress.h"

struct image_info {
        char fingerprint[FINGERPRINT_HEX_LEN + 1];
        char *architecture;
        char *type;     /* "container" */
        char *format;   /* "unified" or "split" */
        char *filename; /* what was imported (its base name) */
        int64_t size;   /* bytes of the tarball(s) */
        int64_t created_at, expires_at, uploaded_at, last_used_at; /* unix times, 0: never */
        bool public, auto_update, cached;
        struct kv *properties; /* sorted by key */
        size_t n_properties;
        char **aliases; /* sorted, NULL-terminated (never NULL itself) */
};

struct image_alias {
        char *name;
        char fingerprint[FINGERPRINT_HEX_LEN + 1];
        char *description;
};

struct image_import_opts {
        const char *paths[2]; /* DIR, TARBALL, or METADATA_TARBALL ROOTFS_TARBALL */
        size_t n_paths;
        char *const *aliases;        /* NULL-terminated, or NULL */
        const char *arch;            /* a plain rootfs tarball: its architecture */
        const struct kv *properties; /* override (or, for a plain rootfs, make) properties */
        size_t n_properties;
        bool public;
        const char *filename; /* recorded as its file name; NULL: paths[0]'s base name */
        struct xfer_progress progress; /* bytes of the tarballs read */
};

struct image_import_result {
        char fingerprint[FINGERPRINT_HEX_LEN + 1];
        bool existed; /* already in the store: only the aliases were added */
        int64_t size;
};

int image_import(struct vessel_store *s, const struct image_import_opts *o,
                 struct image_import_result *res, vessel_error **err);

/* An alias, else a unique prefix of a fingerprint; errors name ref. */
int image_resolve(struct vessel_store *s, const char *ref,
                  char fingerprint[FINGERPRINT_HEX_LEN + 1], vessel_error **err);
int image_get(struct vessel_store *s, const char *fingerprint, struct image_info *out,
              vessel_error **err);
/* Every image, by upload date. */
int image_list(struct vessel_store *s, struct image_info **out, size_t *n, vessel_error **err);
void image_info_free(struct image_info *i);
void image_list_free(struct image_info *v, size_t n);
const char *image_property(const struct image_info *i, const char *key);

/* Remove the row (with its aliases), then the directory. */
int image_delete(struct vessel_store *s, const char *fingerprint, vessel_error **err);
/* Write the image's tarball(s) into dir, named as Incus names them:
 * <fp>.<ext> for a unified image, meta-<fp>.<ext> and <fp>.<ext> for a
 * split one; *written lists the paths. */
int image_export(struct vessel_store *s, const char *fingerprint, const char *dir, char ***written,
                 vessel_error **err);

int image_alias_create(struct vessel_store *s, const char *name, const char *fingerprint,
                       const char *description, vessel_error **err);
/* Point alias name at fp: create it, or move it from another image. */
int image_alias_set(struct vessel_store *s, const char *name, const char *fp, vessel_error **err);
int image_alias_delete(struct vessel_store *s, const char *name, vessel_error **err);
int image_alias_list(struct vessel_store *s, struct image_alias **out, size_t *n,
                     vessel_error **err);
void image_alias_list_free(struct image_alias *v, size_t n);
/* Alias names: not empty, no whitespace or control characters, no ':'
 * (a remote's separator in Incus), at most 255 bytes. */
bool image_alias_name_valid(const char *name);

/* Clean what killed commands left in images/ (called by store_open). */
int image_recover(struct vessel_store *s, vessel_error **err);
