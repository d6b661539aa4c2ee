/* userns-helper.c: a child in a user namespace of the user's own ids,
 * for a rootless store's files (see userns-helper.h). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "idmap.h"
#include "spec.h"
#include "userns-helper.h"
#include "util.h"

/* The child's report on the error pipe: "CODE MESSAGE", nothing on
 * success. */
static _Noreturn void child_fail(int fd, int code, const char *msg)
{
        dprintf(fd, "%d %s", code, msg);
        _exit(1);
}

static _Noreturn void child(pid_t parent, int sync_rd, int sync_wr, int err_fd, userns_fn fn,
                            void *arg)
{
        vessel_error *e = NULL;
        char c;

        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
                child_fail(err_fd, errno, "prctl(PR_SET_PDEATHSIG) failed");
        if (getppid() != parent)
                _exit(1); /* the parent died before the line above */
        if (unshare(CLONE_NEWUSER) < 0) {
                int code = errno;
                char msg[256];
                snprintf(msg, sizeof(msg),
                         "unshare(CLONE_NEWUSER): %s (are unprivileged user namespaces "
                         "allowed: kernel.unprivileged_userns_clone, "
                         "user.max_user_namespaces?)",
                         strerror(code));
                child_fail(err_fd, code, msg);
        }
        c = 'u';
        if (write(sync_wr, &c, 1) != 1)
                _exit(1);
        /* EOF: the parent could not map us and reports why itself. */
        if (read(sync_rd, &c, 1) != 1 || c != 'm')
                _exit(1);
        /* Mapped: our ids are 0 here.  The host groups we carry are not
         * mapped; drop them so that nothing is done in their name. */
        if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)
                child_fail(err_fd, errno, "setresuid/setresgid(0) in the user namespace failed");
        if (setgroups(0, NULL) < 0)
                child_fail(err_fd, errno, "setgroups(0) in the user namespace failed");
        if (fn(arg, &e) < 0)
                child_fail(err_fd, e ? e->code : EIO, e && e->msg ? e->msg : "failed");
        _exit(0);
}

/* The user's own uid and gid as 0, then each range of the pool onto
 * itself, written by newuidmap/newgidmap (idmap_write), which check them
 * against /etc/subuid and /etc/subgid. */
static int map_child(pid_t pid, const struct idrange_user *u, vessel_error **err)
{
        _cleanup_free_ struct vessel_idmap *uids = xmalloc0((u->n + 1) * sizeof(*uids));
        _cleanup_free_ struct vessel_idmap *gids = xmalloc0((u->n + 1) * sizeof(*gids));
        struct vessel_linux lx = {.uid_mappings = uids,
                                  .n_uid_mappings = u->n + 1,
                                  .gid_mappings = gids,
                                  .n_gid_mappings = u->n + 1};

        uids[0] = (struct vessel_idmap){0, u->uid, 1};
        gids[0] = (struct vessel_idmap){0, u->gid, 1};
        for (size_t i = 0; i < u->n; i++) {
                struct vessel_idmap m = {(uint32_t)u->pool[i].start, (uint32_t)u->pool[i].start,
                                         (uint32_t)u->pool[i].size};
                uids[i + 1] = gids[i + 1] = m;
        }
        return idmap_write(pid, &lx, err);
}

/* The child's report: its error, or success. */
static int collect(pid_t pid, int err_fd, const char *what, vessel_error **err)
{
        char buf[4096];
        size_t got = 0;
        int status, code = EIO, off = 0;
        ssize_t k;

        while (got < sizeof(buf) - 1 && ((k = read(err_fd, buf + got, sizeof(buf) - 1 - got)) > 0 ||
                                         (k < 0 && errno == EINTR)))
                if (k > 0)
                        got += (size_t)k;
        buf[got] = '\0';
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return vessel_error_sys(err, "%s: waitpid of the user namespace helper",
                                                what);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
                return 0;
        if (got && sscanf(buf, "%d %n", &code, &off) == 1 && off > 0)
                return vessel_error_msg(err, code > 0 ? code : EIO, "%s", buf + off);
        return vessel_error_msg(err, EIO, "%s: the user namespace helper failed (status %d)", what,
                                status);
}

int userns_run(const struct idrange_user *u, const char *what, userns_fn fn, void *arg,
               vessel_error **err)
{
        int to_child[2] = {-1, -1}, to_parent[2] = {-1, -1}, errp[2] = {-1, -1}, r;
        pid_t pid, parent;
        char c;

        if (pipe2(to_child, O_CLOEXEC) < 0 || pipe2(to_parent, O_CLOEXEC) < 0 ||
            pipe2(errp, O_CLOEXEC) < 0) {
                r = vessel_error_sys(err, "%s: pipe", what);
                goto out;
        }
        fflush(NULL);
        parent = getpid();
        pid = fork();
        if (pid < 0) {
                r = vessel_error_sys(err, "%s: fork", what);
                goto out;
        }
        if (pid == 0) {
                close(to_child[1]);
                close(to_parent[0]);
                close(errp[0]);
                child(parent, to_child[0], to_parent[1], errp[1], fn, arg);
        }
        closep(&to_child[0]);
        closep(&to_parent[1]);
        closep(&errp[1]);
        r = 0;
        if (read(to_parent[0], &c, 1) == 1 && c == 'u') {
                vessel_error *e = NULL;
                if (map_child(pid, u, &e) < 0) {
                        /* The child sees EOF and leaves. */
                        closep(&to_child[1]);
                        collect(pid, errp[0], what, NULL);
                        r = vessel_error_msg(err, e->code ? e->code : EPERM,
                                             "%s: mapping user %s's ids into a user namespace: %s",
                                             what, u->name, e->msg);
                        vessel_error_free(&e);
                        goto out;
                }
                c = 'm';
                if (write(to_child[1], &c, 1) != 1) {
                        /* It died: collect says how. */
                }
        }
        closep(&to_child[1]);
        r = collect(pid, errp[0], what, err);
out:
        for (int i = 0; i < 2; i++) {
                closep(&to_child[i]);
                closep(&to_parent[i]);
                closep(&errp[i]);
        }
        return r;
}

int userns_run_self(const char *what, userns_fn fn, void *arg, vessel_error **err)
{
        struct idrange_user u;
        int r = idrange_user_read(&u, err);

        if (r < 0)
                return vessel_error_prefix(err, "%s", what);
        r = userns_run(&u, what, fn, arg, err);
        idrange_user_free(&u);
        return r;
}

struct rm_args {
        int dirfd;
        const char *name;
};

static int rm_fn(void *arg, vessel_error **err)
{
        const struct rm_args *a = arg;

        int r = rm_rf_at(a->dirfd, a->name);

        return r < 0 ? vessel_error_set(err, -r, "rm -rf %s", a->name) : 0;
}

int userns_rm_rf_at(int dirfd, const char *name, vessel_error **err)
{
        struct rm_args a = {dirfd, name};
        _cleanup_free_ char *what = xasprintf("removing %s", name);
        struct idrange_user u;
        int r;

        /* A user without a usable pool cannot have made files of other
         * ids (a refused import's staging directory): removed as is. */
        if (idrange_user_read(&u, NULL) < 0)
                return rm_fn(&a, err);
        r = userns_run(&u, what, rm_fn, &a, err);
        idrange_user_free(&u);
        return r;
}
