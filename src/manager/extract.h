/* extract.h: unpacking image tarballs (read with libarchive) into the
 * store, confined to the image's directories.
 *
 * Every entry name is cleaned first: absolute names and ".." components
 * are refused.  Every write is then made by a single name relative to a
 * parent directory opened with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV) from the tree's root fd, so an
 * entry that would be written through a symlink leading out of the tree
 * (absolute, or ".." past the root) is refused, and the last component is
 * never followed (O_NOFOLLOW, O_EXCL, AT_SYMLINK_NOFOLLOW).  Owners
 * (numeric), modes, xattrs, times, device nodes, fifos, hard links and
 * symlinks are kept. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <archive.h>
#include <archive_entry.h>

#include "error.h"

/* Clean an entry name: strip "./" and empty components; *out is the
 * relative path ("" for the root itself).  -EPERM for an absolute name,
 * -EINVAL for a ".." component or an empty name. */
int path_clean(const char *name, char **out);

enum extract_layout {
        LAYOUT_UNIFIED, /* metadata.yaml, rootfs/..., templates/... */
        LAYOUT_META,    /* metadata.yaml, templates/... (split image) */
        LAYOUT_ROOTFS,  /* the rootfs itself (split image, plain rootfs) */
};

/* Where an entry of a given layout goes. */
enum extract_dest {
        DEST_IGNORE,
        DEST_METADATA,
        DEST_ROOTFS,
        DEST_TEMPLATES,
};
/* For a cleaned name: the destination and the path inside it (pointing
 * into clean). */
enum extract_dest extract_route(enum extract_layout layout, const char *clean, const char **rel);

struct dir_time;

struct extractor {
        int rootfs_fd; /* O_DIRECTORY fds of the trees */
        int templates_fd;
        char *metadata; /* metadata.yaml's content, when met */
        size_t metadata_len;
        struct dir_time *dir_times; /* directory times, set at the end */
        size_t n_dir_times;
        size_t n_entries;
        /* A rootless store's: the rootfs's id N is stored as id_base + N
         * (N < id_size, else an error; id_size 0: ids as they are), the
         * templates as the caller's; device nodes are skipped (counted). */
        uint32_t id_base, id_size;
        bool skip_devices;
        size_t n_skipped_devices;
};

void extractor_init(struct extractor *x, int rootfs_fd, int templates_fd);
void extractor_free(struct extractor *x);
/* Unpack every entry of a (opened for reading); what names the tarball in
 * errors. */
int extract_archive(struct extractor *x, struct archive *a, enum extract_layout layout,
                    const char *what, vessel_error **err);
/* One entry into tree (x->rootfs_fd or x->templates_fd) at rel, a
 * cleaned path ("" for the tree's top), or with hardlink_rel (cleaned,
 * in the same tree) a hard link to it: for a caller that routes the
 * entries of its own layout (instance-import.c). */
int extract_entry(struct extractor *x, struct archive *a, struct archive_entry *e, int tree,
                  const char *rel, const char *hardlink_rel, const char *what, vessel_error **err);
/* Set the directories' times (after all entries, which change them). */
int extract_finish(struct extractor *x, vessel_error **err);
