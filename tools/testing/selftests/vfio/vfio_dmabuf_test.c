// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO_DEVICE_FEATURE_DMA_BUF end to end: vfio-pci exports ranges of a BAR
 * of its device as a dma-buf, the p2pdma_edu test module attaches QEMU's
 * edu device to it as a dynamic peer-to-peer importer (like an RDMA driver
 * for a dma-buf MR) and edu DMAs through it.  What edu writes is checked
 * byte for byte in the memory that backs the BAR on the host, and what it
 * reads back must match.  The tests cover the uAPI's errors, the layout of
 * the dma-buf, and revocation: whenever userspace loses the BAR (memory
 * decode cleared, reset, hot reset, low power, device closed, driver
 * unbound) every importer is told once with move_notify and mappings fail
 * with ENODEV; once the BAR is usable again they are told once more.
 *
 * Needs (the QEMU lab provides it; without the environment the tests are
 * skipped as without the hardware):
 *   - a kernel with CONFIG_VFIO_PCI_DMABUF and CONFIG_DMABUF_MOVE_NOTIFY
 *     (see config), an IOMMU usable by the VFIO type1 backend;
 *   - the provider, a QEMU ivshmem-plain device bound to vfio-pci with its
 *     IOMMU group viable (only vfio-pci devices in it); BAR2 is its
 *     shared-memory BAR, backed by a file on the host;
 *   - the importer, a QEMU edu device bound to p2pdma_edu.ko (loaded);
 *   - root, for /dev/vfio and sysfs (the unbind test rebinds the provider
 *     to vfio-pci, whose driver_override must be "vfio-pci").
 *
 * Environment:
 *   VFIO_DMABUF_PROVIDER  PCI address of the provider (vfio-pci)
 *   VFIO_DMABUF_IMPORTER  PCI address of edu (p2pdma_edu)
 *   VFIO_DMABUF_BAR_FILE  the host file backing BAR2, readable here
 *   VFIO_DMABUF_EXPECT    bus-address, host-bridge or not-supported: how
 *                         edu reaches the BAR in this topology.  With
 *                         not-supported every mapping must be refused with
 *                         EOPNOTSUPP; that is checked instead of the data.
 *   VFIO_DMABUF_IO_DEVICE optional: a device with an I/O port BAR, bound
 *                         to vfio-pci (io_port_bar is skipped without it)
 *   VFIO_DMABUF_VARIANT_DEVICE
 *                         optional: a device bound to a vfio-pci variant
 *                         driver that does not export (variant_driver is
 *                         skipped without it)
 *
 * The vfio device is opened through the legacy group API; only one process
 * can hold the group, so every fixture closes everything it opened.
 */
#include "vfio_dmabuf_util.h"

/* clear_bar() the BAR bytes behind dma-buf bytes [@off, @off + @len) */
static void clear_dmabuf(struct __test_metadata *_metadata,
			 struct dmabuf_env *e,
			 const struct vfio_region_dma_range *r, unsigned int n,
			 __u64 off, __u64 len)
{
	__u64 done = 0, left, at, chunk;

	while (done < len) {
		at = bar_offset(r, n, off + done, &left);
		ASSERT_NE(0, left);
		chunk = len - done < left ? len - done : left;
		clear_bar(_metadata, e, at, chunk);
		done += chunk;
	}
}

/*
 * edu writes a fresh pattern to dma-buf bytes [@off, @off + @len) through
 * import @h: it must be in the host file where the ranges put those bytes,
 * and edu must read it back through the dma-buf.  Where the topology
 * refuses P2P, the DMA must fail with EOPNOTSUPP instead.
 */
static void check_dma(struct __test_metadata *_metadata, struct dmabuf_env *e,
		      __u32 h, const struct vfio_region_dma_range *r,
		      unsigned int n, __u64 off, __u64 len, unsigned int seed)
{
	uint8_t *want = malloc(len), *got = malloc(len);
	__u64 left, at = bar_offset(r, n, off, &left);
	int ret;

	ASSERT_NE(NULL, want);
	ASSERT_NE(NULL, got);
	fill(want, len, e->seed + seed * 7919 + off);
	clear_dmabuf(_metadata, e, r, n, off, len);
	ret = imp_dma(e, h, 1, off, want, len);
	if (!e->p2p) {
		EXPECT_EQ(-EOPNOTSUPP, ret)
			TH_LOG("the topology refuses P2P: DMA must fail with EOPNOTSUPP");
		goto out;
	}
	ASSERT_EQ(0, ret) TH_LOG("edu -> dma-buf offset %#llx: %s",
				 (unsigned long long)off, strerror(-ret));
	read_host(_metadata, e, r, n, off, got, len);
	EXPECT_EQ(0, memcmp(want, got, len))
		TH_LOG("dma-buf offset %#llx (+%#llx): not at BAR offset %#llx",
		       (unsigned long long)off, (unsigned long long)len,
		       (unsigned long long)at);
	memset(got, 0, len);
	ASSERT_EQ(0, imp_dma(e, h, 0, off, got, len));
	EXPECT_EQ(0, memcmp(want, got, len))
		TH_LOG("dma-buf offset %#llx: edu read back other data",
		       (unsigned long long)off);
out:
	free(want);
	free(got);
}

/* Wait up to @ms for import @h to have seen @notify move_notify calls. */
static struct p2pdma_edu_import_info
wait_notify(struct __test_metadata *_metadata, struct dmabuf_env *e, __u32 h,
	    __u32 notify, unsigned int ms)
{
	struct p2pdma_edu_import_info i;

	for (;;) {
		i = imp_info(_metadata, e, h);
		if (i.move_notify >= notify || !ms)
			return i;
		usleep(10000);
		ms = ms > 10 ? ms - 10 : 0;
	}
}

/* The first dma address of a mapped import, 0 if not mapped. */
static __u64 first_addr(struct __test_metadata *_metadata,
			struct dmabuf_env *e, __u32 h)
{
	struct p2pdma_edu_import_map m;

	if (!e->p2p)
		return 0;
	ASSERT_EQ(0, imp_map(e, h, &m));
	ASSERT_LT(0, m.nents);
	return m.segs[0].addr;
}

/*
 * Reap the child *@pid, which exits with 0 or the index in @why of what
 * it found wrong.
 */
static void expect_child_ok(struct __test_metadata *_metadata, pid_t *pid,
			    const char * const *why, unsigned int nr_why)
{
	int st;

	ASSERT_EQ(*pid, waitpid(*pid, &st, 0));
	*pid = 0;
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st))
		TH_LOG("%s", WEXITSTATUS(st) < nr_why ?
		       why[WEXITSTATUS(st)] : "?");
}

/* Basic fixture: the provider open through vfio, edu ready to import. */
FIXTURE(dmabuf)
{
	struct dmabuf_env env;
	pid_t child;
};

FIXTURE_SETUP(dmabuf)
{
	self->child = 0;
	if (env_open(_metadata, &self->env)) {
		assert_not_in_lab(_metadata);
		SKIP(return, NO_LAB);
	}
}

FIXTURE_TEARDOWN(dmabuf)
{
	if (self->child > 0) {
		kill(self->child, SIGKILL);
		waitpid(self->child, NULL, 0);
	}
	env_close(&self->env);
}

/* Fixture with variants: the layouts of a dma-buf. */
FIXTURE(export)
{
	struct dmabuf_env env;
	struct vfio_region_dma_range r[3];
	unsigned int n;
	__u64 size;
	int fd;
};

FIXTURE_VARIANT(export)
{
	unsigned int nr;
	/* length 0: to the end of the BAR */
	struct vfio_region_dma_range r[3];
	__u32 open_flags;
};

FIXTURE_VARIANT_ADD(export, whole_bar) {
	.nr = 1, .r = { { 0, 0 } }, .open_flags = O_RDWR | O_CLOEXEC,
};

FIXTURE_VARIANT_ADD(export, sub_range) {
	.nr = 1, .r = { { 0x100000, 0x10000 } }, .open_flags = O_RDWR,
};

FIXTURE_VARIANT_ADD(export, three_ranges) {
	.nr = 3,
	.r = { { 0x800000, 0x4000 }, { 0, 0x2000 }, { 0x200000, 0x1000 } },
	.open_flags = O_RDONLY | O_CLOEXEC,
};

FIXTURE_SETUP(export)
{
	unsigned int i;

	self->fd = -1;
	if (env_open(_metadata, &self->env)) {
		assert_not_in_lab(_metadata);
		SKIP(return, NO_LAB);
	}
	self->n = variant->nr;
	self->size = 0;
	for (i = 0; i < self->n; i++) {
		self->r[i] = variant->r[i];
		if (!self->r[i].length)
			self->r[i].length = self->env.bar_size -
					    self->r[i].offset;
		self->size += self->r[i].length;
	}
	self->fd = export_bar(&self->env, BAR, variant->open_flags, self->r,
			      self->n);
	ASSERT_LE(0, self->fd) TH_LOG("export: %s", strerror(-self->fd));
}

FIXTURE_TEARDOWN(export)
{
	env_close(&self->env);
	if (self->fd >= 0)
		close(self->fd);
}

/* Fixture with variants: in which order the holders let go. */
enum close_order {
	DEVICE_DMABUF_IMPORT,	/* device fd, dma-buf fd, import */
	DEVICE_IMPORT_DMABUF,	/* device fd, import, dma-buf fd */
	DMABUF_DEVICE_IMPORT,	/* dma-buf fd, device fd, import */
	DEVICE_EDU_DMABUF,	/* device fd, the importer's file, dma-buf fd */
};

FIXTURE(lifetime)
{
	struct dmabuf_env env;
};

FIXTURE_VARIANT(lifetime)
{
	enum close_order order;
	/* memory decode off (the dma-buf revoked) when the device closes */
	bool memory_off;
};

FIXTURE_VARIANT_ADD(lifetime, device_dmabuf_import) {
	.order = DEVICE_DMABUF_IMPORT,
};

FIXTURE_VARIANT_ADD(lifetime, device_import_dmabuf) {
	.order = DEVICE_IMPORT_DMABUF,
};

FIXTURE_VARIANT_ADD(lifetime, dmabuf_device_import) {
	.order = DMABUF_DEVICE_IMPORT,
};

FIXTURE_VARIANT_ADD(lifetime, device_edufile_dmabuf) {
	.order = DEVICE_EDU_DMABUF,
};

/* Mainline's c64a647c84f3 fixed a hang and an underflow on this order */
FIXTURE_VARIANT_ADD(lifetime, memory_off_device_dmabuf_import) {
	.order = DEVICE_DMABUF_IMPORT,
	.memory_off = true,
};

FIXTURE_SETUP(lifetime)
{
	if (env_open(_metadata, &self->env)) {
		assert_not_in_lab(_metadata);
		SKIP(return, NO_LAB);
	}
}

FIXTURE_TEARDOWN(lifetime)
{
	env_close(&self->env);
}

/* Unbinding vfio-pci: runs last, and leaves the provider bound again. */
FIXTURE(unbind)
{
	struct dmabuf_env env;
	pid_t helper;
};

FIXTURE_SETUP(unbind)
{
	self->helper = 0;
	if (env_open(_metadata, &self->env)) {
		assert_not_in_lab(_metadata);
		SKIP(return, NO_LAB);
	}
}

FIXTURE_TEARDOWN(unbind)
{
	char drv[64];

	/* The unbind completes once the device fd is closed */
	env_close(&self->env);
	if (self->helper > 0)
		waitpid(self->helper, NULL, 0);
	pci_driver(self->env.bdf, drv, sizeof(drv));
	if (!drv[0] && bind_vfio_pci(self->env.bdf))
		TH_LOG("could not bind %s to vfio-pci again", self->env.bdf);
}

/* ---------------------------------------------------------------------- */
/* The uAPI: probing and errors                                            */

TEST_F(dmabuf, feature_probe)
{
	int dev = self->env.device;
	__u32 hdr = sizeof(struct vfio_device_feature);

	/* GET is supported; probing needs no data */
	EXPECT_EQ(0, feature_dma_buf(dev, VFIO_DEVICE_FEATURE_PROBE | DMA_BUF_GET,
				     hdr, 0, 0, 0, 0, NULL, 0));
	EXPECT_EQ(0, feature_dma_buf(dev, VFIO_DEVICE_FEATURE_PROBE | DMA_BUF_GET,
				     FEAT_SZ(1), BAR, 0, 0, 1, NULL, 0));
	/* SET is not, probed or not */
	EXPECT_EQ(-EINVAL, feature_dma_buf(dev, VFIO_DEVICE_FEATURE_PROBE |
					   VFIO_DEVICE_FEATURE_SET |
					   VFIO_DEVICE_FEATURE_DMA_BUF,
					   hdr, 0, 0, 0, 0, NULL, 0));
	EXPECT_EQ(-EINVAL, feature_dma_buf(dev, VFIO_DEVICE_FEATURE_PROBE |
					   VFIO_DEVICE_FEATURE_SET | DMA_BUF_GET,
					   hdr, 0, 0, 0, 0, NULL, 0));
	EXPECT_EQ(-EINVAL, feature_dma_buf(dev, VFIO_DEVICE_FEATURE_SET |
					   VFIO_DEVICE_FEATURE_DMA_BUF,
					   FEAT_SZ(1), BAR, 0, 0, 1, NULL, 0));
	/* Neither GET nor SET */
	EXPECT_EQ(-EINVAL, feature_dma_buf(dev, VFIO_DEVICE_FEATURE_DMA_BUF,
					   FEAT_SZ(1), BAR, 0, 0, 1, NULL, 0));
}

TEST_F(dmabuf, bad_argsz)
{
	struct vfio_region_dma_range r[2] = {
		{ .offset = 0, .length = PAGE },
		{ .offset = PAGE, .length = PAGE },
	};
	int dev = self->env.device;

	/* Smaller than the feature header */
	EXPECT_EQ(-EINVAL, feature_dma_buf(dev, DMA_BUF_GET, 4, BAR, 0, 0, 1,
					   r, 1));
	/* Smaller than header + structure */
	EXPECT_EQ(-EINVAL, feature_dma_buf(dev, DMA_BUF_GET,
					   sizeof(struct vfio_device_feature),
					   BAR, 0, 0, 1, r, 1));
	EXPECT_EQ(-EINVAL, feature_dma_buf(dev, DMA_BUF_GET, FEAT_HDR - 1,
					   BAR, 0, 0, 1, r, 1));
	/* Not covering the ranges */
	EXPECT_EQ(-EINVAL, feature_dma_buf(dev, DMA_BUF_GET, FEAT_HDR, BAR, 0,
					   0, 1, r, 1));
	EXPECT_EQ(-EINVAL, feature_dma_buf(dev, DMA_BUF_GET, FEAT_SZ(1) - 1,
					   BAR, 0, 0, 1, r, 1));
	EXPECT_EQ(-EINVAL, feature_dma_buf(dev, DMA_BUF_GET, FEAT_SZ(1), BAR, 0,
					   0, 2, r, 2));
	EXPECT_EQ(-EINVAL, feature_dma_buf(dev, DMA_BUF_GET, FEAT_SZ(2) - 8,
					   BAR, 0, 0, 2, r, 2));
}

TEST_F(dmabuf, bad_flags)
{
	struct vfio_region_dma_range r = { .offset = 0, .length = PAGE };
	int dev = self->env.device;
	int fd;

	EXPECT_EQ(-EINVAL, feature_dma_buf(dev, DMA_BUF_GET, FEAT_SZ(1), BAR, 0,
					   1, 1, &r, 1));
	EXPECT_EQ(-EINVAL, feature_dma_buf(dev, DMA_BUF_GET, FEAT_SZ(1), BAR, 0,
					   0x80000000u, 1, &r, 1));
	/* The same request with flags 0 works */
	fd = feature_dma_buf(dev, DMA_BUF_GET, FEAT_SZ(1), BAR, 0, 0, 1, &r, 1);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, close(fd));
}

TEST_F(dmabuf, open_flags)
{
	static const __u32 acc[] = { O_RDONLY, O_WRONLY, O_RDWR };
	struct vfio_region_dma_range r = { .offset = 0, .length = PAGE };
	unsigned int i, cloexec;
	int fd, fl;

	for (i = 0; i < ARRAY_SIZE(acc); i++) {
		for (cloexec = 0; cloexec < 2; cloexec++) {
			__u32 of = acc[i] | (cloexec ? O_CLOEXEC : 0);

			fd = export_bar(&self->env, BAR, of, &r, 1);
			ASSERT_LE(0, fd) TH_LOG("open_flags %#x", of);
			fl = fcntl(fd, F_GETFD);
			ASSERT_LE(0, fl);
			EXPECT_EQ(cloexec, !!(fl & FD_CLOEXEC))
				TH_LOG("open_flags %#x: FD_CLOEXEC", of);
			fl = fcntl(fd, F_GETFL);
			ASSERT_LE(0, fl);
			EXPECT_EQ(acc[i], fl & O_ACCMODE)
				TH_LOG("open_flags %#x: access mode", of);
			EXPECT_EQ(0, close(fd));
		}
	}
}

/*
 * As in mainline, any other open_flags go to the new file, which keeps
 * the access mode and O_NONBLOCK (as every dma-buf does) and drops the
 * rest; the fd takes O_CLOEXEC.
 */
TEST_F(dmabuf, open_flags_passed_through)
{
	static const __u32 other[] = {
		O_NONBLOCK, O_APPEND, O_TRUNC, O_CREAT, O_DIRECT, O_ACCMODE,
		O_RDWR | O_CLOEXEC | O_NONBLOCK, O_WRONLY | O_SYNC,
		0x80000000u,
	};
	struct vfio_region_dma_range r = { .offset = 0, .length = PAGE };
	unsigned int i;
	int fd, fl;

	for (i = 0; i < ARRAY_SIZE(other); i++) {
		__u32 of = other[i];

		fd = export_bar(&self->env, BAR, of, &r, 1);
		ASSERT_LE(0, fd) TH_LOG("open_flags %#x: %s", of,
					strerror(-fd));
		fl = fcntl(fd, F_GETFD);
		ASSERT_LE(0, fl);
		EXPECT_EQ(!!(of & O_CLOEXEC), !!(fl & FD_CLOEXEC))
			TH_LOG("open_flags %#x: FD_CLOEXEC", of);
		fl = fcntl(fd, F_GETFL);
		ASSERT_LE(0, fl);
		EXPECT_EQ(of & (O_ACCMODE | O_NONBLOCK),
			  fl & (O_ACCMODE | O_NONBLOCK | O_APPEND | O_DIRECT |
				O_SYNC))
			TH_LOG("open_flags %#x: file flags %#x", of, fl);
		EXPECT_EQ(0, close(fd));
	}
}

/*
 * No fd left for the new dma-buf: EMFILE, and the dma-buf is gone at once
 * with its device reference (mainline e98137f0a874 fixed a double free
 * on this path; KASAN and kmemleak watch the lab's runs).
 */
TEST_F(dmabuf, no_fd_left)
{
	struct dmabuf_env *e = &self->env;
	struct rlimit old, rl;
	unsigned int att;
	int before, fd;

	before = vfio_dmabufs(&att);
	/* Every fd below the lowest free one is taken */
	fd = open("/dev/null", O_RDONLY);
	ASSERT_LE(0, fd);
	close(fd);
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	rl = old;
	rl.rlim_cur = fd;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &rl));
	fd = export1(e, 0, PAGE);
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &old));
	EXPECT_EQ(-EMFILE, fd);
	if (fd >= 0)
		close(fd);
	if (before >= 0)
		EXPECT_EQ(before, vfio_dmabufs(&att))
			TH_LOG("the failed export's dma-buf is still alive");

	/* The device is as it was */
	fd = export1(e, 0, PAGE);
	ASSERT_LE(0, fd);
	EXPECT_EQ(0, close(fd));
}

TEST_F(dmabuf, nr_ranges)
{
	struct vfio_region_dma_range r = { .offset = 0, .length = PAGE };
	int dev = self->env.device;

	EXPECT_EQ(-EINVAL, feature_dma_buf(dev, DMA_BUF_GET, FEAT_SZ(1), BAR, 0,
					   0, 0, &r, 1));
	EXPECT_EQ(-EINVAL, feature_dma_buf(dev, DMA_BUF_GET, FEAT_HDR, BAR, 0,
					   0, 0, NULL, 0));
	/*
	 * argsz must cover the ranges (mainline reads them whatever argsz
	 * says: a deliberate difference)
	 */
	EXPECT_EQ(-EINVAL, feature_dma_buf(dev, DMA_BUF_GET, FEAT_SZ(1), BAR, 0,
					   0, 1025, &r, 1));
	EXPECT_EQ(-EINVAL, feature_dma_buf(dev, DMA_BUF_GET, FEAT_SZ(1), BAR, 0,
					   0, 0xffffffffu, &r, 1));
	EXPECT_EQ(-EINVAL, feature_dma_buf(dev, DMA_BUF_GET, FEAT_SZ(1), BAR, 0,
					   0, 0x80000000u, &r, 1));
}

/*
 * Export @nr ranges of which only the first two are in memory (a PROT_NONE
 * page follows), with an argsz that covers them all.
 */
static int export_short(struct dmabuf_env *e, __u32 nr)
{
	long psz = sysconf(_SC_PAGESIZE);
	struct vfio_device_feature_dma_buf *db;
	struct vfio_device_feature *f;
	char *p;
	int ret;

	p = mmap(NULL, 2 * psz, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return -ENOMEM;
	if (mprotect(p + psz, psz, PROT_NONE)) {
		munmap(p, 2 * psz);
		return -ENOMEM;
	}
	f = (void *)(p + psz - FEAT_SZ(2));
	f->argsz = FEAT_SZ((__u64)nr);
	f->flags = DMA_BUF_GET;
	db = (void *)f->data;
	db->region_index = BAR;
	db->open_flags = O_CLOEXEC;
	db->flags = 0;
	db->nr_ranges = nr;
	db->dma_ranges[0].offset = 0;
	db->dma_ranges[0].length = PAGE;
	db->dma_ranges[1].offset = PAGE;
	db->dma_ranges[1].length = PAGE;
	ret = ioctl(e->device, VFIO_DEVICE_FEATURE, f);
	ret = ret < 0 ? -errno : ret;
	munmap(p, 2 * psz);
	return ret;
}

/*
 * Mainline's limit: more ranges than one kmalloc() holds are ENOMEM, checked
 * before the ranges are read (nothing large is allocated for them); up to
 * the limit the ranges are read, and the third one here faults.
 */
TEST_F(dmabuf, nr_ranges_limit)
{
	static const __u32 nr[] = { 0x0ffffffe, MAX_RANGES + 1 };
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(nr); i++) {
		ASSERT_GE(0xffffffffULL, FEAT_SZ((__u64)nr[i]));
		ret = export_short(&self->env, nr[i]);
		EXPECT_EQ(-ENOMEM, ret) TH_LOG("%u ranges: %s", nr[i],
					       strerror(-ret));
		if (ret >= 0)
			close(ret);
	}
	ret = export_short(&self->env, MAX_RANGES);
	EXPECT_EQ(-EFAULT, ret) TH_LOG("%llu ranges, 2 readable: %s",
				       MAX_RANGES, strerror(-ret));
	if (ret >= 0)
		close(ret);
}

/*
 * Far more ranges than a small cap would allow (QEMU's virtio-gpu blobs
 * pass one range per guest iov): 4096 ranges of one page, every other
 * page of the BAR; the last range of the dma-buf is the last one given.
 */
TEST_F_TIMEOUT(dmabuf, many_ranges, 120)
{
	const unsigned int n = 4096;
	struct vfio_region_dma_range *r;
	struct stat st;
	__u64 size = 0;
	unsigned int i;
	__u32 h = 0;
	int fd;

	ASSERT_LE(2 * n * PAGE, self->env.bar_size);
	r = calloc(n, sizeof(*r));
	ASSERT_NE(NULL, r);
	for (i = 0; i < n; i++) {
		r[i].offset = 2 * i * PAGE;
		r[i].length = PAGE;
	}
	fd = export_bar(&self->env, BAR, O_RDWR, r, n);
	ASSERT_LE(0, fd) TH_LOG("%u ranges: %s", n, strerror(-fd));
	ASSERT_EQ(0, fstat(fd, &st));
	EXPECT_EQ(n * PAGE, (__u64)st.st_size);
	ASSERT_EQ(0, imp_import(&self->env, fd, 0, &h, &size));
	EXPECT_EQ(n * PAGE, size);
	EXPECT_EQ(map_ok(&self->env), imp_map_ret(&self->env, h));
	check_dma(_metadata, &self->env, h, r, n, (n - 1) * PAGE, PAGE, 1);
	check_dma(_metadata, &self->env, h, r, n, 1024 * PAGE, PAGE, 2);
	EXPECT_EQ(0, imp_close(&self->env, h));
	EXPECT_EQ(0, close(fd));
	free(r);
}

/*
 * Mainline's errnos, in mainline's order: each range on its own and the
 * sum of the lengths first (EINVAL), then each range in the BAR, where an
 * address that wraps around 2^64 is EOVERFLOW and a range past the end of
 * the BAR EINVAL.
 */
TEST_F(dmabuf, bad_ranges)
{
	const __u64 bar = self->env.bar_size;
	const struct {
		const char *what;
		int err;
		unsigned int n;
		struct vfio_region_dma_range r[2];
	} c[] = {
		{ "zero length", EINVAL, 1, { { 0, 0 } } },
		{ "unaligned offset", EINVAL, 1, { { 0x800, PAGE } } },
		{ "unaligned length", EINVAL, 1, { { 0, PAGE + 0x800 } } },
		{ "sub-page length", EINVAL, 1, { { 0, 0x100 } } },
		{ "offset at the end of the BAR", EINVAL, 1, { { bar, PAGE } } },
		{ "offset past the BAR", EINVAL, 1, { { 2 * bar, PAGE } } },
		{ "ends past the BAR", EINVAL, 1, { { bar - PAGE, 2 * PAGE } } },
		{ "longer than the BAR", EINVAL, 1, { { 0, bar + PAGE } } },
		{ "wraps past 2^64", EOVERFLOW, 1, { { -PAGE, 2 * PAGE } } },
		/* the BAR's address is above 2 pages: it wraps, offset + length not */
		{ "wraps with the BAR's address", EOVERFLOW, 1,
		  { { -2 * PAGE, PAGE } } },
		{ "ends at 2^64 (length of 2^63 or more)", EINVAL, 1,
		  { { PAGE, -PAGE } } },
		{ "huge length", EINVAL, 1, { { 0, -PAGE } } },
		{ "second range: zero length", EINVAL, 2,
		  { { 0, PAGE }, { PAGE, 0 } } },
		{ "second range: unaligned", EINVAL, 2,
		  { { 0, PAGE }, { 0x1800, PAGE } } },
		{ "second range: past the BAR", EINVAL, 2,
		  { { 0, PAGE }, { bar - PAGE, 2 * PAGE } } },
		{ "second range: wraps", EOVERFLOW, 2,
		  { { 0, PAGE }, { -PAGE, 2 * PAGE } } },
		/* the length checks of every range come first */
		{ "wraps, then zero length", EINVAL, 2,
		  { { -PAGE, 2 * PAGE }, { 0, 0 } } },
		/* caught by the sum's overflow and its bit 63 alike */
		{ "sum of the lengths wraps", EINVAL, 2,
		  { { 0, 1ULL << 63 }, { 0, 1ULL << 63 } } },
	};
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(c); i++) {
		ret = export_bar(&self->env, BAR, 0, c[i].r, c[i].n);
		EXPECT_EQ(-c[i].err, ret)
			TH_LOG("%s: {%#llx, %#llx}%s: %s, not %s", c[i].what,
			       (unsigned long long)c[i].r[c[i].n - 1].offset,
			       (unsigned long long)c[i].r[c[i].n - 1].length,
			       c[i].n > 1 ? " after another range" : "",
			       ret < 0 ? strerror(-ret) : "a dma-buf",
			       strerror(c[i].err));
		if (ret >= 0)
			close(ret);
	}
	/* The boundary itself is fine: the last page, and the whole BAR */
	ret = export1(&self->env, bar - PAGE, PAGE);
	ASSERT_LE(0, ret);
	close(ret);
	ret = export1(&self->env, 0, bar);
	ASSERT_LE(0, ret);
	close(ret);
}

TEST_F(dmabuf, not_a_bar)
{
	static const __u32 idx[] = {
		VFIO_PCI_ROM_REGION_INDEX, VFIO_PCI_CONFIG_REGION_INDEX,
		VFIO_PCI_VGA_REGION_INDEX, VFIO_PCI_NUM_REGIONS, 64,
		0x80000000u, 0xffffffffu,
	};
	struct vfio_region_dma_range r = { .offset = 0, .length = PAGE };
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(idx); i++) {
		ret = export_bar(&self->env, idx[i], 0, &r, 1);
		EXPECT_EQ(-ENODEV, ret) TH_LOG("region_index %#x", idx[i]);
		if (ret >= 0)
			close(ret);
	}
}

/*
 * BARs that exist as region indexes but cannot be exported, with
 * mainline's errnos.  ivshmem-plain has BAR0, 256 bytes of registers (a
 * sub-page BAR: no page-aligned range fits, EINVAL), no BAR1 (nothing to
 * claim, ENODEV), and BAR2, the memory; it has no I/O port BAR, see
 * io_port_bar for that.
 */
TEST_F(dmabuf, bar_not_exportable)
{
	static const struct {
		__u32 index;
		int err;
	} c[] = {
		{ VFIO_PCI_BAR0_REGION_INDEX, EINVAL },
		{ VFIO_PCI_BAR1_REGION_INDEX, ENODEV },
	};
	struct vfio_region_dma_range r = { .offset = 0, .length = PAGE };
	struct vfio_region_info ri;
	unsigned int i;
	int ret;

	for (i = 0; i < ARRAY_SIZE(c); i++) {
		region_info(_metadata, &self->env, c[i].index, &ri);
		TH_LOG("BAR%u: %llu bytes, mmap %s", c[i].index,
		       (unsigned long long)ri.size,
		       ri.flags & VFIO_REGION_INFO_FLAG_MMAP ? "yes" : "no");
		/* the premise: sub-page, or not implemented */
		EXPECT_EQ(c[i].err == ENODEV, !ri.size);
		EXPECT_GT(PAGE, ri.size);
		ret = export_bar(&self->env, c[i].index, 0, &r, 1);
		EXPECT_EQ(-c[i].err, ret) TH_LOG("BAR%u", c[i].index);
		if (ret >= 0)
			close(ret);
	}
}

/*
 * The first BAR of @bdf whose resource flags have @flag (IORESOURCE_IO
 * 0x100, IORESOURCE_MEM 0x200) and that is at least @min_len long, or -1.
 */
static int find_bar(const char *bdf, unsigned long long flag,
		    unsigned long long min_len)
{
	unsigned long long start, end, flags;
	char path[PATH_MAX];
	int bar, found = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
	f = fopen(path, "r");
	if (!f)
		return -1;
	for (bar = 0; bar < 6 && found < 0; bar++)
		if (fscanf(f, "%llx %llx %llx", &start, &end, &flags) == 3 &&
		    flags & flag && end && end - start + 1 >= min_len)
			found = bar;
	fclose(f);
	return found;
}

/*
 * An I/O port BAR cannot be exported; as in mainline, EINVAL.  The lab
 * adds a QEMU pci-testdev (BAR1 is I/O ports), bound to vfio-pci, for this
 * test.
 */
TEST(io_port_bar)
{
	const char *bdf = getenv("VFIO_DMABUF_IO_DEVICE");
	struct vfio_region_dma_range r = { .offset = 0, .length = PAGE };
	struct dmabuf_env e = { .container = -1, .group = -1, .device = -1 };
	int bar, ret;

	if (!bdf)
		SKIP(return, "no device with an I/O port BAR (VFIO_DMABUF_IO_DEVICE)");
	snprintf(e.bdf, sizeof(e.bdf), "%s", bdf);
	bar = find_bar(bdf, 0x100 /* IORESOURCE_IO */, 1);
	ASSERT_LE(0, bar) TH_LOG("%s has no I/O port BAR", bdf);
	vfio_open_group(_metadata, &e);
	e.device = ioctl(e.group, VFIO_GROUP_GET_DEVICE_FD, e.bdf);
	ASSERT_LE(0, e.device) TH_LOG("%s: %s", bdf, strerror(errno));
	ret = export_bar(&e, VFIO_PCI_BAR0_REGION_INDEX + bar, 0, &r, 1);
	EXPECT_EQ(-EINVAL, ret) TH_LOG("%s BAR%d (I/O ports)", bdf, bar);
	if (ret >= 0)
		close(ret);
	vfio_close(&e);
}

/*
 * A variant driver that has not opted in says so, to PROBE too, as in
 * mainline: VMMs (cloud-hypervisor) probe before they export.  The lab
 * binds a modern virtio-net device to virtio_vfio_pci, whose memory BARs
 * vfio-pci would export.
 */
TEST(variant_driver)
{
	const char *bdf = getenv("VFIO_DMABUF_VARIANT_DEVICE");
	struct vfio_region_dma_range r = { .offset = 0, .length = PAGE };
	struct dmabuf_env e = { .container = -1, .group = -1, .device = -1 };
	__u32 hdr = sizeof(struct vfio_device_feature);
	struct vfio_region_info ri;
	char drv[64];
	int bar, ret;

	if (!bdf)
		SKIP(return, "no vfio variant driver device (VFIO_DMABUF_VARIANT_DEVICE)");
	snprintf(e.bdf, sizeof(e.bdf), "%s", bdf);
	pci_driver(bdf, drv, sizeof(drv));
	TH_LOG("%s is bound to %s", bdf, drv[0] ? drv : "nothing");
	ASSERT_NE(0, drv[0]);
	ASSERT_STRNE("vfio-pci", drv);
	bar = find_bar(bdf, 0x200 /* IORESOURCE_MEM */, PAGE);
	ASSERT_LE(0, bar) TH_LOG("%s has no memory BAR of a page", bdf);
	vfio_open_group(_metadata, &e);
	e.device = ioctl(e.group, VFIO_GROUP_GET_DEVICE_FD, e.bdf);
	ASSERT_LE(0, e.device) TH_LOG("%s: %s", bdf, strerror(errno));
	/* the premise: a BAR that vfio-pci would export */
	region_info(_metadata, &e, VFIO_PCI_BAR0_REGION_INDEX + bar, &ri);
	EXPECT_TRUE(ri.flags & VFIO_REGION_INFO_FLAG_MMAP)
		TH_LOG("BAR%d of %s is not mmap-able", bar, bdf);

	EXPECT_EQ(-EOPNOTSUPP, feature_dma_buf(e.device,
					       VFIO_DEVICE_FEATURE_PROBE |
					       DMA_BUF_GET, hdr, 0, 0, 0, 0,
					       NULL, 0));
	ret = export_bar(&e, VFIO_PCI_BAR0_REGION_INDEX + bar, O_RDWR, &r, 1);
	EXPECT_EQ(-EOPNOTSUPP, ret) TH_LOG("%s BAR%d", bdf, bar);
	if (ret >= 0)
		close(ret);
	/* the control: the driver's other features answer PROBE */
	EXPECT_EQ(0, feature_dma_buf(e.device, VFIO_DEVICE_FEATURE_PROBE |
				     VFIO_DEVICE_FEATURE_SET |
				     VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY, hdr,
				     0, 0, 0, 0, NULL, 0));
	vfio_close(&e);
}

/*
 * The ranges are read from user memory: make them unreadable by putting
 * the request at the end of a page followed by a PROT_NONE page.
 */
TEST_F(dmabuf, bad_user_pointer)
{
	long psz = sysconf(_SC_PAGESIZE);
	struct vfio_device_feature_dma_buf *db;
	struct vfio_device_feature *f;
	char *p;
	int ret;

	p = mmap(NULL, 2 * psz, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, p);
	ASSERT_EQ(0, mprotect(p + psz, psz, PROT_NONE));

	/* No range readable */
	f = (void *)(p + psz - FEAT_HDR);
	f->argsz = FEAT_SZ(1);
	f->flags = DMA_BUF_GET;
	db = (void *)f->data;
	db->region_index = BAR;
	db->open_flags = O_CLOEXEC;
	db->flags = 0;
	db->nr_ranges = 1;
	ret = ioctl(self->env.device, VFIO_DEVICE_FEATURE, f);
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EFAULT, errno) TH_LOG("ranges in a PROT_NONE page");
	if (ret >= 0)
		close(ret);

	/* The first range readable and valid, the second not */
	f = (void *)(p + psz - FEAT_SZ(1));
	f->argsz = FEAT_SZ(2);
	f->flags = DMA_BUF_GET;
	db = (void *)f->data;
	db->region_index = BAR;
	db->open_flags = O_CLOEXEC;
	db->flags = 0;
	db->nr_ranges = 2;
	db->dma_ranges[0].offset = 0;
	db->dma_ranges[0].length = PAGE;
	ret = ioctl(self->env.device, VFIO_DEVICE_FEATURE, f);
	EXPECT_EQ(-1, ret);
	EXPECT_EQ(EFAULT, errno) TH_LOG("second range in a PROT_NONE page");
	if (ret >= 0)
		close(ret);

	/* The header itself */
	EXPECT_EQ(-1, ioctl(self->env.device, VFIO_DEVICE_FEATURE, p + psz));
	EXPECT_EQ(EFAULT, errno);
	munmap(p, 2 * psz);
}

/* ---------------------------------------------------------------------- */
/* The dma-buf: size, identity, layout, data                               */

static void read_fdinfo(struct __test_metadata *_metadata, int fd, char *buf,
			size_t len)
{
	char path[64];
	ssize_t n;
	int f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = open(path, O_RDONLY);
	ASSERT_LE(0, f);
	n = read(f, buf, len - 1);
	ASSERT_LT(0, n);
	buf[n] = 0;
	close(f);
}

/* fdinfo has the line "@key:\t@val" */
static bool has_line(const char *info, const char *key, const char *val)
{
	char line[256];
	const char *p;

	snprintf(line, sizeof(line), "%s:\t%s\n", key, val);
	for (p = info; (p = strstr(p, line)); p++)
		if (p == info || p[-1] == '\n')
			return true;
	return false;
}

TEST_F(export, fd_properties)
{
	char info[4096], val[128];
	struct stat st;
	void *p;
	int fl;

	ASSERT_EQ(0, fstat(self->fd, &st));
	EXPECT_EQ(self->size, (__u64)st.st_size);
	EXPECT_EQ((off_t)self->size, lseek(self->fd, 0, SEEK_END));

	read_fdinfo(_metadata, self->fd, info, sizeof(info));
	snprintf(val, sizeof(val), "%llu", (unsigned long long)self->size);
	EXPECT_TRUE(has_line(info, "size", val)) TH_LOG("fdinfo:\n%s", info);
	EXPECT_TRUE(has_line(info, "exp_name", "vfio-pci"))
		TH_LOG("fdinfo:\n%s", info);
	snprintf(val, sizeof(val), "%s bar%u", self->env.bdf, BAR);
	EXPECT_TRUE(has_line(info, "name", val))
		TH_LOG("want name \"%s\"; fdinfo:\n%s", val, info);

	fl = fcntl(self->fd, F_GETFD);
	ASSERT_LE(0, fl);
	EXPECT_EQ(!!(variant->open_flags & O_CLOEXEC), !!(fl & FD_CLOEXEC));
	fl = fcntl(self->fd, F_GETFL);
	ASSERT_LE(0, fl);
	EXPECT_EQ(variant->open_flags & O_ACCMODE, (__u32)fl & O_ACCMODE);

	/* No CPU access: the BAR has no struct pages */
	p = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, self->fd, 0);
	EXPECT_EQ(MAP_FAILED, p);
	EXPECT_EQ(EINVAL, errno);
	if (p != MAP_FAILED)
		munmap(p, PAGE);
}

/* The importer's sg table: one entry per range (per 2 GiB), in order. */
TEST_F(export, import_layout)
{
	struct p2pdma_edu_import_map m;
	unsigned int i, j, nents = 0;
	__u64 size = 0;
	__u32 h = 0;
	int ret;

	ASSERT_EQ(0, imp_import(&self->env, self->fd, 0, &h, &size));
	EXPECT_EQ(self->size, size);
	expect_state(_metadata, &self->env, h, 0, 0, "imported");
	ret = imp_map(&self->env, h, &m);
	if (!self->env.p2p) {
		EXPECT_EQ(-EOPNOTSUPP, ret)
			TH_LOG("the topology refuses P2P: map must fail with EOPNOTSUPP");
		return;
	}
	ASSERT_EQ(0, ret);
	for (i = 0; i < self->n; i++)
		nents += (self->r[i].length + (2ULL << 30) - 1) / (2ULL << 30);
	ASSERT_EQ(nents, m.nents);
	for (i = 0, j = 0; i < self->n && j < P2PDMA_EDU_MAX_SEGS; i++) {
		__u64 left = self->r[i].length;

		for (; left && j < P2PDMA_EDU_MAX_SEGS; j++) {
			__u64 len = left < (2ULL << 30) ? left : 2ULL << 30;

			EXPECT_EQ(len, m.segs[j].len)
				TH_LOG("range %u, sg entry %u", i, j);
			left -= len;
		}
	}
	expect_state(_metadata, &self->env, h, 0, 1, "mapped");
	EXPECT_EQ(0, imp_close(&self->env, h));
}

/*
 * edu writes at the start of the dma-buf, across every boundary between
 * two ranges and at the end; each byte must be at the BAR offset the
 * ranges give it, and read back the same.
 */
TEST_F_TIMEOUT(export, dma_lands, 120)
{
	__u64 boundary = 0;
	unsigned int i;
	__u32 h = 0;

	ASSERT_EQ(0, imp_import(&self->env, self->fd, 0, &h, NULL));
	check_dma(_metadata, &self->env, h, self->r, self->n, 0, PAGE, 1);
	if (!self->env.p2p)
		return;
	for (i = 0; i + 1 < self->n; i++) {
		boundary += self->r[i].length;
		check_dma(_metadata, &self->env, h, self->r, self->n,
			  boundary - PAGE, 2 * PAGE, 2 + i);
	}
	check_dma(_metadata, &self->env, h, self->r, self->n,
		  self->size - PAGE, PAGE, 10);
	expect_state(_metadata, &self->env, h, 0, 1, "after DMA");
	EXPECT_EQ(0, imp_close(&self->env, h));
}

/* Is BAR page @off in one of the @n ranges? */
static bool in_ranges(const struct vfio_region_dma_range *r, unsigned int n,
		      __u64 off)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		if (off >= r[i].offset && off - r[i].offset < r[i].length)
			return true;
	return false;
}

/*
 * Nothing outside the ranges is reachable through the dma-buf: the BAR
 * pages next to each range hold a pattern, written through vfio, that
 * neither DMA through the import nor DMA by address just past each of
 * its mappings may change.  The latter holds only where the mapping is
 * an IOMMU one (host bridge, translated importer); a bus address below a
 * switch reaches the whole BAR by nature, and ACS is what guards it.
 * A dma-buf of the whole BAR leaves no page outside: only its writes are
 * checked.
 */
TEST_F_TIMEOUT(export, nothing_outside, 120)
{
	struct dmabuf_env *e = &self->env;
	uint8_t pat[BLOCK], got[BLOCK], junk[BLOCK], data[BLOCK];
	struct p2pdma_edu_import_map m;
	struct p2pdma_edu_dma d = {
		.importer = e->importer, .to_device = 1, .length = BLOCK,
		.user_buf = (uintptr_t)junk,
	};
	__u64 guard[2 * ARRAY_SIZE(self->r)], at, bar_base;
	unsigned int i, j, ng = 0;
	struct vfio_region_info ri;
	bool iommu = e->host_bridge && e->iommu;
	__u32 h = 0;

	/* The BAR pages on either side of each range that no range covers */
	for (i = 0; i < self->n; i++) {
		at = self->r[i].offset - PAGE;
		if (self->r[i].offset && !in_ranges(self->r, self->n, at))
			guard[ng++] = at;
		at = self->r[i].offset + self->r[i].length;
		if (at < e->bar_size && !in_ranges(self->r, self->n, at))
			guard[ng++] = at;
	}
	region_info(_metadata, e, BAR, &ri);
	bar_base = ri.offset;
	fill(pat, BLOCK, e->seed ^ 0x6a4d);
	for (j = 0; j < ng; j++) {
		ASSERT_EQ(BLOCK, pwrite(e->device, pat, BLOCK, bar_base + guard[j]));
		ASSERT_EQ(BLOCK, pread(e->bar_fd, got, BLOCK, guard[j]));
		ASSERT_EQ(0, memcmp(pat, got, BLOCK))
			TH_LOG("vfio's write to BAR offset %#llx is not in the host file",
			       (unsigned long long)guard[j]);
	}

	ASSERT_EQ(0, imp_import(e, self->fd, 0, &h, NULL));
	if (!e->p2p) {
		EXPECT_EQ(-EOPNOTSUPP, imp_map(e, h, &m));
		EXPECT_EQ(0, imp_close(e, h));
		return;
	}
	ASSERT_EQ(0, imp_map(e, h, &m));
	/* The first and last block of each range, via import */
	for (i = 0, at = 0; i < self->n; at += self->r[i++].length) {
		fill(data, BLOCK, e->seed + i);
		ASSERT_EQ(0, imp_dma(e, h, 1, at, data, BLOCK));
		fill(data, BLOCK, e->seed + i + 100);
		ASSERT_EQ(0, imp_dma(e, h, 1, at + self->r[i].length - BLOCK,
				     data, BLOCK));
		ASSERT_EQ(BLOCK, pread(e->bar_fd, got, BLOCK, self->r[i].offset +
				       self->r[i].length - BLOCK));
		EXPECT_EQ(0, memcmp(data, got, BLOCK))
			TH_LOG("range %u: last block not written", i);
	}
	/* By address: the page before and after each mapping */
	if (!ng) {
		TH_LOG("the ranges cover the BAR: no page outside to guard");
	} else if (iommu) {
		fill(junk, BLOCK, e->seed ^ 0xdead);
		for (j = 0; j < m.nents && j < P2PDMA_EDU_MAX_SEGS; j++) {
			d.dma_addr = m.segs[j].addr + m.segs[j].len;
			ioctl(e->edu, P2PDMA_EDU_DMA, &d);
			if (m.segs[j].addr >= PAGE) {
				d.dma_addr = m.segs[j].addr - PAGE;
				ioctl(e->edu, P2PDMA_EDU_DMA, &d);
			}
		}
	} else {
		TH_LOG("DMA by address next to the mappings not checked: %s",
		       e->host_bridge ? "importer not translated by an IOMMU" :
		       "bus addresses need no mapping");
	}
	for (j = 0; j < ng; j++) {
		ASSERT_EQ(BLOCK, pread(e->bar_fd, got, BLOCK, guard[j]));
		EXPECT_EQ(0, memcmp(pat, got, BLOCK))
			TH_LOG("BAR page %#llx, outside the ranges, was written",
			       (unsigned long long)guard[j]);
	}
	EXPECT_EQ(0, imp_close(e, h));
}

/* What the other process of only_the_owner found, by exit status */
static const char * const owner_fail[] = {
	"",
	"a second open of the group did not fail with EBUSY",
	"VFIO_DEVICE_FEATURE on a dma-buf fd did not fail with ENOTTY",
	"setuid(65534) failed",
	"an unprivileged open of the group did not fail with EACCES",
};

/*
 * Only the process that owns the vfio device can export its BAR: the
 * group opens once, only for root, and a dma-buf fd is no device fd.
 */
TEST_F(dmabuf, only_the_owner)
{
	const struct vfio_region_dma_range r = { 0, PAGE };
	struct dmabuf_env *e = &self->env;
	char path[64];
	int fd, ret;

	fd = export1(e, 0, PAGE);
	ASSERT_LE(0, fd);
	snprintf(path, sizeof(path), "/dev/vfio/%d", e->group_id);
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (!self->child) {
		/* another process, with nothing but the dma-buf */
		close_from(fd);
		if (open(path, O_RDWR) >= 0 || errno != EBUSY)
			_exit(1);
		ret = feature_dma_buf(fd, DMA_BUF_GET, FEAT_SZ(1), BAR,
				      O_RDWR, 0, 1, &r, 1);
		if (ret != -ENOTTY)
			_exit(2);
		if (setgid(65534) || setuid(65534))
			_exit(3);
		if (open(path, O_RDWR) >= 0 || errno != EACCES)
			_exit(4);
		_exit(0);
	}
	expect_child_ok(_metadata, &self->child, owner_fail,
			ARRAY_SIZE(owner_fail));
	close(fd);
}

/* ---------------------------------------------------------------------- */
/* Importers                                                               */

/*
 * Only dynamic peer-to-peer importers may attach, and only revocable ones
 * may pin: the BAR can be taken away at any time.
 */
TEST_F(dmabuf, attach_refused)
{
	static const struct {
		__u32 flags;
		const char *what;
	} c[] = {
		{ P2PDMA_EDU_IMPORT_STATIC, "static importer" },
		{ P2PDMA_EDU_IMPORT_NO_P2P, "importer without peer2peer" },
		{ P2PDMA_EDU_IMPORT_STATIC | P2PDMA_EDU_IMPORT_NO_P2P,
		  "static importer without peer2peer" },
		{ P2PDMA_EDU_IMPORT_PIN, "pin, not revocable" },
		{ P2PDMA_EDU_IMPORT_NO_P2P | P2PDMA_EDU_IMPORT_PIN |
		  P2PDMA_EDU_IMPORT_REVOCABLE, "revocable pin without peer2peer" },
	};
	unsigned int i;
	__u32 h = 0;
	int fd;

	fd = export1(&self->env, 0, 16 * PAGE);
	ASSERT_LE(0, fd);
	for (i = 0; i < ARRAY_SIZE(c); i++) {
		EXPECT_EQ(-EOPNOTSUPP, imp_import(&self->env, fd, c[i].flags,
						  &h, NULL))
			TH_LOG("%s (flags %#x)", c[i].what, c[i].flags);
	}
	/* Nothing was left behind: a dynamic importer still attaches */
	ASSERT_EQ(0, imp_import(&self->env, fd, 0, &h, NULL));
	EXPECT_EQ(map_ok(&self->env), imp_map_ret(&self->env, h));
	EXPECT_EQ(0, imp_close(&self->env, h));
	EXPECT_EQ(0, close(fd));
}

/* A pin by an importer that declares itself revocable is revoked too. */
TEST_F(dmabuf, pin_revocable)
{
	const __u32 fl = P2PDMA_EDU_IMPORT_PIN | P2PDMA_EDU_IMPORT_REVOCABLE;
	struct dmabuf_env *e = &self->env;
	__u32 h = 0;
	int fd;

	fd = export1(e, 0, 16 * PAGE);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, imp_import(e, fd, fl, &h, NULL));
	EXPECT_EQ(map_ok(e), imp_map_ret(e, h));
	expect_state(_metadata, e, h, 0, e->p2p, "pinned and mapped");

	ASSERT_EQ(0, set_memory(e, false));
	expect_state(_metadata, e, h, 1, 0, "memory decode off");
	expect_revoked(_metadata, e, h, "pinned, memory decode off");

	/* A revoked pin is gone for good, as for RDMA's revocable umem */
	ASSERT_EQ(0, set_memory(e, true));
	expect_state(_metadata, e, h, 2, 0, "memory decode on again");
	EXPECT_EQ(-ENODEV, imp_map_ret(e, h));
	EXPECT_EQ(0, imp_close(e, h));
	/* a new pinned import of the same dma-buf works */
	ASSERT_EQ(0, imp_import(e, fd, fl, &h, NULL));
	EXPECT_EQ(map_ok(e), imp_map_ret(e, h));
	expect_state(_metadata, e, h, 0, e->p2p, "pinned again");
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));
}

/* ---------------------------------------------------------------------- */
/* Revocation                                                              */

TEST_F_TIMEOUT(dmabuf, revoke_memory_decode, 120)
{
	const struct vfio_region_dma_range r = { 0x200000, 0x10000 };
	struct p2pdma_edu_import_info i0, i1;
	struct dmabuf_env *e = &self->env;
	__u64 old;
	__u16 cmd;
	__u32 h = 0;
	int fd;

	fd = export_bar(e, BAR, O_RDWR, &r, 1);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, imp_import(e, fd, 0, &h, NULL));
	check_dma(_metadata, e, h, &r, 1, 0x1000, PAGE, 1);
	old = first_addr(_metadata, e, h);
	check_live_addr(_metadata, e, old, r.offset);
	i0 = imp_info(_metadata, e, h);
	EXPECT_EQ(0, i0.move_notify);
	EXPECT_EQ(e->p2p, i0.mapped);
	EXPECT_EQ(e->p2p, i0.maps);

	/* Memory decode off: one notification, the mapping is gone */
	mark_provider(_metadata, e);
	ASSERT_EQ(0, set_memory(e, false));
	ASSERT_EQ(0, cfg_read16(e, PCI_COMMAND, &cmd));
	EXPECT_EQ(0, cmd & PCI_COMMAND_MEMORY);
	expect_state(_metadata, e, h, 1, 0, "memory decode off");
	expect_revoke_first(_metadata, e, h, 1, "memory decode off");
	expect_revoked(_metadata, e, h, "memory decode off");
	/* Writing the command register again changes nothing */
	ASSERT_EQ(0, set_memory(e, false));
	expect_state(_metadata, e, h, 1, 0, "memory decode off again");

	/* On again: one more notification; nothing is mapped until asked */
	ASSERT_EQ(0, set_memory(e, true));
	expect_state(_metadata, e, h, 2, 0, "memory decode on");
	check_old_addr(_metadata, e, old, r.offset, true,
		       "memory decode on, not mapped again");
	ASSERT_EQ(0, set_memory(e, true));
	expect_state(_metadata, e, h, 2, 0, "memory decode on again");

	check_dma(_metadata, e, h, &r, 1, 0x3000, PAGE, 2);
	i1 = imp_info(_metadata, e, h);
	EXPECT_EQ(2, i1.move_notify);
	EXPECT_EQ(e->p2p, i1.mapped);
	EXPECT_EQ(i0.maps + e->p2p, i1.maps);
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));
}

/*
 * The importer publishes a fence that signals 1.5 s later (work it queued
 * on the buffer): clearing memory decode must not return before it has.
 */
TEST_F_TIMEOUT(dmabuf, revoke_waits_for_fences, 60)
{
	struct p2pdma_edu_import_fence f = { .delay_ms = 1500 };
	struct dmabuf_env *e = &self->env;
	struct p2pdma_edu_import_info i;
	__u32 h = 0;
	int fd;

	fd = export1(e, 0, 16 * PAGE);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, imp_import(e, fd, 0, &h, NULL));
	EXPECT_EQ(map_ok(e), imp_map_ret(e, h));
	f.handle = h;
	ASSERT_EQ(0, ioctl(e->edu, P2PDMA_EDU_IMPORT_FENCE, &f));
	i = imp_info(_metadata, e, h);
	ASSERT_EQ(0, i.fences_signalled) TH_LOG("the fence signalled at once");

	mark_provider(_metadata, e);
	ASSERT_EQ(0, set_memory(e, false));
	i = imp_info(_metadata, e, h);
	EXPECT_EQ(1, i.move_notify);
	expect_revoke_first(_metadata, e, h, 1, "memory decode off, fence");
	EXPECT_EQ(1, i.fences_signalled)
		TH_LOG("revoke returned before the importer's fence signalled");
	expect_revoked(_metadata, e, h, "revoked after the fence");

	ASSERT_EQ(0, set_memory(e, true));
	expect_state(_metadata, e, h, 2, 0, "memory decode on again");
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));
}

/*
 * An importer may give its mapping back after move_notify returns, from a
 * worker (1.5 s later here): clearing memory decode must not return before
 * it has, and the kernel log names the importer after a second (checked by
 * lab/tests/vfio-dmabuf.sh).  Once decode is back the old address is dead.
 */
TEST_F_TIMEOUT(dmabuf, revoke_waits_for_unmap, 60)
{
	const struct vfio_region_dma_range r = { 0x600000, 0x4000 };
	struct dmabuf_env *e = &self->env;
	struct timespec t0, t1;
	__u32 h = 0;
	double secs;
	__u64 old;
	int fd;

	fd = export_bar(e, BAR, O_RDWR, &r, 1);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, imp_import(e, fd, P2PDMA_EDU_IMPORT_LATE_UNMAP, &h, NULL));
	check_dma(_metadata, e, h, &r, 1, 0, PAGE, 1);
	old = first_addr(_metadata, e, h);
	check_live_addr(_metadata, e, old, r.offset);
	expect_state(_metadata, e, h, 0, e->p2p, "mapped");

	ASSERT_EQ(0, clock_gettime(CLOCK_MONOTONIC, &t0));
	ASSERT_EQ(0, set_memory(e, false));
	ASSERT_EQ(0, clock_gettime(CLOCK_MONOTONIC, &t1));
	secs = t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9;
	TH_LOG("clearing memory decode took %.2f s", secs);
	/* the mapping was given back before the config write returned */
	expect_state(_metadata, e, h, 1, 0, "memory decode off, late unmap");
	if (e->p2p)
		EXPECT_LE(P2PDMA_EDU_LATE_UNMAP_MS / 1000.0 - 0.1, secs)
			TH_LOG("the config write did not wait for the unmap");

	ASSERT_EQ(0, set_memory(e, true));
	check_old_addr(_metadata, e, old, r.offset, true,
		       "memory decode on after a late unmap");
	check_dma(_metadata, e, h, &r, 1, PAGE, PAGE, 2);
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));
}

/*
 * sw_sync, the kernel's fences for tests (CONFIG_SW_SYNC, in debugfs): a
 * timeline whose fences signal when it is closed.  Its uAPI is not in the
 * exported headers.
 */
#define SW_SYNC_PATH	"/sys/kernel/debug/sync/sw_sync"

struct sw_sync_create_fence_data {
	__u32 value;
	char name[32];
	__s32 fence;
};

#define SW_SYNC_IOC_CREATE_FENCE \
	_IOWR('W', 0, struct sw_sync_create_fence_data)

/* The exporter's bound on the fence waits of one revoke, in seconds */
#define FENCE_WAIT_S	10.0
/* An unbounded wait ends when the rescuer closes the timeline */
#define RESCUE_S	60

static double seconds_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return t1.tv_sec - t0->tv_sec + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * Time a revoke by clearing memory decode or by closing the device; the
 * imports @h are told first, with their @index-th notification.
 */
static double timed_revoke(struct __test_metadata *_metadata,
			   struct dmabuf_env *e, const __u32 *h,
			   unsigned int nr, __u32 index, bool close_device)
{
	const char *what = close_device ? "closing the device" :
					  "clearing memory decode";
	struct timespec t0;
	unsigned int i;
	double secs;

	mark_provider(_metadata, e);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (close_device) {
		EXPECT_EQ(0, close(e->device));
		e->device = -1;
	} else {
		EXPECT_EQ(0, set_memory(e, false));
	}
	secs = seconds_since(&t0);
	TH_LOG("%s took %.2f s", what, secs);
	for (i = 0; i < nr; i++) {
		expect_state(_metadata, e, h[i], index, 0, what);
		expect_revoke_first(_metadata, e, h[i], index, what);
	}
	return secs;
}

/* What the unprivileged process of fence_wait_bounded found */
static const char * const fence_fail[] = {
	"",
	"dropping root failed",
	"DMA_BUF_IOCTL_IMPORT_SYNC_FILE failed",
};

/*
 * Anyone who holds a dma-buf fd can add a fence to it.  Fences that never
 * signal, added to two dma-bufs of the device by another process that
 * holds nothing else and has no privilege (the fence itself comes from
 * sw_sync, which needs root), hold up the owner's config write or close
 * for the exporter's bound (10 s for all the device's dma-bufs together)
 * and no longer: the revoke goes on, the importers have been told first
 * and have unmapped, memory decode is off, and the kernel log names the
 * fence (checked by lab/tests/vfio-dmabuf.sh).  Once the fences signal, a
 * revoke waits for nothing.  A rescuer process holding the sw_sync
 * timeline closes it after 60 s, so that an unbounded wait fails the test
 * instead of hanging the owner for good.
 */
TEST_F_TIMEOUT(dmabuf, fence_wait_bounded, 240)
{
	const struct vfio_region_dma_range r[2] = {
		{ 0x100000, 16 * PAGE }, { 0x200000, 16 * PAGE },
	};
	struct sw_sync_create_fence_data sw = { .value = 1, .name = "never" };
	struct dma_buf_import_sync_file imp = { .flags = DMA_BUF_SYNC_WRITE };
	struct dmabuf_env *e = &self->env;
	struct pollfd pfd[2];
	int fd[2], tl, i;
	__u32 h[2] = { 0, 0 };
	double secs;
	__u16 cmd;

	tl = open(SW_SYNC_PATH, O_RDWR);
	if (tl < 0) {
		assert_not_in_lab(_metadata);
		SKIP(return, "%s: %s (needs CONFIG_SW_SYNC and debugfs)",
		     SW_SYNC_PATH, strerror(errno));
	}
	ASSERT_EQ(0, ioctl(tl, SW_SYNC_IOC_CREATE_FENCE, &sw))
		TH_LOG("SW_SYNC_IOC_CREATE_FENCE: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		fd[i] = export_bar(e, BAR, O_RDWR | O_CLOEXEC, &r[i], 1);
		ASSERT_LE(0, fd[i]);
		ASSERT_EQ(0, imp_import(e, fd[i], 0, &h[i], NULL));
		EXPECT_EQ(map_ok(e), imp_map_ret(e, h[i]));
		pfd[i] = (struct pollfd){ .fd = fd[i], .events = POLLOUT };
	}

	/* Another process with the dma-bufs and the fence only, not root */
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (!self->child) {
		const int keep[] = { fd[0], fd[1], sw.fence };

		close_all_but(keep, ARRAY_SIZE(keep));
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			_exit(1);
		imp.fd = sw.fence;
		for (i = 0; i < 2; i++)
			if (ioctl(fd[i], DMA_BUF_IOCTL_IMPORT_SYNC_FILE, &imp))
				_exit(2);
		_exit(0);
	}
	expect_child_ok(_metadata, &self->child, fence_fail,
			ARRAY_SIZE(fence_fail));
	close(sw.fence);
	ASSERT_EQ(0, poll(pfd, 2, 0)) TH_LOG("a dma-buf has no pending fence");

	/* From now on only the rescuer holds the timeline */
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (!self->child) {
		close_from(tl);
		sleep(RESCUE_S);
		_exit(0);
	}
	close(tl);

	secs = timed_revoke(_metadata, e, h, 2, 1, false);
	EXPECT_LE(FENCE_WAIT_S - 0.1, secs)
		TH_LOG("the revoke did not wait for the fences");
	EXPECT_GT(FENCE_WAIT_S + 5, secs)
		TH_LOG("the fence waits are not bounded, in all");
	ASSERT_EQ(0, cfg_read16(e, PCI_COMMAND, &cmd));
	EXPECT_EQ(0, cmd & PCI_COMMAND_MEMORY);
	EXPECT_EQ(0, poll(pfd, 2, 0)) TH_LOG("a fence signalled");

	/* Each revoke waits for the fences again, as long, no longer */
	ASSERT_EQ(0, set_memory(e, true));
	for (i = 0; i < 2; i++) {
		expect_state(_metadata, e, h[i], 2, 0, "memory decode on");
		EXPECT_EQ(map_ok(e), imp_map_ret(e, h[i]));
	}
	secs = timed_revoke(_metadata, e, h, 2, 3, true);
	EXPECT_LE(FENCE_WAIT_S - 0.1, secs);
	EXPECT_GT(FENCE_WAIT_S + 5, secs);
	for (i = 0; i < 2; i++) {
		expect_revoked(_metadata, e, h[i], "device closed");
		EXPECT_EQ(0, imp_close(e, h[i]));
	}

	/* The rescuer goes, the timeline closes, the fences signal */
	kill(self->child, SIGKILL);
	ASSERT_EQ(self->child, waitpid(self->child, NULL, 0));
	self->child = 0;
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(1, poll(&pfd[i], 1, 5000))
			TH_LOG("the fence did not signal");
		EXPECT_EQ(0, close(fd[i]));
	}

	/* Without a pending fence a revoke waits for nothing */
	device_open(_metadata, e);
	fd[0] = export_bar(e, BAR, O_RDWR | O_CLOEXEC, &r[0], 1);
	ASSERT_LE(0, fd[0]);
	ASSERT_EQ(0, imp_import(e, fd[0], 0, &h[0], NULL));
	EXPECT_EQ(map_ok(e), imp_map_ret(e, h[0]));
	secs = timed_revoke(_metadata, e, h, 1, 1, false);
	EXPECT_GT(FENCE_WAIT_S / 2, secs)
		TH_LOG("the revoke waited without a pending fence");
	ASSERT_EQ(0, set_memory(e, true));
	EXPECT_EQ(0, imp_close(e, h[0]));
	EXPECT_EQ(0, close(fd[0]));
}

TEST_F_TIMEOUT(dmabuf, revoke_reset, 120)
{
	const struct vfio_region_dma_range r = { 0x300000, 0x10000 };
	struct dmabuf_env *e = &self->env;
	__u32 h = 0;
	__u64 old;
	int fd;

	if (!(e->dev_flags & VFIO_DEVICE_FLAGS_RESET))
		SKIP(return, "%s has no reset (no VFIO_DEVICE_FLAGS_RESET)",
		     e->bdf);
	fd = export_bar(e, BAR, O_RDWR, &r, 1);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, imp_import(e, fd, 0, &h, NULL));
	check_dma(_metadata, e, h, &r, 1, 0, PAGE, 1);
	old = first_addr(_metadata, e, h);
	check_live_addr(_metadata, e, old, r.offset);
	expect_state(_metadata, e, h, 0, e->p2p, "before the reset");

	/* Revoked before the reset, restored after it */
	mark_provider(_metadata, e);
	ASSERT_EQ(0, ioctl(e->device, VFIO_DEVICE_RESET))
		TH_LOG("VFIO_DEVICE_RESET: %s", strerror(errno));
	expect_state(_metadata, e, h, 2, 0, "after the reset");
	expect_revoke_first(_metadata, e, h, 1, "VFIO_DEVICE_RESET");
	/* The BAR decodes again, the import has not mapped again */
	check_old_addr(_metadata, e, old, r.offset, true,
		       "after the reset, not mapped again");

	check_dma(_metadata, e, h, &r, 1, 0x2000, PAGE, 2);
	expect_state(_metadata, e, h, 2, e->p2p, "mapped again");
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));
}

/* VFIO_DEVICE_FEATURE_SET of a feature without data: 0 or -errno */
static int feature_set(struct dmabuf_env *e, __u32 feature, bool probe)
{
	struct vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = VFIO_DEVICE_FEATURE_SET | feature |
			 (probe ? VFIO_DEVICE_FEATURE_PROBE : 0),
	};

	return ioctl(e->device, VFIO_DEVICE_FEATURE, &f) ? -errno : 0;
}

/*
 * Low power: userspace loses the BARs from LOW_POWER_ENTRY to
 * LOW_POWER_EXIT.  In between no ioctl may reach the device (its pm
 * wrappers would resume it): only the importer is looked at.
 */
TEST_F_TIMEOUT(dmabuf, revoke_low_power, 120)
{
	const struct vfio_region_dma_range r = { 0x320000, 0x10000 };
	struct p2pdma_edu_import_info i;
	struct dmabuf_env *e = &self->env;
	__u64 old;
	__u32 h = 0;
	int fd, ret;

	/* vfio-pci has the feature since 6.0: only ENOTTY means "none" */
	ret = feature_set(e, VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY, true);
	if (ret == -ENOTTY)
		SKIP(return, "%s has no LOW_POWER_ENTRY: probe: %s (errno %d)",
		     e->bdf, strerror(-ret), -ret);
	ASSERT_EQ(0, ret) TH_LOG("probing LOW_POWER_ENTRY: %s",
				 strerror(-ret));
	fd = export_bar(e, BAR, O_RDWR, &r, 1);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, imp_import(e, fd, 0, &h, NULL));
	check_dma(_metadata, e, h, &r, 1, 0, PAGE, 1);
	old = first_addr(_metadata, e, h);
	check_live_addr(_metadata, e, old, r.offset);
	expect_state(_metadata, e, h, 0, e->p2p, "before low power");

	mark_provider(_metadata, e);
	/* The probe said yes: a refusal now is a failure, never a skip */
	ret = feature_set(e, VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY, false);
	if (ret) {
		i = imp_info(_metadata, e, h);
		TH_LOG("LOW_POWER_ENTRY refused, move_notify %u, mapped %u",
		       i.move_notify, i.mapped);
	}
	ASSERT_EQ(0, ret) TH_LOG("LOW_POWER_ENTRY: %s", strerror(-ret));

	/* Until the exit, no device ioctl: the importer only */
	expect_state(_metadata, e, h, 1, 0, "low power");
	expect_revoke_first(_metadata, e, h, 1, "low power");
	expect_revoked(_metadata, e, h, "low power");
	check_old_addr(_metadata, e, old, r.offset, false, "low power");

	/* Back to full power: one more notification, mapped on demand */
	ret = feature_set(e, VFIO_DEVICE_FEATURE_LOW_POWER_EXIT, false);
	ASSERT_EQ(0, ret) TH_LOG("LOW_POWER_EXIT: %s", strerror(-ret));
	expect_state(_metadata, e, h, 2, 0, "low power exited");
	check_old_addr(_metadata, e, old, r.offset, true,
		       "low power exited, not mapped again");

	check_dma(_metadata, e, h, &r, 1, 0x2000, PAGE, 2);
	expect_state(_metadata, e, h, 2, e->p2p, "mapped again");
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));
}

/*
 * A hot reset (slot or bus) that resets the provider alone, owned through
 * its group: revoked before the reset, restored after it.
 */
TEST_F_TIMEOUT(dmabuf, revoke_hot_reset, 120)
{
	const struct vfio_region_dma_range r = { 0x340000, 0x10000 };
	const size_t sz = sizeof(struct vfio_pci_hot_reset) + sizeof(__s32);
	struct vfio_pci_hot_reset_info *info;
	struct vfio_pci_hot_reset *reset;
	struct dmabuf_env *e = &self->env;
	__u32 count, group = 0;
	__u32 h = 0;
	int fd, ret;

	/* ENODEV: neither the slot nor the bus can be reset (hardware) */
	ret = hot_reset_info(e, &info);
	if (ret == -ENODEV)
		SKIP(return, "%s has no hot reset: GET_PCI_HOT_RESET_INFO: %s (errno %d)",
		     e->bdf, strerror(-ret), -ret);
	ASSERT_EQ(0, ret) TH_LOG("GET_PCI_HOT_RESET_INFO: %s", strerror(-ret));
	count = info->count;
	if (count)
		group = info->devices[0].group_id;
	free(info);
	if (count != 1)
		SKIP(return, "a hot reset of %s resets %u devices, not 1",
		     e->bdf, count);
	if (group != (__u32)e->group_id)
		SKIP(return, "a hot reset of %s needs IOMMU group %u, not %d",
		     e->bdf, group, e->group_id);

	fd = export_bar(e, BAR, O_RDWR, &r, 1);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, imp_import(e, fd, 0, &h, NULL));
	check_dma(_metadata, e, h, &r, 1, 0, PAGE, 1);
	expect_state(_metadata, e, h, 0, e->p2p, "before the hot reset");

	/* Revoked before the reset, restored after it */
	mark_provider(_metadata, e);
	reset = calloc(1, sz);
	ASSERT_NE(NULL, reset);
	reset->argsz = sz;
	reset->flags = 0;
	reset->count = 1;
	reset->group_fds[0] = e->group;
	ret = ioctl(e->device, VFIO_DEVICE_PCI_HOT_RESET, reset) ? -errno : 0;
	free(reset);
	ASSERT_EQ(0, ret) TH_LOG("VFIO_DEVICE_PCI_HOT_RESET: %s", strerror(-ret));
	expect_state(_metadata, e, h, 2, 0, "after the hot reset");
	expect_revoke_first(_metadata, e, h, 1, "hot reset");

	check_dma(_metadata, e, h, &r, 1, 0x2000, PAGE, 2);
	expect_state(_metadata, e, h, 2, e->p2p, "mapped again");
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));
}

/*
 * A reset gives userspace the BAR back only if memory decode is on in the
 * virtual command register: with it off, nothing is restored until it is
 * set again.
 */
TEST_F_TIMEOUT(dmabuf, restore_only_when_usable, 120)
{
	const struct vfio_region_dma_range r = { 0x360000, 0x10000 };
	struct dmabuf_env *e = &self->env;
	__u16 cmd;
	__u32 h = 0;
	int fd;

	if (!(e->dev_flags & VFIO_DEVICE_FLAGS_RESET))
		SKIP(return, "%s has no reset (no VFIO_DEVICE_FLAGS_RESET)",
		     e->bdf);
	fd = export_bar(e, BAR, O_RDWR, &r, 1);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, imp_import(e, fd, 0, &h, NULL));
	check_dma(_metadata, e, h, &r, 1, 0, PAGE, 1);
	expect_state(_metadata, e, h, 0, e->p2p, "before the reset");

	mark_provider(_metadata, e);
	ASSERT_EQ(0, set_memory(e, false));
	expect_state(_metadata, e, h, 1, 0, "memory decode off");
	expect_revoke_first(_metadata, e, h, 1, "memory decode off");
	expect_revoked(_metadata, e, h, "memory decode off");

	/* Already revoked; decode still off after it: no notification */
	ASSERT_EQ(0, ioctl(e->device, VFIO_DEVICE_RESET))
		TH_LOG("VFIO_DEVICE_RESET: %s", strerror(errno));
	expect_state(_metadata, e, h, 1, 0, "reset, memory decode off");
	expect_revoked(_metadata, e, h, "reset, memory decode off");
	ASSERT_EQ(0, cfg_read16(e, PCI_COMMAND, &cmd));
	EXPECT_EQ(0, cmd & PCI_COMMAND_MEMORY)
		TH_LOG("the reset turned memory decode on");

	/* Decode on: restored now, with one more notification */
	ASSERT_EQ(0, set_memory(e, true));
	expect_state(_metadata, e, h, 2, 0, "memory decode on");
	check_dma(_metadata, e, h, &r, 1, 0x2000, PAGE, 2);
	expect_state(_metadata, e, h, 2, e->p2p, "mapped again");
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));
}

/*
 * All importers of all dma-bufs of the device are told, mapped or not:
 * two imports of one dma-buf (one mapped, one not) and one of another.
 */
TEST_F_TIMEOUT(dmabuf, revoke_all_importers, 120)
{
	const struct vfio_region_dma_range ra = { 0, 0x10000 };
	const struct vfio_region_dma_range rb = { 0x100000, 0x10000 };
	struct dmabuf_env *e = &self->env;
	__u32 h[3];
	int fa, fb, i;

	fa = export_bar(e, BAR, O_RDWR, &ra, 1);
	ASSERT_LE(0, fa);
	fb = export_bar(e, BAR, O_RDWR, &rb, 1);
	ASSERT_LE(0, fb);
	ASSERT_EQ(0, imp_import(e, fa, 0, &h[0], NULL));
	ASSERT_EQ(0, imp_import(e, fa, 0, &h[1], NULL));
	ASSERT_EQ(0, imp_import(e, fb, 0, &h[2], NULL));
	EXPECT_EQ(map_ok(e), imp_map_ret(e, h[0]));
	check_dma(_metadata, e, h[2], &rb, 1, 0, PAGE, 1);
	expect_state(_metadata, e, h[0], 0, e->p2p, "a, mapped");
	expect_state(_metadata, e, h[1], 0, 0, "a, not mapped");
	expect_state(_metadata, e, h[2], 0, e->p2p, "b, mapped");

	mark_provider(_metadata, e);
	ASSERT_EQ(0, set_memory(e, false));
	for (i = 0; i < 3; i++) {
		expect_state(_metadata, e, h[i], 1, 0, "memory decode off");
		expect_revoke_first(_metadata, e, h[i], 1, "memory decode off");
		expect_revoked(_metadata, e, h[i], "memory decode off");
	}

	ASSERT_EQ(0, set_memory(e, true));
	for (i = 0; i < 3; i++)
		expect_state(_metadata, e, h[i], 2, 0, "memory decode on");
	EXPECT_EQ(map_ok(e), imp_map_ret(e, h[0]));
	check_dma(_metadata, e, h[1], &ra, 1, 0x4000, PAGE, 2);
	check_dma(_metadata, e, h[2], &rb, 1, 0x4000, PAGE, 3);
	for (i = 0; i < 3; i++) {
		expect_state(_metadata, e, h[i], 2, e->p2p, "mapped again");
		EXPECT_EQ(0, imp_close(e, h[i]));
	}
	EXPECT_EQ(0, close(fa));
	EXPECT_EQ(0, close(fb));
}

/*
 * Exporting with memory decode off works (as before the guest's firmware
 * enables it); as in mainline, importers can attach only once decode is on.
 */
TEST_F_TIMEOUT(dmabuf, export_memory_off, 60)
{
	const struct vfio_region_dma_range r = { 0x400000, 0x4000 };
	struct dmabuf_env *e = &self->env;
	__u32 h = 0;
	int fd;

	ASSERT_EQ(0, set_memory(e, false));
	fd = export_bar(e, BAR, O_RDWR, &r, 1);
	ASSERT_LE(0, fd) TH_LOG("export with memory decode off: %s",
				strerror(-fd));
	EXPECT_EQ(-ENODEV, imp_import(e, fd, 0, &h, NULL))
		TH_LOG("attached to a dma-buf exported with decode off");

	ASSERT_EQ(0, set_memory(e, true));
	ASSERT_EQ(0, imp_import(e, fd, 0, &h, NULL));
	expect_state(_metadata, e, h, 0, 0, "attached after memory decode on");
	check_dma(_metadata, e, h, &r, 1, 0, PAGE, 1);
	expect_state(_metadata, e, h, 0, e->p2p, "mapped");
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));
}

/*
 * A revoked dma-buf takes no new importer (ENODEV, as in mainline), the
 * ones attached before stay and are told; once the BAR is back, new
 * importers attach and reach it.
 */
TEST_F_TIMEOUT(dmabuf, attach_while_revoked, 60)
{
	const struct vfio_region_dma_range r = { 0x500000, 0x4000 };
	struct dmabuf_env *e = &self->env;
	__u32 h = 0, h2 = 0;
	int fd;

	fd = export_bar(e, BAR, O_RDWR, &r, 1);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, imp_import(e, fd, 0, &h, NULL));
	ASSERT_EQ(0, set_memory(e, false));
	expect_state(_metadata, e, h, 1, 0, "memory decode off");
	EXPECT_EQ(-ENODEV, imp_import(e, fd, 0, &h2, NULL))
		TH_LOG("attached to a revoked dma-buf");

	ASSERT_EQ(0, set_memory(e, true));
	expect_state(_metadata, e, h, 2, 0, "memory decode on");
	ASSERT_EQ(0, imp_import(e, fd, 0, &h2, NULL));
	check_dma(_metadata, e, h2, &r, 1, PAGE, PAGE, 1);
	check_dma(_metadata, e, h, &r, 1, 2 * PAGE, PAGE, 2);
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, imp_close(e, h2));
	EXPECT_EQ(0, close(fd));
}

/*
 * An importer that is not a PCI device cannot be placed in the PCI
 * topology: it may attach (iommufd does, and maps the ranges itself), but
 * mapping gets an errno of its own (EXDEV), neither the EOPNOTSUPP of an
 * importer that cannot take P2P nor the ENODEV of a revoked buffer.
 */
TEST_F(dmabuf, non_pci_importer)
{
	struct dmabuf_env *e = &self->env;
	struct p2pdma_edu_import imp = { .importer = P2PDMA_EDU_NON_PCI };
	__u32 h = 0;
	int fd;

	fd = export1(e, 0, 4 * PAGE);
	ASSERT_LE(0, fd);
	imp.fd = fd;
	EXPECT_EQ(-1, ioctl(e->edu, P2PDMA_EDU_IMPORT, &imp));
	EXPECT_EQ(EXDEV, errno) TH_LOG("non-PCI importer: %s", strerror(errno));
	/* the control: the edu function, a PCI device, attaches */
	ASSERT_EQ(0, imp_import(e, fd, 0, &h, NULL));
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));
}

/*
 * vfio claims the BAR (request_mem_region()) before it lets a peer reach
 * it, as its own mmap does: a BAR that another driver holds is not
 * exported (ENODEV, as in mainline), and is once it is free again.
 */
TEST_F(dmabuf, bar_claimed_elsewhere)
{
	struct dmabuf_env *e = &self->env;
	struct p2pdma_edu_claim c = { .bar = BAR };
	char byte;
	int fd, claim;

	ASSERT_EQ(0, parse_pci(e->bdf, &c.pci));
	/* Closing the device releases vfio's own claim */
	vfio_close(e);
	claim = open(P2PDMA_EDU_DEV, O_RDWR);
	ASSERT_LE(0, claim);
	ASSERT_EQ(0, ioctl(claim, P2PDMA_EDU_CLAIM, &c))
		TH_LOG("claim BAR%u of %s: %s", BAR, e->bdf, strerror(errno));
	vfio_open(_metadata, e);

	fd = export1(e, 0, 4 * PAGE);
	EXPECT_EQ(-ENODEV, fd) TH_LOG("exported a BAR claimed by another driver");
	if (fd >= 0)
		close(fd);
	/* the premise: vfio's own access is refused too */
	EXPECT_EQ(-1, pread(e->device, &byte, 1, e->bar_region));
	EXPECT_EQ(EBUSY, errno);

	ASSERT_EQ(0, close(claim));
	fd = export1(e, 0, 4 * PAGE);
	ASSERT_LE(0, fd) TH_LOG("BAR free again: %s", strerror(-fd));
	EXPECT_EQ(1, pread(e->device, &byte, 1, e->bar_region));
	EXPECT_EQ(0, close(fd));
}

/*
 * A closed device revokes its dma-bufs for good: opening it again makes
 * new exports possible, never the old ones usable.
 */
TEST_F(dmabuf, revoked_for_good)
{
	struct dmabuf_env *e = &self->env;
	__u32 h = 0, h2 = 0;
	int fd, fd2;

	fd = export1(e, 0, 16 * PAGE);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, imp_import(e, fd, 0, &h, NULL));
	EXPECT_EQ(map_ok(e), imp_map_ret(e, h));

	ASSERT_EQ(0, close(e->device));
	e->device = -1;
	expect_state(_metadata, e, h, 1, 0, "device closed");
	expect_revoked(_metadata, e, h, "device closed");

	device_open(_metadata, e);
	ASSERT_EQ(0, set_memory(e, false));
	ASSERT_EQ(0, set_memory(e, true));
	expect_state(_metadata, e, h, 1, 0, "device opened again");
	expect_revoked(_metadata, e, h, "device opened again");
	/* No new importer for the old dma-buf either */
	EXPECT_EQ(-ENODEV, imp_import(e, fd, 0, &h2, NULL));

	fd2 = export1(e, 0, 16 * PAGE);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, imp_import(e, fd2, 0, &h2, NULL));
	EXPECT_EQ(map_ok(e), imp_map_ret(e, h2));
	expect_state(_metadata, e, h2, 0, e->p2p, "new export");
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, imp_close(e, h2));
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, close(fd2));
}

/* ---------------------------------------------------------------------- */
/* Clients: the requests real programs make, replayed                      */

/*
 * The mmap areas of region @index as QEMU finds them: the sparse mmap
 * capability's areas of non-zero size, or the whole region if it has none;
 * nothing if the region cannot be mmapped.  Returns the number of areas
 * (at most @max) in @a.
 */
static unsigned int mmap_areas(struct __test_metadata *_metadata,
			       struct dmabuf_env *e, __u32 index,
			       struct vfio_region_dma_range *a,
			       unsigned int max)
{
	struct vfio_region_info_cap_sparse_mmap *sparse;
	struct vfio_info_cap_header *hdr;
	struct vfio_region_info *ri;
	unsigned int i, n = 0;
	__u32 off;

	ri = calloc(1, sizeof(*ri));
	ASSERT_NE(NULL, ri);
	ri->argsz = sizeof(*ri);
	ri->index = index;
	ASSERT_EQ(0, ioctl(e->device, VFIO_DEVICE_GET_REGION_INFO, ri));
	if (ri->argsz > sizeof(*ri)) {
		/* room for the capabilities, as QEMU asks again */
		__u32 argsz = ri->argsz;

		free(ri);
		ri = calloc(1, argsz);
		ASSERT_NE(NULL, ri);
		ri->argsz = argsz;
		ri->index = index;
		ASSERT_EQ(0, ioctl(e->device, VFIO_DEVICE_GET_REGION_INFO, ri));
	}
	if (!ri->size || !(ri->flags & VFIO_REGION_INFO_FLAG_MMAP))
		goto out;
	off = ri->flags & VFIO_REGION_INFO_FLAG_CAPS ? ri->cap_offset : 0;
	while (off) {
		ASSERT_GE(ri->argsz, off + sizeof(*hdr));
		hdr = (void *)ri + off;
		if (hdr->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
			sparse = (void *)hdr;
			for (i = 0; i < sparse->nr_areas && n < max; i++) {
				if (!sparse->areas[i].size)
					continue;
				a[n].offset = sparse->areas[i].offset;
				a[n++].length = sparse->areas[i].size;
			}
			goto out;
		}
		off = hdr->next;
	}
	a[n].offset = 0;
	a[n++].length = ri->size;
out:
	free(ri);
	return n;
}

/*
 * QEMU (hw/vfio): one dma-buf per BAR, one range per mmap area, O_RDWR,
 * for every BAR that can be mmapped.  Each export of page-aligned areas
 * succeeds and is as large as the areas (a BAR smaller than a page, which
 * vfio mmaps when it is alone in its page, is EINVAL, as in mainline);
 * through the shared-memory BAR's, DMA lands at both ends.
 */
TEST_F_TIMEOUT(dmabuf, client_qemu_per_bar, 120)
{
	struct vfio_region_dma_range a[16];
	struct dmabuf_env *e = &self->env;
	unsigned int i, j, n, exported = 0;
	__u64 size, got = 0;
	bool sub_page;
	struct stat st;
	__u32 h = 0;
	int fd;

	for (i = VFIO_PCI_BAR0_REGION_INDEX; i <= VFIO_PCI_BAR5_REGION_INDEX;
	     i++) {
		n = mmap_areas(_metadata, e, i, a, ARRAY_SIZE(a));
		if (!n)
			continue;
		for (size = 0, sub_page = false, j = 0; j < n; j++) {
			size += a[j].length;
			sub_page |= (a[j].offset | a[j].length) & (PAGE - 1);
		}
		fd = export_bar(e, i, O_RDWR, a, n);
		if (sub_page) {
			/* vfio mmaps a BAR alone in its page; QEMU warns */
			EXPECT_EQ(-EINVAL, fd) TH_LOG("BAR %u: sub-page", i);
			if (fd >= 0)
				close(fd);
			continue;
		}
		ASSERT_LE(0, fd) TH_LOG("BAR %u, %u mmap areas: %s", i, n,
					strerror(-fd));
		exported++;
		ASSERT_EQ(0, fstat(fd, &st));
		EXPECT_EQ(size, (__u64)st.st_size) TH_LOG("BAR %u", i);
		if (i == BAR) {
			ASSERT_EQ(0, imp_import(e, fd, 0, &h, &got));
			EXPECT_EQ(size, got);
			check_dma(_metadata, e, h, a, n, 0, PAGE, 1);
			check_dma(_metadata, e, h, a, n, size - PAGE, PAGE, 2);
			EXPECT_EQ(0, imp_close(e, h));
		}
		EXPECT_EQ(0, close(fd));
	}
	/* At least the shared-memory BAR */
	EXPECT_LE(1, exported);
}

/*
 * cloud-hypervisor (pci/src/vfio_dmabuf.rs): PROBE|GET with room for one
 * range, then one range O_RDWR|O_CLOEXEC per BAR, whose import fails with
 * ENODEV while the guest has memory decode off ("revoked": it closes the
 * fd and exports again once the guest enables decode).
 */
TEST_F_TIMEOUT(dmabuf, client_cloud_hypervisor, 120)
{
	const struct vfio_region_dma_range r = { 0x10000, 0x20000 };
	struct dmabuf_env *e = &self->env;
	__u32 h = 0;
	int fd, fl;

	EXPECT_EQ(0, feature_dma_buf(e->device, VFIO_DEVICE_FEATURE_PROBE |
				     DMA_BUF_GET, FEAT_SZ(1), 0, 0, 0, 0,
				     NULL, 0));

	/* The guest's firmware has not enabled the BAR yet */
	ASSERT_EQ(0, set_memory(e, false));
	fd = export_bar(e, BAR, O_RDWR | O_CLOEXEC, &r, 1);
	ASSERT_LE(0, fd) TH_LOG("export with decode off: %s", strerror(-fd));
	fl = fcntl(fd, F_GETFD);
	EXPECT_TRUE(fl >= 0 && (fl & FD_CLOEXEC));
	EXPECT_EQ(-ENODEV, imp_import(e, fd, 0, &h, NULL))
		TH_LOG("importing while decode is off: not read as revoked");
	EXPECT_EQ(0, close(fd));

	/* The guest enables decode: export again, map, DMA */
	ASSERT_EQ(0, set_memory(e, true));
	fd = export_bar(e, BAR, O_RDWR | O_CLOEXEC, &r, 1);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, imp_import(e, fd, 0, &h, NULL));
	check_dma(_metadata, e, h, &r, 1, 0, PAGE, 1);
	check_dma(_metadata, e, h, &r, 1, r.length - PAGE, PAGE, 2);

	/* The guest turns decode off and on again: the same import maps */
	ASSERT_EQ(0, set_memory(e, false));
	expect_revoked(_metadata, e, h, "decode off again");
	ASSERT_EQ(0, set_memory(e, true));
	check_dma(_metadata, e, h, &r, 1, PAGE, PAGE, 3);
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));
}

/*
 * A virtio-gpu blob backed by a BAR (QEMU's virtio-gpu with vfio): one
 * range per guest iov entry, thousands of them, of one or two pages, in
 * the guest's order rather than the BAR's, O_RDONLY|O_CLOEXEC.  The
 * importer's DMA lands where each range says.
 */
TEST_F_TIMEOUT(dmabuf, client_virtio_gpu_blob, 120)
{
	const unsigned int n = 2048;
	struct dmabuf_env *e = &self->env;
	struct vfio_region_dma_range *r;
	unsigned int i, j, t, *slot;
	__u64 size = 0, got = 0;
	__u32 h = 0;
	int fd, fl;

	/* Slots of two pages, shuffled */
	ASSERT_LE(2 * n * PAGE, e->bar_size);
	r = calloc(n, sizeof(*r));
	slot = calloc(n, sizeof(*slot));
	ASSERT_NE(NULL, r);
	ASSERT_NE(NULL, slot);
	srand(e->seed);
	for (i = 0; i < n; i++)
		slot[i] = i;
	for (i = n - 1; i > 0; i--) {
		j = rand() % (i + 1);
		t = slot[i];
		slot[i] = slot[j];
		slot[j] = t;
	}
	for (i = 0; i < n; i++) {
		r[i].offset = 2 * slot[i] * PAGE;
		r[i].length = (1 + (rand() & 1)) * PAGE;
		size += r[i].length;
	}

	fd = export_bar(e, BAR, O_RDONLY | O_CLOEXEC, r, n);
	ASSERT_LE(0, fd) TH_LOG("%u ranges: %s", n, strerror(-fd));
	fl = fcntl(fd, F_GETFL);
	EXPECT_EQ(O_RDONLY, fl & O_ACCMODE);
	fl = fcntl(fd, F_GETFD);
	EXPECT_TRUE(fl >= 0 && (fl & FD_CLOEXEC));
	ASSERT_EQ(0, imp_import(e, fd, 0, &h, &got));
	EXPECT_EQ(size, got);
	EXPECT_EQ(map_ok(e), imp_map_ret(e, h));
	check_dma(_metadata, e, h, r, n, 0, PAGE, 1);
	check_dma(_metadata, e, h, r, n, size / 2 & ~(PAGE - 1), PAGE, 2);
	check_dma(_metadata, e, h, r, n, size - PAGE, PAGE, 3);
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));
	free(slot);
	free(r);
}

/* ---------------------------------------------------------------------- */
/* A dma-buf handed to another process                                     */

enum { CMD_RECV, CMD_IMPORT, CMD_WRITE, CMD_INFO, CMD_MAP, CMD_QUIT };

struct scm_cmd {
	__u32 op;
	__u32 seed;
	__u64 off;
	__u64 len;
};

struct scm_reply {
	__s32 ret;
	__u32 pad;
	__u64 size;
	struct p2pdma_edu_import_info info;
};

static int send_cmd(int sock, const struct scm_cmd *c, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { .iov_base = (void *)c, .iov_len = sizeof(*c) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *cm;

	if (fd >= 0) {
		msg.msg_control = cbuf;
		msg.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	return sendmsg(sock, &msg, 0) == sizeof(*c) ? 0 : -1;
}

static int recv_cmd(int sock, struct scm_cmd *c, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { .iov_base = c, .iov_len = sizeof(*c) };
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
	};
	struct cmsghdr *cm;

	*fd = -1;
	if (recvmsg(sock, &msg, MSG_CMSG_CLOEXEC) != sizeof(*c))
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return 0;
}

/*
 * The receiving process: it has none of the sender's files.  It holds the
 * dma-buf it is given (CMD_RECV), then opens its own /dev/p2pdma_edu and
 * imports it (CMD_IMPORT) once the sender has closed its fd.  It only
 * reports; the test process checks.
 */
static void scm_receiver(int sock, __u32 importer)
{
	struct scm_cmd c;
	struct scm_reply r;
	int edu = -1, fd = -1, got;
	uint8_t buf[BLOCK];
	struct stat st;
	__u32 h = 0;

	close_from(sock);
	while (!recv_cmd(sock, &c, &got)) {
		memset(&r, 0, sizeof(r));
		switch (c.op) {
		case CMD_RECV:
			/* Hold the passed file: its size says what it is */
			fd = got;
			r.ret = fd < 0 ? -EBADF : fstat(fd, &st) ? -errno : 0;
			if (!r.ret)
				r.size = st.st_size;
			break;
		case CMD_IMPORT: {
			struct p2pdma_edu_import imp = {
				.importer = importer, .fd = fd,
			};
			edu = open(P2PDMA_EDU_DEV, O_RDWR);
			if (edu < 0) {
				r.ret = -errno;
				break;
			}
			r.ret = ioctl(edu, P2PDMA_EDU_IMPORT, &imp) ? -errno : 0;
			h = imp.handle;
			r.size = imp.size;
			/* The import holds the only reference now */
			close(fd);
			fd = -1;
			break;
		}
		case CMD_WRITE: {
			struct p2pdma_edu_import_dma d = {
				.handle = h, .to_device = 1, .offset = c.off,
				.length = c.len, .user_buf = (uintptr_t)buf,
			};
			if (c.len > sizeof(buf)) {
				r.ret = -EINVAL;
				break;
			}
			fill(buf, c.len, c.seed);
			r.ret = ioctl(edu, P2PDMA_EDU_IMPORT_DMA, &d) ? -errno : 0;
			break;
		}
		case CMD_MAP: {
			struct p2pdma_edu_import_map m = { .handle = h };

			r.ret = ioctl(edu, P2PDMA_EDU_IMPORT_MAP, &m) ? -errno : 0;
			break;
		}
		case CMD_INFO:
			r.info.handle = h;
			r.ret = ioctl(edu, P2PDMA_EDU_IMPORT_INFO, &r.info) ?
				-errno : 0;
			break;
		default:
			break;
		}
		if (send(sock, &r, sizeof(r), 0) != sizeof(r) || c.op == CMD_QUIT)
			break;
	}
	_exit(0);
}

static struct scm_reply scm_call(struct __test_metadata *_metadata, int sock,
				 __u32 op, __u64 off, __u64 len, __u32 seed,
				 int fd)
{
	struct scm_cmd c = { .op = op, .seed = seed, .off = off, .len = len };
	struct scm_reply r;

	memset(&r, 0, sizeof(r));
	ASSERT_EQ(0, send_cmd(sock, &c, fd));
	ASSERT_EQ(sizeof(r), recv(sock, &r, sizeof(r), 0));
	return r;
}

/* The receiver's DMA of a pattern from @seed landed at @bar_off. */
static void scm_check_write(struct __test_metadata *_metadata,
			    struct dmabuf_env *e, int sock, __u64 off,
			    __u64 bar_off, __u32 seed)
{
	uint8_t want[BLOCK], got[BLOCK];
	struct scm_reply r;

	r = scm_call(_metadata, sock, CMD_WRITE, off, BLOCK, seed, -1);
	if (!e->p2p) {
		EXPECT_EQ(-EOPNOTSUPP, r.ret)
			TH_LOG("the topology refuses P2P: DMA must fail with EOPNOTSUPP");
		return;
	}
	ASSERT_EQ(0, r.ret) TH_LOG("receiver's DMA: %s", strerror(-r.ret));
	fill(want, BLOCK, seed);
	ASSERT_EQ(BLOCK, pread(e->bar_fd, got, BLOCK, bar_off));
	EXPECT_EQ(0, memcmp(want, got, BLOCK))
		TH_LOG("receiver's data not at BAR offset %#llx",
		       (unsigned long long)bar_off);
}

TEST_F_TIMEOUT(dmabuf, pass_to_another_process, 120)
{
	const struct vfio_region_dma_range r = { 0x500000, 0x10000 };
	struct dmabuf_env *e = &self->env;
	struct scm_reply rep;
	int sv[2], fd, st;

	ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
	/* Before the export, so that the receiver inherits no dma-buf */
	self->child = fork();
	ASSERT_LE(0, self->child);
	if (!self->child)
		scm_receiver(sv[1], e->importer);
	close(sv[1]);

	fd = export_bar(e, BAR, O_RDWR | O_CLOEXEC, &r, 1);
	ASSERT_LE(0, fd);
	rep = scm_call(_metadata, sv[0], CMD_RECV, 0, 0, 0, fd);
	ASSERT_EQ(0, rep.ret) TH_LOG("receiver got no file");
	EXPECT_EQ(r.length, rep.size);
	/* The sender lets go before the receiver imports it */
	ASSERT_EQ(0, close(fd));
	rep = scm_call(_metadata, sv[0], CMD_IMPORT, 0, 0, 0, -1);
	ASSERT_EQ(0, rep.ret) TH_LOG("receiver's import: %s", strerror(-rep.ret));
	EXPECT_EQ(r.length, rep.size);

	scm_check_write(_metadata, e, sv[0], 0x2000, r.offset + 0x2000,
			e->seed + 1);
	rep = scm_call(_metadata, sv[0], CMD_INFO, 0, 0, 0, -1);
	ASSERT_EQ(0, rep.ret);
	EXPECT_EQ(0, rep.info.move_notify);
	EXPECT_EQ(e->p2p, rep.info.mapped);

	/* The exporting process revokes; the other process's import sees it */
	ASSERT_EQ(0, set_memory(e, false));
	rep = scm_call(_metadata, sv[0], CMD_INFO, 0, 0, 0, -1);
	ASSERT_EQ(0, rep.ret);
	EXPECT_EQ(1, rep.info.move_notify);
	EXPECT_EQ(0, rep.info.mapped);
	rep = scm_call(_metadata, sv[0], CMD_MAP, 0, 0, 0, -1);
	EXPECT_EQ(-ENODEV, rep.ret);
	rep = scm_call(_metadata, sv[0], CMD_WRITE, 0, BLOCK, e->seed, -1);
	EXPECT_EQ(-ENODEV, rep.ret);

	ASSERT_EQ(0, set_memory(e, true));
	rep = scm_call(_metadata, sv[0], CMD_INFO, 0, 0, 0, -1);
	ASSERT_EQ(0, rep.ret);
	EXPECT_EQ(2, rep.info.move_notify);
	scm_check_write(_metadata, e, sv[0], 0x5000, r.offset + 0x5000,
			e->seed + 2);

	rep = scm_call(_metadata, sv[0], CMD_QUIT, 0, 0, 0, -1);
	ASSERT_EQ(self->child, waitpid(self->child, &st, 0));
	self->child = 0;
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st));
	close(sv[0]);
}

/* ---------------------------------------------------------------------- */
/* Lifetime: the device goes away while a dma-buf is in use                */

TEST_F_TIMEOUT(lifetime, close_device, 120)
{
	const struct vfio_region_dma_range r = { 0x600000, 0x10000 };
	struct dmabuf_env *e = &self->env;
	struct stat st;
	__u64 old;
	__u32 h = 0, h2 = 0;
	int fd;

	fd = export_bar(e, BAR, O_RDWR | O_CLOEXEC, &r, 1);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, imp_import(e, fd, 0, &h, NULL));
	check_dma(_metadata, e, h, &r, 1, 0, PAGE, 1);
	old = first_addr(_metadata, e, h);
	check_live_addr(_metadata, e, old, r.offset);
	expect_state(_metadata, e, h, 0, e->p2p, "mapped");

	if (variant->order == DMABUF_DEVICE_IMPORT) {
		/* the import keeps the dma-buf alive */
		ASSERT_EQ(0, close(fd));
		fd = -1;
		expect_state(_metadata, e, h, 0, e->p2p, "dma-buf fd closed");
	}

	mark_provider(_metadata, e);
	if (variant->memory_off) {
		ASSERT_EQ(0, set_memory(e, false));
		expect_state(_metadata, e, h, 1, 0, "memory decode off");
	}

	/*
	 * Closing the device revokes at once, and for good; a dma-buf that
	 * is revoked already is not notified again.
	 */
	ASSERT_EQ(0, close(e->device));
	e->device = -1;
	expect_state(_metadata, e, h, 1, 0, "device closed");
	expect_revoke_first(_metadata, e, h, 1, variant->memory_off ?
			    "memory decode off" : "device closed");
	expect_revoked(_metadata, e, h, "device closed");
	check_old_addr(_metadata, e, old, r.offset, false, "device closed");

	if (fd >= 0) {
		/* Still a valid file; no new importer though */
		ASSERT_EQ(0, fstat(fd, &st));
		EXPECT_EQ(r.length, (__u64)st.st_size);
		EXPECT_EQ(-ENODEV, imp_import(e, fd, 0, &h2, NULL));
	}

	switch (variant->order) {
	case DEVICE_DMABUF_IMPORT:
		EXPECT_EQ(0, close(fd));
		expect_state(_metadata, e, h, 1, 0, "dma-buf fd closed");
		expect_revoked(_metadata, e, h, "dma-buf fd closed");
		EXPECT_EQ(0, imp_close(e, h));
		break;
	case DEVICE_IMPORT_DMABUF:
		EXPECT_EQ(0, imp_close(e, h));
		EXPECT_EQ(r.length, (__u64)lseek(fd, 0, SEEK_END));
		EXPECT_EQ(0, close(fd));
		break;
	case DMABUF_DEVICE_IMPORT:
		EXPECT_EQ(0, imp_close(e, h));
		break;
	case DEVICE_EDU_DMABUF:
		/* the importer's file goes, with its import */
		EXPECT_EQ(0, close(e->edu));
		e->edu = open(P2PDMA_EDU_DEV, O_RDWR);
		ASSERT_LE(0, e->edu);
		EXPECT_EQ(r.length, (__u64)lseek(fd, 0, SEEK_END));
		EXPECT_EQ(0, close(fd));
		break;
	}
	EXPECT_EQ(-ENOENT, imp_close(e, h));

	/* The device opened again exports again */
	device_open(_metadata, e);
	fd = export_bar(e, BAR, O_RDWR | O_CLOEXEC, &r, 1);
	ASSERT_LE(0, fd) TH_LOG("export after reopening: %s", strerror(-fd));
	ASSERT_EQ(0, imp_import(e, fd, 0, &h2, NULL));
	check_dma(_metadata, e, h2, &r, 1, 0x1000, PAGE, 2);
	expect_state(_metadata, e, h2, 0, e->p2p, "new export");
	EXPECT_EQ(0, imp_close(e, h2));
	EXPECT_EQ(0, close(fd));
}

/* ---------------------------------------------------------------------- */
/* Unbinding vfio-pci from the provider (last: it rebinds afterwards)      */

TEST_F_TIMEOUT(unbind, revokes_while_open, 120)
{
	const struct vfio_region_dma_range r = { 0x700000, 0x10000 };
	struct p2pdma_edu_import_info i;
	struct dmabuf_env *e = &self->env;
	char drv[64];
	struct stat sb;
	__u32 h = 0, h2 = 0;
	int fd, st, ret;
	__u64 old;

	fd = export_bar(e, BAR, O_RDWR | O_CLOEXEC, &r, 1);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, imp_import(e, fd, 0, &h, NULL));
	check_dma(_metadata, e, h, &r, 1, 0, PAGE, 1);
	old = first_addr(_metadata, e, h);
	check_live_addr(_metadata, e, old, r.offset);

	/*
	 * The unbind blocks until the device fd is closed (vfio may signal
	 * a request eventfd; there is none), but must revoke first.
	 */
	mark_provider(_metadata, e);
	self->helper = fork();
	ASSERT_LE(0, self->helper);
	if (!self->helper)
		unbind_helper(e->bdf);
	i = wait_notify(_metadata, e, h, 1, 30000);
	EXPECT_EQ(1, i.move_notify) TH_LOG("unbind started, device fd open");
	expect_revoke_first(_metadata, e, h, 1, "unbinding");
	EXPECT_EQ(0, i.mapped);
	EXPECT_EQ(0, waitpid(self->helper, &st, WNOHANG))
		TH_LOG("the unbind did not wait for the device fd");
	expect_revoked(_metadata, e, h, "unbinding");
	check_old_addr(_metadata, e, old, r.offset, false, "unbinding");
	/* The device is going away: no new exports */
	ret = export_bar(e, BAR, O_RDWR, &r, 1);
	EXPECT_EQ(-ENODEV, ret) TH_LOG("export while unbinding");
	if (ret >= 0)
		close(ret);	/* or the unbind never completes */

	ASSERT_EQ(0, close(e->device));
	e->device = -1;
	ASSERT_EQ(self->helper, waitpid(self->helper, &st, 0));
	self->helper = 0;
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(0, WEXITSTATUS(st)) TH_LOG("unbind: %s",
					     strerror(WEXITSTATUS(st)));
	pci_driver(e->bdf, drv, sizeof(drv));
	EXPECT_STREQ("", drv);

	/* The dma-buf outlives the driver, still revoked, notified once */
	expect_state(_metadata, e, h, 1, 0, "unbound");
	expect_revoked(_metadata, e, h, "unbound");
	ASSERT_EQ(0, fstat(fd, &sb));
	EXPECT_EQ(r.length, (__u64)sb.st_size);
	EXPECT_EQ(-ENODEV, imp_import(e, fd, 0, &h2, NULL));
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));

	/* Bound again, the device exports again */
	vfio_close(e);
	ret = bind_vfio_pci(e->bdf);
	ASSERT_EQ(0, ret) TH_LOG("binding %s to vfio-pci: %s", e->bdf,
				 strerror(-ret));
	vfio_open(_metadata, e);
	fd = export_bar(e, BAR, O_RDWR | O_CLOEXEC, &r, 1);
	ASSERT_LE(0, fd) TH_LOG("export after rebinding: %s", strerror(-fd));
	ASSERT_EQ(0, imp_import(e, fd, 0, &h, NULL));
	check_dma(_metadata, e, h, &r, 1, 0x1000, PAGE, 2);
	expect_state(_metadata, e, h, 0, e->p2p, "after rebinding");
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));
}

/*
 * A dma-buf's file can end before its release callback runs: an O_PATH
 * open of /proc/self/fd/<n> holds its dentry, and the callback waits for
 * the dentry.  Closing the device meanwhile must let go of the device all
 * the same (the dma-buf's registration reference), whatever became of the
 * freed file: the unbind completes while the dentry is still held.
 */
TEST_F_TIMEOUT(unbind, file_gone_dentry_held, 120)
{
	struct dmabuf_env *e = &self->env;
	char path[64], drv[64];
	int fd, held, st, ret;
	unsigned int waited;

	fd = export1(e, 0, 4 * PAGE);
	ASSERT_LE(0, fd);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	held = open(path, O_PATH | O_CLOEXEC);
	ASSERT_LE(0, held) TH_LOG("O_PATH %s: %s", path, strerror(errno));
	ASSERT_EQ(0, close(fd));
	vfio_close(e);

	self->helper = fork();
	ASSERT_LE(0, self->helper);
	if (!self->helper)
		unbind_helper(e->bdf);
	for (waited = 0; waited < 200; waited++) {
		ret = waitpid(self->helper, &st, WNOHANG);
		if (ret)
			break;
		usleep(100000);
	}
	EXPECT_GT(200, waited)
		TH_LOG("the unbind waited 20 s for the dma-buf's dentry");
	/* the release callback runs now */
	EXPECT_EQ(0, close(held));
	if (waited == 200)
		ret = waitpid(self->helper, &st, 0);
	ASSERT_EQ(self->helper, ret);
	self->helper = 0;
	ASSERT_TRUE(WIFEXITED(st));
	ASSERT_EQ(0, WEXITSTATUS(st)) TH_LOG("unbind: %s",
					     strerror(WEXITSTATUS(st)));
	pci_driver(e->bdf, drv, sizeof(drv));
	EXPECT_STREQ("", drv);

	ret = bind_vfio_pci(e->bdf);
	ASSERT_EQ(0, ret) TH_LOG("binding %s to vfio-pci: %s", e->bdf,
				 strerror(-ret));
	vfio_open(_metadata, e);
	fd = export1(e, 0, 4 * PAGE);
	ASSERT_LE(0, fd) TH_LOG("export after rebinding: %s", strerror(-fd));
	EXPECT_EQ(0, close(fd));
}

/*
 * Surprise removal: the provider leaves the bus while a dma-buf of it is
 * exported, attached, mapped and under DMA by another process that holds
 * its own fd of the dma-buf.  Variants remove it through sysfs (what a
 * hot-unplug does in the kernel) and, when VFIO_DMABUF_UNPLUG_CMD and
 * VFIO_DMABUF_REPLUG_CMD are set, through a real PCIe hot-unplug (the lab
 * has QEMU press the slot's attention button).
 */
FIXTURE(unplug)
{
	struct dmabuf_env env;
	pid_t remover, dmaer;
	const char *unplug, *replug;
};

FIXTURE_VARIANT(unplug)
{
	bool monitor;		/* the commands from the environment */
};

FIXTURE_VARIANT_ADD(unplug, sysfs_remove) {
	.monitor = false,
};

FIXTURE_VARIANT_ADD(unplug, hot_unplug) {
	.monitor = true,
};

FIXTURE_SETUP(unplug)
{
	const char *prov = getenv("VFIO_DMABUF_PROVIDER");

	self->remover = 0;
	self->dmaer = 0;
	/* the other process may be gone when the test writes to it */
	signal(SIGPIPE, SIG_IGN);
	if (variant->monitor) {
		self->unplug = getenv("VFIO_DMABUF_UNPLUG_CMD");
		self->replug = getenv("VFIO_DMABUF_REPLUG_CMD");
		if (!self->unplug || !self->replug)
			SKIP(return,
			     "no hot-plug slot: VFIO_DMABUF_UNPLUG_CMD/REPLUG_CMD unset");
	} else {
		self->unplug = "echo 1 > /sys/bus/pci/devices/$VFIO_DMABUF_PROVIDER/remove";
		self->replug = "echo 1 > /sys/bus/pci/rescan";
	}
	/* An earlier test that failed half-way may have left it off the bus */
	if (prov && !pci_present(prov)) {
		TH_LOG("%s is not on the bus: %s", prov, self->replug);
		ASSERT_EQ(0, system(self->replug));
		ASSERT_TRUE(wait_present(prov, true, 60));
		ASSERT_EQ(0, bind_vfio_pci(prov));
	}
	if (env_open(_metadata, &self->env)) {
		assert_not_in_lab(_metadata);
		SKIP(return, NO_LAB);
	}
}

FIXTURE_TEARDOWN(unplug)
{
	char drv[64];

	env_close(&self->env);
	if (self->dmaer > 0) {
		kill(self->dmaer, SIGKILL);
		waitpid(self->dmaer, NULL, 0);
	}
	if (self->remover > 0)
		waitpid(self->remover, NULL, 0);
	/* Whatever failed, leave the provider on the bus and with vfio-pci */
	if (!self->env.bdf[0])
		return;
	if (!pci_present(self->env.bdf) && system(self->replug))
		TH_LOG("%s failed", self->replug);
	if (!wait_present(self->env.bdf, true, 30))
		TH_LOG("%s is not back on the bus", self->env.bdf);
	pci_driver(self->env.bdf, drv, sizeof(drv));
	if (!drv[0] && bind_vfio_pci(self->env.bdf))
		TH_LOG("could not bind %s to vfio-pci again", self->env.bdf);
}

/*
 * The other process: DMA through its own import of @fd until the import
 * is revoked, then check it stays so.  Exit status: 0, or what failed.
 */
static void unplug_dmaer(struct dmabuf_env *e, int fd, int go, int ready)
{
	struct p2pdma_edu_import_info info = { 0 };
	uint8_t buf[64], c;
	unsigned int dmas = 0;
	int ret;

	/* Nothing of the owner's: its device fd would hold up the removal */
	close(e->edu);
	vfio_close(e);
	e->edu = open(P2PDMA_EDU_DEV, O_RDWR);
	if (e->edu < 0 || imp_import(e, fd, 0, &info.handle, NULL))
		_exit(10);
	close(fd);		/* the import holds the dma-buf */
	do {
		fill(buf, sizeof(buf), e->seed + dmas++);
		ret = imp_dma(e, info.handle, 1, 0, buf, sizeof(buf));
		/* the first DMA is through (or refused): remove the device */
		if (dmas == 1 && write(ready, "r", 1) != 1)
			_exit(17);
	} while (!ret);
	if (ret != -ENODEV && ret != map_ok(e))
		_exit(11);
	/* Wait for the owner to have let go of the device */
	if (read(go, &c, 1) != 1)
		_exit(12);
	if (ioctl(e->edu, P2PDMA_EDU_IMPORT_INFO, &info) || info.mapped ||
	    info.move_notify != 1)
		_exit(13);
	if (imp_map_ret(e, info.handle) != -ENODEV ||
	    imp_dma(e, info.handle, 1, 0, buf, sizeof(buf)) != -ENODEV)
		_exit(14);
	if (imp_close(e, info.handle))
		_exit(15);
	_exit(e->p2p && dmas < 2 ? 16 : 0);
}

static const char * const dmaer_fail[] = {
	[10] = "could not import",
	[11] = "DMA failed with another error than ENODEV",
	[12] = "no go from the test",
	[13] = "import not revoked exactly once",
	[14] = "map or DMA did not fail with ENODEV",
	[15] = "could not close the import",
	[16] = "no DMA went through before the removal",
	[17] = "could not tell the test it is ready",
};

TEST_F_TIMEOUT(unplug, while_in_use, 180)
{
	const struct vfio_region_dma_range r = { 0x300000, 0x10000 };
	const struct vfio_region_dma_range r2 = { 0x400000, PAGE };
	struct dmabuf_env *e = &self->env;
	struct p2pdma_edu_import_info i;
	unsigned int bufs, att;
	int fd, fd2, st, go[2], ready[2], ret;
	char c;
	__u32 h = 0, h2 = 0;
	__u64 old;

	setenv("VFIO_DMABUF_PROVIDER", e->bdf, 1);
	fd = export_bar(e, BAR, O_RDWR | O_CLOEXEC, &r, 1);
	ASSERT_LE(0, fd);
	fd2 = export_bar(e, BAR, O_RDWR | O_CLOEXEC, &r2, 1);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, imp_import(e, fd, 0, &h, NULL));
	check_dma(_metadata, e, h, &r, 1, 0, PAGE, 1);
	old = first_addr(_metadata, e, h);
	check_live_addr(_metadata, e, old, r.offset);

	/* Another process DMAs through the second dma-buf, held by it only */
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(ready));
	self->dmaer = fork();
	ASSERT_LE(0, self->dmaer);
	if (!self->dmaer) {
		close(go[1]);
		close(ready[0]);
		unplug_dmaer(e, fd2, go[0], ready[1]);
	}
	close(go[0]);
	close(ready[1]);
	close(fd2);
	ASSERT_EQ(1, read(ready[0], &c, 1)) TH_LOG("the other process died");
	close(ready[0]);

	/* The removal blocks until the device fd is closed */
	mark_provider(_metadata, e);
	self->remover = fork();
	ASSERT_LE(0, self->remover);
	if (!self->remover) {
		close_from(-1);
		_exit(system(self->unplug) ? 1 : 0);
	}
	i = wait_notify(_metadata, e, h, 1, 60000);
	ASSERT_EQ(1, i.move_notify) TH_LOG("%s did not revoke", self->unplug);
	EXPECT_EQ(0, i.mapped);
	expect_revoke_first(_metadata, e, h, 1, "removing");
	expect_revoked(_metadata, e, h, "removing");
	check_old_addr(_metadata, e, old, r.offset, false, "removing");
	EXPECT_EQ(-ENODEV, imp_import(e, fd, 0, &h2, NULL));
	fd2 = export_bar(e, BAR, O_RDWR, &r, 1);
	EXPECT_EQ(-ENODEV, fd2) TH_LOG("export while the device is removed");
	if (fd2 >= 0)
		close(fd2);

	/* What a VMM does when asked for the device: let it go */
	vfio_close(e);
	ASSERT_TRUE(wait_present(e->bdf, false, 60))
		TH_LOG("%s still on the bus after %s", e->bdf, self->unplug);
	ASSERT_EQ(self->remover, waitpid(self->remover, &st, 0));
	self->remover = 0;
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st))
		TH_LOG("%s failed", self->unplug);
	EXPECT_EQ(1, write(go[1], "g", 1)) TH_LOG("the other process is gone");
	ASSERT_EQ(self->dmaer, waitpid(self->dmaer, &st, 0));
	self->dmaer = 0;
	ASSERT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st))
		TH_LOG("the other process: %s",
		       WEXITSTATUS(st) < ARRAY_SIZE(dmaer_fail) &&
		       dmaer_fail[WEXITSTATUS(st)] ?
		       dmaer_fail[WEXITSTATUS(st)] : "crashed");
	close(go[1]);

	/* The dma-buf outlives the device, revoked once, and then nothing */
	expect_state(_metadata, e, h, 1, 0, "removed");
	expect_revoked(_metadata, e, h, "removed");
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));
	EXPECT_EQ(0, vfio_dmabufs(&att));
	EXPECT_EQ(0, att);

	/* Back on the bus, the device exports again and DMA lands */
	ASSERT_EQ(0, system(self->replug)) TH_LOG("%s", self->replug);
	ASSERT_TRUE(wait_present(e->bdf, true, 60));
	ret = bind_vfio_pci(e->bdf);
	ASSERT_EQ(0, ret) TH_LOG("binding %s to vfio-pci: %s", e->bdf,
				 strerror(-ret));
	vfio_open(_metadata, e);
	fd = export_bar(e, BAR, O_RDWR | O_CLOEXEC, &r, 1);
	ASSERT_LE(0, fd) TH_LOG("export after the device came back: %s",
				strerror(-fd));
	ASSERT_EQ(0, imp_import(e, fd, 0, &h, NULL));
	check_dma(_metadata, e, h, &r, 1, 0x2000, PAGE, 3);
	expect_state(_metadata, e, h, 0, e->p2p, "after the device came back");
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));
	bufs = vfio_dmabufs(&att);
	EXPECT_EQ(0, bufs);
}

TEST_HARNESS_MAIN
