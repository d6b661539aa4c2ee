"""Templates applied by a real `vesselctl launch`/`start` (right before the
container is created): busybox's init boots with the rendered files, and
a template with a syntax error fails the start with nothing running.  The
fixtures of test_vesselctl_lifecycle.py delete every instance and check
that no monitor, cgroup or runtime state is left."""
import os

import yaml

from test_vesselctl_image import ctl, fail
from test_vesselctl_lifecycle import make_boot_image, monitors, state, store, wait_log  # noqa: F401

TEMPLATES = {
    "/etc/hostname": {"when": ["create", "rename"], "template": "hostname.tpl"},
    "/etc/boot-count": {"when": ["start"], "template": "start.tpl",
                        "properties": {"who": "vessel"}},
}


def boot_image(tmp_path, files):
    d = make_boot_image(tmp_path)
    md = {"architecture": "x86_64", "creation_date": 1700000000, "templates": TEMPLATES}
    (d / "metadata.yaml").write_text(yaml.safe_dump(md))
    (d / "templates").mkdir()
    for f, text in files.items():
        (d / "templates" / f).write_text(text)
    # The init prints what the templates wrote, once booted.
    (d / "rootfs" / "etc" / "inittab").write_text(
        "::sysinit:/bin/sh -c 'echo tpl: $(cat /etc/hostname) $(cat /etc/boot-count)'\n"
        "::askfirst:-/bin/sh\n")
    return d


def rootfile(store, name, path):
    with open(os.path.join(store, "instances", name, "rootfs", path.lstrip("/"))) as f:
        return f.read()


def test_launch_renders_before_boot(store, tmp_path):
    d = boot_image(tmp_path, {"hostname.tpl": "{{ instance.name }}\n",
                              "start.tpl": "{{ trigger }} by {{ properties.who }}\n"})
    ctl(store, "image", "import", str(d), "--alias", "tpl")
    ctl(store, "launch", "tpl", "web1")
    wait_log(store, "web1", "tpl: web1 start by vessel")
    cfg = yaml.safe_load(ctl(store, "config", "show", "web1").stdout)["config"]
    assert "volatile.apply_template" not in cfg
    ctl(store, "stop", "-f", "web1")
    ctl(store, "rename", "web1", "web2")
    with open(os.path.join(store, "instances", "web2", "rootfs", "etc", "boot-count"), "w") as f:
        f.write("stale\n")
    ctl(store, "start", "web2")
    wait_log(store, "web2", "tpl: web2 start by vessel")
    assert rootfile(store, "web2", "/etc/hostname") == "web2\n"
    ctl(store, "stop", "-f", "web2")


def test_start_with_a_syntax_error(store, tmp_path):
    d = boot_image(tmp_path, {"hostname.tpl": "{{ instance.name }}\n",
                              "start.tpl": "{% if trigger %}\nno endif\n"})
    ctl(store, "image", "import", str(d), "--alias", "tpl")
    ctl(store, "init", "tpl", "c1")
    msg = fail(store, "start", "c1")
    assert msg == ('vesselctl: instance "c1": template start.tpl:1: {% if %} is not closed by '
                   '{% endif %}')
    assert state(store, "c1") == "Stopped"
    assert monitors(store) == []
    assert not os.path.exists(os.path.join(store, "instances", "c1", "rootfs", "etc",
                                           "boot-count"))
    assert rootfile(store, "c1", "/etc/hostname") != "c1\n"  # the create one neither
    cfg = yaml.safe_load(ctl(store, "config", "show", "c1").stdout)["config"]
    assert cfg["volatile.apply_template"] == "create"
