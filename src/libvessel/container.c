/* container.c: the sequence.
 *
 * create:  the runtime (parent) validates everything, creates the state
 *          directory and the exec fifo, and clones the container's init
 *          into its new namespaces.  Parent and init then talk over a
 *          SOCK_SEQPACKET pair (sync.h): the parent writes the id maps and
 *          runs the runtime-namespace hooks when init asks; init sets up
 *          the rootfs, pivots into it, prepares the process and reports
 *          READY, then blocks reading the exec fifo.
 * start:   writes one byte into the fifo; init runs the startContainer
 *          hooks, drops privileges and execs the user process.
 *
 * Namespaces joined by path are entered by init with setns(); a pid
 * namespace (or a user namespace) joined by path needs one more fork,
 * since setns(CLONE_NEWPID) only applies to children. */
#include "container.h"
#include "cgroup.h"
#include "devices.h"
#include "hooks.h"
#include "idmap.h"
#include "mounts.h"
#include "namespaces.h"
#include "notify.h"
#include "process.h"
#include "rootfs.h"
#include "scheduling.h"
#include "sync.h"
#include "terminal.h"
#include "util.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pty.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <linux/sched.h>
#include <linux/keyctl.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

#define EXEC_FIFO "exec.fifo"
/* After start, init reports back to `start` through this fifo: nothing
 * before execve (EOF = started), or the error of the startContainer
 * hooks, of dropping privileges, of the seccomp filter or of execve. */
#define REPLY_FIFO "start.fifo"

struct init_args {
        const struct vessel_spec *spec;
        const struct vessel_create_opts *opts;
        const char *rootfs;
        const char *bundle;
        int sock;          /* init's end */
        int parent_sock;   /* the parent's end, closed in init */
        int fifo;          /* O_RDWR exec fifo */
        int reply;         /* O_RDWR reply fifo: errors after start, closed by execve */
        int console;       /* connected console socket or -1 */
        int ns_fds[VESSEL_NS_COUNT];
        int dirfd;         /* the locked state directory: closed in init */
        int listen_fds;    /* socket-activation fds passed on (from fd 3) */
        int preserve_fds;  /* fds from 3 that survive: max(--preserve-fds, listen_fds) */
        struct vessel_bpf seccomp; /* compiled by the runtime, installed by init */
        int *source_fds;   /* per mount: its bind source, cloned by the runtime, or -1 */
        int dev_nodes;     /* user namespace: device nodes the host lacks (devices.h), or -1 */
        bool two_stage;    /* fork once more after joining/unsharing */
        bool want_created_state; /* the "created" state is needed (startContainer hooks, seccomp listener) */
};

struct created {
        int dirfd;
        pid_t child;    /* our direct child */
        pid_t pid;      /* the container's init (host pid) */
        struct vessel_spec *spec;
        struct vessel_state st;
        char *config_json;
        int console_peer; /* our end of the socket init sends its terminal to (foreground run) */
        bool want_created_state; /* init needs the "created" state (startContainer hooks, seccomp listener) */
        bool devices_applied;    /* the cgroup's device rules are in (cgroup_apply_devices) */
        struct vessel_cgroup *cg;
};

/* ---------------------------------------------------------------- init */

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
            !spec->hooks.n[VESSEL_HOOK_CREATE_CONTAINER] && !spec->hooks.n[VESSEL_HOOK_START_CONTAINER] &&
            a->seccomp.listener < 0)
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

        rootfd = mntns ? rootfs_prepare(spec, a->rootfs, err)
                       : open(a->rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
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
        return rootfs_enter(rootfd, a->rootfs, a->opts->no_pivot, spec->linux_.rootfs_propagation, err);
}

/* Only what init needs stays open: the sync socket, the fifos, the
 * console socket, the seccomp listener, namespaces to join, bind sources
 * and the runtime's device nodes, besides stdio and the preserved fds.  The parent's end of the
 * socket and the locked state directory go. */
static void init_close_fds(struct init_args *a)
{
        _cleanup_free_ int *keep =
            xmalloc0(sizeof(int) * (VESSEL_NS_COUNT + 6 + a->spec->n_mounts));
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
            (r = setup_rootfs(a, userns, err)) < 0 ||
            (r = init_keyring(a, err)) < 0 ||
            /* it adds HOME to the environment: the spec is our own copy */
            (r = process_prepare((struct vessel_process *)&spec->process, &spec->linux_, true,
                                 exe, err)) < 0 ||
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

        if (sync_send(a->sock, SYNC_READY, 0, NULL) < 0 || sync_expect(a->sock, SYNC_ACK, &m, NULL) < 0)
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
static _Noreturn void init_start_process(struct init_args *a, const char *exe, const char *start_state)
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
        if (process_drop_inherited(a->preserve_fds, &err) < 0 || process_apply_lsm(proc, &err) < 0 ||
            process_set_identity(proc, spec->linux_.ns[VESSEL_NS_USER].present, &a->seccomp, &err) < 0)
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

static int container_init(struct init_args *a)
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

/* -------------------------------------------------------------- parent */

static char *bundle_path(const char *b, vessel_error **err)
{
        char *r = realpath(b ? b : ".", NULL);
        if (!r)
                vessel_error_sys(err, "bundle %s", b ? b : ".");
        return r;
}

/* Without a mount namespace, the container's mounts would be the host's:
 * what needs one is refused rather than done on the host or dropped. */
static int validate_shared_mounts(const struct vessel_spec *spec, vessel_error **err)
{
        const struct vessel_linux *lx = &spec->linux_;
        const char *what = spec->n_mounts ? "mounts"
                           : lx->n_masked_paths ? "linux.maskedPaths"
                           : lx->n_readonly_paths ? "linux.readonlyPaths"
                           : spec->root.readonly ? "root.readonly"
                           : lx->n_devices ? "linux.devices"
                           : lx->rootfs_propagation ? "linux.rootfsPropagation"
                           : NULL;

        if (what)
                return vessel_error_msg(err, EINVAL,
                                        "%s: needs a mount namespace (linux.namespaces has none, so "
                                        "the container shares the runtime's)",
                                        what);
        return 0;
}

static int validate(const struct vessel_spec *spec, const struct vessel_create_opts *o,
                    int ns_fds[VESSEL_NS_COUNT], vessel_error **err)
{
        const struct vessel_linux *lx = &spec->linux_;
        int r;

        if (!spec->has_process)
                return vessel_error_msg(err, EINVAL, "process: required to create a container");
        if (!lx->ns[VESSEL_NS_MNT].present && (r = validate_shared_mounts(spec, err)) < 0)
                return r;
        if (spec->hostname && !lx->ns[VESSEL_NS_UTS].present)
                return vessel_error_msg(err, EINVAL,
                                        "hostname: setting it needs a new uts namespace");
        if (spec->process.terminal && !o->console_socket && !o->foreground)
                return vessel_error_msg(err, EINVAL,
                                        "process.terminal is true but no --console-socket was given "
                                        "(only a foreground run relays the terminal itself)");
        if ((lx->time_monotonic.present || lx->time_boottime.present) &&
            (!lx->ns[VESSEL_NS_TIME].present || lx->ns[VESSEL_NS_TIME].path))
                return vessel_error_msg(err, EINVAL,
                                        "linux.timeOffsets: needs a new time namespace");
        if ((r = idmap_validate(lx->uid_mappings, lx->n_uid_mappings, "linux.uidMappings", err)) < 0 ||
            (r = idmap_validate(lx->gid_mappings, lx->n_gid_mappings, "linux.gidMappings", err)) < 0)
                return r;
        for (int t = 0; t < VESSEL_NS_COUNT; t++) {
                if (!lx->ns[t].present || !lx->ns[t].path)
                        continue;
                ns_fds[t] = ns_open_checked(lx->ns[t].path, t, err);
                if (ns_fds[t] < 0)
                        return vessel_error_prefix(err, "linux.namespaces");
        }
        if ((r = process_check_lsm(&spec->process, err)) < 0)
                return r;
        if ((r = sysctl_validate(spec, err)) < 0)
                return r;
        if (lx->has_intel_rdt)
                return vessel_error_msg(err, EOPNOTSUPP,
                                        "linux.intelRdt: not supported by vessel (resctrl)");
        if ((r = cgroup_validate(spec, err)) < 0)
                return r;
        return hooks_check(spec, err);
}

static void created_cleanup(const struct vessel_runtime *rt, struct created *c, bool remove)
{
        if (c->pid > 0)
                kill(c->pid, SIGKILL);
        if (c->child > 0 && c->child != c->pid)
                kill(c->child, SIGKILL);
        if (c->child > 0)
                while (waitpid(c->child, NULL, 0) < 0 && errno == EINTR)
                        ;
        if (c->pid > 0 && c->pid != c->child)
                while (waitpid(c->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        if (remove && c->cg) {
                vessel_error *e = NULL;
                if (cgroup_destroy(c->cg, &e) < 0)
                        fprintf(stderr, "vessel: warning: %s\n", e->msg);
                vessel_error_free(&e);
        }
        if (remove && c->st.id)
                state_dir_remove(rt->root, c->st.id);
}

static void created_free(struct created *c)
{
        closep(&c->dirfd);
        closep(&c->console_peer);
        cgroup_free(c->cg);
        vessel_spec_free(c->spec);
        state_clear(&c->st);
        free(c->config_json);
}

static char *owner_name(void)
{
        return geteuid() == 0 ? xstrdup("") : xasprintf("%u", geteuid());
}


/* With cgroup_fd >= 0, clone straight into that (v2) cgroup, where the
 * kernel can (5.7); *into_cgroup says whether it did. */
static pid_t clone_init(int flags, int cgroup_fd, bool *into_cgroup)
{
        struct clone_args ca = {
                .flags = (uint64_t)flags,
                .exit_signal = SIGCHLD,
        };
        pid_t pid;

        *into_cgroup = false;
        if (cgroup_fd >= 0) {
                ca.flags |= CLONE_INTO_CGROUP;
                ca.cgroup = (uint64_t)cgroup_fd;
                pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
                if (pid >= 0) {
                        *into_cgroup = true;
                        return pid;
                }
                ca.flags = (uint64_t)flags;
                ca.cgroup = 0;
        }
        pid = (pid_t)syscall(SYS_clone3, &ca, sizeof(ca));
        if (pid < 0 && errno == ENOSYS)
                return (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL, NULL);
        return pid;
}

static char *state_json_for(struct created *c, enum vessel_status s)
{
        c->st.pid = c->pid;
        return state_to_json(&c->st, s, false);
}

/* The device rules, once init has made the nodes and before any hook or
 * process of the container (HOOKS_REQ or READY, whichever comes first). */
static int apply_devices_once(struct created *c, vessel_error **err)
{
        if (c->devices_applied)
                return 0;
        c->devices_applied = true;
        return cgroup_apply_devices(c->cg, c->spec, err);
}

/* Talk to init until it is READY.  Runs the runtime-namespace hooks. */
static int parent_sync(struct created *c, int sock, vessel_error **err)
{
        struct sync_msg *m = xmalloc0(sizeof(*m));
        int r = 0;

        for (;;) {
                r = sync_recv(sock, m);
                if (r < 0) {
                        int status = 0;
                        pid_t who = c->child ? c->child : c->pid;
                        pid_t w = waitpid(who, &status, WNOHANG);
                        if (w == who) {
                                if (who == c->child)
                                        c->child = 0;
                                else
                                        c->pid = 0;
                                if (WIFSIGNALED(status))
                                        r = vessel_error_set(err, ECHILD,
                                                             "container init was killed by signal %d",
                                                             WTERMSIG(status));
                                else
                                        r = vessel_error_set(err, ECHILD,
                                                             "container init exited with status %d",
                                                             WEXITSTATUS(status));
                        } else {
                                r = vessel_error_set(err, -r, "container init went away");
                        }
                        break;
                }
                if (m->type == SYNC_ERROR) {
                        r = vessel_error_set(err, 0, "%s", m->text);
                        if (*err && m->value > 0)
                                (*err)->code = m->value;
                        break;
                }
                if (m->type == SYNC_USERMAP_REQ) {
                        r = idmap_write(c->child, &c->spec->linux_, err);
                        if (r < 0)
                                break;
                        sync_send(sock, SYNC_USERMAP_DONE, 0, NULL);
                } else if (m->type == SYNC_PID) {
                        /* The intermediate process is done; the grandchild is init. */
                        c->pid = m->value;
                        while (waitpid(c->child, NULL, 0) < 0 && errno == EINTR)
                                ;
                        c->child = 0;
                        /* Reaped: init is our child now (we are its subreaper). */
                        sync_send(sock, SYNC_ACK, 0, NULL);
                } else if (m->type == SYNC_HOOKS_REQ) {
                        /* "created" from here on (runtime-spec lifecycle, after
                         * step 2): prestart, createRuntime, createContainer. */
                        _cleanup_free_ char *json = state_json_for(c, VESSEL_CREATED);
                        r = apply_devices_once(c, err);
                        if (r == 0)
                                r = hooks_run(c->spec, VESSEL_HOOK_PRESTART, json, err);
                        if (r == 0)
                                r = hooks_run(c->spec, VESSEL_HOOK_CREATE_RUNTIME, json, err);
                        if (r < 0)
                                break;
                        sync_send(sock, SYNC_HOOKS_DONE, 0, json);
                        if (c->want_created_state) {
                                _cleanup_free_ char *cj = state_json_for(c, VESSEL_CREATED);
                                sync_send(sock, SYNC_STATE_CREATED, 0, cj);
                        }
                } else if (m->type == SYNC_READY) {
                        r = apply_devices_once(c, err);
                        break;
                } else {
                        r = vessel_error_set(err, EPROTO, "unexpected message %d from container init",
                                             m->type);
                        break;
                }
        }
        free(m);
        return r;
}

/* config.json: read, parsed, its root resolved. */
static int load_bundle(const struct vessel_create_opts *o, struct created *c, char **bundle,
                       char **rootfs, size_t *len, vessel_error **err)
{
        _cleanup_free_ char *config = NULL, *rootfs_in = NULL;
        struct stat sb;
        int r;

        if (!(*bundle = bundle_path(o->bundle, err)))
                return -ENOENT;
        config = o->config ? xstrdup(o->config) : xasprintf("%s/config.json", *bundle);
        if ((r = read_file_at(AT_FDCWD, config, &c->config_json, len, err)) < 0)
                return r;
        if ((r = vessel_spec_parse_named(c->config_json, *len, NULL, &c->spec, err)) < 0)
                return vessel_error_prefix(err, "%s", config);
        if (!c->spec->root.path)
                return vessel_error_msg(err, EINVAL, "%s: root.path: required", config);
        rootfs_in = c->spec->root.path[0] == '/' ? xstrdup(c->spec->root.path)
                                                  : xasprintf("%s/%s", *bundle, c->spec->root.path);
        if (!(*rootfs = realpath(rootfs_in, NULL)))
                return vessel_error_sys(err, "root.path %s", rootfs_in);
        if (stat(*rootfs, &sb) < 0 || !S_ISDIR(sb.st_mode))
                return vessel_error_msg(err, ENOTDIR, "root.path %s: not a directory", *rootfs);
        return 0;
}

/* What init needs that the runtime makes before it exists: the seccomp
 * program and its listener, the bind sources, the console. */
static int prepare_init(const struct vessel_runtime *rt, const struct vessel_create_opts *o,
                        struct created *c, struct init_args *a, const char *bundle, vessel_error **err)
{
        _cleanup_free_ char *cache = xasprintf("%s/.seccomp-cache", rt->root);
        int r, pair[2];

        if ((r = seccomp_compile(&c->spec->linux_.seccomp, cache, &a->seccomp, err)) < 0 ||
            (r = seccomp_connect_listener(&c->spec->linux_.seccomp, &a->seccomp, err)) < 0)
                return r;
        c->want_created_state = c->spec->hooks.n[VESSEL_HOOK_START_CONTAINER] || a->seccomp.listener >= 0;
        a->want_created_state = c->want_created_state;
        if ((r = mounts_prepare_sources(c->spec, bundle, &a->source_fds, err)) < 0 ||
            (r = devices_prepare_host(c->spec, &a->dev_nodes, err)) < 0)
                return r;
        if (o->console_socket) {
                a->console = terminal_connect(o->console_socket, err);
                return a->console < 0 ? a->console : 0;
        }
        if (!c->spec->process.terminal)
                return 0;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
                return vessel_error_sys(err, "socketpair for the terminal");
        a->console = pair[0];
        c->console_peer = pair[1];
        terminal_inherit_size(&c->spec->process);
        return 0;
}

/* Rootless without a delegated cgroup: run, but say that nothing limits
 * the container.  True when the error was that and has been reported. */
static bool undelegated_warned(int r, vessel_error **err)
{
        if ((r != -EACCES && r != -EPERM) || !cgroup_rootless_undelegated())
                return false;
        fprintf(stderr, "vessel: warning: %s; no cgroup is delegated to uid %u, so the "
                        "container runs without resource limits\n",
                (*err)->msg, (unsigned)geteuid());
        vessel_error_free(err);
        return true;
}

/* Where the cgroup goes, nothing made yet. */
static int plan_cgroup(const struct vessel_create_opts *o, struct created *c, vessel_error **err)
{
        int r = cgroup_plan(c->spec, o->id, o->cgroup_manager, &c->cg, err);

        if (r < 0 && undelegated_warned(r, err))
                r = cgroup_plan(c->spec, o->id, "disabled", &c->cg, err);
        return r;
}

static int make_cgroup(struct created *c, vessel_error **err)
{
        int r = cgroup_make(c->cg, c->spec, err);

        if (r < 0 && undelegated_warned(r, err))
                r = 0;
        free(c->st.cgroup_path);
        c->st.cgroup_path = cgroup_state_path(c->cg);
        return r;
}

/* The state directory appears with a state.json that names its creator
 * and the cgroup it is about to get: whatever happens from here on, a
 * delete finds everything. */
static int publish_state(const struct vessel_runtime *rt, const struct vessel_create_opts *o,
                         struct created *c, const char *bundle, const char *rootfs, vessel_error **err)
{
        struct vessel_state *st = &c->st;

        st->id = xstrdup(o->id);
        st->bundle = xstrdup(bundle);
        st->rootfs = xstrdup(rootfs);
        st->created = rfc3339_now();
        st->owner = owner_name();
        st->creator = getpid();
        st->creator_start = proc_start_time(st->creator, NULL);
        st->cgroup_path = cgroup_state_path(c->cg);
        st->n_annotations = c->spec->n_annotations;
        st->annotations = xmalloc0(sizeof(struct vessel_kv) * (c->spec->n_annotations + 1));
        for (size_t i = 0; i < c->spec->n_annotations; i++) {
                st->annotations[i].key = xstrdup(c->spec->annotations[i].key);
                st->annotations[i].value = xstrdup(c->spec->annotations[i].value);
        }
        c->dirfd = state_dir_create(rt->root, st, err);
        if (c->dirfd < 0) {
                /* Not ours: never removed by our failure path. */
                free(st->id);
                st->id = NULL;
                return c->dirfd;
        }
        return 0;
}

/* The exec fifo (start releases init), the reply fifo (init's errors
 * after start) and the config that later commands read. */
static int make_state_files(const struct vessel_runtime *rt, struct created *c, struct init_args *a,
                            size_t len, vessel_error **err)
{
        _cleanup_free_ char *p = xasprintf("/proc/self/fd/%d/config.json", c->dirfd);

        if (mkfifoat(c->dirfd, EXEC_FIFO, 0600) < 0 ||
            (a->fifo = openat(c->dirfd, EXEC_FIFO, O_RDWR | O_CLOEXEC)) < 0)
                return vessel_error_sys(err, "create %s/%s/%s", rt->root, c->st.id, EXEC_FIFO);
        if (mkfifoat(c->dirfd, REPLY_FIFO, 0600) < 0 ||
            (a->reply = openat(c->dirfd, REPLY_FIFO, O_RDWR | O_CLOEXEC)) < 0)
                return vessel_error_sys(err, "create %s/%s/%s", rt->root, c->st.id, REPLY_FIFO);
        return write_file_atomic(p, c->config_json, len, 0600, err);
}

/* Clone init into its namespaces (and cgroup, where the kernel can), put
 * it into its cgroups otherwise, and let it go. */
static int spawn_init(const struct vessel_create_opts *o, struct created *c, struct init_args *a,
                      int socks[2], const char *bundle, const char *rootfs, vessel_error **err)
{
        const struct vessel_linux *lx = &c->spec->linux_;
        bool into_cgroup = false;
        int flags = 0, r;

        if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, socks) < 0)
                return vessel_error_sys(err, "socketpair");
        a->spec = c->spec;
        a->opts = o;
        a->rootfs = rootfs;
        a->bundle = bundle;
        a->parent_sock = socks[0];
        a->sock = socks[1];
        a->dirfd = c->dirfd;
        a->listen_fds = process_listen_fds();
        a->preserve_fds = o->preserve_fds > a->listen_fds ? o->preserve_fds : a->listen_fds;
        a->two_stage = (lx->ns[VESSEL_NS_USER].present && lx->ns[VESSEL_NS_USER].path) ||
                       (lx->ns[VESSEL_NS_PID].present && lx->ns[VESSEL_NS_PID].path);
        if (!a->two_stage)
                for (int t = 0; t < VESSEL_NS_COUNT; t++)
                        if (lx->ns[t].present && !lx->ns[t].path && t != VESSEL_NS_TIME &&
                            t != VESSEL_NS_CGROUP)
                                flags |= ns_clone_flag(t);
        /* The real init of a two-stage start is reparented to us. */
        if (a->two_stage && prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
                return vessel_error_sys(err, "prctl PR_SET_CHILD_SUBREAPER");

        c->child = clone_init(flags, cgroup_clone_fd(c->cg), &into_cgroup);
        if (c->child < 0) {
                c->child = 0;
                return vessel_error_sys(err, "clone the container's init (flags 0x%x)", flags);
        }
        if (c->child == 0)
                _exit(container_init(a));
        closep(&socks[1]);
        socks[1] = -1;
        c->pid = c->child;
        if (!into_cgroup && (r = cgroup_enter(c->cg, c->child, err)) < 0)
                return r;
        if (sync_send(socks[0], SYNC_GO, 0, NULL) < 0)
                return vessel_error_sys(err, "container init went away");
        return 0;
}

/* Recorded as created, with its pid; then init may outlive us. */
static int finish_create(const struct vessel_create_opts *o, struct created *c, int sock,
                         vessel_error **err)
{
        int r;

        c->st.pid = c->pid;
        c->st.start_time = proc_start_time(c->pid, NULL);
        c->st.ready = true;
        c->st.creator = 0;
        c->st.creator_start = 0;
        if ((r = state_write(c->dirfd, &c->st, err)) < 0 || (r = write_pid_file(o->pid_file, c->pid, err)) < 0)
                return r;
        if (sync_send(sock, SYNC_ACK, 0, NULL) < 0)
                return vessel_error_sys(err, "container init went away");
        /* Init closes its end once it no longer dies with us: only then
         * may we exit.  An init that died instead closed it too. */
        struct sync_msg *m = xmalloc0(sizeof(*m));
        r = sync_recv(sock, m);
        free(m);
        if (r == 0)
                return vessel_error_set(err, EPROTO, "unexpected message from container init");
        if (waitpid(c->pid, NULL, WNOHANG) == c->pid) {
                c->pid = 0;
                return vessel_error_msg(err, ECHILD, "container init exited before it was created");
        }
        return 0;
}

static int do_create(const struct vessel_runtime *rt, const struct vessel_create_opts *o,
                     struct created *c, vessel_error **err)
{
        _cleanup_free_ char *bundle = NULL, *rootfs = NULL;
        struct init_args a = {
            .console = -1, .fifo = -1, .reply = -1, .sock = -1, .parent_sock = -1, .dev_nodes = -1};
        int socks[2] = {-1, -1}, r;
        size_t len = 0;

        memset(c, 0, sizeof(*c));
        c->dirfd = -1;
        c->console_peer = -1;
        for (int t = 0; t < VESSEL_NS_COUNT; t++)
                a.ns_fds[t] = -1;

        if ((r = state_check_id(o->id, err)) < 0 || (r = load_bundle(o, c, &bundle, &rootfs, &len, err)) < 0)
                return r;
        if (c->spec->linux_.ns[VESSEL_NS_USER].present && !c->spec->linux_.ns[VESSEL_NS_USER].path)
                idmap_default(&c->spec->linux_);
        if ((r = validate(c->spec, o, a.ns_fds, err)) < 0 ||
            (r = prepare_init(rt, o, c, &a, bundle, err)) < 0 || (r = plan_cgroup(o, c, err)) < 0 ||
            (r = publish_state(rt, o, c, bundle, rootfs, err)) < 0)
                goto out;
        /* From here on, a failure removes the state directory again. */
        if ((r = make_state_files(rt, c, &a, len, err)) < 0 ||
            (r = notify_setup(c->spec, c->dirfd, rt->root, o->id, &a.source_fds, err)) < 0 ||
            (r = make_cgroup(c, err)) < 0 ||
            (r = spawn_init(o, c, &a, socks, bundle, rootfs, err)) < 0 ||
            (r = parent_sync(c, socks[0], err)) < 0 || (r = finish_create(o, c, socks[0], err)) < 0)
                created_cleanup(rt, c, true);
        /* Subreaper only while a two-stage init had to become our child,
         * unless a foreground run wants it anyway. */
        if (a.two_stage && (!o->foreground || o->no_subreaper))
                prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0);
out:
        seccomp_bpf_clear(&a.seccomp);
        mounts_close_sources(a.source_fds, c->spec->n_mounts);
        for (int t = 0; t < VESSEL_NS_COUNT; t++)
                closep(&a.ns_fds[t]);
        closep(&a.fifo);
        closep(&a.reply);
        closep(&a.dev_nodes);
        closep(&a.console);
        closep(&socks[0]);
        closep(&socks[1]);
        return r;
}

int vessel_create(const struct vessel_runtime *rt, const struct vessel_create_opts *o,
                  vessel_error **err)
{
        struct created c;
        int r = do_create(rt, o, &c, err);
        created_free(&c);
        return r;
}

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

/* *notify: the NOTIFY_SOCKET relay's socket, bound before the process
 * runs so that its READY=1 is not lost (notify.h), or -1. */
static int start_locked(int dirfd, struct vessel_state *st, const struct vessel_spec *spec,
                        int *notify, vessel_error **err)
{
        _cleanup_close_ int fifo = -1, reply = -1;
        enum vessel_status s = state_status(st);
        int r;

        if (s != VESSEL_CREATED)
                return vessel_error_msg(err, EINVAL, "cannot start container \"%s\": it is %s, not created",
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
                        return vessel_error_msg(err, ESRCH, "container \"%s\" is not running", st->id);
                return vessel_error_sys(err, "open %s", EXEC_FIFO);
        }
        if ((r = write_all(fifo, "0", 1)) < 0)
                return vessel_error_set(err, -r, "write %s", EXEC_FIFO);
        unlinkat(dirfd, EXEC_FIFO, 0);
        st->started = true;
        if ((r = state_write(dirfd, st, err)) < 0)
                return r;
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

static int delete_locked(const struct vessel_runtime *rt, int dirfd, const char *id, bool force,
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
                        r = vessel_error_msg(err, EBUSY,
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
                        r = vessel_error_msg(err, ETIMEDOUT,
                                             "container \"%s\": init (pid %d) did not exit after SIGKILL",
                                             id, (int)st.pid);
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
        r = do_create(rt, o, &c, err);
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
