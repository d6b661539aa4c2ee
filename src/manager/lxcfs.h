/* lxcfs.h: /proc and /sys that show the instance, through lxcfs.
 *
 * lxcfs is a FUSE file system that answers reads of meminfo, cpuinfo,
 * stat, uptime, ... with the reader's cgroup limits (its memory limit, its
 * cpuset) instead of the host's.  An instance gets bind mounts of those
 * files over its /proc files and of lxcfs's sys/devices/system/cpu over
 * its /sys/devices/system/cpu, as LXC's lxcfs mount hook does
 * (oci-gen.c appends them; lxcfs_binds() lists them).
 *
 * At instance start the manager uses a live lxcfs at the directory
 * (default /var/lib/lxcfs, the distribution's lxcfs.service), or starts
 * one there itself when lxcfs is installed, or goes on without it, saying
 * so in one line on stderr.  Nothing here may hang a command: an lxcfs
 * that was killed leaves a mount that answers ENOTCONN, one that is
 * stopped or deadlocked leaves one that does not answer at all; both are
 * probed with a bounded wait (lxcfs_probe).
 *
 * Knobs, for tests and unusual hosts:
 *   VESSEL_LXCFS_DIR   the mount point (default /var/lib/lxcfs)
 *   VESSEL_LXCFS_BIN   the binary to start (default /usr/bin/lxcfs); a
 *                      path that does not exist means "not installed"
 * What the manager's own lxcfs keeps (pid file, log, the start lock)
 * lives in /run/vesselctl/lxcfs/<key>.{pid,log,lock}, key the 12 hex
 * digits of the SHA-256 of the mount point. */
#pragma once

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>

#include "error.h"

#define LXCFS_DIR_DEFAULT "/var/lib/lxcfs"
#define LXCFS_BIN_DEFAULT "/usr/bin/lxcfs"
#define LXCFS_RUN_DIR "/run/vesselctl/lxcfs"

/* How long the liveness probe and the wait for a new lxcfs's mount may
 * take, in milliseconds. */
#define LXCFS_PROBE_TIMEOUT_MS 2000
#define LXCFS_MOUNT_TIMEOUT_MS 5000

/* Whether the text of a /proc/PID/mountinfo has a fuse.lxcfs mount at
 * dir (an absolute path without a trailing slash; mountinfo's octal
 * escapes are decoded).  Pure. */
bool lxcfs_mountinfo_has(const char *mountinfo, const char *dir);

enum lxcfs_state {
        LXCFS_ABSENT, /* no fuse.lxcfs mount at the directory */
        LXCFS_LIVE,   /* it answers */
        LXCFS_DEAD,   /* its mount says ENOTCONN: the daemon is gone */
        LXCFS_HUNG,   /* no answer within the timeout */
        LXCFS_BROKEN, /* some other error: neither used nor touched */
};
const char *lxcfs_state_name(enum lxcfs_state s);

/* The state of the lxcfs mounted at dir, within timeout_ms. */
enum lxcfs_state lxcfs_probe(const char *dir, int timeout_ms);

/* One bind of an instance: source below the lxcfs directory, destination
 * in the instance. */
struct lxcfs_bind {
        char source[PATH_MAX];
        const char *destination;
        bool directory;
};
/* The binds for the lxcfs at dir: only of the files it provides (an
 * older lxcfs has fewer).  At most max; returns how many. */
size_t lxcfs_binds(const char *dir, struct lxcfs_bind *out, size_t max);
#define LXCFS_BINDS_MAX 16

/* $VESSEL_LXCFS_DIR, else LXCFS_DIR_DEFAULT (a static string). */
const char *lxcfs_dir(void);

/* The lxcfs directory an instance that starts now gets (*dir, malloc'ed),
 * or NULL when there is none: lxcfs_dir() when it lives there, else
 * after starting lxcfs there (one at a time, under a lock) when it is
 * installed.  Says what it did or why there is none in one line on
 * stderr.  Never fails the start: no lxcfs means the host's /proc. */
void lxcfs_ensure(char **dir);

/* Without starting anything or saying a word: lxcfs_dir() if a live
 * lxcfs is there, else NULL (for `vesselctl config show --oci`). */
char *lxcfs_live_dir(void);
