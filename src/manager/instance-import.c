/* instance-import.c: `vesselctl import`: an instance from a tarball of
 * `vesselctl export` (instance-transfer.h for the layout).
 *
 * As init does (instance.c): a locked instances/.init-<vol> and an
 * empty volume containers/<vol> of the pool (storage_volume_create), the
 * tarball unpacked into them holding no catalogue lock, confined as an
 * image is (extract.h: no absolute names, no "..", no write through a
 * symlink out of the tree, no hard link out of its tree), then one
 * transaction: the profiles the target lacks (from the backup's full
 * copies), the rows, backup.yaml, the rename into place.  A refused or
 * truncated tarball leaves nothing; a kill leaves what instance_recover
 * and storage_recover remove at the next store open.
 *
 * The files keep the tarball's ids, the instance's own: unshifted, as a
 * new instance's are, so that its first start maps them into the id
 * range it gets then (an idmapped mount, or the shift of an overlay
 * volume's upper layer). */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>

#include "arch.h"
#include "config-db.h"
#include "confyaml.h"
#include "extract.h"
#include "instance-transfer.h"
#include "instance-internal.h"
#include "instance.h"
#include "metadata.h"
#include "profile.h"
#include "snapshot.h"
#include "storage.h"
#include "util.h"

#define BACKUP_MAX (1024 * 1024)
#define IN_BUF (1 << 17)

/* A snapshot being imported: its volume snapshots/<vol>, made under the
 * lock of instances/.copy-<vol> (snapshot.h), held until the commit. */
struct snap_in {
        char name[XFER_SNAP_NAME_MAX];
        char work[64];
        int work_fd;
        char *vol_rel; /* "snapshots/<vol>", once made */
        int rootfs_fd;
        struct extractor x;
        char *backup;
        size_t backup_len;
        struct conf_doc doc;
        bool have_doc;
        int64_t created_at, expires_at;
        size_t rootfs_entries;
};

struct importer {
        struct vessel_store *s;
        const struct instance_import_opts *o;
        struct instance_import_result *res;
        const char *what;
        struct storage_pool pool;
        char staging[64];
        int staging_fd; /* flock'ed while we work */
        char *vol_rel;  /* "containers/<vol>", once made */
        int rootfs_fd, templates_fd;
        struct extractor x;
        char *index, *backup, *metadata;
        size_t index_len, backup_len, metadata_len;
        struct xfer_index idx;
        struct conf_doc doc;
        bool have_doc;
        const char *name; /* the instance's name: given, or backup.yaml's */
        size_t rootfs_entries;
        struct snap_in *snaps; /* as met, at most the index's */
        size_t n_snaps;
        uint64_t in;
        char *buf;
};

static la_ssize_t in_read(struct archive *a, void *data, const void **out)
{
        struct importer *im = data;
        ssize_t n;

        do
                n = read(im->o->in_fd, im->buf, IN_BUF);
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                archive_set_error(a, errno, "read error: %s", strerror(errno));
                return -1;
        }
        im->in += (uint64_t)n;
        if (im->o->progress.report)
                im->o->progress.report(im->o->progress.data, im->in, im->o->total);
        *out = im->buf;
        return n;
}

static int name_free(struct vessel_store *s, const char *name, vessel_error **err)
{
        bool exists = false;

        if (!instance_name_valid(name))
                return vessel_error_msg(err, EINVAL,
                                        "instance \"%s\": not a valid name (a host name: 1 to 63 "
                                        "letters, digits and '-', not starting or ending with "
                                        "'-')",
                                        name);
        if (instance_db_exists(s, name, &exists, err) < 0)
                return -EIO;
        if (exists)
                return vessel_error_msg(err, EEXIST,
                                        "instance \"%s\": already exists (import FILE NEWNAME "
                                        "gives the import another name)",
                                        name);
        return 0;
}

/* A small file of the tarball into memory. */
static int read_small(struct importer *im, struct archive *a, struct archive_entry *e,
                      const char *entry, size_t max, char **out, size_t *len, vessel_error **err)
{
        la_ssize_t n;

        if (archive_entry_filetype(e) != AE_IFREG || archive_entry_hardlink(e))
                return vessel_error_msg(err, EINVAL, "%s: %s is not a regular file", im->what,
                                        entry);
        if (archive_entry_size(e) > (la_int64_t)max)
                return vessel_error_msg(err, EFBIG, "%s: %s is larger than %zu bytes", im->what,
                                        entry, max);
        free(*out);
        *out = xmalloc0(max + 1);
        *len = 0;
        while ((n = archive_read_data(a, *out + *len, max + 1 - *len)) > 0)
                *len += (size_t)n;
        if (n < 0)
                return vessel_error_msg(err, EIO, "%s: %s: %s", im->what, entry,
                                        archive_error_string(a));
        if (*len > max)
                return vessel_error_msg(err, EFBIG, "%s: %s is too large", im->what, entry);
        return 0;
}

/* An instance's own state that is not carried over: the new instance
 * gets its own (its id range, at first start), but keeps the templates
 * it has not had yet. */
static void drop_volatile(struct kvlist *l)
{
        for (size_t i = 0; i < l->n;) {
                _cleanup_free_ char *k = xstrdup(l->v[i].key);
                if (str_has_prefix(k, "volatile.") && strcmp(k, INSTANCE_KEY_APPLY_TEMPLATE))
                        kvlist_unset(l, k);
                else
                        i++;
        }
}

static int check_index(struct importer *im, vessel_error **err)
{
        if (xfer_index_parse(im->index, im->index_len, &im->idx, err) < 0)
                return vessel_error_prefix(err, "%s", im->what);
        if (!im->idx.version)
                return vessel_error_msg(err, EINVAL,
                                        "%s: backup/index.yaml has no version: not a vessel "
                                        "instance backup (an Incus or LXD backup?)",
                                        im->what);
        if (im->idx.version > XFER_INDEX_VERSION)
                return vessel_error_msg(err, ENOTSUP,
                                        "%s: a backup of version %d, newer than this vesselctl's "
                                        "%d",
                                        im->what, im->idx.version, XFER_INDEX_VERSION);
        if (im->idx.type && strcmp(im->idx.type, "container"))
                return vessel_error_msg(err, ENOTSUP, "%s: a backup of a %s, not a container",
                                        im->what, im->idx.type);
        return 0;
}

/* backup.yaml, as soon as it is met (before the rootfs in our tarballs),
 * so that a bad one fails before gigabytes are unpacked. */
static int check_backup(struct importer *im, vessel_error **err)
{
        const char *arch, *host = arch_host(), *a;

        if (conf_doc_parse(im->backup, im->backup_len, "backup/container/backup.yaml", &im->doc,
                           err) < 0)
                return vessel_error_prefix(err, "%s", im->what);
        im->have_doc = true;
        drop_volatile(&im->doc.conf.config);
        if (!im->name && !(im->name = kvlist_get(&im->doc.top, "name")))
                return vessel_error_msg(
                    err, EINVAL, "%s: backup/container/backup.yaml names no instance", im->what);
        if (name_free(im->s, im->name, err) < 0)
                return vessel_error_rc(err);
        a = kvlist_get(&im->doc.top, "architecture");
        arch = a ? arch_canonical(a) : NULL;
        if (!arch)
                return vessel_error_msg(err, EINVAL, "%s: architecture \"%s\": unknown", im->what,
                                        a ? a : "");
        if (!arch_runs_on(arch, host))
                return vessel_error_msg(err, ENOEXEC,
                                        "%s: architecture \"%s\": this host (%s) cannot run it",
                                        im->what, arch, host);
        a = kvlist_get(&im->doc.top, "type");
        if (a && strcmp(a, "container"))
                return vessel_error_msg(err, ENOTSUP, "%s: a backup of a %s, not a container",
                                        im->what, a);
        if (confset_check(&im->doc.conf, err) < 0)
                return vessel_error_prefix(err, "%s: instance \"%s\"", im->what, im->name);
        for (size_t k = 0; im->doc.profiles && im->doc.profiles[k]; k++) {
                int64_t pid;
                if (db_profile_id(im->s, im->doc.profiles[k], &pid, NULL) == 0)
                        continue;
                if (!im->doc.pconf)
                        return vessel_error_msg(err, ENOENT,
                                                "%s: profile \"%s\": not in this store, and "
                                                "the backup has no copy of it",
                                                im->what, im->doc.profiles[k]);
        }
        return 0;
}

/* overlayfs's own xattrs never reach a file (they would steer the
 * overlay of an overlay volume); the tarballs of export have none. */
static void filter_xattrs(struct archive_entry *e)
{
        const char *name;
        const void *value;
        size_t size, n = 0, bad = 0;
        struct {
                char *name;
                void *value;
                size_t size;
        } * keep;

        if (archive_entry_xattr_reset(e) == 0)
                return;
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
                bad += !xfer_xattr_allowed(name);
        if (!bad)
                return;
        keep = xmalloc0((size_t)archive_entry_xattr_count(e) * sizeof(*keep));
        archive_entry_xattr_reset(e);
        while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
                if (xfer_xattr_allowed(name)) {
                        keep[n].name = xstrdup(name);
                        keep[n].value = xmalloc0(size + 1);
                        memcpy(keep[n].value, value, size);
                        keep[n++].size = size;
                }
        archive_entry_xattr_clear(e);
        for (size_t i = 0; i < n; i++) {
                archive_entry_xattr_add_entry(e, keep[i].name, keep[i].value, keep[i].size);
                free(keep[i].name);
                free(keep[i].value);
        }
        free(keep);
}

static int bad_name(struct importer *im, const char *name, int r, vessel_error **err)
{
        if (r == -EPERM)
                return vessel_error_msg(err, EPERM, "%s: entry \"%s\": absolute paths are refused",
                                        im->what, name);
        return vessel_error_msg(err, EINVAL, "%s: entry \"%s\": \"..\" components are refused",
                                im->what, name);
}

static int import_tree_entry(struct importer *im, struct archive *a, struct archive_entry *e,
                             enum xfer_dest dest, const char *rel, const char *link_clean,
                             vessel_error **err)
{
        const char *name = archive_entry_pathname(e), *link_rel = NULL;
        int tree = dest == XFER_DEST_ROOTFS ? im->rootfs_fd : im->templates_fd;

        if (link_clean && xfer_route(link_clean, &link_rel) != dest)
                return vessel_error_msg(err, EINVAL,
                                        "%s: entry \"%s\": a hard link to \"%s\", outside its tree",
                                        im->what, name, archive_entry_hardlink(e));
        if (!link_clean && archive_entry_filetype(e) == AE_IFCHR && archive_entry_rdev(e) == 0 &&
            dest == XFER_DEST_ROOTFS && !strcmp(im->pool.driver, "overlay"))
                return vessel_error_msg(err, ENOTSUP,
                                        "%s: entry \"%s\": a character device 0:0, which the "
                                        "upper layer of an overlay pool takes for a whiteout: "
                                        "import into a dir or btrfs pool (-s POOL)",
                                        im->what, name);
        filter_xattrs(e);
        if (dest == XFER_DEST_ROOTFS)
                im->rootfs_entries++;
        return extract_entry(&im->x, a, e, tree, rel, link_clean ? link_rel : NULL, im->what, err);
}

/* ---- snapshots ---- */

static bool strv_has(char *const *v, const char *s)
{
        for (; v && *v; v++)
                if (!strcmp(*v, s))
                        return true;
        return false;
}

static int int64_key(struct importer *im, const struct snap_in *sn, const char *key, int64_t *out,
                     vessel_error **err)
{
        const char *v = kvlist_get(&sn->doc.top, key);

        *out = 0;
        if (v && (parse_int64(v, out) < 0 || *out < 0))
                return vessel_error_msg(err, EINVAL,
                                        "%s: backup/snapshots/%s/backup.yaml: %s \"%s\": not a "
                                        "time",
                                        im->what, sn->name, key, v);
        return 0;
}

/* A snapshot's backup.yaml: checked as the instance's is. */
static int check_snap_backup(struct importer *im, struct snap_in *sn, vessel_error **err)
{
        _cleanup_free_ char *what = xasprintf("backup/snapshots/%s/backup.yaml", sn->name);
        const char *name;

        if (conf_doc_parse(sn->backup, sn->backup_len, what, &sn->doc, err) < 0)
                return vessel_error_prefix(err, "%s", im->what);
        sn->have_doc = true;
        drop_volatile(&sn->doc.conf.config);
        name = kvlist_get(&sn->doc.top, "name");
        if (name && strcmp(name, sn->name))
                return vessel_error_msg(err, EINVAL, "%s: %s: the snapshot \"%s\", not \"%s\"",
                                        im->what, what, name, sn->name);
        if (int64_key(im, sn, "created_at", &sn->created_at, err) < 0 ||
            int64_key(im, sn, "expires_at", &sn->expires_at, err) < 0)
                return -EINVAL;
        if (!sn->created_at)
                sn->created_at = (int64_t)time(NULL);
        if (confset_check(&sn->doc.conf, err) < 0)
                return vessel_error_prefix(err, "%s: snapshot \"%s/%s\"", im->what, im->name,
                                           sn->name);
        for (size_t k = 0; sn->doc.profiles && sn->doc.profiles[k]; k++) {
                int64_t pid;
                if (sn->doc.pconf || db_profile_id(im->s, sn->doc.profiles[k], &pid, NULL) == 0 ||
                    (im->doc.pconf && strv_has(im->doc.profiles, sn->doc.profiles[k])))
                        continue;
                return vessel_error_msg(err, ENOENT,
                                        "%s: snapshot \"%s\": profile \"%s\": not in this "
                                        "store, and the backup has no copy of it",
                                        im->what, sn->name, sn->doc.profiles[k]);
        }
        return 0;
}

/* Its files are all in: the directories' times, and no more writes. */
static int snap_close(struct snap_in *sn, vessel_error **err)
{
        int r = sn->rootfs_fd >= 0 ? extract_finish(&sn->x, err) : 0;

        extractor_free(&sn->x);
        closep(&sn->rootfs_fd);
        return r;
}

/* The snapshot named by an entry: the current one, or the next one,
 * which must be in the index and not met before (each snapshot's
 * entries together, as export writes them). */
static int snap_switch(struct importer *im, const char *name, struct snap_in **out,
                       vessel_error **err)
{
        struct vessel_store *s = im->s;
        _cleanup_free_ char *files = NULL;
        struct snap_in *sn;

        if (im->n_snaps && !strcmp(im->snaps[im->n_snaps - 1].name, name)) {
                *out = &im->snaps[im->n_snaps - 1];
                return 0;
        }
        for (size_t k = 0; k < im->n_snaps; k++)
                if (!strcmp(im->snaps[k].name, name))
                        return vessel_error_msg(err, EINVAL,
                                                "%s: snapshot \"%s\": its entries are not "
                                                "together",
                                                im->what, name);
        if (!strv_has(im->idx.snapshots, name))
                return vessel_error_msg(err, EINVAL,
                                        "%s: snapshot \"%s\": not listed in backup/index.yaml",
                                        im->what, name);
        if (!im->snaps)
                im->snaps = xmalloc0(strv_len(im->idx.snapshots) * sizeof(*im->snaps));
        if (im->n_snaps && snap_close(&im->snaps[im->n_snaps - 1], err) < 0)
                return vessel_error_prefix(err, "%s: snapshot \"%s\"", im->what,
                                           im->snaps[im->n_snaps - 1].name);
        sn = &im->snaps[im->n_snaps++];
        snprintf(sn->name, sizeof(sn->name), "%s", name);
        sn->work_fd = sn->rootfs_fd = -1;
        extractor_init(&sn->x, -1, -1);
        if (store_workdir_create(s->instances_fd, SNAPSHOT_WORK_PREFIX, sn->work, sizeof(sn->work),
                                 &sn->work_fd, err) < 0)
                return vessel_error_prefix(err, "import: %s/instances", s->root);
        _cleanup_free_ char *rel =
            storage_volume_path("snapshots", sn->work + strlen(SNAPSHOT_WORK_PREFIX));
        if (storage_volume_create(s, &im->pool, rel, &files, err) < 0)
                return vessel_error_prefix(err, "import: snapshot \"%s\"", name);
        sn->vol_rel = steal_ptr(&rel);
        sn->rootfs_fd = open(files, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sn->rootfs_fd < 0)
                return vessel_error_sys(err, "import: opening %s", files);
        extractor_init(&sn->x, sn->rootfs_fd, -1);
        *out = sn;
        return 0;
}

static int import_snapshot_entry(struct importer *im, struct archive *a, struct archive_entry *e,
                                 const char *rel, const char *link_clean, vessel_error **err)
{
        const char *name = archive_entry_pathname(e), *sub, *link_rel, *link_sub = NULL;
        char snap[XFER_SNAP_NAME_MAX], link_snap[XFER_SNAP_NAME_MAX];
        enum xfer_snap_dest d = xfer_snapshot_route(rel, snap, &sub);
        struct snap_in *sn = NULL;

        if (d == XFER_SNAP_UNKNOWN)
                return vessel_error_msg(err, EINVAL,
                                        "%s: entry \"%s\": not part of a snapshot (backup/"
                                        "snapshots/SNAP/backup.yaml, backup/snapshots/SNAP/"
                                        "rootfs/...)",
                                        im->what, name);
        if ((d == XFER_SNAP_TOP || d == XFER_SNAP_DIR) &&
            (archive_entry_filetype(e) != AE_IFDIR || link_clean))
                return vessel_error_msg(err, EINVAL, "%s: entry \"%s\": not a directory", im->what,
                                        name);
        if (d == XFER_SNAP_TOP)
                return 0;
        if (!im->index || !im->have_doc || !im->rootfs_entries)
                return vessel_error_msg(err, EINVAL,
                                        "%s: entry \"%s\": a snapshot before backup/index.yaml "
                                        "and the instance (backup/container/)",
                                        im->what, name);
        if (snap_switch(im, snap, &sn, err) < 0 || !sn)
                return vessel_error_rc(err);
        switch (d) {
        case XFER_SNAP_DIR:
                return 0;
        case XFER_SNAP_BACKUP:
                if (sn->have_doc)
                        return vessel_error_msg(err, EINVAL,
                                                "%s: snapshot \"%s\": backup.yaml given twice",
                                                im->what, snap);
                return read_small(im, a, e, name, BACKUP_MAX, &sn->backup, &sn->backup_len, err)
                           ?: check_snap_backup(im, sn, err);
        case XFER_SNAP_ROOTFS:
                break;
        default:
                abort();
        }
        if (link_clean &&
            (xfer_route(link_clean, &link_rel) != XFER_DEST_SNAPSHOT ||
             xfer_snapshot_route(link_rel, link_snap, &link_sub) != XFER_SNAP_ROOTFS ||
             strcmp(link_snap, snap)))
                return vessel_error_msg(err, EINVAL,
                                        "%s: entry \"%s\": a hard link to \"%s\", outside its tree",
                                        im->what, name, archive_entry_hardlink(e));
        if (!link_clean && archive_entry_filetype(e) == AE_IFCHR && archive_entry_rdev(e) == 0 &&
            !strcmp(im->pool.driver, "overlay"))
                return vessel_error_msg(err, ENOTSUP,
                                        "%s: entry \"%s\": a character device 0:0, which the "
                                        "upper layer of an overlay pool takes for a whiteout: "
                                        "import into a dir or btrfs pool (-s POOL)",
                                        im->what, name);
        filter_xattrs(e);
        sn->rootfs_entries++;
        return extract_entry(&sn->x, a, e, sn->rootfs_fd, sub, link_clean ? link_sub : NULL,
                             im->what, err);
}

/* After the last entry: every snapshot of the index, each whole. */
static int snaps_check(struct importer *im, vessel_error **err)
{
        if (im->n_snaps && snap_close(&im->snaps[im->n_snaps - 1], err) < 0)
                return vessel_error_prefix(err, "%s: snapshot \"%s\"", im->what,
                                           im->snaps[im->n_snaps - 1].name);
        for (char **n = im->idx.snapshots; n && *n; n++) {
                const struct snap_in *sn = NULL;
                for (size_t k = 0; k < im->n_snaps && !sn; k++)
                        if (!strcmp(im->snaps[k].name, *n))
                                sn = &im->snaps[k];
                if (!sn)
                        return vessel_error_msg(err, EINVAL,
                                                "%s: snapshot \"%s\": listed in "
                                                "backup/index.yaml, but not in the tarball "
                                                "(truncated?)",
                                                im->what, *n);
                if (!sn->have_doc || !sn->rootfs_entries)
                        return vessel_error_msg(
                            err, EINVAL, "%s: snapshot \"%s\": no backup/snapshots/%s/%s", im->what,
                            *n, *n, sn->have_doc ? "rootfs/" : "backup.yaml");
        }
        return 0;
}

static void snaps_free(struct importer *im, bool failed)
{
        for (size_t k = 0; k < im->n_snaps; k++) {
                struct snap_in *sn = &im->snaps[k];
                extractor_free(&sn->x);
                closep(&sn->rootfs_fd);
                if (failed && sn->vol_rel)
                        storage_volume_delete(im->s, &im->pool, sn->vol_rel, NULL);
                /* Committed or removed: the work directory goes (a kill
                 * before leaves it to snapshot_recover). */
                if (sn->work_fd >= 0)
                        store_rm_rf_at(im->s, im->s->instances_fd, sn->work, NULL);
                closep(&sn->work_fd);
                free(sn->vol_rel);
                free(sn->backup);
                if (sn->have_doc)
                        conf_doc_free(&sn->doc);
        }
        free(im->snaps);
        im->snaps = NULL;
        im->n_snaps = 0;
}

static int import_entry(struct importer *im, struct archive *a, struct archive_entry *e,
                        vessel_error **err)
{
        const char *name = archive_entry_pathname(e), *link = archive_entry_hardlink(e), *rel;
        _cleanup_free_ char *clean = NULL, *link_clean = NULL;
        enum xfer_dest dest;
        int r;

        if (!name)
                return vessel_error_msg(err, EINVAL, "%s: an entry without a name", im->what);
        if ((r = path_clean(name, &clean)) < 0)
                return bad_name(im, name, r, err);
        if (link && (r = path_clean(link, &link_clean)) < 0)
                return bad_name(im, link, r, err);
        dest = xfer_route(clean, &rel);
        switch (dest) {
        case XFER_DEST_DIR:
                if (archive_entry_filetype(e) != AE_IFDIR || link)
                        return vessel_error_msg(err, EINVAL, "%s: entry \"%s\": not a directory",
                                                im->what, name);
                return 0;
        case XFER_DEST_INDEX:
                return read_small(im, a, e, "backup/index.yaml", XFER_INDEX_MAX, &im->index,
                                  &im->index_len, err)
                           ?: check_index(im, err);
        case XFER_DEST_BACKUP:
                if (im->have_doc)
                        return vessel_error_msg(err, EINVAL, "%s: backup.yaml given twice",
                                                im->what);
                return read_small(im, a, e, "backup/container/backup.yaml", BACKUP_MAX, &im->backup,
                                  &im->backup_len, err)
                           ?: check_backup(im, err);
        case XFER_DEST_METADATA:
                return read_small(im, a, e, "backup/container/metadata.yaml", METADATA_MAX_SIZE,
                                  &im->metadata, &im->metadata_len, err);
        case XFER_DEST_TEMPLATES:
        case XFER_DEST_ROOTFS:
                return import_tree_entry(im, a, e, dest, rel, link_clean, err);
        case XFER_DEST_SNAPSHOT:
                return import_snapshot_entry(im, a, e, rel, link_clean, err);
        case XFER_DEST_UNKNOWN:
                break;
        }
        return vessel_error_msg(err, EINVAL,
                                "%s: entry \"%s\": not part of an instance backup (backup/"
                                "index.yaml, backup/container/...): an image is imported with "
                                "`vesselctl image import`",
                                im->what, name);
}

static int unpack(struct importer *im, vessel_error **err)
{
        struct archive *a = archive_read_new();
        struct archive_entry *e;
        int rc, r = 0;

        if (!a)
                abort();
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        if (archive_read_open(a, im, NULL, in_read, NULL) != ARCHIVE_OK) {
                r = vessel_error_msg(err, EINVAL, "%s: not a tarball (%s)", im->what,
                                     archive_error_string(a) ? archive_error_string(a)
                                                             : "unreadable");
                archive_read_free(a);
                return r;
        }
        while ((rc = archive_read_next_header(a, &e)) == ARCHIVE_OK || rc == ARCHIVE_WARN)
                if ((r = import_entry(im, a, e, err)) < 0)
                        break;
        if (r == 0 && rc != ARCHIVE_EOF)
                r = vessel_error_msg(err, EINVAL, "%s: %s", im->what,
                                     archive_error_string(a) ? archive_error_string(a)
                                                             : "not a tarball");
        archive_read_free(a);
        if (r == 0)
                r = extract_finish(&im->x, err);
        if (r == 0 && im->index)
                r = snaps_check(im, err);
        if (r < 0)
                return r;
        if (!im->index)
                return vessel_error_msg(
                    err, EINVAL, "%s: not an instance backup: no backup/index.yaml", im->what);
        if (!im->have_doc)
                return vessel_error_msg(err, EINVAL,
                                        "%s: not an instance backup: no "
                                        "backup/container/backup.yaml",
                                        im->what);
        if (!im->rootfs_entries)
                return vessel_error_msg(err, EINVAL,
                                        "%s: not an instance backup: no backup/container/rootfs/",
                                        im->what);
        return 0;
}

/* ---- the staging directory and the volume ---- */

static int staging_make(struct importer *im, vessel_error **err)
{
        struct vessel_store *s = im->s;
        _cleanup_free_ char *files = NULL, *link = NULL;
        const char *vol;

        if (store_workdir_create(s->instances_fd, INSTANCE_TMP_PREFIX, im->staging,
                                 sizeof(im->staging), &im->staging_fd, err) < 0)
                return vessel_error_prefix(err, "import: %s/instances", s->root);
        vol = im->staging + strlen(INSTANCE_TMP_PREFIX);
        _cleanup_free_ char *rel = storage_volume_path("containers", vol);
        if (storage_volume_create(s, &im->pool, rel, &files, err) < 0)
                return -EIO;
        im->vol_rel = steal_ptr(&rel);
        link = storage_rootfs_link(&im->pool, im->vol_rel);
        if (symlinkat(link, im->staging_fd, "rootfs") < 0 ||
            mkdirat(im->staging_fd, "templates", 0755) < 0)
                return vessel_error_sys(err, "import: instances/%s", im->staging);
        im->rootfs_fd = open(files, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        im->templates_fd =
            openat(im->staging_fd, "templates", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (im->rootfs_fd < 0 || im->templates_fd < 0)
                return vessel_error_sys(err, "import: opening %s", files);
        return 0;
}

/* ---- the transaction ---- */

static int insert_profiles(struct importer *im, int64_t id, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *ins = NULL;
        char **profiles = im->doc.profiles;

        if (store_prepare(im->s,
                          "INSERT INTO instance_profiles (instance_id, profile_id, apply_order)"
                          " VALUES (?, ?, ?)",
                          &ins, err) < 0)
                return -EIO;
        for (size_t k = 0; profiles && profiles[k]; k++) {
                int64_t pid;
                if (db_profile_id(im->s, profiles[k], &pid, NULL) < 0) {
                        if (!im->doc.pconf)
                                return vessel_error_msg(
                                    err, ENOENT, "profile \"%s\": not in this store", profiles[k]);
                        if (profile_insert_tx(im->s, profiles[k], &im->doc.pconf[k], err) < 0 ||
                            db_profile_id(im->s, profiles[k], &pid, err) < 0)
                                return vessel_error_prefix(err, "%s: making profile %s", im->what,
                                                           profiles[k]);
                        im->res->profiles_made = strv_append(im->res->profiles_made, profiles[k]);
                }
                sqlite3_reset(ins);
                sqlite3_bind_int64(ins, 1, id);
                sqlite3_bind_int64(ins, 2, pid);
                sqlite3_bind_int64(ins, 3, (int64_t)k);
                if (store_step(im->s, ins, err) < 0)
                        return vessel_error_prefix(err, "profile \"%s\"", profiles[k]);
        }
        return 0;
}

static int insert_row(struct importer *im, int64_t *id, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        const struct kvlist *top = &im->doc.top;
        const char *created = kvlist_get(top, "created_at"), *eph = kvlist_get(top, "ephemeral");
        int64_t at = 0;

        if (!created || parse_int64(created, &at) < 0 || at <= 0)
                at = (int64_t)time(NULL);
        if (store_prepare(im->s,
                          "INSERT OR IGNORE INTO instances (name, architecture, image_fingerprint,"
                          " description, ephemeral, state, created_at, storage_driver, pool_id,"
                          " volume) VALUES (?, ?, ?, ?, ?, 'creating', ?, ?, ?, ?)",
                          &st, err) < 0)
                return -EIO;
        db_bind_text(st, 1, im->name);
        db_bind_text(st, 2, arch_canonical(kvlist_get(top, "architecture")));
        db_bind_text(st, 3, kvlist_get(top, "image") ? kvlist_get(top, "image") : "");
        db_bind_text(st, 4, im->doc.conf.description ? im->doc.conf.description : "");
        sqlite3_bind_int(st, 5, eph && !strcmp(eph, "true"));
        sqlite3_bind_int64(st, 6, at);
        db_bind_text(st, 7, im->pool.driver);
        sqlite3_bind_int64(st, 8, im->pool.id);
        db_bind_text(st, 9, im->staging + strlen(INSTANCE_TMP_PREFIX));
        if (store_step(im->s, st, err) < 0)
                return -EIO;
        if (sqlite3_changes(im->s->db) == 0)
                return vessel_error_msg(err, EEXIST, "instance \"%s\": already exists", im->name);
        *id = sqlite3_last_insert_rowid(im->s->db);
        return confdb_save(im->s, OWNER_INSTANCE, *id, &im->doc.conf, err);
}

/* The snapshots' rows, in the instance's transaction; the profiles
 * they name that neither the store nor the instance had come from their
 * own copies. */
static int insert_snapshots(struct importer *im, int64_t id, vessel_error **err)
{
        for (size_t k = 0; k < im->n_snaps; k++) {
                struct snap_in *in = &im->snaps[k];
                char **profiles = in->doc.profiles;
                char *none[] = {NULL};
                for (size_t j = 0; profiles && profiles[j]; j++) {
                        int64_t pid;
                        if (db_profile_id(im->s, profiles[j], &pid, NULL) == 0)
                                continue;
                        if (!in->doc.pconf)
                                return vessel_error_msg(err, ENOENT,
                                                        "snapshot \"%s\": profile \"%s\": not in "
                                                        "this store",
                                                        in->name, profiles[j]);
                        if (profile_insert_tx(im->s, profiles[j], &in->doc.pconf[j], err) < 0)
                                return vessel_error_prefix(err, "%s: making profile %s", im->what,
                                                           profiles[j]);
                        im->res->profiles_made = strv_append(im->res->profiles_made, profiles[j]);
                }
                struct snapshot sn = {
                    .name = in->name,
                    .created_at = in->created_at,
                    .expires_at = in->expires_at,
                    .volume = in->work + strlen(SNAPSHOT_WORK_PREFIX),
                    .profiles = profiles ? profiles : none,
                    .conf = in->doc.conf,
                    /* Unshifted, as the instance's files. */
                    .shift = NULL,
                };
                if (snapshot_insert_tx(im->s, id, &sn, err) < 0)
                        return vessel_error_prefix(err, "%s", im->what);
        }
        return 0;
}

static int set_stopped(struct importer *im, int64_t id, vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;

        if (store_prepare(im->s, "UPDATE instances SET state = 'stopped' WHERE id = ?", &st, err) <
            0)
                return -EIO;
        sqlite3_bind_int64(st, 1, id);
        return store_step(im->s, st, err) < 0 ? -EIO : 0;
}

static int commit(struct importer *im, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        struct vessel_store *s = im->s;
        int64_t id = 0;

        if (store_tx_begin(s, &tx, err) < 0 || insert_row(im, &id, err) < 0 ||
            insert_profiles(im, id, err) < 0 || insert_snapshots(im, id, err) < 0 ||
            instance_backup_write_at(s, im->name, im->staging, err) < 0)
                return vessel_error_rc(err);
        if (renameat(s->instances_fd, im->staging, s->instances_fd, im->name) < 0)
                return vessel_error_sys(err, "instance \"%s\": putting instances/%s in place",
                                        im->name, im->name);
        if (set_stopped(im, id, err) < 0 || store_tx_commit(&tx, err) < 0) {
                renameat(s->instances_fd, im->name, s->instances_fd, im->staging);
                return vessel_error_rc(err);
        }
        im->staging[0] = '\0'; /* in place: nothing to remove */
        return 0;
}

static int finish_files(struct importer *im, vessel_error **err)
{
        if (im->metadata) {
                _cleanup_close_ int fd = openat(im->staging_fd, "metadata.yaml",
                                                O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
                if (fd < 0 || write_all(fd, im->metadata, im->metadata_len) < 0)
                        return vessel_error_sys(err, "import: instances/%s/metadata.yaml",
                                                im->staging);
        }
        /* An overlay volume is mounted from its making on (storage.h). */
        return storage_volume_mount(im->s, &im->pool, im->vol_rel, 0, 0, err);
}

int instance_import(struct vessel_store *s, const struct instance_import_opts *o,
                    struct instance_import_result *res, vessel_error **err)
{
        struct importer im = {
            .s = s,
            .o = o,
            .res = res,
            .what = o->what ? o->what : "the tarball",
            .staging_fd = -1,
            .rootfs_fd = -1,
            .templates_fd = -1,
            .name = o->name,
        };
        int r = 0;

        *res = (struct instance_import_result){.profiles_made = xmalloc0(sizeof(char *))};
        if (store_is_rootless(s))
                return vessel_error_msg(err, ENOTSUP,
                                        "import: not in a rootless store yet (its files would "
                                        "need the ids of a user namespace)");
        if (o->name && name_free(s, o->name, err) < 0)
                return vessel_error_rc(err);
        if (storage_pool_for_new(s, o->pool, &im.pool, err) < 0)
                return vessel_error_prefix(err, "import");
        im.buf = xmalloc0(IN_BUF);
        r = staging_make(&im, err);
        extractor_init(&im.x, im.rootfs_fd, im.templates_fd);
        if (r == 0)
                r = unpack(&im, err);
        if (r == 0)
                r = finish_files(&im, err);
        if (r == 0)
                r = commit(&im, err);
        if (r == 0) {
                res->name = xstrdup(im.name);
                res->snapshots = im.n_snaps;
        }
        res->bytes_in = im.in;
        closep(&im.rootfs_fd);
        closep(&im.templates_fd);
        if (r < 0 && im.vol_rel)
                storage_volume_delete(s, &im.pool, im.vol_rel, NULL);
        if (r < 0 && im.staging[0] && im.staging_fd >= 0)
                store_rm_rf_at(s, s->instances_fd, im.staging, NULL);
        /* The snapshots' volumes before the staging directory: a kill
         * between leaves them to storage_recover. */
        snaps_free(&im, r < 0);
        closep(&im.staging_fd);
        extractor_free(&im.x);
        xfer_index_free(&im.idx);
        if (im.have_doc)
                conf_doc_free(&im.doc);
        free(im.index);
        free(im.backup);
        free(im.metadata);
        free(im.vol_rel);
        free(im.buf);
        storage_pool_free(&im.pool);
        if (r < 0) {
                strv_free(res->profiles_made);
                res->profiles_made = NULL;
        }
        return r;
}

void instance_import_result_free(struct instance_import_result *r)
{
        free(r->name);
        strv_free(r->profiles_made);
        *r = (struct instance_import_result){0};
}
