// SPDX-License-Identifier: GPL-2.0
/*
 * p2pdma_edu's benchmarks, for vfio_dmabuf_bench: the table of a dma-buf
 * of BAR ranges (dma_map_p2p() through dma_buf_phys_vec_to_sgt()) against
 * what exporters without it do.
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/kprobes.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>

#include "p2pdma_edu_core.h"

/*
 * Many runs timed in the kernel, in the manner of
 * kernel/dma/map_benchmark.c, returned as their median and spread.  The
 * calls of iommu_map() are counted with a kprobe in an untimed first run,
 * which keeps the probe's cost out of the times.
 */
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

/**
 * p2pdma_edu_bench_run() - time a map and unmap
 * @ops: what to time
 * @ctx: their argument
 * @iterations: at most this many timed runs, at most
 *	P2PDMA_EDU_BENCH_MAX_RUNS
 * @budget_ms: no new run after this
 * @runs: out: timed runs made
 * @iommu_maps: out: calls of iommu_map() in one run, or
 *	P2PDMA_EDU_BENCH_UNCOUNTED
 * @map: out: times of @ops->map()
 * @unmap: out: times of @ops->unmap()
 *
 * One untimed run counts the iommu_map() calls, then the timed runs.
 *
 * Return: 0, -EINVAL for a bad @iterations, -EINTR, or the error of
 * @ops->map().
 */
int p2pdma_edu_bench_run(const struct p2pdma_edu_bench_ops *ops, void *ctx,
			 u32 iterations, u32 budget_ms, u32 *runs,
			 u64 *iommu_maps, struct p2pdma_edu_bench_stat *map,
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
EXPORT_SYMBOL_NS_GPL(p2pdma_edu_bench_run, P2PDMA_EDU);

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

long p2pdma_edu_ioctl_bench_map(void __user *arg)
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
