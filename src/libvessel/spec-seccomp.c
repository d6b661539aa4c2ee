/* spec-seccomp.c: linux.seccomp, checked against the vocabulary of
 * names.c; compiled by seccomp.c. */
#include "spec-internal.h"

#include <string.h>

static void syscall_clear(struct vessel_seccomp_syscall *s)
{
        strv_free(s->names);
        free(s->action);
        for (size_t i = 0; i < s->n_args; i++)
                free(s->args[i].op);
        free(s->args);
}

void spec_seccomp_clear(struct vessel_seccomp *s)
{
        free(s->default_action);
        strv_free(s->architectures);
        strv_free(s->flags);
        free(s->listener_path);
        free(s->listener_metadata);
        FREE_ARRAY(s->syscalls, s->n_syscalls, syscall_clear);
}

static int parse_seccomp_arg(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_seccomp_arg *a = item;
        uint64_t index;

        /* syscalls have at most 6 arguments */
        TRY(spec_required(spec_get_uint(o, path, "index", 0, 5, &index, err), path, "index", err));
        a->index = (uint32_t)index;
        TRY(spec_required(spec_get_uint(o, path, "value", 0, UINT64_MAX, &a->value, err), path,
                          "value", err));
        TRY(spec_get_uint(o, path, "valueTwo", 0, UINT64_MAX, &a->value_two, err));
        TRY(spec_required(
            spec_get_name(o, path, "op", vessel_seccomp_op_names, "seccomp operator", &a->op, err),
            path, "op", err));
        return 0;
}

static int parse_syscall(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_seccomp_syscall *s = item;
        int r;

        TRY(spec_required(spec_get_strv(o, path, "names", &s->names, &s->n_names, err), path,
                          "names", err));
        TRY(spec_required(spec_get_name(o, path, "action", vessel_seccomp_action_names,
                                        "seccomp action", &s->action, err),
                          path, "action", err));
        TRY(r = spec_get_u32(o, path, "errnoRet", &s->errno_ret, err));
        s->has_errno_ret = r > 0;
        TRY(GET_OBJ_ARRAY(o, path, "args", s->args, s->n_args, parse_seccomp_arg, err));
        return 0;
}

int spec_parse_seccomp(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_seccomp *sc = item;
        int r;

        sc->present = true;
        TRY(spec_required(spec_get_name(o, w, "defaultAction", vessel_seccomp_action_names,
                                        "seccomp action", &sc->default_action, err),
                          w, "defaultAction", err));
        if (!strcmp(sc->default_action, "SCMP_ACT_NOTIFY"))
                return spec_fail(err, AT(w, "defaultAction"),
                                 "SCMP_ACT_NOTIFY cannot be the default action");
        TRY(r = spec_get_u32(o, w, "defaultErrnoRet", &sc->default_errno_ret, err));
        sc->has_default_errno_ret = r > 0;
        TRY(spec_get_names(o, w, "architectures", vessel_seccomp_arch_names, "seccomp architecture",
                           &sc->architectures, &sc->n_architectures, err));
        TRY(spec_get_names(o, w, "flags", vessel_seccomp_flag_names, "seccomp flag", &sc->flags,
                           &sc->n_flags, err));
        TRY(spec_get_str(o, w, "listenerPath", &sc->listener_path, err));
        TRY(spec_get_str(o, w, "listenerMetadata", &sc->listener_metadata, err));
        TRY(GET_OBJ_ARRAY(o, w, "syscalls", sc->syscalls, sc->n_syscalls, parse_syscall, err));
        for (size_t i = 0; i < sc->n_syscalls; i++)
                if (!strcmp(sc->syscalls[i].action, "SCMP_ACT_NOTIFY") &&
                    !(sc->listener_path && sc->listener_path[0]))
                        return spec_fail(err, AT(w, "listenerPath"),
                                         "required when SCMP_ACT_NOTIFY is used");
        return 0;
}
