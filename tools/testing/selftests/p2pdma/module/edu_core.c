// SPDX-License-Identifier: GPL-2.0
/*
 * p2pdma_edu: a test driver that uses QEMU's "edu" device (1234:11e8) as
 * the DMA engine of a peer-to-peer importer, so that selftests can map a
 * BAR of another device with dma_map_p2p() and check with real (emulated)
 * DMA, through a real (emulated) IOMMU and PCIe topology, where the data
 * lands.
 *
 * It binds edu devices by ID.  Any other PCI device bound to it (through
 * driver_override) becomes a provider: each of its memory BARs gets a
 * page-less P2P provider.  /dev/p2pdma_edu takes the ioctls of
 * p2pdma_edu.h.  What an open file maps or imports belongs to it and is
 * undone when it is closed.
 *
 * This file is the core: the bound devices, edu's DMA engine and the misc
 * device.  The jobs are elsewhere:
 *
 *  edu_map.c     P2PDMA_EDU_MAP (dma_map_p2p()), P2PDMA_EDU_MAP_RANGES (a
 *                minimal exporter of BAR ranges), P2PMEM, CLAIM
 *  edu_import.c  P2PDMA_EDU_IMPORT: edu as a dma-buf importer, dynamic,
 *                static or pinned, counting what it sees; and a broken
 *                exporter for importers' sake (EXPORT_SHORT)
 *  edu_bench.c   P2PDMA_EDU_BENCH_MAP, for vfio_dmabuf_bench
 *
 * The stand-in HCA (RDMA dma-buf MRs) is a module of its own, p2pdma_hca,
 * a client of this one (p2pdma_edu_register_client()).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/dma-buf.h>
#include <linux/dma-mapping.h>
#include <linux/io-64-nonatomic-lo-hi.h>
#include <linux/module.h>
#include <linux/pci-p2pdma.h>
#include <linux/slab.h>
#include <linux/uaccess.h>

#include "p2pdma_edu_core.h"

#define EDU_VENDOR		0x1234
#define EDU_DEVICE		0x11e8
#define EDU_REG_IDENT		0x00
#define EDU_REG_DMA_SRC		0x80
#define EDU_REG_DMA_DST		0x88
#define EDU_REG_DMA_CNT		0x90
#define EDU_REG_DMA_CMD		0x98
#define EDU_CMD_RUN		BIT(0)
#define EDU_CMD_TO_PCI		BIT(1)	/* edu buffer -> PCI address */
#define EDU_BUF			0x40000
/* QEMU 7.2's edu aborts on a DMA that ends exactly at its 4 KiB buffer end */
#define EDU_CHUNK		2048
#define EDU_TIMEOUT_MS		5000

static LIST_HEAD(p2pdma_edu_devices);
static DEFINE_MUTEX(p2pdma_edu_devices_lock);	/* the list, nothing more */
static LIST_HEAD(p2pdma_edu_clients);
/* The clients, and their add() and remove() calls */
static DEFINE_MUTEX(p2pdma_edu_clients_lock);

u32 p2pdma_edu_addr(struct pci_dev *pdev)
{
	return pci_domain_nr(pdev->bus) << 16 | pdev->bus->number << 8 |
	       pdev->devfn;
}
EXPORT_SYMBOL_NS_GPL(p2pdma_edu_addr, P2PDMA_EDU);

/**
 * p2pdma_edu_get() - find a bound edu importer or provider
 * @addr: its PCI address, as p2pdma_edu_addr()
 * @is_edu: an edu importer (true) or a provider (false)
 *
 * Return: the device with a reference for p2pdma_edu_put(), or NULL if
 * no such device is bound.  It may be unbound while the reference is
 * held; p2pdma_edu_xfer() then fails with -ENODEV.
 */
struct p2pdma_edu *p2pdma_edu_get(u32 addr, bool is_edu)
{
	struct p2pdma_edu *e, *found = NULL;

	mutex_lock(&p2pdma_edu_devices_lock);
	list_for_each_entry(e, &p2pdma_edu_devices, node) {
		if (p2pdma_edu_addr(e->pdev) == addr && e->is_edu == is_edu) {
			kref_get(&e->kref);
			found = e;
			break;
		}
	}
	mutex_unlock(&p2pdma_edu_devices_lock);
	return found;
}
EXPORT_SYMBOL_NS_GPL(p2pdma_edu_get, P2PDMA_EDU);

static void p2pdma_edu_free(struct kref *kref)
{
	struct p2pdma_edu *e = container_of(kref, struct p2pdma_edu, kref);

	mutex_destroy(&e->lock);
	pci_dev_put(e->pdev);
	kfree(e);
}

/**
 * p2pdma_edu_put() - drop a reference from p2pdma_edu_get()
 * @e: the device, or NULL
 */
void p2pdma_edu_put(struct p2pdma_edu *e)
{
	if (e)
		kref_put(&e->kref, p2pdma_edu_free);
}
EXPORT_SYMBOL_NS_GPL(p2pdma_edu_put, P2PDMA_EDU);

static int p2pdma_edu_run(struct p2pdma_edu *edu, u64 src, u64 dst, u32 len,
			  bool to_pci)
{
	unsigned long timeout = jiffies + msecs_to_jiffies(EDU_TIMEOUT_MS);

	writeq(src, edu->regs + EDU_REG_DMA_SRC);
	writeq(dst, edu->regs + EDU_REG_DMA_DST);
	writeq(len, edu->regs + EDU_REG_DMA_CNT);
	writeq(EDU_CMD_RUN | (to_pci ? EDU_CMD_TO_PCI : 0),
	       edu->regs + EDU_REG_DMA_CMD);
	/* edu finishes a transfer 100 ms (virtual time) after it starts */
	while (readq(edu->regs + EDU_REG_DMA_CMD) & EDU_CMD_RUN) {
		if (time_after(jiffies, timeout))
			return -ETIMEDOUT;
		usleep_range(1000, 2000);
	}
	return 0;
}

/**
 * p2pdma_edu_xfer() - have edu copy between memory and a DMA address
 * @edu: the edu importer
 * @to_device: @buf -> @dma_addr if true, else @dma_addr -> @buf
 * @dma_addr: the address, as @edu's DMA sees it
 * @buf: kernel buffer of @length bytes
 * @length: bytes to copy
 *
 * Copies through edu's internal buffer and a coherent bounce buffer.  edu
 * reports no DMA errors: callers check data.  Touches no user memory and
 * takes only @edu's lock, so it may run under a dma-buf's resv lock.
 *
 * Return: 0, -ETIMEDOUT if edu did not finish, or -ENODEV once @edu is
 * unbound.
 */
int p2pdma_edu_xfer(struct p2pdma_edu *edu, bool to_device, u64 dma_addr,
		    u8 *buf, u64 length)
{
	u64 done;
	int ret = 0;

	mutex_lock(&edu->lock);
	if (edu->removed)
		ret = -ENODEV;
	for (done = 0; done < length && !ret; done += EDU_CHUNK) {
		u32 len = min_t(u64, length - done, EDU_CHUNK);

		if (to_device) {
			memcpy(edu->bounce, buf + done, len);
			ret = p2pdma_edu_run(edu, edu->bounce_dma, EDU_BUF,
					     len, false);
			if (!ret)
				ret = p2pdma_edu_run(edu, EDU_BUF,
						     dma_addr + done, len,
						     true);
		} else {
			ret = p2pdma_edu_run(edu, dma_addr + done, EDU_BUF,
					     len, false);
			if (!ret)
				ret = p2pdma_edu_run(edu, EDU_BUF,
						     edu->bounce_dma, len, true);
			if (!ret)
				memcpy(buf + done, edu->bounce, len);
		}
	}
	mutex_unlock(&edu->lock);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(p2pdma_edu_xfer, P2PDMA_EDU);

/**
 * p2pdma_edu_get_buf() - kernel copy of a user buffer for a DMA
 * @user_buf: the user buffer
 * @length: its length, at most P2PDMA_EDU_MAX_DMA
 * @to_device: copy the user data in (for a DMA to the device)
 *
 * Return: the buffer, for p2pdma_edu_put_buf(), or an ERR_PTR().
 */
u8 *p2pdma_edu_get_buf(u64 user_buf, u64 length, bool to_device)
{
	u8 *buf;

	if (!length || length > P2PDMA_EDU_MAX_DMA)
		return ERR_PTR(-EINVAL);
	buf = kvzalloc(length, GFP_KERNEL);
	if (!buf)
		return ERR_PTR(-ENOMEM);
	if (to_device &&
	    copy_from_user(buf, u64_to_user_ptr(user_buf), length)) {
		kvfree(buf);
		return ERR_PTR(-EFAULT);
	}
	return buf;
}
EXPORT_SYMBOL_NS_GPL(p2pdma_edu_get_buf, P2PDMA_EDU);

/**
 * p2pdma_edu_put_buf() - finish with a buffer of p2pdma_edu_get_buf()
 * @buf: the buffer
 * @user_buf: the user buffer
 * @length: its length
 * @to_device: the DMA went to the device: nothing to copy back
 * @ret: the result of the DMA; the data is copied back only if 0
 *
 * Return: @ret, or -EFAULT if the copy back failed.
 */
int p2pdma_edu_put_buf(u8 *buf, u64 user_buf, u64 length, bool to_device,
		       int ret)
{
	if (!ret && !to_device &&
	    copy_to_user(u64_to_user_ptr(user_buf), buf, length))
		ret = -EFAULT;
	kvfree(buf);
	return ret;
}
EXPORT_SYMBOL_NS_GPL(p2pdma_edu_put_buf, P2PDMA_EDU);

/**
 * p2pdma_edu_watch_init() - find the provider of a vfio-pci dma-buf
 * @w: the watch, zeroed
 * @dmabuf: the dma-buf
 *
 * vfio-pci names its dma-bufs "<PCI device> bar<n>": find the provider
 * from that, before the import can get a move_notify.  The name is only
 * a hint (DMA_BUF_SET_NAME can change it, and vfio-pci does without one
 * if it cannot allocate it): the tests that look at the provider rename
 * nothing and fail if it was not found.
 */
void p2pdma_edu_watch_init(struct p2pdma_edu_watch *w, struct dma_buf *dmabuf)
{
	char name[32] = "";
	struct device *dev;
	int bar;

	if (!dmabuf->exp_name || strcmp(dmabuf->exp_name, "vfio-pci"))
		return;
	spin_lock(&dmabuf->name_lock);
	if (dmabuf->name)
		sscanf(dmabuf->name, "%31s", name);
	spin_unlock(&dmabuf->name_lock);
	dev = bus_find_device_by_name(&pci_bus_type, NULL, name);
	if (!dev)
		return;
	w->pdev = to_pci_dev(dev);
	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++)
		if (pci_resource_flags(w->pdev, bar) & IORESOURCE_MEM)
			break;
	if (bar < PCI_STD_NUM_BARS &&
	    pci_resource_len(w->pdev, bar) >= sizeof(u32))
		w->reg0 = pci_iomap_range(w->pdev, bar, 0, sizeof(u32));
}
EXPORT_SYMBOL_NS_GPL(p2pdma_edu_watch_init, P2PDMA_EDU);

/**
 * p2pdma_edu_watch_release() - undo p2pdma_edu_watch_init()
 * @w: the watch
 */
void p2pdma_edu_watch_release(struct p2pdma_edu_watch *w)
{
	if (w->reg0)
		pci_iounmap(w->pdev, w->reg0);
	pci_dev_put(w->pdev);
}
EXPORT_SYMBOL_NS_GPL(p2pdma_edu_watch_release, P2PDMA_EDU);

/**
 * p2pdma_edu_watch_record() - record the provider's state in a move_notify
 * @w: the watch
 * @n: the number of the move_notify, counted from 1
 *
 * Called with the dma-buf's resv lock held.
 */
void p2pdma_edu_watch_record(struct p2pdma_edu_watch *w, u32 n)
{
	struct p2pdma_edu_seen *s = &w->seen[(n - 1) % P2PDMA_EDU_SEEN_MAX];
	struct pci_dev *pdev = w->pdev;
	u16 cmd = 0, pmcsr = 0;

	memset(s, 0, sizeof(*s));
	s->valid = 1;
	if (!pdev)
		return;
	s->provider = 1;
	s->present = pci_device_is_present(pdev);
	s->enabled = pci_is_enabled(pdev);
	if (!s->present)
		return;
	pci_read_config_word(pdev, PCI_COMMAND, &cmd);
	s->decode = !!(cmd & PCI_COMMAND_MEMORY);
	if (pdev->pm_cap)
		pci_read_config_word(pdev, pdev->pm_cap + PCI_PM_CTRL, &pmcsr);
	s->d0 = (pmcsr & PCI_PM_CTRL_STATE_MASK) == 0;
	if (s->decode && s->d0 && w->reg0)
		s->reg0 = readl(w->reg0);
}
EXPORT_SYMBOL_NS_GPL(p2pdma_edu_watch_record, P2PDMA_EDU);

/**
 * p2pdma_edu_watch_seen() - what one of the last move_notify calls saw
 * @w: the watch
 * @n: the number of move_notify calls so far
 * @index: the one asked for, counted from 1
 * @out: what it saw, or zeroes if it is not among the last ones
 */
void p2pdma_edu_watch_seen(const struct p2pdma_edu_watch *w, u32 n, u32 index,
			   struct p2pdma_edu_seen *out)
{
	memset(out, 0, sizeof(*out));
	if (index && index <= n && n - index < P2PDMA_EDU_SEEN_MAX)
		*out = w->seen[(index - 1) % P2PDMA_EDU_SEEN_MAX];
}
EXPORT_SYMBOL_NS_GPL(p2pdma_edu_watch_seen, P2PDMA_EDU);

static long p2pdma_edu_ioctl_dma(void __user *arg)
{
	struct p2pdma_edu_dma d;
	struct p2pdma_edu *edu;
	u8 *buf;
	int ret;

	if (copy_from_user(&d, arg, sizeof(d)))
		return -EFAULT;
	buf = p2pdma_edu_get_buf(d.user_buf, d.length, d.to_device);
	if (IS_ERR(buf))
		return PTR_ERR(buf);
	edu = p2pdma_edu_get(d.importer, true);
	ret = edu ? p2pdma_edu_xfer(edu, d.to_device, d.dma_addr, buf,
				    d.length) : -ENODEV;
	p2pdma_edu_put(edu);
	return p2pdma_edu_put_buf(buf, d.user_buf, d.length, d.to_device, ret);
}

static long p2pdma_edu_ioctl_set_mask(void __user *arg)
{
	struct p2pdma_edu_mask mask;
	struct p2pdma_edu *edu;
	int ret = -ENODEV;

	if (copy_from_user(&mask, arg, sizeof(mask)))
		return -EFAULT;
	if (mask.bits < 24 || mask.bits > 64)
		return -EINVAL;
	edu = p2pdma_edu_get(mask.importer, true);
	if (!edu)
		return -ENODEV;
	mutex_lock(&edu->lock);
	/* edu applies its "dma_mask" property; this is what Linux knows */
	if (!edu->removed)
		ret = dma_set_mask(&edu->pdev->dev, DMA_BIT_MASK(mask.bits));
	mutex_unlock(&edu->lock);
	p2pdma_edu_put(edu);
	return ret;
}

static long p2pdma_edu_ioctl(struct file *file, unsigned int cmd,
			     unsigned long arg)
{
	struct p2pdma_edu_file *f = file->private_data;
	void __user *uarg = (void __user *)arg;
	long ret;

	switch (cmd) {
	case P2PDMA_EDU_MAP:
		return p2pdma_edu_ioctl_map(f, uarg);
	case P2PDMA_EDU_MAP_RANGES:
		return p2pdma_edu_ioctl_map_ranges(f, uarg);
	case P2PDMA_EDU_UNMAP:
		return p2pdma_edu_ioctl_unmap(f, uarg);
	case P2PDMA_EDU_DMA:
		return p2pdma_edu_ioctl_dma(uarg);
	case P2PDMA_EDU_SET_MASK:
		return p2pdma_edu_ioctl_set_mask(uarg);
	case P2PDMA_EDU_IMPORT:
		mutex_lock(&f->imports_lock);
		ret = p2pdma_edu_ioctl_import(f, uarg);
		mutex_unlock(&f->imports_lock);
		return ret;
	case P2PDMA_EDU_IMPORT_MAP:
	case P2PDMA_EDU_IMPORT_UNMAP:
	case P2PDMA_EDU_IMPORT_DMA:
	case P2PDMA_EDU_IMPORT_INFO:
	case P2PDMA_EDU_IMPORT_CLOSE:
	case P2PDMA_EDU_IMPORT_FENCE:
		return p2pdma_edu_ioctl_import_op(f, cmd, uarg);
	case P2PDMA_EDU_EXPORT_SHORT:
		return p2pdma_edu_ioctl_export_short(uarg);
	case P2PDMA_EDU_BENCH_MAP:
		return p2pdma_edu_ioctl_bench_map(uarg);
	case P2PDMA_EDU_P2PMEM:
		return p2pdma_edu_ioctl_p2pmem(uarg);
	case P2PDMA_EDU_CLAIM:
		mutex_lock(&f->imports_lock);
		ret = p2pdma_edu_ioctl_claim(f, uarg);
		mutex_unlock(&f->imports_lock);
		return ret;
	default:
		/* The MR ioctls go to /dev/p2pdma_hca */
		return -ENOTTY;
	}
}

static int p2pdma_edu_open(struct inode *inode, struct file *file)
{
	struct p2pdma_edu_file *f;

	f = kzalloc(sizeof(*f), GFP_KERNEL);
	if (!f)
		return -ENOMEM;
	xa_init_flags(&f->maps, XA_FLAGS_ALLOC);
	xa_init_flags(&f->imports, XA_FLAGS_ALLOC);
	mutex_init(&f->imports_lock);
	file->private_data = f;
	return 0;
}

static int p2pdma_edu_release(struct inode *inode, struct file *file)
{
	struct p2pdma_edu_file *f = file->private_data;

	p2pdma_edu_release_maps(f);
	p2pdma_edu_release_imports(f);
	if (f->claim)
		release_mem_region(f->claim->start, resource_size(f->claim));
	mutex_destroy(&f->imports_lock);
	kfree(f);
	return 0;
}

static const struct file_operations p2pdma_edu_fops = {
	.owner = THIS_MODULE,
	.open = p2pdma_edu_open,
	.release = p2pdma_edu_release,
	.unlocked_ioctl = p2pdma_edu_ioctl,
};

struct miscdevice p2pdma_edu_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "p2pdma_edu",
	.fops = &p2pdma_edu_fops,
};

/**
 * p2pdma_edu_register_client() - use edu importers from another module
 * @client: add() and remove(); remove() may be NULL
 *
 * Calls @client->add() for every edu bound now, and from now on for every
 * edu that binds.  An add() that fails is logged; remove() is still
 * called for that edu and must cope with an edu it does not know.
 *
 * Return: 0.
 */
int p2pdma_edu_register_client(struct p2pdma_edu_client *client)
{
	struct p2pdma_edu *e;

	mutex_lock(&p2pdma_edu_clients_lock);
	list_add_tail(&client->node, &p2pdma_edu_clients);
	/* Devices bind and unbind under p2pdma_edu_clients_lock */
	list_for_each_entry(e, &p2pdma_edu_devices, node)
		if (e->is_edu && client->add(e))
			pci_warn(e->pdev, "client %ps did not add it\n",
				 client->add);
	mutex_unlock(&p2pdma_edu_clients_lock);
	return 0;
}
EXPORT_SYMBOL_NS_GPL(p2pdma_edu_register_client, P2PDMA_EDU);

/**
 * p2pdma_edu_unregister_client() - undo p2pdma_edu_register_client()
 * @client: the client
 *
 * Calls @client->remove() for every edu bound now.
 */
void p2pdma_edu_unregister_client(struct p2pdma_edu_client *client)
{
	struct p2pdma_edu *e;

	mutex_lock(&p2pdma_edu_clients_lock);
	list_del(&client->node);
	list_for_each_entry(e, &p2pdma_edu_devices, node)
		if (e->is_edu && client->remove)
			client->remove(e);
	mutex_unlock(&p2pdma_edu_clients_lock);
}
EXPORT_SYMBOL_NS_GPL(p2pdma_edu_unregister_client, P2PDMA_EDU);

static int p2pdma_edu_probe_edu(struct p2pdma_edu *e)
{
	struct pci_dev *pdev = e->pdev;
	int ret;

	ret = pcim_iomap_regions(pdev, BIT(0), KBUILD_MODNAME);
	if (ret)
		return ret;
	e->regs = pcim_iomap_table(pdev)[0];
	if ((readl(e->regs + EDU_REG_IDENT) & 0xff) != 0xed)
		return -ENODEV;
	/* edu masks its DMA addresses with the "dma_mask" property */
	ret = dma_set_mask_and_coherent(&pdev->dev, DMA_BIT_MASK(64));
	if (ret)
		return ret;
	e->bounce = dmam_alloc_coherent(&pdev->dev, EDU_CHUNK, &e->bounce_dma,
					GFP_KERNEL);
	if (!e->bounce)
		return -ENOMEM;
	pci_set_master(pdev);
	return 0;
}

static int p2pdma_edu_probe_provider(struct p2pdma_edu *e)
{
	int bar, n = 0, ret;

	ret = pcim_p2pdma_init(e->pdev);
	if (ret)
		return ret;
	for (bar = 0; bar < PCI_STD_NUM_BARS; bar++) {
		e->providers[bar] = pcim_p2pdma_provider(e->pdev, bar);
		if (e->providers[bar])
			n++;
	}
	return n ? 0 : -ENODEV;
}

static int p2pdma_edu_probe(struct pci_dev *pdev, const struct pci_device_id *id)
{
	struct p2pdma_edu_client *client;
	struct p2pdma_edu *e;
	int ret;

	e = kzalloc(sizeof(*e), GFP_KERNEL);
	if (!e)
		return -ENOMEM;
	kref_init(&e->kref);
	mutex_init(&e->lock);
	e->pdev = pci_dev_get(pdev);
	e->is_edu = pdev->vendor == EDU_VENDOR && pdev->device == EDU_DEVICE;

	ret = pcim_enable_device(pdev);
	if (!ret)
		ret = e->is_edu ? p2pdma_edu_probe_edu(e) :
				  p2pdma_edu_probe_provider(e);
	if (ret) {
		p2pdma_edu_put(e);
		return ret;
	}

	pci_set_drvdata(pdev, e);
	mutex_lock(&p2pdma_edu_clients_lock);
	mutex_lock(&p2pdma_edu_devices_lock);
	list_add_tail(&e->node, &p2pdma_edu_devices);
	mutex_unlock(&p2pdma_edu_devices_lock);
	if (e->is_edu)
		list_for_each_entry(client, &p2pdma_edu_clients, node)
			if (client->add(e))
				pci_warn(pdev, "client %ps did not add it\n",
					 client->add);
	mutex_unlock(&p2pdma_edu_clients_lock);
	pci_info(pdev, "bound as %s\n", e->is_edu ? "importer" : "provider");
	return 0;
}

/*
 * Lookups no longer find @e, clients let go of it, and a DMA in progress
 * ends before remove() returns and devres unmaps edu's registers; later
 * ones fail.  References (maps, imports) keep the object, not the device.
 */
static void p2pdma_edu_remove(struct pci_dev *pdev)
{
	struct p2pdma_edu *e = pci_get_drvdata(pdev);
	struct p2pdma_edu_client *client;

	mutex_lock(&p2pdma_edu_clients_lock);
	mutex_lock(&p2pdma_edu_devices_lock);
	list_del(&e->node);
	mutex_unlock(&p2pdma_edu_devices_lock);
	if (e->is_edu)
		list_for_each_entry_reverse(client, &p2pdma_edu_clients, node)
			if (client->remove)
				client->remove(e);
	mutex_unlock(&p2pdma_edu_clients_lock);

	mutex_lock(&e->lock);
	e->removed = true;
	mutex_unlock(&e->lock);
	p2pdma_edu_put(e);
}

static const struct pci_device_id p2pdma_edu_ids[] = {
	{ PCI_DEVICE(EDU_VENDOR, EDU_DEVICE) },
	{}
};
MODULE_DEVICE_TABLE(pci, p2pdma_edu_ids);

static struct pci_driver p2pdma_edu_driver = {
	.name = KBUILD_MODNAME,
	.id_table = p2pdma_edu_ids,
	.probe = p2pdma_edu_probe,
	.remove = p2pdma_edu_remove,
};

static int __init p2pdma_edu_init(void)
{
	int ret;

	ret = misc_register(&p2pdma_edu_misc);
	if (ret)
		return ret;
	ret = pci_register_driver(&p2pdma_edu_driver);
	if (ret)
		misc_deregister(&p2pdma_edu_misc);
	return ret;
}
module_init(p2pdma_edu_init);

static void __exit p2pdma_edu_exit(void)
{
	pci_unregister_driver(&p2pdma_edu_driver);
	misc_deregister(&p2pdma_edu_misc);
}
module_exit(p2pdma_edu_exit);

MODULE_DESCRIPTION("QEMU edu as a peer-to-peer DMA importer, for selftests");
MODULE_LICENSE("GPL");
MODULE_IMPORT_NS(DMA_BUF);
