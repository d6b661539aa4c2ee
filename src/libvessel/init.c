/* init.c: the container's init, from clone to execve.
 *
 * It waits until the runtime has put it into its cgroup, enters or makes
 * its namespaces (a pid or user namespace joined by path takes one more
 * fork: setns(CLONE_NEWPID) only applies to children), sets up the root
 * and pivots into it, prepares the process and reports READY; until the
 * runtime has recorded that, it dies with the runtime.  It then waits on
 * the exec fifo for `start`, runs the startContainer hooks, drops
 * privileges and execs, reporting any error through the reply fifo. */
#include "container.h"
#include "container-internal.h"
#include "devices.h"
#include "hooks.h"
#include "mounts.h"
#include "namespaces.h"
#include "process.h"
#include "rootfs.h"
#include "scheduling.h"
#include "sync.h"
#include "terminal.h"
#include "util.h"

#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/keyctl.h>

static int init_fail(int sock, vessel_error **err)
{
        sync_send(sock, SYNC_ERROR, err && *err ? (*err)->code : EINVAL,
                  err && *err ? (*err)->msg : "container init failed");
        return 1;
}

static int write_time_offsets(const struct vessel_linux *lx, vessel_error **err)
{
        char buf[128];
        int n = 0;

        if (lx->time_monotonic.present)
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, "monotonic %lld %u\n",
                              (long long)lx->time_monotonic.secs, lx->time_monotonic.nanosecs);
        if (lx->time_boottime.present)
                n += snprintf(buf + n, sizeof(buf) - (size_t)n, "boottime %lld %u\n",
                              (long long)lx->time_boottime.secs, lx->time_boottime.nanosecs);
        if (n == 0)
                return 0;
        if (write_file_at(AT_FDCWD, "/proc/self/timens_offsets", buf, (size_t)n, err) < 0)
                return vessel_error_prefix(err, "linux.timeOffsets");
        return 0;
}

/* Become root of the user namespace we are in, if it is mapped. */
static int become_ns_root(vessel_error **err)
{
        if (setresgid(0, 0, 0) < 0 && errno != EINVAL)
                return vessel_error_sys(err, "setresgid 0 in the user namespace");
        if (setresuid(0, 0, 0) < 0 && errno != EINVAL)
                return vessel_error_sys(err, "setresuid 0 in the user namespace");
        /* Changing ids made us non-dumpable, which hands /proc/self to the
         * host's root, out of our reach (timens_offsets, oom_score_adj).
         * Nothing of the container runs yet; init turns it off again once
         * those are written (see container_init). */
        if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
                return vessel_error_sys(err, "prctl PR_SET_DUMPABLE");
        return 0;
}

static int request_usermap(int sock, vessel_error **err)
{
        struct sync_msg m;
        int r;

        if (sync_send(sock, SYNC_USERMAP_REQ, 0, NULL) < 0)
                return vessel_error_sys(err, "send usermap request");
        r = sync_expect(sock, SYNC_USERMAP_DONE, &m, err);
        if (r < 0)
                return r;
        return become_ns_root(err);
}

static int join_namespaces(struct init_args *a, bool user, vessel_error **err)
{
        for (int t = 0; t < VESSEL_NS_COUNT; t++) {
                if (a->ns_fds[t] < 0 || (t == VESSEL_NS_USER) != user)
                        continue;
                if (ns_join(a->ns_fds[t], t, a->spec->linux_.ns[t].path, err) < 0)
                        return -1;
                closep(&a->ns_fds[t]);
                a->ns_fds[t] = -1;
        }
        return 0;
}

/* Without a mount namespace the container shares the runtime's mount
 * table: nothing is mounted (validate() refused mounts, masks and the
 * like), and the root is entered with chroot, not pivot_root. */
static bool has_mount_ns(const struct vessel_spec *spec)
{
        return spec->linux_.ns[VESSEL_NS_MNT].present;
}

/* Mounts, devices and the console inside the new root, still seen from
 * outside it. */
static int mount_rootfs(struct init_args *a, bool userns, int rootfd, vessel_error **err)
{
        const struct vessel_spec *spec = a->spec;
        struct mount_ctx mctx = {.bundle = a->bundle,
                                 .source_fds = a->source_fds,
                                 .userns = userns,
                                 .rootfd = rootfd,
                                 .cgroupns = spec->linux_.ns[VESSEL_NS_CGROUP].present};
        bool dev_bound = false;
        int r;

        for (size_t i = 0; i < spec->n_mounts; i++) {
                const struct vessel_mount *m = &spec->mounts[i];
                if (!strcmp(m->destination, "/dev") && mount_is_bind(m))
                        dev_bound = true;
                if ((r = mount_one(&mctx, m, i, err)) < 0)
                        return r;
        }
        /* Attached: the runtime's clones need not stay open any longer. */
        mounts_close_sources(steal_ptr(&a->source_fds), spec->n_mounts);
        return devices_setup(rootfd, spec, userns, !dev_bound, a->dev_nodes, err);
}

/* The runtime's prestart/createRuntime hooks, then ours (createContainer). */
static int run_create_hooks(struct init_args *a, vessel_error **err)
{
        const struct vessel_spec *spec = a->spec;
        struct sync_msg *m;
        int r;

        if (!spec->hooks.n[VESSEL_HOOK_PRESTART] && !spec->hooks.n[VESSEL_HOOK_CREATE_RUNTIME] &&
            !spec->hooks.n[VESSEL_HOOK_CREATE_CONTAINER] &&
            !spec->hooks.n[VESSEL_HOOK_START_CONTAINER] && a->seccomp.listener < 0)
                return 0;
        m = xmalloc0(sizeof(*m));
        if (sync_send(a->sock, SYNC_HOOKS_REQ, 0, NULL) < 0 ||
            sync_expect(a->sock, SYNC_HOOKS_DONE, m, err) < 0) {
                free(m);
                return vessel_error_set(err, EPIPE, "waiting for the runtime's hooks");
        }
        r = hooks_run_in_container(spec, VESSEL_HOOK_CREATE_CONTAINER, m->text, err);
        free(m);
        return r;
}

static int setup_rootfs(struct init_args *a, bool userns, vessel_error **err)
{
        const struct vessel_spec *spec = a->spec;
        bool mntns = has_mount_ns(spec);
        _cleanup_close_ int rootfd = -1;
        int r;

        rootfd = mntns ? rootfs_prepare(spec, a->rootfs, a->rootfs_idmapped, err)
                       : open(a->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
        closep(&a->rootfs_idmapped); /* attached */
        if (rootfd < 0)
                return mntns ? rootfd : vessel_error_sys(err, "open rootfs %s", a->rootfs);
        if (mntns && (r = mount_rootfs(a, userns, rootfd, err)) < 0)
                return r;
        if (a->console >= 0) {
                /* Without a mount namespace there is no /dev/console to bind. */
                if ((r = terminal_setup(mntns ? rootfd : -1, a->console, &spec->process, err)) < 0)
                        return r;
                closep(&a->console);
                a->console = -1;
        }
        if ((r = sysctl_apply(spec, err)) < 0)
                return r;
        if ((r = process_prepare_host(&spec->process, err)) < 0)
                return r;
        /* From here on processes of the container may exist (exec into a
         * created container).  Non-dumpable, init's /proc/PID/exe (this
         * runtime's binary, CVE-2019-5736), fds and memory are out of their
         * reach: that needs CAP_SYS_PTRACE in the host's user namespace.
         * execve of the container's process resets it. */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
                return vessel_error_sys(err, "prctl PR_SET_DUMPABLE");
        if ((r = run_create_hooks(a, err)) < 0)
                return r;
        if (!mntns) {
                if (fchdir(rootfd) < 0 || chroot(".") < 0 || chdir("/") < 0)
                        return vessel_error_sys(err, "chroot %s", a->rootfs);
                return 0;
        }
        if ((r = rootfs_protect(rootfd, spec, err)) < 0)
                return r;
        return rootfs_enter(rootfd, a->rootfs, a->opts->no_pivot, spec->linux_.rootfs_propagation,
                            err);
}

/* Only what init needs stays open: the sync socket, the fifos, the
 * console socket, the seccomp listener, namespaces to join, bind sources
 * and the runtime's device nodes, besides stdio and the preserved fds.  The parent's end of the
 * socket and the locked state directory go. */
static void init_close_fds(struct init_args *a)
{
        _cleanup_free_ int *keep =
            xmalloc0(sizeof(int) * (VESSEL_NS_COUNT + 7 + a->spec->n_mounts));
        size_t nkeep = 0;

        keep[nkeep++] = a->sock;
        keep[nkeep++] = a->fifo;
        keep[nkeep++] = a->reply;
        if (a->seccomp.listener >= 0)
                keep[nkeep++] = a->seccomp.listener;
        if (a->console >= 0)
                keep[nkeep++] = a->console;
        if (a->dev_nodes >= 0)
                keep[nkeep++] = a->dev_nodes;
        if (a->rootfs_idmapped >= 0)
                keep[nkeep++] = a->rootfs_idmapped;
        for (int t = 0; t < VESSEL_NS_COUNT; t++)
                if (a->ns_fds[t] >= 0)
                        keep[nkeep++] = a->ns_fds[t];
        for (size_t i = 0; i < a->spec->n_mounts; i++)
                if (a->source_fds[i] >= 0)
                        keep[nkeep++] = a->source_fds[i];
        close_fds_from(3 + a->preserve_fds, keep, nkeep);
}

/* Until the runtime has recorded it as created, init dies with the
 * runtime (a killed create leaves no init behind).  The parent-death
 * signal only covers a death after the prctl; one before it shows as the
 * runtime's end of the socket being closed (init closed its own copy). */
static int init_bind_to_runtime(int sock, vessel_error **err)
{
        struct pollfd p = {.fd = sock, .events = POLLRDHUP};

        if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
                return vessel_error_sys(err, "prctl PR_SET_PDEATHSIG");
        if (poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP)))
                return vessel_error_msg(err, EPIPE, "the runtime went away");
        return 0;
}

/* A pid namespace (or a user namespace) joined by path applies only to
 * children: join and unshare everything, then fork the real init.  The
 * intermediate process reports its child's pid and exits; the runtime,
 * a subreaper meanwhile, becomes the new init's parent. */
static int init_two_stage(struct init_args *a, vessel_error **err)
{
        const struct vessel_linux *lx = &a->spec->linux_;
        bool new_user = lx->ns[VESSEL_NS_USER].present && !lx->ns[VESSEL_NS_USER].path;
        struct sync_msg m;
        int flags = 0;
        pid_t pid;

        if (join_namespaces(a, true, err) < 0)
                return -1;
        if (lx->ns[VESSEL_NS_USER].present && !new_user && become_ns_root(err) < 0)
                return -1;
        if (new_user && a->userns_uid >= 0) {
                /* A user namespace owned by the host ids its root maps to
                 * (USERNS_OWNER_ANNOTATION): the host's per-user counts
                 * (inotify instances and watches, ...) are charged to them,
                 * not to the runtime's root, so that containers do not share
                 * them.  Nothing after this needs the host's privilege. */
                if (setgroups(0, NULL) < 0 ||
                    setresgid((gid_t)a->userns_gid, (gid_t)a->userns_gid, (gid_t)a->userns_gid) < 0 ||
                    setresuid((uid_t)a->userns_uid, (uid_t)a->userns_uid, (uid_t)a->userns_uid) < 0)
                        return vessel_error_sys(err, "become host uid %d gid %d to own the user "
                                                     "namespace",
                                                a->userns_uid, a->userns_gid);
                if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
                        return vessel_error_sys(err, "prctl PR_SET_DUMPABLE");
        }
        if (new_user) {
                if (unshare(CLONE_NEWUSER) < 0)
                        return vessel_error_sys(err, "unshare user namespace");
                if (request_usermap(a->sock, err) < 0)
                        return -1;
        }
        if (join_namespaces(a, false, err) < 0)
                return -1;
        for (int t = 0; t < VESSEL_NS_COUNT; t++)
                if (lx->ns[t].present && !lx->ns[t].path && t != VESSEL_NS_USER)
                        flags |= ns_clone_flag(t);
        if (flags && unshare(flags) < 0)
                return vessel_error_sys(err, "unshare namespaces (flags 0x%x)", flags);
        if ((flags & CLONE_NEWTIME) && write_time_offsets(lx, err) < 0)
                return -1;
        pid = fork();
        if (pid < 0)
                return vessel_error_sys(err, "fork the container's init");
        if (pid > 0) {
                sync_send(a->sock, SYNC_PID, pid, NULL);
                _exit(0);
        }
        /* Our parent-death signal can only be set once the runtime is our
         * parent: it says so after reaping the intermediate process. */
        if (sync_expect(a->sock, SYNC_ACK, &m, err) < 0)
                return -1;
        return init_bind_to_runtime(a->sock, err);
}

static int init_one_stage(struct init_args *a, vessel_error **err)
{
        const struct vessel_linux *lx = &a->spec->linux_;

        /* One stage: a user namespace is a new one (one joined by path
         * takes two). */
        if (lx->ns[VESSEL_NS_USER].present && request_usermap(a->sock, err) < 0)
                return -1;
        if (join_namespaces(a, false, err) < 0)
                return -1;
        if (lx->ns[VESSEL_NS_TIME].present && !lx->ns[VESSEL_NS_TIME].path) {
                if (unshare(CLONE_NEWTIME) < 0)
                        return vessel_error_sys(err, "unshare time namespace");
                if (write_time_offsets(lx, err) < 0)
                        return -1;
        }
        /* Unshared here, not at clone: its root is the cgroup we are in
         * now, the container's. */
        if (lx->ns[VESSEL_NS_CGROUP].present && !lx->ns[VESSEL_NS_CGROUP].path &&
            unshare(CLONE_NEWCGROUP) < 0)
                return vessel_error_sys(err, "unshare cgroup namespace");
        return 0;
}

/* A new network namespace starts with lo down; runc and crun bring it up. */
static int init_loopback(const struct vessel_spec *spec, vessel_error **err)
{
        const struct vessel_namespace *net = &spec->linux_.ns[VESSEL_NS_NET];

        return net->present && !net->path ? ns_loopback_up(err) : 0;
}

static int init_names(const struct vessel_spec *spec, vessel_error **err)
{
        if (setsid() < 0 && errno != EPERM)
                return vessel_error_sys(err, "setsid");
        if (spec->hostname && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
                return vessel_error_sys(err, "hostname: sethostname \"%s\"", spec->hostname);
        if (spec->domainname && setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
                return vessel_error_sys(err, "domainname: setdomainname \"%s\"", spec->domainname);
        return 0;
}

/* A fresh session keyring, so that the container cannot see the host's
 * keys; not every kernel (or user namespace) allows it. */
static int init_keyring(const struct init_args *a, vessel_error **err)
{
        const char *name = a->spec->hostname ? a->spec->hostname : "_ses";

        if (a->opts->no_new_keyring)
                return 0;
        if (syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name) < 0 && errno != ENOSYS &&
            errno != EACCES && errno != EPERM && errno != EDQUOT)
                return vessel_error_sys(err, "join a new session keyring");
        return 0;
}

/* Everything up to READY: namespaces, names, the root, the process. */
static int init_setup(struct init_args *a, char **exe, char **start_state, vessel_error **err)
{
        const struct vessel_spec *spec = a->spec;
        bool userns = spec->linux_.ns[VESSEL_NS_USER].present;
        struct sync_msg *m;
        int r;

        if ((r = a->two_stage ? init_two_stage(a, err) : init_one_stage(a, err)) < 0 ||
            (r = init_loopback(spec, err)) < 0 || (r = init_names(spec, err)) < 0 ||
            (r = setup_rootfs(a, userns, err)) < 0 || (r = init_keyring(a, err)) < 0 ||
            /* it adds HOME to the environment: the spec is our own copy */
            (r = process_prepare((struct vessel_process *)&spec->process, &spec->linux_, true, exe,
                                 err)) < 0 ||
            (r = scheduling_apply(&spec->process, &spec->linux_, err)) < 0)
                return r;
        if (!a->want_created_state)
                return 0;
        m = xmalloc0(sizeof(*m));
        if ((r = sync_expect(a->sock, SYNC_STATE_CREATED, m, err)) == 0)
                *start_state = xstrdup(m->text);
        free(m);
        return r;
}

/* READY, and once the runtime has recorded it, no more dying with it;
 * closing the socket tells the runtime it may exit. */
static int init_report_ready(struct init_args *a)
{
        struct sync_msg m;

        if (sync_send(a->sock, SYNC_READY, 0, NULL) < 0 ||
            sync_expect(a->sock, SYNC_ACK, &m, NULL) < 0)
                return -1;
        if (prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) < 0)
                return -1;
        closep(&a->sock);
        return 0;
}

static int init_wait_start(struct init_args *a)
{
        ssize_t n;
        char c;

        do
                n = read(a->fifo, &c, 1);
        while (n < 0 && errno == EINTR);
        closep(&a->fifo);
        return n == 1 ? 0 : -1;
}

/* After start: the startContainer hooks, then the process.  Every error
 * goes to `start` through the reply fifo, which execve closes (EOF there
 * means the process runs). */
static _Noreturn void init_start_process(struct init_args *a, const char *exe,
                                         const char *start_state)
{
        const struct vessel_spec *spec = a->spec;
        struct vessel_process *proc = (struct vessel_process *)&spec->process;
        vessel_error *err = NULL;

        if (hooks_run_in_container(spec, VESSEL_HOOK_START_CONTAINER, start_state, &err) < 0)
                goto fail;
        if (a->listen_fds > 0) {
                /* Socket activation, as runc does: the fds stay at 3.., and
                 * LISTEN_PID names the container's process. */
                char kv[64];
                snprintf(kv, sizeof(kv), "LISTEN_FDS=%d", a->listen_fds);
                process_env_set(proc, kv);
                snprintf(kv, sizeof(kv), "LISTEN_PID=%d", (int)getpid());
                process_env_set(proc, kv);
        }
        bool userns = spec->linux_.ns[VESSEL_NS_USER].present;
        if (process_drop_inherited(a->preserve_fds, &err) < 0 ||
            process_apply_lsm(proc, &err) < 0 ||
            process_set_identity(proc, userns, &a->seccomp, &err) < 0)
                goto fail;
        process_exec(proc, exe, &err);
fail:
        dprintf(a->reply, "%s", err ? err->msg : "container init failed");
        _exit(127);
}

static int wait_for_go(int sock, vessel_error **err)
{
        struct sync_msg *m = xmalloc0(sizeof(*m));
        int r = sync_expect(sock, SYNC_GO, m, err);

        free(m);
        return r;
}

int container_init(struct init_args *a)
{
        vessel_error *err = NULL;
        _cleanup_free_ char *exe = NULL, *start_state = NULL;
        sigset_t none;

        init_close_fds(a);
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* Dumpable for now: an unprivileged runtime must write our id maps.
         * No process of the container can exist before READY; setup_rootfs
         * makes us non-dumpable before that. */
        if (init_bind_to_runtime(a->sock, &err) < 0)
                return init_fail(a->sock, &err);
        /* Nothing happens before the runtime has put us into the
         * container's cgroup: the cgroup namespace, the cgroup mount and
         * every charge must be the container's. */
        if (wait_for_go(a->sock, &err) < 0 || init_setup(a, &exe, &start_state, &err) < 0)
                return init_fail(a->sock, &err);
        a->seccomp.state_json = start_state;
        if (init_report_ready(a) < 0 || init_wait_start(a) < 0)
                _exit(1);
        init_start_process(a, exe, start_state);
}
