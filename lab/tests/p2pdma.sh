#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# dma_map_p2p() in a lab topology, run inside the guest: load the
# p2pdma_edu test module, bind the provider (ivshmem) and the importer
# (edu) to it, run the p2pdma kselftests, then check what only the kernel
# log shows: refusals are logged once with both devices and the reason,
# the vIOMMU saw the blocked DMA, and the module unloads cleanly.
. "$(dirname "$0")/lib.sh"

P=$LAB_PROVIDER
I=$LAB_IMPORTER
echo "TAP version 13"
p2pdma_edu_load "$P" || { t_notok "insmod p2pdma_edu.ko"; t_done; exit; }
t_check "provider $P and importer $I bound to p2pdma_edu" \
	eval '[ "$(basename "$(readlink -f "$(pci_sysfs "$P")/driver")")" = p2pdma_edu ] &&
	      [ "$(basename "$(readlink -f "$(pci_sysfs "$I")/driver")")" = p2pdma_edu ]'

dmesg -C
P2PDMA_PROVIDER=$P P2PDMA_IMPORTER=$I P2PDMA_BAR_FILE=$LAB_BAR_FILE \
P2PDMA_EXPECT=$LAB_EXPECT t_ksft p2pdma_edu_test "$LAB_KSFT/p2pdma/p2pdma_edu_test"
log=$(dmesg)
echo "$log" | grep -E 'cannot DMA|DMAR' | sed 's/^/# /'

t_check "a non-PCI importer is refused with one line naming both devices" \
	eval "echo \"\$log\" | grep -q 'p2pdma_edu: cannot DMA to $P: not a PCI device (-ENODEV)'"
translated=1
grep -qw iommu=pt /proc/cmdline && translated=0
case $LAB_EXPECT in
not-supported)
	t_check "the refusal names both devices and the host bridge" \
		eval "echo \"\$log\" | grep -q 'p2pdma_edu $I: cannot DMA to $P: the path crosses a host bridge without P2P support (-EOPNOTSUPP)'" ;;
host-bridge)
	if [ $translated = 1 ]; then
		t_check "the vIOMMU blocked the DMA to the unmapped address" \
			eval "echo \"\$log\" | grep -q 'DMAR:.*${I#0000:}.*fault addr'"
	else
		t_check "identity-mapped importer: no IOMMU fault at all" \
			eval "! echo \"\$log\" | grep -q 'DMAR:.*fault'"
	fi ;;
bus-address)
	t_check "bus-address DMA needed no IOMMU translation (no DMAR fault)" \
		eval "! echo \"\$log\" | grep -q 'DMAR:.*fault'" ;;
esac
# without an IOMMU a BAR above the mask cannot be reached (dma_mask test)
if [ "$LAB_EXPECT" = bus-address ] ||
   { [ "$LAB_EXPECT" = host-bridge ] && [ $translated = 0 ]; }; then
	t_check "a too small DMA mask is refused with one log line" \
		eval "echo \"\$log\" | grep -q 'p2pdma_edu $I: cannot DMA to $P: address beyond the device.s DMA mask (-ERANGE)'"
fi
t_check "p2pdma_edu unbinds and unloads" rmmod p2pdma_edu
echo > "$(pci_sysfs "$P")/driver_override"
t_done
