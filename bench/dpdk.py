#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/dpdk.py - the labyrinth mempool driver against DPDK's ring_mp_mc and
stack, side by side in one run: dpdk-testpmd io forwarding over two net_null
ports (one forwarding lcore), packets per second, with --mbcache=0 (every get
and put reaches the mempool driver) and with testpmd's default mbuf cache.
The three drivers alternate inside each round; the medians over the rounds
and their ratios to ring_mp_mc are printed with the targets of issue 18.

`make bench-dpdk` runs it (and `make bench` at its end).  Root only (the EAL).
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

OPS = ["labyrinth", "ring_mp_mc", "stack"]
CACHES = [("--mbcache=0", ["--mbcache=0"]), ("default cache", [])]


def world_writable_above(path):
    d = os.path.dirname(os.path.abspath(path))
    while True:
        if os.stat(d).st_mode & 0o002:
            return True
        if d == "/":
            return False
        d = os.path.dirname(d)


def safe_driver(path):
    """The EAL loads no driver from under a world-writable directory."""
    if not world_writable_above(path):
        return path, None
    home = os.path.expanduser("~")
    if world_writable_above(os.path.join(home, "x")):
        sys.exit("bench-dpdk: %s and $HOME lie under world-writable directories" % path)
    d = tempfile.mkdtemp(prefix=".lab-dpdk-bench.", dir=home)
    shutil.copy(path, d)
    return os.path.join(d, os.path.basename(path)), d


def run(driver, ops, extra, seconds, mbufs, n):
    prefix = "lab-dpdk-bench-%d-%d" % (os.getpid(), n)
    cmd = (["stdbuf", "-oL", "dpdk-testpmd", "-l", "0-1", "--no-huge", "-m", "256",
            "--no-pci", "--no-telemetry", "--file-prefix", prefix, "-d", driver,
            "--vdev", "net_null0", "--vdev", "net_null1", "--mbuf-pool-ops-name", ops,
            "--", "--total-num-mbufs=%d" % mbufs, "--forward-mode=io", "--auto-start"]
           + extra)
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    out = []
    for line in p.stdout:
        out.append(line)
        if "Press enter to exit" in line:
            break
    else:
        p.wait()
        sys.exit("bench-dpdk: testpmd (%s) ended early:\n%s" % (ops, "".join(out[-20:])))
    time.sleep(seconds)
    p.stdin.write("\n")
    p.stdin.flush()
    rest, _ = p.communicate(timeout=60)
    shutil.rmtree("/var/run/dpdk/" + prefix, ignore_errors=True)
    text = "".join(out) + rest
    if p.returncode != 0 or ("preferred mempool ops selected: " + ops) not in text:
        sys.exit("bench-dpdk: testpmd (%s) failed:\n%s" % (ops, text[-2000:]))
    acc = text[text.index("Accumulated forward statistics for all ports"):]
    rx = int(acc.split("RX-packets:")[1].split()[0])
    return rx / seconds


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--driver", required=True, help="liblabyrinth_dpdk.so")
    ap.add_argument("--seconds", type=float, default=5.0, help="forwarding time per run")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    ap.add_argument("--mbufs", type=int, default=8192, help="--total-num-mbufs")
    a = ap.parse_args()
    if not os.path.exists(a.driver):
        print("bench-dpdk: skipped: no %s (DPDK not found at configure time: "
              "apt-get install libdpdk-dev dpdk-dev)" % a.driver)
        return 0
    if shutil.which("dpdk-testpmd") is None:
        print("bench-dpdk: skipped: no dpdk-testpmd (apt-get install dpdk-dev)")
        return 0
    if os.geteuid() != 0:
        print("bench-dpdk: skipped: the DPDK EAL needs root here")
        return 0
    driver, tmpdir = safe_driver(a.driver)
    print("bench-dpdk: dpdk-testpmd io forwarding over 2 net_null ports, 1 forwarding "
          "lcore, %d mbufs, %.1f s per run, %d rounds, drivers alternating"
          % (a.mbufs, a.seconds, a.rounds))
    results = {}
    n = 0
    try:
        for r in range(a.rounds):
            for label, extra in CACHES:
                # rotate the order each round: no driver always runs first
                order = OPS[r % len(OPS):] + OPS[:r % len(OPS)]
                for ops in order:
                    n += 1
                    pps = run(driver, ops, extra, a.seconds, a.mbufs, n)
                    results.setdefault((label, ops), []).append(pps)
                    print("  round %d  %-13s  %-10s  %7.2f Mpps" % (r + 1, label, ops, pps / 1e6),
                          flush=True)
    finally:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
    print()
    print("| mbuf cache | mempool ops | packets/s (median) | vs ring_mp_mc |")
    print("|---|---|---|---|")
    med = {k: statistics.median(v) for k, v in results.items()}
    for label, _ in CACHES:
        for ops in OPS:
            m = med[(label, ops)]
            print("| %s | %s | %.2f M | %.2f× |" % (label, ops, m / 1e6,
                                                   m / med[(label, "ring_mp_mc")]))
    print()
    r0 = med[("--mbcache=0", "labyrinth")] / med[("--mbcache=0", "ring_mp_mc")]
    r1 = med[("default cache", "labyrinth")] / med[("default cache", "ring_mp_mc")]
    print("target --mbcache=0: labyrinth >= 1.2x ring_mp_mc: %.2fx: %s"
          % (r0, "met" if r0 >= 1.2 else "MISSED"))
    print("target default cache: labyrinth within 5%% of ring_mp_mc: %.2fx: %s"
          % (r1, "met" if r1 >= 0.95 else "MISSED"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
