// SPDX-License-Identifier: GPL-2.0
/*
 * dma-buf MRs of the RDMA core on a vfio-pci BAR: the p2pdma_hca test
 * module gives QEMU's edu device a stand-in HCA shaped like mlx5, a
 * registered RDMA device whose MRs the tests register through uverbs
 * (UVERBS_METHOD_REG_DMABUF_MR, raw, see p2pdma_hca_verbs.h).  An MR gets
 * its umem from ib_umem_dmabuf_get() and translates with a table of DMA
 * blocks (PAGE_SIZE, or the size ib_umem_find_best_pgsz() picks from
 * larger ones).  edu then does "RDMA writes and reads" on a QP into the
 * MR through that table.  What it writes is checked byte for byte in the
 * host file that backs the BAR.
 *
 * Covered: registration at offset 0, at offsets not aligned to a block or
 * to a page, across a 2 GiB split of the exporter's sg table, the whole
 * BAR; the block size (the largest the DMA addresses allow, or the
 * smallest that holds the MR whole) and the number of translation
 * entries, and mlx5's PAGE_SIZE blocks; revocation while registered
 * (memory decode off, reset, device close, vfio-pci's unbind) with the
 * invalidation seen, an access completing in error (its page fault fails
 * with ENODEV) and leaving its QP in error for good, a new QP working
 * again once the BAR is back; page faults retried on EAGAIN; a dma-buf
 * of two ranges; deregistration while revoked; the HCA's removal, which
 * deregisters its MRs; the pinned paths (refused by vfio-pci unless
 * revocable, working on udmabuf); registration errors from uverbs, the
 * RDMA core and the driver; the refusal in a topology without P2P.
 *
 * What the series changes in the RDMA core shows in reg_errors and the
 * pages a umem spans (the IOVA set from the offset), in short_exporter
 * (a mapping that does not cover the MR) and in the ENODEV of a revoked
 * pinned MR; the ENODEV of a revoked dynamic MR comes from vfio-pci.
 *
 * Environment: as vfio_dmabuf_test.c (VFIO_DMABUF_PROVIDER, _IMPORTER,
 * _BAR_FILE, _EXPECT); the kernel also needs CONFIG_INFINIBAND_USER_ACCESS
 * (with it CONFIG_INFINIBAND_USER_MEM) and CONFIG_UDMABUF (see config).
 */
#include <sys/syscall.h>
#include <linux/udmabuf.h>

#include "vfio_dmabuf_util.h"

#define SZ_2M		0x200000ULL
#define SZ_1G		0x40000000ULL
#define SZ_2G		0x80000000ULL

/* An RDMA write or read of MR @h posted on QP @qp and waited for */
static int mr_access_qp(struct dmabuf_env *e, __u32 qp, __u32 h, int write,
			__u64 iova, void *buf, __u64 len)
{
	struct p2pdma_edu_mr_access a = {
		.handle = h, .write = write, .iova = iova, .length = len,
		.user_buf = (uintptr_t)buf, .qp = qp,
	};

	return ioctl(e->hca, P2PDMA_EDU_MR_ACCESS, &a) ? -errno : 0;
}

static int mr_access(struct dmabuf_env *e, __u32 h, int write, __u64 iova,
		     void *buf, __u64 len)
{
	return mr_access_qp(e, e->qp, h, write, iova, buf, len);
}

static struct p2pdma_edu_qp_info qp_info(struct __test_metadata *_metadata,
					 struct dmabuf_env *e, __u32 qp)
{
	struct p2pdma_edu_qp_info q = { .handle = qp };

	EXPECT_EQ(0, ioctl(e->hca, P2PDMA_EDU_QP_INFO, &q))
		TH_LOG("QP_INFO %u: %s", qp, strerror(errno));
	return q;
}

static struct p2pdma_edu_mr_info mr_info(struct __test_metadata *_metadata,
					 struct dmabuf_env *e, __u32 h)
{
	struct p2pdma_edu_mr_info i = { .handle = h };

	EXPECT_EQ(0, ioctl(e->hca, P2PDMA_EDU_MR_INFO, &i))
		TH_LOG("MR_INFO %u: %s", h, strerror(errno));
	return i;
}

static __u64 align_down(__u64 x, __u64 a)
{
	return x & ~(a - 1);
}

static __u64 align_up(__u64 x, __u64 a)
{
	return align_down(x + a - 1, a);
}

/*
 * The block size is ib_umem_find_best_pgsz()'s: the smallest size of
 * @bitmap that holds the MR in one block, unless the MR's IOVA and its DMA
 * address disagree below it; then the largest size at which they agree
 * (the range is contiguous in DMA space, so nothing else limits it).  The
 * table has one entry per block the MR touches.
 */
static void check_blocks(struct __test_metadata *_metadata,
			 const struct p2pdma_hca_user_mr *r, __u64 bitmap,
			 const struct p2pdma_edu_mr_info *i)
{
	__u64 p = i->page_size, dma0, s, whole = 0, aligned = 0, want;
	__u64 span = r->iova ^ (r->iova + r->length - 1);

	ASSERT_EQ(1, i->valid);
	ASSERT_NE(0, p & bitmap) TH_LOG("block size %#llx not offered",
					(unsigned long long)p);
	EXPECT_EQ(r->page_size, p);
	dma0 = i->first_dma + (r->iova & (p - 1));
	for (s = 0x1000; s && s <= bitmap; s <<= 1) {
		if (!(bitmap & s))
			continue;
		if (!whole && s > span)
			whole = s;
		if (!((dma0 ^ r->iova) & (s - 1)))
			aligned = s;
	}
	want = whole && whole < aligned ? whole : aligned;
	EXPECT_EQ(want, p)
		TH_LOG("IOVA %#llx at DMA address %#llx: block %#llx, expected %#llx",
		       (unsigned long long)r->iova, (unsigned long long)dma0,
		       (unsigned long long)p, (unsigned long long)want);
	EXPECT_EQ((align_up(r->iova + r->length, p) -
		   align_down(r->iova, p)) / p, i->entries);
	EXPECT_EQ(i->entries, r->entries);
}

/*
 * edu writes a fresh pattern to MR bytes [@at, @at + @len) (an offset in
 * the MR), which must show up in the host file at @bar_off + @at, and
 * reads it back.
 */
static void check_access(struct __test_metadata *_metadata,
			 struct dmabuf_env *e, __u32 h,
			 const struct p2pdma_hca_user_mr *r, __u64 bar_off,
			 __u64 at, __u64 len, unsigned int seed)
{
	uint8_t *want = malloc(len), *got = malloc(len);

	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	fill(want, len, e->seed + seed * 7919 + at);
	clear_bar(_metadata, e, bar_off + at, len);
	ASSERT_EQ(0, mr_access(e, h, 1, r->iova + at, want, len))
		TH_LOG("RDMA write at MR offset %#llx", (unsigned long long)at);
	ASSERT_EQ((ssize_t)len, pread(e->bar_fd, got, len, bar_off + at));
	EXPECT_EQ(0, memcmp(want, got, len))
		TH_LOG("MR offset %#llx (+%#llx) is not at BAR offset %#llx",
		       (unsigned long long)at, (unsigned long long)len,
		       (unsigned long long)(bar_off + at));
	memset(got, 0, len);
	ASSERT_EQ(0, mr_access(e, h, 0, r->iova + at, got, len));
	EXPECT_EQ(0, memcmp(want, got, len))
		TH_LOG("RDMA read at MR offset %#llx: other data",
		       (unsigned long long)at);
	free(want);
	free(got);
}

/* @len bytes at BAR offset @at hold @want */
static void expect_bar(struct __test_metadata *_metadata, struct dmabuf_env *e,
		       __u64 at, const uint8_t *want, __u64 len, const char *what)
{
	uint8_t *got = malloc(len);

	ASSERT_NE(NULL, got);
	ASSERT_EQ((ssize_t)len, pread(e->bar_fd, got, len, at));
	EXPECT_EQ(0, memcmp(want, got, len))
		TH_LOG("%s: BAR offset %#llx (+%#llx) holds other data", what,
		       (unsigned long long)at, (unsigned long long)len);
	free(got);
}

/*
 * An RDMA write on @qp that must complete in error (EIO) and leave the
 * BAR as it was.
 */
static void check_write_fails(struct __test_metadata *_metadata,
			      struct dmabuf_env *e, __u32 qp, __u32 h,
			      __u64 iova, __u64 bar_off, const char *when)
{
	uint8_t before[BLOCK], junk[BLOCK];

	ASSERT_EQ(BLOCK, pread(e->bar_fd, before, BLOCK, bar_off));
	fill(junk, BLOCK, e->seed ^ 0xbad);
	EXPECT_EQ(-EIO, mr_access_qp(e, qp, h, 1, iova, junk, BLOCK))
		TH_LOG("RDMA write, %s: completes in error", when);
	expect_bar(_metadata, e, bar_off, before, BLOCK, when);
}

/*
 * An RDMA write whose page fault must fail with @err: the request
 * completes in error, the QP goes to the error state and the BAR is
 * untouched, as with mlx5.  The environment gets a new QP for what
 * follows; the old one, returned, stays in error.
 */
static __u32 check_access_fails(struct __test_metadata *_metadata,
				struct dmabuf_env *e, __u32 h, __u64 iova,
				__u64 bar_off, int err, const char *when)
{
	struct p2pdma_edu_qp_info q0, q;
	struct p2pdma_edu_mr_info i0, i;
	__u32 old = e->qp;

	q0 = qp_info(_metadata, e, old);
	ASSERT_EQ(0, q0.error) TH_LOG("%s: the QP was in error before", when);
	i0 = mr_info(_metadata, e, h);
	check_write_fails(_metadata, e, old, h, iova, bar_off, when);
	q = qp_info(_metadata, e, old);
	EXPECT_EQ(1, q.error) TH_LOG("%s: the QP is in error", when);
	EXPECT_EQ(-err, q.last_error) TH_LOG("%s: the fault's error", when);
	EXPECT_EQ(q0.page_faults + 1, q.page_faults)
		TH_LOG("%s: one page fault", when);
	EXPECT_EQ(q0.completions, q.completions);
	EXPECT_EQ(q0.flushed, q.flushed);
	i = mr_info(_metadata, e, h);
	EXPECT_EQ(i0.fault_errors + 1, i.fault_errors)
		TH_LOG("%s: the fault failed once", when);
	ASSERT_EQ(0, ioctl(e->hca, P2PDMA_EDU_CREATE_QP, &e->qp))
		TH_LOG("CREATE_QP: %s", strerror(errno));
	return old;
}

/*
 * A QP in error stays so, whatever the MR's state: a request on it is
 * flushed (EIO) without touching the BAR.
 */
static void check_qp_stays_in_error(struct __test_metadata *_metadata,
				    struct dmabuf_env *e, __u32 qp, __u32 h,
				    __u64 iova, __u64 bar_off, const char *when)
{
	struct p2pdma_edu_qp_info q = qp_info(_metadata, e, qp);
	__u32 flushed = q.flushed;

	check_write_fails(_metadata, e, qp, h, iova, bar_off, when);
	q = qp_info(_metadata, e, qp);
	EXPECT_EQ(1, q.error);
	EXPECT_EQ(flushed + 1, q.flushed) TH_LOG("%s: not flushed", when);
}

/* The MR saw @inval invalidations and holds a valid table or not. */
static struct p2pdma_edu_mr_info
expect_mr(struct __test_metadata *_metadata, struct dmabuf_env *e, __u32 h,
	  __u32 inval, __u32 valid, const char *when)
{
	struct p2pdma_edu_mr_info i = mr_info(_metadata, e, h);

	EXPECT_EQ(inval, i.invalidations)
		TH_LOG("%s: invalidations", when);
	EXPECT_EQ(valid, i.valid) TH_LOG("%s: translation valid", when);
	return i;
}

/*
 * Register [@off, @off + @len) of the whole-BAR dma-buf @fd at IOVA @off.
 * Returns true if registered; where the topology refuses P2P the
 * registration must fail with EOPNOTSUPP, and it returns false.
 */
static bool reg_bar(struct __test_metadata *_metadata, struct dmabuf_env *e,
		    int fd, __u64 off, __u64 len, __u64 pgsz, __u32 flags,
		    struct p2pdma_hca_user_mr *r)
{
	int ret = mr_reg(e, fd, off, len, off, pgsz, flags, r);

	ASSERT_EQ(map_ok(e), ret)
		TH_LOG("REG_MR of BAR [%#llx, +%#llx): %s",
		       (unsigned long long)off, (unsigned long long)len,
		       strerror(-ret));
	return !ret;
}

/* The provider open through vfio, and a dma-buf of its whole BAR2. */
FIXTURE(mr)
{
	struct dmabuf_env env;
	int fd;
};

FIXTURE_SETUP(mr)
{
	self->fd = -1;
	if (env_open(_metadata, &self->env)) {
		assert_not_in_lab(_metadata);
		SKIP(return, NO_LAB);
	}
	if (!need_hca(_metadata, &self->env))
		SKIP(return, NO_HCA);
	self->fd = export1(&self->env, 0, self->env.bar_size);
	ASSERT_LE(0, self->fd);
}

FIXTURE_TEARDOWN(mr)
{
	struct dmabuf_env *e = &self->env;
	char drv[64];

	if (self->fd >= 0)
		EXPECT_EQ(0, close(self->fd));
	env_close(e);
	/* After a failed unbind test: the next test needs both devices */
	if (!e->importer_bdf || !e->bdf[0])
		return;
	pci_driver(e->bdf, drv, sizeof(drv));
	if (!drv[0] && bind_vfio_pci(e->bdf))
		TH_LOG("could not bind %s to vfio-pci again", e->bdf);
	pci_driver(e->importer_bdf, drv, sizeof(drv));
	if (!drv[0] && sysfs_write("/sys/bus/pci/drivers/p2pdma_edu/bind",
				   e->importer_bdf))
		TH_LOG("could not bind %s to p2pdma_edu again",
		       e->importer_bdf);
}

/*
 * Where the MR is: in a dma-buf of the whole BAR, so that dma-buf offsets
 * are BAR offsets.  Registered with the large blocks of an HCA that is not
 * mlx5 (P2PDMA_EDU_MR_PGSZ_LARGE), to see what a P2P range allows.
 * @iova_base is added to the offset's low bits (modulo @iova_mod) to make
 * the MR's IOVA.
 */
FIXTURE(layout)
{
	struct dmabuf_env env;
	int fd;
	bool registered;
	__u32 h;
	__u64 off, len;
	struct p2pdma_hca_user_mr r;
};

FIXTURE_VARIANT(layout)
{
	__u64 off;		/* ~0ULL: 2 GiB - 8 KiB, across the split */
	__u64 len;		/* 0: to the end of the BAR */
	__u64 iova_base;
	__u64 iova_mod;
};

/* The start of the BAR, IOVA 0 */
FIXTURE_VARIANT_ADD(layout, offset_zero) {
	.off = 0, .len = 0x10000, .iova_base = 0, .iova_mod = SZ_1G,
};

/* Across a 2 MiB boundary, not page aligned, the IOVA agreeing up to 2 MiB */
FIXTURE_VARIANT_ADD(layout, unaligned_2m) {
	.off = 3 * SZ_2M - 0x1f80, .len = 0x4100,
	.iova_base = 0x7f0000000000ULL, .iova_mod = SZ_2M,
};

/* An IOVA that agrees with the offset only within the page: 4 KiB blocks */
FIXTURE_VARIANT_ADD(layout, unaligned_page) {
	.off = SZ_2M + 0x3080, .len = 0x3000,
	.iova_base = 0x10000000ULL + 0x1000, .iova_mod = 0x1000,
};

/* 8 KiB on each side of the exporter's 2 GiB sg split */
FIXTURE_VARIANT_ADD(layout, across_2g_split) {
	.off = ~0ULL, .len = 0x4000, .iova_base = 0, .iova_mod = SZ_1G,
};

/* The whole BAR, at the largest blocks */
FIXTURE_VARIANT_ADD(layout, whole_bar) {
	.off = 0, .len = 0, .iova_base = 0x100000000ULL, .iova_mod = SZ_1G,
};

FIXTURE_SETUP(layout)
{
	struct dmabuf_env *e = &self->env;
	int ret;

	self->fd = -1;
	self->registered = false;
	if (env_open(_metadata, e)) {
		assert_not_in_lab(_metadata);
		SKIP(return, NO_LAB);
	}
	if (!need_hca(_metadata, e))
		SKIP(return, NO_HCA);
	self->off = variant->off == ~0ULL ? SZ_2G - 0x2000 : variant->off;
	self->len = variant->len ? variant->len : e->bar_size;
	if (self->off + self->len > e->bar_size)
		SKIP(return, "BAR2 of %s is %llu MiB, the layout needs %llu MiB",
		     e->bdf, (unsigned long long)(e->bar_size >> 20),
		     (unsigned long long)((self->off + self->len) >> 20));
	self->fd = export1(e, 0, e->bar_size);
	ASSERT_LE(0, self->fd);
	ret = mr_reg(e, self->fd, self->off, self->len,
		     variant->iova_base +
		     (self->off & (variant->iova_mod - 1)),
		     P2PDMA_EDU_MR_PGSZ_LARGE, 0, &self->r);
	if (!e->p2p) {
		ASSERT_EQ(-EOPNOTSUPP, ret)
			TH_LOG("the topology refuses P2P: registration must fail with EOPNOTSUPP");
		return;
	}
	ASSERT_EQ(0, ret) TH_LOG("REG_MR at %#llx: %s",
				 (unsigned long long)self->off, strerror(-ret));
	self->h = self->r.handle;
	self->registered = true;
}

FIXTURE_TEARDOWN(layout)
{
	if (self->registered)
		EXPECT_EQ(0, mr_dereg(&self->env, &self->r));
	if (self->fd >= 0)
		close(self->fd);
	env_close(&self->env);
}

TEST_F(layout, blocks)
{
	struct p2pdma_edu_mr_info i;

	if (!self->env.p2p)
		return;
	i = mr_info(_metadata, &self->env, self->h);
	check_blocks(_metadata, &self->r, P2PDMA_EDU_MR_PGSZ_LARGE, &i);
	EXPECT_EQ(1, i.faults);
	EXPECT_EQ(0, i.invalidations);
	EXPECT_LE(1, i.nents);
	/* What the MR spans in the dma-buf, counted before the first map */
	EXPECT_EQ((align_up(self->off + self->len, PAGE) -
		   align_down(self->off, PAGE)) / PAGE, self->r.umem_pages);
	TH_LOG("MR %#llx+%#llx at IOVA %#llx: %llu entries of %#llx, %u sg entries",
	       (unsigned long long)self->off, (unsigned long long)self->len,
	       (unsigned long long)self->r.iova,
	       (unsigned long long)i.entries,
	       (unsigned long long)i.page_size, i.nents);
}

TEST_F_TIMEOUT(layout, write_read, 120)
{
	__u64 len = self->len, chunk = len < 0x4000 ? len : 0x4000;
	__u64 p = self->r.page_size, at;

	if (!self->env.p2p)
		return;
	/* First and last bytes, and across the first block boundary */
	check_access(_metadata, &self->env, self->h, &self->r, self->off, 0,
		     chunk, 1);
	check_access(_metadata, &self->env, self->h, &self->r, self->off,
		     len - chunk, chunk, 2);
	at = align_up(self->r.iova + 1, p) - self->r.iova;
	if (at > 0x800 && at + 0x800 <= len)
		check_access(_metadata, &self->env, self->h, &self->r,
			     self->off, at - 0x800, 0x1000, 3);
	if (self->off + len > SZ_2G && self->off < SZ_2G)
		check_access(_metadata, &self->env, self->h, &self->r,
			     self->off, SZ_2G - self->off - 0x10, 0x20, 4);
	/* Outside the MR */
	EXPECT_EQ(-EINVAL, mr_access(&self->env, self->h, 1,
				     self->r.iova - 1, &at, 1));
	EXPECT_EQ(-EINVAL, mr_access(&self->env, self->h, 1,
				     self->r.iova + len - 1, &at, 2));
	EXPECT_EQ(1, mr_info(_metadata, &self->env, self->h).faults);
}

/*
 * What mlx5 does (pgsz_bitmap 0): PAGE_SIZE blocks whatever the alignment,
 * one entry per page the MR touches, and accesses through them.
 */
TEST_F_TIMEOUT(mr, mlx5_page_size, 60)
{
	struct dmabuf_env *e = &self->env;
	__u64 off = 2 * SZ_2M + 0x1080, len = 0x5000;
	struct p2pdma_hca_user_mr r;
	struct p2pdma_edu_mr_info i;

	if (!reg_bar(_metadata, e, self->fd, off, len, 0, 0, &r))
		return;
	i = mr_info(_metadata, e, r.handle);
	EXPECT_EQ(PAGE, r.page_size);
	check_blocks(_metadata, &r, PAGE, &i);
	EXPECT_EQ((align_up(off + len, PAGE) - align_down(off, PAGE)) / PAGE,
		  r.entries);
	check_access(_metadata, e, r.handle, &r, off, 0, len, 1);
	EXPECT_EQ(0, mr_dereg(e, &r));
}

/* 4 KiB blocks only: one entry per page, against the largest blocks. */
TEST_F_TIMEOUT(mr, entries_4k, 60)
{
	struct dmabuf_env *e = &self->env;
	struct p2pdma_hca_user_mr big, small;
	struct p2pdma_edu_mr_info i;

	if (!reg_bar(_metadata, e, self->fd, 0, e->bar_size, 0x1000, 0,
		     &small))
		return;
	i = mr_info(_metadata, e, small.handle);
	check_blocks(_metadata, &small, 0x1000, &i);
	EXPECT_EQ(e->bar_size / PAGE, small.entries);
	ASSERT_TRUE(reg_bar(_metadata, e, self->fd, 0, e->bar_size,
			    P2PDMA_EDU_MR_PGSZ_LARGE, 0, &big));
	i = mr_info(_metadata, e, big.handle);
	check_blocks(_metadata, &big, P2PDMA_EDU_MR_PGSZ_LARGE, &i);
	/*
	 * BARs are naturally aligned, and so is the IOVA range of a whole
	 * BAR: at least 2 MiB blocks, 1 GiB ones from a 1 GiB BAR up.
	 */
	if (e->bar_size >= SZ_1G) {
		EXPECT_EQ(SZ_1G, big.page_size);
		EXPECT_EQ(e->bar_size / SZ_1G, big.entries);
	} else {
		EXPECT_LE(SZ_2M, big.page_size);
	}
	TH_LOG("%llu MiB BAR: %llu entries of 4 KiB, %llu of %llu KiB",
	       (unsigned long long)(e->bar_size >> 20),
	       (unsigned long long)small.entries,
	       (unsigned long long)big.entries,
	       (unsigned long long)(big.page_size >> 10));
	EXPECT_EQ(0, mr_dereg(e, &small));
	EXPECT_EQ(0, mr_dereg(e, &big));
}

/*
 * The errno contract of registration through uverbs: EBADF and EINVAL from
 * the RDMA core (ib_umem_dmabuf_get(), which refuses a zero length at any
 * offset), uverbs' own IOVA check and its check of the driver's flags
 * attribute, the stand-in HCA's own checks, and ENOENT from uverbs for
 * an MR it does not know.
 */
TEST_F(mr, reg_errors)
{
	struct p2pdma_hca_user_mr r, unknown = { .uobj = 12345 };
	struct dmabuf_env *e = &self->env;
	struct p2pdma_edu_mr_info i;
	int fd, null_fd;

	fd = export1(e, 0, 16 * PAGE);
	ASSERT_LE(0, fd);
	null_fd = open("/dev/null", O_RDWR);
	ASSERT_LE(0, null_fd);
	EXPECT_EQ(-EBADF, mr_reg(e, -1, 0, PAGE, 0, 0, 0, &r));
	EXPECT_EQ(-EINVAL, mr_reg(e, null_fd, 0, PAGE, 0, 0, 0, &r))
		TH_LOG("not a dma-buf");
	EXPECT_EQ(-EINVAL, mr_reg(e, fd, 0, 0, 0, 0, 0, &r));
	EXPECT_EQ(-EINVAL, mr_reg(e, fd, 0x800, 0, 0x800, 0, 0, &r))
		TH_LOG("zero length at an offset inside a page");
	EXPECT_EQ(-EINVAL, mr_reg(e, fd, 0, 16 * PAGE + 1, 0, 0, 0, &r));
	EXPECT_EQ(-EINVAL, mr_reg(e, fd, 15 * PAGE + 1, PAGE, 1, 0, 0, &r));
	EXPECT_EQ(-EINVAL, mr_reg(e, fd, ~0ULL - 0xfff, PAGE, 0, 0, 0, &r))
		TH_LOG("offset + length wraps");
	EXPECT_EQ(-EINVAL, mr_reg(e, fd, 0x100, PAGE, 0x200, 0, 0, &r))
		TH_LOG("IOVA and offset differ within the page");
	EXPECT_EQ(-EINVAL, mr_reg(e, fd, 0, PAGE, 0, SZ_2M, 0, &r))
		TH_LOG("no 4 KiB blocks");
	EXPECT_EQ(-EINVAL, mr_reg(e, fd, 0, PAGE, 0, 0,
				  P2PDMA_EDU_MR_PINNED |
				  P2PDMA_EDU_MR_PINNED_REVOCABLE, &r));
	EXPECT_EQ(-EINVAL, mr_reg(e, fd, 0, PAGE, 0, 0, 1 << 2, &r))
		TH_LOG("a flag the driver's attribute does not declare");
	/* A valid one for comparison */
	EXPECT_EQ(map_ok(e), mr_reg(e, fd, 0x800, PAGE, 0x800, 0, 0, &r));
	if (e->p2p) {
		EXPECT_EQ(2, r.umem_pages) TH_LOG("4 KiB at offset 0x800");
		EXPECT_EQ(0, mr_dereg(e, &r));
		i = (struct p2pdma_edu_mr_info){ .handle = r.handle };
		EXPECT_EQ(-1, ioctl(e->hca, P2PDMA_EDU_MR_INFO, &i));
		EXPECT_EQ(ENOENT, errno) TH_LOG("the key outlived its MR");
	}
	EXPECT_EQ(-ENOENT, mr_dereg(e, &unknown));
	close(null_fd);
	EXPECT_EQ(0, close(fd));
}

/*
 * An exporter whose mapping is shorter than its dma-buf: an MR inside
 * what it maps registers, one that reaches past it or starts after it is
 * refused with EINVAL (and a log line) rather than built from entries
 * that do not cover it.
 */
TEST_F(mr, short_exporter)
{
	struct p2pdma_edu_export_short x = {
		.size = 16 * PAGE, .mapped = 8 * PAGE,
	};
	struct dmabuf_env *e = &self->env;
	struct p2pdma_hca_user_mr r;
	struct p2pdma_edu_mr_info i;
	int fd;

	fd = ioctl(e->edu, P2PDMA_EDU_EXPORT_SHORT, &x);
	ASSERT_LE(0, fd) TH_LOG("EXPORT_SHORT: %s", strerror(errno));
	ASSERT_EQ(0, mr_reg(e, fd, PAGE, 4 * PAGE, PAGE, 0x1000, 0, &r));
	i = mr_info(_metadata, e, r.handle);
	EXPECT_EQ(4, i.entries);
	EXPECT_EQ(P2PDMA_EDU_SHORT_DMA + PAGE, i.first_dma);
	EXPECT_EQ(0, mr_dereg(e, &r));
	EXPECT_EQ(-EINVAL, mr_reg(e, fd, 6 * PAGE, 4 * PAGE, 6 * PAGE, 0,
				  0, &r))
		TH_LOG("an MR past the end of the mapping");
	EXPECT_EQ(-EINVAL, mr_reg(e, fd, 12 * PAGE, 2 * PAGE, 12 * PAGE, 0,
				  0, &r))
		TH_LOG("an MR after the end of the mapping");
	EXPECT_EQ(0, close(fd));
}

/*
 * Memory decode off while registered: one invalidation; an access faults,
 * the fault fails with ENODEV, the access completes in error and its QP
 * goes to the error state; nothing reaches the BAR; the MR stays
 * registered.  On again: one more invalidation, the next access from a
 * new QP faults the mapping in; the old QP stays in error.
 */
TEST_F_TIMEOUT(mr, revoke_memory_decode, 120)
{
	struct dmabuf_env *e = &self->env;
	struct p2pdma_hca_user_mr r;
	struct p2pdma_edu_mr_info i;
	__u64 off = 0x400000, old;
	__u32 dead_qp;

	if (!reg_bar(_metadata, e, self->fd, off, 0x10000, 0, 0, &r))
		return;
	check_access(_metadata, e, r.handle, &r, off, 0, PAGE, 1);
	/* IOVA @off is aligned to any block: the first is at BAR offset @off */
	old = expect_mr(_metadata, e, r.handle, 0, 1, "registered").first_dma;
	check_live_addr(_metadata, e, old, off);

	mark_provider(_metadata, e);
	ASSERT_EQ(0, set_memory(e, false));
	expect_mr(_metadata, e, r.handle, 1, 0, "memory decode off");
	expect_mr_revoke_first(_metadata, e, r.handle, 1, "memory decode off");
	dead_qp = check_access_fails(_metadata, e, r.handle, r.iova + PAGE,
				     off + PAGE, -ENODEV, "memory decode off");
	check_access_fails(_metadata, e, r.handle, r.iova, off, -ENODEV,
			   "memory decode off, again");
	i = expect_mr(_metadata, e, r.handle, 1, 0, "after failed accesses");
	EXPECT_EQ(1, i.faults);
	EXPECT_EQ(2, i.fault_errors);
	EXPECT_EQ(ENODEV, i.last_error);

	/*
	 * The old address is checked once the BAR decodes again and before
	 * the MR faults in: while decode is off no DMA could land anyway.
	 * The access after it, through the MR, is the positive control.
	 */
	ASSERT_EQ(0, set_memory(e, true));
	expect_mr(_metadata, e, r.handle, 2, 0, "memory decode on");
	check_old_addr(_metadata, e, old, off, true,
		       "memory decode on, not faulted in");
	check_access(_metadata, e, r.handle, &r, off, 0x2000, PAGE, 2);
	i = expect_mr(_metadata, e, r.handle, 2, 1, "faulted in again");
	EXPECT_EQ(2, i.faults);
	EXPECT_EQ(2, i.fault_errors);
	/* The MR works again from a new QP; the QP it killed stays dead */
	check_qp_stays_in_error(_metadata, e, dead_qp, r.handle, r.iova + PAGE,
				off + PAGE, "memory decode on");
	EXPECT_EQ(0, mr_dereg(e, &r));
}

/* A reset revokes and restores: the MR is invalidated twice and re-faults. */
TEST_F_TIMEOUT(mr, revoke_reset, 120)
{
	struct dmabuf_env *e = &self->env;
	struct p2pdma_hca_user_mr r;
	struct p2pdma_edu_mr_info i;
	__u64 off = 0x500000;

	if (!(e->dev_flags & VFIO_DEVICE_FLAGS_RESET))
		SKIP(return, "%s has no reset (no VFIO_DEVICE_FLAGS_RESET)",
		     e->bdf);
	if (!reg_bar(_metadata, e, self->fd, off, 0x10000, 0, 0, &r))
		return;
	check_access(_metadata, e, r.handle, &r, off, 0, PAGE, 1);
	mark_provider(_metadata, e);
	ASSERT_EQ(0, ioctl(e->device, VFIO_DEVICE_RESET))
		TH_LOG("VFIO_DEVICE_RESET: %s", strerror(errno));
	expect_mr(_metadata, e, r.handle, 2, 0, "after the reset");
	expect_mr_revoke_first(_metadata, e, r.handle, 1, "VFIO_DEVICE_RESET");
	check_access(_metadata, e, r.handle, &r, off, 0x3000, PAGE, 2);
	i = expect_mr(_metadata, e, r.handle, 2, 1, "faulted in again");
	EXPECT_EQ(2, i.faults);
	EXPECT_EQ(0, i.fault_errors);
	EXPECT_EQ(0, mr_dereg(e, &r));
}

/* Kernel log records written since @fd was opened that contain @what */
static int kmsg_count(int fd, const char *what)
{
	char rec[2048];
	int n = 0;
	ssize_t len;

	for (;;) {
		len = read(fd, rec, sizeof(rec) - 1);
		if (len < 0 && errno == EPIPE)
			continue;	/* overwritten records */
		if (len <= 0)
			return n;
		rec[len] = 0;
		if (strstr(rec, what) && strstr(rec, "fault addr"))
			n++;
	}
}

/*
 * A revoke while an RDMA write is in flight (64 KiB: 32 pieces of about
 * 200 ms each under QEMU), once its first piece has landed.  The write
 * completes in error with its QP in error (the fault fails with ENODEV);
 * what landed is a prefix of whole pieces; the zap waited for the piece in
 * flight and let the unmap go ahead only after it, so no DMA used the
 * mapping after it was gone: where edu's DMA is translated, the IOMMU
 * reports no fault for it (intel-iommu's record, as in the lab).
 */
TEST_F_TIMEOUT(mr, revoke_in_flight, 120)
{
	struct dmabuf_env *e = &self->env;
	const __u64 off = 0x900000, len = P2PDMA_EDU_MAX_DMA, piece = 0x800;
	uint8_t *want = malloc(len), *got = malloc(len);
	struct p2pdma_hca_user_mr r;
	struct p2pdma_edu_qp_info q;
	struct p2pdma_edu_mr_info i;
	const char *bdf = strchr(e->importer_bdf, ':');
	__u64 landed, at;
	int kmsg, st, tries;
	char dmar[32];
	pid_t pid;

	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	ASSERT_NE(NULL, bdf);
	/* The importer as intel-iommu's fault record names it: bus:dev.fn */
	snprintf(dmar, sizeof(dmar), "[%s]", bdf + 1);
	if (!reg_bar(_metadata, e, self->fd, off, len, 0, 0, &r)) {
		free(want);
		free(got);
		return;
	}
	clear_bar(_metadata, e, off, len);
	fill(want, len, e->seed ^ 0x1f1);
	want[0] |= 1;	/* the first byte shows the first piece landed */
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	ASSERT_LE(0, kmsg) TH_LOG("/dev/kmsg: %s", strerror(errno));
	ASSERT_LE(0, lseek(kmsg, 0, SEEK_END));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(-mr_access(e, r.handle, 1, r.iova, want, len));
	for (tries = 0; tries < 1000; tries++) {
		ASSERT_EQ(1, pread(e->bar_fd, got, 1, off));
		if (got[0])
			break;
		usleep(10 * 1000);
	}
	EXPECT_NE(0, got[0]) TH_LOG("the first piece did not land in 10 s");
	ASSERT_EQ(0, set_memory(e, false));
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(EIO, WEXITSTATUS(st))
		TH_LOG("the write was not cut by the revoke: %s",
		       strerror(WEXITSTATUS(st)));
	q = qp_info(_metadata, e, e->qp);
	EXPECT_EQ(1, q.error);
	EXPECT_EQ(ENODEV, q.last_error);
	i = mr_info(_metadata, e, r.handle);
	EXPECT_EQ(1, i.invalidations);
	EXPECT_EQ(0, i.inflight_at_unmap)
		TH_LOG("the unmap went ahead with a piece in flight");
	ASSERT_EQ(0, set_memory(e, true));

	ASSERT_EQ((ssize_t)len, pread(e->bar_fd, got, len, off));
	for (landed = 0; landed < len && got[landed] == want[landed]; landed++)
		;
	landed &= ~(piece - 1);
	EXPECT_LT(0, landed) TH_LOG("nothing landed before the revoke");
	for (at = landed; at < len && !got[at]; at++)
		;
	EXPECT_EQ(len, at)
		TH_LOG("byte %#llx changed, after whole pieces up to %#llx",
		       (unsigned long long)at, (unsigned long long)landed);
	if (e->iommu)
		EXPECT_EQ(0, kmsg_count(kmsg, dmar))
			TH_LOG("the IOMMU faulted edu's DMA after the unmap");
	TH_LOG("%llu of %llu bytes landed before the revoke; the zap waited for a piece %u time(s)",
	       (unsigned long long)landed, (unsigned long long)len,
	       i.zap_waits);
	close(kmsg);
	free(want);
	free(got);
	EXPECT_EQ(0, mr_dereg(e, &r));
}

/* Deregistration while revoked, then a new MR once the BAR is back. */
TEST_F_TIMEOUT(mr, dereg_while_revoked, 60)
{
	struct dmabuf_env *e = &self->env;
	struct p2pdma_hca_user_mr r;
	__u64 off = 0x600000;

	if (!reg_bar(_metadata, e, self->fd, off, 0x8000, 0, 0, &r))
		return;
	ASSERT_EQ(0, set_memory(e, false));
	expect_mr(_metadata, e, r.handle, 1, 0, "memory decode off");
	EXPECT_EQ(0, mr_dereg(e, &r));
	/* Registration maps up front: refused while revoked */
	EXPECT_EQ(-ENODEV, mr_reg(e, self->fd, off, 0x8000, off, 0, 0, &r));
	ASSERT_EQ(0, set_memory(e, true));
	ASSERT_TRUE(reg_bar(_metadata, e, self->fd, off, 0x8000, 0, 0, &r));
	check_access(_metadata, e, r.handle, &r, off, 0x1000, PAGE, 1);
	EXPECT_EQ(0, mr_dereg(e, &r));
}

/*
 * Deregistration while another process's RDMA writes run into the MR:
 * uverbs' MR_DESTROY waits for the write in progress, which completes
 * and lands; from then on the key is gone (ENOENT).  Run under KASAN, a
 * deregistration that freed the MR under the write would show.
 */
TEST_F_TIMEOUT(mr, dereg_during_access, 120)
{
	struct dmabuf_env *e = &self->env;
	__u64 off = 0xd00000, len = 0x10000;
	struct p2pdma_hca_user_mr r;
	uint8_t *buf;
	pid_t child;
	int st;

	if (!reg_bar(_metadata, e, self->fd, off, len, 0, 0, &r))
		return;
	child = fork();
	ASSERT_LE(0, child);
	if (!child) {
		unsigned int done = 0;
		int ret;

		buf = malloc(len);
		if (!buf)
			_exit(2);
		fill(buf, len, e->seed + 0xde6);
		/* Writes until the key is gone; every one before completes */
		while (!(ret = mr_access(e, r.handle, 1, r.iova, buf, len)))
			done++;
		_exit(ret == -ENOENT && done ? 0 : 1);
	}
	usleep(300000);
	EXPECT_EQ(0, mr_dereg(e, &r));
	ASSERT_EQ(child, waitpid(child, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st))
		TH_LOG("a write failed before the key was gone, or none was done");
	buf = malloc(len);
	ASSERT_NE(NULL, buf);
	fill(buf, len, e->seed + 0xde6);
	expect_bar(_metadata, e, off, buf, len, "the writes");
	free(buf);
}

/*
 * The MR's access rights, as a remote access error: a write into an MR
 * without IB_ACCESS_REMOTE_WRITE, or a read from one without
 * IB_ACCESS_REMOTE_READ, completes in error with EACCES before any DMA
 * and leaves the QP in error; what the MR allows works.  uverbs itself
 * refuses REMOTE_WRITE without LOCAL_WRITE.
 */
TEST_F(mr, access_rights)
{
	struct p2pdma_hca_user_mr r = {
		.fd = self->fd, .offset = 0xe00000, .length = 0x4000,
		.iova = 0xe00000,
		.access = IB_UVERBS_ACCESS_REMOTE_WRITE,
	};
	struct dmabuf_env *e = &self->env;
	struct p2pdma_edu_qp_info q;
	uint8_t buf[BLOCK];
	__u32 dead;
	int ret;

	EXPECT_EQ(-EINVAL, p2pdma_hca_reg_mr(&e->uv, &r))
		TH_LOG("REMOTE_WRITE without LOCAL_WRITE");

	/* Writable, not readable */
	r.access = IB_UVERBS_ACCESS_LOCAL_WRITE | IB_UVERBS_ACCESS_REMOTE_WRITE;
	ret = p2pdma_hca_reg_mr(&e->uv, &r);
	ASSERT_EQ(map_ok(e), ret) TH_LOG("registration: %s", strerror(-ret));
	if (ret)
		return;
	fill(buf, sizeof(buf), e->seed + 0xacc);
	clear_bar(_metadata, e, r.offset, sizeof(buf));
	ASSERT_EQ(0, mr_access(e, r.handle, 1, r.iova, buf, sizeof(buf)));
	expect_bar(_metadata, e, r.offset, buf, sizeof(buf), "RDMA write");
	EXPECT_EQ(-EIO, mr_access(e, r.handle, 0, r.iova, buf, sizeof(buf)))
		TH_LOG("RDMA read from an MR without REMOTE_READ");
	q = qp_info(_metadata, e, e->qp);
	EXPECT_EQ(1, q.error);
	EXPECT_EQ(EACCES, q.last_error);
	dead = e->qp;
	ASSERT_EQ(0, ioctl(e->hca, P2PDMA_EDU_CREATE_QP, &e->qp));
	EXPECT_EQ(0, mr_dereg(e, &r));

	/* Readable, not writable */
	r.access = IB_UVERBS_ACCESS_REMOTE_READ;
	ASSERT_EQ(0, p2pdma_hca_reg_mr(&e->uv, &r));
	check_write_fails(_metadata, e, e->qp, r.handle, r.iova, r.offset,
			  "RDMA write into an MR without REMOTE_WRITE");
	q = qp_info(_metadata, e, e->qp);
	EXPECT_EQ(EACCES, q.last_error);
	ASSERT_EQ(0, ioctl(e->hca, P2PDMA_EDU_CREATE_QP, &e->qp));
	memset(buf, 0, sizeof(buf));
	ASSERT_EQ(0, mr_access(e, r.handle, 0, r.iova, buf, sizeof(buf)));
	expect_bar(_metadata, e, r.offset, buf, sizeof(buf), "RDMA read");
	EXPECT_EQ(0, mr_dereg(e, &r));
	ioctl(e->hca, P2PDMA_EDU_DESTROY_QP, &dead);
}

/*
 * Closing the vfio device while an MR is registered revokes for good: one
 * invalidation, ENODEV from then on, deregistration still works.
 */
TEST_F_TIMEOUT(mr, close_device, 60)
{
	struct dmabuf_env *e = &self->env;
	struct p2pdma_hca_user_mr r;
	struct p2pdma_edu_mr_info i;
	__u64 off = 0x700000;

	if (!reg_bar(_metadata, e, self->fd, off, 0x8000, 0, 0, &r))
		return;
	check_access(_metadata, e, r.handle, &r, off, 0, PAGE, 1);
	mark_provider(_metadata, e);
	vfio_close(e);
	expect_mr(_metadata, e, r.handle, 1, 0, "device closed");
	expect_mr_revoke_first(_metadata, e, r.handle, 1, "device closed");
	check_access_fails(_metadata, e, r.handle, r.iova, off, -ENODEV,
			   "device closed");
	/* Reopening the device does not bring the dma-buf back */
	vfio_open(_metadata, e);
	check_access_fails(_metadata, e, r.handle, r.iova, off, -ENODEV,
			   "device reopened");
	i = expect_mr(_metadata, e, r.handle, 1, 0, "device reopened");
	EXPECT_EQ(2, i.fault_errors);
	EXPECT_EQ(0, mr_dereg(e, &r));
}

static int mr_inject_eagain(struct dmabuf_env *e, __u32 h, __u32 n)
{
	struct p2pdma_edu_mr_inject in = { .handle = h, .eagain = n };

	return ioctl(e->hca, P2PDMA_EDU_MR_INJECT_EAGAIN, &in) ? -errno : 0;
}

/*
 * A page fault answered with EAGAIN is retried, as mlx5 resumes the QP
 * without error: after three, the write completes and lands, the QP
 * counted three retries and four faults.  A fault that keeps failing with
 * EAGAIN gives up after 100 retries: the request completes in error with
 * EAGAIN, the QP stays in error, the BAR is untouched.
 */
TEST_F_TIMEOUT(mr, fault_eagain, 120)
{
	struct dmabuf_env *e = &self->env;
	struct p2pdma_edu_qp_info q0, q;
	struct p2pdma_edu_mr_info i0, i;
	struct p2pdma_hca_user_mr r;
	__u64 off = 0xc00000;

	if (!reg_bar(_metadata, e, self->fd, off, 0x8000, 0, 0, &r))
		return;
	/* A revoke and a restore: the entries are zapped */
	ASSERT_EQ(0, set_memory(e, false));
	ASSERT_EQ(0, set_memory(e, true));
	expect_mr(_metadata, e, r.handle, 2, 0, "decode off and on");

	ASSERT_EQ(0, mr_inject_eagain(e, r.handle, 3));
	q0 = qp_info(_metadata, e, e->qp);
	i0 = mr_info(_metadata, e, r.handle);
	check_access(_metadata, e, r.handle, &r, off, 0x1000, PAGE, 1);
	q = qp_info(_metadata, e, e->qp);
	EXPECT_EQ(0, q.error);
	EXPECT_EQ(q0.retries + 3, q.retries);
	EXPECT_EQ(q0.page_faults + 4, q.page_faults);
	i = expect_mr(_metadata, e, r.handle, 2, 1, "faulted in after EAGAIN");
	EXPECT_EQ(i0.fault_errors + 3, i.fault_errors);
	EXPECT_EQ(EAGAIN, i.last_error);
	EXPECT_EQ(i0.faults + 1, i.faults);

	ASSERT_EQ(0, set_memory(e, false));
	ASSERT_EQ(0, set_memory(e, true));
	ASSERT_EQ(0, mr_inject_eagain(e, r.handle, 1000));
	q0 = q;
	i0 = i;
	check_write_fails(_metadata, e, e->qp, r.handle, r.iova, off,
			  "EAGAIN for good");
	q = qp_info(_metadata, e, e->qp);
	EXPECT_EQ(1, q.error);
	EXPECT_EQ(EAGAIN, q.last_error);
	EXPECT_EQ(q0.retries + 100, q.retries);
	EXPECT_EQ(q0.page_faults + 101, q.page_faults);
	i = mr_info(_metadata, e, r.handle);
	EXPECT_EQ(i0.fault_errors + 101, i.fault_errors);

	ASSERT_EQ(0, mr_inject_eagain(e, r.handle, 0));
	ASSERT_EQ(0, ioctl(e->hca, P2PDMA_EDU_CREATE_QP, &e->qp));
	check_access(_metadata, e, r.handle, &r, off, 0x2000, PAGE, 2);
	EXPECT_EQ(0, mr_dereg(e, &r));
}

/*
 * Unbinding vfio-pci from the provider while an MR is registered: the
 * unbind revokes first, then waits for the device fd.  The MR is
 * invalidated once, before the device goes; an access faults with ENODEV
 * and kills its QP, the BAR untouched; the MR stays registered, revoked
 * for good, and deregisters.  Bound again, the BAR registers anew.
 */
TEST_F_TIMEOUT(mr, provider_unbind, 120)
{
	struct dmabuf_env *e = &self->env;
	struct p2pdma_edu_mr_info i;
	struct p2pdma_hca_user_mr r;
	__u64 off = 0xa00000;
	unsigned int ms;
	pid_t helper;
	char drv[64];
	int st, ret;

	if (!reg_bar(_metadata, e, self->fd, off, 0x8000, 0, 0, &r))
		return;
	check_access(_metadata, e, r.handle, &r, off, 0, PAGE, 1);

	mark_provider(_metadata, e);
	helper = fork();
	ASSERT_LE(0, helper);
	if (!helper)
		unbind_helper(e->bdf);
	for (ms = 0; ms < 30000; ms += 10) {
		i = mr_info(_metadata, e, r.handle);
		if (i.invalidations)
			break;
		usleep(10000);
	}
	EXPECT_EQ(1, i.invalidations) TH_LOG("unbind started, device fd open");
	expect_mr_revoke_first(_metadata, e, r.handle, 1, "unbinding");
	EXPECT_EQ(0, waitpid(helper, &st, WNOHANG))
		TH_LOG("the unbind did not wait for the device fd");
	check_access_fails(_metadata, e, r.handle, r.iova, off, -ENODEV,
			   "unbinding");

	vfio_close(e);
	ASSERT_EQ(helper, waitpid(helper, &st, 0));
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(0, WEXITSTATUS(st)) TH_LOG("unbind: %s",
					     strerror(WEXITSTATUS(st)));
	pci_driver(e->bdf, drv, sizeof(drv));
	EXPECT_STREQ("", drv);
	check_access_fails(_metadata, e, r.handle, r.iova + PAGE, off + PAGE,
			   -ENODEV, "unbound");
	i = expect_mr(_metadata, e, r.handle, 1, 0, "unbound");
	EXPECT_EQ(2, i.fault_errors);
	EXPECT_EQ(0, mr_dereg(e, &r));

	/* Bound again, the device exports and the BAR registers again */
	ret = bind_vfio_pci(e->bdf);
	ASSERT_EQ(0, ret) TH_LOG("binding %s to vfio-pci: %s", e->bdf,
				 strerror(-ret));
	vfio_open(_metadata, e);
	EXPECT_EQ(0, close(self->fd));
	self->fd = export1(e, 0, e->bar_size);
	ASSERT_LE(0, self->fd);
	ASSERT_TRUE(reg_bar(_metadata, e, self->fd, off, 0x8000, 0, 0, &r));
	check_access(_metadata, e, r.handle, &r, off, 0x1000, PAGE, 2);
	EXPECT_EQ(0, mr_dereg(e, &r));
}

/*
 * An MR on a dma-buf of two BAR ranges with a gap between them, as a VMM
 * exports a BAR with one range per mmap area.  With PAGE_SIZE entries
 * the table follows the ranges' concatenation: an RDMA write across the
 * seam lands at the end of the first range and the start of the second,
 * nothing in the gap, and reads back whole.  A second MR that starts in
 * the second range has a first sg entry that is not the first of the
 * exporter's table.
 */
TEST_F_TIMEOUT(mr, multi_range, 60)
{
	const struct vfio_region_dma_range rg[2] = {
		{ .offset = 0x900000, .length = 4 * PAGE },
		{ .offset = 0xb00000, .length = 4 * PAGE },
	};
	struct dmabuf_env *e = &self->env;
	struct p2pdma_hca_user_mr r, second;
	uint8_t *want, *got, *zero;
	int fd;

	want = malloc(2 * PAGE);
	got = malloc(2 * PAGE);
	zero = calloc(1, PAGE);
	ASSERT_TRUE(want && got && zero);
	fd = export_bar(e, BAR, O_RDWR | O_CLOEXEC, rg, 2);
	ASSERT_LE(0, fd) TH_LOG("export of two ranges: %s", strerror(-fd));
	if (!reg_bar(_metadata, e, fd, 0, 8 * PAGE, 0, 0, &r))
		goto out;
	EXPECT_EQ(PAGE, r.page_size);
	EXPECT_EQ(8, r.entries);

	fill(want, 2 * PAGE, e->seed + 0x5ea);
	clear_bar(_metadata, e, rg[0].offset + 3 * PAGE, 2 * PAGE);
	clear_bar(_metadata, e, rg[1].offset, PAGE);
	ASSERT_EQ(0, mr_access(e, r.handle, 1, r.iova + 3 * PAGE, want,
			       2 * PAGE));
	expect_bar(_metadata, e, rg[0].offset + 3 * PAGE, want, PAGE,
		   "last page of the first range");
	expect_bar(_metadata, e, rg[1].offset, want + PAGE, PAGE,
		   "first page of the second range");
	expect_bar(_metadata, e, rg[0].offset + 4 * PAGE, zero, PAGE,
		   "the gap after the first range");
	memset(got, 0, 2 * PAGE);
	ASSERT_EQ(0, mr_access(e, r.handle, 0, r.iova + 3 * PAGE, got,
			       2 * PAGE));
	EXPECT_EQ(0, memcmp(want, got, 2 * PAGE))
		TH_LOG("RDMA read across the seam: other data");

	ASSERT_TRUE(reg_bar(_metadata, e, fd, 5 * PAGE, 2 * PAGE, 0, 0,
			    &second));
	EXPECT_EQ(2, second.entries);
	check_access(_metadata, e, second.handle, &second, rg[1].offset + PAGE,
		     0, 2 * PAGE, 4);
	EXPECT_EQ(0, mr_dereg(e, &second));
	EXPECT_EQ(0, mr_dereg(e, &r));
out:
	EXPECT_EQ(0, close(fd));
	free(zero);
	free(got);
	free(want);
}

/*
 * Unbinding edu removes its HCA: the RDMA core unregisters the device,
 * uverbs disassociates the file, and the MR is deregistered before the
 * unbind returns: its key is gone, and so is its attachment to the
 * dma-buf.  The old file makes no new object (EIO); destroying the MR's
 * handle still works, as uverbs lets userspace clean up after a removal.
 * Bound again, edu brings a new HCA that registers MRs as before.
 */
TEST_F_TIMEOUT(mr, hca_unbind, 60)
{
	struct dmabuf_env *e = &self->env;
	struct p2pdma_edu_mr_info i;
	unsigned int before, after;
	struct p2pdma_hca_user_mr r, gone;
	__u64 off = 0x800000;
	int ret;

	if (!reg_bar(_metadata, e, self->fd, off, 0x8000, 0, 0, &r))
		return;
	check_access(_metadata, e, r.handle, &r, off, 0, PAGE, 1);
	ASSERT_LE(1, vfio_dmabufs(&before)) TH_LOG("no dma_buf/bufinfo in debugfs");
	ASSERT_EQ(1, before) TH_LOG("attachments to vfio-pci dma-bufs");

	ASSERT_EQ(0, unbind_driver(e->importer_bdf));
	i = (struct p2pdma_edu_mr_info){ .handle = r.handle };
	EXPECT_EQ(-1, ioctl(e->hca, P2PDMA_EDU_MR_INFO, &i));
	EXPECT_EQ(ENOENT, errno) TH_LOG("the MR's key outlived its HCA");
	vfio_dmabufs(&after);
	EXPECT_EQ(0, after) TH_LOG("the MR's attachment outlived its HCA");
	/* The old file makes nothing new; destroying a handle cleans it up */
	ret = mr_reg(e, self->fd, off, 0x8000, off, 0, 0, &gone);
	EXPECT_EQ(-EIO, ret) TH_LOG("registration on the disassociated file: %s",
				    strerror(-ret));
	ret = mr_dereg(e, &r);
	EXPECT_EQ(0, ret) TH_LOG("the MR's handle after the disassociation: %s",
				 strerror(-ret));

	ASSERT_EQ(0, sysfs_write("/sys/bus/pci/drivers/p2pdma_edu/bind",
				 e->importer_bdf));
	p2pdma_hca_verbs_close(&e->uv);
	ret = p2pdma_hca_verbs_open(e->importer_bdf, &e->uv);
	ASSERT_EQ(0, ret) TH_LOG("uverbs of the new HCA: %s", strerror(-ret));
	ASSERT_TRUE(reg_bar(_metadata, e, self->fd, off, 0x8000, 0, 0, &r));
	check_access(_metadata, e, r.handle, &r, off, 0x1000, PAGE, 1);
	EXPECT_EQ(0, mr_dereg(e, &r));
}

/*
 * The pinned paths: vfio-pci refuses a pin it cannot revoke; a revocable
 * pinned MR works until the first revoke and is dead from then on.
 */
TEST_F_TIMEOUT(mr, pinned, 60)
{
	struct dmabuf_env *e = &self->env;
	struct p2pdma_hca_user_mr r;
	struct p2pdma_edu_mr_info i;
	__u64 off = 0x800000;

	EXPECT_EQ(-EOPNOTSUPP, mr_reg(e, self->fd, off, 0x8000, off, 0,
				      P2PDMA_EDU_MR_PINNED, &r))
		TH_LOG("a pin that cannot be revoked");
	if (!reg_bar(_metadata, e, self->fd, off, 0x8000, 0,
		     P2PDMA_EDU_MR_PINNED_REVOCABLE, &r))
		return;
	check_access(_metadata, e, r.handle, &r, off, 0, PAGE, 1);
	mark_provider(_metadata, e);
	ASSERT_EQ(0, set_memory(e, false));
	i = expect_mr(_metadata, e, r.handle, 1, 0, "memory decode off");
	EXPECT_EQ(1, i.revoked);
	expect_mr_revoke_first(_metadata, e, r.handle, 1,
			       "memory decode off, pinned");
	check_access_fails(_metadata, e, r.handle, r.iova, off, -ENODEV,
			   "pinned MR revoked");
	ASSERT_EQ(0, set_memory(e, true));
	/* Revoked for good: the restore does not reach it */
	expect_mr(_metadata, e, r.handle, 1, 0, "memory decode on");
	check_access_fails(_metadata, e, r.handle, r.iova, off, -ENODEV,
			   "pinned MR after the restore");
	EXPECT_EQ(0, mr_dereg(e, &r));
}

/* The pinned path with an exporter that lets importers pin: udmabuf. */
TEST_F_TIMEOUT(mr, pinned_udmabuf, 60)
{
	struct dmabuf_env *e = &self->env;
	const __u64 size = 64 * PAGE;
	struct udmabuf_create c = { .size = size };
	/* the accesses cross the boundary of pages 9 and 10 of the memfd */
	const __u64 at = 2 * PAGE - BLOCK;
	struct p2pdma_hca_user_mr r;
	uint8_t want[2 * BLOCK], got[2 * BLOCK];
	int memfd, dev, fd;

	memfd = syscall(SYS_memfd_create, "mr", MFD_ALLOW_SEALING);
	ASSERT_LE(0, memfd);
	ASSERT_EQ(0, ftruncate(memfd, size));
	ASSERT_EQ(0, fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK));
	dev = open("/dev/udmabuf", O_RDWR);
	ASSERT_LE(0, dev) TH_LOG("/dev/udmabuf: %s (CONFIG_UDMABUF)",
				 strerror(errno));
	c.memfd = memfd;
	fd = ioctl(dev, UDMABUF_CREATE, &c);
	ASSERT_LE(0, fd) TH_LOG("UDMABUF_CREATE: %s", strerror(errno));

	ASSERT_EQ(0, mr_reg(e, fd, 8 * PAGE + 0x100, 4 * PAGE,
			    0x10000000 + 0x100, 0, P2PDMA_EDU_MR_PINNED, &r));
	fill(want, sizeof(want), e->seed ^ 0x0dab);
	ASSERT_EQ(0, mr_access(e, r.handle, 1, r.iova + at, want,
			       sizeof(want)));
	ASSERT_EQ((ssize_t)sizeof(got),
		  pread(memfd, got, sizeof(got), 8 * PAGE + 0x100 + at));
	EXPECT_EQ(0, memcmp(want, got, sizeof(got)))
		TH_LOG("the write is not in the memfd");
	memset(got, 0, sizeof(got));
	ASSERT_EQ(0, mr_access(e, r.handle, 0, r.iova + at, got,
			       sizeof(got)));
	EXPECT_EQ(0, memcmp(want, got, sizeof(got)));
	EXPECT_EQ(0, mr_info(_metadata, e, r.handle).invalidations);
	EXPECT_EQ(0, mr_dereg(e, &r));
	close(fd);
	close(dev);
	close(memfd);
}

TEST_HARNESS_MAIN
