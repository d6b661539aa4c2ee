"""Idmapped mounts: a host directory owned by host root appears owned by
the container's root in a container whose root is host uid 100000."""
import os

MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


def _userns(env):
    os.chmod(env.tmp, 0o755)
    env.config["linux"]["namespaces"].append({"type": "user"})
    env.config["linux"]["uidMappings"] = MAP
    env.config["linux"]["gidMappings"] = MAP
    env.config["mounts"] = [m for m in env.config["mounts"] if m["type"] != "devpts"]


def _host_dir(env):
    # The mount point exists: the container's root (host 100000) could not create it.
    os.makedirs(os.path.join(env.rootfs, "data"), exist_ok=True)
    d = os.path.join(env.tmp, "data")
    os.makedirs(d)
    with open(os.path.join(d, "file"), "w") as f:
        f.write("hello")
    os.chown(d, 0, 0)
    return d


def test_without_idmap_files_are_nobodys(env):
    _userns(env)
    d = _host_dir(env)
    env.config["mounts"].append({"destination": "/data", "type": "bind", "source": d,
                                 "options": ["bind"]})
    r = env.sh("stat -c %u:%g /data/file")
    assert r.returncode == 0, r
    assert r.stdout.strip() == "65534:65534", r


def test_idmap_option_uses_the_containers_mapping(env):
    _userns(env)
    d = _host_dir(env)
    env.config["mounts"].append({"destination": "/data", "type": "bind", "source": d,
                                 "options": ["bind", "idmap"]})
    r = env.sh("stat -c %u:%g /data/file; echo more >> /data/file && echo written")
    assert r.returncode == 0, r
    assert r.stdout.split() == ["0:0", "written"], r
    # Written through the idmapped mount as container root = host root here.
    st = os.stat(os.path.join(d, "file"))
    assert (st.st_uid, st.st_gid) == (0, 0)
    with open(os.path.join(d, "file")) as f:
        assert f.read() == "hellomore\n"


def test_mount_mappings_of_its_own(env):
    """Mount-level maps (no user namespace): as with runc, a mapping
    containerID -> hostID shows a file owned by containerID on disk as
    hostID, here 1000:2000 on disk as 0:0."""
    d = _host_dir(env)
    os.chown(os.path.join(d, "file"), 1000, 2000)
    env.config["mounts"].append({"destination": "/data", "type": "bind", "source": d,
                                 "options": ["bind"],
                                 "uidMappings": [{"containerID": 1000, "hostID": 0, "size": 1}],
                                 "gidMappings": [{"containerID": 2000, "hostID": 0, "size": 1}]})
    r = env.sh("stat -c %u:%g /data/file")
    assert r.returncode == 0, r
    assert r.stdout.strip() == "0:0", r


def test_idmap_needs_a_bind_mount(env):
    _userns(env)
    env.config["mounts"].append({"destination": "/t", "type": "tmpfs", "source": "tmpfs",
                                 "options": ["idmap"]})
    r = env.sh("true")
    assert r.returncode != 0
    assert "mounts[" in r.stderr and "bind" in r.stderr, r
    assert env.ids() == []


def test_idmap_needs_mappings(env):
    d = _host_dir(env)
    env.config["mounts"].append({"destination": "/data", "type": "bind", "source": d,
                                 "options": ["bind", "idmap"]})
    r = env.sh("true")
    assert r.returncode != 0
    assert "uidMappings" in r.stderr, r
