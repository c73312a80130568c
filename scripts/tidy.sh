#!/bin/sh
# tidy.sh [BUILD_DIR] - clang-tidy over every file of src/ with the checks of
# .clang-tidy, through BUILD_DIR/compile_commands.json (CMake writes it);
# exits non-zero on any finding.  `make tidy` and .ci/run run it.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
tidy=""
for t in clang-tidy clang-tidy-14 clang-tidy-15 clang-tidy-16; do
	command -v $t >/dev/null 2>&1 && { tidy=$t; break; }
done
[ -n "$tidy" ] || { echo "tidy: clang-tidy not found (Debian: apt-get install clang-tidy)" >&2; exit 1; }
[ -f "$build/compile_commands.json" ] ||
	cmake -S "$src" -B "$build" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >/dev/null
echo "tidy: $($tidy --version | grep -i version | head -1 | sed 's/^ *//') on src/*.c but platform_kernel.c"
# One process per file, two at a time; the exit status of each is kept.
status=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# platform_kernel.c is built by Kbuild against kernel headers, not here.
ls "$src"/src/*.c | grep -v '/platform_kernel\.c$' | xargs -P 2 -n 1 "$tidy" -p "$build" --quiet >"$out" 2>&1 || status=$?
if [ $status != 0 ] || grep -q -E 'warning:|error:' "$out"; then
	# each finding once (a file is in the database twice: shared and static)
	grep -E 'warning:|error:' "$out" | sort -u >&2 || tail -20 "$out" >&2
	echo "tidy: FAIL (the findings above; fix them or disable the check in .clang-tidy with a reason)" >&2
	exit 1
fi
echo "tidy: clean"
