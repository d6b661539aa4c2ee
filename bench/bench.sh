#!/bin/sh
# bench.sh: what `make bench` runs.  Installs crun and runc (Debian) if
# missing, builds a release vessel in build-release/, then runs bench.py in a
# private mount namespace, where all three runtimes see the same hidden
# cgroup2 cgroup.controllers (crun refuses the hybrid layout otherwise) and
# the same tmpfs for state and bundle.  Writes bench/results.md.  Then the
# manager rows (bench/manager.py: vesselctl against LXC 5 on one Debian
# image), which write bench/results-manager.md; and the storage rows
# (bench/storage.py: pools' clones, copies, export and import against LXC's
# lxc-copy and tar | zstd), which write bench/results-storage.md.
#
# Environment (all optional):
#   BENCH_SUITES=runtime,manager,storage  which drivers run (`make bench-manager`:
#                          manager, `make bench-storage`: storage)
#   BENCH_N=200            runs per row and runtime (run, lifecycle, exec, seccomp)
#   BENCH_SCALE=1000       containers in the scale row
#   BENCH_RUNTIMES=vessel,crun,runc,crun-nocg
#   BENCH_SCALE_RUNTIMES=vessel,crun,runc
#   BENCH_ROWS=run,run-cold,life,exec,seccomp,seccomp-cold,ablation,scale
#   BENCH_OUT=bench/results.md
#   VESSEL=/path/to/vessel  measure this binary instead of building build-release/
# Manager rows (bench/manager.py --help):
#   BENCH_MGR_ROUNDS=12      measured rounds of start/exec/stop (2 warm-up before)
#   BENCH_MGR_INSTANCES=50   instances per tool in the list and monitor-RSS row
#   BENCH_MGR_TOOLS=vesselctl,lxc,lxc-nohooks
#   BENCH_MGR_IMAGE=TARBALL  a Debian 12 image with systemd: a plain rootfs
#                            tarball or a unified image; default: `vesselctl
#                            image build debian/12`, cached in /var/cache/vessel-bench
#   BENCH_MGR_OUT=bench/results-manager.md
#   BENCH_MGR_NOTE="..."     a line for the report (e.g. "smoke run, machine busy")
#   BENCH_MGR_ARGS="..."     more manager.py options (e.g. "--exec-n 20 --list-n 30")
#   VESSELCTL=/path/to/vesselctl  (default: beside $VESSEL)
# Storage rows (bench/storage.py --help): BENCH_STORAGE_ROUNDS=10,
#   BENCH_STORAGE_OUT=bench/results-storage.md, BENCH_STORAGE_NOTE="..."
# Arguments are passed on to bench.py (to manager.py when BENCH_SUITES=manager), e.g. `bench/bench.sh --profile DIR`
# (strace timelines and perf profiles of `run` for vessel and crun, no
# benchmark) or `-n 50 --scale 100` for a quick run.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench.sh: run as root" >&2; exit 1; }

SUITES=${BENCH_SUITES:-runtime,manager,storage}
case ",$SUITES," in *,runtime,*) RUNTIME=1 ;; *) RUNTIME= ;; esac
case ",$SUITES," in *,manager,*) MANAGER=1 ;; *) MANAGER= ;; esac
case ",$SUITES," in *,storage,*) STORAGE=1 ;; *) STORAGE= ;; esac
[ -n "$RUNTIME$MANAGER$STORAGE" ] || { echo "bench.sh: BENCH_SUITES: runtime, manager, storage" >&2; exit 1; }

PKGS="crun runc gcc libc6-dev python3 busybox-static util-linux strace"
# LXC 5 from Debian without its recommends (no AppArmor, no bridge set-up),
# but with lxcfs (its hooks are part of what lxc-stop costs on Debian) and
# lxc-templates (debian.common.conf, which the containers include); and
# mmdebstrap for `vesselctl image build`
# (rsync: lxc-copy copies a dir rootfs with it)
[ -z "$MANAGER$STORAGE" ] || PKGS="$PKGS lxc lxcfs lxc-templates mmdebstrap zstd btrfs-progs rsync"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "bench: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing </dev/null >/dev/null 2>&1 ||
		{ apt-get update -qq </dev/null && apt-get install -y -qq --no-install-recommends $missing </dev/null; }
fi
[ -r /usr/share/containers/seccomp.json ] || {
	echo "bench: installing golang-github-containers-common (podman's seccomp.json)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-github-containers-common </dev/null >/dev/null 2>&1 ||
		{ apt-get update -qq </dev/null &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-github-containers-common </dev/null; }
}

if [ -z "${VESSEL:-}" ]; then
	BUILD=${BENCH_BUILD:-build-release}
	[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" -Dbuildtype=release >/dev/null
	ninja -C "$BUILD" vessel vesselctl vesselctl-monitor >/dev/null
	VESSEL=$BUILD/vessel
fi
VESSEL=$(realpath "$VESSEL")
# vesselctl runs the vessel and vesselctl-monitor beside it
VESSELCTL=${VESSELCTL:-$(dirname "$VESSEL")/vesselctl}
MGR_IMAGE=${BENCH_MGR_IMAGE:-}
if [ -n "$MANAGER$STORAGE" ] && [ -z "$MGR_IMAGE" ]; then
	# The Debian 12 image `vesselctl image build debian/12` makes (mmdebstrap
	# minbase with systemd-sysv and dbus), built once into the bench's own
	# store and cached there, exported as the tarball both tools start from.
	cache=/var/cache/vessel-bench
	fp=$("$VESSELCTL" --store "$cache/store" image build debian/12 --alias bench-deb -q)
	MGR_IMAGE=$(ls "$cache/export/$fp".tar* 2>/dev/null | head -n 1)
	if [ -z "$MGR_IMAGE" ]; then
		rm -rf "$cache/export"
		mkdir -p "$cache/export"
		"$VESSELCTL" --store "$cache/store" image export bench-deb "$cache/export" >/dev/null
		MGR_IMAGE=$(ls "$cache/export/$fp".tar* | head -n 1)
	fi
fi

PYTHON=${PYTHON:-/usr/bin/python3}
token="$$-$(date +%s)"
work=/run/vessel-bench.$$
# bench.py cleans up after itself, also on errors and signals; this is for
# when it could not (SIGKILL): kill what carries this run's marker, remove
# the /vessel-bench cgroups and the (empty, unmounted here) work directory.
mgrwork=/var/tmp/vessel-bench-mgr.$$
storwork=/var/tmp/vessel-bench-storage.$$
cleanup() {
	[ -z "$RUNTIME" ] || "$PYTHON" bench/bench.py --sweep "$token" || true
	rmdir "$work" 2>/dev/null || true
	[ -z "$MANAGER" ] || "$PYTHON" bench/manager.py --sweep "$mgrwork" --vesselctl "$VESSELCTL" || true
	[ -z "$STORAGE" ] || "$PYTHON" bench/storage.py --sweep "$storwork" --vesselctl "$VESSELCTL" || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# unset BENCH_* variables leave bench.py's defaults
if [ -n "$RUNTIME" ]; then
	set -- --out "${BENCH_OUT:-bench/results.md}" "$@"
	[ -z "${BENCH_N:-}" ] || set -- -n "$BENCH_N" "$@"
	[ -z "${BENCH_SCALE:-}" ] || set -- --scale "$BENCH_SCALE" "$@"
	[ -z "${BENCH_RUNTIMES:-}" ] || set -- --runtimes "$BENCH_RUNTIMES" "$@"
	[ -z "${BENCH_SCALE_RUNTIMES:-}" ] || set -- --scale-runtimes "$BENCH_SCALE_RUNTIMES" "$@"
	[ -z "${BENCH_ROWS:-}" ] || set -- --rows "$BENCH_ROWS" "$@"
	unshare -m --propagation private "$PYTHON" bench/bench.py \
		--vessel "$VESSEL" \
		--host-mntns "$(readlink /proc/self/ns/mnt)" \
		--token "$token" \
		--workdir "$work" \
		"$@"
	set --
fi
if [ -n "$MANAGER" ]; then
	# In the host's mount namespace: the driver mounts nothing itself (LXC
	# and vesselctl mount in their containers' namespaces), and the
	# monitors outlive each command as they would on a real host.
	# shellcheck disable=SC2086
	"$PYTHON" bench/manager.py \
		--vesselctl "$VESSELCTL" \
		--tarball "$MGR_IMAGE" \
		--workdir "$mgrwork" \
		--out "${BENCH_MGR_OUT:-bench/results-manager.md}" \
		${BENCH_MGR_ROUNDS:+--rounds "$BENCH_MGR_ROUNDS"} \
		${BENCH_MGR_INSTANCES:+--instances "$BENCH_MGR_INSTANCES"} \
		${BENCH_MGR_TOOLS:+--tools "$BENCH_MGR_TOOLS"} \
		${BENCH_MGR_NOTE:+--note "$BENCH_MGR_NOTE"} \
		${BENCH_MGR_ARGS:-} \
		"$@"
fi
if [ -n "$STORAGE" ]; then
	"$PYTHON" bench/storage.py \
		--vesselctl "$VESSELCTL" \
		--tarball "$MGR_IMAGE" \
		--workdir "$storwork" \
		--out "${BENCH_STORAGE_OUT:-bench/results-storage.md}" \
		${BENCH_STORAGE_ROUNDS:+--rounds "$BENCH_STORAGE_ROUNDS"} \
		${BENCH_STORAGE_NOTE:+--note "$BENCH_STORAGE_NOTE"}
fi
