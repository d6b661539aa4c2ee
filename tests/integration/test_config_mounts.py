"""config.json "mounts": every mount type and option, checked from inside
the container through /proc/self/mountinfo, stat and file access."""
import contextlib
import os
import subprocess

import pytest

from conftest import VESSEL, mounts_under, ok, wait_for


@pytest.fixture(autouse=True)
def own_cgroup(env):
    """A cgroup of this test's own: the default one is named after the
    container id ("c1"), which concurrent test runs on this machine share."""
    env.config["linux"]["cgroupsPath"] = "/vessel/" + os.path.basename(env.tmp)



def parse_mountinfo(text):
    res = []
    for line in text.splitlines():
        if " - " not in line:
            continue
        pre, _, post = line.partition(" - ")
        f, p = pre.split(), post.split()
        res.append({
            "id": f[0], "parent": f[1], "dev": f[2], "root": f[3], "mnt": f[4],
            "opts": f[5].split(","), "optional": f[6:], "fstype": p[0],
            "source": p[1] if len(p) > 1 else "", "super": p[2].split(",") if len(p) > 2 else [],
            "line": line,
        })
    return res


def mount_at(entries, path):
    """The topmost mount at path (the last one in mountinfo order)."""
    found = [e for e in entries if e["mnt"] == path]
    assert found, f"no mount at {path} in:\n" + "\n".join(e["line"] for e in entries)
    return found[-1]


MARK = "=====MOUNTINFO====="


def run_with_mountinfo(env, script=":"):
    """Run script, then dump mountinfo; returns (script stdout, mountinfo entries)."""
    r = env.sh(f"{script}\necho {MARK}\ncat /proc/self/mountinfo")
    out = ok(r)
    head, _, tail = out.partition(MARK + "\n")
    return head, parse_mountinfo(tail), r


def add_mount(env, m):
    env.config["mounts"].append(m)
    return m


def host_dir(env, name="hostdir", files=None):
    d = os.path.join(env.tmp, name)
    os.makedirs(d, exist_ok=True)
    for k, v in (files or {"hello.txt": "hi from host\n"}).items():
        p = os.path.join(d, k)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(v)
    return d


def sh_host(*cmd):
    cp = subprocess.run(list(cmd), capture_output=True, text=True)
    assert cp.returncode == 0, f"{cmd}: {cp.stderr}"


@contextlib.contextmanager
def host_mounts():
    """Collects host mount points made by a test and lazily unmounts them
    (in reverse order) at the end, whatever happens."""
    made = []
    try:
        yield made
    finally:
        for m in reversed(made):
            subprocess.run(["umount", "-l", m], capture_output=True)


def tmpfs_on_host(made, path, files=None):
    os.makedirs(path, exist_ok=True)
    sh_host("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", path)
    made.append(path)
    for k, v in (files or {}).items():
        with open(os.path.join(path, k), "w") as f:
            f.write(v)


def shared_dir_on_host(made, path):
    """Make path a shared mount point on the host (the host's / is private)."""
    os.makedirs(path, exist_ok=True)
    sh_host("mount", "--bind", path, path)
    made.append(path)
    sh_host("mount", "--make-shared", path)


# ---------------------------------------------------------------- bind mounts


def test_bind_dir(env):
    d = host_dir(env)
    add_mount(env, {"destination": "/mnt/data", "type": "bind", "source": d, "options": ["bind"]})
    out, mi, r = run_with_mountinfo(env, "cat /mnt/data/hello.txt; echo written > /mnt/data/new.txt")
    assert out == "hi from host\n", r
    m = mount_at(mi, "/mnt/data")
    assert "rw" in m["opts"], m["line"]
    with open(os.path.join(d, "new.txt")) as f:
        assert f.read() == "written\n", "a write inside the bind mount did not reach the host dir"


def test_bind_without_type(env):
    d = host_dir(env)
    add_mount(env, {"destination": "/mnt/data", "source": d, "options": ["bind"]})
    r = env.sh("cat /mnt/data/hello.txt")
    assert ok(r) == "hi from host\n", r


def test_bind_relative_source_is_relative_to_bundle(env):
    host_dir(env, "bundle/reldir", {"f": "relative\n"})
    add_mount(env, {"destination": "/mnt/rel", "type": "bind", "source": "reldir",
                    "options": ["bind"]})
    r = env.sh("cat /mnt/rel/f")
    assert ok(r) == "relative\n", r


def test_bind_is_not_recursive(env):
    d = host_dir(env)
    with host_mounts() as made:
        tmpfs_on_host(made, os.path.join(d, "sub"), {"inner.txt": "inner\n"})
        add_mount(env, {"destination": "/mnt/data", "type": "bind", "source": d,
                        "options": ["bind"]})
        out, mi, r = run_with_mountinfo(env, "ls -A /mnt/data/sub; echo END")
        assert out == "END\n", f"plain bind carried the sub-mount along: {r}"
        assert not [e for e in mi if e["mnt"] == "/mnt/data/sub"], r


def test_rbind_dir_with_submount(env):
    d = host_dir(env)
    with host_mounts() as made:
        tmpfs_on_host(made, os.path.join(d, "sub"), {"inner.txt": "inner\n"})
        add_mount(env, {"destination": "/mnt/data", "type": "bind", "source": d,
                        "options": ["rbind"]})
        out, mi, r = run_with_mountinfo(env, "cat /mnt/data/hello.txt /mnt/data/sub/inner.txt")
        assert out == "hi from host\ninner\n", r
        assert mount_at(mi, "/mnt/data/sub")["fstype"] == "tmpfs", r


def test_bind_single_file(env):
    f = os.path.join(env.tmp, "single.txt")
    with open(f, "w") as fh:
        fh.write("just one file\n")
    add_mount(env, {"destination": "/etc/deep/single.conf", "type": "bind", "source": f,
                    "options": ["bind", "ro"]})
    out, mi, r = run_with_mountinfo(
        env, "cat /etc/deep/single.conf; stat -c %F /etc/deep/single.conf; "
             "echo x > /etc/deep/single.conf || echo WRITE-FAILED")
    assert out.splitlines()[:2] == ["just one file", "regular file"], r
    assert "WRITE-FAILED" in out, r
    assert "ro" in mount_at(mi, "/etc/deep/single.conf")["opts"]
    with open(f) as fh:
        assert fh.read() == "just one file\n"


def test_bind_file_over_existing_file(env):
    f = os.path.join(env.tmp, "hostname.txt")
    with open(f, "w") as fh:
        fh.write("from-host\n")
    add_mount(env, {"destination": "/etc/passwd", "type": "bind", "source": f,
                    "options": ["rbind", "ro"]})
    r = env.sh("cat /etc/passwd")
    assert ok(r) == "from-host\n", r
    with open(os.path.join(env.rootfs, "etc/passwd")) as fh:
        assert "root:x:0:0" in fh.read()


# ------------------------------------------- bind sources, opened by the runtime

USERNS_MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def userns(env, *mount_points):
    """A user namespace whose root is host uid 100000; it cannot create
    mount points in the rootfs (host root's), so they are made here
    (a trailing / for a directory)."""
    os.chmod(env.tmp, 0o755)  # the container's root reaches its rootfs
    env.config["linux"]["namespaces"].append({"type": "user"})
    env.config["linux"]["uidMappings"] = USERNS_MAP
    env.config["linux"]["gidMappings"] = USERNS_MAP
    for m in mount_points:
        p = os.path.join(env.rootfs, m.lstrip("/"))
        os.makedirs(p if m.endswith("/") else os.path.dirname(p), exist_ok=True)
        if not m.endswith("/"):
            open(p, "a").close()


def hidden_dir(env):
    """A host directory below one only host root can traverse (0700, root's):
    the container's root, host uid 100000, could not reach it by path."""
    vault = os.path.join(env.tmp, "vault")
    os.makedirs(vault)
    os.chmod(vault, 0o700)
    return host_dir(env, "vault/data")


def test_bind_source_only_host_root_can_reach(env):
    userns(env, "/mnt/data/", "/etc/hello.conf")
    d = hidden_dir(env)
    add_mount(env, {"destination": "/mnt/data", "type": "bind", "source": d,
                    "options": ["bind"]})
    add_mount(env, {"destination": "/etc/hello.conf", "type": "bind",
                    "source": os.path.join(d, "hello.txt"), "options": ["bind", "ro"]})
    out, mi, r = run_with_mountinfo(env, "cat /mnt/data/hello.txt /etc/hello.conf; "
                                         "stat -c %F /etc/hello.conf")
    assert out.splitlines() == ["hi from host", "hi from host", "regular file"], r
    assert "ro" in mount_at(mi, "/etc/hello.conf")["opts"]
    assert "rw" in mount_at(mi, "/mnt/data")["opts"]


def test_rbind_source_only_host_root_can_reach(env):
    """rbind takes the sub-mounts along, and rro reaches them, also when
    the runtime made the tree."""
    userns(env, "/mnt/r/", "/mnt/plain/")
    d = hidden_dir(env)
    with host_mounts() as made:
        tmpfs_on_host(made, os.path.join(d, "sub"), {"inner.txt": "inner\n"})
        add_mount(env, {"destination": "/mnt/r", "type": "bind", "source": d,
                        "options": ["rbind", "rro", "nosuid"]})
        add_mount(env, {"destination": "/mnt/plain", "type": "bind", "source": d,
                        "options": ["bind"]})
        out, mi, r = run_with_mountinfo(env, "cat /mnt/r/sub/inner.txt; ls -A /mnt/plain/sub")
        assert out == "inner\n", r
        top, sub = mount_at(mi, "/mnt/r"), mount_at(mi, "/mnt/r/sub")
        assert "ro" in top["opts"] and "nosuid" in top["opts"], top["line"]
        assert "ro" in sub["opts"] and "nosuid" not in sub["opts"], sub["line"]
        assert not [e for e in mi if e["mnt"] == "/mnt/plain/sub"], r


@pytest.mark.parametrize("idmap", [False, True], ids=["bind", "idmap"])
def test_bind_of_shared_source_propagates_nothing_to_host(env, idmap):
    """The runtime's clone of a shared host mount would be a peer of it:
    it is made a slave, so a mount the container makes inside the bind
    stays in the container."""
    d = os.path.join(env.tmp, "shared-src")
    if idmap:
        userns(env, "/mnt/p/")
    with host_mounts() as made:
        shared_dir_on_host(made, d)
        add_mount(env, {"destination": "/mnt/p", "type": "bind", "source": d,
                        "options": ["rbind"] + (["idmap"] if idmap else [])})
        add_mount(env, {"destination": "/mnt/p/inner", "type": "tmpfs", "source": "tmpfs"})
        _, mi, r = run_with_mountinfo(env)
        leaked = mounts_under(d)
        made.extend(m for m in leaked if m != d)
        assert leaked == [d], f"a container mount reached the host: {leaked}"
        assert _propagation(mount_at(mi, "/mnt/p"))["master"], mount_at(mi, "/mnt/p")["line"]


def test_bind_source_in_a_joined_mount_namespace(env):
    """With a mount namespace joined by path, bind sources are that
    namespace's paths (init opens them there), not the host's."""
    src = host_dir(env, "nsonly", {"host.txt": "host\n"})
    p = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "sleep", "1000"],
                         stdin=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: os.readlink(f"/proc/{p.pid}/ns/mnt") !=
                        os.readlink("/proc/self/ns/mnt")), "the helper did not unshare"
        sh_host("nsenter", "-t", str(p.pid), "-m", "sh", "-c",
                f"mount -t tmpfs tmpfs {src} && echo joined > {src}/ns.txt")
        env.config["linux"]["namespaces"] = [
            n for n in env.config["linux"]["namespaces"] if n["type"] != "mount"] + [
            {"type": "mount", "path": f"/proc/{p.pid}/ns/mnt"}]
        add_mount(env, {"destination": "/mnt/ns", "type": "bind", "source": src,
                        "options": ["bind"]})
        r = env.sh("ls /mnt/ns")
        assert ok(r).split() == ["ns.txt"], r
    finally:
        p.kill()
        p.wait()


# ---------------------------------------------------------------- filesystems


def test_tmpfs_size_and_mode(env):
    add_mount(env, {"destination": "/mnt/scratch", "type": "tmpfs", "source": "tmpfs",
                    "options": ["nosuid", "nodev", "size=2m", "mode=1750"]})
    out, mi, r = run_with_mountinfo(env, "stat -c %a /mnt/scratch; df -k /mnt/scratch | tail -1")
    lines = out.splitlines()
    assert lines[0] == "1750", r
    assert lines[1].split()[1] == "2048", f"df size is not 2m: {lines[1]}"
    m = mount_at(mi, "/mnt/scratch")
    assert m["fstype"] == "tmpfs", m["line"]
    assert "size=2048k" in m["super"] and "mode=1750" in m["super"], m["line"]
    assert "nosuid" in m["opts"] and "nodev" in m["opts"], m["line"]


def test_tmpfs_uid_gid_options(env):
    add_mount(env, {"destination": "/mnt/owned", "type": "tmpfs", "source": "tmpfs",
                    "options": ["uid=1000", "gid=2000", "mode=700"]})
    r = env.sh("stat -c '%u %g %a' /mnt/owned")
    assert ok(r).strip() == "1000 2000 700", r


@pytest.mark.parametrize("dest,fstype,check", [
    ("/proc", "proc", "test -r /proc/self/status && cat /proc/1/comm"),
    ("/sys", "sysfs", "test -d /sys/kernel && echo sh"),
    ("/dev/pts", "devpts", "test -c /dev/pts/ptmx && echo sh"),
    ("/dev/mqueue", "mqueue", "test -d /dev/mqueue && echo sh"),
    ("/dev/shm", "tmpfs", "echo x > /dev/shm/f && cat /dev/shm/f >/dev/null && echo sh"),
])
def test_default_special_filesystems(env, dest, fstype, check):
    out, mi, r = run_with_mountinfo(env, check)
    assert out == "sh\n", r
    assert mount_at(mi, dest)["fstype"] == fstype, mount_at(mi, dest)["line"]


def test_proc_is_the_containers_pid_namespace(env):
    r = env.sh("cat /proc/1/cmdline | tr '\\0' ' '; echo; cd /proc && echo [0-9]*")
    lines = ok(r).splitlines()
    assert lines[0].startswith("/bin/sh -c cat /proc/1/cmdline"), f"pid 1 is not the container's init: {r}"
    pids = sorted(int(p) for p in lines[1].split())
    assert pids[0] == 1 and len(pids) <= 3, f"/proc shows more than the container's processes: {pids}"


def test_second_proc_and_sysfs_mounts(env):
    add_mount(env, {"destination": "/mnt/proc2", "type": "proc", "source": "proc"})
    add_mount(env, {"destination": "/mnt/sys2", "type": "sysfs", "source": "sysfs",
                    "options": ["ro", "nosuid", "nodev", "noexec"]})
    out, mi, r = run_with_mountinfo(env, "cat /mnt/proc2/1/comm; test -d /mnt/sys2/kernel && echo SYS")
    assert out == "sh\nSYS\n", r
    assert mount_at(mi, "/mnt/proc2")["fstype"] == "proc"
    s = mount_at(mi, "/mnt/sys2")
    assert s["fstype"] == "sysfs" and {"ro", "nosuid", "nodev", "noexec"} <= set(s["opts"]), s["line"]


def test_devpts_options(env):
    out, mi, r = run_with_mountinfo(env, "stat -c '%a' /dev/pts/ptmx")
    assert out.strip() == "666", f"ptmxmode=0666 not applied: {r}"
    m = mount_at(mi, "/dev/pts")
    assert {"mode=620", "ptmxmode=666", "gid=5"} <= set(m["super"]), m["line"]
    assert {"nosuid", "noexec"} <= set(m["opts"]), m["line"]


def test_mqueue_works(env):
    add_mount(env, {"destination": "/mnt/mq", "type": "mqueue", "source": "mqueue",
                    "options": ["nosuid", "nodev", "noexec"]})
    out, mi, r = run_with_mountinfo(env, "ls -A /mnt/mq; echo END")
    assert out == "END\n", r
    m = mount_at(mi, "/mnt/mq")
    assert m["fstype"] == "mqueue" and {"nosuid", "nodev", "noexec"} <= set(m["opts"]), m["line"]


CGROUP_MOUNT = {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}


def test_cgroup_mount_ro(env):
    add_mount(env, dict(CGROUP_MOUNT))
    probe = "probe-" + os.path.basename(env.tmp)
    try:
        out, mi, r = run_with_mountinfo(
            env, "ls /sys/fs/cgroup | tr '\\n' ' '; echo; "
                 "mkdir /sys/fs/cgroup/newdir 2>&1 && echo MKDIR-OK; "
                 f"for d in /sys/fs/cgroup/*/; do mkdir $d{probe} 2>/dev/null && echo SUB-MKDIR-OK $d; "
                 "done; echo END")
    finally:
        # Should the mount be writable, the probe is a real cgroup on the host.
        subprocess.run(f"rmdir /sys/fs/cgroup/*/{probe} /sys/fs/cgroup/*/*/{probe} "
                       f"/sys/fs/cgroup/*/*/*/{probe}",
                       shell=True, capture_output=True)
    listing = out.splitlines()[0].split()
    assert listing, f"/sys/fs/cgroup is empty inside the container: {r}"
    assert "MKDIR-OK" not in out and "SUB-MKDIR-OK" not in out, f"cgroup mount is writable: {r}"
    assert "Read-only file system" in out, r
    under = [e for e in mi if e["mnt"] == "/sys/fs/cgroup" or e["mnt"].startswith("/sys/fs/cgroup/")]
    assert under, r
    for e in under:
        assert "ro" in e["opts"], f"not read-only: {e['line']}"
    assert any(e["fstype"] in ("cgroup", "cgroup2") for e in under), \
        "no cgroup filesystem under /sys/fs/cgroup:\n" + "\n".join(e["line"] for e in under)


def test_cgroup_mount_shows_controllers(env):
    add_mount(env, dict(CGROUP_MOUNT))
    r = env.sh("ls /sys/fs/cgroup; ls /sys/fs/cgroup/*/ | grep -c -E '^cgroup.procs$'")
    out = ok(r).split()
    assert int(out[-1]) >= 1, f"no cgroup.procs under /sys/fs/cgroup: {r}"


def test_mount_destination_created(env):
    assert not os.path.exists(os.path.join(env.rootfs, "a"))
    add_mount(env, {"destination": "/a/b/c/d", "type": "tmpfs", "source": "tmpfs"})
    out, mi, r = run_with_mountinfo(env, "stat -c %F /a/b/c/d")
    assert out.strip() == "directory", r
    assert mount_at(mi, "/a/b/c/d")["fstype"] == "tmpfs"


def test_mount_destination_under_a_previous_mount(env):
    add_mount(env, {"destination": "/mnt/outer", "type": "tmpfs", "source": "tmpfs"})
    add_mount(env, {"destination": "/mnt/outer/x/y", "type": "tmpfs", "source": "tmpfs",
                    "options": ["size=1m"]})
    out, mi, r = run_with_mountinfo(env, "stat -c %F /mnt/outer/x/y")
    assert out.strip() == "directory", r
    inner, outer = mount_at(mi, "/mnt/outer/x/y"), mount_at(mi, "/mnt/outer")
    assert inner["parent"] == outer["id"], (inner["line"], outer["line"])
    assert not os.path.exists(os.path.join(env.rootfs, "mnt/outer/x")), \
        "the inner destination was created in the rootfs, not in the tmpfs"


def test_mount_destination_symlink_stays_in_rootfs(env):
    """A destination through a symlink pointing out of the rootfs must be
    resolved inside the rootfs, never on the host."""
    escape = os.path.join(env.tmp, "escape-target")
    os.symlink(escape, os.path.join(env.rootfs, "evil"))
    add_mount(env, {"destination": "/evil/sub", "type": "tmpfs", "source": "tmpfs"})
    r = env.sh("grep -c ' /evil' /proc/self/mountinfo || true")
    assert not os.path.exists(escape), f"mount destination escaped the rootfs: {r}"


@pytest.mark.parametrize("kind", ["dir", "file"])
def test_mount_destination_dangling_symlink(env, kind):
    """A destination that is a dangling symlink: its target is created
    inside the rootfs and mounted on, as runc does."""
    src = host_dir(env) if kind == "dir" else os.path.join(host_dir(env), "hello.txt")
    os.symlink("/mnt/real", os.path.join(env.rootfs, "data"))
    add_mount(env, {"destination": "/data", "type": "bind", "source": src, "options": ["bind"]})
    out, mi, r = run_with_mountinfo(env, "readlink /data; stat -c %F /mnt/real; "
                                         "cat /data" + ("/hello.txt" if kind == "dir" else ""))
    want = "directory" if kind == "dir" else "regular file"
    assert out.splitlines() == ["/mnt/real", want, "hi from host"], r
    assert mount_at(mi, "/mnt/real")
    real = os.path.join(env.rootfs, "mnt/real")
    assert os.path.isdir(real) if kind == "dir" else os.path.isfile(real)


@pytest.mark.parametrize("target", ["/tmp/../../{name}/dir", "../../../../../../{name}/dir"],
                         ids=["absolute", "relative"])
def test_mount_destination_dangling_symlink_out_of_rootfs(env, target):
    """A dangling symlink whose target points out of the rootfs: what is
    created, and mounted on, is inside it; nothing is made on the host."""
    name = "vessel-escape-" + os.path.basename(env.tmp)
    os.symlink(target.format(name=name), os.path.join(env.rootfs, "etc", "foo"))
    add_mount(env, {"destination": "/etc/foo", "type": "tmpfs", "source": "tmpfs"})
    out, mi, r = run_with_mountinfo(env, "stat -c %F /etc/foo/")
    assert out.strip() == "directory", r
    assert mount_at(mi, f"/{name}/dir")["fstype"] == "tmpfs"
    assert os.path.isdir(os.path.join(env.rootfs, name, "dir"))
    for outside in ("/", env.tmp, env.bundle, os.path.dirname(env.tmp)):
        assert not os.path.exists(os.path.join(outside, name)), f"created outside: {outside}"


# ---------------------------------------------------------------- per-mount options

# option -> (flag that must be in field 6, flags that must not be)
OPTIONS = {
    "ro": ({"ro"}, {"rw"}),
    "rw": ({"rw"}, {"ro"}),
    "nosuid": ({"nosuid"}, set()),
    "nodev": ({"nodev"}, set()),
    "noexec": ({"noexec"}, set()),
    "relatime": ({"relatime"}, {"noatime"}),
    "strictatime": (set(), {"relatime", "noatime"}),
    "noatime": ({"noatime"}, {"relatime"}),
    "nodiratime": ({"nodiratime"}, set()),
    "nosymfollow": ({"nosymfollow"}, set()),
}


def _option_mount(env, kind, opt):
    if kind == "bind":
        d = host_dir(env)
        return add_mount(env, {"destination": "/mnt/t", "type": "bind", "source": d,
                               "options": ["rbind", opt]})
    return add_mount(env, {"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs",
                           "options": [opt]})


@pytest.mark.parametrize("kind", ["bind", "tmpfs"])
@pytest.mark.parametrize("opt", sorted(OPTIONS))
def test_mount_option_in_mountinfo(env, kind, opt):
    _option_mount(env, kind, opt)
    _, mi, r = run_with_mountinfo(env)
    m = mount_at(mi, "/mnt/t")
    must, must_not = OPTIONS[opt]
    opts = set(m["opts"])
    assert must <= opts, f"{opt} on a {kind} mount: {m['line']}"
    assert not (must_not & opts), f"{opt} on a {kind} mount: {m['line']}"


@pytest.mark.parametrize("kind", ["bind", "tmpfs"])
def test_option_ro_denies_writes(env, kind):
    _option_mount(env, kind, "ro")
    r = env.sh("echo x > /mnt/t/new && echo WROTE")
    assert "WROTE" not in r.stdout and "Read-only file system" in r.stderr, r


@pytest.mark.parametrize("kind", ["bind", "tmpfs"])
def test_option_noexec_denies_exec(env, kind):
    _option_mount(env, kind, "noexec")
    r = env.sh("cp /bin/busybox /mnt/t/bb && /mnt/t/bb true && echo EXECUTED")
    assert "EXECUTED" not in r.stdout and "Permission denied" in r.stderr, r


@pytest.mark.parametrize("kind", ["bind", "tmpfs"])
def test_option_nosymfollow_denies_symlinks(env, kind):
    _option_mount(env, kind, "nosymfollow")
    r = env.sh("echo data > /mnt/t/target; ln -s target /mnt/t/link; "
               "cat /mnt/t/link && echo FOLLOWED; cat /mnt/t/target")
    assert "FOLLOWED" not in r.stdout, f"symlink followed on a nosymfollow mount: {r}"
    assert r.stdout.strip() == "data", r


def test_option_nodev_denies_device_access(env):
    add_mount(env, {"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs",
                    "options": ["nodev"]})
    env.config["process"]["capabilities"] = {
        s: ["CAP_MKNOD"] for s in ("bounding", "effective", "permitted")}
    r = env.sh("mknod /mnt/t/null c 1 3 && echo x > /mnt/t/null && echo OPENED")
    assert "OPENED" not in r.stdout and "Permission denied" in r.stderr, r


def test_option_rw_overrides_ro_bind_source(env):
    add_mount(env, {"destination": "/mnt/t", "type": "tmpfs", "source": "tmpfs",
                    "options": ["ro", "rw"]})
    r = env.sh("echo x > /mnt/t/new && echo WROTE")
    assert "WROTE" in ok(r), "later 'rw' did not override 'ro'"


# ---------------------------------------------------------------- recursive options

# recursive option -> flag expected in field 6 of both the top and the sub-mount
RECURSIVE = {
    "rro": "ro",
    "rnosuid": "nosuid",
    "rnodev": "nodev",
    "rnoexec": "noexec",
    "rnoatime": "noatime",
    "rnodiratime": "nodiratime",
    "rrelatime": "relatime",
    "rnosymfollow": "nosymfollow",
}


@pytest.mark.parametrize("opt", sorted(RECURSIVE))
def test_recursive_option_applies_to_submounts(env, opt):
    d = host_dir(env)
    with host_mounts() as made:
        tmpfs_on_host(made, os.path.join(d, "sub"), {"inner.txt": "inner\n"})
        add_mount(env, {"destination": "/mnt/r", "type": "bind", "source": d,
                        "options": ["rbind", opt]})
        _, mi, r = run_with_mountinfo(env, "cat /mnt/r/sub/inner.txt")
        flag = RECURSIVE[opt]
        for path in ("/mnt/r", "/mnt/r/sub"):
            m = mount_at(mi, path)
            assert flag in m["opts"], f"{opt}: {path} lacks {flag}: {m['line']}"


def test_rro_denies_writes_in_submount(env):
    d = host_dir(env)
    with host_mounts() as made:
        tmpfs_on_host(made, os.path.join(d, "sub"))
        add_mount(env, {"destination": "/mnt/r", "type": "bind", "source": d,
                        "options": ["rbind", "rro"]})
        r = env.sh("touch /mnt/r/top && echo TOP-WROTE; touch /mnt/r/sub/x && echo SUB-WROTE")
        assert "TOP-WROTE" not in r.stdout and "SUB-WROTE" not in r.stdout, r
        assert not os.path.exists(os.path.join(d, "sub", "x"))
        assert not os.path.exists(os.path.join(d, "top"))


def test_rrw_clears_ro_recursively(env):
    d = host_dir(env)
    with host_mounts() as made:
        tmpfs_on_host(made, os.path.join(d, "sub"))
        sh_host("mount", "-o", "remount,ro", os.path.join(d, "sub"))
        add_mount(env, {"destination": "/mnt/r", "type": "bind", "source": d,
                        "options": ["rbind", "rrw"]})
        _, mi, r = run_with_mountinfo(env)
        assert "rw" in mount_at(mi, "/mnt/r/sub")["opts"], mount_at(mi, "/mnt/r/sub")["line"]


# ---------------------------------------------------------------- propagation


def _propagation(entry):
    o = entry["optional"]
    return {"shared": any(x.startswith("shared:") for x in o),
            "master": any(x.startswith("master:") for x in o),
            "unbindable": "unbindable" in o}


# option -> expected (shared, master, unbindable) on the top mount and, for
# the r-variants, on the sub-mount too.  The source is a shared mount on the
# host, so a slave gets a master.
PROPAGATION = {
    "private": (False, False, False),
    "shared": (True, None, False),
    "slave": (False, True, False),
    "unbindable": (False, False, True),
    "rprivate": (False, False, False),
    "rshared": (True, None, False),
    "rslave": (False, True, False),
    "runbindable": (False, False, True),
}


@pytest.mark.parametrize("opt", sorted(PROPAGATION))
def test_mount_propagation(env, opt):
    d = os.path.join(env.tmp, "shared-src")
    with host_mounts() as made:
        shared_dir_on_host(made, d)
        tmpfs_on_host(made, os.path.join(d, "sub"))
        add_mount(env, {"destination": "/mnt/p", "type": "bind", "source": d,
                        "options": ["rbind", opt]})
        _, mi, r = run_with_mountinfo(env)
        paths = ["/mnt/p"] + (["/mnt/p/sub"] if opt.startswith("r") else [])
        want_shared, want_master, want_unb = PROPAGATION[opt]
        for path in paths:
            m = mount_at(mi, path)
            got = _propagation(m)
            assert got["shared"] == want_shared, f"{opt}: {m['line']}"
            if want_master is not None:
                assert got["master"] == want_master, f"{opt}: {m['line']}"
            assert got["unbindable"] == want_unb, f"{opt}: {m['line']}"


def _propagation_effect(env, opt):
    """Mount a tmpfs on the host under the (shared) source while the
    container runs; returns whether the container saw it."""
    d = os.path.join(env.tmp, "shared-src")
    with host_mounts() as made:
        shared_dir_on_host(made, d)
        os.makedirs(os.path.join(d, "late"))
        add_mount(env, {"destination": "/mnt/p", "type": "bind", "source": d,
                        "options": ["rbind", opt]})
        cfg = env.config
        cfg["process"]["args"] = ["/bin/sh", "-c",
                                  "touch /mnt/p/ready; i=0; "
                                  "while [ ! -e /mnt/p/go ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done; "
                                  "cat /mnt/p/late/seen 2>/dev/null || echo NOT-SEEN"]
        env.write_config(cfg)
        p = subprocess.Popen([VESSEL, "--root", env.root, "run", "--bundle", env.bundle, "c1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL)
        try:
            assert wait_for(lambda: os.path.exists(os.path.join(d, "ready"))), "container did not start"
            tmpfs_on_host(made, os.path.join(d, "late"), {"seen": "SEEN"})
            with open(os.path.join(d, "go"), "w"):
                pass
            out, err = p.communicate(timeout=30)
            assert p.returncode == 0, (out, err)
            return out.strip()
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()


def test_propagation_rslave_receives_host_mounts(env):
    assert _propagation_effect(env, "rslave") == "SEEN"


def test_propagation_rprivate_does_not_receive_host_mounts(env):
    assert _propagation_effect(env, "rprivate") == "NOT-SEEN"


# ---------------------------------------------------------------- tmpcopyup


def test_tmpcopyup(env):
    data = os.path.join(env.rootfs, "data")
    os.makedirs(os.path.join(data, "sub"))
    with open(os.path.join(data, "a.txt"), "w") as f:
        f.write("aaa\n")
    with open(os.path.join(data, "sub", "b.txt"), "w") as f:
        f.write("bbb\n")
    os.chmod(os.path.join(data, "a.txt"), 0o640)
    os.chown(os.path.join(data, "sub", "b.txt"), 1234, 5678)
    os.symlink("a.txt", os.path.join(data, "link"))
    add_mount(env, {"destination": "/data", "type": "tmpfs", "source": "tmpfs",
                    "options": ["tmpcopyup", "mode=755"]})
    out, mi, r = run_with_mountinfo(
        env, "cat /data/a.txt /data/sub/b.txt /data/link; readlink /data/link; "
             "stat -c '%a' /data/a.txt; stat -c '%u %g' /data/sub/b.txt; "
             "echo changed > /data/a.txt; echo new > /data/new.txt; rm /data/sub/b.txt; cat /data/a.txt")
    assert out.splitlines() == ["aaa", "bbb", "aaa", "a.txt", "640", "1234 5678", "changed"], r
    assert mount_at(mi, "/data")["fstype"] == "tmpfs"
    with open(os.path.join(data, "a.txt")) as f:
        assert f.read() == "aaa\n", "writing in the tmpcopyup tmpfs changed the rootfs"
    assert not os.path.exists(os.path.join(data, "new.txt"))
    assert os.path.exists(os.path.join(data, "sub", "b.txt"))


# ------------------------------------ binds over procfs and sysfs (lxcfs's way)

@pytest.mark.parametrize("user_ns", [False, True], ids=["host-ids", "userns"])
def test_bind_files_over_proc_and_sys(env, user_ns):
    """What vesselctl does with lxcfs (src/manager/lxcfs.c): regular files
    bound over files of the container's own /proc, a directory over
    /sys/devices/system/cpu, after the proc and sysfs mounts; with and
    without a user namespace (procfs and sysfs are the container's)."""
    if user_ns:
        userns(env)
    d = host_dir(env, "fakeproc", {"meminfo": "MemTotal: 1234 kB\n", "uptime": "42.00 1.00\n",
                                   "cpu/online": "0\n"})
    os.chmod(os.path.dirname(d), 0o755)
    for name in ("meminfo", "uptime"):
        add_mount(env, {"destination": f"/proc/{name}", "type": "bind",
                        "source": os.path.join(d, name),
                        "options": ["bind", "nosuid", "nodev", "noexec", "ro"]})
    add_mount(env, {"destination": "/sys/devices/system/cpu", "type": "bind",
                    "source": os.path.join(d, "cpu"),
                    "options": ["bind", "nosuid", "nodev", "noexec", "ro"]})
    out, mi, r = run_with_mountinfo(
        env, "cat /proc/meminfo /proc/uptime /sys/devices/system/cpu/online; "
             "head -c 3 /proc/stat; echo")
    assert out == "MemTotal: 1234 kB\n42.00 1.00\n0\ncpu\n", r
    for p in ("/proc/meminfo", "/proc/uptime", "/sys/devices/system/cpu"):
        assert "ro" in mount_at(mi, p)["opts"], p
    assert mount_at(mi, "/proc")["fstype"] == "proc"
