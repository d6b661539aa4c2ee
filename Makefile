# Thin wrapper around meson + ninja.  `make demo` and `make check` do
# everything on a fresh Debian 12 machine as root.
BUILD      ?= build
BUILD_ASAN ?= build-asan
PYTEST     ?= /usr/bin/python3 -m pytest
# Every package the build and `make check` use; `make check-fresh` proves the
# list on a minbase Debian 12.  Besides the build's: busybox-static (the test
# bundles), python3-pytest, util-linux (unshare, nsenter), mount (mount,
# umount, losetup), passwd (useradd, userdel for the rootless tests), uidmap
# (newuidmap, newgidmap), procps (ps for `vessel ps`, pkill in the rootless
# tests), kmod (modprobe loop, when a blkio test has no disk) and
# golang-github-containers-common (podman's seccomp profile,
# /usr/share/containers/seccomp.json, for test_seccomp), zstd and xz-utils
# (tar --zstd/--xz for the image tests), lxcfs (vesselctl starts it, when
# it is not running, for /proc and /sys files that show the instance's
# limits; test_vesselctl_lxcfs.py), fuse3 (fusermount3, libfuse3: FUSE
# inside instances), squashfuse and squashfs-tools (mksquashfs: the FUSE
# test mounts a squashfs image inside an instance), python3-yaml (the
# vesselctl tests read its YAML output), scdoc (the man pages from docs/man/*.scd, and
# test_docs.py builds them), mmdebstrap (`vesselctl image build` makes
# Debian images with it; the tests build theirs once per machine), man-db
# (test_docs.py renders the man pages with man -l).  libc6-dev brings
# linux-libc-dev, whose asm/unistd_64.h test_seccomp reads.  libbtrfsutil-dev
# (subvolumes and snapshots of btrfs storage pools) and btrfs-progs (mkfs.btrfs
# for pools on a device or file; test_vesselctl_storage.py makes one).
DEBS = meson ninja-build pkg-config gcc libc6-dev libjson-c-dev libseccomp-dev \
       libsqlite3-dev libarchive-dev libyaml-dev nettle-dev \
       busybox-static python3-pytest iproute2 util-linux mount passwd uidmap procps kmod \
       golang-github-containers-common zstd xz-utils python3-yaml man-db scdoc mmdebstrap \
       lxcfs fuse3 squashfuse squashfs-tools strace \
       libbtrfsutil-dev btrfs-progs

.PHONY: all deps build demo check check-unit check-integration check-cgroupv2 check-fresh check-asan e2e fuzz bench bench-manager bench-storage clean

all: build

deps:
	@missing=""; for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		export DEBIAN_FRONTEND=noninteractive; \
		apt-get install -y -qq $$missing >/dev/null 2>&1 || \
		{ apt-get update -qq && apt-get install -y -qq $$missing; }; \
	fi

$(BUILD)/build.ninja:
	meson setup $(BUILD) --werror

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

demo: build
	./scripts/demo.sh $(BUILD)/vessel
	./scripts/demo-system.sh $(BUILD)/vesselctl

check-unit: build
	meson test -C $(BUILD) --print-errorlogs

check-integration: build
	VESSEL=$(abspath $(BUILD)/vessel) VESSELCTL=$(abspath $(BUILD)/vesselctl) $(PYTEST) -q tests/integration

# The cgroup tests again on pure cgroup v2, in a QEMU VM (this machine is
# hybrid); fails, saying so, when the VM cannot start.
# The VM emulates its CPU (no KVM here): ~1-2 minutes idle, much more on a busy host.
CGV2_TIMEOUT ?= 900
CGV2_VM ?= $(abspath $(firstword $(wildcard ../shared/vm/cgv2-vm.sh /work/shared/vm/cgv2-vm.sh) ../shared/vm/cgv2-vm.sh))
check-cgroupv2: build
	CGV2_VM=$(CGV2_VM) CGV2_TIMEOUT=$(CGV2_TIMEOUT) tests/integration/cgroupv2/run-in-vm.sh $(abspath $(BUILD)/vessel)

check: check-unit check-integration check-cgroupv2

# make deps, check-unit and check-integration in a brand-new Debian 12
# minbase root (mmdebstrap, cached in /var/cache/vessel/check-fresh), to
# prove that deps installs all the suite needs; not check-cgroupv2 (its VM
# needs qemu and ../shared).  CHECK_FRESH_REBUILD=1 rebuilds the root.
check-fresh:
	CHECK_FRESH_REBUILD=$(CHECK_FRESH_REBUILD) ./scripts/check-fresh.sh

$(BUILD_ASAN)/build.ninja:
	meson setup $(BUILD_ASAN) --werror -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

check-asan: deps $(BUILD_ASAN)/build.ninja
	ninja -C $(BUILD_ASAN)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(BUILD_ASAN) --print-errorlogs
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		VESSEL=$(abspath $(BUILD_ASAN)/vessel) VESSELCTL=$(abspath $(BUILD_ASAN)/vesselctl) \
		$(PYTEST) -q tests/integration

# libFuzzer on the config parser, the seccomp compiler and metadata.yaml: a short run (FUZZ_SECONDS), corpus kept in
# the repository (new interesting inputs land in build-fuzz/corpus, not git).
FUZZ_SECONDS ?= 60
fuzz:
	@dpkg -s clang libclang-rt-14-dev >/dev/null 2>&1 || \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
	[ -f build-fuzz/build.ninja ] || CC=clang meson setup build-fuzz -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false
	ninja -C build-fuzz tests/fuzz/fuzz-spec tests/fuzz/fuzz-seccomp tests/fuzz/fuzz-metadata \
		tests/fuzz/fuzz-template
	mkdir -p build-fuzz/corpus/spec build-fuzz/corpus/seccomp build-fuzz/corpus/metadata \
		build-fuzz/corpus/template
	build-fuzz/tests/fuzz/fuzz-spec -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
		build-fuzz/corpus/spec tests/fuzz/corpus/spec
	LSAN_OPTIONS=suppressions=$(abspath tests/fuzz/lsan.supp) \
	build-fuzz/tests/fuzz/fuzz-seccomp -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
		build-fuzz/corpus/seccomp tests/fuzz/corpus/seccomp
	build-fuzz/tests/fuzz/fuzz-metadata -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
		build-fuzz/corpus/metadata tests/fuzz/corpus/metadata
	build-fuzz/tests/fuzz/fuzz-template -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
		build-fuzz/corpus/template tests/fuzz/corpus/template

# podman (40 scenarios) and containerd (12 checks) drive the freshly built
# vessel as their runtime, with no wrapper around it (../shared/e2e).
E2E_DIR ?= $(firstword $(wildcard ../shared/e2e /work/shared/e2e))
e2e: build
	@[ -n "$(E2E_DIR)" ] && [ -x "$(E2E_DIR)/podman-e2e.sh" ] || \
		{ echo "e2e: the podman/containerd harness (../shared/e2e) is missing" >&2; exit 1; }
	$(E2E_DIR)/podman-e2e.sh $(abspath $(BUILD)/vessel)
	$(E2E_DIR)/containerd-smoke.sh $(abspath $(BUILD)/vessel)

# vessel vs crun vs runc, then vesselctl vs LXC 5, side by side
# (bench/README.md); not part of check.
bench: deps
	./bench/bench.sh

# only the manager rows: vesselctl vs LXC 5 (bench/results-manager.md)
bench-manager: deps
	BENCH_SUITES=manager ./bench/bench.sh

# only the storage rows: pools' clones, copies, export/import vs LXC and tar
# (bench/results-storage.md)
bench-storage: deps
	BENCH_SUITES=storage ./bench/bench.sh

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) build-fuzz
