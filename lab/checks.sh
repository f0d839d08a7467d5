# SPDX-License-Identifier: GPL-2.0
# Static checks shared by lab/static-check (the whole series, on the lab
# tree) and lab/series-check (each patch, on the series tree).  Sourced
# after lib.sh and tests/lib.sh; they run in the current directory, a
# kernel tree whose git repository has the tag "base", with objects in
# $LAB_OUT.  For files of the base, only findings on lines the series adds
# or changes count: the base's own warnings are not ours to fix here.

# checkpatch's SPDX check runs scripts/spdxcheck.py with the python3 in
# PATH; it needs Debian's python3-ply and python3-git.
export PATH=/usr/bin:$PATH
CHECKPATCH=(perl scripts/checkpatch.pl --strict --quiet --no-summary --show-types)

# Line numbers the series adds or changes in $1, one per line ("all" for
# a file that is not in the base).
changed_lines() {
	git cat-file -e "base:$1" 2>/dev/null || { echo all; return; }
	git diff -U0 base -- "$1" |
		sed -n 's/^@@ -[0-9,]* +\([0-9]*\)\(,\([0-9]*\)\)\{0,1\} @@.*/\1 \3/p' |
		while read -r start count; do
			[ -n "$count" ] || count=1
			seq "$start" $((start + count - 1))
		done
}

# Keep the "path:line:" findings of stdin that are on changed lines of $1.
ours() {
	local f=$1 lines src
	src=$(pwd)
	lines=$(changed_lines "$f")
	grep -E "^(\./|$src/)?$f:[0-9]+:" | sed "s|^$src/||; s|^\./||" |
		while IFS= read -r l; do
			n=${l#"$f":}
			n=${n%%:*}
			if [ "$lines" = all ] || grep -qx "$n" <<< "$lines"; then
				echo "$l"
			fi
		done
}

report() {	# report "description" "findings"
	if [ -z "$2" ]; then
		t_ok "$1"
	else
		echo "$2" | sed 's/^/# /'
		t_notok "$1"
	fi
}

# make series into $1, as a test judged by the exit status of lab/series.py
check_series_build() {	# check_series_build OUTDIR
	local out rc

	out=$(LAB_SRC=$LAB_SRC LAB_SERIES_TREE=$LAB_SERIES_TREE \
		python3 "$LAB_REPO/lab/series.py" build --out "$1" 2>&1)
	rc=$?
	echo "$out" | sed 's/^/# /'
	if [ $rc = 0 ]; then
		t_ok "make series: git am onto the pristine base"
	else
		t_notok "make series: git am onto the pristine base"
		echo "# lab/series.py exited $rc"
	fi
}

# checkpatch --strict, all of it but FILE_PATH_CHANGES, which only asks
# "does MAINTAINERS need updating?" for every new file.  That question is
# answered instead: each file the patch adds must belong to a MAINTAINERS
# entry of its subsystem (not just THE REST, DOCUMENTATION or KERNEL
# SELFTEST FRAMEWORK) in the tree as it stands.
check_checkpatch() {	# check_checkpatch MAIL
	local out f secs
	out=$("${CHECKPATCH[@]}" --ignore FILE_PATH_CHANGES "$1" 2>&1)
	for f in $(awk '/^diff --git /{f=substr($4, 3)} /^new file mode/{print f}' "$1"); do
		secs=$(perl scripts/get_maintainer.pl --no-git --no-git-fallback \
			--sections -f "$f" 2>/dev/null | grep -v -E '^([A-Z]:|$)' |
			grep -v -x -E 'THE REST|DOCUMENTATION|KERNEL SELFTEST FRAMEWORK')
		[ -n "$secs" ] || out+="${out:+$'\n'}$f: new file without a MAINTAINERS entry"
	done
	report "checkpatch --strict $(basename "$1")" "$out"
}

check_kdoc() {		# check_kdoc FILE (kernel .c/.h)
	report "kernel-doc $1" "$(perl scripts/kernel-doc -none -Wall "$1" 2>&1 | ours "$1")"
}

# coccicheck in report mode, with the lab's includes, on FILE: all the
# kernel's scripts, or each SCRIPT given.  Prints what they print and
# returns coccicheck's exit status: a script that cannot run ends its
# whole run, so a failed run has checked nothing after it.
cocci() {	# cocci FILE [SCRIPT...]
	local src s o r out="" fails="" rc=0
	src=$(pwd)
	[ $# -gt 1 ] || set -- "$1" ""	# COCCI="": every script
	for s in "${@:2}"; do
		o=$(cd "$LAB_OUT" && COCCI=$s C=2 MODE=report srctree=$src \
			LINUXINCLUDE="-I$src/arch/x86/include -I./arch/x86/include/generated -I$src/include -I./include -I$src/arch/x86/include/uapi -I./arch/x86/include/generated/uapi -I$src/include/uapi -I./include/generated/uapi -include $src/include/linux/kconfig.h" \
			"$src/scripts/coccicheck" "$1" 2>&1)
		r=$?
		out+=$o$'\n'
		[ $r = 0 ] && continue
		rc=$r
		# last, so that failed() shows which script and why
		fails+="coccicheck ${s:-(every script)} failed ($r): $(tail -3 <<< "$o")"$'\n'
	done
	grep -v '^/usr/bin/spatch' <<< "$out$fails"
	return $rc
}

# A command that exited RC: unless 0, say so and show the end of OUT
failed() {	# failed WHAT RC OUT
	[ "$2" = 0 ] || { echo "$1 failed ($2):"; tail -20 <<< "$3"; }
}

# sparse (C=2) and W=1 on the object of a kernel .c file.  Files the lab
# config does not build are listed, not checked (returns 1).
check_sparse() {	# check_sparse FILE
	local f=$1 obj=${1%.c}.o out rc
	if [ ! -f "$LAB_OUT/$obj" ]; then
		echo "# $f: not built on its own in the lab config"
		return 1
	fi
	touch "$f"	# force a rebuild so warnings are reported again
	out=$(lab_kmake C=2 W=1 "$obj" 2>&1)
	rc=$?
	# a failed build fails, whatever line its error is on
	report "sparse + W=1 $f" "$(ours "$f" <<< "$out"
		failed "make $obj" $rc "$out")"
	# Not rebuilt with the normal flags here (about 4 s a file): the next
	# build of the tree sees the changed command line and recompiles the
	# object, from ccache when the file is unchanged.
}

# series-check runs coccicheck on a file at the last patch that changes
# it.  Most of the kernel's scripts read that file alone (--no-includes);
# the others also read files it includes: its local ones (#include
# "...", spatch's default, when a rule needs types) or, with
# --all-includes, every one it names.  A header that a later patch
# changes can thus change their findings.  Only direct includes count:
# --recursive-includes would read the includes of headers too, but no
# script of 6.12 asks for it.

# The scripts that read the files of includes of KIND: "local" (the
# scripts without --no-includes) or "all" (those with --all-includes or
# --recursive-includes).  In the current tree, sorted as coccicheck runs
# them.
cocci_header_scripts() {	# cocci_header_scripts local|all
	local s opts
	find "$(pwd)/scripts/coccinelle" -name '*.cocci' -type f | sort |
		while read -r s; do
			# as coccicheck reads them
			opts=$(grep "Options:" "$s" | cut -d: -f2)
			case $1:$opts in
			*--all-includes* | *--recursive-includes*) echo "$s" ;;
			local:*--no-includes*) ;;
			local:*) echo "$s" ;;
			esac
		done
}

# Whether a commit after the last one that changes FILE, up to TIP,
# changes a file that FILE includes, in TREE (a git tree of the series'
# commits on "base"): prints "local" if one of its #include "..." is
# changed, else "all" if one of its #include <...> is, else nothing.
includes_changed_later() {	# includes_changed_later TREE TIP FILE
	local tree=$1 tip=$2 f=$3 c later q inc d dirs h kind=""
	c=$(git -C "$tree" log -1 --format=%H "base..$tip" -- "$f")
	[ -n "$c" ] || return 0
	later=$(git -C "$tree" diff --name-only "$c" "$tip")
	[ -n "$later" ] || return 0
	while read -r q inc; do
		# the file it names, searched for as cocci() passes the paths
		dirs=(arch/x86/include include arch/x86/include/uapi include/uapi)
		[ "$q" = '"' ] && dirs=("$(dirname "$f")" "${dirs[@]}")
		for d in "${dirs[@]}"; do
			h=$(realpath -m --relative-to="$tree" "$tree/$d/$inc")
			git -C "$tree" cat-file -e "$tip:$h" 2>/dev/null && break
		done
		grep -qxF "$h" <<< "$later" || continue
		[ "$q" = '"' ] && kind=local
		kind=${kind:-all}
	done < <(git -C "$tree" show "$tip:$f" |
		sed -nE 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*([<"])([^>"]+)[>"].*/\1 \2/p')
	[ -z "$kind" ] || echo "$kind"
}

# coccicheck of FILE (a path in the current tree, or absolute), with all
# the kernel's scripts or the SCRIPTs given, reported as NAME: the
# findings that ours() keeps and a coccicheck that fails each fail it.
check_cocci() {		# check_cocci NAME FILE [SCRIPT...]
	local name=$1 f=$2 abs out rc
	shift 2
	abs=$f
	[[ $f = /* ]] || abs=$(pwd)/$f
	out=$(cocci "$abs" "$@")
	rc=$?
	report "$name" "$(ours "$f" <<< "$out"; failed coccicheck $rc "$out")"
}

# check_sparse, then coccicheck
check_c() {		# check_c FILE
	check_sparse "$1" || return 0
	check_cocci "coccicheck $1" "$1"
}

# What applies to a file the series adds or changes: kernel-doc on a
# kernel .c/.h file, sparse, W=1 and coccicheck on a .c file.  Userspace
# and the test modules (tools/) have their own checks.
check_kernel_file() {	# check_kernel_file FILE
	case $1 in
	tools/*) ;;
	*.c) check_kdoc "$1"; check_c "$1" ;;
	*.h) check_kdoc "$1" ;;
	esac
}

# The documents the series touches, built with Sphinx, one directory of
# LAB_DOC_DIRS or more (not the whole of Documentation: an hour here).
# Any warning that names a file of the series fails, and so does a new
# document that is in no toctree.
LAB_DOC_DIRS="driver-api/pci userspace-api"
check_docs() {		# check_docs "DIR..." FILE...
	local dirs=$1 out=$LAB_HOME/$LAB_KEY/docs log f pat=""
	shift
	log=$(mktemp)
	rm -rf "$out"
	for f in "$@"; do pat="$pat|$f"; done
	# htmldocs writes generated .rst files into the source tree
	if ! make -s O="$out" SPHINXDIRS="$dirs" htmldocs > "$log" 2>&1; then
		report "htmldocs $dirs: no warnings on the series' files" \
			"htmldocs failed: $(tail -20 "$log")"
	else
		report "htmldocs $dirs: no warnings on the series' files" \
			"$(grep -E "WARNING|ERROR|CRITICAL" "$log" | grep -E "${pat#|}")"
	fi
	rm -f "$log"
}
