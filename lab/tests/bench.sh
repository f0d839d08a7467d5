#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The benchmarks of one topology in one boot, run inside the guest (by
# lab/bench, and by make check with --smoke): mapping and the memory of
# pci_p2pdma_add_resource() with the provider bound to p2pdma_edu, then
# registration, revocation and the memory of an export with the provider
# bound to vfio-pci.  Prints the Markdown rows of vfio_dmabuf_bench and
# TAP: one result per mode, ok when its count targets are met (times are
# only printed).
#
# LAB_BENCH_MODES   modes to run (default: map p2pmem reg refault revoke
#                   export vmm)
# LAB_BENCH_SIZES   sizes of map and reg (default: 4K,2M,64M,1G and the
#                   BAR's size)
# LAB_BENCH_REFAULT sizes of refault (default: 64M,1G and the BAR's size)
# LAB_BENCH_MEM     size for p2pmem (default 1G)
# LAB_BENCH_EXPORT  sizes for export and vmm (default: 1G and the BAR's
#                   size)
# LAB_BENCH_PAGES   largest size of the per-page baseline (default 1G)
# LAB_BENCH_COUNTS  importers for revoke, areas for vmm (default 1,16,256)
# LAB_BENCH_RUNS    timed runs per measurement (default 11; where two
#                   methods take turns, rounded up to whole pairs)
# LAB_BENCH_BUDGET  no new run of a measurement after this many seconds
#                   (default 30; the per-page 1 GiB baseline takes ~1 s
#                   on the release kernel, ~10 s on the debug kernel)
# LAB_BENCH_HEADER  1: print the table header first
. "$(dirname "$0")/lib.sh"

P=$LAB_PROVIDER
I=$LAB_IMPORTER
modes=${LAB_BENCH_MODES:-map p2pmem reg refault revoke export vmm}
sizes=${LAB_BENCH_SIZES:-4K,2M,64M,1G,$((LAB_BAR_SIZE / 1048576))M}
refaults=${LAB_BENCH_REFAULT:-64M,1G,$((LAB_BAR_SIZE / 1048576))M}
mem=${LAB_BENCH_MEM:-1G}
exports=${LAB_BENCH_EXPORT:-1G,$((LAB_BAR_SIZE / 1048576))M}
pages=${LAB_BENCH_PAGES:-1G}
counts=${LAB_BENCH_COUNTS:-1,16,256}
runs=${LAB_BENCH_RUNS:-11}
budget=${LAB_BENCH_BUDGET:-30}
name=$LAB_TOPOLOGY
grep -qw iommu=pt /proc/cmdline && name="$name, iommu=pt"
if [ "${1:-}" = --smoke ]; then
	# 256 importers of one BAR range: on the debug kernel, DMA-API debug
	# must not take their mappings of MMIO for overlapping cachelines
	sizes=4K,2M mem=2M exports=2M pages=2M counts=1,256 runs=3 budget=5
	refaults=2M
fi

# One mode; its table rows go to stdout, anything else becomes a comment.
bench() {
	local mode=$1 out rc
	shift
	out=$("$LAB_KSFT/vfio/vfio_dmabuf_bench" -p "$P" -i "$I" -t "$name" \
		-r "$runs" -b "$((budget * 1000))" -P "$pages" -n "$counts" \
		"$@" "$mode" 2>&1)
	rc=$?
	grep '^|' <<< "$out"
	grep -v '^|' <<< "$out" | sed 's/^/# /'
	if [ $rc = 0 ]; then t_ok "bench: $mode"; else t_notok "bench: $mode"; fi
}

has() { [[ " $modes " == *" $1 "* ]]; }

echo "TAP version 13"
[ "${LAB_BENCH_HEADER:-0}" = 1 ] &&
	"$LAB_KSFT/vfio/vfio_dmabuf_bench" -p "$P" -i "$I" -H ||
	true
p2pdma_edu_load "$P" && p2pdma_hca_load ||
	{ t_notok "insmod p2pdma_edu.ko p2pdma_hca.ko"; t_done; exit; }
has map && bench map -s "$sizes"
# Last with p2pdma_edu: the struct pages stay until the provider unbinds
has p2pmem && bench p2pmem -s "$mem"
echo "$P" > "$(pci_sysfs "$P")/driver/unbind"
echo > "$(pci_sysfs "$P")/driver_override"

if has reg || has refault || has revoke || has export || has vmm; then
	vfio_bind_group "$P" || t_notok "bind $P to vfio-pci"
	has reg && bench reg -s "$sizes"
	has refault && bench refault -s "$refaults"
	has revoke && bench revoke -s 2M
	has export && bench export -s "$exports"
	has vmm && bench vmm -s "$exports"
	vfio_unbind "$P"
fi
t_check "no vfio-pci dma-buf is left in debugfs" \
	eval "! grep -q vfio-pci /sys/kernel/debug/dma_buf/bufinfo"
t_check "p2pdma_edu unloads" rmmod p2pdma_hca p2pdma_edu
t_done
