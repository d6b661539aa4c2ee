/* libFuzzer target for what an import parses itself (the tarball's
 * entries are libarchive's): backup/index.yaml, an entry name cleaned and
 * routed, and the ACL and capability xattr values an export maps.  Any
 * input parses or fails with a message, never crashes, and a routed name
 * never leaves its tree. */
#include "extract.h"
#include "instance-transfer.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ENSURE(cond)                                                                               \
        do {                                                                                       \
                if (!(cond))                                                                       \
                        abort();                                                                   \
        } while (0)

/* A ".." component anywhere. */
static int has_dotdot(const char *p)
{
        for (const char *c = p; (c = strstr(c, "..")); c += 2)
                if ((c == p || c[-1] == '/') && (c[2] == '\0' || c[2] == '/'))
                        return 1;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        char *text = malloc(size + 1), *clean = NULL;
        struct xfer_index idx;
        vessel_error *err = NULL;
        unsigned char out[XFER_CAP_MAX];
        size_t out_len;
        const char *rel;

        memcpy(text, data, size);
        text[size] = '\0';
        if (xfer_index_parse(text, size, &idx, &err) == 0)
                xfer_index_free(&idx);
        else
                ENSURE(err && err->msg);
        vessel_error_free(&err);
        if (strlen(text) == size && path_clean(text, &clean) == 0) {
                enum xfer_dest d = xfer_route(clean, &rel);
                ENSURE(clean[0] != '/' && !has_dotdot(clean));
                if (d == XFER_DEST_ROOTFS || d == XFER_DEST_TEMPLATES)
                        ENSURE(rel >= clean && rel <= clean + strlen(clean) && rel[0] != '/');
                free(clean);
        }
        void *copy = malloc(size ? size : 1);
        memcpy(copy, data, size);
        xfer_acl_unshift(copy, size, 100000, 65536);
        if (xfer_cap_unshift(data, size, 100000, 65536, out, &out_len) == 0)
                ENSURE(out_len <= size);
        free(copy);
        free(text);
        return 0;
}
