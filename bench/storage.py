#!/usr/bin/env python3
"""storage.py: vesselctl's storage pools against LXC's copies, on one
Debian image, plain and made 1 GiB larger (issue 13).

Run through bench/bench.sh (`make bench-storage`, or `make bench` with
storage in BENCH_SUITES):

    python3 bench/storage.py --vesselctl PATH --tarball DEBIAN.tar ...

Rows, each tool in turn, the order rotating every round, the first
round dropped as warm-up, every command run by bench/spawn.c (exact wall
time):

- a new instance from the image in a dir, an overlay and a btrfs pool
  (`vesselctl init -s POOL`: the image unpacked once per pool, then a
  copy, an upper layer, a snapshot);
- a copy of a stopped instance in each pool (`vesselctl copy`, when this
  vesselctl has it) against LXC's `lxc-copy -s -B overlayfs` (a snapshot
  clone) and a full `lxc-copy`;
- both on the plain image and on the image with 1 GiB more (16 files of
  64 MiB of random data under /opt/bench-filler): a clone that does not
  depend on the size of the rootfs takes as long on both;
- `vesselctl export` / `import` (when this vesselctl has them) against
  `tar -cf - . | zstd` and `zstd -d | tar -xf -` of the same tree.

The stores and LXC's lxcpath are on the work directory's file system
(ext4 here: no reflinks, so dir copies are full copies); the btrfs pool
is a loop file of the pool's own.  Cleanup (also on errors and signals):
every instance and pool of the private store deleted, every LXC
container destroyed, the work directory removed.
"""
import argparse
import datetime
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench as B  # noqa: E402

LXC = {t: shutil.which(t) or "/usr/bin/" + t for t in ("lxc-copy", "lxc-destroy")}
FILLER_FILES, FILLER_MIB = 16, 64


def ms(s):
    return s * 1000.0


class Storage:
    def __init__(self, a):
        self.a = a
        self.work = a.workdir
        self.store = os.path.join(self.work, "store")
        self.lxcpath = os.path.join(self.work, "lxc")
        self.res = {}
        self.extra = {}
        self.n = 0

    def vc(self, *args):
        return [self.a.vesselctl, "--store", self.store, *args]

    def has(self, cmd):
        return subprocess.run(self.vc(cmd, "--help"), capture_output=True).returncode == 0

    def sh(self, *argv, **kw):
        return subprocess.run(list(argv), check=True, cwd="/", stdout=subprocess.DEVNULL, **kw)

    # -- setup --------------------------------------------------------------

    def image_dirs(self):
        """The plain image and the big one, as image directories."""
        out = {}
        for kind in ("plain", "big"):
            d = os.path.join(self.work, "img-" + kind)
            os.makedirs(os.path.join(d, "rootfs"))
            self.sh("tar", "-xf", self.a.tarball, "-C", d, "--numeric-owner", "--xattrs",
                    "--xattrs-include=*")
            if not os.path.exists(os.path.join(d, "metadata.yaml")):
                # a plain rootfs tarball: it went into d itself
                raise B.BenchError("the tarball must be a unified image (metadata.yaml, rootfs/)")
            if kind == "big":
                f = os.path.join(d, "rootfs", "opt", "bench-filler")
                os.makedirs(f)
                for i in range(FILLER_FILES):
                    with open(os.path.join(f, f"{i:02d}"), "wb") as fh:
                        for _ in range(FILLER_MIB):
                            fh.write(os.urandom(1 << 20))
            out[kind] = d
        return out

    def setup(self):
        os.makedirs(self.work)
        self.runner = B.Runner(self.work, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                       "spawn.c"))
        t = time.time()
        print("storage: preparing the images (plain and +1 GiB), pools, LXC bases ...", flush=True)
        self.imgs = self.image_dirs()
        for kind, d in self.imgs.items():
            self.sh(*self.vc("image", "import", d, "--alias", "bench-" + kind))
        self.sh(*self.vc("storage", "create", "dir", "dir"))
        self.sh(*self.vc("storage", "create", "overlay", "overlay"))
        self.sh(*self.vc("storage", "create", "btrfs", "btrfs", f"size={self.a.btrfs_gib}GiB"))
        self.pools = ["dir", "overlay", "btrfs"]
        self.have_copy = self.has("copy")
        self.have_export = self.has("export") and self.has("import")
        os.makedirs(self.lxcpath)
        for kind, d in self.imgs.items():
            c = os.path.join(self.lxcpath, "base-" + kind)
            os.makedirs(c)
            os.rename(os.path.join(d, "rootfs"), os.path.join(c, "rootfs"))
            with open(os.path.join(c, "config"), "w") as f:
                f.write(f"lxc.uts.name = base-{kind}\nlxc.rootfs.path = dir:{c}/rootfs\n"
                        "lxc.net.0.type = empty\nlxc.apparmor.profile = unconfined\n")
            # the bases of the copy row: one instance per pool and image
            for p in self.pools:
                self.sh(*self.vc("init", "bench-" + kind, f"base-{kind}-{p}", "-s", p))
        print(f"storage:   {time.time() - t:.0f}s", flush=True)

    # -- rows ---------------------------------------------------------------

    def record(self, row, tool, v):
        self.res.setdefault(row, {}).setdefault(tool, []).append(v)

    def timed(self, argv):
        s, _, _ = self.runner.run(argv[0], argv)
        return s

    def new_name(self):
        self.n += 1
        return f"c{self.n}"

    def rounds(self):
        for r in range(self.a.warmup + self.a.rounds):
            keep = r >= self.a.warmup
            for kind in ("plain", "big"):
                made, lxc_made = [], []
                jobs = []
                for p in self.pools:
                    jobs.append((f"init.{kind}", f"vesselctl init -s {p}", False,
                                 lambda n, p=p: self.vc("init", "bench-" + kind, n, "-s", p)))
                    if self.have_copy:
                        jobs.append((f"copy.{kind}", f"vesselctl copy ({p})", False,
                                     lambda n, p=p: self.vc("copy", f"base-{kind}-{p}", n)))
                jobs.append((f"copy.{kind}", "lxc-copy -s -B overlayfs", True,
                             lambda n: [LXC["lxc-copy"], "-P", self.lxcpath, "-n", "base-" + kind,
                                        "-N", n, "-s", "-B", "overlayfs"]))
                jobs.append((f"copy.{kind}", "lxc-copy (full)", True,
                             lambda n: [LXC["lxc-copy"], "-P", self.lxcpath, "-n", "base-" + kind,
                                        "-N", n]))
                k = r % len(jobs)
                for row, tool, lxc, argv_fn in jobs[k:] + jobs[:k]:
                    name = self.new_name()
                    s = self.timed(argv_fn(name))
                    (lxc_made if lxc else made).append(name)
                    if keep:
                        self.record(row, tool, s)
                for n in made:
                    self.sh(*self.vc("delete", "-f", n))
                for n in lxc_made:
                    self.sh(LXC["lxc-destroy"], "-P", self.lxcpath, "-n", n)
            print(f"storage: round {r + 1}/{self.a.warmup + self.a.rounds}", flush=True)

    def export_row(self):
        if not self.have_export:
            return
        out = os.path.join(self.work, "exp.tar.zst")
        tree = os.path.join(self.lxcpath, "base-big", "rootfs")
        for r in range(self.a.warmup + self.a.export_rounds):
            keep = r >= self.a.warmup
            jobs = [
                ("export", "vesselctl export (zstd)",
                 self.vc("export", "base-big-dir", out, "--compression", "zstd")),
                ("export", "tar | zstd",
                 ["/bin/sh", "-c", f"tar -C {tree} --numeric-owner --xattrs -cf - . | zstd -q -o {out}"]),
            ]
            for row, tool, argv in jobs[r % 2:] + jobs[:r % 2]:
                if os.path.exists(out):
                    os.unlink(out)
                s = self.timed(argv)
                if keep:
                    self.record(row, tool, s)
            self.sh(*self.vc("export", "base-big-dir", out, "--compression", "zstd"))
            dst = os.path.join(self.work, "untar")
            jobs = [
                ("import", "vesselctl import (zstd)", self.vc("import", out, "imp", "-s", "dir")),
                ("import", "zstd -d | tar -x",
                 ["/bin/sh", "-c", f"mkdir -p {dst} && zstd -q -dc {out} | tar -C {dst} "
                                   "--numeric-owner --xattrs -xf -"]),
            ]
            for row, tool, argv in jobs[r % 2:] + jobs[:r % 2]:
                s = self.timed(argv)
                if keep:
                    self.record(row, tool, s)
            self.sh(*self.vc("delete", "-f", "imp"))
            shutil.rmtree(dst, ignore_errors=True)
            print(f"storage: export round {r + 1}/{self.a.warmup + self.a.export_rounds}", flush=True)

    def run(self):
        t0 = time.time()
        self.extra["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        self.extra["load_before"] = open("/proc/loadavg").read().split()[:3]
        self.setup()
        self.rounds()
        self.export_row()
        self.extra["load_after"] = open("/proc/loadavg").read().split()[:3]
        self.extra["elapsed"] = time.time() - t0

    # -- cleanup ------------------------------------------------------------

    def cleanup(self):
        report = []
        if hasattr(self, "runner"):
            self.runner.close()
        report += sweep(self.work, self.a.vesselctl)
        return report

    # -- report -------------------------------------------------------------

    def cell(self, row, tool):
        v = self.res.get(row, {}).get(tool)
        if not v:
            return "-"
        return f"{ms(B.med(v)):.1f} ({ms(B.pct(v, 0.9)):.1f})"

    def m(self, row, tool):
        v = self.res.get(row, {}).get(tool)
        return B.med(v) if v else float("nan")

    def report(self):
        a = self.a
        L = ["# vesselctl storage pools vs LXC's copies: benchmark results", "",
             "Produced by `make bench-storage` (bench/bench.sh, bench/storage.py); see "
             "bench/README.md (\"Storage rows\").", ""]
        git = subprocess.run(["git", "-C", os.path.dirname(os.path.abspath(__file__)), "rev-parse",
                              "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        L.append(f"- date: {self.extra['date']}, source `{git}`; host: {os.cpu_count()} CPUs, kernel "
                 f"{os.uname().release}; load before {' '.join(self.extra['load_before'])}, after "
                 f"{' '.join(self.extra.get('load_after', []))}")
        L.append(f"- image: `{a.tarball}`, and the same with {FILLER_FILES * FILLER_MIB} MiB more; "
                 f"{a.rounds} rounds after {a.warmup} warm-up; whole run "
                 f"{self.extra.get('elapsed', 0):.0f} s")
        fs = subprocess.run(["stat", "-f", "-c", "%T", self.work], capture_output=True,
                            text=True).stdout.strip()
        L.append(f"- the work directory is on {fs}; the btrfs pool a {a.btrfs_gib} GiB loop file")
        if a.note:
            L.append(f"- note: {a.note}")
        L += ["", "Medians (p90 in brackets), ms.", "",
              "| row | plain image | image + 1 GiB |", "|---|---|---|"]
        tools = []
        for row in ("init", "copy"):
            for t in self.res.get(row + ".plain", {}):
                tools.append((row, t))
        def md(t):
            return t.replace("|", "\\|")

        for row, t in tools:
            L.append(f"| {md(t)} | {self.cell(row + '.plain', t)} | {self.cell(row + '.big', t)} |")
        if "export" in self.res:
            L += ["", "| row | image + 1 GiB |", "|---|---|"]
            for row in ("export", "import"):
                for t in self.res.get(row, {}):
                    L.append(f"| {md(t)} | {self.cell(row, t)} |")
        L += ["", "## Goals (issue 13)", "", "| goal | measured | verdict |", "|---|---|---|"]

        def verdict(ok):
            return "not measured" if ok is None else ("met" if ok else "**not met**")

        lxs = self.m("copy.big", "lxc-copy -s -B overlayfs")
        for p in ("overlay", "btrfs"):
            t = f"vesselctl copy ({p})" if self.have_copy else f"vesselctl init -s {p}"
            row = "copy" if self.have_copy else "init"
            big, plain = self.m(row + ".big", t), self.m(row + ".plain", t)
            ok = None if big != big else ms(big) <= 50 and big <= 0.5 * lxs
            L.append(f"| clone on {p} ≤ 50 ms and ≤ 0.5 × lxc-copy -s, independent of the rootfs "
                     f"size | `{t}`: {ms(big):.1f} ms with +1 GiB, {ms(plain):.1f} ms plain; lxc-copy "
                     f"-s {ms(lxs):.1f} ms | {verdict(ok)} |")
        for row, ref in (("export", "tar | zstd"), ("import", "zstd -d | tar -x")):
            t = [x for x in self.res.get(row, {}) if x.startswith("vesselctl")]
            if t:
                r = self.m(row, ref) / self.m(row, t[0])
                L.append(f"| {row} ≥ 80 % of {md(ref)}'s speed | {ms(self.m(row, t[0])):.0f} / "
                         f"{ms(self.m(row, ref)):.0f} ms: {r * 100:.0f} % | {verdict(r >= 0.8)} |")
            else:
                L.append(f"| {row} ≥ 80 % of {md(ref)}'s speed | (this vesselctl has no {row}) | "
                         "not measured |")
        return "\n".join(L) + "\n"


def sweep(work, vesselctl):
    report = []
    if not work or not os.path.isdir(work):
        return report
    store = os.path.join(work, "store")
    if vesselctl and os.path.isdir(store):
        r = subprocess.run([vesselctl, "--store", store, "list", "-f", "csv", "-c", "n"],
                           capture_output=True, text=True)
        for n in r.stdout.split():
            subprocess.run([vesselctl, "--store", store, "delete", "-f", n], capture_output=True)
        r = subprocess.run([vesselctl, "--store", store, "storage", "list", "-f", "csv"],
                           capture_output=True, text=True)
        for line in r.stdout.splitlines():
            x = subprocess.run([vesselctl, "--store", store, "storage", "delete", line.split(",")[0]],
                               capture_output=True, text=True)
            if x.returncode:
                report.append(x.stderr.strip())
    lxcpath = os.path.join(work, "lxc")
    if os.path.isdir(lxcpath):
        for n in os.listdir(lxcpath):
            if not n.startswith("base-"):
                subprocess.run([LXC["lxc-destroy"], "-P", lxcpath, "-n", n], capture_output=True)
    with open("/proc/self/mountinfo") as f:
        mnts = [l.split()[4] for l in f if l.split()[4].startswith(work.rstrip("/") + "/")]
    for m in sorted(mnts, key=len, reverse=True):
        subprocess.run(["umount", "-l", m])
        report.append(f"unmounted a leftover {m}")
    shutil.rmtree(work, ignore_errors=True)
    if os.path.exists(work):
        report.append(f"could not remove {work}")
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vesselctl")
    ap.add_argument("--tarball", help="a unified Debian image (bench.sh exports `vesselctl image build "
                                      "debian/12`'s)")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--export-rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--btrfs-gib", type=int, default=6)
    ap.add_argument("--workdir", default=f"/var/tmp/vessel-bench-storage.{os.getpid()}")
    ap.add_argument("--out")
    ap.add_argument("--note")
    ap.add_argument("--sweep", metavar="WORKDIR")
    a = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("storage.py: run as root")
    if a.sweep:
        for r in sweep(a.sweep, a.vesselctl):
            print("storage sweep: WARNING: " + r, file=sys.stderr)
        return 0
    if not a.vesselctl or not a.tarball or not os.path.isfile(a.tarball):
        ap.error("--vesselctl and an existing --tarball are required")
    a.vesselctl = os.path.realpath(a.vesselctl)
    for t in LXC.values():
        if not os.path.exists(t):
            sys.exit(f"storage.py: {t} not found (Debian's lxc package)")
    if os.path.exists(a.workdir):
        sys.exit(f"storage.py: {a.workdir} exists")

    def on_signal(sig, _):
        raise KeyboardInterrupt(f"signal {sig}")

    for s in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)
    st = Storage(a)
    ok = False
    try:
        st.run()
        ok = True
    except (B.BenchError, subprocess.CalledProcessError) as e:
        print(f"storage.py: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print("storage.py: interrupted", file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        for r in st.cleanup():
            print("storage cleanup: WARNING: " + r, file=sys.stderr)
    if not ok:
        return 1
    text = st.report()
    print()
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
        print(f"storage: wrote {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
