#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn the repository into a git format-patch series against the base.

The repository keeps the series in two forms (see tree.py): patches/ for
changes to files of the base, and the overlay for new files.  Here each
patch of patches/series becomes one commit on top of the pristine base:
its diff is applied, and the overlay files that patches/overlay assigns to
it are added.  A patch may carry no diff at all (only a subject and a
body) when all it adds is new files.

Then git format-patch writes the series with a cover letter taken from
patches/cover-letter (first line: subject; the rest: body).  Unless
--no-verify is given, the output is applied with git am to the pristine
base, and the result must be the same tree, commit for commit.

Command:
  build --out DIR [--prefix PREFIX] [--no-verify]
          write the series into DIR (emptied first), and DIR/commits:
          the commits, oldest first, as "<sha> <patch file>"

The commits live in a scratch clone of the build tree ($LAB_SERIES_TREE),
which this tool resets to the base whenever it builds.
"""

import argparse
import fnmatch
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tree as labtree  # noqa: E402

REPO = labtree.REPO
PATCHES = labtree.PATCHES
OVERLAY_MAP = os.path.join(PATCHES, "overlay")
COVER = os.path.join(PATCHES, "cover-letter")

die = labtree.die
say = labtree.say


def git(t, *args, env=None, data=None, check=True):
    p = subprocess.run(["git", "-C", t] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=env, input=data)
    if check and p.returncode:
        die("git %s failed:\n%s%s" % (" ".join(args),
                                       p.stdout.decode(errors="replace"),
                                       p.stderr.decode(errors="replace")))
    return p


def parse_patch(name):
    """Return (author, subject, body, has_diff) of patches/NAME."""
    text = labtree.read(os.path.join(PATCHES, name))
    if text is None:
        die("patches/series names %s, which does not exist" % name)
    text = text.decode()
    head, sep, rest = text.partition("\n\n")
    if not sep:
        die("patches/%s has no mail header" % name)
    hdr = {}
    for line in head.splitlines():
        k, _, v = line.partition(":")
        hdr[k.strip().lower()] = v.strip()
    if "from" not in hdr or "subject" not in hdr:
        die("patches/%s needs From: and Subject: headers" % name)
    subject = re.sub(r"^\[PATCH[^]]*\]\s*", "", hdr["subject"])
    m = re.search(r"^---$", rest, re.M)
    if not m and "\ndiff --git " in "\n" + rest:
        die("patches/%s: no '---' line between the message and the diff"
            % name)
    body = rest[:m.start()] if m else rest
    body = body.strip("\n") + "\n"
    if "TODO" in body:
        die("patches/%s: the commit message still says TODO" % name)
    if "Signed-off-by:" not in body:
        die("patches/%s has no Signed-off-by" % name)
    return hdr["from"], subject, body, bool(labtree.patch_files(name))


def overlay_map():
    """[(pattern, patch name)] from patches/overlay."""
    rules = []
    with open(OVERLAY_MAP) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            parts = line.split()
            if len(parts) != 2:
                die("patches/overlay:%d: want 'PATH-OR-GLOB PATCH'" % n)
            rules.append((parts[0], parts[1]))
    return rules


def assign_overlay(names):
    """{patch name: [overlay files]}; every overlay file exactly once."""
    rules = overlay_map()
    for pat, name in rules:
        if name not in names:
            die("patches/overlay assigns %s to %s, which is not in "
                "patches/series" % (pat, name))
    out = {n: [] for n in names}
    used = set()
    for path in labtree.overlay_files():
        hits = [(pat, n) for pat, n in rules
                if path == pat or fnmatch.fnmatchcase(path, pat) or
                (pat.endswith("/") and path.startswith(pat))]
        if not hits:
            die("new file %s is not assigned to a patch in patches/overlay"
                % path)
        if len(hits) > 1:
            die("new file %s matches several lines of patches/overlay: %s"
                % (path, ", ".join(p for p, _ in hits)))
        used.add(hits[0][0])
        out[hits[0][1]].append(path)
    for pat, _ in rules:
        if pat not in used:
            die("patches/overlay: %s matches no new file" % pat)
    return out


def series_tree():
    lib = os.environ.get("LAB_SRC")
    t = os.environ.get("LAB_SERIES_TREE")
    if not lib or not t:
        die("run through make (LAB_SRC and LAB_SERIES_TREE unset)")
    if not os.path.isdir(os.path.join(t, ".git")):
        say("cloning the base into %s" % t)
        shutil.rmtree(t, ignore_errors=True)
        git(os.path.dirname(t) or ".", "clone", "-q", "--shared",
            "--no-checkout", lib, t)
        git(t, "config", "gc.auto", "0")
    git(t, "fetch", "-q", "--force", lib, "refs/tags/base:refs/tags/base")
    reset(t)
    return t


def reset(t):
    git(t, "checkout", "-q", "-f", "--detach", "base")
    git(t, "clean", "-q", "-f", "-d", "-x")
    # Drop a git am that did not finish.
    git(t, "am", "--abort", check=False)


def commit_env(author, date):
    m = re.match(r"^(.*?)\s*<([^>]+)>$", author)
    if not m:
        die("bad author %r" % author)
    env = dict(os.environ)
    env.update(GIT_AUTHOR_NAME=m.group(1), GIT_AUTHOR_EMAIL=m.group(2),
               GIT_COMMITTER_NAME=m.group(1), GIT_COMMITTER_EMAIL=m.group(2),
               GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    return env


def build_commits(t, date):
    names = labtree.series()
    files = assign_overlay(names)
    commits = []
    for name in names:
        author, subject, body, has_diff = parse_patch(name)
        if has_diff:
            git(t, "apply", "--index", "--whitespace=error-all",
                os.path.join(PATCHES, name))
        for path in files[name]:
            dst = os.path.join(t, path)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(os.path.join(REPO, path), dst)
            git(t, "add", "-f", "--", path)
        if git(t, "diff", "--cached", "--quiet", check=False).returncode == 0:
            die("patches/%s changes nothing: give it a diff or assign new "
                "files to it in patches/overlay" % name)
        git(t, "commit", "-q", "--no-verify", "-F", "-",
            env=commit_env(author, date),
            data=("%s\n\n%s" % (subject, body)).encode())
        sha = git(t, "rev-parse", "HEAD").stdout.decode().strip()
        commits.append((sha, name))
    return commits


def write_series(t, out, prefix, commits):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    git(t, "format-patch", "-q", "--cover-letter", "--zero-commit",
        "--no-signature", "--subject-prefix=" + prefix, "-o",
        os.path.abspath(out), "base..HEAD")
    with open(COVER) as f:
        subject, _, blurb = f.read().partition("\n")
    cover = os.path.join(out, sorted(os.listdir(out))[0])
    with open(cover) as f:
        text = f.read()
    if "*** SUBJECT HERE ***" not in text or "*** BLURB HERE ***" not in text:
        die("unexpected cover letter from git format-patch")
    text = text.replace("*** SUBJECT HERE ***", subject.strip())
    text = text.replace("*** BLURB HERE ***", blurb.strip("\n"))
    with open(cover, "w") as f:
        f.write(text)
    with open(os.path.join(out, "commits"), "w") as f:
        for sha, name in commits:
            f.write("%s %s\n" % (sha, name))


def verify(t, out, commits, date):
    """git am the output onto the base: same trees, commit for commit."""
    want = [git(t, "rev-parse", sha + "^{tree}").stdout.strip()
            for sha, _ in commits]
    reset(t)
    mails = sorted(p for p in os.listdir(out) if p.endswith(".patch"))[1:]
    env = commit_env("Lab <lab@localhost>", date)
    for mail, tree_id, (_, name) in zip(mails, want, commits):
        p = git(t, "am", "-q", "--whitespace=error-all",
                os.path.join(os.path.abspath(out), mail), env=env, check=False)
        if p.returncode:
            die("git am %s failed on the pristine base:\n%s" %
                (mail, (p.stdout + p.stderr).decode(errors="replace")))
        got = git(t, "rev-parse", "HEAD^{tree}").stdout.strip()
        if got != tree_id:
            die("%s applies to a different tree than patches/%s gives"
                % (mail, name))
    # Leave the tree at the series' own last commit.
    git(t, "checkout", "-q", "-f", "--detach", commits[-1][0])
    return len(mails)


def cmd_build(args):
    t = series_tree()
    # One fixed date, that of the repository's last commit: the same
    # repository state always gives byte-identical patches.
    date = git(REPO, "log", "-1", "--format=%cI").stdout.decode().strip()
    commits = build_commits(t, date)
    write_series(t, args.out, args.prefix, commits)
    if not args.no_verify:
        n = verify(t, args.out, commits, date)
        say("git am of %d patches onto the pristine base gives the same "
            "trees" % n)
    stat = git(t, "diff", "--shortstat", "base", commits[-1][0]).stdout
    say("%d patches + cover letter in %s:%s" %
        (len(commits), args.out, stat.decode().rstrip()))


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build")
    b.add_argument("--out", required=True)
    b.add_argument("--prefix", default="PATCH")
    b.add_argument("--no-verify", action="store_true")
    args = ap.parse_args()
    cmd_build(args)


if __name__ == "__main__":
    main()
