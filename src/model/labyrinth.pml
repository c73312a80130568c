/* SPDX-License-Identifier: MIT */
/*
 * labyrinth.pml - a Promela model of labyrinth's lock-free core, for Spin.
 *
 *     scripts/spin.sh            (or by hand, in a scratch directory:)
 *     spin -a labyrinth.pml && cc -O0 -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -n -m2000000 -w26
 *     scripts/spin.sh --mutants  every MUTANT_x below must make pan report an error
 *
 * Sizes (Spin 6.5.2, -DSAFETY -DCOLLAPSE, pan compiled -O0, one core of a
 * shared 2-core machine, 2026-11-30):
 *     default (3 threads + handler, sleeper)    50.9 M states  172 s   2.7 GB
 *     -DDEPOT=1 -DSLEEPER=0 (+ handler)          2.0 M states    6 s   0.7 GB
 *     -DDEPOT=1 -DHANDLER=0 (+ sleeper)         22.3 M states   70 s   1.5 GB
 *     -DTRADE=1 (2 threads trading + handler)    0.8 M states    2 s   0.7 GB
 *     -DSUMMARY=1 (2 threads, the summary tree) 22.2 M states   24 s   1.5 GB
 *         (2026-12-06)
 *     (spin.sh runs these five: about 5 min 10 s with the compiles)
 *     -DSLEEPER=0 -DBLOCKS=1 (+ handler)        12.8 M states   30 s   1.1 GB
 *     -DHANDLER=0 -DSLEEPER=1 -DBLOCKS=1        13.0 M states   34 s   1.1 GB
 *     -DDEPOT=1 (the handler and the sleeper): does not fit.  Exhaustive,
 *         it reaches MEMLIM=3000 at 56.8 M states (190 s, no error so
 *         far); a bitstate run (-DBITSTATE -w32) had seen 145 M states
 *         after 500 s and was still going: > 7.5 GB with COLLAPSE.
 *         Each of its two halves runs above; what only the combination
 *         adds is a handler interrupting T0's exchange while T2
 *         sleeps.
 *     -DGFP_ALL=1 (every gfp left to Spin)     ~140 M states (bitstate
 *         estimate before the depot): needs ~6 GB with COLLAPSE
 *     spin.sh --mutants: the twelve mutants, each caught.

 * What is modelled, each step named after the C it stands for:
 *
 *   store.c     the shared store: a free bitmap (NWORDS words of WBITS bits,
 *               a word is a byte here) and the exact count nr_free;
 *               lab_store_count_take (CAS on nr_free above a floor; with
 *               depot.c's lab_take_count around it), lab_store_claim
 *               (CAS on a word), lab_store_take (depot.c), lab_store_take_upto,
 *               lab_store_give (fetch_or per word, then lab_return_count),
 *               lab_store_give_range, lab_return_count (fetch_add, then
 *               wake sleepers if waiters != 0).
 *   cache.h/.c  per-thread caches of capacity CAP, refilled and flushed
 *               BATCH pages at a time: lab_cache_enter/leave (the busy
 *               flag), lab_cache_pop (fast and slow forms), lab_cache_pop_slow,
 *               lab_cache_refill, lab_cache_gate (the reserve judged on
 *               nr_free + depot + this cache), lab_cache_push,
 *               lab_cache_flush (count first, then the top pages' bits,
 *               then nr_free),
 *               lab_thread_exit / lab_cache_thread_exit.
 *   alloc.c     alloc_one (cache, then alloc_one_slow: cache again, store,
 *               lab_alloc_slow), hand_out and the per-page state byte,
 *               free_one (fast path into the cache) and free_slow
 *               (release_state, cache, store), alloc_block and the block
 *               free (optional, BLOCKS).
 *   buddy.c     lab_block_take: claim_in_word (order 1, one CAS on a word)
 *               and claim_word_run/claim_words (order 2 = two whole words,
 *               claimed one by one, rolled back with fetch_or on failure).
 *               The C code's word is 64 bits; here it is WBITS = 2, so the
 *               C code's "n > 6" multi-word path is order 2 here.
 *   depot       (DEPOT=1; depot.c) magazines of BATCH = 1 page on two
 *               tagged stacks, full and empty, and depot_pages: a refill
 *               reserves from depot_pages, pops a full magazine (load, then
 *               CAS: the ABA window) and pushes it empty; a flush of a full
 *               cache (lab_cache_make_room) pops an empty one, fills it,
 *               pushes it full and adds to depot_pages; an allocation whose
 *               take fails while the depot holds the pages it lacks drains
 *               a magazine into the bitmap and takes again (lab_take_count,
 *               also for LAB_GFP_KERNEL before it sleeps); the reserve and
 *               the cache gate count depot_pages.  T1's third free flushes
 *               into the depot, T0 allocates once more at the end (its
 *               refill may take that magazine while the handler interrupts
 *               it), T2's KERNEL allocation may take or drain it.
 *               TRADE=1: the depot under its three callers alone (see
 *               "Callers"): both stacks' pops are split into the load of
 *               head and next and the CAS, so that ABA can happen.
 *   summary.c   (SUMMARY=1, alone) the hint tree over the bitmap that
 *               store.c's searches follow: mark, emptied (clear, then
 *               recheck), lab_summary_next, and lab_store_claim's passes
 *               (summary, then linear); see "SUMMARY" near the end.
 *   slow.c      lab_alloc_slow for LAB_GFP_KERNEL: take_or_grow (no growth:
 *               max_pages == nr_pages), take_or_sleep (waiters counter,
 *               free_seq futex word, wait forever: wait_ms < 0),
 *               lab_wake_waiters.
 *
 * A signal handler is a process that may start at any moment while thread
 * 0 is alive and then runs to its end while thread 0 stands still (thread
 * 0's proctype has `provided (!in_handler)`); the other threads go on.  It
 * allocates on thread 0's cache (lab_my_slot is thread 0's) and frees.
 *
 * Callers (a pool of 4 pages in 2 words, reserve 1, caches of 2 pages
 * refilled and flushed 1 page at a time):
 *   T0  allocates x (NOWAIT) and y (ATOMIC), hands y to T1 through a
 *       mailbox, frees x, exits (its cache is flushed).
 *   T1  allocates u (NOWAIT; and u2 with FLUSH_ON_FULL), receives y and
 *       frees it (a cross-thread free), frees its own, exits.
 *   T2  (SLEEPER) allocates one page with KERNEL, which may sleep, frees it;
 *       (BLOCKS) allocates an order-1 or order-2 block (ATOMIC or NOWAIT,
 *       Spin's choice), frees it; exits.
 *   H   the signal handler on T0: allocates (ATOMIC), frees.
 * TRADE=1 (two threads trading magazines; 2 threads + the handler): T0
 * and T1 start with full caches (2 pages each, the bitmap empty); each
 * leaves two batches in the depot (lab_cache_make_room, as a free that
 * finds its cache at its grant does; the freed page is left out so that
 * four pages suffice), then allocates one page (ATOMIC: its refill may
 * take the other's magazine), frees it and exits.  The handler on T0
 * allocates: while T0 is busy in an exchange, its take finds the bitmap
 * empty and drains a magazine - pop full, push empty - inside T0's pop.
 * With four pages this is the only way to see a pop's head popped, its
 * next popped and the head pushed back between its load and its CAS:
 * T0's pop of the empty stack reads A (next B), T1's put pops A and
 * pushes it full, T1's second put pops B, the handler drains A back onto
 * the empty stack; the tag makes T0's CAS fail (probe 18 shows Spin
 * reaches that interleaving: -DTRADE=1 -DPROBE=18).  (On the full stack ABA
 * would need three magazines: depot_pages reservations let only two pops
 * of the full stack overlap with two magazines.)
 * With GFP_ALL=1 Spin picks ATOMIC or NOWAIT for every allocation.
 * PROBE=k turns probe point REACH(k) into a failing assertion: `spin.sh
 * --probes` uses it to show that the sleeps, wake-ups, busy handlers,
 * flushes, reserve refusals, failures and cross-thread frees all happen.
 *
 * Properties, all checked in every reachable state or at the step named:
 *   P1 no page handed out twice: where[] records where each page is (store,
 *      a cache, or the hands of one caller); every claim, pop, push and give
 *      asserts the page was where the step expects it (a claim from the
 *      bitmap or a pop from a cache of a page that someone holds fails).
 *      held[] is the user's view: hand_out asserts the page has no holder.
 *   P2 no page lost: when every thread has exited, nr_free == NPAGES, every
 *      bit is set, every cache is empty, every page is FREE and in the store.
 *   P3 the count is a safe gate: set bits >= nr_free + promised pages (taken
 *      from nr_free, bits not claimed yet), in every state (monitor).  And
 *      the ghost count of available pages equals nr_free + cached pages +
 *      pages on their way into a cache - pages on their way out of one.
 *   P4 the reserve: a NOWAIT or KERNEL allocation, at the step where it
 *      takes its page (the CAS on nr_free, or the cache gate), leaves at
 *      least RESERVE pages available in the whole pool (store + all caches).
 *   P5 no deadlock: Spin's invalid end states (every process must reach its
 *      end; the handler may also never run).
 *   P6 no lost wake-up: a KERNEL allocator that sleeps while pages come back
 *      must wake; it can only end if woken, so a lost wake-up is a P5 error
 *      (all other threads end and give all their pages back, so a page is
 *      always there for it eventually).  And a free that sees a registered
 *      sleeper never leaves its page in a cache (assertion in free_one).
 *   P7 no stranding: a take gives up - the allocation returns NULL or the
 *      KERNEL caller goes to sleep - only at a step where the bitmap and
 *      the depot hold no page, or where bitmap + depot + its own cache
 *      hold fewer than its floor + 1 (lab_take_count drains a magazine
 *      otherwise); or where the drain found depot_pages empty.
 *   P8 the stacks: a pop's CAS takes a magazine that is on that stack and
 *      makes the top one that is on it too; a push pushes a magazine that
 *      its caller holds (ghost mloc[]).
 *   A legitimate free is never refused: release_state finds HEAD|order.
 *
 * Mutants kept in the model (spin -DMUTANT_x=1; `scripts/spin.sh
 * --mutants` runs each in the configuration named and fails unless pan
 * reports an error; the property that caught each in the last run):
 *   NO_BUSY            lab_cache_enter ignores busy: the handler enters
 *                      its thread's cache (-DSLEEPER=0: P2)
 *   EXIT_NO_BUSY       the exit flush without slot-off and busy (-DSLEEPER=0: P2)
 *   GATE_NO_FLOOR      lab_cache_gate without the reserve floor (-DSLEEPER=0: P4)
 *   CACHE_WHILE_WAIT   a free caches its page while a sleeper waits
 *                      (-DHANDLER=0: P6)
 *   WAKE_ORDER         lab_return_count loads waiters before adding to
 *                      nr_free (-DHANDLER=0: lost wake-up, invalid end state)
 *   SEQ_LATE           take_or_sleep reads free_seq after its take
 *                      (-DHANDLER=0: lost wake-up, invalid end state)
 *   COUNT_FIRST        lab_store_give adds to nr_free before setting the
 *                      bits (-DSLEEPER=0: P3)
 *   DEPOT_ADD_FIRST    lab_depot_put adds to depot_pages before its push
 *                      (-DDEPOT=1 -DSLEEPER=0: P3's dmags >= dpages + dres)
 *   ABA                mag_pop's CAS compares the index, not the tag
 *                      (-DTRADE=1: P8)
 *   NO_DRAIN           lab_take_count never drains the depot
 *                      (-DDEPOT=1 -DSLEEPER=0: P7)
 *   SUMMARY_NO_RECHECK summary.c emptied() clears a hint without reading
 *                      the word again (-DSUMMARY=1: S1)
 *   SUMMARY_MARK_FIRST lab_store_set_bits sets the hint before the bit
 *                      (-DSUMMARY=1: S1)
 * The C code's tag argument is in depot.c.

 * Not modelled: weak memory (Spin interleaves sequentially consistent
 * steps; the C code's orderings are argued in its comments), the cache
 * budget (cache_granted, c->grant, grant_more: every cache may hold CAP
 * pages; lab_cache_make_room is entered at CAP), alloc_block's drain
 * loop (blocks and the depot are not combined: BLOCKS runs without
 * DEPOT), the depot's pages in bulk calls, growth
 * (lab_pool_grow), wait timeouts, watches (eventfd), the debug pool's CAS on
 * the state byte, bulk calls, slot assignment (lab_cache_claim: every
 * thread starts with a slot), nested handlers, spurious weak-CAS failure
 * (a retry with the same value), the claim cursor (the search picks any
 * word with a set bit, which covers every cursor value and search order).
 * The multi-word rollback in claim_words is in the model but cannot happen
 * in it: the order-2 block is the whole pool, so the count gate leaves no
 * concurrent claimer (a pool bigger than one block would be needed).
 */

/* ---- configuration (spin -DNAME=value) ---------------------------------- */
#ifndef THREADS
#define THREADS 3           /* 1..3: T0, T1, T2 */
#endif
#ifndef HANDLER
#define HANDLER 1           /* a signal handler on T0 */
#endif
#ifndef SLEEPER
#define SLEEPER 1           /* T2 allocates with LAB_GFP_KERNEL and may sleep */
#endif
#ifndef BLOCKS
#define BLOCKS 0            /* T2 also allocates an order-1 or order-2 block */
#endif
#ifndef FLUSH_ON_FULL
#define FLUSH_ON_FULL 0     /* T1 holds two pages of its own: its 3rd push flushes */
#endif
#ifndef GFP_ALL
#define GFP_ALL 0           /* 1: every ATOMIC/NOWAIT choice left to Spin */
#endif
#ifndef DEPOT
#define DEPOT 0             /* 1: the depot of magazines (depot.c); T1 holds two
                               pages of its own (FLUSH_ON_FULL) so that its 3rd push
                               flushes into the depot, and T0 allocates once more
                               at the end, which may refill from it */
#endif
#ifndef TRADE
#define TRADE 0             /* 1: the depot alone under its callers: two threads whose
                               caches start full trade magazines (each flushes two
                               batches into the depot, lab_cache_make_room, then
                               allocates, which may refill from it), the handler on
                               T0 allocating (which drains the depot when the bitmap
                               is empty); both stacks' pops split into load and CAS,
                               the scenario where ABA can happen (see "Depot") */
#endif
#ifndef SUMMARY
#define SUMMARY 0           /* 1: the search's summary tree (summary.c) alone under
                               racing claims, frees and searches (see "SUMMARY") */
#endif
#if TRADE
#undef DEPOT
#define DEPOT 1
#undef THREADS
#define THREADS 2
#undef SLEEPER
#define SLEEPER 0
#endif
#if DEPOT
#undef FLUSH_ON_FULL
#define FLUSH_ON_FULL 1
#endif

/* Mutants (spin -DMUTANT_x=1; `scripts/spin.sh --mutants` runs each one
 * and fails unless Spin reports an error for it).  Each is the C change
 * named, made in the model step that models that C line. */
#ifndef MUTANT_NO_BUSY
#define MUTANT_NO_BUSY 0    /* cache.h lab_cache_enter ignores busy (a handler enters its thread's cache) */
#endif
#ifndef MUTANT_EXIT_NO_BUSY
#define MUTANT_EXIT_NO_BUSY 0 /* cache.c lab_thread_exit/lab_cache_thread_exit: no slot-off, no busy */
#endif
#ifndef MUTANT_GATE_NO_FLOOR
#define MUTANT_GATE_NO_FLOOR 0 /* cache.c lab_cache_gate: floor 0 for every gfp */
#endif
#ifndef MUTANT_CACHE_WHILE_WAIT
#define MUTANT_CACHE_WHILE_WAIT 0 /* cache.h lab_cache_push: no look at p->waiters */
#endif
#ifndef MUTANT_WAKE_ORDER
#define MUTANT_WAKE_ORDER 0 /* store.c lab_return_count: load waiters before the fetch_add */
#endif
#ifndef MUTANT_SEQ_LATE
#define MUTANT_SEQ_LATE 0   /* slow.c take_or_sleep: read free_seq after the take, not before */
#endif
#ifndef MUTANT_COUNT_FIRST
#define MUTANT_COUNT_FIRST 0 /* store.c lab_store_give: lab_return_count before the fetch_or */
#endif
#ifndef MUTANT_DEPOT_ADD_FIRST
#define MUTANT_DEPOT_ADD_FIRST 0 /* depot.c lab_depot_put: fetch_add depot_pages before mag_push */
#endif
#ifndef MUTANT_ABA
#define MUTANT_ABA 0        /* depot.c mag_pop: the CAS compares the index only, not the tag */
#endif
#ifndef MUTANT_NO_DRAIN
#define MUTANT_NO_DRAIN 0   /* depot.c lab_take_count: no lab_depot_drain_one, return false */
#endif
#ifndef MUTANT_SUMMARY_NO_RECHECK
#define MUTANT_SUMMARY_NO_RECHECK 0 /* summary.c emptied: clear the hint, no second look at the word */
#endif
#ifndef MUTANT_SUMMARY_MARK_FIRST
#define MUTANT_SUMMARY_MARK_FIRST 0 /* store.c lab_store_set_bits: the hint before the fetch_or */
#endif
#define NMAGS 2             /* magazines (of BATCH = 1 page each) */
#ifndef RESERVE
#define RESERVE 1           /* reserve_pages */
#endif
#ifndef CAP
#define CAP 2               /* cache capacity (cache_cap) */
#endif
#ifndef BATCH
#define BATCH 1             /* cache_batch; the model's claims take one page at a time */
#endif
#define NWORDS 2            /* words of the free bitmap */
#define WBITS 2             /* pages per word */
#define NPAGES 4
#define FULL 3              /* a word with all WBITS bits set */

#ifndef PROBE
#define PROBE 0             /* k > 0: assert that probe point k is never reached (to show it is) */
#endif
#define REACH(k) assert(PROBE != (k))

#if BATCH != 1
#error "the model's refill claims one page: BATCH must be 1"
#endif

/* gfp */
#define ATOMIC 0
#define NOWAIT 1
#define KERNEL 2
#define FLOOR(g) ((g) == ATOMIC -> 0 : RESERVE)     /* internal.h lab_floor */
/* lab_take_count after a failed CAS loop: the depot holds what the bitmap
 * lacks (old + depot >= floor + n), so drain a magazine and look again */
/* lab_my_cached(p): this thread's cache count, 0 once its slot is off
 * (the handler's slot is thread 0's: t == 0) */
#define MYCACHED (slot_off[t] -> 0 : cnt[t])
#if DEPOT && !MUTANT_NO_DRAIN
/* depot.c lab_take_count: if (old + depot + cached < floor + n ||
 * !lab_depot_drain_one(p)) return false; (n == 1; "dpages > 0" only skips
 * a depot_reserve that would fail at once) */
#define DRAIN(floor) (nr_free + dpages + MYCACHED >= (floor) + 1 && dpages > 0)
#else
#define DRAIN(floor) false
#endif
/* P7, no stranding: a take gives up (the allocation returns NULL, or
 * sleeps) only at a step where the bitmap and the depot hold no page, or
 * where the free pages the floor is judged on - the bitmap's, the depot's
 * and its own cache's - are fewer than its floor + 1.  (A give-up after
 * a drain found the depot empty is the guard of that step: D_RES.) */
#define P7(floor) assert(nr_free + dpages == 0 || nr_free + dpages + MYCACHED < (floor) + 1)

#define NONE 255            /* LAB_NIL */

/* state byte (alloc.c p->state[], internal.h LAB_PS_*) */
#define PS_FREE 0
#define PS_HEAD0 1          /* LAB_PS_HEAD | 0 */
#define PS_HEAD1 2          /* LAB_PS_HEAD | 1 */
#define PS_HEAD2 3          /* LAB_PS_HEAD | 2 */
#define PS_TAIL 4           /* LAB_PS_TAIL */

/* ghost: where a page is */
#define W_STORE 0           /* its bit is set (or being set by a give) */
#define W_CACHE 1           /* in a cache, or on its way into one */
#define W_OWN(m) (2 + (m))  /* in the hands of caller m (0..THREADS-1, HID) */
#define HID THREADS         /* the handler's caller id */
#define W_MAG (3 + THREADS) /* in a magazine: on the depot's full stack, or in
                               the hands of a call moving it */

/* ---- the pool ------------------------------------------------------------ */
byte bits[NWORDS] = FULL;   /* store.c p->bits[]: all free at init */
byte nr_free = NPAGES;      /* store.c p->nr_free */
byte state[NPAGES];         /* alloc.c p->state[] */
byte waiters;               /* slow.c p->waiters */
byte free_seq;              /* slow.c p->free_seq (the futex word) */
byte cnt[THREADS];          /* cache.h c->count, one cache per thread */
byte cpg[THREADS * CAP];    /* cache.h c->pages[] */
bool busy[THREADS];         /* cache.h c->busy */
bool slot_off[THREADS];     /* cache.c lab_my_slot == LAB_SLOT_OFF (thread exiting) */
/* depot.c: the depot */
byte mpg[NMAGS];            /* lab_mag.pages[0] (a magazine holds BATCH = 1 page) */
byte mnext[NMAGS];          /* lab_mag.next: index + 1 of the next one, 0 = bottom */
byte fulltop, fulltag;      /* p->depot_full = tag << 32 | (index + 1) */
byte emptytop, emptytag;    /* p->depot_empty */
byte dpages;                /* p->depot_pages */
#define ML_EMPTY 0          /* ghost mloc[]: on the empty stack (lab_depot_init) */
#define ML_FULL 1           /*   on the full stack */
#define ML_HAND 2           /*   popped, in the hands of a put, get or drain */
byte mloc[NMAGS];           /* ghost: where each magazine is (P8) */

/* ---- ghosts -------------------------------------------------------------- */
byte where[NPAGES];         /* W_* */
byte held[NPAGES];          /* 0, or 1 + the caller holding the page (user view) */
byte avail = NPAGES;        /* pages not allocated (store + caches + in between) */
byte promised;              /* taken from nr_free, bits not claimed yet */
byte transit;               /* taken from nr_free by a refill, not in count yet */
byte dmags;                 /* magazines on the full stack */
byte dres;                  /* of them reserved from dpages, not popped yet */
byte dtrans;                /* pages out of one count (a cache's or dpages),
                               not in the next one (dpages or nr_free) yet */
byte done;                  /* threads that have exited */
bool in_handler;            /* the handler runs: T0 stands still */
bool t0_exited;
byte mbox = NONE;           /* T0 -> T1 */
bool mbox_full;

#define POP(x) (((x) & 1) + (((x) >> 1) & 1))
#define SETBITS (POP(bits[0]) + POP(bits[1]))
#if THREADS == 1
#define CACHED (cnt[0])
#elif THREADS == 2
#define CACHED (cnt[0] + cnt[1])
#else
#define CACHED (cnt[0] + cnt[1] + cnt[2])
#endif
#define LOWBIT(x) ((((x) & 1) != 0) -> 1 : 2)
#define BITNO(m) ((m) == 1 -> 0 : 1)

/* Locals of every caller (an inline uses its caller's). */
#define LOCALS \
	byte me, t, gfp, idx, n, w, take, got, seq, i, mask, order, cached, fk, ph, ret; \
	byte m, ht, hg, nx, sk, dret, dretry, dfail; \
	bool ok, wk, sh, split

/*
 * Steps.  The C code is cut into steps at every access to memory that
 * another thread, or the signal handler, may use at that moment: nr_free,
 * bits[], waiters, free_seq, and - for thread 0, whose handler looks at
 * them - thread 0's busy flag going up or down.  Everything else a caller
 * does is private: its own variables, its own cache inside its busy window
 * (where its handler does not look, and no other thread ever does), the
 * state byte of a page it holds, the ghosts.  Private work commutes with
 * every other step, so it is glued to a neighbouring step; this loses no
 * interleaving and is what keeps the state space small.
 *
 * The code below is therefore a phase machine: one `atomic` runs private
 * phases and at most one shared phase (sh says whether it has had one),
 * then ends the step.  `split` is 1 only in thread 0 when a handler is
 * modelled: there a busy flag change counts as shared.  (Leaving a cache
 * stores its count and clears busy in one 64-bit store,
 * labyrinth__cache_leave_count: the count is private until then, so the
 * step that lowers busy carries it, as here.)  Two more
 * simplifications of the same kind:
 *  - a CAS loop on nr_free (lab_take_count, lab_store_take_upto) is one
 *    step: a failed CAS changes nothing and only reloads, so every run of
 *    the loop is one in which the successful CAS (or the failing check) is
 *    the step;
 *  - lab_store_claim for one page is one step that waits until some word has a
 *    set bit and clears the lowest set bit of one such word (Spin picks
 *    which word: every cursor and every search order is covered); a claim
 *    that never finds its promised bit shows as a process that never ends.
 */

/* ---- store.c (and depot.c's lab_take_count) ------------------------------ */

/* depot.c lab_take_count(p, n, floor, cached, &before) around store.c
 * lab_store_count_take: the CAS loop on nr_free (do { if (old < floor || old - floor < n) return false; }
 * while (!lab_cas_weak_acquire(&p->nr_free, &old, old - n))).  alloc: an
 * allocation (P4 applies) rather than a refill. */
inline TAKE_COUNT(cnt_n, floor, alloc)
{
	if
	/* fl = floor > cached + depot ? floor - cached - depot : 0;
	 * if (old < fl || old - fl < n) break; CAS nr_free old -> old - n.
	 * The loads of depot_pages, nr_free (and the cache count read at
	 * entry) are this one step, as the CAS loop is. */
	:: nr_free >= ((floor) > dpages + MYCACHED -> (floor) - dpages - MYCACHED : 0) + (cnt_n) ->
		nr_free = nr_free - (cnt_n);
		promised = promised + (cnt_n);
		if
		:: alloc ->
			avail = avail - (cnt_n);
			assert(gfp == ATOMIC || avail >= RESERVE);         /* P4 */
			if
			:: avail < RESERVE -> REACH(9)      /* ATOMIC takes the reserve */
			:: else
			fi
		:: else -> transit = transit + (cnt_n)
		fi;
		ok = 1
	:: else -> ok = 0
	fi
}

/* store.c lab_store_claim(p, 1, pages): v = lab_load_relaxed(&p->bits[w]);
 * take = lowest_bits(v, 1); lab_cas_weak_acquire(&p->bits[w], &v, v & ~take).
 * Waits (spins) until there is a bit. */
inline CLAIM_ONE(dest)
{
	(bits[0] | bits[1]) != 0;
	if
	:: bits[0] != 0 -> w = 0
	:: bits[1] != 0 -> w = 1
	fi;
	take = LOWBIT(bits[w]);
	bits[w] = bits[w] & ~take;
	idx = w * WBITS + BITNO(take);
	assert(where[idx] == W_STORE);                               /* P1 */
	where[idx] = dest;
	promised--;
	w = 0; take = 0
}

/* store.c lab_return_count(p, n), first half: lab_fetch_add_seq_cst(&p->nr_free, n).
 * kind 0: freed pages become available;
 * 2: a failed block claim gives
 * its promise back. */
inline RETURN_ADD(cnt_n, kind)
{
	nr_free = nr_free + (cnt_n);
	if
	:: kind == 0 -> avail = avail + (cnt_n)
	:: kind == 2 -> avail = avail + (cnt_n); promised = promised - (cnt_n)
	fi
}

/* Ghost part of a fetch_or of mask into word w: the pages come from `from`. */
inline to_store(from)
{
	assert((bits[w] & mask) == 0);              /* P1: never in the store twice */
	if
	:: mask & 1 -> assert(where[w * WBITS] == from); where[w * WBITS] = W_STORE
	:: else
	fi;
	if
	:: mask & 2 -> assert(where[w * WBITS + 1] == from); where[w * WBITS + 1] = W_STORE
	:: else
	fi
}

/* ---- private pieces of cache.c / alloc.c --------------------------------- */

/* cache.c lab_cache_pop_slow: idx = c->pages[n - 1]; count = n - 1 */
inline POP_TOP()
{
	avail--;
	idx = cpg[t * CAP + n - 1];
	cpg[t * CAP + n - 1] = 0;
	cnt[t] = n - 1;
	assert(where[idx] == W_CACHE);                               /* P1 */
	where[idx] = W_OWN(me)
}

/* cache.h lab_cache_push: state[idx] = FREE; c->pages[n] = idx; count = n + 1 */
inline PUSH_TOP()
{
	state[idx] = PS_FREE;
	assert(where[idx] == W_OWN(me));                             /* P1 */
	where[idx] = W_CACHE;
	cpg[t * CAP + n] = idx;
	cnt[t] = n + 1;
	avail++;
	n = 0
}

/* page.h lab_hand_out / alloc.c alloc_one: state[idx] = LAB_PS_HEAD | 0 */
inline HAND_OUT()
{
	assert(where[idx] == W_OWN(me));
	assert(held[idx] == 0);                     /* P1: not handed out twice */
	held[idx] = me + 1;
	state[idx] = PS_HEAD0
}

/* ---- the phases ---------------------------------------------------------- */


#define P_DONE     0
/* alloc.c alloc_one(p, gfp) */
#define A_FAST     1   /* alloc_one: lab_cache_pop(p, c, gfp, false) (private) */
#define A_ENTER    2   /* alloc_one_slow: lab_cache_pop(p, c, gfp, true): lab_cache_enter */
#define A_POP      3   /* lab_cache_pop_slow: n == 0: lab_cache_refill, else lab_cache_gate */
#define A_RCLAIM   4   /* lab_cache_refill: lab_store_claim, count = got */
#define A_GATE     5   /* lab_cache_gate */
#define A_LEAVE    6   /* lab_cache_leave; hand_out */
#define A_STORE    7   /* alloc_one_slow: lab_store_take: lab_take_count */
#define A_CLAIM    8   /* lab_store_take: lab_store_claim; hand_out */
#define A_GROW     9   /* slow.c take_or_grow: take() */
#define A_WAITADD 10   /* take_or_sleep: fetch_add waiters */
#define A_SEQ     11   /* take_or_sleep: seq = load free_seq */
#define A_STAKE   12   /* take_or_sleep: take() */
#define A_FUTEX   13   /* take_or_sleep: futex_wait(free_seq, seq) */
#define A_SCLAIM  14   /* take_or_sleep: take(): lab_store_claim; then hand_out */
#define A_WAITSUB 15   /* take_or_sleep: fetch_sub waiters */
#define A_SFAIL   16   /* alloc_one_slow: the store had no page: lab_alloc_slow */
/* take_or_sleep's loop: waiters++, then { seq = free_seq; take; wait } */
#if MUTANT_SEQ_LATE
#define S_AFTER_ADD  A_STAKE
#define S_FAILED     A_SEQ
#define S_AFTER_SEQ  A_FUTEX
#define S_AFTER_WAIT A_STAKE
#else
#define S_AFTER_ADD  A_SEQ
#define S_AFTER_SEQ  A_STAKE
#define S_FAILED     A_FUTEX
#define S_AFTER_WAIT A_SEQ
#endif
/* alloc.c labyrinth_free_page */
#define F_FAST    20   /* free_one: state check, lab_cache_push(p, c, idx, false) */
#define F_SLOW    21   /* free_slow: release_state; lab_cache_push(p, c, idx, true) */
#define F_PUSH    22   /* lab_cache_push: push, lab_cache_leave */
#define F_OR      23   /* lab_store_give(p, &idx, 1): fetch_or */
#define F_ADD     24   /* lab_return_count: fetch_add nr_free */
#define F_WLOAD   25   /* lab_return_count: load waiters */
#define F_WAKE    26   /* lab_wake_waiters */
/* their order: lab_store_give's fetch_or, then lab_return_count's fetch_add
 * and its load of waiters (the two mutants swap one pair) */
#define F_END (wk -> F_WAKE : P_DONE)
#if MUTANT_WAKE_ORDER
#define F_FIRST F_OR
#define F_AFTER_OR F_WLOAD
#define F_AFTER_WLOAD F_ADD
#define F_AFTER_ADD F_END
#elif MUTANT_COUNT_FIRST
#define F_FIRST F_ADD
#define F_AFTER_ADD F_OR
#define F_AFTER_OR F_WLOAD
#define F_AFTER_WLOAD F_END
#else
#define F_FIRST F_OR
#define F_AFTER_OR F_ADD
#define F_AFTER_ADD F_WLOAD
#define F_AFTER_WLOAD F_END
#endif
/* cache.c lab_cache_flush(p, c, fk), returns to phase ret */
#define L_OR      30   /* lab_store_give(p, c->pages + count - fk, fk): fetch_or per run */
#define L_ADD     31   /* lab_return_count: fetch_add nr_free */
#define L_WLOAD   32   /* lab_return_count: load waiters */
#define L_WAKE    33   /* lab_wake_waiters */
#define L_CNT     34   /* lab_cache_flush: count -= fk */
#if MUTANT_WAKE_ORDER
#define L_FIRST L_OR
#define L_AFTER_OR L_WLOAD
#define L_AFTER_WLOAD L_ADD
#define L_AFTER_ADD L_END
#elif MUTANT_COUNT_FIRST
#define L_FIRST L_ADD
#define L_AFTER_ADD L_OR
#define L_AFTER_OR L_WLOAD
#define L_AFTER_WLOAD L_END
#else
#define L_FIRST L_OR
#define L_AFTER_OR L_ADD
#define L_AFTER_ADD L_WLOAD
#define L_AFTER_WLOAD L_END
#endif
#define L_END (wk -> L_WAKE : ret)
/* cache.c lab_thread_exit / lab_cache_thread_exit */
#define X_START   40   /* my_slot = OFF; busy = 1; fk = count */
#define X_END     41   /* lab_cache_leave */
/* depot.c: the depot (DEPOT) */
#define D_POP     50   /* mag_pop(p, head): old = load(head); next = load(top's next) */
#define D_PCAS    51   /* mag_pop: CAS(head, old, (tag + 1) << 32 | next); then phase dret */
#define D_PUSH    52   /* mag_push(p, head, m): the CAS loop; then phase dret */
#define D_RES     54   /* lab_depot_drain_one: depot_reserve: CAS depot_pages >= BATCH */
#define D_GIVE    55   /* depot_unload: copy the page out; mag_push(empty) */
#define D_OR      56   /* lab_store_give: fetch_or; then lab_return_count */
#define D_ADD     57   /* lab_return_count: fetch_add nr_free; then retry the take */
#define A_DCOPY   58   /* lab_cache_refill from the depot: copy the page into the cache */
#define F_DPUT    59   /* lab_cache_make_room: count -= BATCH; lab_depot_put: mag_pop(empty) */
#define F_DFILL   60   /* lab_depot_put: no magazine: count back, flush to the bitmap;
                          else copy the page in, mag_push(full) */
#define F_DADD    61   /* lab_depot_put: fetch_add depot_pages; then phase ret */
#define M_ROOM    62   /* TRADE: lab_cache_push at the grant: enter, lab_cache_make_room */
#define M_LEAVE   63   /* TRADE: lab_cache_leave */

/* The flush's next phase; leaving it (to the wake or to ret), its locals
 * are done with. */
inline L_NEXT(x)
{
	ph = x;
	if
	:: ph == L_WAKE || ph == ret ->
		i = 0; n = 0; fk = 0; wk = 0;
		ret = (ph == L_WAKE -> ret : 0)
	:: else
	fi
}

/* Run the phases from ph until P_DONE. */
inline phases()
{
	do
	:: ph == P_DONE -> break
	:: else ->
	atomic {
	sh = 0;
	do
	:: ph == P_DONE -> break

	/* ---- alloc.c alloc_one(p, gfp): idx or NONE ---- */
	:: ph == A_FAST ->
		/* alloc_one: lab_cache_pop(p, c, gfp, false): lab_cache_enter;
		 * n = count; if (n && !lab_load_relaxed(&p->gate)) pop; leave;
		 * then state[idx] = HEAD|0.  Private: this thread's cache. */
		idx = NONE;
		if
		:: !slot_off[t] && !busy[t] && cnt[t] > 0 && RESERVE == 0 ->
			n = cnt[t]; POP_TOP(); n = 0; HAND_OUT(); ph = P_DONE
		:: else -> ph = A_ENTER
		fi
	:: ph == A_ENTER && (!sh || !split) ->
		/* alloc_one_slow: c = lab_my_cache(p); lab_cache_pop(p, c, gfp, true):
		 * lab_cache_enter (busy: LAB_NIL); n = lab_load_relaxed(&c->count) */
		if
		:: !slot_off[t] && (!busy[t] || MUTANT_NO_BUSY) -> busy[t] = 1; n = cnt[t]; ph = A_POP; sh = split
		:: else ->
			if
			:: busy[t] -> REACH(1)      /* a handler inside its owner's cache operation */
			:: else
			fi;
			ph = A_STORE
		fi
	:: ph == A_POP && !sh ->
		if
#if DEPOT
		:: n == 0 && dpages >= BATCH ->
			/* lab_cache_refill: lab_depot_get: depot_reserve: CAS depot_pages
			 * old -> old - BATCH; then depot_unload: mag_pop(full) */
			dpages = dpages - BATCH; dres++; transit = transit + BATCH;
			sk = 0; dret = A_DCOPY; ph = D_POP
		:: n == 0 && dpages < BATCH ->
#else
		:: n == 0 ->
#endif
			/* lab_cache_refill: lab_store_take_upto(p, cache_batch, c->pages):
			 * got = min(old, n); CAS nr_free old -> old - got */
			got = (nr_free > 0 -> BATCH : 0);
			nr_free = nr_free - got;
			promised = promised + got;
			transit = transit + got;
			if
			:: got > 0 -> ph = A_RCLAIM
			:: else -> idx = NONE; ph = A_LEAVE     /* count = 0; if (!n) return LAB_NIL */
			fi
		:: else -> ph = A_GATE                  /* (the gate's read is this step's) */
		fi;
		sh = (ph != A_GATE)
	:: ph == A_DCOPY ->
		/* depot_unload: pages[i] = mag->pages[i] (the magazine is ours);
		 * then mag_push(empty); lab_cache_refill: count = got */
		idx = mpg[m]; mpg[m] = 0;
		assert(where[idx] == W_MAG);                              /* P1 */
		where[idx] = W_CACHE;
		cpg[t * CAP] = idx; idx = NONE;
		cnt[t] = BATCH; transit = transit - BATCH; n = BATCH;
		REACH(14);                          /* a refill takes a whole magazine */
		sk = 1; dret = A_GATE; ph = D_PUSH
	:: ph == A_RCLAIM && !sh ->
		/* lab_cache_refill: lab_store_claim(p, got, c->pages); lab_store_relaxed(&c->count, got) */
		CLAIM_ONE(W_CACHE);
		cpg[t * CAP] = idx; idx = NONE;
		cnt[t] = got; transit = transit - got;
		n = got; got = 0;
		ph = A_GATE; sh = 1
	:: ph == A_GATE && !sh ->
		/* lab_cache_pop_slow: lab_cache_gate(p, c, gfp, 1): before =
		 * lab_load_relaxed(&p->nr_free) + count; before - floor >= n: pop */
		if
		:: nr_free + dpages + n >= (MUTANT_GATE_NO_FLOOR -> 0 : FLOOR(gfp)) + 1 ->
			POP_TOP();
			assert(gfp == ATOMIC || avail >= RESERVE)           /* P4 */
		:: else ->
			idx = NONE;                  /* return LAB_NIL */
			if
			:: gfp == NOWAIT && nr_free + n >= 1 -> REACH(6)  /* the reserve refuses NOWAIT */
			:: else
			fi
		fi;
		n = 0; ph = A_LEAVE; sh = 1
	:: ph == A_LEAVE && (!sh || !split) ->
		/* lab_cache_leave(c); hand_out(p, idx, 0, gfp) or on to the store */
		busy[t] = 0; sh = sh || split;
		if
		:: idx != NONE -> HAND_OUT(); ph = P_DONE
		:: else -> ph = A_STORE
		fi
	:: ph == A_STORE && !sh ->
		/* alloc_one_slow: lab_store_take(p, 1, lab_floor(p, gfp), &idx): lab_take_count */
		TAKE_COUNT(1, FLOOR(gfp), 1);
		if
		:: ok -> ph = A_CLAIM
		:: !ok && DRAIN(FLOOR(gfp)) -> dretry = A_STORE; dfail = A_SFAIL; ph = D_RES
		:: !ok && !DRAIN(FLOOR(gfp)) -> P7(FLOOR(gfp)); ph = A_SFAIL
		fi;
		ok = 0; sh = 1
	:: ph == A_SFAIL ->
		if
		:: gfp == KERNEL -> ph = A_GROW         /* lab_alloc_slow: take_or_grow */
		:: else -> idx = NONE; ph = P_DONE; REACH(7)   /* lab_alloc_slow: NULL, ENOMEM */
		fi
	:: (ph == A_CLAIM || ph == A_SCLAIM) && !sh ->
		/* lab_store_take / take(): lab_store_claim(p, 1, &idx); hand_out */
		CLAIM_ONE(W_OWN(me));
		HAND_OUT();
		ph = (ph == A_CLAIM -> P_DONE : A_WAITSUB); sh = 1
	:: ph == A_GROW && !sh ->
		/* slow.c take_or_grow: take(p, 0, idx) = lab_store_take(p, 1, p->reserve);
		 * then seen_total >= max_pages: false; p->wait_ms < 0: take_or_sleep */
		TAKE_COUNT(1, RESERVE, 1);
		if
		:: ok -> ph = A_CLAIM
		:: !ok && DRAIN(RESERVE) -> dretry = A_GROW; dfail = A_WAITADD; ph = D_RES
		:: !ok && !DRAIN(RESERVE) -> P7(RESERVE); ph = A_WAITADD
		fi;
		ok = 0; sh = 1
	:: ph == A_WAITADD && !sh ->
		waiters++;                          /* lab_fetch_add_seq_cst(&p->waiters, 1); lab_fence_seq_cst() */
		ph = S_AFTER_ADD; sh = 1
	:: ph == A_SEQ && !sh ->
		seq = free_seq;                     /* seq = lab_load_acquire(&p->free_seq) */
		ph = S_AFTER_SEQ; sh = 1
	:: ph == A_STAKE && !sh ->
		TAKE_COUNT(1, RESERVE, 1);          /* take(p, order, idx) */
		if
		:: ok -> ph = A_SCLAIM
		:: !ok && DRAIN(RESERVE) -> dretry = A_STAKE; dfail = S_FAILED; ph = D_RES
		:: !ok && !DRAIN(RESERVE) -> P7(RESERVE); ph = S_FAILED
		fi;
		ok = 0; sh = 1
	:: ph == A_FUTEX && !sh ->
		(free_seq != seq);                  /* lab_os_futex_wait(&p->free_seq, seq, -1): sleeps until woken */
		REACH(2);                           /* a KERNEL caller slept and was woken */
		seq = 0; ph = S_AFTER_WAIT; sh = 1
	:: ph == A_WAITSUB && !sh ->
		waiters--;                          /* lab_fetch_sub_seq_cst(&p->waiters, 1) */
		ph = P_DONE; sh = 1

	/* ---- alloc.c labyrinth_free_page(lab, page idx), by its holder ---- */
	:: ph == F_FAST && !sh ->
		assert(held[idx] == me + 1); held[idx] = 0;
		/* free_one: slot >= 0 && state[idx] == HEAD|0 && lab_cache_push(p, c, idx, false):
		 * lab_load_relaxed(&p->waiters) (the shared read); lab_cache_enter;
		 * n = count; full: leave, refuse; push; lab_cache_leave */
		if
		:: !slot_off[t] && state[idx] == PS_HEAD0 ->
			if
			:: (waiters == 0 || MUTANT_CACHE_WHILE_WAIT) && !busy[t] && cnt[t] < CAP ->
				assert(waiters == 0);       /* P6: a free that sees a sleeper never caches its page */
				n = cnt[t]; PUSH_TOP(); idx = 0; ph = P_DONE
			:: else ->
				if
				:: waiters > 0 -> REACH(8)  /* a free while a KERNEL caller sleeps */
				:: else
				fi;
				ph = F_SLOW
			fi;
			sh = 1
		:: else -> ph = F_SLOW
		fi
	:: ph == F_SLOW && !sh ->
		/* free_slow: release_state: st = state[idx] (HEAD|0); state[idx] = FREE */
		assert(state[idx] == PS_HEAD0);     /* a legitimate free is never refused */
		state[idx] = PS_FREE;
		/* lab_cache_push(p, c, idx, true): lab_load_relaxed(&p->waiters) (the
		 * shared read; the handler never writes waiters, so thread 0's busy
		 * going up may share this step); lab_cache_enter; n = count;
		 * full: lab_cache_flush(p, c, cache_batch) */
		if
		:: !slot_off[t] && (waiters == 0 || MUTANT_CACHE_WHILE_WAIT) && (!busy[t] || MUTANT_NO_BUSY) ->
			busy[t] = 1;
			if
#if DEPOT
			:: cnt[t] == CAP -> ret = F_PUSH; ph = F_DPUT   /* lab_cache_make_room: into the depot */
#else
			:: cnt[t] == CAP -> fk = BATCH; ret = F_PUSH; ph = L_CNT; REACH(4)   /* flush of a full cache */
#endif
			:: else -> ph = F_PUSH
			fi
		:: else -> ph = F_FIRST             /* lab_store_give(p, &idx, 1) */
		fi;
		sh = 1
	:: ph == F_PUSH && (!sh || !split) ->
		/* lab_cache_push: state = FREE; pages[n] = idx; count = n + 1; lab_cache_leave */
		n = cnt[t]; PUSH_TOP(); busy[t] = 0; idx = 0;
		ph = P_DONE; sh = sh || split
	:: ph == F_OR && !sh ->
		/* lab_store_give(p, &idx, 1): lab_store_set_bits, a seq_cst
		 * fetch_or of bits[w] (its summary hint is the SUMMARY part's) */
		w = idx / WBITS; mask = 1 << (idx % WBITS);
		to_store(W_OWN(me));
		bits[w] = bits[w] | mask;
		w = 0; mask = 0; idx = 0;
		ph = F_AFTER_OR; wk = (ph == F_WAKE || ph == P_DONE -> 0 : wk); sh = 1
	:: ph == F_ADD && !sh ->
		RETURN_ADD(1, 0);                   /* lab_return_count: lab_fetch_add_seq_cst(&p->nr_free, n) */
		ph = F_AFTER_ADD; wk = (ph == F_WAKE || ph == P_DONE -> 0 : wk); sh = 1
	:: ph == F_WLOAD && !sh ->
		wk = (waiters > 0);                 /* lab_return_count: lab_load_seq_cst(&p->waiters) */
		ph = F_AFTER_WLOAD; wk = (ph == F_WAKE || ph == P_DONE -> 0 : wk); sh = 1
	:: ph == F_WAKE && !sh ->
		REACH(3);                           /* a free to the store wakes a sleeper */
		free_seq++;                         /* watch.c lab_wake_waiters: fetch_add free_seq; futex_wake */
		ph = P_DONE; sh = 1

	/* ---- cache.c lab_cache_flush(p, c, fk, wake), busy held; then phase
	 * ret.  wake is false only for alloc_block's flush (ret == P_DONE). ---- */
	:: ph == L_CNT && (!sh || !split) ->
		/* flushed += n; lab_store_relaxed(&c->count, count - n);
		 * lab_signal_fence(): out of the cache's count before the store's
		 * (thread 0's count is read by its handler: lab_my_cached) */
		n = cnt[t]; cnt[t] = n - fk; dtrans = dtrans + fk;
		i = n - fk;                         /* the top fk pages: c->pages + count - n */
		ph = L_FIRST; sh = sh || split
	:: ph == L_OR && !sh ->
		/* lab_store_give(p, c->pages + count - n, n, wake):
		 * lab_store_set_bits (a seq_cst fetch_or of bits[w]) for the run of pages
		 * from i on in one word */
		w = cpg[t * CAP + i] / WBITS; mask = 0;
		do
		:: i < n && cpg[t * CAP + i] / WBITS == w ->
			mask = mask | (1 << (cpg[t * CAP + i] % WBITS));
			cpg[t * CAP + i] = 0; i++   /* (tidy: unused slots zero) */
		:: else -> break
		od;
		to_store(W_CACHE);
		bits[w] = bits[w] | mask;
		w = 0; mask = 0;
		if
		:: i < n -> ph = L_OR
		:: else -> L_NEXT(L_AFTER_OR)
		fi;
		sh = 1
	:: ph == L_ADD && !sh ->
		/* lab_return_count: lab_fetch_add_seq_cst(&p->nr_free, n) */
		nr_free = nr_free + fk; dtrans = dtrans - fk;
		L_NEXT(L_AFTER_ADD); sh = 1
	:: ph == L_WLOAD && !sh ->
		/* lab_return_count: lab_load_seq_cst(&p->waiters) && wake */
		wk = (waiters > 0 && ret != P_DONE);
		L_NEXT(L_AFTER_WLOAD); sh = 1

	:: ph == L_WAKE && !sh ->
		REACH(5);                           /* a flush wakes a sleeper */
		free_seq++;                         /* watch.c lab_wake_waiters: fetch_add free_seq; futex_wake */
		ph = ret; ret = 0; sh = 1

	/* ---- depot.c: the depot's stacks (sk 0: full, 1: empty) ---- */
	:: ph == D_POP && !sh ->
		/* mag_pop: old = lab_load_acquire(head); if (!top) return LAB_NIL;
		 * next = lab_load_relaxed(&mag_at(p, top - 1)->next).  The two
		 * loads are one step: a magazine's next changes only while it is
		 * off the stacks, so if the head is unchanged at the CAS, the
		 * next read is the current one; if not, the CAS fails anyway. */
		ht = (sk == 0 -> fulltop : emptytop);
		hg = (sk == 0 -> fulltag : emptytag);
		if
		:: ht == 0 ->
			/* only the empty stack may run dry: a reservation from
			 * depot_pages always finds its magazine (depot_unload's
			 * retry loop never spins on an empty stack) */
			assert(sk == 1);
			m = NONE; ph = dret; ht = 0; hg = 0
		:: ht != 0 && (sk == 0 || TRADE) -> nx = mnext[ht - 1]; ph = D_PCAS
		:: ht != 0 && sk == 1 && !TRADE ->
			/* The empty stack's pop is the same code: its load and
			 * CAS are one step here except in TRADE (which checks
			 * ABA on both stacks: with four pages only the empty
			 * stack can see pop A, pop B, push A inside one pop), to
			 * keep the state space within CI's bounds. */
			assert(mloc[ht - 1] == ML_EMPTY);                 /* P8 */
			assert(mnext[ht - 1] == 0 || mloc[mnext[ht - 1] - 1] == ML_EMPTY);
			mloc[ht - 1] = ML_HAND;
			emptytop = mnext[ht - 1]; emptytag++;
			m = ht - 1; ph = dret; ht = 0; hg = 0
		fi;
		sh = 1
	:: ph == D_PCAS && !sh ->
		/* lab_cas_weak_acquire(head, &old, (tag + 1) << 32 | next) */
		if
		:: sk == 0 && fulltop == ht && (fulltag == hg || MUTANT_ABA) ->
			/* P8: the popped magazine was on this stack, and so is
			 * the one that becomes its top */
			assert(mloc[ht - 1] == ML_FULL && (nx == 0 || mloc[nx - 1] == ML_FULL));
			mloc[ht - 1] = ML_HAND;
			fulltop = nx; fulltag = hg + 1;
			m = ht - 1; dmags--; dres--;
			assert(where[mpg[m]] == W_MAG);                   /* P1 */
			ph = dret
		:: sk == 1 && emptytop == ht && (emptytag == hg || MUTANT_ABA) ->
			assert(mloc[ht - 1] == ML_EMPTY && (nx == 0 || mloc[nx - 1] == ML_EMPTY)); /* P8 */
			mloc[ht - 1] = ML_HAND;
			emptytop = nx; emptytag = hg + 1;
			m = ht - 1; ph = dret
		:: else ->
			REACH(15);                  /* another pop or push won: retry */
			if
			:: (sk == 0 && fulltop == ht) || (sk == 1 && emptytop == ht) ->
				REACH(18)           /* the same top again: only the tag saw it (ABA) */
			:: else
			fi;
			ph = D_POP
		fi;
		ht = 0; hg = 0; nx = 0; sh = 1
	:: ph == D_PUSH && !sh ->
		/* mag_push: do { old = load(head); m->next = old; } while
		 * (!lab_cas_weak_release(head, &old, (tag + 1) << 32 | m + 1)).
		 * One step, as the CAS loops on nr_free are: a failed CAS only
		 * reloads, and the next it wrote into m (ours) is read only by a
		 * pop that loaded m as the head before, whose CAS then fails. */
		assert(mloc[m] == ML_HAND);                               /* P8 */
		if
		:: sk == 0 -> mnext[m] = fulltop; fulltop = m + 1; fulltag++; dmags++; mloc[m] = ML_FULL
		:: else -> mnext[m] = emptytop; emptytop = m + 1; emptytag++; mloc[m] = ML_EMPTY
		fi;
		ph = dret; m = 0; sh = 1
	:: ph == D_RES && !sh ->
		/* lab_depot_drain_one: depot_reserve: CAS depot_pages old -> old - BATCH
		 * if old >= BATCH, else false (and the take fails) */
		if
		:: dpages >= BATCH ->
			dpages = dpages - BATCH; dres++; dtrans = dtrans + BATCH;
			sk = 0; dret = D_GIVE; ph = D_POP
		:: else -> ph = dfail; dretry = 0; dfail = 0
		fi;
		sh = 1
	:: ph == D_GIVE ->
		/* depot_unload: the page out of the magazine; mag_push(empty) */
		idx = mpg[m]; mpg[m] = 0;
		sk = 1; dret = D_OR; ph = D_PUSH
	:: ph == D_OR && !sh ->
		/* lab_store_give(p, pages, BATCH, false): lab_fetch_or_release */
		w = idx / WBITS; mask = 1 << (idx % WBITS);
		to_store(W_MAG);
		bits[w] = bits[w] | mask;
		w = 0; mask = 0; idx = 0;
		REACH(16);                          /* an allocation drains the depot */
		ph = D_ADD; sh = 1
	:: ph == D_ADD && !sh ->
		/* lab_return_count(p, BATCH, false): fetch_add nr_free (no wake) */
		nr_free = nr_free + BATCH; dtrans = dtrans - BATCH;
		ph = dretry; dretry = 0; dfail = 0; sh = 1
	:: ph == F_DPUT ->
		/* lab_cache_make_room: c->count -= BATCH (busy held: private);
		 * lab_depot_put: mag_pop(empty) */
		n = cnt[t]; cnt[t] = n - BATCH; dtrans = dtrans + BATCH;
		sk = 1; dret = F_DFILL; ph = D_POP
	:: ph == F_DFILL ->
		if
		:: m == NONE ->
			/* no empty magazine: count back, lab_cache_flush to the bitmap */
			cnt[t] = n; dtrans = dtrans - BATCH; n = 0;
			fk = BATCH; ph = L_CNT; REACH(4)    /* then phase ret */
		:: else ->
			/* mag->pages[i] = pages[count - BATCH + i]; mag_push(full) */
			mpg[m] = cpg[t * CAP + n - BATCH]; cpg[t * CAP + n - BATCH] = 0; n = 0;
			assert(where[mpg[m]] == W_CACHE);                 /* P1 */
			where[mpg[m]] = W_MAG;
#if MUTANT_DEPOT_ADD_FIRST
			dpages = dpages + BATCH; dtrans = dtrans - BATCH;   /* (the mutant: the add first) */
#endif
			sk = 0; dret = F_DADD; ph = D_PUSH
		fi
	:: ph == F_DADD && !sh ->
		/* lab_fetch_add_release(&p->depot_pages, BATCH); return true */
#if !MUTANT_DEPOT_ADD_FIRST
		dpages = dpages + BATCH; dtrans = dtrans - BATCH;
#endif
		REACH(17);                          /* a flush leaves a magazine in the depot */
		ph = ret; ret = 0; sh = 1

	/* ---- TRADE: cache.h lab_cache_push finding the cache at its grant:
	 * lab_cache_enter; lab_cache_make_room (the freed page itself, which
	 * plays no part in the exchange, is left out); lab_cache_leave ---- */
	:: ph == M_ROOM && (!sh || !split) ->
		busy[t] = 1;                        /* lab_cache_enter(c) */
		/* lab_cache_make_room: count >= cache_batch && !waiters: the depot */
		ret = M_LEAVE;
		if
		:: cnt[t] >= BATCH && waiters == 0 -> ph = F_DPUT
		:: else -> fk = BATCH; ph = L_CNT   /* lab_cache_flush(p, c, cache_batch, true) */
		fi;
		sh = sh || split
	:: ph == M_LEAVE && (!sh || !split) ->
		busy[t] = 0;                        /* lab_cache_leave(c) */
		ph = P_DONE; sh = sh || split

	/* ---- cache.c lab_thread_exit + lab_cache_thread_exit ---- */
	:: ph == X_START && (!sh || !split) ->
#if !MUTANT_EXIT_NO_BUSY
		slot_off[t] = 1;                    /* lab_my_slot = LAB_SLOT_OFF; signal fence */
		busy[t] = 1;                        /* lab_store_relaxed(&c->busy, 1u); signal fence */
#endif
		fk = cnt[t];                        /* lab_cache_flush(p, c, lab_load_relaxed(&c->count)) */
		if
		:: fk > 0 -> ret = X_END; ph = L_CNT
		:: else -> ph = X_END
		fi;
		sh = sh || split
	:: ph == X_END && (!sh || !split) ->
		busy[t] = 0;                        /* lab_cache_leave(c) */
		done++;                             /* (the thread is gone) */
		t0_exited = t0_exited || me == 0;
		ph = P_DONE; sh = 1

	:: else -> break                            /* the next phase needs a step of its own */
	od
	}
	od
}

inline alloc_one()
{
	ph = A_FAST; phases()
}

inline free_page()
{
	ph = F_FAST; phases()
}

inline thread_exit()
{
	ph = X_START; phases()
}

/* ---- buddy.c and alloc.c: blocks (BLOCKS) -------------------------------- */

/* store.c lab_return_count, second half, for the block code */
#define WAITERS_LOAD() wk = (waiters > 0)
inline WAKE()
{
	if
	:: wk -> atomic { free_seq++; wk = 0 }  /* watch.c lab_wake_waiters */
	:: else
	fi
}

/* Ghost: the pages of word w go from `from` to `into`. */
inline word_pages(from, into)
{
	assert(where[w * WBITS] == from && where[w * WBITS + 1] == from);   /* P1 */
	where[w * WBITS] = into; where[w * WBITS + 1] = into
}

/* buddy.c claim_in_word(p, 1, words): while (w--) { v = load(bits[w]);
 * while (whole_groups(v, 1)) CAS(bits[w], v, v & ~(group << bit)) }.
 * Here a group is a whole word; the load and the CAS loop on one word are
 * one step (a failed CAS only reloads). */
inline claim_in_word()
{
	idx = NONE;
	w = NWORDS;
	do
	:: w == 0 -> break
	:: else ->
		atomic {
			w--;
			if
			:: bits[w] == FULL ->
				bits[w] = 0;
				word_pages(W_STORE, W_OWN(me));
				promised = promised - WBITS;
				idx = w * WBITS
			:: else
			fi
		}
		if
		:: idx != NONE -> break             /* return w * 64 + bit */
		:: else
		fi
	od;
	w = 0
}

/* buddy.c claim_word_run(p, 2, words): both words all-ones (two loads),
 * then claim_words(p, 0, 2): CAS each word from ~0 to 0 in order; on a
 * word that is not ~0 any more, undo: fetch_or ~0 into the claimed ones. */
inline claim_word_run()
{
	idx = NONE;
	if
	:: bits[0] == FULL ->                       /* lab_load_relaxed(&p->bits[w + i]) == ~0ull */
		if
		:: bits[1] == FULL ->
			ok = 1;
			i = 0;
			do
			:: i == NWORDS -> break
			:: else ->
				atomic {            /* lab_cas_weak_acquire(&p->bits[w + i], &v, 0) */
					w = i;
					if
					:: bits[w] == FULL ->
						bits[w] = 0;
						word_pages(W_STORE, W_OWN(me));
						promised = promised - WBITS;
						i++
					:: else -> ok = 0   /* v != ~0ull: goto undo */
					fi;
					w = 0
				}
				if
				:: !ok -> break
				:: else
				fi
			od;
			if
			:: ok -> idx = 0            /* return w * 64 */
			:: else ->                  /* undo: while (i--) lab_fetch_or_release(&p->bits[w + i], ~0ull) */
				if
				:: i > 0 -> REACH(11)       /* a multi-word claim rolls back */
				:: else
				fi;
				do
				:: i == 0 -> break
				:: else ->
					atomic {
						i--; w = i; mask = FULL;
						to_store(W_OWN(me));
						bits[w] = FULL;
						promised = promised + WBITS;
						mask = 0; w = 0
					}
				od
			fi;
			i = 0; ok = 0
		:: else
		fi
	:: else
	fi
}

/* buddy.c lab_block_take(p, order, floor): idx or NONE */
inline block_take(floor)
{
	n = 1 << order;
	atomic { TAKE_COUNT(n, floor, 1) }          /* lab_take_count(p, n, floor, &before) */
	if
	:: ok ->
		ok = 0;
		if
		:: order == 1 -> claim_in_word()
		:: else -> claim_word_run()
		fi;
		if
		:: idx == NONE ->                   /* lab_return_count(p, n); return LAB_NIL */
			atomic { RETURN_ADD(n, 2) }
			atomic { WAITERS_LOAD() }
			WAKE()
		:: else
		fi
	:: else -> idx = NONE
	fi;
	n = 0; ok = 0
}

/* alloc.c alloc_block(p, gfp, order) */
inline alloc_block()
{
	block_take(FLOOR(gfp));
	if
	:: idx == NONE && !slot_off[t] ->
		atomic {                            /* lab_cache_enter(c); cached = count */
			if
			:: !busy[t] -> busy[t] = 1; ok = 1; cached = cnt[t]
			:: else -> ok = 0
			fi
		}
		if
		:: ok ->
			fk = cached;
			if
			:: fk > 0 -> ret = P_DONE; ph = L_CNT; phases()   /* lab_cache_flush(p, c, cached, false) */
			:: else
			fi;
			busy[t] = 0;                /* lab_cache_leave(c) */
			if
			:: cached > 0 -> REACH(12); block_take(FLOOR(gfp))   /* the own cache merged, search again */
			:: else
			fi;
			cached = 0; ok = 0
		:: else
		fi
	:: else
	fi;
	if
	:: idx != NONE ->                           /* hand_out(p, idx, order, gfp) */
		atomic {
			i = 0;
			do
			:: i < (1 << order) ->
				assert(where[idx + i] == W_OWN(me) && held[idx + i] == 0);  /* P1 */
				held[idx + i] = me + 1;
				state[idx + i] = PS_TAIL; i++
			:: else -> break
			od;
			i = 0;
			state[idx] = (order == 1 -> PS_HEAD1 : PS_HEAD2);
			if
			:: order == 2 -> REACH(13)  /* the whole pool as one block */
			:: else
			fi
		}
	:: else                                     /* lab_alloc_slow: NULL for ATOMIC/NOWAIT */
	fi
}

/* alloc.c free_slow(p, addr, order > 0): release_state; lab_store_give_range */
inline free_block()
{
	atomic {                                    /* release_state(p, idx, order) */
		assert(state[idx] == (order == 1 -> PS_HEAD1 : PS_HEAD2));
		i = 0;
		do
		:: i < (1 << order) ->
			assert(held[idx + i] == me + 1); held[idx + i] = 0;
			state[idx + i] = PS_FREE; i++
		:: else -> break
		od;
		i = 0;
		w = idx / WBITS
	}
	do                                          /* lab_store_give_range: one fetch_or per word */
	:: w * WBITS >= idx + (1 << order) -> break
	:: else ->
		atomic {
			mask = FULL;
			to_store(W_OWN(me));
			bits[w] = FULL;
			mask = 0; w++
		}
	od;
	w = 0;
	atomic { RETURN_ADD(1 << order, 0) }        /* lab_return_count(p, n) */
	atomic { WAITERS_LOAD() }
	WAKE()
}

/* ---- the callers --------------------------------------------------------- */

/* GFP_ALL: Spin picks ATOMIC or NOWAIT for each allocation; else each
 * allocation has the fixed gfp given (x NOWAIT, y ATOMIC, u NOWAIT, the
 * handler's ATOMIC, T2's block NOWAIT or ATOMIC by order... see below). */
#if GFP_ALL
#define GFP(g) if :: gfp = ATOMIC :: gfp = NOWAIT fi
#else
#define GFP(g) gfp = g
#endif

#if TRADE
/* TRADE: T0 and T1 start with full caches (pages 0, 1 and 2, 3; the
 * bitmap empty).  Each leaves two batches in the depot (two frees finding
 * the cache at its grant: lab_cache_make_room), then allocates one page
 * (its refill may take the other thread's magazine) and frees it, and
 * exits.  The handler on T0 allocates: with T0 busy and the bitmap empty,
 * it drains a magazine, inside T0's exchange. */
#define TRADER(id) \
	LOCALS; \
	byte k; \
	atomic { me = id; t = id; split = (id == 0 && HANDLER) } \
	do \
	:: k < 2 -> ph = M_ROOM; phases(); k++ \
	:: else -> break \
	od; \
	k = 0; \
	GFP(ATOMIC); \
	alloc_one(); \
	if \
	:: idx != NONE -> free_page() \
	:: else -> idx = 0 \
	fi; \
	gfp = 0; \
	thread_exit()

proctype thread0() provided (!in_handler)
{
	TRADER(0)
}

proctype thread1()
{
	TRADER(1)
}
#else
proctype thread0() provided (!in_handler)
{
	LOCALS;
	byte x, y;

	atomic { me = 0; t = 0; split = HANDLER; GFP(NOWAIT) }
	alloc_one(); x = idx;
	GFP(ATOMIC);
	alloc_one(); y = idx;
#if THREADS >= 2
	atomic {                                    /* hand y to T1 (any channel with happens-before) */
		gfp = 0;
		if
		:: y != NONE -> assert(held[y] == 1); held[y] = 2; where[y] = W_OWN(1)
		:: else
		fi;
		mbox = y; mbox_full = 1; y = 0
	}
#else
	if
	:: y != NONE -> idx = y; y = 0; free_page()
	:: else -> y = 0
	fi;
#endif
	if
	:: x != NONE -> idx = x; x = 0; free_page()
	:: else -> x = 0
	fi;
#if DEPOT
	/* once more: the refill may take a magazine T1 left in the depot,
	 * with the handler free to interrupt the exchange */
	GFP(ATOMIC);
	alloc_one();
	if
	:: idx != NONE -> free_page()
	:: else -> idx = 0
	fi;
#endif
	thread_exit()
}

#if THREADS >= 2
proctype thread1()
{
	LOCALS;
	byte u, u2, mb;

	atomic { me = 1; t = 1; GFP(NOWAIT) }
	alloc_one(); u = idx;
#if FLUSH_ON_FULL
	alloc_one(); u2 = idx;
#else
	u2 = NONE;
#endif
	atomic { mbox_full -> gfp = 0; mb = mbox; mbox = NONE; mbox_full = 0 }
	if
	:: mb != NONE -> REACH(10); idx = mb; mb = 0; free_page()  /* a page T0 allocated */
	:: else -> mb = 0
	fi;
	if
	:: u != NONE -> idx = u; u = 0; free_page()
	:: else -> u = 0
	fi;
	if
	:: u2 != NONE -> idx = u2; u2 = 0; free_page()
	:: else -> u2 = 0
	fi;
	thread_exit()
}
#endif
#endif /* TRADE */

#if THREADS >= 3
proctype thread2()
{
	LOCALS;
	byte k;

	atomic { me = 2; t = 2 }
#if SLEEPER
	gfp = KERNEL;
	alloc_one(); k = idx;
	assert(k != NONE);                          /* KERNEL with wait_ms < 0 never fails */
	idx = k; k = 0; free_page();
#endif
#if BLOCKS
	atomic {
		if :: gfp = ATOMIC :: gfp = NOWAIT fi;
		if
		:: order = 1
		:: order = 2
		fi
	}
	alloc_block();
	if
	:: idx != NONE -> free_block()
	:: else
	fi;
	idx = 0; order = 0;
#endif
	gfp = 0;
	thread_exit()
}
#endif

#if HANDLER
/* A signal handler on T0: may start whenever T0 is alive, and T0 stands
 * still until it returns.  It uses T0's cache (lab_my_slot is T0's TLS). */
proctype handler()
{
	LOCALS;

end_idle:                                           /* the signal may never come */
	atomic { !t0_exited && !in_handler -> in_handler = 1; me = HID; t = 0; GFP(ATOMIC) }
	alloc_one();
	if
	:: idx != NONE -> free_page()
	:: else -> idx = 0
	fi;
	in_handler = 0
}
#endif

#if SUMMARY
/* ---- SUMMARY: store.c's search over summary.c's hint tree ----------------
 *
 * The summary of which bitmap words hold free pages (summary.c) under
 * claims and frees that race with searches; the rest of the pool is left
 * out (no caches, no depot, no handler: the summary is written only by
 * store.c's claims and gives, and buddy.c's, which do the same steps).
 * The tree here has fanout 2 instead of 64, and two levels above the
 * bitmap, so that both of summary.c's loops go up more than one level:
 *
 *   sm[0..3]  the bitmap: 4 words of 2 pages (pages 0..7)
 *   sm[4..5]  level 1: bit j of sm[4 + k] is the hint of bitmap word 2k + j
 *   sm[6]     level 2 (the top): bit j is the hint of sm[4 + j]
 *
 * Callers: the pool starts with pages 0 and 1 (word 0) held by T0 and
 * T1, page 6 (word 3) free or not (Spin's choice: with two pages for two
 * threads, a hint being cleared can hide the only free page, and the
 * linear pass runs), the rest held for ever.  Each thread frees its
 * page (lab_store_give: fetch_or, mark(), then nr_free), allocates one
 * (count take, then lab_store_claim from a cursor Spin picks: summary
 * passes, a linear pass when they come back short), frees it, allocates
 * again and frees.  Every shared access is its own step.
 *
 * Properties:
 *   S1 the summary invariant (S) of summary.c - every nonzero word of a
 *      level has its hint set in the level above - in every state where
 *      no thread is inside mark() after its fetch_or on the bitmap or
 *      inside emptied() after its clear (monitor; inop[]).
 *   S2 no miss: a summary pass from word 0 that comes back with nothing,
 *      by a claimer whose pages the count promised, only happens when the
 *      other thread was inside an operation when the pass started or wrote
 *      the bitmap or a hint during it (dirty[]).
 *   S3 termination and no page lost: both threads end (P5's invalid end
 *      states); then the bitmap holds the free count's pages, and (S) holds.
 * Mutants: SUMMARY_NO_RECHECK, emptied() clears a hint and does not read
 * the word again (S1 fails: a free that saw the hint still set before the
 * clear is left unhinted); SUMMARY_MARK_FIRST, a give sets the hint before
 * the bit (S1 fails: a clearer between the two reads the word still zero).
 */
#define S_TOP 2
#define SB(l) ((l) == 0 -> 0 : ((l) == 1 -> 4 : 6))  /* p->sum[l] */
#define SN(l) ((l) == 0 -> 4 : ((l) == 1 -> 2 : 1))  /* p->sum_n[l] */
#define SLOW(x) ((((x) & 1) != 0) -> 0 : 1)          /* __builtin_ctzll of a nonzero word */
#define HINT(l, x) ((sm[SB((l) + 1) + (x) / 2] >> ((x) % 2)) & 1)
#define S_OK(l, x) (sm[SB(l) + (x)] == 0 || HINT(l, x) == 1)
#define S_INV (S_OK(0, 0) && S_OK(0, 1) && S_OK(0, 2) && S_OK(0, 3) && S_OK(1, 0) && S_OK(1, 1))
#define S_POP(x) (((x) & 1) + (((x) >> 1) & 1))
#define S_SETBITS (S_POP(sm[0]) + S_POP(sm[1]) + S_POP(sm[2]) + S_POP(sm[3]))

byte sm[7];
byte s_free;                /* p->nr_free */
byte s_first;               /* ghost: free pages at the start */
byte s_promised;            /* ghost: taken from s_free, bits not claimed yet */
bool inop[2];               /* ghost: inside mark() after a give's fetch_or, or emptied() */
bool dirty[2];              /* ghost: the other thread was inside, or wrote sm[] */
byte s_done;

#define S_WROTE dirty[1 - me] = 1

/* summary.c mark(p, ml, mi): the hints above entry mi of level ml, while
 * they were clear (load, then fetch_or). */
inline S_MARK()
{
	do
	:: ml < S_TOP ->
		hb = 1 << (mi % 2);
		if
		:: (sm[SB(ml + 1) + mi / 2] & hb) != 0 -> break
		:: else -> atomic { sm[SB(ml + 1) + mi / 2] = sm[SB(ml + 1) + mi / 2] | hb; S_WROTE }
		fi;
		ml++;
		mi = mi / 2
	:: else -> break
	od
}

/* summary.c emptied(p, el, ei): fetch_and the hint clear, read the word
 * again, mark() it back if it is nonzero; up while the word above is
 * left zero. */
inline S_EMPTIED()
{
	do
	:: el < S_TOP ->
		hb = 1 << (ei % 2);
		atomic {
			old = sm[SB(el + 1) + ei / 2];
			sm[SB(el + 1) + ei / 2] = old & (3 - hb);
			S_WROTE;
			inop[me] = 1
		}
#if !MUTANT_SUMMARY_NO_RECHECK
		if
		:: sm[SB(el) + ei] != 0 -> ml = el; mi = ei; S_MARK(); break
		:: else
		fi;
#endif
		if
		:: (old & (3 - hb)) != 0 -> break
		:: else -> el++; ei = ei / 2
		fi
	:: else -> break
	od;
	inop[me] = 0
}

/* summary.c lab_summary_next(p, from): sw = the first hinted word >= from
 * (or NONE); stale hints met on the way down are cleared. */
inline S_NEXT()
{
	l = 0;
	i = from;
	do
	:: true ->
		m = 0;
		do
		:: l < S_TOP && i < SN(l) ->
			m = sm[SB(l + 1) + i / 2] & ((i % 2) == 0 -> 3 : 2);
			if
			:: m != 0 -> break
			:: else -> l++; i = i / 2 + 1
			fi
		:: else -> break
		od;
		if
		:: m == 0 -> sw = NONE; break
		:: else
		fi;
		i = (i / 2) * 2 + SLOW(m);
		do
		:: l > 0 ->
			v = sm[SB(l) + i];
			if
			:: v == 0 -> break
			:: else -> i = i * 2 + SLOW(v); l--
			fi
		:: else -> break
		od;
		if
		:: l == 0 -> sw = i; break
		:: else -> el = l; ei = i; S_EMPTIED(); i++
		fi
	od
}

/* store.c claim_word(p, sw, 1, ...): CAS the lowest bit away (a failed
 * CAS that finds the word empty gives up on it); a CAS that empties the
 * word calls lab_summary_emptied. */
inline S_CLAIM_WORD()
{
	atomic {
		if
		:: sm[sw] != 0 ->
			page = sw * 2 + SLOW(sm[sw]);
			sm[sw] = sm[sw] & (3 - (1 << SLOW(sm[sw])));
			s_promised--;
			got = 1;
			S_WROTE
		:: else
		fi
	}
	if
	:: got && sm[sw] == 0 -> el = 0; ei = sw; S_EMPTIED()  /* (rest == 0: one step with the CAS in C) */
	:: else
	fi
}

/* depot.c lab_store_take: the count, then store.c lab_store_claim. */
inline S_ALLOC()
{
	atomic { s_free > 0 -> s_free--; s_promised++ }
	if
	:: from = 0
	:: from = 1
	:: from = 2
	:: from = 3
	fi;
	got = 0;
	lap = 0;
	do
	:: got -> break
	:: !got && (lap < 2 || lap % 2 == 1) ->         /* a summary pass */
		S_NEXT();
		if
		:: sw == NONE ->
			assert(lap == 0 || dirty[me]);           /* S2 */
			lap++;
			from = 0;
			dirty[me] = inop[1 - me]
		:: else ->
			v = sm[sw];
			if
			:: v == 0 -> el = 0; ei = sw; S_EMPTIED(); from = sw + 1
			:: else -> S_CLAIM_WORD(); from = sw + 1
			fi
		fi
	:: !got && lap >= 2 && lap % 2 == 0 ->          /* a linear pass */
		sw = 0;
		do
		:: sw < 4 && !got ->
			if
			:: sm[sw] != 0 -> ml = 0; mi = sw; S_MARK(); S_CLAIM_WORD()
			:: else
			fi;
			sw++
		:: else -> break
		od;
		lap++;
		dirty[me] = inop[1 - me]
	od
}

/* store.c lab_store_give(p, &page, 1): fetch_or, mark(), nr_free. */
inline S_FREE()
{
#if MUTANT_SUMMARY_MARK_FIRST
	ml = 0;
	mi = page / 2;
	S_MARK();
#endif
	atomic { sm[page / 2] = sm[page / 2] | (1 << (page % 2)); S_WROTE; inop[me] = 1 }
#if !MUTANT_SUMMARY_MARK_FIRST
	ml = 0;
	mi = page / 2;
	S_MARK();
#endif
	inop[me] = 0;
	s_free++
}

proctype sthread(byte me; byte page)
{
	byte l, i, m, v, sw, el, ei, ml, mi, hb, old, from, lap;
	bool got;

	S_FREE(); S_ALLOC(); S_FREE(); S_ALLOC(); S_FREE();
	s_done++
}

active proctype smonitor()
{
end_watch:
	atomic { !inop[0] && !inop[1] && !(S_INV) -> assert(S_INV) }    /* S1 */
}

init
{
	atomic {
		if
		:: sm[3] = 1;       /* page 6 free */
			sm[5] = 2;  /* its hint at level 1 (word 3 = bit 1 of sm[5]) */
			sm[6] = 2;  /* and at level 2 (sm[5] = bit 1 of sm[6]) */
			s_free = 1
		:: s_free = 0       /* or not: two pages for two threads, so that a
		                       hint being cleared can hide the only free one */
		fi;
		s_first = s_free;
		run sthread(0, 0);
		run sthread(1, 1)
	}
	s_done == 2;
	assert(S_INV && s_promised == 0);                               /* S3 */
	assert(S_SETBITS == s_free && s_free == s_first + 2);
	assert(done == 0)   /* the rest of the pool's model is not run (and done,
	                       never read otherwise, would clash with pan's own) */
}
#else /* !SUMMARY */

/* P3, in every state. */
#define INVARIANT (SETBITS >= nr_free + promised && \
		   avail == nr_free + CACHED + transit + dpages + dtrans && \
		   dmags >= dpages + dres && \
		   nr_free <= NPAGES && avail <= NPAGES)

active proctype monitor()
{
end_watch:
	atomic { !(INVARIANT) -> assert(INVARIANT) }
}

init
{
	byte j;

	atomic {
		/* both magazines on the empty stack (lab_depot_init) */
		mnext[1] = 1; emptytop = 2; emptytag = 2;
#if TRADE
		/* both caches full, the bitmap empty */
		bits[0] = 0; bits[1] = 0; nr_free = 0;
		do
		:: j < NPAGES -> cpg[j] = j; where[j] = W_CACHE; j++
		:: else -> break
		od;
		j = 0; cnt[0] = CAP; cnt[1] = CAP;
#endif
		run thread0();
#if THREADS >= 2
		run thread1();
#endif
#if THREADS >= 3
		run thread2();
#endif
#if HANDLER
		run handler();
#endif
	}
	/* P2: everyone is gone, everything is back. */
	done == THREADS;
	atomic {
		assert(!in_handler);
		/* (pages may stay in the depot: free, in full magazines) */
		assert(nr_free + dpages == NPAGES && SETBITS + dpages == NPAGES);
		assert(CACHED == 0 && avail == NPAGES);
		assert(promised == 0 && transit == 0);
		assert(dres == 0 && dtrans == 0 && dmags == dpages);
		assert(waiters == 0);
		do
		:: j < NPAGES ->
			assert(state[j] == PS_FREE && held[j] == 0);
			assert(where[j] == W_STORE || where[j] == W_MAG);
			j++
		:: else -> break
		od
	}
}
#endif /* SUMMARY */
