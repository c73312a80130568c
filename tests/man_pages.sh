#!/bin/sh
# SPDX-License-Identifier: MIT
# Description: the man pages match the code: every exported function has a
# page (and a line in labyrinth(7)), no page is left for a function that is
# gone, the numeric limits a page quotes equal the sources', the dump
# examples have the dump's fields, and every page renders with `man -l`
# without a warning.
#
# The figures the library computes (metadata bytes, cache batches, the
# sample failure message's numbers) come from tests/man_figures, run here,
# so that no page types a number the code may change.
#
# Usage: tests/man_pages.sh SOURCE_DIR [liblabyrinth.so [man_figures]]
set -u
src=${1:?usage: man_pages.sh SOURCE_DIR [liblabyrinth.so [man_figures]]}
lib=${2:-}
figures=${3:-}
src=$(cd "$src" && pwd) || exit 1
exported=""
last=""
man3=$src/man/man3
man7=$src/man/man7/labyrinth.7
hdr=$src/include/labyrinth.h
internal=$src/src/internal.h
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }
# check WHAT GOT WANT
same() { if [ "$2" = "$3" ]; then ok; else bad "$1: the pages say '$2', the sources '$3'"; fi; }

# A #define's value (first token after the name) from a header.
define() { sed -n "s/^#define $2[ 	]\{1,\}\([^ 	]*\).*/\1/p" "$1" | head -n 1; }

# A page as one line: troff line breaks do not split a phrase.
flat() { tr '\n' ' ' <"$1"; }

# --- every exported function has a page and a line in labyrinth(7) -------
api=$(grep '^LAB_API' "$hdr" | grep -o 'labyrinth_[a-z_]*(' | tr -d '(' | sort -u)
[ -n "$api" ] && ok || bad "no LAB_API functions found in $hdr"
if [ -n "$lib" ]; then
	exported=$(nm -D --defined-only "$lib" | awk '$2 == "T" { sub(/@.*/, "", $3); print $3 }' | sort -u)
	same "functions exported by $lib vs LAB_API in the header" \
		"$(echo $exported)" "$(echo $api)"
fi
for f in $api $exported; do
	if [ -f "$man3/$f.3" ]; then ok; else bad "$f has no page man/man3/$f.3"; fi
	if grep -q "^\.BR $f (3)" "$man7"; then ok; else bad "labyrinth(7) does not list $f(3)"; fi
	# the page (or the page an alias links to) names the function
	if [ -f "$man3/$f.3" ] && sed -n '/^\.SH NAME/,/^\.SH/p' "$man3/$f.3" | grep -qw "$f"; then
		ok
	else
		bad "the NAME section of $f.3 does not name $f"
	fi
done
for page in "$man3"/*.3; do
	f=$(basename "$page" .3)
	if echo "$api" | grep -qx "$f"; then ok; else bad "$f.3 documents no exported function"; fi
done

# --- the numbers the pages quote are the sources' --------------------------
pages="$man3/*.3 $man7"
max_order=$(define "$hdr" LAB_MAX_ORDER)
max_pages=$(define "$internal" LAB_MAX_PAGES | sed 's/u$//')
cache_threads=$(define "$internal" LAB_CACHE_THREADS)
cache_max=$(define "$internal" LAB_CACHE_MAX | sed 's/u$//')
cache_share=$(define "$internal" LAB_CACHE_SHARE | sed 's/u$//')
max_watches=$(define "$internal" LAB_MAX_WATCHES)
name_max=$(define "$internal" LAB_NAME_MAX)
default_pages=$(define "$internal" LAB_DEFAULT_PAGES | sed 's/u$//')
grow_mib=$(sed -n 's/^#define LAB_GROW_BYTES ((size_t)\([0-9]*\) << 20).*/\1/p' "$internal")
version="$(define "$hdr" LAB_VERSION_MAJOR).$(define "$hdr" LAB_VERSION_MINOR).$(define "$hdr" LAB_VERSION_PATCH)"
for v in max_order max_pages cache_threads cache_max cache_share max_watches name_max \
	 default_pages grow_mib; do
	eval "val=\$$v"
	[ -n "$val" ] && ok || bad "could not read $v from the sources"
done

# check_all WHAT EXPECTED SED-PATTERN: every match's \1 in every page is EXPECTED,
# and at least one page quotes it.
check_all() {
	found=0
	for page in $pages; do
		for got in $(flat "$page" | grep -o "$3" | sed "s|$3|\1|"); do
			found=1
			same "$1 in $(basename "$page")" "$got" "$2"
		done
	done
	[ $found = 1 ] && ok || bad "no page quotes $1 (pattern '$3'): update this test"
}

check_all "the max_pages limit (LAB_MAX_PAGES)" "$max_pages" '\(0xffff[0-9a-f]*\)'
check_all "LAB_MAX_ORDER" "$max_order" 'LAB_MAX_ORDER *(\([0-9]*\))'
check_all "pages of a max-order block" "$((1 << max_order))" 'up to \([0-9]*\) pages in one block'
check_all "pages of a max-order block" "$((1 << max_order))" 'block of up to \([0-9]*\) pages, which'
check_all "the largest block's order" "$max_order" 'largest block is order \([0-9]*\)'
check_all "the cache bound (LAB_CACHE_MAX)" "$cache_max" 'min(\([0-9]*\),'
check_all "the cache share (LAB_CACHE_SHARE)" "$cache_share" 'nr_pages */\([0-9]*\))'
check_all "threads with caches (LAB_CACHE_THREADS)" "$cache_threads" 'first \([0-9]*\) threads'
check_all "cache slots (LAB_CACHE_THREADS)" "$cache_threads" '\([0-9]*\) per-thread cache slots'
check_all "watches per pool (LAB_MAX_WATCHES)" "$max_watches" 'at most \([0-9]*\) watches'
check_all "watches per pool (LAB_MAX_WATCHES)" "$max_watches" 'already has \([0-9]*\) watches'
check_all "bytes of a pool name (LAB_NAME_MAX - 1)" "$((name_max - 1))" 'kept to \([0-9]*\) bytes'
check_all "bytes of a pool name (LAB_NAME_MAX - 1)" "$((name_max - 1))" 'copy of at most \([0-9]*\) bytes'
check_all "the default nr_pages (LAB_DEFAULT_PAGES)" "$default_pages" '0 means \([0-9][0-9]*\)\.'
check_all "a growth step (LAB_GROW_BYTES)" "$grow_mib" 'step[s (of]*\([0-9][0-9]*\)\\~MiB'
check_all "the page size default" 4096 '(\([0-9]*\), the default when 0)'
check_all "the version in .TH" "$version" '"labyrinth \([0-9.]*\)"'
for part in MAJOR MINOR PATCH; do
	check_all "LAB_VERSION_$part" "$(define "$hdr" LAB_VERSION_$part)" \
		"#define LAB_VERSION_$part \([0-9]*\)"
done

# --- the figures the library computes (tests/man_figures) ------------------
# in the man pages and the README alike
if [ -n "$figures" ]; then
	out=$("$figures" 2>&1)
	[ $? = 0 ] && ok || bad "man_figures failed: $out"
	fig() { echo "$out" | sed -n "s/^$1 //p"; }
	for v in batch_1024 batch_4096 meta_default rx_meta rx_kib rx_fit; do
		case "$(fig $v)" in
		'' | -1 | *[!0-9]*) bad "man_figures gave no $v: $out" ;;
		*) ok ;;
		esac
	done
	pages="$man3/*.3 $man7 $src/README.md"
	check_all "a cache's batch in a pool of 1024 pages" "$(fig batch_1024)" \
		'\([0-9]*\) pages *in a pool of 1024 pages'
	check_all "a cache's batch in a pool of 4096 pages" "$(fig batch_4096)" \
		'\([0-9]*\) pages *in a pool of 4096 pages'
	check_all "the metadata of a default pool" "$(fig meta_default)" \
		'\([0-9]*\) bytes *altogether *for a default pool'
	check_all "the sample message's metadata bytes" "$(fig rx_meta)" \
		'pages + \([0-9]*\) bytes of metadata'
	check_all "the sample message's limit to set" "$(fig rx_kib)" \
		'raise the limit to at *least \([0-9]*\) KiB'
	check_all "the sample message's pages that fit" "$(fig rx_fit)" \
		'\([0-9]*\) pages *of 4096 *bytes would fit'
	pages="$man3/*.3 $man7"
fi

# --- dump examples: the counters of src/stats.c and the order header --------
counters=$(sed -n '/"pool %s: allocs/,/\\n"/p' "$src/src/stats.c" | grep -o '[a-z_]* %lu' |
	sed 's/ %lu//' | tr '\n' ' ')
[ -n "$counters" ] && ok || bad "could not read the dump's counters from src/stats.c"
for page in $pages; do
	# .EX blocks, continuation lines (indented) joined to the line before
	sed -n '/^\.EX/,/^\.EE/p' "$page" | awk '
		/^ / && prev != "" { sub(/^ +/, " "); prev = prev $0; next }
		{ if (prev != "") print prev; prev = $0 }
		END { if (prev != "") print prev }' >"${TMPDIR:-/tmp}/lab-man-ex.$$"
	while IFS= read -r line; do
		case "$line" in
		pool*": allocs "*)
			got=$(echo "${line#*: }" | tr ' ' '\n' | grep -v '^[0-9]*$' | tr '\n' ' ')
			same "dump counters in $(basename "$page")" "$(echo $got)" "$(echo $counters)";;
		pool*", size "*)
			if [ -n "$(echo "$last" | grep ', *order *0 *1 ')" ]; then ok
			else bad "dump in $(basename "$page"): no order header above '$line'"; fi;;
		esac
		last=$line
	done <"${TMPDIR:-/tmp}/lab-man-ex.$$"
	rm -f "${TMPDIR:-/tmp}/lab-man-ex.$$"
done

# --- labyrinth-top(1) quotes the publisher's limits as src/publish_format.h has them
top1=$src/man/man1/labyrinth-top.1
pubfmt=$src/src/publish_format.h
pub_records=$(define "$pubfmt" LAB_PUB_RECORDS | sed 's/u$//')
pub_period=$(define "$pubfmt" LAB_PUB_PERIOD_MS | sed 's/u$//')
if [ -n "$pub_records" ] && flat "$top1" | grep -q "(at most $pub_records; more"; then ok
else bad "labyrinth-top.1 does not say at most ${pub_records:-?} pools per process"; fi
if [ -n "$pub_period" ] && flat "$top1" | grep -q "(default $pub_period)"; then ok
else bad "labyrinth-top.1 does not give the default period ${pub_period:-?}"; fi

# --- every page renders with man -l, from anywhere, without a warning -------
if ! command -v man >/dev/null 2>&1; then
	bad "man is not installed (apt-get install man-db; scripts/install-deps.sh does)"
else
	for page in $man3/*.3 $man7 "$src"/man/man1/*.1; do
		out=$(cd / && MANWIDTH=80 MAN_KEEP_FORMATTING=0 man --warnings=w -l "$page" 2>&1 >/dev/null)
		text=$(cd / && MANWIDTH=80 man -l "$page" 2>/dev/null | head -n 5)
		if [ -z "$out" ] && [ -n "$text" ]; then ok
		else bad "man -l $(basename "$page"): ${out:-no output}"; fi
	done
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
