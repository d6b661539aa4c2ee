/* instance-rootfs.c: an instance's rootfs from its image's.
 *
 * A plain copy with cp -a --reflink=auto (coreutils): owners, modes,
 * times, xattrs, hard links, device nodes, fifos and symlinks are kept,
 * and file data is shared with FICLONE where the file system supports it
 * (btrfs, xfs), copied elsewhere.  This is the one function that storage
 * pools with snapshot clones replace in issue 13.  Also the copy of the
 * image's metadata.yaml and templates/ that the instance keeps. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <stdlib.h>
#include <sys/wait.h>

#include "idrange.h"
#include "idshift.h"
#include "instance.h"
#include "userns-helper.h"
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

/* Run cp (argv) with the staging directory's lock fd; what names the
 * copy in errors. */
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

struct cp_args {
        int dir_fd;
        char **argv;
        const char *what;
};

static int cp_in_userns(void *arg, vessel_error **err)
{
        struct cp_args *a = arg;

        return run_cp(a->dir_fd, a->argv, a->what, err);
}

/* A rootless store's image files are the user's subordinate ids': cp
 * runs as root of a user namespace of them (userns-helper.h), and the
 * copy's record says that its files are in the images' block, from
 * which the first start shifts them into the instance's range
 * (idshift.h). */
static int rootfs_create_rootless(int dir_fd, char **argv, const char *what, vessel_error **err)
{
        struct idrange_user u;
        int r;

        if ((r = idrange_user_read(&u, err)) < 0)
                return vessel_error_prefix(err, "copying %s", what);
        r = userns_run(&u, what, cp_in_userns, &(struct cp_args){dir_fd, argv, what}, err);
        if (r == 0)
                r = idshift_record(dir_fd, idrange_user_image_base(&u), IDRANGE_BLOCK, err);
        idrange_user_free(&u);
        return r;
}

int instance_rootfs_create(struct vessel_store *s, const char *fingerprint, int dir_fd,
                           const char *dir_path, vessel_error **err)
{
        _cleanup_free_ char *src = xasprintf("%s/images/%s/rootfs", s->root, fingerprint);
        _cleanup_free_ char *dst = xasprintf("%s/rootfs", dir_path);
        _cleanup_free_ char *what = xasprintf("the rootfs of image %.12s", fingerprint);
        char *argv[] = {"cp", "-a", "--reflink=auto", "--no-target-directory", "--", src,
                        dst,  NULL};

        if (store_is_rootless(s))
                return rootfs_create_rootless(dir_fd, argv, what, err);
        return run_cp(dir_fd, argv, what, err);
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
