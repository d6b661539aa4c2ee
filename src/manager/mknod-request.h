/* mknod-request.h: the pure half of the mknod supervisor
 * (mknod-supervisor.h): what a seccomp notification of mknod(2) or
 * mknodat(2) asks for, what the supervisor does with it, and the caller's
 * credentials as /proc/PID/status and /proc/PID/uid_map tell them.  No
 * system calls here, so that all of it is unit-tested. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct mknod_call {
        int dirfd;          /* AT_FDCWD, or the caller's fd (mknodat) */
        uint64_t path_addr; /* in the caller's memory */
        mode_t mode;        /* as passed: file type and permissions, before the umask */
        unsigned int major, minor;
};

/* The mknod or mknodat of a seccomp notification (its AUDIT_ARCH_*, its
 * syscall number and arguments); -ENOSYS when it is another syscall or an
 * architecture we do not know (the supervisor lets the kernel run it). */
int mknod_call_decode(uint32_t arch, int nr, const uint64_t args[6], struct mknod_call *out);

enum mknod_kind {
        MKNOD_KERNEL,   /* FIFO, socket, regular file, bad type: the kernel's to do */
        MKNOD_WHITEOUT, /* char 0:0: needs no CAP_MKNOD (as in the kernel) */
        MKNOD_DEVICE,   /* another char or block node: ours to create */
};

enum mknod_kind mknod_call_kind(const struct mknod_call *c);

/* What /proc/PID/status says about the caller, ids as the reader's user
 * namespace sees them (the monitor's: the host's). */
struct mknod_caller {
        uid_t fsuid;
        gid_t fsgid;
        mode_t umask;
        uint64_t cap_eff;
        gid_t *groups; /* malloc'd */
        size_t n_groups;
};

int mknod_caller_parse_status(const char *text, struct mknod_caller *out);
void mknod_caller_free(struct mknod_caller *c);

/* Whether a uid_map or gid_map text ("inside outside count" lines, as
 * a reader in the parent namespace sees them) maps the outside id. */
bool mknod_idmap_has_outside(const char *map, uint32_t id);

/* The path split as the kernel's filename_create() sees it: *dir is the
 * part before the last component ("." when none, "/" for the root), *base
 * the last component; *trailing_slash when the path ended in '/'.  Returns
 * -ENOENT for "" and -EEXIST when the last component is ".", ".." or
 * nothing ("/"), as mknod(2) does; -ENAMETOOLONG past PATH_MAX. */
int mknod_path_split(const char *path, char **dir, char **base, bool *trailing_slash);
