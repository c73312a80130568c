#!/bin/sh
# test-as-user.sh [make arguments] - the test suite as a normal user meets
# it: a copy of the tree owned by nobody (uid/gid 65534), no capabilities,
# no supplementary groups, Debian's default 8 MiB RLIMIT_MEMLOCK; then
# `make test BUILD=build-user` there.  Root only (it switches users); the
# dependencies must already be installed (scripts/install-deps.sh).
# .ci/run runs it.
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
user=${LAB_TEST_UID:-65534}
if [ "$(id -u)" != 0 ]; then
	echo "test-as-user: run as root (it switches to uid $user); as a normal user just run make test" >&2
	exit 1
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/labyrinth-user.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# The sources without any build directory.
(cd "$src" && tar --exclude='./build*' --exclude=./stage --exclude=./fuzz-corpus -cf - .) |
	tar -C "$tmp" -xf -
chown -R "$user:$user" "$tmp"
# A normal user's locked-memory limit (lowering it needs no privilege).
ulimit -l 8192
echo "test-as-user: uid $user, RLIMIT_MEMLOCK $(ulimit -l) KiB, in $tmp"
cd "$tmp"
setpriv --reuid="$user" --regid="$user" --clear-groups --inh-caps=-all \
	env HOME="$tmp" TMPDIR="$tmp" make test BUILD=build-user JOBS="${JOBS:-2}" "$@"
