"""The end of a test's vesselctl store: every instance deleted, and then
nothing of the store may remain running or mounted: no monitor, no cgroup
of an instance, no runtime state; its run directory (/run/vesselctl/KEY)
and its instances' empty cgroup parent (/vessel/KEY) are removed.  Shared
by the store fixtures of the vesselctl tests."""
import glob
import hashlib
import os
import shutil
import signal
import subprocess


def store_key(store):
    return hashlib.sha256(os.path.abspath(store).encode()).hexdigest()[:12]


def rundir(store, name=None):
    base = f"/run/vesselctl/{store_key(store)}"
    return base if name is None else f"{base}/{name}"


def runtime_state(store):
    """The containers in the store's runtime root (vessel --root): not
    the runtime's cache of compiled seccomp filters (instances with the
    mknod supervisor have a filter)."""
    rt = os.path.join(rundir(store), "runtime")
    return [e for e in (os.listdir(rt) if os.path.isdir(rt) else []) if e != ".seccomp-cache"]


def monitors(store):
    """Pids of the monitors of this store."""
    out = []
    for p in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(p, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if args and args[0].endswith(b"vesselctl-monitor") and store.encode() in args:
            out.append(int(p.split("/")[2]))
    return out


def remove_cgroup_parent(s):
    """The store's instances' cgroup parent (/vessel/KEY), if empty."""
    key = store_key(s)
    for d in glob.glob(f"/sys/fs/cgroup/*/vessel/{key}") + glob.glob(f"/sys/fs/cgroup/vessel/{key}"):
        try:
            os.rmdir(d)
        except OSError:
            pass


def cleanup_store(vesselctl, s):
    """Delete what the test left and assert that nothing of it remains."""
    if not os.path.isdir(s):
        # Removed by the test itself (the Debian fixtures free its space
        # early): the instances' cgroup parent may remain all the same.
        shutil.rmtree(rundir(s), ignore_errors=True)
        remove_cgroup_parent(s)
        return
    # The monitors' own messages (an ASan/UBSan build's reports go there).
    reports = []
    for log in glob.glob(os.path.join(s, "instances", "*", "monitor.log")):
        with open(log, errors="replace") as f:
            text = f.read()
        if "Sanitizer" in text or "runtime error:" in text:
            reports.append(f"{log}:\n{text}")
    r = subprocess.run([vesselctl, "--store", s, "list", "-f", "csv", "-c", "n"],
                       capture_output=True, text=True)
    for name in r.stdout.split():
        subprocess.run([vesselctl, "--store", s, "delete", "-f", name], capture_output=True)
    # Its storage pools (a btrfs pool's mount and loop device), and then
    # no mount may be left under the store (an overlay volume's, say).
    r = subprocess.run([vesselctl, "--store", s, "storage", "list", "-f", "csv"],
                       capture_output=True, text=True)
    for line in r.stdout.splitlines():
        subprocess.run([vesselctl, "--store", s, "storage", "delete", line.split(",")[0]],
                       capture_output=True)
    with open("/proc/self/mountinfo") as f:
        mnts = [l.split()[4] for l in f if l.split()[4].startswith(s + "/")]
    for m in reversed(mnts):
        subprocess.run(["umount", "-l", m], capture_output=True)
    left = monitors(s)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    # The instances' cgroups must be gone; their parent, shared by the
    # store's instances, stays when the runtime that made it did not
    # remove it last.
    key = store_key(s)
    cg = [d for d in glob.glob(f"/sys/fs/cgroup/*/vessel/{key}/*") +
          glob.glob(f"/sys/fs/cgroup/vessel/{key}/*") if os.path.isdir(d)]
    remove_cgroup_parent(s)
    left_state = runtime_state(s)
    shutil.rmtree(rundir(s), ignore_errors=True)
    assert not reports, "\n".join(reports)
    assert not left, f"monitors left running: {left}"
    assert not mnts, f"mounts left: {mnts}"
    assert not cg, f"cgroups left: {cg}"
    assert not left_state, f"runtime state left: {left_state}"
