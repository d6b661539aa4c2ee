#include "state.h"
#include "cgroup.h"
#include "util.h"

#include <fcntl.h>
#include <stdlib.h>
#include <stdio.h>
#include <unistd.h>
#include <string.h>
#include <dirent.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <json-c/json.h>

const char *vessel_status_name(enum vessel_status s)
{
        static const char *const names[] = {"creating", "created", "running", "paused", "stopped"};
        return s < ARRAY_SIZE(names) ? names[s] : "unknown";
}

int state_check_id(const char *id, vessel_error **err)
{
        size_t n = id ? strlen(id) : 0;

        if (n == 0)
                return vessel_error_msg(err, EINVAL, "container id must not be empty");
        if (n > 1024)
                return vessel_error_msg(err, EINVAL, "container id is longer than 1024 bytes");
        /* Hidden names are the state root's own (state.h). */
        if (id[0] == '.')
                return vessel_error_msg(
                    err, EINVAL, "invalid container id \"%s\": it must not start with '.'", id);
        for (const char *p = id; *p; p++) {
                unsigned char c = (unsigned char)*p;
                if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-' || c == '.' || c == '+')
                        continue;
                return vessel_error_msg(err, EINVAL,
                                        "invalid container id \"%s\": only letters, digits and "
                                        "_ - . + are allowed",
                                        id);
        }
        return 0;
}

static int lock_dir(int fd, bool exclusive, const char *path, vessel_error **err)
{
        int r;
        do
                r = flock(fd, exclusive ? LOCK_EX : LOCK_SH);
        while (r < 0 && errno == EINTR);
        if (r < 0)
                return vessel_error_sys(err, "flock %s", path);
        return 0;
}

/* Hidden names (ids may not start with '.'): the command that made one,
 * by pid and start time, so that the collector knows when it is dead. */
#define NEW_PREFIX ".new-"
#define GONE_PREFIX ".gone-"

static char *hidden_name(const char *prefix)
{
        pid_t pid = getpid();

        /* The clock tells apart the names one process makes. */
        return xasprintf("%s%d-%llu-%llx", prefix, (int)pid, proc_start_time(pid, NULL),
                         (unsigned long long)now_ns_monotonic());
}

/* Is the command that made this hidden directory gone? */
static bool hidden_orphaned(const char *name)
{
        const char *p = strchr(name + 1, '-');
        unsigned long long start;
        int pid;

        if (!p || sscanf(p + 1, "%d-%llu-", &pid, &start) != 2 || pid <= 0)
                return false;
        return proc_start_time(pid, NULL) != start;
}

static int open_root(const char *root, bool create, vessel_error **err)
{
        int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 && errno == ENOENT && create) {
                if (mkdir_p(root, 0711, err) < 0)
                        return vessel_error_prefix(err, "state root");
                fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        }
        if (fd < 0)
                return vessel_error_sys(err, "open state root %s", root);
        return fd;
}

int state_dir_create(const char *root, const struct vessel_state *st, vessel_error **err)
{
        _cleanup_close_ int rootfd = -1, fd = -1;
        _cleanup_free_ char *tmp = hidden_name(NEW_PREFIX);
        int r;

        if ((r = state_check_id(st->id, err)) < 0)
                return r;
        if (strlen(st->id) > NAME_MAX)
                return vessel_error_msg(err, ENAMETOOLONG,
                                        "container id \"%.32s...\" is longer than %d bytes", st->id,
                                        NAME_MAX);
        if ((rootfd = open_root(root, true, err)) < 0)
                return rootfd;
        if (mkdirat(rootfd, tmp, 0700) < 0)
                return vessel_error_sys(err, "mkdir %s/%s", root, tmp);
        fd = openat(rootfd, tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                r = vessel_error_sys(err, "open %s/%s", root, tmp);
                unlinkat(rootfd, tmp, AT_REMOVEDIR);
                return r;
        }
        if ((r = lock_dir(fd, true, tmp, err)) < 0 || (r = state_write(fd, st, err)) < 0)
                goto fail;
        /* Published with its state.json in it, never empty. */
        if (renameat2(rootfd, tmp, rootfd, st->id, RENAME_NOREPLACE) < 0) {
                if (errno == EEXIST || errno == ENOTEMPTY)
                        r = vessel_error_msg(err, EEXIST, "container \"%s\" already exists",
                                             st->id);
                else
                        r = vessel_error_sys(err, "rename %s/%s to %s", root, tmp, st->id);
                goto fail;
        }
        return steal_fd(&fd);
fail:
        rm_rf_at(rootfd, tmp);
        return r;
}

/* Is fd still the directory published as root/id?  A delete renames it
 * away; a create may have put a new one there since. */
static bool still_published(int fd, const char *root, const char *id)
{
        _cleanup_free_ char *path = xasprintf("%s/%s", root, id);
        struct stat a, b;

        return fstat(fd, &a) == 0 && a.st_nlink > 0 && lstat(path, &b) == 0 &&
               a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

int state_dir_open(const char *root, const char *id, enum state_lock lock, vessel_error **err)
{
        _cleanup_free_ char *path = NULL;
        int fd, r;

        r = state_check_id(id, err);
        if (r < 0)
                return r;
        path = xasprintf("%s/%s", root, id);
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) {
                if (errno == ENOENT)
                        return vessel_error_msg(err, ENOENT, "container \"%s\" does not exist", id);
                return vessel_error_sys(err, "open %s", path);
        }
        if (lock == STATE_LOCK_NONE)
                return fd;
        r = lock_dir(fd, lock == STATE_LOCK_EXCLUSIVE, path, err);
        if (r < 0) {
                close(fd);
                return r;
        }
        /* A concurrent delete may have removed the directory while we waited. */
        if (!still_published(fd, root, id)) {
                close(fd);
                return vessel_error_msg(err, ENOENT, "container \"%s\" does not exist", id);
        }
        return fd;
}

int state_dir_remove(const char *root, const char *id)
{
        _cleanup_close_ int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        _cleanup_free_ char *gone = hidden_name(GONE_PREFIX);

        if (rfd < 0)
                return -errno;
        /* Gone for every reader at once; a delete killed while emptying it
         * leaves a hidden directory for state_root_gc(). */
        if (renameat(rfd, id, rfd, gone) < 0)
                return errno == ENOENT ? 0 : -errno;
        return rm_rf_at(rfd, gone);
}

void state_root_gc(const char *root)
{
        _cleanup_close_ int rfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        struct dirent *de;
        DIR *d;

        if (rfd < 0 || !(d = opendir(root)))
                return;
        while ((de = readdir(d)))
                if ((!strncmp(de->d_name, NEW_PREFIX, strlen(NEW_PREFIX)) ||
                     !strncmp(de->d_name, GONE_PREFIX, strlen(GONE_PREFIX))) &&
                    hidden_orphaned(de->d_name))
                        rm_rf_at(rfd, de->d_name);
        closedir(d);
}

static void add_str(json_object *o, const char *k, const char *v)
{
        if (v)
                json_object_object_add(o, k, json_object_new_string(v));
}

static json_object *annotations_obj(const struct vessel_state *st)
{
        json_object *a = json_object_new_object();
        for (size_t i = 0; i < st->n_annotations; i++)
                json_object_object_add(a, st->annotations[i].key,
                                       json_object_new_string(st->annotations[i].value));
        return a;
}

int state_write(int dirfd, const struct vessel_state *st, vessel_error **err)
{
        json_object *o = json_object_new_object();
        _cleanup_free_ char *path = NULL;
        const char *s;
        int r;

        add_str(o, "id", st->id);
        json_object_object_add(o, "pid", json_object_new_int(st->pid));
        json_object_object_add(o, "startTime", json_object_new_uint64(st->start_time));
        json_object_object_add(o, "started", json_object_new_boolean(st->started));
        add_str(o, "bundle", st->bundle);
        add_str(o, "rootfs", st->rootfs);
        add_str(o, "created", st->created);
        add_str(o, "owner", st->owner);
        add_str(o, "cgroupPath", st->cgroup_path);
        json_object_object_add(o, "systemd", json_object_new_boolean(st->use_systemd));
        json_object_object_add(o, "ready", json_object_new_boolean(st->ready));
        if (!st->ready) {
                json_object_object_add(o, "creatorPid", json_object_new_int(st->creator));
                json_object_object_add(o, "creatorStartTime",
                                       json_object_new_uint64(st->creator_start));
        }
        json_object_object_add(o, "annotations", annotations_obj(st));
        s = json_object_to_json_string_ext(o,
                                           JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        path = xasprintf("/proc/self/fd/%d/state.json", dirfd);
        r = write_file_atomic(path, s, strlen(s), 0600, err);
        json_object_put(o);
        return r;
}

static char *get_str(json_object *o, const char *k)
{
        json_object *v;
        if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_string))
                return NULL;
        return xstrdup(json_object_get_string(v));
}

int state_read(int dirfd, struct vessel_state *st, vessel_error **err)
{
        _cleanup_free_ char *buf = NULL;
        json_object *o, *v;
        int r;

        memset(st, 0, sizeof(*st));
        r = read_file_at(dirfd, "state.json", &buf, NULL, err);
        if (r < 0)
                return r;
        o = json_tokener_parse(buf);
        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return vessel_error_set(err, EINVAL, "state.json is corrupt");
        }
        st->id = get_str(o, "id");
        if (json_object_object_get_ex(o, "pid", &v))
                st->pid = json_object_get_int(v);
        if (json_object_object_get_ex(o, "startTime", &v))
                st->start_time = json_object_get_uint64(v);
        if (json_object_object_get_ex(o, "started", &v))
                st->started = json_object_get_boolean(v);
        if (json_object_object_get_ex(o, "systemd", &v))
                st->use_systemd = json_object_get_boolean(v);
        /* Written by a version without creator tracking: ready once it has a pid. */
        st->ready = st->pid > 0;
        if (json_object_object_get_ex(o, "ready", &v))
                st->ready = json_object_get_boolean(v);
        if (json_object_object_get_ex(o, "creatorPid", &v))
                st->creator = json_object_get_int(v);
        if (json_object_object_get_ex(o, "creatorStartTime", &v))
                st->creator_start = json_object_get_uint64(v);
        st->bundle = get_str(o, "bundle");
        st->rootfs = get_str(o, "rootfs");
        st->created = get_str(o, "created");
        st->owner = get_str(o, "owner");
        st->cgroup_path = get_str(o, "cgroupPath");
        if (json_object_object_get_ex(o, "annotations", &v) &&
            json_object_is_type(v, json_type_object)) {
                size_t n = (size_t)json_object_object_length(v), i = 0;
                st->annotations = xmalloc0(sizeof(*st->annotations) * (n ? n : 1));
                json_object_object_foreach(v, key, val)
                {
                        st->annotations[i].key = xstrdup(key);
                        st->annotations[i].value = xstrdup(json_object_get_string(val));
                        i++;
                }
                st->n_annotations = i;
        }
        json_object_put(o);
        return 0;
}

void state_clear(struct vessel_state *st)
{
        free(st->id);
        free(st->bundle);
        free(st->created);
        free(st->owner);
        free(st->rootfs);
        free(st->cgroup_path);
        for (size_t i = 0; i < st->n_annotations; i++) {
                free(st->annotations[i].key);
                free(st->annotations[i].value);
        }
        free(st->annotations);
        memset(st, 0, sizeof(*st));
}

unsigned long long proc_start_time(pid_t pid, char *state_char)
{
        char path[64], buf[1024];
        _cleanup_close_ int fd = -1;
        unsigned long long start = 0;
        ssize_t n;
        char *p;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
        fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
                return 0;
        n = read_all(fd, buf, sizeof(buf) - 1);
        if (n <= 0)
                return 0;
        buf[n] = '\0';
        /* The command name may contain spaces and parentheses: skip to the last ')'. */
        p = strrchr(buf, ')');
        if (!p)
                return 0;
        p += 2;
        if (state_char)
                *state_char = *p;
        /* Field 3 is the state; start time is field 22. */
        for (int field = 3; field < 22 && p; field++) {
                p = strchr(p, ' ');
                if (p)
                        p++;
        }
        if (!p || sscanf(p, "%llu", &start) != 1)
                return 0;
        return start;
}

/* Paused: the container's cgroup is frozen (vessel pause). */
static bool cgroup_frozen(const char *cgroup_path)
{
        return cgroup_path && cgroup_path_is_frozen(cgroup_path) == 1;
}

enum vessel_status state_status(const struct vessel_state *st)
{
        char c = 0;
        unsigned long long t;

        if (!st->ready) {
                /* Nothing more happens once the creator is gone: its init
                 * died with it (or will, see container.c). */
                if (st->creator > 0 && proc_start_time(st->creator, &c) == st->creator_start &&
                    c != 'Z' && c != 'X')
                        return VESSEL_CREATING;
                return VESSEL_STOPPED;
        }
        if (st->pid <= 0)
                return VESSEL_STOPPED;
        t = proc_start_time(st->pid, &c);
        if (t == 0 || t != st->start_time || c == 'Z' || c == 'X')
                return VESSEL_STOPPED;
        if (cgroup_frozen(st->cgroup_path))
                return VESSEL_PAUSED;
        return st->started ? VESSEL_RUNNING : VESSEL_CREATED;
}

char *state_to_json(const struct vessel_state *st, enum vessel_status status, bool pretty)
{
        json_object *o = json_object_new_object();
        char *r;

        json_object_object_add(o, "ociVersion", json_object_new_string(VESSEL_OCI_VERSION));
        add_str(o, "id", st->id);
        json_object_object_add(o, "status", json_object_new_string(vessel_status_name(status)));
        json_object_object_add(o, "pid",
                               json_object_new_int(status == VESSEL_STOPPED ? 0 : st->pid));
        add_str(o, "bundle", st->bundle);
        add_str(o, "rootfs", st->rootfs);
        add_str(o, "created", st->created);
        add_str(o, "owner", st->owner ? st->owner : "");
        json_object_object_add(o, "annotations", annotations_obj(st));
        r = xstrdup(json_object_to_json_string_ext(
            o,
            (pretty ? JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED : JSON_C_TO_STRING_PLAIN) |
                JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return r;
}

char *state_json_set_pid(const char *json, pid_t pid)
{
        json_object *o = json_tokener_parse(json);
        char *r;

        if (!o || !json_object_is_type(o, json_type_object)) {
                json_object_put(o);
                return xstrdup(json);
        }
        json_object_object_add(o, "pid", json_object_new_int(pid));
        r = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return r;
}

int write_pid_file(const char *path, pid_t pid, vessel_error **err)
{
        char buf[16];
        int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
        _cleanup_free_ char *abs = NULL;

        if (!path)
                return 0;
        if (path[0] != '/') {
                char cwd[4096];
                if (!getcwd(cwd, sizeof(cwd)))
                        return vessel_error_sys(err, "getcwd");
                abs = xasprintf("%s/%s", cwd, path);
        }
        return write_file_atomic(abs ? abs : path, buf, (size_t)n, 0644, err) < 0
                   ? vessel_error_prefix(err, "--pid-file")
                   : 0;
}
