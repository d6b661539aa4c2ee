/* storage_cmds.c: `vesselctl storage ...`: parse, call
 * src/manager/storage.h, print. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage.h"
#include "util.h"
#include "vesselctl.h"

static int cmd_create(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {{"description", required_argument, NULL, 'd'}, {0}};
        _cleanup_store_ struct vessel_store *s = NULL;
        struct storage_create_opts o = {0};
        vessel_error *err = NULL;
        int opt;

        while ((opt = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
                if (opt != 'd')
                        return ctl_bad_option("storage create ", argv);
                o.description = optarg;
        }
        if (argc - optind < 2)
                return ctl_usage_error("storage create ", "expected NAME DRIVER [KEY=VALUE...]");
        o.name = argv[optind];
        o.driver = argv[optind + 1];
        for (int i = optind + 2; i < argc; i++) {
                const char *eq = strchr(argv[i], '=');
                if (!eq)
                        return ctl_usage_error("storage create ", "\"%s\": expected KEY=VALUE",
                                               argv[i]);
                if (str_has_prefix(argv[i], "source=")) {
                        o.source = eq + 1;
                } else if (str_has_prefix(argv[i], "size=")) {
                        if (storage_size_parse(eq + 1, &o.size, &err) < 0)
                                return ctl_fail(&err);
                        if (!o.size)
                                return ctl_usage_error("storage create ", "size=0: give a size");
                } else {
                        return ctl_usage_error("storage create ",
                                               "unknown key \"%.*s\" (source or size)",
                                               (int)(eq - argv[i]), argv[i]);
                }
        }
        if (!storage_driver_find(o.driver))
                return ctl_usage_error("storage create ",
                                       "unknown driver \"%s\" (dir, overlay or btrfs)", o.driver);
        STORE_OR_FAIL(c, s, err);
        if (storage_pool_create(s, &o, &err) < 0)
                return ctl_fail(&err);
        printf("Storage pool %s created\n", o.name);
        return 0;
}

static int cmd_delete(struct ctl *c, int argc, char **argv)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        vessel_error *err = NULL;
        int rc = 0;

        if (argc < 2)
                return ctl_usage_error("storage delete ", "expected NAME...");
        STORE_OR_FAIL(c, s, err);
        for (int i = 1; i < argc; i++) {
                if (storage_pool_delete(s, argv[i], &err) < 0) {
                        rc = ctl_fail(&err);
                        continue;
                }
                printf("Storage pool %s deleted\n", argv[i]);
        }
        return rc;
}

static const char *pool_source(const struct storage_pool *p)
{
        return p->source[0] ? p->source : "(in the store)";
}

static int cmd_list(struct ctl *c, int argc, char **argv)
{
        static const char *header[] = {"NAME", "DRIVER", "SOURCE", "DESCRIPTION", "USED BY"};
        static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {0}};
        _cleanup_store_ struct vessel_store *s = NULL;
        enum out_format fmt = OUT_TABLE;
        vessel_error *err = NULL;
        struct storage_pool *v = NULL;
        json_object *arr;
        struct table t;
        size_t n = 0;
        int opt;

        while ((opt = getopt_long(argc, argv, "f:", opts, NULL)) != -1)
                if (opt != 'f' || out_format_parse(optarg, &fmt) < 0)
                        return ctl_usage_error("storage list ",
                                               "expected -f table, compact, csv, json or yaml");
        if (argc != optind)
                return ctl_usage_error("storage list ", "unexpected argument \"%s\"", argv[optind]);
        STORE_OR_FAIL(c, s, err);
        if (storage_pool_list(s, &v, &n, &err) < 0)
                return ctl_fail(&err);
        arr = json_object_new_array();
        table_init(&t, header, ARRAY_SIZE(header));
        for (size_t k = 0; k < n; k++) {
                struct storage_pool_usage u = {0};
                json_object *o = json_object_new_object();
                storage_pool_usage(s, &v[k], &u, NULL);
                json_object_object_add(o, "name", json_object_new_string(v[k].name));
                json_object_object_add(o, "driver", json_object_new_string(v[k].driver));
                json_object_object_add(o, "source", json_object_new_string(v[k].source));
                json_object_object_add(o, "description", json_object_new_string(v[k].description));
                json_object_object_add(o, "used_by", json_object_new_int64((int64_t)u.instances));
                json_object_array_add(arr, o);
                char *row[] = {xstrdup(v[k].name), xstrdup(v[k].driver),
                               xstrdup(pool_source(&v[k])), xstrdup(v[k].description),
                               xasprintf("%zu", u.instances)};
                table_add(&t, row);
        }
        out_print_list(arr, &t, fmt);
        storage_pool_list_free(v, n);
        return 0;
}

static int cmd_info(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {0}};
        _cleanup_store_ struct vessel_store *s = NULL;
        enum out_format fmt = OUT_TABLE;
        vessel_error *err = NULL;
        struct storage_pool p;
        struct storage_pool_usage u;
        int opt;

        while ((opt = getopt_long(argc, argv, "f:", opts, NULL)) != -1)
                if (opt != 'f' || out_format_parse(optarg, &fmt) < 0 ||
                    (fmt != OUT_JSON && fmt != OUT_YAML && fmt != OUT_TABLE))
                        return ctl_usage_error("storage info ", "expected -f json or yaml");
        if (argc - optind != 1)
                return ctl_usage_error("storage info ", "expected NAME");
        STORE_OR_FAIL(c, s, err);
        if (storage_pool_get(s, argv[optind], &p, &err) < 0)
                return ctl_fail(&err);
        if (storage_pool_activate(s, &p, &err) < 0 || storage_pool_usage(s, &p, &u, &err) < 0) {
                storage_pool_free(&p);
                return ctl_fail(&err);
        }
        if (fmt != OUT_TABLE) {
                json_object *o = json_object_new_object();
                json_object_object_add(o, "name", json_object_new_string(p.name));
                json_object_object_add(o, "driver", json_object_new_string(p.driver));
                json_object_object_add(o, "source", json_object_new_string(p.source));
                json_object_object_add(o, "path", json_object_new_string(p.path));
                json_object_object_add(o, "description", json_object_new_string(p.description));
                json_object_object_add(o, "size", json_object_new_int64((int64_t)p.size));
                _cleanup_free_ char *created = out_date_json(p.created_at);
                json_object_object_add(o, "created_at", json_object_new_string(created));
                json_object_object_add(o, "space_total", json_object_new_int64((int64_t)u.total));
                json_object_object_add(o, "space_used", json_object_new_int64((int64_t)u.used));
                json_object_object_add(o, "space_available",
                                       json_object_new_int64((int64_t)u.avail));
                json_object_object_add(o, "instances", json_object_new_int64((int64_t)u.instances));
                json_object_object_add(o, "snapshots", json_object_new_int64((int64_t)u.snapshots));
                json_object_object_add(o, "images", json_object_new_int64((int64_t)u.images));
                out_print_value(stdout, o, fmt);
                json_object_put(o);
        } else {
                _cleanup_free_ char *total = out_size((int64_t)u.total),
                                    *used = out_size((int64_t)u.used),
                                    *avail = out_size((int64_t)u.avail),
                                    *created = out_date_info(p.created_at);
                printf("Name: %s\nDriver: %s\nSource: %s\nPath: %s\n", p.name, p.driver,
                       pool_source(&p), p.path);
                if (p.description[0])
                        printf("Description: %s\n", p.description);
                if (p.size) {
                        _cleanup_free_ char *size = out_size((int64_t)p.size);
                        printf("Size: %s (a loop file in the store)\n", size);
                }
                printf("Created: %s\n", created);
                printf("Space: %s used of %s, %s available\n", used, total, avail);
                printf("Used by: %zu instance%s, %zu snapshot%s, %zu image%s\n", u.instances,
                       u.instances == 1 ? "" : "s", u.snapshots, u.snapshots == 1 ? "" : "s",
                       u.images, u.images == 1 ? "" : "s");
        }
        storage_pool_free(&p);
        return 0;
}

static int cmd_volume(struct ctl *c, int argc, char **argv)
{
        static const char *header[] = {"TYPE", "NAME", "VOLUME", "USAGE"};
        static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {0}};
        _cleanup_store_ struct vessel_store *s = NULL;
        enum out_format fmt = OUT_TABLE;
        vessel_error *err = NULL;
        struct storage_volume *v = NULL;
        struct storage_pool p;
        json_object *arr;
        struct table t;
        size_t n = 0;
        int opt;

        if (argc < 2 || strcmp(argv[1], "list"))
                return ctl_usage_error("storage volume ", "expected list POOL");
        argc--;
        argv++;
        while ((opt = getopt_long(argc, argv, "f:", opts, NULL)) != -1)
                if (opt != 'f' || out_format_parse(optarg, &fmt) < 0)
                        return ctl_usage_error("storage volume list ",
                                               "expected -f table, compact, csv, json or yaml");
        if (argc - optind != 1)
                return ctl_usage_error("storage volume list ", "expected POOL");
        STORE_OR_FAIL(c, s, err);
        if (storage_pool_get(s, argv[optind], &p, &err) < 0)
                return ctl_fail(&err);
        if (storage_pool_activate(s, &p, &err) < 0 ||
            storage_volume_list(s, &p, &v, &n, &err) < 0) {
                storage_pool_free(&p);
                return ctl_fail(&err);
        }
        arr = json_object_new_array();
        table_init(&t, header, ARRAY_SIZE(header));
        for (size_t k = 0; k < n; k++) {
                uint64_t bytes = 0;
                bool known = storage_volume_usage(s, &p, v[k].volume, &bytes, NULL) == 0;
                json_object *o = json_object_new_object();
                json_object_object_add(o, "type", json_object_new_string(v[k].type));
                json_object_object_add(o, "name", json_object_new_string(v[k].name));
                json_object_object_add(o, "volume", json_object_new_string(v[k].volume));
                json_object_object_add(o, "usage",
                                       known ? json_object_new_int64((int64_t)bytes) : NULL);
                json_object_array_add(arr, o);
                char *row[] = {xstrdup(v[k].type), xstrdup(v[k].name), xstrdup(v[k].volume),
                               known ? out_size((int64_t)bytes) : xstrdup("?")};
                table_add(&t, row);
        }
        out_print_list(arr, &t, fmt);
        storage_volume_list_free(v, n);
        storage_pool_free(&p);
        return 0;
}

static const struct ctl_cmd storage_cmds[] = {
    {"create", cmd_create, "create a storage pool",
     "Usage: vesselctl storage create NAME DRIVER [source=PATH] [size=N] [-d TEXT]\n\n"
     "Create a storage pool for instances' root file systems.  DRIVER is one of\n"
     "  dir      plain directories; copies are reflinked where the file system can\n"
     "  overlay  the image unpacked once as the lower layer, each instance an\n"
     "           upper layer of its own\n"
     "  btrfs    the image a subvolume, instances and snapshots snapshots of it\n\n"
     "Keys:\n"
     "  source=PATH  dir, overlay: a directory to keep the pool in (default: the\n"
     "               store's storage/NAME); btrfs: a directory on btrfs, or a\n"
     "               block device or image file (formatted when empty, refused\n"
     "               when it holds another file system), mounted again when the\n"
     "               host comes back\n"
     "  size=N       btrfs: a loop file of N bytes (KiB, MiB, GiB, ...) made in\n"
     "               the store's disks/\n\n"
     "Examples:\n"
     "  vesselctl storage create fast btrfs size=20GiB\n"
     "  vesselctl storage create layers overlay\n"},
    {"list", cmd_list, "list the storage pools",
     "Usage: vesselctl storage list [-f table|compact|csv|json|yaml]\n\nList the storage "
     "pools.\n"},
    {"info", cmd_info, "show a storage pool and its space",
     "Usage: vesselctl storage info NAME [-f json|yaml]\n\n"
     "Show a storage pool: its driver, source, space and what it holds.\n"},
    {"delete", cmd_delete, "delete storage pools",
     "Usage: vesselctl storage delete NAME...\n\n"
     "Delete empty storage pools (refused while an instance is in one); their\n"
     "image volumes go with them, and a loop file the pool made.\n"},
    {"volume", cmd_volume, "list the volumes of a pool",
     "Usage: vesselctl storage volume list POOL [-f table|compact|csv|json|yaml]\n\n"
     "List the volumes of a storage pool: instances, snapshots and images, with\n"
     "the bytes each holds (overlay: of its upper layer).\n"},
    {0},
};

int cli_storage(struct ctl *c, int argc, char **argv)
{
        return ctl_dispatch(c, "storage ",
                            "Usage: vesselctl storage COMMAND [ARGS...]\n\n"
                            "Manage storage pools: where instances' root file systems live.\n",
                            storage_cmds, argc, argv);
}
