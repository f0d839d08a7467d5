// SPDX-License-Identifier: GPL-2.0
/*
 * Demonstration of the vfio-pci dma-buf exporter, step by step: export a
 * range of the provider's BAR2 with VFIO_DEVICE_FEATURE_DMA_BUF, import it
 * with the p2pdma_edu test module (a dynamic importer, like an RDMA
 * driver), have edu DMA into it, check the data in the host file behind
 * the BAR, then revoke the dma-buf by clearing memory decode and enable it
 * again.  Then the same through a dma-buf MR of the RDMA core on edu's
 * stand-in HCA: RDMA write, revoke (the HCA zaps its table), re-fault.
 *
 * The provider must be bound to vfio-pci (alone in its IOMMU group) and edu
 * to p2pdma_edu.  Exits non-zero if any step does not do what it should.
 *
 * usage: vfio_dmabuf_demo PROVIDER_BDF IMPORTER_BDF BACKING_FILE
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "p2pdma_edu.h"
#include "p2pdma_hca_verbs.h"

#define OFFSET		0x300000ULL	/* of the exported range in BAR2 */
#define LENGTH		0x10000ULL
#define XFER		4096
#define MR_OFFSET	0x8000ULL	/* of the MR in the dma-buf */
#define MR_LENGTH	0x8000ULL
#define MR_IOVA		0x7f0000008000ULL

static int failures;

#define step(fmt, ...)	printf("\n-- " fmt "\n", ##__VA_ARGS__)
#define check(cond, fmt, ...) do {					\
	bool __ok = (cond);						\
									\
	printf("   %s: " fmt "\n", __ok ? "ok" : "FAILED", ##__VA_ARGS__); \
	if (!__ok)							\
		failures++;						\
} while (0)

static void __attribute__((noreturn)) die(const char *what)
{
	fprintf(stderr, "error: %s: %s\n", what, strerror(errno));
	exit(2);
}

static unsigned int pci_addr(const char *bdf)
{
	unsigned int dom, bus, dev, fn;

	if (sscanf(bdf, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4)
		die("bad PCI address");
	return P2PDMA_EDU_PCI(dom, bus, dev, fn);
}

static int vfio_open(const char *bdf)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[PATH_MAX], link[PATH_MAX];
	int container, group, fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		die("iommu_group");
	link[n] = '\0';
	snprintf(path, sizeof(path), "/dev/vfio/%s", strrchr(link, '/') + 1);
	container = open("/dev/vfio/vfio", O_RDWR);
	group = open(path, O_RDWR);
	if (container < 0 || group < 0)
		die("open vfio container/group");
	if (ioctl(group, VFIO_GROUP_GET_STATUS, &st) ||
	    !(st.flags & VFIO_GROUP_FLAGS_VIABLE))
		die("group not viable");
	if (ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) ||
	    ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU))
		die("vfio container");
	fd = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	if (fd < 0)
		die("VFIO_GROUP_GET_DEVICE_FD");
	return fd;
}

static void set_memory(int dev, int on)
{
	struct vfio_region_info ri = {
		.argsz = sizeof(ri), .index = VFIO_PCI_CONFIG_REGION_INDEX,
	};
	uint16_t cmd;

	if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &ri) ||
	    pread(dev, &cmd, 2, ri.offset + PCI_COMMAND) != 2)
		die("read PCI_COMMAND");
	cmd = on ? cmd | PCI_COMMAND_MEMORY : cmd & ~PCI_COMMAND_MEMORY;
	if (pwrite(dev, &cmd, 2, ri.offset + PCI_COMMAND) != 2)
		die("write PCI_COMMAND");
}

static int export(int dev, uint64_t offset, uint64_t length)
{
	struct {
		struct vfio_device_feature hdr;
		struct vfio_device_feature_dma_buf get;
		struct vfio_region_dma_range range;
	} req = {
		.hdr.argsz = sizeof(req),
		.hdr.flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF,
		.get.region_index = VFIO_PCI_BAR2_REGION_INDEX,
		.get.open_flags = O_RDWR | O_CLOEXEC,
		.get.nr_ranges = 1,
		.range = { .offset = offset, .length = length },
	};

	return ioctl(dev, VFIO_DEVICE_FEATURE, &req);
}

static struct p2pdma_edu_import_info info(int edu, unsigned int handle)
{
	struct p2pdma_edu_import_info i = { .handle = handle };

	if (ioctl(edu, P2PDMA_EDU_IMPORT_INFO, &i))
		die("P2PDMA_EDU_IMPORT_INFO");
	return i;
}

static struct p2pdma_edu_mr_info mr_info(int hca, unsigned int handle)
{
	struct p2pdma_edu_mr_info i = { .handle = handle };

	if (ioctl(hca, P2PDMA_EDU_MR_INFO, &i))
		die("P2PDMA_EDU_MR_INFO");
	return i;
}

static struct p2pdma_edu_qp_info qp_info(int hca, unsigned int qp)
{
	struct p2pdma_edu_qp_info q = { .handle = qp };

	if (ioctl(hca, P2PDMA_EDU_QP_INFO, &q))
		die("P2PDMA_EDU_QP_INFO");
	return q;
}

/* An RDMA write of XFER bytes into the MR at @iova, on QP @qp */
static int mr_write(int hca, unsigned int qp, unsigned int handle,
		    uint64_t iova, uint8_t *buf)
{
	struct p2pdma_edu_mr_access a = {
		.handle = handle, .write = 1, .iova = iova, .length = XFER,
		.user_buf = (uintptr_t)buf, .qp = qp,
	};

	return ioctl(hca, P2PDMA_EDU_MR_ACCESS, &a) ? -errno : 0;
}

static int dma_to_bar(int edu, unsigned int handle, uint64_t offset,
		      uint8_t *buf)
{
	struct p2pdma_edu_import_dma d = {
		.handle = handle, .to_device = 1, .offset = offset,
		.length = XFER, .user_buf = (uintptr_t)buf,
	};

	return ioctl(edu, P2PDMA_EDU_IMPORT_DMA, &d) ? -errno : 0;
}

/* Does the host file behind BAR2 hold @buf at @bar_offset? */
static int landed(const char *file, uint64_t bar_offset, const uint8_t *buf)
{
	uint8_t got[XFER];
	int fd = open(file, O_RDONLY);

	if (fd < 0 || pread(fd, got, XFER, bar_offset) != XFER)
		die(file);
	close(fd);
	return !memcmp(got, buf, XFER);
}

static void pattern(uint8_t *buf, unsigned int seed)
{
	int i;

	for (i = 0; i < XFER; i++)
		buf[i] = (uint8_t)(seed * 37 + i * 13 + (i >> 7));
}

int main(int argc, char **argv)
{
	struct p2pdma_edu_import imp = { 0 };
	struct p2pdma_edu_import_map *map;
	struct p2pdma_edu_import_info i;
	struct p2pdma_hca_verbs uv;
	struct p2pdma_hca_user_mr mr = { 0 };
	struct p2pdma_edu_mr_info m;
	char path[64], line[128];
	uint8_t buf[XFER];
	struct p2pdma_edu_qp_info q;
	int dev, edu, hca, buf_fd, ret;
	unsigned int qp, qp2;
	FILE *f;

	if (argc != 4) {
		fprintf(stderr, "usage: %s PROVIDER_BDF IMPORTER_BDF BACKING_FILE\n",
			argv[0]);
		return 2;
	}
	dev = vfio_open(argv[1]);
	set_memory(dev, 1);
	edu = open(P2PDMA_EDU_DEV, O_RDWR);
	if (edu < 0)
		die(P2PDMA_EDU_DEV);
	hca = open(P2PDMA_HCA_DEV, O_RDWR);
	if (hca < 0)
		die(P2PDMA_HCA_DEV);
	if (ioctl(hca, P2PDMA_EDU_CREATE_QP, &qp))
		die("P2PDMA_EDU_CREATE_QP");

	step("export BAR2 [%#llx, +%#llx) of %s with VFIO_DEVICE_FEATURE_DMA_BUF",
	     OFFSET, LENGTH, argv[1]);
	buf_fd = export(dev, OFFSET, LENGTH);
	check(buf_fd >= 0, "dma-buf fd %d", buf_fd);
	if (buf_fd < 0)
		return 1;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", buf_fd);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "size:", 5) || !strncmp(line, "exp_name:", 9) ||
		    !strncmp(line, "name:", 5))
			printf("   fdinfo %s", line);
	if (f)
		fclose(f);

	step("import it with edu %s (dynamic, peer-to-peer) and map it", argv[2]);
	imp.importer = pci_addr(argv[2]);
	imp.fd = buf_fd;
	ret = ioctl(edu, P2PDMA_EDU_IMPORT, &imp);
	check(!ret && imp.size == LENGTH, "attached, size %#llx",
	      (unsigned long long)imp.size);
	if (ret)
		return 1;
	map = calloc(1, sizeof(*map));
	map->handle = imp.handle;
	ret = ioctl(edu, P2PDMA_EDU_IMPORT_MAP, map);
	check(!ret, "mapped: %u sg entry, DMA address %#llx, length %#llx",
	      map->nents, (unsigned long long)map->segs[0].addr,
	      (unsigned long long)map->segs[0].len);

	step("edu writes 4 KiB at offset 0x1000 of the dma-buf");
	pattern(buf, 1);
	check(!dma_to_bar(edu, imp.handle, 0x1000, buf),
	      "DMA through the dma-buf done");
	check(landed(argv[3], OFFSET + 0x1000, buf),
	      "host file %s holds the data at BAR offset %#llx", argv[3],
	      OFFSET + 0x1000);

	step("clear memory decode of %s: the dma-buf is revoked", argv[1]);
	set_memory(dev, 0);
	i = info(edu, imp.handle);
	check(i.move_notify == 1 && !i.mapped,
	      "importer got move_notify (%u) and unmapped", i.move_notify);
	pattern(buf, 2);
	ret = dma_to_bar(edu, imp.handle, 0x1000, buf);
	check(ret == -ENODEV, "a new DMA cannot map: %s", strerror(-ret));
	check(!landed(argv[3], OFFSET + 0x1000, buf), "the BAR is unchanged");

	step("set memory decode again: the importer maps and DMAs again");
	set_memory(dev, 1);
	i = info(edu, imp.handle);
	check(i.move_notify == 2, "importer got move_notify (%u)", i.move_notify);
	check(!dma_to_bar(edu, imp.handle, 0x1000, buf), "DMA after re-enable");
	i = info(edu, imp.handle);
	check(landed(argv[3], OFFSET + 0x1000, buf) && i.maps == 2,
	      "data landed; the importer mapped %u times", i.maps);

	ioctl(edu, P2PDMA_EDU_IMPORT_CLOSE, &imp.handle);

	step("register an MR on the dma-buf with edu's stand-in HCA, through uverbs");
	ret = p2pdma_hca_verbs_open(argv[2], &uv);
	check(!ret, "opened the HCA's uverbs device, user context and PD: %s",
	      strerror(-ret));
	if (ret)
		return 1;
	mr.fd = buf_fd;
	mr.offset = MR_OFFSET;
	mr.length = MR_LENGTH;
	mr.iova = MR_IOVA;
	mr.access = IB_UVERBS_ACCESS_LOCAL_WRITE | IB_UVERBS_ACCESS_REMOTE_WRITE;
	ret = p2pdma_hca_reg_mr(&uv, &mr);
	check(!ret, "UVERBS_METHOD_REG_DMABUF_MR: lkey %#x at IOVA %#llx, %llu translation entries of %llu KiB",
	      mr.handle, MR_IOVA, (unsigned long long)mr.entries,
	      (unsigned long long)mr.page_size >> 10);
	if (ret)
		return 1;

	step("RDMA write of 4 KiB at IOVA %#llx, through the HCA's table",
	     MR_IOVA + 0x1000);
	pattern(buf, 3);
	check(!mr_write(hca, qp, mr.handle, MR_IOVA + 0x1000, buf),
	      "edu wrote through the MR");
	check(landed(argv[3], OFFSET + MR_OFFSET + 0x1000, buf),
	      "host file holds the data at BAR offset %#llx",
	      OFFSET + MR_OFFSET + 0x1000);

	step("clear memory decode: the HCA zaps its table and unmaps the umem");
	set_memory(dev, 0);
	m = mr_info(hca, mr.handle);
	check(m.invalidations == 1 && !m.valid,
	      "move_notify seen (%u), table zapped", m.invalidations);
	pattern(buf, 4);
	ret = mr_write(hca, qp, mr.handle, MR_IOVA + 0x1000, buf);
	q = qp_info(hca, qp);
	check(ret == -EIO && q.error && q.last_error == ENODEV,
	      "the RDMA write faults, the fault fails with %s: completed in error, QP %u in error",
	      strerror(q.last_error), qp);
	check(!landed(argv[3], OFFSET + MR_OFFSET + 0x1000, buf),
	      "the BAR is unchanged");

	step("set memory decode again: an RDMA write from a new QP faults the MR in");
	set_memory(dev, 1);
	if (ioctl(hca, P2PDMA_EDU_CREATE_QP, &qp2))
		die("P2PDMA_EDU_CREATE_QP");
	ret = mr_write(hca, qp, mr.handle, MR_IOVA + 0x1000, buf);
	check(ret == -EIO, "the old QP stays in error: %s", strerror(-ret));
	qp = qp2;
	check(!mr_write(hca, qp, mr.handle, MR_IOVA + 0x1000, buf),
	      "RDMA write on QP %u after re-enable", qp);
	m = mr_info(hca, mr.handle);
	check(landed(argv[3], OFFSET + MR_OFFSET + 0x1000, buf) &&
	      m.faults == 2 && m.invalidations == 2,
	      "data landed; %u move_notify, %u faults (registration + re-fault)",
	      m.invalidations, m.faults);

	step("close the vfio device: revoked for good, the dma-buf stays valid");
	close(dev);
	m = mr_info(hca, mr.handle);
	check(m.invalidations == 3 && !m.valid, "move_notify (%u)",
	      m.invalidations);
	ret = mr_write(hca, qp, mr.handle, MR_IOVA + 0x1000, buf);
	q = qp_info(hca, qp);
	check(ret == -EIO && q.last_error == ENODEV,
	      "the RDMA write completes in error (fault: %s)",
	      strerror(q.last_error));
	check(!p2pdma_hca_dereg_mr(&uv, &mr), "MR deregistered");
	p2pdma_hca_verbs_close(&uv);
	close(buf_fd);
	close(hca);
	close(edu);
	free(map);

	printf("\n%s\n", failures ? "DEMO FAILED" : "demo ok");
	return failures ? 1 : 0;
}
