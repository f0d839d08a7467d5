// SPDX-License-Identifier: GPL-2.0-only
/*
 * sg_tables of DMA addresses for dma-buf exporters of memory without
 * struct pages, such as the BAR of a PCI device.
 *
 * The exporter describes its buffer as physical ranges of one P2P provider;
 * each range is mapped for the importing device with dma_map_p2p(), which
 * decides from the PCI topology whether the importer gets a PCI bus address
 * or a mapping through the host bridge, and refuses paths that do not work.
 * The resulting table has DMA addresses only: no page, no CPU view.
 */
#include <linux/dma-buf-mapping.h>
#include <linux/dma-resv.h>
#include <linux/export.h>
#include <linux/overflow.h>
#include <linux/pci-p2pdma.h>
#include <linux/scatterlist.h>
#include <linux/sizes.h>
#include <linux/slab.h>

/*
 * sg_dma_len() is an unsigned int, so a range is described by entries of
 * at most this many bytes: a page-aligned bound well below 4 GiB, so that
 * every entry but the last of a range is a whole number of pages.
 */
#define DMA_BUF_SG_MAX_SEG	SZ_2G

struct dma_buf_dma {
	struct sg_table sgt;
	size_t nr_maps;
	struct dma_p2p_map maps[] __counted_by(nr_maps);
};

/*
 * Number of sg entries needed for @phys_vec, or 0 if a range is empty or
 * not page aligned, or the lengths do not add up to @size.  64-bit
 * throughout: a buffer of 8 GiB or more must not wrap.
 */
static u64 dma_buf_sg_nents(const struct dma_buf_phys_vec *phys_vec,
			    size_t nr_ranges, size_t size)
{
	size_t i, total = 0;
	u64 nents = 0;

	for (i = 0; i < nr_ranges; i++) {
		if (!phys_vec[i].len || !PAGE_ALIGNED(phys_vec[i].paddr) ||
		    !PAGE_ALIGNED(phys_vec[i].len) ||
		    check_add_overflow(total, phys_vec[i].len, &total))
			return 0;
		nents += DIV_ROUND_UP_ULL((u64)phys_vec[i].len,
					  DMA_BUF_SG_MAX_SEG);
	}
	return total == size ? nents : 0;
}

/* Describe one mapping with entries from @sg on; returns the next entry. */
static struct scatterlist *dma_buf_fill_sg(struct scatterlist *sg,
					   const struct dma_p2p_map *map)
{
	dma_addr_t addr = map->addr;
	u64 left = map->size;

	while (left) {
		unsigned int len = min_t(u64, left, DMA_BUF_SG_MAX_SEG);

		/* sg_page() stays NULL: importers must not touch the CPU side */
		sg_dma_address(sg) = addr;
		sg_dma_len(sg) = len;
		if (map->type == PCI_P2PDMA_MAP_BUS_ADDR)
			sg_dma_mark_bus_address(sg);
		addr += len;
		left -= len;
		sg = sg_next(sg);
	}
	return sg;
}

/**
 * dma_buf_phys_vec_to_sgt - map physical ranges for an importer
 * @attach: the importer's attachment; its reservation lock must be held
 * @provider: P2P provider of the memory, from pcim_p2pdma_provider()
 * @phys_vec: non-empty, page-aligned physical ranges of @provider's BAR, in
 *	the order in which they make up the dma-buf
 * @nr_ranges: number of entries in @phys_vec
 * @size: size of the dma-buf: the sum of the lengths in @phys_vec
 * @dir: DMA direction
 *
 * Meant for the map_dma_buf() callback of an exporter of MMIO.  Each range
 * is mapped for @attach->dev with dma_map_p2p(): a PCI bus address when the
 * path stays below a common PCI bridge with no ACS redirection (nothing is
 * mapped), one mapping of the whole range through the host bridge
 * otherwise.  The table describes the ranges in order, each split into
 * entries of at most 2 GiB; entries carry only a DMA address and a length,
 * both page aligned as dma_buf_map_attachment() promises, and no struct
 * page.  As there is no CPU list, only sgt->nents is set (orig_nents is 0):
 * importers walk the table with for_each_sgtable_dma_sg(), program the
 * addresses into their DMA engine, and must not pass the table to
 * dma_map_sgtable() or look at sg_page().
 *
 * Context: process context, may sleep.
 * Return: the table, to be released with dma_buf_free_sgt(), or an
 * ERR_PTR(): -EINVAL for a missing provider, no range, an empty or
 * unaligned range, lengths that do not add up to @size or a range that
 * wraps around; -E2BIG if the table would need more than UINT_MAX entries;
 * -ENOMEM; otherwise the error with which dma_map_p2p() refused the path
 * (-ENODEV, -EACCES, -EOPNOTSUPP, -EPERM, -EREMOTEIO, -ERANGE), which it
 * also logs.
 */
struct sg_table *dma_buf_phys_vec_to_sgt(struct dma_buf_attachment *attach,
					 struct p2pdma_provider *provider,
					 struct dma_buf_phys_vec *phys_vec,
					 size_t nr_ranges, size_t size,
					 enum dma_data_direction dir)
{
	struct scatterlist *sg;
	struct dma_buf_dma *dma;
	size_t i;
	u64 nents;
	int ret;

	dma_resv_assert_held(attach->dmabuf->resv);

	if (!provider || !nr_ranges)
		return ERR_PTR(-EINVAL);
	nents = dma_buf_sg_nents(phys_vec, nr_ranges, size);
	if (!nents)
		return ERR_PTR(-EINVAL);
	if (nents > UINT_MAX)
		return ERR_PTR(-E2BIG);

	/* An exporter may pass many ranges: one mapping each */
	dma = kvzalloc(struct_size(dma, maps, nr_ranges),
		       GFP_KERNEL | __GFP_NOWARN);
	if (!dma)
		return ERR_PTR(-ENOMEM);
	dma->nr_maps = nr_ranges;
	ret = sg_alloc_table(&dma->sgt, nents, GFP_KERNEL);
	if (ret)
		goto err_free;

	sg = dma->sgt.sgl;
	for (i = 0; i < nr_ranges; i++) {
		ret = dma_map_p2p(attach->dev, provider, phys_vec[i].paddr,
				  phys_vec[i].len, dir, 0, &dma->maps[i]);
		if (ret)
			goto err_unmap;
		sg = dma_buf_fill_sg(sg, &dma->maps[i]);
		cond_resched();
	}
	/* every entry was used: dma_buf_sg_nents() counted them */
	WARN_ON_ONCE(sg);
	/* there is no CPU list, only DMA addresses */
	dma->sgt.orig_nents = 0;
	return &dma->sgt;

err_unmap:
	while (i--)
		dma_unmap_p2p(attach->dev, &dma->maps[i], dir, 0);
	sg_free_table(&dma->sgt);
err_free:
	kvfree(dma);
	return ERR_PTR(ret);
}
EXPORT_SYMBOL_NS_GPL(dma_buf_phys_vec_to_sgt, DMA_BUF);

/**
 * dma_buf_free_sgt - unmap and free a table from dma_buf_phys_vec_to_sgt()
 * @attach: the attachment the table was made for; its reservation lock must
 *	be held
 * @sgt: the table; no other table may be passed
 * @dir: the DMA direction it was made with
 *
 * Needs nothing from the provider, which may be gone by now.
 */
void dma_buf_free_sgt(struct dma_buf_attachment *attach, struct sg_table *sgt,
		      enum dma_data_direction dir)
{
	struct dma_buf_dma *dma = container_of(sgt, struct dma_buf_dma, sgt);
	size_t i;

	dma_resv_assert_held(attach->dmabuf->resv);

	for (i = 0; i < dma->nr_maps; i++) {
		dma_unmap_p2p(attach->dev, &dma->maps[i], dir, 0);
		cond_resched();
	}
	/* sg_free_table() frees orig_nents entries */
	dma->sgt.orig_nents = dma->sgt.nents;
	sg_free_table(&dma->sgt);
	kvfree(dma);
}
EXPORT_SYMBOL_NS_GPL(dma_buf_free_sgt, DMA_BUF);
