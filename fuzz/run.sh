#!/usr/bin/env bash
# fuzz/run.sh [SECONDS]      fuzz labyrinth for SECONDS (default 60)
# fuzz/run.sh replay FILE... run the harness once on each FILE (a crash, a
#                            seed) and say whether it passes
#
# Builds the libFuzzer harness (clang, ASan + UBSan) into build-fuzz/,
# installing clang and its fuzzer runtime first if they are missing (as
# root), then fuzzes with the kept corpus fuzz-corpus/ (git-ignored, grows
# from run to run) and the committed seeds fuzz/corpus/.  A crash leaves its
# input in build-fuzz/artifacts/ and makes the script exit non-zero.  The
# last line is always "fuzz: ..." with the number of executions.
#
# Environment: FUZZ_SECONDS (default for SECONDS), FUZZ_BUILD (build-fuzz),
# FUZZ_CORPUS (fuzz-corpus), FUZZ_CC (clang), FUZZ_ARGS (more libFuzzer
# flags), and the harness's own variables (see fuzz/README.md).
set -uo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root" || exit 1
build=${FUZZ_BUILD:-build-fuzz}
corpus=${FUZZ_CORPUS:-fuzz-corpus}
cc=${FUZZ_CC:-clang}
bin=$build/fuzz_pool

have_fuzzer_runtime() {
	command -v "$cc" >/dev/null 2>&1 || return 1
	echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}' |
		"$cc" -x c -fsanitize=fuzzer,address,undefined -o /dev/null - >/dev/null 2>&1
}

if ! have_fuzzer_runtime; then
	echo "fuzz: clang with libFuzzer is missing; installing clang libclang-rt-14-dev"
	sh scripts/install-deps.sh clang libclang-rt-14-dev || exit 1
	have_fuzzer_runtime || { echo "fuzz: $cc cannot build -fsanitize=fuzzer programs" >&2; exit 1; }
fi

mkdir -p "$build/artifacts" "$corpus"
echo "fuzz: building $bin"
# The library gets edge coverage but no comparison tracing: its loops over
# pages, words and caches (poisoning, stats, check after every operation)
# would otherwise spend most of the time in __sanitizer_cov_trace_cmp*
# (3x fewer executions per second); the harness keeps full tracing.
flags="-g -O1 -std=gnu11 -fno-sanitize-recover=all -fno-omit-frame-pointer -Wall -Wextra -Wshadow -Werror -Iinclude"
rm -rf "$build/obj" # no object of a source file that is gone
mkdir -p "$build/obj"
# The library at -O2 as users build it (its loops are most of an input's
# time); debug.c without ASan: its poisoning loops write and check whole
# pool pages, the pool's own mapping, which ASan does not track anyway.
# Those two loops get no UBSan check and no coverage counter either
# (fuzz/uninstrumented.txt says why), and the library's printf no coverage
# counter (fuzz/nocoverage.txt).
for src in $(ls src/*.c | grep -v platform_kernel); do # the kernel's is Kbuild's
	san=address,undefined
	[ "$src" = src/debug.c ] && san=undefined
	# shellcheck disable=SC2086
	"$cc" $flags -O2 -fsanitize=fuzzer-no-link,$san -fno-sanitize-coverage=trace-cmp \
		-fsanitize-ignorelist=fuzz/uninstrumented.txt \
		-fsanitize-coverage-ignorelist=fuzz/uninstrumented.txt \
		-fsanitize-coverage-ignorelist=fuzz/nocoverage.txt \
		-c "$src" -o "$build/obj/$(basename "$src" .c).o" || exit 1
done
# shellcheck disable=SC2086
"$cc" $flags -fsanitize=fuzzer,address,undefined "$build"/obj/*.o fuzz/harness.c fuzz/model.c fuzz/driver.c \
	-pthread -o "$bin" || exit 1

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

if [ "${1:-}" = replay ]; then
	shift
	failed=0
	for f in "$@"; do
		if "$bin" "$f" >"$build/replay.log" 2>&1; then
			echo "pass  $f"
		else
			echo "FAIL  $f: $(grep -m1 -E 'MISMATCH|ERROR: [A-Za-z]' "$build/replay.log")"
			failed=$((failed + 1))
		fi
	done
	echo "fuzz: replayed $# inputs, $failed failed"
	[ "$failed" = 0 ]
	exit
fi

secs=${1:-${FUZZ_SECONDS:-60}}
log=$build/fuzz.log
echo "fuzz: running for $secs s; corpus $corpus (+ seeds fuzz/corpus); log $log"
# shellcheck disable=SC2086
"$bin" -max_total_time="$secs" -max_len=2048 -len_control=0 -timeout=30 -rss_limit_mb=2048 \
	-print_final_stats=1 -artifact_prefix="$build/artifacts/" ${FUZZ_ARGS:-} \
	"$corpus" fuzz/corpus 2>&1 | tee "$log" |
	grep --line-buffered -E '^#[0-9]+ +(INITED|pulse|DONE|REDUCE)|MISMATCH|ERROR|SUMMARY|Test unit written|^fuzz_pool:'
status=${PIPESTATUS[0]}

runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
[ -n "$runs" ] || runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -n1)
[ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' "$log" | tail -n1)
units=$(find "$corpus" -type f | wc -l)
if [ "$status" = 0 ]; then
	echo "fuzz: ok: ${runs:-?} executions in $secs s (${rate:-?} exec/s), $units inputs in $corpus"
else
	crash=$(sed -n 's/.*Test unit written to //p' "$log" | tail -n1)
	echo "fuzz: FAILED (exit $status) after ${runs:-?} executions; input: ${crash:-see $log}" \
	     "- reproduce with FUZZ_TRACE=1 $bin ${crash:-FILE}"
	exit 1
fi
