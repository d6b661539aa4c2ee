/* Unit tests for mount option parsing (mount_opts.c). */
#include "check.h"
#include "spec.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif



#define ATIME MOUNT_ATTR__ATIME

/* What a single option must produce. */
struct expect {
        const char *name;
        unsigned long flags, clear;
        uint64_t attr_set, attr_clr, rec_set, rec_clr;
        unsigned long propagation;
        bool propagation_rec, bind, rbind, remount, tmpcopyup, idmap, ridmap;
};

static const struct expect table[] = {
        /* name, flags, clear, attr_set, attr_clr, rec_set, rec_clr, prop, prop_rec, bind, rbind,
         * remount, tmpcopyup, idmap, ridmap */
        {"async", 0, MS_SYNCHRONOUS},
        {"atime", 0, MS_NOATIME, 0, ATIME},
        {"bind", .bind = true},
        {"defaults"},
        {"dev", 0, MS_NODEV, 0, MOUNT_ATTR_NODEV},
        {"diratime", 0, MS_NODIRATIME, 0, MOUNT_ATTR_NODIRATIME},
        {"dirsync", MS_DIRSYNC},
        {"exec", 0, MS_NOEXEC, 0, MOUNT_ATTR_NOEXEC},
        {"iversion", MS_I_VERSION},
        {"lazytime", MS_LAZYTIME},
        {"loud", 0, MS_SILENT},
        {"mand", MS_MANDLOCK},
        {"noatime", MS_NOATIME, 0, MOUNT_ATTR_NOATIME, ATIME},
        {"nodev", MS_NODEV, 0, MOUNT_ATTR_NODEV},
        {"nodiratime", MS_NODIRATIME, 0, MOUNT_ATTR_NODIRATIME},
        {"noexec", MS_NOEXEC, 0, MOUNT_ATTR_NOEXEC},
        {"noiversion", 0, MS_I_VERSION},
        {"nolazytime", 0, MS_LAZYTIME},
        {"nomand", 0, MS_MANDLOCK},
        {"norelatime", 0, MS_RELATIME, 0, ATIME},
        {"nostrictatime", 0, MS_STRICTATIME, 0, ATIME},
        {"nosuid", MS_NOSUID, 0, MOUNT_ATTR_NOSUID},
        {"nosymfollow", MS_NOSYMFOLLOW, 0, MOUNT_ATTR_NOSYMFOLLOW},
        {"notmpcopyup"},
        {"private", .propagation = MS_PRIVATE},
        {"ratime", .rec_clr = ATIME},
        {"rbind", .bind = true, .rbind = true},
        {"rdev", .rec_clr = MOUNT_ATTR_NODEV},
        {"rdiratime", .rec_clr = MOUNT_ATTR_NODIRATIME},
        {"relatime", MS_RELATIME, 0, MOUNT_ATTR_RELATIME, ATIME},
        {"remount", .remount = true},
        {"rexec", .rec_clr = MOUNT_ATTR_NOEXEC},
        {"rnoatime", .rec_set = MOUNT_ATTR_NOATIME, .rec_clr = ATIME},
        {"rnodev", .rec_set = MOUNT_ATTR_NODEV},
        {"rnodiratime", .rec_set = MOUNT_ATTR_NODIRATIME},
        {"rnoexec", .rec_set = MOUNT_ATTR_NOEXEC},
        {"rnorelatime", .rec_clr = ATIME},
        {"rnostrictatime", .rec_clr = ATIME},
        {"rnosuid", .rec_set = MOUNT_ATTR_NOSUID},
        {"rnosymfollow", .rec_set = MOUNT_ATTR_NOSYMFOLLOW},
        {"ro", MS_RDONLY, 0, MOUNT_ATTR_RDONLY},
        {"rprivate", .propagation = MS_PRIVATE, .propagation_rec = true},
        {"rrelatime", .rec_set = MOUNT_ATTR_RELATIME, .rec_clr = ATIME},
        {"rro", .rec_set = MOUNT_ATTR_RDONLY},
        {"rrw", .rec_clr = MOUNT_ATTR_RDONLY},
        {"rshared", .propagation = MS_SHARED, .propagation_rec = true},
        {"rslave", .propagation = MS_SLAVE, .propagation_rec = true},
        {"rstrictatime", .rec_set = MOUNT_ATTR_STRICTATIME, .rec_clr = ATIME},
        {"rsuid", .rec_clr = MOUNT_ATTR_NOSUID},
        {"rsymfollow", .rec_clr = MOUNT_ATTR_NOSYMFOLLOW},
        {"runbindable", .propagation = MS_UNBINDABLE, .propagation_rec = true},
        {"rw", 0, MS_RDONLY, 0, MOUNT_ATTR_RDONLY},
        {"shared", .propagation = MS_SHARED},
        {"silent", MS_SILENT},
        {"slave", .propagation = MS_SLAVE},
        {"strictatime", MS_STRICTATIME, 0, MOUNT_ATTR_STRICTATIME, ATIME},
        {"suid", 0, MS_NOSUID, 0, MOUNT_ATTR_NOSUID},
        {"symfollow", 0, MS_NOSYMFOLLOW, 0, MOUNT_ATTR_NOSYMFOLLOW},
        {"sync", MS_SYNCHRONOUS},
        {"tmpcopyup", .tmpcopyup = true},
        {"unbindable", .propagation = MS_UNBINDABLE},
        {"idmap", .idmap = true},
        {"ridmap", .ridmap = true},
};

static int parse(const char *const *opts, struct vessel_mount_opts *o, vessel_error **err)
{
        memset(o, 0, sizeof(*o));
        return mount_options_parse((char *const *)opts, strv_len((char *const *)opts), o,
                                   "mounts[0].options", err);
}

static bool matches(const struct vessel_mount_opts *o, const struct expect *e)
{
        return o->flags == e->flags && o->clear == e->clear && o->attr_set == e->attr_set &&
               o->attr_clr == e->attr_clr && o->rec_attr_set == e->rec_set &&
               o->rec_attr_clr == e->rec_clr && o->propagation == e->propagation &&
               o->propagation_rec == e->propagation_rec && o->bind == e->bind &&
               o->rbind == e->rbind && o->remount == e->remount && o->tmpcopyup == e->tmpcopyup &&
               o->idmap == e->idmap && o->ridmap == e->ridmap && o->n_data == 0 && !o->data;
}

static void test_each_option(void)
{
        size_t n_names = strv_len((char *const *)vessel_mount_option_names);

        CHECK(n_names == ARRAY_SIZE(table));
        for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
                const char *opts[] = {table[i].name, NULL};
                struct vessel_mount_opts o;
                vessel_error *err = NULL;
                int r = parse(opts, &o, &err);

                CHECK(r == 0 && !err);
                if (r == 0 && !matches(&o, &table[i])) {
                        fprintf(stderr, "option %s: flags=%#lx clear=%#lx attr=%#llx/%#llx "
                                        "rec=%#llx/%#llx prop=%#lx/%d\n",
                                table[i].name, o.flags, o.clear,
                                (unsigned long long)o.attr_set, (unsigned long long)o.attr_clr,
                                (unsigned long long)o.rec_attr_set,
                                (unsigned long long)o.rec_attr_clr, o.propagation,
                                o.propagation_rec);
                        CHECK(!"option result differs");
                }
                /* every name in the table is advertised and vice versa */
                CHECK(vessel_name_index(vessel_mount_option_names, table[i].name) >= 0);
                mount_opts_free(&o);
                vessel_error_free(&err);
        }
}

static void test_last_wins(void)
{
        struct vessel_mount_opts o;

        CHECK(parse((const char *[]){"ro", "rw", NULL}, &o, NULL) == 0);
        CHECK(!(o.flags & MS_RDONLY) && (o.clear & MS_RDONLY));
        CHECK(!(o.attr_set & MOUNT_ATTR_RDONLY) && (o.attr_clr & MOUNT_ATTR_RDONLY));
        mount_opts_free(&o);

        CHECK(parse((const char *[]){"rw", "ro", NULL}, &o, NULL) == 0);
        CHECK((o.flags & MS_RDONLY) && !(o.clear & MS_RDONLY));
        CHECK((o.attr_set & MOUNT_ATTR_RDONLY) && !(o.attr_clr & MOUNT_ATTR_RDONLY));
        mount_opts_free(&o);

        /* one atime mode at a time */
        CHECK(parse((const char *[]){"noatime", "strictatime", NULL}, &o, NULL) == 0);
        CHECK(o.flags == MS_STRICTATIME);
        CHECK(o.attr_set == MOUNT_ATTR_STRICTATIME && o.attr_clr == MOUNT_ATTR__ATIME);
        mount_opts_free(&o);

        CHECK(parse((const char *[]){"noatime", "atime", NULL}, &o, NULL) == 0);
        CHECK(o.flags == 0 && (o.clear & MS_NOATIME));
        CHECK(o.attr_set == 0 && o.attr_clr == MOUNT_ATTR__ATIME); /* back to relatime */
        mount_opts_free(&o);

        CHECK(parse((const char *[]){"rnoatime", "rrelatime", "rro", "rrw", NULL}, &o, NULL) == 0);
        CHECK(o.rec_attr_set == MOUNT_ATTR_RELATIME);
        CHECK(o.rec_attr_clr == (MOUNT_ATTR__ATIME | MOUNT_ATTR_RDONLY));
        CHECK(o.attr_set == 0 && o.attr_clr == 0 && o.flags == 0);
        mount_opts_free(&o);

        CHECK(parse((const char *[]){"rshared", "private", NULL}, &o, NULL) == 0);
        CHECK(o.propagation == MS_PRIVATE && !o.propagation_rec);
        mount_opts_free(&o);

        CHECK(parse((const char *[]){"tmpcopyup", "notmpcopyup", NULL}, &o, NULL) == 0);
        CHECK(!o.tmpcopyup);
        mount_opts_free(&o);

        CHECK(parse((const char *[]){"nosuid", "nodev", "noexec", "ro", "relatime", NULL}, &o,
                    NULL) == 0);
        CHECK(o.flags == (MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY | MS_RELATIME));
        CHECK(o.attr_set == (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
                             MOUNT_ATTR_RDONLY | MOUNT_ATTR_RELATIME));
        CHECK(o.attr_clr == MOUNT_ATTR__ATIME);
        mount_opts_free(&o);
}

static void test_data(void)
{
        static const char *const opts[] = {
                "nosuid", "size=65536k", "mode=755", "newinstance", "ptmxmode=0666", "gid=5",
                "uid=0",  "inode64",     "inode32",  "noswap",      "userxattr",     "volatile",
                "nouuid", "index=off",   "metacopy=on", "redirect_dir=follow", "z", "Z", "U",
                "",       "lowerdir=/a:/b", NULL,
        };
        static const char *const data[] = {
                "size=65536k", "mode=755", "newinstance", "ptmxmode=0666", "gid=5",
                "uid=0",       "inode64",  "inode32",     "noswap",        "userxattr",
                "volatile",    "nouuid",   "index=off",   "metacopy=on",   "redirect_dir=follow",
                "lowerdir=/a:/b",
        };
        struct vessel_mount_opts o;
        vessel_error *err = NULL;

        CHECK(parse(opts, &o, &err) == 0 && !err);
        CHECK(o.flags == MS_NOSUID);
        CHECK(o.n_data == ARRAY_SIZE(data));
        CHECK(o.data && o.data[o.n_data] == NULL);
        for (size_t i = 0; o.data && i < ARRAY_SIZE(data) && i < o.n_data; i++)
                CHECK(!strcmp(o.data[i], data[i]));
        mount_opts_free(&o);
        CHECK(o.data == NULL && o.n_data == 0);
        mount_opts_free(&o); /* idempotent */
        mount_opts_free(NULL);
}

static void test_unknown(void)
{
        static const char *const bad[] = {"bogus", "RO", "ro ", "noatimes", "Z2", "copy", "nocopy"};

        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                const char *opts[] = {"ro", "size=1k", bad[i], NULL};
                struct vessel_mount_opts o = {0};
                vessel_error *err = NULL;
                _cleanup_free_ char *want =
                        xasprintf("mounts[0].options: unknown mount option \"%s\"", bad[i]);
                int r = parse(opts, &o, &err);

                CHECK(r == -EINVAL);
                CHECK(err && str_has_prefix(err->msg, want));
                CHECK(o.data == NULL && o.flags == 0); /* out untouched on error */
                vessel_error_free(&err);
        }
        /* err may be NULL */
        {
                struct vessel_mount_opts o;
                CHECK(parse((const char *[]){"bogus", NULL}, &o, NULL) == -EINVAL);
        }
        /* empty list */
        {
                struct vessel_mount_opts o;
                CHECK(mount_options_parse(NULL, 0, &o, "x", NULL) == 0 && o.flags == 0 && !o.data);
        }
}

int main(void)
{
        test_each_option();
        test_last_wins();
        test_data();
        test_unknown();
        return check_report("test_mount_opts");
}
