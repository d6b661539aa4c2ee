/* image-import.c: `vesselctl image import`: a directory, a unified
 * tarball, a split image (metadata tarball + rootfs tarball) or a plain
 * rootfs tarball with --arch.  The work happens in a locked staging
 * directory; the catalogue is only locked for the final, short step. */
#include <archive.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>

#include "arch.h"
#include "extract.h"
#include "idrange.h"
#include "image-internal.h"
#include "metadata.h"
#include "userns-helper.h"
#include "util.h"

struct staging {
        struct vessel_store *s;
        int images_fd; /* borrowed */
        char name[32];
        int fd; /* the staging directory, flock'ed while we work */
        int rootfs_fd, templates_fd;
        const struct xfer_progress *progress;
        uint64_t done, total; /* bytes of the tarballs read, and their size */
};

/* A hidden directory under images/ that image_recover leaves alone while
 * our flock holds (store_workdir_create). */
static int staging_create(struct vessel_store *s, struct staging *st, vessel_error **err)
{
        if (store_workdir_create(s->images_fd, IMAGE_TMP_PREFIX, st->name, sizeof(st->name),
                                 &st->fd, err) < 0)
                return vessel_error_prefix(err, "%s/images", s->root);
        if (mkdirat(st->fd, "rootfs", 0755) < 0 || mkdirat(st->fd, "templates", 0755) < 0)
                return vessel_error_sys(err, "%s/images/%s", s->root, st->name);
        st->rootfs_fd = openat(st->fd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        st->templates_fd =
            openat(st->fd, "templates", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (st->rootfs_fd < 0 || st->templates_fd < 0)
                return vessel_error_sys(err, "%s/images/%s", s->root, st->name);
        return 0;
}

/* Remove the staging directory (if it was not renamed into place) and
 * drop the lock. */
static void staging_end(struct staging *st)
{
        if (st->fd >= 0 && st->name[0])
                store_rm_rf_at(st->s, st->images_fd, st->name, NULL);
        closep(&st->rootfs_fd);
        closep(&st->templates_fd);
        closep(&st->fd);
}

/* Input read through libarchive, hashed and copied into the store on the
 * way, in one pass. */
struct tee_in {
        int in_fd;
        int copy_fd;            /* -1: no copy */
        struct fingerprint *fp; /* NULL: no hash */
        int64_t total;
        struct staging *st; /* its progress */
        char buf[1 << 16];
};

static la_ssize_t tee_read(struct archive *a, void *data, const void **out)
{
        struct tee_in *t = data;
        ssize_t n;

        do
                n = read(t->in_fd, t->buf, sizeof(t->buf));
        while (n < 0 && errno == EINTR);
        if (n < 0) {
                archive_set_error(a, errno, "read error");
                return -1;
        }
        if (n > 0 && t->copy_fd >= 0 && write_all(t->copy_fd, t->buf, (size_t)n) < 0) {
                archive_set_error(a, errno, "copying into the store");
                return -1;
        }
        if (n > 0 && t->fp)
                fingerprint_update(t->fp, t->buf, (size_t)n);
        t->total += n;
        if (t->st && t->st->progress && t->st->progress->report) {
                t->st->done += (uint64_t)n;
                t->st->progress->report(t->st->progress->data, t->st->done, t->st->total);
        }
        *out = t->buf;
        return n;
}

static const char *filter_ext(int code)
{
        switch (code) {
        case ARCHIVE_FILTER_GZIP:
                return "tar.gz";
        case ARCHIVE_FILTER_XZ:
                return "tar.xz";
        case ARCHIVE_FILTER_ZSTD:
                return "tar.zst";
        case ARCHIVE_FILTER_BZIP2:
                return "tar.bz2";
        case ARCHIVE_FILTER_LZMA:
                return "tar.lzma";
        case ARCHIVE_FILTER_LZ4:
                return "tar.lz4";
        }
        return "tar";
}

/* Extract the tarball at path (role: "image", "meta" or "rootfs"); with
 * fp, also hash it and keep a copy as staging/<role>.<ext>. */
static int unpack_tarball(struct staging *st, struct extractor *x, const char *path,
                          const char *role, enum extract_layout layout, struct fingerprint *fp,
                          int64_t *size, vessel_error **err)
{
        _cleanup_free_ struct tee_in *t = xmalloc0(sizeof(*t));
        _cleanup_free_ char *tmpname = xasprintf("%s.part", role), *final = NULL;
        struct archive *a = archive_read_new();
        int r, filter;

        t->in_fd = open(path, O_RDONLY | O_CLOEXEC);
        t->copy_fd =
            fp ? openat(st->fd, tmpname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
        t->fp = fp;
        t->st = st;
        if (t->in_fd < 0 || (fp && t->copy_fd < 0)) {
                r = vessel_error_sys(err, "%s", t->in_fd < 0 ? path : tmpname);
                goto out;
        }
        archive_read_support_filter_all(a);
        archive_read_support_format_tar(a);
        if (archive_read_open(a, t, NULL, tee_read, NULL) != ARCHIVE_OK) {
                r = vessel_error_msg(err, EINVAL, "%s: %s", path, archive_error_string(a));
                goto out;
        }
        r = extract_archive(x, a, layout, path, err);
        filter = archive_filter_code(a, 0);
        /* The hash covers the whole file, padding after the archive too. */
        while (r == 0 && fp && tee_read(a, t, &(const void *){NULL}) > 0)
                ;
        if (r == 0 && fp) {
                final = xasprintf("%s.%s", role, filter_ext(filter));
                if (renameat(st->fd, tmpname, st->fd, final) < 0)
                        r = vessel_error_sys(err, "%s", final);
        }
        if (size)
                *size += t->total;
out:
        archive_read_free(a);
        closep(&t->in_fd);
        closep(&t->copy_fd);
        return r;
}

enum import_kind { KIND_DIR, KIND_UNIFIED, KIND_SPLIT, KIND_ROOTFS };

struct import {
        struct vessel_store *s;
        const struct image_import_opts *o;
        enum import_kind kind;
        struct staging st;
        struct extractor x;
        struct fingerprint fp;
        struct image_metadata md;
        struct image_info info;
};

/* The directory as a tarball in the staging directory: made by the
 * caller itself, so that its owners are the host's (a rootless store's
 * too) and the fingerprint is the same in every store. */
static int import_directory_tar(struct import *im, vessel_error **err)
{
        const char *dir = im->o->paths[0];
        _cleanup_free_ char *mdp = xasprintf("%s/metadata.yaml", dir);
        _cleanup_free_ char *rfs = xasprintf("%s/rootfs", dir);
        _cleanup_close_ int fd = -1;
        struct stat sb;

        if (lstat(mdp, &sb) < 0 || !S_ISREG(sb.st_mode))
                return vessel_error_msg(err, ENOENT, "%s: no metadata.yaml", dir);
        if (lstat(rfs, &sb) < 0 || !S_ISDIR(sb.st_mode))
                return vessel_error_msg(err, ENOENT, "%s: no rootfs/ directory", dir);
        fd = openat(im->st.fd, "image.tar", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return vessel_error_sys(err, "image.tar");
        return tar_directory(dir, fd, &im->fp, err);
}

static int import_directory_unpack(struct import *im, vessel_error **err)
{
        _cleanup_free_ char *tar = xasprintf("%s/images/%s/image.tar", im->s->root, im->st.name);

        return unpack_tarball(&im->st, &im->x, tar, "image", LAYOUT_UNIFIED, NULL, &im->info.size,
                              err);
}

/* The metadata of a plain rootfs tarball: its architecture, the tarball's
 * mtime as creation date (so that the same file imports to the same
 * fingerprint) and the given properties, kept as a metadata tarball. */
static int import_plain_rootfs(struct import *im, vessel_error **err)
{
        const char *arch = arch_canonical(im->o->arch);
        struct image_metadata md = {.architecture = (char *)(arch ? arch : im->o->arch),
                                    .properties = (struct kv *)im->o->properties,
                                    .n_properties = im->o->n_properties};
        _cleanup_free_ char *yaml = NULL;
        _cleanup_close_ int fd = -1;
        struct stat sb;
        size_t len;
        int r;

        if (stat(im->o->paths[0], &sb) < 0)
                return vessel_error_sys(err, "%s", im->o->paths[0]);
        md.creation_date = sb.st_mtime;
        if (image_metadata_emit(&md, &yaml, &len, err) < 0)
                return -EIO;
        fd = openat(im->st.fd, "meta.tar", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd < 0)
                return vessel_error_sys(err, "meta.tar");
        r = tar_metadata(yaml, len, sb.st_mtime, fd, &im->fp, err);
        if (r < 0)
                return r;
        if (fstat(fd, &sb) == 0)
                im->info.size += sb.st_size;
        im->x.metadata = steal_ptr(&yaml);
        im->x.metadata_len = len;
        return unpack_tarball(&im->st, &im->x, im->o->paths[0], "rootfs", LAYOUT_ROOTFS, &im->fp,
                              &im->info.size, err);
}

static int import_unpack(struct import *im, vessel_error **err)
{
        const char *const *p = im->o->paths;
        int64_t *size = &im->info.size;

        switch (im->kind) {
        case KIND_DIR:
                return import_directory_tar(im, err) ?: import_directory_unpack(im, err);
        case KIND_UNIFIED:
                return unpack_tarball(&im->st, &im->x, p[0], "image", LAYOUT_UNIFIED, &im->fp, size,
                                      err);
        case KIND_SPLIT:
                return unpack_tarball(&im->st, &im->x, p[0], "meta", LAYOUT_META, &im->fp, size,
                                      err)
                           ?: unpack_tarball(&im->st, &im->x, p[1], "rootfs", LAYOUT_ROOTFS,
                                             &im->fp, size, err);
        case KIND_ROOTFS:
                return import_plain_rootfs(im, err);
        }
        return -EINVAL;
}

/* What the unpacking child of a rootless import hands back: its state
 * of the fingerprint, the size and the metadata, in shared memory. */
struct unpacked {
        struct fingerprint fp;
        int64_t size;
        size_t n_skipped_devices;
        bool has_metadata;
        size_t metadata_len;
        char metadata[METADATA_MAX_SIZE + 1];
};

struct unpack_args {
        struct import *im;
        struct unpacked *out;
};

static int unpack_in_userns(void *arg, vessel_error **err)
{
        struct unpack_args *a = arg;
        struct import *im = a->im;
        int r = (im->kind == KIND_DIR ? import_directory_unpack(im, err) : import_unpack(im, err))
                    ?: extract_finish(&im->x, err);

        if (r < 0)
                return r;
        a->out->fp = im->fp;
        a->out->size = im->info.size;
        a->out->n_skipped_devices = im->x.n_skipped_devices;
        if (im->x.metadata && im->x.metadata_len <= METADATA_MAX_SIZE) {
                a->out->has_metadata = true;
                a->out->metadata_len = im->x.metadata_len;
                memcpy(a->out->metadata, im->x.metadata, im->x.metadata_len);
        }
        return 0;
}

/* A rootless store: the rootfs is unpacked by the root of a user
 * namespace of the user's ids (userns-helper.h), image id N as the
 * images' block's N (idrange.h); device nodes, which no user namespace
 * may make, are left out with a notice. */
static int import_unpack_rootless(struct import *im, vessel_error **err)
{
        struct idrange_user u;
        struct unpacked *out;
        int r;

        if ((r = idrange_user_read(&u, err)) < 0)
                return vessel_error_prefix(err, "image import into a rootless store");
        out = mmap(NULL, sizeof(*out), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (out == MAP_FAILED) {
                idrange_user_free(&u);
                return vessel_error_sys(err, "image import: mmap");
        }
        im->x.id_base = (uint32_t)idrange_user_image_base(&u);
        im->x.id_size = IDRANGE_BLOCK;
        im->x.skip_devices = true;
        r = im->kind == KIND_DIR ? import_directory_tar(im, err) : 0;
        if (r == 0)
                r = userns_run(&u, "image import", unpack_in_userns, &(struct unpack_args){im, out},
                               err);
        if (r == 0) {
                im->fp = out->fp;
                im->info.size = out->size;
                free(im->x.metadata);
                im->x.metadata = NULL;
                if (out->has_metadata) {
                        im->x.metadata = xmalloc0(out->metadata_len + 1);
                        memcpy(im->x.metadata, out->metadata, out->metadata_len);
                        im->x.metadata_len = out->metadata_len;
                }
                if (out->n_skipped_devices)
                        fprintf(stderr,
                                "vesselctl: image %s: left out %zu device node%s (a rootless "
                                "store cannot make them; instances get /dev from the runtime)\n",
                                im->o->paths[0], out->n_skipped_devices,
                                out->n_skipped_devices == 1 ? "" : "s");
        }
        munmap(out, sizeof(*out));
        idrange_user_free(&u);
        return r;
}

static int check_architecture(struct import *im, vessel_error **err)
{
        const char *arch = arch_canonical(im->md.architecture), *host = arch_host();

        if (!arch)
                return vessel_error_msg(err, EINVAL,
                                        "architecture \"%s\": unknown (x86_64, "
                                        "aarch64, i686, armv7l, ...)",
                                        im->md.architecture);
        if (!arch_runs_on(arch, host))
                return vessel_error_msg(err, ENOEXEC,
                                        "architecture \"%s\": this host (%s) "
                                        "cannot run it",
                                        arch, host);
        im->info.architecture = xstrdup(arch);
        return 0;
}

static void add_property(struct image_info *i, const char *k, const char *v)
{
        for (size_t n = 0; n < i->n_properties; n++) {
                if (!strcmp(i->properties[n].key, k)) {
                        free(i->properties[n].value);
                        i->properties[n].value = xstrdup(v);
                        return;
                }
        }
        i->properties = realloc(i->properties, (i->n_properties + 1) * sizeof(struct kv));
        if (!i->properties)
                abort();
        i->properties[i->n_properties++] = (struct kv){xstrdup(k), xstrdup(v)};
}

/* metadata.yaml: parse, check, keep verbatim in the image directory. */
static int import_metadata(struct import *im, vessel_error **err)
{
        const char *what = im->o->paths[0];

        if (!im->x.metadata)
                return vessel_error_msg(
                    err, ENOENT, "%s: no metadata.yaml%s", what,
                    im->kind == KIND_UNIFIED ? " (for a plain rootfs tarball, give --arch)" : "");
        if (image_metadata_parse(im->x.metadata, im->x.metadata_len, &im->md, err) < 0 ||
            check_architecture(im, err) < 0)
                return vessel_error_prefix(err, "%s", what);
        _cleanup_close_ int fd =
            openat(im->st.fd, "metadata.yaml", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0 || write_all(fd, im->x.metadata, im->x.metadata_len) < 0)
                return vessel_error_sys(err, "images/%s/metadata.yaml", im->st.name);
        im->info.created_at = im->md.creation_date;
        im->info.expires_at = im->md.expiry_date;
        for (size_t i = 0; i < im->md.n_properties; i++)
                add_property(&im->info, im->md.properties[i].key, im->md.properties[i].value);
        for (size_t i = 0; i < im->o->n_properties; i++)
                add_property(&im->info, im->o->properties[i].key, im->o->properties[i].value);
        return 0;
}

static int add_aliases(struct import *im, vessel_error **err)
{
        for (char *const *a = im->o->aliases; a && *a; a++) {
                char fp[FINGERPRINT_HEX_LEN + 1] = "";
                int r = db_alias_target(im->s, *a, fp, err);
                if (r < 0)
                        return r;
                if (r > 0 && !strcmp(fp, im->info.fingerprint))
                        continue; /* the same alias on the same image again is no error */
                if (db_alias_insert(im->s, *a, im->info.fingerprint, "", err) < 0)
                        return vessel_error_rc(err);
        }
        return 0;
}

/* The one short catalogue step: rows, then the rename into place, then
 * the commit.  A kill before the commit leaves images/<fp> without a row,
 * which image_recover removes under the same lock. */
static int import_commit(struct import *im, struct image_import_result *res, vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        const char *fp = im->info.fingerprint;
        bool exists;

        if (store_tx_begin(im->s, &tx, err) < 0 || db_image_exists(im->s, fp, &exists, err) < 0)
                return -EIO;
        res->existed = exists;
        if (!exists) {
                /* an orphan of a killed import */
                if (store_rm_rf_at(im->s, im->s->images_fd, fp, err) < 0)
                        return vessel_error_prefix(err, "removing images/%s", fp);
                if (db_image_insert(im->s, &im->info, err) < 0)
                        return -EIO;
        }
        if (add_aliases(im, err) < 0)
                return vessel_error_rc(err);
        if (!exists && renameat(im->s->images_fd, im->st.name, im->s->images_fd, fp) < 0)
                return vessel_error_sys(err, "moving the image into images/%s", fp);
        if (store_tx_commit(&tx, err) < 0) {
                if (!exists)
                        renameat(im->s->images_fd, fp, im->s->images_fd, im->st.name);
                return vessel_error_rc(err);
        }
        if (!exists)
                im->st.name[0] = '\0'; /* in place: nothing to remove */
        return 0;
}

static int import_kind(const struct image_import_opts *o, enum import_kind *kind,
                       vessel_error **err)
{
        struct stat sb;

        if (o->n_paths < 1 || o->n_paths > 2)
                return vessel_error_msg(err, EINVAL,
                                        "image import: one directory or tarball, or "
                                        "a metadata tarball and a rootfs tarball");
        if (stat(o->paths[0], &sb) < 0)
                return vessel_error_sys(err, "%s", o->paths[0]);
        for (char *const *a = o->aliases; a && *a; a++)
                if (!image_alias_name_valid(*a))
                        return vessel_error_msg(err, EINVAL,
                                                "alias \"%s\": not a valid name "
                                                "(no spaces, control characters or ':')",
                                                *a);
        if (S_ISDIR(sb.st_mode))
                *kind = KIND_DIR;
        else if (o->n_paths == 2)
                *kind = KIND_SPLIT;
        else
                *kind = o->arch ? KIND_ROOTFS : KIND_UNIFIED;
        if (o->arch && *kind != KIND_ROOTFS)
                return vessel_error_msg(err, EINVAL,
                                        "--arch is for a plain rootfs tarball "
                                        "(without metadata.yaml) only");
        if (*kind == KIND_DIR && o->n_paths == 2)
                return vessel_error_msg(err, EINVAL,
                                        "%s: a directory image takes no second "
                                        "tarball",
                                        o->paths[0]);
        return 0;
}

int image_import(struct vessel_store *s, const struct image_import_opts *o,
                 struct image_import_result *res, vessel_error **err)
{
        struct import im = {.s = s, .o = o, .st = {s, s->images_fd, "", -1, -1, -1}};
        _cleanup_free_ char *base = xstrdup(o->paths[0]);
        int r;

        *res = (struct image_import_result){0};
        im.st.progress = &o->progress;
        for (size_t i = 0; i < o->n_paths && i < 2; i++) {
                struct stat sb;
                if (stat(o->paths[i], &sb) == 0 && S_ISREG(sb.st_mode))
                        im.st.total += (uint64_t)sb.st_size;
        }
        r = import_kind(o, &im.kind, err);
        if (r == 0)
                r = staging_create(s, &im.st, err);
        extractor_init(&im.x, im.st.rootfs_fd, im.st.templates_fd);
        fingerprint_init(&im.fp);
        if (r == 0)
                r = store_is_rootless(s) ? import_unpack_rootless(&im, err)
                                         : import_unpack(&im, err) ?: extract_finish(&im.x, err);
        if (r == 0)
                r = import_metadata(&im, err);
        if (r == 0) {
                fingerprint_final(&im.fp, im.info.fingerprint);
                im.info.format =
                    xstrdup(im.kind == KIND_SPLIT || im.kind == KIND_ROOTFS ? "split" : "unified");
                im.info.filename = xstrdup(o->filename ? o->filename : basename(base));
                im.info.uploaded_at = time(NULL);
                im.info.public = o->public;
                r = import_commit(&im, res, err);
        }
        if (r == 0) {
                memcpy(res->fingerprint, im.info.fingerprint, sizeof(res->fingerprint));
                res->size = im.info.size;
        }
        staging_end(&im.st);
        extractor_free(&im.x);
        image_metadata_free(&im.md);
        image_info_free(&im.info);
        return r;
}
