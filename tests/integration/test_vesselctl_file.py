"""vesselctl file push|pull|delete: files and trees, standard input and
output, -p, modes and owners, delete; hostile symlinks in the rootfs for
every verb (absolute, relative "..", a symlinked parent directory, a
symlink as the last component), a missing instance, a missing path.
Every test has its own store and its own host directory standing in for
what a hostile symlink would reach on the host."""
import os
import stat
import subprocess

import pytest

from test_vesselctl_image import VESSELCTL, ctl, fail, make_image_dir  # noqa: F401
# The store fixture of the running instances' tests: it also stops what a
# test left running and checks that no monitor, cgroup or state remains.
from test_vesselctl_lifecycle import img, store  # noqa: F401


@pytest.fixture
def inst(store, tmp_path):
    ctl(store, "image", "import", str(make_image_dir(tmp_path)), "--alias", "busybox")
    ctl(store, "init", "busybox", "c1")
    return store


def rootfs(store, name="c1"):
    return os.path.join(store, "instances", name, "rootfs")


def rpath(store, path):
    return os.path.join(rootfs(store), path.lstrip("/"))


def write(path, data, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(data)
    os.chmod(path, mode)


def readf(path):
    with open(path) as f:
        return f.read()


@pytest.fixture
def host(tmp_path):
    """A host directory with a "secret" file: the target of the hostile
    symlinks; tests assert it is never read, written or removed."""
    d = tmp_path / "host"
    d.mkdir()
    write(str(d / "secret"), "host secret\n", 0o600)
    return str(d)


def assert_host_intact(host):
    assert sorted(os.listdir(host)) == ["secret"]
    assert readf(os.path.join(host, "secret")) == "host secret\n"


# --- push --------------------------------------------------------------------

def test_push_file(inst, tmp_path):
    src = str(tmp_path / "hello.txt")
    write(src, "hello\n", 0o640)
    os.chown(src, 1234, 1234)
    ctl(inst, "file", "push", src, "c1/root/greeting")
    st = os.lstat(rpath(inst, "/root/greeting"))
    assert readf(rpath(inst, "/root/greeting")) == "hello\n"
    assert stat.S_IMODE(st.st_mode) == 0o640 and (st.st_uid, st.st_gid) == (0, 0)
    # Into an existing directory, by its name, and with a trailing '/'.
    ctl(inst, "file", "push", src, "c1/root")
    ctl(inst, "file", "push", src, "c1/tmp/")
    assert readf(rpath(inst, "/root/hello.txt")) == "hello\n"
    assert readf(rpath(inst, "/tmp/hello.txt")) == "hello\n"
    # Overwrite, with owner and mode.
    write(src, "again\n")
    ctl(inst, "file", "push", src, "c1/root/greeting", "--uid", "1000", "--gid", "100",
        "--mode", "4755")
    st = os.lstat(rpath(inst, "/root/greeting"))
    assert readf(rpath(inst, "/root/greeting")) == "again\n"
    assert (st.st_uid, st.st_gid) == (1000, 100) and stat.S_IMODE(st.st_mode) == 0o4755
    # Several sources need a directory; nothing is left beside the files.
    src2 = str(tmp_path / "two.txt")
    write(src2, "two\n")
    ctl(inst, "file", "push", src, src2, "c1/etc/")
    assert readf(rpath(inst, "/etc/two.txt")) == "two\n"
    assert "several sources need a directory" in \
        fail(inst, "file", "push", src, src2, "c1/etc/nothere")
    assert not [n for n in os.listdir(rpath(inst, "/root")) if n.startswith(".vessel")]


def test_push_stdin_and_parents(inst):
    ctl(inst, "file", "push", "-", "c1/root/from-stdin", input="piped\n")
    assert readf(rpath(inst, "/root/from-stdin")) == "piped\n"
    assert stat.S_IMODE(os.stat(rpath(inst, "/root/from-stdin")).st_mode) == 0o644
    err = fail(inst, "file", "push", "-", "c1/etc/nope/x")
    assert err == 'vesselctl: instance "c1": /etc/nope/x: No such file or directory ' \
        "(use -p to create parents)"
    assert not os.path.exists(rpath(inst, "/etc/nope"))
    ctl(inst, "file", "push", "-p", "--uid", "7", "--gid", "8", "-", "c1/etc/nope/deep/x",
        input="deep\n")
    assert readf(rpath(inst, "/etc/nope/deep/x")) == "deep\n"
    st = os.stat(rpath(inst, "/etc/nope/deep"))
    assert (st.st_uid, st.st_gid) == (7, 8) and stat.S_IMODE(st.st_mode) == 0o755
    assert "standard input needs a file name" in fail(inst, "file", "push", "-", "c1/etc/")


def test_push_recursive(inst, tmp_path):
    tree = tmp_path / "site"
    write(str(tree / "index.html"), "<h1>hi</h1>\n", 0o600)
    write(str(tree / "sub" / "run.sh"), "#!/bin/sh\n", 0o755)
    os.chmod(str(tree / "sub"), 0o750)
    os.symlink("../index.html", str(tree / "sub" / "link"))
    ctl(inst, "file", "push", "-r", "-p", str(tree), "c1/srv/www")
    base = rpath(inst, "/srv/www/site")
    assert readf(os.path.join(base, "index.html")) == "<h1>hi</h1>\n"
    assert stat.S_IMODE(os.stat(os.path.join(base, "index.html")).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.join(base, "sub")).st_mode) == 0o750
    assert stat.S_IMODE(os.stat(os.path.join(base, "sub", "run.sh")).st_mode) == 0o755
    assert os.readlink(os.path.join(base, "sub", "link")) == "../index.html"
    assert os.lstat(os.path.join(base, "sub", "link")).st_uid == 0
    # Again over the existing tree, with an owner.
    ctl(inst, "file", "push", "-r", "--uid", "33", str(tree), "c1/srv/www")
    assert os.stat(os.path.join(base, "sub", "run.sh")).st_uid == 33
    assert "--mode cannot be used with -r" in \
        fail(inst, "file", "push", "-r", "--mode", "0644", str(tree), "c1/srv/www")
    assert "is a directory (use -r)" in fail(inst, "file", "push", str(tree), "c1/srv/")
    assert "(use -p to create parents)" in fail(inst, "file", "push", "-r", str(tree), "c1/nope")


def test_push_bad_input(inst, tmp_path):
    src = str(tmp_path / "f")
    write(src, "x")
    assert 'instance "nope": no such instance' in fail(inst, "file", "push", src, "nope/tmp/f")
    assert "expected NAME/PATH" in fail(inst, "file", "push", src, "c1")
    assert "not an octal mode" in fail(inst, "file", "push", "--mode", "9", src, "c1/tmp/f")
    assert "not a user or group id" in fail(inst, "file", "push", "--uid", "-3", src, "c1/tmp/f")
    assert "No such file or directory" in fail(inst, "file", "push", str(tmp_path / "missing"),
                                               "c1/tmp/f")
    assert not os.path.exists(rpath(inst, "/tmp/f"))


# --- hostile symlinks ---------------------------------------------------------

def hostile(inst, host):
    """The hostile layouts: /abs -> HOST (absolute), /rel -> ../../../..HOST
    (".." past the root), /etc/dirlink -> HOST (a symlinked parent), and
    /etc/leaf -> HOST/secret (the last component)."""
    os.symlink(host, rpath(inst, "/abs"))
    os.symlink("../../../../../../../../.." + host, rpath(inst, "/rel"))
    os.symlink(host, rpath(inst, "/etc/dirlink"))
    os.symlink(os.path.join(host, "secret"), rpath(inst, "/etc/leaf"))


def test_push_hostile_symlinks(inst, host, tmp_path):
    hostile(inst, host)
    src = str(tmp_path / "payload")
    write(src, "payload\n")
    # Parents through symlinks resolve inside the root: the host path does
    # not exist there, so without -p it is an error ...
    for target in ("c1/abs/secret", "c1/rel/secret", "c1/etc/dirlink/secret", "c1/abs/new"):
        assert "No such file or directory" in fail(inst, "file", "push", src, target)
    assert_host_intact(host)
    # ... and with -p it lands inside the root.
    ctl(inst, "file", "push", "-p", src, "c1/abs/secret")
    ctl(inst, "file", "push", "-p", src, "c1/rel/other")
    ctl(inst, "file", "push", "-p", src, "c1/etc/dirlink/third")
    inside = rpath(inst, host)
    assert sorted(os.listdir(inside)) == ["other", "secret", "third"]
    assert readf(os.path.join(inside, "secret")) == "payload\n"
    assert_host_intact(host)
    # The last component is replaced, never written through.
    ctl(inst, "file", "push", src, "c1/etc/leaf")
    assert not os.path.islink(rpath(inst, "/etc/leaf"))
    assert readf(rpath(inst, "/etc/leaf")) == "payload\n"
    assert_host_intact(host)
    # A recursive push through the symlinked parent lands inside too.
    tree = tmp_path / "tree"
    write(str(tree / "f"), "f\n")
    ctl(inst, "file", "push", "-r", str(tree), "c1/etc/dirlink")
    assert readf(os.path.join(inside, "tree", "f")) == "f\n"
    assert_host_intact(host)
    # A tree whose directory name is a symlink in the instance is refused.
    os.makedirs(rpath(inst, "/srv"))
    os.symlink(host, rpath(inst, "/srv/tree"))
    assert "exists and is not a directory" in fail(inst, "file", "push", "-r", str(tree),
                                                   "c1/srv")
    assert_host_intact(host)


def test_pull_hostile_symlinks(inst, host, tmp_path):
    hostile(inst, host)
    write(rpath(inst, os.path.join(host, "secret")), "inside\n")
    out = str(tmp_path / "out")
    for src in ("c1/abs/secret", "c1/rel/secret", "c1/etc/dirlink/secret", "c1/etc/leaf"):
        assert ctl(inst, "file", "pull", src, "-").stdout == "inside\n", src
        ctl(inst, "file", "pull", src, out)
        assert readf(out) == "inside\n"
    os.unlink(rpath(inst, os.path.join(host, "secret")))
    for src in ("c1/abs/secret", "c1/rel/secret", "c1/etc/dirlink/secret", "c1/etc/leaf"):
        assert "No such file or directory" in fail(inst, "file", "pull", src, "-")
    # A recursive pull copies symlinks as symlinks, never their targets.
    out_dir = str(tmp_path / "etc-copy")
    ctl(inst, "file", "pull", "-r", "c1/etc", out_dir)
    assert os.readlink(os.path.join(out_dir, "etc", "leaf")) == os.path.join(host, "secret")
    assert os.path.islink(os.path.join(out_dir, "etc", "dirlink"))
    # Device nodes are never opened.
    os.mknod(rpath(inst, "/dev-null"), 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    assert "not a regular file" in fail(inst, "file", "pull", "c1/dev-null", "-")
    assert_host_intact(host)


def test_delete_hostile_symlinks(inst, host):
    hostile(inst, host)
    write(rpath(inst, os.path.join(host, "secret")), "inside\n")
    ctl(inst, "file", "delete", "c1/abs/secret")
    assert not os.path.exists(rpath(inst, os.path.join(host, "secret")))
    assert_host_intact(host)
    for p in ("c1/rel/secret", "c1/etc/dirlink/secret"):
        assert "No such file or directory" in fail(inst, "file", "delete", p)
        ctl(inst, "file", "delete", "-f", p)
    ctl(inst, "file", "delete", "-f", "c1/etc/dirlink/")
    ctl(inst, "file", "delete", "c1/etc/leaf")
    assert not os.path.lexists(rpath(inst, "/etc/leaf"))
    assert not os.path.lexists(rpath(inst, "/etc/dirlink"))
    assert_host_intact(host)
    # -f on a symlink to a host directory removes the link, not the tree.
    ctl(inst, "file", "delete", "-f", "c1/abs", "c1/rel")
    assert not os.path.lexists(rpath(inst, "/abs"))
    assert_host_intact(host)


# --- pull --------------------------------------------------------------------

def test_pull_files(inst, tmp_path):
    write(rpath(inst, "/etc/motd"), "welcome\n", 0o4755)
    write(rpath(inst, "/etc/issue"), "issue\n", 0o600)
    out = tmp_path / "out"
    out.mkdir()
    ctl(inst, "file", "pull", "c1/etc/motd", str(out))
    assert readf(str(out / "motd")) == "welcome\n"
    # Set-id bits are dropped on the host.
    assert stat.S_IMODE(os.stat(str(out / "motd")).st_mode) == 0o755
    ctl(inst, "file", "pull", "c1/etc/issue", str(out / "renamed"))
    assert readf(str(out / "renamed")) == "issue\n"
    assert stat.S_IMODE(os.stat(str(out / "renamed")).st_mode) == 0o600
    # Several sources: a directory, created when missing.
    ctl(inst, "file", "pull", "c1/etc/motd", "c1/etc/issue", str(out / "both"))
    assert sorted(os.listdir(str(out / "both"))) == ["issue", "motd"]
    ctl(inst, "file", "pull", "c1/etc/motd", str(out / "slash") + "/")
    assert readf(str(out / "slash" / "motd")) == "welcome\n"
    assert "several sources need a directory" in \
        fail(inst, "file", "pull", "c1/etc/motd", "c1/etc/issue", str(out / "renamed"))
    # -p creates the host parents.
    assert fail(inst, "file", "pull", "c1/etc/motd", str(out / "a" / "b" / "motd")) == \
        f"vesselctl: {out}/a/b/motd: No such file or directory (use -p to create parents)"
    ctl(inst, "file", "pull", "-p", "c1/etc/motd", str(out / "a" / "b" / "motd"))
    assert readf(str(out / "a" / "b" / "motd")) == "welcome\n"
    assert ctl(inst, "file", "pull", "c1/etc/motd", "c1/etc/issue", "-").stdout == \
        "welcome\nissue\n"


def test_pull_recursive(inst, tmp_path):
    write(rpath(inst, "/srv/app/conf/a.conf"), "a\n", 0o640)
    os.symlink("conf/a.conf", rpath(inst, "/srv/app/current"))
    os.chmod(rpath(inst, "/srv/app/conf"), 0o700)
    assert "is a directory (use -r)" in fail(inst, "file", "pull", "c1/srv/app", str(tmp_path))
    assert "cannot be written to standard output" in \
        fail(inst, "file", "pull", "-r", "c1/srv/app", "-")
    dest = str(tmp_path / "copy")
    ctl(inst, "file", "pull", "-r", "c1/srv/app", dest)
    assert readf(os.path.join(dest, "app", "conf", "a.conf")) == "a\n"
    assert stat.S_IMODE(os.stat(os.path.join(dest, "app", "conf")).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(os.path.join(dest, "app", "conf", "a.conf")).st_mode) == 0o640
    assert os.readlink(os.path.join(dest, "app", "current")) == "conf/a.conf"
    # Again into the existing copy.
    ctl(inst, "file", "pull", "-r", "c1/srv/app", dest)
    assert readf(os.path.join(dest, "app", "current")) == "a\n"


def test_pull_bad_input(inst, tmp_path):
    assert fail(inst, "file", "pull", "c1/etc/nothing", str(tmp_path)) == \
        'vesselctl: instance "c1": /etc/nothing: No such file or directory'
    assert 'instance "nope": no such instance' in \
        fail(inst, "file", "pull", "nope/etc/passwd", str(tmp_path))
    assert "expected NAME/PATH" in fail(inst, "file", "pull", "/etc/passwd", str(tmp_path))
    assert sorted(os.listdir(str(tmp_path))) == ["img", "store"]


# --- delete ------------------------------------------------------------------

def test_delete(inst):
    write(rpath(inst, "/tmp/a"), "a")
    write(rpath(inst, "/tmp/b"), "b")
    write(rpath(inst, "/tmp/tree/x/y"), "y")
    os.makedirs(rpath(inst, "/tmp/empty"))
    ctl(inst, "file", "delete", "c1/tmp/a", "c1/tmp/b", "c1/tmp/empty")
    assert sorted(os.listdir(rpath(inst, "/tmp"))) == ["tree"]
    assert fail(inst, "file", "delete", "c1/tmp/tree") == \
        'vesselctl: instance "c1": /tmp/tree: Directory not empty (use -f to delete a tree)'
    ctl(inst, "file", "delete", "-f", "c1/tmp/tree")
    assert os.listdir(rpath(inst, "/tmp")) == []
    assert fail(inst, "file", "delete", "c1/tmp/gone") == \
        'vesselctl: instance "c1": /tmp/gone: No such file or directory'
    ctl(inst, "file", "delete", "-f", "c1/tmp/gone")
    assert "the root cannot be deleted" in fail(inst, "file", "delete", "-f", "c1/")
    assert 'instance "nope": no such instance' in fail(inst, "file", "delete", "nope/tmp")
    assert os.path.isfile(rpath(inst, "/bin/busybox"))


# --- a running instance ---------------------------------------------------------

def test_running_instance(img):  # noqa: F811
    """The rootfs of a running instance is the one its processes see; what
    is mounted inside it (the /run tmpfs) is not seen."""
    ctl(img, "launch", "boot", "r1")
    ctl(img, "file", "push", "-", "r1/root/live", input="live\n")
    assert ctl(img, "exec", "r1", "--", "cat", "/root/live").stdout == "live\n"
    ctl(img, "exec", "r1", "--", "sh", "-c", "echo made > /root/inside")
    assert ctl(img, "file", "pull", "r1/root/inside", "-").stdout == "made\n"
    ctl(img, "file", "delete", "r1/root/inside")
    assert ctl(img, "exec", "r1", "--", "ls", "/root").stdout.split() == ["live"]
    ctl(img, "exec", "r1", "--", "sh", "-c", "echo x > /run/only-inside")
    assert "No such file or directory" in fail(img, "file", "pull", "r1/run/only-inside", "-")
    ctl(img, "stop", "r1", "-f")
    assert readf(os.path.join(rootfs(img, "r1"), "root", "live")) == "live\n"


def test_help(store):  # noqa: F811
    for sub in ("push", "pull", "delete"):
        assert ctl(store, "file", sub, "--help").stdout.startswith("Usage: vesselctl file " + sub)
    out = ctl(store, "file", "--help").stdout
    assert "push" in out and "pull" in out and "delete" in out
    assert "\n  file " in ctl(store, "--help").stdout
