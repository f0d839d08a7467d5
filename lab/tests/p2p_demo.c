// SPDX-License-Identifier: GPL-2.0
/*
 * make demo: map one page of the provider's BAR for edu with dma_map_p2p()
 * (through the p2pdma_edu test module), have edu write a message into it,
 * and read it back from the BAR's backing file on the host side.
 *
 * usage: p2p_demo PROVIDER IMPORTER BACKING_FILE
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "p2pdma_edu.h"

static const char *const class_name[] = {
	[P2PDMA_EDU_NOT_SUPPORTED] = "not supported",
	[P2PDMA_EDU_BUS_ADDR] = "PCI bus address",
	[P2PDMA_EDU_THRU_HOST_BRIDGE] = "through the host bridge",
};

static int pci(const char *s, __u32 *a)
{
	unsigned int d, b, s2, f;

	if (sscanf(s, "%x:%x:%x.%x", &d, &b, &s2, &f) != 4)
		return -1;
	*a = P2PDMA_EDU_PCI(d, b, s2, f);
	return 0;
}

int main(int argc, char **argv)
{
	struct p2pdma_edu_map m = { .bar = 2, .offset = 0x10000, .length = 4096 };
	char msg[256], got[256];
	struct p2pdma_edu_dma d;
	int fd, bfd, ret;

	if (argc != 4 || pci(argv[1], &m.provider) || pci(argv[2], &m.importer))
		return fprintf(stderr, "usage: %s PROVIDER IMPORTER FILE\n", argv[0]), 2;
	fd = open(P2PDMA_EDU_DEV, O_RDWR);
	bfd = open(argv[3], O_RDONLY);
	if (fd < 0 || bfd < 0)
		return perror("open"), 2;

	ret = ioctl(fd, P2PDMA_EDU_MAP, &m) ? -errno : 0;
	if (ret) {
		printf("class: %s; dma_map_p2p() refused: %s\n",
		       m.type < 4 && class_name[m.type] ? class_name[m.type] : "?",
		       strerror(-ret));
		return 0;
	}
	printf("class: %s; edu got DMA address %#llx (%s)\n", class_name[m.type],
	       (unsigned long long)m.dma_addr,
	       m.mapped ? "one IOMMU mapping" : "nothing mapped");
	memset(msg, 0, sizeof(msg));
	snprintf(msg, sizeof(msg), "hello from edu %s to %s BAR 2", argv[2], argv[1]);
	d = (struct p2pdma_edu_dma){ .importer = m.importer, .to_device = 1,
		.dma_addr = m.dma_addr, .length = sizeof(msg),
		.user_buf = (uintptr_t)msg };
	if (ioctl(fd, P2PDMA_EDU_DMA, &d))
		return perror("DMA"), 1;
	if (pread(bfd, got, sizeof(got), m.offset) != sizeof(got))
		return perror("read"), 1;
	printf("host backing file at BAR offset %#llx: \"%s\" -> %s\n",
	       (unsigned long long)m.offset, got,
	       memcmp(msg, got, sizeof(msg)) ? "DATA MISSING" : "data arrived");
	ioctl(fd, P2PDMA_EDU_UNMAP, &m.handle);
	return memcmp(msg, got, sizeof(msg)) ? 1 : 0;
}
