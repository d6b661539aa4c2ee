#include "process.h"
#include "caps.h"
#include "mounts.h"
#include "rlimits.h"
#include "util.h"

#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/close_range.h>

int process_prepare_host(const struct vessel_process *p, vessel_error **err)
{
        if (p->has_oom_score_adj) {
                char buf[16];
                int r, n = snprintf(buf, sizeof(buf), "%d", p->oom_score_adj);
                r = write_file_at(AT_FDCWD, "/proc/self/oom_score_adj", buf, (size_t)n, err);
                if (r < 0) {
                        if (r == -EACCES || r == -EPERM)
                                return vessel_error_prefix(err,
                                                           "process.oomScoreAdj %d (lowering the "
                                                           "score below the runtime's own needs "
                                                           "CAP_SYS_RESOURCE)",
                                                           p->oom_score_adj);
                        return vessel_error_prefix(err, "process.oomScoreAdj");
                }
        }
        return 0;
}

static const char *env_get(char *const *env, const char *key)
{
        size_t n = strlen(key);
        for (size_t i = 0; env && env[i]; i++)
                if (!strncmp(env[i], key, n) && env[i][n] == '=')
                        return env[i] + n + 1;
        return NULL;
}

static bool is_executable(const char *path)
{
        struct stat st;
        return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

void process_env_set(struct vessel_process *p, const char *kv)
{
        const char *eq = strchr(kv, '=');
        size_t klen = eq ? (size_t)(eq - kv) : strlen(kv);

        for (size_t i = 0; i < p->n_env; i++) {
                if (!strncmp(p->env[i], kv, klen) && p->env[i][klen] == '=') {
                        free(p->env[i]);
                        p->env[i] = xstrdup(kv);
                        return;
                }
        }
        p->env = strv_append(p->env, kv);
        p->n_env++;
}

int process_listen_fds(void)
{
        const char *fds = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
        int64_t n, p;

        if (!fds || parse_int64(fds, &n) < 0 || n <= 0 || n > 65536)
                return 0;
        if (pid && (parse_int64(pid, &p) < 0 || p != getpid()))
                return 0; /* meant for another process */
        return (int)n;
}

int process_find_exe(const char *cmd, char *const *env, char **out, vessel_error **err)
{
        const char *path;
        _cleanup_free_ char *copy = NULL;
        char *dir, *save = NULL;

        if (strchr(cmd, '/')) {
                if (!is_executable(cmd))
                        return vessel_error_sys(err, "process.args[0] %s", cmd);
                *out = xstrdup(cmd);
                return 0;
        }
        path = env_get(env, "PATH");
        if (!path)
                path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
        copy = xstrdup(path);
        for (dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
                _cleanup_free_ char *cand = xasprintf("%s/%s", *dir ? dir : ".", cmd);
                if (is_executable(cand)) {
                        *out = steal_ptr(&cand);
                        return 0;
                }
        }
        return vessel_error_set(err, ENOENT,
                                "process.args[0] \"%s\": executable file not found in $PATH", cmd);
}

/* The home directory of uid in the container's /etc/passwd (*home NULL
 * when the file or the entry is missing).  The file belongs to the
 * container: it is opened inside its root without magic links, must be a
 * regular file (a fifo would block us), and nothing but the home
 * directory of that one uid is taken from it. */
static int passwd_home(uid_t uid, char **home, vessel_error **err)
{
        _cleanup_close_ int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
        struct stat st;
        FILE *f;
        int fd;

        *home = NULL;
        if (root < 0)
                return vessel_error_sys(err, "open the container's root");
        fd = openat2_in_root(root, "etc/passwd", O_RDONLY | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 && (errno == ENOENT || errno == ENOTDIR || errno == ELOOP))
                return 0;
        if (fd < 0)
                return vessel_error_sys(err, "open /etc/passwd in the container");
        if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
                close(fd);
                return 0;
        }
        f = fdopen(fd, "r");
        if (!f) {
                close(fd);
                return vessel_error_sys(err, "read /etc/passwd in the container");
        }
        *home = passwd_field(f, uid, 5);
        fclose(f);
        return 0;
}

/* HOME, when the environment does not set it, from the container's
 * /etc/passwd entry of the process's uid, or "/" without one (runc and crun
 * do the same). */
static int set_home(struct vessel_process *p, vessel_error **err)
{
        _cleanup_free_ char *home = NULL, *kv = NULL;
        int r;

        if (env_get(p->env, "HOME"))
                return 0;
        r = passwd_home(p->user.uid, &home, err);
        if (r < 0)
                return vessel_error_prefix(err, "process.env: HOME for uid %u", p->user.uid);
        kv = xasprintf("HOME=%s", home && *home ? home : "/");
        process_env_set(p, kv);
        return 0;
}

int process_prepare(struct vessel_process *p, const struct vessel_linux *lx, bool create_cwd,
                    char **exe, vessel_error **err)
{
        const char *cwd = p->cwd ? p->cwd : "/";
        int r;

        /* First: a low RLIMIT_NOFILE or RLIMIT_AS must not fail the lookup. */
        r = set_home(p, err);
        if (r < 0)
                return r;
        r = rlimits_apply(p, err);
        if (r < 0)
                return r;
        if (lx && lx->has_personality && personality(lx->personality) < 0)
                return vessel_error_sys(err, "linux.personality: personality(0x%lx)",
                                        lx->personality);
        if (chdir(cwd) < 0) {
                if (!create_cwd || errno != ENOENT || mkdir_p(cwd, 0755, NULL) < 0 ||
                    chdir(cwd) < 0)
                        return vessel_error_sys(err, "process.cwd %s", cwd);
        }
        if (p->user.has_umask)
                umask(p->user.umask);
        else
                umask(022);
        return process_find_exe(p->args[0], p->env, exe, err);
}

static bool apparmor_enabled(void)
{
        char c = 'N';
        int fd = open("/sys/module/apparmor/parameters/enabled", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
                if (read(fd, &c, 1) != 1)
                        c = 'N';
                close(fd);
        }
        return c == 'Y';
}

static bool selinux_enabled(void)
{
        return access("/sys/fs/selinux/enforce", F_OK) == 0;
}

int process_check_lsm(const struct vessel_process *p, vessel_error **err)
{
        /* A confinement the config asks for is never silently dropped. */
        if (p->apparmor_profile && *p->apparmor_profile && !apparmor_enabled())
                return vessel_error_msg(
                    err, EOPNOTSUPP,
                    "process.apparmorProfile \"%s\": AppArmor is not enabled on this host",
                    p->apparmor_profile);
        if (p->selinux_label && *p->selinux_label && !selinux_enabled())
                return vessel_error_msg(
                    err, EOPNOTSUPP,
                    "process.selinuxLabel \"%s\": SELinux is not enabled on this host",
                    p->selinux_label);
        return 0;
}

/* Write an LSM attribute, but only into procfs: a fake /proc would make the
 * label silently not apply. */
static int write_attr(const char *path, const char *value, vessel_error **err)
{
        _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
        struct statfs sfs;
        int r;

        if (fd < 0)
                return vessel_error_sys(err, "open %s", path);
        if (fstatfs(fd, &sfs) < 0 || sfs.f_type != PROC_SUPER_MAGIC)
                return vessel_error_msg(err, EXDEV, "%s is not on procfs", path);
        r = write_all(fd, value, strlen(value));
        return r < 0 ? vessel_error_set(err, -r, "write %s", path) : 0;
}

int process_apply_lsm(const struct vessel_process *p, vessel_error **err)
{
        if (p->apparmor_profile && *p->apparmor_profile) {
                _cleanup_free_ char *cmd = xasprintf("exec %s", p->apparmor_profile);
                if (write_attr("/proc/self/attr/apparmor/exec", cmd, NULL) < 0 &&
                    write_attr("/proc/self/attr/exec", cmd, err) < 0)
                        return vessel_error_prefix(err, "process.apparmorProfile");
        }
        if (p->selinux_label && *p->selinux_label &&
            write_attr("/proc/self/attr/exec", p->selinux_label, err) < 0)
                return vessel_error_prefix(err, "process.selinuxLabel");
        return 0;
}

/* The stdio the caller handed us, when it is a pipe or a file the runtime
 * owns, becomes the process user's (runc's fixStdioPermissions), so that
 * the process can reopen it (/dev/stdout, /proc/self/fd/1).  Devices are
 * left alone: /dev/null, and a terminal, which would be the caller's own.
 * Where the kernel refuses (the user's ids are not mapped in our user
 * namespace, a read-only file system) the owner stays, as with runc. */
static int stdio_give_to_user(const struct vessel_user *u, vessel_error **err)
{
        uid_t me = geteuid();

        for (int fd = 0; fd < 3; fd++) {
                struct stat st;

                if (fstat(fd, &st) < 0) {
                        if (errno == EBADF)
                                continue;
                        return vessel_error_sys(err, "fstat stdio fd %d", fd);
                }
                if ((!S_ISFIFO(st.st_mode) && !S_ISREG(st.st_mode)) || st.st_uid != me ||
                    st.st_uid == u->uid)
                        continue;
                if (fchown(fd, u->uid, u->gid) < 0 && errno != EINVAL && errno != EPERM &&
                    errno != EROFS)
                        return vessel_error_sys(err, "process.user: fchown stdio fd %d to %u:%u",
                                                fd, u->uid, u->gid);
        }
        return 0;
}

/* Until execve, only the calls that dropping privileges needs may run
 * under the seccomp filter: a profile written for the container's own
 * program need not allow anything else. */
int process_set_identity(const struct vessel_process *p, bool in_userns,
                         const struct vessel_bpf *seccomp, vessel_error **err)
{
        const struct vessel_user *u = &p->user;
        /* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN, so it
         * goes in before the capabilities are set. */
        bool early = seccomp && !p->no_new_privileges;
        int r;

        /* First, while we are root with CAP_CHOWN. */
        if ((r = stdio_give_to_user(u, err)) < 0)
                return r;
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
                return vessel_error_sys(err, "prctl PR_SET_KEEPCAPS");
        if (p->capabilities.present && (r = caps_drop_bounding(&p->capabilities, err)) < 0)
                return r;
        if (setgroups(u->n_additional_gids, (const gid_t *)u->additional_gids) < 0) {
                /* With setgroups denied in a user namespace there are no
                 * supplementary groups to drop; asking for some is an error. */
                if (!(errno == EPERM && in_userns && u->n_additional_gids == 0))
                        return vessel_error_sys(err, "process.user.additionalGids: setgroups");
        }
        if (setresgid(u->gid, u->gid, u->gid) < 0)
                return vessel_error_sys(err, "process.user.gid %u: setresgid", u->gid);
        if (setresuid(u->uid, u->uid, u->uid) < 0)
                return vessel_error_sys(err, "process.user.uid %u: setresuid", u->uid);
        if (early) {
                /* A new uid cleared the effective set; KEEPCAPS kept it permitted. */
                if (u->uid != 0 && (r = caps_raise_effective(CAP_SYS_ADMIN, err)) < 0)
                        return r;
                if ((r = seccomp_install(seccomp, err)) < 0)
                        return r;
        }
        /* PR_SET_KEEPCAPS needs no reset: execve clears it. */
        if (p->capabilities.present && (r = caps_apply(&p->capabilities, err)) < 0)
                return early ? vessel_error_prefix(err, "under linux.seccomp (loaded before the "
                                                        "capabilities are set, since "
                                                        "process.noNewPrivileges is false, so the "
                                                        "profile must allow capset)")
                             : r;
        if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
                return vessel_error_sys(err, "prctl PR_SET_NO_NEW_PRIVS");
        if (seccomp && !early && (r = seccomp_install(seccomp, err)) < 0)
                return r;
        return 0;
}

int process_drop_inherited(int preserve_fds, vessel_error **err)
{
        /* No runtime fd may survive into the container (CVE-2024-21626):
         * execve closes them all.  Marked, not closed now, so that if a
         * later step fails its error still reaches the runtime. */
        if (syscall(SYS_close_range, 3 + preserve_fds, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
                return vessel_error_sys(err, "close_range");
        /* A signal the runtime's caller ignored would stay ignored across
         * execve (SIGINT, SIGPIPE of a background job): the container's
         * process starts with every disposition at its default, as crun's.
         * The raw call reaches the signals glibc keeps for itself (32, 33)
         * too; only the handler, the first field everywhere, is read, and a
         * zeroed struct is SIG_DFL with no flags. */
        for (int sig = 1; sig <= 64; sig++) {
                struct {
                        void *handler;
                        unsigned long rest[4];
                } old = {0}, dfl = {0};
                if (sig != SIGKILL && sig != SIGSTOP &&
                    syscall(SYS_rt_sigaction, sig, NULL, &old, (size_t)8) == 0 &&
                    old.handler == SIG_IGN)
                        syscall(SYS_rt_sigaction, sig, &dfl, NULL, (size_t)8);
        }
        return 0;
}

int process_exec(const struct vessel_process *p, const char *exe, vessel_error **err)
{
        char *const empty[] = {NULL};

        execve(exe, p->args, p->env ? p->env : empty);
        return vessel_error_sys(err, "execve %s", exe);
}
