"""The "process" object and the top-level fields of config.json (root,
hostname, domainname, annotations), each checked by its effect as seen from
inside the container."""
import json
import os
import resource
import subprocess

import pytest

from conftest import VESSEL, ok, status_fields, wait_for


@pytest.fixture(autouse=True)
def own_cgroup(env):
    """A cgroup of this test's own: the default one is named after the
    container id ("c1"), which concurrent test runs on this machine share."""
    env.config["linux"]["cgroupsPath"] = "/vessel/" + os.path.basename(env.tmp)


PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def create(env, cid="c1", *extra):
    """`vessel create` with its stdio (inherited by the container) in files,
    so that waiting for the command does not wait for the container."""
    out = os.path.join(env.tmp, f"{cid}.create.out")
    with open(out, "w+") as f:
        cp = subprocess.run([VESSEL, "--root", env.root, "create", "--bundle", env.bundle,
                             *extra, cid], stdin=subprocess.DEVNULL, stdout=f, stderr=f,
                            timeout=60)
        f.seek(0)
        text = f.read()
    assert cp.returncode == 0, f"create failed: rc={cp.returncode} output={text!r}"




# ---------------------------------------------------------------- args / env / cwd


def test_args_are_passed_verbatim(env):
    r = env.run(["/bin/sh", "-c", 'for a in "$@"; do echo "[$a]"; done', "sh0",
                 "one", "two words", "", "*", "$HOME"])
    assert ok(r, "run") == "[one]\n[two words]\n[]\n[*]\n[$HOME]\n", r


def test_args_zero_is_the_executable_and_argv0(env):
    # argv[0] is passed as given: busybox dispatches on it.
    r = env.run(["/bin/busybox", "echo", "from-busybox"])
    assert ok(r, "run") == "from-busybox\n"
    r = env.run(["echo", "found-in-PATH"])
    assert ok(r, "run with a relative args[0] looked up in PATH") == "found-in-PATH\n"


def test_env_is_passed(env):
    env.config["process"]["env"] = [PATH_ENV, "FOO=bar baz", "EMPTY=", "WITH_EQ=a=b"]
    env.config["process"]["args"] = ["/bin/env"]
    r = env.run(["/bin/env"])
    lines = ok(r, "run").splitlines()
    for want in (PATH_ENV, "FOO=bar baz", "EMPTY=", "WITH_EQ=a=b"):
        assert want in lines, f"{want!r} missing from the container's environment {lines}"
    # Nothing from the runtime's own environment leaks in.
    assert not any(l.startswith(("PYTEST_", "VESSEL=")) for l in lines), lines


def test_env_does_not_leak_the_runtime_environment(env):
    env.config["process"]["env"] = [PATH_ENV]
    env.write_config({**env.config, "process": {**env.config["process"], "args": ["/bin/env"]}})
    cp = subprocess.run([VESSEL, "--root", env.root, "run", "--bundle", env.bundle, "c1"],
                        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
                        env={**os.environ, "LEAKY_SECRET": "s3cr3t"})
    assert cp.returncode == 0, cp
    assert "LEAKY_SECRET" not in cp.stdout, cp.stdout
    assert PATH_ENV in cp.stdout.splitlines(), cp.stdout


def test_cwd_existing(env):
    os.makedirs(os.path.join(env.rootfs, "srv/work"))
    env.config["process"]["cwd"] = "/srv/work"
    r = env.sh("pwd; ls")
    assert ok(r, "run").splitlines()[0] == "/srv/work", r


def test_cwd_missing_is_created(env):
    assert not os.path.exists(os.path.join(env.rootfs, "does/not/exist"))
    env.config["process"]["cwd"] = "/does/not/exist"
    r = env.sh("pwd; touch here")
    assert ok(r, "run with a missing cwd").strip() == "/does/not/exist", r
    assert os.path.isdir(os.path.join(env.rootfs, "does/not/exist")), "cwd not created in the rootfs"
    assert os.path.exists(os.path.join(env.rootfs, "does/not/exist/here"))


# ---------------------------------------------------------------- user


def test_user_uid_gid(env):
    env.config["process"]["user"] = {"uid": 1000, "gid": 1001}
    r = env.sh("id -u; id -g; grep -E '^(Uid|Gid):' /proc/self/status")
    out = ok(r, "run as 1000:1001").splitlines()
    assert out[0] == "1000" and out[1] == "1001", r
    assert out[2].split()[1:] == ["1000"] * 4, f"real/effective/saved/fs uid: {out[2]}"
    assert out[3].split()[1:] == ["1001"] * 4, f"real/effective/saved/fs gid: {out[3]}"


def test_additional_gids(env):
    env.config["process"]["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [10, 20, 4242]}
    r = env.run(["/bin/cat", "/proc/self/status"])
    st = status_fields(ok(r, "run"))
    groups = set(int(g) for g in st["Groups"].split())
    assert {10, 20, 4242} <= groups, f"Groups: {st['Groups']}"
    assert groups - {1000} == {10, 20, 4242}, f"unexpected supplementary groups: {st['Groups']}"


def test_no_additional_gids_means_no_supplementary_groups(env):
    env.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    r = env.run(["/bin/cat", "/proc/self/status"])
    st = status_fields(ok(r, "run"))
    assert set(st["Groups"].split()) <= {"1000"}, f"host groups leaked: Groups: {st['Groups']}"


def test_umask_077(env):
    env.config["process"]["user"]["umask"] = 0o077
    r = env.sh("umask; touch /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d")
    out = ok(r, "run").split()
    assert out[0] in ("0077", "077"), r
    assert out[1:] == ["600", "700"], r


def test_umask_027(env):
    env.config["process"]["user"]["umask"] = 0o027
    r = env.sh("touch /tmp/f; mkdir /tmp/d; stat -c %a /tmp/f /tmp/d")
    assert ok(r, "run").split() == ["640", "750"], r


# ---------------------------------------------------------------- rlimits


def proc_limits(text):
    """/proc/self/limits as {name: (soft, hard)}."""
    res = {}
    for line in text.splitlines()[1:]:
        name = line[:26].strip()
        parts = line[26:].split()
        res[name] = (parts[0], parts[1])
    return res


def test_rlimit_nofile_lower_than_host(env):
    host_soft, host_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, hard = 100, 200
    assert hard < host_hard
    env.config["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": soft, "hard": hard}]
    r = env.sh("ulimit -n; ulimit -Hn; cat /proc/self/limits")
    out = ok(r, "run").splitlines()
    assert out[0] == "100" and out[1] == "200", r
    assert proc_limits("\n".join(out[2:]))["Max open files"] == ("100", "200"), r


def test_rlimits_several(env):
    env.config["process"]["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 512},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
        {"type": "RLIMIT_STACK", "soft": 4 * 1024 * 1024, "hard": 8 * 1024 * 1024},
    ]
    r = env.run(["/bin/cat", "/proc/self/limits"])
    lim = proc_limits(ok(r, "run"))
    assert lim["Max open files"] == ("512", "512"), lim
    assert lim["Max core file size"] == ("0", "0"), lim
    assert lim["Max processes"] == ("300", "400"), lim
    assert lim["Max stack size"] == (str(4 << 20), str(8 << 20)), lim


def test_rlimit_raising_hard_limit_fails_without_cap_sys_resource(env):
    host_soft, host_hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with open("/proc/self/status") as f:
        capeff = int(status_fields(f.read())["CapEff"], 16)
    assert not capeff & (1 << 24), "this test needs a root without CAP_SYS_RESOURCE"
    env.config["process"]["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "soft": host_hard + 1000, "hard": host_hard + 1000}]
    r = env.sh("echo SHOULD-NOT-RUN")
    assert r.returncode != 0, f"raising RLIMIT_NOFILE above the hard limit succeeded: {r}"
    assert "SHOULD-NOT-RUN" not in r.stdout
    assert "RLIMIT_NOFILE" in r.stderr, f"error does not name the limit: {r.stderr!r}"
    assert "CAP_SYS_RESOURCE" in r.stderr, f"error does not mention CAP_SYS_RESOURCE: {r.stderr!r}"
    assert env.ids() == [], "failed run left a container behind"


# ---------------------------------------------------------------- capabilities

CAP = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_FOWNER": 3, "CAP_KILL": 5, "CAP_SETGID": 6,
       "CAP_SETUID": 7, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13, "CAP_SYS_CHROOT": 18,
       "CAP_AUDIT_WRITE": 29}


def mask(names):
    m = 0
    for n in names:
        m |= 1 << CAP[n]
    return m


BOUNDING = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_KILL", "CAP_NET_BIND_SERVICE",
            "CAP_NET_RAW", "CAP_SYS_CHROOT"]
PERMITTED = ["CAP_CHOWN", "CAP_FOWNER", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]
EFFECTIVE = ["CAP_CHOWN", "CAP_KILL"]
INHERITABLE = ["CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]
AMBIENT = ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]


def caps_inside(env):
    r = env.run(["/bin/cat", "/proc/self/status"])
    st = status_fields(ok(r, "run"))
    return {k: int(st[k], 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}


def fmt(caps):
    return {k: f"{v:016x}" for k, v in caps.items()}


def test_capabilities_default_three(env):
    caps = caps_inside(env)
    want = mask(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"])
    assert caps["CapBnd"] == want, fmt(caps)
    assert caps["CapPrm"] == want, fmt(caps)
    assert caps["CapEff"] == want, fmt(caps)
    assert caps["CapInh"] == 0 and caps["CapAmb"] == 0, fmt(caps)


def test_capabilities_all_five_sets_root(env):
    """uid 0 with no_new_privs: after execve the kernel gives root
    P' = (bounding | inheritable) & old permitted (no_new_privs clamps it to
    the configured permitted set) and E' = P'; ambient survives for root."""
    env.config["process"]["capabilities"] = {
        "bounding": BOUNDING, "permitted": PERMITTED, "effective": EFFECTIVE,
        "inheritable": INHERITABLE, "ambient": AMBIENT}
    env.config["process"]["noNewPrivileges"] = True
    caps = caps_inside(env)
    assert caps["CapBnd"] == mask(BOUNDING), fmt(caps)
    assert caps["CapInh"] == mask(INHERITABLE), fmt(caps)
    assert caps["CapPrm"] == mask(PERMITTED), fmt(caps)
    assert caps["CapEff"] == mask(PERMITTED), fmt(caps)
    assert caps["CapAmb"] == mask(AMBIENT), fmt(caps)


def test_capabilities_all_five_sets_non_root_ambient(env):
    """A non-root uid without file capabilities: after execve
    P' = E' = ambient, inheritable and bounding are kept as configured."""
    env.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    env.config["process"]["capabilities"] = {
        "bounding": BOUNDING, "permitted": PERMITTED, "effective": EFFECTIVE,
        "inheritable": INHERITABLE, "ambient": AMBIENT}
    caps = caps_inside(env)
    assert caps["CapBnd"] == mask(BOUNDING), fmt(caps)
    assert caps["CapInh"] == mask(INHERITABLE), fmt(caps)
    assert caps["CapAmb"] == mask(AMBIENT), fmt(caps)
    assert caps["CapPrm"] == mask(AMBIENT), fmt(caps)
    assert caps["CapEff"] == mask(AMBIENT), fmt(caps)


def test_capabilities_non_root_without_ambient_has_none(env):
    env.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    env.config["process"]["capabilities"] = {
        "bounding": BOUNDING, "permitted": PERMITTED, "effective": EFFECTIVE}
    caps = caps_inside(env)
    assert caps["CapBnd"] == mask(BOUNDING), fmt(caps)
    assert caps["CapPrm"] == 0 and caps["CapEff"] == 0, fmt(caps)
    assert caps["CapInh"] == 0 and caps["CapAmb"] == 0, fmt(caps)


def test_capabilities_effect_chown_denied_without_cap(env):
    # Without CAP_CHOWN even root cannot give a file away.
    env.config["process"]["capabilities"] = {
        s: ["CAP_KILL"] for s in ("bounding", "effective", "permitted")}
    r = env.sh("touch /tmp/f; chown 1234 /tmp/f && echo CHOWNED || echo DENIED")
    assert "DENIED" in ok(r, "run"), r
    env.config["process"]["capabilities"] = {
        s: ["CAP_CHOWN"] for s in ("bounding", "effective", "permitted")}
    r = env.sh("touch /tmp/g; chown 1234 /tmp/g && echo CHOWNED || echo DENIED")
    assert "CHOWNED" in ok(r, "run"), r


# ---------------------------------------------------------------- noNewPrivileges / oom


def test_no_new_privileges_true(env):
    env.config["process"]["noNewPrivileges"] = True
    st = status_fields(ok(env.run(["/bin/cat", "/proc/self/status"]), "run"))
    assert st["NoNewPrivs"] == "1", st["NoNewPrivs"]


def test_no_new_privileges_false(env):
    env.config["process"]["noNewPrivileges"] = False
    st = status_fields(ok(env.run(["/bin/cat", "/proc/self/status"]), "run"))
    assert st["NoNewPrivs"] == "0", st["NoNewPrivs"]


def test_oom_score_adj(env):
    env.config["process"]["oomScoreAdj"] = 500
    r = env.run(["/bin/cat", "/proc/self/oom_score_adj"])
    assert ok(r, "run").strip() == "500", r


def test_oom_score_adj_max(env):
    env.config["process"]["oomScoreAdj"] = 1000
    r = env.run(["/bin/cat", "/proc/self/oom_score_adj"])
    assert ok(r, "run").strip() == "1000", r


# ---------------------------------------------------------------- exit status


def test_exit_status_passthrough(env):
    r = env.sh("echo bye; exit 7")
    assert r.returncode == 7, r
    assert r.stdout == "bye\n"


def test_exit_status_zero_and_255(env):
    assert env.sh("exit 0").returncode == 0
    assert env.sh("exit 255").returncode == 255


def _no_pidns(env):
    env.config["linux"]["namespaces"] = [n for n in env.config["linux"]["namespaces"]
                                         if n["type"] != "pid"]


def test_killed_by_sigkill_gives_137(env):
    # Without a pid namespace the shell is not an init, so it can kill itself.
    _no_pidns(env)
    r = env.sh("kill -9 $$; echo STILL-ALIVE")
    assert "STILL-ALIVE" not in r.stdout
    assert r.returncode == 128 + 9, r


def test_killed_by_sigterm_gives_143(env):
    _no_pidns(env)
    r = env.sh("kill -TERM $$; sleep 5; echo STILL-ALIVE")
    assert "STILL-ALIVE" not in r.stdout
    assert r.returncode == 128 + 15, r


def test_init_killed_from_host_gives_137(env):
    """An init in its own pid namespace ignores its own SIGKILL; kill it from
    the host with `vessel kill` while `vessel run` waits in the foreground."""
    cfg = env.config
    cfg["process"]["args"] = ["/bin/sh", "-c", "echo started; sleep 60; echo NOT-KILLED"]
    env.write_config(cfg)
    p = subprocess.Popen([VESSEL, "--root", env.root, "run", "--bundle", env.bundle, "c1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL)
    try:
        def running():
            r = env.vessel("state", "c1")
            return r.returncode == 0 and '"running"' in r.stdout
        assert wait_for(running), "container never reached running"
        r = env.vessel("kill", "c1", "KILL")
        assert r.returncode == 0, r
        out, err = p.communicate(timeout=30)
        assert "NOT-KILLED" not in out
        assert p.returncode == 128 + 9, (p.returncode, out, err)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


# ---------------------------------------------------------------- root


def test_root_path_relative(env):
    os.rename(env.rootfs, os.path.join(env.bundle, "myroot"))
    with open(os.path.join(env.bundle, "myroot", "marker"), "w") as f:
        f.write("relative-root\n")
    env.config["root"]["path"] = "myroot"
    r = env.run(["/bin/cat", "/marker"])
    assert ok(r, "run with a relative root.path") == "relative-root\n"


def test_root_path_absolute_outside_bundle(env):
    other = os.path.join(env.tmp, "elsewhere", "rootfs")
    os.makedirs(os.path.dirname(other))
    os.rename(env.rootfs, other)
    with open(os.path.join(other, "marker"), "w") as f:
        f.write("absolute-root\n")
    env.config["root"]["path"] = other
    r = env.run(["/bin/cat", "/marker"])
    assert ok(r, "run with an absolute root.path") == "absolute-root\n"


def test_root_readonly_true(env):
    env.config["root"]["readonly"] = True
    r = env.sh("touch /newfile && echo WROTE; touch /tmp/newfile && echo WROTE-TMP; "
               "awk '$5 == \"/\" {print $6}' /proc/self/mountinfo")
    out = ok(r, "run")
    assert "WROTE" not in out, r
    assert "Read-only file system" in r.stderr, r
    assert out.splitlines()[-1].split(",")[0] == "ro", f"/ is not mounted ro: {out!r}"
    assert not os.path.exists(os.path.join(env.rootfs, "newfile"))
    assert not os.path.exists(os.path.join(env.rootfs, "tmp/newfile"))


def test_root_readonly_with_a_missing_cwd(env):
    """As with runc: the cwd is created first, then the root is made
    read-only."""
    env.config["root"]["readonly"] = True
    env.config["process"]["cwd"] = "/work/new/dir"
    r = env.sh("pwd; touch /newfile && echo WROTE; touch here && echo WROTE-CWD; true")
    out = ok(r, "run with root.readonly and a missing cwd")
    assert out.splitlines() == ["/work/new/dir"], r
    assert r.stderr.count("Read-only file system") == 2, r
    assert os.path.isdir(os.path.join(env.rootfs, "work/new/dir"))
    assert not os.path.exists(os.path.join(env.rootfs, "work/new/dir/here"))


def test_root_readonly_false(env):
    env.config["root"]["readonly"] = False
    r = env.sh("touch /newfile && echo WROTE; awk '$5 == \"/\" {print $6}' /proc/self/mountinfo")
    out = ok(r, "run")
    assert "WROTE" in out, r
    assert out.splitlines()[-1].split(",")[0] == "rw", out
    assert os.path.exists(os.path.join(env.rootfs, "newfile"))


def test_root_readonly_keeps_other_mounts_writable(env):
    env.config["root"]["readonly"] = True
    r = env.sh("touch /dev/shm/x && echo SHM-OK")
    assert "SHM-OK" in ok(r, "run"), r


# ---------------------------------------------------------------- hostname / domainname


def test_hostname(env):
    env.config["hostname"] = "my-box.example"
    r = env.sh("hostname; cat /proc/sys/kernel/hostname")
    assert ok(r, "run").split() == ["my-box.example"] * 2, r


def test_domainname(env):
    env.config["domainname"] = "example.org"
    r = env.sh("cat /proc/sys/kernel/domainname; hostname")
    assert ok(r, "run").split() == ["example.org", "testbox"], r


def test_hostname_does_not_change_the_host(env):
    with open("/proc/sys/kernel/hostname") as f:
        before = f.read()
    env.config["hostname"] = "not-the-host"
    ok(env.sh("hostname"), "run")
    with open("/proc/sys/kernel/hostname") as f:
        assert f.read() == before


# ---------------------------------------------------------------- annotations


def test_annotations_in_state(env):
    ann = {"com.example.key": "value", "org.example/with spaces": "a b c", "empty": ""}
    env.config["annotations"] = ann
    env.config["process"]["args"] = ["/bin/true"]
    env.write_config()
    create(env)
    try:
        st = env.state("c1")
        assert st["status"] == "created", st
        assert st.get("annotations") == ann, st
    finally:
        r = env.vessel("delete", "--force", "c1")
        assert r.returncode == 0, r
    assert env.ids() == []


def test_no_annotations_in_state(env):
    env.config.pop("annotations", None)
    env.write_config()
    create(env)
    try:
        st = env.state("c1")
        assert st.get("annotations", {}) == {}, st
    finally:
        env.vessel("delete", "--force", "c1")


def test_ambient_without_inheritable_warns_and_runs(env):
    """As runc and crun: an ambient capability that is not inheritable (as
    `runc spec` writes them) cannot be raised; a warning, and the process
    runs without it."""
    caps = env.config["process"]["capabilities"]
    caps["ambient"] = ["CAP_KILL"]
    caps.pop("inheritable", None)
    r = env.sh("grep CapAmb /proc/self/status")
    assert r.returncode == 0, r
    assert r.stdout.split()[1] == "0000000000000000", r
    assert "warning" in r.stderr and "CAP_KILL" in r.stderr, r


# ---------------------------------------------------------------- HOME

def passwd_add(env, line):
    with open(os.path.join(env.rootfs, "etc/passwd"), "a") as f:
        f.write(line + "\n")


def home_in(env_output):
    """HOME in `env` output (this busybox has no printenv); None if unset."""
    homes = [l[5:] for l in env_output.splitlines() if l.startswith("HOME=")]
    assert len(homes) <= 1, env_output
    return homes[0] if homes else None


def home_of(env, uid=0):
    env.config["process"]["user"] = {"uid": uid, "gid": uid}
    return home_in(ok(env.run(["/bin/env"]), "env"))


def test_home_from_passwd_for_root(env):
    assert "HOME" not in "".join(env.config["process"]["env"])
    assert home_of(env) == "/root"


def test_home_from_passwd_for_the_process_user(env):
    passwd_add(env, "user:x:1000:1000:A User:/home/user:/bin/sh")
    assert home_of(env, 1000) == "/home/user"


def test_home_is_root_dir_without_a_passwd_entry(env):
    assert home_of(env, 4242) == "/"


def test_home_is_root_dir_without_passwd(env):
    os.unlink(os.path.join(env.rootfs, "etc/passwd"))
    assert home_of(env) == "/"


def test_home_given_in_env_is_kept(env):
    env.config["process"]["env"] = [PATH_ENV, "HOME=/custom"]
    assert home_of(env) == "/custom"


def test_home_passwd_fifo_does_not_block(env):
    """The file is the container's: a fifo in its place must not hang init."""
    p = os.path.join(env.rootfs, "etc/passwd")
    os.unlink(p)
    os.mkfifo(p)
    assert home_of(env) == "/"


def test_home_passwd_symlink_resolved_in_the_rootfs(env):
    """An absolute symlink (with .. beyond the root) points into the rootfs."""
    with open(os.path.join(env.rootfs, "etc/alt-passwd"), "w") as f:
        f.write("root:x:0:0:root:/from-the-rootfs:/bin/sh\n")
    p = os.path.join(env.rootfs, "etc/passwd")
    os.unlink(p)
    os.symlink("/../../../../../../etc/alt-passwd", p)
    assert home_of(env) == "/from-the-rootfs"


def test_home_in_exec(env):
    from test_exec import ex, running
    passwd_add(env, "user:x:1000:1000::/home/user:/bin/sh")
    with running(env):
        assert home_in(ok(ex(env, "c1", "env"))) == "/root"
        assert home_in(ok(ex(env, "-u", "1000", "c1", "env"))) == "/home/user"
        assert home_in(ok(ex(env, "-u", "5000", "c1", "env"))) == "/"
        assert home_in(ok(ex(env, "-u", "1000", "--env", "HOME=/x", "c1", "env"))) == "/x"
        proc = os.path.join(env.tmp, "process.json")
        with open(proc, "w") as f:
            json.dump({"args": ["env"], "cwd": "/", "env": [PATH_ENV],
                       "user": {"uid": 1000, "gid": 1000}}, f)
        assert home_in(ok(ex(env, "--process", proc, "c1"))) == "/home/user"


# ---------------------------------------------------------------- stdio ownership

# stat the stdio through /proc (the process's own view), then reopen stdout:
# a pipe is 0600, only its owner may open it again.
STDIO = ("stat -L -c '%u %g' /proc/self/fd/1 /proc/self/fd/2 >&2; "
         "echo reopened > /proc/self/fd/1")


def as_user(env, uid=1000, gid=1000):
    env.config["process"]["user"] = {"uid": uid, "gid": gid}


def test_stdio_pipes_are_given_to_the_process_user(env):
    as_user(env)
    r = env.sh(STDIO)
    assert r.returncode == 0, r
    assert r.stderr.splitlines() == ["1000 1000", "1000 1000"], r
    assert r.stdout == "reopened\n", r


def test_stdio_file_owned_by_the_runtime_is_given_to_the_user(env):
    as_user(env)
    out = os.path.join(env.tmp, "out")
    env.write_config({**env.config, "process": {**env.config["process"],
                                                "args": ["/bin/sh", "-c", STDIO]}})
    with open(out, "w") as f:
        cp = subprocess.run([VESSEL, "--root", env.root, "run", "--bundle", env.bundle, "c1"],
                            stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.PIPE,
                            text=True, timeout=60)
    assert cp.returncode == 0, cp
    assert cp.stderr.splitlines()[0] == "1000 1000", cp
    st = os.stat(out)
    assert (st.st_uid, st.st_gid) == (1000, 1000)
    assert open(out).read() == "reopened\n"


def test_stdio_not_owned_by_the_runtime_is_left_alone(env):
    as_user(env)
    out = os.path.join(env.tmp, "out")
    open(out, "w").close()
    os.chown(out, 2000, 2000)
    env.write_config({**env.config, "process": {**env.config["process"],
                                                "args": ["/bin/sh", "-c", "echo x"]}})
    with open(out, "a") as f:
        cp = subprocess.run([VESSEL, "--root", env.root, "run", "--bundle", env.bundle, "c1"],
                            stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.PIPE,
                            text=True, timeout=60)
    assert cp.returncode == 0, cp
    assert os.stat(out).st_uid == 2000


def test_stdio_devices_are_left_alone(env):
    """/dev/null and the caller's terminal are not handed to the container."""
    import pty
    as_user(env)
    master, slave = pty.openpty()
    try:
        before = os.fstat(slave)
        env.write_config({**env.config, "process": {**env.config["process"],
                                                    "args": ["/bin/true"]}})
        cp = subprocess.run([VESSEL, "--root", env.root, "run", "--bundle", env.bundle, "c1"],
                            stdin=subprocess.DEVNULL, stdout=slave, stderr=subprocess.PIPE,
                            text=True, timeout=60)
        assert cp.returncode == 0, cp
        after = os.fstat(slave)
        assert (after.st_uid, after.st_gid) == (before.st_uid, before.st_gid)
        assert os.stat("/dev/null").st_uid == 0
    finally:
        os.close(master)
        os.close(slave)


def test_stdio_in_exec_is_given_to_the_exec_user(env):
    from test_exec import ex, running
    with running(env):
        r = ex(env, "-u", "1000:1001", "c1", "/bin/sh", "-c", STDIO)
        assert r.returncode == 0, r
        assert r.stderr.splitlines() == ["1000 1001", "1000 1001"], r
        assert r.stdout == "reopened\n", r


def test_stdio_with_an_unmapped_owner_is_left_alone(env):
    """In a user namespace the caller's pipes belong to an unmapped uid (host
    root): the kernel would refuse, and the process runs with them as they are."""
    from test_config_linux import userns
    userns(env)
    os.chown(env.rootfs, 100000, 100000)
    as_user(env)
    r = env.sh("stat -L -c %u /proc/self/fd/1")
    assert ok(r, "run").strip() == "65534", r
