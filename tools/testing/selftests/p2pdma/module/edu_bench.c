// SPDX-License-Identifier: GPL-2.0
/*
 * p2pdma_edu's benchmarks, for vfio_dmabuf_bench: the table of a dma-buf
 * of BAR ranges (dma_map_p2p() through dma_buf_phys_vec_to_sgt()) against
 * the floor (one dma_map_resource() of the range) and against what
 * exporters without it do (one per page).
 */
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/kprobes.h>
#include <linux/math64.h>
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

/* One way of mapping, timed by p2pdma_edu_bench_sides() */
struct p2pdma_edu_bench_side {
	const struct p2pdma_edu_bench_ops *ops;
	void *ctx;
	u64 iommu_maps;
	struct p2pdma_edu_bench_stat map;
	struct p2pdma_edu_bench_stat unmap;
};

/* The untimed first run, which counts the iommu_map() calls */
static int p2pdma_edu_bench_count(struct p2pdma_edu_bench_side *s)
{
	struct p2pdma_edu_counter counter;
	bool counting;
	int ret;

	counting = !p2pdma_edu_count_start(&counter);
	ret = s->ops->map(s->ctx);
	s->iommu_maps = counting ? p2pdma_edu_count_stop(&counter) :
				   P2PDMA_EDU_BENCH_UNCOUNTED;
	if (!ret)
		s->ops->unmap(s->ctx);
	return ret;
}

/*
 * Time @nr (1 or 2) ways of mapping: an untimed first run of each, then
 * timed runs.  Two take turns run by run, A B B A ..., in pairs; *@ratio
 * gets, per pair of adjacent runs, the map + unmap time of @sides[0]
 * over @sides[1]'s, in thousandths.
 */
static int p2pdma_edu_bench_sides(struct p2pdma_edu_bench_side *sides,
				  unsigned int nr, u32 iterations,
				  u32 budget_ms, u32 *runs,
				  struct p2pdma_edu_bench_stat *ratio)
{
	u64 *ns, deadline, t0, t1, t2, a, b;
	struct p2pdma_edu_bench_side *s;
	unsigned int k, i;
	u32 max, n = 0;
	int ret = 0;

	if (!iterations || iterations > P2PDMA_EDU_BENCH_MAX_RUNS)
		return -EINVAL;
	/* room for the run that completes the last pair */
	max = iterations + nr - 1;
	/* per side: map times, unmap times; then, for two, the ratios */
	ns = kvcalloc((2 * nr + (nr == 2)) * max, sizeof(*ns), GFP_KERNEL);
	if (!ns)
		return -ENOMEM;

	for (k = 0; k < nr; k++) {
		ret = p2pdma_edu_bench_count(&sides[k]);
		if (ret)
			goto out;
	}

	deadline = ktime_get_ns() + (u64)budget_ms * NSEC_PER_MSEC;
	while ((n < iterations && (!n || ktime_get_ns() < deadline)) ||
	       n % nr) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto out;
		}
		for (k = 0; k < nr; k++) {
			i = nr == 2 ? (n & 1) ^ k : 0;
			s = &sides[i];
			t0 = ktime_get_ns();
			ret = s->ops->map(s->ctx);
			t1 = ktime_get_ns();
			if (ret)
				goto out;
			s->ops->unmap(s->ctx);
			t2 = ktime_get_ns();
			ns[2 * i * max + n] = t1 - t0;
			ns[(2 * i + 1) * max + n] = t2 - t1;
		}
		if (nr == 2) {
			a = ns[n] + ns[max + n];
			b = ns[2 * max + n] + ns[3 * max + n];
			ns[4 * max + n] = div64_u64(a * 1000, b ?: 1);
		}
		n++;
		cond_resched();
	}
	for (k = 0; k < nr; k++) {
		p2pdma_edu_bench_stat(ns + 2 * k * max, n, &sides[k].map);
		p2pdma_edu_bench_stat(ns + (2 * k + 1) * max, n,
				      &sides[k].unmap);
	}
	if (nr == 2)
		p2pdma_edu_bench_stat(ns + 4 * max, n, ratio);
	*runs = n;
out:
	kvfree(ns);
	return ret;
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
 * Return: 0, -EINVAL for a bad @iterations, -ENOMEM, -EINTR, or the
 * error of @ops->map().
 */
int p2pdma_edu_bench_run(const struct p2pdma_edu_bench_ops *ops, void *ctx,
			 u32 iterations, u32 budget_ms, u32 *runs,
			 u64 *iommu_maps, struct p2pdma_edu_bench_stat *map,
			 struct p2pdma_edu_bench_stat *unmap)
{
	struct p2pdma_edu_bench_side side = { .ops = ops, .ctx = ctx };
	int ret;

	ret = p2pdma_edu_bench_sides(&side, 1, iterations, budget_ms, runs,
				     NULL);
	*iommu_maps = side.iommu_maps;
	*map = side.map;
	*unmap = side.unmap;
	return ret;
}
EXPORT_SYMBOL_NS_GPL(p2pdma_edu_bench_run, P2PDMA_EDU);

struct p2pdma_edu_bench_map_ctx {
	struct device *dev;
	phys_addr_t phys;		/* CPU address of the range */
	size_t len;
	/* RANGES, FLOOR: attached to a dma-buf of the range */
	struct dma_buf_attachment *attach;
	struct sg_table *sgt;
	struct sg_table pages;		/* P2PDMA_EDU_BENCH_PER_PAGE */
	unsigned int nents;
};

/*
 * What an importer of the exporter above costs: dma_buf_phys_vec_to_sgt(),
 * or the floor's map
 */
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
	/* the same attachment, to a dma-buf that maps the floor's way */
	[P2PDMA_EDU_BENCH_FLOOR] = {
		.map = p2pdma_edu_bench_map_ranges,
		.unmap = p2pdma_edu_bench_unmap_ranges,
	},
};

/* Set up @c for @method: a dma-buf attachment, or nothing for PER_PAGE */
static int p2pdma_edu_bench_ctx(struct p2pdma_edu *prov,
				struct p2pdma_edu_bench_map *req, u32 method,
				struct p2pdma_edu_bench_map_ctx *c)
{
	struct dma_buf_phys_vec range = {
		.paddr = req->offset, .len = req->length,
	};

	c->phys = pci_resource_start(prov->pdev, req->bar) + req->offset;
	c->len = req->length;
	if (method == P2PDMA_EDU_BENCH_PER_PAGE)
		return 0;
	c->attach = p2pdma_edu_phys_attach_new(prov, req->bar, &range, 1,
					       c->dev,
					       method == P2PDMA_EDU_BENCH_FLOOR);
	if (IS_ERR(c->attach)) {
		int ret = PTR_ERR(c->attach);

		c->attach = NULL;
		return ret;
	}
	return 0;
}

long p2pdma_edu_ioctl_bench_map(void __user *arg)
{
	struct p2pdma_edu_bench_map_ctx c[2] = {};
	struct p2pdma_edu_bench_side sides[2] = {};
	struct p2pdma_edu_bench_map req;
	struct p2pdma_edu *prov;
	unsigned int nr, k;
	u32 method[2];
	int ret;

	if (copy_from_user(&req, arg, sizeof(req)))
		return -EFAULT;
	nr = req.baseline ? 2 : 1;
	method[0] = req.method;
	method[1] = req.baseline - 1;
	if (method[0] >= ARRAY_SIZE(p2pdma_edu_bench_map_ops) ||
	    (nr == 2 && (method[1] >= ARRAY_SIZE(p2pdma_edu_bench_map_ops) ||
			 method[1] == method[0])) ||
	    req.bar >= PCI_STD_NUM_BARS || !req.length ||
	    !PAGE_ALIGNED(req.offset) || !PAGE_ALIGNED(req.length) ||
	    req.length >> PAGE_SHIFT > UINT_MAX)
		return -EINVAL;
	memset(&req.ratio_pm, 0, sizeof(req.ratio_pm));

	mutex_lock(&p2pdma_edu_bench_lock);
	prov = p2pdma_edu_phys_get(req.provider, req.bar, req.importer,
				   &c[0].dev);
	if (!prov) {
		ret = -ENODEV;
		goto out_unlock;
	}
	c[1].dev = c[0].dev;
	if (req.offset >= pci_resource_len(prov->pdev, req.bar) ||
	    req.length > pci_resource_len(prov->pdev, req.bar) - req.offset) {
		ret = -EINVAL;
		goto out_put;
	}
	for (k = 0; k < nr; k++) {
		ret = p2pdma_edu_bench_ctx(prov, &req, method[k], &c[k]);
		if (ret)
			goto out_detach;
		sides[k].ops = &p2pdma_edu_bench_map_ops[method[k]];
		sides[k].ctx = &c[k];
	}
	ret = p2pdma_edu_bench_sides(sides, nr, req.iterations, req.budget_ms,
				     &req.runs, &req.ratio_pm);
	req.nents = c[0].nents;
	req.iommu_maps = sides[0].iommu_maps;
	req.map = sides[0].map;
	req.unmap = sides[0].unmap;
	req.base_nents = c[1].nents;
	req.base_iommu_maps = sides[1].iommu_maps;
	req.base_map = sides[1].map;
	req.base_unmap = sides[1].unmap;
out_detach:
	for (k = 0; k < nr; k++)
		if (c[k].attach)
			p2pdma_edu_phys_detach(c[k].attach);
out_put:
	p2pdma_edu_phys_put(prov, c[0].dev);
out_unlock:
	mutex_unlock(&p2pdma_edu_bench_lock);
	if (!ret && copy_to_user(arg, &req, sizeof(req)))
		ret = -EFAULT;
	return ret;
}
