/* exec.h: run another process in a running container (runc exec). */
#pragma once

#include <stdbool.h>
#include "container.h"

struct vessel_exec_opts {
        const char *id;
        const char *process_file;   /* --process FILE ("-" = stdin) */
        char **args;                /* the command line, when no --process */
        char **env;                 /* --env KEY=VALUE, added to (or replacing) the config's */
        const char *cwd;            /* --cwd */
        const char *user;           /* --user UID[:GID] */
        char **additional_gids;     /* --additional-gids */
        char **caps;                /* --cap CAP_X, added */
        bool tty;                   /* --tty */
        bool tty_set;               /* --tty given (a --process file keeps its own otherwise) */
        bool detach;
        bool no_new_privs;
        const char *pid_file;
        const char *console_socket;
        int preserve_fds;
        const char *apparmor;
        const char *process_label;
        const char *cgroup;         /* --cgroup: a sub-cgroup to join */
};

/* Start the process; unless detached wait for it (forwarding signals and
 * relaying its terminal) and return its exit status in *status. */
int vessel_exec(const struct vessel_runtime *rt, const struct vessel_exec_opts *o, int *status,
                vessel_error **err);
