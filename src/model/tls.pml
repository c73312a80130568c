/* SPDX-License-Identifier: MIT */
/*
 * tls.pml - the fast path's thread-local (ticket, cache) pair and its
 * sequence lock (include/labyrinth_fast.h labyrinth__fast_cache; the
 * writers lab_tls_set/lab_tls_adopt in src/cache.h), checked with Spin:
 *
 *   spin -a tls.pml && gcc -O2 -o pan pan.c && ./pan -a      (scripts/spin.sh --tls)
 *
 * Actors:
 *   T  a thread that adopts pool P's cache (lab_tls_adopt: gen odd, cache,
 *      key, gen even), then runs labyrinth__fast_cache(&P): gen, key,
 *      cache, gen again, then the labyrinth_t's magic and ticket, and only
 *      then dereferences the cache (c->lab).  (A reader that interrupts
 *      its thread's change sees an odd gen, and with it a cache the
 *      thread is adopting: mapped, and refused by c->lab unless it is the
 *      caller's; so the reader need not test for odd.)
 *   H  a signal handler on T's thread: runs once, at any point between two
 *      of T's steps, to completion (handlers nest, they do not interleave),
 *      and uses pool Q, so it adopts Q's cache (unless it interrupted T's
 *      own change: gen odd).
 *   D  another thread: destroys Q once the handler is done with it (all
 *      its pages free again): Q's labyrinth_t gets ticket 0 and its
 *      metadata, Q's cache included, is unmapped.
 *
 * Checked: T dereferences a cache only while it is mapped (the bug a
 * review found in the version without gen: key read before the handler,
 * cache after it, Q destroyed in between), and T uses a cache only with
 * the pool it belongs to.  -DMUTANT_NO_GEN (the reader ignores gen) and
 * -DMUTANT_NESTED_ADOPT (a handler changes the pair while its thread is in
 * the middle of changing it: the thread then finishes with its key and
 * the handler's cache under an even gen) must each fail.
 */

#define P 0          /* pool P: ticket 1, cache 0 */
#define Q 1          /* pool Q: ticket 2, cache 1 */
#define NONE 2       /* the dummy cache of a thread with no pair */
#define TICKET_NONE 255

byte key = TICKET_NONE;  /* labyrinth_fast_tls.key */
byte cache = NONE;       /* labyrinth_fast_tls.cache */
byte gen = 0;            /* labyrinth_fast_tls.gen */
byte lab_ticket[2];      /* the labyrinth_t's of P and Q: their tickets */
bool mapped[3];          /* the caches' memory (the dummy is always mapped) */
byte cache_lab[3];       /* c->lab of each cache: its pool's labyrinth_t */
bool in_handler = false; /* H runs: T is suspended */
bool handler_done = false;
bool t_done = false;

/* One step of T: only while no handler runs on its thread. */
#define TSTEP(x) atomic { !in_handler -> x }

/* lab_tls_set(c, k) by the handler: its stores one by one (nothing else
 * runs on this thread meanwhile, so they are one atomic block for T). */
inline handler_adopt(c, k)
{
	if
#ifdef MUTANT_NESTED_ADOPT
	:: (key != k) ->
#else
	:: (key != k && (gen & 1) == 0) ->
#endif
		gen = gen + 1; cache = c; key = k; gen = gen + 1
	:: else -> skip  /* same pool, or T is inside its own change */
	fi
}

active proctype H()
{
	/* Whenever T has steps left: interrupt it once (or never). */
end:	atomic { !t_done -> in_handler = true };
	handler_adopt(Q, 2);
	in_handler = false;
	handler_done = true
}

active proctype D()
{
	/* Q is idle once the handler returned: destroy it (pool.c
	 * labyrinth_destroy: ticket 0, then the metadata unmapped). */
end:	handler_done;
	lab_ticket[Q] = 0;
	mapped[Q] = false
}

active proctype T()
{
	byte g0, g1, k, c, g2;

	/* lab_tls_adopt(P's cache) = lab_tls_set: gen read once, then its
	 * stores one by one */
	TSTEP(g0 = gen);
	TSTEP(gen = g0 + 1);
	TSTEP(cache = P);
	TSTEP(key = 1);
	TSTEP(gen = g0 + 2);

	/* labyrinth__fast_cache(&P) */
	TSTEP(g1 = gen);
	TSTEP(k = key);
	TSTEP(c = cache);
	TSTEP(g2 = gen);
#ifdef MUTANT_NO_GEN
	g2 = g1;
#endif
	if
	:: (g1 != g2) -> skip                       /* the library's path */
	:: else ->
		if
		:: (lab_ticket[P] != k) -> skip     /* not this pool's pair */
		:: else ->
			/* only now is the cache dereferenced */
			TSTEP(assert(mapped[c]));
			if
			:: (cache_lab[c] == P) -> assert(c == P)
			:: else -> skip
			fi
		fi
	fi;
	t_done = true
}

init
{
	atomic {
		lab_ticket[P] = 1; lab_ticket[Q] = 2;
		mapped[P] = true; mapped[Q] = true; mapped[NONE] = true;
		cache_lab[P] = P; cache_lab[Q] = Q; cache_lab[NONE] = 255
	}
}
