/* Description: LAB_POOL_SECRET basics (usable pages, smaps mapping, absent in a fork child,
 * mlock and MADV_POPULATE_WRITE refused) and the I/O paths that are stable on secret pages:
 * copying I/O (file, pipe, UDP) works; page-pinning I/O (vmsplice, process_vm_readv,
 * O_DIRECT on a block filesystem, io_uring registered buffers) fails with EFAULT. */
#include "check.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif
#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif
#define RAMFS_MAGIC_ 0x858458f6

#define NR_PAGES 32u

static size_t pg_size;

static int filled_with(const unsigned char *p, int c, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

/* The line of /proc/self/smaps (header) that maps addr, and its VmFlags. */
static int smaps_of(const void *addr, char *head, size_t head_len, char *flags,
		    size_t flags_len)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	int in = 0, found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char c;

		if (sscanf(line, "%lx-%lx %c", &lo, &hi, &c) == 3 && strchr(line, ':') &&
		    line[strspn(line, "0123456789abcdef")] == '-') {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			if (in) {
				snprintf(head, head_len, "%.400s", line);
				found = 1;
			}
		} else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			snprintf(flags, flags_len, "%.200s", line + 8);
		}
	}
	fclose(f);
	return found;
}

/* Is addr mapped in this process (per /proc/self/maps)? */
static int mapped_here(const void *addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)addr >= lo &&
		    (uintptr_t)addr < hi && strncmp(strchr(line, ' ') + 1, "---", 3) != 0)
			found = 1;
	}
	fclose(f);
	return found;
}

static void check_fork(unsigned char *page)
{
	pid_t pid;
	int status;

	/* The child has no mapping at the page's address ... */
	fflush(NULL);
	pid = fork();
	REQUIRE(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0)
		_exit(mapped_here(page) == 0 ? 0 : 1);
	REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "fork child still maps the secret page (status %#x)", status);

	/* ... so reading it is a SIGSEGV, not the parent's data. */
	pid = fork();
	REQUIRE(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		signal(SIGSEGV, SIG_DFL);
		_exit(*(volatile unsigned char *)page == 0x5a ? 2 : 3);
	}
	REQUIRE(waitpid(pid, &status, 0) == pid, "waitpid");
	CHECK(WIFSIGNALED(status) && (WTERMSIG(status) == SIGSEGV || WTERMSIG(status) == SIGBUS),
	      "fork child read the secret page (status %#x)", status);
}

static void check_copying_io(unsigned char *page)
{
	char path[] = "t_secret_io.XXXXXX";
	int fd, pfd[2];

	/* A regular file: write(2) from the page, pread(2) into it. */
	fd = mkstemp(path);
	REQUIRE(fd >= 0, "mkstemp: %s", strerror(errno));
	unlink(path);
	memset(page, 'W', pg_size);
	CHECK_EQ(write(fd, page, pg_size), (long long)pg_size);
	memset(page, 0, pg_size);
	CHECK_EQ(pread(fd, page, pg_size, 0), (long long)pg_size);
	CHECK(filled_with(page, 'W', pg_size), "file data read back into a secret page");
	close(fd);

	/* A pipe: write(2) from the page, read(2) into it. */
	REQUIRE(pipe(pfd) == 0, "pipe: %s", strerror(errno));
	memset(page, 'P', pg_size);
	CHECK_EQ(write(pfd[1], page, pg_size), (long long)pg_size);
	memset(page, 0, pg_size);
	CHECK_EQ(read(pfd[0], page, pg_size), (long long)pg_size);
	CHECK(filled_with(page, 'P', pg_size), "pipe data read back into a secret page");

	/* vmsplice(2) of the page into the pipe would pin it: EFAULT. */
	{
		struct iovec iov = { page, pg_size };

		errno = 0;
		CHECK(vmsplice(pfd[1], &iov, 1, 0) < 0 && errno == EFAULT,
		      "vmsplice of a secret page: errno %d (%s)", errno, strerror(errno));
	}
	close(pfd[0]);
	close(pfd[1]);

	/* UDP over loopback: sendto(2) from and recv(2) into the page. */
	{
		int rx = socket(AF_INET, SOCK_DGRAM, 0), tx = socket(AF_INET, SOCK_DGRAM, 0);
		struct sockaddr_in a = { .sin_family = AF_INET };
		socklen_t alen = sizeof(a);

		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		if (rx < 0 || tx < 0 || bind(rx, (struct sockaddr *)&a, sizeof(a)) ||
		    getsockname(rx, (struct sockaddr *)&a, &alen)) {
			printf("note: no UDP loopback here (%s); UDP checks skipped\n",
			       strerror(errno));
		} else {
			memset(page, 'U', 1000);
			CHECK_EQ(sendto(tx, page, 1000, 0, (struct sockaddr *)&a, sizeof(a)), 1000);
			memset(page, 0, pg_size);
			CHECK_EQ(recv(rx, page, pg_size, 0), 1000);
			CHECK(filled_with(page, 'U', 1000), "UDP datagram received into a secret page");
		}
		if (rx >= 0)
			close(rx);
		if (tx >= 0)
			close(tx);
	}
}

/* process_vm_readv(2) on ourselves: the same pinning path another process uses. */
static void check_process_vm(unsigned char *plain, unsigned char *secret)
{
	static char buf[65536];
	struct iovec local = { buf, pg_size }, remote = { plain, pg_size };

	if (process_vm_readv(getpid(), &local, 1, &remote, 1, 0) != (ssize_t)pg_size) {
		printf("note: process_vm_readv unavailable here (%s); check skipped\n",
		       strerror(errno));
		return;
	}
	remote.iov_base = secret;
	errno = 0;
	CHECK(process_vm_readv(getpid(), &local, 1, &remote, 1, 0) < 0 && errno == EFAULT,
	      "process_vm_readv of a secret page: errno %d (%s)", errno, strerror(errno));
}

/* O_DIRECT into a secret page: EFAULT on a block filesystem (tmpfs copies instead). */
static void check_o_direct(unsigned char *plain, unsigned char *secret)
{
	char path[] = "t_secret_io.XXXXXX";
	struct statfs sfs;
	int fd = mkstemp(path), dfd;

	REQUIRE(fd >= 0, "mkstemp: %s", strerror(errno));
	memset(plain, 'F', pg_size);
	REQUIRE(write(fd, plain, pg_size) == (ssize_t)pg_size, "write: %s", strerror(errno));
	fsync(fd);
	dfd = open(path, O_RDONLY | O_DIRECT);
	unlink(path);
	close(fd);
	if (dfd < 0 || fstatfs(dfd, &sfs) || pread(dfd, plain, pg_size, 0) != (ssize_t)pg_size) {
		printf("note: O_DIRECT does not work in this directory (%s); check skipped\n",
		       strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return;
	}
	errno = 0;
	if ((unsigned long)sfs.f_type == TMPFS_MAGIC || (unsigned long)sfs.f_type == RAMFS_MAGIC_) {
		/* tmpfs "direct" I/O is a copy: it works on secret pages. */
		printf("note: O_DIRECT file on tmpfs: it copies, secret page check skipped\n");
	} else {
		CHECK(pread(dfd, secret, pg_size, 0) < 0 && errno == EFAULT,
		      "O_DIRECT read into a secret page (fs type %#lx): errno %d (%s)",
		      (unsigned long)sfs.f_type, errno, strerror(errno));
	}
	close(dfd);
}

/* io_uring registered buffers pin the pages: EFAULT for a secret page. */
#ifdef __NR_io_uring_setup
static void check_io_uring_fixed(unsigned char *plain, unsigned char *secret)
{
	struct {
		uint32_t sq_entries, cq_entries, flags, sq_thread_cpu, sq_thread_idle,
			features, wq_fd, resv[3];
		uint32_t sq_off[10], cq_off[10];
	} params;
	struct iovec iov = { plain, pg_size };
	long ring, rc;

	memset(&params, 0, sizeof(params));
	ring = syscall(__NR_io_uring_setup, 4, &params);
	if (ring < 0) {
		printf("note: io_uring unavailable here (%s); check skipped\n", strerror(errno));
		return;
	}
	/* IORING_REGISTER_BUFFERS = 0, IORING_UNREGISTER_BUFFERS = 1 */
	rc = syscall(__NR_io_uring_register, (int)ring, 0, &iov, 1);
	if (rc < 0) {
		printf("note: io_uring buffer registration refused for ordinary memory (%s); "
		       "check skipped\n", strerror(errno));
	} else {
		syscall(__NR_io_uring_register, (int)ring, 1, NULL, 0);
		iov.iov_base = secret;
		errno = 0;
		rc = syscall(__NR_io_uring_register, (int)ring, 0, &iov, 1);
		CHECK(rc < 0 && errno == EFAULT,
		      "IORING_REGISTER_BUFFERS of a secret page: rc %ld errno %d (%s)", rc, errno,
		      strerror(errno));
	}
	close((int)ring);
}
#endif

int main(void)
{
	labyrinth_t sec = { 0 }, plain = { 0 }, bad = { 0 };
	struct labyrinth_params ps = { .name = "secret", .nr_pages = NR_PAGES,
				       .flags = LAB_POOL_SECRET };
	struct labyrinth_params pp = { .name = "plain", .nr_pages = NR_PAGES };
	unsigned char *pages[NR_PAGES], *page, *ppage;
	char head[512] = "", flags[256] = "";
	unsigned int i;
	FILE *dump;
	char text[1024];
	size_t len;
	int rc;

	SKIP_UNDER_TSAN();

	ps.flags = LAB_POOL_SECRET | LAB_POOL_HUGETLB;
	CHECK_EQ(labyrinth_init(&bad, &ps), -EINVAL);
	ps.flags = LAB_POOL_SECRET;

	rc = labyrinth_init(&sec, &ps);
	if (rc == -ENOSYS || rc == -EPERM)
		SKIP_ALL("memfd_secret(2) refused by this kernel: %s (%d)", strerror(-rc), rc);
	REQUIRE(rc == 0, "init LAB_POOL_SECRET: %d (%s)", rc, strerror(-rc));
	REQUIRE(labyrinth_init(&plain, &pp) == 0, "init a default pool");
	pg_size = labyrinth_page_size(&sec);
	CHECK_EQ(pg_size, 4096);

	/* The dump names the backing. */
	dump = tmpfile();
	REQUIRE(dump != NULL, "tmpfile");
	CHECK_EQ(labyrinth_dump(&sec, dump), 0);
	rewind(dump);
	len = fread(text, 1, sizeof(text) - 1, dump);
	text[len] = '\0';
	fclose(dump);
	CHECK(strstr(text, "memfd_secret") != NULL, "dump does not say memfd_secret: %s", text);

	/* Every page is usable, zeroed on request, and owned. */
	for (i = 0; i < NR_PAGES; i++) {
		pages[i] = labyrinth_alloc_page(&sec, LAB_GFP_NOWAIT | LAB_GFP_ZERO);
		REQUIRE(pages[i] != NULL, "secret page %u: %s", i, strerror(errno));
		CHECK(filled_with(pages[i], 0, pg_size), "LAB_GFP_ZERO secret page %u", i);
		CHECK_EQ(labyrinth_owns(&sec, pages[i]), 1);
		memset(pages[i], (int)(i + 1), pg_size);
	}
	for (i = 0; i < NR_PAGES; i++)
		CHECK(filled_with(pages[i], (int)(i + 1), pg_size), "secret page %u content", i);
	CHECK(labyrinth_alloc_page(&sec, LAB_GFP_ATOMIC) == NULL && errno == ENOMEM, "pool empty");
	for (i = 1; i < NR_PAGES; i++)
		CHECK_EQ(labyrinth_free_page(&sec, pages[i]), 0);
	page = pages[0];
	memset(page, 0x5a, pg_size);

	/* /proc/self/smaps shows a secretmem mapping, kept from fork children. */
	CHECK(smaps_of(page, head, sizeof(head), flags, sizeof(flags)), "page not in smaps");
	CHECK(strstr(head, "secretmem") != NULL, "smaps mapping is not secretmem: %s", head);
	CHECK(strstr(flags, " dc") != NULL, "secret mapping lacks dc (MADV_DONTFORK): %s", flags);
	CHECK(strstr(flags, " dd") != NULL, "secret mapping lacks dd (not dumped): %s", flags);
	check_fork(page);

	/* The kernel locks secret memory itself; mlock and POPULATE_WRITE refuse it. */
	errno = 0;
	CHECK(syscall(SYS_mlock, page, pg_size) != 0, "mlock of a secret page succeeded");
	printf("mlock on a secret page: %s\n", strerror(errno));
	errno = 0;
	CHECK(madvise(page, pg_size, MADV_POPULATE_WRITE) != 0,
	      "MADV_POPULATE_WRITE on a secret page succeeded");
	printf("MADV_POPULATE_WRITE on a secret page: %s\n", strerror(errno));
	CHECK(filled_with(page, 0x5a, pg_size), "page content survived");

	/* I/O: copying paths work, pinning paths fail. */
	ppage = labyrinth_alloc_page(&plain, LAB_GFP_NOWAIT);
	REQUIRE(ppage != NULL, "default pool page");
	check_copying_io(page);
	check_process_vm(ppage, page);
	check_o_direct(ppage, page);
#ifdef __NR_io_uring_setup
	check_io_uring_fixed(ppage, page);
#endif

	CHECK_EQ(labyrinth_free_page(&plain, ppage), 0);
	CHECK_EQ(labyrinth_free_page(&sec, page), 0);
	CHECK_EQ(labyrinth_check(&sec), 0);
	CHECK_EQ(labyrinth_destroy(&sec), 0);
	CHECK_EQ(labyrinth_destroy(&plain), 0);
	return check_done();
}
