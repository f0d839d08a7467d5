#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side tests of the lab's own tools: tree sync/save round trips on a
# tiny fake base, make series on it, a broken patch is named, unsaved
# edits are protected, the splat detector, the VM runner's hang
# timeout, and the harness itself: t_ksft judges each kselftest program by
# its exit status and plan, lab/check each suite by its manifest.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../checks.sh"
LAB=$(cd "$(dirname "$0")/.." && pwd)
TREE=$LAB/tree.py
w=$(mktemp -d)
trap 'rm -rf "$w"' EXIT

# A fake base tree (git, tagged base) and a fake series repository.
mkdir -p "$w/src/drivers/x" "$w/repo/patches" "$w/repo/drivers/x"
printf 'int a;\nint b;\nint c;\n' > "$w/src/drivers/x/x.c"
printf 'obj-y += x.o\n' > "$w/src/drivers/x/Makefile"
git -C "$w/src" init -q && git -C "$w/src" add -A &&
	git -C "$w/src" -c user.name=t -c user.email=t@t commit -qm base &&
	git -C "$w/src" tag base
git -C "$w/repo" init -q
printf 'int y;\n' > "$w/repo/drivers/x/y.c"
cat > "$w/repo/patches/0001-x-add-y.patch" <<'P'
From: Lab <lab@localhost>
Subject: [PATCH] x: build y

Signed-off-by: Lab <lab@localhost>
---
diff --git a/drivers/x/Makefile b/drivers/x/Makefile
--- a/drivers/x/Makefile
+++ b/drivers/x/Makefile
@@ -1 +1,2 @@
 obj-y += x.o
+obj-y += y.o
P
echo 0001-x-add-y.patch > "$w/repo/patches/series"
tree() { LAB_TREE_REPO=$w/repo LAB_SRC=$w/src python3 "$TREE" "$@"; }

t_plan 49
t_check "sync applies overlay and patches" \
	eval 'tree sync >/dev/null && grep -q y.o "$w/src/drivers/x/Makefile" && [ -f "$w/src/drivers/x/y.c" ]'
t_check "a second sync changes nothing" \
	eval 'tree sync | grep -q " 0 files updated"'
touch -d @1 "$w/src/drivers/x/Makefile"
tree sync >/dev/null
t_check "sync leaves unchanged files' mtimes alone" \
	[ "$(stat -c %Y "$w/src/drivers/x/Makefile")" = 1 ]

printf 'int y;\nint z;\n' > "$w/src/drivers/x/y.c"
t_check "sync refuses to overwrite an unsaved edit and names it" \
	eval 'out=$(tree sync 2>&1); [ $? != 0 ] && echo "$out" | grep -q "^  drivers/x/y.c"'
t_check "status reports the unsaved edit" \
	eval 'tree status | grep -q "unsaved: drivers/x/y.c"'
t_check "save writes a new file back into the overlay" \
	eval 'tree save >/dev/null && grep -q "int z" "$w/repo/drivers/x/y.c"'

printf 'obj-y += x.o\nobj-y += y.o\nobj-y += z.o\n' > "$w/src/drivers/x/Makefile"
t_check "save writes a base-file edit into the patch that owns it" \
	eval 'tree save >/dev/null && grep -q "^+obj-y += z.o" "$w/repo/patches/0001-x-add-y.patch"'
t_check "the saved patch keeps its header" \
	grep -q "^Subject: \[PATCH\] x: build y" "$w/repo/patches/0001-x-add-y.patch"
printf 'int a;\nint B;\nint c;\n' > "$w/src/drivers/x/x.c"
t_check "an edit of a file no patch owns needs PATCH=" \
	eval 'tree save 2>&1 | grep -q "PATCH="'
t_check "save --patch creates the patch and adds it to the series" \
	eval 'tree save --patch 0002-x-rename-b.patch >/dev/null &&
	      grep -qx 0002-x-rename-b.patch "$w/repo/patches/series" &&
	      tree sync >/dev/null && grep -q "int B" "$w/src/drivers/x/x.c"'

# An edit that belongs to an earlier patch of a file a later one changes.
cat > "$w/repo/patches/0003-x-more.patch" <<'P'
From: Lab <lab@localhost>
Subject: [PATCH] x: more

Signed-off-by: Lab <lab@localhost>
---
diff --git a/drivers/x/Makefile b/drivers/x/Makefile
--- a/drivers/x/Makefile
+++ b/drivers/x/Makefile
@@ -1,3 +1,4 @@
 obj-y += x.o
 obj-y += y.o
 obj-y += z.o
+obj-y += v.o
P
echo 0003-x-more.patch >> "$w/repo/patches/series"
tree sync >/dev/null
sed -i 's/^obj-y += x.o$/obj-y += x.o  # first/' "$w/src/drivers/x/Makefile"
t_check "save --patch into an earlier patch keeps the later patch applying" \
	eval 'tree save --patch 0001-x-add-y.patch >/dev/null &&
	      grep -q "^+obj-y += x.o  # first" "$w/repo/patches/0001-x-add-y.patch" &&
	      ! grep -q "^+.*# first" "$w/repo/patches/0003-x-more.patch" &&
	      tree sync >/dev/null && tree status | grep -q "matches"'

# A lab-only patch (lab/kernel/series) reaches the build tree, on top of
# the series, and nothing else: not the series' files, not a save
mkdir -p "$w/repo/lab/kernel"
cat > "$w/repo/lab/kernel/labonly.patch" <<'P'
Lab only.

diff --git a/drivers/x/x.c b/drivers/x/x.c
--- a/drivers/x/x.c
+++ b/drivers/x/x.c
@@ -1,3 +1,4 @@
 int a;
 int B;
 int c;
+int lab_only;
P
echo labonly.patch > "$w/repo/lab/kernel/series"
t_check "a lab-only patch reaches the build tree, not the series" \
	eval 'tree sync >/dev/null && grep -qx "int lab_only;" "$w/src/drivers/x/x.c" &&
	      grep -qx "int B;" "$w/src/drivers/x/x.c" &&
	      tree status | grep -q "matches" &&
	      ! grep -rq lab_only "$w/repo/patches"'
echo 'int more;' >> "$w/src/drivers/x/x.c"
t_check "save refuses an edit of a file a lab-only patch changes" \
	eval 'tree save 2>&1 | grep -q "changed by lab/kernel/labonly.patch"'
rm -r "$w/repo/lab"
tree sync --discard >/dev/null

# make series: mails from the same fake repository
series() {
	LAB_TREE_REPO=$w/repo LAB_SRC=$w/src LAB_SERIES_TREE=$w/stree \
		python3 "$LAB/series.py" build --out "$w/mails" "$@"
}
printf 'drivers/x/y.c 0001-x-add-y.patch\n' > "$w/repo/patches/overlay"
printf 'x: the series\nWhy x needs y.\n' > "$w/repo/patches/cover-letter"
git -C "$w/repo" add -A && git -C "$w/repo" -c user.name=t -c user.email=t@t commit -qm repo
t_check "series refuses a commit message that still says TODO" \
	eval 'series 2>&1 | grep -q "0002-x-rename-b.patch: the commit message still says TODO"'
sed -i 's/^TODO: explain why\.$/Rename b, as x needs./' "$w/repo/patches/0002-x-rename-b.patch"
t_check "series: a cover letter and one mail per patch, git am gives the same trees" \
	eval 'series >/dev/null && [ "$(ls "$w/mails" | grep -c "\.patch$")" = 4 ] &&
	      grep -q "^Subject: \[PATCH 0/3\] x: the series" "$w/mails/0000-cover-letter.patch" &&
	      grep -q "^Why x needs y" "$w/mails/0000-cover-letter.patch" &&
	      grep -q "^+++ b/drivers/x/y.c" "$w/mails/0001-x-build-y.patch"'
# The first make series on a machine (no series tree yet) as the static
# suite runs it: judged by its exit status, whatever it prints
t_check "static's make series check passes on a machine without a series tree" \
	eval '[ ! -e "$w/first-stree" ] &&
	      (LAB_TREE_REPO=$w/repo LAB_SRC=$w/src LAB_SERIES_TREE=$w/first-stree \
		check_series_build "$w/first-mails") > "$w/first.out" &&
	      [ -d "$w/first-stree" ] && grep -q "^ok [0-9]* make series" "$w/first.out"'
printf 'int w;\n' > "$w/repo/drivers/x/w.c"
t_check "series refuses a new file that no patch claims, and names it" \
	eval 'series 2>&1 | grep -q "new file drivers/x/w.c is not assigned to a patch"'
rm "$w/repo/drivers/x/w.c"

sed -i 's/^\([ -]\)obj-y += x.o/\1obj-y += w.o/' "$w/repo/patches/0001-x-add-y.patch"
t_check "a patch that does not apply stops sync with its name" \
	eval 'tree sync 2>&1 | grep -q "patch patches/0001-x-add-y.patch does not apply"'

# t_ksft judges a kselftest program by its exit status and its plan.
# Programs of the real harness (kselftest_harness.h of the lab tree): one
# that passes, one whose main() was replaced (the harness never runs), one
# that dies after its first test, and one with a test that fails.
ksft_prog() {	# ksft_prog NAME MAIN-LINE
	printf '#include "kselftest_harness.h"\n#include <stdlib.h>\n%s\n%s\n%s\n' \
		'TEST(one) { ASSERT_EQ(1, 1); }' \
		'TEST(two) { if (getenv("KSFT_DIE")) abort(); if (getenv("KSFT_FAIL")) ASSERT_EQ(1, 2); }' \
		"$2" > "$w/$1.c"
	gcc -o "$w/$1" -I"$LAB_SRC/tools/testing/selftests" "$w/$1.c"
}
ksft_prog good 'TEST(three) { SKIP(return, "no NIC"); }
TEST_HARNESS_MAIN'
ksft_prog nomain 'int main(void) { return 0; }'
verdict() { (T_NUM=0 T_FAIL=0; t_ksft "$@") 2>&1 | grep "exits 0 with every planned result"; }
t_check "t_ksft: a passing harness program is ok, its results folded in" \
	eval '(T_NUM=0; t_ksft good "$w/good") > "$w/good.out" &&
	      grep -qx "ok 1 good: global.one" "$w/good.out" &&
	      grep -qx "ok 3 good: global.three # SKIP no NIC" "$w/good.out" &&
	      grep -q "^ok [0-9]* good: exits 0 with every planned result" "$w/good.out"'
t_check "t_ksft: a program whose harness never runs fails" \
	eval 'verdict nomain "$w/nomain" | grep -q "^not ok"'
t_check "t_ksft: a program that crashes after its first result fails" \
	eval 'KSFT_DIE=1 verdict good "$w/good" | grep -q "^not ok"'
t_check "t_ksft: a program with a failing test fails" \
	eval 'KSFT_FAIL=1 verdict good "$w/good" | grep -q "^not ok"'
t_check "t_ksft: a filter that matches nothing fails" \
	eval 'verdict good "$w/good" -t nosuch | grep -q "^not ok"'
t_check "t_ksft: a program that is not built fails, with its path" \
	eval '(T_NUM=0; t_ksft gone "$w/gone") | grep -q "$w/gone is not built"'

# lab/check holds every suite against its manifest: the final counts are
# the manifest's, or the run fails
mkdir -p "$w/suites" "$w/expected"
for s in good nomain gone skip extra crash1 crash2 hostx guestx sleeper; do
	printf '#!/bin/bash\n. %q\n' "$LAB/tests/lib.sh" > "$w/suites/$s"
	chmod +x "$w/suites/$s"
	printf 'ok good: global.one\nok good: global.two\n%s\n%s\n' \
		'skip good: global.three  # the lab has no RDMA NIC' \
		'ok good: exits 0 with every planned result' > "$w/expected/$s"
done
echo 't_ksft good "$1/good"' >> "$w/suites/good"
echo 't_ksft good "$1/nomain"' >> "$w/suites/nomain"
echo 't_ksft good "$1/missing"' >> "$w/suites/gone"
echo 'KSFT_SKIP_TWO=1 t_ksft good "$1/good"' >> "$w/suites/skip"
printf 't_ksft good "$1/good"\nt_ok "one more"\n' >> "$w/suites/extra"
# lab/vm's 123: QEMU crashed; crash1 does so on its first run only
printf 'mkdir "$1/crashed" 2>/dev/null && exit 123\nt_ksft good "$1/good"\n' \
	>> "$w/suites/crash1"
printf 't_ksft good "$1/good"\nexit 123\n' >> "$w/suites/crash2"
# hostx and guestx each wait up to 10 s for the other to start
for pair in hostx:guestx guestx:hostx; do
	me=${pair%:*} other=${pair#*:}
	printf 'touch "$1/%s.on"\nfor i in $(seq 100); do [ -e "$1/%s.on" ] && break; sleep .1; done\n[ -e "$1/%s.on" ] && t_ksft good "$1/good"\n' \
		"$me" "$other" "$other" >> "$w/suites/$me"
done
printf 'sleep 300 &\necho $! > "$1/sleeper.pid"\nwait\n' >> "$w/suites/sleeper"
sed -i 's/^\(TEST(two) { \)/\1if (getenv("KSFT_SKIP_TWO")) SKIP(return, "x"); /' "$w/good.c"
gcc -o "$w/good" -I"$LAB_SRC/tools/testing/selftests" "$w/good.c"
for s in good nomain gone skip extra crash1 crash2 hostx guestx sleeper; do
	sed -i "s|\$1|$w|g" "$w/suites/$s"
done
labcheck() {
	LAB_CHECK_SUITES=$w/suites LAB_EXPECTED=$w/expected \
		LAB_CHECK_LOGS=$w/logs "$LAB/check" "$@" > "$w/check.out" 2>&1
}
t_check "lab/check: a suite that keeps its manifest passes with its counts" \
	eval 'labcheck good && tail -1 "$w/check.out" | grep -qx "3 passed, 0 failed, 1 skipped"'
t_check "lab/check: a program whose harness never runs fails the run" \
	eval '! labcheck nomain && grep -q "missing: good: global.one" "$w/logs/nomain.log"'
t_check "lab/check: a test program that is not built fails the run" \
	eval '! labcheck gone && grep -q "$w/missing is not built" "$w/logs/gone.log"'
t_check "lab/check: an unexpected skip fails the run" \
	eval '! labcheck skip && grep -q "unexpected skip: good: global.two" "$w/check.out"'
t_check "lab/check: a result the manifest does not list fails the run" \
	eval '! labcheck extra && grep -q "not in the manifest: one more" "$w/check.out"'
t_check "lab/check: a suite whose QEMU crashed runs again, and the table says so" \
	eval 'labcheck crash1 && grep -q "^crash1 .* ok (rerun: QEMU crashed)$" "$w/check.out" &&
	      [ -e "$w/logs/crash1.log.crashed" ]'
t_check "lab/check: a suite whose QEMU crashes twice fails" \
	eval '! labcheck crash2 && grep -q "^crash2 .* FAIL (rerun: QEMU crashed)$" "$w/check.out"'
# hostx and guestx pass only when they run at the same time
t_check "lab/check: a host suite runs beside a guest suite, the table in the given order" \
	eval 'LAB_CHECK_JOBS=2 LAB_CHECK_HOST_SUITES=hostx labcheck hostx guestx &&
	      tail -1 "$w/check.out" | grep -qx "6 passed, 0 failed, 2 skipped" &&
	      grep -A2 "^suite " "$w/check.out" | cut -c1-6 | tr -d " " | paste -sd, | grep -qx "suite,hostx,guestx"'
rm -f "$w"/*.on
t_check "lab/check: two guest suites run at once" \
	eval 'LAB_CHECK_JOBS=2 LAB_CHECK_HOST_SUITES=none labcheck hostx guestx &&
	      tail -1 "$w/check.out" | grep -qx "6 passed, 0 failed, 2 skipped"'
# stopped, lab/check stops its jobs and what they started
LAB_CHECK_SUITES=$w/suites LAB_EXPECTED=$w/expected LAB_CHECK_LOGS=$w/logs \
	"$LAB/check" sleeper > "$w/check-stop.out" 2>&1 &
chk=$!
for _ in $(seq 100); do
	[ -s "$w/sleeper.pid" ] && break
	sleep .1
done
sleep .5
kill -TERM $chk
wait $chk
rc=$?
# gone, or a zombie nobody reaps yet: it no longer runs
gone() {
	local i
	for i in $(seq 50); do
		[ -e "/proc/$1" ] && ! grep -q '^State:.Z' "/proc/$1/status" 2>/dev/null ||
			return 0
		sleep .1
	done
	return 1
}
t_check "lab/check: stopped, it stops its jobs and what they started (exit 130)" \
	eval '[ $rc = 130 ] && [ -s "$w/sleeper.pid" ] && gone "$(cat "$w/sleeper.pid")"'

# make mutants cannot rot: every mutation still applies to the series
t_check "every mutation of lab/mutants.list applies to the build tree" \
	eval '"$LAB/mutants" -n > "$w/mutants.out" 2>&1 || { sed "s/^/# /" "$w/mutants.out"; false; }'

# series-check bind-mounts over the lab's tree only in a namespace it
# made itself.  Tried in a throwaway namespace: should the guard break,
# the mounts die with it.
t_check "series-check --in-namespace by hand is refused, nothing mounted" \
	eval 'unshare -m --propagation private bash -c "\"$LAB/series-check\" --in-namespace; echo rc=\$?; grep -c \" $LAB_SRC \" /proc/self/mounts" \
		> "$w/ns.out" 2>&1; grep -q "is lab/series-check.s own" "$w/ns.out" &&
		grep -qx "rc=1" "$w/ns.out" && grep -qx 0 "$w/ns.out" || { sed "s/^/# /" "$w/ns.out"; false; }'

# coccicheck of a file in a series: a fake tree of commits on "base",
# with the kernel's scripts.  A comparison that only a later header
# makes wrong (b_t becomes unsigned) is found when the scripts that read
# headers run again on the final tree.
mkdir -p "$w/cc/drivers/x" "$w/cc/include/linux"
: > "$w/cc/include/linux/kconfig.h"
printf 'struct a { int n; };\n' > "$w/cc/drivers/x/a.h"
printf 'typedef int b_t;\n' > "$w/cc/include/linux/b.h"
printf 'typedef int c_t;\n' > "$w/cc/include/linux/c.h"
printf '#include "a.h"\n#include <linux/b.h>\n\nint f(int x)\n{\n\treturn x;\n}\n' \
	> "$w/cc/drivers/x/a.c"
cc_commit() {
	git -C "$w/cc" add -A &&
		git -C "$w/cc" -c user.name=t -c user.email=t@t commit -qm "$1"
}
git -C "$w/cc" init -q -b main && cc_commit base && git -C "$w/cc" tag base
ln -s "$LAB_SRC/scripts" "$w/cc/scripts"
echo /scripts >> "$w/cc/.git/info/exclude"
sed -i 's/^\treturn x;/\tb_t u;\n\n\tu = x;\n\tif (u < 0)\n\t\treturn 1;\n\treturn u;/' "$w/cc/drivers/x/a.c"
cc_commit "x: compare"
printf 'typedef unsigned int c_t;\n' > "$w/cc/include/linux/c.h"
cc_commit "c: unsigned"
cc_kind() { includes_changed_later "$w/cc" "$(git -C "$w/cc" rev-parse "${1:-HEAD}")" drivers/x/a.c; }
cc_scripts() { (cd "$w/cc" && cocci_header_scripts "$1") | sed "s|^$w/cc/scripts/coccinelle/||"; }
cc_check() {	# cc_check: check_cocci of a.c with the scripts that read all its headers
	(cd "$w/cc" && T_NUM=0 && mapfile -t s < <(cocci_header_scripts all) &&
		[ ${#s[@]} -gt 0 ] && check_cocci "a.c" drivers/x/a.c "${s[@]}")
}
# 6.12: 73 scripts, 54 of them --no-includes
t_check "coccicheck: the scripts that read headers, by what they read" \
	eval '[ "$(cc_scripts all)" = tests/unsigned_lesser_than_zero.cocci ] &&
	      [ "$(cc_scripts local | wc -l)" = 19 ] &&
	      cc_scripts local | grep -qx tests/unsigned_lesser_than_zero.cocci &&
	      ! (cd "$LAB_SRC/scripts/coccinelle" && cc_scripts local |
		 xargs grep -l "Options:.*--no-includes")'
t_check "coccicheck: no header it includes changed later, nothing to run again" \
	eval '[ -z "$(cc_kind)" ] && cc_check | grep -qx "ok 1 a.c"'
printf 'typedef unsigned int b_t;\n' > "$w/cc/include/linux/b.h"
cc_commit "b: unsigned"
t_check "coccicheck: a header a later patch changes brings its scripts back, which fail" \
	eval '[ "$(cc_kind)" = all ] && { cc_check > "$w/cc.out";
	      grep -q "^# drivers/x/a.c:9:.*Unsigned expression compared with zero" "$w/cc.out" &&
	      grep -qx "not ok 1 a.c" "$w/cc.out" || { sed "s/^/# /" "$w/cc.out"; false; }; }'
printf 'struct a { long n; };\n' > "$w/cc/drivers/x/a.h"
cc_commit "x: long"
# the series tree may be checked out at any patch: the tip decides
git -C "$w/cc" checkout -q base
t_check "coccicheck: a local header changed later, whatever is checked out" \
	eval '[ "$(cc_kind main)" = local ]'
git -C "$w/cc" checkout -q -
t_check "coccicheck that cannot run fails its check, with its output" \
	eval 'SPATCH=/nonexistent/spatch cc_check > "$w/cc.out";
	      grep -qx "not ok 1 a.c" "$w/cc.out" && grep -q "^# coccicheck failed (1):" "$w/cc.out" &&
	      grep -q "^# coccicheck .*/unsigned_lesser_than_zero.cocci failed (1): spatch is part of the Coccinelle project" "$w/cc.out"'

printf '[ 1.0] ok\n[ 2.0] ------------[ cut here ]------------\n[ 2.0] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x0/0x1\n' > "$w/splat.log"
printf '[ 1.0] all fine\n[ 2.0] DMA-API: debugging enabled by kernel config\n' > "$w/clean.log"
t_check "splat detector: finds a WARN, passes a clean log" \
	eval '! "$LAB/splats" "$w/splat.log" >/dev/null && "$LAB/splats" "$w/clean.log"'

# no lockdep report is exempt, not even pciehp's of 6.12: the lab kernel
# carries a workaround for it (lab/kernel/), which the series does not
lockdep() {
	printf '[ 5.0] ======================================================\n'
	printf '[ 5.0] WARNING: possible circular locking dependency detected\n'
	printf '[ 5.0] irq/25-pciehp/40 is trying to acquire lock:\n'
	printf '[ 5.0] ffff88800514d300 (&ctrl->reset_lock){.+.+}-{3:3}, at: %b+0x1/0x2\n' "$1"
	printf '[ 5.0] but task is already holding lock:\n'
	printf '[ 5.0] ffffffff82440468 (pci_rescan_remove_lock){+.+.}-{3:3}\n'
	printf '[ 5.0] Call Trace:\n[ 5.0]  <TASK>\n[ 5.0]  %b+0x10f/0x18b\n' "$1"
	printf '[ 5.0]  </TASK>\n[ 6.0] all fine\n'
}
lockdep pciehp_unconfigure_device > "$w/pciehp.log"
t_check "splat detector: pciehp's lockdep report fails a run like any other" \
	eval '! "$LAB/splats" "$w/pciehp.log" >/dev/null 2>&1'
t_check "the lab kernel has the pciehp workaround, the series does not" \
	eval 'grep -q "Lab only" "$LAB_SRC/drivers/pci/hotplug/pciehp_pci.c" &&
	      ! LAB_SRC=$LAB_SRC python3 "$LAB/tree.py" files | grep -q pciehp'

t_check "lab/vm rejects an unknown topology by name" \
	eval '"$LAB/vm" -t nosuch true 2>&1 | grep -q "unknown topology .nosuch."'
# 130 s: under the load of make check the debug kernel ran init after
# 62 s, init reached its dump timer at 89 s and the dump took 8 s more;
# with 90 s the guest was killed before the dump (measured 2026-12-07)
"$LAB/vm" -T 130 -o "$w/hang" 'sleep 1000' > "$w/hang.out" 2>&1
rc=$?
echo "# lab/vm exited $rc"
t_check "a hung guest is killed at the timeout and reported (exit 124)" \
	eval '[ $rc = 124 ] && grep -q "guest hung: killed after 130s" "$w/hang.out"'
# QEMU's own death by a signal is not the guest's: exit 123.  The host
# plays the emulator's fault once the guest runs the command.
# vm_running NAME: a guest in $w/NAME that runs a long sleep, its lab/vm
# as $vm, once the guest has started the command
vm_running() {
	"$LAB/vm" -T 300 -o "$w/$1" 'touch /run/lab/running; sleep 250' \
		> "$w/$1.out" 2>&1 &
	vm=$!
	for _ in $(seq 240); do
		[ -e "$w/$1/running" ] && break
		sleep 1
	done
}
vm_running crash
kill -SEGV "$(cat "$w/crash/qemu.pid")"
wait $vm
rc=$?
echo "# lab/vm exited $rc"
t_check "QEMU crashing is reported as such (exit 123), not as the guest's death" \
	eval '[ $rc = 123 ] && grep -q "QEMU crashed (signal 11)" "$w/crash.out" ||
	      { sed "s/^/# /" "$w/crash.out"; false; }'
# stopped, lab/vm stops its QEMU
vm_running stop
qemu=$(cat "$w/stop/qemu.pid")
kill -TERM $vm
wait $vm
rc=$?
echo "# lab/vm exited $rc"
t_check "lab/vm stopped by a signal stops its QEMU (exit 130)" \
	eval '[ $rc = 130 ] && gone "$qemu" && grep -q "QEMU was told to stop" "$w/stop.out" ||
	      { sed "s/^/# /" "$w/stop.out"; false; }'
t_check "a hung guest shows its tasks, their stacks and the locks held first" \
	eval 'grep -q "^lab-init: still running [0-9]* s before the timeout: the tasks" "$w/hang/console.log" &&
	      grep -A1 "^lab-init: task [0-9]*/[0-9]* (sleep) S " "$w/hang/console.log" |
		grep -q "nanosleep" &&
	      grep -q "Showing all locks held" "$w/hang/console.log"'
t_done
