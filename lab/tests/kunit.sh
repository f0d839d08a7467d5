#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Report the built-in KUnit suites (run at boot) as flat TAP: one line per
# test case, "suite.case".
set -u
echo "TAP version 13"
found=0
for r in /sys/kernel/debug/kunit/*/results; do
	suite=$(basename "$(dirname "$r")")
	found=1
	# test cases are the KTAP lines indented one level below the suite
	sed -n "s/^    \(ok\|not ok\) [0-9]* \(.*\)$/\1 - $suite.\2/p" "$r" |
		awk '{ n++; sub(/ - /, " " n " "); print }'
	grep -E '^    # .*(Expected|ASSERT|EXPECT|failed)' "$r" | sed 's/^ */# /'
done
[ $found = 1 ] || echo "not ok 1 no KUnit results in /sys/kernel/debug/kunit"
