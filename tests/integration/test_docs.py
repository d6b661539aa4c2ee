"""The man pages and bash completions against the binaries: every command
(and subcommand) that `vessel --help` and `vesselctl --help` show is in
its man page and completes; every long option of a command's --help is in
the man page; the pages build with scdoc and render with man -l; the
completion completes `vesselctl sta` to `start` and instance names after
`vesselctl start `.  Commands come from --help, so a command added
without its documentation makes these tests fail."""
import os
import re
import shlex
import subprocess

import pytest

from conftest import REPO, VESSEL
from test_lifecycle import vessel_files
from test_vesselctl_image import VESSELCTL, ctl, make_image_dir, store  # noqa: F401

MAN = os.path.join(REPO, "docs", "man")
COMPLETION = os.path.join(REPO, "data", "completion")
GROUPS = {"vessel": [], "vesselctl": ["image", "config", "profile", "storage", "snapshot", "file"]}
NESTED = {("image", "alias"), ("config", "device"), ("profile", "device"),
          ("storage", "volume")}


def binary(tool):
    return VESSEL if tool == "vessel" else VESSELCTL


def help_text(tool, *args, store_dir=None):
    pre = ["--store", store_dir] if store_dir else []
    r = subprocess.run([binary(tool), *pre, *args, "--help"], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, (tool, args, r.stderr)
    return r.stdout


def commands(text):
    """The names of a --help's "Commands:" section."""
    out, inside = [], False
    for line in text.splitlines():
        if line.startswith("Commands:"):
            inside = True
        elif inside and not line.strip():
            break
        elif inside:
            m = re.match(r"  ([a-z][a-z0-9-]*) ", line)
            if m:
                out.append(m.group(1))
    assert out, text
    return out


def page(tool):
    with open(os.path.join(MAN, tool + ".1.scd")) as f:
        return f.read()


def complete(tool, *words, store_dir=None):
    """COMPREPLY of the completion function for the command line `words`
    (the last one is being completed)."""
    pre = ["--store", store_dir] if store_dir else []
    line = [binary(tool), *pre, *words]
    script = (f"source {shlex.quote(os.path.join(COMPLETION, tool))}\n"
              f"COMP_WORDS=({' '.join(shlex.quote(w) for w in line)})\n"
              f"COMP_CWORD={len(line) - 1}\n"
              f"_{tool}\n"
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return [w for w in r.stdout.splitlines() if w]


@pytest.mark.parametrize("tool", ["vessel", "vesselctl"])
def test_every_command_documented_and_completed(tool, tmp_path):
    src = page(tool)
    top = commands(help_text(tool))
    left = set(top) - set(complete(tool, ""))
    assert not left, f"{tool}: missing from the completion: {sorted(left)}"
    for c in top:
        assert re.search(rf"^\*{re.escape(c)}[* ]", src, re.M), f"{tool} {c}: not in the man page"
    for g in GROUPS[tool]:
        subs = commands(help_text(tool, g, store_dir=str(tmp_path / "s")))
        left = set(subs) - set(complete(tool, g, ""))
        assert not left, f"{tool} {g}: missing from the completion: {sorted(left)}"
        for s in subs:
            if (g, s) in NESTED:
                continue
            assert re.search(rf"^\*{g} {s}[* ]", src, re.M), f"{tool} {g} {s}: not in the man page"
    for g, s in NESTED:
        if tool == "vesselctl":
            assert re.search(rf"^\*{g} {s}[* ]", src, re.M), f"{g} {s}: not in the man page"


@pytest.mark.parametrize("tool", ["vessel", "vesselctl"])
def test_every_option_documented(tool, tmp_path):
    """The long options of each command's --help are in the man page and
    complete after `COMMAND --`."""
    src = page(tool)
    missing = []
    cmds = [[c] for c in commands(help_text(tool))]
    for g in GROUPS[tool]:
        cmds.remove([g])
        cmds += [[g, s] for s in commands(help_text(tool, g, store_dir=str(tmp_path / "s")))
                 if (g, s) not in NESTED]
    for cmd in cmds:
        text = help_text(tool, *cmd, store_dir=str(tmp_path / "s") if tool == "vesselctl" else None)
        opts = set(re.findall(r"(?<![\w-])(--[a-z][a-z-]+)", text)) - {"--help"}
        # vessel's help names some options in prose ("--force kills ..."): every
        # option of the usage lines and option lists counts just the same.
        completed = set(complete(tool, *cmd, "--"))
        missing += [f"{' '.join(cmd)} {o}: not in the man page" for o in sorted(opts)
                    if f"*{o}*" not in src]
        missing += [f"{' '.join(cmd)} {o}: not completed" for o in sorted(opts)
                    if o not in completed]
    for o in re.findall(r"^  (?:-\w, )?(--[a-z-]+)", help_text(tool), re.M):
        if f"*{o}*" not in src:
            missing.append(f"{o}: global option not in the man page")
    assert not missing, f"{tool}: " + "; ".join(missing)


@pytest.mark.parametrize("tool", ["vessel", "vesselctl"])
def test_man_page_builds_and_renders(tool, tmp_path):
    out = tmp_path / f"{tool}.1"
    with open(os.path.join(MAN, tool + ".1.scd")) as src, open(out, "w") as dst:
        r = subprocess.run(["scdoc"], stdin=src, stdout=dst, stderr=subprocess.PIPE, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["man", "-l", str(out)], capture_output=True, text=True,
                       env={**os.environ, "MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "80"})
    assert r.returncode == 0, r.stderr
    text = re.sub(r".\x08", "", r.stdout)
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "SEE ALSO"):
        assert f"\n{section}\n" in text, section
    assert f"{tool} - " in text
    # The built page (meson's custom target) is the same text.
    built = os.path.join(os.path.dirname(binary(tool)), f"{tool}.1")
    if os.path.exists(built):
        with open(built) as a, open(out) as b:
            assert a.read() == b.read(), f"{built} is stale: rebuild"


def test_vesselctl_completes_names(store, tmp_path):  # noqa: F811
    assert complete("vesselctl", "sta") == ["start"]
    assert complete("vesselctl", "--store", store, "star") == ["start"]
    ctl(store, "image", "import", str(make_image_dir(tmp_path)), "--alias", "busybox")
    ctl(store, "init", "busybox", "web1")
    ctl(store, "init", "busybox", "db1")
    ctl(store, "profile", "create", "big")
    assert sorted(complete("vesselctl", "start", "", store_dir=store)) == ["db1", "web1"]
    assert complete("vesselctl", "stop", "w", store_dir=store) == ["web1"]
    assert complete("vesselctl", "file", "pull", "d", store_dir=store) == ["db1/"]
    assert "busybox" in complete("vesselctl", "launch", "", store_dir=store)
    assert sorted(complete("vesselctl", "launch", "busybox", "x", "-p", "",
                           store_dir=store)) == ["big", "default"]
    assert complete("vesselctl", "config", "set", "web1", "limits.memory.s",
                    store_dir=store) == ["limits.memory.swap"]
    # Another store, other names.
    assert complete("vesselctl", "start", "", store_dir=str(tmp_path / "other")) == []


def test_vessel_completes_ids(env):
    """Container ids of the --root given, after the commands that take one."""
    env.write_config()
    r = vessel_files(env, "create", "--bundle", env.bundle, "box1")
    assert r.returncode == 0, r
    assert complete("vessel", "--root", env.root, "kill", "") == ["box1"]
    assert complete("vessel", "--root", env.root, "state", "b") == ["box1"]
    assert complete("vessel", "--root", env.root, "spec", "") == []
    assert complete("vessel", "ru") == ["run"]
    env.vessel("delete", "--force", "box1", check=True)


def test_meson_installs_pages_and_completions(tmp_path):
    """`meson install` puts the man pages in man1 and the completions where
    bash-completion finds them (the build directory is VESSEL's)."""
    build = os.path.dirname(binary("vessel"))
    if not os.path.isdir(os.path.join(build, "meson-private")):
        pytest.skip(f"{build} is not a meson build directory")
    dest = tmp_path / "dest"
    r = subprocess.run(["meson", "install", "-C", build, "--destdir", str(dest), "--no-rebuild",
                        "--quiet"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    found = {os.path.relpath(os.path.join(d, f), dest).split("/share/", 1)[-1]
             for d, _, files in os.walk(dest) for f in files if "/share/" in os.path.join(d, f)}
    assert {"man/man1/vessel.1", "man/man1/vesselctl.1"} <= found, found
    assert {"bash-completion/completions/vessel",
            "bash-completion/completions/vesselctl"} <= found, found
