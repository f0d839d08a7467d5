#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Host-side tests of the lab's own tools: tree sync/save round trips on a
# tiny fake base, make series on it, a broken patch is named, unsaved
# edits are protected, the splat detector, and the VM runner's hang
# timeout.
. "$(dirname "$0")/lib.sh"
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

t_plan 18
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
printf 'int w;\n' > "$w/repo/drivers/x/w.c"
t_check "series refuses a new file that no patch claims, and names it" \
	eval 'series 2>&1 | grep -q "new file drivers/x/w.c is not assigned to a patch"'
rm "$w/repo/drivers/x/w.c"

sed -i 's/^\([ -]\)obj-y += x.o/\1obj-y += w.o/' "$w/repo/patches/0001-x-add-y.patch"
t_check "a patch that does not apply stops sync with its name" \
	eval 'tree sync 2>&1 | grep -q "patch patches/0001-x-add-y.patch does not apply"'

printf '[ 1.0] ok\n[ 2.0] ------------[ cut here ]------------\n[ 2.0] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x0/0x1\n' > "$w/splat.log"
printf '[ 1.0] all fine\n[ 2.0] DMA-API: debugging enabled by kernel config\n' > "$w/clean.log"
t_check "splat detector: finds a WARN, passes a clean log" \
	eval '! "$LAB/splats" "$w/splat.log" >/dev/null && "$LAB/splats" "$w/clean.log"'

# the known pciehp report is skipped; any other lockdep report is not
lockdep() {
	printf '[ 5.0] ======================================================\n'
	printf '[ 5.0] WARNING: possible circular locking dependency detected\n'
	printf '[ 5.0] irq/25-pciehp/40 is trying to acquire lock:\n'
	printf '[ 5.0] ffff88800514d300 (&ctrl->reset_lock){.+.+}-{3:3}, at: %b+0x1/0x2\n' "$1"
	printf '[ 5.0] but task is already holding lock:\n'
	printf '[ 5.0] ffffffff82440468 (%s){+.+.}-{3:3}\n' "${2:-pci_rescan_remove_lock}"
	printf '[ 5.0] -> #1 (&new_dev_set->lock){+.+.}-{3:3}:\n'
	printf '[ 5.0] Call Trace:\n[ 5.0]  <TASK>\n[ 5.0]  %b+0x10f/0x18b\n' "$1"
	printf '[ 5.0]  </TASK>\n[ 6.0] all fine\n'
}
lockdep pciehp_unconfigure_device > "$w/known.log"
lockdep pci_foo > "$w/unknown.log"
lockdep "pciehp_unconfigure_device+0x1/0x2\n[ 5.0]  vfio_pci_dma_buf_move" > "$w/series.log"
lockdep pciehp_unconfigure_device "&vdev->memory_lock" > "$w/otherlock.log"
cat "$w/known.log" "$w/splat.log" > "$w/known-splat.log"
t_check "splat detector: skips pciehp's known lockdep report, nothing else" \
	eval '"$LAB/splats" "$w/known.log" >/dev/null 2>&1 &&
	      ! "$LAB/splats" "$w/unknown.log" >/dev/null 2>&1 &&
	      ! "$LAB/splats" "$w/series.log" >/dev/null 2>&1 &&
	      ! "$LAB/splats" "$w/otherlock.log" >/dev/null 2>&1 &&
	      ! "$LAB/splats" "$w/known-splat.log" >/dev/null 2>&1'

t_check "lab/vm rejects an unknown topology by name" \
	eval '"$LAB/vm" -t nosuch true 2>&1 | grep -q "unknown topology .nosuch."'
"$LAB/vm" -T 90 -o "$w/hang" 'sleep 1000' > "$w/hang.out" 2>&1
rc=$?
t_check "a hung guest is killed at the timeout and reported (exit $rc)" \
	eval '[ $rc = 124 ] && grep -q "guest hung: killed after 90s" "$w/hang.out"'
t_check "a hung guest shows its tasks, their stacks and the locks held first" \
	eval 'grep -q "^lab-init: still running [0-9]* s before the timeout: the tasks" "$w/hang/console.log" &&
	      grep -A1 "^lab-init: task [0-9]*/[0-9]* (sleep) S " "$w/hang/console.log" |
		grep -q "nanosleep" &&
	      grep -q "Showing all locks held" "$w/hang/console.log"'
t_done
