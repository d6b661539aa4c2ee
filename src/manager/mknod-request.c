/* mknod-request.c: decoding a notified mknod, and the caller's
 * credentials (see mknod-request.h). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/audit.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "mknod-request.h"
#include "util.h"

#define X32_SYSCALL_BIT 0x40000000

/* The syscall numbers of mknod and mknodat (-1: none) of every ABI a
 * filter of ours lets through (oci-gen-seccomp.c lists the same). */
static const struct {
        uint32_t arch;
        int mknod, mknodat;
        bool wide; /* 64-bit arguments */
} abis[] = {
    {AUDIT_ARCH_X86_64, 133, 259, true},
    {AUDIT_ARCH_I386, 14, 297, false},
    {AUDIT_ARCH_AARCH64, -1, 33, true},
    {AUDIT_ARCH_ARM, 14, 324, false},
};

int mknod_call_decode(uint32_t arch, int nr, const uint64_t args[6], struct mknod_call *out)
{
        uint64_t a[6];
        unsigned int dev;
        size_t i;
        bool at;

        for (i = 0; i < ARRAY_SIZE(abis); i++)
                if (abis[i].arch == arch)
                        break;
        if (i == ARRAY_SIZE(abis))
                return -ENOSYS;
        if (arch == AUDIT_ARCH_X86_64 && (nr & X32_SYSCALL_BIT))
                nr &= ~X32_SYSCALL_BIT; /* x32: the same numbers, 32-bit pointers */
        if (nr == abis[i].mknodat)
                at = true;
        else if (abis[i].mknod >= 0 && nr == abis[i].mknod)
                at = false;
        else
                return -ENOSYS;
        for (size_t j = 0; j < 6; j++)
                a[j] = abis[i].wide ? args[j] : (uint32_t)args[j];
        if (at) {
                /* The kernel takes (int dfd, const char *, umode_t, unsigned dev). */
                out->dirfd = (int)(int32_t)(uint32_t)a[0];
                a[0] = a[1], a[1] = a[2], a[2] = a[3];
        } else
                out->dirfd = AT_FDCWD;
        out->path_addr = a[0];
        out->mode = (mode_t)(uint16_t)a[1]; /* umode_t */
        /* new_decode_dev(): what glibc's makedev() encodes below 2^32. */
        dev = (unsigned int)a[2];
        out->major = (dev & 0xfff00) >> 8;
        out->minor = (dev & 0xff) | ((dev >> 12) & 0xfff00);
        return 0;
}

enum mknod_kind mknod_call_kind(const struct mknod_call *c)
{
        switch (c->mode & S_IFMT) {
        case S_IFCHR:
                return c->major == 0 && c->minor == 0 ? MKNOD_WHITEOUT : MKNOD_DEVICE;
        case S_IFBLK:
                return MKNOD_DEVICE;
        default:
                return MKNOD_KERNEL;
        }
}

/* The fourth field of "Uid:\tR\tE\tS\tFS". */
static int fourth(const char *v, unsigned long *out)
{
        unsigned long f[4];

        if (sscanf(v, "%lu %lu %lu %lu", &f[0], &f[1], &f[2], &f[3]) != 4)
                return -EINVAL;
        *out = f[3];
        return 0;
}

static int parse_groups(const char *v, struct mknod_caller *c)
{
        char *end;

        for (;;) {
                while (*v == ' ' || *v == '\t')
                        v++;
                if (!*v || *v == '\n')
                        return 0;
                unsigned long g = strtoul(v, &end, 10);
                if (end == v)
                        return -EINVAL;
                c->groups = realloc(c->groups, (c->n_groups + 1) * sizeof(*c->groups));
                if (!c->groups)
                        abort();
                c->groups[c->n_groups++] = (gid_t)g;
                v = end;
        }
}

int mknod_caller_parse_status(const char *text, struct mknod_caller *out)
{
        bool uid = false, gid = false, mask = false, cap = false;
        unsigned long v;

        *out = (struct mknod_caller){0};
        for (const char *l = text; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                if (str_has_prefix(l, "Uid:") && fourth(l + 4, &v) == 0) {
                        out->fsuid = (uid_t)v;
                        uid = true;
                } else if (str_has_prefix(l, "Gid:") && fourth(l + 4, &v) == 0) {
                        out->fsgid = (gid_t)v;
                        gid = true;
                } else if (str_has_prefix(l, "Umask:") && sscanf(l + 6, "%lo", &v) == 1) {
                        out->umask = (mode_t)v & 0777;
                        mask = true;
                } else if (str_has_prefix(l, "CapEff:") &&
                           sscanf(l + 7, "%" SCNx64, &out->cap_eff) == 1)
                        cap = true;
                else if (str_has_prefix(l, "Groups:") && parse_groups(l + 7, out) < 0) {
                        mknod_caller_free(out);
                        return -EINVAL;
                }
        }
        if (!uid || !gid || !mask || !cap) {
                mknod_caller_free(out);
                return -EINVAL;
        }
        return 0;
}

void mknod_caller_free(struct mknod_caller *c)
{
        free(c->groups);
        c->groups = NULL;
        c->n_groups = 0;
}

bool mknod_idmap_has_outside(const char *map, uint32_t id)
{
        for (const char *l = map; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL) {
                unsigned long inside, outside, count;
                if (sscanf(l, "%lu %lu %lu", &inside, &outside, &count) == 3 && id >= outside &&
                    id - outside < count)
                        return true;
        }
        return false;
}

int mknod_path_split(const char *path, char **dir, char **base, bool *trailing_slash)
{
        size_t len = strlen(path), end, start;

        *dir = *base = NULL;
        *trailing_slash = false;
        if (len == 0)
                return -ENOENT;
        if (len >= PATH_MAX)
                return -ENAMETOOLONG;
        end = len;
        while (end > 0 && path[end - 1] == '/')
                end--;
        *trailing_slash = end < len;
        if (end == 0)
                return -EEXIST; /* "/" */
        start = end;
        while (start > 0 && path[start - 1] != '/')
                start--;
        if ((end - start == 1 && path[start] == '.') ||
            (end - start == 2 && path[start] == '.' && path[start + 1] == '.'))
                return -EEXIST;
        if (end - start > NAME_MAX)
                return -ENAMETOOLONG;
        *base = strndup(path + start, end - start);
        if (start == 0)
                *dir = xstrdup(".");
        else {
                size_t d = start;
                while (d > 1 && path[d - 1] == '/')
                        d--; /* "a//b": "a"; "/b": "/" */
                *dir = strndup(path, d);
        }
        if (!*base || !*dir)
                abort();
        return 0;
}
