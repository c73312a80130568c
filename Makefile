# Thin wrapper around CMake.  `make demo` and `make test` do all the set-up
# on a fresh Debian 12 machine (installing packages as root if missing).
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=
# No "make[N]: Entering directory" lines from CMake's recursive makes.
MAKEFLAGS += --no-print-directory

.PHONY: all deps build demo test test-asan test-tsan install clean bench bench-quick bench-checks fuzz spin
.PHONY: demo-build uninstall package tidy check-install check-package

all: build

deps:
	@sh scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The receive-path story: a simulated NIC fills a ring from the pool, then
# real UDP through io_uring provided buffers vs the recvmmsg baseline, then
# (as root) AF_XDP into pool pages vs a frame stack and a mutex free list.
demo: demo-build
	$(BUILD)/examples/labyrinth-nic-demo $(ARGS)
	BUILD=$(BUILD) sh examples/udp_demo.sh
	BUILD=$(BUILD) sh examples/xdp_demo.sh

# The demo's programs only, the compiler's output kept in a log so that the
# story is what the terminal shows.
demo-build: deps $(BUILD)/CMakeCache.txt
	@echo "labyrinth: building the demo programs (log: $(BUILD)/demo-build.log)"
	@cmake --build $(BUILD) -j $(JOBS) >$(BUILD)/demo-build.log 2>&1 || { cat $(BUILD)/demo-build.log; exit 1; }

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)
	@if [ "$(BUILD)" != build ]; then :; elif sh scripts/test-kernel.sh --check; then $(MAKE) test-kernel; else echo "make test: test-kernel skipped (needs linux-headers-amd64 linux-headers-rt-amd64 qemu-system-x86 busybox-static cpio; make test-kernel installs them as root)"; fi
	@if [ "$(BUILD)" != build ]; then :; elif sh scripts/test-numa.sh --check; then $(MAKE) test-numa; else echo "make test: test-numa skipped (needs linux-headers-amd64 qemu-system-x86 busybox-static cpio; make test-numa installs them as root)"; fi

# LAB_POOL_NUMA on an emulated two-node machine (qemu, Debian's kernel):
# user-space tests and the module's numa cases; installs what is missing.
.PHONY: test-numa
test-numa: build
	BUILD=$(CURDIR)/$(BUILD) sh scripts/test-numa.sh

# labyrinth.ko under qemu on Debian's standard and PREEMPT_RT kernels
# (docs/kernel.md); installs what is missing as root.
.PHONY: test-kernel
test-kernel:
	sh scripts/test-kernel.sh

test-asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DLAB_SANITIZE=address -DCMAKE_C_COMPILER=clang"

test-tsan:
	$(MAKE) test BUILD=build-tsan CMAKE_FLAGS="-DLAB_SANITIZE=thread -DCMAKE_C_COMPILER=clang"

# labyrinth-bench: side by side with glibc, mimalloc, jemalloc, tcmalloc,
# DPDK's mempool, mmap and the floor (installs the peers' packages as root).
BENCH_BUILD ?= build-bench
BENCH_ARGS ?=
bench: deps
	@sh bench/install-peers.sh
	cmake -S bench -B $(BENCH_BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAB_ROOT=$(CURDIR)
	cmake --build $(BENCH_BUILD) -j $(JOBS) --target labyrinth-bench
	python3 bench/run.py --bin-dir $(BENCH_BUILD)/bench-bin $(BENCH_ARGS)
	$(MAKE) bench-dpdk

# The DPDK mempool driver in dpdk-testpmd (io forwarding over net_null)
# against ring_mp_mc and stack, with --mbcache=0 and the default cache
# (bench/dpdk.py, docs/dpdk.md).  Root; skipped where DPDK is absent.
DPDK_BENCH_ARGS ?=
.PHONY: bench-dpdk
bench-dpdk: build
	python3 bench/dpdk.py --driver $(BUILD)/dpdk/liblabyrinth_dpdk.so $(DPDK_BENCH_ARGS)

bench-quick:
	$(MAKE) bench BENCH_ARGS=--quick

# What each check of the fast paths costs: the labyrinth backend rebuilt
# with one check removed at a time, next to DPDK and the floor (after
# `make bench`, which builds the peers).
bench-checks:
	python3 bench/checks.py --bin-dir $(BENCH_BUILD)/bench-bin $(BENCH_ARGS)

# libFuzzer against a reference model, with a kept corpus (fuzz-corpus/).
FUZZ_SECONDS ?= 300
fuzz:
	bash fuzz/run.sh $(FUZZ_SECONDS)

# The Promela model of the lock-free core, checked exhaustively with Spin.
spin:
	sh scripts/spin.sh

install: build
	cmake --install $(BUILD)

# Removes what the last `make install` (or cmake --install) of $(BUILD)
# installed, from its install_manifest.txt.
uninstall:
	cmake --build $(BUILD) --target uninstall

# Debian packages liblabyrinth2, liblabyrinth-dev, labyrinth-tools,
# labyrinth-dkms in $(BUILD)/packages/ (cmake/package.cmake).
package: build
	cd $(BUILD) && cpack -G DEB

# clang-tidy over src/ with the checks of .clang-tidy; fails on any finding.
tidy: deps $(BUILD)/CMakeCache.txt
	sh scripts/tidy.sh $(BUILD)

# Install to a temporary prefix, link through pkg-config, run the programs.
check-install: build
	sh scripts/check-install.sh $(BUILD)

# Build the .debs, apt-get install them, link the usage example with plain
# pkg-config, run it, remove the packages (root; changes the system).
check-package: build
	sh scripts/check-package.sh $(BUILD)

# labyrinth-dkms: apt-get install, dkms build/install for the headers'
# kernel, a consumer module built against it, purge (root; changes the system).
.PHONY: check-dkms
check-dkms: build
	sh scripts/check-dkms.sh $(BUILD)

clean:
	rm -rf build build-asan build-tsan build-bench build-fuzz
