/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inside the p2pdma_edu test modules: the edu core (edu_core.c) and what
 * its parts and the stand-in HCA module (p2pdma_hca.c) use of it.
 */
#ifndef _P2PDMA_EDU_CORE_H
#define _P2PDMA_EDU_CORE_H

#include <linux/kref.h>
#include <linux/list.h>
#include <linux/miscdevice.h>
#include <linux/mutex.h>
#include <linux/pci.h>
#include <linux/xarray.h>

#include "../p2pdma_edu.h"

struct dma_buf;
struct dma_buf_attachment;
struct dma_buf_phys_vec;
struct p2pdma_provider;

/*
 * A PCI function bound to p2pdma_edu: an edu importer or a provider.
 * Lookups take a reference (p2pdma_edu_get()), which keeps the object
 * but not the binding: @lock serialises the DMA engine and @removed, so
 * that nothing touches edu's registers or bounce buffer once remove()
 * has set @removed.  A provider's BARs are used with its device lock
 * held (p2pdma_edu_phys_get()), which remove() also holds.
 */
struct p2pdma_edu {
	struct kref kref;
	struct pci_dev *pdev;		/* referenced */
	struct list_head node;		/* in the list of bound devices */
	bool is_edu;
	struct mutex lock;		/* the DMA engine, @removed */
	bool removed;
	/* edu only, device-managed: used under @lock while !@removed */
	void __iomem *regs;
	void *bounce;
	dma_addr_t bounce_dma;
	/* providers only, device-managed: used under the device lock */
	struct p2pdma_provider *providers[PCI_STD_NUM_BARS];
};

/* What an open /dev/p2pdma_edu owns, released when it is closed. */
struct p2pdma_edu_file {
	struct xarray maps;		/* handle -> struct p2pdma_edu_mapping */
	struct xarray imports;		/* handle -> struct p2pdma_edu_attachment */
	struct mutex imports_lock;	/* serialises the import ioctls */
	struct resource *claim;		/* P2PDMA_EDU_CLAIM, under imports_lock */
};

/*
 * The provider of a dma-buf as an importer watches it: in each move_notify
 * the importer records whether the provider still decoded its BARs, was
 * enabled, in D0, and not reset (the first register of its first memory
 * BAR still holds what the test wrote there), so that tests see that the
 * exporter revoked before the device lost its BARs, not only that it
 * revoked.  @seen is protected by the dma-buf's resv lock.
 */
struct p2pdma_edu_watch {
	struct pci_dev *pdev;		/* referenced, NULL if not PCI */
	void __iomem *reg0;
	struct p2pdma_edu_seen seen[P2PDMA_EDU_SEEN_MAX];
};

/*
 * A user of edu importers in another module (the stand-in HCA): add() is
 * called for every edu bound now or later, remove() when one is unbound,
 * before edu's DMA engine goes away.  Both may sleep.
 */
struct p2pdma_edu_client {
	int (*add)(struct p2pdma_edu *edu);
	void (*remove)(struct p2pdma_edu *edu);
	struct list_head node;
};

/* edu_core.c: the devices, the DMA engine, the misc device */
extern struct miscdevice p2pdma_edu_misc;
u32 p2pdma_edu_addr(struct pci_dev *pdev);
struct p2pdma_edu *p2pdma_edu_get(u32 addr, bool is_edu);
void p2pdma_edu_put(struct p2pdma_edu *e);

/* Another reference on @e, which the caller holds one on or found listed */
static inline void p2pdma_edu_hold(struct p2pdma_edu *e)
{
	kref_get(&e->kref);
}

int p2pdma_edu_xfer(struct p2pdma_edu *edu, bool to_device, u64 dma_addr,
		    u8 *buf, u64 length);
u8 *p2pdma_edu_get_buf(u64 user_buf, u64 length, bool to_device);
int p2pdma_edu_put_buf(u8 *buf, u64 user_buf, u64 length, bool to_device,
		       int ret);
void p2pdma_edu_watch_init(struct p2pdma_edu_watch *w, struct dma_buf *dmabuf);
void p2pdma_edu_watch_release(struct p2pdma_edu_watch *w);
void p2pdma_edu_watch_record(struct p2pdma_edu_watch *w, u32 n);
void p2pdma_edu_watch_seen(const struct p2pdma_edu_watch *w, u32 n, u32 index,
			   struct p2pdma_edu_seen *out);
int p2pdma_edu_register_client(struct p2pdma_edu_client *client);
void p2pdma_edu_unregister_client(struct p2pdma_edu_client *client);

/* edu_map.c: dma_map_p2p(), the ranges exporter, p2pmem, claims */
long p2pdma_edu_ioctl_map(struct p2pdma_edu_file *f, void __user *arg);
long p2pdma_edu_ioctl_map_ranges(struct p2pdma_edu_file *f, void __user *arg);
long p2pdma_edu_ioctl_unmap(struct p2pdma_edu_file *f, void __user *arg);
long p2pdma_edu_ioctl_p2pmem(void __user *arg);
long p2pdma_edu_ioctl_claim(struct p2pdma_edu_file *f, void __user *arg);
void p2pdma_edu_release_maps(struct p2pdma_edu_file *f);
struct p2pdma_edu *p2pdma_edu_phys_get(u32 provider, unsigned int bar,
				       u32 importer, struct device **imp_dev);
void p2pdma_edu_phys_put(struct p2pdma_edu *prov, struct device *imp_dev);
struct dma_buf_attachment *
p2pdma_edu_phys_attach_new(struct p2pdma_edu *prov, unsigned int bar,
			   const struct dma_buf_phys_vec *ranges,
			   unsigned int nr, struct device *dev, bool floor);
void p2pdma_edu_phys_detach(struct dma_buf_attachment *attach);

/* edu_import.c: the dma-buf importer, and an exporter that maps short */
long p2pdma_edu_ioctl_import(struct p2pdma_edu_file *f, void __user *arg);
long p2pdma_edu_ioctl_import_op(struct p2pdma_edu_file *f, unsigned int cmd,
				void __user *arg);
long p2pdma_edu_ioctl_export_short(void __user *arg);
void p2pdma_edu_release_imports(struct p2pdma_edu_file *f);

/* edu_bench.c */
struct p2pdma_edu_bench_ops {
	int (*map)(void *ctx);
	void (*unmap)(void *ctx);
};

int p2pdma_edu_bench_run(const struct p2pdma_edu_bench_ops *ops, void *ctx,
			 u32 iterations, u32 budget_ms, u32 *runs,
			 u64 *iommu_maps, struct p2pdma_edu_bench_stat *map,
			 struct p2pdma_edu_bench_stat *unmap);
long p2pdma_edu_ioctl_bench_map(void __user *arg);

#endif /* _P2PDMA_EDU_CORE_H */
