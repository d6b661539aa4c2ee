#include "rlimits.h"
#include "util.h"

#include <stdio.h>

#include <sys/resource.h>

static void fmt_limit(char *buf, size_t n, rlim_t v)
{
        if (v == RLIM_INFINITY)
                snprintf(buf, n, "unlimited");
        else
                snprintf(buf, n, "%llu", (unsigned long long)v);
}

int rlimits_apply(const struct vessel_process *p, vessel_error **err)
{
        for (size_t i = 0; i < p->n_rlimits; i++) {
                const struct vessel_rlimit *rl = &p->rlimits[i];
                struct rlimit want = {.rlim_cur = rl->soft, .rlim_max = rl->hard}, cur;
                const char *name = vessel_rlimit_name(rl->resource);

                if (setrlimit((__rlimit_resource_t)rl->resource, &want) == 0)
                        continue;
                if (errno == EPERM && getrlimit((__rlimit_resource_t)rl->resource, &cur) == 0 &&
                    want.rlim_max > cur.rlim_max) {
                        char a[32], b[32];
                        fmt_limit(a, sizeof(a), cur.rlim_max);
                        fmt_limit(b, sizeof(b), want.rlim_max);
                        return vessel_error_set(err, EPERM,
                                                "process.rlimits[%zu]: %s: raising the hard limit "
                                                "from %s to %s needs CAP_SYS_RESOURCE, which this "
                                                "process does not have",
                                                i, name, a, b);
                }
                return vessel_error_sys(err, "process.rlimits[%zu]: setrlimit %s", i, name);
        }
        return 0;
}
