/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * Interface of the p2pdma_edu test module: QEMU's edu device as a DMA
 * engine that imports peer-to-peer memory, driven from selftests.
 */
#ifndef _P2PDMA_EDU_H
#define _P2PDMA_EDU_H

#include <linux/const.h>
#include <linux/ioctl.h>
#include <linux/types.h>

#define P2PDMA_EDU_DEV		"/dev/p2pdma_edu"

/* A PCI function: domain << 16 | bus << 8 | devfn */
#define P2PDMA_EDU_PCI(dom, bus, dev, fn) \
	((__u32)(dom) << 16 | (__u32)(bus) << 8 | (__u32)(dev) << 3 | (fn))
/* As importer: a device that is not a PCI device (the misc device) */
#define P2PDMA_EDU_NON_PCI	0xffffffffU

/* Values of p2pdma_edu_map.type, as enum pci_p2pdma_map_type */
#define P2PDMA_EDU_NOT_SUPPORTED	1
#define P2PDMA_EDU_BUS_ADDR		2
#define P2PDMA_EDU_THRU_HOST_BRIDGE	3

/**
 * struct p2pdma_edu_map - map a BAR range of a provider for an importer
 * @provider: PCI function bound to p2pdma_edu as provider
 * @importer: edu PCI function bound to p2pdma_edu, or P2PDMA_EDU_NON_PCI
 * @bar: BAR of the provider
 * @type: out: how the importer reaches the BAR (P2PDMA_EDU_*)
 * @offset: offset in the BAR
 * @length: length in bytes
 * @dma_addr: out: address the importer uses
 * @handle: out: for P2PDMA_EDU_UNMAP
 * @mapped: out: 1 if an IOMMU mapping was made
 */
struct p2pdma_edu_map {
	__u32 provider;
	__u32 importer;
	__u32 bar;
	__u32 type;
	__u64 offset;
	__u64 length;
	__u64 dma_addr;
	__u32 handle;
	__u32 mapped;
};

/**
 * struct p2pdma_edu_dma - have edu copy between user memory and a DMA address
 * @importer: edu PCI function
 * @to_device: 1: user buffer -> @dma_addr, 0: @dma_addr -> user buffer
 * @dma_addr: target address, used as is (it may be stale on purpose)
 * @length: bytes, at most P2PDMA_EDU_MAX_DMA
 * @user_buf: user buffer
 */
struct p2pdma_edu_dma {
	__u32 importer;
	__u32 to_device;
	__u64 dma_addr;
	__u64 length;
	__u64 user_buf;
};

#define P2PDMA_EDU_MAX_DMA	(64 * 1024)

/**
 * struct p2pdma_edu_mask - set the DMA mask of an edu importer
 * @importer: edu PCI function
 * @bits: DMA mask width, 24 to 64
 */
struct p2pdma_edu_mask {
	__u32 importer;
	__u32 bits;
};

#define P2PDMA_EDU_MAX_RANGES	8
#define P2PDMA_EDU_MAX_SEGS	32

/**
 * struct p2pdma_edu_map_ranges - map ranges with dma_p2p_map_ranges()
 * @provider: PCI function bound to p2pdma_edu as provider
 * @importer: edu PCI function
 * @bar: BAR of the provider
 * @nr_ranges: number of entries of @ranges used
 * @ranges: {offset, length} pairs, in order
 * @nents: out: number of sg entries of the table
 * @handle: out: for P2PDMA_EDU_UNMAP
 * @segs: out: the first P2PDMA_EDU_MAX_SEGS entries, {dma address, length}
 */
struct p2pdma_edu_map_ranges {
	__u32 provider;
	__u32 importer;
	__u32 bar;
	__u32 nr_ranges;
	struct {
		__u64 offset;
		__u64 length;
	} ranges[P2PDMA_EDU_MAX_RANGES];
	__u32 nents;
	__u32 handle;
	struct {
		__u64 addr;
		__u64 len;
	} segs[P2PDMA_EDU_MAX_SEGS];
};

/* Flags of p2pdma_edu_import.flags */
#define P2PDMA_EDU_IMPORT_STATIC	_BITUL(0) /* no move_notify: dma_buf_attach() */
#define P2PDMA_EDU_IMPORT_PIN		_BITUL(1) /* dma_buf_pin() after attaching */
#define P2PDMA_EDU_IMPORT_REVOCABLE	_BITUL(2) /* pin revocable: dies on revoke */
#define P2PDMA_EDU_IMPORT_NO_P2P	_BITUL(3) /* allow_peer2peer = false */

/**
 * struct p2pdma_edu_import - attach an edu importer to a dma-buf
 * @importer: edu PCI function
 * @fd: dma-buf file descriptor
 * @flags: P2PDMA_EDU_IMPORT_*; 0 is a dynamic peer-to-peer importer that
 *	unmaps from move_notify, as RDMA drivers do
 * @handle: out: for the P2PDMA_EDU_IMPORT_* ioctls
 * @size: out: size of the dma-buf
 *
 * The import holds a reference on the dma-buf until P2PDMA_EDU_IMPORT_CLOSE
 * or until /dev/p2pdma_edu is closed.
 */
struct p2pdma_edu_import {
	__u32 importer;
	__s32 fd;
	__u32 flags;
	__u32 handle;
	__u64 size;
};

/**
 * struct p2pdma_edu_import_map - map an imported dma-buf under its resv lock
 * @handle: import handle
 * @nents: out: number of sg entries of the mapping
 * @segs: out: the first P2PDMA_EDU_MAX_SEGS entries, {dma address, length}
 *
 * Returns the current mapping if there is one.  Fails with the exporter's
 * errno, e.g. ENODEV while the dma-buf is revoked.
 */
struct p2pdma_edu_import_map {
	__u32 handle;
	__u32 nents;
	struct {
		__u64 addr;
		__u64 len;
	} segs[P2PDMA_EDU_MAX_SEGS];
};

/**
 * struct p2pdma_edu_import_dma - have edu copy through an imported dma-buf
 * @handle: import handle
 * @to_device: 1: user buffer -> dma-buf, 0: dma-buf -> user buffer
 * @offset: byte offset in the dma-buf
 * @length: bytes, at most P2PDMA_EDU_MAX_DMA
 * @user_buf: user buffer
 *
 * Runs under the dma-buf's resv lock, so move_notify waits for it.  Maps
 * first if nothing is mapped (like an RDMA page fault) and fails with the
 * mapping's errno, e.g. ENODEV while revoked.
 */
struct p2pdma_edu_import_dma {
	__u32 handle;
	__u32 to_device;
	__u64 offset;
	__u64 length;
	__u64 user_buf;
};

/**
 * struct p2pdma_edu_import_info - what an importer has seen
 * @handle: import handle
 * @mapped: out: 1 while a mapping is held
 * @move_notify: out: number of move_notify calls
 * @maps: out: number of successful mappings
 * @map_errors: out: number of failed mapping attempts
 * @last_error: out: positive errno of the last failed mapping attempt
 * @fences_signalled: out: number of P2PDMA_EDU_IMPORT_FENCE fences signalled
 */
struct p2pdma_edu_import_info {
	__u32 handle;
	__u32 mapped;
	__u32 move_notify;
	__u32 maps;
	__u32 map_errors;
	__s32 last_error;
	__u32 fences_signalled;
};

/**
 * struct p2pdma_edu_import_fence - publish a fence in the dma-buf's resv
 * @handle: import handle
 * @delay_ms: the fence signals this long after the ioctl, 1 to 10000
 *
 * Stands for work the importer queued on the buffer: an exporter that waits
 * for the resv fences before completing a revoke returns after it signals.
 * One fence per import at a time (EBUSY).
 */
struct p2pdma_edu_import_fence {
	__u32 handle;
	__u32 delay_ms;
};

#define P2PDMA_EDU_MAP		_IOWR('P', 0x01, struct p2pdma_edu_map)
#define P2PDMA_EDU_UNMAP	_IOW('P', 0x02, __u32)
#define P2PDMA_EDU_DMA		_IOW('P', 0x03, struct p2pdma_edu_dma)
#define P2PDMA_EDU_SET_MASK	_IOW('P', 0x04, struct p2pdma_edu_mask)
#define P2PDMA_EDU_MAP_RANGES	_IOWR('P', 0x05, struct p2pdma_edu_map_ranges)
#define P2PDMA_EDU_IMPORT	_IOWR('P', 0x06, struct p2pdma_edu_import)
#define P2PDMA_EDU_IMPORT_MAP	_IOWR('P', 0x07, struct p2pdma_edu_import_map)
#define P2PDMA_EDU_IMPORT_UNMAP	_IOW('P', 0x08, __u32)
#define P2PDMA_EDU_IMPORT_DMA	_IOW('P', 0x09, struct p2pdma_edu_import_dma)
#define P2PDMA_EDU_IMPORT_INFO	_IOWR('P', 0x0a, struct p2pdma_edu_import_info)
#define P2PDMA_EDU_IMPORT_CLOSE	_IOW('P', 0x0b, __u32)
#define P2PDMA_EDU_IMPORT_FENCE	_IOW('P', 0x0c, struct p2pdma_edu_import_fence)

#endif /* _P2PDMA_EDU_H */
