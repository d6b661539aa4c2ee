/* storage-util.c: what the storage back ends share: copies and removals
 * (through the user namespace helper in a rootless store), disk usage,
 * file system checks and volume names. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>

#include "idrange.h"
#include "storage.h"
#include "userns-helper.h"
#include "util.h"

int storage_run(char **argv, const char *what, vessel_error **err)
{
        pid_t parent = getpid(), pid = fork();
        int status;

        if (pid < 0)
                return vessel_error_sys(err, "%s: fork", what);
        if (pid == 0) {
                /* Its stdout is not ours: ours is the command's output
                 * (mkfs.btrfs -q still prints notes there). */
                int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
                if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent || null < 0 ||
                    dup2(null, 1) < 0)
                        _exit(127);
                execvp(argv[0], argv);
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return vessel_error_sys(err, "%s: waiting for %s", what, argv[0]);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
                return vessel_error_msg(err, EIO, "%s: %s could not be run (is it installed?)",
                                        what, argv[0]);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return vessel_error_msg(err, EIO,
                                        "%s: %s failed (status %d; see its message above)", what,
                                        argv[0], status);
        return 0;
}

struct argv_job {
        char **argv;
        const char *what;
};

static int argv_in_userns(void *arg, vessel_error **err)
{
        struct argv_job *j = arg;

        return storage_run(j->argv, j->what, err);
}

int storage_as_store(struct vessel_store *s, const char *what, int (*fn)(void *, vessel_error **),
                     void *arg, vessel_error **err)
{
        struct idrange_user u;
        int r;

        if (!store_is_rootless(s))
                return fn(arg, err);
        if ((r = idrange_user_read(&u, err)) < 0)
                return vessel_error_prefix(err, "%s", what);
        r = userns_run(&u, what, fn, arg, err);
        idrange_user_free(&u);
        return r;
}

static int run_as_store(struct vessel_store *s, char **argv, const char *what, vessel_error **err)
{
        return storage_as_store(s, what, argv_in_userns, &(struct argv_job){argv, what}, err);
}

int storage_cp(struct vessel_store *s, const char *src, const char *dst, vessel_error **err)
{
        _cleanup_free_ char *what = xasprintf("copying %s to %s", src, dst);
        char *argv[] = {"cp", "-a",        "--reflink=auto", "--no-target-directory",
                        "--", (char *)src, (char *)dst,      NULL};

        return run_as_store(s, argv, what, err);
}

int storage_rm(struct vessel_store *s, const char *path, vessel_error **err)
{
        _cleanup_free_ char *what = xasprintf("removing %s", path);
        char *argv[] = {"rm", "-rf", "--one-file-system", "--", (char *)path, NULL};

        if (access(path, F_OK) < 0 && errno == ENOENT)
                return 0;
        return run_as_store(s, argv, what, err);
}

static uint64_t du_total;
static dev_t du_dev;

static int du_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
        (void)path;
        (void)flag;
        (void)f;
        if (st->st_dev != du_dev)
                return 0;
        /* A file of n links: a share of 1/n of its blocks per link met,
         * its blocks once when all its links are in the tree (links
         * from outside make it less). */
        if (!S_ISDIR(st->st_mode) && st->st_nlink > 1) {
                du_total += (uint64_t)st->st_blocks * 512 / st->st_nlink;
                return 0;
        }
        du_total += (uint64_t)st->st_blocks * 512;
        return 0;
}

int storage_du(const char *path, uint64_t *bytes, vessel_error **err)
{
        struct stat st;

        if (lstat(path, &st) < 0)
                return vessel_error_sys(err, "disk usage of %s: stat", path);
        du_total = 0;
        du_dev = st.st_dev;
        if (nftw(path, du_one, 64, FTW_PHYS | FTW_MOUNT) != 0)
                return vessel_error_sys(err, "disk usage of %s", path);
        *bytes = du_total;
        return 0;
}

bool storage_fs_is(const char *path, long magic)
{
        struct statfs sf;

        return statfs(path, &sf) == 0 && sf.f_type == magic;
}

int storage_volume_name(char out[13], vessel_error **err)
{
        unsigned char rnd[6];

        if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd))
                return vessel_error_sys(err, "getrandom");
        snprintf(out, 13, "%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
                 rnd[5]);
        return 0;
}
