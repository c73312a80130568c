#!/bin/sh
# headers.sh - the kernel ABI whose headers Debian's meta-package
# linux-headers-<arch> (e.g. linux-headers-amd64) installs, as
# "ABI VERSION", e.g. "6.1.0-57 6.1.192-1": its headers are
# /usr/src/linux-headers-ABI-<flavour>, its images linux-image-ABI-<flavour>
# at VERSION.  Exit 1, saying nothing, when the meta-package is absent.
# kernel/Makefile (KDIR when the running kernel has no headers) and
# scripts/test-kernel.sh use it.
arch=$(dpkg --print-architecture 2>/dev/null) || exit 1
dep=$(dpkg-query -W -f='${Depends}' "linux-headers-$arch" 2>/dev/null) || exit 1
abi=$(echo "$dep" | sed -n "s/^linux-headers-\([0-9.]*-[0-9]*\)-$arch.*/\1/p")
ver=$(echo "$dep" | sed -n 's/.*(= \(.*\)).*/\1/p')
[ -n "$abi" ] || exit 1
echo "$abi $ver"
