/* SPDX-License-Identifier: MIT */
/*
 * capture.h - stderr captured for the tests of report lines: fd 2 goes into
 * a memfd between capture_start() and capture_end(), which gives the text
 * back (the caller may change it; valid until the next capture_end).
 */
#ifndef LAB_TEST_CAPTURE_H
#define LAB_TEST_CAPTURE_H

#include "check.h" /* first: _GNU_SOURCE for memfd_create */

#include <sys/mman.h>
#include <unistd.h>

static int cap_fd = -1, cap_saved = -1;

static void capture_start(void)
{
	fflush(stderr);
	cap_fd = memfd_create("stderr", 0);
	cap_saved = dup(2);
	REQUIRE(cap_fd >= 0 && cap_saved >= 0, "memfd/dup: %s", strerror(errno));
	REQUIRE(dup2(cap_fd, 2) == 2, "dup2");
}

static char *capture_end(void)
{
	static char *text;
	off_t size;
	ssize_t n;

	fflush(stderr);
	REQUIRE(dup2(cap_saved, 2) == 2, "dup2 back");
	close(cap_saved);
	size = lseek(cap_fd, 0, SEEK_END);
	if (size < 0)
		size = 0;
	text = realloc(text, (size_t)size + 1);
	REQUIRE(text != NULL, "realloc");
	n = pread(cap_fd, text, (size_t)size, 0);
	close(cap_fd);
	text[n > 0 ? n : 0] = '\0';
	return text;
}

#endif
