// SPDX-License-Identifier: GPL-2.0
/*
 * ibv_reg_dmabuf_mr() on a vfio-pci BAR exported as a dma-buf, on every
 * RDMA device present (ibv_get_device_list()):
 *
 *   - no_dmabuf_support_is_eopnotsupp: a device without dma-buf support
 *     must fail every ibv_reg_dmabuf_mr() with EOPNOTSUPP, whatever the
 *     arguments (NCCL's probe ibv_reg_dmabuf_mr(pd, 0, 0, 0, -1, 0), a
 *     bad fd, offset or length), never EINVAL or EBADF: that is how
 *     applications tell "unsupported" from "bad arguments".  A device
 *     with dma-buf support must register the BAR (or refuse it with
 *     EOPNOTSUPP where the topology refuses P2P, or if the device only
 *     imports by pinning, which vfio-pci refuses) and fail bad arguments
 *     with their own errno: EBADF for fd -1, EINVAL for a file that is
 *     not a dma-buf, a range beyond the dma-buf, a zero length, or an
 *     offset and IOVA that differ within a page.
 *   - write_into_bar: on every device that can import the BAR, an RC QP
 *     connected to itself RDMA WRITEs a pattern into dma-buf MRs of the
 *     BAR (one at a page aligned offset, one at an unaligned offset that
 *     spans two pages), addressed by the MRs' IOVA and rkey.  The bytes
 *     are checked in the host file that backs the BAR, and those around
 *     them must not change; an RDMA READ must bring the pattern back.
 *     Then a revoke: with memory decode off an RDMA WRITE completes in
 *     error and the BAR is untouched; decode on, a new QP writes into the
 *     same MR.  A device whose NCCL probe says it supports dma-bufs but
 *     that refuses the BAR fails, unless its driver is a known pinned
 *     importer of 6.12 (efa, irdma, bnxt_re).
 *   - kernel_reg_dmabuf_mr: UVERBS_METHOD_REG_DMABUF_MR issued as a raw
 *     ioctl on the device's uverbs file, bypassing libibverbs, whose
 *     providers may answer ibv_reg_dmabuf_mr() without asking the kernel
 *     (rdma-core 44's rxe and siw do).  A positive control first: the
 *     same hand-built ioctl must run UVERBS_METHOD_QUERY_MR on an
 *     ordinary MR and return its keys, which proves it reaches uverbs,
 *     and a REG_DMABUF_MR with a malformed attribute must get the
 *     attribute parser's EINVAL.  Then the kernel must refuse the
 *     dma-buf MR where the library says "unsupported" (EOPNOTSUPP from
 *     the method's handler: the device has no reg_user_mr_dmabuf), and
 *     register it where P2P is allowed and the library supports it.
 *   - loopback_self_check: the same RC loopback WRITE and READ into an
 *     ordinary MR (malloc'd memory) on every device, so that the QP,
 *     post and poll code the dma-buf case relies on is tested where no
 *     device supports dma-buf (soft RoCE).
 *
 * Needs:
 *   - the environment of vfio_dmabuf_test.c (the provider bound to
 *     vfio-pci, the edu importer and p2pdma_edu.ko, VFIO_DMABUF_PROVIDER,
 *     VFIO_DMABUF_IMPORTER, VFIO_DMABUF_BAR_FILE, VFIO_DMABUF_EXPECT);
 *     without it the dma-buf tests are skipped (loopback_self_check does
 *     not use the BAR and runs anyway);
 *   - CONFIG_INFINIBAND_USER_ACCESS, libibverbs with the provider of the
 *     device (rdma-core), and at least one RDMA device, port 1 ACTIVE:
 *     InfiniBand (addressed by LID) or RoCE (by a GID of port 1).  With
 *     no RDMA device every test is skipped.  The QEMU lab has soft RoCE
 *     on lo ("rdma link add rxe0 type rxe netdev lo"), which has no
 *     dma-buf support: write_into_bar is skipped there as without the
 *     hardware, and needs a NIC such as mlx5 to run.
 */
#include "vfio_dmabuf_util.h"

#include <infiniband/verbs.h>
#include <rdma/ib_user_ioctl_cmds.h>
#include <rdma/rdma_user_ioctl_cmds.h>

#define PORT		1
#define ACCESS		(IBV_ACCESS_LOCAL_WRITE | \
			 IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ)
#define DMABUF_LEN	(16 * PAGE)	/* the BAR range exported */
/* IOVAs of the MRs: neither 0 nor their offset, same low 12 bits */
#define IOVA		0x7f5a00000000ULL
#define IOVA2		0x7f5b00000000ULL
#define MEM_LEN		(8 * PAGE)	/* ordinary target memory */
#define XFER_MAX	(4 * PAGE)	/* the largest RDMA transfer */
#define GUARD		64	/* bytes each side of a write: kept */
#define CQ_WAIT_MS	5000
#define REG_OK		(-1)	/* reg_errno(): MR registered */

/* The device under test: everything it holds, freed by dev_close(). */
struct rdma_dev {
	const char *name;
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct ibv_port_attr port;
	union ibv_gid gid;
	int gid_index;		/* -1: no GRH (InfiniBand, by LID) */
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	uint8_t *buf;		/* source of writes, sink of reads */
	struct ibv_mr *buf_mr;
	uint8_t *peek;		/* the target's bytes, before and after */
	uint8_t *mem;		/* ordinary memory written into */
	struct ibv_mr *target[2];	/* the MRs written into */
};

/*
 * What an RDMA loopback writes into: an MR, or a part of it, seen through
 * its remote address and rkey, and where the CPU reads its bytes back.
 */
struct window {
	const char *what;	/* for the messages */
	__u64 addr;		/* remote address of its first byte */
	__u32 rkey;
	__u64 len;
	uint8_t *mem;		/* ordinary memory: the bytes themselves */
	struct dmabuf_env *e;	/* or a dma-buf of the BAR ... */
	const struct vfio_region_dma_range *r;	/* ... of this range */
	__u64 dmabuf_off;	/* the window's offset in the dma-buf */
};

FIXTURE(ibv)
{
	struct dmabuf_env env;
	int no_lab;		/* env_open() found no lab environment */
	struct ibv_device **list;
	int nr;
	struct vfio_region_dma_range range;	/* exported as ... */
	int dmabuf;		/* ... this dma-buf */
	int not_dmabuf;		/* /dev/null */
	unsigned int seed;
	struct rdma_dev d;
};

/*
 * Log only real failures: after an ASSERT_*() the harness may still have
 * a pending TH_LOG() trigger, which the bare EXPECT_EQ() consumes.
 */
static void put(struct __test_metadata *_metadata, struct rdma_dev *d,
		const char *what, int ret)
{
	if (ret)
		TH_LOG("%s: %s: %s", d->name, what, strerror(ret));
	EXPECT_EQ(0, ret);
}

static void dev_close(struct __test_metadata *_metadata, struct rdma_dev *d)
{
	unsigned int i;

	if (d->qp)
		put(_metadata, d, "destroy QP", ibv_destroy_qp(d->qp));
	if (d->cq)
		put(_metadata, d, "destroy CQ", ibv_destroy_cq(d->cq));
	for (i = 0; i < ARRAY_SIZE(d->target); i++)
		if (d->target[i])
			put(_metadata, d, "deregister target MR",
			    ibv_dereg_mr(d->target[i]));
	if (d->buf_mr)
		put(_metadata, d, "deregister local MR",
		    ibv_dereg_mr(d->buf_mr));
	if (d->pd)
		put(_metadata, d, "dealloc PD", ibv_dealloc_pd(d->pd));
	if (d->ctx)
		put(_metadata, d, "close device", ibv_close_device(d->ctx));
	free(d->buf);
	free(d->peek);
	free(d->mem);
	memset(d, 0, sizeof(*d));
	d->gid_index = -1;
}

static void dev_open(struct __test_metadata *_metadata, struct rdma_dev *d,
		     struct ibv_device *dev)
{
	memset(d, 0, sizeof(*d));
	d->gid_index = -1;
	d->name = ibv_get_device_name(dev);
	d->ctx = ibv_open_device(dev);
	ASSERT_NE(NULL, d->ctx) TH_LOG("%s: ibv_open_device: %s", d->name,
				       strerror(errno));
	d->pd = ibv_alloc_pd(d->ctx);
	ASSERT_NE(NULL, d->pd) TH_LOG("%s: ibv_alloc_pd: %s", d->name,
				      strerror(errno));
}

/* A GID of the port: an IPv4-mapped one if there is one. */
static void find_gid(struct __test_metadata *_metadata, struct rdma_dev *d)
{
	static const uint8_t v4mapped[12] = { [10] = 0xff, [11] = 0xff };
	union ibv_gid gid, zero;
	int i;

	memset(&zero, 0, sizeof(zero));
	for (i = 0; i < d->port.gid_tbl_len; i++) {
		if (ibv_query_gid(d->ctx, PORT, i, &gid) ||
		    !memcmp(&gid, &zero, sizeof(gid)))
			continue;
		if (d->gid_index < 0 ||
		    (!memcmp(gid.raw, v4mapped, sizeof(v4mapped)) &&
		     memcmp(d->gid.raw, v4mapped, sizeof(v4mapped)))) {
			d->gid = gid;
			d->gid_index = i;
		}
	}
	ASSERT_LE(0, d->gid_index)
		TH_LOG("%s: RoCE port %d has no GID: no IP address on its netdev?",
		       d->name, PORT);
}

/* An RC QP on port PORT connected to itself, in RTS. */
static void qp_connect(struct __test_metadata *_metadata, struct rdma_dev *d)
{
	struct ibv_qp_init_attr init = {
		.qp_type = IBV_QPT_RC,
		.sq_sig_all = 1,
		.cap = {
			.max_send_wr = 4, .max_recv_wr = 1,
			.max_send_sge = 1, .max_recv_sge = 1,
		},
	};
	struct ibv_qp_attr a;
	int ret;

	ret = ibv_query_port(d->ctx, PORT, &d->port);
	ASSERT_EQ(0, ret) TH_LOG("%s: port %d: %s", d->name, PORT,
				 strerror(ret));
	ASSERT_EQ(IBV_PORT_ACTIVE, d->port.state)
		TH_LOG("%s: port %d is %s, not ACTIVE: link down, or no subnet manager?",
		       d->name, PORT, ibv_port_state_str(d->port.state));
	if (d->port.link_layer == IBV_LINK_LAYER_ETHERNET) {
		find_gid(_metadata, d);
	} else {
		ASSERT_NE(0, d->port.lid)
			TH_LOG("%s: InfiniBand port %d has no LID", d->name,
			       PORT);
	}

	d->cq = ibv_create_cq(d->ctx, 8, NULL, NULL, 0);
	ASSERT_NE(NULL, d->cq) TH_LOG("%s: ibv_create_cq: %s", d->name,
				      strerror(errno));
	init.send_cq = d->cq;
	init.recv_cq = d->cq;
	d->qp = ibv_create_qp(d->pd, &init);
	ASSERT_NE(NULL, d->qp) TH_LOG("%s: ibv_create_qp (RC): %s", d->name,
				      strerror(errno));

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_INIT;
	a.pkey_index = 0;
	a.port_num = PORT;
	a.qp_access_flags = ACCESS;
	ret = ibv_modify_qp(d->qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
			    IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
	ASSERT_EQ(0, ret) TH_LOG("%s: QP to INIT: %s", d->name, strerror(ret));

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = d->port.active_mtu;
	a.dest_qp_num = d->qp->qp_num;
	a.rq_psn = 0;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 12;
	a.ah_attr.port_num = PORT;
	a.ah_attr.dlid = d->port.lid;
	if (d->gid_index >= 0) {
		a.ah_attr.is_global = 1;
		a.ah_attr.grh.dgid = d->gid;
		a.ah_attr.grh.sgid_index = d->gid_index;
		a.ah_attr.grh.hop_limit = 64;
	}
	ret = ibv_modify_qp(d->qp, &a, IBV_QP_STATE | IBV_QP_AV |
			    IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
			    IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC |
			    IBV_QP_MIN_RNR_TIMER);
	ASSERT_EQ(0, ret) TH_LOG("%s: QP to RTR (GID index %d): %s", d->name,
				 d->gid_index, strerror(ret));

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = 0;
	a.max_rd_atomic = 1;
	ret = ibv_modify_qp(d->qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
			    IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
			    IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
	ASSERT_EQ(0, ret) TH_LOG("%s: QP to RTS: %s", d->name, strerror(ret));
}

/* The local buffers: source and sink (registered), and the CPU's view. */
static void local_bufs(struct __test_metadata *_metadata, struct rdma_dev *d)
{
	d->buf = aligned_alloc(PAGE, 2 * XFER_MAX);
	ASSERT_NE(NULL, d->buf);
	d->peek = malloc(2 * (XFER_MAX + 2 * GUARD));
	ASSERT_NE(NULL, d->peek);
	d->buf_mr = ibv_reg_mr(d->pd, d->buf, 2 * XFER_MAX,
			       IBV_ACCESS_LOCAL_WRITE);
	ASSERT_NE(NULL, d->buf_mr) TH_LOG("%s: ibv_reg_mr: %s", d->name,
					  strerror(errno));
}

/* Up to @ms for one completion: 1, 0 on timeout, < 0 on error. */
static int poll_one(struct ibv_cq *cq, struct ibv_wc *wc, unsigned int ms)
{
	struct timespec t0, t;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		n = ibv_poll_cq(cq, 1, wc);
		if (n)
			return n;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return 0;
		usleep(100);
	}
}

/* One signalled RDMA WRITE or READ of @len bytes at @local, completed. */
static void post_wait(struct __test_metadata *_metadata, struct rdma_dev *d,
		      enum ibv_wr_opcode op, uint8_t *local, __u32 len,
		      __u64 raddr, __u32 rkey)
{
	const char *name = op == IBV_WR_RDMA_WRITE ? "WRITE" : "READ";
	struct ibv_sge sge = {
		.addr = (uintptr_t)local, .length = len,
		.lkey = d->buf_mr->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = op, .sg_list = &sge, .num_sge = 1, .opcode = op,
		.send_flags = IBV_SEND_SIGNALED,
		.wr.rdma.remote_addr = raddr, .wr.rdma.rkey = rkey,
	};
	struct ibv_send_wr *bad = NULL;
	struct ibv_wc wc;
	int ret;

	ret = ibv_post_send(d->qp, &wr, &bad);
	ASSERT_EQ(0, ret) TH_LOG("%s: post RDMA %s: %s", d->name, name,
				 strerror(ret));
	ret = poll_one(d->cq, &wc, CQ_WAIT_MS);
	ASSERT_LE(0, ret) TH_LOG("%s: ibv_poll_cq: %d", d->name, ret);
	ASSERT_EQ(1, ret)
		TH_LOG("%s: RDMA %s of %u bytes to %#llx: no completion in %d ms",
		       d->name, name, len, (unsigned long long)raddr,
		       CQ_WAIT_MS);
	ASSERT_EQ(IBV_WC_SUCCESS, wc.status)
		TH_LOG("%s: RDMA %s of %u bytes to %#llx (rkey %#x): %s (vendor error %#x)",
		       d->name, name, len, (unsigned long long)raddr, rkey,
		       ibv_wc_status_str(wc.status), wc.vendor_err);
	EXPECT_EQ(op, wc.wr_id);
	EXPECT_EQ(op == IBV_WR_RDMA_WRITE ? IBV_WC_RDMA_WRITE :
		  IBV_WC_RDMA_READ, wc.opcode);
}

/* The CPU's view of window bytes [@at, @at + @len) */
static void peek(struct __test_metadata *_metadata, const struct window *w,
		 __u64 at, uint8_t *buf, __u64 len)
{
	if (w->mem)
		memcpy(buf, w->mem + at, len);
	else
		read_host(_metadata, w->e, w->r, 1, w->dmabuf_off + at, buf,
			  len);
}

static long first_diff(const uint8_t *a, const uint8_t *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (a[i] != b[i])
			return i;
	return -1;
}

/*
 * RDMA WRITE a pattern from @seed to window bytes [@at, @at + @len): the
 * CPU must see it there and the bytes around it unchanged.  Then RDMA READ
 * it back.
 */
static void loopback(struct __test_metadata *_metadata, struct rdma_dev *d,
		     const struct window *w, __u64 at, __u32 len,
		     unsigned int seed)
{
	__u64 lo = at > GUARD ? at - GUARD : 0;
	__u64 hi = at + len + GUARD < w->len ? at + len + GUARD : w->len;
	uint8_t *src = d->buf, *dst = d->buf + XFER_MAX;
	uint8_t *before = d->peek, *after = d->peek + XFER_MAX + 2 * GUARD;
	__u64 tail = at + len - lo;
	long diff;

	ASSERT_LE(len, XFER_MAX);
	ASSERT_LE(at + len, w->len);
	peek(_metadata, w, lo, before, hi - lo);
	fill(src, len, seed);
	memset(dst, 0, len);

	post_wait(_metadata, d, IBV_WR_RDMA_WRITE, src, len, w->addr + at,
		  w->rkey);
	peek(_metadata, w, lo, after, hi - lo);
	diff = first_diff(src, after + at - lo, len);
	EXPECT_EQ(-1, diff)
		TH_LOG("%s: RDMA WRITE of %u bytes to %s + %#llx: not there from byte %ld",
		       d->name, len, w->what, (unsigned long long)at, diff);
	EXPECT_EQ(-1, first_diff(before, after, at - lo))
		TH_LOG("%s: RDMA WRITE to %s + %#llx changed bytes before it",
		       d->name, w->what, (unsigned long long)at);
	EXPECT_EQ(-1, first_diff(before + tail, after + tail, hi - lo - tail))
		TH_LOG("%s: RDMA WRITE to %s + %#llx (+%u) changed bytes after it",
		       d->name, w->what, (unsigned long long)at, len);

	post_wait(_metadata, d, IBV_WR_RDMA_READ, dst, len, w->addr + at,
		  w->rkey);
	diff = first_diff(src, dst, len);
	EXPECT_EQ(-1, diff)
		TH_LOG("%s: RDMA READ of %u bytes from %s + %#llx: differs from byte %ld",
		       d->name, len, w->what, (unsigned long long)at, diff);
}

/* The transfers of both the dma-buf test and the self-check */
static void loopbacks(struct __test_metadata *_metadata, struct rdma_dev *d,
		      const struct window *w, unsigned int seed)
{
	/* Unaligned, across a page boundary */
	loopback(_metadata, d, w, 0x1234, 5000, seed);
	/* To the last byte of the window */
	loopback(_metadata, d, w, w->len - XFER_MAX, XFER_MAX, seed + 1);
	/* Again where the first one was: no stale data can match */
	loopback(_metadata, d, w, 0x1234, 5000, seed + 2);
}

/* An ibv_reg_dmabuf_mr() meant to fail: its errno, REG_OK if it did not. */
static int reg_errno(struct ibv_pd *pd, __u64 off, size_t len, __u64 iova,
		     int fd, int access)
{
	struct ibv_mr *mr;

	errno = 0;
	mr = ibv_reg_dmabuf_mr(pd, off, len, iova, fd, access);
	if (!mr)
		return errno;
	ibv_dereg_mr(mr);
	return REG_OK;
}

static const char *err_str(int err)
{
	if (err == REG_OK)
		return "success (MR registered)";
	return err ? strerror(err) : "failure with errno 0";
}

/* A uverbs ioctl with up to 9 attributes, built by hand */
struct raw_cmd {
	struct ib_uverbs_ioctl_hdr hdr;
	struct ib_uverbs_attr attrs[9];
};

/* An inline or pointer attribute of a raw uverbs ioctl */
static struct ib_uverbs_attr raw_attr(__u16 id, __u16 len, __u64 data,
				      bool mandatory)
{
	struct ib_uverbs_attr a = {
		.attr_id = id, .len = len, .data = data,
		.flags = mandatory ? UVERBS_ATTR_F_MANDATORY : 0,
	};

	return a;
}

/* Issue @c on @d's uverbs file: 0 or the errno of the kernel */
static int raw_ioctl(struct rdma_dev *d, struct raw_cmd *c, __u16 object,
		     __u16 method, unsigned int nr_attrs, __u32 driver_id)
{
	c->hdr.length = sizeof(c->hdr) + nr_attrs * sizeof(c->attrs[0]);
	c->hdr.object_id = object;
	c->hdr.method_id = method;
	c->hdr.num_attrs = nr_attrs;
	c->hdr.driver_id = driver_id;
	return ioctl(d->ctx->cmd_fd, RDMA_VERBS_IOCTL, c) ? errno : 0;
}

/*
 * UVERBS_METHOD_QUERY_MR of @mr by hand: 0 if the kernel ran it and gave
 * back the keys and length libibverbs knows, else the errno (EINVAL for
 * a driver id that is not the device's).
 */
static int raw_query_mr(struct rdma_dev *d, struct ibv_mr *mr,
			__u32 driver_id)
{
	__u32 lkey = 0, rkey = 0;
	__u64 length = 0;
	struct raw_cmd c = {};
	int ret;

	c.attrs[0] = raw_attr(UVERBS_ATTR_QUERY_MR_HANDLE, 0, mr->handle, true);
	c.attrs[1] = raw_attr(UVERBS_ATTR_QUERY_MR_RESP_LKEY, sizeof(lkey),
			      (uintptr_t)&lkey, true);
	c.attrs[2] = raw_attr(UVERBS_ATTR_QUERY_MR_RESP_RKEY, sizeof(rkey),
			      (uintptr_t)&rkey, true);
	c.attrs[3] = raw_attr(UVERBS_ATTR_QUERY_MR_RESP_LENGTH, sizeof(length),
			      (uintptr_t)&length, true);
	ret = raw_ioctl(d, &c, UVERBS_OBJECT_MR, UVERBS_METHOD_QUERY_MR, 4,
			driver_id);
	if (ret)
		return ret;
	return lkey == mr->lkey && rkey == mr->rkey && length == mr->length ?
	       0 : EBADMSG;
}

/*
 * UVERBS_METHOD_REG_DMABUF_MR by hand: 0 (the MR is destroyed again) or
 * the errno of the kernel.
 */
static int raw_reg_dmabuf_mr(struct rdma_dev *d, __u32 driver_id, int fd,
			     __u64 len, bool malformed)
{
	__u32 lkey = 0, rkey = 0;
	struct raw_cmd c = {};
	int ret;

	c.attrs[0] = raw_attr(UVERBS_ATTR_REG_DMABUF_MR_HANDLE, 0, 0, true);
	c.attrs[1] = raw_attr(UVERBS_ATTR_REG_DMABUF_MR_PD_HANDLE, 0,
			      d->pd->handle, true);
	c.attrs[2] = raw_attr(UVERBS_ATTR_REG_DMABUF_MR_OFFSET, 8, 0, true);
	c.attrs[3] = raw_attr(UVERBS_ATTR_REG_DMABUF_MR_LENGTH, 8, len, true);
	c.attrs[4] = raw_attr(UVERBS_ATTR_REG_DMABUF_MR_IOVA, 8, IOVA, true);
	/* A u32 inline; 8 bytes are malformed */
	c.attrs[5] = raw_attr(UVERBS_ATTR_REG_DMABUF_MR_FD,
			      malformed ? 8 : sizeof(__u32), (__u32)fd, true);
	c.attrs[6] = raw_attr(UVERBS_ATTR_REG_DMABUF_MR_ACCESS_FLAGS, 8,
			      ACCESS, true);
	c.attrs[7] = raw_attr(UVERBS_ATTR_REG_DMABUF_MR_RESP_LKEY,
			      sizeof(lkey), (uintptr_t)&lkey, true);
	c.attrs[8] = raw_attr(UVERBS_ATTR_REG_DMABUF_MR_RESP_RKEY,
			      sizeof(rkey), (uintptr_t)&rkey, true);
	ret = raw_ioctl(d, &c, UVERBS_OBJECT_MR, UVERBS_METHOD_REG_DMABUF_MR,
			9, driver_id);
	if (ret)
		return ret;

	/* The new MR's handle came back in the first attribute */
	c.attrs[0] = raw_attr(UVERBS_ATTR_DESTROY_MR_HANDLE, 0, c.attrs[0].data,
			      true);
	return raw_ioctl(d, &c, UVERBS_OBJECT_MR, UVERBS_METHOD_MR_DESTROY, 1,
			 driver_id) ? EBADMSG : 0;
}

static const char *raw_str(int err)
{
	return err ? strerror(err) : "success";
}

/* NCCL's probe: EOPNOTSUPP or EPROTONOSUPPORT means no dma-buf support */
static int nccl_probe(struct ibv_pd *pd)
{
	return reg_errno(pd, 0, 0, 0, -1, 0);
}

static bool nccl_unsupported(int probe)
{
	return probe == EOPNOTSUPP || probe == EPROTONOSUPPORT;
}

enum bad_fd { FD_DMABUF, FD_NONE, FD_NOT_DMABUF };

/* A registration that must fail */
struct bad_reg {
	const char *what;
	__u64 off, len, iova;
	enum bad_fd fd;
	int access;
	int err;	/* with dma-buf support (0: not "unsupported") */
};

static void check_bad_regs(struct __test_metadata *_metadata,
			   struct rdma_dev *d, int dmabuf, int not_dmabuf,
			   bool supported)
{
	/* Automatic: PAGE is the system's page size, known at run time */
	const struct bad_reg bad_regs[] = {
		{ "NCCL's probe (0, 0, 0, -1, 0)", 0, 0, 0, FD_NONE, 0, 0 },
		{ "fd -1", 0, DMABUF_LEN, IOVA, FD_NONE, ACCESS, EBADF },
		{ "fd of /dev/null", 0, DMABUF_LEN, IOVA, FD_NOT_DMABUF, ACCESS,
		  EINVAL },
		{ "offset at the end of the dma-buf", DMABUF_LEN, PAGE, IOVA,
		  FD_DMABUF, ACCESS, EINVAL },
		{ "offset + length beyond the dma-buf", PAGE, DMABUF_LEN, IOVA,
		  FD_DMABUF, ACCESS, EINVAL },
		{ "offset + length wrapping around", -PAGE, 2 * PAGE, IOVA,
		  FD_DMABUF, ACCESS, EINVAL },
		{ "length beyond the dma-buf", 0, DMABUF_LEN + PAGE, IOVA,
		  FD_DMABUF, ACCESS, EINVAL },
		{ "length 0", 0, 0, IOVA, FD_DMABUF, ACCESS, EINVAL },
		{ "offset and IOVA differing in the low 12 bits", 0, PAGE,
		  IOVA + 0x800, FD_DMABUF, ACCESS, EINVAL },
	};
	const struct bad_reg *b;
	unsigned int i;
	int fd, err;

	for (i = 0; i < ARRAY_SIZE(bad_regs); i++) {
		b = &bad_regs[i];
		fd = b->fd == FD_DMABUF ? dmabuf :
		     b->fd == FD_NOT_DMABUF ? not_dmabuf : -1;
		err = reg_errno(d->pd, b->off, b->len, b->iova, fd, b->access);
		if (!supported) {
			EXPECT_EQ(EOPNOTSUPP, err)
				TH_LOG("%s (no dma-buf support): %s: %s, not EOPNOTSUPP",
				       d->name, b->what, err_str(err));
		} else if (b->err) {
			EXPECT_EQ(b->err, err)
				TH_LOG("%s: %s gives %s, not %s", d->name,
				       b->what, err_str(err),
				       strerror(b->err));
		} else {
			EXPECT_FALSE(nccl_unsupported(err) || err == REG_OK)
				TH_LOG("%s supports dma-buf MRs, but %s gives %s",
				       d->name, b->what, err_str(err));
		}
	}
}

/*
 * Export DMABUF_LEN bytes of BAR2 at @off into *@range and *@dmabuf; open
 * a file that is not a dma-buf into *@not_dmabuf.
 */
static void dmabuf_open(struct __test_metadata *_metadata,
			struct dmabuf_env *e,
			struct vfio_region_dma_range *range, int *dmabuf,
			int *not_dmabuf, __u64 off)
{
	range->offset = off;
	range->length = DMABUF_LEN;
	*dmabuf = export1(e, off, DMABUF_LEN);
	ASSERT_LE(0, *dmabuf)
		TH_LOG("export of BAR2 [%#llx, +%#llx): %s",
		       (unsigned long long)off,
		       (unsigned long long)DMABUF_LEN, strerror(-*dmabuf));
	*not_dmabuf = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, *not_dmabuf);
}

FIXTURE_SETUP(ibv)
{
	struct timespec ts;

	self->dmabuf = -1;
	self->not_dmabuf = -1;
	self->d.gid_index = -1;
	if (access("/sys/class/infiniband_verbs", F_OK))
		SKIP(return, "no RDMA device (no uverbs in the kernel)");
	self->list = ibv_get_device_list(&self->nr);
	ASSERT_NE(NULL, self->list) TH_LOG("ibv_get_device_list: %s",
					   strerror(errno));
	if (!self->nr) {
		ibv_free_device_list(self->list);
		self->list = NULL;
		SKIP(return, "no RDMA device");
	}

	self->no_lab = env_open(_metadata, &self->env);
	clock_gettime(CLOCK_REALTIME, &ts);
	self->seed = self->no_lab ? ts.tv_nsec ^ getpid() << 8 :
		     self->env.seed;
}

FIXTURE_TEARDOWN(ibv)
{
	/* The MRs first: they hold the dma-buf */
	dev_close(_metadata, &self->d);
	if (self->dmabuf >= 0)
		close(self->dmabuf);
	if (self->not_dmabuf >= 0)
		close(self->not_dmabuf);
	if (self->list)
		ibv_free_device_list(self->list);
	env_close(&self->env);
}

TEST_F(ibv, no_dmabuf_support_is_eopnotsupp)
{
	struct dmabuf_env *e = &self->env;
	struct rdma_dev *d = &self->d;
	int i, err, probe;

	if (self->no_lab) {
		assert_not_in_lab(_metadata);
		SKIP(return, NO_LAB);
	}
	dmabuf_open(_metadata, e, &self->range, &self->dmabuf,
		    &self->not_dmabuf, 0);

	for (i = 0; i < self->nr; i++) {
		dev_open(_metadata, d, self->list[i]);
		err = reg_errno(d->pd, 0, DMABUF_LEN, IOVA, self->dmabuf,
				ACCESS);
		probe = nccl_probe(d->pd);
		if (nccl_unsupported(probe)) {
			EXPECT_EQ(EOPNOTSUPP, err)
				TH_LOG("%s: NCCL's probe: %s, BAR's registration: %s",
				       d->name, strerror(probe),
				       err_str(err));
			TH_LOG("%s: no dma-buf support: every call must say EOPNOTSUPP",
			       d->name);
			check_bad_regs(_metadata, d, self->dmabuf,
				       self->not_dmabuf, false);
		} else {
			if (e->p2p && err == EOPNOTSUPP) {
				/* efa, irdma, bnxt_re: pinned importers only */
				TH_LOG("%s: the BAR is refused (pinned importer?)",
				       d->name);
			} else if (e->p2p) {
				EXPECT_EQ(REG_OK, err)
					TH_LOG("%s: NCCL's probe: %s, BAR's registration: %s",
					       d->name, err_str(probe),
					       err_str(err));
			} else {
				EXPECT_EQ(EOPNOTSUPP, err)
					TH_LOG("%s: P2P refused: BAR's registration: %s",
					       d->name, err_str(err));
			}
			check_bad_regs(_metadata, d, self->dmabuf,
				       self->not_dmabuf, true);
		}
		dev_close(_metadata, d);
	}
}

/*
 * 6.12's drivers whose dma-buf MRs pin (ib_umem_dmabuf_get_pinned()), which
 * vfio-pci refuses: their NCCL probe says "supported", the BAR says no.
 */
static const char *const pinned_only[] = { "efa", "irdma", "bnxt_re" };

/* The kernel module of RDMA device @name, or "" */
static void rdma_module(const char *name, char *mod, size_t len)
{
	char path[PATH_MAX], target[PATH_MAX];
	const char *base;
	ssize_t n;

	snprintf(path, sizeof(path),
		 "/sys/class/infiniband/%s/device/driver/module", name);
	n = readlink(path, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = 0;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	mod[0] = 0;
	if (strlen(base) < len)
		memcpy(mod, base, strlen(base) + 1);
}

static bool is_pinned_only(const char *mod)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(pinned_only); i++)
		if (!strcmp(mod, pinned_only[i]))
			return true;
	return false;
}

/* A new QP (and CQ) in place of one that went to the error state */
static void qp_reconnect(struct __test_metadata *_metadata, struct rdma_dev *d)
{
	put(_metadata, d, "destroy QP", ibv_destroy_qp(d->qp));
	d->qp = NULL;
	put(_metadata, d, "destroy CQ", ibv_destroy_cq(d->cq));
	d->cq = NULL;
	qp_connect(_metadata, d);
}

/*
 * A revoke under an MR of the BAR: with memory decode off an RDMA WRITE
 * into @w completes in error and the BAR is untouched (the device's page
 * fault fails, its QP goes to the error state).  Decode on again: the MR
 * is still registered, and a new QP writes into it.
 */
static void revoke_write(struct __test_metadata *_metadata,
			 struct rdma_dev *d, const struct window *w,
			 unsigned int seed)
{
	uint8_t *src = d->buf, *before = d->peek;
	uint8_t *after = d->peek + XFER_MAX + 2 * GUARD;
	struct ibv_sge sge = {
		.addr = (uintptr_t)src, .length = PAGE, .lkey = d->buf_mr->lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = 1, .sg_list = &sge, .num_sge = 1,
		.opcode = IBV_WR_RDMA_WRITE, .send_flags = IBV_SEND_SIGNALED,
		.wr.rdma.remote_addr = w->addr, .wr.rdma.rkey = w->rkey,
	};
	struct ibv_send_wr *bad = NULL;
	struct ibv_wc wc;
	int ret;

	peek(_metadata, w, 0, before, PAGE);
	fill(src, PAGE, seed);
	ASSERT_EQ(0, set_memory(w->e, false));
	ret = ibv_post_send(d->qp, &wr, &bad);
	ASSERT_EQ(0, ret) TH_LOG("%s: post RDMA WRITE: %s", d->name,
				 strerror(ret));
	ret = poll_one(d->cq, &wc, CQ_WAIT_MS);
	ASSERT_EQ(0, set_memory(w->e, true));
	ASSERT_EQ(1, ret) TH_LOG("%s: RDMA WRITE while revoked: no completion in %d ms",
				 d->name, CQ_WAIT_MS);
	EXPECT_NE(IBV_WC_SUCCESS, wc.status)
		TH_LOG("%s: RDMA WRITE while memory decode was off succeeded",
		       d->name);
	TH_LOG("%s: RDMA WRITE while revoked: %s", d->name,
	       ibv_wc_status_str(wc.status));
	peek(_metadata, w, 0, after, PAGE);
	EXPECT_EQ(-1, first_diff(before, after, PAGE))
		TH_LOG("%s: the RDMA WRITE while revoked reached the BAR",
		       d->name);

	qp_reconnect(_metadata, d);
	loopback(_metadata, d, w, 0, PAGE, seed + 1);
}

TEST_F_TIMEOUT(ibv, write_into_bar, 120)
{
	struct dmabuf_env *e = &self->env;
	struct rdma_dev *d = &self->d;
	struct window w[2];
	char none[256] = "";
	int i, n = 0, err, probe;
	unsigned int seed;
	char mod[64];
	size_t len;

	if (self->no_lab) {
		assert_not_in_lab(_metadata);
		SKIP(return, NO_LAB);
	}
	if (!e->p2p)
		SKIP(return, "the topology refuses P2P (VFIO_DMABUF_EXPECT)");
	/* The end of the BAR: the dma-buf does not start at offset 0 */
	dmabuf_open(_metadata, e, &self->range, &self->dmabuf,
		    &self->not_dmabuf, e->bar_size - DMABUF_LEN);

	for (i = 0; i < self->nr; i++) {
		dev_open(_metadata, d, self->list[i]);
		/* Page aligned: 8 pages from dma-buf offset PAGE */
		errno = 0;
		d->target[0] = ibv_reg_dmabuf_mr(d->pd, PAGE, 8 * PAGE, IOVA,
						 self->dmabuf, ACCESS);
		err = errno;
		/*
		 * No dma-buf support, or only as a pinned importer, which
		 * vfio-pci refuses: neither can write into the BAR.  A device
		 * that says it supports dma-bufs and is not a known pinned
		 * importer must take the BAR.
		 */
		probe = nccl_probe(d->pd);
		rdma_module(d->name, mod, sizeof(mod));
		if (!d->target[0] && err == EOPNOTSUPP &&
		    !nccl_unsupported(probe))
			EXPECT_TRUE(is_pinned_only(mod))
				TH_LOG("%s (%s): dma-bufs supported (probe: %s), BAR refused",
				       d->name, mod[0] ? mod : "?",
				       err_str(probe));
		if (!d->target[0] && err == EOPNOTSUPP) {
			len = strlen(none);
			snprintf(none + len, sizeof(none) - len, "%s%s",
				 len ? ", " : "", d->name);
			dev_close(_metadata, d);
			continue;
		}
		ASSERT_NE(NULL, d->target[0])
			TH_LOG("%s: dma-buf MR of the BAR: %s", d->name,
			       strerror(err));
		/* One page at an unaligned offset: it spans two pages */
		d->target[1] = ibv_reg_dmabuf_mr(d->pd, 10 * PAGE + 0x800, PAGE,
						 IOVA2 + 0x800, self->dmabuf,
						 ACCESS);
		ASSERT_NE(NULL, d->target[1])
			TH_LOG("%s: dma-buf MR at offset %#llx: %s", d->name,
			       10 * PAGE + 0x800, strerror(errno));
		n++;

		qp_connect(_metadata, d);
		local_bufs(_metadata, d);
		w[0] = (struct window) {
			.what = "the aligned dma-buf MR", .addr = IOVA,
			.rkey = d->target[0]->rkey, .len = 8 * PAGE,
			.e = e, .r = &self->range, .dmabuf_off = PAGE,
		};
		w[1] = (struct window) {
			.what = "the unaligned dma-buf MR",
			.addr = IOVA2 + 0x800, .rkey = d->target[1]->rkey,
			.len = PAGE, .e = e, .r = &self->range,
			.dmabuf_off = 10 * PAGE + 0x800,
		};
		TH_LOG("%s: dma-buf support: RDMA loopback into the BAR",
		       d->name);
		seed = self->seed + i * 7919;
		loopbacks(_metadata, d, &w[0], seed);
		/* The whole unaligned MR */
		loopback(_metadata, d, &w[1], 0, PAGE, seed + 3);
		revoke_write(_metadata, d, &w[0], seed + 4);
		dev_close(_metadata, d);
	}
	if (!n)
		SKIP(return, "no RDMA device that can import the BAR: %s", none);
}

TEST_F(ibv, kernel_reg_dmabuf_mr)
{
	struct dmabuf_env *e = &self->env;
	struct rdma_dev *d = &self->d;
	int i, err, probe, driver_id;
	struct ibv_mr *mr;
	void *mem;

	if (self->no_lab) {
		assert_not_in_lab(_metadata);
		SKIP(return, NO_LAB);
	}
	dmabuf_open(_metadata, e, &self->range, &self->dmabuf,
		    &self->not_dmabuf, 0);
	mem = calloc(1, MEM_LEN);
	ASSERT_NE(NULL, mem);

	for (i = 0; i < self->nr; i++) {
		dev_open(_metadata, d, self->list[i]);
		mr = ibv_reg_mr(d->pd, mem, MEM_LEN, ACCESS);
		ASSERT_NE(NULL, mr) TH_LOG("%s: ibv_reg_mr: %s", d->name,
					   strerror(errno));

		/*
		 * The positive control: the hand-built ioctl queries an
		 * ordinary MR; only the device's own driver id is accepted.
		 */
		for (driver_id = 0; driver_id < 64; driver_id++) {
			err = raw_query_mr(d, mr, driver_id);
			if (err != EINVAL)
				break;
		}
		EXPECT_EQ(0, err)
			TH_LOG("%s: UVERBS_METHOD_QUERY_MR by hand: %s (driver id %d)",
			       d->name, strerror(err), driver_id);
		EXPECT_EQ(0, ibv_dereg_mr(mr));
		if (err) {
			dev_close(_metadata, d);
			continue;
		}

		/* The method's attributes are parsed before its handler runs */
		err = raw_reg_dmabuf_mr(d, driver_id, self->dmabuf, DMABUF_LEN,
					true);
		EXPECT_EQ(EINVAL, err)
			TH_LOG("%s: REG_DMABUF_MR with an 8-byte fd attribute: %s",
			       d->name, raw_str(err));

		err = raw_reg_dmabuf_mr(d, driver_id, self->dmabuf, DMABUF_LEN,
					false);
		probe = nccl_probe(d->pd);
		if (nccl_unsupported(probe)) {
			EXPECT_EQ(EOPNOTSUPP, err)
				TH_LOG("%s: libibverbs says %s, the kernel's REG_DMABUF_MR: %s",
				       d->name, strerror(probe), raw_str(err));
		} else if (e->p2p && err == EOPNOTSUPP) {
			TH_LOG("%s: the BAR is refused (pinned importer?)",
			       d->name);
		} else if (e->p2p) {
			EXPECT_EQ(0, err)
				TH_LOG("%s: the kernel's REG_DMABUF_MR: %s",
				       d->name, strerror(err));
		} else {
			EXPECT_EQ(EOPNOTSUPP, err)
				TH_LOG("%s: P2P refused: the kernel's REG_DMABUF_MR: %s",
				       d->name, raw_str(err));
		}
		dev_close(_metadata, d);
	}
	free(mem);
}

TEST_F_TIMEOUT(ibv, loopback_self_check, 120)
{
	struct rdma_dev *d = &self->d;
	struct window w;
	int i;

	for (i = 0; i < self->nr; i++) {
		dev_open(_metadata, d, self->list[i]);
		d->mem = aligned_alloc(PAGE, MEM_LEN);
		ASSERT_NE(NULL, d->mem);
		memset(d->mem, 0, MEM_LEN);
		d->target[0] = ibv_reg_mr(d->pd, d->mem, MEM_LEN, ACCESS);
		ASSERT_NE(NULL, d->target[0]) TH_LOG("%s: ibv_reg_mr: %s",
						     d->name, strerror(errno));
		qp_connect(_metadata, d);
		local_bufs(_metadata, d);
		w = (struct window) {
			.what = "an ordinary MR", .addr = (uintptr_t)d->mem,
			.rkey = d->target[0]->rkey, .len = MEM_LEN,
			.mem = d->mem,
		};
		loopbacks(_metadata, d, &w, self->seed + i * 7919);
		dev_close(_metadata, d);
	}
}

TEST_HARNESS_MAIN
