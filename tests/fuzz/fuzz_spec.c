/* libFuzzer target for the config parser: any input must either parse
 * into a consistent spec or fail with a message, without crashing or
 * leaking.  The same bytes are also fed to vessel_process_parse(). */
#include "spec.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ENSURE(cond)               \
        do {                       \
                if (!(cond))       \
                        abort();   \
        } while (0)

static void check_process(const struct vessel_process *p)
{
        ENSURE(p->args && p->n_args > 0 && p->args[p->n_args] == NULL);
        ENSURE(p->cwd && p->cwd[0] == '/');
        ENSURE(!p->env || p->env[p->n_env] == NULL);
}

static void check_spec(const struct vessel_spec *s)
{
        ENSURE(s->oci_version && s->oci_version[0] == '1');
        if (s->has_process)
                check_process(&s->process);
        for (size_t i = 0; i < s->n_mounts; i++) {
                const struct vessel_mount *m = &s->mounts[i];
                ENSURE(m->destination && m->destination[0] == '/');
                ENSURE(!m->opts.data || m->opts.data[m->opts.n_data] == NULL);
        }
        for (int i = 0; i < VESSEL_NS_COUNT; i++)
                ENSURE(!s->linux_.ns[i].path || s->linux_.ns[i].path[0] == '/');
        for (size_t i = 0; i < s->linux_.n_uid_mappings; i++)
                ENSURE(s->linux_.uid_mappings[i].size > 0);
        if (s->linux_.seccomp.present)
                ENSURE(s->linux_.seccomp.default_action != NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        const char *text = (const char *)data;
        struct vessel_spec *spec = NULL;
        struct vessel_process *proc = NULL;
        vessel_error *err = NULL;

        if (vessel_spec_parse(text, size, &spec, &err) == 0) {
                ENSURE(spec && !err);
                check_spec(spec);
                vessel_spec_free(spec);
        } else {
                ENSURE(!spec && err && err->msg && err->msg[0]);
                vessel_error_free(&err);
        }

        if (vessel_process_parse(text, size, &proc, &err) == 0) {
                ENSURE(proc && !err);
                check_process(proc);
                vessel_process_free(proc);
        } else {
                ENSURE(!proc && err && err->msg && err->msg[0]);
                vessel_error_free(&err);
        }
        return 0;
}
