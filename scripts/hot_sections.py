#!/usr/bin/env python3
"""Writes layout/hot-sections.txt from a link map and valgrind lackey traces (see
scripts/hot-sections, which makes both).

    hot_sections.py MAP OUT TRACE...

Every code and read-only data section the traced runs touch is listed once, in the order
first touched (the first trace's sections, then what each next trace adds), as an input
section rule of a GNU ld script. build.rs puts the `text` rules first in `.text.hot` and
the `rodata` rules in `.rodata.hot`.

Names are made to outlive small changes: a Rust symbol's hash (`17h<16 hex>E`, and the
crate disambiguators `Cs<base62>_` of v0 names) becomes `*` when the name without it still
matches this one section only, so a version bump, other features or the other
architecture keep most rules. Generic copies with one name and several hashes, and
`.Lanon` constants, stay exact: they fall back to the default layout when they change,
which costs page faults, never correctness.
"""

import bisect
import fnmatch
import re
import sys

HEX = re.compile(r"^0x[0-9a-f]+$")

# Valgrind hides the vDSO, so the traces never show musl finding clock_gettime in it: its
# lookup (vdso.lo's __vdsosym, with strcmp) and the version string it compares.
VDSO_LOOKUP = [
    ("text", "*(.text.cgt_init)"),
    ("text", "*(.text.__vdsosym)"),
    ("text", "*(.text.strcmp)"),
    ("rodata", "*(.rodata.cgt_init.str1.1)"),
]


def sections(map_path):
    """(address, size, name, file) of every input section the map places."""
    lines = open(map_path).read().split("\n")
    found = []
    for i, line in enumerate(lines):
        if not line.startswith(" ."):
            continue
        parts = line.split()
        if len(parts) >= 4 and HEX.match(parts[1]) and HEX.match(parts[2]):
            address, size, where = int(parts[1], 16), int(parts[2], 16), parts[3]
        elif len(parts) == 1 and i + 1 < len(lines):
            # A long name puts the address on the next line.
            nxt = lines[i + 1].split()
            if len(nxt) < 3 or not (HEX.match(nxt[0]) and HEX.match(nxt[1])):
                continue
            address, size, where = int(nxt[0], 16), int(nxt[1], 16), nxt[2]
        else:
            continue
        if size and address:
            found.append((address, size, parts[0], where.rsplit("/", 1)[-1]))
    found.sort()
    return found


def touched(placed, traces):
    """The sections each trace touches first, first touch first."""
    starts = [section[0] for section in placed]
    orders, seen = [], set()
    for trace in traces:
        order = []
        orders.append(order)
        last_line = None
        for line in open(trace):
            # Lackey: "I  0040f0a2,3", " L 1ffefffd18,8", " S ...", " M ...".
            if len(line) < 4 or line[0] == "=":
                continue
            try:
                address = int(line[3:].split(",", 1)[0], 16)
            except ValueError:
                continue
            if address >> 6 == last_line:
                continue
            last_line = address >> 6
            k = bisect.bisect_right(starts, address) - 1
            if k < 0:
                continue
            section = placed[k]
            if section[0] + section[1] <= address or section in seen:
                continue
            seen.add(section)
            order.append(section)
    return orders


def kind(name):
    if name == ".text" or name.startswith(".text."):
        return "text"
    if name.startswith(".rodata"):
        return "rodata"
    return None


def rule(section, names):
    """An ld input section rule for `section`, as general as stays unique."""
    _, _, name, where = section
    member = re.match(r"(lib[\w-]+\.a)\((.*)\)$", where)
    if name in (".text", ".rodata") or re.match(r"\.rodata\.(str|cst)\d", name):
        # Sections named by kind only: named by the file that holds them.
        if member:
            return f"*{member.group(1)}:{member.group(2)}({name})"
        if where.endswith(".rcgu.o"):
            return f"*.rcgu.o({name})"
        if where.endswith(".o"):
            return f"*{where}({name})"
        return None
    general = re.sub(r"17h[0-9a-f]{16}E", "17h*E", name)
    general = re.sub(r"Cs[0-9A-Za-z]+_", "Cs*_", general)
    if general != name:
        prefix = general.split("*", 1)[0]
        matcher = re.compile(fnmatch.translate(general))
        k = bisect.bisect_left(names, prefix)
        matches = 0
        while k < len(names) and names[k].startswith(prefix) and matches < 2:
            matches += bool(matcher.match(names[k]))
            k += 1
        if matches == 1:
            return f"*({general})"
    return f"*({name})"


def main():
    map_path, out_path, traces = sys.argv[1], sys.argv[2], sys.argv[3:]
    placed = sections(map_path)
    names = sorted(section[2] for section in placed)
    rules, written = [], set()

    def add(what, text):
        if text and text not in written:
            written.add(text)
            rules.append((what, text))

    for index, order in enumerate(touched(placed, traces)):
        for section in order:
            what = kind(section[2])
            add(what, what and rule(section, names))
        if index == 0:
            # Every check reads the clock: right after the first check's own sections.
            for what, text in VDSO_LOOKUP:
                add(what, text)
    with open(out_path, "w") as out:
        out.write(
            "# Generated by scripts/hot-sections: the code and constants that a tcp, file,\n"
            "# http and process check touch, first touch first. build.rs lays them out first\n"
            "# (.text.hot, .rodata.hot) so that a check faults in fewer 64 KiB windows.\n"
            "# Stale rules cost page faults, never correctness: regenerate after big changes.\n"
        )
        for what, text in rules:
            out.write(f"{what} {text}\n")
    for what in ("text", "rodata"):
        print(f"{what}: {sum(1 for w, _ in rules if w == what)} rules", file=sys.stderr)


if __name__ == "__main__":
    main()
