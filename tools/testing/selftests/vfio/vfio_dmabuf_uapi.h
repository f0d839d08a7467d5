/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the series adds to linux/vfio.h and linux/iommufd.h, for building
 * the selftests and the benchmark against installed uAPI headers that
 * predate it.
 */
#ifndef _VFIO_DMABUF_UAPI_H
#define _VFIO_DMABUF_UAPI_H

#include <linux/types.h>
#include <linux/vfio.h>

#ifndef VFIO_DEVICE_FEATURE_DMA_BUF
struct vfio_region_dma_range {
	__u64 offset;
	__u64 length;
};

struct vfio_device_feature_dma_buf {
	__u32	region_index;
	__u32	open_flags;
	__u32	flags;
	__u32	nr_ranges;
	struct vfio_region_dma_range dma_ranges[];
};

#define VFIO_DEVICE_FEATURE_DMA_BUF 11
#endif

/*
 * IOMMU_IOAS_MAP_FILE (mainline 6.13; in this series after the vfio
 * patches): the benchmark's vmm mode maps a dma-buf with it.  A kernel
 * without it answers ENOTTY.
 */
#include <linux/iommufd.h>
#ifndef IOMMU_IOAS_MAP_FILE
struct iommu_ioas_map_file {
	__u32 size;
	__u32 flags;
	__u32 ioas_id;
	__s32 fd;
	__aligned_u64 start;
	__aligned_u64 length;
	__aligned_u64 iova;
};

#define IOMMU_IOAS_MAP_FILE _IO(IOMMUFD_TYPE, 0x8f)
#endif

#endif /* _VFIO_DMABUF_UAPI_H */
