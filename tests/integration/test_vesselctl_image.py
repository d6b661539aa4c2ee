"""vesselctl image: import (directory, unified, split, plain rootfs),
list, info, delete, alias, export; hostile tarballs; SIGKILL and
concurrency.  Every test has its own store (--store in a temp dir)."""
import hashlib
import io
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import tarfile
import time

import pytest

from conftest import REPO, base_rootfs
from vesselctl_store import cleanup_store

VESSELCTL = os.environ.get("VESSELCTL", os.path.join(REPO, "build", "vesselctl"))

METADATA = """architecture: x86_64
creation_date: 1700000000
properties:
  description: {desc}
  os: busybox
templates:
  /etc/hostname:
    when: [create, copy]
    template: hostname.tpl
"""


@pytest.fixture
def store(tmp_path):
    s = str(tmp_path / "store")
    yield s
    cleanup_store(VESSELCTL, s)


def ctl(store, *args, check=True, **kw):
    r = subprocess.run([VESSELCTL, "--store", store, *args], capture_output=True, text=True,
                       timeout=120, **kw)
    if check:
        assert r.returncode == 0, f"vesselctl {' '.join(args)}: {r.stderr}"
    return r


def fail(store, *args):
    """A failing command: non-zero, one clear line on stderr."""
    r = ctl(store, *args, check=False)
    assert r.returncode != 0, r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vesselctl: "), r.stderr
    return lines[0]


def sha256(*paths):
    h = hashlib.sha256()
    for p in paths:
        with open(p, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def images(store):
    return json.loads(ctl(store, "image", "list", "-f", "json").stdout)


def assert_empty(store):
    """No row and nothing under images/ (after the recovery of a command)."""
    assert images(store) == []
    assert os.listdir(os.path.join(store, "images")) == []


def assert_consistent(store):
    """Every row has its directory, every directory its row, no leftovers."""
    rows = {i["fingerprint"] for i in images(store)}
    entries = set(os.listdir(os.path.join(store, "images")))
    assert entries == rows, (entries, rows)
    for fp in rows:
        assert os.path.isfile(os.path.join(store, "images", fp, "rootfs", "bin", "busybox"))


def make_image_dir(tmp_path, desc="BusyBox test image", name="img", metadata=None):
    d = tmp_path / name
    shutil.copytree(base_rootfs(), d / "rootfs", symlinks=True)
    (d / "metadata.yaml").write_text(metadata if metadata is not None else METADATA.format(desc=desc))
    (d / "templates").mkdir()
    (d / "templates" / "hostname.tpl").write_text("{{ container.name }}\n")
    return d


def tar(src, out, *members, compress=None):
    flag = {"gz": ["-z"], "xz": ["-J"], "zst": ["--zstd"], None: []}[compress]
    subprocess.run(["tar", "--xattrs", "--xattrs-include=*", "--numeric-owner", *flag, "-C",
                    str(src), "-cf", str(out), *members], check=True)
    return str(out)


@pytest.fixture
def imgdir(tmp_path):
    return make_image_dir(tmp_path)


# --- the commands ----------------------------------------------------------

def test_help(store):
    for args in (["--help"], ["image", "--help"], *[["image", c, "--help"] for c in
                 ("import", "build", "list", "info", "delete", "export", "alias")]):
        r = ctl(store, *args)
        assert r.stdout.startswith("Usage: vesselctl"), args
    assert "no such command" not in fail(store, "frobnicate")
    assert "unknown image command" in fail(store, "image", "frobnicate")


def test_import_directory_list_info(store, imgdir):
    r = ctl(store, "image", "import", str(imgdir), "--alias", "bb", "--alias", "busybox")
    fp = r.stdout.split()[4]
    assert len(fp) == 64
    out = ctl(store, "image", "list").stdout
    assert [h.strip() for h in out.splitlines()[1].split("|")[1:-1]] == \
        ["ALIAS", "FINGERPRINT", "DESCRIPTION", "ARCH", "SIZE", "UPLOAD DATE"]
    row = [c.strip() for c in out.splitlines()[3].split("|")[1:-1]]
    assert row[0] == "bb (1 more)" and row[1] == fp[:12]
    assert row[2] == "BusyBox test image" and row[3] == "x86_64"
    assert row[4].endswith("MiB") and "(UTC)" in row[5]
    csv = ctl(store, "image", "list", "-f", "csv").stdout.strip().split(",")
    assert csv[:4] == ["bb (1 more)", fp[:12], "BusyBox test image", "x86_64"]
    [j] = images(store)
    assert j["fingerprint"] == fp and j["properties"]["os"] == "busybox"
    assert sorted(a["name"] for a in j["aliases"]) == ["bb", "busybox"]
    assert j["created_at"] == "2023-11-14T22:13:20Z"
    y = ctl(store, "image", "list", "-f", "yaml").stdout
    assert f"fingerprint: {fp}" in y and "architecture: x86_64" in y
    info = ctl(store, "image", "info", "bb").stdout
    assert f"Fingerprint: {fp}" in info and "    description: BusyBox test image" in info
    assert "    - busybox" in info and "Created: 2023/11/14 22:13 UTC" in info
    assert json.loads(ctl(store, "image", "info", fp[:5], "-f", "json").stdout)["size"] > 0
    d = os.path.join(store, "images", fp)
    assert os.readlink(os.path.join(d, "rootfs", "bin", "sh")) == "busybox"
    assert os.path.isfile(os.path.join(d, "templates", "hostname.tpl"))
    assert open(os.path.join(d, "metadata.yaml")).read() == (imgdir / "metadata.yaml").read_text()
    # The fingerprint of a directory is that of the tarball kept (and exported).
    assert sha256(os.path.join(d, "image.tar")) == fp
    # The same directory again: the same fingerprint, already there.
    r = ctl(store, "image", "import", str(imgdir), "--alias", "again")
    assert "already exists" in r.stdout and fp in r.stdout
    assert len(images(store)) == 1
    assert ctl(store, "image", "info", "again").stdout.startswith(f"Fingerprint: {fp}")


@pytest.mark.parametrize("compress", [None, "gz", "xz", "zst"])
def test_import_unified(store, imgdir, tmp_path, compress):
    t = tar(imgdir, tmp_path / f"image.tar.{compress}", "metadata.yaml", "rootfs", "templates",
            compress=compress)
    fp = ctl(store, "image", "import", t, "-q").stdout.strip()
    assert fp == sha256(t)
    root = os.path.join(store, "images", fp, "rootfs")
    assert os.path.samefile(root, root) and os.path.isfile(os.path.join(root, "bin", "busybox"))
    assert os.stat(os.path.join(root, "tmp")).st_mode & 0o7777 == 0o1777


def test_import_split_and_export(store, imgdir, tmp_path):
    meta = tar(imgdir, tmp_path / "meta.tar.xz", "metadata.yaml", "templates", compress="xz")
    rootfs = tar(imgdir / "rootfs", tmp_path / "rootfs.tar.gz", ".", compress="gz")
    fp = ctl(store, "image", "import", meta, rootfs, "--alias", "split", "-q").stdout.strip()
    assert fp == sha256(meta, rootfs)
    info = json.loads(ctl(store, "image", "info", "split", "-f", "json").stdout)
    assert info["size"] == os.path.getsize(meta) + os.path.getsize(rootfs)
    out = tmp_path / "out"
    out.mkdir()
    ctl(store, "image", "export", "split", str(out))
    assert sorted(os.listdir(out)) == [f"{fp}.tar.gz", f"meta-{fp}.tar.xz"]
    store2 = str(tmp_path / "store2")
    fp2 = ctl(store2, "image", "import", str(out / f"meta-{fp}.tar.xz"), str(out / f"{fp}.tar.gz"),
              "-q").stdout.strip()
    assert fp2 == fp


def test_export_directory_image_roundtrip(store, imgdir, tmp_path):
    fp = ctl(store, "image", "import", str(imgdir), "-q").stdout.strip()
    ctl(store, "image", "export", fp[:8], str(tmp_path), cwd=str(tmp_path))
    exported = tmp_path / f"{fp}.tar"
    assert sha256(exported) == fp
    fp2 = ctl(str(tmp_path / "s2"), "image", "import", str(exported), "-q").stdout.strip()
    assert fp2 == fp


def test_plain_rootfs(store, imgdir, tmp_path):
    rootfs = tar(imgdir / "rootfs", tmp_path / "rootfs.tar.zst", ".", compress="zst")
    err = fail(store, "image", "import", rootfs)
    assert "no metadata.yaml" in err and "--arch" in err
    assert_empty(store)
    fp = ctl(store, "image", "import", rootfs, "--arch", "amd64", "--property", "description=plain",
             "--alias", "plain", "-q").stdout.strip()
    i = json.loads(ctl(store, "image", "info", "plain", "-f", "json").stdout)
    assert i["architecture"] == "x86_64" and i["properties"] == {"description": "plain"}
    # The same tarball and options: the same image.
    assert ctl(store, "image", "import", rootfs, "--arch", "x86_64", "--property",
               "description=plain", "-q").stdout.strip() == fp
    assert "--arch is for a plain rootfs" in fail(store, "image", "import", str(imgdir), "--arch",
                                                   "x86_64")
    assert "KEY=VALUE" in fail(store, "image", "import", rootfs, "--property", "nokey")


def test_aliases_and_resolution(store, tmp_path):
    a = make_image_dir(tmp_path, "first", "a")
    b = make_image_dir(tmp_path, "second", "b")
    fa = ctl(store, "image", "import", str(a), "--alias", "one", "-q").stdout.strip()
    fb = ctl(store, "image", "import", str(b), "-q").stdout.strip()
    ctl(store, "image", "alias", "create", "two", fb[:10], "--description", "the second")
    lst = json.loads(ctl(store, "image", "alias", "list", "-f", "json").stdout)
    assert lst == [{"name": "one", "target": fa, "description": ""},
                   {"name": "two", "target": fb, "description": "the second"}]
    assert "| two   | " + fb[:12] in ctl(store, "image", "alias", "list").stdout
    assert fail(store, "image", "alias", "create", "one", "two") == \
        f'vesselctl: alias "one": already exists (image {fa[:12]})'
    assert fail(store, "image", "info", "foo") == \
        'vesselctl: image "foo": no such alias or fingerprint'
    assert "no such alias" in fail(store, "image", "alias", "delete", "nope")
    assert "not a valid name" in fail(store, "image", "alias", "create", "a b", "one")
    # A duplicate alias at import: nothing is imported.
    c = make_image_dir(tmp_path, "third", "c")
    assert 'alias "one": already exists' in fail(store, "image", "import", str(c), "--alias", "one")
    assert len(images(store)) == 2
    assert sorted(os.listdir(os.path.join(store, "images"))) == sorted([fa, fb])
    ctl(store, "image", "alias", "delete", "one")
    assert ctl(store, "image", "list", "-f", "csv").stdout.count(",") > 0
    # An ambiguous prefix is refused, naming it.
    prefix = os.path.commonprefix([fa, fb])
    if prefix:
        assert "more than one" in fail(store, "image", "info", prefix)


def test_list_filters(store, tmp_path):
    ctl(store, "image", "import", str(make_image_dir(tmp_path, "first", "a")), "--alias", "alpha")
    ctl(store, "image", "import", str(make_image_dir(tmp_path, "second", "b")), "--alias", "beta")
    csv = ctl(store, "image", "list", "-f", "csv", "description=second").stdout
    assert csv.startswith("beta,") and csv.count("\n") == 1
    assert ctl(store, "image", "list", "-f", "csv", "alp").stdout.startswith("alpha,")
    assert "expected table, csv, json or yaml" in fail(store, "image", "list", "-f", "xml")


def test_delete(store, imgdir):
    fp = ctl(store, "image", "import", str(imgdir), "--alias", "bb", "-q").stdout.strip()
    ctl(store, "image", "delete", "bb")
    assert_empty(store)
    assert ctl(store, "image", "alias", "list", "-f", "json").stdout.strip() == "[]"
    assert fail(store, "image", "delete", fp) == \
        f'vesselctl: image "{fp}": no such alias or fingerprint'


def test_catalogue_schema(store, imgdir):
    ctl(store, "image", "list")
    db = sqlite3.connect(os.path.join(store, "catalogue.db"))
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 4
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"images", "image_properties", "image_aliases", "instances", "instance_config",
            "profiles", "profile_config", "devices", "device_config", "instance_profiles",
            "snapshots", "snapshot_config", "schema_version", "idmaps",
            "storage_pools"} <= tables
    assert db.execute("SELECT name FROM profiles").fetchall() == [("default",)]
    db.close()
    ctl(store, "image", "list")  # opening again applies nothing twice


# --- what is kept ----------------------------------------------------------

def test_attributes_preserved(store, imgdir, tmp_path):
    r = imgdir / "rootfs"
    f = r / "bin" / "suid"
    f.write_text("x")
    os.chown(f, 1234, 5678)
    os.chmod(f, 0o4755)
    os.setxattr(f, "user.vessel", b"kept")
    os.link(f, r / "bin" / "suid-link")
    os.mknod(r / "dev" / "null", 0o666 | 0o020000, os.makedev(1, 3))
    os.mkfifo(r / "run" / "fifo", 0o600)
    os.symlink("/etc/passwd", r / "etc" / "abs-link")
    d = r / "var" / "owned"
    d.mkdir()
    os.chown(d, 99, 98)
    os.chmod(d, 0o2750)
    os.utime(d, (1600000000, 1600000000))
    for src in (str(imgdir), tar(imgdir, tmp_path / "i.tar.gz", "metadata.yaml", "rootfs",
                                 compress="gz")):
        fp = ctl(store, "image", "import", src, "-q").stdout.strip()
        g = os.path.join(store, "images", fp, "rootfs")
        st = os.lstat(f"{g}/bin/suid")
        assert (st.st_uid, st.st_gid, st.st_mode & 0o7777) == (1234, 5678, 0o4755)
        assert os.getxattr(f"{g}/bin/suid", "user.vessel") == b"kept"
        assert st.st_ino == os.lstat(f"{g}/bin/suid-link").st_ino
        n = os.lstat(f"{g}/dev/null")
        assert (os.major(n.st_rdev), os.minor(n.st_rdev)) == (1, 3)
        assert os.path.stat.S_ISFIFO(os.lstat(f"{g}/run/fifo").st_mode)
        assert os.readlink(f"{g}/etc/abs-link") == "/etc/passwd"
        ds = os.lstat(f"{g}/var/owned")
        assert (ds.st_uid, ds.st_gid, ds.st_mode & 0o7777, int(ds.st_mtime)) == \
            (99, 98, 0o2750, 1600000000)


# --- bad input -------------------------------------------------------------

def hostile_tar(path, entries, metadata=METADATA.format(desc="x")):
    """A tarball with metadata.yaml and the given (name, kind, arg) entries."""
    with tarfile.open(path, "w") as t:
        def add(name, kind="file", arg=b"pwned\n"):
            ti = tarfile.TarInfo(name)
            if kind == "file":
                ti.size = len(arg)
                t.addfile(ti, io.BytesIO(arg))
                return
            ti.type = {"dir": tarfile.DIRTYPE, "sym": tarfile.SYMTYPE,
                       "link": tarfile.LNKTYPE}[kind]
            ti.mode = 0o755
            if kind in ("sym", "link"):
                ti.linkname = arg
            t.addfile(ti)
        add("metadata.yaml", "file", metadata.encode())
        add("rootfs", "dir")
        add("rootfs/bin/busybox", "file", b"not really")
        for e in entries:
            add(*e)
    return str(path)


@pytest.mark.parametrize("name,entries,message", [
    ("dotdot", [("rootfs/../../escaped", "file")], '".." components are refused'),
    ("absolute", [("/tmp/OUT/escaped", "file")], "absolute paths are refused"),
    ("symlink-abs", [("rootfs/evil", "sym", "/tmp/OUT"), ("rootfs/evil/escaped", "file")],
     "leaves the image through a symlink"),
    ("symlink-rel", [("rootfs/evil", "sym", "../../../../../../../../tmp/OUT"),
                     ("rootfs/evil/escaped", "file")], "leaves the image through a symlink"),
    ("symlink-nested", [("rootfs/a/b", "sym", "../../.."), ("rootfs/a/b/OUT/escaped", "file")],
     "leaves the image through a symlink"),
    ("hardlink-out", [("rootfs/passwd", "link", "../../../../etc/passwd")],
     '".." components are refused'),
    ("rootfs-symlink", [], "must be a directory"),
])
def test_hostile_tarballs(store, tmp_path, name, entries, message):
    out = tmp_path / "OUT"
    out.mkdir()
    if name == "rootfs-symlink":
        with tarfile.open(tmp_path / "t.tar", "w") as t:
            m = METADATA.format(desc="x").encode()
            ti = tarfile.TarInfo("metadata.yaml")
            ti.size = len(m)
            t.addfile(ti, io.BytesIO(m))
            ti = tarfile.TarInfo("rootfs")
            ti.type, ti.linkname = tarfile.SYMTYPE, str(out)
            t.addfile(ti)
        path = str(tmp_path / "t.tar")
    else:
        entries = [(n.replace("/tmp/OUT", str(out)), *rest) for n, *rest in entries]
        entries = [(n, k, *(a.replace("/tmp/OUT", str(out)) if isinstance(a, str) else a
                            for a in rest)) for n, k, *rest in entries]
        path = hostile_tar(tmp_path / "t.tar", entries)
    err = fail(store, "image", "import", path, "--alias", "evil")
    assert message in err, err
    assert os.listdir(out) == []
    assert not os.path.exists(tmp_path / "escaped")
    assert_empty(store)


@pytest.mark.parametrize("metadata,message", [
    ("architecture: x86_64\ncreation_date: [1\n", "metadata.yaml: line"),
    ("creation_date: 1\n", '"architecture" is missing'),
    ("architecture: x86_64\n", '"creation_date" is missing'),
    ("architecture: x86_64\ncreation_date: soon\n", "creation_date: not an integer"),
    ("architecture: x86_64\ncreation_date: 1\nproperties: [a, b]\n", "properties: not a map"),
    ("architecture: x86_64\ncreation_date: 1\ntemplates:\n  /etc/x:\n    when: [sometimes]\n"
     "    template: x.tpl\n", "unknown trigger"),
    ("- just\n- a list\n", "not a map"),
    ("", "metadata.yaml: empty"),
    ("architecture: s390x\ncreation_date: 1\n", 'architecture "s390x": this host (x86_64) '
     "cannot run it"),
    ("architecture: z80\ncreation_date: 1\n", 'architecture "z80": unknown'),
])
def test_bad_metadata(store, tmp_path, metadata, message):
    if os.uname().machine != "x86_64" and "s390x" in metadata:
        pytest.skip("the host's architecture is not x86_64")
    d = make_image_dir(tmp_path, metadata=metadata)
    err = fail(store, "image", "import", str(d))
    assert message in err, err
    t = tar(d, tmp_path / "t.tar.gz", "metadata.yaml", "rootfs", compress="gz")
    assert message in fail(store, "image", "import", t)
    assert_empty(store)


def test_unknown_keys_ignored(store, tmp_path):
    d = make_image_dir(tmp_path, metadata=METADATA.format(desc="x") + "future_key: {a: 1}\n")
    ctl(store, "image", "import", str(d))


def test_missing_metadata_and_not_a_tarball(store, imgdir, tmp_path):
    os.unlink(imgdir / "metadata.yaml")
    assert fail(store, "image", "import", str(imgdir)).endswith("no metadata.yaml")
    t = tar(imgdir, tmp_path / "t.tar", "rootfs")
    assert "no metadata.yaml" in fail(store, "image", "import", t)
    junk = tmp_path / "junk.tar"
    junk.write_bytes(os.urandom(4096))
    fail(store, "image", "import", str(junk))
    assert "No such file" in fail(store, "image", "import", str(tmp_path / "missing"))
    assert_empty(store)


# --- crashes and concurrency -----------------------------------------------

def test_sigkill_during_import(store, tmp_path):
    d = make_image_dir(tmp_path)
    t = tar(d, tmp_path / "i.tar.gz", "metadata.yaml", "rootfs", "templates", compress="gz")
    ctl(store, "image", "list")
    rng = random.Random(11)
    for i in range(25):
        p = subprocess.Popen([VESSELCTL, "--store", store, "image", "import",
                              t if i % 2 else str(d), "--alias", f"a{i}"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0, 0.06))
        p.send_signal(signal.SIGKILL)
        p.wait()
        assert_consistent(store)
        for img in images(store):
            ctl(store, "image", "delete", img["fingerprint"])
        assert_empty(store)
    fp = ctl(store, "image", "import", t, "--alias", "after", "-q").stdout.strip()
    assert fp == sha256(t)
    assert_consistent(store)


def test_parallel_imports(store, tmp_path):
    tarballs = []
    for i in range(8):
        d = make_image_dir(tmp_path, f"image {i}", f"d{i}")
        tarballs.append(tar(d, tmp_path / f"i{i}.tar", "metadata.yaml", "rootfs"))
    ctl(store, "image", "list")
    procs = [subprocess.Popen([VESSELCTL, "--store", store, "image", "import", t, "--alias",
                               f"img{i}", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True) for i, t in enumerate(tarballs)]
    # The same image four times at once: one row, every command succeeds.
    same = [subprocess.Popen([VESSELCTL, "--store", store, "image", "import", tarballs[0], "-q"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(4)]
    for p in procs + same:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    got = {i["fingerprint"]: [a["name"] for a in i["aliases"]] for i in images(store)}
    assert got == {sha256(t): [f"img{i}"] for i, t in enumerate(tarballs)}
    assert_consistent(store)
