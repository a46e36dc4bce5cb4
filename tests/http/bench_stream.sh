#!/usr/bin/env bash
# The event stream's throughput to many clients, for the README (not a test: nothing is checked).
# usage: bench_stream.sh ENTITY [CLIENTS=100] [WRITES=10000] [RUNS=3]
#  live:     CLIENTS curl clients connected, then another process commits WRITES events (one per
#            transaction, durability none); time from the first write until every client has the
#            last event.
#  catch-up: WRITES events already in the log; CLIENTS clients start at once with from=1; time
#            until every client has the last event.
# Prints events delivered per second (CLIENTS x WRITES / time) for each run and the median.
set -u
E=$1 C=${2:-100} N=${3:-10000} R=${4:-3}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
pids=()
trap '[ -n "$SRV_PID" ] && kill -KILL $SRV_PID 2>/dev/null; for p in "${pids[@]}"; do kill -KILL $p 2>/dev/null; done; rm -rf "$work"' EXIT
. "$(dirname "$0")/lib.sh"
now() { date +%s.%N; }
python3 -c "
for k in range(1, $N + 1):
    print('{\"type\":\"customer\",\"key\":%d,\"version\":1,\"data\":{\"email\":\"c%d@example.com\",\"name\":\"customer %d\"}}' % (k, k, k))
" >"$work/load.ndjson"
wait_all() { # wait_all GLOB: until every file has "id: N"
  for _ in $(seq 1 6000); do
    local d=0
    for f in $1; do tail -c 300 "$f" | grep -q "^id: $N\$" && d=$((d + 1)); done
    [ $d = $C ] && return 0
    sleep 0.02
  done
  return 1
}
live=() catch=()
for r in $(seq 1 $R); do
  rm -rf "$work/st" "$work"/c.*
  "$E" -s "$work/st" init --schema "$SRC/schemas/shop.json" --durability none 2>/dev/null
  start_server "$work/st" --client-buffer 67108864 --max-streams-per-address 1000 >/dev/null
  for i in $(seq 1 $C); do curl -s -N "$U/api/events/stream" >"$work/c.$i" & pids+=($!); done
  for _ in $(seq 1 600); do [ "$(grep -l '^: events' "$work"/c.* | wc -l)" = $C ] && break; sleep 0.05; done
  t0=$(now)
  "$E" -s "$work/st" load --batch 1 <"$work/load.ndjson" 2>/dev/null
  t1=$(now)
  wait_all "$work/c.*"; t2=$(now)
  live+=("$(python3 -c "print('%.0f' % ($C * $N / ($t2 - $t0)))")")
  echo "live run $r: writes took $(python3 -c "print('%.2f' % ($t1 - $t0))") s, all $C clients done after $(python3 -c "print('%.2f' % ($t2 - $t0))") s: ${live[-1]} events/s"
  for p in "${pids[@]}"; do kill $p 2>/dev/null; done; pids=()
  rm -f "$work"/c.*
  t0=$(now)
  for i in $(seq 1 $C); do curl -s -N "$U/api/events/stream?from=1" >"$work/c.$i" & pids+=($!); done
  wait_all "$work/c.*"; t2=$(now)
  catch+=("$(python3 -c "print('%.0f' % ($C * $N / ($t2 - $t0)))")")
  echo "catch-up run $r: all $C clients had $N events after $(python3 -c "print('%.2f' % ($t2 - $t0))") s: ${catch[-1]} events/s"
  for p in "${pids[@]}"; do kill $p 2>/dev/null; done; pids=()
  stop_server >/dev/null
done
med() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
echo "median over $R runs, $C clients, $N events: live $(med "${live[@]}") events/s delivered, catch-up $(med "${catch[@]}") events/s delivered (load average $(cut -d' ' -f1 /proc/loadavg))"
