#!/usr/bin/env bash
# Mirrors as true copies, through a real nats-server (started here on 127.0.0.1, a free port, a
# temporary directory; stopped at the end). Never skipped where libentity-nats is built.
#   nats_mirror_copies.sh ENTITY_BIN NATS_PROBE_BIN SOURCE_DIR
# What it shows (each case a primary and stream of its own):
#  - events written under an older schema version reach the stream as they were written, also
#    when the relay publishes them after a later version removed fields (a required one here):
#    a mirror built from that stream takes them (it stopped: "missing required field"), and its
#    dump, events and check equal the primary's;
#  - a schema message the stream lost (deleted by hand here, as a server that crashed before
#    syncing its tail loses it) published again within the stream's duplicate window: JetStream
#    drops it as a duplicate; the relay stops naming it with nothing stored behind it (it took the
#    drop for an ack, published the next events behind it, and mirrors met an unknown field), and
#    publishes it once the window has passed; an older version's message lost so is not published
#    again after the events written under it (where it reaches no mirror), and the relay goes on;
#  - a schema message the stream's limits dropped before a mirror read it, the events after it
#    kept: the mirror stops naming the version (it applied them under the old one, exit 0);
#  - a mirror started after the stream's limits dropped the primary's first events: its line
#    names the limits (max_msgs) and what to do (it named the missing seq alone); started after
#    they dropped every message (max_age): the same, exit 1 (it said "purged, or dropped by its
#    limits", exit 0).
#  - two failovers in a row on one stream, the second from a mirror that trimmed its own log;
#  - failover: a mirror promoted (`entity promote`, refused beside a running mirror) and relayed to
#    the primary's stream; another mirror follows it and equals it; the old primary coming back,
#    and a mirror promoted while it lagged, are refused by the relay (no fork in the stream).
set -uo pipefail
E=$1; PROBE=$2; SRC=$3
W=$(mktemp -d "${TMPDIR:-/tmp}/entity-nats-copies.XXXXXX")
PIDS=()
fails=0
say() { echo "nats_mirror_copies: $*"; }
bad() { echo "nats_mirror_copies: FAIL: $*"; fails=$((fails + 1)); }
cleanup() {
  for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
  [ -n "${NPID:-}" ] && kill -9 "$NPID" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$W"
}
trap cleanup EXIT
# The port stays bound by one process for the whole run (SO_REUSEADDR, never listening), as in
# nats_test.sh: no other suite's bind to port 0 gets it while nats-server takes it.
python3 -c '
import signal, socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
signal.pause()
' >"$W/ports" & PIDS+=($!)
for _ in $(seq 100); do [ -s "$W/ports" ] && break; sleep 0.05; done
read -r PORT <"$W/ports" || { say "no port held"; exit 1; }
URL=nats://127.0.0.1:$PORT
nats-server -js -a 127.0.0.1 -p "$PORT" -sd "$W/js" >>"$W/nats.log" 2>&1 & NPID=$!
# (30 s: a bound on a broken start only; 5 s could be a slow one on a loaded machine)
for _ in $(seq 600); do (echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break; sleep 0.05; done
(echo >/dev/tcp/127.0.0.1/$PORT) 2>/dev/null || { say "nats-server did not start"; cat "$W/nats.log"; exit 1; }

sid() { "$E" -s "$1" stat | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'; }
applied() { "$E" -s "$1" stat 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin).get("mirror_of",{}).get("applied_seq",0))' 2>/dev/null || echo 0; }
# same PRIMARY MIRROR WHAT: dump, events and schema equal, check ok
same() {
  local p=$1 m=$2 what=$3 ok=1
  cmp -s <("$E" -s "$p" dump) <("$E" -s "$m" dump) || { bad "$what: dump differs"; diff <("$E" -s "$p" dump) <("$E" -s "$m" dump) | head -4; ok=0; }
  cmp -s <("$E" -s "$p" events) <("$E" -s "$m" events) || { bad "$what: events differ"; diff <("$E" -s "$p" events) <("$E" -s "$m" events) | head -4; ok=0; }
  cmp -s <("$E" -s "$p" schema) <("$E" -s "$m" schema) || { bad "$what: schema differs"; ok=0; }
  [ "$("$E" -s "$m" check 2>&1)" = ok ] || { bad "$what: mirror check: $("$E" -s "$m" check 2>&1 | head -3)"; ok=0; }
  [ $ok = 1 ] && say "ok: $what: dump, events, schema equal, check ok"
}
# refused STORE STREAM PATTERN WHAT: `relay --once` of STORE to STREAM exits 1 with one line (its
# state lines aside) that matches PATTERN
refused() {
  local rc
  "$E" -s "$1" relay --nats "$URL" --stream "$2" --once 2>"$W/err"; rc=$?
  grep -Ev "relay: (created|connected)" "$W/err" >"$W/err2"; mv "$W/err2" "$W/err"
  if [ $rc = 1 ] && [ "$(wc -l <"$W/err")" = 1 ] && grep -q "$3" "$W/err"; then
    say "ok: $4: $(cat "$W/err")"
  else
    bad "$4: exit $rc (1 expected):"; cat "$W/err"
  fi
}
# schema FILE VERSION EDIT: the shop schema at VERSION, edited by python statements on s
schema() {
  python3 - "$SRC/schemas/shop.json" "$1" "$2" "$3" <<'PY'
import json,sys
s=json.load(open(sys.argv[1])); s["version"]=int(sys.argv[3])
f=s["types"]["customer"]["fields"]
exec(sys.argv[4])
json.dump(s,open(sys.argv[2],"w"))
PY
}

# 1. Events published after a later schema version removed fields they carry (a required one):
# the relay printed them with the store's current schema, without those fields, and a mirror at
# their own version refused the create ("missing required field") and stopped: no mirror could
# be built from the stream. They go out as they were written.
P=$W/removed; M=$W/removed-m
schema "$W/rm1.json" 1 'f["badge"]={"id":5,"type":"string","required":True}; f["level"]={"id":6,"type":"int","indexed":True}'
schema "$W/rm2.json" 2 'f["level"]={"id":6,"type":"int","indexed":True}'
schema "$W/rm3.json" 3 'pass'
"$E" -s "$P" init --schema "$W/rm1.json" 2>/dev/null || exit 1
echo '{"name":"a","email":"a@x","badge":"b1","level":3}' | "$E" -s "$P" put customer - >/dev/null
"$E" -s "$P" patch customer 1 '{"badge":"b2","level":4}' >/dev/null
"$E" -s "$P" schema --apply "$W/rm2.json" 2>/dev/null || bad "schema --apply rm2"
echo '{"name":"b","email":"b@x","level":5}' | "$E" -s "$P" put customer - >/dev/null
"$E" -s "$P" schema --apply "$W/rm3.json" 2>/dev/null || bad "schema --apply rm3"
echo '{"name":"c","email":"c@x"}' | "$E" -s "$P" put customer - >/dev/null
"$E" -s "$P" relay --nats "$URL" --stream REMOVED --once 2>"$W/err" || { bad "relay to REMOVED"; cat "$W/err"; }
"$E" -s "$M" mirror --nats "$URL" --stream REMOVED --once 2>"$W/err"; rc=$?
if [ $rc = 0 ] && [ "$(applied "$M")" = 4 ]; then
  same "$P" "$M" "events published after later versions removed their fields"
else
  bad "a mirror of events published after later versions removed their fields: exit $rc, at seq $(applied "$M") of 4"; cat "$W/err"
fi

# 2. A schema message the stream lost, published again within the duplicate window (8 s here):
# dropped as a duplicate. The relay said "holds the log" (exit 0) and published the next event
# behind the missing version: a mirror met "customer.tier: unknown field" (or, had the event
# carried no new field, kept the old schema for good).
P=$W/schemadup; M=$W/schemadup-m
schema "$W/sd2.json" 2 'f["tier"]={"id":6,"type":"string","indexed":True}'
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
for i in 1 2 3; do echo "{\"name\":\"s$i\",\"email\":\"s$i@x\"}" | "$E" -s "$P" put customer - >/dev/null; done
ID=$(sid "$P")
"$PROBE" mkstream "$URL" SCHEMADUP "entity.$ID.>" 8000 || bad "mkstream SCHEMADUP"
"$E" -s "$P" relay --nats "$URL" --stream SCHEMADUP --once 2>/dev/null || bad "relay to SCHEMADUP"
"$E" -s "$P" schema --apply "$W/sd2.json" 2>/dev/null || bad "schema --apply sd2"
"$E" -s "$P" relay --nats "$URL" --stream SCHEMADUP --once 2>/dev/null || bad "relay of schema version 2"
"$PROBE" check "$URL" SCHEMADUP "$ID" 3 >/dev/null || bad "SCHEMADUP before the deletion: $("$PROBE" check "$URL" SCHEMADUP "$ID" 3 2>&1)"
"$PROBE" delete "$URL" SCHEMADUP 5 || bad "deleting schema version 2 (stream seq 5)"
echo '{"name":"s4","email":"s4@x","tier":"t4"}' | "$E" -s "$P" put customer - >/dev/null
refused "$P" SCHEMADUP "schema version 2: dropped as a duplicate" "a lost schema message within the duplicate window"
"$PROBE" check "$URL" SCHEMADUP "$ID" 3 >/dev/null || bad "SCHEMADUP holds something behind the dropped schema message: $("$PROBE" check "$URL" SCHEMADUP "$ID" 3 2>&1)"
sleep 9 # past the duplicate window
"$E" -s "$P" relay --nats "$URL" --stream SCHEMADUP --once 2>"$W/err" || { bad "relay to SCHEMADUP after the window"; cat "$W/err"; }
"$PROBE" check "$URL" SCHEMADUP "$ID" 4 >/dev/null || bad "SCHEMADUP after the window: $("$PROBE" check "$URL" SCHEMADUP "$ID" 4 2>&1)"
"$E" -s "$M" mirror --nats "$URL" --stream SCHEMADUP --once 2>"$W/err"; rc=$?
if [ $rc = 0 ] && [ "$(applied "$M")" = 4 ]; then
  same "$P" "$M" "a schema message published again after the duplicate window"
else
  bad "a mirror of SCHEMADUP: exit $rc, at seq $(applied "$M") of 4"; cat "$W/err"
fi

# 3. The message of a version whose events the stream holds lost within the duplicate window
# (schema version 1, deleted by hand after the events written under it): publishing it again
# after them reaches no mirror in its place, and JetStream drops it as a duplicate. The relay
# goes on; a mirror made before the deletion follows.
P=$W/olddup; M=$W/olddup-m
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
for i in 1 2; do echo "{\"name\":\"o$i\",\"email\":\"o$i@x\"}" | "$E" -s "$P" put customer - >/dev/null; done
ID=$(sid "$P")
"$PROBE" mkstream "$URL" OLDDUP "entity.$ID.>" 60000 || bad "mkstream OLDDUP"
"$E" -s "$P" relay --nats "$URL" --stream OLDDUP --once 2>/dev/null || bad "relay to OLDDUP"
"$E" -s "$M" mirror --nats "$URL" --stream OLDDUP --once 2>/dev/null || bad "mirror of OLDDUP"
"$PROBE" delete "$URL" OLDDUP 1 || bad "deleting schema version 1 (stream seq 1)"
echo '{"name":"o3","email":"o3@x"}' | "$E" -s "$P" put customer - >/dev/null
"$E" -s "$P" relay --nats "$URL" --stream OLDDUP --once 2>"$W/err"; rc=$?
"$E" -s "$M" mirror --nats "$URL" --stream OLDDUP --once 2>>"$W/err"
if [ $rc = 0 ] && [ "$(applied "$M")" = 3 ]; then
  same "$P" "$M" "an older schema message lost within the duplicate window: the relay goes on"
else
  bad "an older schema message lost within the duplicate window: relay exit $rc, mirror at seq $(applied "$M") of 3"; cat "$W/err"
fi

# 4. A schema message the stream's limits dropped before a mirror read it (max_msgs lowered by
# an operator while the mirror was behind), the events after it kept: the mirror applied them
# under the version before, said nothing and exited 0, its schema, defaults and indexes old for
# good (or, had an event carried a new field, stopped on "unknown field" saying nothing of why).
# It stops at the last seq before them, naming the missing version.
P=$W/limits; M=$W/limits-m
schema "$W/li2.json" 2 'f["tier"]={"id":6,"type":"string","indexed":True}'
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
for i in 1 2 3; do echo "{\"name\":\"l$i\",\"email\":\"l$i@x\"}" | "$E" -s "$P" put customer - >/dev/null; done
ID=$(sid "$P")
"$E" -s "$P" relay --nats "$URL" --stream LIMITS --once 2>/dev/null || bad "relay to LIMITS"
"$E" -s "$M" mirror --nats "$URL" --stream LIMITS --once 2>/dev/null || bad "mirror of LIMITS"
"$E" -s "$P" schema --apply "$W/li2.json" 2>/dev/null || bad "schema --apply li2"
# updates that carry no new field: nothing in them tells the old schema from the new
for i in 1 2 3; do "$E" -s "$P" patch customer $i "{\"name\":\"l$i-2\"}" >/dev/null; done
"$E" -s "$P" relay --nats "$URL" --stream LIMITS --once 2>/dev/null || bad "relay of schema version 2"
# stream: schema 1 (1), events 1-3 (2-4), schema 2 (5), events 4-6 (6-8): keep 6-8
"$PROBE" check "$URL" LIMITS "$ID" 6 >/dev/null || bad "LIMITS before its limit: $("$PROBE" check "$URL" LIMITS "$ID" 6 2>&1)"
"$PROBE" maxmsgs "$URL" LIMITS 3 || bad "limiting LIMITS to 3 messages"
"$E" -s "$M" mirror --nats "$URL" --stream LIMITS --once 2>"$W/err"; rc=$?
grep -v "mirror: following" "$W/err" >"$W/err2"; mv "$W/err2" "$W/err"
if [ $rc = 1 ] && [ "$(applied "$M")" = 3 ] && [ "$(wc -l <"$W/err")" = 1 ] &&
   grep -q "lacks schema version 2 of store $ID, under which seq 4 was written" "$W/err"; then
  say "ok: a schema message dropped by the stream's limits: $(cat "$W/err")"
else
  bad "a schema message dropped by the stream's limits before the mirror read it: exit $rc (1 expected), at seq $(applied "$M") (3 expected), schema version $("$E" -s "$M" schema | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])'):"; cat "$W/err"
fi

# 5. A mirror started after the stream's limits dropped the primary's first events (max_msgs 3,
# above): it stops on the missing seq 1, and its line names the limit that dropped it and what
# to do (it named the seq alone, as for messages deleted by hand). The mirror of case 4 says so
# too, of the schema message the limit dropped.
M2=$W/limits-late
"$E" -s "$M2" mirror --nats "$URL" --stream LIMITS --once 2>"$W/err"; rc=$?
grep -v "mirror: following" "$W/err" >"$W/err2"; mv "$W/err2" "$W/err"
if [ $rc = 1 ] && [ "$(wc -l <"$W/err")" = 1 ] && grep -q "lacks seq 1 of store $ID" "$W/err" &&
   grep -q "max_msgs 3" "$W/err" && grep -q "new --stream" "$W/err" && [ ! -e "$M2" ]; then
  say "ok: a mirror started after the stream's limits dropped seq 1: $(cat "$W/err")"
else
  bad "a mirror started after the stream's limits dropped seq 1: exit $rc (1 expected), directory left: $([ -e "$M2" ] && echo yes || echo no), its lines:"; cat "$W/err"
fi
"$E" -s "$M" mirror --nats "$URL" --stream LIMITS --once 2>"$W/err"; rc=$?
if [ $rc = 1 ] && grep -q "lacks schema version 2" "$W/err" && grep -q "max_msgs 3" "$W/err"; then
  say "ok: the schema message dropped by the limit names it"
else
  bad "the schema message dropped by the limit: exit $rc (1 expected), no max_msgs 3 in:"; cat "$W/err"
fi

# 6. The same stream emptied by its limits (max_age 1 s added to max_msgs 3): a new mirror said
# only that its messages "were removed (purged, or dropped by its limits)" and exited 0, "nothing
# to apply", run after run. Its line names the limits, as for the gap above, and it exits 1
# leaving no directory. (The wait is for the server's expiry; it bounds a broken run only.)
"$PROBE" maxage "$URL" LIMITS 1 || bad "limiting LIMITS to messages of 1 s"
for _ in $(seq 600); do read -r n _ < <("$PROBE" msgs "$URL" LIMITS); [ "$n" = 0 ] && break; sleep 0.05; done
[ "$n" = 0 ] || bad "LIMITS still holds $n messages after max_age 1 s"
M3=$W/limits-empty
"$E" -s "$M3" mirror --nats "$URL" --stream LIMITS --once 2>"$W/err"; rc=$?
if [ $rc = 1 ] && [ "$(wc -l <"$W/err")" = 1 ] && grep -q "holds no messages: those up to stream seq 8 were removed" "$W/err" &&
   grep -q "max_msgs 3, max_age 1s" "$W/err" && grep -q "new --stream" "$W/err" && [ ! -e "$M3" ]; then
  say "ok: a new mirror of a stream its limits emptied: $(cat "$W/err")"
else
  bad "a new mirror of a stream its limits emptied: exit $rc (1 expected), directory left: $([ -e "$M3" ] && echo yes || echo no), its lines:"; cat "$W/err"
fi

# 7. Failover: the primary's machine lost, a mirror promoted (`entity promote`) and relayed to the
# same stream. It takes the primary's id, so it publishes under the primary's subjects after the
# stream's last seq; another mirror of the primary, which lagged, follows it without any change
# and ends equal to it. A mirror that runs holds the promotion off (its lock); the old primary
# coming back to relay after the promoted one published, and a mirror promoted while it lagged,
# are refused by the relay's history check: the stream is never forked.
P=$W/fo-primary; A=$W/fo-a; B=$W/fo-b
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
for i in 1 2 3 4; do echo "{\"name\":\"f$i\",\"email\":\"f$i@x\"}" | "$E" -s "$P" put customer - >/dev/null; done
"$E" -s "$P" rm customer 4 >/dev/null || bad "rm customer 4"   # id 4 handed out, then deleted
ID=$(sid "$P")
"$E" -s "$P" relay --nats "$URL" --stream FAILOVER --once 2>/dev/null || bad "relay to FAILOVER"
"$E" -s "$A" mirror --nats "$URL" --stream FAILOVER --once --durability lazy 2>/dev/null || bad "mirror A of FAILOVER"
"$E" -s "$B" mirror --nats "$URL" --stream FAILOVER --once 2>/dev/null || bad "mirror B of FAILOVER"
"$E" -s "$P" patch customer 1 '{"vip":true}' >/dev/null
"$E" -s "$P" relay --nats "$URL" --stream FAILOVER --once 2>/dev/null || bad "relay of seq 6"
"$E" -s "$A" mirror --nats "$URL" --stream FAILOVER --once 2>/dev/null || bad "mirror A up to seq 6"
# the primary is lost: a write it committed but never relayed goes with it
"$E" -s "$P" patch customer 2 '{"vip":true}' >/dev/null
[ "$(applied "$A")" = 6 ] && [ "$(applied "$B")" = 5 ] || bad "FAILOVER mirrors at $(applied "$A") and $(applied "$B"), expected 6 and 5"
# a running mirror holds the promotion off, naming its pid
"$E" -s "$A" mirror --nats "$URL" --stream FAILOVER 2>"$W/fo-mirror.log" & MPID=$!; PIDS+=($MPID)
for _ in $(seq 600); do [ "$(cat "$A/mirror.lock" 2>/dev/null)" = "$MPID" ] && break; sleep 0.05; done
"$E" -s "$A" promote >"$W/out" 2>"$W/err"; rc=$?
if [ $rc = 1 ] && grep -q "^entity: promote: store .*: a mirror is running on it (pid $MPID)" "$W/err" && [ -n "$("$E" -s "$A" stat | grep mirror_of)" ]; then
  say "ok: promote beside a running mirror: $(cat "$W/err")"
else
  bad "promote beside a running mirror: exit $rc (1 expected):"; cat "$W/err" "$W/out"
fi
kill -TERM $MPID; wait $MPID 2>/dev/null
# A is a `lazy` read copy; promoted with --durability durable, it opens durable from then on
dur() { "$E" -s "$1" stat | python3 -c 'import json,sys; print(json.load(sys.stdin)["durability"])'; }
[ "$(dur "$A")" = lazy ] || bad "mirror A's stored durability: $(dur "$A") (lazy expected)"
"$E" -s "$A" promote --durability fast >"$W/out" 2>"$W/err"; rc=$?
[ $rc = 2 ] && grep -q "durable, lazy or none" "$W/err" && "$E" -s "$A" stat | grep -q mirror_of ||
  bad "promote --durability fast: exit $rc (2 expected, still a mirror): $(cat "$W/err")"
"$E" -s "$A" promote --durability durable >"$W/out" 2>"$W/err"; rc=$?
if [ $rc = 0 ] && [ "$(wc -l <"$W/out")" = 1 ] && grep -q "^promoted: store $ID .*log at seq 6, new writes from seq 7" "$W/out" &&
   [ ! -s "$W/err" ] && [ "$(sid "$A")" = "$ID" ] && ! "$E" -s "$A" stat | grep -q mirror_of &&
   [ "$(dur "$A")" = durable ]; then
  say "ok: $(cat "$W/out")"
else
  bad "promote of mirror A: exit $rc, stdout and stderr:"; cat "$W/out" "$W/err"
fi
"$E" -s "$A" promote 2>"$W/err"; rc=$?
[ $rc = 1 ] && grep -q "is not a mirror" "$W/err" && ok=1 || bad "a second promote: exit $rc: $(cat "$W/err")"
"$E" -s "$A" mirror --nats "$URL" --stream FAILOVER --once 2>"$W/err" && bad "a mirror run on the promoted store: exit 0"
echo '{"name":"f5","email":"f5@x"}' | "$E" -s "$A" put customer - >"$W/out" 2>&1 || bad "put on the promoted store: $(cat "$W/out")"
python3 -c 'import json,sys; sys.exit(json.load(open(sys.argv[1]))["key"] != 5)' "$W/out" || bad "the promoted store's first id: $(cat "$W/out") (5 expected: 4 was the primary's)"
"$E" -s "$A" relay --nats "$URL" --stream FAILOVER --once 2>"$W/err" || { bad "relay from the promoted store"; cat "$W/err"; }
"$E" -s "$A" patch customer 5 '{"vip":true}' >/dev/null
"$E" -s "$A" rm customer 3 >/dev/null
# a schema evolution on the promoted store reaches the mirrors as the primary's did
schema "$W/fo2.json" 2 'f["tier"]={"id":6,"type":"string","indexed":True}'
"$E" -s "$A" schema --apply "$W/fo2.json" 2>/dev/null || bad "schema --apply on the promoted store"
"$E" -s "$A" patch customer 1 '{"tier":"gold"}' >/dev/null || bad "patch with the new field"
"$E" -s "$A" relay --nats "$URL" --stream FAILOVER --once 2>"$W/err" || { bad "relay from the promoted store"; cat "$W/err"; }
"$PROBE" check "$URL" FAILOVER "$ID" 10 >/dev/null || bad "FAILOVER after the promotion: $("$PROBE" check "$URL" FAILOVER "$ID" 10 2>&1)"
"$E" -s "$B" mirror --nats "$URL" --stream FAILOVER --once 2>"$W/err"; rc=$?
if [ $rc = 0 ] && [ "$(applied "$B")" = 10 ]; then
  same "$A" "$B" "a mirror of the lost primary follows the promoted mirror"
else
  bad "mirror B after the promotion: exit $rc, at seq $(applied "$B") of 10"; cat "$W/err"
fi
# the old primary back, relaying into the same stream: its log ends at 7 (one write never
# relayed), the stream holds 10 of its id; then, written past 10, another seq 10
refused "$P" FAILOVER "holds seq 10 of store $ID, but its log ends at 7" "the old primary back after the promotion"
for i in 6 7 8; do echo "{\"name\":\"o$i\",\"email\":\"o$i@x\"}" | "$E" -s "$P" put customer - >/dev/null; done
refused "$P" FAILOVER "holds another seq 10 of store $ID than its log" "the old primary back, written past the stream"
"$PROBE" check "$URL" FAILOVER "$ID" 10 >/dev/null || bad "FAILOVER after the old primary's relays: $("$PROBE" check "$URL" FAILOVER "$ID" 10 2>&1)"
"$E" -s "$B" mirror --nats "$URL" --stream FAILOVER --once 2>/dev/null || bad "mirror B after the old primary's relays"
same "$A" "$B" "the old primary's relays changed nothing"

# 7b. A mirror promoted while it lagged (the stream holds seqs 4..5 it never applied): its relay
# is refused, naming them, before and after it wrote; the stream keeps the primary's history.
P=$W/lag-primary; C=$W/lag-c
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
for i in 1 2 3; do echo "{\"name\":\"l$i\",\"email\":\"l$i@x\"}" | "$E" -s "$P" put customer - >/dev/null; done
ID=$(sid "$P")
"$E" -s "$P" relay --nats "$URL" --stream LAGGING --once 2>/dev/null || bad "relay to LAGGING"
"$E" -s "$C" mirror --nats "$URL" --stream LAGGING --once 2>/dev/null || bad "mirror C of LAGGING"
for i in 4 5; do echo "{\"name\":\"l$i\",\"email\":\"l$i@x\"}" | "$E" -s "$P" put customer - >/dev/null; done
"$E" -s "$P" relay --nats "$URL" --stream LAGGING --once 2>/dev/null || bad "relay of seqs 4-5 to LAGGING"
"$E" -s "$C" promote >/dev/null 2>"$W/err" || bad "promote of the lagging mirror: $(cat "$W/err")"
refused "$C" LAGGING "holds seq 5 of store $ID, but its log ends at 3 (.*a mirror promoted before it had applied seqs 4..5" "a lagging mirror promoted"
for i in 6 7 8; do echo "{\"name\":\"c$i\",\"email\":\"c$i@x\"}" | "$E" -s "$C" put customer - >/dev/null; done
refused "$C" LAGGING "holds another seq 5 of store $ID than its log" "a lagging mirror promoted, written past the stream"
"$PROBE" check "$URL" LAGGING "$ID" 5 >/dev/null || bad "LAGGING after the refused relays: $("$PROBE" check "$URL" LAGGING "$ID" 5 2>&1)"

# 7c. A mirror promoted with every event applied but not the primary's last schema version (its
# message the last in the stream: an evolution with no write after it). Its relay took the
# stream's version for its own: its events went out under its older version to mirrors at the
# newer one, and its own next evolution, numbered as the primary's, was never published (mirrors
# read its events under the old primary's). Refused, naming both versions.
P=$W/sv-primary; D=$W/sv-d
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
for i in 1 2; do echo "{\"name\":\"v$i\",\"email\":\"v$i@x\"}" | "$E" -s "$P" put customer - >/dev/null; done
ID=$(sid "$P")
"$E" -s "$P" relay --nats "$URL" --stream SCHEMALAG --once 2>/dev/null || bad "relay to SCHEMALAG"
"$E" -s "$D" mirror --nats "$URL" --stream SCHEMALAG --once 2>/dev/null || bad "mirror D of SCHEMALAG"
schema "$W/sv2.json" 2 'f["tier"]={"id":6,"type":"string","indexed":True}'
"$E" -s "$P" schema --apply "$W/sv2.json" 2>/dev/null || bad "schema --apply sv2"
"$E" -s "$P" relay --nats "$URL" --stream SCHEMALAG --once 2>/dev/null || bad "relay of schema version 2 to SCHEMALAG"
"$E" -s "$D" promote >/dev/null 2>"$W/err" || bad "promote of mirror D: $(cat "$W/err")"
echo '{"name":"d3","email":"d3@x"}' | "$E" -s "$D" put customer - >/dev/null
refused "$D" SCHEMALAG "holds schema version 2 of store $ID, but the store has versions up to 1" "a mirror promoted before it had the primary's last schema version"
"$PROBE" check "$URL" SCHEMALAG "$ID" 2 >/dev/null || bad "SCHEMALAG after the refused relay: $("$PROBE" check "$URL" SCHEMALAG "$ID" 2 2>&1)"

# 7d. Two failovers in a row on one stream (found holding in a randomized soak, kept as a check no
# case made): mirror A promoted, then A lost and mirror B promoted, B having trimmed its own log
# down to its last event each time (a mirror's log is its own). The primary's id counters were
# raised by `load`'s counter line, an event B trimmed away: B's counters still come from what it
# applied, so its first ids are above every id handed out before (customer 6, order 42). A is then
# refused as any old primary; a new mirror built from seq 1 equals B, entities, counters and log.
P=$W/tw-primary; A=$W/tw-a; B=$W/tw-b; F=$W/tw-f
"$E" -s "$P" init --schema "$SRC/schemas/shop.json" 2>/dev/null || exit 1
for i in 1 2 3 4 5; do echo "{\"name\":\"t$i\",\"email\":\"t$i@x\"}" | "$E" -s "$P" put customer - >/dev/null; done
"$E" -s "$P" rm customer 5 >/dev/null && "$E" -s "$P" rm customer 4 >/dev/null || bad "rm customers 4, 5"
printf '%s\n' '{"dump":"entity","format":2}' '{"type":"order","last_id":40}' '{"end":"dump","lines":1,"entities":{}}' |
  "$E" -s "$P" load >/dev/null 2>&1 || bad "load of an order counter line"
"$E" -s "$P" patch customer 1 '{"vip":true}' >/dev/null
ID=$(sid "$P")
"$E" -s "$P" relay --nats "$URL" --stream TWICE --once 2>/dev/null || bad "relay to TWICE"
"$E" -s "$A" mirror --nats "$URL" --stream TWICE --once 2>/dev/null || bad "mirror A of TWICE"
"$E" -s "$B" mirror --nats "$URL" --stream TWICE --once --durability lazy 2>/dev/null || bad "mirror B of TWICE"
"$E" -s "$B" trim --below 9 2>"$W/err" || bad "trim of mirror B: $(cat "$W/err")"
"$E" -s "$A" promote >/dev/null 2>"$W/err" || bad "promote of A: $(cat "$W/err")"
echo '{"customer":1}' | "$E" -s "$A" put order - >"$W/out" 2>&1
grep -q '"key":41,' "$W/out" || bad "A's first order: $(cat "$W/out") (41 expected: the counter was raised to 40)"
"$E" -s "$A" relay --nats "$URL" --stream TWICE --once 2>/dev/null || bad "relay of promoted A to TWICE"
"$E" -s "$B" mirror --nats "$URL" --stream TWICE --once 2>/dev/null || bad "mirror B after A's promotion"
"$E" -s "$B" trim --below 10 2>"$W/err" || bad "second trim of mirror B: $(cat "$W/err")"
"$E" -s "$B" promote >"$W/out" 2>"$W/err"; rc=$?
[ $rc = 0 ] && grep -q "log at seq 10, new writes from seq 11" "$W/out" || bad "promote of B: exit $rc: $(cat "$W/out" "$W/err")"
echo '{"name":"t6","email":"t6@x"}' | "$E" -s "$B" put customer - >"$W/out" 2>&1
grep -q '"key":6,' "$W/out" || bad "B's first customer: $(cat "$W/out") (6 expected: 4 and 5 were handed out)"
echo '{"customer":1}' | "$E" -s "$B" put order - >"$W/out" 2>&1
grep -q '"key":42,' "$W/out" || bad "B's first order: $(cat "$W/out") (42 expected: 41 was A's)"
"$E" -s "$B" relay --nats "$URL" --stream TWICE --once 2>"$W/err" || bad "relay of promoted B to TWICE: $(cat "$W/err")"
refused "$A" TWICE "holds seq 12 of store $ID, but its log ends at 10" "the first promoted primary back after the second promotion"
"$PROBE" check "$URL" TWICE "$ID" 12 >/dev/null || bad "TWICE after two failovers: $("$PROBE" check "$URL" TWICE "$ID" 12 2>&1)"
"$E" -s "$F" mirror --nats "$URL" --stream TWICE --once 2>/dev/null || bad "a new mirror F of TWICE"
cmp -s <("$E" -s "$B" dump) <("$E" -s "$F" dump) || bad "TWICE: dump of B and of a new mirror differ"
cmp -s <("$E" -s "$B" events --from 10) <("$E" -s "$F" events --from 10) || bad "TWICE: events of B and of a new mirror differ"
[ "$("$E" -s "$F" check 2>&1)" = ok ] && [ "$("$E" -s "$B" check 2>&1)" = ok ] || bad "TWICE: check of B or F"
"$E" -s "$F" dump | grep -q '^{"type":"order","last_id":42}$' || bad "TWICE: the new mirror's order counter: $("$E" -s "$F" dump | grep last_id)"

if grep -l -E "AddressSanitizer|LeakSanitizer|runtime error" "$W"/*.log 2>/dev/null; then bad "sanitizer reports in the logs above"; fi
if [ $fails = 0 ]; then say "all passed"; exit 0; fi
say "$fails failures"
exit 1
