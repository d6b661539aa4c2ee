#!/bin/bash
# run-in-vm.sh VESSEL: run the cgroup integration tests (as root, and
# rootless with a delegated subtree) on pure cgroup v2, inside the throwaway
# QEMU VM of ../shared/vm/cgv2-vm.sh (the development machines are hybrid).
# The repository is shared read-write at the same path; everything the
# tests make goes to the guest's /tmp (a tmpfs).
#
# Exit status: the tests' (0 = all passed).  When the VM cannot be started
# or times out this FAILS, saying so: it never passes without running.
#
# Environment: CGV2_VM (default: ../shared/vm/cgv2-vm.sh next to the
# repository), CGV2_TIMEOUT (seconds, default 300), PYTEST_ARGS.
set -u
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
vessel=${1:?usage: run-in-vm.sh PATH-TO-VESSEL}
vm=${CGV2_VM:-$(cd "$repo/.." && pwd)/shared/vm/cgv2-vm.sh}
timeout=${CGV2_TIMEOUT:-300}

fail() { echo "check-cgroupv2: FAILED: $*" >&2; exit 1; }

vessel=$(realpath -- "$vessel") || fail "no vessel binary at $1"
[ -x "$vessel" ] || fail "$vessel is not executable"
case "$vessel" in "$repo"/*) ;; *) fail "$vessel must be inside $repo, the directory shared with the VM" ;; esac
[ -x "$vm" ] || fail "the cgroup v2 VM script $vm is missing (set CGV2_VM)"
[ "$(id -u)" = 0 ] || fail "the VM and the tests need root"

echo "check-cgroupv2: running tests/integration/test_cgroups.py, test_rootless_cgroups.py, vesselctl lifecycle tests and test_systemd_boot.py in a cgroup v2 VM ($vm)"
start=$(date +%s)
# vesselctl (and its monitor) beside vessel; the Debian rootfs that
# test_systemd_boot.py boots is read from the host's cache (the guest's /
# is the host's, read-only).
"$vm" --share "$repo" --timeout "$timeout" -e VESSEL="$vessel" -e VESSELCTL="$(dirname "$vessel")/vesselctl" -e PYTEST_ARGS="${PYTEST_ARGS:-}" \
        -- "$here/guest.sh"
rc=$?
echo "check-cgroupv2: VM finished in $(( $(date +%s) - start )) s (status $rc)"
case $rc in
0) ;;
124) fail "the cgroup v2 VM timed out after ${timeout}s: the tests did not finish" ;;
125) fail "the cgroup v2 VM could not start (see the messages above): the tests did not run" ;;
*) fail "cgroup v2 tests failed in the VM (status $rc)" ;;
esac
