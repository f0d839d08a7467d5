// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency stress of the vfio-pci dma-buf exporter, in the lab of
 * vfio_dmabuf_test (same environment variables).
 *
 * Workers export ranges of their own slice of BAR2, import them into edu
 * through a p2pdma_edu file of their own, map, unmap, DMA and close, at
 * random, while revokers turn memory decode off and on through the config
 * space and reset the device.  Every call must give a result the uAPI
 * documents; every DMA that succeeds must be in the BAR, checked in the
 * host file.  With the stand-in HCA, workers also register dma-buf MRs
 * through uverbs, RDMA-write into them on a QP of their own and
 * deregister them, racing the same revokes: a write completes or fails
 * with the fault's ENODEV only when a revoke may have come between, and
 * then the QP is in error and replaced.  Variants run the workers as
 * threads or as processes, and
 * unbind vfio-pci from the device half-way through.  Afterwards no
 * dma-buf or attachment of vfio-pci may be left, and the device must
 * still work.  The kernel's lockdep, KASAN and hung task detector watch
 * from the inside.
 *
 *   VFIO_DMABUF_STRESS_SECS     seconds per test (default 10, at most 3000)
 *   VFIO_DMABUF_STRESS_WORKERS  importing workers (default 4, at most 16)
 */
#include "vfio_dmabuf_util.h"

#include <pthread.h>
#include <sys/prctl.h>

#define MAX_WORKERS	16
#define W_BUFS		3
#define W_IMPS		4
#define W_MRS		2
#define DMA_LEN		64

enum stress_op {
	OP_EXPORT, OP_IMPORT, OP_MAP, OP_DMA, OP_UNMAP, OP_CLOSE_IMPORT,
	OP_CLOSE_BUF, OP_REG_MR, OP_MR_WRITE, OP_DEREG_MR, OP_NR
};

static const char op_name[OP_NR][16] = {
	"export", "import", "map", "DMA", "unmap", "close import",
	"close dma-buf", "reg MR", "MR write", "dereg MR",
};

/* What needs a P2P path to be done at least once */
static bool needs_p2p(unsigned int op)
{
	return op == OP_MAP || op == OP_DMA || op >= OP_REG_MR;
}

/* How a call ended */
enum result { RES_OK, RES_REVOKED, RES_REFUSED, RES_NR };

/* Shared by every worker and revoker; in MAP_SHARED memory */
struct stress {
	struct dmabuf_env *e;
	int stop;
	int dying;			/* unbind under way: ENODEV is fine */
	int gone;			/* unbind done: no map or DMA works */
	int revoking;			/* decode off or a reset under way */
	unsigned long revokes;		/* changes of @revoking */
	int devnull;			/* stands for the closed device fd */
	unsigned int workers;
	__u64 slice;			/* bytes of BAR2 per worker */
	unsigned long calls[OP_NR][RES_NR];
	unsigned long toggles, resets, resets_busy;
	unsigned long bad;		/* results the uAPI does not give */
	unsigned long lost;		/* DMA said done, data not in BAR */
	char first_bad[256];
};

struct worker {
	struct stress *st;
	/* its own p2pdma_edu file; its own HCA files and QP, if any */
	struct dmabuf_env e;
	pthread_t thread;
	bool started;			/* the thread, until joined */
	pid_t pid;			/* the process, until reaped */
	unsigned int id;
	__u64 rnd;
	int bufs[W_BUFS];
	struct vfio_region_dma_range r[W_BUFS];
	struct {
		bool used;
		__u32 h;
		/* of its dma-buf: the slot may hold a newer one */
		struct vfio_region_dma_range r;
	} imps[W_IMPS];
	struct {
		bool used;
		struct p2pdma_hca_user_mr mr;
		struct vfio_region_dma_range r;
	} mrs[W_MRS];
};

static unsigned int env_uint(const char *name, unsigned int def,
			     unsigned int max)
{
	const char *s = getenv(name);
	unsigned long v = s ? strtoul(s, NULL, 0) : def;

	return v && v <= max ? v : def;
}

static __u64 w_rnd(struct worker *w)
{
	return xorshift64s(&w->rnd);
}

static __u64 w_below(struct worker *w, __u64 n)
{
	return n ? w_rnd(w) % n : 0;
}

static bool stopped(struct stress *st)
{
	return __atomic_load_n(&st->stop, __ATOMIC_ACQUIRE);
}

static bool dying(struct stress *st)
{
	return __atomic_load_n(&st->dying, __ATOMIC_ACQUIRE);
}

static bool gone(struct stress *st)
{
	return __atomic_load_n(&st->gone, __ATOMIC_ACQUIRE);
}

static void revoking(struct stress *st, int d)
{
	__atomic_fetch_add(&st->revoking, d, __ATOMIC_SEQ_CST);
	__atomic_fetch_add(&st->revokes, 1, __ATOMIC_SEQ_CST);
}

/*
 * Whether the BAR may have been revoked at some moment after @gen was read
 * from st->revokes: a revoke is under way, or one began or ended since.
 */
static bool revoked_since(struct stress *st, unsigned long gen)
{
	return __atomic_load_n(&st->revoking, __ATOMIC_SEQ_CST) ||
	       __atomic_load_n(&st->revokes, __ATOMIC_SEQ_CST) != gen;
}

/* Count the result of @op; a result outside @ok is a failure. */
static void tally(struct stress *st, enum stress_op op, int ret, bool ok)
{
	enum result res = !ret ? RES_OK : ret == -ENODEV ? RES_REVOKED :
		       RES_REFUSED;

	__atomic_fetch_add(&st->calls[op][res], 1, __ATOMIC_RELAXED);
	if (ok)
		return;
	if (!__atomic_fetch_add(&st->bad, 1, __ATOMIC_RELAXED))
		snprintf(st->first_bad, sizeof(st->first_bad),
			 "%s returned %d (%s)%s", op_name[op], ret,
			 strerror(-ret), dying(st) ? " while unbinding" : "");
}

/*
 * What a map or a DMA may return: done (not if it started after the
 * unbind completed), revoked, or refused by the topology
 */
static bool map_result(struct worker *w, int ret, bool after_unbind)
{
	if (!ret)
		return !after_unbind;
	return ret == -ENODEV || ret == map_ok(&w->e);
}

static void w_export(struct worker *w, unsigned int b)
{
	struct stress *st = w->st;
	__u64 pages = st->slice / PAGE;
	int fd;

	w->r[b].length = PAGE * (1 + w_below(w, pages < 8 ? pages : 8));
	w->r[b].offset = st->slice * w->id +
			 PAGE * w_below(w, pages - w->r[b].length / PAGE + 1);
	fd = export_bar(&w->e, BAR, O_RDWR | O_CLOEXEC, &w->r[b], 1);
	/* once the device is gone: ENODEV, or ENOTTY from /dev/null */
	tally(st, OP_EXPORT, fd < 0 ? fd : 0,
	      fd >= 0 || (dying(st) && (fd == -ENODEV || fd == -ENOTTY)));
	w->bufs[b] = fd < 0 ? -1 : fd;
	if (fd < 0 && dying(st))
		usleep(1000);
}

/* A DMA of random bytes at a random place of import @i */
static void w_dma(struct worker *w, unsigned int i)
{
	struct vfio_region_dma_range *r = &w->imps[i].r;
	__u64 off = w_below(w, r->length / DMA_LEN) * DMA_LEN;
	uint8_t data[DMA_LEN], back[DMA_LEN];
	bool after = gone(w->st);
	int ret;

	fill(data, sizeof(data), (__u32)w_rnd(w));
	ret = imp_dma(&w->e, w->imps[i].h, 1, off, data, sizeof(data));
	tally(w->st, OP_DMA, ret, map_result(w, ret, after));
	if (ret)
		return;
	/* Done means in the BAR, whatever revocation came after it */
	if (pread(w->e.bar_fd, back, sizeof(back), r->offset + off) !=
	    sizeof(back) || memcmp(data, back, sizeof(back)))
		__atomic_fetch_add(&w->st->lost, 1, __ATOMIC_RELAXED);
}

/*
 * An RDMA write of random bytes at a random place of MR @m.  A write that
 * completes in error left the QP in error: the fault's errno is the
 * result, and a new QP takes over.
 */
static void w_mr_write(struct worker *w, unsigned int m)
{
	struct p2pdma_hca_user_mr *mr = &w->mrs[m].mr;
	__u64 off = w_below(w, mr->length / DMA_LEN) * DMA_LEN;
	uint8_t data[DMA_LEN], back[DMA_LEN];
	struct p2pdma_edu_mr_access a = {
		.handle = mr->handle, .write = 1, .iova = mr->iova + off,
		.length = DMA_LEN, .user_buf = (uintptr_t)data, .qp = w->e.qp,
	};
	struct p2pdma_edu_qp_info q = { .handle = w->e.qp };
	struct stress *st = w->st;
	unsigned long gen;
	int ret, was;

	fill(data, sizeof(data), (__u32)w_rnd(w));
	gen = __atomic_load_n(&st->revokes, __ATOMIC_SEQ_CST);
	was = __atomic_load_n(&st->revoking, __ATOMIC_SEQ_CST);
	ret = ioctl(w->e.hca, P2PDMA_EDU_MR_ACCESS, &a) ? -errno : 0;
	if (ret == -EIO) {
		ret = ioctl(w->e.hca, P2PDMA_EDU_QP_INFO, &q) ? -errno :
		      -q.last_error;
		ioctl(w->e.hca, P2PDMA_EDU_DESTROY_QP, &w->e.qp);
		if (ioctl(w->e.hca, P2PDMA_EDU_CREATE_QP, &w->e.qp))
			w->e.qp = 0;
	}
	/* The fault maps again: it fails only if a revoke came between */
	tally(st, OP_MR_WRITE, ret, !ret ||
	      (ret == -ENODEV && (was || revoked_since(st, gen) ||
				  dying(st))));
	if (ret)
		return;
	if (pread(w->e.bar_fd, back, sizeof(back), w->mrs[m].r.offset + off) !=
	    sizeof(back) || memcmp(data, back, sizeof(back)))
		__atomic_fetch_add(&st->lost, 1, __ATOMIC_RELAXED);
}

/* Register, write into or deregister an MR on the worker's dma-bufs */
static void w_mr_step(struct worker *w)
{
	unsigned int op = w_below(w, 100), b = w_below(w, W_BUFS);
	unsigned int m = w_below(w, W_MRS);
	struct stress *st = w->st;
	unsigned long gen;
	int ret, was;

	if (!w->mrs[m].used) {
		if (op >= 30 || w->bufs[b] < 0)
			return;
		gen = __atomic_load_n(&st->revokes, __ATOMIC_SEQ_CST);
		was = __atomic_load_n(&st->revoking, __ATOMIC_SEQ_CST);
		/* Maps up front, as mlx5: a revoke or the topology refuses */
		ret = mr_reg(&w->e, w->bufs[b], 0, w->r[b].length, 0, 0, 0,
			     &w->mrs[m].mr);
		tally(st, OP_REG_MR, ret, !ret || ret == map_ok(&w->e) ||
		      (ret == -ENODEV && (was || revoked_since(st, gen) ||
					  dying(st))));
		w->mrs[m].used = !ret;
		w->mrs[m].r = w->r[b];
	} else if (op < 90) {
		if (w->e.qp)
			w_mr_write(w, m);
	} else {
		ret = mr_dereg(&w->e, &w->mrs[m].mr);
		tally(st, OP_DEREG_MR, ret, !ret);
		w->mrs[m].used = false;
	}
}

static void w_step(struct worker *w)
{
	unsigned int op = w_below(w, 100), b = w_below(w, W_BUFS);
	unsigned int i = w_below(w, W_IMPS);
	struct stress *st = w->st;
	unsigned long gen;
	int ret, was;

	if (w->e.hca >= 0 && !w_below(w, 4)) {
		w_mr_step(w);
		return;
	}
	if (op < 12) {
		if (w->bufs[b] < 0)
			w_export(w, b);
	} else if (op < 30) {
		if (w->bufs[b] < 0 || w->imps[i].used)
			return;
		gen = __atomic_load_n(&st->revokes, __ATOMIC_SEQ_CST);
		was = __atomic_load_n(&st->revoking, __ATOMIC_SEQ_CST);
		ret = imp_import(&w->e, w->bufs[b], 0, &w->imps[i].h, NULL);
		/* a revoked dma-buf takes no importer, a usable one does */
		tally(st, OP_IMPORT, ret, !ret ||
		      (ret == -ENODEV && (was || revoked_since(st, gen) ||
					  dying(st))));
		w->imps[i].used = !ret;
		w->imps[i].r = w->r[b];
	} else if (!w->imps[i].used) {
		return;
	} else if (op < 50) {
		bool after = gone(st);

		ret = imp_map_ret(&w->e, w->imps[i].h);
		tally(st, OP_MAP, ret, map_result(w, ret, after));
	} else if (op < 80) {
		w_dma(w, i);
	} else if (op < 88) {
		ret = ioctl(w->e.edu, P2PDMA_EDU_IMPORT_UNMAP, &w->imps[i].h) ?
		      -errno : 0;
		tally(st, OP_UNMAP, ret, !ret);
	} else if (op < 94) {
		ret = imp_close(&w->e, w->imps[i].h);
		tally(st, OP_CLOSE_IMPORT, ret, !ret);
		w->imps[i].used = false;
	} else {
		/* The imports keep the dma-buf; the slot gets a new one */
		if (w->bufs[b] < 0)
			return;
		ret = close(w->bufs[b]) ? -errno : 0;
		tally(st, OP_CLOSE_BUF, ret, !ret);
		w->bufs[b] = -1;
	}
}

static void *w_run(void *arg)
{
	struct worker *w = arg;
	unsigned int i;
	int ret;

	while (!stopped(w->st))
		w_step(w);
	for (i = 0; i < W_MRS; i++) {
		if (!w->mrs[i].used)
			continue;
		ret = mr_dereg(&w->e, &w->mrs[i].mr);
		tally(w->st, OP_DEREG_MR, ret, !ret);
	}
	p2pdma_hca_verbs_close(&w->e.uv);
	if (w->e.hca >= 0)
		close(w->e.hca);
	for (i = 0; i < W_IMPS; i++)
		if (w->imps[i].used)
			tally(w->st, OP_CLOSE_IMPORT,
			      imp_close(&w->e, w->imps[i].h), true);
	for (i = 0; i < W_BUFS; i++)
		if (w->bufs[i] >= 0)
			close(w->bufs[i]);
	close(w->e.edu);
	return NULL;
}

/* Memory decode off and on through the config space, as a VMM does */
static void *toggler(void *arg)
{
	struct stress *st = arg;
	unsigned int n = 0;
	int ret;

	while (!stopped(st) && !dying(st)) {
		/* @revoking covers every moment the BAR may be revoked */
		if (!(n & 1))
			revoking(st, 1);
		ret = set_memory(st->e, n & 1);
		if (n++ & 1)
			revoking(st, -1);
		if (ret && !__atomic_fetch_add(&st->bad, 1, __ATOMIC_RELAXED))
			snprintf(st->first_bad, sizeof(st->first_bad),
				 "config write: %s", strerror(-ret));
		__atomic_fetch_add(&st->toggles, 1, __ATOMIC_RELAXED);
		usleep(n & 1 ? 500 : 3000);
	}
	return NULL;
}

/* VFIO_DEVICE_RESET: revokes, resets, restores */
static void *resetter(void *arg)
{
	struct stress *st = arg;
	int ret;

	if (!(st->e->dev_flags & VFIO_DEVICE_FLAGS_RESET))
		return NULL;
	while (!stopped(st) && !dying(st)) {
		revoking(st, 1);
		ret = ioctl(st->e->device, VFIO_DEVICE_RESET) ? -errno : 0;
		revoking(st, -1);
		/* pci_try_reset_function() does not wait for the lock */
		if (ret == -EAGAIN)
			__atomic_fetch_add(&st->resets_busy, 1,
					   __ATOMIC_RELAXED);
		else if (ret &&
			 !__atomic_fetch_add(&st->bad, 1, __ATOMIC_RELAXED))
			snprintf(st->first_bad, sizeof(st->first_bad),
				 "VFIO_DEVICE_RESET: %s", strerror(-ret));
		__atomic_fetch_add(&st->resets, 1, __ATOMIC_RELAXED);
		usleep(20000);
	}
	return NULL;
}

struct unbind_job {
	const char *bdf;
	int ret;
	struct timespec done;
};

static void *unbinder(void *arg)
{
	struct unbind_job *u = arg;

	u->ret = unbind_driver(u->bdf);
	clock_gettime(CLOCK_MONOTONIC, &u->done);
	return NULL;
}

static double since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec - t0->tv_sec + (t.tv_nsec - t0->tv_nsec) / 1e9;
}

FIXTURE(stress)
{
	struct dmabuf_env e;
	struct stress *st;
	struct worker w[MAX_WORKERS];
	int skip;
};

FIXTURE_VARIANT(stress)
{
	bool processes;
	bool unbind;
};

FIXTURE_VARIANT_ADD(stress, threads) {
	.processes = false,
};

FIXTURE_VARIANT_ADD(stress, processes) {
	.processes = true,
};

FIXTURE_VARIANT_ADD(stress, unbind) {
	.unbind = true,
};

FIXTURE_SETUP(stress)
{
	memset(self->w, 0, sizeof(self->w));
	self->st = MAP_FAILED;
	self->skip = env_open(_metadata, &self->e);
	if (self->skip) {
		assert_not_in_lab(_metadata);
		SKIP(return, NO_LAB);
	}
	self->st = mmap(NULL, sizeof(*self->st), PROT_READ | PROT_WRITE,
			MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->st);
	self->st->e = &self->e;
	self->st->workers = env_uint("VFIO_DMABUF_STRESS_WORKERS", 4,
				     MAX_WORKERS);
	self->st->slice = self->e.bar_size / self->st->workers & ~(PAGE - 1);
	self->st->devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->st->devnull);
}

FIXTURE_TEARDOWN(stress)
{
	unsigned int i;
	char drv[64];

	if (self->skip)
		return;
	/* After a failed assertion: no worker may hold the device */
	if (self->st != MAP_FAILED) {
		__atomic_store_n(&self->st->stop, 1, __ATOMIC_RELEASE);
		for (i = 0; i < MAX_WORKERS; i++) {
			if (self->w[i].pid > 0)
				waitpid(self->w[i].pid, NULL, 0);
			else if (self->w[i].started)
				pthread_join(self->w[i].thread, NULL);
		}
	}
	env_close(&self->e);
	if (self->st != MAP_FAILED) {
		close(self->st->devnull);
		munmap(self->st, sizeof(*self->st));
	}
	pci_driver(self->e.bdf, drv, sizeof(drv));
	if (!drv[0] && bind_vfio_pci(self->e.bdf))
		TH_LOG("could not bind %s to vfio-pci again", self->e.bdf);
}

static void start_worker(struct __test_metadata *_metadata,
			 struct stress *st, struct worker *w, unsigned int id,
			 bool process)
{
	unsigned int i;

	memset(w, 0, sizeof(*w));
	w->st = st;
	w->id = id;
	w->rnd = (st->e->seed + id) * 0x9e3779b97f4a7c15ULL | 1;
	w->e = *st->e;
	for (i = 0; i < W_BUFS; i++)
		w->bufs[i] = -1;
	w->e.edu = open(P2PDMA_EDU_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, w->e.edu);
	w->e.uv.fd = -1;
	if (st->e->hca >= 0) {
		w->e.hca = open(P2PDMA_HCA_DEV, O_RDWR | O_CLOEXEC);
		ASSERT_LE(0, w->e.hca);
		ASSERT_EQ(0, ioctl(w->e.hca, P2PDMA_EDU_CREATE_QP, &w->e.qp));
		ASSERT_EQ(0, p2pdma_hca_verbs_open(w->e.importer_bdf, &w->e.uv));
	}
	if (!process) {
		ASSERT_EQ(0, pthread_create(&w->thread, NULL, w_run, w));
		w->started = true;
		return;
	}
	w->pid = fork();
	ASSERT_LE(0, w->pid);
	if (!w->pid) {
		/* and never outlive the test, whatever happens to it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		w_run(w);
		_exit(0);
	}
	close(w->e.edu);
	p2pdma_hca_verbs_close(&w->e.uv);
	if (w->e.hca >= 0)
		close(w->e.hca);
}

static void stop_worker(struct __test_metadata *_metadata, struct worker *w)
{
	int st;

	if (!w->pid) {
		ASSERT_EQ(0, pthread_join(w->thread, NULL));
		w->started = false;
		return;
	}
	ASSERT_EQ(w->pid, waitpid(w->pid, &st, 0));
	w->pid = 0;
	EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st))
		TH_LOG("worker %u: status %#x", w->id, st);
}

/* After the stress: a new export of BAR2 works, DMA included */
static void still_works(struct __test_metadata *_metadata,
			struct dmabuf_env *e)
{
	uint8_t data[DMA_LEN], back[DMA_LEN];
	__u32 h = 0;
	int fd;

	ASSERT_EQ(0, set_memory(e, true));
	fd = export1(e, 0, PAGE);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, imp_import(e, fd, 0, &h, NULL));
	fill(data, sizeof(data), e->seed);
	ASSERT_EQ(map_ok(e), imp_dma(e, h, 1, 0, data, sizeof(data)));
	if (e->p2p) {
		ASSERT_EQ(sizeof(back), pread(e->bar_fd, back, sizeof(back), 0));
		EXPECT_EQ(0, memcmp(data, back, sizeof(back)));
	}
	EXPECT_EQ(0, imp_close(e, h));
	close(fd);
}

TEST_F_TIMEOUT(stress, race, 3600)
{
	/* well within the test's timeout */
	unsigned int secs = env_uint("VFIO_DMABUF_STRESS_SECS", 10, 3000);
	unsigned int i, j, bufs0, att0, att;
	struct stress *st = self->st;
	struct dmabuf_env *e = &self->e;
	pthread_t tog, rst, unb;
	struct unbind_job u = { .bdf = e->bdf, .ret = 1 };
	struct timespec t0;
	unsigned long total = 0;
	double unbind_at = 0;

	bufs0 = vfio_dmabufs(&att0);
	ASSERT_LE(0, (int)bufs0) TH_LOG("no dma_buf/bufinfo in debugfs");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < st->workers; i++)
		start_worker(_metadata, st, &self->w[i], i, variant->processes);
	ASSERT_EQ(0, pthread_create(&tog, NULL, toggler, st));
	ASSERT_EQ(0, pthread_create(&rst, NULL, resetter, st));

	if (variant->unbind) {
		sleep(secs / 2);
		/* vfio-pci revokes, then waits for the device fd */
		__atomic_store_n(&st->dying, 1, __ATOMIC_RELEASE);
		ASSERT_EQ(0, pthread_join(tog, NULL));
		ASSERT_EQ(0, pthread_join(rst, NULL));
		unbind_at = since(&t0);
		ASSERT_EQ(0, pthread_create(&unb, NULL, unbinder, &u));
		sleep(1);
		/* The user lets go: in-flight calls finish on the old file */
		ASSERT_LE(0, dup3(st->devnull, e->device, O_CLOEXEC));
		ASSERT_EQ(0, pthread_join(unb, NULL));
		__atomic_store_n(&st->gone, 1, __ATOMIC_RELEASE);
		EXPECT_EQ(0, u.ret) TH_LOG("unbind: %s", strerror(-u.ret));
		TH_LOG("unbind took %.1f s, 1 s of it with the device fd open",
		       u.done.tv_sec - t0.tv_sec +
		       (u.done.tv_nsec - t0.tv_nsec) / 1e9 - unbind_at);
	}
	while (since(&t0) < secs)
		usleep(100000);
	__atomic_store_n(&st->stop, 1, __ATOMIC_RELEASE);
	if (!variant->unbind) {
		ASSERT_EQ(0, pthread_join(tog, NULL));
		ASSERT_EQ(0, pthread_join(rst, NULL));
	}
	for (i = 0; i < st->workers; i++)
		stop_worker(_metadata, &self->w[i]);

	for (i = 0; i < OP_NR; i++) {
		TH_LOG("%-14s %7lu done, %7lu revoked, %7lu refused",
		       op_name[i], st->calls[i][RES_OK],
		       st->calls[i][RES_REVOKED], st->calls[i][RES_REFUSED]);
		for (j = 0; j < RES_NR; j++)
			total += st->calls[i][j];
	}
	TH_LOG("%lu calls by %u %s in %.1f s; %lu memory toggles, %lu resets (%lu busy)",
	       total, st->workers, variant->processes ? "processes" : "threads",
	       since(&t0), st->toggles, st->resets, st->resets_busy);
	EXPECT_EQ(0, st->bad) TH_LOG("first: %s", st->first_bad);
	EXPECT_EQ(0, st->lost) TH_LOG("DMAs reported done but not in the BAR");
	/* Every kind of call ran, and revocation raced with the importers */
	for (i = 0; i < OP_NR; i++)
		if ((e->p2p || !needs_p2p(i)) && (e->hca >= 0 || i < OP_REG_MR))
			EXPECT_NE(0, st->calls[i][RES_OK])
				TH_LOG("no %s done", op_name[i]);
	if (e->p2p)
		EXPECT_NE(0, st->calls[OP_DMA][RES_REVOKED]);
	/* The BAR is off for a part of every toggle: of 50 writes some meet it */
	for (i = 0, j = 0; i < RES_NR; i++)
		j += st->calls[OP_MR_WRITE][i];
	if (e->p2p && j >= 50)
		EXPECT_NE(0, st->calls[OP_MR_WRITE][RES_REVOKED])
			TH_LOG("no MR write met a revoke");
	EXPECT_LT(0, st->toggles);

	/* Nothing left behind */
	EXPECT_EQ(bufs0, vfio_dmabufs(&att));
	EXPECT_EQ(att0, att);
	if (!variant->unbind)
		still_works(_metadata, e);
}

TEST_HARNESS_MAIN
