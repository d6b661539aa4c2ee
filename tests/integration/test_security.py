"""Attacks on the runtime from inside the container or from a hostile
rootfs; each must fail or stay confined to the container."""
import json
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
    # init runs vessel's binary, from its read-only copy (see below).
    assert os.path.samestat(os.stat(f"/proc/{pid}/exe"), os.stat(VESSEL))
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


# CVE-2019-5736 itself: the container makes the runtime execute itself
# inside the container (an executable whose interpreter is /proc/self/exe),
# keeps /proc/PID/exe of that process open, and once it has exited reopens
# the binary for writing through /proc/self/fd.  The hijacked vessel is made
# to block on a fifo (--log=/fifo as the script's interpreter argument) so
# that the attacker has all the time it needs: the test is deterministic.
# Every command runs a private copy of vessel, so a failure corrupts only it.

ATTACKER = r"""
mkfifo /fifo
printf '#!/proc/self/exe --log=/fifo\n' > /evil
chmod 755 /evil
touch /m/armed
while :; do
  for d in /proc/[0-9]*; do
    case "$(cat $d/cmdline 2>/dev/null | tr '\0' ' ')" in
      /proc/self/exe\ --log=/fifo\ *) pid=${d#/proc/}; break 2;;
    esac
  done
  sleep 0.02
done
exec 3< /proc/$pid/exe || { echo "open-exe-failed" > /m/result; exit 0; }
echo "$(readlink /proc/$pid/exe)" > /m/exe
exec 4< /fifo            # lets the hijacked runtime go on (and exit)
while [ -d /proc/$pid ]; do sleep 0.02; done
sleep 0.2
if echo PWNED 2>/m/write-err >> /proc/self/fd/3; then echo "written" > /m/result
else echo "write-refused" > /m/result; fi
"""


def _attack_setup(env):
    import shutil
    m = os.path.join(env.tmp, "m")
    os.makedirs(m)
    copy = os.path.join(env.tmp, "bin", "vessel")
    os.makedirs(os.path.dirname(copy))
    shutil.copy2(VESSEL, copy)
    with open(copy, "rb") as f:
        before = f.read()
    env.config["mounts"].append({"destination": "/m", "type": "bind", "source": m,
                                 "options": ["rbind", "rw"]})
    # vessel is linked dynamically: give the container the host's loader
    # and libraries (read-only) so that the hijacked runtime can run in it.
    for lib in ("lib", "lib64"):
        host = os.path.realpath("/" + lib)
        env.config["mounts"].append({"destination": host, "type": "bind", "source": host,
                                     "options": ["rbind", "ro"]})
        if host != "/" + lib:
            os.symlink(host.lstrip("/"), os.path.join(env.rootfs, lib))
    env.config["root"]["readonly"] = False
    return m, copy, before


def _wait(path, timeout=30):
    import time
    end = time.time() + timeout
    while time.time() < end:
        if os.path.exists(path):
            return True
        time.sleep(0.02)
    return False


def _attack_verdict(m, copy, before, victim):
    def rd(name):
        try:
            with open(os.path.join(m, name)) as f:
                return f.read().strip()
        except FileNotFoundError:
            return None
    with open(copy, "rb") as f:
        after = f.read()
    assert after == before, "the container rewrote the runtime binary (CVE-2019-5736)"
    assert rd("result") == "write-refused", \
        f"result {rd('result')!r}, write error {rd('write-err')!r}, exe {rd('exe')!r}"
    # The attack did reach the runtime: it held the hijacked process's exe.
    assert rd("exe") is not None, "the attacker never saw the hijacked runtime"
    err = rd("write-err") or ""
    # EROFS: the read-only clone; EPERM: the sealed memfd; EACCES: a binary
    # the (rootless) container's ids may not write anyway.
    assert any(e in err for e in ("Read-only file system", "Operation not permitted",
                                  "Permission denied")), err
    return err


def _attack(env, copy, m, hijack, ids=("c1",)):
    """Run the attacker as container c1 (with the private copy of vessel),
    then hijack(f) makes vessel run /evil inside the container (f: the log
    file for stdio); waits for the attacker's result and deletes ids."""
    cfg = json.loads(json.dumps(env.config))
    cfg["process"]["args"] = ["/bin/sh", "-c", ATTACKER]
    env.write_config(cfg)
    log = os.path.join(env.tmp, "attack.log")
    with open(log, "w") as f:
        r = subprocess.run([copy, "--root", env.root, "run", "-d", "--bundle", env.bundle, "c1"],
                           stdin=subprocess.DEVNULL, stdout=f, stderr=f, timeout=60)
        assert r.returncode == 0, open(log).read()
        try:
            assert _wait(os.path.join(m, "armed")), open(log).read()
            out = hijack(f)
            assert _wait(os.path.join(m, "result")), open(log).read()
        finally:
            for cid in reversed(ids):
                subprocess.run([copy, "--root", env.root, "delete", "--force", cid],
                               stdout=f, stderr=f, timeout=60)
    return out


def test_cve_2019_5736_exec_hijack_cannot_rewrite_runtime(env):
    """`exec` of a container executable whose interpreter is /proc/self/exe
    runs vessel inside the container; its binary must not be writable."""
    m, copy, before = _attack_setup(env)
    ex = _attack(env, copy, m, lambda f: subprocess.run(
        [copy, "--root", env.root, "exec", "c1", "/evil"],
        stdin=subprocess.DEVNULL, stdout=f, stderr=f, timeout=60))
    assert ex.returncode != 0  # the hijacked vessel exits with an error
    _attack_verdict(m, copy, before, "exec")


def test_cve_2019_5736_init_hijack_cannot_rewrite_runtime(env):
    """The same through a container's init: a second container joins the
    attacker's pid namespace with /evil as its entrypoint."""
    m, copy, before = _attack_setup(env)

    def second_container(f):
        cfg = json.loads(json.dumps(env.config))
        init = env.state("c1")["pid"]
        cfg["process"]["args"] = ["/evil"]
        cfg["linux"]["namespaces"] = [
            ns if ns["type"] != "pid" else {"type": "pid", "path": f"/proc/{init}/ns/pid"}
            for ns in cfg["linux"]["namespaces"]]
        cfg["linux"]["cgroupsPath"] += "-2"
        env.write_config(cfg)
        return subprocess.run([copy, "--root", env.root, "run", "--bundle", env.bundle, "c2"],
                              stdin=subprocess.DEVNULL, stdout=f, stderr=f, timeout=60)

    _attack(env, copy, m, second_container, ids=("c1", "c2"))
    _attack_verdict(m, copy, before, "init")


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
