#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run_misuse.sh - run the misuse programs and assert, hardened_malloc style,
# the exact result, exit status and stderr of each.
#
# Usage: run_misuse.sh BINDIR [NAME...]   (default: every program below)
#
# Each program (BINDIR/misuse_NAME) runs twice:
#   debug  on a LAB_POOL_DEBUG pool named 'misuse': its stderr must be the
#          expected report, byte for byte;
#   plain  on the same pool without LAB_POOL_DEBUG: the same result and exit
#          status, and nothing at all on stderr.
# The program prints "key=0x..." for each address a report names; @key@ in
# the expected text below stands for it.  Its last stdout line is "rc=N";
# its exit status is -N for a negative N, else 0 (125: the misuse changed
# the pool; 126: setup failed).  Ends with the line "N passed, N failed".

set -u

if [ $# -lt 1 ] || [ ! -d "$1" ]; then
	echo "usage: $0 BINDIR [NAME...]" >&2
	exit 2
fi
bindir=$1
shift

pre="labyrinth: pool 'misuse':"
# each report names the function the program called
free="$pre labyrinth_free_pages:"
alloc_page="$pre labyrinth_alloc_page:"
alloc="$pre labyrinth_alloc_pages:"

declare -A RC ERR MODES
# name                    result                 debug pool's stderr (one line each)
RC[double_free]=-114;      ERR[double_free]="$free double free of page @addr@"
RC[double_free_block]=-114; ERR[double_free_block]="$free double free of page @addr@"
RC[double_free_bulk]=1;    ERR[double_free_bulk]="$pre labyrinth_free_bulk: double free of page @addr@"
RC[double_free_racing]=-114; ERR[double_free_racing]="$free double free of page @addr@"
MODES[double_free_racing]=debug # a racing double free is caught "at least in LAB_POOL_DEBUG"
RC[wild_free]=-22;         ERR[wild_free]="$free invalid free of page @addr@: outside the pool"
RC[past_end_free]=-22;     ERR[past_end_free]="$free invalid free of page @addr@: outside the pool"
RC[unaligned_free]=-22;    ERR[unaligned_free]="$free invalid free of page @addr@: not page-aligned"
RC[wrong_pool_free]=-22;   ERR[wrong_pool_free]="$free invalid free of page @addr@: outside the pool"
RC[wrong_order_free]=-22;  ERR[wrong_order_free]="$free invalid free of page @addr@: wrong order: allocated as order 2, freed as order 1"
RC[mid_block_free]=-22;    ERR[mid_block_free]="$free invalid free of page @addr@: not a block start"
RC[write_after_free]=0;    ERR[write_after_free]="$alloc_page write after free in page @addr@"
RC[write_after_free_block]=0
ERR[write_after_free_block]="$alloc write after free in page @page1@
$alloc write after free in page @page3@"
RC[destroy_busy]=-16;      ERR[destroy_busy]="$pre labyrinth_destroy: 1 of 64 pages still in use"
RC[use_after_destroy]=-22; ERR[use_after_destroy]=""
RC[zeroed_pool]=-22;       ERR[zeroed_pool]=""

ALL="double_free double_free_block double_free_bulk double_free_racing wild_free
past_end_free unaligned_free wrong_pool_free wrong_order_free mid_block_free
write_after_free write_after_free_block destroy_busy use_after_destroy zeroed_pool"

names=${*:-$ALL}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/misuse.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
timeout=""
command -v timeout >/dev/null 2>&1 && timeout="timeout 60"
passed=0
failed=0

fail() { # name mode why
	failed=$((failed + 1))
	echo "FAIL $1 ($2): $3"
	echo "  --- stdout"; sed 's/^/  | /' "$tmp/out"
	echo "  --- stderr"; sed 's/^/  | /' "$tmp/err"
	if [ -f "$tmp/want" ]; then echo "  --- wanted stderr"; sed 's/^/  | /' "$tmp/want"; fi
}

for name in $names; do
	if [ -z "${RC[$name]+set}" ]; then
		echo "FAIL $name: no expectation in $0"
		failed=$((failed + 1))
		continue
	fi
	bin="$bindir/misuse_$name"
	for mode in ${MODES[$name]:-debug plain}; do
		rm -f "$tmp/want"
		: >"$tmp/out"
		: >"$tmp/err"
		if [ ! -x "$bin" ]; then
			fail "$name" "$mode" "no program $bin"
			continue
		fi
		$timeout "$bin" "$mode" >"$tmp/out" 2>"$tmp/err"
		status=$?
		want_rc=${RC[$name]}
		want_status=$(( want_rc < 0 ? -want_rc : 0 ))
		got_rc=$(sed -n 's/^rc=//p' "$tmp/out" | tail -n 1)

		want=""
		if [ "$mode" = debug ]; then
			want=${ERR[$name]}
			# Put in the addresses the program printed.
			while IFS='=' read -r key value; do
				case $key in
				''|*[!a-z0-9_]*|rc) ;;
				*) want=${want//@$key@/$value} ;;
				esac
			done <"$tmp/out"
		fi
		if [ -n "$want" ]; then
			printf '%s\n' "$want" >"$tmp/want"
		else
			: >"$tmp/want"
		fi

		if [ "$got_rc" != "$want_rc" ]; then
			fail "$name" "$mode" "result '${got_rc}', want '$want_rc'"
		elif [ "$status" -ne "$want_status" ]; then
			fail "$name" "$mode" "exit status $status, want $want_status"
		elif [[ $want == *@*@* ]]; then
			fail "$name" "$mode" "the program printed no address for: $want"
		elif ! cmp -s "$tmp/want" "$tmp/err"; then
			fail "$name" "$mode" "stderr differs"
		else
			passed=$((passed + 1))
			echo "ok   $name ($mode): rc=$got_rc, exit $status, $(wc -l <"$tmp/err") stderr line(s)"
		fi
	done
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
