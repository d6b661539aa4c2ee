"""vesselctl image build debian/12: a real mmdebstrap build, the cache in
the store (hit, --refresh, aliases), what the image holds, bad input, and
SIGKILL at random moments.  Real builds are few (each costs half a minute
to minutes of two shared cores); the rest uses the per-machine Debian
test image (debian_image.py).  Every test has its own store."""
import json
import os
import pty
import random
import select
import signal
import subprocess
import time

import pytest

from vesselctl_store import cleanup_store

from conftest import REPO
from debian_image import import_debian

VESSELCTL = os.environ.get("VESSELCTL", os.path.join(REPO, "build", "vesselctl"))
BUILD_KEY = "debian/12 recipe=1 variant=minbase arch=x86_64 packages=dbus,systemd-sysv"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="image build needs root")


@pytest.fixture
def store(tmp_path):
    s = str(tmp_path / "store")
    yield s
    cleanup_store(VESSELCTL, s)


def ctl(store, *args, check=True, timeout=120, **kw):
    r = subprocess.run([VESSELCTL, "--store", store, *args], capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check:
        assert r.returncode == 0, f"vesselctl {' '.join(args)}: {r.stderr}"
    return r


def build(store, *args, check=True):
    return ctl(store, "image", "build", "debian/12", *args, check=check, timeout=1800)


def fail(store, *args):
    """A failing command: non-zero, one clear line on stderr."""
    r = ctl(store, *args, check=False)
    assert r.returncode != 0, r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vesselctl: "), r.stderr
    return lines[0]


def images(store):
    return json.loads(ctl(store, "image", "list", "-f", "json").stdout)


def info(store, ref):
    return json.loads(ctl(store, "image", "info", ref, "-f", "json").stdout)


def aliases(store, ref):
    return sorted(a["name"] for a in info(store, ref)["aliases"])


def store_mounts(store):
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if os.path.realpath(store) in line]


def assert_consistent(store):
    """Rows and directories match, no staging directory, no mount."""
    rows = {i["fingerprint"] for i in images(store)}
    entries = set(os.listdir(os.path.join(store, "images")))
    assert entries == rows, (entries, rows)
    for fp in rows:
        assert os.path.islink(os.path.join(store, "images", fp, "rootfs", "sbin", "init"))
    assert store_mounts(store) == []


def check_image(store, fp):
    """What `image build debian/12` promises to put into the image."""
    i = info(store, fp)
    assert i["architecture"] == "x86_64"
    p = i["properties"]
    assert p["os"] == "debian" and p["release"] == "bookworm" and p["variant"] == "minbase"
    assert p["architecture"] == "amd64"
    assert p["vessel.build"] == BUILD_KEY
    serial = p["serial"]
    assert len(serial) == len("20261207_01:23") and serial[8] == "_", serial
    assert p["description"] == f"Debian bookworm amd64 ({serial})"
    d = os.path.join(store, "images", fp)
    import yaml
    with open(os.path.join(d, "metadata.yaml")) as f:
        md = yaml.safe_load(f)
    assert md["architecture"] == "x86_64"
    assert abs(md["creation_date"] - time.time()) < 86400 * 365
    assert md["properties"]["vessel.build"] == BUILD_KEY
    for path, tpl in (("/etc/hostname", "hostname.tpl"), ("/etc/hosts", "hosts.tpl")):
        t = md["templates"][path]
        assert t["template"] == tpl and t["when"] == ["create", "copy", "rename"], t
        assert os.path.isfile(os.path.join(d, "templates", tpl))
    with open(os.path.join(d, "templates", "hostname.tpl")) as f:
        assert f.read() == "{{ instance.name }}\n"
    with open(os.path.join(d, "templates", "hosts.tpl")) as f:
        assert "127.0.1.1\t{{ instance.name }}\n" in f.read()
    root = os.path.join(d, "rootfs")
    # systemd as init (usrmerged: /sbin is usr/sbin), and dbus.
    assert os.readlink(os.path.join(root, "usr", "sbin", "init")) == "/lib/systemd/systemd"
    assert os.access(os.path.join(root, "usr", "lib", "systemd", "systemd"), os.X_OK)
    assert os.path.isfile(os.path.join(root, "usr", "bin", "dbus-daemon"))
    with open(os.path.join(root, "var", "lib", "dpkg", "status")) as f:
        status = f.read()
    for pkg in ("systemd-sysv", "dbus", "apt"):
        assert f"Package: {pkg}\nStatus: install ok installed" in status, pkg
    # systemd makes the machine id at first boot; no host files.
    assert os.path.getsize(os.path.join(root, "etc", "machine-id")) == 0
    assert not os.path.lexists(os.path.join(root, "etc", "resolv.conf"))
    with open(os.path.join(root, "etc", "hostname")) as f:
        assert f.read() == "localhost\n"
    # apt's package lists and cache are not shipped.
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        left = [n for n in os.listdir(os.path.join(root, cache)) if n not in ("lock", "partial")]
        assert left == [], (cache, left)
        assert os.listdir(os.path.join(root, cache, "partial")) == []
    assert not [n for n in os.listdir(os.path.join(root, "var/cache/apt")) if n.endswith(".bin")]


def test_build_cache_hit_and_aliases(store, tmp_path):
    """A real build: progress lines, the image, then cache hits that move aliases."""
    # An image holding alias "moved", which the build takes over.
    other = tmp_path / "other"
    (other / "rootfs" / "sbin").mkdir(parents=True)
    (other / "rootfs" / "sbin" / "init").symlink_to("/bin/sh")
    (other / "metadata.yaml").write_text("architecture: x86_64\ncreation_date: 1700000000\n")
    ctl(store, "image", "import", str(other), "--alias", "moved")

    t0 = time.monotonic()
    r = build(store, "--alias", "deb")
    took = time.monotonic() - t0
    # Not on a terminal: mmdebstrap's lines as they come.
    assert "I: downloading packages with apt..." in r.stderr, r.stderr
    out = r.stdout.splitlines()
    assert out[0].startswith("Image built with fingerprint: "), r.stdout
    fp = out[0].split()[4]
    assert out[1:] == ["Alias: deb"]
    check_image(store, fp)
    assert_consistent(store)
    i = info(store, "deb")
    assert i["fingerprint"] == fp
    assert i["filename"] == f"debian-bookworm-amd64-minbase-{i['properties']['serial']}.tar"

    # The same parameters again: nothing is built, the alias is given.
    t0 = time.monotonic()
    r = build(store, "--alias", "deb2", "--alias", "moved")
    assert time.monotonic() - t0 < min(5, took / 4), "a cache hit must not rebuild"
    assert r.stderr == ""
    assert r.stdout.splitlines()[0].startswith(f"Image already built with fingerprint: {fp}")
    assert aliases(store, fp) == ["deb", "deb2", "moved"]
    assert len(images(store)) == 2
    # The same with the recipe's packages named, with debian/bookworm, -q.
    r = ctl(store, "image", "build", "debian/bookworm", "--include", "dbus,systemd-sysv",
            "--include", "dbus", "-q")
    assert r.stdout == fp + "\n"
    # Instances are made from it like from any image.
    ctl(store, "init", "deb", "c1")
    assert os.path.islink(os.path.join(store, "instances", "c1", "rootfs", "sbin", "init"))
    ctl(store, "delete", "c1")
    assert_consistent(store)


def test_refresh_replaces(store, debian_image):
    """--refresh builds again: the new image takes the old one's aliases."""
    old = import_debian(VESSELCTL, store, debian_image, alias="debian")
    ctl(store, "image", "alias", "create", "second", old)
    r = build(store, "--refresh", "--alias", "fresh")
    assert r.stdout.startswith("Image built with fingerprint: "), r.stdout
    new = r.stdout.split()[4]
    assert new != old
    assert [i["fingerprint"] for i in images(store)] == [new]
    assert aliases(store, new) == ["debian", "fresh", "second"]
    check_image(store, new)
    assert_consistent(store)


def test_cached_import_is_a_cache_hit(store, debian_image):
    """The per-machine test image is what `image build debian/12` makes."""
    fp = import_debian(VESSELCTL, store, debian_image)
    check_image(store, fp)
    t0 = time.monotonic()
    r = build(store, "-q", "--alias", "deb")
    assert time.monotonic() - t0 < 5
    assert r.stdout == fp + "\n"
    assert aliases(store, fp) == ["deb", "debian"]


@pytest.mark.parametrize("ref", ["debian/99", "ubuntu/24.04", "debian", "alpine/3.19", ""])
def test_unknown_release(store, ref):
    msg = fail(store, "image", "build", ref)
    assert f'image build "{ref}": cannot build it (supported: debian/12 (bookworm))' in msg
    assert images(store) == []
    assert os.listdir(os.path.join(store, "images")) == []


@pytest.mark.parametrize("args, message", [
    (["--variant", "buildd"], '--variant "buildd": not a variant'),
    (["--include", "Vim"], '--include "Vim": not a Debian package name'),
    (["--include", "ok,-rf"], '--include "-rf": not a Debian package name'),
    (["--alias", "a b"], 'alias "a b": not a valid name'),
])
def test_bad_options(store, args, message):
    assert message in fail(store, "image", "build", "debian/12", *args)
    assert images(store) == []
    assert os.listdir(os.path.join(store, "images")) == []


def test_missing_package_fails_cleanly(store):
    """mmdebstrap fails: its status and last lines, nothing left behind."""
    ctl(store, "image", "list")
    r = build(store, "--include", "vessel-no-such-package", check=False)
    assert r.returncode != 0
    assert "vesselctl: image build debian/12: mmdebstrap failed (exit status " in r.stderr
    # The tail of its output, in the error.
    err = r.stderr[r.stderr.index("vesselctl: "):]
    assert "its last lines:" in err and "vessel-no-such-package" in err, r.stderr
    assert images(store) == []
    assert os.listdir(os.path.join(store, "images")) == []
    assert store_mounts(store) == []


def test_progress_on_a_terminal(store):
    """On a terminal: one status line, rewritten, cleared at the end."""
    ctl(store, "image", "list")
    master, slave = pty.openpty()
    p = subprocess.Popen([VESSELCTL, "--store", store, "image", "build", "debian/12",
                          "--include", "vessel-no-such-package"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 300)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.close(master)
    assert p.wait(timeout=60) != 0
    text = out.decode(errors="replace")
    assert "\r\x1b[KI: running apt-get update..." in text, text
    # Status lines are rewritten in place, not one under the other.
    status = text[:text.index("vesselctl: ")]
    assert "\nI: " not in status, status
    assert os.listdir(os.path.join(store, "images")) == []


def descendants(pid):
    """Every process below pid, from /proc."""
    children = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def wait_gone(pids, timeout=120):
    end = time.monotonic() + timeout
    for p in pids:
        while os.path.exists(f"/proc/{p}") and time.monotonic() < end:
            time.sleep(0.1)
        assert not os.path.exists(f"/proc/{p}"), f"process {p} outlived its build"


def staging(store, prefix, path=""):
    d = os.path.join(store, "images")
    return [n for n in os.listdir(d) if n.startswith(prefix) and
            os.path.lexists(os.path.join(d, n, path))]


# When to kill: (what, condition on the store, seconds after it, at most).
PHASES = [
    ("starting", lambda s: True, (0.0, 0.5)),
    # dpkg is unpacked and mmdebstrap installs, with /proc, /sys and /dev
    # mounted in the rootfs (in its own mount namespace).
    ("installing", lambda s: staging(s, ".build-", "rootfs/usr/bin/dpkg"), (0.0, 3.0)),
    # The rootfs is done and is being imported.
    ("importing", lambda s: staging(s, ".import-"), (0.0, 1.5)),
]


@pytest.mark.parametrize("phase", [p[0] for p in PHASES])
def test_sigkill_during_build(store, phase):
    """Killed at a random moment of a phase, a build leaves the store
    consistent: the next command removes its staging directory; no mount
    and no process survives it."""
    _, reached, (lo, hi) = next(p for p in PHASES if p[0] == phase)
    ctl(store, "image", "list")
    rng = random.Random(phase)
    p = subprocess.Popen([VESSELCTL, "--store", store, "image", "build", "debian/12",
                          "--alias", "deb"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    below = set()
    try:
        deadline = time.monotonic() + 900
        while not reached(store) and p.poll() is None and time.monotonic() < deadline:
            below |= set(descendants(p.pid))
            time.sleep(0.02)
        assert p.poll() is None, f"the build ended before {phase}"
        # mmdebstrap's mounts are never seen by the host.
        assert store_mounts(store) == []
        end = time.monotonic() + rng.uniform(lo, hi)
        while time.monotonic() < end and p.poll() is None:
            below |= set(descendants(p.pid))
            time.sleep(0.02)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    # mmdebstrap is PID 1 of its namespace: its end takes the rest.
    wait_gone(sorted(below))
    assert store_mounts(store) == []
    assert_consistent(store)
    assert not [n for n in os.listdir(os.path.join(store, "images")) if n.startswith(".")]
    for img in images(store):
        ctl(store, "image", "delete", img["fingerprint"])
    assert os.listdir(os.path.join(store, "images")) == []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_build_cleans_up_at_once(store, sig):
    """Ctrl-C or SIGTERM while mmdebstrap works: the build ends it and
    removes its staging directory itself, without waiting for the next
    command's recovery."""
    ctl(store, "image", "list")
    p = subprocess.Popen([VESSELCTL, "--store", store, "image", "build", "debian/12"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    below = set()
    deadline = time.monotonic() + 300
    try:
        while not staging(store, ".build-", "rootfs/etc") and p.poll() is None and \
                time.monotonic() < deadline:
            below |= set(descendants(p.pid))
            time.sleep(0.02)
        assert p.poll() is None
        below |= set(descendants(p.pid))
        p.send_signal(sig)
        _, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 1
    assert f"vesselctl: image build debian/12: interrupted ({signal.strsignal(sig)})" in err, err
    wait_gone(sorted(below))
    # Gone already: no command ran since.
    assert os.listdir(os.path.join(store, "images")) == []
    assert store_mounts(store) == []
    assert images(store) == []


def test_templates_render_at_first_start(store, debian_image):
    """The image's templates give an instance its name in /etc/hostname
    and /etc/hosts when it first starts (the create trigger)."""
    import_debian(VESSELCTL, store, debian_image)
    ctl(store, "launch", "debian", "web-1", timeout=300)
    try:
        root = os.path.join(store, "instances", "web-1", "rootfs")
        with open(os.path.join(root, "etc", "hostname")) as f:
            assert f.read() == "web-1\n"
        with open(os.path.join(root, "etc", "hosts")) as f:
            hosts = f.read().splitlines()
        assert "127.0.1.1\tweb-1" in hosts and "127.0.0.1\tlocalhost" in hosts, hosts
        assert "::1\tlocalhost ip6-localhost ip6-loopback" in hosts
    finally:
        ctl(store, "delete", "-f", "web-1", timeout=300)
    assert json.loads(ctl(store, "list", "-f", "json").stdout) == []
