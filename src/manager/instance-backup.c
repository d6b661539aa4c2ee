/* instance-backup.c: backup.yaml, and the recovery of instances/.
 *
 * backup.yaml holds what is needed to understand (and, with a later
 * import command, rebuild) an instance without the catalogue: its name,
 * type, architecture, image, creation time, its own keys and devices, and
 * its profiles in full, in order. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "confyaml.h"
#include "instance.h"
#include "profile.h"
#include "util.h"

int instance_backup_yaml(struct vessel_store *s, const struct instance *i, char **out,
                         vessel_error **err)
{
        struct conf_doc d = {0};
        size_t n = strv_len(i->profiles);
        _cleanup_free_ char *created = xasprintf("%" PRId64, i->created_at);
        int r = 0;

        kvlist_set(&d.top, "name", i->name);
        kvlist_set(&d.top, "type", i->type);
        kvlist_set(&d.top, "architecture", i->architecture);
        kvlist_set(&d.top, "image", i->image);
        kvlist_set(&d.top, "created_at", created);
        kvlist_set(&d.top, "ephemeral", i->ephemeral ? "true" : "false");
        kvlist_set(&d.top, "storage_driver", i->storage_driver);
        confset_copy(&d.conf, &i->conf);
        d.profiles = strv_copy(i->profiles);
        d.pconf = xmalloc0((n + 1) * sizeof(*d.pconf));
        for (size_t k = 0; r == 0 && k < n; k++) {
                int64_t id;
                r = db_profile_id(s, i->profiles[k], &id, err);
                if (r == 0)
                        r = db_profile_confset(s, id, &d.pconf[k], err);
        }
        if (r == 0)
                *out = conf_doc_emit(&d);
        conf_doc_free(&d);
        return r;
}

static int row_exists(struct vessel_store *s, const char *name, bool *exists, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        if (store_prepare(s, "SELECT 1 FROM instances WHERE name = ?", &st, err) < 0)
                return -EIO;
        sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
        rc = store_step(s, st, err);
        if (rc < 0)
                return rc;
        *exists = rc == SQLITE_ROW;
        return 0;
}

/* A directory without a row: a rename killed before its commit leaves
 * the old name in backup.yaml, and that row without its directory: the
 * directory goes back.  Anything else (an init killed between its rename
 * and its commit) is removed. */
static int orphan(struct vessel_store *s, const char *name, vessel_error **err)
{
        _cleanup_free_ char *path = xasprintf("%s/backup.yaml", name), *yaml = NULL;
        struct conf_doc d;
        const char *old;
        bool exists = false;
        size_t len;
        int r = 0;

        if (read_file_at(s->instances_fd, path, &yaml, &len, NULL) < 0 ||
            conf_doc_parse(yaml, len, "backup.yaml", &d, NULL) < 0)
                return 0;
        old = kvlist_get(&d.top, "name");
        if (old && strcmp(old, name) && instance_name_valid(old) &&
            row_exists(s, old, &exists, err) == 0 && exists &&
            faccessat(s->instances_fd, old, F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
            renameat(s->instances_fd, name, s->instances_fd, old) == 0)
                r = 1;
        conf_doc_free(&d);
        return r;
}

static bool name_valid(const char *name)
{
        return instance_name_valid(name);
}

int instance_recover(struct vessel_store *s, vessel_error **err)
{
        static const struct store_dir_kind kind = {
            .what = "instances",
            .tmp_prefix = INSTANCE_TMP_PREFIX,
            .name_valid = name_valid,
            .row_exists = row_exists,
            .orphan = orphan,
        };

        /* .copy-* first: a dead move's rootfs link goes back before
         * anything looks at its instance. */
        if (instance_copy_recover(s, err) < 0)
                return -EIO;
        return store_recover_dir(s, s->instances_fd, &kind, err);
}
