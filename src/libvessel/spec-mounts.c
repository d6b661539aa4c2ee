/* spec-mounts.c: the "mounts" array of config.json (the options are
 * parsed by mount_opts.c). */
#include "spec-internal.h"

#include <string.h>

void spec_mount_clear(struct vessel_mount *m)
{
        free(m->destination);
        free(m->type);
        free(m->source);
        strv_free(m->options);
        mount_opts_free(&m->opts);
        free(m->uid_mappings);
        free(m->gid_mappings);
}

/* "/a//b/./c/" -> "/a/b/c"; relative paths are taken relative to "/".
 * ".." is kept: the runtime resolves destinations inside the rootfs. */
static char *normalize_dest(const char *s)
{
        char *out = xmalloc0(strlen(s) + 2);
        size_t n = 0;

        while (*s) {
                const char *end;

                while (*s == '/')
                        s++;
                if (!*s)
                        break;
                end = strchrnul(s, '/');
                if (end - s != 1 || s[0] != '.') {
                        out[n++] = '/';
                        memcpy(out + n, s, (size_t)(end - s));
                        n += (size_t)(end - s);
                }
                s = end;
        }
        if (n == 0)
                out[n++] = '/';
        out[n] = '\0';
        return out;
}

int spec_parse_mount(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_mount *m = item;
        _cleanup_free_ char *dest = NULL, *where = NULL;

        TRY(spec_required(spec_get_str(o, path, "destination", &dest, err), path, "destination",
                          err));
        if (!dest[0])
                return spec_fail(err, AT(path, "destination"), "must not be empty");
        m->destination = normalize_dest(dest);
        TRY(spec_get_str(o, path, "type", &m->type, err));
        TRY(spec_get_str(o, path, "source", &m->source, err));
        TRY(spec_get_strv(o, path, "options", &m->options, &m->n_options, err));
        where = spec_loc_path(AT(path, "options"));
        TRY(mount_options_parse(m->options, m->n_options, &m->opts, where, err));
        TRY(GET_OBJ_ARRAY(o, path, "uidMappings", m->uid_mappings, m->n_uid_mappings,
                          spec_parse_idmap, err));
        TRY(GET_OBJ_ARRAY(o, path, "gidMappings", m->gid_mappings, m->n_gid_mappings,
                          spec_parse_idmap, err));
        return 0;
}
