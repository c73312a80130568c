#!/bin/sh
# SPDX-License-Identifier: MIT
#
# xdp_demo.sh - the AF_XDP half of `make demo` (root only).
#
# Two network namespaces joined by a veth pair (examples/xdp_netns.sh);
# labyrinth-xdp-tx sends verifiable frames from one side at a fixed rate
# below saturation, and labyrinth-xdp-rx receives them on the other into
# AF_XDP frames, with three frame allocators:
#   1. labyrinth: the UMEM is a pool, workers free the frames themselves;
#   2. stack: the tutorial's frame stack, frames back through the rx thread;
#   3. mutex: a mutex-protected shared free list.
# Each receiver runs RUNS times, the three interleaved (so that a busy
# moment of the machine does not fall on one of them only); the table shows
# the median and the spread (lowest..highest) of CPU per packet and drops.
# One run says little: two runs of the same receiver differ by a third on
# a busy machine.  CPU per packet counts the receiving process (rx thread
# + workers) per frame received.
# Settings from the environment:
#   BUILD=build DURATION=3 RUNS=3 RATE=100000 (pkt/s, 0 = flat out) SIZE=1400
#   FLOWS=4 WORKERS=2 FRAMES=4096 MODE=native|generic TAG=demo
# Exit status: 0 when every run verified every frame it got, lost no frame
# of its own and had no error, or the demo was skipped (with the reason);
# 1 otherwise.
set -u

DURATION=${DURATION:-3}
RUNS=${RUNS:-3}
RATE=${RATE:-100000}
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

runs=""
i=1
while [ "$i" -le "$RUNS" ]; do
	for m in labyrinth stack mutex; do
		echo "== AF_XDP receive, $m, run $i of $RUNS: labyrinth-xdp-tx ($pace, $SIZE-byte datagrams, $FLOWS flows) $NS_A -> $NS_B for $DURATION s =="
		ip netns exec "$NS_B" "$BIN/labyrinth-xdp-rx" -i "$IF_B" -m $m $flag -P "$FRAMES" \
			-w "$WORKERS" -d $((DURATION + 4)) -I 1 -q --result-file "$tmp/rx.$m.$i" &
		rxpid=$!
		sleep 1
		ip netns exec "$NS_A" "$BIN/labyrinth-xdp-tx" -i "$IF_A" -m "$MAC_B" -r "$RATE" \
			-s "$SIZE" -f "$FLOWS" -d "$DURATION" -q --result-file "$tmp/tx.$m.$i" >/dev/null
		wait $rxpid || { echo "FAIL: the $m receiver, run $i, failed"; status=1; }
		[ -f "$tmp/rx.$m.$i" ] && [ -f "$tmp/tx.$m.$i" ] || { echo "FAIL: the $m run $i did not finish"; status=1; }
		runs="$runs $m.$i"
	done
	i=$((i + 1))
done

# shellcheck disable=SC2046 # one word per result file
awk -v runs="$RUNS" -v pace="$pace" "$result_awk"'
END {
	nm = split("labyrinth stack mutex", modes, " ")
	for (i = 1; i <= nf; i += 2) {
		m = get(files[i], "mode"); k = ++n[m]
		p = get(files[i], "packets")
		cpu[m, k] = (p > 0) ? get(files[i], "cpu") * 1e9 / p : 0
		drop[m, k] = get(files[i], "drops")
		sent[m] += get(files[i + 1], "sent"); verified[m] += get(files[i], "verified")
		fempty[m] += get(files[i], "fill_empty")
		dev[m] += get(files[i], "dev_drops")
		errs[m] += get(files[i], "csum_errors") + get(files[i], "len_errors") + \
			   get(files[i], "reorders") + get(files[i], "ip_csum_errors")
		if (get(files[i], "inuse_after_run") != get(files[i], "fill") + get(files[i], "in_flight") || \
		    get(files[i], "inuse_after_teardown") != 0) bad[m]++
		watch[m] += get(files[i], "watch_events"); flushed[m] += get(files[i], "flushed")
	}
	printf "\n== summary: %s, %d runs of each receiver (median, lowest..highest) ==\n", pace, runs
	printf "%-34s", ""
	for (j = 1; j <= nm; j++) printf "%20s", modes[j]
	printf "\n"
	line("sent (labyrinth-xdp-tx), all runs", sent)
	line("received and verified", verified)
	printf "%-34s", "rx CPU per packet, ns: median"
	for (j = 1; j <= nm; j++) { med[modes[j]] = median(cpu, modes[j]); printf "%20.0f", med[modes[j]] }
	printf "\n%-34s", "                        spread"
	for (j = 1; j <= nm; j++) printf "%20s", sprintf("%.0f..%.0f", lo(cpu, modes[j]), hi(cpu, modes[j]))
	printf "\n%-34s", "AF_XDP drops per run: median"
	for (j = 1; j <= nm; j++) printf "%20.0f", median(drop, modes[j])
	printf "\n%-34s", "                      spread"
	for (j = 1; j <= nm; j++) printf "%20s", sprintf("%d..%d", lo(drop, modes[j]), hi(drop, modes[j]))
	printf "\n"
	line("  of which fill ring found empty", fempty)
	line("veth rx_dropped (AF_XDP drops too)", dev)
	line("errors (checksums, length, order)", errs)
	line("runs with frames unaccounted for", bad)
	line("pool low-watermark events", watch)
	line("cached frames handed back", flushed)
	printf "%-34s%20s%20s%20s\n", "frames go back", "by any worker", "via rx thread", "under a mutex"
	verdict()
}
function line(title, arr,    j) {
	printf "%-34s", title
	for (j = 1; j <= nm; j++) printf "%20d", arr[modes[j]]
	printf "\n"
}
function sorted(arr, m,    k, a, b, t) {
	for (k = 1; k <= n[m]; k++) v[k] = arr[m, k]
	for (a = 2; a <= n[m]; a++)
		for (b = a; b > 1 && v[b - 1] > v[b]; b--) { t = v[b]; v[b] = v[b - 1]; v[b - 1] = t }
}
function median(arr, m) {
	if (!n[m]) return 0
	sorted(arr, m)
	return (n[m] % 2) ? v[(n[m] + 1) / 2] : (v[n[m] / 2] + v[n[m] / 2 + 1]) / 2
}
function lo(arr, m) { if (!n[m]) return 0; sorted(arr, m); return v[1] }
function hi(arr, m) { if (!n[m]) return 0; sorted(arr, m); return v[n[m]] }
# Say what the medians show, and where they show nothing: when the
# receivers ranges overlap, the difference is noise.
function verdict(    j, m, best, overlap) {
	best = ""
	for (j = 1; j <= nm; j++) {
		m = modes[j]
		if (n[m] && (best == "" || med[m] < med[best])) best = m
	}
	if (best == "") return
	overlap = 0
	for (j = 1; j <= nm; j++) {
		m = modes[j]
		if (m != best && n[m] && lo(cpu, m) <= hi(cpu, best)) overlap = 1
	}
	printf "\n"
	if (overlap) {
		printf "CPU per packet: the spreads overlap, so these runs cannot rank the three frame\n"
		printf "allocators.  On veth the kernel copies every frame into the UMEM and runs the XDP\n"
		printf "program, and the receiver wakes for each batch: that is most of the CPU per packet.\n"
		printf "Taking a frame and giving it back is tens of ns in any of the three, too small to\n"
		printf "show through it.  What labyrinth changes here is how frames go back (any worker,\n"
		printf "no rx-thread hop, no lock) and the watch, not the CPU of this bench.\n"
	} else {
		printf "CPU per packet: %s has the lowest median (%.0f ns), and its spread stays apart\n", best, med[best]
		printf "from the others; rerun with more RUNS before trusting a small gap.\n"
	}
}
' $(for r in $runs; do result_files "$r"; done) </dev/null

echo
echo "veth runs AF_XDP in copy mode (the kernel copies each frame into the UMEM page);"
echo "the CPU numbers include that copy.  Drops below saturation come from a receiver that"
echo "was not scheduled in time (fill ring found empty); the veth counts every frame AF_XDP"
echo "refused as its own rx_dropped too.  See docs/xdp.md."
exit $status
