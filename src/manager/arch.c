/* arch.c: Incus's architecture names and the personalities a host runs. */
#include "arch.h"

#include <string.h>
#include <sys/utsname.h>

#include "util.h"

struct arch_name {
        const char *name;
        const char *aliases[6];
};

/* Incus's shared/osarch list: the name first, then what it also accepts. */
static const struct arch_name arches[] = {
    {"i686", {"i386", "i586", "386", "x86"}},
    {"x86_64", {"amd64"}},
    {"armv6l", {"armel", "armv6"}},
    {"armv7l", {"armhf", "armhfp", "armv7a", "armv7hl", "arm"}},
    {"aarch64", {"arm64", "arm64/v8"}},
    {"ppc", {"powerpc"}},
    {"ppc64", {"powerpc64"}},
    {"ppc64le", {"ppc64el"}},
    {"s390x", {}},
    {"mips", {}},
    {"mips64", {}},
    {"riscv32", {}},
    {"riscv64", {}},
    {"loongarch64", {}},
};

/* 64-bit hosts that also run their 32-bit sibling's binaries. */
static const char *const personalities[][2] = {
    {"x86_64", "i686"},
    {"aarch64", "armv7l"},
    {"aarch64", "armv6l"},
    {"ppc64", "ppc"},
};

const char *arch_canonical(const char *name)
{
        if (!name)
                return NULL;
        for (size_t i = 0; i < ARRAY_SIZE(arches); i++) {
                if (!strcmp(name, arches[i].name))
                        return arches[i].name;
                for (size_t j = 0; j < ARRAY_SIZE(arches[i].aliases) && arches[i].aliases[j]; j++)
                        if (!strcmp(name, arches[i].aliases[j]))
                                return arches[i].name;
        }
        return NULL;
}

const char *arch_host(void)
{
        struct utsname u;
        const char *a;

        if (uname(&u) < 0)
                return "unknown";
        a = arch_canonical(u.machine);
        return a ? a : "unknown";
}

bool arch_runs_on(const char *arch, const char *host)
{
        if (!arch || !host)
                return false;
        if (!strcmp(arch, host))
                return true;
        for (size_t i = 0; i < ARRAY_SIZE(personalities); i++)
                if (!strcmp(host, personalities[i][0]) && !strcmp(arch, personalities[i][1]))
                        return true;
        return false;
}
