/* image-recover.c: what killed commands left in images/ is cleaned by
 * the next command (store_open), with the store's shared mechanism
 * (store-dirs.c):
 *   .import-*        a staging directory whose importer died (its flock is
 *   .build-*         free), or the same of `image build`: removed;
 *   .delete-<fp>-*   a delete that died: renamed back when the row is still
 *                    there (killed before its commit), else removed;
 *   <fp> without row an import killed between its rename and its commit:
 *                    removed. */
#include "image-build.h"
#include "image-internal.h"

static int image_row_exists(struct vessel_store *s, const char *fp, bool *exists,
                            vessel_error **err)
{
        return db_image_exists(s, fp, exists, err);
}

static bool image_name_valid(const char *name)
{
        return fingerprint_valid(name);
}

int image_recover(struct vessel_store *s, vessel_error **err)
{
        static const struct store_dir_kind kind = {
            .what = "images",
            .tmp_prefix = IMAGE_TMP_PREFIX,
            .tmp_prefix_other = IMAGE_BUILD_PREFIX,
            .name_valid = image_name_valid,
            .row_exists = image_row_exists,
        };

        return store_recover_dir(s, s->images_fd, &kind, err);
}
