// SPDX-License-Identifier: GPL-2.0
/*
 * p2pdma_edu: a test driver that uses QEMU's "edu" device (1234:11e8) as
 * the DMA engine of a peer-to-peer importer, so that selftests can map a
 * BAR of another device with dma_map_p2p() and check with real (emulated)
 * DMA, through a real (emulated) IOMMU and PCIe topology, where the data
 * lands.
 *
 * It binds edu devices by ID.  Any other PCI device bound to it (through
 * driver_override) becomes a provider: each of its memory BARs gets a
 * page-less P2P provider.  /dev/p2pdma_edu takes the ioctls of
 * p2pdma_edu.h.  Mappings belong to the open file and are undone when it
 * is closed.
 *
 * It is also a dma-buf importer: P2PDMA_EDU_IMPORT attaches an edu device
 * to a dma-buf the way an RDMA driver does for a dma-buf MR (dynamic,
 * peer-to-peer, unmapping from move_notify under the resv lock), or as a
 * static or pinned importer to check that the exporter refuses those.  It
 * counts what it sees so that tests can observe revocation.
 *
 * P2PDMA_EDU_BENCH_* time mapping and registration in the kernel, against
 * what exporters without dma_map_p2p() do, for vfio_dmabuf_bench.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/dma-buf.h>
#include <linux/dma-buf-mapping.h>
#include <linux/dma-fence.h>
#include <linux/dma-resv.h>
#include <linux/dma-mapping.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/iommu.h>
#include <linux/kprobes.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/pci.h>
#include <linux/pci-p2pdma.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>
#include <rdma/ib_umem.h>
#include <rdma/iter.h>
#include <rdma/ib_verbs.h>

#include "../p2pdma_edu.h"

#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8
#define EDU_REG_IDENT		0x00
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_CNT		0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_CMD_RUN		BIT(0)
#define EDU_CMD_TO_PCI		BIT(1)	/* edu buffer -> PCI address */
#define EDU_BUF			0x40000
/* QEMU 7.2's edu aborts on a DMA that ends exactly at its 4 KiB buffer end */
#define EDU_CHUNK		2048
#define EDU_TIMEOUT_MS		5000

struct p2pdma_edu {
	struct pci_dev *pdev;
	struct list_head node;
	bool is_edu;
	/* edu only */
	void __iomem *regs;
	struct mutex lock;		/* serialises the DMA engine */
	void *bounce;
	dma_addr_t bounce_dma;
	struct ib_device *ibdev;	/* the stand-in HCA */
	/* providers only */
	struct p2pdma_provider *providers[PCI_STD_NUM_BARS];
};

struct p2pdma_edu_file {
	struct xarray maps;		/* handle -> struct p2pdma_edu_mapping */
	struct xarray imports;		/* handle -> struct p2pdma_edu_attachment */
	struct xarray mrs;		/* handle -> struct p2pdma_edu_mr */
	struct mutex imports_lock;	/* serialises the import and MR ioctls */
	struct resource *claim;		/* P2PDMA_EDU_CLAIM, under imports_lock */
};

/*
 * The provider of a dma-buf as an importer watches it: in each move_notify
 * the importer records whether the provider still decoded its BARs, was
 * enabled, in D0, and not reset (the first register of its first memory
 * BAR still holds what the test wrote there), so that tests see that the
 * exporter revoked before the device lost its BARs, not only that it
 * revoked.  @seen is protected by the dma-buf's resv lock.
 */
struct p2pdma_edu_watch {
	struct pci_dev *pdev;		/* referenced, NULL if not PCI */
	void __iomem *reg0;
	struct p2pdma_edu_seen seen[P2PDMA_EDU_SEEN_MAX];
};

/*
 * One P2PDMA_EDU_IMPORT.  @sgt, @pinned, @revoked and the counters are
 * protected by the dma-buf's resv lock.
 */
struct p2pdma_edu_attachment {
	struct pci_dev *pdev;		/* the edu importer, referenced */
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	bool pinned;
	bool revoked;			/* a revocable pin was revoked */
	/* P2PDMA_EDU_IMPORT_FENCE: one pending fence, signalled by the work */
	struct dma_fence *fence;
	spinlock_t fence_lock;		/* of the fences */
	u64 fence_context;
	u64 fence_seqno;
	struct delayed_work fence_work;
	atomic_t fences_signalled;
	/* P2PDMA_EDU_IMPORT_LATE_UNMAP: move_notify leaves the unmap to this */
	bool late_unmap;
	struct delayed_work unmap_work;
	u32 move_notify;
	u32 maps;
	u32 map_errors;
	int last_error;
	struct p2pdma_edu_watch watch;
};

/*
 * One P2PDMA_EDU_MAP (a dma_p2p_map) or P2PDMA_EDU_MAP_RANGES (an sgt of
 * the attachment @attach to a dma-buf of p2pdma_edu_phys_ops).
 */
struct p2pdma_edu_mapping {
	struct device *dev;
	struct dma_p2p_map map;
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
};

static LIST_HEAD(p2pdma_edu_devices);
static DEFINE_MUTEX(p2pdma_edu_devices_lock);
static struct miscdevice p2pdma_edu_misc;

static u32 p2pdma_edu_addr(struct pci_dev *pdev)
{
	return pci_domain_nr(pdev->bus) << 16 | pdev->bus->number << 8 |
	       pdev->devfn;
}

/* Called with p2pdma_edu_devices_lock held. */
static struct p2pdma_edu *p2pdma_edu_find(u32 addr, bool is_edu)
{
	struct p2pdma_edu *e;

	list_for_each_entry(e, &p2pdma_edu_devices, node)
		if (p2pdma_edu_addr(e->pdev) == addr && e->is_edu == is_edu)
			return e;
	return NULL;
}

static int p2pdma_edu_run(struct p2pdma_edu *edu, u64 src, u64 dst, u32 len,
			  bool to_pci)
{
	unsigned long timeout = jiffies + msecs_to_jiffies(EDU_TIMEOUT_MS);

	writeq(src, edu->regs + EDU_REG_DMA_SRC);
	writeq(dst, edu->regs + EDU_REG_DMA_DST);
	writeq(len, edu->regs + EDU_REG_DMA_CNT);
	writeq(EDU_CMD_RUN | (to_pci ? EDU_CMD_TO_PCI : 0),
	       edu->regs + EDU_REG_DMA_CMD);
	/* edu finishes a transfer 100 ms (virtual time) after it starts */
	while (readq(edu->regs + EDU_REG_DMA_CMD) & EDU_CMD_RUN) {
		if (time_after(jiffies, timeout))
			return -ETIMEDOUT;
		usleep_range(1000, 2000);
	}
	return 0;
}

/*
 * Copy between @buf and @addr through edu's internal buffer and a coherent
 * bounce buffer.  edu reports no DMA errors: callers check data.  Touches
 * no user memory, so it may run under a dma-buf's resv lock.
 */
static int p2pdma_edu_xfer(struct p2pdma_edu *edu, bool to_device,
			   u64 dma_addr, u8 *buf, u64 length)
{
	u64 done;
	int ret = 0;

	mutex_lock(&edu->lock);
	for (done = 0; done < length && !ret; done += EDU_CHUNK) {
		u32 len = min_t(u64, length - done, EDU_CHUNK);

		if (to_device) {
			memcpy(edu->bounce, buf + done, len);
			ret = p2pdma_edu_run(edu, edu->bounce_dma, EDU_BUF,
					     len, false);
			if (!ret)
				ret = p2pdma_edu_run(edu, EDU_BUF,
						     dma_addr + done, len,
						     true);
		} else {
			ret = p2pdma_edu_run(edu, dma_addr + done, EDU_BUF,
					     len, false);
			if (!ret)
				ret = p2pdma_edu_run(edu, EDU_BUF,
						     edu->bounce_dma, len, true);
			if (!ret)
				memcpy(buf + done, edu->bounce, len);
		}
	}
	mutex_unlock(&edu->lock);
	return ret;
}

/* Kernel copy of a user buffer for a DMA of @length bytes. */
static u8 *p2pdma_edu_get_buf(u64 user_buf, u64 length, bool to_device)
{
	u8 *buf;

	if (!length || length > P2PDMA_EDU_MAX_DMA)
		return ERR_PTR(-EINVAL);
	buf = kvzalloc(length, GFP_KERNEL);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	if (to_device &&
	    copy_from_user(buf, u64_to_user_ptr(user_buf), length)) {
		kvfree(buf);
		return ERR_PTR(-EFAULT);
	}
	return buf;
}

/* Copy the data back to user memory if it came from the device, and free. */
static int p2pdma_edu_put_buf(u8 *buf, u64 user_buf, u64 length,
			      bool to_device, int ret)
{
	if (!ret && !to_device &&
	    copy_to_user(u64_to_user_ptr(user_buf), buf, length))
		ret = -EFAULT;
	kvfree(buf);
	return ret;
}

/* enum pci_p2pdma_map_type as the P2PDMA_EDU_* value of the uAPI */
static u32 p2pdma_edu_type(enum pci_p2pdma_map_type type)
{
	switch (type) {
	case PCI_P2PDMA_MAP_BUS_ADDR:
		return P2PDMA_EDU_BUS_ADDR;
	case PCI_P2PDMA_MAP_THRU_HOST_BRIDGE:
		return P2PDMA_EDU_THRU_HOST_BRIDGE;
	default:
		return P2PDMA_EDU_NOT_SUPPORTED;
	}
}

/* Is [@offset, @offset + @length) inside BAR @bar of @e? (empty: yes) */
static bool p2pdma_edu_in_bar(struct p2pdma_edu *e, unsigned int bar,
			      u64 offset, u64 length)
{
	u64 len = pci_resource_len(e->pdev, bar);

	return offset <= len && length <= len - offset;
}

/* Does @dev's DMA go through an IOMMU domain of the DMA API? */
static bool p2pdma_edu_translated(struct device *dev)
{
	struct iommu_domain *domain = iommu_get_domain_for_dev(dev);

	return domain && iommu_is_dma_domain(domain);
}

static long p2pdma_edu_ioctl_map(struct p2pdma_edu_file *f, void __user *arg)
{
	struct p2pdma_edu_mapping *m;
	struct p2pdma_provider *provider;
	struct p2pdma_edu *prov, *imp;
	struct p2pdma_edu_map req;
	struct device *dev;
	u32 handle;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.bar >= PCI_STD_NUM_BARS)
		return -EINVAL;

	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return -ENOMEM;

	mutex_lock(&p2pdma_edu_devices_lock);
	prov = p2pdma_edu_find(req.provider, false);
	provider = prov ? prov->providers[req.bar] : NULL;
	if (req.importer == P2PDMA_EDU_NON_PCI) {
		dev = p2pdma_edu_misc.this_device;
	} else {
		imp = p2pdma_edu_find(req.importer, true);
		dev = imp ? &imp->pdev->dev : NULL;
	}
	if (!provider || !dev) {
		ret = -ENODEV;
		goto out_unlock;
	}
	req.type = p2pdma_edu_type(pci_p2pdma_map_type(provider, dev));
	if (!p2pdma_edu_in_bar(prov, req.bar, req.offset, req.length)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	ret = dma_map_p2p(dev, provider,
			  pci_resource_start(prov->pdev, req.bar) + req.offset,
			  req.length, DMA_BIDIRECTIONAL, 0, &m->map);
	if (ret)
		goto out_unlock;
	m->dev = get_device(dev);
	mutex_unlock(&p2pdma_edu_devices_lock);

	ret = xa_alloc(&f->maps, &handle, m, xa_limit_32b, GFP_KERNEL);
	if (ret)
		goto out_unmap;
	req.dma_addr = m->map.addr;
	req.mapped = m->map.mapped && p2pdma_edu_translated(m->dev);
	req.handle = handle;
	if (copy_to_user(arg, &req, sizeof(req))) {
		xa_erase(&f->maps, handle);
		ret = -EFAULT;
		goto out_unmap;
	}
	return 0;

out_unmap:
	dma_unmap_p2p(m->dev, &m->map, DMA_BIDIRECTIONAL, 0);
	put_device(m->dev);
	kfree(m);
	return ret;
out_unlock:
	mutex_unlock(&p2pdma_edu_devices_lock);
	/* report the class even when the mapping is refused */
	if (copy_to_user(arg, &req, sizeof(req)))
		ret = -EFAULT;
	kfree(m);
	return ret;
}

/*
 * A minimal exporter of BAR ranges, written as a driver that exports its
 * own MMIO would write one: map_dma_buf() is dma_buf_phys_vec_to_sgt().
 * Its dma-bufs never get a file descriptor: P2PDMA_EDU_MAP_RANGES and the
 * table benchmark attach edu to one and map it.  The provider is only used
 * while mapping, with its device locked (p2pdma_edu_phys_get()).  It never
 * moves or revokes the BAR, which is what makes its no-op pin and the
 * importer's no-op move_notify right, and lets P2PDMA_EDU_MAP_RANGES keep
 * the table after dropping the reservation lock.
 */
struct p2pdma_edu_phys {
	struct p2pdma_provider *provider;
	size_t nr_ranges;
	struct dma_buf_phys_vec ranges[] __counted_by(nr_ranges);
};

static int p2pdma_edu_phys_attach(struct dma_buf *dmabuf,
				  struct dma_buf_attachment *attach)
{
	return attach->peer2peer ? 0 : -EOPNOTSUPP;
}

/* MMIO does not move: nothing to pin */
static int p2pdma_edu_phys_pin(struct dma_buf_attachment *attach)
{
	return 0;
}

static void p2pdma_edu_phys_unpin(struct dma_buf_attachment *attach)
{
}

static struct sg_table *p2pdma_edu_phys_map(struct dma_buf_attachment *attach,
					    enum dma_data_direction dir)
{
	struct p2pdma_edu_phys *ph = attach->dmabuf->priv;

	return dma_buf_phys_vec_to_sgt(attach, ph->provider, ph->ranges,
				       ph->nr_ranges, attach->dmabuf->size,
				       dir);
}

static void p2pdma_edu_phys_unmap(struct dma_buf_attachment *attach,
				  struct sg_table *sgt,
				  enum dma_data_direction dir)
{
	dma_buf_free_sgt(attach, sgt, dir);
}

static void p2pdma_edu_phys_release(struct dma_buf *dmabuf)
{
	kfree(dmabuf->priv);
}

static const struct dma_buf_ops p2pdma_edu_phys_ops = {
	.attach = p2pdma_edu_phys_attach,
	.pin = p2pdma_edu_phys_pin,
	.unpin = p2pdma_edu_phys_unpin,
	.map_dma_buf = p2pdma_edu_phys_map,
	.unmap_dma_buf = p2pdma_edu_phys_unmap,
	.release = p2pdma_edu_phys_release,
};

/* The exporter never moves the BAR, so it never calls this */
static void p2pdma_edu_phys_move_notify(struct dma_buf_attachment *attach)
{
}

static const struct dma_buf_attach_ops p2pdma_edu_phys_importer_ops = {
	.allow_peer2peer = true,
	.move_notify = p2pdma_edu_phys_move_notify,
};

/*
 * Export @nr ranges of @bar of @prov, whose .paddr are BAR offsets, and
 * attach @dev to the dma-buf.  Returns the attachment, which holds the only
 * reference to the dma-buf.  Called between p2pdma_edu_phys_get() and
 * p2pdma_edu_phys_put().
 */
static struct dma_buf_attachment *
p2pdma_edu_phys_attach_new(struct p2pdma_edu *prov, unsigned int bar,
			   const struct dma_buf_phys_vec *ranges,
			   unsigned int nr, struct device *dev)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp);
	struct dma_buf_attachment *attach;
	struct p2pdma_edu_phys *ph;
	struct dma_buf *dmabuf;
	unsigned int i;

	ph = kzalloc(struct_size(ph, ranges, nr), GFP_KERNEL);
	if (!ph)
		return ERR_PTR(-ENOMEM);
	ph->nr_ranges = nr;
	ph->provider = prov->providers[bar];
	for (i = 0; i < nr; i++) {
		if (!p2pdma_edu_in_bar(prov, bar, ranges[i].paddr,
				       ranges[i].len)) {
			kfree(ph);
			return ERR_PTR(-EINVAL);
		}
		ph->ranges[i].paddr = pci_resource_start(prov->pdev, bar) +
				      ranges[i].paddr;
		ph->ranges[i].len = ranges[i].len;
		exp.size += ranges[i].len;
	}
	exp.ops = &p2pdma_edu_phys_ops;
	exp.flags = O_RDWR;
	exp.priv = ph;
	dmabuf = dma_buf_export(&exp);
	if (IS_ERR(dmabuf)) {
		kfree(ph);
		return ERR_CAST(dmabuf);
	}
	attach = dma_buf_dynamic_attach(dmabuf, dev,
					&p2pdma_edu_phys_importer_ops, NULL);
	/* the attachment keeps the dma-buf until it is detached */
	if (IS_ERR(attach))
		dma_buf_put(dmabuf);
	return attach;
}

static void p2pdma_edu_phys_detach(struct dma_buf_attachment *attach)
{
	struct dma_buf *dmabuf = attach->dmabuf;

	dma_buf_detach(dmabuf, attach);
	dma_buf_put(dmabuf);
}

/*
 * The reservation lock of a dma-buf nests outside p2pdma_edu_devices_lock:
 * the importer paths look edu up while holding one.  Mapping through the
 * dma-buf core therefore cannot hold p2pdma_edu_devices_lock; it holds the
 * provider's device lock instead, which keeps the provider bound, and a
 * reference on the importer.  Returns the provider with its device locked
 * and sets *@imp_dev, or NULL; undone by p2pdma_edu_phys_put().
 */
static struct p2pdma_edu *p2pdma_edu_phys_get(u32 provider, unsigned int bar,
					      u32 importer,
					      struct device **imp_dev)
{
	struct p2pdma_edu *prov, *imp;
	struct pci_dev *pdev = NULL;

	mutex_lock(&p2pdma_edu_devices_lock);
	prov = p2pdma_edu_find(provider, false);
	if (prov)
		pdev = pci_dev_get(prov->pdev);
	mutex_unlock(&p2pdma_edu_devices_lock);
	if (!pdev)
		return NULL;

	device_lock(&pdev->dev);
	mutex_lock(&p2pdma_edu_devices_lock);
	prov = p2pdma_edu_find(provider, false);
	imp = p2pdma_edu_find(importer, true);
	if (prov && prov->pdev == pdev && prov->providers[bar] && imp)
		*imp_dev = get_device(&imp->pdev->dev);
	else
		prov = NULL;
	mutex_unlock(&p2pdma_edu_devices_lock);
	if (!prov) {
		device_unlock(&pdev->dev);
		pci_dev_put(pdev);
	}
	return prov;
}

static void p2pdma_edu_phys_put(struct p2pdma_edu *prov,
				struct device *imp_dev)
{
	struct pci_dev *pdev = prov->pdev;

	device_unlock(&pdev->dev);
	pci_dev_put(pdev);
	put_device(imp_dev);
}

static void p2pdma_edu_unmap(struct p2pdma_edu_mapping *m)
{
	if (m->attach) {
		dma_buf_unmap_attachment_unlocked(m->attach, m->sgt,
						  DMA_BIDIRECTIONAL);
		p2pdma_edu_phys_detach(m->attach);
	} else {
		dma_unmap_p2p(m->dev, &m->map, DMA_BIDIRECTIONAL, 0);
	}
	put_device(m->dev);
	kfree(m);
}

static long p2pdma_edu_ioctl_map_ranges(struct p2pdma_edu_file *f,
					void __user *arg)
{
	struct dma_buf_phys_vec ranges[P2PDMA_EDU_MAX_RANGES];
	struct p2pdma_edu_map_ranges *req;
	struct p2pdma_edu_mapping *m;
	struct p2pdma_edu *prov;
	struct device *imp_dev;
	struct scatterlist *sg;
	unsigned int i;
	int ret;

	req = memdup_user(arg, sizeof(*req));
	if (IS_ERR(req))
		return PTR_ERR(req);
	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m) {
		ret = -ENOMEM;
		goto out_free_req;
	}
	if (req->bar >= PCI_STD_NUM_BARS || !req->nr_ranges ||
	    req->nr_ranges > P2PDMA_EDU_MAX_RANGES) {
		ret = -EINVAL;
		goto out_free;
	}
	for (i = 0; i < req->nr_ranges; i++) {
		ranges[i].paddr = req->ranges[i].offset;
		ranges[i].len = req->ranges[i].length;
	}

	prov = p2pdma_edu_phys_get(req->provider, req->bar, req->importer,
				   &imp_dev);
	if (!prov) {
		ret = -ENODEV;
		goto out_free;
	}
	m->attach = p2pdma_edu_phys_attach_new(prov, req->bar, ranges,
					       req->nr_ranges, imp_dev);
	if (IS_ERR(m->attach)) {
		ret = PTR_ERR(m->attach);
		p2pdma_edu_phys_put(prov, imp_dev);
		goto out_free;
	}
	m->sgt = dma_buf_map_attachment_unlocked(m->attach, DMA_BIDIRECTIONAL);
	if (IS_ERR(m->sgt)) {
		ret = PTR_ERR(m->sgt);
		p2pdma_edu_phys_detach(m->attach);
		p2pdma_edu_phys_put(prov, imp_dev);
		goto out_free;
	}
	/* the mapping's reference on the importer */
	m->dev = get_device(imp_dev);
	p2pdma_edu_phys_put(prov, imp_dev);

	req->nents = m->sgt->nents;
	for_each_sgtable_dma_sg(m->sgt, sg, i) {
		if (i == P2PDMA_EDU_MAX_SEGS)
			break;
		req->segs[i].addr = sg_dma_address(sg);
		req->segs[i].len = sg_dma_len(sg);
	}
	ret = xa_alloc(&f->maps, &req->handle, m, xa_limit_32b, GFP_KERNEL);
	if (ret) {
		p2pdma_edu_unmap(m);
		goto out_free_req;
	}
	if (copy_to_user(arg, req, sizeof(*req))) {
		p2pdma_edu_unmap(xa_erase(&f->maps, req->handle));
		ret = -EFAULT;
	}
	goto out_free_req;

out_free:
	kfree(m);
out_free_req:
	kfree(req);
	return ret;
}

/*
 * vfio-pci names its dma-bufs "<PCI device> bar<n>": find the provider
 * from that, before the import can get a move_notify.  The name is only
 * a hint (DMA_BUF_SET_NAME can change it, and vfio-pci does without one
 * if it cannot allocate it): the tests that look at the provider rename
 * nothing and fail if it was not found.
 */
static void p2pdma_edu_watch_init(struct p2pdma_edu_watch *w,
				  struct dma_buf *dmabuf)
{
	char name[32] = "";
	struct device *dev;
	int bar;

	if (!dmabuf->exp_name || strcmp(dmabuf->exp_name, "vfio-pci"))
		return;
	spin_lock(&dmabuf->name_lock);
	if (dmabuf->name)
		sscanf(dmabuf->name, "%31s", name);
	spin_unlock(&dmabuf->name_lock);
	dev = bus_find_device_by_name(&pci_bus_type, NULL, name);
	if (!dev)
		return;
	w->pdev = to_pci_dev(dev);
	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++)
		if (pci_resource_flags(w->pdev, bar) & IORESOURCE_MEM)
			break;
	if (bar < PCI_STD_NUM_BARS &&
	    pci_resource_len(w->pdev, bar) >= sizeof(u32))
		w->reg0 = pci_iomap_range(w->pdev, bar, 0, sizeof(u32));
}

static void p2pdma_edu_watch_release(struct p2pdma_edu_watch *w)
{
	if (w->reg0)
		pci_iounmap(w->pdev, w->reg0);
	pci_dev_put(w->pdev);
}

/* Called from move_notify (resv lock held), the @n-th, counted from 1. */
static void p2pdma_edu_watch_record(struct p2pdma_edu_watch *w, u32 n)
{
	struct p2pdma_edu_seen *s = &w->seen[(n - 1) % P2PDMA_EDU_SEEN_MAX];
	struct pci_dev *pdev = w->pdev;
	u16 cmd = 0, pmcsr = 0;

	memset(s, 0, sizeof(*s));
	s->valid = 1;
	if (!pdev)
		return;
	s->provider = 1;
	s->present = pci_device_is_present(pdev);
	s->enabled = pci_is_enabled(pdev);
	if (!s->present)
		return;
	pci_read_config_word(pdev, PCI_COMMAND, &cmd);
	s->decode = !!(cmd & PCI_COMMAND_MEMORY);
	if (pdev->pm_cap)
		pci_read_config_word(pdev, pdev->pm_cap + PCI_PM_CTRL, &pmcsr);
	s->d0 = (pmcsr & PCI_PM_CTRL_STATE_MASK) == 0;
	if (s->decode && s->d0 && w->reg0)
		s->reg0 = readl(w->reg0);
}

/* What the @index-th move_notify saw, if it is one of the last ones */
static void p2pdma_edu_watch_seen(const struct p2pdma_edu_watch *w, u32 n,
				  u32 index, struct p2pdma_edu_seen *out)
{
	memset(out, 0, sizeof(*out));
	if (index && index <= n && n - index < P2PDMA_EDU_SEEN_MAX)
		*out = w->seen[(index - 1) % P2PDMA_EDU_SEEN_MAX];
}

static void p2pdma_edu_import_move_notify(struct dma_buf_attachment *attach)
{
	struct p2pdma_edu_attachment *imp = attach->importer_priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	imp->move_notify++;
	p2pdma_edu_watch_record(&imp->watch, imp->move_notify);
	/*
	 * Like an importer that stops its engine and unmaps from a worker
	 * (6.12's contract allows it: a mapping stays valid until unmapped)
	 */
	if (imp->late_unmap && imp->sgt) {
		schedule_delayed_work(&imp->unmap_work,
				      msecs_to_jiffies(P2PDMA_EDU_LATE_UNMAP_MS));
		return;
	}
	/* Like an RDMA driver: zap the translation, unmap, fault in later */
	if (imp->sgt) {
		dma_buf_unmap_attachment(attach, imp->sgt, DMA_BIDIRECTIONAL);
		imp->sgt = NULL;
	}
	/* Like ib_umem_dmabuf_revoke_locked(): a revoked pin is gone for good */
	if (imp->pinned) {
		dma_buf_unpin(attach);
		imp->pinned = false;
		imp->revoked = true;
	}
}

static const struct dma_buf_attach_ops p2pdma_edu_dynamic_ops = {
	.allow_peer2peer = true,
	.move_notify = p2pdma_edu_import_move_notify,
};

static const struct dma_buf_attach_ops p2pdma_edu_revocable_ops = {
	.allow_peer2peer = true,
	.move_notify = p2pdma_edu_import_move_notify,
	.revocable = true,
};

static const struct dma_buf_attach_ops p2pdma_edu_no_p2p_ops = {
	.move_notify = p2pdma_edu_import_move_notify,
};

/* Called with the resv lock held. */
static int p2pdma_edu_import_map_locked(struct p2pdma_edu_attachment *imp)
{
	struct sg_table *sgt;

	if (imp->sgt)
		return 0;
	if (imp->revoked)
		sgt = ERR_PTR(-ENODEV);
	else
		sgt = dma_buf_map_attachment(imp->attach, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt)) {
		imp->map_errors++;
		imp->last_error = -PTR_ERR(sgt);
		return PTR_ERR(sgt);
	}
	imp->sgt = sgt;
	imp->maps++;
	return 0;
}

static void p2pdma_edu_import_unmap_locked(struct p2pdma_edu_attachment *imp)
{
	if (imp->sgt) {
		dma_buf_unmap_attachment(imp->attach, imp->sgt,
					 DMA_BIDIRECTIONAL);
		imp->sgt = NULL;
	}
}

static const char *p2pdma_edu_fence_name(struct dma_fence *fence)
{
	return KBUILD_MODNAME;
}

static const struct dma_fence_ops p2pdma_edu_fence_ops = {
	.get_driver_name = p2pdma_edu_fence_name,
	.get_timeline_name = p2pdma_edu_fence_name,
};

static void p2pdma_edu_fence_work(struct work_struct *work)
{
	struct p2pdma_edu_attachment *imp =
		container_of(work, struct p2pdma_edu_attachment,
			     fence_work.work);
	struct dma_fence *fence = xchg(&imp->fence, NULL);

	if (fence) {
		/* Counted first: whoever waited for the fence sees the count */
		atomic_inc(&imp->fences_signalled);
		dma_fence_signal(fence);
		dma_fence_put(fence);
	}
}

static long p2pdma_edu_ioctl_import_fence(struct p2pdma_edu_attachment *imp,
					  void __user *arg)
{
	struct p2pdma_edu_import_fence req;
	struct dma_fence *fence;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (!req.delay_ms || req.delay_ms > 10000)
		return -EINVAL;
	if (READ_ONCE(imp->fence))
		return -EBUSY;
	fence = kzalloc(sizeof(*fence), GFP_KERNEL);
	if (!fence)
		return -ENOMEM;
	dma_fence_init(fence, &p2pdma_edu_fence_ops, &imp->fence_lock,
		       imp->fence_context, ++imp->fence_seqno);

	dma_resv_lock(imp->dmabuf->resv, NULL);
	ret = dma_resv_reserve_fences(imp->dmabuf->resv, 1);
	if (!ret)
		dma_resv_add_fence(imp->dmabuf->resv, fence,
				   DMA_RESV_USAGE_BOOKKEEP);
	dma_resv_unlock(imp->dmabuf->resv);
	if (ret) {
		dma_fence_put(fence);
		return ret;
	}
	imp->fence = fence;
	schedule_delayed_work(&imp->fence_work, msecs_to_jiffies(req.delay_ms));
	return 0;
}

static void p2pdma_edu_unmap_work(struct work_struct *work)
{
	struct p2pdma_edu_attachment *imp =
		container_of(work, struct p2pdma_edu_attachment,
			     unmap_work.work);

	dma_resv_lock(imp->dmabuf->resv, NULL);
	p2pdma_edu_import_unmap_locked(imp);
	dma_resv_unlock(imp->dmabuf->resv);
}

static void p2pdma_edu_import_free(struct p2pdma_edu_attachment *imp)
{
	struct dma_buf *dmabuf = imp->dmabuf;

	/* Signal a pending fence now rather than leave it to the work */
	if (cancel_delayed_work_sync(&imp->fence_work))
		p2pdma_edu_fence_work(&imp->fence_work.work);

	dma_resv_lock(dmabuf->resv, NULL);
	p2pdma_edu_import_unmap_locked(imp);
	if (imp->pinned)
		dma_buf_unpin(imp->attach);
	dma_resv_unlock(dmabuf->resv);
	dma_buf_detach(dmabuf, imp->attach);
	/*
	 * No move_notify after the detach can arm it again; it needs the
	 * dma-buf, and finds nothing mapped
	 */
	cancel_delayed_work_sync(&imp->unmap_work);
	dma_buf_put(dmabuf);
	p2pdma_edu_watch_release(&imp->watch);
	pci_dev_put(imp->pdev);
	kfree(imp);
}

static void p2pdma_edu_probe_move_notify(struct dma_buf_attachment *attach)
{
}

static const struct dma_buf_attach_ops p2pdma_edu_probe_ops = {
	.allow_peer2peer = true,
	.move_notify = p2pdma_edu_probe_move_notify,
};

/* Attach as a device that is not on PCI, and detach: the exporter's answer */
static long p2pdma_edu_attach_non_pci(int fd)
{
	struct dma_buf_attachment *attach;
	struct dma_buf *dmabuf;
	long ret = 0;

	dmabuf = dma_buf_get(fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	attach = dma_buf_dynamic_attach(dmabuf, p2pdma_edu_misc.this_device,
					&p2pdma_edu_probe_ops, NULL);
	if (IS_ERR(attach))
		ret = PTR_ERR(attach);
	else
		dma_buf_detach(dmabuf, attach);
	dma_buf_put(dmabuf);
	return ret;
}

static long p2pdma_edu_ioctl_import(struct p2pdma_edu_file *f,
				    void __user *arg)
{
	const struct dma_buf_attach_ops *ops = &p2pdma_edu_dynamic_ops;
	struct p2pdma_edu_import req;
	struct p2pdma_edu_attachment *imp;
	struct p2pdma_edu *edu;
	u32 handle;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags & ~(P2PDMA_EDU_IMPORT_STATIC | P2PDMA_EDU_IMPORT_PIN |
			  P2PDMA_EDU_IMPORT_REVOCABLE |
			  P2PDMA_EDU_IMPORT_NO_P2P |
			  P2PDMA_EDU_IMPORT_LATE_UNMAP))
		return -EINVAL;
	if (req.importer == P2PDMA_EDU_NON_PCI)
		return req.flags ? -EINVAL : p2pdma_edu_attach_non_pci(req.fd);

	imp = kzalloc(sizeof(*imp), GFP_KERNEL);
	if (!imp)
		return -ENOMEM;
	spin_lock_init(&imp->fence_lock);
	imp->fence_context = dma_fence_context_alloc(1);
	INIT_DELAYED_WORK(&imp->fence_work, p2pdma_edu_fence_work);
	INIT_DELAYED_WORK(&imp->unmap_work, p2pdma_edu_unmap_work);
	imp->late_unmap = req.flags & P2PDMA_EDU_IMPORT_LATE_UNMAP;

	mutex_lock(&p2pdma_edu_devices_lock);
	edu = p2pdma_edu_find(req.importer, true);
	if (edu)
		imp->pdev = pci_dev_get(edu->pdev);
	mutex_unlock(&p2pdma_edu_devices_lock);
	if (!imp->pdev) {
		ret = -ENODEV;
		goto err_free;
	}

	imp->dmabuf = dma_buf_get(req.fd);
	if (IS_ERR(imp->dmabuf)) {
		ret = PTR_ERR(imp->dmabuf);
		goto err_free;
	}
	p2pdma_edu_watch_init(&imp->watch, imp->dmabuf);

	if (req.flags & P2PDMA_EDU_IMPORT_NO_P2P)
		ops = &p2pdma_edu_no_p2p_ops;
	else if (req.flags & P2PDMA_EDU_IMPORT_REVOCABLE)
		ops = &p2pdma_edu_revocable_ops;
	if (req.flags & P2PDMA_EDU_IMPORT_STATIC)
		imp->attach = dma_buf_attach(imp->dmabuf, &imp->pdev->dev);
	else
		imp->attach = dma_buf_dynamic_attach(imp->dmabuf,
						     &imp->pdev->dev, ops, imp);
	if (IS_ERR(imp->attach)) {
		ret = PTR_ERR(imp->attach);
		goto err_put;
	}

	if (req.flags & P2PDMA_EDU_IMPORT_PIN) {
		dma_resv_lock(imp->dmabuf->resv, NULL);
		ret = dma_buf_pin(imp->attach);
		dma_resv_unlock(imp->dmabuf->resv);
		if (ret)
			goto err_detach;
		imp->pinned = true;
	}

	ret = xa_alloc(&f->imports, &handle, imp, xa_limit_32b, GFP_KERNEL);
	if (ret)
		goto err_unpin;
	req.handle = handle;
	req.size = imp->dmabuf->size;
	if (copy_to_user(arg, &req, sizeof(req))) {
		xa_erase(&f->imports, handle);
		p2pdma_edu_import_free(imp);
		return -EFAULT;
	}
	return 0;

err_unpin:
	if (imp->pinned) {
		dma_resv_lock(imp->dmabuf->resv, NULL);
		dma_buf_unpin(imp->attach);
		dma_resv_unlock(imp->dmabuf->resv);
	}
err_detach:
	dma_buf_detach(imp->dmabuf, imp->attach);
err_put:
	dma_buf_put(imp->dmabuf);
	p2pdma_edu_watch_release(&imp->watch);
err_free:
	pci_dev_put(imp->pdev);
	kfree(imp);
	return ret;
}

static long p2pdma_edu_ioctl_import_map(struct p2pdma_edu_attachment *imp,
					void __user *arg)
{
	struct p2pdma_edu_import_map *m;
	struct scatterlist *sg;
	int ret, i;

	m = kzalloc(sizeof(*m), GFP_KERNEL);
	if (!m)
		return -ENOMEM;
	if (copy_from_user(m, arg, sizeof(m->handle))) {
		ret = -EFAULT;
		goto out;
	}
	dma_resv_lock(imp->dmabuf->resv, NULL);
	ret = p2pdma_edu_import_map_locked(imp);
	if (!ret) {
		m->nents = imp->sgt->nents;
		for_each_sgtable_dma_sg(imp->sgt, sg, i) {
			if (i == P2PDMA_EDU_MAX_SEGS)
				break;
			m->segs[i].addr = sg_dma_address(sg);
			m->segs[i].len = sg_dma_len(sg);
		}
	}
	dma_resv_unlock(imp->dmabuf->resv);
	if (!ret && copy_to_user(arg, m, sizeof(*m)))
		ret = -EFAULT;
out:
	kfree(m);
	return ret;
}

/*
 * DMA through the imported dma-buf: translate @d->offset with the sg table
 * and run edu segment by segment, all under the resv lock so that a
 * move_notify cannot complete while the engine uses the mapping.
 */
static long p2pdma_edu_ioctl_import_dma(struct p2pdma_edu_attachment *imp,
					void __user *arg)
{
	struct p2pdma_edu_import_dma req;
	struct scatterlist *sg;
	struct p2pdma_edu *edu;
	u64 offset, done = 0;
	u8 *buf;
	int ret, i;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.offset >= imp->dmabuf->size ||
	    req.length > imp->dmabuf->size - req.offset)
		return -EINVAL;
	/* No user memory access under the resv lock (mmap_lock nests outside) */
	buf = p2pdma_edu_get_buf(req.user_buf, req.length, req.to_device);
	if (IS_ERR(buf))
		return PTR_ERR(buf);

	dma_resv_lock(imp->dmabuf->resv, NULL);
	ret = p2pdma_edu_import_map_locked(imp);
	if (ret)
		goto out_unlock;

	mutex_lock(&p2pdma_edu_devices_lock);
	edu = p2pdma_edu_find(p2pdma_edu_addr(imp->pdev), true);
	if (!edu) {
		ret = -ENODEV;
		goto out_devices;
	}
	offset = req.offset;
	for_each_sgtable_dma_sg(imp->sgt, sg, i) {
		u64 len = sg_dma_len(sg);

		if (offset >= len) {
			offset -= len;
			continue;
		}
		len = min(len - offset, req.length - done);
		ret = p2pdma_edu_xfer(edu, req.to_device,
				      sg_dma_address(sg) + offset, buf + done,
				      len);
		if (ret)
			break;
		done += len;
		offset = 0;
		if (done == req.length)
			break;
	}
	if (!ret && done != req.length)
		ret = -EIO;
out_devices:
	mutex_unlock(&p2pdma_edu_devices_lock);
out_unlock:
	dma_resv_unlock(imp->dmabuf->resv);
	return p2pdma_edu_put_buf(buf, req.user_buf, req.length,
				  req.to_device, ret);
}

static long p2pdma_edu_ioctl_import_info(struct p2pdma_edu_attachment *imp,
					 void __user *arg)
{
	struct p2pdma_edu_import_info __user *uinfo = arg;
	struct p2pdma_edu_import_info info = {};
	u32 index;

	if (get_user(info.handle, &uinfo->handle) ||
	    get_user(index, &uinfo->seen_index))
		return -EFAULT;
	dma_resv_lock(imp->dmabuf->resv, NULL);
	info.mapped = !!imp->sgt;
	info.move_notify = imp->move_notify;
	info.seen_index = index;
	p2pdma_edu_watch_seen(&imp->watch, imp->move_notify, index, &info.seen);
	info.maps = imp->maps;
	info.map_errors = imp->map_errors;
	info.last_error = imp->last_error;
	dma_resv_unlock(imp->dmabuf->resv);
	info.fences_signalled = atomic_read(&imp->fences_signalled);
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long p2pdma_edu_ioctl_import_op(struct p2pdma_edu_file *f,
				       unsigned int cmd, void __user *arg)
{
	struct p2pdma_edu_attachment *imp;
	u32 handle;
	long ret;

	if (get_user(handle, (u32 __user *)arg))
		return -EFAULT;

	mutex_lock(&f->imports_lock);
	imp = xa_load(&f->imports, handle);
	if (!imp) {
		ret = -ENOENT;
		goto out;
	}
	switch (cmd) {
	case P2PDMA_EDU_IMPORT_CLOSE:
		xa_erase(&f->imports, handle);
		p2pdma_edu_import_free(imp);
		ret = 0;
		break;
	case P2PDMA_EDU_IMPORT_MAP:
		ret = p2pdma_edu_ioctl_import_map(imp, arg);
		break;
	case P2PDMA_EDU_IMPORT_UNMAP:
		dma_resv_lock(imp->dmabuf->resv, NULL);
		p2pdma_edu_import_unmap_locked(imp);
		dma_resv_unlock(imp->dmabuf->resv);
		ret = 0;
		break;
	case P2PDMA_EDU_IMPORT_DMA:
		ret = p2pdma_edu_ioctl_import_dma(imp, arg);
		break;
	case P2PDMA_EDU_IMPORT_FENCE:
		ret = p2pdma_edu_ioctl_import_fence(imp, arg);
		break;
	default:
		ret = p2pdma_edu_ioctl_import_info(imp, arg);
		break;
	}
out:
	mutex_unlock(&f->imports_lock);
	return ret;
}

/*
 * The stand-in HCA: a struct ib_device of the RDMA core with edu as its
 * DMA device, never registered, whose dma-buf MRs work the way mlx5's do.
 * The umem comes from ib_umem_dmabuf_get(); under the resv lock the HCA
 * maps it, picks the block size with ib_umem_find_best_pgsz() and writes
 * one DMA address per block into its translation table (mlx5's MTT).
 * move_notify zaps the table and unmaps; the next access faults the
 * mapping in again or fails.
 *
 * Like an mkey, an MR keeps the block size it got at registration: a
 * later mapping that the block size does not fit fails the fault with
 * -EINVAL.  (mlx5 registers dynamic dma-buf MRs with PAGE_SIZE blocks for
 * that reason; this HCA takes the best size the first mapping allows, to
 * show what a P2P range gives.)
 *
 * @table, @entries, @page_size and the counters are protected by the
 * dma-buf's resv lock.  @page_size is 0 until the first mapping.
 */
struct p2pdma_edu_mr {
	struct pci_dev *pdev;		/* the edu importer, referenced */
	struct ib_device *ibdev;	/* its struct device referenced */
	struct ib_umem_dmabuf *umem_dmabuf;
	u64 iova;
	u64 length;
	unsigned long pgsz_bitmap;
	size_t umem_pages;
	bool pinned;
	u64 *table;
	size_t entries;
	unsigned long page_size;	/* block size, fixed by the first map */
	u32 invalidations;
	u32 faults;
	u32 fault_errors;
	int last_error;
	struct p2pdma_edu_watch watch;
};

static struct dma_resv *p2pdma_edu_mr_resv(struct p2pdma_edu_mr *mr)
{
	return mr->umem_dmabuf->attach->dmabuf->resv;
}

/* Called with the resv lock held: the device stops using the mapping. */
static void p2pdma_edu_mr_zap(struct p2pdma_edu_mr *mr)
{
	kvfree(mr->table);
	mr->table = NULL;
	mr->entries = 0;
}

/* Called with the resv lock held and the umem mapped. */
static int p2pdma_edu_mr_build(struct p2pdma_edu_mr *mr)
{
	struct ib_umem *umem = &mr->umem_dmabuf->umem;
	struct ib_block_iter biter;
	unsigned long pgsz;
	size_t n, i = 0;
	u64 *table;

	pgsz = ib_umem_find_best_pgsz(umem, mr->page_size ?: mr->pgsz_bitmap,
				      mr->iova);
	if (!pgsz)
		return -EINVAL;
	n = ib_umem_num_dma_blocks(umem, pgsz);
	table = kvcalloc(n, sizeof(*table), GFP_KERNEL | __GFP_NOWARN);
	if (!table)
		return -ENOMEM;
	rdma_umem_for_each_dma_block(umem, &biter, pgsz) {
		if (i == n)
			break;
		table[i++] = rdma_block_iter_dma_address(&biter);
	}
	if (i != n) {
		kvfree(table);
		return -EIO;
	}
	mr->table = table;
	mr->entries = n;
	mr->page_size = pgsz;
	return 0;
}

/*
 * Called with the resv lock held: make the translation valid, mapping the
 * umem if a move_notify unmapped it.  This is the HCA's page fault.
 */
static int p2pdma_edu_mr_fault_locked(struct p2pdma_edu_mr *mr)
{
	int ret;

	if (mr->table)
		return 0;
	/* -ENODEV while revoked, by the exporter or (pinned) for good */
	ret = ib_umem_dmabuf_map_pages(mr->umem_dmabuf);
	if (!ret) {
		ret = p2pdma_edu_mr_build(mr);
		if (ret && !mr->pinned)
			ib_umem_dmabuf_unmap_pages(mr->umem_dmabuf);
	}
	if (ret) {
		mr->fault_errors++;
		mr->last_error = -ret;
		return ret;
	}
	mr->faults++;
	return 0;
}

/* move_notify of a dynamic MR, as mlx5_ib_dmabuf_invalidate_cb() */
static void p2pdma_edu_mr_invalidate(struct dma_buf_attachment *attach)
{
	struct ib_umem_dmabuf *umem_dmabuf = attach->importer_priv;
	struct p2pdma_edu_mr *mr = umem_dmabuf->private;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (!mr)
		return;
	mr->invalidations++;
	p2pdma_edu_watch_record(&mr->watch, mr->invalidations);
	p2pdma_edu_mr_zap(mr);
	ib_umem_dmabuf_unmap_pages(umem_dmabuf);
}

static const struct dma_buf_attach_ops p2pdma_edu_mr_ops = {
	.allow_peer2peer = true,
	.move_notify = p2pdma_edu_mr_invalidate,
};

/* Revoke callback of a pinned revocable MR; the core unmaps and unpins. */
static void p2pdma_edu_mr_revoke(void *priv)
{
	struct p2pdma_edu_mr *mr = priv;

	mr->invalidations++;
	p2pdma_edu_watch_record(&mr->watch, mr->invalidations);
	p2pdma_edu_mr_zap(mr);
}

static void p2pdma_edu_mr_free(struct p2pdma_edu_mr *mr)
{
	/* Serialised with move_notify; calls the revoke callback if pinned */
	if (mr->umem_dmabuf)
		ib_umem_release(&mr->umem_dmabuf->umem);
	kvfree(mr->table);
	p2pdma_edu_watch_release(&mr->watch);
	put_device(&mr->ibdev->dev);
	pci_dev_put(mr->pdev);
	kfree(mr);
}

static int p2pdma_edu_mr_get_umem(struct p2pdma_edu_mr *mr,
				  const struct p2pdma_edu_reg_mr *req)
{
	int access = IB_ACCESS_LOCAL_WRITE | IB_ACCESS_REMOTE_WRITE |
		     IB_ACCESS_REMOTE_READ;
	struct ib_umem_dmabuf *umem_dmabuf;
	int ret;

	if (req->flags & P2PDMA_EDU_MR_PINNED_REVOCABLE) {
		unsigned long off = req->offset;
		size_t len = req->length;

		umem_dmabuf = ib_umem_dmabuf_get_pinned_revocable_and_lock(mr->ibdev,
									   off, len,
									   req->fd,
									   access);
		if (IS_ERR(umem_dmabuf))
			return PTR_ERR(umem_dmabuf);
		ib_umem_dmabuf_set_revoke_locked(umem_dmabuf,
						 p2pdma_edu_mr_revoke, mr);
	} else if (req->flags & P2PDMA_EDU_MR_PINNED) {
		umem_dmabuf = ib_umem_dmabuf_get_pinned(mr->ibdev, req->offset,
							req->length, req->fd,
							access);
		if (IS_ERR(umem_dmabuf))
			return PTR_ERR(umem_dmabuf);
		dma_resv_lock(umem_dmabuf->attach->dmabuf->resv, NULL);
	} else {
		umem_dmabuf = ib_umem_dmabuf_get(mr->ibdev, req->offset,
						 req->length, req->fd, access,
						 &p2pdma_edu_mr_ops);
		if (IS_ERR(umem_dmabuf))
			return PTR_ERR(umem_dmabuf);
		dma_resv_lock(umem_dmabuf->attach->dmabuf->resv, NULL);
		umem_dmabuf->private = mr;
	}
	mr->umem_dmabuf = umem_dmabuf;
	/* Under the resv lock: before any invalidation */
	p2pdma_edu_watch_init(&mr->watch, umem_dmabuf->attach->dmabuf);
	/* What a driver sizing its table before the first mapping sees */
	mr->umem_pages = ib_umem_num_pages(&umem_dmabuf->umem);
	/* A pinned umem is mapped already: this only builds the table */
	ret = p2pdma_edu_mr_fault_locked(mr);
	dma_resv_unlock(umem_dmabuf->attach->dmabuf->resv);
	return ret;
}

/* An MR of the stand-in HCA of edu @req->importer, before its umem */
static struct p2pdma_edu_mr *
p2pdma_edu_mr_alloc(const struct p2pdma_edu_reg_mr *req)
{
	struct p2pdma_edu_mr *mr;
	struct p2pdma_edu *edu;

	mr = kzalloc(sizeof(*mr), GFP_KERNEL);
	if (!mr)
		return ERR_PTR(-ENOMEM);
	mr->iova = req->iova;
	mr->length = req->length;
	mr->pgsz_bitmap = req->pgsz_bitmap;
	mr->pinned = !!req->flags;

	mutex_lock(&p2pdma_edu_devices_lock);
	edu = p2pdma_edu_find(req->importer, true);
	if (edu) {
		mr->pdev = pci_dev_get(edu->pdev);
		mr->ibdev = edu->ibdev;
		get_device(&mr->ibdev->dev);
	}
	mutex_unlock(&p2pdma_edu_devices_lock);
	if (!edu) {
		kfree(mr);
		return ERR_PTR(-ENODEV);
	}
	return mr;
}

static long p2pdma_edu_ioctl_reg_mr(struct p2pdma_edu_file *f,
				    void __user *arg)
{
	struct p2pdma_edu_reg_mr req;
	struct p2pdma_edu_mr *mr;
	u32 handle;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.flags & ~(P2PDMA_EDU_MR_PINNED |
			  P2PDMA_EDU_MR_PINNED_REVOCABLE) ||
	    hweight32(req.flags) > 1)
		return -EINVAL;
	if (!req.pgsz_bitmap)
		req.pgsz_bitmap = P2PDMA_EDU_MR_PGSZ_DEFAULT;
	if (!(req.pgsz_bitmap & SZ_4K) || req.pgsz_bitmap & (SZ_4K - 1))
		return -EINVAL;
	/* As uverbs for ibv_reg_dmabuf_mr() */
	if ((req.offset ^ req.iova) & ~PAGE_MASK)
		return -EINVAL;

	mr = p2pdma_edu_mr_alloc(&req);
	if (IS_ERR(mr))
		return PTR_ERR(mr);
	ret = p2pdma_edu_mr_get_umem(mr, &req);
	if (ret)
		goto err_free;
	ret = xa_alloc(&f->mrs, &handle, mr, xa_limit_32b, GFP_KERNEL);
	if (ret)
		goto err_free;

	dma_resv_lock(p2pdma_edu_mr_resv(mr), NULL);
	req.handle = handle;
	req.page_size = mr->page_size;
	req.entries = mr->entries;
	req.umem_pages = mr->umem_pages;
	dma_resv_unlock(p2pdma_edu_mr_resv(mr));
	if (copy_to_user(arg, &req, sizeof(req))) {
		xa_erase(&f->mrs, handle);
		ret = -EFAULT;
		goto err_free;
	}
	return 0;

err_free:
	p2pdma_edu_mr_free(mr);
	return ret;
}

/*
 * An RDMA write or read: translate each block of the range with the table
 * and have edu DMA to it, all under the resv lock so that move_notify
 * waits for the transfer, as it waits for an HCA's zap to complete.
 */
static long p2pdma_edu_ioctl_mr_access(struct p2pdma_edu_mr *mr,
				       void __user *arg)
{
	struct p2pdma_edu_mr_access req;
	struct p2pdma_edu *edu;
	u64 done = 0;
	u8 *buf;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.iova < mr->iova || req.iova - mr->iova > mr->length ||
	    req.length > mr->length - (req.iova - mr->iova))
		return -EINVAL;
	buf = p2pdma_edu_get_buf(req.user_buf, req.length, req.write);
	if (IS_ERR(buf))
		return PTR_ERR(buf);

	dma_resv_lock(p2pdma_edu_mr_resv(mr), NULL);
	ret = p2pdma_edu_mr_fault_locked(mr);
	if (ret)
		goto out_unlock;

	mutex_lock(&p2pdma_edu_devices_lock);
	edu = p2pdma_edu_find(p2pdma_edu_addr(mr->pdev), true);
	if (!edu)
		ret = -ENODEV;
	while (!ret && done < req.length) {
		u64 va = req.iova + done;
		u64 block = (va - ALIGN_DOWN(mr->iova, mr->page_size)) /
			    mr->page_size;
		u64 off = va & (mr->page_size - 1);
		u64 len = min(mr->page_size - off, req.length - done);

		if (WARN_ON_ONCE(block >= mr->entries)) {
			ret = -EIO;
			break;
		}
		ret = p2pdma_edu_xfer(edu, req.write, mr->table[block] + off,
				      buf + done, len);
		done += len;
	}
	mutex_unlock(&p2pdma_edu_devices_lock);
out_unlock:
	dma_resv_unlock(p2pdma_edu_mr_resv(mr));
	return p2pdma_edu_put_buf(buf, req.user_buf, req.length, req.write,
				  ret);
}

static long p2pdma_edu_ioctl_mr_info(struct p2pdma_edu_mr *mr,
				     void __user *arg)
{
	struct p2pdma_edu_mr_info __user *uinfo = arg;
	struct p2pdma_edu_mr_info info = {};
	u32 index;

	if (get_user(info.handle, &uinfo->handle) ||
	    get_user(index, &uinfo->seen_index))
		return -EFAULT;
	dma_resv_lock(p2pdma_edu_mr_resv(mr), NULL);
	info.valid = !!mr->table;
	info.invalidations = mr->invalidations;
	info.seen_index = index;
	p2pdma_edu_watch_seen(&mr->watch, mr->invalidations, index, &info.seen);
	info.faults = mr->faults;
	info.fault_errors = mr->fault_errors;
	info.last_error = mr->last_error;
	/* Set by the RDMA core once it revoked a pinned umem */
	info.revoked = mr->umem_dmabuf->revoked;
	if (mr->umem_dmabuf->sgt)
		info.nents = mr->umem_dmabuf->umem.sgt_append.sgt.nents;
	info.entries = mr->entries;
	if (mr->table) {
		info.page_size = mr->page_size;
		info.first_dma = mr->table[0];
	}
	dma_resv_unlock(p2pdma_edu_mr_resv(mr));
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long p2pdma_edu_ioctl_mr_op(struct p2pdma_edu_file *f,
				   unsigned int cmd, void __user *arg)
{
	struct p2pdma_edu_mr *mr;
	u32 handle;
	long ret;

	if (get_user(handle, (u32 __user *)arg))
		return -EFAULT;

	mutex_lock(&f->imports_lock);
	mr = xa_load(&f->mrs, handle);
	if (!mr) {
		ret = -ENOENT;
		goto out;
	}
	switch (cmd) {
	case P2PDMA_EDU_DEREG_MR:
		xa_erase(&f->mrs, handle);
		p2pdma_edu_mr_free(mr);
		ret = 0;
		break;
	case P2PDMA_EDU_MR_ACCESS:
		ret = p2pdma_edu_ioctl_mr_access(mr, arg);
		break;
	default:
		ret = p2pdma_edu_ioctl_mr_info(mr, arg);
		break;
	}
out:
	mutex_unlock(&f->imports_lock);
	return ret;
}

/*
 * A broken exporter for the importer's sake: its dma-buf of @size bytes
 * maps to a single made-up DMA range of only @mapped bytes.  Never DMAed
 * to; it shows whether an importer checks the mapping covers its range.
 */
struct p2pdma_edu_short {
	u64 mapped;
};

static struct sg_table *p2pdma_edu_short_map(struct dma_buf_attachment *a,
					     enum dma_data_direction dir)
{
	struct p2pdma_edu_short *sh = a->dmabuf->priv;
	struct sg_table *sgt;
	int ret;

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	ret = sg_alloc_table(sgt, 1, GFP_KERNEL);
	if (ret) {
		kfree(sgt);
		return ERR_PTR(ret);
	}
	/* Page-less, like a P2P exporter's: only the DMA fields are set */
	sg_dma_address(sgt->sgl) = P2PDMA_EDU_SHORT_DMA;
	sg_dma_len(sgt->sgl) = sh->mapped;
	return sgt;
}

static void p2pdma_edu_short_unmap(struct dma_buf_attachment *a,
				   struct sg_table *sgt,
				   enum dma_data_direction dir)
{
	sg_free_table(sgt);
	kfree(sgt);
}

static void p2pdma_edu_short_release(struct dma_buf *dmabuf)
{
	kfree(dmabuf->priv);
}

static const struct dma_buf_ops p2pdma_edu_short_ops = {
	.map_dma_buf = p2pdma_edu_short_map,
	.unmap_dma_buf = p2pdma_edu_short_unmap,
	.release = p2pdma_edu_short_release,
};

static long p2pdma_edu_ioctl_export_short(void __user *arg)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp);
	struct p2pdma_edu_export_short req;
	struct p2pdma_edu_short *sh;
	struct dma_buf *dmabuf;
	int fd;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (!req.size || req.size > SZ_1G || !PAGE_ALIGNED(req.size) ||
	    !req.mapped || req.mapped > req.size)
		return -EINVAL;
	sh = kzalloc(sizeof(*sh), GFP_KERNEL);
	if (!sh)
		return -ENOMEM;
	sh->mapped = req.mapped;
	exp.ops = &p2pdma_edu_short_ops;
	exp.size = req.size;
	exp.flags = O_RDWR | O_CLOEXEC;
	exp.priv = sh;
	dmabuf = dma_buf_export(&exp);
	if (IS_ERR(dmabuf)) {
		kfree(sh);
		return PTR_ERR(dmabuf);
	}
	fd = dma_buf_fd(dmabuf, O_CLOEXEC);
	if (fd < 0)
		dma_buf_put(dmabuf);
	return fd;
}

/*
 * Benchmarks, in the manner of kernel/dma/map_benchmark.c: many runs timed
 * in the kernel, returned as their median and spread.  The calls of
 * iommu_map() are counted with a kprobe in an untimed first run, which
 * keeps the probe's cost out of the times.
 */
struct p2pdma_edu_bench_ops {
	int (*map)(void *ctx);
	void (*unmap)(void *ctx);
};

static DEFINE_MUTEX(p2pdma_edu_bench_lock);	/* one benchmark at a time */

#ifdef CONFIG_KPROBES
struct p2pdma_edu_counter {
	struct kprobe kp;
	struct task_struct *task;
	atomic64_t hits;
};

static int p2pdma_edu_counter_hit(struct kprobe *kp, struct pt_regs *regs)
{
	struct p2pdma_edu_counter *c = container_of(kp, typeof(*c), kp);

	if (current == c->task)
		atomic64_inc(&c->hits);
	return 0;
}

/* Count the calls of iommu_map() made by this task from now on. */
static int p2pdma_edu_count_start(struct p2pdma_edu_counter *c)
{
	memset(c, 0, sizeof(*c));
	c->kp.symbol_name = "iommu_map";
	c->kp.pre_handler = p2pdma_edu_counter_hit;
	c->task = current;
	return register_kprobe(&c->kp);
}

static u64 p2pdma_edu_count_stop(struct p2pdma_edu_counter *c)
{
	unregister_kprobe(&c->kp);
	return atomic64_read(&c->hits);
}
#else
struct p2pdma_edu_counter {
};

static int p2pdma_edu_count_start(struct p2pdma_edu_counter *c)
{
	return -EOPNOTSUPP;
}

static u64 p2pdma_edu_count_stop(struct p2pdma_edu_counter *c)
{
	return P2PDMA_EDU_BENCH_UNCOUNTED;
}
#endif

static int p2pdma_edu_cmp_u64(const void *a, const void *b)
{
	u64 x = *(const u64 *)a, y = *(const u64 *)b;

	return x < y ? -1 : x > y;
}

static void p2pdma_edu_bench_stat(u64 *ns, u32 n,
				  struct p2pdma_edu_bench_stat *st)
{
	sort(ns, n, sizeof(*ns), p2pdma_edu_cmp_u64, NULL);
	st->min_ns = ns[0];
	st->median_ns = n % 2 ? ns[n / 2] : (ns[n / 2 - 1] + ns[n / 2]) / 2;
	st->max_ns = ns[n - 1];
}

/*
 * Run @ops on @ctx: one untimed run that counts iommu_map() calls, then
 * up to @iterations timed runs, no new one after @budget_ms.
 */
static int p2pdma_edu_bench_run(const struct p2pdma_edu_bench_ops *ops,
				void *ctx, u32 iterations, u32 budget_ms,
				u32 *runs, u64 *iommu_maps,
				struct p2pdma_edu_bench_stat *map,
				struct p2pdma_edu_bench_stat *unmap)
{
	struct p2pdma_edu_counter counter;
	u64 *ns, deadline, t0, t1, t2;
	bool counting;
	u32 n = 0;
	int ret;

	if (!iterations || iterations > P2PDMA_EDU_BENCH_MAX_RUNS)
		return -EINVAL;
	ns = kvcalloc(2 * iterations, sizeof(*ns), GFP_KERNEL);
	if (!ns)
		return -ENOMEM;

	counting = !p2pdma_edu_count_start(&counter);
	ret = ops->map(ctx);
	*iommu_maps = counting ? p2pdma_edu_count_stop(&counter) :
				 P2PDMA_EDU_BENCH_UNCOUNTED;
	if (ret)
		goto out;
	ops->unmap(ctx);

	deadline = ktime_get_ns() + (u64)budget_ms * NSEC_PER_MSEC;
	while (n < iterations && (!n || ktime_get_ns() < deadline)) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto out;
		}
		t0 = ktime_get_ns();
		ret = ops->map(ctx);
		t1 = ktime_get_ns();
		if (ret)
			goto out;
		ops->unmap(ctx);
		t2 = ktime_get_ns();
		ns[n] = t1 - t0;
		ns[iterations + n] = t2 - t1;
		n++;
		cond_resched();
	}
	p2pdma_edu_bench_stat(ns, n, map);
	p2pdma_edu_bench_stat(ns + iterations, n, unmap);
	*runs = n;
out:
	kvfree(ns);
	return ret;
}

struct p2pdma_edu_bench_map_ctx {
	struct device *dev;
	phys_addr_t phys;		/* CPU address of the range */
	size_t len;
	/* P2PDMA_EDU_BENCH_RANGES: attached to a dma-buf of the range */
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	struct sg_table pages;		/* P2PDMA_EDU_BENCH_PER_PAGE */
	unsigned int nents;
};

/* What an importer of the exporter above costs: dma_buf_phys_vec_to_sgt() */
static int p2pdma_edu_bench_map_ranges(void *ctx)
{
	struct p2pdma_edu_bench_map_ctx *c = ctx;

	c->sgt = dma_buf_map_attachment_unlocked(c->attach, DMA_BIDIRECTIONAL);
	if (IS_ERR(c->sgt))
		return PTR_ERR(c->sgt);
	c->nents = c->sgt->nents;
	return 0;
}

static void p2pdma_edu_bench_unmap_ranges(void *ctx)
{
	struct p2pdma_edu_bench_map_ctx *c = ctx;

	dma_buf_unmap_attachment_unlocked(c->attach, c->sgt,
					  DMA_BIDIRECTIONAL);
}

static void p2pdma_edu_bench_unmap_first(struct p2pdma_edu_bench_map_ctx *c,
					 unsigned int n)
{
	struct scatterlist *sg;
	unsigned int i;

	for_each_sg(c->pages.sgl, sg, n, i)
		dma_unmap_resource(c->dev, sg_dma_address(sg), sg_dma_len(sg),
				   DMA_BIDIRECTIONAL, 0);
	sg_free_table(&c->pages);
}

/* What an exporter without dma_map_p2p() does: map every page. */
static int p2pdma_edu_bench_map_pages(void *ctx)
{
	struct p2pdma_edu_bench_map_ctx *c = ctx;
	unsigned int n = c->len >> PAGE_SHIFT;
	struct scatterlist *sg;
	dma_addr_t addr;
	unsigned int i;
	int ret;

	ret = sg_alloc_table(&c->pages, n, GFP_KERNEL);
	if (ret)
		return ret;
	for_each_sgtable_sg(&c->pages, sg, i) {
		addr = dma_map_resource(c->dev, c->phys + (u64)i * PAGE_SIZE,
					PAGE_SIZE, DMA_BIDIRECTIONAL, 0);
		if (dma_mapping_error(c->dev, addr)) {
			p2pdma_edu_bench_unmap_first(c, i);
			return -ENOMEM;
		}
		sg_dma_address(sg) = addr;
		sg_dma_len(sg) = PAGE_SIZE;
		if (!(i % 4096))
			cond_resched();
	}
	c->nents = n;
	return 0;
}

static void p2pdma_edu_bench_unmap_pages(void *ctx)
{
	struct p2pdma_edu_bench_map_ctx *c = ctx;

	p2pdma_edu_bench_unmap_first(c, c->pages.orig_nents);
}

static const struct p2pdma_edu_bench_ops p2pdma_edu_bench_map_ops[] = {
	[P2PDMA_EDU_BENCH_RANGES] = {
		.map = p2pdma_edu_bench_map_ranges,
		.unmap = p2pdma_edu_bench_unmap_ranges,
	},
	[P2PDMA_EDU_BENCH_PER_PAGE] = {
		.map = p2pdma_edu_bench_map_pages,
		.unmap = p2pdma_edu_bench_unmap_pages,
	},
};

static long p2pdma_edu_ioctl_bench_map(void __user *arg)
{
	struct p2pdma_edu_bench_map_ctx c = {};
	struct p2pdma_edu_bench_map req;
	struct p2pdma_edu *prov;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.method >= ARRAY_SIZE(p2pdma_edu_bench_map_ops) ||
	    req.bar >= PCI_STD_NUM_BARS || !req.length ||
	    !PAGE_ALIGNED(req.offset) || !PAGE_ALIGNED(req.length) ||
	    req.length >> PAGE_SHIFT > UINT_MAX)
		return -EINVAL;

	mutex_lock(&p2pdma_edu_bench_lock);
	prov = p2pdma_edu_phys_get(req.provider, req.bar, req.importer, &c.dev);
	if (!prov) {
		ret = -ENODEV;
		goto out_unlock;
	}
	if (req.offset >= pci_resource_len(prov->pdev, req.bar) ||
	    req.length > pci_resource_len(prov->pdev, req.bar) - req.offset) {
		ret = -EINVAL;
		goto out_put;
	}
	c.phys = pci_resource_start(prov->pdev, req.bar) + req.offset;
	c.len = req.length;
	if (req.method == P2PDMA_EDU_BENCH_RANGES) {
		struct dma_buf_phys_vec range = {
			.paddr = req.offset, .len = req.length,
		};

		c.attach = p2pdma_edu_phys_attach_new(prov, req.bar, &range, 1,
						      c.dev);
		if (IS_ERR(c.attach)) {
			ret = PTR_ERR(c.attach);
			goto out_put;
		}
	}
	ret = p2pdma_edu_bench_run(&p2pdma_edu_bench_map_ops[req.method], &c,
				   req.iterations, req.budget_ms, &req.runs,
				   &req.iommu_maps, &req.map, &req.unmap);
	req.nents = c.nents;
	if (c.attach)
		p2pdma_edu_phys_detach(c.attach);
out_put:
	p2pdma_edu_phys_put(prov, c.dev);
out_unlock:
	mutex_unlock(&p2pdma_edu_bench_lock);
	if (!ret && copy_to_user(arg, &req, sizeof(req)))
		ret = -EFAULT;
	return ret;
}

struct p2pdma_edu_bench_reg_ctx {
	struct p2pdma_edu_reg_mr req;
	struct p2pdma_edu_mr *mr;
	unsigned int nents;
	unsigned long page_size;
	size_t entries;
};

/* P2PDMA_EDU_REG_MR without the handle */
static int p2pdma_edu_bench_reg_mr(void *ctx)
{
	struct p2pdma_edu_bench_reg_ctx *c = ctx;
	struct p2pdma_edu_mr *mr;
	int ret;

	mr = p2pdma_edu_mr_alloc(&c->req);
	if (IS_ERR(mr))
		return PTR_ERR(mr);
	ret = p2pdma_edu_mr_get_umem(mr, &c->req);
	if (ret) {
		p2pdma_edu_mr_free(mr);
		return ret;
	}
	dma_resv_lock(p2pdma_edu_mr_resv(mr), NULL);
	if (mr->umem_dmabuf->sgt)
		c->nents = mr->umem_dmabuf->umem.sgt_append.sgt.nents;
	c->page_size = mr->page_size;
	c->entries = mr->entries;
	dma_resv_unlock(p2pdma_edu_mr_resv(mr));
	c->mr = mr;
	return 0;
}

static void p2pdma_edu_bench_dereg_mr(void *ctx)
{
	struct p2pdma_edu_bench_reg_ctx *c = ctx;

	p2pdma_edu_mr_free(c->mr);
	c->mr = NULL;
}

static const struct p2pdma_edu_bench_ops p2pdma_edu_bench_reg_ops = {
	.map = p2pdma_edu_bench_reg_mr,
	.unmap = p2pdma_edu_bench_dereg_mr,
};

static long p2pdma_edu_ioctl_bench_reg(void __user *arg)
{
	struct p2pdma_edu_bench_reg_ctx c = {};
	struct p2pdma_edu_bench_reg req;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (!req.pgsz_bitmap)
		req.pgsz_bitmap = P2PDMA_EDU_MR_PGSZ_DEFAULT;
	if (!(req.pgsz_bitmap & SZ_4K) || req.pgsz_bitmap & (SZ_4K - 1))
		return -EINVAL;
	c.req.importer = req.importer;
	c.req.fd = req.fd;
	c.req.offset = req.offset;
	c.req.length = req.length;
	c.req.iova = req.offset;
	c.req.pgsz_bitmap = req.pgsz_bitmap;

	mutex_lock(&p2pdma_edu_bench_lock);
	ret = p2pdma_edu_bench_run(&p2pdma_edu_bench_reg_ops, &c,
				   req.iterations, req.budget_ms, &req.runs,
				   &req.iommu_maps, &req.reg, &req.dereg);
	mutex_unlock(&p2pdma_edu_bench_lock);
	if (ret)
		return ret;
	req.nents = c.nents;
	req.page_size = c.page_size;
	req.entries = c.entries;
	return copy_to_user(arg, &req, sizeof(req)) ? -EFAULT : 0;
}

static long p2pdma_edu_ioctl_p2pmem(void __user *arg)
{
	struct p2pdma_edu_p2pmem req;
	struct p2pdma_edu *prov;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.bar >= PCI_STD_NUM_BARS || !req.size)
		return -EINVAL;
	mutex_lock(&p2pdma_edu_devices_lock);
	prov = p2pdma_edu_find(req.provider, false);
	ret = prov ? pci_p2pdma_add_resource(prov->pdev, req.bar, req.size,
					     req.offset) : -ENODEV;
	mutex_unlock(&p2pdma_edu_devices_lock);
	return ret;
}

static long p2pdma_edu_ioctl_claim(struct p2pdma_edu_file *f,
				   void __user *arg)
{
	struct p2pdma_edu_claim req;
	struct pci_dev *pdev;
	struct resource *res;
	long ret = 0;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.bar >= PCI_STD_NUM_BARS)
		return -EINVAL;
	if (f->claim)
		return -EEXIST;
	pdev = pci_get_domain_bus_and_slot(req.pci >> 16, (req.pci >> 8) & 0xff,
					   req.pci & 0xff);
	if (!pdev)
		return -ENODEV;
	if (!(pci_resource_flags(pdev, req.bar) & IORESOURCE_MEM) ||
	    !pci_resource_len(pdev, req.bar)) {
		ret = -EINVAL;
		goto out;
	}
	res = request_mem_region(pci_resource_start(pdev, req.bar),
				 pci_resource_len(pdev, req.bar),
				 "p2pdma_edu claim");
	if (!res) {
		ret = -EBUSY;
		goto out;
	}
	f->claim = res;
out:
	pci_dev_put(pdev);
	return ret;
}

static long p2pdma_edu_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	struct p2pdma_edu_file *f = file->private_data;
	struct p2pdma_edu_mapping *m;
	struct p2pdma_edu_mask mask;
	struct p2pdma_edu_dma d;
	struct p2pdma_edu *edu;
	u32 handle;
	u8 *buf;
	int ret;

	switch (cmd) {
	case P2PDMA_EDU_MAP:
		return p2pdma_edu_ioctl_map(f, (void __user *)arg);
	case P2PDMA_EDU_MAP_RANGES:
		return p2pdma_edu_ioctl_map_ranges(f, (void __user *)arg);
	case P2PDMA_EDU_IMPORT:
		mutex_lock(&f->imports_lock);
		ret = p2pdma_edu_ioctl_import(f, (void __user *)arg);
		mutex_unlock(&f->imports_lock);
		return ret;
	case P2PDMA_EDU_IMPORT_MAP:
	case P2PDMA_EDU_IMPORT_UNMAP:
	case P2PDMA_EDU_IMPORT_DMA:
	case P2PDMA_EDU_IMPORT_INFO:
	case P2PDMA_EDU_IMPORT_CLOSE:
	case P2PDMA_EDU_IMPORT_FENCE:
		return p2pdma_edu_ioctl_import_op(f, cmd, (void __user *)arg);
	case P2PDMA_EDU_EXPORT_SHORT:
		return p2pdma_edu_ioctl_export_short((void __user *)arg);
	case P2PDMA_EDU_BENCH_MAP:
		return p2pdma_edu_ioctl_bench_map((void __user *)arg);
	case P2PDMA_EDU_BENCH_REG:
		return p2pdma_edu_ioctl_bench_reg((void __user *)arg);
	case P2PDMA_EDU_P2PMEM:
		return p2pdma_edu_ioctl_p2pmem((void __user *)arg);
	case P2PDMA_EDU_CLAIM:
		mutex_lock(&f->imports_lock);
		ret = p2pdma_edu_ioctl_claim(f, (void __user *)arg);
		mutex_unlock(&f->imports_lock);
		return ret;
	case P2PDMA_EDU_REG_MR:
		mutex_lock(&f->imports_lock);
		ret = p2pdma_edu_ioctl_reg_mr(f, (void __user *)arg);
		mutex_unlock(&f->imports_lock);
		return ret;
	case P2PDMA_EDU_MR_ACCESS:
	case P2PDMA_EDU_MR_INFO:
	case P2PDMA_EDU_DEREG_MR:
		return p2pdma_edu_ioctl_mr_op(f, cmd, (void __user *)arg);
	case P2PDMA_EDU_UNMAP:
		if (get_user(handle, (u32 __user *)arg))
			return -EFAULT;
		m = xa_erase(&f->maps, handle);
		if (!m)
			return -ENOENT;
		p2pdma_edu_unmap(m);
		return 0;
	case P2PDMA_EDU_DMA:
		if (copy_from_user(&d, (void __user *)arg, sizeof(d)))
			return -EFAULT;
		/* edu devices stay bound while the module is in use */
		buf = p2pdma_edu_get_buf(d.user_buf, d.length, d.to_device);
		if (IS_ERR(buf))
			return PTR_ERR(buf);
		mutex_lock(&p2pdma_edu_devices_lock);
		edu = p2pdma_edu_find(d.importer, true);
		ret = edu ? p2pdma_edu_xfer(edu, d.to_device, d.dma_addr, buf,
					    d.length) : -ENODEV;
		mutex_unlock(&p2pdma_edu_devices_lock);
		return p2pdma_edu_put_buf(buf, d.user_buf, d.length,
					  d.to_device, ret);
	case P2PDMA_EDU_SET_MASK:
		if (copy_from_user(&mask, (void __user *)arg, sizeof(mask)))
			return -EFAULT;
		if (mask.bits < 24 || mask.bits > 64)
			return -EINVAL;
		mutex_lock(&p2pdma_edu_devices_lock);
		edu = p2pdma_edu_find(mask.importer, true);
		/* edu applies its "dma_mask" property; this is what Linux knows */
		ret = edu ? dma_set_mask(&edu->pdev->dev,
					 DMA_BIT_MASK(mask.bits)) : -ENODEV;
		mutex_unlock(&p2pdma_edu_devices_lock);
		return ret;
	default:
		return -ENOTTY;
	}
}

static int p2pdma_edu_open(struct inode *inode, struct file *file)
{
	struct p2pdma_edu_file *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	xa_init_flags(&f->maps, XA_FLAGS_ALLOC);
	xa_init_flags(&f->imports, XA_FLAGS_ALLOC);
	xa_init_flags(&f->mrs, XA_FLAGS_ALLOC);
	mutex_init(&f->imports_lock);
	file->private_data = f;
	return 0;
}

static int p2pdma_edu_release(struct inode *inode, struct file *file)
{
	struct p2pdma_edu_file *f = file->private_data;
	struct p2pdma_edu_mapping *m;
	struct p2pdma_edu_attachment *imp;
	struct p2pdma_edu_mr *mr;
	unsigned long handle;

	xa_for_each(&f->mrs, handle, mr)
		p2pdma_edu_mr_free(mr);
	xa_destroy(&f->mrs);
	xa_for_each(&f->maps, handle, m)
		p2pdma_edu_unmap(m);
	xa_destroy(&f->maps);
	xa_for_each(&f->imports, handle, imp)
		p2pdma_edu_import_free(imp);
	xa_destroy(&f->imports);
	if (f->claim)
		release_mem_region(f->claim->start, resource_size(f->claim));
	mutex_destroy(&f->imports_lock);
	kfree(f);
	return 0;
}

static const struct file_operations p2pdma_edu_fops = {
	.owner = THIS_MODULE,
	.open = p2pdma_edu_open,
	.release = p2pdma_edu_release,
	.unlocked_ioctl = p2pdma_edu_ioctl,
};

static struct miscdevice p2pdma_edu_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "p2pdma_edu",
	.fops = &p2pdma_edu_fops,
};

static int p2pdma_edu_probe_edu(struct p2pdma_edu *e)
{
	struct pci_dev *pdev = e->pdev;
	int ret;

	ret = pcim_iomap_regions(pdev, BIT(0), KBUILD_MODNAME);
	if (ret)
		return ret;
	e->regs = pcim_iomap_table(pdev)[0];
	if ((readl(e->regs + EDU_REG_IDENT) & 0xff) != 0xed)
		return -ENODEV;
	/* edu masks its DMA addresses with the "dma_mask" property */
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	e->bounce = dmam_alloc_coherent(&pdev->dev, EDU_CHUNK, &e->bounce_dma,
					GFP_KERNEL);
	if (!e->bounce)
		return -ENOMEM;
	mutex_init(&e->lock);

	/* The stand-in HCA: an RDMA core device that is never registered */
	e->ibdev = _ib_alloc_device(sizeof(*e->ibdev));
	if (!e->ibdev)
		return -ENOMEM;
	e->ibdev->dma_device = &pdev->dev;
	ret = dev_set_name(&e->ibdev->dev, "edu_hca_%s", pci_name(pdev));
	if (ret) {
		ib_dealloc_device(e->ibdev);
		return ret;
	}
	pci_set_master(pdev);
	return 0;
}

static int p2pdma_edu_probe_provider(struct p2pdma_edu *e)
{
	int bar, n = 0, ret;

	ret = pcim_p2pdma_init(e->pdev);
	if (ret)
		return ret;
	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
		e->providers[bar] = pcim_p2pdma_provider(e->pdev, bar);
		if (e->providers[bar])
			n++;
	}
	return n ? 0 : -ENODEV;
}

static int p2pdma_edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct p2pdma_edu *e;
	int ret;

	e = devm_kzalloc(&pdev->dev, sizeof(*e), GFP_KERNEL);
	if (!e)
		return -ENOMEM;
	e->pdev = pdev;
	e->is_edu = pdev->vendor == EDU_VENDOR && pdev->device == EDU_DEVICE;

	ret = pcim_enable_device(pdev);
	if (ret)
		return ret;
	ret = e->is_edu ? p2pdma_edu_probe_edu(e) :
			  p2pdma_edu_probe_provider(e);
	if (ret)
		return ret;

	pci_set_drvdata(pdev, e);
	mutex_lock(&p2pdma_edu_devices_lock);
	list_add_tail(&e->node, &p2pdma_edu_devices);
	mutex_unlock(&p2pdma_edu_devices_lock);
	pci_info(pdev, "bound as %s\n", e->is_edu ? "importer" : "provider");
	return 0;
}

static void p2pdma_edu_remove(struct pci_dev *pdev)
{
	struct p2pdma_edu *e = pci_get_drvdata(pdev);

	mutex_lock(&p2pdma_edu_devices_lock);
	list_del(&e->node);
	mutex_unlock(&p2pdma_edu_devices_lock);
	/* MRs hold the device until they are deregistered */
	if (e->ibdev)
		ib_dealloc_device(e->ibdev);
}

static const struct pci_device_id p2pdma_edu_ids[] = {
	{ PCI_DEVICE(EDU_VENDOR, EDU_DEVICE) },
	{}
};
MODULE_DEVICE_TABLE(pci, p2pdma_edu_ids);

static struct pci_driver p2pdma_edu_driver = {
	.name = KBUILD_MODNAME,
	.id_table = p2pdma_edu_ids,
	.probe = p2pdma_edu_probe,
	.remove = p2pdma_edu_remove,
};

static int __init p2pdma_edu_init(void)
{
	int ret;

	ret = misc_register(&p2pdma_edu_misc);
	if (ret)
		return ret;
	ret = pci_register_driver(&p2pdma_edu_driver);
	if (ret)
		misc_deregister(&p2pdma_edu_misc);
	return ret;
}
module_init(p2pdma_edu_init);

static void __exit p2pdma_edu_exit(void)
{
	pci_unregister_driver(&p2pdma_edu_driver);
	misc_deregister(&p2pdma_edu_misc);
}
module_exit(p2pdma_edu_exit);

MODULE_DESCRIPTION("QEMU edu as a peer-to-peer DMA importer, for selftests");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(DMA_BUF);
