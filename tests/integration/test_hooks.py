"""OCI hooks: order, the state on stdin, where each kind runs, args/env,
timeouts, and what a failing hook does to the lifecycle."""
import json
import os
import subprocess
import time
import uuid

import pytest

from conftest import VESSEL, wait_for


@pytest.fixture(autouse=True)
def own_cgroup(env):
    """A cgroup of this test's own: the default one is named after the
    container id ("c1"), which concurrent test runs on this machine share."""
    env.config["linux"]["cgroupsPath"] = "/vessel/" + os.path.basename(env.tmp)


HOOK_PATH_ENV = "PATH=/usr/sbin:/usr/bin:/sbin:/bin"

# Works with dash (host) and busybox sh (inside the container).  $1 is the
# hook's name; everything the hook can tell about itself goes to
# $HOOK_LOG/<name>.info, its stdin to <name>.state, and its name is appended
# to $HOOK_LOG/order.
HOOK_SCRIPT = r"""#!/bin/sh
name=$1
log=$HOOK_LOG
state=$(cat)
{
  printf 'args='; for a in "$@"; do printf '[%s]' "$a"; done; echo
  echo "mnt=$(readlink /proc/self/ns/mnt)"
  echo "net=$(readlink /proc/self/ns/net)"
  echo "uts=$(readlink /proc/self/ns/uts)"
  echo "hostname=$(cat /proc/sys/kernel/hostname)"
  env | sort | sed 's/^/env:/'
} > "$log/$name.info"
printf '%s' "$state" > "$log/$name.state"
echo "$name" >> "$log/order"
"""

KINDS = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"]


# ---------------------------------------------------------------- helpers


class Hooks:
    def __init__(self, env):
        self.env = env
        self.log = os.path.join(env.tmp, "hooklog")
        os.makedirs(self.log)
        self.script = os.path.join(env.tmp, "hook.sh")
        self.write_script(self.script, HOOK_SCRIPT)
        # startContainer hooks are resolved in the container: a copy in the rootfs.
        self.write_script(os.path.join(env.rootfs, "bin", "hook.sh"), HOOK_SCRIPT)
        env.config["mounts"].append({"destination": "/hooklog", "type": "bind",
                                     "source": self.log, "options": ["rbind"]})
        env.config.setdefault("hooks", {})

    @staticmethod
    def write_script(path, text):
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, 0o755)

    def add(self, kind, name=None, path=None, extra=(), timeout=None, env=()):
        inside = kind == "startContainer"
        h = {"path": path or ("/bin/hook.sh" if inside else self.script),
             "args": ["hook.sh", name or kind, *extra],
             "env": [HOOK_PATH_ENV, "HOOK_LOG=" + ("/hooklog" if inside else self.log), *env]}
        if timeout is not None:
            h["timeout"] = timeout
        self.env.config["hooks"].setdefault(kind, []).append(h)
        return h

    def add_script(self, kind, body, name, timeout=None):
        """A host hook running an arbitrary /bin/sh body."""
        path = os.path.join(self.env.tmp, f"{name}.sh")
        self.write_script(path, "#!/bin/sh\n" + body + "\n")
        h = {"path": path, "args": [name]}
        if timeout is not None:
            h["timeout"] = timeout
        self.env.config["hooks"].setdefault(kind, []).append(h)
        return h

    def order(self):
        try:
            with open(os.path.join(self.log, "order")) as f:
                return f.read().split()
        except FileNotFoundError:
            return []

    def state(self, name):
        with open(os.path.join(self.log, f"{name}.state")) as f:
            text = f.read()
        try:
            return json.loads(text)
        except ValueError:
            raise AssertionError(f"{name} hook got no valid state JSON on stdin: {text!r}")

    def info(self, name):
        d = {"env": []}
        with open(os.path.join(self.log, f"{name}.info")) as f:
            for line in f.read().splitlines():
                if line.startswith("env:"):
                    d["env"].append(line[4:])
                else:
                    k, _, v = line.partition("=")
                    d[k] = v
        return d


class Out:
    def __init__(self, rc, text):
        self.returncode, self.output = rc, text

    def __repr__(self):
        return f"<rc={self.returncode} output={self.output!r}>"


def vessel_to_file(env, *args, extra_env=None, timeout=60):
    """Run vessel with stdout+stderr in a file: `create` hands its stdio to
    the container, so a pipe would stay open as long as the container."""
    path = os.path.join(env.tmp, f"out-{uuid.uuid4().hex[:8]}")
    with open(path, "w+") as f:
        cp = subprocess.run([VESSEL, "--root", env.root, *args], stdin=subprocess.DEVNULL,
                            stdout=f, stderr=f, timeout=timeout,
                            env={**os.environ, **(extra_env or {})})
        f.seek(0)
        return Out(cp.returncode, f.read())


def create(env, cid="c1", **kw):
    env.write_config()
    return vessel_to_file(env, "create", "--bundle", env.bundle, cid, **kw)


def host_ns(name):
    return os.readlink(f"/proc/self/ns/{name}")


def procs_with_token(token):
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/environ", "rb") as f:
                if token.encode() in f.read():
                    found.append(int(p))
        except OSError:
            pass
    return found


def assert_nothing_left(env, cid, token=None):
    assert env.ids() == [], f"container left behind: {env.ids()}"
    assert not os.path.exists(os.path.join(env.root, cid)), \
        f"state directory left behind: {os.listdir(os.path.join(env.root, cid))}"
    if token:
        assert wait_for(lambda: not procs_with_token(token), timeout=5), \
            f"processes left behind: {procs_with_token(token)}"


def wait_status(env, cid, status, timeout=10):
    def check():
        r = env.vessel("state", cid)
        return r.returncode == 0 and json.loads(r.stdout)["status"] == status
    return wait_for(check, timeout=timeout)


WAIT_FOR_POSTSTART = ("i=0; while [ ! -e /hooklog/poststart.state ] && [ $i -lt 200 ]; do "
                      "sleep 0.05; i=$((i+1)); done; echo process-ran > /hooklog/process")


# ---------------------------------------------------------------- the full lifecycle


@pytest.fixture
def lifecycle(env):
    """create / start / wait / delete a container with one hook of every
    kind; returns (hooks, container init pid, its ns links, outputs)."""
    hooks = Hooks(env)
    for k in KINDS:
        hooks.add(k, extra=("a b", "", "last"), env=(f"HOOKVAR=value of {k}",))
    env.config["process"]["args"] = ["/bin/sh", "-c", WAIT_FOR_POSTSTART]
    r = create(env, extra_env={"LEAKVAR": "from-the-runtime"})
    assert r.returncode == 0, r
    after_create = hooks.order()
    st = env.state("c1")
    pid = st["pid"]
    ns = {n: os.readlink(f"/proc/{pid}/ns/{n}") for n in ("mnt", "net", "uts")}
    r = env.vessel("start", "c1", env={**os.environ, "LEAKVAR": "from-the-runtime"})
    assert r.returncode == 0, r
    after_start = hooks.order()
    assert wait_status(env, "c1", "stopped"), f"container did not stop: {env.state('c1')}"
    before_delete = hooks.order()
    r = env.vessel("delete", "c1", env={**os.environ, "LEAKVAR": "from-the-runtime"})
    assert r.returncode == 0, r
    return {"hooks": hooks, "pid": pid, "ns": ns, "after_create": after_create,
            "after_start": after_start, "before_delete": before_delete,
            "after_delete": hooks.order(), "bundle": env.bundle}


def test_hooks_order(lifecycle):
    lc = lifecycle
    assert lc["after_create"] == ["prestart", "createRuntime", "createContainer"], lc["after_create"]
    assert lc["after_start"][3:5] == ["startContainer", "poststart"], lc["after_start"]
    assert lc["before_delete"] == KINDS[:5], lc["before_delete"]
    assert lc["after_delete"] == KINDS, lc["after_delete"]
    with open(os.path.join(lc["hooks"].log, "process")) as f:
        assert f.read() == "process-ran\n"


# runtime-spec runtime.md: "created" is the status after the runtime
# environment is made (lifecycle step 2), so the prestart, createRuntime and
# createContainer hooks (steps 3-5) and startContainer (step 7, before the
# user program runs) see it; poststart runs after it ran (step 9), poststop
# after the container stopped.
@pytest.mark.parametrize("kind,status", [
    ("prestart", "created"), ("createRuntime", "created"), ("createContainer", "created"),
    ("startContainer", "created"), ("poststart", "running"), ("poststop", "stopped")])
def test_hook_state_on_stdin(lifecycle, kind, status):
    st = lifecycle["hooks"].state(kind)
    assert st.get("status") == status, f"{kind}: {st}"
    assert st.get("id") == "c1", st
    assert st.get("bundle") == lifecycle["bundle"], st
    assert st.get("ociVersion"), st
    # "pid": as the runtime sees it for hooks in the runtime namespace, as
    # the container sees it for hooks in the container namespace.
    if kind in ("createContainer", "startContainer"):
        assert st.get("pid") == 1, f"{kind}: pid {st.get('pid')}, not the container's 1"
    elif kind != "poststop":
        assert st.get("pid") == lifecycle["pid"], f"{kind}: pid {st.get('pid')} != {lifecycle['pid']}"


@pytest.mark.parametrize("kind", ["prestart", "createRuntime", "poststart", "poststop"])
def test_hook_runs_in_runtime_namespaces(lifecycle, kind):
    info = lifecycle["hooks"].info(kind)
    for n in ("mnt", "net", "uts"):
        assert info[n] == host_ns(n), f"{kind} ran in {n} {info[n]}, the host's is {host_ns(n)}"


@pytest.mark.parametrize("kind", ["createContainer", "startContainer"])
def test_hook_runs_in_container_namespaces(lifecycle, kind):
    info = lifecycle["hooks"].info(kind)
    for n in ("mnt", "net", "uts"):
        assert info[n] != host_ns(n), f"{kind} ran in the host's {n} namespace"
        assert info[n] == lifecycle["ns"][n], \
            f"{kind} ran in {n} {info[n]}, the container's is {lifecycle['ns'][n]}"


def test_start_container_hook_sees_container_hostname(lifecycle):
    assert lifecycle["hooks"].info("startContainer")["hostname"] == "testbox"


@pytest.mark.parametrize("kind", KINDS)
def test_hook_args_and_env(lifecycle, kind):
    info = lifecycle["hooks"].info(kind)
    assert info["args"] == f"[{kind}][a b][][last]", info["args"]
    assert f"HOOKVAR=value of {kind}" in info["env"], info["env"]
    assert HOOK_PATH_ENV in info["env"], info["env"]
    assert not any(e.startswith("LEAKVAR=") for e in info["env"]), \
        f"{kind} inherited the runtime's environment: {info['env']}"


ENV_SCRIPT = '#!/bin/sh\nenv > "$2/$1.env"\n'


def test_hooks_without_env_get_the_runtimes_environment(env):
    """OCI: a hook's "env" is optional; without it the hook runs with the
    environment of the runtime that runs it (as with runc and crun), and
    "env": [] is an empty one."""
    hooks = Hooks(env)
    Hooks.write_script(os.path.join(env.tmp, "hook-env.sh"), ENV_SCRIPT)
    Hooks.write_script(os.path.join(env.rootfs, "bin", "hook-env.sh"), ENV_SCRIPT)
    for k in KINDS:
        inside = k == "startContainer"
        path = "/bin/hook-env.sh" if inside else os.path.join(env.tmp, "hook-env.sh")
        log = "/hooklog" if inside else hooks.log
        env.config["hooks"][k] = [{"path": path, "args": ["hook-env.sh", k, log]},
                                  {"path": path, "args": ["hook-env.sh", k + "-empty", log],
                                   "env": []}]
    extra = {"RUNTIME_VAR": "set-for-vessel"}
    r = create(env, extra_env=extra)
    assert r.returncode == 0, r
    for cmd in (["start", "c1"], ["delete", "--force", "c1"]):
        if cmd[0] == "delete":
            assert wait_status(env, "c1", "stopped")
        r = env.vessel(*cmd, env={**os.environ, **extra})
        assert r.returncode == 0, r
    for k in KINDS:
        with open(os.path.join(hooks.log, k + ".env")) as f:
            assert "RUNTIME_VAR=set-for-vessel\n" in f.read(), f"{k} hook without env"
        with open(os.path.join(hooks.log, k + "-empty.env")) as f:
            assert "RUNTIME_VAR" not in f.read(), f"{k} hook with an empty env"


def test_start_container_hook_path_resolved_in_container(env):
    assert not os.path.exists("/bin/in-container-only-hook.sh")
    hooks = Hooks(env)
    Hooks.write_script(os.path.join(env.rootfs, "bin", "in-container-only-hook.sh"), HOOK_SCRIPT)
    hooks.add("startContainer", path="/bin/in-container-only-hook.sh")
    r = env.sh("cat /hooklog/order")
    assert r.returncode == 0, r
    assert r.stdout == "startContainer\n", r


def test_hooks_run_with_vessel_run(env):
    hooks = Hooks(env)
    for k in KINDS:
        hooks.add(k)
    r = env.sh("echo in-container")
    assert r.returncode == 0 and r.stdout == "in-container\n", r
    assert hooks.order() == KINDS, hooks.order()
    assert hooks.state("poststop")["status"] == "stopped"


def test_several_hooks_of_one_kind_run_in_order(env):
    hooks = Hooks(env)
    for n in ("cr-1", "cr-2", "cr-3"):
        hooks.add("createRuntime", name=n)
    hooks.add("poststop", name="ps-1")
    hooks.add("poststop", name="ps-2")
    r = env.sh("true")
    assert r.returncode == 0, r
    assert hooks.order() == ["cr-1", "cr-2", "cr-3", "ps-1", "ps-2"], hooks.order()


def test_hook_without_args_gets_its_path_as_argv0(env):
    hooks = Hooks(env)
    path = os.path.join(env.tmp, "argv0.sh")
    Hooks.write_script(path, f'#!/bin/sh\necho "$0|$#" > {hooks.log}/argv0\n')
    env.config["hooks"]["createRuntime"] = [{"path": path}]
    r = env.sh("true")
    assert r.returncode == 0, r
    with open(os.path.join(hooks.log, "argv0")) as f:
        assert f.read() == f"{path}|0\n"


# ---------------------------------------------------------------- failures


def test_hook_timeout(env):
    hooks = Hooks(env)
    hooks.add_script("createRuntime", "exec sleep 10", "slow", timeout=1)
    token = uuid.uuid4().hex
    t = time.monotonic()
    r = create(env, extra_env={"VESSEL_TEST_TOKEN": token})
    elapsed = time.monotonic() - t
    assert r.returncode != 0, f"create succeeded despite a hook timing out: {r}"
    assert elapsed < 6, f"the 1 s hook timeout was not honoured: create took {elapsed:.1f} s"
    assert "timed out" in r.output or "timeout" in r.output, f"no mention of the timeout: {r}"
    assert "createRuntime" in r.output, r
    assert_nothing_left(env, "c1", token)


def test_hook_timeout_not_hit(env):
    hooks = Hooks(env)
    hooks.add("createRuntime", timeout=30)
    r = env.sh("true")
    assert r.returncode == 0, r
    assert hooks.order() == ["createRuntime"]


@pytest.mark.parametrize("kind", ["prestart", "createRuntime", "createContainer"])
def test_failing_create_hook_aborts_create(env, kind):
    hooks = Hooks(env)
    hooks.add_script(kind, "exit 3", "failing")
    hooks.add("poststart")  # never reached
    token = uuid.uuid4().hex
    r = create(env, extra_env={"VESSEL_TEST_TOKEN": token})
    assert r.returncode != 0, f"create succeeded despite a failing {kind} hook: {r}"
    assert kind in r.output, f"error does not name the {kind} hook: {r}"
    assert_nothing_left(env, "c1", token)
    assert hooks.order() == []


def test_failing_create_runtime_hook_runs_no_later_hooks(env):
    hooks = Hooks(env)
    hooks.add("prestart")
    hooks.add_script("createRuntime", "exit 1", "failing")
    hooks.add("createContainer")
    r = create(env)
    assert r.returncode != 0, r
    assert "createRuntime" in r.output, r
    assert "createContainer" not in hooks.order(), hooks.order()
    assert_nothing_left(env, "c1")


def test_missing_hook_path_fails_create(env):
    env.config["hooks"] = {"createRuntime": [{"path": os.path.join(env.tmp, "no-such-hook")}]}
    r = create(env)
    assert r.returncode != 0, r
    assert "no-such-hook" in r.output, r
    assert_nothing_left(env, "c1")


def test_failing_start_container_hook_fails_start(env):
    """OCI: a failing startContainer hook is an error; the runtime stops the
    container and goes on with delete (no user process, no poststart)."""
    hooks = Hooks(env)
    Hooks.write_script(os.path.join(env.rootfs, "bin", "fail.sh"), "#!/bin/sh\nexit 5\n")
    env.config["hooks"]["startContainer"] = [{"path": "/bin/fail.sh"}]
    hooks.add("poststart")
    env.config["process"]["args"] = ["/bin/sh", "-c", "echo ran > /hooklog/process"]
    r = create(env)
    assert r.returncode == 0, r
    try:
        start = env.vessel("start", "c1")
        stopped = wait_status(env, "c1", "stopped", timeout=5) if env.ids() else True
        ran = os.path.exists(os.path.join(hooks.log, "process"))
        order = hooks.order()
    finally:
        cleanup = env.vessel("delete", "--force", "c1") if env.ids() else None
    assert not ran, "the user process ran although its startContainer hook failed"
    assert stopped, "the container is not stopped after its startContainer hook failed"
    assert start.returncode != 0, f"start succeeded despite a failing startContainer hook: {start}"
    assert "startContainer" in start.stderr, start
    assert "poststart" not in order, f"poststart ran after a failed startContainer hook: {order}"
    assert cleanup is None or cleanup.returncode == 0, cleanup


def test_failing_poststart_hook_only_warns(env):
    """OCI: a failing poststart hook is logged as a warning; the remaining
    hooks and the lifecycle continue as if it had succeeded."""
    hooks = Hooks(env)
    hooks.add_script("poststart", "exit 4", "failing")
    hooks.add("poststart", name="second-poststart")
    r = env.sh("echo ran; exit 3")
    assert r.stdout == "ran\n", r
    assert "poststart" in r.stderr, f"no warning about the poststart hook: {r}"
    assert r.returncode == 3, f"a failing poststart hook changed the run's exit status: {r}"
    assert "second-poststart" in hooks.order(), f"later poststart hook skipped: {hooks.order()}"


def test_poststop_runs_on_delete(env):
    hooks = Hooks(env)
    hooks.add("poststop")
    env.config["process"]["args"] = ["/bin/true"]
    r = create(env)
    assert r.returncode == 0, r
    r = env.vessel("start", "c1")
    assert r.returncode == 0, r
    assert wait_status(env, "c1", "stopped")
    assert hooks.order() == [], "poststop ran before delete"
    r = env.vessel("delete", "c1")
    assert r.returncode == 0, r
    assert hooks.order() == ["poststop"]
    assert hooks.state("poststop")["status"] == "stopped"


def test_poststop_runs_on_delete_of_created_container(env):
    hooks = Hooks(env)
    hooks.add("poststop")
    r = create(env)
    assert r.returncode == 0, r
    r = env.vessel("delete", "--force", "c1")
    assert r.returncode == 0, r
    assert hooks.order() == ["poststop"]


def _failing_poststop_then_delete(env, hooks):
    hooks.add_script("poststop", "exit 6", "failing")
    hooks.add("poststop", name="second-poststop")
    env.config["process"]["args"] = ["/bin/true"]
    r = create(env)
    assert r.returncode == 0, r
    assert env.vessel("start", "c1").returncode == 0
    assert wait_status(env, "c1", "stopped")
    return env.vessel("delete", "c1")


def test_failing_poststop_hook_only_warns_on_delete(env):
    r = _failing_poststop_then_delete(env, Hooks(env))
    assert r.returncode == 0, f"a failing poststop hook failed delete: {r}"
    assert "poststop" in r.stderr and "warn" in r.stderr.lower(), \
        f"no warning about the poststop hook: {r}"
    assert env.ids() == []
    assert not os.path.exists(os.path.join(env.root, "c1"))


def test_failing_poststop_hook_does_not_skip_later_poststop_hooks(env):
    """OCI: after a failing poststop hook "the remaining hooks and lifecycle
    continue as if the hook had succeeded"."""
    hooks = Hooks(env)
    r = _failing_poststop_then_delete(env, hooks)
    assert r.returncode == 0, r
    assert hooks.order() == ["second-poststop"], \
        f"the poststop hook after the failing one did not run: order={hooks.order()} {r}"


def test_failing_poststop_hook_only_warns_on_run(env):
    hooks = Hooks(env)
    hooks.add_script("poststop", "exit 6", "failing")
    r = env.sh("exit 0")
    assert r.returncode == 0, f"a failing poststop hook changed the run's status: {r}"
    assert "poststop" in r.stderr, r
    assert env.ids() == []
