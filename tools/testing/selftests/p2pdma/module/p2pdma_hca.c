// SPDX-License-Identifier: GPL-2.0
/*
 * p2pdma_hca: the stand-in HCA of the p2pdma selftests, a module of its
 * own so that the P2P tests do not need RDMA.  For every edu bound to
 * p2pdma_edu it makes a struct ib_device of the RDMA core with edu as its
 * DMA device (never registered), whose dma-buf MRs work the way mlx5's
 * do.  /dev/p2pdma_hca takes the MR ioctls of p2pdma_edu.h; MRs belong to
 * the open file and are deregistered when it is closed.
 *
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
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/module.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <rdma/ib_umem.h>
#include <rdma/ib_verbs.h>
#include <rdma/iter.h>

#include "p2pdma_edu_core.h"

/* The HCA of one edu */
struct p2pdma_hca {
	struct p2pdma_edu *edu;		/* referenced */
	struct ib_device *ibdev;
	struct list_head node;
};

static LIST_HEAD(p2pdma_hca_list);
static DEFINE_MUTEX(p2pdma_hca_lock);		/* the list */
static DEFINE_MUTEX(p2pdma_hca_bench_lock);	/* one benchmark at a time */

/* What an open /dev/p2pdma_hca owns */
struct p2pdma_hca_file {
	struct xarray mrs;		/* handle -> struct p2pdma_hca_mr */
	struct mutex lock;		/* serialises the MR ioctls */
};

/*
 * One MR.  @table, @entries, @page_size and the counters are protected by
 * the dma-buf's resv lock.  @page_size is 0 until the first mapping.
 */
struct p2pdma_hca_mr {
	struct p2pdma_edu *edu;		/* the DMA engine, referenced */
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

static struct dma_resv *p2pdma_hca_mr_resv(struct p2pdma_hca_mr *mr)
{
	return mr->umem_dmabuf->attach->dmabuf->resv;
}

/* Called with the resv lock held: the device stops using the mapping. */
static void p2pdma_hca_mr_zap(struct p2pdma_hca_mr *mr)
{
	kvfree(mr->table);
	mr->table = NULL;
	mr->entries = 0;
}

/* Called with the resv lock held and the umem mapped. */
static int p2pdma_hca_mr_build(struct p2pdma_hca_mr *mr)
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
static int p2pdma_hca_mr_fault_locked(struct p2pdma_hca_mr *mr)
{
	int ret;

	if (mr->table)
		return 0;
	/* -ENODEV while revoked, by the exporter or (pinned) for good */
	ret = ib_umem_dmabuf_map_pages(mr->umem_dmabuf);
	if (!ret) {
		ret = p2pdma_hca_mr_build(mr);
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
static void p2pdma_hca_mr_invalidate(struct dma_buf_attachment *attach)
{
	struct ib_umem_dmabuf *umem_dmabuf = attach->importer_priv;
	struct p2pdma_hca_mr *mr = umem_dmabuf->private;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (!mr)
		return;
	mr->invalidations++;
	p2pdma_edu_watch_record(&mr->watch, mr->invalidations);
	p2pdma_hca_mr_zap(mr);
	ib_umem_dmabuf_unmap_pages(umem_dmabuf);
}

static const struct dma_buf_attach_ops p2pdma_hca_mr_ops = {
	.allow_peer2peer = true,
	.move_notify = p2pdma_hca_mr_invalidate,
};

/* Revoke callback of a pinned revocable MR; the core unmaps and unpins. */
static void p2pdma_hca_mr_revoke(void *priv)
{
	struct p2pdma_hca_mr *mr = priv;

	mr->invalidations++;
	p2pdma_edu_watch_record(&mr->watch, mr->invalidations);
	p2pdma_hca_mr_zap(mr);
}

static void p2pdma_hca_mr_free(struct p2pdma_hca_mr *mr)
{
	/* Serialised with move_notify; calls the revoke callback if pinned */
	if (mr->umem_dmabuf)
		ib_umem_release(&mr->umem_dmabuf->umem);
	kvfree(mr->table);
	p2pdma_edu_watch_release(&mr->watch);
	put_device(&mr->ibdev->dev);
	p2pdma_edu_put(mr->edu);
	kfree(mr);
}

static int p2pdma_hca_mr_get_umem(struct p2pdma_hca_mr *mr,
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
						 p2pdma_hca_mr_revoke, mr);
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
						 &p2pdma_hca_mr_ops);
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
	ret = p2pdma_hca_mr_fault_locked(mr);
	dma_resv_unlock(umem_dmabuf->attach->dmabuf->resv);
	return ret;
}

/* An MR of the stand-in HCA of edu @req->importer, before its umem */
static struct p2pdma_hca_mr *
p2pdma_hca_mr_alloc(const struct p2pdma_edu_reg_mr *req)
{
	struct p2pdma_hca_mr *mr;
	struct p2pdma_hca *hca;

	mr = kzalloc(sizeof(*mr), GFP_KERNEL);
	if (!mr)
		return ERR_PTR(-ENOMEM);
	mr->iova = req->iova;
	mr->length = req->length;
	mr->pgsz_bitmap = req->pgsz_bitmap;
	mr->pinned = !!req->flags;

	mutex_lock(&p2pdma_hca_lock);
	list_for_each_entry(hca, &p2pdma_hca_list, node) {
		if (p2pdma_edu_addr(hca->edu->pdev) == req->importer) {
			kref_get(&hca->edu->kref);
			mr->edu = hca->edu;
			mr->ibdev = hca->ibdev;
			get_device(&mr->ibdev->dev);
			break;
		}
	}
	mutex_unlock(&p2pdma_hca_lock);
	if (!mr->edu) {
		kfree(mr);
		return ERR_PTR(-ENODEV);
	}
	return mr;
}

static long p2pdma_hca_ioctl_reg_mr(struct p2pdma_hca_file *f,
				    void __user *arg)
{
	struct p2pdma_edu_reg_mr req;
	struct p2pdma_hca_mr *mr;
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

	mr = p2pdma_hca_mr_alloc(&req);
	if (IS_ERR(mr))
		return PTR_ERR(mr);
	ret = p2pdma_hca_mr_get_umem(mr, &req);
	if (ret)
		goto err_free;
	ret = xa_alloc(&f->mrs, &handle, mr, xa_limit_32b, GFP_KERNEL);
	if (ret)
		goto err_free;

	dma_resv_lock(p2pdma_hca_mr_resv(mr), NULL);
	req.handle = handle;
	req.page_size = mr->page_size;
	req.entries = mr->entries;
	req.umem_pages = mr->umem_pages;
	dma_resv_unlock(p2pdma_hca_mr_resv(mr));
	if (copy_to_user(arg, &req, sizeof(req))) {
		xa_erase(&f->mrs, handle);
		ret = -EFAULT;
		goto err_free;
	}
	return 0;

err_free:
	p2pdma_hca_mr_free(mr);
	return ret;
}

/*
 * An RDMA write or read: translate each block of the range with the table
 * and have edu DMA to it, all under the resv lock so that move_notify
 * waits for the transfer, as it waits for an HCA's zap to complete.
 */
static long p2pdma_hca_ioctl_mr_access(struct p2pdma_hca_mr *mr,
				       void __user *arg)
{
	struct p2pdma_edu_mr_access req;
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

	dma_resv_lock(p2pdma_hca_mr_resv(mr), NULL);
	ret = p2pdma_hca_mr_fault_locked(mr);
	if (ret)
		goto out_unlock;

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
		ret = p2pdma_edu_xfer(mr->edu, req.write,
				      mr->table[block] + off, buf + done, len);
		done += len;
	}
out_unlock:
	dma_resv_unlock(p2pdma_hca_mr_resv(mr));
	return p2pdma_edu_put_buf(buf, req.user_buf, req.length, req.write,
				  ret);
}

static long p2pdma_hca_ioctl_mr_info(struct p2pdma_hca_mr *mr,
				     void __user *arg)
{
	struct p2pdma_edu_mr_info __user *uinfo = arg;
	struct p2pdma_edu_mr_info info = {};
	u32 index;

	if (get_user(info.handle, &uinfo->handle) ||
	    get_user(index, &uinfo->seen_index))
		return -EFAULT;
	dma_resv_lock(p2pdma_hca_mr_resv(mr), NULL);
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
	dma_resv_unlock(p2pdma_hca_mr_resv(mr));
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long p2pdma_hca_ioctl_mr_op(struct p2pdma_hca_file *f,
				   unsigned int cmd, void __user *arg)
{
	struct p2pdma_hca_mr *mr;
	u32 handle;
	long ret;

	if (get_user(handle, (u32 __user *)arg))
		return -EFAULT;

	mutex_lock(&f->lock);
	mr = xa_load(&f->mrs, handle);
	if (!mr) {
		ret = -ENOENT;
		goto out;
	}
	switch (cmd) {
	case P2PDMA_EDU_DEREG_MR:
		xa_erase(&f->mrs, handle);
		p2pdma_hca_mr_free(mr);
		ret = 0;
		break;
	case P2PDMA_EDU_MR_ACCESS:
		ret = p2pdma_hca_ioctl_mr_access(mr, arg);
		break;
	default:
		ret = p2pdma_hca_ioctl_mr_info(mr, arg);
		break;
	}
out:
	mutex_unlock(&f->lock);
	return ret;
}

/* P2PDMA_EDU_BENCH_REG: registration timed as the map benchmarks are */
struct p2pdma_hca_bench_reg_ctx {
	struct p2pdma_edu_reg_mr req;
	struct p2pdma_hca_mr *mr;
	unsigned int nents;
	unsigned long page_size;
	size_t entries;
};

/* P2PDMA_EDU_REG_MR without the handle */
static int p2pdma_hca_bench_reg_mr(void *ctx)
{
	struct p2pdma_hca_bench_reg_ctx *c = ctx;
	struct p2pdma_hca_mr *mr;
	int ret;

	mr = p2pdma_hca_mr_alloc(&c->req);
	if (IS_ERR(mr))
		return PTR_ERR(mr);
	ret = p2pdma_hca_mr_get_umem(mr, &c->req);
	if (ret) {
		p2pdma_hca_mr_free(mr);
		return ret;
	}
	dma_resv_lock(p2pdma_hca_mr_resv(mr), NULL);
	if (mr->umem_dmabuf->sgt)
		c->nents = mr->umem_dmabuf->umem.sgt_append.sgt.nents;
	c->page_size = mr->page_size;
	c->entries = mr->entries;
	dma_resv_unlock(p2pdma_hca_mr_resv(mr));
	c->mr = mr;
	return 0;
}

static void p2pdma_hca_bench_dereg_mr(void *ctx)
{
	struct p2pdma_hca_bench_reg_ctx *c = ctx;

	p2pdma_hca_mr_free(c->mr);
	c->mr = NULL;
}

static const struct p2pdma_edu_bench_ops p2pdma_hca_bench_reg_ops = {
	.map = p2pdma_hca_bench_reg_mr,
	.unmap = p2pdma_hca_bench_dereg_mr,
};

static long p2pdma_hca_ioctl_bench_reg(void __user *arg)
{
	struct p2pdma_hca_bench_reg_ctx c = {};
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

	mutex_lock(&p2pdma_hca_bench_lock);
	ret = p2pdma_edu_bench_run(&p2pdma_hca_bench_reg_ops, &c,
				   req.iterations, req.budget_ms, &req.runs,
				   &req.iommu_maps, &req.reg, &req.dereg);
	mutex_unlock(&p2pdma_hca_bench_lock);
	if (ret)
		return ret;
	req.nents = c.nents;
	req.page_size = c.page_size;
	req.entries = c.entries;
	return copy_to_user(arg, &req, sizeof(req)) ? -EFAULT : 0;
}

static long p2pdma_hca_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	struct p2pdma_hca_file *f = file->private_data;
	void __user *uarg = (void __user *)arg;
	long ret;

	switch (cmd) {
	case P2PDMA_EDU_REG_MR:
		mutex_lock(&f->lock);
		ret = p2pdma_hca_ioctl_reg_mr(f, uarg);
		mutex_unlock(&f->lock);
		return ret;
	case P2PDMA_EDU_MR_ACCESS:
	case P2PDMA_EDU_MR_INFO:
	case P2PDMA_EDU_DEREG_MR:
		return p2pdma_hca_ioctl_mr_op(f, cmd, uarg);
	case P2PDMA_EDU_BENCH_REG:
		return p2pdma_hca_ioctl_bench_reg(uarg);
	default:
		return -ENOTTY;
	}
}

static int p2pdma_hca_open(struct inode *inode, struct file *file)
{
	struct p2pdma_hca_file *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	xa_init_flags(&f->mrs, XA_FLAGS_ALLOC);
	mutex_init(&f->lock);
	file->private_data = f;
	return 0;
}

static int p2pdma_hca_release(struct inode *inode, struct file *file)
{
	struct p2pdma_hca_file *f = file->private_data;
	struct p2pdma_hca_mr *mr;
	unsigned long handle;

	xa_for_each(&f->mrs, handle, mr)
		p2pdma_hca_mr_free(mr);
	xa_destroy(&f->mrs);
	mutex_destroy(&f->lock);
	kfree(f);
	return 0;
}

static const struct file_operations p2pdma_hca_fops = {
	.owner = THIS_MODULE,
	.open = p2pdma_hca_open,
	.release = p2pdma_hca_release,
	.unlocked_ioctl = p2pdma_hca_ioctl,
};

static struct miscdevice p2pdma_hca_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "p2pdma_hca",
	.fops = &p2pdma_hca_fops,
};

static int p2pdma_hca_add(struct p2pdma_edu *edu)
{
	struct p2pdma_hca *hca;
	int ret;

	hca = kzalloc(sizeof(*hca), GFP_KERNEL);
	if (!hca)
		return -ENOMEM;
	hca->ibdev = _ib_alloc_device(sizeof(*hca->ibdev));
	if (!hca->ibdev) {
		kfree(hca);
		return -ENOMEM;
	}
	hca->ibdev->dma_device = &edu->pdev->dev;
	ret = dev_set_name(&hca->ibdev->dev, "edu_hca_%s", pci_name(edu->pdev));
	if (ret) {
		ib_dealloc_device(hca->ibdev);
		kfree(hca);
		return ret;
	}
	kref_get(&edu->kref);
	hca->edu = edu;
	mutex_lock(&p2pdma_hca_lock);
	list_add_tail(&hca->node, &p2pdma_hca_list);
	mutex_unlock(&p2pdma_hca_lock);
	return 0;
}

/* MRs keep the ib_device and edu until they are deregistered */
static void p2pdma_hca_remove(struct p2pdma_edu *edu)
{
	struct p2pdma_hca *hca, *found = NULL;

	mutex_lock(&p2pdma_hca_lock);
	list_for_each_entry(hca, &p2pdma_hca_list, node) {
		if (hca->edu == edu) {
			list_del(&hca->node);
			found = hca;
			break;
		}
	}
	mutex_unlock(&p2pdma_hca_lock);
	if (!found)
		return;
	ib_dealloc_device(found->ibdev);
	p2pdma_edu_put(found->edu);
	kfree(found);
}

static struct p2pdma_edu_client p2pdma_hca_client = {
	.add = p2pdma_hca_add,
	.remove = p2pdma_hca_remove,
};

static int __init p2pdma_hca_init(void)
{
	int ret;

	ret = misc_register(&p2pdma_hca_misc);
	if (ret)
		return ret;
	return p2pdma_edu_register_client(&p2pdma_hca_client);
}
module_init(p2pdma_hca_init);

static void __exit p2pdma_hca_exit(void)
{
	/* No MR is left: each holds the module through its open file */
	p2pdma_edu_unregister_client(&p2pdma_hca_client);
	misc_deregister(&p2pdma_hca_misc);
}
module_exit(p2pdma_hca_exit);

MODULE_DESCRIPTION("A stand-in RDMA HCA on QEMU's edu, for selftests");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(DMA_BUF);
MODULE_IMPORT_NS(P2PDMA_EDU);
