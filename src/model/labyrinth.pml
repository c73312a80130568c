/* SPDX-License-Identifier: MIT */
/*
 * labyrinth.pml - a Promela model of labyrinth's lock-free core, for Spin.
 *
 *     scripts/spin.sh            (or by hand, in a scratch directory:)
 *     spin -a labyrinth.pml && cc -O2 -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m100000
 *
 * What is modelled, each step named after the C it stands for:
 *
 *   freelist.c  the shared store: a free bitmap (NWORDS words of WBITS bits,
 *               a word is a byte here) and the exact count nr_free;
 *               lab_take_count (CAS on nr_free above a floor), claim_pages
 *               (CAS on a word), lab_store_take, lab_store_take_upto,
 *               lab_store_give (fetch_or per word, then lab_return_count),
 *               lab_store_give_range, lab_return_count (fetch_add, then
 *               wake sleepers if waiters != 0).
 *   cache.h/.c  per-thread caches of capacity CAP, refilled and flushed
 *               BATCH pages at a time: lab_cache_enter/leave (the busy
 *               flag), lab_cache_pop (fast and slow forms), lab_cache_pop_slow,
 *               lab_cache_refill, lab_cache_gate (the reserve judged on
 *               nr_free + this cache), lab_cache_push, lab_cache_flush,
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
 *   wait.c      lab_alloc_slow for LAB_GFP_KERNEL: take_or_grow (no growth:
 *               max_pages == nr_pages), take_or_sleep (waiters counter,
 *               free_seq futex word, wait forever: wait_ms < 0),
 *               lab_wake_waiters.
 *
 * A signal handler is a process that may start at any moment while thread
 * 0 is alive and then runs to its end while thread 0 stands still (thread
 * 0's proctype has `provided (!in_handler)`); the other threads go on.  It
 * allocates on thread 0's cache (lab_my_slot is thread 0's) and frees.
 *
 * Threads (3 by default):
 *   T0  allocates x and y (ATOMIC or NOWAIT, chosen by Spin), hands y to T1
 *       through a mailbox, frees x, exits (cache flushed).
 *   T1  allocates u (and u2 with FLUSH_ON_FULL), receives y and frees it
 *       (a cross-thread free), frees its own, exits.
 *   T2  (SLEEPER) allocates one page with KERNEL, which may sleep, frees it;
 *       (BLOCKS) allocates an order-1 or order-2 block (ATOMIC or NOWAIT),
 *       frees it; exits.
 *   H   the signal handler on T0: allocates (ATOMIC or NOWAIT), frees.
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
 *      always there for it eventually).
 *   A legitimate free is never refused: release_state finds HEAD|order.
 *
 * Not modelled: weak memory (Spin interleaves sequentially consistent
 * steps; the C code's orderings are argued in its comments), growth
 * (lab_pool_grow), wait timeouts, watches (eventfd), the debug pool's CAS on
 * the state byte, bulk calls, slot assignment (lab_cache_claim: every
 * thread starts with a slot), nested handlers, spurious weak-CAS failure
 * (a retry with the same value), the claim cursor (the search starts at a
 * word chosen by Spin, which covers every cursor value).
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

#if BATCH != 1
#error "the model's refill claims one page: BATCH must be 1"
#endif

/* gfp */
#define ATOMIC 0
#define NOWAIT 1
#define KERNEL 2
#define FLOOR(g) ((g) == ATOMIC -> 0 : RESERVE)     /* internal.h lab_floor */

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

/* ---- the pool ------------------------------------------------------------ */
byte bits[NWORDS];          /* freelist.c p->bits[] */
byte nr_free;               /* freelist.c p->nr_free */
byte state[NPAGES];         /* alloc.c p->state[] */
byte waiters;               /* wait.c p->waiters */
byte free_seq;              /* wait.c p->free_seq (the futex word) */
byte cnt[THREADS];          /* cache.h c->count, one cache per thread */
byte cpg[THREADS * CAP];    /* cache.h c->pages[] */
bool busy[THREADS];         /* cache.h c->busy */
bool slot_off[THREADS];     /* cache.c lab_my_slot == LAB_SLOT_OFF (thread exiting) */

/* ---- ghosts -------------------------------------------------------------- */
byte where[NPAGES];         /* W_* */
byte held[NPAGES];          /* 0, or 1 + the caller holding the page (user view) */
byte avail = NPAGES;        /* pages not allocated (store + caches + in between) */
byte promised;              /* taken from nr_free, bits not claimed yet */
byte transit;               /* taken from nr_free by a refill, not in count yet */
byte flushing;              /* given back by a flush, still in its cache's count */
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
	byte me, t, gfp, idx, n, old, v, w, take, got, seq, i, mask, order, cached, fk; \
	bool ok, slow

/* ---- freelist.c ---------------------------------------------------------- */

/* freelist.c lab_take_count(p, n, floor, &before); the ghost knows whether
 * this take is an allocation (alloc: P4 applies) or a refill. */
inline take_count(cnt_n, floor, alloc)
{
	old = nr_free;                              /* lab_load_relaxed(&p->nr_free) */
	do
	:: old < floor + cnt_n -> ok = 0; break     /* old < floor || old - floor < n: false */
	:: else ->
		atomic {                            /* lab_cas_weak_acquire(&p->nr_free, &old, old - n) */
			if
			:: nr_free == old ->
				nr_free = old - cnt_n;
				promised = promised + cnt_n;
				if
				:: alloc ->
					avail = avail - cnt_n;
					assert(gfp == ATOMIC || avail >= RESERVE);   /* P4 */
				:: else -> transit = transit + cnt_n
				fi;
				ok = 1
			:: else -> old = nr_free; ok = 0   /* failed CAS reloads old */
			fi
		}
		if
		:: ok -> break
		:: else
		fi
	od;
	old = 0
}

/* freelist.c claim_pages(p, 1, pages): one promised page's bit.  dest is
 * where the page goes (W_CACHE for a refill, else W_OWN(me)). */
inline claim_one(dest)
{
	/* w = lab_load_relaxed(&p->cursor): any word */
	if
	:: w = 0
	:: w = 1
	fi;
	ok = 0;
	do
	:: v = bits[w];                             /* v = lab_load_relaxed(&p->bits[w]) */
		do
		:: v == 0 -> break                  /* while (v) */
		:: else ->
			take = LOWBIT(v);           /* lowest_bits(v, n - got) */
			atomic {                    /* lab_cas_weak_acquire(&p->bits[w], &v, v & ~take) */
				if
				:: bits[w] == v ->
					bits[w] = v & ~take;
					idx = w * WBITS + BITNO(take);
					assert(where[idx] == W_STORE);      /* P1 */
					where[idx] = dest;
					promised--;
					ok = 1
				:: else -> v = bits[w]
				fi
			}
			if
			:: ok -> break
			:: else
			fi
		od;
		if
		:: ok -> break                      /* got == n */
		:: else -> w = (w + 1) % NWORDS     /* if (++w >= words) w = 0 */
		fi
	od;
	v = 0; w = 0; take = 0
}

/* freelist.c lab_store_take(p, 1, floor, &idx): idx or NONE. */
inline store_take(floor)
{
	take_count(1, floor, 1);
	if
	:: ok -> claim_one(W_OWN(me))               /* claim_pages(p, n, pages) */
	:: else -> idx = NONE
	fi
	/* lab_took(): watches and stats, not modelled */
}

/* freelist.c lab_return_count(p, n); kind: 0 a free (the pages become
 * available), 1 a flush (they already were: still in the cache's count),
 * 2 a failed block claim giving its promise back. */
inline return_count(cnt_n, kind)
{
	atomic {                                    /* lab_fetch_add_seq_cst(&p->nr_free, n) */
		nr_free = nr_free + cnt_n;
		if
		:: kind == 0 -> avail = avail + cnt_n
		:: kind == 1 -> flushing = flushing + cnt_n
		:: kind == 2 -> avail = avail + cnt_n; promised = promised - cnt_n
		fi
	}
	if
	:: waiters > 0 ->                           /* lab_load_seq_cst(&p->waiters) */
		free_seq++                          /* wait.c lab_wake_waiters: fetch_add free_seq; futex_wake */
	:: else
	fi
}

/* Ghost part of a fetch_or of mask into word w: the pages come from `from`. */
inline to_store(from)
{
	assert((bits[w] & mask) == 0);              /* P1: a page is never in the store twice */
	if
	:: mask & 1 -> assert(where[w * WBITS] == from); where[w * WBITS] = W_STORE
	:: else
	fi;
	if
	:: mask & 2 -> assert(where[w * WBITS + 1] == from); where[w * WBITS + 1] = W_STORE
	:: else
	fi
}

/* freelist.c lab_store_give(p, &idx, 1): one freed page. */
inline store_give_one()
{
	atomic {                                    /* lab_fetch_or_release(&p->bits[w], mask) */
		w = idx / WBITS; mask = 1 << (idx % WBITS);
		to_store(W_OWN(me));
		bits[w] = bits[w] | mask;
		w = 0; mask = 0
	}
	return_count(1, 0)                          /* lab_return_count(p, n) */
}

/* freelist.c lab_store_give(p, c->pages, k) from cache.c lab_cache_flush:
 * one fetch_or per run of pages in the same word, then one count. */
inline store_give_cached(k)
{
	i = 0;
	do
	:: i < k ->
		d_step {                            /* the run's mask: local work */
			w = cpg[t * CAP + i] / WBITS; mask = 0;
			do
			:: i < k && cpg[t * CAP + i] / WBITS == w ->
				mask = mask | (1 << (cpg[t * CAP + i] % WBITS)); i++
			:: else -> break
			od
		}
		atomic {                            /* lab_fetch_or_release(&p->bits[w], mask) */
			to_store(W_CACHE);
			bits[w] = bits[w] | mask;
			w = 0; mask = 0
		}
	:: else -> break
	od;
	i = 0;
	return_count(k, 1)                          /* lab_return_count(p, n) */
}

/* ---- cache.h / cache.c --------------------------------------------------- */

/* cache.h lab_cache_enter(c) */
inline cache_enter()
{
	if
	:: busy[t] -> ok = 0                        /* lab_load_relaxed(&c->busy): set, return false */
	:: else -> busy[t] = 1; ok = 1              /* lab_store_relaxed(&c->busy, 1u); lab_signal_fence() */
	fi
}

/* cache.h lab_cache_leave(c) */
#define cache_leave() busy[t] = 0                 /* lab_signal_fence(); lab_store_relaxed(&c->busy, 0u) */

/* cache.c lab_cache_refill: lab_store_take_upto(p, cache_batch, c->pages) */
inline cache_refill()
{
	old = nr_free;                              /* lab_load_relaxed(&p->nr_free) */
	do
	:: old == 0 -> got = 0; break               /* got = min(old, n); if (!got) return 0 */
	:: else ->
		got = BATCH;
		atomic {                            /* lab_cas_weak_acquire(&p->nr_free, &old, old - got) */
			if
			:: nr_free == old ->
				nr_free = old - got;
				promised = promised + got;
				transit = transit + got;
				ok = 1
			:: else -> old = nr_free; ok = 0
			fi
		}
		if
		:: ok -> break
		:: else
		fi
	od;
	if
	:: got > 0 ->
		claim_one(W_CACHE);                 /* claim_pages(p, got, pages) */
		atomic {                            /* lab_store_relaxed(&c->count, got) */
			cpg[t * CAP] = idx; cnt[t] = got; transit = transit - got;
			idx = NONE
		}
	:: else -> cnt[t] = 0                       /* lab_store_relaxed(&c->count, 0) */
	fi;
	got = 0; old = 0; ok = 0
}

/* cache.c lab_cache_flush(p, c, k): the k coldest pages to the store. */
inline cache_flush(kk)
{
	fk = kk;
	n = cnt[t];                                 /* count = lab_load_relaxed(&c->count) */
	if
	:: fk > n -> fk = n
	:: else
	fi;
	if
	:: fk > 0 ->
		store_give_cached(fk);               /* lab_store_give(p, c->pages, n) */
		d_step {                            /* memmove(...); lab_store_relaxed(&c->count, count - n) */
			i = 0;
			do
			:: i + fk < n -> cpg[t * CAP + i] = cpg[t * CAP + i + fk]; i++
			:: else -> break
			od;
			do
			:: i < CAP -> cpg[t * CAP + i] = 0; i++   /* (tidy: unused slots zero) */
			:: else -> break
			od;
			cnt[t] = n - fk; flushing = flushing - fk; i = 0
		}
	:: else
	fi;
	n = 0; fk = 0
}

/* cache.c lab_cache_gate(p, c, gfp, 1) and the pop after it, in
 * lab_cache_pop_slow.  The gate's one shared read is nr_free; c->count
 * and c->pages are this thread's, and busy keeps its handler off them. */
inline cache_gate_pop()
{
	atomic {
		if
		:: nr_free + n >= FLOOR(gfp) + 1 ->  /* before = nr_free + count; before - floor >= n */
			avail--;
			assert(gfp == ATOMIC || avail >= RESERVE);        /* P4 */
			idx = cpg[t * CAP + n - 1];  /* return c->pages[n - 1] */
			cpg[t * CAP + n - 1] = 0;
			cnt[t] = n - 1;              /* lab_store_relaxed(&c->count, n - 1) */
			assert(where[idx] == W_CACHE);                    /* P1 */
			where[idx] = W_OWN(me)
		:: else -> idx = NONE                /* return LAB_NIL */
		fi
	}
}

/* cache.h lab_cache_pop(p, c, gfp, slow) and cache.c lab_cache_pop_slow. */
inline cache_pop()
{
	idx = NONE;
	cache_enter();                              /* if (!lab_cache_enter(c)) return LAB_NIL */
	if
	:: ok ->
		n = cnt[t];                         /* n = lab_load_relaxed(&c->count) */
		if
		:: n > 0 && RESERVE == 0 ->         /* n && !lab_load_relaxed(&p->gate): the fast pop */
			atomic {
				avail--;
				idx = cpg[t * CAP + n - 1]; cpg[t * CAP + n - 1] = 0;
				cnt[t] = n - 1;
				assert(where[idx] == W_CACHE);            /* P1 */
				where[idx] = W_OWN(me)
			}
		:: else ->
			if
			:: slow ->                  /* lab_cache_pop_slow(p, c, gfp) */
				if
				:: n == 0 ->        /* if (!n) { refill; n = count } */
					cache_refill();
					n = cnt[t]
				:: else
				fi;
				if
				:: n == 0 -> idx = NONE     /* return LAB_NIL */
				:: else -> cache_gate_pop()
				fi
			:: else                     /* slow == false: LAB_NIL */
			fi
		fi;
		n = 0;
		cache_leave()                       /* lab_cache_leave(c) */
	:: else
	fi
}

/* cache.h lab_cache_push(p, c, idx, slow) */
inline cache_push()
{
	ok = 0;
	if
	:: waiters > 0                              /* lab_load_relaxed(&p->waiters): return false */
	:: else ->
		cache_enter();                      /* !lab_cache_enter(c): return false */
		if
		:: ok ->
			n = cnt[t];                 /* n = lab_load_relaxed(&c->count) */
			if
			:: n == CAP && !slow -> ok = 0      /* refused: lab_cache_leave(c); return false */
			:: n == CAP && slow ->
				cache_flush(BATCH);         /* lab_cache_flush(p, c, p->cache_batch) */
				n = cnt[t]
			:: else
			fi;
			if
			:: ok ->
				atomic {    /* state[idx] = LAB_PS_FREE; c->pages[n] = idx; count = n + 1 */
					state[idx] = PS_FREE;
					assert(where[idx] == W_OWN(me));  /* P1 */
					where[idx] = W_CACHE;
					cpg[t * CAP + n] = idx;
					cnt[t] = n + 1;
					avail++
				}
			:: else
			fi;
			n = 0;
			cache_leave()               /* lab_cache_leave(c) */
		:: else
		fi
	fi
}

/* cache.c lab_thread_exit + lab_cache_thread_exit */
inline thread_exit()
{
	slot_off[t] = 1;                            /* lab_my_slot = LAB_SLOT_OFF; signal fence */
	busy[t] = 1;                                /* lab_store_relaxed(&c->busy, 1u); signal fence */
	cached = cnt[t];
	cache_flush(cached);                        /* lab_cache_flush(p, c, count) */
	cached = 0;
	cache_leave()                               /* lab_cache_leave(c) */
}

/* ---- alloc.c ------------------------------------------------------------- */

/* alloc.c hand_out / alloc_one's inline mark: the page is the caller's. */
inline hand_out()
{
	atomic {                                    /* lab_store_relaxed(&p->state[idx], LAB_PS_HEAD | 0) */
		assert(where[idx] == W_OWN(me));
		assert(held[idx] == 0);             /* P1: not handed out twice */
		held[idx] = me + 1;
		state[idx] = PS_HEAD0
	}
}

/* wait.c lab_alloc_slow(p, gfp, 0): KERNEL may sleep, others fail. */
inline alloc_slow()
{
	if
	:: gfp == KERNEL ->
		store_take(RESERVE);                /* take_or_grow: take(); seen_total >= max_pages */
		if
		:: idx == NONE ->                   /* p->wait_ms < 0: take_or_sleep */
			waiters++;                  /* lab_fetch_add_seq_cst(&p->waiters, 1); fence */
			do
			:: seq = free_seq;          /* seq = lab_load_acquire(&p->free_seq) */
				store_take(RESERVE);/* take(p, order, idx) */
				if
				:: idx != NONE -> break
				:: else ->
					(free_seq != seq);  /* lab_os_futex_wait(&p->free_seq, seq, -1) */
					seq = 0
				fi
			od;
			seq = 0;
			waiters--                   /* lab_fetch_sub_seq_cst(&p->waiters, 1) */
		:: else
		fi
	:: else -> idx = NONE                       /* count, report: NULL + ENOMEM */
	fi
}

/* alloc.c alloc_one(p, gfp) -> idx or NONE */
inline alloc_one()
{
	idx = NONE;
	if
	:: !slot_off[t] ->                          /* slot >= 0 && p->cache_cap */
		slow = 0; cache_pop()               /* lab_cache_pop(p, c, gfp, false) */
	:: else
	fi;
	if
	:: idx == NONE ->                           /* alloc_one_slow(p, gfp) */
		if
		:: !slot_off[t] ->                  /* c = lab_my_cache(p) */
			slow = 1; cache_pop()       /* lab_cache_pop(p, c, gfp, true) */
		:: else
		fi;
		slow = 0;
		if
		:: idx == NONE ->
			store_take(FLOOR(gfp));     /* lab_store_take(p, 1, lab_floor(p, gfp), &idx) */
			if
			:: idx == NONE -> alloc_slow()
			:: else
			fi
		:: else
		fi
	:: else
	fi;
	if
	:: idx != NONE -> hand_out()
	:: else
	fi
}

/* alloc.c labyrinth_free_page(lab, page idx): free_one, else free_slow.
 * The caller holds idx. */
inline free_page()
{
	atomic { assert(held[idx] == me + 1); held[idx] = 0 }
	ok = 0;
	if
	:: !slot_off[t] && state[idx] == PS_HEAD0 ->    /* free_one: slot >= 0 && state[idx] == HEAD|0 */
		slow = 0; cache_push()              /* lab_cache_push(p, c, idx, false) */
	:: else
	fi;
	if
	:: !ok ->                                   /* free_slow(p, addr, 0) */
		atomic {                            /* release_state: st = lab_load_relaxed(&p->state[idx]) */
			assert(state[idx] == PS_HEAD0);     /* a legitimate free is never refused */
			state[idx] = PS_FREE        /* lab_store_relaxed(&p->state[idx], LAB_PS_FREE) */
		}
		if
		:: !slot_off[t] ->                  /* c = lab_my_cache(p) */
			slow = 1; cache_push()      /* lab_cache_push(p, c, idx, true) */
		:: else
		fi;
		if
		:: !ok -> store_give_one()          /* lab_store_give(p, &idx, 1) */
		:: else
		fi
	:: else
	fi;
	slow = 0; ok = 0; idx = 0
}

/* ---- buddy.c (BLOCKS) ---------------------------------------------------- */

/* Ghost: the pages of word w go from `from` to `into`. */
inline word_pages(from, into)
{
	assert(where[w * WBITS] == from && where[w * WBITS + 1] == from);   /* P1 */
	where[w * WBITS] = into; where[w * WBITS + 1] = into
}

/* buddy.c claim_in_word(p, 1, words): from the top word down, one CAS
 * taking an aligned pair of set bits (whole_groups), here the whole word. */
inline claim_in_word()
{
	idx = NONE;
	w = NWORDS;
	do
	:: w == 0 -> break                          /* while (w--) */
	:: else ->
		w--;
		v = bits[w];                        /* v = lab_load_relaxed(&p->bits[w]) */
		do
		:: v != FULL -> break               /* (g = whole_groups(v, order)) == 0 */
		:: else ->
			atomic {                    /* lab_cas_weak_acquire(&p->bits[w], &v, v & ~(group << bit)) */
				if
				:: bits[w] == v ->
					bits[w] = 0;
					word_pages(W_STORE, W_OWN(me));
					promised = promised - WBITS;
					idx = w * WBITS
				:: else -> v = bits[w]
				fi
			}
			if
			:: idx != NONE -> break
			:: else
			fi
		od;
		if
		:: idx != NONE -> break             /* return w * 64 + bit */
		:: else
		fi
	od;
	v = 0; w = 0
}

/* buddy.c claim_word_run(p, 2, words) with claim_words(p, 0, 2): the two
 * words must each be all-ones; claimed in order, rolled back on failure. */
inline claim_word_run()
{
	idx = NONE;
	/* for (i = 0; i < k && lab_load_relaxed(&p->bits[w + i]) == ~0ull; i++) */
	if
	:: bits[0] == FULL ->
		if
		:: bits[1] == FULL ->
			/* claim_words(p, 0, 2) */
			ok = 1;
			i = 0;
			do
			:: i == NWORDS -> break
			:: else ->
				w = i;
				atomic {            /* lab_cas_weak_acquire(&p->bits[w + i], &v = ~0, 0) */
					if
					:: bits[w] == FULL ->
						bits[w] = 0;
						word_pages(W_STORE, W_OWN(me));
						promised = promised - WBITS;
						i++
					:: else -> ok = 0   /* v != ~0ull: goto undo */
					fi
				}
				if
				:: !ok -> break
				:: else
				fi
			od;
			if
			:: ok -> idx = 0            /* return w * 64 */
			:: else ->                  /* undo: while (i--) lab_fetch_or_release(&p->bits[w + i], ~0ull) */
				do
				:: i == 0 -> break
				:: else ->
					i--; w = i;
					atomic {
						mask = FULL;
						to_store(W_OWN(me));
						bits[w] = FULL;
						promised = promised + WBITS;
						mask = 0
					}
				od
			fi;
			i = 0; w = 0; ok = 0
		:: else
		fi
	:: else
	fi
}

/* buddy.c lab_block_take(p, order, floor) -> idx or NONE */
inline block_take(floor)
{
	n = 1 << order;
	take_count(n, floor, 1);                    /* lab_take_count(p, n, floor, &before) */
	if
	:: ok ->
		if
		:: order == 1 -> claim_in_word()
		:: else -> claim_word_run()
		fi;
		if
		:: idx == NONE -> return_count(n, 2)    /* lab_return_count(p, n); return LAB_NIL */
		:: else
		fi
	:: else -> idx = NONE
	fi;
	n = 0
}

/* alloc.c alloc_block(p, gfp, order) */
inline alloc_block()
{
	block_take(FLOOR(gfp));
	if
	:: idx == NONE && !slot_off[t] ->           /* (c = lab_my_cache(p)) != NULL */
		cache_enter();                      /* lab_cache_enter(c) */
		if
		:: ok ->
			cached = cnt[t];            /* cached = lab_load_relaxed(&c->count) */
			cache_flush(cached);        /* lab_cache_flush(p, c, cached) */
			cache_leave();              /* lab_cache_leave(c) */
			if
			:: cached > 0 -> block_take(FLOOR(gfp))
			:: else
			fi;
			cached = 0
		:: else
		fi
	:: else
	fi;
	if
	:: idx != NONE ->                           /* hand_out(p, idx, order, gfp) */
		atomic {
			assert(where[idx] == W_OWN(me) && held[idx] == 0);   /* P1 */
			held[idx] = me + 1;
			i = 1;
			do
			:: i < (1 << order) ->
				assert(where[idx + i] == W_OWN(me) && held[idx + i] == 0);
				held[idx + i] = me + 1;
				state[idx + i] = PS_TAIL; i++
			:: else -> break
			od;
			i = 0;
			state[idx] = (order == 1 -> PS_HEAD1 : PS_HEAD2)
		}
	:: else                                     /* lab_alloc_slow: NULL for ATOMIC/NOWAIT */
	fi
}

/* alloc.c free_slow(p, addr, order > 0): release_state, lab_store_give_range */
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
		i = 0
	}
	/* lab_store_give_range(p, idx, n): one fetch_or per word */
	w = idx / WBITS;
	do
	:: w * WBITS >= idx + (1 << order) -> break
	:: else ->
		atomic {                            /* lab_fetch_or_release(&p->bits[i / 64], mask) */
			mask = FULL;
			to_store(W_OWN(me));
			bits[w] = FULL;
			mask = 0; w++
		}
	od;
	w = 0;
	return_count(1 << order, 0)                 /* lab_return_count(p, n) */
}

/* ---- the callers --------------------------------------------------------- */

proctype thread0() provided (!in_handler)
{
	LOCALS;
	byte x, y;

	me = 0; t = 0;
	if
	:: gfp = ATOMIC
	:: gfp = NOWAIT
	fi;
	alloc_one(); x = idx;
	if
	:: gfp = ATOMIC
	:: gfp = NOWAIT
	fi;
	alloc_one(); y = idx;
	gfp = 0;
	atomic {                                    /* hand y to T1 (any channel with happens-before) */
		if
		:: y != NONE -> assert(held[y] == 1); held[y] = 2; where[y] = W_OWN(1)
		:: else
		fi;
		mbox = y; mbox_full = 1; y = 0
	}
	if
	:: x != NONE -> idx = x; x = 0; free_page()
	:: else -> x = 0
	fi;
	thread_exit();
	atomic { t0_exited = 1; done++ }
}

#if THREADS >= 2
proctype thread1()
{
	LOCALS;
	byte u, u2, m;

	me = 1; t = 1;
	if
	:: gfp = ATOMIC
	:: gfp = NOWAIT
	fi;
	alloc_one(); u = idx;
#if FLUSH_ON_FULL
	alloc_one(); u2 = idx;
#else
	u2 = NONE;
#endif
	gfp = 0;
	atomic { mbox_full -> m = mbox; mbox = NONE; mbox_full = 0 }
	if
	:: m != NONE -> idx = m; m = 0; free_page()     /* a page T0 allocated */
	:: else -> m = 0
	fi;
	if
	:: u != NONE -> idx = u; u = 0; free_page()
	:: else -> u = 0
	fi;
	if
	:: u2 != NONE -> idx = u2; u2 = 0; free_page()
	:: else -> u2 = 0
	fi;
	thread_exit();
	done++
}
#endif

#if THREADS >= 3
proctype thread2()
{
	LOCALS;
	byte k;

	me = 2; t = 2;
#if SLEEPER
	gfp = KERNEL;
	alloc_one(); k = idx;
	assert(k != NONE);                          /* KERNEL with wait_ms < 0 never fails */
	idx = k; k = 0; free_page();
#endif
#if BLOCKS
	if
	:: gfp = ATOMIC
	:: gfp = NOWAIT
	fi;
	if
	:: order = 1
	:: order = 2
	fi;
	alloc_block();
	if
	:: idx != NONE -> free_block()
	:: else
	fi;
	idx = 0; order = 0;
#endif
	gfp = 0;
	thread_exit();
	done++
}
#endif

#if HANDLER
/* A signal handler on T0: may start whenever T0 is alive, T0 stands still
 * until it returns.  It uses T0's cache (lab_my_slot is T0's TLS). */
proctype handler()
{
	LOCALS;

	me = HID; t = 0;
end_idle:                                           /* the signal may never come */
	atomic { !t0_exited && !in_handler -> in_handler = 1 }
	if
	:: gfp = ATOMIC
	:: gfp = NOWAIT
	fi;
	alloc_one();
	gfp = 0;
	if
	:: idx != NONE -> free_page()
	:: else -> idx = 0
	fi;
	in_handler = 0
}
#endif

/* P3, in every state. */
#define INVARIANT (SETBITS >= nr_free + promised && \
		   avail == nr_free + CACHED + transit - flushing && \
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
		j = 0;
		do
		:: j < NWORDS -> bits[j] = FULL; j++
		:: else -> break
		od;
		nr_free = NPAGES;
		j = 0;
		run thread0();
#if THREADS >= 2
		run thread1();
#else
		mbox_full = 0;
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
		assert(nr_free == NPAGES && SETBITS == NPAGES);
		assert(CACHED == 0 && avail == NPAGES);
		assert(promised == 0 && transit == 0 && flushing == 0);
		assert(waiters == 0);
		do
		:: j < NPAGES ->
			assert(state[j] == PS_FREE && where[j] == W_STORE && held[j] == 0);
			j++
		:: else -> break
		od
	}
}
