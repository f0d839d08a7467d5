#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of 'make demo'.
. "$LAB_REPO/lab/tests/lib.sh"
P=$LAB_PROVIDER
I=$LAB_IMPORTER
echo "== topology '$LAB_TOPOLOGY' =="
lspci -tv
echo
printf '%-9s %-14s %-10s %-12s %s\n' role device id iommu-group parent
printf '%-9s %-14s %-10s %-12s %s\n' provider "$P" "$(pci_id "$P")" "$(pci_group "$P")" "$(pci_parent "$P")"
printf '%-9s %-14s %-10s %-12s %s\n' importer "$I" "$(pci_id "$I")" "$(pci_group "$I")" "$(pci_parent "$I")"
echo "CPU: $(awk -F': ' '/^vendor_id/ {v=$2} /^cpu family/ {f=$2} END {print v, "family", f}' /proc/cpuinfo)"
echo "host bridge: $(pci_id 0000:00:00.0)"
echo "provider BAR2: $(sed -n 3p "$(pci_sysfs "$P")/resource")  ($LAB_BAR_SIZE bytes, host file $LAB_HOST_RUN/ivshmem.bin)"
echo
echo "== a P2P DMA through the IOMMU with stock vfio =="
vfio_bind_group "$P" && vfio_bind_group "$I"
"$LAB_TESTS/vfio_p2p_dma" "$P" "$I" "$LAB_BAR_FILE" 0x2000
