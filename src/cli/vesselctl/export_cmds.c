/* export_cmds.c: `vesselctl export` and `vesselctl import`: an instance
 * to a tarball and back (src/manager/instance-transfer.h). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "instance-transfer.h"
#include "rundir.h"
#include "util.h"
#include "vesselctl.h"

const char help_export[] =
    "Usage: vesselctl export NAME [FILE|-] [--instance-only] [--compression ALGO]\n\n"
    "Write the instance NAME to a tarball: its configuration (backup.yaml, with\n"
    "its profiles in full), its templates, its root file system with owners\n"
    "(numeric, the instance's own ids), modes, times, xattrs, ACLs, file\n"
    "capabilities, hard links, device nodes, fifos and symlinks, and each of\n"
    "its snapshots (its configuration and its files, alike).  FILE defaults\n"
    "to NAME.tar.zst (NAME.tar.gz, ...) in the current directory; - writes to\n"
    "stdout.  A running instance is exported as its files are while they\n"
    "change; stop it first for a consistent copy.\n\n"
    "Options:\n"
    "  --compression ALGO  zstd (default), gzip, xz or none\n"
    "  --instance-only     without its snapshots\n";

const char help_import[] =
    "Usage: vesselctl import FILE|- [NAME] [-s POOL]\n\n"
    "Make an instance from a tarball of `vesselctl export` (- reads stdin),\n"
    "named NAME or as in the tarball, in the storage pool POOL or the default\n"
    "pool, with the snapshots the tarball holds.  Profiles it or its snapshots\n"
    "use that this store does not have are made from the tarball's copies of\n"
    "them.  An export to - piped into an import of - in another store (or on\n"
    "another host, through ssh) moves an instance.\n\n"
    "Options:\n"
    "  -s, --storage POOL  the storage pool of the new instance\n";

static double rate(uint64_t bytes, double secs)
{
        return secs > 0 ? (double)bytes / secs : 0;
}

/* The file to write, made invisible until complete: an O_TMPFILE linked
 * into place at the end (else a file removed on failure). */
struct out_file {
        const char *path;
        int fd;
        bool tmpfile;
};

static int out_open(struct out_file *f, vessel_error **err)
{
        _cleanup_free_ char *copy = xstrdup(f->path);
        const char *dir = dirname(copy);

        f->fd = open(dir, O_WRONLY | O_TMPFILE | O_CLOEXEC, 0644);
        f->tmpfile = f->fd >= 0;
        if (f->fd < 0)
                f->fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (f->fd < 0)
                return vessel_error_sys(err, "export: %s", f->path);
        if (f->tmpfile)
                fchmod(f->fd, 0644 & ~umask(umask(0)));
        return 0;
}

static int out_finish(struct out_file *f, bool ok, vessel_error **err)
{
        int r = 0;

        if (ok && f->tmpfile) {
                _cleanup_free_ char *proc = xasprintf("/proc/self/fd/%d", f->fd);
                _cleanup_free_ char *tmp = xasprintf("%s.tmp-%d", f->path, (int)getpid());
                unlink(tmp);
                if (linkat(AT_FDCWD, proc, AT_FDCWD, tmp, AT_SYMLINK_FOLLOW) < 0 ||
                    rename(tmp, f->path) < 0) {
                        r = vessel_error_sys(err, "export: putting %s in place", f->path);
                        unlink(tmp);
                }
        }
        if (close(f->fd) < 0 && ok && r == 0)
                r = vessel_error_sys(err, "export: writing %s", f->path);
        if ((!ok || r < 0) && !f->tmpfile)
                unlink(f->path);
        return r;
}

int cli_export(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {
            {"compression", required_argument, NULL, 'c'},
            {"instance-only", no_argument, NULL, 'i'},
            {0},
        };
        _cleanup_store_ struct vessel_store *s = NULL;
        _cleanup_free_ char *def = NULL, *in = NULL, *out = NULL;
        struct instance_export_opts o = {0};
        struct instance_export_result res;
        struct out_file f = {0};
        struct xfer_bar bar;
        vessel_error *err = NULL;
        bool to_stdout;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                switch (opt) {
                case 'c':
                        if (xfer_compression_parse(optarg, &o.compression) < 0)
                                return ctl_usage_error("export ",
                                                       "--compression \"%s\": zstd, gzip, xz "
                                                       "or none",
                                                       optarg);
                        break;
                case 'i':
                        o.instance_only = true;
                        break;
                default:
                        return ctl_bad_option("export ", argv);
                }
        }
        if (argc - optind < 1 || argc - optind > 2)
                return ctl_usage_error("export ", "expected NAME [FILE|-]");
        o.name = argv[optind];
        def = xasprintf("%s.%s", o.name, xfer_compression_ext(o.compression));
        f.path = argc - optind == 2 ? argv[optind + 1] : def;
        to_stdout = !strcmp(f.path, "-");
        if (to_stdout && isatty(STDOUT_FILENO) == 1)
                return ctl_usage_error("export ", "stdout is a terminal: give a FILE, or pipe it");
        STORE_OR_FAIL(c, s, err);
        if (instance_monitor_alive(s, o.name))
                fprintf(stderr,
                        "vesselctl: %s is running: its files are exported as they are while "
                        "they change (stop it first for a consistent copy)\n",
                        o.name);
        /* A reader that goes away is an error to report, not a signal. */
        signal(SIGPIPE, SIG_IGN);
        if (to_stdout) {
                f.fd = STDOUT_FILENO;
        } else if (out_open(&f, &err) < 0) {
                return ctl_fail(&err);
        }
        xfer_bar_init(&bar, "Exporting", o.name);
        o.out_fd = f.fd;
        if (bar.tty)
                o.progress = (struct xfer_progress){xfer_bar_report, &bar};
        r = instance_export(s, &o, &res, &err);
        xfer_bar_end(&bar);
        if (!to_stdout && out_finish(&f, r == 0, r < 0 ? NULL : &err) < 0 && r == 0)
                r = -EIO;
        if (r < 0)
                return ctl_fail(&err);
        double secs = xfer_bar_seconds(&bar);
        in = xfer_size(res.bytes_in);
        out = xfer_size(res.bytes_out);
        _cleanup_free_ char *speed = xfer_size((uint64_t)rate(res.bytes_in, secs));
        fprintf(stderr, "Exported %s to %s: %zu entries, %s of files, %s written in %.1fs (%s/s)\n",
                o.name, to_stdout ? "stdout" : f.path, res.entries, in, out, secs, speed);
        return 0;
}

int cli_import(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {
            {"storage", required_argument, NULL, 's'},
            {0},
        };
        _cleanup_store_ struct vessel_store *s = NULL;
        _cleanup_close_ int fd = -1;
        struct instance_import_opts o = {0};
        struct instance_import_result res = {0};
        struct xfer_bar bar;
        vessel_error *err = NULL;
        const char *path;
        struct stat st;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "s:", opts, NULL)) != -1) {
                switch (opt) {
                case 's':
                        o.pool = optarg;
                        break;
                default:
                        return ctl_bad_option("import ", argv);
                }
        }
        if (argc - optind < 1 || argc - optind > 2)
                return ctl_usage_error("import ", "expected FILE|- [NAME]");
        path = argv[optind];
        o.name = argc - optind == 2 ? argv[optind + 1] : NULL;
        if (!strcmp(path, "-")) {
                o.in_fd = STDIN_FILENO;
                o.what = "stdin";
        } else {
                fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0) {
                        vessel_error_sys(&err, "import: %s", path);
                        return ctl_fail(&err);
                }
                o.in_fd = fd;
                o.what = path;
        }
        if (fstat(o.in_fd, &st) == 0 && S_ISREG(st.st_mode))
                o.total = (uint64_t)st.st_size;
        STORE_OR_FAIL(c, s, err);
        xfer_bar_init(&bar, "Importing", o.name ? o.name : path);
        if (bar.tty)
                o.progress = (struct xfer_progress){xfer_bar_report, &bar};
        r = instance_import(s, &o, &res, &err);
        xfer_bar_end(&bar);
        if (r < 0)
                return ctl_fail(&err);
        double secs = xfer_bar_seconds(&bar);
        for (char **p = res.profiles_made; p && *p; p++)
                fprintf(stderr, "vesselctl: profile %s made from the tarball's copy\n", *p);
        _cleanup_free_ char *size = xfer_size(res.bytes_in);
        _cleanup_free_ char *speed = xfer_size((uint64_t)rate(res.bytes_in, secs));
        fprintf(stderr, "Imported %s: %s read in %.1fs (%s/s)\n", res.name, size, secs, speed);
        if (res.snapshots)
                fprintf(stderr, "vesselctl: %zu snapshot%s of %s imported\n", res.snapshots,
                        res.snapshots == 1 ? "" : "s", res.name);
        instance_import_result_free(&res);
        return 0;
}
