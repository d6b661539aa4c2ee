"""Snapshots: vesselctl snapshot create/list/info/delete/rename/restore on
the dir, overlay and btrfs back ends (btrfs on a loop file the pool makes
and removes): files and configuration kept and brought back, --reuse,
restore of a running instance (refused, then --force), snapshots.expiry,
the snapshot count and table of list and info, bad input, SIGKILL at
random moments of a create and of a restore (the next command leaves a
consistent instance and no debris), and a Debian instance that boots
again after `rm -rf /usr` and a restore."""
import fcntl
import json
import os
import random
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import mounts_under
from debian_image import import_debian
from test_docs import complete
from test_systemd_boot import wait_running
from test_vesselctl_image import VESSELCTL, ctl, fail
from test_vesselctl_lifecycle import make_boot_image
from vesselctl_store import cleanup_store

BACKENDS = ["dir", "overlay", "btrfs"]


def out(store, *args, **kw):
    return ctl(store, *args, **kw).stdout


def run_in(store, name, script):
    return out(store, "exec", name, "--", "sh", "-c", script)


def snaps(store, name):
    return json.loads(out(store, "snapshot", "list", name, "-f", "json"))


def snap_info(store, name, snap):
    return json.loads(out(store, "snapshot", "info", name, snap, "-f", "json"))


def volumes(store, pool):
    return json.loads(out(store, "storage", "volume", "list", pool, "-f", "json"))


def instance(store, name):
    return json.loads(out(store, "info", name, "-f", "json"))


def pool_dir(store, pool, kind):
    d = os.path.join(store, "storage", pool, kind)
    return sorted(e for e in os.listdir(d))


def work_dirs(store):
    return [e for e in os.listdir(os.path.join(store, "instances")) if e.startswith(".")]


@pytest.fixture
def store(tmp_path):
    s = str(tmp_path / "store")
    yield s
    cleanup_store(VESSELCTL, s)


@pytest.fixture
def img(store, tmp_path):
    ctl(store, "image", "import", str(make_boot_image(tmp_path, init="exec sleep 1000\n")),
        "--alias", "bb")
    return store


def create_pool(store, driver):
    if driver == "btrfs":
        ctl(store, "storage", "create", "p", "btrfs", "size=300MiB")
    else:
        ctl(store, "storage", "create", "p", driver)


def assert_consistent(store, name, pool="p"):
    """The row's volume is where the rootfs link points, every volume in
    the pool has a row, no work directory is left."""
    vols = volumes(store, pool)
    mine = [v["volume"] for v in vols if v["type"] == "container" and v["name"] == name]
    assert len(mine) == 1, vols
    link = os.readlink(os.path.join(store, "instances", name, "rootfs"))
    assert link.startswith(f"../../storage/{pool}/{mine[0]}"), (link, mine)
    assert os.path.isdir(os.path.join(store, "instances", name, "rootfs"))
    for kind in ("containers", "snapshots"):
        rows = sorted(v["volume"].split("/")[1] for v in vols if v["volume"].startswith(kind))
        assert pool_dir(store, pool, kind) == rows, (kind, vols)
    assert work_dirs(store) == []


@pytest.mark.parametrize("driver", BACKENDS)
def test_create_list_info_rename_delete(img, driver):
    create_pool(img, driver)
    ctl(img, "launch", "bb", "c1", "-s", "p", "-d", "first")
    run_in(img, "c1", "echo one > /root/f")
    ctl(img, "config", "set", "c1", "user.k=a")
    # Default names: the first free of snap0, snap1, ...; a running
    # instance may be snapshotted.
    assert out(img, "snapshot", "create", "c1") == "Snapshot c1/snap0 created\n"
    assert out(img, "snapshot", "create", "c1") == "Snapshot c1/snap1 created\n"
    ctl(img, "snapshot", "create", "c1", "mine")
    assert [s["name"] for s in snaps(img, "c1")] == ["snap0", "snap1", "mine"]
    # The count in list and info, and info's table at the end.
    assert json.loads(out(img, "list", "-f", "json"))[0]["snapshots"] == 3
    assert out(img, "list", "c1", "-c", "nS", "-f", "csv") == "c1,3\n"
    text = out(img, "info", "c1")
    assert "Snapshots: 3\n" in text
    tail = text.split("\nSnapshots:\n")[1]
    assert "TAKEN AT" in tail and "snap0" in tail and "mine" in tail, text
    csv = out(img, "snapshot", "list", "c1", "-f", "csv").splitlines()
    assert [l.split(",")[0] for l in csv] == ["snap0", "snap1", "mine"]
    assert csv[0].split(",")[2:] == ["", "NO"]
    # The snapshot keeps the configuration.
    i = snap_info(img, "c1", "snap0")
    assert i["config"]["user.k"] == "a" and i["profiles"] == ["default"]
    assert i["description"] == "first" and i["expires_at"] == "0001-01-01T00:00:00Z"
    assert i["size"] >= 0 and i["instance"] == "c1" and not i["stateful"]
    text = out(img, "snapshot", "info", "c1", "snap0")
    assert "Name: snap0\n" in text and "user.k: a" in text and "Expires: never" in text
    # Its volume, in the pool.
    snapvols = {v["name"]: v["volume"] for v in volumes(img, "p") if v["type"] == "snapshot"}
    assert sorted(snapvols) == ["c1/mine", "c1/snap0", "c1/snap1"]
    vdir = os.path.join(img, "storage", "p", snapvols["c1/snap0"])
    files = os.path.join(vdir, "upper") if driver == "overlay" else vdir
    with open(os.path.join(files, "root", "f")) as f:
        assert f.read() == "one\n"
    if driver == "btrfs":
        assert subprocess.run(["btrfs", "subvolume", "show", vdir],
                              capture_output=True).returncode == 0
    # Rename; the first free name is then snap1 again.
    ctl(img, "snapshot", "rename", "c1", "snap1", "before")
    assert "already exists" in fail(img, "snapshot", "rename", "c1", "snap0", "mine")
    assert out(img, "snapshot", "create", "c1") == "Snapshot c1/snap1 created\n"
    # Delete: rows and volumes.
    ctl(img, "snapshot", "delete", "c1", "before", "snap1")
    assert [s["name"] for s in snaps(img, "c1")] == ["snap0", "mine"]
    assert not os.path.exists(os.path.join(img, "storage", "p", snapvols["c1/snap1"]))
    assert_consistent(img, "c1")
    # Deleting the instance deletes its snapshots' volumes.
    ctl(img, "delete", "-f", "c1")
    assert pool_dir(img, "p", "snapshots") == [] and pool_dir(img, "p", "containers") == []
    ctl(img, "storage", "delete", "p")
    assert not mounts_under(img)


@pytest.mark.parametrize("driver", BACKENDS)
def test_restore_files_and_configuration(img, driver):
    create_pool(img, driver)
    ctl(img, "profile", "create", "extra")
    ctl(img, "profile", "set", "extra", "user.from=extra")
    ctl(img, "launch", "bb", "c1", "-s", "p", "-d", "before")
    ctl(img, "profile", "add", "c1", "extra")
    ctl(img, "config", "set", "c1", "user.k=a")
    ctl(img, "config", "device", "add", "c1", "tmp1", "disk", "source=/tmp", "path=/mnt/t")
    run_in(img, "c1", "echo one > /root/f; mkdir -p /root/d; echo x > /root/d/x")
    ctl(img, "snapshot", "create", "c1", "s0")
    vol_before = instance(img, "c1")
    # Everything changes.
    run_in(img, "c1", "echo two > /root/f; rm -r /root/d; echo n > /root/new")
    ctl(img, "config", "set", "c1", "user.k=b")
    ctl(img, "config", "set", "c1", "user.other=1")
    ctl(img, "config", "device", "remove", "c1", "tmp1")
    ctl(img, "profile", "remove", "c1", "extra")
    # A running instance is refused, and nothing changes.
    assert "is running (stop it first, or restore --force)" in \
        fail(img, "snapshot", "restore", "c1", "s0")
    assert run_in(img, "c1", "cat /root/f") == "two\n"
    # --force: killed, restored, started again.
    ctl(img, "snapshot", "restore", "c1", "s0", "--force")
    i = instance(img, "c1")
    assert i["status"] == "Running"
    assert run_in(img, "c1", "cat /root/f /root/d/x; ls /root/new 2>/dev/null; true") == "one\nx\n"
    # The files are the instance's own (the shift record is in step).
    assert run_in(img, "c1", "stat -c %u:%g /root/f /bin/busybox") == "0:0\n0:0\n"
    assert i["config"]["user.k"] == "a" and "user.other" not in i["config"]
    assert i["profiles"] == ["default", "extra"] and i["expanded_config"]["user.from"] == "extra"
    assert "tmp1" in i["devices"] and i["description"] == "before"
    assert i["snapshots"] == 1
    assert_consistent(img, "c1")
    # A stopped instance is restored and stays stopped; the snapshot stays
    # and can be restored again.
    run_in(img, "c1", "echo three > /root/f")
    ctl(img, "stop", "-f", "c1")
    old = [v["volume"] for v in volumes(img, "p") if v["type"] == "container"][0]
    ctl(img, "snapshot", "restore", "c1", "s0")
    assert instance(img, "c1")["status"] == "Stopped"
    new = [v["volume"] for v in volumes(img, "p") if v["type"] == "container"][0]
    assert new != old and not os.path.exists(os.path.join(img, "storage", "p", old))
    assert_consistent(img, "c1")
    ctl(img, "start", "c1")
    assert run_in(img, "c1", "cat /root/f; stat -c %u /root/f") == "one\n0\n"
    # The backup.yaml is the restored configuration.
    with open(os.path.join(img, "instances", "c1", "backup.yaml")) as f:
        assert "user.k: a" in f.read()
    # A profile a snapshot keeps cannot be deleted.
    ctl(img, "profile", "remove", "c1", "extra")
    assert "in use by the snapshot c1/s0" in fail(img, "profile", "delete", "extra")
    assert vol_before["name"] == "c1"


@pytest.mark.parametrize("driver", BACKENDS)
def test_reuse(img, driver):
    create_pool(img, driver)
    ctl(img, "launch", "bb", "c1", "-s", "p")
    run_in(img, "c1", "echo one > /root/f")
    ctl(img, "snapshot", "create", "c1", "s")
    first = snap_info(img, "c1", "s")
    assert 'snapshot "c1/s": already exists (--reuse replaces it)' in \
        fail(img, "snapshot", "create", "c1", "s")
    run_in(img, "c1", "echo two > /root/f")
    ctl(img, "snapshot", "create", "c1", "s", "--reuse")
    second = snap_info(img, "c1", "s")
    assert second["volume"] != first["volume"]
    assert [s["name"] for s in snaps(img, "c1")] == ["s"]
    assert not os.path.exists(os.path.join(img, "storage", "p", "snapshots", first["volume"]))
    ctl(img, "snapshot", "restore", "c1", "s", "-f")
    assert run_in(img, "c1", "cat /root/f") == "two\n"
    assert_consistent(img, "c1")


def test_expiry(img):
    ctl(img, "launch", "bb", "c1")
    for bad in ("tomorrow", "1d 1d", "1D", "3h", "1.5d", "99999y"):
        msg = fail(img, "config", "set", "c1", f"snapshots.expiry={bad}")
        assert "snapshots.expiry" in msg and "is not an expiry" in msg, msg
    assert "snapshots.expiry" not in instance(img, "c1")["config"]
    # M is minutes (as Incus), d days.
    ctl(img, "config", "set", "c1", "snapshots.expiry=1M 1d")
    t0 = time.time()
    ctl(img, "snapshot", "create", "c1", "long")
    exp = snap_info(img, "c1", "long")["expires_at"]
    when = time.mktime(time.strptime(exp, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert abs(when - (t0 + 86400 + 60)) < 5, exp
    assert "Expires: 20" in out(img, "snapshot", "info", "c1", "long")
    # From a profile too (the expanded configuration); S is seconds.
    ctl(img, "config", "unset", "c1", "snapshots.expiry")
    ctl(img, "profile", "set", "default", "snapshots.expiry=2S")
    ctl(img, "snapshot", "create", "c1", "short")
    ctl(img, "profile", "unset", "default", "snapshots.expiry")
    ctl(img, "snapshot", "create", "c1", "kept")
    assert snap_info(img, "c1", "kept")["expires_at"] == "0001-01-01T00:00:00Z"
    vol = snap_info(img, "c1", "short")["volume"]
    snapdir = os.path.join(img, "storage", "default", "snapshots")
    assert vol in os.listdir(snapdir)
    time.sleep(3)
    # Expired: info of the instance only reads; list removes it.
    assert "short" in out(img, "info", "c1")
    assert [s["name"] for s in snaps(img, "c1")] == ["long", "kept"]
    assert vol not in os.listdir(snapdir)
    assert instance(img, "c1")["snapshots"] == 2
    # And create does too.
    ctl(img, "config", "set", "c1", "snapshots.expiry=1S")
    ctl(img, "snapshot", "create", "c1", "brief")
    time.sleep(2)
    ctl(img, "config", "unset", "c1", "snapshots.expiry")
    ctl(img, "snapshot", "create", "c1", "next")
    assert [s["name"] for s in snaps(img, "c1")] == ["long", "kept", "next"]
    assert_consistent(img, "c1", "default")


def test_bad_input(img):
    ctl(img, "launch", "bb", "c1")
    ctl(img, "snapshot", "create", "c1", "s0")
    before = snaps(img, "c1")
    vols = volumes(img, "default")
    cases = [
        (["snapshot", "create", "nope"], 'instance "nope": no such instance'),
        (["snapshot", "list", "nope"], 'instance "nope": no such instance'),
        (["snapshot", "info", "nope", "s0"], 'instance "nope": no such instance'),
        (["snapshot", "restore", "nope", "s0"], 'instance "nope": no such instance'),
        (["snapshot", "delete", "nope", "s0"], 'instance "nope": no such instance'),
        (["snapshot", "info", "c1", "s9"], 'snapshot "c1/s9": no such snapshot'),
        (["snapshot", "delete", "c1", "s9"], 'snapshot "c1/s9": no such snapshot'),
        (["snapshot", "rename", "c1", "s9", "s8"], 'snapshot "c1/s9": no such snapshot'),
        (["snapshot", "restore", "c1", "s9"], 'snapshot "c1/s9": no such snapshot'),
        (["snapshot", "restore", "c1", "s9", "--force"], 'snapshot "c1/s9": no such snapshot'),
        (["snapshot", "create", "c1", "s0"], "already exists (--reuse replaces it)"),
        (["snapshot", "create", "c1", "a/b"], "not a valid name"),
        (["snapshot", "create", "c1", ".x"], "not a valid name"),
        (["snapshot", "rename", "c1", "s0", "a b"], "not a valid name"),
        (["snapshot", "create", "c1", "--reuse"], "--reuse needs the SNAPSHOT's name"),
        (["snapshot", "create"], "expected NAME [SNAPSHOT]"),
        (["snapshot", "restore", "c1"], "expected NAME SNAPSHOT"),
        (["snapshot", "info", "c1", "s0", "-f", "csv"], "expected -f json or yaml"),
        (["snapshot", "list", "c1", "-f", "xml"], "expected -f table"),
        (["snapshot", "frobnicate"], 'unknown command "frobnicate"'),
    ]
    for args, msg in cases:
        r = ctl(img, *args, check=False)
        assert r.returncode != 0, args
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and msg in lines[0], (args, r.stderr)
    # Nothing changed: the instance still runs, its snapshot is there.
    assert snaps(img, "c1") == before
    assert volumes(img, "default") == vols
    assert instance(img, "c1")["status"] == "Running"
    assert_consistent(img, "c1", "default")


def test_completion_of_snapshot_names(img):
    ctl(img, "init", "bb", "c1")
    ctl(img, "snapshot", "create", "c1")
    ctl(img, "snapshot", "create", "c1", "other")
    assert complete("vesselctl", "snapshot", "", store_dir=img) == \
        ["create", "list", "info", "delete", "rename", "restore"]
    assert complete("vesselctl", "snapshot", "restore", "", store_dir=img) == ["c1"]
    assert complete("vesselctl", "snapshot", "restore", "-f", "c1", "", store_dir=img) == \
        ["snap0", "other"]
    assert complete("vesselctl", "snapshot", "delete", "c1", "snap0", "o", store_dir=img) == \
        ["other"]
    assert complete("vesselctl", "snapshot", "create", "--", store_dir=img) == \
        ["--reuse", "--help"]
    assert complete("vesselctl", "config", "set", "c1", "snapshots.", store_dir=img) == \
        ["snapshots.expiry"]


def test_instance_without_a_pool_is_refused(img):
    ctl(img, "init", "bb", "c1")
    db = sqlite3.connect(os.path.join(img, "catalogue.db"))
    pool, vol = db.execute("SELECT pool_id, volume FROM instances").fetchone()
    # As an instance made before pools is (its rootfs in its directory).
    with db:
        db.execute("UPDATE instances SET pool_id = NULL, volume = NULL")
    try:
        msg = fail(img, "snapshot", "create", "c1")
        assert "made before storage pools" in msg and "cannot have snapshots" in msg, msg
        assert snaps(img, "c1") == []
    finally:
        with db:
            db.execute("UPDATE instances SET pool_id = ?, volume = ?", (pool, vol))
        db.close()


def moments(full):
    """When to kill a command that takes full seconds: anywhere in it, a
    few near its end (the commit), and at its very start.  The seed is
    printed (VESSEL_TEST_SEED=N repeats a run)."""
    seed = int(os.environ.get("VESSEL_TEST_SEED", random.randrange(1 << 30)))
    print(f"\nseed {seed}, a full run {full:.3f} s")
    rng = random.Random(seed)
    return ([rng.uniform(0, full * 1.1) for _ in range(8)] +
            [rng.uniform(full * 0.8, full * 1.05) for _ in range(3)] + [0.005, 0.02])


def kill_at_random(store, args, when, settle):
    """Run vesselctl args and SIGKILL it after each of when (seconds),
    then run settle() (the next command: recovery, and the checks)."""
    for t in when:
        p = subprocess.Popen([VESSELCTL, "--store", store, *args], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(t)
        p.send_signal(signal.SIGKILL)
        p.wait()
        settle()


def timed(store, *args):
    t0 = time.monotonic()
    ctl(store, *args)
    return time.monotonic() - t0


@pytest.mark.parametrize("driver", BACKENDS)
def test_sigkill_during_create(img, driver):
    create_pool(img, driver)
    ctl(img, "init", "bb", "c1", "-s", "p")
    # Some bytes to copy (dir, overlay), so that a kill can land in the copy.
    ctl(img, "start", "c1")
    run_in(img, "c1", "dd if=/dev/zero of=/root/big bs=1M count=40 2>/dev/null; echo a > /root/f")
    ctl(img, "stop", "-f", "c1")
    full = timed(img, "snapshot", "create", "c1", "first")

    def settle():
        names = [s["name"] for s in snaps(img, "c1")]  # the next command
        assert names[0] == "first" and set(names[1:]) <= {f"snap{i}" for i in range(20)}
        assert_consistent(img, "c1")

    kill_at_random(img, ["snapshot", "create", "c1"], moments(full), settle)
    # Still whole: a snapshot of each kind of name and a restore work.
    n = len(snaps(img, "c1"))
    ctl(img, "snapshot", "create", "c1", "last")
    assert len(snaps(img, "c1")) == n + 1
    ctl(img, "snapshot", "restore", "c1", "first")
    ctl(img, "start", "c1")
    assert run_in(img, "c1", "cat /root/f") == "a\n"
    assert_consistent(img, "c1")


@pytest.mark.parametrize("driver", BACKENDS)
def test_sigkill_during_restore(img, driver):
    create_pool(img, driver)
    ctl(img, "init", "bb", "c1", "-s", "p")
    ctl(img, "config", "set", "c1", "user.state=old")
    ctl(img, "start", "c1")
    run_in(img, "c1", "dd if=/dev/zero of=/root/big bs=1M count=40 2>/dev/null; echo old > /root/f")
    ctl(img, "stop", "-f", "c1")
    ctl(img, "snapshot", "create", "c1", "s")
    ctl(img, "start", "c1")
    run_in(img, "c1", "echo new > /root/f")
    ctl(img, "stop", "-f", "c1")
    ctl(img, "config", "set", "c1", "user.state=new")
    shift_path = os.path.join(img, "instances", "c1", "rootfs.shift")
    full = timed(img, "snapshot", "restore", "c1", "s")
    # Back to the new state for the kills.
    ctl(img, "config", "set", "c1", "user.state=new")
    ctl(img, "file", "push", "-", "c1/root/f", input="new\n")
    seen = set()

    def settle():
        i = instance(img, "c1")  # the next command
        assert_consistent(img, "c1")
        state = i["config"]["user.state"]
        r = ctl(img, "file", "pull", "c1/root/f", "-")
        files = r.stdout.strip()
        # The configuration and the files are restored together, or not.
        assert state == files, (state, files)
        with open(os.path.join(img, "instances", "c1", "backup.yaml")) as f:
            assert f"user.state: {state}" in f.read()
        seen.add(state)
        if state == "old":
            ctl(img, "config", "set", "c1", "user.state=new")
            ctl(img, "file", "push", "-", "c1/root/f", input="new\n")

    kill_at_random(img, ["snapshot", "restore", "c1", "s"], moments(full), settle)
    print(f"\nstates after the kills: {sorted(seen)}")
    ctl(img, "snapshot", "restore", "c1", "s")
    ctl(img, "start", "c1")
    # The shift record is in step with the files whatever was killed.
    assert run_in(img, "c1", "cat /root/f; stat -c %u /root/f /bin/busybox") == "old\n0\n0\n"
    assert os.path.exists(shift_path) == (driver == "overlay")
    assert_consistent(img, "c1")


def test_dead_work_directory_and_volume_are_removed(img):
    """What a create killed after making its volume leaves: a volume
    without a row and a work directory nobody holds; one still held is
    left alone."""
    ctl(img, "init", "bb", "c1")
    snapdir = os.path.join(img, "storage", "default", "snapshots")
    for v in ("0123456789ab", "ba9876543210"):
        os.makedirs(os.path.join(snapdir, v, "etc"))
        os.makedirs(os.path.join(img, "instances", f".copy-{v}"))
    fd = os.open(os.path.join(img, "instances", ".copy-ba9876543210"), os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        ctl(img, "list")
        assert os.listdir(snapdir) == ["ba9876543210"]
        assert work_dirs(img) == [".copy-ba9876543210"]
    finally:
        os.close(fd)
    ctl(img, "list")
    assert os.listdir(snapdir) == [] and work_dirs(img) == []


def test_restore_killed_between_its_switch_and_its_commit_is_undone(img):
    """The narrowest window of a restore, made by hand: the rootfs link,
    the shift record and backup.yaml already switched to the new volume,
    the row not (killed before the commit).  The next command puts them
    back and removes the new volume."""
    ctl(img, "init", "bb", "c1")
    ctl(img, "config", "set", "c1", "user.k=kept")
    db = sqlite3.connect(os.path.join(img, "catalogue.db"))
    iid, vol = db.execute("SELECT id, volume FROM instances").fetchone()
    db.close()
    pool = os.path.join(img, "storage", "default", "containers")
    new = "0123456789ab"
    subprocess.run(["cp", "-a", os.path.join(pool, vol), os.path.join(pool, new)], check=True)
    d = os.path.join(img, "instances", "c1")
    os.symlink(f"../../storage/default/containers/{new}", os.path.join(d, "rootfs.new"))
    os.rename(os.path.join(d, "rootfs.new"), os.path.join(d, "rootfs"))
    with open(os.path.join(d, "rootfs.shift"), "w") as f:
        f.write("shifted 1000000 65536\n")
    with open(os.path.join(d, "backup.yaml"), "w") as f:
        f.write("name: c1\nconfig:\n  user.k: restored\n")
    work = os.path.join(img, "instances", f".copy-{new}")
    os.mkdir(work)
    with open(os.path.join(work, "restore"), "w") as f:
        f.write(f"{iid}\n{vol}\n{new}\n")
    ctl(img, "list")
    assert os.readlink(os.path.join(d, "rootfs")) == f"../../storage/default/containers/{vol}"
    assert not os.path.exists(os.path.join(d, "rootfs.shift"))
    with open(os.path.join(d, "backup.yaml")) as f:
        assert "user.k: kept" in f.read()
    assert os.listdir(pool) == [vol] and work_dirs(img) == []
    assert_consistent(img, "c1", "default")
    ctl(img, "start", "c1")
    assert run_in(img, "c1", "stat -c %u /bin/busybox") == "0\n"


def test_debian_boots_again_after_rm_usr_and_restore(store, debian_image):
    import_debian(VESSELCTL, store, debian_image)
    ctl(store, "launch", "debian", "deb1", "-c", "limits.memory=512MiB")
    try:
        state, _ = wait_running(store, "deb1")
        assert state in ("running", "degraded"), state
        ctl(store, "snapshot", "create", "deb1", "good")
        r = ctl(store, "exec", "deb1", "--", "sh", "-c", "rm -rf /usr; ls /usr/bin | wc -l",
                check=False)
        assert ctl(store, "exec", "deb1", "--", "/usr/bin/true", check=False).returncode != 0
        ctl(store, "stop", "deb1", "--force")
        ctl(store, "snapshot", "restore", "deb1", "good")
        ctl(store, "start", "deb1")
        state, _ = wait_running(store, "deb1")
        assert state in ("running", "degraded"), (state, r.stderr)
        assert ctl(store, "exec", "deb1", "--", "test", "-x", "/usr/bin/true").returncode == 0
    finally:
        ctl(store, "delete", "-f", "deb1", check=False)
