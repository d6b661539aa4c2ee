#!/bin/sh
# mkbundle.sh DIR: a minimal bundle whose rootfs is busybox-static
# (DIR/rootfs), without a config.json.  Used by the demo, tests and bench.
set -eu
dir=$1
bb=/bin/busybox
[ -x "$bb" ] || { echo "mkbundle: $bb missing (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$dir/rootfs"
cd "$dir/rootfs"
mkdir -p bin sbin usr/bin usr/sbin etc proc sys dev tmp root home var/tmp run
chmod 1777 tmp var/tmp
cp "$bb" bin/busybox
for a in $(./bin/busybox --list); do
	[ "$a" = busybox ] || ln -sf busybox "bin/$a"
done
echo 'root:x:0:0:root:/root:/bin/sh' > etc/passwd
echo 'nobody:x:65534:65534:nobody:/:/bin/sh' >> etc/passwd
echo 'root:x:0:' > etc/group
echo 'nogroup:x:65534:' >> etc/group
: > etc/hostname
