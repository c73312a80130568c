# Shared by the scripts that boot Debian's kernels under qemu
# (scripts/test-kernel.sh, scripts/test-numa.sh).  POSIX sh, sourced; the
# sourcing script sets $here to the repository's root.

# lab_kernel_deps PKGS [--check]: with --check, exit 0 when every package
# of PKGS is installed, else 1; without it, install them
# (scripts/install-deps.sh).
lab_kernel_deps() {
	if [ "${2:-}" = --check ]; then
		for p in $1; do dpkg -s "$p" >/dev/null 2>&1 || exit 1; done
		exit 0
	fi
	# shellcheck disable=SC2086 # one argument per package
	sh "$here/scripts/install-deps.sh" $1
}

# The ABI of the installed linux-headers-amd64 (e.g. 6.1.0-57) in $abi and
# its exact package version in $kver: images and modules must match them.
lab_kernel_versions() {
	meta=$(sh "$here/kernel/headers.sh") ||
		{ echo "cannot read the ABI of linux-headers-amd64's dependency" >&2; return 1; }
	abi=${meta% *}
	kver=${meta#* }
}

# lab_kernel_fetch NAME IMG CACHE: linux-image-NAME (version $kver) into
# IMG, unpacked, never installed (/boot untouched); the .deb kept in CACHE/debs.
lab_kernel_fetch() {
	[ -f "$2/boot/vmlinuz-$1" ] && return 0
	echo "== fetching linux-image-$1 $kver"
	mkdir -p "$3/debs"
	# A fresh machine may have installed the headers with lists since gone.
	(cd "$3/debs" && { apt-get download "linux-image-$1=$kver" 2>/dev/null ||
		{ apt-get update -qq && apt-get download "linux-image-$1=$kver"; } ||
		apt-get download "linux-image-$1"; }) || return 1
	rm -rf "$2" && mkdir -p "$2"
	dpkg-deb --fsys-tarfile "$3/debs"/linux-image-"$1"_*.deb |
		tar -x -C "$2" --wildcards "./boot/vmlinuz-$1" \
			"./lib/modules/$1/kernel/drivers/misc/pvpanic/*"
}

# lab_console_verdict LOG RC TIMEOUT DOCS: the reasons a boot failed, on
# stdout ("" when it passed).  LOG is the console without carriage returns
# and time stamps; RC qemu's exit code under timeout(1); DOCS the number of
# KTAP documents expected, each with its plan and that many results, all ok.
lab_console_verdict() {
	[ "$2" = 124 ] && printf ' time-out after %ss;' "$3"
	[ "$2" != 0 ] && [ "$2" != 124 ] && printf ' qemu exited %s (a panic with pvpanic);' "$2"
	# Panics, BUGs (sleeping in atomic context, scheduling while atomic,
	# lockups), warnings, RCU stalls, hung tasks, any stack dump.
	grep -qE 'Kernel panic|BUG:|Oops|WARNING:|general protection|Call Trace|scheduling while atomic|rcu.*detected.*stall|self-detected stall|blocked for more than|soft lockup|hard LOCKUP|Out of memory' "$1" &&
		printf ' the kernel complained;'
	grep -q 'labyrinth-test: no pvpanic' "$1" && printf ' pvpanic did not load;'
	grep -q '^labyrinth-test: done' "$1" || printf ' init did not finish;'
	awk -v want="$4" '
		/^KTAP version 1$/ { if (docs && (got != plan || plan < 1)) bad = 1; docs++; plan = -1; got = 0; next }
		/^1\.\.[0-9]+$/ { plan = substr($0, 4) + 0; next }
		/^ok [0-9]+ / { got++; next }
		/^not ok [0-9]+ / { got++; bad = 1; next }
		END { if (docs && (got != plan || plan < 1)) bad = 1; if (docs != want) bad = 1; exit bad }
	' "$1" || printf ' KTAP: a case not ok, or a plan missing or short;'
	return 0
}

# lab_initramfs_base ROOT IMG NAME APPLET...: ROOT made anew, with busybox
# and links to it for each APPLET in bin/, the kernel NAME's pvpanic modules
# (from its unpacked image IMG) in m/, and the mount points; then
# lab_init_start writes the start of ROOT/init.
lab_initramfs_base() {
	_root=$1 _img=$2 _name=$3
	shift 3
	rm -rf "$_root" && mkdir -p "$_root/bin" "$_root/m" "$_root/proc" "$_root/sys" "$_root/dev" "$_root/tmp"
	cp /bin/busybox "$_root/bin/busybox"
	for _a in "$@"; do ln -s busybox "$_root/bin/$_a"; done
	cp "$_img/lib/modules/$_name/kernel/drivers/misc/pvpanic/pvpanic.ko" \
	   "$_img/lib/modules/$_name/kernel/drivers/misc/pvpanic/pvpanic-pci.ko" "$_root/m/"
}

# lab_init_start ROOT: ROOT/init's first lines, the file systems and pvpanic
# (loaded first: without it qemu would exit 0 on a panic too); the caller
# appends the rest and makes it executable.
lab_init_start() {
	cat >"$1/init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs dev /dev
mount -t debugfs debugfs /sys/kernel/debug
insmod /m/pvpanic.ko && insmod /m/pvpanic-pci.ko || echo "labyrinth-test: no pvpanic"
EOF
}
