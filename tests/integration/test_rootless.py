"""Rootless: an unprivileged user (created for these tests, removed after)
creates, runs, execs into and deletes containers, with its state under
$XDG_RUNTIME_DIR/vessel.  The user, its fixture (`user`) and the helper
that runs vessel as it (`rl`) are in conftest.py."""
import json
import os
import shutil
import subprocess

import pytest

from conftest import ROOTLESS_USER, VESSEL

USER = ROOTLESS_USER


def subid_range(name, path):
    with open(path) as f:
        for line in f:
            n, start, count = line.strip().split(":")
            if n == name:
                return int(start), int(count)
    return None


def test_rootless_run_single_id(rl):
    rl.config(["sh", "-c", "id -u; cat /proc/self/uid_map; hostname"])
    r = rl.vessel("run", "--bundle", rl.bundle, "r1")
    assert r.returncode == 0, r
    lines = r.stdout.split("\n")
    assert lines[0] == "0", r
    assert lines[1].split() == ["0", str(rl.pw.pw_uid), "1"], r
    # No cgroup is delegated to the test user here: a warning, no limits.
    assert "without resource limits" in r.stderr, r
    # State lives under $XDG_RUNTIME_DIR/vessel, and is gone after run.
    assert os.path.isdir(os.path.join(rl.xdg, "vessel"))
    assert os.listdir(os.path.join(rl.xdg, "vessel")) == []


def test_rootless_subuid_ranges(rl, user):
    uids = subid_range(USER, "/etc/subuid")
    gids = subid_range(USER, "/etc/subgid")
    assert uids and gids, "useradd gave the test user no /etc/subuid range"
    maps = lambda own, rng: [{"containerID": 0, "hostID": own, "size": 1},
                             {"containerID": 1, "hostID": rng[0], "size": min(rng[1], 65536)}]
    rl.config(["sh", "-c", "cat /proc/self/uid_map; su -s /bin/sh nobody -c 'id -u' 2>&1 || "
                           "echo nosu"],
              ranges=(maps(user.pw_uid, uids), maps(user.pw_gid, gids)))
    r = rl.vessel("run", "--bundle", rl.bundle, "r2")
    assert r.returncode == 0, r
    rows = [l.split() for l in r.stdout.splitlines()[:2]]
    assert rows == [["0", str(user.pw_uid), "1"], ["1", str(uids[0]), str(min(uids[1], 65536))]], r


def test_rootless_lifecycle_and_exec(rl):
    rl.config(["sleep", "100"])
    r = rl.vessel("create", "--bundle", rl.bundle, "r3", stdio_files=True)
    assert r.returncode == 0, r.stdout
    r = rl.vessel("start", "r3", stdio_files=True)
    assert r.returncode == 0, r.stdout
    r = rl.vessel("state", "r3")
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "running", r
    assert json.loads(r.stdout)["owner"] == str(rl.pw.pw_uid), r
    r = rl.vessel("exec", "r3", "sh", "-c", "id -u; readlink /proc/self/ns/user")
    assert r.returncode == 0 and r.stdout.startswith("0\n"), r
    r = rl.vessel("delete", "r3")
    assert r.returncode != 0 and "not stopped" in r.stderr, r
    r = rl.vessel("kill", "r3", "KILL")
    assert r.returncode == 0, r
    r = rl.vessel("delete", "--force", "r3")
    assert r.returncode == 0, r
    assert rl.vessel("list", "-q").stdout.strip() == ""


def test_rootless_cannot_touch_root_containers(rl, env):
    """The unprivileged user's default root is its own: root's containers
    are not listed, and root's state directory cannot be used."""
    env.write_config(dict(env.config, process=dict(env.config["process"], args=["sleep", "100"])))
    log = os.path.join(env.tmp, "c.log")
    with open(log, "w") as f:
        subprocess.run([VESSEL, "--root", env.root, "run", "-d", "--bundle", env.bundle, "rootc"],
                       stdin=subprocess.DEVNULL, stdout=f, stderr=f, check=True, timeout=60)
    assert "rootc" not in rl.vessel("list", "-q").stdout
    r = rl.vessel("--root", env.root, "kill", "rootc", "KILL")
    assert r.returncode != 0, r
    assert env.state("rootc")["status"] == "running"
    env.vessel("delete", "--force", "rootc", check=True)


@pytest.mark.parametrize("owned", [True, False], ids=["binary-owned-by-user", "binary-owned-by-root"])
def test_rootless_cve_2019_5736_hijack_cannot_rewrite_runtime(rl, owned):
    """The exec hijack of test_security.py as an unprivileged user.  A
    binary the user may write cannot be cloned read-only without privilege:
    vessel runs from a sealed memfd copy; a binary the user cannot write
    needs nothing (the container's ids are the user's or its sub-ids)."""
    from test_security import ATTACKER, _attack_verdict, _wait
    m = os.path.join(rl.tmp, "m")
    copy = os.path.join(rl.tmp, "bin", "vessel")
    os.makedirs(m)
    os.makedirs(os.path.dirname(copy))
    shutil.copy2(VESSEL, copy)
    if owned:
        for p in (m, os.path.dirname(copy), copy):
            os.chown(p, rl.pw.pw_uid, rl.pw.pw_gid)
    else:
        os.chmod(m, 0o777)
    with open(copy, "rb") as f:
        before = f.read()

    def edit(cfg):
        cfg["root"]["readonly"] = False
        cfg["mounts"].append({"destination": "/m", "type": "bind", "source": m,
                              "options": ["rbind", "rw"]})
        for lib in ("lib", "lib64"):
            host = os.path.realpath("/" + lib)
            cfg["mounts"].append({"destination": host, "type": "bind", "source": host,
                                  "options": ["rbind", "ro"]})
            if host != "/" + lib:
                link = os.path.join(rl.bundle, "rootfs", lib)
                os.symlink(host.lstrip("/"), link)
                os.lchown(link, rl.pw.pw_uid, rl.pw.pw_gid)
    rl.config(["/bin/sh", "-c", ATTACKER], edit=edit)
    r = rl.vessel("run", "-d", "--bundle", rl.bundle, "r5", stdio_files=True, binary=copy)
    try:
        assert r.returncode == 0, r.stdout
        assert _wait(os.path.join(m, "armed")), r.stdout
        ex = rl.vessel("exec", "r5", "/evil", stdio_files=True, binary=copy)
        assert _wait(os.path.join(m, "result")), ex.stdout
    finally:
        rl.vessel("delete", "--force", "r5", binary=copy)
    err = _attack_verdict(m, copy, before, "rootless")
    # Sealed memfd: the write is refused; a root-owned binary: the open is.
    assert ("Operation not permitted" if owned else "Permission denied") in err, err
