#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Print the code block that follows the label ".. _LABEL:" in an .rst
file, dedented: the lab compiles and runs the documentation's examples.

usage: rst-code.py FILE LABEL
"""
import sys


def main():
    path, label = sys.argv[1:3]
    lines = open(path).read().split("\n")
    try:
        i = lines.index(".. _%s:" % label)
    except ValueError:
        sys.exit("%s: no label %s" % (path, label))
    while not lines[i].startswith(".. code-block::"):
        i += 1
    i += 1
    while not lines[i].strip():
        i += 1
    indent = len(lines[i]) - len(lines[i].lstrip())
    out = []
    while i < len(lines) and (not lines[i].strip() or
                              lines[i][:indent].isspace()):
        out.append(lines[i][indent:])
        i += 1
    sys.stdout.write("\n".join(out).rstrip("\n") + "\n")


if __name__ == "__main__":
    main()
