"""Rootless: an unprivileged user (created for these tests, removed after)
creates, runs, execs into and deletes containers, with its state under
$XDG_RUNTIME_DIR/vessel."""
import json
import os
import pwd
import shutil
import subprocess
import tempfile

import pytest

from conftest import REPO, VESSEL

USER = "vessel-rootless"


@pytest.fixture(scope="module")
def user():
    created = False
    try:
        pw = pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/sh", USER], check=True)
        created = True
        pw = pwd.getpwnam(USER)
    try:
        yield pw
    finally:
        if created:
            subprocess.run(["pkill", "-KILL", "-u", USER])
            subprocess.run(["userdel", "--remove", USER], stderr=subprocess.DEVNULL)


def subid_range(name, path):
    with open(path) as f:
        for line in f:
            n, start, count = line.strip().split(":")
            if n == name:
                return int(start), int(count)
    return None


class Rootless:
    def __init__(self, pw, tmp):
        self.pw = pw
        self.tmp = tmp
        self.xdg = os.path.join(tmp, "xdg")
        self.bundle = os.path.join(tmp, "bundle")
        os.makedirs(self.xdg, mode=0o700)
        subprocess.run([os.path.join(REPO, "scripts", "mkbundle.sh"), self.bundle], check=True)
        for root, dirs, files in os.walk(tmp):
            for n in dirs + files:
                os.lchown(os.path.join(root, n), pw.pw_uid, pw.pw_gid)
        os.chown(tmp, pw.pw_uid, pw.pw_gid)
        os.chmod(tmp, 0o755)

    def _demote(self):
        os.setgroups([])
        os.setgid(self.pw.pw_gid)
        os.setuid(self.pw.pw_uid)

    def vessel(self, *args, timeout=60, stdio_files=False):
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": self.pw.pw_dir,
               "XDG_RUNTIME_DIR": self.xdg}
        cmd = [VESSEL] + [str(a) for a in args]
        if stdio_files:
            log = os.path.join(self.tmp, "out.log")
            with open(log, "a") as f:
                cp = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=f, env=env,
                                    preexec_fn=self._demote, timeout=timeout, cwd=self.tmp)
            cp.stdout = cp.stderr = open(log).read()
            return cp
        return subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                              env=env, preexec_fn=self._demote, timeout=timeout, cwd=self.tmp)

    def config(self, args, ranges=None):
        r = self.vessel("spec", "--rootless", "--bundle", self.bundle)
        assert r.returncode == 0, r
        path = os.path.join(self.bundle, "config.json")
        with open(path) as f:
            cfg = json.load(f)
        cfg["process"]["terminal"] = False
        cfg["process"]["args"] = args
        if ranges:
            cfg["linux"]["uidMappings"] = ranges[0]
            cfg["linux"]["gidMappings"] = ranges[1]
        os.unlink(path)
        with open(path, "w") as f:
            json.dump(cfg, f)
        os.chown(path, self.pw.pw_uid, self.pw.pw_gid)


@pytest.fixture
def rl(user):
    tmp = tempfile.mkdtemp(prefix="vessel-rootless-")
    r = Rootless(user, tmp)
    try:
        yield r
    finally:
        ids = r.vessel("list", "-q").stdout.split()
        for cid in ids:
            r.vessel("delete", "--force", cid)
        shutil.rmtree(tmp, ignore_errors=True)
        assert not ids, f"containers left behind: {ids}"


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
