/* file_cmds.c: `vesselctl file push|pull|delete`: parse, call
 * src/manager/instance-file.h. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instance-file.h"
#include "util.h"
#include "vesselctl.h"

#define FILE_NOTE                                                                                  \
        "Paths inside the instance are resolved inside its root: symlinks there never\n"           \
        "lead to the host.  The instance may run or not; the mounts of a running\n"                \
        "instance (a tmpfs on /tmp, disk devices) are not seen.\n"

static int parse_id(const char *s, int64_t *out)
{
        return parse_int64(s, out) < 0 || *out < 0 || *out > (int64_t)UINT32_MAX - 1 ? -EINVAL : 0;
}

static int cmd_push(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {
            {"recursive", no_argument, NULL, 'r'},  {"create-dirs", no_argument, NULL, 'p'},
            {"uid", required_argument, NULL, 'u'},  {"gid", required_argument, NULL, 'g'},
            {"mode", required_argument, NULL, 'm'}, {0},
        };
        struct file_push_opts o = {.uid = -1, .gid = -1, .mode = -1};
        _cleanup_store_ struct vessel_store *s = NULL;
        struct file_spec dest;
        vessel_error *err = NULL;
        mode_t mode;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "rp", opts, NULL)) != -1) {
                switch (opt) {
                case 'r':
                        o.recursive = true;
                        break;
                case 'p':
                        o.parents = true;
                        break;
                case 'u':
                case 'g':
                        if (parse_id(optarg, opt == 'u' ? &o.uid : &o.gid) < 0)
                                return ctl_usage_error("file push ",
                                                       "--%s \"%s\": not a user "
                                                       "or group id",
                                                       opt == 'u' ? "uid" : "gid", optarg);
                        break;
                case 'm':
                        if (file_mode_parse(optarg, &mode) < 0)
                                return ctl_usage_error("file push ",
                                                       "--mode \"%s\": not an octal mode "
                                                       "(like 0644)",
                                                       optarg);
                        o.mode = (int)mode;
                        break;
                default:
                        return ctl_bad_option("file push ", argv);
                }
        }
        if (argc - optind < 2)
                return ctl_usage_error("file push ", "expected SOURCE... NAME/PATH");
        if (file_spec_parse(argv[argc - 1], &dest, &err) < 0)
                return ctl_fail(&err);
        r = ctl_store_open(c, &s, &err);
        if (r == 0)
                r = instance_file_push(s, argv + optind, (size_t)(argc - 1 - optind), &dest, &o,
                                       &err);
        file_spec_free(&dest);
        return r < 0 ? ctl_fail(&err) : 0;
}

static int cmd_pull(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {
            {"recursive", no_argument, NULL, 'r'},
            {"create-dirs", no_argument, NULL, 'p'},
            {0},
        };
        _cleanup_store_ struct vessel_store *s = NULL;
        struct file_pull_opts o = {0};
        struct file_spec *srcs;
        vessel_error *err = NULL;
        size_t n = 0;
        int opt, r = 0;

        while ((opt = getopt_long(argc, argv, "rp", opts, NULL)) != -1) {
                if (opt == 'r')
                        o.recursive = true;
                else if (opt == 'p')
                        o.parents = true;
                else
                        return ctl_bad_option("file pull ", argv);
        }
        if (argc - optind < 2)
                return ctl_usage_error("file pull ", "expected NAME/PATH... DEST");
        srcs = xmalloc0((size_t)(argc - optind) * sizeof(*srcs));
        for (int k = optind; r == 0 && k < argc - 1; k++, n++)
                r = file_spec_parse(argv[k], &srcs[n], &err);
        if (r == 0)
                r = ctl_store_open(c, &s, &err);
        if (r == 0)
                r = instance_file_pull(s, srcs, n, argv[argc - 1], &o, &err);
        for (size_t k = 0; k < n; k++)
                file_spec_free(&srcs[k]);
        free(srcs);
        return r < 0 ? ctl_fail(&err) : 0;
}

static int cmd_delete(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {0}};
        _cleanup_store_ struct vessel_store *s = NULL;
        vessel_error *err = NULL;
        bool force = false;
        int opt, status = 0;

        while ((opt = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
                if (opt != 'f')
                        return ctl_bad_option("file delete ", argv);
                force = true;
        }
        if (argc - optind < 1)
                return ctl_usage_error("file delete ", "expected NAME/PATH...");
        STORE_OR_FAIL(c, s, err);
        for (int k = optind; k < argc; k++) {
                struct file_spec f;
                if (file_spec_parse(argv[k], &f, &err) == 0)
                        instance_file_delete(s, &f, force, &err);
                file_spec_free(&f);
                if (err)
                        status = ctl_fail(&err);
        }
        return status;
}

static const struct ctl_cmd file_cmds[] = {
    {"push", cmd_push, "copy host files into an instance",
     "Usage: vesselctl file push SOURCE... NAME/PATH [-r] [-p] [--uid N] [--gid N]\n"
     "                          [--mode MODE]\n\n"
     "Copy host files into instance NAME.  A PATH ending in '/', or naming an\n"
     "existing directory, takes the sources by their names; several sources need\n"
     "one.  SOURCE \"-\" is standard input (PATH must then name the file).  The\n"
     "file is written beside its name and renamed over it: a symlink or node\n"
     "already there is replaced, never written through.\n\n"
     "Options:\n"
     "  -r, --recursive     push trees: each SOURCE goes inside the directory PATH,\n"
     "                      symlinks as symlinks, modes kept\n"
     "  -p, --create-dirs   create the missing directories of PATH\n"
     "      --uid N         the owner (default 0), also of created directories\n"
     "      --gid N         the group (default 0)\n"
     "      --mode MODE     octal permissions (default: the source's; 0644 for\n"
     "                      standard input); not with -r\n\n" FILE_NOTE "\nExamples:\n"
     "  vesselctl file push /etc/hosts web1/etc/hosts\n"
     "  echo hello | vesselctl file push - web1/root/hello --mode 0600\n"
     "  vesselctl file push -r -p ./site web1/srv/www/\n"},
    {"pull", cmd_pull, "copy files out of instances",
     "Usage: vesselctl file pull NAME/PATH... DEST [-r] [-p]\n\n"
     "Copy files from instances to the host path DEST (\"-\": standard output).\n"
     "DEST is a directory when it is one, ends in '/' or there are several\n"
     "sources (it is then created).  Symlinks are followed inside the instance's\n"
     "root; only regular files are read (never device nodes or fifos).  Modes are\n"
     "kept without set-id and sticky bits; the files belong to the caller.\n\n"
     "Options:\n"
     "  -r, --recursive     pull directories with their trees (symlinks inside\n"
     "                      them as symlinks) into DEST/NAME\n"
     "  -p, --create-dirs   create the missing directories of DEST\n\n" FILE_NOTE "\nExamples:\n"
     "  vesselctl file pull web1/etc/hosts .\n"
     "  vesselctl file pull web1/etc/os-release -\n"
     "  vesselctl file pull -r web1/etc/ssh ./backup/\n"},
    {"delete", cmd_delete, "delete files in instances",
     "Usage: vesselctl file delete NAME/PATH... [-f]\n\n"
     "Delete files, symlinks (never what they point to) or empty directories.\n\n"
     "Options:\n"
     "  -f, --force   delete whole trees; a missing path is not an error\n\n" FILE_NOTE,
     "rm"},
    {0},
};

int cli_file(struct ctl *c, int argc, char **argv)
{
        return ctl_dispatch(c, "file ",
                            "Usage: vesselctl file COMMAND [ARGS...]\n\n"
                            "Manage files in instances, confined to their root file system.\n",
                            file_cmds, argc, argv);
}
