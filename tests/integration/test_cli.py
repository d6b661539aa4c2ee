"""The command line: global options, help, version, spec, features, logging."""
import copy
import itertools
import json
import os
import re
import subprocess
import uuid

import pytest

from conftest import VESSEL

_seq = itertools.count()

RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def vessel(*args, timeout=60, **kw):
    cp = subprocess.run([VESSEL] + [str(a) for a in args], capture_output=True, text=True,
                        stdin=subprocess.DEVNULL, timeout=timeout, **kw)
    return cp


def vessel_files(env, *args, timeout=60):
    """Run vessel with its stdio in files (create: the container keeps them open)."""
    n = next(_seq)
    out, err = os.path.join(env.tmp, f"stdout.{n}"), os.path.join(env.tmp, f"stderr.{n}")
    with open(out, "w") as o, open(err, "w") as e:
        cp = subprocess.run([VESSEL] + [str(a) for a in args], stdin=subprocess.DEVNULL,
                            stdout=o, stderr=e, timeout=timeout)
    with open(out) as o, open(err) as e:
        return subprocess.CompletedProcess(cp.args, cp.returncode, o.read(), e.read())


def commands():
    """The command names listed by `vessel --help`."""
    cp = vessel("--help")
    names, in_cmds = [], False
    for line in cp.stdout.splitlines():
        if line.startswith("Commands:"):
            in_cmds = True
            continue
        if in_cmds:
            if not line.strip():
                break
            names.append(line.split()[0])
    return names


# ------------------------------------------------------------ version, help

def test_version():
    cp = vessel("--version")
    assert cp.returncode == 0, cp
    assert re.search(r"^vessel version \S+$", cp.stdout, re.M), cp.stdout
    m = re.search(r"^spec: (\d+\.\d+\.\d+)$", cp.stdout, re.M)
    assert m, f"no spec version in {cp.stdout!r}"
    features = json.loads(vessel("features").stdout)
    assert m.group(1) == features["ociVersionMax"], (cp.stdout, features["ociVersionMax"])
    assert vessel("-v").stdout == cp.stdout


def test_help():
    cp = vessel("--help")
    assert cp.returncode == 0, cp
    assert "Usage" in cp.stdout
    for name in ("create", "start", "run", "state", "kill", "delete", "list", "spec", "features"):
        assert name in commands(), f"{name} missing from --help: {cp.stdout}"
    assert "--root" in cp.stdout and "--log" in cp.stdout
    assert vessel("-h").stdout == cp.stdout


def test_no_command_is_an_error():
    cp = vessel()
    assert cp.returncode != 0
    assert "Usage" in cp.stderr, cp


@pytest.mark.parametrize("name", commands())
def test_command_help(name):
    cp = vessel(name, "--help")
    assert cp.returncode == 0, f"vessel {name} --help: {cp}"
    assert name in cp.stdout, f"vessel {name} --help does not name the command: {cp.stdout!r}"
    assert "Usage" in cp.stdout, cp


def test_unknown_command():
    cp = vessel("frobnicate")
    assert cp.returncode != 0, cp
    assert "frobnicate" in cp.stderr and "unknown command" in cp.stderr, cp


def test_unknown_global_option():
    cp = vessel("--frobnicate", "list")
    assert cp.returncode != 0, cp
    assert "frobnicate" in cp.stderr or "unrecognized" in cp.stderr, cp


def test_unknown_command_option(env):
    cp = env.vessel("state", "--frobnicate", "c1")
    assert cp.returncode != 0, cp
    assert "option" in cp.stderr and "state" in cp.stderr, cp


def test_missing_id(env):
    for cmd in ("create", "start", "state", "kill", "delete", "run"):
        cp = env.vessel(cmd)
        assert cp.returncode != 0, f"{cmd}: {cp}"
        assert "id" in cp.stderr and cmd in cp.stderr, f"{cmd}: {cp}"


# -------------------------------------------------------------------- spec

def test_spec_writes_a_usable_config(env):
    cp = env.vessel("spec", "--bundle", env.bundle)
    assert cp.returncode == 0, cp
    path = os.path.join(env.bundle, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    assert cfg["ociVersion"], cfg
    assert cfg["root"]["path"] == "rootfs", cfg
    assert cfg["process"]["args"], cfg
    ns = {n["type"] for n in cfg["linux"]["namespaces"]}
    assert {"pid", "mount", "network", "ipc", "uts"} <= ns, ns
    cfg["process"]["terminal"] = False
    cfg["process"]["args"] = ["/bin/sh", "-c", "echo spec-ok; hostname"]
    env.write_config(cfg)
    cp = env.vessel("run", "--bundle", env.bundle, "c1")
    assert cp.returncode == 0, cp
    assert cp.stdout.splitlines()[0] == "spec-ok", cp
    assert env.ids() == []


def test_spec_in_cwd(env):
    d = os.path.join(env.tmp, "cwdbundle")
    os.makedirs(d)
    cp = env.vessel("spec", cwd=d)
    assert cp.returncode == 0, cp
    with open(os.path.join(d, "config.json")) as f:
        json.load(f)


def test_spec_refuses_to_overwrite(env):
    path = os.path.join(env.bundle, "config.json")
    with open(path, "w") as f:
        f.write("{}")
    cp = env.vessel("spec", "--bundle", env.bundle)
    assert cp.returncode != 0, cp
    assert "config.json" in cp.stderr and "exists" in cp.stderr, cp
    with open(path) as f:
        assert f.read() == "{}", "spec overwrote an existing config.json"


def test_spec_rootless(env):
    cp = env.vessel("spec", "--rootless", "--bundle", env.bundle)
    assert cp.returncode == 0, cp
    with open(os.path.join(env.bundle, "config.json")) as f:
        cfg = json.load(f)
    ns = [n["type"] for n in cfg["linux"]["namespaces"]]
    assert "user" in ns, ns
    for key in ("uidMappings", "gidMappings"):
        maps = cfg["linux"].get(key)
        assert maps, f"{key} missing: {cfg['linux']}"
        for m in maps:
            assert {"containerID", "hostID", "size"} <= set(m), m
            assert m["size"] >= 1
    assert cfg["linux"]["uidMappings"][0]["hostID"] == os.geteuid()
    assert cfg["linux"]["gidMappings"][0]["hostID"] == os.getegid()


def test_spec_bad_bundle(env):
    cp = env.vessel("spec", "--bundle", os.path.join(env.tmp, "nope"))
    assert cp.returncode != 0, cp
    assert "nope" in cp.stderr, cp


# ---------------------------------------------------------------- features

def test_features():
    cp = vessel("features")
    assert cp.returncode == 0, cp
    f = json.loads(cp.stdout)
    assert re.fullmatch(r"1\.\d+\.\d+", f["ociVersionMin"]), f["ociVersionMin"]
    assert re.fullmatch(r"1\.\d+\.\d+", f["ociVersionMax"]), f["ociVersionMax"]
    assert set(f["hooks"]) >= {"prestart", "createRuntime", "createContainer", "startContainer",
                               "poststart", "poststop"}, f["hooks"]
    assert {"bind", "rbind", "ro", "nosuid", "nodev", "noexec"} <= set(f["mountOptions"])
    assert sorted(f["linux"]["namespaces"]) == sorted(
        ["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"]), f["linux"]["namespaces"]
    caps = f["linux"]["capabilities"]
    assert "CAP_SYS_ADMIN" in caps and "CAP_CHOWN" in caps and "CAP_KILL" in caps, caps
    assert all(c.startswith("CAP_") for c in caps), caps


def test_features_rejects_arguments():
    cp = vessel("features", "extra")
    assert cp.returncode != 0, cp


# -------------------------------------------------------------------- log

def test_log_json(env):
    log = os.path.join(env.tmp, "vessel.log")
    cp = env.vessel("--log", log, "--log-format", "json", "state", "nonexistent")
    assert cp.returncode != 0, cp
    assert "nonexistent" in cp.stderr, cp
    with open(log) as f:
        lines = [l for l in f.read().splitlines() if l]
    assert lines, "nothing logged"
    entries = [json.loads(l) for l in lines]
    errors = [e for e in entries if e.get("level") == "error"]
    assert len(errors) == 1, entries
    e = errors[0]
    assert "nonexistent" in e["msg"] and "does not exist" in e["msg"], e
    assert RFC3339.match(e["time"]), f"time is not RFC 3339: {e['time']!r}"


LOGFMT_PAIR = re.compile(r'\s*([a-zA-Z_]+)=("(?:[^"\\]|\\.)*"|[^\s"]*)')


def parse_logfmt(line):
    """key=value pairs as logrus writes them; values with spaces or quotes are
    double-quoted with backslash escapes.  Fails on anything else."""
    pos, out = 0, {}
    while pos < len(line):
        m = LOGFMT_PAIR.match(line, pos)
        assert m and m.end() > pos, f"not logfmt at {line[pos:]!r} in {line!r}"
        k, v = m.group(1), m.group(2)
        if v.startswith('"'):
            v = json.loads(v)
        out[k] = v
        pos = m.end()
    return out


def test_log_text(env):
    log = os.path.join(env.tmp, "vessel.log")
    cp = env.vessel("--log", log, "--log-format", "text", "state", "nonexistent")
    assert cp.returncode != 0, cp
    with open(log) as f:
        lines = [l for l in f.read().splitlines() if l]
    assert len(lines) == 1, lines
    line = lines[0]
    assert not line.startswith("{"), f"text log looks like JSON: {line!r}"
    kv = parse_logfmt(line)
    assert kv.get("level") == "error", kv
    assert "nonexistent" in kv.get("msg", "") and "does not exist" in kv["msg"], kv
    assert RFC3339.match(kv.get("time", "")), kv


def test_log_default_format_is_text(env):
    log = os.path.join(env.tmp, "vessel.log")
    cp = env.vessel("--log", log, "state", "nonexistent")
    assert cp.returncode != 0, cp
    with open(log) as f:
        line = f.read().strip()
    assert "level=error" in line and "nonexistent" in line, line


def test_log_format_unknown(env):
    cp = env.vessel("--log-format", "yaml", "list")
    assert cp.returncode != 0, cp
    assert "yaml" in cp.stderr and "log-format" in cp.stderr, cp


def test_log_appends(env):
    log = os.path.join(env.tmp, "vessel.log")
    for _ in range(2):
        env.vessel("--log", log, "--log-format", "json", "state", "nonexistent")
    with open(log) as f:
        assert len([l for l in f if l.strip()]) == 2


# ------------------------------------------------------------------- root

def test_root_is_honoured(env):
    root = os.path.join(env.tmp, "custom", "nested")
    cfg = copy.deepcopy(env.config)
    cfg["process"]["args"] = ["/bin/sh", "-c", "while :; do sleep 0.05; done"]
    env.write_config(cfg)
    try:
        cp = vessel_files(env, "--root", root, "create", "--bundle", env.bundle, "c1")
        assert cp.returncode == 0, cp
        assert os.path.isdir(os.path.join(root, "c1")), f"no state dir under {root}"
        assert os.path.exists(os.path.join(root, "c1", "state.json"))
        cp = vessel("--root", root, "list", "-q")
        assert cp.stdout.split() == ["c1"], cp
        assert env.ids() == [], "the container shows up under the fixture's root too"
        assert not os.path.exists(os.path.join(env.root, "c1"))
        cp = vessel("--root", root, "state", "c1")
        assert cp.returncode == 0 and json.loads(cp.stdout)["status"] == "created", cp
    finally:
        vessel("--root", root, "delete", "--force", "c1")
    assert not os.path.exists(os.path.join(root, "c1"))


def test_default_root(env):
    cid = "vessel-test-" + uuid.uuid4().hex[:12]
    cfg = copy.deepcopy(env.config)
    cfg["process"]["args"] = ["/bin/sh", "-c", "while :; do sleep 0.05; done"]
    env.write_config(cfg)
    try:
        cp = vessel_files(env, "create", "--bundle", env.bundle, cid)
        assert cp.returncode == 0, cp
        assert os.path.isdir(os.path.join("/run/vessel", cid)), "state not under /run/vessel"
        cp = vessel("state", cid)
        assert cp.returncode == 0 and json.loads(cp.stdout)["id"] == cid, cp
        assert cid in vessel("list", "-q").stdout.split()
        assert not os.path.exists(os.path.join(env.root, cid))
    finally:
        vessel("delete", "--force", cid)
    assert not os.path.exists(os.path.join("/run/vessel", cid))


# ---------------------------------------------------------------- cgroups

def test_systemd_cgroup(env):
    """There is no systemd cgroup manager (features: cgroup.systemd false):
    refused, whether systemd runs or not, never quietly cgroupfs."""
    env.write_config()
    cp = env.vessel("--systemd-cgroup", "run", "--bundle", env.bundle, "c1")
    assert cp.returncode != 0, cp
    assert "systemd" in cp.stderr and "cgroupfs" in cp.stderr, cp
    assert len(cp.stderr.strip().splitlines()) == 1, cp
    assert env.ids() == []


def test_cgroup_manager_option(env):
    cp = env.vessel("--cgroup-manager", "bogus", "list")
    assert cp.returncode != 0 and "bogus" in cp.stderr, cp
    env.write_config()
    for manager in ("cgroupfs", "disabled"):
        cp = env.vessel("--cgroup-manager", manager, "run", "--bundle", env.bundle, "c1")
        assert cp.returncode == 0, f"{manager}: {cp}"


# ---------------------------------------------------------- oci versions

@pytest.mark.parametrize("version", ["1.0.0", "1.0.2", "1.1.0", "1.2.0", "1.3.0"])
def test_oci_versions_run(env, version):
    cfg = copy.deepcopy(env.config)
    cfg["ociVersion"] = version
    r = env.run(["/bin/sh", "-c", "echo ok"], config=cfg)
    assert r.returncode == 0, f"ociVersion {version}: {r}"
    assert r.stdout == "ok\n", r
