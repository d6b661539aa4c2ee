"""mknod inside instances through the monitor's mknod supervisor
(src/manager/mknod-supervisor.h): security.syscalls.intercept.mknod has the
runtime send mknod and mknodat of an instance's processes to the monitor
(seccomp user notification), which makes device nodes that a user
namespace's root may not, with the caller's root, credentials and umask.

Every test runs on an unprivileged instance (the default: a user
namespace with the instance's id range, an idmapped or shifted rootfs).
"""
import io
import json
import os
import pathlib
import shutil
import stat
import subprocess
import tarfile
import tempfile
import threading
import time

import pytest

from conftest import wait_for
from test_vesselctl_image import VESSELCTL, ctl
from test_vesselctl_lifecycle import make_boot_image, state
from vesselctl_store import cleanup_store, monitors, rundir


def oci(store, name):
    return json.loads(ctl(store, "config", "show", name, "--oci").stdout)


def has_userns(config):
    return any(n["type"] == "user" for n in config["linux"].get("namespaces", []))


class Instance:
    def __init__(self, store, name):
        self.store, self.name = store, name

    @property
    def rootfs(self):
        return os.path.join(self.store, "instances", self.name, "rootfs")

    def sh(self, script, user=None, check=True, timeout=120):
        extra = ["--user", str(user), "--group", str(user)] if user is not None else []
        r = subprocess.run([VESSELCTL, "--store", self.store, "exec", self.name, *extra, "--",
                            "sh", "-c", script], capture_output=True, text=True, timeout=timeout)
        if check:
            assert r.returncode == 0, f"{script!r}: rc={r.returncode} {r.stdout!r} {r.stderr!r}"
        return r

    def init_pid(self):
        return json.loads(ctl(self.store, "info", self.name, "-f", "json").stdout)["state"]["pid"]

    def host_id(self, kind, inside):
        """The host's id for the container's uid/gid `inside` (kind: uid or gid)."""
        with open(f"/proc/{self.init_pid()}/{kind}_map") as f:
            for line in f:
                i, o, n = map(int, line.split())
                if i <= inside < i + n:
                    return o + inside - i
        raise AssertionError(f"{kind} {inside} is not mapped")

    def monitor(self):
        (pid,) = monitors(self.store)
        return pid


@pytest.fixture
def inst():
    d = tempfile.mkdtemp(prefix="vessel-mknod-")
    store = os.path.join(d, "store")
    try:
        ctl(store, "image", "import", str(make_boot_image(pathlib.Path(d))), "--alias", "boot")
        ctl(store, "init", "boot", "m1")
        assert has_userns(oci(store, "m1"))
        ctl(store, "start", "m1")
        yield Instance(store, "m1")
    finally:
        cleanup_store(VESSELCTL, store)
        shutil.rmtree(d, ignore_errors=True)


def host_stat(i, path):
    return os.lstat(os.path.join(i.rootfs, path.lstrip("/")))


def test_config_has_the_notify_rules(inst):
    sc = oci(inst.store, inst.name)["linux"]["seccomp"]
    assert sc["defaultAction"] == "SCMP_ACT_ALLOW"
    assert sc["syscalls"] == [{"names": ["mknod", "mknodat"], "action": "SCMP_ACT_NOTIFY"}]
    assert sc["listenerPath"] == os.path.join(rundir(inst.store, inst.name), "seccomp")
    assert stat.S_ISSOCK(os.stat(sc["listenerPath"]).st_mode)


def test_null_device_made_and_usable(inst):
    out = inst.sh("touch /tmp/ref && mknod /tmp/null c 1 3 && echo hi > /tmp/null && "
                  "cat /tmp/null && ls -ln /tmp/null").stdout
    assert out.split()[0] == "crw-r--r--" and out.split()[2:4] == ["0", "0"], out
    assert "1," in out and out.split()[5] == "3", out
    st = host_stat(inst, "/tmp/null")
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3
    # Owned by the caller's fsuid/fsgid, as a file it makes is (on disk:
    # the host's ids, or the container's below an idmapped rootfs).
    ref = host_stat(inst, "/tmp/ref")
    assert (st.st_uid, st.st_gid) == (ref.st_uid, ref.st_gid)
    assert st.st_uid in (0, inst.host_id("uid", 0))
    # The kernel's answers for what exists, what has no parent.
    r = inst.sh("mknod /tmp/null c 1 3", check=False)
    assert r.returncode != 0 and "File exists" in r.stderr, r
    r = inst.sh("mknod /nowhere/x c 1 3", check=False)
    assert r.returncode != 0 and "No such file" in r.stderr, r
    r = inst.sh("mknod /sys/x c 1 3", check=False)  # /sys is read-only
    assert r.returncode != 0 and "Read-only" in r.stderr, r


def test_umask_cwd_and_dirfd(inst):
    inst.sh("umask 077; cd /tmp && mknod rel c 1 5")
    st = host_stat(inst, "/tmp/rel")
    assert stat.S_IMODE(st.st_mode) == 0o600 and os.minor(st.st_rdev) == 5
    # mknod relative to a cwd below the root: ".." goes up as for the caller.
    inst.sh("mkdir -p /tmp/a/b && cd /tmp/a/b && mknod ../up c 1 7")
    assert stat.S_ISCHR(host_stat(inst, "/tmp/a/up").st_mode)
    # A 0700 directory of another user: container root's CAP_DAC_OVERRIDE
    # counts (the owner is mapped in its user namespace).
    inst.sh("mkdir /tmp/priv && chown 1000:1000 /tmp/priv && chmod 700 /tmp/priv && "
            "mknod /tmp/priv/zero c 1 5")
    assert stat.S_ISCHR(host_stat(inst, "/tmp/priv/zero").st_mode)


@pytest.fixture(scope="session")
def mknodat_tool():
    """tests/integration/helpers/mknodat.c, built static once per session."""
    d = tempfile.mkdtemp(prefix="vessel-mknodat-")
    out = os.path.join(d, "mknodat")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers", "mknodat.c")
    try:
        subprocess.run(["gcc", "-static", "-O2", "-o", out, src], check=True)
        yield out
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_mknodat_dirfd_and_bad_arguments(inst, mknodat_tool):
    """mknodat(2) relative to the caller's fd, and the errors of a bad fd,
    a fd of a file and a path pointer to nothing (busybox passes none)."""
    shutil.copy2(mknodat_tool, os.path.join(inst.rootfs, "mknodat"))
    inst.sh("mkdir -p /tmp/d/sub")
    assert inst.sh("/mknodat /tmp/d sub/n 1 5").stdout == "ok\n"
    st = host_stat(inst, "/tmp/d/sub/n")
    assert stat.S_ISCHR(st.st_mode) and os.minor(st.st_rdev) == 5
    assert not os.path.lexists(os.path.join(inst.rootfs, "sub"))
    # ".." from the fd, as the kernel walks it
    assert inst.sh("/mknodat /tmp/d/sub ../up 1 3").stdout == "ok\n"
    assert stat.S_ISCHR(host_stat(inst, "/tmp/d/up").st_mode)
    assert inst.sh("/mknodat /tmp/d sub/n 1 5", check=False).stdout == "EEXIST\n"
    assert inst.sh("/mknodat --badfd x", check=False).stdout == "EBADF\n"
    assert inst.sh("/mknodat --filefd /etc/passwd x", check=False).stdout == "ENOTDIR\n"
    assert inst.sh("/mknodat --fault", check=False).stdout == "EFAULT\n"


def test_i386_caller(inst, tmp_path):
    """A 32-bit caller: the filter has the host's other ABIs (without them
    libseccomp's filter would kill it), the supervisor decodes its
    syscall numbers and 32-bit arguments."""
    out = str(tmp_path / "mknod32")
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers", "mknod32.c")
    if os.uname().machine != "x86_64":
        pytest.skip("an x86_64 host runs i386 programs")
    r = subprocess.run(["gcc", "-m32", "-static", "-nostdlib", "-ffreestanding", "-fno-pic",
                        "-no-pie", "-O2", "-o", out, src], capture_output=True, text=True)
    if r.returncode != 0:
        pytest.skip(f"no i386 compiler: {r.stderr.strip()[:200]}")
    # Some kernels built with IA32 emulation still refuse 32-bit ELF files
    # (ENOEXEC; seen on a firecracker host): try a program that only exits.
    probe = tmp_path / "exit32"
    (tmp_path / "exit32.c").write_text(
        'void _start(void) { __asm__ volatile("movl $1, %eax; xorl %ebx, %ebx; int $0x80"); }\n')
    subprocess.run(["gcc", "-m32", "-static", "-nostdlib", "-ffreestanding", "-fno-pic",
                    "-no-pie", "-O2", "-o", str(probe), str(tmp_path / "exit32.c")], check=True)
    try:
        subprocess.run([str(probe)], check=True)
    except OSError as e:
        pytest.skip(f"this kernel does not run i386 programs: {e}")
    shutil.copy2(out, os.path.join(inst.rootfs, "mknod32"))
    r = inst.sh("/mknod32", check=False)
    assert r.returncode == 0, r
    st = host_stat(inst, "/tmp/n32")
    assert stat.S_ISCHR(st.st_mode) and (os.major(st.st_rdev), os.minor(st.st_rdev)) == (1, 3)
    st = host_stat(inst, "/tmp/n32at")
    assert stat.S_ISBLK(st.st_mode) and (os.major(st.st_rdev), os.minor(st.st_rdev)) == (8, 0)


def test_block_device_made_but_not_openable(inst):
    r = inst.sh("mknod /tmp/sda b 8 0 && ls -ln /tmp/sda && head -c1 /tmp/sda", check=False)
    assert r.stdout.startswith("brw"), r
    st = host_stat(inst, "/tmp/sda")
    assert stat.S_ISBLK(st.st_mode) and os.major(st.st_rdev) == 8
    # Opening it stays the device cgroup's to allow, and it does not.
    assert r.returncode != 0 and "Operation not permitted" in r.stderr, r


def test_tar_extracts_nodes(inst):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, typ, ma, mi in [("dev/null", tarfile.CHRTYPE, 1, 3),
                                  ("dev/sda1", tarfile.BLKTYPE, 8, 1),
                                  ("dev/fifo", tarfile.FIFOTYPE, 0, 0)]:
            ti = tarfile.TarInfo(name)
            ti.type, ti.devmajor, ti.devminor, ti.mode = typ, ma, mi, 0o640
            t.addfile(ti)
        ti = tarfile.TarInfo("etc/hello")
        data = b"hello\n"
        ti.size = len(data)
        t.addfile(ti, io.BytesIO(data))
    with open(os.path.join(inst.rootfs, "nodes.tar"), "wb") as f:
        f.write(buf.getvalue())
    inst.sh("mkdir /tmp/x && tar -xf /nodes.tar -C /tmp/x")
    assert stat.S_ISCHR(host_stat(inst, "/tmp/x/dev/null").st_mode)
    st = host_stat(inst, "/tmp/x/dev/sda1")
    assert stat.S_ISBLK(st.st_mode) and (os.major(st.st_rdev), os.minor(st.st_rdev)) == (8, 1)
    assert stat.S_ISFIFO(host_stat(inst, "/tmp/x/dev/fifo").st_mode)
    assert inst.sh("cat /tmp/x/etc/hello").stdout == "hello\n"
    # The null one works, the disk one is the device cgroup's to refuse.
    assert inst.sh("echo x > /tmp/x/dev/null && cat /tmp/x/dev/null && echo ok").stdout == "ok\n"
    r = inst.sh("head -c1 /tmp/x/dev/sda1", check=False)
    assert r.returncode != 0 and "Operation not permitted" in r.stderr, r


def test_symlinks_stay_inside_the_root(inst):
    """Absolute symlinks, ".." past the root and /proc's magic links
    resolve in the instance's root or not at all, never on the host."""
    tag = f"vessel-mknod-escape-{os.getpid()}"
    host_dir = tempfile.mkdtemp(prefix="vessel-mknod-host-")
    try:
        inst.sh(f"ln -s /../../../../../../tmp /tmp/abs && mknod /tmp/abs/{tag} c 1 3")
        inst.sh(f"ln -s ../../../../../../../../tmp /tmp/rel && mknod /tmp/rel/{tag}.2 c 1 3")
        assert not os.path.exists(f"/tmp/{tag}") and not os.path.exists(f"/tmp/{tag}.2")
        assert stat.S_ISCHR(host_stat(inst, f"/tmp/{tag}").st_mode)
        assert stat.S_ISCHR(host_stat(inst, f"/tmp/{tag}.2").st_mode)
        # A host path the instance does not have.
        r = inst.sh(f"ln -s {host_dir} /tmp/host && mknod /tmp/host/x c 1 3", check=False)
        assert r.returncode != 0 and "No such file" in r.stderr, r
        assert os.listdir(host_dir) == []
        # A path through /proc's magic links is refused: ELOOP
        # (RESOLVE_NO_MAGICLINKS), or EACCES first when the caller's
        # credentials may not look at init's root at all.
        r = inst.sh("mknod /proc/1/root/tmp/magic c 1 3", check=False)
        assert r.returncode != 0, r
        assert "symbolic links" in r.stderr or "Permission denied" in r.stderr, r
        assert not os.path.lexists("/tmp/magic")
        assert not os.path.lexists(os.path.join(inst.rootfs, "tmp", "magic"))
        # The last component is never followed: a symlink there exists.
        r = inst.sh("ln -s /etc/passwd /tmp/last && mknod /tmp/last c 1 3", check=False)
        assert r.returncode != 0 and "File exists" in r.stderr, r
        assert stat.S_ISLNK(host_stat(inst, "/tmp/last").st_mode)
    finally:
        shutil.rmtree(host_dir, ignore_errors=True)


def test_non_root_gets_eperm_but_fifo_and_whiteout(inst):
    r = inst.sh("mknod /tmp/u c 1 3", user=1000, check=False)
    assert r.returncode != 0 and "Operation not permitted" in r.stderr, r
    assert not os.path.lexists(os.path.join(inst.rootfs, "tmp", "u"))
    # FIFOs are the kernel's, for anyone.
    inst.sh("touch /tmp/ref1000 && mkfifo /tmp/f && mknod /tmp/p p", user=1000)
    ref = host_stat(inst, "/tmp/ref1000")
    st = host_stat(inst, "/tmp/f")
    assert stat.S_ISFIFO(st.st_mode) and st.st_uid == ref.st_uid
    assert stat.S_ISFIFO(host_stat(inst, "/tmp/p").st_mode)
    # A whiteout (char 0:0) needs no CAP_MKNOD; it is the caller's.
    inst.sh("mknod /tmp/wh c 0 0", user=1000)
    st = host_stat(inst, "/tmp/wh")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert (st.st_uid, st.st_gid) == (ref.st_uid, ref.st_gid)
    # Nor may a nested user namespace's root (no CAP_MKNOD in the instance's).
    r = inst.sh("unshare -U -r mknod /tmp/nested c 1 3", check=False)
    assert r.returncode != 0 and "Operation not permitted" in r.stderr, r


def test_unmapped_directory_owner_is_not_overridden(inst):
    """In a directory whose owner the instance's user namespace does not
    map (a host directory bound in), container root has no DAC override."""
    cfg = oci(inst.store, inst.name)
    host = tempfile.mkdtemp(prefix="vessel-mknod-data-")
    os.chmod(host, 0o755)  # root's, writable by root only
    try:
        ctl(inst.store, "config", "device", "add", inst.name, "data", "disk",
            f"source={host}", "path=/data")
        ctl(inst.store, "restart", inst.name)
        assert has_userns(cfg)
        if inst.sh("stat -c %u /data").stdout.strip() != "65534":
            pytest.skip("the disk device is id-shifted: its owner is mapped")
        r = inst.sh("mknod /data/n c 1 3", check=False)
        assert r.returncode != 0 and "Permission denied" in r.stderr, r
        assert os.listdir(host) == []
    finally:
        ctl(inst.store, "stop", "-f", inst.name, check=False)
        shutil.rmtree(host, ignore_errors=True)


def monitor_fds(pid):
    return sorted(os.listdir(f"/proc/{pid}/fd"))


def monitor_children(pid, init):
    out = []
    for t in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{t}/children") as f:
            out += [int(c) for c in f.read().split()]
    return [c for c in out if c != init]


def test_loop_of_mknod_leaves_the_monitor_responsive(inst):
    """2000 mknod calls while exec and the console log still answer; no
    fd and no worker of the monitor is left after them."""
    mon, init = inst.monitor(), inst.init_pid()
    before = monitor_fds(mon)
    done = {}

    def loop():
        done["r"] = inst.sh("mkdir /tmp/l && i=0; while [ $i -lt 2000 ]; do "
                            "mknod /tmp/l/n$i c 1 3 || exit 1; i=$((i+1)); done", check=False,
                            timeout=300)

    t = threading.Thread(target=loop)
    t.start()
    try:
        slowest = 0.0
        n = 0
        while t.is_alive() or n < 3:
            s = time.time()
            assert inst.sh("echo alive").stdout == "alive\n"
            ctl(inst.store, "console", inst.name, "--show-log")
            slowest = max(slowest, time.time() - s)
            n += 1
        assert slowest < 10, slowest
    finally:
        t.join(timeout=300)
    assert done["r"].returncode == 0, done["r"]
    assert len(os.listdir(os.path.join(inst.rootfs, "tmp", "l"))) == 2000
    # The exec's notify fds close once its processes are gone.
    assert wait_for(lambda: monitor_fds(mon) == before, timeout=10), (before, monitor_fds(mon))
    assert wait_for(lambda: not monitor_children(mon, init), timeout=10)


def test_caller_killed_mid_loop(inst):
    """Callers killed with requests in flight: the monitor goes on."""
    r = inst.sh("mkdir /tmp/k; for j in 1 2 3 4; do (i=0; while :; do mknod /tmp/k/$j.$i c 1 3; "
                "i=$((i+1)); done) & done; sleep 1; kill -9 $(jobs -p) 2>/dev/null; "
                "pkill -9 mknod; sleep 0.2; echo killed", check=False)
    assert "killed" in r.stdout, r
    assert inst.sh("mknod /tmp/after c 1 3 && echo ok").stdout == "ok\n"
    assert state(inst.store, inst.name) == "Running"
    # An answer to a caller that is gone (ENOENT) is no error of ours.
    with open(os.path.join(inst.store, "instances", inst.name, "monitor.log")) as f:
        log = f.read()
    assert "mknod:" not in log, log


def test_hung_worker_is_killed_and_its_caller_gets_eio(tmp_path):
    """A worker stuck in a path whose file system never answers (a host
    FUSE mount attached as a disk; NFS would do the same) holds neither
    the monitor nor the other callers: after the timeout its caller gets
    EIO, the monitor logs it, and the next mknod is served meanwhile."""
    store = str(tmp_path / "store")
    tool, mnt = str(tmp_path / "fusehang"), tmp_path / "fuse"
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "helpers", "fusehang.c")
    subprocess.run(["gcc", "-static", "-O2", "-o", tool, src], check=True)
    mnt.mkdir()
    server = subprocess.Popen([tool, str(mnt)], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline() == "ready\n"
        ctl(store, "image", "import", str(make_boot_image(tmp_path)), "--alias", "boot")
        ctl(store, "init", "boot", "m1")
        ctl(store, "config", "device", "add", "m1", "hang", "disk", f"source={mnt}",
            "path=/mnt/hang")
        ctl(store, "start", "m1", env={**os.environ, "VESSEL_MKNOD_TIMEOUT_MS": "2000"})
        i = Instance(store, "m1")
        mon, init = i.monitor(), i.init_pid()
        hung = subprocess.Popen([VESSELCTL, "--store", store, "exec", "m1", "--", "sh", "-c",
                                 "mknod /mnt/hang/hang/x c 1 3; echo rc=$?"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        # While the worker hangs, another request gets a worker of its own.
        assert wait_for(lambda: monitor_children(mon, init), timeout=10)
        assert i.sh("mknod /tmp/meanwhile c 1 3 && echo ok").stdout == "ok\n"
        out, err = hung.communicate(timeout=60)
        assert out == "rc=1\n" and "Input/output error" in err, (out, err)
        with open(os.path.join(store, "instances", "m1", "monitor.log")) as f:
            log = f.read()
        assert "no answer in 2000 ms to mknod by pid" in log, log
        # Killed, the worker still waits in the FUSE request, yet its slot
        # is free: the monitor serves the next ones and stays responsive.
        assert len(monitor_children(mon, init)) == 1
        assert i.sh("mknod /tmp/after c 1 3 && echo ok").stdout == "ok\n"
        assert state(store, "m1") == "Running"
        # The server's end lets the worker go; the monitor reaps it.
        server.kill()
        server.wait()
        assert wait_for(lambda: not monitor_children(mon, init), timeout=10)
    finally:
        server.kill()
        server.wait()
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
        cleanup_store(VESSELCTL, store)


# ---------------------------------------------------- configuration (no instance run)

@pytest.fixture
def store():
    d = tempfile.mkdtemp(prefix="vessel-mknod-cfg-")
    s = os.path.join(d, "store")
    try:
        ctl(s, "image", "import", str(make_boot_image(pathlib.Path(d))), "--alias", "boot")
        yield s
    finally:
        cleanup_store(VESSELCTL, s)
        shutil.rmtree(d, ignore_errors=True)


def test_key_defaults_and_switches(store):
    ctl(store, "init", "boot", "c1")
    assert "seccomp" in oci(store, "c1")["linux"]  # not privileged: on
    ctl(store, "config", "set", "c1", "security.syscalls.intercept.mknod=false")
    assert "seccomp" not in oci(store, "c1")["linux"]
    ctl(store, "config", "unset", "c1", "security.syscalls.intercept.mknod")
    ctl(store, "config", "set", "c1", "security.privileged=true")
    assert "seccomp" not in oci(store, "c1")["linux"]  # privileged: off
    ctl(store, "config", "set", "c1", "security.syscalls.intercept.mknod=on")
    assert oci(store, "c1")["linux"]["seccomp"]["syscalls"][0]["action"] == "SCMP_ACT_NOTIFY"
    r = ctl(store, "config", "set", "c1", "security.syscalls.intercept.mknod=maybe", check=False)
    assert r.returncode != 0 and "security.syscalls.intercept.mknod" in r.stderr, r


def test_privileged_instance_without_interception_runs(store):
    """No filter, no notify fd: the supervisor's socket sits unused."""
    ctl(store, "launch", "boot", "p1", "-c", "security.privileged=true")
    sock = os.path.join(rundir(store, "p1"), "seccomp")
    assert stat.S_ISSOCK(os.stat(sock).st_mode)
    r = ctl(store, "exec", "p1", "--", "sh", "-c", "mknod /tmp/null c 1 3 && cat /tmp/null && "
            "echo ok")
    assert r.stdout == "ok\n"
    ctl(store, "stop", "-f", "p1")
    assert not os.path.exists(sock)
