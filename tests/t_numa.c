/* Description: LAB_POOL_NUMA with params.numa_node puts every page (default, unlocked, grown, 2 MiB, hugetlbfs) and the metadata on that node, checked page by page with move_pages(2) and /proc/self/numa_maps; a node without memory is -EINVAL and a node that cannot supply the pool -ENOMEM with the verbose line, the pool untouched and nothing left mapped; labyrinth_dump counts the pages per node.  Runs on every node with memory (one on most hosts, two in scripts/test-numa.sh's guest). */
#include "capture.h"

#include <fcntl.h>
#include <limits.h>

#define MPOL_DEFAULT_ 0
#define MAX_NODES 64

static int nodes[MAX_NODES], nr_nodes;
/* LAB_NUMA_GUEST=1: scripts/test-numa.sh's quiet guest, which reserved huge
 * pages on each node and enabled secret memory: both are required there. */
static int guest;

static long long read_num(const char *path, const char *key)
{
	char buf[8192], *at;
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	at = key ? strstr(buf, key) : buf;
	return at ? strtoll(at + (key ? strlen(key) : 0), NULL, 10) : -1;
}

/* The nodes with memory, from sysfs ("0" on a kernel without NUMA). */
static void find_nodes(void)
{
	char buf[256], *at = buf, *end;
	FILE *f = fopen("/sys/devices/system/node/has_memory", "r");

	strcpy(buf, "0");
	if (f) {
		REQUIRE(fgets(buf, sizeof(buf), f) != NULL, "has_memory is empty");
		fclose(f);
	}
	while (*at >= '0' && *at <= '9' && nr_nodes < MAX_NODES) {
		long lo = strtol(at, &end, 10), hi = lo;

		if (*end == '-')
			hi = strtol(end + 1, &end, 10);
		for (; lo <= hi && nr_nodes < MAX_NODES; lo++)
			nodes[nr_nodes++] = (int)lo;
		at = *end == ',' ? end + 1 : end;
	}
	REQUIRE(nr_nodes > 0, "no node with memory in '%s'", buf);
}

static int has_node(int node)
{
	int i;

	for (i = 0; i < nr_nodes; i++)
		if (nodes[i] == node)
			return 1;
	return 0;
}

/* Pages of step bytes in [addr, addr + len) that move_pages(2) does not
 * place on node (queried 4 KiB page by 4 KiB page when step is 4096). */
static size_t pages_off_node(const void *addr, size_t len, size_t step, int node)
{
	enum { CHUNK = 512 };
	void *pages[CHUNK];
	int status[CHUNK];
	size_t done = 0, k, i, off = 0, total = len / step;

	while (done < total) {
		k = total - done < CHUNK ? total - done : CHUNK;
		for (i = 0; i < k; i++)
			pages[i] = (unsigned char *)(uintptr_t)addr + (done + i) * step;
		REQUIRE(syscall(SYS_move_pages, 0, (unsigned long)k, pages, NULL, status, 0) == 0,
			"move_pages: %s", strerror(errno));
		for (i = 0; i < k; i++)
			if (status[i] != node) {
				if (!off)
					fprintf(stderr, "page %p: node %d, not %d\n", pages[i], status[i],
						node);
				off++;
			}
		done += k;
	}
	return off;
}

/* The /proc/self/numa_maps line of the mapping at addr, or "". */
static const char *numa_maps_line(const void *addr)
{
	static char line[1024];
	char want[32];
	FILE *f = fopen("/proc/self/numa_maps", "r");

	snprintf(want, sizeof(want), "%lx ", (unsigned long)(uintptr_t)addr);
	line[0] = '\0';
	if (!f)
		return line;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, want, strlen(want)) == 0) {
			fclose(f);
			return line;
		}
	fclose(f);
	line[0] = '\0';
	return line;
}

/* Mappings bound to node in /proc/self/numa_maps. */
static int bound_mappings(int node)
{
	char line[1024], want[24];
	FILE *f = fopen("/proc/self/numa_maps", "r");
	int n = 0;

	snprintf(want, sizeof(want), " bind:%d ", node);
	REQUIRE(f != NULL, "numa_maps: %s", strerror(errno));
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = ' ';
		n += strstr(line, want) != NULL;
	}
	fclose(f);
	return n;
}

/* Lines of /proc/self/maps, read without malloc (which may map memory of
 * its own, under a sanitizer too): around one labyrinth_init, only the
 * library maps anything. */
static int count_maps(void)
{
	static char buf[1 << 16];
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC), n = 0;
	ssize_t got, i;

	REQUIRE(fd >= 0, "maps: %s", strerror(errno));
	while ((got = read(fd, buf, sizeof(buf))) > 0)
		for (i = 0; i < got; i++)
			n += buf[i] == '\n';
	close(fd);
	return n;
}

/* labyrinth_init of params with LABYRINTH_VERBOSE=1: its result, what it
 * wrote to stderr (in *out) and whether the mappings changed. */
static int init_verbose(labyrinth_t *lab, const struct labyrinth_params *p, char **out,
			int *maps_changed)
{
	int rc, before;

	setenv("LABYRINTH_VERBOSE", "1", 1);
	capture_start();
	before = count_maps();
	rc = labyrinth_init(lab, p);
	*maps_changed = count_maps() != before;
	*out = capture_end();
	unsetenv("LABYRINTH_VERBOSE");
	return rc;
}

/* The dump's node line of lab. */
static char *dump_text(labyrinth_t *lab)
{
	static char buf[4096];
	FILE *f = fmemopen(buf, sizeof(buf), "w");

	REQUIRE(f != NULL, "fmemopen");
	CHECK_EQ(labyrinth_dump(lab, f), 0);
	fclose(f);
	return buf;
}

/* Every page of the pool on node, the mapping bound there, the dump says so. */
static void check_pool_on(labyrinth_t *lab, int node, const char *what)
{
	void *base;
	size_t len;
	char want[64];
	struct labyrinth_stats st = check_stats(lab);

	/* every 4 KiB; every 2 MiB of a 1 GiB page (one page: one node) */
	size_t step = st.page_size > LAB_PAGE_2M ? LAB_PAGE_2M : 4096;

	REQUIRE(labyrinth_region(lab, &base, &len) == 0, "region");
	CHECK(pages_off_node(base, len, step, node) == 0, "%s: pages off node %d", what, node);
	snprintf(want, sizeof(want), " bind:%d ", node);
	CHECK(strstr(numa_maps_line(base), want) != NULL, "%s: numa_maps line '%s' lacks%s",
	      what, numa_maps_line(base), want);
	snprintf(want, sizeof(want), "numa bound to node %d, pages on node%d %lu\n", node, node,
		 (unsigned long)st.pages_total);
	CHECK(strstr(dump_text(lab), want) != NULL, "%s: dump lacks '%s':\n%s", what, want,
	      dump_text(lab));
}

/* A 4 KiB pool (locked or not) on node, grown by LAB_GFP_KERNEL. */
static void t_default_and_growth(int node, unsigned int extra)
{
	struct labyrinth_params p = { .name = "numa", .nr_pages = 256, .max_pages = 4096,
				      .flags = LAB_POOL_NUMA | extra,
				      .numa_node = (unsigned int)node };
	labyrinth_t lab = { 0 };
	int before = bound_mappings(node);
	void *pages[1100];
	unsigned int i, n = 0;

	p.flags |= nolock_unless_lockable("numa", 4096u * 4096u);
	REQUIRE(labyrinth_init(&lab, &p) == 0, "init on node %d", node);
	/* the pages and the metadata: two bound mappings more */
	CHECK(bound_mappings(node) >= before + 2, "node %d: %d bound mappings, were %d", node,
	      bound_mappings(node), before);
	check_pool_on(&lab, node, extra ? "unlocked" : "default");
	for (i = 0; i < 1100; i++) {
		pages[i] = labyrinth_alloc_page(&lab, LAB_GFP_KERNEL);
		if (!pages[i])
			break;
		memset(pages[i], 0x5a, 4096);
		n++;
	}
	CHECK_EQ(n, 1100);
	CHECK(check_stats(&lab).grows > 0, "the pool did not grow");
	check_pool_on(&lab, node, "grown");
	for (i = 0; i < n; i++)
		CHECK_EQ(labyrinth_free_page(&lab, pages[i]), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

static long long free_huge(int node, size_t kb)
{
	char path[128];

	snprintf(path, sizeof(path),
		 "/sys/devices/system/node/node%d/hugepages/hugepages-%zukB/free_hugepages", node,
		 kb);
	return read_num(path, NULL);
}

/* 2 MiB pages: hugetlbfs ones from the node (when it has them), and a
 * 2 MiB pool without LAB_POOL_HUGETLB (hugetlbfs or aligned memory). */
static void t_huge(int node)
{
	struct labyrinth_params p = { .name = "numa-2m", .page_size = LAB_PAGE_2M, .nr_pages = 2,
				      .flags = LAB_POOL_NUMA, .numa_node = (unsigned int)node };
	labyrinth_t lab = { 0 };
	long long have = free_huge(node, 2048);
	int rc;

	p.flags |= nolock_unless_lockable("numa-2m", 2 * LAB_PAGE_2M);
	REQUIRE(labyrinth_init(&lab, &p) == 0, "2 MiB pool on node %d", node);
	check_pool_on(&lab, node, "2 MiB");
	CHECK_EQ(labyrinth_destroy(&lab), 0);

	p.flags |= LAB_POOL_HUGETLB;
	if (have < 2) {
		CHECK(!guest, "node %d has %lld free 2 MiB huge pages, the test reserved "
		      "some", node, have);
		printf("note: node %d has %lld free 2 MiB huge pages: hugetlbfs on it not "
		       "tested\n", node, have);
		return;
	}
	rc = labyrinth_init(&lab, &p);
	CHECK_EQ(rc, 0);
	if (rc)
		return;
	CHECK_EQ(free_huge(node, 2048), have - 2); /* the node's own huge pages */
	check_pool_on(&lab, node, "hugetlb");
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/* Pages of the mapping at addr that /proc/self/numa_maps puts on node
 * ("N1=2048"), and in *elsewhere those it puts on other nodes. */
static long numa_maps_pages(const void *addr, int node, long *elsewhere)
{
	char line[1024], *tok, *save = NULL;
	long on = 0;

	snprintf(line, sizeof(line), "%s", numa_maps_line(addr));
	*elsewhere = 0;
	for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
		int k;
		long v;

		if (sscanf(tok, "N%d=%ld", &k, &v) != 2)
			continue;
		if (k == node)
			on += v;
		else
			*elsewhere += v;
	}
	return on;
}

/* A 1 GiB page from the node's own 1 GiB huge pages (the guest reserves one
 * on each node at boot; hosts seldom have them). */
static void t_gigantic(int node)
{
	struct labyrinth_params p = { .name = "numa-1g", .page_size = LAB_PAGE_1G, .nr_pages = 1,
				      .flags = LAB_POOL_NUMA | LAB_POOL_HUGETLB,
				      .numa_node = (unsigned int)node };
	labyrinth_t lab = { 0 };
	long long have = free_huge(node, 1 << 20);
	int rc;

	if (have < 1) {
		CHECK(!guest, "node %d has no free 1 GiB huge page, the guest reserved one", node);
		printf("note: node %d has no free 1 GiB huge page: 1 GiB pools on it not tested\n",
		       node);
		return;
	}
	rc = labyrinth_init(&lab, &p);
	CHECK_EQ(rc, 0);
	if (rc)
		return;
	CHECK_EQ(free_huge(node, 1 << 20), have - 1);
	check_pool_on(&lab, node, "1 GiB");
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/* Secret memory: where memfd_secret works, its pages are populated under
 * the thread's bound policy, which is restored afterwards.  move_pages(2)
 * cannot see secret pages; /proc/self/numa_maps counts them by node. */
static void t_secret(int node)
{
	struct labyrinth_params p = { .name = "numa-secret", .nr_pages = 64,
				      .flags = LAB_POOL_NUMA | LAB_POOL_SECRET,
				      .numa_node = (unsigned int)node };
	labyrinth_t lab = { 0 };
	int mode = -1, rc = labyrinth_init(&lab, &p);
	long elsewhere = 0, on;
	void *base;
	size_t len;

	if (rc == -ENOSYS || rc == -EPERM || rc == -ENOMEM) {
		CHECK(!guest, "secret pool on node %d: %s", node, strerror(-rc));
		printf("note: memfd_secret refused here (%s): secret pools on a node not "
		       "tested\n", strerror(-rc));
		return;
	}
	CHECK_EQ(rc, 0);
	if (rc)
		return;
	REQUIRE(labyrinth_region(&lab, &base, &len) == 0, "region");
	on = numa_maps_pages(base, node, &elsewhere);
	CHECK(on == 64 && elsewhere == 0, "secret pool: %ld pages on node %d, %ld elsewhere: %s",
	      on, node, elsewhere, numa_maps_line(base));
	REQUIRE(syscall(SYS_get_mempolicy, &mode, NULL, 0, NULL, 0) == 0, "get_mempolicy");
	CHECK(mode == MPOL_DEFAULT_, "the thread's policy is %d after init, not restored", mode);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/* A node that does not exist or has no memory: -EINVAL, nothing changed,
 * the verbose line names the node. */
static void t_bad_node(labyrinth_t *live, unsigned int node)
{
	struct labyrinth_params p = { .name = "numa-bad", .nr_pages = 16, .flags = LAB_POOL_NUMA,
				      .numa_node = node };
	labyrinth_t lab, zero = { 0 };
	char want[48], *out;
	int changed;
	void *pg;

	memset(&lab, 0, sizeof(lab));
	CHECK_EQ(init_verbose(&lab, &p, &out, &changed), -EINVAL);
	snprintf(want, sizeof(want), "node %u (nodes with memory: ", node);
	CHECK(strstr(out, "pool 'numa-bad': init failed (EINVAL): numa_node") && strstr(out, want),
	      "verbose line for node %u: %s", node, out);
	CHECK(memcmp(&lab, &zero, sizeof(lab)) == 0, "the labyrinth_t changed");
	CHECK(!changed, "node %u: the mappings changed", node);
	/* the live pool still works */
	pg = labyrinth_alloc_page(live, LAB_GFP_NOWAIT);
	CHECK(pg != NULL, "the live pool gave no page");
	CHECK_EQ(labyrinth_free_page(live, pg), 0);
	/* without the flag the field is ignored */
	p.flags = 0;
	CHECK_EQ(labyrinth_init(&lab, &p), 0);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

/* A node asked for more than it has free: -ENOMEM before anything is
 * mapped, and the line says which node and how much it had. */
static void t_node_too_small(int node)
{
	char path[96], want[64], *out;
	long long free_kb;
	struct labyrinth_params p = { .name = "numa-big", .flags = LAB_POOL_NUMA | LAB_POOL_NOLOCK,
				      .numa_node = (unsigned int)node };
	labyrinth_t lab = { 0 };
	int changed;

	snprintf(path, sizeof(path), "/sys/devices/system/node/node%d/meminfo", node);
	free_kb = read_num(path, "MemFree:");
	if (free_kb < 0) {
		CHECK(node == 0 && access("/sys/devices/system/node", F_OK) != 0,
		      "no MemFree for node %d", node);
		return;
	}
	p.nr_pages = (size_t)free_kb / 4 * 2 + 1024; /* twice what it has */
	CHECK_EQ(init_verbose(&lab, &p, &out, &changed), -ENOMEM);
	snprintf(want, sizeof(want), "node %d cannot supply the pool: it needs %zu bytes", node,
		 p.nr_pages * 4096);
	CHECK(strstr(out, "pool 'numa-big': init failed (ENOMEM): ") && strstr(out, want) &&
	      strstr(out, "bytes free (MemFree in"), "verbose line: %s", out);
	CHECK(!changed, "node %d: the mappings changed", node);
	CHECK_EQ(lab.lab_private_magic, 0);

	/* huge pages: more than the node has free */
	p.page_size = LAB_PAGE_2M;
	p.flags = LAB_POOL_NUMA | LAB_POOL_HUGETLB | LAB_POOL_NOLOCK;
	p.nr_pages = (size_t)(free_huge(node, 2048) > 0 ? free_huge(node, 2048) : 0) + 1;
	CHECK_EQ(init_verbose(&lab, &p, &out, &changed), -ENOMEM);
	snprintf(want, sizeof(want), "it needs %zu huge pages of 2048 kB on node %d", p.nr_pages,
		 node);
	CHECK(strstr(out, want) != NULL, "verbose line: %s", out);
	CHECK(!changed, "node %d, huge pages: the mappings changed", node);
}

/* Without the flag: not bound, the dump counts where the pages are. */
static void t_unbound_dump(void)
{
	struct labyrinth_params p = { .name = "plain", .nr_pages = 64, .numa_node = 12345 };
	labyrinth_t lab = { 0 };
	char *d;
	int i, total = 0;

	REQUIRE(labyrinth_init(&lab, &p) == 0, "plain pool");
	d = dump_text(&lab);
	CHECK(strstr(d, "pool plain: numa not bound, pages on node") != NULL, "dump:\n%s", d);
	for (i = 0; i < nr_nodes; i++) {
		char key[32], *at;

		snprintf(key, sizeof(key), " node%d ", nodes[i]);
		at = strstr(d, key);
		if (at)
			total += atoi(at + strlen(key));
	}
	CHECK_EQ(total, 64);
	CHECK_EQ(labyrinth_destroy(&lab), 0);
}

int main(void)
{
	struct labyrinth_params lp = { .name = "live", .nr_pages = 16 };
	labyrinth_t live = { 0 };
	int i, absent = -1;

	SKIP_UNDER_TSAN();
	if (syscall(SYS_move_pages, 0, 0UL, NULL, NULL, NULL, 0) && errno == ENOSYS)
		SKIP_ALL("the kernel has no move_pages(2) (no NUMA): nothing to check pages with");
	guest = getenv("LAB_NUMA_GUEST") && atoi(getenv("LAB_NUMA_GUEST"));
	find_nodes();
	printf("nodes with memory: %d (first %d)\n", nr_nodes, nodes[0]);
	for (i = 0; i < nr_nodes; i++) {
		t_default_and_growth(nodes[i], 0);
		t_default_and_growth(nodes[i], LAB_POOL_NOLOCK);
		t_huge(nodes[i]);
		t_gigantic(nodes[i]);
		t_secret(nodes[i]);
		t_node_too_small(nodes[i]);
	}
	t_unbound_dump();
	REQUIRE(labyrinth_init(&live, &lp) == 0, "live pool");
	for (i = 0; i < 1024 && absent < 0; i++)
		if (!has_node(i))
			absent = i;
	t_bad_node(&live, (unsigned int)absent);
	t_bad_node(&live, 1024);
	t_bad_node(&live, UINT_MAX);
	CHECK_EQ(labyrinth_destroy(&live), 0);
	return check_done();
}
