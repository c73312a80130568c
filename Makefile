# Thin wrapper around CMake.  `make demo` and `make test` do all the set-up
# on a fresh Debian 12 machine (installing packages as root if missing).
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build demo test test-asan test-tsan install clean bench bench-quick fuzz spin

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
demo: build
	$(BUILD)/examples/labyrinth-nic-demo $(ARGS)
	BUILD=$(BUILD) sh examples/udp_demo.sh
	BUILD=$(BUILD) sh examples/xdp_demo.sh

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

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

bench-quick:
	$(MAKE) bench BENCH_ARGS=--quick

# libFuzzer against a reference model, with a kept corpus (fuzz-corpus/).
FUZZ_SECONDS ?= 300
fuzz:
	bash fuzz/run.sh $(FUZZ_SECONDS)

# The Promela model of the lock-free core, checked exhaustively with Spin.
spin:
	sh scripts/spin.sh

install: build
	cmake --install $(BUILD)

clean:
	rm -rf build build-asan build-tsan build-bench build-fuzz
