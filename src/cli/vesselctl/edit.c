/* edit.c: YAML editing as Incus does it: $VISUAL/$EDITOR on a temp file
 * at a terminal (re-opened after an error), standard input otherwise. */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "util.h"
#include "vesselctl.h"

extern char **environ;

static int read_stdin(char **out, size_t *len, vessel_error **err)
{
        FILE *m = open_memstream(out, len);
        char buf[4096];
        size_t n;

        if (!m)
                abort();
        while ((n = fread(buf, 1, sizeof(buf), stdin)) > 0)
                fwrite(buf, 1, n, m);
        fclose(m);
        return ferror(stdin) ? vessel_error_sys(err, "reading standard input") : 0;
}

static const char *editor(void)
{
        const char *e = getenv("VISUAL");

        if (!e || !*e)
                e = getenv("EDITOR");
        return e && *e ? e : "vi";
}

/* sh -c so that EDITOR may carry arguments ("emacs -nw"). */
static int run_editor(const char *path, vessel_error **err)
{
        _cleanup_free_ char *cmd = xasprintf("%s \"$1\"", editor());
        char *argv[] = {"sh", "-c", cmd, "sh", (char *)path, NULL};
        pid_t pid;
        int status, r = posix_spawnp(&pid, "sh", NULL, NULL, argv, environ);

        if (r != 0)
                return vessel_error_set(err, r, "running the editor %s", editor());
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return vessel_error_sys(err, "waiting for the editor");
        if (!WIFEXITED(status) || WEXITSTATUS(status))
                return vessel_error_msg(err, ECANCELED, "the editor %s failed: nothing changed",
                                        editor());
        return 0;
}

static int edit_loop(const char *path, int (*apply)(const char *, size_t, void *, vessel_error **),
                     void *data, vessel_error **err)
{
        for (;;) {
                _cleanup_free_ char *text = NULL;
                size_t len;
                int c;

                if (run_editor(path, err) < 0 || read_file_at(AT_FDCWD, path, &text, &len, err) < 0)
                        return -EIO;
                if (apply(text, len, data, err) == 0)
                        return 0;
                fprintf(stderr, "vesselctl: %s\n", (*err)->msg);
                vessel_error_free(err);
                fputs("Press enter to open the editor again, or Ctrl-C to abandon the change.",
                      stderr);
                while ((c = getchar()) != '\n')
                        if (c == EOF)
                                return vessel_error_msg(err, ECANCELED, "nothing changed");
        }
}

int ctl_edit(const char *yaml, int (*apply)(const char *, size_t, void *, vessel_error **),
             void *data, vessel_error **err)
{
        char path[] = "/tmp/vesselctl-edit-XXXXXX.yaml";
        _cleanup_close_ int fd = -1;
        int r;

        if (!isatty(STDIN_FILENO)) {
                _cleanup_free_ char *text = NULL;
                size_t len = 0;
                if (read_stdin(&text, &len, err) < 0)
                        return -EIO;
                return apply(text, len, data, err);
        }
        fd = mkstemps(path, 5);
        if (fd < 0)
                return vessel_error_sys(err, "making a temporary file for the editor");
        if (write_all(fd, yaml, strlen(yaml)) < 0) {
                unlink(path);
                return vessel_error_sys(err, "writing %s", path);
        }
        r = edit_loop(path, apply, data, err);
        unlink(path);
        return r;
}
