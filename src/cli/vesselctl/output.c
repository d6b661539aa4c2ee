/* output.c: tables (Incus's bordered style), CSV, JSON and YAML. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <yaml.h>

#include "confyaml.h"
#include "util.h"
#include "vesselctl.h"

int out_format_parse(const char *s, enum out_format *f)
{
        static const char *const names[] = {"table", "csv", "json", "yaml", "compact"};

        for (size_t i = 0; i < ARRAY_SIZE(names); i++)
                if (!strcmp(s, names[i])) {
                        *f = (enum out_format)i;
                        return 0;
                }
        return -EINVAL;
}

void table_init(struct table *t, const char **header, size_t n_cols)
{
        *t = (struct table){.n_cols = n_cols, .header = header};
}

void table_add(struct table *t, char **row)
{
        t->cells = realloc(t->cells, (t->n_rows + 1) * t->n_cols * sizeof(char *));
        if (!t->cells)
                abort();
        memcpy(t->cells + t->n_rows * t->n_cols, row, t->n_cols * sizeof(char *));
        t->n_rows++;
}

void table_free(struct table *t)
{
        for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
                free(t->cells[i]);
        free(t->cells);
}

/* Display width: UTF-8 continuation bytes take no column. */
static size_t width(const char *s)
{
        size_t w = 0;

        for (; *s; s++)
                w += ((unsigned char)*s & 0xc0) != 0x80;
        return w;
}

static void rule(FILE *f, const size_t *w, size_t n)
{
        for (size_t c = 0; c < n; c++) {
                fputc('+', f);
                for (size_t i = 0; i < w[c] + 2; i++)
                        fputc('-', f);
        }
        fputs("+\n", f);
}

static void row(FILE *f, const char *const *cells, const size_t *w, size_t n, bool center)
{
        for (size_t c = 0; c < n; c++) {
                size_t pad = w[c] - width(cells[c]), left = center ? pad / 2 : 0;
                fprintf(f, "| %*s%s%*s ", (int)left, "", cells[c], (int)(pad - left), "");
        }
        fputs("|\n", f);
}

static void csv_cell(FILE *f, const char *s)
{
        if (!strpbrk(s, ",\"\n")) {
                fputs(s, f);
                return;
        }
        fputc('"', f);
        for (; *s; s++) {
                if (*s == '"')
                        fputc('"', f);
                fputc(*s, f);
        }
        fputc('"', f);
}

/* Incus's compact table: no borders, columns two spaces apart. */
static void compact(FILE *f, const struct table *t, const size_t *w)
{
        for (size_t r = 0; r <= t->n_rows; r++)
                for (size_t c = 0; c < t->n_cols; c++) {
                        const char *s = r ? t->cells[(r - 1) * t->n_cols + c] : t->header[c];
                        if (c + 1 == t->n_cols)
                                fprintf(f, "%s\n", s);
                        else
                                fprintf(f, "%s%*s", s, (int)(w[c] - width(s) + 2), "");
                }
}

void table_print(FILE *f, const struct table *t, enum out_format fmt)
{
        _cleanup_free_ size_t *w = xmalloc0(t->n_cols * sizeof(size_t));

        if (fmt == OUT_CSV) {
                for (size_t r = 0; r < t->n_rows; r++)
                        for (size_t c = 0; c < t->n_cols; c++) {
                                csv_cell(f, t->cells[r * t->n_cols + c]);
                                fputc(c + 1 < t->n_cols ? ',' : '\n', f);
                        }
                return;
        }
        for (size_t c = 0; c < t->n_cols; c++) {
                w[c] = width(t->header[c]);
                for (size_t r = 0; r < t->n_rows; r++)
                        if (width(t->cells[r * t->n_cols + c]) > w[c])
                                w[c] = width(t->cells[r * t->n_cols + c]);
        }
        if (fmt == OUT_COMPACT) {
                compact(f, t, w);
                return;
        }
        rule(f, w, t->n_cols);
        row(f, t->header, w, t->n_cols, true);
        rule(f, w, t->n_cols);
        for (size_t r = 0; r < t->n_rows; r++)
                row(f, (const char *const *)t->cells + r * t->n_cols, w, t->n_cols, false);
        if (t->n_rows)
                rule(f, w, t->n_cols);
}

static int yaml_out(void *data, unsigned char *buf, size_t size)
{
        return fwrite(buf, 1, size, data) == size;
}

static void yaml_value(yaml_emitter_t *e, json_object *v)
{
        yaml_event_t ev;

        switch (json_object_get_type(v)) {
        case json_type_object:
                yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
                yaml_emitter_emit(e, &ev);
                json_object_object_foreach(v, key, val)
                {
                        yaml_emit_scalar(e, key, true);
                        yaml_value(e, val);
                }
                yaml_mapping_end_event_initialize(&ev);
                yaml_emitter_emit(e, &ev);
                break;
        case json_type_array:
                yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
                yaml_emitter_emit(e, &ev);
                for (size_t i = 0; i < json_object_array_length(v); i++)
                        yaml_value(e, json_object_array_get_idx(v, i));
                yaml_sequence_end_event_initialize(&ev);
                yaml_emitter_emit(e, &ev);
                break;
        case json_type_string:
                /* Strings that would read back as numbers or booleans get quoted. */
                yaml_emit_scalar(e, json_object_get_string(v), false);
                break;
        case json_type_null:
                yaml_emit_scalar(e, "null", true);
                break;
        default:
                yaml_emit_scalar(e, json_object_get_string(v), true);
                break;
        }
}

void out_print_value(FILE *f, json_object *v, enum out_format fmt)
{
        yaml_emitter_t e;
        yaml_event_t ev;

        if (fmt != OUT_YAML) {
                fprintf(f, "%s\n",
                        json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE));
                return;
        }
        yaml_emitter_initialize(&e);
        yaml_emitter_set_output(&e, yaml_out, f);
        yaml_emitter_set_unicode(&e, 1);
        yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
        yaml_emitter_emit(&e, &ev);
        yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
        yaml_emitter_emit(&e, &ev);
        yaml_value(&e, v);
        yaml_document_end_event_initialize(&ev, 1);
        yaml_emitter_emit(&e, &ev);
        yaml_stream_end_event_initialize(&ev);
        yaml_emitter_emit(&e, &ev);
        yaml_emitter_flush(&e);
        yaml_emitter_delete(&e);
}

char *out_size(int64_t bytes)
{
        static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
        double v = (double)bytes;
        size_t u = 0;

        if (bytes < 1024)
                return xasprintf("%" PRId64 "B", bytes);
        v /= 1024;
        while (v >= 1024 && u + 1 < ARRAY_SIZE(units)) {
                v /= 1024;
                u++;
        }
        return xasprintf("%.2f%s", v, units[u]);
}

static struct tm utc(int64_t t)
{
        time_t tt = (time_t)t;
        struct tm tm;

        gmtime_r(&tt, &tm);
        return tm;
}

char *out_date_list(int64_t t)
{
        struct tm tm = utc(t);
        char mon[8], ampm[4];
        int h;

        strftime(mon, sizeof(mon), "%b", &tm);
        h = tm.tm_hour % 12 ? tm.tm_hour % 12 : 12;
        snprintf(ampm, sizeof(ampm), "%s", tm.tm_hour < 12 ? "am" : "pm");
        return xasprintf("%s %d, %d at %d:%02d%s (UTC)", mon, tm.tm_mday, tm.tm_year + 1900, h,
                         tm.tm_min, ampm);
}

char *out_date_info(int64_t t)
{
        struct tm tm = utc(t);
        char buf[64];

        strftime(buf, sizeof(buf), "%Y/%m/%d %H:%M UTC", &tm);
        return xstrdup(buf);
}

char *out_date_json(int64_t t)
{
        struct tm tm = utc(t);
        char buf[64];

        if (t == 0)
                return xstrdup("0001-01-01T00:00:00Z");
        strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
        return xstrdup(buf);
}

json_object *kv_json(const struct kvlist *l)
{
        json_object *o = json_object_new_object();

        for (size_t k = 0; k < l->n; k++)
                json_object_object_add(o, l->v[k].key, json_object_new_string(l->v[k].value));
        return o;
}

json_object *devices_json(const struct devlist *l)
{
        json_object *o = json_object_new_object();

        for (size_t k = 0; k < l->n; k++) {
                json_object *d = json_object_new_object();
                json_object_object_add(d, "type", json_object_new_string(l->v[k].type));
                for (size_t i = 0; i < l->v[k].cfg.n; i++)
                        json_object_object_add(d, l->v[k].cfg.v[i].key,
                                               json_object_new_string(l->v[k].cfg.v[i].value));
                json_object_object_add(o, l->v[k].name, d);
        }
        return o;
}

void out_print_list(json_object *arr, struct table *t, enum out_format fmt)
{
        if (fmt == OUT_JSON || fmt == OUT_YAML)
                out_print_value(stdout, arr, fmt);
        else
                table_print(stdout, t, fmt);
        json_object_put(arr);
        table_free(t);
}
