#!/usr/bin/env python3
"""Every global symbol the static libraries define is in libentity's namespace (ent_ / ENT_).

usage: check_archive.py NM ARCHIVE...

A host that links libentity.a (or libentity-nats.a, libentity-http.a) shares one symbol namespace
with it: an internal helper named without the prefix (as libentity-nats's enats_* were) could
collide with a host's own function or another library's. Fails (exit 1, listing them) otherwise.
"""
import os
import subprocess
import sys


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    nm, archives = sys.argv[1], sys.argv[2:]
    problems = []
    for a in archives:
        out = subprocess.run([nm, "-g", "--defined-only", a], check=True, capture_output=True,
                             text=True).stdout
        n = 0
        for line in out.splitlines():
            parts = line.split()
            if len(parts) != 3:
                continue  # "member.o:" headers and blank lines
            n += 1
            # "__" names are the toolchain's (sanitizer instrumentation: __odr_asan.<name>)
            if not parts[2].startswith(("ent_", "ENT_", "__")):
                problems.append("%s: global symbol outside the ent_ namespace: %s"
                                % (os.path.basename(a), parts[2]))
        print("%s: %d global symbols" % (os.path.basename(a), n))
        if n == 0:
            problems.append("%s: no global symbol found (nm failed to read it?)" % a)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
