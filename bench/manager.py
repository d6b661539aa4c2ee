#!/usr/bin/env python3
"""manager.py: vesselctl and LXC 5 side by side on one Debian image.

Run through bench/bench.sh (`make bench-manager`, or `make bench`, which
runs this after bench.py):

    python3 bench/manager.py --vesselctl PATH --tarball ROOTFS.tar ...

The same rootfs tarball is imported into a private vesselctl store (which
copies the image's rootfs for each instance) and unpacked once for LXC
(each LXC container gets its own copy of that tree, or an overlay on it
for the fifty of the list row).  The tools take turns in every row, the
order rotating each round, and the first rounds are dropped as warm-up:

- start to running: the start command (`vesselctl start`, `lxc-start -d`)
  and then `systemctl is-system-running` through the tool's own exec
  (`vesselctl exec`, `lxc-attach`) until it exits 0; systemd's own
  timestamps (UserspaceTimestampMonotonic, FinishTimestampMonotonic: the
  host's CLOCK_MONOTONIC, there is no time namespace) split that into the
  tool's part and systemd's userspace boot;
- exec: `true` through `vesselctl exec` and `lxc-attach`, with
  `nsenter --all` into the LXC container's init as the floor;
- stop: `vesselctl stop`, `lxc-stop` (Debian's config, so with the lxcfs
  package's hooks) and `lxc-stop` with those hooks cleared;
- with 50 instances of each tool running: `vesselctl list` against
  `lxc-ls -f`, and VmRSS/Pss of every `vesselctl-monitor` and
  `[lxc monitor]`.

Commands are run by bench/spawn.c (exact wall time, as in bench.py).
Cleanup (also on errors, Ctrl-C and SIGTERM): every vesselctl instance of
the private store is deleted with -f, every LXC container of the run is
killed with `lxc-stop -k`, what is left in the run's LXC cgroups is
killed and the cgroups removed, the work directory removed and
fs.inotify.max_user_instances (raised for the fifty) restored.
`manager.py --sweep WORKDIR` does the same from outside (bench.sh's EXIT
trap).
"""
import argparse
import datetime
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402  (Runner, statistics, BenchError)

CG = "/sys/fs/cgroup"
INOTIFY = "/proc/sys/fs/inotify/max_user_instances"
SYSTEMCTL = "/usr/bin/systemctl"
TRUE = "/usr/bin/true"
# the hooks Debian's lxcfs package adds to every container through
# /usr/share/lxc/config/common.conf.d/00-lxcfs.conf
LXCFS_CONF = "/usr/share/lxc/config/common.conf.d/00-lxcfs.conf"
DEBIAN_CONF = "/usr/share/lxc/config/debian.common.conf"
ALIAS = "bench-deb"
FINAL_STATES = ("running", "degraded", "maintenance", "stopping", "offline")
# spawn.c execs without a PATH search
LXC = {t: shutil.which(t) or "/usr/bin/" + t for t in ("lxc-start", "lxc-attach", "lxc-stop", "lxc-ls", "lxc-info")}


def ms(ns):
    return ns / 1e6


# --------------------------------------------------------------------------
# the tools


class Vesselctl:
    kind = "vesselctl"

    def __init__(self, name, exe, store):
        self.name, self.exe, self.store = name, exe, store

    def cmd(self, *a):
        return [self.exe, "--store", self.store] + list(a)

    def import_image(self, tarball, unified):
        extra = [] if unified else ["--arch", "x86_64"]
        subprocess.run(self.cmd("image", "import", tarball, *extra, "--alias", ALIAS),
                       check=True, stdout=subprocess.DEVNULL, cwd="/")

    def create(self, inst, **_):
        subprocess.run(self.cmd("init", ALIAS, inst), check=True, stdout=subprocess.DEVNULL, cwd="/")

    def launch_argv(self, inst):
        return self.cmd("launch", ALIAS, inst)

    def start(self, inst):
        return self.cmd("start", inst)

    def exec(self, inst, argv):
        return self.cmd("exec", inst, "--", *argv)

    def stop(self, inst):
        return self.cmd("stop", inst)

    def list(self):
        return self.cmd("list")

    def instances(self):
        r = subprocess.run(self.cmd("list", "-f", "csv", "-c", "n"), capture_output=True, text=True,
                           cwd="/", timeout=60)
        return [l.strip() for l in r.stdout.splitlines() if l.strip()]

    def running(self):
        r = subprocess.run(self.cmd("list", "-f", "csv", "-c", "s"), capture_output=True, text=True,
                           cwd="/", timeout=60)
        return sum(1 for l in r.stdout.splitlines() if l.strip() == "RUNNING")

    def monitors(self):
        """pids of the vesselctl-monitor processes of this store."""
        out = []
        for pid, argv in proc_cmdlines():
            if argv and os.path.basename(argv[0]) == "vesselctl-monitor" and \
                    "--store" in argv and argv[argv.index("--store") + 1:][:1] == [self.store]:
                out.append(pid)
        return out

    def cleanup(self):
        report = []
        if not os.path.isdir(self.store):
            return report
        try:
            names = self.instances()
        except Exception as e:  # a broken vesselctl: fall back to killing
            names = []
            report.append(f"{self.name}: list failed: {e}")
        for n in names:
            r = subprocess.run(self.cmd("delete", "-f", n), capture_output=True, text=True, cwd="/",
                               timeout=120)
            if r.returncode != 0:
                report.append(f"{self.name}: delete -f {n}: {r.stderr.strip()[:200]}")
        # what a failed delete left: the monitors and their instances' inits
        for pid in self.monitors():
            kill_tree(pid)
            report.append(f"{self.name}: killed a leftover monitor ({pid})")
        return report


class VesselctlPrivileged(Vesselctl):
    """The same store and image, the instance security.privileged=true: no
    user namespace, no idmapped rootfs.  Beside the default (unprivileged)
    one, it shows what the id range, the idmapped rootfs and the owned user
    namespace cost a start (issue 12: at most 10 %)."""

    def create(self, inst, **_):
        subprocess.run(self.cmd("init", ALIAS, inst, "-c", "security.privileged=true"), check=True,
                       stdout=subprocess.DEVNULL, cwd="/")

    def launch_argv(self, inst):
        return self.cmd("launch", ALIAS, inst, "-c", "security.privileged=true")


class Lxc:
    kind = "lxc"

    def __init__(self, name, lxcpath, cgparent, hooks, logdir):
        self.name, self.path, self.cgparent, self.hooks = name, lxcpath, cgparent, hooks
        self.logdir = logdir

    def config(self, inst, rootfs):
        L = [f"lxc.include = {DEBIAN_CONF}",
             "lxc.arch = linux64",
             f"lxc.uts.name = {inst}",
             f"lxc.rootfs.path = {rootfs}",
             # no network: the container has a network namespace with lo only
             "lxc.net.0.type = empty",
             # AppArmor is not enabled on this host; say so instead of
             # letting LXC probe
             "lxc.apparmor.profile = unconfined",
             # the run's own cgroup subtree, removed at the end
             f"lxc.cgroup.dir.container = {self.cgparent}/{inst}",
             f"lxc.cgroup.dir.monitor = {self.cgparent}/{inst}.monitor",
             f"lxc.log.file = {self.logdir}/{self.name}-{inst}.log",
             "lxc.log.level = ERROR"]
        if not self.hooks:
            # an empty value clears every hook of that type included so far
            L += ["lxc.hook.mount =", "lxc.hook.post-stop ="]
        return "\n".join(L) + "\n"

    def create(self, inst, rootfs_src, overlay=False):
        d = os.path.join(self.path, inst)
        os.makedirs(d)
        if overlay:
            root = f"overlay:{rootfs_src}:{d}/delta0"
        else:
            subprocess.run(["cp", "-a", "--reflink=auto", "--no-target-directory", rootfs_src,
                            os.path.join(d, "rootfs")], check=True)
            root = f"dir:{d}/rootfs"
        with open(os.path.join(d, "config"), "w") as f:
            f.write(self.config(inst, root))

    def start(self, inst):
        return [LXC["lxc-start"], "-P", self.path, "-n", inst, "-d"]

    launch_argv = start

    def exec(self, inst, argv):
        return [LXC["lxc-attach"], "-P", self.path, "-n", inst, "--", *argv]

    def stop(self, inst):
        return [LXC["lxc-stop"], "-P", self.path, "-n", inst]

    def list(self):
        return [LXC["lxc-ls"], "-P", self.path, "-f"]

    def init_pid(self, inst):
        r = subprocess.run([LXC["lxc-info"], "-P", self.path, "-n", inst, "-p", "-H"], capture_output=True,
                           text=True, cwd="/")
        return int(r.stdout.strip()) if r.stdout.strip().isdigit() else None

    def instances(self):
        if not os.path.isdir(self.path):
            return []
        return sorted(e for e in os.listdir(self.path) if os.path.exists(os.path.join(self.path, e, "config")))

    def running(self):
        r = subprocess.run([LXC["lxc-ls"], "-P", self.path, "--running", "-1"], capture_output=True, text=True,
                           cwd="/")
        return len(r.stdout.split())

    def monitors(self):
        out = []
        for pid, argv in proc_cmdlines():
            # the monitor renames itself: "[lxc monitor] LXCPATH NAME"
            if argv and argv[0].startswith("[lxc monitor] " + self.path + " "):
                out.append(pid)
        return out

    def cleanup(self):
        report = []
        for inst in self.instances():
            r = subprocess.run([LXC["lxc-stop"], "-P", self.path, "-n", inst, "-k"], capture_output=True,
                               text=True, cwd="/", timeout=60)
            if r.returncode != 0 and "not running" not in r.stderr:
                report.append(f"{self.name}: lxc-stop -k {inst}: {r.stderr.strip()[:200]}")
        for pid in self.monitors():
            kill_tree(pid)
            report.append(f"{self.name}: killed a leftover monitor ({pid})")
        return report


def proc_cmdlines():
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                raw = f.read()
        except OSError:
            continue
        argv = [a.decode(errors="replace") for a in raw.split(b"\0") if a]
        # a process that rewrote its argv (LXC's monitor) has one string
        # with spaces in it
        yield int(p), argv


def children_of(pid):
    out = []
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{t}/children") as f:
                out += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return out


def kill_tree(pid):
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += children_of(p)
    for p in seen:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def status_kib(pid, key):
    v = B.proc_status(pid, key)
    return v


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cg_parent_of(work):
    """The cgroup parent of a run's LXC containers: named after its work
    directory, and always starting with vessel-bench-mgr, so that a sweep
    never kills in a cgroup that is not the bench's."""
    base = os.path.basename(os.path.abspath(work))
    return base if base.startswith("vessel-bench-mgr.") else "vessel-bench-mgr." + base


def cg_sweep(parent, kill=True):
    """Kill what is left in the run's LXC cgroup subtree on every
    hierarchy (with kill), then remove it bottom-up."""
    report = []
    tops = [os.path.join(h, parent) for h in B.cg_hierarchies()]
    tops = [t for t in tops if os.path.isdir(t)]
    killed = 0
    for t in tops if kill else []:
        for d, _, _ in os.walk(t):
            for p in B.cg_procs(d):
                try:
                    os.kill(p, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
    if killed:
        report.append(f"killed {killed} processes left in /{parent}")
    for t in tops:
        for d in sorted((d for d, _, _ in os.walk(t)), key=len, reverse=True):
            for _ in range(50):
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
            else:
                report.append(f"could not remove {d}")
    return report


# --------------------------------------------------------------------------
# the benchmark


class Manager:
    def __init__(self, a):
        self.a = a
        self.work = a.workdir
        # the LXC containers' cgroups: /vessel-bench-mgr.PID (the work
        # directory's name) on every hierarchy
        self.cgparent = cg_parent_of(self.work)
        self.tools = {}
        self.res = {}      # row -> tool -> [values]
        self.states = {}   # tool -> {state reached: count} in the start row
        self.extra = {}
        self.inotify_orig = None

    # -- setup --------------------------------------------------------------

    def setup(self):
        os.makedirs(self.work)
        self.runner = B.Runner(self.work, os.path.join(os.path.dirname(os.path.abspath(__file__)), "spawn.c"))
        logs = os.path.join(self.work, "logs")
        os.makedirs(logs)
        vc = Vesselctl("vesselctl", self.a.vesselctl, os.path.join(self.work, "store"))
        known = {"vesselctl": vc,
                 "vesselctl-privileged": VesselctlPrivileged("vesselctl-privileged", self.a.vesselctl,
                                                             os.path.join(self.work, "store")),
                 "lxc": Lxc("lxc", os.path.join(self.work, "lxc"), self.cgparent, True, logs),
                 "lxc-nohooks": Lxc("lxc-nohooks", os.path.join(self.work, "lxc-nohooks"), self.cgparent,
                                    False, logs)}
        for t in self.a.tools.split(","):
            if t not in known:
                raise B.BenchError(f"unknown tool {t} (vesselctl, vesselctl-privileged, lxc, "
                                   "lxc-nohooks)")
            self.tools[t] = known[t]
        self.names = list(self.tools)
        # the fifty live in a store and an lxcpath of their own
        self.fifty = {}
        if "vesselctl" in self.tools:
            self.fifty["vesselctl"] = Vesselctl("vesselctl", self.a.vesselctl, os.path.join(self.work, "store"))
        if "lxc" in self.tools:
            self.fifty["lxc"] = Lxc("lxc", os.path.join(self.work, "lxc-fifty"), self.cgparent, True, logs)
        t = time.time()
        print("manager: importing the image into vesselctl's store, unpacking it for LXC ...", flush=True)
        # a plain rootfs tarball, or an image in Incus's unified format
        # (metadata.yaml and rootfs/: what `vesselctl image export` writes)
        unified = subprocess.run(["tar", "-tf", self.a.tarball, "metadata.yaml"], capture_output=True,
                                 cwd="/").returncode == 0
        self.extra["unified"] = unified
        if "vesselctl" in self.tools:
            vc.import_image(self.a.tarball, unified)
        self.lxc_rootfs = os.path.join(self.work, "lxc-rootfs")
        if any(x.kind == "lxc" for x in self.tools.values()):
            os.makedirs(self.lxc_rootfs)
            sub = ["--strip-components=1", "rootfs"] if unified else []
            subprocess.run(["tar", "-xf", self.a.tarball, "-C", self.lxc_rootfs, "--numeric-owner",
                            "--xattrs", "--xattrs-include=*"] + sub, check=True)
            for x in self.tools.values():
                if x.kind == "lxc":
                    os.makedirs(x.path, exist_ok=True)
        self.inst = {}
        for name, tool in self.tools.items():
            inst = "bench-" + {"vesselctl": "vc", "vesselctl-privileged": "vcp", "lxc": "lxc",
                               "lxc-nohooks": "lxcn"}[name]
            tool.create(inst, rootfs_src=self.lxc_rootfs)
            self.inst[name] = inst
        print(f"manager:   {time.time() - t:.0f}s", flush=True)

    # -- helpers ------------------------------------------------------------

    def order(self, i, names=None):
        names = names or self.names
        k = i % len(names)
        return names[k:] + names[:k]

    def record(self, row, tool, v):
        self.res.setdefault(row, {}).setdefault(tool, []).append(v)

    def text(self, argv, timeout=30):
        try:
            r = subprocess.run(argv, capture_output=True, text=True, cwd="/", timeout=timeout)
            return r.stdout.strip()
        except subprocess.TimeoutExpired:
            return ""

    def system_state(self, tool, inst):
        return self.text(tool.exec(inst, [SYSTEMCTL, "is-system-running"])) or "no answer"

    def systemd_times(self, tool, inst):
        out = self.text(tool.exec(inst, [SYSTEMCTL, "show", "-p", "UserspaceTimestampMonotonic",
                                         "-p", "FinishTimestampMonotonic"]))
        v = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
        try:
            return int(v["UserspaceTimestampMonotonic"]) * 1000, int(v["FinishTimestampMonotonic"]) * 1000
        except (KeyError, ValueError):
            return None, None

    # -- start, exec, stop: one instance per tool, rounds -------------------

    def boot(self, name, keep):
        """Start, then poll is-system-running through the tool's exec."""
        tool, inst = self.tools[name], self.inst[name]
        t0 = time.monotonic_ns()
        dt, _, _ = self.runner.run(name, tool.start(inst))
        deadline = t0 + int(self.a.boot_timeout * 1e9)
        seen, polls, state = None, 0, None
        next_text = t0 + int(1e9)
        while True:
            _, _, err = self.runner.run(name, tool.exec(inst, [SYSTEMCTL, "is-system-running"]), check=False)
            polls += 1
            now = time.monotonic_ns()
            if err is None:
                seen, state = now - t0, "running"
                break
            if now >= next_text:
                # once a second: a final state other than running ends the wait
                s = self.system_state(tool, inst)
                if s in FINAL_STATES and s != "running":
                    state = s
                    break
                next_text = time.monotonic_ns() + int(1e9)
            if now > deadline:
                state = f"not running within {self.a.boot_timeout:.0f} s (state: {self.system_state(tool, inst)})"
                break
            time.sleep(self.a.poll)
        us, fin = self.systemd_times(tool, inst)
        if not keep:
            return
        self.states.setdefault(name, {}).setdefault(state, 0)
        self.states[name][state] += 1
        self.record("start.cmd", name, dt * 1e9)
        self.record("start.polls", name, polls)
        if seen is not None:
            self.record("start.seen", name, seen)
        if us:
            self.record("start.to_init", name, us - t0)
        if us and fin:
            self.record("start.userspace", name, fin - us)
            self.record("start.to_finish", name, fin - t0)
            if seen is not None:
                self.record("start.overhead", name, seen - (fin - us))

    def rounds(self):
        n = self.a.warmup + self.a.rounds
        lxc_main = next((x for x in ("lxc", "lxc-nohooks") if x in self.tools), None)
        for i in range(n):
            keep = i >= self.a.warmup
            t = time.time()
            for name in self.order(i):
                self.boot(name, keep)
            # exec: all instances up, the tools (and the nsenter floor) alternating
            floor_pid = self.tools[lxc_main].init_pid(self.inst[lxc_main]) if lxc_main else None
            jobs = [(name, self.tools[name].exec(self.inst[name], [TRUE])) for name in self.names]
            if floor_pid:
                jobs.append(("nsenter", ["/usr/bin/nsenter", "-t", str(floor_pid), "-a", "--", TRUE]))
            for j in range(self.a.exec_n):
                k = (i + j) % len(jobs)
                for name, argv in jobs[k:] + jobs[:k]:
                    dt, _, _ = self.runner.run(name, argv)
                    if keep:
                        self.record("exec", name, dt * 1e9)
            for name in self.order(i):
                tool, inst = self.tools[name], self.inst[name]
                dt, _, _ = self.runner.run(name, tool.stop(inst))
                if keep:
                    self.record("stop", name, dt * 1e9)
            # launch (issue 12): a fresh instance from the image to running
            # init, unprivileged beside privileged; deleted untimed
            for name in self.order(i):
                tool = self.tools[name]
                if tool.kind != "vesselctl":
                    continue
                extra = self.inst[name] + "-l"
                dt, _, _ = self.runner.run(name, tool.launch_argv(extra))
                if keep:
                    self.record("launch", name, dt * 1e9)
                subprocess.run(tool.cmd("delete", "-f", extra), check=True, cwd="/",
                               stdout=subprocess.DEVNULL, timeout=120)
            # stopped means stopped: no monitor left
            for name in self.names:
                for _ in range(50):
                    if not self.tools[name].monitors():
                        break
                    time.sleep(0.02)
                else:
                    raise B.BenchError(f"{name}: a monitor is still there after stop")
            print(f"manager:   round {i + 1}/{n}{'' if keep else ' (warm-up)'}: {time.time() - t:.1f}s",
                  flush=True)

    # -- fifty running: list and monitor RSS --------------------------------

    def raise_inotify(self, count):
        """Every systemd instance holds about 8 inotify instances, all of
        them charged to host root (the containers share its user
        namespace): Debian's default of 128 runs out after ~15 containers.
        Raised for the run, restored at the end."""
        with open(INOTIFY) as f:
            cur = int(f.read())
        need = 1024 + 12 * count
        if cur >= need:
            return
        with open(os.path.join(self.work, "inotify.orig"), "w") as f:
            f.write(str(cur))
        self.inotify_orig = cur
        with open(INOTIFY, "w") as f:
            f.write(str(need))
        self.extra["inotify"] = (cur, need)

    def fifty_row(self):
        count = self.a.instances
        names = [f"m{i:03d}" for i in range(count)]
        tools = list(self.fifty)
        self.raise_inotify(count * len(tools))
        t = time.time()
        print(f"manager: launching {count} instances per tool ...", flush=True)
        fails = {n: 0 for n in tools}
        errs = []
        launch = {n: 0.0 for n in tools}
        for i, inst in enumerate(names):
            for name in self.order(i, tools):
                tool = self.fifty[name]
                if tool.kind == "lxc":
                    tool.create(inst, rootfs_src=self.lxc_rootfs, overlay=True)
                dt, _, err = self.runner.run(name, tool.launch_argv(inst), check=False)
                launch[name] += dt
                if err:
                    fails[name] += 1
                    if len(errs) < 4:
                        errs.append(err)
        self.extra["fifty_launch"] = launch
        self.extra["fifty_fail"] = (fails, errs)
        print(f"manager:   {time.time() - t:.0f}s; waiting for systemd to settle in all ...", flush=True)
        # settle: every instance's systemd done booting, so that booting
        # instances do not eat the CPU list runs on
        t = time.time()
        pending = [(name, inst) for name in tools for inst in names]
        final = {n: {} for n in tools}
        deadline = time.time() + self.a.settle_timeout
        while pending and time.time() < deadline:
            left = []
            for name, inst in pending:
                s = self.system_state(self.fifty[name], inst)
                if s in FINAL_STATES:
                    final[name][s] = final[name].get(s, 0) + 1
                else:  # initializing, starting, or not answering yet
                    left.append((name, inst))
            pending = left
            if pending:
                time.sleep(1)
        for name, inst in pending:
            final[name]["not settled"] = final[name].get("not settled", 0) + 1
        self.extra["fifty_states"] = final
        print(f"manager:   {time.time() - t:.0f}s", flush=True)
        time.sleep(2)
        # monitors
        for name in tools:
            pids = self.fifty[name].monitors()
            rss = [status_kib(p, "VmRSS") for p in pids]
            pss = [pss_kib(p) for p in pids]
            self.extra.setdefault("monitors", {})[name] = {
                "count": len(pids),
                "rss": [x * 1024 for x in rss if x is not None],
                "pss": [x * 1024 for x in pss if x is not None]}
            self.extra.setdefault("fifty_running", {})[name] = self.fifty[name].running()
        # list
        print(f"manager: list x{self.a.list_n} per tool ...", flush=True)
        for i in range(self.a.warmup + self.a.list_n):
            for name in self.order(i, tools):
                dt, _, _ = self.runner.run(name, self.fifty[name].list())
                if i >= self.a.warmup:
                    self.record("list", name, dt * 1e9)
        t = time.time()
        print("manager: deleting the fifty ...", flush=True)
        for name in tools:
            for r in self.fifty[name].cleanup():
                print("manager: WARNING: " + r, file=sys.stderr)
        print(f"manager:   {time.time() - t:.0f}s", flush=True)

    # -- whole run ----------------------------------------------------------

    def run(self):
        t0 = time.time()
        self.extra["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        self.extra["load_before"] = open("/proc/loadavg").read().split()[:3]
        self.setup()
        rows = self.a.rows.split(",")
        if "rounds" in rows:
            print(f"manager: start/exec/stop, {self.a.warmup}+{self.a.rounds} rounds ...", flush=True)
            self.rounds()
        if "fifty" in rows and self.fifty:
            self.fifty_row()
        self.extra["load_after"] = open("/proc/loadavg").read().split()[:3]
        self.extra["elapsed"] = time.time() - t0

    def cleanup(self):
        report = []
        if hasattr(self, "runner"):
            self.runner.close()
        report += sweep(self.work, self.cgparent, self.a.vesselctl)
        return report

    # -- report -------------------------------------------------------------

    def m(self, row, name):
        v = self.res.get(row, {}).get(name)
        return B.med(v) if v else float("nan")

    def p90(self, row, name):
        v = self.res.get(row, {}).get(name)
        return B.pct(v, 0.9) if v else float("nan")

    def cell(self, row, name, unit="ms"):
        v = self.res.get(row, {}).get(name)
        if not v:
            return "-"
        if unit == "ms":
            return f"{ms(B.med(v)):.1f} ({ms(B.pct(v, 0.9)):.1f})"
        return f"{B.med(v):.0f}"

    def versions(self):
        out = {}
        out["vesselctl"] = self.text([self.a.vesselctl, "--version"])
        out["lxc"] = self.text([LXC["lxc-start"], "--version"])
        for name in ("lxcfs",):
            out[name] = self.text(["dpkg-query", "-W", "-f", "${Version}", name]) or "not installed"
        return out

    def report(self):
        a = self.a
        L = []
        names = self.names
        L.append("# vesselctl vs LXC 5: manager benchmark results")
        L.append("")
        L.append("Produced by `make bench-manager` (bench/bench.sh, bench/manager.py); see "
                 "bench/README.md (\"Manager rows\") for the method.")
        L.append("")
        git = self.text(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse", "--short",
                         "HEAD"])
        L.append(f"- date: {self.extra['date']}, source `{git}`")
        L.append(f"- host: {os.cpu_count()} CPUs, kernel {os.uname().release}; load average before "
                 f"{' '.join(self.extra['load_before'])}, after {' '.join(self.extra.get('load_after', []))}")
        v = self.versions()
        L.append(f"- vesselctl: `{a.vesselctl}` ({v['vesselctl']}); LXC {v['lxc']}; lxcfs package "
                 f"{v['lxcfs']}" + ("" if os.path.exists(LXCFS_CONF) else " (its hooks are not installed)"))
        lxcfs_up = os.path.isdir("/var/lib/lxcfs/proc")
        L.append(f"- lxcfs daemon: {'running (/var/lib/lxcfs mounted)' if lxcfs_up else 'not running (its mount hook binds nothing; its post-stop hook still sleeps)'}")
        L.append(f"- image: `{a.tarball}`"
                 f"{' (unified: metadata.yaml and rootfs/)' if self.extra.get('unified') else ' (a plain rootfs tarball)'}"
                 ", the same tarball for both tools")
        L.append(f"- rounds: {a.rounds} measured after {a.warmup} warm-up; exec: {a.exec_n} per round "
                 f"and tool; list: {a.list_n} with {a.instances} instances per tool running; "
                 f"poll interval {a.poll * 1000:.0f} ms; whole run {self.extra.get('elapsed', 0):.0f} s")
        if a.note:
            L.append(f"- note: {a.note}")
        L.append("")
        L.append("Medians (p90 in brackets), ms.")
        L.append("")
        rows = [
            ("start command alone (`vesselctl start`, `lxc-start -d`)", "start.cmd"),
            ("start → systemd executing (its UserspaceTimestamp)", "start.to_init"),
            ("systemd's own userspace boot (Finish − Userspace, `systemd-analyze`)", "start.userspace"),
            ("start → systemd finished (its FinishTimestamp)", "start.to_finish"),
            ("**start → `is-system-running` says running, polled through the tool's exec**", "start.seen"),
            ("of which not systemd's (seen − its userspace time)", "start.overhead"),
            ("`exec true` (`vesselctl exec`, `lxc-attach`; nsenter -a: the floor)", "exec"),
            ("**stop** (`vesselctl stop`, `lxc-stop`)", "stop"),
            ("launch: a new instance's copy of the image, its start (`vesselctl launch`)", "launch"),
            (f"**list with {a.instances} running** (`vesselctl list`, `lxc-ls -f`)", "list"),
        ]
        cols = names + (["nsenter"] if "nsenter" in self.res.get("exec", {}) else [])
        L.append("| row | " + " | ".join(cols) + " |")
        L.append("|---|" + "---|" * len(cols))
        for label, key in rows:
            if key not in self.res:
                continue
            cells = [self.cell(key, c) for c in cols]
            L.append(f"| {label} | " + " | ".join(cells) + " |")
        mons = self.extra.get("monitors", {})
        if mons:
            cells = []
            for c in cols:
                x = mons.get(c)
                if not x or not x["rss"]:
                    cells.append("")
                    continue
                rss = sum(x["rss"]) / len(x["rss"]) / 2**20
                pss = sum(x["pss"]) / len(x["pss"]) / 2**20 if x["pss"] else float("nan")
                cells.append(f"{rss:.2f} MiB (Pss {pss:.2f}), {x['count']} monitors")
            L.append("| **monitor RSS per instance** (VmRSS of `vesselctl-monitor`, `[lxc monitor]`) | " +
                     " | ".join(cells) + " |")
        L.append("")
        # states reached
        if self.states:
            L.append("State systemd reached in the start row: " + "; ".join(
                f"{n}: " + ", ".join(f"{s} ×{c}" for s, c in st.items()) for n, st in self.states.items()) + ".")
            L.append("")
        if "start.polls" in self.res:
            L.append("Polls per boot (median): " + ", ".join(
                f"{n} {self.cell('start.polls', n, unit='n')}" for n in names if n in self.res['start.polls']) + ".")
            L.append("")
        # goals
        L.append("## Goals (issues 11 and 12)")
        L.append("")
        L.append("| goal | measured | verdict |")
        L.append("|---|---|---|")
        vc, lx = "vesselctl", "lxc"

        def verdict(ok):
            if ok is None:
                return "not measured"
            return "met" if ok else "**not met**"

        nan = float("nan")
        ran = self.states.get(vc, {}).get("running", 0)
        if vc in self.states and not ran:
            st = ", ".join(self.states[vc])
            L.append(f"| start to running within 30 ms of systemd's userspace time | systemd did not reach "
                     f"running: {st} | **not met** |")
            L.append("| start to running ≤ 0.9 × LXC's | (no boot reached running) | **not met** |")
        else:
            o = self.m("start.overhead", vc)
            L.append(f"| start to running within 30 ms of systemd's userspace time | "
                     f"{ms(self.m('start.seen', vc)):.0f} ms − {ms(self.m('start.userspace', vc)):.0f} ms: "
                     f"{ms(o):.1f} ms over (exactly, from systemd's timestamps: "
                     f"{ms(self.m('start.to_init', vc)):.1f} ms before systemd runs) | "
                     f"{verdict(None if o != o else ms(o) <= 30)} |")
            r = self.m("start.seen", vc) / self.m("start.seen", lx) if lx in self.tools else nan
            L.append(f"| start to running ≤ 0.9 × LXC's | {ms(self.m('start.seen', vc)):.0f} / "
                     f"{ms(self.m('start.seen', lx)):.0f} ms = {r:.2f} | {verdict(None if r != r else r <= 0.9)} |")
        r = self.m("exec", vc) / self.m("exec", lx) if lx in self.tools else nan
        L.append(f"| exec ≤ 0.5 × lxc-attach | {ms(self.m('exec', vc)):.1f} / {ms(self.m('exec', lx)):.1f} ms = "
                 f"{r:.2f} | {verdict(None if r != r else r <= 0.5)} |")
        s = self.m("stop", vc)
        L.append(f"| stop ≤ 150 ms | {ms(s):.0f} ms (lxc-stop {ms(self.m('stop', lx)):.0f}, without lxcfs's hooks "
                 f"{ms(self.m('stop', 'lxc-nohooks')):.0f}) | {verdict(None if s != s else ms(s) <= 150)} |")
        r = self.m("list", vc) / self.m("list", lx) if "list" in self.res else nan
        L.append(f"| list ≤ 0.1 × lxc-ls -f ({a.instances} running) | {ms(self.m('list', vc)):.1f} / "
                 f"{ms(self.m('list', lx)):.1f} ms = {r:.3f} | {verdict(None if r != r else r <= 0.1)} |")
        vp = "vesselctl-privileged"
        if vp in self.tools:
            for row, what in (("launch", "launch"), ("start.seen", "start to running")):
                r = self.m(row, vc) / self.m(row, vp)
                L.append(f"| {what} of an unprivileged instance ≤ 1.1 × a privileged one's (issue "
                         f"12) | {ms(self.m(row, vc)):.0f} / {ms(self.m(row, vp)):.0f} ms = {r:.2f} | "
                         f"{verdict(None if r != r else r <= 1.1)} |")
        x = mons.get(vc)
        if x and x["rss"]:
            rss = sum(x["rss"]) / len(x["rss"])
            L.append(f"| monitor RSS ≤ 1 MiB | {rss / 2**20:.2f} MiB (LXC's "
                     f"{sum(mons[lx]['rss']) / max(1, len(mons[lx]['rss'])) / 2**20:.2f} MiB) | "
                     f"{verdict(rss <= 2**20)} |" if lx in mons else
                     f"| monitor RSS ≤ 1 MiB | {rss / 2**20:.2f} MiB | {verdict(rss <= 2**20)} |")
        L.append("")
        # the fifty
        if "fifty_states" in self.extra:
            fails, errs = self.extra["fifty_fail"]
            L.append(f"## The {a.instances} instances of the list row")
            L.append("")
            for n, st in self.extra["fifty_states"].items():
                L.append(f"- {n}: launched in {self.extra['fifty_launch'][n]:.1f} s in all "
                         f"({fails[n]} failed); running by the tool's own count: "
                         f"{self.extra['fifty_running'].get(n)}; systemd: " +
                         ", ".join(f"{s} ×{c}" for s, c in sorted(st.items())))
            for e in errs:
                L.append(f"- error: `{e[:300]}`")
            if "inotify" in self.extra:
                L.append(f"- fs.inotify.max_user_instances raised from {self.extra['inotify'][0]} to "
                         f"{self.extra['inotify'][1]} for the run, then restored")
            L.append("")
        return "\n".join(L) + "\n"


def sweep(work, cgparent, vesselctl):
    """Everything a run may have left, from inside the driver or from
    bench.sh's EXIT trap: instances, containers, monitors, cgroups, the
    inotify limit, the work directory."""
    report = []
    if not work or not os.path.isdir(work):
        return report
    logs = os.path.join(work, "logs")
    store = os.path.join(work, "store")
    if vesselctl and os.path.isdir(store):
        report += Vesselctl("vesselctl", vesselctl, store).cleanup()
    # what vesselctl keeps for a store once its instances are gone: the run
    # directory /run/vesselctl/KEY (KEY: SHA-256 of the store path, as
    # rundir_store_key() makes it) and empty cgroups /vessel/KEY
    key = hashlib.sha256(store.encode()).hexdigest()[:12]
    run = "/run/vesselctl/" + key
    if os.path.isdir(run) and not (vesselctl and Vesselctl("", vesselctl, store).monitors()):
        for d, dirs, files in os.walk(run, topdown=False):
            for x in files + dirs:
                p = os.path.join(d, x)
                try:
                    os.unlink(p) if x in files or os.path.islink(p) else os.rmdir(p)
                except OSError as e:
                    report.append(f"{p}: {e.strerror}")
        try:
            os.rmdir(run)
        except OSError as e:
            report.append(f"{run}: {e.strerror}")
    report += cg_sweep("vessel/" + key, kill=False)
    for p in ("lxc", "lxc-nohooks", "lxc-fifty"):
        path = os.path.join(work, p)
        if os.path.isdir(path):
            report += Lxc(p, path, cgparent, True, logs).cleanup()
    report += cg_sweep(cgparent)
    orig = os.path.join(work, "inotify.orig")
    if os.path.exists(orig):
        with open(orig) as f:
            v = f.read().strip()
        with open(INOTIFY, "w") as f:
            f.write(v)
    # nothing of ours may still be mounted below the work directory
    with open("/proc/self/mountinfo") as f:
        mnts = [l.split()[4] for l in f if l.split()[4].startswith(work.rstrip("/") + "/")]
    for m in sorted(mnts, key=len, reverse=True):
        subprocess.run(["umount", "-l", m])
    shutil.rmtree(work, ignore_errors=True)
    if os.path.exists(work):
        report.append(f"could not remove {work}")
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vesselctl", help="vesselctl binary (vessel and vesselctl-monitor beside it)")
    ap.add_argument("--tarball", required=False,
                    help="a Debian image with systemd, for both tools: a plain rootfs tarball or a "
                         "unified image (metadata.yaml and rootfs/; bench.sh exports the one "
                         "`vesselctl image build debian/12` makes)")
    ap.add_argument("--tools", default="vesselctl,vesselctl-privileged,lxc,lxc-nohooks")
    ap.add_argument("--rows", default="rounds,fifty")
    ap.add_argument("--rounds", type=int, default=12, help="measured rounds of start/exec/stop")
    ap.add_argument("--warmup", type=int, default=2, help="rounds dropped (also in the list row)")
    ap.add_argument("--exec-n", type=int, default=10, help="execs per round and tool")
    ap.add_argument("--list-n", type=int, default=20, help="list runs per tool")
    ap.add_argument("--instances", type=int, default=50, help="instances per tool in the list row")
    ap.add_argument("--poll", type=float, default=0.01, help="seconds between is-system-running polls")
    ap.add_argument("--boot-timeout", type=float, default=20.0)
    ap.add_argument("--settle-timeout", type=float, default=180.0,
                    help="seconds to wait for systemd in all instances of the list row")
    ap.add_argument("--workdir", default=f"/var/tmp/vessel-bench-mgr.{os.getpid()}",
                    help="created by the run and removed at its end; its name is also the LXC "
                         "containers' cgroup parent")
    ap.add_argument("--out", help="write the markdown report here")
    ap.add_argument("--note", help="a line for the report (e.g. 'smoke run, machine busy')")
    ap.add_argument("--sweep", metavar="WORKDIR", help="only remove what a run left in WORKDIR")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("manager.py: run as root")
    if a.sweep:
        cgp = cg_parent_of(a.sweep)
        for r in sweep(a.sweep, cgp, a.vesselctl):
            print("manager sweep: WARNING: " + r, file=sys.stderr)
        return 0
    if not a.vesselctl:
        ap.error("--vesselctl is required")
    a.vesselctl = os.path.realpath(a.vesselctl)
    for tool in ("lxc-start", "lxc-attach", "lxc-stop", "lxc-ls", "lxc-info"):
        if not shutil.which(tool):
            sys.exit(f"manager.py: {tool} not found (Debian's lxc package)")
    if not a.tarball or not os.path.isfile(a.tarball):
        sys.exit(f"manager.py: no image tarball at {a.tarball}")
    if os.path.exists(a.workdir):
        sys.exit(f"manager.py: {a.workdir} exists")

    def on_signal(sig, _):
        raise KeyboardInterrupt(f"signal {sig}")

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    m = Manager(a)
    ok = False
    try:
        m.run()
        ok = True
    except B.BenchError as e:
        print(f"manager.py: {e}", file=sys.stderr)
    except subprocess.CalledProcessError as e:
        print(f"manager.py: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print("manager.py: interrupted", file=sys.stderr)
    finally:
        # a second Ctrl-C must not cut the cleanup short
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for r in m.cleanup():
            print("manager cleanup: WARNING: " + r, file=sys.stderr)
    if not ok:
        return 1
    text = m.report()
    print()
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
        print(f"manager: wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
