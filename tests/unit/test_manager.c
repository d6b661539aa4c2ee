/* The manager's pure parts: metadata.yaml parsing, fingerprints, path
 * confinement decisions, architectures and the schema migration. */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "check.h"
#include "extract.h"
#include "fingerprint.h"
#include "metadata.h"
#include "store.h"
#include "util.h"

static int parse(const char *yaml, struct image_metadata *md, vessel_error **err)
{
        return image_metadata_parse(yaml, strlen(yaml), md, err);
}

static void test_metadata_valid(void)
{
        struct image_metadata md;
        vessel_error *err = NULL;
        const char *y = "architecture: x86_64\n"
                        "creation_date: 1424284563\n"
                        "expiry_date: 1500000000\n"
                        "unknown_top: {ignored: true}\n"
                        "properties:\n  description: Ubuntu 22.04\n  release: 22.04\n  empty:\n"
                        "templates:\n"
                        "  /etc/hostname:\n"
                        "    when: [create, copy]\n"
                        "    template: hostname.tpl\n"
                        "    create_only: yes\n"
                        "    properties: {k: v}\n"
                        "    mode: \"0644\"\n";

        CHECK(parse(y, &md, &err) == 0);
        CHECK(!err);
        CHECK_STR(md.architecture, "x86_64");
        CHECK(md.creation_date == 1424284563 && md.expiry_date == 1500000000);
        CHECK(md.n_properties == 3);
        CHECK_STR(image_metadata_property(&md, "release"), "22.04");
        CHECK_STR(image_metadata_property(&md, "empty"), "");
        CHECK(md.n_templates == 1);
        CHECK_STR(md.templates[0].path, "/etc/hostname");
        CHECK(md.templates[0].when == (TRIGGER_CREATE | TRIGGER_COPY));
        CHECK(md.templates[0].create_only);
        CHECK_STR(md.templates[0].template, "hostname.tpl");
        CHECK_STR(md.templates[0].mode, "0644");
        CHECK(md.templates[0].n_properties == 1);

        /* Written back, it parses to the same. */
        char *out = NULL;
        size_t len;
        struct image_metadata md2;
        CHECK(image_metadata_emit(&md, &out, &len, &err) == 0);
        CHECK(parse(out, &md2, &err) == 0);
        CHECK_STR(md2.architecture, "x86_64");
        CHECK_STR(image_metadata_property(&md2, "release"), "22.04");
        CHECK(md2.n_templates == 1 && md2.templates[0].when == (TRIGGER_CREATE | TRIGGER_COPY));
        free(out);
        image_metadata_free(&md2);
        image_metadata_free(&md);
}

static void expect_error(const char *yaml, const char *needle)
{
        struct image_metadata md;
        vessel_error *err = NULL;

        CHECK(parse(yaml, &md, &err) < 0);
        CHECK(err && strstr(err->msg, needle));
        if (err && !strstr(err->msg, needle))
                fprintf(stderr, "  got: %s (wanted %s)\n", err->msg, needle);
        CHECK(!md.architecture && !md.properties && !md.templates);
        vessel_error_free(&err);
}

static void test_metadata_errors(void)
{
        expect_error("", "empty");
        expect_error("architecture: [x86_64\n", "line");
        expect_error("- a\n- b\n", "not a map");
        expect_error("creation_date: 1\n", "\"architecture\" is missing");
        expect_error("architecture: x86_64\n", "\"creation_date\" is missing");
        expect_error("architecture: [a]\ncreation_date: 1\n", "architecture: not a string");
        expect_error("architecture: x\ncreation_date: \"1\"\n", "creation_date: not an integer");
        expect_error("architecture: x\ncreation_date: 1.5\n", "not an integer");
        expect_error("architecture: x\ncreation_date: 1\nexpiry_date: never\n", "expiry_date");
        expect_error("architecture: x\ncreation_date: 1\nproperties: 3\n", "properties: not a map");
        expect_error("architecture: x\ncreation_date: 1\nproperties: {a: [1]}\n", "strings");
        expect_error("architecture: x\ncreation_date: 1\nproperties: {a: 1, a: 2}\n", "duplicate");
        expect_error("architecture: x\ncreation_date: 1\ntemplates: [a]\n", "templates: not a map");
        expect_error("architecture: x\ncreation_date: 1\ntemplates: {etc/x: {template: t}}\n",
                     "line 3: templates: \"etc/x\": a template's key must be an absolute path");
        expect_error(
            "architecture: x\ncreation_date: 1\ntemplates: {/x: {when: [boot], template: t}}\n",
            "unknown trigger");
        expect_error("architecture: x\ncreation_date: 1\ntemplates: {/x: {when: [start]}}\n",
                     "needs \"template\"");
        expect_error(
            "architecture: x\ncreation_date: 1\ntemplates: {/x: {template: ../../etc/shadow}}\n",
            "needs \"template\"");
        expect_error("architecture: x\ncreation_date: 1\ntemplates: {/x: {template: t, "
                     "create_only: maybe}}\n",
                     "not a boolean");
        expect_error("architecture: x\ncreation_date: 1\n\n\ncreation_date: zz\n", "line 5");
}

static void test_fingerprint(void)
{
        struct fingerprint f;
        char hex[FINGERPRINT_HEX_LEN + 1];

        fingerprint_init(&f);
        fingerprint_final(&f, hex);
        CHECK(!strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
        /* Streamed in pieces: the split form hashes two files in a row. */
        fingerprint_init(&f);
        fingerprint_update(&f, "a", 1);
        fingerprint_update(&f, "bc", 2);
        fingerprint_final(&f, hex);
        CHECK(!strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        CHECK(fingerprint_valid(hex));
        CHECK(
            !fingerprint_valid("BA7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        CHECK(fingerprint_prefix_valid("BA78"));
        CHECK(!fingerprint_prefix_valid(""));
        CHECK(!fingerprint_prefix_valid("xyz"));
}

static void expect_clean(const char *in, int want, const char *out)
{
        char *got = NULL;
        int r = path_clean(in, &got);

        CHECK(r == want);
        if (want == 0)
                CHECK_STR(got, out);
        else
                CHECK(!got);
        free(got);
}

static void test_path_confinement(void)
{
        const char *rel;

        expect_clean("rootfs/bin/sh", 0, "rootfs/bin/sh");
        expect_clean("./rootfs//bin/./sh/", 0, "rootfs/bin/sh");
        expect_clean("./", 0, "");
        expect_clean("rootfs/..", -EINVAL, NULL);
        expect_clean("rootfs/../../etc/passwd", -EINVAL, NULL);
        expect_clean("..", -EINVAL, NULL);
        expect_clean("a/..b/c", 0, "a/..b/c"); /* a name, not a parent */
        expect_clean("/etc/passwd", -EPERM, NULL);
        expect_clean("", -EINVAL, NULL);

        CHECK(extract_route(LAYOUT_UNIFIED, "rootfs/bin/sh", &rel) == DEST_ROOTFS);
        CHECK_STR(rel, "bin/sh");
        CHECK(extract_route(LAYOUT_UNIFIED, "rootfs", &rel) == DEST_ROOTFS);
        CHECK_STR(rel, "");
        CHECK(extract_route(LAYOUT_UNIFIED, "rootfsX/a", &rel) == DEST_IGNORE);
        CHECK(extract_route(LAYOUT_UNIFIED, "metadata.yaml", &rel) == DEST_METADATA);
        CHECK(extract_route(LAYOUT_UNIFIED, "templates/h.tpl", &rel) == DEST_TEMPLATES);
        CHECK_STR(rel, "h.tpl");
        CHECK(extract_route(LAYOUT_META, "rootfs/bin/sh", &rel) == DEST_IGNORE);
        CHECK(extract_route(LAYOUT_ROOTFS, "metadata.yaml", &rel) == DEST_ROOTFS);
        CHECK_STR(rel, "metadata.yaml");
}

static void test_arch(void)
{
        CHECK_STR(arch_canonical("amd64"), "x86_64");
        CHECK_STR(arch_canonical("arm64"), "aarch64");
        CHECK_STR(arch_canonical("armhf"), "armv7l");
        CHECK(!arch_canonical("z80"));
        CHECK(arch_runs_on("i686", "x86_64"));
        CHECK(arch_runs_on("x86_64", "x86_64"));
        CHECK(!arch_runs_on("aarch64", "x86_64"));
        CHECK(!arch_runs_on("x86_64", "i686"));
        CHECK(arch_runs_on("armv7l", "aarch64"));
}

static int count(sqlite3 *db, const char *sql)
{
        sqlite3_stmt *st = NULL;
        int n = -1;

        if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
            sqlite3_step(st) == SQLITE_ROW)
                n = sqlite3_column_int(st, 0);
        sqlite3_finalize(st);
        return n;
}

static void test_migration(void)
{
        sqlite3 *db = NULL;
        vessel_error *err = NULL;

        CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
        sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL);
        CHECK(store_migrate(db, &err) == 0);
        CHECK(count(db, "SELECT max(version) FROM schema_version") == store_schema_latest());
        CHECK(count(db, "SELECT count(*) FROM profiles WHERE name = 'default'") == 1);
        /* Already migrated: nothing is applied twice. */
        CHECK(store_migrate(db, &err) == 0);
        CHECK(count(db, "SELECT count(*) FROM schema_version") == store_schema_latest());
        CHECK(count(db, "SELECT count(*) FROM profiles") == 1);
        /* The constraints hold: an alias needs its image, a profile in use stays. */
        CHECK(sqlite3_exec(db, "INSERT INTO image_aliases (name, fingerprint) VALUES ('a', 'x')",
                           NULL, NULL, NULL) != SQLITE_OK);
        CHECK(
            sqlite3_exec(
                db,
                "INSERT INTO instances (name, architecture, created_at) VALUES ('c1', 'x86_64', 1);"
                "INSERT INTO instance_profiles VALUES (1, 1, 0);",
                NULL, NULL, NULL) == SQLITE_OK);
        CHECK(sqlite3_exec(db, "DELETE FROM profiles WHERE name = 'default'", NULL, NULL, NULL) !=
              SQLITE_OK);
        CHECK(sqlite3_exec(db, "INSERT INTO devices (name, type) VALUES ('d', 'disk')", NULL, NULL,
                           NULL) != SQLITE_OK);
        /* A newer catalogue than this build knows is refused. */
        sqlite3_exec(db, "INSERT INTO schema_version VALUES (999, 0)", NULL, NULL, NULL);
        CHECK(store_migrate(db, &err) < 0 && err && strstr(err->msg, "newer"));
        vessel_error_free(&err);
        sqlite3_close(db);
}

int main(void)
{
        test_metadata_valid();
        test_metadata_errors();
        test_fingerprint();
        test_path_confinement();
        test_arch();
        test_migration();
        return check_report("test_manager");
}
