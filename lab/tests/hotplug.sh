#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The provider leaves the bus while its dma-bufs are in use, in a boot of
# lab/vm -P (pciehp owns the slots, the guest reaches QEMU's monitor): the
# unplug tests of vfio_dmabuf_test, with a removal through sysfs and a real
# PCIe hot-unplug (device_del: QEMU presses the slot's attention button),
# each followed by the device coming back; then the hot-unplug of the BAR
# while an iommufd IOAS maps it (iommufd_dmabuf).  Then what only the
# kernel shows: no vfio-pci dma-buf left behind, and everything unbinds.
. "$(dirname "$0")/lib.sh"

P=$LAB_PROVIDER
I=$LAB_IMPORTER
Q=$LAB_REPO/lab/tests/lab-qmp
echo "TAP version 13"
[ -d "${LAB_QMP:-}" ] ||
	{ t_notok "QMP relay present (boot with lab/vm -P)"; t_done; exit; }
insmod "$LAB_MODS/p2pdma/src/module/p2pdma_edu.ko" ||
	{ t_notok "insmod p2pdma_edu.ko"; t_done; exit; }
vfio_bind_group "$P"
# pciehp registers the slot: its address is the provider's bus
t_check "provider $P bound to vfio-pci, in a hotplug slot" \
	eval '[ "$(basename "$(readlink -f "$(pci_sysfs "$P")/driver")")" = vfio-pci ] &&
	      grep -qx "${P%.*}" /sys/bus/pci/slots/*/address'

VFIO_DMABUF_UNPLUG_CMD="'$Q' device_del provider >/dev/null" \
VFIO_DMABUF_REPLUG_CMD="'$Q' wait-event DEVICE_DELETED provider 60 >/dev/null &&
			'$Q' add-provider >/dev/null" \
VFIO_DMABUF_PROVIDER=$P VFIO_DMABUF_IMPORTER=$I \
VFIO_DMABUF_BAR_FILE=$LAB_BAR_FILE VFIO_DMABUF_EXPECT=$LAB_EXPECT \
	t_ksft "vfio_dmabuf_test -f unplug" "$LAB_KSFT/vfio/vfio_dmabuf_test" -f unplug

t_check "p2pdma_edu unbinds and unloads" rmmod p2pdma_edu

# A VMM's view: the BAR mapped into an iommufd IOAS by IOMMU_IOAS_MAP_FILE,
# edu (now on vfio-pci too) DMAing to it, when the slot is emptied
vfio_bind_group "$I" || t_notok "bind $I and its group to vfio-pci"
# (the unplug returns once the guest ejected the device, as a removal
# through sysfs does: after the VMM let go of it)
VFIO_DMABUF_UNPLUG_CMD="'$Q' device_del provider >/dev/null &&
			'$Q' wait-event DEVICE_DELETED provider 120 >/dev/null" \
VFIO_DMABUF_REPLUG_CMD="'$Q' add-provider >/dev/null" \
VFIO_DMABUF_PROVIDER=$P VFIO_DMABUF_IMPORTER=$I \
VFIO_DMABUF_BAR_FILE=$LAB_BAR_FILE VFIO_DMABUF_EXPECT=$LAB_EXPECT \
	t_ksft "iommufd_dmabuf -v hot_unplug" "$LAB_KSFT/iommu/iommufd_dmabuf" \
		-v hot_unplug

dmesg | grep -E 'pciehp: Slot|vfio-pci|dma-buf' | sed 's/^\[[ 0-9.]*\] //' |
	sort | uniq -c | sed 's/^/# /'
t_check "the provider is back, bound to vfio-pci" \
	eval '[ "$(basename "$(readlink -f "$(pci_sysfs "$P")/driver")")" = vfio-pci ]'
t_check "no vfio-pci dma-buf is left in debugfs" \
	eval "[ -r /sys/kernel/debug/dma_buf/bufinfo ] &&
	      ! grep -q vfio-pci /sys/kernel/debug/dma_buf/bufinfo"
vfio_unbind "$I"
vfio_unbind "$P"
t_done
