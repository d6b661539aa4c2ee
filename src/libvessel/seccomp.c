#include "seccomp_filter.h"
#include "util.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/seccomp.h>
#include <seccomp.h>

static int action_of(const char *name, bool has_errno, uint32_t errno_ret, uint32_t *out,
                     const char *where, vessel_error **err)
{
        uint32_t e = has_errno ? errno_ret : EPERM;

        if (!strcmp(name, "SCMP_ACT_KILL") || !strcmp(name, "SCMP_ACT_KILL_THREAD"))
                *out = SCMP_ACT_KILL_THREAD;
        else if (!strcmp(name, "SCMP_ACT_KILL_PROCESS"))
                *out = SCMP_ACT_KILL_PROCESS;
        else if (!strcmp(name, "SCMP_ACT_TRAP"))
                *out = SCMP_ACT_TRAP;
        else if (!strcmp(name, "SCMP_ACT_ERRNO"))
                *out = SCMP_ACT_ERRNO(e);
        else if (!strcmp(name, "SCMP_ACT_TRACE"))
                *out = SCMP_ACT_TRACE(e);
        else if (!strcmp(name, "SCMP_ACT_ALLOW"))
                *out = SCMP_ACT_ALLOW;
        else if (!strcmp(name, "SCMP_ACT_LOG"))
                *out = SCMP_ACT_LOG;
        else if (!strcmp(name, "SCMP_ACT_NOTIFY"))
                return vessel_error_msg(err, EOPNOTSUPP,
                                        "%s: SCMP_ACT_NOTIFY is not supported by this version of vessel",
                                        where);
        else
                return vessel_error_msg(err, EINVAL, "%s: unknown action \"%s\"", where, name);
        return 0;
}

static int op_of(const char *name)
{
        static const struct {
                const char *name;
                enum scmp_compare op;
        } ops[] = {{"SCMP_CMP_NE", SCMP_CMP_NE}, {"SCMP_CMP_LT", SCMP_CMP_LT},
                   {"SCMP_CMP_LE", SCMP_CMP_LE}, {"SCMP_CMP_EQ", SCMP_CMP_EQ},
                   {"SCMP_CMP_GE", SCMP_CMP_GE}, {"SCMP_CMP_GT", SCMP_CMP_GT},
                   {"SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ}};
        for (size_t i = 0; i < ARRAY_SIZE(ops); i++)
                if (!strcmp(name, ops[i].name))
                        return ops[i].op;
        return -1;
}

/* "SCMP_ARCH_X86_64" -> libseccomp's token; 0 when this libseccomp does not
 * know the architecture (it then cannot be in the filter anyway). */
static uint32_t arch_of(const char *name)
{
        char low[32];
        size_t i;

        if (!str_has_prefix(name, "SCMP_ARCH_"))
                return 0;
        name += strlen("SCMP_ARCH_");
        for (i = 0; name[i] && i < sizeof(low) - 1; i++)
                low[i] = (char)tolower((unsigned char)name[i]);
        low[i] = '\0';
        return seccomp_arch_resolve_name(low);
}

/* Conditions on distinct arguments are ANDed in one rule; several on the
 * same argument cannot be, so each becomes a rule of its own (ORed), as
 * runc and crun do. */
static int add_rule(scmp_filter_ctx ctx, uint32_t action, int nr, const struct vessel_seccomp_syscall *sc,
                    const char *where, vessel_error **err)
{
        struct scmp_arg_cmp cmp[6];
        bool distinct = true;
        unsigned seen = 0;
        int r;

        if (sc->n_args > ARRAY_SIZE(cmp))
                return vessel_error_msg(err, EINVAL, "%s.args: at most 6 conditions", where);
        for (size_t i = 0; i < sc->n_args; i++) {
                int op = op_of(sc->args[i].op);
                if (op < 0)
                        return vessel_error_msg(err, EINVAL, "%s.args[%zu].op: unknown \"%s\"", where, i,
                                                sc->args[i].op);
                if (seen & (1u << sc->args[i].index))
                        distinct = false;
                seen |= 1u << sc->args[i].index;
                cmp[i] = (struct scmp_arg_cmp){.arg = sc->args[i].index,
                                               .op = (enum scmp_compare)op,
                                               .datum_a = sc->args[i].value,
                                               .datum_b = sc->args[i].value_two};
        }
        if (distinct || sc->n_args <= 1)
                r = seccomp_rule_add_array(ctx, action, nr, (unsigned)sc->n_args, cmp);
        else
                {
                r = 0;
                for (size_t i = 0; i < sc->n_args && (r == 0 || r == -EEXIST); i++)
                        r = seccomp_rule_add_array(ctx, action, nr, 1, &cmp[i]);
        }
        if (r < 0 && r != -EEXIST)
                return vessel_error_set(err, -r, "%s: seccomp_rule_add", where);
        return 0;
}

static int export_program(scmp_filter_ctx ctx, struct vessel_bpf *out, vessel_error **err)
{
        _cleanup_close_ int fd = memfd_create("vessel-seccomp", MFD_CLOEXEC);
        struct stat st;
        int r;

        if (fd < 0)
                return vessel_error_sys(err, "memfd_create");
        r = seccomp_export_bpf(ctx, fd);
        if (r < 0)
                return vessel_error_set(err, -r, "seccomp_export_bpf");
        if (fstat(fd, &st) < 0)
                return vessel_error_sys(err, "fstat seccomp program");
        if (st.st_size == 0 || st.st_size % (off_t)sizeof(struct sock_filter) ||
            st.st_size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
                return vessel_error_msg(err, E2BIG, "seccomp program has a bad size (%lld bytes)",
                                        (long long)st.st_size);
        out->insns = xmalloc0((size_t)st.st_size);
        if (pread(fd, out->insns, (size_t)st.st_size, 0) != st.st_size)
                return vessel_error_sys(err, "read seccomp program");
        out->len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
        return 0;
}

int seccomp_compile(const struct vessel_seccomp *s, struct vessel_bpf *out, vessel_error **err)
{
        uint32_t defact;
        scmp_filter_ctx ctx;
        int r;

        memset(out, 0, sizeof(*out));
        if (!s->present)
                return 0;
        r = action_of(s->default_action, s->has_default_errno_ret, s->default_errno_ret, &defact,
                      "linux.seccomp.defaultAction", err);
        if (r < 0)
                return r;
        ctx = seccomp_init(defact);
        if (!ctx)
                return vessel_error_msg(err, EINVAL, "linux.seccomp: seccomp_init failed");
        for (size_t i = 0; i < s->n_architectures; i++) {
                uint32_t arch = arch_of(s->architectures[i]);
                if (arch == 0)
                        continue;
                r = seccomp_arch_add(ctx, arch);
                if (r < 0 && r != -EEXIST) {
                        vessel_error_set(err, -r, "linux.seccomp.architectures[%zu] %s", i,
                                         s->architectures[i]);
                        goto out;
                }
        }
        for (size_t i = 0; i < s->n_flags; i++) {
                int bit = vessel_name_index(vessel_seccomp_flag_names, s->flags[i]);
                if (bit >= 0)
                        out->flags |= 1u << bit;
        }
        for (size_t i = 0; i < s->n_syscalls; i++) {
                const struct vessel_seccomp_syscall *sc = &s->syscalls[i];
                _cleanup_free_ char *where = xasprintf("linux.seccomp.syscalls[%zu]", i);
                uint32_t action;

                r = action_of(sc->action, sc->has_errno_ret, sc->errno_ret, &action, where, err);
                if (r < 0)
                        goto out;
                if (action == defact)
                        continue; /* libseccomp refuses rules that change nothing */
                for (size_t j = 0; j < sc->n_names; j++) {
                        int nr = seccomp_syscall_resolve_name(sc->names[j]);
                        if (nr == __NR_SCMP_ERROR)
                                continue; /* a syscall of a newer kernel: skipped */
                        if ((r = add_rule(ctx, action, nr, sc, where, err)) < 0)
                                goto out;
                }
        }
        r = export_program(ctx, out, err);
out:
        seccomp_release(ctx);
        if (r < 0)
                seccomp_bpf_clear(out);
        return r;
}

int seccomp_install(const struct vessel_bpf *b, vessel_error **err)
{
        struct sock_fprog prog = {.len = b->len, .filter = b->insns};

        if (!b->insns)
                return 0;
        if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, b->flags, &prog) < 0) {
                if (errno == EINVAL && b->flags)
                        return vessel_error_sys(err, "linux.seccomp.flags: seccomp(2) refused flags 0x%x",
                                                b->flags);
                return vessel_error_sys(err, "linux.seccomp: install the filter");
        }
        return 0;
}

void seccomp_bpf_clear(struct vessel_bpf *b)
{
        free(b->insns);
        memset(b, 0, sizeof(*b));
}
