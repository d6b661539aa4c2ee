/* copy_cmds.c: `vesselctl copy` and `vesselctl move`: parse, call
 * src/manager/instance.h (instance-copy.c), print. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "instance.h"
#include "util.h"
#include "vesselctl.h"

const char help_copy[] =
    "Usage: vesselctl copy SOURCE NAME [options]\n\n"
    "Make the instance NAME from the instance SOURCE, stopped or running (a\n"
    "running one is copied as it is on disk).  In the source's storage pool\n"
    "the copy is a clone: a btrfs snapshot, an overlay upper layer over the\n"
    "shared lower layers, a dir copy (reflinked where the file system can);\n"
    "to another pool (-s), a full copy of its files.  The copy has the\n"
    "source's keys, devices, profiles and description, but not its volatile\n"
    "keys; the image's \"copy\" templates are applied at its first start, and\n"
    "it gets an id range of its own.  Snapshots are not copied.  SOURCE may\n"
    "be INSTANCE/SNAPSHOT: the copy has the snapshot's files and keys.\n\n"
    "Options:\n"
    "  -s, --storage POOL  the storage pool of the copy (default: the source's)\n"
    "  -e, --ephemeral     mark the copy ephemeral (deleted when it stops)\n"
    "  -c, --config K=V    set a key over the source's (repeatable; an empty\n"
    "                      value removes it)\n"
    "  -p, --profile P     the copy's profiles instead of the source's\n"
    "                      (repeatable: later ones win)\n"
    "  -n, --no-profiles   apply no profile at all\n"
    "      --instance-only without its snapshots (copies never take them yet)\n"
    "\nExample:\n"
    "  vesselctl copy web1 web2 -s fast -c limits.memory=1GiB\n"
    "  vesselctl copy web1/before-upgrade web1-old\n";

const char help_move[] = "Usage: vesselctl move NAME [NEW] [-s POOL]\n\n"
                         "Rename a stopped instance, move its root file system to another storage\n"
                         "pool (-s), or both.  A move copies the files into the other pool, then\n"
                         "switches the instance to them in one step and removes the old ones.\n\n"
                         "Options:\n"
                         "  -s, --storage POOL  the storage pool to move it to\n";

/* A full transfer says what it copies, on a terminal. */
static void progress(const char *line, void *data)
{
        (void)data;
        if (isatty(STDERR_FILENO))
                fprintf(stderr, "%s...\n", line);
}

static int config_arg(struct kvlist *l, const char *arg)
{
        const char *eq = strchr(arg, '=');

        if (!eq || eq == arg)
                return -EINVAL;
        _cleanup_free_ char *k = strndup(arg, (size_t)(eq - arg));
        kvlist_set(l, k, eq + 1);
        return 0;
}

enum { OPT_INSTANCE_ONLY = 1000 };

int cli_copy(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {
            {"storage", required_argument, NULL, 's'},
            {"ephemeral", no_argument, NULL, 'e'},
            {"config", required_argument, NULL, 'c'},
            {"profile", required_argument, NULL, 'p'},
            {"no-profiles", no_argument, NULL, 'n'},
            {"instance-only", no_argument, NULL, OPT_INSTANCE_ONLY},
            {0},
        };
        _cleanup_store_ struct vessel_store *s = NULL;
        _cleanup_strv_ char **profiles = NULL;
        struct instance_copy_opts o = {.progress = progress};
        struct kvlist config = {0};
        vessel_error *err = NULL;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "s:ec:p:n", opts, NULL)) != -1) {
                switch (opt) {
                case 's':
                        o.pool = optarg;
                        break;
                case 'e':
                        o.ephemeral = true;
                        break;
                case 'c':
                        if (config_arg(&config, optarg) < 0) {
                                kvlist_free(&config);
                                return ctl_usage_error("copy ", "-c \"%s\": expected KEY=VALUE",
                                                       optarg);
                        }
                        break;
                case 'p':
                        profiles = strv_append(profiles ?: xmalloc0(sizeof(char *)), optarg);
                        break;
                case 'n':
                        o.no_profiles = true;
                        break;
                case OPT_INSTANCE_ONLY:
                        o.instance_only = true;
                        break;
                default:
                        kvlist_free(&config);
                        return ctl_bad_option("copy ", argv);
                }
        }
        if (argc - optind != 2) {
                kvlist_free(&config);
                return ctl_usage_error("copy ", "expected SOURCE NAME");
        }
        if (profiles && o.no_profiles) {
                kvlist_free(&config);
                return ctl_usage_error("copy ", "--profile and --no-profiles exclude each other");
        }
        o.source = argv[optind];
        o.name = argv[optind + 1];
        o.profiles = profiles;
        o.config = &config;
        r = ctl_store_open(c, &s, &err);
        if (r == 0)
                r = instance_copy(s, &o, &err);
        kvlist_free(&config);
        return r < 0 ? ctl_fail(&err) : 0;
}

int cli_move(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {
            {"storage", required_argument, NULL, 's'},
            {0},
        };
        _cleanup_store_ struct vessel_store *s = NULL;
        const char *pool = NULL, *to;
        vessel_error *err = NULL;
        int opt;

        while ((opt = getopt_long(argc, argv, "s:", opts, NULL)) != -1) {
                if (opt != 's')
                        return ctl_bad_option("move ", argv);
                pool = optarg;
        }
        if (argc - optind < 1 || argc - optind > 2 || (argc - optind == 1 && !pool))
                return ctl_usage_error("move ", "expected NAME NEW, or NAME [NEW] -s POOL");
        to = argc - optind == 2 ? argv[optind + 1] : NULL;
        STORE_OR_FAIL(c, s, err);
        if (instance_move(s, argv[optind], to, pool, progress, NULL, &err) < 0)
                return ctl_fail(&err);
        return 0;
}
