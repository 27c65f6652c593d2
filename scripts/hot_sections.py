#!/usr/bin/env python3
"""Writes layout/hot-sections.txt from link maps and valgrind lackey traces (see
scripts/hot-sections, which makes them).

    hot_sections.py OUT --build MAP TRACE... [--build MAP TRACE...]

Every code and read-only data section the traced runs touch is listed once, in the order
first touched (the first trace's sections, then what each next trace adds), as an input
section rule of a GNU ld script. build.rs puts the `text` rules first in `.text.hot` and
the `rodata` rules in `.rodata.hot`.

Names are made to outlive small changes: a Rust symbol's hash (`17h<16 hex>E`, and the
crate disambiguators `Cs<base62>_` of v0 names) becomes `*` when the name without it still
matches this one section only, or only small copies ([`SMALL_COPIES`]), so a version bump,
other features or the other architecture keep most rules. The copies of a large generic
function (the closures' `FnOnce::call_once`), and `.Lanon` constants, stay exact: they fall
back to the default layout when they change, which costs page faults, never correctness;
`cargo auditable build` (the release build) changes every hash, so its exact names are
listed beside the plain build's.
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


# A glob that also takes other copies of a generic function is kept while all it takes
# weighs at most this: small copies cost less room than a rule that breaks on a new hash.
SMALL_COPIES = 4096


def rule(section, names, sizes):
    """An ld input section rule for `section`, as general as stays small."""
    _, _, name, where = section
    member = re.match(r"(lib[\w-]+\.a)\((.*)\)$", where)
    if name in (".text", ".rodata") or re.match(r"\.rodata\.(str|cst)\d", name):
        # Sections named by kind only: named by the file that holds them.
        size = section[1]
        if member:
            return f"*{member.group(1)}:{member.group(2)}({name})", size
        if where.endswith(".rcgu.o"):
            return f"*.rcgu.o({name})", size
        if where.endswith(".o"):
            return f"*{where}({name})", size
        return None, 0
    general = re.sub(r"17h[0-9a-f]{16}E", "17h*E", name)
    general = re.sub(r"Cs[0-9A-Za-z]+_", "Cs*_", general)
    if general != name:
        prefix = general.split("*", 1)[0]
        matcher = re.compile(fnmatch.translate(general))
        k = bisect.bisect_left(names, prefix)
        matches, taken = 0, 0
        while k < len(names) and names[k].startswith(prefix):
            if matcher.match(names[k]):
                matches += 1
                taken += sizes[names[k]]
            k += 1
        if matches == 1 or taken <= SMALL_COPIES:
            return f"*({general})", taken
    return f"*({name})", sizes[name]


def build_rules(map_path, traces):
    """(kind, rule, bytes) for one build's map and traces, first touch first."""
    placed = sections(map_path)
    names = sorted(section[2] for section in placed)
    sizes = {}
    for section in placed:
        sizes[section[2]] = sizes.get(section[2], 0) + section[1]
    rules = []
    for index, order in enumerate(touched(placed, traces)):
        for section in order:
            what = kind(section[2])
            if what:
                text, size = rule(section, names, sizes)
                if text:
                    rules.append((what, text, size))
        if index == 0:
            # Every check reads the clock: right after the first check's own sections.
            rules.extend((what, text, 0) for what, text in VDSO_LOOKUP)
    return rules


def main():
    """hot_sections.py OUT --build MAP TRACE... [--build MAP TRACE...]

    Builds that differ only in their symbols' hashes (`cargo build` and `cargo auditable
    build`: the wrapper changes the crates' metadata) touch the same sections in the same
    order; their rules are merged side by side, so that both find their exact names. The
    bytes are the first build's."""
    out_path, groups = sys.argv[1], " ".join(sys.argv[2:]).split("--build")
    builds = [group.split() for group in groups if group.strip()]
    lists = [build_rules(build[0], build[1:]) for build in builds]
    rules, written = [], set()
    weight = {"text": 0, "rodata": 0}
    for at in range(max(len(listed) for listed in lists)):
        for index, listed in enumerate(lists):
            if at < len(listed) and listed[at][1] not in written:
                what, text, size = listed[at]
                written.add(text)
                rules.append((what, text))
                if index == 0:
                    weight[what] += size
    with open(out_path, "w") as out:
        out.write(
            "# Generated by scripts/hot-sections: the code and constants that a tcp, file,\n"
            "# http and process check touch, first touch first. build.rs lays them out first\n"
            "# (.text.hot, .rodata.hot) so that a check faults in fewer 64 KiB windows.\n"
            "# Stale rules cost page faults, never correctness, and names change with the\n"
            "# code and the dependencies: scripts/build-release fails an x86_64 build whose\n"
            "# hot sections lost 5% of the bytes below; rerun scripts/hot-sections.\n"
            f"# bytes: text {weight['text']} rodata {weight['rodata']}\n"
        )
        for what, text in rules:
            out.write(f"{what} {text}\n")
    for what in ("text", "rodata"):
        print(f"{what}: {sum(1 for w, _ in rules if w == what)} rules", file=sys.stderr)


if __name__ == "__main__":
    main()
