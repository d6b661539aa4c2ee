/* Unit tests for the config.json parser (spec.c). */
#include "check.h"
#include "seccomp_filter.h"
#include "spec.h"
#include "util.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>

#ifndef TESTDATA_DIR
#define TESTDATA_DIR "tests/unit/testdata"
#endif


/* Like CHECK, but leaves the test function (for pointers about to be used). */
#define REQUIRE(cond)                                                                    \
        do {                                                                             \
                checks++;                                                                \
                if (!(cond)) {                                                           \
                        fprintf(stderr, "%s:%d: REQUIRE(%s) failed\n", __FILE__, __LINE__, \
                                #cond);                                                  \
                        failures++;                                                      \
                        return;                                                          \
                }                                                                        \
        } while (0)

/* Test JSON is written with ' for " to stay readable. */
static char *json_quote(const char *s)
{
        char *r = xstrdup(s);
        for (char *p = r; *p; p++)
                if (*p == '\'')
                        *p = '"';
        return r;
}

/* A config: {"ociVersion": "1.2.0", <members>} */
static char *config(const char *members)
{
        _cleanup_free_ char *q = json_quote(members);
        return xasprintf("{\"ociVersion\": \"1.2.0\"%s%s}", *q ? ", " : "", q);
}

static struct vessel_spec *parse_text(const char *json)
{
        struct vessel_spec *s = NULL;
        vessel_error *err = NULL;
        int r = vessel_spec_parse(json, strlen(json), &s, &err);

        if (r < 0) {
                fprintf(stderr, "unexpected error: %s\n  in: %s\n", err ? err->msg : "?", json);
                vessel_error_free(&err);
                return NULL;
        }
        return s;
}

static struct vessel_spec *parse_ok(const char *members)
{
        _cleanup_free_ char *json = config(members);
        return parse_text(json);
}

/* The parse must fail with EINVAL and a message starting with 'prefix'. */
static void expect_error_text(const char *json, const char *prefix, int line)
{
        struct vessel_spec *s = NULL;
        vessel_error *err = NULL;
        int r = vessel_spec_parse(json, strlen(json), &s, &err);

        checks++;
        if (r != -EINVAL || !err || !err->msg || strncmp(err->msg, prefix, strlen(prefix)) != 0) {
                fprintf(stderr, "%s:%d: expected error \"%s...\", got r=%d \"%s\"\n  in: %s\n",
                        __FILE__, line, prefix, r, err && err->msg ? err->msg : "(none)", json);
                failures++;
        }
        if (r == 0 || s)
                vessel_spec_free(s);
        vessel_error_free(&err);
}

static void expect_error_at(const char *members, const char *prefix, int line)
{
        _cleanup_free_ char *json = config(members);
        expect_error_text(json, prefix, line);
}

#define EXPECT_ERROR(members, prefix) expect_error_at((members), (prefix), __LINE__)
#define EXPECT_ERROR_TEXT(json, prefix) expect_error_text((json), (prefix), __LINE__)
#define EXPECT_OK(members)                                   \
        do {                                                 \
                struct vessel_spec *s_ = parse_ok(members); \
                CHECK(s_ != NULL);                           \
                vessel_spec_free(s_);                        \
        } while (0)

#define PROC(x) "'process': {'args': ['sh'], " x "}"
#define LINUX(x) "'linux': {" x "}"
#define RES(x) LINUX("'resources': {" x "}")

static bool has_cap(const struct vessel_capabilities *c, int set, int cap)
{
        return (c->sets[set] >> cap) & 1;
}

/* ---- the full config ---- */

static void check_process(const struct vessel_process *p)
{
        CHECK(p->terminal);
        CHECK(p->has_console_size && p->console_size.height == 25 && p->console_size.width == 80);
        CHECK(p->user.uid == 1000 && p->user.gid == 1001);
        CHECK(p->user.has_umask && p->user.umask == 18);
        REQUIRE(p->user.n_additional_gids == 3);
        CHECK(p->user.additional_gids[0] == 5 && p->user.additional_gids[2] == 4294967295u);
        CHECK_STR(p->user.username, "someone");
        REQUIRE(p->n_args == 3 && p->args[3] == NULL);
        CHECK_STR(p->args[0], "/bin/sh");
        CHECK_STR(p->args[2], "echo hi");
        CHECK_STR(p->command_line, "sh -c 'echo hi'");
        REQUIRE(p->n_env == 3 && p->env[3] == NULL);
        CHECK_STR(p->env[2], "EMPTY=");
        CHECK_STR(p->cwd, "/work");

        CHECK(p->capabilities.present);
        CHECK(has_cap(&p->capabilities, VESSEL_CAP_BOUNDING, 0));  /* CAP_CHOWN */
        CHECK(has_cap(&p->capabilities, VESSEL_CAP_BOUNDING, 5));  /* CAP_KILL */
        CHECK(has_cap(&p->capabilities, VESSEL_CAP_BOUNDING, 21)); /* CAP_SYS_ADMIN */
        CHECK(has_cap(&p->capabilities, VESSEL_CAP_BOUNDING, 40)); /* CAP_CHECKPOINT_RESTORE */
        CHECK(p->capabilities.sets[VESSEL_CAP_BOUNDING] ==
              ((1ull << 0) | (1ull << 5) | (1ull << 21) | (1ull << 40)));
        CHECK(p->capabilities.sets[VESSEL_CAP_EFFECTIVE] == 1ull << 5);
        CHECK(p->capabilities.sets[VESSEL_CAP_INHERITABLE] == 0);
        CHECK(p->capabilities.sets[VESSEL_CAP_PERMITTED] == ((1ull << 5) | (1ull << 10)));
        CHECK(p->capabilities.sets[VESSEL_CAP_AMBIENT] == 1ull << 10);

        REQUIRE(p->n_rlimits == 2);
        CHECK(p->rlimits[0].resource == RLIMIT_NOFILE);
        CHECK(p->rlimits[0].soft == 1024 && p->rlimits[0].hard == 4096);
        CHECK(p->rlimits[1].resource == RLIMIT_CORE);
        CHECK(p->rlimits[1].soft == 0 && p->rlimits[1].hard == UINT64_MAX);
        CHECK(p->no_new_privileges);
        CHECK_STR(p->apparmor_profile, "vessel-default");
        CHECK(p->has_oom_score_adj && p->oom_score_adj == -500);
        CHECK_STR(p->selinux_label, "system_u:system_r:container_t:s0");
        CHECK(p->has_io_priority && p->io_priority_class == 2 && p->io_priority == 4);
        CHECK(p->scheduler.present && p->scheduler.policy == 3 && p->scheduler.nice == 5);
        CHECK(p->scheduler.flags == (0x01 | 0x10)); /* RESET_ON_FORK | KEEP_PARAMS */
        CHECK(p->scheduler.priority == 0 && p->scheduler.runtime == 0);
        CHECK_STR(p->exec_cpu_affinity_initial, "0-1");
        CHECK_STR(p->exec_cpu_affinity_final, "2,4-6");
}

static void check_mounts_hooks(const struct vessel_spec *s)
{
        const struct vessel_mount *m;

        REQUIRE(s->n_mounts == 4);
        CHECK_STR(s->mounts[0].destination, "/proc");
        CHECK_STR(s->mounts[0].type, "proc");
        CHECK(s->mounts[0].options == NULL && s->mounts[0].n_options == 0);
        m = &s->mounts[1];
        REQUIRE(m->n_options == 4 && m->options[4] == NULL);
        CHECK(m->opts.flags == (MS_NOSUID | MS_STRICTATIME));
        REQUIRE(m->opts.n_data == 2);
        CHECK_STR(m->opts.data[0], "mode=755");
        CHECK_STR(m->opts.data[1], "size=65536k");
        CHECK(m->opts.data[2] == NULL);
        m = &s->mounts[2];
        CHECK_STR(m->destination, "/data/sub/dir"); /* relative, normalized */
        CHECK(m->opts.bind && m->opts.rbind && (m->opts.flags & MS_RDONLY));
        CHECK(m->opts.propagation == MS_PRIVATE && m->opts.propagation_rec);
        CHECK(m->opts.attr_set == (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSYMFOLLOW));
        m = &s->mounts[3];
        CHECK(m->opts.idmap && !m->opts.ridmap);
        REQUIRE(m->n_uid_mappings == 1 && m->n_gid_mappings == 1);
        CHECK(m->uid_mappings[0].host_id == 100000 && m->uid_mappings[0].size == 65536);
        CHECK(m->gid_mappings[0].host_id == 200000);

        REQUIRE(s->hooks.n[VESSEL_HOOK_PRESTART] == 1);
        CHECK_STR(s->hooks.list[VESSEL_HOOK_PRESTART][0].path, "/usr/bin/pre");
        CHECK(s->hooks.list[VESSEL_HOOK_PRESTART][0].n_args == 2);
        CHECK_STR(s->hooks.list[VESSEL_HOOK_PRESTART][0].env[0], "A=1");
        CHECK(s->hooks.list[VESSEL_HOOK_PRESTART][0].has_timeout &&
              s->hooks.list[VESSEL_HOOK_PRESTART][0].timeout == 5);
        REQUIRE(s->hooks.n[VESSEL_HOOK_CREATE_RUNTIME] == 2);
        CHECK_STR(s->hooks.list[VESSEL_HOOK_CREATE_RUNTIME][1].path, "/usr/bin/cr2");
        CHECK(!s->hooks.list[VESSEL_HOOK_CREATE_RUNTIME][1].has_timeout);
        CHECK(s->hooks.n[VESSEL_HOOK_CREATE_CONTAINER] == 1);
        CHECK(s->hooks.n[VESSEL_HOOK_START_CONTAINER] == 1);
        CHECK(s->hooks.n[VESSEL_HOOK_POSTSTART] == 1);
        REQUIRE(s->hooks.n[VESSEL_HOOK_POSTSTOP] == 1);
        CHECK(s->hooks.list[VESSEL_HOOK_POSTSTOP][0].timeout == 30);

        REQUIRE(s->n_annotations == 3);
        CHECK_STR(s->annotations[0].key, "org.example.b"); /* document order */
        CHECK_STR(s->annotations[1].key, "org.example.a");
        CHECK_STR(s->annotations[1].value, "1");
}

static void check_resources(const struct vessel_resources *r)
{
        CHECK(r->present);
        REQUIRE(r->n_devices == 3);
        CHECK(!r->devices[0].allow && r->devices[0].type == 'a');
        CHECK(r->devices[0].major == -1 && r->devices[0].minor == -1);
        CHECK_STR(r->devices[0].access, "rwm");
        CHECK(r->devices[1].type == 'c' && r->devices[1].major == 10 && r->devices[1].minor == 229);
        CHECK(r->devices[2].type == 'b' && r->devices[2].minor == -1 && !r->devices[2].access);

        CHECK(r->memory.limit.set && r->memory.limit.v == 536870912);
        CHECK(r->memory.reservation.set && r->memory.reservation.v == 268435456);
        CHECK(r->memory.swap.set && r->memory.swap.v == -1);
        CHECK(r->memory.kernel.set && r->memory.kernel.v == -1);
        CHECK(r->memory.kernel_tcp.set && r->memory.kernel_tcp.v == 1048576);
        CHECK(r->memory.swappiness.set && r->memory.swappiness.v == 60);
        CHECK(r->memory.has_disable_oom_killer && r->memory.disable_oom_killer);
        CHECK(r->memory.has_use_hierarchy && !r->memory.use_hierarchy);
        CHECK(r->memory.has_check_before_update && r->memory.check_before_update);

        CHECK(r->cpu.shares.set && r->cpu.shares.v == 1024);
        CHECK(r->cpu.quota.set && r->cpu.quota.v == 50000);
        CHECK(r->cpu.burst.set && r->cpu.burst.v == 1000);
        CHECK(r->cpu.period.v == 100000 && r->cpu.realtime_runtime.v == 950000);
        CHECK(r->cpu.realtime_period.v == 1000000 && r->cpu.idle.set && r->cpu.idle.v == 1);
        CHECK_STR(r->cpu.cpus, "0-3,5");
        CHECK_STR(r->cpu.mems, "0");
        CHECK(r->pids.present && r->pids.limit == 100);

        CHECK(r->block_io.weight.set && r->block_io.weight.v == 500);
        CHECK(r->block_io.leaf_weight.v == 300);
        REQUIRE(r->block_io.n_weight_device == 2);
        CHECK(r->block_io.weight_device[0].weight.v == 10);
        CHECK(r->block_io.weight_device[0].leaf_weight.v == 1000);
        CHECK(!r->block_io.weight_device[1].weight.set && r->block_io.weight_device[1].minor == 16);
        REQUIRE(r->block_io.n_throttle_read_bps == 1 && r->block_io.n_throttle_write_bps == 1);
        CHECK(r->block_io.throttle_read_bps[0].rate == 1048576);
        CHECK(r->block_io.throttle_write_bps[0].rate == 2097152);
        REQUIRE(r->block_io.n_throttle_read_iops == 1 && r->block_io.n_throttle_write_iops == 2);
        CHECK(r->block_io.throttle_write_iops[1].rate == 300);

        REQUIRE(r->n_hugepage_limits == 2);
        CHECK_STR(r->hugepage_limits[1].page_size, "1GB");
        CHECK(r->hugepage_limits[0].limit == 209715200);
        CHECK(r->network.class_id.set && r->network.class_id.v == 1048577);
        REQUIRE(r->network.n_priorities == 2);
        CHECK_STR(r->network.priorities[0].name, "eth0");
        CHECK(r->network.priorities[0].priority == 500);
        REQUIRE(r->n_rdma == 2);
        CHECK_STR(r->rdma[0].device, "mlx5_1");
        CHECK(r->rdma[0].hca_handles.set && r->rdma[0].hca_handles.v == 3);
        CHECK(r->rdma[0].hca_objects.v == 10000);
        CHECK(!r->rdma[1].hca_handles.set && r->rdma[1].hca_objects.v == 1);
        REQUIRE(r->n_unified == 2);
        CHECK_STR(r->unified[1].key, "io.max");
        CHECK_STR(r->unified[1].value, "8:0 rbps=1048576");
}

static void check_linux(const struct vessel_linux *l)
{
        const struct vessel_seccomp *sc = &l->seccomp;

        for (int i = 0; i < VESSEL_NS_COUNT; i++)
                CHECK(l->ns[i].present);
        CHECK_STR(l->ns[VESSEL_NS_NET].path, "/var/run/netns/x");
        CHECK(l->ns[VESSEL_NS_PID].path == NULL);
        REQUIRE(l->n_uid_mappings == 2 && l->n_gid_mappings == 1);
        CHECK(l->uid_mappings[1].container_id == 1 && l->uid_mappings[1].host_id == 100000 &&
              l->uid_mappings[1].size == 65535);
        CHECK(l->time_monotonic.present && l->time_monotonic.secs == -10 &&
              l->time_monotonic.nanosecs == 5);
        CHECK(l->time_boottime.present && l->time_boottime.secs == 3600 &&
              l->time_boottime.nanosecs == 999999999);
        REQUIRE(l->n_devices == 3);
        CHECK_STR(l->devices[0].path, "/dev/fuse");
        CHECK(l->devices[0].type == 'c' && l->devices[0].major == 10 && l->devices[0].minor == 229);
        CHECK(l->devices[0].has_file_mode && l->devices[0].file_mode == 0666);
        CHECK(l->devices[0].has_uid && l->devices[0].has_gid);
        CHECK(l->devices[1].type == 'b' && !l->devices[1].has_file_mode && !l->devices[1].has_uid);
        CHECK(l->devices[2].type == 'p');
        CHECK_STR(l->cgroups_path, "/vessel/box");
        check_resources(&l->resources);
        REQUIRE(l->n_sysctl == 3);
        CHECK_STR(l->sysctl[0].key, "net.ipv4.ip_forward");
        CHECK_STR(l->sysctl[0].value, "1");
        CHECK_STR(l->sysctl[2].key, "net/core/somaxconn");
        CHECK(l->rootfs_propagation == (MS_SLAVE | MS_REC));
        REQUIRE(l->n_masked_paths == 2 && l->n_readonly_paths == 2);
        CHECK_STR(l->masked_paths[1], "/sys/firmware");
        CHECK_STR(l->readonly_paths[1], "/proc/sysrq-trigger");
        CHECK_STR(l->mount_label, "system_u:object_r:container_file_t:s0");
        CHECK(l->has_personality && l->personality == PER_LINUX32);

        CHECK(sc->present);
        CHECK_STR(sc->default_action, "SCMP_ACT_ERRNO");
        CHECK(sc->has_default_errno_ret && sc->default_errno_ret == 1);
        REQUIRE(sc->n_architectures == 3);
        CHECK_STR(sc->architectures[2], "SCMP_ARCH_X32");
        REQUIRE(sc->n_flags == 2);
        CHECK_STR(sc->flags[1], "SECCOMP_FILTER_FLAG_SPEC_ALLOW");
        CHECK_STR(sc->listener_path, "/run/seccomp.sock");
        CHECK_STR(sc->listener_metadata, "meta");
        REQUIRE(sc->n_syscalls == 4);
        REQUIRE(sc->syscalls[0].n_names == 3);
        CHECK_STR(sc->syscalls[0].names[2], "no_such_syscall_is_fine");
        CHECK(!sc->syscalls[0].has_errno_ret);
        REQUIRE(sc->syscalls[1].n_args == 2);
        CHECK(sc->syscalls[1].args[1].value == 4294967295u && sc->syscalls[1].args[1].value_two == 8);
        CHECK_STR(sc->syscalls[1].args[1].op, "SCMP_CMP_MASKED_EQ");
        CHECK(sc->syscalls[2].has_errno_ret && sc->syscalls[2].errno_ret == 38);
        CHECK_STR(sc->syscalls[3].action, "SCMP_ACT_NOTIFY");
        CHECK_STR(l->intel_rdt_clos_id, "guaranteed");
        CHECK(l->memory_policy.present && l->memory_policy.mode == 3); /* MPOL_INTERLEAVE */
        CHECK(l->memory_policy.flags == 1u << 15);                      /* MPOL_F_STATIC_NODES */
        CHECK_STR(l->memory_policy.nodes, "0-2,65,1023");
        CHECK(l->memory_policy.has_nodes && l->memory_policy.nodemask[0] == 7);
        CHECK(l->memory_policy.nodemask[1] == 2 && l->memory_policy.nodemask[15] == 1ul << 63);
}

static void test_full_config(void)
{
        struct vessel_spec *s = NULL;
        vessel_error *err = NULL;
        int r = vessel_spec_load(TESTDATA_DIR "/full.json", &s, &err);

        if (r < 0)
                fprintf(stderr, "load full.json: %s\n", err ? err->msg : "?");
        vessel_error_free(&err);
        REQUIRE(r == 0 && s);
        CHECK_STR(s->oci_version, "1.3.0");
        CHECK_STR(s->root.path, "rootfs");
        CHECK(s->root.readonly);
        CHECK(s->has_process && s->has_linux);
        CHECK_STR(s->hostname, "box");
        CHECK_STR(s->domainname, "example.org");
        check_process(&s->process);
        check_mounts_hooks(s);
        check_linux(&s->linux_);
        vessel_spec_free(s);
}

static void test_load_errors(void)
{
        struct vessel_spec *s = NULL;
        vessel_error *err = NULL;
        int r = vessel_spec_load(TESTDATA_DIR "/does-not-exist.json", &s, &err);

        CHECK(r == -ENOENT && err && s == NULL);
        vessel_error_free(&err);

        /* syntax errors name the file, line and column */
        r = vessel_spec_load(TESTDATA_DIR "/invalid.json", &s, &err);
        CHECK(r == -EINVAL && s == NULL && err &&
              str_has_prefix(err->msg, TESTDATA_DIR "/invalid.json: invalid JSON at line 3, column 15: "));
        if (err)
                printf("  (syntax error message: %s)\n", err->msg);
        vessel_error_free(&err);

        /* the caller names the text, or names nothing and prefixes it itself */
        r = vessel_spec_parse_named("{\n,", 3, "/b/config.json", &s, &err);
        CHECK(r == -EINVAL && err && str_has_prefix(err->msg, "/b/config.json: invalid JSON at line 2, column 1: "));
        vessel_error_free(&err);
        r = vessel_spec_parse_named("{\n,", 3, NULL, &s, &err);
        CHECK(r == -EINVAL && err && str_has_prefix(err->msg, "invalid JSON at line 2, column 1: "));
        vessel_error_free(&err);
        r = vessel_spec_parse_named("[]", 2, NULL, &s, &err);
        CHECK(r == -EINVAL && err && !strcmp(err->msg, "expected a JSON object"));
        vessel_error_free(&err);
        r = vessel_spec_parse_named("{\"ociVersion\": \"1.0.0\"}", 23, NULL, &s, &err);
        CHECK(r == 0 && s && !err);
        vessel_spec_free(s);
}

/* ---- versions, structure ---- */

static void test_versions(void)
{
        static const char *const good[] = {"1.0.0", "1.0.2", "1.1.0", "1.2.0", "1.3.0",
                                           "1.0.0-rc5", "1.2.1-dev"};
        static const char *const bad[] = {"2.0.0", "0.9.0", "11.0.0", "", "1", "x.1", "1.x"};

        for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
                _cleanup_free_ char *json = xasprintf("{\"ociVersion\": \"%s\"}", good[i]);
                struct vessel_spec *s = parse_text(json);
                CHECK(s && !strcmp(s->oci_version, good[i]));
                CHECK(s && !s->has_process && !s->has_linux);
                vessel_spec_free(s);
        }
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                _cleanup_free_ char *json = xasprintf("{\"ociVersion\": \"%s\"}", bad[i]);
                EXPECT_ERROR_TEXT(json, "ociVersion: ");
        }
        EXPECT_ERROR_TEXT("{\"ociVersion\": \"2.0.0\"}", "ociVersion: unsupported version \"2.0.0\"");
        EXPECT_ERROR_TEXT("{}", "ociVersion: required");
        EXPECT_ERROR_TEXT("{\"ociVersion\": null}", "ociVersion: required");
        EXPECT_ERROR_TEXT("{\"ociVersion\": 1}", "ociVersion: expected a string");
}

static void test_json_syntax(void)
{
        EXPECT_ERROR_TEXT("", "config.json: invalid JSON at line 1, column 1: ");
        EXPECT_ERROR_TEXT("{\"ociVersion\": \"1.0.0\",\n  \"root\": {\"path\": \"r\",,}\n}",
                          "config.json: invalid JSON at line 2, column ");
        EXPECT_ERROR_TEXT("{\"ociVersion\": \"1.0.0\"", "config.json: invalid JSON at line 1");
        EXPECT_ERROR_TEXT("{\"ociVersion\": \"1.0.0\"} x",
                          "config.json: invalid JSON at line 1, column 25: ");
        EXPECT_ERROR_TEXT("{\"ociVersion\": \"1.0.0\"} {}", "config.json: invalid JSON");
        EXPECT_ERROR_TEXT("{'ociVersion': '1.0.0'}", "config.json: invalid JSON");
        EXPECT_ERROR_TEXT("[]", "config.json: expected a JSON object");
        EXPECT_ERROR_TEXT("null", "config.json: expected a JSON object");
        EXPECT_ERROR_TEXT("\"x\"", "config.json: expected a JSON object");

        /* embedded NUL after the object */
        {
                static const char text[] = "{\"ociVersion\": \"1.0.0\"}\0junk";
                struct vessel_spec *s = NULL;
                vessel_error *err = NULL;
                int r = vessel_spec_parse(text, sizeof(text) - 1, &s, &err);
                CHECK(r == -EINVAL && err && strstr(err->msg, "invalid JSON"));
                vessel_error_free(&err);
        }
        /* trailing whitespace is fine; a non-NUL-terminated buffer too */
        {
                static const char text[] = "{\"ociVersion\": \"1.0.0\"}\n\t XYZ";
                struct vessel_spec *s = NULL;
                vessel_error *err = NULL;
                int r = vessel_spec_parse(text, sizeof(text) - 4, &s, &err);
                CHECK(r == 0 && s);
                vessel_spec_free(s);
                vessel_error_free(&err);
        }
}

static void test_unknown_and_null(void)
{
        struct vessel_spec *s = parse_ok(
                "'future': {'x': [1]}, 'hostname': null, 'mounts': null, 'annotations': {'a': null, 'b': 'c'},"
                PROC("'env': null, 'user': null, 'newField': 3, 'capabilities': {'bounding': null, 'x': 1}")
                "," LINUX("'namespaces': [{'type': 'pid', 'path': null, 'z': 1}], 'resources': "
                          "{'memory': {'limit': null, 'futureKnob': 1}}, 'netDevices': {'eth0': {}}"));
        REQUIRE(s);
        CHECK(s->hostname == NULL && s->n_mounts == 0);
        CHECK(s->n_annotations == 1 && !strcmp(s->annotations[0].key, "b"));
        CHECK(s->has_process && s->process.env == NULL && s->process.n_env == 0);
        CHECK(s->process.capabilities.present && s->process.capabilities.sets[0] == 0);
        CHECK(s->linux_.ns[VESSEL_NS_PID].present && !s->linux_.ns[VESSEL_NS_PID].path);
        CHECK(s->linux_.resources.present && !s->linux_.resources.memory.limit.set);
        vessel_spec_free(s);
}

static void test_types(void)
{
        EXPECT_ERROR("'process': 'sh'", "process: expected an object");
        EXPECT_ERROR("'process': {'args': 'sh'}", "process.args: expected an array");
        EXPECT_ERROR("'process': {'args': ['sh', 1]}", "process.args[1]: expected a string");
        EXPECT_ERROR("'process': {'args': ['sh', null]}", "process.args[1]: expected a string");
        EXPECT_ERROR(PROC("'terminal': 'yes'"), "process.terminal: expected a boolean");
        EXPECT_ERROR(PROC("'user': {'uid': '0'}"), "process.user.uid: expected an integer");
        EXPECT_ERROR(PROC("'user': {'uid': 1.5}"), "process.user.uid: expected an integer");
        EXPECT_ERROR(PROC("'user': {'uid': -1}"), "process.user.uid: -1 is out of range");
        EXPECT_ERROR(PROC("'user': {'uid': 4294967296}"), "process.user.uid: 4294967296 is out of range");
        EXPECT_ERROR(PROC("'user': {'additionalGids': [1, -2]}"),
                     "process.user.additionalGids[1]: -2 is out of range");
        EXPECT_ERROR(PROC("'user': {'additionalGids': [1, null]}"),
                     "process.user.additionalGids[1]: expected an integer");
        EXPECT_ERROR(PROC("'oomScoreAdj': 1001"), "process.oomScoreAdj: 1001 is out of range");
        EXPECT_ERROR(PROC("'oomScoreAdj': -1001"), "process.oomScoreAdj: -1001 is out of range");
        EXPECT_ERROR(PROC("'consoleSize': []"), "process.consoleSize: expected an object");
        EXPECT_ERROR("'mounts': {}", "mounts: expected an array");
        EXPECT_ERROR("'mounts': [{'destination': '/a'}, 'x']", "mounts[1]: expected an object");
        EXPECT_ERROR("'annotations': {'a': 1}", "annotations[\"a\"]: expected a string");
        EXPECT_ERROR(LINUX("'sysctl': {'kernel.x': true}"), "linux.sysctl[\"kernel.x\"]: expected a string");
        EXPECT_ERROR("'hostname': 1", "hostname: expected a string");
        EXPECT_ERROR("'hostname': 'a\\u0000b'", "hostname: must not contain NUL bytes");
        EXPECT_ERROR(RES("'cpu': {'shares': 18446744073709551616.5}"), "linux.resources.cpu.shares: expected an integer");
        EXPECT_ERROR(RES("'pids': {'limit': 1e300}"), "linux.resources.pids.limit: expected an integer");

        /* integers written in exponent form, and the extremes of the ranges */
        {
                struct vessel_spec *s = parse_ok(
                        PROC("'user': {'uid': 1e3, 'gid': 4294967295}, 'oomScoreAdj': -1000") ","
                        RES("'cpu': {'quota': -9223372036854775808, 'shares': 18446744073709551615}"));
                REQUIRE(s);
                CHECK(s->process.user.uid == 1000 && s->process.user.gid == UINT32_MAX);
                CHECK(s->process.oom_score_adj == -1000);
                CHECK(s->linux_.resources.cpu.quota.v == INT64_MIN);
                CHECK(s->linux_.resources.cpu.shares.v == UINT64_MAX);
                vessel_spec_free(s);
        }
}

/* ---- process ---- */

static void test_process(void)
{
        EXPECT_ERROR("'process': {}", "process.args: required");
        EXPECT_ERROR("'process': {'args': []}", "process.args: must not be empty");
        EXPECT_ERROR(PROC("'cwd': 'relative'"), "process.cwd: must be an absolute path");
        EXPECT_ERROR(PROC("'env': ['A=1', 'NOEQUALS']"), "process.env[1]: missing '='");
        EXPECT_ERROR(PROC("'env': ['=x']"), "process.env[0]: empty variable name");
        EXPECT_ERROR(PROC("'rlimits': [{'type': 'RLIMIT_FOO', 'soft': 1, 'hard': 1}]"),
                     "process.rlimits[0].type: unknown rlimit \"RLIMIT_FOO\"");
        EXPECT_ERROR(PROC("'rlimits': [{'soft': 1, 'hard': 1}]"), "process.rlimits[0].type: required");
        EXPECT_ERROR(PROC("'rlimits': [{'type': 'RLIMIT_NOFILE', 'hard': 1}]"),
                     "process.rlimits[0].soft: required");
        EXPECT_ERROR(PROC("'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': 2, 'hard': 1}]"),
                     "process.rlimits[0].soft: soft limit 2 exceeds hard limit 1");
        EXPECT_ERROR(PROC("'rlimits': [{'type': 'RLIMIT_NOFILE', 'soft': 1, 'hard': 1}, "
                          "{'type': 'RLIMIT_NOFILE', 'soft': 1, 'hard': 1}]"),
                     "process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\"");
        EXPECT_ERROR(PROC("'capabilities': {'effective': ['CAP_KILL', 7]}"),
                     "process.capabilities.effective[1]: expected a string");
        EXPECT_ERROR(PROC("'ioPriority': {'class': 'IOPRIO_CLASS_FOO'}"),
                     "process.ioPriority.class: unknown ioPriority class \"IOPRIO_CLASS_FOO\"");
        EXPECT_ERROR(PROC("'ioPriority': {'priority': 1}"), "process.ioPriority.class: required");
        EXPECT_ERROR(PROC("'ioPriority': {'class': 'IOPRIO_CLASS_RT', 'priority': 8}"),
                     "process.ioPriority.priority: 8 is out of range");
        EXPECT_ERROR(PROC("'execCPUAffinity': {'initial': '1-0'}"),
                     "process.execCPUAffinity.initial: invalid cpu list \"1-0\"");

        /* defaults, unknown capabilities skipped */
        {
                struct vessel_spec *s =
                        parse_ok(PROC("'capabilities': {'bounding': ['CAP_NEW_IN_2030', 'CAP_BPF']}, "
                                      "'ioPriority': {'class': 'IOPRIO_CLASS_IDLE'}"));
                REQUIRE(s);
                CHECK_STR(s->process.cwd, "/");
                CHECK(s->process.user.uid == 0 && !s->process.user.has_umask);
                CHECK(!s->process.has_oom_score_adj && !s->process.has_console_size);
                CHECK(s->process.capabilities.sets[VESSEL_CAP_BOUNDING] == 1ull << 39);
                CHECK(s->process.io_priority_class == 3 && s->process.io_priority == 0);
                vessel_spec_free(s);
        }
}

#define SCHED(x) PROC("'scheduler': {" x "}")

static void test_scheduler(void)
{
        static const struct {
                const char *members, *error;
        } bad[] = {
                {"'nice': 1", "process.scheduler.policy: required"},
                {"'policy': 'SCHED_NORMAL'", "process.scheduler.policy: unknown scheduler policy \"SCHED_NORMAL\""},
                {"'policy': 7", "process.scheduler.policy: expected a string"},
                {"'policy': 'SCHED_OTHER', 'nice': -21", "process.scheduler.nice: -21 is out of range (-20..19)"},
                {"'policy': 'SCHED_OTHER', 'nice': 20", "process.scheduler.nice: 20 is out of range"},
                {"'policy': 'SCHED_FIFO', 'priority': 100", "process.scheduler.priority: 100 is out of range (0..99)"},
                {"'policy': 'SCHED_FIFO'", "process.scheduler.priority: SCHED_FIFO needs a priority in 1..99"},
                {"'policy': 'SCHED_RR', 'priority': 0", "process.scheduler.priority: SCHED_RR needs a priority"},
                {"'policy': 'SCHED_OTHER', 'priority': 5", "process.scheduler.priority: only for SCHED_FIFO and SCHED_RR, not SCHED_OTHER"},
                {"'policy': 'SCHED_FIFO', 'priority': 5, 'nice': 3", "process.scheduler.nice: only for SCHED_OTHER, SCHED_BATCH and SCHED_IDLE, not SCHED_FIFO"},
                {"'policy': 'SCHED_BATCH', 'runtime': 1", "process.scheduler.runtime: only for SCHED_DEADLINE, not SCHED_BATCH"},
                {"'policy': 'SCHED_OTHER', 'period': 1", "process.scheduler.period: only for SCHED_DEADLINE"},
                {"'policy': 'SCHED_OTHER', 'flags': ['SCHED_FLAG_RECLAIM']", "process.scheduler.flags: SCHED_FLAG_RECLAIM and SCHED_FLAG_DL_OVERRUN are only for SCHED_DEADLINE"},
                {"'policy': 'SCHED_OTHER', 'flags': ['SCHED_FLAG_RESET_ON_FORK', 'SCHED_FLAG_X']", "process.scheduler.flags[1]: unknown scheduler flag \"SCHED_FLAG_X\""},
                {"'policy': 'SCHED_OTHER', 'flags': 'SCHED_FLAG_RESET_ON_FORK'", "process.scheduler.flags: expected an array"},
                {"'policy': 'SCHED_DEADLINE', 'runtime': 2000", "process.scheduler.deadline: required for SCHED_DEADLINE"},
                {"'policy': 'SCHED_DEADLINE', 'runtime': 1000, 'deadline': 2000", "process.scheduler.runtime: SCHED_DEADLINE needs a runtime of at least 1024"},
                {"'policy': 'SCHED_DEADLINE', 'runtime': 3000, 'deadline': 2000", "process.scheduler.runtime: 3000 is longer than the deadline 2000"},
                {"'policy': 'SCHED_DEADLINE', 'runtime': 2000, 'deadline': 3000, 'period': 2500", "process.scheduler.period: 2500 is shorter than the deadline 3000"},
                {"'policy': 'SCHED_DEADLINE', 'runtime': -1, 'deadline': 3000", "process.scheduler.runtime: -1 is out of range"},
                {"'policy': 'SCHED_DEADLINE', 'nice': -1, 'runtime': 2000, 'deadline': 3000", "process.scheduler.nice: only for"},
        };
        struct vessel_spec *s;

        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                _cleanup_free_ char *m = xasprintf(SCHED("%s"), bad[i].members);
                EXPECT_ERROR(m, bad[i].error);
        }
        EXPECT_ERROR(PROC("'scheduler': 'SCHED_FIFO'"), "process.scheduler: expected an object");

        s = parse_ok(SCHED("'policy': 'SCHED_FIFO', 'priority': 99, 'flags': ['SCHED_FLAG_RESET_ON_FORK']"));
        REQUIRE(s);
        CHECK(s->process.scheduler.present && s->process.scheduler.policy == 1);
        CHECK(s->process.scheduler.priority == 99 && s->process.scheduler.flags == 0x01);
        vessel_spec_free(s);
        s = parse_ok(SCHED("'policy': 'SCHED_DEADLINE', 'runtime': 10000000, 'deadline': 30000000, "
                           "'period': 40000000, 'flags': ['SCHED_FLAG_RECLAIM', 'SCHED_FLAG_DL_OVERRUN']"));
        REQUIRE(s);
        CHECK(s->process.scheduler.policy == 6 && s->process.scheduler.flags == (0x02 | 0x04));
        CHECK(s->process.scheduler.runtime == 10000000 && s->process.scheduler.deadline == 30000000);
        CHECK(s->process.scheduler.period == 40000000);
        vessel_spec_free(s);
        /* every policy and flag of the spec is known; nice -20 and 19 are the bounds */
        EXPECT_OK(SCHED("'policy': 'SCHED_OTHER', 'nice': -20"));
        EXPECT_OK(SCHED("'policy': 'SCHED_BATCH', 'nice': 19"));
        EXPECT_OK(SCHED("'policy': 'SCHED_IDLE', 'nice': 3"));
        EXPECT_OK(SCHED("'policy': 'SCHED_ISO'"));
        EXPECT_OK(SCHED("'policy': 'SCHED_RR', 'priority': 1"));
        EXPECT_OK(SCHED("'policy': 'SCHED_RR', 'flags': ['SCHED_FLAG_KEEP_PARAMS']"));
        EXPECT_OK(SCHED("'policy': 'SCHED_DEADLINE', 'runtime': 1024, 'deadline': 1024"));
        EXPECT_OK(SCHED("'policy': 'SCHED_OTHER', 'flags': ['SCHED_FLAG_KEEP_POLICY', "
                        "'SCHED_FLAG_UTIL_CLAMP_MIN', 'SCHED_FLAG_UTIL_CLAMP_MAX']"));
        s = parse_ok(PROC("'scheduler': null"));
        CHECK(s && !s->process.scheduler.present);
        vessel_spec_free(s);
}

#define MPOL(x) LINUX("'memoryPolicy': {" x "}")

static void test_memory_policy(void)
{
        static const struct {
                const char *members, *error;
        } bad[] = {
                {"'nodes': '0'", "linux.memoryPolicy.mode: required"},
                {"'mode': 'MPOL_FOO', 'nodes': '0'", "linux.memoryPolicy.mode: unknown memory policy mode \"MPOL_FOO\""},
                {"'mode': 'MPOL_BIND'", "linux.memoryPolicy.nodes: MPOL_BIND needs at least one node"},
                {"'mode': 'MPOL_INTERLEAVE', 'nodes': ''", "linux.memoryPolicy.nodes: MPOL_INTERLEAVE needs at least one node"},
                {"'mode': 'MPOL_WEIGHTED_INTERLEAVE'", "linux.memoryPolicy.nodes: MPOL_WEIGHTED_INTERLEAVE needs"},
                {"'mode': 'MPOL_PREFERRED_MANY'", "linux.memoryPolicy.nodes: MPOL_PREFERRED_MANY needs"},
                {"'mode': 'MPOL_DEFAULT', 'nodes': '0'", "linux.memoryPolicy.nodes: must be empty for MPOL_DEFAULT"},
                {"'mode': 'MPOL_LOCAL', 'nodes': '1-2'", "linux.memoryPolicy.nodes: must be empty for MPOL_LOCAL"},
                {"'mode': 'MPOL_LOCAL', 'flags': ['MPOL_F_STATIC_NODES']", "linux.memoryPolicy.flags: MPOL_LOCAL takes no flags"},
                {"'mode': 'MPOL_BIND', 'nodes': '0-'", "linux.memoryPolicy.nodes: invalid list \"0-\" (numbers and ranges below 1024"},
                {"'mode': 'MPOL_BIND', 'nodes': '1024'", "linux.memoryPolicy.nodes: invalid list \"1024\""},
                {"'mode': 'MPOL_BIND', 'nodes': '3-1'", "linux.memoryPolicy.nodes: invalid list"},
                {"'mode': 'MPOL_BIND', 'nodes': 0", "linux.memoryPolicy.nodes: expected a string"},
                {"'mode': 'MPOL_BIND', 'nodes': '0', 'flags': ['MPOL_F_STATIC_NODES', 'MPOL_F_RELATIVE_NODES']", "linux.memoryPolicy.flags: MPOL_F_STATIC_NODES and MPOL_F_RELATIVE_NODES exclude each other"},
                {"'mode': 'MPOL_INTERLEAVE', 'nodes': '0', 'flags': ['MPOL_F_NUMA_BALANCING']", "linux.memoryPolicy.flags: MPOL_F_NUMA_BALANCING is only for MPOL_BIND and MPOL_PREFERRED_MANY, not MPOL_INTERLEAVE"},
                {"'mode': 'MPOL_BIND', 'nodes': '0', 'flags': ['MPOL_F_BOGUS']", "linux.memoryPolicy.flags[0]: unknown memory policy flag \"MPOL_F_BOGUS\""},
        };
        struct vessel_spec *s;

        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                _cleanup_free_ char *m = xasprintf(MPOL("%s"), bad[i].members);
                EXPECT_ERROR(m, bad[i].error);
        }
        s = parse_ok(MPOL("'mode': 'MPOL_BIND', 'nodes': '0,2-3,64', 'flags': ['MPOL_F_NUMA_BALANCING', "
                          "'MPOL_F_RELATIVE_NODES']"));
        REQUIRE(s);
        CHECK(s->linux_.memory_policy.present && s->linux_.memory_policy.mode == 2);
        CHECK(s->linux_.memory_policy.flags == ((1u << 13) | (1u << 14)));
        CHECK(s->linux_.memory_policy.nodemask[0] == 0xd && s->linux_.memory_policy.nodemask[1] == 1);
        vessel_spec_free(s);
        s = parse_ok(MPOL("'mode': 'MPOL_DEFAULT', 'nodes': ''"));
        CHECK(s && s->linux_.memory_policy.present && !s->linux_.memory_policy.has_nodes);
        vessel_spec_free(s);
        EXPECT_OK(MPOL("'mode': 'MPOL_LOCAL'"));
        EXPECT_OK(MPOL("'mode': 'MPOL_PREFERRED'")); /* no nodes: the local node */
        EXPECT_OK(MPOL("'mode': 'MPOL_PREFERRED', 'nodes': '1'"));
        EXPECT_OK(MPOL("'mode': 'MPOL_PREFERRED_MANY', 'nodes': '0-1', 'flags': ['MPOL_F_NUMA_BALANCING']"));
        EXPECT_OK(MPOL("'mode': 'MPOL_WEIGHTED_INTERLEAVE', 'nodes': '0-1023'"));
        s = parse_ok(LINUX("'memoryPolicy': null"));
        CHECK(s && !s->linux_.memory_policy.present);
        vessel_spec_free(s);
}

static void test_process_parse(void)
{
        static const char ok[] = "{\"args\": [\"ls\", \"-l\"], \"cwd\": \"/tmp\", \"env\": [\"A=b\"],"
                                 " \"user\": {\"uid\": 5}}";
        static const char bad[] = "{\"args\": [\"ls\"], \"cwd\": \"tmp\"}";
        struct vessel_process *p = NULL;
        vessel_error *err = NULL;
        int r;

        r = vessel_process_parse(ok, strlen(ok), &p, &err);
        REQUIRE(r == 0 && p);
        CHECK(p->n_args == 2 && !strcmp(p->args[1], "-l"));
        CHECK_STR(p->cwd, "/tmp");
        CHECK(p->user.uid == 5);
        vessel_process_free(p);
        p = NULL;

        r = vessel_process_parse(bad, strlen(bad), &p, &err);
        CHECK(r == -EINVAL && p == NULL && err && str_has_prefix(err->msg, "process.cwd: must be"));
        vessel_error_free(&err);

        r = vessel_process_parse("{", 1, &p, &err);
        CHECK(r == -EINVAL && err && str_has_prefix(err->msg, "process.json: invalid JSON"));
        vessel_error_free(&err);

        r = vessel_process_parse("{}", 2, &p, NULL); /* err may be NULL */
        CHECK(r == -EINVAL && p == NULL);

        /* exec --process FILE: the scheduler and ioPriority of the exec'd process */
        {
                static const char sched[] = "{\"args\": [\"ls\"], \"scheduler\": {\"policy\": \"SCHED_IDLE\"},"
                                            " \"ioPriority\": {\"class\": \"IOPRIO_CLASS_IDLE\"}}";
                static const char bad_sched[] = "{\"args\": [\"ls\"], \"scheduler\": {\"policy\": \"SCHED_RR\"}}";

                r = vessel_process_parse(sched, strlen(sched), &p, &err);
                REQUIRE(r == 0 && p);
                CHECK(p->scheduler.present && p->scheduler.policy == 5);
                CHECK(p->has_io_priority && p->io_priority_class == 3);
                vessel_process_free(p);
                p = NULL;
                r = vessel_process_parse(bad_sched, strlen(bad_sched), &p, &err);
                CHECK(r == -EINVAL && p == NULL && err &&
                      str_has_prefix(err->msg, "process.scheduler.priority: SCHED_RR needs"));
                vessel_error_free(&err);
        }
}

/* ---- mounts, hooks, root, names ---- */

static void test_mounts(void)
{
        EXPECT_ERROR("'mounts': [{}]", "mounts[0].destination: required");
        EXPECT_ERROR("'mounts': [{'destination': ''}]", "mounts[0].destination: must not be empty");
        EXPECT_ERROR("'mounts': [{'destination': '/a'}, {'destination': '/b'}, {'destination': '/c'},"
                     " {'destination': '/d', 'options': ['ro', 'bogus']}]",
                     "mounts[3].options: unknown mount option \"bogus\"");
        EXPECT_ERROR("'mounts': [{'destination': '/a', 'options': ['ro', 5]}]",
                     "mounts[0].options[1]: expected a string");
        EXPECT_ERROR("'mounts': [{'destination': '/a', 'uidMappings': [{'containerID': 0, 'hostID': 0, 'size': 0}]}]",
                     "mounts[0].uidMappings[0].size: must be > 0");
        EXPECT_ERROR("'mounts': [{'destination': '/a', 'type': 7}]", "mounts[0].type: expected a string");

        {
                struct vessel_spec *s = parse_ok(
                        "'mounts': [{'destination': 'rel'}, {'destination': '//a/./b//'},"
                        " {'destination': '/x/../y'}, {'destination': '.'},"
                        " {'destination': '/t', 'type': 'tmpfs', 'options': ['z', 'U', 'inode64', 'size=1m']}]");
                REQUIRE(s && s->n_mounts == 5);
                CHECK_STR(s->mounts[0].destination, "/rel");
                CHECK_STR(s->mounts[1].destination, "/a/b");
                CHECK_STR(s->mounts[2].destination, "/x/../y");
                CHECK_STR(s->mounts[3].destination, "/");
                CHECK(s->mounts[0].type == NULL && s->mounts[0].source == NULL);
                CHECK(s->mounts[4].n_options == 4 && s->mounts[4].opts.n_data == 2);
                vessel_spec_free(s);
        }
}

static void test_hooks(void)
{
        EXPECT_ERROR("'hooks': {'prestart': [{'path': 'bin/x'}]}",
                     "hooks.prestart[0].path: must be an absolute path");
        EXPECT_ERROR("'hooks': {'poststop': [{'args': ['x']}]}", "hooks.poststop[0].path: required");
        EXPECT_ERROR("'hooks': {'createRuntime': [{'path': '/x', 'timeout': 0}]}",
                     "hooks.createRuntime[0].timeout: must be > 0");
        EXPECT_ERROR("'hooks': {'createContainer': [{'path': '/x', 'timeout': -3}]}",
                     "hooks.createContainer[0].timeout: must be > 0");
        EXPECT_ERROR("'hooks': {'startContainer': [{'path': '/x', 'args': [1]}]}",
                     "hooks.startContainer[0].args[0]: expected a string");
        EXPECT_ERROR("'hooks': {'poststart': {}}", "hooks.poststart: expected an array");
        EXPECT_ERROR("'hooks': []", "hooks: expected an object");
}

static void test_root_and_names(void)
{
        EXPECT_ERROR("'root': {}", "root.path: required");
        EXPECT_ERROR("'root': {'path': ''}", "root.path: must not be empty");
        EXPECT_ERROR("'root': {'path': 'r', 'readonly': 1}", "root.readonly: expected a boolean");
        EXPECT_ERROR("'hostname': '0123456789012345678901234567890123456789012345678901234567890123X'",
                     "hostname: longer than 64 bytes");
        EXPECT_ERROR("'domainname': '0123456789012345678901234567890123456789012345678901234567890123X'",
                     "domainname: longer than 64 bytes");
        EXPECT_OK("'hostname': '0123456789012345678901234567890123456789012345678901234567890123'");
}

/* ---- linux ---- */

static void test_namespaces(void)
{
        EXPECT_ERROR(LINUX("'namespaces': [{'type': 'pid'}, {'type': 'uts'}, {'type': 'foo'}]"),
                     "linux.namespaces[2].type: unknown namespace type \"foo\"");
        EXPECT_ERROR(LINUX("'namespaces': [{'type': 'pid'}, {'type': 'pid'}]"),
                     "linux.namespaces[1].type: duplicate namespace \"pid\"");
        EXPECT_ERROR(LINUX("'namespaces': [{'type': 'network', 'path': 'netns/x'}]"),
                     "linux.namespaces[0].path: must be an absolute path");
        EXPECT_ERROR(LINUX("'namespaces': [{'path': '/x'}]"), "linux.namespaces[0].type: required");
        EXPECT_ERROR(LINUX("'namespaces': ['pid']"), "linux.namespaces[0]: expected an object");
}

static void test_idmaps(void)
{
        EXPECT_ERROR(LINUX("'uidMappings': [{'containerID': 0, 'hostID': 1000, 'size': 0}]"),
                     "linux.uidMappings[0].size: must be > 0");
        EXPECT_ERROR(LINUX("'gidMappings': [{'containerID': 0, 'hostID': 1000}]"),
                     "linux.gidMappings[0].size: required");
        EXPECT_ERROR(LINUX("'uidMappings': [{'containerID': 0, 'hostID': 0, 'size': 1},"
                           " {'containerID': 4294967295, 'hostID': 0, 'size': 1}]"),
                     "linux.uidMappings[1].size: containerID + size exceeds");
        EXPECT_ERROR(LINUX("'uidMappings': [{'containerID': 0, 'hostID': 4294967000, 'size': 296}]"),
                     "linux.uidMappings[0].size: hostID + size exceeds");
        EXPECT_OK(LINUX("'uidMappings': [{'containerID': 0, 'hostID': 4294967000, 'size': 295}]"));
        EXPECT_ERROR(LINUX("'timeOffsets': {'boottime': {'secs': 1, 'nanosecs': 1000000000}}"),
                     "linux.timeOffsets.boottime.nanosecs: must be < 1000000000");
}

static void test_devices(void)
{
        EXPECT_ERROR(LINUX("'devices': [{'path': 'dev/null', 'type': 'c', 'major': 1, 'minor': 3}]"),
                     "linux.devices[0].path: must be an absolute path");
        EXPECT_ERROR(LINUX("'devices': [{'path': '/dev/x', 'type': 'x', 'major': 1, 'minor': 3}]"),
                     "linux.devices[0].type: unknown device type \"x\"");
        EXPECT_ERROR(LINUX("'devices': [{'path': '/dev/x', 'major': 1, 'minor': 3}]"),
                     "linux.devices[0].type: required");
        EXPECT_ERROR(LINUX("'devices': [{'path': '/dev/x', 'type': 'c', 'minor': 3}]"),
                     "linux.devices[0].major: required for type \"c\"");
        EXPECT_ERROR(LINUX("'devices': [{'path': '/dev/x', 'type': 'u', 'major': 3}]"),
                     "linux.devices[0].minor: required for type \"u\"");
        EXPECT_ERROR(LINUX("'devices': [{'path': '/dev/x', 'type': 'b', 'major': -1, 'minor': 0}]"),
                     "linux.devices[0].major: -1 is out of range");
        EXPECT_OK(LINUX("'devices': [{'path': '/dev/p', 'type': 'p'}]"));
}

static void test_linux_misc(void)
{
        EXPECT_ERROR(LINUX("'cgroupsPath': '/a/../b'"), "linux.cgroupsPath: must not contain \"..\"");
        EXPECT_ERROR(LINUX("'cgroupsPath': '..'"), "linux.cgroupsPath: must not contain");
        EXPECT_ERROR(LINUX("'cgroupsPath': 'system.slice:vessel:..'"), "linux.cgroupsPath: must not");
        EXPECT_OK(LINUX("'cgroupsPath': 'system.slice:vessel:abc..def'"));
        EXPECT_OK(LINUX("'cgroupsPath': '/a/..b/c..'"));
        EXPECT_ERROR(LINUX("'rootfsPropagation': 'rwhatever'"),
                     "linux.rootfsPropagation: unknown rootfs propagation \"rwhatever\"");
        EXPECT_ERROR(LINUX("'personality': {'domain': 'LINUX64'}"),
                     "linux.personality.domain: unknown personality domain \"LINUX64\"");
        EXPECT_ERROR(LINUX("'personality': {}"), "linux.personality.domain: required");
        EXPECT_ERROR(LINUX("'maskedPaths': ['/ok', 'relative']"), "linux.maskedPaths[1]: must be an absolute path");
        EXPECT_ERROR(LINUX("'readonlyPaths': [3]"), "linux.readonlyPaths[0]: expected a string");
        EXPECT_ERROR(LINUX("'sysctl': {'../../etc/x': '1'}"),
                     "linux.sysctl[\"../../etc/x\"]: invalid sysctl name");
        EXPECT_ERROR(LINUX("'sysctl': {'/proc/x': '1'}"), "linux.sysctl[\"/proc/x\"]: invalid sysctl name");
        EXPECT_ERROR(LINUX("'intelRdt': {'closID': '../x'}"), "linux.intelRdt.closID: not a valid");
        /* namespaced sysctls need their namespace */
        EXPECT_ERROR(LINUX("'sysctl': {'net.ipv4.ip_forward': '1'}"),
                     "linux.sysctl[\"net.ipv4.ip_forward\"]: needs its own network namespace");
        EXPECT_ERROR(LINUX("'namespaces': [{'type': 'network'}], 'sysctl': {'net.core.somaxconn': '1',"
                           " 'kernel/shmmax': '1'}"),
                     "linux.sysctl[\"kernel/shmmax\"]: needs its own ipc namespace");
        EXPECT_ERROR(LINUX("'sysctl': {'fs.mqueue.msg_max': '1'}"),
                     "linux.sysctl[\"fs.mqueue.msg_max\"]: needs its own ipc namespace");
        EXPECT_ERROR(LINUX("'sysctl': {'kernel.hostname': 'x'}"),
                     "linux.sysctl[\"kernel.hostname\"]: needs its own uts namespace");
        EXPECT_OK(LINUX("'namespaces': [{'type': 'network', 'path': '/run/netns/x'}, {'type': 'ipc'},"
                        " {'type': 'uts'}], 'sysctl': {'net/ipv4/ip_forward': '1', 'kernel.sem': '1 2 3 4',"
                        " 'fs.mqueue.queues_max': '1', 'kernel.domainname': 'x'}"));
        /* a global sysctl would change the host */
        EXPECT_ERROR(LINUX("'sysctl': {'vm.swappiness': '1'}"),
                     "linux.sysctl[\"vm.swappiness\"]: not a namespaced sysctl");

        static const struct {
                const char *name;
                unsigned long flags;
        } props[] = {
                {"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
                {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
                {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
                {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC},
        };
        for (size_t i = 0; i < ARRAY_SIZE(props); i++) {
                _cleanup_free_ char *m = xasprintf(LINUX("'rootfsPropagation': '%s'"), props[i].name);
                struct vessel_spec *s = parse_ok(m);
                CHECK(s && s->linux_.rootfs_propagation == props[i].flags);
                vessel_spec_free(s);
        }
        {
                struct vessel_spec *s = parse_ok(LINUX("'personality': {'domain': 'LINUX'}"));
                CHECK(s && s->linux_.has_personality && s->linux_.personality == PER_LINUX);
                vessel_spec_free(s);
        }
}

static void test_cpu_lists(void)
{
        static const char *const good[] = {"0", "0-3", "0-3,5", "0,1,2", "1-1", "0-3,5-7,9", "4194304"};
        static const char *const bad[] = {"0-", "3-1", "a", "-1", ",", "1,", ",1", "1,,2",
                                          "0-3-5", " 1", "1 ", "0x1", "1-a", "4194305"};

        for (size_t i = 0; i < ARRAY_SIZE(good); i++) {
                _cleanup_free_ char *m = xasprintf(RES("'cpu': {'cpus': '%s', 'mems': '%s'}"),
                                                   good[i], good[i]);
                struct vessel_spec *s = parse_ok(m);
                CHECK(s && !strcmp(s->linux_.resources.cpu.cpus, good[i]));
                CHECK(s && !strcmp(s->linux_.resources.cpu.mems, good[i]));
                vessel_spec_free(s);
        }
        for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
                _cleanup_free_ char *m = xasprintf(RES("'cpu': {'cpus': '%s'}"), bad[i]);
                _cleanup_free_ char *e = xasprintf("linux.resources.cpu.cpus: invalid cpu list \"%s\"", bad[i]);
                EXPECT_ERROR(m, e);
        }
        EXPECT_ERROR(RES("'cpu': {'mems': '0-'}"), "linux.resources.cpu.mems: invalid cpu list");
        {
                /* "" = not set */
                struct vessel_spec *s = parse_ok(RES("'cpu': {'cpus': '', 'mems': ''}"));
                CHECK(s && s->linux_.resources.cpu.cpus == NULL && s->linux_.resources.cpu.mems == NULL);
                vessel_spec_free(s);
        }
}

static void test_resources(void)
{
        EXPECT_OK(RES("'memory': {'limit': -1, 'reservation': -1, 'swap': -1}"));
        EXPECT_ERROR(RES("'memory': {'limit': -2}"), "linux.resources.memory.limit: -2 is out of range");
        EXPECT_ERROR(RES("'memory': {'swap': -100}"), "linux.resources.memory.swap: -100 is out of range");
        EXPECT_ERROR(RES("'memory': {'reservation': -9223372036854775808}"),
                     "linux.resources.memory.reservation: -9223372036854775808 is out of range");
        EXPECT_ERROR(RES("'memory': {'swappiness': 101}"), "linux.resources.memory.swappiness: 101 is out of range");
        EXPECT_ERROR(RES("'memory': {'disableOOMKiller': 1}"),
                     "linux.resources.memory.disableOOMKiller: expected a boolean");
        EXPECT_ERROR(RES("'devices': [{'allow': true, 'type': 'x'}]"),
                     "linux.resources.devices[0].type: unknown device type \"x\"");
        EXPECT_ERROR(RES("'devices': [{'allow': true, 'type': 'p'}]"),
                     "linux.resources.devices[0].type: unknown device type \"p\"");
        EXPECT_ERROR(RES("'devices': [{'allow': true, 'access': 'rwx'}]"),
                     "linux.resources.devices[0].access: invalid access \"rwx\"");
        EXPECT_ERROR(RES("'devices': [{'access': 'r'}]"), "linux.resources.devices[0].allow: required");
        EXPECT_ERROR(RES("'devices': [{'allow': true, 'major': -2}]"),
                     "linux.resources.devices[0].major: -2 is out of range");
        EXPECT_ERROR(RES("'blockIO': {'weight': 9}"), "linux.resources.blockIO.weight: 9 is out of range (10..1000)");
        EXPECT_ERROR(RES("'blockIO': {'leafWeight': 1001}"), "linux.resources.blockIO.leafWeight: 1001 is out of range");
        EXPECT_ERROR(RES("'blockIO': {'weightDevice': [{'major': 8, 'minor': 0, 'weight': 5}]}"),
                     "linux.resources.blockIO.weightDevice[0].weight: 5 is out of range");
        EXPECT_ERROR(RES("'blockIO': {'weightDevice': [{'minor': 0}]}"),
                     "linux.resources.blockIO.weightDevice[0].major: required");
        EXPECT_ERROR(RES("'blockIO': {'throttleWriteIOPSDevice': [{'major': 8, 'minor': 0}]}"),
                     "linux.resources.blockIO.throttleWriteIOPSDevice[0].rate: required");
        EXPECT_ERROR(RES("'hugepageLimits': [{'limit': 1}]"), "linux.resources.hugepageLimits[0].pageSize: required");
        EXPECT_ERROR(RES("'network': {'classID': 4294967296}"), "linux.resources.network.classID: 4294967296 is out of range");
        EXPECT_ERROR(RES("'network': {'priorities': [{'name': 'eth0'}]}"),
                     "linux.resources.network.priorities[0].priority: required");
        EXPECT_ERROR(RES("'rdma': {'mlx': {'hcaHandles': -1}}"),
                     "linux.resources.rdma[\"mlx\"].hcaHandles: -1 is out of range");
        EXPECT_ERROR(RES("'rdma': {'mlx': 1}"), "linux.resources.rdma[\"mlx\"]: expected an object");
        EXPECT_ERROR(RES("'unified': {'../cgroup.procs': '1'}"),
                     "linux.resources.unified[\"../cgroup.procs\"]: not a cgroup file name");
        EXPECT_ERROR(RES("'unified': {'..': '1'}"), "linux.resources.unified[\"..\"]: not a cgroup file name");
        EXPECT_ERROR(RES("'pids': {'limit': 'max'}"), "linux.resources.pids.limit: expected an integer");
        {
                struct vessel_spec *s = parse_ok(RES("'pids': {}"));
                CHECK(s && s->linux_.resources.present && !s->linux_.resources.pids.present);
                vessel_spec_free(s);
        }
}

static void test_seccomp(void)
{
#define SC(x) LINUX("'seccomp': {" x "}")
        EXPECT_ERROR(SC("'architectures': []"), "linux.seccomp.defaultAction: required");
        EXPECT_ERROR(SC("'defaultAction': 'SCMP_ACT_MAYBE'"),
                     "linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_MAYBE\"");
        EXPECT_ERROR(SC("'defaultAction': 'SCMP_ACT_NOTIFY', 'listenerPath': '/x'"),
                     "linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be");
        EXPECT_ERROR(SC("'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': ['SCMP_ARCH_X86_64', 'SCMP_ARCH_Z80']"),
                     "linux.seccomp.architectures[1]: unknown seccomp architecture \"SCMP_ARCH_Z80\"");
        EXPECT_ERROR(SC("'defaultAction': 'SCMP_ACT_ALLOW', 'flags': ['SECCOMP_FILTER_FLAG_BOGUS']"),
                     "linux.seccomp.flags[0]: unknown seccomp flag");
        EXPECT_ERROR(SC("'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['read'], 'action': 'SCMP_ACT_ALLOW'},"
                        " {'names': ['write'], 'action': 'ALLOW'}]"),
                     "linux.seccomp.syscalls[1].action: unknown seccomp action \"ALLOW\"");
        EXPECT_ERROR(SC("'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'action': 'SCMP_ACT_ALLOW'}]"),
                     "linux.seccomp.syscalls[0].names: required");
        EXPECT_ERROR(SC("'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['read']}]"),
                     "linux.seccomp.syscalls[0].action: required");
        EXPECT_ERROR(SC("'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['read'], 'action': 'SCMP_ACT_ERRNO',"
                        " 'args': [{'index': 0, 'value': 1, 'op': 'SCMP_CMP_XX'}]}]"),
                     "linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator \"SCMP_CMP_XX\"");
        EXPECT_ERROR(SC("'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['read'], 'action': 'SCMP_ACT_ERRNO',"
                        " 'args': [{'index': 6, 'value': 1, 'op': 'SCMP_CMP_EQ'}]}]"),
                     "linux.seccomp.syscalls[0].args[0].index: 6 is out of range");
        EXPECT_ERROR(SC("'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['read'], 'action': 'SCMP_ACT_NOTIFY'}]"),
                     "linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used");
        EXPECT_ERROR(SC("'defaultAction': 'SCMP_ACT_ERRNO', 'defaultErrnoRet': -1"),
                     "linux.seccomp.defaultErrnoRet: -1 is out of range");

        for (size_t i = 0; vessel_seccomp_action_names[i]; i++) {
                const char *a = vessel_seccomp_action_names[i];
                _cleanup_free_ char *m = xasprintf(
                        SC("'defaultAction': '%s', 'listenerPath': '/l', 'syscalls': [{'names': ['x'], 'action': '%s'}]"),
                        strcmp(a, "SCMP_ACT_NOTIFY") ? a : "SCMP_ACT_KILL", a);
                EXPECT_OK(m);
        }
        for (size_t i = 0; vessel_seccomp_arch_names[i]; i++) {
                _cleanup_free_ char *m = xasprintf(
                        SC("'defaultAction': 'SCMP_ACT_ALLOW', 'architectures': ['%s']"),
                        vessel_seccomp_arch_names[i]);
                EXPECT_OK(m);
        }
        for (size_t i = 0; vessel_seccomp_op_names[i]; i++) {
                _cleanup_free_ char *m = xasprintf(
                        SC("'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': ['x'], "
                           "'action': 'SCMP_ACT_LOG', 'args': [{'index': 5, 'value': 1, 'op': '%s'}]}]"),
                        vessel_seccomp_op_names[i]);
                EXPECT_OK(m);
        }
        for (size_t i = 0; vessel_seccomp_flag_names[i]; i++) {
                _cleanup_free_ char *m = xasprintf(
                        SC("'defaultAction': 'SCMP_ACT_ALLOW', 'flags': ['%s']"),
                        vessel_seccomp_flag_names[i]);
                EXPECT_OK(m);
        }
        CHECK(vessel_name_index(vessel_seccomp_arch_names, "SCMP_ARCH_SHEB") >= 0);
#undef SC
}

/* ---- generated documents ---- */

static void test_default_config(void)
{
        for (int rootless = 0; rootless <= 1; rootless++) {
                _cleanup_free_ char *json = vessel_spec_default_json(rootless);
                struct vessel_spec *s;
                bool has_devpts_gid = false;

                REQUIRE(json);
                s = parse_text(json);
                REQUIRE(s);
                CHECK_STR(s->oci_version, VESSEL_OCI_VERSION);
                CHECK(s->has_process && s->process.terminal && s->process.no_new_privileges);
                CHECK(s->process.n_args == 1 && !strcmp(s->process.args[0], "sh"));
                CHECK(s->process.n_env == 2);
                CHECK_STR(s->process.cwd, "/");
                CHECK(s->process.capabilities.sets[VESSEL_CAP_BOUNDING] ==
                      ((1ull << 29) | (1ull << 5) | (1ull << 10)));
                CHECK(s->process.capabilities.sets[VESSEL_CAP_INHERITABLE] == 0);
                CHECK(s->process.n_rlimits == 1 && s->process.rlimits[0].resource == RLIMIT_NOFILE &&
                      s->process.rlimits[0].soft == 1024 && s->process.rlimits[0].hard == 1024);
                CHECK_STR(s->root.path, "rootfs");
                CHECK(s->root.readonly);
                CHECK_STR(s->hostname, "vessel");
                REQUIRE(s->n_mounts == 7);
                for (size_t i = 0; i < s->n_mounts; i++)
                        for (size_t j = 0; j < s->mounts[i].opts.n_data; j++)
                                if (!strcmp(s->mounts[i].opts.data[j], "gid=5"))
                                        has_devpts_gid = true;
                CHECK(has_devpts_gid == !rootless);
                CHECK(s->linux_.n_masked_paths == 11 && s->linux_.n_readonly_paths == 5);
                CHECK(s->linux_.ns[VESSEL_NS_PID].present && s->linux_.ns[VESSEL_NS_NET].present &&
                      s->linux_.ns[VESSEL_NS_IPC].present && s->linux_.ns[VESSEL_NS_UTS].present &&
                      s->linux_.ns[VESSEL_NS_MNT].present);
                CHECK(s->linux_.ns[VESSEL_NS_CGROUP].present == !rootless);
                CHECK(s->linux_.ns[VESSEL_NS_USER].present == !!rootless);
                CHECK(!s->linux_.ns[VESSEL_NS_TIME].present);
                if (rootless) {
                        CHECK(!s->linux_.resources.present);
                        REQUIRE(s->linux_.n_uid_mappings == 1 && s->linux_.n_gid_mappings == 1);
                        CHECK(s->linux_.uid_mappings[0].container_id == 0 &&
                              s->linux_.uid_mappings[0].host_id == getuid() &&
                              s->linux_.uid_mappings[0].size == 1);
                        CHECK(s->linux_.gid_mappings[0].host_id == getgid());
                        CHECK_STR(s->mounts[5].destination, "/sys");
                        CHECK(s->mounts[5].opts.bind && s->mounts[5].opts.rbind);
                } else {
                        REQUIRE(s->linux_.resources.n_devices == 1);
                        CHECK(!s->linux_.resources.devices[0].allow);
                        CHECK_STR(s->linux_.resources.devices[0].access, "rwm");
                        CHECK_STR(s->mounts[5].type, "sysfs");
                        CHECK(s->linux_.n_uid_mappings == 0);
                }
                vessel_spec_free(s);
        }
}

static size_t json_len(json_object *o, const char *key)
{
        json_object *v = NULL;
        if (!json_object_object_get_ex(o, key, &v))
                return 0;
        return json_object_is_type(v, json_type_array) ? json_object_array_length(v) : 1;
}

static void test_features(void)
{
        _cleanup_free_ char *text = vessel_features_json();
        json_object *f, *linux_ = NULL, *seccomp = NULL, *v = NULL;

        REQUIRE(text);
        f = json_tokener_parse(text);
        REQUIRE(f);
        CHECK(json_object_object_get_ex(f, "ociVersionMin", &v) &&
              !strcmp(json_object_get_string(v), "1.0.0"));
        CHECK(json_object_object_get_ex(f, "ociVersionMax", &v) &&
              !strcmp(json_object_get_string(v), VESSEL_OCI_VERSION));
        CHECK(json_len(f, "hooks") == VESSEL_HOOK_KIND_COUNT);
        /* all the parser knows but iversion and silent, which no mount applies */
        CHECK(json_len(f, "mountOptions") ==
              strv_len((char *const *)vessel_mount_option_names) - 2);
        CHECK(json_object_object_get_ex(f, "linux", &linux_));
        if (linux_) {
                CHECK(json_len(linux_, "namespaces") == VESSEL_NS_COUNT);
                CHECK(json_len(linux_, "capabilities") == (size_t)vessel_cap_last() + 1);
                CHECK(json_object_object_get_ex(linux_, "seccomp", &seccomp));
                CHECK(json_object_object_get_ex(linux_, "mountExtensions", &v));
                CHECK(json_object_object_get_ex(linux_, "cgroup", &v));
        }
        if (seccomp) {
                CHECK(json_len(seccomp, "actions") == 9);
                CHECK(json_len(seccomp, "operators") == 7);
                size_t known = 0;
                for (size_t i = 0; vessel_seccomp_arch_names[i]; i++)
                        known += seccomp_arch_known(vessel_seccomp_arch_names[i]);
                CHECK(known >= 19 && json_len(seccomp, "archs") == known);
                CHECK(json_len(seccomp, "knownFlags") == 6);
                CHECK(json_len(seccomp, "supportedFlags") <= 6);
        }
        CHECK(json_object_object_get_ex(f, "annotations", &v) &&
              json_object_object_get_ex(v, "io.github.vessel.version", &v) &&
              !strcmp(json_object_get_string(v), VESSEL_VERSION));
        CHECK(!strstr(text, "\\/")); /* no slash escaping */
        json_object_put(f);
}

int main(void)
{
        test_full_config();
        test_load_errors();
        test_versions();
        test_json_syntax();
        test_unknown_and_null();
        test_types();
        test_process();
        test_scheduler();
        test_memory_policy();
        test_process_parse();
        test_mounts();
        test_hooks();
        test_root_and_names();
        test_namespaces();
        test_idmaps();
        test_devices();
        test_linux_misc();
        test_cpu_lists();
        test_resources();
        test_seccomp();
        test_default_config();
        test_features();

        return check_report("test_spec");
}
