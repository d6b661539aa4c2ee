/* instance_cmds.c: `vesselctl init/list/info/rename/delete`: parse, call
 * src/manager/instance.h, print. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "idrange.h"
#include "image.h"
#include "instance-run.h"
#include "instance.h"
#include "snapshot.h"
#include "storage.h"
#include "util.h"
#include "vesselctl.h"

const char help_init[] =
    "Usage: vesselctl init IMAGE NAME [options]\n\n"
    "Create an instance from an image, without starting it.  IMAGE is an alias\n"
    "or a unique prefix of a fingerprint; NAME a host name (letters, digits\n"
    "and '-', at most 63).  The instance gets the profile \"default\" unless\n"
    "profiles are given.\n\n"
    "Options:\n"
    "  -p, --profile P     apply profile P (repeatable: later ones win)\n"
    "  -n, --no-profiles   apply no profile at all\n"
    "  -c, --config K=V    set a key (repeatable; see vesselctl config --help)\n"
    "  -d, --description T a description\n"
    "  -e, --ephemeral     mark it ephemeral (deleted when it stops)\n"
    "  -s, --storage POOL  the storage pool of its rootfs (default: the pool\n"
    "                      \"default\", made on first use)\n"
    "\nExample:\n"
    "  vesselctl init busybox web1 -p default -p big -c limits.memory=512MiB\n";

const char help_delete[] = "Usage: vesselctl delete NAME... [-f]\n\n"
                           "Delete instances with their directories.\n\n"
                           "Options:\n"
                           "  -f, --force   also a running instance\n";

const char help_rename[] = "Usage: vesselctl rename OLD NEW\n\n"
                           "Rename a stopped instance.\n";

const char help_list[] =
    "Usage: vesselctl list [FILTER...] [-c COLUMNS] [-f FORMAT]\n\n"
    "List the instances.  A FILTER is the start of a name, state=STATE,\n"
    "type=container or KEY=VALUE for a configuration key (as expanded with\n"
    "the profiles); every filter must match.\n\n"
    "Options:\n"
    "  -c, --columns C   the columns, as letters (default ns46tS):\n"
    "                      n name           s state        4 IPv4\n"
    "                      6 IPv6           t type         S snapshots\n"
    "                      a architecture   b storage      c created\n"
    "                      d description    f base image   F base image (full)\n"
    "                      l last used      P profiles     p PID\n"
    "                      N processes      m memory       u CPU time\n"
    "  -f, --format F    table (default), compact, csv, json or yaml\n";

const char help_info[] = "Usage: vesselctl info NAME [-f json|yaml]\n\n"
                         "Show an instance: its state, type, architecture, image, profiles,\n"
                         "dates and, at the end, its snapshots.\n";

static int add_config_arg(struct kvlist *l, const char *arg)
{
        const char *eq = strchr(arg, '=');

        if (!eq || eq == arg)
                return -EINVAL;
        _cleanup_free_ char *k = strndup(arg, (size_t)(eq - arg));
        kvlist_set(l, k, eq + 1);
        return 0;
}

/* init, and launch (init, then start). */
static int create_cmd(struct ctl *c, int argc, char **argv, bool launch)
{
        const char *cmd = launch ? "launch " : "init ";
        static const struct option opts[] = {
            {"profile", required_argument, NULL, 'p'},
            {"no-profiles", no_argument, NULL, 'n'},
            {"config", required_argument, NULL, 'c'},
            {"description", required_argument, NULL, 'd'},
            {"ephemeral", no_argument, NULL, 'e'},
            {"storage", required_argument, NULL, 's'},
            {0},
        };
        _cleanup_store_ struct vessel_store *s = NULL;
        _cleanup_strv_ char **profiles = NULL;
        struct instance_create_opts o = {0};
        struct kvlist config = {0};
        vessel_error *err = NULL;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "p:nc:d:es:", opts, NULL)) != -1) {
                switch (opt) {
                case 'p':
                        profiles = strv_append(profiles ?: xmalloc0(sizeof(char *)), optarg);
                        break;
                case 'n':
                        o.no_profiles = true;
                        break;
                case 'c':
                        if (add_config_arg(&config, optarg) < 0) {
                                kvlist_free(&config);
                                return ctl_usage_error(cmd, "-c \"%s\": expected KEY=VALUE",
                                                       optarg);
                        }
                        break;
                case 'd':
                        o.description = optarg;
                        break;
                case 'e':
                        o.ephemeral = true;
                        break;
                case 's':
                        o.pool = optarg;
                        break;
                default:
                        kvlist_free(&config);
                        return ctl_bad_option(cmd, argv);
                }
        }
        if (argc - optind != 2) {
                kvlist_free(&config);
                return ctl_usage_error(cmd, "expected IMAGE NAME");
        }
        if (profiles && o.no_profiles) {
                kvlist_free(&config);
                return ctl_usage_error(cmd, "--profile and --no-profiles exclude each other");
        }
        o.image = argv[optind];
        o.name = argv[optind + 1];
        o.profiles = profiles;
        o.config = &config;
        r = ctl_store_open(c, &s, &err);
        if (r == 0)
                r = instance_create(s, &o, &err);
        kvlist_free(&config);
        if (r < 0)
                return ctl_fail(&err);
        printf("Creating %s\n", o.name);
        if (launch) {
                printf("Starting %s\n", o.name);
                fflush(stdout);
                if (instance_start(s, o.name, &err) < 0)
                        return ctl_fail(&err);
        }
        return 0;
}

int cli_init(struct ctl *c, int argc, char **argv)
{
        return create_cmd(c, argc, argv, false);
}

int cli_launch(struct ctl *c, int argc, char **argv)
{
        return create_cmd(c, argc, argv, true);
}

int cli_delete(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {{"force", no_argument, NULL, 'f'}, {0}};
        _cleanup_store_ struct vessel_store *s = NULL;
        vessel_error *err = NULL;
        bool force = false;
        int opt, status = 0;

        while ((opt = getopt_long(argc, argv, "f", opts, NULL)) != -1) {
                if (opt != 'f')
                        return ctl_bad_option("delete ", argv);
                force = true;
        }
        if (argc - optind < 1)
                return ctl_usage_error("delete ", "expected NAME...");
        STORE_OR_FAIL(c, s, err);
        for (int k = optind; k < argc; k++)
                if (instance_delete(s, argv[k], force, &err) < 0)
                        status = ctl_fail(&err);
        return status;
}

int cli_rename(struct ctl *c, int argc, char **argv)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        vessel_error *err = NULL;

        if (getopt_long(argc, argv, "", (struct option[]){{0}}, NULL) != -1)
                return ctl_bad_option("rename ", argv);
        if (argc - optind != 2)
                return ctl_usage_error("rename ", "expected OLD NEW");
        STORE_OR_FAIL(c, s, err);
        if (instance_rename(s, argv[optind], argv[optind + 1], &err) < 0)
                return ctl_fail(&err);
        return 0;
}

/* Incus prints states in capitals in tables, capitalized in JSON. */
static char *state_upper(const char *state)
{
        char *s = xstrdup(state);

        for (char *p = s; *p; p++)
                *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        return s;
}

static char *state_title(const char *state)
{
        char *s = xstrdup(state);

        if (*s >= 'a' && *s <= 'z')
                *s = (char)(*s - 32);
        return s;
}

static int status_code(const char *state)
{
        if (!strcmp(state, "running"))
                return 103;
        if (!strcmp(state, "frozen"))
                return 110;
        return 102; /* Incus's api.Stopped */
}

static char *type_cell(const struct instance *i)
{
        return xasprintf("%s%s%s", !strcmp(i->type, "container") ? "CONTAINER" : i->type,
                         i->ephemeral ? " (EPHEMERAL)" : "", i->privileged ? " (PRIVILEGED)" : "");
}

static const char *st_title_or(const struct instance *i)
{
        static const char *const titles[][2] = {{"running", "Running"},
                                                {"frozen", "Frozen"},
                                                {"stopped", "Stopped"},
                                                {"error", "Error"}};

        for (size_t k = 0; k < ARRAY_SIZE(titles); k++)
                if (!strcmp(i->state, titles[k][0]))
                        return titles[k][1];
        return i->state;
}

static json_object *instance_json(const struct instance *i, const struct confset *x)
{
        json_object *o = json_object_new_object(), *p = json_object_new_array();
        _cleanup_free_ char *ca = out_date_json(i->created_at),
                            *la = out_date_json(i->last_used_at);
        _cleanup_free_ char *st = state_title(i->state);

        for (char **n = i->profiles; *n; n++)
                json_object_array_add(p, json_object_new_string(*n));
        json_object_object_add(o, "name", json_object_new_string(i->name));
        json_object_object_add(o, "description", json_object_new_string(i->conf.description));
        json_object_object_add(o, "status", json_object_new_string(st));
        json_object_object_add(o, "status_code", json_object_new_int(status_code(i->state)));
        json_object_object_add(o, "type", json_object_new_string(i->type));
        json_object_object_add(o, "architecture", json_object_new_string(i->architecture));
        json_object_object_add(o, "ephemeral", json_object_new_boolean(i->ephemeral));
        json_object_object_add(o, "storage_pool",
                               i->pool ? json_object_new_string(i->pool) : NULL);
        json_object_object_add(o, "stateful", json_object_new_boolean(false));
        json_object_object_add(o, "created_at", json_object_new_string(ca));
        json_object_object_add(o, "last_used_at", json_object_new_string(la));
        json_object_object_add(o, "image", json_object_new_string(i->image));
        json_object_object_add(o, "profiles", p);
        json_object_object_add(o, "config", kv_json(&i->conf.config));
        json_object_object_add(o, "devices", devices_json(&i->conf.devices));
        json_object_object_add(o, "expanded_config", kv_json(&x->config));
        json_object_object_add(o, "expanded_devices", devices_json(&x->devices));
        json_object_object_add(o, "snapshots", json_object_new_int64((int64_t)i->n_snapshots));
        if (i->init_pid > 0) { /* as Incus's InstanceState, what we know of it */
                json_object *live = json_object_new_object();
                json_object_object_add(live, "status", json_object_new_string(st_title_or(i)));
                json_object_object_add(live, "pid", json_object_new_int64(i->init_pid));
                if (i->have_stats) {
                        json_object *m = json_object_new_object(), *c = json_object_new_object();
                        json_object_object_add(live, "processes",
                                               json_object_new_int64(i->stats.processes));
                        json_object_object_add(m, "usage", json_object_new_int64(i->stats.memory));
                        json_object_object_add(m, "usage_peak",
                                               json_object_new_int64(i->stats.memory_peak));
                        json_object_object_add(m, "usage_without_cache",
                                               json_object_new_int64(i->stats.memory_nocache));
                        json_object_object_add(m, "swap_usage",
                                               json_object_new_int64(i->stats.swap));
                        json_object_object_add(c, "usage", json_object_new_int64(i->stats.cpu_ns));
                        json_object_object_add(live, "memory", m);
                        json_object_object_add(live, "cpu", c);
                }
                json_object_object_add(o, "state", live);
        }
        return o;
}

struct column {
        char letter;
        const char *header;
        char *(*cell)(const struct instance *i);
};

static char *c_name(const struct instance *i)
{
        return xstrdup(i->name);
}
static char *c_state(const struct instance *i)
{
        return state_upper(i->state);
}
static char *c_ip(const struct instance *i)
{
        return xstrdup("-");
}
static char *c_snapshots(const struct instance *i)
{
        return xasprintf("%zu", i->n_snapshots);
}
static char *c_arch(const struct instance *i)
{
        return xstrdup(i->architecture);
}
static char *c_storage(const struct instance *i)
{
        return xstrdup(i->pool ? i->pool : i->storage_driver);
}
static char *c_created(const struct instance *i)
{
        return out_date_info(i->created_at);
}
static char *c_desc(const struct instance *i)
{
        return xstrdup(i->conf.description);
}
static char *c_image(const struct instance *i)
{
        return strndup(i->image, FINGERPRINT_SHORT_LEN);
}
static char *c_image_full(const struct instance *i)
{
        return xstrdup(i->image);
}
static char *c_profiles(const struct instance *i)
{
        return strv_join(i->profiles, ", ");
}

static char *c_pid(const struct instance *i)
{
        return i->init_pid > 0 ? xasprintf("%d", i->init_pid) : xstrdup("");
}
static char *c_processes(const struct instance *i)
{
        return i->have_stats && i->stats.processes >= 0
                   ? xasprintf("%lld", (long long)i->stats.processes)
                   : xstrdup("");
}
static char *c_memory(const struct instance *i)
{
        return i->have_stats && i->stats.memory >= 0 ? out_size(i->stats.memory) : xstrdup("");
}
static char *c_cpu(const struct instance *i)
{
        return i->have_stats && i->stats.cpu_ns >= 0
                   ? xasprintf("%llds", (long long)(i->stats.cpu_ns / 1000000000))
                   : xstrdup("");
}

static char *c_last_used(const struct instance *i)
{
        return i->last_used_at ? out_date_info(i->last_used_at) : xstrdup("never");
}

static const struct column columns[] = {
    {'n', "NAME", c_name},
    {'s', "STATE", c_state},
    {'4', "IPV4", c_ip},
    {'6', "IPV6", c_ip},
    {'t', "TYPE", type_cell},
    {'S', "SNAPSHOTS", c_snapshots},
    {'a', "ARCHITECTURE", c_arch},
    {'b', "STORAGE POOL", c_storage},
    {'c', "CREATED AT", c_created},
    {'d', "DESCRIPTION", c_desc},
    {'f', "BASE IMAGE", c_image},
    {'F', "BASE IMAGE", c_image_full},
    {'l', "LAST USED AT", c_last_used},
    {'P', "PROFILES", c_profiles},
    {'p', "PID", c_pid},
    {'N', "PROCESSES", c_processes},
    {'m', "MEMORY USAGE", c_memory},
    {'u', "CPU USAGE", c_cpu},
    {0},
};

static const struct column *column_find(char letter)
{
        for (const struct column *c = columns; c->letter; c++)
                if (c->letter == letter)
                        return c;
        return NULL;
}

/* The start of a name, state=, status=, type= or a key of the expanded
 * configuration. */
static bool instance_matches(const struct instance *i, const struct confset *x, char **terms)
{
        for (char **t = terms; *t; t++) {
                const char *eq = strchr(*t, '=');
                if (!eq) {
                        if (!str_has_prefix(i->name, *t))
                                return false;
                        continue;
                }
                _cleanup_free_ char *k = strndup(*t, (size_t)(eq - *t));
                const char *v = eq + 1, *have;
                if (!strcmp(k, "state") || !strcmp(k, "status"))
                        have = i->state;
                else if (!strcmp(k, "type"))
                        have = i->type;
                else
                        have = kvlist_get(&x->config, k);
                if (!have || strcasecmp(have, v))
                        return false;
        }
        return true;
}

static int list_opts(int argc, char **argv, const char **cols, enum out_format *fmt)
{
        static const struct option opts[] = {{"columns", required_argument, NULL, 'c'},
                                             {"format", required_argument, NULL, 'f'},
                                             {0}};
        int opt;

        while ((opt = getopt_long(argc, argv, "c:f:", opts, NULL)) != -1) {
                if (opt == 'c')
                        *cols = optarg;
                else if (opt == 'f' && out_format_parse(optarg, fmt) < 0)
                        return ctl_usage_error("list ",
                                               "--format \"%s\": expected table, compact, csv, "
                                               "json or yaml",
                                               optarg);
                else if (opt != 'f')
                        return ctl_bad_option("list ", argv);
        }
        for (const char *l = *cols; *l; l++)
                if (!column_find(*l))
                        return ctl_usage_error("list ", "-c: unknown column '%c'", *l);
        if (!**cols)
                return ctl_usage_error("list ", "-c: no columns");
        return 0;
}

static void list_print(struct vessel_store *s, struct instance *v, size_t n, char **terms,
                       const char *cols, enum out_format fmt)
{
        size_t nc = strlen(cols);
        _cleanup_free_ const char **header = xmalloc0(nc * sizeof(char *));
        json_object *arr = json_object_new_array();
        struct table t;

        for (size_t k = 0; k < nc; k++)
                header[k] = column_find(cols[k])->header;
        table_init(&t, header, nc);
        bool stats = strpbrk(cols, "Nmu") != NULL;
        for (size_t k = 0; k < n; k++) {
                struct confset x = {0};
                instance_refresh(s, &v[k], stats);
                if (instance_expand(s, &v[k], &x, NULL) == 0 &&
                    instance_matches(&v[k], &x, terms)) {
                        v[k].privileged = idrange_privileged(&x);
                        _cleanup_free_ char **row = xmalloc0(nc * sizeof(char *));
                        json_object_array_add(arr, instance_json(&v[k], &x));
                        for (size_t c = 0; c < nc; c++)
                                row[c] = column_find(cols[c])->cell(&v[k]);
                        table_add(&t, row);
                }
                confset_free(&x);
        }
        out_print_list(arr, &t, fmt);
}

int cli_list(struct ctl *c, int argc, char **argv)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        enum out_format fmt = OUT_TABLE;
        const char *cols = "ns46tS";
        struct instance *v = NULL;
        vessel_error *err = NULL;
        size_t n = 0;
        int r = list_opts(argc, argv, &cols, &fmt);

        if (r)
                return r;
        STORE_OR_FAIL(c, s, err);
        if (instance_list(s, &v, &n, &err) < 0)
                return ctl_fail(&err);
        list_print(s, v, n, argv + optind, cols, fmt);
        instance_list_free(v, n);
        return 0;
}

/* The instance's id range (idrange.h), as the catalogue holds it. */
static void info_print_idmap(struct vessel_store *s, const struct instance *i)
{
        uint64_t base, size;
        bool isolated, found = false;

        if (i->privileged) {
                printf("Privileged: yes (no user namespace: the instance's root is the host's "
                       "root)\n");
                return;
        }
        printf("Privileged: no\n");
        if (idrange_get(s, i->id, &base, &size, &isolated, &found, NULL) < 0 || !found) {
                printf("ID map: none yet (allocated at its first start)\n");
                return;
        }
        printf("ID map: 0-%llu -> host %llu-%llu (uid and gid, %s)\n",
               (unsigned long long)size - 1, (unsigned long long)base,
               (unsigned long long)(base + size - 1),
               isolated ? "its own" : "shared: security.idmap.isolated=false");
}

/* As Incus's info ends: the table of its snapshots. */
static void info_print_snapshots(struct vessel_store *s, const struct instance *i)
{
        struct snapshot *v = NULL;
        struct table t;
        size_t n = 0;

        if (snapshot_list(s, i->name, false, &v, &n, NULL) < 0 || n == 0) {
                snapshot_list_free(v, n);
                return;
        }
        printf("\nSnapshots:\n");
        snapshot_table_fill(&t, NULL, v, n);
        table_print(stdout, &t, OUT_TABLE);
        table_free(&t);
        snapshot_list_free(v, n);
}

static void info_print(struct vessel_store *s, const struct instance *i)
{
        _cleanup_free_ char *state = state_upper(i->state), *created = c_created(i);
        _cleanup_free_ char *used = c_last_used(i), *profiles = strv_join(i->profiles, ", ");
        struct image_info img;

        printf("Name: %s\n", i->name);
        printf("Description: %s\n", i->conf.description);
        printf("Status: %s\n", state);
        printf("Type: %s%s\n", i->type, i->ephemeral ? " (ephemeral)" : "");
        printf("Architecture: %s\n", i->architecture);
        if (image_get(s, i->image, &img, NULL) == 0) {
                printf("Image: %.12s%s%s%s\n", i->image, img.aliases[0] ? " (" : "",
                       img.aliases[0] ? img.aliases[0] : "", img.aliases[0] ? ")" : "");
                image_info_free(&img);
        } else {
                printf("Image: %.12s (deleted since)\n", i->image);
        }
        printf("Profiles: %s\n", profiles[0] ? profiles : "(none)");
        if (i->pool) {
                struct storage_pool p;
                uint64_t bytes;
                printf("Storage pool: %s (%s)\n", i->pool, i->storage_driver);
                if (storage_pool_get_id(s, i->pool_id, &p, NULL) == 0) {
                        _cleanup_free_ char *vol = storage_volume_path("containers", i->volume);
                        if (storage_volume_usage(s, &p, vol, &bytes, NULL) == 0) {
                                _cleanup_free_ char *du = out_size((int64_t)bytes);
                                printf("Disk usage: %s%s\n", du,
                                       strcmp(p.driver, "overlay") ? ""
                                                                   : " (its own upper layer)");
                        }
                        storage_pool_free(&p);
                }
        } else {
                printf("Storage pool: (none: %s in its directory)\n", i->storage_driver);
        }
        printf("Created: %s\n", created);
        printf("Last Used: %s\n", used);
        printf("Snapshots: %zu\n", i->n_snapshots);
        if (i->init_pid > 0)
                printf("PID: %d\n", i->init_pid);
        info_print_idmap(s, i);
        if (i->have_stats) {
                _cleanup_free_ char *mem = out_size(i->stats.memory),
                                    *nocache = out_size(i->stats.memory_nocache),
                                    *peak = out_size(i->stats.memory_peak),
                                    *swap = out_size(i->stats.swap);
                printf("\nResources:\n");
                printf("  Processes: %lld\n", (long long)i->stats.processes);
                printf("  CPU usage:\n");
                printf("    CPU usage (in seconds): %.2f\n", (double)i->stats.cpu_ns / 1e9);
                printf("  Memory usage:\n");
                printf("    Memory (current): %s\n", mem);
                printf("    Memory (without page cache): %s\n", nocache);
                printf("    Memory (peak): %s\n", peak);
                printf("    Swap (current): %s\n", swap);
        }
        info_print_snapshots(s, i);
}

int cli_info(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {0}};
        _cleanup_store_ struct vessel_store *s = NULL;
        enum out_format fmt = OUT_TABLE;
        vessel_error *err = NULL;
        struct instance i;
        int opt;

        while ((opt = getopt_long(argc, argv, "f:", opts, NULL)) != -1)
                if (opt != 'f' || out_format_parse(optarg, &fmt) < 0)
                        return ctl_bad_option("info ", argv);
        if (argc - optind != 1)
                return ctl_usage_error("info ", "expected NAME");
        STORE_OR_FAIL(c, s, err);
        if (instance_get(s, argv[optind], &i, &err) < 0)
                return ctl_fail(&err);
        instance_refresh(s, &i, true);
        struct confset x = {0};
        if (instance_expand(s, &i, &x, &err) < 0) {
                instance_free(&i);
                return ctl_fail(&err);
        }
        i.privileged = idrange_privileged(&x);
        if (fmt == OUT_JSON || fmt == OUT_YAML) {
                json_object *o = instance_json(&i, &x);
                out_print_value(stdout, o, fmt);
                json_object_put(o);
                confset_free(&x);
        } else {
                confset_free(&x);
                info_print(s, &i);
        }
        instance_free(&i);
        return 0;
}

int cli_apply_templates(struct ctl *c, int argc, char **argv)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        _cleanup_free_ char *rootfs = NULL;
        vessel_error *err = NULL;
        unsigned bit;

        if (argc != 3)
                return ctl_usage_error("", "usage: vesselctl __apply-templates NAME TRIGGER");
        for (bit = TRIGGER_CREATE; bit <= TRIGGER_RENAME; bit <<= 1)
                if (!strcmp(argv[2], template_trigger_name(bit)))
                        break;
        if (bit > TRIGGER_RENAME)
                return ctl_usage_error("", "unknown trigger \"%s\" (create, copy, start or rename)",
                                       argv[2]);
        STORE_OR_FAIL(c, s, err);
        rootfs = xasprintf("%s/instances/%s/rootfs", s->root, argv[1]);
        if (instance_templates_apply(s, argv[1], rootfs, (enum template_trigger)bit, &err) < 0)
                return ctl_fail(&err);
        return 0;
}
