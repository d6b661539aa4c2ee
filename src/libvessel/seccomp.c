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
#include <sys/socket.h>
#include <sys/un.h>
#include <json-c/json.h>

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
                *out = SCMP_ACT_NOTIFY;
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
static uint32_t arch_of(const char *name);

bool seccomp_arch_known(const char *name)
{
        return arch_of(name) != 0;
}

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

/* ---- the compiled-program cache ----
 * A cache file holds the whole profile as a canonical key (so that a hash
 * collision can never load another profile's program), then the flags and
 * the program.  Its name is a hash of the key. */
struct buf {
        char *p;
        size_t len, cap;
};

static void buf_add(struct buf *b, const void *data, size_t n)
{
        if (b->len + n > b->cap) {
                b->cap = (b->len + n) * 2 + 256;
                b->p = realloc(b->p, b->cap);
                if (!b->p)
                        abort();
        }
        memcpy(b->p + b->len, data, n);
        b->len += n;
}

static void buf_str(struct buf *b, const char *s)
{
        buf_add(b, s ? s : "", s ? strlen(s) + 1 : 1);
}

static void buf_u64(struct buf *b, uint64_t v)
{
        buf_add(b, &v, sizeof(v));
}

static void cache_key(const struct vessel_seccomp *s, struct buf *k)
{
        const struct scmp_version *v = seccomp_version();

        buf_str(k, "vessel-seccomp-1");
        buf_u64(k, v ? ((uint64_t)v->major << 32 | v->minor << 16 | v->micro) : 0);
        buf_u64(k, seccomp_arch_native());
        buf_str(k, s->default_action);
        buf_u64(k, s->has_default_errno_ret ? (1ull << 32 | s->default_errno_ret) : 0);
        buf_u64(k, s->n_architectures);
        for (size_t i = 0; i < s->n_architectures; i++)
                buf_str(k, s->architectures[i]);
        buf_u64(k, s->n_flags);
        for (size_t i = 0; i < s->n_flags; i++)
                buf_str(k, s->flags[i]);
        buf_u64(k, s->n_syscalls);
        for (size_t i = 0; i < s->n_syscalls; i++) {
                const struct vessel_seccomp_syscall *sc = &s->syscalls[i];
                buf_u64(k, sc->n_names);
                for (size_t j = 0; j < sc->n_names; j++)
                        buf_str(k, sc->names[j]);
                buf_str(k, sc->action);
                buf_u64(k, sc->has_errno_ret ? (1ull << 32 | sc->errno_ret) : 0);
                buf_u64(k, sc->n_args);
                for (size_t j = 0; j < sc->n_args; j++) {
                        buf_u64(k, sc->args[j].index);
                        buf_u64(k, sc->args[j].value);
                        buf_u64(k, sc->args[j].value_two);
                        buf_str(k, sc->args[j].op);
                }
        }
}

static uint64_t fnv1a(const char *p, size_t n)
{
        uint64_t h = 0xcbf29ce484222325ull;
        for (size_t i = 0; i < n; i++)
                h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
        return h;
}

static char *cache_path(const char *dir, const struct buf *k)
{
        return xasprintf("%s/%016llx.bpf", dir, (unsigned long long)fnv1a(k->p, k->len));
}

static int cache_load(const char *path, const struct buf *k, struct vessel_bpf *out)
{
        _cleanup_free_ char *data = NULL;
        size_t len, off = 0;
        uint64_t klen, flags, n;

        if (read_file_at(AT_FDCWD, path, &data, &len, NULL) < 0)
                return -1;
#define TAKE(dst)                                        \
        do {                                             \
                if (len - off < sizeof(dst))             \
                        return -1;                       \
                memcpy(&(dst), data + off, sizeof(dst)); \
                off += sizeof(dst);                      \
        } while (0)
        TAKE(klen);
        if (klen != k->len || len - off < klen || memcmp(data + off, k->p, klen) != 0)
                return -1;
        off += klen;
        TAKE(flags);
        TAKE(n);
#undef TAKE
        if (n == 0 || n > BPF_MAXINSNS || len - off != n * sizeof(struct sock_filter))
                return -1;
        out->insns = xmalloc0(n * sizeof(struct sock_filter));
        memcpy(out->insns, data + off, n * sizeof(struct sock_filter));
        out->len = (unsigned short)n;
        out->flags = (unsigned int)flags;
        return 0;
}

static void cache_store(const char *dir, const char *path, const struct buf *k,
                        const struct vessel_bpf *b)
{
        struct buf f = {0};

        if (mkdir(dir, 0700) < 0 && errno != EEXIST)
                return;
        buf_u64(&f, k->len);
        buf_add(&f, k->p, k->len);
        buf_u64(&f, b->flags);
        buf_u64(&f, b->len);
        buf_add(&f, b->insns, b->len * sizeof(struct sock_filter));
        (void)write_file_atomic(path, f.p, f.len, 0600, NULL);
        free(f.p);
}

static int compile_uncached(const struct vessel_seccomp *s, struct vessel_bpf *out, vessel_error **err);

int seccomp_compile(const struct vessel_seccomp *s, const char *cache_dir, struct vessel_bpf *out,
                    vessel_error **err)
{
        struct buf key = {0};
        _cleanup_free_ char *path = NULL;
        int r;

        memset(out, 0, sizeof(*out));
        out->listener = -1;
        if (!s->present)
                return 0;
        if (!cache_dir)
                return compile_uncached(s, out, err);
        cache_key(s, &key);
        path = cache_path(cache_dir, &key);
        if (cache_load(path, &key, out) == 0) {
                free(key.p);
                return 0;
        }
        r = compile_uncached(s, out, err);
        if (r == 0)
                cache_store(cache_dir, path, &key, out);
        free(key.p);
        return r;
}

static int compile_uncached(const struct vessel_seccomp *s, struct vessel_bpf *out, vessel_error **err)
{
        uint32_t defact;
        scmp_filter_ctx ctx;
        int r;

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
                if (r == -EDOM) {
                        r = vessel_error_msg(
                            err, EINVAL,
                            "linux.seccomp.architectures[%zu] %s: a filter holds "
                            "architectures of one byte order, and this one's differs "
                            "from the native architecture's",
                            i, s->architectures[i]);
                        goto out;
                }
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
                if (action == SCMP_ACT_NOTIFY)
                        out->flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
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

int seccomp_connect_listener(const struct vessel_seccomp *s, struct vessel_bpf *b, vessel_error **err)
{
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        int fd;

        b->listener = -1;
        if (!(b->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) || !s->listener_path)
                return 0;
        if (strlen(s->listener_path) >= sizeof(sa.sun_path))
                return vessel_error_msg(err, ENAMETOOLONG, "linux.seccomp.listenerPath %s: too long",
                                        s->listener_path);
        strcpy(sa.sun_path, s->listener_path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
                int r = vessel_error_sys(err, "linux.seccomp.listenerPath %s: connect", s->listener_path);
                if (fd >= 0)
                        close(fd);
                return r;
        }
        b->listener = fd;
        b->listener_metadata = s->listener_metadata;
        return 0;
}

static int send_to_listener(const struct vessel_bpf *b, int notify_fd, vessel_error **err)
{
        json_object *o = json_object_new_object(), *fds = json_object_new_array(), *st = NULL, *pid;
        char cbuf[CMSG_SPACE(sizeof(int))] = {0};
        struct iovec iov;
        struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
                            .msg_controllen = sizeof(cbuf)};
        struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
        const char *text;
        int r = 0;

        if (b->state_json)
                st = json_tokener_parse(b->state_json);
        json_object_object_add(o, "ociVersion", json_object_new_string(VESSEL_OCI_VERSION));
        json_object_array_add(fds, json_object_new_string("seccompFd"));
        json_object_object_add(o, "fds", fds);
        /* "pid": the process the filter is for (an exec'd one has its own);
         * state.pid stays init's. */
        if (b->pid > 0)
                pid = json_object_new_int(b->pid);
        else
                pid = st && json_object_object_get_ex(st, "pid", &pid) ? json_object_get(pid)
                                                                       : json_object_new_int(0);
        json_object_object_add(o, "pid", pid);
        if (b->listener_metadata)
                json_object_object_add(o, "metadata", json_object_new_string(b->listener_metadata));
        json_object_object_add(o, "state", st ? st : json_object_new_object());
        text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
        iov.iov_base = (void *)text;
        iov.iov_len = strlen(text);
        c->cmsg_level = SOL_SOCKET;
        c->cmsg_type = SCM_RIGHTS;
        c->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(c), &notify_fd, sizeof(int));
        if (sendmsg(b->listener, &mh, MSG_NOSIGNAL) < 0)
                r = vessel_error_sys(err, "linux.seccomp.listenerPath: send the notify fd");
        json_object_put(o);
        return r;
}

int seccomp_install(const struct vessel_bpf *b, vessel_error **err)
{
        struct sock_fprog prog = {.len = b->len, .filter = b->insns};
        int fd, r;

        if (!b->insns)
                return 0;
        fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, b->flags, &prog);
        if (fd >= 0 && (b->flags & SECCOMP_FILTER_FLAG_NEW_LISTENER)) {
                r = b->listener >= 0 ? send_to_listener(b, fd, err)
                                     : vessel_error_msg(err, EINVAL, "linux.seccomp: SCMP_ACT_NOTIFY "
                                                                     "without a listener");
                close(fd);
                if (b->listener >= 0)
                        close(b->listener);
                return r;
        }
        if (fd < 0) {
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
        if (b->listener > 0)
                close(b->listener);
        memset(b, 0, sizeof(*b));
        b->listener = -1;
}
