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
#include <rdma/ib_user_ioctl_cmds.h>

#define P2PDMA_EDU_DEV		"/dev/p2pdma_edu"
/* The stand-in HCA (p2pdma_hca.ko): the MR, QP and BENCH_REG ioctls */
#define P2PDMA_HCA_DEV		"/dev/p2pdma_hca"

/* A PCI function: domain << 16 | bus << 8 | devfn */
#define P2PDMA_EDU_PCI(dom, bus, dev, fn) \
	((__u32)(dom) << 16 | (__u32)(bus) << 8 | (__u32)(dev) << 3 | (fn))
/* As importer: a device that is not a PCI device (the misc device) */
#define P2PDMA_EDU_NON_PCI	0xffffffffU

/* Values of p2pdma_edu_map.type: how pci_p2pdma_map_type() classifies the path */
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
 * struct p2pdma_edu_map_ranges - export ranges, attach edu and map them
 *	(a dma-buf exporter whose map_dma_buf() is dma_buf_phys_vec_to_sgt())
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
/* move_notify leaves the mapping to a worker, which unmaps 1.5 s later */
#define P2PDMA_EDU_IMPORT_LATE_UNMAP	_BITUL(4)
#define P2PDMA_EDU_LATE_UNMAP_MS	1500

/**
 * struct p2pdma_edu_import - attach an edu importer to a dma-buf
 * @importer: edu PCI function, or P2PDMA_EDU_NON_PCI: the misc device
 *	attaches as a dynamic peer-to-peer importer and detaches again at
 *	once (the ioctl returns the exporter's answer, nothing is kept)
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

/* An importer keeps what it saw in its last this many move_notify calls */
#define P2PDMA_EDU_SEEN_MAX	8

/**
 * struct p2pdma_edu_seen - the provider as an importer saw it in move_notify
 * @valid: 1 if that move_notify is one of the last P2PDMA_EDU_SEEN_MAX
 * @provider: 1 if the dma-buf's exporter is a PCI device the importer found
 *	(vfio-pci names its dma-bufs after the device); the rest is 0 if not
 * @present: the provider answered a config read (still on the bus)
 * @decode: PCI_COMMAND_MEMORY was set in the provider's command register
 * @enabled: the provider was enabled (pci_is_enabled())
 * @d0: the provider's PM control register said D0 (1 if it has no PM
 *	capability, as QEMU's ivshmem)
 * @reg0: the first 32-bit register of the provider's first memory BAR
 *	(ivshmem: BAR 0, IntrMask; the lab's modern virtio-rng: BAR 1, its
 *	MSI-X table), read while @present and @decode: a test writes a value
 *	there that a reset clears
 *
 * Taken inside move_notify, before the importer unmaps: an exporter that
 * revokes before the device loses its BARs is seen with everything set.
 */
struct p2pdma_edu_seen {
	__u32 valid;
	__u32 provider;
	__u32 present;
	__u32 decode;
	__u32 enabled;
	__u32 d0;
	__u32 reg0;
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
 * @seen_index: in: the move_notify call, counted from 1, to report in @seen
 * @seen: out: what the importer saw of the provider in that call
 */
struct p2pdma_edu_import_info {
	__u32 handle;
	__u32 mapped;
	__u32 move_notify;
	__u32 maps;
	__u32 map_errors;
	__s32 last_error;
	__u32 fences_signalled;
	__u32 seen_index;
	struct p2pdma_edu_seen seen;
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

/*
 * dma-buf MRs of the stand-in HCA: registered through uverbs on the RDMA
 * device p2pdma_hca<n> whose parent is edu, with
 * UVERBS_METHOD_REG_DMABUF_MR (the ioctl behind ibv_reg_dmabuf_mr()) and
 * deregistered with UVERBS_METHOD_MR_DESTROY, so that uverbs' checks and
 * object lifetimes apply.  The MR's lkey names it in P2PDMA_EDU_MR_ACCESS
 * and P2PDMA_EDU_MR_INFO.
 *
 * The default registers the way mlx5 does: a dynamic importer through
 * ib_umem_dmabuf_get(), mapped up front, with one translation entry per
 * PAGE_SIZE block, written under the dma-buf's resv lock.  On move_notify
 * the HCA zaps the entries, waits for the accesses in flight, and unmaps
 * the umem; the next access faults, and a fault that fails (e.g. ENODEV
 * while the exporter has revoked access) moves the QP to the error state.
 * Registration fails with the errno of uverbs, of the RDMA core or of the
 * first mapping, e.g. EOPNOTSUPP where the topology refuses P2P.
 *
 * The driver's attributes of UVERBS_METHOD_REG_DMABUF_MR, all optional:
 * @P2PDMA_HCA_ATTR_REG_DMABUF_MR_FLAGS: flags (u32 or u64) P2PDMA_EDU_MR_*, at
 *	most one: register pinned, as 6.12's efa, irdma and bnxt_re do, or
 *	pinned and revocable, as mainline's irdma and erdma
 * @P2PDMA_HCA_ATTR_REG_DMABUF_MR_PGSZ: the block sizes (u64) the table may
 *	use: 0 for PAGE_SIZE, as mlx5; otherwise it must include PAGE_SIZE
 *	(P2PDMA_EDU_MR_PGSZ_LARGE on 4 KiB pages)
 * @P2PDMA_HCA_ATTR_REG_DMABUF_MR_RESP: out: struct p2pdma_hca_mr_resp
 */
enum p2pdma_hca_reg_dmabuf_mr_attrs {
	P2PDMA_HCA_ATTR_REG_DMABUF_MR_FLAGS = (1U << UVERBS_ID_NS_SHIFT),
	P2PDMA_HCA_ATTR_REG_DMABUF_MR_PGSZ,
	P2PDMA_HCA_ATTR_REG_DMABUF_MR_RESP,
};

#define P2PDMA_EDU_MR_PINNED		_BITUL(0) /* ib_umem_dmabuf_get_pinned() */
#define P2PDMA_EDU_MR_PINNED_REVOCABLE	_BITUL(1) /* ..._pinned_revocable_and_lock() */

/*
 * Block sizes for an HCA that is not mlx5: the best of 4 KiB, 2 MiB and
 * 1 GiB that the first mapping allows.  mlx5 (block sizes 0) uses
 * PAGE_SIZE blocks for dynamic dma-buf MRs.
 */
#define P2PDMA_EDU_MR_PGSZ_LARGE	(0x1000ULL | 0x200000ULL | 0x40000000ULL)

/**
 * struct p2pdma_hca_mr_resp - what the HCA made of an MR
 * @page_size: block size ib_umem_find_best_pgsz() chose; the MR keeps it,
 *	and a fault whose mapping it does not fit fails (EINVAL, or EIO if
 *	the number of blocks changed)
 * @entries: translation entries (blocks) of the MR
 * @umem_pages: ib_umem_num_pages() of the umem before its first mapping:
 *	the pages the MR spans in the dma-buf
 */
struct p2pdma_hca_mr_resp {
	__u64 page_size;
	__u64 entries;
	__u64 umem_pages;
};

/**
 * struct p2pdma_edu_mr_access - an RDMA write or read into an MR
 * @handle: the MR's lkey
 * @write: 1: user buffer -> MR (RDMA write), 0: MR -> user buffer
 * @iova: first byte, within the MR
 * @length: bytes, at most P2PDMA_EDU_MAX_DMA
 * @user_buf: user buffer
 * @qp: the QP it is posted on (P2PDMA_EDU_CREATE_QP)
 * @reserved: 0
 *
 * A work request on @qp, waited for.  An MR registered without
 * IB_ACCESS_REMOTE_WRITE (for a write) or IB_ACCESS_REMOTE_READ (for a
 * read) completes it in error with EACCES, before any DMA, as a remote
 * access error does.  Otherwise edu DMAs piece by piece (at most
 * 2 KiB, like packets) to the addresses of the translation table, outside
 * the resv lock; a zap waits for the piece in flight.  A piece whose
 * entry is not present raises a page fault, handled by a workqueue:
 * EAGAIN retries the piece, any other error completes the request in
 * error.  Returns 0 once completed; EIO if it completed in error, which
 * moves @qp to the error state for good (P2PDMA_EDU_QP_INFO says why),
 * or if @qp was in error already (flushed).  EINVAL if the range is
 * outside the MR, ENOENT for an unknown MR or QP.
 */
struct p2pdma_edu_mr_access {
	__u32 handle;
	__u32 write;
	__u64 iova;
	__u64 length;
	__u64 user_buf;
	__u32 qp;
	__u32 reserved;
};

/**
 * struct p2pdma_edu_qp_info - a QP of the stand-in HCA
 * @handle: QP handle
 * @error: out: 1 once a request completed in error; a QP stays in error
 *	until it is destroyed, as an RDMA QP does
 * @last_error: out: positive errno of the failure that moved it to error
 * @completions: out: requests completed successfully
 * @flushed: out: requests refused because the QP was in error
 * @page_faults: out: page faults raised by its requests
 * @retries: out: faults that returned EAGAIN and were retried (at most
 *	100 in a row; the next completes the request in error)
 * @reserved: 0
 */
struct p2pdma_edu_qp_info {
	__u32 handle;
	__u32 error;
	__s32 last_error;
	__u32 completions;
	__u32 flushed;
	__u32 page_faults;
	__u32 retries;
	__u32 reserved;
};

/**
 * struct p2pdma_edu_mr_info - what the HCA has seen of an MR
 * @handle: the MR's lkey
 * @valid: out: 1 while the translation table is valid
 * @invalidations: out: move_notify calls, or the revoke of a pinned MR
 * @zap_waits: out: zaps that waited for an access piece in flight
 * @inflight_at_unmap: out: zaps that let the unmap go ahead while a piece
 *	was still in flight (a bug: 0)
 * @faults: out: successful mappings (registration included)
 * @fault_errors: out: failed mapping attempts
 * @last_error: out: positive errno of the last failed attempt
 * @revoked: out: 1 once a pinned revocable MR was revoked
 * @nents: out: sg entries of the umem while mapped
 * @page_size: out: block size of the table while valid
 * @entries: out: entries of the table while valid
 * @first_dma: out: DMA address of the first block while valid
 * @seen_index: in: the invalidation, counted from 1, to report in @seen
 * @seen: out: what the HCA saw of the provider in that invalidation
 * @fault_ns: out: how long the last successful mapping took (registration
 *	included): ib_umem_dmabuf_map_pages(), the exporter's map, and
 *	writing every entry, under the resv lock
 * @invalidate_ns: out: how long the last move_notify that found a dynamic
 *	MR mapped took: the zap, the wait for accesses in flight and
 *	ib_umem_dmabuf_unmap_pages() (0 for pinned MRs)
 */
struct p2pdma_edu_mr_info {
	__u32 handle;
	__u32 valid;
	__u32 invalidations;
	__u32 zap_waits;
	__u32 inflight_at_unmap;
	__u32 faults;
	__u32 fault_errors;
	__s32 last_error;
	__u32 revoked;
	__u32 nents;
	__u64 page_size;
	__u64 entries;
	__u64 first_dma;
	__u32 seen_index;
	struct p2pdma_edu_seen seen;
	__u64 fault_ns;
	__u64 invalidate_ns;
};

/**
 * struct p2pdma_edu_mr_inject - make an MR's next faults fail with EAGAIN
 * @handle: the MR's lkey
 * @eagain: the next faults that fail with EAGAIN, before mapping, as from
 *	an exporter that cannot map just now; 0 stops
 *
 * Fault injection for the retry of a page fault (mlx5 resumes the QP
 * without error on EAGAIN).  Each counts in the MR's fault_errors.
 */
struct p2pdma_edu_mr_inject {
	__u32 handle;
	__u32 eagain;
};

/* The made-up DMA address of P2PDMA_EDU_EXPORT_SHORT's mapping */
#define P2PDMA_EDU_SHORT_DMA	0x7e0000000000ULL

/**
 * struct p2pdma_edu_export_short - export a dma-buf that maps short
 * @size: size of the dma-buf, page aligned, at most 1 GiB
 * @mapped: bytes its mapping covers, 1 to @size
 *
 * An exporter bug on purpose: every mapping is one sg entry of @mapped
 * bytes at P2PDMA_EDU_SHORT_DMA, which is never used for DMA.  Returns
 * the dma-buf fd.
 */
struct p2pdma_edu_export_short {
	__u64 size;
	__u64 mapped;
};

/* Values of p2pdma_edu_bench_map.method */
#define P2PDMA_EDU_BENCH_RANGES		0 /* dma_buf_phys_vec_to_sgt(), one range */
#define P2PDMA_EDU_BENCH_PER_PAGE	1 /* dma_map_resource() per 4 KiB */
#define P2PDMA_EDU_BENCH_FLOOR		2 /* one dma_map_resource() */
/* p2pdma_edu_bench_map.baseline of method @m (0: no baseline) */
#define P2PDMA_EDU_BENCH_BASELINE(m)	((m) + 1)

/* At most this many timed runs per benchmark */
#define P2PDMA_EDU_BENCH_MAX_RUNS	1000
/* iommu_map() calls could not be counted (no CONFIG_KPROBES) */
#define P2PDMA_EDU_BENCH_UNCOUNTED	(~0ULL)

/**
 * struct p2pdma_edu_bench_stat - the spread of a benchmark's runs
 * @min_ns: fastest run
 * @median_ns: median run
 * @max_ns: slowest run
 */
struct p2pdma_edu_bench_stat {
	__u64 min_ns;
	__u64 median_ns;
	__u64 max_ns;
};

/**
 * struct p2pdma_edu_bench_map - time mapping one BAR range for an importer
 * @provider: PCI function bound to p2pdma_edu as provider
 * @importer: edu PCI function
 * @bar: BAR of the provider
 * @method: P2PDMA_EDU_BENCH_*: RANGES is dma_map_p2p() and the sg_table
 *	builder; PER_PAGE is what exporters without them do: an sg_table
 *	with one entry per 4 KiB page, each from dma_map_resource();
 *	FLOOR is the least an exporter can do through the same dma-buf
 *	attachment: one dma_map_resource() of the range and an sg_table of
 *	entries of at most 2 GiB into it
 * @offset: offset in the BAR, page aligned
 * @length: bytes, page aligned
 * @iterations: timed runs, 1 to P2PDMA_EDU_BENCH_MAX_RUNS (with a
 *	baseline, one more if needed to complete the last pair)
 * @budget_ms: no timed run starts after this long, but for the one that
 *	completes a pair; at least one runs (one pair with a baseline)
 * @runs: out: timed runs done, of the method and of the baseline each
 * @nents: out: sg entries of one mapping
 * @iommu_maps: out: iommu_map() calls of one mapping, counted in an
 *	untimed first run, or P2PDMA_EDU_BENCH_UNCOUNTED
 * @map: out: time to map (and build the table)
 * @unmap: out: time to unmap (and free the table)
 * @baseline: 0, or P2PDMA_EDU_BENCH_BASELINE() of a method other than
 *	@method, timed run by run in turn with it (A B B A ...; @runs is
 *	even)
 * @base_nents: out: @nents of the baseline
 * @base_iommu_maps: out: @iommu_maps of the baseline
 * @base_map: out: @map of the baseline
 * @base_unmap: out: @unmap of the baseline
 * @ratio_pm: out: with a baseline, per pair of adjacent runs (one of
 *	each), @method's map + unmap time over the baseline's, in
 *	thousandths: the smallest, median and largest ratio in place of
 *	the times; else 0
 */
struct p2pdma_edu_bench_map {
	__u32 provider;
	__u32 importer;
	__u32 bar;
	__u32 method;
	__u64 offset;
	__u64 length;
	__u32 iterations;
	__u32 budget_ms;
	__u32 runs;
	__u32 nents;
	__u64 iommu_maps;
	struct p2pdma_edu_bench_stat map;
	struct p2pdma_edu_bench_stat unmap;
	__u32 baseline;
	__u32 base_nents;
	__u64 base_iommu_maps;
	struct p2pdma_edu_bench_stat base_map;
	struct p2pdma_edu_bench_stat base_unmap;
	struct p2pdma_edu_bench_stat ratio_pm;
};

/**
 * struct p2pdma_edu_bench_reg - time registering a dma-buf MR
 * @importer: edu PCI function
 * @fd: dma-buf file descriptor
 * @offset: start of the MR in the dma-buf
 * @length: length of the MR
 * @pgsz_bitmap: block sizes the HCA may use, 0 for PAGE_SIZE (mlx5)
 * @iterations: timed runs, 1 to P2PDMA_EDU_BENCH_MAX_RUNS
 * @budget_ms: no timed run starts after this long; at least one runs
 * @runs: out: timed runs done
 * @nents: out: sg entries of the umem's mapping
 * @page_size: out: block size of the translation table
 * @entries: out: entries of the translation table
 * @iommu_maps: out: iommu_map() calls of one registration, or
 *	P2PDMA_EDU_BENCH_UNCOUNTED
 * @reg: out: ib_umem_dmabuf_get(), the mapping and the table, as a
 *	default uverbs registration with iova = @offset does (without
 *	uverbs' own work and the key)
 * @dereg: out: releasing it all, as deregistration does
 */
struct p2pdma_edu_bench_reg {
	__u32 importer;
	__s32 fd;
	__u64 offset;
	__u64 length;
	__u64 pgsz_bitmap;
	__u32 iterations;
	__u32 budget_ms;
	__u32 runs;
	__u32 nents;
	__u64 page_size;
	__u64 entries;
	__u64 iommu_maps;
	struct p2pdma_edu_bench_stat reg;
	struct p2pdma_edu_bench_stat dereg;
};

/**
 * struct p2pdma_edu_p2pmem - make a BAR range P2P memory, the old way
 * @provider: PCI function bound to p2pdma_edu as provider
 * @bar: BAR of the provider
 * @offset: offset in the BAR
 * @size: bytes
 *
 * Calls pci_p2pdma_add_resource(), which gives the range ZONE_DEVICE
 * struct pages, to compare its memory cost with page-less export.  The
 * memory stays until the provider is unbound from p2pdma_edu.
 */
struct p2pdma_edu_p2pmem {
	__u32 provider;
	__u32 bar;
	__u64 offset;
	__u64 size;
};

/**
 * struct p2pdma_edu_claim - claim the memory of a BAR as another driver would
 * @pci: any PCI function, whatever its driver
 * @bar: a memory BAR of it
 *
 * request_mem_region() of the whole BAR, held until /dev/p2pdma_edu is
 * closed (one claim per open file): the claim that a driver makes before
 * it uses the BAR, which vfio must respect before it lets peers reach it.
 * EBUSY if the BAR is claimed already.
 */
struct p2pdma_edu_claim {
	__u32 pci;
	__u32 bar;
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
/* On /dev/p2pdma_hca: MR_ACCESS, MR_INFO, BENCH_REG, *_QP; 0x0d, 0x10 unused */
#define P2PDMA_EDU_MR_ACCESS	_IOW('P', 0x0e, struct p2pdma_edu_mr_access)
#define P2PDMA_EDU_MR_INFO	_IOWR('P', 0x0f, struct p2pdma_edu_mr_info)
#define P2PDMA_EDU_EXPORT_SHORT	_IOW('P', 0x11, struct p2pdma_edu_export_short)
#define P2PDMA_EDU_BENCH_MAP	_IOWR('P', 0x12, struct p2pdma_edu_bench_map)
#define P2PDMA_EDU_BENCH_REG	_IOWR('P', 0x13, struct p2pdma_edu_bench_reg)
#define P2PDMA_EDU_P2PMEM	_IOW('P', 0x14, struct p2pdma_edu_p2pmem)
#define P2PDMA_EDU_CLAIM	_IOW('P', 0x15, struct p2pdma_edu_claim)
/* On /dev/p2pdma_hca: a QP handle out; a QP handle in; its state */
#define P2PDMA_EDU_CREATE_QP	_IOR('P', 0x16, __u32)
#define P2PDMA_EDU_DESTROY_QP	_IOW('P', 0x17, __u32)
#define P2PDMA_EDU_QP_INFO	_IOWR('P', 0x18, struct p2pdma_edu_qp_info)
/* On /dev/p2pdma_hca */
#define P2PDMA_EDU_MR_INJECT_EAGAIN	_IOW('P', 0x19, struct p2pdma_edu_mr_inject)

#endif /* _P2PDMA_EDU_H */
