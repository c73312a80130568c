#!/bin/sh
# header_compat.sh INCLUDE_DIR - <labyrinth.h> (with its inline fast path,
# labyrinth_fast.h) compiles warning-free as C89 (GNU), C99 -pedantic, C11
# -pedantic and C++11 -pedantic, with LABYRINTH_NO_INLINE too, and takes no
# name a user may have: a program with its own struct lab_cache, lab_tls
# and lab_fast_cache still compiles (SPEC: public names start with
# labyrinth_ or LAB_).
set -u
inc=$1
cc=${CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/labyrinth-header.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
passed=0 failed=0
cat >"$tmp/use.c" <<'C'
#include <labyrinth.h>
struct lab_cache { int mine; };          /* the user's own names */
struct lab_tls { int mine; };
static int lab_fast_cache(int x) { return x; }
int use(labyrinth_t *l)
{
	void *p = labyrinth_alloc_page(l, LAB_GFP_ATOMIC);
	void *q = labyrinth_void_alloc_page_gfp_atomic_exclusive(l);
	void *b = labyrinth_alloc_pages(l, LAB_GFP_NOWAIT, 2);
	struct lab_cache c;
	c.mine = lab_fast_cache(0);
	return labyrinth_free_page(l, p) + labyrinth_free_pages(l, q, 0) +
	       labyrinth_free_pages(l, b, 2) + c.mine;
}
C
cp "$tmp/use.c" "$tmp/use.cpp"
try() { # name compiler args...
	name=$1
	shift
	if "$@" -Wall -Wextra -Werror -I"$inc" -c -o "$tmp/out.o" >"$tmp/log" 2>&1; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		echo "FAIL $name:"
		cat "$tmp/log"
	fi
}
for std in gnu89 "c99 -pedantic" "c11 -pedantic"; do
	# shellcheck disable=SC2086
	try "C $std" $cc -std=$std "$tmp/use.c"
	# shellcheck disable=SC2086
	try "C $std, LABYRINTH_NO_INLINE" $cc -std=$std -DLABYRINTH_NO_INLINE "$tmp/use.c"
done
cxx=${CXX:-c++}
if command -v "$cxx" >/dev/null 2>&1; then
	try "C++11 -pedantic" "$cxx" -std=c++11 -pedantic "$tmp/use.cpp"
else
	echo "note: no C++ compiler ($cxx): the C++ case is not run"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
