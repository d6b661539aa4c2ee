"""Attacks on the runtime from inside the container or from a hostile
rootfs; each must fail or stay confined to the container."""
import os
import subprocess

from conftest import VESSEL


def _detached(env, *args):
    """Run vessel with stdio on files: what it starts keeps them open."""
    log = os.path.join(env.tmp, "detached.log")
    with open(log, "a") as f:
        r = subprocess.run([VESSEL, "--root", env.root, *args], stdin=subprocess.DEVNULL,
                           stdout=f, stderr=f, timeout=60)
    assert r.returncode == 0, open(log).read()


def _create(env, cid="c1", args=("sleep", "1000")):
    env.config["process"]["args"] = list(args)
    env.write_config()
    # The container keeps create's stdio: a file, not a pipe we would wait on.
    errlog = os.path.join(env.tmp, "create.err")
    with open(errlog, "w") as e:
        r = subprocess.run([VESSEL, "--root", env.root, "create", "--bundle", env.bundle, cid],
                           stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=e, timeout=60)
    assert r.returncode == 0, open(errlog).read()
    return env.state(cid)["pid"]


def test_runtime_binary_unreachable_through_proc_exe(env):
    """CVE-2019-5736: while init still runs vessel's code (created, not
    started), a process of the container cannot open /proc/1/exe, the
    runtime's binary, nor see init's fds."""
    pid = _create(env)
    assert os.path.realpath(f"/proc/{pid}/exe") == os.path.realpath(VESSEL)
    r = env.vessel("exec", "c1", "/bin/sh", "-c",
                   "readlink /proc/1/exe && echo LINK; cat /proc/1/exe >/dev/null && echo READ; "
                   "ls /proc/1/fd/ >/dev/null 2>&1 && readlink /proc/1/fd/* && echo FDS; echo done")
    assert r.returncode == 0, r
    assert "done" in r.stdout, r
    for leak in ("LINK", "READ", "FDS", "vessel"):
        assert leak not in r.stdout, f"{leak}: {r}"
    env.vessel("delete", "--force", "c1", check=True)


def test_exec_helper_binary_unreachable(env):
    """The same for `exec`: while the exec'd process is still vessel, other
    processes of the container cannot reach its /proc/PID/exe."""
    _create(env)
    _detached(env, "start", "c1")
    # A watcher races `exec` for the short window; it must never get in.
    _detached(env, "exec", "-d", "c1", "/bin/sh", "-c",
              "while [ ! -e /tmp/stop ]; do for p in /proc/[0-9]*; do "
              "l=$(readlink $p/exe 2>/dev/null); case $l in *vessel*) echo $l > /tmp/leak;; esac; "
              "done; done; touch /tmp/stopped")
    for _ in range(30):
        env.vessel("exec", "c1", "/bin/true", check=True)
    env.vessel("exec", "c1", "/bin/sh", "-c",
               "touch /tmp/stop; while [ ! -e /tmp/stopped ]; do sleep 0.05; done", check=True)
    r = env.vessel("exec", "c1", "/bin/sh", "-c", "cat /tmp/leak 2>/dev/null || echo none")
    assert r.stdout.strip() == "none", r
    env.vessel("delete", "--force", "c1", check=True)


def test_dev_null_symlink_in_rootfs_is_replaced(env):
    """A rootfs whose /dev/null points at a host file: the device is
    created in its place and the host file is untouched."""
    victim = os.path.join(env.tmp, "victim")
    with open(victim, "w") as f:
        f.write("keep")
    env.config["mounts"] = [m for m in env.config["mounts"] if not m["destination"].startswith("/dev")]
    os.makedirs(os.path.join(env.rootfs, "dev"), exist_ok=True)
    os.symlink(victim, os.path.join(env.rootfs, "dev", "null"))
    r = env.sh("echo x > /dev/null; stat -c %t:%T /dev/null")
    assert r.returncode == 0, r
    assert r.stdout.strip() == "1:3", r
    with open(victim) as f:
        assert f.read() == "keep"


def test_mount_destination_symlink_to_host_root_stays_inside(env):
    """A mount destination that is a symlink to / (the host's, if followed
    naively) lands inside the rootfs."""
    os.symlink("/", os.path.join(env.rootfs, "evil"))
    env.config["mounts"].append({"destination": "/evil/vessel-probe-xyz", "type": "tmpfs",
                                 "source": "tmpfs"})
    r = env.sh("grep -c ' /vessel-probe-xyz ' /proc/self/mountinfo")
    assert r.returncode == 0, r
    assert r.stdout.strip() == "1", r
    assert not os.path.exists("/vessel-probe-xyz")
    assert os.path.isdir(os.path.join(env.rootfs, "vessel-probe-xyz"))


def test_masked_path_symlink_is_not_followed_out(env):
    """A masked path that is a symlink to a host directory: masking is
    confined to the rootfs; the host directory stays as it was."""
    host_dir = os.path.join(env.tmp, "hostdir")
    os.makedirs(host_dir)
    open(os.path.join(host_dir, "file"), "w").close()
    os.symlink(host_dir, os.path.join(env.rootfs, "masked"))
    env.config["linux"]["maskedPaths"] = ["/masked"]
    r = env.sh("echo ok")
    assert r.returncode == 0, r
    assert os.listdir(host_dir) == ["file"]


def test_no_inheritable_or_ambient_caps_by_default(env):
    """CVE-2022-29162: inheritable and ambient sets are empty unless asked."""
    r = env.sh("grep -E '^Cap(Inh|Amb)' /proc/self/status")
    assert r.returncode == 0, r
    for line in r.stdout.splitlines():
        assert line.split()[1] == "0000000000000000", r


def test_cwd_cannot_escape_through_leaked_fd(env):
    """CVE-2024-21626: a cwd of /proc/self/fd/N must not reach a runtime fd
    (none survives into the container)."""
    for n in range(3, 10):
        env.config["process"]["cwd"] = f"/proc/self/fd/{n}"
        r = env.sh("pwd; ls .. >/dev/null; echo ok")
        assert not (r.returncode == 0 and "ok" in r.stdout and not r.stdout.startswith("/proc")), r


def test_proc_destination_symlink_rejected(env):
    """CVE-2019-19921: a rootfs whose /proc is a symlink (to move procfs
    elsewhere and leave a fake /proc) is refused, and nothing is left."""
    os.rmdir(os.path.join(env.rootfs, "proc"))
    os.makedirs(os.path.join(env.rootfs, "fakeproc"))
    os.symlink("/fakeproc", os.path.join(env.rootfs, "proc"))
    r = env.sh("echo SHOULD-NOT-RUN")
    assert r.returncode != 0, r
    assert "/proc" in r.stderr and "symlink" in r.stderr, r
    assert env.ids() == []


def test_fifo_where_a_file_is_expected(env):
    """A bind mount of a host file onto a path the rootfs made a fifo: the
    mount is confined to the rootfs and nothing blocks on the fifo."""
    src = os.path.join(env.tmp, "hosts")
    with open(src, "w") as f:
        f.write("127.0.0.1 vessel\n")
    fifo = os.path.join(env.rootfs, "etc", "hosts")
    os.mkfifo(fifo)
    env.config["mounts"].append({"destination": "/etc/hosts", "type": "bind", "source": src,
                                 "options": ["bind", "ro"]})
    r = env.run(["/bin/cat", "/etc/hosts"], timeout=30)
    assert r.returncode == 0, r
    assert r.stdout == "127.0.0.1 vessel\n", r
    import stat
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
