// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for the page-less P2P mapping helpers in p2pdma.c: address
 * arithmetic (including a non-zero host bridge offset, which x86 test
 * machines do not have), DMA mask checks, sg_table splitting and argument
 * checking.  Included from p2pdma.c so that static helpers can be tested.
 */
#include <kunit/device.h>
#include <kunit/test.h>

#define SZ_8G_4K	(8ULL * SZ_1G + SZ_4K)

static void p2pdma_test_bus_addr(struct kunit *test)
{
	/* x86: the bus address is the CPU physical address */
	KUNIT_EXPECT_EQ(test, p2pdma_bus_addr(0xfe000000, 0, 0x3000),
			(dma_addr_t)0xfe003000);
	/* host bridge window at CPU 0x40_0000_0000 decodes bus 0x0 */
	KUNIT_EXPECT_EQ(test, p2pdma_bus_addr(0x4000200000ULL,
					      0 - 0x4000000000ULL, 0x3000),
			(dma_addr_t)0x203000);
	/* window at CPU 0x8000_0000 decodes bus 0x1_8000_0000 */
	KUNIT_EXPECT_EQ(test, p2pdma_bus_addr(0x80000000ULL, 0x100000000ULL,
					      SZ_8G_4K - SZ_4K),
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

static void p2pdma_test_nents(struct kunit *test)
{
	struct p2pdma_range r[3] = {};

	r[0].length = SZ_2G;
	KUNIT_EXPECT_EQ(test, p2pdma_ranges_nents(r, 1), 1ULL);
	r[0].length = SZ_2G + SZ_4K;
	KUNIT_EXPECT_EQ(test, p2pdma_ranges_nents(r, 1), 2ULL);
	r[0].length = SZ_4G;
	KUNIT_EXPECT_EQ(test, p2pdma_ranges_nents(r, 1), 2ULL);
	r[0].length = SZ_8G_4K;
	KUNIT_EXPECT_EQ(test, p2pdma_ranges_nents(r, 1), 5ULL);
	r[1] = (struct p2pdma_range){ .offset = SZ_8G_4K, .length = SZ_4K };
	r[2] = (struct p2pdma_range){ .offset = 0, .length = SZ_4G };
	KUNIT_EXPECT_EQ(test, p2pdma_ranges_nents(r, 3), 8ULL);

	/* empty or unaligned ranges are refused */
	r[1].length = 0;
	KUNIT_EXPECT_EQ(test, p2pdma_ranges_nents(r, 3), 0ULL);
	r[1].length = SZ_4K + 1;
	KUNIT_EXPECT_EQ(test, p2pdma_ranges_nents(r, 3), 0ULL);
	r[1].length = SZ_4K;
	r[1].offset = SZ_8G_4K + 512;
	KUNIT_EXPECT_EQ(test, p2pdma_ranges_nents(r, 3), 0ULL);
}

struct p2pdma_fill_case {
	u64 size;
	enum pci_p2pdma_map_type type;
	unsigned int nents;
};

static void p2pdma_test_fill_one(struct kunit *test,
				 const struct p2pdma_fill_case *c)
{
	struct dma_p2p_map map = {
		.addr = 0x1000000000ULL, .size = c->size, .type = c->type,
	};
	struct scatterlist *sg, *end;
	struct sg_table sgt;
	dma_addr_t next = map.addr;
	u64 total = 0;
	unsigned int i;

	KUNIT_ASSERT_EQ(test, sg_alloc_table(&sgt, c->nents + 1, GFP_KERNEL), 0);
	end = p2pdma_fill_sg(sgt.sgl, &map);
	for_each_sg(sgt.sgl, sg, c->nents, i) {
		KUNIT_EXPECT_NULL(test, sg_page(sg));
		KUNIT_EXPECT_EQ(test, sg_dma_address(sg), next);
		KUNIT_EXPECT_LE(test, sg_dma_len(sg), (unsigned int)SZ_2G);
		KUNIT_EXPECT_TRUE(test, PAGE_ALIGNED(sg_dma_len(sg)));
		KUNIT_EXPECT_EQ(test, sg_dma_is_bus_address(sg),
				c->type == PCI_P2PDMA_MAP_BUS_ADDR);
		next += sg_dma_len(sg);
		total += sg_dma_len(sg);
	}
	KUNIT_EXPECT_EQ(test, total, c->size);
	/* exactly c->nents entries were used */
	KUNIT_EXPECT_PTR_EQ(test, end, sg);
	KUNIT_EXPECT_EQ(test, sg_dma_len(sg), 0U);
	sg_free_table(&sgt);
}

static void p2pdma_test_fill_sg(struct kunit *test)
{
	static const struct p2pdma_fill_case cases[] = {
		{ SZ_4K, PCI_P2PDMA_MAP_BUS_ADDR, 1 },
		{ SZ_2G, PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, 1 },
		{ SZ_2G + SZ_4K, PCI_P2PDMA_MAP_BUS_ADDR, 2 },
		{ SZ_4G, PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, 2 },
		{ SZ_8G_4K, PCI_P2PDMA_MAP_BUS_ADDR, 5 },
	};
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		p2pdma_test_fill_one(test, &cases[i]);
}

/* A fake provider: only the BAR resource is looked at before classification */
static struct p2pdma_provider *p2pdma_test_provider(struct kunit *test)
{
	struct p2pdma_provider *p;
	struct pci_dev *pdev;

	pdev = kunit_kzalloc(test, sizeof(*pdev), GFP_KERNEL);
	p = kunit_kzalloc(test, sizeof(*p), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, pdev);
	KUNIT_ASSERT_NOT_NULL(test, p);
	pdev->resource[2].start = 0x4000200000ULL;
	pdev->resource[2].end = 0x4000200000ULL + SZ_64M - 1;
	pdev->resource[2].flags = IORESOURCE_MEM | IORESOURCE_MEM_64;
	p->pdev = pdev;
	p->bar = 2;
	p->bus_offset = 0 - 0x4000000000ULL;
	xa_init(&p->map_types);
	return p;
}

static void p2pdma_test_map_errors(struct kunit *test)
{
	struct p2pdma_provider *p = p2pdma_test_provider(test);
	struct p2pdma_range r = { .offset = 0, .length = SZ_4K };
	struct dma_p2p_map map;
	struct device *dev;

	dev = kunit_device_register(test, "p2pdma-test");
	KUNIT_ASSERT_NOT_ERR_OR_NULL(test, dev);

	/* ranges outside the BAR, empty, or wrapping around */
	KUNIT_EXPECT_EQ(test, dma_map_p2p(dev, p, 0, 0, DMA_BIDIRECTIONAL, 0,
					  &map), -EINVAL);
	KUNIT_EXPECT_EQ(test, dma_map_p2p(dev, p, SZ_64M, SZ_4K,
					  DMA_BIDIRECTIONAL, 0, &map), -EINVAL);
	KUNIT_EXPECT_EQ(test, dma_map_p2p(dev, p, SZ_4K, SZ_64M,
					  DMA_BIDIRECTIONAL, 0, &map), -EINVAL);
	KUNIT_EXPECT_EQ(test, dma_map_p2p(dev, p, SZ_4K, ~0ULL - SZ_4K + 2,
					  DMA_BIDIRECTIONAL, 0, &map), -EINVAL);
	/* a device with no PCI ancestor cannot be a P2P client */
	KUNIT_EXPECT_EQ(test, dma_map_p2p(dev, p, 0, SZ_4K, DMA_BIDIRECTIONAL,
					  0, &map), -ENODEV);
	KUNIT_EXPECT_EQ(test, p2pdma_provider_map_type(p, dev),
			PCI_P2PDMA_MAP_NOT_SUPPORTED);
	KUNIT_EXPECT_PTR_EQ(test, dma_p2p_map_ranges(dev, p, &r, 1,
						     DMA_BIDIRECTIONAL, 0),
			    ERR_PTR(-ENODEV));

	/* the table builder checks its ranges before mapping anything */
	KUNIT_EXPECT_PTR_EQ(test, dma_p2p_map_ranges(dev, p, &r, 0,
						     DMA_BIDIRECTIONAL, 0),
			    ERR_PTR(-EINVAL));
	r.offset = 100;
	KUNIT_EXPECT_PTR_EQ(test, dma_p2p_map_ranges(dev, p, &r, 1,
						     DMA_BIDIRECTIONAL, 0),
			    ERR_PTR(-EINVAL));
	xa_destroy(&p->map_types);
}

/*
 * Each reason a path is refused has its own errno.  The class of a real
 * PCI device (any will do) is set in the provider's cache by hand, as
 * the topologies that produce these classes (an ACS redirect inside a
 * switch, a host bridge without P2P support) need hardware.
 */
static void p2pdma_test_refusal_errnos(struct kunit *test)
{
	static const struct {
		enum pci_p2pdma_map_type type;
		enum p2pdma_path_block block;
		int err;
	} cases[] = {
		{ PCI_P2PDMA_MAP_NOT_SUPPORTED, P2PDMA_PATH_ACS_REDIRECT, -EACCES },
		{ PCI_P2PDMA_MAP_NOT_SUPPORTED, P2PDMA_PATH_HOST_BRIDGE, -EOPNOTSUPP },
		{ PCI_P2PDMA_MAP_NOT_SUPPORTED, P2PDMA_PATH_OK, -EOPNOTSUPP },
	};
	struct p2pdma_provider *p = p2pdma_test_provider(test);
	struct dma_p2p_map map;
	struct pci_dev *client;
	unsigned int i;

	client = pci_get_device(PCI_ANY_ID, PCI_ANY_ID, NULL);
	if (!client)
		kunit_skip(test, "no PCI device to stand for the importer");

	for (i = 0; i < ARRAY_SIZE(cases); i++) {
		xa_store(&p->map_types, map_types_idx(client),
			 xa_mk_value(p2pdma_class_pack(cases[i].type,
						       cases[i].block)),
			 GFP_KERNEL);
		KUNIT_EXPECT_EQ(test, dma_map_p2p(&client->dev, p, 0, SZ_4K,
						  DMA_BIDIRECTIONAL, 0, &map),
				cases[i].err);
		KUNIT_EXPECT_EQ(test, p2pdma_provider_map_type(p, &client->dev),
				cases[i].type);
	}
	pci_dev_put(client);
	xa_destroy(&p->map_types);
}

static struct kunit_case p2pdma_test_cases[] = {
	KUNIT_CASE(p2pdma_test_bus_addr),
	KUNIT_CASE(p2pdma_test_addressable),
	KUNIT_CASE(p2pdma_test_class_pack),
	KUNIT_CASE(p2pdma_test_nents),
	KUNIT_CASE(p2pdma_test_fill_sg),
	KUNIT_CASE(p2pdma_test_map_errors),
	KUNIT_CASE(p2pdma_test_refusal_errnos),
	{}
};

static struct kunit_suite p2pdma_test_suite = {
	.name = "pci-p2pdma-map",
	.test_cases = p2pdma_test_cases,
};

kunit_test_suite(p2pdma_test_suite);
