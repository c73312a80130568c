#!/bin/sh
# Install the peer allocators that labyrinth-bench compares against, on
# Debian 12, as root, only when something is missing.  Never fatal: a peer
# whose package cannot be installed is simply skipped by the build.
#   bench/install-peers.sh            install what is missing
#   bench/install-peers.sh --check    only list what is missing
set -u
pkgs="libmimalloc-dev libjemalloc-dev libgoogle-perftools-dev dpdk-dev libdpdk-dev strace pkg-config python3"
need=""
for p in $pkgs; do
	dpkg -s "$p" >/dev/null 2>&1 || need="$need $p"
done
[ -z "$need" ] && exit 0
if [ "${1:-}" = "--check" ]; then
	echo "labyrinth-bench: missing packages:$need"
	exit 0
fi
if [ "$(id -u)" != 0 ]; then
	echo "labyrinth-bench: missing peer packages:$need" >&2
	echo "labyrinth-bench: install them as root (apt-get install$need); benchmarking what is available" >&2
	exit 0
fi
echo "labyrinth-bench: installing$need"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || true
if ! apt-get install -y -qq --no-install-recommends $need >/dev/null; then
	# one at a time, so that one missing package does not block the rest
	for p in $need; do
		apt-get install -y -qq --no-install-recommends "$p" >/dev/null 2>&1 ||
			echo "labyrinth-bench: could not install $p; that peer is skipped" >&2
	done
fi
exit 0
