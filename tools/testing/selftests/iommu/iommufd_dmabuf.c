// SPDX-License-Identifier: GPL-2.0
/*
 * IOMMU_IOAS_MAP_FILE of vfio-pci dma-bufs, the way a VMM uses it: two
 * devices of a "VM" bound to vfio-pci and opened through their cdevs,
 * bound to one iommufd and attached to one IOAS; ranges of the provider's
 * BAR 2 exported as a dma-buf and mapped at a fixed IOVA; the DMA engine
 * of the other device (QEMU's edu) driven through its own BAR 0, as a
 * guest driver would, copying "guest RAM" to that IOVA.  What the DMA
 * wrote is read from the host file behind the BAR, not through the BAR.
 * No test module is in the data path.
 *
 * Environment (the lab sets it, see lab/tests/vfio-dmabuf.sh):
 *   VFIO_DMABUF_PROVIDER  PCI address of the provider, bound to vfio-pci
 *   VFIO_DMABUF_IMPORTER  PCI address of an edu device, bound to vfio-pci
 *   VFIO_DMABUF_BAR_FILE  the host file behind the provider's BAR 2
 *   VFIO_DMABUF_EXPECT    how the importer reaches the provider:
 *                         not-supported when no P2P path exists
 *   VFIO_DMABUF_FUZZ_SEED seed of the fuzz (default 1)
 *   VFIO_DMABUF_STRESS_SECS  how long the stress races (default 10)
 *   VFIO_DMABUF_UNPLUG_CMD, VFIO_DMABUF_REPLUG_CMD  shell commands that
 *                         hot-unplug the provider (returning once it is
 *                         gone) and plug it back, for unplug.hot_unplug
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/iommufd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "../vfio/vfio_dmabuf_util.h"

#define BAR_INDEX	VFIO_PCI_BAR2_REGION_INDEX
/* Where the "guest" sees its RAM and the provider's BAR */
#define RAM_IOVA	0x10000000ULL
#define BAR_IOVA	0x100000000ULL
#define COPY_IOVA	(BAR_IOVA + 0x10000000ULL)	/* a second IOVA */
#define RAM_SIZE	0x10000ULL
#define SZ_1M		0x100000ULL

/*
 * QEMU's edu: a DMA engine with a 4 KiB buffer at device address 0x40000.
 * QEMU 7.2's range check is off by one and aborts QEMU on a transfer that
 * fills the buffer: the tests move 2 KiB at a time.
 */
#define EDU_DMA_SRC	0x80
#define EDU_DMA_DST	0x88
#define EDU_DMA_CNT	0x90
#define EDU_DMA_CMD	0x98
#define EDU_CMD_RUN	0x1
#define EDU_CMD_TO_PCI	0x2
#define EDU_BUF		0x40000ULL
#define XFER		2048

struct vdev {
	int fd;
	__u32 devid;	/* in the iommufd */
	__u64 cfg;	/* offset of the config region in the device fd */
	__u64 bar0;
};

/* What a VMM holds for its VM */
struct vm_env {
	int iommufd;
	__u32 ioas;
	struct vdev prov;
	struct vdev edu;
	int bar_file;
	bool no_path;
	__u8 *ram;
	struct vfio_region_dma_range ranges[2];
	unsigned int nr_ranges;
	__u64 size;
};

FIXTURE(vmm) {
	struct vm_env vm;
};

FIXTURE_VARIANT(vmm) {
	/* the dma-buf: one range, or two with a gap between them */
	unsigned int nr_ranges;
};

FIXTURE_VARIANT_ADD(vmm, one_range) {
	.nr_ranges = 1,
};

FIXTURE_VARIANT_ADD(vmm, two_ranges) {
	.nr_ranges = 2,
};

/* /dev/vfio/devices/vfioN of a device bound to vfio-pci */
static int cdev_open(const char *bdf)
{
	char path[320];
	struct dirent *de;
	DIR *dir;
	int fd = -1;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	dir = opendir(path);
	if (!dir)
		return -1;
	while ((de = readdir(dir)))
		if (!strncmp(de->d_name, "vfio", 4)) {
			snprintf(path, sizeof(path), "/dev/vfio/devices/%s",
				 de->d_name);
			fd = open(path, O_RDWR | O_CLOEXEC);
			break;
		}
	closedir(dir);
	return fd;
}

static __u64 region_offset(int fd, __u32 index)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = index };

	if (ioctl(fd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		return ~0ULL;
	return ri.offset;
}

static int cmd_set(struct vdev *d, __u16 set, __u16 clear)
{
	__u16 cmd;

	if (pread(d->fd, &cmd, 2, d->cfg + PCI_COMMAND) != 2)
		return -errno;
	cmd = (cmd | set) & ~clear;
	return pwrite(d->fd, &cmd, 2, d->cfg + PCI_COMMAND) == 2 ? 0 : -errno;
}

/* Open, bind to the iommufd, attach to the IOAS: a VMM's device setup */
static int vdev_open(struct vdev *d, const char *bdf, int iommufd, __u32 ioas)
{
	struct vfio_device_bind_iommufd bind = {
		.argsz = sizeof(bind),
		.iommufd = iommufd,
	};
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
		.pt_id = ioas,
	};

	d->fd = cdev_open(bdf);
	if (d->fd < 0)
		return -errno;
	if (ioctl(d->fd, VFIO_DEVICE_BIND_IOMMUFD, &bind) ||
	    ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		return -errno;
	d->devid = bind.out_devid;
	d->cfg = region_offset(d->fd, VFIO_PCI_CONFIG_REGION_INDEX);
	d->bar0 = region_offset(d->fd, VFIO_PCI_BAR0_REGION_INDEX);
	return 0;
}

static int export_flags(struct vm_env *vm, int device, __u32 open_flags)
{
	__u64 buf[(sizeof(struct vfio_device_feature) +
		   sizeof(struct vfio_device_feature_dma_buf) +
		   sizeof(vm->ranges)) / 8 + 1];
	struct vfio_device_feature *feat = (void *)buf;
	struct vfio_device_feature_dma_buf *get = (void *)feat->data;

	memset(buf, 0, sizeof(buf));
	feat->argsz = sizeof(buf);
	feat->flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;
	get->region_index = BAR_INDEX;
	get->open_flags = open_flags;
	get->nr_ranges = vm->nr_ranges;
	memcpy(get->dma_ranges, vm->ranges,
	       vm->nr_ranges * sizeof(vm->ranges[0]));
	return ioctl(device, VFIO_DEVICE_FEATURE, feat);
}

static int export(struct vm_env *vm, int device)
{
	return export_flags(vm, device, O_RDWR | O_CLOEXEC);
}

static int map_file(struct vm_env *vm, int fd, __u64 start,
		    __u64 length, __u64 *iova, __u32 flags)
{
	struct iommu_ioas_map_file map = {
		.size = sizeof(map),
		.flags = flags,
		.ioas_id = vm->ioas,
		.fd = fd,
		.start = start,
		.length = length,
		.iova = *iova,
	};
	int ret;

	ret = ioctl(vm->iommufd, IOMMU_IOAS_MAP_FILE, &map);
	*iova = map.iova;
	return ret;
}

#define MAP_RW	(IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_WRITEABLE | \
		 IOMMU_IOAS_MAP_READABLE)

static int map_bar(struct vm_env *vm, int fd)
{
	__u64 iova = BAR_IOVA;

	return map_file(vm, fd, 0, vm->size, &iova, MAP_RW);
}

/*
 * Where the topology has no P2P path (VFIO_DMABUF_EXPECT not-supported),
 * every map of the BAR is refused: check that, and tell the test to end.
 */
static bool refused(struct __test_metadata *_metadata, struct vm_env *vm,
		    int fd)
{
	if (!vm->no_path)
		return false;
	EXPECT_EQ(-1, map_bar(vm, fd));
	EXPECT_EQ(EOPNOTSUPP, errno);
	close(fd);
	return true;
}

/* IOMMU_IOAS_UNMAP: 0 if exactly @length bytes were unmapped */
static int unmap(struct vm_env *vm, __u64 iova, __u64 length)
{
	struct iommu_ioas_unmap unmap = {
		.size = sizeof(unmap),
		.ioas_id = vm->ioas,
		.iova = iova,
		.length = length,
	};

	if (ioctl(vm->iommufd, IOMMU_IOAS_UNMAP, &unmap))
		return -errno;
	return unmap.length == length ? 0 : -ERANGE;
}

static int edu_write(struct vdev *d, unsigned int reg, __u64 val)
{
	return pwrite(d->fd, &val, 8, d->bar0 + reg) == 8 ? 0 : -errno;
}

/* One edu DMA, as its guest driver does it; waits for the engine */
static int edu_dma(struct vdev *d, __u64 src, __u64 dst, __u64 cnt,
		   bool to_pci)
{
	struct timespec ts = { .tv_nsec = 10 * 1000 * 1000 };
	__u64 cmd;
	int i;

	if (edu_write(d, EDU_DMA_SRC, src) || edu_write(d, EDU_DMA_DST, dst) ||
	    edu_write(d, EDU_DMA_CNT, cnt) ||
	    edu_write(d, EDU_DMA_CMD, EDU_CMD_RUN | (to_pci ? EDU_CMD_TO_PCI : 0)))
		return -errno;
	for (i = 0; i < 3000; i++) {
		if (pread(d->fd, &cmd, 8, d->bar0 + EDU_DMA_CMD) != 8)
			return -errno;
		if (!(cmd & EDU_CMD_RUN))
			return 0;
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

static __u8 pattern(unsigned int seed, unsigned int i)
{
	return seed * 131 + i * 7 + (i >> 8);
}

/*
 * The guest copies @len bytes of its RAM, filled with @seed's pattern,
 * to @iova: into edu's buffer, then out to the IOVA.
 */
static int guest_copy(struct vm_env *vm, __u64 iova, unsigned int len,
		      unsigned int seed)
{
	unsigned int i;
	int ret;

	for (i = 0; i < len; i++)
		vm->ram[i] = pattern(seed, i);
	ret = edu_dma(&vm->edu, RAM_IOVA, EDU_BUF, len, false);
	if (ret)
		return ret;
	return edu_dma(&vm->edu, EDU_BUF, iova, len, true);
}

/*
 * Read (@write false) or write the host file under dma-buf bytes
 * [@off, @off + @len), range by range.
 */
static int host_rw(struct vm_env *vm, __u64 off, __u8 *buf,
		   unsigned int len, bool write)
{
	unsigned int i, done = 0;
	__u64 at = 0;

	for (i = 0; i < vm->nr_ranges && done < len; i++) {
		__u64 rlen = vm->ranges[i].length;
		__u64 from, n;
		ssize_t ret;

		if (off + done >= at + rlen) {
			at += rlen;
			continue;
		}
		from = off + done - at;
		n = rlen - from < len - done ? rlen - from : len - done;
		from += vm->ranges[i].offset;
		ret = write ? pwrite(vm->bar_file, buf + done, n, from) :
			      pread(vm->bar_file, buf + done, n, from);
		if (ret != (ssize_t)n)
			return -1;
		done += n;
		at += rlen;
	}
	return done == len ? 0 : -1;
}

/* Whether the host file holds the pattern of @seed at dma-buf @off */
static bool landed(struct vm_env *vm, __u64 off, unsigned int len,
		   unsigned int seed)
{
	__u8 buf[XFER];
	unsigned int i;

	if (len > sizeof(buf) || host_rw(vm, off, buf, len, false))
		return false;
	for (i = 0; i < len; i++)
		if (buf[i] != pattern(seed, i))
			return false;
	return true;
}

/* Zero the host file under dma-buf [@off, @off + @len) */
static void clear(struct vm_env *vm, __u64 off, unsigned int len)
{
	__u8 zero[XFER] = {};

	if (len <= sizeof(zero))
		host_rw(vm, off, zero, len, true);
}

/*
 * A revoke test's start: the BAR exported and mapped at BAR_IOVA, and the
 * guest's DMA of @seed's pattern landing in it.  Returns the dma-buf fd,
 * or -1 where the topology refuses the map (which refused() checks).
 */
static int map_live(struct __test_metadata *_metadata, struct vm_env *vm,
		    unsigned int seed)
{
	int fd = export(vm, vm->prov.fd);

	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(errno));
	if (refused(_metadata, vm, fd))
		return -1;
	ASSERT_EQ(0, map_bar(vm, fd)) TH_LOG("MAP_FILE: %s", strerror(errno));
	clear(vm, 0, XFER);
	ASSERT_EQ(0, guest_copy(vm, BAR_IOVA, XFER, seed));
	ASSERT_TRUE(landed(vm, 0, XFER, seed));
	return fd;
}

/*
 * After a revoke, with the provider decoding memory again: the guest's
 * DMA of @seed's pattern to the old IOVA lands nowhere, the BAR keeps
 * @old's.  A mapping left behind would let it land.
 */
static void revoked(struct __test_metadata *_metadata, struct vm_env *vm,
		    unsigned int old, unsigned int seed)
{
	ASSERT_EQ(0, guest_copy(vm, BAR_IOVA, XFER, seed));
	EXPECT_TRUE(landed(vm, 0, XFER, old));
}

/*
 * What the VMM does once the guest enables decode again: unmap the old
 * IOVA, map the same dma-buf again, and DMA of @seed's pattern lands.
 */
static void remap(struct __test_metadata *_metadata, struct vm_env *vm,
		  int fd, unsigned int seed)
{
	ASSERT_EQ(0, unmap(vm, BAR_IOVA, vm->size));
	ASSERT_EQ(0, map_bar(vm, fd)) TH_LOG("MAP_FILE again: %s",
					     strerror(errno));
	clear(vm, 0, XFER);
	ASSERT_EQ(0, guest_copy(vm, BAR_IOVA, XFER, seed));
	EXPECT_TRUE(landed(vm, 0, XFER, seed));
	EXPECT_EQ(0, unmap(vm, BAR_IOVA, vm->size));
}

/* --- fault injection ---------------------------------------------------- */

#define FAILSLAB	"/sys/kernel/debug/failslab/"
#define FAILPAGE	"/sys/kernel/debug/fail_page_alloc/"
#define FAILCOPY	"/sys/kernel/debug/fail_usercopy/"
#define MAX_NTH		2000	/* fault points of one call, at most */

/* The fault injection knobs a test sets, and their values before */
static struct {
	const char *path;
	const char *val;
	char old[16];
} knobs[] = {
	/* GFP_KERNEL allocations and page tables can fail; no dumps */
	{ FAILSLAB "ignore-gfp-wait", "N" },
	{ FAILSLAB "verbose", "0" },
	{ FAILPAGE "ignore-gfp-wait", "N" },
	{ FAILPAGE "min-order", "0" },
	{ FAILPAGE "verbose", "0" },
};

static bool knobs_on;

static int knob_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* Set the knobs (@on), or put back what they were */
static int knobs_set(bool on)
{
	unsigned int i;
	ssize_t n;
	int fd, ret;

	knobs_on = on;
	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		if (on) {
			fd = open(knobs[i].path, O_RDONLY);
			if (fd < 0)
				return -errno;
			n = read(fd, knobs[i].old, sizeof(knobs[i].old) - 1);
			close(fd);
			knobs[i].old[n > 0 ? n : 0] = 0;
		}
		ret = knob_write(knobs[i].path, on ? knobs[i].val :
						      knobs[i].old);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Arm /proc/thread-self/fail-nth: the @n-th fault point this thread
 * crosses from now on fails.  Returns the file, or -1.
 */
static int nth_arm(unsigned int n)
{
	char s[16];
	int fd, len;

	fd = open("/proc/thread-self/fail-nth", O_RDWR);
	if (fd < 0)
		return -1;
	len = snprintf(s, sizeof(s), "%u", n);
	if (write(fd, s, len) != len) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Disarm; returns how many fault points were still to cross before the
 * failure (0: it was injected), or -1.  The file has no llseek: it was
 * opened for this one arming, and is closed.
 */
static int nth_disarm(int fd)
{
	char s[16] = "";
	int left = -1;

	if (read(fd, s, sizeof(s) - 1) > 0)
		left = atoi(s);
	if (write(fd, "0", 1) != 1)
		left = -1;
	close(fd);
	return left;
}

/* The attachments of vfio-pci dma-bufs, from debugfs; -1 without it */
static int attachments(void)
{
	unsigned int att;

	return vfio_dmabufs(&att) < 0 ? -1 : (int)att;
}

/*
 * What a VMM does for a VM with the provider and edu: one iommufd, one
 * IOAS with the guest's RAM mapped, both devices opened through their
 * cdevs and attached, decoding memory, edu a bus master.  The dma-buf it
 * exports: 2 MiB of the BAR, in @nr_ranges ranges.
 */
static void vm_setup(struct __test_metadata *_metadata, struct vm_env *vm,
		     unsigned int nr_ranges)
{
	const char *prov = getenv("VFIO_DMABUF_PROVIDER");
	const char *edu = getenv("VFIO_DMABUF_IMPORTER");
	const char *file = getenv("VFIO_DMABUF_BAR_FILE");
	const char *expect = getenv("VFIO_DMABUF_EXPECT");
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	struct iommu_ioas_map map = {
		.size = sizeof(map),
		.flags = MAP_RW,
		.length = RAM_SIZE,
		.iova = RAM_IOVA,
	};

	vm->iommufd = -1;
	vm->prov.fd = -1;
	vm->edu.fd = -1;
	vm->bar_file = -1;
	if (!prov || !edu || !file)
		SKIP(return, NO_LAB);
	vm->no_path = expect && !strcmp(expect, "not-supported");

	vm->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, vm->iommufd) TH_LOG("/dev/iommu: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(vm->iommufd, IOMMU_IOAS_ALLOC, &alloc));
	vm->ioas = alloc.out_ioas_id;
	ASSERT_EQ(0, vdev_open(&vm->prov, prov, vm->iommufd, vm->ioas))
		TH_LOG("%s: %s", prov, strerror(errno));
	ASSERT_EQ(0, vdev_open(&vm->edu, edu, vm->iommufd, vm->ioas))
		TH_LOG("%s: %s", edu, strerror(errno));
	ASSERT_EQ(0, cmd_set(&vm->prov, PCI_COMMAND_MEMORY, 0));
	ASSERT_EQ(0, cmd_set(&vm->edu,
			     PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0));

	/* the guest's RAM, which edu reads its data from */
	vm->ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, vm->ram);
	map.ioas_id = vm->ioas;
	map.user_va = (uintptr_t)vm->ram;
	ASSERT_EQ(0, ioctl(vm->iommufd, IOMMU_IOAS_MAP, &map));

	vm->bar_file = open(file, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, vm->bar_file) TH_LOG("%s: %s", file, strerror(errno));

	/* 2 MiB of the BAR: at 0, or 1 MiB at 0 and 1 MiB at 3 MiB */
	vm->nr_ranges = nr_ranges;
	vm->ranges[0].offset = 0;
	vm->ranges[0].length = 2 * SZ_1M / vm->nr_ranges;
	vm->ranges[1].offset = 3 * SZ_1M;
	vm->ranges[1].length = SZ_1M;
	vm->size = 2 * SZ_1M;
}

static void vm_teardown(struct vm_env *vm)
{
	if (vm->bar_file >= 0)
		close(vm->bar_file);
	if (vm->edu.fd >= 0)
		close(vm->edu.fd);
	if (vm->prov.fd >= 0)
		close(vm->prov.fd);
	if (vm->iommufd >= 0)
		close(vm->iommufd);
}

FIXTURE_SETUP(vmm)
{
	vm_setup(_metadata, &self->vm, variant->nr_ranges);
}

FIXTURE_TEARDOWN(vmm)
{
	/* the fault injection knobs back as they were, also after a failure */
	if (knobs_on)
		knobs_set(false);
	vm_teardown(&self->vm);
}

/*
 * The guest's DMA lands in the BAR: at the start, and across the middle,
 * the seam of the two ranges, which the IOVA layout joins as the dma-buf
 * does.  Once unmapped, the IOVA reaches nothing.
 */
TEST_F(vmm, dma_lands)
{
	struct vm_env *vm = &self->vm;
	__u64 seam = SZ_1M - XFER / 2;
	int fd = export(vm, vm->prov.fd);

	ASSERT_LE(0, fd) TH_LOG("export: %s", strerror(errno));
	if (refused(_metadata, vm, fd))
		return;
	ASSERT_EQ(0, map_bar(vm, fd)) TH_LOG("MAP_FILE: %s", strerror(errno));
	/* iommufd holds the dma-buf: the VMM may close its fd */
	close(fd);

	clear(vm, 0, XFER);
	clear(vm, seam, XFER);
	ASSERT_EQ(0, guest_copy(vm, BAR_IOVA, XFER, 1));
	EXPECT_TRUE(landed(vm, 0, XFER, 1));
	ASSERT_EQ(0, guest_copy(vm, BAR_IOVA + seam, XFER, 2));
	EXPECT_TRUE(landed(vm, seam, XFER, 2));

	/* unmapped, the IOVA reaches nothing */
	EXPECT_EQ(0, unmap(vm, BAR_IOVA, vm->size));
	ASSERT_EQ(0, guest_copy(vm, BAR_IOVA, XFER, 3));
	EXPECT_TRUE(landed(vm, 0, XFER, 1));
}

/* Part of the dma-buf, at an IOVA iommufd picks */
TEST_F(vmm, part_at_any_iova)
{
	struct vm_env *vm = &self->vm;
	__u64 iova = 0, start = vm->size - SZ_1M / 2;
	int fd = export(vm, vm->prov.fd);

	ASSERT_LE(0, fd);
	if (refused(_metadata, vm, fd))
		return;
	ASSERT_EQ(0, map_file(vm, fd, start, SZ_1M / 2, &iova,
			      IOMMU_IOAS_MAP_WRITEABLE |
			      IOMMU_IOAS_MAP_READABLE));
	close(fd);
	clear(vm, start, XFER);
	ASSERT_EQ(0, guest_copy(vm, iova, XFER, 3));
	EXPECT_TRUE(landed(vm, start, XFER, 3));
	EXPECT_EQ(0, unmap(vm, iova, SZ_1M / 2));
}

/*
 * Memory decode off revokes the mapping for good: the guest's DMA faults
 * and lands nowhere, also after decode is back on, and MAP_FILE refuses
 * with ENODEV meanwhile.  The VMM unmaps and maps again once the guest
 * enables decode, and DMA lands again.
 */
TEST_F(vmm, revoke_decode)
{
	struct vm_env *vm = &self->vm;
	int fd = map_live(_metadata, vm, 4);

	if (fd < 0)
		return;
	ASSERT_EQ(0, cmd_set(&vm->prov, 0, PCI_COMMAND_MEMORY));
	ASSERT_EQ(-1, map_file(vm, fd, 0, vm->size,
			       &(__u64){ BAR_IOVA + vm->size }, MAP_RW));
	EXPECT_EQ(ENODEV, errno);

	ASSERT_EQ(0, cmd_set(&vm->prov, PCI_COMMAND_MEMORY, 0));
	revoked(_metadata, vm, 4, 6);

	/* the old IOVA is still taken until the VMM unmaps it */
	ASSERT_EQ(-1, map_bar(vm, fd));
	EXPECT_EQ(EEXIST, errno);
	remap(_metadata, vm, fd, 7);
	close(fd);
}

/*
 * Closing the provider's device revokes for good, with the dma-buf still
 * mapped; unmapping, closing the dma-buf and the iommufd work after it.
 */
TEST_F(vmm, revoke_close)
{
	struct vm_env *vm = &self->vm;
	int fd = map_live(_metadata, vm, 8);

	if (fd < 0)
		return;
	close(vm->prov.fd);
	vm->prov.fd = -1;
	ASSERT_EQ(-1, map_file(vm, fd, 0, vm->size,
			       &(__u64){ BAR_IOVA + vm->size }, MAP_RW));
	EXPECT_EQ(ENODEV, errno);

	/* opened again, the device decodes memory */
	ASSERT_EQ(0, vdev_open(&vm->prov, getenv("VFIO_DMABUF_PROVIDER"),
			       vm->iommufd, vm->ioas));
	ASSERT_EQ(0, cmd_set(&vm->prov, PCI_COMMAND_MEMORY, 0));
	revoked(_metadata, vm, 8, 9);
	EXPECT_EQ(0, unmap(vm, BAR_IOVA, vm->size));
	close(fd);

	/* the control: a dma-buf of the reopened device maps, DMA lands */
	fd = export(vm, vm->prov.fd);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, map_bar(vm, fd)) TH_LOG("%s", strerror(errno));
	clear(vm, 0, XFER);
	ASSERT_EQ(0, guest_copy(vm, BAR_IOVA, XFER, 24));
	EXPECT_TRUE(landed(vm, 0, XFER, 24));
	EXPECT_EQ(0, unmap(vm, BAR_IOVA, vm->size));
	close(fd);
}

/*
 * Domains that come and go under a mapped dma-buf: the BAR mapped while
 * only edu's domain exists, a second domain allocated on the IOAS (filled
 * from the dma-buf) and edu moved to it, the first one then destroyed.
 * DMA lands through the second domain, and a revoke reaches it.
 */
TEST_F(vmm, second_domain)
{
	struct vm_env *vm = &self->vm;
	struct vfio_device_detach_iommufd_pt detach = {
		.argsz = sizeof(detach),
	};
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
	};
	struct iommu_hwpt_alloc hwpt = { .size = sizeof(hwpt) };
	int fd = export(vm, vm->prov.fd);

	ASSERT_LE(0, fd);
	/* the provider need not be in the IOAS, nor share its group's */
	ASSERT_EQ(0, ioctl(vm->prov.fd, VFIO_DEVICE_DETACH_IOMMUFD_PT,
			   &detach));
	if (refused(_metadata, vm, fd))
		return;
	ASSERT_EQ(0, map_bar(vm, fd));

	hwpt.dev_id = vm->edu.devid;
	hwpt.pt_id = vm->ioas;
	ASSERT_EQ(0, ioctl(vm->iommufd, IOMMU_HWPT_ALLOC, &hwpt))
		TH_LOG("IOMMU_HWPT_ALLOC: %s", strerror(errno));
	attach.pt_id = hwpt.out_hwpt_id;
	ASSERT_EQ(0, ioctl(vm->edu.fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach))
		TH_LOG("replace: %s", strerror(errno));

	clear(vm, 0, XFER);
	ASSERT_EQ(0, guest_copy(vm, BAR_IOVA, XFER, 13));
	EXPECT_TRUE(landed(vm, 0, XFER, 13));

	ASSERT_EQ(0, cmd_set(&vm->prov, 0, PCI_COMMAND_MEMORY));
	ASSERT_EQ(0, cmd_set(&vm->prov, PCI_COMMAND_MEMORY, 0));
	ASSERT_EQ(0, guest_copy(vm, BAR_IOVA, XFER, 14));
	EXPECT_TRUE(landed(vm, 0, XFER, 13));
	EXPECT_EQ(0, unmap(vm, BAR_IOVA, vm->size));
	close(fd);
}

/*
 * IOMMU_IOAS_COPY of a mapped dma-buf: the copy reaches the BAR too, and
 * a revoke takes both away.
 */
TEST_F(vmm, copy)
{
	struct vm_env *vm = &self->vm;
	struct iommu_ioas_copy copy = {
		.size = sizeof(copy),
		.flags = MAP_RW,
		.length = vm->size,
		.src_iova = BAR_IOVA,
		.dst_iova = COPY_IOVA,
	};
	int fd = export(vm, vm->prov.fd);

	ASSERT_LE(0, fd);
	if (refused(_metadata, vm, fd))
		return;
	ASSERT_EQ(0, map_bar(vm, fd));
	copy.src_ioas_id = vm->ioas;
	copy.dst_ioas_id = vm->ioas;
	ASSERT_EQ(0, ioctl(vm->iommufd, IOMMU_IOAS_COPY, &copy))
		TH_LOG("IOMMU_IOAS_COPY: %s", strerror(errno));
	clear(vm, 0, XFER);
	ASSERT_EQ(0, guest_copy(vm, copy.dst_iova, XFER, 15));
	EXPECT_TRUE(landed(vm, 0, XFER, 15));

	ASSERT_EQ(0, cmd_set(&vm->prov, 0, PCI_COMMAND_MEMORY));
	ASSERT_EQ(0, cmd_set(&vm->prov, PCI_COMMAND_MEMORY, 0));
	ASSERT_EQ(0, guest_copy(vm, copy.dst_iova, XFER, 16));
	EXPECT_TRUE(landed(vm, 0, XFER, 15));
	ASSERT_EQ(0, guest_copy(vm, BAR_IOVA, XFER, 17));
	EXPECT_TRUE(landed(vm, 0, XFER, 15));
	EXPECT_EQ(0, unmap(vm, copy.dst_iova, vm->size));
	EXPECT_EQ(0, unmap(vm, BAR_IOVA, vm->size));
	close(fd);
}

/*
 * A reset revokes the mapping for good too, though the device decodes
 * memory again when it returns: unmap and map again, and DMA lands.
 */
TEST_F(vmm, revoke_reset)
{
	struct vm_env *vm = &self->vm;
	int fd = map_live(_metadata, vm, 10);

	if (fd < 0)
		return;
	ASSERT_EQ(0, ioctl(vm->prov.fd, VFIO_DEVICE_RESET))
		TH_LOG("VFIO_DEVICE_RESET: %s", strerror(errno));
	revoked(_metadata, vm, 10, 11);
	remap(_metadata, vm, fd, 12);
	close(fd);
}

/*
 * Low power (VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY) revokes for good: the
 * provider's exit restores its decode, not the mapping.
 */
TEST_F(vmm, revoke_low_power)
{
	struct vfio_device_feature feat = {
		.argsz = sizeof(feat),
		.flags = VFIO_DEVICE_FEATURE_SET,
	};
	struct vm_env *vm = &self->vm;
	int fd = map_live(_metadata, vm, 18);

	if (fd < 0)
		return;
	feat.flags |= VFIO_DEVICE_FEATURE_LOW_POWER_ENTRY;
	ASSERT_EQ(0, ioctl(vm->prov.fd, VFIO_DEVICE_FEATURE, &feat))
		TH_LOG("LOW_POWER_ENTRY: %s", strerror(errno));
	/* no access to the provider until the exit: it would resume it */
	ASSERT_EQ(-1, map_file(vm, fd, 0, vm->size,
			       &(__u64){ BAR_IOVA + vm->size }, MAP_RW));
	EXPECT_EQ(ENODEV, errno);

	feat.flags = VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_LOW_POWER_EXIT;
	ASSERT_EQ(0, ioctl(vm->prov.fd, VFIO_DEVICE_FEATURE, &feat))
		TH_LOG("LOW_POWER_EXIT: %s", strerror(errno));
	revoked(_metadata, vm, 18, 19);
	remap(_metadata, vm, fd, 20);
	close(fd);
}

/*
 * A hot reset of the provider's bus, owned through the iommufd (cdev: no
 * group fds), revokes for good like a function reset.
 */
TEST_F(vmm, revoke_hot_reset)
{
	struct vfio_pci_hot_reset reset = { .argsz = sizeof(reset) };
	struct vm_env *vm = &self->vm;
	int fd = map_live(_metadata, vm, 21);

	if (fd < 0)
		return;
	ASSERT_EQ(0, ioctl(vm->prov.fd, VFIO_DEVICE_PCI_HOT_RESET, &reset))
		TH_LOG("VFIO_DEVICE_PCI_HOT_RESET: %s", strerror(errno));
	revoked(_metadata, vm, 21, 22);
	remap(_metadata, vm, fd, 23);
	close(fd);
}

/*
 * Teardown in the orders a VMM may use, with the BAR still mapped: the
 * iommufd closed first, the devices after it; then the IOAS destroyed
 * under a live mapping once its devices are gone.  Nothing is left
 * exported afterwards (the lab checks debugfs), and the devices open
 * again.
 */
TEST_F(vmm, close_orders)
{
	struct vm_env *vm = &self->vm;
	struct iommu_destroy destroy = { .size = sizeof(destroy) };
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	const char *prov = getenv("VFIO_DMABUF_PROVIDER");
	int fd = export(vm, vm->prov.fd);

	ASSERT_LE(0, fd);
	if (!vm->no_path)
		ASSERT_EQ(0, map_bar(vm, fd));
	close(vm->iommufd);
	vm->iommufd = -1;
	close(vm->edu.fd);
	vm->edu.fd = -1;
	close(vm->prov.fd);
	vm->prov.fd = -1;
	close(fd);

	/* a new VM: the provider alone in an IOAS, destroyed while mapped */
	vm->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, vm->iommufd);
	ASSERT_EQ(0, ioctl(vm->iommufd, IOMMU_IOAS_ALLOC, &alloc));
	vm->ioas = alloc.out_ioas_id;
	ASSERT_EQ(0, vdev_open(&vm->prov, prov, vm->iommufd, vm->ioas))
		TH_LOG("%s: %s", prov, strerror(errno));
	ASSERT_EQ(0, cmd_set(&vm->prov, PCI_COMMAND_MEMORY, 0));
	fd = export(vm, vm->prov.fd);
	ASSERT_LE(0, fd);
	if (!vm->no_path)
		ASSERT_EQ(0, map_bar(vm, fd));
	close(fd);
	close(vm->prov.fd);
	vm->prov.fd = -1;
	destroy.id = vm->ioas;
	EXPECT_EQ(0, ioctl(vm->iommufd, IOMMU_DESTROY, &destroy))
		TH_LOG("IOMMU_DESTROY: %s", strerror(errno));
}

static __u64 fuzz_next(__u64 *x)
{
	*x ^= *x >> 12;
	*x ^= *x << 25;
	*x ^= *x >> 27;
	return *x * 0x2545f4914f6cdd1dULL;
}

/*
 * What IOMMU_IOAS_MAP_FILE must answer (0 or -errno), checked in the
 * order mainline checks: the command, the file, the range in the dma-buf,
 * the path, the IOVA.
 */
static int fuzz_expect(struct vm_env *vm, int fd, int dmabuf, __u64 start,
		       __u64 length, __u64 iova, __u32 flags)
{
	const __u64 page = getpagesize();
	__u64 last;

	if (flags & ~MAP_RW)
		return -EOPNOTSUPP;
	if (iova == ~0ULL || length == ~0ULL)
		return -EOVERFLOW;
	if (!(flags & (IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE)))
		return -EINVAL;
	if (fd < 0)
		return -EBADF;
	if (fd != dmabuf)
		return -EINVAL;
	if (!length || start % page || length % page)
		return -EINVAL;
	if (start + length < start)
		return -EOVERFLOW;
	if (start + length > vm->size)
		return -EINVAL;
	if (vm->no_path)
		return -EOPNOTSUPP;
	if (!(flags & IOMMU_IOAS_MAP_FIXED_IOVA))
		return 0;
	if (iova % page)
		return -EINVAL;
	last = iova + length - 1;
	/* the MSI window is reserved, the guest RAM mapped */
	if (iova <= 0xfeefffffULL && last >= 0xfee00000ULL)
		return -EINVAL;
	if (iova < RAM_IOVA + RAM_SIZE && last >= RAM_IOVA)
		return -EEXIST;
	return 0;
}

/*
 * Random arguments, from a fixed seed: each call fails with the errno of
 * the first rule it breaks, or maps and unmaps exactly what it asked for.
 * Nothing is left mapped.
 */
TEST_F(vmm, fuzz)
{
	struct vm_env *vm = &self->vm;
	const __u64 page = getpagesize();
	const char *env = getenv("VFIO_DMABUF_FUZZ_SEED");
	__u64 x = env ? strtoull(env, NULL, 0) * 2 + 1 : 1;
	int dmabuf = export(vm, vm->prov.fd);
	int memfd = memfd_create("ram", 0);
	unsigned int i, maps = 0;

	ASSERT_LE(0, dmabuf);
	ASSERT_LE(0, memfd);
	ASSERT_EQ(0, ftruncate(memfd, vm->size));
	for (i = 0; i < 1000; i++) {
		const __u64 starts[] = {
			0, page, vm->size / 2, vm->size - page, vm->size,
			0x800, ~0ULL & ~(page - 1), vm->size + page,
		};
		const __u64 lengths[] = {
			page, 2 * page, vm->size / 2, vm->size, 0, 0x800,
			~0ULL, vm->size + page,
		};
		const __u64 iovas[] = {
			BAR_IOVA + (fuzz_next(&x) % 8) * 4 * SZ_1M,
			BAR_IOVA + 0x800, RAM_IOVA, RAM_IOVA - page,
			0xfee00000ULL, ~0ULL,
		};
		const int fds[] = {
			dmabuf, dmabuf, dmabuf, dmabuf, dmabuf, -1, memfd, 999,
		};
		__u64 start = starts[fuzz_next(&x) % 8];
		__u64 length = lengths[fuzz_next(&x) % 8];
		__u64 iova = iovas[fuzz_next(&x) % 6];
		__u32 flags = fuzz_next(&x) % 16;
		int fd = fds[fuzz_next(&x) % 8];
		int want, got;
		__u64 at = iova;

		if (fd == 999)
			fd = -1;	/* not open */
		/* half valid up to the range: else the first checks hide the rest */
		if (fuzz_next(&x) % 2) {
			flags = (flags & IOMMU_IOAS_MAP_FIXED_IOVA) | MAP_RW;
			fd = dmabuf;
		}
		want = fuzz_expect(vm, fd, dmabuf, start, length, iova, flags);
		got = map_file(vm, fd, start, length, &at, flags) ? -errno : 0;
		ASSERT_EQ(want, got)
			TH_LOG("call %u: start %#llx length %#llx iova %#llx flags %#x fd %s",
			       i, (unsigned long long)start,
			       (unsigned long long)length,
			       (unsigned long long)iova, flags,
			       fd == dmabuf ? "dma-buf" : fd < 0 ? "closed" : "memfd");
		if (!got) {
			maps++;
			ASSERT_EQ(0, unmap(vm, at, length));
		}
	}
	TH_LOG("%u maps of 1000 calls", maps);
	/* the seed reaches the maps, not only the refusals */
	if (!vm->no_path)
		EXPECT_LE(20, maps);
	/* nothing left behind the guest's RAM */
	EXPECT_EQ(-ENOENT, unmap(vm, BAR_IOVA, 64 * SZ_1M));
	close(memfd);
	close(dmabuf);
}

/* Bad arguments: mainline's errnos, and the IOAS unchanged */
TEST_F(vmm, errors)
{
	struct vm_env *vm = &self->vm;
	int fd = export(vm, vm->prov.fd);
	int memfd = memfd_create("ram", 0);
	__u64 iova = BAR_IOVA;

	ASSERT_LE(0, fd);
	ASSERT_LE(0, memfd);
	ASSERT_EQ(0, ftruncate(memfd, SZ_1M));

	EXPECT_EQ(-1, map_file(vm, fd, 0, vm->size, &iova, MAP_RW | 1 << 3));
	EXPECT_EQ(EOPNOTSUPP, errno);
	EXPECT_EQ(-1, map_file(vm, fd, 0, vm->size, &iova,
			       IOMMU_IOAS_MAP_FIXED_IOVA));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, map_file(vm, -1, 0, vm->size, &iova, MAP_RW));
	EXPECT_EQ(EBADF, errno);
	/* a file that is not a dma-buf (memfd: see the closing note) */
	EXPECT_EQ(-1, map_file(vm, memfd, 0, SZ_1M, &iova, MAP_RW));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, map_file(vm, fd, 0, 0, &iova, MAP_RW));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, map_file(vm, fd, 0x800, 0x1000, &iova, MAP_RW));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, map_file(vm, fd, 0, vm->size + 0x1000, &iova,
			       MAP_RW));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, map_file(vm, fd, -0x1000ULL, 0x2000, &iova, MAP_RW));
	EXPECT_EQ(EOVERFLOW, errno);
	vm->ioas += 1000;
	EXPECT_EQ(-1, map_file(vm, fd, 0, vm->size, &iova, MAP_RW));
	EXPECT_EQ(ENOENT, errno);
	vm->ioas -= 1000;
	/* the guest RAM's IOVA is taken */
	iova = RAM_IOVA;
	EXPECT_EQ(-1, map_file(vm, fd, 0, vm->size, &iova, MAP_RW));
	EXPECT_EQ(vm->no_path ? EOPNOTSUPP : EEXIST, errno);

	/* as in mainline, a dma-buf fd opened read-only maps writable */
	close(fd);
	fd = export_flags(vm, vm->prov.fd, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	iova = BAR_IOVA;
	if (!vm->no_path) {
		EXPECT_EQ(0, map_file(vm, fd, 0, vm->size, &iova, MAP_RW));
		EXPECT_EQ(0, unmap(vm, BAR_IOVA, vm->size));
	}

	/* nothing of that was mapped */
	EXPECT_EQ(-ENOENT, unmap(vm, BAR_IOVA, vm->size));
	close(memfd);
	close(fd);
}

/* --- fault injection over the import ----------------------------------- */

static int op_map(struct vm_env *vm, int fd, __u32 *hwpt)
{
	return map_bar(vm, fd) ? -errno : 0;
}

static int op_copy(struct vm_env *vm, int fd, __u32 *hwpt)
{
	struct iommu_ioas_copy copy = {
		.size = sizeof(copy),
		.flags = MAP_RW,
		.dst_ioas_id = vm->ioas,
		.src_ioas_id = vm->ioas,
		.length = vm->size,
		.src_iova = BAR_IOVA,
		.dst_iova = COPY_IOVA,
	};

	return ioctl(vm->iommufd, IOMMU_IOAS_COPY, &copy) ? -errno : 0;
}

/* A new domain for edu on the IOAS, filled from the mapped dma-buf */
static int op_domain(struct vm_env *vm, int fd, __u32 *hwpt)
{
	struct iommu_hwpt_alloc alloc = {
		.size = sizeof(alloc),
		.dev_id = vm->edu.devid,
		.pt_id = vm->ioas,
	};

	if (ioctl(vm->iommufd, IOMMU_HWPT_ALLOC, &alloc))
		return -errno;
	*hwpt = alloc.out_hwpt_id;
	return 0;
}

/* Attach edu to @pt (a domain, or the IOAS); 0 or -errno */
static int edu_attach(struct vm_env *vm, __u32 pt)
{
	struct vfio_device_attach_iommufd_pt attach = {
		.argsz = sizeof(attach),
		.pt_id = pt,
	};

	return ioctl(vm->edu.fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach) ?
	       -errno : 0;
}

/* The guest's DMA across the middle of the dma-buf at @iova lands */
static void lands_at(struct __test_metadata *_metadata, struct vm_env *vm,
		     __u64 iova, unsigned int seed, const char *what,
		     unsigned int n)
{
	__u64 seam = SZ_1M - XFER / 2;

	clear(vm, seam, XFER);
	ASSERT_EQ(0, guest_copy(vm, iova + seam, XFER, seed));
	EXPECT_TRUE(landed(vm, seam, XFER, seed))
		TH_LOG("%s, failure %u: DMA did not land", what, n);
}

static const struct {
	const char *name;
	int (*op)(struct vm_env *vm, int fd, __u32 *hwpt);
} fault_ops[] = {
	{ "MAP_FILE", op_map },
	{ "IOAS_COPY", op_copy },
	{ "HWPT_ALLOC", op_domain },
};

/*
 * Every fault point of a map, a copy and a new domain's fill failed in
 * turn (/proc/thread-self/fail-nth): the call fails with ENOMEM (EFAULT
 * too where copies from userspace can be failed) and leaves nothing
 * mapped or attached, or it works and the guest's DMA lands through what
 * it made, across the seam of two ranges.  A revoke crosses no fault
 * point at all: it cannot fail half way.
 */
TEST_F_TIMEOUT(vmm, faults, 600)
{
	bool usercopy = !access(FAILCOPY, F_OK);
	struct vm_env *vm = &self->vm;
	unsigned int op, n, injected, seed = 30;
	int fd, nth, ret, left, base;
	__u32 hwpt;

	if (access("/proc/thread-self/fail-nth", W_OK))
		SKIP(return, "kernel without CONFIG_FAULT_INJECTION");
	ret = knobs_set(true);
	if (ret)
		SKIP(return, "no %s or %s (CONFIG_FAULT_INJECTION_DEBUG_FS): %s",
		     FAILSLAB, FAILPAGE, strerror(-ret));
	fd = export(vm, vm->prov.fd);
	ASSERT_LE(0, fd);
	if (refused(_metadata, vm, fd))
		return;
	base = attachments();
	ASSERT_LE(0, base) TH_LOG("no dma_buf/bufinfo in debugfs?");

	for (op = 0; op < ARRAY_SIZE(fault_ops) && !_metadata->exit_code;
	     op++) {
		const char *what = fault_ops[op].name;

		injected = 0;
		for (n = 1; n <= MAX_NTH; n++) {
			/* the copy and the domain act on a mapped BAR */
			if (op)
				ASSERT_EQ(0, map_bar(vm, fd));
			nth = nth_arm(n);
			ASSERT_LE(0, nth) TH_LOG("fail-nth: %s", strerror(errno));
			ret = fault_ops[op].op(vm, fd, &hwpt);
			left = nth_disarm(nth);
			ASSERT_LE(0, left) TH_LOG("fail-nth: %s", strerror(errno));
			injected += !left;
			if (ret) {
				EXPECT_EQ(0, left) TH_LOG("%s failed with no failure injected",
							  what);
				EXPECT_TRUE(ret == -ENOMEM ||
					    (usercopy && ret == -EFAULT))
					TH_LOG("%s, failure %u: %s", what, n,
					       strerror(-ret));
			} else if (op == 0) {
				lands_at(_metadata, vm, BAR_IOVA, ++seed, what, n);
				EXPECT_EQ(0, unmap(vm, BAR_IOVA, vm->size));
			} else if (op == 1) {
				lands_at(_metadata, vm, COPY_IOVA, ++seed, what, n);
				EXPECT_EQ(0, unmap(vm, COPY_IOVA, vm->size));
			} else {
				struct iommu_destroy destroy = {
					.size = sizeof(destroy),
					.id = hwpt,
				};

				/* edu on the new domain only, then back */
				ASSERT_EQ(0, edu_attach(vm, hwpt));
				lands_at(_metadata, vm, BAR_IOVA, ++seed, what, n);
				ASSERT_EQ(0, edu_attach(vm, vm->ioas));
				EXPECT_EQ(0, ioctl(vm->iommufd, IOMMU_DESTROY,
						   &destroy));
			}
			/* the copy's IOVA is free: unmapped, or never taken */
			if (op == 1)
				EXPECT_EQ(-ENOENT, unmap(vm, COPY_IOVA, vm->size));
			if (op)
				EXPECT_EQ(0, unmap(vm, BAR_IOVA, vm->size));
			/* nothing mapped at the BAR's IOVA, nothing attached */
			EXPECT_EQ(-ENOENT, unmap(vm, BAR_IOVA, vm->size));
			EXPECT_EQ(base, attachments())
				TH_LOG("%s, failure %u: attachments left", what, n);
			if (left || _metadata->exit_code)
				break;
		}
		TH_LOG("%s: %u fault points failed in turn", what, injected);
		EXPECT_LT(0U, injected) TH_LOG("%s: nothing to fail", what);
		EXPECT_GE(MAX_NTH, n) TH_LOG("%s: never got through", what);
	}

	/* the revoke of a mapped BAR crosses no fault point */
	ASSERT_EQ(0, map_bar(vm, fd));
	clear(vm, 0, XFER);
	ASSERT_EQ(0, guest_copy(vm, BAR_IOVA, XFER, ++seed));
	ASSERT_TRUE(landed(vm, 0, XFER, seed));
	nth = nth_arm(MAX_NTH);
	ASSERT_LE(0, nth);
	ret = cmd_set(&vm->prov, 0, PCI_COMMAND_MEMORY);
	left = nth_disarm(nth);
	ASSERT_EQ(0, ret);
	EXPECT_EQ(MAX_NTH, left)
		TH_LOG("the revoke crossed %d fault points", MAX_NTH - left);
	ASSERT_EQ(0, cmd_set(&vm->prov, PCI_COMMAND_MEMORY, 0));
	revoked(_metadata, vm, seed, seed + 1);
	EXPECT_EQ(0, unmap(vm, BAR_IOVA, vm->size));
	close(fd);
}

/* --- stress ----------------------------------------------------------- */

/* What a stress thread does over and over */
enum { S_MAP, S_EXPORT, S_DECODE, S_RESET, S_DOMAIN, S_NR };

struct stress {
	struct vm_env *vm;
	int fd;			/* the dma-buf the mapper maps */
	bool stop;		/* set once, read with stopped() */
	unsigned int done[S_NR];	/* calls that worked */
	unsigned int refused[S_NR];	/* calls that got ENODEV */
	int bad[S_NR];		/* the first other answer, or 0 */
};

static bool stopped(struct stress *st)
{
	return __atomic_load_n(&st->stop, __ATOMIC_RELAXED);
}

/* Only its own thread writes a slot: no lock needed */
static void tally(struct stress *st, int what, int ret, bool revoke_ok)
{
	if (!ret)
		st->done[what]++;
	else if (revoke_ok && ret == -ENODEV)
		st->refused[what]++;
	else if (!st->bad[what])
		st->bad[what] = ret;
}

/* Map the BAR at BAR_IOVA and unmap it: ENODEV while revoked */
static void *s_map(void *arg)
{
	struct stress *st = arg;
	int ret;

	while (!stopped(st)) {
		ret = map_bar(st->vm, st->fd) ? -errno : 0;
		tally(st, S_MAP, ret, true);
		if (!ret)
			tally(st, S_MAP, unmap(st->vm, BAR_IOVA, st->vm->size),
			      false);
	}
	return NULL;
}

/* A new dma-buf each time, mapped at COPY_IOVA, closed while mapped */
static void *s_export(void *arg)
{
	struct stress *st = arg;
	struct vm_env *vm = st->vm;
	__u64 iova;
	int fd, ret;

	while (!stopped(st)) {
		fd = export(vm, vm->prov.fd);
		if (fd < 0) {
			tally(st, S_EXPORT, -errno, false);
			continue;
		}
		iova = COPY_IOVA;
		ret = map_file(vm, fd, 0, vm->size, &iova, MAP_RW) ? -errno : 0;
		tally(st, S_EXPORT, ret, true);
		close(fd);
		if (!ret)
			tally(st, S_EXPORT, unmap(vm, COPY_IOVA, vm->size),
			      false);
	}
	return NULL;
}

static void *s_decode(void *arg)
{
	struct timespec ts = { .tv_nsec = 3 * 1000 * 1000 };
	struct stress *st = arg;

	while (!stopped(st)) {
		tally(st, S_DECODE, cmd_set(&st->vm->prov, 0,
					    PCI_COMMAND_MEMORY), false);
		nanosleep(&ts, NULL);
		tally(st, S_DECODE, cmd_set(&st->vm->prov,
					    PCI_COMMAND_MEMORY, 0), false);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* A function reset: revoked before it, config space restored after */
static void *s_reset(void *arg)
{
	struct timespec ts = { .tv_nsec = 50 * 1000 * 1000 };
	struct stress *st = arg;

	while (!stopped(st)) {
		tally(st, S_RESET, ioctl(st->vm->prov.fd, VFIO_DEVICE_RESET) ?
				   -errno : 0, false);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* Domains filled from the areas while they are mapped and revoked */
static void *s_domain(void *arg)
{
	struct iommu_destroy destroy = { .size = sizeof(destroy) };
	struct stress *st = arg;
	int ret;

	while (!stopped(st)) {
		ret = op_domain(st->vm, st->fd, &destroy.id);
		tally(st, S_DOMAIN, ret, false);
		if (!ret)
			tally(st, S_DOMAIN, ioctl(st->vm->iommufd,
						  IOMMU_DESTROY, &destroy) ?
					    -errno : 0, false);
	}
	return NULL;
}

/*
 * Maps, new dma-bufs closed while mapped, domains filled from them, memory
 * decode toggled and function resets, all racing while the guest's DMA
 * runs at the BAR's IOVA.  Every call works, or a map gets the errno of a
 * revoke (ENODEV); afterwards a new map works, DMA lands, and nothing is
 * left mapped or attached.  The debug kernel watches the locking.
 */
TEST_F_TIMEOUT(vmm, stress, 300)
{
	static const struct {
		const char *name;
		void *(*fn)(void *arg);
	} workers[S_NR] = {
		{ "map", s_map },
		{ "export+map", s_export },
		{ "decode", s_decode },
		{ "reset", s_reset },
		{ "domain", s_domain },
	};
	const char *env = getenv("VFIO_DMABUF_STRESS_SECS");
	struct vm_env *vm = &self->vm;
	struct stress st = { .vm = vm };
	unsigned int secs = env ? atoi(env) : 10, i, started, dmas = 0;
	pthread_t t[S_NR];
	time_t end;
	int base;

	/* well within the test's timeout */
	if (secs > 200)
		secs = 200;
	st.fd = export(vm, vm->prov.fd);
	ASSERT_LE(0, st.fd);
	if (refused(_metadata, vm, st.fd))
		return;
	base = attachments();
	ASSERT_LE(0, base) TH_LOG("no dma_buf/bufinfo in debugfs?");
	for (started = 0; started < S_NR; started++)
		if (pthread_create(&t[started], NULL, workers[started].fn, &st))
			break;
	for (end = time(NULL) + secs; started == S_NR && time(NULL) < end;)
		dmas += !guest_copy(vm, BAR_IOVA, XFER, 40);
	__atomic_store_n(&st.stop, true, __ATOMIC_RELAXED);
	for (i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	ASSERT_EQ(S_NR, started) TH_LOG("pthread_create failed");

	for (i = 0; i < S_NR; i++) {
		TH_LOG("%s: %u done, %u refused", workers[i].name, st.done[i],
		       st.refused[i]);
		EXPECT_EQ(0, st.bad[i]) TH_LOG("%s: %s", workers[i].name,
					       strerror(-st.bad[i]));
		EXPECT_LT(0U, st.done[i])
			TH_LOG("%s never worked", workers[i].name);
	}
	TH_LOG("%u guest DMAs", dmas);
	EXPECT_LT(0U, dmas);

	/* settled: the mapper's dma-buf maps again and DMA lands */
	ASSERT_EQ(0, cmd_set(&vm->prov, PCI_COMMAND_MEMORY, 0));
	EXPECT_EQ(-ENOENT, unmap(vm, BAR_IOVA, vm->size));
	EXPECT_EQ(-ENOENT, unmap(vm, COPY_IOVA, vm->size));
	ASSERT_EQ(0, map_bar(vm, st.fd)) TH_LOG("%s", strerror(errno));
	clear(vm, 0, XFER);
	ASSERT_EQ(0, guest_copy(vm, BAR_IOVA, XFER, 41));
	EXPECT_TRUE(landed(vm, 0, XFER, 41));
	EXPECT_EQ(0, unmap(vm, BAR_IOVA, vm->size));
	EXPECT_EQ(base, attachments());
	close(st.fd);
}

/* --- the provider leaves -------------------------------------------------- */

/*
 * The provider leaves vfio-pci while its BAR is mapped: vfio-pci's unbind,
 * a removal through sysfs, or a PCIe hot-unplug (the commands come from
 * lab/tests/hotplug.sh, in a boot with hot-plug slots).  Each revokes
 * first and then waits for the VMM to close the device.
 */
FIXTURE(unplug) {
	struct vm_env vm;
	const char *bdf, *unplug, *replug;
	pid_t remover;
	int dmabuf;
};

FIXTURE_VARIANT(unplug) {
	const char *unplug, *replug;	/* NULL: from the environment */
	bool removes;			/* the device leaves the bus */
};

FIXTURE_VARIANT_ADD(unplug, unbind) {
	.unplug = "d=/sys/bus/pci/devices/$VFIO_DMABUF_PROVIDER; "
		  "echo $VFIO_DMABUF_PROVIDER > $d/driver/unbind",
	.replug = "true",
	.removes = false,
};

FIXTURE_VARIANT_ADD(unplug, sysfs_remove) {
	.unplug = "echo 1 > /sys/bus/pci/devices/$VFIO_DMABUF_PROVIDER/remove",
	.replug = "echo 1 > /sys/bus/pci/rescan",
	.removes = true,
};

FIXTURE_VARIANT_ADD(unplug, hot_unplug) {
	.unplug = NULL,
	.removes = true,
};

/* @bdf back on the bus (by @replug) and with vfio-pci, whatever happened */
static int put_back(const char *bdf, const char *replug)
{
	char drv[64];

	if (!pci_present(bdf) && system(replug))
		return -EIO;
	if (!wait_present(bdf, true, 60))
		return -ENODEV;
	pci_driver(bdf, drv, sizeof(drv));
	if (!strcmp(drv, "vfio-pci"))
		return 0;
	/*
	 * Another driver's name may only be its probe, still running after
	 * a hot-plug (virtio-pci tries every device of its vendor and lets
	 * the lab's ivshmem go): bind_vfio_pci() waits that out.
	 */
	return bind_vfio_pci(bdf);
}

FIXTURE_SETUP(unplug)
{
	self->remover = 0;
	self->dmabuf = -1;
	self->bdf = getenv("VFIO_DMABUF_PROVIDER");
	self->unplug = variant->unplug;
	self->replug = variant->replug;
	if (!variant->unplug) {
		/* both return once the device left the bus, or came back */
		self->unplug = getenv("VFIO_DMABUF_UNPLUG_CMD");
		self->replug = getenv("VFIO_DMABUF_REPLUG_CMD");
		if (!self->unplug || !self->replug)
			SKIP(return,
			     "no hot-plug slot: VFIO_DMABUF_UNPLUG_CMD/REPLUG_CMD unset");
	}
	if (!self->bdf)
		SKIP(return, NO_LAB);
	/* an earlier test that failed half-way may have left it off */
	ASSERT_EQ(0, put_back(self->bdf, self->replug))
		TH_LOG("%s is not back with vfio-pci", self->bdf);
	vm_setup(_metadata, &self->vm, 1);
}

FIXTURE_TEARDOWN(unplug)
{
	int ret;

	/* the device fd first: the remover may be waiting for it */
	if (self->dmabuf >= 0)
		close(self->dmabuf);
	vm_teardown(&self->vm);
	if (self->remover > 0)
		waitpid(self->remover, NULL, 0);
	ret = put_back(self->bdf, self->replug);
	if (ret)
		TH_LOG("%s is not back with vfio-pci: %s", self->bdf,
		       strerror(-ret));
}

static __u64 now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * Probe the dma-buf with MAP_FILE, at two IOVAs in turn, until it gives
 * ENODEV (or @secs pass).  The last probe that worked stays mapped: a map
 * that raced the revoke and survived would show there.  Returns the error
 * that ended the probing; *@left is that IOVA, or 0.
 */
static int probe_revoke(struct vm_env *vm, int fd, unsigned int secs,
			__u64 *left)
{
	const __u64 at[2] = { BAR_IOVA + vm->size, COPY_IOVA };
	__u64 deadline = now_ns() + secs * 1000000000ULL, iova;
	unsigned int k = 0;
	int ret;

	*left = 0;
	do {
		iova = at[k];
		ret = map_file(vm, fd, 0, vm->size, &iova, MAP_RW) ? -errno : 0;
		if (ret)
			return ret;
		if (*left) {
			ret = unmap(vm, *left, vm->size);
			if (ret)
				return ret;
		}
		*left = at[k];
		k ^= 1;
		usleep(10000);
	} while (now_ns() < deadline);
	return -ETIMEDOUT;
}

/*
 * The revoke comes before the wait for the device: MAP_FILE of the
 * dma-buf and a new export get ENODEV, and the guest's DMA to the old
 * IOVA lands nowhere while the provider, still open, still decodes
 * memory.  The VMM then lets the device go; its IOAS area stays until the
 * VMM unmaps it, and nothing stays attached.  Back with vfio-pci, the
 * device maps and DMA lands again.
 */
TEST_F_TIMEOUT(unplug, while_mapped, 240)
{
	struct vm_env *vm = &self->vm;
	int base = attachments();
	__u64 left;
	__u16 cmd = 0;
	int fd, st, ret;

	fd = map_live(_metadata, vm, 30);
	self->dmabuf = fd;
	if (fd < 0)
		return;
	self->remover = fork();
	ASSERT_LE(0, self->remover);
	if (!self->remover) {
		close_from(-1);
		_exit(system(self->unplug) ? 1 : 0);
	}
	ret = probe_revoke(vm, fd, 60, &left);
	ASSERT_EQ(-ENODEV, ret) TH_LOG("%s did not revoke: %s", self->unplug,
				       strerror(-ret));
	ret = waitpid(self->remover, &st, WNOHANG);
	ASSERT_EQ(0, ret) TH_LOG("%s %s", self->unplug,
				 ret < 0 ? strerror(errno) :
				 WIFEXITED(st) && !WEXITSTATUS(st) ?
				 "did not wait for the device fd" : "failed");
	ASSERT_EQ(-1, export(vm, vm->prov.fd));
	EXPECT_EQ(ENODEV, errno) TH_LOG("export while the device goes away");
	ASSERT_EQ(2, pread(vm->prov.fd, &cmd, 2, vm->prov.cfg + PCI_COMMAND));
	EXPECT_TRUE(cmd & PCI_COMMAND_MEMORY)
		TH_LOG("the provider no longer decodes: the next checks are void");
	revoked(_metadata, vm, 30, 31);
	if (left) {
		/* a probe mapped just before the revoke is revoked too */
		ASSERT_EQ(0, guest_copy(vm, left, XFER, 32));
		EXPECT_TRUE(landed(vm, 0, XFER, 30));
		EXPECT_EQ(0, unmap(vm, left, vm->size));
	}

	/* what a VMM does when asked for the device: let it go */
	close(vm->prov.fd);
	vm->prov.fd = -1;
	ASSERT_EQ(self->remover, waitpid(self->remover, &st, 0));
	self->remover = 0;
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st))
		TH_LOG("%s failed", self->unplug);
	if (variant->removes)
		ASSERT_TRUE(wait_present(self->bdf, false, 60))
			TH_LOG("%s still on the bus after %s", self->bdf,
			       self->unplug);
	EXPECT_EQ(0, unmap(vm, BAR_IOVA, vm->size));
	ASSERT_EQ(-1, map_bar(vm, fd));
	EXPECT_EQ(ENODEV, errno);
	close(fd);
	self->dmabuf = -1;
	EXPECT_EQ(base, attachments());

	/* back: a dma-buf of the device maps, and DMA lands again */
	ret = put_back(self->bdf, self->replug);
	ASSERT_EQ(0, ret) TH_LOG("%s back with vfio-pci: %s", self->bdf,
				 strerror(-ret));
	ASSERT_EQ(0, vdev_open(&vm->prov, self->bdf, vm->iommufd, vm->ioas))
		TH_LOG("%s: %s", self->bdf, strerror(errno));
	ASSERT_EQ(0, cmd_set(&vm->prov, PCI_COMMAND_MEMORY, 0));
	fd = map_live(_metadata, vm, 33);
	self->dmabuf = fd;
	EXPECT_EQ(0, unmap(vm, BAR_IOVA, vm->size));
	close(fd);
	self->dmabuf = -1;
	EXPECT_EQ(base, attachments());
}

TEST_HARNESS_MAIN
