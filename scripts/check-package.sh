#!/bin/sh
# check-package.sh [BUILD_DIR] - the Debian packages, as a user meets them:
# cpack -G DEB; apt-get install ./liblabyrinth2_*.deb ./liblabyrinth-dev_*.deb
# ./labyrinth-tools_*.deb (and ./labyrinth-dpdk_*.deb where the build found
# DPDK: its files, and dpdk-testpmd loading the installed driver); the README's usage example (examples/usage.c)
# compiled with plain `cc usage.c $(pkg-config --cflags --libs labyrinth)`
# against the system copy and run; the CMake package found without hints;
# the man pages and programs present; every packaged ELF's DT_NEEDED
# libraries come from the package itself or one its Depends name; every
# packaged program starts (-h) in a chroot that holds only the files of the
# package and of its Depends, recursively (what a machine with only the
# Depends installed has); then apt-get purge and every packaged file gone.
# Root only (it installs and removes system packages).
# `make check-package` and .ci/run run it.
set -eu
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
pkgs="liblabyrinth2 liblabyrinth-dev labyrinth-tools"
fail() { echo "check-package: FAIL: $*" >&2; exit 1; }
. "$src/scripts/cmake_consumer.sh"
me=check-package
. "$src/scripts/package-common.sh"
lab_pkg_need_root "apt-get install/purge"
lab_pkg_refuse_installed $pkgs
lab_pkg_session package

rm -rf "$build/packages"
(cd "$build" && cpack -G DEB >"$tmp/cpack.log" 2>&1) || { cat "$tmp/cpack.log"; fail "cpack -G DEB"; }
# labyrinth-dpdk exists where the build found DPDK (docs/dpdk.md)
if ls "$build"/packages/labyrinth-dpdk_*.deb >/dev/null 2>&1; then
	lab_pkg_refuse_installed labyrinth-dpdk
	pkgs="$pkgs labyrinth-dpdk"
fi
debs=""
for p in $pkgs; do
	deb=$(ls "$build"/packages/"${p}"_*.deb 2>/dev/null | head -1)
	[ -n "$deb" ] || fail "no ${p}_*.deb in $build/packages"
	echo "check-package: $(basename "$deb"): $(dpkg-deb -f "$deb" Depends)"
	for field in Package Version Architecture Maintainer Section Description; do
		[ -n "$(dpkg-deb -f "$deb" $field)" ] || fail "$deb has no $field"
	done
	debs="$debs $deb"
done

installed=1
# shellcheck disable=SC2086
apt_get install $debs >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log"; fail "apt-get install$debs"; }
for p in $pkgs; do
	dpkg-query -L "$p" >>"$tmp/files"
done

# The system copy, found the way a user finds it: no PKG_CONFIG_PATH, no
# LD_LIBRARY_PATH, no -rpath.
unset PKG_CONFIG_PATH LD_LIBRARY_PATH CMAKE_PREFIX_PATH || true
pcdir=$(pkg-config --variable=pcfiledir labyrinth) || fail "pkg-config does not find labyrinth"
case "$pcdir" in
/usr/lib/*) ;;
*) fail "pkg-config finds labyrinth.pc in $pcdir, not the package's (another install, e.g. /usr/local?)" ;;
esac
flags=$(pkg-config --cflags --libs labyrinth)
echo "check-package: pkg-config --cflags --libs labyrinth: $flags"
# shellcheck disable=SC2086
cc -Wall -Werror -o "$tmp/usage" "$src/examples/usage.c" $flags || fail "cc usage.c \$(pkg-config ...)"
out=$("$tmp/usage") || fail "the usage example exited with $?"
echo "check-package: usage: $(echo "$out" | head -1)"
lib=$(ldd "$tmp/usage" | awk '/liblabyrinth/ { print $3 }')
case "$lib" in
/usr/lib/* | /lib/*) ;; # /lib is /usr/lib on a merged-/usr system
*) fail "the usage example loads liblabyrinth from '$lib'" ;;
esac
ldconfig -p | grep -q 'liblabyrinth.so.2 ' || fail "liblabyrinth.so.2 not in the ld.so cache"
# Static link, the CMake package, man pages, programs.
cc -o "$tmp/usage_static" "$src/examples/usage.c" $(pkg-config --cflags labyrinth) \
	"$(pkg-config --variable=libdir labyrinth)/liblabyrinth.a" -lpthread
"$tmp/usage_static" >/dev/null || fail "statically linked usage exited with $?"
cmake_consumer "$tmp/cm" # no hints: the system copy
for page in man3/labyrinth_init.3 man3/labyrinth_void_alloc_page_gfp_atomic_exclusive.3 man7/labyrinth.7; do
	ls /usr/share/man/"$page"* >/dev/null 2>&1 || fail "no /usr/share/man/$page"
done
[ -f /usr/share/doc/liblabyrinth2/copyright ] || fail "no /usr/share/doc/liblabyrinth2/copyright"
/usr/bin/labyrinth-nic-demo -h >/dev/null 2>&1 || fail "/usr/bin/labyrinth-nic-demo -h"
/usr/bin/labyrinth-top -h >/dev/null 2>&1 || fail "/usr/bin/labyrinth-top -h"
ls /usr/share/man/man1/labyrinth-top.1* >/dev/null 2>&1 || fail "no /usr/share/man/man1/labyrinth-top.1"
if [ -x /usr/bin/labyrinth-rx ]; then
	/usr/bin/labyrinth-rx -h >/dev/null 2>&1 || fail "/usr/bin/labyrinth-rx -h"
fi
echo "check-package: installed: links with pkg-config and CMake, runs, man pages and programs present"
case " $pkgs " in *" labyrinth-dpdk "*)
	drv=$(dpkg-query -L labyrinth-dpdk | grep '/liblabyrinth_dpdk\.so\.0$') ||
		fail "labyrinth-dpdk has no liblabyrinth_dpdk.so.0"
	for f in /usr/include/labyrinth_dpdk.h /usr/share/doc/labyrinth-dpdk/dpdk.md \
		/usr/share/doc/labyrinth-dpdk/copyright; do
		[ -f "$f" ] || fail "labyrinth-dpdk: no $f"
	done
	ls /usr/share/man/man3/labyrinth_dpdk_pktmbuf_pool_create.3* >/dev/null 2>&1 ||
		fail "labyrinth-dpdk: no man page labyrinth_dpdk_pktmbuf_pool_create(3)"
	dpkg-deb -f "$build"/packages/labyrinth-dpdk_*.deb Depends | grep -q librte-mempool ||
		fail "labyrinth-dpdk does not depend on DPDK's mempool library"
	# the installed driver, as docs/dpdk.md tells a user to load it
	if command -v dpdk-testpmd >/dev/null; then
		(sleep 1; echo) | timeout 60 dpdk-testpmd -l 0-1 --no-huge -m 256 --no-pci --no-telemetry \
			--file-prefix lab-dpdk-pkg-$$ --vdev net_null0 --vdev net_null1 -d "$drv" \
			--mbuf-pool-ops-name labyrinth -- --total-num-mbufs=2048 --forward-mode=io \
			--auto-start >"$tmp/testpmd.log" 2>&1 || { tail -20 "$tmp/testpmd.log"; fail "dpdk-testpmd -d $drv"; }
		rm -rf /var/run/dpdk/lab-dpdk-pkg-$$
		grep -q "preferred mempool ops selected: labyrinth" "$tmp/testpmd.log" ||
			fail "dpdk-testpmd did not select the labyrinth ops from $drv"
		echo "check-package: dpdk-testpmd -d $drv --mbuf-pool-ops-name labyrinth: forwarded"
	fi
	;;
esac

# --- Depends: what dpkg-shlibdeps computed, checked against the ELF files --
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
# PKG's Pre-Depends and Depends, one group a line ("a|b" for alternatives),
# without versions and architectures
depends_of() {
	dpkg-query -W -f='${Pre-Depends},${Depends}\n' "$1" | tr ',' '\n' |
		sed 's/([^)]*)//g; s/:[a-z0-9]*//g; s/[[:space:]]//g' | grep -v '^$' || true
}
# PKG and every installed package it depends on, recursively
closure() {
	todo=$1 seen=" "
	while [ -n "$todo" ]; do
		# shellcheck disable=SC2086
		set -- $todo
		cur=$1
		shift
		todo="$*"
		case "$seen" in *" $cur "*) continue ;; esac
		seen="$seen$cur "
		for group in $(depends_of "$cur"); do
			for alt in $(echo "$group" | tr '|' ' '); do
				if installed "$alt"; then
					todo="$todo $alt"
					break
				fi
			done
		done
	done
	echo $seen
}
# every ELF file of PKG needs only libraries of PKG or of a package its
# Depends name (directly: Debian policy 8.6)
check_needed() {
	named=" $1 $(depends_of "$1" | tr '|\n' '  ') "
	n=0
	for f in $(dpkg-query -L "$1"); do
		[ -f "$f" ] && [ ! -L "$f" ] && [ "$(head -c 4 "$f" | tail -c 3)" = ELF ] || continue
		for so in $(readelf -d "$f" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
			from=$(dpkg-query -S "*/$so" 2>/dev/null | sed 's/: .*//; s/, /\n/g' | sed 's/:.*//' | sort -u)
			ok=no
			for q in $from; do
				case "$named" in *" $q "*) ok=yes ;; esac
			done
			[ $ok = yes ] || fail "$f needs $so (from ${from:-no installed package}), which $1's Depends do not name: $(dpkg-query -W -f='${Depends}' "$1")"
			n=$((n + 1))
		done
	done
	echo "check-package: $1: the $n DT_NEEDED libraries of its ELF files come from it or its Depends"
}
# a directory with only the files of the packages given (and the host's
# merged-/usr links, /lib -> usr/lib, which no package's Depends bring)
depends_root() {
	root=$1
	shift
	rm -rf "$root" && mkdir -p "$root"
	for top in bin sbin lib lib32 lib64 libx32; do
		if [ -L "/$top" ]; then
			mkdir -p "$root/$(readlink "/$top")"
			ln -s "$(readlink "/$top")" "$root/$top"
		fi
	done
	for q in "$@"; do dpkg-query -L "$q"; done | sort -u >"$tmp/root.files"
	tar -cf - --no-recursion --ignore-failed-read -T "$tmp/root.files" 2>/dev/null |
		tar -xf - -C "$root" 2>/dev/null || true
}
for p in $pkgs; do
	check_needed "$p"
done
tools=$(closure labyrinth-tools)
echo "check-package: labyrinth-tools and its Depends: $tools"
# shellcheck disable=SC2086
depends_root "$tmp/root" $tools
progs=$(dpkg-query -L labyrinth-tools | grep '^/usr/bin/')
[ -n "$progs" ] || fail "labyrinth-tools has no programs"
for prog in $progs; do
	chroot "$tmp/root" "$prog" -h >"$tmp/h.out" 2>&1 ||
		fail "$prog -h does not start with only labyrinth-tools' Depends: $(head -3 "$tmp/h.out")"
done
echo "check-package: every program starts (-h) with only labyrinth-tools' Depends:" $progs
# The check can fail: without liburing2's files labyrinth-rx cannot start.
if echo "$tools" | grep -qw liburing2 && [ -x /usr/bin/labyrinth-rx ]; then
	# shellcheck disable=SC2086
	depends_root "$tmp/root" $(echo " $tools " | sed 's/ liburing2 / /')
	if chroot "$tmp/root" /usr/bin/labyrinth-rx -h >/dev/null 2>&1; then
		fail "labyrinth-rx -h started without liburing2: the chroot check proves nothing"
	fi
	echo "check-package: (and without liburing2's files, labyrinth-rx does not start)"
fi
rm -rf "$tmp/root"

lab_pkg_purge_gone
pkg-config --exists labyrinth && fail "pkg-config still finds labyrinth after the purge"
ldconfig -p | grep -q 'liblabyrinth.so.2 ' && fail "liblabyrinth.so.2 still in the ld.so cache"
echo "check-package: purged: no file of the packages left ($(wc -l <"$tmp/files") paths checked)"
echo "check-package: OK"
