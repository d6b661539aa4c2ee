/* test_snapshot.c: snapshot names and Incus's expiry expressions
 * (snapshots.expiry), which are pure. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "config.h"
#include "snapshot.h"

/* 2024-01-31 12:00:00 UTC: the end of a month, before a leap day. */
#define T0 1706702400LL

static int64_t expiry(const char *e)
{
        vessel_error *err = NULL;
        int64_t t = -1;

        if (snapshot_expiry_parse(e, T0, &t, &err) < 0) {
                vessel_error_free(&err);
                return -1;
        }
        return t;
}

static void test_units(void)
{
        CHECK(expiry("") == 0);
        CHECK(expiry("   ") == 0);
        CHECK(expiry("30S") == T0 + 30);
        /* M is minutes, m months (as Incus). */
        CHECK(expiry("1M") == T0 + 60);
        CHECK(expiry("3H") == T0 + 3 * 3600);
        CHECK(expiry("1d") == T0 + 86400);
        CHECK(expiry("2w") == T0 + 14 * 86400);
        CHECK(expiry("1d 3H") == T0 + 86400 + 3 * 3600);
        CHECK(expiry("3H 1d") == T0 + 86400 + 3 * 3600);
        CHECK(expiry(" 1M  2d ") == T0 + 60 + 2 * 86400);
        CHECK(expiry("0d") == T0);
        /* Calendar months and years, normalised as Go's AddDate: Jan 31 +
         * 1 month is Feb 31, which is Mar 2 in 2024 (a leap year). */
        CHECK(expiry("1m") == 1709380800LL);
        CHECK(expiry("1y") == T0 + 366LL * 86400);
        CHECK(expiry("1y 1m 1w 1d 1H 1M 1S") > expiry("1y 1m"));
}

static void test_bad(void)
{
        static const char *const bad[] = {
            "1",   "d",     "1x",  "1D",    "1h",     "-1d",         "+1d",   "1.5d",       "1d3H",
            "1dd", "1d 2d", "1 d", "1d,3H", "1d\t3H", "9999999999d", "8000y", "100000000w", "1e3S"};
        vessel_error *err = NULL;
        int64_t t;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int r = snapshot_expiry_parse(bad[i], T0, &t, &err);
                if (r >= 0)
                        fprintf(stderr, "accepted: \"%s\"\n", bad[i]);
                CHECK(r < 0 && err && strstr(err->msg, "snapshots.expiry"));
                vessel_error_free(&err);
        }
        /* The furthest: the end of year 9999. */
        CHECK(expiry("7975y") > 0);
        CHECK(expiry("7976y") < 0);
}

static void test_config_key(void)
{
        vessel_error *err = NULL;

        CHECK(config_check("snapshots.expiry", "1d 3H", &err) == 0);
        CHECK(config_check("snapshots.expiry", "", &err) == 0);
        CHECK(config_check("snapshots.expiry", "tomorrow", &err) < 0 && err &&
              strstr(err->msg, "is not an expiry"));
        vessel_error_free(&err);
}

static void test_names(void)
{
        CHECK(snapshot_name_valid("snap0"));
        CHECK(snapshot_name_valid("before-upgrade_2.1"));
        CHECK(!snapshot_name_valid(""));
        CHECK(!snapshot_name_valid("a/b"));
        CHECK(!snapshot_name_valid(".."));
        CHECK(!snapshot_name_valid(".hidden"));
        CHECK(!snapshot_name_valid("-x"));
        CHECK(!snapshot_name_valid("a b"));
        CHECK(
            snapshot_name_valid("0123456789012345678901234567890123456789012345678901234567890ab"));
        CHECK(!snapshot_name_valid(
            "0123456789012345678901234567890123456789012345678901234567890abc"));
}

int main(void)
{
        test_units();
        test_bad();
        test_config_key();
        test_names();
        return check_report("test_snapshot");
}
