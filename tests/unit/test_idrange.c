/* idrange: subordinate id files, first fit, raw.idmap and the maps built
 * from them (pure). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "idrange.h"
#include "util.h"

static void test_subid_parse(void)
{
        struct id_range *r = NULL;
        vessel_error *err = NULL;
        size_t n;

        CHECK(idrange_subid_parse("alice:100000:65536\nroot:1000000:1000000000\n# c\n\n0:5:6\n",
                                  "/etc/subuid", "root", 0, &r, &n, &err) == 0);
        CHECK(n == 2 && r[0].start == 1000000 && r[0].size == 1000000000 && r[1].start == 5);
        free(r);
        CHECK(idrange_subid_parse("", "f", "root", 0, &r, &n, &err) == 0 && n == 0);
        free(r);
        /* A malformed line anywhere is an error naming file and line. */
        CHECK(idrange_subid_parse("root:1:2\nbob:x:5\n", "/etc/subuid", "root", 0, &r, &n, &err) <
              0);
        CHECK(err && strstr(err->msg, "/etc/subuid:2") && strstr(err->msg, "bob:x:5"));
        vessel_error_free(&err);
        CHECK(idrange_subid_parse("root:1:0", "f", "root", 0, &r, &n, &err) < 0);
        vessel_error_free(&err);
        CHECK(idrange_subid_parse("root:4294967295:2", "f", "root", 0, &r, &n, &err) < 0);
        vessel_error_free(&err);
        CHECK(idrange_subid_parse("root:1:2:3", "f", "root", 0, &r, &n, &err) < 0);
        vessel_error_free(&err);
}

static void test_intersect(void)
{
        struct id_range a[] = {{100, 100}, {1000, 50}}, b[] = {{150, 1000}};
        struct id_range *o;
        size_t n = idrange_intersect(a, 2, b, 1, &o);

        CHECK(n == 2 && o[0].start == 150 && o[0].size == 50 && o[1].start == 1000 &&
              o[1].size == 50);
        free(o);
        CHECK(idrange_intersect(a, 1, (struct id_range[]){{500, 5}}, 1, &o) == 0);
        free(o);
}

static void test_first_fit(void)
{
        const uint64_t B = IDRANGE_BLOCK;
        struct id_range pool[] = {{1000000, 10 * B}};
        struct id_range taken[] = {{1000000, B}, {1000000 + 2 * B, B}, {1000000 + 3 * B + 5, 1}};
        uint64_t s;

        CHECK(idrange_first_fit(pool, 1, NULL, 0, B, &s) == 0 && s == 1000000);
        CHECK(idrange_first_fit(pool, 1, taken, 1, B, &s) == 0 && s == 1000000 + B);
        /* A hole of one block; a range of two goes past the taken ones, on
         * the pool's grid. */
        CHECK(idrange_first_fit(pool, 1, taken, 3, B, &s) == 0 && s == 1000000 + B);
        CHECK(idrange_first_fit(pool, 1, taken, 3, 2 * B, &s) == 0 && s == 1000000 + 4 * B);
        CHECK(idrange_first_fit(pool, 1, taken, 3, 7 * B, &s) == -ENOSPC);
        CHECK(idrange_first_fit(pool, 1, taken, 3, 6 * B, &s) == 0 && s == 1000000 + 4 * B);
        /* The next pool range when the first is full. */
        struct id_range two[] = {{1000000, B}, {5000000, B}};
        CHECK(idrange_first_fit(two, 2, taken, 1, B, &s) == 0 && s == 5000000);
        CHECK(idrange_first_fit(two, 2, taken, 1, 2 * B, &s) == -ENOSPC);
}

static void test_raw_and_maps(void)
{
        struct raw_idmap *raw = NULL;
        struct vessel_idmap *m = NULL;
        vessel_error *err = NULL;
        size_t nraw, n;

        CHECK(idrange_raw_parse("both 1000 1000\nuid 50-52 7-9\n", &raw, &nraw, &err) == 0);
        CHECK(nraw == 2 && raw[0].uid && raw[0].gid && raw[1].uid && !raw[1].gid &&
              raw[1].host == 50 && raw[1].container == 7 && raw[1].size == 3);
        CHECK(idrange_build_map(2000000, 65536, raw, nraw, true, &m, &n, &err) == 0);
        /* 0-6, 7-9 -> 50-52, 10-999, 1000 -> 1000, 1001-65535 */
        CHECK(n == 5);
        CHECK(m[0].container_id == 0 && m[0].host_id == 2000000 && m[0].size == 7);
        CHECK(m[1].container_id == 7 && m[1].host_id == 50 && m[1].size == 3);
        CHECK(m[2].container_id == 10 && m[2].host_id == 2000010 && m[2].size == 990);
        CHECK(m[3].container_id == 1000 && m[3].host_id == 1000 && m[3].size == 1);
        CHECK(m[4].container_id == 1001 && m[4].host_id == 2001001 && m[4].size == 64535);
        free(m);
        CHECK(idrange_build_map(2000000, 65536, raw, nraw, false, &m, &n, &err) == 0 && n == 3);
        free(m);
        free(raw);
        /* Overlapping lines, outside the range, malformed. */
        CHECK(idrange_raw_parse("uid 10-20 10-20\nuid 30 15\n", &raw, &nraw, &err) == 0);
        CHECK(idrange_build_map(0, 65536, raw, nraw, true, &m, &n, &err) < 0);
        CHECK(err && strstr(err->msg, "overlap"));
        vessel_error_free(&err);
        free(raw);
        CHECK(idrange_raw_parse("gid 5 5\ngid 5 6\n", &raw, &nraw, &err) == 0);
        CHECK(idrange_build_map(0, 65536, raw, nraw, false, &m, &n, &err) < 0);
        CHECK(err && strstr(err->msg, "host ids"));
        vessel_error_free(&err);
        free(raw);
        CHECK(idrange_raw_parse("both 70000 70000\n", &raw, &nraw, &err) == 0);
        CHECK(idrange_build_map(0, 65536, raw, nraw, true, &m, &n, &err) < 0);
        CHECK(err && strstr(err->msg, "outside"));
        vessel_error_free(&err);
        free(raw);
        CHECK(idrange_raw_parse("all 1 1\n", &raw, &nraw, &err) < 0);
        vessel_error_free(&err);
        CHECK(idrange_raw_parse("uid 1-3 1-2\n", &raw, &nraw, &err) < 0);
        vessel_error_free(&err);
        CHECK(idrange_raw_parse("uid 1 1 1\n", &raw, &nraw, &err) < 0);
        vessel_error_free(&err);
}

int main(void)
{
        test_subid_parse();
        test_intersect();
        test_first_fit();
        test_raw_and_maps();
        return check_report("test_idrange");
}
