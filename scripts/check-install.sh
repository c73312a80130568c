#!/bin/sh
# check-install.sh BUILD_DIR - an install to a prefix chosen at install time
# works, and keeps working when the tree is moved:
#   cmake --install BUILD --prefix TMP/stage; pkg-config (PKG_CONFIG_PATH)
#   points into it; the usage example (examples/usage.c and the README's)
#   compiles, links and runs against it; the installed programs start
#   ($ORIGIN run path); the CMake package is found; a program linked without
#   a run path runs with LD_LIBRARY_PATH; a CMake-built program installed
#   into the prefix with the README's relative run path; after moving the
#   prefix all of it still holds (labyrinth.pc is relative to itself);
#   `uninstall` of the moved tree fails loudly; in place it removes every
#   installed file and the directories the install created, and keeps the
#   directory that was there before.
# make check-install, .ci/run and the ctest test install.prefix run it.
set -eu
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
cc=${CC:-cc}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/labyrinth-install.XXXXXX")
manifest="$build/install_manifest.txt"
created="$build/install_created_dirs.txt"
# Keep the manifest of a real `make install` and its record of created
# directories: `make uninstall` reads them.
[ -f "$manifest" ] && cp "$manifest" "$tmp/manifest.saved"
[ -f "$created" ] && cp "$created" "$tmp/created.saved"
cleanup() {
	if [ -f "$tmp/manifest.saved" ]; then cp "$tmp/manifest.saved" "$manifest"; else rm -f "$manifest"; fi
	if [ -f "$tmp/created.saved" ]; then cp "$tmp/created.saved" "$created"; else rm -f "$created"; fi
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "check-install: FAIL: $*" >&2; exit 1; }
. "$src/scripts/cmake_consumer.sh"

rm -f "$created"
# A directory that was there before the install (and empty): uninstall keeps it.
mkdir -p "$tmp/stage/share/man"
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
	# Every installed program starts without LD_LIBRARY_PATH.
	for prog in labyrinth-nic-demo labyrinth-signal-alloc labyrinth-rt-thread labyrinth-top; do
		[ -x "$prefix/bin/$prog" ] || fail "$prog is not installed"
	done
	for path in "$prefix"/bin/labyrinth-*; do
		env -u LD_LIBRARY_PATH "$path" -h >"$tmp/h.out" 2>&1 ||
			fail "$path -h: $(cat "$tmp/h.out")"
		echo "check-install: $(basename "$path") -h starts: $(head -1 "$tmp/h.out")"
	done
	# Without a run path: LD_LIBRARY_PATH finds the prefix's library.
	# shellcheck disable=SC2086
	"$cc" -o "$tmp/usage_norpath" "$src/examples/usage.c" $flags
	LD_LIBRARY_PATH="$libdir" "$tmp/usage_norpath" >/dev/null ||
		fail "usage without a run path, with LD_LIBRARY_PATH=$libdir, exited with $?"
	LD_LIBRARY_PATH="$libdir" ldd "$tmp/usage_norpath" | grep -q "=> $libdir/liblabyrinth.so" ||
		fail "with LD_LIBRARY_PATH=$libdir the program loads: $(LD_LIBRARY_PATH="$libdir" ldd "$tmp/usage_norpath" | grep labyrinth)"
	# The CMake package.
	cmake_consumer "$tmp/cm" "$prefix"
	echo "check-install: find_package(labyrinth) builds and runs"
}

# The README's advice for a CMake-built program that must survive a move of
# the prefix: installed into it with a run path relative to itself.
install_relative_consumer() {
	prefix=$1
	mkdir -p "$tmp/rel"
	cat >"$tmp/rel/CMakeLists.txt" <<-EOC
	cmake_minimum_required(VERSION 3.16)
	project(relapp C)
	find_package(labyrinth 0.3 REQUIRED)
	set(CMAKE_INSTALL_RPATH "\$ORIGIN/../lib")
	add_executable(relapp "$src/examples/usage.c")
	target_link_libraries(relapp PRIVATE labyrinth::labyrinth)
	install(TARGETS relapp DESTINATION bin)
	EOC
	cmake -S "$tmp/rel" -B "$tmp/rel/b" -DCMAKE_PREFIX_PATH="$prefix" \
		-DCMAKE_INSTALL_PREFIX="$prefix" >/dev/null || fail "configuring the relative consumer"
	cmake --build "$tmp/rel/b" >/dev/null || fail "building the relative consumer"
	cmake --install "$tmp/rel/b" >/dev/null || fail "installing the relative consumer"
	env -u LD_LIBRARY_PATH "$prefix/bin/relapp" >/dev/null || fail "$prefix/bin/relapp exited with $?"
}

check_prefix "$tmp/stage"
install_relative_consumer "$tmp/stage"
# Relocated after the install: nothing may remember the old place.
mv "$tmp/stage" "$tmp/moved"
check_prefix "$tmp/moved"
env -u LD_LIBRARY_PATH "$tmp/moved/bin/relapp" >/dev/null ||
	fail "the CMake-built program with \$ORIGIN/../lib exited with $? after the move"
echo "check-install: a CMake-built program installed with \$ORIGIN/../lib runs after the move"
# uninstall finds none of its files: it must say so and fail
if cmake --build "$build" --target uninstall >"$tmp/un.log" 2>&1; then
	fail "uninstall of a moved prefix succeeded: $(tail -3 "$tmp/un.log")"
fi
grep -q "removed nothing" "$tmp/un.log" || fail "uninstall of a moved prefix said: $(tail -5 "$tmp/un.log")"
echo "check-install: uninstall of a moved prefix fails: removed nothing"
mv "$tmp/moved" "$tmp/stage"
rm -f "$tmp/stage/bin/relapp"

cmake --build "$build" --target uninstall >/dev/null || fail "uninstall in place"
left=$(find "$tmp/stage" ! -type d)
[ -z "$left" ] || fail "left after uninstall: $left"
dirs=$(cd "$tmp/stage" && find . -mindepth 1 -type d | sort | tr '\n' ' ')
[ "$dirs" = "./share ./share/man " ] ||
	fail "directories after uninstall: '$dirs' (want only the ./share/man that was there before)"
[ ! -e "$created" ] || fail "uninstall left $created"
echo "check-install: uninstall removed every installed file and the directories the install created"
echo "check-install: OK"
