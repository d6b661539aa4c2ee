#!/bin/sh
# demo.sh VESSEL: run a container in all eight namespaces and show, from the
# inside, that it is isolated.
set -eu
vessel=$(readlink -f "${1:-build/vessel}")
work=$(mktemp -d /tmp/vessel-demo.XXXXXX)
chmod 755 "$work"   # the container's root (host uid 100000) must reach its rootfs
root="$work/state"
trap '"$vessel" --root "$root" delete --force demo >/dev/null 2>&1 || true; rm -rf "$work"' EXIT INT TERM
"$(dirname "$0")/mkbundle.sh" "$work/bundle"

cat > "$work/bundle/config.json" <<'JSON'
{
  "ociVersion": "1.2.0",
  "root": { "path": "rootfs", "readonly": true },
  "hostname": "vessel-demo",
  "process": {
    "args": ["/bin/sh", "-c", "
echo '--- inside the container ---'
echo \"my pid:        $$  (processes I can see: $(ls -d /proc/[0-9]* | wc -l))\"
echo \"hostname:      $(hostname)\"
echo \"network:       $(ls /sys/class/net | tr '\\n' ' ')\"
echo \"uid map:       $(cat /proc/self/uid_map | tr -s ' ')\"
echo \"I am:          uid $(id -u) in here\"
echo \"time offsets:  $(cat /proc/self/timens_offsets | tr '\\n' ' ')\"
echo \"uptime:        $(cut -d' ' -f1 /proc/uptime) s (the host's plus one day)\"
echo \"mounts:        $(wc -l < /proc/self/mountinfo), all mine:\"
awk '{print \"               \" $5 \" (\" $9 \")\"}' /proc/self/mountinfo
touch /probe 2>/dev/null && echo 'rootfs:        writable?!' || echo 'rootfs:        read-only'
"],
    "env": ["PATH=/bin:/sbin:/usr/bin:/usr/sbin"],
    "cwd": "/",
    "user": { "uid": 0, "gid": 0 },
    "noNewPrivileges": true,
    "capabilities": {
      "bounding": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"],
      "effective": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"],
      "permitted": ["CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_AUDIT_WRITE"]
    }
  },
  "mounts": [
    { "destination": "/proc", "type": "proc", "source": "proc" },
    { "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { "destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"] },
    { "destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
    { "destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"] },
    { "destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "nodev"] }
  ],
  "linux": {
    "namespaces": [
      { "type": "pid" }, { "type": "network" }, { "type": "ipc" }, { "type": "uts" },
      { "type": "mount" }, { "type": "user" }, { "type": "cgroup" }, { "type": "time" }
    ],
    "uidMappings": [ { "containerID": 0, "hostID": 100000, "size": 65536 } ],
    "gidMappings": [ { "containerID": 0, "hostID": 100000, "size": 65536 } ],
    "timeOffsets": { "monotonic": { "secs": 86400, "nanosecs": 0 }, "boottime": { "secs": 86400, "nanosecs": 0 } },
    "maskedPaths": ["/proc/kcore", "/proc/keys", "/proc/timer_list", "/sys/firmware"],
    "readonlyPaths": ["/proc/sys", "/proc/sysrq-trigger", "/proc/bus", "/proc/fs", "/proc/irq"]
  }
}
JSON

echo "--- on the host ---"
echo "my pid:        $$   hostname: $(hostname)   uptime: $(cut -d' ' -f1 /proc/uptime) s"
echo "network:       $(ls /sys/class/net | tr '\n' ' ')"
echo "mounts:        $(wc -l < /proc/self/mountinfo)"
echo
echo "\$ vessel run --bundle $work/bundle demo"
"$vessel" --root "$root" run --bundle "$work/bundle" demo
echo
echo "the container exited with status $?; nothing is left:"
"$vessel" --root "$root" list
