/* profile_cmds.c: `vesselctl profile ...`: parse, call
 * src/manager/profile.h (and instance.h for assign/add/remove), print. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "instance.h"
#include "profile.h"
#include "util.h"
#include "vesselctl.h"

static int cmd_list(struct ctl *c, int argc, char **argv)
{
        static const char *header[] = {"NAME", "DESCRIPTION", "USED BY"};
        static const struct option opts[] = {{"format", required_argument, NULL, 'f'}, {0}};
        _cleanup_store_ struct vessel_store *s = NULL;
        enum out_format fmt = OUT_TABLE;
        vessel_error *err = NULL;
        struct profile *v = NULL;
        json_object *arr;
        struct table t;
        size_t n = 0;
        int opt;

        while ((opt = getopt_long(argc, argv, "f:", opts, NULL)) != -1)
                if (opt != 'f' || out_format_parse(optarg, &fmt) < 0)
                        return ctl_usage_error("profile list ",
                                               "expected -f table, compact, csv, json or yaml");
        if (argc != optind)
                return ctl_usage_error("profile list ", "unexpected argument \"%s\"", argv[optind]);
        STORE_OR_FAIL(c, s, err);
        if (profile_list(s, &v, &n, &err) < 0)
                return ctl_fail(&err);
        arr = json_object_new_array();
        table_init(&t, header, ARRAY_SIZE(header));
        for (size_t k = 0; k < n; k++) {
                json_object *o = json_object_new_object(), *u = json_object_new_array();
                for (char **i = v[k].used_by; *i; i++)
                        json_object_array_add(u, json_object_new_string(*i));
                json_object_object_add(o, "name", json_object_new_string(v[k].name));
                json_object_object_add(o, "description",
                                       json_object_new_string(v[k].conf.description));
                json_object_object_add(o, "config", kv_json(&v[k].conf.config));
                json_object_object_add(o, "devices", devices_json(&v[k].conf.devices));
                json_object_object_add(o, "used_by", u);
                json_object_array_add(arr, o);
                char *row[] = {xstrdup(v[k].name), xstrdup(v[k].conf.description),
                               xasprintf("%zu", strv_len(v[k].used_by))};
                table_add(&t, row);
        }
        out_print_list(arr, &t, fmt);
        profile_list_free(v, n);
        return 0;
}

static int cmd_show(struct ctl *c, int argc, char **argv)
{
        if (argc != 2)
                return ctl_usage_error("profile show ", "expected PROFILE");
        return conf_cmd_show(c, &(struct conf_target){true, argv[1]}, false);
}

static int cmd_get(struct ctl *c, int argc, char **argv)
{
        if (argc != 3)
                return ctl_usage_error("profile get ", "expected PROFILE KEY");
        return conf_cmd_get(c, &(struct conf_target){true, argv[1]}, argv[2], false);
}

static int cmd_set(struct ctl *c, int argc, char **argv)
{
        if (argc < 3)
                return ctl_usage_error("profile set ", "expected PROFILE KEY=VALUE...");
        return conf_cmd_set(c, &(struct conf_target){true, argv[1]}, argv + 2, argc - 2);
}

static int cmd_unset(struct ctl *c, int argc, char **argv)
{
        if (argc < 3)
                return ctl_usage_error("profile unset ", "expected PROFILE KEY...");
        return conf_cmd_unset(c, &(struct conf_target){true, argv[1]}, argv + 2, argc - 2);
}

static int cmd_edit(struct ctl *c, int argc, char **argv)
{
        if (argc != 2)
                return ctl_usage_error("profile edit ", "expected PROFILE");
        return conf_cmd_edit(c, &(struct conf_target){true, argv[1]});
}

static int cmd_device(struct ctl *c, int argc, char **argv)
{
        return conf_cmd_device(c, true, argc, argv);
}

static int cmd_create(struct ctl *c, int argc, char **argv)
{
        static const struct option opts[] = {{"description", required_argument, NULL, 'd'}, {0}};
        _cleanup_store_ struct vessel_store *s = NULL;
        struct confset cs = {0};
        vessel_error *err = NULL;
        int opt, r;

        while ((opt = getopt_long(argc, argv, "d:", opts, NULL)) != -1) {
                if (opt != 'd')
                        return ctl_bad_option("profile create ", argv);
                cs.description = optarg;
        }
        if (argc - optind != 1)
                return ctl_usage_error("profile create ", "expected PROFILE");
        STORE_OR_FAIL(c, s, err);
        r = profile_create(s, argv[optind], &cs, &err);
        if (r < 0)
                return ctl_fail(&err);
        printf("Profile %s created\n", argv[optind]);
        return 0;
}

static int two_names(struct ctl *c, int argc, char **argv, const char *cmd,
                     int (*fn)(struct vessel_store *, const char *, const char *, vessel_error **),
                     const char *done)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        vessel_error *err = NULL;

        if (argc != 3)
                return ctl_usage_error(cmd, "expected two profile names");
        STORE_OR_FAIL(c, s, err);
        if (fn(s, argv[1], argv[2], &err) < 0)
                return ctl_fail(&err);
        printf("Profile %s %s %s\n", argv[1], done, argv[2]);
        return 0;
}

static int cmd_copy(struct ctl *c, int argc, char **argv)
{
        return two_names(c, argc, argv, "profile copy ", profile_copy, "copied to");
}

static int cmd_rename(struct ctl *c, int argc, char **argv)
{
        return two_names(c, argc, argv, "profile rename ", profile_rename, "renamed to");
}

static int cmd_delete(struct ctl *c, int argc, char **argv)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        vessel_error *err = NULL;
        int status = 0;

        if (argc < 2)
                return ctl_usage_error("profile delete ", "expected PROFILE...");
        STORE_OR_FAIL(c, s, err);
        for (int k = 1; k < argc; k++) {
                if (profile_delete(s, argv[k], &err) < 0)
                        status = ctl_fail(&err);
                else
                        printf("Profile %s deleted\n", argv[k]);
        }
        return status;
}

/* "a,b,c" (an empty string: no profiles). */
static char **split_commas(const char *list)
{
        _cleanup_free_ char *copy = xstrdup(list);
        char **v = xmalloc0(sizeof(char *)), *save = NULL;

        for (char *p = strtok_r(copy, ",", &save); p; p = strtok_r(NULL, ",", &save))
                v = strv_append(v, p);
        return v;
}

static int profiles_change(struct ctl *c, int argc, char **argv, enum profile_op op,
                           const char *cmd)
{
        _cleanup_store_ struct vessel_store *s = NULL;
        _cleanup_strv_ char **list = NULL;
        vessel_error *err = NULL;

        if (argc != 3)
                return ctl_usage_error(cmd, op == PROFILES_ASSIGN ? "expected NAME P1,P2,..."
                                                                  : "expected NAME PROFILE");
        list = op == PROFILES_ASSIGN ? split_commas(argv[2]) : strv_append(NULL, argv[2]);
        STORE_OR_FAIL(c, s, err);
        if (instance_profiles_change(s, argv[1], op, list, &err) < 0)
                return ctl_fail(&err);
        if (op == PROFILES_ASSIGN)
                printf("Profiles %s applied to %s\n", argv[2], argv[1]);
        else
                printf("Profile %s %s %s\n", argv[2],
                       op == PROFILES_ADD ? "added to" : "removed from", argv[1]);
        return 0;
}

static int cmd_assign(struct ctl *c, int argc, char **argv)
{
        return profiles_change(c, argc, argv, PROFILES_ASSIGN, "profile assign ");
}

static int cmd_add(struct ctl *c, int argc, char **argv)
{
        return profiles_change(c, argc, argv, PROFILES_ADD, "profile add ");
}

static int cmd_remove(struct ctl *c, int argc, char **argv)
{
        return profiles_change(c, argc, argv, PROFILES_REMOVE, "profile remove ");
}

static const struct ctl_cmd profile_cmds[] = {
    {"list", cmd_list, "list the profiles",
     "Usage: vesselctl profile list [-f table|compact|csv|json|yaml]\n\n"
     "List the profiles, with how many instances use each.\n",
     "ls"},
    {"show", cmd_show, "show a profile as YAML",
     "Usage: vesselctl profile show PROFILE\n\n"
     "Show a profile's description, keys, devices and the instances using it.\n"},
    {"create", cmd_create, "create an empty profile",
     "Usage: vesselctl profile create PROFILE [--description TEXT]\n\n"
     "Create an empty profile; fill it with profile set, profile device add or\n"
     "profile edit.\n"},
    {"copy", cmd_copy, "copy a profile",
     "Usage: vesselctl profile copy PROFILE NEW\n\nCopy a profile's keys and devices.\n", "cp"},
    {"rename", cmd_rename, "rename a profile",
     "Usage: vesselctl profile rename PROFILE NEW\n\n"
     "Rename a profile (its instances follow); \"default\" keeps its name.\n",
     "mv"},
    {"delete", cmd_delete, "delete profiles",
     "Usage: vesselctl profile delete PROFILE...\n\n"
     "Delete profiles that no instance uses; \"default\" stays.\n",
     "rm"},
    {"get", cmd_get, "print the value of a key",
     "Usage: vesselctl profile get PROFILE KEY\n\n"
     "Print a key's value (an empty line when it is not set).\n"},
    {"set", cmd_set, "set keys",
     "Usage: vesselctl profile set PROFILE KEY=VALUE...\n"
     "       vesselctl profile set PROFILE KEY VALUE\n\n"
     "Set keys on a profile (the keys of vesselctl config --help).\n"},
    {"unset", cmd_unset, "remove keys",
     "Usage: vesselctl profile unset PROFILE KEY...\n\nRemove keys from a profile.\n"},
    {"edit", cmd_edit, "edit a profile as YAML",
     "Usage: vesselctl profile edit PROFILE\n\n"
     "Open $VISUAL or $EDITOR (else vi) on the profile as YAML; saving checks\n"
     "and applies it, an error re-opens the editor.  When standard input is not\n"
     "a terminal, the YAML is read from it instead.\n"},
    {"device", cmd_device, "add, change, list and remove a profile's devices",
     "Usage: vesselctl profile device add PROFILE DEVICE TYPE [KEY=VALUE...]\n"
     "       vesselctl profile device remove PROFILE DEVICE...\n"
     "       vesselctl profile device set PROFILE DEVICE KEY=VALUE... | KEY VALUE\n"
     "       vesselctl profile device unset PROFILE DEVICE KEY...\n"
     "       vesselctl profile device get PROFILE DEVICE KEY\n"
     "       vesselctl profile device list PROFILE\n"
     "       vesselctl profile device show PROFILE\n\n"
     "Manage a profile's devices (types and keys: vesselctl config --help).\n"},
    {"assign", cmd_assign, "set an instance's profiles",
     "Usage: vesselctl profile assign NAME P1,P2,...\n\n"
     "Replace an instance's profiles with these, in this order (later ones\n"
     "win); \"\" removes them all.\n"},
    {"add", cmd_add, "add a profile to an instance",
     "Usage: vesselctl profile add NAME PROFILE\n\n"
     "Apply PROFILE to instance NAME too, after its other profiles.\n"},
    {"remove", cmd_remove, "remove a profile from an instance",
     "Usage: vesselctl profile remove NAME PROFILE\n\n"
     "Stop applying PROFILE to instance NAME.\n"},
    {0},
};

int cli_profile(struct ctl *c, int argc, char **argv)
{
        return ctl_dispatch(c, "profile ",
                            "Usage: vesselctl profile COMMAND [ARGS...]\n\n"
                            "Manage profiles: named sets of keys and devices that instances\n"
                            "apply in order, before their own keys.\n",
                            profile_cmds, argc, argv);
}
