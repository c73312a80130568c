#!/bin/sh
# check-dkms.sh [BUILD_DIR] - the labyrinth-dkms package as a driver developer
# meets it: cpack builds it; apt-get install ./labyrinth-dkms_*.deb (which
# pulls dkms); dkms build and dkms install for the kernel of the installed
# headers (linux-headers-<arch>'s, kernel/headers.sh: not necessarily the
# running kernel, hence -k); the installed labyrinth.ko's version, vermagic
# and depmod entry; examples/kernel-consumer built, as a third party builds
# it, against /usr/include/labyrinth/kernel and the Module.symvers DKMS kept;
# then apt-get purge, and the module, the sources, DKMS's tree and every
# packaged file gone.  Root only (it installs and removes system packages).
# `make check-dkms` and .ci/run run it; a few minutes (one module build).
set -eu
build=$(cd "${1:-build}" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
pkgs=labyrinth-dkms
fail() { echo "check-dkms: FAIL: $*" >&2; exit 1; }
me=check-dkms
. "$src/scripts/package-common.sh"
lab_pkg_need_root "apt-get install/purge, dkms"
lab_pkg_refuse_installed $pkgs
debarch=$(dpkg --print-architecture)
sh "$src/scripts/install-deps.sh" dkms "linux-headers-$debarch"
meta=$(sh "$src/kernel/headers.sh") || fail "cannot read the ABI of linux-headers-$debarch's dependency"
krel=${meta% *}-$debarch
arch=$(uname -m)
ver=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"/\1/p' "$build/dkms/dkms.conf")
[ -n "$ver" ] || fail "no PACKAGE_VERSION in $build/dkms/dkms.conf (configure $build first)"
[ -z "$(dkms status -m labyrinth 2>/dev/null)" ] ||
	fail "DKMS already has labyrinth: $(dkms status -m labyrinth); dkms remove it first"
lab_pkg_session dkms

# Only this package, into a directory of its own (check-package.sh owns
# $build/packages).
(cd "$build" && cpack -G DEB -D CPACK_COMPONENTS_ALL=dkms -B "$tmp/packages" >"$tmp/cpack.log" 2>&1) ||
	{ cat "$tmp/cpack.log"; fail "cpack -G DEB (dkms)"; }
deb=$(ls "$tmp"/packages/${pkgs}_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || fail "no ${pkgs}_*.deb from cpack"
echo "check-dkms: $(basename "$deb"): Depends: $(dpkg-deb -f "$deb" Depends)"
[ "$(dpkg-deb -f "$deb" Architecture)" = all ] || fail "$deb is not Architecture: all"
installed=1
apt_get install "$deb" >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log"; fail "apt-get install $deb"; }
dpkg-query -L $pkgs >"$tmp/files"
[ -f "/usr/src/labyrinth-$ver/dkms.conf" ] || fail "no /usr/src/labyrinth-$ver/dkms.conf"
dkms status -m labyrinth -v "$ver" | grep -q . || fail "the package did not add labyrinth/$ver to DKMS"

# Build and install for the headers' kernel; --force: postinst may have
# done it already when that kernel is the running one.
echo "check-dkms: dkms build and install for $krel"
dkms build --force -m labyrinth -v "$ver" -k "$krel" >"$tmp/dkms.log" 2>&1 ||
	{ cat "$tmp/dkms.log" /var/lib/dkms/labyrinth/"$ver"/build/make.log 2>/dev/null; fail "dkms build -k $krel"; }
dkms install --force -m labyrinth -v "$ver" -k "$krel" >>"$tmp/dkms.log" 2>&1 ||
	{ cat "$tmp/dkms.log"; fail "dkms install -k $krel"; }
dkms status -m labyrinth -v "$ver" -k "$krel" | grep -q installed || fail "dkms status: not installed for $krel"
ko=/lib/modules/$krel/updates/dkms/labyrinth.ko
[ -f "$ko" ] || fail "no $ko"
[ "$(modinfo -F version "$ko")" = "$ver" ] || fail "$ko: version $(modinfo -F version "$ko"), not $ver"
modinfo -F vermagic "$ko" | grep -q "^$krel " || fail "$ko: vermagic $(modinfo -F vermagic "$ko")"
grep -q '^updates/dkms/labyrinth.ko:' "/lib/modules/$krel/modules.dep" || fail "labyrinth.ko not in modules.dep (depmod)"
symvers=/var/lib/dkms/labyrinth/kernel-$krel-$arch/Module.symvers
grep -q '	labyrinth_init	' "$symvers" || fail "no labyrinth_init in $symvers"
echo "check-dkms: installed $ko, version $ver; $symvers"

# A module of someone else's, from the packaged header and DKMS's symvers.
cp -r "$src/examples/kernel-consumer" "$tmp/consumer"
make -C "$tmp/consumer" KDIR="/lib/modules/$krel/build" LABYRINTH_INCLUDE=/usr/include/labyrinth/kernel \
	LABYRINTH_SYMVERS="$symvers" >"$tmp/consumer.log" 2>&1 || { cat "$tmp/consumer.log"; fail "examples/kernel-consumer against the package"; }
grep -q 'warning:' "$tmp/consumer.log" && { cat "$tmp/consumer.log"; fail "compiler warnings building examples/kernel-consumer"; }
[ "$(modinfo -F depends "$tmp/consumer/labyrinth_consumer.ko")" = labyrinth ] ||
	fail "labyrinth_consumer.ko does not depend on labyrinth"
echo "check-dkms: examples/kernel-consumer builds against /usr/include/labyrinth/kernel and $symvers"

lab_pkg_purge_gone "$ko" /var/lib/dkms/labyrinth "/usr/src/labyrinth-$ver"
[ -z "$(dkms status -m labyrinth)" ] || fail "dkms status after the purge: $(dkms status -m labyrinth)"
grep -q 'labyrinth.ko' "/lib/modules/$krel/modules.dep" && fail "labyrinth.ko still in modules.dep"
echo "check-dkms: purged: module, sources, DKMS tree and $(wc -l <"$tmp/files") packaged paths gone"
echo "check-dkms: OK"
