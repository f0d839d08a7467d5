// SPDX-License-Identifier: GPL-2.0
/*
 * VFIO_DEVICE_FEATURE_DMA_BUF on a device with what the lab's main
 * provider (ivshmem, a conventional PCI device) lacks: PCIe FLR, a PM
 * capability, an MSI-X table in a memory BAR, and a sibling function on
 * its bus.  vfio-pci takes the BARs away from userspace when a guest
 * starts an FLR through config space, puts the device in D3hot through
 * the PM capability, or resets a bus of two devices; the dma-bufs of every
 * device concerned, and of no other, must be revoked before that and given
 * back after it.
 *
 * The device: QEMU's virtio-rng-pci, modern only, as functions 0 and 1 of
 * one slot behind a PCIe root port, both bound to vfio-pci, in one IOMMU
 * group.  Each function has FLR in its PCIe device capabilities, a PM
 * capability, and its MSI-X table at offset 0 of BAR 1, its first memory
 * BAR (with 384 vectors the table spans both pages of the 8 KiB BAR, the
 * PBA follows it).  With MSI-X disabled QEMU keeps what is written to the
 * table, signals nothing, and zeroes the table on every reset (setting the
 * mask bits again); so the table is where edu's DMA through the dma-buf
 * is checked, read by the CPU through vfio-pci's mmap of the BAR (vfio-pci
 * lets userspace map an MSI-X table), and the first word of entry 0 holds
 * the mark that p2pdma_edu reads in move_notify: still there, the revoke
 * came before the reset; gone, the restore came after it.
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
#define MAX_DMA_ENTRIES	64	/* MSI-X entries one DMA check writes */
#define PM_D3HOT	3	/* PCI_PM_CTRL_STATE_MASK value of D3hot */
#define NO_RESET_LAB \
	"no reset device/edu importer (VFIO_DMABUF_RESET_* not set)"

/* One function: its device fd, its MSI-X BAR mapped, its dma-buf */
struct rfn {
	struct dmabuf_env e;	/* edu, group and container: fn[0]'s */
	unsigned int msix_bar;
	__u64 table;		/* offset of the MSI-X table in the BAR */
	unsigned int entries;	/* of the table */
	__u64 pba;		/* offset of the PBA in the BAR */
	__u32 *bar;		/* the MSI-X BAR through vfio's mmap */
	__u64 bar_len;
	struct vfio_region_dma_range r;	/* exported: the table's first page */
	int fd;			/* the dma-buf, -1 if none */
	__u32 h;		/* its import */
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

/* BAR bytes [@off, @off + @len), read by the CPU */
static void bar_copy(struct rfn *f, __u64 off, uint8_t *buf, size_t len)
{
	size_t i;
	__u32 v;

	for (i = 0; i < len; i += 4) {
		v = bar_read(f, off + i);
		memcpy(buf + i, &v, 4);
	}
}

/*
 * edu writes a fresh pattern to MSI-X entries [@first, @first + @n)
 * through the import of @f's dma-buf, which starts at BAR offset
 * @f->r.offset: the CPU must read it in the table, and edu must read it
 * back.  Where the topology refuses P2P the DMA must fail with EOPNOTSUPP
 * instead.
 */
static void table_dma(struct __test_metadata *_metadata, struct rfn *f,
		      unsigned int first, unsigned int n, unsigned int seed)
{
	uint8_t want[MAX_DMA_ENTRIES * PCI_MSIX_ENTRY_SIZE];
	uint8_t got[MAX_DMA_ENTRIES * PCI_MSIX_ENTRY_SIZE];
	__u64 at = f->table + first * PCI_MSIX_ENTRY_SIZE;
	size_t len = n * PCI_MSIX_ENTRY_SIZE, i;
	int ret;

	ASSERT_GE(MAX_DMA_ENTRIES, n);
	ASSERT_GE(f->entries, first + n);
	for (i = 0; i < len; i += 4)
		bar_write(f, at + i, 0);
	bar_copy(f, at, got, len);
	memset(want, 0, len);
	ASSERT_EQ(0, memcmp(want, got, len))
		TH_LOG("%s: the MSI-X table does not keep zeros", f->e.bdf);

	fill(want, len, f->e.seed + seed * 7919);
	ret = imp_dma(&f->e, f->h, 1, at - f->r.offset, want, len);
	if (!f->e.p2p) {
		EXPECT_EQ(-EOPNOTSUPP, ret)
			TH_LOG("the topology refuses P2P: DMA must fail with EOPNOTSUPP");
		return;
	}
	ASSERT_EQ(0, ret) TH_LOG("edu -> %s MSI-X table: %s", f->e.bdf,
				 strerror(-ret));
	bar_copy(f, at, got, len);
	EXPECT_EQ(0, memcmp(want, got, len))
		TH_LOG("%s: edu's write is not in the MSI-X table", f->e.bdf);
	fill(got, len, f->e.seed ^ 0xdead);
	ASSERT_EQ(0, imp_dma(&f->e, f->h, 0, at - f->r.offset, got, len));
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

/* The reset really happened: QEMU zeroed the table, and the mark */
static void expect_reset(struct __test_metadata *_metadata, struct rfn *f,
			 const char *what)
{
	__u32 v = bar_read(f, 0);

	EXPECT_EQ(0, v)
		TH_LOG("%s: %s still has its mark (%#x): it was not reset",
		       what, f->e.bdf, v);
}

/*
 * The @index-th move_notify of @f's import, the one that gave the dma-buf
 * back, came after the reset: the device decoded memory, was in D0, and
 * the mark was gone.
 */
static void expect_restore_after(struct __test_metadata *_metadata,
				 struct rfn *f, __u32 index, const char *when)
{
	struct p2pdma_edu_import_info i = {
		.handle = f->h, .seen_index = index,
	};

	ASSERT_EQ(0, ioctl(f->e.edu, P2PDMA_EDU_IMPORT_INFO, &i))
		TH_LOG("IMPORT_INFO %u: %s", f->h, strerror(errno));
	ASSERT_EQ(1, i.seen.valid)
		TH_LOG("%s: no record of notification %u", when, index);
	EXPECT_EQ(1, i.seen.decode)
		TH_LOG("%s: given back while memory decode was off", when);
	EXPECT_EQ(1, i.seen.d0)
		TH_LOG("%s: given back while not in D0", when);
	EXPECT_NE(f->e.marker, i.seen.reg0)
		TH_LOG("%s: given back before the reset (the mark was there)",
		       when);
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

/* Open function @f: false if it lacks what the tests need (skipped) */
static bool fn_open(struct __test_metadata *_metadata, struct rfn *f)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct dmabuf_env *e = &f->e;
	struct vfio_region_info ri;
	__u32 table = 0, pba = 0;
	unsigned int pos, i;
	__u16 flags = 0;
	char drv[64];

	pci_driver(e->bdf, drv, sizeof(drv));
	EXPECT_STREQ("vfio-pci", drv) TH_LOG("driver of %s", e->bdf);
	e->device = ioctl(e->group, VFIO_GROUP_GET_DEVICE_FD, e->bdf);
	EXPECT_LE(0, e->device) TH_LOG("VFIO_GROUP_GET_DEVICE_FD %s: %s",
				       e->bdf, strerror(errno));
	if (e->device < 0)
		return false;
	EXPECT_EQ(0, ioctl(e->device, VFIO_DEVICE_GET_INFO, &info));
	e->dev_flags = info.flags;
	region_info(_metadata, e, VFIO_PCI_CONFIG_REGION_INDEX, &ri);
	e->cfg_off = ri.offset;
	EXPECT_EQ(0, set_memory(e, true));

	pos = find_cap(e, PCI_CAP_ID_MSIX);
	if (!pos)
		SKIP(return false, "%s has no MSI-X capability", e->bdf);
	EXPECT_EQ(0, cfg_read16(e, pos + PCI_MSIX_FLAGS, &flags));
	EXPECT_EQ(0, cfg_read32(e, pos + PCI_MSIX_TABLE, &table));
	EXPECT_EQ(0, cfg_read32(e, pos + PCI_MSIX_PBA, &pba));
	f->msix_bar = table & PCI_MSIX_TABLE_BIR;
	f->table = table & PCI_MSIX_TABLE_OFFSET;
	f->pba = (pba & PCI_MSIX_PBA_BIR) == f->msix_bar ?
		 pba & PCI_MSIX_PBA_OFFSET : 0;
	f->entries = (flags & PCI_MSIX_FLAGS_QSIZE) + 1;

	/* The mark must be where p2pdma_edu reads: 0 of the first memory BAR */
	if (f->table || f->entries < 2)
		SKIP(return false, "%s: no MSI-X table of 2 entries or more at offset 0 of its BAR",
		     e->bdf);
	for (i = 0; i < f->msix_bar; i++) {
		region_info(_metadata, e, i, &ri);
		if (ri.size)
			SKIP(return false, "%s: BAR %u comes before the MSI-X BAR",
			     e->bdf, i);
	}
	region_info(_metadata, e, f->msix_bar, &ri);
	if (ri.size < PAGE)
		SKIP(return false, "%s: its MSI-X BAR (%llu bytes) is smaller than a page",
		     e->bdf, (unsigned long long)ri.size);
	EXPECT_TRUE(ri.flags & VFIO_REGION_INFO_FLAG_MMAP)
		TH_LOG("%s: vfio-pci does not let userspace map BAR %u",
		       e->bdf, f->msix_bar);
	f->bar_len = ri.size;
	f->bar = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		      e->device, ri.offset);
	EXPECT_NE(MAP_FAILED, f->bar) TH_LOG("mmap of BAR %u of %s: %s",
					     f->msix_bar, e->bdf,
					     strerror(errno));
	if (f->bar == MAP_FAILED)
		return false;
	f->r.offset = 0;
	f->r.length = PAGE;
	return !_metadata->exit_code;
}

/* Export @f->r of function @f and import it */
static void export_import(struct __test_metadata *_metadata, struct rfn *f)
{
	__u64 size = 0;
	int ret;

	f->fd = export_bar(&f->e, f->msix_bar, O_RDWR | O_CLOEXEC, &f->r, 1);
	ASSERT_LE(0, f->fd) TH_LOG("%s: export of BAR %u: %s", f->e.bdf,
				   f->msix_bar, strerror(-f->fd));
	ret = imp_import(&f->e, f->fd, 0, &f->h, &size);
	ASSERT_EQ(0, ret) TH_LOG("import: %s", strerror(-ret));
	ASSERT_EQ(f->r.length, size);
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
		self->fn[i].fd = -1;
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
		if (!fn_open(_metadata, &self->fn[i]))
			return;
}

FIXTURE_TEARDOWN(resetdev)
{
	struct dmabuf_env *e0 = &self->fn[0].e;
	int i;

	/* Imports first: they hold the dma-bufs */
	if (e0->edu >= 0)
		close(e0->edu);
	for (i = 0; i < NR_FN; i++) {
		if (self->fn[i].fd >= 0)
			close(self->fn[i].fd);
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

/*
 * Function 1, exported and imported before something happens to function
 * 0 alone: nothing must happen to its dma-buf.
 */
static void sibling_ready(struct __test_metadata *_metadata,
			  struct rfn *sib)
{
	export_import(_metadata, sib);
	table_dma(_metadata, sib, 1, MAX_DMA_ENTRIES - 1, 100);
	expect_state(_metadata, &sib->e, sib->h, 0, sib->e.p2p,
		     "function 1, before");
}

static void sibling_untouched(struct __test_metadata *_metadata,
			      struct rfn *sib, const char *what)
{
	expect_state(_metadata, &sib->e, sib->h, 0, sib->e.p2p, what);
	table_dma(_metadata, sib, 1, MAX_DMA_ENTRIES - 1, 101);
}

/*
 * A guest driver's FLR: Initiate Function Level Reset written to the PCIe
 * device control register.  vfio-pci resets the function there and then;
 * with memory decode on the BAR is usable again when the write returns.
 * Function 1 is not reset.
 */
TEST_F_TIMEOUT(resetdev, flr_through_config, 120)
{
	struct rfn *f = &self->fn[0];
	struct dmabuf_env *e = &f->e;
	unsigned int pos;
	__u32 devcap;
	__u16 devctl;

	pos = find_cap(e, PCI_CAP_ID_EXP);
	ASSERT_NE(0, pos) TH_LOG("%s has no PCIe capability", e->bdf);
	ASSERT_EQ(0, cfg_read32(e, pos + PCI_EXP_DEVCAP, &devcap));
	if (!(devcap & PCI_EXP_DEVCAP_FLR))
		SKIP(return, "%s has no FLR (PCI_EXP_DEVCAP_FLR)", e->bdf);
	export_import(_metadata, f);
	table_dma(_metadata, f, 1, MAX_DMA_ENTRIES - 1, 1);
	expect_state(_metadata, e, f->h, 0, e->p2p, "before the FLR");
	sibling_ready(_metadata, &self->fn[1]);

	mark_fn(_metadata, f);
	ASSERT_EQ(0, cfg_read16(e, pos + PCI_EXP_DEVCTL, &devctl));
	ASSERT_EQ(0, cfg_write16(e, pos + PCI_EXP_DEVCTL,
				 devctl | PCI_EXP_DEVCTL_BCR_FLR))
		TH_LOG("writing the FLR bit: %s", strerror(errno));

	/* Revoked before the reset, given back after it */
	expect_state(_metadata, e, f->h, 2, 0, "after the FLR");
	expect_revoke_first(_metadata, e, f->h, 1, "FLR through config space");
	expect_restore_after(_metadata, f, 2, "FLR through config space");
	expect_reset(_metadata, f, "FLR through config space");
	sibling_untouched(_metadata, &self->fn[1], "function 1, after the FLR");
	table_dma(_metadata, f, 1, MAX_DMA_ENTRIES - 1, 2);
	expect_state(_metadata, e, f->h, 2, e->p2p, "mapped again");
}

/*
 * A guest driver's suspend: D3hot written to the PM control register.
 * vfio-pci takes the BAR away from userspace until D0 is written back
 * (QEMU's device itself still decodes in D3hot).  Function 1 stays in D0.
 */
TEST_F_TIMEOUT(resetdev, d3hot_through_pm, 120)
{
	struct rfn *f = &self->fn[0];
	struct dmabuf_env *e = &f->e;
	unsigned int pos;
	__u16 pmcsr;

	pos = find_cap(e, PCI_CAP_ID_PM);
	if (!pos)
		SKIP(return, "%s has no PM capability", e->bdf);
	export_import(_metadata, f);
	table_dma(_metadata, f, 1, MAX_DMA_ENTRIES - 1, 3);
	expect_state(_metadata, e, f->h, 0, e->p2p, "before D3hot");
	sibling_ready(_metadata, &self->fn[1]);

	mark_fn(_metadata, f);
	ASSERT_EQ(0, cfg_read16(e, pos + PCI_PM_CTRL, &pmcsr));
	ASSERT_EQ(0, pmcsr & PCI_PM_CTRL_STATE_MASK) TH_LOG("not in D0");
	pmcsr = (pmcsr & ~PCI_PM_CTRL_STATE_MASK) | PM_D3HOT;
	ASSERT_EQ(0, cfg_write16(e, pos + PCI_PM_CTRL, pmcsr))
		TH_LOG("writing D3hot: %s", strerror(errno));
	expect_power(_metadata, f, "D3hot");
	expect_state(_metadata, e, f->h, 1, 0, "in D3hot");
	expect_revoke_first(_metadata, e, f->h, 1,
			    "D3hot through the PM capability");
	expect_revoked(_metadata, e, f->h, "in D3hot");
	sibling_untouched(_metadata, &self->fn[1],
			  "function 1, function 0 in D3hot");

	/* Back in D0: one more notification, mapped on demand */
	pmcsr &= ~PCI_PM_CTRL_STATE_MASK;
	ASSERT_EQ(0, cfg_write16(e, pos + PCI_PM_CTRL, pmcsr))
		TH_LOG("writing D0: %s", strerror(errno));
	expect_power(_metadata, f, "D0");
	expect_state(_metadata, e, f->h, 2, 0, "back in D0");
	table_dma(_metadata, f, 1, MAX_DMA_ENTRIES - 1, 4);
	expect_state(_metadata, e, f->h, 2, e->p2p, "mapped again");
}

/*
 * A hot reset of the bus both functions are on, asked through function 0
 * with the group that holds both, as QEMU asks it: the dma-bufs of both
 * are revoked before the reset and given back after it.
 */
TEST_F_TIMEOUT(resetdev, hot_reset_two_devices, 120)
{
	const size_t sz = sizeof(struct vfio_pci_hot_reset) + sizeof(__s32);
	struct vfio_pci_dependent_device *dep;
	struct vfio_pci_hot_reset_info *info;
	struct vfio_pci_hot_reset *reset;
	unsigned int i, j, count, found = 0;
	char bdf[64];
	int ret;

	ret = hot_reset_info(&self->fn[0].e, &info);
	if (ret == -ENODEV)
		SKIP(return,
		     "%s has no hot reset: GET_PCI_HOT_RESET_INFO: %s (errno %d)",
		     self->fn[0].e.bdf, strerror(-ret), -ret);
	ASSERT_EQ(0, ret) TH_LOG("GET_PCI_HOT_RESET_INFO: %s", strerror(-ret));
	for (i = 0; i < info->count; i++) {
		dep = &info->devices[i];
		snprintf(bdf, sizeof(bdf), "%04x:%02x:%02x.%x", dep->segment,
			 dep->bus, dep->devfn >> 3, dep->devfn & 7);
		for (j = 0; j < NR_FN; j++)
			if (!strcmp(bdf, self->fn[j].e.bdf) &&
			    dep->group_id == (__u32)self->fn[j].e.group_id)
				found |= 1 << j;
	}
	count = info->count;
	free(info);
	ASSERT_EQ(NR_FN, count) TH_LOG("a hot reset of %s resets %u devices",
				       self->fn[0].e.bdf, count);
	ASSERT_EQ((1 << NR_FN) - 1, found)
		TH_LOG("the hot reset does not list both functions, in the group");

	for (i = 0; i < NR_FN; i++) {
		export_import(_metadata, &self->fn[i]);
		table_dma(_metadata, &self->fn[i], 1, MAX_DMA_ENTRIES - 1,
			  5 + i);
		expect_state(_metadata, &self->fn[i].e, self->fn[i].h, 0,
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
	ASSERT_EQ(0, ret)
		TH_LOG("VFIO_DEVICE_PCI_HOT_RESET: %s", strerror(-ret));

	for (i = 0; i < NR_FN; i++) {
		struct rfn *f = &self->fn[i];

		expect_state(_metadata, &f->e, f->h, 2, 0,
			     "after the hot reset");
		expect_revoke_first(_metadata, &f->e, f->h, 1, "hot reset");
		expect_restore_after(_metadata, f, 2, "hot reset");
		expect_reset(_metadata, f, "hot reset");
		table_dma(_metadata, f, 1, MAX_DMA_ENTRIES - 1, 7 + i);
		expect_state(_metadata, &f->e, f->h, 2, f->e.p2p,
			     "mapped again");
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
 * The BAR that holds the MSI-X table and the PBA: 6.12's vfio-pci lets
 * userspace map it (VFIO_REGION_INFO_CAP_MSIX_MAPPABLE; interrupt
 * remapping protects the host), so it is exported like any other BAR,
 * whole.  edu's DMA crosses from its first page to its second where the
 * table does, and reads the PBA as the CPU does.
 */
TEST_F_TIMEOUT(resetdev, msix_bar, 60)
{
	const unsigned int n = MAX_DMA_ENTRIES;
	struct rfn *f = &self->fn[0];
	struct dmabuf_env *e = &f->e;
	uint8_t want[64], got[64];
	struct vfio_region_info *ri;
	unsigned int first;
	__u64 table_end;
	bool mappable;
	int ret;

	ri = calloc(1, 4096);
	ASSERT_NE(NULL, ri);
	ri->argsz = 4096;
	ri->index = f->msix_bar;
	ret = ioctl(e->device, VFIO_DEVICE_GET_REGION_INFO, ri) ? -errno : 0;
	mappable = !ret && region_cap(ri, VFIO_REGION_INFO_CAP_MSIX_MAPPABLE);
	free(ri);
	ASSERT_EQ(0, ret) TH_LOG("region info: %s", strerror(-ret));
	EXPECT_TRUE(mappable)
		TH_LOG("%s: BAR %u has no MSIX_MAPPABLE capability", e->bdf,
		       f->msix_bar);
	table_end = f->table + f->entries * PCI_MSIX_ENTRY_SIZE;
	if (f->bar_len < 2 * PAGE ||
	    table_end < PAGE + n / 2 * PCI_MSIX_ENTRY_SIZE)
		SKIP(return, "%s: its MSI-X table does not cross a page",
		     e->bdf);

	f->r.length = f->bar_len;
	export_import(_metadata, f);
	/* n entries, half before the end of the first page, half after */
	first = (PAGE - f->table) / PCI_MSIX_ENTRY_SIZE - n / 2;
	table_dma(_metadata, f, first, n, 9);

	if (f->pba && e->p2p) {
		ASSERT_GE(f->bar_len, f->pba + sizeof(got));
		fill(got, sizeof(got), e->seed ^ 0x9ba);
		ASSERT_EQ(0, imp_dma(e, f->h, 0, f->pba, got, sizeof(got)));
		bar_copy(f, f->pba, want, sizeof(want));
		EXPECT_EQ(0, memcmp(want, got, sizeof(got)))
			TH_LOG("%s: edu did not read the PBA", e->bdf);
	}
	expect_state(_metadata, e, f->h, 0, e->p2p, "the whole MSI-X BAR");
}

TEST_HARNESS_MAIN
