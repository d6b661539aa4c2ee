#include "namespaces.h"
#include "util.h"

#include <fcntl.h>
#include <sched.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/netlink.h>
#include <linux/nsfs.h>

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const struct {
        int flag;
        const char *proc;
} ns_table[VESSEL_NS_COUNT] = {
        [VESSEL_NS_PID] = {CLONE_NEWPID, "pid"},
        [VESSEL_NS_NET] = {CLONE_NEWNET, "net"},
        [VESSEL_NS_MNT] = {CLONE_NEWNS, "mnt"},
        [VESSEL_NS_IPC] = {CLONE_NEWIPC, "ipc"},
        [VESSEL_NS_UTS] = {CLONE_NEWUTS, "uts"},
        [VESSEL_NS_USER] = {CLONE_NEWUSER, "user"},
        [VESSEL_NS_CGROUP] = {CLONE_NEWCGROUP, "cgroup"},
        [VESSEL_NS_TIME] = {CLONE_NEWTIME, "time"},
};

int ns_clone_flag(enum vessel_ns_type t)
{
        return ns_table[t].flag;
}

const char *ns_proc_name(enum vessel_ns_type t)
{
        return ns_table[t].proc;
}

int ns_open_checked(const char *path, enum vessel_ns_type t, vessel_error **err)
{
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        int type;

        if (fd < 0)
                return vessel_error_sys(err, "%s namespace path %s", vessel_ns_name(t), path);
        type = ioctl(fd, NS_GET_NSTYPE);
        if (type < 0) {
                int e = errno;
                close(fd);
                if (e == ENOTTY || e == EINVAL)
                        return vessel_error_msg(err, EINVAL, "%s namespace path %s: not a namespace",
                                                vessel_ns_name(t), path);
                return vessel_error_set(err, e, "%s namespace path %s: ioctl NS_GET_NSTYPE",
                                        vessel_ns_name(t), path);
        }
        if (type != ns_table[t].flag) {
                close(fd);
                return vessel_error_msg(err, EINVAL, "%s namespace path %s: not a %s namespace",
                                        vessel_ns_name(t), path, vessel_ns_name(t));
        }
        return fd;
}

int ns_join(int fd, enum vessel_ns_type t, const char *path, vessel_error **err)
{
        if (setns(fd, ns_table[t].flag) < 0)
                return vessel_error_sys(err, "setns into %s namespace %s", vessel_ns_name(t),
                                        path ? path : "");
        return 0;
}

int ns_loopback_up(vessel_error **err)
{
        struct ifreq ifr = {.ifr_name = "lo"};
        _cleanup_close_ int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

        /* Interface ioctls work on a socket of any family; netlink is
         * there even in a kernel built without IPv4. */
        if (fd < 0 && errno == EAFNOSUPPORT)
                fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0)
                return vessel_error_sys(err, "network namespace: socket to bring up lo");
        if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
                return vessel_error_sys(err, "network namespace: ioctl SIOCGIFFLAGS lo");
        if (ifr.ifr_flags & IFF_UP)
                return 0;
        ifr.ifr_flags |= IFF_UP;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
                return vessel_error_sys(err, "network namespace: bring up lo (ioctl SIOCSIFFLAGS)");
        return 0;
}
