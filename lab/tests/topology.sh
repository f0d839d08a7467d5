#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Lab self-test, run inside a lab guest: the topology is what lab/vm claims,
# and a real P2P DMA (edu -> ivshmem BAR through the vIOMMU, set up with
# stock vfio only) lands in the host backing file.
. "$(dirname "$0")/lib.sh"

P=$LAB_PROVIDER
I=$LAB_IMPORTER
t_plan 9

t_check "provider $P is ivshmem (1af4:1110)" [ "$(pci_id "$P")" = 1af4:1110 ]
t_check "importer $I is edu (1234:11e8)" [ "$(pci_id "$I")" = 1234:11e8 ]
t_check "a VT-d IOMMU is active" [ -e /sys/class/iommu/dmar0 ]
read -r bar_start bar_end _ < <(sed -n 3p "$(pci_sysfs "$P")/resource")
t_check "BAR2 of the provider is $LAB_BAR_SIZE bytes" \
	[ $((bar_end - bar_start + 1)) = "$LAB_BAR_SIZE" ]

vendor=$(awk -F': ' '/^vendor_id/ {print $2; exit}' /proc/cpuinfo)
family=$(awk -F': ' '/^cpu family/ {print $2; exit}' /proc/cpuinfo)
pp=$(pci_parent "$P")
ip=$(pci_parent "$I")
echo "# provider parent $pp, importer parent $ip, CPU $vendor family $family"
echo "# IOMMU groups: provider $(pci_group "$P"), importer $(pci_group "$I")"
case $LAB_TOPOLOGY in
switch)
	pu=$(basename "$(dirname "$(readlink -f "$(pci_sysfs "$pp")")")")
	iu=$(basename "$(dirname "$(readlink -f "$(pci_sysfs "$ip")")")")
	t_check "both below one x3130 switch upstream port ($pu)" \
		[ "$pu" = "$iu" -a "$(pci_id "$pu")" = 104c:8232 ]
	t_check "no ACS on the switch downstream ports" \
		eval '! pci_has_acs "$pp" && ! pci_has_acs "$ip"' ;;
rootports|blocked)
	t_check "on two root ports of host bridge pci0000:00, ACS redirect on both" \
		eval '[ "$pp" != "$ip" -a "$(pci_parent "$pp")" = pci0000:00 -a \
			"$(pci_parent "$ip")" = pci0000:00 ] &&
		      pci_acs_redir "$pp" && pci_acs_redir "$ip"' 
	if [ "$LAB_TOPOLOGY" = rootports ]; then
		t_check "AMD family 0x17 CPU" [ "$vendor" = AuthenticAMD -a "$family" = 23 ]
	else
		t_check "Intel CPU, q35 host bridge 8086:29c0" \
			[ "$vendor" = GenuineIntel -a "$(pci_id 0000:00:00.0)" = 8086:29c0 ]
	fi ;;
hostbridges)
	t_check "importer below a second host bridge" \
		[ "$(pci_parent "$ip")" = pci0000:80 -a "$(pci_parent "$pp")" = pci0000:00 ]
	t_check "separate IOMMU groups" [ "$(pci_group "$P")" != "$(pci_group "$I")" ] ;;
*)
	t_notok "unknown topology $LAB_TOPOLOGY"; t_notok "unknown topology" ;;
esac

t_check "provider and importer bound to vfio-pci" \
	eval 'vfio_bind_group "$P" && vfio_bind_group "$I"'
dmesg -C
"$LAB_TESTS/vfio_p2p_dma" "$P" "$I" "$LAB_BAR_FILE" 0x2000 | sed 's/^/# /'
t_check "P2P DMA through the IOMMU lands in the host backing file" \
	[ "${PIPESTATUS[0]}" = 0 ]
t_check "the vIOMMU reported the blocked DMA" \
	eval "dmesg | grep -q 'DMAR:.*${I#0000:}.*fault addr 0x4000[0-9a-f]*'"
t_done
