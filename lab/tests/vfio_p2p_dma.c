// SPDX-License-Identifier: GPL-2.0
/*
 * Lab self-test: a real peer-to-peer DMA with none of the series' code.
 *
 * Both the provider (ivshmem-plain, BAR2) and the importer (QEMU's edu) are
 * bound to vfio-pci.  The provider's BAR is mmap()ed through vfio and that
 * mapping is handed to the type1 IOMMU as DMA memory, so the BAR appears in
 * edu's IOVA space.  edu then copies a pattern from RAM into its internal
 * buffer and from there into the BAR (and back the other way).  The data is
 * checked in the ivshmem backing file, i.e. in host memory, not through the
 * guest's view of the BAR.  Finally the BAR is unmapped from the IOMMU and a
 * DMA to the old IOVA must not reach it.
 *
 * usage: vfio_p2p_dma PROVIDER_BDF IMPORTER_BDF BACKING_FILE [OFFSET]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

/* QEMU edu device (hw/misc/edu.c) */
#define EDU_IDENT		0x00
#define EDU_DMA_SRC		0x80
#define EDU_DMA_DST		0x88
#define EDU_DMA_CNT		0x90
#define EDU_DMA_CMD		0x98
#define EDU_CMD_RUN		0x1
#define EDU_CMD_TO_PCI		0x2	/* edu buffer -> PCI address */
#define EDU_BUF			0x40000
#define EDU_BUF_SIZE		4096

#define IOVA_RAM		0x100000ULL
#define RAM_SIZE		4096
#define WINDOW			(1024 * 1024)	/* of the BAR, mapped for edu */
#define IOVA_BAR		0x40000000ULL
/* QEMU 7.2's edu rejects (and aborts on) a DMA that ends at the buffer end */
#define XFER			2048

static int failures;

static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("FAIL: ", stdout);
	vprintf(fmt, ap);
	va_end(ap);
	failures++;
}

static void __attribute__((noreturn)) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("error: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (errno)
		fprintf(stderr, " (%s)", strerror(errno));
	fputc('\n', stderr);
	exit(2);
}

struct vdev {
	const char *bdf;
	int group;
	int fd;
};

static int iommu_group(const char *bdf)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		die("%s has no IOMMU group", bdf);
	link[n] = '\0';
	return atoi(strrchr(link, '/') + 1);
}

static int open_group(int container, int group)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/dev/vfio/%d", group);
	fd = open(path, O_RDWR);
	if (fd < 0)
		die("open %s", path);
	if (ioctl(fd, VFIO_GROUP_GET_STATUS, &st))
		die("VFIO_GROUP_GET_STATUS");
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE))
		die("group %d is not viable: bind all its devices to vfio-pci", group);
	if (ioctl(fd, VFIO_GROUP_SET_CONTAINER, &container))
		die("VFIO_GROUP_SET_CONTAINER");
	return fd;
}

static void *map_region(struct vdev *d, unsigned int index, uint64_t *size)
{
	struct vfio_region_info ri = { .argsz = sizeof(ri), .index = index };
	void *p;

	if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		die("%s: region %u info", d->bdf, index);
	if (!(ri.flags & VFIO_REGION_INFO_FLAG_MMAP))
		die("%s: region %u is not mmap-able", d->bdf, index);
	p = mmap(NULL, ri.size, PROT_READ | PROT_WRITE, MAP_SHARED, d->fd,
		 ri.offset);
	if (p == MAP_FAILED)
		die("%s: mmap region %u", d->bdf, index);
	*size = ri.size;
	return p;
}

static void set_bus_master(struct vdev *d)
{
	struct vfio_region_info ri = {
		.argsz = sizeof(ri), .index = VFIO_PCI_CONFIG_REGION_INDEX,
	};
	uint16_t cmd;

	if (ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri))
		die("%s: config region info", d->bdf);
	if (pread(d->fd, &cmd, 2, ri.offset + PCI_COMMAND) != 2)
		die("%s: read PCI_COMMAND", d->bdf);
	cmd |= PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY;
	if (pwrite(d->fd, &cmd, 2, ri.offset + PCI_COMMAND) != 2)
		die("%s: write PCI_COMMAND", d->bdf);
}

static void iommu_map(int container, void *vaddr, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_map m = {
		.argsz = sizeof(m),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)vaddr, .iova = iova, .size = size,
	};

	if (ioctl(container, VFIO_IOMMU_MAP_DMA, &m))
		die("VFIO_IOMMU_MAP_DMA iova %#" PRIx64 " size %#" PRIx64, iova, size);
}

static void iommu_unmap(int container, uint64_t iova, uint64_t size)
{
	struct vfio_iommu_type1_dma_unmap u = {
		.argsz = sizeof(u), .iova = iova, .size = size,
	};

	if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &u))
		die("VFIO_IOMMU_UNMAP_DMA iova %#" PRIx64, iova);
}

static volatile uint8_t *edu;

static void edu_dma(uint64_t src, uint64_t dst, bool to_pci)
{
	volatile uint64_t *r64 = (volatile uint64_t *)edu;
	struct timespec ts = { 0, 2 * 1000 * 1000 };
	int i;

	r64[EDU_DMA_SRC / 8] = src;
	r64[EDU_DMA_DST / 8] = dst;
	r64[EDU_DMA_CNT / 8] = XFER;
	r64[EDU_DMA_CMD / 8] = EDU_CMD_RUN | (to_pci ? EDU_CMD_TO_PCI : 0);
	/* edu completes a DMA 100 ms (virtual time) after it is started */
	for (i = 0; i < 5000; i++) {
		if (!(r64[EDU_DMA_CMD / 8] & EDU_CMD_RUN))
			return;
		nanosleep(&ts, NULL);
	}
	die("edu DMA did not complete");
}

static void fill(uint8_t *p, size_t n, unsigned int seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(seed * 131 + i * 7 + (i >> 8));
}

/* Read the BAR's backing file: host memory, not the guest's BAR view. */
static void read_backing(int fd, uint64_t off, uint8_t *buf)
{
	if (pread(fd, buf, XFER, off) != XFER)
		die("read backing file at %#" PRIx64, off);
}

int main(int argc, char **argv)
{
	struct vdev prov = { 0 }, imp = { 0 };
	uint8_t want[XFER], got[XFER], *ram;
	uint64_t bar_size, edu_size, off, win;
	int container, bfd, gfd1, gfd2 = -1;
	volatile uint8_t *bar;

	if (argc < 4)
		die("usage: %s PROVIDER_BDF IMPORTER_BDF BACKING_FILE [OFFSET]", argv[0]);
	prov.bdf = argv[1];
	imp.bdf = argv[2];
	off = argc > 4 ? strtoull(argv[4], NULL, 0) : 0x2000;
	bfd = open(argv[3], O_RDWR);
	if (bfd < 0)
		die("open %s", argv[3]);

	container = open("/dev/vfio/vfio", O_RDWR);
	if (container < 0)
		die("open /dev/vfio/vfio");
	prov.group = iommu_group(prov.bdf);
	imp.group = iommu_group(imp.bdf);
	printf("provider %s group %d, importer %s group %d\n", prov.bdf,
	       prov.group, imp.bdf, imp.group);
	gfd1 = open_group(container, prov.group);
	if (imp.group != prov.group)
		gfd2 = open_group(container, imp.group);
	if (ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		die("VFIO_SET_IOMMU");
	prov.fd = ioctl(gfd1, VFIO_GROUP_GET_DEVICE_FD, prov.bdf);
	imp.fd = ioctl(gfd2 >= 0 ? gfd2 : gfd1, VFIO_GROUP_GET_DEVICE_FD, imp.bdf);
	if (prov.fd < 0 || imp.fd < 0)
		die("VFIO_GROUP_GET_DEVICE_FD");

	bar = map_region(&prov, VFIO_PCI_BAR2_REGION_INDEX, &bar_size);
	edu = map_region(&imp, VFIO_PCI_BAR0_REGION_INDEX, &edu_size);
	if ((*(volatile uint32_t *)(edu + EDU_IDENT) & 0xff) != 0xed)
		die("%s is not an edu device", imp.bdf);
	if (off + 2 * XFER > bar_size || off % XFER)
		die("offset %#" PRIx64 " outside BAR2 (%#" PRIx64 ")", off, bar_size);
	set_bus_master(&imp);
	printf("BAR2 %#" PRIx64 " bytes, DMA at BAR offset %#" PRIx64 "\n",
	       bar_size, off);

	ram = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ram == MAP_FAILED)
		die("mmap");
	iommu_map(container, ram, IOVA_RAM, RAM_SIZE);
	/* A window of the BAR mmap becomes DMA memory: type1 follows its PFNs. */
	win = off + 2 * XFER > WINDOW || bar_size < WINDOW ? bar_size : WINDOW;
	iommu_map(container, (void *)bar, IOVA_BAR, win);

	/* 1. RAM -> edu -> BAR: the pattern must land in host memory. */
	fill(ram, XFER, 1);
	memcpy(want, ram, XFER);
	edu_dma(IOVA_RAM, EDU_BUF, false);
	edu_dma(EDU_BUF, IOVA_BAR + off, true);
	read_backing(bfd, off, got);
	if (memcmp(got, want, XFER))
		fail("edu -> BAR: pattern not in the backing file at %#" PRIx64 "\n", off);
	else
		printf("ok 1 edu wrote %d bytes into the BAR, backing file matches\n", XFER);

	/* 2. BAR -> edu -> RAM: data written on the host side is read back. */
	fill(want, XFER, 2);
	if (pwrite(bfd, want, XFER, off + XFER) != XFER)
		die("write backing file");
	memset(ram, 0, XFER);
	edu_dma(IOVA_BAR + off + XFER, EDU_BUF, false);
	edu_dma(EDU_BUF, IOVA_RAM, true);
	if (memcmp(ram, want, XFER))
		fail("BAR -> edu: RAM does not hold the backing file's data\n");
	else
		printf("ok 2 edu read %d bytes from the BAR, RAM matches\n", XFER);

	/* 3. After the IOMMU mapping is gone the BAR is out of reach. */
	iommu_unmap(container, IOVA_BAR, win);
	fill(ram, XFER, 3);
	edu_dma(IOVA_RAM, EDU_BUF, false);
	edu_dma(EDU_BUF, IOVA_BAR + off, true);
	read_backing(bfd, off, got);
	fill(want, XFER, 1);
	if (memcmp(got, want, XFER))
		fail("DMA to an unmapped IOVA changed the BAR\n");
	else
		printf("ok 3 DMA to the unmapped IOVA did not reach the BAR\n");

	iommu_unmap(container, IOVA_RAM, RAM_SIZE);
	printf("%s: %d failure(s)\n", failures ? "FAIL" : "PASS", failures);
	return failures ? 1 : 0;
}
