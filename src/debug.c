/* SPDX-License-Identifier: MIT */
/*
 * debug.c - LAB_POOL_DEBUG poisoning, and the one-line reports.
 *
 * A debug pool fills every free page with a poison pattern and checks it
 * when the page is handed out again, so a write after free is reported with
 * the page's address.  Reports are one line, written with a single write(2)
 * through the platform: they may come from a signal handler.
 */
#include "internal.h"

#define POISON_WORD 0x6b6b6b6b6b6b6b6bull

/* Poison the npages pages from idx on. */
void lab_poison(struct lab_pool *p, uint32_t idx, uint32_t npages)
{
	uint64_t *w = (uint64_t *)(void *)lab_page_addr(p, idx);
	size_t i, n = (p->page_size / sizeof(*w)) * npages;

	for (i = 0; i < n; i++)
		w[i] = POISON_WORD;
}

/* Report each of the npages pages from idx on whose poison was written. */
void lab_poison_check(struct lab_pool *p, uint32_t idx, uint32_t npages, const char *call)
{
	size_t i, n = p->page_size / sizeof(uint64_t);
	uint32_t pg;

	for (pg = idx; pg < idx + npages; pg++) {
		const uint64_t *w = (const uint64_t *)(const void *)lab_page_addr(p, pg);

		for (i = 0; i < n; i++) {
			if (w[i] != POISON_WORD) {
				lab_report(p, call, "write after free in",
					   lab_page_addr(p, pg));
				break;
			}
		}
	}
}

/* "labyrinth: pool 'rx': labyrinth_free_pages: double free of page 0x7f...",
 * and ": RULE" after it when a rule is given. */
void lab_report_rule(const struct lab_pool *p, const char *call, const char *what,
		     const void *addr, const char *rule)
{
	char line[256];
	size_t len;

	if (addr)
		len = lab_fmt(line, sizeof(line), "labyrinth: pool '%s': %s: %s page %p",
			      p->name, call, what, addr);
	else
		len = lab_fmt(line, sizeof(line), "labyrinth: pool '%s': %s: %s",
			      p->name, call, what);
	if (rule)
		len += lab_fmt(line + len, sizeof(line) - len, ": %s", rule);
	len += lab_fmt(line + len, sizeof(line) - len, "\n");
	lab_os_report(line, len);
}

void lab_report(const struct lab_pool *p, const char *call, const char *what,
		const void *addr)
{
	lab_report_rule(p, call, what, addr, NULL);
}
