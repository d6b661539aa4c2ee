"""linux.seccomp through `vessel run`: actions, errno values, argument
conditions, the names and values vessel must skip or reject, the filter's
presence in /proc/self/status, and podman's default profile."""
import json
import os
import platform
import re
import signal
import subprocess

import pytest

from conftest import VESSEL, ok, read, status_fields, wait_for

SIGSYS_EXIT = 128 + signal.SIGSYS  # 159
PODMAN_PROFILES = ["/usr/share/containers/seccomp.json", "/etc/containers/seccomp.json"]
ARCH = {"x86_64": "SCMP_ARCH_X86_64", "aarch64": "SCMP_ARCH_AARCH64"}.get(platform.machine())
GOARCH = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine())
CAP_SYS_ADMIN = 21


# ------------------------------------------------------------------ helpers

@pytest.fixture(autouse=True)
def own_cgroup(env):
    """A cgroup path of this test's own: the default (/vessel/ID) is shared
    by every container called c1, also those of other test runs going on
    at the same time."""
    env.config["linux"]["cgroupsPath"] = "/" + os.path.basename(env.tmp)





def profile(*rules, default="SCMP_ACT_ALLOW", **top):
    p = {"defaultAction": default, "architectures": [ARCH], "syscalls": list(rules)}
    p.update(top)
    return p


def rule(names, action="SCMP_ACT_ERRNO", **kw):
    r = {"names": names, "action": action}
    r.update(kw)
    return r


def with_seccomp(env, prof):
    env.config["linux"]["seccomp"] = prof


MKDIR_THEN_REST = ("mkdir /tmp/d 2>&1; echo mkdir=$?; touch /tmp/f && echo touched; "
                   "ls / >/dev/null && echo listed; echo hi > /tmp/f && cat /tmp/f")


def assert_mkdir_failed_with(env, r, message):
    out = ok(r)
    assert f"can't create directory '/tmp/d': {message}" in out, r
    assert "mkdir=1" in out, r
    assert "touched\nlisted\nhi\n" in out, f"other syscalls were affected: {r}"
    assert not os.path.exists(os.path.join(env.rootfs, "tmp/d")), "mkdir happened"


def all_syscall_names():
    """Every syscall name of this architecture (from the kernel headers)."""
    hdr = "/usr/include/x86_64-linux-gnu/asm/unistd_64.h"
    assert platform.machine() == "x86_64" and os.path.exists(hdr), \
        f"this test reads the syscall list from {hdr} (x86_64, linux-libc-dev)"
    with open(hdr) as f:
        names = re.findall(r"^#define __NR_(\w+)\s+\d+", f.read(), re.M)
    assert len(names) > 300, names
    return names


# ------------------------------------------------------------- SCMP_ACT_ERRNO

def test_errno_eperm_blocks_mkdir_only(env):
    with_seccomp(env, profile(rule(["mkdir", "mkdirat"])))
    assert_mkdir_failed_with(env, env.sh(MKDIR_THEN_REST), "Operation not permitted")


def test_without_filter_mkdir_works(env):
    """The control for the tests here: the same script without seccomp."""
    r = env.sh(MKDIR_THEN_REST)
    assert "mkdir=0" in ok(r), r
    assert os.path.isdir(os.path.join(env.rootfs, "tmp/d"))


@pytest.mark.parametrize("errno_ret,message", [(38, "Function not implemented"),
                                               (13, "Permission denied"),
                                               (28, "No space left on device")])
def test_errno_ret_honoured(env, errno_ret, message):
    with_seccomp(env, profile(rule(["mkdir", "mkdirat"], errnoRet=errno_ret)))
    assert_mkdir_failed_with(env, env.sh(MKDIR_THEN_REST), message)


def test_default_errno_ret(env):
    """defaultAction ERRNO with defaultErrnoRet: a syscall outside the allow
    list fails with that errno."""
    allowed = [n for n in all_syscall_names() if n not in ("mkdir", "mkdirat")]
    with_seccomp(env, profile(rule(allowed, "SCMP_ACT_ALLOW"), default="SCMP_ACT_ERRNO",
                              defaultErrnoRet=38))
    assert_mkdir_failed_with(env, env.sh(MKDIR_THEN_REST), "Function not implemented")


def test_default_errno_without_errno_ret_is_eperm(env):
    allowed = [n for n in all_syscall_names() if n not in ("mkdir", "mkdirat")]
    with_seccomp(env, profile(rule(allowed, "SCMP_ACT_ALLOW"), default="SCMP_ACT_ERRNO"))
    assert_mkdir_failed_with(env, env.sh(MKDIR_THEN_REST), "Operation not permitted")


def test_default_errno_ret_does_not_change_rules_without_errno_ret(env):
    """defaultErrnoRet is for the default action only: an ERRNO rule
    without errnoRet still gives EPERM (runc, crun)."""
    with_seccomp(env, profile(rule(["mkdir", "mkdirat"]), rule(["fchmodat", "chmod"], errnoRet=38),
                              defaultErrnoRet=22))
    r = env.sh("touch /tmp/x; chmod 600 /tmp/x 2>&1; echo chmod=$?; " + MKDIR_THEN_REST)
    assert "Function not implemented" in r.stdout and "chmod=1" in r.stdout, r
    assert_mkdir_failed_with(env, r, "Operation not permitted")


# ---------------------------------------------------------- kill / trap / log

@pytest.mark.parametrize("action", ["SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD",
                                    "SCMP_ACT_TRAP"])
def test_kill_actions_give_sigsys(env, action):
    with_seccomp(env, profile(rule(["mkdir", "mkdirat"], action)))
    r = env.run(["/bin/mkdir", "/tmp/d"])
    assert r.returncode == SIGSYS_EXIT, f"{action}: expected exit {SIGSYS_EXIT} (SIGSYS): {r}"
    assert not os.path.exists(os.path.join(env.rootfs, "tmp/d"))
    assert env.ids() == []


def test_kill_process_in_child_leaves_parent(env):
    with_seccomp(env, profile(rule(["mkdir", "mkdirat"], "SCMP_ACT_KILL_PROCESS")))
    r = env.sh("mkdir /tmp/d; echo child=$?; echo parent-alive")
    assert ok(r) == f"child={SIGSYS_EXIT}\nparent-alive\n", r


def test_log_action_allows(env):
    with_seccomp(env, profile(rule(["mkdir", "mkdirat"], "SCMP_ACT_LOG")))
    assert "mkdir=0" in ok(env.sh(MKDIR_THEN_REST)), "SCMP_ACT_LOG must let the syscall run"


def test_rule_with_the_default_action_is_accepted(env):
    with_seccomp(env, profile(rule(["mkdir", "mkdirat"], "SCMP_ACT_ALLOW"),
                              rule(["mkdir", "mkdirat"])))
    assert_mkdir_failed_with(env, env.sh(MKDIR_THEN_REST), "Operation not permitted")


# ----------------------------------------------------------- argument conditions

def test_args_personality_eq(env):
    """personality(PER_LINUX32 = 8) is blocked; personality(PER_LINUX = 0)
    (busybox linux64) is not."""
    with_seccomp(env, profile(rule(["personality"], args=[
        {"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}])))
    r = env.sh("linux32 uname -m 2>&1; echo linux32=$?; linux64 uname -m; echo linux64=$?")
    out = ok(r)
    assert "Operation not permitted" in out and "linux32=1" in out, r
    assert "x86_64\nlinux64=0" in out, r


def test_args_kill_signal_eq(env):
    """kill(pid, SIGUSR1) is blocked, kill(pid, SIGUSR2) is not."""
    with_seccomp(env, profile(rule(["kill"], args=[{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}])))
    r = env.sh("trap 'echo got-USR1' USR1; trap 'echo got-USR2' USR2; "
               "kill -USR1 $$ 2>&1; echo usr1=$?; kill -USR2 $$; echo usr2=$?")
    out = ok(r)
    assert "Operation not permitted" in out and "usr1=1" in out and "got-USR1" not in out, r
    assert "got-USR2\nusr2=0" in out, r


def test_args_same_index_are_ored(env):
    """Two conditions on the same argument: either one matches (runc, crun)."""
    with_seccomp(env, profile(rule(["kill"], args=[{"index": 1, "value": 10, "op": "SCMP_CMP_EQ"},
                                                   {"index": 1, "value": 12, "op": "SCMP_CMP_EQ"}])))
    r = env.sh("trap 'echo got-HUP' HUP; for s in USR1 USR2 HUP; do kill -$s $$ 2>/dev/null; "
               "echo $s=$?; done")
    assert ok(r) == "USR1=1\nUSR2=1\ngot-HUP\nHUP=0\n", r


def test_args_distinct_indexes_are_anded(env):
    """kill(1, SIGUSR1) is blocked; SIGUSR1 to another pid is not."""
    with_seccomp(env, profile(rule(["kill"], args=[{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                                                   {"index": 1, "value": 10, "op": "SCMP_CMP_EQ"}])))
    r = env.sh("kill -USR1 1 2>/dev/null; echo to-init=$?; "
               "sleep 100 & kill -USR1 $!; echo to-child=$?; wait $!; echo child=$?")
    assert ok(r) == f"to-init=1\nto-child=0\nchild={128 + signal.SIGUSR1}\n", r


def test_args_masked_eq(env):
    """MASKED_EQ: (arg1 & 0xff) == 10; kill -USR1 is blocked."""
    with_seccomp(env, profile(rule(["kill"], args=[
        {"index": 1, "value": 0xff, "valueTwo": 10, "op": "SCMP_CMP_MASKED_EQ"}])))
    r = env.sh("trap 'echo got-USR2' USR2; kill -USR1 $$ 2>/dev/null; echo usr1=$?; "
               "kill -USR2 $$; echo usr2=$?")
    assert ok(r) == "usr1=1\ngot-USR2\nusr2=0\n", r


# ------------------------------------------------------- names vessel skips or rejects

def test_unknown_syscall_name_is_skipped(env):
    with_seccomp(env, profile(rule(["not_a_syscall_xyz", "mkdir", "another_unknown_one", "mkdirat"]),
                              rule(["not_a_syscall_xyz"], "SCMP_ACT_KILL")))
    assert_mkdir_failed_with(env, env.sh(MKDIR_THEN_REST), "Operation not permitted")


def assert_rejected(env, r, *needles):
    assert r.returncode != 0, f"the config was accepted: {r}"
    for n in needles:
        assert n in r.stderr, f"{n!r} not in the error: {r.stderr!r}"
    assert "SHOULD-NOT-RUN" not in r.stdout, r
    assert env.ids() == [], "a rejected config left a container behind"


def test_unknown_action_rejected(env):
    with_seccomp(env, profile(rule(["mkdir"]), rule(["mkdirat"], "SCMP_ACT_BOGUS")))
    r = env.sh("echo SHOULD-NOT-RUN")
    assert_rejected(env, r, "linux.seccomp.syscalls[1].action", "SCMP_ACT_BOGUS")


def test_unknown_default_action_rejected(env):
    with_seccomp(env, profile(default="SCMP_ACT_NOPE"))
    assert_rejected(env, env.sh("echo SHOULD-NOT-RUN"), "linux.seccomp.defaultAction", "SCMP_ACT_NOPE")


def test_unknown_architecture_rejected(env):
    with_seccomp(env, profile(rule(["mkdir"]), architectures=[ARCH, "SCMP_ARCH_VAX"]))
    assert_rejected(env, env.sh("echo SHOULD-NOT-RUN"), "linux.seccomp.architectures[1]",
                    "SCMP_ARCH_VAX")


def test_unknown_operator_rejected(env):
    with_seccomp(env, profile(rule(["kill"], args=[{"index": 1, "value": 10, "op": "SCMP_CMP_ALMOST"}])))
    assert_rejected(env, env.sh("echo SHOULD-NOT-RUN"), "linux.seccomp.syscalls[0].args[0].op",
                    "SCMP_CMP_ALMOST")


def test_arg_index_out_of_range_rejected(env):
    with_seccomp(env, profile(rule(["kill"], args=[{"index": 6, "value": 10, "op": "SCMP_CMP_EQ"}])))
    assert_rejected(env, env.sh("echo SHOULD-NOT-RUN"), "linux.seccomp.syscalls[0].args[0].index")


def test_unknown_flag_rejected(env):
    with_seccomp(env, profile(rule(["mkdir"]), flags=["SECCOMP_FILTER_FLAG_BOGUS"]))
    assert_rejected(env, env.sh("echo SHOULD-NOT-RUN"), "linux.seccomp.flags[0]",
                    "SECCOMP_FILTER_FLAG_BOGUS")


def test_several_architectures_accepted(env):
    with_seccomp(env, profile(rule(["mkdir", "mkdirat"]),
                              architectures=["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]))
    assert_mkdir_failed_with(env, env.sh(MKDIR_THEN_REST), "Operation not permitted")


@pytest.mark.parametrize("flag", ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"])
def test_filter_flags_accepted(env, flag):
    with_seccomp(env, profile(rule(["mkdir", "mkdirat"]), flags=[flag]))
    assert_mkdir_failed_with(env, env.sh(MKDIR_THEN_REST), "Operation not permitted")


# ------------------------------------------------------------- the filter itself

def test_seccomp_mode_2_in_status(env):
    with_seccomp(env, profile(rule(["mkdir", "mkdirat"])))
    st = status_fields(ok(env.run(["/bin/cat", "/proc/self/status"])))
    assert st["Seccomp"] == "2", f"Seccomp: {st.get('Seccomp')}"
    assert st["Seccomp_filters"] == "1", f"Seccomp_filters: {st.get('Seccomp_filters')}"
    assert st["NoNewPrivs"] == "1", st["NoNewPrivs"]


def test_no_seccomp_section_no_filter(env):
    st = status_fields(ok(env.run(["/bin/cat", "/proc/self/status"])))
    assert st["Seccomp"] == "0", f"Seccomp: {st.get('Seccomp')} without linux.seccomp"


def test_filter_without_no_new_privileges(env):
    """With noNewPrivileges false the runtime installs the filter while it
    still has CAP_SYS_ADMIN; the process runs with the configured caps."""
    env.config["process"]["noNewPrivileges"] = False
    with_seccomp(env, profile(rule(["mkdir", "mkdirat"])))
    r = env.sh("grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/self/status; " + MKDIR_THEN_REST)
    st = status_fields(r.stdout)
    assert st.get("Seccomp") == "2" and st.get("NoNewPrivs") == "0", r
    assert not int(st["CapEff"], 16) & (1 << CAP_SYS_ADMIN), r
    assert_mkdir_failed_with(env, r, "Operation not permitted")


def test_filter_without_no_new_privileges_non_root(env):
    env.config["process"]["noNewPrivileges"] = False
    env.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    with_seccomp(env, profile(rule(["mkdir", "mkdirat"])))
    r = env.sh("id -u; grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; " + MKDIR_THEN_REST)
    out = ok(r)
    assert out.startswith("1000\n"), r
    st = status_fields(out)
    assert st.get("Seccomp") == "2" and st.get("NoNewPrivs") == "0", r
    assert_mkdir_failed_with(env, r, "Operation not permitted")


def test_filter_blocking_setresuid_still_starts_with_nnp(env):
    """With no_new_privs the filter goes in last, just before execve: a
    filter that forbids the identity syscalls must not break the start."""
    env.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    with_seccomp(env, profile(rule(["setresuid", "setresgid", "setgroups", "capset", "prctl"])))
    r = env.sh("id -u; id -g")
    assert ok(r) == "1000\n1000\n", r


# ------------------------------------------------------------- SCMP_ACT_NOTIFY

class Listener:
    """A seccomp agent: accepts one connection, receives the notify fd and
    the container's state, then closes the fd (the notified syscall then
    fails with ENOSYS)."""

    def __init__(self, path, count=1):
        import socket
        import threading
        self.path = path
        self.count = count
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(count)
        self.msgs = []
        self.fds_ok = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    @property
    def msg(self):
        return self.msgs[0] if self.msgs else None

    @property
    def fd_ok(self):
        return bool(self.fds_ok) and self.fds_ok[0]

    def _serve(self):
        import socket
        for _ in range(self.count):
            conn, _ = self.sock.accept()
            with conn:
                data, fds, _, _ = socket.recv_fds(conn, 65536, 4)
                self.msgs.append(json.loads(data.decode()))
                self.fds_ok.append(len(fds) == 1 and os.readlink(f"/proc/self/fd/{fds[0]}") ==
                                   "anon_inode:seccomp notify")
                for fd in fds:
                    os.close(fd)

    def close(self):
        self.thread.join(timeout=10)
        self.sock.close()


def test_notify_sends_fd_and_state_to_listener(env):
    """SCMP_ACT_NOTIFY: the listener gets the notify fd (SCM_RIGHTS) and the
    container's state, as the OCI runtime spec says."""
    path = os.path.join(env.tmp, "listener.sock")
    lst = Listener(path)
    try:
        with_seccomp(env, profile(rule(["mkdir", "mkdirat"], "SCMP_ACT_NOTIFY"), listenerPath=path,
                                  listenerMetadata="hello-agent"))
        r = env.sh("mkdir /tmp/x 2>&1; echo done")
    finally:
        lst.close()
    assert r.returncode == 0, r
    assert "done" in r.stdout, r
    # Nobody answers (the agent closed the fd): the syscall fails.
    assert "Function not implemented" in r.stdout or "not implemented" in r.stdout.lower(), r
    assert lst.msg is not None, "the listener got nothing"
    assert lst.fd_ok, "the fd is not a seccomp notify fd"
    assert lst.msg["fds"] == ["seccompFd"], lst.msg
    assert lst.msg["metadata"] == "hello-agent", lst.msg
    assert lst.msg["state"]["id"] == "c1" and lst.msg["state"]["status"] == "created", lst.msg
    assert lst.msg["pid"] == lst.msg["state"]["pid"] > 0, lst.msg


def test_notify_exec_reports_the_exec_process_pid(env):
    """An exec'd process gets its own filter and its own notify fd: the
    listener is told that process's pid (as the runtime sees it), with the
    container's state (whose pid stays init's)."""
    from test_exec import loop_config, running

    path = os.path.join(env.tmp, "listener.sock")
    pidfile = os.path.join(env.tmp, "exec.pid")
    lst = Listener(path, count=2)
    try:
        with_seccomp(env, profile(rule(["mkdir", "mkdirat"], "SCMP_ACT_NOTIFY"), listenerPath=path))
        with running(env, loop_config(env)) as init:
            r = env.vessel("exec", "--pid-file", pidfile, "c1", "/bin/sh", "-c",
                           "mkdir /tmp/x 2>&1; echo done", timeout=30)
            exec_pid = int(read(pidfile))
    finally:
        lst.close()
    assert r.returncode == 0 and "done" in r.stdout, r
    assert len(lst.msgs) == 2, f"the listener got {len(lst.msgs)} messages: {lst.msgs}"
    assert all(lst.fds_ok), lst.fds_ok
    first, second = lst.msgs
    assert first["pid"] == init and first["state"]["pid"] == init, first
    assert second["pid"] == exec_pid != init, (second, exec_pid, init)
    assert second["state"]["pid"] == init and second["state"]["status"] == "running", second


def test_notify_listener_missing_fails_cleanly(env):
    with_seccomp(env, profile(rule(["mkdir"], "SCMP_ACT_NOTIFY"),
                              listenerPath=os.path.join(env.tmp, "nobody.sock")))
    assert_rejected(env, env.sh("echo SHOULD-NOT-RUN"), "listenerPath", "nobody.sock")


def test_notify_without_listener_path_rejected(env):
    with_seccomp(env, profile(rule(["mkdir"], "SCMP_ACT_NOTIFY")))
    assert_rejected(env, env.sh("echo SHOULD-NOT-RUN"), "linux.seccomp.listenerPath")


def test_notify_as_default_action_rejected(env):
    with_seccomp(env, profile(default="SCMP_ACT_NOTIFY", listenerPath="/tmp/x.sock"))
    assert_rejected(env, env.sh("echo SHOULD-NOT-RUN"), "linux.seccomp.defaultAction",
                    "SCMP_ACT_NOTIFY")


# ------------------------------------------------------- podman's default profile

def podman_profile_path():
    for p in PODMAN_PROFILES:
        if os.path.exists(p):
            return p
    pytest.fail(f"podman's seccomp profile is not installed (looked for {PODMAN_PROFILES}; "
                "Debian: golang-github-containers-common, installed with podman)")


def podman_profile(caps):
    """The OCI linux.seccomp podman makes of its profile for a container
    with these capabilities (containers/common pkg/seccomp): the native
    architecture with its sub-architectures, and the rules whose
    includes/excludes match."""
    with open(podman_profile_path()) as f:
        src = json.load(f)
    archs = []
    for a in src.get("archMap") or []:
        if a["architecture"] == ARCH:
            archs = [a["architecture"]] + list(a.get("subArchitectures") or [])
    out = {"defaultAction": src["defaultAction"], "architectures": archs, "syscalls": []}
    if "defaultErrnoRet" in src:
        out["defaultErrnoRet"] = src["defaultErrnoRet"]
    kernel = tuple(int(x) for x in re.findall(r"\d+", platform.release())[:2])
    for s in src["syscalls"]:
        inc, exc = s.get("includes") or {}, s.get("excludes") or {}
        if inc.get("caps") and not all(c in caps for c in inc["caps"]):
            continue
        if exc.get("caps") and any(c in caps for c in exc["caps"]):
            continue
        if inc.get("arches") and GOARCH not in inc["arches"]:
            continue
        if exc.get("arches") and GOARCH in exc["arches"]:
            continue
        if inc.get("minKernel") and \
                kernel < tuple(int(x) for x in re.findall(r"\d+", inc["minKernel"])[:2]):
            continue
        r = {"names": s["names"], "action": s["action"]}
        if s.get("args"):
            r["args"] = s["args"]
        if "errnoRet" in s:
            r["errnoRet"] = s["errnoRet"]
        out["syscalls"].append(r)
    return out


PODMAN_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
               "CAP_NET_BIND_SERVICE", "CAP_SETFCAP", "CAP_SETGID", "CAP_SETPCAP", "CAP_SETUID",
               "CAP_SYS_CHROOT"]


def test_podman_default_profile(env):
    caps = PODMAN_CAPS
    env.config["process"]["capabilities"] = {s: caps for s in ("bounding", "effective", "permitted")}
    with_seccomp(env, podman_profile(caps))
    r = env.sh("grep -E '^(Seccomp|Seccomp_filters):' /proc/self/status; " + MKDIR_THEN_REST +
               "; chroot / true && echo chrooted; linux32 true && echo linux32")
    out = ok(r)
    st = status_fields(out)
    assert st.get("Seccomp") == "2" and st.get("Seccomp_filters") == "1", r
    assert "mkdir=0" in out and "touched\nlisted\nhi\n" in out, r
    assert "chrooted" in out and "linux32" in out, r


def test_podman_default_profile_blocks_swapon_even_with_cap_sys_admin(env):
    """swapon is ERRNO(EPERM) in podman's profile whatever the caps: with
    CAP_SYS_ADMIN the kernel alone would get as far as rejecting the file
    (EINVAL); under the profile it is EPERM."""
    caps = PODMAN_CAPS + ["CAP_SYS_ADMIN"]
    env.config["process"]["capabilities"] = {s: caps for s in ("bounding", "effective", "permitted")}
    script = "swapon /dev/null 2>&1; echo swapon=$?"
    control = ok(env.sh(script))
    assert "Operation not permitted" not in control, f"without seccomp: {control!r}"
    with_seccomp(env, podman_profile(caps))
    out = ok(env.sh(script))
    assert "Operation not permitted" in out and "swapon=1" in out, out


def test_podman_default_profile_unlisted_syscall_is_enosys(env):
    """A syscall not in the profile's lists fails with its defaultErrnoRet
    (ENOSYS): checked with a copy whose lists drop mkdir and mkdirat."""
    prof = podman_profile(PODMAN_CAPS)
    assert prof.get("defaultErrnoRet") == 38, prof.get("defaultErrnoRet")
    for s in prof["syscalls"]:
        s["names"] = [n for n in s["names"] if n not in ("mkdir", "mkdirat")]
    prof["syscalls"] = [s for s in prof["syscalls"] if s["names"]]
    env.config["process"]["capabilities"] = {s: PODMAN_CAPS
                                             for s in ("bounding", "effective", "permitted")}
    with_seccomp(env, prof)
    assert_mkdir_failed_with(env, env.sh(MKDIR_THEN_REST), "Function not implemented")


# ------------------------------------------ what runs under the filter (issue 10)

def podman_profile_without(*names, errno_default=True):
    """podman's profile for PODMAN_CAPS with some calls dropped from its
    allow lists: an allow-list profile written for the container's own
    program, which need not know what the runtime calls before execve."""
    prof = podman_profile(PODMAN_CAPS)
    for s in prof["syscalls"]:
        s["names"] = [n for n in s["names"] if n not in names]
    prof["syscalls"] = [s for s in prof["syscalls"] if s["names"]]
    if not errno_default:
        prof.pop("defaultErrnoRet", None)
    return prof


def podman_caps(env, nnp):
    env.config["process"]["capabilities"] = {s: PODMAN_CAPS
                                             for s in ("bounding", "effective", "permitted")}
    env.config["process"]["noNewPrivileges"] = nnp


@pytest.mark.parametrize("errno_default", [True, False], ids=["defaultErrnoRet", "EPERM"])
def test_allow_list_without_runtime_calls_no_new_privs(env, errno_default):
    """With no_new_privs the filter is the last step before execve: a
    profile that allows neither close_range, capset nor setgroups runs."""
    podman_caps(env, True)
    with_seccomp(env, podman_profile_without("close_range", "capset", "setgroups",
                                             errno_default=errno_default))
    out = ok(env.sh("grep '^Seccomp:' /proc/self/status; echo ran"))
    assert "Seccomp:\t2" in out and "ran" in out, out


@pytest.mark.parametrize("errno_default", [True, False], ids=["defaultErrnoRet", "EPERM"])
def test_allow_list_without_close_range_setgroups_setuid_privileged_load(env, errno_default):
    """Without no_new_privs the filter goes in before the capabilities are
    set, but after the fds are marked close-on-exec and the groups, gid and
    uid are set: a profile without close_range, setgroups, setresuid and
    setresgid runs, also as a non-root user."""
    podman_caps(env, False)
    env.config["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [1001]}
    with_seccomp(env, podman_profile_without("close_range", "setgroups", "setresuid",
                                             "setresgid", errno_default=errno_default))
    out = ok(env.sh("id -u; id -G; grep '^Seccomp:' /proc/self/status; echo ran"))
    assert out.split("\n")[:2] == ["1000", "1000 1001"], out
    assert "Seccomp:\t2" in out and "ran" in out, out


def test_allow_list_without_capset_privileged_load_fails_start_clearly(env, tmp_path):
    """Without no_new_privs, capset must run under the filter: a profile
    that refuses it fails `start` (not the container, silently, with 127),
    and the message says why."""
    podman_caps(env, False)
    with_seccomp(env, podman_profile_without("capset"))
    env.config["process"]["args"] = ["/bin/sh", "-c", "echo SHOULD-NOT-RUN"]
    env.write_config()
    out, err = tmp_path / "out", tmp_path / "err"
    # Files, not pipes: the created container holds its stdio open.
    with open(out, "w") as o, open(err, "w") as e:
        cp = subprocess.run([VESSEL, "--root", env.root, "create", "--bundle", env.bundle, "c1"],
                            stdin=subprocess.DEVNULL, stdout=o, stderr=e)
    assert cp.returncode == 0, err.read_text()
    r = env.vessel("start", "c1")
    assert r.returncode != 0, r
    assert "capset" in r.stderr and "noNewPrivileges" in r.stderr, r
    assert "SHOULD-NOT-RUN" not in out.read_text()
    assert wait_for(lambda: env.state("c1")["status"] == "stopped"), env.state("c1")
    ok(env.vessel("delete", "c1"))
