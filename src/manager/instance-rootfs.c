/* instance-rootfs.c: the copy of the image's metadata.yaml and
 * templates/ that an instance keeps (its rootfs is a volume of a storage
 * pool: storage.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "instance.h"
#include "instance-internal.h"
#include "util.h"

/* cp inherits the staging directory's locked fd (the flock belongs to
 * the open file, so it holds until cp exits too: recovery never removes
 * the directory under a cp still writing into it) and dies with us. */
static void child(pid_t parent, int lock_fd, char **argv)
{
        if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent)
                _exit(127);
        if (fcntl(lock_fd, F_SETFD, 0) < 0)
                _exit(127);
        execvp(argv[0], argv);
        _exit(127);
}

static int run_cp(int dir_fd, char **argv, const char *what, vessel_error **err)
{
        pid_t parent = getpid(), pid = fork();
        int status;

        if (pid < 0)
                return vessel_error_sys(err, "copying %s: fork", what);
        if (pid == 0)
                child(parent, dir_fd, argv);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return vessel_error_sys(err, "copying %s: waiting for cp", what);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return vessel_error_msg(err, EIO,
                                        "copying %s: cp failed (status %d; see its message "
                                        "above)",
                                        what, status);
        return 0;
}

/* templates/ is made by every import; an image directory from before
 * templates were kept may lack it, and then has none. */
int instance_templates_copy(struct vessel_store *s, const char *fingerprint, int dir_fd,
                            const char *dir_path, vessel_error **err)
{
        _cleanup_free_ char *meta = xasprintf("%s/images/%s/metadata.yaml", s->root, fingerprint);
        _cleanup_free_ char *tpl = xasprintf("%s/images/%s/templates", s->root, fingerprint);
        _cleanup_free_ char *what = xasprintf("the templates of image %.12s", fingerprint);
        char *argv[] = {
            "cp", "-a", "--reflink=auto", "--target-directory", (char *)dir_path, "--", meta,
            tpl,  NULL};

        if (access(tpl, F_OK) < 0)
                argv[7] = NULL;
        return run_cp(dir_fd, argv, what, err);
}

int instance_files_copy(int dir_fd, const char *dir_path, char *const *paths, const char *what,
                        vessel_error **err)
{
        size_t n = strv_len(paths);
        _cleanup_free_ char **argv = xmalloc0((n + 7) * sizeof(char *));
        size_t k = 0;

        if (!n)
                return 0;
        argv[k++] = "cp";
        argv[k++] = "-a";
        argv[k++] = "--reflink=auto";
        argv[k++] = "--target-directory";
        argv[k++] = (char *)dir_path;
        argv[k++] = "--";
        for (size_t i = 0; i < n; i++)
                argv[k++] = paths[i];
        return run_cp(dir_fd, argv, what, err);
}
