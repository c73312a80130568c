#!/bin/sh
# layers.sh SRC_DIR - the core is layered bottom-up (src/internal.h says
# how): each file may include only headers of its own layer or below.  As
# each header declares only its own layer's functions, a call upwards does
# not compile; this check keeps the includes honest.  The platform's calls
# into the core (thread exit, fork, dump) are the hooks platform.h declares.
set -eu
src=${1:-src}
passed=0 failed=0

# layer of a file of src/ (empty: not in the table)
layer_of() {
	case "$1" in
	atomics.h|platform.h|internal.h|fmt.c|debug.c|platform_linux.c|platform_kernel.c|publish_format.h) echo 0 ;;
	watch.h|watch.c|publish.h|publish.c) echo 1 ;;
	page.h) echo 2 ;;
	store.h|store.c|buddy.c|summary.c) echo 3 ;;
	depot.h|depot.c) echo 4 ;;
	cache.h|cache.c) echo 5 ;;
	pool.h|pool.c) echo 6 ;;
	slow.h|slow.c) echo 7 ;;
	alloc.c|stats.c) echo 8 ;;
	*) echo "" ;;
	esac
}

for path in "$src"/*.c "$src"/*.h; do
	f=$(basename "$path")
	mine=$(layer_of "$f")
	if [ -z "$mine" ]; then
		echo "FAIL $f: not in the layer table of tests/layers.sh (and src/internal.h)"
		failed=$((failed + 1))
		continue
	fi
	for inc in $(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$path"); do
		case "$inc" in labyrinth.h|labyrinth_fast.h) continue ;; esac
		theirs=$(layer_of "$inc")
		if [ -z "$theirs" ] || [ "$theirs" -gt "$mine" ]; then
			echo "FAIL $f (layer $mine) includes $inc (layer ${theirs:-unknown})"
			failed=$((failed + 1))
		else
			passed=$((passed + 1))
		fi
	done
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
