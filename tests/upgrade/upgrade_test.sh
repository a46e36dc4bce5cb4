#!/usr/bin/env bash
# Upgrade: stores made by older entity tools (fixtures/C-STORE.tar.gz, made by make_fixtures.sh at
# commit C; README.md beside this file says which) opened with this tree's tool. Each must check
# clean, dump and list the same entities and events as the old tool did (recorded in the fixture
# when it was made), keep its subscriptions, schema history and id counters, take writes and an
# evolution and check clean after them, and copy and replay. A durable store whose writer was
# killed mid-load is also opened as after a reboot (its write-ahead records put back: the boot id
# hidden in a mount namespace, where this runs as root) and compared the same way.
# Core only (no NATS, no HTTP). LMDB files are of x86-64's page size and byte order.
set -u
E=$1 HERE=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
# run CMD...: exit 0 expected, output in $work/out and $work/err
run() { "$@" >"$work/out" 2>"$work/err"; local rc=$?; if [ $rc = 0 ]; then ok; else bad "$* -> exit $rc: $(head -c 300 "$work/err")"; fi; return $rc; }
# checked STORE WHAT: entity check says ok
checked() { if "$E" -s "$1" check >"$work/ck" 2>&1 && [ "$(cat "$work/ck")" = ok ]; then ok; else bad "$2: check: $(head -c 300 "$work/ck")"; fi; }

# same_dump OLD NEW WHAT: the entity and counter lines of two dumps equal as JSON values (a dump of
# this tool has a header and an end line, from 2026-12-07 its id counters' lines, and prints each
# float as the shortest text that reads back to it, from 2026-12-02: 0.1 for 0.10000000000000001)
same_dump() {
  python3 - "$1" "$2" <<'PY' && ok || bad "$3: dump differs from the old tool's"
import json, sys
def lines(p):
    out = []
    for l in open(p, encoding="utf-8"):
        d = json.loads(l)
        if "dump" in d or "end" in d or "last_id" in d:
            continue
        out.append(json.dumps(d))
    return out
a, b = lines(sys.argv[1]), lines(sys.argv[2])
if a != b:
    for x, y in zip(a, b):
        if x != y:
            print("old:", x[:300]); print("new:", y[:300]); break
    print(len(a), "old lines,", len(b), "new lines")
    sys.exit(1)
PY
}
# same_events OLD NEW WHAT: the same events (seq, ts, txn, type, key, op, version, data); an event
# whose field a later evolution removed holds it in this tool's output (since 2026-12-03 it prints
# what was written), the older one left it out: the old data must be a part of the new
same_events() {
  python3 - "$1" "$2" <<'PY' && ok || bad "$3: events differ from the old tool's"
import json, sys
a = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
b = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8")]
if len(a) != len(b):
    print(len(a), "old events,", len(b), "new"); sys.exit(1)
for x, y in zip(a, b):
    dx, dy = x.pop("data"), y.pop("data")
    if x != y or any(k not in dy or json.dumps(dy[k]) != json.dumps(v) for k, v in dx.items()):
        print("old:", json.dumps(x)[:200], json.dumps(dx)[:200]); print("new:", json.dumps(y)[:200], json.dumps(dy)[:200])
        sys.exit(1)
PY
}

# a write of each fixture's kind of store, then an evolution adding an indexed field with a default
write_some() {
  local d=$1 what=$2
  case $what in
  *-shop|*-killed)
    run "$E" -s "$d" put customer '{"email":"upgraded@x.org","name":"Upgraded"}'
    run "$E" -s "$d" patch customer 1 '{"name":"One, upgraded"}'
    run "$E" -s "$d" put order '{"customer":1,"lines":[{"sku":"apple","qty":2}]}'
    run "$E" -s "$d" rm order "$(python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["key"])' <"$work/out")" ;;
  *-mix)
    run "$E" -s "$d" put thing '{"u":777,"extra":"up","free":{"z":[1,{"y":null}]},"own":"eve"}'
    run "$E" -s "$d" patch owner bob '{"score":1,"rank":3}'
    run "$E" -s "$d" rm thing 1 ;;
  *-fleet)
    run "$E" -s "$d" put reading '{"device":"d2","at":5,"samples":[1]}'
    run "$E" -s "$d" patch device d2 '{"online":false,"labels":{"x":"y"}}'
    run "$E" -s "$d" rm alert 1 ;;
  esac
  "$E" -s "$d" schema >"$work/sch" && python3 - "$work/sch" <<'PY' && run "$E" -s "$d" schema --apply "$work/sch"
import json, sys
s = json.load(open(sys.argv[1])); s["version"] += 1
t = sorted(s["types"])[0]; f = s["types"][t]["fields"]
f["upgraded"] = {"id": max(v["id"] for v in f.values()) + 20, "type": "string", "indexed": True, "default": "u"}
json.dump(s, open(sys.argv[1], "w"))
PY
}

can_reboot=0
if [ "$(id -u)" = 0 ] && unshare -m sh -c 'mount --bind /dev/null /proc/sys/kernel/random/boot_id' 2>/dev/null; then
  can_reboot=1
else
  echo "note: not root or no mount namespace: the killed stores are not opened as after a reboot"
fi

n=0 rebooted=0
for tgz in "$HERE"/fixtures/*.tar.gz; do
  what=$(basename "$tgz" .tar.gz)
  tar -C "$work" -xzf "$tgz" || { bad "$what: cannot unpack"; continue; }
  f=$work/$what d=$work/$what/store
  n=$((n + 1))
  grep -qx ok "$f/old.check" || bad "$what: the old tool's own check was not ok"
  # reads first, before any writable open marks the store with this library's format
  checked "$d" "$what (as the old tool left it)"
  run "$E" -s "$d" dump && same_dump "$f/old.dump" "$work/out" "$what" && cp "$work/out" "$f/new.dump"
  run "$E" -s "$d" events && same_events "$f/old.events" "$work/out" "$what" && cp "$work/out" "$f/new.events"
  run "$E" -s "$d" subs && { cmp -s "$f/old.subs" "$work/out" && ok || bad "$what: subs differ: $(head -c 300 "$work/out")"; }
  run "$E" -s "$d" schema && { python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1])) != json.load(open(sys.argv[2])))' "$f/old.schema" "$work/out" && ok || bad "$what: schema differs"; }
  run "$E" -s "$d" stat && python3 - "$f/old.stat" "$work/out" <<'PY' && ok || bad "$what: stat differs from the old tool's"
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
for k in ("schema", "durability", "log", "subscriptions"):
    if k in a and a[k] != b.get(k): print(k, a[k], b.get(k)); sys.exit(1)
for t, v in a["types"].items():
    if b["types"][t]["count"] != v["count"]: print(t, v, b["types"][t]); sys.exit(1)
if "id" in a and a["id"] != b.get("id"): print("id", a["id"], b.get("id")); sys.exit(1)
PY
  # the id counters: each auto type's next id is above every id the old store handed out
  python3 - "$f/old.events" >"$work/ids" <<'PY'
import json, sys
top = {}
for l in open(sys.argv[1], encoding="utf-8"):
    e = json.loads(l)
    if isinstance(e["key"], int): top[e["type"]] = max(top.get(e["type"], 0), e["key"])
for t, k in sorted(top.items()): print(t, k)
PY
  if [ "$can_reboot" = 1 ] && [ -s "$d/wal" ] && [ "${what#*-}" = killed ]; then
    # as after a reboot: the records the killed writer left are put back over data.mdb
    rm -rf "$f/reboot"; cp -a "$d" "$f/reboot"
    if unshare -m sh -c 'mount --bind /dev/null /proc/sys/kernel/random/boot_id && exec "$0" -s "$1" count product' "$E" "$f/reboot" >"$work/out" 2>"$work/err"; then
      ok; rebooted=$((rebooted + 1)); checked "$f/reboot" "$what (after a reboot)"
      run "$E" -s "$f/reboot" dump && same_dump "$f/old.dump" "$work/out" "$what (after a reboot)"
    else
      bad "$what: open after a reboot: $(head -c 300 "$work/err")"
    fi
  fi
  write_some "$d" "$what"
  checked "$d" "$what (after writes and an evolution)"
  # the old events are still there, unchanged, before the new ones
  run "$E" -s "$d" events && head -n "$(wc -l <"$f/new.events")" "$work/out" | cmp -s - "$f/new.events" && ok || bad "$what: the old events changed after writes"
  while read -r t top; do
    case $t in customer) body='{"email":"next@x.org","name":"Next"}' ;; thing) body='{"u":4242}' ;; reading) body='{"device":"d1","at":9}' ;; order) body='{"customer":1}' ;; alert) body='{"device":"d1","opened":1}' ;; *) continue ;; esac
    run "$E" -s "$d" put "$t" "$body" && { k=$(python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["key"])' <"$work/out"); [ "$k" -gt "$top" ] && ok || bad "$what: new $t got id $k, the old store had handed out $top"; }
  done <"$work/ids"
  checked "$d" "$what (after new ids)"
  run "$E" -s "$d" copy "$f/copy" && checked "$f/copy" "$what (copy)"
  "$E" -s "$d" dump >"$work/a" 2>/dev/null; "$E" -s "$f/copy" dump >"$work/b" 2>/dev/null
  same_dump "$work/a" "$work/b" "$what (copy)"
  if [ "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["log"]["first_seq"])' "$f/old.stat")" = 1 ]; then
    run "$E" -s "$d" replay --into "$f/replay" && checked "$f/replay" "$what (replay)"
    "$E" -s "$f/replay" dump >"$work/b" 2>/dev/null
    same_dump "$work/a" "$work/b" "$what (replay)"
  fi
  rm -rf "$f"
done
[ "$n" -ge 20 ] && ok || bad "only $n fixtures found under $HERE/fixtures"
[ "$can_reboot" = 0 ] || { [ "$rebooted" -ge 3 ] && ok || bad "only $rebooted killed stores opened as after a reboot"; }
echo "$n fixtures, $rebooted killed stores also opened as after a reboot"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
