/* idrange.h: the host uid/gid range of each unprivileged instance.
 *
 * Every instance that is not security.privileged gets a user namespace
 * whose ids map to a range of host ids of its own (Incus's
 * security.idmap.isolated, nspawn's --private-users=pick), carved from
 * root's subordinate ids in /etc/subuid and /etc/subgid: first fit, in
 * one catalogue transaction (BEGIN IMMEDIATE), so that parallel starts
 * never get overlapping ranges.  The range is kept in the catalogue
 * (table idmaps) across stops and restarts and goes with the instance's
 * row.  The rootfs is not chowned: the runtime idmaps it (files owned by
 * host root show as the instance's root), so a range can change without
 * touching a file.
 *
 * Keys: security.idmap.size (default 65536, a multiple of it),
 * security.idmap.base (a fixed start), security.idmap.isolated (false:
 * the one range all such instances share, Docker's --userns-remap), and
 * raw.idmap ("uid|gid|both HOST[-HOST] CONTAINER[-CONTAINER]" lines: host
 * ids mapped through).
 *
 * The pure parts (parsing, first fit, building maps) are exposed for the
 * unit tests. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "error.h"
#include "spec.h"
#include "store.h"

#define IDRANGE_BLOCK 65536u
/* The entry made for root when /etc/subuid and /etc/subgid have none:
 * a billion ids from START (Incus suggests the same). */
#define IDRANGE_ROOT_START 1000000u
#define IDRANGE_ROOT_COUNT 1000000000u

struct id_range {
        uint64_t start, size;
};

/* The subordinate ranges of user (by name, or uid as a number) in text
 * (/etc/subuid format), in file order.  A malformed line is an error
 * naming file and line; other users' lines are only checked. */
int idrange_subid_parse(const char *text, const char *file, const char *user, uint32_t uid,
                        struct id_range **out, size_t *n, vessel_error **err);

/* The ids in both a and b, as ranges, in ascending order. */
size_t idrange_intersect(const struct id_range *a, size_t na, const struct id_range *b,
                         size_t nb, struct id_range **out);

/* The lowest start of size ids, a multiple of IDRANGE_BLOCK from the
 * pool's range start, inside pool and apart from every taken range.
 * -ENOSPC when there is none. */
int idrange_first_fit(const struct id_range *pool, size_t npool, const struct id_range *taken,
                      size_t ntaken, uint64_t size, uint64_t *start);

/* ------------------------------------------------------------- rootless
 *
 * A store opened by a non-root user (store_is_rootless) takes nothing
 * from root's lines: its pool is the user's own subordinate ids (its
 * lines in /etc/subuid and /etc/subgid, by name or uid; ids in both).
 * The pool's first IDRANGE_BLOCK ids hold the images' files (an image's
 * id N is stored as host id pool start + N, so that the user can never
 * write them itself); the instances' ranges are carved from the rest as
 * for root.  vesselctl never adds lines for a non-root user. */
#define IDRANGE_ROOTLESS_MIN (2 * IDRANGE_BLOCK)

struct idrange_user {
        uint32_t uid, gid;
        char *name;
        struct id_range *pool; /* ascending */
        size_t n;
};

/* Whether pool can serve a rootless store: at least IDRANGE_ROOTLESS_MIN
 * ids, the first range holding the images' block (above IDRANGE_BLOCK,
 * so that an image's id and a pool id never look alike) and one more
 * block; else an error naming user, the numbers and the files. */
int idrange_user_pool_check(const struct id_range *pool, size_t n, const char *user,
                            const char *subuid, const char *subgid, vessel_error **err);
/* The calling user's ids and pool (checked). */
int idrange_user_read(struct idrange_user *u, vessel_error **err);
void idrange_user_free(struct idrange_user *u);
/* Host id of an image's id 0 in a rootless store. */
static inline uint64_t idrange_user_image_base(const struct idrange_user *u)
{
        return u->pool[0].start;
}

/* One raw.idmap line. */
struct raw_idmap {
        bool uid, gid;
        uint32_t host, container, size;
};
int idrange_raw_parse(const char *text, struct raw_idmap **out, size_t *n, vessel_error **err);

/* The uid (or gid) map of an instance: container ids 0..size-1 onto
 * base.., but for the raw lines' container ids, which map to their host
 * ids.  Checks that raw lines stay inside 0..size-1 and do not overlap. */
int idrange_build_map(uint64_t base, uint64_t size, const struct raw_idmap *raw, size_t nraw,
                      bool uid, struct vessel_idmap **out, size_t *n, vessel_error **err);

/* What an instance runs with: no maps when privileged. */
struct instance_idmap {
        bool privileged;
        uint64_t base, size;
        bool isolated;
        struct vessel_idmap *uids, *gids;
        size_t n_uids, n_gids;
};
void instance_idmap_free(struct instance_idmap *m);

/* security.privileged of an expanded configuration. */
bool idrange_privileged(const struct confset *c);

/* The range of instance id (named name) with its expanded configuration
 * c: kept if it still fits the keys and the pool, else allocated, in one
 * transaction (the caller must hold none). */
int idrange_ensure(struct vessel_store *s, int64_t id, const char *name, const struct confset *c,
                   struct instance_idmap *out, vessel_error **err);

/* The range recorded for an instance: *found false when it has none. */
int idrange_get(struct vessel_store *s, int64_t id, uint64_t *base, uint64_t *size,
                bool *isolated, bool *found, vessel_error **err);
