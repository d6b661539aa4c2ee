/* cgroup_cmds.c: runc's pause, resume, update, events and ps.  Parsing and
 * printing only; the work is in libvessel (cgroup-ops.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cgroup-ops.h"
#include "cgroup-values.h"
#include "cli.h"
#include "spec.h"
#include "util.h"

enum {
        OPT_HELP = 300,
        OPT_RESOURCES,
        OPT_MEMORY,
        OPT_SWAP,
        OPT_RESERVATION,
        OPT_KMEM,
        OPT_KMEM_TCP,
        OPT_SHARES,
        OPT_QUOTA,
        OPT_PERIOD,
        OPT_RT_PERIOD,
        OPT_RT_RUNTIME,
        OPT_CPUS,
        OPT_MEMS,
        OPT_PIDS,
        OPT_BLKIO,
        OPT_L3,
        OPT_MEMBW,
        OPT_INTERVAL,
        OPT_STATS,
        OPT_FORMAT
};

static int usage_error(struct cli *c, const char *cmd, const char *msg)
{
        cli_log(&c->log, "error", "%s: %s (see vessel %s --help)", cmd, msg, cmd);
        return 1;
}

/* getopt over opts (plus --help); the container id must come next. */
static const char *parse_id(struct cli *c, const char *cmd, const char *help, int argc, char **argv,
                            bool trailing_args)
{
        static const struct option opts[] = {{"help", no_argument, NULL, OPT_HELP}, {0}};
        int opt;

        while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
                if (opt == OPT_HELP || opt == 'h') {
                        printf("%s", help);
                        exit(0);
                }
                usage_error(c, cmd, "invalid option");
                return NULL;
        }
        if (optind >= argc) {
                usage_error(c, cmd, "a container id is required");
                return NULL;
        }
        if (!trailing_args && optind + 1 < argc) {
                usage_error(c, cmd, "too many arguments");
                return NULL;
        }
        return argv[optind];
}

int cli_cmd_pause(struct cli *c, int argc, char **argv)
{
        vessel_error *err = NULL;
        const char *id = parse_id(c, "pause",
                                  "Usage: vessel pause ID\n\nFreeze every process of a container "
                                  "(its cgroup's freezer); `vessel resume` thaws them.\n",
                                  argc, argv, false);

        if (!id)
                return 1;
        if (vessel_pause(&c->rt, id, &err) < 0)
                return cli_fail(c, &err);
        return 0;
}

int cli_cmd_resume(struct cli *c, int argc, char **argv)
{
        vessel_error *err = NULL;
        const char *id = parse_id(c, "resume",
                                  "Usage: vessel resume ID\n\nThaw a container that `vessel pause` "
                                  "froze.\n",
                                  argc, argv, false);

        if (!id)
                return 1;
        if (vessel_resume(&c->rt, id, &err) < 0)
                return cli_fail(c, &err);
        return 0;
}

/* ------------------------------------------------------------ update */

static const char update_help[] =
    "Usage: vessel update [options] ID\n\n"
    "Change the resources of a running container; what is not given stays as it is.\n\n"
    "Options:\n"
    "  -r, --resources FILE       a linux.resources JSON object from FILE (- for stdin)\n"
    "  --memory BYTES             memory limit (100M, 1g, ...; -1 for none)\n"
    "  --memory-swap BYTES        memory+swap limit (-1 for none)\n"
    "  --memory-reservation BYTES soft limit (memory.low on cgroup v2)\n"
    "  --kernel-memory BYTES      kernel memory limit (v1 only, deprecated)\n"
    "  --kernel-memory-tcp BYTES  kernel TCP buffer limit (v1 only)\n"
    "  --cpu-shares N             CPU shares (cpu.weight on cgroup v2)\n"
    "  --cpu-quota N              CFS quota in microseconds per period (-1 for none)\n"
    "  --cpu-period N             CFS period in microseconds\n"
    "  --cpu-rt-period N          real-time period in microseconds (v1 only)\n"
    "  --cpu-rt-runtime N         real-time runtime in microseconds (v1 only)\n"
    "  --cpuset-cpus LIST         CPUs to run on (0-3,7)\n"
    "  --cpuset-mems LIST         memory nodes to allocate from\n"
    "  --pids-limit N             maximum number of tasks (-1 for none)\n"
    "  --blkio-weight N           block I/O weight (10..1000)\n";

/* The --resources JSON is a linux.resources object: the config parser
 * reads and validates it in place. */
static int load_resources(const char *file, struct vessel_spec **spec, vessel_error **err)
{
        _cleanup_free_ char *text = NULL, *json = NULL;
        size_t len;
        int r;

        if (!strcmp(file, "-")) {
                r = read_file_at(AT_FDCWD, "/proc/self/fd/0", &text, &len, err);
        } else {
                r = read_file_at(AT_FDCWD, file, &text, &len, err);
        }
        if (r < 0)
                return vessel_error_prefix(err, "--resources");
        json = xasprintf(
            "{\"ociVersion\":\"" VESSEL_OCI_VERSION "\",\"linux\":{\"resources\":%s\n}}", text);
        return vessel_spec_parse_named(json, strlen(json), !strcmp(file, "-") ? "<stdin>" : file,
                                       spec, err);
}

static int opt_bytes(const char *flag, const char *s, struct vessel_opt_i64 *out,
                     vessel_error **err)
{
        int64_t v;

        if (cgroup_parse_bytes(s, &v) < 0)
                return vessel_error_msg(err, EINVAL, "%s: invalid size \"%s\"", flag, s);
        *out = (struct vessel_opt_i64){true, v};
        return 0;
}

static int opt_i64(const char *flag, const char *s, int64_t min, int64_t *out, vessel_error **err)
{
        if (parse_int64(s, out) < 0 || *out < min)
                return vessel_error_msg(err, EINVAL, "%s: invalid number \"%s\"", flag, s);
        return 0;
}

static int opt_u64(const char *flag, const char *s, struct vessel_opt_u64 *out, vessel_error **err)
{
        int64_t v;
        int r = opt_i64(flag, s, 0, &v, err);

        if (r == 0)
                *out = (struct vessel_opt_u64){true, (uint64_t)v};
        return r;
}

static int opt_list(const char *flag, const char *s, char **out, vessel_error **err)
{
        _cleanup_free_ unsigned *v = NULL;
        size_t n;

        if (cgroup_cpu_list_parse(s, &v, &n) < 0 || n == 0)
                return vessel_error_msg(err, EINVAL, "%s: invalid list \"%s\"", flag, s);
        free(*out);
        *out = xstrdup(s);
        return 0;
}

static int update_flag(int opt, const char *arg, struct vessel_resources *r, vessel_error **err)
{
        int64_t v;
        int rc = 0;

        switch (opt) {
        case OPT_MEMORY:
                return opt_bytes("--memory", arg, &r->memory.limit, err);
        case OPT_SWAP:
                return opt_bytes("--memory-swap", arg, &r->memory.swap, err);
        case OPT_RESERVATION:
                return opt_bytes("--memory-reservation", arg, &r->memory.reservation, err);
        case OPT_KMEM:
                return opt_bytes("--kernel-memory", arg, &r->memory.kernel, err);
        case OPT_KMEM_TCP:
                return opt_bytes("--kernel-memory-tcp", arg, &r->memory.kernel_tcp, err);
        case OPT_SHARES:
                return opt_u64("--cpu-shares", arg, &r->cpu.shares, err);
        case OPT_QUOTA:
                if ((rc = opt_i64("--cpu-quota", arg, -1, &v, err)) == 0)
                        r->cpu.quota = (struct vessel_opt_i64){true, v};
                return rc;
        case OPT_PERIOD:
                return opt_u64("--cpu-period", arg, &r->cpu.period, err);
        case OPT_RT_PERIOD:
                return opt_u64("--cpu-rt-period", arg, &r->cpu.realtime_period, err);
        case OPT_RT_RUNTIME:
                if ((rc = opt_i64("--cpu-rt-runtime", arg, -1, &v, err)) == 0)
                        r->cpu.realtime_runtime = (struct vessel_opt_i64){true, v};
                return rc;
        case OPT_CPUS:
                return opt_list("--cpuset-cpus", arg, &r->cpu.cpus, err);
        case OPT_MEMS:
                return opt_list("--cpuset-mems", arg, &r->cpu.mems, err);
        case OPT_PIDS:
                if ((rc = opt_i64("--pids-limit", arg, -1, &r->pids.limit, err)) == 0)
                        r->pids.present = true;
                return rc;
        case OPT_BLKIO:
                if ((rc = opt_u64("--blkio-weight", arg, &r->block_io.weight, err)) == 0 &&
                    (r->block_io.weight.v < 10 || r->block_io.weight.v > 1000))
                        rc = vessel_error_msg(err, EINVAL, "--blkio-weight: %s is not in 10..1000",
                                              arg);
                return rc;
        case OPT_L3:
        case OPT_MEMBW:
                return vessel_error_msg(err, EOPNOTSUPP,
                                        "--l3-cache-schema/--mem-bw-schema: Intel RDT is not "
                                        "supported by vessel");
        }
        return -EINVAL;
}

int cli_cmd_update(struct cli *c, int argc, char **argv)
{
        static const struct option opts[] = {
            {"resources", required_argument, NULL, 'r'},
            {"memory", required_argument, NULL, OPT_MEMORY},
            {"memory-swap", required_argument, NULL, OPT_SWAP},
            {"memory-reservation", required_argument, NULL, OPT_RESERVATION},
            {"kernel-memory", required_argument, NULL, OPT_KMEM},
            {"kernel-memory-tcp", required_argument, NULL, OPT_KMEM_TCP},
            {"cpu-shares", required_argument, NULL, OPT_SHARES},
            {"cpu-quota", required_argument, NULL, OPT_QUOTA},
            {"cpu-period", required_argument, NULL, OPT_PERIOD},
            {"cpu-rt-period", required_argument, NULL, OPT_RT_PERIOD},
            {"cpu-rt-runtime", required_argument, NULL, OPT_RT_RUNTIME},
            {"cpuset-cpus", required_argument, NULL, OPT_CPUS},
            {"cpuset-mems", required_argument, NULL, OPT_MEMS},
            {"pids-limit", required_argument, NULL, OPT_PIDS},
            {"blkio-weight", required_argument, NULL, OPT_BLKIO},
            {"l3-cache-schema", required_argument, NULL, OPT_L3},
            {"mem-bw-schema", required_argument, NULL, OPT_MEMBW},
            {"help", no_argument, NULL, OPT_HELP},
            {0},
        };
        struct {
                int opt;
                char *arg;
        } flags[32];
        size_t n_flags = 0;
        const char *file = NULL, *id;
        struct vessel_spec *spec = NULL;
        struct vessel_resources empty = {0}, *res;
        vessel_error *err = NULL;
        int opt, r = 0;

        while ((opt = getopt_long(argc, argv, "+r:h", opts, NULL)) != -1) {
                if (opt == OPT_HELP || opt == 'h') {
                        printf("%s", update_help);
                        return 0;
                }
                if (opt == 'r')
                        file = optarg;
                else if (opt == '?' || n_flags == ARRAY_SIZE(flags))
                        return usage_error(c, "update", "invalid option");
                else
                        flags[n_flags++] = (typeof(flags[0])){opt, optarg};
        }
        if (optind >= argc)
                return usage_error(c, "update", "a container id is required");
        if (optind + 1 < argc)
                return usage_error(c, "update", "too many arguments");
        id = argv[optind];
        if (!file && !n_flags)
                return usage_error(c, "update", "nothing to change: give --resources or a flag");
        if (file && load_resources(file, &spec, &err) < 0)
                return cli_fail(c, &err);
        res = spec ? &spec->linux_.resources : &empty;
        /* Flags override the file, as in runc. */
        for (size_t i = 0; r == 0 && i < n_flags; i++)
                r = update_flag(flags[i].opt, flags[i].arg, res, &err);
        if (r == 0)
                r = vessel_update(&c->rt, id, res, &err);
        free(empty.cpu.cpus);
        free(empty.cpu.mems);
        vessel_spec_free(spec);
        return r < 0 ? cli_fail(c, &err) : 0;
}

/* ------------------------------------------------------------ events */

/* A Go-style duration ("5s", "100ms", "1m") or a number of seconds. */
static int parse_interval(const char *s, unsigned *ms)
{
        static const struct {
                const char *unit;
                double ms;
        } units[] = {{"ns", 1e-6}, {"us", 1e-3},   {"ms", 1}, {"s", 1000},
                     {"m", 60000}, {"h", 3600000}, {"", 1000}};
        char *end;
        double v;

        errno = 0;
        v = strtod(s, &end);
        if (errno || end == s || v < 0)
                return -EINVAL;
        for (size_t i = 0; i < ARRAY_SIZE(units); i++) {
                if (strcmp(end, units[i].unit))
                        continue;
                v *= units[i].ms;
                if (v < 1 || v > 86400000.0)
                        return -ERANGE;
                *ms = (unsigned)v;
                return 0;
        }
        return -EINVAL;
}

static int print_event(const char *json, void *ud)
{
        (void)ud;
        if (printf("%s\n", json) < 0 || fflush(stdout) != 0)
                return -EPIPE;
        return 0;
}

int cli_cmd_events(struct cli *c, int argc, char **argv)
{
        static const struct option opts[] = {{"interval", required_argument, NULL, OPT_INTERVAL},
                                             {"stats", no_argument, NULL, OPT_STATS},
                                             {"help", no_argument, NULL, OPT_HELP},
                                             {0}};
        unsigned interval = 5000;
        bool stats = false;
        vessel_error *err = NULL;
        int opt;

        while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
                switch (opt) {
                case OPT_INTERVAL:
                        if (parse_interval(optarg, &interval) < 0)
                                return usage_error(c, "events",
                                                   "--interval: a duration such as 5s or 500ms");
                        break;
                case OPT_STATS:
                        stats = true;
                        break;
                case OPT_HELP:
                case 'h':
                        printf("Usage: vessel events [--stats] [--interval DURATION] ID\n\n"
                               "Print a container's events as JSON lines: with --stats one stats "
                               "event (runc's format), else a stats event every interval (default "
                               "5s) and an \"oom\" event on each OOM kill, until the container "
                               "stops.\n");
                        return 0;
                default:
                        return usage_error(c, "events", "invalid option");
                }
        }
        if (optind >= argc)
                return usage_error(c, "events", "a container id is required");
        if (optind + 1 < argc)
                return usage_error(c, "events", "too many arguments");
        if (stats) {
                _cleanup_free_ char *json = NULL;
                if (vessel_stats(&c->rt, argv[optind], &json, &err) < 0)
                        return cli_fail(c, &err);
                printf("%s\n", json);
                return 0;
        }
        if (vessel_events(&c->rt, argv[optind], interval, print_event, NULL, &err) < 0)
                return cli_fail(c, &err);
        return 0;
}

/* ---------------------------------------------------------------- ps */

/* Run ps(1) with args; its output in *out. */
static int run_ps(char **args, char **out, vessel_error **err)
{
        int fds[2], status;
        pid_t pid;
        size_t len = 0, cap = 4096;
        ssize_t n;

        if (pipe2(fds, O_CLOEXEC) < 0)
                return vessel_error_sys(err, "pipe");
        pid = fork();
        if (pid < 0)
                return vessel_error_sys(err, "fork");
        if (pid == 0) {
                dup2(fds[1], STDOUT_FILENO);
                execvp("ps", args);
                fprintf(stderr, "vessel: ps: exec ps: %s\n", strerror(errno));
                _exit(127);
        }
        close(fds[1]);
        *out = xmalloc0(cap);
        while ((n = read(fds[0], *out + len, cap - len - 1)) != 0) {
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        break;
                len += (size_t)n;
                if (cap - len < 2) {
                        cap *= 2;
                        *out = realloc(*out, cap);
                        if (!*out)
                                abort();
                }
        }
        (*out)[len] = '\0';
        close(fds[0]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return vessel_error_msg(
                    err, EIO, "ps %s failed (status %d)", args[1] ? args[1] : "",
                    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
        return 0;
}

static int pid_column(const char *header)
{
        _cleanup_free_ char *copy = xstrdup(header);
        char *save = NULL;
        int i = 0;

        for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save), i++)
                if (!strcmp(t, "PID"))
                        return i;
        return -1;
}

static bool line_pid_in(const char *line, int col, const pid_t *pids, size_t n)
{
        _cleanup_free_ char *copy = xstrdup(line);
        char *save = NULL, *t = strtok_r(copy, " \t", &save);
        int64_t pid;

        for (int i = 0; t && i < col; i++)
                t = strtok_r(NULL, " \t", &save);
        if (!t || parse_int64(t, &pid) < 0)
                return false;
        for (size_t i = 0; i < n; i++)
                if (pids[i] == (pid_t)pid)
                        return true;
        return false;
}

/* runc's table: ps(1)'s header, then its lines for the container's pids. */
static int print_ps_table(char **ps_args, const pid_t *pids, size_t n, vessel_error **err)
{
        _cleanup_free_ char *out = NULL;
        char *save = NULL, *header;
        int col;
        int r = run_ps(ps_args, &out, err);

        if (r < 0)
                return r;
        header = strtok_r(out, "\n", &save);
        if (!header || (col = pid_column(header)) < 0)
                return vessel_error_msg(err, EINVAL, "ps: no PID column in the output of ps");
        printf("%s\n", header);
        for (char *l = strtok_r(NULL, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
                if (line_pid_in(l, col, pids, n))
                        printf("%s\n", l);
        return 0;
}

int cli_cmd_ps(struct cli *c, int argc, char **argv)
{
        static const struct option opts[] = {{"format", required_argument, NULL, OPT_FORMAT},
                                             {"help", no_argument, NULL, OPT_HELP},
                                             {0}};
        _cleanup_free_ char **ps_args = NULL;
        pid_t *pids = NULL;
        size_t n = 0, k = 0;
        bool json = false;
        vessel_error *err = NULL;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "+f:h", opts, NULL)) != -1) {
                if (opt == OPT_FORMAT || opt == 'f') {
                        if (strcmp(optarg, "table") && strcmp(optarg, "json"))
                                return usage_error(c, "ps", "--format must be table or json");
                        json = !strcmp(optarg, "json");
                } else if (opt == OPT_HELP || opt == 'h') {
                        printf("Usage: vessel ps [--format table|json] ID [PS-ARGS...]\n\n"
                               "List the processes in a container's cgroup: json prints their host "
                               "pids; table runs ps(1) with PS-ARGS (default -ef) and keeps the "
                               "container's lines.\n");
                        return 0;
                } else {
                        return usage_error(c, "ps", "invalid option");
                }
        }
        if (optind >= argc)
                return usage_error(c, "ps", "a container id is required");
        if (json && optind + 1 < argc)
                return usage_error(c, "ps", "ps arguments are for --format table");
        if (vessel_pids(&c->rt, argv[optind], &pids, &n, &err) < 0)
                return cli_fail(c, &err);
        if (json) {
                printf("[");
                for (size_t i = 0; i < n; i++)
                        printf("%s%d", i ? "," : "", (int)pids[i]);
                printf("]\n");
                free(pids);
                return 0;
        }
        ps_args = xmalloc0(sizeof(char *) * (size_t)(argc - optind + 2));
        ps_args[k++] = "ps";
        if (optind + 1 >= argc)
                ps_args[k++] = "-ef";
        for (int i = optind + 1; i < argc; i++)
                ps_args[k++] = argv[i];
        r = print_ps_table(ps_args, pids, n, &err);
        free(pids);
        return r < 0 ? cli_fail(c, &err) : 0;
}
