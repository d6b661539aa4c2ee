#!/bin/bash
# check-fresh.sh [--rebuild] [MAKE-ARGS...]: prove that `make deps` and the
# test suite work on a brand-new Debian 12 machine, not only on one that
# happens to have the right packages already.
#
# It builds a Debian 12 (bookworm) minbase root file system with mmdebstrap
# from this machine's apt sources, caches it as a tarball, and on every run
# unpacks a fresh copy, copies the checkout into it (git ls-files: tracked
# and untracked-but-not-ignored files as they are in the working tree, so
# uncommitted changes are tested; no build directories) and, inside it as
# root, installs make with apt the way .ci/run does, then runs
#     make deps && make check-unit check-integration
# (or `make MAKE-ARGS...`).  check-cgroupv2 is left out: its VM needs qemu
# and ../shared, which are not part of the machine under test.
#
# The cached root is rebuilt when it is missing, when the apt sources or
# options it was built from change, or with --rebuild
# (CHECK_FRESH_REBUILD=1 from make); `rm -rf /var/cache/vessel/check-fresh`
# drops it.  CHECK_FRESH_CACHE picks another cache directory.
#
# Exit status: the suite's (make's) status; 1 when the root cannot be made.
# Everything made here (mounts, the temporary root, processes) is gone when
# it exits, also on failure or Ctrl-C.  The suite's own cgroups are removed
# by the tests, as in `make check`.
set -eu

SUITE=bookworm
VARIANT=minbase
CACHE=${CHECK_FRESH_CACHE:-/var/cache/vessel/check-fresh}
PATH_INSIDE=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

say() { echo "check-fresh: $*" >&2; }
die() { say "$*"; exit 1; }
now() { date +%s; }

# ------------------------------------------------------------ inside
# Runs as PID 1 of a new PID namespace, in a private mount namespace
# (unshare below), with the host's programs still at hand: mounts what a
# booted machine has, pivots into the fresh root and runs the steps there.
inside() {
	local root=$1
	shift
	# pivot_root wants the new root to be a mount point.
	mount --bind "$root" "$root"
	# A proc of this PID namespace: ps, pkill and the tests see only the
	# processes of this run (a bind of the host's /proc would show, and let
	# `pkill -u vessel-rootless` kill, other people's processes).
	mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
	# The host's cgroup hierarchies (/sys/fs/cgroup/*) come with /sys.
	mount --rbind /sys "$root/sys"
	# /dev with /dev/pts and /dev/shm.
	mount --rbind /dev "$root/dev"
	mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs "$root/run"
	mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
	cp --remove-destination -L /etc/resolv.conf "$root/etc/resolv.conf"
	# pivot_root, not chroot: the kernel refuses to make a user namespace
	# for a chrooted process (the rootless tests need them), and the old
	# root must be unreachable, as on a real machine.  With the mounts
	# private, the lazy unmount of the old root changes nothing outside.
	cd "$root"
	mkdir -p .old-root
	pivot_root . .old-root
	cd /
	umount -l /.old-root
	rmdir /.old-root
	# PID 1 stays this shell: it waits for the steps and, while waiting,
	# reaps the orphans (containers' processes) that a machine's init would.
	# The steps start with every signal at its default, as after a login:
	# run from nohup or a background job this script has SIGINT ignored,
	# and vessel hands ignored signals on to the containers it starts.
	local rc=0
	env --default-signal -i PATH="$PATH_INSIDE" HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
		DEBIAN_FRONTEND=noninteractive /bin/sh -c "$STEPS" steps "$@" </dev/null || rc=$?
	return $rc
}

# The steps in the fresh root, with its own /bin/sh; "$@" are make's
# arguments for the test step.
STEPS='
set -u
umask 022
cd /src/vessel
now() { date +%s; }
t0=$(now)
# From nothing but apt: make first, the way .ci/run does.
{ apt-get update -qq && apt-get install -y -qq make >/dev/null; } || { echo "check-fresh: installing make failed" >&2; exit 1; }
make deps || { echo "check-fresh: make deps failed" >&2; exit 1; }
t1=$(now)
echo "check-fresh: apt-get install make + make deps: $((t1 - t0)) s" >&2
make "$@"
rc=$?
echo "check-fresh: make $*: $(( $(now) - t1 )) s, status $rc" >&2
exit $rc
'

if [ "${1:-}" = --inside ]; then
	shift
	inside "$@"
	exit $?
fi

# ------------------------------------------------------------ outside
rebuild=${CHECK_FRESH_REBUILD:-}
if [ "${1:-}" = --rebuild ]; then
	rebuild=1
	shift
fi
[ $# -gt 0 ] || set -- check-unit check-integration

[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap, mounts, and the suite itself)"
self=$(readlink -f "$0")
repo=$(cd "$(dirname "$self")/.." && pwd)
command -v git >/dev/null || die "needs git (the source tree is copied with git ls-files)"

# The apt sources this machine uses: on it only the configured mirror may be
# reachable, so the new root is built from, and keeps, the same ones.
sources=()
if grep -qs '^[[:space:]]*deb' /etc/apt/sources.list; then sources+=(/etc/apt/sources.list); fi
for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] && sources+=("$f")
done
[ ${#sources[@]} -gt 0 ] || die "no apt sources in /etc/apt/sources.list{,.d/}"
# And the apt options that decide whether that mirror can be used (a proxy,
# release files past their Valid-Until on a snapshot mirror); they stay in
# the root's /etc/apt/apt.conf.d/99mmdebstrap for `make deps`.
aptopts=()
for key in Acquire::http::Proxy Acquire::https::Proxy Acquire::Check-Valid-Until Acquire::Check-Date; do
	v=$(apt-config dump --no-empty --format '%f "%v";' "$key")
	[ -n "$v" ] && aptopts+=("--aptopt=$v")
done

if ! command -v mmdebstrap >/dev/null; then
	say "installing mmdebstrap"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq mmdebstrap >/dev/null 2>&1 ||
		{ apt-get update -qq && apt-get install -y -qq mmdebstrap >/dev/null; } ||
		die "cannot install mmdebstrap"
fi

# The cached tarball is named after what it was built from, so a change of
# sources or options builds a new one.
key=$({ echo "$SUITE $VARIANT"; mmdebstrap --version; printf '%s\n' "${aptopts[@]}"; cat "${sources[@]}"; } |
	sha256sum | cut -c1-12)
tarball=$CACHE/$SUITE-$VARIANT-$key.tar
mkdir -p "$CACHE"
t_root=$(now)
(
	# One builder at a time; a second run waits and then uses its result.
	flock 9
	if [ -n "$rebuild" ] || [ ! -s "$tarball" ]; then
		say "building a $SUITE $VARIANT root with mmdebstrap into $tarball"
		rm -f "$CACHE"/*.tar "$CACHE"/*.tar.part
		# Built under another name and renamed when complete: an
		# interrupted build never leaves a tarball that looks good.
		mmdebstrap --quiet --variant="$VARIANT" --format=tar "${aptopts[@]}" \
			"$SUITE" "$tarball.part" "${sources[@]}" || { rm -f "$tarball.part"; exit 1; }
		mv "$tarball.part" "$tarball"
		say "mmdebstrap: $(( $(now) - t_root )) s"
	fi
) 9>"$CACHE/lock" || die "mmdebstrap failed"

# ---- the run's own copy, removed by cleanup() whatever happens
work=$(mktemp -d /var/tmp/vessel-check-fresh.XXXXXX)
root=$work/root
pid=
cleanup() {
	trap - EXIT INT TERM
	if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
		# Interrupted: let make and pytest tear down (pytest deletes
		# its containers and cgroups on SIGINT), then kill whatever is
		# left: unshare's death kills PID 1 of the namespace
		# (--kill-child), and with it every process in the namespace.
		say "stopping the suite"
		kill -INT -- "-$pid" 2>/dev/null || true
		for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	# All mounts were made in the private mount namespace, which is gone
	# with its last process; --one-file-system guards against any that is not.
	rm -rf --one-file-system "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

t_copy=$(now)
mkdir -p "$root"
tar -C "$root" -xpf "$tarball" --numeric-owner --xattrs --xattrs-include='*'
install -d -m 0755 "$root/src" "$root/src/vessel"
# What `git ls-files` knows (tracked, and untracked but not ignored), as it
# is in the working tree now; files deleted in the working tree are skipped.
git -C "$repo" ls-files -z --cached --others --exclude-standard |
	(cd "$repo" && while IFS= read -r -d '' f; do
		[ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"
	done) |
	tar -C "$repo" --null --no-recursion -T - -cf - | tar -C "$root/src/vessel" -xpf -
say "fresh root in $root with $(git -C "$repo" describe --always --dirty) ($(( $(now) - t_copy )) s)"

# A private mount namespace, so nothing mounted inside is seen outside or
# outlives the run, and a PID namespace, so that every process of the run
# dies with it.  Job control (set -m) puts it in a process group of its own:
# in the background it keeps SIGINT (bash would ignore it for a background
# job) and cleanup() can signal the whole group.
# setpriv --pdeathsig: even a SIGKILL of this script (no trap runs) takes
# unshare, and so the namespace, down with it.
set -m
setpriv --pdeathsig KILL unshare --mount --propagation private --pid --fork --kill-child \
	-- "$self" --inside "$root" "$@" </dev/null &
pid=$!
set +m
t_tests=$(now)
rc=0
wait "$pid" || rc=$?
pid=
say "the suite in the fresh root: $(( $(now) - t_tests )) s, status $rc"
exit $rc
