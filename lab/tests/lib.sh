# SPDX-License-Identifier: GPL-2.0
# Helpers for guest-side lab tests (sourced).  Output is TAP.

T_NUM=0
T_FAIL=0

T_PLAN=
t_plan() { T_PLAN=$1; echo "TAP version 13"; echo "1..$1"; }
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
# t_ksft NAME PROGRAM [ARG...]: run a kselftest program and fold its TAP
# results into this script's ("ok N NAME: test"), then judge the program
# itself by one more result: it must exist, exit 0, print a plan of at
# least one test and exactly as many results, and never "Bail out!".  A
# program that crashes half-way, bails out, is not built or whose filter
# matches nothing is then a failure with its name, not a few results that
# silently went missing.
t_ksft() {
	local name=$1 verdict out

	shift
	if [ ! -x "$1" ]; then
		t_notok "$name: exits 0 with every planned result"
		echo "# $name: $1 is not built"
		return 1
	fi
	verdict=$(mktemp)
	{ "$@" 2>&1; printf '@@t_ksft exit %d\n' "$?"; } |
		awk -v name="$name" -v verdict="$verdict" '
		/@@t_ksft exit [0-9]+$/ {	# after an unterminated last line
			rc = $NF
			sub(/@@t_ksft exit [0-9]+$/, "")
			if ($0 == "")
				next
		}
		/^TAP version/ { next }
		/^1\.\.[0-9]+/ { if (plan != "") plans++; plan = substr($1, 4) + 0; next }
		/^(ok|not ok) [0-9]+/ {
			n++
			match($0, /^(ok|not ok) [0-9]+/)
			print substr($0, 1, RLENGTH) " " name ":" substr($0, RLENGTH + 1)
			fflush(); next
		}
		/^Bail out!/ { bail = 1 }
		{ print; fflush() }
		END {
			why = ""
			if (rc == "") why = why ", no exit status"
			else if (rc != 0) why = why ", exit status " rc
			if (plan == "") why = why ", no plan"
			else if (plan == 0) why = why ", a plan of no tests"
			if (plans) why = why ", more than one plan"
			if (plan != "" && n != plan)
				why = why ", " n + 0 " results for a plan of " plan
			if (bail) why = why ", Bail out!"
			print (why == "" ? "ok " n + 0 " results" : substr(why, 3)) > verdict
		}'
	out=$(cat "$verdict")
	rm -f "$verdict"
	case $out in
	"ok "*)
		t_ok "$name: exits 0 with every planned result"
		echo "# $name: ${out#ok }" ;;
	*)
		t_notok "$name: exits 0 with every planned result"
		echo "# $name: ${out:-no verdict}"
		return 1 ;;
	esac
}

# t_done: the summary; fails if anything failed or a plan was not kept
t_done() {
	local n=$T_NUM

	if [ -n "$T_PLAN" ] && [ "$n" != "$T_PLAN" ]; then
		t_notok "$(basename "$0") keeps its plan ($n results for a plan of $T_PLAN)"
	fi
	echo "# $((T_NUM - T_FAIL)) passed, $T_FAIL failed"
	[ $T_FAIL = 0 ]
}

pci_sysfs() { echo "/sys/bus/pci/devices/$1"; }
pci_id() { echo "$(cut -c3- < "$(pci_sysfs "$1")/vendor"):$(cut -c3- < "$(pci_sysfs "$1")/device")"; }
pci_parent() { basename "$(dirname "$(readlink -f "$(pci_sysfs "$1")")")"; }
pci_group() { basename "$(readlink -f "$(pci_sysfs "$1")/iommu_group")"; }

pci_has_acs() { lspci -vvv -s "$1" 2>/dev/null | grep -q 'Access Control Services'; }
pci_acs_redir() { lspci -vvv -s "$1" 2>/dev/null | grep -q 'ACSCtl:.*ReqRedir+'; }

# Bind every endpoint of the IOMMU group of device $1 to vfio-pci, or to
# the vfio driver $2.
vfio_bind_group() {
	local d dev cls drv=${2:-vfio-pci}
	for d in "$(pci_sysfs "$1")"/iommu_group/devices/*; do
		dev=$(basename "$d")
		cls=$(cat "$d/class")
		case $cls in 0x0604*) continue ;; esac	# bridges stay with pcieport
		[ "$(basename "$(readlink -f "$d/driver" 2>/dev/null)")" = "$drv" ] && continue
		echo "$drv" > "$d/driver_override"
		[ -e "$d/driver" ] && echo "$dev" > "$d/driver/unbind"
		echo "$dev" > /sys/bus/pci/drivers_probe
	done
	[ "$(basename "$(readlink -f "$(pci_sysfs "$1")/driver")")" = "$drv" ]
}

# Load p2pdma_edu.ko (it binds edu by ID) and bind provider $1 to it.
p2pdma_edu_load() {
	insmod "$LAB_MODS/p2pdma/src/module/p2pdma_edu.ko" || return
	echo p2pdma_edu > "$(pci_sysfs "$1")/driver_override"
	echo "$1" > /sys/bus/pci/drivers_probe
}

# Load the stand-in HCA, p2pdma_hca.ko, a client of p2pdma_edu.ko.
p2pdma_hca_load() {
	insmod "$LAB_MODS/p2pdma/src/module/p2pdma_hca.ko"
}

vfio_unbind() {
	local d
	d=$(pci_sysfs "$1")
	[ -e "$d/driver" ] && echo "$1" > "$d/driver/unbind"
	echo > "$d/driver_override"
}
