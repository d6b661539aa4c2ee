#!/bin/sh
# demo-system.sh VESSELCTL: a system container: build (or reuse) the Debian
# 12 image in the default store, launch it, show systemd running inside,
# exec into it, list it, delete it.
set -eu
ctl=$(readlink -f "${1:-build/vesselctl}")
name=vessel-demo-$$
trap '"$ctl" delete --force "$name" >/dev/null 2>&1 || true' EXIT INT TERM

say() { printf '\n$ %s\n' "$*"; }

say vesselctl image build debian/12 --alias debian/12
"$ctl" image build debian/12 --alias debian/12
say vesselctl launch debian/12 "$name"
"$ctl" launch debian/12 "$name"
say vesselctl exec "$name" -- systemctl is-system-running --wait
# Retried while systemd's own socket is not up yet (the first moments).
state=
for _ in $(seq 600); do
	state=$("$ctl" exec "$name" -T -- systemctl is-system-running --wait 2>/dev/null || true)
	case $state in running|degraded|maintenance|stopping) break ;; esac
	sleep 0.1
done
echo "$state"
case $state in
running) ;;
*) echo "demo: systemd inside says \"$state\"; its failed units:" >&2
   "$ctl" exec "$name" -T -- systemctl --no-pager --failed >&2 || true
   exit 1 ;;
esac
say vesselctl exec "$name" -- sh -c '...'
"$ctl" exec "$name" -T -- sh -c '
echo "pid 1:      $(cat /proc/1/comm) ($(systemctl --version | head -1))"
echo "hostname:   $(hostname)"
echo "os:         $(. /etc/os-release; echo "$PRETTY_NAME")"
echo "processes:  $(ls -d /proc/[0-9]* | wc -l) (the host has many more)"
echo "boot:       $(systemd-analyze 2>/dev/null | head -1)"
echo "services:"
systemctl --no-pager --no-legend list-units --type=service --state=running | sed "s/^/  /"'
say vesselctl list
"$ctl" list
say vesselctl info "$name"
"$ctl" info "$name"
say vesselctl delete --force "$name"
"$ctl" delete --force "$name"
"$ctl" list
