"""Running instances, first step: the OCI config an instance runs with
(`config show NAME --oci`, src/manager/oci-gen.c), run by the real
runtime on the busybox image with a temporary --root.  start/stop, the
monitor, exec and console are the next step of this slice."""
import json
import os
import subprocess
import time

import pytest

from test_vesselctl_image import VESSELCTL, ctl, make_image_dir, store  # noqa: F401

VESSEL = os.environ.get("VESSEL", os.path.join(os.path.dirname(VESSELCTL), "vessel"))


@pytest.fixture
def inst(store, tmp_path):
    ctl(store, "image", "import", str(make_image_dir(tmp_path)), "--alias", "busybox")
    ctl(store, "init", "busybox", "r1")
    return store


def oci(store, name="r1"):
    return json.loads(ctl(store, "config", "show", name, "--oci").stdout)


def run(store, tmp_path, script, name="r1", during=None):
    """The generated config, with a non-terminal shell script instead of
    init, under the real runtime; during() is called while it runs (the
    script waits for /tmp/go in the instance)."""
    cfg = oci(store, name)
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["/bin/sh", "-c", script]
    # The mknod supervisor's listener is the monitor, which these tests
    # do not run (test_vesselctl_mknod.py does).
    cfg["linux"].pop("seccomp", None)
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    (bundle / "config.json").write_text(json.dumps(cfg))
    root = tmp_path / "runtime-root"
    root.mkdir()
    p = subprocess.Popen([VESSEL, "--root", str(root), "run", "--bundle", str(bundle), name],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    go = os.path.join(cfg["root"]["path"], "tmp", "go")
    if during:
        during()
    with open(go, "w"):
        pass
    out, errs = p.communicate(timeout=60)
    os.unlink(go)
    assert not os.listdir(root)
    return subprocess.CompletedProcess(p.args, p.returncode, out, errs)


def host_memory_limit(cgpath):
    """The memory limit of the cgroup cgpath (the config's cgroupsPath) as
    the host sees it (hybrid: the v1 memory controller; pure v2:
    memory.max)."""
    for f in (f"/sys/fs/cgroup/memory{cgpath}/memory.limit_in_bytes",
              f"/sys/fs/cgroup{cgpath}/memory.max"):
        if os.path.exists(f):
            with open(f) as fh:
                return int(fh.read())
    return None


def wait_memory_limit(cgpath):
    for _ in range(100):
        v = host_memory_limit(cgpath)
        if v is not None:
            return v
        time.sleep(0.05)
    return None


def test_generated_defaults(inst):
    cfg = oci(inst)
    assert cfg["root"]["path"] == os.path.join(inst, "instances", "r1", "rootfs")
    assert cfg["process"]["args"] == ["/sbin/init"]
    assert "container=vessel" in cfg["process"]["env"]
    # /vessel/<12 hex digits of the store's key>/<name>
    parts = cfg["linux"]["cgroupsPath"].split("/")
    assert parts[:2] == ["", "vessel"] and len(parts[2]) == 12 and parts[3:] == ["r1"]
    assert oci(inst)["linux"]["cgroupsPath"] == cfg["linux"]["cgroupsPath"]
    # Unprivileged by default: a user namespace of its own, owned by the
    # host ids its root maps to, on an idmapped rootfs.
    assert {n["type"] for n in cfg["linux"]["namespaces"]} == {
        "pid", "network", "ipc", "uts", "mount", "cgroup", "user"}
    assert cfg["annotations"]["io.github.vessel.rootfs.idmap"] == "true"
    assert cfg["annotations"]["io.github.vessel.userns.owner"] == "mapped-root"
    root = [m for m in cfg["linux"]["uidMappings"] if m["containerID"] == 0][0]
    assert root["hostID"] > 0 and root["size"] == 65536
    ctl(inst, "config", "set", "r1", "security.privileged=true")
    cfg = oci(inst)
    assert {n["type"] for n in cfg["linux"]["namespaces"]} == {
        "pid", "network", "ipc", "uts", "mount", "cgroup"}
    assert "uidMappings" not in cfg["linux"]
    assert "io.github.vessel.rootfs.idmap" not in cfg["annotations"]


def test_runs_under_the_runtime(inst, tmp_path):
    src = tmp_path / "shared"
    src.mkdir()
    (src / "hello").write_text("hi\n")
    ctl(inst, "config", "set", "r1", "limits.memory=64MiB", "limits.processes=50",
        "environment.FOO=bar")
    ctl(inst, "config", "device", "add", "r1", "data", "disk", f"source={src}", "path=/mnt",
        "readonly=true")
    seen = {}
    cg = oci(inst)["linux"]["cgroupsPath"]
    r = run(inst, tmp_path, "while ! test -e /tmp/go; do sleep 0.05; done; "
            "hostname; cat /mnt/hello; touch /mnt/x 2>/dev/null || echo ro; "
            "echo $FOO $container; tr '\\0' ' ' </proc/1/cmdline | cut -c1-9; exit 7",
            during=lambda: seen.update(mem=wait_memory_limit(cg)))
    assert r.returncode == 7, r.stderr
    assert r.stdout.split("\n")[:5] == ["r1", "hi", "ro", "bar vessel", "/bin/sh -"]
    assert seen["mem"] == 64 << 20
    assert host_memory_limit(cg) is None


def test_raw_oci_and_bad_device(inst, tmp_path):
    ctl(inst, "config", "set", "r1", 'raw.oci={"hostname": "other"}')
    assert oci(inst)["hostname"] == "other"
    ctl(inst, "config", "device", "add", "r1", "n", "unix-char", "source=/dev/null",
        "path=/dev/null2")
    r = run(inst, tmp_path, "while ! test -e /tmp/go; do sleep 0.05; done; "
            "hostname; test -c /dev/null2 && echo char")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["other", "char"]
