#!/bin/bash
# A store under steady load for a long time, run by hand (README "Tests"; not in ctest: it runs
# for minutes). What an operator would run, and what would grow if something leaked:
#   three writer processes (tests/soak/soak_driver, two threads each) keep a bounded live set of
#   items busy (upserts, updates, replaces, deletes); `entity events --follow` follows the log; a
#   consumer reads and acks the durable subscription c1; a trimmer drops what every subscription
#   acked; with NATS_PORT given, `entity relay` and `entity mirror` follow too, the mirror's log
#   trimmed the same way.
# Midway a process holds a read transaction for a while and is killed with SIGKILL (LMDB's stale
# reader), and later a subscription that never acks holds the log.
# Every ~10 s a line of soak.csv: sizes of data.mdb and wal, log length, RSS and fds of each
# long-lived process (RssAnon, KiB), the mirror's lag, the readers holding snapshots.
# At the end both stores are checked and dumps compared.
#
#   tests/soak/soak.sh ENTITY SOAK_DRIVER OUTDIR durable|lazy SECONDS [NATS_PORT]
#   e.g. tests/soak/soak.sh build/entity build/tests/soak/soak_driver /tmp/soak/d durable 420 4333
#   (start nats-server -js -a 127.0.0.1 -p 4333 -sd DIR yourself)
set -u
E=$1 D=$2 OUT=$3 MODE=$4 SECS=$5 NPORT=${6:-}
HERE=$(cd "$(dirname "$0")" && pwd)
P="$OUT/primary" M="$OUT/mirror" CSV="$OUT/soak.csv" LOGF="$OUT/soak.log"
rm -rf "$OUT" && mkdir -p "$OUT"
"$E" -s "$P" init --schema "$HERE/soak.json" --durability "$MODE" || exit 1
"$E" -s "$P" subs add c1 || exit 1
touch "$OUT/run"   # the consumer's and the trimmer's loops run while it is there
note() { echo "$(date -u +%T) $*" >> "$LOGF"; }

W=()
for seed in 1 2 3; do
  "$D" write "$P" "$SECS" 2 5000 $seed > "$OUT/writer$seed.out" 2>&1 &
  W+=($!)
done
"$E" -s "$P" events --follow > /dev/null 2> "$OUT/follow.err" &
FOLLOW=$!
RELAY= MIRROR=
if [ -n "$NPORT" ]; then
  STREAM="SOAK_$(basename "$OUT" | tr -c 'A-Za-z0-9\n' _)"
  "$E" -s "$P" relay --nats "nats://127.0.0.1:$NPORT" --stream "$STREAM" > "$OUT/relay.out" 2>&1 &
  RELAY=$!
  sleep 1
  "$E" -s "$M" mirror --nats "nats://127.0.0.1:$NPORT" --stream "$STREAM" --durability "$MODE" > "$OUT/mirror.out" 2>&1 &
  MIRROR=$!
fi

# consumer: read and ack c1 every second
( while [ -e "$OUT/run" ]; do
    s=$("$E" -s "$P" subs read c1 --limit 20000 | tail -n 1 | jq -r '.seq // empty')
    [ -n "$s" ] && "$E" -s "$P" subs ack c1 "$s"
    sleep 1
  done ) &
CONSUMER=$!
# trimmer: drop every event that each subscription acked, on the primary and on the mirror
trim_store() {
  local low
  low=$("$E" -s "$1" subs | jq -s 'map(.checkpoint) | min // empty')
  if [ -z "$low" ]; then low=$("$E" -s "$1" stat | jq '.log.last_seq'); fi
  [ "$low" -gt 0 ] 2>/dev/null && "$E" -s "$1" trim --below $((low + 1)) 2>> "$OUT/trim.err"
}
( while [ -e "$OUT/run" ]; do
    trim_store "$P"; [ -n "$NPORT" ] && [ -d "$M" ] && trim_store "$M"
    sleep 5
  done ) &
TRIMMER=$!

# RssAnon: the process's own memory (VmRSS also counts the pages of data.mdb it has mapped)
rss() { awk '/RssAnon/{print $2}' "/proc/$1/status" 2>/dev/null || echo -; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
size() { stat -c %s "$1" 2>/dev/null || echo 0; }
echo "t,data_mdb,wal,used,first_seq,last_seq,log_len,subs,w1_rss,w1_fds,w2_rss,follow_rss,follow_fds,relay_rss,relay_fds,mirror_rss,mirror_fds,mirror_data_mdb,mirror_log_len,mirror_lag,readers/oldest_behind" > "$CSV"
sample() {
  local st ms first last used mlast mfirst lag="" mlen=""
  st=$("$E" -s "$P" stat)
  first=$(jq '.log.first_seq' <<<"$st"); last=$(jq '.log.last_seq' <<<"$st"); used=$(jq '.used_bytes' <<<"$st")
  if [ -n "$MIRROR" ] && [ -e "$M/data.mdb" ]; then
    ms=$("$E" -s "$M" stat 2>/dev/null)
    mlast=$(jq '.log.last_seq' <<<"$ms"); mfirst=$(jq '.log.first_seq' <<<"$ms")
    lag=$((last - mlast)); mlen=$((mlast - mfirst + 1))
  fi
  echo "$1,$(size "$P/data.mdb"),$(size "$P/wal"),$used,$first,$last,$((last - first + 1)),$("$E" -s "$P" subs | jq -c -s 'map(.name + ":" + (.lag|tostring)) | join(" ")'),$(rss "${W[0]}"),$(fds "${W[0]}"),$(rss "${W[1]}"),$(rss $FOLLOW),$(fds $FOLLOW),${RELAY:+$(rss $RELAY)},${RELAY:+$(fds $RELAY)},${MIRROR:+$(rss $MIRROR)},${MIRROR:+$(fds $MIRROR)},$(size "$M/data.mdb"),$mlen,$lag,$(jq -r '"\(.readers.count)/\(.readers.oldest_behind)"' <<<"$st")" >> "$CSV"
}

t0=$(date +%s)
HOLD= STUCK=0
while :; do
  t=$(( $(date +%s) - t0 ))
  sample $t
  # a reader that pins a snapshot, then dies without ending it
  if [ -z "$HOLD" ] && [ $t -ge $((SECS * 2 / 10)) ]; then
    "$D" hold "$P" > "$OUT/hold.out" 2>&1 & HOLD=$!; note "hold reader started pid $HOLD"
  fi
  if [ -n "$HOLD" ] && [ "$HOLD" != done ] && [ $t -ge $((SECS * 35 / 100)) ]; then
    kill -9 $HOLD; wait $HOLD 2>/dev/null; HOLD=done; note "hold reader killed -9"
    "$E" -s "$P" check > "$OUT/check_after_kill.out" 2>&1; note "check after kill: $(cat "$OUT/check_after_kill.out")"
  fi
  # a subscription that never acks
  if [ $STUCK = 0 ] && [ $t -ge $((SECS * 5 / 10)) ]; then
    "$E" -s "$P" subs add stuck; STUCK=1; note "subscription stuck added"
  fi
  if [ $STUCK = 1 ] && [ $t -ge $((SECS * 7 / 10)) ]; then
    note "stat with stuck: $("$E" -s "$P" stat | jq -c '{log,subscriptions}')"
    "$E" -s "$P" subs rm stuck; STUCK=2; note "subscription stuck removed"
  fi
  alive=0; for w in "${W[@]}"; do kill -0 $w 2>/dev/null && alive=1; done
  [ $alive = 0 ] && break
  sleep 10
done
for w in "${W[@]}"; do wait $w; done
note "writers: $(cat "$OUT"/writer*.out | tr '\n' ' ')"
last=$("$E" -s "$P" stat | jq '.log.last_seq')
# let the consumer, the relay and the mirror catch up (a mirror applies slower than three
# writer processes write: give it up to 10 minutes)
for i in $(seq 1 600); do
  c=$("$E" -s "$P" subs | jq -s 'map(.lag) | max')
  ml=0; [ -n "$MIRROR" ] && ml=$(( last - $("$E" -s "$M" stat | jq '.log.last_seq') ))
  [ "$c" = 0 ] && [ "$ml" = 0 ] && break
  sleep 1
done
sleep 6   # one more trim round
sample end
rm -f "$OUT/run"
wait $CONSUMER $TRIMMER 2>/dev/null
kill $FOLLOW ${RELAY:+$RELAY} ${MIRROR:+$MIRROR} 2>/dev/null
wait $FOLLOW ${RELAY:+$RELAY} ${MIRROR:+$MIRROR} 2>/dev/null
note "follow.err: $(cat "$OUT/follow.err")"
note "check primary: $("$E" -s "$P" check 2>&1)"
if [ -n "$MIRROR" ]; then
  note "check mirror: $("$E" -s "$M" check 2>&1)"
  "$E" -s "$P" dump > "$OUT/p.ndjson"; "$E" -s "$M" dump > "$OUT/m.ndjson"
  if cmp -s "$OUT/p.ndjson" "$OUT/m.ndjson"; then note "dumps equal ($(grep -c "\"key\"" "$OUT/p.ndjson") entities)"; else note "DUMPS DIFFER"; fi
fi
note "final stat: $("$E" -s "$P" stat | jq -c .)"
note "done"
