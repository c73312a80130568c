#!/bin/sh
# SPDX-License-Identifier: MIT
# Description: every function liblabyrinth_dpdk exports has a page in
# dpdk/man, no page is left for a function that is gone, each page names
# the header, and each renders with `man -l` without a warning.
# Usage: man_pages.sh SOURCE_DIR liblabyrinth_dpdk.so
set -u
src=${1:?usage: man_pages.sh SOURCE_DIR LIB}
lib=${2:?usage: man_pages.sh SOURCE_DIR LIB}
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
command -v man >/dev/null || { echo "SKIP: no man (apt-get install man-db)"; exit 77; }
exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u)
[ -n "$exported" ] && ok || bad "$lib exports no function"
for f in $exported; do
	if [ -f "$src/dpdk/man/$f.3" ]; then ok; else bad "no page dpdk/man/$f.3"; fi
	if grep -q "^LAB_DPDK_API.*$f(\|^$f(" "$src/dpdk/labyrinth_dpdk.h"; then ok; else bad "$f not in labyrinth_dpdk.h"; fi
done
for page in "$src"/dpdk/man/*.3; do
	name=$(basename "$page" .3)
	if echo "$exported" | grep -qx "$name"; then ok; else bad "page $name.3 for a function $lib does not export"; fi
	if grep -q 'include <labyrinth_dpdk.h>' "$page"; then ok; else bad "$name.3 does not name the header"; fi
	out=$(cd / && MANWIDTH=80 MAN_KEEP_FORMATTING=0 man --warnings=w -l "$page" 2>&1 >/dev/null)
	if [ -z "$out" ]; then ok; else bad "man -l $name.3: $out"; fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
