/* SPDX-License-Identifier: MIT */
/*
 * atomics.h - the atomic operations the core uses, each named after its
 * memory order so that every call site states its ordering argument.
 *
 * Built on the compiler's __atomic builtins: no libc, no <stdatomic.h>, so
 * the same core compiles in a kernel.  Only naturally aligned 8/16/32/64-bit
 * objects are used; on x86-64 and arm64 all of them are lock-free, which is
 * what makes them async-signal-safe (checked by a static assertion).
 */
#ifndef LAB_ATOMICS_H
#define LAB_ATOMICS_H

#include <stdint.h>

_Static_assert(__atomic_always_lock_free(sizeof(uint64_t), 0),
	       "labyrinth needs lock-free 64-bit atomics");

#define lab_load_relaxed(p)      __atomic_load_n((p), __ATOMIC_RELAXED)
#define lab_load_acquire(p)      __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define lab_load_seq_cst(p)      __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define lab_store_relaxed(p, v)  __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define lab_store_release(p, v)  __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define lab_store_seq_cst(p, v)  __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)

#define lab_fetch_add_relaxed(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define lab_fetch_add_release(p, v) __atomic_fetch_add((p), (v), __ATOMIC_RELEASE)
#define lab_fetch_add_seq_cst(p, v) __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define lab_fetch_sub_relaxed(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_RELAXED)
#define lab_fetch_sub_seq_cst(p, v) __atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST)
#define lab_fetch_or_acq_rel(p, v)  __atomic_fetch_or((p), (v), __ATOMIC_ACQ_REL)
#define lab_fetch_or_release(p, v)  __atomic_fetch_or((p), (v), __ATOMIC_RELEASE)
#define lab_fetch_and_release(p, v) __atomic_fetch_and((p), (v), __ATOMIC_RELEASE)
#define lab_fetch_or_seq_cst(p, v)  __atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST)
#define lab_fetch_and_seq_cst(p, v) __atomic_fetch_and((p), (v), __ATOMIC_SEQ_CST)
#define lab_exchange_acquire(p, v)  __atomic_exchange_n((p), (v), __ATOMIC_ACQUIRE)
#define lab_exchange_release(p, v)  __atomic_exchange_n((p), (v), __ATOMIC_RELEASE)
#define lab_exchange_acq_rel(p, v)  __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)

/* Compare-and-swap; *expected is updated on failure (with acquire where the
 * success order acquires, so a retry sees what the winner published).  Weak forms may fail
 * spuriously and belong in retry loops. */
#define lab_cas_weak_acquire(p, expected, desired) \
	__atomic_compare_exchange_n((p), (expected), (desired), 1, \
				    __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)
#define lab_cas_weak_release(p, expected, desired) \
	__atomic_compare_exchange_n((p), (expected), (desired), 1, \
				    __ATOMIC_RELEASE, __ATOMIC_RELAXED)
#define lab_cas_weak_acq_rel(p, expected, desired) \
	__atomic_compare_exchange_n((p), (expected), (desired), 1, \
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)
#define lab_cas_strong_acq_rel(p, expected, desired) \
	__atomic_compare_exchange_n((p), (expected), (desired), 0, \
				    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)

#define lab_fence_seq_cst()  __atomic_thread_fence(__ATOMIC_SEQ_CST)
/* Orders against a signal handler on the same thread, emits no instruction. */
#define lab_signal_fence()   __atomic_signal_fence(__ATOMIC_SEQ_CST)

#define lab_likely(x)   __builtin_expect(!!(x), 1)
#define lab_unlikely(x) __builtin_expect(!!(x), 0)

static inline void lab_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif /* LAB_ATOMICS_H */
