#!/bin/sh
# symvers.sh KERNELVER ARCH - DKMS's POST_BUILD (dkms.conf.in): keep
# labyrinth.ko's Module.symvers beside the module DKMS keeps, in
# /var/lib/dkms/labyrinth/<version>/KERNELVER/ARCH/, what another module
# passes as KBUILD_EXTRA_SYMBOLS; after `dkms install` the link
# /var/lib/dkms/labyrinth/kernel-KERNELVER-ARCH leads there, and
# `dkms remove` (apt-get purge) deletes it with the module.  DKMS runs this
# in its build directory, /var/lib/dkms/labyrinth/<version>/build.
set -e
cp "build-kernel/mod-$1/Module.symvers" "../$1/$2/Module.symvers"
echo "labyrinth: Module.symvers for $1: $(cd "../$1/$2" && pwd)/Module.symvers"
