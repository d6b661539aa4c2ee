/* cgroup-ops.c: pause, resume, update, stats, events and ps of a container
 * (see cgroup-ops.h). */
#include "cgroup-ops.h"
#include "cgroup-internal.h"
#include "util.h"

#include <poll.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>

/* A container and its cgroup, opened under the state lock. */
struct target {
        int dirfd;
        struct vessel_state st;
        enum vessel_status status;
        struct vessel_cgroup *cg;
};

static void target_close(struct target *t)
{
        closep(&t->dirfd);
        cgroup_free(t->cg);
        state_clear(&t->st);
}

static int target_open(const struct vessel_runtime *rt, const char *id, bool exclusive,
                       struct target *t, vessel_error **err)
{
        int r;

        memset(t, 0, sizeof(*t));
        t->dirfd = state_dir_open(rt->root, id, exclusive ? STATE_LOCK_EXCLUSIVE : STATE_LOCK_SHARED, err);
        if (t->dirfd < 0)
                return t->dirfd;
        if ((r = state_read(t->dirfd, &t->st, err)) < 0)
                return r;
        t->status = state_status(&t->st);
        if (t->status == VESSEL_STOPPED || t->status == VESSEL_CREATING)
                return vessel_error_msg(err, ESRCH, "container \"%s\" is not running (%s)", id,
                                        vessel_status_name(t->status));
        if (!t->st.cgroup_path)
                return vessel_error_msg(err, EOPNOTSUPP,
                                        "container \"%s\" has no cgroup (it was created with "
                                        "--cgroup-manager disabled)",
                                        id);
        return cgroup_open(t->st.cgroup_path, &t->cg, err);
}

int vessel_pause(const struct vessel_runtime *rt, const char *id, vessel_error **err)
{
        struct target t;
        int r = target_open(rt, id, true, &t, err);

        if (r == 0 && t.status == VESSEL_PAUSED)
                r = vessel_error_msg(err, EINVAL, "container \"%s\" is paused already", id);
        if (r == 0)
                r = cgroup_freeze(t.cg, true, err);
        target_close(&t);
        return r;
}

int vessel_resume(const struct vessel_runtime *rt, const char *id, vessel_error **err)
{
        struct target t;
        int r = target_open(rt, id, true, &t, err);

        if (r == 0 && t.status != VESSEL_PAUSED)
                r = vessel_error_msg(err, EINVAL, "container \"%s\" is not paused (%s)", id,
                                     vessel_status_name(t.status));
        if (r == 0)
                r = cgroup_freeze(t.cg, false, err);
        target_close(&t);
        return r;
}

int vessel_update(const struct vessel_runtime *rt, const char *id, const struct vessel_resources *r,
                  vessel_error **err)
{
        struct target t;
        int rc = target_open(rt, id, true, &t, err);

        if (rc == 0)
                rc = cgroup_update(t.cg, r, err);
        target_close(&t);
        return rc;
}

static char *event_json(const char *type, const char *id, json_object *data)
{
        json_object *o = json_object_new_object();
        char *s;

        json_object_object_add(o, "type", json_object_new_string(type));
        json_object_object_add(o, "id", json_object_new_string(id));
        if (data)
                json_object_object_add(o, "data", data);
        s = xstrdup(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
                                                          JSON_C_TO_STRING_NOSLASHESCAPE));
        json_object_put(o);
        return s;
}

int vessel_stats(const struct vessel_runtime *rt, const char *id, char **json, vessel_error **err)
{
        struct target t;
        int r = target_open(rt, id, false, &t, err);

        *json = NULL;
        if (r == 0)
                *json = event_json("stats", id, cg_stats_object(t.cg));
        target_close(&t);
        return r;
}

int vessel_pids(const struct vessel_runtime *rt, const char *id, pid_t **pids, size_t *n,
                vessel_error **err)
{
        struct target t;
        int r = target_open(rt, id, false, &t, err);

        *pids = NULL;
        *n = 0;
        if (r == 0)
                r = cgroup_pids(t.cg, pids, n, err);
        target_close(&t);
        return r;
}

/* ------------------------------------------------------------ events */

static uint64_t now_ms(void)
{
        return now_ns_monotonic() / 1000000;
}

/* A pidfd of the container's init, or -1 when it is gone. */
static int init_pidfd(const struct vessel_state *st)
{
        int fd = (int)syscall(SYS_pidfd_open, st->pid, 0);

        if (fd >= 0 && proc_start_time(st->pid, NULL) != st->start_time) {
                close(fd);
                return -1;
        }
        return fd;
}

static int emit_ooms(struct cgroup_oom_watch *w, const char *id, vessel_event_fn emit, void *ud)
{
        int n = cgroup_oom_watch_check(w);

        for (int i = 0; i < n; i++) {
                _cleanup_free_ char *s = event_json("oom", id, NULL);
                if (emit(s, ud) < 0)
                        return -EPIPE;
        }
        return 0;
}

struct event_loop {
        const char *id;
        struct vessel_cgroup *cg;
        struct cgroup_oom_watch *oom;
        int pidfd;
        unsigned interval_ms;
        vessel_event_fn emit;
        void *ud;
};

static int event_loop_run(struct event_loop *l)
{
        uint64_t next = now_ms() + l->interval_ms;

        for (;;) {
                struct pollfd p[2] = {{.fd = l->pidfd, .events = POLLIN},
                                      {.fd = cgroup_oom_watch_fd(l->oom), .events = POLLIN}};
                uint64_t now = now_ms();
                int timeout = next > now ? (int)(next - now) : 0, r;

                r = poll(p, 2, timeout);
                if (r < 0 && errno != EINTR)
                        return -errno;
                if (r > 0 && (p[1].revents & POLLIN) &&
                    emit_ooms(l->oom, l->id, l->emit, l->ud) < 0)
                        return -EPIPE;
                if (r > 0 && (p[0].revents & POLLIN)) {
                        /* init is gone: report what the OOM killer did last. */
                        return emit_ooms(l->oom, l->id, l->emit, l->ud);
                }
                if (now_ms() >= next) {
                        _cleanup_free_ char *s = event_json("stats", l->id, cg_stats_object(l->cg));
                        if (l->emit(s, l->ud) < 0)
                                return -EPIPE;
                        next += l->interval_ms;
                }
        }
}

int vessel_events(const struct vessel_runtime *rt, const char *id, unsigned interval_ms,
                  vessel_event_fn emit, void *ud, vessel_error **err)
{
        struct target t;
        struct event_loop l = {.id = id,
                               .pidfd = -1,
                               .interval_ms = interval_ms ? interval_ms : 1,
                               .emit = emit,
                               .ud = ud};
        vessel_error *oerr = NULL;
        int r = target_open(rt, id, false, &t, err);

        if (r < 0) {
                target_close(&t);
                return r;
        }
        /* The stream must not hold the state lock: delete would wait. */
        closep(&t.dirfd);
        l.cg = t.cg;
        l.pidfd = init_pidfd(&t.st);
        if (l.pidfd < 0) {
                target_close(&t);
                return vessel_error_msg(err, ESRCH, "container \"%s\" is not running", id);
        }
        /* Without a memory controller there are no OOM events, only stats. */
        if (cgroup_oom_watch_open(t.cg, &l.oom, &oerr) < 0)
                vessel_error_free(&oerr);
        r = event_loop_run(&l);
        if (r < 0 && r != -EPIPE)
                vessel_error_set(err, -r, "events of container \"%s\"", id);
        if (r == -EPIPE)
                r = 0;
        cgroup_oom_watch_free(l.oom);
        close(l.pidfd);
        target_close(&t);
        return r;
}
