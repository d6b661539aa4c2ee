/* rootless.c: the limits of a rootless store's instances (see
 * rootless.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rootless.h"
#include "util.h"

static bool key_true(const struct confset *c, const char *key)
{
        const char *v = kvlist_get(&c->config, key);
        bool on = false;

        return v && config_parse_bool(v, &on) == 0 && on;
}

static bool needs_cgroup(const char *key)
{
        return !strcmp(key, "limits.processes") || str_has_prefix(key, "limits.memory") ||
               str_has_prefix(key, "limits.cpu");
}

int rootless_config_check(const struct confset *c, bool cgroup_delegated, vessel_error **err)
{
        if (key_true(c, "security.privileged"))
                return vessel_error_msg(err, EPERM,
                                        "security.privileged=true: refused in a rootless store "
                                        "(a privileged instance's root is the host's root, which "
                                        "a non-root user cannot give)");
        if (key_true(c, "security.syscalls.intercept.mknod"))
                return vessel_error_msg(err, EPERM,
                                        "security.syscalls.intercept.mknod=true: refused in a "
                                        "rootless store (the monitor that would answer mknod "
                                        "runs as the user, who cannot create device nodes)");
        if (cgroup_delegated)
                return 0;
        for (size_t i = 0; i < c->config.n; i++)
                if (needs_cgroup(c->config.v[i].key))
                        return vessel_error_msg(
                            err, EPERM,
                            "%s: refused in a rootless store without a delegated cgroup: no "
                            "cgroup v2 subtree is writable by uid %u (its own cgroup is not), so "
                            "nothing could apply the limit; delegate one (systemd: Delegate=yes "
                            "for user@%u.service) or unset the key",
                            c->config.v[i].key, (unsigned)geteuid(), (unsigned)geteuid());
        return 0;
}

/* The cgroup2 mount point, from /proc/self/mountinfo. */
static char *cgroup2_mount(void)
{
        FILE *f = fopen("/proc/self/mountinfo", "re");
        char line[4096], *found = NULL;

        while (f && !found && fgets(line, sizeof(line), f)) {
                char mnt[4096], fstype[64];
                const char *dash = strstr(line, " - ");
                if (!dash || sscanf(dash, " - %63s", fstype) != 1 || strcmp(fstype, "cgroup2"))
                        continue;
                if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1)
                        found = xstrdup(mnt);
        }
        if (f)
                fclose(f);
        return found;
}

char *rootless_own_cgroup(void)
{
        _cleanup_free_ char *mnt = cgroup2_mount(), *text = NULL;
        char *line;

        if (!mnt || read_file_at(AT_FDCWD, "/proc/self/cgroup", &text, NULL, NULL) < 0)
                return NULL;
        for (line = text; line && *line;) {
                char *end = strchr(line, '\n');
                if (end)
                        *end = '\0';
                if (!strncmp(line, "0::", 3))
                        return xasprintf("%s%s", mnt, strcmp(line + 3, "/") ? line + 3 : "");
                line = end ? end + 1 : NULL;
        }
        return NULL;
}

bool rootless_cgroup_delegated(void)
{
        _cleanup_free_ char *own = rootless_own_cgroup();
        _cleanup_free_ char *procs = own ? xasprintf("%s/cgroup.procs", own) : NULL;

        return own && faccessat(AT_FDCWD, own, W_OK | X_OK, AT_EACCESS) == 0 &&
               faccessat(AT_FDCWD, procs, W_OK, AT_EACCESS) == 0;
}
