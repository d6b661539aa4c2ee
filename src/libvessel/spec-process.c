/* spec-process.c: the "process" object of config.json, also parsed alone
 * for exec --process FILE. */
#include "spec-internal.h"

#include <string.h>
#include <linux/sched.h>

/* ioprio classes (linux/ioprio.h; not exported by glibc) */
#define IOPRIO_CLASS_RT_ 1
#define IOPRIO_CLASS_BE_ 2
#define IOPRIO_CLASS_IDLE_ 3

void spec_process_clear(struct vessel_process *p)
{
        free(p->user.additional_gids);
        free(p->user.username);
        strv_free(p->args);
        free(p->command_line);
        strv_free(p->env);
        free(p->cwd);
        free(p->rlimits);
        free(p->apparmor_profile);
        free(p->selinux_label);
        free(p->exec_cpu_affinity_initial);
        free(p->exec_cpu_affinity_final);
}

static int parse_rlimit(json_object *o, const char *path, void *item, vessel_error **err)
{
        struct vessel_rlimit *rl = item;
        _cleanup_free_ char *type = NULL;

        TRY(spec_required(spec_get_str(o, path, "type", &type, err), path, "type", err));
        rl->resource = vessel_rlimit_from_name(type);
        if (rl->resource < 0)
                return spec_fail(err, AT(path, "type"), "unknown rlimit \"%s\"", type);
        TRY(spec_required(spec_get_uint(o, path, "soft", 0, UINT64_MAX, &rl->soft, err), path,
                          "soft", err));
        TRY(spec_required(spec_get_uint(o, path, "hard", 0, UINT64_MAX, &rl->hard, err), path,
                          "hard", err));
        if (rl->soft > rl->hard)
                return spec_fail(err, AT(path, "soft"), "soft limit %llu exceeds hard limit %llu",
                                 (unsigned long long)rl->soft, (unsigned long long)rl->hard);
        return 0;
}

static int parse_capabilities(json_object *o, const char *w, void *item, vessel_error **err)
{
        static const char *const set_names[VESSEL_CAP_SET_COUNT] = {
            [VESSEL_CAP_BOUNDING] = "bounding",       [VESSEL_CAP_EFFECTIVE] = "effective",
            [VESSEL_CAP_INHERITABLE] = "inheritable", [VESSEL_CAP_PERMITTED] = "permitted",
            [VESSEL_CAP_AMBIENT] = "ambient",
        };
        struct vessel_capabilities *c = item;

        c->present = true;
        for (int s = 0; s < VESSEL_CAP_SET_COUNT; s++) {
                _cleanup_strv_ char **names = NULL;
                size_t n = 0;

                TRY(spec_get_strv(o, w, set_names[s], &names, &n, err));
                for (size_t i = 0; i < n; i++) {
                        int cap = vessel_cap_from_name(names[i]);
                        if (cap >= 0) /* unknown = newer than this build: skipped */
                                c->sets[s] |= UINT64_C(1) << cap;
                }
        }
        return 0;
}

static int parse_user(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_user *u = item;
        int r;

        TRY(spec_get_u32(o, w, "uid", &u->uid, err));
        TRY(spec_get_u32(o, w, "gid", &u->gid, err));
        TRY(r = spec_get_u32(o, w, "umask", &u->umask, err));
        u->has_umask = r > 0;
        TRY(spec_get_u32_array(o, w, "additionalGids", &u->additional_gids, &u->n_additional_gids,
                               err));
        TRY(spec_get_str(o, w, "username", &u->username, err));
        return 0;
}

static int parse_console_size(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_process *p = item;

        TRY(spec_get_u32(o, w, "height", &p->console_size.height, err));
        TRY(spec_get_u32(o, w, "width", &p->console_size.width, err));
        p->has_console_size = true;
        return 0;
}

static int parse_io_priority(json_object *o, const char *w, void *item, vessel_error **err)
{
        static const struct name_val classes[] = {
            {"IOPRIO_CLASS_RT", IOPRIO_CLASS_RT_},
            {"IOPRIO_CLASS_BE", IOPRIO_CLASS_BE_},
            {"IOPRIO_CLASS_IDLE", IOPRIO_CLASS_IDLE_},
            {NULL, 0},
        };
        struct vessel_process *p = item;
        long cls = 0;
        int64_t prio = 0;

        TRY(spec_required(spec_get_enum(o, w, "class", classes, "ioPriority class", &cls, err), w,
                          "class", err));
        TRY(spec_get_int(o, w, "priority", 0, 7, &prio, err));
        p->has_io_priority = true;
        p->io_priority_class = (int)cls;
        p->io_priority = (int)prio;
        return 0;
}

/* What sched_setattr(2) would ignore or reject, refused here with the
 * path: runc's checks (priority only for the real-time policies, the
 * deadline parameters only for SCHED_DEADLINE) and the kernel's own
 * (a real-time priority of 1..99, __checkparam_dl's limits), plus the
 * values the kernel silently ignores (nice for SCHED_FIFO, SCHED_RR and
 * SCHED_DEADLINE, the deadline-only flags elsewhere). */
static int check_scheduler(const struct vessel_scheduler *s, const char *w, vessel_error **err)
{
        const char *name = vessel_sched_policy_names[s->policy];
        bool rt = s->policy == SCHED_FIFO || s->policy == SCHED_RR;
        bool dl = s->policy == SCHED_DEADLINE;

        if (rt && !s->priority && !(s->flags & SCHED_FLAG_KEEP_PARAMS))
                return spec_fail(err, AT(w, "priority"), "%s needs a priority in 1..99", name);
        if (!rt && s->priority)
                return spec_fail(err, AT(w, "priority"), "only for SCHED_FIFO and SCHED_RR, not %s",
                                 name);
        if ((rt || dl) && s->nice)
                return spec_fail(err, AT(w, "nice"),
                                 "only for SCHED_OTHER, SCHED_BATCH and SCHED_IDLE, not %s", name);
        if (!dl) {
                if (s->runtime || s->deadline || s->period)
                        return spec_fail(err,
                                         AT(w, s->runtime    ? "runtime"
                                               : s->deadline ? "deadline"
                                                             : "period"),
                                         "only for SCHED_DEADLINE, not %s", name);
                if (s->flags & (SCHED_FLAG_RECLAIM | SCHED_FLAG_DL_OVERRUN))
                        return spec_fail(
                            err, AT(w, "flags"),
                            "SCHED_FLAG_RECLAIM and SCHED_FLAG_DL_OVERRUN are only for "
                            "SCHED_DEADLINE, not %s",
                            name);
                return 0;
        }
        if (s->flags & SCHED_FLAG_KEEP_PARAMS)
                return 0;
        if (!s->deadline)
                return spec_fail(err, AT(w, "deadline"), "required for SCHED_DEADLINE");
        if (s->runtime < 1024) /* 1 << DL_SCALE */
                return spec_fail(err, AT(w, "runtime"),
                                 "SCHED_DEADLINE needs a runtime of at least 1024 (ns)");
        if (s->runtime > s->deadline)
                return spec_fail(err, AT(w, "runtime"), "%llu is longer than the deadline %llu",
                                 (unsigned long long)s->runtime, (unsigned long long)s->deadline);
        if (s->period && s->period < s->deadline)
                return spec_fail(err, AT(w, "period"), "%llu is shorter than the deadline %llu",
                                 (unsigned long long)s->period, (unsigned long long)s->deadline);
        return 0;
}

static int parse_scheduler(json_object *o, const char *w, void *item, vessel_error **err)
{
        static const struct name_val flags[] = {
            {"SCHED_FLAG_RESET_ON_FORK", SCHED_FLAG_RESET_ON_FORK},
            {"SCHED_FLAG_RECLAIM", SCHED_FLAG_RECLAIM},
            {"SCHED_FLAG_DL_OVERRUN", SCHED_FLAG_DL_OVERRUN},
            {"SCHED_FLAG_KEEP_POLICY", SCHED_FLAG_KEEP_POLICY},
            {"SCHED_FLAG_KEEP_PARAMS", SCHED_FLAG_KEEP_PARAMS},
            {"SCHED_FLAG_UTIL_CLAMP_MIN", SCHED_FLAG_UTIL_CLAMP_MIN},
            {"SCHED_FLAG_UTIL_CLAMP_MAX", SCHED_FLAG_UTIL_CLAMP_MAX},
            {NULL, 0},
        };
        struct vessel_scheduler *s = item;
        _cleanup_free_ char *policy = NULL;
        int64_t v = 0;
        int r;

        TRY(spec_required(spec_get_str(o, w, "policy", &policy, err), w, "policy", err));
        r = vessel_name_index(vessel_sched_policy_names, policy);
        if (r < 0)
                return spec_fail(err, AT(w, "policy"), "unknown scheduler policy \"%s\"", policy);
        s->policy = (uint32_t)r;
        TRY(spec_get_int(o, w, "nice", -20, 19, &v, err));
        s->nice = (int32_t)v;
        v = 0;
        TRY(spec_get_int(o, w, "priority", 0, 99, &v, err));
        s->priority = (uint32_t)v;
        TRY(spec_get_flags(o, w, "flags", flags, "scheduler flag", &s->flags, err));
        TRY(spec_get_uint(o, w, "runtime", 0, UINT64_MAX, &s->runtime, err));
        TRY(spec_get_uint(o, w, "deadline", 0, UINT64_MAX, &s->deadline, err));
        TRY(spec_get_uint(o, w, "period", 0, UINT64_MAX, &s->period, err));
        s->present = true;
        return check_scheduler(s, w, err);
}

static int parse_cpu_affinity(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_process *p = item;

        TRY(spec_get_cpu_list(o, w, "initial", &p->exec_cpu_affinity_initial, err));
        TRY(spec_get_cpu_list(o, w, "final", &p->exec_cpu_affinity_final, err));
        return 0;
}

static int check_env(const struct vessel_process *p, const char *w, vessel_error **err)
{
        for (size_t i = 0; i < p->n_env; i++) {
                const char *eq = strchr(p->env[i], '=');
                if (!eq)
                        return spec_fail(err, AT_IDX(w, "env", i), "missing '=' in \"%s\"",
                                         p->env[i]);
                if (eq == p->env[i])
                        return spec_fail(err, AT_IDX(w, "env", i), "empty variable name");
        }
        return 0;
}

static int check_rlimits_unique(const struct vessel_process *p, const char *w, vessel_error **err)
{
        for (size_t i = 0; i < p->n_rlimits; i++) {
                for (size_t j = 0; j < i; j++) {
                        _cleanup_free_ char *path = NULL;

                        if (p->rlimits[j].resource != p->rlimits[i].resource)
                                continue;
                        path = spec_loc_path(AT_IDX(w, "rlimits", i));
                        return spec_fail(err, AT(path, "type"), "duplicate rlimit \"%s\"",
                                         vessel_rlimit_name(p->rlimits[i].resource));
                }
        }
        return 0;
}

int spec_parse_process(json_object *o, const char *w, void *item, vessel_error **err)
{
        struct vessel_process *p = item;
        int64_t oom;
        int r;

        TRY(spec_get_bool(o, w, "terminal", &p->terminal, err));
        TRY(spec_get_sub(o, w, "consoleSize", parse_console_size, p, err));
        TRY(spec_get_sub(o, w, "user", parse_user, &p->user, err));

        TRY(spec_required(spec_get_strv(o, w, "args", &p->args, &p->n_args, err), w, "args", err));
        if (p->n_args == 0)
                return spec_fail(err, AT(w, "args"), "must not be empty");
        TRY(spec_get_str(o, w, "commandLine", &p->command_line, err));
        TRY(spec_get_strv(o, w, "env", &p->env, &p->n_env, err));
        TRY(check_env(p, w, err));
        TRY(r = spec_get_abs_path(o, w, "cwd", &p->cwd, err));
        if (r == 0)
                p->cwd = xstrdup("/");

        TRY(spec_get_sub(o, w, "capabilities", parse_capabilities, &p->capabilities, err));
        TRY(GET_OBJ_ARRAY(o, w, "rlimits", p->rlimits, p->n_rlimits, parse_rlimit, err));
        TRY(check_rlimits_unique(p, w, err));
        TRY(spec_get_bool(o, w, "noNewPrivileges", &p->no_new_privileges, err));
        TRY(spec_get_str(o, w, "apparmorProfile", &p->apparmor_profile, err));
        TRY(spec_get_str(o, w, "selinuxLabel", &p->selinux_label, err));
        TRY(r = spec_get_int(o, w, "oomScoreAdj", -1000, 1000, &oom, err));
        if (r > 0) {
                p->has_oom_score_adj = true;
                p->oom_score_adj = (int)oom;
        }
        TRY(spec_get_sub(o, w, "scheduler", parse_scheduler, &p->scheduler, err));
        TRY(spec_get_sub(o, w, "ioPriority", parse_io_priority, p, err));
        TRY(spec_get_sub(o, w, "execCPUAffinity", parse_cpu_affinity, p, err));
        return 0;
}
