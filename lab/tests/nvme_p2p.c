// SPDX-License-Identifier: GPL-2.0
/*
 * O_DIRECT I/O between an NVMe namespace and another device's published
 * P2P memory (an NVMe controller memory buffer): the pgmap-based P2PDMA
 * path that the block layer and nvme-pci use, end to end.
 *
 *   nvme_p2p read  BLOCKDEV ALLOCATE IMAGE OFFSET LENGTH
 *	reads LENGTH bytes at OFFSET of BLOCKDEV into P2P memory mmap()ed
 *	from ALLOCATE (a p2pmem/allocate file in sysfs) and compares them
 *	with the same bytes of IMAGE, the namespace's backing file on the
 *	host (through the lab's 9p share).
 *   nvme_p2p write BLOCKDEV ALLOCATE IMAGE OFFSET LENGTH
 *	fills the P2P memory with a pattern, writes it to BLOCKDEV at OFFSET
 *	and compares IMAGE with the pattern.
 *
 * Exit status: 0 if the data is right, 1 if it is wrong, 2 if the I/O
 * failed (the errno is printed as "errno NAME"), 3 for other errors.  When
 * the I/O fails, the P2P memory must be as it was before.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void fill(uint8_t *p, size_t len, uint32_t seed)
{
	size_t i;

	for (i = 0; i < len; i++) {
		seed = seed * 1103515245 + 12345;
		p[i] = seed >> 16;
	}
}

static int check(const uint8_t *got, const uint8_t *want, size_t len,
		 const char *what)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (got[i] != want[i]) {
			printf("%s differs at byte %zu: %#x, want %#x\n", what,
			       i, got[i], want[i]);
			return 1;
		}
	}
	printf("%s: %zu bytes match\n", what, len);
	return 0;
}

int main(int argc, char **argv)
{
	int blk, img, p2p, write_mode;
	uint8_t *buf, *ref, *before;
	size_t len;
	off_t off;
	ssize_t n;

	if (argc != 7 || (strcmp(argv[1], "read") && strcmp(argv[1], "write"))) {
		fprintf(stderr, "usage: %s read|write BLOCKDEV ALLOCATE IMAGE OFFSET LENGTH\n",
			argv[0]);
		return 3;
	}
	write_mode = !strcmp(argv[1], "write");
	off = strtoll(argv[5], NULL, 0);
	len = strtoull(argv[6], NULL, 0);

	blk = open(argv[2], O_RDWR | O_DIRECT);
	p2p = open(argv[3], O_RDWR);
	img = open(argv[4], O_RDONLY);
	if (blk < 0 || p2p < 0 || img < 0) {
		perror("open");
		return 3;
	}
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, p2p, 0);
	if (buf == MAP_FAILED) {
		perror("mmap of the P2P memory");
		return 3;
	}
	ref = malloc(len);
	before = malloc(len);
	if (!ref || !before)
		return 3;

	/* what the P2P memory holds before: it must stay so on failure */
	fill(buf, len, write_mode ? 0x5eed : 0xdead);
	memcpy(before, buf, len);

	n = write_mode ? pwrite(blk, buf, len, off) : pread(blk, buf, len, off);
	if (n < 0) {
		int err = errno;

		printf("errno %s\n", strerrorname_np(err) ?: "?");
		if (!write_mode && check(buf, before, len, "P2P memory after the failed read"))
			return 1;
		return 2;
	}
	if ((size_t)n != len) {
		printf("short I/O: %zd of %zu bytes\n", n, len);
		return 3;
	}
	if (write_mode && fdatasync(blk)) {
		perror("fdatasync");
		return 3;
	}

	/* the host's view of the namespace */
	if (pread(img, ref, len, off) != (ssize_t)len) {
		perror("read of the backing file");
		return 3;
	}
	return check(write_mode ? ref : buf, write_mode ? before : ref, len,
		     write_mode ? "backing file after the write from P2P memory" :
				  "P2P memory after the read");
}
