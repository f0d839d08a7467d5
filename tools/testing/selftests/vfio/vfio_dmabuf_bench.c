// SPDX-License-Identifier: GPL-2.0
/*
 * Benchmarks of page-less P2P mapping and of the vfio-pci dma-buf exporter,
 * each against what it replaces, measured in the same boot.  The timing is
 * done in the kernel by p2pdma_edu.ko and, for reg, p2pdma_hca.ko (median
 * and spread of many runs), except for revocation, which is the latency of
 * one config write, and for vmm, whose ioctls are timed from userspace
 * (the system call included, on both sides).
 *
 *   map      dma_map_p2p() and the sg_table builder for one BAR range, vs
 *            the floor (one dma_map_resource() of the range and its
 *            table, run by run in turn), and vs dma_map_resource() per
 *            4 KiB page (provider bound to p2pdma_edu)
 *   p2pmem   memory of pci_p2pdma_add_resource() on a BAR range, the
 *            ZONE_DEVICE way (provider bound to p2pdma_edu; the memory
 *            stays until it is unbound)
 *   reg      registration of a dma-buf MR on the stand-in HCA, with large
 *            blocks (P2PDMA_EDU_MR_PGSZ_LARGE, not mlx5) vs with the 4 KiB
 *            blocks mlx5 uses (provider bound to vfio-pci)
 *   refault  the page fault that maps an MR of 4 KiB blocks (mlx5's) back
 *            in after a revoke, and how long the revoke and the restore
 *            hold vfio-pci's memory_lock (vfio-pci)
 *   revoke   memory-disable config write until every importer has
 *            unmapped, vs the number of importers (vfio-pci)
 *   export   memory of exporting a BAR range as a dma-buf, attaching and
 *            mapping it (vfio-pci)
 *   vmm      a VMM's mapping of the BAR for its VM: IOMMU_IOAS_MAP_FILE of
 *            a dma-buf of it vs VFIO_IOMMU_MAP_DMA of its mmap in a type1
 *            container, 6.12's only way (vfio-pci; the device is opened
 *            through its group for one, through its cdev for the other);
 *            and the revoke of a dma-buf mapped as 1, 16, 256 areas
 *
 * Each mode prints rows of one Markdown table (-H prints its header) and
 * checks the targets that are counts: sg entries, iommu_map() calls,
 * translation entries, move_notify calls, page faults, struct pages.
 * Times are only
 * printed.  Exit status 1 if a count target is missed.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "../kselftest.h"
#include "../p2pdma/p2pdma_edu.h"
#include "../p2pdma/p2pdma_hca_verbs.h"
#include "vfio_dmabuf_uapi.h"

#define KiB		1024ULL
#define MiB		(1024 * KiB)
#define GiB		(1024 * MiB)
#define PAGE		4096ULL
#define BAR		VFIO_PCI_BAR2_REGION_INDEX
#define MAX_SIZES	16
#define MAX_IMPORTS	256

struct bench {
	const char *provider_bdf;
	const char *importer_bdf;
	const char *topology;
	__u32 provider;
	__u32 importer;
	__u64 sizes[MAX_SIZES];
	unsigned int nr_sizes;
	__u64 per_page_max;
	unsigned int counts[MAX_SIZES];
	unsigned int nr_counts;
	unsigned int runs;
	unsigned int budget_ms;
	int edu;
	int hca;		/* for reg, else -1 */
	/* vfio */
	int container;
	int group;
	int device;
	__u64 cfg_off;
	int missed;
};

static __printf(2, 3) void miss(struct bench *b, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "target missed: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	b->missed = 1;
}

static __noreturn __printf(1, 2) void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vfio_dmabuf_bench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static int parse_pci(const char *s, __u32 *addr)
{
	unsigned int dom, bus, dev, fn;

	if (!s || sscanf(s, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4)
		return -1;
	*addr = P2PDMA_EDU_PCI(dom, bus, dev, fn);
	return 0;
}

/* "4K", "2M", "1G": bytes, or 0 */
static __u64 parse_size(const char *s)
{
	char *end;
	__u64 v = strtoull(s, &end, 0);

	switch (*end) {
	case 'K': case 'k':
		return v * KiB;
	case 'M': case 'm':
		return v * MiB;
	case 'G': case 'g':
		return v * GiB;
	case 0:
		return v;
	}
	return 0;
}

static void fmt_size(__u64 n, char *buf, size_t len)
{
	if (n >= GiB && !(n % GiB))
		snprintf(buf, len, "%llu GiB", n / GiB);
	else if (n >= MiB && !(n % MiB))
		snprintf(buf, len, "%llu MiB", n / MiB);
	else
		snprintf(buf, len, "%llu KiB", n / KiB);
}

static void fmt_ns(__u64 ns, char *buf, size_t len)
{
	if (ns >= 10000000000ULL)
		snprintf(buf, len, "%.1f s", ns / 1e9);
	else if (ns >= 10000000)
		snprintf(buf, len, "%.0f ms", ns / 1e6);
	else if (ns >= 10000)
		snprintf(buf, len, "%.0f µs", ns / 1e3);
	else
		snprintf(buf, len, "%.1f µs", ns / 1e3);
}

/* "median (min-max)" */
static void fmt_stat(const struct p2pdma_edu_bench_stat *st, char *buf,
		     size_t len)
{
	char med[32], lo[32], hi[32];

	fmt_ns(st->median_ns, med, sizeof(med));
	fmt_ns(st->min_ns, lo, sizeof(lo));
	fmt_ns(st->max_ns, hi, sizeof(hi));
	snprintf(buf, len, "%s (%s-%s)", med, lo, hi);
}

static void fmt_count(__u64 n, char *buf, size_t len)
{
	if (n == P2PDMA_EDU_BENCH_UNCOUNTED)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%llu", (unsigned long long)n);
}

/* baseline / series */
static void fmt_ratio(__u64 base, __u64 ours, char *buf, size_t len)
{
	double r = (double)base / (ours ? ours : 1);

	snprintf(buf, len, r < 10 ? "%.2fx" : "%.0fx", r);
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	__u64 x = *(const __u64 *)a, y = *(const __u64 *)b;

	return x < y ? -1 : x > y;
}

static void stat_of(__u64 *ns, unsigned int n, struct p2pdma_edu_bench_stat *st)
{
	qsort(ns, n, sizeof(*ns), cmp_u64);
	st->min_ns = ns[0];
	st->median_ns = n % 2 ? ns[n / 2] : (ns[n / 2 - 1] + ns[n / 2]) / 2;
	st->max_ns = ns[n - 1];
}

/* One row of the table, its last column from @fmt */
static __printf(6, 7) void row(const char *name, const char *what,
				const char *ours, const char *base,
				const char *ratio, const char *fmt, ...)
{
	va_list ap;

	printf("| %s | %s | %s | %s | %s | ", name, what, ours, base, ratio);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf(" |\n");
}

/* --- map: dma_map_p2p() vs the floor and vs dma_map_resource() per page -- */

/* The floor's goal: map + unmap within this factor of it */
#define FLOOR_GOAL	1.2

static int bench_map1(struct bench *b, __u32 method, __u32 baseline,
		      __u64 size, struct p2pdma_edu_bench_map *m)
{
	memset(m, 0, sizeof(*m));
	m->provider = b->provider;
	m->importer = b->importer;
	m->bar = 2;
	m->method = method;
	m->baseline = baseline;
	m->length = size;
	m->iterations = b->runs;
	m->budget_ms = b->budget_ms;
	return ioctl(b->edu, P2PDMA_EDU_BENCH_MAP, m) ? -errno : 0;
}

static void mode_map(struct bench *b)
{
	struct p2pdma_edu_bench_map p2p, page;
	char sz[32], s1[128], s2[128], u1[128], u2[128], c1[32], c2[32];
	char c3[32], rf[96], pp[256], r[32], name[64];
	unsigned int i;
	__u64 limit;
	double ratio;
	int ret;

	snprintf(name, sizeof(name), "map, %s", b->topology);

	for (i = 0; i < b->nr_sizes; i++) {
		__u64 size = b->sizes[i];

		fmt_size(size, sz, sizeof(sz));
		/* dma_map_p2p() and the floor, run by run in turn */
		ret = bench_map1(b, P2PDMA_EDU_BENCH_RANGES,
				 P2PDMA_EDU_BENCH_BASELINE(P2PDMA_EDU_BENCH_FLOOR),
				 size, &p2p);
		if (ret) {
			miss(b, "map %s: dma_map_p2p() vs the floor: %s", sz,
			     strerror(-ret));
			continue;
		}
		fmt_stat(&p2p.map, s1, sizeof(s1));
		fmt_stat(&p2p.base_map, s2, sizeof(s2));
		fmt_stat(&p2p.unmap, u1, sizeof(u1));
		fmt_stat(&p2p.base_unmap, u2, sizeof(u2));
		fmt_count(p2p.iommu_maps, c1, sizeof(c1));
		fmt_count(p2p.base_iommu_maps, c2, sizeof(c2));
		/* Where the topology needs no IOMMU mapping, there is none */
		limit = (size + 2 * GiB - 1) / (2 * GiB);
		if (p2p.nents > limit)
			miss(b, "map %s: %u sg entries, want at most %llu", sz,
			     p2p.nents, (unsigned long long)limit);
		if (p2p.iommu_maps != P2PDMA_EDU_BENCH_UNCOUNTED &&
		    p2p.iommu_maps > 1)
			miss(b, "map %s: %llu iommu_map() calls, want at most 1",
			     sz, (unsigned long long)p2p.iommu_maps);
		/* the floor ran too, in whole pairs, with as many entries */
		if (p2p.runs % 2 || p2p.base_nents != p2p.nents ||
		    !p2p.ratio_pm.min_ns)
			miss(b,
			     "map %s: %u runs, sg %u (floor %u), floor ratio %llu/1000",
			     sz, p2p.runs, p2p.nents, p2p.base_nents,
			     (unsigned long long)p2p.ratio_pm.min_ns);
		if (p2p.base_iommu_maps != P2PDMA_EDU_BENCH_UNCOUNTED &&
		    p2p.base_iommu_maps > 1)
			miss(b, "map %s: the floor: %llu iommu_map() calls, want at most 1",
			     sz, (unsigned long long)p2p.base_iommu_maps);

		/* the headline: map + unmap over the floor's, run by run */
		ratio = p2p.ratio_pm.median_ns / 1000.0;
		snprintf(rf, sizeof(rf), "%.2fx the floor (%.2f-%.2f; goal %.1fx: %s)",
			 ratio, p2p.ratio_pm.min_ns / 1000.0,
			 p2p.ratio_pm.max_ns / 1000.0, FLOOR_GOAL,
			 ratio <= FLOOR_GOAL ? "met" : "missed");

		ret = size > b->per_page_max ? 0 :
		      bench_map1(b, P2PDMA_EDU_BENCH_PER_PAGE, 0, size, &page);
		if (size > b->per_page_max) {
			snprintf(pp, sizeof(pp), "not run (-P)");
		} else if (ret) {
			miss(b, "map %s: dma_map_resource() per page: %s",
			     sz, strerror(-ret));
			snprintf(pp, sizeof(pp), "failed (%s)", strerror(-ret));
		} else {
			fmt_ns(page.map.median_ns + page.unmap.median_ns, pp,
			       sizeof(pp));
			fmt_ratio(page.map.median_ns + page.unmap.median_ns,
				  p2p.map.median_ns + p2p.unmap.median_ns, r,
				  sizeof(r));
			fmt_count(page.iommu_maps, c3, sizeof(c3));
			snprintf(pp + strlen(pp), sizeof(pp) - strlen(pp),
				 " (%s ours; sg %u, iommu_map %s, %u runs)",
				 r, page.nents, c3, page.runs);
		}
		row(name, sz, s1, s2, rf,
		    "unmap %s vs %s; sg %u vs %u; iommu_map %s vs %s; %u runs each; per page, map + unmap: %s",
		    u1, u2, p2p.nents, p2p.base_nents, c1, c2, p2p.runs, pp);
	}
}

/* --- memory: /proc/vmstat around an operation ---------------------------- */

struct mem {
	long long memmap;	/* pages of struct page */
	long long iommu;	/* IOMMU page-table pages */
	long long free;		/* free pages */
};

static void mem_read(struct mem *m)
{
	char key[64];
	long long v;
	FILE *f;

	/* Settle what the last operation freed, as far as one can */
	sync();
	f = fopen("/proc/sys/vm/drop_caches", "w");
	if (f) {
		fputs("3\n", f);
		fclose(f);
	}
	/* Fold the per-CPU counter deltas: a few pages would hide in them */
	f = fopen("/proc/sys/vm/stat_refresh", "w");
	if (f) {
		fputs("1\n", f);
		fclose(f);
	}
	memset(m, 0, sizeof(*m));
	f = fopen("/proc/vmstat", "r");
	if (!f)
		die("/proc/vmstat: %s", strerror(errno));
	while (fscanf(f, "%63s %lld", key, &v) == 2) {
		if (!strcmp(key, "nr_memmap_pages"))
			m->memmap = v;
		else if (!strcmp(key, "nr_iommu_pages"))
			m->iommu = v;
		else if (!strcmp(key, "nr_free_pages"))
			m->free = v;
	}
	fclose(f);
}

/* "N struct-page pages (X MiB), I IOMMU, kernel +K KiB" */
static void fmt_mem(const struct mem *a, const struct mem *b, char *buf,
		    size_t len)
{
	long long memmap = b->memmap - a->memmap;

	snprintf(buf, len,
		 "%lld pages of struct page (%.1f MiB), IOMMU tables %+lld pages, free memory %+lld KiB",
		 memmap, memmap * 4.0 / 1024, b->iommu - a->iommu,
		 (b->free - a->free) * 4);
}

static void mode_p2pmem(struct bench *b)
{
	struct p2pdma_edu_p2pmem req = {
		.provider = b->provider,
		.bar = 2,
		.size = b->sizes[0],
	};
	char sz[32], m[160];
	struct mem before, after;

	fmt_size(req.size, sz, sizeof(sz));
	mem_read(&before);
	if (ioctl(b->edu, P2PDMA_EDU_P2PMEM, &req))
		die("P2PDMA_EDU_P2PMEM %s: %s", sz, strerror(errno));
	mem_read(&after);
	fmt_mem(&before, &after, m, sizeof(m));
	row("memory, pci_p2pdma_add_resource()", sz, "", m, "", "%s", "");
	if (after.memmap - before.memmap < (long long)(req.size / PAGE / 64))
		miss(b, "p2pmem %s: only %lld pages of struct page", sz,
		     after.memmap - before.memmap);
}

/* --- vfio ----------------------------------------------------------------- */

static void vfio_open(struct bench *b)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	struct vfio_region_info ri = { .argsz = sizeof(ri) };
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	b->container = open("/dev/vfio/vfio", O_RDWR);
	if (b->container < 0)
		die("/dev/vfio/vfio: %s", strerror(errno));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group",
		 b->provider_bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		die("%s: %s", path, strerror(errno));
	link[n] = 0;
	snprintf(path, sizeof(path), "/dev/vfio/%s", strrchr(link, '/') + 1);
	b->group = open(path, O_RDWR);
	if (b->group < 0)
		die("%s: %s", path, strerror(errno));
	if (ioctl(b->group, VFIO_GROUP_GET_STATUS, &st) ||
	    !(st.flags & VFIO_GROUP_FLAGS_VIABLE))
		die("%s is not viable: bind its group to vfio-pci", path);
	if (ioctl(b->group, VFIO_GROUP_SET_CONTAINER, &b->container) ||
	    ioctl(b->container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		die("%s: container: %s", path, strerror(errno));
	b->device = ioctl(b->group, VFIO_GROUP_GET_DEVICE_FD, b->provider_bdf);
	if (b->device < 0)
		die("VFIO_GROUP_GET_DEVICE_FD %s: %s", b->provider_bdf,
		    strerror(errno));
	ri.index = VFIO_PCI_CONFIG_REGION_INDEX;
	if (ioctl(b->device, VFIO_DEVICE_GET_REGION_INFO, &ri))
		die("config region: %s", strerror(errno));
	b->cfg_off = ri.offset;
}

/*
 * Set or clear memory decode; the time of the config write goes to @ns if
 * not NULL.  vfio-pci holds memory_lock for write across the write, and
 * revokes (or restores) the dma-bufs inside it.
 */
static int set_memory(struct bench *b, bool on, __u64 *ns)
{
	__u64 t0;
	__u16 cmd;
	int ret;

	if (pread(b->device, &cmd, 2, b->cfg_off + PCI_COMMAND) != 2)
		return -errno;
	cmd = on ? cmd | PCI_COMMAND_MEMORY : cmd & ~PCI_COMMAND_MEMORY;
	t0 = now_ns();
	ret = pwrite(b->device, &cmd, 2, b->cfg_off + PCI_COMMAND) == 2 ?
	      0 : -errno;
	if (ns)
		*ns = now_ns() - t0;
	return ret;
}

/* A dma-buf of @len bytes at offset 0 of BAR2, or -errno */
static int export(struct bench *b, __u64 len)
{
	const size_t sz = sizeof(struct vfio_device_feature) +
			  sizeof(struct vfio_device_feature_dma_buf) +
			  sizeof(struct vfio_region_dma_range);
	__u64 buf[(sz + 7) / 8];
	struct vfio_device_feature *f = (void *)buf;
	struct vfio_device_feature_dma_buf *db = (void *)f->data;
	int fd;

	memset(buf, 0, sizeof(buf));
	f->argsz = sz;
	f->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;
	db->region_index = BAR;
	db->open_flags = O_RDWR | O_CLOEXEC;
	db->nr_ranges = 1;
	db->dma_ranges[0].length = len;
	fd = ioctl(b->device, VFIO_DEVICE_FEATURE, f);
	return fd < 0 ? -errno : fd;
}

static int import(struct bench *b, int fd, __u32 *handle)
{
	struct p2pdma_edu_import imp = { .importer = b->importer, .fd = fd };

	if (ioctl(b->edu, P2PDMA_EDU_IMPORT, &imp))
		return -errno;
	*handle = imp.handle;
	return 0;
}

static int import_map(struct bench *b, __u32 handle)
{
	struct p2pdma_edu_import_map m = { .handle = handle };

	return ioctl(b->edu, P2PDMA_EDU_IMPORT_MAP, &m) ? -errno : 0;
}

/* --- reg: dma-buf MR registration, largest blocks vs 4 KiB --------------- */

static int bench_reg1(struct bench *b, int fd, __u64 size, __u64 pgsz,
		      struct p2pdma_edu_bench_reg *r)
{
	memset(r, 0, sizeof(*r));
	r->importer = b->importer;
	r->fd = fd;
	r->length = size;
	r->pgsz_bitmap = pgsz;
	r->iterations = b->runs;
	r->budget_ms = b->budget_ms;
	return ioctl(b->hca, P2PDMA_EDU_BENCH_REG, r) ? -errno : 0;
}

/* The largest block of P2PDMA_EDU_MR_PGSZ_LARGE that fits @size (at 0) */
static __u64 largest_block(__u64 size)
{
	if (!(size % GiB))
		return GiB;
	if (!(size % (2 * MiB)))
		return 2 * MiB;
	return PAGE;
}

static void mode_reg(struct bench *b)
{
	struct p2pdma_edu_bench_reg big, small;
	char sz[32], s1[128], s2[128], u1[128], c1[32], r[32], name[64];
	unsigned int i;
	int fd, ret;

	snprintf(name, sizeof(name), "registration, %s", b->topology);

	for (i = 0; i < b->nr_sizes; i++) {
		__u64 size = b->sizes[i];
		__u64 block = largest_block(size);

		fmt_size(size, sz, sizeof(sz));
		fd = export(b, size);
		if (fd < 0) {
			miss(b, "reg %s: export: %s", sz, strerror(-fd));
			continue;
		}
		ret = bench_reg1(b, fd, size, P2PDMA_EDU_MR_PGSZ_LARGE, &big);
		if (!ret)
			ret = bench_reg1(b, fd, size, PAGE, &small);
		close(fd);
		if (ret) {
			miss(b, "reg %s: %s", sz, strerror(-ret));
			continue;
		}
		fmt_stat(&big.reg, s1, sizeof(s1));
		fmt_stat(&small.reg, s2, sizeof(s2));
		fmt_stat(&big.dereg, u1, sizeof(u1));
		fmt_count(big.iommu_maps, c1, sizeof(c1));
		fmt_ratio(small.reg.median_ns, big.reg.median_ns, r, sizeof(r));
		row(name, sz, s1, s2, r,
		    "entries %llu x %llu KiB vs %llu x 4 KiB; sg %u; iommu_map %s; dereg %s",
		    (unsigned long long)big.entries,
		    (unsigned long long)big.page_size / KiB,
		    (unsigned long long)small.entries, big.nents, c1, u1);
		if (big.page_size != block || big.entries != size / block)
			miss(b, "reg %s: %llu entries of %llu bytes, want %llu of %llu",
			     sz, (unsigned long long)big.entries,
			     (unsigned long long)big.page_size,
			     (unsigned long long)(size / block),
			     (unsigned long long)block);
		if (small.entries != size / PAGE)
			miss(b, "reg %s: %llu entries of 4 KiB, want %llu", sz,
			     (unsigned long long)small.entries,
			     (unsigned long long)(size / PAGE));
	}
}

/* --- refault: an mlx5-shaped MR faulted back in after a revoke ----------- */

#define REFAULT_ACCESS	(IB_UVERBS_ACCESS_LOCAL_WRITE | \
			 IB_UVERBS_ACCESS_REMOTE_WRITE | \
			 IB_UVERBS_ACCESS_REMOTE_READ)
/* One access piece: one edu transfer (100 ms of virtual time each) */
#define REFAULT_PIECE	2048

static int mr_info(struct bench *b, __u32 handle,
		   struct p2pdma_edu_mr_info *info)
{
	memset(info, 0, sizeof(*info));
	info->handle = handle;
	return ioctl(b->hca, P2PDMA_EDU_MR_INFO, info) ? -errno : 0;
}

/* The times of each round of refault1() */
struct refault_times {
	__u64 fault[P2PDMA_EDU_BENCH_MAX_RUNS];	/* the HCA's map + table */
	__u64 inval[P2PDMA_EDU_BENCH_MAX_RUNS];	/* the HCA's zap + unmap */
	__u64 down[P2PDMA_EDU_BENCH_MAX_RUNS];	/* the revoke's write */
	__u64 up[P2PDMA_EDU_BENCH_MAX_RUNS];	/* the restore's write */
};

/*
 * Rounds of: memory decode off (the revoke: move_notify zaps and unmaps
 * the MR), on again (the restore: move_notify finds nothing mapped and
 * maps nothing), and an RDMA write to the MR's last bytes, whose page
 * fault maps the dma-buf again and writes every entry.  Returns the
 * rounds done, or 0 after a missed target; memory decode is on again.
 */
static unsigned int refault1(struct bench *b,
			     const struct p2pdma_hca_user_mr *mr, __u32 qp,
			     struct refault_times *t)
{
	static char buf[REFAULT_PIECE];
	struct p2pdma_edu_mr_access acc = {
		.handle = mr->handle,
		.write = 1,
		.iova = mr->iova + mr->length - sizeof(buf),
		.length = sizeof(buf),
		.user_buf = (uintptr_t)buf,
		.qp = qp,
	};
	__u64 deadline = now_ns() + b->budget_ms * 1000000ULL;
	struct p2pdma_edu_mr_info info;
	char sz[32];
	unsigned int r;
	int ret;

	fmt_size(mr->length, sz, sizeof(sz));
	for (r = 0; r < b->runs && (!r || now_ns() < deadline); r++) {
		ret = set_memory(b, false, &t->down[r]);
		if (ret)
			die("memory disable: %s", strerror(-ret));
		ret = mr_info(b, mr->handle, &info);
		if (ret)
			die("MR_INFO: %s", strerror(-ret));
		/* each revoke and each restore is one move_notify */
		if (info.valid || info.nents || info.invalidations != 2 * r + 1) {
			miss(b,
			     "refault %s: revoke %u: valid %u, sg %u, move_notify %u, want 0, 0, %u",
			     sz, r + 1, info.valid, info.nents,
			     info.invalidations, 2 * r + 1);
			goto restore;
		}
		t->inval[r] = info.invalidate_ns;
		ret = set_memory(b, true, &t->up[r]);
		if (ret)
			die("memory enable: %s", strerror(-ret));
		ret = mr_info(b, mr->handle, &info);
		if (ret)
			die("MR_INFO: %s", strerror(-ret));
		if (info.valid || info.nents || info.faults != r + 1 ||
		    info.invalidations != 2 * r + 2) {
			miss(b,
			     "refault %s: restore %u: valid %u, sg %u, faults %u, move_notify %u, want 0, 0, %u, %u",
			     sz, r + 1, info.valid, info.nents, info.faults,
			     info.invalidations, r + 1, 2 * r + 2);
			return 0;
		}
		buf[0] = r;
		ret = ioctl(b->hca, P2PDMA_EDU_MR_ACCESS, &acc) ? -errno : 0;
		if (ret) {
			miss(b, "refault %s: RDMA write after revoke %u: %s",
			     sz, r + 1, strerror(-ret));
			return 0;
		}
		ret = mr_info(b, mr->handle, &info);
		if (ret)
			die("MR_INFO: %s", strerror(-ret));
		/* registration's mapping, then one fault per revoke */
		if (!info.valid || info.faults != r + 2 || info.fault_errors ||
		    info.page_size != PAGE || info.entries != mr->length / PAGE) {
			miss(b,
			     "refault %s: fault %u: valid %u, faults %u, errors %u, %llu x %llu bytes, want 1, %u, 0, %llu x 4096",
			     sz, r + 1, info.valid, info.faults,
			     info.fault_errors,
			     (unsigned long long)info.entries,
			     (unsigned long long)info.page_size, r + 2,
			     (unsigned long long)(mr->length / PAGE));
			return 0;
		}
		t->fault[r] = info.fault_ns;
	}
	return r;

restore:
	ret = set_memory(b, true, NULL);
	if (ret)
		die("memory enable: %s", strerror(-ret));
	return 0;
}

/*
 * A dynamic dma-buf MR as mlx5 registers it (PAGE_SIZE entries), through
 * uverbs, revoked and faulted back in.  vfio-pci holds memory_lock for
 * write across each config write, so the write's time bounds how long the
 * revoke (the HCA's zap and unmap inside it) and the restore hold it; the
 * fault takes the resv lock, not memory_lock.
 */
static void mode_refault(struct bench *b)
{
	static struct refault_times t;
	struct p2pdma_edu_bench_stat f, i_st, d, u;
	struct p2pdma_edu_qp_info qi;
	struct p2pdma_hca_verbs v;
	char sz[32], s1[128], s2[128], s3[128], s4[128], per[32], name[96];
	unsigned int i, n;
	int fd, ret;
	__u32 qp;

	snprintf(name, sizeof(name),
		 "re-fault after revoke, 4 KiB entries (mlx5), %s",
		 b->topology);
	ret = p2pdma_hca_verbs_open(b->importer_bdf, &v);
	if (ret)
		die("uverbs of the HCA on %s: %s", b->importer_bdf,
		    strerror(-ret));
	for (i = 0; i < b->nr_sizes; i++) {
		struct p2pdma_hca_user_mr mr = {
			.length = b->sizes[i],
			.access = REFAULT_ACCESS,
		};

		fmt_size(b->sizes[i], sz, sizeof(sz));
		fd = export(b, b->sizes[i]);
		if (fd < 0) {
			miss(b, "refault %s: export: %s", sz, strerror(-fd));
			continue;
		}
		mr.fd = fd;
		ret = p2pdma_hca_reg_mr(&v, &mr);
		if (ret) {
			miss(b, "refault %s: registration: %s", sz,
			     strerror(-ret));
			close(fd);
			continue;
		}
		if (ioctl(b->hca, P2PDMA_EDU_CREATE_QP, &qp))
			die("CREATE_QP: %s", strerror(errno));
		n = refault1(b, &mr, qp, &t);
		memset(&qi, 0, sizeof(qi));
		qi.handle = qp;
		if (ioctl(b->hca, P2PDMA_EDU_QP_INFO, &qi))
			die("QP_INFO: %s", strerror(errno));
		if (ioctl(b->hca, P2PDMA_EDU_DESTROY_QP, &qp))
			die("DESTROY_QP: %s", strerror(errno));
		ret = p2pdma_hca_dereg_mr(&v, &mr);
		close(fd);
		if (ret)
			die("deregistration: %s", strerror(-ret));
		if (!n)
			continue;
		if (qi.error || qi.completions != n || qi.page_faults != n) {
			miss(b,
			     "refault %s: QP error %u, %u done, %u faults, want 0, %u, %u",
			     sz, qi.error, qi.completions, qi.page_faults, n, n);
			continue;
		}
		stat_of(t.fault, n, &f);
		stat_of(t.inval, n, &i_st);
		stat_of(t.down, n, &d);
		stat_of(t.up, n, &u);
		fmt_stat(&f, s1, sizeof(s1));
		fmt_stat(&d, s2, sizeof(s2));
		fmt_stat(&i_st, s3, sizeof(s3));
		fmt_stat(&u, s4, sizeof(s4));
		snprintf(per, sizeof(per), "%.1f ns",
			 (double)f.median_ns / (b->sizes[i] / PAGE));
		row(name, sz, s1, "", "-",
		    "the fault's map + table under the resv lock, %s per entry, %llu entries, 1 fault per revoke; memory_lock held for write by the revoke's config write %s (the HCA's zap + unmap in it: %s), by the restore's %s; %u rounds",
		    per, (unsigned long long)(b->sizes[i] / PAGE), s2, s3, s4,
		    n);
	}
	p2pdma_hca_verbs_close(&v);
}

/* --- revoke: latency vs importers ------------------------------------------ */

/*
 * @n imports, on one dma-buf (@shared) or on a dma-buf each; every round
 * maps them all, then times the memory-disable write, after which each
 * must have seen its move_notify and hold no mapping.
 */
static void revoke1(struct bench *b, unsigned int n, bool shared,
		    struct p2pdma_edu_bench_stat *st, unsigned int *rounds)
{
	__u32 handles[MAX_IMPORTS];
	int fds[MAX_IMPORTS];
	__u64 ns[64];
	unsigned int i, r, nfd = 0;
	int ret;

	for (i = 0; i < n; i++) {
		if (!shared || !i) {
			fds[nfd] = export(b, 2 * MiB);
			if (fds[nfd] < 0)
				die("export %u: %s", i, strerror(-fds[nfd]));
			nfd++;
		}
		ret = import(b, fds[nfd - 1], &handles[i]);
		if (ret)
			die("import %u: %s", i, strerror(-ret));
	}
	for (r = 0; r < *rounds; r++) {
		for (i = 0; i < n; i++) {
			ret = import_map(b, handles[i]);
			if (ret)
				die("map import %u: %s", i, strerror(-ret));
		}
		ret = set_memory(b, false, &ns[r]);
		if (ret)
			die("memory disable: %s", strerror(-ret));
		for (i = 0; i < n; i++) {
			struct p2pdma_edu_import_info info = {
				.handle = handles[i],
			};

			if (ioctl(b->edu, P2PDMA_EDU_IMPORT_INFO, &info))
				die("IMPORT_INFO: %s", strerror(errno));
			/* each round: a revoke, then a restore */
			if (info.mapped || info.move_notify != 2 * r + 1)
				miss(b,
				     "revoke %u: import %u: mapped %u, move_notify %u, want 0 and %u",
				     n, i, info.mapped, info.move_notify,
				     2 * r + 1);
		}
		ret = set_memory(b, true, NULL);
		if (ret)
			die("memory enable: %s", strerror(-ret));
	}
	for (i = 0; i < n; i++)
		ioctl(b->edu, P2PDMA_EDU_IMPORT_CLOSE, &handles[i]);
	for (i = 0; i < nfd; i++)
		close(fds[i]);
	stat_of(ns, *rounds, st);
}

/*
 * The cost of one more importer is the slope from the smallest count:
 * the config write and the walk over the device's dma-bufs are paid once.
 */
static void mode_revoke(struct bench *b)
{
	struct p2pdma_edu_bench_stat st, first;
	unsigned int i, rounds, base;
	char s[128], per[32], ratio[32], ratio2[48], what[32];
	int shared;

	rounds = b->runs < 64 ? b->runs : 64;
	for (shared = 1; shared >= 0; shared--) {
		base = 0;
		for (i = 0; i < b->nr_counts; i++) {
			unsigned int n = b->counts[i];

			revoke1(b, n, shared, &st, &rounds);
			fmt_stat(&st, s, sizeof(s));
			if (!base) {
				base = n;
				first = st;
			}
			fmt_ratio(st.median_ns, first.median_ns, ratio,
				  sizeof(ratio));
			if (n > base)
				fmt_ns((st.median_ns > first.median_ns ?
					st.median_ns - first.median_ns : 0) /
				       (n - base), per, sizeof(per));
			else
				snprintf(per, sizeof(per), "-");
			snprintf(what, sizeof(what), "%u importer%s", n,
				 n > 1 ? "s" : "");
			snprintf(ratio2, sizeof(ratio2), "%s of %u", ratio,
				 base);
			row(shared ? "revoke, attachments of one dma-buf" :
				     "revoke, dma-bufs of one device",
			    what, s, "", ratio2,
			    "%s per added importer; each unmapped, 1 move_notify per revoke; %u rounds",
			    per, rounds);
		}
	}
}

/* --- export: memory of a dma-buf, attached and mapped ---------------------- */

static void mode_export(struct bench *b)
{
	struct mem m0, m1, m2;
	char sz[32], a[160], c[160];
	unsigned int i;
	__u32 handle;
	int fd, ret;

	for (i = 0; i < b->nr_sizes; i++) {
		fmt_size(b->sizes[i], sz, sizeof(sz));
		mem_read(&m0);
		fd = export(b, b->sizes[i]);
		if (fd < 0)
			die("export %s: %s", sz, strerror(-fd));
		mem_read(&m1);
		ret = import(b, fd, &handle);
		if (!ret)
			ret = import_map(b, handle);
		if (ret)
			die("import %s: %s", sz, strerror(-ret));
		mem_read(&m2);
		fmt_mem(&m0, &m1, a, sizeof(a));
		fmt_mem(&m0, &m2, c, sizeof(c));
		row("memory, dma-buf export", sz, a, "", "",
		    "attached and mapped: %s", c);
		if (m2.memmap != m0.memmap)
			miss(b, "export %s: %lld pages of struct page", sz,
			     m2.memmap - m0.memmap);
		ioctl(b->edu, P2PDMA_EDU_IMPORT_CLOSE, &handle);
		close(fd);
	}
}

/* --- vmm: IOMMU_IOAS_MAP_FILE vs type1's map of the BAR's mmap --------- */

/* Where both put the BAR: within the vIOMMU's 39-bit address width */
#define VMM_IOVA	(64 * GiB)

struct vmm_run {
	struct p2pdma_edu_bench_stat map;
	struct p2pdma_edu_bench_stat unmap;
	long long iommu;	/* IOMMU table pages the first map added */
	long long memmap;	/* struct pages of one mapping */
	unsigned int runs;
};

struct vmm_ctx {
	struct bench *b;
	void *va;		/* type1: the BAR's mmap */
	int iommufd;		/* iommufd: the IOAS and the dma-buf */
	__u32 ioas;
	int dmabuf;
};

static int vmm_type1(struct vmm_ctx *c, __u64 size, bool map)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)c->va,
		.iova = VMM_IOVA,
		.size = size,
	};
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u),
		.iova = VMM_IOVA,
		.size = size,
	};

	if (map)
		return ioctl(c->b->container, VFIO_IOMMU_MAP_DMA, &m) ?
		       -errno : 0;
	if (ioctl(c->b->container, VFIO_IOMMU_UNMAP_DMA, &u))
		return -errno;
	return u.size == size ? 0 : -ERANGE;
}

/* IOMMU_IOAS_MAP_FILE of [0, @len) of the dma-buf at @iova: 0 or -errno */
static int ioas_map(struct vmm_ctx *c, __u64 iova, __u64 len)
{
	struct iommu_ioas_map_file m = {
		.size = sizeof(m),
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE |
			 IOMMU_IOAS_MAP_WRITEABLE,
		.ioas_id = c->ioas,
		.fd = c->dmabuf,
		.length = len,
		.iova = iova,
	};

	return ioctl(c->iommufd, IOMMU_IOAS_MAP_FILE, &m) ? -errno : 0;
}

/* IOMMU_IOAS_UNMAP of exactly [@iova, @iova + @len): 0 or -errno */
static int ioas_unmap(struct vmm_ctx *c, __u64 iova, __u64 len)
{
	struct iommu_ioas_unmap u = {
		.size = sizeof(u),
		.ioas_id = c->ioas,
		.iova = iova,
		.length = len,
	};

	if (ioctl(c->iommufd, IOMMU_IOAS_UNMAP, &u))
		return -errno;
	return u.length == len ? 0 : -ERANGE;
}

static int vmm_iommufd(struct vmm_ctx *c, __u64 size, bool map)
{
	return map ? ioas_map(c, VMM_IOVA, size) :
		     ioas_unmap(c, VMM_IOVA, size);
}

/*
 * Map and unmap @size bytes of the BAR at VMM_IOVA, b->runs times or
 * until the budget is spent; the memory is read around the first map.
 */
static int vmm_time(struct vmm_ctx *c, __u64 size,
		    int (*op)(struct vmm_ctx *c, __u64 size, bool map),
		    struct vmm_run *r)
{
	__u64 map_ns[P2PDMA_EDU_BENCH_MAX_RUNS];
	__u64 unmap_ns[P2PDMA_EDU_BENCH_MAX_RUNS];
	__u64 t, start = now_ns();
	struct mem before, after;
	unsigned int n;
	int ret;

	for (n = 0; n < c->b->runs; n++) {
		if (n && now_ns() - start > c->b->budget_ms * 1000000ULL)
			break;
		if (!n)
			mem_read(&before);
		t = now_ns();
		ret = op(c, size, true);
		map_ns[n] = now_ns() - t;
		if (ret)
			return ret;
		if (!n) {
			mem_read(&after);
			r->iommu = after.iommu - before.iommu;
			r->memmap = after.memmap - before.memmap;
		}
		t = now_ns();
		ret = op(c, size, false);
		unmap_ns[n] = now_ns() - t;
		if (ret)
			return ret;
	}
	stat_of(map_ns, n, &r->map);
	stat_of(unmap_ns, n, &r->unmap);
	r->runs = n;
	return 0;
}

static void vfio_close(struct bench *b)
{
	if (b->device >= 0)
		close(b->device);
	if (b->group >= 0)
		close(b->group);
	if (b->container >= 0)
		close(b->container);
	b->device = -1;
	b->group = -1;
	b->container = -1;
}

/* The provider through its cdev, bound to a new iommufd, in a new IOAS */
static void cdev_open(struct bench *b, struct vmm_ctx *c)
{
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind) };
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
	};
	struct vfio_region_info ri = {
		.argsz = sizeof(ri),
		.index = VFIO_PCI_CONFIG_REGION_INDEX,
	};
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev",
		 b->provider_bdf);
	dir = opendir(path);
	if (!dir)
		die("%s: %s (no CONFIG_VFIO_DEVICE_CDEV?)", path,
		    strerror(errno));
	while ((de = readdir(dir)) && strncmp(de->d_name, "vfio", 4))
		;
	if (!de)
		die("%s: no vfio device", path);
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", de->d_name);
	closedir(dir);
	b->device = open(path, O_RDWR);
	if (b->device < 0)
		die("%s: %s", path, strerror(errno));
	c->iommufd = open("/dev/iommu", O_RDWR);
	if (c->iommufd < 0)
		die("/dev/iommu: %s", strerror(errno));
	bind.iommufd = c->iommufd;
	if (ioctl(c->iommufd, IOMMU_IOAS_ALLOC, &alloc) ||
	    ioctl(b->device, VFIO_DEVICE_BIND_IOMMUFD, &bind))
		die("%s: bind: %s", path, strerror(errno));
	c->ioas = alloc.out_ioas_id;
	attach.pt_id = c->ioas;
	if (ioctl(b->device, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach) ||
	    ioctl(b->device, VFIO_DEVICE_GET_REGION_INFO, &ri))
		die("%s: attach: %s", path, strerror(errno));
	b->cfg_off = ri.offset;
}

/* Map @n areas of the dma-buf, 2 MiB each, one after another from VMM_IOVA */
static void vmm_map_areas(struct vmm_ctx *c, unsigned int n)
{
	unsigned int i;
	int ret;

	for (i = 0; i < n; i++) {
		ret = ioas_map(c, VMM_IOVA + i * 2 * MiB, 2 * MiB);
		if (ret)
			die("MAP_FILE area %u: %s", i, strerror(-ret));
	}
}

/*
 * The revoke of one dma-buf mapped as @n areas of the IOAS: the memory
 * disable write returns once the exporter's revoke is done, which for
 * iommufd is the unmap of every area (the selftests check the DMA side).
 * A map afterwards, at a free IOVA, must get ENODEV.  The areas are
 * unmapped and mapped again, untimed, between rounds.
 */
static void vmm_revoke1(struct bench *b, struct vmm_ctx *c, unsigned int n,
			struct p2pdma_edu_bench_stat *st, unsigned int rounds)
{
	const __u64 probe = VMM_IOVA + n * 2 * MiB;	/* a free IOVA */
	unsigned int r, wrong = 0;
	__u64 ns[64];
	int ret;

	c->dmabuf = export(b, 2 * MiB);
	if (c->dmabuf < 0)
		die("export: %s", strerror(-c->dmabuf));
	for (r = 0; r < rounds; r++) {
		vmm_map_areas(c, n);
		ret = set_memory(b, false, &ns[r]);
		if (ret)
			die("memory disable: %s", strerror(-ret));
		ret = ioas_map(c, probe, 2 * MiB);
		if (ret != -ENODEV)
			wrong++;
		if (!ret) {
			ret = ioas_unmap(c, probe, 2 * MiB);
			if (ret)
				die("unmap after a revoke: %s", strerror(-ret));
		}
		ret = set_memory(b, true, NULL);
		if (ret)
			die("memory enable: %s", strerror(-ret));
		ret = ioas_unmap(c, VMM_IOVA, n * 2 * MiB);
		if (ret)
			die("unmap of %u areas: %s", n, strerror(-ret));
	}
	if (wrong)
		miss(b, "revoke of %u areas: %u of %u maps afterwards did not get ENODEV",
		     n, wrong, rounds);
	close(c->dmabuf);
	stat_of(ns, rounds, st);
}

static void vmm_revoke(struct bench *b, struct vmm_ctx *c)
{
	struct p2pdma_edu_bench_stat st, first;
	char s[128], per[32], ratio[32], ratio2[48], what[32];
	unsigned int i, rounds, base = 0;

	rounds = b->runs < 64 ? b->runs : 64;
	for (i = 0; i < b->nr_counts; i++) {
		unsigned int n = b->counts[i];

		vmm_revoke1(b, c, n, &st, rounds);
		fmt_stat(&st, s, sizeof(s));
		if (!base) {
			base = n;
			first = st;
		}
		fmt_ratio(st.median_ns, first.median_ns, ratio, sizeof(ratio));
		if (n > base)
			fmt_ns((st.median_ns > first.median_ns ?
				st.median_ns - first.median_ns : 0) / (n - base),
			       per, sizeof(per));
		else
			snprintf(per, sizeof(per), "-");
		snprintf(what, sizeof(what), "%u area%s", n, n > 1 ? "s" : "");
		snprintf(ratio2, sizeof(ratio2), "%s of %u", ratio, base);
		row("revoke, MAP_FILE areas of one dma-buf", what, s, "",
		    ratio2, "%s per added area; a new map gets ENODEV; %u rounds",
		    per, rounds);
	}
}

static void mode_vmm(struct bench *b)
{
	struct vfio_region_info ri = {
		.argsz = sizeof(ri),
		.index = BAR,
	};
	struct vmm_ctx c = { .b = b, .iommufd = -1, .dmabuf = -1 };
	struct vmm_run t1[MAX_SIZES] = {}, fd[MAX_SIZES] = {};
	char sz[32], s1[128], s2[128], u1[128], u2[128], r[32], name[64];
	unsigned int i;
	int ret;

	snprintf(name, sizeof(name), "VMM map of the BAR, %s", b->topology);
	if (b->device < 0)
		vfio_open(b);
	if (ioctl(b->device, VFIO_DEVICE_GET_REGION_INFO, &ri))
		die("BAR region: %s", strerror(errno));
	ret = set_memory(b, true, NULL);
	if (ret)
		die("memory decode on: %s", strerror(-ret));
	c.va = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		    b->device, ri.offset);
	if (c.va == MAP_FAILED)
		die("mmap of the BAR: %s", strerror(errno));
	for (i = 0; i < b->nr_sizes; i++) {
		fmt_size(b->sizes[i], sz, sizeof(sz));
		ret = vmm_time(&c, b->sizes[i], vmm_type1, &t1[i]);
		if (ret)
			die("type1 MAP_DMA %s: %s", sz, strerror(-ret));
	}
	munmap(c.va, ri.size);

	/* the cdev cannot be opened while the group holds the device */
	vfio_close(b);
	cdev_open(b, &c);
	ret = set_memory(b, true, NULL);
	if (ret)
		die("memory decode on: %s", strerror(-ret));
	for (i = 0; i < b->nr_sizes; i++) {
		fmt_size(b->sizes[i], sz, sizeof(sz));
		c.dmabuf = export(b, b->sizes[i]);
		if (c.dmabuf < 0)
			die("export %s: %s", sz, strerror(-c.dmabuf));
		ret = vmm_time(&c, b->sizes[i], vmm_iommufd, &fd[i]);
		close(c.dmabuf);
		if (ret)
			die("IOMMU_IOAS_MAP_FILE %s: %s", sz, strerror(-ret));

		fmt_stat(&fd[i].map, s1, sizeof(s1));
		fmt_stat(&t1[i].map, s2, sizeof(s2));
		fmt_stat(&fd[i].unmap, u1, sizeof(u1));
		fmt_stat(&t1[i].unmap, u2, sizeof(u2));
		fmt_ratio(t1[i].map.median_ns, fd[i].map.median_ns, r,
			  sizeof(r));
		row(name, sz, s1, s2, r,
		    "MAP_FILE vs type1 MAP_DMA; unmap %s vs %s; new IOMMU table pages %+lld vs %+lld; %u/%u runs",
		    u1, u2, fd[i].iommu, t1[i].iommu, fd[i].runs, t1[i].runs);
		if (fd[i].memmap)
			miss(b, "vmm %s: %lld pages of struct page", sz,
			     fd[i].memmap);
		if (fd[i].iommu > t1[i].iommu)
			miss(b, "vmm %s: %lld IOMMU table pages, type1 %lld", sz,
			     fd[i].iommu, t1[i].iommu);
	}
	vmm_revoke(b, &c);
	vfio_close(b);
	close(c.iommufd);
}

static void help(void)
{
	fprintf(stderr,
		"usage: vfio_dmabuf_bench -p PROVIDER -i IMPORTER [options] MODE...\n"
		"  MODE: map p2pmem (provider bound to p2pdma_edu),\n"
		"        reg refault revoke export vmm (provider bound to vfio-pci)\n"
		"  -s SIZES   sizes, e.g. 4K,2M,1G (map, reg, refault, export, vmm; the first\n"
		"             for p2pmem)\n"
		"  -P SIZE    largest size of the per-page baseline (default 1G)\n"
		"  -n COUNTS  importers for revoke, areas for vmm (default 1,16,256)\n"
		"  -r RUNS    timed runs (default 11; map: rounded up to pairs)\n"
		"  -b MS      time budget per measurement (default 5000)\n"
		"  -t NAME    topology, for the table\n"
		"  -H         print the table header first\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct bench b = {
		.per_page_max = GiB,
		.runs = 11,
		.budget_ms = 5000,
		.topology = "?",
		.container = -1,
		.group = -1,
		.device = -1,
		.hca = -1,
	};
	char sizes[256] = "4K,2M,64M,1G", counts[256] = "1,16,256";
	char *tok, *save;
	struct rlimit rl;
	bool header = false;
	int opt, i;

	while ((opt = getopt(argc, argv, "p:i:s:P:n:r:b:t:H")) != -1) {
		switch (opt) {
		case 'p':
			b.provider_bdf = optarg;
			break;
		case 'i':
			b.importer_bdf = optarg;
			if (parse_pci(optarg, &b.importer))
				help();
			break;
		case 's':
			snprintf(sizes, sizeof(sizes), "%s", optarg);
			break;
		case 'P':
			b.per_page_max = parse_size(optarg);
			break;
		case 'n':
			snprintf(counts, sizeof(counts), "%s", optarg);
			break;
		case 'r':
			b.runs = atoi(optarg);
			break;
		case 'b':
			b.budget_ms = atoi(optarg);
			break;
		case 't':
			b.topology = optarg;
			break;
		case 'H':
			header = true;
			break;
		default:
			help();
		}
	}
	if (parse_pci(b.provider_bdf, &b.provider) || !b.importer ||
	    !b.runs || b.runs > P2PDMA_EDU_BENCH_MAX_RUNS)
		help();
	for (tok = strtok_r(sizes, ",", &save); tok && b.nr_sizes < MAX_SIZES;
	     tok = strtok_r(NULL, ",", &save)) {
		b.sizes[b.nr_sizes] = parse_size(tok);
		if (!b.sizes[b.nr_sizes] || b.sizes[b.nr_sizes] % PAGE)
			die("bad size %s", tok);
		b.nr_sizes++;
	}
	for (tok = strtok_r(counts, ",", &save); tok && b.nr_counts < MAX_SIZES;
	     tok = strtok_r(NULL, ",", &save)) {
		b.counts[b.nr_counts] = atoi(tok);
		if (!b.counts[b.nr_counts] || b.counts[b.nr_counts] > MAX_IMPORTS)
			die("bad count %s (1 to %d)", tok, MAX_IMPORTS);
		b.nr_counts++;
	}
	if (!b.nr_sizes || !b.nr_counts || (optind == argc && !header))
		help();
	/* one dma-buf fd per importer */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < 4 * MAX_IMPORTS) {
		rl.rlim_cur = rl.rlim_max < 4 * MAX_IMPORTS ? rl.rlim_max :
							      4 * MAX_IMPORTS;
		setrlimit(RLIMIT_NOFILE, &rl);
	}

	if (header) {
		row("benchmark", "size or importers",
		    "this series, median (min-max)", "baseline", "ratio",
		    "details");
		puts("|---|---|---|---|---|---|");
	}
	if (optind == argc)
		return 0;
	b.edu = open(P2PDMA_EDU_DEV, O_RDWR);
	if (b.edu < 0)
		die("%s: %s (p2pdma_edu.ko not loaded?)", P2PDMA_EDU_DEV,
		    strerror(errno));
	for (i = optind; i < argc; i++) {
		bool vfio = strcmp(argv[i], "map") && strcmp(argv[i], "p2pmem");

		if (vfio && b.device < 0 && strcmp(argv[i], "vmm"))
			vfio_open(&b);
		if ((!strcmp(argv[i], "reg") || !strcmp(argv[i], "refault")) &&
		    b.hca < 0) {
			b.hca = open(P2PDMA_HCA_DEV, O_RDWR);
			if (b.hca < 0)
				die("%s: %s (p2pdma_hca.ko not loaded?)",
				    P2PDMA_HCA_DEV, strerror(errno));
		}
		if (!strcmp(argv[i], "map"))
			mode_map(&b);
		else if (!strcmp(argv[i], "p2pmem"))
			mode_p2pmem(&b);
		else if (!strcmp(argv[i], "reg"))
			mode_reg(&b);
		else if (!strcmp(argv[i], "refault"))
			mode_refault(&b);
		else if (!strcmp(argv[i], "revoke"))
			mode_revoke(&b);
		else if (!strcmp(argv[i], "export"))
			mode_export(&b);
		else if (!strcmp(argv[i], "vmm"))
			mode_vmm(&b);
		else
			help();
		fflush(stdout);
	}
	close(b.edu);
	if (b.hca >= 0)
		close(b.hca);
	vfio_close(&b);
	return b.missed;
}
