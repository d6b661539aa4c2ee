/* main.c: global options, then one command (runc's command line). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <seccomp.h>

#include "cli.h"
#include "exe.h"
#include "spec.h"
#include "util.h"

static void usage(FILE *f)
{
        fprintf(f, "Usage: vessel [global options] COMMAND [options] [ARGS]\n\n"
                   "An OCI container runtime.\n\nCommands:\n");
        for (const struct cli_command *c = cli_commands; c->name; c++)
                fprintf(f, "  %-10s %s\n", c->name, c->summary);
        fprintf(f, "\nGlobal options:\n"
                   "  --root DIR              state directory (default /run/vessel, or\n"
                   "                          $XDG_RUNTIME_DIR/vessel for non-root users)\n"
                   "  --log FILE              write the log to FILE\n"
                   "  --log-format text|json  log format (default text)\n"
                   "  --debug                 log debug messages\n"
                   "  --cgroup-manager cgroupfs|disabled\n"
                   "  --systemd-cgroup        use systemd for cgroups (not supported here)\n"
                   "  -v, --version           print the version\n"
                   "  -h, --help              this help; COMMAND --help for each command\n");
}

static void version(void)
{
        const struct scmp_version *v = seccomp_version();
        printf("vessel version %s\nspec: %s\n", VESSEL_VERSION, VESSEL_OCI_VERSION);
        if (v)
                printf("libseccomp: %u.%u.%u\n", v->major, v->minor, v->micro);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
                {"root", required_argument, NULL, 'r'},
                {"log", required_argument, NULL, 'l'},
                {"log-format", required_argument, NULL, 'f'},
                {"debug", no_argument, NULL, 'd'},
                {"cgroup-manager", required_argument, NULL, 'c'},
                {"systemd-cgroup", no_argument, NULL, 's'},
                {"rootless", required_argument, NULL, 'R'},
                {"criu", required_argument, NULL, 'C'},
                {"version", no_argument, NULL, 'v'},
                {"help", no_argument, NULL, 'h'},
                {0},
        };
        struct cli c = {.log = {.fd = -1}};
        const char *log_path = NULL, *root = NULL;
        _cleanup_free_ char *default_root = NULL;
        int opt;

        /* Stop at the first non-option: that is the command. */
        while ((opt = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
                switch (opt) {
                case 'r':
                        root = optarg;
                        break;
                case 'l':
                        log_path = optarg;
                        break;
                case 'f':
                        if (strcmp(optarg, "json") && strcmp(optarg, "text")) {
                                fprintf(stderr, "vessel: --log-format: unknown format \"%s\" (text or json)\n",
                                        optarg);
                                return 1;
                        }
                        c.log.json = !strcmp(optarg, "json");
                        break;
                case 'd':
                        c.log.debug = true;
                        c.rt.debug = true;
                        break;
                case 'c':
                        if (strcmp(optarg, "cgroupfs") && strcmp(optarg, "disabled")) {
                                fprintf(stderr, "vessel: --cgroup-manager: unknown manager \"%s\" "
                                                "(cgroupfs or disabled)\n", optarg);
                                return 1;
                        }
                        c.cgroup_manager = optarg;
                        break;
                case 's':
                        c.systemd_cgroup = true;
                        break;
                case 'R':
                case 'C':
                        break; /* accepted for runc compatibility */
                case 'v':
                        version();
                        return 0;
                case 'h':
                        usage(stdout);
                        return 0;
                default:
                        usage(stderr);
                        return 1;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return 1;
        }
        if (!root) {
                const char *xdg = getenv("XDG_RUNTIME_DIR");
                if (geteuid() != 0 && xdg && *xdg)
                        root = default_root = xasprintf("%s/vessel", xdg);
                else
                        root = "/run/vessel";
        }
        c.rt.root = root;
        cli_log_open(&c.log, log_path);

        const char *name = argv[optind];
        cli_log(&c.log, "debug", "vessel %s: %s (root %s)", VESSEL_VERSION, name, root);
        /* These put a process of ours into the container: run it from a copy
         * of the binary the container cannot write (CVE-2019-5736). */
        if (!strcmp(name, "create") || !strcmp(name, "run") || !strcmp(name, "exec")) {
                vessel_error *err = NULL;
                if (vessel_exe_protect(argv, &err) < 0)
                        return cli_fail(&c, &err);
        }
        for (const struct cli_command *cmd = cli_commands; cmd->name; cmd++) {
                if (strcmp(cmd->name, name))
                        continue;
                argv[optind] = (char *)name;
                optind++;
                /* Each command parses its own options from a fresh getopt. */
                int sub_argc = argc - optind + 1;
                char **sub_argv = argv + optind - 1;
                optind = 0;
                return cmd->fn(&c, sub_argc, sub_argv);
        }
        cli_log(&c.log, "error", "unknown command \"%s\" (see vessel --help)", name);
        return 1;
}
