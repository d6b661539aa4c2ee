"""vesselctl image templates: kept with the instance at init, rendered into
its rootfs at the triggers create (pending after init), copy, rename
(pending after rename) and start, through the hidden command
`vesselctl __apply-templates NAME TRIGGER` (what start calls); every
context variable, create_only, uid/gid/mode, properties, config_get,
hostile symlinks in the rootfs and in templates/, syntax errors.  Every
test has its own store and creates no mounts or processes."""
import json
import os
import stat
import textwrap

import pytest
import yaml

from test_vesselctl_image import ctl, fail, make_image_dir, store  # noqa: F401

ARCH = "x86_64"


def make_image(tmp_path, templates, files, name="img", rootfs_setup=None):
    """An image directory: the busybox rootfs, a metadata.yaml with the
    given templates (path -> dict) and templates/ with files."""
    md = {"architecture": ARCH, "creation_date": 1700000000,
          "properties": {"os": "busybox"}, "templates": templates}
    d = make_image_dir(tmp_path, name=name, metadata=yaml.safe_dump(md))
    for f, text in files.items():
        (d / "templates" / f).write_text(text)
    if rootfs_setup:
        rootfs_setup(d / "rootfs")
    return d


def imported(store, d, alias="img"):
    ctl(store, "image", "import", str(d), "--alias", alias)
    return alias


def rootfs(store, name):
    return os.path.join(store, "instances", name, "rootfs")


def read(store, name, path):
    with open(os.path.join(rootfs(store, name), path.lstrip("/"))) as f:
        return f.read()


def apply(store, name, trigger="start"):
    return ctl(store, "__apply-templates", name, trigger)


def config(store, name):
    return yaml.safe_load(ctl(store, "config", "show", name).stdout)["config"]


def backup(store, name):
    with open(os.path.join(store, "instances", name, "backup.yaml")) as f:
        return yaml.safe_load(f)


def pending(store, name):
    return config(store, name).get("volatile.apply_template")


def leftovers(top):
    """Temp files of a template write left anywhere under top."""
    found = []
    for d, dirs, files in os.walk(top):
        found += [os.path.join(d, f) for f in files if f.startswith(".vessel-template-")]
    return found


# --- init keeps the templates ------------------------------------------------

def test_init_keeps_metadata_and_templates(store, tmp_path):
    d = make_image(tmp_path, {"/etc/hostname": {"when": ["create"], "template": "hostname.tpl"}},
                   {})
    imported(store, d)
    ctl(store, "init", "img", "c1")
    inst = os.path.join(store, "instances", "c1")
    with open(os.path.join(inst, "metadata.yaml")) as f, open(d / "metadata.yaml") as g:
        assert f.read() == g.read()
    assert os.listdir(os.path.join(inst, "templates")) == ["hostname.tpl"]
    assert pending(store, "c1") == "create"
    assert backup(store, "c1")["config"]["volatile.apply_template"] == "create"
    # The image may go: the instance still has its templates.
    ctl(store, "image", "delete", "img")
    apply(store, "c1")
    assert read(store, "c1", "/etc/hostname") == "c1\n"
    assert pending(store, "c1") is None
    assert "volatile.apply_template" not in backup(store, "c1")["config"]


# --- the context -----------------------------------------------------------------

CONTEXT_TPL = """\
{#- every variable of the context, one per line -#}
instance: {{ instance.name }} {{ instance.type }} {{ instance.architecture }} \
{{ instance.ephemeral }} {{ instance.privileged }}
container: {{ container.name }} {{ container.type }} {{ container.architecture }} \
{{ container.ephemeral }} {{ container.privileged }}
config: {{ config["user.foo"] }} {{ config["limits.memory"] }} [{{ config.nope }}]
config_get: {{ config_get("user.foo", "d1") }} {{ config_get("user.missing", "d2") }}
devices: {{ devices.data.type }} {{ devices.data.path }} {{ devices["data"]["readonly"] }}
properties: {{ properties.greeting }} {{ properties["who"] }}
trigger: {{ trigger }}
path: {{ path }}
{% if instance.privileged == "true" and not (trigger == "start") -%}
privileged at {{ trigger }}
{% elif trigger == "start" %}start
{% else %}neither
{% endif -%}
undefined: [{{ nothing }}][{{ instance.nothing }}]
"""


def test_context_variables(store, tmp_path):
    src = tmp_path / "srv"
    src.mkdir()
    d = make_image(tmp_path, {"/etc/context": {
        "when": ["create", "start"], "template": "context.tpl",
        "properties": {"greeting": "hello", "who": "world"}}}, {"context.tpl": CONTEXT_TPL})
    imported(store, d)
    ctl(store, "profile", "set", "default", "limits.memory=1GiB")
    ctl(store, "init", "img", "c1", "-e", "-c", "user.foo=bar", "-c", "security.privileged=true")
    ctl(store, "config", "device", "add", "c1", "data", "disk", f"source={src}", "path=/srv",
        "readonly=true")
    apply(store, "c1", "create")
    want = textwrap.dedent(f"""\
        instance: c1 container {ARCH} true true
        container: c1 container {ARCH} true true
        config: bar 1GiB []
        config_get: bar d2
        devices: disk /srv true
        properties: hello world
        trigger: create
        path: /etc/context
        privileged at create
        undefined: [][]
        """)
    assert read(store, "c1", "/etc/context") == want
    # An explicit trigger other than start leaves the pending one alone.
    assert pending(store, "c1") == "create"
    ctl(store, "config", "unset", "c1", "security.privileged")
    ctl(store, "config", "set", "c1", "user.foo=baz")
    apply(store, "c1")
    got = read(store, "c1", "/etc/context")
    assert "instance: c1 container %s true false\n" % ARCH in got
    assert "config_get: baz d2\n" in got and "trigger: start\n" in got
    assert got.endswith("start\nundefined: [][]\n")
    assert pending(store, "c1") is None


# --- the triggers ------------------------------------------------------------------

TRIGGERS = {
    "/etc/t-create": {"when": ["create"], "template": "t.tpl"},
    "/etc/t-copy": {"when": ["copy"], "template": "t.tpl"},
    "/etc/t-start": {"when": ["start"], "template": "t.tpl"},
    "/etc/t-rename": {"when": ["rename"], "template": "t.tpl"},
    "/etc/t-both": {"when": ["create", "start"], "template": "t.tpl"},
}


def exists(store, name, path):
    return os.path.lexists(os.path.join(rootfs(store, name), path.lstrip("/")))


def test_create_then_start(store, tmp_path):
    imported(store, make_image(tmp_path, TRIGGERS, {"t.tpl": "{{ instance.name }} {{ trigger }}\n"}))
    ctl(store, "init", "img", "c1")
    assert not exists(store, "c1", "/etc/t-create")  # nothing before the first start
    apply(store, "c1")
    assert read(store, "c1", "/etc/t-create") == "c1 create\n"
    assert read(store, "c1", "/etc/t-start") == "c1 start\n"
    # Both triggers: the start render comes last, as applying them in turn.
    assert read(store, "c1", "/etc/t-both") == "c1 start\n"
    assert not exists(store, "c1", "/etc/t-copy") and not exists(store, "c1", "/etc/t-rename")
    # The second start: start templates again, create ones not.
    for p in ("/etc/t-create", "/etc/t-start"):
        with open(os.path.join(rootfs(store, "c1"), p.lstrip("/")), "w") as f:
            f.write("edited\n")
    apply(store, "c1")
    assert read(store, "c1", "/etc/t-create") == "edited\n"
    assert read(store, "c1", "/etc/t-start") == "c1 start\n"


def test_rename(store, tmp_path):
    imported(store, make_image(tmp_path, TRIGGERS, {"t.tpl": "{{ instance.name }} {{ trigger }}\n"}))
    ctl(store, "init", "img", "c1")
    apply(store, "c1")
    ctl(store, "rename", "c1", "c2")
    assert pending(store, "c2") == "rename"
    assert backup(store, "c2")["config"]["volatile.apply_template"] == "rename"
    apply(store, "c2")
    assert read(store, "c2", "/etc/t-rename") == "c2 rename\n"
    assert read(store, "c2", "/etc/t-create") == "c1 create\n"  # not again
    assert pending(store, "c2") is None
    # Renamed before its first start: the pending create stays, rendered
    # with the new name.
    ctl(store, "init", "img", "d1")
    ctl(store, "rename", "d1", "d2")
    assert pending(store, "d2") == "create"
    apply(store, "d2")
    assert read(store, "d2", "/etc/t-create") == "d2 create\n"
    assert not exists(store, "d2", "/etc/t-rename")


def test_copy_and_explicit_triggers(store, tmp_path):
    imported(store, make_image(tmp_path, TRIGGERS, {"t.tpl": "{{ trigger }}\n"}))
    ctl(store, "init", "img", "c1")
    apply(store, "c1")
    # volatile.apply_template may be set by the user (as in Incus): copy
    # is what `vesselctl copy` will set.
    ctl(store, "config", "set", "c1", "volatile.apply_template=copy")
    apply(store, "c1")
    assert read(store, "c1", "/etc/t-copy") == "copy\n"
    assert pending(store, "c1") is None
    apply(store, "c1", "rename")
    assert read(store, "c1", "/etc/t-rename") == "rename\n"
    msg = fail(store, "config", "set", "c1", "volatile.apply_template=start")
    assert msg == ('vesselctl: instance "c1": volatile.apply_template: "start" is not a '
                   'template trigger (create, copy or rename)')
    assert "unknown configuration key" in fail(store, "config", "set", "c1", "volatile.other=1")
    msg = fail(store, "profile", "set", "default", "volatile.apply_template=create")
    assert "volatile.apply_template: an instance's own key, not for profiles" in msg


def test_no_templates(store, tmp_path):
    imported(store, make_image(tmp_path, {}, {}))
    ctl(store, "init", "img", "c1")
    before = sorted(os.listdir(os.path.join(rootfs(store, "c1"), "etc")))
    apply(store, "c1")
    assert sorted(os.listdir(os.path.join(rootfs(store, "c1"), "etc"))) == before
    assert pending(store, "c1") is None


# --- create_only, owner and mode ------------------------------------------------------

def test_create_only(store, tmp_path):
    def setup(r):
        (r / "etc" / "kept").write_text("from the image\n")
    imported(store, make_image(tmp_path, {
        "/etc/kept": {"when": ["create"], "template": "t.tpl", "create_only": True},
        "/etc/new": {"when": ["create", "start"], "template": "t.tpl", "create_only": True},
        "/etc/overwritten": {"when": ["start"], "template": "t.tpl"},
    }, {"t.tpl": "{{ trigger }}\n"}, rootfs_setup=setup))
    ctl(store, "init", "img", "c1")
    with open(os.path.join(rootfs(store, "c1"), "etc", "overwritten"), "w") as f:
        f.write("old\n")
    apply(store, "c1")
    assert read(store, "c1", "/etc/kept") == "from the image\n"
    # Written by create; start (create_only) does not overwrite it.
    assert read(store, "c1", "/etc/new") == "create\n"
    assert read(store, "c1", "/etc/overwritten") == "start\n"
    apply(store, "c1")
    assert read(store, "c1", "/etc/new") == "create\n"


def test_uid_gid_mode(store, tmp_path):
    imported(store, make_image(tmp_path, {
        "/etc/owned": {"when": ["start"], "template": "t.tpl", "uid": "1000", "gid": "100",
                       "mode": "0640"},
        "/etc/setuid": {"when": ["start"], "template": "t.tpl", "uid": "5", "mode": "4755"},
        "/etc/default": {"when": ["start"], "template": "t.tpl"},
        "/new/deep/dir/file": {"when": ["start"], "template": "t.tpl"},
    }, {"t.tpl": "x\n"}))
    ctl(store, "init", "img", "c1")
    apply(store, "c1")
    r = rootfs(store, "c1")
    st = os.lstat(os.path.join(r, "etc/owned"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 100, 0o640)
    st = os.lstat(os.path.join(r, "etc/setuid"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (5, 0, 0o4755)
    st = os.lstat(os.path.join(r, "etc/default"))
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o644)
    assert read(store, "c1", "/new/deep/dir/file") == "x\n"
    assert stat.S_ISDIR(os.lstat(os.path.join(r, "new/deep")).st_mode)
    assert leftovers(r) == []


@pytest.mark.parametrize("field,value,msg", [
    ("mode", "0999", 'mode "0999" is not an octal mode (like 0644)'),
    ("mode", "rw", 'mode "rw" is not an octal mode (like 0644)'),
    ("uid", "root", 'uid "root" is not a number'),
    ("gid", "-1", 'gid "-1" is not a number'),
])
def test_bad_owner_or_mode(store, tmp_path, field, value, msg):
    imported(store, make_image(tmp_path, {
        "/etc/good": {"when": ["create"], "template": "t.tpl"},
        "/etc/bad": {"when": ["create"], "template": "t.tpl", field: value},
    }, {"t.tpl": "x\n"}))
    ctl(store, "init", "img", "c1")
    got = fail(store, "__apply-templates", "c1", "start")
    assert got == f'vesselctl: instance "c1": template /etc/bad: {msg}'
    assert not exists(store, "c1", "/etc/good") and not exists(store, "c1", "/etc/bad")
    assert pending(store, "c1") == "create"


# --- errors leave nothing half-written ---------------------------------------------------

def test_syntax_error(store, tmp_path):
    imported(store, make_image(tmp_path, {
        "/etc/a-good": {"when": ["create"], "template": "good.tpl"},
        "/etc/hostname": {"when": ["create"], "template": "hostname.tpl"},
        "/etc/z-start": {"when": ["start"], "template": "good.tpl"},
    }, {"good.tpl": "fine\n", "hostname.tpl": "{{ instance.name }}\n\n{% for x in y %}\n"}))
    ctl(store, "init", "img", "c1")
    before = read(store, "c1", "/etc/hostname")
    msg = fail(store, "__apply-templates", "c1", "start")
    assert msg == 'vesselctl: instance "c1": template hostname.tpl:3: unknown tag "for"'
    assert read(store, "c1", "/etc/hostname") == before
    assert not exists(store, "c1", "/etc/a-good") and not exists(store, "c1", "/etc/z-start")
    assert leftovers(rootfs(store, "c1")) == []
    assert pending(store, "c1") == "create"


def test_missing_template_file(store, tmp_path):
    d = make_image(tmp_path, {"/etc/a": {"when": ["create"], "template": "good.tpl"},
                              "/etc/b": {"when": ["create"], "template": "missing.tpl"}},
                   {"good.tpl": "fine\n"})
    imported(store, d)
    ctl(store, "init", "img", "c1")
    msg = fail(store, "__apply-templates", "c1", "start")
    assert msg == ('vesselctl: instance "c1": template /etc/b: templates/missing.tpl: '
                   'No such file or directory')
    assert not exists(store, "c1", "/etc/a")


def test_relative_path_in_instance_metadata(store, tmp_path):
    imported(store, make_image(tmp_path, {"/etc/a": {"when": ["start"], "template": "t.tpl"}},
                               {"t.tpl": "x\n"}))
    ctl(store, "init", "img", "c1")
    meta = os.path.join(store, "instances", "c1", "metadata.yaml")
    with open(meta) as f:
        text = f.read()
    with open(meta, "w") as f:
        f.write(text.replace("/etc/a:", "etc/a:"))
    msg = fail(store, "__apply-templates", "c1", "start")
    assert "instances/c1/metadata.yaml" in msg and "etc/a" in msg and "absolute path" in msg
    assert not exists(store, "c1", "/etc/a")


def test_template_symlink_out_of_templates(store, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("host secret\n")
    d = make_image(tmp_path, {"/etc/leak": {"when": ["start"], "template": "leak.tpl"}}, {})
    os.symlink(str(secret), d / "templates" / "leak.tpl")
    imported(store, d)
    ctl(store, "init", "img", "c1")
    msg = fail(store, "__apply-templates", "c1", "start")
    assert msg == ('vesselctl: instance "c1": template /etc/leak: templates/leak.tpl: '
                   'a symlink (refused)')
    assert not exists(store, "c1", "/etc/leak")


def test_a_directory_in_the_way(store, tmp_path):
    def setup(r):
        (r / "etc" / "adir").mkdir()
    imported(store, make_image(tmp_path, {"/etc/adir": {"when": ["start"], "template": "t.tpl"},
                                          "/etc/ok": {"when": ["start"], "template": "t.tpl"}},
                               {"t.tpl": "x\n"}, rootfs_setup=setup))
    ctl(store, "init", "img", "c1")
    msg = fail(store, "__apply-templates", "c1", "start")
    assert msg == 'vesselctl: instance "c1": template /etc/adir: /etc/adir: a directory is there'
    assert not exists(store, "c1", "/etc/ok")
    assert leftovers(rootfs(store, "c1")) == []


# --- hostile symlinks in the rootfs ---------------------------------------------------------

def test_hostile_symlinks_stay_inside(store, tmp_path):
    """The image's rootfs points its paths at the host: an absolute
    symlink for a directory, one for the file itself, and a relative one
    climbing out with ..; every write lands inside the rootfs."""
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim"
    victim.write_text("host file\n")
    up = "../" * 12

    def setup(r):
        os.symlink(str(outside), r / "hostetc")                 # /hostetc -> /tmp/.../outside
        os.symlink(str(victim), r / "etc" / "victim")           # /etc/victim -> host file
        os.symlink(up + str(outside).lstrip("/"), r / "climb")  # ../../.. out of the root
        os.symlink(str(outside / "newdir"), r / "dangling")     # a dangling absolute dir
    imported(store, make_image(tmp_path, {
        "/hostetc/hostname": {"when": ["start"], "template": "t.tpl"},
        "/etc/victim": {"when": ["start"], "template": "t.tpl"},
        "/climb/x": {"when": ["start"], "template": "t.tpl"},
        "/dangling/y": {"when": ["start"], "template": "t.tpl"},
    }, {"t.tpl": "written by {{ path }}\n"}, rootfs_setup=setup))
    ctl(store, "init", "img", "c1")
    apply(store, "c1")
    # Nothing outside changed or appeared.
    assert sorted(os.listdir(outside)) == ["victim"]
    assert victim.read_text() == "host file\n"
    # Inside: the symlinks resolved as if the rootfs were /.
    r = rootfs(store, "c1")
    inside = os.path.join(r, str(outside).lstrip("/"))
    assert open(os.path.join(inside, "hostname")).read() == "written by /hostetc/hostname\n"
    assert open(os.path.join(inside, "x")).read() == "written by /climb/x\n"
    assert open(os.path.join(inside, "newdir", "y")).read() == "written by /dangling/y\n"
    # The file's own symlink is replaced by the file.
    assert not os.path.islink(os.path.join(r, "etc", "victim"))
    assert read(store, "c1", "/etc/victim") == "written by /etc/victim\n"
    assert leftovers(r) == []


# --- the hidden command ---------------------------------------------------------------------

def test_hidden_command(store, tmp_path):
    assert "__apply-templates" not in ctl(store, "--help").stdout
    imported(store, make_image(tmp_path, {}, {}))
    ctl(store, "init", "img", "c1")
    assert "unknown trigger \"boot\"" in fail(store, "__apply-templates", "c1", "boot")
    assert "usage: vesselctl __apply-templates NAME TRIGGER" in fail(store, "__apply-templates", "c1")
    assert fail(store, "__apply-templates", "nope", "start") == \
        'vesselctl: instance "nope": no such instance'
    j = json.loads(ctl(store, "list", "-f", "json").stdout)
    assert j[0]["config"] == {"volatile.apply_template": "create"}
