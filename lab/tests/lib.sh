# SPDX-License-Identifier: GPL-2.0
# Helpers for guest-side lab tests (sourced).  Output is TAP.

T_NUM=0
T_FAIL=0

t_plan() { echo "TAP version 13"; echo "1..$1"; }
t_ok() {
	T_NUM=$((T_NUM + 1))
	echo "ok $T_NUM $*"
}
t_notok() {
	T_NUM=$((T_NUM + 1))
	T_FAIL=$((T_FAIL + 1))
	echo "not ok $T_NUM $*"
}
# t_check "description" command...: ok if the command succeeds
t_check() {
	local d=$1
	shift
	if "$@"; then t_ok "$d"; else t_notok "$d"; fi
}
t_done() {
	echo "# $((T_NUM - T_FAIL)) passed, $T_FAIL failed"
	[ $T_FAIL = 0 ]
}

pci_sysfs() { echo "/sys/bus/pci/devices/$1"; }
pci_id() { echo "$(cut -c3- < "$(pci_sysfs "$1")/vendor"):$(cut -c3- < "$(pci_sysfs "$1")/device")"; }
pci_parent() { basename "$(dirname "$(readlink -f "$(pci_sysfs "$1")")")"; }
pci_group() { basename "$(readlink -f "$(pci_sysfs "$1")/iommu_group")"; }

pci_has_acs() { lspci -vvv -s "$1" 2>/dev/null | grep -q 'Access Control Services'; }
pci_acs_redir() { lspci -vvv -s "$1" 2>/dev/null | grep -q 'ACSCtl:.*ReqRedir+'; }

# Bind every endpoint of the device's IOMMU group to vfio-pci.
vfio_bind_group() {
	local d dev cls
	for d in "$(pci_sysfs "$1")"/iommu_group/devices/*; do
		dev=$(basename "$d")
		cls=$(cat "$d/class")
		case $cls in 0x0604*) continue ;; esac	# bridges stay with pcieport
		[ "$(basename "$(readlink -f "$d/driver" 2>/dev/null)")" = vfio-pci ] && continue
		echo vfio-pci > "$d/driver_override"
		[ -e "$d/driver" ] && echo "$dev" > "$d/driver/unbind"
		echo "$dev" > /sys/bus/pci/drivers_probe
	done
	[ "$(basename "$(readlink -f "$(pci_sysfs "$1")/driver")")" = vfio-pci ]
}

# Load p2pdma_edu.ko (it binds edu by ID) and bind provider $1 to it.
p2pdma_edu_load() {
	insmod "$LAB_MODS/p2pdma/src/module/p2pdma_edu.ko" || return
	echo p2pdma_edu > "$(pci_sysfs "$1")/driver_override"
	echo "$1" > /sys/bus/pci/drivers_probe
}

vfio_unbind() {
	local d
	d=$(pci_sysfs "$1")
	[ -e "$d/driver" ] && echo "$1" > "$d/driver/unbind"
	echo > "$d/driver_override"
}
