/* main.c: vesselctl's global options, then one command. */
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "vesselctl.h"

static void usage(FILE *f)
{
        fputs("Usage: vesselctl [--store DIR] COMMAND [ARGS...]\n"
              "\n"
              "Manage system containers and their images.\n"
              "\n"
              "Commands:\n"
              "  image      import, list, inspect, export and delete images\n"
              "\n"
              "Global options:\n"
              "  --store DIR    the store (default $VESSEL_STORE, else " STORE_DEFAULT_ROOT ")\n"
              "  -h, --help     this help; COMMAND --help for each command\n"
              "  --version      print the version\n",
              f);
}

int ctl_fail(vessel_error **err)
{
        fprintf(stderr, "vesselctl: %s\n", *err && (*err)->msg ? (*err)->msg : "unknown error");
        vessel_error_free(err);
        return 1;
}

int ctl_usage_error(const char *cmd, const char *fmt, ...)
{
        va_list ap;

        fputs("vesselctl: ", stderr);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, " (see vesselctl %s--help)\n", cmd);
        return 2;
}

int ctl_store_open(struct ctl *c, struct vessel_store **s, vessel_error **err)
{
        return store_open(store_root_choose(c->store_dir), s, err);
}

int main(int argc, char **argv)
{
        static const struct option opts[] = {
            {"store", required_argument, NULL, 's'},
            {"help", no_argument, NULL, 'h'},
            {"version", no_argument, NULL, 'V'},
            {0},
        };
        struct ctl c = {0};
        int opt;

        while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
                switch (opt) {
                case 's':
                        c.store_dir = optarg;
                        break;
                case 'h':
                        usage(stdout);
                        return 0;
                case 'V':
                        printf("vesselctl version %s\n", VESSEL_VERSION);
                        return 0;
                default:
                        usage(stderr);
                        return 2;
                }
        }
        if (optind >= argc) {
                usage(stderr);
                return 2;
        }
        if (!strcmp(argv[optind], "image") || !strcmp(argv[optind], "images"))
                return cli_image(&c, argc - optind, argv + optind);
        if (!strcmp(argv[optind], "help")) {
                usage(stdout);
                return 0;
        }
        return ctl_usage_error("", "unknown command \"%s\"", argv[optind]);
}
