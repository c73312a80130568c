#!/usr/bin/env python3
"""What each check of labyrinth's fast paths costs, measured.

SPEC's contract makes every fast-path operation check things DPDK's mempool
and the floor do not: the cache's busy flag (signal handlers on the same
thread), the page's state byte (double frees, wrong pools, bulk frees
alike) and the pool's checks (a dead, zeroed or copied labyrinth_t: its
magic, and the cache's claim by it).  This script builds the
benchmark's labyrinth backend from copies of the source tree with one
check removed at a time (and all of them), runs each next to the shipped
library, DPDK's mempool and the floor, alternating processes round by
round, and prints medians.  The variants are experiments, never shipped:
without its checks the library breaks its contract.

    python3 bench/checks.py [--rounds 5] [--scenarios pair,pools4,batch256,bulk64,spsc,threads]
                            [--variants shipped,no-state,no-busy+no-pool-checks,...]

Needs what `make bench` installed (the peers) and a build of the other
backends in build-bench/bench-bin (`make bench` or `cmake --build
build-bench`).  Takes about 3 minutes on the project's 2-core machine; run
it on a quiet machine.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

FAST = "include/labyrinth_fast.h"

# (file, text as shipped, text in the variant): every edit must apply.
EDITS = {
    "no-state": [
        (FAST, "\tLAB_FAST_STORE(&state[idx], (uint8_t)(LAB_PS_HEAD | 0));\n\t*page",
         "\t(void)state;\n\t*page"),
        (FAST, "\t\t\t      LAB_FAST_LOAD(&state[idx]) != (uint8_t)(LAB_PS_HEAD | 0) ||\n", ""),
        (FAST, "\tLAB_FAST_STORE(&state[idx], (uint8_t)LAB_PS_FREE);\n\tLAB_FAST_PAGES",
         "\t(void)state;\n\tLAB_FAST_PAGES"),
        # the bulk get's runs and single pages (its loops stay)
        (FAST, "\t\t\tLAB_FAST_STORE(s8, LAB_PS_HEAD8);\n", "\t\t\t(void)s8;\n"),
        (FAST, "\t\tLAB_FAST_STORE(&state[src[j]], (uint8_t)(LAB_PS_HEAD | 0));\n", "\t\t(void)state;\n"),
        # the bulk free's single pages and runs
        (FAST, "\tif (pg >= total || LAB_FAST_LOAD(&state[pg]) != (uint8_t)(LAB_PS_HEAD | 0))\n"
               "\t\treturn 0;\n\tLAB_FAST_STORE(&state[pg], (uint8_t)LAB_PS_FREE);\n",
         "\tif (pg >= total)\n\t\treturn 0;\n\t(void)state;\n"),
        (FAST, " ||\n\t\t\t    LAB_FAST_LOAD(s8) != LAB_PS_HEAD8)\n", ")\n"),
        (FAST, "\t\t\tLAB_FAST_STORE(s8, 0ull);\n", "\t\t\t(void)s8;\n"),
    ],
    "no-busy": [
        (FAST, "\tif (LAB_FAST_UNLIKELY(LAB_FAST_WORD_BUSY(LAB_FAST_LOAD(LAB_FAST_WORD_OF(c)))))\n"
               "\t\treturn 0;\n", "\t(void)c;\n"),
        (FAST, "\tLAB_FAST_STORE(&c->busy, 1u);\n", ""),
        # leaving still stores the count, without touching busy
        (FAST, "\t__atomic_signal_fence(__ATOMIC_SEQ_CST);\n"
               "\tLAB_FAST_STORE(LAB_FAST_WORD_OF(c), LAB_FAST_WORD(count));\n",
         "\tLAB_FAST_STORE(&c->count, count);\n"),
    ],
    # (the slot test stays: a thread's first call has no slot yet)
    "no-pool-checks": [
        (FAST, "\tif (LAB_FAST_UNLIKELY(!lab || slot < 0 ||\n"
               "\t\t\t      LAB_FAST_LOAD(&lab->lab_private_magic) != LAB_MAGIC_LIVE))\n",
         "\tif (LAB_FAST_UNLIKELY(slot < 0))\n"),
        (FAST, "\tif (LAB_FAST_UNLIKELY(LAB_FAST_LOAD(&c->lab) != lab))\n\t\treturn NULL;\n", ""),
    ],
}
EDITS["none"] = [e for k in ("no-state", "no-busy", "no-pool-checks") for e in EDITS[k]]

SCENARIOS = {
    "pair": ([], "ns_per_pair", "ns/pair", "low"),
    "pools4": ([], "ns_per_pair", "ns/pair (four pools in turn)", "low"),
    "batch256": ([], "ns_per_page", "ns/page", "low"),
    "bulk64": ([], "ns_per_page", "ns/page", "low"),
    "spsc": ([], "pages_per_s", "pages/s", "high"),
    "threads": (["--threads", "2"], "pairs_per_s", "pairs/s (2 threads)", "high"),
}


def edits_of(name):
    """The edits of a variant; "a+b" is both a's and b's (which two checks
    would have to go to reach a peer)."""
    if name == "shipped":
        return []
    for part in name.split("+"):
        if part not in EDITS:
            sys.exit("checks.py: no variant %r (known: shipped, %s, and a+b)" % (part, ", ".join(EDITS)))
    return [e for part in name.split("+") for e in EDITS[part]]


def make_variant(name, work):
    """A copy of the tree with the variant's edits, its bench-labyrinth built."""
    src = os.path.join(work, name)
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", "build*", "results", "fuzz-corpus"))
    for rel, old, new in edits_of(name):
        path = os.path.join(src, rel)
        with open(path) as f:
            text = f.read()
        if old not in text:
            sys.exit("checks.py: variant %s: %s no longer holds the code it removes "
                     "(update EDITS): %r" % (name, rel, old[:60]))
        with open(path, "w") as f:
            f.write(text.replace(old, new, 1))
    bld = os.path.join(work, "build-" + name)
    for cmd in (["cmake", "-S", os.path.join(ROOT, "bench"), "-B", bld, "-DCMAKE_BUILD_TYPE=RelWithDebInfo",
                 "-DLAB_ROOT=" + src],
                ["cmake", "--build", bld, "-j", "2", "--target", "bench-labyrinth"]):
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return os.path.join(bld, "bench-bin", "bench-labyrinth")


def run_one(exe, scenario, extra, metric):
    out = subprocess.run([exe, "--scenario", scenario, "--touch", "colored"] + extra,
                         check=True, capture_output=True, text=True, timeout=120).stdout
    for line in out.splitlines():
        f = line.split("\t")
        if f[0] == "result" and f[3] == metric:
            return float(f[4])
    sys.exit("checks.py: %s printed no %s for %s" % (exe, metric, scenario))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--scenarios", default=",".join(SCENARIOS))
    ap.add_argument("--variants", default="shipped,no-state,no-busy,no-pool-checks,none")
    ap.add_argument("--bin-dir", default=os.path.join(ROOT, "build-bench", "bench-bin"),
                    help="where the peers' bench-dpdk and bench-floor are")
    a = ap.parse_args()
    scenarios = a.scenarios.split(",")
    variants = a.variants.split(",")
    peers = [p for p in ("floor", "dpdk") if os.path.exists(os.path.join(a.bin_dir, "bench-" + p))]
    work = tempfile.mkdtemp(prefix="lab-checks-")
    try:
        exes = {}
        for v in variants:
            print("building %s ..." % v, file=sys.stderr)
            exes[v] = make_variant(v, work)
        for p in peers:
            exes[p] = os.path.join(a.bin_dir, "bench-" + p)
        names = variants + peers
        vals = {}
        for r in range(a.rounds):
            print("round %d/%d ..." % (r + 1, a.rounds), file=sys.stderr)
            order = names[r % len(names):] + names[:r % len(names)]
            for s in scenarios:
                extra, metric, unit, better = SCENARIOS[s]
                for n in order:
                    vals.setdefault((s, n), []).append(run_one(exes[n], s, extra, metric))
        print("labyrinth with checks removed (variants below): medians of %d rounds, processes alternating"
              % a.rounds)
        head = ["scenario", "unit"] + names + ["shipped/dpdk"]
        rows = []
        for s in scenarios:
            extra, metric, unit, better = SCENARIOS[s]
            med = {n: statistics.median(vals[(s, n)]) for n in names}
            row = [s, unit] + ["%.3g" % med[n] for n in names]
            if "dpdk" in med and "shipped" in med:
                r = med["shipped"] / med["dpdk"] if better == "low" else med["dpdk"] / med["shipped"]
                row.append("%.2fx the cost" % r)
            else:
                row.append("-")
            rows.append(row)
        w = [max(len(str(x[i])) for x in [head] + rows) for i in range(len(head))]
        for x in [head, ["-" * n for n in w]] + rows:
            print("  ".join(str(c).ljust(w[i]) if i < 2 else str(c).rjust(w[i]) for i, c in enumerate(x)))
        print("variants: no-state = no state byte load/store in the fast paths and bulk loops; no-busy = "
              "no busy flag; no-pool-checks = no magic or claim check; none = all three removed; a+b = a and b removed")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
