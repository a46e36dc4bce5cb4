#!/usr/bin/env bash
# Makes the fixture stores of tests/upgrade with an OLDER entity tool, and records that tool's view
# of each (dump, events, subs, stat, check, schema) beside it: upgrade_test.sh then opens each with
# the tool of this tree and compares. Run from a build of the old commit, e.g.
#   git worktree add --detach /tmp/old-C C && cmake -S /tmp/old-C -B /tmp/old-C/build \
#     -DCMAKE_BUILD_TYPE=Release -DENT_REQUIRE_HTTP=OFF -DENT_REQUIRE_NATS=OFF -DENT_BUILD_TESTS=OFF &&
#   cmake --build /tmp/old-C/build -j2 --target entity_cli
#   bash tests/upgrade/make_fixtures.sh /tmp/old-C/build/entity C tests/upgrade/fixtures
# (commits of before 2026-12-02 also need libglib2.0-dev and libsqlite3-dev). Writes
# OUT/C-shop.tar.gz and the like: each holds C-STORE/store (the store's directory as the old tool
# left it, lock files included) and C-STORE/old.* (the old tool's outputs).
# LMDB's data.mdb is of the machine's page size and byte order: these are x86-64 stores (4 KiB
# pages, little-endian), as CI's machine is.
set -u
E=$1 C=$2 OUT=$3
HERE=$(cd "$(dirname "$0")" && pwd)
SCH=$HERE/../../schemas
O=$(mktemp -d)
trap 'rm -rf "$O"' EXIT
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# x CMD...: a step of the recipe; one that fails is logged (some fail on purpose: a missing key)
x() { "$@" >> "$O/log" 2>&1 || echo "FAILED($?): ${*:3}" >> "$O/log"; }
# pack STORE_DIR: the old tool's outputs, then the tarball
pack() {
  local d=$1 n; n=$C-$(basename "$1"); mkdir -p "$O/$n"
  "$E" -s "$d" dump > "$O/$n/old.dump" 2>&1
  "$E" -s "$d" events > "$O/$n/old.events" 2>&1
  "$E" -s "$d" subs > "$O/$n/old.subs" 2>&1
  "$E" -s "$d" stat > "$O/$n/old.stat" 2>&1
  "$E" -s "$d" check > "$O/$n/old.check" 2>&1
  "$E" -s "$d" schema > "$O/$n/old.schema" 2>&1
  mv "$d" "$O/$n/store"
  tar -C "$O" --owner=0 --group=0 -czf "$OUT/$n.tar.gz" "$n"
}

# 1. shop, durable, closed cleanly: creates, updates, deletes, an evolution, subscriptions, a trim
d="$O/shop"; x "$E" -s "$d" init --schema "$SCH/shop.json" --durability durable
for i in $(seq 1 12); do x "$E" -s "$d" put customer "{\"email\":\"c$i@x.org\",\"name\":\"C $i\",\"joined\":\"2026-11-0${i:0:1}T10:00:0${i: -1}Z\",\"vip\":$([ $((i%3)) = 0 ] && echo true || echo false)}"; done
x "$E" -s "$d" subs add early
for p in apple pear plum "with space" "ünï"; do x "$E" -s "$d" put product --key "$p" "{\"price\":1.5,\"stock\":3,\"tags\":[\"a\",\"b\"],\"attrs\":{\"origin\":\"x\",\"n\":[1,2.5,null,true,{\"deep\":\"y\"}]},\"dims\":{\"w\":0.1,\"h\":-0.0}}"; done
for i in 1 2 3 4 5; do x "$E" -s "$d" put order "{\"customer\":$i,\"status\":\"paid\",\"lines\":[{\"sku\":\"apple\",\"qty\":$i}]}"; done
x "$E" -s "$d" patch customer 2 '{"name":"Two","vip":true}'
x "$E" -s "$d" patch product pear '{"stock":9,"attrs":{"origin":null,"k":"v"}}'
x "$E" -s "$d" rm order 5
x "$E" -s "$d" rm customer 12
x "$E" -s "$d" rm customer 11
x "$E" -s "$d" subs add mid
x "$E" -s "$d" subs ack early 10
x "$E" -s "$d" trim --below 5 --force
python3 - "$SCH/shop.json" "$O/shop2.json" <<'PY'
import json,sys; s=json.load(open(sys.argv[1])); s['version']=2
s['types']['customer']['fields']['phone']={"id":5,"type":"string","indexed":True}
s['types']['customer']['fields']['tier']={"id":6,"type":"uint","default":1}
s['types']['product']['fields']['sku2']={"id":6,"type":"string","unique":True}
json.dump(s,open(sys.argv[2],'w'))
PY
x "$E" -s "$d" schema --apply "$O/shop2.json"
x "$E" -s "$d" put customer '{"email":"new@x.org","name":"New","phone":"555","tier":4}'
x "$E" -s "$d" patch customer 3 '{"phone":"333"}'
x "$E" -s "$d" put product --key kiwi '{"price":2,"sku2":"K-1"}'
x "$E" -s "$d" subs add late --from-now
x "$E" -s "$d" subs ack mid 20
pack "$d"

# 2. mix, lazy: every field kind, three schema versions
d="$O/mix"; x "$E" -s "$d" init --schema "$HERE/mix1.json" --durability lazy
for o in ann bob "c d"; do x "$E" -s "$d" put owner --key "$o" "{\"handle\":\"h-$o\"}"; done
for i in $(seq 1 20); do
  x "$E" -s "$d" put thing "{\"i\":$((i*7-70)),\"u\":$((i*1000+18446744073709550000%1000)),\"f\":$i.25,\"s\":\"$([ $((i%2)) = 0 ] && echo green || echo blue)\",\"by\":\"aGVsbG8=\",\"ts\":\"2026-12-01T00:00:$((10+i))Z\",\"arr\":[1,-2,$i],\"arrm\":[{\"k\":\"a\"},{\"k\":\"b\",\"n\":$i}],\"free\":{\"a\":{\"b\":[\"c\",$i,1.5e300,-0.0]},\"s\":\"t\\u00e9\"},\"dm\":{\"x\":$i.5},\"own\":\"$([ $((i%2)) = 0 ] && echo ann || echo bob)\",\"note\":\"n$i\"}"
done
x "$E" -s "$d" put thing '{"u":"18446744073709551615","f":-1e-300,"i":-1000000}'
x "$E" -s "$d" subs add m1
x "$E" -s "$d" schema --apply "$HERE/mix2.json"
x "$E" -s "$d" patch thing 3 '{"extra":"e3","cnt":5}'
x "$E" -s "$d" patch owner ann '{"bio":"hi","score":-4}'
x "$E" -s "$d" rm thing 20
x "$E" -s "$d" rm thing 21
x "$E" -s "$d" subs ack m1 15
x "$E" -s "$d" patch thing 5 '{"by":null}'
for i in $(seq 1 20); do x "$E" -s "$d" patch thing $i '{"by":null}'; done
x "$E" -s "$d" schema --apply "$HERE/mix3.json"
x "$E" -s "$d" put owner --key eve '{"handle":"h-eve","rank":9}'
x "$E" -s "$d" put thing '{"u":5,"cnt":2,"extra":"z"}'
x "$E" -s "$d" subs add m2
pack "$d"

# 3. fleet, none durability
d="$O/fleet"; x "$E" -s "$d" init --schema "$SCH/fleet.json" --durability none
x "$E" -s "$d" put site --key s1 '{"name":"One","timezone":"Europe/Berlin","location":{"lat":52.5,"lon":13.4}}'
x "$E" -s "$d" put device --key d1 '{"serial":"A1","site":"s1","model":"t100","firmware":3,"online":true,"last_seen":"2026-12-01T01:02:03.456789Z","pubkey":"AAEC","labels":{"rack":"7"}}'
x "$E" -s "$d" put device --key d2 '{"serial":"A2","site":"s1","model":"gateway"}'
for i in $(seq 1 10); do x "$E" -s "$d" put reading "{\"device\":\"d$((i%2+1))\",\"at\":$((1764547200000000000+i)),\"temp_c\":$i.5,\"battery\":$((100-i)),\"samples\":[$i,$((i*2))],\"raw\":\"AQID\"}"; done
x "$E" -s "$d" put alert '{"device":"d1","severity":"critical","opened":"2026-12-01T00:00:00Z","notes":[{"at":"2026-12-01T00:01:00Z","by":"op","text":"hot"}]}'
x "$E" -s "$d" rm reading 10
x "$E" -s "$d" rm reading 9
x "$E" -s "$d" subs add ops
x "$E" -s "$d" subs ack ops 7
pack "$d"

# 4. shop, durable, its writer killed (kill -9) inside a load: 29 or 30 batches committed (a durable
# store of format 2 or 3 keeps their records in its write-ahead file, which a reboot replays)
d="$O/killed"; x "$E" -s "$d" init --schema "$SCH/shop.json" --durability durable
x "$E" -s "$d" put customer '{"email":"k@x.org","name":"K"}'
x "$E" -s "$d" subs add k
x "$E" -s "$d" subs ack k 1
mkfifo "$O/fifo"
"$E" -s "$d" load --batch 1 < "$O/fifo" >> "$O/log" 2>&1 & lp=$!
exec 7> "$O/fifo"
for i in $(seq 1 30); do
  printf '{"type":"product","key":"p%03d","version":1,"data":{"price":%d.5,"stock":%d,"tags":["t"],"attrs":{"i":%d}}}\n' $i $i $((i % 7)) $i >&7
done
# with --batch 1 a batch commits once the next line is read (and, from 2026-12-07, once the
# input goes quiet): 29 of the 30 at least
for _ in $(seq 1 200); do [ "$("$E" -s "$d" count product 2>/dev/null)" = 29 ] && break; sleep 0.05; done
kill -9 $lp; wait $lp 2>/dev/null; exec 7>&-
echo "killed load at $("$E" -s "$d" count product) products" >> "$O/log"
pack "$d"
