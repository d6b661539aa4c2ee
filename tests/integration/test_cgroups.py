"""The cgroup manager, proven by effects where the kernel shows one: an OOM
kill reported by `events`, a refused fork, a denied device, a pinned CPU, a
frozen busy loop.  Runs on this host's hybrid layout and, through
`make check-cgroupv2`, on pure cgroup v2 in a VM (tests/integration/cgroupv2/).

Every container id and cgroup path here contains MARK; after each test no
cgroup directory with MARK in its name is left on any hierarchy.
"""
import copy
import json
import os
import re
import subprocess
import time
import uuid

import pytest

from conftest import VESSEL, install_vtool, read, wait_for

# Cgroups are machine-wide and pids are not unique across PID namespaces (a
# run under `make check-fresh` has pytest at a small pid): the random part
# keeps two runs, and a pid that is a prefix of another, from matching.
MARK = f"cgt{os.getpid()}x{uuid.uuid4().hex[:8]}"
CG = "/sys/fs/cgroup"
MiB = 1024 * 1024


# ------------------------------------------------------------ the host

def cgroup_mounts():
    """[(mount point, fstype, {controllers})] under /sys/fs/cgroup."""
    res = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            mnt = pre.split()[4]
            fstype, _src, opts = post.split()[:3]
            if fstype not in ("cgroup", "cgroup2") or not (mnt == CG or mnt.startswith(CG + "/")):
                continue
            if fstype == "cgroup2":
                try:
                    with open(os.path.join(mnt, "cgroup.controllers")) as c:
                        ctrls = set(c.read().split())
                except OSError:
                    ctrls = set()
            else:
                ctrls = set(opts.split(",")) - {"rw", "ro"}
            res[mnt] = (mnt, fstype, ctrls)
    if CG in res and res[CG][1] == "cgroup2":
        return [res[CG]]
    return list(res.values())


MOUNTS = cgroup_mounts()
V2 = len(MOUNTS) == 1 and MOUNTS[0][1] == "cgroup2"
LAYOUT = "v2" if V2 else ("hybrid" if any(m[1] == "cgroup2" for m in MOUNTS) else "v1")
V2_NAMES = {"blkio": "io"}


def hierarchy(ctrl):
    """(mount point, is_v2) of the hierarchy that has a (v1-named) controller."""
    for mnt, fstype, ctrls in MOUNTS:
        if fstype == "cgroup" and ctrl in ctrls:
            return mnt, False
    for mnt, fstype, ctrls in MOUNTS:
        if fstype == "cgroup2" and (V2_NAMES.get(ctrl, ctrl) in ctrls or
                                    ctrl in ("cpuacct", "devices", "freezer")):
            return mnt, True
    return None, None


def cg_path(path, ctrl, v1file, v2file):
    mnt, v2 = hierarchy(ctrl)
    assert mnt, f"no {ctrl} controller on this {LAYOUT} host"
    return os.path.join(mnt, path, v2file if v2 else v1file)


def cg_read(path, ctrl, v1file, v2file):
    with open(cg_path(path, ctrl, v1file, v2file)) as f:
        return f.read().strip()


def marked_cgroups():
    """Every cgroup directory with MARK in its path, on every hierarchy."""
    found = []
    for mnt, _, _ in MOUNTS:
        for d, subdirs, _ in os.walk(mnt):
            for s in subdirs:
                if MARK in s:
                    found.append(os.path.join(d, s))
    return found


def default_path(cid):
    return f"vessel/{cid}"


def container_dirs(path):
    return [os.path.join(mnt, path) for mnt, _, _ in MOUNTS]


# ------------------------------------------------------------ helpers

_seq = iter(range(1, 1 << 30))


def new_id():
    return f"{MARK}-{next(_seq)}"


class Out:
    def __init__(self, rc, out, err):
        self.returncode, self.stdout, self.stderr = rc, out, err

    def __repr__(self):
        return f"<rc={self.returncode} out={self.stdout!r} err={self.stderr!r}>"


def vf(env, *args, timeout=60, input_file=None):
    """vessel with stdio in files (a created container keeps them open)."""
    n = next(_seq)
    out, err = os.path.join(env.tmp, f"o.{n}"), os.path.join(env.tmp, f"e.{n}")
    stdin = open(input_file) if input_file else subprocess.DEVNULL
    try:
        with open(out, "w") as o, open(err, "w") as e:
            cp = subprocess.run([VESSEL, "--root", env.root] + [str(a) for a in args],
                                stdin=stdin, stdout=o, stderr=e, timeout=timeout)
    finally:
        if input_file:
            stdin.close()
    with open(out) as o, open(err) as e:
        return Out(cp.returncode, o.read(), e.read())


def config(env, script, resources=None, cgroups_path=None, namespaces=None, mounts=(),
           marker=None):
    cfg = copy.deepcopy(env.config)
    cfg["process"]["args"] = ["/bin/sh", "-c", script]
    if resources is not None:
        cfg["linux"]["resources"] = resources
    # The default path (vessel/<id>) unless one is given: ids here are unique.
    cfg["linux"].pop("cgroupsPath", None)
    if cgroups_path is not None:
        cfg["linux"]["cgroupsPath"] = cgroups_path
    if namespaces is not None:
        cfg["linux"]["namespaces"] = [{"type": t} for t in namespaces]
    cfg["mounts"] += list(mounts)
    if marker:
        cfg["mounts"].append({"destination": "/m", "type": "bind", "source": marker,
                              "options": ["rbind", "rw"]})
    return cfg


def marker_dir(env):
    d = os.path.join(env.tmp, "m")
    os.makedirs(d, exist_ok=True)
    return d



def start(env, cfg, cid=None):
    """create + start; returns the id."""
    cid = cid or new_id()
    env.write_config(cfg)
    r = vf(env, "create", "--bundle", env.bundle, cid)
    assert r.returncode == 0, f"create failed: {r}"
    r = vf(env, "start", cid)
    assert r.returncode == 0, f"start failed: {r}"
    return cid


def run(env, cfg, cid=None, timeout=120):
    cid = cid or new_id()
    env.write_config(cfg)
    return cid, vf(env, "run", "--bundle", env.bundle, cid, timeout=timeout)


def status(env, cid):
    return json.loads(vf(env, "state", cid).stdout)["status"]


def stats(env, cid):
    r = vf(env, "events", "--stats", cid)
    assert r.returncode == 0, r
    ev = json.loads(r.stdout)
    assert ev["type"] == "stats" and ev["id"] == cid, ev
    return ev["data"]


def delete(env, cid):
    r = vf(env, "delete", "--force", cid)
    assert r.returncode == 0, f"delete failed: {r}"


def one_error_line(r, *words):
    assert r.returncode != 0, f"expected a failure: {r}"
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one line of error: {r.stderr!r}"
    for w in words:
        assert w in lines[0], f"the error should mention {w!r}: {lines[0]!r}"
    return lines[0]


LOOP = "while :; do sleep 0.1; done"
BUSY = "while :; do :; done"


@pytest.fixture
def cg(env):
    """env, checking afterwards that every container is gone and no cgroup
    made by the test is left on any hierarchy."""
    yield env
    left = env.cleanup()
    cgroups = marked_cgroups()
    for d in sorted(cgroups, key=len, reverse=True):
        try:
            os.rmdir(d)
        except OSError:
            pass
    assert not left, f"containers left behind: {left}"
    assert not cgroups, f"cgroups left behind: {cgroups}"


# ------------------------------------------------------------ placement

def test_default_path_every_hierarchy(cg):
    cid = start(cg, config(cg, LOOP))
    try:
        for d in container_dirs(default_path(cid)):
            assert os.path.isdir(d), f"{d} missing on this {LAYOUT} host"
        pid = json.loads(vf(cg, "state", cid).stdout)["pid"]
        lines = read(f"/proc/{pid}/cgroup").splitlines()
        assert lines and all(l.split(":", 2)[2] == f"/vessel/{cid}" for l in lines), lines
    finally:
        delete(cg, cid)
    for d in container_dirs(default_path(cid)):
        assert not os.path.exists(d), f"{d} left after delete"


def test_default_parent_removed_by_the_last_delete(cg):
    """vessel/ holds every default-path container: the delete that leaves
    it empty removes it, whichever container made it (the first deleted
    here made it, the second found it)."""
    a = start(cg, config(cg, LOOP))
    b = start(cg, config(cg, LOOP))
    delete(cg, a)
    for d in container_dirs(default_path(b)):
        assert os.path.isdir(d), f"{d} removed with the other container"
    delete(cg, b)
    for parent in container_dirs("vessel"):
        # Someone else's container may be in it: then it is not empty.
        if os.path.isdir(parent):
            assert [e for e in os.scandir(parent) if e.is_dir()], f"{parent} left behind empty"


def test_default_parent_create_delete_race(cg):
    """Containers starting while others leave: a delete may remove vessel/
    between a create's mkdir of vessel/ and of vessel/<id>; the create
    makes the path again instead of failing."""
    import concurrent.futures
    cfg = config(cg, "true")
    cg.write_config(cfg)

    def worker(w):
        fails = []
        for i in range(25):
            cid = f"{MARK}-race{w}-{i}"
            r = subprocess.run([VESSEL, "--root", cg.root, "run", "--bundle", cg.bundle, cid],
                               stdin=subprocess.DEVNULL, capture_output=True, text=True,
                               timeout=60)
            if r.returncode != 0:
                fails.append(r.stderr)
        return fails

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        fails = [f for fs in ex.map(worker, range(4)) for f in fs]
    assert not fails, fails[:3]


def test_absolute_path_and_created_parents_removed(cg):
    parent = f"{MARK}-p{next(_seq)}"
    path = f"/{parent}/mid/box"
    cid = start(cg, config(cg, LOOP, cgroups_path=path))
    try:
        for d in container_dirs(path.lstrip("/")):
            assert os.path.isdir(d), d
    finally:
        delete(cg, cid)
    for d in container_dirs(parent):
        assert not os.path.exists(d), f"{d}: a parent vessel made is left"


def test_relative_path_below_the_root(cg):
    path = f"{MARK}-rel{next(_seq)}/box"
    cid = start(cg, config(cg, LOOP, cgroups_path=path))
    try:
        for d in container_dirs(path):
            assert os.path.isdir(d), d
    finally:
        delete(cg, cid)


def test_existing_parent_is_left(cg):
    parent = f"{MARK}-keep{next(_seq)}"
    made = []
    for d in container_dirs(parent):
        os.mkdir(d)
        made.append(d)
    try:
        cid = start(cg, config(cg, LOOP, cgroups_path=f"/{parent}/box"))
        delete(cg, cid)
        for d in made:
            assert os.path.isdir(d), f"{d}: removed, but vessel did not make it"
            assert not os.path.exists(os.path.join(d, "box"))
    finally:
        for d in made:
            os.rmdir(d)


def test_manager_disabled_makes_no_cgroup(cg):
    cid = new_id()
    cg.write_config(config(cg, LOOP))
    r = vf(cg, "--cgroup-manager", "disabled", "create", "--bundle", cg.bundle, cid)
    assert r.returncode == 0, r
    try:
        assert not marked_cgroups(), marked_cgroups()
        one_error_line(vf(cg, "pause", cid), "no cgroup")
    finally:
        delete(cg, cid)


# ------------------------------------------------------------ limits by effect

def test_memory_oom_kill_reported_by_events(cg):
    m = marker_dir(cg)
    script = ("while [ ! -e /m/go ]; do sleep 0.05; done; "
              # the allocator volunteers as the OOM killer's victim, so the
              # shell that records its status is never the one killed
              "sh -c 'echo 1000 > /proc/self/oom_score_adj; "
              "x=$(head -c 80000000 /dev/zero | tr \"\\0\" a); echo ${#x}'; "
              "echo $? > /m/status; " + LOOP)
    limit = 32 * MiB
    cfg = config(cg, script, resources={"memory": {"limit": limit, "swap": limit}}, marker=m)
    cid = start(cg, cfg)
    ev_out = os.path.join(cg.tmp, "events.out")
    with open(ev_out, "w") as o:
        ev = subprocess.Popen([VESSEL, "--root", cg.root, "events", "--interval", "60s", cid],
                              stdout=o, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        open(os.path.join(m, "go"), "w").close()
        # Generous: the cgroup v2 VM emulates its CPU and runs several times slower.
        assert wait_for(lambda: read(os.path.join(m, "status")).strip(), timeout=240), "no status"
        assert read(os.path.join(m, "status")).strip() == "137", "the allocation was not OOM-killed"
        assert wait_for(lambda: '"oom"' in read(ev_out), timeout=20), \
            f"events did not report the OOM: {read(ev_out)!r}"
        oom = [json.loads(l) for l in read(ev_out).splitlines() if '"oom"' in l][0]
        assert oom == {"type": "oom", "id": cid}, oom
        mem = stats(cg, cid)["memory"]
        assert mem["usage"]["limit"] == limit, mem["usage"]
        if V2:  # memory.events "max" (v1's failcnt is not kept by every kernel)
            assert mem["usage"]["failcnt"] > 0, mem["usage"]
    finally:
        ev.kill()
        ev.wait()
        delete(cg, cid)


def test_events_stream_ends_with_the_container(cg):
    m = marker_dir(cg)
    cid = start(cg, config(cg, "while [ ! -e /m/stop ]; do sleep 0.05; done", marker=m))
    try:
        with open(os.path.join(cg.tmp, "ev"), "w") as o:
            p = subprocess.Popen([VESSEL, "--root", cg.root, "events", "--interval", "100ms", cid],
                                 stdout=o, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        assert wait_for(lambda: read(os.path.join(cg.tmp, "ev")).count("\n") >= 2, timeout=20)
        open(os.path.join(m, "stop"), "w").close()
        assert p.wait(timeout=20) == 0
        lines = read(os.path.join(cg.tmp, "ev")).splitlines()
        assert all(json.loads(l)["type"] == "stats" for l in lines), lines
    finally:
        delete(cg, cid)


def test_pids_limit_makes_fork_fail(cg):
    script = "sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & done; wait'; echo done"
    cid, r = run(cg, config(cg, script, resources={"pids": {"limit": 5}}))
    assert "fork" in r.stderr.lower(), f"no fork was refused: {r}"
    assert r.stdout.strip() == "done", r


def test_devices_rule_denies_writing_dev_null(cg):
    script = "cat /dev/null && echo READ-OK; echo x > /dev/null && echo WRITE-OK; true"
    rules = [{"allow": False, "type": "c", "major": 1, "minor": 3, "access": "w"}]
    _, r = run(cg, config(cg, script, resources={"devices": rules}))
    assert "READ-OK" in r.stdout and "WRITE-OK" not in r.stdout, r
    assert "Operation not permitted" in r.stderr, r
    _, r = run(cg, config(cg, script))
    assert "READ-OK" in r.stdout and "WRITE-OK" in r.stdout, f"default rules: {r}"


@pytest.mark.parametrize("rule", [
    {"allow": False, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    # a wildcard: the v1 controller drops only an exception of the same
    # device, so vessel denies each default it covers as well
    {"allow": False, "type": "c", "access": "rwm"},
    {"allow": False, "type": "a", "major": 1, "access": "rw"},
], ids=["exact", "all-char", "major-1"])
def test_devices_config_deny_wins_over_the_defaults(cg, rule):
    """The config's rules come after OCI's default allows: a deny of
    /dev/null there makes opening it fail with EPERM."""
    script = ("cat /dev/null && echo READ-OK; echo x > /dev/null && echo WRITE-OK; "
              "head -c1 /dev/zero >/tmp/z && echo ZERO-OK; true")
    _, r = run(cg, config(cg, script, resources={"devices": [rule]}))
    assert "READ-OK" not in r.stdout and "WRITE-OK" not in r.stdout, r
    assert "can't open '/dev/null': Operation not permitted" in r.stderr, r
    wide = "minor" not in rule
    assert ("ZERO-OK" in r.stdout) != wide, f"{rule}: /dev/zero: {r}"


def test_devices_default_deny_and_allow_rule(cg):
    """A device node outside the OCI default set cannot be opened, unless a
    rule allows it."""
    cfg = config(cg, "cat /dev/fuse 2>&1; true")  # reading it fails anyway: no fuse mount
    cfg["linux"]["devices"] = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229,
                                "fileMode": 0o666}]
    _, r = run(cg, cfg)
    assert "can't open '/dev/fuse': Operation not permitted" in r.stdout, r
    cfg["linux"]["resources"] = {"devices": [{"allow": False, "access": "rwm"},
                                             {"allow": True, "type": "c", "major": 10,
                                              "minor": 229, "access": "rwm"}]}
    _, r = run(cg, cfg)
    assert "can't open" not in r.stdout, r


def test_cpus_pin_the_process(cg):
    _, r = run(cg, config(cg, "grep Cpus_allowed_list /proc/self/status",
                          resources={"cpu": {"cpus": "0", "mems": "0"}}))
    assert r.returncode == 0, r
    assert r.stdout.split()[-1] == "0", r


def test_pause_freezes_a_busy_loop(cg):
    cid = start(cg, config(cg, BUSY))
    try:
        pid = json.loads(vf(cg, "state", cid).stdout)["pid"]

        def cpu_ticks():
            f = read(f"/proc/{pid}/stat").rsplit(")", 1)[1].split()
            return int(f[11]) + int(f[12])

        r = vf(cg, "pause", cid)
        assert r.returncode == 0, r
        assert status(cg, cid) == "paused"
        assert any(l["status"] == "paused" for l in json.loads(vf(cg, "list", "--format", "json").stdout)
                   if l["id"] == cid)
        t0, u0 = cpu_ticks(), stats(cg, cid)["cpu"]["usage"]["total"]
        time.sleep(1.0)
        assert cpu_ticks() == t0, "the paused loop still ran"
        assert stats(cg, cid)["cpu"]["usage"]["total"] == u0
        one_error_line(vf(cg, "pause", cid), "paused already")
        assert vf(cg, "resume", cid).returncode == 0
        assert status(cg, cid) == "running"
        assert wait_for(lambda: cpu_ticks() > t0, timeout=10), "the loop did not run again"
        one_error_line(vf(cg, "resume", cid), "not paused")
    finally:
        delete(cg, cid)


def test_delete_force_of_a_paused_container(cg):
    cid = start(cg, config(cg, BUSY))
    assert vf(cg, "pause", cid).returncode == 0
    delete(cg, cid)
    assert cid not in cg.ids()


# ------------------------------------------------------------ ps, kill, stats

def test_ps_and_kill_all(cg):
    # no pid namespace: kill --all must find the processes through the cgroup
    ns = ["network", "ipc", "uts", "mount"]
    cid = start(cg, config(cg, "sleep 1000 & sleep 1001 & exec sleep 1002", namespaces=ns))
    try:
        assert wait_for(lambda: len(json.loads(vf(cg, "ps", "--format", "json", cid).stdout)) >= 3)
        pids = json.loads(vf(cg, "ps", "--format", "json", cid).stdout)
        procs = read(cg_path(default_path(cid), "pids", "cgroup.procs", "cgroup.procs")).split()
        assert sorted(pids) == sorted(int(p) for p in procs), (pids, procs)
        table = vf(cg, "ps", cid)
        assert table.returncode == 0, table
        lines = table.stdout.splitlines()
        assert "PID" in lines[0].split() and len(lines) == len(pids) + 1, table
        assert "sleep 1001" in table.stdout, table
        custom = vf(cg, "ps", cid, "-o", "pid,comm")
        assert custom.stdout.split()[:2] == ["PID", "COMMAND"] and "sleep" in custom.stdout, custom
        assert vf(cg, "kill", "--all", cid, "KILL").returncode == 0
        assert wait_for(lambda: not any(os.path.exists(f"/proc/{p}/stat") and
                                        read(f"/proc/{p}/stat").rsplit(")", 1)[1].split()[0] != "Z"
                                        for p in pids)), "kill --all left processes"
    finally:
        delete(cg, cid)


def test_stats_fields(cg):
    cid = start(cg, config(cg, LOOP, resources={"memory": {"limit": 64 * MiB},
                                                "pids": {"limit": 40}}))
    try:
        d = stats(cg, cid)
        assert d["cpu"]["usage"]["total"] > 0, d["cpu"]
        mem = d["memory"]
        assert mem["usage"]["limit"] == 64 * MiB and mem["usage"]["usage"] > 0, mem["usage"]
        assert "failcnt" in mem["usage"], mem["usage"]
        assert mem["raw"] and "cache" in mem, mem
        assert mem["usageWithoutCache"] == mem["usage"]["usage"] - min(mem["cache"], mem["usage"]["usage"])
        assert d["pids"]["current"] >= 1 and d["pids"]["limit"] == 40, d["pids"]
        assert "ioServiceBytesRecursive" in d["blkio"], d["blkio"]
        assert isinstance(d["hugetlb"], dict)
        mnt, v2 = hierarchy("hugetlb")
        if mnt:
            # One entry per page size the container's cgroup has files for.
            suffix = ".current" if v2 else ".usage_in_bytes"
            files = os.listdir(os.path.join(mnt, default_path(cid)))
            sizes = {f.split(".")[1] for f in files
                     if f.startswith("hugetlb.") and f.count(".") == 2 and f.endswith(suffix)}
            assert set(d["hugetlb"]) == sizes, (sizes, d["hugetlb"])
            assert all("usage" in e and "failcnt" in e for e in d["hugetlb"].values()), d["hugetlb"]
        assert d["cpuset"]["cpus"], d["cpuset"]
    finally:
        delete(cg, cid)


# ------------------------------------------------------------ update

def test_update_flags(cg):
    cid = start(cg, config(cg, LOOP, resources={"memory": {"limit": 128 * MiB}}))
    p = default_path(cid)
    try:
        r = vf(cg, "update", "--memory", "64M", "--memory-swap", "96M", "--memory-reservation", "32M",
               "--cpu-shares", "512", "--cpu-quota", "20000", "--cpu-period", "100000",
               "--pids-limit", "33", "--cpuset-cpus", "0", cid)
        assert r.returncode == 0, r
        assert cg_read(p, "memory", "memory.limit_in_bytes", "memory.max") == str(64 * MiB)
        swap = cg_read(p, "memory", "memory.memsw.limit_in_bytes", "memory.swap.max")
        assert swap == str(96 * MiB if not V2 else 32 * MiB), swap
        assert cg_read(p, "memory", "memory.soft_limit_in_bytes", "memory.low") == str(32 * MiB)
        assert cg_read(p, "cpu", "cpu.shares", "cpu.weight") == ("20" if V2 else "512")
        if V2:
            assert cg_read(p, "cpu", "", "cpu.max") == "20000 100000"
        else:
            assert cg_read(p, "cpu", "cpu.cfs_quota_us", "") == "20000"
        assert cg_read(p, "pids", "pids.max", "pids.max") == "33"
        assert cg_read(p, "cpuset", "cpuset.cpus", "cpuset.cpus") == "0"
        # only the memory limit: the memory+swap total stays as it was
        assert vf(cg, "update", "--memory", "80M", cid).returncode == 0
        swap = cg_read(p, "memory", "memory.memsw.limit_in_bytes", "memory.swap.max")
        assert swap == str(96 * MiB if not V2 else 16 * MiB), swap
        one_error_line(vf(cg, "update", "--memory", "lots", cid), "--memory")
        one_error_line(vf(cg, "update", cid), "nothing to change")
    finally:
        delete(cg, cid)


def test_update_pids_by_effect(cg):
    m = marker_dir(cg)
    script = ("while [ ! -e /m/go ]; do sleep 0.05; done; "
              "sh -c 'for i in 1 2 3 4 5 6; do sleep 2 & done; wait' 2>/m/err; "
              "echo done > /m/done; " + LOOP)
    cid = start(cg, config(cg, script, marker=m))
    try:
        assert vf(cg, "update", "--pids-limit", "3", cid).returncode == 0
        open(os.path.join(m, "go"), "w").close()
        assert wait_for(lambda: read(os.path.join(m, "done")), timeout=30)
        assert "fork" in read(os.path.join(m, "err")).lower(), read(os.path.join(m, "err"))
    finally:
        delete(cg, cid)


def test_update_resources_file(cg):
    cid = start(cg, config(cg, LOOP))
    p = default_path(cid)
    try:
        f = os.path.join(cg.tmp, "res.json")
        with open(f, "w") as o:
            json.dump({"memory": {"limit": 48 * MiB}, "pids": {"limit": 21}}, o)
        r = vf(cg, "update", "--resources", f, cid)
        assert r.returncode == 0, r
        assert cg_read(p, "memory", "memory.limit_in_bytes", "memory.max") == str(48 * MiB)
        assert cg_read(p, "pids", "pids.max", "pids.max") == "21"
        with open(f, "w") as o:
            json.dump({"pids": {"limit": 9}}, o)
        r = vf(cg, "update", "-r", "-", "--memory", "40M", cid, input_file=f)
        assert r.returncode == 0, r
        assert cg_read(p, "pids", "pids.max", "pids.max") == "9"
        assert cg_read(p, "memory", "memory.limit_in_bytes", "memory.max") == str(40 * MiB)
        with open(f, "w") as o:
            json.dump({"memory": {"limit": -5}}, o)
        one_error_line(vf(cg, "update", "-r", f, cid), "memory.limit")
        assert cg_read(p, "memory", "memory.limit_in_bytes", "memory.max") == str(40 * MiB)
    finally:
        delete(cg, cid)


# ------------------------------------------------------------ resource mapping

def test_cpu_resources_mapped(cg):
    res = {"cpu": {"shares": 1024, "quota": 50000, "period": 100000, "burst": 10000, "idle": 0}}
    cid = start(cg, config(cg, LOOP, resources=res))
    p = default_path(cid)
    try:
        if V2:
            assert cg_read(p, "cpu", "", "cpu.weight") == "39"
            assert cg_read(p, "cpu", "", "cpu.max") == "50000 100000"
            assert cg_read(p, "cpu", "", "cpu.max.burst") == "10000"
        else:
            assert cg_read(p, "cpu", "cpu.shares", "") == "1024"
            assert cg_read(p, "cpu", "cpu.cfs_quota_us", "") == "50000"
            assert cg_read(p, "cpu", "cpu.cfs_period_us", "") == "100000"
            assert cg_read(p, "cpu", "cpu.cfs_burst_us", "") == "10000"
        assert cg_read(p, "cpu", "cpu.idle", "cpu.idle") == "0"
    finally:
        delete(cg, cid)


def test_memory_swap_semantics(cg):
    res = {"memory": {"limit": 64 * MiB, "swap": 96 * MiB, "reservation": 16 * MiB}}
    cid = start(cg, config(cg, LOOP, resources=res))
    p = default_path(cid)
    try:
        if V2:  # swap.max is the swap alone
            assert cg_read(p, "memory", "", "memory.swap.max") == str(32 * MiB)
            assert cg_read(p, "memory", "", "memory.low") == str(16 * MiB)
        else:  # memsw is memory+swap, as OCI's swap
            assert cg_read(p, "memory", "memory.memsw.limit_in_bytes", "") == str(96 * MiB)
            assert cg_read(p, "memory", "memory.soft_limit_in_bytes", "") == str(16 * MiB)
    finally:
        delete(cg, cid)


def test_v1_only_memory_knobs(cg):
    res = {"memory": {"swappiness": 10, "disableOOMKiller": True}}
    if V2:
        cid, r = run(cg, config(cg, "true", resources=res))
        one_error_line(r, "memory.swappiness")
    else:
        cid = start(cg, config(cg, LOOP, resources=res))
        try:
            p = default_path(cid)
            assert cg_read(p, "memory", "memory.swappiness", "") == "10"
            assert "oom_kill_disable 1" in cg_read(p, "memory", "memory.oom_control", "")
        finally:
            delete(cg, cid)


def test_pids_unlimited(cg):
    cid = start(cg, config(cg, LOOP, resources={"pids": {"limit": -1}}))
    try:
        assert cg_read(default_path(cid), "pids", "pids.max", "pids.max") == "max"
    finally:
        delete(cg, cid)


def test_hugetlb_limit(cg):
    if not hierarchy("hugetlb")[0]:
        pytest.skip(f"no hugetlb controller on this {LAYOUT} host")
    res = {"hugepageLimits": [{"pageSize": "2MB", "limit": 4 * MiB}]}
    cid = start(cg, config(cg, LOOP, resources=res))
    try:
        got = cg_read(default_path(cid), "hugetlb", "hugetlb.2MB.limit_in_bytes", "hugetlb.2MB.max")
        assert got == str(4 * MiB)
        h = stats(cg, cid)["hugetlb"]
        assert "2MB" in h and h["2MB"]["usage"] == 0 and "failcnt" in h["2MB"], h
    finally:
        delete(cg, cid)


def first_block_device():
    for name in sorted(os.listdir("/sys/block")):
        dev = read(f"/sys/block/{name}/dev").strip()
        if dev and not name.startswith(("loop", "ram", "zram")):
            return dev
    return None


@pytest.fixture
def block_device(cg):
    """MAJ:MIN of a disk, else of a loop device made for the test."""
    dev = first_block_device()
    if dev:
        yield dev
        return
    img = os.path.join(cg.tmp, "disk.img")
    with open(img, "wb") as f:
        f.truncate(4 * MiB)
    subprocess.run(["modprobe", "loop"], capture_output=True)  # a bare VM has it unloaded
    r = subprocess.run(["losetup", "--find", "--show", img], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"no block device, and no loop device: {r.stderr.strip()}")
    loop = r.stdout.strip()
    try:
        yield read(f"/sys/block/{os.path.basename(loop)}/dev").strip()
    finally:
        subprocess.run(["losetup", "-d", loop])


def test_blkio_throttle(cg, block_device):
    dev = block_device
    major, minor = (int(x) for x in dev.split(":"))
    res = {"blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": MiB}],
                       "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 100}]}}
    cid = start(cg, config(cg, LOOP, resources=res))
    p = default_path(cid)
    try:
        if V2:
            line = [l for l in cg_read(p, "blkio", "", "io.max").splitlines() if l.startswith(dev)]
            assert line and f"rbps={MiB}" in line[0] and "wiops=100" in line[0], line
        else:
            assert f"{dev} {MiB}" in cg_read(p, "blkio", "blkio.throttle.read_bps_device", "")
            assert f"{dev} 100" in cg_read(p, "blkio", "blkio.throttle.write_iops_device", "")
    finally:
        delete(cg, cid)


def test_blkio_weight(cg):
    """io.bfq.weight as it is, else io.weight on 1..10000 (v2); blkio.weight
    or blkio.bfq.weight (v1); or, where the kernel has none of them, an
    error naming the file."""
    cid = start(cg, config(cg, LOOP))
    p = default_path(cid)
    try:
        r = vf(cg, "update", "--blkio-weight", "300", cid)
        if r.returncode == 0:
            mnt, v2 = hierarchy("blkio")
            files = ["io.bfq.weight", "io.weight"] if v2 else ["blkio.weight", "blkio.bfq.weight"]
            got = [read(os.path.join(mnt, p, f)) for f in files]
            assert any(re.search(r"\b(300|2930)\b", g) for g in got), got  # 1 + 290 * 9999 / 990
        else:  # no weight file for this kernel's scheduler: the error names it
            one_error_line(r, "blockIO.weight", "weight")
    finally:
        delete(cg, cid)


def test_unified_entries(cg):
    res = {"unified": {"pids.max": "7"}}
    cid = start(cg, config(cg, LOOP, resources=res))
    try:
        assert cg_read(default_path(cid), "pids", "pids.max", "pids.max") == "7"
    finally:
        delete(cg, cid)
    res = {"unified": {"memory.high": str(100 * MiB)}}
    if V2:
        cid = start(cg, config(cg, LOOP, resources=res))
        try:
            assert cg_read(default_path(cid), "memory", "", "memory.high") == str(100 * MiB)
        finally:
            delete(cg, cid)
    else:
        _, r = run(cg, config(cg, "true", resources=res))
        one_error_line(r, 'unified["memory.high"]', "v1")


def test_unsupported_resources_name_the_file(cg):
    cases = [({"network": {"classID": 42}}, "net_cls")]
    if V2:
        cases.append(({"cpu": {"realtimeRuntime": 1000}}, "cpu.rt_runtime_us"))
        cases.append(({"blockIO": {"leafWeight": 100}}, "blkio.leaf_weight"))
    else:
        cases.append(({"blockIO": {"leafWeight": 100}}, "blkio.leaf_weight"))
    for res, word in cases:
        _, r = run(cg, config(cg, "true", resources=res))
        one_error_line(r, word)
        assert not cg.ids() and not marked_cgroups(), (res, cg.ids(), marked_cgroups())


def rt_v1_or_skip():
    if V2 or not os.path.exists(os.path.join(hierarchy("cpu")[0], "cpu.rt_runtime_us")):
        pytest.skip("real-time group scheduling is v1 only (and needs CONFIG_RT_GROUP_SCHED)")


def test_realtime_below_vessels_parent(cg, vtool):
    """A default-path container (vessel/<id>) gets its real-time budget: the
    kernel refuses a child more than its parent has, so vessel raises its own
    vessel/ to fit (two containers: to fit both), and a SCHED_FIFO process
    can start inside."""
    rt_v1_or_skip()
    install_vtool(vtool, cg.rootfs)
    res = {"cpu": {"realtimeRuntime": 10000, "realtimePeriod": 1000000}}
    cfg = config(cg, LOOP, resources=res)
    cfg["process"]["args"] = ["/bin/vtool", "fifo", "10", "/bin/sh", "-c", LOOP]
    for s in ("bounding", "effective", "permitted"):
        cfg["process"]["capabilities"][s].append("CAP_SYS_NICE")
    ids = []
    try:
        for _ in range(2):
            ids.append(start(cg, cfg))
        mnt = hierarchy("cpu")[0]
        for cid in ids:
            assert cg_read(default_path(cid), "cpu", "cpu.rt_runtime_us", "") == "10000"
            assert cg_read(default_path(cid), "cpu", "cpu.rt_period_us", "") == "1000000"
        parent = int(read(os.path.join(mnt, "vessel", "cpu.rt_runtime_us")))
        period = int(read(os.path.join(mnt, "vessel", "cpu.rt_period_us")))
        # The kernel's fixed-point shares (to_ratio()): both children fit.
        share = lambda runtime, per: (runtime << 20) // per
        assert share(parent, period) >= 2 * share(10000, 1000000), \
            f"vessel/ has {parent} us per {period} us"
        for cid in ids:
            st = json.loads(vf(cg, "state", cid).stdout)
            assert st["status"] == "running", st
            assert os.sched_getscheduler(st["pid"]) == os.SCHED_FIFO, f"{cid} is not SCHED_FIFO"
    finally:
        for cid in ids:
            delete(cg, cid)


def test_realtime_never_raises_a_foreign_parent(cg):
    """A parent that vessel did not make keeps its budget (0): the error
    names it, and nothing is left."""
    rt_v1_or_skip()
    mnt = hierarchy("cpu")[0]
    name = f"{MARK}-foreign{next(_seq)}"
    foreign = os.path.join(mnt, name)
    # On every hierarchy, as an engine's parent would be.
    made = [os.path.join(m, name) for m, _, _ in MOUNTS]
    for d in made:
        os.mkdir(d)
    try:
        res = {"cpu": {"realtimeRuntime": 10000, "realtimePeriod": 1000000}}
        path = "/" + os.path.basename(foreign) + "/box"
        _, r = run(cg, config(cg, "true", resources=res, cgroups_path=path))
        one_error_line(r, "realtimeRuntime", foreign, "not made by vessel")
        assert read(os.path.join(foreign, "cpu.rt_runtime_us")).strip() == "0"
        assert not os.path.exists(os.path.join(foreign, "box"))
    finally:
        for d in made:
            os.rmdir(d)


def test_realtime_zeros_are_accepted(cg):
    """Engines may send zeros for "no real-time budget": accepted on v1 and
    v2 alike (a nonzero budget on v2 is an error, see
    test_unsupported_resources_name_the_file)."""
    res = {"cpu": {"realtimeRuntime": 0, "realtimePeriod": 0}}
    _, r = run(cg, config(cg, "echo ran", resources=res))
    assert r.returncode == 0 and r.stdout == "ran\n", r


def test_realtime_on_v1(cg):
    rt_v1_or_skip()
    path = f"/{MARK}-rt{next(_seq)}/box"
    res = {"cpu": {"realtimeRuntime": 1000, "realtimePeriod": 1000000}}
    cid = start(cg, config(cg, LOOP, resources=res, cgroups_path=path))
    try:
        assert cg_read(path.lstrip("/"), "cpu", "cpu.rt_runtime_us", "") == "1000"
    finally:
        delete(cg, cid)


# ------------------------------------------------------------ the cgroup mount

CGROUP_MOUNT = {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
NS = ["pid", "network", "ipc", "uts", "mount"]
LIMIT_FILE = "memory.max" if V2 else "memory/memory.limit_in_bytes"


def test_cgroupns_mount_shows_own_cgroup(cg):
    script = (f"cat /proc/self/cgroup; echo LIMIT $(cat /sys/fs/cgroup/{LIMIT_FILE}); "
              "echo PROCS $(cat /sys/fs/cgroup/" + ("" if V2 else "pids/") + "cgroup.procs); "
              "mkdir /sys/fs/cgroup/" + ("" if V2 else "memory/") + "x 2>&1; true")
    cfg = config(cg, script, resources={"memory": {"limit": 40 * MiB}}, namespaces=NS + ["cgroup"],
                 mounts=[CGROUP_MOUNT])
    _, r = run(cg, cfg)
    assert r.returncode == 0, r
    paths = [l.split(":", 2)[2] for l in r.stdout.splitlines() if re.match(r"^\d+:", l)]
    assert paths and all(p == "/" for p in paths), r.stdout
    assert f"LIMIT {40 * MiB}" in r.stdout, r.stdout
    assert re.search(r"^PROCS 1( \d+)*$", r.stdout, re.M), r.stdout  # only the container's
    assert "Read-only file system" in r.stdout, r.stdout


def test_mount_without_cgroupns_binds_own_cgroup(cg):
    script = f"echo LIMIT $(cat /sys/fs/cgroup/{LIMIT_FILE}); ls /sys/fs/cgroup/" + \
        ("" if V2 else "memory/") + " | grep -c -x vessel; true"
    cfg = config(cg, script, resources={"memory": {"limit": 36 * MiB}}, mounts=[CGROUP_MOUNT])
    _, r = run(cg, cfg)
    assert f"LIMIT {36 * MiB}" in r.stdout, r
    assert r.stdout.split()[-1] == "0", f"the host's hierarchy is visible: {r}"


def test_cgroupns_rw_mount_allows_sub_cgroups(cg):
    sub = "/sys/fs/cgroup/" + ("" if V2 else "pids/") + "inner"
    mount = dict(CGROUP_MOUNT, options=["nosuid", "noexec", "nodev", "rw"])
    cfg = config(cg, f"mkdir {sub} && echo $$ > {sub}/cgroup.procs && echo MOVED; " + LOOP,
                 namespaces=NS + ["cgroup"], mounts=[mount])
    cid = start(cg, cfg)
    try:
        assert wait_for(lambda: os.path.isdir(cg_path(default_path(cid), "pids", "inner", "inner")))
    finally:
        delete(cg, cid)  # removes the container's own sub-cgroup too


def test_cgroupns_mount_rw_per_hierarchy(cg):
    """vessel.rw=NAME: that hierarchy writable, the others read-only (the
    mount systemd inside a system container gets)."""
    mount = dict(CGROUP_MOUNT, options=["nosuid", "noexec", "nodev", "ro", "vessel.rw=systemd",
                                        "vessel.rw=unified"])
    rw = "/sys/fs/cgroup" if V2 else "/sys/fs/cgroup/unified"
    ro = [] if V2 else ["/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory"]
    if not V2 and os.path.isdir("/sys/fs/cgroup/systemd"):
        rw += " /sys/fs/cgroup/systemd"
    script = (f"for d in {rw} {' '.join(ro)}; do mkdir $d/sub 2>/dev/null && echo RW $d "
              "&& rmdir $d/sub || echo RO $d; done; "
              + ("" if V2 else "mkdir /sys/fs/cgroup/new 2>/dev/null && echo RW tmpfs; ")
              + "echo END")
    cfg = config(cg, script, resources={"pids": {"limit": 50}}, namespaces=NS + ["cgroup"],
                 mounts=[mount])
    _, r = run(cg, cfg)
    assert r.returncode == 0 and r.stdout.endswith("END\n"), r
    lines = set(r.stdout.splitlines())
    for d in rw.split():
        assert f"RW {d}" in lines, r.stdout
    for d in ro:
        assert f"RO {d}" in lines, r.stdout
    assert "RW tmpfs" not in lines, r.stdout


@pytest.mark.parametrize("opt", ["vessel.rw=", "size=1m"])
def test_cgroup_mount_bad_option(cg, opt):
    mount = dict(CGROUP_MOUNT, options=["ro", opt])
    cfg = config(cg, "true", namespaces=NS + ["cgroup"], mounts=[mount])
    cid, r = run(cg, cfg)
    one_error_line(r, opt)
    assert not marked_cgroups(), marked_cgroups()


# ------------------------------------------------------------ init below its limits

INNER = "io.github.vessel.cgroup.inner"
# The hierarchies where init goes below the container's cgroup.
INNER_HIERS = [m for m, fstype, ctrls in MOUNTS
               if fstype == "cgroup2" or not (ctrls - {"name=systemd"})
               or (ctrls & {"cpu", "cpuacct", "memory", "pids", "blkio"}
                   and not ctrls & {"devices", "freezer", "cpuset"})]


def procs_of(path):
    with open(os.path.join(path, "cgroup.procs")) as f:
        return f.read().split()


def test_inner_cgroup_holds_init_below_the_limits(cg):
    """The annotation puts init (and the cgroup namespace's root) one level
    below the container's cgroup where systemd may be given it writable;
    the limits stay in the container's cgroup; exec joins init's."""
    path = f"{MARK}-inner{next(_seq)}"
    mount = dict(CGROUP_MOUNT, options=["ro", "vessel.rw=unified", "vessel.rw=memory"])
    script = ("cat /proc/self/cgroup; echo LIMIT $(cat /sys/fs/cgroup/" +
              ("memory.max" if V2 else "memory/memory.limit_in_bytes") + "); " + LOOP)
    cfg = config(cg, script, resources={"memory": {"limit": 48 * MiB}}, cgroups_path=path,
                 namespaces=NS + ["cgroup"], mounts=[mount])
    cfg["annotations"] = {INNER: "payload"}
    cid = start(cg, cfg)
    try:
        pid = json.loads(vf(cg, "state", cid).stdout)["pid"]
        for mnt, _, _ in MOUNTS:
            want = os.path.join(mnt, path, "payload") if mnt in INNER_HIERS else \
                os.path.join(mnt, path)
            assert str(pid) in procs_of(want), (mnt, want)
            assert not os.path.isdir(os.path.join(mnt, path, "payload")) or mnt in INNER_HIERS
        assert cg_read(path, "memory", "memory.limit_in_bytes", "memory.max") == str(48 * MiB)
        r = vf(cg, "exec", cid, "/bin/sh", "-c", "cat /proc/self/cgroup")
        assert r.returncode == 0, r
        paths = [l.split(":", 2)[2] for l in r.stdout.splitlines() if re.match(r"^\d+:", l)]
        assert paths and all(p == "/" for p in paths), r.stdout
    finally:
        delete(cg, cid)
    assert not any(os.path.exists(os.path.join(m, path)) for m, _, _ in MOUNTS)


def test_inner_cgroup_exec_after_init_gave_controllers_away(cg):
    """On cgroup2, an init that moved itself below its root and enabled
    controllers there (systemd) leaves no process allowed in its root: exec
    joins init's own cgroup instead."""
    if not V2 and hierarchy("hugetlb") != ("/sys/fs/cgroup/unified", True):
        pytest.skip("no controller in this host's cgroup2 to enable for the children")
    mount = dict(CGROUP_MOUNT, options=["ro", "vessel.rw=unified"])
    u = "/sys/fs/cgroup" + ("" if V2 else "/unified")
    ctrl = "pids" if V2 else "hugetlb"
    script = (f"mkdir {u}/init.scope && echo $$ > {u}/init.scope/cgroup.procs && "
              f"echo +{ctrl} > {u}/cgroup.subtree_control && touch /tmp/ready; " + LOOP)
    # On a hybrid host hugetlb is in cgroup2's subtree_control only when asked for.
    res = None if V2 else {"hugepageLimits": [{"pageSize": "2MB", "limit": 1 << 30}]}
    cfg = config(cg, script, resources=res, namespaces=NS + ["cgroup"], mounts=[mount])
    cfg["annotations"] = {INNER: "payload"}
    cid = start(cg, cfg)
    try:
        assert wait_for(lambda: os.path.exists(os.path.join(cg.rootfs, "tmp/ready"))), \
            "the container could not enable a controller for its children"
        r = vf(cg, "exec", cid, "/bin/sh", "-c", "grep ^0:: /proc/self/cgroup")
        assert r.returncode == 0, r
        assert r.stdout.strip() == "0::/init.scope", r.stdout
    finally:
        delete(cg, cid)
        try:
            os.unlink(os.path.join(cg.rootfs, "tmp/ready"))
        except OSError:
            pass


@pytest.mark.parametrize("name", ["", "a/b", "..", "cgroup.procs"])
def test_inner_cgroup_bad_name(cg, name):
    cfg = config(cg, "true")
    cfg["annotations"] = {INNER: name}
    r = run(cg, cfg)[1]
    one_error_line(r, INNER)
    assert not marked_cgroups(), marked_cgroups()


# ------------------------------------------------------------ bad input

BAD = [
    ("negative-limit", {"resources": {"memory": {"limit": -5}}}, "memory.limit"),
    ("cpus-open-range", {"resources": {"cpu": {"cpus": "0-"}}}, "cpu.cpus"),
    ("device-type", {"resources": {"devices": [{"allow": True, "type": "x"}]}}, "devices[0].type"),
    ("dotdot-path", {"cgroupsPath": f"/{MARK}/../escape"}, "cgroupsPath"),
    ("systemd-path", {"cgroupsPath": "system.slice:vessel:x"}, "systemd"),
    ("root-path", {"cgroupsPath": "/"}, "cgroupsPath"),
    ("pids-negative", {"resources": {"pids": {"limit": -2}}}, "pids.limit"),
    ("quota-negative", {"resources": {"cpu": {"quota": -7}}}, "cpu.quota"),
    ("swap-below-limit", {"resources": {"memory": {"limit": 64 * MiB, "swap": MiB}}}, "memory.swap"),
    ("hugepage-size", {"resources": {"hugepageLimits": [{"pageSize": "2mb", "limit": 1}]}}, "pageSize"),
    ("unified-procs", {"resources": {"unified": {"cgroup.procs": "1"}}}, "cgroup.procs"),
]


@pytest.mark.parametrize("name,linux,word", BAD, ids=[b[0] for b in BAD])
def test_bad_input_rejected_before_anything_exists(cg, name, linux, word):
    cfg = config(cg, "true")
    cfg["linux"].update(linux)
    cg.write_config(cfg)
    for mode in ("create", "run"):
        r = vf(cg, mode, "--bundle", cg.bundle, new_id())
        one_error_line(r, word)
        assert cg.ids() == [], cg.ids()
        assert not os.path.isdir(cg.root) or not os.listdir(cg.root), os.listdir(cg.root)
        assert not marked_cgroups(), marked_cgroups()
    if name == "dotdot-path":
        assert not any(os.path.exists(os.path.join(m, "escape")) for m, _, _ in MOUNTS)


# ------------------------------------------------------------ ownership per hierarchy

@pytest.fixture
def partial_parent(cg):
    """A parent /TOP/a that someone else made in the memory and pids
    hierarchies only: (cg, TOP, the pre-made dirs, the other hierarchies).
    Removed at the end, whatever the test did."""
    if len(MOUNTS) < 2:
        pytest.skip("a single cgroup hierarchy (pure v2): ownership cannot differ between them")
    top = f"{MARK}-part{next(_seq)}"
    mine = [hierarchy(c)[0] for c in ("memory", "pids")]
    assert all(mine) and len(set(mine)) == 2, mine
    made = []
    try:
        for mnt in mine:
            os.makedirs(os.path.join(mnt, top, "a"))
            made.append(os.path.join(mnt, top))
        others = [m for m, _, _ in MOUNTS if m not in mine]
        yield cg, top, [os.path.join(d, "a") for d in made], others
    finally:
        for d in made:
            for sub in ("a/c1", "a", ""):
                try:
                    os.rmdir(os.path.join(d, sub))
                except OSError:
                    pass


def assert_only_vessels_removed(top, premade, others):
    for d in premade:
        assert os.path.isdir(d), f"{d}: removed, but vessel did not make it"
        assert not os.path.exists(os.path.join(d, "c1")), f"{d}/c1 left behind"
    for mnt in others:
        assert not os.path.exists(os.path.join(mnt, top)), f"{mnt}/{top}: made by vessel, left"


def state_cgroup_path(env, cid):
    with open(os.path.join(env.root, cid, "state.json")) as f:
        return json.load(f)["cgroupPath"]


def test_parent_premade_in_some_hierarchies_is_left(partial_parent):
    """vessel made /TOP/a/c1 in most hierarchies but only c1 in memory and
    pids: delete removes TOP and a where it made them, and only c1 there."""
    cg, top, premade, others = partial_parent
    path = f"/{top}/a/c1"
    cid = start(cg, config(cg, LOOP, cgroups_path=path))
    try:
        for d in container_dirs(path.lstrip("/")):
            assert os.path.isdir(d), d
        rec = state_cgroup_path(cg, cid)
    finally:
        delete(cg, cid)
    assert_only_vessels_removed(top, premade, others)
    # state.json says what each hierarchy made.
    own = dict(kv.rsplit("=", 1) for kv in rec.split(":/", 1)[0].split())
    assert rec.endswith(f":{path}") and own.pop("memory") == own.pop("pids") == "1", rec
    assert set(own.values()) == {"3"}, rec


def test_failed_create_leaves_the_premade_parent(partial_parent):
    """A create that fails after making the cgroups (a CPU the kernel
    refuses; a process that does not exist) undoes only what it made."""
    cg, top, premade, others = partial_parent
    cases = [({"cpu": {"cpus": "63"}}, ["/bin/true"], "cpuset.cpus"),
             (None, ["/no/such/binary"], "/no/such/binary")]
    for res, args, word in cases:
        cfg = config(cg, "true", resources=res, cgroups_path=f"/{top}/a/c1")
        cfg["process"]["args"] = args
        cg.write_config(cfg)
        r = vf(cg, "create", "--bundle", cg.bundle, new_id())
        assert r.returncode != 0, f"create should fail with {res} {args}: {r}"
        assert word in r.stderr, r
        assert not cg.ids(), cg.ids()
        assert_only_vessels_removed(top, premade, others)


def test_killed_create_leaves_the_premade_parent(partial_parent):
    """A create killed after making the cgroups: delete, from what
    state.json recorded, removes only what that create made."""
    cg, top, premade, others = partial_parent
    cfg = config(cg, "true", cgroups_path=f"/{top}/a/c1")
    cfg["hooks"] = {"createRuntime": [{"path": "/bin/sleep", "args": ["sleep", "30"]}]}
    cg.write_config(cfg)
    cid = new_id()
    out = open(os.path.join(cg.tmp, "killed.out"), "w")
    with out:
        p = subprocess.Popen([VESSEL, "--root", cg.root, "create", "--bundle", cg.bundle, cid],
                             stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    try:
        assert wait_for(lambda: all(os.path.isdir(os.path.join(m, top, "a", "c1"))
                                    for m, _, _ in MOUNTS), timeout=20)
    finally:
        p.kill()
        p.wait()
    assert wait_for(lambda: status(cg, cid) == "stopped", timeout=10), status(cg, cid)
    r = vf(cg, "delete", cid)
    assert r.returncode == 0, r
    assert_only_vessels_removed(top, premade, others)


def test_old_state_one_count_for_every_hierarchy(cg):
    """A state.json from before per-hierarchy records ("<n>:/<path>"): the
    count holds in every hierarchy, as it did."""
    top = f"{MARK}-old{next(_seq)}"
    path = f"/{top}/a/c1"
    cid = start(cg, config(cg, LOOP, cgroups_path=path))
    st = os.path.join(cg.root, cid, "state.json")
    try:
        with open(st) as f:
            s = json.load(f)
        s["cgroupPath"] = f"3:{path}"
        with open(st, "w") as f:
            json.dump(s, f)
        assert status(cg, cid) == "running"
    finally:
        delete(cg, cid)
    for d in container_dirs(top):
        assert not os.path.exists(d), f"{d}: made by vessel, left"
