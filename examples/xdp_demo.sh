#!/bin/sh
# SPDX-License-Identifier: MIT
#
# xdp_demo.sh - the AF_XDP half of `make demo` (root only).
#
# Two network namespaces joined by a veth pair (examples/xdp_netns.sh);
# labyrinth-xdp-tx sends verifiable frames from one side, flat out, and
# labyrinth-xdp-rx receives them on the other into AF_XDP frames, three
# times with the same traffic:
#   1. labyrinth: the UMEM is a pool, workers free the frames themselves;
#   2. stack: the tutorial's frame stack, frames back through the rx thread;
#   3. mutex: a mutex-protected shared free list.
# The sender outruns the receiver here (drops show it), so the receiver is
# the bottleneck and packets/s compare receivers; CPU per packet counts the
# receiving process's CPU (rx thread + workers) per frame received.
# Settings from the environment:
#   BUILD=build DURATION=5 RATE=0 (pkt/s, 0 = flat out) SIZE=1400 FLOWS=4
#   WORKERS=2 FRAMES=4096 MODE=native|generic TAG=demo
# Exit status: 0 when every run verified every frame and lost none, or the
# demo was skipped (with the reason); 1 otherwise.
set -u

DURATION=${DURATION:-5}
RATE=${RATE:-0}
WORKERS=${WORKERS:-2}
FRAMES=${FRAMES:-4096}
MODE=${MODE:-native}
TAG=${TAG:-demo}
here=$(dirname "$0")
. "$here/demo_common.sh"

if [ "$(id -u)" != 0 ]; then
	echo "AF_XDP demo skipped: it needs root (network namespaces, XDP programs, AF_XDP sockets); run: sudo make demo"
	exit 0
fi
if [ ! -x "$BIN/labyrinth-xdp-rx" ] || [ ! -x "$BIN/labyrinth-xdp-tx" ]; then
	echo "AF_XDP demo skipped: $BIN/labyrinth-xdp-rx is not built (it needs libxdp-dev, libbpf-dev, clang: sh scripts/install-deps.sh, then rebuild)"
	exit 0
fi
if ! command -v ip >/dev/null 2>&1; then
	echo "AF_XDP demo skipped: iproute2 (ip) is not installed"
	exit 0
fi

eval "$(sh "$here/xdp_netns.sh" names "$TAG")"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/labyrinth-xdp.XXXXXX") || exit 1
cleanup() {
	sh "$here/xdp_netns.sh" down "$TAG"
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
sh "$here/xdp_netns.sh" up "$TAG" || { echo "FAIL: could not set up the namespaces"; exit 1; }
flag=--native
[ "$MODE" = generic ] && flag=--generic
status=0

for m in labyrinth stack mutex; do
	echo
	echo "== AF_XDP receive, $m: labyrinth-xdp-tx ($pace, $SIZE-byte datagrams, $FLOWS flows) $NS_A -> $NS_B for $DURATION s =="
	ip netns exec "$NS_B" "$BIN/labyrinth-xdp-rx" -i "$IF_B" -m $m $flag -P "$FRAMES" \
		-w "$WORKERS" -d $((DURATION + 4)) -I 1 --result-file "$tmp/rx.$m" &
	rxpid=$!
	sleep 1
	ip netns exec "$NS_A" "$BIN/labyrinth-xdp-tx" -i "$IF_A" -m "$MAC_B" -r "$RATE" \
		-s "$SIZE" -f "$FLOWS" -d "$DURATION" -q --result-file "$tmp/tx.$m" >/dev/null
	wait $rxpid || status=1
	[ -f "$tmp/rx.$m" ] && [ -f "$tmp/tx.$m" ] || { echo "FAIL: the $m run did not finish"; status=1; }
done

awk "$result_awk"'
END {
	printf "\n== summary: the same traffic into three frame allocators ==\n"
	printf "%-36s", ""
	for (i = 1; i <= nf; i += 2) printf "%16s", get(files[i], "mode")
	printf "\n"
	row("sent (labyrinth-xdp-tx)", "sent", 1)
	row("received and verified", "verified", 0)
	row("dropped (fill ring empty)", "drops", 0)
	printf "%-36s", "received, packets/s"
	for (i = 1; i <= nf; i += 2) {
		a = get(files[i], "active"); if (a <= 0) a = 1
		printf "%16.0f", get(files[i], "packets") / a
	}
	printf "\n%-36s", "rx CPU per packet, ns"
	for (i = 1; i <= nf; i += 2) {
		p = get(files[i], "packets")
		printf "%16s", (p > 0) ? sprintf("%.0f", get(files[i], "cpu") * 1e9 / p) : "-"
	}
	printf "\n%-36s", "errors (checksum, length, order)"
	for (i = 1; i <= nf; i += 2)
		printf "%16d", get(files[i], "csum_errors") + get(files[i], "len_errors") + get(files[i], "reorders")
	printf "\n%-36s", "frames: in use = fill + in flight"
	for (i = 1; i <= nf; i += 2)
		printf "%16s", sprintf("%s=%s+%s", get(files[i], "inuse_after_run"), get(files[i], "fill"), get(files[i], "in_flight"))
	printf "\n"
	row("frames in use after teardown", "inuse_after_teardown", 0)
	row("pool low-watermark events", "watch_events", 0)
	printf "%-36s%16s%16s%16s\n", "frames go back", "by any worker", "via rx thread", "under a mutex"
}
function row(title, key, tx,    i) {
	printf "%-36s", title
	for (i = 1; i <= nf; i += 2) printf "%16s", get(files[i + tx], key)
	printf "\n"
}
' $(result_files labyrinth stack mutex) </dev/null

echo
echo "veth runs AF_XDP in copy mode (the kernel copies each frame into the UMEM page);"
echo "the CPU numbers include that copy.  Rates are noisy on a shared machine: compare"
echo "CPU per packet and drops of one run.  See docs/xdp.md."
exit $status
