// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the page-less P2P mapping helpers in p2pdma.c: address
 * arithmetic (including a non-zero host bridge offset, which x86 test
 * machines do not have), DMA mask checks, the map_types cache key,
 * argument checking, what dma_map_p2p() returns for each class of path,
 * and the sg_table that dma_buf_phys_vec_to_sgt() builds from it, with
 * fake providers and clients.  Included from p2pdma.c so that static
 * helpers can be tested.
 */
#include <kunit/device.h>
#include <kunit/resource.h>
#include <kunit/test.h>
#include <linux/cc_platform.h>
#include <linux/dma-buf-mapping.h>
#include <linux/dma-resv.h>
#include <linux/swiotlb.h>

#define SZ_8G_4K	(8ULL * SZ_1G + SZ_4K)

static void p2pdma_test_bus_addr(struct kunit *test)
{
	struct p2pdma_provider p = {};

	/* x86: the bus address is the CPU physical address */
	KUNIT_EXPECT_EQ(test, pci_p2pdma_bus_addr_map(&p, 0xfe003000),
			(dma_addr_t)0xfe003000);
	/* host bridge window at CPU 0x40_0000_0000 decodes bus 0x0 */
	p.bus_offset = 0 - 0x4000000000ULL;
	KUNIT_EXPECT_EQ(test, pci_p2pdma_bus_addr_map(&p, 0x4000203000ULL),
			(dma_addr_t)0x203000);
	/* window at CPU 0x8000_0000 decodes bus 0x1_8000_0000 */
	p.bus_offset = 0x100000000ULL;
	KUNIT_EXPECT_EQ(test,
			pci_p2pdma_bus_addr_map(&p, 0x80000000ULL + 8ULL * SZ_1G),
			(dma_addr_t)(0x180000000ULL + 8ULL * SZ_1G));
}

static void p2pdma_test_addressable(struct kunit *test)
{
	u64 m32 = DMA_BIT_MASK(32);

	KUNIT_EXPECT_TRUE(test, p2pdma_addressable(m32, 0, 0xfffff000, SZ_4K));
	KUNIT_EXPECT_FALSE(test, p2pdma_addressable(m32, 0, 0xfffff000, SZ_8K));
	KUNIT_EXPECT_FALSE(test, p2pdma_addressable(m32, 0, 0x100000000ULL, 1));
	/* the bus limit is tighter than the mask */
	KUNIT_EXPECT_FALSE(test, p2pdma_addressable(DMA_BIT_MASK(64),
						    DMA_BIT_MASK(40),
						    1ULL << 40, SZ_4K));
	KUNIT_EXPECT_TRUE(test, p2pdma_addressable(DMA_BIT_MASK(64), 0,
						   1ULL << 40, SZ_8G_4K));
	/* wrap-around and empty ranges are never addressable */
	KUNIT_EXPECT_FALSE(test, p2pdma_addressable(DMA_BIT_MASK(64), 0,
						    ~0ULL - SZ_4K + 2, SZ_4K));
	KUNIT_EXPECT_FALSE(test, p2pdma_addressable(DMA_BIT_MASK(64), 0, 0, 0));
	/* the error cookie is never an address */
	KUNIT_EXPECT_FALSE(test, p2pdma_addressable(DMA_BIT_MASK(64), 0,
						    DMA_MAPPING_ERROR, 1));
}

static void p2pdma_test_class_pack(struct kunit *test)
{
	unsigned long v;

	v = p2pdma_class_pack(PCI_P2PDMA_MAP_NOT_SUPPORTED,
			      P2PDMA_PATH_ACS_REDIRECT);
	KUNIT_EXPECT_NE(test, v, 0UL);	/* 0 would read as "not cached" */
	KUNIT_EXPECT_EQ(test, p2pdma_class_type(v), PCI_P2PDMA_MAP_NOT_SUPPORTED);
	KUNIT_EXPECT_EQ(test, p2pdma_class_block(v), P2PDMA_PATH_ACS_REDIRECT);
	v = p2pdma_class_pack(PCI_P2PDMA_MAP_BUS_ADDR, P2PDMA_PATH_OK);
	KUNIT_EXPECT_EQ(test, p2pdma_class_type(v), PCI_P2PDMA_MAP_BUS_ADDR);
	KUNIT_EXPECT_EQ(test, p2pdma_class_block(v), P2PDMA_PATH_OK);
}

/*
 * A fake provider: BAR 2 of a PCI device that is never registered, at CPU
 * 0x40_0000_0000, behind a host bridge window that decodes it at bus
 * address 0.  Only its map_types cache and bus offset are used.
 */
static void p2pdma_test_provider_release(void *data)
{
	struct pci_p2pdma *p2p = data;

	xa_destroy(&p2p->map_types);
}

static struct p2pdma_provider *p2pdma_test_provider(struct kunit *test)
{
	struct pci_p2pdma *p2p;
	struct pci_dev *pdev;
	int ret;

	pdev = kunit_kzalloc(test, sizeof(*pdev), GFP_KERNEL);
	p2p = kunit_kzalloc(test, sizeof(*p2p), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pdev);
	KUNIT_ASSERT_NOT_NULL(test, p2p);
	pdev->dev.init_name = "p2pdma-test-provider";
	xa_init(&p2p->map_types);
	p2p->mem[2].owner = &pdev->dev;
	p2p->mem[2].bus_offset = 0 - 0x4000000000ULL;
	RCU_INIT_POINTER(pdev->p2pdma, p2p);
	ret = kunit_add_action_or_reset(test, p2pdma_test_provider_release,
					p2p);
	KUNIT_ASSERT_EQ(test, ret, 0);
	return &p2p->mem[2];
}

/* Set the cached class of @client for the fake provider @p. */
static void p2pdma_test_set_class(struct p2pdma_provider *p,
				  struct pci_dev *client,
				  enum pci_p2pdma_map_type type,
				  enum p2pdma_path_block block)
{
	struct pci_dev *pdev = to_pci_dev(p->owner);

	xa_store(&rcu_dereference_protected(pdev->p2pdma, 1)->map_types,
		 map_types_idx(client),
		 xa_mk_value(p2pdma_class_pack(type, block)), GFP_KERNEL);
}

/*
 * An attachment of @dev to a dma-buf that is never exported: what
 * dma_buf_phys_vec_to_sgt() needs is the device and the reservation lock.
 */
struct p2pdma_test_buf {
	struct dma_resv resv;
	struct dma_buf dmabuf;
	struct dma_buf_attachment attach;
};

static void p2pdma_test_buf_release(void *data)
{
	struct p2pdma_test_buf *b = data;

	dma_resv_fini(&b->resv);
}

static struct dma_buf_attachment *p2pdma_test_attach(struct kunit *test,
						     struct device *dev)
{
	struct p2pdma_test_buf *b;
	int ret;

	b = kunit_kzalloc(test, sizeof(*b), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, b);
	dma_resv_init(&b->resv);
	ret = kunit_add_action_or_reset(test, p2pdma_test_buf_release, b);
	KUNIT_ASSERT_EQ(test, ret, 0);
	b->dmabuf.resv = &b->resv;
	b->attach.dmabuf = &b->dmabuf;
	b->attach.dev = dev;
	b->attach.peer2peer = true;
	return &b->attach;
}

/* dma_buf_phys_vec_to_sgt() as an exporter calls it: under the lock */
static struct sg_table *
p2pdma_test_to_sgt(struct dma_buf_attachment *attach, struct p2pdma_provider *p,
		   struct dma_buf_phys_vec *vec, size_t nr, size_t size)
{
	struct sg_table *sgt;

	dma_resv_lock(attach->dmabuf->resv, NULL);
	sgt = dma_buf_phys_vec_to_sgt(attach, p, vec, nr, size,
				      DMA_BIDIRECTIONAL);
	dma_resv_unlock(attach->dmabuf->resv);
	return sgt;
}

static void p2pdma_test_free_sgt(struct dma_buf_attachment *attach,
				 struct sg_table *sgt)
{
	dma_resv_lock(attach->dmabuf->resv, NULL);
	dma_buf_free_sgt(attach, sgt, DMA_BIDIRECTIONAL);
	dma_resv_unlock(attach->dmabuf->resv);
}

static void p2pdma_test_map_errors(struct kunit *test)
{
	struct p2pdma_provider *p = p2pdma_test_provider(test);
	struct dma_buf_phys_vec r = { .paddr = 0x4000200000ULL, .len = SZ_4K };
	struct dma_buf_attachment *attach;
	struct dma_p2p_map map;
	struct device *dev;

	dev = kunit_device_register(test, "p2pdma-test");
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dev);
	attach = p2pdma_test_attach(test, dev);

	/* empty ranges, or ranges wrapping around */
	KUNIT_EXPECT_EQ(test, dma_map_p2p(dev, p, r.paddr, 0,
					  DMA_BIDIRECTIONAL, 0, &map), -EINVAL);
	KUNIT_EXPECT_EQ(test, dma_map_p2p(dev, p, ~0ULL - SZ_4K + 1, SZ_8K,
					  DMA_BIDIRECTIONAL, 0, &map), -EINVAL);
	/* a device that is not PCI cannot be a P2P client */
	KUNIT_EXPECT_EQ(test, dma_map_p2p(dev, p, r.paddr, SZ_4K,
					  DMA_BIDIRECTIONAL, 0, &map), -ENODEV);
	KUNIT_EXPECT_EQ(test, pci_p2pdma_map_type(p, dev),
			PCI_P2PDMA_MAP_NOT_SUPPORTED);
	KUNIT_EXPECT_PTR_EQ(test, p2pdma_test_to_sgt(attach, p, &r, 1, SZ_4K),
			    ERR_PTR(-ENODEV));
}

/*
 * A fake PCI client, never registered: a PCI device at @domain:05:@devfn
 * with a DMA mask of @mask bits (0: none set, which reads as 32).  Enough
 * for the map_types cache, the refusals and the bus-address path.
 */
static struct pci_dev *p2pdma_test_client(struct kunit *test, int domain,
					  unsigned int devfn, unsigned int mask)
{
	struct pci_dev *pdev;
	struct pci_bus *bus;

	pdev = kunit_kzalloc(test, sizeof(*pdev), GFP_KERNEL);
	bus = kunit_kzalloc(test, sizeof(*bus), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pdev);
	KUNIT_ASSERT_NOT_NULL(test, bus);
#if defined(CONFIG_PCI_DOMAINS_GENERIC)
	bus->domain_nr = domain;
#elif defined(CONFIG_X86)
	{
		struct pci_sysdata *sd = kunit_kzalloc(test, sizeof(*sd),
						       GFP_KERNEL);

		KUNIT_ASSERT_NOT_NULL(test, sd);
		sd->domain = domain;
		bus->sysdata = sd;
	}
#else
	if (domain)
		kunit_skip(test, "PCI domains cannot be faked on this architecture");
#endif
	bus->number = 5;
	pdev->bus = bus;
	pdev->devfn = devfn;
	pdev->dev.bus = &pci_bus_type;
	pdev->dev.init_name = "p2pdma-test-client";
	if (mask) {
		pdev->dma_mask = DMA_BIT_MASK(mask);
		pdev->dev.dma_mask = &pdev->dma_mask;
	}
	return pdev;
}

/* Clients in different PCI domains never share a map_types entry. */
static void p2pdma_test_map_types_idx(struct kunit *test)
{
	unsigned int devfn = PCI_DEVFN(3, 0);
	struct pci_dev *a = p2pdma_test_client(test, 0, devfn, 0);
	struct pci_dev *b = p2pdma_test_client(test, 0x8000, devfn, 0);
	struct pci_dev *c = p2pdma_test_client(test, 0x10000, devfn, 0);
	struct pci_dev *d = p2pdma_test_client(test, 0x10001, devfn, 0);

	KUNIT_EXPECT_EQ(test, map_types_idx(a), 0x0518UL);
	KUNIT_EXPECT_EQ(test, map_types_idx(b), 0x80000518UL);
	/* VMD numbers its domains from 0x10000 */
	KUNIT_EXPECT_EQ(test, (u64)map_types_idx(c), 0x100000518ULL);
	KUNIT_EXPECT_EQ(test, (u64)map_types_idx(d), 0x100010518ULL);
}

/*
 * What dma_map_p2p() does for each class of path, with the class of a
 * fake client set in a fake provider's cache by hand: the topologies that
 * produce them (an ACS redirect inside a switch, a host bridge without P2P
 * support, a host bridge with an offset) need hardware.  Each refusal has
 * its own errno, and a path below a common switch gets the bus address,
 * host bridge offset included.
 */
static void p2pdma_test_map_by_class(struct kunit *test)
{
	static const struct {
		enum p2pdma_path_block block;
		int err;
	} refusals[] = {
		{ P2PDMA_PATH_ACS_REDIRECT, -EACCES },
		{ P2PDMA_PATH_HOST_BRIDGE, -EOPNOTSUPP },
		{ P2PDMA_PATH_OK, -EOPNOTSUPP },
	};
	struct p2pdma_provider *p = p2pdma_test_provider(test);
	struct pci_dev *client = p2pdma_test_client(test, 0, PCI_DEVFN(3, 0), 0);
	struct pci_dev *client64 = p2pdma_test_client(test, 0, PCI_DEVFN(4, 0),
						      64);
	/* two ranges, in the dma-buf's order, not the BAR's */
	struct dma_buf_phys_vec r[] = {
		{ .paddr = 0x4000200000ULL + SZ_8K, .len = SZ_4K },
		{ .paddr = 0x4000200000ULL, .len = SZ_8K },
	};
	/* under guest memory encryption the host bridge path is refused */
	int host_bridge_err = cc_platform_has(CC_ATTR_GUEST_MEM_ENCRYPT) ?
			      -EPERM : 0;
	struct dma_buf_attachment *attach;
	struct dma_p2p_map map;
	struct scatterlist *sg;
	struct device *child;
	struct sg_table *sgt;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(refusals); i++) {
		p2pdma_test_set_class(p, client, PCI_P2PDMA_MAP_NOT_SUPPORTED,
				      refusals[i].block);
		KUNIT_EXPECT_EQ(test, dma_map_p2p(&client->dev, p,
						  0x4000200000ULL, SZ_4K,
						  DMA_BIDIRECTIONAL, 0, &map),
				refusals[i].err);
		KUNIT_EXPECT_EQ(test, pci_p2pdma_map_type(p, &client->dev),
				PCI_P2PDMA_MAP_NOT_SUPPORTED);
	}

	/* below a switch: CPU 0x40_0020_3000 is bus 0x20_3000, nothing mapped */
	p2pdma_test_set_class(p, client, PCI_P2PDMA_MAP_BUS_ADDR,
			      P2PDMA_PATH_OK);
	KUNIT_EXPECT_EQ(test, pci_p2pdma_map_type(p, &client->dev),
			PCI_P2PDMA_MAP_BUS_ADDR);
	KUNIT_ASSERT_EQ(test, dma_map_p2p(&client->dev, p, 0x4000203000ULL,
					  SZ_8K, DMA_BIDIRECTIONAL, 0, &map), 0);
	KUNIT_EXPECT_EQ(test, map.addr, (dma_addr_t)0x203000);
	KUNIT_EXPECT_EQ(test, map.size, (size_t)SZ_8K);
	KUNIT_EXPECT_EQ(test, map.type, PCI_P2PDMA_MAP_BUS_ADDR);
	KUNIT_EXPECT_FALSE(test, map.mapped);
	dma_unmap_p2p(&client->dev, &map, DMA_BIDIRECTIONAL, 0);

	/* the table builder: bus addresses, marked as such, range by range */
	attach = p2pdma_test_attach(test, &client->dev);
	sgt = p2pdma_test_to_sgt(attach, p, r, ARRAY_SIZE(r), 3 * SZ_4K);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
	KUNIT_EXPECT_EQ(test, sgt->nents, 2U);
	sg = sgt->sgl;
	KUNIT_EXPECT_EQ(test, sg_dma_address(sg), (dma_addr_t)0x202000);
	KUNIT_EXPECT_EQ(test, sg_dma_len(sg), (unsigned int)SZ_4K);
	KUNIT_EXPECT_TRUE(test, sg_dma_is_bus_address(sg));
	KUNIT_EXPECT_NULL(test, sg_page(sg));
	sg = sg_next(sg);
	KUNIT_EXPECT_EQ(test, sg_dma_address(sg), (dma_addr_t)0x200000);
	KUNIT_EXPECT_EQ(test, sg_dma_len(sg), (unsigned int)SZ_8K);
	KUNIT_EXPECT_TRUE(test, sg_dma_is_bus_address(sg));
	p2pdma_test_free_sgt(attach, sgt);

	/* a child device of that PCI function does not inherit its path */
	child = kunit_kzalloc(test, sizeof(*child), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, child);
	child->parent = &client->dev;
	child->init_name = "p2pdma-test-child";
	KUNIT_EXPECT_EQ(test, dma_map_p2p(child, p, 0x4000203000ULL, SZ_4K,
					  DMA_BIDIRECTIONAL, 0, &map), -ENODEV);
	KUNIT_EXPECT_EQ(test, pci_p2pdma_map_type(p, child),
			PCI_P2PDMA_MAP_NOT_SUPPORTED);

	/*
	 * A positive offset lifts CPU 0xc000_0000 to bus 0x1_c000_0000:
	 * beyond a 32-bit DMA mask, within a 64-bit one.
	 */
	p->bus_offset = 0x100000000ULL;
	p2pdma_test_set_class(p, client64, PCI_P2PDMA_MAP_BUS_ADDR,
			      P2PDMA_PATH_OK);
	KUNIT_EXPECT_EQ(test, dma_map_p2p(&client->dev, p, 0xc0000000ULL,
					  SZ_4K, DMA_BIDIRECTIONAL, 0, &map),
			-ERANGE);
	KUNIT_ASSERT_EQ(test, dma_map_p2p(&client64->dev, p, 0xc0000000ULL,
					  SZ_4K, DMA_BIDIRECTIONAL, 0, &map),
			0);
	KUNIT_EXPECT_EQ(test, map.addr, (dma_addr_t)0x1c0000000ULL);
	/* the error cookie is never handed out as an address */
	p->bus_offset = 0;
	KUNIT_EXPECT_EQ(test, dma_map_p2p(&client64->dev, p, DMA_MAPPING_ERROR,
					  1, DMA_BIDIRECTIONAL, 0, &map),
			-ERANGE);

	/* through the host bridge untranslated, the mask still applies */
	p2pdma_test_set_class(p, client, PCI_P2PDMA_MAP_THRU_HOST_BRIDGE,
			      P2PDMA_PATH_OK);
	KUNIT_EXPECT_EQ(test, dma_map_p2p(&client->dev, p, 0x4000200000ULL,
					  SZ_4K, DMA_BIDIRECTIONAL, 0, &map),
			host_bridge_err ?: -ERANGE);

#ifdef CONFIG_SWIOTLB
	{
		/* through the host bridge, MMIO cannot be bounced */
		struct io_tlb_mem bounce = { .force_bounce = true };

		client->dev.dma_io_tlb_mem = &bounce;
		p2pdma_test_set_class(p, client,
				      PCI_P2PDMA_MAP_THRU_HOST_BRIDGE,
				      P2PDMA_PATH_OK);
		KUNIT_EXPECT_EQ(test, dma_map_p2p(&client->dev, p,
						  0x4000200000ULL, SZ_4K,
						  DMA_BIDIRECTIONAL, 0, &map),
				host_bridge_err ?: -EREMOTEIO);
		client->dev.dma_io_tlb_mem = NULL;
	}
#endif
}

/*
 * Check that @sgt describes @vec in order, each range from @first on,
 * split into entries of exactly 2 GiB but the last; returns the number of
 * entries.
 */
static unsigned int p2pdma_test_check_sgt(struct kunit *test,
					  struct sg_table *sgt,
					  const struct dma_buf_phys_vec *vec,
					  unsigned int nr, const dma_addr_t *first,
					  bool bus)
{
	struct scatterlist *sg = sgt->sgl;
	unsigned int i, n = 0;

	for (i = 0; i < nr; i++) {
		dma_addr_t want = first[i];
		u64 left = vec[i].len;

		while (left) {
			u64 len = min_t(u64, left, SZ_2G);

			KUNIT_ASSERT_NOT_NULL(test, sg);
			KUNIT_EXPECT_EQ(test, sg_dma_address(sg), want);
			KUNIT_EXPECT_EQ(test, (u64)sg_dma_len(sg), len);
			KUNIT_EXPECT_NULL(test, sg_page(sg));
			KUNIT_EXPECT_EQ(test, sg_dma_is_bus_address(sg), bus);
			want += len;
			left -= len;
			sg = sg_next(sg);
			n++;
		}
	}
	/* no entry is left over */
	KUNIT_EXPECT_NULL(test, sg);
	KUNIT_EXPECT_EQ(test, sgt->nents, n);
	/* no CPU list */
	KUNIT_EXPECT_EQ(test, sgt->orig_nents, 0U);
	return n;
}

/*
 * The table of dma_buf_phys_vec_to_sgt(), sized in 64 bits: buffers of
 * 8 GiB and more (mainline's fill_sg_entry() overflow), more than 4 GiB
 * through the host bridge (its 32-bit mapped_len), entries split at a
 * page-aligned 2 GiB rather than UINT_MAX; and its argument checks.
 */
static void p2pdma_test_sgt(struct kunit *test)
{
	static const struct {
		u64 len[3];
		unsigned int nr;
		unsigned int nents;
	} cases[] = {
		{ { SZ_4K }, 1, 1 },
		{ { SZ_2G }, 1, 1 },
		{ { SZ_2G + SZ_4K }, 1, 2 },
		{ { SZ_4G }, 1, 2 },
		{ { SZ_8G_4K }, 1, 5 },
		{ { SZ_8G_4K, SZ_4K, SZ_4G }, 3, 8 },
	};
	const phys_addr_t base = 0x4000000000ULL;	/* bus address 0 */
	struct p2pdma_provider *p = p2pdma_test_provider(test);
	struct pci_dev *client = p2pdma_test_client(test, 0, PCI_DEVFN(4, 0),
						    64);
	int host_bridge_err = cc_platform_has(CC_ATTR_GUEST_MEM_ENCRYPT) ?
			      -EPERM : 0;
	struct dma_buf_attachment *attach = p2pdma_test_attach(test,
							      &client->dev);
	struct dma_buf_phys_vec vec[3];
	dma_addr_t first[3];
	struct sg_table *sgt;
	unsigned int i, j;
	u64 size;

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		phys_addr_t at = base;

		size = 0;
		for (j = 0; j < cases[i].nr; j++) {
			/* ranges in descending BAR order, a page apart */
			vec[cases[i].nr - 1 - j].paddr = at;
			vec[cases[i].nr - 1 - j].len = cases[i].len[cases[i].nr - 1 - j];
			at += cases[i].len[cases[i].nr - 1 - j] + SZ_4K;
			size += cases[i].len[j];
		}
		for (j = 0; j < cases[i].nr; j++)
			first[j] = vec[j].paddr - base;

		/* below a switch: bus addresses, nothing is mapped */
		p2pdma_test_set_class(p, client, PCI_P2PDMA_MAP_BUS_ADDR,
				      P2PDMA_PATH_OK);
		sgt = p2pdma_test_to_sgt(attach, p, vec, cases[i].nr, size);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
		KUNIT_EXPECT_EQ(test, p2pdma_test_check_sgt(test, sgt, vec,
							    cases[i].nr, first,
							    true),
				cases[i].nents);
		p2pdma_test_free_sgt(attach, sgt);

		/* through the host bridge without an IOMMU: CPU addresses */
		p2pdma_test_set_class(p, client,
				      PCI_P2PDMA_MAP_THRU_HOST_BRIDGE,
				      P2PDMA_PATH_OK);
		sgt = p2pdma_test_to_sgt(attach, p, vec, cases[i].nr, size);
		if (host_bridge_err) {
			KUNIT_EXPECT_PTR_EQ(test, sgt, ERR_PTR(host_bridge_err));
			continue;
		}
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
		for (j = 0; j < cases[i].nr; j++)
			first[j] = vec[j].paddr;
		KUNIT_EXPECT_EQ(test, p2pdma_test_check_sgt(test, sgt, vec,
							    cases[i].nr, first,
							    false),
				cases[i].nents);
		p2pdma_test_free_sgt(attach, sgt);
	}

	/* the last entry of an 8 GiB + 4 KiB range, spelled out */
	p2pdma_test_set_class(p, client, PCI_P2PDMA_MAP_BUS_ADDR,
			      P2PDMA_PATH_OK);
	vec[0] = (struct dma_buf_phys_vec){ .paddr = base + SZ_4K,
					    .len = SZ_8G_4K };
	sgt = p2pdma_test_to_sgt(attach, p, vec, 1, SZ_8G_4K);
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
	KUNIT_EXPECT_EQ(test, sg_dma_address(sg_last(sgt->sgl, sgt->nents)),
			(dma_addr_t)(8ULL * SZ_1G + SZ_4K));
	KUNIT_EXPECT_EQ(test, sg_dma_len(sg_last(sgt->sgl, sgt->nents)),
			(unsigned int)SZ_4K);
	p2pdma_test_free_sgt(attach, sgt);

	/* refused before anything is mapped */
	vec[0] = (struct dma_buf_phys_vec){ .paddr = base, .len = SZ_4K };
	vec[1] = (struct dma_buf_phys_vec){ .paddr = base + SZ_8K, .len = 0 };
	KUNIT_EXPECT_PTR_EQ(test, p2pdma_test_to_sgt(attach, NULL, vec, 1,
						     SZ_4K),
			    ERR_PTR(-EINVAL));
	KUNIT_EXPECT_PTR_EQ(test, p2pdma_test_to_sgt(attach, p, vec, 0, 0),
			    ERR_PTR(-EINVAL));
	KUNIT_EXPECT_PTR_EQ(test, p2pdma_test_to_sgt(attach, p, vec, 2, SZ_4K),
			    ERR_PTR(-EINVAL));
	KUNIT_EXPECT_PTR_EQ(test, p2pdma_test_to_sgt(attach, p, vec, 1, SZ_8K),
			    ERR_PTR(-EINVAL));
	vec[1].len = SZ_8K;
	KUNIT_EXPECT_PTR_EQ(test, p2pdma_test_to_sgt(attach, p, &vec[1], 1,
						     SZ_4K),
			    ERR_PTR(-EINVAL));
	/* dma-buf mappings are page aligned (dma_buf_map_attachment()) */
	vec[0].paddr = base + 512;
	KUNIT_EXPECT_PTR_EQ(test, p2pdma_test_to_sgt(attach, p, vec, 1, SZ_4K),
			    ERR_PTR(-EINVAL));
	vec[0] = (struct dma_buf_phys_vec){ .paddr = base, .len = SZ_4K + 512 };
	KUNIT_EXPECT_PTR_EQ(test, p2pdma_test_to_sgt(attach, p, vec, 1,
						     SZ_4K + 512),
			    ERR_PTR(-EINVAL));
	/* a table of more than UINT_MAX entries */
	vec[0] = (struct dma_buf_phys_vec){
		.paddr = 0, .len = (SZ_4G + 1ULL) * SZ_2G,
	};
	KUNIT_EXPECT_PTR_EQ(test, p2pdma_test_to_sgt(attach, p, vec, 1,
						     vec[0].len),
			    ERR_PTR(-E2BIG));
	/* lengths whose sum wraps around to @size */
	vec[0].len = SIZE_MAX / 2 + 1;
	vec[1].len = SIZE_MAX / 2 + 1 + SZ_4K;
	KUNIT_EXPECT_PTR_EQ(test, p2pdma_test_to_sgt(attach, p, vec, 2, SZ_4K),
			    ERR_PTR(-EINVAL));
}

/*
 * Fake PCI hierarchies, never registered, for the classification itself
 * (calc_map_type_and_dist()): buses with devices on them, bridges with an
 * ACS capability that redirects or none, host bridges with one memory
 * window at a given offset and, at 00.0, the device that the host bridge
 * whitelist looks at.
 */
#define P2PDMA_TEST_ACS	0x100	/* where a fake port has its ACS capability */

static int p2pdma_test_cfg_read(struct pci_bus *bus, unsigned int devfn,
				int where, int size, u32 *val)
{
	/* only ports with an ACS capability are read: it redirects */
	*val = where == P2PDMA_TEST_ACS + PCI_ACS_CTRL ? PCI_ACS_RR : 0;
	return PCIBIOS_SUCCESSFUL;
}

static int p2pdma_test_cfg_write(struct pci_bus *bus, unsigned int devfn,
				 int where, int size, u32 val)
{
	return PCIBIOS_SUCCESSFUL;
}

static struct pci_ops p2pdma_test_cfg_ops = {
	.read = p2pdma_test_cfg_read,
	.write = p2pdma_test_cfg_write,
};

static struct pci_bus *p2pdma_test_bus(struct kunit *test,
				       struct pci_bus *parent,
				       struct pci_dev *self, int nr)
{
	struct pci_bus *bus = kunit_kzalloc(test, sizeof(*bus), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, bus);
	INIT_LIST_HEAD(&bus->devices);
	bus->parent = parent;
	bus->self = self;
	bus->number = nr;
	bus->ops = &p2pdma_test_cfg_ops;
	if (parent)
		bus->sysdata = parent->sysdata;
	if (self)
		self->subordinate = bus;
	return bus;
}

/* Fills in a fake device on @bus; PCIe port or endpoint type @type. */
static void p2pdma_test_init_dev(struct pci_dev *pdev, struct pci_bus *bus,
				 unsigned int devfn, int type, const char *name)
{
	pdev->bus = bus;
	pdev->devfn = devfn;
	pdev->dev.bus = &pci_bus_type;
	pdev->dev.init_name = name;
	if (type >= 0) {
		pdev->pcie_cap = 0x40;
		pdev->pcie_flags_reg = type << 4;
	}
	pdev->dma_mask = DMA_BIT_MASK(64);
	pdev->dev.dma_mask = &pdev->dma_mask;
	list_add_tail(&pdev->bus_list, &bus->devices);
}

static struct pci_dev *p2pdma_test_dev(struct kunit *test, struct pci_bus *bus,
				       unsigned int devfn, int type,
				       const char *name)
{
	struct pci_dev *pdev = kunit_kzalloc(test, sizeof(*pdev), GFP_KERNEL);

	KUNIT_ASSERT_NOT_NULL(test, pdev);
	p2pdma_test_init_dev(pdev, bus, devfn, type, name);
	return pdev;
}

/* A port with a child bus numbered @nr */
static struct pci_bus *p2pdma_test_port(struct kunit *test, struct pci_bus *bus,
					unsigned int devfn, int type, int nr,
					bool acs_redirect, const char *name)
{
	struct pci_dev *port = p2pdma_test_dev(test, bus, devfn, type, name);

	if (acs_redirect)
		port->acs_cap = P2PDMA_TEST_ACS;
	return p2pdma_test_bus(test, bus, port, nr);
}

static void p2pdma_test_free_windows(void *data)
{
	resource_list_free(data);
}

/*
 * A host bridge whose root bus is @nr, with a memory window that the CPU
 * sees at @cpu and PCI at @bus_addr, and at 00.0 a device @vendor:@device
 * (none if @vendor is 0).  Returns the root bus.
 */
static struct pci_bus *p2pdma_test_host(struct kunit *test, int nr, u64 cpu,
					u64 bus_addr, u16 vendor, u16 device)
{
	struct pci_host_bridge *host;
	struct resource_entry *win;
	struct pci_sysdata *sd;
	struct resource *res;
	struct pci_bus *root;
	struct pci_dev *hb;
	int ret;

	host = kunit_kzalloc(test, sizeof(*host), GFP_KERNEL);
	res = kunit_kzalloc(test, sizeof(*res), GFP_KERNEL);
	sd = kunit_kzalloc(test, sizeof(*sd), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, host);
	KUNIT_ASSERT_NOT_NULL(test, res);
	KUNIT_ASSERT_NOT_NULL(test, sd);
	INIT_LIST_HEAD(&host->windows);
	ret = kunit_add_action_or_reset(test, p2pdma_test_free_windows,
					&host->windows);
	KUNIT_ASSERT_EQ(test, ret, 0);
	*res = DEFINE_RES_MEM(cpu, SZ_64G);
	win = resource_list_create_entry(res, 0);
	KUNIT_ASSERT_NOT_NULL(test, win);
	win->offset = cpu - bus_addr;
	resource_list_add_tail(win, &host->windows);

	root = p2pdma_test_bus(test, NULL, NULL, nr);
	root->bridge = &host->dev;
	root->sysdata = sd;
	host->bus = root;
	if (vendor) {
		hb = p2pdma_test_dev(test, root, PCI_DEVFN(0, 0), -1,
				     "p2pdma-test-host-bridge");
		hb->vendor = vendor;
		hb->device = device;
	}
	return root;
}

static void p2pdma_test_release_pdev(struct device *dev)
{
	kfree(to_pci_dev(dev));
}

static void p2pdma_test_put_dev(void *data)
{
	put_device(data);
}

/*
 * A provider with BAR 2 of 16 MiB at CPU address @bar: a device whose
 * devres works, so that pcim_p2pdma_init() can run on it and its providers
 * are released with it.
 */
static struct p2pdma_provider *p2pdma_test_init_provider(struct kunit *test,
							 struct pci_bus *bus,
							 u64 bar)
{
	struct pci_dev *pdev = kzalloc(sizeof(*pdev), GFP_KERNEL);
	struct p2pdma_provider *p;
	int ret;

	KUNIT_ASSERT_NOT_NULL(test, pdev);
	device_initialize(&pdev->dev);
	pdev->dev.release = p2pdma_test_release_pdev;
	ret = kunit_add_action_or_reset(test, p2pdma_test_put_dev, &pdev->dev);
	KUNIT_ASSERT_EQ(test, ret, 0);
	p2pdma_test_init_dev(pdev, bus, PCI_DEVFN(0, 0), PCI_EXP_TYPE_ENDPOINT,
			     "p2pdma-test-provider");
	pdev->resource[2] = DEFINE_RES_MEM(bar, SZ_16M);

	KUNIT_ASSERT_EQ(test, pcim_p2pdma_init(pdev), 0);
	/* again: nothing changes */
	KUNIT_ASSERT_EQ(test, pcim_p2pdma_init(pdev), 0);
	KUNIT_EXPECT_NULL(test, pcim_p2pdma_provider(pdev, 0));
	p = pcim_p2pdma_provider(pdev, 2);
	KUNIT_ASSERT_NOT_NULL(test, p);
	KUNIT_EXPECT_PTR_EQ(test, p->owner, &pdev->dev);
	return p;
}

/* A host bridge window: where the CPU and PCI see it */
struct p2pdma_test_window {
	u64 cpu;
	u64 bus;
};

static const struct p2pdma_test_window p2pdma_test_windows[] = {
	{ 0x4000000000ULL, 0x4000000000ULL },	/* offset 0, as on x86 */
	{ 0x4000000000ULL, 0 },			/* bus below the CPU */
	{ 0x80000000ULL, 0x180000000ULL },	/* bus above the CPU */
};

/*
 * A mapping of @phys through the host bridge for @client: refused with
 * @refused if that is not 0, else mapped at the CPU physical address
 * (no IOMMU), whatever the window's offset.
 */
static void p2pdma_test_host_bridge_map(struct kunit *test,
					struct p2pdma_provider *p,
					struct pci_dev *client, u64 phys,
					int refused)
{
	struct dma_p2p_map map;
	int err;

	err = dma_map_p2p(&client->dev, p, phys, SZ_4K, DMA_BIDIRECTIONAL, 0,
			  &map);
	if (refused) {
		KUNIT_EXPECT_EQ(test, err, refused);
		return;
	}
	KUNIT_ASSERT_EQ(test, err, 0);
	KUNIT_EXPECT_EQ(test, map.type, PCI_P2PDMA_MAP_THRU_HOST_BRIDGE);
	KUNIT_EXPECT_EQ(test, map.addr, (dma_addr_t)phys);
	KUNIT_EXPECT_TRUE(test, map.mapped);
	dma_unmap_p2p(&client->dev, &map, DMA_BIDIRECTIONAL, 0);
}

/*
 * Provider and client below the two downstream ports of one switch, under
 * a root port: pcim_p2pdma_init() takes the offset from the host bridge
 * window, the path is classified as bus address, and dma_map_p2p() and
 * dma_buf_phys_vec_to_sgt() give exact PCI bus addresses, for a window
 * offset that is zero, negative and positive.  The class is cached: ACS
 * redirection turned on afterwards changes nothing until the entry is
 * dropped; then the path goes through the host bridge, with the CPU
 * physical address (AMD Zen), or is refused with EACCES.
 */
static void p2pdma_test_topo_switch(struct kunit *test)
{
	unsigned int w;

	for (w = 0; w < ARRAY_SIZE(p2pdma_test_windows); w++) {
		const struct p2pdma_test_window *win = &p2pdma_test_windows[w];
		u64 bar = win->cpu + SZ_2M, bus_bar = win->bus + SZ_2M;
		struct dma_buf_phys_vec r[] = {
			{ .paddr = bar + SZ_64K, .len = SZ_8K },
			{ .paddr = bar, .len = SZ_4K },
		};
		struct pci_bus *root, *b1, *b2, *b3, *b4;
		struct dma_buf_attachment *attach;
		struct p2pdma_provider *p;
		struct pci_p2pdma *p2p;
		struct dma_p2p_map map;
		struct pci_dev *client;
		struct sg_table *sgt;

		root = p2pdma_test_host(test, 0, win->cpu, win->bus, 0, 0);
		b1 = p2pdma_test_port(test, root, PCI_DEVFN(0x10, 0),
				      PCI_EXP_TYPE_ROOT_PORT, 1, true,
				      "p2pdma-test-rp");
		b2 = p2pdma_test_port(test, b1, PCI_DEVFN(0, 0),
				      PCI_EXP_TYPE_UPSTREAM, 2, false,
				      "p2pdma-test-up");
		b3 = p2pdma_test_port(test, b2, PCI_DEVFN(0, 0),
				      PCI_EXP_TYPE_DOWNSTREAM, 3, false,
				      "p2pdma-test-dn1");
		b4 = p2pdma_test_port(test, b2, PCI_DEVFN(1, 0),
				      PCI_EXP_TYPE_DOWNSTREAM, 4, false,
				      "p2pdma-test-dn2");
		p = p2pdma_test_init_provider(test, b3, bar);
		client = p2pdma_test_dev(test, b4, PCI_DEVFN(0, 0),
					 PCI_EXP_TYPE_ENDPOINT,
					 "p2pdma-test-client");
		KUNIT_EXPECT_EQ(test, p->bus_offset, win->bus - win->cpu);

		/* the root port's ACS redirection is above the common bridge */
		KUNIT_EXPECT_EQ(test, pci_p2pdma_map_type(p, &client->dev),
				PCI_P2PDMA_MAP_BUS_ADDR);
		KUNIT_ASSERT_EQ(test, dma_map_p2p(&client->dev, p,
						  bar + 0x3000, SZ_8K,
						  DMA_BIDIRECTIONAL, 0, &map),
				0);
		KUNIT_EXPECT_EQ(test, map.addr, (dma_addr_t)(bus_bar + 0x3000));
		KUNIT_EXPECT_EQ(test, map.type, PCI_P2PDMA_MAP_BUS_ADDR);
		KUNIT_EXPECT_FALSE(test, map.mapped);
		dma_unmap_p2p(&client->dev, &map, DMA_BIDIRECTIONAL, 0);

		attach = p2pdma_test_attach(test, &client->dev);
		sgt = p2pdma_test_to_sgt(attach, p, r, ARRAY_SIZE(r),
					 SZ_8K + SZ_4K);
		KUNIT_ASSERT_NOT_ERR_OR_NULL(test, sgt);
		KUNIT_EXPECT_EQ(test, sgt->nents, 2U);
		KUNIT_EXPECT_EQ(test, sg_dma_address(sgt->sgl),
				(dma_addr_t)(bus_bar + SZ_64K));
		KUNIT_EXPECT_EQ(test, sg_dma_address(sg_next(sgt->sgl)),
				(dma_addr_t)bus_bar);
		KUNIT_EXPECT_TRUE(test, sg_dma_is_bus_address(sgt->sgl));
		p2pdma_test_free_sgt(attach, sgt);

		/* cached: a redirect set now is not seen ... */
		b3->self->acs_cap = P2PDMA_TEST_ACS;
		KUNIT_EXPECT_EQ(test, pci_p2pdma_map_type(p, &client->dev),
				PCI_P2PDMA_MAP_BUS_ADDR);
		/* ... until the entry is dropped */
		p2p = rcu_dereference_protected(to_pci_dev(p->owner)->p2pdma, 1);
		xa_erase(&p2p->map_types, map_types_idx(client));
		p2pdma_test_host_bridge_map(test, p, client, bar,
					    cpu_supports_p2pdma() ? 0 : -EACCES);
	}
}

/*
 * Provider and client on two root ports: through the host bridge, which
 * the whitelist allows (Intel Skylake-E at 00.0) whatever the CPU, and
 * q35's 8086:29c0 does not (refused with EOPNOTSUPP unless the CPU is AMD
 * Zen).  Through the host bridge, without an IOMMU, the address is the CPU
 * physical one even where the window has an offset.
 */
static void p2pdma_test_topo_rootports(struct kunit *test)
{
	static const struct {
		u16 device;
		bool whitelisted;
	} hosts[] = {
		{ 0x2030, true },
		{ 0x29c0, false },
	};
	const struct p2pdma_test_window *win = &p2pdma_test_windows[1];
	u64 bar = win->cpu + SZ_2M;
	unsigned int h;

	for (h = 0; h < ARRAY_SIZE(hosts); h++) {
		struct pci_bus *root, *b1, *b2;
		struct p2pdma_provider *p;
		struct pci_dev *client;
		bool refused;

		root = p2pdma_test_host(test, 0, win->cpu, win->bus,
					PCI_VENDOR_ID_INTEL, hosts[h].device);
		b1 = p2pdma_test_port(test, root, PCI_DEVFN(0x10, 0),
				      PCI_EXP_TYPE_ROOT_PORT, 1, true,
				      "p2pdma-test-rp1");
		b2 = p2pdma_test_port(test, root, PCI_DEVFN(0x11, 0),
				      PCI_EXP_TYPE_ROOT_PORT, 2, true,
				      "p2pdma-test-rp2");
		p = p2pdma_test_init_provider(test, b1, bar);
		client = p2pdma_test_dev(test, b2, PCI_DEVFN(0, 0),
					 PCI_EXP_TYPE_ENDPOINT,
					 "p2pdma-test-client");

		refused = !hosts[h].whitelisted && !cpu_supports_p2pdma();
		p2pdma_test_host_bridge_map(test, p, client, bar + SZ_4K,
					    refused ? -EOPNOTSUPP : 0);
		KUNIT_EXPECT_EQ(test, pci_p2pdma_map_type(p, &client->dev),
				refused ? PCI_P2PDMA_MAP_NOT_SUPPORTED :
					  PCI_P2PDMA_MAP_THRU_HOST_BRIDGE);
	}
}

/*
 * Provider and client below two host bridges: allowed when both are on
 * the whitelist without the same-host-bridge restriction (Skylake-E),
 * refused with EOPNOTSUPP (unless the CPU is AMD Zen) when the entry
 * requires one host bridge (Xeon E5, 8086:3c00).
 */
static void p2pdma_test_topo_hostbridges(struct kunit *test)
{
	static const struct {
		u16 device;
		bool allowed;
	} hosts[] = {
		{ 0x2030, true },
		{ 0x3c00, false },
	};
	unsigned int h;

	for (h = 0; h < ARRAY_SIZE(hosts); h++) {
		u64 bar = 0x4000000000ULL + SZ_2M;
		struct pci_bus *root0, *root1, *b1, *b2;
		struct p2pdma_provider *p;
		struct pci_dev *client;

		root0 = p2pdma_test_host(test, 0, 0x4000000000ULL,
					 0x4000000000ULL, PCI_VENDOR_ID_INTEL,
					 hosts[h].device);
		root1 = p2pdma_test_host(test, 0x80, 0x5000000000ULL,
					 0x5000000000ULL, PCI_VENDOR_ID_INTEL,
					 hosts[h].device);
		b1 = p2pdma_test_port(test, root0, PCI_DEVFN(0x10, 0),
				      PCI_EXP_TYPE_ROOT_PORT, 1, false,
				      "p2pdma-test-rp1");
		b2 = p2pdma_test_port(test, root1, PCI_DEVFN(0, 0),
				      PCI_EXP_TYPE_ROOT_PORT, 0x81, false,
				      "p2pdma-test-rp2");
		p = p2pdma_test_init_provider(test, b1, bar);
		client = p2pdma_test_dev(test, b2, PCI_DEVFN(0, 0),
					 PCI_EXP_TYPE_ENDPOINT,
					 "p2pdma-test-client");

		p2pdma_test_host_bridge_map(test, p, client, bar,
					    hosts[h].allowed ||
					    cpu_supports_p2pdma() ?
					    0 : -EOPNOTSUPP);
	}
}

static struct kunit_case p2pdma_test_cases[] = {
	KUNIT_CASE(p2pdma_test_bus_addr),
	KUNIT_CASE(p2pdma_test_addressable),
	KUNIT_CASE(p2pdma_test_class_pack),
	KUNIT_CASE(p2pdma_test_map_errors),
	KUNIT_CASE(p2pdma_test_map_types_idx),
	KUNIT_CASE(p2pdma_test_map_by_class),
	KUNIT_CASE(p2pdma_test_sgt),
	KUNIT_CASE(p2pdma_test_topo_switch),
	KUNIT_CASE(p2pdma_test_topo_rootports),
	KUNIT_CASE(p2pdma_test_topo_hostbridges),
	{}
};

static struct kunit_suite p2pdma_test_suite = {
	.name = "pci-p2pdma-map",
	.test_cases = p2pdma_test_cases,
};

kunit_test_suite(p2pdma_test_suite);
