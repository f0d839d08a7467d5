// SPDX-License-Identifier: GPL-2.0-only
/*
 * vfio-pci: export ranges of a BAR as a dma-buf for peer-to-peer DMA.
 *
 * The dma-buf has no struct pages and no CPU mapping.  An importer gets an
 * sg_table of DMA addresses built by dma_buf_phys_vec_to_sgt() from the
 * BAR's P2P provider, which checks that the importing device can reach the
 * BAR through the PCI topology and maps the BAR for it where needed.
 *
 * Whenever userspace loses access to the BAR (memory decode cleared, reset,
 * low power), the dma-bufs of the device are revoked: importers are told
 * with dma_buf_move_notify() and must unmap; mappings fail with -ENODEV
 * until access comes back, when the importers are notified again.  Closing
 * or removing the device revokes them for good; the dma-buf files stay
 * valid until their last reference goes away.
 *
 * Locking: vdev->memory_lock, held for write, protects vdev->dmabufs,
 * vdev->dmabufs_closed, vdev->dmabufs_removed, a dma-buf's @revoking and
 * every change of its @revoked.  Those changes are also made under the
 * dma-buf's reservation lock, taken inside memory_lock, so that
 * map_dma_buf, which runs under the reservation lock alone, sees a stable
 * state.  A dma-buf's @vdev is taken with xchg(), once, by whichever of
 * its release callback and the device's close comes first; @nr_mapped
 * changes under the reservation lock.
 */
#include <linux/dma-buf-mapping.h>
#include <linux/dma-resv.h>
#include <linux/nospec.h>
#include <linux/pci-p2pdma.h>
#include <linux/slab.h>

#include "../vfio.h"
#include "vfio_pci_priv.h"

MODULE_IMPORT_NS(DMA_BUF);

struct vfio_pci_dma_buf {
	struct dma_buf *dmabuf;
	/* The device while it is open; holds a registration reference */
	struct vfio_pci_core_device *vdev;
	/* For log lines and names; outlives the binding */
	struct pci_dev *pdev;
	struct list_head node;		/* in vdev->dmabufs */
	struct p2pdma_provider *provider;
	unsigned int bar;
	bool revoked;
	/* Told by the revoke under way, fences not waited for yet */
	bool revoking;
	/* Mappings not given back yet, under the resv lock; see unmap_wq */
	unsigned int nr_mapped;
	wait_queue_head_t unmap_wq;
	unsigned int nr_ranges;
	/*
	 * Each .paddr holds the BAR offset from userspace until
	 * vfio_pci_dma_buf_check_ranges() turns it into the physical address.
	 */
	struct dma_buf_phys_vec ranges[] __counted_by(nr_ranges);
};

static int vfio_pci_dma_buf_attach(struct dma_buf *dmabuf,
				   struct dma_buf_attachment *attach)
{
	struct vfio_pci_dma_buf *priv = dmabuf->priv;

	/*
	 * Only dynamic importers can set peer2peer (it is in their
	 * importer_ops, which must have move_notify): a static importer is
	 * refused here too.
	 */
	if (!attach->peer2peer) {
		pci_info_ratelimited(priv->pdev,
				     "dma-buf of BAR %u: %s cannot attach: only dynamic peer-to-peer importers can\n",
				     priv->bar, dev_name(attach->dev));
		return -EOPNOTSUPP;
	}

	/*
	 * As in mainline, no new importer while the BAR is unusable.
	 * Importers may attach while holding other reservation locks, so
	 * this reads the state without the lock: one that attaches just
	 * before a revoke is notified like the others, and mapping checks
	 * under the lock.
	 */
	return READ_ONCE(priv->revoked) ? -ENODEV : 0;
}

/*
 * The BAR can be taken away at any time, so only importers that stop when
 * told to, even while pinned, may pin it.
 */
static int vfio_pci_dma_buf_pin(struct dma_buf_attachment *attach)
{
	struct vfio_pci_dma_buf *priv = attach->dmabuf->priv;

	if (!attach->importer_ops || !attach->importer_ops->revocable) {
		pci_info_ratelimited(priv->pdev,
				     "dma-buf of BAR %u: %s cannot pin: the importer cannot be revoked\n",
				     priv->bar, dev_name(attach->dev));
		return -EOPNOTSUPP;
	}
	return 0;
}

static void vfio_pci_dma_buf_unpin(struct dma_buf_attachment *attach)
{
}

static struct sg_table *
vfio_pci_dma_buf_map(struct dma_buf_attachment *attach,
		     enum dma_data_direction dir)
{
	struct vfio_pci_dma_buf *priv = attach->dmabuf->priv;
	struct sg_table *sgt;

	dma_resv_assert_held(priv->dmabuf->resv);

	/* Not revoked implies the device is open, so the provider lives */
	if (priv->revoked)
		return ERR_PTR(-ENODEV);

	/*
	 * Whether a device can reach the BAR is a question about the PCI
	 * topology between the two.  A device that is not on PCI has no
	 * answer: it gets an errno of its own.  It may attach, as iommufd
	 * does to map the ranges into IOMMU domains itself
	 * (vfio_pci_dma_buf_iommufd_ranges()).
	 */
	if (!dev_is_pci(attach->dev)) {
		pci_info_ratelimited(priv->pdev,
				     "dma-buf of BAR %u: %s cannot map: it is not a PCI device\n",
				     priv->bar, dev_name(attach->dev));
		return ERR_PTR(-EXDEV);
	}

	sgt = dma_buf_phys_vec_to_sgt(attach, priv->provider, priv->ranges,
				      priv->nr_ranges, priv->dmabuf->size, dir);
	if (!IS_ERR(sgt)) {
		WRITE_ONCE(priv->nr_mapped, priv->nr_mapped + 1);
		/* the exporter's own field: this importer's mappings */
		attach->priv = (void *)((unsigned long)attach->priv + 1);
	}
	return sgt;
}

static void vfio_pci_dma_buf_unmap(struct dma_buf_attachment *attach,
				   struct sg_table *sgt,
				   enum dma_data_direction dir)
{
	struct vfio_pci_dma_buf *priv = attach->dmabuf->priv;

	dma_resv_assert_held(priv->dmabuf->resv);

	/* Needs nothing from the provider: it may be gone already */
	dma_buf_free_sgt(attach, sgt, dir);
	attach->priv = (void *)((unsigned long)attach->priv - 1);
	WRITE_ONCE(priv->nr_mapped, priv->nr_mapped - 1);
	if (!priv->nr_mapped)
		wake_up_all(&priv->unmap_wq);
}

/*
 * An importer must unmap before it detaches; one that does not would leave
 * every later revoke waiting for a mapping nobody can give back.  Forget
 * its mappings (their IOMMU entries, if any, leak) and say so.
 */
static void vfio_pci_dma_buf_detach(struct dma_buf *dmabuf,
				    struct dma_buf_attachment *attach)
{
	struct vfio_pci_dma_buf *priv = dmabuf->priv;
	unsigned long left = (unsigned long)attach->priv;

	if (!left)
		return;
	pci_warn(priv->pdev, "dma-buf of BAR %u: %s detached with %lu mappings\n",
		 priv->bar, dev_name(attach->dev), left);
	dma_resv_lock(dmabuf->resv, NULL);
	WRITE_ONCE(priv->nr_mapped, priv->nr_mapped - left);
	if (!priv->nr_mapped)
		wake_up_all(&priv->unmap_wq);
	dma_resv_unlock(dmabuf->resv);
}

static void vfio_pci_dma_buf_release(struct dma_buf *dmabuf)
{
	struct vfio_pci_dma_buf *priv = dmabuf->priv;
	/*
	 * Whoever takes @vdev first drops the registration reference: this,
	 * or vfio_pci_dma_buf_cleanup() when the device closes first.  Until
	 * then the reference keeps the device, and taking memory_lock keeps
	 * us from freeing what cleanup may be using.  list_del() of a node
	 * that cleanup unlinked already is harmless.
	 */
	struct vfio_pci_core_device *vdev = xchg(&priv->vdev, NULL);

	if (vdev) {
		down_write(&vdev->memory_lock);
		list_del(&priv->node);
		up_write(&vdev->memory_lock);
		vfio_device_put_registration(&vdev->vdev);
	}
	pci_dev_put(priv->pdev);
	kvfree(priv);
}

static const struct dma_buf_ops vfio_pci_dma_buf_ops = {
	.attach = vfio_pci_dma_buf_attach,
	.detach = vfio_pci_dma_buf_detach,
	.pin = vfio_pci_dma_buf_pin,
	.unpin = vfio_pci_dma_buf_unpin,
	.map_dma_buf = vfio_pci_dma_buf_map,
	.unmap_dma_buf = vfio_pci_dma_buf_unmap,
	.release = vfio_pci_dma_buf_release,
};

/**
 * vfio_pci_is_dma_buf - whether vfio-pci exported a dma-buf
 * @dmabuf: the dma-buf
 *
 * For iommufd, to check a dma-buf before it attaches to it: an exporter's
 * attach callback may take any attaching device for a PCI device.
 *
 * Return: true if @dmabuf is a dma-buf of vfio-pci.
 */
bool vfio_pci_is_dma_buf(struct dma_buf *dmabuf)
{
	return dmabuf->ops == &vfio_pci_dma_buf_ops;
}
EXPORT_SYMBOL_NS_GPL(vfio_pci_is_dma_buf, IOMMUFD_INTERNAL);

/**
 * vfio_pci_dma_buf_iommufd_ranges - the physical ranges behind a dma-buf
 * @attach: a dynamic attachment to the dma-buf
 * @ranges: set to the dma-buf's ranges: CPU physical addresses, in the
 *	order the dma-buf lays them out; valid as long as the dma-buf is
 * @nr_ranges: set to their number
 *
 * For an importer that maps the BAR into IOMMU domains of its own rather
 * than through dma_buf_map_attachment(): iommufd, for
 * IOMMU_IOAS_MAP_FILE, its only intended user (the export is in
 * iommufd's namespace).  Nothing counts the ranges as mapped: the
 * importer must stop using them before its move_notify returns, and
 * then for good.  The PCI topology is checked as
 * pci_p2pdma_check_iommu_path() does for translated DMA.
 *
 * Context: the dma-buf's reservation lock held.
 * Return: 0; -EOPNOTSUPP if the dma-buf is not one of vfio-pci's, or if
 * translated DMA cannot reach the BAR; -ENODEV if the dma-buf is revoked.
 */
int vfio_pci_dma_buf_iommufd_ranges(struct dma_buf_attachment *attach,
				    const struct dma_buf_phys_vec **ranges,
				    unsigned int *nr_ranges)
{
	struct vfio_pci_dma_buf *priv = attach->dmabuf->priv;
	int ret;

	if (!vfio_pci_is_dma_buf(attach->dmabuf))
		return -EOPNOTSUPP;
	dma_resv_assert_held(priv->dmabuf->resv);

	if (priv->revoked)
		return -ENODEV;
	ret = pci_p2pdma_check_iommu_path(attach->dev, priv->provider);
	if (ret)
		return ret;
	*ranges = priv->ranges;
	*nr_ranges = priv->nr_ranges;
	return 0;
}
EXPORT_SYMBOL_NS_GPL(vfio_pci_dma_buf_iommufd_ranges, IOMMUFD_INTERNAL);

/*
 * Called with memory_lock held.  Whether userspace may use the BARs now;
 * a closed device (whose virtual config space is gone) never.
 */
static bool vfio_pci_dma_buf_usable(struct vfio_pci_core_device *vdev)
{
	return !vdev->dmabufs_closed && vdev->vconfig &&
	       !vdev->pm_runtime_engaged && __vfio_pci_memory_enabled(vdev);
}

/*
 * 6.12's dma-buf contract lets an importer use its mapping until it gives
 * it back, which it may do after move_notify returns (from a worker that
 * first stops its engine).  Wait until every mapping is back, as mainline
 * does since 1a8a5227f229; name the importers that take more than a
 * second, once per revoke, and keep waiting: the BAR must not go away
 * under their DMA.  Called with memory_lock held for write and without
 * the resv lock, which the importers need to unmap.
 */
static void vfio_pci_dma_buf_wait_unmapped(struct vfio_pci_dma_buf *priv)
{
	struct dma_buf_attachment *attach;

	if (wait_event_timeout(priv->unmap_wq, !READ_ONCE(priv->nr_mapped),
			       HZ))
		return;
	dma_resv_lock(priv->dmabuf->resv, NULL);
	list_for_each_entry(attach, &priv->dmabuf->attachments, node)
		if (attach->priv)
			pci_warn(priv->pdev,
				 "dma-buf of BAR %u: %s has not unmapped 1 s after the revoke; waiting for it\n",
				 priv->bar, dev_name(attach->dev));
	dma_resv_unlock(priv->dmabuf->resv);
	wait_event(priv->unmap_wq, !READ_ONCE(priv->nr_mapped));
}

/*
 * How long a revoke waits, in all, for the fences of a device's dma-bufs:
 * as long as GPU drivers commonly let a job run before they call it hung
 * (amdgpu's graphics queues, vgem's fences).  Anyone who holds a dma-buf
 * fd can add a fence to it (DMA_BUF_IOCTL_IMPORT_SYNC_FILE) and must not
 * decide alone how long the device's owner waits in its config write,
 * reset or close.  Past the bound, DMA that an importer covers only with
 * a fence may still reach the BAR; the wait for the mappings, which only
 * importers (kernel drivers) hold, has no bound.
 */
#define VFIO_PCI_DMA_BUF_FENCE_WAIT	(10 * HZ)

/* Name the first fence of @priv that has not signalled */
static void vfio_pci_dma_buf_fence_timeout(struct vfio_pci_dma_buf *priv)
{
	unsigned int ms = jiffies_to_msecs(VFIO_PCI_DMA_BUF_FENCE_WAIT);
	struct dma_resv *resv = priv->dmabuf->resv;
	struct dma_resv_iter cursor;
	struct dma_fence *fence;
	bool named = false;

	dma_resv_lock(resv, NULL);
	dma_resv_for_each_fence(&cursor, resv, DMA_RESV_USAGE_BOOKKEEP, fence) {
		/* The names may go once the fence signals */
		rcu_read_lock();
		if (!dma_fence_is_signaled(fence)) {
			dev_warn_ratelimited(&priv->pdev->dev,
					     "dma-buf of BAR %u: fence %s:%s not signalled %u ms after the revoke; revoking without it\n",
					     priv->bar,
					     fence->ops->get_driver_name(fence),
					     fence->ops->get_timeline_name(fence),
					     ms);
			named = true;
		}
		rcu_read_unlock();
		if (named)
			break;
	}
	dma_resv_unlock(resv);
}

/* Called with memory_lock held for write */
static void vfio_pci_dma_buf_restore(struct vfio_pci_dma_buf *priv)
{
	dma_resv_lock(priv->dmabuf->resv, NULL);
	if (priv->revoked) {
		WRITE_ONCE(priv->revoked, false);
		dma_buf_move_notify(priv->dmabuf);
	}
	dma_resv_unlock(priv->dmabuf->resv);
}

/*
 * Called with memory_lock held for write: tell the importers of every
 * dma-buf of @vdev at once, then wait for the fences of those just revoked
 * (bounded, in all), then for every mapping (an importer may give back the
 * mappings of all its buffers at once).  The waits take no resv lock: an
 * importer may need it to unmap.
 */
static void vfio_pci_dma_buf_revoke_all(struct vfio_pci_core_device *vdev)
{
	unsigned long deadline = jiffies + VFIO_PCI_DMA_BUF_FENCE_WAIT;
	struct vfio_pci_dma_buf *priv;
	struct dma_resv *resv;
	long left;

	list_for_each_entry(priv, &vdev->dmabufs, node) {
		dma_resv_lock(priv->dmabuf->resv, NULL);
		priv->revoking = !priv->revoked;
		if (priv->revoking) {
			WRITE_ONCE(priv->revoked, true);
			dma_buf_move_notify(priv->dmabuf);
		}
		dma_resv_unlock(priv->dmabuf->resv);
	}
	list_for_each_entry(priv, &vdev->dmabufs, node) {
		if (!priv->revoking)
			continue;
		priv->revoking = false;
		/*
		 * No importer DMA may be in flight once revoke returns, or it
		 * could reach a BAR that no longer decodes or belongs to
		 * someone else; but a fence may come from any fd holder.
		 */
		resv = priv->dmabuf->resv;
		left = max_t(long, (long)(deadline - jiffies), 0);
		if (!dma_resv_wait_timeout(resv, DMA_RESV_USAGE_BOOKKEEP, false,
					   left))
			vfio_pci_dma_buf_fence_timeout(priv);
	}
	list_for_each_entry(priv, &vdev->dmabufs, node)
		vfio_pci_dma_buf_wait_unmapped(priv);
}

/**
 * vfio_pci_dma_buf_move - revoke or restore the dma-bufs of a device
 * @vdev: the device
 * @revoked: true when userspace is losing access to the BARs, false when it
 *	may have it back
 *
 * Revoking tells every importer to unmap, then waits for the fences of the
 * dma-bufs (10 s at most in all: anyone holding the fd can add one) and
 * for every mapping to be given back, so it must be called before the
 * device loses memory decode.
 * Restoring does nothing unless userspace may use the BARs again (memory
 * decode on, not in low power, device open); it notifies the importers so
 * that they map again.
 *
 * Context: process context, @vdev->memory_lock held for write.
 */
void vfio_pci_dma_buf_move(struct vfio_pci_core_device *vdev, bool revoked)
{
	struct vfio_pci_dma_buf *priv;

	lockdep_assert_held_write(&vdev->memory_lock);

	if (revoked)
		vfio_pci_dma_buf_revoke_all(vdev);
	else if (vfio_pci_dma_buf_usable(vdev))
		list_for_each_entry(priv, &vdev->dmabufs, node)
			vfio_pci_dma_buf_restore(priv);
}

/**
 * vfio_pci_dma_buf_cleanup - revoke the dma-bufs of a device for good
 * @vdev: the device, being closed or removed
 *
 * Revokes every dma-buf exported from @vdev and detaches it from the device:
 * the dma-buf files stay valid for their holders but can never be mapped
 * again.  Until the device is opened again no new dma-buf can be exported.
 *
 * Context: process context, takes @vdev->memory_lock.
 */
void vfio_pci_dma_buf_cleanup(struct vfio_pci_core_device *vdev)
{
	struct vfio_pci_dma_buf *priv, *tmp;

	down_write(&vdev->memory_lock);
	vdev->dmabufs_closed = true;
	vfio_pci_dma_buf_revoke_all(vdev);
	list_for_each_entry_safe(priv, tmp, &vdev->dmabufs, node) {
		/*
		 * While it is on the list and memory_lock is held, a dma-buf
		 * stays allocated: its release callback has not taken @vdev,
		 * or has and waits for memory_lock to unlink it.  So the xchg()
		 * comes last; whoever wins it drops the registration reference
		 * (not the last here: the caller's path holds one).  Nothing
		 * looks at the dma-buf's file, which may be freed and reused
		 * already: a dentry held elsewhere, by an O_PATH open of
		 * /proc/<pid>/fd/<n> say, delays the release callback past
		 * the file's end.
		 */
		list_del_init(&priv->node);
		if (xchg(&priv->vdev, NULL))
			vfio_device_put_registration(&vdev->vdev);
	}
	up_write(&vdev->memory_lock);
}

/**
 * vfio_pci_dma_buf_remove - revoke for good a device that is going away
 * @vdev: the device, being unregistered (unbind or removal)
 *
 * Like vfio_pci_dma_buf_cleanup(), and no dma-buf can be exported from
 * @vdev any more, even if userspace opens it again before it is gone.
 *
 * Context: process context, takes @vdev->memory_lock.
 */
void vfio_pci_dma_buf_remove(struct vfio_pci_core_device *vdev)
{
	down_write(&vdev->memory_lock);
	vdev->dmabufs_removed = true;
	up_write(&vdev->memory_lock);
	vfio_pci_dma_buf_cleanup(vdev);
}

/**
 * vfio_pci_dma_buf_open - allow exports again on a device that was opened
 * @vdev: the device
 *
 * Context: process context, takes @vdev->memory_lock.
 */
void vfio_pci_dma_buf_open(struct vfio_pci_core_device *vdev)
{
	down_write(&vdev->memory_lock);
	vdev->dmabufs_closed = vdev->dmabufs_removed;
	up_write(&vdev->memory_lock);
}

/*
 * Mainline copies the ranges with memdup_array_user(), whose kmalloc()
 * cannot exceed KMALLOC_MAX_SIZE: more ranges than that holds fail there
 * with ENOMEM.  Keep the same limit (262144 ranges with 4 KiB pages and
 * 4 MiB allocations, far beyond what a VMM passes), so that no program
 * sees a difference, and an importer's mapping, which costs a map and an
 * sg entry per range, stays within a few MiB.
 */
#define VFIO_PCI_DMA_BUF_MAX_RANGES \
	(KMALLOC_MAX_SIZE / sizeof(struct vfio_region_dma_range))

/*
 * The checks of the ranges, in mainline's order so that a request with
 * several faults gets mainline's errno: all ranges are read first
 * (EFAULT), then each is checked on its own and their lengths summed
 * (EINVAL), then each is checked against the BAR (EOVERFLOW for an
 * address that wraps around, EINVAL past the end of the BAR).
 */
static int
vfio_pci_dma_buf_get_ranges(struct vfio_pci_dma_buf *priv,
			    struct vfio_region_dma_range __user *uranges)
{
	struct vfio_region_dma_range r;
	u32 i;

	for (i = 0; i < priv->nr_ranges; i++) {
		if (copy_from_user(&r, &uranges[i], sizeof(r)))
			return -EFAULT;
		priv->ranges[i].paddr = r.offset;
		priv->ranges[i].len = r.length;
	}
	return 0;
}

static int vfio_pci_dma_buf_check_lengths(struct vfio_pci_dma_buf *priv,
					  u64 *total)
{
	u32 i;

	*total = 0;
	for (i = 0; i < priv->nr_ranges; i++) {
		if (!priv->ranges[i].len ||
		    !PAGE_ALIGNED(priv->ranges[i].paddr) ||
		    !PAGE_ALIGNED(priv->ranges[i].len) ||
		    check_add_overflow(*total, priv->ranges[i].len, total))
			return -EINVAL;
	}
	/* The DMA API cannot map that much in one go; neither can mainline */
	if ((*total & BIT_ULL(63)) || *total != (size_t)*total)
		return -EINVAL;
	return 0;
}

static int vfio_pci_dma_buf_check_ranges(struct vfio_pci_dma_buf *priv)
{
	u64 start = pci_resource_start(priv->pdev, priv->bar);
	u64 last = pci_resource_end(priv->pdev, priv->bar);
	u64 addr, end;
	u32 i;

	for (i = 0; i < priv->nr_ranges; i++) {
		if (check_add_overflow(start, priv->ranges[i].paddr, &addr) ||
		    check_add_overflow(addr, priv->ranges[i].len, &end))
			return -EOVERFLOW;
		/* lengths are not 0: end - 1 is the range's last byte */
		if (end - 1 > last)
			return -EINVAL;
	}
	for (i = 0; i < priv->nr_ranges; i++)
		priv->ranges[i].paddr += start;
	return 0;
}

/**
 * vfio_pci_core_feature_dma_buf - VFIO_DEVICE_FEATURE_DMA_BUF
 * @device: the vfio device of a vfio_pci_core_device
 * @flags: VFIO_DEVICE_FEATURE flags
 * @uarg: user's struct vfio_device_feature_dma_buf
 * @argsz: size of the user's data
 *
 * Context: process context, the device is open.
 * Return: the new dma-buf file descriptor, 0 for a probe, or a negative
 * errno as documented in include/uapi/linux/vfio.h.
 */
int vfio_pci_core_feature_dma_buf(struct vfio_device *device, u32 flags,
				  void __user *uarg, size_t argsz)
{
	struct vfio_pci_core_device *vdev =
		container_of(device, struct vfio_pci_core_device, vdev);
	struct vfio_device_feature_dma_buf __user *arg = uarg;
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct vfio_device_feature_dma_buf get;
	struct pci_dev *pdev = vdev->pdev;
	struct p2pdma_provider *provider;
	struct vfio_pci_dma_buf *priv;
	struct dma_buf *dmabuf;
	unsigned int bar;
	bool closed;
	char *name;
	u64 size;
	int ret;

	/*
	 * A driver that never exports says so to PROBE too, as in mainline:
	 * VMMs probe before they try.  Variant drivers opt in with
	 * @dmabuf_exportable, as the BARs they show userspace may not be the
	 * hardware's.
	 */
	if (!vdev->dmabuf_exportable)
		return -EOPNOTSUPP;

	ret = vfio_check_feature(flags, argsz, VFIO_DEVICE_FEATURE_GET,
				 sizeof(get));
	if (ret != 1)
		return ret;

	if (copy_from_user(&get, arg, sizeof(get)))
		return -EFAULT;
	/* open_flags go to the new file as in mainline; it keeps what it can */
	if (get.flags || !get.nr_ranges)
		return -EINVAL;
	/*
	 * Unlike mainline, the ranges must lie within argsz, as the data of
	 * every other feature does.
	 */
	if (argsz < struct_size(&get, dma_ranges, get.nr_ranges))
		return -EINVAL;
	if (get.region_index > VFIO_PCI_BAR5_REGION_INDEX)
		return -ENODEV;
	bar = array_index_nospec(get.region_index, PCI_STD_NUM_BARS);

	/*
	 * Claim the BAR, as vfio's mmap and read/write do, before any peer
	 * can reach it: no other driver may own it while the device is open,
	 * and vfio releases it only on close, after revoking the dma-bufs.
	 * A BAR that is not implemented cannot be claimed.  As in mainline
	 * (702809dabdec), any failure is ENODEV.  The claim is not serialised
	 * against vfio's own (nor are those against each other): a caller
	 * that loses the race sees the BAR claimed when it looks again.
	 */
	if (!pci_resource_len(pdev, bar)) {
		pci_info_ratelimited(pdev, "dma-buf: BAR %u is not implemented\n",
				     bar);
		return -ENODEV;
	}
	if (READ_ONCE(vdev->dmabufs_closed))	/* a hint; checked again below */
		return -ENODEV;
	/*
	 * vfio_pci_core_setup_barmap() is not safe against a concurrent
	 * caller: of two first claims, one would find the BAR requested by
	 * the other and fail.  Exports claim one at a time; a failure while
	 * vfio's own read/write or mmap claimed it first is none.
	 */
	down_write(&vdev->memory_lock);
	ret = vfio_pci_core_setup_barmap(vdev, bar);
	up_write(&vdev->memory_lock);
	if (ret && !READ_ONCE(vdev->barmap[bar])) {
		pci_info_ratelimited(pdev, "dma-buf: cannot claim BAR %u (%d)\n",
				     bar, ret);
		return -ENODEV;
	}

	/* As in mainline, more ranges than it can copy are ENOMEM */
	if (get.nr_ranges > VFIO_PCI_DMA_BUF_MAX_RANGES)
		return -ENOMEM;
	priv = kvzalloc(struct_size(priv, ranges, get.nr_ranges),
			GFP_KERNEL_ACCOUNT);
	if (!priv)
		return -ENOMEM;
	priv->nr_ranges = get.nr_ranges;
	priv->bar = bar;
	priv->pdev = pdev;
	init_waitqueue_head(&priv->unmap_wq);

	ret = vfio_pci_dma_buf_get_ranges(priv, arg->dma_ranges);
	if (!ret)
		ret = vfio_pci_dma_buf_check_lengths(priv, &size);
	if (ret)
		goto err_free;

	/*
	 * Peers may reach what userspace could mmap, nothing else: vfio never
	 * maps I/O port BARs, and a variant driver may refuse to map others.
	 * 6.12's vfio lets userspace mmap the MSI-X table (interrupt
	 * remapping protects the host from it), so an MSI-X BAR is exported
	 * like any other.  A BAR smaller than a page holds no range.
	 */
	if (!(pci_resource_flags(pdev, bar) & IORESOURCE_MEM) ||
	    !vdev->bar_mmap_supported[bar]) {
		pci_info_ratelimited(pdev,
				     "dma-buf: BAR %u is not a memory BAR userspace may mmap\n",
				     bar);
		ret = -EINVAL;
		goto err_free;
	}
	ret = vfio_pci_dma_buf_check_ranges(priv);
	if (ret == -EINVAL && pci_resource_len(pdev, bar) < PAGE_SIZE)
		pci_info_ratelimited(pdev,
				     "dma-buf: BAR %u is smaller than a page: no range fits\n",
				     bar);
	if (ret)
		goto err_free;

	/* vfio_pci_core_init_dev() set the providers up, as mainline does */
	provider = pcim_p2pdma_provider(pdev, bar);
	if (!provider) {
		ret = -EINVAL;
		goto err_free;
	}
	priv->provider = provider;

	/* The device fd we are called through holds one */
	if (!vfio_device_try_get_registration(&vdev->vdev)) {
		ret = -ENODEV;
		goto err_free;
	}
	priv->vdev = vdev;
	pci_dev_get(pdev);

	exp_info.ops = &vfio_pci_dma_buf_ops;
	exp_info.exp_name = "vfio-pci";
	exp_info.size = size;
	exp_info.flags = get.open_flags;
	exp_info.priv = priv;
	dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(dmabuf)) {
		ret = PTR_ERR(dmabuf);
		goto err_put;
	}
	priv->dmabuf = dmabuf;
	/* For fdinfo and debugfs' dma_buf/bufinfo; a failure is harmless */
	name = kasprintf(GFP_KERNEL, "%s bar%u", pci_name(pdev), bar);
	spin_lock(&dmabuf->name_lock);
	dmabuf->name = name;
	spin_unlock(&dmabuf->name_lock);

	down_write(&vdev->memory_lock);
	dma_resv_lock(dmabuf->resv, NULL);
	priv->revoked = !vfio_pci_dma_buf_usable(vdev);
	/*
	 * Decided under the lock: once the dma-buf is on the list, a removal
	 * may take @vdev from it at any time.
	 */
	closed = vdev->dmabufs_closed;
	if (closed)
		priv->vdev = NULL;
	else
		list_add_tail(&priv->node, &vdev->dmabufs);
	dma_resv_unlock(dmabuf->resv);
	up_write(&vdev->memory_lock);

	if (closed) {
		/* Being closed or removed under us */
		vfio_device_put_registration(&vdev->vdev);
		dma_buf_put(dmabuf);
		return -ENODEV;
	}

	/*
	 * Past this point the release callback undoes everything.  Should the
	 * device be closed or removed right now, the new fd is simply born
	 * revoked.
	 */
	ret = dma_buf_fd(dmabuf, get.open_flags);
	if (ret < 0)
		dma_buf_put(dmabuf);
	return ret;

err_put:
	pci_dev_put(priv->pdev);
	vfio_device_put_registration(&vdev->vdev);
err_free:
	kvfree(priv);
	return ret;
}
