/* mknod-request: what a notified mknod asks for, and the caller's
 * credentials (pure). */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#include "check.h"
#include "mknod-request.h"

static void test_decode(void)
{
        struct mknod_call c;
        uint64_t a[6] = {0};

        /* x86_64 mknod("/tmp/null", S_IFCHR|0666, makedev(1, 3)) */
        a[0] = 0x7ffd0000, a[1] = S_IFCHR | 0666, a[2] = makedev(1, 3);
        CHECK(mknod_call_decode(AUDIT_ARCH_X86_64, 133, a, &c) == 0);
        CHECK(c.dirfd == AT_FDCWD && c.path_addr == 0x7ffd0000);
        CHECK(c.mode == (S_IFCHR | 0666) && c.major == 1 && c.minor == 3);
        CHECK(mknod_call_kind(&c) == MKNOD_DEVICE);
        /* mknodat(AT_FDCWD as a 32-bit int with junk above, ...) */
        a[0] = 0xdeadbeef00000000ull | (uint32_t)AT_FDCWD, a[1] = 0x1000;
        a[2] = 0xffff0000u | S_IFBLK | 0600, a[3] = makedev(8, 0);
        CHECK(mknod_call_decode(AUDIT_ARCH_X86_64, 259, a, &c) == 0);
        CHECK(c.dirfd == AT_FDCWD && c.path_addr == 0x1000);
        CHECK(c.mode == (S_IFBLK | 0600)); /* umode_t: 16 bits */
        CHECK(c.major == 8 && c.minor == 0 && mknod_call_kind(&c) == MKNOD_DEVICE);
        /* large numbers: major 259, minor 300 000 */
        a[0] = 5, a[3] = makedev(259, 300000);
        CHECK(mknod_call_decode(AUDIT_ARCH_X86_64, 259, a, &c) == 0);
        CHECK(c.dirfd == 5 && c.major == 259 && c.minor == 300000);
        /* x32 */
        CHECK(mknod_call_decode(AUDIT_ARCH_X86_64, 259 | 0x40000000, a, &c) == 0);
        /* i386: 32-bit arguments */
        a[0] = 0xffffffff00001234ull, a[1] = S_IFCHR, a[2] = 0;
        CHECK(mknod_call_decode(AUDIT_ARCH_I386, 14, a, &c) == 0);
        CHECK(c.path_addr == 0x1234 && mknod_call_kind(&c) == MKNOD_WHITEOUT);
        CHECK(mknod_call_decode(AUDIT_ARCH_I386, 297, a, &c) == 0);
        /* aarch64 has no mknod, only mknodat (33) */
        CHECK(mknod_call_decode(AUDIT_ARCH_AARCH64, 33, a, &c) == 0);
        CHECK(mknod_call_decode(AUDIT_ARCH_AARCH64, 14, a, &c) == -ENOSYS);
        /* other syscalls and architectures: not ours */
        CHECK(mknod_call_decode(AUDIT_ARCH_X86_64, 83, a, &c) == -ENOSYS);
        CHECK(mknod_call_decode(AUDIT_ARCH_PPC64LE, 259, a, &c) == -ENOSYS);
}

static void test_kind(void)
{
        struct mknod_call c = {.mode = S_IFIFO | 0644};

        CHECK(mknod_call_kind(&c) == MKNOD_KERNEL);
        c.mode = S_IFSOCK;
        CHECK(mknod_call_kind(&c) == MKNOD_KERNEL);
        c.mode = 0644; /* no type: a regular file */
        CHECK(mknod_call_kind(&c) == MKNOD_KERNEL);
        c.mode = S_IFREG | 0644;
        CHECK(mknod_call_kind(&c) == MKNOD_KERNEL);
        c.mode = S_IFDIR | 0755; /* EPERM, the kernel's to say */
        CHECK(mknod_call_kind(&c) == MKNOD_KERNEL);
        c.mode = S_IFCHR;
        CHECK(mknod_call_kind(&c) == MKNOD_WHITEOUT);
        c.minor = 1;
        CHECK(mknod_call_kind(&c) == MKNOD_DEVICE);
        c.mode = S_IFBLK, c.minor = 0;
        CHECK(mknod_call_kind(&c) == MKNOD_DEVICE); /* block 0:0 is no whiteout */
}

static void test_status(void)
{
        const char *text = "Name:\tmknod\nUmask:\t0027\nState:\tS (sleeping)\n"
                           "Uid:\t100000\t100001\t100002\t100003\n"
                           "Gid:\t100010\t100011\t100012\t100013\n"
                           "Groups:\t100004 100005 \n"
                           "CapInh:\t0000000000000000\n"
                           "CapEff:\t000001ffffffffff\n";
        struct mknod_caller c;

        CHECK(mknod_caller_parse_status(text, &c) == 0);
        CHECK(c.fsuid == 100003 && c.fsgid == 100013 && c.umask == 027);
        CHECK(c.cap_eff == 0x1ffffffffffull);
        CHECK(c.n_groups == 2 && c.groups[0] == 100004 && c.groups[1] == 100005);
        mknod_caller_free(&c);
        CHECK(mknod_caller_parse_status("Uid:\t1\t1\t1\t1\nGid:\t1\t1\t1\t1\nUmask:\t0022\n"
                                        "Groups:\t\nCapEff:\t0\n",
                                        &c) == 0);
        CHECK(c.n_groups == 0 && c.cap_eff == 0 && c.umask == 022);
        mknod_caller_free(&c);
        /* Something missing: refused (the worker answers ESRCH) */
        CHECK(mknod_caller_parse_status("Uid:\t1\t1\t1\t1\nGid:\t1\t1\t1\t1\n", &c) == -EINVAL);
        CHECK(mknod_caller_parse_status("", &c) == -EINVAL);
}

static void test_idmap(void)
{
        const char *map = "         0     100000      65536\n     65536     300000          1\n";

        CHECK(mknod_idmap_has_outside(map, 100000));
        CHECK(mknod_idmap_has_outside(map, 165535));
        CHECK(!mknod_idmap_has_outside(map, 165536));
        CHECK(mknod_idmap_has_outside(map, 300000));
        CHECK(!mknod_idmap_has_outside(map, 0));
        CHECK(mknod_idmap_has_outside("0 0 4294967295\n", 12345));
        CHECK(!mknod_idmap_has_outside("", 0));
}

static int split(const char *path, const char *dir, const char *base, bool slash)
{
        char *d, *b;
        bool s;
        int r = mknod_path_split(path, &d, &b, &s);

        if (r == 0) {
                CHECK_STR(d, dir);
                CHECK_STR(b, base);
                CHECK(s == slash);
        }
        free(d);
        free(b);
        return r;
}

static void test_split(void)
{
        char *d, *b, *longp;
        bool s;

        CHECK(split("null", ".", "null", false) == 0);
        CHECK(split("/tmp/null", "/tmp", "null", false) == 0);
        CHECK(split("/null", "/", "null", false) == 0);
        CHECK(split("//null", "/", "null", false) == 0);
        CHECK(split("a//b", "a", "b", false) == 0);
        CHECK(split("a/b/", "a", "b", true) == 0);
        CHECK(split("../../etc/x", "../../etc", "x", false) == 0);
        CHECK(mknod_path_split("", &d, &b, &s) == -ENOENT);
        CHECK(mknod_path_split("/", &d, &b, &s) == -EEXIST);
        CHECK(mknod_path_split("//", &d, &b, &s) == -EEXIST);
        CHECK(mknod_path_split("a/.", &d, &b, &s) == -EEXIST);
        CHECK(mknod_path_split("..", &d, &b, &s) == -EEXIST);
        CHECK(d == NULL && b == NULL);
        longp = malloc(5000);
        memset(longp, 'a', 4999);
        longp[4999] = '\0';
        CHECK(mknod_path_split(longp, &d, &b, &s) == -ENAMETOOLONG);
        longp[300] = '\0';
        CHECK(mknod_path_split(longp, &d, &b, &s) == -ENAMETOOLONG); /* NAME_MAX */
        free(longp);
}

int main(void)
{
        test_decode();
        test_kind();
        test_status();
        test_idmap();
        test_split();
        return check_report("test_mknod_request");
}
