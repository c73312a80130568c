#!/bin/sh
# check-install.sh BUILD_DIR - an install to a prefix chosen at install time
# works, and keeps working when the tree is moved:
#   cmake --install BUILD --prefix TMP/stage; pkg-config (PKG_CONFIG_PATH)
#   points into it; the usage example (examples/usage.c and the README's)
#   compiles, links and runs against it; the installed programs start
#   ($ORIGIN run path); the CMake package is found; after moving the prefix
#   all of it still holds (labyrinth.pc is relative to itself); `uninstall`
#   removes every installed file.
# make check-install, .ci/run and the ctest test install.prefix run it.
set -eu
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
cc=${CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/labyrinth-install.XXXXXX")
manifest="$build/install_manifest.txt"
# Keep the manifest of a real `make install`: `make uninstall` reads it.
[ -f "$manifest" ] && cp "$manifest" "$tmp/manifest.saved"
cleanup() {
	if [ -f "$tmp/manifest.saved" ]; then cp "$tmp/manifest.saved" "$manifest"; else rm -f "$manifest"; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "check-install: FAIL: $*" >&2; exit 1; }
. "$src/scripts/cmake_consumer.sh"

cmake --install "$build" --prefix "$tmp/stage" >/dev/null
# The README's usage block, exactly as printed there.
awk '/^## Usage/ { u = 1 } u && /^```c$/ { c = 1; next } c && /^```$/ { exit } c' \
	"$src/README.md" >"$tmp/readme_usage.c"
[ -s "$tmp/readme_usage.c" ] || fail "no C block under '## Usage' in README.md"

check_prefix() {
	prefix=$1
	pc="$prefix/lib/pkgconfig"
	[ -f "$pc/labyrinth.pc" ] || pc=$(dirname "$(find "$prefix" -name labyrinth.pc | head -1)")
	flags=$(PKG_CONFIG_PATH="$pc" pkg-config --cflags --libs labyrinth)
	echo "check-install: pkg-config --cflags --libs labyrinth: $flags"
	case "$flags" in
	*"-I$prefix/"*) ;;
	*) fail "pkg-config's -I does not point into $prefix" ;;
	esac
	case "$flags" in
	*"-L$prefix/"*) ;;
	*) fail "pkg-config's -L does not point into $prefix" ;;
	esac
	libdir=$(PKG_CONFIG_PATH="$pc" pkg-config --variable=libdir labyrinth)
	for prog in usage readme_usage; do
		if [ $prog = usage ]; then file="$src/examples/usage.c"; else file="$tmp/readme_usage.c"; fi
		# shellcheck disable=SC2086 # the flags are words
		"$cc" -Wall -Werror -o "$tmp/$prog" "$file" $flags -Wl,-rpath,"$libdir"
		env -u LD_LIBRARY_PATH "$tmp/$prog" >"$tmp/$prog.out" || fail "$prog exited with $?"
		grep -q "hello from page\|frame for one owner" "$tmp/$prog.out" || fail "$prog printed: $(cat "$tmp/$prog.out")"
		echo "check-install: $prog: $(head -1 "$tmp/$prog.out")"
	done
	# Static: the archive and Libs.private.
	# shellcheck disable=SC2086
	"$cc" -o "$tmp/usage_static" "$src/examples/usage.c" \
		$(PKG_CONFIG_PATH="$pc" pkg-config --cflags labyrinth) "$libdir/liblabyrinth.a" -lpthread
	"$tmp/usage_static" >/dev/null || fail "usage linked statically exited with $?"
	# The installed programs start without LD_LIBRARY_PATH.
	for prog in labyrinth-nic-demo labyrinth-rx labyrinth-top; do
		[ -x "$prefix/bin/$prog" ] || { echo "check-install: $prog not installed (not built), not run"; continue; }
		env -u LD_LIBRARY_PATH "$prefix/bin/$prog" -h >"$tmp/h.out" 2>&1 ||
			fail "$prefix/bin/$prog -h: $(cat "$tmp/h.out")"
		echo "check-install: $prog -h starts: $(head -1 "$tmp/h.out")"
	done
	# The CMake package.
	cmake_consumer "$tmp/cm" "$prefix"
	echo "check-install: find_package(labyrinth) builds and runs"
}

check_prefix "$tmp/stage"
# Relocated after the install: nothing may remember the old place.
mv "$tmp/stage" "$tmp/moved"
check_prefix "$tmp/moved"
mv "$tmp/moved" "$tmp/stage"

cmake --build "$build" --target uninstall >/dev/null
left=$(find "$tmp/stage" ! -type d)
[ -z "$left" ] || fail "left after uninstall: $left"
echo "check-install: uninstall removed every installed file"
echo "check-install: OK"
