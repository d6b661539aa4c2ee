/* libFuzzer target for the seccomp section: whatever config parses must
 * compile into a BPF program of sane size, or fail with a message; never
 * crash or leak (libseccomp included). */
#include "seccomp_filter.h"
#include "spec.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <linux/filter.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct vessel_spec *spec = NULL;
        vessel_error *err = NULL;
        struct vessel_bpf bpf;

        if (vessel_spec_parse((const char *)data, size, &spec, &err) < 0) {
                vessel_error_free(&err);
                return 0;
        }
        if (seccomp_compile(&spec->linux_.seccomp, NULL, &bpf, &err) == 0) {
                if (spec->linux_.seccomp.present && (bpf.len == 0 || bpf.len > BPF_MAXINSNS))
                        abort();
                seccomp_bpf_clear(&bpf);
        } else if (!err || !err->msg) {
                abort(); /* a failure always says why */
        }
        vessel_error_free(&err);
        vessel_spec_free(spec);
        return 0;
}
