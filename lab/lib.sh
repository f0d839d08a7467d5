# SPDX-License-Identifier: GPL-2.0
# Common settings for the lab scripts.  Sourced, never executed.
#
# Everything that is expensive to recreate (the unpacked base tree, the
# object directory, ccache) lives outside the repository under $LAB_HOME so
# that every clone of the repository on this machine shares it.

LAB_REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The pinned base: Debian's linux-source-6.12 package at this version.
LAB_BASE_PKG=linux-source-6.12
LAB_BASE_VER=${LAB_BASE_VER:-6.12.117-1~deb12u1}
LAB_BASE_TAR=/usr/src/linux-source-6.12.tar.xz

LAB_HOME=${LAB_HOME:-/var/lib/p2p-lab}
LAB_KEY=$(printf '%s' "$LAB_BASE_VER" | tr '~' '_')
# LAB_FLAVOR=release: the same tree without the debug options
# (lab/kconfig/release.config), for make bench's timing, with its own
# objects, test modules and test programs; ccache is shared.
LAB_FLAVOR=${LAB_FLAVOR:-debug}
case $LAB_FLAVOR in
debug)	lab_sfx= ;;
release) lab_sfx=-release ;;
*)	echo "[lab] error: LAB_FLAVOR is debug or release, not '$LAB_FLAVOR'" >&2
	exit 1 ;;
esac
LAB_SRC=$LAB_HOME/$LAB_KEY/src          # base tree + overlay + patches
LAB_OUT=$LAB_HOME/$LAB_KEY/out$lab_sfx  # kernel object tree (make O=)
LAB_KSFT=$LAB_HOME/$LAB_KEY/selftests$lab_sfx   # selftests build output
LAB_RUNS=${LAB_RUNS:-$LAB_HOME/runs}    # VM run directories (logs, BAR files)
export CCACHE_DIR=${CCACHE_DIR:-/var/cache/p2p-lab/ccache}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-8G}
LAB_JOBS=${LAB_JOBS:-$(nproc)}
LAB_KIMAGE=$LAB_OUT/arch/x86/boot/bzImage

# kselftest directories built for the lab (DIR/PROG: that program only;
# Debian's 6.12 selftests/iommu/iommufd.c does not build against 6.12's
# own uAPI headers), and test modules built against the lab kernel
# (directories in the synced tree, built out of tree).
LAB_KSFT_TARGETS="p2pdma vfio iommu/iommufd_dmabuf"
# The programs the lab runs: lab/build fails if one of them is not built
# (or older than its source), rather than the tests quietly not running.
LAB_KSFT_PROGS="p2pdma/p2pdma_edu_test vfio/vfio_dmabuf_test
	vfio/vfio_dmabuf_reset_test
	vfio/vfio_dmabuf_mr_test vfio/vfio_dmabuf_fuzz vfio/vfio_dmabuf_stress
	vfio/vfio_dmabuf_ibv_test vfio/vfio_dmabuf_bench iommu/iommufd_dmabuf"
LAB_TEST_MODULES="tools/testing/selftests/p2pdma/module"
LAB_MODS=$LAB_HOME/$LAB_KEY/modules$lab_sfx
LAB_TESTS=$LAB_HOME/$LAB_KEY/labtests$lab_sfx     # lab/tests programs
LAB_SERIES_TREE=$LAB_HOME/$LAB_KEY/series-tree  # commits of make series
LAB_SERIES_OUT=$LAB_HOME/$LAB_KEY/series-out    # objects of make series-check
LAB_SERIES=${LAB_SERIES:-$LAB_HOME/series}      # make series output

# Debian packages the lab needs on the host.
LAB_PACKAGES="build-essential flex bison bc libelf-dev libssl-dev ccache
	ocaml-nox ocaml-findlib python3-ply python3-git
	sparse coccinelle qemu-system-x86 busybox-static rdma-core
	ibverbs-utils libibverbs-dev pciutils kmod cpio xz-utils python3
	rsync iproute2 git python3-sphinx python3-yaml linux-config-6.12"
# Debian's kernel config, for the README's "using this on your kernel"
LAB_DEBIAN_CONFIG=/usr/src/linux-config-6.12/config.amd64_none_amd64.xz

lab_say()  { printf '[lab] %s\n' "$*"; }
lab_die()  { printf '[lab] error: %s\n' "$*" >&2; exit 1; }

lab_kmake() {
	make -C "$LAB_SRC" O="$LAB_OUT" -j"$LAB_JOBS" \
		CC="ccache gcc" HOSTCC="ccache gcc" "$@"
}
