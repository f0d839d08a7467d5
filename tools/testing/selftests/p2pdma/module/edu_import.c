// SPDX-License-Identifier: GPL-2.0
/*
 * p2pdma_edu as a dma-buf importer: P2PDMA_EDU_IMPORT attaches an edu
 * device to a dma-buf the way an RDMA driver does for a dma-buf MR
 * (dynamic, peer-to-peer, unmapping from move_notify under the resv lock),
 * or as a static or pinned importer to check that the exporter refuses
 * those.  It counts what it sees so that tests can observe revocation.
 *
 * And a broken exporter for importers' sake (P2PDMA_EDU_EXPORT_SHORT).
 */
#include <linux/dma-buf.h>
#include <linux/dma-fence.h>
#include <linux/dma-resv.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "p2pdma_edu_core.h"

/*
 * One P2PDMA_EDU_IMPORT.  @sgt, @pinned, @revoked and the counters are
 * protected by the dma-buf's resv lock.
 */
struct p2pdma_edu_attachment {
	struct p2pdma_edu *edu;		/* the importer, referenced */
	struct pci_dev *pdev;		/* its PCI device */
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
	p2pdma_edu_put(imp->edu);
	kfree(imp);
}

static void p2pdma_edu_probe_move_notify(struct dma_buf_attachment *attach)
{
}

static const struct dma_buf_attach_ops p2pdma_edu_probe_ops = {
	.allow_peer2peer = true,
	.move_notify = p2pdma_edu_probe_move_notify,
};

/*
 * Attach as a device that is not on PCI, map, and detach: the exporter's
 * answer, from the attach or the map
 */
static long p2pdma_edu_attach_non_pci(int fd)
{
	struct dma_buf_attachment *attach;
	struct dma_buf *dmabuf;
	struct sg_table *sgt;
	long ret = 0;

	dmabuf = dma_buf_get(fd);
	if (IS_ERR(dmabuf))
		return PTR_ERR(dmabuf);
	attach = dma_buf_dynamic_attach(dmabuf, p2pdma_edu_misc.this_device,
					&p2pdma_edu_probe_ops, NULL);
	if (IS_ERR(attach)) {
		ret = PTR_ERR(attach);
		goto out_put;
	}
	dma_resv_lock(dmabuf->resv, NULL);
	sgt = dma_buf_map_attachment(attach, DMA_BIDIRECTIONAL);
	if (IS_ERR(sgt))
		ret = PTR_ERR(sgt);
	else
		dma_buf_unmap_attachment(attach, sgt, DMA_BIDIRECTIONAL);
	dma_resv_unlock(dmabuf->resv);
	dma_buf_detach(dmabuf, attach);
out_put:
	dma_buf_put(dmabuf);
	return ret;
}

long p2pdma_edu_ioctl_import(struct p2pdma_edu_file *f, void __user *arg)
{
	const struct dma_buf_attach_ops *ops = &p2pdma_edu_dynamic_ops;
	struct p2pdma_edu_import req;
	struct p2pdma_edu_attachment *imp;
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

	imp->edu = p2pdma_edu_get(req.importer, true);
	if (!imp->edu) {
		ret = -ENODEV;
		goto err_free;
	}
	imp->pdev = imp->edu->pdev;

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
	p2pdma_edu_put(imp->edu);
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

	offset = req.offset;
	for_each_sgtable_dma_sg(imp->sgt, sg, i) {
		u64 len = sg_dma_len(sg);

		if (offset >= len) {
			offset -= len;
			continue;
		}
		len = min(len - offset, req.length - done);
		ret = p2pdma_edu_xfer(imp->edu, req.to_device,
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

long p2pdma_edu_ioctl_import_op(struct p2pdma_edu_file *f, unsigned int cmd,
				void __user *arg)
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

/* The file is being closed: undo its imports */
void p2pdma_edu_release_imports(struct p2pdma_edu_file *f)
{
	struct p2pdma_edu_attachment *imp;
	unsigned long handle;

	xa_for_each(&f->imports, handle, imp)
		p2pdma_edu_import_free(imp);
	xa_destroy(&f->imports);
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

long p2pdma_edu_ioctl_export_short(void __user *arg)
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
