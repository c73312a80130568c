#!/bin/sh
# SPDX-License-Identifier: MIT
# Description: the labyrinth mempool driver under DPDK's own programs.
#
# Usage: dpdk_run.sh CASE DRIVER.so [PROGRAM]
#   mbuf_autotest, mempool_autotest  dpdk-test's suites, every pool they
#                     let the option choose on the driver (--mbuf-pool-ops-name)
#   testpmd_nocache, testpmd_cache   dpdk-testpmd io forwarding over two
#                     net_null ports for 3 s, --mbcache=0 / the default cache
#   af_packet         frames sent into a veth pair in a namespace of our own
#                     = frames testpmd received on net_af_packet, each in an
#                     mbuf from the driver (--mbcache=0; PROGRAM: frame_send)
#   af_xdp            the same frames on net_af_xdp into a pool made by
#                     labyrinth_dpdk_pktmbuf_pool_create, the AF_XDP UMEM
#                     (PROGRAM: the af_xdp_rx receiver, next to frame_send)
#   double_free       PROGRAM (t_dpdk_double_free), with the run directory
#                     cleaned up after it
# With LABYRINTH_DPDK_STATS=1 the driver checks every object it hands out
# (a block of the labyrinth region) and prints one line per pool at its
# free; each case reads those lines.  Exit 77 with the reason where it
# cannot run (not root, no dpdk-test/dpdk-testpmd, ...).
set -u
case=${1:?usage: dpdk_run.sh CASE DRIVER.so [PROGRAM]}
so=${2:?usage: dpdk_run.sh CASE DRIVER.so [PROGRAM]}
prog=${3:-}
pass=0
fail=0
prefix=lab-dpdk-$case-$$
ns=""
safe=""
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lab-dpdk-test.XXXXXX") || exit 1

cleanup() {
	[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	rm -rf "$tmp" "/var/run/dpdk/$prefix"
	[ -n "$safe" ] && rm -rf "$safe"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
check() { # check WHAT COND...
	what=$1
	shift
	if "$@"; then ok; else bad "$what"; fi
}
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ] && exit 0
	exit 1
}
skip() {
	echo "SKIP: $case: $*"
	exit 77
}

[ "$(id -u)" = 0 ] || skip "the DPDK EAL needs root here (it locks and maps its memory)"

# The EAL loads no driver from under a world-writable directory (/tmp, a
# copy of the tree under /tmp): then a copy in a private directory of $HOME.
world_writable_above() {
	d=$(dirname "$1")
	while :; do
		case $(stat -c %A "$d") in ????????w*) return 0 ;; esac
		[ "$d" = / ] && return 1
		d=$(dirname "$d")
	done
}
if world_writable_above "$so"; then
	[ -n "${HOME:-}" ] && [ -d "$HOME" ] && ! world_writable_above "$HOME/x" ||
		skip "$so lies under a world-writable directory, which the EAL refuses, and \$HOME is no better"
	safe=$(mktemp -d "$HOME/.lab-dpdk-so.XXXXXX") || exit 1
	cp "$so" "$safe/" && so=$safe/$(basename "$so")
	echo "dpdk_run: the driver copied to $so (the EAL refuses world-writable directories)"
fi

eal="-l 0-1 --no-huge -m 256 --no-pci --no-telemetry --file-prefix $prefix -d $so --mbuf-pool-ops-name labyrinth"
nulls="--vdev net_null0 --vdev net_null1"
export LABYRINTH_DPDK_STATS=1

# The driver's lines (stderr, so they may start mid-line of stdout).
lines() { grep -ao 'labyrinth-dpdk: mempool .*' "$tmp/out"; }

# The driver's line for a pool: field VALUE after NAME, e.g. stat mb_pool_0 gets
stat() {
	lines | grep "^labyrinth-dpdk: mempool $1:" | tail -n 1 |
		sed -n "s/.*[ ,;]$2 \(-\{0,1\}[0-9]\{1,\}\).*/\1/p"
}

# testpmd's total received packets over all ports (its closing summary)
testpmd_rx() {
	sed -n '/Accumulated forward statistics for all ports/,$p' "$tmp/out" |
		sed -n 's/.*RX-packets: *\([0-9]\{1,\}\).*/\1/p' | head -n 1
}

# The driver's lines: at least one pool, no object outside its region, no
# refused put.
driver_lines_clean() {
	check "the driver printed no pool line (was it loaded and chosen?)" [ "$(lines | wc -l)" -gt 0 ]
	check "an object outside the labyrinth region" [ "$(lines | grep -vc 'outside region 0;')" = 0 ]
	check "a put refused where none was expected" [ "$(lines | grep -vc 'bad_frees 0;')" = 0 ]
}

dpdk_test() {
	command -v dpdk-test >/dev/null || skip "no dpdk-test (apt-get install dpdk-dev)"
	# shellcheck disable=SC2086
	DPDK_TEST=$case timeout 200 dpdk-test $eal $nulls >"$tmp/out" 2>&1
	rc=$?
	check "dpdk-test $case exited with $rc" [ $rc = 0 ]
	check "dpdk-test $case did not say Test OK" grep -q "Test OK" "$tmp/out"
	check "no pool of $case on the labyrinth ops" grep -q "ops_name: <labyrinth>\|^labyrinth-dpdk: mempool" "$tmp/out"
	driver_lines_clean
	# objects went through the driver: some pool had gets, and every pool
	# got back what it handed out or holds it in an lcore cache
	got=$(lines | sed -n 's/.* gets \([0-9]*\).*/\1/p' | sort -n | tail -n 1)
	check "no object came from labyrinth" [ "${got:-0}" -gt 0 ]
	lines | sed 's/^/  /'
	[ $fail = 0 ] || tail -n 40 "$tmp/out"
}

testpmd() { # testpmd EXTRA_TESTPMD_ARGS
	command -v dpdk-testpmd >/dev/null || skip "no dpdk-testpmd (apt-get install dpdk-dev)"
	# shellcheck disable=SC2086
	(sleep 3; echo) | timeout 60 dpdk-testpmd $eal $nulls -- --total-num-mbufs=8192 \
		--forward-mode=io --auto-start "$@" >"$tmp/out" 2>&1
	rc=$?
	check "dpdk-testpmd exited with $rc" [ $rc = 0 ]
	check "testpmd did not choose the labyrinth ops" \
		grep -q "preferred mempool ops selected: labyrinth" "$tmp/out"
	rx=$(testpmd_rx)
	check "testpmd forwarded nothing" [ "${rx:-0}" -gt 0 ]
	driver_lines_clean
	gets=$(stat mb_pool_0 gets)
	out=$(stat mb_pool_0 out)
	cached=$(stat mb_pool_0 "lcore caches")
	check "no line for mb_pool_0" [ -n "$gets" ] && [ -n "$out" ] && [ -n "$cached" ]
	# nothing lost: what was out when testpmd freed the pool is exactly
	# what DPDK's lcore caches held (the ports are stopped and closed first)
	check "lost mbufs: $out out, $cached in lcore caches" [ "${out:-x}" = "${cached:-y}" ]
	echo "dpdk_run: $case: $rx packets received, $gets objects from labyrinth, $out out at the end = $cached in lcore caches"
	lines | sed 's/^/  /'
}

# A veth pair lab-dpdk-a/lab-dpdk-b in a namespace of our own, no IPv6
# (nothing but our frames crosses it); cleanup deletes it.
ipn() { ip netns exec "$ns" "$@"; }
veth_pair() {
	command -v ip >/dev/null || skip "no ip (apt-get install iproute2)"
	ns=lab-dpdk-$$
	ip netns add "$ns" || skip "cannot create a network namespace"
	ipn sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
	ip -n "$ns" link add lab-dpdk-a type veth peer name lab-dpdk-b || skip "cannot create a veth pair"
	ip -n "$ns" link set lab-dpdk-a up
	ip -n "$ns" link set lab-dpdk-b up
}

case $case in
mbuf_autotest | mempool_autotest)
	dpdk_test
	;;
testpmd_nocache)
	testpmd --mbcache=0
	# without a cache every mbuf of every packet is a get of the driver
	check "fewer gets ($gets) than packets ($rx) with --mbcache=0" [ "${gets:-0}" -ge "${rx:-1}" ]
	;;
testpmd_cache)
	testpmd
	check "no get reached the driver" [ "${gets:-0}" -gt 0 ]
	;;
af_xdp)
	[ -x "$prog" ] || skip "no receiver"
	send=$(dirname "$prog")/frame_send
	veth_pair
	frames=2000
	ipn timeout 60 stdbuf -oL "$prog" lab-dpdk-a $frames -l 0 --no-huge -m 256 --no-pci \
		--no-telemetry --file-prefix "$prefix" --vdev net_af_xdp0,iface=lab-dpdk-a \
		>"$tmp/out" 2>&1 &
	pmd=$!
	i=0
	while ! grep -q "^ready\|^af_xdp_rx:" "$tmp/out" && [ $i -lt 200 ] && kill -0 $pmd 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	if grep -q "ports, want the one" "$tmp/out"; then
		wait $pmd
		skip "net_af_xdp did not probe on a veth here: $(grep -a 'af_xdp\|xdp' "$tmp/out" | tail -n 3 | tr '\n' ' ')"
	fi
	sent=$(ipn "$send" lab-dpdk-b $frames | sed -n 's/^sent //p')
	wait $pmd
	rc=$?
	check "af_xdp_rx exited with $rc" [ $rc = 0 ]
	check "the sender sent ${sent:-none} of $frames" [ "${sent:-0}" = $frames ]
	line=$(grep -a "^received " "$tmp/out")
	check "frames sent ${sent:-none}, $line" [ "$line" = "received $frames, outside 0, bad_frees 0" ]
	echo "dpdk_run: af_xdp: $sent frames sent; $line"
	[ $fail = 0 ] || tail -n 40 "$tmp/out"
	;;
af_packet)
	command -v dpdk-testpmd >/dev/null || skip "no dpdk-testpmd (apt-get install dpdk-dev)"
	[ -x "$prog" ] || skip "no frame sender"
	veth_pair
	mkfifo "$tmp/in"
	# shellcheck disable=SC2086
	ipn timeout 60 stdbuf -oL dpdk-testpmd -l 0-1 --no-huge -m 256 --no-pci --no-telemetry \
		--file-prefix "$prefix" -d "$so" --mbuf-pool-ops-name labyrinth \
		--vdev net_af_packet0,iface=lab-dpdk-a,framecnt=2048 -- --total-num-mbufs=8192 \
		--mbcache=0 --forward-mode=rxonly --auto-start <"$tmp/in" >"$tmp/out" 2>&1 &
	pmd=$!
	exec 3>"$tmp/in"
	i=0
	while ! grep -q "Press enter to exit" "$tmp/out" && [ $i -lt 200 ] && kill -0 $pmd 2>/dev/null; do
		sleep 0.1
		i=$((i + 1))
	done
	frames=2000
	sent=$(ipn "$prog" lab-dpdk-b $frames | sed -n 's/^sent //p')
	sleep 1
	echo >&3
	exec 3>&-
	wait $pmd
	rc=$?
	check "dpdk-testpmd exited with $rc" [ $rc = 0 ]
	check "the sender sent ${sent:-none} of $frames" [ "${sent:-0}" = $frames ]
	rx=$(testpmd_rx)
	check "frames sent ${sent:-none} != frames received ${rx:-none}" [ "${rx:-x}" = "${sent:-y}" ]
	driver_lines_clean
	gets=$(stat mb_pool_0 gets)
	# --mbcache=0: every frame's mbuf is a get of the driver
	check "fewer mbufs from labyrinth (${gets:-none}) than frames" [ "${gets:-0}" -ge "${rx:-1}" ]
	echo "dpdk_run: af_packet: $sent frames sent, $rx received, $gets mbufs from labyrinth"
	[ $fail = 0 ] || tail -n 40 "$tmp/out"
	;;
double_free)
	[ -x "$prog" ] || skip "no test program"
	# the program runs the EAL with its own prefix; clean that one too
	"$prog" &
	pid=$!
	wait $pid
	rc=$?
	rm -rf "/var/run/dpdk/lab-dpdk-df-$pid"
	exit $rc
	;;
*)
	echo "dpdk_run: unknown case $case" >&2
	exit 2
	;;
esac
finish
