/* create.c: the runtime's side of `create`.
 *
 * Validate everything first; then publish the state directory (with the
 * planned cgroup path and the creator in it, so that a killed create is
 * found), make the cgroup, clone init into its namespaces and cgroup, run
 * the runtime-namespace hooks and write the id maps when it asks, and
 * record it as created once it is READY.  Any failure removes all of it. */
#include "container.h"
#include "container-internal.h"
#include "devices.h"
#include "hooks.h"
#include "idmap.h"
#include "mounts.h"
#include "namespaces.h"
#include "notify.h"
#include "process.h"
#include "rootfs.h"
#include "sync.h"
#include "terminal.h"
#include "util.h"

#include <fcntl.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/sched.h>
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
        const char *what = spec->n_mounts           ? "mounts"
                           : lx->n_masked_paths     ? "linux.maskedPaths"
                           : lx->n_readonly_paths   ? "linux.readonlyPaths"
                           : spec->root.readonly    ? "root.readonly"
                           : lx->n_devices          ? "linux.devices"
                           : lx->rootfs_propagation ? "linux.rootfsPropagation"
                                                    : NULL;

        if (what)
                return vessel_error_msg(
                    err, EINVAL,
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
                return vessel_error_msg(
                    err, EINVAL,
                    "process.terminal is true but no --console-socket was given "
                    "(only a foreground run relays the terminal itself)");
        if ((lx->time_monotonic.present || lx->time_boottime.present) &&
            (!lx->ns[VESSEL_NS_TIME].present || lx->ns[VESSEL_NS_TIME].path))
                return vessel_error_msg(err, EINVAL,
                                        "linux.timeOffsets: needs a new time namespace");
        r = idmap_validate(lx->uid_mappings, lx->n_uid_mappings, "linux.uidMappings", err);
        if (r < 0)
                return r;
        r = idmap_validate(lx->gid_mappings, lx->n_gid_mappings, "linux.gidMappings", err);
        if (r < 0)
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

void created_cleanup(const struct vessel_runtime *rt, struct created *c, bool remove)
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

void created_free(struct created *c)
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
                return (pid_t)syscall(SYS_clone, (unsigned long)flags | SIGCHLD, NULL, NULL, NULL,
                                      NULL);
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
                                        r = vessel_error_set(
                                            err, ECHILD, "container init was killed by signal %d",
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
                        r = vessel_error_msg(err, m->value > 0 ? m->value : 0, "%s", m->text);
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
                        r = vessel_error_set(err, EPROTO,
                                             "unexpected message %d from container init", m->type);
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
                        struct created *c, struct init_args *a, const char *bundle,
                        const char *rootfs, vessel_error **err)
{
        _cleanup_free_ char *cache = xasprintf("%s/.seccomp-cache", rt->root);
        int r, pair[2];

        if ((r = seccomp_compile(&c->spec->linux_.seccomp, cache, &a->seccomp, err)) < 0 ||
            (r = seccomp_connect_listener(&c->spec->linux_.seccomp, &a->seccomp, err)) < 0)
                return r;
        c->want_created_state =
            c->spec->hooks.n[VESSEL_HOOK_START_CONTAINER] || a->seccomp.listener >= 0;
        a->want_created_state = c->want_created_state;
        if ((r = idmap_userns_owner(c->spec, &a->userns_uid, &a->userns_gid, err)) < 0 ||
            (r = mounts_prepare_sources(c->spec, bundle, &a->source_fds, err)) < 0 ||
            (r = rootfs_prepare_idmap(c->spec, rootfs, &a->rootfs_idmapped, err)) < 0 ||
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
        fprintf(stderr,
                "vessel: warning: %s; no cgroup is delegated to uid %u, so the "
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
                         struct created *c, const char *bundle, const char *rootfs,
                         vessel_error **err)
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
        /* A user namespace owned by its root's host ids is unshared by
         * the intermediate process once it is them. */
        a->two_stage = (lx->ns[VESSEL_NS_USER].present && lx->ns[VESSEL_NS_USER].path) ||
                       (lx->ns[VESSEL_NS_PID].present && lx->ns[VESSEL_NS_PID].path) ||
                       a->userns_uid >= 0;
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
        if ((r = state_write(c->dirfd, &c->st, err)) < 0 ||
            (r = write_pid_file(o->pid_file, c->pid, err)) < 0)
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

int create_container(const struct vessel_runtime *rt, const struct vessel_create_opts *o,
                     struct created *c, vessel_error **err)
{
        _cleanup_free_ char *bundle = NULL, *rootfs = NULL;
        struct init_args a = {
            .console = -1, .fifo = -1, .reply = -1, .sock = -1, .parent_sock = -1, .dev_nodes = -1,
            .rootfs_idmapped = -1, .userns_uid = -1, .userns_gid = -1};
        int socks[2] = {-1, -1}, r;
        size_t len = 0;

        memset(c, 0, sizeof(*c));
        c->dirfd = -1;
        c->console_peer = -1;
        for (int t = 0; t < VESSEL_NS_COUNT; t++)
                a.ns_fds[t] = -1;

        if ((r = state_check_id(o->id, err)) < 0 ||
            (r = load_bundle(o, c, &bundle, &rootfs, &len, err)) < 0)
                return r;
        if (c->spec->linux_.ns[VESSEL_NS_USER].present && !c->spec->linux_.ns[VESSEL_NS_USER].path)
                idmap_default(&c->spec->linux_);
        if ((r = validate(c->spec, o, a.ns_fds, err)) < 0 ||
            (r = prepare_init(rt, o, c, &a, bundle, rootfs, err)) < 0 || (r = plan_cgroup(o, c, err)) < 0 ||
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
        closep(&a.rootfs_idmapped);
        closep(&a.console);
        closep(&socks[0]);
        closep(&socks[1]);
        return r;
}

int vessel_create(const struct vessel_runtime *rt, const struct vessel_create_opts *o,
                  vessel_error **err)
{
        struct created c;
        int r = create_container(rt, o, &c, err);
        created_free(&c);
        return r;
}
