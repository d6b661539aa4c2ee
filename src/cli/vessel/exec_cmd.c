/* exec_cmd.c: `vessel exec`, with runc's options. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "exec.h"
#include "util.h"

enum { O_CONSOLE = 256, O_CWD, O_PIDFILE, O_LABEL, O_APPARMOR, O_NNP, O_PRESERVE, O_CGROUP,
       O_IGNORE_PAUSED, O_HELP };

static void exec_help(void)
{
        printf("Usage: vessel exec [options] ID [COMMAND [ARG...]]\n\n"
               "Run a process in a running container; it joins every namespace and the cgroup of\n"
               "the container and gets the same treatment as its init.  Exit status is the\n"
               "process's own.\n\n"
               "Options:\n"
               "  -p, --process FILE      the process as OCI JSON (\"-\" reads stdin)\n"
               "  -e, --env KEY=VALUE     set an environment variable (repeatable)\n"
               "      --cwd DIR           working directory\n"
               "  -u, --user UID[:GID]    user and group ids\n"
               "  -g, --additional-gids G additional group (repeatable)\n"
               "  -c, --cap CAP           add a capability (repeatable)\n"
               "  -t, --tty               allocate a terminal\n"
               "  -d, --detach            do not wait for the process\n"
               "      --pid-file FILE     write the process's pid to FILE\n"
               "      --console-socket S  send the terminal's master to this unix socket\n"
               "      --preserve-fds N    pass N extra fds (from fd 3)\n"
               "      --no-new-privs      set no_new_privs\n"
               "      --apparmor PROFILE  AppArmor profile\n"
               "      --process-label L   SELinux label\n"
               "      --cgroup PATH       join this sub-cgroup of the container\n");
}

int cli_cmd_exec(struct cli *c, int argc, char **argv)
{
        static const struct option opts[] = {
                {"process", required_argument, NULL, 'p'},
                {"env", required_argument, NULL, 'e'},
                {"cwd", required_argument, NULL, O_CWD},
                {"user", required_argument, NULL, 'u'},
                {"additional-gids", required_argument, NULL, 'g'},
                {"cap", required_argument, NULL, 'c'},
                {"tty", no_argument, NULL, 't'},
                {"detach", no_argument, NULL, 'd'},
                {"pid-file", required_argument, NULL, O_PIDFILE},
                {"console-socket", required_argument, NULL, O_CONSOLE},
                {"preserve-fds", required_argument, NULL, O_PRESERVE},
                {"no-new-privs", no_argument, NULL, O_NNP},
                {"apparmor", required_argument, NULL, O_APPARMOR},
                {"process-label", required_argument, NULL, O_LABEL},
                {"cgroup", required_argument, NULL, O_CGROUP},
                {"ignore-paused", no_argument, NULL, O_IGNORE_PAUSED},
                {"help", no_argument, NULL, O_HELP},
                {0},
        };
        struct vessel_exec_opts o = {0};
        _cleanup_strv_ char **env = NULL, **gids = NULL, **caps = NULL;
        vessel_error *err = NULL;
        int opt, status;
        int64_t n;

        while ((opt = getopt_long(argc, argv, "+p:e:u:g:c:td", opts, NULL)) != -1) {
                switch (opt) {
                case 'p':
                        o.process_file = optarg;
                        break;
                case 'e':
                        env = strv_append(env, optarg);
                        break;
                case O_CWD:
                        o.cwd = optarg;
                        break;
                case 'u':
                        o.user = optarg;
                        break;
                case 'g':
                        /* runc takes one gid per flag; accept "1,2" too. */
                        for (char *s = optarg, *e; s && *s; s = e ? e + 1 : NULL) {
                                e = strchr(s, ',');
                                _cleanup_free_ char *g = e ? strndup(s, (size_t)(e - s)) : xstrdup(s);
                                gids = strv_append(gids, g);
                        }
                        break;
                case 'c':
                        caps = strv_append(caps, optarg);
                        break;
                case 't':
                        o.tty = o.tty_set = true;
                        break;
                case 'd':
                        o.detach = true;
                        break;
                case O_PIDFILE:
                        o.pid_file = optarg;
                        break;
                case O_CONSOLE:
                        o.console_socket = optarg;
                        break;
                case O_PRESERVE:
                        if (parse_int64(optarg, &n) < 0 || n < 0 || n > 65536) {
                                cli_log(&c->log, "error", "exec: --preserve-fds: not a number of fds");
                                return 1;
                        }
                        o.preserve_fds = (int)n;
                        break;
                case O_NNP:
                        o.no_new_privs = true;
                        break;
                case O_APPARMOR:
                        o.apparmor = optarg;
                        break;
                case O_LABEL:
                        o.process_label = optarg;
                        break;
                case O_CGROUP:
                        o.cgroup = optarg;
                        break;
                case O_IGNORE_PAUSED:
                        break;
                case O_HELP:
                        exec_help();
                        return 0;
                default:
                        cli_log(&c->log, "error", "exec: invalid option (see vessel exec --help)");
                        return 1;
                }
        }
        if (optind >= argc) {
                cli_log(&c->log, "error", "exec: a container id is required (see vessel exec --help)");
                return 1;
        }
        o.id = argv[optind++];
        if (!o.process_file && optind >= argc) {
                cli_log(&c->log, "error", "exec: a command or --process is required");
                return 1;
        }
        o.args = optind < argc ? argv + optind : NULL;
        o.env = env;
        o.additional_gids = gids;
        o.caps = caps;
        if (vessel_exec(&c->rt, &o, &status, &err) < 0)
                return cli_fail(c, &err);
        return status;
}
