/* cgroup-bpf.c: the cgroup v2 device controller (see cgroup-bpf.h). */
#include "cgroup-bpf.h"
#include "util.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_OLD_PROGS 64
#define PREAMBLE_LEN 6

static struct bpf_insn insn(uint8_t code, uint8_t dst, uint8_t src, int16_t off, int32_t imm)
{
        return (struct bpf_insn){
            .code = code, .dst_reg = dst, .src_reg = src, .off = off, .imm = imm};
}

static struct bpf_insn ld_ctx_u32(uint8_t dst, int16_t off)
{
        return insn(BPF_LDX | BPF_MEM | BPF_W, dst, BPF_REG_1, off, 0);
}

static struct bpf_insn alu_imm(uint8_t op, uint8_t dst, int32_t imm)
{
        return insn(BPF_ALU64 | op | BPF_K, dst, 0, 0, imm);
}

static struct bpf_insn mov_reg(uint8_t dst, uint8_t src)
{
        return insn(BPF_ALU64 | BPF_MOV | BPF_X, dst, src, 0, 0);
}

/* 32-bit compares: majors and minors are 32-bit numbers, and an immediate
 * is sign-extended in a 64-bit compare. */
static struct bpf_insn jmp32_imm(uint8_t op, uint8_t dst, int32_t imm, int16_t off)
{
        return insn(BPF_JMP32 | op | BPF_K, dst, 0, off, imm);
}

static struct bpf_insn exit_insn(void)
{
        return insn(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
}

static size_t block_len(const struct cgroup_dev_rule *r)
{
        return (r->type != 'a') + (r->major >= 0) + (r->minor >= 0) + (r->allow ? 4 : 5);
}

/* Registers: r2 device type, r3 access bits still to decide, r4 major, r5
 * minor, r6 scratch. */
static void emit_rule(const struct cgroup_dev_rule *r, struct bpf_insn *p)
{
        int16_t left = (int16_t)block_len(r);
        size_t k = 0;

#define SKIP() ((int16_t)(left - (int16_t)k - 1))
        if (r->type != 'a') {
                p[k] = jmp32_imm(BPF_JNE, BPF_REG_2,
                                 r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR, SKIP());
                k++;
        }
        if (r->major >= 0) {
                p[k] = jmp32_imm(BPF_JNE, BPF_REG_4, (int32_t)(uint32_t)r->major, SKIP());
                k++;
        }
        if (r->minor >= 0) {
                p[k] = jmp32_imm(BPF_JNE, BPF_REG_5, (int32_t)(uint32_t)r->minor, SKIP());
                k++;
        }
        if (r->allow) {
                p[k++] = alu_imm(BPF_AND, BPF_REG_3, (int32_t)(~r->access & CGROUP_DEV_ALL));
                p[k] = jmp32_imm(BPF_JNE, BPF_REG_3, 0, SKIP());
                k++;
                p[k++] = alu_imm(BPF_MOV, BPF_REG_0, 1);
        } else {
                p[k++] = mov_reg(BPF_REG_6, BPF_REG_3);
                p[k++] = alu_imm(BPF_AND, BPF_REG_6, (int32_t)r->access);
                p[k] = jmp32_imm(BPF_JEQ, BPF_REG_6, 0, SKIP());
                k++;
                p[k++] = alu_imm(BPF_MOV, BPF_REG_0, 0);
        }
        p[k++] = exit_insn();
#undef SKIP
}

int cgroup_bpf_build(const struct cgroup_dev_rule *rules, size_t n, struct bpf_insn **out,
                     size_t *len)
{
        size_t total = PREAMBLE_LEN + 2, k = 0;
        struct bpf_insn *p;

        for (size_t i = 0; i < n; i++)
                total += block_len(&rules[i]);
        if (total > 4096)
                return -E2BIG;
        p = xmalloc0(total * sizeof(*p));
        p[k++] = ld_ctx_u32(BPF_REG_2, offsetof(struct bpf_cgroup_dev_ctx, access_type));
        p[k++] = mov_reg(BPF_REG_3, BPF_REG_2);
        p[k++] = alu_imm(BPF_RSH, BPF_REG_3, 16);
        p[k++] = alu_imm(BPF_AND, BPF_REG_2, 0xffff);
        p[k++] = ld_ctx_u32(BPF_REG_4, offsetof(struct bpf_cgroup_dev_ctx, major));
        p[k++] = ld_ctx_u32(BPF_REG_5, offsetof(struct bpf_cgroup_dev_ctx, minor));
        for (size_t i = n; i-- > 0;) {
                emit_rule(&rules[i], p + k);
                k += block_len(&rules[i]);
        }
        p[k++] = alu_imm(BPF_MOV, BPF_REG_0, 0);
        p[k++] = exit_insn();
        *out = p;
        *len = k;
        return 0;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
        return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

static int prog_load(const struct bpf_insn *p, size_t len, vessel_error **err)
{
        union bpf_attr a;
        _cleanup_free_ char *log = NULL;
        int fd;

        memset(&a, 0, sizeof(a));
        a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
        a.insns = (uint64_t)(uintptr_t)p;
        a.insn_cnt = (uint32_t)len;
        a.license = (uint64_t)(uintptr_t) "GPL";
        fd = sys_bpf(BPF_PROG_LOAD, &a);
        if (fd >= 0)
                return fd;
        if (errno != EINVAL && errno != EACCES)
                return vessel_error_sys(err, "load the device eBPF program (bpf BPF_PROG_LOAD)");
        /* Load again with the verifier's log, for the message. */
        log = xmalloc0(65536);
        a.log_level = 1;
        a.log_buf = (uint64_t)(uintptr_t)log;
        a.log_size = 65536;
        fd = sys_bpf(BPF_PROG_LOAD, &a);
        if (fd >= 0)
                return fd;
        {
                size_t l = strlen(log);
                const char *tail = l > 300 ? log + l - 300 : log;
                return vessel_error_sys(err, "the verifier refused the device eBPF program (%s)",
                                        tail);
        }
}

static int query_progs(int cgfd, uint32_t *ids, uint32_t *n)
{
        union bpf_attr a;

        memset(&a, 0, sizeof(a));
        a.query.target_fd = (uint32_t)cgfd;
        a.query.attach_type = BPF_CGROUP_DEVICE;
        a.query.prog_ids = (uint64_t)(uintptr_t)ids;
        a.query.prog_cnt = *n;
        if (sys_bpf(BPF_PROG_QUERY, &a) < 0)
                return -errno;
        *n = a.query.prog_cnt < *n ? a.query.prog_cnt : *n;
        return 0;
}

static int detach_prog(int cgfd, uint32_t id)
{
        union bpf_attr a;
        _cleanup_close_ int fd = -1;

        memset(&a, 0, sizeof(a));
        a.prog_id = id;
        fd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &a);
        if (fd < 0)
                return errno == ENOENT ? 0 : -errno;
        memset(&a, 0, sizeof(a));
        a.target_fd = (uint32_t)cgfd;
        a.attach_bpf_fd = (uint32_t)fd;
        a.attach_type = BPF_CGROUP_DEVICE;
        if (sys_bpf(BPF_PROG_DETACH, &a) < 0 && errno != ENOENT)
                return -errno;
        return 0;
}

int cgroup_bpf_apply(int cgfd, const char *dir, const struct cgroup_dev_rule *rules, size_t n,
                     vessel_error **err)
{
        _cleanup_free_ struct bpf_insn *prog = NULL;
        _cleanup_close_ int pfd = -1;
        uint32_t old[MAX_OLD_PROGS], n_old = MAX_OLD_PROGS;
        union bpf_attr a;
        size_t len;
        int r;

        if ((r = cgroup_bpf_build(rules, n, &prog, &len)) < 0)
                return vessel_error_set(err, -r, "linux.resources.devices: %zu rules", n);
        if ((r = query_progs(cgfd, old, &n_old)) < 0)
                return vessel_error_set(err, -r, "%s: query the attached device programs", dir);
        pfd = prog_load(prog, len, err);
        if (pfd < 0)
                return vessel_error_prefix(err, "linux.resources.devices");
        memset(&a, 0, sizeof(a));
        a.target_fd = (uint32_t)cgfd;
        a.attach_bpf_fd = (uint32_t)pfd;
        a.attach_type = BPF_CGROUP_DEVICE;
        a.attach_flags = BPF_F_ALLOW_MULTI;
        if (sys_bpf(BPF_PROG_ATTACH, &a) < 0)
                return vessel_error_sys(
                    err, "linux.resources.devices: attach the device program to %s", dir);
        /* Both programs run until the old one goes: never more permissive
         * than either rule set. */
        for (uint32_t i = 0; i < n_old; i++)
                if ((r = detach_prog(cgfd, old[i])) < 0)
                        return vessel_error_set(
                            err, -r, "%s: detach the previous device program %u", dir, old[i]);
        return 0;
}
