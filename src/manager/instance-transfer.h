/* instance-transfer.h: an instance as a tarball and back (`vesselctl
 * export` and `import`; docs/store.md, "Export and import").
 *
 *   backup/index.yaml              what the tarball holds (first entry)
 *   backup/container/backup.yaml   the instance's configuration, its
 *                                  profiles in full (instance-backup.c)
 *   backup/container/metadata.yaml its image's, when it has one
 *   backup/container/templates/    likewise
 *   backup/container/rootfs/       its root file system
 *   backup/snapshots/<snap>/backup.yaml  a snapshot's configuration
 *                                  (snapshot.h), its profiles in full
 *   backup/snapshots/<snap>/rootfs/      its files
 *
 * index.yaml comes first and lists the snapshots (oldest first), then
 * the instance, then each snapshot's entries together, so that an
 * import can stream the tarball from a pipe.
 *
 * The ids in the tarball are the instance's own (0-based, as inside it):
 * files shifted on disk into its host range (idshift.h) are mapped back
 * on the way out, their ACLs and file capabilities included, and an
 * import unpacks them unshifted, for the new instance's own range.
 *
 * Import is confined as image extraction is (extract.h), made in a
 * locked instances/.init-<vol> and a volume containers/<vol> as init
 * makes an instance, and committed in one transaction: killed at any
 * moment, or refused, it leaves nothing that the next command does not
 * remove: a snapshot's volume snapshots/<vol> is made under a locked
 * instances/.copy-<vol>, as snapshot.c makes one, and its row goes in
 * the instance's transaction. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "store.h"
#include "xfer-progress.h"

enum xfer_compression { XFER_ZSTD, XFER_GZIP, XFER_XZ, XFER_NONE };
/* "zstd", "gzip", "xz", "none": 0, else -EINVAL. */
int xfer_compression_parse(const char *s, enum xfer_compression *out);
/* The default file name's extension: "tar.zst", "tar.gz", ... */
const char *xfer_compression_ext(enum xfer_compression c);

struct instance_export_opts {
        const char *name;
        int out_fd;
        enum xfer_compression compression;
        bool instance_only; /* no snapshots */
        struct xfer_progress progress;
};

struct instance_export_result {
        uint64_t bytes_in;  /* bytes of the files read */
        uint64_t bytes_out; /* bytes of the tarball written */
        size_t entries;
};

int instance_export(struct vessel_store *s, const struct instance_export_opts *o,
                    struct instance_export_result *res, vessel_error **err);

struct instance_import_opts {
        int in_fd;
        const char *what; /* names the input in errors: the file, or "stdin" */
        uint64_t total;   /* bytes of the input, 0: unknown (a pipe) */
        const char *name; /* NULL: the name in backup.yaml */
        const char *pool; /* NULL: the default pool */
        struct xfer_progress progress;
};

struct instance_import_result {
        char *name;           /* the instance made (allocated) */
        char **profiles_made; /* profiles created from the backup's copies */
        size_t snapshots;     /* snapshots made */
        uint64_t bytes_in;    /* bytes of the tarball read */
};

int instance_import(struct vessel_store *s, const struct instance_import_opts *o,
                    struct instance_import_result *res, vessel_error **err);
void instance_import_result_free(struct instance_import_result *r);

/* ---- pure parts, exposed for the unit tests ---- */

/* The id a file owned by host id gets in the tarball when its files are
 * shifted to base.. (size ids; size 0: not shifted, id as it is).  Ids
 * outside the range (which the instance sees as the overflow id) come
 * out as 65534. */
uint32_t xfer_id_unshift(uint32_t id, uint64_t base, uint64_t size);
/* The same for an overlay snapshot mounted read-only (storage-overlay.c):
 * only its upper layer's files are shifted, its lower layers' keep the
 * instance's own ids (below size), which stay as they are. */
uint32_t xfer_id_unshift_layered(uint32_t id, uint64_t base, uint64_t size);
/* A shift record's text (idshift.h; NULL: none): 1 with its range when
 * the files are shifted, 0 when not, -EBUSY when a shift is halfway. */
int xfer_shift_parse(const char *text, uint64_t *base, uint64_t *size);
/* The same on a POSIX ACL xattr's value (the kernel's form: a version,
 * then tag, perm, id entries), in place.  -EINVAL when malformed. */
int xfer_acl_unshift(void *value, size_t len, uint64_t base, uint64_t size);
/* layered: with xfer_id_unshift_layered. */
int xfer_acl_unshift_ex(void *value, size_t len, uint64_t base, uint64_t size, bool layered);
/* security.capability: a v3 value's root id mapped back; a v3 whose
 * root id becomes 0 is written as v2 (what setting it inside the
 * instance gives).  out holds XFER_CAP_MAX bytes, *out_len <= len;
 * -EINVAL when malformed (no capability is longer than a v3's). */
#define XFER_CAP_MAX 24
int xfer_cap_unshift(const void *in, size_t len, uint64_t base, uint64_t size, void *out,
                     size_t *out_len);
int xfer_cap_unshift_ex(const void *in, size_t len, uint64_t base, uint64_t size, bool layered,
                        void *out, size_t *out_len);

/* Where an entry of an instance tarball goes (its cleaned name). */
enum xfer_dest {
        XFER_DEST_DIR,       /* backup/, backup/container/: nothing to make */
        XFER_DEST_INDEX,     /* backup/index.yaml */
        XFER_DEST_BACKUP,    /* backup/container/backup.yaml */
        XFER_DEST_METADATA,  /* backup/container/metadata.yaml */
        XFER_DEST_TEMPLATES, /* backup/container/templates[/...] */
        XFER_DEST_ROOTFS,    /* backup/container/rootfs[/...] */
        XFER_DEST_SNAPSHOT,  /* backup/snapshots[/...]: xfer_snapshot_route */
        XFER_DEST_UNKNOWN,   /* anything else: refused */
};
/* *rel: the path inside the templates or rootfs tree ("" for its top). */
enum xfer_dest xfer_route(const char *clean, const char **rel);
/* Where an entry under backup/snapshots goes, from xfer_route's rel. */
enum xfer_snap_dest {
        XFER_SNAP_TOP,    /* backup/snapshots itself */
        XFER_SNAP_DIR,    /* backup/snapshots/<snap> */
        XFER_SNAP_BACKUP, /* backup/snapshots/<snap>/backup.yaml */
        XFER_SNAP_ROOTFS, /* backup/snapshots/<snap>/rootfs[/...] */
        XFER_SNAP_UNKNOWN,
};
/* name: the snapshot's (XFER_SNAP_NAME_MAX bytes; not checked here),
 * *sub: the path inside its rootfs ("" for its top). */
#define XFER_SNAP_NAME_MAX 64
enum xfer_snap_dest xfer_snapshot_route(const char *rel, char name[XFER_SNAP_NAME_MAX],
                                        const char **sub);
/* backup/index.yaml: a mapping of scalars (other values are skipped, as
 * a later version's keys would be). */
#define XFER_INDEX_VERSION 1
#define XFER_INDEX_MAX 65536
struct xfer_index {
        int version; /* 0: absent */
        char *name, *type, *backend, *pool;
        bool instance_only;
        char **snapshots; /* "snapshots": valid names, no two alike; never NULL after parse */
};
/* At most this many snapshots in a tarball (an import holds a lock fd
 * for each until its commit). */
#define XFER_SNAPSHOTS_MAX 512
char *xfer_index_emit(const struct xfer_index *x);
int xfer_index_parse(const char *yaml, size_t len, struct xfer_index *out, vessel_error **err);
void xfer_index_free(struct xfer_index *x);
/* Whether an xattr of an imported file is kept: not overlayfs's own
 * (trusted.overlay.*, user.overlay.*), which would steer the overlay of
 * an overlay pool's volume. */
bool xfer_xattr_allowed(const char *name);
