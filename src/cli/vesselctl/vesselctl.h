/* vesselctl.h: shared between the manager CLI's files.  The CLI parses
 * arguments and prints; the work is in src/manager/. */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <json-c/json.h>

#include "config.h"
#include "error.h"
#include "store.h"

struct ctl {
        const char *store_dir; /* --store, or NULL */
};

/* Print "vesselctl: MESSAGE" for err and return the exit status 1. */
int ctl_fail(vessel_error **err);
/* Print "vesselctl: ..." for a usage error, with a hint; returns 2. */
int ctl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Open the store or return the command's failure. */
#define STORE_OR_FAIL(c, s, err)                                                                   \
        do {                                                                                       \
                if (ctl_store_open((c), &(s), &(err)) < 0)                                         \
                        return ctl_fail(&(err));                                                   \
        } while (0)
/* After getopt_long returned '?': the usage error naming the option. */
int ctl_bad_option(const char *cmd, char **argv);
/* Open the store chosen by --store, $VESSEL_STORE or the default. */
int ctl_store_open(struct ctl *c, struct vessel_store **s, vessel_error **err);
/* A subcommand: fn gets argv from the subcommand's name on. */
struct ctl_cmd {
        const char *name;
        int (*fn)(struct ctl *c, int argc, char **argv);
        const char *summary;
        const char *help;
        const char *alias; /* "ls" for list, ... or NULL */
};
/* True when argv has -h/--help before "--". */
bool ctl_want_help(int argc, char **argv);
/* Find argv[1] in cmds (NULL-named end), print help or run it. */
int ctl_dispatch(struct ctl *c, const char *group, const char *usage, const struct ctl_cmd *cmds,
                 int argc, char **argv);
/* The group's usage with its commands' summaries. */
void ctl_group_usage(FILE *f, const char *usage, const struct ctl_cmd *cmds);

int cli_image(struct ctl *c, int argc, char **argv);
/* instance_cmds.c */
int cli_init(struct ctl *c, int argc, char **argv);
int cli_delete(struct ctl *c, int argc, char **argv);
int cli_rename(struct ctl *c, int argc, char **argv);
int cli_list(struct ctl *c, int argc, char **argv);
int cli_info(struct ctl *c, int argc, char **argv);
/* Hidden: __apply-templates NAME TRIGGER (instance_templates_apply). */
int cli_apply_templates(struct ctl *c, int argc, char **argv);
extern const char help_init[], help_delete[], help_rename[], help_list[], help_info[];
int cli_launch(struct ctl *c, int argc, char **argv);
/* run_cmds.c */
int cli_start(struct ctl *c, int argc, char **argv);
int cli_stop(struct ctl *c, int argc, char **argv);
int cli_restart(struct ctl *c, int argc, char **argv);
int cli_pause(struct ctl *c, int argc, char **argv);
int cli_resume(struct ctl *c, int argc, char **argv);
int cli_exec(struct ctl *c, int argc, char **argv);
int cli_console(struct ctl *c, int argc, char **argv);
int cli_monitor_exit(struct ctl *c, int argc, char **argv);
extern const char help_launch[], help_start[], help_stop[], help_restart[], help_pause[],
    help_resume[], help_exec[], help_console[];
/* config_cmds.c, profile_cmds.c */
int cli_config(struct ctl *c, int argc, char **argv);
int cli_profile(struct ctl *c, int argc, char **argv);
/* storage_cmds.c */
int cli_storage(struct ctl *c, int argc, char **argv);
/* snapshot_cmds.c; the table and JSON of snapshots are also info's. */
struct snapshot;
int cli_snapshot(struct ctl *c, int argc, char **argv);
json_object *snapshot_json(const struct snapshot *sn);
/* The table (and, arr not NULL, the JSON array) of snapshots v. */
struct table;
void snapshot_table_fill(struct table *t, json_object *arr, const struct snapshot *v, size_t n);
/* copy_cmds.c */
int cli_copy(struct ctl *c, int argc, char **argv);
int cli_move(struct ctl *c, int argc, char **argv);
extern const char help_copy[], help_move[];
/* file_cmds.c */
int cli_file(struct ctl *c, int argc, char **argv);
/* export_cmds.c */
int cli_export(struct ctl *c, int argc, char **argv);
int cli_import(struct ctl *c, int argc, char **argv);
extern const char help_export[], help_import[];

/* progress.c: a transfer's progress bar on stderr when it is a terminal
 * (nothing otherwise); xfer_bar_report is a struct xfer_progress's
 * report, with the bar as its data. */
struct xfer_bar {
        char *label;
        bool tty, shown;
        uint64_t start_ns, last_ns, done, total;
};
void xfer_bar_init(struct xfer_bar *b, const char *verb, const char *what);
void xfer_bar_report(void *data, uint64_t done, uint64_t total);
/* Seconds since init. */
double xfer_bar_seconds(const struct xfer_bar *b);
/* Clear the bar's line (before the final line or an error). */
void xfer_bar_end(struct xfer_bar *b);
/* The pure parts, for the unit tests: "96.0MiB", "1:05", and the line
 * for a terminal width columns wide. */
char *xfer_size(uint64_t bytes);
char *xfer_duration(double secs);
char *xfer_bar_format(const char *label, uint64_t done, uint64_t total, double secs, int width);

/* edit.c: $EDITOR on yaml, or stdin when it is not a terminal; apply is
 * called with the text until it succeeds (re-opening the editor after
 * an error when interactive). */
int ctl_edit(const char *yaml,
             int (*apply)(const char *text, size_t len, void *data, vessel_error **err), void *data,
             vessel_error **err);

/* output.c */
enum out_format { OUT_TABLE, OUT_CSV, OUT_JSON, OUT_YAML, OUT_COMPACT };
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
/* A list command's output: arr as JSON/YAML, else the table; frees both. */
void out_print_list(json_object *arr, struct table *t, enum out_format fmt);
/* 1.05MiB, as Incus prints sizes. */
char *out_size(int64_t bytes);
/* "Jan 5, 2024 at 12:00am (UTC)" (list) and "2024/01/05 00:00 UTC" (info). */
char *out_date_list(int64_t t);
char *out_date_info(int64_t t);
/* RFC 3339 in UTC; Go's zero time for 0, as Incus's JSON. */
char *out_date_json(int64_t t);
/* A configuration's keys and devices as JSON (for JSON and YAML output). */
json_object *kv_json(const struct kvlist *l);
json_object *devices_json(const struct devlist *l);

/* config_cmds.c: what `config` and `profile` share: the object they work
 * on and the commands on its keys and devices. */
struct conf_target {
        bool profile;
        const char *name;
};
int conf_cmd_set(struct ctl *c, const struct conf_target *t, char **args, int n);
int conf_cmd_unset(struct ctl *c, const struct conf_target *t, char **args, int n);
int conf_cmd_get(struct ctl *c, const struct conf_target *t, const char *key, bool expanded);
int conf_cmd_show(struct ctl *c, const struct conf_target *t, bool expanded);
int conf_cmd_edit(struct ctl *c, const struct conf_target *t);
/* argv[0] is "device". */
int conf_cmd_device(struct ctl *c, bool profile, int argc, char **argv);
