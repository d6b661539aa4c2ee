"""Bad input: every mistake gives a clear one-line error naming what is
wrong, a non-zero exit, and leaves nothing behind (no state directory, no
process, no mount), for both `create` and `run`.

An id containing a NUL byte cannot be passed through argv (execve cuts the
string at the NUL), so that case cannot reach vessel; id validation is
tested through the other bad ids below ("/", "..", ".", "", too long).
"""
import copy
import itertools
import os
import subprocess
import uuid

import pytest

from conftest import VESSEL, mounts_under, wait_for

MODES = ["create", "run"]
_seq = itertools.count()


class Out:
    def __init__(self, returncode, stdout, stderr):
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self):
        return f"<rc={self.returncode} out={self.stdout!r} err={self.stderr!r}>"


def vessel_files(env, *args, timeout=60):
    """vessel with stdio in files: if a create unexpectedly succeeds, its
    container would hold a pipe open and hang the test."""
    n = next(_seq)
    out, err = os.path.join(env.tmp, f"stdout.{n}"), os.path.join(env.tmp, f"stderr.{n}")
    with open(out, "w") as o, open(err, "w") as e:
        cp = subprocess.run([VESSEL, "--root", env.root] + [str(a) for a in args],
                            stdin=subprocess.DEVNULL, stdout=o, stderr=e, timeout=timeout)
    with open(out) as o, open(err) as e:
        return Out(cp.returncode, o.read(), e.read())


def attempt(env, mode, cfg=None, cid="c1", bundle=None):
    if cfg is not None:
        env.write_config(cfg)
    return vessel_files(env, mode, "--bundle", bundle or env.bundle, cid)


def base(env, args=("/bin/true",)):
    cfg = copy.deepcopy(env.config)
    cfg["process"]["args"] = list(args)
    return cfg


def proc_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


def leftover_procs(env):
    """Live processes that belong to this test's bundle: their command line
    names the test's directory (an init that never exec'd is a copy of
    vessel), their root is the rootfs (after pivot_root), or their cwd or
    root lies under the test's directory."""
    rootfs = os.stat(env.rootfs)
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid() or not proc_alive(d):
            continue
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                cmdline = f.read()
            hit = env.tmp.encode() in cmdline
            st = os.stat(f"/proc/{d}/root")
            hit = hit or (st.st_dev, st.st_ino) == (rootfs.st_dev, rootfs.st_ino)
            for link in ("root", "cwd"):
                target = os.readlink(f"/proc/{d}/{link}")
                hit = hit or target == env.tmp or target.startswith(env.tmp + "/")
        except OSError:
            continue
        if hit:
            found.append((int(d), cmdline.replace(b"\0", b" ").decode(errors="replace")))
    return found


def kill_leftovers(procs):
    for pid, _ in procs:
        try:
            os.kill(pid, 9)
        except OSError:
            pass


def assert_clean_failure(env, r, *words, what=""):
    """Non-zero exit, one line on stderr containing every word, nothing left."""
    try:
        assert r.returncode != 0, f"{what}: expected a failure, got {r}"
        lines = [l for l in r.stderr.splitlines() if l.strip()]
        assert len(lines) == 1, f"{what}: expected one line of error, got {r.stderr!r}"
        for w in words:
            assert w in lines[0], f"{what}: the error should mention {w!r}: {lines[0]!r}"
        assert "(null)" not in lines[0], f"{what}: {lines[0]!r}"
    finally:
        # Whatever the outcome, check and clean up leftovers.
        leftovers = wait_for(lambda: not leftover_procs(env), timeout=2) or leftover_procs(env)
        if leftovers is True:
            leftovers = []
        kill_leftovers(leftovers)
        state = os.listdir(env.root) if os.path.isdir(env.root) else []
        mounts = mounts_under(env.tmp)
    assert state == [], f"{what}: state left under {env.root}: {state}"
    assert not leftovers, f"{what}: processes left behind: {leftovers}"
    assert not mounts, f"{what}: mounts left behind: {mounts}"
    assert env.ids() == [], f"{what}: list shows {env.ids()}"


# ------------------------------------------------------------- the checker

def test_leftover_scanner_sees_a_container(env):
    """The process scan used above does find a container's processes."""
    cfg = base(env, ["/bin/sh", "-c", "while :; do sleep 0.05; done"])
    env.write_config(cfg)
    r = vessel_files(env, "create", "--bundle", env.bundle, "c1")
    assert r.returncode == 0, r
    pid = env.state("c1")["pid"]
    assert pid in [p for p, _ in leftover_procs(env)], "created init not found"
    env.vessel("start", "c1", check=True)
    assert wait_for(lambda: pid in [p for p, _ in leftover_procs(env)]), "running init not found"
    env.vessel("delete", "--force", "c1", check=True)
    assert wait_for(lambda: not leftover_procs(env)), leftover_procs(env)


# ------------------------------------------------------------------ config

@pytest.mark.parametrize("mode", MODES)
def test_malformed_json(env, mode):
    env.write_config('{"ociVersion": "1.2.0",\n  "process": {"args": ["/bin/true"],\n')
    r = attempt(env, mode)
    assert_clean_failure(env, r, "config.json", "line", "column", what="malformed JSON")
    line = r.stderr.strip()
    assert "line 3" in line, f"the error should point at line 3: {line!r}"


@pytest.mark.parametrize("mode", MODES)
def test_config_not_an_object(env, mode):
    env.write_config("[1, 2, 3]")
    r = attempt(env, mode)
    assert_clean_failure(env, r, "config.json", what="JSON array as config")


@pytest.mark.parametrize("mode", MODES)
def test_missing_config(env, mode):
    r = attempt(env, mode)
    assert_clean_failure(env, r, "config.json", what="no config.json")


@pytest.mark.parametrize("mode", MODES)
def test_missing_rootfs(env, mode):
    cfg = base(env)
    cfg["root"]["path"] = "no-such-rootfs"
    r = attempt(env, mode, cfg)
    assert_clean_failure(env, r, "root.path", "no-such-rootfs", what="missing rootfs")


@pytest.mark.parametrize("mode", MODES)
def test_rootfs_is_a_file(env, mode):
    with open(os.path.join(env.bundle, "rootfs-file"), "w") as f:
        f.write("x")
    cfg = base(env)
    cfg["root"]["path"] = "rootfs-file"
    r = attempt(env, mode, cfg)
    assert_clean_failure(env, r, "root.path", "rootfs-file", "not a directory",
                         what="rootfs is a file")


@pytest.mark.parametrize("mode", MODES)
def test_empty_args(env, mode):
    cfg = base(env)
    cfg["process"]["args"] = []
    r = attempt(env, mode, cfg)
    assert_clean_failure(env, r, "process.args", what="empty process.args")


@pytest.mark.parametrize("mode", MODES)
def test_missing_process(env, mode):
    cfg = base(env)
    del cfg["process"]
    r = attempt(env, mode, cfg)
    assert_clean_failure(env, r, "process", what="no process")


@pytest.mark.parametrize("mode", MODES)
def test_executable_not_found(env, mode):
    r = attempt(env, mode, base(env, ["/bin/no-such-program"]))
    assert_clean_failure(env, r, "/bin/no-such-program", what="missing executable")


@pytest.mark.parametrize("mode", MODES)
def test_unknown_namespace_type(env, mode):
    cfg = base(env)
    cfg["linux"]["namespaces"].append({"type": "bogus"})
    r = attempt(env, mode, cfg)
    assert_clean_failure(env, r, "linux.namespaces", "bogus", what="unknown namespace type")


def _with_ns_path(env, nstype, path):
    cfg = base(env)
    cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != nstype]
    cfg["linux"]["namespaces"].append({"type": nstype, "path": path})
    return cfg


@pytest.mark.parametrize("mode", MODES)
def test_namespace_path_missing(env, mode):
    path = os.path.join(env.tmp, "no-such-ns")
    r = attempt(env, mode, _with_ns_path(env, "network", path))
    assert_clean_failure(env, r, "linux.namespaces", path, what="missing namespace path")


@pytest.mark.parametrize("mode", MODES)
def test_namespace_path_wrong_type(env, mode):
    r = attempt(env, mode, _with_ns_path(env, "uts", "/proc/self/ns/net"))
    assert_clean_failure(env, r, "/proc/self/ns/net", "uts", what="net ns given for uts")


@pytest.mark.parametrize("mode", MODES)
def test_namespace_path_not_a_namespace(env, mode):
    path = os.path.join(env.tmp, "plain-file")
    with open(path, "w") as f:
        f.write("x")
    r = attempt(env, mode, _with_ns_path(env, "ipc", path))
    assert_clean_failure(env, r, path, what="a plain file as namespace path")


@pytest.mark.parametrize("mode", MODES)
def test_missing_hook(env, mode):
    cfg = base(env)
    cfg["hooks"] = {"prestart": [{"path": "/no/such/hook-binary"}]}
    r = attempt(env, mode, cfg)
    assert_clean_failure(env, r, "/no/such/hook-binary", what="missing hook binary")


@pytest.mark.parametrize("mode", MODES)
def test_unknown_mount_option(env, mode):
    cfg = base(env)
    cfg["mounts"].append({"destination": "/mnt", "type": "tmpfs", "source": "tmpfs",
                          "options": ["nosuid", "bogus"]})
    r = attempt(env, mode, cfg)
    assert_clean_failure(env, r, "bogus", f"mounts[{len(cfg['mounts']) - 1}]",
                         what="unknown mount option")


@pytest.mark.parametrize("mode", MODES)
def test_bind_mount_source_missing(env, mode):
    """Fails in the runtime, which opens bind sources before the clone."""
    src = os.path.join(env.tmp, "no-such-source")
    cfg = base(env)
    cfg["mounts"].append({"destination": "/mnt", "type": "bind", "source": src,
                          "options": ["rbind"]})
    r = attempt(env, mode, cfg)
    assert_clean_failure(env, r, "no-such-source", what="missing bind source")


@pytest.mark.parametrize("mode", MODES)
def test_bind_mount_destination_below_a_file(env, mode):
    """Fails inside the container's init, after the clone, holding the
    bind source the runtime cloned: the cleanup path."""
    src = os.path.join(env.tmp, "src")
    os.makedirs(src)
    cfg = base(env)
    cfg["mounts"].append({"destination": "/etc/passwd/x", "type": "bind", "source": src,
                          "options": ["rbind"]})
    r = attempt(env, mode, cfg)
    assert_clean_failure(env, r, f"mounts[{len(cfg['mounts']) - 1}]", "/etc/passwd",
                         what="bind mount below a file")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", ["args-string", "hostname-number", "uidmap-negative",
                                  "env-not-strings", "terminal-string", "mounts-object"])
def test_wrong_json_types(env, mode, case):
    cfg = base(env)
    if case == "args-string":
        cfg["process"]["args"] = "sh"
        words = ["process.args"]
    elif case == "hostname-number":
        cfg["hostname"] = 5
        words = ["hostname"]
    elif case == "uidmap-negative":
        cfg["linux"]["namespaces"].append({"type": "user"})
        cfg["linux"]["uidMappings"] = [{"containerID": -1, "hostID": 0, "size": 1}]
        cfg["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 0, "size": 1}]
        words = ["linux.uidMappings[0].containerID"]
    elif case == "env-not-strings":
        cfg["process"]["env"] = ["A=1", 2]
        words = ["process.env[1]"]
    elif case == "terminal-string":
        cfg["process"]["terminal"] = "yes"
        words = ["process.terminal"]
    else:
        cfg["mounts"] = {"destination": "/x"}
        words = ["mounts"]
    r = attempt(env, mode, cfg)
    assert_clean_failure(env, r, *words, what=case)


@pytest.mark.parametrize("mode", MODES)
def test_unsupported_oci_version(env, mode):
    cfg = base(env)
    cfg["ociVersion"] = "2.0.0"
    r = attempt(env, mode, cfg)
    assert_clean_failure(env, r, "ociVersion", "2.0.0", what="ociVersion 2.0.0")


@pytest.mark.parametrize("mode", MODES)
def test_relative_cwd(env, mode):
    cfg = base(env)
    cfg["process"]["cwd"] = "tmp"
    r = attempt(env, mode, cfg)
    assert_clean_failure(env, r, "process.cwd", what="relative cwd")


@pytest.mark.parametrize("mode", MODES)
def test_unknown_rlimit(env, mode):
    cfg = base(env)
    cfg["process"]["rlimits"] = [{"type": "RLIMIT_BOGUS", "hard": 1, "soft": 1}]
    r = attempt(env, mode, cfg)
    assert_clean_failure(env, r, "process.rlimits[0]", "RLIMIT_BOGUS", what="unknown rlimit")


@pytest.mark.parametrize("mode", MODES)
def test_capability_not_a_string(env, mode):
    cfg = base(env)
    cfg["process"]["capabilities"]["bounding"] = ["CAP_KILL", 5]
    r = attempt(env, mode, cfg)
    assert_clean_failure(env, r, "process.capabilities.bounding[1]", what="capability 5")


# --------------------------------------------------------------------- ids

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cid", ["a/b", "../escape", "..", ".", "", "x" * 1100, "with space"],
                         ids=["slash", "dotdot-slash", "dotdot", "dot", "empty", "long", "space"])
def test_bad_ids(env, mode, cid):
    env.write_config(base(env))
    r = vessel_files(env, mode, "--bundle", env.bundle, cid)
    assert_clean_failure(env, r, "container id", what=f"id {cid[:20]!r}")
    assert not os.path.exists(os.path.join(env.tmp, "escape"))
    assert not os.path.exists(os.path.join(env.root, "a"))


@pytest.mark.parametrize("mode", MODES)
def test_duplicate_id(env, mode):
    cfg = base(env, ["/bin/sh", "-c", "while :; do sleep 0.05; done"])
    env.write_config(cfg)
    r = vessel_files(env, "create", "--bundle", env.bundle, "c1")
    assert r.returncode == 0, r
    first = env.state("c1")
    procs_before = sorted(p for p, _ in leftover_procs(env))
    assert procs_before == [first["pid"]], procs_before
    state_before = sorted(os.listdir(os.path.join(env.root, "c1")))

    r = vessel_files(env, mode, "--bundle", env.bundle, "c1")
    assert r.returncode != 0, r
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and "already exists" in lines[0] and "c1" in lines[0], r

    # The first container is untouched and still works.
    assert sorted(os.listdir(os.path.join(env.root, "c1"))) == state_before
    assert sorted(p for p, _ in leftover_procs(env)) == procs_before, "a second init is left"
    assert env.state("c1") == first
    env.vessel("start", "c1", check=True)
    assert env.state("c1")["status"] == "running"
    env.vessel("delete", "--force", "c1", check=True)
    assert wait_for(lambda: not leftover_procs(env)), leftover_procs(env)


@pytest.mark.parametrize("mode", MODES)
def test_missing_bundle(env, mode):
    env.write_config(base(env))
    bundle = os.path.join(env.tmp, "no-such-bundle")
    r = attempt(env, mode, bundle=bundle)
    assert_clean_failure(env, r, bundle, what="missing bundle")


@pytest.mark.parametrize("mode", MODES)
def test_bundle_is_a_file(env, mode):
    bundle = os.path.join(env.tmp, "bundle-file")
    with open(bundle, "w") as f:
        f.write("x")
    r = attempt(env, mode, bundle=bundle)
    assert_clean_failure(env, r, "bundle-file", what="bundle is a file")


# ------------------------------------------------------ mounts via symlinks

@pytest.mark.parametrize("target", ["/etc", "/"])
def test_mount_through_symlink_stays_in_rootfs_run(env, target):
    name = "vessel-escape-" + uuid.uuid4().hex[:10]
    os.symlink(target, os.path.join(env.rootfs, "evil"))
    host = os.path.join(target, name)
    inside = os.path.join(target, name)  # where it lands, seen from the container
    assert not os.path.exists(host)
    cfg = base(env, ["/bin/sh", "-c",
                     f"grep ' {inside} ' /proc/self/mountinfo; touch {inside}/written"])
    cfg["mounts"].append({"destination": f"/evil/{name}", "type": "tmpfs", "source": "tmpfs"})
    env.write_config(cfg)
    try:
        r = env.vessel("run", "--bundle", env.bundle, "c1")
        assert not os.path.exists(host), f"the mount escaped the rootfs: {host} exists"
        assert r.returncode == 0, r
        assert " tmpfs " in r.stdout, f"no tmpfs at {inside} inside the container: {r}"
        landed = os.path.join(env.rootfs, target.lstrip("/"), name)
        assert os.path.isdir(landed), f"the mount point was not made inside the rootfs: {landed}"
        assert not os.path.exists(os.path.join(landed, "written")), "the tmpfs was not used"
    finally:
        if os.path.isdir(host):
            subprocess.run(["umount", "-l", host])
            os.rmdir(host)
    assert not mounts_under(target.rstrip("/") + "/" + name)


def test_mount_through_symlink_stays_in_rootfs_create(env):
    name = "vessel-escape-" + uuid.uuid4().hex[:10]
    os.symlink("/etc", os.path.join(env.rootfs, "evil"))
    host = os.path.join("/etc", name)
    cfg = base(env, ["/bin/true"])
    cfg["mounts"].append({"destination": f"/evil/{name}", "type": "tmpfs", "source": "tmpfs"})
    env.write_config(cfg)
    try:
        r = vessel_files(env, "create", "--bundle", env.bundle, "c1")
        assert r.returncode == 0, r
        assert not os.path.exists(host), f"the mount escaped the rootfs: {host} exists"
        pid = env.state("c1")["pid"]
        with open(f"/proc/{pid}/mountinfo") as f:
            points = [l.split()[4] for l in f]
        assert f"/etc/{name}" in points, f"no mount at /etc/{name} in the container: {points}"
        assert os.path.isdir(os.path.join(env.rootfs, "etc", name))
        env.vessel("delete", "--force", "c1", check=True)
    finally:
        if os.path.isdir(host):
            subprocess.run(["umount", "-l", host])
            os.rmdir(host)


@pytest.mark.parametrize("mode", MODES)
def test_mount_destination_dotdot_stays_in_rootfs(env, mode):
    """A destination with '..' components cannot climb out of the rootfs."""
    name = "vessel-escape-" + uuid.uuid4().hex[:10]
    cfg = base(env, ["/bin/true"])
    cfg["mounts"].append({"destination": f"/../../../../../../tmp/{name}", "type": "tmpfs",
                          "source": "tmpfs"})
    env.write_config(cfg)
    r = vessel_files(env, mode, "--bundle", env.bundle, "c1")
    try:
        assert not os.path.exists(f"/tmp/{name}"), "a '..' destination escaped the rootfs"
    finally:
        if os.path.isdir(f"/tmp/{name}"):
            subprocess.run(["umount", "-l", f"/tmp/{name}"])
            os.rmdir(f"/tmp/{name}")
    if r.returncode == 0:
        if mode == "create":
            env.vessel("delete", "--force", "c1", check=True)
    else:
        assert_clean_failure(env, r, "mounts", what="'..' destination")


def _noise_case(env, case):
    if case == "malformed":
        return '{"ociVersion": "1.2.0",\n'
    cfg = base(env)
    if case == "args-string":
        cfg["process"]["args"] = "sh"
    elif case == "no-process":
        del cfg["process"]
    elif case == "rootfs-file":
        with open(os.path.join(env.bundle, "rootfs-file"), "w") as f:
            f.write("x")
        cfg["root"]["path"] = "rootfs-file"
    elif case == "ns-wrong-type":
        cfg = _with_ns_path(env, "uts", "/proc/self/ns/net")
    return cfg


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", ["malformed", "args-string", "no-process", "rootfs-file",
                                  "ns-wrong-type"])
def test_config_errors_are_not_padded(env, mode, case):
    """A validation error says what is wrong once: a trailing strerror
    ("Invalid argument" after "not a uts namespace"), a repeated phrase ("not
    a directory: Not a directory") or a file named twice is noise."""
    env.write_config(_noise_case(env, case))
    r = attempt(env, mode)
    assert r.returncode != 0, r
    line = r.stderr.strip()
    assert not line.endswith(": Invalid argument"), f"errno text on a config error: {line!r}"
    assert line.lower().count("not a directory") <= 1, f"repeated: {line!r}"
    assert line.count("config.json") <= 1, f"the file is named more than once: {line!r}"
    assert env.ids() == []
