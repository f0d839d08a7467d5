/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The stand-in HCA through uverbs, for userspace: what libibverbs does for
 * ibv_open_device(), ibv_alloc_pd(), ibv_reg_dmabuf_mr() and
 * ibv_dereg_mr(), in raw ioctls, since rdma-core has no provider for
 * p2pdma_hca.  The calls return 0 or -errno.
 */
#ifndef _P2PDMA_HCA_VERBS_H
#define _P2PDMA_HCA_VERBS_H

#include <dirent.h>
#include <errno.h>
#include <assert.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <rdma/ib_user_ioctl_cmds.h>
#include <rdma/ib_user_ioctl_verbs.h>
#include <rdma/ib_user_verbs.h>
#include <rdma/rdma_user_ioctl_cmds.h>

#include "p2pdma_edu.h"

/* An open uverbs device of p2pdma_hca, with a PD */
struct p2pdma_hca_verbs {
	int fd;
	__u32 pd;
};

/**
 * struct p2pdma_hca_user_mr - a dma-buf MR registered through uverbs
 * @fd: dma-buf file descriptor
 * @offset: start of the MR in the dma-buf
 * @length: length of the MR
 * @iova: address of the MR's first byte for P2PDMA_EDU_MR_ACCESS
 * @pgsz_bitmap: P2PDMA_HCA_ATTR_REG_DMABUF_MR_PGSZ, if not 0
 * @flags: P2PDMA_HCA_ATTR_REG_DMABUF_MR_FLAGS, if not 0 (sent as a u64)
 * @access: IB_ACCESS_* flags
 * @handle: out: the lkey, for P2PDMA_EDU_MR_ACCESS and P2PDMA_EDU_MR_INFO
 * @rkey: out: the rkey
 * @uobj: out: the uverbs object handle, for deregistration
 * @page_size: out: as struct p2pdma_hca_mr_resp
 * @entries: out: as struct p2pdma_hca_mr_resp
 * @umem_pages: out: as struct p2pdma_hca_mr_resp
 */
struct p2pdma_hca_user_mr {
	int fd;
	__u64 offset;
	__u64 length;
	__u64 iova;
	__u64 pgsz_bitmap;
	__u32 flags;
	__u32 access;
	__u32 handle;
	__u32 rkey;
	__u32 uobj;
	__u64 page_size;
	__u64 entries;
	__u64 umem_pages;
};

#define P2PDMA_HCA_MAX_ATTRS	16

struct p2pdma_hca_ioctl {
	struct ib_uverbs_ioctl_hdr hdr;
	struct ib_uverbs_attr attrs[P2PDMA_HCA_MAX_ATTRS];
};

/*
 * An attribute: a pointer (to @len bytes), an object handle (@len 0), or
 * an input of up to 8 bytes, which is inline: its first @len bytes in
 * memory, as rdma-core's fill_attr_in() puts them.
 */
static inline struct ib_uverbs_attr *
p2pdma_hca_attr(struct p2pdma_hca_ioctl *c, __u16 id, __u16 len, __u64 data)
{
	struct ib_uverbs_attr *a;

	assert(c->hdr.num_attrs < P2PDMA_HCA_MAX_ATTRS);
	a = &c->attrs[c->hdr.num_attrs++];
	memset(a, 0, sizeof(*a));
	a->attr_id = id;
	a->len = len;
	a->data = data;
	return a;
}

static inline void p2pdma_hca_attr_u32(struct p2pdma_hca_ioctl *c, __u16 id,
				       __u32 v)
{
	memcpy(&p2pdma_hca_attr(c, id, sizeof(v), 0)->data, &v, sizeof(v));
}

static inline int p2pdma_hca_call(int fd, struct p2pdma_hca_ioctl *c,
				  __u16 object, __u16 method)
{
	c->hdr.object_id = object;
	c->hdr.method_id = method;
	c->hdr.length = sizeof(c->hdr) +
			c->hdr.num_attrs * sizeof(struct ib_uverbs_attr);
	return ioctl(fd, RDMA_VERBS_IOCTL, &c->hdr) ? -errno : 0;
}

/*
 * Open the uverbs device of the HCA on edu @bdf (the RDMA device whose
 * parent it is), make its user context and allocate a PD.
 */
static inline int p2pdma_hca_verbs_open(const char *bdf,
					struct p2pdma_hca_verbs *v)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_alloc_pd cmd;
	} pd = {
		.hdr.command = IB_USER_VERBS_CMD_ALLOC_PD,
		.hdr.in_words = sizeof(pd) / 4,
	};
	struct ib_uverbs_alloc_pd_resp pd_resp = {};
	struct p2pdma_hca_ioctl c = {};
	char path[PATH_MAX];
	struct dirent *d;
	int ret = -ENODEV;
	ssize_t n;
	DIR *dir;

	v->fd = -1;
	v->pd = 0;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/infiniband_verbs",
		 bdf);
	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		if (strncmp(d->d_name, "uverbs", 6))
			continue;
		snprintf(path, sizeof(path), "/dev/infiniband/%s", d->d_name);
		v->fd = open(path, O_RDWR | O_CLOEXEC);
		ret = v->fd < 0 ? -errno : 0;
		break;
	}
	closedir(dir);
	if (ret)
		return ret;

	ret = p2pdma_hca_call(v->fd, &c, UVERBS_OBJECT_DEVICE,
			      UVERBS_METHOD_GET_CONTEXT);
	if (ret)
		goto err;
	/*
	 * ALLOC_PD has no ioctl method in 6.12: libibverbs writes it too.
	 * uverbs takes write() only from the credentials that opened it.
	 */
	pd.hdr.out_words = sizeof(pd_resp) / 4;
	pd.cmd.response = (uintptr_t)&pd_resp;
	n = write(v->fd, &pd, sizeof(pd));
	if (n != sizeof(pd)) {
		ret = n < 0 ? -errno : -EIO;
		goto err;
	}
	v->pd = pd_resp.pd_handle;
	return 0;
err:
	close(v->fd);
	v->fd = -1;
	return ret;
}

static inline void p2pdma_hca_verbs_close(struct p2pdma_hca_verbs *v)
{
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

/* UVERBS_METHOD_REG_DMABUF_MR, as ibv_reg_dmabuf_mr() */
static inline int p2pdma_hca_reg_mr(const struct p2pdma_hca_verbs *v,
				    struct p2pdma_hca_user_mr *mr)
{
	struct p2pdma_hca_mr_resp resp = {};
	struct p2pdma_hca_ioctl c = {};
	struct ib_uverbs_attr *handle;
	int ret;

	handle = p2pdma_hca_attr(&c, UVERBS_ATTR_REG_DMABUF_MR_HANDLE, 0, 0);
	p2pdma_hca_attr(&c, UVERBS_ATTR_REG_DMABUF_MR_PD_HANDLE, 0, v->pd);
	p2pdma_hca_attr(&c, UVERBS_ATTR_REG_DMABUF_MR_OFFSET, 8, mr->offset);
	p2pdma_hca_attr(&c, UVERBS_ATTR_REG_DMABUF_MR_LENGTH, 8, mr->length);
	p2pdma_hca_attr(&c, UVERBS_ATTR_REG_DMABUF_MR_IOVA, 8, mr->iova);
	p2pdma_hca_attr_u32(&c, UVERBS_ATTR_REG_DMABUF_MR_FD, mr->fd);
	p2pdma_hca_attr(&c, UVERBS_ATTR_REG_DMABUF_MR_ACCESS_FLAGS, 8,
			mr->access);
	p2pdma_hca_attr(&c, UVERBS_ATTR_REG_DMABUF_MR_RESP_LKEY, 4,
			(uintptr_t)&mr->handle);
	p2pdma_hca_attr(&c, UVERBS_ATTR_REG_DMABUF_MR_RESP_RKEY, 4,
			(uintptr_t)&mr->rkey);
	if (mr->flags)
		p2pdma_hca_attr(&c, P2PDMA_HCA_ATTR_REG_DMABUF_MR_FLAGS, 8,
				mr->flags)->flags = UVERBS_ATTR_F_MANDATORY;
	if (mr->pgsz_bitmap)
		p2pdma_hca_attr(&c, P2PDMA_HCA_ATTR_REG_DMABUF_MR_PGSZ, 8,
				mr->pgsz_bitmap)->flags =
			UVERBS_ATTR_F_MANDATORY;
	p2pdma_hca_attr(&c, P2PDMA_HCA_ATTR_REG_DMABUF_MR_RESP, sizeof(resp),
			(uintptr_t)&resp)->flags = UVERBS_ATTR_F_MANDATORY;

	ret = p2pdma_hca_call(v->fd, &c, UVERBS_OBJECT_MR,
			      UVERBS_METHOD_REG_DMABUF_MR);
	if (ret)
		return ret;
	mr->uobj = handle->data;
	mr->page_size = resp.page_size;
	mr->entries = resp.entries;
	mr->umem_pages = resp.umem_pages;
	return 0;
}

/* UVERBS_METHOD_MR_DESTROY, as ibv_dereg_mr() */
static inline int p2pdma_hca_dereg_mr(const struct p2pdma_hca_verbs *v,
				      const struct p2pdma_hca_user_mr *mr)
{
	struct p2pdma_hca_ioctl c = {};

	p2pdma_hca_attr(&c, UVERBS_ATTR_DESTROY_MR_HANDLE, 0, mr->uobj);
	return p2pdma_hca_call(v->fd, &c, UVERBS_OBJECT_MR,
			       UVERBS_METHOD_MR_DESTROY);
}

#endif /* _P2PDMA_HCA_VERBS_H */
