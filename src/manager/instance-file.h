/* instance-file.h: files in an instance's rootfs (`vesselctl file push,
 * pull, delete`), as Incus's `incus file` does them.
 *
 * The work is on instances/NAME/rootfs whether the instance runs or not;
 * the mounts of a running instance (a tmpfs on /tmp, disk devices) live
 * in its own mount namespace and are not seen.
 *
 * Every path inside the instance is resolved confined to its root:
 * parents with openat2(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS) from the
 * rootfs fd, so that a symlink to "/etc/shadow" or "../../.." resolves
 * inside the rootfs, never on the host; the last component is never
 * followed for a write: a pushed file is written to an unnamed (or
 * hidden, O_EXCL) file in its parent and renamed over the name, so that
 * a symlink or device node there is replaced, never written through;
 * delete unlinks the name itself.  A pull reads only regular files
 * (re-opened from an O_PATH fd, so that a device node is never opened),
 * following symlinks inside the root. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "store.h"

/* NAME/PATH on the command line. */
struct file_spec {
        char *instance;
        char *path; /* cleaned, absolute: "/" or "/a/b" */
        bool dir;   /* the argument ended in '/' (or named "/") */
};

/* "web1/etc/hosts" -> {"web1", "/etc/hosts", false}.  An error naming arg
 * when there is no '/' or no name before it. */
int file_spec_parse(const char *arg, struct file_spec *out, vessel_error **err);
void file_spec_free(struct file_spec *f);

/* The lexical clean of path as an absolute path (Go's path.Clean of
 * "/" + path): no empty, "." or ".." components; ".." at the top stays
 * at the top.  Heap string. */
char *file_path_clean(const char *path);

/* "755", "0644", "4755": an octal mode of at most 07777; -EINVAL else. */
int file_mode_parse(const char *s, mode_t *out);

struct file_push_opts {
        bool recursive; /* -r: sources are trees, put inside dest */
        bool parents;   /* -p: create missing directories of dest */
        int64_t uid;    /* -1: 0 */
        int64_t gid;    /* -1: 0 */
        int mode;       /* -1: the source's (0644 for standard input) */
};

/* Push host files (or "-", standard input) to dest.  Without recursive:
 * one source to dest itself, or into dest when dest is a directory
 * (spec->dir or an existing one); several sources need a directory.
 * With recursive: each source (file or tree) goes inside the directory
 * dest, by its base name; symlinks are copied as symlinks; --mode is
 * refused (files and directories keep their own). */
int instance_file_push(struct vessel_store *s, char *const *srcs, size_t n,
                       const struct file_spec *dest, const struct file_push_opts *o,
                       vessel_error **err);

struct file_pull_opts {
        bool recursive; /* -r: directories with their trees */
        bool parents;   /* -p: create missing host directories of dest */
};

/* Pull instance files to the host path dest ("-": standard output).  As
 * Incus: dest is a directory when it is one, ends in '/', or there are
 * several sources (then it is created).  Modes are kept without set-id
 * and sticky bits; owners are the caller's. */
int instance_file_pull(struct vessel_store *s, const struct file_spec *srcs, size_t n,
                       const char *dest, const struct file_pull_opts *o, vessel_error **err);

/* Delete a file, symlink (not its target) or empty directory; force: a
 * whole tree, and a missing path is not an error. */
int instance_file_delete(struct vessel_store *s, const struct file_spec *spec, bool force,
                         vessel_error **err);
