"""NOTIFY_SOCKET (sd_notify) through vessel, as runc does it: the
container's process gets NOTIFY_SOCKET=/run/notify/notify.sock, a socket of
the runtime bound read-only into it, and start/run relays its READY=1 (with
MAINPID) to the socket named by vessel's own NOTIFY_SOCKET."""
import copy
import json
import os
import socket
import subprocess
import time

import pytest

from conftest import VESSEL, install_vtool, wait_for


@pytest.fixture(autouse=True)
def own_cgroup(env):
    env.config["linux"]["cgroupsPath"] = "/vessel/" + os.path.basename(env.tmp)


class HostSocket:
    """The host's end: a unix datagram socket, as systemd's."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)

    def messages(self, timeout=10.0):
        got, end = [], time.time() + timeout
        while time.time() < end:
            self.sock.settimeout(max(0.05, end - time.time()))
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                break
            got.append(msg)
            if "READY=1" in msg:
                break
        return got

    def close(self):
        self.sock.close()


@pytest.fixture
def host(env):
    h = HostSocket(os.path.join(env.tmp, "notify.sock"))
    yield h
    h.close()


def vessel(env, *args, notify=None, timeout=60, background=False):
    """vessel with NOTIFY_SOCKET set, stdio in a file (a created container
    keeps it)."""
    e = dict(os.environ)
    e.pop("NOTIFY_SOCKET", None)
    if notify:
        e["NOTIFY_SOCKET"] = notify
    out = open(os.path.join(env.tmp, f"out-{time.monotonic_ns()}"), "w+")
    cmd = [VESSEL, "--root", env.root, *args]
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=e)
    if background:
        return p, out
    rc = p.wait(timeout=timeout)
    out.seek(0)
    return rc, out.read()


def prepare(env, vtool, script):
    install_vtool(vtool, env.rootfs)
    cfg = copy.deepcopy(env.config)
    cfg["process"]["args"] = ["/bin/sh", "-c", script]
    env.write_config(cfg)


READY_THEN_WAIT = ('echo "$NOTIFY_SOCKET" > /tmp/ns; /bin/vtool notify "STATUS=up" && '
                   'sleep 0.5 && /bin/vtool notify READY=1 && exec sleep 60')


def test_start_relays_ready_with_the_init_pid(env, vtool, host):
    prepare(env, vtool, READY_THEN_WAIT)
    rc, out = vessel(env, "create", "--bundle", env.bundle, "c1", notify=host.path)
    assert rc == 0, out
    t = time.monotonic()
    rc, out = vessel(env, "start", "c1", notify=host.path)
    assert rc == 0, out
    assert time.monotonic() - t >= 0.4, "start returned before the container was ready"
    msgs = host.messages()
    pid = env.state("c1")["pid"]
    ready = [m for m in msgs if "READY=1" in m]
    assert ready and f"MAINPID={pid}" in ready[0].split("\n"), msgs
    assert not any("STATUS=up" in m for m in msgs), f"more than READY relayed: {msgs}"
    r = env.vessel("exec", "c1", "/bin/sh", "-c",
                   "cat /tmp/ns; grep ' /run/notify ' /proc/self/mountinfo")
    assert r.returncode == 0, r
    lines = r.stdout.splitlines()
    assert lines[0] == "/run/notify/notify.sock", r
    assert " ro," in lines[1] or lines[1].split()[5].startswith("ro"), f"not read-only: {r}"
    env.vessel("delete", "--force", "c1", check=True)


def test_run_detached_returns_once_ready(env, vtool, host):
    prepare(env, vtool, READY_THEN_WAIT)
    rc, out = vessel(env, "run", "-d", "--bundle", env.bundle, "c1", notify=host.path)
    assert rc == 0, out
    msgs = host.messages(timeout=2)
    pid = env.state("c1")["pid"]
    assert any(f"MAINPID={pid}" in m.split("\n") and "READY=1" in m for m in msgs), msgs
    env.vessel("delete", "--force", "c1", check=True)


def test_foreground_run_relays_ready_with_its_own_pid(env, vtool, host):
    """A foreground run stays the main process: MAINPID is vessel's."""
    prepare(env, vtool, "/bin/vtool notify READY=1 && sleep 1")
    p, out = vessel(env, "run", "--bundle", env.bundle, "c1", notify=host.path, background=True)
    try:
        msgs = host.messages()
        assert any("READY=1" in m and f"MAINPID={p.pid}" in m.split("\n") for m in msgs), msgs
        assert p.wait(timeout=30) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert env.ids() == []


def test_start_returns_when_the_container_exits_unready(env, vtool, host):
    prepare(env, vtool, "exit 0")
    rc, out = vessel(env, "create", "--bundle", env.bundle, "c1", notify=host.path)
    assert rc == 0, out
    rc, out = vessel(env, "start", "c1", notify=host.path, timeout=20)
    assert rc == 0, out
    assert host.messages(timeout=0.5) == []
    assert wait_for(lambda: env.state("c1")["status"] == "stopped")
    env.vessel("delete", "c1", check=True)


def test_without_notify_socket_nothing_changes(env, vtool):
    prepare(env, vtool, 'echo "ns=${NOTIFY_SOCKET-unset}"; ls /run/notify 2>&1 | head -1')
    rc, out = vessel(env, "run", "--bundle", env.bundle, "c1")
    assert rc == 0, out
    assert "ns=unset" in out and "No such file" in out, out
