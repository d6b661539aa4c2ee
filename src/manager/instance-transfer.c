/* instance-transfer.c: what export and import share, and their pure
 * parts (instance-transfer.h): the tarball's layout, backup/index.yaml,
 * and the mapping of shifted ids back to the instance's own. */
#include "instance-transfer.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "snapshot.h"
#include "util.h"

#define OVERFLOW_ID 65534u

int xfer_compression_parse(const char *s, enum xfer_compression *out)
{
        static const struct {
                const char *name;
                enum xfer_compression c;
        } names[] = {
            {"zstd", XFER_ZSTD}, {"gzip", XFER_GZIP}, {"xz", XFER_XZ}, {"none", XFER_NONE}};

        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (!strcmp(s, names[i].name)) {
                        *out = names[i].c;
                        return 0;
                }
        return -EINVAL;
}

const char *xfer_compression_ext(enum xfer_compression c)
{
        switch (c) {
        case XFER_ZSTD:
                return "tar.zst";
        case XFER_GZIP:
                return "tar.gz";
        case XFER_XZ:
                return "tar.xz";
        case XFER_NONE:
                break;
        }
        return "tar";
}

uint32_t xfer_id_unshift(uint32_t id, uint64_t base, uint64_t size)
{
        if (!size)
                return id;
        if (id < base || id - base >= size)
                return OVERFLOW_ID;
        return (uint32_t)(id - base);
}

uint32_t xfer_id_unshift_layered(uint32_t id, uint64_t base, uint64_t size)
{
        if (size && (id < base || id - base >= size) && id < size)
                return id; /* a lower layer's, never shifted */
        return xfer_id_unshift(id, base, size);
}

static uint32_t unshift(uint32_t id, uint64_t base, uint64_t size, bool layered)
{
        return layered ? xfer_id_unshift_layered(id, base, size) : xfer_id_unshift(id, base, size);
}

int xfer_shift_parse(const char *text, uint64_t *base, uint64_t *size)
{
        unsigned long long b, n;

        *base = *size = 0;
        if (!text || !*text)
                return 0;
        if (sscanf(text, "shifted %llu %llu", &b, &n) == 2) {
                *base = b;
                *size = n;
                return 1;
        }
        return -EBUSY;
}

/* The kernel's POSIX ACL xattr (include/uapi/linux/posix_acl_xattr.h). */
#define ACL_XATTR_VERSION 0x0002
#define ACL_TAG_USER 0x02
#define ACL_TAG_GROUP 0x08

struct acl_xattr_entry {
        uint16_t tag, perm;
        uint32_t id;
};

int xfer_acl_unshift(void *value, size_t len, uint64_t base, uint64_t size)
{
        return xfer_acl_unshift_ex(value, len, base, size, false);
}

int xfer_acl_unshift_ex(void *value, size_t len, uint64_t base, uint64_t size, bool layered)
{
        unsigned char *p = value;
        uint32_t version;

        if (len < 4 || (len - 4) % sizeof(struct acl_xattr_entry))
                return -EINVAL;
        memcpy(&version, p, 4);
        if (le32toh(version) != ACL_XATTR_VERSION)
                return -EINVAL;
        for (size_t off = 4; off < len; off += sizeof(struct acl_xattr_entry)) {
                struct acl_xattr_entry e;
                memcpy(&e, p + off, sizeof(e));
                uint16_t tag = le16toh(e.tag);
                if (tag != ACL_TAG_USER && tag != ACL_TAG_GROUP)
                        continue;
                e.id = htole32(unshift(le32toh(e.id), base, size, layered));
                memcpy(p + off, &e, sizeof(e));
        }
        return 0;
}

/* include/uapi/linux/capability.h */
#define CAP_REV_MASK 0xFF000000u
#define CAP_REV_2 0x02000000u
#define CAP_REV_3 0x03000000u
#define CAP_SZ_2 20
#define CAP_SZ_3 24

int xfer_cap_unshift(const void *in, size_t len, uint64_t base, uint64_t size, void *out,
                     size_t *out_len)
{
        return xfer_cap_unshift_ex(in, len, base, size, false, out, out_len);
}

int xfer_cap_unshift_ex(const void *in, size_t len, uint64_t base, uint64_t size, bool layered,
                        void *out, size_t *out_len)
{
        uint32_t magic, rootid;

        if (len < 4 || len > XFER_CAP_MAX)
                return -EINVAL;
        memcpy(&magic, in, 4);
        magic = le32toh(magic);
        if ((magic & CAP_REV_MASK) != CAP_REV_3) {
                memcpy(out, in, len);
                *out_len = len;
                return 0;
        }
        if (len != CAP_SZ_3)
                return -EINVAL;
        memcpy(&rootid, (const char *)in + CAP_SZ_2, 4);
        rootid = unshift(le32toh(rootid), base, size, layered);
        memcpy(out, in, len);
        if (rootid == 0) {
                /* What root inside the instance gets for a capability it
                 * sets: a v2 value, valid in every namespace of its. */
                uint32_t m = htole32((magic & ~CAP_REV_MASK) | CAP_REV_2);
                memcpy(out, &m, 4);
                *out_len = CAP_SZ_2;
                return 0;
        }
        rootid = htole32(rootid);
        memcpy((char *)out + CAP_SZ_2, &rootid, 4);
        *out_len = CAP_SZ_3;
        return 0;
}

/* "top" or "top/rest": *rel is rest ("" for top itself). */
static bool under(const char *clean, const char *top, const char **rel)
{
        size_t n = strlen(top);

        if (strncmp(clean, top, n) || (clean[n] && clean[n] != '/'))
                return false;
        *rel = clean[n] ? clean + n + 1 : clean + n;
        return true;
}

enum xfer_dest xfer_route(const char *clean, const char **rel)
{
        const char *c;

        *rel = "";
        if (!under(clean, "backup", &c))
                return XFER_DEST_UNKNOWN;
        if (!*c)
                return XFER_DEST_DIR;
        if (!strcmp(c, "index.yaml"))
                return XFER_DEST_INDEX;
        if (under(c, "snapshots", rel))
                return XFER_DEST_SNAPSHOT;
        if (!under(c, "container", &c))
                return XFER_DEST_UNKNOWN;
        if (!*c)
                return XFER_DEST_DIR;
        if (!strcmp(c, "backup.yaml"))
                return XFER_DEST_BACKUP;
        if (!strcmp(c, "metadata.yaml"))
                return XFER_DEST_METADATA;
        if (under(c, "templates", rel))
                return XFER_DEST_TEMPLATES;
        if (under(c, "rootfs", rel))
                return XFER_DEST_ROOTFS;
        return XFER_DEST_UNKNOWN;
}

enum xfer_snap_dest xfer_snapshot_route(const char *rel, char name[XFER_SNAP_NAME_MAX],
                                        const char **sub)
{
        size_t n = strcspn(rel, "/");
        const char *c = rel + n;

        name[0] = '\0';
        *sub = "";
        if (!*rel)
                return XFER_SNAP_TOP;
        if (n >= XFER_SNAP_NAME_MAX)
                return XFER_SNAP_UNKNOWN;
        memcpy(name, rel, n);
        name[n] = '\0';
        if (!*c)
                return XFER_SNAP_DIR;
        c++;
        if (!strcmp(c, "backup.yaml"))
                return XFER_SNAP_BACKUP;
        if (under(c, "rootfs", sub))
                return XFER_SNAP_ROOTFS;
        return XFER_SNAP_UNKNOWN;
}

bool xfer_xattr_allowed(const char *name)
{
        return !str_has_prefix(name, "trusted.overlay.") && !str_has_prefix(name, "user.overlay.");
}

/* ---- backup/index.yaml ---- */

char *xfer_index_emit(const struct xfer_index *x)
{
        _cleanup_free_ char *snaps = xstrdup(x->snapshots && x->snapshots[0] ? "\n" : " []\n");

        /* Snapshot names: letters, digits, '-', '_' and '.', quoted so
         * that none reads back as a number. */
        for (char **n = x->snapshots; n && *n; n++) {
                char *more = xasprintf("%s- \"%s\"\n", snaps, *n);
                free(snaps);
                snaps = more;
        }
        /* Every value is a checked name (instance, pool, driver): plain
         * scalars. */
        return xasprintf("# a vessel instance backup (docs/store.md, \"Export and import\")\n"
                         "version: %d\n"
                         "name: %s\n"
                         "type: %s\n"
                         "backend: %s\n"
                         "pool: %s\n"
                         "optimized: false\n"
                         "instance_only: %s\n"
                         "snapshots:%s",
                         x->version, x->name, x->type, x->backend, x->pool,
                         x->instance_only ? "true" : "false", snaps);
}

void xfer_index_free(struct xfer_index *x)
{
        free(x->name);
        free(x->type);
        free(x->backend);
        free(x->pool);
        strv_free(x->snapshots);
        *x = (struct xfer_index){0};
}

static const char *scalar(yaml_node_t *n)
{
        return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

static bool strv_has(char *const *v, const char *s)
{
        for (; v && *v; v++)
                if (!strcmp(*v, s))
                        return true;
        return false;
}

/* "snapshots": a sequence of names (an empty scalar: none). */
static int index_snapshots(yaml_document_t *doc, yaml_node_t *n, struct xfer_index *out,
                           vessel_error **err)
{
        strv_free(out->snapshots);
        out->snapshots = xmalloc0(sizeof(char *));
        if (n && n->type == YAML_SCALAR_NODE && !n->data.scalar.length)
                return 0;
        if (!n || n->type != YAML_SEQUENCE_NODE)
                return vessel_error_msg(err, EINVAL,
                                        "backup/index.yaml: snapshots: not a list of names");
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top;
             it++) {
                const char *name = scalar(yaml_document_get_node(doc, *it));
                if (!name || !snapshot_name_valid(name))
                        return vessel_error_msg(err, EINVAL,
                                                "backup/index.yaml: snapshots: \"%s\": not a "
                                                "snapshot name",
                                                name ? name : "(not a name)");
                if (strv_has(out->snapshots, name))
                        return vessel_error_msg(err, EINVAL,
                                                "backup/index.yaml: snapshots: \"%s\" listed "
                                                "twice",
                                                name);
                if (strv_len(out->snapshots) >= XFER_SNAPSHOTS_MAX)
                        return vessel_error_msg(err, E2BIG,
                                                "backup/index.yaml: more than %d snapshots",
                                                XFER_SNAPSHOTS_MAX);
                out->snapshots = strv_append(out->snapshots, name);
        }
        return 0;
}

int xfer_index_parse(const char *yaml, size_t len, struct xfer_index *out, vessel_error **err)
{
        yaml_parser_t parser;
        yaml_document_t doc;
        yaml_node_t *root;
        int r = 0;

        *out = (struct xfer_index){0};
        if (len > XFER_INDEX_MAX)
                return vessel_error_msg(err, EFBIG, "backup/index.yaml: larger than %d bytes",
                                        XFER_INDEX_MAX);
        yaml_parser_initialize(&parser);
        yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
        if (!yaml_parser_load(&parser, &doc)) {
                r = vessel_error_msg(err, EINVAL, "backup/index.yaml: line %zu: %s",
                                     parser.problem_mark.line + 1,
                                     parser.problem ? parser.problem : "not YAML");
                yaml_parser_delete(&parser);
                return r;
        }
        root = yaml_document_get_root_node(&doc);
        if (!root || root->type != YAML_MAPPING_NODE) {
                r = vessel_error_msg(err, EINVAL, "backup/index.yaml: not a mapping");
                goto out;
        }
        for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
             p++) {
                const char *k = scalar(yaml_document_get_node(&doc, p->key));
                yaml_node_t *vn = yaml_document_get_node(&doc, p->value);
                const char *v = scalar(vn);
                char **slot = NULL;
                if (k && !strcmp(k, "snapshots")) {
                        if ((r = index_snapshots(&doc, vn, out, err)) < 0)
                                goto out;
                        continue;
                }
                if (!k || !v)
                        continue;
                if (!strcmp(k, "version")) {
                        char *end;
                        long n = strtol(v, &end, 10);
                        if (*end || end == v || n < 1 || n > 1000) {
                                r = vessel_error_msg(err, EINVAL,
                                                     "backup/index.yaml: version \"%s\": not a "
                                                     "version number",
                                                     v);
                                goto out;
                        }
                        out->version = (int)n;
                } else if (!strcmp(k, "instance_only")) {
                        out->instance_only = !strcmp(v, "true");
                } else if (!strcmp(k, "name")) {
                        slot = &out->name;
                } else if (!strcmp(k, "type")) {
                        slot = &out->type;
                } else if (!strcmp(k, "backend")) {
                        slot = &out->backend;
                } else if (!strcmp(k, "pool")) {
                        slot = &out->pool;
                }
                if (slot) {
                        free(*slot);
                        *slot = xstrdup(v);
                }
        }
out:
        yaml_document_delete(&doc);
        yaml_parser_delete(&parser);
        if (r == 0 && !out->snapshots)
                out->snapshots = xmalloc0(sizeof(char *));
        if (r < 0)
                xfer_index_free(out);
        return r;
}
