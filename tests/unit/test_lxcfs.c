/* lxcfs.c's pure parts: finding its mount in mountinfo, and the binds an
 * instance gets from the files an lxcfs provides. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "lxcfs.h"
#include "util.h"

static void test_mountinfo(void)
{
        static const char mi[] =
            "22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
            "46 27 0:42 / /var/lib/lxcfs rw,nosuid,nodev,relatime - fuse.lxcfs lxcfs "
            "rw,user_id=0,group_id=0,allow_other\n"
            "47 27 0:43 / /srv/other\\040dir rw,nosuid shared:7 master:3 - fuse.lxcfs lxcfs rw\n"
            "48 27 0:44 / /mnt/squash ro - fuse.squashfuse squashfuse ro\n"
            "49 27 0:45 / /mnt/fake\\040-\\040fuse.lxcfs rw - tmpfs tmpfs rw";

        CHECK(lxcfs_mountinfo_has(mi, "/var/lib/lxcfs"));
        CHECK(!lxcfs_mountinfo_has(mi, "/var/lib"));
        CHECK(!lxcfs_mountinfo_has(mi, "/var/lib/lxcfs/proc"));
        /* Octal escapes, optional fields before the separator. */
        CHECK(lxcfs_mountinfo_has(mi, "/srv/other dir"));
        CHECK(!lxcfs_mountinfo_has(mi, "/srv/other\\040dir"));
        /* Another FUSE file system, or a tmpfs whose name looks like one. */
        CHECK(!lxcfs_mountinfo_has(mi, "/mnt/squash"));
        CHECK(!lxcfs_mountinfo_has(mi, "/mnt/fake - fuse.lxcfs"));
        /* A last line without its newline, empty and broken text. */
        CHECK(!lxcfs_mountinfo_has("", "/var/lib/lxcfs"));
        CHECK(!lxcfs_mountinfo_has("46 27 0:42 / /var/lib/lxcfs rw", "/var/lib/lxcfs"));
        CHECK(!lxcfs_mountinfo_has("46 27", "/var/lib/lxcfs"));
        CHECK(lxcfs_mountinfo_has("1 2 0:1 / /x rw - fuse.lxcfs lxcfs rw", "/x"));
        CHECK(!lxcfs_mountinfo_has("1 2 0:1 / /x rw - fuse.lxcfsx lxcfs rw", "/x"));
        CHECK_STR(lxcfs_state_name(LXCFS_DEAD), "dead");
}

static void touch(const char *dir, const char *rel)
{
        _cleanup_free_ char *p = xasprintf("%s/%s", dir, rel);
        FILE *f = fopen(p, "w");

        CHECK(f);
        if (f)
                fclose(f);
}

static void test_binds(void)
{
        char dir[] = "/tmp/test-lxcfs-XXXXXX";
        struct lxcfs_bind b[LXCFS_BINDS_MAX];
        size_t n;

        CHECK(mkdtemp(dir));
        /* Nothing there: no binds. */
        CHECK(lxcfs_binds(dir, b, ARRAY_SIZE(b)) == 0);
        _cleanup_free_ char *proc = xasprintf("%s/proc", dir);
        _cleanup_free_ char *cpu = xasprintf("%s/sys/devices/system/cpu", dir);
        CHECK(mkdir_p(proc, 0755, NULL) == 0 && mkdir_p(cpu, 0755, NULL) == 0);
        touch(dir, "proc/meminfo");
        touch(dir, "proc/uptime");
        touch(dir, "proc/cgroups"); /* not one lxcfs virtualizes */
        /* A directory where a file belongs is left out. */
        _cleanup_free_ char *stat = xasprintf("%s/proc/stat", dir);
        CHECK(mkdir(stat, 0755) == 0);
        n = lxcfs_binds(dir, b, ARRAY_SIZE(b));
        CHECK(n == 3);
        _cleanup_free_ char *src0 = xasprintf("%s/proc/meminfo", dir);
        CHECK_STR(b[0].source, src0);
        CHECK_STR(b[0].destination, "/proc/meminfo");
        CHECK(!b[0].directory);
        CHECK_STR(b[1].destination, "/proc/uptime");
        CHECK_STR(b[2].destination, "/sys/devices/system/cpu");
        CHECK(b[2].directory);
        /* At most max. */
        CHECK(lxcfs_binds(dir, b, 1) == 1);

        _cleanup_free_ char *cmd = xasprintf("rm -rf '%s'", dir);
        CHECK(system(cmd) == 0);
}

static void test_dir(void)
{
        unsetenv("VESSEL_LXCFS_DIR");
        CHECK_STR(lxcfs_dir(), LXCFS_DIR_DEFAULT);
        setenv("VESSEL_LXCFS_DIR", "/tmp/elsewhere", 1);
        CHECK_STR(lxcfs_dir(), "/tmp/elsewhere");
        setenv("VESSEL_LXCFS_DIR", "", 1);
        CHECK_STR(lxcfs_dir(), LXCFS_DIR_DEFAULT);
        unsetenv("VESSEL_LXCFS_DIR");
        /* Not mounted there: absent, without a probe. */
        CHECK(lxcfs_probe("/nonexistent/lxcfs", 100) == LXCFS_ABSENT);
}

int main(void)
{
        test_mountinfo();
        test_binds();
        test_dir();
        return check_report("test_lxcfs");
}
