/* Unit tests for the runtime's pure helpers: id maps, container ids,
 * error chaining, fd closing, and path resolution confined to a root. */
#include "check.h"
#include "error.h"
#include "idmap.h"
#include "mounts.h"
#include "seccomp_filter.h"
#include "state.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>

static void test_idmap(void)
{
        struct vessel_idmap m[] = {{0, 100000, 1000}, {1000, 1000, 1}, {1001, 101001, 64535}};
        _cleanup_free_ char *s = idmap_format(m, 3);
        vessel_error *err = NULL;

        CHECK_STR(s, "0 100000 1000\n1000 1000 1\n1001 101001 64535\n");
        CHECK(idmap_to_host(m, 3, 0) == 100000);
        CHECK(idmap_to_host(m, 3, 999) == 100999);
        CHECK(idmap_to_host(m, 3, 1000) == 1000);
        CHECK(idmap_to_host(m, 3, 65535) == 165535);
        CHECK(idmap_to_host(m, 3, 65536) == -1);
        CHECK(idmap_validate(m, 3, "linux.uidMappings", &err) == 0 && !err);

        struct vessel_idmap overlap_c[] = {{0, 100000, 10}, {5, 200000, 10}};
        CHECK(idmap_validate(overlap_c, 2, "linux.uidMappings", &err) == -EINVAL);
        CHECK(err && strstr(err->msg, "linux.uidMappings[1]: containerID range overlaps"));
        vessel_error_free(&err);
        struct vessel_idmap overlap_h[] = {{0, 100000, 10}, {10, 100009, 10}};
        CHECK(idmap_validate(overlap_h, 2, "linux.gidMappings", &err) == -EINVAL);
        CHECK(err && strstr(err->msg, "hostID range overlaps"));
        vessel_error_free(&err);
        struct vessel_idmap empty[] = {{0, 0, 0}};
        CHECK(idmap_validate(empty, 1, "x", &err) == -EINVAL && strstr(err->msg, "x[0].size"));
        vessel_error_free(&err);
        /* ranges that touch but do not overlap are fine */
        struct vessel_idmap touch[] = {{0, 0, 10}, {10, 10, 10}};
        CHECK(idmap_validate(touch, 2, "x", &err) == 0);
}

static void test_ids(void)
{
        static const char *const good[] = {"a", "c1", "my-box_2.0+x", "0123456789abcdef"};
        static const char *const bad[] = {"", ".", "..", "a/b", "../x", "a b", "a\nb", "é"};
        vessel_error *err = NULL;
        char long_id[1100];

        for (size_t i = 0; i < ARRAY_SIZE(good); i++)
                CHECK(state_check_id(good[i], NULL) == 0);
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                CHECK(state_check_id(bad[i], &err) == -EINVAL);
                CHECK(err && strstr(err->msg, "container id"));
                vessel_error_free(&err);
        }
        memset(long_id, 'a', sizeof(long_id) - 1);
        long_id[sizeof(long_id) - 1] = '\0';
        CHECK(state_check_id(long_id, &err) == -EINVAL && strstr(err->msg, "1024"));
        vessel_error_free(&err);
        CHECK(state_check_id(NULL, NULL) == -EINVAL);
}

static void test_errors(void)
{
        vessel_error *err = NULL;

        CHECK(vessel_error_set(&err, ENOENT, "open %s", "/x") == -ENOENT);
        CHECK_STR(err->msg, "open /x: No such file or directory");
        /* the innermost error is kept */
        CHECK(vessel_error_set(&err, EPERM, "outer") == -ENOENT);
        CHECK(vessel_error_prefix(&err, "mounts[%d]", 3) == -ENOENT);
        CHECK_STR(err->msg, "mounts[3]: open /x: No such file or directory");
        vessel_error_free(&err);
        CHECK(err == NULL);
        CHECK(vessel_error_msg(&err, EEXIST, "container \"%s\" already exists", "a") == -EEXIST);
        CHECK_STR(err->msg, "container \"a\" already exists");
        CHECK(err->code == EEXIST);
        vessel_error_free(&err);
        CHECK(vessel_error_set(NULL, EIO, "nobody listens") == -EIO);
        /* a caller that wanted no message still gets the callee's code */
        CHECK(vessel_error_msg(NULL, ENOENT, "no such image") == -ENOENT);
        CHECK(vessel_error_rc(NULL) == -ENOENT);
        CHECK(vessel_error_sys((errno = EACCES, NULL), "open") == -EACCES);
        CHECK(vessel_error_rc(NULL) == -EACCES);
        CHECK(vessel_error_set(&err, 0, "logical") == -EINVAL);
        CHECK_STR(err->msg, "logical");
        vessel_error_free(&err);
}

static void test_close_fds(void)
{
        int a = open("/dev/null", O_RDONLY), b = open("/dev/null", O_RDONLY),
            c = open("/dev/null", O_RDONLY);
        int keep[] = {b};

        CHECK(a > 2 && b > a && c > b);
        CHECK(close_fds_from(a, keep, 1) == 0);
        CHECK(fcntl(a, F_GETFD) < 0 && errno == EBADF);
        CHECK(fcntl(b, F_GETFD) >= 0);
        CHECK(fcntl(c, F_GETFD) < 0);
        close(b);
        int d = -1;
        closep(&d);
        CHECK(d == -1);
        d = open("/dev/null", O_RDONLY);
        closep(&d);
        CHECK(d == -1);
}

static bool exists_at(int dirfd, const char *p)
{
        struct stat st;
        return fstatat(dirfd, p, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* A hostile rootfs: symlinks pointing out of it must resolve inside it. */
static void test_resolve(void)
{
        char tmpl[] = "/tmp/vessel-unit-XXXXXX";
        char *dir = mkdtemp(tmpl);
        _cleanup_free_ char *root = NULL, *outside = NULL;
        _cleanup_close_ int rootfd = -1, fd = -1;
        vessel_error *err = NULL;

        CHECK(dir != NULL);
        if (!dir)
                return;
        root = xasprintf("%s/rootfs", dir);
        outside = xasprintf("%s/outside", dir);
        CHECK(mkdir(root, 0755) == 0 && mkdir(outside, 0755) == 0);
        rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
        CHECK(rootfd >= 0);
        CHECK(symlinkat("/", rootfd, "toroot") == 0);
        CHECK(symlinkat(outside, rootfd, "abs") == 0);      /* absolute, to a real host dir */
        CHECK(symlinkat("../../outside", rootfd, "rel") == 0); /* relative, climbing out */
        CHECK(symlinkat("/proc/self/root", rootfd, "magic") == 0);

        /* Creating through symlinks lands inside the root. */
        fd = path_open_in_root(rootfd, "/toroot/a/b", RESOLVE_CREATE_DIR, &err);
        CHECK(fd >= 0 && !err);
        closep(&fd);
        CHECK(exists_at(rootfd, "a/b"));
        /* Symlinks whose targets do not exist inside the root: the targets
         * are created inside it (as runc does), never followed to the host. */
        fd = path_open_in_root(rootfd, "/abs/x", RESOLVE_CREATE_DIR, &err);
        CHECK(fd >= 0 && !err);
        closep(&fd);
        fd = path_open_in_root(rootfd, "rel/y", RESOLVE_CREATE_FILE, &err);
        CHECK(fd >= 0 && !err);
        closep(&fd);
        {
                _cleanup_free_ char *x = xasprintf("%s/x", outside), *y = xasprintf("%s/y", outside);
                _cleanup_free_ char *in_x = xasprintf("%s/x", outside + 1);
                struct stat st;
                CHECK(!exists_at(AT_FDCWD, x));
                CHECK(!exists_at(AT_FDCWD, y));
                CHECK(fstatat(rootfd, in_x, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode));
                CHECK(fstatat(rootfd, "outside/y", &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                      S_ISREG(st.st_mode));
        }
        /* ".." cannot climb out either. */
        fd = path_open_in_root(rootfd, "/../../../z", RESOLVE_CREATE_DIR, &err);
        CHECK(fd >= 0);
        closep(&fd);
        CHECK(exists_at(rootfd, "z"));
        /* Magic links are refused. */
        fd = path_open_in_root(rootfd, "/magic/etc", RESOLVE_CREATE_NONE, &err);
        CHECK(fd < 0 && err);
        vessel_error_free(&err);
        /* A missing path without creation is an error naming it. */
        fd = path_open_in_root(rootfd, "/nope", RESOLVE_CREATE_NONE, &err);
        CHECK(fd == -ENOENT && err && strstr(err->msg, "/nope"));
        vessel_error_free(&err);
        /* A file in the middle of the path. */
        CHECK(mknodat(rootfd, "file", S_IFREG | 0644, 0) == 0 || errno == EEXIST);
        fd = path_open_in_root(rootfd, "/file/sub", RESOLVE_CREATE_DIR, &err);
        CHECK(fd < 0 && err);
        vessel_error_free(&err);

        CHECK(rm_rf_at(AT_FDCWD, dir) == 0);
        CHECK(!exists_at(AT_FDCWD, dir));
}

/* The compiled-program cache gives the same program, survives a corrupt
 * file, and never serves one profile's program for another. */
static void test_seccomp_cache(void)
{
        static const char *json =
                "{\"ociVersion\": \"1.2.0\", \"linux\": {\"seccomp\": {\"defaultAction\": "
                "\"SCMP_ACT_ALLOW\", \"syscalls\": [{\"names\": [\"mkdir\", \"mkdirat\"], "
                "\"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 1}]}}}";
        char tmpl[] = "/tmp/vessel-unit-XXXXXX";
        char *dir = mkdtemp(tmpl);
        struct vessel_spec *spec = NULL, *other = NULL;
        struct vessel_bpf a, b, c, d;
        _cleanup_free_ char *cache = NULL;
        vessel_error *err = NULL;

        CHECK(dir != NULL);
        if (!dir)
                return;
        cache = xasprintf("%s/cache", dir);
        CHECK(vessel_spec_parse(json, strlen(json), &spec, &err) == 0);
        CHECK(seccomp_compile(&spec->linux_.seccomp, NULL, &a, &err) == 0 && a.len > 0);
        CHECK(seccomp_compile(&spec->linux_.seccomp, cache, &b, &err) == 0); /* stores */
        CHECK(seccomp_compile(&spec->linux_.seccomp, cache, &c, &err) == 0); /* loads */
        CHECK(a.len == b.len && b.len == c.len && !memcmp(a.insns, c.insns, a.len * sizeof(*a.insns)));
        {
                /* A corrupt cache file is ignored (and replaced). */
                DIR *dd = opendir(cache);
                struct dirent *de;
                while (dd && (de = readdir(dd)))
                        if (de->d_name[0] != '.') {
                                _cleanup_free_ char *p = xasprintf("%s/%s", cache, de->d_name);
                                CHECK(write_file_at(AT_FDCWD, p, "junk", 4, NULL) == 0);
                        }
                if (dd)
                        closedir(dd);
        }
        CHECK(seccomp_compile(&spec->linux_.seccomp, cache, &d, &err) == 0);
        CHECK(d.len == a.len && !memcmp(a.insns, d.insns, a.len * sizeof(*a.insns)));
        seccomp_bpf_clear(&d);
        /* Another profile gets its own program. */
        {
                _cleanup_free_ char *j2 = xstrdup(json);
                char *p = strstr(j2, "\"errnoRet\": 1");
                p[strlen("\"errnoRet\": ")] = '2';
                CHECK(vessel_spec_parse(j2, strlen(j2), &other, &err) == 0);
                CHECK(seccomp_compile(&other->linux_.seccomp, cache, &d, &err) == 0);
                CHECK(memcmp(a.insns, d.insns, a.len * sizeof(*a.insns)) != 0);
        }
        seccomp_bpf_clear(&a);
        seccomp_bpf_clear(&b);
        seccomp_bpf_clear(&c);
        seccomp_bpf_clear(&d);
        vessel_spec_free(spec);
        vessel_spec_free(other);
        CHECK(rm_rf_at(AT_FDCWD, dir) == 0);
}

static void test_time(void)
{
        _cleanup_free_ char *t = rfc3339_now();
        char state = 0;

        CHECK(t && strlen(t) == 30 && t[4] == '-' && t[10] == 'T' && t[19] == '.' && t[29] == 'Z');
        CHECK(proc_start_time(getpid(), &state) > 0);
        CHECK(state == 'R');
        CHECK(proc_start_time(0x7ffffff0, NULL) == 0);
}

static void test_subid(void)
{
        const char *text = "# comment\nalice:100000:65536\n1001:200000:1000\n"
                           "bob:bad:10\nbob:300000:0\nbob:400000:5\nroot:500000:65536";
        uint32_t start = 0, count = 0;

        CHECK(idmap_subid_find(text, "alice", 1000, &start, &count) == 0 && start == 100000 &&
              count == 65536);
        /* By number when the name does not match. */
        CHECK(idmap_subid_find(text, "carol", 1001, &start, &count) == 0 && start == 200000 &&
              count == 1000);
        /* Malformed and empty ranges are skipped; the next line counts. */
        CHECK(idmap_subid_find(text, "bob", 1002, &start, &count) == 0 && start == 400000 && count == 5);
        CHECK(idmap_subid_find(text, "root", 0, &start, &count) == 0 && start == 500000);
        CHECK(idmap_subid_find(text, "dave", 1003, &start, &count) == -ENOENT);
        CHECK(idmap_subid_find("", NULL, 0, &start, &count) == -ENOENT);
        CHECK(idmap_subid_find("x:4294967295:2\n", "x", 7, &start, &count) == -ENOENT);
}

int main(void)
{
        test_idmap();
        test_subid();
        test_ids();
        test_errors();
        test_close_fds();
        test_resolve();
        test_time();
        test_seccomp_cache();
        return check_report("test_runtime");
}
