/* idshift.h: the fallback for a rootfs that cannot be idmapped.
 *
 * The runtime idmaps an unprivileged instance's rootfs (idrange.h), which
 * every local file system of recent kernels allows; tmpfs before Linux
 * 6.3, NFS and others do not.  There the instance's files are shifted
 * once into its range: each file owned by an id below the range's size
 * gets BASE + id (set-id bits and file capabilities kept), with a line on
 * stderr.  The record is a marker beside the rootfs
 * (instances/NAME/rootfs.shift), written before the walk ("shifting FROM
 * TO SIZE") and after it ("shifted BASE SIZE"), so it stays with the files
 * whatever happens to the catalogue.  The walk is idempotent: ids already
 * in the range are left alone, so a walk killed halfway is carried on and
 * a lost or stale record can never shift a file twice.  A new range (the
 * keys changed) moves the files from the old one. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "error.h"
#include "idrange.h"

/* The id a file owned by id gets when moved from range FROM (0: not
 * shifted) to TO, of size ids each. */
uint32_t idshift_map(uint32_t id, uint64_t from, uint64_t to, uint64_t size);

/* At start: *shifted true when the files are (now) shifted to base, so
 * that the runtime must not idmap the rootfs; false when it can.  With
 * rootless (a rootless store's user), idmapped mounts are out of reach
 * (they need CAP_SYS_ADMIN in the initial user namespace): no probe, the
 * files are always shifted, from where the record says (the copy of an
 * image records the images' block), by the walk run through the user
 * namespace helper (userns-helper.h). */
int idshift_prepare(int inst_dirfd, const char *name, const char *rootfs, uint64_t base,
                    uint64_t size, const struct idrange_user *rootless, bool *shifted,
                    vessel_error **err);

/* The same for the upper layer of an overlay (storage-overlay.c), whose
 * lower layers are idmapped instead: always shifted, quietly. */
int idshift_prepare_layer(int inst_dirfd, const char *name, const char *dir, uint64_t base,
                          uint64_t size, vessel_error **err);
/* The record of the files of from_dirfd into to_dirfd, which holds a
 * copy of them (cp -a keeps their ids): 0 also when there is none. */
int idshift_record_copy(int from_dirfd, int to_dirfd, vessel_error **err);
/* A record that says "shifting FROM TO SIZE" (a walk killed halfway,
 * its files at both ranges): the walk carried on over dir (a copy of
 * the files with their record) until all are at TO, quietly; 0 when
 * there is no such record.  rootless: as for idshift_prepare. */
int idshift_finish(int inst_dirfd, const char *name, const char *dir,
                   const struct idrange_user *rootless, vessel_error **err);
/* 1 with the range when the record says the files are shifted there. */
int idshift_range(int inst_dirfd, uint64_t *base, uint64_t *size);
/* Record that the files in inst_dirfd's rootfs are at host ids base..
 * (a rootless store's fresh copy of an image: the images' block). */
int idshift_record(int inst_dirfd, uint64_t base, uint64_t size, vessel_error **err);

/* Where the record says the files are now: 1 and *base when it names
 * a range (the target of one being shifted, too), 0 when there is no
 * record. */
int idshift_current(int inst_dirfd, uint64_t *base);

/* Whether the marker says the files are shifted to base (no probe). */
bool idshift_recorded(int inst_dirfd, uint64_t base, uint64_t size);
