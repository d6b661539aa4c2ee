/* Unit tests for the pure parts of the cgroup manager: paths, value
 * mappings between v1 and v2, parsers, device rules and the v2 device
 * eBPF program (run here by a small interpreter of the instructions it
 * uses). */
#include "cgroup-bpf.h"
#include "cgroup-values.h"
#include "cgroup.h"
#include "cgroup-internal.h"
#include "util.h"

#include "check.h"

#include <errno.h>
#include <stdlib.h>

static void test_paths(void)
{
        char *p = NULL;
        vessel_error *err = NULL;

        CHECK(cgroup_path_normalize(NULL, "c1", &p, NULL) == 0);
        CHECK_STR(p, "vessel/c1");
        free(p);
        CHECK(cgroup_path_normalize("", "c1", &p, NULL) == 0);
        CHECK_STR(p, "vessel/c1");
        free(p);
        CHECK(cgroup_path_normalize("/vessel-e2e-12/libpod-abc", "c1", &p, NULL) == 0);
        CHECK_STR(p, "vessel-e2e-12/libpod-abc");
        free(p);
        CHECK(cgroup_path_normalize("default/box", "c1", &p, NULL) == 0);
        CHECK_STR(p, "default/box");
        free(p);
        CHECK(cgroup_path_normalize("//a/./b//", "c1", &p, NULL) == 0);
        CHECK_STR(p, "a/b");
        free(p);
        CHECK(cgroup_path_normalize("/a/..b/c..", "c1", &p, NULL) == 0);
        CHECK_STR(p, "a/..b/c..");
        free(p);

        CHECK(cgroup_path_normalize("/a/../b", "c1", &p, &err) == -EINVAL && !p);
        CHECK(err && strstr(err->msg, "\"..\""));
        vessel_error_free(&err);
        CHECK(cgroup_path_normalize("/", "c1", &p, &err) == -EINVAL);
        CHECK(err && strstr(err->msg, "root cgroup"));
        vessel_error_free(&err);
        CHECK(cgroup_path_normalize("/./", "c1", &p, &err) == -EINVAL);
        vessel_error_free(&err);
        CHECK(cgroup_path_normalize("system.slice:vessel:c1", "c1", &p, &err) == -EINVAL);
        CHECK(err && strstr(err->msg, "systemd") && strstr(err->msg, "system.slice:vessel:c1"));
        vessel_error_free(&err);
}

/* A state cgroupPath decodes into (path, per-hierarchy counts). */
static void check_decode(const char *s, const char *path, int fallback, size_t n_own)
{
        struct cgroup_state st;

        CHECK(cgroup_state_decode(s, &st) == 0);
        CHECK_STR(st.path, path);
        CHECK(st.owned == fallback && st.n_own == n_own);
        cgroup_state_clear(&st);
}

static void test_state_path(void)
{
        struct cgroup_state_own own[] = {{"memory", 1}, {"cpu,cpuacct", 3}, {"unified", 3}};
        struct cgroup_state st = {.path = "a/b/c1", .own = own, .n_own = 3}, d;
        char *s;

        /* One hierarchy, or all alike: the form older versions wrote. */
        s = cgroup_state_encode(&(struct cgroup_state){.path = "vessel/c1", .owned = 2});
        CHECK_STR(s, "2:/vessel/c1");
        CHECK(cgroup_state_decode(s, &d) == 0 && d.owned == 2 && !d.n_own);
        CHECK_STR(d.path, "vessel/c1");
        /* ... which counts for every hierarchy, as it did. */
        CHECK(cgroup_state_owned(&d, "memory") == 2 && cgroup_state_owned(&d, "") == 2);
        cgroup_state_clear(&d);
        free(s);

        /* Per hierarchy: each its own count; one not listed made nothing. */
        s = cgroup_state_encode(&st);
        CHECK_STR(s, "memory=1 cpu,cpuacct=3 unified=3:/a/b/c1");
        CHECK(cgroup_state_decode(s, &d) == 0 && d.n_own == 3);
        CHECK_STR(d.path, "a/b/c1");
        CHECK(cgroup_state_owned(&d, "memory") == 1);
        CHECK(cgroup_state_owned(&d, "cpu,cpuacct") == 3);
        CHECK(cgroup_state_owned(&d, "unified") == 3);
        CHECK(cgroup_state_owned(&d, "pids") == 0);
        cgroup_state_clear(&d);
        free(s);

        /* The path may hold ':' and ":/"; a name '=' (its last '=' ends it). */
        check_decode("0:/a:b/c", "a:b/c", 0, 0);
        check_decode("1:/a:/b", "a:/b", 1, 0);
        check_decode("memory=0:/a:/b", "a:/b", 0, 1);
        CHECK(cgroup_state_decode("x=y=2:/a", &d) == 0 && cgroup_state_owned(&d, "x=y") == 2);
        cgroup_state_clear(&d);
        /* A hierarchy whose name is all digits is still a list. */
        CHECK(cgroup_state_decode("7=1:/a", &d) == 0 && cgroup_state_owned(&d, "7") == 1 &&
              cgroup_state_owned(&d, "memory") == 0);
        cgroup_state_clear(&d);

        CHECK(cgroup_state_decode("/vessel/c1", &d) < 0 && !d.path && !d.own);
        CHECK(cgroup_state_decode("1:/", &d) < 0);
        CHECK(cgroup_state_decode("1:vessel", &d) < 0);
        CHECK(cgroup_state_decode("-1:/a", &d) < 0);
        CHECK(cgroup_state_decode(":/a", &d) < 0);
        CHECK(cgroup_state_decode("4097:/a", &d) < 0);
        CHECK(cgroup_state_decode("memory:/a", &d) < 0);
        CHECK(cgroup_state_decode("memory=:/a", &d) < 0);
        CHECK(cgroup_state_decode("memory=x:/a", &d) < 0);
        CHECK(cgroup_state_decode("memory=1  pids=1:/a", &d) < 0);
        CHECK(cgroup_state_decode("memory=1 :/a", &d) < 0 && !d.own);
        CHECK(cgroup_state_decode("memory=1 memory=2:/a", &d) < 0 && !d.own);
        CHECK(cgroup_state_decode(NULL, &d) < 0);
}

static bool owned_in(const char *path, void *data)
{
        for (const char *const *p = data; *p; p++)
                if (!strcmp(*p, path))
                        return true;
        return false;
}

static void test_delegation_root(void)
{
        /* systemd: user@1000.service and everything below is the user's. */
        const char *const systemd[] = {
            "user.slice/user-1000.slice/user@1000.service",
            "user.slice/user-1000.slice/user@1000.service/app.slice",
            "user.slice/user-1000.slice/user@1000.service/app.slice/term.scope", NULL};
        /* A hole: the caller's cgroup is the user's, its parent is not,
         * the grandparent is: the walk stops at the first one not owned. */
        const char *const hole[] = {"a", "a/b/c", NULL};
        const char *const all[] = {"", "x", "x/y", NULL};
        const char *const none[] = {NULL};
        char *d;

        d = cgroup_delegation_root(
            "user.slice/user-1000.slice/user@1000.service/app.slice/term.scope", owned_in,
            (void *)systemd);
        CHECK_STR(d, "user.slice/user-1000.slice/user@1000.service");
        free(d);
        d = cgroup_delegation_root("user.slice/user-1000.slice/user@1000.service", owned_in,
                                   (void *)systemd);
        CHECK_STR(d, "user.slice/user-1000.slice/user@1000.service");
        free(d);
        d = cgroup_delegation_root("a/b/c", owned_in, (void *)hole);
        CHECK_STR(d, "a/b/c");
        free(d);
        /* Up to the root of the mount (a cgroup namespace of one's own). */
        d = cgroup_delegation_root("x/y", owned_in, (void *)all);
        CHECK_STR(d, "");
        free(d);
        d = cgroup_delegation_root("", owned_in, (void *)all);
        CHECK_STR(d, "");
        free(d);
        /* Not delegated: a session scope owned by root. */
        CHECK(cgroup_delegation_root("user.slice/user-1000.slice/session-3.scope", owned_in,
                                     (void *)systemd) == NULL);
        CHECK(cgroup_delegation_root("", owned_in, (void *)none) == NULL);
}

static void test_own_path(void)
{
        char *p = NULL;

        CHECK(cgroup_v2_own_path("0::/user.slice/user-1000.slice/session-3.scope\n", "/", &p) == 0);
        CHECK_STR(p, "user.slice/user-1000.slice/session-3.scope");
        free(p);
        /* Hybrid: the v1 lines come first. */
        CHECK(cgroup_v2_own_path("12:pids:/user.slice\n1:name=systemd:/x\n0::/d/s\n", "/", &p) ==
              0);
        CHECK_STR(p, "d/s");
        free(p);
        CHECK(cgroup_v2_own_path("0::/\n", "/", &p) == 0);
        CHECK_STR(p, "");
        free(p);
        /* No newline at the end; the mount shows a sub-tree as its root. */
        CHECK(cgroup_v2_own_path("0::/ns/a/b", "/ns", &p) == 0);
        CHECK_STR(p, "a/b");
        free(p);
        CHECK(cgroup_v2_own_path("0::/ns\n", "/ns", &p) == 0);
        CHECK_STR(p, "");
        free(p);
        CHECK(cgroup_v2_own_path("0::/nsx/a\n", "/ns", &p) == -ENOENT && !p);
        CHECK(cgroup_v2_own_path("0::/other\n", "/ns", &p) == -ENOENT);
        /* Outside the cgroup namespace, or no cgroup2 line (pure v1). */
        CHECK(cgroup_v2_own_path("0::/../../x\n", "/", &p) == -ENOENT);
        CHECK(cgroup_v2_own_path("4:memory:/a\n", "/", &p) == -ENOENT);
        CHECK(cgroup_v2_own_path("", "/", &p) == -ENOENT);
        /* "10::" is no cgroup2 line. */
        CHECK(cgroup_v2_own_path("10::/a\n", "/", &p) == -ENOENT);
}

static void test_delegated_paths(void)
{
        const char *deleg = "user.slice/user-1000.slice/user@1000.service";
        vessel_error *err = NULL;
        char *p = NULL;

        CHECK(cgroup_path_below("a/b", "a") && cgroup_path_below("a", ""));
        CHECK(!cgroup_path_below("a", "a") && !cgroup_path_below("ab/c", "a") &&
              !cgroup_path_below("", "") && !cgroup_path_below("b", "a/b"));
        p = cgroup_path_join("", "vessel/c1");
        CHECK_STR(p, "vessel/c1");
        free(p);
        p = cgroup_path_join("a/b", "vessel/c1");
        CHECK_STR(p, "a/b/vessel/c1");
        free(p);

        CHECK(cgroup_path_delegated(NULL, "c1", deleg, &p, NULL) == 0);
        CHECK_STR(p, "user.slice/user-1000.slice/user@1000.service/vessel/c1");
        free(p);
        CHECK(cgroup_path_delegated("", "c1", "", &p, NULL) == 0);
        CHECK_STR(p, "vessel/c1");
        free(p);
        CHECK(cgroup_path_delegated("pods/./c1/", "c1", deleg, &p, NULL) == 0);
        CHECK_STR(p, "user.slice/user-1000.slice/user@1000.service/pods/c1");
        free(p);
        CHECK(cgroup_path_delegated("/user.slice/user-1000.slice/user@1000.service/x/c1", "c1",
                                    deleg, &p, NULL) == 0);
        CHECK_STR(p, "user.slice/user-1000.slice/user@1000.service/x/c1");
        free(p);
        CHECK(cgroup_path_delegated("/x/c1", "c1", "", &p, NULL) == 0);
        CHECK_STR(p, "x/c1");
        free(p);

        /* Absolute and outside, or the delegation root itself: refused. */
        CHECK(cgroup_path_delegated("/vessel/c1", "c1", deleg, &p, &err) == -EACCES && !p);
        CHECK(err && strstr(err->msg, "/vessel/c1") && strstr(err->msg, deleg) &&
              strstr(err->msg, "delegated"));
        vessel_error_free(&err);
        CHECK(cgroup_path_delegated("/user.slice/user-1000.slice/user@1000.service", "c1", deleg,
                                    &p, &err) == -EACCES);
        vessel_error_free(&err);
        CHECK(cgroup_path_delegated("/user.slice/user-1000.slice/user@1000.servicex/c", "c1", deleg,
                                    &p, &err) == -EACCES);
        vessel_error_free(&err);
        /* The root path rules still hold. */
        CHECK(cgroup_path_delegated("a/../b", "c1", deleg, &p, &err) == -EINVAL);
        CHECK(err && strstr(err->msg, "\"..\""));
        vessel_error_free(&err);
        CHECK(cgroup_path_delegated("user.slice:vessel:c1", "c1", deleg, &p, &err) == -EINVAL);
        vessel_error_free(&err);
}

static void test_weights(void)
{
        CHECK(cgroup_shares_to_weight(0) == 0);
        CHECK(cgroup_shares_to_weight(2) == 1);
        CHECK(cgroup_shares_to_weight(1) == 1);
        CHECK(cgroup_shares_to_weight(512) == 20); /* podman's e2e value */
        CHECK(cgroup_shares_to_weight(1024) == 39);
        CHECK(cgroup_shares_to_weight(262144) == 10000);
        CHECK(cgroup_shares_to_weight(1000000) == 10000);
        CHECK(cgroup_weight_to_shares(1) == 2);
        CHECK(cgroup_weight_to_shares(10000) == 262144);
        for (uint64_t s = 2; s <= 262144; s += 977) {
                uint64_t back = cgroup_weight_to_shares(cgroup_shares_to_weight(s));
                CHECK(back <= s && s - back <= 27); /* one weight step is ~26 shares */
        }
        CHECK(cgroup_blkio_to_io_weight(10) == 1);
        CHECK(cgroup_blkio_to_io_weight(500) == 4950);
        CHECK(cgroup_blkio_to_io_weight(1000) == 10000);
        CHECK(cgroup_blkio_to_io_weight(0) == 0);
}

static int swap_v2(int64_t limit, bool has_swap, int64_t swap, int64_t *out)
{
        struct vessel_opt_i64 l = {limit != 0, limit}, s = {has_swap, swap};
        vessel_error *err = NULL;
        int r = cgroup_swap_to_v2(l, s, out, &err);

        CHECK((r < 0) == (err != NULL));
        if (err)
                CHECK(strstr(err->msg, "linux.resources.memory.swap") != NULL);
        vessel_error_free(&err);
        return r;
}

static void test_swap(void)
{
        int64_t v = 12345;

        CHECK(swap_v2(100 << 20, true, 300 << 20, &v) == 1 && v == 200 << 20);
        CHECK(swap_v2(100 << 20, true, 100 << 20, &v) == 1 && v == 0); /* no swap */
        CHECK(swap_v2(100 << 20, true, -1, &v) == 1 && v == -1);
        CHECK(swap_v2(-1, false, 0, &v) == 1 && v == -1); /* unlimited lifts swap too */
        v = 7;
        CHECK(swap_v2(100 << 20, false, 0, &v) == 0 && v == 7); /* left alone */
        CHECK(swap_v2(100 << 20, true, 0, &v) == 0);            /* 0 = not set */
        CHECK(swap_v2(100 << 20, true, 50 << 20, &v) < 0);      /* below the limit */
        CHECK(swap_v2(0, true, 200 << 20, &v) < 0);             /* no memory limit */
        CHECK(swap_v2(-1, true, 200 << 20, &v) < 0);
}

static bool list_is(const char *s, const unsigned *want, size_t n)
{
        unsigned *v = NULL;
        size_t got = 0;
        bool ok = cgroup_cpu_list_parse(s, &v, &got) == 0 && got == n &&
                  (n == 0 || !memcmp(v, want, n * sizeof(*v)));
        free(v);
        return ok;
}

static bool list_bad(const char *s)
{
        unsigned *v = NULL;
        size_t n = 0;
        bool bad = cgroup_cpu_list_parse(s, &v, &n) == -EINVAL && !v && n == 0;
        free(v);
        return bad;
}

static void test_cpu_lists(void)
{
        CHECK(list_is("0-3,7", (unsigned[]){0, 1, 2, 3, 7}, 5));
        CHECK(list_is("7,0-1", (unsigned[]){0, 1, 7}, 3));
        CHECK(list_is("0-1\n", (unsigned[]){0, 1}, 2));
        CHECK(list_is("5", (unsigned[]){5}, 1));
        CHECK(list_is("", NULL, 0));
        CHECK(list_is("\n", NULL, 0));
        CHECK(list_bad("0-"));
        CHECK(list_bad("3-1"));
        CHECK(list_bad("a"));
        CHECK(list_bad("0,"));
        CHECK(list_bad("1,,2"));
        CHECK(list_bad("-1"));
        CHECK(list_bad("0 1"));
}

static bool bytes_are(const char *s, int64_t want)
{
        int64_t v = 0;
        return cgroup_parse_bytes(s, &v) == 0 && v == want;
}

static void test_bytes_and_sizes(void)
{
        int64_t v;

        CHECK(bytes_are("100", 100));
        CHECK(bytes_are("64k", 65536));
        CHECK(bytes_are("64KB", 65536));
        CHECK(bytes_are("100M", 100 << 20));
        CHECK(bytes_are("100m", 100 << 20));
        CHECK(bytes_are("1g", 1LL << 30));
        CHECK(bytes_are("2GiB", 2LL << 30));
        CHECK(bytes_are("1.5k", 1536));
        CHECK(bytes_are("-1", -1));
        CHECK(cgroup_parse_bytes("-5", &v) < 0);
        CHECK(cgroup_parse_bytes("x", &v) < 0);
        CHECK(cgroup_parse_bytes("10q", &v) < 0);
        CHECK(cgroup_parse_bytes("10MBs", &v) < 0);
        CHECK(cgroup_parse_bytes("", &v) < 0);
        CHECK(cgroup_parse_bytes("99999999999999999999", &v) < 0);

        CHECK(cgroup_hugepage_size_valid("2MB"));
        CHECK(cgroup_hugepage_size_valid("1GB"));
        CHECK(cgroup_hugepage_size_valid("64KB"));
        CHECK(!cgroup_hugepage_size_valid("2mb"));
        CHECK(!cgroup_hugepage_size_valid("MB"));
        CHECK(!cgroup_hugepage_size_valid("02MB"));
        CHECK(!cgroup_hugepage_size_valid("2MB/../x"));
        CHECK(!cgroup_hugepage_size_valid("2"));
}

/* ------------------------------------------------------- device rules */

static struct vessel_device_rule rule(bool allow, char type, int64_t major, int64_t minor,
                                      const char *access)
{
        return (struct vessel_device_rule){allow, type, major, minor, (char *)access};
}

static bool fmt_is(const struct cgroup_dev_rule *r, const char *want)
{
        char line[64];

        cgroup_dev_rule_format(r, line, sizeof(line));
        return !strcmp(line, want);
}

static void test_device_rules(void)
{
        struct cgroup_dev_rule *r = NULL;
        size_t n = 0, base;

        cgroup_device_rules(NULL, 0, &r, &n);
        base = n;
        CHECK(n == 13);
        CHECK(!r[0].allow && r[0].type == 'a' && r[0].access == CGROUP_DEV_ALL);
        CHECK(fmt_is(&r[0], "a"));
        CHECK(fmt_is(&r[1], "c *:* m"));
        CHECK(fmt_is(&r[2], "b *:* m"));
        CHECK(fmt_is(&r[3], "c 1:3 rwm"));
        free(r);

        /* runc spec's "deny everything" resets to the default */
        struct vessel_device_rule deny_all[] = {rule(false, 'a', -1, -1, NULL)};
        cgroup_device_rules(deny_all, 1, &r, &n);
        CHECK(n == base);
        free(r);

        struct vessel_device_rule user[] = {
            rule(true, 'c', 10, 229, "rwm"), rule(false, 'a', -1, -1, "rwm"),
            rule(false, 'c', 1, 3, "w"), rule(true, 'a', 7, -1, "r"), rule(true, 'b', 8, -1, NULL)};
        cgroup_device_rules(user, ARRAY_SIZE(user), &r, &n);
        CHECK(n == base + 4); /* the first rule was reset away; 'a' 7:* became c and b */
        CHECK(fmt_is(&r[base], "c 1:3 w"));
        CHECK(!r[base].allow);
        CHECK(fmt_is(&r[base + 1], "c 7:* r"));
        CHECK(fmt_is(&r[base + 2], "b 7:* r"));
        CHECK(fmt_is(&r[base + 3], "b 8:* rwm"));
        free(r);
}

static void test_device_rules_v1(void)
{
        struct vessel_device_rule user[] = {rule(false, 'c', -1, -1, "rw")};
        struct cgroup_dev_rule *r = NULL, *v1 = NULL;
        size_t n = 0, n1 = 0, k = 0;

        cgroup_device_rules(user, ARRAY_SIZE(user), &r, &n);
        cgroup_device_rules_v1(r, n, &v1, &n1);
        /* Every default c allow comes after "deny c *:* rw" as a deny of
         * its own device; "c *:* m" itself is the deny's own device, and
         * b rules are not covered. */
        while (k < n1 && !(fmt_is(&v1[k], "c *:* rw") && !v1[k].allow))
                k++;
        CHECK(k == n - 1);
        CHECK(n1 == n + 10);
        CHECK(fmt_is(&v1[k + 1], "c 1:3 rw") && !v1[k + 1].allow);
        CHECK(fmt_is(&v1[n1 - 1], "c 10:200 rw") && !v1[n1 - 1].allow);
        for (size_t i = k + 1; i < n1; i++)
                CHECK(v1[i].type == 'c' && !v1[i].allow);
        free(r);
        free(v1);
}

/* Runs a device program for one access, with just the instructions that
 * cgroup_bpf_build() emits; -1 on anything else. */
static int run_prog(const struct bpf_insn *p, size_t len, unsigned type, unsigned access,
                    uint32_t major, uint32_t minor)
{
        uint32_t ctx[3] = {access << 16 | type, major, minor};
        uint64_t reg[11] = {0};

        for (size_t pc = 0, steps = 0; pc < len && steps < 100000; pc++, steps++) {
                const struct bpf_insn *i = &p[pc];
                uint64_t imm = (uint64_t)(int64_t)i->imm;
                switch (i->code) {
                case BPF_LDX | BPF_MEM | BPF_W:
                        if (i->src_reg != BPF_REG_1 || i->off % 4 || i->off > 8)
                                return -1;
                        reg[i->dst_reg] = ctx[i->off / 4];
                        break;
                case BPF_ALU64 | BPF_MOV | BPF_X:
                        reg[i->dst_reg] = reg[i->src_reg];
                        break;
                case BPF_ALU64 | BPF_MOV | BPF_K:
                        reg[i->dst_reg] = imm;
                        break;
                case BPF_ALU64 | BPF_RSH | BPF_K:
                        reg[i->dst_reg] >>= imm;
                        break;
                case BPF_ALU64 | BPF_AND | BPF_K:
                        reg[i->dst_reg] &= imm;
                        break;
                case BPF_JMP32 | BPF_JNE | BPF_K:
                        if ((uint32_t)reg[i->dst_reg] != (uint32_t)i->imm)
                                pc += (size_t)i->off;
                        break;
                case BPF_JMP32 | BPF_JEQ | BPF_K:
                        if ((uint32_t)reg[i->dst_reg] == (uint32_t)i->imm)
                                pc += (size_t)i->off;
                        break;
                case BPF_JMP | BPF_EXIT:
                        return (int)reg[0];
                default:
                        return -1;
                }
        }
        return -1;
}

#define CHR BPF_DEVCG_DEV_CHAR
#define BLK BPF_DEVCG_DEV_BLOCK
#define R_ CGROUP_DEV_READ
#define W_ CGROUP_DEV_WRITE
#define M_ CGROUP_DEV_MKNOD

static void build(const struct vessel_device_rule *user, size_t n, struct bpf_insn **p, size_t *len)
{
        struct cgroup_dev_rule *r = NULL;
        size_t nr;

        cgroup_device_rules(user, n, &r, &nr);
        *p = NULL;
        CHECK(cgroup_bpf_build(r, nr, p, len) == 0);
        free(r);
}

static void test_bpf_shape(void)
{
        struct cgroup_dev_rule one = {true, 'c', 1, 3, CGROUP_DEV_ALL};
        struct cgroup_dev_rule deny = {false, 'b', 8, -1, CGROUP_DEV_WRITE};
        struct cgroup_dev_rule all = {true, 'a', -1, -1, CGROUP_DEV_ALL};
        struct cgroup_dev_rule two[] = {one, deny};
        struct bpf_insn *p;
        size_t len;

        /* 6 to load the context, 2 to end: "return 0" */
        CHECK(cgroup_bpf_build(NULL, 0, &p, &len) == 0 && len == 8);
        CHECK(p[0].code == (BPF_LDX | BPF_MEM | BPF_W) && p[0].dst_reg == BPF_REG_2);
        CHECK(p[6].code == (BPF_ALU64 | BPF_MOV | BPF_K) && p[6].dst_reg == 0 && p[6].imm == 0);
        CHECK(p[7].code == (BPF_JMP | BPF_EXIT));
        free(p);
        /* allow c 1:3: 3 matches + and, jne, mov, exit */
        CHECK(cgroup_bpf_build(&one, 1, &p, &len) == 0 && len == 8 + 7);
        CHECK(p[6].code == (BPF_JMP32 | BPF_JNE | BPF_K) && p[6].imm == CHR && p[6].off == 6);
        CHECK(p[7].imm == 1 && p[7].off == 5 && p[8].imm == 3 && p[8].off == 4);
        CHECK(p[11].code == (BPF_ALU64 | BPF_MOV | BPF_K) && p[11].imm == 1);
        free(p);
        /* deny b 8:*: 2 matches + mov, and, jeq, mov, exit; last rule first */
        CHECK(cgroup_bpf_build(two, 2, &p, &len) == 0 && len == 8 + 7 + 7);
        CHECK(p[6].imm == BLK && p[6].off == 6 && p[7].imm == 8);
        CHECK(p[10].code == (BPF_JMP32 | BPF_JEQ | BPF_K) && p[11].imm == 0);
        CHECK(p[13].imm == CHR);
        free(p);
        /* allow everything: no matches at all */
        CHECK(cgroup_bpf_build(&all, 1, &p, &len) == 0 && len == 8 + 4);
        CHECK(run_prog(p, len, BLK, R_ | W_ | M_, 8, 0) == 1);
        free(p);
}

static void test_bpf_semantics(void)
{
        struct bpf_insn *p;
        size_t len;

        /* the OCI default */
        build(NULL, 0, &p, &len);
        CHECK(run_prog(p, len, CHR, R_ | W_, 1, 3) == 1);   /* /dev/null */
        CHECK(run_prog(p, len, CHR, R_, 5, 1) == 1);        /* console */
        CHECK(run_prog(p, len, CHR, R_ | W_, 136, 4) == 1); /* a pts */
        CHECK(run_prog(p, len, CHR, M_, 4, 1) == 1);        /* mknod anything */
        CHECK(run_prog(p, len, BLK, M_, 8, 0) == 1);
        CHECK(run_prog(p, len, BLK, R_, 8, 0) == 0);         /* a disk */
        CHECK(run_prog(p, len, CHR, R_ | W_, 4, 1) == 0);    /* tty1 */
        CHECK(run_prog(p, len, CHR, R_ | W_, 10, 229) == 0); /* fuse */
        free(p);

        /* a rule denies writing /dev/null; reading still works */
        struct vessel_device_rule deny_w[] = {rule(false, 'c', 1, 3, "w")};
        build(deny_w, 1, &p, &len);
        CHECK(run_prog(p, len, CHR, W_, 1, 3) == 0);
        CHECK(run_prog(p, len, CHR, R_ | W_, 1, 3) == 0);
        CHECK(run_prog(p, len, CHR, R_, 1, 3) == 1);
        CHECK(run_prog(p, len, CHR, W_, 1, 5) == 1);
        free(p);

        /* access granted by two rules together, as v1 merges them */
        struct vessel_device_rule split[] = {rule(true, 'c', 10, 229, "r"),
                                             rule(true, 'c', 10, 229, "w")};
        build(split, 2, &p, &len);
        CHECK(run_prog(p, len, CHR, R_ | W_, 10, 229) == 1);
        CHECK(run_prog(p, len, CHR, M_ | R_, 10, 229) == 1); /* mknod from the default */
        CHECK(run_prog(p, len, BLK, R_, 10, 229) == 0);
        free(p);

        /* privileged: allow everything, then a later deny still counts */
        struct vessel_device_rule priv[] = {rule(true, 'a', -1, -1, "rwm"),
                                            rule(false, 'b', 8, -1, "w")};
        build(priv, 2, &p, &len);
        CHECK(run_prog(p, len, CHR, R_ | W_, 4, 1) == 1);
        CHECK(run_prog(p, len, BLK, R_, 8, 1) == 1);
        CHECK(run_prog(p, len, BLK, W_, 8, 1) == 0);
        free(p);

        /* deny everything after an allow: back to the default */
        struct vessel_device_rule reset[] = {rule(true, 'c', 10, 229, "rwm"),
                                             rule(false, 'a', -1, -1, NULL)};
        build(reset, 2, &p, &len);
        CHECK(run_prog(p, len, CHR, R_, 10, 229) == 0);
        CHECK(run_prog(p, len, CHR, R_ | W_, 1, 3) == 1);
        free(p);
}

/* ----------------------------------------------------------- validate */

static bool invalid(const struct vessel_resources *r, const char *words)
{
        vessel_error *err = NULL;
        bool ok = cgroup_validate_resources(r, &err) < 0 && err && strstr(err->msg, words);

        if (!ok)
                fprintf(stderr, "  got: %s\n", err ? err->msg : "(accepted)");
        vessel_error_free(&err);
        return ok;
}

/* cgroup-inner.c: where init goes below its limits, and the name. */
static void test_inner(void)
{
        struct cg_hier h = {0};
        struct vessel_kv kv = {CGROUP_INNER_ANNOTATION, "payload"};
        struct vessel_spec spec = {.annotations = &kv, .n_annotations = 1};
        const char *bad[] = {"", "a/b", "..", ".", "cgroup.procs"};

        h.v2 = true;
        CHECK(cg_hier_takes_inner(&h)); /* cgroup2 */
        h.v2 = false;
        CHECK(cg_hier_takes_inner(&h)); /* a named one (name=systemd) */
        h.mask = CG_BIT(CG_MEMORY);
        CHECK(cg_hier_takes_inner(&h));
        h.mask = CG_BIT(CG_CPU) | CG_BIT(CG_CPUACCT);
        CHECK(cg_hier_takes_inner(&h));
        h.mask = CG_BIT(CG_DEVICES);
        CHECK(!cg_hier_takes_inner(&h));
        h.mask = CG_BIT(CG_FREEZER);
        CHECK(!cg_hier_takes_inner(&h));
        h.mask = CG_BIT(CG_CPUSET);
        CHECK(!cg_hier_takes_inner(&h));
        h.mask = CG_BIT(CG_NET_CLS) | CG_BIT(CG_NET_PRIO);
        CHECK(!cg_hier_takes_inner(&h));
        h.mask = CG_BIT(CG_MEMORY) | CG_BIT(CG_DEVICES); /* co-mounted with the runtime's */
        CHECK(!cg_hier_takes_inner(&h));

        CHECK(cg_inner_validate(&spec, NULL) == 0);
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                vessel_error *err = NULL;
                kv.value = (char *)bad[i];
                CHECK(cg_inner_validate(&spec, &err) == -EINVAL);
                CHECK(err && strstr(err->msg, CGROUP_INNER_ANNOTATION));
                vessel_error_free(&err);
        }
        spec.n_annotations = 0;
        CHECK(cg_inner_validate(&spec, NULL) == 0);
}

static void test_validate(void)
{
        struct vessel_resources r = {0};
        struct vessel_hugepage_limit hp = {"2mb", 1};
        struct vessel_kv kv = {"cgroup.procs", "1"};

        CHECK(cgroup_validate_resources(&r, NULL) == 0);
        r.cpu.quota = (struct vessel_opt_i64){true, -5};
        CHECK(invalid(&r, "linux.resources.cpu.quota"));
        r.cpu.quota.v = -1;
        CHECK(cgroup_validate_resources(&r, NULL) == 0);
        r.pids.present = true;
        r.pids.limit = -2;
        CHECK(invalid(&r, "linux.resources.pids.limit"));
        r.pids.limit = -1;
        r.cpu.idle = (struct vessel_opt_i64){true, 2};
        CHECK(invalid(&r, "linux.resources.cpu.idle"));
        r.cpu.idle.v = 1;
        r.memory.limit = (struct vessel_opt_i64){true, 100 << 20};
        r.memory.swap = (struct vessel_opt_i64){true, 50 << 20};
        CHECK(invalid(&r, "linux.resources.memory.swap"));
        r.memory.swap.v = 200 << 20;
        CHECK(cgroup_validate_resources(&r, NULL) == 0);
        r.hugepage_limits = &hp;
        r.n_hugepage_limits = 1;
        CHECK(invalid(&r, "hugepageLimits[0].pageSize"));
        hp.page_size = "2MB";
        CHECK(cgroup_validate_resources(&r, NULL) == 0);
        r.unified = &kv;
        r.n_unified = 1;
        CHECK(invalid(&r, "unified[\"cgroup.procs\"]"));
        kv.key = "memory.high";
        CHECK(cgroup_validate_resources(&r, NULL) == 0);
        kv.key = "nodot";
        CHECK(invalid(&r, "unified[\"nodot\"]"));
}

int main(void)
{
        test_paths();
        test_state_path();
        test_delegation_root();
        test_own_path();
        test_delegated_paths();
        test_weights();
        test_swap();
        test_cpu_lists();
        test_bytes_and_sizes();
        test_device_rules();
        test_device_rules_v1();
        test_bpf_shape();
        test_bpf_semantics();
        test_validate();
        test_inner();
        return check_report("test_cgroup");
}
