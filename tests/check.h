/* SPDX-License-Identifier: MIT */
/*
 * check.h - the tiny test harness every test program shares.
 *
 * CHECK(cond, ...) records a pass or a failure (with file:line and a
 * message); main() ends with `return check_done();`, which prints the
 * closing line "N passed, N failed" and exits 0 only if nothing failed.
 * SKIP_ALL("why") ends a program that cannot run here with exit code 77
 * (ctest's SKIP_RETURN_CODE) and a clear message; never a silent pass.
 */
#ifndef LAB_TEST_CHECK_H
#define LAB_TEST_CHECK_H

#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "labyrinth.h"

static int check_passed, check_failed;

#define CHECK(cond, ...)                                                        \
	do {                                                                    \
		if (cond) {                                                     \
			check_passed++;                                         \
		} else {                                                        \
			check_failed++;                                         \
			fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
		}                                                               \
	} while (0)

/* Compare two integers and say both on failure. */
#define CHECK_EQ(a, b)                                                          \
	do {                                                                    \
		long long check_a_ = (long long)(a), check_b_ = (long long)(b); \
		CHECK(check_a_ == check_b_, "%lld != %lld", check_a_, check_b_); \
	} while (0)

/* A setup step that must work for the rest to mean anything. */
#define REQUIRE(cond, ...)                                                      \
	do {                                                                    \
		if (!(cond)) {                                                  \
			check_failed++;                                         \
			fprintf(stderr, "FATAL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                           \
			fputc('\n', stderr);                                    \
			exit(check_done());                                     \
		}                                                               \
	} while (0)

#define SKIP_ALL(...)                                                           \
	do {                                                                    \
		printf("SKIP: ");                                               \
		printf(__VA_ARGS__);                                            \
		printf("\n%d passed, %d failed, 1 skipped\n", check_passed, check_failed); \
		exit(check_failed ? 1 : 77);                                    \
	} while (0)

/* Any sanitizer: its runtime makes system calls and faults in shadow
 * memory of its own, which tests of the atomic path cannot tell apart. */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define UNDER_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
	__has_feature(memory_sanitizer)
#define UNDER_SANITIZER 1
#endif
#endif

/* ThreadSanitizer maps shadow memory beside every mapping, changes what a
 * fork() child inherits and turns mlock into a no-op: tests that read the
 * process's mappings skip under it (they run in the plain and ASan builds). */
#if defined(__SANITIZE_THREAD__)
#define LAB_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define LAB_UNDER_TSAN 1
#endif
#endif
#ifdef LAB_UNDER_TSAN
#define SKIP_UNDER_TSAN()                                                       \
	SKIP_ALL("ThreadSanitizer changes mappings, fork and mlock; this test runs " \
		 "in the plain and ASan builds")
#else
#define SKIP_UNDER_TSAN() ((void)0)
#endif

static inline int check_done(void)
{
	printf("%d passed, %d failed\n", check_passed, check_failed);
	fflush(stdout);
	return check_failed ? 1 : 0;
}

/* A xorshift step: the tests' repeatable pseudo-random numbers. */
static inline uint64_t check_rand(uint64_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 7;
	*state ^= *state << 17;
	return *state;
}

/* Pool stats, or a failed check. */
static inline struct labyrinth_stats check_stats(labyrinth_t *lab)
{
	struct labyrinth_stats st;
	int rc = labyrinth_stats(lab, &st);

	if (rc) {
		check_failed++;
		fprintf(stderr, "FAIL labyrinth_stats: %d\n", rc);
		memset(&st, 0, sizeof(st));
	}
	return st;
}

/*
 * LAB_POOL_NOLOCK if this process cannot lock `bytes` more now, else 0.
 * A normal user's RLIMIT_MEMLOCK is 8 MiB (Debian's default): a test of
 * something other than locking gives its large pools this flag so that it
 * runs for everyone, with a note.  The probe locks the bytes plus room for
 * the pool's metadata, on top of what the process has locked already, the
 * way the kernel counts; mlock goes to the kernel directly, as the library
 * does (sanitizer runtimes intercept the wrapper).
 */
static inline unsigned int nolock_unless_lockable(const char *pool, size_t bytes)
{
	size_t len = bytes + bytes / 64 + (512u << 10);
	void *mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int locked;

	if (mem == MAP_FAILED)
		return LAB_POOL_NOLOCK;
	locked = syscall(SYS_mlock, mem, len) == 0;
	munmap(mem, len);
	if (locked)
		return 0;
	printf("note: pool '%s' (%zu KiB) cannot be locked here (RLIMIT_MEMLOCK); "
	       "it runs with LAB_POOL_NOLOCK\n", pool, bytes >> 10);
	return LAB_POOL_NOLOCK;
}

#endif
