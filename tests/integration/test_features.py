"""`vessel features` lists what vessel implements, no more: every entry is
used in a real container here (each mount option on a mount, each seccomp
action, operator, architecture and flag in a profile, each namespace, each
capability), and what it says is not there is refused."""
import copy
import ctypes
import ctypes.util
import json
import os
import socket
import subprocess
import threading

import pytest

from conftest import VESSEL, ok

IDMAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


@pytest.fixture(scope="module")
def features():
    cp = subprocess.run([VESSEL, "features"], capture_output=True, text=True, check=True)
    return json.loads(cp.stdout)


@pytest.fixture(autouse=True)
def own_cgroup(env):
    env.config["linux"]["cgroupsPath"] = "/vessel/" + os.path.basename(env.tmp)


def run(env, cfg, script="true"):
    cfg = copy.deepcopy(cfg)
    cfg["process"]["args"] = ["/bin/sh", "-c", script]
    env.write_config(cfg)
    return env.vessel("run", "--bundle", env.bundle, "c1")


def failures(env, cases):
    """Run every (name, config); the names of those that failed, with why."""
    bad = []
    for name, cfg in cases:
        r = run(env, cfg)
        if r.returncode != 0:
            bad.append(f"{name}: {r.stderr.strip()}")
    return bad


# ------------------------------------------------------------ mount options

BIND_ONLY = {"bind", "rbind", "idmap", "ridmap", "private", "shared", "slave", "unbindable",
             "rprivate", "rshared", "rslave", "runbindable"}


def mount_case(env, opt):
    cfg = copy.deepcopy(env.config)
    if opt == "remount":
        # remounts the /dev/shm tmpfs of the default config
        m = {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["remount", "ro"]}
    elif opt in BIND_ONLY:
        src = os.path.join(env.tmp, "src")
        os.makedirs(src, exist_ok=True)
        m = {"destination": "/mnt", "type": "bind", "source": src,
             "options": ([] if opt in ("bind", "rbind") else ["rbind"]) + [opt]}
        if opt in ("idmap", "ridmap"):
            m["uidMappings"] = m["gidMappings"] = IDMAP
    else:
        m = {"destination": "/mnt", "type": "tmpfs", "source": "tmpfs", "options": [opt]}
    cfg["mounts"].append(m)
    return cfg


def test_every_mount_option_is_accepted(env, features):
    cases = [(o, mount_case(env, o)) for o in features["mountOptions"]]
    # idmapped mounts need the source's file system to support them (tmpfs
    # only since Linux 6.3): that is the host's, not the option's, limit.
    bad = [f for f in failures(env, cases)
           if not (f.startswith(("idmap:", "ridmap:")) and "support idmapped mounts" in f)]
    assert not bad, bad


def test_unapplied_mount_options_are_not_listed(features):
    """iversion and silent have no generic fsconfig() flag: vessel cannot
    apply them, so they are not listed (the parser still takes them)."""
    assert not {"iversion", "silent"} & set(features["mountOptions"])


# ------------------------------------------------------------ seccomp

def profile(action="SCMP_ACT_ALLOW", rules=(), archs=None, flags=None, listener=None):
    p = {"defaultAction": action if not rules else "SCMP_ACT_ALLOW",
         "architectures": archs or ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
         "syscalls": list(rules)}
    if flags:
        p["flags"] = flags
    if listener:
        p["listenerPath"] = listener
    return p


class Listener:
    """A seccomp agent that takes the notify fd and lets it go."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(8)
        self.done = False
        self.t = threading.Thread(target=self.serve, daemon=True)
        self.t.start()

    def serve(self):
        self.sock.settimeout(0.2)
        while not self.done:
            try:
                c, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with c:
                socket.recv_fds(c, 65536, 4)

    def close(self):
        self.done = True
        self.t.join()
        self.sock.close()


@pytest.fixture
def listener(env):
    l = Listener(os.path.join(env.tmp, "agent.sock"))
    yield l
    l.close()


def with_seccomp(env, p):
    cfg = copy.deepcopy(env.config)
    cfg["linux"]["seccomp"] = p
    return cfg


# An old syscall that busybox sh never makes.
UNUSED = "acct"


def test_every_seccomp_action_is_applied(env, features, listener):
    cases = []
    for a in features["linux"]["seccomp"]["actions"]:
        rule = {"names": [UNUSED], "action": a}
        cases.append((a, with_seccomp(env, profile(rules=[rule], listener=listener.path
                                                   if a == "SCMP_ACT_NOTIFY" else None))))
    assert not failures(env, cases), failures(env, cases)


def test_every_seccomp_operator_is_applied(env, features):
    cases = []
    for op in features["linux"]["seccomp"]["operators"]:
        rule = {"names": [UNUSED], "action": "SCMP_ACT_ERRNO",
                "args": [{"index": 0, "value": 1, "valueTwo": 1, "op": op}]}
        cases.append((op, with_seccomp(env, profile(rules=[rule]))))
    assert not failures(env, cases), failures(env, cases)


def libseccomp_knows(arch):
    lib = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2")
    lib.seccomp_arch_resolve_name.restype = ctypes.c_uint32
    return lib.seccomp_arch_resolve_name(arch[len("SCMP_ARCH_"):].lower().encode()) != 0


def test_every_seccomp_arch_gets_into_the_filter(env, features):
    """An architecture libseccomp does not know would be left out of the
    filter: only the others are listed."""
    archs = features["linux"]["seccomp"]["archs"]
    assert "SCMP_ARCH_X86_64" in archs, archs
    unknown = [a for a in archs if not libseccomp_knows(a)]
    assert not unknown, f"listed, but this libseccomp cannot filter them: {unknown}"
    # libseccomp puts one byte order in a filter: the others are refused,
    # saying so.
    rule = {"names": [UNUSED], "action": "SCMP_ACT_ERRNO"}
    cases = [(a, with_seccomp(env, profile(rules=[rule], archs=[a]))) for a in archs]
    bad = [f for f in failures(env, cases) if "byte order" not in f]
    assert not bad, bad
    assert len(failures(env, cases)) < len(archs), "no architecture was accepted"


def test_every_supported_seccomp_flag_is_applied(env, features, listener):
    sc = features["linux"]["seccomp"]
    assert set(sc["supportedFlags"]) <= set(sc["knownFlags"])
    cases = []
    for fl in sc["supportedFlags"]:
        # these two only go with a listener (the kernel refuses them alone)
        needs = fl in ("SECCOMP_FILTER_FLAG_NEW_LISTENER", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV")
        rule = {"names": [UNUSED], "action": "SCMP_ACT_NOTIFY" if needs else "SCMP_ACT_ERRNO"}
        cases.append((fl, with_seccomp(env, profile(rules=[rule], flags=[fl],
                                                    listener=listener.path if needs else None))))
    assert not failures(env, cases), failures(env, cases)


# ------------------------------------------------------------ namespaces, capabilities

def test_every_namespace_is_made(env, features):
    cases = []
    for ns in features["linux"]["namespaces"]:
        cfg = copy.deepcopy(env.config)
        if ns not in [n["type"] for n in cfg["linux"]["namespaces"]]:
            cfg["linux"]["namespaces"].append({"type": ns})
        if ns == "user":
            os.chmod(env.tmp, 0o755)  # the rootfs, for the container's root
            cfg["linux"]["uidMappings"] = cfg["linux"]["gidMappings"] = IDMAP
        cases.append((ns, cfg))
    assert not failures(env, cases), failures(env, cases)


def test_every_capability_is_granted(env, features):
    """Each listed capability (as far as the kernel and our own bounding
    set have it: root here lacks some) reaches the container's sets."""
    caps = features["linux"]["capabilities"]
    with open("/proc/self/status") as f:
        own = int([l for l in f if l.startswith("CapBnd:")][0].split()[1], 16)
    have = [c for n, c in enumerate(caps) if own & (1 << n)]
    assert len(have) > 30, (caps, hex(own))
    cfg = copy.deepcopy(env.config)
    for s in ("bounding", "effective", "permitted"):
        cfg["process"]["capabilities"][s] = have
    r = run(env, cfg, "grep -E 'CapBnd|CapEff' /proc/self/status")
    got = [int(l.split()[1], 16) for l in ok(r).splitlines()]
    for n, cap in enumerate(caps):
        if cap in have:
            assert all(g & (1 << n) for g in got), f"{cap} listed but not granted ({got})"


# ------------------------------------------------------------ what is not there

def test_what_is_not_implemented_is_refused(env, features):
    lx = features["linux"]
    assert lx["intelRdt"]["enabled"] is False
    for rdt in ({"closID": "vessel-test"}, {"l3CacheSchema": "L3:0=ff"}, {"memBwSchema": "MB:0=20"},
                {"enableMonitoring": True}):
        cfg = copy.deepcopy(env.config)
        cfg["linux"]["intelRdt"] = rdt
        r = run(env, cfg)
        assert r.returncode != 0 and "intelRdt" in r.stderr, (rdt, r)
    assert lx["cgroup"]["systemd"] is False and lx["cgroup"]["systemdUser"] is False
    env.write_config()
    r = env.vessel("--systemd-cgroup", "run", "--bundle", env.bundle, "c1")
    assert r.returncode != 0 and "systemd" in r.stderr, r
    assert env.ids() == []


def test_cgroup_rw_extension_is_listed(features):
    """vessel.rw=HIERARCHY on a cgroup mount (test_cgroups.py applies it)."""
    ext = features["linux"]["mountExtensions"]
    assert ext["io.github.vessel.cgroupRw"] == {"enabled": True}, ext
