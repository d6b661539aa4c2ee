/* The manager's configuration: every validator, names, device checks,
 * the expansion of profiles and instance keys, the edits, and the YAML
 * round trip of backup.yaml. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "confyaml.h"
#include "device.h"
#include "instance.h"
#include "profile.h"
#include "util.h"

static bool ok(const char *key, const char *value)
{
        vessel_error *err = NULL;
        int r = config_check(key, value, &err);

        vessel_error_free(&err);
        return r == 0;
}

/* The error's text for a bad value. */
static char *msg(const char *key, const char *value)
{
        vessel_error *err = NULL;
        char *m = NULL;

        if (config_check(key, value, &err) < 0)
                m = xstrdup(err->msg);
        vessel_error_free(&err);
        return m;
}

static void test_sizes(void)
{
        long long b;
        bool pct;

        CHECK(config_parse_size("512MiB", &b, &pct) == 0 && b == 512LL << 20 && !pct);
        CHECK(config_parse_size("1GB", &b, &pct) == 0 && b == 1000000000LL);
        CHECK(config_parse_size("10kB", &b, &pct) == 0 && b == 10000);
        CHECK(config_parse_size("1024", &b, &pct) == 0 && b == 1024);
        CHECK(config_parse_size("3B", &b, &pct) == 0 && b == 3);
        CHECK(config_parse_size("50%", &b, &pct) == 0 && b == 50 && pct);
        CHECK(config_parse_size("1EiB", &b, &pct) == 0 && b == 1LL << 60);
        CHECK(config_parse_size("16EiB", &b, &pct) < 0); /* overflow */
        CHECK(config_parse_size("101%", &b, &pct) < 0);
        CHECK(config_parse_size("lots", &b, &pct) < 0);
        CHECK(config_parse_size("", &b, &pct) < 0);
        CHECK(config_parse_size("-1", &b, &pct) < 0);
        CHECK(config_parse_size("1 GB", &b, &pct) < 0);
        CHECK(config_parse_size("1gb", &b, &pct) < 0);
        CHECK(config_parse_size("1.5GiB", &b, &pct) < 0);
        char *m = msg("limits.memory", "lots");
        CHECK_STR(m, "limits.memory: \"lots\" is not a size (like 512MiB or 50%)");
        free(m);
}

static void test_bools_ints(void)
{
        bool v;

        CHECK(config_parse_bool("true", &v) == 0 && v);
        CHECK(config_parse_bool("TRUE", &v) == 0 && v);
        CHECK(config_parse_bool("1", &v) == 0 && v);
        CHECK(config_parse_bool("on", &v) == 0 && v);
        CHECK(config_parse_bool("no", &v) == 0 && !v);
        CHECK(config_parse_bool("0", &v) == 0 && !v);
        CHECK(config_parse_bool("maybe", &v) < 0 && config_parse_bool("", &v) < 0);
        CHECK(ok("limits.memory.swap", "false") && !ok("limits.memory.swap", "2"));
        CHECK(ok("boot.autostart", "true") && !ok("boot.autostart", "y e s"));
        CHECK(ok("security.privileged", "0") && !ok("security.privileged", "root"));
        CHECK(ok("limits.processes", "1") && ok("limits.processes", "32768"));
        CHECK(!ok("limits.processes", "0") && !ok("limits.processes", "-1") &&
              !ok("limits.processes", "1k") && !ok("limits.processes", ""));
        CHECK(ok("boot.autostart.priority", "-5") && ok("boot.autostart.priority", "10"));
        CHECK(!ok("boot.autostart.priority", "high") && !ok("boot.autostart.priority", "--1"));
        CHECK(ok("boot.stop.priority", "0") && !ok("boot.stop.priority", "1.5"));
        CHECK(ok("boot.autostart.delay", "0") && !ok("boot.autostart.delay", "-1"));
        CHECK(ok("boot.host_shutdown_timeout", "30") && !ok("boot.host_shutdown_timeout", "30s"));
        CHECK(!ok("limits.processes", "99999999999999999999999"));
}

static void test_cpus(void)
{
        bool set;
        long long n;

        CHECK(config_parse_cpus("4", &set, &n) == 0 && !set && n == 4);
        CHECK(config_parse_cpus("0-1,3", &set, &n) == 0 && set && n == 3);
        CHECK(config_parse_cpus("1-1", &set, &n) == 0 && set && n == 1);
        CHECK(config_parse_cpus("0,2,4-7", &set, &n) == 0 && n == 6);
        CHECK(config_parse_cpus("0", &set, &n) < 0);
        CHECK(config_parse_cpus("3-1", &set, &n) < 0);
        CHECK(config_parse_cpus("1,", &set, &n) < 0 && config_parse_cpus(",1", &set, &n) < 0);
        CHECK(config_parse_cpus("a", &set, &n) < 0 && config_parse_cpus("", &set, &n) < 0);
        CHECK(config_parse_cpus("0-", &set, &n) < 0 && config_parse_cpus("-1", &set, &n) < 0);
        CHECK(config_parse_cpus("1,,2", &set, &n) < 0);
        CHECK(ok("limits.cpu.allowance", "50%") && ok("limits.cpu.allowance", "100%"));
        CHECK(ok("limits.cpu.allowance", "25ms/100ms") && ok("limits.cpu.allowance", "1s/1s"));
        CHECK(ok("limits.cpu.allowance", "500us/1000us") == false); /* quota below 1 ms */
        CHECK(!ok("limits.cpu.allowance", "0%") && !ok("limits.cpu.allowance", "150%"));
        CHECK(!ok("limits.cpu.allowance", "25ms") && !ok("limits.cpu.allowance", "%"));
        CHECK(!ok("limits.cpu.allowance", "25ms/2s") && !ok("limits.cpu.allowance", "x/100ms"));
}

static void test_signals_json_free(void)
{
        int sig;

        CHECK(config_parse_signal("SIGRTMIN+3", &sig) == 0 && sig == SIGRTMIN + 3);
        CHECK(config_parse_signal("RTMIN", &sig) == 0 && sig == SIGRTMIN);
        CHECK(config_parse_signal("SIGRTMAX-1", &sig) == 0 && sig == SIGRTMAX - 1);
        CHECK(config_parse_signal("SIGPWR", &sig) == 0 && sig == SIGPWR);
        CHECK(config_parse_signal("TERM", &sig) == 0 && sig == SIGTERM);
        CHECK(config_parse_signal("9", &sig) == 0 && sig == 9);
        CHECK(config_parse_signal("0", &sig) < 0 && config_parse_signal("65", &sig) < 0);
        CHECK(config_parse_signal("SIGRTMIN+99", &sig) < 0);
        CHECK(config_parse_signal("SIGRTMIN-1", &sig) < 0);
        CHECK(config_parse_signal("SIGNOPE", &sig) < 0 && config_parse_signal("", &sig) < 0);
        CHECK(ok("raw.oci", "{}") && ok("raw.oci", "{\"process\": {\"env\": [\"A=1\"]}}"));
        CHECK(!ok("raw.oci", "[]") && !ok("raw.oci", "\"s\"") && !ok("raw.oci", "{") &&
              !ok("raw.oci", "{} {}") && !ok("raw.oci", ""));
        CHECK(ok("volatile.apply_template", "create") && ok("volatile.apply_template", "copy") &&
              ok("volatile.apply_template", "rename"));
        CHECK(!ok("volatile.apply_template", "start") && !ok("volatile.apply_template", "") &&
              !ok("volatile.other", "x"));
        CHECK(ok("environment.PATH", "/bin") && ok("environment.X", ""));
        CHECK(ok("user.a.b.c", "anything"));
        CHECK(!ok("environment.", "x") && !ok("user.", "x"));
        CHECK(!ok("limits", "1") && !ok("limits.memoryx", "1") && !ok("nope", "1"));
        char *m = msg("nope.key", "1");
        CHECK(m && strstr(m, "nope.key: unknown configuration key"));
        free(m);
}

static void test_names(void)
{
        CHECK(instance_name_valid("a") && instance_name_valid("web-01") &&
              instance_name_valid("A1") && instance_name_valid("0abc"));
        char long63[64], long64[65];
        memset(long63, 'x', 63);
        long63[63] = '\0';
        memset(long64, 'x', 64);
        long64[64] = '\0';
        CHECK(instance_name_valid(long63) && !instance_name_valid(long64));
        CHECK(!instance_name_valid("") && !instance_name_valid("-a") && !instance_name_valid("a-"));
        CHECK(!instance_name_valid("a_b") && !instance_name_valid("a.b") &&
              !instance_name_valid("a b") && !instance_name_valid("\xc3\xa9") &&
              !instance_name_valid("a/b"));
        CHECK(profile_name_valid("default") && profile_name_valid("big-2.0"));
        CHECK(!profile_name_valid("") && !profile_name_valid("a/b") && !profile_name_valid(".") &&
              !profile_name_valid("..") && !profile_name_valid("a b") &&
              !profile_name_valid("a,b"));
        CHECK(device_name_valid("eth0") && device_name_valid("root-disk.1"));
        CHECK(!device_name_valid("") && !device_name_valid("a/b") && !device_name_valid("a b"));
}

static struct device dev(const char *name, const char *type, const char *const *kv)
{
        struct device d = {xstrdup(name), xstrdup(type), {0}};

        for (; kv && *kv; kv += 2)
                kvlist_set(&d.cfg, kv[0], kv[1]);
        return d;
}

static bool dev_ok(const char *type, const char *const *kv, const char *want)
{
        struct device d = dev("d", type, kv);
        vessel_error *err = NULL;
        int r = device_check(&d, &err);
        bool res = want ? r < 0 && err && strstr(err->msg, want) : r == 0;

        if (!res)
                fprintf(stderr, "device %s: %s\n", type, err ? err->msg : "accepted");
        vessel_error_free(&err);
        device_free(&d);
        return res;
}

static void test_devices(void)
{
        CHECK(dev_ok("disk", (const char *[]){"source", "/srv", "path", "/mnt", NULL}, NULL));
        CHECK(dev_ok("disk",
                     (const char *[]){"source", "/srv", "path", "/mnt", "readonly", "true", NULL},
                     NULL));
        CHECK(dev_ok("disk", (const char *[]){"path", "/mnt", NULL}, "needs \"source\""));
        CHECK(dev_ok("disk", (const char *[]){"source", "/a", NULL}, "needs \"path\""));
        CHECK(dev_ok("disk", (const char *[]){"source", "a", "path", "/m", NULL},
                     "not an absolute host path"));
        CHECK(dev_ok("disk", (const char *[]){"source", "/a", "path", "/m/../x", NULL},
                     "not an absolute path"));
        CHECK(dev_ok("disk", (const char *[]){"source", "/a", "path", "/..", NULL},
                     "not an absolute path"));
        CHECK(dev_ok("disk", (const char *[]){"source", "/a", "path", "/m", "readonly", "x", NULL},
                     "not a boolean"));
        CHECK(dev_ok("disk", (const char *[]){"source", "/a", "path", "/m", "pool", "x", NULL},
                     "\"pool\" is for the root disk (path /) only"));
        CHECK(dev_ok("disk", (const char *[]){"source", "/a", "path", "/m", "colour", "x", NULL},
                     "unknown key \"colour\""));
        /* The root disk: pool and size, nothing of a mount. */
        CHECK(dev_ok("disk", (const char *[]){"path", "/", "pool", "p1", "size", "10GiB", NULL},
                     NULL));
        CHECK(dev_ok("disk", (const char *[]){"path", "/", NULL}, NULL));
        CHECK(dev_ok("disk", (const char *[]){"path", "/", "size", "0", NULL}, "not a size"));
        CHECK(dev_ok("disk", (const char *[]){"path", "/", "size", "-5", NULL}, "not a size"));
        CHECK(dev_ok("disk", (const char *[]){"path", "/", "pool", "a/b", NULL},
                     "not a storage pool name"));
        CHECK(dev_ok("disk", (const char *[]){"path", "/", "source", "/a", NULL},
                     "takes pool and size, not \"source\""));
        CHECK(dev_ok("unix-char", (const char *[]){"source", "/dev/null", NULL}, NULL));
        CHECK(dev_ok("unix-block",
                     (const char *[]){"major", "8", "minor", "0", "path", "/dev/sda", "mode",
                                      "0660", "uid", "0", "gid", "6", NULL},
                     NULL));
        CHECK(dev_ok("unix-char", (const char *[]){"major", "1", "path", "/dev/x", NULL},
                     "go together"));
        CHECK(dev_ok("unix-char", (const char *[]){"major", "1", "minor", "3", NULL},
                     "\"path\" is needed"));
        CHECK(dev_ok("unix-char", (const char *[]){"path", "/dev/x", NULL}, "needs \"source\""));
        CHECK(dev_ok("unix-char", (const char *[]){"source", "/dev/null", "mode", "0888", NULL},
                     "octal mode"));
        CHECK(dev_ok("unix-char", (const char *[]){"source", "/dev/null", "mode", "17777", NULL},
                     "octal mode"));
        CHECK(dev_ok("unix-char", (const char *[]){"source", "/dev/null", "uid", "-1", NULL},
                     "user id"));
        CHECK(dev_ok("unix-char",
                     (const char *[]){"source", "/dev/null", "major", "x", "minor", "1", NULL},
                     "major number"));
        CHECK(dev_ok("nic", NULL, "comes with networks"));
        CHECK(dev_ok("proxy", NULL, "comes with networks"));
        CHECK(dev_ok("gpu", NULL, "unknown type \"gpu\""));
}

static struct confset set(const char *const *kv, struct device *d, size_t nd)
{
        struct confset c = {xstrdup(""), {0}, {0}};

        for (; kv && *kv; kv += 2)
                kvlist_set(&c.config, kv[0], kv[1]);
        for (size_t i = 0; i < nd; i++) {
                devlist_set(&c.devices, &d[i]);
                device_free(&d[i]);
        }
        return c;
}

static void test_expansion(void)
{
        struct device d1[] = {
            dev("data", "disk",
                (const char *[]){"source", "/a", "path", "/p1", "readonly", "true", NULL}),
            dev("only1", "disk", (const char *[]){"source", "/o", "path", "/o", NULL})};
        struct device d2[] = {
            dev("data", "disk", (const char *[]){"source", "/b", "path", "/p2", NULL})};
        struct device d3[] = {
            dev("own", "unix-char", (const char *[]){"source", "/dev/null", NULL})};
        struct confset p[2] = {
            set((const char *[]){"limits.memory", "1GiB", "user.a", "p1", "user.b", "p1", NULL}, d1,
                2),
            set((const char *[]){"user.b", "p2", NULL}, d2, 1),
        };
        struct confset own = set((const char *[]){"user.a", "own", NULL}, d3, 1), x;

        config_expand(p, 2, &own, &x);
        CHECK(x.config.n == 3);
        CHECK_STR(kvlist_get(&x.config, "limits.memory"), "1GiB");
        CHECK_STR(kvlist_get(&x.config, "user.a"), "own");
        CHECK_STR(kvlist_get(&x.config, "user.b"), "p2");
        CHECK(x.devices.n == 3);
        /* A later profile's device replaces the earlier one whole. */
        struct device *d = devlist_get(&x.devices, "data");
        CHECK(d && !strcmp(kvlist_get(&d->cfg, "path"), "/p2") && !kvlist_get(&d->cfg, "readonly"));
        CHECK(devlist_get(&x.devices, "only1") && devlist_get(&x.devices, "own"));
        confset_free(&x);
        /* No profiles: just the instance's own. */
        config_expand(NULL, 0, &own, &x);
        CHECK(x.config.n == 1 && x.devices.n == 1);
        confset_free(&x);
        /* Order matters: the other way round, p1 wins over p2. */
        struct confset rev[2] = {p[1], p[0]};
        config_expand(rev, 2, &own, &x);
        CHECK_STR(kvlist_get(&x.config, "user.b"), "p1");
        CHECK_STR(kvlist_get(&devlist_get(&x.devices, "data")->cfg, "path"), "/p1");
        confset_free(&x);
        confset_free(&p[0]);
        confset_free(&p[1]);
        confset_free(&own);
}

static void test_edits(void)
{
        struct confset c = set(NULL, NULL, 0);
        struct device inh[] = {
            dev("data", "disk", (const char *[]){"source", "/a", "path", "/p", NULL})};
        struct devlist inherited = {0};
        vessel_error *err = NULL;

        devlist_set(&inherited, &inh[0]);
        device_free(&inh[0]);
        CHECK(conf_edit_apply(&c, NULL,
                              &(struct conf_edit){.op = EDIT_SET,
                                                  .args = (char *[]){"user.a=1", "user.b=x=y"},
                                                  .n = 2},
                              &err) == 0);
        CHECK_STR(kvlist_get(&c.config, "user.b"), "x=y");
        CHECK(conf_edit_apply(
                  &c, NULL,
                  &(struct conf_edit){.op = EDIT_SET, .args = (char *[]){"user.c", "-5"}, .n = 2},
                  &err) == 0);
        CHECK_STR(kvlist_get(&c.config, "user.c"), "-5");
        CHECK(conf_edit_apply(
                  &c, NULL,
                  &(struct conf_edit){.op = EDIT_UNSET, .args = (char *[]){"user.x"}, .n = 1},
                  &err) == -ENOENT);
        vessel_error_free(&err);
        /* device set on a profile's device copies it in. */
        CHECK(conf_edit_apply(&c, &inherited,
                              &(struct conf_edit){.op = EDIT_DEVICE_SET,
                                                  .device = "data",
                                                  .args = (char *[]){"readonly=true"},
                                                  .n = 1},
                              &err) == 0);
        struct device *d = devlist_get(&c.devices, "data");
        CHECK(d && !strcmp(kvlist_get(&d->cfg, "source"), "/a") &&
              !strcmp(kvlist_get(&d->cfg, "readonly"), "true"));
        CHECK(conf_edit_apply(&c, NULL,
                              &(struct conf_edit){
                                  .op = EDIT_DEVICE_ADD, .device = "data", .type = "disk", .n = 0},
                              &err) == -EEXIST);
        vessel_error_free(&err);
        CHECK(confset_check(&c, &err) == 0);
        CHECK(conf_edit_apply(
                  &c, NULL,
                  &(struct conf_edit){.op = EDIT_DEVICE_REMOVE, .args = (char *[]){"data"}, .n = 1},
                  &err) == 0 &&
              c.devices.n == 0);
        devlist_free(&inherited);
        confset_free(&c);
}

static void test_yaml_round_trip(void)
{
        struct device d[] = {
            dev("data", "disk",
                (const char *[]){"source", "/srv: x", "path", "/mnt", "readonly", "true", NULL})};
        struct conf_doc doc = {0}, back;
        vessel_error *err = NULL;
        char *y, *y2;

        kvlist_set(&doc.top, "name", "c1");
        kvlist_set(&doc.top, "architecture", "x86_64");
        kvlist_set(&doc.top, "created_at", "1700000000");
        doc.conf = set((const char *[]){"limits.memory", "512MiB", "user.n", "123", "user.t", "yes",
                                        "user.e", "", "user.q", "it's \"quoted\"\n", NULL},
                       d, 1);
        free(doc.conf.description);
        doc.conf.description = xstrdup("a: description");
        doc.profiles = strv_append(strv_append(NULL, "default"), "big");
        doc.pconf = xmalloc0(2 * sizeof(*doc.pconf));
        doc.pconf[0] = set(NULL, NULL, 0);
        doc.pconf[1] = set((const char *[]){"limits.cpu", "2", NULL}, NULL, 0);
        y = conf_doc_emit(&doc);
        CHECK(y && strstr(y, "user.n: '123'") && strstr(y, "user.t: 'yes'"));
        CHECK(conf_doc_parse(y, strlen(y), "backup.yaml", &back, &err) == 0);
        CHECK_STR(kvlist_get(&back.top, "name"), "c1");
        CHECK_STR(kvlist_get(&back.top, "created_at"), "1700000000");
        CHECK_STR(back.conf.description, "a: description");
        CHECK(back.conf.config.n == 5);
        CHECK_STR(kvlist_get(&back.conf.config, "user.n"), "123");
        CHECK_STR(kvlist_get(&back.conf.config, "user.t"), "yes");
        CHECK_STR(kvlist_get(&back.conf.config, "user.e"), "");
        CHECK_STR(kvlist_get(&back.conf.config, "user.q"), "it's \"quoted\"\n");
        struct device *bd = devlist_get(&back.conf.devices, "data");
        CHECK(bd && !strcmp(bd->type, "disk") &&
              !strcmp(kvlist_get(&bd->cfg, "source"), "/srv: x"));
        CHECK(strv_len(back.profiles) == 2 && !strcmp(back.profiles[1], "big") && back.pconf);
        CHECK(back.pconf && !strcmp(kvlist_get(&back.pconf[1].config, "limits.cpu"), "2"));
        /* And written again, the same text. */
        y2 = conf_doc_emit(&back);
        CHECK_STR(y2, y);
        free(y);
        free(y2);
        conf_doc_free(&back);
        conf_doc_free(&doc);
        /* Profile names as a plain list (the editors' form), and errors. */
        CHECK(conf_doc_parse("profiles: [a, b]\nconfig: ~\n", 26, "t", &back, &err) == 0 &&
              strv_len(back.profiles) == 2 && !back.pconf);
        conf_doc_free(&back);
        const char *bad[] = {"config: [1]\n",      "devices:\n  x: {path: /a}\n", "- a\n",
                             "config: {a: [1]}\n", "profiles: {a: b}\n",          "config: {\n"};
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                CHECK(conf_doc_parse(bad[i], strlen(bad[i]), "t", &back, &err) < 0 && err &&
                      !strncmp(err->msg, "t: line ", 8));
                vessel_error_free(&err);
        }
}

int main(void)
{
        test_sizes();
        test_bools_ints();
        test_cpus();
        test_signals_json_free();
        test_names();
        test_devices();
        test_expansion();
        test_edits();
        test_yaml_round_trip();
        return check_report("test_instance_config");
}
