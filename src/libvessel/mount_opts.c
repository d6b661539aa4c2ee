/* mount_opts.c: turn a mount's "options" array into MS_* flags for
 * mount(2), MOUNT_ATTR_* for mount_setattr(2), propagation, and the
 * fs-specific data strings.  Pure: no system calls. */
#include "spec.h"
#include "util.h"

#include <string.h>
#include <sys/mount.h>

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

enum opt_kind {
        K_NOOP,       /* defaults */
        K_SET,        /* set MS flag and mount attribute */
        K_CLR,        /* clear them */
        K_ATIME,      /* select an atime mode */
        K_ATIME_CLR,  /* drop an atime MS flag, back to the default mode (relatime) */
        K_REC_SET,    /* recursive attribute, set */
        K_REC_CLR,    /* recursive attribute, clear */
        K_REC_ATIME,  /* recursive atime mode */
        K_REC_ATIME_CLR,
        K_PROP,       /* propagation of the mount itself */
        K_RPROP,      /* propagation of the whole subtree */
        K_BIND,
        K_RBIND,
        K_REMOUNT,
        K_TMPCOPYUP,
        K_NOTMPCOPYUP,
        K_IDMAP,
        K_RIDMAP,
};

struct mount_opt {
        const char *name;
        enum opt_kind kind;
        unsigned long ms;
        uint64_t attr;
};

/* name, kind, MS_* flag, MOUNT_ATTR_* value */
#define MOUNT_OPTION_TABLE(_)                                                   \
        _("async", K_CLR, MS_SYNCHRONOUS, 0)                                    \
        _("atime", K_ATIME_CLR, MS_NOATIME, 0)                                  \
        _("bind", K_BIND, 0, 0)                                                 \
        _("defaults", K_NOOP, 0, 0)                                             \
        _("dev", K_CLR, MS_NODEV, MOUNT_ATTR_NODEV)                             \
        _("diratime", K_CLR, MS_NODIRATIME, MOUNT_ATTR_NODIRATIME)              \
        _("dirsync", K_SET, MS_DIRSYNC, 0)                                      \
        _("exec", K_CLR, MS_NOEXEC, MOUNT_ATTR_NOEXEC)                          \
        _("iversion", K_SET, MS_I_VERSION, 0)                                   \
        _("lazytime", K_SET, MS_LAZYTIME, 0)                                    \
        _("loud", K_CLR, MS_SILENT, 0)                                          \
        _("mand", K_SET, MS_MANDLOCK, 0)                                        \
        _("noatime", K_ATIME, MS_NOATIME, MOUNT_ATTR_NOATIME)                   \
        _("nodev", K_SET, MS_NODEV, MOUNT_ATTR_NODEV)                           \
        _("nodiratime", K_SET, MS_NODIRATIME, MOUNT_ATTR_NODIRATIME)            \
        _("noexec", K_SET, MS_NOEXEC, MOUNT_ATTR_NOEXEC)                        \
        _("noiversion", K_CLR, MS_I_VERSION, 0)                                 \
        _("nolazytime", K_CLR, MS_LAZYTIME, 0)                                  \
        _("nomand", K_CLR, MS_MANDLOCK, 0)                                      \
        _("norelatime", K_ATIME_CLR, MS_RELATIME, 0)                            \
        _("nostrictatime", K_ATIME_CLR, MS_STRICTATIME, 0)                      \
        _("nosuid", K_SET, MS_NOSUID, MOUNT_ATTR_NOSUID)                        \
        _("nosymfollow", K_SET, MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW)         \
        _("notmpcopyup", K_NOTMPCOPYUP, 0, 0)                                   \
        _("private", K_PROP, MS_PRIVATE, 0)                                     \
        _("ratime", K_REC_ATIME_CLR, 0, 0)                                      \
        _("rbind", K_RBIND, 0, 0)                                               \
        _("rdev", K_REC_CLR, 0, MOUNT_ATTR_NODEV)                               \
        _("rdiratime", K_REC_CLR, 0, MOUNT_ATTR_NODIRATIME)                     \
        _("relatime", K_ATIME, MS_RELATIME, MOUNT_ATTR_RELATIME)                \
        _("remount", K_REMOUNT, 0, 0)                                           \
        _("rexec", K_REC_CLR, 0, MOUNT_ATTR_NOEXEC)                             \
        _("rnoatime", K_REC_ATIME, 0, MOUNT_ATTR_NOATIME)                       \
        _("rnodev", K_REC_SET, 0, MOUNT_ATTR_NODEV)                             \
        _("rnodiratime", K_REC_SET, 0, MOUNT_ATTR_NODIRATIME)                   \
        _("rnoexec", K_REC_SET, 0, MOUNT_ATTR_NOEXEC)                           \
        _("rnorelatime", K_REC_ATIME_CLR, 0, 0)                                 \
        _("rnostrictatime", K_REC_ATIME_CLR, 0, 0)                              \
        _("rnosuid", K_REC_SET, 0, MOUNT_ATTR_NOSUID)                           \
        _("rnosymfollow", K_REC_SET, 0, MOUNT_ATTR_NOSYMFOLLOW)                 \
        _("ro", K_SET, MS_RDONLY, MOUNT_ATTR_RDONLY)                            \
        _("rprivate", K_RPROP, MS_PRIVATE, 0)                                   \
        _("rrelatime", K_REC_ATIME, 0, MOUNT_ATTR_RELATIME)                     \
        _("rro", K_REC_SET, 0, MOUNT_ATTR_RDONLY)                               \
        _("rrw", K_REC_CLR, 0, MOUNT_ATTR_RDONLY)                               \
        _("rshared", K_RPROP, MS_SHARED, 0)                                     \
        _("rslave", K_RPROP, MS_SLAVE, 0)                                       \
        _("rstrictatime", K_REC_ATIME, 0, MOUNT_ATTR_STRICTATIME)               \
        _("rsuid", K_REC_CLR, 0, MOUNT_ATTR_NOSUID)                             \
        _("rsymfollow", K_REC_CLR, 0, MOUNT_ATTR_NOSYMFOLLOW)                   \
        _("runbindable", K_RPROP, MS_UNBINDABLE, 0)                             \
        _("rw", K_CLR, MS_RDONLY, MOUNT_ATTR_RDONLY)                            \
        _("shared", K_PROP, MS_SHARED, 0)                                       \
        _("silent", K_SET, MS_SILENT, 0)                                        \
        _("slave", K_PROP, MS_SLAVE, 0)                                         \
        _("strictatime", K_ATIME, MS_STRICTATIME, MOUNT_ATTR_STRICTATIME)       \
        _("suid", K_CLR, MS_NOSUID, MOUNT_ATTR_NOSUID)                          \
        _("symfollow", K_CLR, MS_NOSYMFOLLOW, MOUNT_ATTR_NOSYMFOLLOW)           \
        _("sync", K_SET, MS_SYNCHRONOUS, 0)                                     \
        _("tmpcopyup", K_TMPCOPYUP, 0, 0)                                       \
        _("unbindable", K_PROP, MS_UNBINDABLE, 0)                               \
        _("idmap", K_IDMAP, 0, 0)                                               \
        _("ridmap", K_RIDMAP, 0, 0)

#define OPT_ENTRY(n, k, m, a) {n, k, m, a},
#define OPT_NAME(n, k, m, a) n,

static const struct mount_opt mount_opt_table[] = {MOUNT_OPTION_TABLE(OPT_ENTRY)};

const char *const vessel_mount_option_names[] = {MOUNT_OPTION_TABLE(OPT_NAME) NULL};

/* Bare words that are not generic mount options but are understood by some
 * file system (devpts, tmpfs, overlay, xfs); passed through as data. */
static const char *const fs_flag_words[] = {
        "newinstance", "inode64", "inode32", "noswap", "userxattr", "volatile", "nouuid", NULL,
};

/* Relabel/chown markers podman leaves in; not for the kernel. */
static const char *const ignored_words[] = {"z", "Z", "U", NULL};

#define MS_ATIME_MASK (MS_NOATIME | MS_STRICTATIME | MS_RELATIME)

static const struct mount_opt *lookup(const char *name)
{
        for (size_t i = 0; i < ARRAY_SIZE(mount_opt_table); i++)
                if (!strcmp(mount_opt_table[i].name, name))
                        return &mount_opt_table[i];
        return NULL;
}

/* Set or clear bits in a (set, clr) pair; the last option wins. */
static void bits_set(uint64_t *set, uint64_t *clr, uint64_t bits)
{
        *set |= bits;
        *clr &= ~bits;
}
static void bits_clr(uint64_t *set, uint64_t *clr, uint64_t bits)
{
        *clr |= bits;
        *set &= ~bits;
}
static void flags_set(unsigned long *set, unsigned long *clr, unsigned long bits)
{
        *set |= bits;
        *clr &= ~bits;
}
static void flags_clr(unsigned long *set, unsigned long *clr, unsigned long bits)
{
        *clr |= bits;
        *set &= ~bits;
}

/* mount_setattr(2) changes the atime mode as a whole: the complete
 * MOUNT_ATTR__ATIME mask goes into attr_clr and the mode into attr_set
 * (MOUNT_ATTR_RELATIME is 0, the kernel default). */
static void atime_mode(uint64_t *set, uint64_t *clr, uint64_t mode)
{
        *clr |= MOUNT_ATTR__ATIME;
        *set = (*set & ~(uint64_t)MOUNT_ATTR__ATIME) | mode;
}

static void apply(struct vessel_mount_opts *o, const struct mount_opt *m)
{
        switch (m->kind) {
        case K_NOOP:
                break;
        case K_SET:
                flags_set(&o->flags, &o->clear, m->ms);
                bits_set(&o->attr_set, &o->attr_clr, m->attr);
                break;
        case K_CLR:
                flags_clr(&o->flags, &o->clear, m->ms);
                bits_clr(&o->attr_set, &o->attr_clr, m->attr);
                break;
        case K_ATIME:
                o->flags &= ~(unsigned long)MS_ATIME_MASK;
                flags_set(&o->flags, &o->clear, m->ms);
                atime_mode(&o->attr_set, &o->attr_clr, m->attr);
                break;
        case K_ATIME_CLR:
                flags_clr(&o->flags, &o->clear, m->ms);
                atime_mode(&o->attr_set, &o->attr_clr, MOUNT_ATTR_RELATIME);
                break;
        case K_REC_SET:
                bits_set(&o->rec_attr_set, &o->rec_attr_clr, m->attr);
                break;
        case K_REC_CLR:
                bits_clr(&o->rec_attr_set, &o->rec_attr_clr, m->attr);
                break;
        case K_REC_ATIME:
                atime_mode(&o->rec_attr_set, &o->rec_attr_clr, m->attr);
                break;
        case K_REC_ATIME_CLR:
                atime_mode(&o->rec_attr_set, &o->rec_attr_clr, MOUNT_ATTR_RELATIME);
                break;
        case K_PROP:
        case K_RPROP:
                o->propagation = m->ms;
                o->propagation_rec = m->kind == K_RPROP;
                break;
        case K_RBIND:
                o->rbind = true;
                /* fall through */
        case K_BIND:
                o->bind = true;
                break;
        case K_REMOUNT:
                o->remount = true;
                break;
        case K_TMPCOPYUP:
                o->tmpcopyup = true;
                break;
        case K_NOTMPCOPYUP:
                o->tmpcopyup = false;
                break;
        case K_IDMAP:
                o->idmap = true;
                break;
        case K_RIDMAP:
                o->ridmap = true;
                break;
        }
}

static void add_data(struct vessel_mount_opts *o, const char *s)
{
        o->data = strv_append(o->data, s);
        o->n_data++;
}

void mount_opts_free(struct vessel_mount_opts *o)
{
        if (!o)
                return;
        strv_free(o->data);
        o->data = NULL;
        o->n_data = 0;
}

int mount_options_parse(char *const *options, size_t n, struct vessel_mount_opts *out,
                        const char *where, vessel_error **err)
{
        struct vessel_mount_opts o = {0};

        for (size_t i = 0; i < n; i++) {
                const char *opt = options[i];
                const struct mount_opt *m;

                if (!opt || !*opt)
                        continue;
                if (strchr(opt, '=') || vessel_name_index(fs_flag_words, opt) >= 0) {
                        add_data(&o, opt);
                        continue;
                }
                if (vessel_name_index(ignored_words, opt) >= 0)
                        continue;
                m = lookup(opt);
                if (!m) {
                        mount_opts_free(&o);
                        return vessel_error_msg(err, EINVAL, "%s: unknown mount option \"%s\"",
                                                where ? where : "options", opt);
                }
                apply(&o, m);
        }
        *out = o;
        return 0;
}
