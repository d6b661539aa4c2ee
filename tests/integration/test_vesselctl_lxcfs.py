"""/proc and /sys that show the instance (lxcfs), and FUSE inside instances.

Every test has an lxcfs directory of its own (VESSEL_LXCFS_DIR, below its
tmp_path), so that none touches the host's /var/lib/lxcfs or the session's
lxcfs (conftest.py): the manager starts lxcfs there itself when it finds
none, as it would at /var/lib/lxcfs; at the end the test stops what runs
there, by pid, and unmounts it.  The busybox image gains procps' free
(busybox's free asks sysinfo(2), which lxcfs cannot change) and
squashfuse, copied from the host with their libraries.  Nothing here
depends on whether instances are privileged by default."""
import glob
import hashlib
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import base_rootfs
from test_vesselctl_image import VESSELCTL
from vesselctl_store import cleanup_store

LXCFS = "/usr/bin/lxcfs"
pytestmark = pytest.mark.skipif(not os.access(LXCFS, os.X_OK), reason="lxcfs is not installed")


def key(d):
    return hashlib.sha256(os.path.abspath(d).encode()).hexdigest()[:12]


def run_file(d, ext):
    return f"/run/vesselctl/lxcfs/{key(d)}.{ext}"


def mounted(d):
    with open("/proc/self/mountinfo") as f:
        return any(l.split()[4] == d and " - fuse.lxcfs " in l for l in f)


def pid_of(d):
    try:
        with open(run_file(d, "pid")) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


class Lxcfs:
    """The test's lxcfs directory, and what runs there."""

    def __init__(self, tmp_path):
        self.dir = str(tmp_path / "lxcfs")
        self.env = dict(os.environ, VESSEL_LXCFS_DIR=self.dir)
        self.own = []  # Popen of the lxcfs the test started itself
        self.pids = set()  # the manager's, as its pid file said

    def pid(self):
        p = pid_of(self.dir)
        if p:
            self.pids.add(p)
        return p

    def start_own(self, tmp_path):
        """An lxcfs started by the test, as a distribution's service would."""
        os.makedirs(self.dir, exist_ok=True)
        log = open(tmp_path / "own-lxcfs.log", "w")
        p = subprocess.Popen([LXCFS, "-f", "-p", str(tmp_path / "own-lxcfs.pid"), self.dir],
                             stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                             start_new_session=True)
        log.close()
        self.own.append(p)
        end = time.time() + 5
        while not mounted(self.dir):
            assert p.poll() is None and time.time() < end, "lxcfs did not mount"
            time.sleep(0.02)
        return p

    def cleanup(self):
        self.pid()
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGCONT)
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for p in self.own:
            os.kill(p.pid, signal.SIGCONT)
            p.kill()
            p.wait()
        end = time.time() + 5
        while any(alive(p) for p in self.pids) and time.time() < end:
            time.sleep(0.02)
        while mounted(self.dir):
            subprocess.run(["umount", "-l", self.dir], capture_output=True)
        for ext in ("pid", "log", "lock"):
            try:
                os.unlink(run_file(self.dir, ext))
            except FileNotFoundError:
                pass


@pytest.fixture
def lx(tmp_path):
    x = Lxcfs(tmp_path)
    try:
        yield x
    finally:
        x.cleanup()
    assert not any(alive(p) for p in x.pids), f"lxcfs left running: {x.pids}"


@pytest.fixture
def store(tmp_path, lx):
    s = str(tmp_path / "store")
    yield s
    cleanup_store(VESSELCTL, s)


def ctl(store, lx, *args, check=True, env=None, timeout=60):
    r = subprocess.run([VESSELCTL, "--store", store, *args], capture_output=True, text=True,
                       timeout=timeout, env=env or lx.env)
    if check:
        assert r.returncode == 0, f"vesselctl {' '.join(args)}: {r.stderr}"
    return r


def copy_with_libs(rootfs, binary):
    """binary and the shared libraries ldd lists, at their host paths."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    files = [binary]
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts and len(parts) > parts.index("=>") + 1 and \
                parts[parts.index("=>") + 1].startswith("/"):
            files.append(parts[parts.index("=>") + 1])
        elif parts and parts[0].startswith("/"):
            files.append(parts[0])  # the dynamic loader
    for f in files:
        dst = os.path.join(rootfs, f.lstrip("/"))
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.lexists(dst):
            os.unlink(dst)
        shutil.copy2(os.path.realpath(f), dst)


@pytest.fixture
def img(store, lx, tmp_path):
    d = tmp_path / "image"
    r = d / "rootfs"
    shutil.copytree(base_rootfs(), r, symlinks=True)
    os.symlink("../bin/busybox", r / "sbin" / "init")
    (r / "etc" / "inittab").write_text("::sysinit:/bin/echo booted\n::askfirst:-/bin/sh\n")
    # procps' free (by its path: busybox's sh prefers its own applets);
    # squashfuse (libfuse3 mounts by itself as root, no fusermount3), and a
    # squashfs image for it.
    for b in ("/usr/bin/free", "/usr/bin/squashfuse"):
        copy_with_libs(str(r), b)
    src = tmp_path / "sqsrc"
    src.mkdir()
    (src / "hello.txt").write_text("hello from squashfs\n")
    subprocess.run(["mksquashfs", str(src), str(r / "root" / "img.sqfs"), "-quiet",
                    "-noappend", "-all-root"], check=True, capture_output=True)
    (r / "mnt" / "sq").mkdir(parents=True)
    (d / "metadata.yaml").write_text("architecture: x86_64\ncreation_date: 1700000000\n")
    ctl(store, lx, "image", "import", str(d), "--alias", "bb")
    return store


def host_memtotal():
    with open("/proc/meminfo") as f:
        return f.readline().split()[1]


def sh(store, lx, name, script, check=True, timeout=30):
    return ctl(store, lx, "exec", name, "--", "sh", "-c", script, check=check, timeout=timeout)


FREE = "/usr/bin/free -m"  # procps'
LIMITS = ["-c", "limits.memory=256MiB", "-c", "limits.cpu=1"]


def test_limits_show_inside(img, lx):
    """No lxcfs runs: the manager starts one, says so, and the instance's
    free, /proc/cpuinfo and /sys/devices/system/cpu show its limits."""
    r = ctl(img, lx, "launch", "bb", "c1", *LIMITS)
    assert f"vesselctl: started lxcfs at {lx.dir} (pid {lx.pid()}," in r.stderr, r.stderr
    assert mounted(lx.dir) and alive(lx.pid())
    free = sh(img, lx, "c1", FREE).stdout.splitlines()
    assert free[1].split()[:2] == ["Mem:", "256"], free
    assert sh(img, lx, "c1", "head -1 /proc/meminfo").stdout.split()[1] == "262144"
    assert sh(img, lx, "c1", "nproc").stdout.strip() == "1"
    assert sh(img, lx, "c1", "grep -c ^processor /proc/cpuinfo").stdout.strip() == "1"
    assert sh(img, lx, "c1", "cat /sys/devices/system/cpu/online").stdout.strip() == "0"
    mi = sh(img, lx, "c1", "cat /proc/self/mountinfo").stdout
    for p in ("/proc/meminfo", "/proc/cpuinfo", "/proc/uptime", "/proc/stat",
              "/sys/devices/system/cpu"):
        assert any(l.split()[4] == p and " - fuse.lxcfs " in l for l in mi.splitlines()), p
    # lxcfs's uptime is the instance's: it just started.
    assert float(sh(img, lx, "c1", "cat /proc/uptime").stdout.split()[0]) < 60
    # A second start uses the one that runs, without a word.
    pid = lx.pid()
    r = ctl(img, lx, "launch", "bb", "c2", "-c", "limits.memory=128MiB")
    assert "lxcfs" not in r.stderr, r.stderr
    assert lx.pid() == pid
    assert sh(img, lx, "c2", FREE).stdout.splitlines()[1].split()[1] == "128"
    # security.lxcfs=false: the host's /proc.
    ctl(img, lx, "launch", "bb", "c3", "-c", "security.lxcfs=false", *LIMITS)
    assert sh(img, lx, "c3", "head -1 /proc/meminfo").stdout.split()[1] == host_memtotal()
    # config show --oci says what a start would bind.
    oci = json.loads(ctl(img, lx, "config", "show", "c1", "--oci").stdout)
    assert {"destination": "/proc/meminfo", "type": "bind", "source": f"{lx.dir}/proc/meminfo",
            "options": ["bind", "nosuid", "nodev", "noexec", "ro"]} in oci["mounts"]


def test_running_lxcfs_is_used(img, lx, tmp_path):
    own = lx.start_own(tmp_path)
    r = ctl(img, lx, "launch", "bb", "c1", *LIMITS)
    assert "lxcfs" not in r.stderr, r.stderr
    assert pid_of(lx.dir) is None  # the manager started none
    assert sh(img, lx, "c1", FREE).stdout.splitlines()[1].split()[1] == "256"
    assert own.poll() is None


def _read_or_empty(path):
    """A /proc file of a process that may end between glob and open."""
    try:
        with open(path, "rb") as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError):
        return b""


def test_parallel_starts_start_one_lxcfs(img, lx):
    for n in range(3):
        ctl(img, lx, "init", "bb", f"p{n}", *LIMITS)
    procs = [subprocess.Popen([VESSELCTL, "--store", img, "start", f"p{n}"], env=lx.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n in range(3)]
    errs = [p.communicate(timeout=60)[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errs
    assert sum("started lxcfs" in e for e in errs) == 1, errs
    lx.pid()
    lxcfs_pids = [int(p.split("/")[2]) for p in glob.glob("/proc/[0-9]*/cmdline")
                  if lx.dir.encode() in _read_or_empty(p)]
    assert len(lxcfs_pids) == 1, lxcfs_pids
    for n in range(3):
        assert sh(img, lx, f"p{n}", FREE).stdout.splitlines()[1].split()[1] == "256"


def test_not_installed(img, lx):
    """lxcfs missing (VESSEL_LXCFS_BIN names no file): one line, and the
    instance starts with the host's /proc."""
    env = dict(lx.env, VESSEL_LXCFS_BIN="/nonexistent/lxcfs")
    r = ctl(img, lx, "launch", "bb", "c1", *LIMITS, env=env)
    assert r.stderr == "vesselctl: lxcfs is not installed: /proc in instances shows the " \
                       "host's\n", r.stderr
    assert not mounted(lx.dir)
    assert sh(img, lx, "c1", "head -1 /proc/meminfo").stdout.split()[1] == host_memtotal()
    assert sh(img, lx, "c1", "nproc").stdout.strip() == "1"  # the cpuset, still


def test_dead_lxcfs(img, lx):
    """lxcfs killed with SIGKILL leaves its mount dead (ENOTCONN): nothing
    hangs; the next start unmounts it and starts a new lxcfs."""
    ctl(img, lx, "launch", "bb", "c1", *LIMITS)
    first = lx.pid()
    os.kill(first, signal.SIGKILL)
    end = time.time() + 5
    while alive(first):
        assert time.time() < end
        time.sleep(0.02)
    assert mounted(lx.dir)
    t = time.time()
    ctl(img, lx, "list", timeout=10)
    assert sh(img, lx, "c1", "true", timeout=10).returncode == 0
    r = sh(img, lx, "c1", "cat /proc/meminfo", check=False, timeout=10)
    assert r.returncode != 0 and "not connected" in r.stderr, r
    r = ctl(img, lx, "launch", "bb", "c2", *LIMITS, timeout=20)
    assert time.time() - t < 15
    assert f"vesselctl: lxcfs at {lx.dir} was dead: unmounted it" in r.stderr, r.stderr
    assert "started lxcfs" in r.stderr
    assert lx.pid() != first and alive(lx.pid())
    assert sh(img, lx, "c2", FREE).stdout.splitlines()[1].split()[1] == "256"
    # The first instance keeps the dead binds, and stops as usual.
    ctl(img, lx, "stop", "c1", "-f", timeout=20)
    ctl(img, lx, "start", "c1", timeout=20)
    assert sh(img, lx, "c1", FREE).stdout.splitlines()[1].split()[1] == "256"


def test_hung_lxcfs(img, lx):
    """A stopped lxcfs answers nothing: a start waits for it no more than
    the probe's bound, goes on with the host's /proc and leaves it be."""
    ctl(img, lx, "launch", "bb", "c1", *LIMITS)
    pid = lx.pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        t = time.time()
        r = ctl(img, lx, "launch", "bb", "c2", *LIMITS, timeout=30)
        assert time.time() - t < 10
        assert f"vesselctl: lxcfs at {lx.dir} does not answer (hung)" in r.stderr, r.stderr
        assert lx.pid() == pid and mounted(lx.dir)
        ctl(img, lx, "list", timeout=10)
        assert sh(img, lx, "c2", "head -1 /proc/meminfo", timeout=10).stdout.split()[1] == \
            host_memtotal()
    finally:
        os.kill(pid, signal.SIGCONT)
    assert sh(img, lx, "c1", FREE).stdout.splitlines()[1].split()[1] == "256"


def test_fuse_inside(img, lx):
    """/dev/fuse is there by default: squashfuse mounts an image inside;
    security.fuse=false drops the node."""
    ctl(img, lx, "launch", "bb", "f1")
    out = sh(img, lx, "f1", "ls -l /dev/fuse; squashfuse /root/img.sqfs /mnt/sq && "
                            "cat /mnt/sq/hello.txt && umount /mnt/sq && echo unmounted").stdout
    lines = out.splitlines()
    assert lines[0].startswith("crw-rw-rw-") and "10, 229" in lines[0], out
    assert lines[1:] == ["hello from squashfs", "unmounted"], out
    ctl(img, lx, "launch", "bb", "f2", "-c", "security.fuse=false")
    r = sh(img, lx, "f2", "test -e /dev/fuse && echo there || echo none").stdout
    assert r.strip() == "none"
    r = sh(img, lx, "f2", "squashfuse /root/img.sqfs /mnt/sq", check=False)
    assert r.returncode != 0
