"""vesselctl instances in the catalogue (init, list, info, rename, delete),
config keys, profiles and devices; bad input; SIGKILL of init and delete;
concurrent inits.  Every test has its own store; the busybox image is
imported as test_vesselctl_image.py does it."""
import json
import os
import pty
import random
import select
import signal
import stat
import subprocess
import threading
import time

import pytest
import yaml

from test_vesselctl_image import VESSELCTL, ctl, fail, make_image_dir, store  # noqa: F401


# What init leaves for the first start: the image's create templates
# (test_vesselctl_templates.py).
PENDING = {"volatile.apply_template": "create"}


@pytest.fixture
def img(store, tmp_path):
    ctl(store, "image", "import", str(make_image_dir(tmp_path)), "--alias", "busybox")
    return store


def instances(store):
    return json.loads(ctl(store, "list", "-f", "json").stdout)


def names(store):
    return [i["name"] for i in instances(store)]


def inst_dir(store, name):
    return os.path.join(store, "instances", name)


def backup(store, name):
    with open(os.path.join(inst_dir(store, name), "backup.yaml")) as f:
        return yaml.safe_load(f)


def assert_consistent(store):
    """Every row has its complete directory and nothing else is there.  A
    killed init's cp may outlive it by a moment (it holds the staging
    directory's lock until it dies of PDEATHSIG): the next command after
    that removes the directory; hidden ones are never listed."""
    for _ in range(50):
        rows = set(names(store))
        entries = set(os.listdir(os.path.join(store, "instances")))
        if entries == rows:
            break
        assert {e for e in entries if not e.startswith(".")} == rows, (entries, rows)
        time.sleep(0.05)
    assert entries == rows, (entries, rows)
    for n in rows:
        assert os.path.isfile(os.path.join(inst_dir(store, n), "rootfs", "bin", "busybox"))
        assert backup(store, n)["name"] == n


# --- help ------------------------------------------------------------------

def test_help(store):
    top = ["init", "list", "info", "rename", "delete"]
    config = ["show", "get", "set", "unset", "edit", "device"]
    profile = ["list", "show", "create", "copy", "rename", "delete", "get", "set", "unset",
               "edit", "device", "assign", "add", "remove"]
    cases = [[c, "--help"] for c in top] + [["config", c, "--help"] for c in config] + \
        [["profile", c, "--help"] for c in profile] + \
        [["--help"], ["config", "--help"], ["profile", "--help"]]
    for args in cases:
        r = ctl(store, *args)
        assert r.stdout.startswith("Usage: vesselctl"), args
    out = ctl(store, "--help").stdout
    for c in top + ["config", "profile", "image"]:
        assert f"\n  {c} " in out
    assert "limits.cpu.allowance" in ctl(store, "config", "--help").stdout
    assert "unknown command" in fail(store, "profile", "frobnicate")
    assert "unknown command" in fail(store, "config", "frobnicate")


# --- init, list, info, rename, delete ---------------------------------------

def test_init_list_info_delete(img):
    r = ctl(img, "init", "busybox", "c1")
    assert r.stdout == "Creating c1\n"
    out = ctl(img, "list").stdout.splitlines()
    assert [h.strip() for h in out[1].split("|")[1:-1]] == \
        ["NAME", "STATE", "IPV4", "IPV6", "TYPE", "SNAPSHOTS"]
    assert [c.strip() for c in out[3].split("|")[1:-1]] == \
        ["c1", "STOPPED", "-", "-", "CONTAINER", "0"]
    [j] = instances(img)
    assert j["status"] == "Stopped" and j["status_code"] == 102
    assert j["profiles"] == ["default"] and j["type"] == "container"
    assert j["architecture"] == "x86_64" and len(j["image"]) == 64
    info = ctl(img, "info", "c1").stdout
    for line in ("Name: c1", "Status: STOPPED", "Type: container", "Architecture: x86_64",
                 "Profiles: default", "Last Used: never"):
        assert line in info.splitlines(), info
    assert "(busybox)" in info and "Created: " in info
    assert json.loads(ctl(img, "info", "c1", "-f", "json").stdout)["name"] == "c1"
    assert_consistent(img)
    b = backup(img, "c1")
    assert b["image"] == j["image"] and b["architecture"] == "x86_64"
    assert [p["name"] for p in b["profiles"]] == ["default"]
    assert stat.S_IMODE(os.stat(os.path.join(inst_dir(img, "c1"), "backup.yaml")).st_mode) == 0o600
    ctl(img, "delete", "c1")
    assert instances(img) == [] and os.listdir(os.path.join(img, "instances")) == []
    assert "no such instance" in fail(img, "delete", "c1")
    assert "no such instance" in fail(img, "info", "c1")


def test_init_options(img):
    ctl(img, "profile", "create", "big")
    ctl(img, "init", "busybox", "c1", "-p", "default", "-p", "big", "-c", "limits.memory=1GiB",
        "-c", "user.x=y", "-e", "-d", "the first")
    [j] = instances(img)
    assert j["profiles"] == ["default", "big"] and j["ephemeral"] is True
    assert j["config"] == {"limits.memory": "1GiB", "user.x": "y", **PENDING}
    assert j["description"] == "the first"
    assert "CONTAINER (EPHEMERAL)" in ctl(img, "list").stdout
    ctl(img, "init", "busybox", "c2", "--no-profiles")
    assert instances(img)[1]["profiles"] == []
    ctl(img, "init", img_fp(img)[:12], "c3")
    assert "exclude each other" in fail(img, "init", "busybox", "c4", "-p", "big", "-n")


def img_fp(store):
    return json.loads(ctl(store, "image", "list", "-f", "json").stdout)[0]["fingerprint"]


def test_rootfs_copy_keeps_everything(store, tmp_path):
    d = make_image_dir(tmp_path)
    root = d / "rootfs"
    (root / "data").mkdir()
    (root / "data" / "a").write_text("hello")
    os.link(root / "data" / "a", root / "data" / "b")
    os.symlink("/etc/nowhere", root / "data" / "link")
    os.chown(root / "data" / "a", 1234, 5678)
    os.chmod(root / "data" / "a", 0o4751)
    os.mknod(root / "data" / "null", 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    os.mkfifo(root / "data" / "fifo")
    os.setxattr(root / "data" / "b", "user.test", b"value")
    ctl(store, "image", "import", str(d), "--alias", "busybox")
    ctl(store, "init", "busybox", "c1")
    c = os.path.join(inst_dir(store, "c1"), "rootfs", "data")
    a, b = os.lstat(os.path.join(c, "a")), os.lstat(os.path.join(c, "b"))
    assert a.st_ino == b.st_ino and a.st_nlink == 2
    assert (a.st_uid, a.st_gid, stat.S_IMODE(a.st_mode)) == (1234, 5678, 0o4751)
    assert os.readlink(os.path.join(c, "link")) == "/etc/nowhere"
    n = os.lstat(os.path.join(c, "null"))
    assert stat.S_ISCHR(n.st_mode) and n.st_rdev == os.makedev(1, 3)
    assert stat.S_ISFIFO(os.lstat(os.path.join(c, "fifo")).st_mode)
    assert os.getxattr(os.path.join(c, "b"), "user.test") == b"value"
    # A copy, not the image's own files.
    with open(os.path.join(c, "a"), "w") as f:
        f.write("changed")
    fp = img_fp(store)
    assert open(os.path.join(store, "images", fp, "rootfs", "data", "a")).read() == "hello"


@pytest.mark.parametrize("name", ["-a", "a-", "a_b", "A.b", "x" * 64, "", "é", "a b"])
def test_init_invalid_names(img, name):
    assert "not a valid name" in fail(img, "init", "busybox", "--", name)
    assert instances(img) == []
    assert os.listdir(os.path.join(img, "instances")) == []


def test_init_valid_names(img):
    for n in ("a", "A1", "web-01", "x" * 63, "0abc"):
        ctl(img, "init", "busybox", n)
    assert sorted(names(img)) == sorted(["a", "A1", "web-01", "x" * 63, "0abc"])


@pytest.mark.parametrize("args,msg", [
    (["-c", "limits.memory=lots"], 'limits.memory: "lots" is not a size (like 512MiB or 50%)'),
    (["-c", "foo.bar=1"], "foo.bar: unknown configuration key"),
    (["-c", "limits.cpu=0-"], "limits.cpu"),
    (["-c", "raw.oci=[1]"], "raw.oci: \"[1]\" is not a JSON object"),
    (["-c", "novalue"], "expected KEY=VALUE"),
    (["-p", "nope"], 'profile "nope": no such profile'),
])
def test_init_bad_input(img, args, msg):
    assert msg in fail(img, "init", "busybox", "c1", *args)
    assert instances(img) == [] and os.listdir(os.path.join(img, "instances")) == []


def test_init_duplicate_and_missing_image(img):
    ctl(img, "init", "busybox", "c1")
    assert fail(img, "init", "busybox", "c1") == 'vesselctl: instance "c1": already exists'
    assert "no such alias or fingerprint" in fail(img, "init", "nope", "c2")
    assert_consistent(img)


def test_rename(img):
    ctl(img, "init", "busybox", "c1")
    ctl(img, "init", "busybox", "c2")
    ctl(img, "config", "set", "c1", "user.k=v")
    ctl(img, "rename", "c1", "web")
    assert sorted(names(img)) == ["c2", "web"]
    assert backup(img, "web")["config"] == {"user.k": "v", **PENDING}
    assert_consistent(img)
    assert "already exists" in fail(img, "rename", "web", "c2")
    assert "not a valid name" in fail(img, "rename", "web", "bad_name")
    assert "no such instance" in fail(img, "rename", "nope", "x")
    assert_consistent(img)


def test_running_row_without_monitor_is_a_leftover(img):
    """A row that says running while no monitor runs (the host went down,
    the monitor was killed before it started anything) is stopped: list
    says so and corrects the row, delete needs no --force.  Refusing to
    delete a really running instance: test_vesselctl_lifecycle.py."""
    import sqlite3
    ctl(img, "init", "busybox", "c1")
    db = sqlite3.connect(os.path.join(img, "catalogue.db"))
    db.execute("UPDATE instances SET state = 'running' WHERE name = 'c1'")
    db.commit()
    assert ctl(img, "list", "-c", "s", "-f", "csv").stdout.strip() == "STOPPED"
    assert db.execute("SELECT state FROM instances").fetchall() == [("stopped",)]
    db.execute("UPDATE instances SET state = 'running' WHERE name = 'c1'")
    db.commit()
    db.close()
    ctl(img, "delete", "c1")
    assert instances(img) == []


def test_list_filters_columns_formats(img):
    ctl(img, "profile", "create", "p")
    ctl(img, "profile", "set", "p", "user.role=db")
    ctl(img, "init", "busybox", "web1", "-d", "front")
    ctl(img, "init", "busybox", "web2", "-c", "user.role=web")
    ctl(img, "init", "busybox", "db1", "-p", "default", "-p", "p")
    csv = lambda *a: ctl(img, "list", *a, "-f", "csv").stdout.splitlines()  # noqa: E731
    assert csv("-c", "n") == ["db1", "web1", "web2"]
    assert csv("web", "-c", "n") == ["web1", "web2"]
    assert csv("user.role=db", "-c", "n") == ["db1"]
    assert csv("user.role=web", "-c", "n") == ["web2"]
    assert csv("state=stopped", "web1", "-c", "n") == ["web1"]
    assert csv("state=running", "-c", "n") == []
    assert csv("-c", "ndP")[1] == "web1,front,default"
    assert csv("-c", "nP")[0] == 'db1,"default, p"'
    row = csv("web1", "-c", "nacfFlbS")[0].split(",")
    assert row[0] == "web1" and row[1] == "x86_64" and row[2].endswith("UTC")
    assert len(row[3]) == 12 and len(row[4]) == 64 and row[5] == "never"
    assert row[6] == "default" and row[7] == "0"  # the storage pool
    compact = ctl(img, "list", "-f", "compact", "-c", "ns").stdout.splitlines()
    assert compact[0].split() == ["NAME", "STATE"] and compact[1].split() == ["db1", "STOPPED"]
    y = yaml.safe_load(ctl(img, "list", "-f", "yaml").stdout)
    assert [i["name"] for i in y] == ["db1", "web1", "web2"]
    assert y[0]["expanded_config"] == {"user.role": "db", **PENDING}
    assert "unknown column 'X'" in fail(img, "list", "-c", "nX")
    assert "--format" in fail(img, "list", "-f", "xml")


# --- config -----------------------------------------------------------------

GOOD = [
    ("limits.memory", v) for v in ("512MiB", "1GB", "100%", "1024", "2GiB", "10kB")
] + [
    ("limits.memory.swap", v) for v in ("true", "false", "1", "no")
] + [
    ("limits.cpu", v) for v in ("1", "4", "0-1,3", "1-1", "2-3")
] + [
    ("limits.cpu.allowance", v) for v in ("50%", "100%", "25ms/100ms", "1s/1s")
] + [
    ("limits.processes", "500"), ("environment.FOO", "bar baz"), ("boot.autostart", "true"),
    ("boot.autostart.priority", "-3"), ("boot.autostart.delay", "10"),
    ("boot.stop.priority", "5"), ("boot.host_shutdown_timeout", "30"),
    ("boot.stop.signal", "SIGRTMIN+3"), ("boot.stop.signal", "SIGPWR"),
    ("boot.stop.signal", "15"), ("boot.stop.signal", "TERM"), ("security.privileged", "false"),
    ("raw.oci", '{"process": {"env": ["A=1"]}}'), ("user.anything", "at all"),
]

BAD = [
    ("limits.memory", "lots", "is not a size"), ("limits.memory", "-1", "is not a size"),
    ("limits.memory", "101%", "is not a size"), ("limits.memory", "1 GB", "is not a size"),
    ("limits.memory.swap", "maybe", "is not a boolean"),
    ("limits.cpu", "0", "is not a CPU count"), ("limits.cpu", "3-1", "is not a CPU count"),
    ("limits.cpu", "a", "is not a CPU count"), ("limits.cpu", "1,", "is not a CPU count"),
    ("limits.cpu.allowance", "150%", "is not a CPU allowance"),
    ("limits.cpu.allowance", "25ms", "is not a CPU allowance"),
    ("limits.processes", "0", "is not a positive integer"),
    ("limits.processes", "x", "is not a positive integer"),
    ("boot.autostart", "yes please", "is not a boolean"),
    ("boot.autostart.delay", "-1", "is not a number of seconds"),
    ("boot.stop.signal", "SIGNOPE", "is not a signal"),
    ("boot.stop.signal", "99", "is not a signal"),
    ("raw.oci", "{not json", "is not a JSON object"), ("raw.oci", '"str"', "is not a JSON object"),
    ("security.nesting", "true", "unknown configuration key"),
    ("environment.", "x", "unknown configuration key"),
]


def test_config_values(img):
    ctl(img, "init", "busybox", "c1")
    for key, value in GOOD:
        ctl(img, "config", "set", "c1", f"{key}={value}")
        assert ctl(img, "config", "get", "c1", key).stdout == value + "\n"
    for key, value, msg in BAD:
        line = fail(img, "config", "set", "c1", f"{key}={value}")
        assert line.startswith(f'vesselctl: instance "c1": {key}: '), line
        assert msg in line, line
    # An empty value removes the key, as in Incus.
    ctl(img, "config", "set", "c1", "limits.memory=")
    assert "limits.memory" not in instances(img)[0]["config"]
    # The two-argument form, and a value starting with '-'.
    ctl(img, "config", "set", "c1", "boot.stop.priority", "-7")
    assert ctl(img, "config", "get", "c1", "boot.stop.priority").stdout == "-7\n"


def test_config_set_is_all_or_nothing(img):
    ctl(img, "init", "busybox", "c1")
    fail(img, "config", "set", "c1", "user.a=1", "limits.memory=lots")
    assert instances(img)[0]["config"] == PENDING


def test_config_show_unset_expanded(img):
    ctl(img, "profile", "create", "p1")
    ctl(img, "profile", "create", "p2")
    ctl(img, "profile", "set", "p1", "limits.memory=1GiB", "user.a=p1", "user.b=p1")
    ctl(img, "profile", "set", "p2", "user.b=p2")
    ctl(img, "profile", "device", "add", "p1", "data", "disk", "source=/srv", "path=/p1")
    ctl(img, "profile", "device", "add", "p2", "data", "disk", "source=/srv", "path=/p2")
    ctl(img, "init", "busybox", "c1", "-p", "p1", "-p", "p2", "-c", "user.a=own")
    show = yaml.safe_load(ctl(img, "config", "show", "c1").stdout)
    assert show["config"] == {"user.a": "own", **PENDING} and show["profiles"] == ["p1", "p2"]
    assert show["devices"] == {}
    x = yaml.safe_load(ctl(img, "config", "show", "c1", "--expanded").stdout)
    assert x["config"] == {"limits.memory": "1GiB", "user.a": "own", "user.b": "p2", **PENDING}
    assert x["devices"] == {"data": {"type": "disk", "source": "/srv", "path": "/p2"}}
    assert ctl(img, "config", "get", "c1", "user.b").stdout == "\n"
    assert ctl(img, "config", "get", "c1", "user.b", "-e").stdout == "p2\n"
    ctl(img, "config", "unset", "c1", "user.a")
    assert ctl(img, "config", "get", "c1", "user.a", "--expanded").stdout == "p1\n"
    assert "user.a: not set" in fail(img, "config", "unset", "c1", "user.a")
    assert "no such instance" in fail(img, "config", "show", "nope")


def test_config_edit_stdin(img):
    ctl(img, "init", "busybox", "c1")
    ctl(img, "profile", "create", "p")
    text = ctl(img, "config", "show", "c1").stdout
    d = yaml.safe_load(text)
    d["config"]["limits.memory"] = "256MiB"
    d["profiles"] = ["default", "p"]
    d["description"] = "edited"
    d["devices"] = {"d": {"type": "disk", "source": "/srv", "path": "/srv"}}
    ctl(img, "config", "edit", "c1", input=yaml.safe_dump(d))
    [j] = instances(img)
    assert j["config"] == {"limits.memory": "256MiB", **PENDING}
    assert j["profiles"] == ["default", "p"]
    assert j["description"] == "edited" and j["devices"]["d"]["path"] == "/srv"
    assert backup(img, "c1")["config"] == {"limits.memory": "256MiB", **PENDING}
    for bad, msg in [("config:\n  limits.memory: lots\n", "is not a size"),
                     ("config: [\n", "line"),
                     ("profiles: [nope]\n", 'profile "nope": no such profile'),
                     ("devices:\n  x:\n    path: /a\n", 'needs a "type"'),
                     ("devices:\n  x: {type: nic}\n", "comes with networks")]:
        r = ctl(img, "config", "edit", "c1", input=bad, check=False)
        assert r.returncode != 0 and msg in r.stderr, (bad, r.stderr)
    assert instances(img)[0] == j


def test_config_edit_editor(img, tmp_path):
    """At a terminal: $EDITOR, re-opened after an error."""
    ctl(img, "init", "busybox", "c1")
    ctl(img, "config", "unset", "c1", "volatile.apply_template")  # for "config: {}" below
    count = tmp_path / "count"
    editor = tmp_path / "editor.sh"
    editor.write_text(f"""#!/bin/sh
n=$(cat {count} 2>/dev/null || echo 0); n=$((n + 1)); echo $n > {count}
if [ $n = 1 ]; then sed -i 's/^config: {{}}/config: {{limits.memory: lots}}/' "$1"
else sed -i 's/lots/64MiB/' "$1"; fi
""")
    editor.chmod(0o755)
    cmd = ["env", f"EDITOR={editor}", "VISUAL=", VESSELCTL, "--store", img, "config", "edit", "c1"]
    # Driven through a pty: the first save fails, Enter re-opens the editor.
    master, slave = pty.openpty()
    p = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    out = b""
    end = time.time() + 20
    sent = False
    while time.time() < end and p.poll() is None:
        r, _, _ = select.select([master], [], [], 0.1)
        if r:
            try:
                out += os.read(master, 4096)
            except OSError:
                break
        if not sent and b"Press enter" in out:
            os.write(master, b"\n")
            sent = True
    p.wait(timeout=10)
    os.close(master)
    assert p.returncode == 0, out
    assert b"is not a size" in out and sent
    assert ctl(img, "config", "get", "c1", "limits.memory").stdout == "64MiB\n"
    assert count.read_text().strip() == "2"


# --- devices ----------------------------------------------------------------

def test_devices(img):
    ctl(img, "init", "busybox", "c1")
    ctl(img, "config", "device", "add", "c1", "data", "disk", "source=/srv", "path=/data")
    ctl(img, "config", "device", "add", "c1", "null", "unix-char", "source=/dev/null",
        "mode=0666", "uid=0", "gid=0")
    ctl(img, "config", "device", "add", "c1", "sda", "unix-block", "major=8", "minor=0",
        "path=/dev/sda")
    assert ctl(img, "config", "device", "list", "c1").stdout.split() == ["data", "null", "sda"]
    assert ctl(img, "config", "device", "get", "c1", "data", "path").stdout == "/data\n"
    assert ctl(img, "config", "device", "get", "c1", "data", "type").stdout == "disk\n"
    ctl(img, "config", "device", "set", "c1", "data", "readonly=true")
    ctl(img, "config", "device", "set", "c1", "data", "path", "/mnt")
    show = yaml.safe_load(ctl(img, "config", "device", "show", "c1").stdout)
    assert show["data"] == {"type": "disk", "source": "/srv", "path": "/mnt", "readonly": "true"}
    ctl(img, "config", "device", "unset", "c1", "data", "readonly")
    assert backup(img, "c1")["devices"]["data"] == {"type": "disk", "source": "/srv",
                                                     "path": "/mnt"}
    ctl(img, "config", "device", "remove", "c1", "null", "sda")
    assert ctl(img, "config", "device", "list", "c1").stdout.split() == ["data"]


@pytest.mark.parametrize("args,msg", [
    (["d", "disk", "path=/x"], 'a disk needs "source"'),
    (["d", "disk", "source=/x"], 'a disk needs "path"'),
    (["d", "disk", "source=/x", "path=rel"], 'path: "rel" is not an absolute path'),
    (["d", "disk", "source=x", "path=/x"], 'source: "x" is not an absolute host path'),
    (["d", "disk", "source=/x", "path=/x", "readonly=maybe"], "is not a boolean"),
    (["d", "disk", "source=/x", "path=/x", "size=1"], "\"size\" is for the root disk (path /) only"),
    (["d", "disk", "source=/x", "path=/x", "colour=1"], 'unknown key "colour" for a disk'),
    (["d", "unix-char", "path=/dev/x"], 'needs "source" or "major" and "minor"'),
    (["d", "unix-char", "major=1", "path=/dev/x"], '"major" and "minor" go together'),
    (["d", "unix-char", "major=1", "minor=3"], '"path" is needed without "source"'),
    (["d", "unix-char", "source=/dev/null", "mode=999"], "is not an octal mode"),
    (["d", "unix-block", "source=/dev/null", "uid=-1"], "is not a user id"),
    (["d", "nic"], "comes with networks"),
    (["d", "proxy"], "comes with networks"),
    (["d", "gpu"], 'unknown type "gpu"'),
    (["d/x", "disk", "source=/x", "path=/x"], "not a valid device name"),
    (["d", "disk", "source"], "expected KEY=VALUE"),
    (["d"], "expected add NAME DEVICE TYPE"),
])
def test_device_bad_input(img, args, msg):
    ctl(img, "init", "busybox", "c1")
    assert msg in fail(img, "config", "device", "add", "c1", *args)
    assert instances(img)[0]["devices"] == {}


def test_device_errors_and_profile_override(img):
    ctl(img, "init", "busybox", "c1")
    ctl(img, "profile", "device", "add", "default", "data", "disk", "source=/srv", "path=/d")
    assert 'device "nope": no such device' in fail(img, "config", "device", "remove", "c1",
                                                    "nope")
    assert "comes from a profile" in fail(img, "config", "device", "remove", "c1", "data")
    assert "comes from a profile" in fail(img, "config", "device", "get", "c1", "data", "path")
    ctl(img, "config", "device", "add", "c1", "x", "disk", "source=/a", "path=/a")
    assert 'device "x": already exists' in fail(img, "config", "device", "add", "c1", "x",
                                                 "disk", "source=/a", "path=/a")
    # Setting a key of a profile's device makes it the instance's own.
    ctl(img, "config", "device", "set", "c1", "data", "readonly=true")
    own = instances(img)[0]["devices"]["data"]
    assert own == {"type": "disk", "source": "/srv", "path": "/d", "readonly": "true"}
    assert "readonly" not in yaml.safe_load(
        ctl(img, "profile", "device", "show", "default").stdout)["data"]


# --- profiles ---------------------------------------------------------------

def test_profiles(img):
    out = ctl(img, "profile", "list", "-f", "csv").stdout
    assert out == "default,Default profile,0\n"
    assert ctl(img, "profile", "create", "web", "--description", "web servers").stdout == \
        "Profile web created\n"
    ctl(img, "profile", "set", "web", "limits.memory=1GiB", "limits.cpu=2")
    ctl(img, "profile", "set", "web", "user.k", "v")
    assert ctl(img, "profile", "get", "web", "limits.cpu").stdout == "2\n"
    ctl(img, "profile", "unset", "web", "limits.cpu")
    ctl(img, "profile", "device", "add", "web", "www", "disk", "source=/srv/www", "path=/www")
    assert ctl(img, "profile", "device", "list", "web").stdout == "www\n"
    assert ctl(img, "profile", "device", "get", "web", "www", "source").stdout == "/srv/www\n"
    ctl(img, "profile", "device", "set", "web", "www", "readonly=1")
    ctl(img, "profile", "copy", "web", "web2")
    s = yaml.safe_load(ctl(img, "profile", "show", "web2").stdout)
    assert s["config"] == {"limits.memory": "1GiB", "user.k": "v"}
    assert s["devices"]["www"]["readonly"] == "1" and s["description"] == "web servers"
    ctl(img, "profile", "rename", "web2", "web3")
    ctl(img, "profile", "device", "remove", "web3", "www")
    assert yaml.safe_load(ctl(img, "profile", "show", "web3").stdout)["devices"] == {}
    ctl(img, "profile", "delete", "web3")
    assert [p["name"] for p in json.loads(ctl(img, "profile", "list", "-f", "json").stdout)] \
        == ["default", "web"]


def test_profile_edit(img):
    ctl(img, "profile", "create", "p")
    ctl(img, "init", "busybox", "c1", "-p", "p")
    d = yaml.safe_load(ctl(img, "profile", "show", "p").stdout)
    assert d["used_by"] == ["c1"]
    d["config"] = {"limits.processes": "100"}
    d["description"] = "edited"
    ctl(img, "profile", "edit", "p", input=yaml.safe_dump(d))
    d2 = yaml.safe_load(ctl(img, "profile", "show", "p").stdout)
    assert d2["config"] == d["config"] and d2["description"] == "edited"
    # Instances using it have their backup.yaml rewritten.
    assert backup(img, "c1")["profiles"][0]["config"] == {"limits.processes": "100"}
    r = ctl(img, "profile", "edit", "p", input="config:\n  limits.processes: x\n", check=False)
    assert r.returncode != 0 and 'profile "p": limits.processes' in r.stderr


def test_profile_bad_input(img):
    ctl(img, "init", "busybox", "c1")
    ctl(img, "profile", "create", "p")
    ctl(img, "profile", "add", "c1", "p")
    assert fail(img, "profile", "delete", "p") == 'vesselctl: profile "p": in use by c1'
    assert fail(img, "profile", "delete", "default") == \
        'vesselctl: profile "default": cannot be deleted'
    assert "cannot be renamed" in fail(img, "profile", "rename", "default", "x")
    assert "already exists" in fail(img, "profile", "create", "p")
    assert "already exists" in fail(img, "profile", "rename", "p", "default")
    assert "already exists" in fail(img, "profile", "copy", "default", "p")
    assert "not a valid name" in fail(img, "profile", "create", "a/b")
    assert "not a valid name" in fail(img, "profile", "create", "a,b")
    for args in (["show", "nope"], ["set", "nope", "user.a=1"], ["delete", "nope"],
                 ["device", "add", "nope", "d", "disk", "source=/a", "path=/a"],
                 ["add", "c1", "nope"], ["assign", "c1", "default,nope"]):
        assert 'profile "nope": no such profile' in fail(img, "profile", *args), args
    assert "unknown configuration key" in fail(img, "profile", "set", "p", "x.y=1")
    assert "is not a size" in fail(img, "profile", "set", "p", "limits.memory=x")
    assert "already has profile" in fail(img, "profile", "add", "c1", "p")
    assert "does not have profile" in fail(img, "profile", "remove", "c1", "nope")
    assert "given twice" in fail(img, "profile", "assign", "c1", "p,p")
    assert instances(img)[0]["profiles"] == ["default", "p"]


def test_profile_assign_add_remove(img):
    ctl(img, "init", "busybox", "c1")
    for p in ("a", "b"):
        ctl(img, "profile", "create", p)
    ctl(img, "profile", "assign", "c1", "b,a")
    assert instances(img)[0]["profiles"] == ["b", "a"]
    ctl(img, "profile", "remove", "c1", "b")
    ctl(img, "profile", "add", "c1", "default")
    assert instances(img)[0]["profiles"] == ["a", "default"]
    assert [p["name"] for p in backup(img, "c1")["profiles"]] == ["a", "default"]
    ctl(img, "profile", "assign", "c1", "")
    assert instances(img)[0]["profiles"] == []
    ctl(img, "profile", "delete", "a")


def test_profile_rename_follows(img):
    ctl(img, "profile", "create", "p")
    ctl(img, "init", "busybox", "c1", "-p", "p")
    ctl(img, "profile", "rename", "p", "q")
    assert instances(img)[0]["profiles"] == ["q"]
    assert backup(img, "c1")["profiles"][0]["name"] == "q"


# --- crash safety and concurrency -------------------------------------------

def killed_at_random(store, args, delay):
    p = subprocess.Popen([VESSELCTL, "--store", store, *args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.wait()


def test_sigkill_during_init_and_delete(img):
    rnd = random.Random(11)
    # How long an init takes here, to spread the kills over it.
    t0 = time.monotonic()
    ctl(img, "init", "busybox", "probe")
    span = time.monotonic() - t0
    ctl(img, "delete", "probe")
    for k in range(12):
        killed_at_random(img, ["init", "busybox", f"k{k}"], rnd.uniform(0, span * 1.2))
        assert_consistent(img)
        if f"k{k}" in names(img) and k % 2:
            killed_at_random(img, ["delete", f"k{k}"], rnd.uniform(0, 0.03))
            assert_consistent(img)
    for n in names(img):
        ctl(img, "delete", n)
    assert_consistent(img)
    assert instances(img) == []


def test_recover_rename_killed_before_commit(img):
    """A directory renamed without its row (a rename killed before its
    commit) goes back under its row's name."""
    ctl(img, "init", "busybox", "c1")
    os.rename(inst_dir(img, "c1"), inst_dir(img, "c2"))
    assert names(img) == ["c1"]
    assert_consistent(img)


def test_recover_orphans(img):
    ctl(img, "init", "busybox", "c1")
    os.makedirs(os.path.join(img, "instances", ".init-123456789abc", "rootfs"))
    os.makedirs(os.path.join(img, "instances", "ghost", "rootfs"))
    os.rename(inst_dir(img, "c1"), os.path.join(img, "instances", ".delete-c1-0000abcd"))
    assert_consistent(img)
    assert names(img) == ["c1"]


def test_two_inits_of_one_name(img):
    for _ in range(3):
        ps = [subprocess.Popen([VESSELCTL, "--store", img, "init", "busybox", "same"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
        res = [(p.wait(), p.stderr.read()) for p in ps]
        assert sorted(r for r, _ in res) == [0, 1], res
        [err] = [e for r, e in res if r]
        assert err.strip() == 'vesselctl: instance "same": already exists', err
        assert names(img) == ["same"]
        assert_consistent(img)
        ctl(img, "delete", "same")


def test_twenty_parallel_inits(img):
    ps = [subprocess.Popen([VESSELCTL, "--store", img, "init", "busybox", f"p{k}"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
          for k in range(20)]
    for p in ps:
        assert p.wait() == 0, p.stderr.read()
    assert sorted(names(img)) == sorted(f"p{k}" for k in range(20))
    assert_consistent(img)
    errs = []

    def delete(n):
        r = subprocess.run([VESSELCTL, "--store", img, "delete", n], capture_output=True)
        if r.returncode:
            errs.append(r.stderr)
    ts = [threading.Thread(target=delete, args=(f"p{k}",)) for k in range(20)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errs == [] and instances(img) == []
    assert os.listdir(os.path.join(img, "instances")) == []
