#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of 'make demo': one dma_map_p2p() + edu DMA, checked on the host side.
. "$LAB_REPO/lab/tests/lib.sh"
insmod "$LAB_MODS/p2pdma/src/module/p2pdma_edu.ko" || exit 1
echo p2pdma_edu > "$(pci_sysfs "$LAB_PROVIDER")/driver_override"
echo "$LAB_PROVIDER" > /sys/bus/pci/drivers_probe
"$LAB_TESTS/p2p_demo" "$LAB_PROVIDER" "$LAB_IMPORTER" "$LAB_BAR_FILE"
rc=$?
rmmod p2pdma_edu
exit $rc
