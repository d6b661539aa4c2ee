#include "idmap.h"
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>

char *idmap_format(const struct vessel_idmap *m, size_t n)
{
        size_t cap = n * 36 + 1, off = 0;
        char *s = xmalloc0(cap);

        for (size_t i = 0; i < n; i++)
                off += (size_t)snprintf(s + off, cap - off, "%u %u %u\n", m[i].container_id,
                                        m[i].host_id, m[i].size);
        return s;
}

int64_t idmap_to_host(const struct vessel_idmap *m, size_t n, uint32_t id)
{
        for (size_t i = 0; i < n; i++)
                if (id >= m[i].container_id &&
                    (uint64_t)id < (uint64_t)m[i].container_id + m[i].size)
                        return (int64_t)m[i].host_id + (id - m[i].container_id);
        return -1;
}

static bool ranges_overlap(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
        return (uint64_t)a < (uint64_t)b + blen && (uint64_t)b < (uint64_t)a + alen;
}

int idmap_validate(const struct vessel_idmap *m, size_t n, const char *what, vessel_error **err)
{
        if (n > 340)
                return vessel_error_msg(err, EINVAL, "%s: at most 340 ranges are allowed", what);
        for (size_t i = 0; i < n; i++) {
                if (m[i].size == 0)
                        return vessel_error_msg(err, EINVAL, "%s[%zu].size: must be > 0", what, i);
                for (size_t j = 0; j < i; j++) {
                        if (ranges_overlap(m[i].container_id, m[i].size, m[j].container_id,
                                           m[j].size))
                                return vessel_error_msg(
                                    err, EINVAL, "%s[%zu]: containerID range overlaps %s[%zu]",
                                    what, i, what, j);
                        if (ranges_overlap(m[i].host_id, m[i].size, m[j].host_id, m[j].size))
                                return vessel_error_msg(err, EINVAL,
                                                        "%s[%zu]: hostID range overlaps %s[%zu]",
                                                        what, i, what, j);
                }
        }
        return 0;
}

static int write_proc(pid_t pid, const char *file, const char *text, vessel_error **err)
{
        char path[64];
        snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
        return write_file_at(AT_FDCWD, path, text, strlen(text), err);
}

/* Run newuidmap/newgidmap PID cid hid size ... */
static int run_helper(const char *helper, pid_t pid, const struct vessel_idmap *m, size_t n,
                      vessel_error **err)
{
        char **argv = xmalloc0(sizeof(char *) * (n * 3 + 3));
        size_t a = 0;
        int status;
        pid_t child;

        argv[a++] = xstrdup(helper);
        argv[a++] = xasprintf("%d", (int)pid);
        for (size_t i = 0; i < n; i++) {
                argv[a++] = xasprintf("%u", m[i].container_id);
                argv[a++] = xasprintf("%u", m[i].host_id);
                argv[a++] = xasprintf("%u", m[i].size);
        }
        child = fork();
        if (child == 0) {
                execvp(helper, argv);
                _exit(127);
        }
        strv_free(argv);
        if (child < 0)
                return vessel_error_sys(err, "fork %s", helper);
        while (waitpid(child, &status, 0) < 0)
                if (errno != EINTR)
                        return vessel_error_sys(err, "waitpid %s", helper);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                return vessel_error_set(err, EPERM, "%s failed (status %d)%s", helper, status,
                                        WIFEXITED(status) && WEXITSTATUS(status) == 127
                                            ? ": not installed (package uidmap)"
                                            : "");
        return 0;
}

static bool only_own_id(const struct vessel_idmap *m, size_t n, uint32_t own)
{
        return n == 1 && m[0].size == 1 && m[0].host_id == own;
}

int idmap_userns_fd(const struct vessel_idmap *uids, size_t nu, const struct vessel_idmap *gids,
                    size_t ng, vessel_error **err)
{
        struct vessel_linux lx = {.uid_mappings = (struct vessel_idmap *)uids,
                                  .n_uid_mappings = nu,
                                  .gid_mappings = (struct vessel_idmap *)gids,
                                  .n_gid_mappings = ng};
        int ready[2], fd = -1, r;
        char path[64], c;
        pid_t pid;

        if (pipe2(ready, O_CLOEXEC) < 0)
                return vessel_error_sys(err, "pipe");
        pid = fork();
        if (pid < 0) {
                r = vessel_error_sys(err, "fork");
                close(ready[0]);
                close(ready[1]);
                return r;
        }
        if (pid == 0) {
                /* Only a holder of the namespace: it waits to be killed. */
                close(ready[0]);
                c = unshare(CLONE_NEWUSER) == 0 ? 'y' : 'n';
                if (write(ready[1], &c, 1) != 1 || c != 'y')
                        _exit(1);
                for (;;)
                        pause();
        }
        close(ready[1]);
        if (read(ready[0], &c, 1) != 1 || c != 'y') {
                r = vessel_error_msg(err, EPERM, "idmapped mount: cannot create a user namespace");
                goto out;
        }
        if ((r = idmap_write(pid, &lx, err)) < 0)
                goto out;
        snprintf(path, sizeof(path), "/proc/%d/ns/user", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        r = fd < 0 ? vessel_error_sys(err, "open %s", path) : fd;
out:
        close(ready[0]);
        kill(pid, SIGKILL);
        while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
                ;
        return r;
}

int idmap_write(pid_t pid, const struct vessel_linux *lx, vessel_error **err)
{
        _cleanup_free_ char *uids = idmap_format(lx->uid_mappings, lx->n_uid_mappings);
        _cleanup_free_ char *gids = idmap_format(lx->gid_mappings, lx->n_gid_mappings);
        bool root = geteuid() == 0;
        int r;

        if (root || only_own_id(lx->gid_mappings, lx->n_gid_mappings, getegid())) {
                if (!root) {
                        /* An unprivileged writer may only map its own gid after
                         * setgroups has been denied. */
                        r = write_proc(pid, "setgroups", "deny", err);
                        if (r < 0)
                                return r;
                }
                if (lx->n_gid_mappings > 0 && (r = write_proc(pid, "gid_map", gids, err)) < 0)
                        return vessel_error_prefix(err, "linux.gidMappings");
        } else if ((r = run_helper("newgidmap", pid, lx->gid_mappings, lx->n_gid_mappings, err)) <
                   0) {
                return r;
        }
        if (root || only_own_id(lx->uid_mappings, lx->n_uid_mappings, geteuid())) {
                if (lx->n_uid_mappings > 0 && (r = write_proc(pid, "uid_map", uids, err)) < 0)
                        return vessel_error_prefix(err, "linux.uidMappings");
        } else if ((r = run_helper("newuidmap", pid, lx->uid_mappings, lx->n_uid_mappings, err)) <
                   0) {
                return r;
        }
        return 0;
}

int idmap_subid_find(const char *text, const char *name, uint32_t id, uint32_t *start,
                     uint32_t *count)
{
        char idstr[16];
        const char *line = text;

        snprintf(idstr, sizeof(idstr), "%u", id);
        while (line && *line) {
                const char *end = strchr(line, '\n');
                size_t len = end ? (size_t)(end - line) : strlen(line);
                _cleanup_free_ char *l = strndup(line, len);
                char *save = NULL, *who = strtok_r(l, ":", &save), *s = strtok_r(NULL, ":", &save),
                     *c = strtok_r(NULL, ":\r", &save);
                int64_t v1, v2;

                line = end ? end + 1 : NULL;
                if (!who || !s || !c || who[0] == '#')
                        continue;
                if (strcmp(who, idstr) && (!name || strcmp(who, name)))
                        continue;
                if (parse_int64(s, &v1) < 0 || parse_int64(c, &v2) < 0 || v1 < 0 || v2 <= 0 ||
                    v1 > UINT32_MAX || v2 > UINT32_MAX - 1 || v1 + v2 > UINT32_MAX)
                        continue;
                *start = (uint32_t)v1;
                *count = (uint32_t)v2;
                return 0;
        }
        return -ENOENT;
}

static size_t default_map(const char *file, const char *name, uint32_t own,
                          struct vessel_idmap **out)
{
        _cleanup_free_ char *text = NULL;
        struct vessel_idmap *m = xmalloc0(2 * sizeof(*m));
        uint32_t start, count;
        size_t n = 1;

        m[0] = (struct vessel_idmap){.container_id = 0, .host_id = own, .size = 1};
        if (read_file_at(AT_FDCWD, file, &text, NULL, NULL) == 0 &&
            idmap_subid_find(text, name, own, &start, &count) == 0) {
                /* Where the subordinate range holds the own id, the range
                 * before it is enough; nothing may map twice. */
                if (own >= start && own - start < count)
                        count = own - start;
                if (count > 0)
                        m[n++] = (struct vessel_idmap){
                            .container_id = 1, .host_id = start, .size = count};
        }
        *out = m;
        return n;
}

/* The host's name for uid, from /etc/passwd (no NSS: vessel is static;
 * /etc/subuid names local users). */
static char *local_user_name(uid_t uid)
{
        FILE *f = fopen("/etc/passwd", "re");
        char *name;

        if (!f)
                return NULL;
        name = passwd_field(f, uid, 0);
        fclose(f);
        return name;
}

void idmap_default(struct vessel_linux *lx)
{
        _cleanup_free_ char *name = local_user_name(geteuid());

        /* /etc/subgid is keyed by user names too. */
        if (!lx->n_uid_mappings)
                lx->n_uid_mappings = default_map("/etc/subuid", name, geteuid(), &lx->uid_mappings);
        if (!lx->n_gid_mappings)
                lx->n_gid_mappings = default_map("/etc/subgid", name, getegid(), &lx->gid_mappings);
}

int idmap_userns_owner(const struct vessel_spec *spec, int *uid, int *gid, vessel_error **err)
{
        const struct vessel_linux *lx = &spec->linux_;
        const char *v = NULL;
        int64_t u, g;

        *uid = *gid = -1;
        for (size_t i = 0; i < spec->n_annotations; i++)
                if (!strcmp(spec->annotations[i].key, USERNS_OWNER_ANNOTATION))
                        v = spec->annotations[i].value;
        if (!v)
                return 0;
        if (strcmp(v, "mapped-root"))
                return vessel_error_msg(err, EINVAL, "annotations[\"%s\"]: \"%s\" is not mapped-root",
                                        USERNS_OWNER_ANNOTATION, v);
        if (!lx->ns[VESSEL_NS_USER].present || lx->ns[VESSEL_NS_USER].path)
                return vessel_error_msg(err, EINVAL,
                                        "annotations[\"%s\"]: needs a new user namespace",
                                        USERNS_OWNER_ANNOTATION);
        for (int t = 0; t < VESSEL_NS_COUNT; t++)
                if (lx->ns[t].present && lx->ns[t].path)
                        return vessel_error_msg(err, EINVAL,
                                                "annotations[\"%s\"]: not with a %s namespace "
                                                "joined by path (joining takes the host's "
                                                "privilege)",
                                                USERNS_OWNER_ANNOTATION, vessel_ns_name(t));
        if (geteuid() != 0)
                return 0; /* rootless: the namespace is the caller's anyway */
        u = idmap_to_host(lx->uid_mappings, lx->n_uid_mappings, 0);
        g = idmap_to_host(lx->gid_mappings, lx->n_gid_mappings, 0);
        if (u <= 0 || g <= 0)
                return vessel_error_msg(err, EINVAL,
                                        "annotations[\"%s\"]: the container's root must map to "
                                        "a host uid and gid other than 0",
                                        USERNS_OWNER_ANNOTATION);
        *uid = (int)u;
        *gid = (int)g;
        return 1;
}
