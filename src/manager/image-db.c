/* image-db.c: the images' catalogue rows: images, image_properties and
 * image_aliases. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "image-internal.h"
#include "util.h"

static char *col_text(sqlite3_stmt *st, int i)
{
        const unsigned char *t = sqlite3_column_text(st, i);
        return xstrdup(t ? (const char *)t : "");
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
        sqlite3_bind_text(st, i, s ? s : "", -1, SQLITE_TRANSIENT);
}

int db_image_exists(struct vessel_store *s, const char *fp, bool *exists, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        if (store_prepare(s, "SELECT 1 FROM images WHERE fingerprint = ?", &st, err) < 0)
                return -EIO;
        bind_text(st, 1, fp);
        rc = store_step(s, st, err);
        if (rc < 0)
                return rc;
        *exists = rc == SQLITE_ROW;
        return 0;
}

int db_image_insert(struct vessel_store *s, const struct image_info *i, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL, *prop = NULL;

        if (store_prepare(s,
                          "INSERT INTO images (fingerprint, type, format, filename, architecture,"
                          " size, created_at, expires_at, uploaded_at, public)"
                          " VALUES (?, 'container', ?, ?, ?, ?, ?, ?, ?, ?)",
                          &st, err) < 0 ||
            store_prepare(s,
                          "INSERT INTO image_properties (fingerprint, key, value) VALUES (?, ?, ?)",
                          &prop, err) < 0)
                return -EIO;
        bind_text(st, 1, i->fingerprint);
        bind_text(st, 2, i->format);
        bind_text(st, 3, i->filename);
        bind_text(st, 4, i->architecture);
        sqlite3_bind_int64(st, 5, i->size);
        sqlite3_bind_int64(st, 6, i->created_at);
        sqlite3_bind_int64(st, 7, i->expires_at);
        sqlite3_bind_int64(st, 8, i->uploaded_at);
        sqlite3_bind_int(st, 9, i->public);
        if (store_step(s, st, err) < 0)
                return -EIO;
        for (size_t k = 0; k < i->n_properties; k++) {
                sqlite3_reset(prop);
                bind_text(prop, 1, i->fingerprint);
                bind_text(prop, 2, i->properties[k].key);
                bind_text(prop, 3, i->properties[k].value);
                if (store_step(s, prop, err) < 0)
                        return -EIO;
        }
        return 0;
}

bool image_alias_name_valid(const char *name)
{
        size_t n = strlen(name);

        if (n == 0 || n > 255)
                return false;
        for (const unsigned char *c = (const unsigned char *)name; *c; c++)
                if (*c <= ' ' || *c == 0x7f || *c == ':')
                        return false;
        return true;
}

int db_alias_target(struct vessel_store *s, const char *name, char fp[FINGERPRINT_HEX_LEN + 1],
                    vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        if (store_prepare(s, "SELECT fingerprint FROM image_aliases WHERE name = ?", &st, err) < 0)
                return -EIO;
        bind_text(st, 1, name);
        rc = store_step(s, st, err);
        if (rc < 0)
                return rc;
        if (rc != SQLITE_ROW)
                return 0;
        snprintf(fp, FINGERPRINT_HEX_LEN + 1, "%s", (const char *)sqlite3_column_text(st, 0));
        return 1;
}

int db_alias_insert(struct vessel_store *s, const char *name, const char *fp,
                    const char *description, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char other[FINGERPRINT_HEX_LEN + 1];
        int r;

        if (!image_alias_name_valid(name))
                return vessel_error_msg(err, EINVAL,
                                        "alias \"%s\": not a valid name (no spaces, "
                                        "control characters or ':')",
                                        name);
        r = db_alias_target(s, name, other, err);
        if (r < 0)
                return r;
        if (r > 0)
                return vessel_error_msg(err, EEXIST, "alias \"%s\": already exists (image %.12s)",
                                        name, other);
        if (store_prepare(s,
                          "INSERT INTO image_aliases (name, fingerprint, description)"
                          " VALUES (?, ?, ?)",
                          &st, err) < 0)
                return -EIO;
        bind_text(st, 1, name);
        bind_text(st, 2, fp);
        bind_text(st, 3, description);
        return store_step(s, st, err) < 0 ? -EIO : 0;
}

int db_image_delete(struct vessel_store *s, const char *fp, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;

        if (store_prepare(s, "DELETE FROM images WHERE fingerprint = ?", &st, err) < 0)
                return -EIO;
        bind_text(st, 1, fp);
        return store_step(s, st, err) < 0 ? -EIO : 0;
}

static int resolve_prefix(struct vessel_store *s, const char *ref, char fp[FINGERPRINT_HEX_LEN + 1],
                          vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        _cleanup_free_ char *lower = xstrdup(ref);
        int n = 0, rc;

        for (char *c = lower; *c; c++)
                *c = (char)(*c >= 'A' && *c <= 'F' ? *c - 'A' + 'a' : *c);
        if (store_prepare(s,
                          "SELECT fingerprint FROM images WHERE substr(fingerprint, 1, ?) = ?"
                          " LIMIT 2",
                          &st, err) < 0)
                return -EIO;
        sqlite3_bind_int(st, 1, (int)strlen(lower));
        bind_text(st, 2, lower);
        while ((rc = store_step(s, st, err)) == SQLITE_ROW)
                if (n++ == 0)
                        snprintf(fp, FINGERPRINT_HEX_LEN + 1, "%s",
                                 (const char *)sqlite3_column_text(st, 0));
        if (rc < 0)
                return rc;
        if (n > 1)
                return vessel_error_msg(err, EINVAL,
                                        "image \"%s\": the prefix matches more than "
                                        "one fingerprint",
                                        ref);
        return n;
}

int image_resolve(struct vessel_store *s, const char *ref, char fp[FINGERPRINT_HEX_LEN + 1],
                  vessel_error **err)
{
        int r = db_alias_target(s, ref, fp, err);

        if (r == 0 && fingerprint_prefix_valid(ref))
                r = resolve_prefix(s, ref, fp, err);
        if (r < 0)
                return r;
        if (r == 0)
                return vessel_error_msg(err, ENOENT, "image \"%s\": no such alias or fingerprint",
                                        ref);
        return 0;
}

static int load_properties(struct vessel_store *s, struct image_info *i, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        if (store_prepare(s,
                          "SELECT key, value FROM image_properties WHERE fingerprint = ?"
                          " ORDER BY key",
                          &st, err) < 0)
                return -EIO;
        bind_text(st, 1, i->fingerprint);
        while ((rc = store_step(s, st, err)) == SQLITE_ROW) {
                i->properties = realloc(i->properties, (i->n_properties + 1) * sizeof(struct kv));
                if (!i->properties)
                        abort();
                i->properties[i->n_properties++] = (struct kv){col_text(st, 0), col_text(st, 1)};
        }
        return rc < 0 ? rc : 0;
}

static int load_aliases(struct vessel_store *s, struct image_info *i, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        i->aliases = xmalloc0(sizeof(char *));
        if (store_prepare(s, "SELECT name FROM image_aliases WHERE fingerprint = ? ORDER BY name",
                          &st, err) < 0)
                return -EIO;
        bind_text(st, 1, i->fingerprint);
        while ((rc = store_step(s, st, err)) == SQLITE_ROW)
                i->aliases = strv_append(i->aliases, (const char *)sqlite3_column_text(st, 0));
        return rc < 0 ? rc : 0;
}

#define IMAGE_COLUMNS                                                                              \
        "SELECT fingerprint, architecture, type, format, filename, size, created_at,"              \
        " expires_at, uploaded_at, last_used_at, public, auto_update, cached FROM images"

static int image_from_row(struct vessel_store *s, sqlite3_stmt *st, struct image_info *i,
                          vessel_error **err)
{
        *i = (struct image_info){0};
        snprintf(i->fingerprint, sizeof(i->fingerprint), "%s",
                 (const char *)sqlite3_column_text(st, 0));
        i->architecture = col_text(st, 1);
        i->type = col_text(st, 2);
        i->format = col_text(st, 3);
        i->filename = col_text(st, 4);
        i->size = sqlite3_column_int64(st, 5);
        i->created_at = sqlite3_column_int64(st, 6);
        i->expires_at = sqlite3_column_int64(st, 7);
        i->uploaded_at = sqlite3_column_int64(st, 8);
        i->last_used_at = sqlite3_column_int64(st, 9);
        i->public = sqlite3_column_int(st, 10);
        i->auto_update = sqlite3_column_int(st, 11);
        i->cached = sqlite3_column_int(st, 12);
        if (load_properties(s, i, err) < 0 || load_aliases(s, i, err) < 0) {
                image_info_free(i);
                return -EIO;
        }
        return 0;
}

int image_get(struct vessel_store *s, const char *fp, struct image_info *out, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        int rc;

        if (store_prepare(s, IMAGE_COLUMNS " WHERE fingerprint = ?", &st, err) < 0)
                return -EIO;
        bind_text(st, 1, fp);
        rc = store_step(s, st, err);
        if (rc < 0)
                return rc;
        if (rc != SQLITE_ROW)
                return vessel_error_msg(err, ENOENT, "image \"%s\": no such image", fp);
        return image_from_row(s, st, out, err);
}

int image_list(struct vessel_store *s, struct image_info **out, size_t *n, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct image_info *v = NULL;
        size_t count = 0;
        int rc;

        if (store_prepare(s, IMAGE_COLUMNS " ORDER BY uploaded_at, fingerprint", &st, err) < 0)
                return -EIO;
        while ((rc = store_step(s, st, err)) == SQLITE_ROW) {
                v = realloc(v, (count + 1) * sizeof(*v));
                if (!v)
                        abort();
                if (image_from_row(s, st, &v[count], err) < 0)
                        break;
                count++;
        }
        if (rc != SQLITE_DONE) {
                image_list_free(v, count);
                return -EIO;
        }
        *out = v;
        *n = count;
        return 0;
}

void image_info_free(struct image_info *i)
{
        free(i->architecture);
        free(i->type);
        free(i->format);
        free(i->filename);
        for (size_t k = 0; k < i->n_properties; k++) {
                free(i->properties[k].key);
                free(i->properties[k].value);
        }
        free(i->properties);
        strv_free(i->aliases);
        *i = (struct image_info){0};
}

void image_list_free(struct image_info *v, size_t n)
{
        for (size_t i = 0; i < n; i++)
                image_info_free(&v[i]);
        free(v);
}

const char *image_property(const struct image_info *i, const char *key)
{
        for (size_t k = 0; k < i->n_properties; k++)
                if (!strcmp(i->properties[k].key, key))
                        return i->properties[k].value;
        return NULL;
}

int image_alias_list(struct vessel_store *s, struct image_alias **out, size_t *n,
                     vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct image_alias *v = NULL;
        size_t count = 0;
        int rc;

        if (store_prepare(s,
                          "SELECT name, fingerprint, description FROM image_aliases ORDER BY name",
                          &st, err) < 0)
                return -EIO;
        while ((rc = store_step(s, st, err)) == SQLITE_ROW) {
                v = realloc(v, (count + 1) * sizeof(*v));
                if (!v)
                        abort();
                v[count].name = col_text(st, 0);
                snprintf(v[count].fingerprint, sizeof(v[count].fingerprint), "%s",
                         (const char *)sqlite3_column_text(st, 1));
                v[count].description = col_text(st, 2);
                count++;
        }
        if (rc < 0) {
                image_alias_list_free(v, count);
                return rc;
        }
        *out = v;
        *n = count;
        return 0;
}

void image_alias_list_free(struct image_alias *v, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(v[i].name);
                free(v[i].description);
        }
        free(v);
}

int image_alias_create(struct vessel_store *s, const char *name, const char *fp,
                       const char *description, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        bool exists;

        if (store_tx_begin(s, &tx, err) < 0 || db_image_exists(s, fp, &exists, err) < 0)
                return -EIO;
        if (!exists)
                return vessel_error_msg(err, ENOENT, "image \"%s\": no such image", fp);
        if (db_alias_insert(s, name, fp, description, err) < 0)
                return vessel_error_rc(err);
        return store_tx_commit(&tx, err);
}

int image_alias_delete(struct vessel_store *s, const char *name, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        _cleanup_stmt_ sqlite3_stmt *st = NULL;

        if (store_tx_begin(s, &tx, err) < 0 ||
            store_prepare(s, "DELETE FROM image_aliases WHERE name = ?", &st, err) < 0)
                return -EIO;
        bind_text(st, 1, name);
        if (store_step(s, st, err) < 0)
                return -EIO;
        if (sqlite3_changes(s->db) == 0)
                return vessel_error_msg(err, ENOENT, "alias \"%s\": no such alias", name);
        return store_tx_commit(&tx, err);
}

int image_alias_set(struct vessel_store *s, const char *name, const char *fp, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        char other[FINGERPRINT_HEX_LEN + 1] = "";
        bool exists;
        int r;

        if (store_tx_begin(s, &tx, err) < 0 || db_image_exists(s, fp, &exists, err) < 0)
                return -EIO;
        if (!exists)
                return vessel_error_msg(err, ENOENT, "image \"%s\": no such image", fp);
        r = db_alias_target(s, name, other, err);
        if (r < 0)
                return r;
        if (r == 0) {
                if (db_alias_insert(s, name, fp, "", err) < 0)
                        return vessel_error_rc(err);
        } else if (strcmp(other, fp)) {
                if (store_prepare(s, "UPDATE image_aliases SET fingerprint = ? WHERE name = ?", &st,
                                  err) < 0)
                        return -EIO;
                bind_text(st, 1, fp);
                bind_text(st, 2, name);
                if (store_step(s, st, err) < 0)
                        return -EIO;
        }
        return store_tx_commit(&tx, err);
}
