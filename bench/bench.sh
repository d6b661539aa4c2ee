#!/bin/sh
# bench.sh: what `make bench` runs.  Installs crun and runc (Debian) if
# missing, builds a release vessel in build-release/, then runs bench.py in a
# private mount namespace, where all three runtimes see the same hidden
# cgroup2 cgroup.controllers (crun refuses the hybrid layout otherwise) and
# the same tmpfs for state and bundle.  Writes bench/results.md.
#
# Environment (all optional):
#   BENCH_N=200            runs per row and runtime (run, lifecycle, exec, seccomp)
#   BENCH_SCALE=1000       containers in the scale row
#   BENCH_RUNTIMES=vessel,crun,runc,crun-nocg
#   BENCH_SCALE_RUNTIMES=vessel,crun,runc
#   BENCH_ROWS=run,run-cold,life,exec,seccomp,seccomp-cold,ablation,scale
#   BENCH_OUT=bench/results.md
#   VESSEL=/path/to/vessel  measure this binary instead of building build-release/
# Arguments are passed on to bench.py, e.g. `bench/bench.sh --profile DIR`
# (strace timelines and perf profiles of `run` for vessel and crun, no
# benchmark) or `-n 50 --scale 100` for a quick run.
set -eu
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench.sh: run as root" >&2; exit 1; }

PKGS="crun runc gcc libc6-dev python3 busybox-static util-linux strace"
missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "bench: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	# shellcheck disable=SC2086
	apt-get install -y -qq $missing </dev/null >/dev/null 2>&1 ||
		{ apt-get update -qq </dev/null && apt-get install -y -qq $missing </dev/null; }
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
	ninja -C "$BUILD" vessel >/dev/null
	VESSEL=$BUILD/vessel
fi
VESSEL=$(realpath "$VESSEL")

PYTHON=${PYTHON:-/usr/bin/python3}
token="$$-$(date +%s)"
work=/run/vessel-bench.$$
# bench.py cleans up after itself, also on errors and signals; this is for
# when it could not (SIGKILL): kill what carries this run's marker, remove
# the /vessel-bench cgroups and the (empty, unmounted here) work directory.
cleanup() {
	"$PYTHON" bench/bench.py --sweep "$token" || true
	rmdir "$work" 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# unset BENCH_* variables leave bench.py's defaults
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
