"""Unprivileged instances: a host id range of their own per instance
(first fit from root's /etc/subuid and /etc/subgid, kept across restarts,
freed on delete), the idmapped rootfs, a user namespace owned by the
instance's root, raw.idmap, disk shift=true, limits.kernel.*, privileged
instances, and bad input that allocates nothing.

Most tests give vesselctl subordinate id files of their own
(VESSELCTL_SUBUID/VESSELCTL_SUBGID), so that a pool's numbers are known
and the host's files are not changed."""
import concurrent.futures
import fcntl
import json
import os
import sqlite3
import struct
import time

import pytest

from test_vesselctl_image import VESSELCTL, ctl, fail
from test_vesselctl_lifecycle import make_boot_image
from vesselctl_store import cleanup_store

B = 65536
POOL = 3000000  # the start of the tests' pool


@pytest.fixture
def subids(tmp_path, monkeypatch):
    """Subordinate id files with root's pool: 64 blocks from POOL."""
    u, g = tmp_path / "subuid", tmp_path / "subgid"
    u.write_text(f"alice:100000:65536\nroot:{POOL}:{64 * B}\n")
    g.write_text(f"root:{POOL}:{64 * B}\nalice:100000:65536\n")
    monkeypatch.setenv("VESSELCTL_SUBUID", str(u))
    monkeypatch.setenv("VESSELCTL_SUBGID", str(g))
    return u, g


@pytest.fixture
def store(tmp_path, subids):
    s = str(tmp_path / "store")
    yield s
    cleanup_store(VESSELCTL, s)


@pytest.fixture
def img(store, tmp_path):
    ctl(store, "image", "import", str(make_boot_image(tmp_path, init="exec sleep 100000\n")),
        "--alias", "boot")
    return store


def uid_map(store, name):
    out = ctl(store, "exec", name, "--", "cat", "/proc/self/uid_map").stdout
    return [tuple(int(x) for x in line.split()) for line in out.strip().splitlines()]


def gid_map(store, name):
    out = ctl(store, "exec", name, "--", "cat", "/proc/self/gid_map").stdout
    return [tuple(int(x) for x in line.split()) for line in out.strip().splitlines()]


def base_of(store, name):
    m = uid_map(store, name)
    assert len(m) == 1 and m[0][0] == 0 and m[0][2] == B, m
    assert gid_map(store, name) == m
    return m[0][1]


def rows(store):
    db = sqlite3.connect(os.path.join(store, "catalogue.db"))
    try:
        return db.execute("SELECT i.name, m.base, m.size, m.isolated FROM idmaps m "
                          "JOIN instances i ON i.id = m.instance_id ORDER BY m.base").fetchall()
    finally:
        db.close()


def init_pid(store, name):
    for line in ctl(store, "info", name).stdout.splitlines():
        if line.startswith("PID: "):
            return int(line.split()[1])
    raise AssertionError(f"{name} has no PID")


def userns_owner(pid):
    """NS_GET_OWNER_UID of the process's user namespace."""
    fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY)
    try:
        buf = bytearray(4)
        fcntl.ioctl(fd, 0xB704, buf)
        return struct.unpack("I", buf)[0]
    finally:
        os.close(fd)


def test_default_is_unprivileged_on_an_idmapped_rootfs(img):
    ctl(img, "launch", "boot", "u1")
    base = base_of(img, "u1")
    # The first isolated range comes after the shared block.
    assert base == POOL + B
    # The image's files, owned by host root in the store, are the
    # instance's root's; a file the instance makes is host root's on disk
    # (nothing is chowned, either way).
    assert ctl(img, "exec", "u1", "--", "stat", "-c", "%u:%g", "/bin/busybox").stdout == "0:0\n"
    ctl(img, "exec", "u1", "--", "touch", "/made-inside")
    st = os.stat(os.path.join(img, "instances", "u1", "rootfs", "made-inside"))
    owner = base if shifted(img, "u1") else 0
    assert (st.st_uid, st.st_gid) == (owner, owner)
    pid = init_pid(img, "u1")
    with open(f"/proc/{pid}/status") as f:
        status = f.read()
    assert f"Uid:\t{base}\t{base}\t{base}\t{base}" in status
    # Owned by its root's host uid: the host's per-user counts (inotify
    # instances, ...) are the instance's own.
    assert userns_owner(pid) == base
    info = ctl(img, "info", "u1").stdout
    assert "Privileged: no" in info
    assert f"ID map: 0-65535 -> host {base}-{base + B - 1} (uid and gid, its own)" in info
    assert "(PRIVILEGED)" not in ctl(img, "list").stdout


def shifted(store, name):
    """The marker of a rootfs that could not be idmapped (idshift.h)."""
    p = os.path.join(store, "instances", name, "rootfs.shift")
    return os.path.exists(p)


def test_unprivileged_rootfs_idmapped_or_shifted_once(img, tmp_path):
    """Where the store's file system can be idmapped (every local one of
    Linux 6.3 on), nothing is chowned; where it cannot (tmpfs before 6.3:
    the cgroup v2 VM's /tmp), the files are shifted once, said on stderr,
    recorded beside the rootfs, and never shifted twice, even when the
    record says the walk was cut off."""
    r = ctl(img, "launch", "boot", "sh1")
    base = base_of(img, "sh1")
    rootfs = os.path.join(img, "instances", "sh1", "rootfs")
    busybox = os.path.join(rootfs, "bin", "busybox")
    cfg = json.loads(ctl(img, "config", "show", "sh1", "--oci").stdout)
    if not shifted(img, "sh1"):
        assert "shifting" not in r.stderr
        assert os.stat(busybox).st_uid == 0
        assert cfg["annotations"]["io.github.vessel.rootfs.idmap"] == "true"
        return
    assert f"shifting its files to host ids {base}-{base + B - 1} once" in r.stderr
    assert "io.github.vessel.rootfs.idmap" not in cfg["annotations"]
    assert os.stat(busybox).st_uid == base
    assert ctl(img, "exec", "sh1", "--", "stat", "-c", "%u", "/bin/busybox").stdout == "0\n"
    marker = os.path.join(img, "instances", "sh1", "rootfs.shift")
    with open(marker) as f:
        assert f.read() == f"shifted {base} {B}\n"
    ctl(img, "stop", "sh1", "-f")
    r = ctl(img, "start", "sh1")
    assert "shifting" not in r.stderr
    # A walk cut off (the marker says shifting): carried on, nothing twice.
    ctl(img, "stop", "sh1", "-f")
    with open(marker, "w") as f:
        f.write(f"shifting 0 {base} {B}\n")
    r = ctl(img, "start", "sh1")
    assert "once" in r.stderr
    assert os.stat(busybox).st_uid == base
    assert ctl(img, "exec", "sh1", "--", "stat", "-c", "%u", "/bin/busybox").stdout == "0\n"


def test_privileged_instance_says_so(img):
    ctl(img, "launch", "boot", "p1", "-c", "security.privileged=true")
    assert uid_map(img, "p1") == [(0, 0, 4294967295)]
    assert "CONTAINER (PRIVILEGED)" in ctl(img, "list").stdout
    assert "Privileged: yes" in ctl(img, "info", "p1").stdout
    assert rows(img) == []


def test_parallel_launches_get_disjoint_ranges_kept_and_freed(img):
    names = [f"par{i}" for i in range(20)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as ex:
        results = list(ex.map(lambda n: ctl(img, "launch", "boot", n, check=False), names))
    for n, r in zip(names, results):
        assert r.returncode == 0, f"{n}: {r.stderr}"
    bases = {n: base_of(img, n) for n in names}
    starts = sorted(bases.values())
    assert len(set(starts)) == 20
    for a, b in zip(starts, starts[1:]):
        assert b - a >= B, starts
    assert all(POOL + B <= s and s + B <= POOL + 64 * B for s in starts)
    assert sorted(r[1] for r in rows(img)) == starts
    # Kept across stop and start, and restart.
    ctl(img, "stop", "par3", "-f")
    ctl(img, "start", "par3")
    ctl(img, "restart", "par4", "-f")
    assert base_of(img, "par3") == bases["par3"]
    assert base_of(img, "par4") == bases["par4"]
    # Freed on delete: the next instance gets the lowest free range.
    lowest = min(bases, key=bases.get)
    ctl(img, "delete", "-f", lowest)
    assert lowest not in [r[0] for r in rows(img)]
    ctl(img, "launch", "boot", "again")
    assert base_of(img, "again") == bases[lowest]


def test_shared_range_and_fixed_base(img):
    ctl(img, "launch", "boot", "s1", "-c", "security.idmap.isolated=false")
    ctl(img, "launch", "boot", "s2", "-c", "security.idmap.isolated=false")
    assert base_of(img, "s1") == base_of(img, "s2") == POOL
    assert "shared: security.idmap.isolated=false" in ctl(img, "info", "s1").stdout
    ctl(img, "launch", "boot", "f1", "-c", f"security.idmap.base={POOL + 10 * B}",
        "-c", f"security.idmap.size={2 * B}")
    m = uid_map(img, "f1")
    assert m == [(0, POOL + 10 * B, 2 * B)]
    # The next first fit does not take f1's range, nor the shared one.
    ctl(img, "launch", "boot", "n1")
    assert base_of(img, "n1") == POOL + B


def test_raw_idmap_maps_host_ids_through(img):
    ctl(img, "launch", "boot", "r1", "-c", "raw.idmap=both 1000 1000\nuid 2000-2001 50-51")
    base = base_of_first(img, "r1")
    assert uid_map(img, "r1") == [(0, base, 50), (50, 2000, 2), (52, base + 52, 948),
                                  (1000, 1000, 1), (1001, base + 1001, B - 1001)]
    assert gid_map(img, "r1") == [(0, base, 1000), (1000, 1000, 1),
                                  (1001, base + 1001, B - 1001)]


def base_of_first(store, name):
    return uid_map(store, name)[0][1]


def test_disk_shift_makes_a_host_users_directory_usable(img, tmp_path):
    d = tmp_path / "shared"
    d.mkdir()
    os.chown(d, 1000, 1000)
    d.chmod(0o755)
    ctl(img, "launch", "boot", "d1")
    ctl(img, "config", "device", "add", "d1", "plain", "disk", f"source={d}", "path=/plain")
    ctl(img, "config", "device", "add", "d1", "shifted", "disk", f"source={d}",
        "path=/shifted", "shift=true")
    ctl(img, "restart", "d1", "-f")
    # Unshifted, host uid 1000 is nobody inside: uid 1000 cannot write.
    r = ctl(img, "exec", "d1", "--user", "1000", "--", "touch", "/plain/x", check=False)
    assert r.returncode != 0
    assert ctl(img, "exec", "d1", "--", "stat", "-c", "%u", "/plain").stdout == "65534\n"
    # Shifted, it is uid 1000, who writes; the host sees its own uid 1000.
    ctl(img, "exec", "d1", "--user", "1000", "--group", "1000", "--", "touch", "/shifted/y")
    st = os.stat(d / "y")
    assert (st.st_uid, st.st_gid) == (1000, 1000)


def test_kernel_limits_apply_to_the_init(img):
    ctl(img, "launch", "boot", "k1", "-c", "limits.kernel.nofile=200:300",
        "-c", "limits.kernel.nproc=50")
    out = ctl(img, "exec", "k1", "--", "cat", f"/proc/1/limits").stdout
    line = [ln for ln in out.splitlines() if ln.startswith("Max open files")][0]
    assert line.split()[3:5] == ["200", "300"]
    line = [ln for ln in out.splitlines() if ln.startswith("Max processes")][0]
    assert line.split()[2:4] == ["50", "50"]
    fail(img, "config", "set", "k1", "limits.kernel.nofile=300:200")
    fail(img, "config", "set", "k1", "limits.kernel.bogus=1")


SPAWN = ("i=0; while [ $i -lt {n} ]; do sleep 1000 >/dev/null 2>&1 & i=$((i+1)); done; "
         "true")
COUNT = "grep -l '^Uid:.1000' /proc/[0-9]*/status | wc -l"


def test_nproc_counts_per_instance(img):
    """The mysql scenario: two instances of one image each run 40
    processes as uid 1000 with limits.kernel.nproc=50: both succeed, as
    their uid 1000 are different host uids; and the limit holds within one
    instance (20 more make 60 > 50)."""
    for n in ("m1", "m2"):
        ctl(img, "launch", "boot", n, "-c", "limits.kernel.nproc=50")
    for n in ("m1", "m2"):
        ctl(img, "exec", n, "--user", "1000", "--", "sh", "-c", SPAWN.format(n=40))
    for n in ("m1", "m2"):
        assert int(ctl(img, "exec", n, "--", "sh", "-c", COUNT).stdout) == 40, n
    ctl(img, "exec", "m1", "--user", "1000", "--", "sh", "-c", SPAWN.format(n=20), check=False)
    assert int(ctl(img, "exec", "m1", "--", "sh", "-c", COUNT).stdout) <= 50


def test_bad_input_allocates_nothing(img, subids, tmp_path):
    u, g = subids
    fail(img, "init", "boot", "b0", "-c", "security.idmap.size=1000")
    ctl(img, "init", "boot", "big", "-c", f"security.idmap.size={65 * B}")
    msg = fail(img, "start", "big")
    assert "no free range of 4259840 ids" in msg and f"{POOL}-{POOL + 64 * B - 1}" in msg
    assert rows(img) == []
    ctl(img, "launch", "boot", "a1")
    a1 = base_of(img, "a1")
    ctl(img, "init", "boot", "clash", "-c", f"security.idmap.base={a1 + 5}")
    msg = fail(img, "start", "clash")
    assert "overlaps instance a1's ids" in msg and str(a1) in msg
    ctl(img, "init", "boot", "out", "-c", "security.idmap.base=10")
    assert "outside root's subordinate ids" in fail(img, "start", "out")
    ctl(img, "init", "boot", "rawbad", "-c", "raw.idmap=uid 10-20 10-20\nuid 30 15")
    assert "overlap" in fail(img, "start", "rawbad")
    fail(img, "config", "set", "rawbad", "raw.idmap=all 1 1")
    assert [r[0] for r in rows(img)] == ["a1"]
    # A malformed /etc/subuid names its line; nothing is started.
    u.write_text(f"root:{POOL}:{64 * B}\nbob:12:x\n")
    ctl(img, "init", "boot", "b2")
    msg = fail(img, "start", "b2")
    assert f"{u}:2" in msg and "bob:12:x" in msg
    assert [r[0] for r in rows(img)] == ["a1"]
    # Root's ranges in only one of the files have nothing in common.
    u.write_text(f"root:{POOL}:{64 * B}\n")
    g.write_text(f"root:{POOL + 64 * B}:{B}\n")
    assert "no ids in common" in fail(img, "start", "b2")


def test_root_gets_a_range_on_first_use(store, tmp_path, monkeypatch):
    u, g = tmp_path / "u2", tmp_path / "g2"
    u.write_text("alice:100000:65536\n")
    monkeypatch.setenv("VESSELCTL_SUBUID", str(u))
    monkeypatch.setenv("VESSELCTL_SUBGID", str(g))  # missing
    ctl(store, "image", "import", str(make_boot_image(tmp_path, init="exec sleep 100000\n")),
        "--alias", "boot")
    r = ctl(store, "launch", "boot", "first")
    assert "had no range for root: added root:1000000:1000000000" in r.stderr
    assert u.read_text() == "alice:100000:65536\nroot:1000000:1000000000\n"
    assert g.read_text() == "root:1000000:1000000000\n"
    assert base_of(store, "first") == 1000000 + B
    # Said once.
    r = ctl(store, "launch", "boot", "second")
    assert "added" not in r.stderr
