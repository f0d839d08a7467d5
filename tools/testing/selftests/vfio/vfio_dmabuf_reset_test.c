// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO_DEVICE_FEATURE_DMA_BUF on a device with what the lab's main
 * provider (ivshmem, a conventional PCI device) lacks: PCIe FLR, a PM
 * capability, an MSI-X table in a memory BAR, and a sibling function on
 * its bus.  vfio-pci takes the BARs away from userspace when a guest
 * starts an FLR through config space, puts the device in D3hot through
 * the PM capability, or resets a bus of two devices; the dma-bufs of every
 * device concerned must be revoked before that, and given back after it.
 *
 * The device: QEMU's virtio-rng-pci, modern only, as functions 0 and 1 of
 * one slot behind a PCIe root port, both bound to vfio-pci, in one IOMMU
 * group.  Each function has FLR in its PCIe device capabilities, a PM
 * capability, and its MSI-X table at offset 0 of BAR 1, its first memory
 * BAR.  With MSI-X disabled QEMU keeps what is written to the table,
 * signals nothing, and clears the table on every reset; so the table is
 * where edu's DMA through the dma-buf is checked, read by the CPU through
 * vfio-pci's mmap of the BAR (vfio-pci lets userspace map an MSI-X table),
 * and its first entry holds the mark that p2pdma_edu reads in move_notify:
 * still there, the revoke came before the reset.
 *
 * Environment (the lab provides it; without it the tests are skipped as
 * without the hardware):
 *   VFIO_DMABUF_RESET_DEVICE  PCI address of function 0 (vfio-pci)
 *   VFIO_DMABUF_RESET_EXPECT  bus-address, host-bridge or not-supported:
 *                             how edu reaches it in this topology
 *   VFIO_DMABUF_IMPORTER      PCI address of edu (p2pdma_edu, loaded)
 */
#include "vfio_dmabuf_util.h"

#define NR_FN		2	/* functions 0 and 1 */
#define MAX_ENTRIES	64	/* of an MSI-X table the tests use */
#define NO_RESET_LAB	"no reset device/edu importer (VFIO_DMABUF_RESET_* not set)"

/* One function: its device fd, its MSI-X table mapped */
struct rfn {
	struct dmabuf_env e;	/* edu, group and container: fn[0]'s */
	unsigned int msix_bar;
	__u64 table;		/* offset of the MSI-X table in the BAR */
	unsigned int entries;	/* used, at most MAX_ENTRIES */
	__u32 *bar;		/* the MSI-X BAR through vfio's mmap */
	__u64 bar_len;
	struct vfio_region_dma_range r;	/* the page of the BAR with the table */
};

/* One 32-bit access at @off of the MSI-X BAR: the table takes no other */
static __u32 bar_read(struct rfn *f, __u64 off)
{
	return __atomic_load_n(&f->bar[off / 4], __ATOMIC_RELAXED);
}

static void bar_write(struct rfn *f, __u64 off, __u32 v)
{
	__atomic_store_n(&f->bar[off / 4], v, __ATOMIC_RELAXED);
}

/* MSI-X table bytes [@off, @off + @len) */
static void table_read(struct rfn *f, __u64 off, uint8_t *buf, size_t len)
{
	size_t i;
	__u32 v;

	for (i = 0; i < len; i += 4) {
		v = bar_read(f, f->table + off + i);
		memcpy(buf + i, &v, 4);
	}
}

static void table_clear(struct rfn *f, __u64 off, size_t len)
{
	size_t i;

	for (i = 0; i < len; i += 4)
		bar_write(f, f->table + off + i, 0);
}

/*
 * edu writes a fresh pattern to MSI-X entries [@first, entries) through
 * import @h of a dma-buf of @f->r: the CPU must read it in the table, and
 * edu must read it back.  Where the topology refuses P2P the DMA must fail
 * with EOPNOTSUPP instead.
 */
static void table_dma(struct __test_metadata *_metadata, struct rfn *f,
		      __u32 h, unsigned int first, unsigned int seed)
{
	size_t len = (f->entries - first) * PCI_MSIX_ENTRY_SIZE;
	__u64 at = first * PCI_MSIX_ENTRY_SIZE;
	__u64 off = f->table - f->r.offset + at;
	uint8_t want[MAX_ENTRIES * PCI_MSIX_ENTRY_SIZE];
	uint8_t got[MAX_ENTRIES * PCI_MSIX_ENTRY_SIZE];
	int ret;

	table_clear(f, at, len);
	table_read(f, at, got, len);
	memset(want, 0, len);
	ASSERT_EQ(0, memcmp(want, got, len))
		TH_LOG("%s: the MSI-X table does not keep zeros", f->e.bdf);
	fill(want, len, f->e.seed + seed * 7919);
	ret = imp_dma(&f->e, h, 1, off, want, len);
	if (!f->e.p2p) {
		EXPECT_EQ(-EOPNOTSUPP, ret)
			TH_LOG("the topology refuses P2P: DMA must fail with EOPNOTSUPP");
		return;
	}
	ASSERT_EQ(0, ret) TH_LOG("edu -> %s MSI-X table: %s", f->e.bdf,
				 strerror(-ret));
	table_read(f, at, got, len);
	EXPECT_EQ(0, memcmp(want, got, len))
		TH_LOG("%s: edu's write is not in the MSI-X table", f->e.bdf);
	fill(got, len, f->e.seed ^ 0xdead);
	ASSERT_EQ(0, imp_dma(&f->e, h, 0, off, got, len));
	EXPECT_EQ(0, memcmp(want, got, len))
		TH_LOG("%s: edu read back other data", f->e.bdf);
}

/* A mark in MSI-X entry 0, where p2pdma_edu's move_notify looks */
static void mark_fn(struct __test_metadata *_metadata, struct rfn *f)
{
	f->e.marker = 0x5a000000 | ((f->e.seed + rand()) & 0xfffffc);
	bar_write(f, 0, f->e.marker);
	ASSERT_EQ(f->e.marker, bar_read(f, 0))
		TH_LOG("%s: MSI-X entry 0 does not keep a value", f->e.bdf);
}

/* The reset really happened: QEMU cleared the table, and the mark */
static void expect_reset(struct __test_metadata *_metadata, struct rfn *f,
			 const char *what)
{
	__u32 v = bar_read(f, 0);

	EXPECT_EQ(0, v) TH_LOG("%s: %s still has its mark (%#x): it was not reset",
			       what, f->e.bdf, v);
}

/* The PCI core's view of the device's power state, from sysfs */
static void expect_power(struct __test_metadata *_metadata, struct rfn *f,
			 const char *state)
{
	char path[PATH_MAX], buf[16] = "";
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/power_state",
		 f->e.bdf);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd) TH_LOG("%s: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	ASSERT_LT(0, n);
	buf[strcspn(buf, "\n")] = 0;
	EXPECT_STREQ(state, buf) TH_LOG("%s: power state", f->e.bdf);
}

static void fn_open(struct __test_metadata *_metadata, struct rfn *f)
{
	struct dmabuf_env *e = &f->e;
	struct vfio_device_info info = { .argsz = sizeof(info) };
	long pg = sysconf(_SC_PAGESIZE);
	struct vfio_region_info ri;
	unsigned int pos, i;
	__u32 table = 0;
	__u16 flags = 0;
	char drv[64];

	pci_driver(e->bdf, drv, sizeof(drv));
	ASSERT_STREQ("vfio-pci", drv) TH_LOG("driver of %s", e->bdf);
	e->device = ioctl(e->group, VFIO_GROUP_GET_DEVICE_FD, e->bdf);
	ASSERT_LE(0, e->device) TH_LOG("VFIO_GROUP_GET_DEVICE_FD %s: %s",
				       e->bdf, strerror(errno));
	ASSERT_EQ(0, ioctl(e->device, VFIO_DEVICE_GET_INFO, &info));
	e->dev_flags = info.flags;
	region_info(_metadata, e, VFIO_PCI_CONFIG_REGION_INDEX, &ri);
	e->cfg_off = ri.offset;
	ASSERT_EQ(0, set_memory(e, true));

	pos = find_cap(e, PCI_CAP_ID_MSIX);
	ASSERT_NE(0, pos) TH_LOG("%s has no MSI-X capability", e->bdf);
	ASSERT_EQ(0, cfg_read16(e, pos + PCI_MSIX_FLAGS, &flags));
	ASSERT_EQ(0, cfg_read32(e, pos + PCI_MSIX_TABLE, &table));
	f->msix_bar = table & PCI_MSIX_TABLE_BIR;
	f->table = table & PCI_MSIX_TABLE_OFFSET;
	f->entries = (flags & PCI_MSIX_FLAGS_QSIZE) + 1;
	if (f->entries > MAX_ENTRIES)
		f->entries = MAX_ENTRIES;
	ASSERT_LE(2, f->entries) TH_LOG("%s: one MSI-X entry", e->bdf);

	/* The mark must be where p2pdma_edu reads: 0 of the first memory BAR */
	if (f->table)
		SKIP(return, "%s: the MSI-X table is not at offset 0 of its BAR",
		     e->bdf);
	for (i = 0; i < f->msix_bar; i++) {
		region_info(_metadata, e, i, &ri);
		if (ri.size)
			SKIP(return, "%s: BAR %u comes before the MSI-X BAR",
			     e->bdf, i);
	}
	region_info(_metadata, e, f->msix_bar, &ri);
	if (ri.size < (__u64)pg)
		SKIP(return, "%s: the MSI-X BAR (%llu bytes) is smaller than a page",
		     e->bdf, (unsigned long long)ri.size);
	ASSERT_TRUE(ri.flags & VFIO_REGION_INFO_FLAG_MMAP)
		TH_LOG("%s: vfio-pci does not let userspace map BAR %u",
		       e->bdf, f->msix_bar);
	f->bar_len = ri.size;
	f->bar = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      e->device, ri.offset);
	ASSERT_NE(MAP_FAILED, f->bar) TH_LOG("mmap of BAR %u of %s: %s",
					     f->msix_bar, e->bdf,
					     strerror(errno));
	f->r.offset = 0;
	f->r.length = pg;
}

/* Both functions open through their group, edu ready to import */
FIXTURE(resetdev)
{
	struct rfn fn[NR_FN];
};

FIXTURE_SETUP(resetdev)
{
	const char *dev = getenv("VFIO_DMABUF_RESET_DEVICE");
	const char *expect = getenv("VFIO_DMABUF_RESET_EXPECT");
	struct dmabuf_env *e0 = &self->fn[0].e;
	char path[PATH_MAX], link[PATH_MAX];
	struct timespec ts;
	size_t len;
	ssize_t n;
	int i;

	for (i = 0; i < NR_FN; i++) {
		memset(&self->fn[i], 0, sizeof(self->fn[i]));
		self->fn[i].bar = MAP_FAILED;
		self->fn[i].e.container = -1;
		self->fn[i].e.group = -1;
		self->fn[i].e.device = -1;
		self->fn[i].e.edu = -1;
		self->fn[i].e.bar_fd = -1;
	}
	e0->importer_bdf = getenv("VFIO_DMABUF_IMPORTER");
	if (!dev || !expect || parse_pci(e0->importer_bdf, &e0->importer)) {
		assert_not_in_lab(_metadata);
		SKIP(return, NO_RESET_LAB);
	}
	set_expect(_metadata, e0, expect, "VFIO_DMABUF_RESET_EXPECT");
	pci_name(_metadata, dev, e0->bdf, sizeof(e0->bdf));
	len = strlen(e0->bdf);
	ASSERT_EQ(0, strcmp(e0->bdf + len - 2, ".0"))
		TH_LOG("%s is not function 0", e0->bdf);
	clock_gettime(CLOCK_REALTIME, &ts);
	e0->seed = ts.tv_nsec ^ ts.tv_sec << 20 ^ getpid() << 8;
	e0->edu = open(P2PDMA_EDU_DEV, O_RDWR);
	ASSERT_LE(0, e0->edu) TH_LOG("%s: %s (p2pdma_edu.ko not loaded?)",
				     P2PDMA_EDU_DEV, strerror(errno));
	vfio_open_group(_metadata, e0);

	/* Function 1 shares everything but the device fd */
	self->fn[1].e = *e0;
	self->fn[1].e.bdf[len - 1] = '1';
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group",
		 self->fn[1].e.bdf);
	n = readlink(path, link, sizeof(link) - 1);
	ASSERT_LT(0, n) TH_LOG("%s: no function 1, or no IOMMU group", path);
	link[n] = 0;
	ASSERT_EQ(e0->group_id, atoi(strrchr(link, '/') + 1))
		TH_LOG("functions 0 and 1 of %s in different IOMMU groups",
		       e0->bdf);
	for (i = 0; i < NR_FN; i++)
		fn_open(_metadata, &self->fn[i]);
}

FIXTURE_TEARDOWN(resetdev)
{
	struct dmabuf_env *e0 = &self->fn[0].e;
	int i;

	/* Imports first: they hold the dma-bufs */
	if (e0->edu >= 0)
		close(e0->edu);
	for (i = 0; i < NR_FN; i++) {
		if (self->fn[i].bar != MAP_FAILED)
			munmap(self->fn[i].bar, self->fn[i].bar_len);
		if (self->fn[i].e.device >= 0)
			close(self->fn[i].e.device);
	}
	if (e0->group >= 0)
		close(e0->group);
	if (e0->container >= 0)
		close(e0->container);
}

/* Export the table's page of function @f and import it: the dma-buf fd */
static int export_import(struct __test_metadata *_metadata, struct rfn *f,
			 __u32 *h)
{
	int fd, ret;

	fd = export_bar(&f->e, f->msix_bar, O_RDWR | O_CLOEXEC, &f->r, 1);
	EXPECT_LE(0, fd) TH_LOG("%s: export of BAR %u: %s", f->e.bdf,
				f->msix_bar, strerror(-fd));
	if (fd < 0)
		return fd;
	ret = imp_import(&f->e, fd, 0, h, NULL);
	EXPECT_EQ(0, ret) TH_LOG("import: %s", strerror(-ret));
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

/*
 * A guest driver's FLR: Initiate Function Level Reset written to the PCIe
 * device control register.  vfio-pci resets the function there and then;
 * with memory decode on the BAR is usable again when the write returns.
 */
TEST_F_TIMEOUT(resetdev, flr_through_config, 120)
{
	struct rfn *f = &self->fn[0];
	struct dmabuf_env *e = &f->e;
	unsigned int pos;
	__u32 devcap, h = 0;
	__u16 devctl;
	int fd;

	pos = find_cap(e, PCI_CAP_ID_EXP);
	ASSERT_NE(0, pos) TH_LOG("%s has no PCIe capability", e->bdf);
	ASSERT_EQ(0, cfg_read32(e, pos + PCI_EXP_DEVCAP, &devcap));
	if (!(devcap & PCI_EXP_DEVCAP_FLR))
		SKIP(return, "%s has no FLR (PCI_EXP_DEVCAP_FLR)", e->bdf);
	fd = export_import(_metadata, f, &h);
	ASSERT_LE(0, fd);
	table_dma(_metadata, f, h, 1, 1);
	expect_state(_metadata, e, h, 0, e->p2p, "before the FLR");

	mark_fn(_metadata, f);
	ASSERT_EQ(0, cfg_read16(e, pos + PCI_EXP_DEVCTL, &devctl));
	ASSERT_EQ(0, cfg_write16(e, pos + PCI_EXP_DEVCTL,
				 devctl | PCI_EXP_DEVCTL_BCR_FLR))
		TH_LOG("writing the FLR bit: %s", strerror(errno));

	/* Revoked before the reset, given back after it */
	expect_state(_metadata, e, h, 2, 0, "after the FLR");
	expect_revoke_first(_metadata, e, h, 1, "FLR through config space");
	expect_reset(_metadata, f, "FLR through config space");
	table_dma(_metadata, f, h, 1, 2);
	expect_state(_metadata, e, h, 2, e->p2p, "mapped again");
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));
}

/*
 * A guest driver's suspend: D3hot written to the PM control register.
 * The BAR is gone until D0 is written back.
 */
TEST_F_TIMEOUT(resetdev, d3hot_through_pm, 120)
{
	struct rfn *f = &self->fn[0];
	struct dmabuf_env *e = &f->e;
	unsigned int pos;
	__u16 pmcsr;
	__u32 h = 0;
	int fd;

	pos = find_cap(e, PCI_CAP_ID_PM);
	if (!pos)
		SKIP(return, "%s has no PM capability", e->bdf);
	fd = export_import(_metadata, f, &h);
	ASSERT_LE(0, fd);
	table_dma(_metadata, f, h, 1, 3);
	expect_state(_metadata, e, h, 0, e->p2p, "before D3hot");

	mark_fn(_metadata, f);
	ASSERT_EQ(0, cfg_read16(e, pos + PCI_PM_CTRL, &pmcsr));
	ASSERT_EQ(0, pmcsr & PCI_PM_CTRL_STATE_MASK) TH_LOG("not in D0");
	pmcsr = (pmcsr & ~PCI_PM_CTRL_STATE_MASK) | 3;
	ASSERT_EQ(0, cfg_write16(e, pos + PCI_PM_CTRL, pmcsr))
		TH_LOG("writing D3hot: %s", strerror(errno));
	expect_power(_metadata, f, "D3hot");
	expect_state(_metadata, e, h, 1, 0, "in D3hot");
	expect_revoke_first(_metadata, e, h, 1, "D3hot through the PM capability");
	expect_revoked(_metadata, e, h, "in D3hot");

	/* Back in D0: one more notification, mapped on demand */
	pmcsr &= ~PCI_PM_CTRL_STATE_MASK;
	ASSERT_EQ(0, cfg_write16(e, pos + PCI_PM_CTRL, pmcsr))
		TH_LOG("writing D0: %s", strerror(errno));
	expect_power(_metadata, f, "D0");
	expect_state(_metadata, e, h, 2, 0, "back in D0");
	table_dma(_metadata, f, h, 1, 4);
	expect_state(_metadata, e, h, 2, e->p2p, "mapped again");
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));
}

/*
 * A hot reset of the bus both functions are on, asked through function 0
 * with the group that holds both, as QEMU asks it: the dma-bufs of both
 * are revoked before the reset and given back after it.
 */
TEST_F_TIMEOUT(resetdev, hot_reset_two_devices, 120)
{
	const size_t sz = sizeof(struct vfio_pci_hot_reset) + sizeof(__s32);
	struct vfio_pci_hot_reset_info *info;
	struct vfio_pci_hot_reset *reset;
	unsigned int i, j, found = 0;
	__u32 h[NR_FN] = { 0 };
	int fd[NR_FN], ret;
	char bdf[64];

	ret = hot_reset_info(&self->fn[0].e, &info);
	if (ret == -ENODEV)
		SKIP(return, "%s has no hot reset: GET_PCI_HOT_RESET_INFO: %s (errno %d)",
		     self->fn[0].e.bdf, strerror(-ret), -ret);
	ASSERT_EQ(0, ret) TH_LOG("GET_PCI_HOT_RESET_INFO: %s", strerror(-ret));
	for (i = 0; i < info->count; i++) {
		snprintf(bdf, sizeof(bdf), "%04x:%02x:%02x.%x",
			 info->devices[i].segment, info->devices[i].bus,
			 info->devices[i].devfn >> 3,
			 info->devices[i].devfn & 7);
		for (j = 0; j < NR_FN; j++)
			if (!strcmp(bdf, self->fn[j].e.bdf) &&
			    info->devices[i].group_id ==
			    (__u32)self->fn[j].e.group_id)
				found |= 1 << j;
	}
	i = info->count;
	free(info);
	ASSERT_EQ(NR_FN, i) TH_LOG("a hot reset of %s resets %u devices",
				   self->fn[0].e.bdf, i);
	ASSERT_EQ((1 << NR_FN) - 1, found)
		TH_LOG("the hot reset does not list both functions in their group");

	for (i = 0; i < NR_FN; i++) {
		fd[i] = export_import(_metadata, &self->fn[i], &h[i]);
		ASSERT_LE(0, fd[i]);
		table_dma(_metadata, &self->fn[i], h[i], 1, 5 + i);
		expect_state(_metadata, &self->fn[i].e, h[i], 0,
			     self->fn[i].e.p2p, "before the hot reset");
	}
	for (i = 0; i < NR_FN; i++)
		mark_fn(_metadata, &self->fn[i]);

	reset = calloc(1, sz);
	ASSERT_NE(NULL, reset);
	reset->argsz = sz;
	reset->count = 1;
	reset->group_fds[0] = self->fn[0].e.group;
	ret = ioctl(self->fn[0].e.device, VFIO_DEVICE_PCI_HOT_RESET, reset) ?
	      -errno : 0;
	free(reset);
	ASSERT_EQ(0, ret) TH_LOG("VFIO_DEVICE_PCI_HOT_RESET: %s", strerror(-ret));

	for (i = 0; i < NR_FN; i++) {
		struct rfn *f = &self->fn[i];

		expect_state(_metadata, &f->e, h[i], 2, 0, "after the hot reset");
		expect_revoke_first(_metadata, &f->e, h[i], 1, "hot reset");
		expect_reset(_metadata, f, "hot reset");
		table_dma(_metadata, f, h[i], 1, 7 + i);
		expect_state(_metadata, &f->e, h[i], 2, f->e.p2p, "mapped again");
		EXPECT_EQ(0, imp_close(&f->e, h[i]));
		EXPECT_EQ(0, close(fd[i]));
	}
}

/* The first capability of a region's info chain with id @id, or NULL */
static struct vfio_info_cap_header *region_cap(struct vfio_region_info *ri,
					       __u16 id)
{
	struct vfio_info_cap_header *hdr;
	__u32 off;

	if (!(ri->flags & VFIO_REGION_INFO_FLAG_CAPS))
		return NULL;
	for (off = ri->cap_offset; off && off + sizeof(*hdr) <= ri->argsz;
	     off = hdr->next) {
		hdr = (void *)ri + off;
		if (hdr->id == id)
			return hdr;
	}
	return NULL;
}

/*
 * The BAR that holds the MSI-X table: 6.12's vfio-pci lets userspace map
 * the table (VFIO_REGION_INFO_CAP_MSIX_MAPPABLE; interrupt remapping
 * protects the host), so it is exported like any other BAR, whole, and
 * edu's DMA reaches the table.
 */
TEST_F_TIMEOUT(resetdev, msix_bar, 60)
{
	struct rfn *f = &self->fn[0];
	struct dmabuf_env *e = &f->e;
	struct vfio_region_info *ri;
	__u32 h = 0;
	int fd;

	ri = calloc(1, 4096);
	ASSERT_NE(NULL, ri);
	ri->argsz = 4096;
	ri->index = f->msix_bar;
	ASSERT_EQ(0, ioctl(e->device, VFIO_DEVICE_GET_REGION_INFO, ri));
	EXPECT_NE(NULL, region_cap(ri, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE))
		TH_LOG("%s: BAR %u has no MSIX_MAPPABLE capability", e->bdf,
		       f->msix_bar);
	free(ri);

	f->r.length = f->bar_len;
	fd = export_import(_metadata, f, &h);
	ASSERT_LE(0, fd);
	table_dma(_metadata, f, h, 0, 9);
	expect_state(_metadata, e, h, 0, e->p2p, "the whole MSI-X BAR");
	EXPECT_EQ(0, imp_close(e, h));
	EXPECT_EQ(0, close(fd));
}

TEST_HARNESS_MAIN
