/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers of the VFIO_DEVICE_FEATURE_DMA_BUF selftests: open the provider
 * through vfio (legacy group API), export ranges of its BAR2, find where
 * dma-buf bytes live in the host file backing the BAR.  See
 * vfio_dmabuf_test.c for the environment the tests need.
 */
#ifndef _VFIO_DMABUF_UTIL_H
#define _VFIO_DMABUF_UTIL_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/dma-buf.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>

#include "../kselftest_harness.h"
#include "../p2pdma/p2pdma_edu.h"
#include "../p2pdma/p2pdma_hca_verbs.h"
#include "vfio_dmabuf_uapi.h"

#define BAR		VFIO_PCI_BAR2_REGION_INDEX
/*
 * PAGE: the kernel's page size, to which ranges are aligned (4 KiB on
 * x86, 16 or 64 KiB on some arm64 and powerpc kernels).  BLOCK: the data
 * one DMA check moves, in buffers on the stack: 4 KiB, within one page.
 */
#define PAGE		page_size()
#define BLOCK		4096ULL

static inline unsigned long long page_size(void)
{
	static unsigned long long size;
	long n;

	if (!size) {
		n = sysconf(_SC_PAGESIZE);
		size = n > 0 ? n : 4096;
	}
	return size;
}

/*
 * The most ranges an export takes, as in mainline: what one kmalloc()
 * (KMALLOC_MAX_SIZE, 4 MiB on x86-64) holds; more is ENOMEM.
 */
#define MAX_RANGES	((4ULL << 20) / sizeof(struct vfio_region_dma_range))
/* The feature header and the dma-buf structure, without the ranges */
#define FEAT_HDR	(sizeof(struct vfio_device_feature) + \
			 sizeof(struct vfio_device_feature_dma_buf))
#define FEAT_SZ(n)	(FEAT_HDR + (n) * sizeof(struct vfio_region_dma_range))
#define DMA_BUF_GET	(VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF)

#define NO_LAB "no provider/edu importer (VFIO_DMABUF_* not set)"
#define NO_HCA "no " P2PDMA_HCA_DEV ": p2pdma_hca.ko (CONFIG_INFINIBAND_USER_MEM) not loaded"
/*
 * Without the devices the tests skip, as without any hardware; inside the
 * lab (lab/vm sets LAB_RUN) a missing variable is the lab's bug: fail.
 */
static inline void assert_not_in_lab(struct __test_metadata *_metadata)
{
	ASSERT_EQ(NULL, getenv("LAB_RUN"))
		TH_LOG("in the lab (LAB_RUN), but " NO_LAB);
}

struct dmabuf_env {
	char bdf[64];		/* provider, canonical name (pci_name()) */
	const char *importer_bdf;
	__u32 importer;		/* P2PDMA_EDU_PCI() of edu */
	bool p2p;		/* the topology lets edu reach the BAR */
	bool host_bridge;	/* ... through the host bridge */
	bool iommu;		/* edu's DMA is translated by an IOMMU */
	int container;
	int group;
	int group_id;		/* IOMMU group number of the provider */
	int device;
	int edu;		/* /dev/p2pdma_edu: owns the imports */
	int hca;		/* /dev/p2pdma_hca: owns the QPs */
	__u32 qp;		/* the QP of MR accesses */
	struct p2pdma_hca_verbs uv;	/* edu's HCA by uverbs: owns the MRs */
	int bar_fd;		/* host file backing BAR2 */
	__u32 dev_flags;	/* vfio_device_info.flags */
	__u64 bar_size;
	__u64 bar_region;	/* offset of the BAR2 region in the device fd */
	__u64 cfg_off;		/* offset of the config region */
	unsigned int seed;	/* of the patterns: differs from run to run */
	__u32 marker;		/* at 0 of the first memory BAR until a reset */
};

static inline int parse_pci(const char *s, __u32 *addr)
{
	unsigned int dom, bus, dev, fn;

	if (!s || sscanf(s, "%x:%x:%x.%x", &dom, &bus, &dev, &fn) != 4)
		return -1;
	*addr = P2PDMA_EDU_PCI(dom, bus, dev, fn);
	return 0;
}

/* Is the importer in a translating IOMMU domain (not identity/none)? */
static inline bool importer_translated(const char *pci)
{
	char path[128], type[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group/type",
		 pci);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(type, sizeof(type), f))
		type[0] = 0;
	fclose(f);
	return !strncmp(type, "DMA", 3);
}

/* Name of the driver bound to @bdf, "" if none. */
static inline void pci_driver(const char *bdf, char *drv, size_t len)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bdf);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		drv[0] = 0;
		return;
	}
	link[n] = 0;
	snprintf(drv, len, "%s", strrchr(link, '/') + 1);
}

static inline int sysfs_write(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	if (n < 0)
		n = -errno;
	close(fd);
	return n < 0 ? n : 0;
}

/* Whether @bdf is on the bus */
static inline bool pci_present(const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bdf);
	return !access(path, F_OK);
}

/* Wait up to @secs for @bdf to be on the bus (@present) or off it */
static inline bool wait_present(const char *bdf, bool present,
				unsigned int secs)
{
	unsigned int ms;

	for (ms = 0; ms < secs * 1000; ms += 100) {
		if (pci_present(bdf) == present)
			return true;
		usleep(100000);
	}
	return pci_present(bdf) == present;
}

/* Unbind @bdf from its driver; vfio-pci's unbind waits for the user */
static inline int unbind_driver(const char *bdf)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver/unbind",
		 bdf);
	return sysfs_write(path, bdf);
}

/* In a child: close every fd from 3 up but the @n of @keep */
static inline void close_all_but(const int *keep, unsigned int n)
{
	long max = sysconf(_SC_OPEN_MAX);
	unsigned int i;
	int fd;

	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = 3; fd < max; fd++) {
		for (i = 0; i < n && keep[i] != fd; i++)
			;
		if (i == n)
			close(fd);
	}
}

static inline void close_from(int keep)
{
	close_all_but(&keep, 1);
}

/*
 * The child that unbinds @bdf from its driver: it holds no file of the
 * test, since vfio-pci's unbind waits for every user.  Exits with the
 * unbind's errno.
 */
static inline void unbind_helper(const char *bdf)
{
	close_from(-1);
	_exit(-unbind_driver(bdf));
}

/*
 * Hand @bdf to vfio-pci: through driver_override, which a device put back
 * on the bus (rescan, hot-plug) no longer has, then a probe.  The driver
 * is checked, not the writes' results: a device just hot-plugged shows in
 * sysfs before the PCI core lets drivers probe it, and then binds when the
 * core does.
 *
 * The driver link shows before the driver's probe runs (really_probe()),
 * so a bound driver is not yet a registered VFIO group.  A hot-plug and a
 * rescan probe under the PCI rescan/remove lock, which a rescan of the
 * device's bus takes too: once that rescan returns, the probe is over.
 * 0, or -EBUSY if another driver has it, -ETIMEDOUT if no driver came
 * within 10 s.
 */
static inline int bind_vfio_pci(const char *bdf)
{
	char path[PATH_MAX], rescan[PATH_MAX], drv[64];
	unsigned int ms;
	int ret;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override",
		 bdf);
	snprintf(rescan, sizeof(rescan), "/sys/bus/pci/devices/%s/rescan", bdf);
	ret = sysfs_write(path, "vfio-pci");
	if (ret)
		return ret;
	for (ms = 0; ms < 10000; ms += 100) {
		/* a no-op for a device that has a driver */
		sysfs_write("/sys/bus/pci/drivers_probe", bdf);
		pci_driver(bdf, drv, sizeof(drv));
		if (drv[0]) {
			/* a VF has no rescan: it is probed by its PF's driver */
			sysfs_write(rescan, "1");
			pci_driver(bdf, drv, sizeof(drv));
		}
		if (drv[0])
			return strcmp(drv, "vfio-pci") ? -EBUSY : 0;
		usleep(100000);
	}
	return -ETIMEDOUT;
}

/* xorshift64*: the same seed, the same numbers (@state not 0) */
static inline __u64 xorshift64s(__u64 *state)
{
	*state ^= *state >> 12;
	*state ^= *state << 25;
	*state ^= *state >> 27;
	return *state * 0x2545f4914f6cdd1dULL;
}

/* 32-bit xorshift: a pattern no stale data from an earlier run can match */
static inline void fill(uint8_t *p, size_t n, uint32_t seed)
{
	uint32_t x = seed * 2654435761u ^ 0x5bd1e995u;
	size_t i;

	if (!x)
		x = 1;
	for (i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = x;
	}
}

static inline int cfg_read16(struct dmabuf_env *e, unsigned int off, __u16 *val)
{
	return pread(e->device, val, 2, e->cfg_off + off) == 2 ? 0 : -errno;
}

static inline int cfg_read32(struct dmabuf_env *e, unsigned int off, __u32 *val)
{
	return pread(e->device, val, 4, e->cfg_off + off) == 4 ? 0 : -errno;
}

static inline int cfg_write16(struct dmabuf_env *e, unsigned int off, __u16 val)
{
	return pwrite(e->device, &val, 2, e->cfg_off + off) == 2 ? 0 : -errno;
}

/* Config offset of capability @id as vfio-pci shows it, 0 if none */
static inline unsigned int find_cap(struct dmabuf_env *e, __u8 id)
{
	__u8 cap[2], pos = 0;
	__u16 status = 0;
	int n;

	if (cfg_read16(e, PCI_STATUS, &status) ||
	    !(status & PCI_STATUS_CAP_LIST) ||
	    pread(e->device, &pos, 1, e->cfg_off + PCI_CAPABILITY_LIST) != 1)
		return 0;
	for (n = 0; n < 48 && pos >= PCI_STD_HEADER_SIZEOF; n++) {
		pos &= ~3;
		if (pread(e->device, cap, 2, e->cfg_off + pos) != 2)
			return 0;
		if (cap[0] == id)
			return pos;
		pos = cap[1];
	}
	return 0;
}

/* Set or clear memory decode through the config region, as a VMM does. */
static inline int set_memory(struct dmabuf_env *e, bool on)
{
	__u16 cmd;
	int ret;

	ret = cfg_read16(e, PCI_COMMAND, &cmd);
	if (ret)
		return ret;
	if (on)
		cmd |= PCI_COMMAND_MEMORY;
	else
		cmd &= ~PCI_COMMAND_MEMORY;
	return cfg_write16(e, PCI_COMMAND, cmd);
}

static inline void region_info(struct __test_metadata *_metadata,
			       struct dmabuf_env *e, __u32 index,
			       struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	ASSERT_EQ(0, ioctl(e->device, VFIO_DEVICE_GET_REGION_INFO, ri))
		TH_LOG("%s: region %u info: %s", e->bdf, index,
		       strerror(errno));
}

/* Get a device fd from the open group, with memory decode on. */
static inline void device_open(struct __test_metadata *_metadata,
			       struct dmabuf_env *e)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	struct vfio_region_info ri;

	e->device = ioctl(e->group, VFIO_GROUP_GET_DEVICE_FD, e->bdf);
	ASSERT_LE(0, e->device) TH_LOG("VFIO_GROUP_GET_DEVICE_FD %s: %s",
				       e->bdf, strerror(errno));
	ASSERT_EQ(0, ioctl(e->device, VFIO_DEVICE_GET_INFO, &info));
	ASSERT_TRUE(info.flags & VFIO_DEVICE_FLAGS_PCI);
	e->dev_flags = info.flags;
	region_info(_metadata, e, BAR, &ri);
	ASSERT_LE(16 * PAGE, ri.size) TH_LOG("BAR2 of %s: %llu bytes", e->bdf,
					     (unsigned long long)ri.size);
	e->bar_size = ri.size;
	e->bar_region = ri.offset;
	region_info(_metadata, e, VFIO_PCI_CONFIG_REGION_INDEX, &ri);
	e->cfg_off = ri.offset;
	ASSERT_EQ(0, set_memory(e, true));
}

/* Open the container and the IOMMU group of e->bdf, type1 IOMMU set. */
static inline void vfio_open_group(struct __test_metadata *_metadata,
				   struct dmabuf_env *e)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	char path[PATH_MAX], link[PATH_MAX];
	int type;
	ssize_t n;

	e->container = open("/dev/vfio/vfio", O_RDWR);
	ASSERT_LE(0, e->container) TH_LOG("/dev/vfio/vfio: %s",
					  strerror(errno));
	ASSERT_EQ(VFIO_API_VERSION, ioctl(e->container, VFIO_GET_API_VERSION));
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group",
		 e->bdf);
	n = readlink(path, link, sizeof(link) - 1);
	ASSERT_LT(0, n) TH_LOG("%s has no IOMMU group", e->bdf);
	link[n] = 0;
	e->group_id = atoi(strrchr(link, '/') + 1);
	snprintf(path, sizeof(path), "/dev/vfio/%d", e->group_id);
	e->group = open(path, O_RDWR);
	ASSERT_LE(0, e->group) TH_LOG("%s: %s (group held elsewhere?)", path,
				      strerror(errno));
	ASSERT_EQ(0, ioctl(e->group, VFIO_GROUP_GET_STATUS, &st));
	ASSERT_TRUE(st.flags & VFIO_GROUP_FLAGS_VIABLE)
		TH_LOG("IOMMU group %d of %s is not viable: bind all to vfio-pci",
		       e->group_id, e->bdf);
	ASSERT_EQ(0, ioctl(e->group, VFIO_GROUP_SET_CONTAINER, &e->container));
	type = ioctl(e->container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) > 0 ?
	       VFIO_TYPE1v2_IOMMU : VFIO_TYPE1_IOMMU;
	ASSERT_EQ(0, ioctl(e->container, VFIO_SET_IOMMU, type))
		TH_LOG("VFIO_SET_IOMMU: %s", strerror(errno));
}

static inline void vfio_open(struct __test_metadata *_metadata,
			     struct dmabuf_env *e)
{
	vfio_open_group(_metadata, e);
	device_open(_metadata, e);
}

static inline void vfio_close(struct dmabuf_env *e)
{
	if (e->device >= 0)
		close(e->device);
	if (e->group >= 0)
		close(e->group);
	if (e->container >= 0)
		close(e->container);
	e->device = -1;
	e->group = -1;
	e->container = -1;
}

/* How edu reaches the device, from @var's value @expect */
static inline void set_expect(struct __test_metadata *_metadata,
			      struct dmabuf_env *e, const char *expect,
			      const char *var)
{
	if (!strcmp(expect, "bus-address")) {
		e->p2p = true;
	} else if (!strcmp(expect, "host-bridge")) {
		e->p2p = true;
		e->host_bridge = true;
	} else {
		ASSERT_STREQ("not-supported", expect)
			TH_LOG("%s: bus-address, host-bridge or not-supported",
			       var);
	}
	e->iommu = importer_translated(e->importer_bdf);
}

/* The name the kernel uses for PCI device @s, e.g. for its dma-bufs */
static inline void pci_name(struct __test_metadata *_metadata, const char *s,
			    char *name, size_t len)
{
	char path[PATH_MAX], link[PATH_MAX];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", s);
	n = readlink(path, link, sizeof(link) - 1);
	ASSERT_LT(0, n) TH_LOG("no PCI device %s", s);
	link[n] = 0;
	snprintf(name, len, "%s", strrchr(link, '/') + 1);
}

/* Returns 0, or 1 if the lab environment is missing (skip). */
static inline int env_open(struct __test_metadata *_metadata,
			   struct dmabuf_env *e)
{
	const char *prov = getenv("VFIO_DMABUF_PROVIDER");
	const char *file = getenv("VFIO_DMABUF_BAR_FILE");
	const char *expect = getenv("VFIO_DMABUF_EXPECT");
	struct timespec ts;
	struct stat st;
	char drv[64];
	int ret;

	memset(e, 0, sizeof(*e));
	e->container = -1;
	e->group = -1;
	e->device = -1;
	e->edu = -1;
	e->hca = -1;
	e->uv.fd = -1;
	e->bar_fd = -1;
	e->importer_bdf = getenv("VFIO_DMABUF_IMPORTER");
	if (!prov || !file || !expect ||
	    parse_pci(e->importer_bdf, &e->importer))
		return 1;

	set_expect(_metadata, e, expect, "VFIO_DMABUF_EXPECT");
	pci_name(_metadata, prov, e->bdf, sizeof(e->bdf));

	/* An earlier unbind test that failed half-way may have left it so */
	pci_driver(e->bdf, drv, sizeof(drv));
	if (!drv[0]) {
		TH_LOG("%s has no driver: binding it to vfio-pci", e->bdf);
		ASSERT_EQ(0, bind_vfio_pci(e->bdf));
		pci_driver(e->bdf, drv, sizeof(drv));
	}
	ASSERT_STREQ("vfio-pci", drv) TH_LOG("driver of %s", e->bdf);

	clock_gettime(CLOCK_REALTIME, &ts);
	e->seed = ts.tv_nsec ^ ts.tv_sec << 20 ^ getpid() << 8;

	e->bar_fd = open(file, O_RDONLY);
	ASSERT_LE(0, e->bar_fd) TH_LOG("%s: %s", file, strerror(errno));
	e->edu = open(P2PDMA_EDU_DEV, O_RDWR);
	ASSERT_LE(0, e->edu) TH_LOG("%s: %s (p2pdma_edu.ko not loaded?)",
				    P2PDMA_EDU_DEV, strerror(errno));
	/* Only the MR tests need the stand-in HCA: see need_hca() */
	e->hca = open(P2PDMA_HCA_DEV, O_RDWR);
	if (e->hca >= 0) {
		ASSERT_EQ(0, ioctl(e->hca, P2PDMA_EDU_CREATE_QP, &e->qp))
			TH_LOG("CREATE_QP: %s", strerror(errno));
		ret = p2pdma_hca_verbs_open(e->importer_bdf, &e->uv);
		ASSERT_EQ(0, ret) TH_LOG("uverbs of the HCA on %s: %s",
					 e->importer_bdf, strerror(-ret));
	}
	vfio_open(_metadata, e);
	ASSERT_EQ(0, fstat(e->bar_fd, &st));
	ASSERT_LE(e->bar_size, (__u64)st.st_size)
		TH_LOG("%s is smaller than BAR2", file);
	return 0;
}

/*
 * The stand-in HCA is there, or the test skips; in the lab (LAB_RUN) it
 * must be.  Returns false if the caller must skip.
 */
static inline bool need_hca(struct __test_metadata *_metadata,
			    const struct dmabuf_env *e)
{
	if (e->hca >= 0)
		return true;
	ASSERT_EQ(NULL, getenv("LAB_RUN")) TH_LOG("in the lab, but " NO_HCA);
	return false;
}

static inline void env_close(struct dmabuf_env *e)
{
	/* MRs and imports first: they hold the dma-bufs */
	p2pdma_hca_verbs_close(&e->uv);
	if (e->hca >= 0)
		close(e->hca);
	e->hca = -1;
	if (e->edu >= 0)
		close(e->edu);
	e->edu = -1;
	vfio_close(e);
	if (e->bar_fd >= 0)
		close(e->bar_fd);
	e->bar_fd = -1;
}

/*
 * VFIO_DEVICE_FEATURE with struct vfio_device_feature_dma_buf, every field
 * under the caller's control.  @nr_copy ranges of @r are copied, whatever
 * @nr_ranges says.  Returns the ioctl's value or -errno.
 */
static inline int feature_dma_buf(int device, __u32 feat_flags, __u32 argsz,
				  __u32 index, __u32 open_flags, __u32 flags,
				  __u32 nr_ranges,
				  const struct vfio_region_dma_range *r,
				  unsigned int nr_copy)
{
	size_t sz = FEAT_SZ(nr_copy);
	struct vfio_device_feature_dma_buf *db;
	struct vfio_device_feature *f;
	int ret;

	f = calloc(1, sz > argsz ? sz : argsz);
	if (!f)
		return -ENOMEM;
	f->argsz = argsz;
	f->flags = feat_flags;
	db = (void *)f->data;
	db->region_index = index;
	db->open_flags = open_flags;
	db->flags = flags;
	db->nr_ranges = nr_ranges;
	if (nr_copy)
		memcpy(db->dma_ranges, r, nr_copy * sizeof(*r));
	ret = ioctl(device, VFIO_DEVICE_FEATURE, f);
	if (ret < 0)
		ret = -errno;
	free(f);
	return ret;
}

/* What mapping a usable dma-buf gives in this topology */
static inline int map_ok(struct dmabuf_env *e)
{
	return e->p2p ? 0 : -EOPNOTSUPP;
}

/* Export @n ranges of BAR @index: the new dma-buf fd, or -errno. */
static inline int export_bar(struct dmabuf_env *e, __u32 index,
			     __u32 open_flags,
			     const struct vfio_region_dma_range *r,
			     unsigned int n)
{
	return feature_dma_buf(e->device, DMA_BUF_GET, FEAT_SZ(n), index,
			       open_flags, 0, n, r, n);
}

static inline int export1(struct dmabuf_env *e, __u64 off, __u64 len)
{
	struct vfio_region_dma_range r = { .offset = off, .length = len };

	return export_bar(e, BAR, O_RDWR | O_CLOEXEC, &r, 1);
}

/*
 * Where dma-buf offset @off is in the BAR: the ranges are concatenated in
 * order.  *@left: bytes to the end of that range.
 */
static inline __u64 bar_offset(const struct vfio_region_dma_range *r,
			       unsigned int n, __u64 off, __u64 *left)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (off < r[i].length) {
			*left = r[i].length - off;
			return r[i].offset + off;
		}
		off -= r[i].length;
	}
	*left = 0;
	return ~0ULL;
}

/* Read what backs dma-buf bytes [@off, @off + @len) from the host file. */
static inline void read_host(struct __test_metadata *_metadata,
			     struct dmabuf_env *e,
			     const struct vfio_region_dma_range *r,
			     unsigned int n, __u64 off, uint8_t *buf, __u64 len)
{
	__u64 done = 0, left, at, chunk;

	while (done < len) {
		at = bar_offset(r, n, off + done, &left);
		ASSERT_NE(0, left) TH_LOG("offset %#llx beyond the dma-buf",
					  (unsigned long long)(off + done));
		chunk = len - done < left ? len - done : left;
		ASSERT_EQ((ssize_t)chunk, pread(e->bar_fd, buf + done, chunk, at))
			TH_LOG("host file at %#llx", (unsigned long long)at);
		done += chunk;
	}
}

/*
 * Leave a mark that a reset of the provider wipes out: on ivshmem (the
 * lab's provider), in IntrMask, the read-write first register of BAR 0,
 * which QEMU clears on every kind of reset.  On other devices register 0
 * is not ours to write: nothing is marked, and the importer's view of a
 * reset is not checked.  Needs memory decode on.
 */
static inline void mark_provider(struct __test_metadata *_metadata,
				 struct dmabuf_env *e)
{
	__u16 vendor = 0, device = 0;
	struct vfio_region_info ri;
	__u32 v = 0;

	e->marker = 0;
	ASSERT_EQ(0, cfg_read16(e, PCI_VENDOR_ID, &vendor));
	ASSERT_EQ(0, cfg_read16(e, PCI_DEVICE_ID, &device));
	if (vendor != 0x1af4 || device != 0x1110)
		return;
	region_info(_metadata, e, VFIO_PCI_BAR0_REGION_INDEX, &ri);
	e->marker = 0x5a000000 | ((e->seed + rand()) & 0xffffff);
	ASSERT_EQ(4, pwrite(e->device, &e->marker, 4, ri.offset))
		TH_LOG("%s: writing BAR 0: %s", e->bdf, strerror(errno));
	ASSERT_EQ(4, pread(e->device, &v, 4, ri.offset));
	ASSERT_EQ(e->marker, v) TH_LOG("%s: BAR 0 register 0 does not keep a value",
				       e->bdf);
}

/*
 * What an importer saw of the provider when it was told to stop: the
 * revoke must come before the device loses its BARs, so the provider was
 * still on the bus, enabled, decoding memory, in D0 and not reset yet.
 */
static inline void expect_seen_first(struct __test_metadata *_metadata,
				     const struct dmabuf_env *e,
				     const struct p2pdma_edu_seen *s,
				     const char *when)
{
	ASSERT_EQ(1, s->valid) TH_LOG("%s: the importer has no record of that notification",
				      when);
	ASSERT_EQ(1, s->provider) TH_LOG("%s: the importer did not find the provider",
					 when);
	EXPECT_EQ(1, s->present)
		TH_LOG("%s: the provider had left the bus before the revoke", when);
	EXPECT_EQ(1, s->enabled)
		TH_LOG("%s: the provider was disabled before the revoke", when);
	EXPECT_EQ(1, s->decode)
		TH_LOG("%s: memory decode was off before the revoke", when);
	EXPECT_EQ(1, s->d0)
		TH_LOG("%s: the provider had left D0 before the revoke", when);
	if (e->marker) {
		EXPECT_EQ(e->marker, s->reg0)
			TH_LOG("%s: reset before the revoke (register 0: %#x)",
			       when, s->reg0);
	}
}

/* The @index-th move_notify of import @h (from 1) came first */
static inline void expect_revoke_first(struct __test_metadata *_metadata,
				       const struct dmabuf_env *e, __u32 h,
				       __u32 index, const char *when)
{
	struct p2pdma_edu_import_info i = { .handle = h, .seen_index = index };

	ASSERT_EQ(0, ioctl(e->edu, P2PDMA_EDU_IMPORT_INFO, &i))
		TH_LOG("IMPORT_INFO %u: %s", h, strerror(errno));
	expect_seen_first(_metadata, e, &i.seen, when);
}

/* The @index-th invalidation of MR @h (from 1) came first */
static inline void expect_mr_revoke_first(struct __test_metadata *_metadata,
					  const struct dmabuf_env *e, __u32 h,
					  __u32 index, const char *when)
{
	struct p2pdma_edu_mr_info i = { .handle = h, .seen_index = index };

	ASSERT_EQ(0, ioctl(e->hca, P2PDMA_EDU_MR_INFO, &i))
		TH_LOG("MR_INFO %u: %s", h, strerror(errno));
	expect_seen_first(_metadata, e, &i.seen, when);
}

/* The ioctls of a p2pdma_edu import: 0 or -errno */
static inline int imp_import(struct dmabuf_env *e, int fd, __u32 flags,
			     __u32 *handle, __u64 *size)
{
	struct p2pdma_edu_import imp = {
		.importer = e->importer, .fd = fd, .flags = flags,
	};

	if (ioctl(e->edu, P2PDMA_EDU_IMPORT, &imp))
		return -errno;
	*handle = imp.handle;
	if (size)
		*size = imp.size;
	return 0;
}

static inline int imp_map(struct dmabuf_env *e, __u32 h,
			  struct p2pdma_edu_import_map *m)
{
	memset(m, 0, sizeof(*m));
	m->handle = h;
	return ioctl(e->edu, P2PDMA_EDU_IMPORT_MAP, m) ? -errno : 0;
}

/* IMPORT_MAP when only the result matters */
static inline int imp_map_ret(struct dmabuf_env *e, __u32 h)
{
	struct p2pdma_edu_import_map m;

	return imp_map(e, h, &m);
}

static inline int imp_dma(struct dmabuf_env *e, __u32 h, int to_device,
			  __u64 off, void *buf, __u64 len)
{
	struct p2pdma_edu_import_dma d = {
		.handle = h, .to_device = to_device, .offset = off,
		.length = len, .user_buf = (uintptr_t)buf,
	};

	return ioctl(e->edu, P2PDMA_EDU_IMPORT_DMA, &d) ? -errno : 0;
}

static inline int imp_close(struct dmabuf_env *e, __u32 h)
{
	return ioctl(e->edu, P2PDMA_EDU_IMPORT_CLOSE, &h) ? -errno : 0;
}

/*
 * Zero BAR bytes [@at, @at + @len) through the device fd, as the owner
 * can, and see the zeros in the host file: a DMA that then does nothing
 * cannot leave the data of an earlier one in place.  Needs memory decode
 * on.
 */
static inline void clear_bar(struct __test_metadata *_metadata,
			     struct dmabuf_env *e, __u64 at, __u64 len)
{
	uint8_t *buf = calloc(1, len), *zero = calloc(1, len);

	ASSERT_NE(NULL, buf);
	ASSERT_NE(NULL, zero);
	ASSERT_EQ((ssize_t)len, pwrite(e->device, zero, len, e->bar_region + at))
		TH_LOG("clearing BAR offset %#llx", (unsigned long long)at);
	memset(buf, 0xa5, len);
	ASSERT_EQ((ssize_t)len, pread(e->bar_fd, buf, len, at));
	EXPECT_EQ(0, memcmp(buf, zero, len))
		TH_LOG("BAR offset %#llx: cleared, but not in the host file",
		       (unsigned long long)at);
	free(buf);
	free(zero);
}

/*
 * edu writes the block @want to DMA address @addr with no import in the
 * way: true if it landed at BAR offset @at.  *@edu_ret: what edu said.
 */
static inline bool raw_dma_landed(struct dmabuf_env *e, __u64 addr, __u64 at,
				  const uint8_t *want, int *edu_ret)
{
	uint8_t got[BLOCK];
	struct p2pdma_edu_dma d = {
		.importer = e->importer, .to_device = 1, .dma_addr = addr,
		.length = BLOCK, .user_buf = (uintptr_t)want,
	};

	*edu_ret = ioctl(e->edu, P2PDMA_EDU_DMA, &d) ? -errno : 0;
	return pread(e->bar_fd, got, BLOCK, at) == BLOCK &&
	       !memcmp(want, got, BLOCK);
}

/*
 * @addr, the address of a live mapping of BAR offset @at, taken for a
 * later check_old_addr(): a raw DMA to it must land now, or a raw DMA
 * that silently does nothing would pass that check.
 */
static inline void check_live_addr(struct __test_metadata *_metadata,
				   struct dmabuf_env *e, __u64 addr, __u64 at)
{
	uint8_t want[BLOCK];
	int ret;

	if (!e->p2p)
		return;
	clear_bar(_metadata, e, at, BLOCK);
	fill(want, BLOCK, e->seed ^ 0x11fe);
	EXPECT_TRUE(raw_dma_landed(e, addr, at, want, &ret))
		TH_LOG("a raw DMA to the live address %#llx did not land (edu: %d)",
		       (unsigned long long)addr, ret);
}

/*
 * A DMA by edu to the address a mapping had before it was revoked must
 * not reach the BAR.  That is certain only when the address was an IOMMU
 * mapping that revocation removed (host bridge, translated importer); a
 * bus address or an identity-mapped one stays valid by nature.
 *
 * When the device is @usable (decoding memory, its fd open), a positive
 * control comes first: a fresh dma-buf of the last page of the BAR is
 * imported and mapped, and the same kind of raw DMA to its address must
 * land.  It stays mapped while the old address is tried, so an allocator
 * that hands out the old address again points it elsewhere than @bar_off.
 * Where the device does not decode, no DMA could land at all: callers
 * check there only with the live address checked before the revoke
 * (check_live_addr()).
 */
static inline void check_old_addr(struct __test_metadata *_metadata,
				  struct dmabuf_env *e, __u64 addr,
				  __u64 bar_off, bool usable, const char *when)
{
	const struct vfio_region_dma_range ctl = {
		.offset = e->bar_size - PAGE, .length = PAGE,
	};
	uint8_t before[BLOCK], after[BLOCK], junk[BLOCK];
	struct p2pdma_edu_import_map m;
	int fd = -1, ret;
	__u32 h = 0;

	if (!e->p2p)
		return;		/* never mapped */
	if (!e->host_bridge || !e->iommu) {
		TH_LOG("%s: DMA to the old address not checked: %s", when,
		       e->host_bridge ? "importer not translated by an IOMMU" :
		       "bus addresses need no mapping");
		return;
	}
	if (usable) {
		fd = export_bar(e, BAR, O_RDWR | O_CLOEXEC, &ctl, 1);
		ASSERT_LE(0, fd) TH_LOG("%s: control export: %s", when,
					strerror(-fd));
		ASSERT_EQ(0, imp_import(e, fd, 0, &h, NULL));
		ASSERT_EQ(0, imp_map(e, h, &m));
		ASSERT_LT(0, m.nents);
		clear_bar(_metadata, e, ctl.offset, BLOCK);
		fill(junk, BLOCK, e->seed ^ 0xc0de);
		EXPECT_TRUE(raw_dma_landed(e, m.segs[0].addr, ctl.offset, junk,
					   &ret))
			TH_LOG("%s: the control DMA to %#llx did not land (edu: %d)",
			       when, (unsigned long long)m.segs[0].addr, ret);
	}
	ASSERT_EQ(BLOCK, pread(e->bar_fd, before, BLOCK, bar_off));
	fill(junk, BLOCK, e->seed ^ 0xdead);
	/* edu need not see an error: the proof is in the BAR's memory */
	raw_dma_landed(e, addr, bar_off, junk, &ret);
	ASSERT_EQ(BLOCK, pread(e->bar_fd, after, BLOCK, bar_off));
	EXPECT_EQ(0, memcmp(before, after, BLOCK))
		TH_LOG("%s: DMA to the revoked IOVA %#llx reached the BAR (edu: %d)",
		       when, (unsigned long long)addr, ret);
	if (usable) {
		EXPECT_EQ(0, imp_close(e, h));
		close(fd);
	}
}

/* A dma-buf MR of edu's stand-in HCA, through uverbs as ibv_reg_dmabuf_mr() */
static inline int mr_reg(struct dmabuf_env *e, int fd, __u64 off, __u64 len,
			 __u64 iova, __u64 pgsz, __u32 flags,
			 struct p2pdma_hca_user_mr *r)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->offset = off;
	r->length = len;
	r->iova = iova;
	r->pgsz_bitmap = pgsz;
	r->flags = flags;
	r->access = IB_UVERBS_ACCESS_LOCAL_WRITE |
		    IB_UVERBS_ACCESS_REMOTE_WRITE | IB_UVERBS_ACCESS_REMOTE_READ;
	return p2pdma_hca_reg_mr(&e->uv, r);
}

/* Deregistration through uverbs, as ibv_dereg_mr() */
static inline int mr_dereg(struct dmabuf_env *e, const struct p2pdma_hca_user_mr *r)
{
	return p2pdma_hca_dereg_mr(&e->uv, r);
}

static inline struct p2pdma_edu_import_info
imp_info(struct __test_metadata *_metadata, struct dmabuf_env *e, __u32 h)
{
	struct p2pdma_edu_import_info info = { .handle = h };

	EXPECT_EQ(0, ioctl(e->edu, P2PDMA_EDU_IMPORT_INFO, &info))
		TH_LOG("IMPORT_INFO %u: %s", h, strerror(errno));
	return info;
}

/* The import saw exactly @notify move_notify calls and holds @mapped. */
static inline void expect_state(struct __test_metadata *_metadata,
				struct dmabuf_env *e, __u32 h, __u32 notify,
				__u32 mapped, const char *when)
{
	struct p2pdma_edu_import_info i = imp_info(_metadata, e, h);

	EXPECT_EQ(notify, i.move_notify)
		TH_LOG("import %u, %s: move_notify count", h, when);
	EXPECT_EQ(mapped, i.mapped)
		TH_LOG("import %u, %s: mapping held", h, when);
}

/* While revoked: mapping and DMA (which maps first) fail with ENODEV. */
static inline void expect_revoked(struct __test_metadata *_metadata,
				  struct dmabuf_env *e, __u32 h,
				  const char *when)
{
	struct p2pdma_edu_import_info before, after;
	uint8_t buf[64];

	before = imp_info(_metadata, e, h);
	EXPECT_EQ(-ENODEV, imp_map_ret(e, h)) TH_LOG("map, %s", when);
	fill(buf, sizeof(buf), e->seed);
	EXPECT_EQ(-ENODEV, imp_dma(e, h, 1, 0, buf, sizeof(buf)))
		TH_LOG("DMA, %s", when);
	after = imp_info(_metadata, e, h);
	EXPECT_EQ(0, after.mapped);
	EXPECT_EQ(before.map_errors + 2, after.map_errors);
	EXPECT_EQ(ENODEV, after.last_error);
	EXPECT_EQ(before.maps, after.maps);
	EXPECT_EQ(before.move_notify, after.move_notify);
}

/* VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, sized by a first call: 0 or -errno */
static inline int hot_reset_info(struct dmabuf_env *e,
				 struct vfio_pci_hot_reset_info **out)
{
	struct vfio_pci_hot_reset_info hdr = { .argsz = sizeof(hdr) };
	struct vfio_pci_hot_reset_info *info;
	size_t sz;
	int ret;

	*out = NULL;
	if (ioctl(e->device, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hdr) &&
	    errno != ENOSPC)
		return -errno;
	sz = sizeof(hdr) + hdr.count * sizeof(struct vfio_pci_dependent_device);
	info = calloc(1, sz);
	if (!info)
		return -ENOMEM;
	info->argsz = sz;
	if (ioctl(e->device, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info)) {
		ret = -errno;
		free(info);
		return ret;
	}
	*out = info;
	return 0;
}

/*
 * The dma-bufs of vfio-pci alive in the system, and the attachments to
 * them, as debugfs' bufinfo lists them: -1 without debugfs.
 */
static inline int vfio_dmabufs(unsigned int *attached)
{
	char line[512];
	unsigned int n, bufs = 0;
	bool vfio = false;
	FILE *f;

	*attached = 0;
	f = fopen("/sys/kernel/debug/dma_buf/bufinfo", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (line[0] >= '0' && line[0] <= '9') {
			vfio = !!strstr(line, "\tvfio-pci\t");
			bufs += vfio;
		} else if (vfio && strstr(line, " devices attached") &&
			   sscanf(line, "Total %u", &n) == 1) {
			*attached += n;
		}
	}
	fclose(f);
	return bufs;
}

#endif /* _VFIO_DMABUF_UTIL_H */
