// SPDX-License-Identifier: GPL-2.0
/*
 * p2pdma_hca: the stand-in HCA of the p2pdma selftests, a module of its
 * own so that the P2P tests do not need RDMA.  For every edu bound to
 * p2pdma_edu it registers an RDMA device, p2pdma_hca<n>, with edu as its
 * DMA device.  Userspace reaches it the way libibverbs reaches mlx5:
 * through uverbs (/dev/infiniband/uverbs<n>), which takes the user
 * context, the PD, and dma-buf MRs (UVERBS_METHOD_REG_DMABUF_MR, the
 * ioctl behind ibv_reg_dmabuf_mr()), with uverbs' own checks and object
 * lifetimes.  MRs belong to the uverbs file.  When edu goes (unbind,
 * hot-unplug, rmmod) the device is unregistered: uverbs disassociates
 * every open file and deregisters every MR before remove() returns.
 *
 * What the hardware would do, userspace asks of /dev/p2pdma_hca: QPs, and
 * RDMA reads and writes on them into an MR named by its key.  QPs belong
 * to that open file.
 *
 * Its dma-buf MRs model 6.12's mlx5, which is what ibv_reg_dmabuf_mr()
 * reaches on real hardware:
 *
 *  - Registration (mlx5_ib_reg_user_mr_dmabuf()): a dynamic importer
 *    through ib_umem_dmabuf_get(), and a translation table (the mkey's
 *    MTT) of PAGE_SIZE blocks (mlx5_umem_dmabuf_default_pgsz()), filled
 *    by a first, synchronous fault (mlx5_ib_init_dmabuf_mr()); its errno
 *    fails the registration.  The table keeps its block size for the
 *    MR's life.  P2PDMA_EDU_MR_PGSZ_LARGE asks for larger blocks, which
 *    mlx5 does not use for dynamic MRs; that mode is the stand-in's own.
 *  - move_notify (mlx5_ib_dmabuf_invalidate_cb()): nothing if nothing is
 *    mapped; else zap the entries by walking the umem's DMA blocks, as
 *    mlx5r_umr_update_mr_pas() with MLX5_IB_UPD_XLT_ZAP does, wait until
 *    no access uses an old entry (the UMR's completion: the hardware is
 *    done with the translation), then ib_umem_dmabuf_unmap_pages().
 *  - Accesses (RDMA reads and writes on a QP) run outside the resv lock,
 *    like hardware.  Each piece reads its entry under the table's lock
 *    and counts itself in flight until its DMA ends.
 *  - A piece whose entry is not present raises a page fault, handled by
 *    a workqueue as mlx5's page-fault EQ work is: under the resv lock,
 *    ib_umem_dmabuf_map_pages() and the entries written again
 *    (pagefault_dmabuf_mr()).  -EAGAIN resumes the QP and the piece is
 *    retried; any other error resumes it with an error
 *    (mlx5_ib_page_fault_resume(..., 1)): the request completes in
 *    error and the QP stays in the error state until it is destroyed.
 *    A revoke thus keeps the MR and kills the QPs that touch it.
 *
 * Not modelled: mlx5 resumes the faulting QP and lets the hardware retry
 * the packet; here the same thread retries at most
 * P2PDMA_HCA_FAULT_RETRIES times.  Faults of different QPs are not
 * batched, and there is no prefetch.
 *
 * The pinned variants (ib_umem_dmabuf_get_pinned(), which 6.12's efa,
 * irdma and bnxt_re use, and the revocable pin of mainline's irdma and
 * erdma) are there for the exporter's refusal and the RDMA core's
 * revocation; a revoked pinned MR faults with -ENODEV for good.
 */
#include <linux/completion.h>
#include <linux/dma-buf.h>
#include <linux/dma-resv.h>
#include <linux/ktime.h>
#include <linux/module.h>
#include <linux/refcount.h>
#include <linux/sched/signal.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/xarray.h>
#include <rdma/ib_umem.h>
#include <rdma/ib_verbs.h>
#include <rdma/iter.h>

#define UVERBS_MODULE_NAME p2pdma_hca
#include <rdma/uverbs_named_ioctl.h>

#include "p2pdma_edu_core.h"

/* A present entry of the table: the block's DMA address | PRESENT */
#define P2PDMA_HCA_MTT_PRESENT	BIT_ULL(0)
/* An access piece: what edu moves at once, as a packet */
#define P2PDMA_HCA_PIECE	SZ_2K
/* Faults of one piece (that returned 0 or -EAGAIN) before the QP gives up */
#define P2PDMA_HCA_FAULT_RETRIES	100
/* The access of the benchmark's MRs, as the tests ask through uverbs */
#define P2PDMA_HCA_ACCESS	(IB_ACCESS_LOCAL_WRITE | \
				 IB_ACCESS_REMOTE_WRITE | \
				 IB_ACCESS_REMOTE_READ)

/* The HCA of one edu: a registered RDMA device */
struct p2pdma_hca {
	struct ib_device ibdev;
	struct p2pdma_edu *edu;		/* referenced */
	struct list_head node;
};

struct p2pdma_hca_ucontext {
	struct ib_ucontext ibucontext;
};

struct p2pdma_hca_pd {
	struct ib_pd ibpd;
};

static struct p2pdma_hca *to_hca(struct ib_device *ibdev)
{
	return container_of(ibdev, struct p2pdma_hca, ibdev);
}

static LIST_HEAD(p2pdma_hca_list);
static DEFINE_MUTEX(p2pdma_hca_lock);		/* the list */
/* One registration benchmark at a time */
static DEFINE_MUTEX(p2pdma_hca_bench_lock);
/* Page faults, as mlx5's page-fault work of its event queues */
static struct workqueue_struct *p2pdma_hca_wq;
/*
 * The MRs of every HCA by key (lkey = rkey), handed out cyclically so
 * that a stale key does not name the next MR at once
 */
static DEFINE_XARRAY_ALLOC1(p2pdma_hca_keys);
static u32 p2pdma_hca_next_key;

/* What an open /dev/p2pdma_hca owns */
struct p2pdma_hca_file {
	struct xarray qps;		/* handle -> struct p2pdma_hca_qp */
	struct mutex lock;		/* serialises the ioctls */
};

/* A QP: the state an error leaves behind.  Under the file's lock. */
struct p2pdma_hca_qp {
	bool error;
	int last_error;
	u32 completions;
	u32 flushed;
	u32 page_faults;
	u32 retries;
};

/*
 * One MR.  @users counts the key's lookups in progress and the owner's
 * reference; deregistration erases the key and waits for @released.
 * @umem_pages, @page_size (0 until the first mapping), @valid,
 * the counters, the times and @watch are protected by the dma-buf's resv
 * lock.
 * @table is allocated by the first mapping, with @entries entries, and
 * kept; its entries are written under the resv lock and @xlt_lock, and
 * read by accesses under @xlt_lock alone.
 */
struct p2pdma_hca_mr {
	struct ib_mr ibmr;
	refcount_t users;
	struct completion released;
	struct p2pdma_edu *edu;		/* the DMA engine, referenced */
	struct p2pdma_hca *hca;		/* its struct device referenced */
	struct ib_umem_dmabuf *umem_dmabuf;
	u64 iova;
	u64 length;
	unsigned long pgsz_bitmap;
	size_t umem_pages;
	bool pinned;
	int access;			/* IB_ACCESS_* of the registration */
	struct mutex xlt_lock;		/* @table's entries, @valid */
	u64 *table;
	size_t entries;
	unsigned long page_size;
	bool valid;			/* every entry written since the zap */
	/* access pieces between reading their entry and the end of the DMA */
	atomic_t inflight;
	wait_queue_head_t inflight_wait;
	u32 invalidations;
	u32 zap_waits;			/* zaps that found a piece in flight */
	u32 inflight_at_unmap;		/* zaps that let one run on */
	u32 faults;
	u32 fault_errors;
	int last_error;
	u32 inject_eagain;		/* faults to fail with -EAGAIN first */
	u64 fault_ns;			/* the last mapping: map and table */
	u64 invalidate_ns;		/* the last unmapping move_notify */
	struct p2pdma_edu_watch watch;
};

static struct p2pdma_hca_mr *to_hca_mr(struct ib_mr *ibmr)
{
	return container_of(ibmr, struct p2pdma_hca_mr, ibmr);
}

static struct dma_resv *p2pdma_hca_mr_resv(struct p2pdma_hca_mr *mr)
{
	return mr->umem_dmabuf->attach->dmabuf->resv;
}

/*
 * Called with the resv lock held, the umem still mapped: clear the entry
 * of every DMA block of the umem, then wait for the accesses that read an
 * entry before, as the ZAP's completion does.  No DMA uses the mapping
 * once this returns.
 */
static void p2pdma_hca_mr_zap(struct p2pdma_hca_mr *mr)
{
	struct ib_umem *umem = &mr->umem_dmabuf->umem;
	struct ib_block_iter biter;
	size_t i = 0;

	mutex_lock(&mr->xlt_lock);
	if (mr->table && mr->umem_dmabuf->sgt) {
		rdma_umem_for_each_dma_block(umem, &biter, mr->page_size) {
			if (i == mr->entries)
				break;
			mr->table[i++] = 0;
		}
	}
	mr->valid = false;
	mutex_unlock(&mr->xlt_lock);
	if (atomic_read(&mr->inflight))
		mr->zap_waits++;
	wait_event(mr->inflight_wait, !atomic_read(&mr->inflight));
	/* What the caller's unmap would pull from under the device */
	if (atomic_read(&mr->inflight))
		mr->inflight_at_unmap++;
}

/*
 * Called with the resv lock held and the umem mapped: write an entry for
 * every DMA block.  The first mapping picks the block size and allocates
 * the table; later ones must fit it.
 */
static int p2pdma_hca_mr_populate(struct p2pdma_hca_mr *mr)
{
	struct ib_umem *umem = &mr->umem_dmabuf->umem;
	struct ib_block_iter biter;
	unsigned long pgsz;
	size_t n, i = 0;

	pgsz = ib_umem_find_best_pgsz(umem, mr->page_size ?: mr->pgsz_bitmap,
				      mr->iova);
	if (!pgsz)
		return -EINVAL;
	n = ib_umem_num_dma_blocks(umem, pgsz);
	if (!mr->table) {
		mr->table = kvcalloc(n, sizeof(*mr->table),
				     GFP_KERNEL | __GFP_NOWARN);
		if (!mr->table)
			return -ENOMEM;
		mr->entries = n;
		mr->page_size = pgsz;
	} else if (n != mr->entries) {
		return -EIO;
	}

	mutex_lock(&mr->xlt_lock);
	rdma_umem_for_each_dma_block(umem, &biter, pgsz) {
		if (i == n)
			break;
		mr->table[i++] = rdma_block_iter_dma_address(&biter) |
				 P2PDMA_HCA_MTT_PRESENT;
	}
	mr->valid = i == n;
	/* The caller unmaps: nothing may point into the mapping */
	if (!mr->valid)
		memset(mr->table, 0, n * sizeof(*mr->table));
	mutex_unlock(&mr->xlt_lock);
	return mr->valid ? 0 : -EIO;
}

/*
 * Called with the resv lock held: map the umem (a no-op but for the
 * exporter's fences if it is mapped) and write every entry again.  This
 * is pagefault_dmabuf_mr().
 */
static int p2pdma_hca_mr_fault_locked(struct p2pdma_hca_mr *mr)
{
	u64 start = ktime_get_ns();
	int ret;

	/* What an exporter that cannot map just now answers */
	if (mr->inject_eagain) {
		mr->inject_eagain--;
		ret = -EAGAIN;
		goto out;
	}
	/* -ENODEV while revoked, by the exporter or (pinned) for good */
	ret = ib_umem_dmabuf_map_pages(mr->umem_dmabuf);
	if (!ret) {
		ret = p2pdma_hca_mr_populate(mr);
		if (ret && !mr->pinned)
			ib_umem_dmabuf_unmap_pages(mr->umem_dmabuf);
	}
out:
	if (ret) {
		mr->fault_errors++;
		mr->last_error = -ret;
		return ret;
	}
	mr->faults++;
	mr->fault_ns = ktime_get_ns() - start;
	return 0;
}

struct p2pdma_hca_fault {
	struct work_struct work;
	struct p2pdma_hca_mr *mr;
	int ret;
};

static void p2pdma_hca_fault_work(struct work_struct *work)
{
	struct p2pdma_hca_fault *pf =
		container_of(work, struct p2pdma_hca_fault, work);
	struct dma_resv *resv = p2pdma_hca_mr_resv(pf->mr);

	dma_resv_lock(resv, NULL);
	pf->ret = p2pdma_hca_mr_fault_locked(pf->mr);
	dma_resv_unlock(resv);
}

/* A page fault of @mr, handled by the workqueue; the QP waits for it */
static int p2pdma_hca_page_fault(struct p2pdma_hca_mr *mr)
{
	struct p2pdma_hca_fault pf = { .mr = mr };

	INIT_WORK_ONSTACK(&pf.work, p2pdma_hca_fault_work);
	queue_work(p2pdma_hca_wq, &pf.work);
	flush_work(&pf.work);
	destroy_work_on_stack(&pf.work);
	return pf.ret;
}

/* move_notify of a dynamic MR, as mlx5_ib_dmabuf_invalidate_cb() */
static void p2pdma_hca_mr_invalidate(struct dma_buf_attachment *attach)
{
	struct ib_umem_dmabuf *umem_dmabuf = attach->importer_priv;
	struct p2pdma_hca_mr *mr = umem_dmabuf->private;
	u64 start;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (!mr)
		return;
	mr->invalidations++;
	p2pdma_edu_watch_record(&mr->watch, mr->invalidations);
	if (!umem_dmabuf->sgt)
		return;
	start = ktime_get_ns();
	p2pdma_hca_mr_zap(mr);
	ib_umem_dmabuf_unmap_pages(umem_dmabuf);
	mr->invalidate_ns = ktime_get_ns() - start;
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

/* What a registration asks for */
struct p2pdma_hca_reg {
	u64 offset;
	u64 length;
	u64 iova;
	u64 pgsz_bitmap;
	int fd;
	int access;
	u32 flags;			/* P2PDMA_EDU_MR_PINNED* */
};

/*
 * The block sizes a registration may use: 0 is PAGE_SIZE, as
 * mlx5_umem_dmabuf_default_pgsz(); others must include it.
 */
static int p2pdma_hca_check_pgsz(u64 *pgsz_bitmap)
{
	if (!*pgsz_bitmap)
		*pgsz_bitmap = PAGE_SIZE;
	if (!(*pgsz_bitmap & PAGE_SIZE) || *pgsz_bitmap & (SZ_4K - 1))
		return -EINVAL;
	return 0;
}

static void p2pdma_hca_mr_free(struct p2pdma_hca_mr *mr)
{
	/* Serialised with move_notify; calls the revoke callback if pinned */
	if (mr->umem_dmabuf)
		ib_umem_release(&mr->umem_dmabuf->umem);
	kvfree(mr->table);
	mutex_destroy(&mr->xlt_lock);
	p2pdma_edu_watch_release(&mr->watch);
	p2pdma_edu_put(mr->edu);
	put_device(&mr->hca->ibdev.dev);
	kfree(mr);
}

/* The MR of @key, referenced until p2pdma_hca_mr_put(), or NULL */
static struct p2pdma_hca_mr *p2pdma_hca_mr_get(u32 key)
{
	struct p2pdma_hca_mr *mr;

	xa_lock(&p2pdma_hca_keys);
	mr = xa_load(&p2pdma_hca_keys, key);
	/* The owner's reference is dropped only after the key is erased */
	if (mr)
		refcount_inc(&mr->users);
	xa_unlock(&p2pdma_hca_keys);
	return mr;
}

static void p2pdma_hca_mr_put(struct p2pdma_hca_mr *mr)
{
	if (refcount_dec_and_test(&mr->users))
		complete(&mr->released);
}

/*
 * Deregistration: no lookup finds the key any more, and the accesses that
 * found it before end, as the hardware's mkey is destroyed only once idle.
 */
static void p2pdma_hca_mr_destroy(struct p2pdma_hca_mr *mr)
{
	xa_erase(&p2pdma_hca_keys, mr->ibmr.lkey);
	p2pdma_hca_mr_put(mr);
	wait_for_completion(&mr->released);
	p2pdma_hca_mr_free(mr);
}

static int p2pdma_hca_mr_get_umem(struct p2pdma_hca_mr *mr,
				  const struct p2pdma_hca_reg *req)
{
	struct ib_device *ibdev = &mr->hca->ibdev;
	struct ib_umem_dmabuf *umem_dmabuf;
	int ret;

	if (req->flags & P2PDMA_EDU_MR_PINNED_REVOCABLE) {
		umem_dmabuf =
			ib_umem_dmabuf_get_pinned_revocable_and_lock(ibdev,
								     req->offset,
								     req->length,
								     req->fd,
								     req->access);
		if (IS_ERR(umem_dmabuf))
			return PTR_ERR(umem_dmabuf);
		ib_umem_dmabuf_set_revoke_locked(umem_dmabuf,
						 p2pdma_hca_mr_revoke, mr);
	} else if (req->flags & P2PDMA_EDU_MR_PINNED) {
		umem_dmabuf = ib_umem_dmabuf_get_pinned(ibdev, req->offset,
							req->length, req->fd,
							req->access);
		if (IS_ERR(umem_dmabuf))
			return PTR_ERR(umem_dmabuf);
		dma_resv_lock(umem_dmabuf->attach->dmabuf->resv, NULL);
	} else {
		umem_dmabuf = ib_umem_dmabuf_get(ibdev, req->offset,
						 req->length, req->fd,
						 req->access,
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

/*
 * An MR of @hca with its umem, mapped and its table written, but no key
 * yet.  The caller holds a reference to @hca.
 */
static struct p2pdma_hca_mr *
p2pdma_hca_mr_create(struct p2pdma_hca *hca, const struct p2pdma_hca_reg *req)
{
	struct p2pdma_hca_mr *mr;
	int ret;

	mr = kzalloc(sizeof(*mr), GFP_KERNEL);
	if (!mr)
		return ERR_PTR(-ENOMEM);
	refcount_set(&mr->users, 1);
	init_completion(&mr->released);
	mr->iova = req->iova;
	mr->length = req->length;
	mr->pgsz_bitmap = req->pgsz_bitmap;
	mr->pinned = !!req->flags;
	mr->access = req->access;
	mutex_init(&mr->xlt_lock);
	init_waitqueue_head(&mr->inflight_wait);
	get_device(&hca->ibdev.dev);
	mr->hca = hca;
	p2pdma_edu_hold(hca->edu);
	mr->edu = hca->edu;

	ret = p2pdma_hca_mr_get_umem(mr, req);
	if (ret) {
		p2pdma_hca_mr_free(mr);
		return ERR_PTR(ret);
	}
	return mr;
}

/* UVERBS_METHOD_REG_DMABUF_MR: the pinned modes and block sizes are ours */
static struct ib_mr *
p2pdma_hca_reg_user_mr_dmabuf(struct ib_pd *pd, u64 offset, u64 length,
			      u64 virt_addr, int fd, int access_flags,
			      struct uverbs_attr_bundle *attrs)
{
	struct p2pdma_hca *hca = to_hca(pd->device);
	struct p2pdma_hca_mr_resp resp = {};
	struct p2pdma_hca_reg req = {
		.offset = offset,
		.length = length,
		.iova = virt_addr,
		.fd = fd,
		.access = access_flags,
	};
	struct p2pdma_hca_mr *mr;
	int ret;

	ret = uverbs_get_flags32(&req.flags, attrs,
				 P2PDMA_HCA_ATTR_REG_DMABUF_MR_FLAGS,
				 P2PDMA_EDU_MR_PINNED |
				 P2PDMA_EDU_MR_PINNED_REVOCABLE);
	if (ret)
		return ERR_PTR(ret);
	if (hweight32(req.flags) > 1)
		return ERR_PTR(-EINVAL);
	if (uverbs_attr_is_valid(attrs, P2PDMA_HCA_ATTR_REG_DMABUF_MR_PGSZ)) {
		ret = uverbs_copy_from(&req.pgsz_bitmap, attrs,
				       P2PDMA_HCA_ATTR_REG_DMABUF_MR_PGSZ);
		if (ret)
			return ERR_PTR(ret);
	}
	ret = p2pdma_hca_check_pgsz(&req.pgsz_bitmap);
	if (ret)
		return ERR_PTR(ret);

	mr = p2pdma_hca_mr_create(hca, &req);
	if (IS_ERR(mr))
		return ERR_CAST(mr);
	dma_resv_lock(p2pdma_hca_mr_resv(mr), NULL);
	resp.page_size = mr->page_size;
	resp.entries = mr->entries;
	resp.umem_pages = mr->umem_pages;
	dma_resv_unlock(p2pdma_hca_mr_resv(mr));
	if (uverbs_attr_is_valid(attrs, P2PDMA_HCA_ATTR_REG_DMABUF_MR_RESP)) {
		ret = uverbs_copy_to_struct_or_zero(attrs, P2PDMA_HCA_ATTR_REG_DMABUF_MR_RESP,
						    &resp, sizeof(resp));
		if (ret)
			goto err_free;
	}
	mr->ibmr.iova = virt_addr;
	mr->ibmr.length = length;
	mr->ibmr.page_size = mr->page_size;
	/*
	 * Found by accesses from now on, before uverbs commits the object: if
	 * that fails, uverbs deregisters it, which erases the key.
	 */
	ret = xa_alloc_cyclic(&p2pdma_hca_keys, &mr->ibmr.lkey, mr,
			      xa_limit_31b, &p2pdma_hca_next_key, GFP_KERNEL);
	if (ret < 0)
		goto err_free;
	mr->ibmr.rkey = mr->ibmr.lkey;
	return &mr->ibmr;

err_free:
	p2pdma_hca_mr_free(mr);
	return ERR_PTR(ret);
}

/* Also for every MR left when uverbs disassociates a removed device */
static int p2pdma_hca_dereg_mr(struct ib_mr *ibmr, struct ib_udata *udata)
{
	p2pdma_hca_mr_destroy(to_hca_mr(ibmr));
	return 0;
}

/*
 * One piece of an access, within one block: its DMA through the entry, or
 * -EFAULT if the entry is not present (zapped, or never written).
 */
static int p2pdma_hca_piece(struct p2pdma_hca_mr *mr, bool write, u64 va,
			    u8 *buf, u64 len)
{
	u64 block = (va - ALIGN_DOWN(mr->iova, mr->page_size)) / mr->page_size;
	u64 entry = 0;
	int ret;

	mutex_lock(&mr->xlt_lock);
	if (block < mr->entries)
		entry = mr->table[block];
	if (entry & P2PDMA_HCA_MTT_PRESENT)
		atomic_inc(&mr->inflight);
	mutex_unlock(&mr->xlt_lock);
	if (!(entry & P2PDMA_HCA_MTT_PRESENT))
		return -EFAULT;

	ret = p2pdma_edu_xfer(mr->edu, write,
			      (entry & ~P2PDMA_HCA_MTT_PRESENT) +
			      (va & (mr->page_size - 1)), buf, len);
	if (atomic_dec_and_test(&mr->inflight))
		wake_up(&mr->inflight_wait);
	return ret;
}

/*
 * An RDMA write or read on @qp: piece by piece through the table, outside
 * the resv lock, faulting where an entry is not present.  Returns 0 or the
 * errno that completes the request in error.
 */
static int p2pdma_hca_access(struct p2pdma_hca_qp *qp, struct p2pdma_hca_mr *mr,
			     bool write, u64 iova, u8 *buf, u64 length)
{
	unsigned int reruns = 0;
	u64 done = 0;
	int ret;

	while (done < length) {
		u64 va = iova + done;
		u64 len = min3(mr->page_size - (va & (mr->page_size - 1)),
			       length - done, (u64)P2PDMA_HCA_PIECE);

		if (fatal_signal_pending(current))
			return -EINTR;
		ret = p2pdma_hca_piece(mr, write, va, buf + done, len);
		if (ret == -EFAULT) {
			qp->page_faults++;
			ret = p2pdma_hca_page_fault(mr);
			/* Resumed: the piece runs again, up to a bound */
			if ((!ret || ret == -EAGAIN) &&
			    reruns++ < P2PDMA_HCA_FAULT_RETRIES) {
				qp->retries += ret == -EAGAIN;
				continue;
			}
			if (!ret)
				ret = -EFAULT;
		}
		if (ret)
			return ret;
		done += len;
		reruns = 0;
	}
	return 0;
}

/*
 * A request on its QP.  The MR is referenced only meanwhile: the user
 * copies are done before and after, so that deregistration never waits
 * for userspace.
 */
static int p2pdma_hca_post(struct p2pdma_hca_file *f,
			   const struct p2pdma_edu_mr_access *req, u8 *buf)
{
	struct p2pdma_hca_mr *mr;
	struct p2pdma_hca_qp *qp;
	int ret;

	qp = xa_load(&f->qps, req->qp);
	if (!qp)
		return -ENOENT;
	mr = p2pdma_hca_mr_get(req->handle);
	if (!mr)
		return -ENOENT;
	if (req->iova < mr->iova || req->iova - mr->iova > mr->length ||
	    req->length > mr->length - (req->iova - mr->iova)) {
		ret = -EINVAL;
	} else if (qp->error) {
		qp->flushed++;
		ret = -EIO;
	} else if (!(mr->access & (req->write ? IB_ACCESS_REMOTE_WRITE :
				   IB_ACCESS_REMOTE_READ))) {
		/* A remote access error, before any DMA: the QP goes to error */
		qp->error = true;
		qp->last_error = EACCES;
		ret = -EIO;
	} else {
		ret = p2pdma_hca_access(qp, mr, req->write, req->iova, buf,
					req->length);
		if (ret) {
			/* The completion in error; the QP stays in error */
			qp->error = true;
			qp->last_error = -ret;
			ret = -EIO;
		} else {
			qp->completions++;
		}
	}
	p2pdma_hca_mr_put(mr);
	return ret;
}

static long p2pdma_hca_ioctl_mr_access(struct p2pdma_hca_file *f,
				       void __user *arg)
{
	struct p2pdma_edu_mr_access req;
	u8 *buf;
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	if (req.reserved || req.write > 1)
		return -EINVAL;
	buf = p2pdma_edu_get_buf(req.user_buf, req.length, req.write);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	mutex_lock(&f->lock);
	ret = p2pdma_hca_post(f, &req, buf);
	mutex_unlock(&f->lock);
	return p2pdma_edu_put_buf(buf, req.user_buf, req.length, req.write,
				  ret);
}

static long p2pdma_hca_ioctl_mr_info(void __user *arg)
{
	struct p2pdma_edu_mr_info __user *uinfo = arg;
	struct p2pdma_edu_mr_info info = {};
	struct p2pdma_hca_mr *mr;
	u32 index;

	if (get_user(info.handle, &uinfo->handle) ||
	    get_user(index, &uinfo->seen_index))
		return -EFAULT;
	mr = p2pdma_hca_mr_get(info.handle);
	if (!mr)
		return -ENOENT;
	dma_resv_lock(p2pdma_hca_mr_resv(mr), NULL);
	info.valid = mr->valid;
	info.invalidations = mr->invalidations;
	info.zap_waits = mr->zap_waits;
	info.inflight_at_unmap = mr->inflight_at_unmap;
	info.seen_index = index;
	p2pdma_edu_watch_seen(&mr->watch, mr->invalidations, index, &info.seen);
	info.faults = mr->faults;
	info.fault_errors = mr->fault_errors;
	info.last_error = mr->last_error;
	info.fault_ns = mr->fault_ns;
	info.invalidate_ns = mr->invalidate_ns;
	/* Set by the RDMA core once it revoked a pinned umem */
	info.revoked = mr->umem_dmabuf->revoked;
	if (mr->umem_dmabuf->sgt)
		info.nents = mr->umem_dmabuf->umem.sgt_append.sgt.nents;
	if (mr->valid) {
		info.entries = mr->entries;
		info.page_size = mr->page_size;
		info.first_dma = mr->table[0] & ~P2PDMA_HCA_MTT_PRESENT;
	}
	dma_resv_unlock(p2pdma_hca_mr_resv(mr));
	p2pdma_hca_mr_put(mr);
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long p2pdma_hca_ioctl_mr_inject(void __user *arg)
{
	struct p2pdma_edu_mr_inject req;
	struct p2pdma_hca_mr *mr;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	mr = p2pdma_hca_mr_get(req.handle);
	if (!mr)
		return -ENOENT;
	dma_resv_lock(p2pdma_hca_mr_resv(mr), NULL);
	mr->inject_eagain = req.eagain;
	dma_resv_unlock(p2pdma_hca_mr_resv(mr));
	p2pdma_hca_mr_put(mr);
	return 0;
}

static long p2pdma_hca_ioctl_create_qp(struct p2pdma_hca_file *f,
				       void __user *arg)
{
	struct p2pdma_hca_qp *qp;
	u32 handle;
	int ret;

	qp = kzalloc(sizeof(*qp), GFP_KERNEL);
	if (!qp)
		return -ENOMEM;
	ret = xa_alloc(&f->qps, &handle, qp, xa_limit_32b, GFP_KERNEL);
	if (ret) {
		kfree(qp);
		return ret;
	}
	if (put_user(handle, (u32 __user *)arg)) {
		kfree(xa_erase(&f->qps, handle));
		return -EFAULT;
	}
	return 0;
}

static long p2pdma_hca_ioctl_qp_op(struct p2pdma_hca_file *f, unsigned int cmd,
				   void __user *arg)
{
	struct p2pdma_edu_qp_info info = {};
	struct p2pdma_hca_qp *qp;
	u32 handle;

	if (get_user(handle, (u32 __user *)arg))
		return -EFAULT;
	if (cmd == P2PDMA_EDU_DESTROY_QP) {
		qp = xa_erase(&f->qps, handle);
		kfree(qp);
		return qp ? 0 : -ENOENT;
	}
	qp = xa_load(&f->qps, handle);
	if (!qp)
		return -ENOENT;
	info.handle = handle;
	info.error = qp->error;
	info.last_error = qp->last_error;
	info.completions = qp->completions;
	info.flushed = qp->flushed;
	info.page_faults = qp->page_faults;
	info.retries = qp->retries;
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

/*
 * The registered HCA of edu @importer, or NULL.  Until p2pdma_hca_put(),
 * its unregistration waits, as for a verb in progress.
 */
static struct p2pdma_hca *p2pdma_hca_get(u32 importer)
{
	struct p2pdma_hca *hca, *found = NULL;

	mutex_lock(&p2pdma_hca_lock);
	list_for_each_entry(hca, &p2pdma_hca_list, node) {
		if (p2pdma_edu_addr(hca->edu->pdev) == importer &&
		    ib_device_try_get(&hca->ibdev)) {
			found = hca;
			break;
		}
	}
	mutex_unlock(&p2pdma_hca_lock);
	return found;
}

static void p2pdma_hca_put(struct p2pdma_hca *hca)
{
	ib_device_put(&hca->ibdev);
}

/* P2PDMA_EDU_BENCH_REG: registration timed as the map benchmarks are */
struct p2pdma_hca_bench_reg_ctx {
	struct p2pdma_hca *hca;
	struct p2pdma_hca_reg req;
	struct p2pdma_hca_mr *mr;
	unsigned int nents;
	unsigned long page_size;
	size_t entries;
};

/* What reg_user_mr_dmabuf() does but the key */
static int p2pdma_hca_bench_reg_mr(void *ctx)
{
	struct p2pdma_hca_bench_reg_ctx *c = ctx;
	struct p2pdma_hca_mr *mr;

	mr = p2pdma_hca_mr_create(c->hca, &c->req);
	if (IS_ERR(mr))
		return PTR_ERR(mr);
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
	c.req.fd = req.fd;
	c.req.offset = req.offset;
	c.req.length = req.length;
	c.req.iova = req.offset;
	c.req.pgsz_bitmap = req.pgsz_bitmap;
	c.req.access = P2PDMA_HCA_ACCESS;
	ret = p2pdma_hca_check_pgsz(&c.req.pgsz_bitmap);
	if (ret)
		return ret;
	c.hca = p2pdma_hca_get(req.importer);
	if (!c.hca)
		return -ENODEV;

	mutex_lock(&p2pdma_hca_bench_lock);
	ret = p2pdma_edu_bench_run(&p2pdma_hca_bench_reg_ops, &c,
				   req.iterations, req.budget_ms, &req.runs,
				   &req.iommu_maps, &req.reg, &req.dereg);
	mutex_unlock(&p2pdma_hca_bench_lock);
	p2pdma_hca_put(c.hca);
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
	case P2PDMA_EDU_MR_ACCESS:
		return p2pdma_hca_ioctl_mr_access(f, uarg);
	case P2PDMA_EDU_MR_INFO:
		return p2pdma_hca_ioctl_mr_info(uarg);
	case P2PDMA_EDU_MR_INJECT_EAGAIN:
		return p2pdma_hca_ioctl_mr_inject(uarg);
	case P2PDMA_EDU_BENCH_REG:
		return p2pdma_hca_ioctl_bench_reg(uarg);
	case P2PDMA_EDU_CREATE_QP:
		mutex_lock(&f->lock);
		ret = p2pdma_hca_ioctl_create_qp(f, uarg);
		mutex_unlock(&f->lock);
		return ret;
	case P2PDMA_EDU_DESTROY_QP:
	case P2PDMA_EDU_QP_INFO:
		mutex_lock(&f->lock);
		ret = p2pdma_hca_ioctl_qp_op(f, cmd, uarg);
		mutex_unlock(&f->lock);
		return ret;
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
	/* QP handles start at 1: 0 is no QP */
	xa_init_flags(&f->qps, XA_FLAGS_ALLOC1);
	mutex_init(&f->lock);
	file->private_data = f;
	return 0;
}

static int p2pdma_hca_release(struct inode *inode, struct file *file)
{
	struct p2pdma_hca_file *f = file->private_data;
	struct p2pdma_hca_qp *qp;
	unsigned long handle;

	xa_for_each(&f->qps, handle, qp)
		kfree(qp);
	xa_destroy(&f->qps);
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

/* The verbs uverbs needs for a user context, a PD and dma-buf MRs */

static int p2pdma_hca_query_device(struct ib_device *ibdev,
				   struct ib_device_attr *props,
				   struct ib_udata *uhw)
{
	struct pci_dev *pdev = to_hca(ibdev)->edu->pdev;

	if (uhw->inlen || uhw->outlen)
		return -EINVAL;
	props->vendor_id = pdev->vendor;
	props->vendor_part_id = pdev->device;
	props->max_mr_size = U64_MAX;
	/* PAGE_SIZE, and the large-block mode's */
	props->page_size_cap = PAGE_SIZE | SZ_2M | SZ_1G;
	props->max_mr = S32_MAX;
	props->max_pd = S32_MAX;
	return 0;
}

static int p2pdma_hca_query_port(struct ib_device *ibdev, u32 port,
				 struct ib_port_attr *props)
{
	props->state = IB_PORT_ACTIVE;
	props->phys_state = IB_PORT_PHYS_STATE_LINK_UP;
	props->max_mtu = IB_MTU_4096;
	props->active_mtu = IB_MTU_4096;
	props->max_msg_sz = P2PDMA_EDU_MAX_DMA;
	return 0;
}

/* No GIDs, no P_Keys, no MADs: nothing for the RDMA core's clients */
static int p2pdma_hca_get_port_immutable(struct ib_device *ibdev, u32 port,
					 struct ib_port_immutable *immutable)
{
	return 0;
}

static int p2pdma_hca_alloc_ucontext(struct ib_ucontext *uctx,
				     struct ib_udata *udata)
{
	return 0;
}

static void p2pdma_hca_dealloc_ucontext(struct ib_ucontext *uctx)
{
}

/* No mmaps to zap: uverbs does the rest, so removal need not wait */
static void p2pdma_hca_disassociate_ucontext(struct ib_ucontext *uctx)
{
}

static int p2pdma_hca_alloc_pd(struct ib_pd *pd, struct ib_udata *udata)
{
	return 0;
}

static int p2pdma_hca_dealloc_pd(struct ib_pd *pd, struct ib_udata *udata)
{
	return 0;
}

static const struct ib_device_ops p2pdma_hca_dev_ops = {
	.owner = THIS_MODULE,
	.driver_id = RDMA_DRIVER_UNKNOWN,
	.uverbs_abi_ver = 1,

	.alloc_pd = p2pdma_hca_alloc_pd,
	.alloc_ucontext = p2pdma_hca_alloc_ucontext,
	.dealloc_pd = p2pdma_hca_dealloc_pd,
	.dealloc_ucontext = p2pdma_hca_dealloc_ucontext,
	.dereg_mr = p2pdma_hca_dereg_mr,
	.disassociate_ucontext = p2pdma_hca_disassociate_ucontext,
	.get_port_immutable = p2pdma_hca_get_port_immutable,
	.query_device = p2pdma_hca_query_device,
	.query_port = p2pdma_hca_query_port,
	.reg_user_mr_dmabuf = p2pdma_hca_reg_user_mr_dmabuf,

	INIT_RDMA_OBJ_SIZE(ib_pd, p2pdma_hca_pd, ibpd),
	INIT_RDMA_OBJ_SIZE(ib_ucontext, p2pdma_hca_ucontext, ibucontext),
};

/* The driver's attributes of UVERBS_METHOD_REG_DMABUF_MR (p2pdma_edu.h) */
ADD_UVERBS_ATTRIBUTES_SIMPLE(p2pdma_hca_reg_dmabuf_mr, UVERBS_OBJECT_MR,
			     UVERBS_METHOD_REG_DMABUF_MR,
			     UVERBS_ATTR_FLAGS_IN(P2PDMA_HCA_ATTR_REG_DMABUF_MR_FLAGS,
						  u32, UA_OPTIONAL),
			     UVERBS_ATTR_PTR_IN(P2PDMA_HCA_ATTR_REG_DMABUF_MR_PGSZ,
						UVERBS_ATTR_TYPE(u64),
						UA_OPTIONAL),
			     UVERBS_ATTR_PTR_OUT(P2PDMA_HCA_ATTR_REG_DMABUF_MR_RESP,
						 UVERBS_ATTR_STRUCT(struct p2pdma_hca_mr_resp,
								    umem_pages),
						 UA_OPTIONAL));

static const struct uapi_definition p2pdma_hca_defs[] = {
	UAPI_DEF_CHAIN_OBJ_TREE(UVERBS_OBJECT_MR, &p2pdma_hca_reg_dmabuf_mr),
	{}
};

static int p2pdma_hca_add(struct p2pdma_edu *edu)
{
	struct p2pdma_hca *hca;
	int ret;

	hca = ib_alloc_device(p2pdma_hca, ibdev);
	if (!hca)
		return -ENOMEM;
	hca->ibdev.node_type = RDMA_NODE_UNSPECIFIED;
	hca->ibdev.phys_port_cnt = 1;
	hca->ibdev.num_comp_vectors = 1;
	hca->ibdev.dev.parent = &edu->pdev->dev;
	hca->ibdev.driver_def = p2pdma_hca_defs;
	ib_set_device_ops(&hca->ibdev, &p2pdma_hca_dev_ops);
	p2pdma_edu_hold(edu);
	hca->edu = edu;

	ret = ib_register_device(&hca->ibdev, "p2pdma_hca%d", &edu->pdev->dev);
	if (ret) {
		p2pdma_edu_put(edu);
		ib_dealloc_device(&hca->ibdev);
		return ret;
	}
	mutex_lock(&p2pdma_hca_lock);
	list_add_tail(&hca->node, &p2pdma_hca_list);
	mutex_unlock(&p2pdma_hca_lock);
	return 0;
}

/*
 * Unregistering waits for a registration benchmark in progress, and
 * disassociates every uverbs file of the device: each MR is deregistered,
 * its accesses ended and its umem released, before this returns.
 */
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
	ib_unregister_device(&found->ibdev);
	p2pdma_edu_put(found->edu);
	ib_dealloc_device(&found->ibdev);
}

static struct p2pdma_edu_client p2pdma_hca_client = {
	.add = p2pdma_hca_add,
	.remove = p2pdma_hca_remove,
};

static int __init p2pdma_hca_init(void)
{
	int ret;

	p2pdma_hca_wq = alloc_workqueue("p2pdma_hca_pf", WQ_HIGHPRI |
					WQ_UNBOUND | WQ_MEM_RECLAIM, 0);
	if (!p2pdma_hca_wq)
		return -ENOMEM;
	ret = misc_register(&p2pdma_hca_misc);
	if (ret)
		goto err_wq;
	ret = p2pdma_edu_register_client(&p2pdma_hca_client);
	if (ret)
		goto err_misc;
	return 0;

err_misc:
	misc_deregister(&p2pdma_hca_misc);
err_wq:
	destroy_workqueue(p2pdma_hca_wq);
	return ret;
}
module_init(p2pdma_hca_init);

static void __exit p2pdma_hca_exit(void)
{
	/* Unregisters every HCA: no MR is left */
	p2pdma_edu_unregister_client(&p2pdma_hca_client);
	misc_deregister(&p2pdma_hca_misc);
	destroy_workqueue(p2pdma_hca_wq);
}
module_exit(p2pdma_hca_exit);

MODULE_DESCRIPTION("A stand-in RDMA HCA on QEMU's edu, for selftests");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(DMA_BUF);
MODULE_IMPORT_NS(P2PDMA_EDU);
