#!/usr/bin/env python3
"""bench.py: vessel, crun and runc side by side on one host, in one run.

Run through bench/bench.sh (`make bench`), which installs the runtimes,
builds a release vessel and starts this script inside a private mount
namespace:

    unshare -m --propagation private python3 bench/bench.py --vessel PATH ...

Everything the three runtimes need is identical: the same busybox rootfs
(one copy, shared through an absolute root.path), the same config.json
(only cgroupsPath differs: /vessel-bench/RUNTIME/ID), each runtime its own
--root, all on one tmpfs mounted in the private namespace (as /run is on a
normal host).  Runtimes are interleaved within every row (A B C, B C A,
C A B, ...) so that drift on a shared machine hits all of them alike.

This script is the benchmark's own subreaper: container inits that outlive
the runtime command are reparented to it and reaped here, as conmon or a
containerd shim would.

Cleanup (also on failure or SIGINT/SIGTERM): every container is deleted
with --force, every process in /vessel-bench cgroups or carrying the run's
marker in its environment is SIGKILLed, the cgroups and the tmpfs are
removed.  `bench.py --sweep TOKEN` repeats the process and cgroup part from
outside the namespace (bench.sh calls it after every run).
"""
import argparse
import ctypes
import datetime
import errno
import json
import os
import platform
import select
import shutil
import signal
import subprocess
import sys
import time

CG = "/sys/fs/cgroup"
CGPARENT = "vessel-bench"
UNIFIED_CONTROLLERS = CG + "/unified/cgroup.controllers"
PODMAN_SECCOMP = "/usr/share/containers/seccomp.json"
# podman's default capability set (containers.conf default_capabilities)
PODMAN_CAPS = ["CAP_" + c for c in (
    "CHOWN DAC_OVERRIDE FOWNER FSETID KILL NET_BIND_SERVICE SETFCAP SETGID "
    "SETPCAP SETUID SYS_CHROOT").split()]
PATH_ENV = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class BenchError(Exception):
    pass


# --------------------------------------------------------------------------
# configs


def base_config(rootfs, args, cgroups_path, token):
    """`runc spec` (runc 1.1) with terminal off, an absolute root.path, a
    cgroupsPath and podman's default pids limit.  runc's spec also lists the
    three capabilities as *ambient*; without them in the inheritable set no
    runtime can raise them (runc and crun ignore that, vessel refuses it), so
    the ambient list is left out for everyone."""
    caps = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": list(args),
            "env": [PATH_ENV, "TERM=xterm", "VESSEL_BENCH=" + token],
            "cwd": "/",
            "capabilities": {s: list(caps) for s in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": rootfs, "readonly": True},
        "hostname": "bench",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "cgroupsPath": cgroups_path,
            "resources": {
                "devices": [{"allow": False, "access": "rwm"}],
                "pids": {"limit": 2048},
            },
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }


def native_arch():
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "i686": "386"}.get(m, m)


def podman_seccomp(profile, caps):
    """containers/common pkg/seccomp setupSeccomp(), the conversion podman
    applies to seccomp.json: keep the native arch and its sub-arches, and the
    syscall blocks whose includes/excludes (arches, caps, minKernel) match
    this arch, this kernel and the bounding set."""
    arch = native_arch()
    to_scmp = {"amd64": "SCMP_ARCH_X86_64", "arm64": "SCMP_ARCH_AARCH64", "386": "SCMP_ARCH_X86"}
    out = {"defaultAction": profile["defaultAction"]}
    if profile.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    archs = []
    for a in profile.get("archMap") or []:
        if a["architecture"] == to_scmp.get(arch):
            archs = [a["architecture"]] + list(a.get("subArchitectures") or [])
            break
    out["architectures"] = archs
    kver = tuple(int(x) for x in platform.release().split("-")[0].split(".")[:2])

    def kernel_at_least(s):
        return kver >= tuple(int(x) for x in s.split(".")[:2])

    syscalls = []
    for call in profile.get("syscalls") or []:
        exc = call.get("excludes") or {}
        inc = call.get("includes") or {}
        if arch in (exc.get("arches") or []):
            continue
        if any(c in caps for c in (exc.get("caps") or [])):
            continue
        if exc.get("minKernel") and kernel_at_least(exc["minKernel"]):
            continue
        if inc.get("arches") and arch not in inc["arches"]:
            continue
        if any(c not in caps for c in (inc.get("caps") or [])):
            continue
        if inc.get("minKernel") and not kernel_at_least(inc["minKernel"]):
            continue
        names = ([call["name"]] if call.get("name") else []) + list(call.get("names") or [])
        if not names:
            continue
        s = {"names": names, "action": call["action"]}
        if call.get("args"):
            s["args"] = [{k: a[k] for k in ("index", "value", "valueTwo", "op")} for a in call["args"]]
        if call.get("errnoRet") is not None:
            s["errnoRet"] = call["errnoRet"]
        syscalls.append(s)
    out["syscalls"] = syscalls
    return out


def podman_config(rootfs, args, cgroups_path, token, seccomp_profile):
    """The base config with what podman adds for security by default:
    its 11 default capabilities (bounding, effective, permitted), no
    no_new_privs, and its default seccomp profile converted as podman does."""
    cfg = base_config(rootfs, args, cgroups_path, token)
    cfg["process"]["capabilities"] = {s: list(PODMAN_CAPS) for s in ("bounding", "effective", "permitted")}
    cfg["process"]["noNewPrivileges"] = False
    cfg["linux"]["seccomp"] = podman_seccomp(seccomp_profile, PODMAN_CAPS)
    return cfg


# --------------------------------------------------------------------------
# processes


libc = ctypes.CDLL(None, use_errno=True)
PR_SET_CHILD_SUBREAPER = 36


def set_subreaper():
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise BenchError("prctl(PR_SET_CHILD_SUBREAPER): " + os.strerror(ctypes.get_errno()))


def reap_all():
    """Reap every zombie child (reparented container inits and helpers)."""
    n = 0
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return n
        if pid == 0:
            return n
        n += 1


class Usage:
    def __init__(self, maxrss_kib, utime, stime):
        self.ru_maxrss, self.ru_utime, self.ru_stime = maxrss_kib, utime, stime


class Runner:
    """Runs runtime commands through bench/spawn.c (see there why) and
    measures them: wall time around vfork()+wait4(), and wait4()'s rusage
    (ru_maxrss is the peak RSS of the runtime process or of a descendant it
    waited for)."""

    def __init__(self, workdir, src):
        exe = os.path.join(workdir, "spawn")
        subprocess.run(["gcc", "-O2", "-static", "-o", exe, src], check=True)
        self.errlog = os.path.join(workdir, "stderr.log")
        self.errfd = os.open(self.errlog, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o644)
        self.proc = subprocess.Popen([exe], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self.errfd, cwd="/",
                                     env={"PATH": PATH_ENV.split("=", 1)[1], "LANG": "C"})

    def run(self, name, argv, check=True):
        """Returns (seconds, Usage, error text or None)."""
        os.ftruncate(self.errfd, 0)
        req = f"{len(argv)}\0".encode() + b"".join(a.encode() + b"\0" for a in argv)
        self.proc.stdin.write(req)
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise BenchError("the launcher (spawn.c) died")
        rc, ns, rss, ut, st = (int(x) for x in line.split())
        err = None
        if rc != 0:
            with open(self.errlog, errors="replace") as f:
                err = f.read()[-2000:].strip()
            err = f"{' '.join(argv)}: exit {rc}: {err}"
            if check:
                raise BenchError(err)
        return ns / 1e9, Usage(rss, ut / 1e6, st / 1e6), err

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except Exception:
            self.proc.kill()


def wait_exit(pid, timeout=10.0):
    """Wait until pid (not necessarily our child) has exited, then reap it
    if it is ours."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        fd = None
    if fd is not None:
        try:
            r, _, _ = select.select([fd], [], [], timeout)
            if not r:
                raise BenchError(f"pid {pid} still running after {timeout}s")
        finally:
            os.close(fd)
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def read_pidfile(path):
    with open(path) as f:
        return int(f.read().strip())


def proc_status(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def meminfo(key):
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise BenchError("no " + key + " in /proc/meminfo")


# --------------------------------------------------------------------------
# cgroups


def cg_hierarchies():
    """Every cgroup mount under /sys/fs/cgroup (v1 controllers, named
    hierarchies, the unified one), or [/sys/fs/cgroup] on a pure v2 host."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            sep = parts.index("-")
            fstype, mnt = parts[sep + 1], parts[4]
            if fstype in ("cgroup", "cgroup2") and (mnt == CG or mnt.startswith(CG + "/")):
                out.append(mnt)
    return sorted(set(out))


def cg_setup(runtimes):
    for h in cg_hierarchies():
        for sub in [CGPARENT] + [f"{CGPARENT}/{rt}" for rt in runtimes]:
            d = os.path.join(h, sub)
            os.makedirs(d, exist_ok=True)
            if os.path.exists(os.path.join(d, "cpuset.cpus")) and h != CG + "/unified":
                # a v1 cpuset starts empty: copy the parent's cpus and mems
                for k in ("cpuset.cpus", "cpuset.mems"):
                    with open(os.path.join(os.path.dirname(d), k)) as f:
                        v = f.read().strip()
                    with open(os.path.join(d, k), "w") as f:
                        f.write(v)


def cg_dirs_under(sub):
    """Every cgroup directory strictly below CGPARENT/sub (sub may be '')."""
    out = []
    for h in cg_hierarchies():
        top = os.path.join(h, CGPARENT, sub) if sub else os.path.join(h, CGPARENT)
        if not os.path.isdir(top):
            continue
        for d, dirs, _ in os.walk(top):
            for x in dirs:
                out.append(os.path.join(d, x))
    return out


def cg_procs(d):
    try:
        with open(os.path.join(d, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]
    except OSError:
        return []


def cg_sweep(remove_parent=True):
    """SIGKILL whatever is left in /vessel-bench cgroups (all started by the
    bench), then remove them bottom-up.  Returns what had to be done."""
    report = []
    tops = [os.path.join(h, CGPARENT) for h in cg_hierarchies()]
    tops = [t for t in tops if os.path.isdir(t)]
    killed = set()
    for t in tops:
        for d, _, _ in os.walk(t):
            if os.path.exists(os.path.join(d, "freezer.state")):
                try:
                    with open(os.path.join(d, "freezer.state"), "w") as f:
                        f.write("THAWED")
                except OSError:
                    pass
            for p in cg_procs(d):
                if p in killed or p == os.getpid():
                    continue
                try:
                    os.kill(p, signal.SIGKILL)
                    killed.add(p)
                except ProcessLookupError:
                    pass
    if killed:
        report.append(f"killed {len(killed)} processes left in /{CGPARENT} cgroups")
    removed, failed = 0, []
    for t in tops:
        dirs = [d for d, _, _ in os.walk(t)]
        for d in sorted(dirs, key=len, reverse=True):
            if d == t and not remove_parent:
                continue
            for _ in range(100):
                try:
                    os.rmdir(d)
                    removed += 1
                    break
                except FileNotFoundError:
                    break
                except OSError as e:
                    if e.errno != errno.EBUSY:
                        failed.append(f"{d}: {e.strerror}")
                        break
                    reap_all()
                    time.sleep(0.02)
            else:
                failed.append(f"{d}: still busy")
    if failed:
        report.append(f"could not remove {len(failed)} cgroups: " + "; ".join(failed[:5]))
    return report


def marker_sweep(token):
    """SIGKILL every process whose environment carries VESSEL_BENCH=token:
    container processes of this run, even those no runtime put in a cgroup."""
    needle = ("VESSEL_BENCH=" + token).encode()
    killed = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) == os.getpid():
            continue
        try:
            with open(f"/proc/{p}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if needle in env:
            try:
                os.kill(int(p), signal.SIGKILL)
                killed.append(int(p))
            except ProcessLookupError:
                pass
    return killed


# --------------------------------------------------------------------------
# statistics and output


def pct(xs, q):
    s = sorted(xs)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def med(xs):
    return pct(xs, 0.5)


def fmt_ms(x):
    return f"{x * 1000:.2f}"


def ratio(a, b):
    if not b or b != b or a != a:
        return "n/a"
    return f"{a / b:.2f}"


# --------------------------------------------------------------------------
# the benchmark


class Bench:
    def __init__(self, args):
        self.args = args
        self.token = args.token
        self.rts = {}    # name -> binary
        self.flags = {}  # name -> global options
        known = {"vessel": (args.vessel, []),
                 "crun": (shutil.which("crun"), []),
                 "runc": (shutil.which("runc"), []),
                 # crun doing no cgroup work at all: the like-for-like
                 # reference while a runtime under test has no cgroup manager
                 "crun-nocg": (shutil.which("crun"), ["--cgroup-manager=disabled"])}
        for name in args.runtimes.split(","):
            path, flags = known.get(name, (None, None))
            if not path:
                raise BenchError(f"runtime {name} unknown or not found")
            self.rts[name] = os.path.realpath(path)
            self.flags[name] = flags
        self.names = list(self.rts)
        self.work = args.workdir
        self.created = {n: set() for n in self.names}  # ids that may exist
        self.results = {}      # row -> rt -> list of seconds
        self.extra = {}        # misc measurements
        self.notes = []
        self.hidden_controllers = False
        self.mounted_tmpfs = False

    # -- setup --------------------------------------------------------------

    def root(self, rt):
        return os.path.join(self.work, "root", rt)

    def cmd(self, rt, *a):
        return [self.rts[rt], "--root", self.root(rt)] + self.flags[rt] + [str(x) for x in a]

    def setup(self):
        if os.readlink("/proc/self/ns/mnt") == self.args.host_mntns:
            raise BenchError("not in a private mount namespace: run through bench.sh "
                             "(unshare -m --propagation private)")
        os.makedirs(self.work, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0711,size=2g", "vessel-bench", self.work],
                       check=True)
        self.mounted_tmpfs = True
        # crun refuses the hybrid layout while cgroup2's cgroup.controllers is
        # non-empty: hide it for everybody, in this namespace only.
        try:
            with open(UNIFIED_CONTROLLERS) as f:
                ctl = f.read().strip()
        except FileNotFoundError:
            ctl = ""
        if ctl and os.path.ismount(CG + "/unified"):
            empty = os.path.join(self.work, "empty")
            open(empty, "w").close()
            subprocess.run(["mount", "--bind", empty, UNIFIED_CONTROLLERS], check=True)
            self.hidden_controllers = True
        set_subreaper()
        self.runner = Runner(self.work, os.path.join(os.path.dirname(os.path.abspath(__file__)), "spawn.c"))
        for rt in self.names:
            os.makedirs(self.root(rt), exist_ok=True)
        bundle = os.path.join(self.work, "image")
        subprocess.run([self.args.mkbundle, bundle], check=True)
        self.rootfs = os.path.join(bundle, "rootfs")
        cg_setup(self.names)
        self.setup_migrator()
        # the floor of ru_maxrss: a vfork()ed child starts on the launcher's memory
        for _ in range(3):
            self.runner.run("floor", ["/bin/true"])
        self.extra["floor_rss"] = (proc_status(self.runner.proc.pid, "VmHWM") or 0) * 1024
        with open(PODMAN_SECCOMP) as f:
            self.seccomp_profile = json.load(f)

    def bundle(self, rt, _row, cid, args, podman=False, tweak=None):
        d = os.path.join(self.work, "bundles", rt, cid)
        os.makedirs(d, exist_ok=True)
        cgp = f"/{CGPARENT}/{rt}/{cid}"
        if podman:
            cfg = podman_config(self.rootfs, args, cgp, self.token, self.seccomp_profile)
        else:
            cfg = base_config(self.rootfs, args, cgp, self.token)
        if tweak:
            tweak(cfg)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(cfg, f)
        return d

    # -- the kernel's cgroup-migration grace period ---------------------------
    #
    # Moving a process between cgroups (writing cgroup.procs) takes the
    # global cgroup_threadgroup_rwsem for writing.  When no migration happened
    # on the host in the last few tens of milliseconds that waits for an RCU
    # grace period (5-18 ms measured on the development VM, more than a whole
    # container start); a migration shortly after another one is nearly free.
    # Left alone, a runtime would inherit that state from whichever runtime
    # ran just before it (crun-nocg, which migrates nothing, always leaves the
    # next one cold), or from when in its own sequence it migrates.  So the
    # bench fixes the state for everybody:
    #   hot  (default): a small process of the bench's moves itself between two
    #        cgroups every 2 ms for the whole run, so every runtime's
    #        migrations are on the fast path: a busy host, and the runtime's
    #        own work;
    #   cold (the *-cold rows): that process is stopped and the bench idles
    #        before every command, so every runtime pays one grace period: the
    #        first container on an idle host.

    MIGRATOR = (
        "import os, sys, time\n"
        "a, b = sys.argv[1], sys.argv[2]\n"
        "while True:\n"
        "    for d in (a, b):\n"
        "        with open(d, 'w') as f:\n"
        "            f.write('0')\n"
        "        time.sleep(0.002)\n")

    def setup_migrator(self):
        self.migrator = None
        if self.args.rcu != "hot":
            return
        hs = cg_hierarchies()
        pick = None
        for want in ("pids", "freezer", "systemd", "unified"):
            pick = next((h for h in hs if os.path.basename(h) == want), None)
            if pick:
                break
        if not pick:
            pick = next((h for h in hs if not os.path.exists(os.path.join(h, "cpuset.cpus"))), None)
        if not pick:
            return
        dirs = [os.path.join(pick, CGPARENT, x) for x in ("migrate-a", "migrate-b")]
        for d in dirs:
            os.makedirs(d, exist_ok=True)
        env = {"PATH": PATH_ENV.split("=", 1)[1], "VESSEL_BENCH": self.token}
        self.migrator = subprocess.Popen(
            [sys.executable, "-c", self.MIGRATOR] + [os.path.join(d, "cgroup.procs") for d in dirs],
            env=env)
        time.sleep(0.1)

    def pause_migrator(self, pause):
        if self.migrator:
            os.kill(self.migrator.pid, signal.SIGSTOP if pause else signal.SIGCONT)

    def timed(self, rt, argv, check=True, cold=False):
        if cold:
            time.sleep(self.args.cold_idle)
        return self.runner.run(rt, argv, check)

    # -- rows ---------------------------------------------------------------

    def order(self, i):
        k = i % len(self.names)
        return self.names[k:] + self.names[:k]

    def record(self, row, rt, v):
        self.results.setdefault(row, {n: [] for n in self.names})[rt].append(v)

    def clear_caches(self, rt, root=None):
        """Remove what a runtime keeps under its --root besides containers
        (hidden entries: vessel's .seccomp-cache, crun's .cache), so that the
        next command works as the first one with this config would."""
        root = root or self.root(rt)
        for e in os.listdir(root):
            if e.startswith("."):
                p = os.path.join(root, e)
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    os.unlink(p)

    def row_run(self, row, podman, cold=False, nocache=False):
        if nocache:
            return self._row_run(row, podman, False, nocache=True)
        if cold:
            self.pause_migrator(True)
            try:
                return self._row_run(row, podman, cold)
            finally:
                self.pause_migrator(False)
        return self._row_run(row, podman, cold)

    def _row_run(self, row, podman, cold, nocache=False):
        n = min(self.args.n, self.args.cold_n) if (cold or nocache) else self.args.n
        bundles = {rt: self.bundle(rt, row, "run-" + row, ["/bin/true"], podman) for rt in self.names}
        for i in range(self.args.warmup + n):
            for rt in self.order(i):
                cid = "run-" + row
                if nocache:
                    self.clear_caches(rt)
                self.created[rt].add(cid)
                dt, ru, _ = self.timed(rt, self.cmd(rt, "run", "--bundle", bundles[rt], cid), cold=cold)
                self.created[rt].discard(cid)
                reap_all()
                if i >= self.args.warmup:
                    self.record(row, rt, dt)
                    self.record(row + ".rss", rt, ru.ru_maxrss * 1024)
                    self.record(row + ".cpu", rt, ru.ru_utime + ru.ru_stime)

    def row_lifecycle(self):
        n = self.args.n
        bundles = {rt: self.bundle(rt, "life", "life", ["/bin/true"]) for rt in self.names}
        cg_checked = set()
        for i in range(self.args.warmup + n):
            for rt in self.order(i):
                cid = "life"
                pidfile = os.path.join(self.work, f"{rt}-life.pid")
                self.created[rt].add(cid)
                t1, ru, _ = self.timed(rt, self.cmd(rt, "create", "--bundle", bundles[rt],
                                                         "--pid-file", pidfile, cid))
                pid = read_pidfile(pidfile)
                rss_init = proc_status(pid, "VmRSS")
                if rt not in cg_checked:
                    self.check_cgroup(rt, pid, cid)
                    cg_checked.add(rt)
                t2, _, _ = self.timed(rt, self.cmd(rt, "start", cid))
                wait_exit(pid)
                t3, _, _ = self.timed(rt, self.cmd(rt, "delete", cid))
                self.created[rt].discard(cid)
                reap_all()
                if i >= self.args.warmup:
                    self.record("life", rt, t1 + t2 + t3)
                    self.record("life.create", rt, t1)
                    self.record("life.start", rt, t2)
                    self.record("life.delete", rt, t3)
                    self.record("create.rss", rt, ru.ru_maxrss * 1024)
                    if rss_init is not None:
                        self.record("init.rss", rt, rss_init * 1024)

    def check_cgroup(self, rt, pid, cid):
        """Which hierarchies the runtime put the container's init into."""
        want = f"/{CGPARENT}/{rt}/{cid}"
        total = inside = 0
        with open(f"/proc/{pid}/cgroup") as f:
            for line in f:
                total += 1
                if line.rstrip("\n").split(":", 2)[2] == want:
                    inside += 1
        self.extra.setdefault("cgroup", {})[rt] = (inside, total)

    def row_exec(self):
        n = self.args.n
        cid = "exec"
        for rt in self.names:
            b = self.bundle(rt, "exec", cid, ["/bin/sleep", "3600"])
            self.created[rt].add(cid)
            self.runner.run(rt, self.cmd(rt, "run", "-d", "--bundle", b, cid))
        for i in range(self.args.warmup + n):
            for rt in self.order(i):
                dt, ru, _ = self.timed(rt, self.cmd(rt, "exec", cid, "/bin/true"))
                reap_all()
                if i >= self.args.warmup:
                    self.record("exec", rt, dt)
                    self.record("exec.rss", rt, ru.ru_maxrss * 1024)
        for rt in self.names:
            self.runner.run(rt, self.cmd(rt, "delete", "--force", cid))
            self.created[rt].discard(cid)
        reap_all()

    # -- ablation: where the time of `run` goes -------------------------------

    ABLATION = [
        # key, label, podman config, no cgroups, tweak
        ("full", "full config (the run row)", False, False, None),
        ("nocg", "no cgroups (--cgroup-manager=disabled)", False, True, None),
        ("nonet", "... and no network namespace", False, True, "nonet"),
        ("nomounts", "... and only /proc mounted, no masked/readonly paths, rw root", False, True,
         "nomounts"),
        ("minimal", "... and only a mount namespace", False, True, "minimal"),
        ("podman-noseccomp", "podman caps, no_new_privs off, no seccomp", True, False, "noseccomp"),
        ("podman", "podman caps + seccomp (the seccomp row)", True, False, None),
        ("podman-nocache", "podman caps + seccomp, caches cleared before each run", True, False, None),
        ("podman-native", "podman caps + seccomp, native architecture only, caches cleared", True, False,
         "native"),
    ]

    @staticmethod
    def ablation_tweak(kind):
        def nonet(cfg):
            cfg["linux"]["namespaces"] = [n for n in cfg["linux"]["namespaces"] if n["type"] != "network"]

        def nomounts(cfg):
            nonet(cfg)
            cfg["mounts"] = [m for m in cfg["mounts"] if m["destination"] == "/proc"]
            cfg["linux"]["maskedPaths"] = []
            cfg["linux"]["readonlyPaths"] = []
            cfg["root"]["readonly"] = False

        def minimal(cfg):
            nomounts(cfg)
            cfg["linux"]["namespaces"] = [{"type": "mount"}]
            cfg["mounts"] = []
            cfg.pop("hostname", None)

        def noseccomp(cfg):
            del cfg["linux"]["seccomp"]

        def native(cfg):
            cfg["linux"]["seccomp"]["architectures"] = cfg["linux"]["seccomp"]["architectures"][:1]

        return {None: None, "nonet": nonet, "nomounts": nomounts, "minimal": minimal,
                "noseccomp": noseccomp, "native": native}[kind]

    def row_ablation(self):
        """Every variant and runtime in one interleaved loop (variant order
        rotating each round), so drift on the host hits all of them alike."""
        rts = [rt for rt in ("vessel", "crun") if rt in self.names]
        n = self.args.ablation_n
        res = {}
        jobs = []
        for rt in rts:
            jobs.append(("startup", rt, None, [self.rts[rt], "--version"]))
        for key, _, podman, nocg, tweak in self.ABLATION:
            cid = "abl-" + key
            for rt in rts:
                b = self.bundle(rt, "abl", cid, ["/bin/true"], podman, self.ablation_tweak(tweak))
                # the cache-clearing variants get a --root of their own, so
                # that clearing it does not cold-start the cached variant
                root = self.root(rt)
                if key in ("podman-nocache", "podman-native"):
                    root += "-nc"
                    os.makedirs(root, exist_ok=True)
                argv = [self.rts[rt], "--root", root]
                if nocg:
                    argv.append("--cgroup-manager=disabled")
                jobs.append((key, rt, cid, argv + ["run", "--bundle", b, cid]))
        for i in range(n + self.args.warmup):
            k = (i * 3) % len(jobs)
            for key, rt, cid, argv in jobs[k:] + jobs[:k]:
                if key in ("podman-nocache", "podman-native"):
                    self.clear_caches(rt, self.root(rt) + "-nc")
                if cid:
                    self.created[rt].add(cid)
                dt, _, _ = self.timed(rt, argv)
                if cid:
                    self.created[rt].discard(cid)
                reap_all()
                if i >= self.args.warmup:
                    res.setdefault(key, {}).setdefault(rt, []).append(dt)
        self.extra["ablation"] = res

    def report_ablation(self, L):
        res = self.extra.get("ablation")
        if not res:
            return
        rts = list(res["full"])
        m = {k: {rt: med(v[rt]) for rt in rts} for k, v in res.items()}
        L.append(f"## Where the time of `run` goes (ablation, medians of {self.args.ablation_n}, ms)")
        L.append("")
        L.append("Each line changes one thing in the config (or the cgroup manager) and runs "
                 "`run /bin/true` again, vessel and crun alternating; the differences are the "
                 "cost of what was removed, measured without a tracer.")
        L.append("")
        L.append("| config | " + " | ".join(rts) + " |")
        L.append("|---|" + "---|" * len(rts))
        L.append("| `--version` (process start, dynamic linking) | " +
                 " | ".join(fmt_ms(m["startup"][rt]) for rt in rts) + " |")
        for key, label, *_ in self.ABLATION:
            L.append(f"| {label} | " + " | ".join(fmt_ms(m[key][rt]) for rt in rts) + " |")
        L.append("")
        parts = [
            ("process start (exec, dynamic linking, exit)", lambda rt: m["startup"][rt]),
            ("container floor: config, state dir, clone (mount ns), pivot_root, exec, wait, delete",
             lambda rt: m["minimal"][rt] - m["startup"][rt]),
            ("pid, ipc, uts namespaces", lambda rt: m["nomounts"][rt] - m["minimal"][rt]),
            ("mounts (/dev, /dev/pts, /dev/shm, /dev/mqueue, /sys, /sys/fs/cgroup), masked and "
             "read-only paths, read-only root", lambda rt: m["nonet"][rt] - m["nomounts"][rt]),
            ("network namespace", lambda rt: m["nocg"][rt] - m["nonet"][rt]),
            ("cgroups (create, limits, enter, remove)", lambda rt: m["full"][rt] - m["nocg"][rt]),
            ("podman's capabilities, no_new_privs off", lambda rt: m["podman-noseccomp"][rt] - m["full"][rt]),
            ("seccomp: podman profile, 3 architectures, compiled (caches cleared)",
             lambda rt: m["podman-nocache"][rt] - m["podman-noseccomp"][rt]),
            ("seccomp: podman profile, native architecture only, compiled",
             lambda rt: m["podman-native"][rt] - m["podman-noseccomp"][rt]),
            ("seccomp: podman profile as run repeatedly (a runtime's cache may hit)",
             lambda rt: m["podman"][rt] - m["podman-noseccomp"][rt]),
        ]
        L.append("| cost of | " + " | ".join(rts) + " |")
        L.append("|---|" + "---|" * len(rts))
        for label, f in parts:
            L.append(f"| {label} | " + " | ".join(fmt_ms(f(rt)) for rt in rts) + " |")
        L.append("")

    # -- profile (bench.sh --profile) ----------------------------------------

    def profile(self, outdir):
        """strace and perf views of `run` in the bench's own setting, for
        bench/README.md.  Not part of `make bench`."""
        os.makedirs(outdir, exist_ok=True)
        rts = [rt for rt in ("vessel", "crun") if rt in self.names]
        for rt in rts:
            for tag, podman in (("run", False), ("seccomp", True)):
                cid = f"prof-{tag}"
                b = self.bundle(rt, "prof", cid, ["/bin/true"], podman)
                argv = self.cmd(rt, "run", "--bundle", b, cid)
                base = os.path.join(outdir, f"{rt}-{tag}")
                # one timeline (strace slows every syscall down ~10x: read it
                # for the order and the waits, not for the durations)
                subprocess.run(["strace", "-f", "-ttt", "-T", "-o", base + ".strace"] + argv,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                with open(base + ".strace") as f:
                    lines = f.read().splitlines()
                t0 = float(lines[0].split()[1])
                with open(base + ".timeline", "w") as f:
                    for l in lines:
                        p = l.split(None, 2)
                        f.write(f"{(float(p[1]) - t0) * 1000:8.2f} {p[0]} {p[2] if len(p) > 2 else ''}\n")
                os.unlink(base + ".strace")
                subprocess.run(["strace", "-f", "-c", "-S", "time", "-o", base + ".strace-c"] + argv,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if shutil.which("perf"):
                    loop = os.path.join(self.work, f"loop-{rt}-{tag}.sh")
                    with open(loop, "w") as f:
                        f.write("#!/bin/sh\nfor i in $(seq 100); do " +
                                " ".join(argv) + " || exit 1; done\n")
                    os.chmod(loop, 0o755)
                    data = os.path.join(self.work, f"perf-{rt}-{tag}.data")
                    subprocess.run(["perf", "record", "-q", "-F", "20000", "-g", "-e", "cpu-clock",
                                    "-o", data, loop], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    comm = os.path.basename(self.rts[rt])
                    with open(base + ".perf", "w") as f:
                        for sort, extra in (("comm,dso", ["--no-children"]),
                                            ("sym", ["--children", "--comm", comm])):
                            out = subprocess.run(
                                ["perf", "report", "-i", data, "--sort", sort,
                                 "--stdio", "-g", "none"] + extra,
                                capture_output=True, text=True).stdout
                            f.write("\n".join(l for l in out.splitlines()[:80]) + "\n\n")
                    os.unlink(data)
                print(f"bench: profile: {base}.*", flush=True)

    # -- scale --------------------------------------------------------------

    def row_scale(self, rt):
        count = self.args.scale
        ids = [f"s{i:05d}" for i in range(count)]
        base = os.path.join(self.work, "scale", rt)
        bundles = {}
        for cid in ids:
            d = os.path.join(base, cid)
            os.makedirs(d)
            cfg = base_config(self.rootfs, ["/bin/sleep", "3600"], f"/{CGPARENT}/{rt}/{cid}", self.token)
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(cfg, f)
            bundles[cid] = d
        res = {"count": count, "fail": {"create": 0, "start": 0, "delete": 0}, "errors": []}
        mounts0 = self.mount_list()
        reap_all()
        # Memory accounting: the launcher (and so every runtime command and
        # every container process until a runtime moves it) is charged to the
        # memory cgroup /vessel-bench/RT/driver; runtimes that use cgroups put
        # their containers in /vessel-bench/RT/ID.  The hierarchical usage of
        # /vessel-bench/RT is then everything creating the containers cost,
        # kernel objects and tmpfs state included, for every runtime alike.
        memcg = os.path.join(CG, "memory", CGPARENT, rt)
        driver = os.path.join(memcg, "driver")
        orig = None
        if os.path.isdir(memcg):
            os.makedirs(driver, exist_ok=True)
            with open(f"/proc/{self.runner.proc.pid}/cgroup") as f:
                for line in f:
                    h, ctl, path = line.rstrip("\n").split(":", 2)
                    if "memory" in ctl.split(","):
                        orig = os.path.join(CG, "memory", path.lstrip("/"))
            with open(os.path.join(driver, "cgroup.procs"), "w") as f:
                f.write(str(self.runner.proc.pid))

        def memcg_usage():
            try:
                with open(os.path.join(memcg, "memory.usage_in_bytes")) as f:
                    return int(f.read())
            except OSError:
                return None

        time.sleep(1)
        mem0 = meminfo("MemAvailable")
        cg0 = memcg_usage()

        def phase(name, argv_of):
            t0 = time.perf_counter()
            for cid in ids:
                _, _, err = self.runner.run(rt, argv_of(cid), check=False)
                if err:
                    res["fail"][name] += 1
                    if len(res["errors"]) < 5:
                        res["errors"].append(err)
            res[name] = time.perf_counter() - t0

        for cid in ids:
            self.created[rt].add(cid)
        phase("create", lambda cid: self.cmd(rt, "create", "--bundle", bundles[cid],
                                              "--pid-file", os.path.join(bundles[cid], "pid"), cid))
        pids = {}
        for cid in ids:
            try:
                pids[cid] = read_pidfile(os.path.join(bundles[cid], "pid"))
            except (OSError, ValueError):
                pass
        res["mem_created"] = mem0 - meminfo("MemAvailable")
        u = memcg_usage()
        res["cg_created"] = None if u is None or cg0 is None else u - cg0
        phase("start", lambda cid: self.cmd(rt, "start", cid))
        # every init must now be running sleep
        deadline = time.time() + 15
        while True:
            running = 0
            for p in pids.values():
                try:
                    with open(f"/proc/{p}/comm") as f:
                        running += f.read().strip() == "sleep"
                except OSError:
                    pass
            if running == count or time.time() > deadline:
                break
            time.sleep(0.1)
        res["running"] = running
        time.sleep(1)
        res["mem_started"] = mem0 - meminfo("MemAvailable")
        res["rss_sum"] = sum((proc_status(p, "VmRSS") or 0) * 1024 for p in pids.values())
        u = memcg_usage()
        res["cg_started"] = None if u is None or cg0 is None else u - cg0
        phase("delete", lambda cid: self.cmd(rt, "delete", "--force", cid))
        for cid in ids:
            self.created[rt].discard(cid)
        # leaks
        time.sleep(0.5)
        reap_all()
        leaks = []
        left = [e for e in os.listdir(self.root(rt)) if not e.startswith(".")]
        if left:
            leaks.append(f"{len(left)} entries left in --root ({', '.join(sorted(left)[:3])} ...)")
        alive = []
        for p in pids.values():
            try:
                with open(f"/proc/{p}/stat") as f:
                    st = f.read().rsplit(")", 1)[1].split()[0]
                if st != "Z":
                    alive.append(p)
            except OSError:
                pass
        if alive:
            leaks.append(f"{len(alive)} container processes still alive")
        cgs = [d for d in cg_dirs_under(rt) if d != driver]
        if cgs:
            leaks.append(f"{len(cgs)} cgroups left under /{CGPARENT}/{rt} (e.g. {cgs[0]})")
        procs = [p for d in [os.path.join(h, CGPARENT, rt) for h in cg_hierarchies()] for p in cg_procs(d)
                 if p != self.runner.proc.pid]
        if procs:
            leaks.append(f"{len(procs)} processes left in /{CGPARENT}/{rt}")
        # (mounts can also disappear: a directory removed on the host takes
        # the copies of mounts on it in every namespace with it)
        new = [x for x in self.mount_list() if x not in mounts0]
        if new:
            leaks.append(f"{len(new)} new mounts in the bench's namespace: {new[:3]}")
        res["leaks"] = leaks
        time.sleep(1)
        res["mem_after"] = mem0 - meminfo("MemAvailable")
        u = memcg_usage()
        res["cg_after"] = None if u is None or cg0 is None else u - cg0
        if orig:
            with open(os.path.join(orig, "cgroup.procs"), "w") as f:
                f.write(str(self.runner.proc.pid))
            try:
                os.rmdir(driver)
            except OSError:
                pass
        shutil.rmtree(base, ignore_errors=True)
        self.extra.setdefault("scale", {})[rt] = res

    def mount_list(self):
        """The bench namespace's mounts (mount point and source), to compare."""
        with open("/proc/self/mountinfo") as f:
            return sorted(" ".join(l.split()[4:5] + l.split()[l.split().index("-") + 1:][:2]) for l in f)

    # -- whole run ----------------------------------------------------------

    def check_leaks_micro(self):
        out = {}
        for rt in self.names:
            left = [e for e in os.listdir(self.root(rt)) if not e.startswith(".")]
            cgs = cg_dirs_under(rt)
            out[rt] = (left, cgs)
        self.extra["micro_leaks"] = out

    def run(self):
        t0 = time.time()
        self.setup()
        self.extra["load_before"] = open("/proc/loadavg").read().split()[:3]
        self.extra["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        rows = self.args.rows.split(",")
        steps = [("run", lambda: self.row_run("run", False)),
                 ("run-cold", lambda: self.row_run("run-cold", False, cold=True)),
                 ("life", self.row_lifecycle),
                 ("exec", self.row_exec),
                 ("seccomp", lambda: self.row_run("seccomp", True)),
                 ("seccomp-cold", lambda: self.row_run("seccomp-cold", True, cold=True)),
                 ("seccomp-nocache", lambda: self.row_run("seccomp-nocache", True, nocache=True)),
                 ("ablation", self.row_ablation)]
        for name, fn in steps:
            if name in rows:
                t = time.time()
                count = {"run-cold": min(self.args.n, self.args.cold_n),
                         "seccomp-nocache": min(self.args.n, self.args.cold_n),
                         "seccomp-cold": min(self.args.n, self.args.cold_n),
                         "ablation": self.args.ablation_n}.get(name, self.args.n)
                print(f"bench: {name} x{count} per runtime ...", flush=True)
                fn()
                print(f"bench:   {time.time() - t:.0f}s", flush=True)
        self.check_leaks_micro()
        if "scale" in rows:
            for rt in self.args.scale_runtimes.split(","):
                if rt not in self.names:
                    continue
                t = time.time()
                print(f"bench: scale {rt} x{self.args.scale} ...", flush=True)
                self.row_scale(rt)
                print(f"bench:   {time.time() - t:.0f}s", flush=True)
        self.extra["load_after"] = open("/proc/loadavg").read().split()[:3]
        self.extra["elapsed"] = time.time() - t0

    def cleanup(self):
        report = []
        if hasattr(self, "runner"):
            for rt in self.names:
                for root in (self.root(rt), self.root(rt) + "-nc"):
                    if not os.path.isdir(root):
                        continue
                    base = [self.rts[rt], "--root", root] + self.flags[rt]
                    ids = set(self.created[rt])
                    try:
                        out = subprocess.run(base + ["list", "-q"], capture_output=True, text=True,
                                             timeout=60).stdout
                        ids |= {l.strip() for l in out.splitlines() if l.strip()}
                    except Exception:
                        pass
                    for cid in sorted(ids):
                        subprocess.run(base + ["delete", "--force", cid], capture_output=True, timeout=60)
        if hasattr(self, "runner"):
            self.runner.close()
        if getattr(self, "migrator", None):
            self.migrator.kill()
            self.migrator.wait()
        killed = marker_sweep(self.token)
        if killed:
            report.append(f"killed {len(killed)} container processes by marker")
        report += cg_sweep()
        time.sleep(0.1)
        reap_all()
        if self.hidden_controllers:
            subprocess.run(["umount", UNIFIED_CONTROLLERS])
        if self.mounted_tmpfs:
            subprocess.run(["umount", "-l", self.work])
        try:
            os.rmdir(self.work)
        except OSError:
            pass
        return report

    # -- report -------------------------------------------------------------

    def versions(self):
        out = {}
        for rt, path in self.rts.items():
            try:
                v = subprocess.run([path, "--version"], capture_output=True, text=True).stdout
                out[rt] = " ".join(l.strip() for l in v.splitlines()[:2])
            except OSError as e:
                out[rt] = str(e)
        return out

    def binary_info(self, path):
        libs = []
        try:
            out = subprocess.run(["ldd", path], capture_output=True, text=True).stdout
            for l in out.splitlines():
                l = l.strip()
                if "=>" in l:
                    name, rest = l.split("=>", 1)
                    p = rest.split("(")[0].strip()
                    libs.append((name.strip(), os.path.getsize(os.path.realpath(p)) if p else 0))
        except OSError:
            pass
        return os.path.getsize(path), libs

    def report(self):
        names = self.names
        R = self.results
        L = []
        cpu = os.cpu_count()
        model = ""
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
        vers = self.versions()
        L.append("# vessel vs crun vs runc: benchmark results")
        L.append("")
        L.append("Produced by `make bench` (bench/bench.sh, bench/bench.py); see bench/README.md "
                 "for the method and for where vessel's time goes.  The manager rows (vesselctl "
                 "against LXC 5) are in [results-manager.md](results-manager.md).")
        L.append("")
        L.append(f"- date: {self.extra['date']}")
        L.append(f"- kernel: {platform.release()} ({platform.machine()})")
        L.append(f"- CPUs: {cpu} x {model}")
        L.append(f"- load average (1/5/15 min): {' '.join(self.extra['load_before'])} before, "
                 f"{' '.join(self.extra['load_after'])} after")
        L.append(f"- memory: {meminfo('MemTotal') // 2**20} MiB")
        repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        for rt in names:
            path = self.rts[rt]
            if path.startswith(repo + "/"):
                path = os.path.relpath(path, repo)
            L.append(f"- {rt}: `{' '.join([path] + self.flags[rt])}`: {vers[rt]}")
        try:
            desc = subprocess.run(["git", "-C", repo, "describe", "--always", "--dirty"],
                                  capture_output=True, text=True).stdout.strip()
        except OSError:
            desc = ""
        if desc:
            L.append(f"- source tree of this bench: {desc}")
        L.append(f"- cgroup layout: {'hybrid' if os.path.isdir(CG + '/unified') else 'v1/v2'}; "
                 f"cgroup2 `cgroup.controllers` "
                 f"{'hidden (bind-mounted empty file, private mount namespace, all runtimes)' if self.hidden_controllers else 'left as is'}")
        L.append(f"- runs per row: {self.args.n} (after {self.args.warmup} warm-up runs), "
                 f"runtimes interleaved (A B C, B C A, C A B, ...); state roots and bundle on tmpfs")
        L.append(f"- total bench time: {self.extra['elapsed']:.0f} s")
        L.append(f"- config: `runc spec` without a terminal or ambient capabilities, read-only "
                 f"busybox rootfs, pid/net/ipc/uts/mount namespaces, cgroupsPath "
                 f"`/{CGPARENT}/RUNTIME/ID`, devices deny-all, pids.limit 2048; seccomp row: "
                 f"podman's 11 default capabilities, noNewPrivileges false and "
                 f"{PODMAN_SECCOMP} converted as podman converts it")
        L.append("")
        cgi = self.extra.get("cgroup", {})
        if cgi:
            L.append("cgroups: hierarchies in which the runtime placed the container's init "
                     "(`/vessel-bench/RUNTIME/ID`): " +
                     ", ".join(f"{rt} {a}/{b}" for rt, (a, b) in cgi.items()) + ".")
            missing = [rt for rt, (a, b) in cgi.items() if a == 0 and rt != "crun-nocg"]
            if missing:
                L.append("")
                L.append(f"**Not like for like:** {', '.join(missing)} did not put the container in "
                         "any cgroup (no cgroup manager in this build), so "
                         "its times below do not include the cgroup work (mkdir, limits, "
                         "cgroup.procs on every hierarchy; rmdir on delete) that crun and runc do."
                         + (" `crun-nocg` (crun --cgroup-manager=disabled: no cgroup work "
                            "either) is the like-for-like reference." if "crun-nocg" in names else ""))
            L.append("")

        # main table
        rows = [("run", "run /bin/true", "time"),
                ("run-cold", "run /bin/true, cold (idle before)", "time"),
                ("life", "create + start + delete", "time"),
                ("life.create", "  create", "time"),
                ("life.start", "  start", "time"),
                ("life.delete", "  delete", "time"),
                ("exec", "exec /bin/true (into sleep)", "time"),
                ("seccomp", "run, podman seccomp + caps", "time"),
                ("seccomp-cold", "run, podman seccomp + caps, cold", "time"),
                ("seccomp-nocache", "run, podman seccomp + caps, caches cleared", "time"),
                ("run.cpu", "run: CPU time (user+sys)", "time"),
                ("seccomp.cpu", "run seccomp: CPU time", "time"),
                ("run.rss", "peak RSS, run (incl. reaped init)", "mem"),
                ("seccomp.rss", "peak RSS, run seccomp", "mem"),
                ("create.rss", "peak RSS, create (runtime alone)", "mem"),
                ("exec.rss", "peak RSS, exec", "mem"),
                ("init.rss", "RSS of a created init (waiting)", "mem")]
        if not any(k in R for k, _, _ in rows):
            rows = []
        hdr = "| | " + " | ".join(f"{rt} median | {rt} p90" for rt in names)
        others = [o for o in names if o != "vessel"]
        if "vessel" in names:
            hdr += " | " + " | ".join(f"vessel/{o}" for o in others)
        hdr += " |"
        if rows:
            L.append("## Times (ms) and memory (KiB): medians and p90")
            L.append("")
            L.append(hdr)
            L.append("|" + "---|" * (hdr.count("|") - 1))

        def cell(v, kind):
            if v != v:
                return "-"
            return fmt_ms(v) if kind == "time" else f"{v / 1024:.0f}"

        for key, label, kind in rows:
            if key not in R:
                continue
            line = f"| {label} | "
            line += " | ".join(f"{cell(med(R[key][rt]), kind)} | {cell(pct(R[key][rt], .9), kind)}"
                               for rt in names)
            if "vessel" in names:
                line += " | " + " | ".join(ratio(med(R[key]["vessel"]), med(R[key][o])) for o in others)
            L.append(line + " |")
        L.append("")
        L.append("Rows without \"cold\" are measured *hot*: a process of the bench moves "
                 "itself between two cgroups every 2 ms throughout, so no runtime waits for the "
                 "RCU grace period that the first cgroup migration after an idle spell costs "
                 "(5-18 ms here; see bench/README.md).  *Cold* rows stop that process and idle "
                 f"{self.args.cold_idle * 1000:.0f} ms before every command, so every runtime "
                 "pays it once per container, as the first container on an idle host does.")
        L.append("")
        L.append("\"Caches cleared\": before every command the bench removes the hidden "
                 "entries of the runtime's --root (vessel's `.seccomp-cache`, crun's `.cache`), "
                 "so each run compiles the profile as the first container with it does; in "
                 "the other seccomp rows every run after the first may use a cached program.")
        L.append("")
        L.append("Time: wall clock from vfork() of the runtime command to its wait4(), "
                 "measured by the bench's static launcher (bench/spawn.c).  CPU time: ru_utime + "
                 "ru_stime of wait4() (includes waited-for descendants). "
                 "Peak RSS: ru_maxrss of wait4() on the runtime command, i.e. the largest "
                 "of the runtime process and every descendant it waited for: for `run` "
                 "that includes the container's init (a clone of the runtime before it "
                 "execs; for runc the re-executed `runc init`); for `create` the init is "
                 "not waited for, so it is the runtime process itself (plus helper "
                 "processes it reaps).  \"RSS of a created init\" is VmRSS of the "
                 "container's init while it waits for `start`.  Measurement floor: "
                 f"{self.extra.get('floor_rss', 0) / 1024:.0f} KiB (the launcher's own peak RSS, "
                 "which a vfork()ed child starts with).")
        L.append("")

        # targets
        if "vessel" in names and "crun" in names:
            L.append("## Targets (issue 6)")
            L.append("")
            nocg = "crun-nocg" in names
            L.append("| target | measured (vessel vs crun) | met |" +
                     (" vs crun-nocg (no cgroups) |" if nocg else ""))
            L.append("|---|---|---|" + ("---|" if nocg else ""))

            def verdict(r, limit):
                return "yes" if r <= limit else f"**no** ({(r / limit - 1) * 100:.0f}% over)"

            def tgt(label, key, limit, kind="time"):
                if key not in R:
                    return
                v, c = med(R[key]["vessel"]), med(R[key]["crun"])
                r = v / c
                m = (f"{fmt_ms(v)} vs {fmt_ms(c)} ms" if kind == "time"
                     else f"{v / 1024:.0f} vs {c / 1024:.0f} KiB")
                line = f"| {label}: vessel <= {limit:.2f} x crun | {m} = {r:.2f} x | {verdict(r, limit)} |"
                if nocg:
                    c2 = med(R[key]["crun-nocg"])
                    line += f" {v / c2:.2f} x: {verdict(v / c2, limit)} |"
                L.append(line)

            tgt("run /bin/true median", "run", 0.70)
            tgt("run /bin/true median, cold", "run-cold", 0.70)
            tgt("exec median", "exec", 0.70)
            tgt("run with seccomp median", "seccomp", 0.70)
            tgt("run with seccomp median, cold", "seccomp-cold", 0.70)
            tgt("run with seccomp median, caches cleared", "seccomp-nocache", 0.70)
            tgt("peak RSS (run)", "run.rss", 1.0, "mem")
            tgt("peak RSS (create)", "create.rss", 1.0, "mem")
            sc = self.extra.get("scale", {}).get("vessel")
            if sc:
                ok = not sc["leaks"] and not any(sc["fail"].values()) and sc["running"] == sc["count"]
                L.append(f"| {sc['count']} containers, no failures, no leaks | "
                         f"failures {sum(sc['fail'].values())}, running {sc['running']}, "
                         f"leaks {len(sc['leaks'])} | {'yes' if ok else '**no**'} |" +
                         (" |" if nocg else ""))
            L.append("")

        self.report_ablation(L)

        # binaries
        L.append("## Binaries")
        L.append("")
        L.append("| runtime | binary | shared libraries (size) |")
        L.append("|---|---|---|")
        for rt in names:
            if rt == "crun-nocg":
                continue
            size, libs = self.binary_info(self.rts[rt])
            libtxt = ", ".join(f"{n} ({s // 1024} KiB)" for n, s in libs)
            L.append(f"| {rt} | {size // 1024} KiB | {len(libs)}: {libtxt} |")
        L.append("")

        # scale
        sc = self.extra.get("scale", {})
        if sc:
            n0 = next(iter(sc.values()))["count"]
            L.append(f"## Scale: {n0} containers (`sleep 3600`), one at a time")
            L.append("")
            L.append("| | " + " | ".join(sc) + " |")
            L.append("|---|" + "---|" * len(sc))

            def srow(label, f):
                L.append(f"| {label} | " + " | ".join(f(r) for r in sc.values()) + " |")

            srow("create all (s)", lambda r: f"{r['create']:.1f}")
            srow("start all (s)", lambda r: f"{r['start']:.1f}")
            srow("delete --force all (s)", lambda r: f"{r['delete']:.1f}")
            srow("total (s)", lambda r: f"{r['create'] + r['start'] + r['delete']:.1f}")
            srow("per container create+start+delete (ms)",
                 lambda r: f"{(r['create'] + r['start'] + r['delete']) / r['count'] * 1000:.1f}")
            srow("failures create/start/delete",
                 lambda r: "/".join(str(r["fail"][k]) for k in ("create", "start", "delete")))
            srow("running after start", lambda r: f"{r['running']}/{r['count']}")
            def kib(v, r):
                return "n/a" if v is None else f"{v / r['count'] / 1024:.0f}"

            srow("memory per created container (memory cgroup, KiB)", lambda r: kib(r["cg_created"], r))
            srow("memory per running container (memory cgroup, KiB)", lambda r: kib(r["cg_started"], r))
            srow("memory per running container (host MemAvailable, KiB)", lambda r: kib(r["mem_started"], r))
            srow("RSS of the container process (sleep), per container (KiB)",
                 lambda r: f"{r['rss_sum'] / r['count'] / 1024:.0f}")
            srow("still charged after delete (memory cgroup, MiB)",
                 lambda r: "n/a" if r["cg_after"] is None else f"{r['cg_after'] / 2**20:.1f}")
            srow("leaks (container state dirs, processes, cgroups, mounts)",
                 lambda r: "none" if not r["leaks"] else "; ".join(r["leaks"]))
            L.append("")
            errs = [(rt, e) for rt, r in sc.items() for e in r["errors"]]
            if errs:
                L.append("First errors:")
                L.append("")
                for rt, e in errs:
                    L.append(f"- {rt}: `{e[:300]}`")
                L.append("")
            L.append("Memory cgroup: the bench's launcher runs in `/vessel-bench/RUNTIME/driver` "
                     "(memory controller), so every runtime command and every container process "
                     "is charged under `/vessel-bench/RUNTIME` whether or not the runtime moves it "
                     "to a cgroup of its own: the figure is the growth of that subtree's "
                     "`memory.usage_in_bytes` (user and kernel memory, tmpfs state) divided by "
                     "the count.  MemAvailable is host-wide and moves with anything else running "
                     "on the host.  RSS counts shared pages of busybox in every process.")
            L.append("")
        ml = self.extra.get("micro_leaks", {})
        bad = {rt: v for rt, v in ml.items() if v[0] or v[1]}
        if bad:
            L.append("Left behind after the timing rows: " +
                     "; ".join(f"{rt}: {len(v[0])} state entries, {len(v[1])} cgroups" for rt, v in bad.items()))
            L.append("")
        return "\n".join(L) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vessel", help="vessel binary")
    ap.add_argument("--runtimes", default="vessel,crun,runc,crun-nocg")
    ap.add_argument("--rows", default="run,run-cold,life,exec,seccomp,seccomp-cold,seccomp-nocache,"
                                      "ablation,scale")
    ap.add_argument("--rcu", choices=("hot", "asis"), default="hot",
                    help="keep the kernel's cgroup-migration fast path primed for every runtime "
                         "(see Bench.setup_migrator), or leave the kernel state alone")
    ap.add_argument("--ablation-n", type=int, default=100, help="runs per variant in the ablation row")
    ap.add_argument("--cold-n", type=int, default=100, help="runs per runtime in the run-cold row")
    ap.add_argument("--cold-idle", type=float, default=0.1, help="idle seconds before each run-cold command")
    ap.add_argument("-n", type=int, default=200, help="runs per row and runtime")
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--scale", type=int, default=1000, help="containers in the scale row")
    ap.add_argument("--scale-runtimes", default="vessel,crun,runc")
    ap.add_argument("--workdir", default=f"/run/vessel-bench.{os.getpid()}")
    ap.add_argument("--mkbundle", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                       "..", "scripts", "mkbundle.sh"))
    ap.add_argument("--token", default=f"{os.getpid()}-{int(time.time())}")
    ap.add_argument("--out", help="write the markdown report here")
    ap.add_argument("--host-mntns", required=False,
                    help="readlink /proc/self/ns/mnt taken before unshare: the bench refuses to "
                         "run in that namespace")
    ap.add_argument("--sweep", metavar="TOKEN", help="only kill leftovers of a run and remove its cgroups")
    ap.add_argument("--profile", metavar="DIR", help="write strace/perf profiles of `run` to DIR "
                                                      "instead of benchmarking")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("bench.py: run as root")
    if a.sweep:
        killed = marker_sweep(a.sweep)
        rep = cg_sweep()
        for r in ([f"killed {len(killed)} leftover container processes"] if killed else []) + rep:
            print("bench sweep: WARNING: " + r, file=sys.stderr)
        return 0
    if not a.vessel or not a.host_mntns:
        ap.error("--vessel and --host-mntns are required")

    def on_signal(sig, _):
        raise KeyboardInterrupt(f"signal {sig}")

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    b = Bench(a)
    ok = False
    try:
        if a.profile:
            b.setup()
            b.profile(os.path.abspath(a.profile))
        else:
            b.run()
        ok = True
    except BenchError as e:
        print(f"bench.py: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print("bench.py: interrupted", file=sys.stderr)
    finally:
        for r in b.cleanup():
            print("bench cleanup: WARNING: " + r, file=sys.stderr)
    if not ok:
        return 1
    if a.profile:
        return 0
    text = b.report()
    print()
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
        print(f"bench: wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
