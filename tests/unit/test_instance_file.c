/* The pure parts of `vesselctl file`: NAME/PATH arguments, the lexical
 * clean of instance paths and --mode. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "instance-file.h"
#include "util.h"

static void check_clean(const char *in, const char *want)
{
        char *out = file_path_clean(in);

        CHECK_STR(out, want);
        if (strcmp(out, want))
                fprintf(stderr, "  file_path_clean(\"%s\") = \"%s\", want \"%s\"\n", in, out, want);
        free(out);
}

static void test_clean(void)
{
        check_clean("", "/");
        check_clean("/", "/");
        check_clean("etc/hosts", "/etc/hosts");
        check_clean("//etc///hosts/", "/etc/hosts");
        check_clean("/./etc/./hosts", "/etc/hosts");
        check_clean("/etc/../hosts", "/hosts");
        /* ".." never climbs above the root. */
        check_clean("/../../etc/shadow", "/etc/shadow");
        check_clean("a/b/../../..", "/");
        check_clean("a/b/c/../d", "/a/b/d");
        check_clean("...", "/...");
        check_clean("a/..b", "/a/..b");
}

static void test_spec(void)
{
        struct file_spec f;
        vessel_error *err = NULL;

        CHECK(file_spec_parse("web1/etc/hosts", &f, &err) == 0);
        CHECK_STR(f.instance, "web1");
        CHECK_STR(f.path, "/etc/hosts");
        CHECK(!f.dir);
        file_spec_free(&f);

        CHECK(file_spec_parse("web1/etc/", &f, &err) == 0);
        CHECK_STR(f.path, "/etc");
        CHECK(f.dir);
        file_spec_free(&f);

        CHECK(file_spec_parse("web1/", &f, &err) == 0);
        CHECK_STR(f.path, "/");
        CHECK(f.dir);
        file_spec_free(&f);

        CHECK(file_spec_parse("web1/../../x", &f, &err) == 0);
        CHECK_STR(f.path, "/x");
        file_spec_free(&f);

        CHECK(file_spec_parse("web1", &f, &err) == -EINVAL);
        CHECK(err && strstr(err->msg, "\"web1\": expected NAME/PATH"));
        vessel_error_free(&err);
        CHECK(file_spec_parse("/etc/hosts", &f, &err) == -EINVAL);
        CHECK(err && strstr(err->msg, "expected NAME/PATH"));
        vessel_error_free(&err);
}

static void test_mode(void)
{
        mode_t m;

        CHECK(file_mode_parse("644", &m) == 0 && m == 0644);
        CHECK(file_mode_parse("0600", &m) == 0 && m == 0600);
        CHECK(file_mode_parse("4755", &m) == 0 && m == 04755);
        CHECK(file_mode_parse("07777", &m) == 0 && m == 07777);
        CHECK(file_mode_parse("", &m) == -EINVAL);
        CHECK(file_mode_parse("8", &m) == -EINVAL);
        CHECK(file_mode_parse("-644", &m) == -EINVAL);
        CHECK(file_mode_parse("17777", &m) == -EINVAL);
        CHECK(file_mode_parse("0o644", &m) == -EINVAL);
        CHECK(file_mode_parse("u+x", &m) == -EINVAL);
}

int main(void)
{
        test_clean();
        test_spec();
        test_mode();
        return check_report("test_instance_file");
}
