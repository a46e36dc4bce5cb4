#!/usr/bin/env bash
# The event stream under load, with real clients (curl):
#  1. 100 clients follow 10 000 writes made by another process (entity load, one commit per line),
#     and 20 more join in the middle from seq 1 (catching up: 1000 events written before the
#     server started from the log, then what the server rendered meanwhile, then handed over to
#     the live feed while writes go on): every client gets every event exactly once, in order.
#  2. A stalled client (connected, never reading) while 3000 writes of 1 KiB go on: the writer
#     finishes, a normal client gets everything, the stalled one is dropped (its connection
#     ends) and resumes exactly with Last-Event-ID.
#  3. Stalled clients catching up over big events hold little of the server's memory.
# Timings are printed for the record, never checked.
set -u
E=$1
SRC=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d)
pids=()
trap '[ -n "$SRV_PID" ] && kill -KILL $SRV_PID 2>/dev/null; for p in "${pids[@]}"; do kill -KILL $p 2>/dev/null; done; rm -rf "$work"' EXIT
. "$(dirname "$0")/lib.sh"
N=${STREAM_WRITES:-10000}
C=${STREAM_CLIENTS:-100}

cat >"$work/check.py" <<'PY'
# check.py FIRST LAST FILE...: each file's SSE messages are exactly the seqs FIRST..LAST, in order,
# each data the event JSON of its id. Prints the files that are not.
import json, sys
first, last = int(sys.argv[1]), int(sys.argv[2])
want = list(range(first, last + 1))
bad = 0
for f in sys.argv[3:]:
    ids, cur = [], {}
    for line in open(f, encoding="utf-8").read().split("\n"):
        if line == "":
            if "data" in cur:
                d = json.loads(cur["data"])
                if str(d["seq"]) != cur["id"] or d["op"] != cur["event"]:
                    print(f, "message", cur["id"], "does not match its data"); bad += 1
                ids.append(int(cur["id"]))
            cur = {}
        elif not line.startswith(":"):
            k, _, v = line.partition(":")
            cur[k] = v[1:] if v.startswith(" ") else v
    if ids != want:
        missing = sorted(set(want) - set(ids))
        print(f, "got", len(ids), "events, want", len(want), "; missing", missing[:5], "; in order:", ids == sorted(ids),
              "; duplicates:", len(ids) - len(set(ids)))
        bad += 1
sys.exit(1 if bad else 0)
PY
now() { date +%s.%N; }

# ---- 1. many clients, many writes
"$E" -s "$work/st" init --schema "$SRC/schemas/shop.json" --durability none 2>/dev/null || { echo "init failed"; exit 1; }
P=1000   # written before the server starts
python3 -c "
for k in range(1, $P + $N + 1):
    print('{\"type\":\"customer\",\"key\":%d,\"version\":1,\"data\":{\"email\":\"c%d@example.com\",\"name\":\"customer %d\"}}' % (k, k, k))
" >"$work/all.ndjson"
head -n $P "$work/all.ndjson" | "$E" -s "$work/st" load --batch 100 2>/dev/null || { echo "preload failed"; exit 1; }
tail -n +$((P + 1)) "$work/all.ndjson" >"$work/load.ndjson"
# a large per-client buffer: this part is about delivery, not about dropping slow clients; and
# every client is 127.0.0.1, so the per-address stream limit (64) is raised past them all
start_server "$work/st" --client-buffer 67108864 --max-streams-per-address 1000 || exit 1
for i in $(seq 1 $C); do
  curl -s -N --max-time 600 "$U/api/events/stream" >"$work/live.$i" &
  pids+=($!)
done
for _ in $(seq 1 600); do
  n=$(grep -l "^: events from seq $((P + 1))\$" "$work"/live.* 2>/dev/null | wc -l)
  [ "$n" = "$C" ] && break
  sleep 0.1
done
[ "$n" = "$C" ] && ok || bad "only $n of $C stream clients connected"
t0=$(now)
"$E" -s "$work/st" load --batch 1 <"$work/load.ndjson" 2>"$work/load.err" &
writer=$!
sleep 0.3
for i in $(seq 1 20); do
  curl -s -N --max-time 600 "$U/api/events/stream?from=1" >"$work/late.$i" &
  pids+=($!)
done
wait $writer && ok || bad "writer failed: $(cat "$work/load.err")"
t1=$(now)
for _ in $(seq 1 3000); do
  done_n=$(for f in "$work"/live.* "$work"/late.*; do tail -c 400 "$f" | grep -q "^id: $((P + N))\$" && echo x; done | wc -l)
  [ "$done_n" = $((C + 20)) ] && break
  sleep 0.1
done
t2=$(now)
[ "$done_n" = $((C + 20)) ] && ok || bad "only $done_n of $((C + 20)) clients reached seq $((P + N))"
stop_server   # ends every stream cleanly; the curls exit
for p in "${pids[@]}"; do wait $p 2>/dev/null; done
pids=()
python3 "$work/check.py" $((P + 1)) $((P + N)) "$work"/live.* && ok || bad "a live client missed, repeated or reordered events"
python3 "$work/check.py" 1 $((P + N)) "$work"/late.* && ok || bad "a client that caught up missed, repeated or reordered events"
grep -q "dropped" "$work/server.err" && bad "a client was dropped: $(grep dropped "$work/server.err" | head -2)" || ok
python3 -c "
t0, t1, t2 = $t0, $t1, $t2
print('stream: %d writes in %.2f s (%.0f/s); %d live clients had all of them %.2f s after the first write: %.0f events/s delivered' % ($N, t1 - t0, $N / (t1 - t0), $C, t2 - t0, $N * $C / (t2 - t0)))"

# ---- 2. a stalled client
# At the default per-client buffer (1 MiB): the stalled client falls behind by that plus what the
# kernel's socket buffers hold, and is dropped; the other client reads as fast as it can and, if
# a loaded machine makes it fall that far behind too, reconnects with Last-Event-ID as a browser
# does (follow.py), so it still gets every event exactly once.
"$E" -s "$work/st2" init --schema "$SRC/schemas/shop.json" --durability none 2>/dev/null || { echo "init failed"; exit 1; }
M=10000   # 11 MB of events: more than the queue plus any default socket buffers (tcp_wmem max 4 MiB)
python3 -c "
pad = 'x' * 1024
for k in range(1, $M + 1):
    print('{\"type\":\"customer\",\"key\":%d,\"version\":1,\"data\":{\"email\":\"s%d@example.com\",\"name\":\"%s\"}}' % (k, k, pad))
" >"$work/load2.ndjson"
start_server "$work/st2" || exit 1
cat >"$work/follow.py" <<'PY'
# follow.py PORT LAST OUT: read the stream until seq LAST, reconnecting with Last-Event-ID when the
# server ends the connection; OUT gets the complete messages; prints the number of connections.
import http.client, sys
port, last, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
got, lines, conns = 0, [], 0
with open(out, "w") as f:
    while got < last and conns < 100:
        conns += 1
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        c.request("GET", "/api/events/stream", headers={"Last-Event-ID": str(got)})
        r = c.getresponse()
        msg = []
        try:
            for raw in r:
                line = raw.decode().rstrip("\n")
                if line == "":
                    if any(l.startswith("data:") for l in msg):
                        f.write("\n".join(msg) + "\n\n")
                        got = int([l for l in msg if l.startswith("id:")][0][3:])
                    msg = []
                    if got >= last: break
                else:
                    msg.append(line)
        except (http.client.HTTPException, OSError):
            pass
        c.close()
print(conns)
PY
mkfifo "$work/go"
# stalled.py: connects with a small receive window, sends the request, reads nothing until told
# (a line on the fifo), then reads everything up to the end of the connection (or 60 s).
cat >"$work/stalled.py" <<'PY'
import socket, sys, time
port, fifo, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", port))
s.sendall(b"GET /api/events/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
print("connected", flush=True)
open(fifo).readline()
s.settimeout(60)
data, eof = b"", False
try:
    while True:
        b = s.recv(65536)
        if not b:
            eof = True
            break
        data += b
except (socket.timeout, ConnectionResetError):
    pass
head, _, body = data.partition(b"\r\n\r\n")
# de-chunk what arrived (the last chunk may be cut off)
text, i = b"", 0
while i < len(body):
    j = body.find(b"\r\n", i)
    if j < 0: break
    n = int(body[i:j], 16)
    text += body[j + 2:j + 2 + n]
    i = j + 2 + n + 2
    if n == 0: break
open(out, "wb").write(text)
print("eof" if eof else "timeout", flush=True)
PY
python3 "$work/stalled.py" $PORT "$work/go" "$work/stalled.sse" >"$work/stalled.out" &
stalled=$!
pids+=($stalled)
python3 "$work/follow.py" $PORT $M "$work/normal.sse" >"$work/normal.out" &
normal=$!
pids+=($normal)
for _ in $(seq 1 100); do grep -q connected "$work/stalled.out" && break; sleep 0.1; done
sleep 0.3
t0=$(now)
"$E" -s "$work/st2" load --batch 1 <"$work/load2.ndjson" 2>"$work/load.err" && ok || bad "writer failed beside a stalled client: $(cat "$work/load.err")"
t1=$(now)
wait $normal && ok || bad "the other client failed"
grep -q "dropped the event stream of 127.0.0.1" "$work/server.err" && ok || bad "the stalled client was not dropped: $(tail -3 "$work/server.err")"
echo go >"$work/go"
wait $stalled
grep -q '^eof' "$work/stalled.out" && ok || bad "the stalled client's connection did not end: $(cat "$work/stalled.out")"
# what it got is a gap-free prefix; then it resumes after its last complete message
got=$(python3 -c "
import re, sys
ids = [int(x) for x in re.findall(r'^id: (\d+)\n(?:.*\n)*?\n', open(sys.argv[1], encoding='utf-8', errors='replace').read(), re.M)]
print(ids[-1] if ids else 0)" "$work/stalled.sse")
[ "$got" -lt $M ] && ok || bad "the stalled client got all $M events"
if [ "$got" -gt 0 ]; then python3 "$work/check.py" 1 "$got" "$work/stalled.sse" && ok || bad "the stalled client's part has gaps"; fi
# the rest of the 10 000 events (up to 11 MB) comes from the log: 3 s, and on until the last one
# (a sanitized server beside a loaded machine could take longer than a fixed 3 s)
sse "$work/resumed.sse" 3 $M -H "Last-Event-ID: $got" "$U/api/events/stream"
python3 "$work/check.py" $((got + 1)) $M "$work/resumed.sse" && ok || bad "resume after the drop is not exact"
stop_server
pids=()
python3 "$work/check.py" 1 $M "$work/normal.sse" && ok || bad "the other client beside the stalled one missed events"
python3 -c "import sys; print('stalled client: %d writes of 1 KiB took %.2f s beside it; it was dropped after seq %d; the other client used %s connection(s)' % ($M, $t1 - $t0, $got, open(sys.argv[1]).read().strip()))" "$work/normal.out"

# ---- 3. stalled clients that catch up on a log of big events: what each makes the server hold
# stays small (a catching-up client is not yet under --client-buffer: it renders from the log
# only as it reads). 5 clients from seq 1 over 70 events of 600 kB, each reading its first
# bytes and then nothing: once a client has the first event's id, the server has rendered its
# first batch from the log. The server's anonymous memory (RssAnon: not the mapped store) must
# grow by less than 150 MB (15 MB in Release, 58 under ASan, whose quarantine keeps freed memory);
# before, each client held its log cursor's batch (all 70 decoded) and 64 rendered: 326 MB.
"$E" -s "$work/st3" init --schema "$SRC/schemas/shop.json" --durability none 2>/dev/null || { echo "init failed"; exit 1; }
python3 -c "
import json
for k in range(70):
    print(json.dumps({'type': 'product', 'key': 'big%d' % k, 'version': 1, 'data': {'price': 1, 'attrs': {'b': '%02d' % k * 300000}}}))
" | "$E" -s "$work/st3" load --batch 10 2>/dev/null || { echo "big load failed"; exit 1; }
start_server "$work/st3" || exit 1
rss_anon() { sed -n 's/^RssAnon:[^0-9]*\([0-9]*\).*/\1/p' /proc/$SRV_PID/status; }
r0=$(rss_anon)
cat >"$work/first.py" <<'PY'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /api/events/stream?from=1 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
s.settimeout(30)
data = b""
while b"id: 1\n" not in data:
    b = s.recv(1024)
    if not b: break
    data += b
print("first" if b"id: 1\n" in data else "no event", flush=True)
sys.stdin.readline()   # hold the connection, read nothing more, until told
PY
mkfifo "$work/hold"
exec 7<>"$work/hold"
for i in 1 2 3 4 5; do python3 "$work/first.py" $PORT <"$work/hold" >"$work/first$i.out" 7>&- & pids+=($!); done
for i in 1 2 3 4 5; do for _ in $(seq 1 300); do [ -s "$work/first$i.out" ] && break; sleep 0.1; done; done
[ "$(cat "$work"/first?.out | sort -u)" = first ] && ok || bad "stalled catching-up clients did not get their first event: $(cat "$work"/first?.out)"
r1=$(rss_anon)
[ $((r1 - r0)) -lt 153600 ] && ok || bad "5 stalled catching-up clients grew the server by $(((r1 - r0) / 1024)) MB"
echo "5 stalled catching-up clients over 600 kB events: the server's RssAnon grew by $(((r1 - r0) / 1024)) MB"
stop_server
exec 7>&-   # EOF on the fifo: the clients end
for p in "${pids[@]}"; do wait $p 2>/dev/null; done
pids=()
finish
