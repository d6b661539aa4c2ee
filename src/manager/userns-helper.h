/* userns-helper.h: work over the files of a rootless store, which are
 * owned by the user's subordinate ids (idrange.h, "rootless").
 *
 * A non-root user may not chown a file to its subordinate ids, nor
 * remove what they own; the root of a user namespace that maps them may.
 * userns_run forks a child that unshares a user namespace; the parent
 * maps it through newuidmap and newgidmap (the setuid helpers of package
 * uidmap, which check every range against /etc/subuid and /etc/subgid);
 * the child becomes the namespace's root and runs fn, with every
 * capability over files owned by mapped ids and none over anything else
 * of the host.  The map is the host's own view: the user's uid and gid
 * are 0 and the pool is mapped onto itself, so that an id read in the
 * child is the host's (but for the user's own, read as 0) and an id
 * given to chown is the host's.  fn's error comes back through a pipe
 * with its code; whatever else fn changes in memory stays in the child.
 *
 * Used for unpacking images, copying, shifting and removing the trees
 * of a rootless store, and for writing templates into an instance. */
#pragma once

#include "error.h"
#include "idrange.h"

typedef int (*userns_fn)(void *arg, vessel_error **err);

/* Run fn(arg) as root of a user namespace mapping u's ids as above; what
 * names the work in errors about the namespace itself. */
int userns_run(const struct idrange_user *u, const char *what, userns_fn fn, void *arg,
               vessel_error **err);

/* The same for the calling user (idrange_user_read). */
int userns_run_self(const char *what, userns_fn fn, void *arg, vessel_error **err);

/* rm -rf dirfd/name through the helper (a rootless store's trees); as
 * the user itself when it has no usable pool (nothing of other ids can
 * be in its store then). */
int userns_rm_rf_at(int dirfd, const char *name, vessel_error **err);
