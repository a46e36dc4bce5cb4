#!/usr/bin/env python3
"""Seeds for fuzz_mirror (tests/fuzz/corpus/mirror) from real events: builds a primary store with
the entity tool (schemas/shop.json; creates, updates that remove fields, deletes, multi-event
transactions from `load --batch`, a schema evolution), reads its schema versions and its events
(`entity schema`, `entity events`) and writes them as the relay publishes them: subject tail,
headers (Entity-Schema-Version and Entity-After-Seq; Entity-Seq, and Entity-Txn-End on a
transaction's last event), body. Input format: fuzz_mirror.c.

    tests/fuzz/mirror_seeds.py [ENTITY_BINARY]      (default build/entity; run from the source root)
"""
import json
import os
import subprocess
import sys
import tempfile

ENTITY = sys.argv[1] if len(sys.argv) > 1 else "build/entity"
OUT = "tests/fuzz/corpus/mirror"
SEP = b"\xff"


def run(store, *args, stdin=None):
    return subprocess.run([ENTITY, "-s", store, *args], input=stdin, capture_output=True, text=True, check=True).stdout


def schema_msg(version, after, body):
    return b"schema\nEntity-Schema-Version: %d\nEntity-After-Seq: %d\n\n" % (version, after) + body.encode()


def event_msgs(events):
    out = []
    for i, ev in enumerate(events):
        end = i + 1 == len(events) or events[i + 1]["txn"] != ev["txn"]
        head = "%s.%s\nEntity-Seq: %d\n" % (ev["type"], ev["op"], ev["seq"])
        if end:
            head += "Entity-Txn-End: 1\n"
        out.append((head + "\n").encode() + json.dumps(ev, separators=(",", ":")).encode())
    return out


def write(name, msgs):
    os.makedirs(OUT, exist_ok=True)
    for backend, tag in ((b"\x00", "mem"), (b"\x01", "lmdb")):
        with open(os.path.join(OUT, "%s_%s" % (name, tag)), "wb") as f:
            f.write(backend + SEP.join(msgs))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        s = os.path.join(tmp, "primary")
        run(s, "init", "--schema", "schemas/shop.json")
        v1 = run(s, "schema").strip()
        run(s, "put", "customer", '{"email":"ada@x","name":"Ada","joined":"2026-01-02T03:04:05Z"}')
        run(s, "put", "customer", '{"email":"grace@x","name":"Grace"}')
        run(s, "put", "product", "--key", "tea", '{"price":2.5,"stock":3,"tags":["hot","leaf"],"attrs":{"color":"green"}}')
        run(s, "patch", "customer", "1", '{"vip":true,"joined":null}')
        run(s, "put", "order", '{"customer":1,"lines":[{"sku":"tea","qty":2}]}')
        run(s, "patch", "order", "1", '{"status":"paid"}')
        run(s, "rm", "customer", "2")
        lines = "".join(
            json.dumps({"type": "customer", "key": 10 + i, "version": 1, "data": {"email": "c%d@x" % i, "name": "C%d" % i}}) + "\n" for i in range(5)
        )
        run(s, "load", "--batch", "3", stdin=lines)
        ev1 = [json.loads(l) for l in run(s, "events").splitlines() if l.strip()]
        last1 = ev1[-1]["seq"]
        # v2: a new field with a default on customer (the mirror evolves when the message comes)
        sc = json.loads(v1)
        sc["version"] = 2
        sc["types"]["customer"]["fields"]["tier"] = {"id": 50, "type": "string", "default": "basic", "indexed": True}
        v2path = os.path.join(tmp, "v2.json")
        with open(v2path, "w") as f:
            json.dump(sc, f)
        run(s, "schema", "--apply", v2path)
        v2 = run(s, "schema").strip()
        run(s, "put", "customer", '{"email":"eve@x","name":"Eve","tier":"gold"}')
        run(s, "patch", "customer", "1", '{"tier":"silver"}')
        evs = [json.loads(l) for l in run(s, "events").splitlines() if l.strip()]

    one_txn = event_msgs(ev1)
    base = [schema_msg(1, 0, v1)] + one_txn
    write("single_and_batched", base)
    write("evolve", base + [schema_msg(2, last1, v2)] + event_msgs(evs)[len(ev1):])
    # the same stream delivered again from the start (a new consumer): duplicates skipped
    write("redelivered", base + [schema_msg(1, 0, v1)] + one_txn[:4] + one_txn)
    # a transaction cut short (no Txn-End yet), then the stream goes on
    write("half_txn", [schema_msg(1, 0, v1)] + one_txn[:-1])
    # a seq missing: the mirror stops naming it
    write("gap", [schema_msg(1, 0, v1)] + one_txn[:2] + one_txn[3:])
    # an event before any schema
    write("no_schema", one_txn[:2])


if __name__ == "__main__":
    main()
