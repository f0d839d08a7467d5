// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for dma-buf umems: what ib_umem_dmabuf_map_pages() makes of
 * the table an exporter returns, the errors of the core, and the pinned
 * revocable attach racing with a revoke.
 *
 * The exporter is a fake: it returns the DMA table the test chooses, with
 * no pages and no real mapping (as an exporter of device MMIO does), and
 * counts what the importer asks of it.
 *
 * Included from umem_dmabuf.c, so that the race cases can run the two
 * halves of ib_umem_dmabuf_get_pinned_and_lock() with a revoke between
 * them; the other cases use the exported functions.
 */

#include <kunit/device.h>
#include <kunit/test.h>
#include <linux/fdtable.h>

#define UMEM_TEST_MAX_ENTS	4

struct umem_test_exp {
	/* the table map_dma_buf returns */
	unsigned int nents;
	dma_addr_t addr[UMEM_TEST_MAX_ENTS];
	unsigned int len[UMEM_TEST_MAX_ENTS];
	int map_err;

	int maps, unmaps, pins, unpins;
	/* an unmap got back a table that differs from the one it mapped */
	int unmaps_changed;
};

struct umem_test {
	struct ib_device *ibdev;
	struct device *dma_dev;
	struct umem_test_exp *exp;
	struct dma_buf *dmabuf;
	int fd;
	int notifies;
};

static int umem_test_pin(struct dma_buf_attachment *attach)
{
	struct umem_test_exp *exp = attach->dmabuf->priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	exp->pins++;
	return 0;
}

static void umem_test_unpin(struct dma_buf_attachment *attach)
{
	struct umem_test_exp *exp = attach->dmabuf->priv;

	dma_resv_assert_held(attach->dmabuf->resv);
	exp->unpins++;
}

static struct sg_table *umem_test_map(struct dma_buf_attachment *attach,
				      enum dma_data_direction dir)
{
	struct umem_test_exp *exp = attach->dmabuf->priv;
	struct scatterlist *sg;
	struct sg_table *sgt;
	unsigned int i;

	dma_resv_assert_held(attach->dmabuf->resv);
	if (exp->map_err)
		return ERR_PTR(exp->map_err);

	sgt = kzalloc(sizeof(*sgt), GFP_KERNEL);
	if (!sgt)
		return ERR_PTR(-ENOMEM);
	if (sg_alloc_table(sgt, exp->nents, GFP_KERNEL)) {
		kfree(sgt);
		return ERR_PTR(-ENOMEM);
	}
	for_each_sgtable_dma_sg(sgt, sg, i) {
		sg_dma_address(sg) = exp->addr[i];
		sg_dma_len(sg) = exp->len[i];
	}
	exp->maps++;
	return sgt;
}

static void umem_test_unmap(struct dma_buf_attachment *attach,
			    struct sg_table *sgt, enum dma_data_direction dir)
{
	struct umem_test_exp *exp = attach->dmabuf->priv;
	struct scatterlist *sg;
	unsigned int i;

	dma_resv_assert_held(attach->dmabuf->resv);
	for_each_sgtable_dma_sg(sgt, sg, i)
		if (sg_dma_address(sg) != exp->addr[i] ||
		    sg_dma_len(sg) != exp->len[i])
			exp->unmaps_changed++;
	exp->unmaps++;
	sg_free_table(sgt);
	kfree(sgt);
}

/* The last reference may go from a delayed fput, after the test ended */
static void umem_test_release(struct dma_buf *dmabuf)
{
	kfree(dmabuf->priv);
}

static const struct dma_buf_ops umem_test_dmabuf_ops = {
	.pin = umem_test_pin,
	.unpin = umem_test_unpin,
	.map_dma_buf = umem_test_map,
	.unmap_dma_buf = umem_test_unmap,
	.release = umem_test_release,
};

static void umem_test_move_notify(struct dma_buf_attachment *attach)
{
	struct ib_umem_dmabuf *umem_dmabuf = attach->importer_priv;
	struct umem_test *t = umem_dmabuf->private;

	/* what a driver does: stop using the mapping, then unmap it */
	t->notifies++;
	ib_umem_dmabuf_unmap_pages(umem_dmabuf);
}

static const struct dma_buf_attach_ops umem_test_attach_ops = {
	.allow_peer2peer = true,
	.move_notify = umem_test_move_notify,
};

static void umem_test_close_fd(void *data)
{
	close_fd((unsigned long)data);
}

/*
 * A dma-buf of @size bytes whose exporter maps the @nents entries of
 * @lens, each at its own bus address (none contiguous with the next).
 */
static struct umem_test *umem_test_init(struct kunit *test, size_t size,
					unsigned int nents,
					const unsigned int *lens)
{
	DEFINE_DMA_BUF_EXPORT_INFO(exp_info);
	struct umem_test *t;
	unsigned int i;
	int ret;

	t = kunit_kzalloc(test, sizeof(*t), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, t);
	t->ibdev = kunit_kzalloc(test, sizeof(*t->ibdev), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, t->ibdev);
	t->ibdev->dev.init_name = "umem_dmabuf_test";
	t->dma_dev = kunit_device_register(test, "umem_dmabuf_test");
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, t->dma_dev);
	t->ibdev->dma_device = t->dma_dev;

	KUNIT_ASSERT_LE(test, nents, UMEM_TEST_MAX_ENTS);
	t->exp = kzalloc(sizeof(*t->exp), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, t->exp);
	t->exp->nents = nents;
	for (i = 0; i < nents; i++) {
		t->exp->addr[i] = 0x40000000ULL * (i + 1);
		t->exp->len[i] = lens[i];
	}

	exp_info.ops = &umem_test_dmabuf_ops;
	exp_info.size = size;
	exp_info.flags = O_RDWR;
	exp_info.priv = t->exp;
	t->dmabuf = dma_buf_export(&exp_info);
	if (IS_ERR(t->dmabuf))
		kfree(t->exp);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, t->dmabuf);

	/*
	 * The fd owns the export's reference; closing it releases the buffer.
	 * KUnit cases run in kernel threads, which share init's file table:
	 * O_CLOEXEC keeps the fd from usermode helpers until it is closed.
	 */
	t->fd = dma_buf_fd(t->dmabuf, O_CLOEXEC);
	if (t->fd < 0)
		dma_buf_put(t->dmabuf);
	KUNIT_ASSERT_GE(test, t->fd, 0);
	ret = kunit_add_action_or_reset(test, umem_test_close_fd,
					(void *)(unsigned long)t->fd);
	KUNIT_ASSERT_EQ(test, ret, 0);
	return t;
}

static void umem_test_release_umem(void *umem_dmabuf)
{
	ib_umem_release(&((struct ib_umem_dmabuf *)umem_dmabuf)->umem);
}

/* A umem is released when the case ends, or earlier by umem_test_put() */
static struct ib_umem_dmabuf *
umem_test_track(struct kunit *test, struct ib_umem_dmabuf *umem_dmabuf)
{
	if (!IS_ERR(umem_dmabuf) &&
	    kunit_add_action_or_reset(test, umem_test_release_umem,
				      umem_dmabuf))
		return ERR_PTR(-ENOMEM);
	return umem_dmabuf;
}

static void umem_test_put(struct kunit *test,
			  struct ib_umem_dmabuf *umem_dmabuf)
{
	kunit_release_action(test, umem_test_release_umem, umem_dmabuf);
}

static struct ib_umem_dmabuf *umem_test_get(struct kunit *test,
					    struct umem_test *t,
					    unsigned long offset, size_t size)
{
	struct ib_umem_dmabuf *umem_dmabuf;

	umem_dmabuf = ib_umem_dmabuf_get(t->ibdev, offset, size, t->fd,
					 IB_ACCESS_LOCAL_WRITE,
					 &umem_test_attach_ops);
	if (!IS_ERR(umem_dmabuf))
		umem_dmabuf->private = t;
	return umem_test_track(test, umem_dmabuf);
}

static int umem_test_map_pages(struct ib_umem_dmabuf *umem_dmabuf)
{
	int ret;

	dma_resv_lock(umem_dmabuf->attach->dmabuf->resv, NULL);
	ret = ib_umem_dmabuf_map_pages(umem_dmabuf);
	dma_resv_unlock(umem_dmabuf->attach->dmabuf->resv);
	return ret;
}

static void umem_test_move(struct umem_test *t)
{
	dma_resv_lock(t->dmabuf->resv, NULL);
	dma_buf_move_notify(t->dmabuf);
	dma_resv_unlock(t->dmabuf->resv);
}

/* The umem's table, entry by entry, against what the test expects */
static void umem_test_expect_table(struct kunit *test,
				   struct ib_umem_dmabuf *umem_dmabuf,
				   unsigned int nents, const dma_addr_t *addr,
				   const unsigned int *len)
{
	struct sg_table *sgt = &umem_dmabuf->umem.sgt_append.sgt;
	struct scatterlist *sg;
	unsigned int i;

	KUNIT_EXPECT_EQ(test, sgt->nents, nents);
	for_each_sgtable_dma_sg(sgt, sg, i) {
		if (i >= nents)
			break;
		KUNIT_EXPECT_EQ_MSG(test, sg_dma_address(sg), addr[i],
				    "entry %u", i);
		KUNIT_EXPECT_EQ_MSG(test, sg_dma_len(sg), len[i],
				    "entry %u", i);
	}
}

static void umem_test_get_errors(struct kunit *test)
{
	static const struct dma_buf_attach_ops no_notify = {
		.allow_peer2peer = true,
	};
	const unsigned int lens[] = { 4 * PAGE_SIZE };
	struct umem_test *t = umem_test_init(test, 4 * PAGE_SIZE, 1, lens);
	struct ib_umem_dmabuf *umem_dmabuf;

	/* a zero size, page aligned or not */
	umem_dmabuf = umem_test_get(test, t, 0, 0);
	KUNIT_EXPECT_EQ(test, PTR_ERR(umem_dmabuf), -EINVAL);
	umem_dmabuf = umem_test_get(test, t, PAGE_SIZE / 2, 0);
	KUNIT_EXPECT_EQ(test, PTR_ERR(umem_dmabuf), -EINVAL);
	/* past the end of the dma-buf, and a range that wraps */
	umem_dmabuf = umem_test_get(test, t, PAGE_SIZE, 4 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, PTR_ERR(umem_dmabuf), -EINVAL);
	umem_dmabuf = umem_test_get(test, t, ULONG_MAX - 1, 2);
	KUNIT_EXPECT_EQ(test, PTR_ERR(umem_dmabuf), -EINVAL);
	/* a dynamic importer must have move_notify */
	umem_dmabuf = ib_umem_dmabuf_get(t->ibdev, 0, PAGE_SIZE, t->fd, 0,
					 &no_notify);
	umem_dmabuf = umem_test_track(test, umem_dmabuf);
	KUNIT_EXPECT_EQ(test, PTR_ERR(umem_dmabuf), -EINVAL);
	/* a descriptor that is not open */
	umem_dmabuf = ib_umem_dmabuf_get(t->ibdev, 0, PAGE_SIZE, -1, 0,
					 &umem_test_attach_ops);
	umem_dmabuf = umem_test_track(test, umem_dmabuf);
	KUNIT_EXPECT_EQ(test, PTR_ERR(umem_dmabuf), -EBADF);

	/* the whole buffer is fine; nothing is mapped until asked */
	umem_dmabuf = umem_test_get(test, t, 0, 4 * PAGE_SIZE);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, umem_dmabuf);
	KUNIT_EXPECT_EQ(test, t->exp->maps, 0);
	umem_test_put(test, umem_dmabuf);
	KUNIT_EXPECT_EQ(test, t->exp->maps, 0);
}

/* Before the driver picks a page size, the IOVA is the offset */
static void umem_test_iova_pages(struct kunit *test)
{
	const unsigned int lens[] = { 4 * PAGE_SIZE };
	struct umem_test *t = umem_test_init(test, 4 * PAGE_SIZE, 1, lens);
	struct ib_umem_dmabuf *umem_dmabuf;

	/* one page's worth, straddling two pages */
	umem_dmabuf = umem_test_get(test, t, PAGE_SIZE / 2, PAGE_SIZE);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, umem_dmabuf);
	KUNIT_EXPECT_EQ(test, umem_dmabuf->umem.iova, PAGE_SIZE / 2);
	KUNIT_EXPECT_EQ(test, umem_dmabuf->umem.address, PAGE_SIZE / 2);
	KUNIT_EXPECT_EQ(test, ib_umem_num_pages(&umem_dmabuf->umem), 2);
	umem_test_put(test, umem_dmabuf);

	/* one byte at the end of a page, and a page-aligned range */
	umem_dmabuf = umem_test_get(test, t, 2 * PAGE_SIZE - 1, 1);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, umem_dmabuf);
	KUNIT_EXPECT_EQ(test, ib_umem_num_pages(&umem_dmabuf->umem), 1);
	umem_test_put(test, umem_dmabuf);

	umem_dmabuf = umem_test_get(test, t, PAGE_SIZE, 2 * PAGE_SIZE);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, umem_dmabuf);
	KUNIT_EXPECT_EQ(test, umem_dmabuf->umem.iova, PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, ib_umem_num_pages(&umem_dmabuf->umem), 2);
	umem_test_put(test, umem_dmabuf);
}

/*
 * Three discontiguous entries of 2, 3 and 1 pages.  A umem that starts
 * inside the first entry and one that starts at the second (so that its
 * first entry is not the first of the exporter's table): the first entry
 * is advanced, the last trimmed, and unmap gives the exporter back the
 * table it mapped.
 */
static void umem_test_map_trim(struct kunit *test)
{
	const unsigned int lens[] = { 2 * PAGE_SIZE, 3 * PAGE_SIZE, PAGE_SIZE };
	struct umem_test *t = umem_test_init(test, 6 * PAGE_SIZE, 3, lens);
	struct umem_test_exp *exp = t->exp;
	struct ib_umem_dmabuf *umem_dmabuf;

	/* pages 1-3, from half a page in: entry 0 from its page 1, entry 1 */
	umem_dmabuf = umem_test_get(test, t, 3 * PAGE_SIZE / 2, 2 * PAGE_SIZE);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, umem_dmabuf);
	KUNIT_ASSERT_EQ(test, umem_test_map_pages(umem_dmabuf), 0);
	umem_test_expect_table(test, umem_dmabuf, 2,
			       (dma_addr_t[]){ exp->addr[0] + PAGE_SIZE,
					       exp->addr[1] },
			       (unsigned int[]){ PAGE_SIZE, 2 * PAGE_SIZE });
	KUNIT_EXPECT_PTR_EQ(test, umem_dmabuf->umem.sgt_append.sgt.sgl,
			    umem_dmabuf->sgt->sgl);
	/* mapped once; a second call keeps the mapping */
	KUNIT_EXPECT_EQ(test, umem_test_map_pages(umem_dmabuf), 0);
	KUNIT_EXPECT_EQ(test, exp->maps, 1);
	umem_test_put(test, umem_dmabuf);
	KUNIT_EXPECT_EQ(test, exp->unmaps, 1);
	KUNIT_EXPECT_EQ(test, exp->unmaps_changed, 0);

	/* pages 2-5: entry 1 whole, then entry 2, both untrimmed */
	umem_dmabuf = umem_test_get(test, t, 2 * PAGE_SIZE, 4 * PAGE_SIZE);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, umem_dmabuf);
	KUNIT_ASSERT_EQ(test, umem_test_map_pages(umem_dmabuf), 0);
	umem_test_expect_table(test, umem_dmabuf, 2,
			       (dma_addr_t[]){ exp->addr[1], exp->addr[2] },
			       (unsigned int[]){ 3 * PAGE_SIZE, PAGE_SIZE });
	KUNIT_EXPECT_PTR_EQ(test, umem_dmabuf->umem.sgt_append.sgt.sgl,
			    sg_next(umem_dmabuf->sgt->sgl));

	/* move_notify unmaps; the next map asks the exporter again */
	umem_test_move(t);
	KUNIT_EXPECT_EQ(test, t->notifies, 1);
	KUNIT_EXPECT_NULL(test, umem_dmabuf->sgt);
	KUNIT_EXPECT_EQ(test, exp->unmaps, 2);
	KUNIT_EXPECT_EQ(test, umem_test_map_pages(umem_dmabuf), 0);
	KUNIT_EXPECT_EQ(test, exp->maps, 3);
	umem_test_put(test, umem_dmabuf);
	KUNIT_EXPECT_EQ(test, exp->unmaps, 3);
	KUNIT_EXPECT_EQ(test, exp->unmaps_changed, 0);
}

/* An exporter table shorter than the umem is refused, and nothing kept */
static void umem_test_map_short(struct kunit *test)
{
	const unsigned int lens[] = { 2 * PAGE_SIZE };
	struct umem_test *t = umem_test_init(test, 4 * PAGE_SIZE, 1, lens);
	struct umem_test_exp *exp = t->exp;
	struct ib_umem_dmabuf *umem_dmabuf;

	/*
	 * The table ends at page 2, the umem at page 3.  The umem's first
	 * entry was advanced by a page: it goes back to the exporter as it
	 * came.
	 */
	umem_dmabuf = umem_test_get(test, t, PAGE_SIZE, 2 * PAGE_SIZE);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, umem_dmabuf);
	KUNIT_EXPECT_EQ(test, umem_test_map_pages(umem_dmabuf), -EINVAL);
	KUNIT_EXPECT_NULL(test, umem_dmabuf->sgt);
	KUNIT_EXPECT_EQ(test, exp->maps, 1);
	KUNIT_EXPECT_EQ(test, exp->unmaps, 1);
	KUNIT_EXPECT_EQ(test, exp->unmaps_changed, 0);

	/* nothing was kept: once the exporter maps it all, the map works */
	exp->nents = 2;
	exp->addr[1] = 0x40000000ULL * 2;
	exp->len[1] = 2 * PAGE_SIZE;
	KUNIT_EXPECT_EQ(test, umem_test_map_pages(umem_dmabuf), 0);
	umem_test_expect_table(test, umem_dmabuf, 2,
			       (dma_addr_t[]){ exp->addr[0] + PAGE_SIZE,
					       exp->addr[1] },
			       (unsigned int[]){ PAGE_SIZE, PAGE_SIZE });
	umem_test_put(test, umem_dmabuf);
	KUNIT_EXPECT_EQ(test, exp->unmaps_changed, 0);

	/* a umem that starts past the end of the table */
	exp->nents = 1;
	umem_dmabuf = umem_test_get(test, t, 2 * PAGE_SIZE, PAGE_SIZE);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, umem_dmabuf);
	KUNIT_EXPECT_EQ(test, umem_test_map_pages(umem_dmabuf), -EINVAL);
	KUNIT_EXPECT_NULL(test, umem_dmabuf->sgt);
	umem_test_put(test, umem_dmabuf);
	KUNIT_EXPECT_EQ(test, exp->maps, exp->unmaps);
}

/*
 * A dma-buf whose size is not a multiple of PAGE_SIZE: a umem that ends
 * with the buffer is mapped to the buffer's end, its page-rounded end
 * clamped.
 */
static void umem_test_map_clamp(struct kunit *test)
{
	const unsigned int lens[] = { PAGE_SIZE, PAGE_SIZE / 2 };
	struct umem_test *t = umem_test_init(test, PAGE_SIZE + PAGE_SIZE / 2,
					     2, lens);
	struct ib_umem_dmabuf *umem_dmabuf;

	umem_dmabuf = umem_test_get(test, t, PAGE_SIZE / 2, PAGE_SIZE);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, umem_dmabuf);
	KUNIT_ASSERT_EQ(test, umem_test_map_pages(umem_dmabuf), 0);
	umem_test_expect_table(test, umem_dmabuf, 2,
			       (dma_addr_t[]){ t->exp->addr[0],
					       t->exp->addr[1] },
			       (unsigned int[]){ PAGE_SIZE, PAGE_SIZE / 2 });
	umem_test_put(test, umem_dmabuf);
	KUNIT_EXPECT_EQ(test, t->exp->unmaps_changed, 0);
}

/* The exporter's errors reach the driver, and a failed map keeps nothing */
static void umem_test_map_errors(struct kunit *test)
{
	static const int errs[] = { -ENODEV, -EAGAIN, -EOPNOTSUPP, -ENOMEM };
	const unsigned int lens[] = { 2 * PAGE_SIZE };
	struct umem_test *t = umem_test_init(test, 2 * PAGE_SIZE, 1, lens);
	struct ib_umem_dmabuf *umem_dmabuf;
	unsigned int i;
	int ret;

	umem_dmabuf = umem_test_get(test, t, 0, 2 * PAGE_SIZE);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, umem_dmabuf);
	for (i = 0; i < ARRAY_SIZE(errs); i++) {
		t->exp->map_err = errs[i];
		ret = umem_test_map_pages(umem_dmabuf);
		KUNIT_EXPECT_EQ(test, ret, errs[i]);
		KUNIT_EXPECT_NULL(test, umem_dmabuf->sgt);
	}
	t->exp->map_err = 0;
	KUNIT_EXPECT_EQ(test, umem_test_map_pages(umem_dmabuf), 0);
	KUNIT_EXPECT_EQ(test, t->exp->maps, 1);
	umem_test_put(test, umem_dmabuf);
	KUNIT_EXPECT_EQ(test, t->exp->unmaps, 1);
}

/*
 * A pinned revocable umem: pinned and mapped at once; a revoke unmaps and
 * unpins it for good, and the core says so with -ENODEV.
 */
static void umem_test_pinned_revoke(struct kunit *test)
{
	const size_t size = 2 * PAGE_SIZE;
	const unsigned int lens[] = { size };
	struct umem_test *t = umem_test_init(test, size, 1, lens);
	struct ib_umem_dmabuf *umem_dmabuf;

	umem_dmabuf = ib_umem_dmabuf_get_pinned_revocable_and_lock(t->ibdev, 0,
								   size, t->fd,
								   0);
	if (!IS_ERR(umem_dmabuf))
		dma_resv_unlock(t->dmabuf->resv);
	umem_dmabuf = umem_test_track(test, umem_dmabuf);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, umem_dmabuf);
	/* without DMABUF_MOVE_NOTIFY, the mapping holds a pin of its own */
	KUNIT_EXPECT_EQ(test, t->exp->pins - t->exp->unpins,
			1 + !IS_ENABLED(CONFIG_DMABUF_MOVE_NOTIFY));
	KUNIT_EXPECT_EQ(test, t->exp->maps, 1);

	umem_test_move(t);
	KUNIT_EXPECT_EQ(test, t->exp->pins - t->exp->unpins, 0);
	KUNIT_EXPECT_EQ(test, t->exp->unmaps, 1);
	KUNIT_EXPECT_EQ(test, umem_test_map_pages(umem_dmabuf), -ENODEV);
	KUNIT_EXPECT_EQ(test, t->exp->maps, 1);

	umem_test_put(test, umem_dmabuf);
	KUNIT_EXPECT_EQ(test, t->exp->pins - t->exp->unpins, 0);
	KUNIT_EXPECT_EQ(test, t->exp->unmaps, 1);
}

/* The first half of ib_umem_dmabuf_get_pinned_and_lock(): the attach */
static struct ib_umem_dmabuf *
umem_test_attach_pinned(struct kunit *test, struct umem_test *t)
{
	const struct dma_buf_attach_ops *ops =
		&ib_umem_dmabuf_attach_pinned_revocable_ops;
	struct ib_umem_dmabuf *umem_dmabuf;

	umem_dmabuf = ib_umem_dmabuf_get_with_dma_device(t->ibdev, t->dma_dev,
							 0, 2 * PAGE_SIZE,
							 t->fd, 0, ops);
	return umem_test_track(test, umem_dmabuf);
}

/*
 * The second half of ib_umem_dmabuf_get_pinned_and_lock(), on a umem the
 * exporter revoked first: it fails, and leaves no pin and no mapping.
 */
static void umem_test_pin_revoked(struct kunit *test, struct umem_test *t,
				  struct ib_umem_dmabuf *umem_dmabuf)
{
	int ret;

	dma_resv_lock(t->dmabuf->resv, NULL);
	ret = ib_umem_dmabuf_pin_and_map_locked(umem_dmabuf);
	dma_resv_unlock(t->dmabuf->resv);
	KUNIT_EXPECT_EQ(test, ret, -ENODEV);
	umem_test_put(test, umem_dmabuf);

	KUNIT_EXPECT_EQ(test, t->exp->pins - t->exp->unpins, 0);
	KUNIT_EXPECT_EQ(test, t->exp->maps, t->exp->unmaps);
}

/*
 * The exporter revokes between the attach and the lock of
 * ib_umem_dmabuf_get_pinned_and_lock(): the umem must fail without taking
 * a pin that nothing would drop.
 */
static void umem_test_pinned_revoke_race(struct kunit *test)
{
	const unsigned int lens[] = { 2 * PAGE_SIZE };
	struct umem_test *t = umem_test_init(test, 2 * PAGE_SIZE, 1, lens);
	struct ib_umem_dmabuf *umem_dmabuf;

	umem_dmabuf = umem_test_attach_pinned(test, t);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, umem_dmabuf);

	/* the revoke lands first */
	umem_test_move(t);
	umem_test_pin_revoked(test, t, umem_dmabuf);
}

/*
 * Earlier still: the attachment is on the dma-buf's list, but
 * dma_buf_dynamic_attach() has not returned, so umem_dmabuf->attach is
 * not set yet.  The revoke must not need it.
 */
static void umem_test_pinned_revoke_attaching(struct kunit *test)
{
	const unsigned int lens[] = { 2 * PAGE_SIZE };
	struct umem_test *t = umem_test_init(test, 2 * PAGE_SIZE, 1, lens);
	struct ib_umem_dmabuf *umem_dmabuf;
	struct dma_buf_attachment *attach;

	umem_dmabuf = umem_test_attach_pinned(test, t);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, umem_dmabuf);

	attach = umem_dmabuf->attach;
	umem_dmabuf->attach = NULL;
	umem_test_move(t);
	umem_dmabuf->attach = attach;
	KUNIT_EXPECT_TRUE(test, umem_dmabuf->revoked);
	umem_test_pin_revoked(test, t, umem_dmabuf);
}

static struct kunit_case umem_dmabuf_test_cases[] = {
	KUNIT_CASE(umem_test_get_errors),
	KUNIT_CASE(umem_test_iova_pages),
	KUNIT_CASE(umem_test_map_trim),
	KUNIT_CASE(umem_test_map_short),
	KUNIT_CASE(umem_test_map_clamp),
	KUNIT_CASE(umem_test_map_errors),
	KUNIT_CASE(umem_test_pinned_revoke),
	KUNIT_CASE(umem_test_pinned_revoke_race),
	KUNIT_CASE(umem_test_pinned_revoke_attaching),
	{}
};

static struct kunit_suite umem_dmabuf_test_suite = {
	.name = "ib-umem-dmabuf",
	.test_cases = umem_dmabuf_test_cases,
};

kunit_test_suite(umem_dmabuf_test_suite);
