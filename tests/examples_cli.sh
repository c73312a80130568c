#!/bin/sh
# SPDX-License-Identifier: MIT
# Description: every example program built answers -h and --help with its
# usage on stdout (exit 0), and refuses an unknown option and a stray
# argument with a usage line on stderr (exit 2) instead of running.
#
# Usage: tests/examples_cli.sh EXAMPLES_BUILD_DIR
set -u
dir=${1:?usage: examples_cli.sh EXAMPLES_BUILD_DIR}
pass=0
fail=0
out=${TMPDIR:-/tmp}/lab-cli-out.$$
err=${TMPDIR:-/tmp}/lab-cli-err.$$
trap 'rm -f "$out" "$err"' EXIT

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# expect PROG WANT_RC STREAM(out|err) ARGS...: exit code WANT_RC and a
# "usage:" line (or, with PATTERN set, a line matching it) on that stream;
# timeout: a program that ran anyway.
expect() {
	prog=$1 want=$2 stream=$3
	shift 3
	pattern=${PATTERN:-^usage: }
	timeout 10 "$dir/$prog" "$@" >"$out" 2>"$err" </dev/null
	rc=$?
	if [ "$stream" = out ]; then file=$out; else file=$err; fi
	if [ "$rc" = "$want" ] && grep -q "$pattern" "$file"; then
		ok
	else
		bad "$prog $*: exit $rc (want $want), $stream: $(head -n 2 "$file" | tr '\n' ' ')"
	fi
}

found=0
for path in "$dir"/labyrinth-*; do
	[ -f "$path" ] && [ -x "$path" ] || continue
	found=$((found + 1))
	prog=$(basename "$path")
	expect "$prog" 0 out -h
	expect "$prog" 0 out --help
	expect "$prog" 2 err --no-such-option
	expect "$prog" 2 err -Z
	expect "$prog" 2 err 1 stray-argument
done
# the programs that take a count refuse what is not one
for prog in labyrinth-signal-alloc labyrinth-rt-thread; do
	expect "$prog" 2 err abc
	expect "$prog" 2 err 0
done
expect labyrinth-usage 2 err stray-argument
[ "$found" -ge 5 ] && ok || bad "only $found example programs in $dir"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
