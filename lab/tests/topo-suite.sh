#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Everything make check runs in one boot of a topology: the built-in KUnit
# results if asked (--kunit), the lab self-test (stock vfio), dma_map_p2p()
# with the p2pdma_edu module, then the vfio-pci dma-buf exporter with
# p2pdma_edu as importer, and a smoke run of the benchmarks where the
# topology allows P2P.  Booting once per topology rather than once per
# suite keeps make check short.
. "$(dirname "$0")/lib.sh"
dir=$(dirname "$0")
rc=0
[ "${1:-}" = --kunit ] && { "$dir/kunit.sh" || rc=1; }
"$dir/topology.sh" || rc=1
"$dir/nvme-cmb.sh" || rc=1
# hand the devices from vfio-pci to the test module
vfio_unbind "$LAB_PROVIDER"
vfio_unbind "$LAB_IMPORTER"
"$dir/p2pdma.sh" || rc=1
"$dir/vfio-dmabuf.sh" || rc=1
# the benchmarks at tiny sizes, so that make bench cannot rot
[ "$LAB_EXPECT" = not-supported ] || "$dir/bench.sh" --smoke || rc=1
exit $rc
