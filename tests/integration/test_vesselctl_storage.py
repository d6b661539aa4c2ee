"""Storage pools: vesselctl storage create/list/info/delete/volume list on
the dir, overlay and btrfs back ends (btrfs on a loop file the test makes
and removes), instances in them (launch -s), the default pool, image
volumes, the remount after a host reboot, debris of killed commands, and
bad input."""
import json
import os
import subprocess

import pytest

from conftest import mounts_under
from test_vesselctl_image import VESSELCTL, ctl, fail
from test_vesselctl_lifecycle import make_boot_image
from vesselctl_store import cleanup_store


def out(store, *args, **kw):
    return ctl(store, *args, **kw).stdout


def pools(store):
    return {p["name"]: p for p in json.loads(out(store, "storage", "list", "-f", "json"))}


def volumes(store, pool):
    return json.loads(out(store, "storage", "volume", "list", pool, "-f", "json"))


def loops_of(path):
    r = subprocess.run(["losetup", "-j", path], capture_output=True, text=True)
    return [l.split(":")[0] for l in r.stdout.splitlines()]


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


def run_in(store, name, script):
    return out(store, "exec", name, "--", "sh", "-c", script)


def test_default_pool_made_on_first_use(img):
    assert pools(img) == {}
    ctl(img, "init", "bb", "c1")
    p = pools(img)
    # dir, not overlay: overlayfs refuses whiteouts (the store is not on
    # btrfs here).
    assert list(p) == ["default"] and p["default"]["driver"] == "dir"
    assert p["default"]["used_by"] == 1
    # instances/c1/rootfs is a relative link into the pool's volume.
    link = os.readlink(os.path.join(img, "instances", "c1", "rootfs"))
    assert link.startswith("../../storage/default/containers/")
    info = out(img, "info", "c1")
    assert "Storage pool: default (dir)" in info and "Disk usage:" in info
    assert json.loads(out(img, "list", "-f", "json"))[0]["storage_pool"] == "default"
    # A second instance goes to the same pool, made once.
    ctl(img, "init", "bb", "c2")
    assert pools(img)["default"]["used_by"] == 2


@pytest.fixture
def btrfs_file(tmp_path):
    """An empty file for a btrfs pool; whatever loop device the test left
    on it is detached at the end."""
    f = str(tmp_path / "pool.img")
    with open(f, "wb") as fh:
        fh.truncate(320 << 20)
    yield f
    for dev in loops_of(f):
        subprocess.run(["losetup", "-d", dev], capture_output=True)


BACKENDS = ["dir", "overlay", "btrfs"]


def create_pool(store, driver, tmp_path):
    if driver == "btrfs":
        said = out(store, "storage", "create", "p1", "btrfs", "size=300MiB")
    else:
        said = out(store, "storage", "create", "p1", driver)
    assert said == "Storage pool p1 created\n"


@pytest.mark.parametrize("driver", BACKENDS)
def test_instance_on_each_backend(img, tmp_path, driver):
    create_pool(img, driver, tmp_path)
    assert pools(img)["p1"]["driver"] == driver
    ctl(img, "launch", "bb", "c1", "-s", "p1")
    # Unprivileged: the image's files appear owned by the instance's root,
    # and what it writes is its own.
    assert run_in(img, "c1", "stat -c %u:%g /bin/busybox; id -u") == "0:0\n0\n"
    run_in(img, "c1", "echo kept > /tmp/data; mknod /tmp/null c 1 3 2>/dev/null; true")
    ctl(img, "stop", "c1")
    ctl(img, "start", "c1")
    assert run_in(img, "c1", "cat /tmp/data") == "kept\n"
    assert json.loads(out(img, "list", "-f", "json"))[0]["storage_pool"] == "p1"
    vols = volumes(img, "p1")
    kinds = sorted(v["type"] for v in vols)
    assert kinds == (["container"] if driver == "dir" else ["container", "image"])
    c = [v for v in vols if v["type"] == "container"][0]
    assert c["name"] == "c1" and c["volume"].startswith("containers/") and c["usage"] > 0
    voldir = os.path.join(img, "storage", "p1", c["volume"])
    assert os.path.isdir(voldir)
    if driver == "btrfs":
        assert subprocess.run(["btrfs", "subvolume", "show", voldir],
                              capture_output=True).returncode == 0
    # Refused while it holds an instance; nothing changes.
    assert "holds 1 instance" in fail(img, "storage", "delete", "p1")
    ctl(img, "delete", "-f", "c1")
    assert not os.path.exists(voldir)
    assert [v["type"] for v in volumes(img, "p1")] == ([] if driver == "dir" else ["image"])
    ctl(img, "storage", "delete", "p1")
    assert "p1" not in pools(img)
    assert not os.path.lexists(os.path.join(img, "storage", "p1"))
    assert not mounts_under(img)
    if driver == "btrfs":
        img_file = os.path.join(img, "disks", "p1.img")
        assert not os.path.exists(img_file) and not loops_of(img_file)


def test_overlay_shares_the_image_and_shifts_only_the_upper_layer(img):
    ctl(img, "storage", "create", "ov", "overlay")
    ctl(img, "launch", "bb", "a", "-s", "ov")
    ctl(img, "launch", "bb", "b", "-s", "ov")
    vols = volumes(img, "ov")
    assert sorted(v["type"] for v in vols) == ["container", "container", "image"]
    image_vol = [v for v in vols if v["type"] == "image"][0]
    lower = os.path.join(img, "storage", "ov", image_vol["volume"], "bin", "busybox")
    # The lower layer keeps the image's ids: never chowned.
    assert os.stat(lower).st_uid == 0
    run_in(img, "a", "echo mine > /etc/owned")
    a = [v for v in vols if v["name"] == "a"][0]
    upper = os.path.join(img, "storage", "ov", a["volume"], "upper", "etc", "owned")
    with open(os.path.join(img, "instances", "a", "rootfs.shift")) as f:
        base = int(f.read().split()[1])
    assert base >= 65536 and os.stat(upper).st_uid == base
    # overlayfs refuses whiteouts, whoever makes them (why the default
    # pool is not overlay).
    r = ctl(img, "exec", "a", "--", "mknod", "/tmp/wh", "c", "0", "0", check=False)
    assert r.returncode != 0 and "not permitted" in r.stderr
    # Only a sees its change.
    assert ctl(img, "exec", "b", "--", "cat", "/etc/owned", check=False).returncode != 0
    # Restart: the same range, no second shift.
    ctl(img, "restart", "a")
    assert run_in(img, "a", "stat -c %u /etc/owned; cat /etc/owned") == "0\nmine\n"
    assert os.stat(upper).st_uid == base
    # The image goes from the store; its lower layer stays while a and b
    # stand on it, and goes with the last of them.
    ctl(img, "image", "delete", "bb")
    ctl(img, "restart", "b")
    assert run_in(img, "b", "echo ok") == "ok\n"
    ctl(img, "delete", "-f", "a")
    assert [v["type"] for v in volumes(img, "ov")].count("image") == 1
    ctl(img, "delete", "-f", "b")
    assert volumes(img, "ov") == []


def test_overlay_remounted_after_a_reboot(img):
    ctl(img, "storage", "create", "ov", "overlay")
    ctl(img, "init", "bb", "c1", "-s", "ov")
    rootfs = os.path.realpath(os.path.join(img, "instances", "c1", "rootfs"))
    assert rootfs in mounts_under(img)
    # What a host reboot does to the mount.
    subprocess.run(["umount", "-l", rootfs], check=True)
    assert rootfs not in mounts_under(img)
    ctl(img, "file", "push", "-", "c1/etc/pushed", input="x")
    assert rootfs in mounts_under(img)
    ctl(img, "start", "c1")
    assert run_in(img, "c1", "cat /etc/pushed") == "x"


def test_btrfs_pool_on_a_file_formatted_and_mounted_again(img, btrfs_file):
    ctl(img, "storage", "create", "bf", "btrfs", f"source={btrfs_file}")
    info = json.loads(out(img, "storage", "info", "bf", "-f", "json"))
    assert info["driver"] == "btrfs" and info["source"] == btrfs_file
    assert info["space_total"] > 200 << 20
    r = subprocess.run(["blkid", "-o", "value", "-s", "TYPE", btrfs_file],
                       capture_output=True, text=True)
    assert r.stdout.strip() == "btrfs"
    ctl(img, "launch", "bb", "c1", "-s", "bf")
    run_in(img, "c1", "echo on-btrfs > /root/f")
    ctl(img, "stop", "c1")
    # The host goes down: the pool is unmounted, its loop device gone.
    mnt = os.path.join(img, "storage", "bf")
    subprocess.run(["umount", mnt], check=True)
    assert not loops_of(btrfs_file)
    r = subprocess.run([VESSELCTL, "--store", img, "start", "c1"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr
    assert "storage pool bf: mounted" in r.stderr
    assert run_in(img, "c1", "cat /root/f") == "on-btrfs\n"
    ctl(img, "delete", "-f", "c1")
    ctl(img, "storage", "delete", "bf")
    # A pool on a file of the user's keeps the file.
    assert os.path.exists(btrfs_file) and not loops_of(btrfs_file)


def test_btrfs_pool_on_a_directory_of_a_btrfs_mount(img, tmp_path, btrfs_file):
    subprocess.run(["mkfs.btrfs", "-q", btrfs_file], check=True)
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    subprocess.run(["mount", "-o", "loop", btrfs_file, str(mnt)], check=True)
    try:
        (mnt / "pool").mkdir()
        ctl(img, "storage", "create", "bd", "btrfs", f"source={mnt}/pool")
        ctl(img, "launch", "bb", "c1", "-s", "bd")
        assert run_in(img, "c1", "echo hi") == "hi\n"
        vol = [v for v in volumes(img, "bd") if v["type"] == "container"][0]["volume"]
        assert os.path.isdir(mnt / "pool" / vol)
        assert "already pool \"bd\"" in fail(img, "storage", "create", "bd2", "btrfs",
                                              f"source={mnt}/pool")
        ctl(img, "delete", "-f", "c1")
        ctl(img, "storage", "delete", "bd")
        assert sorted(os.listdir(mnt / "pool")) == []
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_bad_input_leaves_nothing(img, tmp_path, btrfs_file):
    cases = [
        (["storage", "create", "x", "zfs"], "unknown driver \"zfs\""),
        (["storage", "create", "-bad", "dir"], None),
        (["storage", "create", "x/y", "dir"], "not a valid name"),
        (["storage", "create", "x", "dir", "source=/nonexistent/dir"], "/nonexistent/dir"),
        (["storage", "create", "x", "dir", "source=relative"], "absolute path"),
        (["storage", "create", "x", "dir", "size=1GiB"], "size= is for btrfs"),
        (["storage", "create", "x", "dir", "colour=red"], "unknown key \"colour\""),
        (["storage", "create", "x", "btrfs", "size=lots"], "not a size"),
        (["storage", "create", "x", "btrfs", "size=10MiB"], "too small"),
        (["storage", "create", "x", "btrfs"], "not on btrfs"),
        (["storage", "create", "x", "btrfs", f"source={tmp_path}"], "not on a btrfs"),
        (["storage", "delete", "nope"], "no such pool"),
        (["storage", "info", "nope"], "no such pool"),
        (["launch", "bb", "c1", "-s", "nope"], "no such pool"),
    ]
    for args, msg in cases:
        r = subprocess.run([VESSELCTL, "--store", img] + args, capture_output=True, text=True)
        assert r.returncode != 0, args
        if msg:
            assert msg in r.stderr, (args, r.stderr)
    # A file that holds another file system is not formatted.
    subprocess.run(["mkfs.ext4", "-q", "-F", btrfs_file], check=True)
    assert "holds a ext4 file system" in fail(img, "storage", "create", "x", "btrfs",
                                              f"source={btrfs_file}")
    assert pools(img) == {}
    assert json.loads(out(img, "list", "-f", "json")) == []
    assert sorted(os.listdir(os.path.join(img, "storage"))) == []
    assert not os.path.exists(os.path.join(img, "disks", "x.img"))
    assert not mounts_under(img) and not loops_of(btrfs_file)
    ctl(img, "storage", "create", "d", "dir")
    assert "already exists" in fail(img, "storage", "create", "d", "overlay")
    assert pools(img)["d"]["driver"] == "dir"


def test_debris_of_killed_commands_is_removed(img):
    ctl(img, "storage", "create", "ov", "overlay")
    ctl(img, "init", "bb", "c1", "-s", "ov")
    base = os.path.join(img, "storage", "ov")
    # A volume without a row (an init killed before its commit, or a
    # delete killed after it) and one an init still at work holds.
    os.makedirs(os.path.join(base, "containers", "0123456789ab", "upper"))
    os.makedirs(os.path.join(base, "containers", "ba9876543210", "upper"))
    work = os.path.join(img, "instances", ".init-ba9876543210")
    os.makedirs(work)
    import fcntl
    fd = os.open(work, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        ctl(img, "list")
        left = sorted(os.listdir(os.path.join(base, "containers")))
        c1 = [v for v in volumes(img, "ov") if v["name"] == "c1"][0]["volume"]
        assert left == sorted([c1.split("/")[1], "ba9876543210"])
    finally:
        os.close(fd)
    ctl(img, "list")
    assert sorted(os.listdir(os.path.join(base, "containers"))) == [c1.split("/")[1]]
    assert run_in_started(img, "c1") == "ok\n"


def run_in_started(store, name):
    ctl(store, "start", name)
    return run_in(store, name, "echo ok")


def test_root_disk_size_on_btrfs_and_refused_elsewhere(img):
    ctl(img, "storage", "create", "bt", "btrfs", "size=400MiB")
    ctl(img, "init", "bb", "q1", "-s", "bt")
    ctl(img, "config", "device", "add", "q1", "root", "disk", "path=/", "size=64MiB")
    ctl(img, "start", "q1")
    r = ctl(img, "exec", "q1", "--", "sh", "-c",
            "dd if=/dev/zero of=/tmp/big bs=1M count=100 2>&1; stat -c %s /tmp/big",
            check=False)
    assert "Disk quota exceeded" in r.stdout
    assert int(r.stdout.split()[-1]) <= 64 << 20
    # Unset: the limit is lifted at the next start.
    ctl(img, "config", "device", "unset", "q1", "root", "size")
    ctl(img, "restart", "q1")
    assert run_in(img, "q1", "dd if=/dev/zero of=/tmp/big2 bs=1M count=100 2>/dev/null; "
                  "stat -c %s /tmp/big2") == f"{100 << 20}\n"
    # The root disk's pool must be the instance's.
    ctl(img, "config", "device", "set", "q1", "root", "pool=elsewhere")
    assert "but the instance is in pool bt" in fail(img, "restart", "q1")
    # A dir pool cannot limit a volume: a clear error at start.
    ctl(img, "storage", "create", "d", "dir")
    ctl(img, "init", "bb", "d1", "-s", "d")
    ctl(img, "config", "device", "add", "d1", "root", "disk", "path=/", "size=1GiB")
    assert "storage pool d (dir) cannot limit" in fail(img, "start", "d1")
    # Keys of the root disk only, and not its own.
    assert "is for the root disk" in fail(img, "config", "device", "add", "d1", "x", "disk",
                                          "path=/x", "source=/tmp", "size=1GiB")
    assert "takes pool and size" in fail(img, "config", "device", "add", "d1", "r2", "disk",
                                         "path=/", "source=/tmp")
    assert "is not a size" in fail(img, "config", "device", "set", "d1", "root", "size=big")
