#include "caps.h"
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>

int caps_last_cap(void)
{
        _cleanup_free_ char *buf = NULL;
        int64_t v;

        if (read_file_at(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", &buf, NULL, NULL) < 0)
                return CAP_LAST_CAP;
        buf[strcspn(buf, "\n")] = '\0';
        if (parse_int64(buf, &v) < 0 || v < 0 || v > 63)
                return CAP_LAST_CAP;
        return (int)v;
}

int caps_drop_bounding(const struct vessel_capabilities *c, vessel_error **err)
{
        int last = caps_last_cap();

        for (int cap = 0; cap <= last; cap++) {
                if (c->sets[VESSEL_CAP_BOUNDING] & (1ull << cap))
                        continue;
                if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
                        return vessel_error_sys(err, "prctl PR_CAPBSET_DROP %s",
                                                vessel_cap_name(cap) ? vessel_cap_name(cap) : "?");
        }
        return 0;
}

int caps_raise_effective(int cap, vessel_error **err)
{
        struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        struct __user_cap_data_struct data[2] = {0};

        if (syscall(SYS_capget, &hdr, data) < 0)
                return vessel_error_sys(err, "capget");
        data[cap / 32].effective |= 1u << (cap % 32);
        if (syscall(SYS_capset, &hdr, data) < 0)
                return vessel_error_sys(err, "capset: raise %s", vessel_cap_name(cap));
        return 0;
}

int caps_apply(const struct vessel_capabilities *c, vessel_error **err)
{
        struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
        struct __user_cap_data_struct data[2] = {0};
        uint64_t known = 0;
        int last = caps_last_cap();

        for (int cap = 0; cap <= last && cap < 64; cap++)
                known |= 1ull << cap;
        uint64_t eff = c->sets[VESSEL_CAP_EFFECTIVE] & known;
        uint64_t prm = c->sets[VESSEL_CAP_PERMITTED] & known;
        uint64_t inh = c->sets[VESSEL_CAP_INHERITABLE] & known;

        data[0].effective = (uint32_t)eff;
        data[1].effective = (uint32_t)(eff >> 32);
        data[0].permitted = (uint32_t)prm;
        data[1].permitted = (uint32_t)(prm >> 32);
        data[0].inheritable = (uint32_t)inh;
        data[1].inheritable = (uint32_t)(inh >> 32);
        if (syscall(SYS_capset, &hdr, data) < 0)
                return vessel_error_sys(err, "capset (process.capabilities)");

        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
                return vessel_error_sys(err, "prctl PR_CAP_AMBIENT_CLEAR_ALL");
        for (int cap = 0; cap <= last; cap++) {
                if (!(c->sets[VESSEL_CAP_AMBIENT] & (1ull << cap)))
                        continue;
                /* The kernel needs an ambient cap to be permitted and
                 * inheritable.  `runc spec` lists ambient caps that are not
                 * inheritable; runc and crun warn and go on: so do we. */
                if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap, 0, 0) < 0)
                        fprintf(stderr,
                                "vessel: warning: process.capabilities.ambient: cannot raise %s "
                                "(it must also be permitted and inheritable): %m\n",
                                vessel_cap_name(cap) ? vessel_cap_name(cap) : "?");
        }
        return 0;
}
