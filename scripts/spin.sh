#!/bin/sh
# SPDX-License-Identifier: MIT
#
# scripts/spin.sh - check the Promela model of labyrinth's lock-free core
# (src/model/labyrinth.pml) exhaustively with Spin.
#
#   scripts/spin.sh                  the default: 3 threads + a signal handler, then the
#                                    depot (-DDEPOT=1) with the handler, and with the
#                                    sleeper, then two threads trading magazines (-DTRADE=1),
#                                    then src/model/tls.pml (how the fast path finds a
#                                    thread's cache from the pool and its slot), then
#                                    src/model/publish.pml (LABYRINTH_STATS's record
#                                    seqlock and destroy)
#   SPIN_MODEL=tls.pml scripts/spin.sh -DMUTANT_NO_CLAIM_CHECK=1   another model of src/model/
#   scripts/spin.sh --mutants        every mutant kept in the model (MUTANT_* at its
#                                    top), each in a configuration that should catch it:
#                                    fails unless pan reports an error for every one
#   scripts/spin.sh -DBLOCKS=1       more -D options go to spin (model macros,
#                                    see the top of labyrinth.pml)
#   SPIN_PROBES_MORE="14 15 16 17" scripts/spin.sh --probes -DDEPOT=1 -DSLEEPER=0
#                                    the depot's probes too
#   scripts/spin.sh --probes         instead, show that the model is not vacuous:
#                                    each probe point (REACH(k) in the model:
#                                    a sleep, a wake-up, a handler finding its
#                                    thread busy, a flush, the reserve refusing
#                                    NOWAIT...) must be reachable
#   PAN_CFLAGS=-DMA=160 scripts/spin.sh   extra flags for compiling pan
#   PAN_OPT=-O2 scripts/spin.sh           pan's optimisation (default -O0: gcc -O2 needs
#                                         4 CPU minutes for the model's 460 KB pan.c and
#                                         -O0 20 s, while the search is only ~1.4x slower)
#   SPIN_MEMLIM=3500 scripts/spin.sh      pan's memory bound in MB (default 3500)
#   SPIN_BITSTATE=34 scripts/spin.sh -DDEPOT=1
#                                    a bitstate (supertrace) search with a 2^34-bit
#                                    (2 GiB) hash array instead of the exhaustive one:
#                                    for configurations too big for memory (the depot
#                                    with the handler and the sleeper together: 487 M
#                                    states, 29 min); errors: 0 is then strong evidence,
#                                    not proof (pan prints its hash factor)
#
# Installs spin (and gcc) with apt-get when missing and run as root.  Works
# in a temporary directory; prints pan's statistics and exits non-zero when
# pan reports an error (an assertion, an invalid end state = deadlock or
# lost wake-up) or could not finish the search (memory bound reached),
# leaving the trail in the temporary directory for `spin -t -p`.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
# SPIN_MODEL: another model of src/model/ (tls.pml: the fast path's
# way to a thread's cache; the default run and --mutants include it).
model="$here/src/model/${SPIN_MODEL:-labyrinth.pml}"
pml=$(basename "$model")
memlim=${SPIN_MEMLIM:-3500}

need() {
	command -v "$1" >/dev/null 2>&1 && return 0
	if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
		echo "spin.sh: installing $2" >&2
		apt-get update -qq >&2
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >&2
	fi
	command -v "$1" >/dev/null 2>&1 || { echo "spin.sh: $1 not found (apt-get install $2)" >&2; exit 2; }
}
need spin spin
need gcc gcc

# No options: the default configuration, then the depot's two (the depot
# with the handler, and with the sleeper: both at once exceed the memory
# bound), one after the other; each run makes its own work directory.
if [ $# -eq 0 ]; then
	me="$here/scripts/spin.sh"
	sh "$me" -DDEPOT=0 && sh "$me" -DDEPOT=1 -DSLEEPER=0 && sh "$me" -DDEPOT=1 -DHANDLER=0 &&
		sh "$me" -DTRADE=1 && sh "$me" -DSUMMARY=1 && SPIN_MODEL=tls.pml sh "$me" -DTLS=1 &&
		SPIN_MODEL=publish.pml sh "$me" -DPUBLISH=1
	exit
fi

# Every mutant, each in the configuration that catches it (the smallest
# that does); pan stops at the first error.  A mutant that pan does not
# catch is a hole in the model: fail.
if [ "$1" = --mutants ]; then
	me="$here/scripts/spin.sh"
	log="${TMPDIR:-/tmp}/labyrinth-mutant.$$"
	bad=0
	while read -r name opts; do
		m=labyrinth.pml
		case "$name" in *.pml:*) m=${name%%:*}; name=${name#*:} ;; esac
		# shellcheck disable=SC2086
		if SPIN_MODEL=$m SPIN_EXPECT_ERROR=1 sh "$me" -D$name=1 $opts >"$log" 2>&1; then
			echo "spin.sh: mutant $name ($opts): caught: $(grep -m1 -e '^pan:1:' "$log" | sed 's/ (at depth.*//')"
		else
			echo "spin.sh: mutant $name ($opts): NOT caught"
			tail -5 "$log"
			bad=1
		fi
	done <<EOF
MUTANT_NO_BUSY -DDEPOT=0 -DSLEEPER=0
MUTANT_EXIT_NO_BUSY -DDEPOT=0 -DSLEEPER=0
MUTANT_GATE_NO_FLOOR -DDEPOT=0 -DSLEEPER=0
MUTANT_CACHE_WHILE_WAIT -DDEPOT=0 -DHANDLER=0
MUTANT_WAKE_ORDER -DDEPOT=0 -DHANDLER=0
MUTANT_SEQ_LATE -DDEPOT=0 -DHANDLER=0
MUTANT_COUNT_FIRST -DDEPOT=0 -DSLEEPER=0
MUTANT_DEPOT_ADD_FIRST -DDEPOT=1 -DSLEEPER=0
MUTANT_ABA -DTRADE=1
MUTANT_NO_DRAIN -DDEPOT=1 -DSLEEPER=0
MUTANT_SUMMARY_NO_RECHECK -DSUMMARY=1
MUTANT_SUMMARY_MARK_FIRST -DSUMMARY=1
tls.pml:MUTANT_NO_CLAIM_CHECK
tls.pml:MUTANT_CLAIM_BEFORE_SEEN
tls.pml:MUTANT_EXIT_SLOT_LATE
tls.pml:MUTANT_PRECLAIMED
tls.pml:MUTANT_DESTROY_LIVE
tls.pml:MUTANT_SLOT_NO_CAS
publish.pml:MUTANT_NO_RECHECK
publish.pml:MUTANT_NO_ODD
publish.pml:MUTANT_FREE_FIRST
EOF
	rm -f "$log"
	[ $bad = 0 ] && echo "spin.sh: every mutant caught"
	exit $bad
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/labyrinth-spin.XXXXXX")
cp "$model" "$work/"
cd "$work"

if [ "${1:-}" = --probes ]; then
	shift
	bad=0
	for k in 1 2 3 4 5 6 7 8 9 10 ${SPIN_PROBES_MORE:-}; do
		spin "$@" -DPROBE="$k" -a "$pml" >spin.log 2>&1 || { cat spin.log; exit 2; }
		# shellcheck disable=SC2086
		gcc ${PAN_OPT:--O0} -DSAFETY -DCOLLAPSE -DMEMLIM="$memlim" -o pan pan.c
		if ./pan -m2000000 -w26 2>&1 | grep -q "assertion violated ($k!=$k)"; then
			echo "spin.sh: probe $k reached"
		else
			echo "spin.sh: probe $k NOT reached"; bad=1
		fi
	done
	rm -rf "$work"
	exit $bad
fi

echo "spin.sh: $(spin -V)"
echo "spin.sh: model $model, options: ${*:-(defaults)}"
spin "$@" -a "$pml" >spin.log 2>&1 || { cat spin.log; exit 2; }
# SAFETY: safety properties only (assertions, invalid end states);
# COLLAPSE: compressed state vectors; MEMLIM: stop, not swap, at the bound;
# BITSTATE: one bit array for the visited states (SPIN_BITSTATE).
if [ -n "${SPIN_BITSTATE:-}" ]; then
	# shellcheck disable=SC2086
	gcc ${PAN_OPT:--O0} -DSAFETY -DBITSTATE ${PAN_CFLAGS:-} -o pan pan.c
	hash="-w$SPIN_BITSTATE -k3"
else
	# shellcheck disable=SC2086
	gcc ${PAN_OPT:--O0} -DSAFETY -DCOLLAPSE -DMEMLIM="$memlim" ${PAN_CFLAGS:-} -o pan pan.c
	hash=-w26
fi
start=$(date +%s)
# shellcheck disable=SC2086
./pan -n -m2000000 $hash >pan.out 2>&1 || true
end=$(date +%s)
grep -v '^Depth=' pan.out
echo "spin.sh: search took $((end - start)) s"

if [ -n "${SPIN_EXPECT_ERROR:-}" ]; then
	# --mutants: an error found is the success; keep nothing.
	if grep -q 'errors: [1-9]' pan.out; then
		rm -rf "$work"
		exit 0
	fi
	echo "spin.sh: no error found" >&2
	rm -rf "$work"
	exit 1
fi
if grep -q 'errors: 0' pan.out && ! grep -q -e 'reached -DMEMLIM' -e 'max search depth too small' pan.out; then
	if [ -n "${SPIN_BITSTATE:-}" ]; then
		echo "spin.sh: errors: 0 (bitstate search, $(grep -m1 'hash factor' pan.out): not exhaustive)"
	else
		echo "spin.sh: errors: 0 (exhaustive)"
	fi
	rm -rf "$work"
	exit 0
fi
if [ -f "$pml.trail" ]; then
	echo "spin.sh: counterexample:"
	spin "$@" -t -p -g -l "$pml" | tail -60
fi
echo "spin.sh: FAILED (see $work)" >&2
exit 1
