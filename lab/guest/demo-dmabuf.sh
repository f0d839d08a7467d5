#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of 'make demo': the vfio-pci dma-buf exporter, step by step.
. "$LAB_REPO/lab/tests/lib.sh"
insmod "$LAB_MODS/p2pdma/src/module/p2pdma_edu.ko" || exit
p2pdma_hca_load || exit
vfio_bind_group "$LAB_PROVIDER" || exit
"$LAB_TESTS/vfio_dmabuf_demo" "$LAB_PROVIDER" "$LAB_IMPORTER" "$LAB_BAR_FILE"
rc=$?
rmmod p2pdma_hca p2pdma_edu
vfio_unbind "$LAB_PROVIDER"
exit $rc
