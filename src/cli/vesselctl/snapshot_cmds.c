/* snapshot_cmds.c: `vesselctl snapshot ...`: parse, call
 * src/manager/snapshot.h, print. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "snapshot.h"
#include "util.h"
#include "vesselctl.h"

static int cmd_create(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {{"reuse", no_argument, NULL, 'r'}, {0}};
        _cleanup_store_ struct vessel_store *s = NULL;
        _cleanup_free_ char *made = NULL;
        vessel_error *err = NULL;
        bool reuse = false;
        int opt;

        while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                if (opt != 'r')
                        return ctl_bad_option("snapshot create ", argv);
                reuse = true;
        }
        if (argc - optind < 1 || argc - optind > 2)
                return ctl_usage_error("snapshot create ", "expected NAME [SNAPSHOT]");
        if (reuse && argc - optind != 2)
                return ctl_usage_error("snapshot create ", "--reuse needs the SNAPSHOT's name");
        STORE_OR_FAIL(c, s, err);
        if (snapshot_create(s, argv[optind], argc - optind == 2 ? argv[optind + 1] : NULL, reuse,
                            &made, &err) < 0)
                return ctl_fail(&err);
        printf("Snapshot %s/%s created\n", argv[optind], made);
        return 0;
}

static char *expires_cell(const struct snapshot *sn)
{
        return sn->expires_at ? out_date_info(sn->expires_at) : xstrdup("");
}

json_object *snapshot_json(const struct snapshot *sn)
{
        json_object *o = json_object_new_object(), *profiles = json_object_new_array();
        _cleanup_free_ char *created = out_date_json(sn->created_at),
                            *expires = out_date_json(sn->expires_at);

        for (char **p = sn->profiles; *p; p++)
                json_object_array_add(profiles, json_object_new_string(*p));
        json_object_object_add(o, "name", json_object_new_string(sn->name));
        json_object_object_add(o, "instance", json_object_new_string(sn->instance));
        json_object_object_add(o, "description", json_object_new_string(sn->conf.description));
        json_object_object_add(o, "created_at", json_object_new_string(created));
        json_object_object_add(o, "expires_at", json_object_new_string(expires));
        json_object_object_add(o, "stateful", json_object_new_boolean(sn->stateful));
        json_object_object_add(o, "profiles", profiles);
        json_object_object_add(o, "config", kv_json(&sn->conf.config));
        json_object_object_add(o, "devices", devices_json(&sn->conf.devices));
        json_object_object_add(o, "volume", sn->volume ? json_object_new_string(sn->volume) : NULL);
        return o;
}

void snapshot_table_fill(struct table *t, json_object *arr, const struct snapshot *v, size_t n)
{
        static const char *header[] = {"NAME", "TAKEN AT", "EXPIRES AT", "STATEFUL"};

        table_init(t, header, ARRAY_SIZE(header));
        for (size_t k = 0; k < n; k++) {
                char *row[] = {xstrdup(v[k].name), out_date_info(v[k].created_at),
                               expires_cell(&v[k]), xstrdup(v[k].stateful ? "YES" : "NO")};
                table_add(t, row);
                if (arr)
                        json_object_array_add(arr, snapshot_json(&v[k]));
        }
}

static int cmd_list(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {0}};
        _cleanup_store_ struct vessel_store *s = NULL;
        enum out_format fmt = OUT_TABLE;
        vessel_error *err = NULL;
        struct snapshot *v = NULL;
        struct table t;
        json_object *arr;
        size_t n = 0;
        int opt;

        while ((opt = getopt_long(argc, argv, "f:", opts, NULL)) != -1)
                if (opt != 'f' || out_format_parse(optarg, &fmt) < 0)
                        return ctl_usage_error("snapshot list ",
                                               "expected -f table, compact, csv, json or yaml");
        if (argc - optind != 1)
                return ctl_usage_error("snapshot list ", "expected NAME");
        STORE_OR_FAIL(c, s, err);
        if (snapshot_list(s, argv[optind], true, &v, &n, &err) < 0)
                return ctl_fail(&err);
        arr = json_object_new_array();
        snapshot_table_fill(&t, arr, v, n);
        out_print_list(arr, &t, fmt);
        snapshot_list_free(v, n);
        return 0;
}

static void info_print(const struct snapshot *sn, const char *usage)
{
        _cleanup_free_ char *created = out_date_info(sn->created_at),
                            *profiles = strv_join(sn->profiles, ", ");

        printf("Name: %s\n", sn->name);
        printf("Instance: %s\n", sn->instance);
        printf("Description: %s\n", sn->conf.description);
        printf("Created: %s\n", created);
        if (sn->expires_at) {
                _cleanup_free_ char *expires = out_date_info(sn->expires_at);
                printf("Expires: %s\n", expires);
        } else {
                printf("Expires: never\n");
        }
        printf("Stateful: %s\n", sn->stateful ? "yes" : "no");
        printf("Profiles: %s\n", profiles[0] ? profiles : "(none)");
        if (sn->volume)
                printf("Volume: snapshots/%s\n", sn->volume);
        if (usage)
                printf("Disk usage: %s\n", usage);
        if (sn->conf.config.n) {
                printf("Config:\n");
                for (size_t k = 0; k < sn->conf.config.n; k++)
                        printf("  %s: %s\n", sn->conf.config.v[k].key, sn->conf.config.v[k].value);
        }
        if (sn->conf.devices.n) {
                printf("Devices:\n");
                for (size_t k = 0; k < sn->conf.devices.n; k++) {
                        const struct device *d = &sn->conf.devices.v[k];
                        printf("  %s: type=%s", d->name, d->type);
                        for (size_t i = 0; i < d->cfg.n; i++)
                                printf(" %s=%s", d->cfg.v[i].key, d->cfg.v[i].value);
                        printf("\n");
                }
        }
}

static int cmd_info(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {0}};
        _cleanup_store_ struct vessel_store *s = NULL;
        enum out_format fmt = OUT_TABLE;
        vessel_error *err = NULL;
        struct snapshot sn;
        uint64_t bytes = 0;
        bool known;
        int opt;

        while ((opt = getopt_long(argc, argv, "f:", opts, NULL)) != -1)
                if (opt != 'f' || out_format_parse(optarg, &fmt) < 0 ||
                    (fmt != OUT_JSON && fmt != OUT_YAML && fmt != OUT_TABLE))
                        return ctl_usage_error("snapshot info ", "expected -f json or yaml");
        if (argc - optind != 2)
                return ctl_usage_error("snapshot info ", "expected NAME SNAPSHOT");
        STORE_OR_FAIL(c, s, err);
        if (snapshot_get(s, argv[optind], argv[optind + 1], &sn, &err) < 0)
                return ctl_fail(&err);
        known = snapshot_usage(s, &sn, &bytes, NULL) == 0;
        if (fmt != OUT_TABLE) {
                json_object *o = snapshot_json(&sn);
                json_object_object_add(o, "size",
                                       known ? json_object_new_int64((int64_t)bytes) : NULL);
                out_print_value(stdout, o, fmt);
                json_object_put(o);
        } else {
                _cleanup_free_ char *usage = known ? out_size((int64_t)bytes) : NULL;
                info_print(&sn, usage);
        }
        snapshot_free(&sn);
        return 0;
}

static int cmd_delete(struct ctl *c, int argc, char **argv)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        vessel_error *err = NULL;
        int rc = 0;

        if (argc < 3)
                return ctl_usage_error("snapshot delete ", "expected NAME SNAPSHOT...");
        STORE_OR_FAIL(c, s, err);
        for (int i = 2; i < argc; i++)
                if (snapshot_delete(s, argv[1], argv[i], &err) < 0)
                        rc = ctl_fail(&err);
        return rc;
}

static int cmd_rename(struct ctl *c, int argc, char **argv)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        vessel_error *err = NULL;

        if (argc != 4)
                return ctl_usage_error("snapshot rename ", "expected NAME SNAPSHOT NEW");
        STORE_OR_FAIL(c, s, err);
        if (snapshot_rename(s, argv[1], argv[2], argv[3], &err) < 0)
                return ctl_fail(&err);
        return 0;
}

static int cmd_restore(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {0}};
        _cleanup_store_ struct vessel_store *s = NULL;
        vessel_error *err = NULL;
        bool force = false;
        int opt;

        while ((opt = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
                if (opt != 'f')
                        return ctl_bad_option("snapshot restore ", argv);
                force = true;
        }
        if (argc - optind != 2)
                return ctl_usage_error("snapshot restore ", "expected NAME SNAPSHOT");
        STORE_OR_FAIL(c, s, err);
        if (snapshot_restore(s, argv[optind], argv[optind + 1], force, &err) < 0)
                return ctl_fail(&err);
        return 0;
}

static const struct ctl_cmd snapshot_cmds[] = {
    {"create", cmd_create, "snapshot an instance",
     "Usage: vesselctl snapshot create NAME [SNAPSHOT] [--reuse]\n\n"
     "Snapshot an instance's files and configuration (its own keys, devices,\n"
     "description and profiles).  SNAPSHOT defaults to the first free of snap0,\n"
     "snap1, ...  The instance may run (its files are copied as they are).\n"
     "With snapshots.expiry set (like 1d 3H), the snapshot expires that long\n"
     "after it is made, and goes at the next snapshot create or list of the\n"
     "instance.\n\n"
     "Options:\n"
     "      --reuse   replace a snapshot of that name\n"},
    {"list", cmd_list, "list an instance's snapshots",
     "Usage: vesselctl snapshot list NAME [-f table|compact|csv|json|yaml]\n\n"
     "List an instance's snapshots (removing the expired ones first).\n\n"
     "Options:\n"
     "  -f, --format F   table (default), compact, csv, json or yaml\n"},
    {"info", cmd_info, "show a snapshot",
     "Usage: vesselctl snapshot info NAME SNAPSHOT [-f json|yaml]\n\n"
     "Show a snapshot: its dates, profiles, configuration and disk usage.\n\n"
     "Options:\n"
     "  -f, --format F   json or yaml (default: text)\n"},
    {"delete", cmd_delete, "delete snapshots",
     "Usage: vesselctl snapshot delete NAME SNAPSHOT...\n\n"
     "Delete snapshots of an instance with their volumes.\n"},
    {"rename", cmd_rename, "rename a snapshot",
     "Usage: vesselctl snapshot rename NAME SNAPSHOT NEW\n\n"
     "Rename a snapshot of an instance.\n"},
    {"restore", cmd_restore, "restore an instance from a snapshot",
     "Usage: vesselctl snapshot restore NAME SNAPSHOT [--force]\n\n"
     "Bring back an instance's files and configuration as the snapshot has\n"
     "them.  A running instance is refused unless --force, which stops it at\n"
     "once, restores it and starts it again.  The snapshot stays.\n\n"
     "Options:\n"
     "  -f, --force   also a running instance (killed, restored, started)\n"},
    {0},
};

int cli_snapshot(struct ctl *c, int argc, char **argv)
{
        return ctl_dispatch(c, "snapshot ",
                            "Usage: vesselctl snapshot COMMAND [ARGS...]\n\n"
                            "Manage instance snapshots: their files and configuration, kept\n"
                            "in the instance's storage pool.\n",
                            snapshot_cmds, argc, argv);
}
