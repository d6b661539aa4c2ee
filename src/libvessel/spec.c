/* spec.c: parse and validate an OCI runtime config.json (runtime-spec 1.x)
 * into the structs of spec.h.  Everything the runtime will act on is
 * checked here, so that a bad config fails before anything is created.
 *
 * This file has the entry points (parse, load, free) and the top level
 * (ociVersion, root, hostname, domainname, annotations); each section has
 * its own file: spec-process.c, spec-mounts.c, spec-hooks.c, spec-linux.c,
 * spec-resources.c, spec-seccomp.c; spec-json.c has the typed JSON getters
 * they share (spec-internal.h), spec-default.c the config of `vessel spec`.
 *
 * Unknown keys are ignored and JSON null counts as absent.  Every error
 * message starts with the JSON path of the offending value. */
#include "spec-internal.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>

#define HOST_NAME_MAX_ 64 /* sethostname(2)/setdomainname(2) limit */

void vessel_process_free(struct vessel_process *p)
{
        if (!p)
                return;
        spec_process_clear(p);
        free(p);
}

void vessel_spec_free(struct vessel_spec *s)
{
        if (!s)
                return;
        free(s->oci_version);
        free(s->root.path);
        spec_process_clear(&s->process);
        free(s->hostname);
        free(s->domainname);
        FREE_ARRAY(s->mounts, s->n_mounts, spec_mount_clear);
        spec_hooks_clear(&s->hooks);
        spec_kv_free(s->annotations, s->n_annotations);
        spec_linux_clear(&s->linux_);
        free(s);
}

/* ---- the top level ---- */

static int check_version(const char *v, vessel_error **err)
{
        const char *dot = strchr(v, '.');

        if (!dot || dot == v || strspn(v, "0123456789") != (size_t)(dot - v) || dot[1] < '0' ||
            dot[1] > '9')
                return spec_fail(err, AT("", "ociVersion"), "invalid version \"%s\"", v);
        if (dot - v != 1 || v[0] != '1')
                return spec_fail(err, AT("", "ociVersion"),
                                 "unsupported version \"%s\" (this runtime supports 1.x)", v);
        return 0;
}

static int check_host_name(const char *s, const char *key, vessel_error **err)
{
        if (s && strlen(s) > HOST_NAME_MAX_)
                return spec_fail(err, AT("", key), "longer than %d bytes", HOST_NAME_MAX_);
        return 0;
}

static int parse_root(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_spec *s = item;

        TRY(spec_required(spec_get_str(o, w, "path", &s->root.path, err), w, "path", err));
        if (!s->root.path[0])
                return spec_fail(err, AT(w, "path"), "must not be empty");
        TRY(spec_get_bool(o, w, "readonly", &s->root.readonly, err));
        return 0;
}

static int parse_spec_obj(json_object *o, struct vessel_spec *s, vessel_error **err)
{
        int r;

        TRY(spec_required(spec_get_str(o, "", "ociVersion", &s->oci_version, err), "", "ociVersion",
                          err));
        TRY(check_version(s->oci_version, err));
        TRY(spec_get_sub(o, "", "root", parse_root, s, err));
        TRY(r = spec_get_sub(o, "", "process", spec_parse_process, &s->process, err));
        s->has_process = r > 0;
        TRY(spec_get_str(o, "", "hostname", &s->hostname, err));
        TRY(check_host_name(s->hostname, "hostname", err));
        TRY(spec_get_str(o, "", "domainname", &s->domainname, err));
        TRY(check_host_name(s->domainname, "domainname", err));
        TRY(GET_OBJ_ARRAY(o, "", "mounts", s->mounts, s->n_mounts, spec_parse_mount, err));
        TRY(spec_get_sub(o, "", "hooks", spec_parse_hooks, &s->hooks, err));
        TRY(spec_get_kv(o, "", "annotations", &s->annotations, &s->n_annotations, err));
        TRY(r = spec_get_sub(o, "", "linux", spec_parse_linux, &s->linux_, err));
        s->has_linux = r > 0;
        return 0;
}

static void offset_to_line_col(const char *text, size_t off, size_t *line, size_t *col)
{
        size_t start = 0;

        *line = 1;
        for (size_t i = 0; i < off; i++) {
                if (text[i] == '\n') {
                        (*line)++;
                        start = i + 1;
                }
        }
        *col = off - start + 1;
}

static int json_error(vessel_error **err, const char *source, const char *text, size_t off,
                      const char *what)
{
        size_t line, col;

        offset_to_line_col(text, off, &line, &col);
        return vessel_error_msg(err, EINVAL, "%s%sinvalid JSON at line %zu, column %zu: %s",
                                source ? source : "", source ? ": " : "", line, col, what);
}

/* Parse a JSON text that must hold a single object. */
static int parse_json_object(const char *text, size_t len, const char *source, json_object **out,
                             vessel_error **err)
{
        json_tokener *tok;
        json_object *obj;
        enum json_tokener_error jerr;
        bool at_eof = false;
        size_t end;

        if (!text)
                text = "";
        if (len > INT_MAX)
                return vessel_error_set(err, EFBIG, "%s", source ? source : "config");
        tok = json_tokener_new();
        if (!tok)
                abort();
        json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
        obj = json_tokener_parse_ex(tok, text, (int)len);
        jerr = json_tokener_get_error(tok);
        end = json_tokener_get_parse_end(tok);
        if (jerr == json_tokener_continue) {
                /* A literal or number at the very end waits for a terminator. */
                obj = json_tokener_parse_ex(tok, "", 1);
                jerr = json_tokener_get_error(tok);
                at_eof = true;
        }
        json_tokener_free(tok);

        if (jerr != json_tokener_success && at_eof) {
                json_object_put(obj);
                return json_error(err, source, text, len, "unexpected end of input");
        }
        if (jerr != json_tokener_success) {
                json_object_put(obj);
                return json_error(err, source, text, end > len ? len : end,
                                  json_tokener_error_desc(jerr));
        }
        for (size_t i = end; i < len; i++) {
                if (!strchr(" \t\r\n", text[i]) || !text[i]) {
                        json_object_put(obj);
                        return json_error(err, source, text, i, "unexpected data after the value");
                }
        }
        if (!json_object_is_type(obj, json_type_object)) {
                json_object_put(obj);
                return vessel_error_msg(err, EINVAL, "%s%sexpected a JSON object",
                                        source ? source : "", source ? ": " : "");
        }
        *out = obj;
        return 0;
}

int vessel_spec_parse_named(const char *json, size_t len, const char *source,
                            struct vessel_spec **out, vessel_error **err)
{
        struct vessel_spec *s;
        json_object *root;
        int r;

        r = parse_json_object(json, len, source, &root, err);
        if (r < 0)
                return r;
        s = xmalloc0(sizeof(*s));
        r = parse_spec_obj(root, s, err);
        json_object_put(root);
        if (r < 0) {
                vessel_spec_free(s);
                return r;
        }
        *out = s;
        return 0;
}

int vessel_spec_parse(const char *json, size_t len, struct vessel_spec **out, vessel_error **err)
{
        return vessel_spec_parse_named(json, len, "config.json", out, err);
}

int vessel_spec_load(const char *path, struct vessel_spec **out, vessel_error **err)
{
        _cleanup_free_ char *text = NULL;
        size_t len = 0;
        int r;

        r = read_file_at(AT_FDCWD, path, &text, &len, err);
        if (r < 0)
                return r;
        return vessel_spec_parse_named(text, len, path, out, err);
}

int vessel_process_parse(const char *json, size_t len, struct vessel_process **out,
                         vessel_error **err)
{
        struct vessel_process *p;
        json_object *root;
        int r;

        r = parse_json_object(json, len, "process.json", &root, err);
        if (r < 0)
                return r;
        p = xmalloc0(sizeof(*p));
        r = spec_parse_process(root, "process", p, err);
        json_object_put(root);
        if (r < 0) {
                vessel_process_free(p);
                return r;
        }
        *out = p;
        return 0;
}
