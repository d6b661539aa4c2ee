/* vesselctl.h: shared between the manager CLI's files.  The CLI parses
 * arguments and prints; the work is in src/manager/. */
#pragma once

#include <stdio.h>
#include <json-c/json.h>

#include "error.h"
#include "store.h"

struct ctl {
        const char *store_dir; /* --store, or NULL */
};

/* Print "vesselctl: MESSAGE" for err and return the exit status 1. */
int ctl_fail(vessel_error **err);
/* Print "vesselctl: ..." for a usage error, with a hint; returns 2. */
int ctl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Open the store chosen by --store, $VESSEL_STORE or the default. */
int ctl_store_open(struct ctl *c, struct vessel_store **s, vessel_error **err);
/* True when argv has -h/--help before "--"; prints help then. */
int cli_image(struct ctl *c, int argc, char **argv);

/* output.c */
enum out_format { OUT_TABLE, OUT_CSV, OUT_JSON, OUT_YAML };
int out_format_parse(const char *s, enum out_format *f);
struct table {
        size_t n_cols, n_rows;
        const char **header;
        char **cells; /* n_rows * n_cols, owned */
};
void table_init(struct table *t, const char **header, size_t n_cols);
void table_add(struct table *t, char **row); /* takes the strings */
void table_print(FILE *f, const struct table *t, enum out_format fmt);
void table_free(struct table *t);
/* json-c value as JSON or YAML on f. */
void out_print_value(FILE *f, json_object *v, enum out_format fmt);
/* 1.05MiB, as Incus prints sizes. */
char *out_size(int64_t bytes);
/* "Jan 5, 2024 at 12:00am (UTC)" (list) and "2024/01/05 00:00 UTC" (info). */
char *out_date_list(int64_t t);
char *out_date_info(int64_t t);
/* RFC 3339 in UTC; Go's zero time for 0, as Incus's JSON. */
char *out_date_json(int64_t t);
