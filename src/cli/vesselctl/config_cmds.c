/* config_cmds.c: `vesselctl config ...` and what `profile` shares with it
 * (keys, devices, show and edit on an instance or a profile). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "confyaml.h"
#include "device.h"
#include "instance.h"
#include "profile.h"
#include "util.h"
#include "vesselctl.h"

static int target_edit(struct vessel_store *s, const struct conf_target *t,
                       const struct conf_edit *e, char *const *profiles, vessel_error **err)
{
        if (t->profile)
                return profile_edit(s, t->name, e, err);
        return instance_edit(s, t->name, e, profiles, err);
}

static int run_edit(struct ctl *c, const struct conf_target *t, const struct conf_edit *e)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        vessel_error *err = NULL;

        STORE_OR_FAIL(c, s, err);
        if (target_edit(s, t, e, NULL, &err) < 0)
                return ctl_fail(&err);
        return 0;
}

int conf_cmd_set(struct ctl *c, const struct conf_target *t, char **args, int n)
{
        struct conf_edit e = {.op = EDIT_SET, .args = args, .n = (size_t)n};

        if (n < 1 || (n == 2 && strchr(args[0], '=') && !strchr(args[1], '=')))
                return ctl_usage_error(t->profile ? "profile set " : "config set ",
                                       "expected KEY=VALUE... or KEY VALUE");
        return run_edit(c, t, &e);
}

int conf_cmd_unset(struct ctl *c, const struct conf_target *t, char **args, int n)
{
        struct conf_edit e = {.op = EDIT_UNSET, .args = args, .n = (size_t)n};

        if (n < 1)
                return ctl_usage_error(t->profile ? "profile unset " : "config unset ",
                                       "expected KEY...");
        return run_edit(c, t, &e);
}

/* The target's own configuration, its expansion, and for an instance
 * the instance itself (profiles, architecture, ...). */
struct loaded {
        struct confset own, expanded;
        struct instance inst;
        struct profile prof;
};

static int load(struct vessel_store *s, const struct conf_target *t, struct loaded *l,
                vessel_error **err)
{
        *l = (struct loaded){0};
        if (t->profile) {
                if (profile_get(s, t->name, &l->prof, err) < 0)
                        return -ENOENT;
                confset_copy(&l->own, &l->prof.conf);
                confset_copy(&l->expanded, &l->prof.conf);
                return 0;
        }
        if (instance_get(s, t->name, &l->inst, err) < 0)
                return -ENOENT;
        confset_copy(&l->own, &l->inst.conf);
        return instance_expand(s, &l->inst, &l->expanded, err);
}

static void loaded_free(struct loaded *l)
{
        confset_free(&l->own);
        confset_free(&l->expanded);
        if (l->inst.name)
                instance_free(&l->inst);
        if (l->prof.name)
                profile_free(&l->prof);
}

int conf_cmd_get(struct ctl *c, const struct conf_target *t, const char *key, bool expanded)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        vessel_error *err = NULL;
        struct loaded l;
        const char *v;

        STORE_OR_FAIL(c, s, err);
        if (load(s, t, &l, &err) < 0) {
                loaded_free(&l);
                return ctl_fail(&err);
        }
        v = kvlist_get(expanded ? &l.expanded.config : &l.own.config, key);
        printf("%s\n", v ? v : "");
        loaded_free(&l);
        return 0;
}

static json_object *show_json(const struct conf_target *t, const struct loaded *l, bool expanded)
{
        json_object *o = json_object_new_object();
        const struct confset *cs = expanded ? &l->expanded : &l->own;

        if (t->profile) {
                json_object *u = json_object_new_array();
                for (char **n = l->prof.used_by; *n; n++)
                        json_object_array_add(u, json_object_new_string(*n));
                json_object_object_add(o, "name", json_object_new_string(l->prof.name));
                json_object_object_add(o, "description", json_object_new_string(cs->description));
                json_object_object_add(o, "config", kv_json(&cs->config));
                json_object_object_add(o, "devices", devices_json(&cs->devices));
                json_object_object_add(o, "used_by", u);
                return o;
        }
        json_object *p = json_object_new_array();
        for (char **n = l->inst.profiles; *n; n++)
                json_object_array_add(p, json_object_new_string(*n));
        json_object_object_add(o, "architecture", json_object_new_string(l->inst.architecture));
        json_object_object_add(o, "config", kv_json(&cs->config));
        json_object_object_add(o, "devices", devices_json(&cs->devices));
        json_object_object_add(o, "ephemeral", json_object_new_boolean(l->inst.ephemeral));
        json_object_object_add(o, "profiles", p);
        json_object_object_add(o, "stateful", json_object_new_boolean(false));
        json_object_object_add(o, "description", json_object_new_string(l->own.description));
        return o;
}

int conf_cmd_show(struct ctl *c, const struct conf_target *t, bool expanded)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        vessel_error *err = NULL;
        struct loaded l;
        json_object *o;

        STORE_OR_FAIL(c, s, err);
        if (load(s, t, &l, &err) < 0) {
                loaded_free(&l);
                return ctl_fail(&err);
        }
        o = show_json(t, &l, expanded);
        out_print_value(stdout, o, OUT_YAML);
        json_object_put(o);
        loaded_free(&l);
        return 0;
}

struct edit_apply {
        struct vessel_store *s;
        const struct conf_target *t;
};

static int apply_yaml(const char *text, size_t len, void *data, vessel_error **err)
{
        struct edit_apply *a = data;
        struct conf_doc d;
        int r = conf_doc_parse(text, len, "the edited YAML", &d, err);

        if (r < 0)
                return r;
        struct conf_edit e = {.op = EDIT_REPLACE, .replace = &d.conf};
        r = target_edit(a->s, a->t, &e, a->t->profile ? NULL : d.profiles, err);
        conf_doc_free(&d);
        return r;
}

static char *edit_text(const struct conf_target *t, const struct loaded *l)
{
        json_object *o = show_json(t, l, false);
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);

        if (!f)
                abort();
        fprintf(f,
                "### This is a YAML representation of the %s \"%s\".\n"
                "### Lines starting with # are ignored.  Saving validates the result;\n"
                "### %s.\n",
                t->profile ? "profile" : "instance", t->name,
                t->profile ? "name and used_by cannot be changed here"
                           : "architecture, ephemeral and stateful cannot be changed here");
        out_print_value(f, o, OUT_YAML);
        fclose(f);
        json_object_put(o);
        return buf;
}

int conf_cmd_edit(struct ctl *c, const struct conf_target *t)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        _cleanup_free_ char *text = NULL;
        vessel_error *err = NULL;
        struct loaded l;
        struct edit_apply a;

        STORE_OR_FAIL(c, s, err);
        if (load(s, t, &l, &err) < 0) {
                loaded_free(&l);
                return ctl_fail(&err);
        }
        text = edit_text(t, &l);
        loaded_free(&l);
        a = (struct edit_apply){s, t};
        if (ctl_edit(text, apply_yaml, &a, &err) < 0)
                return ctl_fail(&err);
        return 0;
}

/* config device / profile device. */

static int device_print(struct ctl *c, const struct conf_target *t, const char *sub,
                        const char *dev, const char *key)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        vessel_error *err = NULL;
        struct loaded l;
        const struct device *d = NULL;
        int r = 0;

        STORE_OR_FAIL(c, s, err);
        if (load(s, t, &l, &err) < 0) {
                loaded_free(&l);
                return ctl_fail(&err);
        }
        if (!strcmp(sub, "list")) {
                for (size_t k = 0; k < l.own.devices.n; k++)
                        printf("%s\n", l.own.devices.v[k].name);
        } else if (!strcmp(sub, "show")) {
                json_object *o = devices_json(&l.own.devices);
                out_print_value(stdout, o, OUT_YAML);
                json_object_put(o);
        } else if (!(d = devlist_get(&l.own.devices, dev))) {
                vessel_error_msg(&err, ENOENT, "%s \"%s\": device \"%s\": no such device%s",
                                 t->profile ? "profile" : "instance", t->name, dev,
                                 devlist_get(&l.expanded.devices, dev)
                                     ? " of its own (it comes from a profile)"
                                     : "");
                r = ctl_fail(&err);
        } else {
                const char *v = !strcmp(key, "type") ? d->type : kvlist_get(&d->cfg, key);
                printf("%s\n", v ? v : "");
        }
        loaded_free(&l);
        return r;
}

int conf_cmd_device(struct ctl *c, bool profile, int argc, char **argv)
{
        const char *cmd = profile ? "profile device " : "config device ";
        const char *sub = argc > 1 ? argv[1] : "";
        struct conf_target t = {profile, argc > 2 ? argv[2] : NULL};
        struct conf_edit e = {0};
        int n = argc - 4; /* after SUB NAME DEVICE */

        if (!strcmp(sub, "list") || !strcmp(sub, "show")) {
                if (argc != 3)
                        return ctl_usage_error(cmd, "expected %s NAME", sub);
                return device_print(c, &t, sub, NULL, NULL);
        }
        if (!strcmp(sub, "get")) {
                if (argc != 5)
                        return ctl_usage_error(cmd, "expected get NAME DEVICE KEY");
                return device_print(c, &t, sub, argv[3], argv[4]);
        }
        if (argc < 4)
                return ctl_usage_error(cmd, "expected %s NAME DEVICE ...", *sub ? sub : "COMMAND");
        e.device = argv[3];
        e.args = argv + 4;
        e.n = (size_t)(n > 0 ? n : 0);
        if (!strcmp(sub, "add")) {
                if (argc < 5)
                        return ctl_usage_error(cmd, "expected add NAME DEVICE TYPE [KEY=VALUE...]");
                e.op = EDIT_DEVICE_ADD;
                e.type = argv[4];
                e.args = argv + 5;
                e.n = (size_t)(argc - 5);
        } else if (!strcmp(sub, "remove") || !strcmp(sub, "rm")) {
                e.op = EDIT_DEVICE_REMOVE;
                e.args = argv + 3;
                e.n = (size_t)(argc - 3);
        } else if (!strcmp(sub, "set")) {
                if (n < 1)
                        return ctl_usage_error(cmd, "expected set NAME DEVICE KEY=VALUE...");
                e.op = EDIT_DEVICE_SET;
        } else if (!strcmp(sub, "unset")) {
                if (n < 1)
                        return ctl_usage_error(cmd, "expected unset NAME DEVICE KEY...");
                e.op = EDIT_DEVICE_UNSET;
        } else {
                return ctl_usage_error(cmd, "unknown device command \"%s\"", sub);
        }
        return run_edit(c, &t, &e);
}

/* vesselctl config. */

static const char config_keys_help[] =
    "\nKeys:\n"
    "  limits.memory               bytes with a unit (512MiB, 1GB) or a percentage (50%)\n"
    "  limits.memory.swap          true or false\n"
    "  limits.cpu                  a CPU count (2) or set (0-1,3)\n"
    "  limits.cpu.allowance        a share (50%) or a quota (25ms/100ms)\n"
    "  limits.processes            the most processes (an integer)\n"
    "  environment.NAME            a variable of the instance's init and exec\n"
    "  boot.autostart              true or false\n"
    "  boot.autostart.priority     an integer (higher starts first)\n"
    "  boot.autostart.delay        seconds to wait after starting it\n"
    "  boot.stop.priority          an integer (higher stops first)\n"
    "  boot.host_shutdown_timeout  seconds to wait for it to stop\n"
    "  boot.stop.signal            the halt signal (SIGRTMIN+3, SIGPWR, 15)\n"
    "  security.privileged         true: no user namespace (default false)\n"
    "  security.idmap.size         the host id range's size (multiple of 65536)\n"
    "  security.idmap.base         a fixed start of the range (a host id)\n"
    "  security.idmap.isolated     false: share one range (default true)\n"
    "  raw.idmap                   \"uid|gid|both HOST CONTAINER\" lines mapped through\n"
    "  limits.kernel.NAME          an rlimit of init (nofile, nproc, ...): N,\n"
    "                              unlimited or SOFT:HARD\n"
    "  security.fuse               /dev/fuse in the instance (default true)\n"
    "  security.lxcfs              lxcfs's /proc and /sys files (default true)\n"
    "  security.syscalls.intercept.mknod\n"
    "                              true or false: device nodes made by the monitor\n"
    "                              (default: true unless privileged)\n"
    "  raw.oci                     a JSON object merged into the OCI config\n"
    "  snapshots.expiry            how long a new snapshot lives (like 1d 3H; S, M\n"
    "                              minutes, H, d, w, m months, y)\n"
    "  user.NAME                   free-form\n"
    "  volatile.apply_template     the templates' trigger pending for the next start\n"
    "                              (create, copy or rename; set by init, rename)\n";

static const char config_devices_help[] =
    "\nDevice types and keys:\n"
    "  disk        source (host path, required), path (required), readonly,\n"
    "              shift (idmapped: host uid N is uid N inside)\n"
    "  unix-char   source (a host node) or major and minor; path (required\n"
    "  unix-block    without source), mode (0660), uid, gid\n"
    "  nic and proxy devices come with networks (not yet).\n";

static int cmd_config_set(struct ctl *c, int argc, char **argv)
{
        struct conf_target t = {false, argc > 1 ? argv[1] : NULL};

        if (argc < 3)
                return ctl_usage_error("config set ",
                                       "expected NAME KEY=VALUE... or NAME KEY VALUE");
        return conf_cmd_set(c, &t, argv + 2, argc - 2);
}

static int cmd_config_unset(struct ctl *c, int argc, char **argv)
{
        struct conf_target t = {false, argc > 1 ? argv[1] : NULL};

        if (argc < 3)
                return ctl_usage_error("config unset ", "expected NAME KEY...");
        return conf_cmd_unset(c, &t, argv + 2, argc - 2);
}

/* NAME [KEY] [--expanded|-e]. */
static int name_args(int argc, char **argv, const char **name, const char **key, bool *expanded)
{
        int pos = 0;

        for (int i = 1; i < argc; i++) {
                if (!strcmp(argv[i], "--expanded") || !strcmp(argv[i], "-e"))
                        *expanded = true;
                else if (pos == 0 && ++pos)
                        *name = argv[i];
                else if (pos == 1 && key && ++pos)
                        *key = argv[i];
                else
                        return -EINVAL;
        }
        return *name && (!key || *key) ? 0 : -EINVAL;
}

static int cmd_config_get(struct ctl *c, int argc, char **argv)
{
        const char *name = NULL, *key = NULL;
        bool expanded = false;

        if (name_args(argc, argv, &name, &key, &expanded) < 0)
                return ctl_usage_error("config get ", "expected NAME KEY [--expanded]");
        return conf_cmd_get(c, &(struct conf_target){false, name}, key, expanded);
}

/* The config.json the instance runs with. */
static int conf_cmd_show_oci(struct ctl *c, const char *name)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        _cleanup_free_ char *json = NULL;
        vessel_error *err = NULL;

        STORE_OR_FAIL(c, s, err);
        if (instance_oci_config(s, name, &json, &err) < 0)
                return ctl_fail(&err);
        puts(json);
        return 0;
}

static int cmd_config_show(struct ctl *c, int argc, char **argv)
{
        const char *name = NULL;
        bool expanded = false;

        if (argc == 3 && !strcmp(argv[2], "--oci"))
                return conf_cmd_show_oci(c, argv[1]);
        if (name_args(argc, argv, &name, NULL, &expanded) < 0)
                return ctl_usage_error("config show ", "expected NAME [--expanded|--oci]");
        return conf_cmd_show(c, &(struct conf_target){false, name}, expanded);
}

static int cmd_config_edit(struct ctl *c, int argc, char **argv)
{
        if (argc != 2)
                return ctl_usage_error("config edit ", "expected NAME");
        return conf_cmd_edit(c, &(struct conf_target){false, argv[1]});
}

static int cmd_config_device(struct ctl *c, int argc, char **argv)
{
        return conf_cmd_device(c, false, argc, argv);
}

static const struct ctl_cmd config_cmds[] = {
    {"show", cmd_config_show, "show an instance's configuration",
     "Usage: vesselctl config show NAME [--expanded|--oci]\n\n"
     "Show an instance's keys, devices and profiles as YAML.  With --expanded\n"
     "(-e), the keys and devices it runs with: its profiles in order, then its\n"
     "own.  With --oci, the OCI config.json the runtime runs it with.\n"},
    {"get", cmd_config_get, "print the value of a key",
     "Usage: vesselctl config get NAME KEY [--expanded]\n\n"
     "Print a key's value (an empty line when it is not set).  With --expanded,\n"
     "the value its profiles give it too.\n"},
    {"set", cmd_config_set, "set keys",
     "Usage: vesselctl config set NAME KEY=VALUE...\n"
     "       vesselctl config set NAME KEY VALUE\n\n"
     "Set keys on an instance; each is checked before anything is stored.  An\n"
     "empty value (KEY=) removes the key.\n"},
    {"unset", cmd_config_unset, "remove keys",
     "Usage: vesselctl config unset NAME KEY...\n\n"
     "Remove keys from an instance (its profiles' values apply again).\n"},
    {"edit", cmd_config_edit, "edit the configuration as YAML",
     "Usage: vesselctl config edit NAME\n\n"
     "Open $VISUAL or $EDITOR (else vi) on the instance's configuration as YAML;\n"
     "saving checks and applies it (description, config, devices, profiles),\n"
     "and an error re-opens the editor.  When standard input is not a\n"
     "terminal, the YAML is read from it instead:\n"
     "  vesselctl config show c1 > c1.yaml; ...; vesselctl config edit c1 < c1.yaml\n"},
    {"device", cmd_config_device, "add, change, list and remove devices",
     "Usage: vesselctl config device add NAME DEVICE TYPE [KEY=VALUE...]\n"
     "       vesselctl config device remove NAME DEVICE...\n"
     "       vesselctl config device set NAME DEVICE KEY=VALUE... | KEY VALUE\n"
     "       vesselctl config device unset NAME DEVICE KEY...\n"
     "       vesselctl config device get NAME DEVICE KEY\n"
     "       vesselctl config device list NAME\n"
     "       vesselctl config device show NAME\n\n"
     "Manage an instance's own devices.  Setting a key of a device that comes\n"
     "from a profile makes a copy of it the instance's own, overriding it.\n"},
    {0},
};

static const char config_usage[] = "Usage: vesselctl config COMMAND NAME [ARGS...]\n\n"
                                   "Show and change an instance's configuration: keys and "
                                   "devices.\n";

int cli_config(struct ctl *c, int argc, char **argv)
{
        if (argc >= 2 &&
            (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help"))) {
                ctl_group_usage(stdout, config_usage, config_cmds);
                fputs(config_keys_help, stdout);
                fputs(config_devices_help, stdout);
                return 0;
        }
        return ctl_dispatch(c, "config ", config_usage, config_cmds, argc, argv);
}
