/* Description: ATOMIC/NOWAIT allocations, bulk calls, frees (also bad ones), owns and empty-pool failures make no system call, from a thread's very first call on: run under strict seccomp. */
/*
 * Each case runs in a forked child: the child sets up its pools (system
 * calls allowed there), then starts a fresh thread whose first action is
 * prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT).  From then on the thread may
 * only read(2), write(2), _exit(2) and sigreturn(2); any other system call
 * kills it with SIGKILL.  The thread makes one kind of library call first
 * (its very first call into labyrinth), then a long mix of every call the
 * atomic contract covers, writes its verdict to a pipe and ends with a raw
 * SYS_exit.  The parent reads the pipe: the verdict arrives only if no call
 * made a system call.  A control case calls getpid() under the same
 * sandbox and must be killed, which shows the harness can fail.
 */
#include "check.h"

#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGE     4096u
#define NPAGES   64u
#define RESERVE  8u
#define ITERS    2000u
#define BULK     16u
#define FOREIGN  4u

enum first_call {
	FIRST_ATOMIC_EXCLUSIVE,
	FIRST_NOWAIT,
	FIRST_ATOMIC_ZERO,
	FIRST_ALLOC_BULK,
	FIRST_FREE_PAGE,      /* a page another thread allocated */
	FIRST_FREE_BULK,      /* pages another thread allocated */
	FIRST_BAD_FREE,       /* error path: address not in the pool */
	FIRST_OWNS,
	FIRST_EMPTY,          /* the pool is empty: NULL + errno */
	FIRST_DEBUG_POOL,     /* LAB_POOL_DEBUG: poison on free, check on alloc */
	FIRST_ZEROED_POOL,    /* a never-initialised pool: EINVAL */
	FIRST_WATCHED,        /* a pool with a watch: crossings write(2) the eventfd */
	FIRST_WITH_SLEEPER,   /* a failed ATOMIC block while a KERNEL caller sleeps */
	CONTROL_GETPID,       /* must be killed */
	NR_CASES
};

static const char *const case_name[NR_CASES] = {
	"labyrinth_void_alloc_page_gfp_atomic_exclusive", "labyrinth_alloc_page(NOWAIT)",
	"labyrinth_alloc_page(ATOMIC|ZERO)", "labyrinth_alloc_bulk",
	"labyrinth_free_page (cross-thread)", "labyrinth_free_bulk (cross-thread)",
	"labyrinth_free_page (bad address)", "labyrinth_owns",
	"alloc on an empty pool", "alloc/free on a LAB_POOL_DEBUG pool",
	"calls on a zeroed labyrinth_t", "ATOMIC on a watched pool (eventfd write only)",
	"failed ATOMIC block with a KERNEL caller asleep (no futex wake)",
	"control: getpid()",
};

struct box {
	enum first_call first;
	int fd;
	labyrinth_t *lab;    /* NPAGES pages, RESERVE reserve */
	labyrinth_t *empty;  /* every page allocated by main */
	labyrinth_t *debug;  /* LAB_POOL_DEBUG */
	labyrinth_t *sleepy; /* every other page taken, a KERNEL caller asleep */
	void *foreign[FOREIGN]; /* pages of lab allocated by main */
};

/* The verdict the sandboxed thread writes. */
struct verdict {
	char tag;            /* 'K' done, 'E' seccomp unavailable */
	int err;             /* errno of prctl for 'E' */
	unsigned int fails;  /* failed expectations (functional, not syscalls) */
	unsigned int line;   /* first failed line */
	unsigned long calls; /* library calls made under the sandbox */
};

static struct verdict v;

#define T(cond)                                         \
	do {                                            \
		if (!(cond) && !v.fails++)              \
			v.line = __LINE__;              \
	} while (0)

static int all_zero(const void *page)
{
	const uint64_t *w = page;
	unsigned int i;

	for (i = 0; i < PAGE / 8; i++)
		if (w[i])
			return 0;
	return 1;
}

static void first_call(struct box *b)
{
	void *pages[BULK] = { NULL }, *many[NPAGES / 2];
	void *p;
	char local;
	unsigned int i;

	v.calls++;
	switch (b->first) {
	case FIRST_ATOMIC_EXCLUSIVE:
		p = labyrinth_void_alloc_page_gfp_atomic_exclusive(b->lab);
		T(p != NULL);
		T(labyrinth_free_page(b->lab, p) == 0);
		break;
	case FIRST_NOWAIT:
		p = labyrinth_alloc_page(b->lab, LAB_GFP_NOWAIT);
		T(p != NULL);
		T(labyrinth_free_page(b->lab, p) == 0);
		break;
	case FIRST_ATOMIC_ZERO:
		p = labyrinth_alloc_page(b->lab, LAB_GFP_ATOMIC | LAB_GFP_ZERO);
		T(p != NULL && all_zero(p));
		T(labyrinth_free_page(b->lab, p) == 0);
		break;
	case FIRST_ALLOC_BULK:
		T(labyrinth_alloc_bulk(b->lab, LAB_GFP_ATOMIC, pages, BULK) == BULK);
		T(labyrinth_free_bulk(b->lab, pages, BULK) == BULK);
		break;
	case FIRST_FREE_PAGE:
		T(labyrinth_free_page(b->lab, b->foreign[0]) == 0);
		b->foreign[0] = NULL;
		break;
	case FIRST_FREE_BULK:
		T(labyrinth_free_bulk(b->lab, b->foreign, FOREIGN) == FOREIGN);
		for (i = 0; i < FOREIGN; i++)
			b->foreign[i] = NULL;
		break;
	case FIRST_BAD_FREE:
		T(labyrinth_free_page(b->lab, &local) == -EINVAL);
		break;
	case FIRST_OWNS:
		T(labyrinth_owns(b->lab, b->foreign[0]) == 1);
		break;
	case FIRST_EMPTY:
		errno = 0;
		T(labyrinth_void_alloc_page_gfp_atomic_exclusive(b->empty) == NULL && errno == ENOMEM);
		break;
	case FIRST_DEBUG_POOL:
		p = labyrinth_alloc_page(b->debug, LAB_GFP_ATOMIC);
		T(p != NULL);
		T(labyrinth_free_page(b->debug, p) == 0);
		break;
	case FIRST_ZEROED_POOL: {
		labyrinth_t zero = { 0 };

		errno = 0;
		T(labyrinth_alloc_page(&zero, LAB_GFP_ATOMIC) == NULL && errno == EINVAL);
		T(labyrinth_free_page(&zero, &local) == -EINVAL);
		break;
	}
	case FIRST_WATCHED:
		/* The watch fires below NPAGES / 2 free pages: take the pool there. */
		for (i = 0; i < NPAGES / 2; i++)
			T((many[i] = labyrinth_void_alloc_page_gfp_atomic_exclusive(b->lab)) != NULL);
		T(labyrinth_free_bulk(b->lab, many, NPAGES / 2) == NPAGES / 2);
		break;
	case FIRST_WITH_SLEEPER:
		/* No order-1 block: the count is taken and given back, and
		 * the sleeper must not be woken from here. */
		errno = 0;
		T(labyrinth_alloc_pages(b->sleepy, LAB_GFP_ATOMIC, 1) == NULL && errno == ENOMEM);
		break;
	case CONTROL_GETPID:
		(void)syscall(SYS_getpid);
		break;
	default:
		break;
	}
}

/* Everything the atomic contract covers, many times over. */
static void mix(struct box *b)
{
	void *pages[NPAGES + 1], *p, *q, *z;
	labyrinth_t zero = { 0 };
	unsigned int it, i, n, held = 0;
	char local;

	for (i = 0; i < FOREIGN; i++)
		held += b->foreign[i] != NULL; /* still allocated by main */
	for (it = 0; it < ITERS; it++) {
		p = labyrinth_void_alloc_page_gfp_atomic_exclusive(b->lab);
		q = labyrinth_alloc_page(b->lab, LAB_GFP_NOWAIT | LAB_GFP_NOWARN);
		T(p && q && p != q);
		T(labyrinth_owns(b->lab, p) == 1 && labyrinth_owns(b->lab, &local) == 0);
		if (p)
			__builtin_memset(p, 0xa5, PAGE);
		T(labyrinth_free_page(b->lab, p) == 0);
		z = labyrinth_alloc_page(b->lab, LAB_GFP_ATOMIC | LAB_GFP_ZERO);
		T(z && all_zero(z));
		T(labyrinth_free_page(b->lab, z) == 0);
		T(labyrinth_free_page(b->lab, z) == -EALREADY);       /* double free */
		T(labyrinth_free_page(b->lab, (char *)q + 8) == -EINVAL); /* not a page start */
		T(labyrinth_free_page(b->lab, &local) == -EINVAL);    /* not in the pool */
		T(labyrinth_free_page(b->lab, NULL) == 0);
		T(labyrinth_free_pages(b->lab, q, 1) == -EINVAL);    /* wrong order */
		T(labyrinth_free_pages(b->lab, q, 0) == 0);
		v.calls += 14;

		/* Bulk, with a NULL entry skipped on the way back. */
		n = labyrinth_alloc_bulk(b->lab, (it & 1) ? LAB_GFP_NOWAIT | LAB_GFP_ZERO :
				      LAB_GFP_ATOMIC, pages, BULK);
		T(n == BULK);
		pages[n] = NULL;
		T(labyrinth_free_bulk(b->lab, pages, n + 1) == n);
		v.calls += 2;

		/* Drain the pool: NOWAIT stops at the reserve, ATOMIC takes it. */
		n = labyrinth_alloc_bulk(b->lab, LAB_GFP_NOWAIT, pages, NPAGES);
		T(n == NPAGES - held - RESERVE);
		errno = 0;
		T(labyrinth_alloc_page(b->lab, LAB_GFP_NOWAIT) == NULL && errno == ENOMEM);
		for (i = n; i < NPAGES; i++) {
			pages[i] = labyrinth_alloc_page(b->lab, LAB_GFP_ATOMIC);
			if (!pages[i])
				break;
		}
		n = i;
		T(n == NPAGES - held);
		errno = 0;
		T(labyrinth_void_alloc_page_gfp_atomic_exclusive(b->lab) == NULL && errno == ENOMEM);
		T(labyrinth_alloc_bulk(b->lab, LAB_GFP_ATOMIC, pages + n, 1) == 0);
		T(labyrinth_free_bulk(b->lab, pages, n) == n);
		v.calls += 6 + n;

		/* The pool that stays empty, the debug pool, a zeroed pool. */
		errno = 0;
		T(labyrinth_alloc_page(b->empty, LAB_GFP_NOWAIT) == NULL && errno == ENOMEM);
		p = labyrinth_alloc_page(b->debug, LAB_GFP_ATOMIC | LAB_GFP_ZERO);
		T(p && all_zero(p));
		if (p)
			__builtin_memset(p, 0x5a, 64);
		T(labyrinth_free_page(b->debug, p) == 0);
		errno = 0;
		T(labyrinth_alloc_page(&zero, LAB_GFP_ATOMIC) == NULL && errno == EINVAL);
		T(labyrinth_free_page(&zero, p) == -EINVAL);
		T(labyrinth_owns(&zero, p) == 0);
		errno = 0;
		T(labyrinth_alloc_page(b->lab, 0) == NULL && errno == EINVAL); /* no gfp type */
		errno = 0;
		T(labyrinth_alloc_pages(b->lab, LAB_GFP_ATOMIC, LAB_MAX_ORDER + 1) == NULL &&
		  errno == EINVAL);
		v.calls += 9;
	}
}

static void *sandboxed(void *arg)
{
	struct box *b = arg;

	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0) != 0) {
		v.tag = 'E';
		v.err = errno;
		(void)!write(b->fd, &v, sizeof(v));
		return NULL; /* not sandboxed: may return normally */
	}
	(void)!write(b->fd, "S", 1);
	first_call(b);
	(void)!write(b->fd, "F", 1); /* the first call is behind us */
	mix(b);
	v.tag = 'K';
	(void)!write(b->fd, &v, sizeof(v));
	syscall(SYS_exit, 0); /* exit(2): allowed; exit_group(2) is not */
	return NULL;
}

static void *kernel_sleeper(void *arg)
{
	void *block = labyrinth_alloc_pages(arg, LAB_GFP_KERNEL, 1);

	return block;
}

static int cmp_addr(const void *a, const void *b)
{
	uintptr_t x = (uintptr_t)*(void *const *)a, y = (uintptr_t)*(void *const *)b;

	return x < y ? -1 : x > y;
}

/* The sleepy pool: every other page taken, so no order-1 block is free,
 * and a LAB_GFP_KERNEL caller asleep for one.  Returns its thread. */
static pthread_t start_sleeper(labyrinth_t *sleepy, void **held)
{
	struct labyrinth_params ps = { .name = "sleepy", .nr_pages = 64, .wait_ms = -1 };
	struct labyrinth_stats st = { 0 };
	pthread_t t;
	unsigned int i;

	if (labyrinth_init(sleepy, &ps))
		_exit(16);
	for (i = 0; i < 64; i++)
		if (!(held[i] = labyrinth_alloc_page(sleepy, LAB_GFP_ATOMIC)))
			_exit(17);
	/* By address: the order the cache handed them out in need not pair
	 * neighbours. */
	qsort(held, 64, sizeof(*held), cmp_addr);
	for (i = 0; i < 64; i += 2)
		labyrinth_free_page(sleepy, held[i]);
	if (pthread_create(&t, NULL, kernel_sleeper, sleepy))
		_exit(18);
	for (i = 0; i < 5000 && !st.waits; i++) {
		usleep(1000);
		labyrinth_stats(sleepy, &st);
	}
	if (!st.waits)
		_exit(19);
	return t;
}

/* The child: pools first (system calls allowed), then the sandboxed thread. */
static void child(enum first_call first, int fd)
{
	static labyrinth_t lab, empty, debug, sleepy;
	static void *held[64];
	pthread_t sleeper = 0;
	void *block;
	struct labyrinth_params pl = { .name = "nosyscall", .nr_pages = NPAGES,
				       .reserve_pages = RESERVE };
	struct labyrinth_params pe = { .name = "empty", .nr_pages = 4 };
	struct labyrinth_params pd = { .name = "debug", .nr_pages = 8,
				       .flags = LAB_POOL_DEBUG };
	struct box b = { .first = first, .fd = fd, .lab = &lab, .empty = &empty,
			 .debug = &debug, .sleepy = &sleepy };
	pthread_t t;
	unsigned int i;
	uint64_t events = 0;
	int wfd = -1;

	alarm(60);
	if (labyrinth_init(&lab, &pl) || labyrinth_init(&empty, &pe) ||
	    labyrinth_init(&debug, &pd))
		_exit(10);
	for (i = 0; i < FOREIGN; i++)
		if (!(b.foreign[i] = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL)))
			_exit(11);
	for (i = 0; i < 4; i++)
		if (!labyrinth_alloc_page(&empty, LAB_GFP_KERNEL))
			_exit(12);
	if (first == FIRST_WATCHED && (wfd = labyrinth_watch(&lab, NPAGES / 2)) < 0)
		_exit(14);
	if (first == FIRST_WITH_SLEEPER)
		sleeper = start_sleeper(&sleepy, held);
	if (pthread_create(&t, NULL, sandboxed, &b) || pthread_join(t, NULL))
		_exit(13);
	if (first == FIRST_WITH_SLEEPER) {
		/* A free does wake it: the odd pages complete order-1 blocks
		 * (with a sleeper about, frees skip this thread's cache). */
		for (i = 1; i < 64; i += 2)
			labyrinth_free_page(&sleepy, held[i]);
		if (pthread_join(sleeper, &block) || !block)
			_exit(20);
	}
	/* The watched case must really have crossed its mark. */
	if (wfd >= 0 && (read(wfd, &events, sizeof(events)) != sizeof(events) || !events))
		_exit(15);
	_exit(0);
}

struct outcome {
	int started;         /* 'S' seen: the sandbox was on */
	int first_done;      /* 'F' seen: the first call returned */
	int done;            /* verdict 'K' seen */
	int unavailable;     /* verdict 'E' */
	int status;          /* waitpid status */
	struct verdict v;
};

static struct outcome run_case(enum first_call first)
{
	struct outcome o;
	unsigned char buf[2 + sizeof(struct verdict)];
	size_t got = 0;
	ssize_t r;
	int fds[2];
	pid_t pid;

	memset(&o, 0, sizeof(o));
	REQUIRE(pipe(fds) == 0, "pipe");
	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0, "fork");
	if (pid == 0) {
		close(fds[0]);
		child(first, fds[1]);
	}
	close(fds[1]);
	while (got < sizeof(buf) && (r = read(fds[0], buf + got, sizeof(buf) - got)) != 0) {
		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		got += (size_t)r;
	}
	close(fds[0]);
	REQUIRE(waitpid(pid, &o.status, 0) == pid, "waitpid");
	if (got >= sizeof(struct verdict) && buf[0] == 'E') {
		memcpy(&o.v, buf, sizeof(o.v));
		o.unavailable = 1;
		return o;
	}
	o.started = got >= 1 && buf[0] == 'S';
	o.first_done = o.started && got >= 2 && buf[1] == 'F';
	if (o.first_done && got == sizeof(buf)) {
		memcpy(&o.v, buf + 2, sizeof(o.v));
		o.done = o.v.tag == 'K';
	}
	return o;
}

static const char *how_ended(int status, char *buf, size_t size)
{
	if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d", WTERMSIG(status));
	else if (WIFEXITED(status))
		snprintf(buf, size, "exit %d", WEXITSTATUS(status));
	else
		snprintf(buf, size, "status %#x", status);
	return buf;
}

int main(void)
{
	struct outcome o;
	char how[64];
	int c;

#ifdef UNDER_SANITIZER
	SKIP_ALL("built with a sanitizer: its runtime makes system calls of its own "
		 "(shadow memory, interceptors), so strict seccomp cannot isolate the library");
#endif
	for (c = 0; c < NR_CASES; c++) {
		o = run_case((enum first_call)c);
		if (o.unavailable)
			SKIP_ALL("strict seccomp unavailable: prctl(PR_SET_SECCOMP) failed: %s",
				 strerror(o.v.err));
		how_ended(o.status, how, sizeof(how));
		if (c == CONTROL_GETPID) {
			CHECK(o.started && !o.first_done && !o.done,
			      "control: getpid() under strict seccomp was not stopped (%s)", how);
			CHECK(WIFSIGNALED(o.status) ? WTERMSIG(o.status) == SIGKILL :
			      WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0,
			      "control: child %s", how);
			printf("control: a thread that calls getpid() under strict seccomp dies (%s%s)\n",
			       WIFSIGNALED(o.status) ? "whole process " : "thread only; child ", how);
			continue;
		}
		CHECK(o.started, "%s: the sandboxed thread never started (child %s)",
		      case_name[c], how);
		CHECK(o.first_done, "%s: a thread's first call made a system call: strict seccomp "
		      "killed it (child %s)", case_name[c], how);
		CHECK(o.done || !o.first_done, "%s first, then the mix of atomic calls: a system "
		      "call killed the sandboxed thread (child %s)", case_name[c], how);
		CHECK(WIFEXITED(o.status) && WEXITSTATUS(o.status) == 0, "%s: child %s",
		      case_name[c], how);
		if (o.done) {
			CHECK(o.v.fails == 0, "%s first: %u wrong results, first at %s:%u",
			      case_name[c], o.v.fails, __FILE__, o.v.line);
			printf("%-52s first: %lu calls, no system call\n", case_name[c], o.v.calls);
		}
	}
	return check_done();
}
