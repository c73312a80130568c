#!/usr/bin/env python3
"""Write the seed inputs of fuzz/corpus/ (see fuzz_pool.c for the encoding).

Each seed is: init bytes, then operations.  Run from the repository root:
    python3 fuzz/gen_seeds.py
"""
import os

ATOMIC, NOWAIT, KERNEL = 0, 1, 2          # gfp byte, low 3 bits
ZERO, NOWARN = 0x08, 0x10                 # gfp byte modifiers
DEBUG, NOLOCK, DUMPABLE = 0x10, 0x08, 0x04

def init(name=1, nr=('pow', 0), max_=('same',), reserve=('none',), flags=0, bad=None):
    b = name & 7
    out = []
    kind = nr[0]
    sel = {'small': 0, 'pow': 1, 'any': 2, 'default': 3}[kind]
    if bad is not None:
        b |= 7 << 5
    b |= sel << 3
    out.append(b)
    if kind == 'small':
        out.append(nr[1] - 16)
    elif kind == 'pow':
        out.append(nr[1])                   # 64 << (x % 6)
    elif kind == 'any':
        v = nr[1] - 1
        out += [v & 255, v >> 8]
    m = max_[0]
    if m == 'same':
        out.append(0)
    elif m == 'grow':
        out += [1, max_[1] & 255, max_[1] >> 8]
    elif m == 'tiny':
        out += [2, max_[1]]
    r = reserve[0]
    if r == 'none':
        out.append(0)
    elif r == 'some':
        out += [1, reserve[1]]
    elif r == 'near':
        out += [2, reserve[1]]
    out.append(flags)
    if bad is not None:
        out += bad
    return out

def alloc(gfp=ATOMIC, order=0):
    o = 0 if order == 0 else 150 + (order - 1)
    return [0, gfp, o]

def free_last():
    return [7, 9, 0, 0, 0]          # pick kind 9: last block; own order

def free_kind(kind, r=0, extra=None, order_byte=0):
    out = [8, kind, r & 255, r >> 8]
    if extra is not None:
        out.append(extra)
    out.append(order_byte)
    return out

def bulk(gfp=ATOMIC, n=10):
    return [12, gfp, n, 0]

def free_bulk(entries):
    out = [14, len(entries), 0]
    for e in entries:
        out += e
    return out

def fill(gfp=NOWAIT, order=None):
    if order is None:
        return [15, gfp, 1]
    return [15, gfp, 0, order]

def drain(how=0):
    return [16, how]

def watch(low):
    return [17, 2, (low - 1) & 255, ((low - 1) >> 8) & 255]

def pool(k):
    """Switch to pool k (0..3); its first use is followed by its init bytes."""
    return [240 + k]

seeds = {
    'reserve-exact': init(nr=('pow', 0), reserve=('some', 8)) +
        fill(NOWAIT) + fill(ATOMIC) + drain() + fill(ATOMIC) + drain(),
    'orders-mixed': init(nr=('pow', 5)) +
        sum((alloc(ATOMIC, o) for o in (0, 3, 1, 10, 2, 0, 6, 7)), []) +
        free_kind(3, 1, 2) + free_kind(0, 1, order_byte=255) + free_last() + free_kind(4) +
        free_kind(6, 5, 1) + free_kind(7, 2) + free_kind(5, 9) + [11, 8, 0, 0] +
        drain(1) + alloc(NOWAIT, 9) + drain(),
    'debug-bad-frees': init(name=2, nr=('small', 80), flags=DEBUG) +
        alloc(ATOMIC | ZERO) + alloc(NOWAIT, 2) + free_last() + free_kind(4) +
        free_kind(3, 0, 1) + free_kind(7, 3) + fill(NOWAIT) + alloc(NOWAIT) +
        free_bulk([[0, 0, 0, 0], [4, 0], [5], [6, 1, 0], [0, 2, 0, 0]]) + drain(),
    'kernel-growth': init(nr=('pow', 0), max_=('grow', 3000), reserve=('some', 4)) +
        fill(KERNEL) + alloc(KERNEL, 5) + bulk(KERNEL, 70) + [19] + drain() + [19],
    'kernel-tiny-room': init(nr=('small', 100), max_=('tiny', 5), reserve=('some', 10)) +
        fill(NOWAIT) + alloc(ATOMIC) + alloc(KERNEL) + alloc(KERNEL) + alloc(KERNEL, 1) +
        drain(),
    'watches': init(name=3, nr=('pow', 1), reserve=('some', 16)) +
        watch(100) + watch(20) + watch(1) + fill(NOWAIT) + [18, 0] + drain(2) +
        fill(ATOMIC) + watch(5) + drain(),
    'bulk-edges': init(nr=('pow', 2)) + bulk(ATOMIC, 64) + bulk(NOWAIT | ZERO, 65) +
        [12, ATOMIC, 3, 0xff] + [12, 5, 4, 0] +
        free_bulk([[0, 0, 0, 0], [4, 0], [4, 1], [5], [7, 3, 0], [1, 5, 0]]) + drain(),
    'lifecycle': init(nr=('small', 64)) + alloc() + [19] + drain() + [19] + [0, 0, 0] +
        [20] + init(name=4, nr=('pow', 3), flags=NOLOCK | DUMPABLE) + [21] + alloc(ATOMIC, 4) +
        [20, 0] + init() + [21, 23, 0, 23, 1, 22, 5, 0, 0] + drain(),
    'bad-init': init(bad=[0, 1, 32, 0, 0]) + alloc() + [20] + init(bad=[1, 3]) +
        [20] + init(bad=[3, 9]) + [20] + init(bad=[4]) + [20] + init(bad=[2, 7]) + [20] +
        init(bad=[5]) + [20] + init(nr=('any', 300), reserve=('near', 0)) + fill(ATOMIC) +
        drain(),
    'bad-gfp-order': init(nr=('pow', 4)) + [0, 5, 0] + [0, 6, 0] + [0, 7, 0x33, 0x12, 0] +
        [0, 0xe0, 3, 0] + [0, ATOMIC, 250] + [0, ATOMIC, 255] + [5, 5] + [6] +
        alloc(ATOMIC | ZERO | NOWARN, 10) + drain(),
    # regression: a new watch with pages in the caller's cache (64 of 64 free)
    'watch-new-with-pages-cached': init(nr=('pow', 0)) + alloc(ATOMIC) +
        free_last() + watch(63) + drain(),
    'defaults': [0, 0, 0, 0] + fill(ATOMIC, 3) + drain(1) + alloc(NOWAIT, 10) + drain(),
    # regression: a new watch with a block in the caller's block cache
    'watch-new-with-blocks-cached': init(nr=('pow', 0)) + alloc(ATOMIC, 2) +
        free_last() + watch(63) + drain(),
    # cached blocks judged against the reserve; the last ones merge for order 3
    'blocks-cached-reserve': init(nr=('pow', 1), reserve=('some', 8)) + fill(NOWAIT, 2) +
        alloc(ATOMIC, 2) + alloc(ATOMIC, 2) + free_last() + free_last() +
        alloc(NOWAIT, 2) + alloc(ATOMIC, 2) + alloc(NOWAIT) + alloc(ATOMIC, 3) + drain(),
    # a full pool of order-1 blocks; four freed into the cache make an order 3
    'block-from-cached-blocks': init(nr=('pow', 1)) + fill(ATOMIC, 1) + free_last() * 4 +
        alloc(ATOMIC, 3) + alloc(ATOMIC) + alloc(NOWAIT, 1) + drain(),
    # three pools in one input, each with its own model: blocks, a debug
    # pool run dry, a pool grown by KERNEL, a busy destroy, back and forth
    'several-pools': init(nr=('pow', 0)) + alloc(ATOMIC, 2) + alloc(NOWAIT) +
        pool(1) + init(name=2, nr=('pow', 1), reserve=('some', 4), flags=DEBUG) +
        fill(NOWAIT) + alloc(ATOMIC) + free_kind(4) +
        pool(0) + free_last() + alloc(NOWAIT, 3) +
        pool(2) + init(name=3, nr=('small', 40), max_=('grow', 200)) + fill(KERNEL) +
        watch(10) + drain(2) +
        pool(1) + drain(1) + [19] + drain() +
        pool(0) + drain() + pool(2) + drain(),
}

# Reproducers of library bugs found by the fuzzer (fuzz/crashes/): they fail
# until the library is fixed, so they are kept out of the corpus.
crashes = {
    # KERNEL order 0 fails at max_pages although the caller's own cache holds
    # free pages above the reserve (free 11, reserve 10).
    'kernel-order0-ignores-own-cache': init(nr=('small', 100), max_=('tiny', 2),
                                            reserve=('some', 10)) +
        fill(NOWAIT) + alloc(ATOMIC) + alloc(KERNEL) + drain(),
    # An order-2 block taken at 64 free pages fires a watch at 60 (64 -> 60
    # does not cross below 60): block allocations judge watches (and
    # reserve_allocs) without the caller's cached pages.
    'watch-block-spurious-event': init(nr=('pow', 0)) + alloc(ATOMIC) + free_last() +
        watch(60) + alloc(ATOMIC, 2) + drain(),
}
cdir = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'crashes')
os.makedirs(cdir, exist_ok=True)
for name, data in crashes.items():
    with open(os.path.join(cdir, name), 'wb') as f:
        f.write(bytes(b & 255 for b in data))

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
os.makedirs(here, exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(here, name), 'wb') as f:
        f.write(bytes(b & 255 for b in data))
print('wrote %d seeds to %s' % (len(seeds), here))
