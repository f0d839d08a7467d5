/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * sg_tables of DMA addresses for dma-buf exporters of memory without
 * struct pages.
 */
#ifndef __DMA_BUF_MAPPING_H__
#define __DMA_BUF_MAPPING_H__

#include <linux/dma-buf.h>

struct p2pdma_provider;

struct sg_table *dma_buf_phys_vec_to_sgt(struct dma_buf_attachment *attach,
					 struct p2pdma_provider *provider,
					 struct dma_buf_phys_vec *phys_vec,
					 size_t nr_ranges, size_t size,
					 enum dma_data_direction dir);
void dma_buf_free_sgt(struct dma_buf_attachment *attach, struct sg_table *sgt,
		      enum dma_data_direction dir);

#endif /* __DMA_BUF_MAPPING_H__ */
