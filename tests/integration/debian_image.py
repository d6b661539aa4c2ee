"""The Debian 12 test image: built once per machine, imported cheaply.

`vesselctl image build debian/12` takes some 30 s to minutes of two shared
cores; tests that need a Debian image with systemd use this one instead of
building their own.  It is built once, in a throw-away store, exported
as its unified tarball and kept in CACHE_DIR (outside every test store),
named after a key: a hash of the build arguments, of the recipe
(src/manager/image-recipe.c: the releases, packages, metadata and
templates), of mmdebstrap's version and of the host's architecture.  A
change of any of them builds it again; older tarballs are removed.
Importing it into a test's store gives the same image (fingerprint,
properties, vessel.build) that `image build debian/12` would make there,
so a later `image build debian/12` in that store is a cache hit.

    def test_x(debian_image, store):              # conftest.py's fixture
        fp = import_debian(VESSELCTL, store, debian_image)   # alias "debian"

"""
import fcntl
import glob
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
RECIPE = os.path.join(REPO, "src", "manager", "image-recipe.c")
CACHE_DIR = os.environ.get("VESSEL_TEST_IMAGE_CACHE", "/var/cache/vessel-tests")
BUILD_ARGS = ["debian/12"]  # the default variant and the recipe's packages

# Seconds of the last build and import, for whoever wants to report them.
timings = {}


def cache_key():
    h = hashlib.sha256()
    h.update(" ".join(BUILD_ARGS).encode() + b"\0")
    with open(RECIPE, "rb") as f:
        h.update(f.read())
    mm = subprocess.run(["mmdebstrap", "--version"], capture_output=True, text=True)
    h.update((mm.stdout + mm.stderr).encode() + b"\0" + platform.machine().encode())
    return h.hexdigest()[:16]


def _build(vesselctl, out):
    """Build into a throw-away store and export the tarball as out."""
    work = tempfile.mkdtemp(prefix="vessel-debian-image-", dir="/var/tmp")
    try:
        store = os.path.join(work, "store")
        t0 = time.monotonic()
        r = subprocess.run([vesselctl, "--store", store, "image", "build", *BUILD_ARGS, "-q"],
                           capture_output=True, text=True, timeout=1800)
        if r.returncode != 0:
            raise RuntimeError(f"building the Debian test image failed: {r.stderr}")
        fp = r.stdout.strip()
        timings["build"] = time.monotonic() - t0
        exp = os.path.join(work, "export")
        os.mkdir(exp)
        subprocess.run([vesselctl, "--store", store, "image", "export", fp, exp], check=True,
                       capture_output=True)
        (tarball,) = os.listdir(exp)
        # Complete before it gets its name: a killed build leaves no
        # tarball that looks good.
        shutil.move(os.path.join(exp, tarball), out + ".part")
        os.rename(out + ".part", out)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def debian_tarball(vesselctl):
    """The cached tarball of the Debian test image, built if missing."""
    os.makedirs(CACHE_DIR, exist_ok=True)
    out = os.path.join(CACHE_DIR, f"debian-12-{cache_key()}.tar")
    with open(os.path.join(CACHE_DIR, "lock"), "w") as lock:
        # One builder per machine; a second session waits and uses it.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not os.path.isfile(out):
            for old in glob.glob(os.path.join(CACHE_DIR, "debian-12-*.tar*")):
                os.unlink(old)
            _build(vesselctl, out)
    return out


def import_debian(vesselctl, store, tarball, alias="debian"):
    """Import the cached image into store with alias; its fingerprint."""
    t0 = time.monotonic()
    r = subprocess.run([vesselctl, "--store", store, "image", "import", tarball, "--alias",
                        alias, "-q"], capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"importing the Debian test image: {r.stderr}")
    timings["import"] = time.monotonic() - t0
    return r.stdout.strip()
