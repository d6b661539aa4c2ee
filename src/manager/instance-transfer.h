/* instance-transfer.h: an instance as a tarball and back (`vesselctl
 * export` and `import`; docs/store.md, "Export and import").
 *
 *   backup/index.yaml              what the tarball holds (first entry)
 *   backup/container/backup.yaml   the instance's configuration, its
 *                                  profiles in full (instance-backup.c)
 *   backup/container/metadata.yaml its image's, when it has one
 *   backup/container/templates/    likewise
 *   backup/container/rootfs/       its root file system
 *   backup/snapshots/<snap>/       reserved for snapshots (none yet)
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
 * remove. */
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
        bool instance_only; /* accepted: no snapshots are exported yet */
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
        char *name;             /* the instance made (allocated) */
        char **profiles_made;   /* profiles created from the backup's copies */
        size_t skipped_entries; /* snapshots (not imported yet) */
        uint64_t bytes_in;      /* bytes of the tarball read */
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
/* The same on a POSIX ACL xattr's value (the kernel's form: a version,
 * then tag, perm, id entries), in place.  -EINVAL when malformed. */
int xfer_acl_unshift(void *value, size_t len, uint64_t base, uint64_t size);
/* security.capability: a v3 value's root id mapped back; a v3 whose
 * root id becomes 0 is written as v2 (what setting it inside the
 * instance gives).  out holds XFER_CAP_MAX bytes, *out_len <= len;
 * -EINVAL when malformed (no capability is longer than a v3's). */
#define XFER_CAP_MAX 24
int xfer_cap_unshift(const void *in, size_t len, uint64_t base, uint64_t size, void *out,
                     size_t *out_len);

/* Where an entry of an instance tarball goes (its cleaned name). */
enum xfer_dest {
        XFER_DEST_DIR,       /* backup/, backup/container/: nothing to make */
        XFER_DEST_INDEX,     /* backup/index.yaml */
        XFER_DEST_BACKUP,    /* backup/container/backup.yaml */
        XFER_DEST_METADATA,  /* backup/container/metadata.yaml */
        XFER_DEST_TEMPLATES, /* backup/container/templates[/...] */
        XFER_DEST_ROOTFS,    /* backup/container/rootfs[/...] */
        XFER_DEST_SNAPSHOT,  /* backup/snapshots/...: not imported yet */
        XFER_DEST_UNKNOWN,   /* anything else: refused */
};
/* *rel: the path inside the templates or rootfs tree ("" for its top). */
enum xfer_dest xfer_route(const char *clean, const char **rel);
/* backup/index.yaml: a mapping of scalars (other values are skipped, as
 * a later version's keys would be). */
#define XFER_INDEX_VERSION 1
#define XFER_INDEX_MAX 65536
struct xfer_index {
        int version; /* 0: absent */
        char *name, *type, *backend, *pool;
        bool instance_only;
};
char *xfer_index_emit(const struct xfer_index *x);
int xfer_index_parse(const char *yaml, size_t len, struct xfer_index *out, vessel_error **err);
void xfer_index_free(struct xfer_index *x);
/* Whether an xattr of an imported file is kept: not overlayfs's own
 * (trusted.overlay.*, user.overlay.*), which would steer the overlay of
 * an overlay pool's volume. */
bool xfer_xattr_allowed(const char *name);
