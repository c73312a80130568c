#!/bin/sh
# make test-kernel: build labyrinth.ko and its test modules for Debian 12's
# standard kernel and its PREEMPT_RT flavour, boot each under qemu (TCG)
# with a busybox initramfs that loads them, and fail on any "not ok", a
# missing or short KTAP plan, a panic, a warning or a time-out.  labyrinth.ko
# is installed to a staging root (make -C kernel install) and booted from
# there, with examples/kernel-consumer built the way a third party builds
# it: a copy of its sources, against the staged header and Module.symvers.
#
#   sh scripts/test-kernel.sh [--check]   --check: exit 0 if everything
#                                         needed is installed, else 1
# The kernel images come from the archive (apt-get download, dpkg-deb -x:
# never installed, /boot untouched) into LAB_KERNEL_CACHE (build-kernel/).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${LAB_KERNEL_CACHE:-$here/build-kernel}
timeout_s=${LAB_KERNEL_TIMEOUT:-300}
flavours=${LAB_KERNEL_FLAVOURS:-"amd64 rt-amd64"}
smp=${LAB_KERNEL_SMP:-2} # more CPUs: slower under TCG, but more caches (the budget case)
# The test build's sleepers look again only every 2 s instead of 10 ms, so
# a LAB_GFP_KERNEL wake-up that never comes fails the self-test's
# wake-up cases instead of hiding behind the polling.
kcflags="-DLAB_SLEEP_SLICE_MS=2000"
pkgs="linux-headers-amd64 linux-headers-rt-amd64 qemu-system-x86 busybox-static cpio"

. "$here/scripts/kernel-common.sh"
lab_kernel_deps "$pkgs" "${1:-}"
lab_kernel_versions || exit 1
mkdir -p "$cache/debs"
fail=0

for fl in $flavours; do
	name=$abi-$fl
	img=$cache/img-$name
	lab_kernel_fetch "$name" "$img" "$cache" || exit 1

	echo "== test-kernel: building the modules for $name"
	# test-<kernel>/, not make -C kernel's mod-<kernel>/: a test build
	kdir=/usr/src/linux-headers-$name
	mod=$cache/test-$name
	stage=$cache/stage-$name
	consumer=$cache/consumer-$name
	rm -rf "$stage" "$consumer"
	{
		make -s -C "$here/kernel" KDIR="$kdir" MODDIR="$mod" LAB_KCFLAGS="$kcflags" &&
			make -s -C "$here/kernel" install KDIR="$kdir" MODDIR="$mod" DESTDIR="$stage" prefix=/usr &&
			cp -r "$here/examples/kernel-consumer" "$consumer" &&
			make -s -C "$consumer" KDIR="$kdir" LABYRINTH_PREFIX="$stage/usr"
	} >"$cache/build-$name.log" 2>&1 || { cat "$cache/build-$name.log"; exit 1; }
	installed=$stage/lib/modules/$name/extra/labyrinth.ko
	[ "$(modinfo -F depends "$consumer/labyrinth_consumer.ko")" = labyrinth ] ||
		{ echo "test-kernel: labyrinth_consumer.ko does not depend on labyrinth" >&2; exit 1; }
	if grep -q 'warning:' "$cache/build-$name.log"; then
		cat "$cache/build-$name.log"
		echo "test-kernel: compiler warnings building for $name" >&2
		exit 1
	fi

	# The initramfs: busybox, the modules, an init that loads them in order.
	root=$cache/initramfs-$name
	lab_initramfs_base "$root" "$img" "$name" sh mount insmod poweroff cat echo
	cp "$installed" "$mod/labyrinth_selftest.ko" "$mod/labyrinth_nic.ko" \
	   "$consumer/labyrinth_consumer.ko" "$root/m/"
	lab_init_start "$root"
	cat >>"$root/init" <<'EOF'
insmod /m/labyrinth.ko
insmod /m/labyrinth_selftest.ko
insmod /m/labyrinth_nic.ko
insmod /m/labyrinth_consumer.ko
echo "labyrinth-test: done"
poweroff -f
EOF
	chmod +x "$root/init"
	(cd "$root" && find . | cpio -o -H newc --quiet) >"$cache/initramfs-$name.cpio"

	append="console=ttyS0 panic_on_warn=1 oops=panic panic=-1"
	[ "$fl" = amd64 ] && append="$append preempt=full" # PREEMPT_DYNAMIC: voluntary by default
	log=$cache/console-$name.log
	echo "== test-kernel: booting $name under qemu (TCG, $smp CPUs)"
	rc=0
	timeout "$timeout_s" qemu-system-x86_64 -accel tcg -m 512 -smp "$smp" -nographic -no-reboot \
		-net none -device pvpanic-pci -action panic=exit-failure \
		-kernel "$img/boot/vmlinuz-$name" -initrd "$cache/initramfs-$name.cpio" \
		-append "$append" </dev/null >"$log" 2>&1 || rc=$?
	# The console, without carriage returns and printk time stamps.
	sed -e 's/\r$//' -e 's/^\[ *[0-9.]*\] //' "$log" >"$log.txt"
	grep -E '^(KTAP|1\.\.|ok |not ok |# )' "$log.txt" || true
	# Three KTAP documents: selftest, fake NIC, consumer.
	why=$(lab_console_verdict "$log.txt" "$rc" "$timeout_s" 3)
	if [ -n "$why" ]; then
		echo "test-kernel: $name FAILED:$why (console: $log)" >&2
		tail -n 40 "$log.txt" >&2
		fail=1
	else
		echo "test-kernel: $name: every case ok"
	fi
done
exit $fail
