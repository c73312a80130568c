# SPDX-License-Identifier: MIT
#
# demo_common.sh - sourced by udp_demo.sh and xdp_demo.sh (after their own
# defaults, RATE among them): the settings both take, and the awk that
# reads the programs' RESULT lines for the summary table.
# shellcheck shell=sh disable=SC2016,SC2034,SC2154 # sourced: its variables are the script's
BUILD=${BUILD:-build}
BIN=${BIN:-$BUILD/examples}
SIZE=${SIZE:-1400}
FLOWS=${FLOWS:-4}
if [ "$RATE" = 0 ]; then pace="flat out"; else pace="$RATE pkt/s"; fi

# The start of the table's awk program: get(file, key) is key's value on
# file's RESULT line; files[1..nf] are the files in the order given, each
# run's rx file followed by its tx file (result_files).
result_awk='
function get(file, key,    n, i, kv) {
	n = split(res[file], kv, " ")
	for (i = 1; i <= n; i++)
		if (index(kv[i], key "=") == 1)
			return substr(kv[i], length(key) + 2)
	return ""
}
FNR == 1 { files[++nf] = FILENAME }
/^RESULT / { res[FILENAME] = $0 }
'

# result_files MODE...: "$tmp/rx.MODE $tmp/tx.MODE" for each run that left
# its receiver's result.
result_files() {
	for m in "$@"; do
		[ -f "$tmp/rx.$m" ] && echo "$tmp/rx.$m $tmp/tx.$m"
	done
}
