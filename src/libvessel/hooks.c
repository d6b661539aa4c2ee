#include "hooks.h"
#include "state.h"
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

extern char **environ;

int hooks_check(const struct vessel_spec *spec, vessel_error **err)
{
        for (int k = 0; k < VESSEL_HOOK_KIND_COUNT; k++) {
                /* startContainer hooks are resolved inside the container. */
                if (k == VESSEL_HOOK_START_CONTAINER)
                        continue;
                for (size_t i = 0; i < spec->hooks.n[k]; i++) {
                        const char *path = spec->hooks.list[k][i].path;
                        struct stat st;
                        if (stat(path, &st) < 0)
                                return vessel_error_sys(err, "hooks.%s[%zu].path %s",
                                                        vessel_hook_name(k), i, path);
                        if (!S_ISREG(st.st_mode) || access(path, X_OK) < 0)
                                return vessel_error_set(
                                    err, EACCES, "hooks.%s[%zu].path %s: not an executable file",
                                    vessel_hook_name(k), i, path);
                }
        }
        return 0;
}

static int wait_with_timeout(pid_t pid, int timeout_s, int *status, bool *timed_out)
{
        int pfd = (int)syscall(SYS_pidfd_open, pid, 0);

        *timed_out = false;
        if (pfd >= 0 && timeout_s > 0) {
                struct pollfd p = {.fd = pfd, .events = POLLIN};
                int r;
                do
                        r = poll(&p, 1, timeout_s * 1000);
                while (r < 0 && errno == EINTR);
                if (r == 0) {
                        *timed_out = true;
                        kill(pid, SIGKILL);
                }
        }
        if (pfd >= 0)
                close(pfd);
        while (waitpid(pid, status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        return 0;
}

static int run_one(const struct vessel_hook *h, const char *state_json, const char *kind,
                   size_t idx, vessel_error **err)
{
        int pipefd[2];
        int status;
        bool timed_out;
        pid_t pid;

        if (pipe2(pipefd, O_CLOEXEC) < 0)
                return vessel_error_sys(err, "hooks.%s[%zu]: pipe", kind, idx);
        pid = fork();
        if (pid < 0) {
                close(pipefd[0]);
                close(pipefd[1]);
                return vessel_error_sys(err, "hooks.%s[%zu]: fork", kind, idx);
        }
        if (pid == 0) {
                char *const def_argv[] = {h->path, NULL};
                sigset_t all;

                sigemptyset(&all);
                sigprocmask(SIG_SETMASK, &all, NULL);
                /* A hook runs on behalf of the command that waits for it: a
                 * killed create or delete leaves no hook behind. */
                prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
                if (dup2(pipefd[0], 0) < 0)
                        _exit(127);
                /* Hooks write to the runtime's stderr, never into the container's stdout. */
                dup2(2, 1);
                close_fds_from(3, NULL, 0);
                /* Without "env" a hook gets the runtime's environment, as
                 * with runc and crun; "env": [] is an empty one. */
                execve(h->path, h->args ? h->args : def_argv, h->env ? h->env : environ);
                _exit(127);
        }
        close(pipefd[0]);
        /* A hook need not read its stdin. */
        (void)write_all_nosigpipe(pipefd[1], state_json, strlen(state_json));
        close(pipefd[1]);
        if (wait_with_timeout(pid, h->has_timeout ? h->timeout : 0, &status, &timed_out) < 0)
                return vessel_error_sys(err, "hooks.%s[%zu]: waitpid", kind, idx);
        if (timed_out)
                return vessel_error_msg(err, ETIMEDOUT, "hooks.%s[%zu] %s: timed out after %d s",
                                        kind, idx, h->path, h->timeout);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (WIFEXITED(status))
                return vessel_error_set(err, 0, "hooks.%s[%zu] %s: exited with status %d", kind,
                                        idx, h->path, WEXITSTATUS(status));
        return vessel_error_set(err, 0, "hooks.%s[%zu] %s: killed by signal %d", kind, idx, h->path,
                                WTERMSIG(status));
}

void hooks_run_warn(const struct vessel_spec *spec, enum vessel_hook_kind kind,
                    const char *state_json)
{
        for (size_t i = 0; i < spec->hooks.n[kind]; i++) {
                vessel_error *err = NULL;
                if (run_one(&spec->hooks.list[kind][i], state_json, vessel_hook_name(kind), i,
                            &err) < 0)
                        fprintf(stderr, "vessel: warning: %s\n", err ? err->msg : "hook failed");
                vessel_error_free(&err);
        }
}

int hooks_run(const struct vessel_spec *spec, enum vessel_hook_kind kind, const char *state_json,
              vessel_error **err)
{
        for (size_t i = 0; i < spec->hooks.n[kind]; i++) {
                int r =
                    run_one(&spec->hooks.list[kind][i], state_json, vessel_hook_name(kind), i, err);
                if (r < 0)
                        return r;
        }
        return 0;
}

int hooks_run_in_container(const struct vessel_spec *spec, enum vessel_hook_kind kind,
                           const char *state_json, vessel_error **err)
{
        _cleanup_free_ char *json = NULL;

        if (!spec->hooks.n[kind])
                return 0;
        json = state_json_set_pid(state_json, getpid());
        return hooks_run(spec, kind, json, err);
}
