// SPDX-License-Identifier: GPL-2.0
/*
 * p2pdma_edu's mapping ioctls: a BAR range of a provider mapped for an edu
 * importer with dma_map_p2p() (P2PDMA_EDU_MAP), or through a minimal
 * dma-buf exporter of BAR ranges (P2PDMA_EDU_MAP_RANGES); P2P memory with
 * struct pages on a provider (P2PDMA_EDU_P2PMEM) and a claimed BAR
 * (P2PDMA_EDU_CLAIM).  None of it needs RDMA.
 */
#include <linux/dma-buf.h>
#include <linux/dma-buf-mapping.h>
#include <linux/dma-mapping.h>
#include <linux/iommu.h>
#include <linux/pci-p2pdma.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "p2pdma_edu_core.h"

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

/*
 * The provider of @addr with its device locked, which keeps it bound and
 * its BAR @bar a provider while it is used; or NULL.  Undone by
 * p2pdma_edu_provider_unlock().
 */
static struct p2pdma_edu *p2pdma_edu_provider_lock(u32 addr, unsigned int bar)
{
	struct p2pdma_edu *prov = p2pdma_edu_get(addr, false);

	if (!prov)
		return NULL;
	device_lock(&prov->pdev->dev);
	if (!prov->removed && prov->providers[bar])
		return prov;
	device_unlock(&prov->pdev->dev);
	p2pdma_edu_put(prov);
	return NULL;
}

static void p2pdma_edu_provider_unlock(struct p2pdma_edu *prov)
{
	device_unlock(&prov->pdev->dev);
	p2pdma_edu_put(prov);
}

/* The device of edu importer @addr, referenced, or NULL */
static struct device *p2pdma_edu_importer_dev(u32 addr)
{
	struct p2pdma_edu *imp = p2pdma_edu_get(addr, true);
	struct device *dev = imp ? get_device(&imp->pdev->dev) : NULL;

	p2pdma_edu_put(imp);
	return dev;
}

long p2pdma_edu_ioctl_map(struct p2pdma_edu_file *f, void __user *arg)
{
	struct p2pdma_edu_mapping *m;
	struct p2pdma_edu_map req;
	struct p2pdma_edu *prov;
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
	if (req.importer == P2PDMA_EDU_NON_PCI)
		dev = get_device(p2pdma_edu_misc.this_device);
	else
		dev = p2pdma_edu_importer_dev(req.importer);
	prov = p2pdma_edu_provider_lock(req.provider, req.bar);
	if (!prov || !dev) {
		ret = -ENODEV;
		goto out_unlock;
	}
	req.type = p2pdma_edu_type(pci_p2pdma_map_type(prov->providers[req.bar],
						       dev));
	if (!p2pdma_edu_in_bar(prov, req.bar, req.offset, req.length)) {
		ret = -EINVAL;
		goto out_unlock;
	}
	ret = dma_map_p2p(dev, prov->providers[req.bar],
			  pci_resource_start(prov->pdev, req.bar) + req.offset,
			  req.length, DMA_BIDIRECTIONAL, 0, &m->map);
	if (ret)
		goto out_unlock;
	m->dev = dev;
	p2pdma_edu_provider_unlock(prov);

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
	if (prov)
		p2pdma_edu_provider_unlock(prov);
	if (dev)
		put_device(dev);
	/* report the class even when the mapping is refused */
	if (copy_to_user(arg, &req, sizeof(req)))
		ret = -EFAULT;
	kfree(m);
	return ret;
}

/*
 * A minimal exporter of BAR ranges, written as a driver that exports its
 * own MMIO would write one: map_dma_buf() is dma_buf_phys_vec_to_sgt()
 * (or, for the benchmark's floor, a bare dma_map_resource()).
 * Its dma-bufs never get a file descriptor: P2PDMA_EDU_MAP_RANGES and the
 * table benchmark attach edu to one and map it.  The provider is only used
 * while mapping, with its device locked (p2pdma_edu_phys_get()).  It never
 * moves or revokes the BAR, which is what makes its no-op pin and the
 * importer's no-op move_notify right, and lets P2PDMA_EDU_MAP_RANGES keep
 * the table after dropping the reservation lock.
 */
struct p2pdma_edu_phys {
	struct p2pdma_provider *provider;
	bool floor;		/* the benchmark's floor, see below */
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

/*
 * The floor of the mapping benchmark: the least an exporter of one range
 * can do, one dma_map_resource() of all of it and a table of entries of
 * at most 2 GiB (sg lengths are 32 bits), with no topology check.  Only
 * right where the importer reaches the BAR through the host bridge; the
 * benchmark times it, nothing DMAs through it.
 */
static struct sg_table *p2pdma_edu_floor_map(struct dma_buf_attachment *attach,
					     enum dma_data_direction dir)
{
	struct p2pdma_edu_phys *ph = attach->dmabuf->priv;
	u64 len = ph->ranges[0].len, off = 0;
	struct scatterlist *sg;
	struct sg_table *sgt;
	dma_addr_t addr;
	unsigned int i;
	int ret;

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	ret = sg_alloc_table(sgt, DIV_ROUND_UP_ULL(len, SZ_2G), GFP_KERNEL);
	if (ret)
		goto err_free;
	addr = dma_map_resource(attach->dev, ph->ranges[0].paddr, len, dir, 0);
	if (dma_mapping_error(attach->dev, addr)) {
		ret = -ENOMEM;
		goto err_table;
	}
	for_each_sgtable_dma_sg(sgt, sg, i) {
		sg_dma_address(sg) = addr + off;
		sg_dma_len(sg) = min_t(u64, len - off, SZ_2G);
		off += sg_dma_len(sg);
	}
	return sgt;

err_table:
	sg_free_table(sgt);
err_free:
	kfree(sgt);
	return ERR_PTR(ret);
}

static struct sg_table *p2pdma_edu_phys_map(struct dma_buf_attachment *attach,
					    enum dma_data_direction dir)
{
	struct p2pdma_edu_phys *ph = attach->dmabuf->priv;

	if (ph->floor)
		return p2pdma_edu_floor_map(attach, dir);
	return dma_buf_phys_vec_to_sgt(attach, ph->provider, ph->ranges,
				       ph->nr_ranges, attach->dmabuf->size,
				       dir);
}

static void p2pdma_edu_phys_unmap(struct dma_buf_attachment *attach,
				  struct sg_table *sgt,
				  enum dma_data_direction dir)
{
	struct p2pdma_edu_phys *ph = attach->dmabuf->priv;

	if (!ph->floor) {
		dma_buf_free_sgt(attach, sgt, dir);
		return;
	}
	dma_unmap_resource(attach->dev, sg_dma_address(sgt->sgl),
			   ph->ranges[0].len, dir, 0);
	sg_free_table(sgt);
	kfree(sgt);
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
 * attach @dev to the dma-buf; with @floor, one range that maps the
 * benchmark's floor way.  Returns the attachment, which holds the only
 * reference to the dma-buf.  Called between p2pdma_edu_phys_get() and
 * p2pdma_edu_phys_put().
 */
struct dma_buf_attachment *
p2pdma_edu_phys_attach_new(struct p2pdma_edu *prov, unsigned int bar,
			   const struct dma_buf_phys_vec *ranges,
			   unsigned int nr, struct device *dev, bool floor)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp);
	struct dma_buf_attachment *attach;
	struct p2pdma_edu_phys *ph;
	struct dma_buf *dmabuf;
	unsigned int i;

	if (floor && nr != 1)
		return ERR_PTR(-EINVAL);
	ph = kzalloc(struct_size(ph, ranges, nr), GFP_KERNEL);
	if (!ph)
		return ERR_PTR(-ENOMEM);
	ph->nr_ranges = nr;
	ph->floor = floor;
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

void p2pdma_edu_phys_detach(struct dma_buf_attachment *attach)
{
	struct dma_buf *dmabuf = attach->dmabuf;

	dma_buf_detach(dmabuf, attach);
	dma_buf_put(dmabuf);
}

/*
 * The provider @provider, with its device locked (which keeps it bound
 * while the dma-buf core maps through it, under the resv lock) and a
 * reference on the device of edu @importer in *@imp_dev; or NULL.  Undone
 * by p2pdma_edu_phys_put().
 */
struct p2pdma_edu *p2pdma_edu_phys_get(u32 provider, unsigned int bar,
				       u32 importer, struct device **imp_dev)
{
	struct p2pdma_edu *prov;

	*imp_dev = p2pdma_edu_importer_dev(importer);
	if (!*imp_dev)
		return NULL;
	prov = p2pdma_edu_provider_lock(provider, bar);
	if (!prov)
		put_device(*imp_dev);
	return prov;
}

void p2pdma_edu_phys_put(struct p2pdma_edu *prov, struct device *imp_dev)
{
	p2pdma_edu_provider_unlock(prov);
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

long p2pdma_edu_ioctl_map_ranges(struct p2pdma_edu_file *f, void __user *arg)
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
					       req->nr_ranges, imp_dev, false);
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

long p2pdma_edu_ioctl_unmap(struct p2pdma_edu_file *f, void __user *arg)
{
	struct p2pdma_edu_mapping *m;
	u32 handle;

	if (get_user(handle, (u32 __user *)arg))
		return -EFAULT;
	m = xa_erase(&f->maps, handle);
	if (!m)
		return -ENOENT;
	p2pdma_edu_unmap(m);
	return 0;
}

/* The file is being closed: undo its mappings */
void p2pdma_edu_release_maps(struct p2pdma_edu_file *f)
{
	struct p2pdma_edu_mapping *m;
	unsigned long handle;

	xa_for_each(&f->maps, handle, m)
		p2pdma_edu_unmap(m);
	xa_destroy(&f->maps);
}

long p2pdma_edu_ioctl_p2pmem(void __user *arg)
{
	struct p2pdma_edu_p2pmem req;
	struct p2pdma_edu *prov;
	int ret = -ENODEV;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.bar >= PCI_STD_NUM_BARS || !req.size)
		return -EINVAL;
	prov = p2pdma_edu_get(req.provider, false);
	if (!prov)
		return -ENODEV;
	device_lock(&prov->pdev->dev);
	if (!prov->removed)
		ret = pci_p2pdma_add_resource(prov->pdev, req.bar, req.size,
					      req.offset);
	device_unlock(&prov->pdev->dev);
	p2pdma_edu_put(prov);
	return ret;
}

long p2pdma_edu_ioctl_claim(struct p2pdma_edu_file *f, void __user *arg)
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
