/* state.h: one directory per container under the state root, holding
 * state.json (written atomically), a copy of config.json and the fifos.
 * Every command that changes a container holds an flock on its directory;
 * readers (state, list) need none, since every write is a rename.
 *
 * A directory appears under its id only with a state.json in it (it is
 * made under a hidden name and renamed), and disappears the same way (it
 * is renamed to a hidden name first), so a command killed at any moment
 * leaves either a container that `delete` removes or a hidden directory
 * that state_root_gc() removes.  Until create has finished (ready), the
 * state names its creator: while that process lives the container is
 * "creating", after it died "stopped". */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"
#include "spec.h"

enum vessel_status {
        VESSEL_CREATING,
        VESSEL_CREATED,
        VESSEL_RUNNING,
        VESSEL_PAUSED,
        VESSEL_STOPPED,
};

struct vessel_state {
        char *id;
        pid_t pid;                     /* host pid of the container's init, 0 if none */
        unsigned long long start_time; /* /proc/<pid>/stat field 22, guards against pid reuse */
        char *bundle;
        char *created;     /* RFC 3339 */
        char *owner;       /* "" for root, as runc prints */
        bool started;      /* start has released the init */
        char *cgroup_path; /* cgroup_state_path() (cgroup-values.h), NULL without a cgroup */
        struct vessel_kv *annotations;
        size_t n_annotations;
        char *rootfs; /* absolute */
        bool use_systemd;
        bool ready;    /* create finished: init is set up and waits for start */
        pid_t creator; /* the create (or run) that made it, while not ready */
        unsigned long long creator_start;
};

const char *vessel_status_name(enum vessel_status s);

/* Validate a container id: non-empty, at most 1024 bytes, [A-Za-z0-9_+.-], no "." or "..". */
int state_check_id(const char *id, vessel_error **err);

/* Create <root>/<st->id> holding st as its state.json, atomically; fails
 * with EEXIST and a clear message on duplicates.  Returns an O_DIRECTORY
 * fd with an exclusive flock held. */
int state_dir_create(const char *root, const struct vessel_state *st, vessel_error **err);

enum state_lock { STATE_LOCK_NONE, STATE_LOCK_SHARED, STATE_LOCK_EXCLUSIVE };
/* Open (and lock) an existing container's directory (ENOENT: "container X
 * does not exist", also when it was removed while we waited for the lock). */
int state_dir_open(const char *root, const char *id, enum state_lock lock, vessel_error **err);
/* Remove a container's directory: hidden at once, then emptied. */
int state_dir_remove(const char *root, const char *id);
/* Remove what killed commands left: hidden directories of creates that
 * never published theirs and of deletes that did not finish. */
void state_root_gc(const char *root);

int state_write(int dirfd, const struct vessel_state *st, vessel_error **err);
int state_read(int dirfd, struct vessel_state *st, vessel_error **err);
void state_clear(struct vessel_state *st);

/* Write pid to a --pid-file atomically (relative paths: to the cwd). */
int write_pid_file(const char *path, pid_t pid, vessel_error **err);
/* The process start time from /proc/<pid>/stat, 0 if the process is gone. */
unsigned long long proc_start_time(pid_t pid, char *state_char);
/* The live status of a container (checks the process, pid reuse, freezer). */
enum vessel_status state_status(const struct vessel_state *st);
/* The OCI state JSON (with runc's extra "created" and "owner"). */
char *state_to_json(const struct vessel_state *st, enum vessel_status status, bool pretty);
/* A copy of a state JSON with another "pid" (hooks in the container's
 * namespaces get the pid as the container sees it, runtime-spec runtime.md). */
char *state_json_set_pid(const char *json, pid_t pid);
