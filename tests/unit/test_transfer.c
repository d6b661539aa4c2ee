/* test_transfer.c: the pure parts of export and import
 * (instance-transfer.h) and of the CLI's progress bar (progress.c). */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "extract.h"
#include "instance-transfer.h"
#include "vesselctl.h"

static void test_ids(void)
{
        CHECK(xfer_id_unshift(1000, 0, 0) == 1000); /* not shifted */
        CHECK(xfer_id_unshift(1065536, 1065536, 65536) == 0);
        CHECK(xfer_id_unshift(1065536 + 33, 1065536, 65536) == 33);
        CHECK(xfer_id_unshift(1065536 + 65535, 1065536, 65536) == 65535);
        /* outside the range: what the instance sees, the overflow id */
        CHECK(xfer_id_unshift(1065536 + 65536, 1065536, 65536) == 65534);
        CHECK(xfer_id_unshift(0, 1065536, 65536) == 65534);
        CHECK(xfer_id_unshift(12, 1065536, 65536) == 65534);
}

static void put16(unsigned char *p, uint16_t v)
{
        v = htole16(v);
        memcpy(p, &v, 2);
}
static void put32(unsigned char *p, uint32_t v)
{
        v = htole32(v);
        memcpy(p, &v, 4);
}
static uint32_t get32(const unsigned char *p)
{
        uint32_t v;
        memcpy(&v, p, 4);
        return le32toh(v);
}

static void test_acl(void)
{
        /* user::rw- user:B+5:r-- group::r-- group:B+7:rw- mask::rw- other::--- */
        unsigned char acl[4 + 6 * 8];
        const uint16_t tags[] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20};
        const uint32_t ids[] = {UINT32_MAX, 2000005, UINT32_MAX, 2000007, UINT32_MAX, UINT32_MAX};

        put32(acl, 2);
        for (int i = 0; i < 6; i++) {
                put16(acl + 4 + i * 8, tags[i]);
                put16(acl + 6 + i * 8, 6);
                put32(acl + 8 + i * 8, ids[i]);
        }
        CHECK(xfer_acl_unshift(acl, sizeof(acl), 2000000, 65536) == 0);
        CHECK(get32(acl + 8 + 1 * 8) == 5);
        CHECK(get32(acl + 8 + 3 * 8) == 7);
        /* the owner's, group's, mask's and other's entries carry no id */
        CHECK(get32(acl + 8) == UINT32_MAX && get32(acl + 8 + 5 * 8) == UINT32_MAX);
        /* unshifted: untouched */
        CHECK(xfer_acl_unshift(acl, sizeof(acl), 0, 0) == 0 && get32(acl + 8 + 8) == 5);
        /* malformed: a bad version, a cut entry, too short */
        put32(acl, 1);
        CHECK(xfer_acl_unshift(acl, sizeof(acl), 2000000, 65536) == -EINVAL);
        put32(acl, 2);
        CHECK(xfer_acl_unshift(acl, sizeof(acl) - 3, 2000000, 65536) == -EINVAL);
        CHECK(xfer_acl_unshift(acl, 2, 2000000, 65536) == -EINVAL);
}

static void test_cap(void)
{
        unsigned char v3[24], out[24], v2[20];
        size_t len = 0;

        memset(v3, 0, sizeof(v3));
        put32(v3, 0x03000001);   /* v3, effective */
        put32(v3 + 4, 1u << 13); /* cap_net_raw permitted */
        put32(v3 + 20, 3000000);
        CHECK(xfer_cap_unshift(v3, 24, 3000000, 65536, out, &len) == 0);
        CHECK(len == 20 && get32(out) == 0x02000001 && get32(out + 4) == (1u << 13));
        /* a root id other than the range's base stays v3, mapped */
        put32(v3 + 20, 3000010);
        CHECK(xfer_cap_unshift(v3, 24, 3000000, 65536, out, &len) == 0);
        CHECK(len == 24 && get32(out) == 0x03000001 && get32(out + 20) == 10);
        /* v2 as it is */
        memset(v2, 0, sizeof(v2));
        put32(v2, 0x02000001);
        CHECK(xfer_cap_unshift(v2, 20, 3000000, 65536, out, &len) == 0);
        CHECK(len == 20 && !memcmp(out, v2, 20));
        /* a v3 of the wrong size */
        CHECK(xfer_cap_unshift(v3, 22, 3000000, 65536, out, &len) == -EINVAL);
        CHECK(xfer_cap_unshift(v3, 2, 3000000, 65536, out, &len) == -EINVAL);
        unsigned char long_one[40] = {0};
        CHECK(xfer_cap_unshift(long_one, sizeof(long_one), 3000000, 65536, out, &len) == -EINVAL);
}

static void test_route(void)
{
        const char *rel;

        CHECK(xfer_route("backup", &rel) == XFER_DEST_DIR);
        CHECK(xfer_route("backup/container", &rel) == XFER_DEST_DIR);
        CHECK(xfer_route("backup/index.yaml", &rel) == XFER_DEST_INDEX);
        CHECK(xfer_route("backup/container/backup.yaml", &rel) == XFER_DEST_BACKUP);
        CHECK(xfer_route("backup/container/metadata.yaml", &rel) == XFER_DEST_METADATA);
        CHECK(xfer_route("backup/container/rootfs", &rel) == XFER_DEST_ROOTFS && !*rel);
        CHECK(xfer_route("backup/container/rootfs/etc/passwd", &rel) == XFER_DEST_ROOTFS);
        CHECK_STR(rel, "etc/passwd");
        CHECK(xfer_route("backup/container/templates/hostname.tpl", &rel) == XFER_DEST_TEMPLATES);
        CHECK_STR(rel, "hostname.tpl");
        CHECK(xfer_route("backup/snapshots/snap0/rootfs/x", &rel) == XFER_DEST_SNAPSHOT);
        /* prefixes that only look alike, and what is not a backup */
        CHECK(xfer_route("backup/container/rootfsx/a", &rel) == XFER_DEST_UNKNOWN);
        CHECK(xfer_route("backupx/index.yaml", &rel) == XFER_DEST_UNKNOWN);
        CHECK(xfer_route("rootfs/etc/passwd", &rel) == XFER_DEST_UNKNOWN);
        CHECK(xfer_route("metadata.yaml", &rel) == XFER_DEST_UNKNOWN);
        CHECK(xfer_route("backup/container/other", &rel) == XFER_DEST_UNKNOWN);
}

/* The names route sees come from path_clean, which refuses what would
 * leave the tree. */
static void test_paths(void)
{
        char *c = NULL;

        CHECK(path_clean("./backup/container/rootfs/./etc//passwd", &c) == 0);
        CHECK_STR(c, "backup/container/rootfs/etc/passwd");
        free(c);
        CHECK(path_clean("/etc/passwd", &c) == -EPERM);
        CHECK(path_clean("backup/container/rootfs/../../../etc", &c) == -EINVAL);
        CHECK(path_clean("backup/container/rootfs/..", &c) == -EINVAL);
        CHECK(path_clean("", &c) == -EINVAL);
}

static void test_xattrs(void)
{
        CHECK(xfer_xattr_allowed("user.foo"));
        CHECK(xfer_xattr_allowed("security.capability"));
        CHECK(xfer_xattr_allowed("system.posix_acl_access"));
        CHECK(!xfer_xattr_allowed("trusted.overlay.redirect"));
        CHECK(!xfer_xattr_allowed("user.overlay.opaque"));
}

static void test_index(void)
{
        struct xfer_index x = {.version = 1,
                               .name = "web",
                               .type = "container",
                               .backend = "overlay",
                               .pool = "p",
                               .instance_only = true},
                          y;
        char *text = xfer_index_emit(&x);

        CHECK(xfer_index_parse(text, strlen(text), &y, NULL) == 0);
        CHECK(y.version == 1 && y.instance_only);
        CHECK_STR(y.name, "web");
        CHECK_STR(y.backend, "overlay");
        CHECK_STR(y.pool, "p");
        xfer_index_free(&y);
        free(text);
        /* Incus's has no version; later keys and lists are skipped */
        const char *incus = "name: c1\nbackend: dir\npool: default\nsnapshots:\n- s0\n";
        CHECK(xfer_index_parse(incus, strlen(incus), &y, NULL) == 0 && y.version == 0);
        xfer_index_free(&y);
        CHECK(xfer_index_parse("version: x\n", 11, &y, NULL) == -EINVAL);
        CHECK(xfer_index_parse("- a\n", 4, &y, NULL) == -EINVAL);
        CHECK(xfer_index_parse("a: [\n", 5, &y, NULL) == -EINVAL);
}

/* Snapshots: routes, index list, shift records, overlay layers' ids. */
static void test_snapshots(void)
{
        char name[XFER_SNAP_NAME_MAX], *names[] = {"s1", "1.0", "true", NULL};
        const char *sub, *rel;
        struct xfer_index x = {.version = 1,
                               .name = "c",
                               .type = "container",
                               .backend = "dir",
                               .pool = "p",
                               .snapshots = names},
                          y;
        uint64_t b, n;

        CHECK(xfer_route("backup/snapshots", &rel) == XFER_DEST_SNAPSHOT);
        CHECK(xfer_snapshot_route(rel, name, &sub) == XFER_SNAP_TOP);
        CHECK(xfer_snapshot_route("s1", name, &sub) == XFER_SNAP_DIR);
        CHECK(!strcmp(name, "s1"));
        CHECK(xfer_snapshot_route("s1/backup.yaml", name, &sub) == XFER_SNAP_BACKUP);
        CHECK(xfer_snapshot_route("s1/rootfs", name, &sub) == XFER_SNAP_ROOTFS && !*sub);
        CHECK(xfer_snapshot_route("s1/rootfs/etc/x", name, &sub) == XFER_SNAP_ROOTFS);
        CHECK_STR(sub, "etc/x");
        CHECK(xfer_snapshot_route("s1/rootfsx", name, &sub) == XFER_SNAP_UNKNOWN);
        CHECK(xfer_snapshot_route("s1/metadata.yaml", name, &sub) == XFER_SNAP_UNKNOWN);
        char longname[100];
        memset(longname, 'a', 80);
        strcpy(longname + 80, "/rootfs");
        CHECK(xfer_snapshot_route(longname, name, &sub) == XFER_SNAP_UNKNOWN);

        char *text = xfer_index_emit(&x);
        CHECK(xfer_index_parse(text, strlen(text), &y, NULL) == 0);
        CHECK(y.snapshots[0] && y.snapshots[1] && y.snapshots[2] && !y.snapshots[3]);
        CHECK_STR(y.snapshots[1], "1.0");
        CHECK_STR(y.snapshots[2], "true");
        xfer_index_free(&y);
        free(text);
        x.snapshots = NULL;
        text = xfer_index_emit(&x);
        CHECK(strstr(text, "snapshots: []\n") != NULL);
        CHECK(xfer_index_parse(text, strlen(text), &y, NULL) == 0 && y.snapshots &&
              !y.snapshots[0]);
        xfer_index_free(&y);
        free(text);
        const char *twice = "version: 1\nsnapshots:\n- a\n- a\n";
        CHECK(xfer_index_parse(twice, strlen(twice), &y, NULL) == -EINVAL);
        const char *bad = "version: 1\nsnapshots:\n- ../x\n";
        CHECK(xfer_index_parse(bad, strlen(bad), &y, NULL) == -EINVAL);
        const char *map = "version: 1\nsnapshots: {a: b}\n";
        CHECK(xfer_index_parse(map, strlen(map), &y, NULL) == -EINVAL);

        CHECK(xfer_shift_parse(NULL, &b, &n) == 0 && n == 0);
        CHECK(xfer_shift_parse("shifted 1065536 65536\n", &b, &n) == 1);
        CHECK(b == 1065536 && n == 65536);
        CHECK(xfer_shift_parse("shifting 0 1065536 65536\n", &b, &n) == -EBUSY);

        /* An overlay snapshot's lower layers keep the instance's ids. */
        CHECK(xfer_id_unshift_layered(1065536 + 7, 1065536, 65536) == 7);
        CHECK(xfer_id_unshift_layered(7, 1065536, 65536) == 7);
        CHECK(xfer_id_unshift_layered(70000, 1065536, 65536) == 65534);
        CHECK(xfer_id_unshift_layered(7, 0, 0) == 7);
}

static void test_compression(void)
{
        enum xfer_compression c;

        CHECK(xfer_compression_parse("zstd", &c) == 0 && c == XFER_ZSTD);
        CHECK_STR(xfer_compression_ext(c), "tar.zst");
        CHECK(xfer_compression_parse("gzip", &c) == 0 && c == XFER_GZIP);
        CHECK_STR(xfer_compression_ext(c), "tar.gz");
        CHECK(xfer_compression_parse("xz", &c) == 0 && c == XFER_XZ);
        CHECK_STR(xfer_compression_ext(c), "tar.xz");
        CHECK(xfer_compression_parse("none", &c) == 0 && c == XFER_NONE);
        CHECK_STR(xfer_compression_ext(c), "tar");
        CHECK(xfer_compression_parse("bzip2", &c) == -EINVAL);
}

static void test_progress(void)
{
        char *s;

        s = xfer_size(512);
        CHECK_STR(s, "512B");
        free(s);
        s = xfer_size(96 << 20);
        CHECK_STR(s, "96.0MiB");
        free(s);
        s = xfer_size(3ull << 30 | 512ull << 20);
        CHECK_STR(s, "3.5GiB");
        free(s);
        s = xfer_duration(65);
        CHECK_STR(s, "1:05");
        free(s);
        s = xfer_duration(3725);
        CHECK_STR(s, "1:02:05");
        free(s);
        /* half of 200 MiB in 2 s: 50 MiB/s, 2 s left */
        s = xfer_bar_format("Exporting web", 100 << 20, 200 << 20, 2.0, 100);
        CHECK(strstr(s, "Exporting web [") == s);
        CHECK(strstr(s, "]  50%  100.0MiB/200.0MiB  50.0MiB/s  0:02 left"));
        CHECK(strlen(s) <= 99);
        free(s);
        /* no total (a pipe): bytes and rate only */
        s = xfer_bar_format("Importing", 10 << 20, 0, 1.0, 80);
        CHECK_STR(s, "Importing  10.0MiB  10.0MiB/s");
        free(s);
        /* a narrow terminal: no bar; nothing done yet: no rate */
        s = xfer_bar_format("Exporting web", 0, 100, 0, 30);
        CHECK(!strchr(s, '[') && strstr(s, "0%") && strstr(s, "-/s") && strstr(s, "-:-- left"));
        free(s);
        /* a tree that grew past its total stays at 100 % */
        s = xfer_bar_format("x", 300, 200, 1.0, 80);
        CHECK(strstr(s, "100%"));
        free(s);
}

int main(void)
{
        test_ids();
        test_acl();
        test_cap();
        test_route();
        test_paths();
        test_xattrs();
        test_index();
        test_compression();
        test_snapshots();
        test_progress();
        return check_report("test_transfer");
}
