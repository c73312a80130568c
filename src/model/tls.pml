/* SPDX-License-Identifier: MIT */
/*
 * tls.pml - how the fast path finds a thread's cache in a pool: from the
 * pool's labyrinth_t (magic, caches, stride) and the thread's slot
 * labyrinth_fast_slot, used only when the cache's claim word (c->lab) is
 * the caller's labyrinth_t (include/labyrinth_fast.h
 * labyrinth__fast_cache; the writers lab_cache_claim, lab_cache_own,
 * lab_cache_thread_exit in src/cache.[ch], init, destroy and thread exit
 * in src/pool.c).  Checked with Spin:
 *
 *   SPIN_MODEL=tls.pml sh scripts/spin.sh          (also in the default run)
 *
 * Actors:
 *   T  a thread: its first call (on pool P) takes a slot (NONE -> BUSY by
 *      CAS, the slot, the slot number) and claims P's cache (slots_seen
 *      first, then c->lab); calls on P again, on a copy C of P's
 *      labyrinth_t, on pool Q twice (in between, D may destroy Q and make
 *      a new pool Q2 at the same labyrinth_t), then exits (slot OFF, every
 *      live pool's cache of its slot emptied and unclaimed, the slot
 *      freed).  Each call is the fast path (slot, magic, caches, claim:
 *      one step each), and when it declines, the library's path.
 *   H  a signal handler on T's thread: runs once at any point of T, to
 *      completion (handlers nest, they do not interleave), and frees a
 *      page into pool Q (whichever pool Q's labyrinth_t holds then) by the
 *      same fast path, or the library's.
 *   D  another thread: destroys Q when no call on it runs (its
 *      labyrinth_t DEAD, its metadata unmapped), then inits Q2 at Q's
 *      labyrinth_t (fresh caches, none claimed).
 *
 * A call that puts a page in a cache is modelled as that page staying
 * there (count + 1); the busy flag that keeps a handler off a cache its
 * thread is using is labyrinth.pml's concern.
 *
 * Checked:
 *   - a cache is dereferenced only while its pool's metadata is mapped;
 *   - the fast path uses a cache only for the labyrinth_t of its pool (a
 *     copy never), and only once slots_seen covers the slot (stats, check
 *     and destroy see every cached page);
 *   - no page is left in a cache of the exited thread's slot;
 *   - the slot is given once (no handler and thread each taking one).
 * Mutants (scripts/spin.sh --mutants; each must fail):
 *   MUTANT_NO_CLAIM_CHECK     the fast path does not compare c->lab
 *   MUTANT_CLAIM_BEFORE_SEEN  lab_cache_own stores c->lab before slots_seen
 *   MUTANT_EXIT_SLOT_LATE     thread exit empties the caches before its slot is OFF
 *   MUTANT_PRECLAIMED         init makes every cache claimed by its labyrinth_t
 *   MUTANT_DESTROY_LIVE       destroy unmaps without making the labyrinth_t DEAD
 *   MUTANT_SLOT_NO_CAS        the slot's NONE -> BUSY is a plain read then store
 */

#define LAB_P 0      /* labyrinth_t's: P's, Q's (Q2 later), a copy of P's */
#define LAB_Q 1
#define LAB_C 2
#define NOLAB 3
#define POOL_P 0     /* pools (metadata mappings) */
#define POOL_Q 1
#define POOL_Q2 2
#define NOPOOL 3
#define S_NONE 1     /* slot values; slot 0 is the only real one */
#define S_BUSY 2
#define S_OFF 3

byte slot = S_NONE;      /* labyrinth_fast_slot of T's thread */
byte slots_taken = 0;    /* slot 0 taken in the global slot map (count) */
bool live[3];            /* the labyrinth_t's magic is LIVE */
byte caches[3];          /* the labyrinth_t's caches: which pool's */
byte owner[3];           /* p->owner: the pool's labyrinth_t */
bool mapped[3];          /* the pool's metadata (its caches) */
byte seen[3];            /* p->slots_seen */
byte claim[3];           /* slot 0's cache in the pool: c->lab */
byte count[3];           /* pages in slot 0's cache in the pool */
bool in_handler = false; /* H runs: T is suspended */
bool t_in_q = false;     /* T is inside a call on Q's labyrinth_t */
bool t_exiting = false;  /* T's exit walks the live pools */
bool t_done = false;

/* One step of T: only while no handler runs on its thread. */
#define TSTEP(x) atomic { !in_handler -> x }
/* One step of the caller of an inline below: h is true in the handler
 * (nothing on its thread interrupts it), false in T. */
#define STEP(x) atomic { (h || !in_handler) -> x }

/* The library's path for a page freed into labyrinth_t l by a thread whose
 * slot word is slot (lab_my_cache: claim a slot if none, check the pool,
 * raise slots_seen, claim the cache, push). */
inline lib_free(l, h, s, pc)
{
	STEP(s = slot);
	if
	:: (s == S_NONE) ->
#ifdef MUTANT_SLOT_NO_CAS
		STEP(slot = S_BUSY);
#else
		STEP(if :: slot == S_NONE -> slot = S_BUSY :: else -> s = slot fi);
#endif
		if
		:: (s == S_NONE) ->
			STEP(if
			     :: slots_taken == 0 -> slots_taken = 1; s = 0
			     :: else -> s = S_OFF
			     fi);
			/* the thread's slot is lost only if none was free */
			assert(s != S_OFF || slots_taken == 0);
			STEP(slot = s)
		:: else -> skip
		fi
	:: else -> skip
	fi;
	if
	:: (!live[l] || owner[caches[l]] != l) -> skip  /* EINVAL (a copy too) */
	:: else ->
		pc = caches[l];
		if
		:: (s == 0) ->
#ifdef MUTANT_CLAIM_BEFORE_SEEN
			STEP(claim[pc] = l);
			STEP(seen[pc] = 1);
#else
			STEP(seen[pc] = 1);
			STEP(claim[pc] = l);
#endif
			STEP(count[pc] = count[pc] + 1)
		:: else -> skip  /* BUSY or OFF: the shared store */
		fi
	fi
}

/* The fast path's free into labyrinth_t l (labyrinth__fast_cache, then the
 * push); served = true if it did. */
inline fast_free(l, h, s, pc, cl, served)
{
	served = false;
	STEP(s = slot);
	if
	:: (s != 0) -> skip
	:: else ->
		STEP(if :: !live[l] -> s = S_NONE :: else -> skip fi);
		if
		:: (s != 0) -> skip
		:: else ->
			STEP(pc = caches[l]);
			/* the only dereference: the cache's claim word */
			STEP(assert(mapped[pc]); cl = claim[pc]);
#ifdef MUTANT_NO_CLAIM_CHECK
			cl = l;
#endif
			if
			:: (cl != l) -> skip
			:: else ->
				assert(owner[pc] == l && seen[pc] > 0);
				STEP(assert(mapped[pc]); count[pc] = count[pc] + 1);
				served = true
			fi
		fi
	fi
}

inline call(l, h, s, pc, cl, served)
{
	fast_free(l, h, s, pc, cl, served);
	if
	:: served -> skip
	:: else -> lib_free(l, h, s, pc)
	fi
}

proctype H()
{
	byte s, pc, cl;
	bool served;

end:	atomic { !t_done -> in_handler = true };
	call(LAB_Q, true, s, pc, cl, served);
	in_handler = false
}

/* destroy Q, then init Q2 at Q's labyrinth_t; each only while no call on
 * Q runs and no thread exit walks the pools (lab_for_each_live_pool holds
 * init and destroy off) */
proctype D()
{
end:	atomic {
		!in_handler && !t_in_q && !t_exiting ->
#ifndef MUTANT_DESTROY_LIVE
		live[LAB_Q] = false;
#endif
		mapped[POOL_Q] = false
	};
end2:	atomic {
		!in_handler && !t_in_q && !t_exiting ->
		caches[LAB_Q] = POOL_Q2; owner[POOL_Q2] = LAB_Q;
		mapped[POOL_Q2] = true;
#ifdef MUTANT_PRECLAIMED
		claim[POOL_Q2] = LAB_Q;
#endif
		live[LAB_Q] = true
	}
}

/* thread exit's walk: empty and unclaim slot 0's cache of a live pool */
inline give_back(pc)
{
	TSTEP(if :: mapped[pc] -> count[pc] = 0; claim[pc] = NOLAB :: else -> skip fi)
}

proctype T()
{
	byte s, pc, cl;
	bool served;

	call(LAB_P, false, s, pc, cl, served);
	call(LAB_P, false, s, pc, cl, served);
	call(LAB_C, false, s, pc, cl, served);
	TSTEP(t_in_q = true);
	call(LAB_Q, false, s, pc, cl, served);
	TSTEP(t_in_q = false);
	TSTEP(t_in_q = true);
	call(LAB_Q, false, s, pc, cl, served);
	TSTEP(t_in_q = false);

	/* lab_thread_exit */
	TSTEP(t_exiting = true);
#ifndef MUTANT_EXIT_SLOT_LATE
	TSTEP(if :: slot == 0 -> slot = S_OFF :: else -> skip fi);
#endif
	give_back(POOL_P);
	give_back(POOL_Q);
	give_back(POOL_Q2);
#ifdef MUTANT_EXIT_SLOT_LATE
	TSTEP(if :: slot == 0 -> slot = S_OFF :: else -> skip fi);
#endif
	TSTEP(t_exiting = false;
	      /* nothing stranded in the slot's caches; one slot was taken */
	      assert(!mapped[POOL_P] || count[POOL_P] == 0);
	      assert(!mapped[POOL_Q] || count[POOL_Q] == 0);
	      assert(!mapped[POOL_Q2] || count[POOL_Q2] == 0);
	      assert(slots_taken <= 1);
	      t_done = true)
}

init
{
	atomic {
		live[LAB_P] = true; caches[LAB_P] = POOL_P; owner[POOL_P] = LAB_P;
		live[LAB_Q] = true; caches[LAB_Q] = POOL_Q; owner[POOL_Q] = LAB_Q;
		/* the copy: P's words, at another address */
		live[LAB_C] = true; caches[LAB_C] = POOL_P;
		owner[POOL_Q2] = NOLAB;
		mapped[POOL_P] = true; mapped[POOL_Q] = true; mapped[POOL_Q2] = false;
		claim[POOL_P] = NOLAB; claim[POOL_Q] = NOLAB; claim[POOL_Q2] = NOLAB;
		run H(); run D(); run T()
	}
}
