"""Copies, moves and ephemeral instances: vesselctl copy within a pool (a
clone) and across pools (a full transfer) on the dir, overlay and btrfs
back ends (btrfs on a loop file in the store that `storage delete`
removes), copy of a running instance, copy -e, launch -e after a kill -9
of its monitor, move to another pool and rename, bad input, SIGKILL of
copies and moves at random moments, and copies in a rootless store."""
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time

import pytest
import yaml

from conftest import mounts_under
from test_vesselctl_image import VESSELCTL, ctl, fail
from test_vesselctl_lifecycle import cgroup_dirs, cgroup_path, make_boot_image
from test_vesselctl_rootless import (  # noqa: F401 (fixtures)
    BLOCK, _init_pid, _shift_record, _uid_of, bins, boot, clean, image_dir, rl)
from vesselctl_store import cleanup_store, monitors, rundir, runtime_state

TEMPLATES = {
    "/etc/hostname": {"when": ["create", "copy"], "template": "hostname.tpl"},
    "/etc/copied": {"when": ["copy"], "template": "copied.tpl"},
}


def out(store, *args, **kw):
    return ctl(store, *args, **kw).stdout


def run_in(store, name, script):
    return out(store, "exec", name, "--", "sh", "-c", script)


def pull(store, name, path, check=True):
    return ctl(store, "file", "pull", f"{name}{path}", "-", check=check)


def rows(store):
    return {r["name"]: r for r in json.loads(out(store, "list", "-f", "json"))}


def volumes(store, pool):
    return json.loads(out(store, "storage", "volume", "list", pool, "-f", "json"))


def disk_volumes(store, pool):
    """The volumes on disk in the pool's containers/ (rows or not)."""
    return sorted(os.listdir(os.path.join(store, "storage", pool, "containers")))


def row_volumes(store, pool):
    return sorted(v["volume"].split("/")[1] for v in volumes(store, pool)
                  if v["type"] == "container")


def config(store, name):
    return yaml.safe_load(out(store, "config", "show", name))


def host_uid_base(store, name):
    oci = json.loads(out(store, "config", "show", name, "--oci"))
    return oci["linux"]["uidMappings"][0]["hostID"]


def work_dirs(store):
    return [e for e in os.listdir(os.path.join(store, "instances")) if e.startswith(".")]


@pytest.fixture
def store(tmp_path):
    s = str(tmp_path / "store")
    yield s
    cleanup_store(VESSELCTL, s)


@pytest.fixture
def img(store, tmp_path):
    d = make_boot_image(tmp_path, init="exec sleep 1000\n")
    md = {"architecture": "x86_64", "creation_date": 1700000000, "templates": TEMPLATES}
    (d / "metadata.yaml").write_text(yaml.safe_dump(md))
    (d / "templates").mkdir()
    (d / "templates" / "hostname.tpl").write_text("{{ instance.name }}\n")
    (d / "templates" / "copied.tpl").write_text("{{ trigger }} to {{ instance.name }}\n")
    (d / "rootfs" / "etc" / "from-image").write_text("image\n")
    ctl(store, "image", "import", str(d), "--alias", "bb")
    return store


def create_pool(store, name, driver):
    if driver == "btrfs":
        ctl(store, "storage", "create", name, "btrfs", "size=300MiB")
    else:
        ctl(store, "storage", "create", name, driver)


BACKENDS = ["dir", "overlay", "btrfs"]


@pytest.mark.parametrize("driver", BACKENDS)
def test_copy_within_a_pool(img, driver):
    create_pool(img, "p1", driver)
    ctl(img, "launch", "bb", "src", "-s", "p1", "-c", "user.k=v", "-d", "the source")
    run_in(img, "src", "echo mine > /root/mine")
    ctl(img, "stop", "-f", "src")
    r = ctl(img, "copy", "src", "dst", "-c", "user.extra=1")
    assert r.stdout == "" and r.stderr == ""
    row = rows(img)["dst"]
    assert row["storage_pool"] == "p1" and row["status"] == "Stopped"
    # Its own configuration: the source's keys, profiles and description,
    # the copy trigger pending.
    c = config(img, "dst")
    assert c["config"] == {"user.k": "v", "user.extra": "1", "volatile.apply_template": "copy"}
    assert c["profiles"] == ["default"] and c["description"] == "the source"
    assert "user.extra" not in config(img, "src")["config"]
    # Its own volume, a clone: a snapshot on btrfs.
    vols = {v["name"]: v["volume"] for v in volumes(img, "p1") if v["type"] == "container"}
    assert set(vols) == {"src", "dst"} and vols["src"] != vols["dst"]
    if driver == "btrfs":
        path = os.path.join(img, "storage", "p1", vols["dst"])
        assert subprocess.run(["btrfs", "subvolume", "show", path],
                              capture_output=True).returncode == 0
    ctl(img, "start", "src")
    ctl(img, "start", "dst")
    # The copy templates, at its first start, rendered for it alone.
    assert run_in(img, "dst", "cat /etc/hostname /etc/copied /root/mine") == \
        "dst\ncopy to dst\nmine\n"
    assert run_in(img, "src", "cat /etc/hostname; test -e /etc/copied || echo none") == \
        "src\nnone\n"
    assert "volatile.apply_template" not in config(img, "dst")["config"]
    # Each one's changes are its own.
    run_in(img, "src", "echo s > /root/src-only; rm /etc/from-image")
    run_in(img, "dst", "echo d > /root/dst-only")
    assert run_in(img, "dst", "ls /root; cat /etc/from-image") == "dst-only\nmine\nimage\n"
    assert run_in(img, "src", "ls /root") == "mine\nsrc-only\n"
    # Its own id range, its files' owners right in it.
    assert host_uid_base(img, "src") != host_uid_base(img, "dst")
    assert run_in(img, "dst", "stat -c %u:%g /root/mine /bin/busybox /root/dst-only") == \
        "0:0\n0:0\n0:0\n"
    ctl(img, "delete", "-f", "src")
    assert run_in(img, "dst", "cat /root/mine") == "mine\n"
    ctl(img, "delete", "-f", "dst")
    assert disk_volumes(img, "p1") == []


def test_copy_of_a_running_instance(img):
    ctl(img, "launch", "bb", "src", "-p", "default")
    run_in(img, "src", "echo live > /root/live")
    ctl(img, "copy", "src", "dst", "-n")
    assert rows(img)["src"]["status"] == "Running"
    assert rows(img)["dst"]["status"] == "Stopped"
    assert config(img, "dst")["profiles"] == []
    ctl(img, "start", "dst")
    assert run_in(img, "dst", "cat /root/live /etc/hostname") == "live\ndst\n"
    assert run_in(img, "src", "echo ok") == "ok\n"


def test_copy_across_pools(img):
    """dir -> btrfs -> overlay -> dir, each a full transfer: the files
    (and what the instance deleted from its image) go along, the owners
    land in each copy's own range."""
    create_pool(img, "d", "dir")
    create_pool(img, "b", "btrfs")
    create_pool(img, "o", "overlay")
    ctl(img, "launch", "bb", "c0", "-s", "d")
    run_in(img, "c0", "echo data > /root/f; chown 1000:1000 /root/f")
    ctl(img, "stop", "-f", "c0")
    for src, dst, pool in [("c0", "c1", "b"), ("c1", "c2", "o"), ("c2", "c3", "d")]:
        r = ctl(img, "copy", src, dst, "-s", pool)
        assert r.stdout == ""
        assert rows(img)[dst]["storage_pool"] == pool
        ctl(img, "start", dst)
        assert run_in(img, dst, "cat /root/f /etc/hostname; stat -c %u:%g /root/f /bin/busybox") \
            == f"data\n{dst}\n1000:1000\n0:0\n"
        if dst == "c2":
            # On overlay: a whiteout in its upper layer...
            run_in(img, dst, "rm /etc/from-image")
        ctl(img, "stop", "-f", dst)
    # ...which the copy from overlay to dir does not bring back.
    assert pull(img, "c3", "/etc/from-image", check=False).returncode != 0
    assert pull(img, "c1", "/etc/from-image").stdout == "image\n"
    [c1] = [v for v in volumes(img, "b") if v["name"] == "c1"]
    assert subprocess.run(["btrfs", "subvolume", "show",
                           os.path.join(img, "storage", "b", c1["volume"])],
                          capture_output=True).returncode == 0
    # A copy from overlay within its pool shares that copy's lower layer.
    ctl(img, "copy", "c2", "c4")
    ctl(img, "start", "c4")
    assert run_in(img, "c4", "cat /root/f; test -e /etc/from-image || echo gone") == \
        "data\ngone\n"
    for n in ("c0", "c1", "c2", "c3", "c4"):
        ctl(img, "delete", "-f", n)
    for p in ("d", "b", "o"):
        assert disk_volumes(img, p) == []


def test_copy_ephemeral(img):
    ctl(img, "init", "bb", "src")
    ctl(img, "copy", "src", "e1", "-e", "--instance-only")
    assert "CONTAINER (EPHEMERAL)" in out(img, "list", "e1", "-c", "nt")
    # The copy of an instance never started: the copy trigger.
    assert config(img, "e1")["config"] == {"volatile.apply_template": "copy"}
    vol = [v["volume"] for v in volumes(img, "default") if v["name"] == "e1"][0]
    ctl(img, "start", "e1")
    ctl(img, "stop", "-f", "e1")
    assert "e1" not in rows(img)
    assert not os.path.exists(os.path.join(img, "instances", "e1"))
    assert not os.path.exists(os.path.join(img, "storage", "default", vol))
    # A copy without -e is not ephemeral, whatever its source.
    ctl(img, "init", "bb", "e2", "-e")
    ctl(img, "copy", "e2", "n2")
    assert "EPHEMERAL" not in out(img, "list", "n2", "-c", "nt")


def init_pid(store, name):
    with open(os.path.join(rundir(store, name), "init.pid")) as f:
        return int(f.read())


def alive(pid):
    """Running (a zombie, which the host's init has still to reap, is not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("driver", ["dir", "overlay"])
def test_ephemeral_after_its_monitor_was_killed(img, driver):
    create_pool(img, "p1", driver)
    ctl(img, "launch", "bb", "e1", "-e", "-s", "p1")
    ctl(img, "launch", "bb", "e2", "-e", "-s", "p1")
    ctl(img, "launch", "bb", "keep", "-s", "p1")
    cgs = [cgroup_path(img, n) for n in ("e1", "e2")]
    pids = [init_pid(img, n) for n in ("e1", "e2")]
    vols = [v["volume"] for v in volumes(img, "p1") if v["name"] in ("e1", "e2")]
    keep = set(monitors(img))
    for n in ("e1", "e2"):
        with open(os.path.join(rundir(img, n), "monitor.pid")) as f:
            pid = int(f.read())
        os.kill(pid, signal.SIGKILL)
        keep.discard(pid)
    assert len(keep) == 1
    # e2's container goes too, as when the host goes down (its runtime
    # state stays).
    os.kill(pids[1], signal.SIGKILL)
    time.sleep(0.3)
    assert alive(pids[0])
    # The next command, whatever it is, deletes them.
    r = ctl(img, "storage", "list")
    assert r.stderr.count("ephemeral, and its monitor died: deleting it") == 2, r.stderr
    assert set(rows(img)) == {"keep"}
    assert set(monitors(img)) == keep
    assert runtime_state(img) == ["keep"]
    for pid in pids:
        for _ in range(50):
            if not alive(pid):
                break
            time.sleep(0.02)
        assert not alive(pid)
    for cg in cgs:
        assert not cgroup_dirs(cg)
    for v in vols:
        assert not os.path.exists(os.path.join(img, "storage", "p1", v))
    mounts = mounts_under(img)
    assert not [m for m in mounts if any(v in m for v in vols)]
    for n in ("e1", "e2"):
        assert not os.path.exists(os.path.join(img, "instances", n))
        assert not os.path.exists(rundir(img, n))
    # Nothing more to do for the next one, and keep runs on.
    assert ctl(img, "list").stderr == ""
    assert run_in(img, "keep", "echo ok") == "ok\n"


def test_move_to_another_pool_and_rename(img):
    create_pool(img, "o", "overlay")
    create_pool(img, "b", "btrfs")
    ctl(img, "launch", "bb", "m1")
    run_in(img, "m1", "echo moved > /root/f")
    assert "is running (stop it first)" in fail(img, "move", "m1", "-s", "o")
    ctl(img, "stop", "-f", "m1")
    [old] = [v["volume"] for v in volumes(img, "default") if v["name"] == "m1"]
    r = ctl(img, "move", "m1", "-s", "o")
    assert r.stdout == "" and r.stderr == ""
    assert rows(img)["m1"]["storage_pool"] == "o"
    assert disk_volumes(img, "default") == []
    assert not os.path.exists(os.path.join(img, "storage", "default", old))
    link = os.readlink(os.path.join(img, "instances", "m1", "rootfs"))
    assert link.startswith("../../storage/o/containers/")
    with open(os.path.join(img, "instances", "m1", "backup.yaml")) as f:
        assert yaml.safe_load(f)["storage_driver"] == "overlay"
    ctl(img, "start", "m1")
    assert run_in(img, "m1", "cat /root/f; stat -c %u /root/f") == "moved\n0\n"
    ctl(img, "stop", "-f", "m1")
    ovl = os.path.realpath(os.path.join(img, "instances", "m1", "rootfs"))
    assert ovl in mounts_under(img)
    # Renamed and moved at once; the overlay mount goes with the volume.
    ctl(img, "move", "m1", "m2", "-s", "b")
    assert set(rows(img)) == {"m2"} and rows(img)["m2"]["storage_pool"] == "b"
    assert ovl not in mounts_under(img) and disk_volumes(img, "o") == []
    assert "is in storage pool b already" in fail(img, "move", "m2", "-s", "b")
    # A rename alone, as rename does; the pool stays.
    ctl(img, "move", "m2", "m3")
    assert rows(img)["m3"]["storage_pool"] == "b"
    ctl(img, "start", "m3")
    assert run_in(img, "m3", "cat /root/f; hostname") == "moved\nm3\n"
    assert work_dirs(img) == []


def test_bad_input(img):
    create_pool(img, "o", "overlay")
    ctl(img, "init", "bb", "a")
    ctl(img, "init", "bb", "b")
    before = disk_volumes(img, "default")
    assert 'instance "nope": no such instance' in fail(img, "copy", "nope", "x")
    assert 'instance "b": already exists' in fail(img, "copy", "a", "b")
    assert 'instance "b": already exists' in fail(img, "copy", "a", "b", "-s", "o")
    assert "not a valid name" in fail(img, "copy", "a", "bad_name")
    assert 'snapshot "a/snap": no such snapshot' in fail(img, "copy", "a/snap", "x")
    assert "not a valid name" in fail(img, "copy", "a/-x", "x")
    assert 'storage pool "nopool": no such pool' in fail(img, "copy", "a", "x", "-s", "nopool")
    assert 'profile "nope"' in fail(img, "copy", "a", "x", "-p", "nope")
    assert "bogus.key" in fail(img, "copy", "a", "x", "-c", "bogus.key=1")
    assert "exclude each other" in fail(img, "copy", "a", "x", "-p", "default", "-n")
    assert ctl(img, "copy", "a", check=False).returncode == 2
    assert ctl(img, "move", "a", check=False).returncode == 2
    assert 'storage pool "nopool": no such pool' in fail(img, "move", "a", "-s", "nopool")
    assert 'instance "b": already exists' in fail(img, "move", "a", "b", "-s", "o")
    assert 'instance "nope": no such instance' in fail(img, "move", "nope", "-s", "o")
    assert "not a valid name" in fail(img, "move", "a", "Bad!", "-s", "o")
    ctl(img, "start", "a")
    assert "is running (stop it first)" in fail(img, "move", "a", "-s", "o")
    assert "is running" in fail(img, "move", "a", "c")
    # Nothing half-made.
    assert sorted(rows(img)) == ["a", "b"]
    assert disk_volumes(img, "default") == before and disk_volumes(img, "o") == []
    assert work_dirs(img) == []
    assert rows(img)["a"]["storage_pool"] == "default"


def check_consistent(store, pools):
    """Every instance complete (its files readable, its row's pool its
    link's), no work directory, and no volume on disk without a row."""
    for name, row in rows(store).items():
        assert pull(store, name, "/root/f").stdout == "data\n", name
        link = os.readlink(os.path.join(store, "instances", name, "rootfs"))
        assert link.startswith(f"../../storage/{row['storage_pool']}/containers/"), (name, link)
    assert work_dirs(store) == []
    for p in pools:
        assert disk_volumes(store, p) == row_volumes(store, p), p


def timed(store, *args):
    t = time.monotonic()
    ctl(store, *args)
    return time.monotonic() - t


def test_sigkill_during_copy_and_move(img):
    """Killed at random moments of their run (spread over how long a whole
    one takes): the next command leaves either no copy or a complete one,
    the moved instance in one pool or the other, and no debris."""
    create_pool(img, "o", "overlay")
    ctl(img, "launch", "bb", "src")
    run_in(img, "src", "echo data > /root/f")
    ctl(img, "stop", "-f", "src")
    pools = ["default", "o"]
    spans = {"copy": timed(img, "copy", "src", "t1"), "copy -s": timed(img, "copy", "src", "t2",
                                                                       "-s", "o")}
    spans["move"] = timed(img, "move", "t1", "-s", "o")
    for n in ("t1", "t2"):
        ctl(img, "delete", n)
    rnd = random.Random(13)
    for i in range(16):
        args = ["copy", "src", f"k{i}"] + (["-s", "o"] if i % 2 else [])
        p = subprocess.Popen([VESSELCTL, "--store", img, *args],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0, 1.2 * spans["copy -s" if i % 2 else "copy"]))
        p.kill()
        p.wait()
        check_consistent(img, pools)
    for i in range(16):
        before = rows(img)["src"]["storage_pool"]
        p = subprocess.Popen([VESSELCTL, "--store", img, "move", "src", "-s",
                              "o" if before == "default" else "default"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0, 1.2 * spans["move"]))
        p.kill()
        p.wait()
        check_consistent(img, pools)
    ctl(img, "start", "src")
    assert run_in(img, "src", "cat /root/f") == "data\n"


def test_a_move_killed_before_its_commit_is_undone(img):
    """What a move killed between its exchange of the rootfs links and its
    commit leaves (made by hand: the window is too small to hit): the
    next command puts the old link back and removes the new volume."""
    ctl(img, "init", "bb", "m")
    inst = os.path.join(img, "instances")
    old = os.readlink(os.path.join(inst, "m", "rootfs"))
    db = sqlite3.connect(os.path.join(img, "catalogue.db"))
    [(iid,)] = db.execute("SELECT id FROM instances WHERE name = 'm'").fetchall()
    db.close()
    vol = "0123456789ab"
    containers = os.path.join(img, "storage", "default", "containers")
    subprocess.run(["cp", "-a", os.path.join(containers, old.rsplit("/", 1)[1]),
                    os.path.join(containers, vol)], check=True)
    work = os.path.join(inst, ".copy-" + vol)
    os.mkdir(work)
    with open(os.path.join(work, "move"), "w") as f:
        f.write(f"{iid}\n")
    os.symlink(old, os.path.join(work, "rootfs"))
    os.unlink(os.path.join(inst, "m", "rootfs"))
    os.symlink(f"../../storage/default/containers/{vol}", os.path.join(inst, "m", "rootfs"))
    ctl(img, "list")
    assert os.readlink(os.path.join(inst, "m", "rootfs")) == old
    assert work_dirs(img) == [] and not os.path.exists(os.path.join(containers, vol))
    assert disk_volumes(img, "default") == row_volumes(img, "default")
    # A copy's work directory (no "move" in it) just goes, with its volume.
    shutil.copytree(os.path.join(containers, old.rsplit("/", 1)[1]),
                    os.path.join(containers, vol), symlinks=True)
    os.mkdir(os.path.join(inst, ".copy-" + vol))
    ctl(img, "list")
    assert work_dirs(img) == [] and not os.path.exists(os.path.join(containers, vol))
    ctl(img, "start", "m")
    assert run_in(img, "m", "hostname") == "m\n"


# --- a rootless store (its user made by test_vesselctl_rootless's fixtures) -


def test_rootless_copy_and_ephemeral(clean, boot):
    """A rootless store (dir pools only): the copy's files are at the
    source's range, its record says so, and its first start shifts them
    into its own; copy -e goes when it stops."""
    rl = clean
    rl.ctl("launch", "boot", "src")
    rl.ctl("exec", "src", "--", "sh", "-c", "echo rl > /root/f")
    base = _uid_of(_init_pid(rl, "src"))
    rl.ctl("stop", "-f", "src")
    rl.ctl("copy", "src", "dst")
    assert _shift_record(rl, "dst") == ["shifted", str(base), str(BLOCK)]
    st = os.stat(os.path.join(rl.store, "instances", "dst", "rootfs", "root", "f"))
    assert st.st_uid == base
    # The user's ids hold one instance's range: the source goes first.
    rl.ctl("delete", "src")
    rl.ctl("start", "dst")
    assert rl.ctl("exec", "dst", "--", "sh", "-c", "cat /root/f; stat -c %u /root/f").stdout \
        == "rl\n0\n"
    new = _uid_of(_init_pid(rl, "dst"))
    assert _shift_record(rl, "dst") == ["shifted", str(new), str(BLOCK)]
    rl.ctl("stop", "-f", "dst")
    rl.ctl("copy", "dst", "eph", "-e")
    rl.ctl("delete", "dst")
    rl.ctl("start", "eph")
    rl.ctl("stop", "-f", "eph")
    assert rl.instances() == []
    assert [e for e in os.listdir(os.path.join(rl.store, "instances"))] == []


@pytest.mark.parametrize("driver", BACKENDS)
def test_copy_from_a_snapshot(img, driver):
    """copy NAME/SNAP NEW: the snapshot's files and configuration, in its
    pool (a clone) and to another one (a transfer)."""
    create_pool(img, "p1", driver)
    ctl(img, "storage", "create", "other", "dir" if driver != "dir" else "btrfs",
        *(["size=300MiB"] if driver == "dir" else []))
    ctl(img, "launch", "bb", "a", "-s", "p1", "-c", "user.k=then")
    run_in(img, "a", "echo then > /root/f")
    ctl(img, "snapshot", "create", "a", "s0")
    run_in(img, "a", "echo now > /root/f")
    ctl(img, "config", "set", "a", "user.k=now")
    ctl(img, "copy", "a/s0", "b")
    assert config(img, "b")["config"]["user.k"] == "then"
    assert rows(img)["b"]["storage_pool"] == "p1"
    ctl(img, "start", "b")
    assert run_in(img, "b", "cat /root/f; stat -c %u /root/f") == "then\n0\n"
    # Its own range, not the source's.
    assert host_uid_base(img, "b") != host_uid_base(img, "a")
    r = ctl(img, "copy", "a/s0", "c", "-s", "other", check=False)
    if driver == "overlay":
        # The upper layer is shifted, the lower layers are not.
        assert r.returncode != 0 and "copy it within its pool" in r.stderr
        ctl(img, "stop", "-f", "b")
        ctl(img, "move", "b", "-s", "other")
        ctl(img, "start", "b")
        assert run_in(img, "b", "cat /root/f; stat -c %u /root/f") == "then\n0\n"
    else:
        assert r.returncode == 0, r.stderr
        ctl(img, "start", "c")
        assert run_in(img, "c", "cat /root/f; stat -c %u /root/f") == "then\n0\n"
    assert run_in(img, "a", "cat /root/f") == "now\n"
    assert not [m for m in mounts_under(img) if "/snapshots/" in m]
