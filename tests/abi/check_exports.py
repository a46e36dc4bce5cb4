#!/usr/bin/env python3
"""The dynamic symbols libentity.so defines are exactly the functions the public headers declare.

usage: check_exports.py NM LIBENTITY_SO INCLUDE_DIR

Fails (exit 1, listing the names) when the library exports a symbol no public header declares (an
internal ent__ function, or any other leak), when a public declaration is not exported (missing
ENT_EXTERN, or declared and never defined), when a public declaration lacks ENT_EXTERN, or when a
header that declares functions has no extern "C" block (a C++ host would then link mangled names).
"""
import glob
import os
import re
import subprocess
import sys

# Defined by the toolchain and the C runtime, not by the library's code.
LINKER_SYMBOLS = {"_init", "_fini", "_edata", "_end", "__bss_start"}


def declared(include_dir):
    """Public function names -> whether their declaration carries ENT_EXTERN."""
    names = {}
    unguarded = []
    headers = sorted(glob.glob(os.path.join(include_dir, "entity", "*.h")))
    if not headers:
        sys.exit("check_exports: no headers under %s/entity" % include_dir)
    for h in headers:
        text = open(h, encoding="utf-8").read()
        text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
        text = re.sub(r"//[^\n]*", " ", text)
        if "ENT_EXTERN(" in text.replace("#define ENT_EXTERN(", "") and \
                not re.search(r'^\s*extern\s+"C"\s*\{', text, flags=re.M):
            unguarded.append(os.path.basename(h))
        text = re.sub(r"\\\n", " ", text)
        text = re.sub(r"^\s*#[^\n]*", " ", text, flags=re.M)
        # inline functions are not symbols of the library
        text = re.sub(r"static\s+inline[^{;]*\{.*?\n\}", " ", text, flags=re.S)
        for m in re.finditer(r"(?<!\w)(ent_[A-Za-z0-9_]+)\s*\(", text):
            # "(*ent_cb)(": a function pointer (typedef or struct member), not a function
            if text[:m.start()].rstrip(" \t\n*").endswith("("):
                continue
            start = max(text.rfind(";", 0, m.start()), text.rfind("{", 0, m.start()),
                        text.rfind("}", 0, m.start()))
            stmt = text[start + 1:m.start()]
            if "typedef" in stmt:
                continue
            names[m.group(1)] = "ENT_EXTERN(" in stmt
    return names, unguarded


def exported(nm, lib):
    out = subprocess.run([nm, "-D", "--defined-only", lib], check=True, capture_output=True,
                         text=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        name = parts[2].split("@")[0]
        # A and N are absolute and debug symbols of the linker, never functions or data of ours.
        if parts[1] in "AN" or name in LINKER_SYMBOLS:
            continue
        syms.add(name)
    return syms


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    nm, lib, include_dir = sys.argv[1:]
    decl, unguarded = declared(include_dir)
    syms = exported(nm, lib)
    problems = ["public header without an extern \"C\" block: %s" % h for h in unguarded]
    for name in sorted(syms - set(decl)):
        why = "internal function" if name.startswith("ent__") else "not declared in a public header"
        problems.append("exported but %s: %s" % (why, name))
    for name in sorted(set(decl) - syms):
        problems.append("declared in a public header but not exported: %s" % name)
    for name in sorted(n for n, marked in decl.items() if not marked):
        problems.append("public declaration without ENT_EXTERN: %s" % name)
    print("%s: %d symbols exported, %d functions declared in %s/entity/*.h"
          % (os.path.basename(lib), len(syms), len(decl), include_dir))
    if not decl or not syms:
        problems.append("nothing to compare (parsed no declarations or no symbols)")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
