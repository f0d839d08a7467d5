#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The pgmap-based P2PDMA still works for its users after the series split
# P2P providers from P2P memory: an NVMe controller memory buffer (CMB) is
# published as P2P memory, and O_DIRECT reads and writes move data between
# another NVMe controller's namespace and that memory, checked against the
# namespace's backing file on the host.  The two controllers are on root
# ports of pcie.0 (lab/vm), so the path crosses the host bridge: allowed
# with the AMD CPU of the switch, rootports and hostbridges topologies,
# refused with EREMOTEIO, the memory untouched, with the Intel CPU of
# blocked.
. "$(dirname "$0")/lib.sh"

LEN=$((1024 * 1024))

# nvme_by_serial SERIAL: the PCI address of the controller
nvme_by_serial() {
	local c

	for c in /sys/class/nvme/nvme*; do
		[ "$(tr -d ' ' < "$c/serial")" = "$1" ] &&
			basename "$(readlink -f "$c/device")"
	done
}

# io MODE OFFSET: one nvme_p2p run, judged against the topology
io() {
	local out rc

	out=$("$LAB_TESTS/nvme_p2p" "$1" "$blk" "$cmb/p2pmem/allocate" \
	      "$LAB_NVME_IMAGE" "$2" $LEN)
	rc=$?
	echo "$out" | sed 's/^/# /'
	if [ "$LAB_EXPECT" = not-supported ]; then
		[ $rc = 2 ] && grep -qx 'errno EREMOTEIO' <<< "$out"
	else
		[ $rc = 0 ]
	fi
}

t_plan 6
ns=$(nvme_by_serial lab-ns)
cp=$(nvme_by_serial lab-cmb)
t_check "two NVMe controllers: namespace on ${ns:-?}, CMB on ${cp:-?}" \
	[ -n "$ns" -a -n "$cp" ]
cmb=$(pci_sysfs "$cp")
ctrl=$(basename "$(ls -d "$(pci_sysfs "$ns")"/nvme/nvme* | head -n 1)")
blk=/dev/${ctrl}n1
echo "# $blk; CMB: $(cat "$cmb/p2pmem/size" 2>/dev/null) bytes of P2P memory"
t_check "the CMB of $cp is published P2P memory" \
	[ "$(cat "$cmb/p2pmem/published" 2>/dev/null)" = 1 ]
avail=$(cat "$cmb/p2pmem/available" 2>/dev/null)

if [ "$LAB_EXPECT" = not-supported ]; then
	what="refused with EREMOTEIO, P2P memory untouched"
else
	what="data checked against the host's backing file"
fi
t_check "O_DIRECT read from $blk into the CMB: $what" io read 0x100000
t_check "O_DIRECT write from the CMB to $blk: $what" io write 0x400000
t_check "the P2P memory went back to the pool" \
	[ "$(cat "$cmb/p2pmem/available")" = "$avail" ]
t_check "the namespace still reads from host memory" \
	dd if="$blk" of=/dev/null bs=4096 count=16 iflag=direct status=none
t_done
