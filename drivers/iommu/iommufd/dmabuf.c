// SPDX-License-Identifier: GPL-2.0
/*
 * iommufd: areas of an IOAS backed by a dma-buf of MMIO.
 *
 * IOMMU_IOAS_MAP_FILE of a dma-buf that vfio-pci exports maps the BAR
 * ranges behind it into every domain of the IOAS, as MMIO, so that a
 * device attached to the IOAS can DMA to another device's BAR (P2P
 * between the devices of a VM).  There are no struct pages: nothing is
 * pinned, read, written or accounted, and the access API of emulated
 * devices cannot reach such an area.
 *
 * iommufd attaches to the dma-buf as a dynamic importer and asks the
 * exporter for the physical ranges, under the reservation lock; it never
 * maps the attachment.  When the exporter revokes the dma-buf (memory
 * decode off, reset, low power, close, unplug), move_notify removes the
 * area's IOPTEs from every domain, the IOTLB flushed, before it returns.
 * The revoke is for good: the area keeps its IOVA range and maps nothing
 * until userspace unmaps it, and maps it again once the device decodes
 * memory (the exporter refuses with -ENODEV until then).
 *
 * Which (area, domain) pairs are mapped is tracked in the pages, under
 * pages->mutex: move_notify runs under the reservation lock and cannot
 * take the io_pagetable's domains_rwsem, which is held around the
 * dma-buf's detach.  That pages->mutex is taken under the reservation
 * lock, and the pages->mutex of user memory is taken around
 * pin_user_pages() (mmap_lock), which other drivers take the reservation
 * lock under: the pages->mutex of a dma-buf has a lock class of its own.
 */
#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/iommu.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/vfio_pci_core.h>

#include "io_pagetable.h"

MODULE_IMPORT_NS(DMA_BUF);

struct iopt_pages_dmabuf {
	struct dma_buf *dmabuf;
	struct dma_buf_attachment *attach;
	/* The exporter's, CPU physical; they live as long as the dma-buf */
	const struct dma_buf_phys_vec *ranges;
	unsigned int nr_ranges;
	/* Offset into the dma-buf of page index 0 of the pages */
	u64 start;
	/* The rest under pages->mutex */
	bool revoked;
	struct list_head mapped;	/* of iopt_dmabuf_mapped::node */
};

/* One area mapped into one domain */
struct iopt_dmabuf_mapped {
	struct list_head node;
	struct iopt_area *area;
	struct iommu_domain *domain;
};

static struct lock_class_key iopt_dmabuf_mutex_key;

static void iopt_dmabuf_unmap(struct iopt_dmabuf_mapped *m)
{
	size_t len = iopt_area_length(m->area);

	/* iommu_unmap() flushes the IOTLB before it returns */
	WARN_ON(iommu_unmap(m->domain, iopt_area_iova(m->area), len) != len);
	list_del(&m->node);
	kfree(m);
}

/*
 * Map the part of the dma-buf under @area into @domain: the ranges are
 * laid out one after the other in the dma-buf, each physically
 * contiguous.
 */
static int iopt_dmabuf_map(struct iopt_pages *pages, struct iopt_area *area,
			   struct iommu_domain *domain)
{
	struct iopt_pages_dmabuf *d = pages->dmabuf;
	u64 first = d->start + (u64)iopt_area_index(area) * PAGE_SIZE +
		    area->page_offset;
	u64 end = first + iopt_area_length(area);
	int prot = (area->iommu_prot & ~IOMMU_CACHE) | IOMMU_MMIO;
	unsigned long iova = iopt_area_iova(area);
	struct iopt_dmabuf_mapped *m;
	u64 at = 0, done = 0;
	unsigned int i;
	int rc;

	lockdep_assert_held(&pages->mutex);

	if (d->revoked)
		return 0;

	m = kzalloc(sizeof(*m), GFP_KERNEL_ACCOUNT);
	if (!m)
		return -ENOMEM;

	for (i = 0; i != d->nr_ranges && at < end; at += d->ranges[i++].len) {
		u64 from = max(first, at);
		u64 to = min(end, at + d->ranges[i].len);

		if (from >= to)
			continue;
		rc = iommu_map(domain, iova + (from - first),
			       d->ranges[i].paddr + (from - at), to - from,
			       prot, GFP_KERNEL_ACCOUNT);
		if (rc) {
			if (done)
				WARN_ON(iommu_unmap(domain, iova, done) != done);
			kfree(m);
			return rc;
		}
		done += to - from;
	}

	m->area = area;
	m->domain = domain;
	list_add_tail(&m->node, &d->mapped);
	return 0;
}

/* Unmap @area from @domain, or from every domain if @domain is NULL */
static void iopt_dmabuf_unmap_area(struct iopt_pages *pages,
				   struct iopt_area *area,
				   struct iommu_domain *domain)
{
	struct iopt_dmabuf_mapped *m, *tmp;

	lockdep_assert_held(&pages->mutex);

	list_for_each_entry_safe(m, tmp, &pages->dmabuf->mapped, node)
		if (m->area == area && (!domain || m->domain == domain))
			iopt_dmabuf_unmap(m);
}

/* See iopt_area_fill_domain(); under pages->mutex */
int iopt_dmabuf_fill_domain(struct iopt_area *area,
			    struct iommu_domain *domain)
{
	return iopt_dmabuf_map(area->pages, area, domain);
}

/* See iopt_area_fill_domains(); under domains_rwsem */
int iopt_dmabuf_fill_domains(struct iopt_area *area, struct iopt_pages *pages)
{
	struct io_pagetable *iopt = area->iopt;
	struct iommu_domain *domain;
	unsigned long index;
	int rc = 0;

	lockdep_assert_held(&iopt->domains_rwsem);

	if (xa_empty(&iopt->domains))
		return 0;

	mutex_lock(&pages->mutex);
	xa_for_each(&iopt->domains, index, domain) {
		rc = iopt_dmabuf_map(pages, area, domain);
		if (rc) {
			iopt_dmabuf_unmap_area(pages, area, NULL);
			goto out_unlock;
		}
	}
	area->storage_domain = xa_load(&iopt->domains, 0);
	interval_tree_insert(&area->pages_node, &pages->domains_itree);
out_unlock:
	mutex_unlock(&pages->mutex);
	return rc;
}

/* See iopt_area_unfill_domain(); under pages->mutex */
void iopt_dmabuf_unfill_domain(struct iopt_area *area, struct iopt_pages *pages,
			       struct iommu_domain *domain)
{
	iopt_dmabuf_unmap_area(pages, area, domain);
}

/* See iopt_area_unfill_domains(); under domains_rwsem */
void iopt_dmabuf_unfill_domains(struct iopt_area *area,
				struct iopt_pages *pages)
{
	lockdep_assert_held(&area->iopt->domains_rwsem);

	mutex_lock(&pages->mutex);
	if (area->storage_domain) {
		iopt_dmabuf_unmap_area(pages, area, NULL);
		interval_tree_remove(&area->pages_node,
				     &pages->domains_itree);
		area->storage_domain = NULL;
	}
	mutex_unlock(&pages->mutex);
}

/* See iopt_area_unmap_domain() */
void iopt_dmabuf_unmap_domain(struct iopt_area *area,
			      struct iommu_domain *domain)
{
	struct iopt_pages *pages = area->pages;

	mutex_lock(&pages->mutex);
	iopt_dmabuf_unmap_area(pages, area, domain);
	mutex_unlock(&pages->mutex);
}

/*
 * The exporter revokes: unmap everything, for good.  A later notification
 * (the exporter's "usable again") finds nothing to do.
 */
static void iopt_dmabuf_move_notify(struct dma_buf_attachment *attach)
{
	struct iopt_pages *pages = attach->importer_priv;
	struct iopt_pages_dmabuf *d = pages->dmabuf;
	struct iopt_dmabuf_mapped *m, *tmp;

	dma_resv_assert_held(attach->dmabuf->resv);

	mutex_lock(&pages->mutex);
	list_for_each_entry_safe(m, tmp, &d->mapped, node)
		iopt_dmabuf_unmap(m);
	d->revoked = true;
	mutex_unlock(&pages->mutex);
}

static const struct dma_buf_attach_ops iopt_dmabuf_attach_ops = {
	.allow_peer2peer = true,
	.move_notify = iopt_dmabuf_move_notify,
};

/*
 * vfio-pci-core may be a module that depends on iommufd: take its helpers
 * by symbol_get() rather than linking to them.
 */
static bool iopt_dmabuf_is_vfio(struct dma_buf *dmabuf)
{
	bool (*is_vfio)(struct dma_buf *dmabuf);
	bool ret;

	is_vfio = symbol_get(vfio_pci_is_dma_buf);
	if (!is_vfio)
		return false;
	ret = is_vfio(dmabuf);
	symbol_put(vfio_pci_is_dma_buf);
	return ret;
}

static int iopt_dmabuf_get_ranges(struct iopt_pages_dmabuf *d)
{
	int (*get)(struct dma_buf_attachment *attach,
		   const struct dma_buf_phys_vec **ranges,
		   unsigned int *nr_ranges);
	int rc;

	get = symbol_get(vfio_pci_dma_buf_iommufd_ranges);
	if (!get)
		return -EOPNOTSUPP;
	rc = get(d->attach, &d->ranges, &d->nr_ranges);
	symbol_put(vfio_pci_dma_buf_iommufd_ranges);
	return rc;
}

/**
 * iopt_alloc_dmabuf_pages() - pages for a part of a dma-buf of MMIO
 * @dmabuf: the dma-buf; the pages take over the caller's reference
 * @start: offset into the dma-buf, in bytes, page aligned
 * @length: length in bytes, page aligned
 * @writable: whether the pages may be mapped for writing
 *
 * Only dma-bufs that vfio-pci exports are accepted (-EOPNOTSUPP for
 * others); one whose device does not decode memory now gives -ENODEV.
 * On error the dma-buf reference is dropped.
 *
 * Return: the pages, or an ERR_PTR().
 */
struct iopt_pages *iopt_alloc_dmabuf_pages(struct dma_buf *dmabuf, u64 start,
					   u64 length, bool writable)
{
	struct iopt_pages_dmabuf *d;
	struct iopt_pages *pages;
	u64 end;
	int rc;

	if (!length || !PAGE_ALIGNED(start) || !PAGE_ALIGNED(length)) {
		rc = -EINVAL;
		goto err_put;
	}
	if (check_add_overflow(start, length, &end)) {
		rc = -EOVERFLOW;
		goto err_put;
	}
	if (end > dmabuf->size) {
		rc = -EINVAL;
		goto err_put;
	}
	/*
	 * Before attaching: another exporter's attach callback may take
	 * /dev/iommu's device for a PCI device, and 6.12's
	 * dma_buf_dynamic_attach() maps a static exporter's buffer for it
	 * at once.
	 */
	if (!iopt_dmabuf_is_vfio(dmabuf)) {
		rc = -EOPNOTSUPP;
		goto err_put;
	}

	pages = kzalloc(sizeof(*pages), GFP_KERNEL_ACCOUNT);
	d = kzalloc(sizeof(*d), GFP_KERNEL_ACCOUNT);
	if (!pages || !d) {
		rc = -ENOMEM;
		goto err_free;
	}
	kref_init(&pages->kref);
	xa_init_flags(&pages->pinned_pfns, XA_FLAGS_ACCOUNT);
	mutex_init(&pages->mutex);
	lockdep_set_class(&pages->mutex, &iopt_dmabuf_mutex_key);
	pages->npages = length / PAGE_SIZE;
	pages->access_itree = RB_ROOT_CACHED;
	pages->domains_itree = RB_ROOT_CACHED;
	pages->writable = writable;
	pages->account_mode = IOPT_PAGES_ACCOUNT_NONE;
	pages->type = IOPT_ADDRESS_DMABUF;
	pages->dmabuf = d;
	d->dmabuf = dmabuf;
	d->start = start;
	INIT_LIST_HEAD(&d->mapped);

	d->attach = dma_buf_dynamic_attach(dmabuf, iommufd_global_device(),
					   &iopt_dmabuf_attach_ops, pages);
	if (IS_ERR(d->attach)) {
		rc = PTR_ERR(d->attach);
		goto err_mutex;
	}

	dma_resv_lock(dmabuf->resv, NULL);
	rc = iopt_dmabuf_get_ranges(d);
	/* What a revoke since the attach left behind is stale now */
	d->revoked = false;
	dma_resv_unlock(dmabuf->resv);
	if (rc) {
		dma_buf_detach(dmabuf, d->attach);
		goto err_mutex;
	}
	return pages;

err_mutex:
	mutex_destroy(&pages->mutex);
err_free:
	kfree(d);
	kfree(pages);
err_put:
	dma_buf_put(dmabuf);
	return ERR_PTR(rc);
}

/*
 * Whether a revoke reached the pages; for MAP_FILE to tell a mapping that
 * was revoked before it could map anything
 */
bool iopt_dmabuf_revoked(struct iopt_pages *pages)
{
	bool revoked;

	mutex_lock(&pages->mutex);
	revoked = pages->dmabuf->revoked;
	mutex_unlock(&pages->mutex);
	return revoked;
}

/* See iopt_release_pages(); every area is gone */
void iopt_dmabuf_release_pages(struct iopt_pages *pages)
{
	struct iopt_pages_dmabuf *d = pages->dmabuf;

	WARN_ON(!list_empty(&d->mapped));
	dma_buf_detach(d->dmabuf, d->attach);
	dma_buf_put(d->dmabuf);
	kfree(d);
}
