/* container.h: the OCI lifecycle: create, start, run, state, kill,
 * delete, list.  The CLI calls only these. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "state.h"

struct vessel_runtime {
        const char *root; /* state root, e.g. /run/vessel */
        bool debug;
};

struct vessel_create_opts {
        const char *id;
        const char *bundle;  /* NULL = current directory */
        const char *config;  /* NULL = <bundle>/config.json */
        const char *pid_file;
        const char *console_socket;
        bool no_pivot;
        bool no_new_keyring;
        int preserve_fds;
        bool detach;     /* run only */
        bool foreground; /* run without --detach: vessel relays the terminal itself */
        bool keep;       /* run in the foreground: leave the stopped container for delete */
        bool no_subreaper; /* run in the foreground: do not collect orphans (runc's --no-subreaper) */
        const char *cgroup_manager; /* "cgroupfs" (NULL) or "disabled" */
};

int vessel_create(const struct vessel_runtime *rt, const struct vessel_create_opts *o,
                  vessel_error **err);
int vessel_start(const struct vessel_runtime *rt, const char *id, vessel_error **err);
/* create + start; unless detached, wait, forward signals, delete (unless
 * keep), and return the exit status (128 + signal when killed) in *status. */
int vessel_run(const struct vessel_runtime *rt, const struct vessel_create_opts *o, int *status,
               vessel_error **err);
/* The OCI state JSON of a container (malloc'd). */
int vessel_state(const struct vessel_runtime *rt, const char *id, char **json, vessel_error **err);
int vessel_kill(const struct vessel_runtime *rt, const char *id, int sig, bool all,
                vessel_error **err);
int vessel_delete(const struct vessel_runtime *rt, const char *id, bool force, vessel_error **err);

struct vessel_list_entry {
        struct vessel_state st;
        enum vessel_status status;
};
int vessel_list(const struct vessel_runtime *rt, struct vessel_list_entry **out, size_t *n,
                vessel_error **err);
void vessel_list_free(struct vessel_list_entry *l, size_t n);
