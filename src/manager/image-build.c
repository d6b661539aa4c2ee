/* image-build.c: `vesselctl image build`: look the build key up in the
 * store; else run mmdebstrap into a locked staging directory, add the
 * metadata and templates, and import the result as a directory image
 * (image-import.c), then give it the aliases.
 *
 * mmdebstrap in root mode mounts /proc, /sys and /dev into the rootfs it
 * builds; run in the host's mount namespace, a kill would leave those
 * mounts in the store (and a later rm -rf of the staging directory would
 * walk into the host's /dev).  So it runs as PID 1 of a PID namespace and
 * in a mount namespace of its own, with PR_SET_PDEATHSIG: when we die it
 * dies, the kernel kills everything it started, and its mounts go with
 * the namespace, never seen by the host. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "arch.h"
#include "image-build.h"
#include "util.h"

#define TAIL_LINES 6

struct build {
        struct vessel_store *s;
        const struct image_build_opts *o;
        struct build_params p;
        char **packages;
        char *key;
        char name[32]; /* the staging directory under images/ */
        int fd;        /* it, flock'ed */
        char *path;
        int64_t now; /* the build's time: creation_date, serial, file name */
};

static int params_init(struct build *b, vessel_error **err)
{
        const struct image_build_opts *o = b->o;

        b->p.release = build_release_find(o->ref, err);
        if (!b->p.release || build_variant_check(o->variant, &b->p.variant, err) < 0 ||
            build_packages(o->include, &b->packages, err) < 0)
                return -EINVAL;
        for (char *const *a = o->aliases; a && *a; a++)
                if (!image_alias_name_valid(*a))
                        return vessel_error_msg(err, EINVAL,
                                                "alias \"%s\": not a valid name (no spaces, "
                                                "control characters or ':')",
                                                *a);
        b->p.packages = b->packages;
        b->p.arch = arch_host();
        if (!build_debian_arch(b->p.arch))
                return vessel_error_msg(err, ENOEXEC, "image build: Debian has no port for %s",
                                        b->p.arch);
        b->key = build_key(&b->p);
        return 0;
}

/* The newest image built with this key, if any (fp empty if none). */
static int find_cached(struct build *b, char fp[FINGERPRINT_HEX_LEN + 1], vessel_error **err)
{
        struct image_info *v = NULL;
        size_t n = 0;

        fp[0] = '\0';
        if (image_list(b->s, &v, &n, err) < 0)
                return -EIO;
        for (size_t i = 0; i < n; i++) {
                const char *k = image_property(&v[i], IMAGE_BUILD_PROPERTY);
                if (k && !strcmp(k, b->key))
                        memcpy(fp, v[i].fingerprint, FINGERPRINT_HEX_LEN + 1);
        }
        image_list_free(v, n);
        return 0;
}

/* ---- mmdebstrap, as PID 1 of its own namespaces ---- */

static void child_fail(int fd, const char *what)
{
        char msg[256];
        int n = snprintf(msg, sizeof(msg), "vesselctl: %s: %s\n", what, strerror(errno));

        if (n > 0)
                write_all(fd, msg, (size_t)n < sizeof(msg) ? (size_t)n : sizeof(msg) - 1);
        _exit(127);
}

static void child(struct build *b, char **argv, int out_fd, int life_fd)
{
        static const char *const dirs[] = {"/usr/sbin", "/usr/bin", "/sbin", "/bin"};
        _cleanup_free_ char *tmpdir = xasprintf("TMPDIR=%s", b->path);
        char *envp[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C.UTF-8", "HOME=/root",
                        tmpdir, NULL};
        struct pollfd pf = {.fd = life_fd, .events = POLLIN};
        int null_fd;

        /* Die with vesselctl; if it is already gone, its end of the life
         * pipe is closed. */
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || poll(&pf, 1, 0) != 0)
                _exit(127);
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
                child_fail(out_fd, "making / private in the build's mount namespace");
        /* A /proc of the build's PID namespace. */
        if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
                child_fail(out_fd, "mounting /proc for the build");
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0 || dup2(null_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(out_fd, 2) < 0)
                child_fail(out_fd, "redirecting mmdebstrap's output");
        /* The staging directory's lock holds while mmdebstrap runs, even
         * after our death (recovery leaves the directory alone). */
        if (fcntl(b->fd, F_SETFD, 0) < 0 || chdir(b->path) < 0)
                child_fail(2, b->path);
        for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
                _cleanup_free_ char *exe = xasprintf("%s/%s", dirs[i], argv[0]);
                execve(exe, argv, envp);
        }
        errno = ENOENT;
        child_fail(2, "mmdebstrap (apt-get install mmdebstrap)");
}

struct tail {
        char *lines[TAIL_LINES];
        size_t next;
};

static void tail_add(struct tail *t, const char *line)
{
        free(t->lines[t->next]);
        t->lines[t->next] = xstrdup(line);
        t->next = (t->next + 1) % TAIL_LINES;
}

static char *tail_join(struct tail *t)
{
        _cleanup_strv_ char **v = xmalloc0(sizeof(char *));

        for (size_t i = 0; i < TAIL_LINES; i++) {
                char *l = t->lines[(t->next + i) % TAIL_LINES];
                if (l)
                        v = strv_append(v, l);
        }
        return strv_join(v, "\n  ");
}

static void tail_free(struct tail *t)
{
        for (size_t i = 0; i < TAIL_LINES; i++)
                free(t->lines[i]);
}

static void emit_line(struct build *b, struct tail *t, char *line, size_t len)
{
        line[len] = '\0';
        if (len == 0)
                return;
        tail_add(t, line);
        if (b->o->progress)
                b->o->progress(line, b->o->progress_data);
}

/* Each line (ended by \n or \r, as progress bars end theirs) to the
 * progress callback and the tail; overlong lines are cut.  A signal on
 * sig_fd (SIGINT, SIGTERM, SIGHUP: the user gave up) kills the build;
 * the output is read to its end all the same.  Returns the signal or 0. */
static int read_lines(struct build *b, int fd, int sig_fd, pid_t pid, struct tail *t)
{
        struct pollfd pf[2] = {{.fd = fd, .events = POLLIN}, {.fd = sig_fd, .events = POLLIN}};
        char buf[4096], line[1024];
        size_t len = 0;
        int signo = 0;
        ssize_t n;

        for (;;) {
                if (poll(pf, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        break;
                }
                if (pf[1].revents & POLLIN) {
                        struct signalfd_siginfo si;
                        if (read(sig_fd, &si, sizeof(si)) == sizeof(si) && !signo) {
                                signo = (int)si.ssi_signo;
                                kill(pid, SIGKILL); /* PID 1: its namespace goes with it */
                        }
                }
                if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
                        continue;
                n = read(fd, buf, sizeof(buf));
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0)
                        break;
                for (ssize_t i = 0; i < n; i++) {
                        if (buf[i] == '\n' || buf[i] == '\r') {
                                emit_line(b, t, line, len);
                                len = 0;
                        } else if (len < sizeof(line) - 1) {
                                line[len++] = buf[i];
                        }
                }
        }
        emit_line(b, t, line, len);
        return signo;
}

static int run_mmdebstrap(struct build *b, vessel_error **err)
{
        _cleanup_free_ char *target = xasprintf("%s/rootfs", b->path);
        _cleanup_strv_ char **argv = build_mmdebstrap_argv(&b->p, target);
        _cleanup_close_ int out_r = -1, out_w = -1, life_r = -1, life_w = -1;
        _cleanup_close_ int sig_fd = -1;
        struct tail t = {0};
        int pipes[2][2], status, signo;
        sigset_t stop, old;
        pid_t pid;

        if (pipe2(pipes[0], O_CLOEXEC) < 0)
                return vessel_error_sys(err, "image build: pipe");
        out_r = pipes[0][0];
        out_w = pipes[0][1];
        if (pipe2(pipes[1], O_CLOEXEC) < 0)
                return vessel_error_sys(err, "image build: pipe");
        life_r = pipes[1][0];
        life_w = pipes[1][1];
        /* Ctrl-C, SIGTERM, SIGHUP while mmdebstrap runs: end it and
         * remove what it made now, not at the next command. */
        sigemptyset(&stop);
        sigaddset(&stop, SIGINT);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGHUP);
        if (sigprocmask(SIG_BLOCK, &stop, &old) < 0)
                return vessel_error_sys(err, "image build: sigprocmask");
        sig_fd = signalfd(-1, &stop, SFD_CLOEXEC);
        if (sig_fd < 0) {
                sigprocmask(SIG_SETMASK, &old, NULL);
                return vessel_error_sys(err, "image build: signalfd");
        }
        /* fork() into new PID and mount namespaces: the child is PID 1. */
        pid =
            (pid_t)syscall(SYS_clone, CLONE_NEWNS | CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);
        if (pid < 0) {
                sigprocmask(SIG_SETMASK, &old, NULL);
                return vessel_error_sys(err, "image build: clone(CLONE_NEWPID|CLONE_NEWNS)");
        }
        if (pid == 0) {
                sigprocmask(SIG_SETMASK, &old, NULL);
                closep(&out_r);
                closep(&life_w);
                child(b, argv, out_w, life_r);
        }
        closep(&out_w);
        closep(&life_r);
        signo = read_lines(b, out_r, sig_fd, pid, &t);
        while (waitpid(pid, &status, 0) < 0) {
                if (errno != EINTR) {
                        sigprocmask(SIG_SETMASK, &old, NULL);
                        tail_free(&t);
                        return vessel_error_sys(err, "image build: waiting for mmdebstrap");
                }
        }
        /* One that came after the output ended: still the user's wish. */
        if (!signo) {
                struct signalfd_siginfo si;
                struct pollfd pf = {.fd = sig_fd, .events = POLLIN};
                if (poll(&pf, 1, 0) == 1 && read(sig_fd, &si, sizeof(si)) == sizeof(si))
                        signo = (int)si.ssi_signo;
        }
        sigprocmask(SIG_SETMASK, &old, NULL);
        if (signo) {
                tail_free(&t);
                return vessel_error_msg(err, EINTR, "image build %s: interrupted (%s)", b->o->ref,
                                        strsignal(signo));
        }
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
                tail_free(&t);
                return 0;
        }
        _cleanup_free_ char *last = tail_join(&t);
        tail_free(&t);
        if (WIFSIGNALED(status))
                return vessel_error_msg(
                    err, EIO, "image build %s: mmdebstrap killed by signal %d%s%s", b->o->ref,
                    WTERMSIG(status), *last ? "; its last lines:\n  " : "", last);
        return vessel_error_msg(err, EIO, "image build %s: mmdebstrap failed (exit status %d)%s%s",
                                b->o->ref, WEXITSTATUS(status),
                                *last ? "; its last lines:\n  " : "", last);
}

/* ---- the image directory: rootfs/, metadata.yaml, templates/ ---- */

static int create_file_at(int dirfd, const char *name, const char *buf, size_t len,
                          vessel_error **err)
{
        _cleanup_close_ int fd =
            openat(dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);

        if (fd < 0 || write_all(fd, buf, len) < 0)
                return vessel_error_sys(err, "%s", name);
        return 0;
}

static int write_image_dir(struct build *b, vessel_error **err)
{
        _cleanup_close_ int rootfs =
            openat(b->fd, "rootfs", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        _cleanup_close_ int tpl = -1;
        _cleanup_free_ char *yaml = NULL;
        size_t len;

        if (rootfs < 0)
                return vessel_error_sys(err, "images/%s/rootfs", b->name);
        if (build_finish_rootfs(rootfs, err) < 0 ||
            build_metadata(&b->p, b->now, &yaml, &len, err) < 0 ||
            create_file_at(b->fd, "metadata.yaml", yaml, len, err) < 0)
                return vessel_error_prefix(err, "image build %s: images/%s", b->o->ref, b->name);
        if (mkdirat(b->fd, "templates", 0755) < 0 ||
            (tpl = openat(b->fd, "templates", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
                return vessel_error_sys(err, "images/%s/templates", b->name);
        for (const struct build_template_file *f = build_template_files; f->name; f++)
                if (create_file_at(tpl, f->name, f->contents, strlen(f->contents), err) < 0)
                        return vessel_error_prefix(err, "images/%s/templates", b->name);
        return 0;
}

/* --refresh: the images the new one replaces give it their aliases and
 * are deleted. */
static int replace_older(struct build *b, const char *fp, vessel_error **err)
{
        struct image_info *v = NULL;
        size_t n = 0;
        int r = 0;

        if (image_list(b->s, &v, &n, err) < 0)
                return -EIO;
        for (size_t i = 0; r == 0 && i < n; i++) {
                const char *k = image_property(&v[i], IMAGE_BUILD_PROPERTY);
                if (!k || strcmp(k, b->key) || !strcmp(v[i].fingerprint, fp))
                        continue;
                for (char **a = v[i].aliases; r == 0 && *a; a++)
                        r = image_alias_set(b->s, *a, fp, err);
                if (r == 0)
                        r = image_delete(b->s, v[i].fingerprint, err);
        }
        image_list_free(v, n);
        return r;
}

static int build_new(struct build *b, struct image_build_result *res, vessel_error **err)
{
        struct image_import_result ir;
        struct image_import_opts io = {.n_paths = 1};
        int r;

        if (geteuid() != 0)
                return vessel_error_msg(err, EPERM, "image build %s: needs root (mmdebstrap)",
                                        b->o->ref);
        if (store_workdir_create(b->s->images_fd, IMAGE_BUILD_PREFIX, b->name, sizeof(b->name),
                                 &b->fd, err) < 0)
                return vessel_error_prefix(err, "%s/images", b->s->root);
        b->path = xasprintf("%s/images/%s", b->s->root, b->name);
        io.paths[0] = b->path;
        b->now = time(NULL);
        _cleanup_free_ char *filename = build_filename(&b->p, b->now);
        io.filename = filename;
        r = run_mmdebstrap(b, err) ?: write_image_dir(b, err) ?: image_import(b->s, &io, &ir, err);
        if (r < 0)
                return r;
        memcpy(res->fingerprint, ir.fingerprint, sizeof(res->fingerprint));
        res->size = ir.size;
        return replace_older(b, ir.fingerprint, err);
}

int image_build(struct vessel_store *s, const struct image_build_opts *o,
                struct image_build_result *res, vessel_error **err)
{
        struct build b = {.s = s, .o = o, .fd = -1};
        char fp[FINGERPRINT_HEX_LEN + 1];
        int r;

        *res = (struct image_build_result){0};
        r = params_init(&b, err);
        if (r == 0 && !o->refresh)
                r = find_cached(&b, fp, err);
        if (r == 0 && !o->refresh && fp[0]) {
                memcpy(res->fingerprint, fp, sizeof(fp));
                res->cached = true;
        } else if (r == 0) {
                r = build_new(&b, res, err);
        }
        for (char *const *a = o->aliases; r == 0 && a && *a; a++)
                r = image_alias_set(s, *a, res->fingerprint, err);
        if (r == 0 && res->cached) {
                struct image_info i = {0};
                r = image_get(s, res->fingerprint, &i, err);
                res->size = i.size;
                image_info_free(&i);
        }
        if (b.fd >= 0) {
                store_rm_rf_at(s, s->images_fd, b.name, NULL);
                closep(&b.fd);
        }
        res->key = steal_ptr(&b.key);
        strv_free(b.packages);
        free(b.path);
        return r;
}

void image_build_result_free(struct image_build_result *r)
{
        free(r->key);
        r->key = NULL;
}
