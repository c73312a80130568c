#!/bin/sh
# top_tool.sh LABYRINTH_TOP T_PUBLISH - labyrinth-top reads a publisher
# (t_publish serve: pool top-served, 72 of 256 pages in use) from outside:
# --once shows it, --json parses (python3 -m json.tool) with the figures,
# every --prometheus line is well-formed (and Prometheus's own parser, from
# python3-prometheus-client, reads them when it is installed), bad
# arguments get a usage line, the live view under tmux shows the pool, the
# publisher's exit removes its file, and a SIGKILLed one's is reported stale.
# Its own directory: parallel-safe.
set -u
top=$1 pub=$2
passed=0 failed=0
ok() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }
check() { # check DESCRIPTION COMMAND...
	what=$1; shift
	if "$@"; then ok; else bad "$what"; fi
}

dir=$(mktemp -d /dev/shm/top-tool.XXXXXX) || { echo "FAIL: mktemp"; echo "0 passed, 1 failed"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/top-tool.XXXXXX")
sock=top-tool-$$
pubpid=
cleanup() {
	[ -n "$pubpid" ] && kill "$pubpid" 2>/dev/null
	tmux -L "$sock" kill-server 2>/dev/null
	rm -rf "$dir" "$work"
}
trap cleanup EXIT

# Wait (at most 20 s) until the command succeeds: a poll, not a timing.
until_true() {
	i=0
	while ! "$@"; do
		i=$((i + 1))
		[ $i -ge 200 ] && return 1
		sleep 0.1
	done
}

LABYRINTH_STATS=1 LABYRINTH_STATS_MS=50 LABYRINTH_STATS_DIR=$dir "$pub" serve >"$work/serve" &
pubpid=$!
until_true grep -qs '^ready' "$work/serve" || { bad "the publisher did not start"; exit 1; }
pid=$(sed -n 's/^ready //p' "$work/serve")
export LABYRINTH_STATS_DIR="$dir"

# The publisher says ready once its pages are allocated; its thread
# publishes them at its next period (50 ms): wait for a record that has
# them (a poll, not a timing), then read it every way.
published() { "$top" --once >"$work/once" && grep -Eq "^ *$pid .* top-served +4K +256 +184 +72 " "$work/once"; }
until_true published

# --once: a table with the pool
"$top" --once >"$work/once"
check "--once exits 0" test $? = 0
check "--once shows pid $pid and pool top-served with 72 pages in use" \
	grep -Eq "^ *$pid .* top-served +4K +256 +184 +72 " "$work/once"

# --json: valid, with the figures
"$top" --json >"$work/json"
check "--json parses" python3 -m json.tool "$work/json" >/dev/null
check "--json has the pool's figures" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
p = [q for pr in d["processes"] if pr["pid"] == int(sys.argv[2]) for q in pr["pools"]]
assert len(p) == 1 and p[0]["pool"] == "top-served", p
assert (p[0]["pages_total"], p[0]["pages_inuse"], p[0]["pages_free"]) == (256, 72, 184), p
assert p[0]["allocs_total"] == 72 and p[0]["bad_frees_total"] == 0, p
' "$work/json" "$pid"

# --prometheus: HELP and TYPE before each family, samples labelled pid and pool
"$top" --prometheus >"$work/prom"
check "--prometheus lines are well-formed" awk '
	/^# HELP labyrinth_[a-z_]+ [^ ].*$/ { help[$3] = 1; next }
	/^# TYPE labyrinth_[a-z_]+ (gauge|counter)$/ { if (!help[$3]) exit 1; type[$3] = 1; next }
	/^labyrinth_[a-z_]+\{pid="[0-9]+",pool="([^"\\]|\\.)*"\} [0-9]+$/ {
		name = $0; sub(/\{.*/, "", name); if (!type[name]) exit 1; n++; next }
	{ print "bad line: " $0; exit 1 }
	END { if (n < 10) exit 1 }' "$work/prom"
check "--prometheus has pages_inuse 72" \
	grep -qx "labyrinth_pages_inuse{pid=\"$pid\",pool=\"top-served\"} 72" "$work/prom"
if /usr/bin/python3 -c 'import prometheus_client' 2>/dev/null; then
	check "Prometheus's parser reads --prometheus" /usr/bin/python3 -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
fams = list(text_string_to_metric_families(open(sys.argv[1]).read()))
inuse = [s for f in fams for s in f.samples if s.name == "labyrinth_pages_inuse"]
assert any(s.labels == {"pid": sys.argv[2], "pool": "top-served"} and s.value == 72 for s in inuse)
' "$work/prom" "$pid"
else
	echo "note: python3-prometheus-client not installed: the format is checked by awk only"
fi

# arguments
"$top" --bogus >/dev/null 2>"$work/err"
check "a bad option exits 2" test $? = 2
check "a bad option prints the usage line" grep -q '^usage: ' "$work/err"
"$top" --once extra >/dev/null 2>"$work/err"
check "an extra argument exits 2 with the usage line" grep -q '^usage: ' "$work/err"
check "-h prints the usage line" sh -c "'$top' -h | grep -q '^usage: '"
check "--help exits 0" "$top" --help >/dev/null

# the live view, in a terminal
if command -v tmux >/dev/null 2>&1; then
	# SHELL: tmux runs the pane's command through $SHELL, else the
	# account's login shell, which for nobody (scripts/test-as-user.sh)
	# is nologin; CI's environment has no SHELL.
	SHELL=/bin/sh tmux -L "$sock" -f /dev/null new-session -d -x 150 -y 20 \
		"LABYRINTH_STATS_DIR='$dir' '$top' -d 0.2"
	screen_shows() {
		tmux -L "$sock" capture-pane -p >"$work/screen" 2>/dev/null &&
			grep -Eq "^ *$pid .* top-served +4K +256 +184 +72 " "$work/screen"
	}
	check "labyrinth-top under tmux shows the pool" until_true screen_shows
	check "the screen has the header" grep -q '^labyrinth-top .*1 process, 1 pool' "$work/screen"
	tmux -L "$sock" kill-server 2>/dev/null
else
	bad "tmux is not installed (scripts/install-deps.sh installs it)"
fi

# a file in a live process's name (this shell's) owned by another user:
# never shown as that process's, listed as not shown (root only: chown)
if [ "$(id -u)" = 0 ]; then
	: >"$dir/labyrinth-stats.$$"
	chown 65534:65534 "$dir/labyrinth-stats.$$"
	"$top" --once >"$work/foreign"
	check "a foreign file is listed as not shown" \
		grep -q "^not shown: pid $$ (owned by another user than its process): " "$work/foreign"
	check "and the publisher's pool is still the only one" grep -q '1 process, 1 pool' "$work/foreign"
	"$top" --json >"$work/json3"
	check "--json lists it under not_shown" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert [x["pid"] for x in d["not_shown"]] == [int(sys.argv[2])], d
' "$work/json3" "$$"
	rm -f "$dir/labyrinth-stats.$$"
else
	echo "note: the foreign-file case needs root (chown)"
fi

# the publisher's normal exit removes its file; labyrinth-top then shows none
kill -TERM "$pubpid"
wait "$pubpid"
check "the publisher exits 0" test $? = 0
pubpid=
check "its file is removed at exit" test ! -e "$dir/labyrinth-stats.$pid"
check "labyrinth-top --once shows no process" sh -c "'$top' --once | grep -q '0 processes, 0 pools'"

# a SIGKILLed publisher: reported stale, kept with --keep-stale, else removed
LABYRINTH_STATS=1 "$pub" serve >"$work/serve2" &
crashed=$!
until_true grep -qs '^ready' "$work/serve2" || bad "the second publisher did not start"
kill -KILL "$crashed"
wait "$crashed" 2>/dev/null
"$top" --once --keep-stale >"$work/stale"
check "--once reports the stale file" \
	grep -q "^stale: pid $crashed (process gone): .* left in place" "$work/stale"
check "--keep-stale keeps it" test -e "$dir/labyrinth-stats.$crashed"
"$top" --json >"$work/json2"
check "--json reports it removed" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["processes"] == [] and len(d["stale"]) == 1, d
s = d["stale"][0]
assert s["pid"] == int(sys.argv[2]) and s["removed"] is True and s["reason"] == "process gone", s
' "$work/json2" "$crashed"
check "and removes it" test ! -e "$dir/labyrinth-stats.$crashed"

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
