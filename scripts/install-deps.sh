#!/bin/sh
# Install what building and testing labyrinth needs on Debian 12, as root,
# only if something is missing.  Usage: scripts/install-deps.sh [extra packages]
set -e
need=""
for tool in cmake:cmake gcc:gcc make:make clang:clang pkg-config:pkg-config \
	clang-tidy:clang-tidy dpkg-shlibdeps:dpkg-dev file:file; do # tidy, cpack -G DEB
	cmd=${tool%%:*}
	pkg=${tool#*:}
	command -v "$cmd" >/dev/null 2>&1 || need="$need $pkg"
done
# clang's sanitizer and fuzzer runtimes
# (whether or not clang itself is there yet: a fresh machine has neither)
ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.asan-x86_64.a >/dev/null 2>&1 || \
	need="$need libclang-rt-14-dev"
# man -l for the man-page test (man-db brings groff-base)
command -v man >/dev/null 2>&1 || need="$need man-db"
# liburing for labyrinth-rx, the io_uring receive example
dpkg -s liburing-dev >/dev/null 2>&1 || need="$need liburing-dev"
# AF_XDP examples and their test: libxdp/libbpf, clang -target bpf, iproute2
# for the namespaces; iperf (v2) and socat for traffic nobody here wrote
for pkg in libxdp-dev libbpf-dev iproute2 iperf socat; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
# DPDK: the mempool driver (dpdk/) builds against libdpdk-dev; its tests
# and make bench-dpdk run Debian's dpdk-test and dpdk-testpmd (dpdk-dev)
for pkg in libdpdk-dev dpdk-dev; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
# labyrinth-top's test: its live view under tmux, and Prometheus's own
# parser for its --prometheus output
for pkg in tmux python3-prometheus-client; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
for pkg in "$@"; do
	dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
[ -z "$need" ] && exit 0
if [ "$(id -u)" != 0 ]; then
	echo "labyrinth: missing packages:$need; install them as root: apt-get install$need" >&2
	exit 1
fi
echo "labyrinth: installing$need"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq $need >/dev/null
