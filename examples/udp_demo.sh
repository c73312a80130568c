#!/bin/sh
# SPDX-License-Identifier: MIT
#
# udp_demo.sh - the real receive path, the UDP half of `make demo`.
#
# labyrinth-tx sends verifiable UDP datagrams on loopback at one fixed rate
# (50000/s by default) for DURATION seconds, twice:
#   1. into labyrinth-rx: io_uring multishot receives into a provided-buffer
#      ring of pool pages (labyrinth_void_alloc_page_gfp_atomic_exclusive),
#      every page checksummed, freed and replaced, the pool watched;
#   2. into labyrinth-rx --mode mmsg: the baseline, recvmmsg into malloc()'d
#      buffers, the same checks.
# Then a table compares the two.  On loopback the sender does the kernel's
# delivery work and is the bottleneck when it runs flat out, so packets/s
# would compare senders, not receivers: both runs get the same offered
# rate, and the table compares what each receiver spends per datagram.
# Settings come from the environment:
#
#   BUILD=build DURATION=10 PORT=9000 RATE=50000 (pkt/s, 0 = flat out) SIZE=1400
#   FLOWS=4 SOCKETS=1 PAGES=4096 RING=1024 ADDR=127.0.0.1
#
# Exit status: 0 when both runs verified every datagram and lost no page,
# 1 otherwise (a receiver without io_uring is reported and skipped).
set -u

DURATION=${DURATION:-10}
PORT=${PORT:-9000}
RATE=${RATE:-50000}
SOCKETS=${SOCKETS:-1}
PAGES=${PAGES:-4096}
RING=${RING:-1024}
ADDR=${ADDR:-127.0.0.1}
. "$(dirname "$0")/demo_common.sh"

rx=$BIN/labyrinth-rx
tx=$BIN/labyrinth-tx
if [ ! -x "$rx" ] || [ ! -x "$tx" ]; then
	echo "udp demo skipped: $rx is not built (it needs liburing: apt-get install liburing-dev, then rebuild)"
	exit 0
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/labyrinth-udp.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM
status=0

# run MODE TITLE: one receiver run with the sender beside it
run() {
	mode=$1
	echo
	echo "== $2: labyrinth-tx ($pace, $SIZE-byte datagrams, $FLOWS flows) -> $ADDR:$PORT for $DURATION s =="
	"$tx" -a "$ADDR" -p "$PORT" -d "$DURATION" -r "$RATE" -s "$SIZE" -f "$FLOWS" --delay 0.5 -q \
		--result-file "$tmp/tx.$mode" >/dev/null &
	txpid=$!
	"$rx" -m "$mode" -a "$ADDR" -p "$PORT" -s "$SOCKETS" -P "$PAGES" -r "$RING" \
		-d $((DURATION + 3)) -i 1 --result-file "$tmp/rx.$mode"
	rc=$?
	[ -f "$tmp/rx.$mode" ] || rc=1
	if ! grep -q ' status=ok' "$tmp/rx.$mode" 2>/dev/null; then
		kill "$txpid" 2>/dev/null
		rm -f "$tmp/rx.$mode"
	fi
	wait "$txpid"
	return $rc
}

run uring "labyrinth + io_uring"
if [ ! -f "$tmp/rx.uring" ]; then
	if [ -r /proc/sys/kernel/io_uring_disabled ] && [ "$(cat /proc/sys/kernel/io_uring_disabled)" != 0 ]; then
		echo "(io_uring is restricted here: kernel.io_uring_disabled = $(cat /proc/sys/kernel/io_uring_disabled); the pool path was skipped)"
	else
		echo "FAIL: the labyrinth + io_uring receiver did not finish cleanly"
		status=1
	fi
fi
run mmsg "malloc + recvmmsg (baseline)"
[ -f "$tmp/rx.mmsg" ] || { echo "FAIL: the recvmmsg receiver did not finish cleanly"; status=1; }

# The table: one column per receiver that ran.
awk -v dur="$DURATION" -v pace="$pace" "$result_awk"'
END {
	printf "\n== summary: the same offered rate (%s) into both receivers; compare CPU per datagram ==\n", pace
	printf "%-34s", ""
	for (i = 1; i <= nf; i += 2) {
		rxf = files[i]; txf = files[i + 1]
		col[i] = (get(rxf, "mode") == "uring") ? "labyrinth + io_uring" : "malloc + recvmmsg"
		printf "%24s", col[i]
	}
	printf "\n"
	row("sent (labyrinth-tx)", "sent", "tx")
	row("received and verified", "verified", "rx")
	lost_row()
	row("kernel drops (socket buffer)", "kernel_drops", "rx")
	per_row("rx CPU per datagram, ns", "cpu", 1e9)
	row("rx CPU, seconds", "cpu", "rx")
	rate_row()
	ratio_row("datagrams per system call", "packets", "syscalls")
	text_row("buffer per datagram", "pool page (ATOMIC)", "malloc()/free()")
	row("ring ran dry (ENOBUFS)", "enobufs", "rx", 1)
	row("pool low-watermark events", "watch_events", "rx", 1)
	pages_row()
	err_row()
	verdict()
}
# What this run shows, from its own numbers: who spent less CPU per
# datagram, and why, so that the text never claims what the table denies.
function verdict(    i, u, m, cu, cm, su, sm) {
	for (i = 1; i <= nf; i += 2) {
		if (get(files[i], "mode") == "uring") u = files[i]; else m = files[i]
	}
	if (u == "" || m == "" || get(u, "packets") <= 0 || get(m, "packets") <= 0) return
	cu = get(u, "cpu") * 1e9 / get(u, "packets"); cm = get(m, "cpu") * 1e9 / get(m, "packets")
	su = get(u, "packets") / (get(u, "syscalls") > 0 ? get(u, "syscalls") : 1)
	sm = get(m, "packets") / (get(m, "syscalls") > 0 ? get(m, "syscalls") : 1)
	printf "\n"
	if (cu <= cm)
		printf "This run: labyrinth + io_uring spent %.0f%% less CPU per datagram (%.0f vs %.0f ns).\n", (1 - cu / cm) * 100, cu, cm
	else
		printf "This run: labyrinth + io_uring spent %.0f%% MORE CPU per datagram (%.0f vs %.0f ns).\n", (cu / cm - 1) * 100, cu, cm
	printf "Most of the CPU at this rate is wake-ups, not buffers: a wake-up (a context switch)\n"
	printf "costs more than copying and checksumming a datagram.  The io_uring receiver woke once\n"
	printf "per %.1f datagrams (it waits for 32 completions or 1 ms), the recvmmsg one once per\n", su
	printf "%.1f (poll() returns at the first datagram).  A page from the pool and back costs\n", sm
	printf "tens of ns, malloc()/free() about as much: the allocators do not show here.\n"
	if (cu > cm)
		printf "Where labyrinth + io_uring loses, look at its datagrams per wake-up: near 1 means\n" \
		       "it woke per datagram (a rate too low to fill a batch, or a busy machine).\n"
}
function row(title, key, which, uring_only,    i, f, v) {
	printf "%-34s", title
	for (i = 1; i <= nf; i += 2) {
		f = (which == "tx") ? files[i + 1] : files[i]
		v = get(f, key)
		if (uring_only && get(files[i], "mode") != "uring") v = "-"
		printf "%24s", v
	}
	printf "\n"
}
function lost_row(    i) {
	printf "%-34s", "lost (sent - received)"
	for (i = 1; i <= nf; i += 2)
		printf "%24d", get(files[i + 1], "sent") - get(files[i], "verified")
	printf "\n"
}
function rate_row(    i, a, p, b) {
	printf "%-34s", "Mpkt/s while traffic flowed"
	for (i = 1; i <= nf; i += 2) {
		a = get(files[i], "active"); p = get(files[i], "packets")
		if (a <= 0) a = 1
		printf "%24.3f", p / a / 1e6
	}
	printf "\n%-34s", "Gbit/s while traffic flowed"
	for (i = 1; i <= nf; i += 2) {
		a = get(files[i], "active"); b = get(files[i], "bytes")
		if (a <= 0) a = 1
		printf "%24.2f", b * 8 / a / 1e9
	}
	printf "\n"
}
function per_row(title, key, scale,    i, p) {
	printf "%-34s", title
	for (i = 1; i <= nf; i += 2) {
		p = get(files[i], "packets")
		printf "%24s", ((p > 0) ? sprintf("%.0f", get(files[i], key) * scale / p) : "-")
	}
	printf "\n"
}
function ratio_row(title, num, den,    i, d) {
	printf "%-34s", title
	for (i = 1; i <= nf; i += 2) {
		d = get(files[i], den)
		printf "%24s", ((d > 0) ? sprintf("%.1f", get(files[i], num) / d) : "-")
	}
	printf "\n"
}
function text_row(title, u, m,    i) {
	printf "%-34s", title
	for (i = 1; i <= nf; i += 2)
		printf "%24s", ((get(files[i], "mode") == "uring") ? u : m)
	printf "\n"
}
function pages_row(    i) {
	printf "%-34s", "pages in use: after run / teardown"
	for (i = 1; i <= nf; i += 2)
		printf "%24s", ((get(files[i], "mode") == "uring") ? \
			sprintf("%s (ring %s) / %s", get(files[i], "inuse_after_run"), \
				get(files[i], "posted"), get(files[i], "inuse_after_teardown")) : "-")
	printf "\n"
}
function err_row(    i) {
	printf "%-34s", "errors (checksum, length, order)"
	for (i = 1; i <= nf; i += 2)
		printf "%24d", get(files[i], "csum_errors") + get(files[i], "len_errors") + \
			get(files[i], "reorders")
	printf "\n"
}
' $(result_files uring mmsg) </dev/null

echo
if [ "$RATE" = 0 ]; then
	echo "RATE=0: flat out.  On loopback the sender does the kernel's delivery work and is"
	echo "the bottleneck, so the packets/s rows compare the two senders' luck, not the"
	echo "receivers; CPU per datagram still compares the receivers."
else
	echo "Both receivers got the same offered rate ($RATE pkt/s): equal packets/s is expected;"
	echo "compare CPU per datagram and datagrams per system call.  One run on a busy machine"
	echo "varies by 20% or more: rerun before reading small differences (docs/udp.md)."
fi
exit $status
