"""`vessel exec`: every flag and path, each checked by its effect inside the
container (or, for what cannot be seen inside, from the host's /proc).

Every test starts its own container running a shell loop, execs into it and
deletes it with --force at the end.  Commands whose process outlives them
(`exec --detach`, `create`) get their stdio in files: a pipe would stay open
as long as the process lives.
"""
import contextlib
import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time

import pytest

from conftest import VESSEL, ok, run_on_pty, status_fields, wait_for
from test_lifecycle import (LOOP, ConsoleServer, alive, config_with, create, fd_table, marker_dir,
                            pid_ns, popen_vessel, procs_in_pid_ns, read, read_master,
                            stop_popen, vessel_files, wait_file, wait_status)

CAP = {"CAP_CHOWN": 0, "CAP_KILL": 5, "CAP_NET_BIND_SERVICE": 10, "CAP_NET_RAW": 13,
       "CAP_SYS_ADMIN": 21, "CAP_AUDIT_WRITE": 29}
DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
NS_FILES = ["mnt", "net", "ipc", "uts", "pid", "user", "cgroup", "time"]
IDMAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]
FD_LIST = "ls -l /proc/self/fd | sed -n 's/.* \\([0-9][0-9]*\\) -> \\(.*\\)$/\\1 \\2/p'"


# ------------------------------------------------------------------ helpers

@pytest.fixture(autouse=True)
def own_cgroup(env):
    """A cgroup path of this test's own: the default (/vessel/ID) is shared
    by every container called c1, also those of other test runs going on
    at the same time."""
    env.config["linux"]["cgroupsPath"] = "/" + os.path.basename(env.tmp)



def mask(names):
    m = 0
    for n in names:
        m |= 1 << CAP[n]
    return m



def proc_limits(text):
    """/proc/PID/limits text as {name: (soft, hard)}."""
    res = {}
    for line in text.splitlines()[1:]:
        parts = line[26:].split()
        res[line[:26].strip()] = (parts[0], parts[1])
    return res



def loop_config(env, binds=(), env_add=()):
    return config_with(env, ["/bin/sh", "-c", LOOP], binds=binds, env_add=env_add)


@contextlib.contextmanager
def running(env, cfg=None, cid="c1"):
    """A running container (create + start) whose init loops; yields the
    init's host pid and deletes the container with --force at the end."""
    create(env, cid, None, cfg=cfg if cfg is not None else loop_config(env))
    try:
        env.vessel("start", cid, check=True)
        st = env.state(cid)
        assert st["status"] == "running" and alive(st["pid"]), st
        yield st["pid"]
    finally:
        env.vessel("delete", "--force", cid)


def ex(env, *args, **kw):
    """`vessel exec ARGS` in the foreground with its output captured."""
    return env.vessel("exec", *args, **kw)


def kill_pid(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def other_procs(init):
    """Command lines of the container's processes other than the init and
    its loop's `sleep 0.05` (and the loop's child between its fork and its
    exec of sleep, which still has the init's command line)."""
    res = []
    try:
        with open(f"/proc/{init}/cmdline") as f:
            init_cmd = f.read().replace("\0", " ").strip()
    except OSError:
        init_cmd = None
    for p in procs_in_pid_ns(pid_ns(init)):
        try:
            with open(f"/proc/{p}/cmdline") as f:
                cmd = f.read().replace("\0", " ").strip()
        except OSError:
            continue
        if p != init and cmd not in ("sleep 0.05", "", init_cmd):
            res.append(cmd)
    return res


def host_ns(pid, name):
    return os.readlink(f"/proc/{pid}/ns/{name}")


# ---------------------------------------------------------- plain exec

def test_exec_output_stdout_and_stderr(env):
    with running(env):
        r = ex(env, "c1", "/bin/sh", "-c", "echo out; echo err >&2")
        assert ok(r) == "out\n", r
        assert r.stderr == "err\n", r


def test_exec_args_verbatim(env):
    with running(env):
        r = ex(env, "c1", "/bin/sh", "-c", 'for a in "$@"; do echo "[$a]"; done', "sh0",
               "one", "two words", "", "*", "$HOME", "--env")
        assert ok(r) == "[one]\n[two words]\n[]\n[*]\n[$HOME]\n[--env]\n", r


def test_exec_command_found_in_path(env):
    with running(env):
        r = ex(env, "c1", "echo", "via-PATH")
        assert ok(r) == "via-PATH\n", r


@pytest.mark.parametrize("code", [0, 1, 7, 255])
def test_exec_exit_status_passthrough(env, code):
    with running(env) as init:
        r = ex(env, "c1", "/bin/sh", "-c", f"exit {code}")
        assert r.returncode == code, r
        assert alive(init) and env.state("c1")["status"] == "running", \
            "the exec'd process's exit affected the container"


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGUSR1])
def test_exec_killed_by_signal_gives_128_plus_n(env, sig):
    with running(env):
        r = ex(env, "c1", "/bin/sh", "-c", f"kill -{int(sig)} $$; sleep 5")
        assert r.returncode == 128 + sig, f"expected {128 + sig}: {r}"


def test_exec_kill9_self_is_137(env):
    with running(env):
        r = ex(env, "c1", "sh", "-c", "kill -9 $$")
        assert r.returncode == 137, r


def test_exec_stdin_is_passed(env):
    with running(env):
        r = ex(env, "c1", "cat", input="data\nmore data\n")
        assert ok(r) == "data\nmore data\n", r
        r = ex(env, "c1", "sh", "-c", "read a; read b; echo \"$b|$a\"", input="first\nsecond\n")
        assert ok(r) == "second|first\n", r


def test_exec_without_command_fails(env):
    with running(env):
        r = ex(env, "c1")
        assert r.returncode != 0, r
        assert "command" in r.stderr and "--process" in r.stderr, r


# ------------------------------------------------------------- --process

def process_json(**over):
    p = {"terminal": False, "user": {"uid": 1000, "gid": 1001, "additionalGids": [4, 9]},
         "args": ["/bin/sh", "-c", 'echo "A=$A B=$B"; env | sort; pwd; id -u; id -g; '
                                   'grep ^Groups: /proc/self/status'],
         "env": ["PATH=/bin:/usr/bin", "A=from-file", "B=two words"],
         "cwd": "/tmp"}
    p.update(over)
    return p


def check_process_output(r):
    lines = ok(r, "exec --process").splitlines()
    assert lines[0] == "A=from-file B=two words", r
    envs = lines[1:lines.index("/tmp")]
    # HOME added by the runtime: uid 1000 has no /etc/passwd entry
    assert sorted(e for e in envs if not e.startswith(("PWD=", "SHLVL="))) == \
        ["A=from-file", "B=two words", "HOME=/", "PATH=/bin:/usr/bin"], \
        f"the environment is not exactly the process file's: {envs}"
    rest = lines[lines.index("/tmp"):]
    assert rest[0] == "/tmp", r
    assert rest[1:3] == ["1000", "1001"], r
    assert rest[3].split()[1:] == ["4", "9"], r


def test_exec_process_file(env):
    path = os.path.join(env.tmp, "process.json")
    with open(path, "w") as f:
        json.dump(process_json(), f)
    with running(env):
        check_process_output(ex(env, "--process", path, "c1"))


def test_exec_process_file_short_flag_relative_path(env):
    with open(os.path.join(env.tmp, "p.json"), "w") as f:
        json.dump(process_json(), f)
    with running(env):
        check_process_output(ex(env, "-p", "p.json", "c1", cwd=env.tmp))


def test_exec_process_from_stdin(env):
    with running(env):
        check_process_output(ex(env, "--process", "-", "c1", input=json.dumps(process_json())))


def test_exec_process_file_command_line_args_override(env):
    """Arguments after the id replace process.args; the file's env stays."""
    path = os.path.join(env.tmp, "process.json")
    with open(path, "w") as f:
        json.dump(process_json(), f)
    with running(env):
        r = ex(env, "--process", path, "c1", "/bin/sh", "-c", 'echo "$A"; pwd')
        assert ok(r) == "from-file\n/tmp\n", r


def test_exec_process_file_invalid(env):
    path = os.path.join(env.tmp, "bad.json")
    with open(path, "w") as f:
        f.write('{"args": "not-a-list", "cwd": "/"}')
    with running(env):
        r = ex(env, "--process", path, "c1")
        assert r.returncode != 0, r
        assert "--process" in r.stderr and "args" in r.stderr, r


def test_exec_process_file_missing(env):
    path = os.path.join(env.tmp, "nope.json")
    with running(env):
        r = ex(env, "--process", path, "c1")
        assert r.returncode != 0, r
        assert "--process" in r.stderr and "nope.json" in r.stderr, r


# ------------------------------------------------------------------ --env

def test_exec_env_adds_and_overrides(env):
    cfg = loop_config(env, env_add=["FOO=from-config", "KEEP=kept"])
    with running(env, cfg):
        r = ex(env, "--env", "NEW=added value", "-e", "FOO=overridden", "-e", "EMPTY=",
               "c1", "/bin/env")
        lines = ok(r).splitlines()
        assert "NEW=added value" in lines and "EMPTY=" in lines, r
        assert [l for l in lines if l.startswith("FOO=")] == ["FOO=overridden"], r
        assert "KEEP=kept" in lines, f"the config's env was not kept: {r}"
        assert any(l.startswith("PATH=") for l in lines), r


def test_exec_default_env_is_the_configs(env):
    cfg = loop_config(env, env_add=["FOO=from-config"])
    with running(env, cfg):
        lines = ok(ex(env, "c1", "/bin/env")).splitlines()
        # and HOME, which the runtime adds from /etc/passwd (root's: /root)
        assert sorted(lines) == sorted(cfg["process"]["env"] + ["HOME=/root"]), lines


def test_exec_env_without_equals_fails(env):
    with running(env):
        r = ex(env, "--env", "NOVALUE", "c1", "true")
        assert r.returncode != 0 and "NOVALUE" in r.stderr, r


# ------------------------------------------------------------------ --cwd

def test_exec_cwd(env):
    cfg = loop_config(env)
    cfg["process"]["cwd"] = "/var"
    with running(env, cfg):
        assert ok(ex(env, "c1", "pwd")) == "/var\n", "the default cwd is not the config's"
        assert ok(ex(env, "--cwd", "/tmp", "c1", "pwd")) == "/tmp\n"
        assert ok(ex(env, "--cwd", "/etc", "c1", "/bin/sh", "-c", "pwd; ls passwd")) == \
            "/etc\npasswd\n"


def test_exec_cwd_relative_fails(env):
    with running(env):
        r = ex(env, "--cwd", "tmp", "c1", "pwd")
        assert r.returncode != 0, r
        assert "--cwd" in r.stderr and "absolute" in r.stderr, r


# ------------------------------------------------------- --user / groups

def test_exec_user_uid_keeps_config_gid(env):
    cfg = loop_config(env)
    cfg["process"]["user"] = {"uid": 0, "gid": 7}
    with running(env, cfg):
        r = ex(env, "--user", "1000", "c1", "/bin/sh", "-c", "id -u; id -g")
        assert ok(r) == "1000\n7\n", r


def test_exec_user_uid_gid(env):
    with running(env):
        r = ex(env, "-u", "1000:2000", "c1", "/bin/sh",
               "-c", "id -u; id -g; grep -E '^(Uid|Gid):' /proc/self/status; touch /tmp/f")
        lines = ok(r).splitlines()
        assert lines[:2] == ["1000", "2000"], r
        assert lines[2].split()[1:] == ["1000"] * 4, r
        assert lines[3].split()[1:] == ["2000"] * 4, r
    st = os.stat(os.path.join(env.rootfs, "tmp/f"))
    assert (st.st_uid, st.st_gid) == (1000, 2000), (st.st_uid, st.st_gid)


def test_exec_user_not_numeric_fails(env):
    with running(env):
        r = ex(env, "--user", "nobody", "c1", "true")
        assert r.returncode != 0 and "--user" in r.stderr, r


def test_exec_additional_gids(env):
    with running(env):
        r = ex(env, "--user", "1000:1000", "--additional-gids", "5", "-g", "7", "-g", "4000",
               "c1", "grep", "^Groups:", "/proc/self/status")
        assert ok(r).split()[1:] == ["5", "7", "4000"], r


def test_exec_additional_gids_comma_list(env):
    with running(env):
        r = ex(env, "--additional-gids", "11,12", "c1", "grep", "^Groups:", "/proc/self/status")
        assert ok(r).split()[1:] == ["11", "12"], r


def test_exec_default_has_no_supplementary_groups(env):
    with running(env):
        r = ex(env, "c1", "grep", "^Groups:", "/proc/self/status")
        assert ok(r).split() == ["Groups:"], r


# ---------------------------------------------------------------- --cap

def caps_of(out):
    st = status_fields(out)
    return {k: int(st[k], 16) for k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb")}


def fmt(caps):
    return {k: f"{v:016x}" for k, v in caps.items()}


def test_exec_default_caps_are_the_configs(env):
    with running(env) as init:
        caps = caps_of(ok(ex(env, "c1", "cat", "/proc/self/status")))
        want = mask(DEFAULT_CAPS)
        assert caps["CapEff"] == want and caps["CapPrm"] == want and caps["CapBnd"] == want, \
            fmt(caps)
        assert caps["CapInh"] == 0 and caps["CapAmb"] == 0, fmt(caps)
        with open(f"/proc/{init}/status") as f:
            init_caps = caps_of(f.read())
        assert caps == init_caps, f"exec {fmt(caps)} != init {fmt(init_caps)}"


def test_exec_cap_adds_capability(env):
    with running(env):
        r = ex(env, "--cap", "CAP_SYS_ADMIN", "-c", "CAP_NET_RAW", "c1", "cat", "/proc/self/status")
        caps = caps_of(ok(r))
        want = mask(DEFAULT_CAPS + ["CAP_SYS_ADMIN", "CAP_NET_RAW"])
        assert caps["CapEff"] == want, fmt(caps)
        assert caps["CapPrm"] == want and caps["CapBnd"] == want, fmt(caps)


def test_exec_cap_effect(env):
    """CAP_CHOWN is not in the config: chown fails without --cap, works with it."""
    with running(env):
        r = ex(env, "c1", "/bin/sh", "-c", "touch /tmp/a; chown 1234 /tmp/a && echo CHOWNED || echo DENIED")
        assert ok(r).strip() == "DENIED", r
        r = ex(env, "--cap", "CAP_CHOWN", "c1",
               "/bin/sh", "-c", "touch /tmp/b; chown 1234 /tmp/b && echo CHOWNED || echo DENIED")
        assert ok(r).strip() == "CHOWNED", r
    assert os.stat(os.path.join(env.rootfs, "tmp/b")).st_uid == 1234


def test_exec_cap_unknown_fails(env):
    with running(env):
        r = ex(env, "--cap", "CAP_BOGUS", "c1", "true")
        assert r.returncode != 0, r
        assert "CAP_BOGUS" in r.stderr and "capabilit" in r.stderr, r


# ----------------------------------------------------------------- --tty

def pty_exec(env, exec_args, rows=30, cols=100, resize=None, timeout=20):
    """`vessel exec` in the foreground on a pty of our own."""
    return run_on_pty([VESSEL, "--root", env.root, "exec", *exec_args], rows, cols, resize, timeout)


def test_exec_tty_foreground(env):
    with running(env):
        rc, out = pty_exec(env, ["--tty", "c1", "/bin/sh", "-c",
                                 "tty; stty size; [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo ALLTTY; "
                                 "exit 3"])
        assert rc == 3, out
        assert re.search(r"^/dev/pts/[0-9]+\r?$", out, re.M), f"tty printed no /dev/pts/N: {out!r}"
        assert re.search(r"^30 100\r?$", out, re.M), f"the size is not ours (30 100): {out!r}"
        assert "ALLTTY" in out, out


def test_exec_tty_size_is_set_before_the_process_runs(env):
    """The process starts on a terminal of our size, not on a 0x0 one that
    is resized later (busybox stty prints "stty: standard input" for 0x0).
    Repeated: a late resize loses a race that a single run may win."""
    with running(env):
        outs = []
        for _ in range(10):
            rc, out = pty_exec(env, ["--tty", "c1", "stty", "size"])
            outs.append((rc, out))
        bad = [o for o in outs if o != (0, "30 100\r\n")]
        assert not bad, f"{len(bad)} of 10 runs of `exec -t stty size` did not see 30 100: {bad}"


def test_exec_tty_follows_resize(env):
    """SIGWINCH on vessel's own terminal resizes the process's terminal (the
    trap ignores any SIGWINCH that comes with another size)."""
    with running(env):
        rc, out = pty_exec(env, ["-t", "c1", "/bin/sh", "-c",
                                 "trap 'set -- $(stty size); echo \"size $1 $2\"; "
                                 "[ \"$1 $2\" = \"40 120\" ] && exit 0' WINCH; echo ready; "
                                 "while :; do sleep 0.1; done"], resize=(40, 120))
        assert rc == 0, out
        assert "size 40 120" in out, out


def test_exec_without_tty_has_no_terminal(env):
    with running(env):
        r = ex(env, "c1", "/bin/sh", "-c", "tty; true")
        assert "not a tty" in r.stdout, r


def test_exec_without_tty_in_a_terminal_container(env):
    """The config's process.terminal is its init's: exec without --tty
    gets no terminal (runc's behaviour), so its stdout and stderr stay
    apart (vesselctl exec of a system container found it)."""
    path = os.path.join(env.tmp, "console.sock")
    srv = ConsoleServer(path)
    try:
        cfg = loop_config(env)
        cfg["process"]["terminal"] = True
        create(env, "c1", None, cfg=cfg, extra=("--console-socket", path))
        try:
            srv.master()
            env.vessel("start", "c1", check=True)
            r = ex(env, "c1", "/bin/sh", "-c", "tty; echo out; echo err >&2; true")
            assert r.returncode == 0, r
            assert "not a tty" in r.stdout and "out" in r.stdout, r
            assert r.stderr.strip() == "err", r
        finally:
            env.vessel("delete", "--force", "c1")
    finally:
        srv.close()


@pytest.mark.parametrize("detach", [False, True])
def test_exec_tty_console_socket(env, detach):
    path = os.path.join(env.tmp, "console.sock")
    srv = ConsoleServer(path)
    try:
        with running(env):
            args = ["exec", "--tty", "--console-socket", path] + (["--detach"] if detach else []) + \
                   ["c1", "/bin/sh", "-c", "tty; stty size; echo hello; read line; echo got:$line"]
            p, out, err = popen_vessel(env, *args)
            try:
                master = srv.master()
                assert os.isatty(master), "the received fd is not a terminal"
                fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 77, 0, 0))
                if detach:
                    rc = p.wait(timeout=20)
                    assert rc == 0, f"exec --detach: rc {rc}, stderr {read(err)!r}"
                text = read_master(master, b"hello").decode(errors="replace")
                assert re.search(r"/dev/pts/[0-9]+", text) and "hello" in text, \
                    f"terminal output {text!r}; stderr {read(err)!r}"
                os.write(master, b"typed\n")
                text = read_master(master, b"got:typed").decode(errors="replace")
                assert "got:typed" in text, f"input through the master did not arrive: {text!r}"
                if not detach:
                    rc = p.wait(timeout=20)
                    assert rc == 0, f"exec: rc {rc}, stderr {read(err)!r}"
            finally:
                stop_popen(p)
    finally:
        srv.close()


def test_exec_tty_detach_without_console_socket_fails(env):
    m = marker_dir(env)
    with running(env, loop_config(env, binds=[(m, "/m")])) as init:
        r = vessel_files(env, "exec", "--tty", "--detach", "c1", "/bin/sh", "-c",
                         "touch /m/ran; sleep 1000")
        assert r.returncode != 0, r
        assert "console-socket" in r.stderr, f"the error does not name --console-socket: {r}"
        # Nothing to poll for: give a process that should not run time to run.
        time.sleep(0.3)
        assert not os.path.exists(os.path.join(m, "ran")), "the process ran anyway"
        assert not other_procs(init), f"processes in the container: {other_procs(init)}"


# ------------------------------------------------------- --detach / pid file

def test_exec_detach_and_pid_file(env):
    m = marker_dir(env)
    pidfile = os.path.join(env.tmp, "exec.pid")
    with running(env, loop_config(env, binds=[(m, "/m")])) as init:
        pid = None
        try:
            t0 = time.time()
            r = vessel_files(env, "exec", "--detach", "--pid-file", pidfile, "c1",
                             "/bin/sh", "-c", "echo $$ > /m/inner; exec sleep 1000", timeout=30)
            assert r.returncode == 0, r
            assert time.time() - t0 < 10, "exec --detach did not return at once"
            content = read(pidfile)
            assert re.fullmatch(r"[0-9]+", content), f"pid file content {content!r}"
            pid = int(content)
            assert alive(pid), f"the detached process {pid} is not running"
            wait_file(os.path.join(m, "inner"))
            assert pid_ns(pid) == pid_ns(init), "the process is not in the container's pid namespace"
            assert host_ns(pid, "pid") == host_ns(init, "pid")
            with open(f"/proc/{pid}/status") as f:
                nspid = status_fields(f.read())["NSpid"].split()
            assert nspid[0] == str(pid) and len(nspid) == 2, nspid
            assert nspid[1] == read(os.path.join(m, "inner")).strip(), \
                f"NSpid {nspid} vs $$ inside {read(os.path.join(m, 'inner'))!r}"
            assert wait_for(lambda: open(f"/proc/{pid}/comm").read().strip() == "sleep")
            assert pid in procs_in_pid_ns(pid_ns(init))
        finally:
            if pid:
                kill_pid(pid)
        assert wait_for(lambda: not alive(pid)), f"detached process {pid} survived SIGKILL"
        assert alive(init) and env.state("c1")["status"] == "running"


def test_exec_pid_file_relative_to_cwd(env):
    wd = os.path.join(env.tmp, "wd")
    os.makedirs(wd)
    with running(env):
        pid = None
        try:
            r = vessel_files(env, "exec", "-d", "--pid-file", "rel.pid", "c1", "sleep", "1000",
                             cwd=wd)
            assert r.returncode == 0, r
            content = read(os.path.join(wd, "rel.pid"))
            assert re.fullmatch(r"[0-9]+", content), f"pid file content {content!r}"
            pid = int(content)
            assert alive(pid)
        finally:
            if pid:
                kill_pid(pid)


def test_exec_detach_exit_status_is_zero_for_started(env):
    """A detached exec reports that the process started, not how it ends."""
    with running(env):
        r = vessel_files(env, "exec", "--detach", "c1", "/bin/sh", "-c", "exit 9")
        assert r.returncode == 0, r


def test_exec_foreground_pid_file(env):
    pidfile = os.path.join(env.tmp, "fg.pid")
    with running(env) as init:
        r = ex(env, "--pid-file", pidfile, "c1", "/bin/sh", "-c", "exit 0")
        ok(r)
        content = read(pidfile)
        assert re.fullmatch(r"[0-9]+", content) and int(content) != init, \
            f"pid file content {content!r}"


# --------------------------------------------------------------- --preserve-fds

def exec_with_fds(env, script, fds, preserve=None):
    data = os.path.join(env.tmp, "data.txt")
    with open(data, "w") as f:
        f.write("secret-data\n")
    redir = " ".join(f'{n}<"$DATA"' for n in fds)
    extra = ["--preserve-fds", str(preserve)] if preserve is not None else []
    cmd = ["/bin/sh", "-c", f'exec "$0" "$@" {redir}', VESSEL, "--root", env.root, "exec",
           *extra, "c1", "/bin/sh", "-c", script]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL, env=dict(os.environ, DATA=data))


def test_exec_preserve_fds_passes_fd3(env):
    with running(env):
        cp = exec_with_fds(env, "cat <&3; " + FD_LIST, fds=[3, 4, 6], preserve=1)
        assert cp.returncode == 0, cp
        lines = cp.stdout.splitlines()
        assert lines[0] == "secret-data", cp
        fds = fd_table("\n".join(lines[1:]))
        assert sorted(fds) == [0, 1, 2, 3], f"fds in the exec'd process: {fds}"
        assert fds[3].endswith("data.txt"), fds


def test_exec_preserve_fds_two(env):
    with running(env):
        cp = exec_with_fds(env, FD_LIST, fds=[3, 4, 5], preserve=2)
        assert cp.returncode == 0, cp
        fds = fd_table(cp.stdout)
        assert sorted(fds) == [0, 1, 2, 3, 4], f"fds in the exec'd process: {fds}"


def test_exec_no_fd_leaks_without_preserve(env):
    with running(env):
        cp = exec_with_fds(env, FD_LIST, fds=[3, 4, 7, 9])
        assert cp.returncode == 0, cp
        fds = fd_table(cp.stdout)
        assert sorted(fds) == [0, 1, 2], f"host fds leaked into the exec'd process: {fds}"


def test_exec_preserve_fds_not_a_number(env):
    with running(env):
        r = ex(env, "--preserve-fds", "x", "c1", "true")
        assert r.returncode != 0 and "--preserve-fds" in r.stderr, r


# ------------------------------------------------------------ --no-new-privs

def test_exec_no_new_privs(env):
    cfg = loop_config(env)
    cfg["process"]["noNewPrivileges"] = False
    with running(env, cfg):
        st = status_fields(ok(ex(env, "c1", "cat", "/proc/self/status")))
        assert st["NoNewPrivs"] == "0", "noNewPrivileges false in the config, yet set"
        st = status_fields(ok(ex(env, "--no-new-privs", "c1", "cat", "/proc/self/status")))
        assert st["NoNewPrivs"] == "1", st["NoNewPrivs"]


def test_exec_no_new_privs_from_config(env):
    with running(env):  # the default test config sets noNewPrivileges
        st = status_fields(ok(ex(env, "c1", "cat", "/proc/self/status")))
        assert st["NoNewPrivs"] == "1", st["NoNewPrivs"]


# ------------------------------------------------------- LSMs (none on this host)

def apparmor_enabled():
    try:
        with open("/sys/module/apparmor/parameters/enabled") as f:
            return f.read().strip() == "Y"
    except OSError:
        return False


def selinux_enabled():
    return os.path.exists("/sys/fs/selinux/enforce")


def test_exec_apparmor_fails_clearly_without_apparmor(env):
    assert not apparmor_enabled(), "this test needs a host without AppArmor"
    m = marker_dir(env)
    with running(env, loop_config(env, binds=[(m, "/m")])):
        r = ex(env, "--apparmor", "my-profile", "c1", "touch", "/m/ran")
        assert r.returncode != 0, r
        assert "AppArmor" in r.stderr and "my-profile" in r.stderr and "not" in r.stderr, r
        assert not os.path.exists(os.path.join(m, "ran")), "the process ran unconfined"


def test_exec_process_label_fails_clearly_without_selinux(env):
    assert not selinux_enabled(), "this test needs a host without SELinux"
    m = marker_dir(env)
    with running(env, loop_config(env, binds=[(m, "/m")])):
        r = ex(env, "--process-label", "system_u:system_r:container_t:s0", "c1", "touch", "/m/ran")
        assert r.returncode != 0, r
        assert "SELinux" in r.stderr and "container_t" in r.stderr and "not" in r.stderr, r
        assert not os.path.exists(os.path.join(m, "ran")), "the process ran unconfined"


# ---------------------------------------------------------------- --cgroup

def test_exec_cgroup_missing_sub_cgroup_fails_clearly(env):
    """`--cgroup PATH` joins an existing sub-cgroup of the container (runc's
    meaning, and vessel exec --help's).  A sub-cgroup that does not exist
    cannot be joined: the exec must fail, naming the option or the path,
    and the process must not run.  (A vessel without --cgroup support must
    equally refuse the option rather than ignore it.)"""
    m = marker_dir(env)
    with running(env, loop_config(env, binds=[(m, "/m")])):
        r = ex(env, "--cgroup", "no-such-sub-cgroup", "c1", "touch", "/m/ran")
        assert r.returncode != 0, \
            f"--cgroup with a sub-cgroup that does not exist was accepted: {r}; " \
            f"process ran: {os.path.exists(os.path.join(m, 'ran'))}"
        assert "--cgroup" in r.stderr or "no-such-sub-cgroup" in r.stderr, r
        assert not os.path.exists(os.path.join(m, "ran")), "the process ran anyway"


def cgroup_lines(text):
    """/proc/PID/cgroup as {"ID:CONTROLLERS": path}."""
    res = {}
    for l in text.splitlines():
        hid, ctrl, path = l.split(":", 2)
        res[f"{hid}:{ctrl}"] = path
    return res


KNOWN_CTRL = {"cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "net_cls", "blkio",
              "perf_event", "net_prio", "hugetlb", "pids", "rdma", "misc"}


def cgroup_mounts():
    """{frozenset of controllers (empty for cgroup2): mount point}."""
    res = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            p = post.split()
            if p and p[0] == "cgroup":
                ctrls = frozenset(o for o in p[2].split(",")
                                  if o in KNOWN_CTRL or o.startswith("name="))
                res.setdefault(ctrls, pre.split()[4])
            elif p and p[0] == "cgroup2":
                res.setdefault(frozenset(), pre.split()[4])
    return res


def test_exec_cgroup_joins_existing_sub_cgroup(env):
    """With the sub-cgroup created in every hierarchy under the init's
    cgroup, `exec --cgroup SUB` runs the process in it."""
    sub = f"vessel-exec-sub-{os.getpid()}"
    made = []
    with running(env) as init:
        try:
            with open(f"/proc/{init}/cgroup") as f:
                init_cg = cgroup_lines(f.read())
            mounts = cgroup_mounts()
            joined = {}
            for key, path in init_cg.items():
                ctrls = frozenset(c for c in key.split(":", 1)[1].split(",") if c)
                if ctrls not in mounts:
                    continue
                parent = os.path.join(mounts[ctrls], path.lstrip("/"))
                d = os.path.join(parent, sub)
                os.mkdir(d)
                made.append(d)
                if "cpuset" in ctrls:  # an empty v1 cpuset cannot take tasks
                    for fn in ("cpuset.cpus", "cpuset.mems"):
                        with open(os.path.join(parent, fn)) as f:
                            v = f.read()
                        with open(os.path.join(d, fn), "w") as f:
                            f.write(v)
                joined[key] = path.rstrip("/") + "/" + sub
            assert joined, f"no cgroup hierarchy found for {init_cg} in {mounts}"
            r = ex(env, "--cgroup", sub, "c1", "cat", "/proc/self/cgroup")
            assert r.returncode == 0, f"exec --cgroup {sub} into an existing sub-cgroup failed: {r}"
            got = cgroup_lines(r.stdout)
            bad = {k: (got.get(k), want) for k, want in joined.items() if got.get(k) != want}
            assert not bad, f"exec --cgroup {sub}: (got, expected) {bad}; output {r.stdout!r}"
        finally:
            for d in reversed(made):
                wait_for(lambda: _rmdir(d), timeout=5)


def _rmdir(d):
    try:
        os.rmdir(d)
        return True
    except FileNotFoundError:
        return True
    except OSError:
        return False


def test_exec_joins_the_init_cgroup(env):
    """The process joins the container's cgroup(s), whatever they are."""
    with running(env) as init:
        pid = None
        try:
            r = vessel_files(env, "exec", "-d", "--pid-file", os.path.join(env.tmp, "p"), "c1",
                             "sleep", "1000")
            assert r.returncode == 0, r
            pid = int(read(os.path.join(env.tmp, "p")))
            with open(f"/proc/{init}/cgroup") as f:
                want = f.read()
            with open(f"/proc/{pid}/cgroup") as f:
                got = f.read()
            assert got == want, f"exec'd process cgroups:\n{got}\ninit's:\n{want}"
        finally:
            if pid:
                kill_pid(pid)


# --------------------------------------------- namespaces and init's treatment

def all_namespaces_config(env):
    os.chmod(env.tmp, 0o755)
    cfg = loop_config(env)
    cfg["linux"]["namespaces"] = [{"type": t} for t in
                                  ("pid", "network", "ipc", "uts", "mount", "user", "cgroup", "time")]
    cfg["linux"]["uidMappings"] = IDMAP
    cfg["linux"]["gidMappings"] = IDMAP
    cfg["linux"]["timeOffsets"] = {"monotonic": {"secs": 86400, "nanosecs": 0},
                                   "boottime": {"secs": 2 * 86400, "nanosecs": 0}}
    return cfg


def test_exec_joins_every_namespace(env):
    cfg = all_namespaces_config(env)
    with running(env, cfg) as init:
        want = {n: host_ns(init, n) for n in NS_FILES}
        for n in NS_FILES:
            assert want[n] != host_ns("self", n), f"the init is in the host's {n} namespace"
        script = "; ".join(f"readlink /proc/self/ns/{n}" for n in NS_FILES)
        lines = ok(ex(env, "c1", "/bin/sh", "-c", script)).splitlines()
        got = dict(zip(NS_FILES, lines))
        bad = {n: (got.get(n), want[n]) for n in NS_FILES if got.get(n) != want[n]}
        assert not bad, f"exec'd process vs init namespaces (got, want): {bad}"


def test_exec_in_all_namespaces_sees_the_container(env):
    """What the namespaces mean inside: pid 1 is the init, the hostname, the
    id maps and time offsets are the container's."""
    cfg = all_namespaces_config(env)
    with running(env, cfg):
        r = ex(env, "c1", "/bin/sh", "-c",
               "cat /proc/1/cmdline | tr '\\0' ' '; echo; hostname; cat /proc/self/uid_map; "
               "cat /proc/self/timens_offsets; id -u; echo $$")
        lines = ok(r).splitlines()
        assert lines[0].strip() == "/bin/sh -c " + LOOP, f"pid 1 is not the init: {r}"
        assert lines[1] == "testbox", r
        assert lines[2].split() == ["0", "100000", "65536"], r
        offs = {l.split()[0]: l.split()[1:] for l in lines[3:5]}
        assert offs == {"monotonic": ["86400", "0"], "boottime": [str(2 * 86400), "0"]}, r
        assert lines[5] == "0", r
        assert 1 < int(lines[6]) < 1000, f"$$ {lines[6]} is not a pid of the container's namespace"


def test_exec_all_namespaces_detached_pid_from_host(env):
    cfg = all_namespaces_config(env)
    with running(env, cfg) as init:
        pid = None
        pidfile = os.path.join(env.tmp, "p")
        try:
            r = vessel_files(env, "exec", "-d", "--pid-file", pidfile, "c1", "sleep", "1000")
            assert r.returncode == 0, r
            pid = int(read(pidfile))
            for n in NS_FILES:
                assert host_ns(pid, n) == host_ns(init, n), \
                    f"{n}: exec'd {host_ns(pid, n)} init {host_ns(init, n)}"
            with open(f"/proc/{pid}/status") as f:
                st = status_fields(f.read())
            assert st["Uid"].split()[0] == "100000", f"uid seen from the host: {st['Uid']}"
        finally:
            if pid:
                kill_pid(pid)


def seccomp_mkdir_errno():
    return {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
            "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}


def test_exec_gets_the_init_treatment(env):
    """rlimits, capabilities, no_new_privs and the seccomp filter of the
    config apply to the exec'd process as to the init."""
    cfg = loop_config(env)
    cfg["process"]["rlimits"] = [{"type": "RLIMIT_NOFILE", "soft": 100, "hard": 200},
                                 {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400}]
    cfg["process"]["capabilities"] = {s: ["CAP_KILL", "CAP_CHOWN"]
                                      for s in ("bounding", "effective", "permitted")}
    cfg["process"]["noNewPrivileges"] = True
    cfg["linux"]["seccomp"] = seccomp_mkdir_errno()
    with running(env, cfg) as init:
        r = ex(env, "c1", "/bin/sh", "-c",
               "cat /proc/self/status; echo ====; cat /proc/self/limits; echo ====; "
               "mkdir /tmp/d 2>&1; echo mkdir=$?; touch /tmp/f && echo touched")
        status, limits, rest = ok(r).split("====\n")
        st = status_fields(status)
        assert st["Seccomp"] == "2", f"exec'd process not under the seccomp filter: {st['Seccomp']}"
        assert st["NoNewPrivs"] == "1", st["NoNewPrivs"]
        want = mask(["CAP_KILL", "CAP_CHOWN"])
        for k in ("CapEff", "CapPrm", "CapBnd"):
            assert int(st[k], 16) == want, f"{k} {st[k]}"
        lim = proc_limits(limits)
        assert lim["Max open files"] == ("100", "200"), lim
        assert lim["Max processes"] == ("300", "400"), lim
        assert "Operation not permitted" in rest and "mkdir=1" in rest, r
        assert "touched" in rest, r
        with open(f"/proc/{init}/status") as f:
            ist = status_fields(f.read())
        assert ist["Seccomp"] == "2" and ist["NoNewPrivs"] == "1", ist


def test_exec_seccomp_without_no_new_privs(env):
    cfg = loop_config(env)
    cfg["process"]["noNewPrivileges"] = False
    cfg["linux"]["seccomp"] = seccomp_mkdir_errno()
    with running(env, cfg):
        r = ex(env, "c1", "/bin/sh", "-c",
               "grep -E '^(Seccomp|NoNewPrivs):' /proc/self/status; mkdir /tmp/d 2>&1; echo mkdir=$?")
        out = ok(r)
        st = status_fields(out)
        assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "0", r
        assert "Operation not permitted" in out and "mkdir=1" in out, r


# ---------------------------------------------------------------- failures

def test_exec_into_stopped_container_fails(env):
    create(env, "c1", ["/bin/true"])
    try:
        env.vessel("start", "c1", check=True)
        wait_status(env, "c1", "stopped")
        r = ex(env, "c1", "echo", "SHOULD-NOT-RUN")
        assert r.returncode != 0, r
        assert "SHOULD-NOT-RUN" not in r.stdout, r
        assert "c1" in r.stderr and "stopped" in r.stderr, r
    finally:
        env.vessel("delete", "--force", "c1")


def test_exec_into_missing_container_fails(env):
    r = ex(env, "nope", "echo", "SHOULD-NOT-RUN")
    assert r.returncode != 0, r
    assert "nope" in r.stderr and "does not exist" in r.stderr, r


def test_exec_missing_binary_absolute(env):
    with running(env) as init:
        r = ex(env, "c1", "/no/such/binary", "arg")
        assert r.returncode != 0, r
        assert "/no/such/binary" in r.stderr, f"the error does not name the binary: {r}"
        assert "No such file" in r.stderr, r
        assert alive(init) and env.state("c1")["status"] == "running"


def test_exec_missing_binary_in_path(env):
    with running(env):
        r = ex(env, "c1", "no-such-command-xyz")
        assert r.returncode != 0, r
        assert "no-such-command-xyz" in r.stderr, f"the error does not name the command: {r}"


@pytest.mark.parametrize("name,content,mode,needles", [
    ("plain", "data\n", 0o644, ("/plain", "ermission denied")),
    # The kernel cannot run it (its interpreter is missing): execve fails
    # after the runtime's fds were dealt with, and the error must still
    # reach the user.
    ("noint", "#!/nonexistent/interpreter\n", 0o755,
     ("execve /noint", "No such file or directory")),
], ids=["not-executable", "execve-fails"])
def test_exec_cannot_execute(env, name, content, mode, needles):
    with open(os.path.join(env.rootfs, name), "w") as f:
        f.write(content)
    os.chmod(os.path.join(env.rootfs, name), mode)
    with running(env):
        r = ex(env, "c1", "/" + name)
    assert r.returncode != 0, r
    assert all(n in r.stderr for n in needles), r


def test_exec_missing_cwd_fails(env):
    """runc: "chdir to cwd ("/no/such/dir") set in config.json failed".  An
    exec must not create directories in a running container (only the init's
    cwd is created, at create time)."""
    with running(env):
        r = ex(env, "--cwd", "/no/such/dir", "c1", "pwd")
        assert r.returncode != 0, r
        assert "/no/such/dir" in r.stderr, r
    assert not os.path.exists(os.path.join(env.rootfs, "no")), "exec created the directory"


# ----------------------------------------------------------------- signals

def _default_signals():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 42), (signal.SIGINT, 43),
                                      (signal.SIGHUP, 44), (signal.SIGUSR1, 45)])
def test_exec_forwards_signals(env, sig, code):
    m = marker_dir(env)
    with running(env, loop_config(env, binds=[(m, "/m")])) as init:
        script = ("trap 'exit 42' TERM; trap 'exit 43' INT; trap 'exit 44' HUP; "
                  "trap 'exit 45' USR1; echo ready > /m/ready; " + LOOP)
        p, out, err = popen_vessel(env, "exec", "c1", "/bin/sh", "-c", script,
                                   preexec_fn=_default_signals)
        try:
            wait_file(os.path.join(m, "ready"))
            p.send_signal(sig)
            rc = p.wait(timeout=20)
            assert rc == code, f"vessel exec exited {rc}, expected {code}; stderr {read(err)!r}"
        finally:
            stop_popen(p)
        assert alive(init), "the signal reached the container's init"


def test_exec_process_reached_by_kill_all(env):
    """`vessel kill --all` reaches an exec'd process; the foreground exec
    reports 128+9."""
    m = marker_dir(env)
    with running(env, loop_config(env, binds=[(m, "/m")])):
        p, out, err = popen_vessel(env, "exec", "c1", "/bin/sh", "-c",
                                   "echo ready > /m/ready; " + LOOP)
        try:
            wait_file(os.path.join(m, "ready"))
            env.vessel("kill", "--all", "c1", "KILL", check=True)
            rc = p.wait(timeout=20)
            assert rc == 137, f"rc {rc}, stderr {read(err)!r}"
        finally:
            stop_popen(p)
