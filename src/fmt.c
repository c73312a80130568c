/* SPDX-License-Identifier: MIT */
/*
 * fmt.c - a small formatter for reports and dumps.
 *
 * snprintf is neither freestanding nor async-signal-safe, and reports may
 * be written from a signal handler, so the core formats its own lines.
 * Supports %s %c %u %d %x %p %% with a minimum field width (right
 * aligned, space padded) and the l, ll and z length modifiers (%p prints
 * 0x followed by hex digits).  Output is always terminated;
 * returns the length written.
 */
#include <stdarg.h>

#include "internal.h"

struct out {
	char *buf;
	size_t size, len;
};

static void put(struct out *o, char c)
{
	if (o->len + 1 < o->size)
		o->buf[o->len++] = c;
}

static void pad(struct out *o, unsigned int width, unsigned int len)
{
	while (width-- > len)
		put(o, ' ');
}

static void put_str(struct out *o, const char *s, unsigned int width)
{
	unsigned int len = 0;

	while (s[len])
		len++;
	pad(o, width, len);
	while (*s)
		put(o, *s++);
}

static void put_num(struct out *o, unsigned long long v, unsigned int base, int neg,
		    unsigned int width)
{
	char digits[24];
	unsigned int n = 0;

	do {
		digits[n++] = "0123456789abcdef"[v % base];
		v /= base;
	} while (v);
	pad(o, width, n + (neg ? 1u : 0u));
	if (neg)
		put(o, '-');
	while (n)
		put(o, digits[--n]);
}

size_t lab_fmt(char *buf, size_t size, const char *fmt, ...)
{
	struct out o = { buf, size, 0 };
	va_list ap;

	va_start(ap, fmt);
	for (; *fmt; fmt++) {
		unsigned int width = 0;
		int longs = 0;
		unsigned long long v;

		if (*fmt != '%') {
			put(&o, *fmt);
			continue;
		}
		fmt++;
		while (*fmt >= '0' && *fmt <= '9')
			width = width * 10 + (unsigned int)(*fmt++ - '0');
		while (*fmt == 'l' || *fmt == 'z') {
			longs += *fmt == 'z' ? 2 : 1;
			fmt++;
		}
		switch (*fmt) {
		case 's':
			put_str(&o, va_arg(ap, const char *), width);
			break;
		case 'c':
			put(&o, (char)va_arg(ap, int));
			break;
		case 'd': {
			long long s = longs ? va_arg(ap, long long) : va_arg(ap, int);

			put_num(&o, s < 0 ? 0ull - (unsigned long long)s : (unsigned long long)s,
				10, s < 0, width);
			break;
		}
		case 'u':
		case 'x':
			v = longs ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned int);
			put_num(&o, v, *fmt == 'u' ? 10 : 16, 0, width);
			break;
		case 'p':
			put_str(&o, "0x", 0);
			put_num(&o, (uintptr_t)va_arg(ap, void *), 16, 0, 0);
			break;
		case '%':
			put(&o, '%');
			break;
		default:
			va_end(ap);
			goto out;
		}
	}
	va_end(ap);
out:
	if (size)
		o.buf[o.len] = '\0';
	return o.len;
}
