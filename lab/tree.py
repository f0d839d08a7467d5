#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Keep the kernel build tree and the repository in step.

The repository holds the series in two forms:

  * the overlay: new files at their in-tree paths (drivers/, include/, ...);
  * patches/: one patch per logical change to a file that exists in the
    base, applied in the order of patches/series.

On top of the series, the lab kernel alone gets the patches listed in
lab/kernel/series: workarounds the lab needs in 6.12 itself, never part
of the series (make series ignores them) and never saved into.

The build tree ($LAB_SRC) is a git repository of the pristine base tagged
"base".  Commands:

  sync    make the build tree equal to base + overlay + patches (+ the
          lab-only patches), touching
          only files whose content changes (so make rebuilds only those).
          Refuses if the build tree holds edits that were never saved.
  save    write edits made in the build tree back: new files into the
          overlay, edits of base files into the last patch of the series
          that touches the file, or into --patch NAME (an earlier patch
          too: the edit is merged back onto the state after that patch,
          and the later patches must still apply on top of it).
  status  list build-tree files whose content differs from the repository.
  files   list the in-tree paths the series adds or changes.

The last applied state is recorded in $LAB_SRC/.git/lab-applied.json; a
build-tree file that differs from it was edited by hand.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

REPO = os.environ.get("LAB_TREE_REPO") or \
    os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATCHES = os.path.join(REPO, "patches")
SERIES = os.path.join(PATCHES, "series")
# Patches for the lab kernel only, on top of the series: never posted,
# never saved into, not part of make series (lab/kernel/series).
LAB_PATCHES = os.path.join(REPO, "lab", "kernel")

# Top-level directories of a kernel tree: repository files below these are
# overlay files.  Everything else in the repository is the lab's own.
KERNEL_DIRS = ("arch", "block", "certs", "crypto", "Documentation", "drivers",
               "fs", "include", "init", "io_uring", "ipc", "kernel", "lib",
               "mm", "net", "rust", "samples", "scripts", "security",
               "sound", "tools", "usr", "virt")

DIFF_RE = re.compile(r"^diff --git a/(\S+) b/(\S+)$", re.M)


def die(msg):
    sys.stderr.write("[lab] error: %s\n" % msg)
    sys.exit(1)


def say(msg):
    print("[lab] %s" % msg)


def run(args, cwd=None, check=True, data=None):
    p = subprocess.run(args, cwd=cwd, input=data, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE)
    if check and p.returncode:
        die("%s failed:\n%s" % (" ".join(args),
                                p.stderr.decode(errors="replace")))
    return p


def sha(data):
    return None if data is None else hashlib.sha1(data).hexdigest()


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


class Tree:
    def __init__(self, src):
        self.src = src
        if not os.path.isdir(os.path.join(src, ".git")):
            die("no build tree at %s: run 'make setup' first" % src)
        self.manifest_path = os.path.join(src, ".git", "lab-applied.json")

    def git(self, *args, **kw):
        return run(["git", "-C", self.src] + list(args), **kw)

    def base(self, path):
        p = self.git("cat-file", "blob", "base:" + path, check=False)
        return p.stdout if p.returncode == 0 else None

    def in_base(self, path):
        return self.git("cat-file", "-e", "base:" + path,
                        check=False).returncode == 0

    def changed(self):
        """Paths whose build-tree content differs from the base."""
        out = self.git("diff", "--name-only", "-z", "base").stdout
        paths = set(p for p in out.decode().split("\0") if p)
        # No --exclude-standard: Debian's .gitignore ignores "/*".
        out = self.git("ls-files", "--others", "-z").stdout
        paths |= set(p for p in out.decode().split("\0") if p)
        return paths

    def current(self, path):
        return read(os.path.join(self.src, path))

    def manifest(self):
        try:
            with open(self.manifest_path) as f:
                return json.load(f)
        except FileNotFoundError:
            return {}

    def write_manifest(self, m):
        tmp = self.manifest_path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(m, f, indent=1, sort_keys=True)
        os.replace(tmp, self.manifest_path)


def series(path=SERIES):
    if not os.path.exists(path):
        return []
    names = []
    with open(path) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                names.append(line)
    return names


def patch_files(name, where=PATCHES):
    text = read(os.path.join(where, name))
    if text is None:
        die("%s/series names %s, which does not exist"
            % (os.path.relpath(where, REPO), name))
    files = []
    for a, b in DIFF_RE.findall(text.decode(errors="replace")):
        if a != b:
            die("patches/%s renames %s; renames are not supported" % (name, a))
        if a not in files:
            files.append(a)
    return files


def overlay_files():
    out = run(["git", "-C", REPO, "ls-files", "-z", "--cached", "--others",
               "--exclude-standard", "--"] + list(KERNEL_DIRS)).stdout
    return sorted(set(p for p in out.decode().split("\0")
                      if p and os.path.isfile(os.path.join(REPO, p))))


def apply_patches(tree, upto=None, scratch=None):
    """Apply the series (or the patches before @upto) to scratch copies of
    the base files they touch.  Returns {path: content or None}."""
    own = scratch is None
    scratch = scratch or tempfile.mkdtemp(prefix="lab-tree-")
    result = {}
    try:
        for name in series():
            if name == upto:
                break
            if not patch_files(name):
                continue        # a new patch, no diff saved into it yet
            for path in patch_files(name):
                if path in result:
                    continue
                data = tree.base(path)
                if data is None:
                    die("patches/%s changes %s, which is not in the base; "
                        "new files belong in the overlay" % (name, path))
                os.makedirs(os.path.dirname(os.path.join(scratch, path)),
                            exist_ok=True)
                with open(os.path.join(scratch, path), "wb") as f:
                    f.write(data)
                result[path] = None
            p = run(["patch", "-p1", "--batch", "--forward", "--fuzz=0",
                     "--no-backup-if-mismatch", "-r", "-", "-d", scratch,
                     "-i", os.path.join(PATCHES, name)], check=False)
            if p.returncode:
                die("patch patches/%s does not apply to base + earlier "
                    "patches:\n%s" % (name, p.stdout.decode(errors="replace")))
        for path in result:
            result[path] = read(os.path.join(scratch, path))
    finally:
        if own:
            shutil.rmtree(scratch)
    return result


def apply_lab_patches(tree, want):
    """The lab-only patches, on top of @want (base + overlay + series)."""
    scratch = tempfile.mkdtemp(prefix="lab-tree-")
    try:
        for name in series(os.path.join(LAB_PATCHES, "series")):
            ppath = os.path.join(LAB_PATCHES, name)
            paths = patch_files(name, LAB_PATCHES)
            for path in paths:
                data = want[path] if path in want else tree.base(path)
                if data is None:
                    die("lab/kernel/%s changes %s, which is not in the base"
                        % (name, path))
                os.makedirs(os.path.dirname(os.path.join(scratch, path)),
                            exist_ok=True)
                with open(os.path.join(scratch, path), "wb") as f:
                    f.write(data)
            p = run(["patch", "-p1", "--batch", "--forward", "--fuzz=0",
                     "--no-backup-if-mismatch", "-r", "-", "-d", scratch,
                     "-i", ppath], check=False)
            if p.returncode:
                die("lab/kernel/%s does not apply to the series:\n%s"
                    % (name, p.stdout.decode(errors="replace")))
            for path in paths:
                want[path] = read(os.path.join(scratch, path))
    finally:
        shutil.rmtree(scratch)


def desired_state(tree):
    want = {}
    for path in overlay_files():
        if tree.in_base(path):
            die("%s exists in the base: change it with a patch, not an "
                "overlay copy" % path)
        want[path] = read(os.path.join(REPO, path))
    for path, data in apply_patches(tree).items():
        want[path] = data
    apply_lab_patches(tree, want)
    return want


def unsaved(tree, want):
    """Build-tree files edited by hand since the last sync/save."""
    man = tree.manifest()
    edits = []
    for path in sorted(tree.changed() | set(man)):
        cur = sha(tree.current(path))
        if path in man:
            if cur != man[path]:
                edits.append(path)
        elif cur != sha(tree.base(path)):
            edits.append(path)
    return [p for p in edits if sha(tree.current(p)) != sha(want.get(p))]


def cmd_sync(tree, args):
    want = desired_state(tree)
    edits = unsaved(tree, want)
    if edits and not args.discard:
        die("the build tree has edits that are not in the repository:\n  " +
            "\n  ".join(edits) +
            "\nsave them with 'make save' or drop them with "
            "'make sync DISCARD=1'")
    changed = 0
    for path in sorted(tree.changed() | set(want)):
        target = want.get(path, tree.base(path))
        full = os.path.join(tree.src, path)
        if sha(tree.current(path)) == sha(target):
            continue
        changed += 1
        if target is None:
            os.unlink(full)
        else:
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full + ".lab-tmp", "wb") as f:
                f.write(target)
            os.replace(full + ".lab-tmp", full)
    tree.write_manifest({p: sha(d) for p, d in want.items()})
    say("build tree in sync: %d overlay files, %d patches, %d files updated"
        % (len(overlay_files()), len(series()), changed))


def unified(path, old, new):
    with tempfile.TemporaryDirectory() as d:
        a, b = os.path.join(d, "a"), os.path.join(d, "b")
        with open(a, "wb") as f:
            f.write(old)
        with open(b, "wb") as f:
            f.write(new)
        p = run(["diff", "-u", "-p", "--label", "a/" + path, "--label",
                 "b/" + path, a, b], check=False)
        if p.returncode > 1:
            die("diff failed for %s" % path)
    body = p.stdout.decode()
    return "diff --git a/%s b/%s\n%s" % (path, path, body) if body else ""


def merge(current, base, other, path, name):
    """Three-way merge: @current plus the change from @base to @other."""
    with tempfile.TemporaryDirectory() as d:
        names = []
        for n, data in (("current", current), ("base", base),
                        ("other", other)):
            names.append(os.path.join(d, n))
            with open(names[-1], "wb") as f:
                f.write(data)
        p = run(["git", "merge-file", "-p"] + names, check=False)
    if p.returncode:
        die("the edit of %s does not fit the state after patches/%s "
            "(it overlaps what later patches change); save it into the "
            "later patch instead" % (path, name))
    return p.stdout


def replace_section(text, path, section):
    """Swap the diff of @path inside patch @text for @section."""
    starts = [(m.start(), m.group(1)) for m in DIFF_RE.finditer(text)]
    tail = re.search(r"^-- \n", text, re.M)
    end_all = tail.start() if tail else len(text)
    for i, (pos, p) in enumerate(starts):
        if p == path:
            end = starts[i + 1][0] if i + 1 < len(starts) else end_all
            return text[:pos] + section + text[end:]
    return text[:end_all] + section + text[end_all:]


def author():
    def cfg(key):
        return run(["git", "-C", REPO, "config", key],
                   check=False).stdout.decode().strip()
    return "%s <%s>" % (cfg("user.name") or "Lab", cfg("user.email") or
                        "lab@localhost")


def new_patch(name):
    path = os.path.join(PATCHES, name)
    if os.path.exists(path):
        return
    subject = re.sub(r"^\d+-", "", name[:-6] if name.endswith(".patch")
                     else name).replace("-", " ")
    with open(path, "w") as f:
        f.write("From: %s\nSubject: [PATCH] %s\n\nTODO: explain why.\n\n"
                "Signed-off-by: %s\n---\n" % (author(), subject, author()))
    with open(SERIES, "a") as f:
        f.write(name + "\n")
    say("created patches/%s and added it to patches/series" % name)


def cmd_save(tree, args):
    want = desired_state(tree)
    edits = unsaved(tree, want)
    man = tree.manifest()
    if not edits:
        say("nothing to save")
        return
    for path in edits:
        cur = tree.current(path)
        if not tree.in_base(path):
            dst = os.path.join(REPO, path)
            if cur is None:
                if os.path.exists(dst):
                    os.unlink(dst)
                    say("overlay: removed %s" % path)
            else:
                os.makedirs(os.path.dirname(dst), exist_ok=True)
                with open(dst, "wb") as f:
                    f.write(cur)
                say("overlay: saved %s" % path)
            man[path] = sha(cur)
            continue
        if cur is None:
            die("%s was deleted from the build tree; deleting base files is "
                "not supported" % path)
        lab = [n for n in series(os.path.join(LAB_PATCHES, "series"))
               if path in patch_files(n, LAB_PATCHES)]
        if lab:
            die("%s is changed by lab/kernel/%s, which is not part of the "
                "series: edit that patch by hand" % (path, lab[0]))
        owners = [n for n in series() if path in patch_files(n)]
        name = args.patch or (owners[-1] if owners else None)
        if name is None:
            die("%s is changed but no patch touches it yet: run "
                "'make save PATCH=NNNN-subsystem-what.patch'" % path)
        order = series()
        later = args.patch in order and owners and \
            order.index(owners[-1]) > order.index(args.patch)
        new_patch(name)
        # The patches whose diff of @path is rewritten: @name and, if the
        # edit belongs to an earlier patch, every later one that changes
        # the file, since their context moves with the edit.
        order = series()
        chain = [name] + [n for n in order[order.index(name) + 1:]
                          if n in owners] if later else [name]
        before = apply_patches(tree, upto=name).get(path) or tree.base(path)
        texts = []
        for n in chain:
            if n == chain[-1]:
                after = cur
            else:
                # carry the edit (final state -> build tree) back onto the
                # state after patch n
                nxt = order[order.index(n) + 1]
                at = apply_patches(tree, upto=nxt).get(path) or \
                    tree.base(path)
                after = merge(at, want[path], cur, path, n)
            ppath = os.path.join(PATCHES, n)
            text = read(ppath).decode()
            texts.append((ppath, replace_section(text, path,
                                                 unified(path, before, after))))
            before = after
        for ppath, text in texts:      # all or nothing
            with open(ppath, "w") as f:
                f.write(text)
        man[path] = sha(cur)
        say("patches/%s: saved %s" % (name, path))
    tree.write_manifest(man)
    # Prove the repository reproduces the build tree exactly.
    want = desired_state(tree)
    bad = [p for p in edits if sha(want.get(p, tree.base(p))) !=
           sha(tree.current(p))]
    if bad:
        die("saved, but base + overlay + patches does not reproduce: " +
            " ".join(bad))


def cmd_status(tree, args):
    want = desired_state(tree)
    edits = unsaved(tree, want)
    for p in edits:
        print("unsaved: %s" % p)
    stale = [p for p in sorted(set(want) | tree.changed())
             if p not in edits and
             sha(tree.current(p)) != sha(want.get(p, tree.base(p)))]
    for p in stale:
        print("not synced: %s" % p)
    if not edits and not stale:
        say("build tree matches the repository")
    return 1 if edits else 0


def cmd_files(tree, args):
    for p in sorted(set(overlay_files()) |
                    set(f for n in series() for f in patch_files(n))):
        print(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", default=os.environ.get("LAB_SRC"))
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sync")
    s.add_argument("--discard", action="store_true",
                   help="overwrite unsaved build-tree edits")
    s = sub.add_parser("save")
    s.add_argument("--patch", help="patch to save base-file edits into")
    sub.add_parser("status")
    sub.add_parser("files")
    args = ap.parse_args()
    if not args.src:
        die("LAB_SRC is not set (run through make)")
    tree = Tree(args.src)
    fn = {"sync": cmd_sync, "save": cmd_save, "status": cmd_status,
          "files": cmd_files}[args.cmd]
    sys.exit(fn(tree, args) or 0)


if __name__ == "__main__":
    main()
