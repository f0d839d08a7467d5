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

FIXTURE_SETUP(p2p)
{
	if (env_open(_metadata, &self->env))
		SKIP(return, NO_LAB);
}

FIXTURE_TEARDOWN(p2p)
{
	env_close(&self->env);
}

FIXTURE_SETUP(p2p_data)
{
	if (env_open(_metadata, &self->env))
		SKIP(return, NO_LAB);
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
	 * A bus address needs no IOMMU mapping; this lab's host bridge path
	 * is always behind the vIOMMU.
	 */
	EXPECT_EQ(m.type == P2PDMA_EDU_THRU_HOST_BRIDGE, m.mapped);
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

/* edu writes a pattern through the mapping; it lands in the BAR's memory */
TEST_F(p2p_data, dma_write_lands)
{
	__u64 off = variant->map_off == ~0ULL ? self->env.bar_size - PAGE :
		    variant->map_off;
	__u64 len = variant->map_len ? variant->map_len : self->env.bar_size - off;
	__u64 at = off + variant->dma_off;
	static const uint8_t zero[16];
	uint8_t *want, *got, guard[16];
	struct p2pdma_edu_map m;
	size_t n = variant->dma_len;

	if (expect_type(self->env.expect) == P2PDMA_EDU_NOT_SUPPORTED) {
		/* no path: refused, whatever the range */
		EXPECT_EQ(-EOPNOTSUPP, do_map(&self->env, self->env.importer,
					      off, len, &m));
		return;
	}
	want = malloc(n);
	got = malloc(n);
	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	ASSERT_EQ(0, do_map(&self->env, self->env.importer, off, len, &m));

	pattern(want, n, (unsigned int)at);
	ASSERT_EQ(0, do_dma(&self->env, m.dma_addr + variant->dma_off, want, n, 1));
	ASSERT_EQ((ssize_t)n, pread(self->env.bar_fd, got, n, at));
	EXPECT_EQ(0, memcmp(want, got, n)) TH_LOG("data not in the BAR at %#llx",
						  (unsigned long long)at);
	/* and nothing around it */
	if (at >= sizeof(guard)) {
		ASSERT_EQ((ssize_t)sizeof(guard),
			  pread(self->env.bar_fd, guard, sizeof(guard), at - sizeof(guard)));
		EXPECT_EQ(0, memcmp(guard, zero, sizeof(guard)));
	}
	EXPECT_EQ(0, ioctl(self->env.fd, P2PDMA_EDU_UNMAP, &m.handle));
	free(want);
	free(got);
}

/* data put in the BAR's memory on the host is what edu reads */
TEST_F(p2p_data, dma_read)
{
	__u64 off = variant->map_off == ~0ULL ? self->env.bar_size - PAGE :
		    variant->map_off;
	__u64 len = variant->map_len ? variant->map_len : self->env.bar_size - off;
	__u64 at = off + variant->dma_off;
	size_t n = variant->dma_len;
	struct p2pdma_edu_map m;
	uint8_t *want, *got;

	if (expect_type(self->env.expect) == P2PDMA_EDU_NOT_SUPPORTED) {
		EXPECT_EQ(-EOPNOTSUPP, do_map(&self->env, self->env.importer,
					      off, len, &m));
		return;
	}
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
 * involves no mapping, so there is nothing to remove.
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
	ASSERT_EQ(type == P2PDMA_EDU_THRU_HOST_BRIDGE, m.mapped);
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
			TH_LOG("a bus address stopped working after unmap");
	}
	/* the same handle cannot be unmapped twice */
	EXPECT_EQ(-1, ioctl(self->env.fd, P2PDMA_EDU_UNMAP, &m.handle));
	EXPECT_EQ(ENOENT, errno);
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

/* A device that is not on PCI cannot be a P2P client. */
TEST_F(p2p, non_pci_importer)
{
	struct p2pdma_edu_map m;

	EXPECT_EQ(-ENODEV, do_map(&self->env, P2PDMA_EDU_NON_PCI, 0, PAGE, &m));
	EXPECT_EQ(P2PDMA_EDU_NOT_SUPPORTED, m.type);
}

TEST_HARNESS_MAIN
