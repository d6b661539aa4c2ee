/* run_cmds.c: `vesselctl start/stop/restart/pause/resume/exec/console`
 * and the monitor's `__monitor-exit`: parse, call instance-run.h, print. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instance-run.h"
#include "instance.h"
#include "util.h"
#include "vesselctl.h"

const char help_launch[] =
    "Usage: vesselctl launch IMAGE NAME [options]\n\n"
    "Create an instance from an image and start it (init, then start).\n\n"
    "Options:\n"
    "  -p, --profile P     apply profile P (repeatable: later ones win)\n"
    "  -n, --no-profiles   apply no profile at all\n"
    "  -c, --config K=V    set a key (repeatable; see vesselctl config --help)\n"
    "  -d, --description T a description\n"
    "  -e, --ephemeral     delete the instance when it stops\n"
    "  -s, --storage POOL  the storage pool of its rootfs (default: \"default\")\n"
    "\nExample:\n"
    "  vesselctl launch debian/12 web1 -c limits.memory=1GiB\n";

const char help_start[] = "Usage: vesselctl start NAME...\n\n"
                          "Start instances: each gets a monitor that holds its console\n"
                          "(vesselctl console) and records its exit.\n";

const char help_stop[] = "Usage: vesselctl stop NAME... [--timeout S] [-f]\n\n"
                         "Stop instances: send the halt signal (boot.stop.signal, else SIGRTMIN+3\n"
                         "to systemd, SIGPWR to other inits), wait for the instance to end, and\n"
                         "kill it after the timeout.\n\n"
                         "Options:\n"
                         "      --timeout S   seconds to wait before killing (default 30)\n"
                         "  -f, --force       kill now\n";

const char help_restart[] = "Usage: vesselctl restart NAME... [--timeout S] [-f]\n\n"
                            "Stop instances as `stop` does, then start them.\n\n"
                            "Options:\n"
                            "      --timeout S   seconds to wait before killing (default 30)\n"
                            "  -f, --force       kill now\n";

const char help_pause[] = "Usage: vesselctl pause NAME...\n\n"
                          "Freeze every process of running instances.\n";

const char help_resume[] = "Usage: vesselctl resume NAME...\n\n"
                           "Thaw paused instances.\n";

const char help_exec[] = "Usage: vesselctl exec NAME [options] [--] COMMAND [ARG...]\n\n"
                         "Run a command in a running instance: in every one of its namespaces\n"
                         "(its /proc, its mounts) and its cgroup.  The exit status is the\n"
                         "command's.\n\n"
                         "Options:\n"
                         "      --env K=V     set an environment variable (repeatable); the\n"
                         "                    instance's environment.* keys are set already\n"
                         "      --cwd DIR     working directory (default /root)\n"
                         "      --user UID    user id (default 0)\n"
                         "      --group GID   group id (default 0)\n"
                         "  -t, --force-interactive     a terminal even when stdin is none\n"
                         "  -T, --force-noninteractive  no terminal even when stdin is one\n"
                         "\nExample:\n"
                         "  vesselctl exec web1 -- systemctl is-system-running\n";

const char help_console[] = "Usage: vesselctl console NAME [--show-log]\n\n"
                            "Attach to an instance's console (detach with Ctrl-a q), or print its\n"
                            "log: the last 128 KiB the console wrote while it runs, the whole\n"
                            "console.log of its last run when it is stopped.\n\n"
                            "Options:\n"
                            "      --show-log    print the console log and exit\n";

static int each(struct ctl *c, int argc, char **argv, const char *cmd,
                int (*fn)(struct vessel_store *s, const char *name, void *data, vessel_error **err),
                void *data)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        vessel_error *err = NULL;
        int status = 0;

        if (optind >= argc)
                return ctl_usage_error(cmd, "expected NAME...");
        STORE_OR_FAIL(c, s, err);
        for (int k = optind; k < argc; k++)
                if (fn(s, argv[k], data, &err) < 0)
                        status = ctl_fail(&err);
        return status;
}

static int no_options(int argc, char **argv, const char *cmd)
{
        static const struct option opts[] = {{0}};

        if (getopt_long(argc, argv, "", opts, NULL) != -1)
                return ctl_bad_option(cmd, argv);
        return 0;
}

static int do_start(struct vessel_store *s, const char *name, void *data, vessel_error **err)
{
        return instance_start(s, name, err);
}

int cli_start(struct ctl *c, int argc, char **argv)
{
        int r = no_options(argc, argv, "start ");

        return r ? r : each(c, argc, argv, "start ", do_start, NULL);
}

struct stop_args {
        int timeout;
        bool force, restart;
};

static int do_stop(struct vessel_store *s, const char *name, void *data, vessel_error **err)
{
        const struct stop_args *a = data;

        if (instance_stop(s, name, a->timeout, a->force, err) < 0)
                return -1;
        return a->restart ? instance_start(s, name, err) : 0;
}

static int stop_cmd(struct ctl *c, int argc, char **argv, bool restart)
{
        static const struct option opts[] = {
            {"timeout", required_argument, NULL, 't'}, {"force", no_argument, NULL, 'f'}, {0}};
        const char *cmd = restart ? "restart " : "stop ";
        struct stop_args a = {.timeout = 30, .restart = restart};
        int opt;

        while ((opt = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
                if (opt == 'f') {
                        a.force = true;
                } else if (opt == 't') {
                        int64_t v;
                        if (parse_int64(optarg, &v) < 0 || v < 0 || v > 86400)
                                return ctl_usage_error(cmd, "--timeout \"%s\": expected seconds",
                                                       optarg);
                        a.timeout = (int)v;
                } else {
                        return ctl_bad_option(cmd, argv);
                }
        }
        return each(c, argc, argv, cmd, do_stop, &a);
}

int cli_stop(struct ctl *c, int argc, char **argv)
{
        return stop_cmd(c, argc, argv, false);
}

int cli_restart(struct ctl *c, int argc, char **argv)
{
        return stop_cmd(c, argc, argv, true);
}

static int do_pause(struct vessel_store *s, const char *name, void *data, vessel_error **err)
{
        return instance_pause(s, name, *(bool *)data, err);
}

int cli_pause(struct ctl *c, int argc, char **argv)
{
        bool pause = true;
        int r = no_options(argc, argv, "pause ");

        return r ? r : each(c, argc, argv, "pause ", do_pause, &pause);
}

int cli_resume(struct ctl *c, int argc, char **argv)
{
        bool pause = false;
        int r = no_options(argc, argv, "resume ");

        return r ? r : each(c, argc, argv, "resume ", do_pause, &pause);
}

static int parse_id(const char *s, long *out)
{
        int64_t v;

        if (parse_int64(s, &v) < 0 || v < 0 || v > 0xfffffffe)
                return -1;
        *out = (long)v;
        return 0;
}

int cli_exec(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {
            {"env", required_argument, NULL, 'e'},
            {"cwd", required_argument, NULL, 'w'},
            {"user", required_argument, NULL, 'u'},
            {"group", required_argument, NULL, 'g'},
            {"force-interactive", no_argument, NULL, 't'},
            {"force-noninteractive", no_argument, NULL, 'T'},
            {0},
        };
        _cleanup_store_ struct vessel_store *s = NULL;
        _cleanup_strv_ char **env = NULL, **args = NULL;
        struct instance_exec_opts o = {.uid = -1, .gid = -1};
        vessel_error *err = NULL;
        int opt, tty = -1, r;
        const char *name;

        /* Options before and after the name ("+": they end at the first
         * other word, and at "--"). */
        name = NULL;
        for (;;) {
                opt = getopt_long(argc, argv, "+tT", opts, NULL);
                if (opt == -1) {
                        if (!name && optind < argc && strcmp(argv[optind - 1], "--")) {
                                name = argv[optind++];
                                continue;
                        }
                        break;
                }
                switch (opt) {
                case 'e':
                        if (!strchr(optarg, '=') || *optarg == '=')
                                return ctl_usage_error("exec ", "--env \"%s\": expected KEY=VALUE",
                                                       optarg);
                        env = strv_append(env, optarg);
                        break;
                case 'w':
                        if (*optarg != '/')
                                return ctl_usage_error(
                                    "exec ", "--cwd \"%s\": not an absolute path", optarg);
                        o.cwd = optarg;
                        break;
                case 'u':
                        if (parse_id(optarg, &o.uid) < 0)
                                return ctl_usage_error("exec ", "--user \"%s\": expected a uid",
                                                       optarg);
                        break;
                case 'g':
                        if (parse_id(optarg, &o.gid) < 0)
                                return ctl_usage_error("exec ", "--group \"%s\": expected a gid",
                                                       optarg);
                        break;
                case 't':
                        tty = 1;
                        break;
                case 'T':
                        tty = 0;
                        break;
                default:
                        return ctl_bad_option("exec ", argv);
                }
        }
        if (!name)
                return ctl_usage_error("exec ", "expected NAME and a command");
        if (optind >= argc)
                return ctl_usage_error("exec ", "expected a command after the instance's name");
        o.env = env;
        o.cmd = argv + optind;
        o.tty = tty >= 0 ? tty : isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
        _cleanup_free_ char *root = store_root_choose(c->store_dir);
        _cleanup_free_ char *abs = !root ? NULL : root[0] == '/' ? xstrdup(root) : realpath(root, NULL);
        r = abs ? instance_exec_argv(abs, name, &o, &args, &err) : -ESRCH;
        if (r == -ESRCH) {
                /* Not running: the catalogue says whether it exists at all. */
                struct instance i;
                vessel_error_free(&err);
                STORE_OR_FAIL(c, s, err);
                if (instance_get(s, name, &i, &err) < 0)
                        return ctl_fail(&err);
                instance_free(&i);
                fprintf(stderr, "vesselctl: instance \"%s\": is not running\n", name);
                return 1;
        }
        if (r < 0)
                return ctl_fail(&err);
        execv(args[0], args);
        fprintf(stderr, "vesselctl: instance \"%s\": exec %s: %s\n", name, args[0],
                strerror(errno));
        return 1;
}

int cli_console(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {{"show-log", no_argument, NULL, 'l'}, {0}};
        _cleanup_store_ struct vessel_store *s = NULL;
        vessel_error *err = NULL;
        bool show_log = false;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                if (opt != 'l')
                        return ctl_bad_option("console ", argv);
                show_log = true;
        }
        if (argc - optind != 1)
                return ctl_usage_error("console ", "expected NAME");
        STORE_OR_FAIL(c, s, err);
        r = show_log ? instance_console_log(s, argv[optind], STDOUT_FILENO, &err)
                     : instance_console_attach(s, argv[optind], &err);
        return r < 0 ? ctl_fail(&err) : 0;
}

/* Run by the monitor, in its own process, when the instance has ended:
 * __monitor-exit NAME STATUS LOCKFD (the monitor's lock, held until the
 * exit is recorded). */
int cli_monitor_exit(struct ctl *c, int argc, char **argv)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        vessel_error *err = NULL;
        int64_t status, lockfd;
        int r;

        if (argc != 4 || parse_int64(argv[2], &status) < 0 || parse_int64(argv[3], &lockfd) < 0)
                return 2;
        STORE_OR_FAIL(c, s, err);
        r = instance_record_exit(s, argv[1], (int)status, (int)lockfd, &err);
        if (r < 0)
                return ctl_fail(&err);
        return 0;
}
