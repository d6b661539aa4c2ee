/* exec.c: a new process in a running container.
 *
 * The runtime forks a helper that joins every namespace of the container's
 * init at once through a pidfd (setns with several flags, so user-namespace
 * ordering is the kernel's business), then forks the process itself: only
 * a child enters the pid namespace.  The helper reports the process's pid
 * and exits; as subreaper, the runtime inherits the process and waits for
 * it.  The process then gets what init got: HOME, rlimits, cwd, memory
 * policy, I/O priority, scheduler, LSM label, identity (its stdio handed
 * to its user), capabilities and no_new_privs, then execve. */
#include "exec.h"
#include "cgroup.h"
#include "namespaces.h"
#include "process.h"
#include "scheduling.h"
#include "sync.h"
#include "terminal.h"
#include "util.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

struct exec_args {
        const struct vessel_process *proc;
        const struct vessel_spec *spec;
        const struct vessel_exec_opts *o;
        pid_t init;
        int sock, peer_sock, console;
        struct vessel_bpf seccomp;
};

/* The inner cgroup the container's init lives in (cgroup-inner.c). */
static const char *state_inner_cgroup(const struct vessel_state *st)
{
        for (size_t i = 0; i < st->n_annotations; i++)
                if (!strcmp(st->annotations[i].key, CGROUP_INNER_ANNOTATION))
                        return st->annotations[i].value;
        return NULL;
}

static int parse_id(const char *s, uint32_t *out)
{
        int64_t v;
        if (parse_int64(s, &v) < 0 || v < 0 || v > UINT32_MAX - 1)
                return -EINVAL;
        *out = (uint32_t)v;
        return 0;
}

/* Apply the command line's overrides to the process. */
static int apply_overrides(struct vessel_process *p, const struct vessel_exec_opts *o,
                           vessel_error **err)
{
        if (o->args && o->args[0]) {
                strv_free(p->args);
                p->args = strv_copy(o->args);
                p->n_args = strv_len(p->args);
        }
        for (size_t i = 0; o->env && o->env[i]; i++) {
                if (!strchr(o->env[i], '='))
                        return vessel_error_msg(err, EINVAL, "--env %s: expected KEY=VALUE",
                                                o->env[i]);
                process_env_set(p, o->env[i]);
        }
        if (o->cwd) {
                if (o->cwd[0] != '/')
                        return vessel_error_msg(err, EINVAL, "--cwd %s: must be an absolute path",
                                                o->cwd);
                free(p->cwd);
                p->cwd = xstrdup(o->cwd);
        }
        if (o->user) {
                _cleanup_free_ char *u = xstrdup(o->user);
                char *colon = strchr(u, ':');
                if (colon)
                        *colon++ = '\0';
                if (parse_id(u, &p->user.uid) < 0 || (colon && parse_id(colon, &p->user.gid) < 0))
                        return vessel_error_msg(err, EINVAL,
                                                "--user %s: expected UID[:GID] (numbers)", o->user);
                /* Without ":GID" the config's gid stays, as with runc. */
        }
        if (o->additional_gids) {
                size_t n = strv_len(o->additional_gids);
                free(p->user.additional_gids);
                p->user.additional_gids = xmalloc0(sizeof(uint32_t) * (n + 1));
                p->user.n_additional_gids = n;
                for (size_t i = 0; i < n; i++)
                        if (parse_id(o->additional_gids[i], &p->user.additional_gids[i]) < 0)
                                return vessel_error_msg(err, EINVAL,
                                                        "--additional-gids %s: not a gid",
                                                        o->additional_gids[i]);
        }
        for (size_t i = 0; o->caps && o->caps[i]; i++) {
                int cap = vessel_cap_from_name(o->caps[i]);
                if (cap < 0) {
                        _cleanup_free_ char *full = xasprintf("CAP_%s", o->caps[i]);
                        cap = vessel_cap_from_name(full);
                }
                if (cap < 0)
                        return vessel_error_msg(err, EINVAL, "--cap %s: unknown capability",
                                                o->caps[i]);
                if (!p->capabilities.present) {
                        /* No capability section means "untouched": full root caps stay. */
                        continue;
                }
                p->capabilities.sets[VESSEL_CAP_BOUNDING] |= 1ull << cap;
                p->capabilities.sets[VESSEL_CAP_EFFECTIVE] |= 1ull << cap;
                p->capabilities.sets[VESSEL_CAP_PERMITTED] |= 1ull << cap;
        }
        /* As runc: a process built from the config's gets a terminal only
         * with --tty (the config's terminal is its init's); a --process
         * file keeps its own unless --tty is given. */
        if (o->tty_set || !o->process_file)
                p->terminal = o->tty;
        if (o->no_new_privs)
                p->no_new_privileges = true;
        if (o->apparmor) {
                free(p->apparmor_profile);
                p->apparmor_profile = xstrdup(o->apparmor);
        }
        if (o->process_label) {
                free(p->selinux_label);
                p->selinux_label = xstrdup(o->process_label);
        }
        if (!p->args || !p->args[0])
                return vessel_error_msg(err, EINVAL, "exec: no command given (args or --process)");
        return 0;
}

static int join_container(const struct exec_args *a, vessel_error **err)
{
        const struct vessel_linux *lx = &a->spec->linux_;
        int pidfd = (int)syscall(SYS_pidfd_open, a->init, 0);
        int flags = 0;

        for (int t = 0; t < VESSEL_NS_COUNT; t++)
                if (lx->ns[t].present)
                        flags |= ns_clone_flag(t);
        if (pidfd < 0)
                return vessel_error_sys(err, "pidfd_open container init %d", (int)a->init);
        if (flags && setns(pidfd, flags) < 0) {
                /* Older kernels only take namespace fds: the user namespace first. */
                int e = errno;
                if (e != EINVAL) {
                        close(pidfd);
                        return vessel_error_set(err, e, "setns into the container's namespaces");
                }
                for (int pass = 0; pass < 2; pass++) {
                        for (int t = 0; t < VESSEL_NS_COUNT; t++) {
                                char path[64];
                                int fd;
                                if (!lx->ns[t].present || (t == VESSEL_NS_USER) != (pass == 0))
                                        continue;
                                snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)a->init,
                                         ns_proc_name(t));
                                fd = open(path, O_RDONLY | O_CLOEXEC);
                                if (fd < 0 || setns(fd, 0) < 0) {
                                        e = errno;
                                        if (fd >= 0)
                                                close(fd);
                                        close(pidfd);
                                        return vessel_error_set(err, e, "setns %s", path);
                                }
                                close(fd);
                        }
                }
        }
        close(pidfd);
        return 0;
}

static int exec_process(const struct exec_args *a)
{
        const struct vessel_process *p = a->proc;
        bool userns = a->spec->linux_.ns[VESSEL_NS_USER].present;
        vessel_error *err = NULL;
        _cleanup_free_ char *exe = NULL;
        struct sync_msg *m = xmalloc0(sizeof(*m));

        struct vessel_bpf bpf = a->seccomp;

        /* Wait until the runtime has put us into the container's cgroup. */
        if (sync_expect(a->sock, SYNC_GO, m, &err) < 0)
                goto fail;
        bpf.pid = m->value;
        if (a->console >= 0) {
                if (terminal_setup(-1, a->console, p, &err) < 0)
                        goto fail;
                close(a->console);
        } else if (setsid() < 0 && errno != EPERM) {
                vessel_error_sys(&err, "setsid");
                goto fail;
        }
        /* Our own copy of the process: process_prepare adds HOME to its env. */
        if (process_prepare((struct vessel_process *)p, NULL, false, &exe, &err) < 0 ||
            scheduling_apply(p, &a->spec->linux_, &err) < 0)
                goto fail;
        if (process_drop_inherited(a->o->preserve_fds, &err) < 0 ||
            process_apply_lsm(p, &err) < 0 || process_set_identity(p, userns, &bpf, &err) < 0)
                goto fail;
        /* execve closes the socket (CLOEXEC): the runtime sees EOF = started. */
        process_exec(p, exe, &err);
fail:
        sync_send(a->sock, SYNC_ERROR, err ? err->code : EINVAL, err ? err->msg : "exec failed");
        _exit(127);
}

static int exec_helper(const struct exec_args *a)
{
        vessel_error *err = NULL;
        sigset_t none;
        int keep[3] = {a->sock, a->console >= 0 ? a->console : a->seccomp.listener,
                       a->console >= 0 ? a->seccomp.listener : -1};
        size_t nkeep = 1 + (keep[1] >= 0) + (keep[2] >= 0);
        pid_t pid;

        /* Non-dumpable until execve: the container's processes cannot reach
         * this runtime's binary through /proc/PID/exe (CVE-2019-5736), nor
         * our fds or memory, without CAP_SYS_PTRACE in the host's user ns. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return 1;
        close(a->peer_sock);
        close_fds_from(3 + a->o->preserve_fds, keep, nkeep);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (join_container(a, &err) < 0) {
                sync_send(a->sock, SYNC_ERROR, err->code, err->msg);
                return 1;
        }
        pid = fork();
        if (pid < 0) {
                vessel_error_sys(&err, "fork");
                sync_send(a->sock, SYNC_ERROR, err->code, err->msg);
                return 1;
        }
        if (pid == 0)
                exec_process(a);
        sync_send(a->sock, SYNC_PID, pid, NULL);
        return 0;
}

static int load_process(const struct vessel_exec_opts *o, struct vessel_spec *spec,
                        struct vessel_process **owned, vessel_error **err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r;

        if (!o->process_file)
                return 0;
        if (!strcmp(o->process_file, "-"))
                r = read_file_at(AT_FDCWD, "/dev/stdin", &buf, &len, err);
        else
                r = read_file_at(AT_FDCWD, o->process_file, &buf, &len, err);
        if (r < 0)
                return vessel_error_prefix(err, "--process");
        r = vessel_process_parse(buf, len, owned, err);
        if (r < 0)
                return vessel_error_prefix(err, "--process %s", o->process_file);
        return 0;
}

static int start_exec(const struct vessel_runtime *rt, const struct vessel_exec_opts *o,
                      pid_t *out_pid, int *master, vessel_error **err)
{
        _cleanup_close_ int dirfd = state_dir_open(rt->root, o->id, STATE_LOCK_SHARED, err);
        struct vessel_spec *spec = NULL;
        struct vessel_process *owned = NULL;
        struct vessel_state st = {0};
        struct exec_args a = {
            .sock = -1, .peer_sock = -1, .console = -1, .seccomp = {.listener = -1}};
        _cleanup_free_ char *exec_state = NULL;
        _cleanup_close_ int console_peer = -1;
        int socks[2] = {-1, -1};
        struct sync_msg *m = NULL;
        enum vessel_status s;
        pid_t helper = -1, pid = -1;
        int r;

        if (dirfd < 0)
                return dirfd;
        if ((r = state_read(dirfd, &st, err)) < 0)
                return r;
        s = state_status(&st);
        if (s != VESSEL_RUNNING && s != VESSEL_CREATED) {
                r = vessel_error_msg(err, EINVAL, "cannot exec in container \"%s\": it is %s",
                                     o->id, vessel_status_name(s));
                goto out;
        }
        {
                _cleanup_free_ char *buf = NULL;
                size_t len;
                if ((r = read_file_at(dirfd, "config.json", &buf, &len, err)) < 0 ||
                    (r = vessel_spec_parse(buf, len, &spec, err)) < 0)
                        goto out;
        }
        if ((r = load_process(o, spec, &owned, err)) < 0)
                goto out;
        a.proc = owned ? owned : &spec->process;
        if ((r = apply_overrides((struct vessel_process *)a.proc, o, err)) < 0)
                goto out;
        if ((r = process_check_lsm(a.proc, err)) < 0)
                goto out;
        {
                _cleanup_free_ char *cache = xasprintf("%s/.seccomp-cache", rt->root);
                if ((r = seccomp_compile(&spec->linux_.seccomp, cache, &a.seccomp, err)) < 0 ||
                    (r = seccomp_connect_listener(&spec->linux_.seccomp, &a.seccomp, err)) < 0)
                        goto out;
                /* The listener gets the container's state (state.pid is init's; "pid" the exec'd
                 * process's). */
                exec_state = state_to_json(&st, s, false);
                a.seccomp.state_json = exec_state;
        }
        if (a.proc->terminal && !o->console_socket && o->detach) {
                r = vessel_error_msg(
                    err, EINVAL,
                    "exec --tty --detach needs a --console-socket to send the terminal to");
                goto out;
        }
        if (o->console_socket) {
                a.console = terminal_connect(o->console_socket, err);
                if (a.console < 0) {
                        r = a.console;
                        goto out;
                }
        } else if (a.proc->terminal) {
                int pair[2];
                if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
                        r = vessel_error_sys(err, "socketpair for the terminal");
                        goto out;
                }
                a.console = pair[0];
                console_peer = pair[1];
                terminal_inherit_size((struct vessel_process *)a.proc);
        }
        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, socks) < 0) {
                r = vessel_error_sys(err, "socketpair");
                goto out;
        }
        a.spec = spec;
        a.o = o;
        a.init = st.pid;
        a.peer_sock = socks[0];
        a.sock = socks[1];

        helper = fork();
        if (helper < 0) {
                r = vessel_error_sys(err, "fork");
                goto out;
        }
        if (helper == 0)
                _exit(exec_helper(&a));
        closep(&socks[1]);
        m = xmalloc0(sizeof(*m));
        r = sync_expect(socks[0], SYNC_PID, m, err);
        while (waitpid(helper, NULL, 0) < 0 && errno == EINTR)
                ;
        if (r < 0)
                goto out;
        pid = m->value;
        /* Into the container's cgroup (or --cgroup's sub-cgroup, or the one
         * its init lives in) before it runs. */
        if ((r = cgroup_join_exec(st.cgroup_path, pid, o->cgroup, state_inner_cgroup(&st), st.pid,
                                  err)) < 0)
                goto out;
        /* GO carries the process's pid as we see it: its seccomp listener
         * is told that one, not init's. */
        if (sync_send(socks[0], SYNC_GO, pid, NULL) < 0) {
                r = vessel_error_sys(err, "exec: the process went away");
                goto out;
        }
        /* EOF means execve happened; an error message means it did not. */
        r = sync_recv(socks[0], m);
        if (r == 0 && m->type == SYNC_ERROR) {
                r = vessel_error_msg(err, m->value > 0 ? m->value : EINVAL, "%s", m->text);
                while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                        ;
                pid = -1;
                goto out;
        }
        r = 0;
        if (console_peer >= 0) {
                *master = terminal_recv_master(console_peer, err);
                if (*master < 0) {
                        r = *master;
                        goto out;
                }
        }
        if ((r = write_pid_file(o->pid_file, pid, err)) < 0)
                goto out;
        *out_pid = pid;
        pid = -1;
out:
        if (pid > 0) {
                kill(pid, SIGKILL);
                waitpid(pid, NULL, 0);
        }
        free(m);
        seccomp_bpf_clear(&a.seccomp);
        closep(&socks[0]);
        closep(&socks[1]);
        closep(&a.console);
        if (owned)
                vessel_process_free(owned);
        vessel_spec_free(spec);
        state_clear(&st);
        return r;
}

int vessel_exec(const struct vessel_runtime *rt, const struct vessel_exec_opts *o, int *status,
                vessel_error **err)
{
        _cleanup_close_ int master = -1;
        sigset_t all, old;
        pid_t pid = -1;
        int r;

        *status = 0;
        /* The process is a grandchild: as subreaper we inherit and reap it. */
        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        sigfillset(&all);
        sigdelset(&all, SIGSEGV);
        sigdelset(&all, SIGBUS);
        sigdelset(&all, SIGILL);
        sigdelset(&all, SIGFPE);
        if (!o->detach)
                sigprocmask(SIG_BLOCK, &all, &old);
        r = start_exec(rt, o, &pid, &master, err);
        if (r == 0 && !o->detach)
                r = terminal_supervise(pid, master, status, err);
        if (!o->detach)
                sigprocmask(SIG_SETMASK, &old, NULL);
        return r;
}
