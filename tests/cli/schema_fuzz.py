#!/usr/bin/env python3
"""Mutated schema descriptors against the real `entity` binary.

Each mutant of schemas/shop.json (values replaced by values of other types, keys dropped or
added, names too long, bytes flipped) must either be refused by `entity init` with exit 1 and one
"entity: " line, or create a store that `schema`, `stat`, `check`, `put` and `dump` then work on
with exit 0, 1 or 2 — never a crash, a sanitizer report or another exit code. Deterministic:
the seed and count are arguments. Usage: schema_fuzz.py ENTITY SRC_DIR [SEED] [COUNT]
"""
import copy
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

entity, src = sys.argv[1], sys.argv[2]
seed = int(sys.argv[3]) if len(sys.argv) > 3 else 1
count = int(sys.argv[4]) if len(sys.argv) > 4 else 120
random.seed(seed)
base = json.load(open(os.path.join(src, "schemas", "shop.json")))
VALUES = [None, True, False, 0, -1, 1, 65535, 65536, 2**63, -2**63, 1e308, "", "x" * 300,
          "string", "int", "uint", "float", "map", "array", "ref", "bytes", "timestamp", "bool",
          [], {}, [1, 2], {"a": 1}, "auto", "customer", "order"]
KEYS = ["x", "type", "id", "items", "fields", "to", "default", "min", "max", "enum", "max_length",
        "unique", "indexed", "required", "key", "Bad-Name", "a" * 70]
env = dict(os.environ)
env.setdefault("ASAN_OPTIONS", "detect_leaks=1")
env.setdefault("UBSAN_OPTIONS", "halt_on_error=1:print_stacktrace=1")


def value():
    return copy.deepcopy(random.choice(VALUES))


def mutate(o):
    if isinstance(o, dict) and o:
        k = random.choice(list(o.keys()))
        r = random.random()
        if r < 0.3:
            o[k] = value()
        elif r < 0.4:
            del o[k]
        elif r < 0.5:
            o[random.choice(KEYS)] = value()
        else:
            mutate(o[k])
    elif isinstance(o, list) and o:
        i = random.randrange(len(o))
        if random.random() < 0.5:
            o[i] = value()
        else:
            mutate(o[i])


def broken(p, err):
    return p.returncode not in (0, 1, 2) or b"Sanitizer" in err or b"runtime error" in err


failures = accepted = 0
work = tempfile.mkdtemp()
try:
    for n in range(count):
        s = copy.deepcopy(base)
        for _ in range(random.randint(1, 4)):
            mutate(s)
        text = bytearray(json.dumps(s).encode())
        if random.random() < 0.2:
            for _ in range(random.randint(1, 5)):
                text[random.randrange(len(text))] = random.randrange(256)
        d = os.path.join(work, str(n))
        os.mkdir(d)
        f = os.path.join(d, "s.json")
        open(f, "wb").write(text)
        st = os.path.join(d, "st")
        p = subprocess.run([entity, "-s", st, "init", "--schema", f], capture_output=True, env=env)
        if broken(p, p.stderr) or p.returncode == 2 or (p.returncode == 1 and not p.stderr.startswith(b"entity: ")):
            failures += 1
            print(f"FAIL mutant {n}: init exit {p.returncode}: {p.stderr[:400]!r}\n  {bytes(text)[:300]!r}")
        if p.returncode == 0:
            accepted += 1
            for args in (["schema"], ["stat"], ["check"], ["put", "customer", '{"email":"a@b","name":"x"}'], ["dump"]):
                q = subprocess.run([entity, "-s", st] + args, capture_output=True, env=env)
                if broken(q, q.stderr):
                    failures += 1
                    print(f"FAIL mutant {n}: {' '.join(args)} exit {q.returncode}: {q.stderr[:400]!r}")
        shutil.rmtree(d)
finally:
    shutil.rmtree(work, ignore_errors=True)
print(f"{count} mutated schemas (seed {seed}): {accepted} accepted and used, {count - accepted} refused, {failures} failures")
sys.exit(1 if failures else 0)
