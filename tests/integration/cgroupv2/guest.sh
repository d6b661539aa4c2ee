#!/bin/bash
# guest.sh: inside the cgroup v2 VM (run-in-vm.sh).  Checks that the guest
# really is pure cgroup v2, then runs the cgroup tests against $VESSEL: as
# root, and as an unprivileged user with a delegated subtree (the user is
# made in the guest's throwaway overlay).
set -u
cd "$(dirname "$0")/../../.." || exit 2
fs=$(stat -f -c %T /sys/fs/cgroup)
if [ "$fs" != cgroup2fs ] || grep -q " - cgroup " /proc/self/mountinfo; then
        echo "guest.sh: /sys/fs/cgroup is $fs with v1 hierarchies: not a pure cgroup v2 guest" >&2
        exit 3
fi
echo "guest.sh: kernel $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.controllers)"
# The emulated CPU boots systemd about ten times slower than the host.
export PYTHONDONTWRITEBYTECODE=1 TMPDIR=/tmp VESSEL_BOOT_TIMEOUT=${VESSEL_BOOT_TIMEOUT:-600}
# shellcheck disable=SC2086
/usr/bin/python3 -m pytest -q -p no:cacheprovider --basetemp=/tmp/pytest-cgroupv2 \
        ${PYTEST_ARGS:-} tests/integration/test_cgroups.py \
        tests/integration/test_rootless_cgroups.py || exit
# vesselctl's instances on pure v2: limits by effect, the lifecycle, the
# monitor (a few of the lifecycle tests: the VM emulates its CPU).
# shellcheck disable=SC2086
/usr/bin/python3 -m pytest -q -p no:cacheprovider --basetemp=/tmp/pytest-cgroupv2-ctl \
        ${PYTEST_ARGS:-} tests/integration/test_vesselctl_lifecycle.py \
        -k "limits_hold or launch_exec_stop or restart_pause_resume or exit_recorded or exec_joins_init" || exit
# Unprivileged instances: their id ranges, the idmapped rootfs, the owned
# user namespace and the inner cgroup handed to the instance's root.
# shellcheck disable=SC2086
/usr/bin/python3 -m pytest -q -p no:cacheprovider --basetemp=/tmp/pytest-cgroupv2-idmap \
        ${PYTEST_ARGS:-} tests/integration/test_vesselctl_idmap.py \
        -k "unprivileged or disjoint or shared or bad_input or nproc" || exit
# No parallel boots: the VM's /tmp (its memory) holds one Debian instance.
export VESSEL_PARALLEL_BOOTS=${VESSEL_PARALLEL_BOOTS:-0} VESSEL_CGV2_VM=1
# Debian with systemd boots to "running" (about 15 s a boot in the VM);
# -s shows the boot times measured.
# shellcheck disable=SC2086
exec /usr/bin/python3 -m pytest -q -s -p no:cacheprovider --basetemp=/tmp/pytest-cgroupv2-boot \
        ${PYTEST_ARGS:-} tests/integration/test_systemd_boot.py
