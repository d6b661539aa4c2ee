/* image-build.h: `vesselctl image build debian/12`: a Debian image made
 * with mmdebstrap from the archive, systemd as its init, imported into
 * the store as a normal Incus-format image, and cached there.
 *
 * The recipe (image-recipe.c) says what goes into the image: the releases
 * that can be built, the packages, the variant, the metadata and the
 * templates.  Everything that decides the result is summed up in a build
 * key, kept as the image property vessel.build; a build whose key is
 * already in the store reuses that image (unless refresh).
 *
 * The build works in a locked staging directory images/.build-XXXX (the
 * way import does, store-dirs.c): mmdebstrap runs as PID 1 of its own PID
 * and mount namespaces and dies with us, so a killed build leaves only
 * that directory, without mounts, which the next command removes. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "image.h"

#define IMAGE_BUILD_PREFIX ".build-"
#define IMAGE_BUILD_PROPERTY "vessel.build"

/* ---- the recipe (image-recipe.c): pure logic, unit-tested ---- */

struct build_release {
        const char *distribution; /* "debian" */
        const char *name;         /* "Debian", for the description */
        const char *version;      /* "12" */
        const char *codename;     /* "bookworm" */
};

/* "debian/12" or "debian/bookworm"; an unknown one is an error listing
 * what can be built. */
const struct build_release *build_release_find(const char *ref, vessel_error **err);
/* "debian/12 (bookworm), ..." */
char *build_releases_supported(void);
/* minbase, apt, important or standard (mmdebstrap's variants); NULL:
 * the default, minbase.  Others are an error listing these. */
int build_variant_check(const char *variant, const char **out, vessel_error **err);
/* The recipe's packages and the extra ones (checked as Debian package
 * names), sorted, without duplicates, NULL-terminated. */
int build_packages(char *const *include, char ***out, vessel_error **err);
/* Debian's name of an Incus architecture (x86_64 -> amd64); NULL if
 * Debian has none. */
const char *build_debian_arch(const char *arch);

struct build_params {
        const struct build_release *release;
        const char *variant;   /* checked */
        char *const *packages; /* from build_packages */
        const char *arch;      /* Incus name, the host's */
};

/* The value of vessel.build: everything that decides the image, e.g.
 * "debian/12 recipe=1 variant=minbase arch=x86_64 packages=dbus,systemd-sysv". */
char *build_key(const struct build_params *p);
/* mmdebstrap's command line, building into the directory target. */
char **build_mmdebstrap_argv(const struct build_params *p, const char *target);
/* The image's metadata.yaml (architecture, creation_date, properties
 * with the build key, templates), for a build at time now. */
int build_metadata(const struct build_params *p, int64_t now, char **yaml, size_t *len,
                   vessel_error **err);
/* The file name an image built at time now is recorded with, as Incus
 * names image files: "debian-bookworm-amd64-minbase-20261207_01:23.tar". */
char *build_filename(const struct build_params *p, int64_t now);
/* The template files (name under templates/, contents), NULL-terminated. */
struct build_template_file {
        const char *name;
        const char *contents;
};
extern const struct build_template_file build_template_files[];
/* What mmdebstrap leaves that an image must not have: the host's
 * /etc/hostname and /etc/resolv.conf, a machine id.  rootfs_fd: the
 * built rootfs. */
int build_finish_rootfs(int rootfs_fd, vessel_error **err);

/* ---- the build (image-build.c) ---- */

struct image_build_opts {
        const char *ref;      /* "debian/12" */
        const char *variant;  /* NULL: minbase */
        char *const *include; /* extra packages, NULL-terminated, or NULL */
        char *const *aliases; /* given to (or moved onto) the image */
        bool refresh;         /* build even when the store has the image */
        /* Each line mmdebstrap writes (its progress), without newline. */
        void (*progress)(const char *line, void *data);
        void *progress_data;
};

struct image_build_result {
        char fingerprint[FINGERPRINT_HEX_LEN + 1];
        bool cached; /* the store had it: nothing was built */
        int64_t size;
        char *key; /* the build key (malloc'd) */
};

int image_build(struct vessel_store *s, const struct image_build_opts *o,
                struct image_build_result *res, vessel_error **err);
void image_build_result_free(struct image_build_result *r);
