#!/usr/bin/env python3
"""Seeds for fuzz_mirror (tests/fuzz/corpus/mirror) from real events: builds a primary store with
the entity tool (schemas/shop.json; creates, updates that remove fields, deletes, multi-event
transactions from `load --batch`, a schema evolution), reads its schema versions and its events
(`entity schema`, `entity events`) and writes them as the relay publishes them
(libentity/nats/relay.c: publish_schemas, publish_event): subject tail, headers (a schema message:
Nats-Msg-Id "<id>:schema:<v>", Entity-Schema-Version, Entity-After-Seq; an event: Nats-Msg-Id
"<id>:<seq>", Entity-Seq, Entity-Schema-Version, the version it was written under, and
Entity-Txn-End on a transaction's last event), body. Input format: fuzz_mirror.c. The events
lacked Entity-Schema-Version, which the mirror checks only when it is there (events of relays
before 2026-12-06): the fuzzer started from messages that never reached that check.

    tests/fuzz/mirror_seeds.py [ENTITY_BINARY]      (default build/entity; run from the source root)
    tests/fuzz/mirror_seeds.py --check [DIR]         each seed's headers as the relay's (ctest
                                                     fuzz_mirror_seeds; default DIR the corpus)
"""
import json
import os
import subprocess
import sys
import tempfile

ENTITY = sys.argv[1] if len(sys.argv) > 1 else "build/entity"
OUT = "tests/fuzz/corpus/mirror"
SEP = b"\xff"
PRIMARY = "0b8c6a52-2f60-4c1e-9d6e-5a3c2e1f7a90"  # fuzz_mirror.c's PRIMARY: the subjects' store id


def run(store, *args, stdin=None):
    return subprocess.run([ENTITY, "-s", store, *args], input=stdin, capture_output=True, text=True, check=True).stdout


def schema_msg(version, after, body):
    return (b"schema\nNats-Msg-Id: %s:schema:%d\nEntity-Schema-Version: %d\nEntity-After-Seq: %d\n\n"
            % (PRIMARY.encode(), version, version, after) + body.encode())


def event_msgs(events, under):
    """under(seq): the schema version event seq was written under (the relay's Entity-Schema-Version)"""
    out = []
    for i, ev in enumerate(events):
        end = i + 1 == len(events) or events[i + 1]["txn"] != ev["txn"]
        head = "%s.%s\nNats-Msg-Id: %s:%d\nEntity-Seq: %d\nEntity-Schema-Version: %d\n" % (
            ev["type"], ev["op"], PRIMARY, ev["seq"], ev["seq"], under(ev["seq"]))
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
        # a dump's id counter line loaded: its raise is an event ("op":"last_id", the counter as
        # its key), in the transaction of the entities loaded with it
        run(s, "load", "--batch", "3", stdin='{"type":"customer","key":30,"version":1,"data":{"email":"r@x","name":"R"}}\n'
            '{"type":"customer","last_id":40}\n')
        run(s, "put", "customer", '{"email":"after@x","name":"After"}')  # id 41
        evr = [json.loads(l) for l in run(s, "events").splitlines() if l.strip()]

    def under(seq):
        return 1 if seq <= last1 else 2

    one_txn = event_msgs(ev1, under)
    after_v2 = event_msgs(evs, under)[len(ev1):]
    base = [schema_msg(1, 0, v1)] + one_txn
    write("single_and_batched", base)
    write("evolve", base + [schema_msg(2, last1, v2)] + after_v2)
    # schema version 2's message missing (the stream's limits dropped it): the mirror stops at the
    # first event written under it
    write("schema_missing", base + after_v2)
    # the same stream delivered again from the start (a new consumer): duplicates skipped
    write("redelivered", base + [schema_msg(1, 0, v1)] + one_txn[:4] + one_txn)
    # a transaction cut short (no Txn-End yet), then the stream goes on
    write("half_txn", [schema_msg(1, 0, v1)] + one_txn[:-1])
    # a seq missing: the mirror stops naming it
    write("gap", [schema_msg(1, 0, v1)] + one_txn[:2] + one_txn[3:])
    # an event before any schema
    write("no_schema", one_txn[:2])
    # an id counter raised by a load (ENT_OP_LAST_ID), then a create above it
    write("last_id", base + [schema_msg(2, last1, v2)] + after_v2 + event_msgs(evr, under)[len(evs):])


def check(d):
    """Every seed's messages carry the headers the relay publishes (relay.c), with the values it
    gives them; a seed may leave messages out (a gap) or repeat them, not change them. Returns the
    number of problems, each printed."""
    bad = 0
    names = sorted(os.listdir(d))
    for name in names:
        with open(os.path.join(d, name), "rb") as f:
            data = f.read()[1:]
        version = 0  # the last schema version in the seed so far
        for i, chunk in enumerate(data.split(SEP)):
            head, _, _ = chunk.partition(b"\n\n")
            lines = head.decode().split("\n")
            tail, hdr = lines[0], dict(l.split(": ", 1) for l in lines[1:])
            where = "%s, message %d (%s)" % (name, i + 1, tail)
            if tail == "schema":
                v = int(hdr.get("Entity-Schema-Version", 0))
                want = {"Nats-Msg-Id": "%s:schema:%d" % (PRIMARY, v), "Entity-Schema-Version": str(v)}
                version = max(version, v)
                need = ["Entity-After-Seq"]
            else:
                seq = hdr.get("Entity-Seq", "?")
                want = {"Nats-Msg-Id": "%s:%s" % (PRIMARY, seq)}
                need = ["Entity-Seq", "Entity-Schema-Version"]
            for k in need:
                if k not in hdr:
                    print("%s: no %s header (the relay's messages carry it)" % (where, k))
                    bad += 1
            for k, v in want.items():
                if hdr.get(k) != v:
                    print("%s: %s is %r, the relay's would be %r" % (where, k, hdr.get(k), v))
                    bad += 1
    if not names:
        print("%s: no seeds" % d)
        bad += 1
    return bad


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--check":
        sys.exit(1 if check(sys.argv[2] if len(sys.argv) > 2 else OUT) else 0)
    main()
