/* Rootless stores' pure parts: a user's subordinate ids, the pool check,
 * the carving of instance ranges beside the images' block, the store's
 * and run directory's places, and the configuration refused there. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "idrange.h"
#include "rootless.h"
#include "rundir.h"
#include "store.h"
#include "util.h"

static const char *const SUBUID = "root:1000000:1000000000\n"
                                  "alice:100000:65536\n"
                                  "bob:300000:131072\n"
                                  "1002:600000:65536\n"
                                  "1002:700000:65536\n";

static void test_user_lines(void)
{
        struct id_range *r = NULL;
        vessel_error *err = NULL;
        size_t n;

        /* By name: only the user's own lines, never root's. */
        CHECK(idrange_subid_parse(SUBUID, "/etc/subuid", "bob", 1001, &r, &n, &err) == 0);
        CHECK(n == 1 && r[0].start == 300000 && r[0].size == 131072);
        free(r);
        /* By uid, two lines. */
        CHECK(idrange_subid_parse(SUBUID, "/etc/subuid", "carol", 1002, &r, &n, &err) == 0);
        CHECK(n == 2 && r[0].start == 600000 && r[1].start == 700000);
        free(r);
        /* None. */
        CHECK(idrange_subid_parse(SUBUID, "/etc/subuid", "dave", 1003, &r, &n, &err) == 0 &&
              n == 0);
        free(r);
}

static void test_pool_check(void)
{
        struct id_range ok[] = {{300000, 131072}}, few[] = {{100000, 65536}},
                        two[] = {{600000, 65536}, {700000, 65536}}, low[] = {{1000, 200000}},
                        ragged[] = {{100000, 95536}, {300000, 40000}};
        vessel_error *err = NULL;

        CHECK(idrange_user_pool_check(ok, 1, "bob", "/etc/subuid", "/etc/subgid", &err) == 0);
        CHECK(idrange_user_pool_check(two, 2, "carol", "a", "b", &err) == 0);
        /* Too few: the error names the user, the numbers and the files. */
        CHECK(idrange_user_pool_check(few, 1, "alice", "/etc/subuid", "/etc/subgid", &err) < 0);
        CHECK(err && strstr(err->msg, "alice") && strstr(err->msg, "65536 subordinate ids") &&
              strstr(err->msg, "131072") && strstr(err->msg, "/etc/subuid") &&
              strstr(err->msg, "/etc/subgid"));
        vessel_error_free(&err);
        CHECK(idrange_user_pool_check(NULL, 0, "eve", "a", "b", &err) < 0);
        CHECK(err && strstr(err->msg, "has 0 subordinate ids"));
        vessel_error_free(&err);
        /* Enough ids, but not two whole blocks. */
        CHECK(idrange_user_pool_check(ragged, 2, "frank", "a", "b", &err) < 0);
        vessel_error_free(&err);
        /* Below the ids of an image: they could not be told apart. */
        CHECK(idrange_user_pool_check(low, 1, "gina", "a", "b", &err) < 0);
        CHECK(err && strstr(err->msg, "start at 1000"));
        vessel_error_free(&err);
}

/* The images' block is the pool's first; instances get the next blocks,
 * as first fit with that block taken (idrange.c's choose()). */
static void test_carving(void)
{
        struct id_range pool[] = {{300000, 3 * IDRANGE_BLOCK}};
        struct id_range taken[3] = {{300000, IDRANGE_BLOCK}};
        uint64_t s = 0;

        CHECK(idrange_first_fit(pool, 1, taken, 1, IDRANGE_BLOCK, &s) == 0 &&
              s == 300000 + IDRANGE_BLOCK);
        taken[1] = (struct id_range){s, IDRANGE_BLOCK};
        CHECK(idrange_first_fit(pool, 1, taken, 2, IDRANGE_BLOCK, &s) == 0 &&
              s == 300000 + 2 * IDRANGE_BLOCK);
        taken[2] = (struct id_range){s, IDRANGE_BLOCK};
        CHECK(idrange_first_fit(pool, 1, taken, 3, IDRANGE_BLOCK, &s) == -ENOSPC);
        /* A freed range (deleted instance) is handed out again. */
        CHECK(idrange_first_fit(pool, 1, (struct id_range[]){taken[0], taken[2]}, 2, IDRANGE_BLOCK,
                                &s) == 0 &&
              s == 300000 + IDRANGE_BLOCK);
}

static void test_store_choice(void)
{
        char *p;

        p = store_root_choose_for("/x", "/y", 1000, "/d", "/h");
        CHECK_STR(p, "/x");
        free(p);
        p = store_root_choose_for(NULL, "/y", 1000, "/d", "/h");
        CHECK_STR(p, "/y");
        free(p);
        p = store_root_choose_for(NULL, NULL, 0, "/d", "/h");
        CHECK_STR(p, STORE_DEFAULT_ROOT);
        free(p);
        p = store_root_choose_for(NULL, "", 1000, "/d", "/h");
        CHECK_STR(p, "/d/vessel");
        free(p);
        p = store_root_choose_for(NULL, NULL, 1000, NULL, "/home/u");
        CHECK_STR(p, "/home/u/.local/share/vessel");
        free(p);
        /* A relative $XDG_DATA_HOME is ignored (the XDG spec). */
        p = store_root_choose_for(NULL, NULL, 1000, "rel", "/home/u");
        CHECK_STR(p, "/home/u/.local/share/vessel");
        free(p);
        CHECK(store_root_choose_for(NULL, NULL, 1000, NULL, NULL) == NULL);
}

static void test_rundir_choice(void)
{
        char *p;

        p = rundir_top_for(0, "/run/user/0");
        CHECK_STR(p, RUNDIR_BASE);
        free(p);
        p = rundir_top_for(1000, "/run/user/1000");
        CHECK_STR(p, "/run/user/1000/vesselctl");
        free(p);
        p = rundir_top_for(1000, NULL);
        CHECK_STR(p, "/tmp/vesselctl-1000");
        free(p);
        p = rundir_top_for(1000, "relative");
        CHECK_STR(p, "/tmp/vesselctl-1000");
        free(p);
}

static int check_one(const char *key, const char *value, bool delegated, const char *needle)
{
        struct confset c = {0};
        vessel_error *err = NULL;
        int r;

        kvlist_set(&c.config, "limits.kernel.nofile", "1024");
        if (key)
                kvlist_set(&c.config, key, value);
        r = rootless_config_check(&c, delegated, &err);
        if (needle)
                CHECK(r < 0 && err && strstr(err->msg, needle) && strstr(err->msg, "rootless"));
        vessel_error_free(&err);
        confset_free(&c);
        return r;
}

static void test_config_refused(void)
{
        CHECK(check_one(NULL, NULL, false, NULL) == 0);
        CHECK(check_one("security.privileged", "false", false, NULL) == 0);
        CHECK(check_one("security.privileged", "true", true, "security.privileged=true") < 0);
        CHECK(check_one("security.syscalls.intercept.mknod", "false", false, NULL) == 0);
        CHECK(check_one("security.syscalls.intercept.mknod", "true", true, "intercept.mknod=true") <
              0);
        CHECK(check_one("limits.memory", "64MiB", false, "limits.memory: refused") < 0);
        CHECK(check_one("limits.cpu", "1", false, "limits.cpu: refused") < 0);
        CHECK(check_one("limits.processes", "100", false, "delegated cgroup") < 0);
        /* With a delegated cgroup the runtime applies them. */
        CHECK(check_one("limits.memory", "64MiB", true, NULL) == 0);
        CHECK(check_one("limits.processes", "100", true, NULL) == 0);
}

int main(void)
{
        test_user_lines();
        test_pool_check();
        test_carving();
        test_store_choice();
        test_rundir_choice();
        test_config_refused();
        return check_report("test_rootless");
}
