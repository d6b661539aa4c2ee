/* cli.h: shared between the CLI's files. */
#pragma once

#include "container.h"
#include "log.h"

struct cli {
        struct vessel_runtime rt;
        struct cli_log log;
        const char *cgroup_manager;
        bool systemd_cgroup;
};

typedef int (*cli_cmd_fn)(struct cli *c, int argc, char **argv);

struct cli_command {
        const char *name;
        cli_cmd_fn fn;
        const char *summary;
};

extern const struct cli_command cli_commands[];
int cli_cmd_exec(struct cli *c, int argc, char **argv);
/* cgroup_cmds.c */
int cli_cmd_pause(struct cli *c, int argc, char **argv);
int cli_cmd_resume(struct cli *c, int argc, char **argv);
int cli_cmd_update(struct cli *c, int argc, char **argv);
int cli_cmd_events(struct cli *c, int argc, char **argv);
int cli_cmd_ps(struct cli *c, int argc, char **argv);
/* Report a library error through the log; returns the exit status 1. */
int cli_fail(struct cli *c, vessel_error **err);
