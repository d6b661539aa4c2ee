"""config.json "linux": namespaces (new and joined), id mappings, time
offsets, devices, sysctl, rootfs propagation, masked and read-only paths,
personality, and the --no-pivot option; checked from inside the container."""
import contextlib
import os
import platform
import subprocess

import pytest

from conftest import VESSEL, ok, wait_for


@pytest.fixture(autouse=True)
def own_cgroup(env):
    """A cgroup of this test's own: the default one is named after the
    container id ("c1"), which concurrent test runs on this machine share."""
    env.config["linux"]["cgroupsPath"] = "/vessel/" + os.path.basename(env.tmp)


NS_FILE = {"pid": "pid", "network": "net", "ipc": "ipc", "uts": "uts", "mount": "mnt",
           "cgroup": "cgroup", "user": "user", "time": "time"}
UNSHARE_FLAG = {"network": "--net", "ipc": "--ipc", "uts": "--uts", "mount": "--mount",
                "cgroup": "--cgroup", "time": "--time", "user": "--user"}
IDMAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]



def host_ns(name, pid="self"):
    return os.readlink(f"/proc/{pid}/ns/{name}")


def set_ns(env, typ, path=None):
    nss = [n for n in env.config["linux"]["namespaces"] if n["type"] != typ]
    n = {"type": typ}
    if path:
        n["path"] = path
    nss.append(n)
    env.config["linux"]["namespaces"] = nss


def drop_ns(env, typ):
    env.config["linux"]["namespaces"] = [n for n in env.config["linux"]["namespaces"]
                                         if n["type"] != typ]


def userns(env, uid=IDMAP, gid=IDMAP):
    os.chmod(env.tmp, 0o755)
    set_ns(env, "user")
    env.config["linux"]["uidMappings"] = uid
    env.config["linux"]["gidMappings"] = gid


def parse_mountinfo(text):
    res = []
    for line in text.splitlines():
        if " - " not in line:
            continue
        pre, _, post = line.partition(" - ")
        f, p = pre.split(), post.split()
        res.append({"id": f[0], "parent": f[1], "root": f[3], "mnt": f[4], "opts": f[5].split(","),
                    "optional": f[6:], "fstype": p[0], "line": line})
    return res


def mount_at(entries, path):
    found = [e for e in entries if e["mnt"] == path]
    assert found, f"no mount at {path} in:\n" + "\n".join(e["line"] for e in entries)
    return found[-1]


@contextlib.contextmanager
def helper(*unshare_args):
    """`unshare ARGS sleep 1000` on the host; yields the Popen.  At exit the
    helper and (with --fork) its child are killed and reaped."""
    p = subprocess.Popen(["unshare", *unshare_args, "--kill-child", "sleep", "1000"]
                         if "--fork" in unshare_args else
                         ["unshare", *unshare_args, "sleep", "1000"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        yield p
    finally:
        kids = children(p.pid)
        for kid in kids:
            try:
                os.kill(kid, 9)
            except ProcessLookupError:
                pass
        if kids:
            try:
                p.wait(timeout=5)  # unshare --fork reaps its child and exits
            except subprocess.TimeoutExpired:
                pass
        p.kill()
        p.wait()


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(k) for k in f.read().split()]
    except FileNotFoundError:
        return []


def wait_exec_sleep(pid):
    """Wait until pid has exec'd sleep (so its namespaces are final)."""
    def done():
        try:
            with open(f"/proc/{pid}/comm") as f:
                return f.read().strip() == "sleep"
        except FileNotFoundError:
            return False
    assert wait_for(done), f"helper {pid} never became sleep"


# ---------------------------------------------------------------- new namespaces


@pytest.mark.parametrize("typ", ["pid", "network", "ipc", "uts", "mount", "cgroup", "user", "time"])
def test_new_namespace(env, typ):
    if typ == "user":
        userns(env)
    else:
        set_ns(env, typ)
    f = NS_FILE[typ]
    r = env.run(["/bin/readlink", f"/proc/self/ns/{f}"])
    inside = ok(r).strip()
    assert inside.startswith(f"{f}:["), r
    assert inside != host_ns(f), f"{typ}: the container is in the host's namespace {inside}"
    assert os.stat(f"/proc/self/ns/{f}").st_ino != int(inside[len(f) + 2:-1])


@pytest.mark.parametrize("user", [False, True], ids=["root", "userns"])
def test_new_network_namespace_has_loopback_up(env, user):
    """As with runc and crun, lo is up in a new network namespace: up in
    its flags and in `ip link`, and 127.0.0.1 answers a ping."""
    if user:
        userns(env)
    env.config["process"]["capabilities"] = {
        s: ["CAP_NET_RAW"] for s in ("bounding", "effective", "permitted")}
    r = env.sh("cat /sys/class/net/lo/flags; ip link show lo; "
               "ping -c 1 -W 2 127.0.0.1 >/dev/null && echo PING-OK")
    out = ok(r).splitlines()
    assert int(out[0], 16) & 0x1, f"lo is down (IFF_UP not in its flags): {r}"
    assert "UP" in out[1].split("<")[1].split(">")[0].split(","), r
    assert out[-1] == "PING-OK", r


@pytest.mark.parametrize("typ", ["pid", "network", "ipc", "uts", "cgroup", "user", "time"])
def test_namespace_not_listed_is_the_hosts(env, typ):
    drop_ns(env, typ)
    if typ == "uts":
        env.config.pop("hostname", None)
    f = NS_FILE[typ]
    r = env.run(["/bin/readlink", f"/proc/self/ns/{f}"])
    assert ok(r).strip() == host_ns(f), f"{typ} not listed, yet not the host's namespace: {r}"


# ---------------------------------------------------------------- joined namespaces


@pytest.mark.parametrize("typ", ["network", "ipc", "uts", "cgroup", "mount", "time"])
def test_join_namespace_by_path(env, typ):
    f = NS_FILE[typ]
    with helper(UNSHARE_FLAG[typ]) as h:
        wait_exec_sleep(h.pid)
        want = host_ns(f, h.pid)
        assert want != host_ns(f), f"helper did not unshare {typ}"
        set_ns(env, typ, f"/proc/{h.pid}/ns/{f}")
        if typ == "uts":
            env.config.pop("hostname", None)
        r = env.run(["/bin/readlink", f"/proc/self/ns/{f}"])
        assert ok(r).strip() == want, f"joined {typ} namespace {want}, inside: {r}"


def test_joined_network_namespace_is_left_as_it_is(env):
    """Only a network namespace vessel creates gets lo brought up."""
    with helper("--net") as h:
        wait_exec_sleep(h.pid)
        set_ns(env, "network", f"/proc/{h.pid}/ns/net")
        r = env.run(["/bin/cat", "/sys/class/net/lo/flags"])
        assert not int(ok(r), 16) & 0x1, f"lo of a joined namespace was brought up: {r}"


def test_join_several_namespaces_by_path(env):
    with helper("--net", "--uts", "--ipc") as h:
        wait_exec_sleep(h.pid)
        for typ in ("network", "uts", "ipc"):
            set_ns(env, typ, f"/proc/{h.pid}/ns/{NS_FILE[typ]}")
        env.config.pop("hostname", None)
        r = env.sh("for n in net uts ipc; do readlink /proc/self/ns/$n; done")
        assert ok(r).split() == [host_ns(n, h.pid) for n in ("net", "uts", "ipc")], r


def test_join_uts_namespace_keeps_its_hostname(env):
    with helper("--uts") as h:
        wait_exec_sleep(h.pid)
        subprocess.run(["nsenter", "-t", str(h.pid), "-u", "hostname", "joined-host"], check=True)
        set_ns(env, "uts", f"/proc/{h.pid}/ns/uts")
        env.config.pop("hostname", None)
        r = env.run(["/bin/hostname"])
        assert ok(r).strip() == "joined-host", r


def test_join_pid_namespace_by_path(env):
    with helper("--pid", "--fork", "--mount-proc") as h:
        def child():
            for kid in children(h.pid):
                try:
                    with open(f"/proc/{kid}/comm") as f:
                        if f.read().strip() == "sleep":
                            return kid
                except FileNotFoundError:
                    pass
            return None
        sleeper = wait_for(child)
        assert sleeper, "the helper's sleep never started"
        want = host_ns("pid", sleeper)
        assert want != host_ns("pid")
        set_ns(env, "pid", f"/proc/{sleeper}/ns/pid")
        r = env.sh("readlink /proc/self/ns/pid; cat /proc/1/comm; echo $$")
        out = ok(r).split()
        assert out[0] == want, f"joined pid namespace {want}, inside: {r}"
        assert out[1] == "sleep", f"pid 1 of the joined namespace is the helper's sleep: {r}"
        assert out[2] != "1", r


def test_join_user_namespace_by_path(env):
    os.chmod(env.tmp, 0o755)
    with helper("--user", "--map-root-user") as h:
        wait_exec_sleep(h.pid)
        with open(f"/proc/{h.pid}/uid_map") as f:
            want_map = f.read().split()
        set_ns(env, "user", f"/proc/{h.pid}/ns/user")
        # Only uid/gid 0 exist in this user namespace: no gid=5 for devpts.
        for m in env.config["mounts"]:
            if m["type"] == "devpts":
                m["options"] = [o for o in m["options"] if not o.startswith("gid=")]
        r = env.sh("readlink /proc/self/ns/user; cat /proc/self/uid_map")
        out = ok(r).split()
        assert out[0] == host_ns("user", h.pid), r
        assert out[1:] == want_map, r


def test_join_nonexistent_namespace_path_fails(env):
    set_ns(env, "network", os.path.join(env.tmp, "no-such-ns"))
    r = env.sh("echo SHOULD-NOT-RUN")
    assert r.returncode != 0 and "SHOULD-NOT-RUN" not in r.stdout, r
    assert "no-such-ns" in r.stderr, f"error does not name the path: {r.stderr!r}"
    assert env.ids() == []


def test_join_namespace_of_wrong_type_fails(env):
    with helper("--uts") as h:
        wait_exec_sleep(h.pid)
        set_ns(env, "network", f"/proc/{h.pid}/ns/uts")
        r = env.sh("echo SHOULD-NOT-RUN")
        assert r.returncode != 0 and "SHOULD-NOT-RUN" not in r.stdout, r
        assert env.ids() == []


# ---------------------------------------------------------------- user namespace


def test_userns_single_range(env):
    userns(env)
    r = env.sh("cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; touch /tmp/owned")
    lines = ok(r).splitlines()
    assert lines[0].split() == ["0", "100000", "65536"], r
    assert lines[1].split() == ["0", "100000", "65536"], r
    assert lines[2:4] == ["0", "0"], r
    st = os.stat(os.path.join(env.rootfs, "tmp/owned"))
    assert (st.st_uid, st.st_gid) == (100000, 100000), "the file was not created as the mapped host id"


def test_userns_several_ranges(env):
    uids = [{"containerID": 0, "hostID": 100000, "size": 1},
            {"containerID": 1, "hostID": 200000, "size": 1000},
            {"containerID": 5000, "hostID": 300000, "size": 10}]
    gids = [{"containerID": 0, "hostID": 400000, "size": 1},
            {"containerID": 1, "hostID": 500000, "size": 2000}]
    userns(env, uids, gids)
    env.config["process"]["user"] = {"uid": 7, "gid": 9}
    r = env.sh("cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; "
               "id -u; id -g; touch /tmp/owned")
    parts = ok(r).split("--\n")
    got_uid = [l.split() for l in parts[0].splitlines()]
    got_gid = [l.split() for l in parts[1].splitlines()]
    assert got_uid == [["0", "100000", "1"], ["1", "200000", "1000"], ["5000", "300000", "10"]], r
    assert got_gid == [["0", "400000", "1"], ["1", "500000", "2000"]], r
    assert parts[2].split() == ["7", "9"], r
    st = os.stat(os.path.join(env.rootfs, "tmp/owned"))
    assert (st.st_uid, st.st_gid) == (200006, 500008), (st.st_uid, st.st_gid)


def test_userns_root_is_unprivileged_on_host(env):
    userns(env)
    host_file = os.path.join(env.rootfs, "root-only")
    with open(host_file, "w") as f:
        f.write("secret\n")
    os.chmod(host_file, 0o600)
    r = env.sh("cat /root-only || echo DENIED")
    assert "DENIED" in ok(r) and "secret" not in r.stdout, r


# ---------------------------------------------------------------- cgroup / time namespaces


def test_cgroup_namespace_paths_are_root(env):
    set_ns(env, "cgroup")
    r = env.run(["/bin/cat", "/proc/self/cgroup"])
    lines = ok(r).splitlines()
    assert lines, r
    for l in lines:
        assert l.split(":", 2)[2] == "/", f"cgroup path is not / in a cgroup namespace: {lines}"


def test_time_namespace_offsets(env):
    mono, boot = 86400, 3 * 86400
    set_ns(env, "time")
    env.config["linux"]["timeOffsets"] = {"monotonic": {"secs": mono, "nanosecs": 0},
                                          "boottime": {"secs": boot, "nanosecs": 0}}
    with open("/proc/uptime") as f:
        before = float(f.read().split()[0])
    r = env.sh("cat /proc/self/timens_offsets; cat /proc/uptime")
    with open("/proc/uptime") as f:
        after = float(f.read().split()[0])
    lines = ok(r).splitlines()
    offs = {l.split()[0]: l.split()[1:] for l in lines[:2]}
    assert offs == {"monotonic": [str(mono), "0"], "boottime": [str(boot), "0"]}, r
    up = float(lines[2].split()[0])
    assert before + boot - 1 <= up <= after + boot + 1, \
        f"uptime inside {up} is not the host's ({before}..{after}) + {boot}"


def test_time_namespace_monotonic_offset(env):
    set_ns(env, "time")
    env.config["linux"]["timeOffsets"] = {"monotonic": {"secs": 1000000, "nanosecs": 0}}
    r = env.run(["/bin/cat", "/proc/self/timens_offsets"])
    offs = {l.split()[0]: l.split()[1:] for l in ok(r).splitlines()}
    assert offs["monotonic"] == ["1000000", "0"], r
    assert offs["boottime"] == ["0", "0"], r


# ---------------------------------------------------------------- devices


def test_device_char(env):
    env.config["linux"]["devices"] = [{"path": "/dev/mynull", "type": "c", "major": 1, "minor": 3,
                                       "fileMode": 438, "uid": 0, "gid": 0}]
    r = env.sh("stat -c '%F|%t|%T|%a|%u|%g' /dev/mynull; echo data > /dev/mynull && echo WROTE; "
               "wc -c < /dev/mynull")
    lines = ok(r).splitlines()
    assert lines[0] == "character special file|1|3|666|0|0", r
    assert lines[1] == "WROTE" and lines[2].strip() == "0", r


def test_device_in_userns_gets_its_file_mode(env):
    """In a user namespace the host's node is bound where one exists, but
    not when the config asks for another mode (the host's /dev/fuse is
    0600 without udev; vesselctl asks 0666): the runtime makes its own."""
    userns(env)
    env.config["linux"]["devices"] = [{"path": "/dev/zero", "type": "c", "major": 1,
                                       "minor": 5, "fileMode": 0o640, "uid": 0, "gid": 0},
                                      {"path": "/dev/full", "type": "c", "major": 1,
                                       "minor": 7, "fileMode": os.stat("/dev/full").st_mode & 0o7777,
                                       "uid": 0, "gid": 0}]
    r = env.sh("stat -c '%a' /dev/zero /dev/full; head -c 2 /dev/zero | od -An -tx1")
    lines = ok(r).splitlines()
    assert lines[0] == "640", r
    assert lines[1] == "%o" % (os.stat("/dev/full").st_mode & 0o777), r
    assert lines[2].split() == ["00"] * 2, r


def test_device_mode_uid_gid_in_subdir(env):
    env.config["linux"]["devices"] = [{"path": "/dev/sub/dir/myzero", "type": "c", "major": 1,
                                       "minor": 5, "fileMode": 0o600, "uid": 1000, "gid": 2000}]
    env.config["process"]["user"] = {"uid": 1000, "gid": 2000}
    r = env.sh("stat -c '%F|%t|%T|%a|%u|%g' /dev/sub/dir/myzero; "
               "head -c 4 /dev/sub/dir/myzero | od -An -tx1")
    lines = ok(r).splitlines()
    assert lines[0] == "character special file|1|5|600|1000|2000", r
    assert lines[1].split() == ["00"] * 4, r


def test_device_block_and_fifo(env):
    env.config["linux"]["devices"] = [
        {"path": "/dev/myloop", "type": "b", "major": 7, "minor": 0, "fileMode": 0o660},
        {"path": "/dev/myfifo", "type": "p", "fileMode": 0o644},
        {"path": "/dev/myu", "type": "u", "major": 1, "minor": 9, "fileMode": 0o644}]
    r = env.sh("stat -c '%n|%F|%t|%T|%a' /dev/myloop /dev/myfifo /dev/myu")
    lines = ok(r).splitlines()
    assert lines[0] == "/dev/myloop|block special file|7|0|660", r
    assert lines[1].split("|")[1] == "fifo" and lines[1].endswith("|644"), r
    assert lines[2] == "/dev/myu|character special file|1|9|644", r


DEFAULT_DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8),
                   "urandom": (1, 9), "tty": (5, 0)}


def test_default_devices(env):
    names = " ".join(f"/dev/{n}" for n in DEFAULT_DEVICES)
    r = env.sh(f"stat -c '%n|%F|%t|%T|%a' {names}")
    got = {l.split("|")[0][5:]: l.split("|")[1:] for l in ok(r).splitlines()}
    for n, (ma, mi) in DEFAULT_DEVICES.items():
        assert got.get(n) == ["character special file", f"{ma:x}", f"{mi:x}", "666"], \
            f"/dev/{n}: {got.get(n)}"


def test_default_devices_work(env):
    r = env.sh("echo x > /dev/null && echo NULL-OK; head -c 3 /dev/zero | od -An -tx1; "
               "echo x > /dev/full || echo FULL-ENOSPC; head -c 16 /dev/urandom | wc -c")
    lines = ok(r).splitlines()
    assert lines[0] == "NULL-OK" and lines[1].split() == ["00"] * 3, r
    assert "FULL-ENOSPC" in lines and lines[-1].strip() == "16", r
    assert "No space left on device" in r.stderr, r


def test_default_dev_symlinks_and_dirs(env):
    r = env.sh("for l in ptmx fd stdin stdout stderr; do echo \"$l=$(readlink /dev/$l)\"; done; "
               "for d in pts shm mqueue; do stat -c '%n|%F' /dev/$d; done")
    lines = ok(r).splitlines()
    links = dict(l.split("=", 1) for l in lines[:5])
    assert links == {"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0",
                     "stdout": "/proc/self/fd/1", "stderr": "/proc/self/fd/2"}, r
    assert lines[5:] == ["/dev/pts|directory", "/dev/shm|directory", "/dev/mqueue|directory"], r


def test_dev_stdout_works(env):
    r = env.sh("echo via-dev-stdout > /dev/stdout; echo via-dev-stderr > /dev/stderr")
    assert ok(r) == "via-dev-stdout\n" and "via-dev-stderr" in r.stderr, r


def test_devices_in_user_namespace(env):
    """mknod is not possible in a user namespace: the default devices must
    still be there (bind mounted from the host)."""
    userns(env)
    r = env.sh("echo x > /dev/null && echo NULL-OK; head -c 2 /dev/zero | od -An -tx1")
    lines = ok(r).splitlines()
    assert lines[0] == "NULL-OK" and lines[1].split() == ["00", "00"], r


def mount_options(mountinfo, path):
    """The per-mount options (field 6) of the topmost mount at path."""
    found = None
    for line in mountinfo.splitlines():
        f = line.split()
        if f[4] == path:
            found = f[5].split(",")
    return found


def test_devices_in_user_namespace_host_lacks_node(env):
    """A device the host has no node for (at that path, of that number) is
    made by the runtime, with its mode and owner, and bound into a user
    namespace container; bound device nodes are nosuid,noexec, and nothing
    is left on the host."""
    name = f"vessel-test-{os.path.basename(env.tmp)}"
    assert not os.path.exists(f"/dev/{name}")
    userns(env)
    env.config["linux"]["devices"] = [
        {"path": f"/dev/{name}", "type": "c", "major": 1, "minor": 3, "fileMode": 0o620,
         "uid": 0, "gid": 0},
        # the host has a /dev/full, but it is 1:7: not the device asked for
        {"path": "/dev/full", "type": "c", "major": 1, "minor": 5},
    ]
    r = env.sh(f"echo x > /dev/{name} && echo NEW-OK; stat -c '%t:%T %a %u' /dev/{name}; "
               "head -c 2 /dev/full | od -An -tx1; cat /proc/self/mountinfo")
    out = ok(r).splitlines()
    assert out[0] == "NEW-OK" and out[1] == "1:3 620 0", r
    assert out[2].split() == ["00", "00"], f"/dev/full is not the 1:5 asked for: {r}"
    mountinfo = "\n".join(out[3:])
    for dev in (f"/dev/{name}", "/dev/null", "/dev/full"):
        opts = mount_options(mountinfo, dev)
        assert opts and "nosuid" in opts and "noexec" in opts, f"{dev}: {opts}"
    assert not os.path.exists(f"/dev/{name}"), "a device node was left on the host"


# ---------------------------------------------------------------- sysctl


def test_sysctl_net_in_new_netns(env):
    env.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1"}
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        host_before = f.read()
    r = env.run(["/bin/cat", "/proc/sys/net/ipv4/ip_forward"])
    assert ok(r).strip() == "1", r
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        assert f.read() == host_before, "the sysctl changed the host's value"


def test_sysctl_ipc_in_new_ipcns(env):
    env.config["linux"]["sysctl"] = {"kernel.shmmax": "123456789", "kernel.msgmax": "4096"}
    r = env.sh("cat /proc/sys/kernel/shmmax /proc/sys/kernel/msgmax")
    assert ok(r).split() == ["123456789", "4096"], r


def test_sysctl_with_slashes(env):
    env.config["linux"]["sysctl"] = {"net/ipv4/ip_forward": "1"}
    r = env.run(["/bin/cat", "/proc/sys/net/ipv4/ip_forward"])
    assert ok(r).strip() == "1", r


def test_sysctl_net_without_netns_is_rejected(env):
    drop_ns(env, "network")
    with open("/proc/sys/net/ipv4/ip_forward") as f:
        host = f.read().strip()
    # The same value as the host's: harmless even if a buggy runtime wrote it.
    env.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": host}
    r = env.sh("echo SHOULD-NOT-RUN")
    assert r.returncode != 0 and "SHOULD-NOT-RUN" not in r.stdout, \
        f"a net.* sysctl was accepted without a network namespace: {r}"
    assert "net.ipv4.ip_forward" in r.stderr, r


def test_sysctl_unknown_key_fails(env):
    env.config["linux"]["sysctl"] = {"kernel.no_such_sysctl_xyz": "1"}
    r = env.sh("echo SHOULD-NOT-RUN")
    assert r.returncode != 0 and "SHOULD-NOT-RUN" not in r.stdout, r
    assert "no_such_sysctl_xyz" in r.stderr, r
    assert env.ids() == []


@pytest.mark.parametrize("key,field", [("kernel.hostname", "hostname"),
                                       ("kernel/domainname", "domainname")])
def test_sysctl_conflicting_with_uts_field_is_refused(env, key, field):
    """kernel.hostname/kernel.domainname and "hostname"/"domainname" both set
    the uts namespace: refused at create, naming both, and nothing is left
    (no state, no cgroup)."""
    env.config[field] = "fromfield"
    env.config["linux"]["sysctl"] = {key: "fromsysctl"}
    env.write_config()
    # stdio in a file: a created container would keep a pipe open.
    with open(os.path.join(env.tmp, "err"), "w+") as f:
        r = subprocess.run([VESSEL, "--root", env.root, "create", "--bundle", env.bundle, "c1"],
                           stdin=subprocess.DEVNULL, stdout=f, stderr=f, timeout=60)
        f.seek(0)
        err = f.read()
    assert r.returncode != 0, f"a {key} sysctl was accepted with {field} set: {err}"
    assert key in err and f'"{field}"' in err, err
    assert env.ids() == [] and not os.path.exists(os.path.join(env.root, "c1")), env.ids()
    cg = env.config["linux"]["cgroupsPath"].lstrip("/")
    left = [d for d in os.listdir("/sys/fs/cgroup")
            if os.path.exists(os.path.join("/sys/fs/cgroup", d, cg))]
    assert not left, f"cgroup {cg} left in {left}"


def test_sysctl_hostname_without_hostname_field(env):
    env.config.pop("hostname")
    env.config["linux"]["sysctl"] = {"kernel.hostname": "fromsysctl"}
    assert ok(env.run(["/bin/hostname"])).strip() == "fromsysctl"


# ---------------------------------------------------------------- rootfs propagation


@contextlib.contextmanager
def shared_bundle(env):
    """Make the bundle a shared mount on the host so that a slave root gets a
    master (the host's / is private here)."""
    subprocess.run(["mount", "--bind", env.bundle, env.bundle], check=True)
    try:
        subprocess.run(["mount", "--make-shared", env.bundle], check=True)
        yield
    finally:
        subprocess.run(["umount", "-l", env.bundle])


def root_mount(env, extra_script=":"):
    r = env.sh(f"{extra_script}; cat /proc/self/mountinfo")
    return mount_at(parse_mountinfo(ok(r)), "/"), r


@pytest.mark.parametrize("prop,shared,master,unbindable", [
    ("private", False, False, False),
    ("rprivate", False, False, False),
    ("slave", False, True, False),
    ("rslave", False, True, False),
    ("shared", True, None, False),
    ("rshared", True, None, False),
    ("unbindable", False, False, True),
    ("runbindable", False, False, True),
    (None, False, True, False),  # the default is rslave
])
def test_rootfs_propagation(env, prop, shared, master, unbindable):
    if prop:
        env.config["linux"]["rootfsPropagation"] = prop
    else:
        env.config["linux"].pop("rootfsPropagation", None)
    with shared_bundle(env):
        m, r = root_mount(env)
    opt = m["optional"]
    assert any(o.startswith("shared:") for o in opt) == shared, f"{prop}: {m['line']}"
    if master is not None:
        assert any(o.startswith("master:") for o in opt) == master, f"{prop}: {m['line']}"
    assert ("unbindable" in opt) == unbindable, f"{prop}: {m['line']}"


def test_rootfs_propagation_does_not_leak_mounts_to_host(env):
    env.config["linux"]["rootfsPropagation"] = "rslave"
    env.config["mounts"].append({"destination": "/mnt/leak", "type": "tmpfs", "source": "tmpfs"})
    with shared_bundle(env):
        ok(env.sh("grep -q ' /mnt/leak ' /proc/self/mountinfo"))
        with open("/proc/self/mountinfo") as f:
            host = f.read()
    assert "/mnt/leak" not in host


# ---------------------------------------------------------------- masked / readonly paths


def test_masked_file_paths(env):
    env.config["linux"]["maskedPaths"] = ["/proc/keys", "/proc/timer_list", "/proc/kcore"]
    r = env.sh("for f in /proc/keys /proc/timer_list; do stat -c '%n|%F|%t|%T' $f; "
               "echo \"$f bytes=$(wc -c < $f)\"; done")
    lines = ok(r).splitlines()
    assert lines == ["/proc/keys|character special file|1|3", "/proc/keys bytes=0",
                     "/proc/timer_list|character special file|1|3", "/proc/timer_list bytes=0"], r


def test_masked_dir_path(env):
    env.config["linux"]["maskedPaths"] = ["/sys/firmware"]
    r = env.sh("stat -c %F /sys/firmware; ls -A /sys/firmware | wc -l; "
               "touch /sys/firmware/x && echo WROTE; cat /proc/self/mountinfo")
    out = ok(r)
    lines = out.splitlines()
    assert lines[0] == "directory" and lines[1].strip() == "0", f"/sys/firmware not empty: {r}"
    assert "WROTE" not in out, r
    m = mount_at(parse_mountinfo(out), "/sys/firmware")
    assert m["fstype"] == "tmpfs" and "ro" in m["opts"], m["line"]


def test_masked_paths_in_rootfs(env):
    os.makedirs(os.path.join(env.rootfs, "secrets"))
    with open(os.path.join(env.rootfs, "secrets", "key"), "w") as f:
        f.write("top secret\n")
    with open(os.path.join(env.rootfs, "etc", "secret.conf"), "w") as f:
        f.write("password\n")
    env.config["linux"]["maskedPaths"] = ["/secrets", "/etc/secret.conf", "/does/not/exist"]
    r = env.sh("ls -A /secrets; cat /etc/secret.conf; cat /secrets/key 2>/dev/null; echo END")
    assert ok(r) == "END\n", f"masked content visible: {r}"


def test_readonly_paths(env):
    env.config["linux"]["readonlyPaths"] = ["/proc/sys", "/proc/sysrq-trigger", "/does/not/exist"]
    r = env.sh("echo 1 > /proc/sys/kernel/domainname && echo WROTE; cat /proc/self/mountinfo")
    out = ok(r)
    assert "WROTE" not in out and "Read-only file system" in r.stderr, r
    m = mount_at(parse_mountinfo(out), "/proc/sys")
    assert "ro" in m["opts"], m["line"]


def test_readonly_path_in_rootfs(env):
    os.makedirs(os.path.join(env.rootfs, "data"))
    env.config["linux"]["readonlyPaths"] = ["/data"]
    r = env.sh("touch /data/x && echo WROTE; touch /tmp/y && echo TMP-OK")
    out = ok(r)
    assert "WROTE" not in out and "TMP-OK" in out, r
    assert "Read-only file system" in r.stderr, r


# ---------------------------------------------------------------- personality


def test_personality_linux32(env):
    want = {"x86_64": ("i686", "i386"), "aarch64": ("armv8l", "armv7l")}.get(platform.machine())
    assert want, f"no expectation for {platform.machine()}"
    env.config["linux"]["personality"] = {"domain": "LINUX32"}
    r = env.run(["/bin/uname", "-m"])
    assert ok(r).strip() in want, r


def test_personality_linux(env):
    env.config["linux"]["personality"] = {"domain": "LINUX"}
    r = env.run(["/bin/uname", "-m"])
    assert ok(r).strip() == platform.machine(), r


# ---------------------------------------------------------------- --no-pivot


def test_no_pivot(env):
    with open(os.path.join(env.rootfs, "marker"), "w") as f:
        f.write("in-rootfs\n")
    r = env.run(["/bin/sh", "-c", "cat /marker; ls /; test -e /work && echo HOST-VISIBLE; "
                 "touch /written; cat /proc/self/mountinfo"], extra=["--no-pivot"])
    out = ok(r, "run --no-pivot")
    assert out.splitlines()[0] == "in-rootfs", r
    assert "HOST-VISIBLE" not in out, r
    assert os.path.exists(os.path.join(env.rootfs, "written"))
    mi = parse_mountinfo(out)
    assert mount_at(mi, "/proc")["fstype"] == "proc", r
    assert env.ids() == []
