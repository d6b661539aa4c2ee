"""Crash safety and setup errors (issue 10): vessel commands killed with
SIGKILL at any moment leave a container that `list` shows and `delete`
removes with everything it had (state, cgroups, processes, mounts); every
error after the container's init is cloned reaches the command that waits
for it; a config without a mount namespace or without id maps works."""
import json
import os
import random
import signal
import subprocess
import threading
import time

import pytest

from conftest import VESSEL, ok, read, wait_for

MARK_VAR = "VESSEL_TEST_MARK"


def new_mark():
    """A unique string put into the environment of the vessel commands a
    test starts (their container inits inherit it until execve) and into
    the arguments of its hooks: what finds every process they left."""
    return f"{os.getpid()}{random.randrange(10**9):09d}"


def marked_pids(mark, rootfs=None):
    """Processes whose environment or arguments carry the mark, or whose
    root is the test's rootfs (container processes after execve)."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                env = f.read()
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmd = f.read()
            root = os.readlink(f"/proc/{d}/root") if rootfs else ""
        except OSError:
            continue
        if mark.encode() in env or mark.encode() in cmd or (rootfs and root == rootfs):
            found.append(int(d))
    return found


def cgroup_dirs(name):
    """Directories called name under any cgroup hierarchy's vessel/ parent
    or directly at a hierarchy's root."""
    found = []
    with open("/proc/self/mountinfo") as f:
        mps = [l.split()[4] for l in f if l.split()[l.split().index("-") + 1] in ("cgroup", "cgroup2")]
    for mp in mps:
        for parent in (mp, os.path.join(mp, "vessel")):
            p = os.path.join(parent, name)
            if os.path.isdir(p):
                found.append(p)
    return found


def files(env, tag):
    return open(os.path.join(env.tmp, f"{tag}.out"), "w"), open(os.path.join(env.tmp, f"{tag}.err"), "w")


def create_with_files(env, cid):
    """create with env.config, stdio in files (a created container holds them)."""
    env.write_config()
    o, e = files(env, "create")
    with o, e:
        cp = subprocess.run([VESSEL, "--root", env.root, "create", "--bundle", env.bundle, cid],
                            stdin=subprocess.DEVNULL, stdout=o, stderr=e)
    assert cp.returncode == 0, read(os.path.join(env.tmp, "create.err"))


def popen(env, mark, *args):
    """A vessel command with stdio in files (a created container holds them)."""
    o, e = files(env, f"p{random.randrange(10**6)}")
    with o, e:
        return subprocess.Popen([VESSEL, "--root", env.root] + [str(a) for a in args],
                                stdin=subprocess.DEVNULL, stdout=o, stderr=e,
                                env=dict(os.environ, **{MARK_VAR: mark}))


def status(env, cid):
    r = env.vessel("state", cid)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)["status"]


def sleeping_hook(mark):
    """A createRuntime hook that holds create for a while; its argument
    carries the mark."""
    return {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", f"30.{mark}"]}]}


def assert_nothing_left(env, mark, cgroup_names):
    assert wait_for(lambda: not marked_pids(mark, env.rootfs), timeout=10), \
        f"processes left behind: {marked_pids(mark, env.rootfs)}"
    for name in cgroup_names:
        assert not cgroup_dirs(name), f"cgroups left behind: {cgroup_dirs(name)}"
    left = [d for d in os.listdir(env.root) if d != ".seccomp-cache"] if os.path.isdir(env.root) else []
    assert not left, f"state left behind: {left}"


# ------------------------------------------------------ a killed create


def test_killed_create_is_listed_and_deleted_then_the_id_works_again(env):
    mark = new_mark()
    cg = f"crash-{mark}"
    env.config["linux"]["cgroupsPath"] = f"/{cg}"
    env.config["process"]["args"] = ["/bin/sleep", "100"]
    env.config["hooks"] = sleeping_hook(mark)
    env.write_config()
    p = popen(env, mark, "create", "--bundle", env.bundle, "c1")
    try:
        # Visible while create waits for its hook, without waiting for it.
        assert wait_for(lambda: status(env, "c1") == "creating", timeout=10), status(env, "c1")
        listed = env.vessel("list")
        assert "c1" in listed.stdout and "creating" in listed.stdout, listed
        assert marked_pids(mark), "the hook and the container's init should be running"
    finally:
        p.kill()
        p.wait()
    # Its creator is gone: nothing more will happen.
    assert wait_for(lambda: status(env, "c1") == "stopped", timeout=10), status(env, "c1")
    ok(env.vessel("delete", "c1"))
    assert_nothing_left(env, mark, [cg])
    # The same id again.
    del env.config["hooks"]
    env.write_config()
    assert popen(env, mark, "create", "--bundle", env.bundle, "c1").wait() == 0
    ok(env.vessel("start", "c1"))
    assert status(env, "c1") == "running"
    ok(env.vessel("delete", "--force", "c1"))
    assert_nothing_left(env, mark, [cg])


def test_killed_create_of_a_two_stage_init_leaves_no_init(env):
    """An init that joins a pid namespace by path is forked by an
    intermediate process; it too dies with its creator."""
    mark = new_mark()
    env.config["process"]["args"] = ["/bin/sleep", "100"]
    env.config["linux"]["cgroupsPath"] = f"/crash-a-{mark}"
    env.write_config()
    assert popen(env, "unmarked", "run", "--detach", "--bundle", env.bundle, "a").wait() == 0
    pid_a = env.state("a")["pid"]
    env.config["linux"]["cgroupsPath"] = f"/crash-b-{mark}"
    env.config["linux"]["namespaces"] = [
        {"type": "pid", "path": f"/proc/{pid_a}/ns/pid"} if n["type"] == "pid" else n
        for n in env.config["linux"]["namespaces"]]
    env.config["hooks"] = sleeping_hook(mark)
    env.write_config()
    p = popen(env, mark, "create", "--bundle", env.bundle, "b")
    try:
        assert wait_for(lambda: status(env, "b") == "creating", timeout=10), status(env, "b")
        # The intermediate has exited; the init of b is waiting for the hook.
        assert wait_for(lambda: len(marked_pids(mark)) >= 2, timeout=10), marked_pids(mark)
    finally:
        p.kill()
        p.wait()
    assert wait_for(lambda: not marked_pids(mark), timeout=10), \
        f"processes left behind: {marked_pids(mark)}"
    ok(env.vessel("delete", "b"))
    ok(env.vessel("delete", "--force", "a"))
    assert_nothing_left(env, mark, [f"crash-a-{mark}", f"crash-b-{mark}"])


# ------------------------------------------------- errors after the clone


def broken_binary(env):
    """An executable whose interpreter does not exist: found on PATH, so
    create succeeds, but execve fails with ENOENT."""
    path = os.path.join(env.rootfs, "bin", "broken")
    with open(path, "w") as f:
        f.write("#!/nonexistent/interpreter\n")
    os.chmod(path, 0o755)
    return "/bin/broken"


def test_start_reports_execve_failure(env):
    env.config["process"]["args"] = [broken_binary(env)]
    create_with_files(env, "c1")
    r = env.vessel("start", "c1")
    assert r.returncode != 0, r
    assert "execve /bin/broken" in r.stderr and "No such file or directory" in r.stderr, r
    assert wait_for(lambda: status(env, "c1") == "stopped"), status(env, "c1")
    ok(env.vessel("delete", "c1"))


def test_run_reports_execve_failure(env):
    r = env.run([broken_binary(env)])
    assert r.returncode != 0, r
    assert "execve /bin/broken" in r.stderr, r
    assert env.ids() == []


# ------------------------------------------------- namespaces not listed


def test_no_mount_namespace_inherits_the_runtimes(env):
    env.config["linux"]["namespaces"] = [n for n in env.config["linux"]["namespaces"]
                                         if n["type"] != "mount"]
    for k in ("maskedPaths", "readonlyPaths"):
        env.config["linux"].pop(k)
    env.config["mounts"] = []
    env.config["process"]["args"] = ["/bin/sleep", "100"]
    create_with_files(env, "c1")
    pid = env.state("c1")["pid"]
    ok(env.vessel("start", "c1"))
    assert os.readlink(f"/proc/{pid}/ns/mnt") == os.readlink("/proc/self/ns/mnt")
    assert os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    assert os.readlink(f"/proc/{pid}/root") == os.path.realpath(env.rootfs)
    ok(env.vessel("delete", "--force", "c1"))
    # Nothing was mounted on the host.
    with open("/proc/self/mountinfo") as f:
        assert env.tmp not in f.read()


@pytest.mark.parametrize("edit,needle", [
    (lambda c: None, "mounts"),
    (lambda c: c.update(mounts=[]), "linux.maskedPaths"),
    (lambda c: (c.update(mounts=[]), c["linux"].pop("maskedPaths"), c["linux"].pop("readonlyPaths"),
                c["root"].update(readonly=True)), "root.readonly"),
])
def test_no_mount_namespace_refuses_what_needs_one(env, edit, needle):
    env.config["linux"]["namespaces"] = [n for n in env.config["linux"]["namespaces"]
                                         if n["type"] != "mount"]
    edit(env.config)
    r = env.run(["/bin/true"])
    assert r.returncode != 0 and needle in r.stderr and "mount namespace" in r.stderr, r
    assert env.ids() == []


def expected_default_map(path, own):
    """What a new user namespace without maps gets: own id as 0, then the
    caller's subordinate range (root's line in /etc/subuid or subgid)."""
    lines = [f"0 {own} 1"]
    try:
        with open(path) as f:
            for l in f:
                who, start, count = (l.strip().split(":") + ["", "", ""])[:3]
                if who in ("root", "0") and start.isdigit() and count.isdigit():
                    lines.append(f"1 {start} {count}")
                    break
    except FileNotFoundError:
        pass
    return lines


def test_new_user_namespace_without_mappings(env):
    env.config["linux"]["namespaces"].append({"type": "user"})
    r = env.sh("cat /proc/self/uid_map /proc/self/gid_map; id -u")
    out = ok(r)
    rows = [" ".join(l.split()) for l in out.strip().split("\n")]
    uids, gids = expected_default_map("/etc/subuid", 0), expected_default_map("/etc/subgid", 0)
    assert rows == uids + gids + ["0"], (rows, uids, gids)


# ----------------------------------------------- SIGKILL under concurrency


def test_concurrent_clients_killed_at_random_leave_nothing(env):
    """4 clients, 1,000 vessel commands on a pool of ids, one in five
    killed with SIGKILL at a random moment; then `delete -f` of whatever
    `list` shows must leave no state, cgroup, mount or process."""
    mark = new_mark()
    rng = random.Random(int(mark))
    ids = [f"s{mark}-{i}" for i in range(8)]
    # The default cgroup path (vessel/<id>), unique to these ids.
    del env.config["linux"]["cgroupsPath"]
    env.config["process"]["args"] = ["/bin/sleep", "1000"]
    env.write_config()
    commands = [["create", "--bundle", env.bundle], ["start"], ["kill"], ["kill", "--all"],
                ["delete"], ["delete", "--force"], ["state"], ["list"],
                ["run", "--detach", "--bundle", env.bundle]]
    weights = [4, 3, 1, 1, 2, 2, 1, 1, 1]
    total, lock, failures, counts = 1000, threading.Lock(), [], {"done": 0, "killed": 0}

    def client(seed):
        r = random.Random(seed)
        while True:
            with lock:
                if counts["done"] >= total:
                    return
                counts["done"] += 1
            cmd = r.choices(commands, weights)[0]
            cid = r.choice(ids)
            argv = cmd + ([] if cmd == ["list"] else [cid])
            if cmd[0] == "kill":
                argv.append("KILL")
            p = popen(env, mark, *argv)
            if r.random() < 0.2:
                time.sleep(r.uniform(0, 0.03))
                p.kill()
                with lock:
                    counts["killed"] += 1
            try:
                rc = p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                with lock:
                    failures.append(f"{argv} hung")
                return
            if rc < 0 and rc != -signal.SIGKILL:
                with lock:
                    failures.append(f"{argv} died of signal {-rc}")

    threads = [threading.Thread(target=client, args=(rng.random(),)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures
    assert counts["killed"] > 100, counts

    for cid in env.ids():
        r = env.vessel("delete", "--force", cid)
        assert r.returncode == 0, f"delete -f {cid}: {r}"
    assert env.ids() == []
    env.vessel("list")  # collects what killed commands hid
    assert_nothing_left(env, mark, ids)
    with open("/proc/self/mountinfo") as f:
        assert env.tmp not in f.read(), "mounts left behind"


# ---------------------------------------- what the process does not inherit


def ignore_int_and_pipe():
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)


def sig_ignored(out):
    line = next(l for l in out.split("\n") if l.startswith("SigIgn:"))
    return int(line.split()[1], 16)


def test_ignored_signals_are_not_inherited(env):
    """A caller that ignores SIGINT and SIGPIPE (a background job, a
    supervisor) must not hand that to the container's process, nor to one
    started with exec."""
    env.config["process"]["args"] = ["/bin/sh", "-c", "grep SigIgn /proc/self/status; sleep 100"]
    env.write_config()
    o, e = files(env, "run")
    with o, e:
        cp = subprocess.run([VESSEL, "--root", env.root, "run", "--detach", "--bundle", env.bundle, "c1"],
                            stdin=subprocess.DEVNULL, stdout=o, stderr=e, preexec_fn=ignore_int_and_pipe)
    assert cp.returncode == 0, read(os.path.join(env.tmp, "run.err"))
    assert wait_for(lambda: "SigIgn" in read(os.path.join(env.tmp, "run.out")))
    assert sig_ignored(read(os.path.join(env.tmp, "run.out"))) == 0, read(os.path.join(env.tmp, "run.out"))
    r = env.vessel("exec", "c1", "grep", "SigIgn", "/proc/self/status", preexec_fn=ignore_int_and_pipe)
    assert sig_ignored(ok(r)) == 0, r
    ok(env.vessel("delete", "--force", "c1"))
