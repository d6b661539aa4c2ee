/* instance-run.c: start, stop, pause and exec of instances, through the
 * runtime binary and a monitor per instance (see instance-run.h). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "config-db.h"
#include "instance-run.h"
#include "instance.h"
#include "monitor.h"
#include "rundir.h"
#include "util.h"

#ifndef VESSEL_BINDIR
#define VESSEL_BINDIR "/usr/local/bin"
#endif
#ifndef VESSEL_LIBEXECDIR
#define VESSEL_LIBEXECDIR "/usr/local/libexec"
#endif

static char *self_dir(void)
{
        char buf[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
        char *slash;

        if (n <= 0)
                return NULL;
        buf[n] = '\0';
        slash = strrchr(buf, '/');
        if (slash)
                *slash = '\0';
        return xstrdup(buf);
}

static char *find_tool(const char *env, const char *dir, const char *name, const char *installed)
{
        const char *e = getenv(env);
        _cleanup_free_ char *beside = dir ? xasprintf("%s/%s", dir, name) : NULL;

        if (e && *e)
                return xstrdup(e);
        if (beside && access(beside, X_OK) == 0)
                return steal_ptr(&beside);
        if (access(installed, X_OK) == 0)
                return xstrdup(installed);
        return NULL;
}

int run_tools_find(struct run_tools *t, vessel_error **err)
{
        _cleanup_free_ char *dir = self_dir();

        *t = (struct run_tools){
            .runtime = find_tool("VESSELCTL_RUNTIME", dir, "vessel", VESSEL_BINDIR "/vessel"),
            .monitor = find_tool("VESSELCTL_MONITOR", dir, "vesselctl-monitor",
                                 VESSEL_LIBEXECDIR "/vessel/vesselctl-monitor"),
            .ctl = dir ? xasprintf("%s/vesselctl", dir) : xstrdup(VESSEL_BINDIR "/vesselctl"),
        };
        if (!t->runtime || !t->monitor) {
                const char *what = !t->runtime ? "the runtime (vessel)" : "vesselctl-monitor";
                run_tools_free(t);
                return vessel_error_msg(
                    err, ENOENT, "cannot find %s beside vesselctl or where it is installed", what);
        }
        return 0;
}

void run_tools_free(struct run_tools *t)
{
        free(t->runtime);
        free(t->monitor);
        free(t->ctl);
        *t = (struct run_tools){0};
}

/* vessel --root RUNTIME ARGS..., quietly; its stderr is the error. */
static int runtime(const struct run_tools *t, const struct rundir *rd, const char *what,
                   const char *const *args, vessel_error **err)
{
        const char *argv[16];
        char msg[2048];
        size_t n = 0, got = 0;
        int pipefd[2], status;
        pid_t pid;

        argv[n++] = t->runtime;
        argv[n++] = "--root";
        argv[n++] = rd->runtime;
        for (; *args && n < ARRAY_SIZE(argv) - 1; args++)
                argv[n++] = *args;
        argv[n] = NULL;
        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return vessel_error_sys(err, "%s: pipe", what);
        pid = fork();
        if (pid < 0) {
                close(pipefd[0]);
                close(pipefd[1]);
                return vessel_error_sys(err, "%s: fork", what);
        }
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR);
                dup2(null, STDIN_FILENO);
                dup2(null, STDOUT_FILENO);
                dup2(pipefd[1], STDERR_FILENO);
                execv(argv[0], (char **)argv);
                dprintf(STDERR_FILENO, "exec %s: %s", argv[0], strerror(errno));
                _exit(127);
        }
        close(pipefd[1]);
        for (ssize_t k; got < sizeof(msg) - 1 &&
                        ((k = read(pipefd[0], msg + got, sizeof(msg) - 1 - got)) > 0 ||
                         (k < 0 && errno == EINTR));)
                if (k > 0)
                        got += (size_t)k;
        close(pipefd[0]);
        msg[got] = '\0';
        while (got && msg[got - 1] == '\n')
                msg[--got] = '\0';
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return vessel_error_sys(err, "%s: waitpid", what);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        return vessel_error_msg(err, EIO, "%s: %s", what,
                                *msg ? msg : "the runtime failed without a message");
}

static int db_set_run_state(struct vessel_store *s, const char *name, const char *state, bool used,
                            vessel_error **err)
{
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        const char *sql = used ? "UPDATE instances SET state = ?, last_used_at = ? WHERE name = ?"
                               : "UPDATE instances SET state = ? WHERE name = ? OR ? IS NULL";

        if (store_prepare(s, sql, &st, err) < 0)
                return -EIO;
        db_bind_text(st, 1, state);
        if (used) {
                sqlite3_bind_int64(st, 2, (sqlite3_int64)time(NULL));
                db_bind_text(st, 3, name);
        } else {
                db_bind_text(st, 2, name);
                db_bind_text(st, 3, name);
        }
        return store_step(s, st, err) == SQLITE_DONE ? 0 : -EIO;
}

struct run_ctx {
        struct instance i;
        struct rundir rd;
        struct run_tools t;
        int oplock;
};

static void run_ctx_free(struct run_ctx *c)
{
        instance_free(&c->i);
        rundir_free(&c->rd);
        run_tools_free(&c->t);
        if (c->oplock >= 0)
                close(c->oplock);
}
#define _cleanup_run_ctx_ __attribute__((cleanup(run_ctx_free)))

/* The instance, its run directory, the tools and its op.lock. */
static int run_ctx_open(struct vessel_store *s, const char *name, struct run_ctx *c,
                        vessel_error **err)
{
        *c = (struct run_ctx){.oplock = -1};
        if (instance_get(s, name, &c->i, err) < 0 || rundir_open(s, name, &c->rd, err) < 0 ||
            run_tools_find(&c->t, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\"", name);
        c->oplock = rundir_op_lock(&c->rd, err);
        if (c->oplock < 0)
                return vessel_error_prefix(err, "instance \"%s\"", name);
        return 0;
}

/* Read the monitor's one report line: "OK <pid>" or "ERR <message>". */
static int read_report(int fd, char *line, size_t size)
{
        size_t got = 0;

        while (got < size - 1) {
                ssize_t k = read(fd, line + got, size - 1 - got);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                got += (size_t)k;
                if (memchr(line, '\n', got))
                        break;
        }
        line[got] = '\0';
        line[strcspn(line, "\n")] = '\0';
        return (int)got;
}

/* The monitor, in a session of its own, not our child (double fork), so
 * that it outlives this command and a terminal's hang-up. */
static int spawn_monitor(struct vessel_store *s, struct run_ctx *c, vessel_error **err)
{
        _cleanup_free_ char *log = xasprintf("%s/instances/%s/console.log", s->root, c->i.name);
        _cleanup_free_ char *mlog = xasprintf("%s/instances/%s/monitor.log", s->root, c->i.name);
        _cleanup_free_ char *ring = xasprintf("%d", MONITOR_RING_DEFAULT);
        const char *argv[] = {
            c->t.monitor, "--name",         c->i.name,     "--rundir", c->rd.inst, "--runtime",
            c->t.runtime, "--runtime-root", c->rd.runtime, "--log",    log,        "--ring-size",
            ring,         "--ctl",          c->t.ctl,      "--store",  s->root,    NULL};
        char line[4096];
        int pipefd[2], status;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return vessel_error_sys(err, "instance \"%s\": pipe", c->i.name);
        pid = fork();
        if (pid < 0) {
                close(pipefd[0]);
                close(pipefd[1]);
                return vessel_error_sys(err, "instance \"%s\": fork", c->i.name);
        }
        if (pid == 0) {
                daemon_child_setup(mlog, false);
                dup2(pipefd[1], 3);
                execv(argv[0], (char **)argv);
                dprintf(3, "ERR exec %s: %s\n", argv[0], strerror(errno));
                _exit(127);
        }
        close(pipefd[1]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        read_report(pipefd[0], line, sizeof(line));
        close(pipefd[0]);
        if (!strncmp(line, "OK ", 3))
                return 0;
        return vessel_error_msg(err, EIO, "instance \"%s\": start: %s", c->i.name,
                                !strncmp(line, "ERR ", 4) ? line + 4
                                                          : "the monitor ended without a word");
}

int instance_start(struct vessel_store *s, const char *name, vessel_error **err)
{
        _cleanup_run_ctx_ struct run_ctx c;
        _cleanup_free_ char *json = NULL, *cfg = NULL;
        int r;

        if (run_ctx_open(s, name, &c, err) < 0)
                return vessel_error_rc(err);
        if (rundir_monitor_alive(&c.rd))
                return vessel_error_msg(err, EBUSY, "instance \"%s\": is already running", name);
        /* What a crashed monitor may have left in the runtime. */
        _cleanup_free_ char *pidf = xasprintf("%s/init.pid", c.rd.inst);
        _cleanup_free_ char *left = xasprintf("%s/%s", c.rd.runtime, name);
        if (access(left, F_OK) == 0)
                runtime(&c.t, &c.rd, "delete",
                        (const char *const[]){"delete", "--force", name, NULL}, NULL);
        unlink(pidf);
        _cleanup_free_ char *paused = xasprintf("%s/paused", c.rd.inst);
        unlink(paused);
        /* The pending create/copy/rename templates, then the start ones. */
        _cleanup_free_ char *rootfs = xasprintf("%s/instances/%s/rootfs", s->root, name);
        if (instance_storage_ready(s, name, err) < 0 ||
            instance_templates_apply(s, name, rootfs, TRIGGER_START, err) < 0)
                return vessel_error_rc(err);
        if (instance_oci_config_start(s, name, &json, err) < 0)
                return vessel_error_rc(err);
        cfg = xasprintf("%s/config.json", c.rd.inst);
        if (write_file_atomic(cfg, json, strlen(json), 0600, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\"", name);
        /* Running before the monitor starts, so that its exit, however
         * early, is recorded after this. */
        if (db_set_run_state(s, name, "running", true, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\"", name);
        r = spawn_monitor(s, &c, err);
        if (r < 0) {
                vessel_error *e2 = NULL;
                db_set_run_state(s, name, "stopped", false, &e2);
                vessel_error_free(&e2);
        }
        return r;
}

static pid_t read_init_pid(const struct rundir *rd)
{
        _cleanup_free_ char *p = xasprintf("%s/init.pid", rd->inst), *text = NULL;
        int64_t pid;

        if (read_file_at(AT_FDCWD, p, &text, NULL, NULL) < 0 || parse_int64(text, &pid) < 0)
                return 0;
        return (pid_t)pid;
}

/* boot.stop.signal, else what the init understands as "halt". */
static int halt_signal(struct vessel_store *s, const struct run_ctx *c, vessel_error **err)
{
        struct confset conf = {0};
        const char *v;
        int sig = SIGPWR;

        if (instance_expand(s, &c->i, &conf, err) < 0)
                return vessel_error_rc(err);
        v = kvlist_get(&conf.config, "boot.stop.signal");
        if (v) {
                if (config_parse_signal(v, &sig) < 0)
                        sig = -1;
        } else {
                pid_t init = read_init_pid(&c->rd);
                _cleanup_free_ char *p = xasprintf("/proc/%d/comm", (int)init);
                _cleanup_free_ char *exe = xasprintf("/proc/%d/exe", (int)init);
                _cleanup_free_ char *cl = xasprintf("/proc/%d/cmdline", (int)init);
                _cleanup_free_ char *comm = NULL, *cmdline = NULL;
                char target[PATH_MAX];
                ssize_t n = readlink(exe, target, sizeof(target) - 1);
                target[n > 0 ? n : 0] = '\0';
                const char *base = strrchr(target, '/');
                if (read_file_at(AT_FDCWD, p, &comm, NULL, NULL) == 0 && !strcmp(comm, "systemd\n"))
                        sig = SIGRTMIN + 3;
                else if (base && !strcmp(base, "/busybox") &&
                         read_file_at(AT_FDCWD, cl, &cmdline, NULL, NULL) == 0 &&
                         (!strcmp(cmdline, "init") || !strcmp(cmdline, "/sbin/init")))
                        sig = SIGUSR2; /* busybox init's poweroff; it ignores SIGPWR */
        }
        confset_free(&conf);
        return sig > 0 ? sig : vessel_error_msg(err, EINVAL, "boot.stop.signal: \"%s\"", v);
}

static int kill_and_wait(struct run_ctx *c, int sig, int timeout_ms, vessel_error **err)
{
        char num[16];
        int r;

        snprintf(num, sizeof(num), "%d", sig);
        r = runtime(&c->t, &c->rd, "kill", (const char *const[]){"kill", c->i.name, num, NULL},
                    err);
        if (r < 0) {
                /* It may have ended on its own meanwhile. */
                if (!rundir_monitor_alive(&c->rd)) {
                        vessel_error_free(err);
                        return 1;
                }
                return r;
        }
        return rundir_monitor_wait(&c->rd, timeout_ms, err);
}

int instance_stop(struct vessel_store *s, const char *name, int timeout_s, bool force,
                  vessel_error **err)
{
        _cleanup_run_ctx_ struct run_ctx c;
        int sig, r;

        if (run_ctx_open(s, name, &c, err) < 0)
                return vessel_error_rc(err);
        if (!rundir_monitor_alive(&c.rd)) {
                _cleanup_free_ char *pidf = xasprintf("%s/init.pid", c.rd.inst);
                bool orphan = strcmp(c.i.state, "stopped") && access(pidf, F_OK) == 0;
                /* A monitor that died left its container: the runtime ends it. */
                if (orphan &&
                    runtime(&c.t, &c.rd, "delete",
                            (const char *const[]){"delete", "--force", name, NULL}, err) < 0)
                        return vessel_error_prefix(err, "instance \"%s\"", name);
                unlink(pidf);
                if (strcmp(c.i.state, "stopped"))
                        db_set_run_state(s, name, "stopped", false, NULL);
                if (orphan)
                        return 0;
                return vessel_error_msg(err, EINVAL, "instance \"%s\": is not running", name);
        }
        /* A frozen init cannot act on a signal: thaw it first. */
        _cleanup_free_ char *paused = xasprintf("%s/paused", c.rd.inst);
        if (!strcmp(c.i.state, "frozen") &&
            runtime(&c.t, &c.rd, "resume", (const char *const[]){"resume", name, NULL}, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\"", name);
        unlink(paused);
        sig = force ? SIGKILL : halt_signal(s, &c, err);
        if (sig < 0)
                return vessel_error_prefix(err, "instance \"%s\"", name);
        r = kill_and_wait(&c, sig, force ? 10000 : timeout_s * 1000, err);
        if (r == 0 && !force)
                r = kill_and_wait(&c, SIGKILL, 10000, err);
        if (r < 0)
                return vessel_error_prefix(err, "instance \"%s\": stop", name);
        if (r == 0)
                return vessel_error_msg(err, ETIMEDOUT,
                                        "instance \"%s\": still running 10 s after SIGKILL", name);
        return 0;
}

int instance_pause(struct vessel_store *s, const char *name, bool pause, vessel_error **err)
{
        _cleanup_run_ctx_ struct run_ctx c;
        const char *verb = pause ? "pause" : "resume";

        if (run_ctx_open(s, name, &c, err) < 0)
                return vessel_error_rc(err);
        if (!rundir_monitor_alive(&c.rd))
                return vessel_error_msg(err, EINVAL, "instance \"%s\": is not running", name);
        if (!strcmp(c.i.state, pause ? "frozen" : "running"))
                return vessel_error_msg(err, EINVAL, "instance \"%s\": is %s already", name,
                                        pause ? "paused" : "running");
        _cleanup_free_ char *marker = xasprintf("%s/paused", c.rd.inst);
        if (runtime(&c.t, &c.rd, verb, (const char *const[]){verb, name, NULL}, err) < 0 ||
            db_set_run_state(s, name, pause ? "frozen" : "running", false, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\"", name);
        if (pause) {
                int fd = open(marker, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
                if (fd >= 0)
                        close(fd);
        } else {
                unlink(marker);
        }
        return 0;
}

int instance_record_exit(struct vessel_store *s, const char *name, int status, int lockfd,
                         vessel_error **err)
{
        _cleanup_tx_ struct store_tx tx = {0};
        _cleanup_stmt_ sqlite3_stmt *st = NULL;
        struct instance i;
        bool ephemeral;

        if (store_tx_begin(s, &tx, err) < 0 || instance_get(s, name, &i, err) < 0)
                return vessel_error_rc(err);
        ephemeral = i.ephemeral;
        instance_free(&i);
        if (store_prepare(s,
                          "UPDATE instances SET state = 'stopped', last_exit_status = ? "
                          "WHERE name = ?",
                          &st, err) < 0)
                return -EIO;
        sqlite3_bind_int(st, 1, status);
        db_bind_text(st, 2, name);
        if (store_step(s, st, err) != SQLITE_DONE || store_tx_commit(&tx, err) < 0)
                return -EIO;
        if (ephemeral && status != 128 + SIGHUP)
                return instance_delete_by_monitor(s, name, err);
        if (status != 128 + SIGHUP)
                return 0;
        /* A reboot: this monitor has ended; the next one starts. */
        close(lockfd);
        return instance_start(s, name, err);
}

int instance_orphan_reap(struct vessel_store *s, const char *name, const struct rundir *rd,
                         vessel_error **err)
{
        _cleanup_free_ char *pidf = xasprintf("%s/init.pid", rd->inst);
        _cleanup_free_ char *left = xasprintf("%s/%s", rd->runtime, name);
        struct run_tools t = {0};
        int r = 0;

        if (access(left, F_OK) == 0) {
                if ((r = run_tools_find(&t, err)) == 0)
                        r = runtime(&t, rd, "delete",
                                    (const char *const[]){"delete", "--force", name, NULL}, err);
                run_tools_free(&t);
                if (r < 0)
                        return vessel_error_prefix(err, "instance \"%s\"", name);
        }
        unlink(pidf);
        return db_set_run_state(s, name, "stopped", false, err) < 0
                   ? vessel_error_prefix(err, "instance \"%s\"", name)
                   : 0;
}

int instance_live_state(struct vessel_store *s, const char *name, const char *db_state,
                        struct instance_live *out, vessel_error **err)
{
        *out = (struct instance_live){.state = "stopped"};
        if (strcmp(db_state, "running") && strcmp(db_state, "frozen"))
                return 0;
        if (!instance_monitor_alive(s, name)) {
                /* The monitor ended without recording the exit: killed, or the
                 * host went down.  If it left init.pid, the container may run
                 * on ("error" until stop or delete cleans it up); else correct
                 * the catalogue, unless a start is at work on it. */
                struct rundir rd;
                if (rundir_open(s, name, &rd, NULL) == 0) {
                        _cleanup_free_ char *p = xasprintf("%s/op.lock", rd.inst);
                        _cleanup_close_ int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
                        pid_t init = read_init_pid(&rd);
                        if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0 &&
                            !rundir_monitor_alive(&rd)) {
                                if (init > 0 && kill(init, 0) == 0)
                                        out->state = "error";
                                else
                                        db_set_run_state(s, name, "stopped", false, NULL);
                        } else if (fd >= 0) {
                                out->state = db_state; /* a start at work */
                        }
                        rundir_free(&rd);
                }
                return 0;
        }
        struct rundir rd;
        if (rundir_open(s, name, &rd, err) < 0)
                return vessel_error_rc(err);
        out->state = db_state;
        out->init = read_init_pid(&rd);
        rundir_free(&rd);
        return 0;
}

int instance_exec_argv(const char *store_root, const char *name, const struct instance_exec_opts *o,
                       char ***argv, vessel_error **err)
{
        _cleanup_run_ctx_ struct run_ctx c = {.oplock = -1};
        _cleanup_strv_ char **v = NULL;
        const char *term = getenv("TERM");

        /* The monitor's lock and the run directory say all exec needs;
         * the catalogue is not opened (an exec costs what the runtime's
         * does, plus little). */
        rundir_at(store_root, name, &c.rd);
        if (!rundir_monitor_alive(&c.rd))
                return vessel_error_msg(err, ESRCH, "instance \"%s\": is not running", name);
        _cleanup_free_ char *paused = xasprintf("%s/paused", c.rd.inst);
        if (access(paused, F_OK) == 0)
                return vessel_error_msg(err, EINVAL, "instance \"%s\": is paused", name);
        if (run_tools_find(&c.t, err) < 0)
                return vessel_error_prefix(err, "instance \"%s\"", name);
        v = strv_append(v, c.t.runtime);
        v = strv_append(v, "--root");
        v = strv_append(v, c.rd.runtime);
        v = strv_append(v, "exec");
        if (o->tty)
                v = strv_append(v, "--tty");
        v = strv_append(v, "--cwd");
        v = strv_append(v, o->cwd ? o->cwd : o->uid > 0 ? "/" : "/root");
        if (o->uid >= 0 || o->gid >= 0) {
                _cleanup_free_ char *u =
                    xasprintf("%ld:%ld", o->uid >= 0 ? o->uid : 0, o->gid >= 0 ? o->gid : 0);
                v = strv_append(v, "--user");
                v = strv_append(v, u);
        }
        /* Incus's defaults, then the caller's --env (the instance's
         * environment.* keys are in its config's environment already). */
        if (o->uid <= 0) {
                v = strv_append(v, "--env");
                v = strv_append(v, "HOME=/root");
                v = strv_append(v, "--env");
                v = strv_append(v, "USER=root");
        }
        v = strv_append(v, "--env");
        v = strv_append(v, "LANG=C.UTF-8");
        if (o->tty) {
                _cleanup_free_ char *t = xasprintf("TERM=%s", term && *term ? term : "xterm");
                v = strv_append(v, "--env");
                v = strv_append(v, t);
        }
        for (char **e = o->env; e && *e; e++) {
                v = strv_append(v, "--env");
                v = strv_append(v, *e);
        }
        v = strv_append(v, name);
        for (char **a = o->cmd; a && *a; a++)
                v = strv_append(v, *a);
        *argv = steal_ptr(&v);
        return 0;
}

static int stats_text(struct vessel_store *s, const char *name, char **json, vessel_error **err)
{
        struct run_tools t;
        struct rundir rd;
        int pipefd[2], status;
        pid_t pid;
        char *buf = NULL;
        size_t len = 0;
        FILE *mem;

        if (rundir_open(s, name, &rd, err) < 0)
                return vessel_error_rc(err);
        if (run_tools_find(&t, err) < 0) {
                rundir_free(&rd);
                return vessel_error_rc(err);
        }
        if (pipe2(pipefd, O_CLOEXEC) < 0 || (pid = fork()) < 0) {
                run_tools_free(&t);
                rundir_free(&rd);
                return vessel_error_sys(err, "instance \"%s\": stats", name);
        }
        if (pid == 0) {
                int null = open("/dev/null", O_RDWR);
                dup2(pipefd[1], STDOUT_FILENO);
                dup2(null, STDERR_FILENO);
                execl(t.runtime, t.runtime, "--root", rd.runtime, "events", "--stats", name,
                      (char *)NULL);
                _exit(127);
        }
        close(pipefd[1]);
        mem = open_memstream(&buf, &len);
        for (char chunk[4096];;) {
                ssize_t k = read(pipefd[0], chunk, sizeof(chunk));
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        break;
                fwrite(chunk, 1, (size_t)k, mem);
        }
        fclose(mem);
        close(pipefd[0]);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        run_tools_free(&t);
        rundir_free(&rd);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 || !len) {
                free(buf);
                return vessel_error_msg(err, EIO, "instance \"%s\": the runtime gave no stats",
                                        name);
        }
        *json = buf;
        return 0;
}

static int64_t jget(json_object *o, const char *path)
{
        _cleanup_free_ char *p = xstrdup(path);
        char *save = NULL;

        for (char *k = strtok_r(p, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
                if (!json_object_object_get_ex(o, k, &o))
                        return -1;
        return o ? json_object_get_int64(o) : -1;
}

int instance_stats(struct vessel_store *s, const char *name, struct instance_stats *out,
                   vessel_error **err)
{
        _cleanup_free_ char *text = NULL;
        json_object *o, *d;
        int64_t cache;

        if (stats_text(s, name, &text, err) < 0)
                return vessel_error_rc(err);
        o = json_tokener_parse(text);
        if (!o || !json_object_object_get_ex(o, "data", &d)) {
                if (o)
                        json_object_put(o);
                return vessel_error_msg(err, EIO, "instance \"%s\": stats: not the runtime's JSON",
                                        name);
        }
        /* runc's format: swap.usage is memory and swap together; the page
         * cache is raw.total_cache on v1 (init sits in a child cgroup: see
         * cgroup-inner.c), raw.file on v2. */
        cache = jget(d, "memory.raw.total_cache"); /* v1, with the inner cgroup's */
        if (cache < 0)
                cache = jget(d, "memory.raw.cache");
        if (cache < 0)
                cache = jget(d, "memory.raw.file");
        *out = (struct instance_stats){
            .processes = jget(d, "pids.current"),
            .memory = jget(d, "memory.usage.usage"),
            .memory_peak = jget(d, "memory.usage.max"),
            .cpu_ns = jget(d, "cpu.usage.total"),
        };
        out->memory_nocache = out->memory >= 0 && cache >= 0 && cache <= out->memory
                                  ? out->memory - cache
                                  : out->memory;
        int64_t memsw = jget(d, "memory.swap.usage");
        out->swap = memsw >= out->memory && out->memory >= 0 ? memsw - out->memory : 0;
        json_object_put(o);
        return 0;
}

void instance_refresh(struct vessel_store *s, struct instance *i, bool stats)
{
        struct instance_live live;

        if (instance_live_state(s, i->name, i->state, &live, NULL) < 0)
                return;
        if (strcmp(live.state, i->state)) {
                free(i->state);
                i->state = xstrdup(live.state);
        }
        i->init_pid = live.init;
        if (stats && live.init > 0)
                i->have_stats = instance_stats(s, i->name, &i->stats, NULL) == 0;
}
