/* Storage pools' pure parts: sizes, pool names, the drivers' table and
 * the paths of volumes and of the rootfs links. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "storage.h"
#include "util.h"

static void test_sizes(void)
{
        uint64_t v = 0;

        CHECK(storage_size_parse("300MiB", &v, NULL) == 0 && v == 300ULL << 20);
        CHECK(storage_size_parse("1G", &v, NULL) == 0 && v == 1ULL << 30);
        CHECK(storage_size_parse("2GB", &v, NULL) == 0 && v == 2000000000ULL);
        CHECK(storage_size_parse("4096", &v, NULL) == 0 && v == 4096);
        CHECK(storage_size_parse("1TiB", &v, NULL) == 0 && v == 1ULL << 40);
        CHECK(storage_size_parse("", &v, NULL) < 0);
        CHECK(storage_size_parse("MiB", &v, NULL) < 0);
        CHECK(storage_size_parse("-1MiB", &v, NULL) < 0);
        CHECK(storage_size_parse("1.5GiB", &v, NULL) < 0);
        CHECK(storage_size_parse("10 MiB", &v, NULL) < 0);
        CHECK(storage_size_parse("1PiB", &v, NULL) < 0);
        /* 2^64 and past: refused, not wrapped. */
        CHECK(storage_size_parse("18446744073709551616", &v, NULL) < 0);
        CHECK(storage_size_parse("17179869184GiB", &v, NULL) < 0);
        vessel_error *err = NULL;
        CHECK(storage_size_parse("lots", &v, &err) < 0 && strstr(err->msg, "\"lots\""));
        vessel_error_free(&err);
}

static void test_names(void)
{
        CHECK(storage_pool_name_valid("default"));
        CHECK(storage_pool_name_valid("fast_ssd-2.old"));
        CHECK(!storage_pool_name_valid(""));
        CHECK(!storage_pool_name_valid("-x"));
        CHECK(!storage_pool_name_valid(".hidden"));
        CHECK(!storage_pool_name_valid("a/b"));
        CHECK(!storage_pool_name_valid("a b"));
        CHECK(!storage_pool_name_valid("ünï"));
        char long_name[65];
        memset(long_name, 'a', 64);
        long_name[64] = 0;
        CHECK(!storage_pool_name_valid(long_name));
        long_name[63] = 0;
        CHECK(storage_pool_name_valid(long_name));
}

static void test_drivers_and_paths(void)
{
        CHECK(storage_driver_find("dir") == &storage_dir_ops);
        CHECK(storage_driver_find("overlay") == &storage_overlay_ops);
        CHECK(storage_driver_find("btrfs") == &storage_btrfs_ops);
        CHECK(storage_driver_find("zfs") == NULL);
        CHECK(storage_dir_ops.rootless && !storage_overlay_ops.rootless);
        CHECK(storage_btrfs_ops.volume_quota && !storage_dir_ops.volume_quota &&
              !storage_overlay_ops.volume_quota);
        struct storage_pool p = {
            .name = "p1", .path = "/s/storage/p1", .ops = &storage_overlay_ops};
        _cleanup_free_ char *vol = storage_volume_path("containers", "0123456789ab");
        CHECK(!strcmp(vol, "containers/0123456789ab"));
        _cleanup_free_ char *link = storage_rootfs_link(&p, vol);
        CHECK(!strcmp(link, "../../storage/p1/containers/0123456789ab/rootfs"));
        _cleanup_free_ char *root = storage_volume_rootfs(&p, vol);
        CHECK(!strcmp(root, "/s/storage/p1/containers/0123456789ab/rootfs"));
        p.ops = &storage_btrfs_ops;
        _cleanup_free_ char *blink = storage_rootfs_link(&p, vol);
        CHECK(!strcmp(blink, "../../storage/p1/containers/0123456789ab"));
        char name[13];
        CHECK(storage_volume_name(name, NULL) == 0 && strlen(name) == 12 &&
              strspn(name, "0123456789abcdef") == 12);
}

int main(void)
{
        test_sizes();
        test_names();
        test_drivers_and_paths();
        return check_report("test_storage");
}
