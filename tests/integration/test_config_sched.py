"""process.scheduler, process.ioPriority and linux.memoryPolicy, each checked
by its effect on the container's process and on processes of `vessel exec`
(from the config's process and from --process FILE): read inside the
container with shell builtins only (so that what is read is the process
itself, not a child), or from the host (`chrt -p`, `ionice -p`).

Real-time policies need a real-time budget: on cgroup v1 with
CONFIG_RT_GROUP_SCHED a new cpu cgroup has cpu.rt_runtime_us = 0, so those
tests run with `--cgroup-manager disabled` and the container stays in the
cgroup pytest runs in (skipped when that one has no budget either).
SCHED_DEADLINE also needs an affinity spanning all CPUs, and forbids fork:
its container execs sleep and is looked at from the host.
"""
import json
import os
import subprocess

import pytest

from conftest import VESSEL, ok, read
from test_config_linux import userns
from test_lifecycle import LOOP, alive, config_with, vessel_files

# Shell builtins only: the shell reads its own /proc/self files.
STAT = 'read -r s < /proc/self/stat; echo "${s##*) }"'
NUMA = 'while read -r l; do echo "$l"; done < /proc/self/numa_maps'
IONICE = "ionice -p $$"

SCHED_OTHER, SCHED_FIFO, SCHED_RR, SCHED_BATCH, SCHED_IDLE, SCHED_DEADLINE = 0, 1, 2, 3, 5, 6
NO_CGROUPS = ("--cgroup-manager", "disabled")


@pytest.fixture(autouse=True)
def own_cgroup(env):
    env.config["linux"]["cgroupsPath"] = "/vessel/" + os.path.basename(env.tmp)


def sched_of(stat_rest):
    """Policy, real-time priority and nice of /proc/PID/stat after "comm) "."""
    f = stat_rest.split()
    # f[0] is field 3 (state): nice is field 19, rt_priority 40, policy 41
    return {"nice": int(f[16]), "rt_priority": int(f[37]), "policy": int(f[38])}


def host_sched(pid):
    with open(f"/proc/{pid}/stat") as f:
        return sched_of(f.read().rsplit(") ", 1)[1])


def run_sh(env, script, extra=(), glob=()):
    cfg = json.loads(json.dumps(env.config))
    cfg["process"]["args"] = ["/bin/sh", "-c", script]
    env.write_config(cfg)
    return env.vessel(*glob, "run", "--bundle", env.bundle, *extra, "c1")


def in_container(env, scheduler=None, script=STAT, glob=()):
    if scheduler is not None:
        env.config["process"]["scheduler"] = scheduler
    return ok(run_sh(env, script, glob=glob), "run")


def host_allows(*cmd):
    """Can this test process itself use cmd (chrt ...)?  The container of a
    --cgroup-manager disabled run lives in our cgroup, with our affinity."""
    return subprocess.run(list(cmd) + ["true"], capture_output=True).returncode == 0


needs_rt = pytest.mark.skipif(not host_allows("chrt", "-f", "10"),
                              reason="no real-time budget in the cgroup pytest runs in")
needs_dl = pytest.mark.skipif(
    not host_allows("chrt", "-d", "-T", "10000000", "-D", "30000000", "-P", "30000000", "0"),
    reason="SCHED_DEADLINE not allowed here (affinity, bandwidth)")


def write_process(env, proc, name="process.json"):
    path = os.path.join(env.tmp, name)
    with open(path, "w") as f:
        json.dump(proc, f)
    return path


def exec_process(env, **fields):
    """A --process FILE for exec running STAT and the given fields."""
    proc = {"args": ["/bin/sh", "-c", STAT], "cwd": "/", "user": {"uid": 0, "gid": 0},
            "env": env.config["process"]["env"]}
    proc.update(fields)
    return write_process(env, proc)


class Running:
    """A created and started container whose init loops (or runs args)."""

    def __init__(self, env, args=None, glob=()):
        self.env, self.glob = env, glob
        cfg = config_with(env, args or ["/bin/sh", "-c", LOOP])
        env.write_config(cfg)
        # in files: the init inherits create's stdio, a pipe would never close
        r = vessel_files(env, *glob, "create", "--bundle", env.bundle, "c1")
        assert r.returncode == 0, r
        ok(env.vessel(*glob, "start", "c1"), "start")
        self.pid = env.state("c1")["pid"]
        assert alive(self.pid)

    def exec(self, *args):
        return self.env.vessel(*self.glob, "exec", *args)

    def close(self):
        self.env.vessel(*self.glob, "delete", "--force", "c1")

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


# ---------------------------------------------------------------- scheduler

@pytest.mark.parametrize("policy,num,nice", [("SCHED_OTHER", SCHED_OTHER, -5),
                                             ("SCHED_BATCH", SCHED_BATCH, 7),
                                             ("SCHED_IDLE", SCHED_IDLE, 0)])
def test_scheduler_fair_policies(env, policy, num, nice):
    sched = {"policy": policy}
    if nice:
        sched["nice"] = nice
    got = sched_of(in_container(env, sched))
    assert got == {"policy": num, "nice": nice, "rt_priority": 0}, got


@needs_rt
@pytest.mark.parametrize("policy,num", [("SCHED_FIFO", SCHED_FIFO), ("SCHED_RR", SCHED_RR)])
def test_scheduler_realtime(env, policy, num):
    got = sched_of(in_container(env, {"policy": policy, "priority": 10}, glob=NO_CGROUPS))
    assert got["policy"] == num and got["rt_priority"] == 10, got


def test_scheduler_realtime_without_budget_fails_clearly(env):
    """In a cgroup v1 cpu cgroup of its own, without cpu.rt_runtime_us, the
    kernel refuses a real-time policy: the error says where and why."""
    if not os.path.exists("/sys/fs/cgroup/cpu/cpu.rt_runtime_us"):
        pytest.skip("no cgroup v1 real-time group scheduling here")
    env.config["process"]["scheduler"] = {"policy": "SCHED_FIFO", "priority": 10}
    r = run_sh(env, "true")
    assert r.returncode != 0, r
    assert "process.scheduler: sched_setattr SCHED_FIFO" in r.stderr, r
    assert "Operation not permitted" in r.stderr and "cpu.rt_runtime_us" in r.stderr, r


def test_scheduler_reset_on_fork(env):
    """The process keeps its raised priority; its children start over at
    nice 0, which shows that it was applied after the runtime's last fork."""
    env.config["process"]["scheduler"] = {"policy": "SCHED_OTHER", "nice": -5,
                                          "flags": ["SCHED_FLAG_RESET_ON_FORK"]}
    # "; true": a last command would be exec'd by sh, not forked
    out = ok(run_sh(env, f"{STAT}; sh -c '{STAT}'; true"), "run").splitlines()
    assert sched_of(out[0])["nice"] == -5, out
    assert sched_of(out[1])["nice"] == 0, out


def test_scheduler_survives_dropping_privileges(env):
    """Applied as root before the drop: an unprivileged user keeps a negative
    nice value it could never set itself."""
    env.config["process"]["user"] = {"uid": 1000, "gid": 1000}
    got = sched_of(in_container(env, {"policy": "SCHED_OTHER", "nice": -10}))
    assert got["nice"] == -10, got


@needs_dl
def test_scheduler_deadline_from_host(env):
    env.config["process"]["scheduler"] = {"policy": "SCHED_DEADLINE", "runtime": 10000000,
                                          "deadline": 30000000, "period": 30000000}
    with Running(env, ["/bin/sleep", "1000"], glob=NO_CGROUPS) as c:
        out = ok(subprocess.run(["chrt", "-p", str(c.pid)], capture_output=True, text=True))
        assert "SCHED_DEADLINE" in out, out
        assert "10000000/30000000/30000000" in out, out


def test_scheduler_iso_is_not_in_this_kernel(env):
    env.config["process"]["scheduler"] = {"policy": "SCHED_ISO"}
    r = run_sh(env, "true")
    assert r.returncode != 0 and "this kernel has no SCHED_ISO" in r.stderr, r


def test_scheduler_invalid_is_refused_before_anything_runs(env):
    env.config["process"]["scheduler"] = {"policy": "SCHED_OTHER", "nice": 30}
    r = run_sh(env, "true")
    assert r.returncode != 0, r
    assert "process.scheduler.nice: 30 is out of range (-20..19)" in r.stderr, r


def test_exec_gets_the_config_scheduler(env):
    """Without --process, exec runs the config's process: its scheduler too."""
    env.config["process"]["scheduler"] = {"policy": "SCHED_BATCH", "nice": 3}
    with Running(env) as c:
        assert host_sched(c.pid)["policy"] == SCHED_BATCH
        got = sched_of(ok(c.exec("c1", "/bin/sh", "-c", STAT), "exec"))
        assert got["policy"] == SCHED_BATCH and got["nice"] == 3, got


def test_exec_process_file_scheduler(env):
    with Running(env) as c:
        path = exec_process(env, scheduler={"policy": "SCHED_IDLE"})
        got = sched_of(ok(c.exec("--process", path, "c1"), "exec --process"))
        assert got["policy"] == SCHED_IDLE, got
        # the container's init is left as it was
        assert host_sched(c.pid)["policy"] == SCHED_OTHER


@needs_rt
def test_exec_process_file_realtime(env):
    with Running(env, glob=NO_CGROUPS) as c:
        path = exec_process(env, scheduler={"policy": "SCHED_RR", "priority": 5})
        got = sched_of(ok(c.exec("--process", path, "c1"), "exec --process"))
        assert got["policy"] == SCHED_RR and got["rt_priority"] == 5, got


def test_exec_process_file_invalid_scheduler(env):
    with Running(env) as c:
        path = exec_process(env, scheduler={"policy": "SCHED_FIFO"})
        r = c.exec("--process", path, "c1")
        assert r.returncode != 0, r
        assert "process.scheduler.priority: SCHED_FIFO needs a priority in 1..99" in r.stderr, r


# ---------------------------------------------------------------- ioPriority

@pytest.mark.parametrize("cls,prio,shown", [("IOPRIO_CLASS_BE", 4, "best-effort: prio 4"),
                                            ("IOPRIO_CLASS_RT", 3, "realtime: prio 3"),
                                            ("IOPRIO_CLASS_IDLE", 0, "idle")])
def test_io_priority_inside(env, cls, prio, shown):
    env.config["process"]["ioPriority"] = {"class": cls, "priority": prio}
    assert in_container(env, script=IONICE).strip() == shown


def test_io_priority_from_host(env):
    env.config["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 6}
    with Running(env) as c:
        out = ok(subprocess.run(["ionice", "-p", str(c.pid)], capture_output=True, text=True))
        assert out.strip() == "best-effort: prio 6", out


def test_io_priority_exec(env):
    env.config["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 2}
    with Running(env) as c:
        out = ok(c.exec("c1", "/bin/sh", "-c", IONICE), "exec")
        assert out.strip() == "best-effort: prio 2", out
        path = exec_process(env, ioPriority={"class": "IOPRIO_CLASS_IDLE"},
                            args=["/bin/sh", "-c", IONICE])
        out = ok(c.exec("--process", path, "c1"), "exec --process")
        assert out.strip() == "idle", out


def test_io_priority_realtime_in_user_namespace_fails_clearly(env):
    """Root of a user namespace lacks CAP_SYS_ADMIN over the host."""
    userns(env)
    env.config["process"]["ioPriority"] = {"class": "IOPRIO_CLASS_RT", "priority": 1}
    r = run_sh(env, "true")
    assert r.returncode != 0, r
    assert "process.ioPriority: ioprio_set IOPRIO_CLASS_RT" in r.stderr, r
    assert "CAP_SYS_ADMIN" in r.stderr, r


# ---------------------------------------------------------------- memoryPolicy

def policies(numa_maps):
    """The policy column of numa_maps."""
    return {line.split()[1] for line in numa_maps.splitlines() if line.strip()}


@pytest.mark.parametrize("mpol,shown", [
    ({"mode": "MPOL_BIND", "nodes": "0"}, "bind:0"),
    ({"mode": "MPOL_INTERLEAVE", "nodes": "0"}, "interleave:0"),
    ({"mode": "MPOL_PREFERRED", "nodes": "0"}, "prefer:0"),
    ({"mode": "MPOL_PREFERRED"}, "local"),  # no node: the local one
    ({"mode": "MPOL_LOCAL"}, "local"),
    ({"mode": "MPOL_DEFAULT"}, "default"),
    ({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_STATIC_NODES"]}, "bind=static:0"),
    ({"mode": "MPOL_INTERLEAVE", "nodes": "0", "flags": ["MPOL_F_RELATIVE_NODES"]},
     "interleave=relative:0"),
    ({"mode": "MPOL_BIND", "nodes": "0", "flags": ["MPOL_F_NUMA_BALANCING"]}, "bind=balancing:0"),
])
def test_memory_policy_inside(env, mpol, shown):
    env.config["linux"]["memoryPolicy"] = mpol
    assert policies(in_container(env, script=NUMA)) == {shown}


def test_memory_policy_from_host(env):
    env.config["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "0"}
    with Running(env) as c:
        assert policies(read(f"/proc/{c.pid}/numa_maps")) == {"bind:0"}


def test_memory_policy_exec(env):
    """The exec'd process is no child of the init: it gets the policy of its own."""
    env.config["linux"]["memoryPolicy"] = {"mode": "MPOL_INTERLEAVE", "nodes": "0"}
    with Running(env) as c:
        assert policies(ok(c.exec("c1", "/bin/sh", "-c", NUMA), "exec")) == {"interleave:0"}
        path = exec_process(env, args=["/bin/sh", "-c", NUMA])
        assert policies(ok(c.exec("--process", path, "c1"), "exec")) == {"interleave:0"}


def test_memory_policy_missing_node_fails_clearly(env):
    nodes = read("/sys/devices/system/node/possible").strip()
    if nodes != "0":
        pytest.skip(f"this test wants a single NUMA node, not {nodes}")
    env.config["linux"]["memoryPolicy"] = {"mode": "MPOL_BIND", "nodes": "1"}
    r = run_sh(env, "true")
    assert r.returncode != 0, r
    assert 'linux.memoryPolicy: set_mempolicy MPOL_BIND nodes "1"' in r.stderr, r
    assert "Invalid argument" in r.stderr, r


def test_memory_policy_invalid_is_refused(env):
    env.config["linux"]["memoryPolicy"] = {"mode": "MPOL_LOCAL", "nodes": "0"}
    r = run_sh(env, "true")
    assert r.returncode != 0, r
    assert "linux.memoryPolicy.nodes: must be empty for MPOL_LOCAL" in r.stderr, r
