"""The OCI lifecycle: create, start, state, kill, delete, run, list.

A container made with `create` (or `run --detach`) inherits vessel's stdio
and outlives the vessel process, so those commands are run with stdout and
stderr in files: a pipe would stay open as long as the container lives.
"""
import copy
import itertools
import json
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import VESSEL, read, run_on_pty, wait_for

_seq = itertools.count()

LOOP = "while :; do sleep 0.05; done"


# ------------------------------------------------------------------ helpers

class Out:
    """The result of a vessel command whose stdio went to files."""

    def __init__(self, returncode, stdout, stderr, out_path):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr
        self.out_path = out_path

    def __repr__(self):
        return f"<rc={self.returncode} out={self.stdout!r} err={self.stderr!r}>"


def _paths(env):
    n = next(_seq)
    return os.path.join(env.tmp, f"stdout.{n}"), os.path.join(env.tmp, f"stderr.{n}")


def vessel_files(env, *args, cwd=None, timeout=60):
    """Run vessel with stdio in files (for create / run -d)."""
    out, err = _paths(env)
    cmd = [VESSEL, "--root", env.root] + [str(a) for a in args]
    with open(out, "w") as o, open(err, "w") as e:
        cp = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=o, stderr=e, cwd=cwd,
                            timeout=timeout)
    return Out(cp.returncode, read(out), read(err), out)


def popen_vessel(env, *args, preexec_fn=None):
    """Start vessel in the background; returns (Popen, stdout path, stderr path)."""
    out, err = _paths(env)
    cmd = [VESSEL, "--root", env.root] + [str(a) for a in args]
    with open(out, "w") as o, open(err, "w") as e:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                             preexec_fn=preexec_fn)
    return p, out, err


def stop_popen(p):
    if p.poll() is None:
        p.kill()
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass



def config_with(env, args, binds=(), env_add=(), **top):
    cfg = copy.deepcopy(env.config)
    cfg["process"]["args"] = args
    cfg["process"]["env"] = cfg["process"]["env"] + list(env_add)
    for src, dst in binds:
        cfg["mounts"].append({"destination": dst, "type": "bind", "source": src,
                              "options": ["rbind", "rw"]})
    cfg.update(top)
    return cfg


def marker_dir(env, name="m"):
    d = os.path.join(env.tmp, name)
    os.makedirs(d, exist_ok=True)
    return d


def create(env, cid, args, cfg=None, extra=(), cwd=None):
    env.write_config(cfg if cfg is not None else config_with(env, args))
    r = vessel_files(env, "create", "--bundle", env.bundle, *extra, cid, cwd=cwd)
    assert r.returncode == 0, f"create {cid} failed: {r}"
    return r


def state_or_none(env, cid):
    r = env.vessel("state", cid)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)


def status(env, cid):
    s = state_or_none(env, cid)
    return s and s["status"]


def wait_status(env, cid, want, timeout=10):
    got = wait_for(lambda: status(env, cid) == want, timeout=timeout)
    assert got, f"{cid}: status is {status(env, cid)!r}, expected {want!r}"


def proc_state(pid):
    """The one-letter state of a process, or None when it does not exist."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None


def alive(pid):
    s = proc_state(pid)
    return s is not None and s not in ("Z", "X")


def pid_ns(pid):
    return os.stat(f"/proc/{pid}/ns/pid").st_ino


def procs_in_pid_ns(ns_ino):
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if pid_ns(d) == ns_ino and alive(d):
                pids.append(int(d))
        except OSError:
            pass
    return sorted(pids)


def wait_file(path, timeout=10):
    assert wait_for(lambda: os.path.exists(path), timeout=timeout), f"{path} never appeared"


# ---------------------------------------------------------- create / state

def test_create_start_kill_delete_states(env):
    create(env, "c1", ["/bin/sh", "-c", LOOP])
    st = env.state("c1")
    assert st["status"] == "created", st
    assert st["id"] == "c1"
    assert os.path.realpath(st["bundle"]) == os.path.realpath(env.bundle), st
    assert st["ociVersion"], st
    pid = st["pid"]
    assert isinstance(pid, int) and pid > 0, st
    assert alive(pid), f"init pid {pid} from state is not a live process"
    assert pid_ns(pid) != pid_ns("self"), "the container's init is in the host's pid namespace"
    with open(f"/proc/{pid}/status") as f:
        nspid = [l for l in f if l.startswith("NSpid:")][0].split()
    assert nspid[1] == str(pid) and nspid[-1] == "1", \
        f"pid {pid} is not pid 1 of the container's namespace: {nspid}"

    r = env.vessel("start", "c1")
    assert r.returncode == 0, r
    st = env.state("c1")
    assert st["status"] == "running", st
    assert st["pid"] == pid, f"pid changed at start: {pid} -> {st['pid']}"
    assert alive(pid)

    r = env.vessel("kill", "c1", "KILL")
    assert r.returncode == 0, r
    wait_status(env, "c1", "stopped")
    assert env.state("c1")["pid"] == 0, "a stopped container reports pid 0 (as runc does)"
    assert wait_for(lambda: not alive(pid)), f"init {pid} still alive after KILL"

    r = env.vessel("delete", "c1")
    assert r.returncode == 0, r
    assert not os.path.exists(os.path.join(env.root, "c1"))
    r = env.vessel("state", "c1")
    assert r.returncode != 0 and "does not exist" in r.stderr, r


def test_process_does_not_run_before_start(env):
    m = marker_dir(env)
    cfg = config_with(env, ["/bin/sh", "-c", "touch /m/ran; " + LOOP], binds=[(m, "/m")])
    create(env, "c1", None, cfg=cfg)
    # Nothing to poll for: give a process that should not run time to run.
    time.sleep(0.5)
    assert not os.path.exists(os.path.join(m, "ran")), "the user process ran before start"
    assert status(env, "c1") == "created"
    r = env.vessel("start", "c1")
    assert r.returncode == 0, r
    wait_file(os.path.join(m, "ran"))
    assert status(env, "c1") == "running"
    env.vessel("delete", "--force", "c1", check=True)


def test_start_of_running_container_fails(env):
    create(env, "c1", ["/bin/sh", "-c", LOOP])
    env.vessel("start", "c1", check=True)
    pid = env.state("c1")["pid"]
    r = env.vessel("start", "c1")
    assert r.returncode != 0, r
    assert "running" in r.stderr and "c1" in r.stderr, r
    assert status(env, "c1") == "running" and alive(pid)
    env.vessel("delete", "--force", "c1", check=True)


def test_start_of_missing_container_fails(env):
    r = env.vessel("start", "nope")
    assert r.returncode != 0 and "does not exist" in r.stderr and "nope" in r.stderr, r


# --------------------------------------------------------------------- kill

TRAP_SCRIPT = ("for s in TERM INT HUP USR1; do trap \"echo $s > /m/sig; exit 0\" $s; done; "
               "echo ready > /m/ready; " + LOOP)


def trapping_container(env):
    m = marker_dir(env)
    cfg = config_with(env, ["/bin/sh", "-c", TRAP_SCRIPT], binds=[(m, "/m")])
    create(env, "c1", None, cfg=cfg)
    env.vessel("start", "c1", check=True)
    wait_file(os.path.join(m, "ready"))
    return m


@pytest.mark.parametrize("sig,name", [("TERM", "TERM"), ("SIGTERM", "TERM"), ("15", "TERM"),
                                      (None, "TERM"), ("sigterm", "TERM"), ("HUP", "HUP"),
                                      ("SIGUSR1", "USR1"), ("2", "INT")])
def test_kill_delivers_signal(env, sig, name):
    m = trapping_container(env)
    pid = env.state("c1")["pid"]
    r = env.vessel("kill", "c1", *([sig] if sig else []))
    assert r.returncode == 0, r
    wait_status(env, "c1", "stopped")
    assert read(os.path.join(m, "sig")).strip() == name, \
        f"kill {sig}: the container's trap saw {read(os.path.join(m, 'sig'))!r}, expected {name}"
    assert wait_for(lambda: not alive(pid))
    env.vessel("delete", "c1", check=True)


@pytest.mark.parametrize("sig", ["KILL", "SIGKILL", "9"])
def test_kill_sigkill(env, sig):
    m = trapping_container(env)
    pid = env.state("c1")["pid"]
    r = env.vessel("kill", "c1", sig)
    assert r.returncode == 0, r
    wait_status(env, "c1", "stopped")
    assert wait_for(lambda: not alive(pid)), f"init {pid} survived SIGKILL"
    assert not os.path.exists(os.path.join(m, "sig")), "a trap ran: the signal was not KILL"
    env.vessel("delete", "c1", check=True)


def test_kill_unknown_signal_fails(env):
    trapping_container(env)
    r = env.vessel("kill", "c1", "BOGUS")
    assert r.returncode != 0 and "BOGUS" in r.stderr and "signal" in r.stderr, r
    assert status(env, "c1") == "running"
    env.vessel("delete", "--force", "c1", check=True)


def test_kill_all(env):
    m = marker_dir(env)
    # Init (pid 1, no TERM handler) ignores SIGTERM; its children do not.
    script = ("sleep 1000 & sleep 1000 & sleep 1000 & echo ready > /m/ready; wait; "
              "echo waited > /m/waited; " + LOOP)
    cfg = config_with(env, ["/bin/sh", "-c", script], binds=[(m, "/m")])
    create(env, "c1", None, cfg=cfg)
    env.vessel("start", "c1", check=True)
    wait_file(os.path.join(m, "ready"))
    init = env.state("c1")["pid"]
    ns = pid_ns(init)
    assert wait_for(lambda: len(procs_in_pid_ns(ns)) == 4), procs_in_pid_ns(ns)
    sleepers = [p for p in procs_in_pid_ns(ns) if p != init]

    # Without --all only init gets the signal, and ignores it.
    env.vessel("kill", "c1", "TERM", check=True)
    time.sleep(0.3)
    assert all(alive(p) for p in sleepers), "kill without --all reached non-init processes"

    r = env.vessel("kill", "--all", "c1", "TERM")
    assert r.returncode == 0, r
    assert wait_for(lambda: not any(alive(p) for p in sleepers)), \
        f"kill --all TERM left processes: {[p for p in sleepers if alive(p)]}"
    wait_file(os.path.join(m, "waited"))
    assert alive(init) and status(env, "c1") == "running"

    r = env.vessel("kill", "--all", "c1", "KILL")
    assert r.returncode == 0, r
    wait_status(env, "c1", "stopped")
    assert wait_for(lambda: not procs_in_pid_ns(ns)), procs_in_pid_ns(ns)
    env.vessel("delete", "c1", check=True)


def test_kill_stopped_container_fails(env):
    create(env, "c1", ["/bin/true"])
    env.vessel("start", "c1", check=True)
    wait_status(env, "c1", "stopped")
    r = env.vessel("kill", "c1", "KILL")
    assert r.returncode != 0, r
    # runc's words, which containerd's shim reads as "already stopped"
    # (`ctr task delete -f` kills first and fails on any other error).
    assert "container not running" in r.stderr and "c1" in r.stderr, r
    env.vessel("delete", "c1", check=True)


def test_kill_missing_container_fails(env):
    r = env.vessel("kill", "nope", "KILL")
    assert r.returncode != 0 and "does not exist" in r.stderr, r


# ------------------------------------------------------------------- delete

def test_delete_running_without_force_fails(env):
    create(env, "c1", ["/bin/sh", "-c", LOOP])
    env.vessel("start", "c1", check=True)
    pid = env.state("c1")["pid"]
    r = env.vessel("delete", "c1")
    assert r.returncode != 0, r
    assert "not stopped" in r.stderr or "--force" in r.stderr, r
    assert "--force" in r.stderr, f"the error should point to --force: {r}"
    assert status(env, "c1") == "running" and alive(pid), "delete without --force harmed it"
    assert os.path.isdir(os.path.join(env.root, "c1"))
    env.vessel("delete", "--force", "c1", check=True)


def test_delete_force_kills_and_removes(env):
    m = marker_dir(env)
    cfg = config_with(env, ["/bin/sh", "-c", "sleep 1000 & echo ready > /m/ready; " + LOOP],
                      binds=[(m, "/m")])
    create(env, "c1", None, cfg=cfg)
    env.vessel("start", "c1", check=True)
    wait_file(os.path.join(m, "ready"))
    pid = env.state("c1")["pid"]
    ns = pid_ns(pid)
    procs = procs_in_pid_ns(ns)
    assert len(procs) >= 2, procs
    r = env.vessel("delete", "--force", "c1")
    assert r.returncode == 0, r
    assert not alive(pid), f"init {pid} is still alive after delete --force"
    assert wait_for(lambda: not procs_in_pid_ns(ns)), \
        f"processes left after delete --force: {procs_in_pid_ns(ns)}"
    assert not os.path.exists(os.path.join(env.root, "c1"))
    assert env.ids() == []
    assert env.vessel("state", "c1").returncode != 0


def test_delete_created_container(env):
    """runtime.md: deleting a container that is not stopped is an error, a
    created one too (runc deletes it; podman and containerd pass --force,
    docs/integrations.md); --force kills it and deletes it."""
    create(env, "c1", ["/bin/sh", "-c", LOOP])
    pid = env.state("c1")["pid"]
    assert alive(pid)
    r = env.vessel("delete", "c1")
    assert r.returncode != 0 and "created" in r.stderr and "--force" in r.stderr, r
    assert alive(pid) and env.state("c1")["status"] == "created"
    r = env.vessel("delete", "--force", "c1")
    assert r.returncode == 0, r
    assert wait_for(lambda: not alive(pid)), f"init {pid} of a deleted created container lives on"
    assert not os.path.exists(os.path.join(env.root, "c1"))
    assert env.ids() == []


def test_delete_stopped_container(env):
    create(env, "c1", ["/bin/sh", "-c", "exit 3"])
    pid = env.state("c1")["pid"]
    env.vessel("start", "c1", check=True)
    wait_status(env, "c1", "stopped")
    r = env.vessel("delete", "c1")
    assert r.returncode == 0, r
    assert not alive(pid)
    assert not os.path.exists(os.path.join(env.root, "c1"))
    assert env.ids() == []


def test_delete_missing_container(env):
    r = env.vessel("delete", "nope")
    assert r.returncode != 0 and "does not exist" in r.stderr, r
    # runc: --force on a container that does not exist succeeds.
    r = env.vessel("delete", "--force", "nope")
    assert r.returncode == 0, r


# ----------------------------------------------------------------- pid file

def test_pid_file_absolute(env):
    path = os.path.join(env.tmp, "init.pid")
    create(env, "c1", ["/bin/sh", "-c", LOOP], extra=("--pid-file", path))
    content = read(path)
    assert re.fullmatch(r"[0-9]+", content), f"pid file content {content!r}"
    assert int(content) == env.state("c1")["pid"]
    env.vessel("delete", "--force", "c1", check=True)


def test_pid_file_relative_to_cwd(env):
    wd = os.path.join(env.tmp, "wd")
    os.makedirs(wd)
    create(env, "c1", ["/bin/sh", "-c", LOOP], extra=("--pid-file", "rel.pid"), cwd=wd)
    content = read(os.path.join(wd, "rel.pid"))
    assert re.fullmatch(r"[0-9]+", content), f"pid file content {content!r}"
    assert int(content) == env.state("c1")["pid"]
    env.vessel("delete", "--force", "c1", check=True)


# ---------------------------------------------------------------------- run

def test_run_detach(env):
    env.write_config(config_with(env, ["/bin/sh", "-c", LOOP]))
    t0 = time.time()
    r = vessel_files(env, "run", "--detach", "--bundle", env.bundle, "c1", timeout=30)
    assert r.returncode == 0, r
    assert time.time() - t0 < 20
    st = env.state("c1")
    assert st["status"] == "running", st
    assert alive(st["pid"])
    env.vessel("kill", "c1", "KILL", check=True)
    wait_status(env, "c1", "stopped")
    env.vessel("delete", "c1", check=True)
    assert env.ids() == []
    assert not alive(st["pid"])


def _default_sigint():
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def test_running_as_soon_as_the_process_runs(env):
    """state says running once the user's program runs, however slowly
    start goes on afterwards: here strace holds start for a second after it
    released init (its unlinkat calls).  State said "created" then (started
    was recorded after init was released), seen under load in CI."""
    m = marker_dir(env)
    create(env, "c1", None, cfg=config_with(env, ["/bin/sh", "-c", "echo ready > /m/ready; " + LOOP],
                                            binds=[(m, "/m")]))
    p = subprocess.Popen(["strace", "-f", "-o", "/dev/null", "-e", "trace=unlinkat", "-e",
                          "inject=unlinkat:delay_exit=1000000", VESSEL, "--root", env.root,
                          "start", "c1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_file(os.path.join(m, "ready"))
        assert p.poll() is None, "start ended before the check: the window was not held open"
        assert status(env, "c1") == "running"
        _, errtext = p.communicate(timeout=30)
        assert p.returncode == 0, errtext
        assert status(env, "c1") == "running"
    finally:
        stop_popen(p)
        env.vessel("delete", "--force", "c1")


def test_start_when_init_dies_meanwhile(env):
    """init killed between start's open of exec.fifo and its write (another
    client's kill, seen in test_crash): start says the container is not
    running; it died of SIGPIPE.  strace holds the write for a second."""
    create(env, "c1", ["/bin/sh", "-c", LOOP])
    pid = env.state("c1")["pid"]
    fifo = os.path.join(env.root, "c1", "exec.fifo")
    p = subprocess.Popen(["strace", "-f", "-o", "/dev/null", "-P", fifo, "-e", "trace=write",
                          "-e", "inject=write:delay_enter=1000000", VESSEL, "--root", env.root,
                          "start", "c1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         text=True)
    try:
        time.sleep(0.5)
        assert p.poll() is None, "start ended before init was killed"
        os.kill(pid, signal.SIGKILL)
        _, errtext = p.communicate(timeout=30)
        assert p.returncode == 1, (p.returncode, errtext)
        assert 'container "c1" is not running' in errtext
        wait_status(env, "c1", "stopped")
        r = env.vessel("delete", "c1")
        assert r.returncode == 0, r
    finally:
        stop_popen(p)
        env.vessel("delete", "--force", "c1")


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 42), (signal.SIGINT, 43)])
def test_run_forwards_signals(env, sig, code):
    m = marker_dir(env)
    script = "trap 'exit 42' TERM; trap 'exit 43' INT; echo ready > /m/ready; " + LOOP
    env.write_config(config_with(env, ["/bin/sh", "-c", script], binds=[(m, "/m")]))
    p, out, err = popen_vessel(env, "run", "--bundle", env.bundle, "c1", preexec_fn=_default_sigint)
    try:
        wait_file(os.path.join(m, "ready"))
        assert status(env, "c1") == "running"
        p.send_signal(sig)
        rc = p.wait(timeout=20)
        assert rc == code, f"vessel run exited {rc}, expected {code}; stderr {read(err)!r}"
    finally:
        stop_popen(p)
    assert env.ids() == [], "run left its container behind"


@pytest.mark.parametrize("code", [0, 1, 7, 255])
def test_run_exit_code(env, code):
    r = env.sh(f"exit {code}")
    assert r.returncode == code, r
    assert env.ids() == []


def test_run_exit_code_killed_by_signal(env):
    m = marker_dir(env)
    env.write_config(config_with(env, ["/bin/sh", "-c", "echo ready > /m/ready; " + LOOP],
                                 binds=[(m, "/m")]))
    p, out, err = popen_vessel(env, "run", "--bundle", env.bundle, "c1")
    try:
        wait_file(os.path.join(m, "ready"))
        env.vessel("kill", "c1", "KILL", check=True)
        rc = p.wait(timeout=20)
        assert rc == 128 + signal.SIGKILL, f"rc {rc}, stderr {read(err)!r}"
    finally:
        stop_popen(p)
    assert env.ids() == []


def test_run_exit_code_self_signal_without_pid_namespace(env):
    cfg = copy.deepcopy(env.config)
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "pid"]
    r = env.run(["/bin/sh", "-c", "kill -USR1 $$; sleep 5"], config=cfg)
    assert r.returncode == 128 + signal.SIGUSR1, r


def test_run_output_and_cleanup(env):
    r = env.sh("echo out; echo err >&2; exit 0")
    assert r.returncode == 0, r
    assert r.stdout == "out\n", r
    assert "err" in r.stderr, r
    assert env.ids() == []
    assert not os.path.exists(os.path.join(env.root, "c1"))
    r = env.vessel("list")
    assert r.returncode == 0 and len(r.stdout.strip().splitlines()) == 1, r


def test_run_keep_leaves_a_stopped_container(env):
    """run --keep: the state stays after the process exits (status stopped,
    its cgroup too), and delete removes it, running the poststop hooks."""
    marker = os.path.join(env.tmp, "poststop-ran")
    hook = os.path.join(env.tmp, "poststop.sh")
    with open(hook, "w") as f:
        f.write(f"#!/bin/sh\ntouch {marker}\n")
    os.chmod(hook, 0o755)
    env.config["hooks"] = {"poststop": [{"path": hook}]}
    r = env.run(["/bin/sh", "-c", "exit 7"], extra=("--keep",))
    assert r.returncode == 7, r
    assert env.ids() == ["c1"], f"run --keep removed the container: {env.ids()}"
    st = env.state("c1")
    assert st["status"] == "stopped", st
    cg = env.config["linux"]["cgroupsPath"].lstrip("/")
    assert os.path.isdir(os.path.join("/sys/fs/cgroup/memory", cg)) or \
        os.path.isdir(os.path.join("/sys/fs/cgroup", cg)), "the kept container's cgroup is gone"
    assert not os.path.exists(marker), "poststop ran before delete"
    r = env.vessel("delete", "c1")
    assert r.returncode == 0, r
    assert os.path.exists(marker), "poststop did not run on delete"
    assert env.ids() == [] and not os.path.exists(os.path.join(env.root, "c1"))


@pytest.mark.parametrize("args", [("create", "--keep"), ("run", "--detach", "--keep")])
def test_keep_is_refused_where_it_means_nothing(env, args):
    env.write_config(config_with(env, ["/bin/true"]))
    r = vessel_files(env, *args, "--bundle", env.bundle, "c1")
    assert r.returncode != 0 and "--keep" in r.stderr, r
    assert env.ids() == []


def test_run_same_id_again_after_exit(env):
    assert env.sh("exit 0").returncode == 0
    r = env.sh("echo again")
    assert r.returncode == 0 and r.stdout == "again\n", r


# ------------------------------------------------------------ fds, env, tty

FD_LIST = ("ls -l /proc/self/fd | sed -n 's/.* \\([0-9][0-9]*\\) -> \\(.*\\)$/\\1 \\2/p'")


def run_with_fds(env, script, fds, preserve=None, env_add=(), host_env=None):
    """`vessel run` with the given fds (numbers) open on data.txt."""
    data = os.path.join(env.tmp, "data.txt")
    with open(data, "w") as f:
        f.write("secret-data\n")
    env.write_config(config_with(env, ["/bin/sh", "-c", script], env_add=env_add))
    redir = " ".join(f'{n}<"$DATA"' for n in fds)
    extra = ["--preserve-fds", str(preserve)] if preserve is not None else []
    cmd = ["/bin/sh", "-c", f'exec "$0" "$@" {redir}', VESSEL, "--root", env.root, "run",
           *extra, "--bundle", env.bundle, "c1"]
    cp = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                        stdin=subprocess.DEVNULL, env=dict(os.environ, DATA=data, **(host_env or {})))
    return cp


def fd_table(output):
    fds = {}
    for line in output.splitlines():
        n, target = line.split(" ", 1)
        if re.fullmatch(r"/proc/[0-9]+/fd", target):
            continue  # ls's own directory fd
        fds[int(n)] = target
    return fds


def test_preserve_fds_passes_fd3(env):
    cp = run_with_fds(env, "cat <&3; " + FD_LIST, fds=[3], preserve=1)
    assert cp.returncode == 0, cp
    lines = cp.stdout.splitlines()
    assert lines[0] == "secret-data", cp
    fds = fd_table("\n".join(lines[1:]))
    assert sorted(fds) == [0, 1, 2, 3], f"fds in the container: {fds}"
    assert fds[3].endswith("data.txt"), fds


def test_no_host_fd_leaks_into_container(env):
    cp = run_with_fds(env, FD_LIST, fds=[3, 4, 7, 9])
    assert cp.returncode == 0, cp
    fds = fd_table(cp.stdout)
    assert sorted(fds) == [0, 1, 2], f"host fds leaked into the container: {fds}"


def test_preserve_fds_passes_only_n(env):
    cp = run_with_fds(env, FD_LIST, fds=[3, 4, 5], preserve=2)
    assert cp.returncode == 0, cp
    fds = fd_table(cp.stdout)
    assert sorted(fds) == [0, 1, 2, 3, 4], f"fds in the container: {fds}"


def test_listen_fds_env_passthrough(env):
    cp = run_with_fds(env, 'echo "$LISTEN_FDS $LISTEN_PID"; cat <&3', fds=[3], preserve=1,
                      env_add=["LISTEN_FDS=1", "LISTEN_PID=1"])
    assert cp.returncode == 0, cp
    assert cp.stdout == "1 1\nsecret-data\n", cp


def test_socket_activation_from_vessels_environment(env):
    """systemd socket activation: LISTEN_FDS given to vessel itself passes
    those fds on (without --preserve-fds) and tells the container's process
    (pid 1 in its pid namespace) about them."""
    cp = run_with_fds(env, 'echo "$LISTEN_FDS $LISTEN_PID"; cat <&4; ' + FD_LIST, fds=[3, 4],
                      host_env={"LISTEN_FDS": "2"})
    assert cp.returncode == 0, cp
    lines = cp.stdout.splitlines()
    assert lines[0] == "2 1", cp
    assert lines[1] == "secret-data", cp
    assert sorted(fd_table("\n".join(lines[2:]))) == [0, 1, 2, 3, 4], cp


def test_socket_activation_for_another_pid_is_ignored(env):
    """LISTEN_PID naming another process: the fds are not ours to pass."""
    cp = run_with_fds(env, 'echo "${LISTEN_FDS:-none}"; ' + FD_LIST, fds=[3],
                      host_env={"LISTEN_FDS": "1", "LISTEN_PID": "1"})
    assert cp.returncode == 0, cp
    lines = cp.stdout.splitlines()
    assert lines[0] == "none", cp
    assert sorted(fd_table("\n".join(lines[1:]))) == [0, 1, 2], cp


class ConsoleServer:
    """A unix socket that receives one fd (the pty master) with SCM_RIGHTS."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.sock.settimeout(30)
        self.fds = []
        self.msg = b""
        self.error = None
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        try:
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(30)
                self.msg, self.fds, _, _ = socket.recv_fds(conn, 1024, 4)
        except Exception as e:  # reported by the test
            self.error = e

    def master(self, timeout=30):
        self.thread.join(timeout)
        assert self.error is None, f"console socket server: {self.error!r}"
        assert len(self.fds) == 1, f"expected one fd over the console socket, got {self.fds}"
        return self.fds[0]

    def close(self):
        self.sock.close()
        for fd in self.fds:
            try:
                os.close(fd)
            except OSError:
                pass


def read_master(fd, until, timeout=20):
    import select
    buf = b""
    end = time.time() + timeout
    while time.time() < end and until not in buf:
        r, _, _ = select.select([fd], [], [], 0.2)
        if not r:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the terminal's other side is closed
            break
        if not chunk:
            break
        buf += chunk
    return buf


def test_console_socket(env):
    path = os.path.join(env.tmp, "console.sock")
    srv = ConsoleServer(path)
    try:
        cfg = config_with(env, ["/bin/sh", "-c", "tty; echo hello; sleep 0.2"])
        cfg["process"]["terminal"] = True
        create(env, "c1", None, cfg=cfg, extra=("--console-socket", path))
        master = srv.master()
        assert os.isatty(master), "the received fd is not a terminal"
        env.vessel("start", "c1", check=True)
        out = read_master(master, b"hello")
        text = out.decode(errors="replace")
        assert "/dev/pts/0" in text and "hello" in text, f"terminal output {out!r}"
        wait_status(env, "c1", "stopped")
        env.vessel("delete", "c1", check=True)
    finally:
        srv.close()


def test_console_is_dev_console(env):
    """The terminal is also /dev/console (what systemd writes its status
    to and runs its console getty on): the same pty, a bind mount."""
    path = os.path.join(env.tmp, "console.sock")
    srv = ConsoleServer(path)
    try:
        cfg = config_with(env, ["/bin/sh", "-c", "echo via-console > /dev/console; "
                                "stat -c '%t:%T' /dev/console $(tty); sleep 0.2"])
        cfg["process"]["terminal"] = True
        create(env, "c1", None, cfg=cfg, extra=("--console-socket", path))
        master = srv.master()
        env.vessel("start", "c1", check=True)
        # Everything until the process ends (EIO once no one holds the peer).
        text = read_master(master, b"(never)").decode(errors="replace")
        assert "via-console" in text, f"terminal output {text!r}"
        nums = re.findall(r"^([0-9a-f]+:[0-9a-f]+)\s*$", text, re.M)
        assert len(nums) == 2 and nums[0] == nums[1], f"/dev/console is not the terminal: {text!r}"
        wait_status(env, "c1", "stopped")
        env.vessel("delete", "c1", check=True)
    finally:
        srv.close()


def test_terminal_without_console_socket_fails(env):
    """Detached, nobody could take the terminal: create and run --detach
    refuse (a foreground run relays it itself, see test_terminal_relay)."""
    cfg = config_with(env, ["/bin/sh", "-c", "true"])
    cfg["process"]["terminal"] = True
    env.write_config(cfg)
    for cmd in (("create",), ("run", "--detach")):
        r = vessel_files(env, *cmd, "--bundle", env.bundle, "c1")
        assert r.returncode != 0, f"{cmd}: {r}"
        assert "console-socket" in r.stderr and "terminal" in r.stderr, f"{cmd}: {r}"
        assert env.ids() == [] and not os.path.exists(os.path.join(env.root, "c1"))


# -------------------------------------------------------------- concurrency

def test_concurrent_create_same_id(env):
    env.write_config(config_with(env, ["/bin/sh", "-c", LOOP]))
    for round_ in range(3):
        cid = f"race{round_}"
        procs = [popen_vessel(env, "create", "--bundle", env.bundle, cid) for _ in range(2)]
        try:
            rcs = [p.wait(timeout=60) for p, _, _ in procs]
        finally:
            for p, _, _ in procs:
                stop_popen(p)
        errs = [read(e) for _, _, e in procs]
        assert rcs.count(0) == 1, \
            f"round {round_}: exit codes {rcs}, stderr {errs}"
        loser = errs[rcs.index(0) ^ 1]
        assert "already exists" in loser, f"round {round_}: loser said {loser!r}"
        st = env.state(cid)
        assert st["status"] == "created" and alive(st["pid"]), st
        env.vessel("delete", "--force", cid, check=True)
        assert not os.path.exists(os.path.join(env.root, cid))
    assert env.ids() == []


def test_state_dir_lifecycle(env):
    create(env, "c1", ["/bin/sh", "-c", LOOP])
    d = os.path.join(env.root, "c1")
    assert os.path.isdir(d)
    env.vessel("start", "c1", check=True)
    assert os.path.isdir(d)
    env.vessel("delete", "--force", "c1", check=True)
    assert not os.path.exists(d), f"{d} left after delete: {os.listdir(d)}"


# --------------------------------------------------------------------- list

def test_list_formats(env):
    create(env, "alpha", ["/bin/sh", "-c", LOOP])
    create(env, "beta", ["/bin/sh", "-c", LOOP])
    env.vessel("start", "beta", check=True)
    pids = {c: env.state(c)["pid"] for c in ("alpha", "beta")}

    r = env.vessel("list")
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"], r.stdout
    rows = {l.split()[0]: l.split() for l in lines[1:]}
    assert set(rows) == {"alpha", "beta"}, r.stdout
    assert rows["alpha"][1] == str(pids["alpha"]) and rows["alpha"][2] == "created", r.stdout
    assert rows["beta"][1] == str(pids["beta"]) and rows["beta"][2] == "running", r.stdout
    assert rows["alpha"][3] == env.bundle, r.stdout
    assert rows["alpha"][-1] == "root", r.stdout

    r = env.vessel("list", "-q")
    assert r.returncode == 0 and r.stdout.split() == ["alpha", "beta"], r

    r = env.vessel("list", "--format", "json")
    assert r.returncode == 0, r
    data = json.loads(r.stdout)
    by_id = {c["id"]: c for c in data}
    assert set(by_id) == {"alpha", "beta"}, data
    for cid, want in (("alpha", "created"), ("beta", "running")):
        c = by_id[cid]
        assert c["status"] == want and c["pid"] == pids[cid], c
        assert c["bundle"] == env.bundle, c

    env.vessel("delete", "--force", "alpha", check=True)
    env.vessel("delete", "--force", "beta", check=True)
    r = env.vessel("list", "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout) == [], r
    r = env.vessel("list", "-q")
    assert r.returncode == 0 and r.stdout == "", r


def test_list_empty_root(env):
    r = env.vessel("list")
    assert r.returncode == 0, r
    assert r.stdout.split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"], r


def _pty_run(env, script, rows=30, cols=100, resize=None, timeout=20):
    """`vessel run` in the foreground on a pty of our own."""
    cfg = config_with(env, ["/bin/sh", "-c", script])
    cfg["process"]["terminal"] = True
    env.write_config(cfg)
    return run_on_pty([VESSEL, "--root", env.root, "run", "--bundle", env.bundle, "tty1"],
                      rows, cols, resize, timeout)


def test_terminal_relay(env):
    """Foreground run with process.terminal and no --console-socket: vessel
    allocates the pty in the container, relays it, and passes our size."""
    rc, out = _pty_run(env, "tty; stty size; exit 3")
    assert rc == 3, out
    assert "/dev/pts/0" in out, out
    assert "30 100" in out, out
    assert env.ids() == []


def test_terminal_relay_resize(env):
    """SIGWINCH on vessel's own terminal resizes the container's."""
    rc, out = _pty_run(env, "trap 'stty size; exit 0' WINCH; echo ready; "
                            "while :; do sleep 0.1; done", resize=(40, 120))
    assert rc == 0, out
    assert "40 120" in out, out


def test_run_execve_failure_is_reported(env):
    """The same for a container's init: execve's error reaches `run`."""
    with open(os.path.join(env.rootfs, "noint"), "w") as f:
        f.write("#!/nonexistent/interpreter\n")
    os.chmod(os.path.join(env.rootfs, "noint"), 0o755)
    r = env.run(["/noint"])
    assert r.returncode != 0, r
    assert "execve /noint" in r.stderr and "No such file or directory" in r.stderr, r
    assert env.ids() == [], "the failed container was left behind"


@pytest.mark.parametrize("flag,collects", [((), True), (("--no-subreaper",), False)])
def test_run_subreaper(env, flag, collects):
    """A foreground run collects the container's orphans (without a pid
    namespace they would go to the host's init); --no-subreaper, as runc's,
    leaves them to be reparented elsewhere."""
    env.config["linux"]["namespaces"] = [n for n in env.config["linux"]["namespaces"]
                                         if n["type"] != "pid"]
    # An inner shell starts a sleep and exits: the sleep is orphaned while
    # the container's init goes on.
    cfg = config_with(env, ["/bin/sh", "-c", "sh -c 'sleep 30 & echo $! $$ > /tmp/orphan'; sleep 5"])
    env.write_config(cfg)
    p, _, _ = popen_vessel(env, "run", "--bundle", env.bundle, *flag, "c1")
    try:
        orphan = os.path.join(env.rootfs, "tmp", "orphan")
        assert wait_for(lambda: os.path.exists(orphan) and read(orphan).strip()), "no orphan"
        pid, inner = (int(x) for x in read(orphan).split())

        def ppid():
            with open(f"/proc/{pid}/status") as f:
                return int(next(l for l in f if l.startswith("PPid:")).split()[1])
        assert wait_for(lambda: ppid() != inner, timeout=5), "the inner shell did not exit"
        assert (ppid() == p.pid) == collects, (ppid(), p.pid)
    finally:
        p.wait(timeout=30)
    assert p.returncode == 0
