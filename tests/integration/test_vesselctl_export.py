"""vesselctl export and import: round trips on the dir, overlay and btrfs
back ends keeping owners, modes, times, xattrs, ACLs, file capabilities,
hard links, device nodes, fifos and symlinks; an unprivileged instance's
shifted ids coming out 0-based and going back into the new instance's
range; a pipe between two stores; every compression; the progress bar on
a pty; hostile and broken tarballs refused with nothing left; imports
killed at random moments leaving no half instance."""
import io
import json
import os
import random
import signal
import stat
import struct
import subprocess
import tarfile
import time

import pytest

from conftest import mounts_under, run_on_pty
from test_vesselctl_image import VESSELCTL, ctl, fail
from test_vesselctl_lifecycle import make_boot_image
from vesselctl_store import cleanup_store


def out(store, *args, **kw):
    return ctl(store, *args, **kw).stdout


@pytest.fixture
def store(tmp_path):
    s = str(tmp_path / "store")
    yield s
    cleanup_store(VESSELCTL, s)


@pytest.fixture
def other(tmp_path):
    s = str(tmp_path / "other")
    yield s
    cleanup_store(VESSELCTL, s)


@pytest.fixture
def img(store, tmp_path):
    ctl(store, "image", "import", str(make_boot_image(tmp_path, init="exec sleep 1000\n")),
        "--alias", "bb")
    return store


def loops_of(path):
    r = subprocess.run(["losetup", "-j", path], capture_output=True, text=True)
    return [l.split(":")[0] for l in r.stdout.splitlines()]


def make_pool(store, driver):
    if driver == "btrfs":
        ctl(store, "storage", "create", "p", "btrfs", "size=300MiB")
    else:
        ctl(store, "storage", "create", "p", driver)


def drop_store(store):
    """cleanup_store, and the btrfs pool's loop file with it."""
    img_file = os.path.join(store, "disks", "p.img")
    cleanup_store(VESSELCTL, store)
    for dev in loops_of(img_file):
        subprocess.run(["losetup", "-d", dev], capture_output=True)


def rootfs(store, name):
    return os.path.join(store, "instances", name, "rootfs")


def names(store):
    return [i["name"] for i in json.loads(out(store, "list", "-f", "json"))]


def nothing_left(store):
    """No instance, no staging directory, no volume, no mount of one."""
    assert names(store) == []
    inst = os.path.join(store, "instances")
    assert [e for e in os.listdir(inst)] == [] if os.path.isdir(inst) else True
    storage = os.path.join(store, "storage")
    for pool in os.listdir(storage) if os.path.isdir(storage) else []:
        c = os.path.join(storage, pool, "containers")
        assert os.listdir(c) == [], (pool, os.listdir(c))
    assert not [m for m in mounts_under(store) if "/containers/" in m]


# ---- the files a round trip must keep ----

CAP_NET_RAW_V2 = struct.pack("<IIIII", 0x02000001, 1 << 13, 0, 0, 0)


def acl(entries):
    """A POSIX ACL xattr: (tag, perm, id) entries, sorted as the kernel
    wants them."""
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", t, p, i) for t, p, i in entries)


NOID = 0xFFFFFFFF
ACL_FILE = acl([(0x01, 6, NOID), (0x02, 6, 1234), (0x04, 4, NOID), (0x08, 4, 2345),
                (0x10, 6, NOID), (0x20, 0, NOID)])
ACL_DEFAULT = acl([(0x01, 7, NOID), (0x02, 5, 4321), (0x04, 5, NOID), (0x10, 5, NOID),
                   (0x20, 5, NOID)])
MTIME = 1600000000123456789


def populate(root):
    t = os.path.join(root, "t")
    os.mkdir(t)
    f = os.path.join(t, "file")
    with open(f, "w") as fh:
        fh.write("hello\n")
    os.chown(f, 1000, 1001)
    os.chmod(f, 0o4755)
    os.setxattr(f, "user.note", b"kept")
    os.setxattr(f, "security.capability", CAP_NET_RAW_V2)
    os.link(f, os.path.join(t, "hardlink"))
    a = os.path.join(t, "acl")
    with open(a, "w") as fh:
        fh.write("acl\n")
    os.setxattr(a, "system.posix_acl_access", ACL_FILE)
    d = os.path.join(t, "dir")
    os.mkdir(d, 0o2775)
    os.chown(d, 33, 44)
    os.chmod(d, 0o2775)
    os.setxattr(d, "system.posix_acl_default", ACL_DEFAULT)
    fifo = os.path.join(t, "fifo")
    os.mkfifo(fifo, 0o640)
    os.chown(fifo, 7, 8)
    os.mknod(os.path.join(t, "null"), 0o620 | stat.S_IFCHR, os.makedev(1, 3))
    os.chown(os.path.join(t, "null"), 0, 5)
    os.mknod(os.path.join(t, "blk"), 0o600 | stat.S_IFBLK, os.makedev(7, 200))
    sym = os.path.join(t, "sym")
    os.symlink("../etc/passwd", sym)
    os.lchown(sym, 11, 12)
    big = os.path.join(t, "big")
    with open(big, "wb") as fh:
        fh.write(os.urandom(3 << 20))
    for p in ["file", "acl", "fifo", "null", "blk", "sym", "big", "dir", ""]:
        os.utime(os.path.join(t, p), ns=(MTIME, MTIME), follow_symlinks=False)


def attrs(root):
    """What a round trip keeps of t/: per name its type, mode, owner,
    mtime, device, link target, xattrs and content, and which names are
    one inode."""
    t = os.path.join(root, "t")
    res, inodes = {}, {}
    for n in sorted(os.listdir(t)) + [""]:
        p = os.path.join(t, n)
        st = os.lstat(p)
        x = {}
        for k in os.listxattr(p, follow_symlinks=False):
            x[k] = os.getxattr(p, k, follow_symlinks=False)
        data = None
        if stat.S_ISREG(st.st_mode):
            with open(p, "rb") as fh:
                data = fh.read()
        res[n] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                  st.st_mtime_ns if n else None, st.st_rdev if stat.S_ISCHR(st.st_mode) or
                  stat.S_ISBLK(st.st_mode) else 0,
                  os.readlink(p) if stat.S_ISLNK(st.st_mode) else None, x, data)
        inodes.setdefault(st.st_ino, []).append(n)
    return res, sorted(v for v in inodes.values() if len(v) > 1)


def check_kept(before, after):
    assert after == before
    res, links = after
    assert links == [["file", "hardlink"]]
    assert res["file"][7]["security.capability"] == CAP_NET_RAW_V2
    assert res["acl"][7]["system.posix_acl_access"] == ACL_FILE
    assert res["dir"][7]["system.posix_acl_default"] == ACL_DEFAULT
    assert res["file"][1] == 0o4755 and res["file"][2:4] == (1000, 1001)


# ---- round trips ----

@pytest.mark.parametrize("driver", ["dir", "overlay", "btrfs"])
def test_round_trip_keeps_every_kind_of_file(img, other, tmp_path, driver):
    make_pool(img, driver)
    ctl(img, "init", "bb", "c1", "-s", "p", "-c", "user.x=1", "-d", "MY description")
    populate(rootfs(img, "c1"))
    before = attrs(rootfs(img, "c1"))
    tarball = str(tmp_path / "c1.tar.zst")
    r = ctl(img, "export", "c1", tarball)
    # Not a terminal: the final line only.
    assert r.stdout == "" and r.stderr.startswith("Exported c1 to ") and \
        r.stderr.count("\n") == 1, r.stderr
    with open(tarball, "rb") as f:
        assert f.read(4) == b"\x28\xb5\x2f\xfd"  # zstd
    try:
        make_pool(other, driver)
        r = ctl(other, "import", tarball, "-s", "p")
        assert r.stderr.startswith("Imported c1: ") and r.stderr.count("\n") == 1, r.stderr
        assert names(other) == ["c1"]
        info = json.loads(out(other, "list", "-f", "json"))[0]
        assert info["status"] == "Stopped" and info["storage_pool"] == "p"
        check_kept(before, attrs(rootfs(other, "c1")))
        assert out(other, "config", "get", "c1", "user.x") == "1\n"
        # The image's files came along, and the instance boots.
        assert os.path.isfile(os.path.join(rootfs(other, "c1"), "bin", "busybox"))
        ctl(other, "start", "c1")
        assert out(other, "exec", "c1", "--", "cat", "/t/file") == "hello\n"
        assert out(other, "exec", "c1", "--", "stat", "-c", "%u:%g %a",
                   "/t/file") == "1000:1001 4755\n"
        ctl(other, "delete", "-f", "c1")
        nothing_left(other)
    finally:
        drop_store(other)
    drop_store(img)


def shift_base(store, name):
    with open(os.path.join(store, "instances", name, "rootfs.shift")) as f:
        words = f.read().split()
    assert words[0] == "shifted"
    return int(words[1])


def test_unprivileged_ids_come_out_0_based_and_go_into_the_new_range(img, other, tmp_path):
    # overlay: the upper layer is shifted on disk into the instance's
    # range, and the mounted view shows shifted ids throughout.
    make_pool(img, "overlay")
    ctl(img, "launch", "bb", "c1", "-s", "p")
    out(img, "exec", "c1", "--", "sh", "-c", "echo x > /x; chown 5:6 /x; mkdir /home/u; "
        "chown 1000:1000 /home/u")
    base = shift_base(img, "c1")
    assert base >= 65536
    assert os.stat(os.path.join(rootfs(img, "c1"), "x")).st_uid == base + 5
    # Running: exported as it is, and said so.
    r = ctl(img, "export", "c1", str(tmp_path / "c1.tar"), "--compression", "none")
    assert "c1 is running" in r.stderr
    with tarfile.open(str(tmp_path / "c1.tar")) as t:
        m = {i.name: i for i in t.getmembers()}
    root = "backup/container/rootfs/"
    assert (m[root + "x"].uid, m[root + "x"].gid) == (5, 6)
    assert (m[root + "home/u"].uid, m[root + "home/u"].gid) == (1000, 1000)
    assert m[root + "bin/busybox"].uid == 0 and m[root + "etc/passwd"].gid == 0
    assert max(i.uid for i in m.values()) < 65536
    ctl(img, "stop", "-f", "c1")
    # Into another store's dir pool: unshifted on disk, the new instance's
    # own range at its start (an idmapped mount).
    try:
        ctl(other, "import", str(tmp_path / "c1.tar"), "web")
        assert os.stat(os.path.join(rootfs(other, "web"), "x")).st_uid == 5
        ctl(other, "start", "web")
        assert out(other, "exec", "web", "--", "stat", "-c", "%u:%g", "/x", "/home/u",
                   "/bin/busybox") == "5:6\n1000:1000\n0:0\n"
        # And into an overlay pool: the upper layer shifted at the start.
        make_pool(other, "overlay")
        ctl(other, "import", str(tmp_path / "c1.tar"), "web2", "-s", "p")
        ctl(other, "start", "web2")
        base2 = shift_base(other, "web2")
        assert base2 >= 65536
        assert os.stat(os.path.join(rootfs(other, "web2"), "x")).st_uid == base2 + 5
        assert out(other, "exec", "web2", "--", "stat", "-c", "%u:%g", "/x",
                   "/bin/busybox") == "5:6\n0:0\n"
    finally:
        drop_store(other)


def test_export_pipe_import_moves_an_instance_between_stores(img, other):
    ctl(img, "profile", "create", "extra")
    ctl(img, "profile", "set", "extra", "user.from=profile")
    ctl(img, "launch", "bb", "web", "-p", "default", "-p", "extra")
    r = subprocess.run(f"{VESSELCTL} --store {img} export web - | "
                       f"{VESSELCTL} --store {other} import -", shell=True,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "web is running" in r.stderr and "Exported web to stdout" in r.stderr
    # The profile the other store lacked, made from the backup's copy.
    assert "profile extra made from the tarball's copy" in r.stderr
    assert names(other) == ["web"]
    assert out(other, "profile", "get", "extra", "user.from") == "profile\n"
    assert out(other, "config", "get", "web", "user.from", "--expanded") == "profile\n"
    ctl(other, "start", "web")
    assert out(other, "exec", "web", "--", "cat", "/etc/hostname") is not None


@pytest.mark.parametrize("comp,magic,ext", [
    ("zstd", b"\x28\xb5\x2f\xfd", "tar.zst"), ("gzip", b"\x1f\x8b", "tar.gz"),
    ("xz", b"\xfd7zXZ", "tar.xz"), ("none", None, "tar")])
def test_every_compression(img, tmp_path, comp, magic, ext):
    ctl(img, "init", "bb", "c1")
    ctl(img, "export", "c1", "--compression", comp, cwd=str(tmp_path))
    path = tmp_path / f"c1.{ext}"
    data = path.read_bytes()
    if magic:
        assert data.startswith(magic)
    else:
        assert data[257:262] == b"ustar"
    ctl(img, "import", str(path), "c2")
    assert names(img) == ["c1", "c2"]
    bad = ctl(img, "export", "c1", "--compression", "bzip2", check=False)
    assert bad.returncode == 2 and "zstd, gzip, xz or none" in bad.stderr


def test_progress_bar_on_a_terminal(img, tmp_path):
    ctl(img, "init", "bb", "c1")
    populate(rootfs(img, "c1"))
    tarball = str(tmp_path / "c1.tar.zst")
    rc, text = run_on_pty([VESSELCTL, "--store", img, "export", "c1", tarball])
    assert rc == 0, text
    pass
    assert "Exporting c1 [" in text and "%" in text and "/s" in text and " left" in text
    assert "\r\x1b[K" in text and "Exported c1 to " in text
    rc, text = run_on_pty([VESSELCTL, "--store", img, "import", tarball, "c2"])
    assert rc == 0, text
    pass
    assert "Importing c2 [" in text and "100%" in text and "Imported c2: " in text
    # From a pipe: no total, bytes and rate only.
    rc, text = run_on_pty(["sh", "-c", f"cat {tarball} | {VESSELCTL} --store {img} "
                           "import - c3"])
    assert rc == 0, text
    assert "Importing c3  " in text and "%" not in text.split("Imported")[0]
    # image import draws one too, and prints its own final line.
    bb = make_boot_image(tmp_path, name="img2")
    subprocess.run(["tar", "-C", str(bb), "-czf", str(tmp_path / "img2.tar.gz"), "."],
                   check=True)
    rc, text = run_on_pty([VESSELCTL, "--store", img, "image", "import",
                           str(tmp_path / "img2.tar.gz")])
    assert rc == 0, text
    assert "Importing " in text and "Image imported with fingerprint" in text


# ---- bad input ----

def add(t, name, type=tarfile.REGTYPE, data=b"", **kw):
    i = tarfile.TarInfo(name)
    i.type = type
    i.size = len(data) if type == tarfile.REGTYPE else 0
    i.mode = kw.pop("mode", 0o755 if type == tarfile.DIRTYPE else 0o644)
    for k, v in kw.items():
        setattr(i, k, v)
    t.addfile(i, io.BytesIO(data) if type == tarfile.REGTYPE else None)


INDEX = b"version: 1\nname: c1\ntype: container\nbackend: dir\npool: default\n"
BACKUP = (b"name: c1\ntype: container\narchitecture: x86_64\nimage: ''\n"
          b"profiles:\n- name: default\n  description: ''\n  config: {}\n  devices: {}\n")


def hostile(path, entries, index=True, backup=True):
    with tarfile.open(path, "w") as t:
        add(t, "backup", tarfile.DIRTYPE)
        if index:
            add(t, "backup/index.yaml", data=INDEX)
        add(t, "backup/container", tarfile.DIRTYPE)
        if backup:
            add(t, "backup/container/backup.yaml", data=BACKUP)
        add(t, "backup/container/rootfs", tarfile.DIRTYPE)
        add(t, "backup/container/rootfs/etc", tarfile.DIRTYPE)
        for e in entries:
            add(t, **e)
    return path


def test_hostile_and_broken_tarballs_leave_nothing(img, tmp_path):
    target = tmp_path / "outside"
    target.mkdir()
    R = "backup/container/rootfs/"
    cases = {
        "dotdot": ([dict(name=R + "../../../outside/evil", data=b"x")], '".." components'),
        "absolute": ([dict(name="/tmp/evil-abs", data=b"x")], "absolute paths"),
        "symlink-then-write": ([dict(name=R + "lnk", type=tarfile.SYMTYPE,
                                     linkname=str(target)),
                                dict(name=R + "lnk/evil", data=b"x")], "through a symlink"),
        "symlink-relative-out": ([dict(name=R + "up", type=tarfile.SYMTYPE,
                                       linkname="../../../../../.."),
                                  dict(name=R + "up/evil", data=b"x")], "through a symlink"),
        "hardlink-absolute": ([dict(name=R + "hl", type=tarfile.LNKTYPE,
                                    linkname="/etc/passwd")], "absolute paths"),
        "hardlink-out-of-tree": ([dict(name=R + "hl", type=tarfile.LNKTYPE,
                                       linkname="backup/container/backup.yaml")],
                                 "outside its tree"),
        "hardlink-dotdot": ([dict(name=R + "hl", type=tarfile.LNKTYPE,
                                  linkname=R + "../../../outside/x")], '".." components'),
        "device-hardlink-out": ([dict(name=R + "null", type=tarfile.CHRTYPE, devmajor=1,
                                      devminor=3),
                                 dict(name="backup/container/templates/n", type=tarfile.LNKTYPE,
                                      linkname=R + "null")], "outside its tree"),
        "not-a-backup": ([dict(name="rootfs/etc/passwd", data=b"x")],
                         "not part of an instance backup"),
    }
    for name, (entries, said) in cases.items():
        p = hostile(str(tmp_path / f"{name}.tar"), entries)
        line = fail(img, "import", p)
        assert said in line, (name, line)
        nothing_left(img)
    assert os.listdir(target) == []
    assert not os.path.exists("/tmp/evil-abs")
    # Missing parts.
    line = fail(img, "import", hostile(str(tmp_path / "nobackup.tar"), [], backup=False))
    assert "no backup/container/backup.yaml" in line
    line = fail(img, "import", hostile(str(tmp_path / "noindex.tar"), [], index=False))
    assert "no backup/index.yaml" in line
    nothing_left(img)
    # Not a tarball; a truncated one.
    junk = tmp_path / "junk"
    junk.write_bytes(os.urandom(100000))
    assert "not a tarball" in fail(img, "import", str(junk))
    ctl(img, "init", "bb", "c1")
    populate(rootfs(img, "c1"))
    good = str(tmp_path / "good.tar.zst")
    ctl(img, "export", "c1", good)
    ctl(img, "delete", "c1")
    data = open(good, "rb").read()
    cut = tmp_path / "cut.tar.zst"
    cut.write_bytes(data[:len(data) // 2])
    fail(img, "import", str(cut))
    nothing_left(img)
    # Another instance has the name: refused before anything is made.
    ctl(img, "import", good)
    line = fail(img, "import", good)
    assert 'instance "c1": already exists' in line
    line = fail(img, "import", good, "bad_name")
    assert "not a valid name" in line
    assert names(img) == ["c1"]
    assert [e for e in os.listdir(os.path.join(img, "instances"))] == ["c1"]


def test_import_killed_at_random_moments_leaves_no_half_instance(img, tmp_path):
    ctl(img, "init", "bb", "c1")
    populate(rootfs(img, "c1"))
    tarball = str(tmp_path / "c1.tar")
    ctl(img, "export", "c1", tarball, "--compression", "none")
    ctl(img, "delete", "c1")
    data = open(tarball, "rb").read()
    rnd = random.Random(13)
    made = 0
    for _ in range(6):
        p = subprocess.Popen([VESSELCTL, "--store", img, "import", "-"], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cut = rnd.randrange(len(data) + 1)
        try:
            p.stdin.write(data[:cut])
            p.stdin.flush()
        except BrokenPipeError:
            pass
        time.sleep(rnd.random() * 0.2)
        p.send_signal(signal.SIGKILL)
        p.wait()
        try:
            p.stdin.close()
        except BrokenPipeError:
            pass
        # The next command cleans up: nothing, or a complete instance.
        if names(img) == ["c1"]:
            made += 1
            assert os.path.isfile(os.path.join(rootfs(img, "c1"), "t", "file"))
            ctl(img, "delete", "c1")
        nothing_left(img)
    # And one that is let through is complete.
    r = subprocess.run([VESSELCTL, "--store", img, "import", "-"], input=data,
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert names(img) == ["c1"]


def test_files_shifted_on_disk_are_mapped_back_acls_and_capabilities_too(img, tmp_path):
    """A rootfs whose record says its files are shifted (as on a file
    system that cannot be idmapped): every owner, the ids of ACL entries
    and a v3 capability's root id come out 0-based."""
    base = 3000000
    ctl(img, "init", "bb", "c1")
    r = rootfs(img, "c1")
    for dirpath, dirs, files in os.walk(r):
        for n in dirs + files + ([""] if dirpath == r else []):
            p = os.path.join(dirpath, n)
            st = os.lstat(p)
            os.lchown(p, base + st.st_uid, base + st.st_gid)
    f = os.path.join(r, "f")
    with open(f, "w") as fh:
        fh.write("x\n")
    os.chown(f, base + 5, base + 6)
    os.setxattr(f, "system.posix_acl_access",
                acl([(0x01, 6, NOID), (0x02, 4, base + 1234), (0x04, 4, NOID), (0x10, 4, NOID),
                     (0x20, 0, NOID)]))
    os.setxattr(f, "security.capability",
                struct.pack("<IIIIII", 0x03000001, 1 << 13, 0, 0, 0, base))
    with open(os.path.join(img, "instances", "c1", "rootfs.shift"), "w") as fh:
        fh.write(f"shifted {base} 65536\n")
    tarball = str(tmp_path / "c1.tar")
    ctl(img, "export", "c1", tarball, "--compression", "none")
    with tarfile.open(tarball) as t:
        m = {i.name: i for i in t.getmembers()}
    root = "backup/container/rootfs"
    assert (m[root].uid, m[root + "/f"].uid, m[root + "/f"].gid) == (0, 5, 6)
    assert m[root + "/bin/busybox"].uid == 0
    assert all(i.uid < 65536 and i.gid < 65536 for i in m.values())
    ctl(img, "import", tarball, "c2")
    g = os.path.join(rootfs(img, "c2"), "f")
    assert (os.stat(g).st_uid, os.stat(g).st_gid) == (5, 6)
    assert os.getxattr(g, "system.posix_acl_access") == acl(
        [(0x01, 6, NOID), (0x02, 4, 1234), (0x04, 4, NOID), (0x10, 4, NOID), (0x20, 0, NOID)])
    assert os.getxattr(g, "security.capability") == struct.pack("<IIIII", 0x02000001, 1 << 13,
                                                                 0, 0, 0)
    # The import is not shifted: the new instance gets its own range.
    assert not os.path.exists(os.path.join(img, "instances", "c2", "rootfs.shift"))


def test_export_refusals(img, tmp_path):
    assert "no such instance" in fail(img, "export", "nope", str(tmp_path / "x.tar"))
    assert not os.path.exists(tmp_path / "x.tar")
    ctl(img, "init", "bb", "c1")
    # A directory that cannot be written: nothing left behind.
    line = fail(img, "export", "c1", str(tmp_path / "missing" / "x.tar"))
    assert "No such file or directory" in line


# ---- snapshots ----

def snaps(store, name):
    return json.loads(out(store, "snapshot", "list", name, "-f", "json"))


def snap_info(store, name, snap):
    return json.loads(out(store, "snapshot", "info", name, snap, "-f", "json"))


def snap_conf(info):
    """What a round trip keeps of a snapshot's row."""
    return {k: v for k, v in info.items() if k not in ("usage", "size", "disk_usage", "volume")}


def two_snapshots(store):
    """c1 with snapshots s1 and s2 of different files and configuration;
    the files of each (attrs)."""
    r = rootfs(store, "c1")
    populate(r)
    with open(os.path.join(r, "t", "which"), "w") as f:
        f.write("one\n")
    first = attrs(r)
    ctl(store, "snapshot", "create", "c1", "s1")
    ctl(store, "config", "set", "c1", "user.x", "2")
    ctl(store, "config", "device", "add", "c1", "d0", "disk", "source=/tmp", "path=/mnt")
    os.unlink(os.path.join(r, "t", "big"))
    with open(os.path.join(r, "t", "which"), "w") as f:
        f.write("two\n")
    second = attrs(r)
    ctl(store, "snapshot", "create", "c1", "s2")
    ctl(store, "config", "set", "c1", "user.x", "3")
    with open(os.path.join(r, "t", "which"), "w") as f:
        f.write("now\n")
    return first, second


@pytest.mark.parametrize("driver", ["dir", "overlay", "btrfs"])
def test_round_trip_with_snapshots(img, other, tmp_path, driver):
    make_pool(img, driver)
    ctl(img, "init", "bb", "c1", "-s", "p", "-c", "user.x=1", "-d", "first")
    first, second = two_snapshots(img)
    was = [snap_conf(snap_info(img, "c1", s)) for s in ("s1", "s2")]
    tarball = str(tmp_path / "c1.tar")
    ctl(img, "export", "c1", tarball, "--compression", "none")
    with tarfile.open(tarball) as t:
        order = [m.name for m in t.getmembers()]
        index = t.extractfile("backup/index.yaml").read().decode()
    assert order[1] == "backup/index.yaml"
    assert 'snapshots:\n- "s1"\n- "s2"\n' in index
    # The instance, then each snapshot's entries together.
    last_inst = max(k for k, n in enumerate(order) if n.startswith("backup/container/"))
    s1 = [k for k, n in enumerate(order) if n.startswith("backup/snapshots/s1/")]
    s2 = [k for k, n in enumerate(order) if n.startswith("backup/snapshots/s2/")]
    assert last_inst < min(s1) and max(s1) < min(s2) and s2[-1] == len(order) - 1
    assert order[s1[0] - 1] == "backup/snapshots/s1" and \
        order[s1[0]] == "backup/snapshots/s1/backup.yaml"
    assert "backup/snapshots/s2/rootfs/t/big" not in order
    try:
        make_pool(other, driver)
        with open(tarball, "rb") as f:
            r = ctl(other, "import", "-", "-s", "p", stdin=f)
        assert "2 snapshots of c1 imported" in r.stderr, r.stderr
        assert [s["name"] for s in snaps(other, "c1")] == ["s1", "s2"]
        assert [snap_conf(snap_info(other, "c1", s)) for s in ("s1", "s2")] == was
        with open(os.path.join(rootfs(other, "c1"), "t", "which")) as f:
            assert f.read() == "now\n"
        ctl(other, "snapshot", "restore", "c1", "s1")
        check_kept(first, attrs(rootfs(other, "c1")))
        assert out(other, "config", "get", "c1", "user.x") == "1\n"
        ctl(other, "snapshot", "restore", "c1", "s2")
        assert attrs(rootfs(other, "c1")) == second
        assert out(other, "config", "get", "c1", "user.x") == "2\n"
        assert "d0" in out(other, "config", "device", "list", "c1")
        ctl(other, "start", "c1")
        assert out(other, "exec", "c1", "--", "cat", "/t/which") == "two\n"
        ctl(other, "delete", "-f", "c1")
        nothing_left(other)
        vols = os.path.join(other, "storage", "p", "snapshots")
        assert not os.path.isdir(vols) or os.listdir(vols) == []
        # --instance-only: no snapshot in the tarball, none imported.
        only = str(tmp_path / "only.tar")
        ctl(img, "export", "c1", only, "--instance-only", "--compression", "none")
        with tarfile.open(only) as t:
            assert not [m for m in t.getnames() if m.startswith("backup/snapshots")]
            assert "snapshots: []\n" in t.extractfile("backup/index.yaml").read().decode()
        r = ctl(other, "import", only, "-s", "p")
        assert "snapshot" not in r.stderr
        assert snaps(other, "c1") == []
        ctl(other, "delete", "c1")
    finally:
        drop_store(other)
    drop_store(img)


SNAP_BACKUP = b"name: s1\ncreated_at: '1600000000'\nexpires_at: '0'\nconfig: {}\ndevices: {}\n"


def with_snapshot(path, entries, listed=("s1",)):
    index = INDEX + b"snapshots:\n" + b"".join(b"- " + n.encode() + b"\n" for n in listed)
    with tarfile.open(path, "w") as t:
        add(t, "backup", tarfile.DIRTYPE)
        add(t, "backup/index.yaml", data=index)
        add(t, "backup/container", tarfile.DIRTYPE)
        add(t, "backup/container/backup.yaml", data=BACKUP)
        add(t, "backup/container/rootfs", tarfile.DIRTYPE)
        add(t, "backup/container/rootfs/etc", tarfile.DIRTYPE)
        add(t, "backup/container/rootfs/etc/x", data=b"x")
        add(t, "backup/snapshots", tarfile.DIRTYPE)
        add(t, "backup/snapshots/s1", tarfile.DIRTYPE)
        add(t, "backup/snapshots/s1/backup.yaml", data=SNAP_BACKUP)
        add(t, "backup/snapshots/s1/rootfs", tarfile.DIRTYPE)
        add(t, "backup/snapshots/s1/rootfs/etc", tarfile.DIRTYPE)
        for e in entries:
            add(t, **e)
    return path


def nothing_left_at_all(store):
    nothing_left(store)
    storage = os.path.join(store, "storage")
    for pool in os.listdir(storage) if os.path.isdir(storage) else []:
        c = os.path.join(storage, pool, "snapshots")
        assert not os.path.isdir(c) or os.listdir(c) == [], (pool, os.listdir(c))
    assert not [m for m in mounts_under(store) if "/snapshots/" in m]


def test_hostile_snapshot_entries_leave_nothing(img, tmp_path):
    target = tmp_path / "outside"
    target.mkdir()
    S = "backup/snapshots/s1/rootfs/"
    cases = {
        "dotdot": ([dict(name=S + "../../../../outside/evil", data=b"x")], '".." components'),
        "snap-dotdot": ([dict(name="backup/snapshots/../../outside/e", data=b"x")],
                        '".." components'),
        "symlink-then-write": ([dict(name=S + "lnk", type=tarfile.SYMTYPE,
                                     linkname=str(target)),
                                dict(name=S + "lnk/evil", data=b"x")], "through a symlink"),
        "symlink-relative-out": ([dict(name=S + "up", type=tarfile.SYMTYPE,
                                       linkname="../../../../../../.."),
                                  dict(name=S + "up/evil", data=b"x")], "through a symlink"),
        "hardlink-to-instance": ([dict(name=S + "hl", type=tarfile.LNKTYPE,
                                       linkname="backup/container/rootfs/etc/x")],
                                 "outside its tree"),
        "hardlink-absolute": ([dict(name=S + "hl", type=tarfile.LNKTYPE,
                                    linkname="/etc/passwd")], "absolute paths"),
        "hardlink-other-snapshot": ([dict(name="backup/snapshots/s2/rootfs/hl",
                                          type=tarfile.LNKTYPE, linkname=S + "etc")],
                                    "not listed"),
        "unlisted": ([dict(name="backup/snapshots/zz/rootfs/a", data=b"x")], "not listed"),
        "stray": ([dict(name="backup/snapshots/s1/other", data=b"x")], "not part of a snapshot"),
    }
    for name, (entries, said) in cases.items():
        line = fail(img, "import", with_snapshot(str(tmp_path / f"{name}.tar"), entries))
        assert said in line, (name, line)
        nothing_left_at_all(img)
    assert os.listdir(target) == []
    # Listed, but missing: a truncated tarball.
    line = fail(img, "import", with_snapshot(str(tmp_path / "missing.tar"), [],
                                             listed=("s1", "s2")))
    assert 'snapshot "s2": listed in backup/index.yaml, but not in the tarball' in line
    nothing_left_at_all(img)
    # A sound one goes in.
    ctl(img, "import", with_snapshot(str(tmp_path / "ok.tar"),
                                     [dict(name=S + "etc/y", data=b"y")]))
    assert [s["name"] for s in snaps(img, "c1")] == ["s1"]
    ctl(img, "snapshot", "restore", "c1", "s1")
    with open(os.path.join(rootfs(img, "c1"), "etc", "y")) as f:
        assert f.read() == "y"
    assert not os.path.exists(os.path.join(rootfs(img, "c1"), "etc", "x"))


def test_import_with_snapshots_killed_at_random_moments(img, tmp_path):
    ctl(img, "init", "bb", "c1")
    two_snapshots(img)
    tarball = str(tmp_path / "c1.tar")
    ctl(img, "export", "c1", tarball, "--compression", "none")
    ctl(img, "delete", "c1")
    nothing_left_at_all(img)
    data = open(tarball, "rb").read()
    rnd = random.Random(14)
    for k in range(8):
        p = subprocess.Popen([VESSELCTL, "--store", img, "import", "-"], stdin=subprocess.PIPE,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Half of them with the whole tarball: killed in the volumes' making
        # or the commit.
        cut = len(data) if k % 2 else rnd.randrange(len(data) + 1)
        try:
            p.stdin.write(data[:cut])
            p.stdin.flush()
        except BrokenPipeError:
            pass
        time.sleep(rnd.random() * 0.3)
        p.send_signal(signal.SIGKILL)
        p.wait()
        try:
            p.stdin.close()
        except BrokenPipeError:
            pass
        if names(img) == ["c1"]:
            assert [s["name"] for s in snaps(img, "c1")] == ["s1", "s2"]
            ctl(img, "snapshot", "restore", "c1", "s1")
            with open(os.path.join(rootfs(img, "c1"), "t", "which")) as f:
                assert f.read() == "one\n"
            ctl(img, "delete", "c1")
        nothing_left_at_all(img)
        assert not [e for e in os.listdir(os.path.join(img, "instances"))]
