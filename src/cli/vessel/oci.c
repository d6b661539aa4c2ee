/* oci.c: runc's commands.  Parsing and printing only; the work is in
 * libvessel. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "spec.h"
#include "util.h"

int cli_fail(struct cli *c, vessel_error **err)
{
        cli_log(&c->log, "error", "%s", err && *err ? (*err)->msg : "unknown error");
        vessel_error_free(err);
        return 1;
}

static int usage_error(struct cli *c, const char *cmd, const char *msg)
{
        cli_log(&c->log, "error", "%s: %s (see vessel %s --help)", cmd, msg, cmd);
        return 1;
}

/* Exactly one positional argument: the container id. */
static const char *one_id(struct cli *c, const char *cmd, int argc, char **argv)
{
        if (optind >= argc) {
                usage_error(c, cmd, "a container id is required");
                return NULL;
        }
        if (optind + 1 < argc) {
                usage_error(c, cmd, "too many arguments");
                return NULL;
        }
        return argv[optind];
}

/* There is no systemd cgroup manager (features: cgroup.systemd false):
 * refused, also where systemd runs, rather than quietly using cgroupfs. */
static int check_cgroup_manager(struct cli *c)
{
        if (c->systemd_cgroup) {
                cli_log(&c->log, "error",
                        "--systemd-cgroup: vessel has no systemd cgroup manager; use the cgroupfs "
                        "manager (podman: cgroup_manager = \"cgroupfs\", containerd: "
                        "SystemdCgroup = false)");
                return -1;
        }
        return 0;
}

enum { OPT_BUNDLE = 'b', OPT_PIDFILE = 256, OPT_CONSOLE, OPT_NOPIVOT, OPT_NOKEYRING, OPT_PRESERVE,
       OPT_DETACH, OPT_CONFIG, OPT_NOSUBREAPER, OPT_KEEP, OPT_HELP };

static const struct option create_opts[] = {
        {"bundle", required_argument, NULL, OPT_BUNDLE},
        {"pid-file", required_argument, NULL, OPT_PIDFILE},
        {"console-socket", required_argument, NULL, OPT_CONSOLE},
        {"no-pivot", no_argument, NULL, OPT_NOPIVOT},
        {"no-new-keyring", no_argument, NULL, OPT_NOKEYRING},
        {"preserve-fds", required_argument, NULL, OPT_PRESERVE},
        {"detach", no_argument, NULL, OPT_DETACH},
        {"config", required_argument, NULL, OPT_CONFIG},
        {"no-subreaper", no_argument, NULL, OPT_NOSUBREAPER},
        {"keep", no_argument, NULL, OPT_KEEP},
        {"help", no_argument, NULL, OPT_HELP},
        {0},
};

static void create_help(const char *cmd)
{
        printf("Usage: vessel %s [options] ID\n\n", cmd);
        if (!strcmp(cmd, "create"))
                printf("Create a container: set up its namespaces and root, and leave its init "
                       "waiting for `vessel start`.\n\n");
        else
                printf("Create and start a container, wait for it, delete it, and exit with its "
                       "status (128+N when killed by signal N).\n\n");
        printf("Options:\n"
               "  -b, --bundle DIR        the bundle (default: the current directory)\n"
               "  --config FILE           the config (default: BUNDLE/config.json)\n"
               "  --pid-file FILE         write the container's init pid to FILE\n"
               "  --console-socket PATH   send the terminal's master fd to this unix socket\n"
               "  --no-pivot              use MS_MOVE and chroot instead of pivot_root\n"
               "  --no-new-keyring        keep the caller's session keyring\n"
               "  --preserve-fds N        pass N extra fds (from fd 3) to the container\n");
        if (strcmp(cmd, "create"))
                printf("  -d, --detach            do not wait for the container\n"
                       "  --no-subreaper          do not collect the container's orphaned processes\n"
                       "  --keep                  keep the stopped container (for state and "
                       "delete) instead of deleting it\n");
}

static int parse_create(struct cli *c, const char *cmd, int argc, char **argv,
                        struct vessel_create_opts *o)
{
        int opt;
        int64_t n;

        memset(o, 0, sizeof(*o));
        while ((opt = getopt_long(argc, argv, "+b:d", create_opts, NULL)) != -1) {
                switch (opt) {
                case OPT_BUNDLE:
                        o->bundle = optarg;
                        break;
                case OPT_PIDFILE:
                        o->pid_file = optarg;
                        break;
                case OPT_CONSOLE:
                        o->console_socket = optarg;
                        break;
                case OPT_NOPIVOT:
                        o->no_pivot = true;
                        break;
                case OPT_NOKEYRING:
                        o->no_new_keyring = true;
                        break;
                case OPT_PRESERVE:
                        if (parse_int64(optarg, &n) < 0 || n < 0 || n > 65536)
                                return usage_error(c, cmd, "--preserve-fds: not a number of fds");
                        o->preserve_fds = (int)n;
                        break;
                case 'd':
                case OPT_DETACH:
                        if (!strcmp(cmd, "create"))
                                return usage_error(c, cmd, "unknown option --detach");
                        o->detach = true;
                        break;
                case OPT_CONFIG:
                        o->config = optarg;
                        break;
                case OPT_NOSUBREAPER:
                        if (!strcmp(cmd, "create"))
                                return usage_error(c, cmd, "unknown option --no-subreaper");
                        o->no_subreaper = true;
                        break;
                case OPT_KEEP:
                        if (!strcmp(cmd, "create"))
                                return usage_error(c, cmd, "unknown option --keep");
                        o->keep = true;
                        break;
                case OPT_HELP:
                        create_help(cmd);
                        exit(0);
                default:
                        return usage_error(c, cmd, "invalid option");
                }
        }
        /* A detached container is never deleted by run: --keep would be
         * a no-op there, and runc's meaning (keep a failed one) is not ours. */
        if (o->keep && o->detach)
                return usage_error(c, cmd, "--keep and --detach cannot be used together");
        o->id = one_id(c, cmd, argc, argv);
        if (!o->id)
                return 1;
        o->cgroup_manager = c->cgroup_manager;
        return check_cgroup_manager(c) < 0 ? 1 : 0;
}

static int cmd_create(struct cli *c, int argc, char **argv)
{
        struct vessel_create_opts o;
        vessel_error *err = NULL;

        if (parse_create(c, "create", argc, argv, &o))
                return 1;
        if (vessel_create(&c->rt, &o, &err) < 0)
                return cli_fail(c, &err);
        cli_log(&c->log, "debug", "container %s created from bundle %s", o.id, o.bundle ? o.bundle : ".");
        return 0;
}

static int cmd_run(struct cli *c, int argc, char **argv)
{
        struct vessel_create_opts o;
        vessel_error *err = NULL;
        int status;

        if (parse_create(c, "run", argc, argv, &o))
                return 1;
        o.foreground = !o.detach;
        if (vessel_run(&c->rt, &o, &status, &err) < 0)
                return cli_fail(c, &err);
        return status;
}

/* Commands that take only an id and --help. */
static const char *simple_id(struct cli *c, const char *cmd, const char *help, int argc,
                             char **argv, const struct option *extra, const char *shortopts,
                             int (*on_opt)(int opt, void *ud), void *ud)
{
        struct option opts[16] = {{"help", no_argument, NULL, OPT_HELP}};
        size_t n = 1;
        int opt;

        for (; extra && extra->name && n < ARRAY_SIZE(opts) - 1; extra++)
                opts[n++] = *extra;
        while ((opt = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
                if (opt == OPT_HELP) {
                        printf("%s", help);
                        exit(0);
                }
                if (!on_opt || on_opt(opt, ud) < 0) {
                        usage_error(c, cmd, "invalid option");
                        return NULL;
                }
        }
        return one_id(c, cmd, argc, argv);
}

static int cmd_start(struct cli *c, int argc, char **argv)
{
        vessel_error *err = NULL;
        const char *id = simple_id(c, "start", "Usage: vessel start ID\n\nLet a created container run its process.\n",
                                   argc, argv, NULL, "+", NULL, NULL);
        if (!id)
                return 1;
        if (vessel_start(&c->rt, id, &err) < 0)
                return cli_fail(c, &err);
        return 0;
}

static int cmd_state(struct cli *c, int argc, char **argv)
{
        vessel_error *err = NULL;
        _cleanup_free_ char *json = NULL;
        const char *id = simple_id(c, "state", "Usage: vessel state ID\n\nPrint the OCI state of a container as JSON.\n",
                                   argc, argv, NULL, "+", NULL, NULL);
        if (!id)
                return 1;
        if (vessel_state(&c->rt, id, &json, &err) < 0)
                return cli_fail(c, &err);
        printf("%s\n", json);
        return 0;
}

static int opt_flag(int opt, void *ud)
{
        if (opt != 'a' && opt != 'f')
                return -1;
        *(bool *)ud = true;
        return 0;
}

static int parse_signal(const char *s)
{
        static const struct {
                const char *name;
                int sig;
        } sigs[] = {
                {"HUP", SIGHUP},     {"INT", SIGINT},       {"QUIT", SIGQUIT},   {"ILL", SIGILL},
                {"TRAP", SIGTRAP},   {"ABRT", SIGABRT},     {"IOT", SIGIOT},     {"BUS", SIGBUS},
                {"FPE", SIGFPE},     {"KILL", SIGKILL},     {"USR1", SIGUSR1},   {"SEGV", SIGSEGV},
                {"USR2", SIGUSR2},   {"PIPE", SIGPIPE},     {"ALRM", SIGALRM},   {"TERM", SIGTERM},
                {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD},   {"CONT", SIGCONT},   {"STOP", SIGSTOP},
                {"TSTP", SIGTSTP},   {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU},   {"URG", SIGURG},
                {"XCPU", SIGXCPU},   {"XFSZ", SIGXFSZ},     {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
                {"WINCH", SIGWINCH}, {"IO", SIGIO},         {"POLL", SIGPOLL},   {"PWR", SIGPWR},
                {"SYS", SIGSYS},
        };
        int64_t n;

        if (parse_int64(s, &n) == 0)
                return n > 0 && n <= SIGRTMAX ? (int)n : -1;
        if (!strncasecmp(s, "SIG", 3))
                s += 3;
        for (size_t i = 0; i < ARRAY_SIZE(sigs); i++)
                if (!strcasecmp(s, sigs[i].name))
                        return sigs[i].sig;
        if (!strncasecmp(s, "RTMIN", 5) || !strncasecmp(s, "RTMAX", 5)) {
                int base = !strncasecmp(s, "RTMIN", 5) ? SIGRTMIN : SIGRTMAX;
                if (!s[5])
                        return base;
                if (parse_int64(s + 5, &n) == 0 && base + n >= SIGRTMIN && base + n <= SIGRTMAX)
                        return base + (int)n;
        }
        return -1;
}

static int cmd_kill(struct cli *c, int argc, char **argv)
{
        static const struct option extra[] = {{"all", no_argument, NULL, 'a'}, {0}};
        vessel_error *err = NULL;
        bool all = false;
        int opt, sig = SIGTERM;
        const char *id;
        struct option opts[] = {{"help", no_argument, NULL, OPT_HELP}, extra[0], {0}};

        while ((opt = getopt_long(argc, argv, "+a", opts, NULL)) != -1) {
                if (opt == OPT_HELP) {
                        printf("Usage: vessel kill [--all] ID [SIGNAL]\n\nSend a signal (default "
                               "SIGTERM; a name with or without SIG, or a number) to the container's "
                               "init, or with --all to all of its processes.\n");
                        return 0;
                }
                if (opt != 'a')
                        return usage_error(c, "kill", "invalid option");
                all = true;
        }
        if (optind >= argc)
                return usage_error(c, "kill", "a container id is required");
        id = argv[optind];
        if (optind + 1 < argc) {
                sig = parse_signal(argv[optind + 1]);
                if (sig < 0) {
                        cli_log(&c->log, "error", "kill: unknown signal \"%s\"", argv[optind + 1]);
                        return 1;
                }
                if (optind + 2 < argc)
                        return usage_error(c, "kill", "too many arguments");
        }
        if (vessel_kill(&c->rt, id, sig, all, &err) < 0)
                return cli_fail(c, &err);
        return 0;
}

static int cmd_delete(struct cli *c, int argc, char **argv)
{
        static const struct option extra[] = {{"force", no_argument, NULL, 'f'}, {0}};
        vessel_error *err = NULL;
        bool force = false;
        const char *id = simple_id(c, "delete",
                                   "Usage: vessel delete [--force] ID\n\nDelete a stopped (or created) "
                                   "container; --force kills a running one first.\n",
                                   argc, argv, extra, "+f", opt_flag, &force);
        if (!id)
                return 1;
        if (vessel_delete(&c->rt, id, force, &err) < 0) {
                /* runc: deleting a container that does not exist with --force succeeds. */
                if (force && err && err->code == ENOENT) {
                        vessel_error_free(&err);
                        return 0;
                }
                return cli_fail(c, &err);
        }
        return 0;
}

/* The owner as a user name, as runc lists it ("" in the state is root).
 * Read from /etc/passwd itself (fgetpwent), as runc does: vessel is linked
 * statically and has no NSS modules; other users are shown as uids. */
static const char *owner_name(const char *owner)
{
        const char *name = owner;
        struct passwd *pw;
        int64_t uid;
        FILE *f;

        if (!owner || !*owner)
                return "root";
        if (parse_int64(owner, &uid) < 0 || !(f = fopen("/etc/passwd", "re")))
                return owner;
        while ((pw = fgetpwent(f)))
                if (pw->pw_uid == (uid_t)uid) {
                        name = pw->pw_name;
                        break;
                }
        fclose(f);
        return name;
}

static int cmd_list(struct cli *c, int argc, char **argv)
{
        static const struct option opts[] = {{"format", required_argument, NULL, 'f'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, OPT_HELP},
                                             {0}};
        struct vessel_list_entry *l;
        vessel_error *err = NULL;
        bool quiet = false, json = false;
        size_t n;
        int opt;

        while ((opt = getopt_long(argc, argv, "+f:q", opts, NULL)) != -1) {
                switch (opt) {
                case 'f':
                        if (strcmp(optarg, "json") && strcmp(optarg, "table"))
                                return usage_error(c, "list", "--format must be table or json");
                        json = !strcmp(optarg, "json");
                        break;
                case 'q':
                        quiet = true;
                        break;
                case OPT_HELP:
                        printf("Usage: vessel list [--format table|json] [-q]\n\nList containers.\n");
                        return 0;
                default:
                        return usage_error(c, "list", "invalid option");
                }
        }
        if (optind < argc)
                return usage_error(c, "list", "too many arguments");
        if (vessel_list(&c->rt, &l, &n, &err) < 0)
                return cli_fail(c, &err);
        if (quiet) {
                for (size_t i = 0; i < n; i++)
                        printf("%s\n", l[i].st.id);
        } else if (json) {
                printf("[");
                for (size_t i = 0; i < n; i++) {
                        _cleanup_free_ char *s = state_to_json(&l[i].st, l[i].status, false);
                        printf("%s%s", i ? "," : "", s);
                }
                printf("]\n");
        } else {
                int w = 2;
                for (size_t i = 0; i < n; i++)
                        if ((int)strlen(l[i].st.id) > w)
                                w = (int)strlen(l[i].st.id);
                printf("%-*s   %-8s %-10s %-40s %-32s %s\n", w, "ID", "PID", "STATUS", "BUNDLE",
                       "CREATED", "OWNER");
                for (size_t i = 0; i < n; i++)
                        printf("%-*s   %-8d %-10s %-40s %-32s %s\n", w, l[i].st.id,
                               l[i].status == VESSEL_STOPPED ? 0 : l[i].st.pid,
                               vessel_status_name(l[i].status), l[i].st.bundle ? l[i].st.bundle : "",
                               l[i].st.created ? l[i].st.created : "", owner_name(l[i].st.owner));
        }
        vessel_list_free(l, n);
        return 0;
}

static int cmd_spec(struct cli *c, int argc, char **argv)
{
        static const struct option opts[] = {{"bundle", required_argument, NULL, 'b'},
                                             {"rootless", no_argument, NULL, 'r'},
                                             {"help", no_argument, NULL, OPT_HELP},
                                             {0}};
        const char *bundle = ".";
        bool rootless = false;
        _cleanup_free_ char *json = NULL, *path = NULL;
        vessel_error *err = NULL;
        int opt, fd;

        while ((opt = getopt_long(argc, argv, "+b:", opts, NULL)) != -1) {
                switch (opt) {
                case 'b':
                        bundle = optarg;
                        break;
                case 'r':
                        rootless = true;
                        break;
                case OPT_HELP:
                        printf("Usage: vessel spec [--bundle DIR] [--rootless]\n\nWrite a default "
                               "config.json into the bundle.\n");
                        return 0;
                default:
                        return usage_error(c, "spec", "invalid option");
                }
        }
        if (optind < argc)
                return usage_error(c, "spec", "too many arguments");
        json = vessel_spec_default_json(rootless);
        path = xasprintf("%s/config.json", bundle);
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
                if (errno == EEXIST)
                        vessel_error_set(&err, EEXIST, "%s exists; remove it first", path);
                else
                        vessel_error_sys(&err, "create %s", path);
                return cli_fail(c, &err);
        }
        if (write_all(fd, json, strlen(json)) < 0 || write_all(fd, "\n", 1) < 0) {
                vessel_error_sys(&err, "write %s", path);
                close(fd);
                return cli_fail(c, &err);
        }
        close(fd);
        return 0;
}

static int cmd_features(struct cli *c, int argc, char **argv)
{
        _cleanup_free_ char *json = NULL;
        if (argc > 1 && !strcmp(argv[1], "--help")) {
                printf("Usage: vessel features\n\nPrint what this build supports, as OCI features JSON.\n");
                return 0;
        }
        if (argc > 1)
                return usage_error(c, "features", "too many arguments");
        json = vessel_features_json();
        printf("%s\n", json);
        return 0;
}

const struct cli_command cli_commands[] = {
        {"create", cmd_create, "create a container (its init waits for start)"},
        {"start", cmd_start, "start the process of a created container"},
        {"run", cmd_run, "create and start a container, and wait for it"},
        {"state", cmd_state, "print the state of a container"},
        {"kill", cmd_kill, "send a signal to a container"},
        {"delete", cmd_delete, "delete a container"},
        {"list", cmd_list, "list containers"},
        {"spec", cmd_spec, "write a default config.json"},
        {"features", cmd_features, "print the features this build supports"},
        {"exec", cli_cmd_exec, "run a process in a running container"},
        {"ps", cli_cmd_ps, "list a container's processes"},
        {"pause", cli_cmd_pause, "freeze a container"},
        {"resume", cli_cmd_resume, "thaw a paused container"},
        {"update", cli_cmd_update, "change a container's resources"},
        {"events", cli_cmd_events, "container stats and OOM events"},
        {NULL, NULL, NULL},
};
