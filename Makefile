# Thin wrapper around CMake.  `make demo` and `make test` do all the set-up
# on a fresh Debian 12 machine (installing packages as root if missing).
BUILD ?= build
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
CMAKE_FLAGS ?=

.PHONY: all deps build demo test test-asan test-tsan install clean

all: build

deps:
	@sh scripts/install-deps.sh

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The receive-path story: a simulated NIC fills a ring from the pool, then
# real UDP through io_uring provided buffers vs the recvmmsg baseline.
demo: build
	$(BUILD)/examples/labyrinth-nic-demo $(ARGS)
	BUILD=$(BUILD) sh examples/udp_demo.sh

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

test-asan:
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DLAB_SANITIZE=address -DCMAKE_C_COMPILER=clang"

test-tsan:
	$(MAKE) test BUILD=build-tsan CMAKE_FLAGS="-DLAB_SANITIZE=thread -DCMAKE_C_COMPILER=clang"

install: build
	cmake --install $(BUILD)

clean:
	rm -rf build build-asan build-tsan
