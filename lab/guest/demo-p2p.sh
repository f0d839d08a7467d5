#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Guest side of 'make demo': one dma_map_p2p() + edu DMA, checked on the host side.
. "$LAB_REPO/lab/tests/lib.sh"
p2pdma_edu_load "$LAB_PROVIDER" || exit 1
"$LAB_TESTS/p2p_demo" "$LAB_PROVIDER" "$LAB_IMPORTER" "$LAB_BAR_FILE"
rc=$?
rmmod p2pdma_edu
exit $rc
