/* The image build's recipe (image-recipe.c): releases, variants, package
 * lists, the build key, mmdebstrap's command line and the metadata. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>

#include "check.h"
#include "image-build.h"
#include "util.h"

static void test_releases(void)
{
        vessel_error *err = NULL;
        const struct build_release *r = build_release_find("debian/12", &err);

        CHECK(r && !err);
        CHECK(r && !strcmp(r->codename, "bookworm") && !strcmp(r->version, "12"));
        CHECK(build_release_find("debian/bookworm", &err) == r);
        static const char *const bad[] = {"debian/99", "ubuntu/24.04", "debian",    "debian/",
                                          "/12",       "debian/12/x",  "Debian/12", ""};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                CHECK(build_release_find(bad[i], &err) == NULL);
                /* The error names the request and lists what is supported. */
                CHECK(err && strstr(err->msg, bad[i]) && strstr(err->msg, "debian/12 (bookworm)"));
                vessel_error_free(&err);
        }
        CHECK(build_release_find(NULL, &err) == NULL && err);
        vessel_error_free(&err);
}

static void test_variants(void)
{
        vessel_error *err = NULL;
        const char *v = NULL;

        CHECK(build_variant_check(NULL, &v, &err) == 0 && v && !strcmp(v, "minbase"));
        static const char *const good[] = {"minbase", "apt", "important", "standard"};
        for (size_t i = 0; i < 4; i++)
                CHECK(build_variant_check(good[i], &v, &err) == 0 && !strcmp(v, good[i]));
        static const char *const bad[] = {"extract", "custom",  "essential",
                                          "buildd",  "MINBASE", ""};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                CHECK(build_variant_check(bad[i], &v, &err) < 0 && err &&
                      strstr(err->msg, "minbase, apt, important, standard"));
                vessel_error_free(&err);
        }
}

static void test_packages(void)
{
        vessel_error *err = NULL;
        char **p = NULL;
        _cleanup_free_ char *j = NULL;

        /* The recipe's own, sorted. */
        CHECK(build_packages(NULL, &p, &err) == 0);
        j = strv_join(p, ",");
        CHECK_STR(j, "dbus,systemd-sysv");
        strv_free(p);
        free(j);
        /* Extra ones merged in, sorted, duplicates dropped. */
        char *inc[] = {"vim-tiny", "dbus", "iproute2", "vim-tiny", "libc++1", "g++-12", NULL};
        CHECK(build_packages(inc, &p, &err) == 0);
        j = strv_join(p, ",");
        CHECK_STR(j, "dbus,g++-12,iproute2,libc++1,systemd-sysv,vim-tiny");
        strv_free(p);
        /* Not package names: refused before anything runs. */
        static const char *const bad[] = {"Vim",  "a", "-x",        "foo bar", "foo;rm",
                                          "../x", "",  "pkg:amd64", ".x"};
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                char *one[] = {(char *)bad[i], NULL};
                p = NULL;
                CHECK(build_packages(one, &p, &err) < 0 && err && strstr(err->msg, "--include"));
                CHECK(p == NULL);
                vessel_error_free(&err);
        }
}

static void test_key_and_argv(void)
{
        vessel_error *err = NULL;
        char *inc[] = {"iproute2", NULL};
        char **pk = NULL;

        CHECK(build_packages(inc, &pk, &err) == 0);
        struct build_params p = {.release = build_release_find("debian/12", &err),
                                 .variant = "apt",
                                 .packages = pk,
                                 .arch = "x86_64"};
        _cleanup_free_ char *key = build_key(&p);
        CHECK_STR(key,
                  "debian/12 recipe=1 variant=apt arch=x86_64 packages=dbus,iproute2,systemd-sysv");
        /* Any parameter changes the key. */
        p.variant = "minbase";
        _cleanup_free_ char *key2 = build_key(&p);
        CHECK(strcmp(key, key2) != 0);
        p.arch = "aarch64";
        _cleanup_free_ char *key3 = build_key(&p);
        CHECK(strcmp(key2, key3) != 0);

        p.arch = "x86_64";
        char **argv = build_mmdebstrap_argv(&p, "/s/images/.build-1/rootfs");
        _cleanup_free_ char *cmd = strv_join(argv, " ");
        CHECK_STR(cmd, "mmdebstrap --mode=root --format=directory --variant=minbase "
                       "--architectures=amd64 --include=dbus,iproute2,systemd-sysv bookworm "
                       "/s/images/.build-1/rootfs");
        strv_free(argv);
        strv_free(pk);

        CHECK_STR(build_debian_arch("x86_64"), "amd64");
        CHECK_STR(build_debian_arch("aarch64"), "arm64");
        CHECK_STR(build_debian_arch("armv7l"), "armhf");
        CHECK(build_debian_arch("sparc") == NULL && build_debian_arch(NULL) == NULL);
}

static void test_metadata(void)
{
        vessel_error *err = NULL;
        char **pk = NULL;
        _cleanup_free_ char *yaml = NULL;
        struct image_metadata md = {0};
        size_t len;

        CHECK(build_packages(NULL, &pk, &err) == 0);
        struct build_params p = {.release = build_release_find("debian/12", &err),
                                 .variant = "minbase",
                                 .packages = pk,
                                 .arch = "x86_64"};
        _cleanup_free_ char *key = build_key(&p);
        /* 2026-12-07 01:23:45 UTC */
        CHECK(build_metadata(&p, 1796606625, &yaml, &len, &err) == 0);
        CHECK(image_metadata_parse(yaml, len, &md, &err) == 0);
        CHECK_STR(md.architecture, "x86_64");
        CHECK(md.creation_date == 1796606625 && md.expiry_date == 0);
        CHECK_STR(image_metadata_property(&md, "os"), "debian");
        CHECK_STR(image_metadata_property(&md, "release"), "bookworm");
        CHECK_STR(image_metadata_property(&md, "variant"), "minbase");
        CHECK_STR(image_metadata_property(&md, "architecture"), "amd64");
        CHECK_STR(image_metadata_property(&md, "serial"), "20261207_01:23");
        CHECK_STR(image_metadata_property(&md, "description"),
                  "Debian bookworm amd64 (20261207_01:23)");
        CHECK_STR(image_metadata_property(&md, IMAGE_BUILD_PROPERTY), key);
        CHECK(md.n_templates == 2);
        for (size_t i = 0; i < md.n_templates; i++) {
                const struct image_template *t = &md.templates[i];
                CHECK(t->when == (TRIGGER_CREATE | TRIGGER_COPY | TRIGGER_RENAME));
                CHECK(!t->create_only);
                /* Each names a file the build ships. */
                bool shipped = false;
                for (const struct build_template_file *f = build_template_files; f->name; f++)
                        shipped |= !strcmp(f->name, t->template);
                CHECK(shipped);
        }
        _cleanup_free_ char *fn = build_filename(&p, 1796606625);
        CHECK_STR(fn, "debian-bookworm-amd64-minbase-20261207_01:23.tar");
        CHECK_STR(md.templates[0].path, "/etc/hostname");
        CHECK_STR(md.templates[1].path, "/etc/hosts");
        CHECK_STR(build_template_files[0].contents, "{{ instance.name }}\n");
        CHECK(strstr(build_template_files[1].contents, "127.0.1.1\t{{ instance.name }}\n"));
        image_metadata_free(&md);
        strv_free(pk);
}

static void test_finish_rootfs(void)
{
        char dir[] = "/tmp/test-recipe-XXXXXX";
        vessel_error *err = NULL;
        struct stat sb;
        char buf[64] = "";

        CHECK(mkdtemp(dir) != NULL);
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        /* No etc/: an error naming it. */
        CHECK(build_finish_rootfs(fd, &err) < 0 && err && strstr(err->msg, "rootfs/etc"));
        vessel_error_free(&err);
        CHECK(mkdirat(fd, "etc", 0755) == 0);
        int etc = openat(fd, "etc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        int f = openat(etc, "machine-id", O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
        CHECK(write(f, "0123\n", 5) == 5);
        close(f);
        f = openat(etc, "resolv.conf", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        close(f);
        f = openat(etc, "hostname", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        CHECK(write(f, "buildhost\n", 10) == 10);
        close(f);
        CHECK(build_finish_rootfs(fd, &err) == 0 && !err);
        CHECK(fstatat(etc, "machine-id", &sb, 0) == 0 && sb.st_size == 0);
        CHECK(fstatat(etc, "resolv.conf", &sb, 0) < 0);
        f = openat(etc, "hostname", O_RDONLY | O_CLOEXEC);
        CHECK(read(f, buf, sizeof(buf) - 1) == 10);
        CHECK(!strcmp(buf, "localhost\n"));
        close(f);
        close(etc);
        rm_rf_at(AT_FDCWD, dir);
        close(fd);
}

int main(void)
{
        test_releases();
        test_variants();
        test_packages();
        test_key_and_argv();
        test_metadata();
        test_finish_rootfs();
        return check_report("test_image_recipe");
}
