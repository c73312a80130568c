/* SPDX-License-Identifier: MIT */
/*
 * harness.c - the fuzzer's failure path and bookkeeping (harness.h): the
 * ring of the last operations, printed with the mismatch that aborts;
 * the library's captured stderr against the reports it must hold; when
 * the full audit runs.
 */
#include "harness.h" /* first: it defines _GNU_SOURCE */

#include <unistd.h>

int real_err = 2;
int cap_fd = -1;
bool capture = true;
bool tracing;

#define TRACE_RING 48
#define TRACE_ARGS 11       /* the format and up to 10 values */

/*
 * The trace ring keeps each operation's format and raw values and formats
 * them only when they are printed (a mismatch, FUZZ_TRACE): formatting
 * every operation through the sanitizers' printf interceptor cost about
 * 5% of the time.  The values travel as uint64_t (integers and pointers
 * alike) and are converted back to the type their conversion names.
 */
struct trace_ent {
	unsigned n;
	uint64_t v[TRACE_ARGS];
};
static struct trace_ent trace_ring[TRACE_RING];
unsigned trace_n;

void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (n > 0)
		(void)!write(real_err, buf, (size_t)n);
}

/* Format one traced entry into buf. */
static void trace_format(const struct trace_ent *e, char *buf, size_t len)
{
	const char *f = (const char *)(uintptr_t)e->v[0];
	size_t o = 0;
	unsigned a = 1;

	while (*f && o + 1 < len) {
		char spec[8];
		unsigned k = 0;
		uint64_t v;
		int n;

		if (*f != '%' || f[1] == '%') {
			buf[o++] = *f;
			f += *f == '%' ? 2 : 1;
			continue;
		}
		spec[k++] = *f++;
		while (*f && strchr("#zl", *f) && k < sizeof(spec) - 2)
			spec[k++] = *f++;
		spec[k++] = *f;
		spec[k] = 0;
		v = a < e->n ? e->v[a] : 0;
		a++;
		if (*f == 's')
			n = snprintf(buf + o, len - o, spec, (const char *)(uintptr_t)v);
		else if (*f == 'p')
			n = snprintf(buf + o, len - o, spec, (void *)(uintptr_t)v);
		else if (strchr(spec, 'z'))
			n = snprintf(buf + o, len - o, spec, (size_t)v);
		else if (strstr(spec, "ll"))
			n = snprintf(buf + o, len - o, spec, (unsigned long long)v);
		else if (strchr(spec, 'l'))
			n = snprintf(buf + o, len - o, spec, (long)v);
		else if (*f == 'd')
			n = snprintf(buf + o, len - o, spec, (int)v);
		else
			n = snprintf(buf + o, len - o, spec, (unsigned)v);
		if (*f)
			f++;
		if (n < 0)
			break;
		o += (size_t)n < len - o ? (size_t)n : len - o - 1;
	}
	buf[o] = 0;
}

NOCOV void trace_raw(unsigned n, const uint64_t *v)
{
	struct trace_ent *e = &trace_ring[trace_n++ % TRACE_RING];
	unsigned i;

	e->n = n;
	for (i = 0; i < n && i < TRACE_ARGS; i++)
		e->v[i] = v[i];
	if (tracing) {
		char line[256];

		trace_format(e, line, sizeof(line));
		say("  op: %s\n", line);
	}
}


static void dump_captured(void)
{
	char buf[2048];
	off_t end;
	ssize_t n;

	if (cap_fd < 0 || !capture)
		return;
	end = lseek(cap_fd, 0, SEEK_END);
	if (end <= 0)
		return;
	lseek(cap_fd, end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0, SEEK_SET);
	n = read(cap_fd, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = 0;
		say("fuzz_pool: library stderr (tail):\n%s", buf);
	}
}

void fail(const char *fmt, ...)
{
	char buf[512];
	unsigned i, first = trace_n > TRACE_RING ? trace_n - TRACE_RING : 0;
	va_list ap;

	if (capture)
		dup2(real_err, 2);
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	say("fuzz_pool: last operations:\n");
	for (i = first; i < trace_n; i++) {
		char line[256];

		trace_format(&trace_ring[i % TRACE_RING], line, sizeof(line));
		say("  #%u %s\n", i, line);
	}
	dump_captured();
	say("fuzz_pool: MISMATCH: %s\n", buf);
	abort();
}

struct report {
	const char *what; /* "free", "alloc" or "destroy" */
	const void *addr;
	const char *pool; /* the pool's name */
};

static struct report reports[MAX_REPORTS];
static unsigned nreports;
static bool reports_overflow;

void report_expect(const char *what, const void *addr, const char *pool)
{
	if (nreports == MAX_REPORTS) {
		reports_overflow = true;
		return;
	}
	reports[nreports].what = what;
	reports[nreports].addr = addr;
	reports[nreports].pool = pool;
	nreports++;
}

void reports_reset(void)
{
	nreports = 0;
	reports_overflow = false;
}

void verify_reports(void)
{
	static char buf[1 << 20];
	char want[64];
	off_t end;
	ssize_t n;
	char *line, *nl;
	unsigned i = 0;

	if (!capture)
		return;
	end = lseek(cap_fd, 0, SEEK_END);
	if (end > (off_t)sizeof(buf) - 1 || reports_overflow)
		goto reset; /* too much to compare; the counters were checked */
	lseek(cap_fd, 0, SEEK_SET);
	n = end > 0 ? read(cap_fd, buf, (size_t)end) : 0;
	if (n < 0)
		n = 0;
	buf[n] = 0;
	for (line = buf; *line; line = nl + 1, i++) {
		nl = strchr(line, '\n');
		if (!nl)
			fail("library stderr ends without a newline: '%s'", line);
		*nl = 0;
		if (i >= nreports)
			fail("unexpected line on stderr: '%s'", line);
		if (!strstr(line, reports[i].what[0] == 'f' ? "labyrinth_free" :
				  reports[i].what[0] == 'd' ? "labyrinth_destroy: " :
							      "_alloc_")) /* any allocation call */
			fail("report %u does not name the call (%s): '%s'", i, reports[i].what, line);
		if (reports[i].addr) {
			snprintf(want, sizeof(want), "%lx", (unsigned long)(uintptr_t)reports[i].addr);
			if (!strstr(line, want))
				fail("report %u does not name address %s: '%s'", i, want, line);
		}
		if (!strstr(line, reports[i].pool))
			fail("report %u does not name the pool '%s': '%s'", i, reports[i].pool,
			     line);
	}
	if (i != nreports)
		fail("expected %u report lines on stderr, got %u", nreports, i);
reset:
	if (ftruncate(cap_fd, 0) != 0)
		fail("ftruncate(capture) failed");
	lseek(cap_fd, 0, SEEK_SET);
	nreports = 0;
	reports_overflow = false;
}

static unsigned since_check;     /* steps verified since the last audit */
static bool check_due;           /* the next verify() audits */
uint64_t n_steps, n_checks;

void audit_soon(void)
{
	check_due = true;
}

bool audit_now(void)
{
	n_steps++;
	if (!check_due && ++since_check < CHECK_EVERY)
		return false;
	check_due = false;
	since_check = 0;
	n_checks++;
	return true;
}

void audit_reset(void)
{
	since_check = 0;
	check_due = false;
}
