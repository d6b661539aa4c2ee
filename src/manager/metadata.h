/* metadata.h: an image's metadata.yaml (the Incus/LXD image format),
 * parsed with libyaml into plain structs, and written back.
 *
 *   architecture: x86_64          required, an Incus architecture name
 *   creation_date: 1424284563     required, unix time
 *   expiry_date: 0                optional, unix time (0: never)
 *   properties: {K: V, ...}       optional, scalars kept as strings
 *   templates:                    optional
 *     /etc/hostname:
 *       when: [create, copy, start, rename]
 *       template: hostname.tpl    a file under templates/
 *       create_only: false
 *       properties: {K: V}
 *       uid: "0"  gid: "0"  mode: "0644"   optional, as strings
 *
 * Unknown keys are ignored, as Incus's yaml.Unmarshal does (the file is
 * kept verbatim in the image directory, so nothing is lost); wrong types
 * and missing required fields are errors naming the key and line. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"

#define METADATA_MAX_SIZE (1024 * 1024)

struct kv {
        char *key;
        char *value;
};

enum template_trigger {
        TRIGGER_CREATE = 1 << 0,
        TRIGGER_COPY = 1 << 1,
        TRIGGER_START = 1 << 2,
        TRIGGER_RENAME = 1 << 3,
};

struct image_template {
        char *path;     /* absolute path in the instance */
        unsigned when;  /* enum template_trigger bits */
        char *template; /* file name under templates/ */
        bool create_only;
        struct kv *properties;
        size_t n_properties;
        char *uid, *gid, *mode; /* NULL when not given */
};

struct image_metadata {
        char *architecture; /* as written in the file */
        int64_t creation_date;
        int64_t expiry_date;
        struct kv *properties; /* in file order, keys unique */
        size_t n_properties;
        struct image_template *templates;
        size_t n_templates;
};

/* Parse buf (len bytes, need not be NUL-terminated).  On error *md is
 * left empty and *err says "metadata.yaml: line N: ...". */
int image_metadata_parse(const char *buf, size_t len, struct image_metadata *md,
                         vessel_error **err);
void image_metadata_free(struct image_metadata *md);
/* The value of a property, or NULL. */
const char *image_metadata_property(const struct image_metadata *md, const char *key);
/* Write md as YAML (malloc'd, NUL-terminated). */
int image_metadata_emit(const struct image_metadata *md, char **out, size_t *len,
                        vessel_error **err);
/* "create", "copy", ... for one trigger bit. */
const char *template_trigger_name(unsigned bit);
