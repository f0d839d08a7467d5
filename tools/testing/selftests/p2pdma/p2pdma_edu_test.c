// SPDX-License-Identifier: GPL-2.0
/*
 * dma_map_p2p() end to end: the p2pdma_edu test module maps a range of a
 * provider BAR for QEMU's edu device with dma_map_p2p(), edu DMAs to and
 * from it, and the data is checked in the memory that backs the BAR on the
 * host (the ivshmem backing file), byte for byte.
 *
 * Environment (the QEMU lab sets it; without it the tests are skipped, as
 * without the hardware):
 *   P2PDMA_PROVIDER   provider PCI address (bound to p2pdma_edu), BAR 2
 *   P2PDMA_IMPORTER   edu PCI address (bound to p2pdma_edu)
 *   P2PDMA_BAR_FILE   file holding the provider BAR's memory
 *   P2PDMA_EXPECT     bus-address, host-bridge or not-supported
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../kselftest_harness.h"
#include "p2pdma_edu.h"

#define BAR		2
#define PAGE		4096

static int parse_pci(const char *s, __u32 *addr)
{
	unsigned int dom, bus, dev, fn;

	if (!s || sscanf(s, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4)
		return -1;
	*addr = P2PDMA_EDU_PCI(dom, bus, dev, fn);
	return 0;
}

static void pattern(uint8_t *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 37 + i * 13 + (i >> 9));
}

struct p2p_env {
	int iommu;		/* the importer's DMA is translated by an IOMMU */
	int fd;
	int bar_fd;
	__u64 bar_size;
	__u32 provider;
	__u32 importer;
	const char *expect;
};

FIXTURE(p2p)
{
	struct p2p_env env;
};

FIXTURE(p2p_data)
{
	struct p2p_env env;
};

/* Is the importer in a translating IOMMU domain (not identity/none)? */
static int importer_translated(const char *pci)
{
	char path[128], type[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group/type",
		 pci);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(type, sizeof(type), f))
		type[0] = 0;
	fclose(f);
	return !strncmp(type, "DMA", 3);
}

/* Returns 0, or 1 if the lab environment is missing (skip). */
static int env_open(struct __test_metadata *_metadata, struct p2p_env *e)
{
	struct stat st;

	e->fd = -1;
	e->bar_fd = -1;
	e->expect = getenv("P2PDMA_EXPECT");
	if (parse_pci(getenv("P2PDMA_PROVIDER"), &e->provider) ||
	    parse_pci(getenv("P2PDMA_IMPORTER"), &e->importer) ||
	    !getenv("P2PDMA_BAR_FILE") || !e->expect)
		return 1;
	e->iommu = importer_translated(getenv("P2PDMA_IMPORTER"));
	e->fd = open(P2PDMA_EDU_DEV, O_RDWR);
	ASSERT_LE(0, e->fd) TH_LOG("%s: %s (p2pdma_edu.ko not loaded?)",
				   P2PDMA_EDU_DEV, strerror(errno));
	e->bar_fd = open(getenv("P2PDMA_BAR_FILE"), O_RDWR);
	ASSERT_LE(0, e->bar_fd);
	ASSERT_EQ(0, fstat(e->bar_fd, &st));
	e->bar_size = st.st_size;
	return 0;
}

static void env_close(struct p2p_env *e)
{
	if (e->fd >= 0)
		close(e->fd);
	if (e->bar_fd >= 0)
		close(e->bar_fd);
}

#define NO_LAB "no provider/edu importer (P2PDMA_* not set)"
/* Inside the lab (lab/vm sets LAB_RUN) a missing variable is a failure */
static void assert_not_in_lab(struct __test_metadata *_metadata)
{
	ASSERT_EQ(NULL, getenv("LAB_RUN"))
		TH_LOG("in the lab (LAB_RUN), but " NO_LAB);
}

FIXTURE_SETUP(p2p)
{
	if (env_open(_metadata, &self->env)) {
		assert_not_in_lab(_metadata);
		SKIP(return, NO_LAB);
	}
}

FIXTURE_TEARDOWN(p2p)
{
	env_close(&self->env);
}

FIXTURE_SETUP(p2p_data)
{
	if (env_open(_metadata, &self->env)) {
		assert_not_in_lab(_metadata);
		SKIP(return, NO_LAB);
	}
}

FIXTURE_TEARDOWN(p2p_data)
{
	env_close(&self->env);
}

static int do_map(struct p2p_env *self, __u32 importer, __u64 off,
		  __u64 len, struct p2pdma_edu_map *m)
{
	memset(m, 0, sizeof(*m));
	m->provider = self->provider;
	m->importer = importer;
	m->bar = BAR;
	m->offset = off;
	m->length = len;
	return ioctl(self->fd, P2PDMA_EDU_MAP, m) ? -errno : 0;
}

static int do_dma(struct p2p_env *self, __u64 addr, void *buf, __u64 len,
		  int to_device)
{
	struct p2pdma_edu_dma d = {
		.importer = self->importer, .to_device = to_device,
		.dma_addr = addr, .length = len,
		.user_buf = (uintptr_t)buf,
	};

	return ioctl(self->fd, P2PDMA_EDU_DMA, &d) ? -errno : 0;
}

static __u32 expect_type(const char *expect)
{
	if (!strcmp(expect, "bus-address"))
		return P2PDMA_EDU_BUS_ADDR;
	if (!strcmp(expect, "host-bridge"))
		return P2PDMA_EDU_THRU_HOST_BRIDGE;
	return P2PDMA_EDU_NOT_SUPPORTED;
}

/* The class the kernel computes is the one the topology was built for. */
TEST_F(p2p, classification)
{
	struct p2pdma_edu_map m;
	int ret;

	ret = do_map(&self->env, self->env.importer, 0, PAGE, &m);
	EXPECT_EQ(expect_type(self->env.expect), m.type);
	if (m.type == P2PDMA_EDU_NOT_SUPPORTED) {
		EXPECT_EQ(-EOPNOTSUPP, ret);
		return;
	}
	ASSERT_EQ(0, ret);
	TH_LOG("class %s: dma address %#llx, IOMMU mapping: %s", self->env.expect,
	       (unsigned long long)m.dma_addr, m.mapped ? "yes" : "no");
	/*
	 * A bus address needs no IOMMU mapping; through the host bridge there
	 * is one exactly when the importer is behind a translating IOMMU.
	 */
	EXPECT_EQ(m.type == P2PDMA_EDU_THRU_HOST_BRIDGE && self->env.iommu,
		  m.mapped);
	EXPECT_EQ(0, ioctl(self->env.fd, P2PDMA_EDU_UNMAP, &m.handle));
}

FIXTURE_VARIANT(p2p_data)
{
	__u64 map_off;		/* from the start of the BAR */
	__u64 map_len;		/* 0: to the end of the BAR */
	__u64 dma_off;		/* inside the mapping */
	__u64 dma_len;
};

FIXTURE_VARIANT_ADD(p2p_data, whole_bar) {
	.map_off = 0, .map_len = 0, .dma_off = 0x3000, .dma_len = PAGE,
};

FIXTURE_VARIANT_ADD(p2p_data, sub_range) {
	.map_off = 0x100000, .map_len = 0x10000, .dma_off = 0x2000,
	.dma_len = 2 * PAGE,
};

FIXTURE_VARIANT_ADD(p2p_data, last_page) {
	.map_off = ~0ULL, .map_len = PAGE, .dma_off = 0, .dma_len = PAGE,
};

/* A variant's range of the BAR: offset ~0 is the last page, length 0 the rest. */
static __u64 range_off(__u64 map_off, const struct p2p_env *e)
{
	return map_off == ~0ULL ? e->bar_size - PAGE : map_off;
}

static __u64 range_len(__u64 map_off, __u64 map_len, const struct p2p_env *e)
{
	return map_len ? map_len : e->bar_size - range_off(map_off, e);
}

/*
 * In a topology without a P2P path every mapping is refused, whatever the
 * range: check that and tell the caller to stop.
 */
static int refused_here(struct __test_metadata *_metadata,
			struct p2p_env *e, __u64 off, __u64 len)
{
	struct p2pdma_edu_map m;

	if (expect_type(e->expect) != P2PDMA_EDU_NOT_SUPPORTED)
		return 0;
	EXPECT_EQ(-EOPNOTSUPP, do_map(e, e->importer, off, len, &m));
	return 1;
}

/* edu writes a pattern through the mapping; it lands in the BAR's memory */
TEST_F(p2p_data, dma_write_lands)
{
	__u64 off = range_off(variant->map_off, &self->env);
	__u64 len = range_len(variant->map_off, variant->map_len, &self->env);
	__u64 at = off + variant->dma_off;
	uint8_t *want, *got, guard[16], after[16], check[16];
	struct p2pdma_edu_map m;
	size_t n = variant->dma_len;

	if (refused_here(_metadata, &self->env, off, len))
		return;
	want = malloc(n);
	got = malloc(n);
	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	ASSERT_EQ(0, do_map(&self->env, self->env.importer, off, len, &m));

	/* the bytes around the target must not change */
	if (at >= sizeof(guard))
		ASSERT_EQ((ssize_t)sizeof(guard),
			  pread(self->env.bar_fd, guard, sizeof(guard),
				at - sizeof(guard)));
	if (at + n + sizeof(after) <= self->env.bar_size)
		ASSERT_EQ((ssize_t)sizeof(after),
			  pread(self->env.bar_fd, after, sizeof(after), at + n));
	/* clear the target first: stale data cannot pass for a DMA */
	memset(got, 0, n);
	ASSERT_EQ((ssize_t)n, pwrite(self->env.bar_fd, got, n, at));
	pattern(want, n, (unsigned int)at);
	ASSERT_EQ(0, do_dma(&self->env, m.dma_addr + variant->dma_off, want, n, 1));
	ASSERT_EQ((ssize_t)n, pread(self->env.bar_fd, got, n, at));
	EXPECT_EQ(0, memcmp(want, got, n)) TH_LOG("data not in the BAR at %#llx",
						  (unsigned long long)at);
	if (at >= sizeof(guard)) {
		ASSERT_EQ((ssize_t)sizeof(check),
			  pread(self->env.bar_fd, check, sizeof(check),
				at - sizeof(check)));
		EXPECT_EQ(0, memcmp(guard, check, sizeof(check)));
	}
	if (at + n + sizeof(after) <= self->env.bar_size) {
		ASSERT_EQ((ssize_t)sizeof(check),
			  pread(self->env.bar_fd, check, sizeof(check), at + n));
		EXPECT_EQ(0, memcmp(after, check, sizeof(check)));
	}
	EXPECT_EQ(0, ioctl(self->env.fd, P2PDMA_EDU_UNMAP, &m.handle));
	free(want);
	free(got);
}

/* data put in the BAR's memory on the host is what edu reads */
TEST_F(p2p_data, dma_read)
{
	__u64 off = range_off(variant->map_off, &self->env);
	__u64 len = range_len(variant->map_off, variant->map_len, &self->env);
	__u64 at = off + variant->dma_off;
	size_t n = variant->dma_len;
	struct p2pdma_edu_map m;
	uint8_t *want, *got;

	if (refused_here(_metadata, &self->env, off, len))
		return;
	want = malloc(n);
	got = calloc(1, n);
	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	pattern(want, n, (unsigned int)at + 1);
	ASSERT_EQ((ssize_t)n, pwrite(self->env.bar_fd, want, n, at));
	ASSERT_EQ(0, do_map(&self->env, self->env.importer, off, len, &m));
	ASSERT_EQ(0, do_dma(&self->env, m.dma_addr + variant->dma_off, got, n, 0));
	EXPECT_EQ(0, memcmp(want, got, n));
	EXPECT_EQ(0, ioctl(self->env.fd, P2PDMA_EDU_UNMAP, &m.handle));
	free(want);
	free(got);
}

/*
 * dma_unmap_p2p() undoes exactly what dma_map_p2p() did: an IOMMU mapping
 * is removed and the old address no longer reaches the BAR; a bus address
 * or an untranslated (dma-direct) address involves no mapping, so there is
 * nothing to remove.
 */
TEST_F(p2p, unmap_undoes_the_mapping)
{
	uint8_t before[PAGE], after[PAGE], junk[PAGE];
	__u32 type = expect_type(self->env.expect);
	struct p2pdma_edu_map m;
	__u64 at = 0x5000;

	if (type == P2PDMA_EDU_NOT_SUPPORTED) {
		EXPECT_EQ(-EOPNOTSUPP, do_map(&self->env, self->env.importer, 0,
					      0x10000, &m));
		return;
	}
	ASSERT_EQ(0, do_map(&self->env, self->env.importer, 0, 0x10000, &m));
	ASSERT_EQ(type == P2PDMA_EDU_THRU_HOST_BRIDGE && self->env.iommu,
		  m.mapped);
	ASSERT_EQ(0, ioctl(self->env.fd, P2PDMA_EDU_UNMAP, &m.handle));
	ASSERT_EQ(PAGE, pread(self->env.bar_fd, before, PAGE, at));
	pattern(junk, PAGE, 99);
	/* edu reports no error: the proof is in the BAR's memory */
	ASSERT_EQ(0, do_dma(&self->env, m.dma_addr + at, junk, PAGE, 1));
	ASSERT_EQ(PAGE, pread(self->env.bar_fd, after, PAGE, at));
	if (m.mapped) {
		EXPECT_EQ(0, memcmp(before, after, PAGE))
			TH_LOG("DMA to an unmapped IOVA reached the BAR");
	} else {
		EXPECT_EQ(0, memcmp(junk, after, PAGE))
			TH_LOG("an unmapped address stopped working after unmap");
	}
	/* the same handle cannot be unmapped twice */
	EXPECT_EQ(-1, ioctl(self->env.fd, P2PDMA_EDU_UNMAP, &m.handle));
	EXPECT_EQ(ENOENT, errno);
}

static int do_map_ranges(struct p2p_env *e, struct p2pdma_edu_map_ranges *r)
{
	r->provider = e->provider;
	r->importer = e->importer;
	r->bar = BAR;
	return ioctl(e->fd, P2PDMA_EDU_MAP_RANGES, r) ? -errno : 0;
}

/*
 * dma_buf_phys_vec_to_sgt(): several ranges of the BAR become one sg_table,
 * in the order given, and DMA through each entry lands in its range.
 */
TEST_F(p2p, sg_ranges_in_order)
{
	static const __u64 off[] = { 0x30000, 0x10000, 0x20000 };
	static const __u64 len[] = { 0x2000, 0x1000, 0x4000 };
	struct p2pdma_edu_map_ranges r = { .nr_ranges = 3 };
	uint8_t want[PAGE], got[PAGE];
	unsigned int i;
	int ret;

	for (i = 0; i < 3; i++) {
		r.ranges[i].offset = off[i];
		r.ranges[i].length = len[i];
	}
	ret = do_map_ranges(&self->env, &r);
	if (expect_type(self->env.expect) == P2PDMA_EDU_NOT_SUPPORTED) {
		EXPECT_EQ(-EOPNOTSUPP, ret);
		return;
	}
	ASSERT_EQ(0, ret);
	ASSERT_EQ(3, r.nents);
	for (i = 0; i < 3; i++) {
		__u64 at = off[i] + len[i] - PAGE;	/* last page of the range */

		EXPECT_EQ(len[i], r.segs[i].len);
		pattern(want, PAGE, 40 + i);
		ASSERT_EQ(0, do_dma(&self->env, r.segs[i].addr + len[i] - PAGE,
				    want, PAGE, 1));
		ASSERT_EQ(PAGE, pread(self->env.bar_fd, got, PAGE, at));
		EXPECT_EQ(0, memcmp(want, got, PAGE))
			TH_LOG("range %u: data not at BAR offset %#llx", i,
			       (unsigned long long)at);
	}
	EXPECT_EQ(0, ioctl(self->env.fd, P2PDMA_EDU_UNMAP, &r.handle));
}

/*
 * The whole BAR as one range: one mapping, split into entries of at most
 * 2 GiB that are contiguous and add up to the BAR; the last page is
 * reached through the last entry.  Run with a BAR of 4 GiB or more to see
 * the split (the lab's p2pdma-rootports-8g suite).
 */
TEST_F(p2p, sg_whole_bar_split)
{
	struct p2pdma_edu_map_ranges r = { .nr_ranges = 1 };
	__u64 total = 0, size = self->env.bar_size;
	uint8_t want[PAGE], got[PAGE];
	unsigned int i, n;
	int ret;

	r.ranges[0].length = size;
	ret = do_map_ranges(&self->env, &r);
	if (expect_type(self->env.expect) == P2PDMA_EDU_NOT_SUPPORTED) {
		EXPECT_EQ(-EOPNOTSUPP, ret);
		return;
	}
	ASSERT_EQ(0, ret);
	n = (size + (2ULL << 30) - 1) / (2ULL << 30);
	ASSERT_EQ(n, r.nents);
	ASSERT_GE(P2PDMA_EDU_MAX_SEGS, n);
	for (i = 0; i < n; i++) {
		EXPECT_GE(2ULL << 30, r.segs[i].len);
		EXPECT_EQ(0, r.segs[i].len % PAGE);
		if (i)
			EXPECT_EQ(r.segs[i - 1].addr + r.segs[i - 1].len,
				  r.segs[i].addr);
		total += r.segs[i].len;
	}
	EXPECT_EQ(size, total);
	TH_LOG("%llu MiB BAR: %u sg entries", (unsigned long long)size >> 20, n);

	pattern(want, PAGE, 77);
	ASSERT_EQ(0, do_dma(&self->env, r.segs[n - 1].addr + r.segs[n - 1].len -
			    PAGE, want, PAGE, 1));
	ASSERT_EQ(PAGE, pread(self->env.bar_fd, got, PAGE, size - PAGE));
	EXPECT_EQ(0, memcmp(want, got, PAGE));
	EXPECT_EQ(0, ioctl(self->env.fd, P2PDMA_EDU_UNMAP, &r.handle));
}

static int set_mask(struct p2p_env *e, unsigned int bits)
{
	struct p2pdma_edu_mask mask = { .importer = e->importer, .bits = bits };

	return ioctl(e->fd, P2PDMA_EDU_SET_MASK, &mask) ? -errno : 0;
}

/*
 * The importer's DMA mask is honoured: without an IOMMU a BAR above the
 * mask is refused with ERANGE, with one the IOVA is allocated below it.
 */
TEST_F(p2p, dma_mask)
{
	__u32 type = expect_type(self->env.expect);
	struct p2pdma_edu_map m;
	int ret;

	/* 2 GiB: above the lab guest's RAM, below its 32-bit BAR window */
	ASSERT_EQ(0, set_mask(&self->env, 31));
	ret = do_map(&self->env, self->env.importer, 0, PAGE, &m);
	ASSERT_EQ(0, set_mask(&self->env, 64));
	if (type == P2PDMA_EDU_NOT_SUPPORTED) {
		EXPECT_EQ(-EOPNOTSUPP, ret);
	} else if (self->env.iommu && type == P2PDMA_EDU_THRU_HOST_BRIDGE) {
		ASSERT_EQ(0, ret);
		EXPECT_GT(1ULL << 31, m.dma_addr + PAGE - 1);
		EXPECT_EQ(0, ioctl(self->env.fd, P2PDMA_EDU_UNMAP, &m.handle));
	} else {
		/* the lab's BARs sit above 2 GiB */
		EXPECT_EQ(-ERANGE, ret);
	}
}

TEST_F(p2p, bad_ranges)
{
	struct p2pdma_edu_map m;

	/* the range is checked before the topology: EINVAL everywhere */
	EXPECT_EQ(-EINVAL, do_map(&self->env, self->env.importer, 0, 0, &m));
	EXPECT_EQ(-EINVAL, do_map(&self->env, self->env.importer, self->env.bar_size, PAGE, &m));
	EXPECT_EQ(-EINVAL, do_map(&self->env, self->env.importer, PAGE, self->env.bar_size, &m));
	EXPECT_EQ(-EINVAL, do_map(&self->env, self->env.importer, PAGE, ~0ULL - 2, &m));
}

static int do_bench(struct p2p_env *self, __u32 method, __u32 baseline,
		    __u32 iterations, struct p2pdma_edu_bench_map *m)
{
	memset(m, 0, sizeof(*m));
	m->provider = self->provider;
	m->importer = self->importer;
	m->bar = BAR;
	m->method = method;
	m->baseline = baseline;
	m->length = PAGE;
	m->iterations = iterations;
	m->budget_ms = 10000;
	return ioctl(self->fd, P2PDMA_EDU_BENCH_MAP, m) ? -errno : 0;
}

/*
 * P2PDMA_EDU_BENCH_MAP, on which make bench's ratio to the floor rests:
 * a baseline is another method, timed in whole pairs with the method,
 * both sides counted; without one, only the method runs.
 */
TEST_F(p2p, bench_map)
{
	const __u32 ranges = P2PDMA_EDU_BENCH_RANGES;
	const __u32 base = P2PDMA_EDU_BENCH_BASELINE(P2PDMA_EDU_BENCH_FLOOR);
	struct p2pdma_edu_bench_map m;
	__u64 want;
	int ret;

	/* checked before any map: EINVAL everywhere */
	EXPECT_EQ(-EINVAL, do_bench(&self->env, P2PDMA_EDU_BENCH_FLOOR, base,
				    2, &m));
	EXPECT_EQ(-EINVAL, do_bench(&self->env, P2PDMA_EDU_BENCH_FLOOR + 1, 0,
				    2, &m));
	EXPECT_EQ(-EINVAL, do_bench(&self->env, ranges,
				    P2PDMA_EDU_BENCH_BASELINE(P2PDMA_EDU_BENCH_FLOOR + 1),
				    2, &m));
	EXPECT_EQ(-EINVAL, do_bench(&self->env, ranges, base, 0, &m));
	EXPECT_EQ(-EINVAL, do_bench(&self->env, ranges, base,
				    P2PDMA_EDU_BENCH_MAX_RUNS + 1, &m));

	ret = do_bench(&self->env, ranges, 0, 3, &m);
	if (expect_type(self->env.expect) == P2PDMA_EDU_NOT_SUPPORTED) {
		EXPECT_EQ(-EOPNOTSUPP, ret);
		EXPECT_EQ(-EOPNOTSUPP, do_bench(&self->env, ranges, base, 3, &m));
		return;
	}
	ASSERT_EQ(0, ret);
	EXPECT_EQ(3, m.runs);
	EXPECT_EQ(1, m.nents);
	EXPECT_LT(0, m.map.min_ns);
	EXPECT_EQ(0, m.base_nents);
	EXPECT_EQ(0, m.base_map.max_ns);
	EXPECT_EQ(0, m.base_unmap.max_ns);
	EXPECT_EQ(0, m.ratio_pm.max_ns);

	/* 3 runs asked: 4 done, to end on a whole pair (A B, B A) */
	ASSERT_EQ(0, do_bench(&self->env, ranges, base, 3, &m));
	EXPECT_EQ(4, m.runs);
	EXPECT_EQ(1, m.nents);
	EXPECT_EQ(1, m.base_nents);
	EXPECT_LT(0, m.map.min_ns);
	EXPECT_LT(0, m.base_map.min_ns);
	EXPECT_LT(0, m.ratio_pm.min_ns);
	EXPECT_LE(m.ratio_pm.min_ns, m.ratio_pm.median_ns);
	EXPECT_LE(m.ratio_pm.median_ns, m.ratio_pm.max_ns);
	if (m.iommu_maps == P2PDMA_EDU_BENCH_UNCOUNTED)
		return;
	/*
	 * Ours maps through the IOMMU only through the host bridge; the
	 * floor, which checks nothing, wherever the importer is translated.
	 */
	want = expect_type(self->env.expect) == P2PDMA_EDU_THRU_HOST_BRIDGE &&
	       self->env.iommu;
	EXPECT_EQ(want, m.iommu_maps);
	EXPECT_EQ(self->env.iommu, m.base_iommu_maps);
}

/* A device that is not on PCI cannot be a P2P client. */
TEST_F(p2p, non_pci_importer)
{
	struct p2pdma_edu_map m;

	EXPECT_EQ(-ENODEV, do_map(&self->env, P2PDMA_EDU_NON_PCI, 0, PAGE, &m));
	EXPECT_EQ(P2PDMA_EDU_NOT_SUPPORTED, m.type);
}

TEST_HARNESS_MAIN
