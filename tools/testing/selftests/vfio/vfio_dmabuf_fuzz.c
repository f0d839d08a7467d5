// SPDX-License-Identifier: GPL-2.0
/*
 * A seeded fuzzer of VFIO_DEVICE_FEATURE_DMA_BUF and of the life of its
 * dma-bufs, in the lab of vfio_dmabuf_test (same environment variables).
 *
 * requests: malformed and random requests (every field, argsz, ranges
 * near 2^64, overlapping ranges, huge nr_ranges, ranges that run into an
 * unmapped page).  A model of the uAPI's rules predicts each result, errno
 * included; a dma-buf that is returned must have the size of its ranges.
 *
 * sequences: random sequences of export, import (attach), map, DMA,
 * memory decode toggles, VFIO_DEVICE_RESET, closing dma-bufs and imports,
 * and closing and reopening the device.  A model predicts every result,
 * the move_notify count and the mapping state of every import, and where
 * DMA data must (or must not) land in the BAR, checked in the host file.
 *
 * faults: systematic fault injection (/proc/thread-self/fail-nth) into
 * export, attach, map, DMA, registration of an RDMA MR, revocation and
 * reset: the n-th allocation of the call fails, for n = 1, 2, ... until
 * the call gets through untouched.  A failed call must return ENOMEM and
 * leave no dma-buf or attachment behind; a call that works anyway must
 * have done its job; revocation must not fail at all.
 *
 *   VFIO_DMABUF_FUZZ_SEED   seed (default 1): the same seed gives the same
 *                           calls
 *   VFIO_DMABUF_FUZZ_ITERS  requests (default 10000); sequences make a
 *                           tenth as many steps
 */
#include <stddef.h>

#include "vfio_dmabuf_util.h"

#define MAX_COPY	1100	/* ranges in a request buffer */
#define SEQ_BUFS	6
#define SEQ_IMPORTS	12
#define SEQ_DMA		64	/* bytes of a DMA: one edu transfer */

static __u64 rnd_state;

/* The same seed, the same calls */
static __u64 rnd(void)
{
	return xorshift64s(&rnd_state);
}

static __u64 below(__u64 n)
{
	return n ? rnd() % n : 0;
}

/* true with probability @pct percent */
static bool chance(unsigned int pct)
{
	return below(100) < pct;
}

static void seed_from_env(void)
{
	const char *s = getenv("VFIO_DMABUF_FUZZ_SEED");

	rnd_state = (s ? strtoull(s, NULL, 0) : 1) * 0x9e3779b97f4a7c15ULL;
	if (!rnd_state)
		rnd_state = 1;
}

static unsigned int iterations(void)
{
	const char *s = getenv("VFIO_DMABUF_FUZZ_ITERS");
	unsigned long n = s ? strtoul(s, NULL, 0) : 10000;

	return n ? n : 1;
}

FIXTURE(fuzz)
{
	struct dmabuf_env e;
	int skip;
};

FIXTURE_SETUP(fuzz)
{
	self->skip = env_open(_metadata, &self->e);
	if (self->skip) {
		assert_not_in_lab(_metadata);
		SKIP(return, NO_LAB);
	}
	seed_from_env();
}

static bool knobs_changed;
static int knobs_set(bool restore);

FIXTURE_TEARDOWN(fuzz)
{
	if (knobs_changed)
		knobs_set(true);
	if (!self->skip)
		env_close(&self->e);
}

/* --- requests ------------------------------------------------------------- */

struct request {
	__u32 argsz;		/* of struct vfio_device_feature */
	__u32 feat_flags;
	__u32 index;
	__u32 open_flags;
	__u32 flags;
	__u32 nr_ranges;
	unsigned int nr_copy;	/* ranges in the buffer */
	bool fault;		/* the buffer ends at an unmapped page */
	struct vfio_region_dma_range r[MAX_COPY];
};

static __u64 rnd_offset(__u64 bar)
{
	switch (below(10)) {
	case 0:
		return below(bar) | (1 + below(PAGE - 1));	/* unaligned */
	case 1:
		return ~0ULL - below(4) * PAGE - (PAGE - 1);	/* near 2^64 */
	case 2:
		return bar - PAGE * below(3);			/* at the end */
	case 3:
		return bar + PAGE * below(1ULL << 40);		/* past it */
	default:
		return below(bar / PAGE) * PAGE;
	}
}

static __u64 rnd_length(__u64 bar, __u64 off)
{
	switch (below(10)) {
	case 0:
		return 0;
	case 1:
		return 1 + below(PAGE - 1);
	case 2:
		return -off;					/* wraps to 0 */
	case 3:
		return (-off + PAGE) & ~(PAGE - 1);		/* wraps */
	case 4:
		return bar > off ? bar - off + PAGE : PAGE;	/* one too far */
	default:
		return PAGE * (1 + below(16));
	}
}

static void rnd_request(struct request *q, __u64 bar)
{
	unsigned int i;

	memset(q, 0, offsetof(struct request, r));
	q->feat_flags = VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_DMA_BUF;
	switch (below(40)) {
	case 0:
		q->feat_flags |= VFIO_DEVICE_FEATURE_PROBE;
		break;
	case 1:
		q->feat_flags ^= VFIO_DEVICE_FEATURE_GET |
				 VFIO_DEVICE_FEATURE_SET;
		break;
	case 2:
		q->feat_flags |= VFIO_DEVICE_FEATURE_SET;
		break;
	case 3:
		q->feat_flags &= ~VFIO_DEVICE_FEATURE_GET;
		break;
	case 4:
		q->feat_flags |= 1U << (20 + below(12));	/* unknown bit */
		break;
	case 5:
		/* a feature nobody implements: never one that acts */
		q->feat_flags = VFIO_DEVICE_FEATURE_GET | (100 + below(0xff00));
		break;
	}
	q->index = chance(85) ? BAR : (chance(50) ? below(8) : rnd());
	q->open_flags = chance(85) ? below(3) | (chance(50) ? O_CLOEXEC : 0) :
				     (__u32)rnd();
	q->flags = chance(95) ? 0 : 1U << below(32);
	switch (below(20)) {
	case 0:
		q->nr_ranges = 0;
		break;
	case 1:
		q->nr_ranges = 1025 + below(MAX_COPY - 1025);
		break;
	case 2:
		/* above the limit: ENOMEM once argsz covers them */
		q->nr_ranges = chance(50) ? ~0U : 1U << (19 + below(13));
		break;
	case 3:
		q->nr_ranges = 5 + below(1020);
		break;
	default:
		q->nr_ranges = 1 + below(4);
	}
	q->nr_copy = q->nr_ranges < MAX_COPY ? q->nr_ranges : MAX_COPY;
	for (i = 0; i < q->nr_copy; i++) {
		if (i && chance(20)) {
			q->r[i] = q->r[below(i)];		/* overlap */
			continue;
		}
		if (chance(80)) {
			q->r[i].offset = below(bar / PAGE) * PAGE;
			q->r[i].length = PAGE * (1 + below(16));
			if (q->r[i].offset + q->r[i].length > bar)
				q->r[i].offset = bar - q->r[i].length;
			continue;
		}
		q->r[i].offset = rnd_offset(bar);
		q->r[i].length = rnd_length(bar, q->r[i].offset);
	}
	q->argsz = FEAT_SZ(q->nr_copy);
	switch (below(20)) {
	case 0:
		q->argsz = below(FEAT_HDR + 8);
		break;
	case 1:
		q->argsz -= sizeof(struct vfio_region_dma_range);
		break;
	case 2:
		q->argsz = ~0U - below(16);	/* bigger than the buffer */
		break;
	}
	/* The last copied range, or the struct itself, hits a hole */
	q->fault = chance(3);
	if (q->fault && q->nr_copy && chance(70))
		q->nr_copy--;
}

/* The BARs of the provider, as the kernel sees them (its resource file) */
static struct {
	__u64 start;
	__u64 len;
	bool mem;
	bool mmap;		/* vfio lets userspace mmap it */
} bars[6];

static void read_bars(struct __test_metadata *_metadata, struct dmabuf_env *e)
{
	unsigned long long start, end, flags;
	struct vfio_region_info ri;
	char path[PATH_MAX];
	unsigned int i;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource",
		 e->bdf);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f) TH_LOG("%s: %s", path, strerror(errno));
	for (i = 0; i < 6; i++) {
		ASSERT_EQ(3, fscanf(f, "%llx %llx %llx", &start, &end, &flags));
		bars[i].start = start;
		bars[i].len = end ? end - start + 1 : 0;
		bars[i].mem = flags & 0x200;	/* IORESOURCE_MEM */
		region_info(_metadata, e, VFIO_PCI_BAR0_REGION_INDEX + i, &ri);
		bars[i].mmap = ri.flags & VFIO_REGION_INFO_FLAG_MMAP;
	}
	fclose(f);
}

/*
 * What the uAPI says the request gives: 1 for a dma-buf, 0, or -errno.
 * The order of the checks is mainline's.
 */
static int expected(const struct request *q, size_t area_len, __u64 *size)
{
	static const struct vfio_region_dma_range zero;
	__u32 f = q->feat_flags;
	__u32 get = VFIO_DEVICE_FEATURE_GET, set = VFIO_DEVICE_FEATURE_SET;
	__u32 probe = VFIO_DEVICE_FEATURE_PROBE;
	__u64 addr, end, data = q->argsz - sizeof(struct vfio_device_feature);
	__u64 readable;
	unsigned int i;

	if (q->argsz < sizeof(struct vfio_device_feature))
		return -EINVAL;
	if (f & ~(VFIO_DEVICE_FEATURE_MASK | get | set | probe))
		return -EINVAL;
	if (!(f & probe) && (f & set) && (f & get))
		return -EINVAL;
	if ((f & VFIO_DEVICE_FEATURE_MASK) != VFIO_DEVICE_FEATURE_DMA_BUF)
		return -ENOTTY;
	if (f & set)
		return -EINVAL;
	if (f & probe)
		return 0;
	if (!(f & get) || data < sizeof(struct vfio_device_feature_dma_buf))
		return -EINVAL;
	/* open_flags are the new file's, whatever they are */
	if (q->flags || !q->nr_ranges)
		return -EINVAL;
	if (data < sizeof(struct vfio_device_feature_dma_buf) +
		   (__u64)q->nr_ranges * sizeof(struct vfio_region_dma_range))
		return -EINVAL;
	if (q->index > VFIO_PCI_BAR5_REGION_INDEX || !bars[q->index].len)
		return -ENODEV;
	if (q->nr_ranges > MAX_RANGES)
		return -ENOMEM;
	/*
	 * All ranges are read first: past the copied ones come zeroes up to
	 * the end of the area (send_request()), or the hole at once
	 */
	readable = q->fault ? q->nr_copy :
		   (area_len - FEAT_HDR) / sizeof(struct vfio_region_dma_range);
	if (q->nr_ranges > readable)
		return -EFAULT;
	/* Each range on its own, and their sum */
	*size = 0;
	for (i = 0; i < q->nr_ranges; i++) {
		const struct vfio_region_dma_range *r =
			i < q->nr_copy ? &q->r[i] : &zero;

		if (!r->length || r->offset % PAGE || r->length % PAGE ||
		    __builtin_add_overflow(*size, r->length, size))
			return -EINVAL;
	}
	if (*size >> 63)
		return -EINVAL;
	if (!bars[q->index].mem || !bars[q->index].mmap)
		return -EINVAL;
	/* Each range in the BAR */
	for (i = 0; i < q->nr_ranges; i++) {
		const struct vfio_region_dma_range *r = &q->r[i];

		if (__builtin_add_overflow(bars[q->index].start, r->offset,
					   &addr) ||
		    __builtin_add_overflow(addr, r->length, &end))
			return -EOVERFLOW;
		if (end > bars[q->index].start + bars[q->index].len)
			return -EINVAL;
	}
	return 1;
}

/* The results the uAPI documents for a request */
static const struct {
	int ret;
	const char *name;
} results[] = {
	{ 1, "dma-buf" }, { 0, "probe" }, { -EINVAL, "EINVAL" },
	{ -EOVERFLOW, "EOVERFLOW" }, { -ENODEV, "ENODEV" },
	{ -EFAULT, "EFAULT" }, { -ENOMEM, "ENOMEM" }, { -ENOTTY, "ENOTTY" },
};

static void tally(unsigned int *seen, int got)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(results); i++)
		if (results[i].ret == (got > 0 ? 1 : got))
			seen[i]++;
}

/*
 * Send @q from a buffer that holds exactly its header and @q->nr_copy
 * ranges; with @q->fault the buffer ends where an unmapped page begins.
 */
static int send_request(struct dmabuf_env *e, const struct request *q,
			void *area, size_t area_len)
{
	size_t len = FEAT_SZ(q->nr_copy);
	struct vfio_device_feature *f;
	struct vfio_device_feature_dma_buf *db;
	int ret;

	/*
	 * Without a fault, the bytes after the buffer are zeroes up to the
	 * end of the area, then the hole
	 */
	f = q->fault ? area + area_len - len : area;
	memset(q->fault ? (void *)f : area, 0, q->fault ? len : area_len);
	f->argsz = q->argsz;
	f->flags = q->feat_flags;
	db = (void *)f->data;
	db->region_index = q->index;
	db->open_flags = q->open_flags;
	db->flags = q->flags;
	db->nr_ranges = q->nr_ranges;
	memcpy(db->dma_ranges, q->r, q->nr_copy * sizeof(q->r[0]));
	ret = ioctl(e->device, VFIO_DEVICE_FEATURE, f);
	return ret < 0 ? -errno : ret;
}

static void log_request(struct __test_metadata *_metadata,
			const struct request *q, unsigned int n)
{
	unsigned int i;

	TH_LOG("request %u: argsz %u %#x index %u open %#x flags %#x nr %u (%u copied%s)",
	       n, q->argsz, q->feat_flags, q->index, q->open_flags, q->flags,
	       q->nr_ranges, q->nr_copy, q->fault ? ", then a hole" : "");
	for (i = 0; i < q->nr_copy && i < 4; i++)
		TH_LOG("  range %u: %#llx + %#llx", i,
		       (unsigned long long)q->r[i].offset,
		       (unsigned long long)q->r[i].length);
}

TEST_F_TIMEOUT(fuzz, requests, 600)
{
	struct dmabuf_env *e = &self->e;
	size_t area_len = FEAT_SZ(MAX_COPY) + PAGE;
	unsigned int i, j, n = iterations(), made = 0, bad = 0;
	unsigned int seen[ARRAY_SIZE(results)] = {};
	struct request *q;
	int got, want;
	__u64 size;
	char *area;

	q = malloc(sizeof(*q));
	ASSERT_NE(NULL, q);
	area_len = (area_len + PAGE - 1) & ~(PAGE - 1);
	/* the request area, then a hole */
	area = mmap(NULL, area_len + PAGE, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, area);
	ASSERT_EQ(0, munmap(area + area_len, PAGE));

	read_bars(_metadata, e);
	ASSERT_EQ(e->bar_size, bars[BAR].len);
	for (i = 0; i < n; i++) {
		rnd_request(q, e->bar_size);
		want = expected(q, area_len, &size);
		got = send_request(e, q, area, area_len);
		tally(seen, got);
		if (want == 1 && got >= 0) {
			EXPECT_EQ((off_t)size, lseek(got, 0, SEEK_END))
				log_request(_metadata, q, i);
			close(got);
			made++;
			continue;
		}
		if (got >= 0 && want != 0)
			close(got);
		if (got != want) {
			bad++;
			log_request(_metadata, q, i);
			TH_LOG("  returned %d (%s), the uAPI says %s",
			       got, got < 0 ? strerror(-got) : "fd",
			       want == 1 ? "a dma-buf" : want ? strerror(-want) : "0");
		}
		if (bad > 10)
			break;
	}
	EXPECT_EQ(0, bad);
	TH_LOG("%u requests, %u dma-bufs made, %u unexpected results", i, made,
	       bad);
	for (j = 0; j < ARRAY_SIZE(results); j++) {
		TH_LOG("  %-10s %u", results[j].name, seen[j]);
		/* a long enough run reaches every documented result */
		if (n >= 2000)
			EXPECT_NE(0, seen[j]) TH_LOG("never got %s",
						     results[j].name);
	}
	munmap(area, area_len);
	free(q);
}

/* --- sequences ------------------------------------------------------------ */

struct seq_buf {
	int fd;				/* -1: closed (imports may hold it) */
	bool used;
	bool dead;			/* revoked for good: device closed */
	struct vfio_region_dma_range r[3];
	unsigned int n;
	__u64 size;
};

struct seq_import {
	bool used;
	unsigned int buf;
	__u32 handle;
	__u32 notify;			/* move_notify calls it must have seen */
	bool mapped;
};

struct seq {
	struct seq_buf bufs[SEQ_BUFS];
	struct seq_import imps[SEQ_IMPORTS];
	bool memory;			/* memory decode on */
	unsigned int steps[10];
};

/* Every import of a live dma-buf sees one move_notify. */
static void seq_notify(struct seq *s)
{
	unsigned int i;

	for (i = 0; i < SEQ_IMPORTS; i++) {
		if (!s->imps[i].used || s->bufs[s->imps[i].buf].dead)
			continue;
		s->imps[i].notify++;
		s->imps[i].mapped = false;
	}
}

static bool seq_usable(struct seq *s, unsigned int b)
{
	return s->memory && !s->bufs[b].dead;
}

static void seq_check(struct __test_metadata *_metadata, struct dmabuf_env *e,
		      struct seq *s, unsigned int step)
{
	struct p2pdma_edu_import_info info;
	unsigned int i;

	for (i = 0; i < SEQ_IMPORTS; i++) {
		if (!s->imps[i].used)
			continue;
		info = imp_info(_metadata, e, s->imps[i].handle);
		EXPECT_EQ(s->imps[i].notify, info.move_notify)
			TH_LOG("step %u: import %u: move_notify count", step, i);
		EXPECT_EQ(s->imps[i].mapped, info.mapped)
			TH_LOG("step %u: import %u: mapping held", step, i);
		/* keep it in step, so that one slip is reported once */
		s->imps[i].notify = info.move_notify;
		s->imps[i].mapped = info.mapped;
	}
}

/* A DMA of random bytes through import @i, checked in the host file. */
static void seq_dma(struct __test_metadata *_metadata, struct dmabuf_env *e,
		    struct seq *s, unsigned int i, unsigned int step)
{
	struct seq_import *imp = &s->imps[i];
	struct seq_buf *b = &s->bufs[imp->buf];
	uint8_t data[SEQ_DMA];
	uint8_t before[SEQ_DMA];
	uint8_t after[SEQ_DMA];
	__u64 off = below(b->size / SEQ_DMA) * SEQ_DMA;
	int want, got;

	fill(data, sizeof(data), (__u32)rnd());
	read_host(_metadata, e, b->r, b->n, off, before, sizeof(before));
	want = !seq_usable(s, imp->buf) ? -ENODEV : map_ok(e);
	got = imp_dma(e, imp->handle, 1, off, data, sizeof(data));
	EXPECT_EQ(want, got) TH_LOG("step %u: DMA through import %u", step, i);
	read_host(_metadata, e, b->r, b->n, off, after, sizeof(after));
	if (!got) {
		imp->mapped = true;
		EXPECT_EQ(0, memcmp(data, after, sizeof(data)))
			TH_LOG("step %u: DMA data not in the BAR at dma-buf offset %#llx",
			       step, (unsigned long long)off);
	} else {
		EXPECT_EQ(0, memcmp(before, after, sizeof(after)))
			TH_LOG("step %u: a refused DMA changed the BAR", step);
	}
}

static void seq_export(struct __test_metadata *_metadata,
		       struct dmabuf_env *e, struct seq *s, unsigned int step)
{
	unsigned int b, i;
	struct seq_buf *sb;

	for (b = 0; b < SEQ_BUFS && s->bufs[b].used; b++)
		;
	if (b == SEQ_BUFS)
		return;
	sb = &s->bufs[b];
	memset(sb, 0, sizeof(*sb));
	sb->n = 1 + below(3);
	for (i = 0; i < sb->n; i++) {
		sb->r[i].length = PAGE * (1 + below(8));
		sb->r[i].offset = below((e->bar_size - sb->r[i].length) / PAGE) *
				  PAGE;
		sb->size += sb->r[i].length;
	}
	sb->fd = export_bar(e, BAR, O_RDWR | O_CLOEXEC, sb->r, sb->n);
	ASSERT_LE(0, sb->fd) TH_LOG("step %u: export: %s", step,
				    strerror(-sb->fd));
	sb->used = true;
}

static void seq_import(struct __test_metadata *_metadata,
		       struct dmabuf_env *e, struct seq *s, unsigned int step)
{
	unsigned int b = below(SEQ_BUFS), i;
	struct seq_import *imp;
	int ret;

	if (!s->bufs[b].used || s->bufs[b].fd < 0)
		return;
	for (i = 0; i < SEQ_IMPORTS && s->imps[i].used; i++)
		;
	if (i == SEQ_IMPORTS)
		return;
	imp = &s->imps[i];
	memset(imp, 0, sizeof(*imp));
	/* A revoked dma-buf, for now or for good, takes no new importer */
	ret = imp_import(e, s->bufs[b].fd, 0, &imp->handle, NULL);
	ASSERT_EQ(seq_usable(s, b) ? 0 : -ENODEV, ret)
		TH_LOG("step %u: import: %s", step, strerror(-ret));
	if (ret)
		return;
	imp->used = true;
	imp->buf = b;
}

/* Forget dma-buf @b once neither its fd nor an import holds it. */
static void seq_put_buf(struct seq *s, unsigned int b)
{
	unsigned int i;

	if (s->bufs[b].fd >= 0)
		return;
	for (i = 0; i < SEQ_IMPORTS; i++)
		if (s->imps[i].used && s->imps[i].buf == b)
			return;
	s->bufs[b].used = false;
}

/* A live import at random, or an unused slot if there is none */
static unsigned int seq_pick(struct seq *s)
{
	unsigned int i, n = 0, live[SEQ_IMPORTS];

	for (i = 0; i < SEQ_IMPORTS; i++)
		if (s->imps[i].used)
			live[n++] = i;
	return n ? live[below(n)] : 0;
}

static void seq_step(struct __test_metadata *_metadata, struct dmabuf_env *e,
		     struct seq *s, unsigned int step)
{
	unsigned int op = below(100), i = seq_pick(s);
	unsigned int b = below(SEQ_BUFS);
	struct seq_import *imp = &s->imps[i];
	int want;

	if (op < 12) {
		s->steps[0]++;
		seq_export(_metadata, e, s, step);
	} else if (op < 30) {
		s->steps[1]++;
		seq_import(_metadata, e, s, step);
	} else if (op < 50) {
		if (!imp->used)
			return;
		s->steps[2]++;
		want = !seq_usable(s, imp->buf) ? -ENODEV : map_ok(e);
		EXPECT_EQ(want, imp_map_ret(e, imp->handle))
			TH_LOG("step %u: map import %u", step, i);
		if (!want)
			imp->mapped = true;
	} else if (op < 65) {
		if (!imp->used)
			return;
		s->steps[3]++;
		seq_dma(_metadata, e, s, i, step);
	} else if (op < 75) {
		s->steps[4]++;
		ASSERT_EQ(0, set_memory(e, !s->memory));
		s->memory = !s->memory;
		seq_notify(s);
	} else if (op < 80) {
		if (!(e->dev_flags & VFIO_DEVICE_FLAGS_RESET))
			return;
		s->steps[5]++;
		/* revoked before the reset and restored after it */
		ASSERT_EQ(0, ioctl(e->device, VFIO_DEVICE_RESET));
		if (s->memory) {
			seq_notify(s);
			seq_notify(s);
		}
	} else if (op < 89) {
		if (!imp->used)
			return;
		s->steps[6]++;
		EXPECT_EQ(0, imp_close(e, imp->handle));
		imp->used = false;
		seq_put_buf(s, imp->buf);
	} else if (op < 98) {
		if (!s->bufs[b].used || s->bufs[b].fd < 0)
			return;
		s->steps[7]++;
		EXPECT_EQ(0, close(s->bufs[b].fd));
		s->bufs[b].fd = -1;
		seq_put_buf(s, b);
	} else {
		/* Closing the device revokes its dma-bufs for good */
		s->steps[8]++;
		if (s->memory)
			seq_notify(s);
		for (b = 0; b < SEQ_BUFS; b++)
			if (s->bufs[b].used)
				s->bufs[b].dead = true;
		close(e->device);
		device_open(_metadata, e);
		s->memory = true;
	}
}

TEST_F_TIMEOUT(fuzz, sequences, 900)
{
	struct dmabuf_env *e = &self->e;
	unsigned int i, n = iterations() / 10;
	struct seq s;

	memset(&s, 0, sizeof(s));
	for (i = 0; i < SEQ_BUFS; i++)
		s.bufs[i].fd = -1;
	s.memory = true;	/* device_open() turned it on */
	for (i = 0; i < n && !_metadata->exit_code; i++) {
		seq_step(_metadata, e, &s, i);
		seq_check(_metadata, e, &s, i);
	}
	TH_LOG("%u steps: %u exports, %u imports, %u maps, %u DMAs", i,
	       s.steps[0], s.steps[1], s.steps[2], s.steps[3]);
	TH_LOG("%u memory toggles, %u resets, %u device reopens", s.steps[4],
	       s.steps[5], s.steps[8]);
	TH_LOG("closed: %u imports, %u dma-bufs", s.steps[6], s.steps[7]);
	for (i = 0; i < SEQ_IMPORTS; i++)
		if (s.imps[i].used)
			EXPECT_EQ(0, imp_close(e, s.imps[i].handle));
	for (i = 0; i < SEQ_BUFS; i++)
		if (s.bufs[i].used && s.bufs[i].fd >= 0)
			EXPECT_EQ(0, close(s.bufs[i].fd));
	if (!s.memory)
		EXPECT_EQ(0, set_memory(e, true));
}

/* --- faults --------------------------------------------------------------- */

#define FAILSLAB	"/sys/kernel/debug/failslab/"
#define FAILPAGE	"/sys/kernel/debug/fail_page_alloc/"
#define MAX_NTH		5000	/* allocations of one call, at most */

/* A debugfs knob of the fault injection framework, and its old value */
struct knob {
	const char *path;
	const char *val;
	char old[32];
};

static struct knob knobs[] = {
	/* GFP_KERNEL allocations can fail too; no stack dump per failure */
	{ FAILSLAB "ignore-gfp-wait", "N" },
	{ FAILSLAB "verbose", "0" },
	{ FAILPAGE "ignore-gfp-wait", "N" },
	{ FAILPAGE "min-order", "0" },
	{ FAILPAGE "verbose", "0" },
};

static int knobs_set(bool restore)
{
	const char *val;
	unsigned int i;
	ssize_t n;
	int fd;

	for (i = 0; i < ARRAY_SIZE(knobs); i++) {
		fd = open(knobs[i].path, O_RDONLY);
		if (fd < 0)
			return -errno;
		if (!restore) {
			n = read(fd, knobs[i].old, sizeof(knobs[i].old) - 1);
			knobs[i].old[n > 0 ? n : 0] = 0;
		}
		close(fd);
		fd = open(knobs[i].path, O_WRONLY);
		if (fd < 0)
			return -errno;
		val = restore ? knobs[i].old : knobs[i].val;
		n = write(fd, val, strlen(val));
		close(fd);
		if (n < 0)
			return -errno;
		knobs_changed = !restore;
	}
	return 0;
}

/* The calls under test, each run with one injected failure */
enum fault_op {
	F_EXPORT, F_IMPORT, F_MAP, F_DMA, F_REG_MR, F_REVOKE, F_RESET,
	F_NR
};

static const char * const fault_op_name[F_NR] = {
	"export", "attach", "map", "DMA", "MR registration", "revoke+restore",
	"reset",
};

struct faults {
	int nth;			/* /proc/thread-self/fail-nth, armed */
	int buf;			/* dma-buf of three ranges */
	struct vfio_region_dma_range r[3];
	__u64 size;
	__u32 imp;			/* a live import of it */
	unsigned int bufs, attached;	/* bufinfo before the calls */
	unsigned int injected[F_NR];
	unsigned int failed[F_NR];	/* of which the call failed */
};

/*
 * Arm the failure of the @n-th allocation from here on.  The file has no
 * llseek: each arming opens it anew, so that reading it back starts at 0.
 */
static int fail_nth(struct faults *f, unsigned int n)
{
	char s[16];
	int len = snprintf(s, sizeof(s), "%u", n);

	f->nth = open("/proc/thread-self/fail-nth", O_RDWR);
	if (f->nth < 0)
		return -errno;
	return write(f->nth, s, len) == len ? 0 : -errno;
}

/* Was the failure injected?  Disarms it either way. */
static bool fail_nth_hit(struct faults *f)
{
	char s[16] = "";
	ssize_t n;

	n = read(f->nth, s, sizeof(s) - 1);
	if (write(f->nth, "0", 1) != 1)
		n = -1;
	close(f->nth);
	f->nth = -1;
	return n > 0 && atoi(s) == 0;
}

/* Run @op once; 0 or -errno.  Undo what it made. */
static int fault_call(struct __test_metadata *_metadata, struct dmabuf_env *e,
		      struct faults *f, enum fault_op op, unsigned int n)
{
	struct p2pdma_edu_import_info before = {}, after;
	struct p2pdma_hca_user_mr mr;
	uint8_t data[SEQ_DMA], back[SEQ_DMA];
	__u32 h;
	int ret;

	if (op == F_REVOKE || op == F_RESET)
		before = imp_info(_metadata, e, f->imp);
	fill(data, sizeof(data), e->seed + n);
	ASSERT_EQ(0, fail_nth(f, n));
	switch (op) {
	case F_EXPORT:
		ret = export_bar(e, BAR, O_RDWR | O_CLOEXEC, f->r, 3);
		break;
	case F_IMPORT:
		ret = imp_import(e, f->buf, 0, &h, NULL);
		break;
	case F_MAP:
		ret = imp_map_ret(e, f->imp);
		break;
	case F_DMA:
		ret = imp_dma(e, f->imp, 1, f->size - SEQ_DMA, data,
			      sizeof(data));
		break;
	case F_REG_MR:
		ret = mr_reg(e, f->buf, 0, f->size, 0, 0, 0, &mr);
		break;
	case F_REVOKE:
		ret = set_memory(e, false);
		break;
	default:
		ret = ioctl(e->device, VFIO_DEVICE_RESET) ? -errno : 0;
		break;
	}
	if (fail_nth_hit(f)) {
		f->injected[op]++;
		f->failed[op] += ret < 0;
	}

	switch (op) {
	case F_EXPORT:
		if (ret >= 0) {
			EXPECT_EQ((off_t)f->size, lseek(ret, 0, SEEK_END));
			close(ret);
			ret = 0;
		}
		break;
	case F_IMPORT:
		if (!ret)
			EXPECT_EQ(0, imp_close(e, h));
		break;
	case F_MAP:
	case F_DMA:
		/* the import holds a mapping exactly when the call worked */
		after = imp_info(_metadata, e, f->imp);
		EXPECT_EQ(!ret, after.mapped);
		/* a mapping made despite a failure reaches its last byte */
		if (op == F_MAP && !ret)
			EXPECT_EQ(0, imp_dma(e, f->imp, 1, f->size - SEQ_DMA,
					     data, sizeof(data)));
		if (!ret) {
			read_host(_metadata, e, f->r, 3, f->size - SEQ_DMA, back,
				  sizeof(back));
			EXPECT_EQ(0, memcmp(data, back, sizeof(back)))
				TH_LOG("%s, failure %u: DMA data not in the BAR",
				       fault_op_name[op], n);
		}
		EXPECT_EQ(0, ioctl(e->edu, P2PDMA_EDU_IMPORT_UNMAP, &f->imp));
		break;
	case F_REG_MR:
		if (!ret)
			EXPECT_EQ(0, mr_dereg(e, &mr));
		break;
	case F_REVOKE:
		/* a revocation has nothing to fail: the importer must go */
		EXPECT_EQ(0, ret) TH_LOG("memory decode off: %s",
					 strerror(-ret));
		after = imp_info(_metadata, e, f->imp);
		EXPECT_EQ(before.move_notify + 1, after.move_notify);
		EXPECT_FALSE(after.mapped);
		EXPECT_EQ(0, set_memory(e, true));
		after = imp_info(_metadata, e, f->imp);
		EXPECT_EQ(before.move_notify + 2, after.move_notify);
		break;
	default:
		/* revoked and restored, or not touched if it failed early */
		after = imp_info(_metadata, e, f->imp);
		EXPECT_TRUE(after.move_notify == before.move_notify ||
			    after.move_notify == before.move_notify + 2)
			TH_LOG("reset: %u move_notify calls",
			       after.move_notify - before.move_notify);
		/* a failed reset may leave memory decode off */
		EXPECT_EQ(0, set_memory(e, true));
		break;
	}
	return ret;
}

/* After a call, with or without a failure: nothing left behind */
static void fault_check(struct __test_metadata *_metadata,
			struct dmabuf_env *e, struct faults *f,
			enum fault_op op, unsigned int n)
{
	unsigned int bufs, attached;

	bufs = vfio_dmabufs(&attached);
	EXPECT_EQ(f->bufs, bufs)
		TH_LOG("%s, failure %u: %u vfio-pci dma-bufs, %u expected",
		       fault_op_name[op], n, bufs, f->bufs);
	EXPECT_EQ(f->attached, attached)
		TH_LOG("%s, failure %u: %u attachments, %u expected",
		       fault_op_name[op], n, attached, f->attached);
}

TEST_F_TIMEOUT(fuzz, faults, 900)
{
	struct dmabuf_env *e = &self->e;
	unsigned int n, i, total = 0, calls = 0;
	bool through;
	struct faults f = { .nth = -1, .buf = -1 };
	enum fault_op op;
	int ret, want;

	if (access("/proc/thread-self/fail-nth", W_OK))
		SKIP(return, "kernel without CONFIG_FAULT_INJECTION");
	ret = knobs_set(false);
	if (ret)
		SKIP(return, "no %s or %s (CONFIG_FAULT_INJECTION_DEBUG_FS): %s",
		     FAILSLAB, FAILPAGE, strerror(-ret));

	/* three ranges: one page, one at the end of the BAR, one in between */
	f.r[0].offset = PAGE * below(16);
	f.r[0].length = PAGE;
	f.r[1].offset = e->bar_size - 2 * PAGE;
	f.r[1].length = 2 * PAGE;
	f.r[2].offset = e->bar_size / 2;
	f.r[2].length = 4 * PAGE;
	f.size = 7 * PAGE;
	f.buf = export_bar(e, BAR, O_RDWR | O_CLOEXEC, f.r, 3);
	ASSERT_LE(0, f.buf);
	ASSERT_EQ(0, imp_import(e, f.buf, 0, &f.imp, NULL));
	f.bufs = vfio_dmabufs(&f.attached);
	ASSERT_LE(1, (int)f.bufs) TH_LOG("no dma_buf/bufinfo in debugfs?");
	ASSERT_LE(1, f.attached);

	for (op = 0; op < F_NR; op++) {
		if (op == F_RESET && !(e->dev_flags & VFIO_DEVICE_FLAGS_RESET))
			continue;
		if (op == F_REG_MR && !need_hca(_metadata, e))
			continue;
		through = false;
		for (n = 1; n <= MAX_NTH; n++) {
			i = f.injected[op];
			ret = fault_call(_metadata, e, &f, op, n);
			calls++;
			fault_check(_metadata, e, &f, op, n);
			if (_metadata->exit_code)
				break;
			want = op == F_MAP || op == F_DMA || op == F_REG_MR ?
			       map_ok(e) : 0;
			if (f.injected[op] == i) {
				/* every allocation got through */
				EXPECT_EQ(want, ret)
					TH_LOG("%s without a failure: %s",
					       fault_op_name[op], strerror(-ret));
				through = true;
				break;
			}
			/* a failure is ENOMEM, or a fallback that worked */
			if (ret != want)
				EXPECT_EQ(-ENOMEM, ret)
					TH_LOG("%s, failure of allocation %u: %s",
					       fault_op_name[op], n,
					       strerror(-ret));
		}
		if (!_metadata->exit_code)
			EXPECT_TRUE(through)
				TH_LOG("%s: more than %u allocations",
				       fault_op_name[op], MAX_NTH);
		TH_LOG("%-16s %4u allocations failed in turn, %4u calls failed",
		       fault_op_name[op], f.injected[op], f.failed[op]);
		total += f.injected[op];
		if (_metadata->exit_code)
			break;
	}
	TH_LOG("%u failures injected in %u calls", total, calls);
	EXPECT_EQ(0, knobs_set(true));
	/* the exporter's own allocations were reached */
	EXPECT_NE(0, f.failed[F_EXPORT]);
	if (e->p2p)
		EXPECT_NE(0, f.failed[F_MAP]);
	EXPECT_EQ(0, imp_close(e, f.imp));
	close(f.buf);
}

TEST_HARNESS_MAIN
