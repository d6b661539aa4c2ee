/* container.c: the life of a created container: start, kill, delete,
 * state, list, and run (create + start + wait + delete).  See
 * container-internal.h for how create.c and init.c share the work. */
#include "container.h"
#include "container-internal.h"
#include "hooks.h"
#include "notify.h"
#include "terminal.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
/* Wait for init's report on its startContainer hooks (see REPLY_FIFO). */
static int wait_start_reply(int reply, const char *id, vessel_error **err)
{
        char buf[4096];
        size_t got = 0;
        ssize_t n;

        if (fcntl(reply, F_SETFL, 0) < 0)
                return vessel_error_sys(err, "fcntl %s", REPLY_FIFO);
        while (got < sizeof(buf) - 1 && (n = read(reply, buf + got, sizeof(buf) - 1 - got)) != 0) {
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return vessel_error_sys(err, "read %s", REPLY_FIFO);
                }
                got += (size_t)n;
        }
        buf[got] = '\0';
        if (got)
                return vessel_error_msg(err, EIO, "start container \"%s\": %s", id, buf);
        return 0;
}

int start_locked(int dirfd, struct vessel_state *st, const struct vessel_spec *spec, int *notify,
                 vessel_error **err)
{
        _cleanup_close_ int fifo = -1, reply = -1;
        enum vessel_status s = state_status(st);
        int r;

        if (s != VESSEL_CREATED)
                return vessel_error_msg(err, EINVAL,
                                        "cannot start container \"%s\": it is %s, not created",
                                        st->id, vessel_status_name(s));
        if ((r = notify_listen(dirfd, notify, err)) < 0)
                return r;
        /* Opened first: its writer, init, holds it until execve. */
        reply = openat(dirfd, REPLY_FIFO, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (reply < 0)
                return vessel_error_sys(err, "open %s", REPLY_FIFO);
        fifo = openat(dirfd, EXEC_FIFO, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (fifo < 0) {
                if (errno == ENXIO)
                        return vessel_error_msg(err, ESRCH, "container \"%s\" is not running",
                                                st->id);
                return vessel_error_sys(err, "open %s", EXEC_FIFO);
        }
        /* Recorded before init is released: once the user's program runs,
         * state must say running, however long this process takes now. */
        st->started = true;
        if ((r = state_write(dirfd, st, err)) < 0) {
                st->started = false;
                return r;
        }
        /* EPIPE: init died since the open (killed by another client). */
        if ((r = write_all_nosigpipe(fifo, "0", 1)) < 0) {
                st->started = false;
                state_write(dirfd, st, NULL);
                if (r == -EPIPE)
                        return vessel_error_msg(err, ESRCH, "container \"%s\" is not running",
                                                st->id);
                return vessel_error_set(err, -r, "write %s", EXEC_FIFO);
        }
        unlinkat(dirfd, EXEC_FIFO, 0);
        unlinkat(dirfd, REPLY_FIFO, 0);
        if ((r = wait_start_reply(reply, st->id, err)) < 0)
                return r;
        if (spec && spec->hooks.n[VESSEL_HOOK_POSTSTART]) {
                /* A failing poststart hook is a warning: the container runs on. */
                _cleanup_free_ char *json = state_to_json(st, VESSEL_RUNNING, false);
                hooks_run_warn(spec, VESSEL_HOOK_POSTSTART, json);
        }
        return 0;
}

static int load_saved_spec(int dirfd, struct vessel_spec **spec, vessel_error **err)
{
        _cleanup_free_ char *buf = NULL;
        size_t len;
        int r = read_file_at(dirfd, "config.json", &buf, &len, err);
        if (r < 0)
                return r;
        return vessel_spec_parse(buf, len, spec, err);
}

int vessel_start(const struct vessel_runtime *rt, const char *id, vessel_error **err)
{
        _cleanup_close_ int dirfd = state_dir_open(rt->root, id, STATE_LOCK_EXCLUSIVE, err);
        _cleanup_close_ int notify = -1;
        struct vessel_state st;
        struct vessel_spec *spec = NULL;
        int r;

        if (dirfd < 0)
                return dirfd;
        if ((r = state_read(dirfd, &st, err)) < 0)
                return r;
        if ((r = load_saved_spec(dirfd, &spec, err)) == 0)
                r = start_locked(dirfd, &st, spec, &notify, err);
        if (r == 0 && notify >= 0) {
                /* Unlocked while waiting: kill, state and exec go on. */
                closep(&dirfd);
                dirfd = -1;
                r = notify_relay(notify, st.pid, st.pid, err);
        }
        vessel_spec_free(spec);
        state_clear(&st);
        return r;
}

static int wait_pid_gone(pid_t pid, unsigned long long start_time, int timeout_ms)
{
        int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
        int r = 0;

        if (pfd < 0)
                return errno == ESRCH ? 0 : -errno;
        if (proc_start_time(pid, NULL) == start_time) {
                struct pollfd p = {.fd = pfd, .events = POLLIN};
                do
                        r = poll(&p, 1, timeout_ms);
                while (r < 0 && errno == EINTR);
                r = r == 0 ? -ETIMEDOUT : 0;
        }
        close(pfd);
        return r;
}

/* Send a signal to the container's init through a pidfd, so that a
 * recycled pid can never be hit. */
static int signal_init(const struct vessel_state *st, int sig, vessel_error **err)
{
        int pfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
        int r = 0;

        if (pfd < 0)
                return vessel_error_msg(err, ESRCH, "kill \"%s\": container not running", st->id);
        if (proc_start_time(st->pid, NULL) != st->start_time)
                r = vessel_error_msg(err, ESRCH, "kill \"%s\": container not running", st->id);
        else if (syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0) < 0)
                r = vessel_error_sys(err, "kill container \"%s\" (pid %d)", st->id, (int)st->pid);
        close(pfd);
        return r;
}

static int ns_inode(pid_t pid, const char *ns, ino_t *out)
{
        char p[64];
        struct stat sb;
        snprintf(p, sizeof(p), "/proc/%d/ns/%s", (int)pid, ns);
        if (stat(p, &sb) < 0)
                return -errno;
        *out = sb.st_ino;
        return 0;
}

/* Every process of the container: those in init's pid namespace (when the
 * container has its own). */
static int signal_all(const struct vessel_state *st, int sig, vessel_error **err)
{
        ino_t init_ns = 0, self_ns = 0, ns = 0;
        DIR *d;
        struct dirent *de;

        if (ns_inode(st->pid, "pid", &init_ns) < 0 || ns_inode(getpid(), "pid", &self_ns) < 0 ||
            init_ns == self_ns)
                return signal_init(st, sig, err);
        d = opendir("/proc");
        if (!d)
                return vessel_error_sys(err, "opendir /proc");
        while ((de = readdir(d))) {
                int64_t pid;
                if (parse_int64(de->d_name, &pid) < 0 || pid <= 0)
                        continue;
                if (ns_inode((pid_t)pid, "pid", &ns) == 0 && ns == init_ns)
                        kill((pid_t)pid, sig);
        }
        closedir(d);
        return 0;
}

/* kill --all: every process in the container's cgroup. */
static int kill_cgroup(const struct vessel_state *st, int sig, vessel_error **err)
{
        struct vessel_cgroup *cg;
        int r = cgroup_open(st->cgroup_path, &cg, err);

        if (r == 0)
                r = cgroup_kill_all(cg, sig, err);
        cgroup_free(cg);
        return r;
}

int vessel_kill(const struct vessel_runtime *rt, const char *id, int sig, bool all,
                vessel_error **err)
{
        _cleanup_close_ int dirfd = state_dir_open(rt->root, id, STATE_LOCK_SHARED, err);
        struct vessel_state st;
        enum vessel_status s;
        int r;

        if (dirfd < 0)
                return dirfd;
        if ((r = state_read(dirfd, &st, err)) < 0)
                return r;
        s = state_status(&st);
        if (s == VESSEL_STOPPED || s == VESSEL_CREATING)
                /* runc's words: containerd's shim takes "container not
                 * running" for "already gone" (delete -f kills first). */
                r = vessel_error_msg(err, ESRCH, "kill \"%s\": container not running (%s)", id,
                                     vessel_status_name(s));
        else if (all && st.cgroup_path)
                r = kill_cgroup(&st, sig, err);
        else
                r = all ? signal_all(&st, sig, err) : signal_init(&st, sig, err);
        state_clear(&st);
        return r;
}

int delete_locked(const struct vessel_runtime *rt, int dirfd, const char *id, bool force,
                  vessel_error **err)
{
        struct vessel_state st;
        struct vessel_spec *spec = NULL;
        struct vessel_cgroup *cg = NULL;
        enum vessel_status s;
        int r;

        if (state_read(dirfd, &st, NULL) < 0) {
                /* A create that died half-way: nothing is running. */
                state_dir_remove(rt->root, id);
                return 0;
        }
        s = state_status(&st);
        /* runtime.md: deleting a container that is not stopped is an
         * error; a created one too (runc tears it down, but podman and
         * containerd never rely on that, docs/integrations.md). */
        if (s == VESSEL_RUNNING || s == VESSEL_PAUSED || s == VESSEL_CREATED) {
                if (!force) {
                        r = vessel_error_msg(
                            err, EBUSY,
                            "cannot delete container \"%s\" that is not stopped: %s "
                            "(use --force)",
                            id, vessel_status_name(s));
                        goto out;
                }
        }
        if (st.cgroup_path) {
                vessel_error *cerr = NULL;
                /* A state that names no usable cgroup must not block delete. */
                if (cgroup_open(st.cgroup_path, &cg, &cerr) < 0)
                        fprintf(stderr, "vessel: warning: %s\n", cerr->msg);
                vessel_error_free(&cerr);
        }
        if (s != VESSEL_STOPPED && st.pid > 0) {
                signal_init(&st, SIGKILL, NULL);
                /* A frozen task dies only once thawed (cgroup v1). */
                if (s == VESSEL_PAUSED)
                        cgroup_freeze(cg, false, NULL);
                if (wait_pid_gone(st.pid, st.start_time, 10000) < 0) {
                        r = vessel_error_msg(
                            err, ETIMEDOUT,
                            "container \"%s\": init (pid %d) did not exit after SIGKILL", id,
                            (int)st.pid);
                        goto out;
                }
        }
        /* Whatever is left in the cgroup is killed; a cgroup that stays
         * busy keeps the state, so that delete can be tried again. */
        if ((r = cgroup_destroy(cg, err)) < 0)
                goto out;
        if (load_saved_spec(dirfd, &spec, NULL) == 0 && spec->hooks.n[VESSEL_HOOK_POSTSTOP]) {
                _cleanup_free_ char *json = state_to_json(&st, VESSEL_STOPPED, false);
                /* A failing poststop hook is a warning; the others and deletion go on. */
                hooks_run_warn(spec, VESSEL_HOOK_POSTSTOP, json);
        }
        r = state_dir_remove(rt->root, id);
        if (r < 0)
                r = vessel_error_set(err, -r, "remove %s/%s", rt->root, id);
out:
        cgroup_free(cg);
        vessel_spec_free(spec);
        state_clear(&st);
        return r;
}

int vessel_delete(const struct vessel_runtime *rt, const char *id, bool force, vessel_error **err)
{
        _cleanup_close_ int dirfd = state_dir_open(rt->root, id, STATE_LOCK_EXCLUSIVE, err);

        if (dirfd < 0)
                return dirfd;
        return delete_locked(rt, dirfd, id, force, err);
}

int vessel_state(const struct vessel_runtime *rt, const char *id, char **json, vessel_error **err)
{
        _cleanup_close_ int dirfd = state_dir_open(rt->root, id, STATE_LOCK_NONE, err);
        struct vessel_state st;
        int r;

        if (dirfd < 0)
                return dirfd;
        if ((r = state_read(dirfd, &st, err)) < 0)
                return r;
        *json = state_to_json(&st, state_status(&st), true);
        state_clear(&st);
        return 0;
}

static int list_cmp(const void *a, const void *b)
{
        const struct vessel_list_entry *x = a, *y = b;
        return strcmp(x->st.id ? x->st.id : "", y->st.id ? y->st.id : "");
}

int vessel_list(const struct vessel_runtime *rt, struct vessel_list_entry **out, size_t *n,
                vessel_error **err)
{
        DIR *d = opendir(rt->root);
        struct dirent *de;
        struct vessel_list_entry *l = NULL;
        size_t cnt = 0;

        *out = NULL;
        *n = 0;
        state_root_gc(rt->root);
        if (!d) {
                if (errno == ENOENT)
                        return 0;
                return vessel_error_sys(err, "open %s", rt->root);
        }
        while ((de = readdir(d))) {
                _cleanup_close_ int fd = -1;
                struct vessel_state st;
                if (de->d_name[0] == '.' || state_check_id(de->d_name, NULL) < 0)
                        continue;
                fd = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
                if (fd < 0 || state_read(fd, &st, NULL) < 0)
                        continue;
                l = realloc(l, sizeof(*l) * (cnt + 1));
                if (!l)
                        abort();
                l[cnt].st = st;
                l[cnt].status = state_status(&st);
                cnt++;
        }
        closedir(d);
        if (cnt)
                qsort(l, cnt, sizeof(*l), list_cmp);
        *out = l;
        *n = cnt;
        return 0;
}

void vessel_list_free(struct vessel_list_entry *l, size_t n)
{
        for (size_t i = 0; i < n; i++)
                state_clear(&l[i].st);
        free(l);
}

/* ------------------------------------------------------------------ run */

int vessel_run(const struct vessel_runtime *rt, const struct vessel_create_opts *o, int *status,
               vessel_error **err)
{
        struct created c;
        sigset_t all, old;
        int notify = -1, r;

        *status = 0;
        /* Signals queue up from here, and are forwarded once init runs; the
         * child restores the old mask.  As subreaper, the runtime also
         * collects an init that was forked by an intermediate process. */
        sigfillset(&all);
        sigdelset(&all, SIGSEGV);
        sigdelset(&all, SIGBUS);
        sigdelset(&all, SIGILL);
        sigdelset(&all, SIGFPE);
        if (!o->detach) {
                if (!o->no_subreaper)
                        prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
                sigprocmask(SIG_BLOCK, &all, &old);
        }
        r = create_container(rt, o, &c, err);
        if (r == 0) {
                r = start_locked(c.dirfd, &c.st, c.spec, &notify, err);
                if (r < 0)
                        created_cleanup(rt, &c, true);
        }
        /* READY=1 for the host: detached, once the container says so; in
         * the foreground by a child, and vessel stays the main process. */
        if (r == 0 && notify >= 0 && o->detach) {
                closep(&c.dirfd);
                c.dirfd = -1;
                r = notify_relay(notify, c.pid, c.pid, err);
        } else if (r == 0 && notify >= 0) {
                notify_relay_fork(notify, c.pid, getpid());
        }
        closep(&notify);
        if (r == 0 && !o->detach) {
                _cleanup_close_ int master = -1;
                /* Let other commands (kill, state, exec) in while we wait. */
                closep(&c.dirfd);
                c.dirfd = -1;
                if (c.console_peer >= 0)
                        master = terminal_recv_master(c.console_peer, err);
                if (c.console_peer < 0 || master >= 0)
                        r = terminal_supervise(c.pid, master, status, err);
                else
                        r = master;
                vessel_error *derr = NULL;
                int fd =
                    o->keep ? -1 : state_dir_open(rt->root, o->id, STATE_LOCK_EXCLUSIVE, &derr);
                if (fd >= 0) {
                        delete_locked(rt, fd, o->id, true, &derr);
                        close(fd);
                }
                if (derr && derr->code != ENOENT)
                        fprintf(stderr, "vessel: warning: %s\n", derr->msg);
                vessel_error_free(&derr);
        }
        if (!o->detach)
                sigprocmask(SIG_SETMASK, &old, NULL);
        created_free(&c);
        return r;
}
