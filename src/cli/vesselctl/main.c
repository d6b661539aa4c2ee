/* main.c: vesselctl's global options, then one command. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "vesselctl.h"

static const char usage_text[] = "Usage: vesselctl [--store DIR] COMMAND [ARGS...]\n"
                                 "\n"
                                 "Manage system containers and their images.\n";

static const struct ctl_cmd commands[] = {
    {"image", cli_image, "import, list, inspect, export and delete images", NULL, "images"},
    {"launch", cli_launch, "create an instance from an image and start it", help_launch, NULL},
    {"init", cli_init, "create an instance from an image", help_init, "create"},
    {"start", cli_start, "start instances", help_start, NULL},
    {"stop", cli_stop, "stop instances", help_stop, NULL},
    {"restart", cli_restart, "restart instances", help_restart, NULL},
    {"pause", cli_pause, "freeze instances", help_pause, "freeze"},
    {"resume", cli_resume, "thaw paused instances", help_resume, NULL},
    {"exec", cli_exec, "run a command in an instance", help_exec, NULL},
    {"console", cli_console, "attach to an instance's console, or show its log", help_console,
     NULL},
    {"list", cli_list, "list the instances", help_list, "ls"},
    {"info", cli_info, "show an instance", help_info, NULL},
    {"config", cli_config, "show and change an instance's keys and devices", NULL, NULL},
    {"profile", cli_profile, "manage profiles", NULL, NULL},
    {"storage", cli_storage, "manage storage pools", NULL, NULL},
    {"snapshot", cli_snapshot, "snapshot instances and restore them", NULL, NULL},
    {"file", cli_file, "push, pull and delete files in instances", NULL, NULL},
    {"copy", cli_copy, "copy an instance, in its storage pool or to another", help_copy, "cp"},
    {"export", cli_export, "write an instance to a tarball", help_export, NULL},
    {"import", cli_import, "make an instance from a tarball of export", help_import, NULL},
    {"rename", cli_rename, "rename an instance", help_rename, NULL},
    {"move", cli_move, "rename an instance or move it to another storage pool", help_move, "mv"},
    {"delete", cli_delete, "delete instances", help_delete, "rm"},
    {0},
};

static void usage(FILE *f)
{
        ctl_group_usage(f, usage_text, commands);
        fputs("\n"
              "Global options:\n"
              "  --store DIR    the store (default $VESSEL_STORE, else " STORE_DEFAULT_ROOT
              "; for a non-root user $XDG_DATA_HOME/vessel, else ~/.local/share/vessel)\n"
              "  -h, --help     this help; COMMAND --help for each command\n"
              "  --version      print the version\n",
              f);
}

int ctl_fail(vessel_error **err)
{
        fprintf(stderr, "vesselctl: %s\n", *err && (*err)->msg ? (*err)->msg : "unknown error");
        vessel_error_free(err);
        return 1;
}

int ctl_usage_error(const char *cmd, const char *fmt, ...)
{
        va_list ap;

        fputs("vesselctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (see vesselctl %s--help)\n", cmd);
        return 2;
}

bool ctl_want_help(int argc, char **argv)
{
        for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
                if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
                        return true;
        return false;
}

void ctl_group_usage(FILE *f, const char *usage, const struct ctl_cmd *cmds)
{
        fputs(usage, f);
        fputs("\nCommands:\n", f);
        for (const struct ctl_cmd *c = cmds; c->name; c++)
                fprintf(f, "  %-10s %s\n", c->name, c->summary);
        fputs("\nCOMMAND --help shows a command's usage.\n", f);
}

int ctl_dispatch(struct ctl *c, const char *group, const char *usage, const struct ctl_cmd *cmds,
                 int argc, char **argv)
{
        if (argc < 2) {
                ctl_group_usage(stderr, usage, cmds);
                return 2;
        }
        if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
                ctl_group_usage(stdout, usage, cmds);
                return 0;
        }
        for (const struct ctl_cmd *cmd = cmds; cmd->name; cmd++) {
                if (strcmp(cmd->name, argv[1]) && (!cmd->alias || strcmp(cmd->alias, argv[1])))
                        continue;
                if (cmd->help && ctl_want_help(argc - 1, argv + 1)) {
                        fputs(cmd->help, stdout);
                        return 0;
                }
                optind = 0;
                return cmd->fn(c, argc - 1, argv + 1);
        }
        return ctl_usage_error(group, "unknown command \"%s\"", argv[1]);
}

int ctl_bad_option(const char *cmd, char **argv)
{
        if (optopt && optopt != '?')
                return ctl_usage_error(cmd, "unknown option \"-%c\" or missing value", optopt);
        return ctl_usage_error(cmd, "unknown option \"%s\" or missing value", argv[optind - 1]);
}

int ctl_store_open(struct ctl *c, struct vessel_store **s, vessel_error **err)
{
        _cleanup_free_ char *root = store_root_choose(c->store_dir);

        return store_open(root, s, err);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"store", required_argument, NULL, 's'},
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, 'V'},
            {0},
        };
        struct ctl c = {0};
        int opt;

        opterr = 0; /* our own one-line messages */

        while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
                switch (opt) {
                case 's':
                        c.store_dir = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case 'V':
                        printf("vesselctl version %s\n", VESSEL_VERSION);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return 2;
        }
        if (!strcmp(argv[optind], "help")) {
                usage(stdout);
                return 0;
        }
        /* The monitor's last act; not a command for people. */
        if (!strcmp(argv[optind], "__monitor-exit"))
                return cli_monitor_exit(&c, argc - optind, argv + optind);
        /* Hidden (not in --help): what start does first, for tests. */
        if (!strcmp(argv[optind], "__apply-templates"))
                return cli_apply_templates(&c, argc - optind, argv + optind);
        for (const struct ctl_cmd *cmd = commands; cmd->name; cmd++)
                if (!strcmp(cmd->name, argv[optind]) ||
                    (cmd->alias && !strcmp(cmd->alias, argv[optind])))
                        return ctl_dispatch(&c, "", usage_text, commands, argc - optind + 1,
                                            argv + optind - 1);
        return ctl_usage_error("", "unknown command \"%s\"", argv[optind]);
}
