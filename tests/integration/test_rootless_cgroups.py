"""Rootless cgroups: an unprivileged user whose cgroup v2 subtree is
delegated to it (as systemd delegates user@UID.service) gets its
containers' cgroups inside that subtree, with limits, exec, ps, pause,
stats, update and delete working there; a user without one gets a warning
and no cgroup at all.

Each test builds the delegation as root, the way systemd does:

    <cgroup2>/<NAME>                  root's; +memory +pids +cpu enabled for
                                      its children (v2 only)
    <cgroup2>/<NAME>/user             the delegated subtree: chowned to the
                                      user with cgroup.procs, .threads and
                                      .subtree_control
    <cgroup2>/<NAME>/user/session     the user's leaf: every vessel command
                                      is moved there before it drops to the user

On pure v2 (in the VM of `make check-cgroupv2`) the limits are proven by
effect; on this hybrid host the subtree is in the cgroup2 mount
(/sys/fs/cgroup/unified), which has no memory or pids controller, so those
tests are skipped there.  After each test the whole <NAME> tree is removed,
and the test fails if vessel left anything in the delegated subtree.
"""
import json
import os
import shutil
import tempfile
import time
import uuid

import pytest

from conftest import Rootless, wait_for

CG = "/sys/fs/cgroup"
MiB = 1024 * 1024
OWNED_FILES = ("cgroup.procs", "cgroup.threads", "cgroup.subtree_control")
WANTED = ("memory", "pids", "cpu")
_seq = iter(range(1, 1 << 30))
# Unique on the machine, also across PID namespaces (see test_cgroups.MARK).
_RUN = f"{os.getpid()}x{uuid.uuid4().hex[:8]}"


def cgroup2_mount():
    """(mount point, pure v2?) of the cgroup2 hierarchy, or (None, False)."""
    found = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            pre, _, post = line.partition(" - ")
            mnt = pre.split()[4]
            if post.split()[0] == "cgroup2" and (mnt == CG or mnt.startswith(CG + "/")):
                found = mnt
    return found, found == CG


MNT, V2 = cgroup2_mount()
pytestmark = pytest.mark.skipif(MNT is None, reason="no cgroup2 hierarchy on this host")


def read(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        return ""


def write(path, value):
    with open(path, "w") as f:
        f.write(value)


def subdirs(path):
    return sorted(e.name for e in os.scandir(path) if e.is_dir())


def enable(cgroup, ctrls):
    """Enable the controllers of ctrls that cgroup offers for its children."""
    have = read(os.path.join(cgroup, "cgroup.controllers")).split()
    on = read(os.path.join(cgroup, "cgroup.subtree_control")).split()
    for c in ctrls:
        if c in have and c not in on:
            write(os.path.join(cgroup, "cgroup.subtree_control"), "+" + c)


def chown_cgroup(path, pw):
    os.chown(path, pw.pw_uid, pw.pw_gid)
    for f in OWNED_FILES:
        os.chown(os.path.join(path, f), pw.pw_uid, pw.pw_gid)


def remove_tree(top):
    """Kill what is left in the cgroup tree top (only the test user's
    containers can be there) and remove it, deepest first."""
    if not os.path.isdir(top):
        return
    if os.path.exists(os.path.join(top, "cgroup.kill")):
        write(os.path.join(top, "cgroup.kill"), "1")
    wait_for(lambda: "populated 0" in read(os.path.join(top, "cgroup.events")), timeout=10)
    for d, _, _ in sorted(os.walk(top), key=lambda w: len(w[0]), reverse=True):
        for _ in range(50):
            try:
                os.rmdir(d)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.1)


class Delegation:
    def __init__(self, pw):
        self.name = f"vessel-rl{_RUN}-{next(_seq)}"
        self.base = os.path.join(MNT, self.name)
        self.deleg = os.path.join(self.base, "user")
        self.session = os.path.join(self.deleg, "session")
        # The delegated subtree as /proc/self/cgroup names it.
        self.rel = os.path.relpath(self.deleg, MNT)
        os.mkdir(self.base)
        if V2:
            enable(MNT, WANTED)
            enable(self.base, WANTED)
        os.mkdir(self.deleg)
        chown_cgroup(self.deleg, pw)
        os.mkdir(self.session)
        chown_cgroup(self.session, pw)

    def controllers(self):
        return read(os.path.join(self.deleg, "cgroup.controllers")).split()


@pytest.fixture(scope="module")
def mrl(user):
    """One rootless bundle and state root for the module (making a bundle
    is slow in the emulated VM); every test uses ids of its own."""
    tmp = tempfile.mkdtemp(prefix="vessel-rootless-cg-")
    try:
        yield Rootless(user, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def drl(user, mrl):
    """(rl, Delegation): rl's commands run in the delegated session leaf.
    Afterwards every container is deleted, and nothing may be left."""
    rl = mrl
    d = Delegation(user)
    rl.cgroup = d.session
    try:
        yield rl, d
    finally:
        rl.cgroup = d.session
        ids = rl.vessel("list", "-q").stdout.split()
        for cid in ids:
            rl.vessel("delete", "--force", cid)
        # Every command ran in the leaf, and delete removed what it made.
        left = [x for x in subdirs(d.deleg) if x != "session"]
        rl.cgroup = None
        remove_tree(d.base)
    assert not ids, f"containers left behind: {ids}"
    assert not left, f"cgroups left in the delegated subtree: {left}"
    assert not os.path.exists(d.base), f"{d.base} left behind"


def need(d, *ctrls):
    missing = [c for c in ctrls if c not in d.controllers()]
    if missing:
        pytest.skip(f"{', '.join(missing)} not available to the delegated subtree on this "
                    f"{'v2' if V2 else 'hybrid'} host")


def configure(rl, args, **kw):
    """rl.config() again in the same bundle (spec refuses to overwrite)."""
    path = os.path.join(rl.bundle, "config.json")
    if os.path.exists(path):
        os.unlink(path)
    rl.config(args, **kw)


def own_cgroup_line(out):
    return [l for l in out.splitlines() if l.startswith("0::")]


def test_run_with_limits_in_the_delegated_subtree(drl):
    rl, d = drl
    need(d, "memory", "pids")
    cid = f"lim{next(_seq)}"
    script = ("cat /proc/self/cgroup; cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/pids.max; "
              "sh -c 'for i in 1 2 3 4 5 6 7 8 9 10; do sleep 2 & done; wait'; echo done")
    configure(rl, ["sh", "-c", script],
              linux={"resources": {"memory": {"limit": 64 * MiB}, "pids": {"limit": 6}}})
    r = rl.vessel("run", "--bundle", rl.bundle, cid, timeout=120)
    assert r.returncode == 0, r
    assert "without resource limits" not in r.stderr, r
    lines = r.stdout.splitlines()
    assert own_cgroup_line(r.stdout) == [f"0::/{d.rel}/vessel/{cid}"], r
    assert lines[1:3] == [str(64 * MiB), "6"], r
    assert "fork" in r.stderr.lower(), f"pids.max refused no fork: {r}"
    assert lines[-1] == "done", r
    # run deleted the container: its cgroup and the vessel/ it made are gone.
    assert subdirs(d.deleg) == ["session"]


def test_lifecycle_in_the_delegated_subtree(drl):
    rl, d = drl
    cid = f"life{next(_seq)}"
    cgdir = os.path.join(d.deleg, "vessel", cid)
    configure(rl, ["sh", "-c", "while :; do sleep 0.1; done"])
    r = rl.vessel("create", "--bundle", rl.bundle, cid, stdio_files=True)
    assert r.returncode == 0, r.stdout
    assert "without resource limits" not in r.stdout, r.stdout
    assert rl.vessel("start", cid, stdio_files=True).returncode == 0
    try:
        st = json.loads(rl.vessel("state", cid).stdout)
        pid = st["pid"]
        # The init is in the container's cgroup, which belongs to the user
        # and which state.json names for the later commands.
        assert os.path.isdir(cgdir) and os.stat(cgdir).st_uid == rl.pw.pw_uid
        assert str(pid) in read(os.path.join(cgdir, "cgroup.procs")).split()
        with open(os.path.join(rl.xdg, "vessel", cid, "state.json")) as f:
            assert json.load(f)["cgroupPath"] == f"2:/{d.rel}/vessel/{cid}"
        # The controllers the subtree offers were enabled down to it.
        assert set(d.controllers()) <= set(read(os.path.join(cgdir, "cgroup.controllers")).split())

        # exec joins the container's cgroup.
        r = rl.vessel("exec", cid, "cat", "/proc/self/cgroup")
        assert r.returncode == 0, r
        assert own_cgroup_line(r.stdout) == [f"0::/{d.rel}/vessel/{cid}"], r

        r = rl.vessel("ps", "--format", "json", cid)
        assert r.returncode == 0 and pid in json.loads(r.stdout), r

        assert rl.vessel("pause", cid).returncode == 0
        assert json.loads(rl.vessel("state", cid).stdout)["status"] == "paused"
        assert "frozen 1" in read(os.path.join(cgdir, "cgroup.events"))
        assert rl.vessel("resume", cid).returncode == 0
        assert json.loads(rl.vessel("state", cid).stdout)["status"] == "running"
        assert "frozen 0" in read(os.path.join(cgdir, "cgroup.events"))

        r = rl.vessel("events", "--stats", cid)
        assert r.returncode == 0, r
        data = json.loads(r.stdout)["data"]
        assert data["cpu"]["usage"]["total"] > 0, data
        if "pids" in d.controllers():
            assert data["pids"]["current"] >= 1, data
            r = rl.vessel("update", "--pids-limit", "7", cid)
            assert r.returncode == 0, r
            assert read(os.path.join(cgdir, "pids.max")) == "7"
    finally:
        r = rl.vessel("delete", "--force", cid)
    assert r.returncode == 0, r
    # The leaf and the vessel/ parent that create made are gone; the
    # delegated subtree and the user's session are not.
    assert not os.path.exists(os.path.join(d.deleg, "vessel"))
    assert subdirs(d.deleg) == ["session"]


def test_cgroups_path_in_the_delegated_subtree(drl):
    rl, d = drl
    # Relative: below the delegated subtree.
    configure(rl, ["cat", "/proc/self/cgroup"], linux={"cgroupsPath": "pods/p1"})
    r = rl.vessel("run", "--bundle", rl.bundle, f"rel{next(_seq)}")
    assert r.returncode == 0, r
    assert own_cgroup_line(r.stdout) == [f"0::/{d.rel}/pods/p1"], r
    # Absolute and inside: as given.
    configure(rl, ["cat", "/proc/self/cgroup"], linux={"cgroupsPath": f"/{d.rel}/abs/a1"})
    r = rl.vessel("run", "--bundle", rl.bundle, f"abs{next(_seq)}")
    assert r.returncode == 0, r
    assert own_cgroup_line(r.stdout) == [f"0::/{d.rel}/abs/a1"], r
    assert subdirs(d.deleg) == ["session"]
    # Absolute and outside: an error (as runc), not a container without limits.
    outside = f"/{d.name}-outside/c1"
    configure(rl, ["true"], linux={"cgroupsPath": outside})
    r = rl.vessel("run", "--bundle", rl.bundle, f"out{next(_seq)}")
    assert r.returncode != 0, r
    assert outside in r.stderr and f"/{d.rel}" in r.stderr and "delegated" in r.stderr, r
    assert "without resource limits" not in r.stderr, r
    assert not os.path.exists(os.path.join(MNT, f"{d.name}-outside"))


def test_controller_not_delegated_is_an_error(drl):
    """hugetlb is enabled for nobody's children in <NAME>: asking for it
    names the controller and the file, and makes nothing."""
    rl, d = drl
    if "hugetlb" not in read(os.path.join(MNT, "cgroup.controllers")).split():
        pytest.skip("no hugetlb controller in cgroup2 here")
    assert "hugetlb" not in d.controllers()
    configure(rl, ["true"], linux={"resources": {"hugepageLimits": [{"pageSize": "2MB", "limit": 0}]}})
    r = rl.vessel("run", "--bundle", rl.bundle, f"hug{next(_seq)}")
    assert r.returncode != 0, r
    msg = r.stderr.strip()
    assert "hugetlb controller is not delegated" in msg, r
    assert os.path.join(d.deleg, "cgroup.controllers") in msg, r
    assert subdirs(d.deleg) == ["session"]


def test_no_delegation_warns_and_makes_no_cgroup(drl):
    """The user's process in a cgroup of root's: a warning, and the
    container runs in that cgroup, without one of its own."""
    rl, d = drl
    plain = os.path.join(d.base, "plain")
    os.mkdir(plain)
    rl.cgroup = plain
    cid = f"nod{next(_seq)}"
    configure(rl, ["cat", "/proc/self/cgroup"], linux={"resources": {"pids": {"limit": 50}}})
    r = rl.vessel("run", "--bundle", rl.bundle, cid)
    rl.cgroup = d.session
    assert r.returncode == 0, r
    assert "without resource limits" in r.stderr, r
    assert f"{plain} is not writable" in r.stderr, r
    assert own_cgroup_line(r.stdout) == [f"0::/{d.name}/plain"], r
    assert subdirs(plain) == [] and subdirs(d.deleg) == ["session"]
    assert not os.path.exists(os.path.join(MNT, "vessel", cid))


def test_failed_create_and_existing_cgroups(drl):
    """A create that fails after making the cgroup removes it; a cgroup
    that was there before is left."""
    rl, d = drl
    configure(rl, ["/nonexistent"])
    r = rl.vessel("run", "--bundle", rl.bundle, f"fail{next(_seq)}")
    assert r.returncode != 0, r
    assert subdirs(d.deleg) == ["session"]
    keep = os.path.join(d.deleg, "keep")
    os.mkdir(keep)
    chown_cgroup(keep, rl.pw)
    configure(rl, ["cat", "/proc/self/cgroup"], linux={"cgroupsPath": "keep/c1"})
    r = rl.vessel("run", "--bundle", rl.bundle, f"keep{next(_seq)}")
    assert r.returncode == 0, r
    assert own_cgroup_line(r.stdout) == [f"0::/{d.rel}/keep/c1"], r
    assert subdirs(keep) == [] and subdirs(d.deleg) == ["keep", "session"]
    os.rmdir(keep)


def test_caller_in_the_delegation_root(drl):
    """vessel run from the delegation root itself, not from a leaf below
    it: a container without limits runs (no controller can be enabled
    there); one with limits fails, saying why."""
    rl, d = drl
    rl.cgroup = d.deleg
    configure(rl, ["cat", "/proc/self/cgroup"])
    r = rl.vessel("run", "--bundle", rl.bundle, f"root{next(_seq)}")
    assert r.returncode == 0, r
    assert own_cgroup_line(r.stdout)[0].startswith(f"0::/{d.rel}/vessel/"), r
    if "pids" in d.controllers():
        configure(rl, ["true"], linux={"resources": {"pids": {"limit": 10}}})
        r = rl.vessel("run", "--bundle", rl.bundle, f"root{next(_seq)}")
        assert r.returncode != 0, r
        assert "cgroup.subtree_control" in r.stderr and "has processes of its own" in r.stderr, r
    assert subdirs(d.deleg) == ["session"]
