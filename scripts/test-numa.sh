#!/bin/sh
# make test-numa: LAB_POOL_NUMA on an emulated two-node machine.  Boots
# Debian 12's standard kernel under qemu (TCG, 2 vCPUs) with two NUMA nodes
# (one CPU and 3 GiB each) and a busybox initramfs that holds the
# user-space tests, linked statically, and labyrinth.ko:
#   - t_numa on both nodes: every page of pools bound to node 0 and node 1
#     (default, unlocked, grown, 2 MiB, hugetlbfs from each node's own
#     reserved 2 MiB and 1 GiB huge pages, secret) checked with move_pages(2)
#     and /proc/self/numa_maps, -EINVAL for a node
#     that does not exist, -ENOMEM and the verbose line for a node too small;
#   - labyrinth-numa-rx: rx threads pinned on both nodes, frees across nodes;
#   - labyrinth-nic-demo --node 1: its pool and threads on node 1;
#   - the module's self-test cases "numa*": pools on each node, page_to_nid()
#     of every page from process, softirq and hardirq context.
# One KTAP document for user space, one for the module; fails on any
# "not ok", a missing or short plan, a time-out, a panic or a warning.
#
#   sh scripts/test-numa.sh [--check]   --check: exit 0 if everything
#                                       needed is installed, else 1
# The kernel image comes from the archive (apt-get download, never
# installed) into LAB_KERNEL_CACHE (build-kernel/), shared with test-kernel.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
cache=${LAB_KERNEL_CACHE:-$here/build-kernel}
build=${BUILD:-$here/build}
timeout_s=${LAB_NUMA_TIMEOUT:-300}
pkgs="linux-headers-amd64 qemu-system-x86 busybox-static cpio"

. "$here/scripts/kernel-common.sh"
lab_kernel_deps "$pkgs" "${1:-}"
lab_kernel_versions
name=$abi-amd64
img=$cache/img-$name
lab_kernel_fetch "$name" "$img" "$cache"

echo "== test-numa: building the modules for $name"
mod=$cache/mod-numa-$name
make -s -C "$here/kernel" KDIR="/usr/src/linux-headers-$name" MODDIR="$mod" \
	>"$cache/build-numa-$name.log" 2>&1 || { cat "$cache/build-numa-$name.log"; exit 1; }
if grep -q 'warning:' "$cache/build-numa-$name.log"; then
	cat "$cache/build-numa-$name.log"
	echo "test-numa: compiler warnings building for $name" >&2
	exit 1
fi

echo "== test-numa: the user-space tests, static"
[ -f "$build/CMakeCache.txt" ] || cmake -S "$here" -B "$build" >/dev/null
cmake --build "$build" --target labyrinth_static -j 2 >/dev/null
root=$cache/initramfs-numa
lab_initramfs_base "$root" "$img" "$name" sh mount insmod poweroff cat echo grep sed
cc=${CC:-cc}
for t in tests/t_numa.c examples/numa_rx.c examples/nic_demo.c; do
	out=$root/bin/$(basename "$t" .c)
	$cc -static -O2 -pthread -Wall -Werror -I"$here/include" -I"$here/tests" \
		-I"$here/examples" "$here/$t" \
		"$build/liblabyrinth.a" -o "$out"
done

cp "$mod/labyrinth.ko" "$mod/labyrinth_selftest.ko" "$root/m/"
lab_init_start "$root"
cat >>"$root/init" <<'EOF'
echo "# nodes with memory: $(cat /sys/devices/system/node/has_memory)"
for n in 0 1; do
	echo 4 >/sys/devices/system/node/node$n/hugepages/hugepages-2048kB/nr_hugepages
	h=/sys/devices/system/node/node$n/hugepages
	echo "# node $n: $(cat $h/hugepages-2048kB/free_hugepages) huge pages of 2 MiB, $(cat $h/hugepages-1048576kB/free_hugepages) of 1 GiB, cpus $(cat /sys/devices/system/node/node$n/cpulist)"
done
# User space: one KTAP document, a case per program, its output as comments.
echo "KTAP version 1"
echo "1..3"
run() {
	n=$1; name=$2; shift 2
	"$@" >/tmp/out 2>&1; rc=$?
	sed 's/^/# /' /tmp/out
	if [ $rc = 0 ]; then echo "ok $n $name"; else echo "not ok $n $name # exit $rc"; fi
}
LAB_NUMA_GUEST=1 run 1 t_numa /bin/t_numa
run 2 numa_rx /bin/numa_rx --expect-nodes 2 --rounds 50000
# the NIC demo on node 1: every frame verified, every page there
run 3 nic_demo_node_1 sh -c '/bin/nic_demo --node 1 -d 1 -p 1024 >/tmp/nic && cat /tmp/nic &&
	grep -q "^pool rx: numa bound to node 1, pages on node1 1024\$" /tmp/nic'
insmod /m/labyrinth.ko
insmod /m/labyrinth_selftest.ko only=numa
echo "labyrinth-test: done"
poweroff -f
EOF
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) >"$cache/initramfs-numa.cpio"

log=$cache/console-numa.log
# 3 GiB a node: room for one 1 GiB huge page each (1 GiB-aligned and free), reserved at boot
# (memory qemu only backs once the guest touches it): node 0 is [0, 3G), below the PCI
# hole, node 1 [4G, 7G).  nokaslr: a kernel image placed at random could take the one
# free 1 GiB range of node 0 (it did, once in CI: node 0 got no 1 GiB page).
echo "== test-numa: booting $name under qemu (TCG, 2 nodes of 1 CPU and 3 GiB)"
rc=0
timeout "$timeout_s" qemu-system-x86_64 -accel tcg -cpu qemu64,+pdpe1gb -m 6144 -smp 2,sockets=2,cores=1,threads=1 -nographic -no-reboot \
	-object memory-backend-ram,id=m0,size=3072M -object memory-backend-ram,id=m1,size=3072M \
	-numa node,nodeid=0,memdev=m0 -numa node,nodeid=1,memdev=m1 \
	-numa cpu,node-id=0,socket-id=0 -numa cpu,node-id=1,socket-id=1 \
	-net none -device pvpanic-pci -action panic=exit-failure \
	-kernel "$img/boot/vmlinuz-$name" -initrd "$cache/initramfs-numa.cpio" \
	-append "console=ttyS0 panic_on_warn=1 oops=panic panic=-1 nokaslr secretmem.enable=1 hugepagesz=1G hugepages=0:1,1:1" \
	</dev/null >"$log" 2>&1 || rc=$?
sed -e 's/\r$//' -e 's/^\[ *[0-9.]*\] //' "$log" >"$log.txt"
grep -E '^(KTAP|1\.\.|ok |not ok |# )' "$log.txt" || true
why=$(lab_console_verdict "$log.txt" "$rc" "$timeout_s" 2)
grep -q '^# nodes with memory: 0-1$' "$log.txt" || why="$why the guest has not two nodes with memory;"
if [ -n "$why" ]; then
	echo "test-numa: FAILED:$why (console: $log)" >&2
	tail -n 40 "$log.txt" >&2
	exit 1
fi
echo "test-numa: two nodes, every case ok"
