"""vesselctl run by an unprivileged user (issue 12): a user made here
(useradd, its own lines of 131072 ids in /etc/subuid and /etc/subgid,
removed after the module with userdel -r and the lines taken out, even
on failure) runs the real vesselctl with its store under
$XDG_DATA_HOME/vessel: images imported into the first 65536 of its
subordinate ids, instances launched into ranges carved from the rest
(through newuidmap/newgidmap), exec, stop, start with the same range,
delete that frees it; what a rootless store refuses, and a user with too
few ids.  Nothing of the user may be left: no process, no instance's run
directory, no container in the runtime's state."""
import glob
import json
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import VESSEL, base_rootfs, wait_for
from test_vesselctl_image import VESSELCTL
from vesselctl_store import store_key

USER = "vessel-rlctl"
FEW = "vessel-rlfew"
IDS = 131072
BLOCK = 65536
SUBFILES = ("/etc/subuid", "/etc/subgid")
INITTAB = "::sysinit:/bin/echo rootless booted\n::askfirst:-/bin/sh\n"


# ------------------------------------------------------------ the users

def _lines_of(name, uid):
    out = []
    for f in SUBFILES:
        with open(f) as fh:
            out += [l for l in fh if l.split(":")[0] in (name, str(uid))]
    return out


def _drop_lines(name, uid):
    """Take the user's lines out of /etc/subuid and /etc/subgid."""
    for f in SUBFILES:
        with open(f) as fh:
            keep = [l for l in fh if l.split(":")[0] not in (name, str(uid))]
        tmp = f + ".vessel-test"
        with open(tmp, "w") as fh:
            fh.writelines(keep)
        os.chmod(tmp, 0o644)
        os.rename(tmp, f)


def _free_start():
    """A start above every range of both files, on a block boundary."""
    top = 0
    for f in SUBFILES:
        with open(f) as fh:
            for l in fh:
                parts = l.strip().split(":")
                if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                    top = max(top, int(parts[1]) + int(parts[2]))
    return max(100000 // BLOCK + 1, (top + BLOCK - 1) // BLOCK) * BLOCK


def _processes(uid):
    pids = []
    for p in glob.glob("/proc/[0-9]*/status"):
        try:
            with open(p) as f:
                for l in f:
                    if l.startswith("Uid:"):
                        if int(l.split()[1]) == uid:
                            pids.append(int(p.split("/")[2]))
                        break
        except OSError:
            pass
    return pids


def _remove_user(name):
    try:
        pw = pwd.getpwnam(name)
    except KeyError:
        return
    subprocess.run(["pkill", "-KILL", "-u", name])
    wait_for(lambda: not _processes(pw.pw_uid), timeout=10)
    subprocess.run(["userdel", "--remove", name], stderr=subprocess.DEVNULL)
    _drop_lines(name, pw.pw_uid)


def _make_user(name, ids):
    """useradd, then exactly one line of ids (from a free start) in each
    file instead of what useradd gave; returns (pw, start)."""
    _remove_user(name)  # a leftover of a killed run
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", name], check=True)
    pw = pwd.getpwnam(name)
    _drop_lines(name, pw.pw_uid)
    start = _free_start()
    for f in SUBFILES:
        with open(f, "a") as fh:
            fh.write(f"{name}:{start}:{ids}\n")
    return pw, start


@pytest.fixture(scope="module")
def bins():
    """vesselctl, its monitor and the runtime where any user may run
    them (a build directory may be private)."""
    d = tempfile.mkdtemp(prefix="vessel-rl-bin-")
    try:
        os.chmod(d, 0o755)
        here = os.path.dirname(os.path.abspath(VESSELCTL))
        for src, dst in ((VESSELCTL, "vesselctl"),
                         (os.path.join(here, "vesselctl-monitor"), "vesselctl-monitor"),
                         (VESSEL, "vessel")):
            shutil.copy2(src, os.path.join(d, dst))
            os.chmod(os.path.join(d, dst), 0o755)
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


class User:
    """The user and vesselctl run as it, with runuser and a clean
    environment: HOME, XDG_DATA_HOME (the store's parent) and
    XDG_RUNTIME_DIR (the run directory's)."""

    def __init__(self, pw, start, bins):
        self.pw, self.start, self.bins = pw, start, bins
        self.data = os.path.join(pw.pw_dir, "data")
        self.store = os.path.join(self.data, "vessel")
        self.xdg_run = tempfile.mkdtemp(prefix="vessel-rl-run-")
        os.chown(self.xdg_run, pw.pw_uid, pw.pw_gid)
        os.chmod(self.xdg_run, 0o700)
        self.rundir = os.path.join(self.xdg_run, "vesselctl", store_key(self.store))
        self.cgroup = None

    def env(self, **extra):
        e = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.pw.pw_dir,
             "XDG_DATA_HOME": self.data, "XDG_RUNTIME_DIR": self.xdg_run}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if k in os.environ:
                e[k] = os.environ[k]
        e.update(extra)
        return {k: v for k, v in e.items() if v is not None}

    def _cmd(self):
        """runuser, after moving into self.cgroup (root writes the pid, as
        systemd does for a user's session) when set."""
        pre = []
        if self.cgroup:
            pre = ["sh", "-c", f'echo $$ > {self.cgroup}/cgroup.procs && exec "$@"', "sh"]
        return pre + ["runuser", "-u", self.pw.pw_name, "--", "env", "-i"]

    def ctl(self, *args, check=True, timeout=120, **env):
        cmd = self._cmd()
        cmd += [f"{k}={v}" for k, v in self.env(**env).items()]
        cmd += [os.path.join(self.bins, "vesselctl")] + [str(a) for a in args]
        r = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                           timeout=timeout, cwd=self.pw.pw_dir)
        # An ASan/UBSan build's reports fail the test whatever the status.
        assert "Sanitizer" not in r.stderr and "runtime error:" not in r.stderr, r.stderr
        if check:
            assert r.returncode == 0, f"{args}: {r.stderr}"
        return r

    def popen(self, *args):
        cmd = self._cmd()
        cmd += [f"{k}={v}" for k, v in self.env().items()]
        cmd += [os.path.join(self.bins, "vesselctl")] + [str(a) for a in args]
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, cwd=self.pw.pw_dir)

    def status(self, name):
        for row in json.loads(self.ctl("list", "-f", "json").stdout):
            if row["name"] == name:
                return row["status"]
        return None

    def instances(self):
        return self.ctl("list", "-f", "csv", "-c", "n").stdout.split()


@pytest.fixture(scope="module")
def rl(bins):
    pw, start = _make_user(USER, IDS)
    u = User(pw, start, bins)
    left = []
    try:
        yield u
    finally:
        try:
            for name in u.instances():
                u.ctl("delete", "--force", name, check=False)
            # What the user runs must end with its commands: a monitor or
            # container of a deleted instance would be a leak.
            wait_for(lambda: not _processes(pw.pw_uid), timeout=10)
            left = [open(f"/proc/{p}/cmdline").read().replace("\0", " ")
                    for p in _processes(pw.pw_uid) if os.path.exists(f"/proc/{p}/cmdline")]
        finally:
            shutil.rmtree(u.xdg_run, ignore_errors=True)
            _remove_user(USER)
        assert not _lines_of(USER, pw.pw_uid), "the user's subordinate lines were left"
        assert not left, f"processes of the user left: {left}"


@pytest.fixture(scope="module")
def image_dir():
    """The busybox rootfs with busybox's init, readable by every user."""
    d = tempfile.mkdtemp(prefix="vessel-rl-img-")
    try:
        os.chmod(d, 0o755)
        r = os.path.join(d, "rootfs")
        shutil.copytree(base_rootfs(), r, symlinks=True)
        if not os.path.lexists(os.path.join(r, "sbin", "init")):
            os.symlink("../bin/busybox", os.path.join(r, "sbin", "init"))
        with open(os.path.join(r, "etc", "inittab"), "w") as f:
            f.write(INITTAB)
        with open(os.path.join(d, "metadata.yaml"), "w") as f:
            f.write("architecture: x86_64\ncreation_date: 1700000000\n")
        subprocess.run(["chmod", "-R", "a+rX", d], check=True)
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def boot(rl, image_dir):
    """The busybox image imported into the user's store (alias boot)."""
    r = rl.ctl("image", "import", image_dir, "--alias", "boot")
    fp = r.stdout.split("fingerprint: ")[1].split()[0]
    return fp


@pytest.fixture
def clean(rl):
    """Every instance a test made is deleted after it; none may remain
    running, in the runtime's state or in the run directory."""
    yield rl
    reports = []
    for log in glob.glob(os.path.join(rl.store, "instances", "*", "monitor.log")):
        with open(log, errors="replace") as f:
            text = f.read()
        if "Sanitizer" in text or "runtime error:" in text:
            reports.append(f"{log}:\n{text}")
    for name in rl.instances():
        rl.ctl("delete", "--force", name, check=False)
    rt = os.path.join(rl.rundir, "runtime")
    assert not [e for e in (os.listdir(rt) if os.path.isdir(rt) else []) if not e.startswith(".")]
    assert not [e for e in (os.listdir(rl.rundir) if os.path.isdir(rl.rundir) else [])
                if e not in ("runtime", "store")], "an instance's run directory was left"
    assert not reports, "\n".join(reports)


def _uid_of(pid):
    with open(f"/proc/{pid}/status") as f:
        for l in f:
            if l.startswith("Uid:"):
                return int(l.split()[1])
    return None


def _init_pid(rl, name):
    with open(os.path.join(rl.rundir, name, "init.pid")) as f:
        return int(f.read())


def _shift_record(rl, name):
    with open(os.path.join(rl.store, "instances", name, "rootfs.shift")) as f:
        return f.read().split()


# ------------------------------------------------------------ the tests

def test_store_under_xdg_data_home_and_image_files_in_the_first_block(rl, boot):
    assert os.path.isfile(os.path.join(rl.store, "catalogue.db"))
    assert os.stat(os.path.join(rl.store, "catalogue.db")).st_uid == rl.pw.pw_uid
    rootfs = os.path.join(rl.store, "images", boot, "rootfs")
    # The image's root-owned files are the user's first subordinate id,
    # which the user cannot write as itself.
    st = os.stat(os.path.join(rootfs, "bin", "busybox"))
    assert (st.st_uid, st.st_gid) == (rl.start, rl.start)
    assert os.stat(rootfs).st_uid == rl.start
    assert "boot" in rl.ctl("image", "list", "-f", "csv").stdout
    # Without $XDG_DATA_HOME: ~/.local/share/vessel.
    rl.ctl("image", "list", XDG_DATA_HOME=None)
    other = os.path.join(rl.pw.pw_dir, ".local", "share", "vessel")
    assert os.path.isfile(os.path.join(other, "catalogue.db"))
    shutil.rmtree(os.path.join(rl.pw.pw_dir, ".local"))


def test_launch_exec_stop_start_delete(clean, boot):
    rl = clean
    r = rl.ctl("launch", "boot", "c1")
    assert "shifting its files" in r.stderr, r.stderr
    assert rl.status("c1") == "Running"
    # Inside, root; on the host, a subordinate id of the user past the
    # images' block.
    assert rl.ctl("exec", "c1", "--", "id", "-u").stdout.strip() == "0"
    host = _uid_of(_init_pid(rl, "c1"))
    assert rl.start + BLOCK <= host < rl.start + IDS, host
    base = host
    assert _shift_record(rl, "c1") == ["shifted", str(base), str(BLOCK)]
    st = os.stat(os.path.join(rl.store, "instances", "c1", "rootfs", "bin", "busybox"))
    assert (st.st_uid, st.st_gid) == (base, base)
    # An exec'd process is the same subordinate uid on the host.
    p = rl.popen("exec", "c1", "--", "sleep", "4711")
    try:
        def sleeper():
            for c in glob.glob("/proc/[0-9]*/cmdline"):
                try:
                    with open(c, "rb") as f:
                        if f.read() == b"sleep\x004711\x00":
                            return int(c.split("/")[2])
                except OSError:
                    pass
            return None
        pid = wait_for(sleeper, timeout=10)
        assert pid and _uid_of(pid) == base
        os.kill(pid, signal.SIGKILL)
    finally:
        p.wait(timeout=30)
    assert "rootless booted" in rl.ctl("console", "c1", "--show-log").stdout
    # Stop, and start again: the same range, not shifted again.
    rl.ctl("stop", "c1")
    assert rl.status("c1") == "Stopped"
    r = rl.ctl("start", "c1")
    assert "shifting" not in r.stderr, r.stderr
    assert _uid_of(_init_pid(rl, "c1")) == base
    assert _shift_record(rl, "c1") == ["shifted", str(base), str(BLOCK)]
    # Delete: the files are gone (they were subordinate ids': the helper
    # removed them) and the range is free for the next instance.
    rl.ctl("delete", "--force", "c1")
    assert not os.path.exists(os.path.join(rl.store, "instances", "c1"))
    assert not os.path.exists(os.path.join(rl.rundir, "c1"))
    rl.ctl("launch", "boot", "c2")
    assert _uid_of(_init_pid(rl, "c2")) == base
    rl.ctl("delete", "--force", "c2")
    assert os.listdir(os.path.join(rl.store, "instances")) == []


def test_generated_config_suits_the_rootless_runtime(clean, boot):
    rl = clean
    rl.ctl("init", "boot", "c3")
    cfg = json.loads(rl.ctl("config", "show", "c3", "--oci").stdout)
    # No mknod supervisor (a non-root monitor cannot make nodes), a
    # relative cgroup (below a delegated subtree, if any), no idmapped
    # rootfs, maps into the user's own range.
    assert "seccomp" not in cfg["linux"], cfg["linux"].get("seccomp")
    assert not cfg["linux"]["cgroupsPath"].startswith("/"), cfg["linux"]["cgroupsPath"]
    assert "io.github.vessel.rootfs.idmap" not in cfg.get("annotations", {})
    m = cfg["linux"]["uidMappings"]
    assert len(m) == 1 and m[0]["containerID"] == 0 and m[0]["size"] == BLOCK
    assert rl.start + BLOCK <= m[0]["hostID"] < rl.start + IDS


@pytest.mark.parametrize("key,value,needle", [
    ("security.privileged", "true", "security.privileged=true: refused in a rootless store"),
    ("security.syscalls.intercept.mknod", "true",
     "security.syscalls.intercept.mknod=true: refused in a rootless store"),
    ("limits.memory", "64MiB", "limits.memory: refused in a rootless store without a "
                               "delegated cgroup"),
    ("limits.processes", "100", "limits.processes: refused"),
])
def test_refused_keys(clean, boot, key, value, needle):
    rl = clean
    r = rl.ctl("launch", "boot", "c4", "-c", f"{key}={value}", check=False)
    assert r.returncode != 0
    assert needle in r.stderr, r.stderr
    assert "instance c4" in r.stderr, r.stderr
    assert rl.status("c4") == "Stopped"
    assert not glob.glob(os.path.join(rl.rundir, "runtime", "c4"))


def test_run_directory_must_be_the_users_own(clean, boot):
    """Without $XDG_RUNTIME_DIR the run directory is /tmp/vesselctl-UID,
    which someone else may have made first: refused unless it is the
    user's own with mode 0700."""
    rl = clean
    top = f"/tmp/vesselctl-{rl.pw.pw_uid}"
    shutil.rmtree(top, ignore_errors=True)
    try:
        os.mkdir(top, 0o755)
        os.chmod(top, 0o755)
        rl.ctl("init", "boot", "c5", XDG_RUNTIME_DIR=None)
        r = rl.ctl("start", "c5", check=False, XDG_RUNTIME_DIR=None)
        assert r.returncode != 0
        assert f"run directory {top}: owned by uid 0 with mode 0755" in r.stderr, r.stderr
        os.rmdir(top)
        # Made by vesselctl itself: 0700 and the user's.
        rl.ctl("start", "c5", XDG_RUNTIME_DIR=None)
        st = os.lstat(top)
        assert st.st_uid == rl.pw.pw_uid and st.st_mode & 0o777 == 0o700
        rl.ctl("delete", "--force", "c5", XDG_RUNTIME_DIR=None)
        key = store_key(rl.store)
        assert os.listdir(os.path.join(top, key, "runtime")) == []
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_too_few_subordinate_ids(bins, image_dir):
    pw, start = _make_user(FEW, BLOCK)
    try:
        u = User(pw, start, bins)
        try:
            r = u.ctl("image", "import", image_dir, check=False)
            assert r.returncode != 0
            msg = r.stderr
            assert f"user {FEW} has 65536 subordinate ids in both /etc/subuid and /etc/subgid" \
                in msg, msg
            assert "needs at least 131072" in msg, msg
            # Root's first-use entry is never made for another user.
            assert _lines_of(FEW, pw.pw_uid) == [f"{FEW}:{start}:{BLOCK}\n"] * 2
            assert not os.listdir(os.path.join(u.store, "images"))
        finally:
            shutil.rmtree(u.xdg_run, ignore_errors=True)
    finally:
        _remove_user(FEW)
    assert not _lines_of(FEW, pw.pw_uid)


def test_debian_image(clean, debian_image):
    """The Debian test image: imported (its device nodes left out),
    launched with a plain init, exec'd into.  systemd itself cannot boot
    without a delegated cgroup: it says so and the instance stops."""
    rl = clean
    r = rl.ctl("image", "import", debian_image, "--alias", "debian", timeout=600)
    assert "device node" in r.stderr, r.stderr
    raw = json.dumps({"process": {"args": ["/bin/sleep", "infinity"]}})
    rl.ctl("launch", "debian", "d1", "-c", f"raw.oci={raw}", timeout=600)
    out = rl.ctl("exec", "d1", "--", "sh", "-c", "id -u; cat /etc/debian_version; "
                 "stat -c %u /etc/passwd /usr/bin/passwd").stdout.split()
    assert out[0] == "0" and out[1].startswith("12"), out
    assert out[2:] == ["0", "0"], out
    base = _uid_of(_init_pid(rl, "d1"))
    assert rl.start + BLOCK <= base < rl.start + IDS
    rl.ctl("delete", "--force", "d1")
    rl.ctl("launch", "debian", "d2", timeout=600)
    assert wait_for(lambda: rl.status("d2") == "Stopped", timeout=60)
    log = rl.ctl("console", "d2", "--show-log").stdout
    assert "Failed to create /init.scope control group" in log, log
    rl.ctl("delete", "--force", "d2")
    rl.ctl("image", "delete", "debian")


def _cgroup2():
    for d in ("/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        if os.path.isfile(os.path.join(d, "cgroup.controllers")):
            return d
    return None


@pytest.fixture
def delegated(clean):
    """A cgroup v2 subtree delegated to the user, as systemd's
    Delegate=yes makes it (test_rootless_cgroups.py):
    <cgroup2>/vessel/rl-<pid>/user (the user's, +pids for its children
    where cgroup2 has it) and user/session, where every command runs."""
    rl = clean
    cg2 = _cgroup2()
    if not cg2:
        pytest.skip("no cgroup2 mount")
    top = os.path.join(cg2, "vessel", f"rl-{os.getpid()}")
    user = os.path.join(top, "user")
    session = os.path.join(user, "session")
    os.makedirs(session)
    try:
        with open(os.path.join(top, "cgroup.controllers")) as f:
            have = f.read().split()
        for c in ("pids", "memory"):
            if c in have:
                with open(os.path.join(top, "cgroup.subtree_control"), "w") as f:
                    f.write(f"+{c}")
        for d in (user, session):
            os.chown(d, rl.pw.pw_uid, rl.pw.pw_gid)
            for n in ("cgroup.procs", "cgroup.threads", "cgroup.subtree_control"):
                os.chown(os.path.join(d, n), rl.pw.pw_uid, rl.pw.pw_gid)
        rl.cgroup = session
        yield rl, user, "pids" in have
    finally:
        rl.cgroup = None
        for name in rl.instances():
            rl.ctl("delete", "--force", name, check=False)
        left = [d for d, _, _ in os.walk(user) if d not in (user, session)]
        for d, _, _ in sorted(os.walk(top), key=lambda w: -len(w[0])):
            try:
                os.rmdir(d)
            except OSError:
                pass
        assert not left, f"cgroups left in the delegated subtree: {left}"
        assert not os.path.exists(top)


def test_delegated_cgroup(delegated, boot):
    """With a delegated subtree the instance's cgroup is made in it
    (cgroupsPath is relative) and the cgroup limits are no longer refused
    by vesselctl: the runtime applies what the subtree's controllers
    allow, and says which controller it lacks (a hybrid host's cgroup2
    has no pids controller)."""
    rl, user, pids = delegated
    rl.ctl("launch", "boot", "c6")
    with open(f"/proc/{_init_pid(rl, 'c6')}/cgroup") as f:
        own = [l.strip()[3:] for l in f if l.startswith("0::")][0]
    rel = os.path.relpath(user, _cgroup2())
    assert own.startswith(f"/{rel}/vessel/{store_key(rl.store)}/c6"), own
    assert rl.ctl("exec", "c6", "--", "id", "-u").stdout.strip() == "0"
    rl.ctl("delete", "--force", "c6")
    assert not os.path.exists(os.path.join(user, "vessel", store_key(rl.store), "c6"))
    r = rl.ctl("launch", "boot", "c7", "-c", "limits.processes=50", check=False)
    assert "refused in a rootless store" not in r.stderr, r.stderr
    if pids:
        assert r.returncode == 0, r.stderr
        cg = os.path.join(user, "vessel", store_key(rl.store), "c7")
        with open(os.path.join(cg, "pids.max")) as f:
            assert f.read().strip() == "50"
    else:
        assert r.returncode != 0
        assert "no pids controller" in r.stderr, r.stderr
    rl.ctl("delete", "--force", "c7")


@pytest.fixture
def user_btrfs(rl):
    """A btrfs file system on a loop file, mounted with
    user_subvol_rm_allowed, with a directory of the rootless user's in it;
    unmounted (its loop device freed) and removed at the end."""
    d = tempfile.mkdtemp(prefix="vessel-rl-btrfs-")
    os.chmod(d, 0o755)
    img, mnt = os.path.join(d, "fs.img"), os.path.join(d, "mnt")
    with open(img, "wb") as f:
        f.truncate(320 << 20)
    subprocess.run(["mkfs.btrfs", "-q", img], check=True)
    os.mkdir(mnt)
    subprocess.run(["mount", "-o", "loop,user_subvol_rm_allowed", img, mnt], check=True)
    try:
        pool = os.path.join(mnt, "pool")
        os.mkdir(pool)
        os.chown(pool, rl.pw.pw_uid, rl.pw.pw_gid)
        yield pool
    finally:
        subprocess.run(["umount", "-l", mnt], check=True)
        shutil.rmtree(d, ignore_errors=True)


def test_btrfs_pool_of_the_user(clean, boot, user_btrfs):
    """A rootless store's btrfs pool on a directory of the user's: the
    image a subvolume, the instance a snapshot of it, made and removed as
    root of the user's namespace."""
    rl = clean
    for bad, needle in ((["btrfs", "size=300MiB"], "needs source=DIR"),
                        (["overlay"], "cannot have overlay pools")):
        r = rl.ctl("storage", "create", "x", *bad, check=False)
        assert r.returncode != 0 and needle in r.stderr, r.stderr
    rl.ctl("storage", "create", "ub", "btrfs", f"source={user_btrfs}")
    rl.ctl("launch", "boot", "b1", "-s", "ub")
    assert rl.ctl("exec", "b1", "--", "id", "-u").stdout.strip() == "0"
    vols = json.loads(rl.ctl("storage", "volume", "list", "ub", "-f", "json").stdout)
    assert sorted(v["type"] for v in vols) == ["container", "image"]
    c = [v for v in vols if v["type"] == "container"][0]["volume"]
    assert subprocess.run(["btrfs", "subvolume", "show", os.path.join(user_btrfs, c)],
                          capture_output=True).returncode == 0
    rl.ctl("exec", "b1", "--", "sh", "-c", "echo kept > /etc/kept")
    rl.ctl("restart", "b1")
    assert rl.ctl("exec", "b1", "--", "cat", "/etc/kept").stdout == "kept\n"
    rl.ctl("delete", "--force", "b1")
    assert not os.path.exists(os.path.join(user_btrfs, c))
    rl.ctl("storage", "delete", "ub")
    assert os.listdir(user_btrfs) == []


def test_btrfs_pool_needs_user_subvol_rm_allowed(clean, boot, tmp_path):
    rl = clean
    d = tempfile.mkdtemp(prefix="vessel-rl-btrfs-")
    os.chmod(d, 0o755)
    img, mnt = os.path.join(d, "fs.img"), os.path.join(d, "mnt")
    with open(img, "wb") as f:
        f.truncate(320 << 20)
    subprocess.run(["mkfs.btrfs", "-q", img], check=True)
    os.mkdir(mnt)
    subprocess.run(["mount", "-o", "loop", img, mnt], check=True)
    try:
        os.chown(mnt, rl.pw.pw_uid, rl.pw.pw_gid)
        r = rl.ctl("storage", "create", "ub", "btrfs", f"source={mnt}", check=False)
        assert r.returncode != 0 and "user_subvol_rm_allowed" in r.stderr, r.stderr
        assert "ub" not in rl.ctl("storage", "list", "-f", "csv").stdout
        assert sorted(os.listdir(mnt)) == []
    finally:
        subprocess.run(["umount", "-l", mnt], check=True)
        shutil.rmtree(d, ignore_errors=True)
