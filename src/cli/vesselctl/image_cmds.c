/* image_cmds.c: `vesselctl image ...`: parse, call src/manager/image.h,
 * print. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "image-build.h"
#include "image.h"
#include "util.h"
#include "vesselctl.h"

struct image_cmd {
        const char *name;
        int (*fn)(struct ctl *c, int argc, char **argv);
        const char *summary;
        const char *help;
};

static const struct image_cmd *find_cmd(const char *name);

static int parse_property(const char *arg, struct kv **props, size_t *n)
{
        const char *eq = strchr(arg, '=');

        if (!eq || eq == arg)
                return -EINVAL;
        *props = realloc(*props, (*n + 1) * sizeof(**props));
        if (!*props)
                abort();
        (*props)[*n].key = strndup(arg, (size_t)(eq - arg));
        (*props)[*n].value = xstrdup(eq + 1);
        (*n)++;
        return 0;
}

static void props_free(struct kv *p, size_t n)
{
        for (size_t i = 0; i < n; i++) {
                free(p[i].key);
                free(p[i].value);
        }
        free(p);
}

static int import_print(const struct image_import_opts *o, const struct image_import_result *r,
                        bool quiet)
{
        _cleanup_free_ char *size = out_size(r->size);

        if (quiet) {
                printf("%s\n", r->fingerprint);
                return 0;
        }
        if (r->existed)
                printf("Image already exists with fingerprint: %s\n", r->fingerprint);
        else
                printf("Image imported with fingerprint: %s (%s)\n", r->fingerprint, size);
        for (char *const *a = o->aliases; a && *a; a++)
                printf("Alias: %s\n", *a);
        return 0;
}

static int cmd_import(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {
            {"alias", required_argument, NULL, 'a'},    {"arch", required_argument, NULL, 'A'},
            {"property", required_argument, NULL, 'p'}, {"public", no_argument, NULL, 'P'},
            {"quiet", no_argument, NULL, 'q'},          {0},
        };
        _cleanup_store_ struct vessel_store *s = NULL;
        _cleanup_strv_ char **aliases = xmalloc0(sizeof(char *));
        struct image_import_opts o = {0};
        struct image_import_result res;
        struct kv *props = NULL;
        vessel_error *err = NULL;
        bool quiet = false;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
                switch (opt) {
                case 'a':
                        aliases = strv_append(aliases, optarg);
                        break;
                case 'A':
                        o.arch = optarg;
                        break;
                case 'p':
                        if (parse_property(optarg, &props, &o.n_properties) < 0) {
                                props_free(props, o.n_properties);
                                return ctl_usage_error("image import ",
                                                       "--property \"%s\": "
                                                       "expected KEY=VALUE",
                                                       optarg);
                        }
                        break;
                case 'P':
                        o.public = true;
                        break;
                case 'q':
                        quiet = true;
                        break;
                default:
                        props_free(props, o.n_properties);
                        return ctl_usage_error("image import ", "bad option");
                }
        }
        o.n_paths = (size_t)(argc - optind);
        if (o.n_paths < 1 || o.n_paths > 2) {
                props_free(props, o.n_properties);
                return ctl_usage_error("image import ",
                                       "expected DIR, TARBALL, or METADATA_TARBALL "
                                       "ROOTFS_TARBALL");
        }
        for (size_t i = 0; i < o.n_paths; i++)
                o.paths[i] = argv[optind + (int)i];
        o.aliases = aliases;
        o.properties = props;
        if (ctl_store_open(c, &s, &err) < 0) {
                props_free(props, o.n_properties);
                return ctl_fail(&err);
        }
        /* A bar on a terminal; its final line is the fingerprint's. */
        struct xfer_bar bar;
        xfer_bar_init(&bar, "Importing", o.paths[0]);
        if (bar.tty)
                o.progress = (struct xfer_progress){xfer_bar_report, &bar};
        r = image_import(s, &o, &res, &err);
        xfer_bar_end(&bar);
        if (r < 0) {
                props_free(props, o.n_properties);
                return ctl_fail(&err);
        }
        r = import_print(&o, &res, quiet);
        props_free(props, o.n_properties);
        return r;
}

/* mmdebstrap's progress: on a terminal one status line, rewritten;
 * otherwise its lines as they come. */
struct progress {
        bool tty;
        bool shown;
};

static void progress_line(const char *line, void *data)
{
        struct progress *p = data;
        struct winsize ws = {0};
        int width = 80;

        if (!p->tty) {
                fprintf(stderr, "%s\n", line);
                return;
        }
        if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1)
                width = ws.ws_col;
        fprintf(stderr, "\r\033[K%.*s", width - 1, line);
        fflush(stderr);
        p->shown = true;
}

static void progress_end(struct progress *p)
{
        if (p->shown)
                fputs("\r\033[K", stderr);
}

static char **split_include(char **v, const char *arg)
{
        _cleanup_free_ char *copy = xstrdup(arg);
        char *save = NULL;

        for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
                v = strv_append(v, t);
        return v;
}

static int cmd_build(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {
            {"alias", required_argument, NULL, 'a'},   {"variant", required_argument, NULL, 'v'},
            {"include", required_argument, NULL, 'i'}, {"refresh", no_argument, NULL, 'r'},
            {"quiet", no_argument, NULL, 'q'},         {0},
        };
        _cleanup_store_ struct vessel_store *s = NULL;
        _cleanup_strv_ char **aliases = xmalloc0(sizeof(char *));
        _cleanup_strv_ char **include = xmalloc0(sizeof(char *));
        struct progress prog = {.tty = isatty(STDERR_FILENO) == 1};
        struct image_build_opts o = {.progress = progress_line, .progress_data = &prog};
        struct image_build_result res;
        vessel_error *err = NULL;
        bool quiet = false;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "q", opts, NULL)) != -1) {
                switch (opt) {
                case 'a':
                        aliases = strv_append(aliases, optarg);
                        break;
                case 'v':
                        o.variant = optarg;
                        break;
                case 'i':
                        include = split_include(include, optarg);
                        break;
                case 'r':
                        o.refresh = true;
                        break;
                case 'q':
                        quiet = true;
                        break;
                default:
                        return ctl_usage_error("image build ", "bad option");
                }
        }
        if (argc - optind != 1)
                return ctl_usage_error("image build ", "expected DISTRIBUTION/RELEASE (debian/12)");
        o.ref = argv[optind];
        o.aliases = aliases;
        o.include = include;
        STORE_OR_FAIL(c, s, err);
        r = image_build(s, &o, &res, &err);
        progress_end(&prog);
        if (r < 0) {
                image_build_result_free(&res);
                return ctl_fail(&err);
        }
        if (quiet) {
                printf("%s\n", res.fingerprint);
        } else {
                _cleanup_free_ char *size = out_size(res.size);
                if (res.cached)
                        printf("Image already built with fingerprint: %s (%s; --refresh builds it "
                               "again)\n",
                               res.fingerprint, size);
                else
                        printf("Image built with fingerprint: %s (%s)\n", res.fingerprint, size);
                for (char **a = aliases; *a; a++)
                        printf("Alias: %s\n", *a);
        }
        image_build_result_free(&res);
        return 0;
}

static const char *description(const struct image_info *i)
{
        const char *d = image_property(i, "description");
        return d ? d : "";
}

static char *alias_cell(const struct image_info *i)
{
        size_t n = strv_len(i->aliases);
        const char *shortest = n ? i->aliases[0] : "";

        for (size_t k = 1; k < n; k++)
                if (strlen(i->aliases[k]) < strlen(shortest))
                        shortest = i->aliases[k];
        if (n > 1)
                return xasprintf("%s (%zu more)", shortest, n - 1);
        return xstrdup(shortest);
}

static json_object *image_json(const struct image_info *i)
{
        json_object *o = json_object_new_object(), *aliases = json_object_new_array();
        json_object *props = json_object_new_object();
        _cleanup_free_ char *ca = out_date_json(i->created_at), *ea = out_date_json(i->expires_at);
        _cleanup_free_ char *ua = out_date_json(i->uploaded_at),
                            *la = out_date_json(i->last_used_at);

        for (char **a = i->aliases; *a; a++) {
                json_object *al = json_object_new_object();
                json_object_object_add(al, "name", json_object_new_string(*a));
                json_object_object_add(al, "description", json_object_new_string(""));
                json_object_array_add(aliases, al);
        }
        for (size_t k = 0; k < i->n_properties; k++)
                json_object_object_add(props, i->properties[k].key,
                                       json_object_new_string(i->properties[k].value));
        json_object_object_add(o, "aliases", aliases);
        json_object_object_add(o, "architecture", json_object_new_string(i->architecture));
        json_object_object_add(o, "auto_update", json_object_new_boolean(i->auto_update));
        json_object_object_add(o, "cached", json_object_new_boolean(i->cached));
        json_object_object_add(o, "fingerprint", json_object_new_string(i->fingerprint));
        json_object_object_add(o, "filename", json_object_new_string(i->filename));
        json_object_object_add(o, "properties", props);
        json_object_object_add(o, "public", json_object_new_boolean(i->public));
        json_object_object_add(o, "size", json_object_new_int64(i->size));
        json_object_object_add(o, "type", json_object_new_string(i->type));
        json_object_object_add(o, "created_at", json_object_new_string(ca));
        json_object_object_add(o, "expires_at", json_object_new_string(ea));
        json_object_object_add(o, "last_used_at", json_object_new_string(la));
        json_object_object_add(o, "uploaded_at", json_object_new_string(ua));
        return o;
}

/* A filter term: KEY=VALUE matches a property, anything else a
 * fingerprint prefix or an alias prefix (as Incus's image list). */
static bool image_matches(const struct image_info *i, char **terms)
{
        for (char **t = terms; *t; t++) {
                const char *eq = strchr(*t, '=');
                bool ok = false;
                if (eq) {
                        _cleanup_free_ char *k = strndup(*t, (size_t)(eq - *t));
                        const char *v = image_property(i, k);
                        ok = v && !strcmp(v, eq + 1);
                } else {
                        ok = str_has_prefix(i->fingerprint, *t);
                        for (char **a = i->aliases; !ok && *a; a++)
                                ok = str_has_prefix(*a, *t);
                }
                if (!ok)
                        return false;
        }
        return true;
}

static void list_print(struct image_info *v, size_t n, char **terms, enum out_format fmt)
{
        static const char *header[] = {"ALIAS", "FINGERPRINT", "DESCRIPTION",
                                       "ARCH",  "SIZE",        "UPLOAD DATE"};
        struct table t;
        json_object *arr = json_object_new_array();

        table_init(&t, header, ARRAY_SIZE(header));
        for (size_t k = 0; k < n; k++) {
                if (!image_matches(&v[k], terms))
                        continue;
                json_object_array_add(arr, image_json(&v[k]));
                char *row[] = {
                    alias_cell(&v[k]),           strndup(v[k].fingerprint, FINGERPRINT_SHORT_LEN),
                    xstrdup(description(&v[k])), xstrdup(v[k].architecture),
                    out_size(v[k].size),         out_date_list(v[k].uploaded_at)};
                table_add(&t, row);
        }
        out_print_list(arr, &t, fmt);
}

static int parse_format_opt(int argc, char **argv, const char *cmd, enum out_format *fmt)
{
        static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {0}};
        int opt;

        while ((opt = getopt_long(argc, argv, "f:", opts, NULL)) != -1) {
                if (opt != 'f')
                        return ctl_usage_error(cmd, "bad option");
                if (out_format_parse(optarg, fmt) < 0)
                        return ctl_usage_error(cmd,
                                               "--format \"%s\": expected table, csv, json "
                                               "or yaml",
                                               optarg);
        }
        return 0;
}

static int cmd_list(struct ctl *c, int argc, char **argv)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        enum out_format fmt = OUT_TABLE;
        struct image_info *v = NULL;
        vessel_error *err = NULL;
        size_t n = 0;
        int r = parse_format_opt(argc, argv, "image list ", &fmt);

        if (r)
                return r;
        STORE_OR_FAIL(c, s, err);
        if (image_list(s, &v, &n, &err) < 0)
                return ctl_fail(&err);
        list_print(v, n, argv + optind, fmt);
        image_list_free(v, n);
        return 0;
}

static const char *yes_no(bool b)
{
        return b ? "yes" : "no";
}

static void info_print(const struct image_info *i)
{
        _cleanup_free_ char *size = out_size(i->size), *cr = out_date_info(i->created_at);
        _cleanup_free_ char *up = out_date_info(i->uploaded_at), *ex = out_date_info(i->expires_at);
        _cleanup_free_ char *lu = out_date_info(i->last_used_at);

        printf("Fingerprint: %s\nSize: %s\nArchitecture: %s\nType: %s\nFormat: %s\n"
               "Public: %s\nTimestamps:\n",
               i->fingerprint, size, i->architecture, i->type, i->format, yes_no(i->public));
        printf("    Created: %s\n", i->created_at ? cr : "never");
        printf("    Uploaded: %s\n", up);
        printf("    Expires: %s\n", i->expires_at ? ex : "never");
        printf("    Last used: %s\n", i->last_used_at ? lu : "never");
        printf("Properties:\n");
        for (size_t k = 0; k < i->n_properties; k++)
                printf("    %s: %s\n", i->properties[k].key, i->properties[k].value);
        printf("Aliases:\n");
        for (char **a = i->aliases; *a; a++)
                printf("    - %s\n", *a);
        printf("Cached: %s\nAuto update: %s\n", yes_no(i->cached),
               i->auto_update ? "enabled" : "disabled");
}

static int cmd_info(struct ctl *c, int argc, char **argv)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        enum out_format fmt = OUT_TABLE;
        char fp[FINGERPRINT_HEX_LEN + 1];
        struct image_info i;
        vessel_error *err = NULL;
        int r = parse_format_opt(argc, argv, "image info ", &fmt);

        if (r)
                return r;
        if (argc - optind != 1)
                return ctl_usage_error("image info ", "expected one IMAGE");
        STORE_OR_FAIL(c, s, err);
        if (image_resolve(s, argv[optind], fp, &err) < 0 || image_get(s, fp, &i, &err) < 0)
                return ctl_fail(&err);
        if (fmt == OUT_JSON || fmt == OUT_YAML) {
                json_object *o = image_json(&i);
                out_print_value(stdout, o, fmt);
                json_object_put(o);
        } else {
                info_print(&i);
        }
        image_info_free(&i);
        return 0;
}

static int cmd_delete(struct ctl *c, int argc, char **argv)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        vessel_error *err = NULL;
        int status = 0;

        if (getopt_long(argc, argv, "", (struct option[]){{0}}, NULL) != -1)
                return ctl_usage_error("image delete ", "bad option");
        if (argc - optind < 1)
                return ctl_usage_error("image delete ", "expected IMAGE...");
        STORE_OR_FAIL(c, s, err);
        for (int k = optind; k < argc; k++) {
                char fp[FINGERPRINT_HEX_LEN + 1];
                if (image_resolve(s, argv[k], fp, &err) < 0 || image_delete(s, fp, &err) < 0)
                        status = ctl_fail(&err);
        }
        return status;
}

static int cmd_export(struct ctl *c, int argc, char **argv)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        _cleanup_strv_ char **written = NULL;
        char fp[FINGERPRINT_HEX_LEN + 1];
        vessel_error *err = NULL;

        if (getopt_long(argc, argv, "", (struct option[]){{0}}, NULL) != -1)
                return ctl_usage_error("image export ", "bad option");
        if (argc - optind < 1 || argc - optind > 2)
                return ctl_usage_error("image export ", "expected IMAGE [DIR]");
        STORE_OR_FAIL(c, s, err);
        if (image_resolve(s, argv[optind], fp, &err) < 0 ||
            image_export(s, fp, argc - optind == 2 ? argv[optind + 1] : ".", &written, &err) < 0)
                return ctl_fail(&err);
        printf("Image exported successfully:\n");
        for (char **w = written; *w; w++)
                printf("    %s\n", *w);
        return 0;
}

static int alias_list(struct vessel_store *s, enum out_format fmt)
{
        static const char *header[] = {"ALIAS", "FINGERPRINT", "DESCRIPTION"};
        struct image_alias *v = NULL;
        vessel_error *err = NULL;
        json_object *arr = json_object_new_array();
        struct table t;
        size_t n = 0;

        if (image_alias_list(s, &v, &n, &err) < 0) {
                json_object_put(arr);
                return ctl_fail(&err);
        }
        table_init(&t, header, ARRAY_SIZE(header));
        for (size_t k = 0; k < n; k++) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "name", json_object_new_string(v[k].name));
                json_object_object_add(o, "target", json_object_new_string(v[k].fingerprint));
                json_object_object_add(o, "description", json_object_new_string(v[k].description));
                json_object_array_add(arr, o);
                char *row[] = {xstrdup(v[k].name), strndup(v[k].fingerprint, FINGERPRINT_SHORT_LEN),
                               xstrdup(v[k].description)};
                table_add(&t, row);
        }
        out_print_list(arr, &t, fmt);
        image_alias_list_free(v, n);
        return 0;
}

static int cmd_alias(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {{"description", required_argument, NULL, 'd'},
                                             {"format", required_argument, NULL, 'f'},
                                             {0}};
        _cleanup_store_ struct vessel_store *s = NULL;
        enum out_format fmt = OUT_TABLE;
        const char *desc = "";
        char fp[FINGERPRINT_HEX_LEN + 1];
        vessel_error *err = NULL;
        int opt, n;

        while ((opt = getopt_long(argc, argv, "f:", opts, NULL)) != -1) {
                if (opt == 'd')
                        desc = optarg;
                else if (opt == 'f' && out_format_parse(optarg, &fmt) == 0)
                        continue;
                else
                        return ctl_usage_error("image alias ", "bad option");
        }
        n = argc - optind;
        const char *sub = n > 0 ? argv[optind] : "";
        if (!strcmp(sub, "list") && n == 1) {
                STORE_OR_FAIL(c, s, err);
                return alias_list(s, fmt);
        }
        if (!strcmp(sub, "create") && n == 3) {
                STORE_OR_FAIL(c, s, err);
                if (image_resolve(s, argv[optind + 2], fp, &err) < 0 ||
                    image_alias_create(s, argv[optind + 1], fp, desc, &err) < 0)
                        return ctl_fail(&err);
                return 0;
        }
        if (!strcmp(sub, "delete") && n == 2) {
                STORE_OR_FAIL(c, s, err);
                if (image_alias_delete(s, argv[optind + 1], &err) < 0)
                        return ctl_fail(&err);
                return 0;
        }
        return ctl_usage_error("image alias ", "expected create NAME IMAGE, delete NAME or list");
}

static const struct image_cmd image_cmds[] = {
    {"import", cmd_import, "import an image from a directory or tarball(s)",
     "Usage: vesselctl image import DIR|TARBALL [ROOTFS_TARBALL] [options]\n\n"
     "Import an image in the Incus/LXD format: a directory or a tarball (plain,\n"
     "gzip, xz, zstd, ...) holding metadata.yaml, rootfs/ and optionally\n"
     "templates/; a metadata tarball and a rootfs tarball (a split image); or a\n"
     "plain rootfs tarball, with --arch.  Importing an image that is already in\n"
     "the store only adds the aliases.\n\n"
     "Options:\n"
     "  --alias NAME      add an alias (repeatable)\n"
     "  --arch ARCH       TARBALL is a plain rootfs of this architecture (x86_64, ...)\n"
     "  --property K=V    set a property, e.g. description=... (repeatable)\n"
     "  --public          mark the image public\n"
     "  -q, --quiet       print only the fingerprint\n"},
    {"build", cmd_build, "build a Debian image with mmdebstrap",
     "Usage: vesselctl image build DISTRIBUTION/RELEASE [options]\n\n"
     "Build an image with mmdebstrap from Debian's archive, with systemd as init,\n"
     "and import it into the store.  It is cached: when the store already has\n"
     "an image built with the same release, variant, packages and architecture\n"
     "(its vessel.build property), that image is used and nothing is built.\n"
     "Supported: debian/12 (or debian/bookworm).  Needs root.\n\n"
     "Options:\n"
     "  --alias NAME      give the image this alias, moving it from another\n"
     "                    image if need be (repeatable)\n"
     "  --variant V       minbase (default), apt, important or standard\n"
     "  --include P[,P]   more packages (repeatable)\n"
     "  --refresh         build again; the new image replaces the old one (its\n"
     "                    aliases move to it)\n"
     "  -q, --quiet       print only the fingerprint\n"},
    {"list", cmd_list, "list the images",
     "Usage: vesselctl image list [FILTER...] [-f table|csv|json|yaml]\n\n"
     "List the images in the store.  A FILTER is KEY=VALUE (a property) or the\n"
     "start of an alias or fingerprint; every filter must match.\n\n"
     "Options:\n"
     "  -f, --format F    table (default), csv, json or yaml\n"},
    {"info", cmd_info, "show an image",
     "Usage: vesselctl image info IMAGE [-f json|yaml]\n\n"
     "Show an image's fingerprint, size, dates, properties and aliases.\n"
     "IMAGE is an alias or a unique prefix of a fingerprint.\n"},
    {"delete", cmd_delete, "delete images",
     "Usage: vesselctl image delete IMAGE...\n\n"
     "Delete images with their aliases.  IMAGE is an alias or a unique prefix\n"
     "of a fingerprint.\n"},
    {"export", cmd_export, "write an image's tarball(s) back",
     "Usage: vesselctl image export IMAGE [DIR]\n\n"
     "Write the tarball(s) the image was imported from into DIR (default the\n"
     "current directory): FINGERPRINT.tar.* for a unified image,\n"
     "meta-FINGERPRINT.tar.* and FINGERPRINT.tar.* for a split one.  Importing\n"
     "them again gives the same fingerprint.\n"},
    {"alias", cmd_alias, "create, delete and list aliases",
     "Usage: vesselctl image alias create NAME IMAGE [--description TEXT]\n"
     "       vesselctl image alias delete NAME\n"
     "       vesselctl image alias list [-f table|csv|json|yaml]\n\n"
     "Manage image aliases: names that stand for a fingerprint.\n"},
    {0},
};

static const struct image_cmd *find_cmd(const char *name)
{
        if (!strcmp(name, "ls"))
                name = "list";
        else if (!strcmp(name, "rm"))
                name = "delete";
        else if (!strcmp(name, "show"))
                name = "info";
        for (const struct image_cmd *c = image_cmds; c->name; c++)
                if (!strcmp(c->name, name))
                        return c;
        return NULL;
}

static void image_usage(FILE *f)
{
        fputs("Usage: vesselctl image COMMAND [ARGS...]\n\nManage images.\n\nCommands:\n", f);
        for (const struct image_cmd *c = image_cmds; c->name; c++)
                fprintf(f, "  %-8s %s\n", c->name, c->summary);
        fputs("\nIMAGE is an alias or a unique prefix of a fingerprint.\n"
              "vesselctl image COMMAND --help for each command.\n",
              f);
}

int cli_image(struct ctl *c, int argc, char **argv)
{
        const struct image_cmd *cmd;

        if (argc < 2) {
                image_usage(stderr);
                return 2;
        }
        if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
                image_usage(stdout);
                return 0;
        }
        cmd = find_cmd(argv[1]);
        if (!cmd)
                return ctl_usage_error("image ", "unknown image command \"%s\"", argv[1]);
        if (ctl_want_help(argc - 1, argv + 1)) {
                fputs(cmd->help, stdout);
                return 0;
        }
        optind = 0;
        return cmd->fn(c, argc - 1, argv + 1);
}
