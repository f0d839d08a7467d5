#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The vfio-pci dma-buf exporter in a lab topology, run inside the guest:
# the provider (ivshmem) and the reset device (two virtio-rng functions)
# are bound to vfio-pci, edu to the p2pdma_edu test module, which imports
# the dma-bufs, directly and as dma-buf MRs of its stand-in HCA; rxe over
# lo is the RDMA device for ibv_reg_dmabuf_mr().  Runs the vfio
# kselftests, then checks what only the kernel log and debugfs show:
# refused importers are logged once each, no dma-buf of vfio-pci is left
# behind, and everything unbinds.
. "$(dirname "$0")/lib.sh"

P=$LAB_PROVIDER
I=$LAB_IMPORTER
echo "TAP version 13"
# edu binds to p2pdma_edu by ID; the provider goes to vfio-pci
insmod "$LAB_MODS/p2pdma/src/module/p2pdma_edu.ko" && p2pdma_hca_load ||
	{ t_notok "insmod p2pdma_edu.ko p2pdma_hca.ko"; t_done; exit; }
vfio_bind_group "$P"
vfio_bind_group "$LAB_IODEV"
vfio_bind_group "$LAB_RESETDEV" ||
	t_notok "bind $LAB_RESETDEV and its group to vfio-pci"
# a vfio-pci-core variant driver that does not opt in to exporting
vfio_bind_group "$LAB_VARIANTDEV" virtio_vfio_pci ||
	t_notok "bind $LAB_VARIANTDEV to virtio_vfio_pci"
t_check "provider $P bound to vfio-pci, importer $I to p2pdma_edu" \
	eval '[ "$(basename "$(readlink -f "$(pci_sysfs "$P")/driver")")" = vfio-pci ] &&
	      [ "$(basename "$(readlink -f "$(pci_sysfs "$I")/driver")")" = p2pdma_edu ]'

# Soft RoCE over lo: an RDMA device without dma-buf support
ip link set lo up
rdma link add rxe0 type rxe netdev lo ||
	t_notok "rdma link add rxe0 type rxe netdev lo"

# A kselftest program and its options, its TAP lines folded into this
# script's and the program itself judged (t_ksft)
ksft() {
	local prog=$1 bin=$LAB_KSFT/vfio/$1

	case $prog in */*) bin=$LAB_KSFT/$prog; prog=${prog##*/} ;; esac
	shift
	VFIO_DMABUF_FUZZ_SEED=${LAB_FUZZ_SEED:-1} \
	VFIO_DMABUF_FUZZ_ITERS=${LAB_FUZZ_ITERS:-10000} \
	VFIO_DMABUF_STRESS_SECS=${LAB_STRESS_SECS:-10} \
	VFIO_DMABUF_STRESS_WORKERS=${LAB_STRESS_WORKERS:-4} \
	VFIO_DMABUF_PROVIDER=$P VFIO_DMABUF_IMPORTER=$I \
	VFIO_DMABUF_BAR_FILE=$LAB_BAR_FILE VFIO_DMABUF_EXPECT=$LAB_EXPECT \
	VFIO_DMABUF_IO_DEVICE=$LAB_IODEV \
	VFIO_DMABUF_VARIANT_DEVICE=$LAB_VARIANTDEV \
	VFIO_DMABUF_RESET_DEVICE=$LAB_RESETDEV \
	VFIO_DMABUF_RESET_EXPECT=$LAB_RESETDEV_EXPECT \
		t_ksft "$prog${1:+ $*}" "$bin" "$@"
}

dmesg -C
# the real hot-unplug needs a boot of lab/vm -P: lab/tests/hotplug.sh
ksft vfio_dmabuf_test -V hot_unplug
ksft vfio_dmabuf_reset_test
ksft vfio_dmabuf_mr_test
ksft vfio_dmabuf_fuzz -T faults
ksft vfio_dmabuf_stress
ksft vfio_dmabuf_ibv_test

# The example program of Documentation/userspace-api/vfio-dmabuf.rst
ex=$("$LAB_TESTS/vfio-dmabuf-example" "$P" 2 0x1000 0x200000 2>&1)
echo "$ex" | sed 's/^/# /'
t_check "the documentation's example exports 2 MiB at 0x1000 of BAR 2" \
	eval "echo \"\$ex\" | grep -q '^dma-buf fd [0-9]*: 2097152 bytes of BAR2 at offset 0x1000$'"
ex=$("$LAB_TESTS/vfio-dmabuf-example" "$P" 2 0x800 0x1000 2>&1)
t_check "the documentation's example reports EINVAL for an unaligned range" \
	eval "echo \"\$ex\" | grep -qx 'VFIO_DEVICE_FEATURE_DMA_BUF: Invalid argument'"
# Last: an allocation failure injected by the kernel's fault injection can
# hit the debug tools' own, and DMA-API debug turns itself off on one.
# What follows only reads the log and debugfs, and unloads.
ksft vfio_dmabuf_fuzz -t faults
log=$(dmesg)
echo "$log" | grep -E 'dma-buf|cannot DMA|DMAR' | sed 's/^\[[ 0-9.]*\] //' |
	sort | uniq -c | sed 's/^/# /'

t_check "a static importer is refused with a log line naming it" \
	eval "echo \"\$log\" | grep -q 'vfio-pci $P: dma-buf of BAR 2: $I cannot attach: only dynamic peer-to-peer importers can'"
t_check "a pin by a non-revocable importer is refused with a log line" \
	eval "echo \"\$log\" | grep -q 'vfio-pci $P: dma-buf of BAR 2: $I cannot pin: the importer cannot be revoked'"
t_check "a sub-page BAR is refused with a log line" \
	eval "echo \"\$log\" | grep -q 'vfio-pci $P: dma-buf: BAR 0 is smaller than a page: no range fits'"
t_check "a BAR that is not implemented is refused with a log line" \
	eval "echo \"\$log\" | grep -q 'vfio-pci $P: dma-buf: BAR 1 is not implemented'"
t_check "an I/O port BAR is refused with a log line" \
	eval "echo \"\$log\" | grep -q 'vfio-pci $LAB_IODEV: dma-buf: BAR 1 is not a memory BAR'"
t_check "a BAR claimed by another driver is refused with a log line" \
	eval "echo \"\$log\" | grep -q 'vfio-pci $P: dma-buf: cannot claim BAR 2 (-16)'"
t_check "a non-PCI importer is refused with a log line naming it" \
	eval "echo \"\$log\" | grep -q 'vfio-pci $P: dma-buf of BAR 2: p2pdma_edu cannot map: it is not a PCI device'"
if [ "$LAB_EXPECT" != not-supported ]; then
	t_check "an importer that unmaps late is named in the log" \
		eval "echo \"\$log\" | grep -q 'vfio-pci $P: dma-buf of BAR 2: $I has not unmapped 1 s after the revoke; waiting for it'"
fi
t_check "a fence that does not signal is named in the log" \
	eval "echo \"\$log\" | grep -q 'vfio-pci $P: dma-buf of BAR 2: fence sw_sync:[^ ]* not signalled 10000 ms after the revoke; revoking without it'"
if [ "$LAB_EXPECT" = host-bridge ] && ! grep -qw iommu=pt /proc/cmdline; then
	t_check "the vIOMMU blocked edu's DMA to a revoked IOVA" \
		eval "echo \"\$log\" | grep -q 'DMAR:.*${I#0000:}.*fault addr'"
fi
if [ "$LAB_EXPECT" = not-supported ]; then
	t_check "the topology refusal names both devices" \
		eval "echo \"\$log\" | grep -q 'p2pdma_edu $I: cannot DMA to $P: the path crosses a host bridge without P2P support (-EOPNOTSUPP)'"
fi
t_check "the RDMA core names an exporter that maps short" \
	eval "echo \"\$log\" | grep -q 'p2pdma_edu $I p2pdma_hca[0-9]*: p2pdma_edu dma-buf mapping covers 32768 bytes, the umem ends at 40960'"
t_check "the RDMA core saw no move_notify on a pinned umem" \
	eval "! echo \"\$log\" | grep -q 'should not be called when memory is pinned'"
t_check "no vfio-pci dma-buf is left in debugfs" \
	eval "! grep -q vfio-pci /sys/kernel/debug/dma_buf/bufinfo"
t_check "p2pdma_edu unbinds and unloads" rmmod p2pdma_hca p2pdma_edu

# A VMM's view: edu and the provider both on vfio-pci, opened through
# their cdevs into one iommufd IOAS, the BAR mapped by IOMMU_IOAS_MAP_FILE
# and edu driven from userspace through its own BAR
vfio_bind_group "$I" || t_notok "bind $I and its group to vfio-pci"
dmesg -C
# (its hot-unplug variant needs a boot of lab/vm -P: lab/tests/hotplug.sh)
ksft iommu/iommufd_dmabuf -V hot_unplug
log=$(dmesg)
echo "$log" | grep -E 'dma-buf|cannot DMA|DMAR' | sed 's/^\[[ 0-9.]*\] //' |
	sort | uniq -c | sed 's/^/# /'
if [ "$LAB_EXPECT" = not-supported ]; then
	t_check "iommufd's refusal names the provider and the host bridge" \
		eval "echo \"\$log\" | grep -q 'misc iommu: cannot DMA to $P: the path crosses a host bridge without P2P support (-EOPNOTSUPP)'"
else
	t_check "the vIOMMU blocked edu's DMA to a revoked MAP_FILE IOVA" \
		eval "echo \"\$log\" | grep -q 'DMAR:.*${I#0000:}.*fault addr 0x100000000'"
fi
vfio_unbind "$I"
rdma link delete rxe0
vfio_unbind "$P"
vfio_unbind "$LAB_IODEV"
vfio_unbind "$LAB_RESETDEV"
vfio_unbind "${LAB_RESETDEV%.0}.1"
t_done
