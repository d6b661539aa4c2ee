# Thin wrapper around meson + ninja.  `make demo` and `make check` do
# everything on a fresh Debian 12 machine as root.
BUILD      ?= build
BUILD_ASAN ?= build-asan
PYTEST     ?= /usr/bin/python3 -m pytest
DEBS = meson ninja-build pkg-config gcc libc6-dev libjson-c-dev libseccomp-dev \
       busybox-static python3-pytest iproute2 util-linux uidmap

.PHONY: all deps build demo check check-unit check-integration check-asan fuzz bench clean

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

check-unit: build
	meson test -C $(BUILD) --print-errorlogs

check-integration: build
	VESSEL=$(abspath $(BUILD)/vessel) $(PYTEST) -q tests/integration

check: check-unit check-integration

$(BUILD_ASAN)/build.ninja:
	meson setup $(BUILD_ASAN) --werror -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug

check-asan: deps $(BUILD_ASAN)/build.ninja
	ninja -C $(BUILD_ASAN)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C $(BUILD_ASAN) --print-errorlogs
	ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		VESSEL=$(abspath $(BUILD_ASAN)/vessel) $(PYTEST) -q tests/integration

clean:
	rm -rf $(BUILD) $(BUILD_ASAN) build-fuzz
