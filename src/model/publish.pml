/* SPDX-License-Identifier: MIT */
/*
 * publish.pml - LABYRINTH_STATS=1's file (src/publish.c, the writer;
 * src/publish_format.h lab_pub_read_record, the reader in another
 * process), checked with Spin:
 *
 *   SPIN_MODEL=publish.pml scripts/spin.sh -DPUBLISH=1   (a name only: some option)
 *
 * Actors:
 *   W  the publisher's thread: with the publisher's lock held, for each
 *      pool in its table, reads the pool (labyrinth_stats) and stores the
 *      record under its sequence count: seq odd, the data words one by
 *      one, seq even.  Twice, as two periods.
 *   D  labyrinth_destroy of the pool: lab_publish_remove (the lock, the
 *      record stored empty under seq, the pool out of the table, unlock),
 *      then the pool's memory goes.
 *   R  labyrinth-top: copies the record twice (seq, the words, seq
 *      again; kept only when both seqs are the same even value).
 *
 * A record's words are written as a pair (A, B) that belong together: init
 * wrote (9, 9), W's k-th store writes (k, k), D's the empty record (0, 0)
 * with used = 0.
 * Checked: a copy R keeps is never torn (A == B, and used agrees), and W
 * never reads a pool after D freed it.  Promela's memory is sequentially
 * consistent: the fences of the C code (release before the data, acquire
 * after it) are what gives C that order, and are argued in publish.c.
 * Mutants that must fail: -DMUTANT_NO_RECHECK (the reader trusts its
 * first seq), -DMUTANT_NO_ODD (the writer bumps seq once, after the
 * data), -DMUTANT_FREE_FIRST (destroy frees the pool before removing it
 * from the table).
 */

byte seq = 2;          /* the record's sequence count: written once at init */
byte word_a = 9;       /* two data words of one snapshot: init's */
byte word_b = 9;
bool w_done = false, d_done = false;
bool used = true;      /* the pool was published at init */
bool in_table = true;  /* pub.pools[i] == the pool */
bool freed = false;    /* the pool's memory is gone */
byte lock = 0;         /* the publisher's futex lock */

inline lock_take() { atomic { lock == 0 -> lock = 1 } }
inline lock_drop() { lock = 0 }

/* store_record: the writer's side of the seqlock. */
inline store(a, b, u)
{
#ifndef MUTANT_NO_ODD
	seq = seq + 1;
#endif
	word_a = a;
	word_b = b;
	used = u;
#ifdef MUTANT_NO_ODD
	seq = seq + 2;
#else
	seq = seq + 1;
#endif
}

active proctype W()
{
	byte k = 1;

	do
	:: k <= 2 ->
		lock_take();
		if
		:: in_table ->
			assert(!freed); /* labyrinth_stats reads the pool */
			store(k, k, true)
		:: else -> skip
		fi;
		lock_drop();
		k++
	:: else -> break
	od;
	w_done = true
}

active proctype D()
{
#ifdef MUTANT_FREE_FIRST
	freed = true;
#endif
	lock_take();
	store(0, 0, false);
	in_table = false;
	lock_drop();
	freed = true;
	d_done = true
}

active proctype R()
{
	byte before, after, a, b, n = 0;
	bool u;

	do
	:: n < 2 ->
		before = seq;
		if
		:: (before & 1) == 0 ->
			a = word_a;
			b = word_b;
			u = used;
			after = seq;
#ifdef MUTANT_NO_RECHECK
			after = before;
#endif
			if
			:: after == before ->
				assert(a == b);           /* never torn */
				assert(u == (a != 0));    /* used agrees with the data */
				n++
			:: else -> skip               /* try again */
			fi
		:: else -> skip
		fi
	:: n < 2 && w_done && d_done -> break /* nothing left to race */
	:: n == 2 -> break
	od
}
