# Shared by check-package.sh and check-dkms.sh, which install the project's
# Debian packages on this machine and purge them again.  POSIX sh, sourced
# after the script has set $me (its name in messages), $pkgs (the packages
# it installs) and fail().

# Root only: apt-get install and purge.
lab_pkg_need_root() {
	[ "$(id -u)" = 0 ] && return 0
	echo "$me: needs root ($1); not run" >&2
	exit 77
}

# Refuse to run over an installed copy of any of $*: the check removes the
# packages afterwards.
lab_pkg_refuse_installed() {
	for p in "$@"; do
		if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
			fail "$p is already installed; this check removes it afterwards: apt-get purge $p first"
		fi
	done
}

apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -y -qq -o DPkg::Lock::Timeout=600 "$@"; }

# A temporary directory in $tmp; at exit it goes, and $pkgs are purged if
# $installed says the check got as far as installing them.
lab_pkg_session() {
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/labyrinth-$1.XXXXXX")
	installed=0
	trap lab_pkg_cleanup EXIT
}
lab_pkg_cleanup() {
	[ "$installed" = 1 ] && apt_get purge $pkgs >/dev/null 2>&1 || true
	rm -rf "$tmp"
}

# lab_pkg_purge_gone [PATH...]: apt-get purge $pkgs, then fail unless every
# file the packages had ($tmp/files, from dpkg-query -L) and every PATH
# given is gone (directories listed there may stay: others share them).
lab_pkg_purge_gone() {
	apt_get purge $pkgs >"$tmp/apt.log" 2>&1 || { cat "$tmp/apt.log"; fail "apt-get purge $pkgs"; }
	installed=0
	_left=""
	while read -r _f; do
		[ -d "$_f" ] && continue
		if [ -e "$_f" ] || [ -L "$_f" ]; then _left="$_left $_f"; fi
	done <"$tmp/files"
	for _f in "$@"; do
		if [ -e "$_f" ] || [ -L "$_f" ]; then _left="$_left $_f"; fi
	done
	[ -z "$_left" ] || fail "left after apt-get purge:$_left"
}
